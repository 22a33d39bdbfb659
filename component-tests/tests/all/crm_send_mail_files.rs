//! Send Email, List From Addresses and Upload File to Field end to end: the exact requests
//! (Zoho's v8 "Send Mail", "Get Email Addresses", "Upload Files to ZFS" and "Update Records"),
//! the results read from Zoho's answers, Zoho's own example answers replayed (zoho/crm-oas
//! `v8.0/send_mail/operations/sendMail/examples/`, `v8.0/files/operations/uploadFiles/examples/`),
//! hostile inputs refused before any request, and secrets kept out of results and records.

use component_tests::{assert_request, error_of, ok_of, Fault, Harness};
use serde_json::{json, Value};
use zoho_sandbox::RecordedRequest;

const LEAD: &str = "5725767000000524157";
const MIB: usize = 1024 * 1024;

/// The Ok value is the one outcome of Zoho's answer, exactly.
fn answered_item(request: &RecordedRequest) -> Value {
    let body: Value = serde_json::from_slice(request.response_body.as_deref().expect("a JSON answer")).expect("JSON");
    body["data"][0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn send_email_sends_one_mail_as_zoho_documents() {
    let h = Harness::new().await;
    let input = json!({
        "record-type": "Leads", "record-id": LEAD,
        "from": "Sandbox User <owner@sandbox.zoho>",
        "to": ["\"Zoë Ångström\" <zoe@zylker.com>", "lead@client.com"],
        "cc": ["山田 <yamada@zylker.com>"], "bcc": ["audit@zylker.com"],
        "subject": "Quote «Q-7»", "content": "Hello,\nyour quote is attached.", "mail-format": "text",
    });
    let outcome = h.run("crm-send-email", input).await;
    let request = h.only_request();
    let sent = json!({ "data": [{
        "from": { "user_name": "Sandbox User", "email": "owner@sandbox.zoho" },
        "to": [{ "user_name": "Zoë Ångström", "email": "zoe@zylker.com" }, { "user_name": "lead@client.com", "email": "lead@client.com" }],
        "cc": [{ "user_name": "山田", "email": "yamada@zylker.com" }],
        "bcc": [{ "user_name": "audit@zylker.com", "email": "audit@zylker.com" }],
        "subject": "Quote «Q-7»", "content": "Hello,\nyour quote is attached.", "mail_format": "text",
    }]});
    assert_request(&request, &h.token, "POST", &format!("/crm/v8/Leads/{LEAD}/actions/send_mail"), &[], Some(sent.clone()));
    assert_eq!(ok_of(&outcome), &answered_item(&request));
    assert_eq!(ok_of(&outcome)["code"], "SUCCESS");
    assert_eq!(h.sandbox.sent_mails(), vec![("Leads".to_string(), LEAD.to_string(), sent["data"][0].clone())]);

    // From a template: no subject or content of its own; html by default.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-send-email", json!({ "record-type": "Leads", "record-id": LEAD, "from": "sales@sandbox.zoho", "to": ["lead@client.com"], "template-id": "5725767000000601001" })).await;
    let request = h.only_request();
    let templated = json!({ "data": [{
        "from": { "user_name": "sales@sandbox.zoho", "email": "sales@sandbox.zoho" },
        "to": [{ "user_name": "lead@client.com", "email": "lead@client.com" }],
        "mail_format": "html", "template": { "id": "5725767000000601001" },
    }]});
    assert_request(&request, &h.token, "POST", &format!("/crm/v8/Leads/{LEAD}/actions/send_mail"), &[], Some(templated));
    assert_eq!(ok_of(&outcome), &answered_item(&request));
}

#[tokio::test(flavor = "multi_thread")]
async fn send_email_refuses_hostile_input_before_any_request() {
    let h = Harness::new().await;
    let base = json!({ "record-type": "Leads", "record-id": LEAD, "from": "owner@sandbox.zoho", "to": ["lead@client.com"], "subject": "s", "content": "c" });
    let with = |key: &str, value: Value| {
        let mut input = base.clone();
        input[key] = value;
        input
    };
    let fifty_one: Vec<String> = (0..51).map(|i| format!("r{i}@zylker.com")).collect();
    for (input, says) in [
        (with("to", json!([])), "to needs at least one recipient"),
        (with("to", json!(fifty_one)), "to holds 51 recipients; Zoho takes at most 50 per list"),
        (with("cc", json!(fifty_one)), "cc holds 51 recipients; Zoho takes at most 50 per list"),
        (with("to", json!(["lead@client.com\r\nBcc: spy@evil.com"])), "is not an email address"),
        (with("to", json!(["\"Evil\r\nBcc: spy@evil.com\" <lead@client.com>"])), "must be one line"),
        (with("from", json!("spy@evil")), "from: \"spy@evil\" is not an email address"),
        (with("subject", json!("Hi\r\nBcc: spy@evil.com")), "subject must be one line"),
        (with("subject", json!("é".repeat(1001))), "subject is 1001 characters; Zoho takes at most 1000"),
        (with("content", json!("c".repeat(100_001))), "content is 100001 characters; Zoho takes at most 100000"),
        (with("content", Value::Null), "content is required unless template-id names an email template that gives it"),
        (with("mail-format", json!("rtf")), "mail-format \"rtf\" is not html or text"),
        (with("template-id", json!("1 OR 1=1")), "template-id \"1 OR 1=1\" is not a Zoho email template id"),
        (with("record-id", json!("../../users")), "record-id \"../../users\" is not a Zoho record id"),
        (with("record-type", json!("Tasks")), "not Tasks"),
    ] {
        let outcome = h.run("crm-send-email", input.clone()).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{input}");
        assert!(error["message"].as_str().unwrap_or("").contains(says), "{input}: {error}");
    }
    assert!(h.requests().is_empty(), "nothing was sent, not even a token grant");

    // At the limits: 50 recipients in each list, a 1,000-character subject.
    let fifty: Vec<String> = (0..50).map(|i| format!("r{i}@zylker.com")).collect();
    let mut input = with("to", json!(fifty));
    input["cc"] = json!(fifty);
    input["bcc"] = json!(fifty);
    input["subject"] = json!("é".repeat(1000));
    ok_of(&h.run("crm-send-email", input).await);
    let sent = &h.sandbox.sent_mails()[0].2;
    assert_eq!((sent["to"].as_array().map(Vec::len), sent["cc"].as_array().map(Vec::len), sent["bcc"].as_array().map(Vec::len)), (Some(50), Some(50), Some(50)));
}

/// Zoho's refusals reach the caller typed, with Zoho's code and the field in the details.
#[tokio::test(flavor = "multi_thread")]
async fn send_email_reports_zohos_refusals() {
    let h = Harness::new().await;
    let outcome = h.run("crm-send-email", json!({ "record-type": "Leads", "record-id": LEAD, "from": "stranger@zylker.com", "to": ["lead@client.com"], "subject": "s", "content": "c" })).await;
    let error = error_of(&outcome);
    assert_eq!((error["code"].as_str(), error["status"].as_u64()), (Some("INVALID_DATA"), Some(400)), "{error}");
    assert_eq!(error["message"], "the from address is not one of the org's from addresses");
    assert_eq!(
        error["details"],
        json!({ "data": [{ "code": "INVALID_DATA", "details": { "api_name": "from", "json_path": "$.data[0].from.email" }, "message": "the from address is not one of the org's from addresses", "status": "error" }] })
    );
    assert!(h.sandbox.sent_mails().is_empty());

    // A record the module does not have.
    let outcome = h.run("crm-send-email", json!({ "record-type": "Leads", "record-id": "1", "from": "owner@sandbox.zoho", "to": ["lead@client.com"], "subject": "s", "content": "c" })).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_DATA");

    // Without the Send Mail scope: Zoho's OAUTH_SCOPE_MISMATCH, naming the scope the action needs.
    let token = h.sandbox.issue_token_with_scopes("ZohoCRM.modules.ALL");
    let narrow = json!({ "api-domain": h.sandbox.url, "access-token": token });
    let outcome =
        h.run_as(&narrow, "crm-send-email", json!({ "record-id": LEAD, "record-type": "Leads", "from": "owner@sandbox.zoho", "to": ["lead@client.com"], "subject": "s", "content": "c" }), None).await;
    let error = error_of(&outcome);
    assert_eq!(error["code"], "OAUTH_SCOPE_MISMATCH");
    assert!(error["message"].as_str().unwrap_or("").contains("ZohoCRM.send_mail.all.CREATE"), "{error}");
}

/// Zoho's own example answers of `sendMail` (200 Success, 400 MandatoryMissing, 403
/// NoPermission), each the answer to the request the action sends.
#[tokio::test(flavor = "multi_thread")]
async fn send_email_reads_zohos_example_answers() {
    let h = Harness::new().await;
    let input = json!({ "record-type": "Leads", "record-id": LEAD, "from": "owner@sandbox.zoho", "to": ["lead@client.com"], "subject": "s", "content": "c" });
    let success = r#"{"data":[{"code":"SUCCESS","status":"success","message":"Mail sent successfully","details":{"message_id":"2cceafa...867"}}]}"#;
    h.sandbox.inject(Fault::status(1, 200, success).on_path("/crm/v8/Leads"));
    let outcome = h.run("crm-send-email", input.clone()).await;
    assert_eq!(ok_of(&outcome), &json!({ "code": "SUCCESS", "status": "success", "message": "Mail sent successfully", "details": { "message_id": "2cceafa...867" } }));

    let mandatory = r#"{"data":[{"code":"MANDATORY_NOT_FOUND","message":"required field not found","status":"error"}]}"#;
    h.sandbox.inject(Fault::status(1, 400, mandatory).on_path("/crm/v8/Leads"));
    let error = error_of(&h.run("crm-send-email", input.clone()).await).clone();
    assert_eq!((error["code"].as_str(), error["message"].as_str(), error["status"].as_u64()), (Some("MANDATORY_NOT_FOUND"), Some("required field not found"), Some(400)), "{error}");

    let forbidden = r#"{"code":"NO_PERMISSION","message":"permission denied","status":"error"}"#;
    h.sandbox.inject(Fault::status(1, 403, forbidden).on_path("/crm/v8/Leads"));
    let error = error_of(&h.run("crm-send-email", input).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str(), error["status"].as_u64()), (Some("forbidden"), Some("NO_PERMISSION"), Some(403)), "{error}");
    assert_eq!(h.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_from_addresses_lists_the_senders() {
    let h = Harness::new().await;
    let outcome = h.run("crm-list-from-addresses", json!({})).await;
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/settings/emails/actions/from_addresses", &[], None);
    let listed = ok_of(&outcome);
    let emails: Vec<&str> = listed["from_addresses"].as_array().expect("a list").iter().filter_map(|a| a["email"].as_str()).collect();
    assert_eq!(emails, ["owner@sandbox.zoho", "sales@sandbox.zoho"]);

    h.sandbox.clear_requests();
    ok_of(&h.run("crm-list-from-addresses", json!({ "user-id": "5725767000000411002" })).await);
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/settings/emails/actions/from_addresses", &[("user_id", "5725767000000411002")], None);
    h.sandbox.clear_requests();
    let error = error_of(&h.run("crm-list-from-addresses", json!({ "user-id": "1&type=x" })).await).clone();
    assert_eq!(error["kind"], "invalid-input");
    assert!(h.requests().is_empty());

    // Zoho's 204: no addresses.
    h.sandbox.inject(Fault::status(1, 204, ""));
    assert_eq!(ok_of(&h.run("crm-list-from-addresses", json!({})).await), &json!({ "from_addresses": [] }));
}

/// The multipart body of one `file` part, as the component writes it.
fn one_file_part(request: &RecordedRequest, file_name: &str, content_type: &str, bytes: &[u8]) {
    let boundary = request.header("content-type").and_then(|c| c.strip_prefix("multipart/form-data; boundary=")).expect("multipart").to_string();
    let mut expected = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n").into_bytes();
    expected.extend_from_slice(bytes);
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert!(request.body == expected, "the multipart body of {}", request.path);
    assert_eq!(request.header("content-length"), Some(request.body.len().to_string().as_str()));
    assert_eq!(request.header("authorization"), Some(format!("Zoho-oauthtoken {}", request_token(request)).as_str()));
    assert!(request.query.is_empty(), "no type=inline: {:?}", request.query);
}

fn request_token(request: &RecordedRequest) -> String {
    request.header("authorization").and_then(|a| a.strip_prefix("Zoho-oauthtoken ")).unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_file_field_stores_the_file_then_writes_the_field() {
    let h = Harness::new().await;
    let name = "Vertrag \"Müller\" 日本.pdf";
    let outcome = h.run("crm-upload-file-field", json!({ "record-type": "Leads", "record-id": LEAD, "field": "Signed_NDA", "file": "%PDF-1.4 signed", "file-name": name })).await;
    let requests = h.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Leads")], None);
    assert_eq!((requests[1].method.as_str(), requests[1].path.as_str()), ("POST", "/crm/v8/files"));
    // The quotes of the name cannot break out of the part's header.
    one_file_part(&requests[1], "Vertrag %22Müller%22 日本.pdf", "application/pdf", b"%PDF-1.4 signed");
    let stored = h.sandbox.stored_files();
    assert_eq!(stored.len(), 1);
    let (file_id, file) = stored.iter().next().expect("one file");
    assert_eq!((file.name.as_str(), file.bytes.as_slice()), ("Vertrag %22Müller%22 日本.pdf", &b"%PDF-1.4 signed"[..]));
    assert_request(&requests[2], &h.token, "PUT", &format!("/crm/v8/Leads/{LEAD}"), &[], Some(json!({ "data": [{ "Signed_NDA": [{ "file_id": file_id }] }] })));
    assert_eq!(ok_of(&outcome), &json!({ "field": "Signed_NDA", "file_id": file_id, "file_name": name, "record": answered_item(&requests[2]) }));
    let record = h.sandbox.record("Leads", LEAD).expect("the lead");
    assert_eq!(record["Signed_NDA"][0]["File_Id__s"], json!(file_id));
    assert_eq!(record["Signed_NDA"][0]["File_Name__s"], json!("Vertrag %22Müller%22 日本.pdf"));

    // An image upload field takes the id as File_Id__s; the field metadata is cached.
    h.sandbox.clear_requests();
    let png = [0x89u8, b'P', b'N', b'G', 0, 1, 2, 255];
    let outcome = h.run("crm-upload-file-field", json!({ "record-type": "Leads", "record-id": LEAD, "field": "Business_Card", "file": { "base64": "iVBORwABAv8=" }, "file-name": "card.png" })).await;
    let requests = h.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    one_file_part(&requests[0], "card.png", "image/png", &png);
    let image_id = ok_of(&outcome)["file_id"].as_str().expect("an id").to_string();
    assert_request(&requests[1], &h.token, "PUT", &format!("/crm/v8/Leads/{LEAD}"), &[], Some(json!({ "data": [{ "Business_Card": [{ "File_Id__s": image_id }] }] })));
    assert_eq!(h.sandbox.stored_files()[&image_id].bytes, png);
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_file_field_refuses_the_wrong_field_or_file_before_uploading() {
    let h = Harness::new().await;
    let base = json!({ "record-type": "Leads", "record-id": LEAD, "field": "Signed_NDA", "file": "x", "file-name": "a.txt" });
    let with = |key: &str, value: Value| {
        let mut input = base.clone();
        input[key] = value;
        input
    };
    // Refused before any request.
    for (input, says) in [
        (with("file", json!("")), "file is empty"),
        (with("file", json!("a".repeat(20 * MIB + 1))), "the file is 20.0 MB; Zoho's file store takes files up to 20 MB"),
        (with("file-name", json!("a\r\nContent-Type: text/html.txt")), "file-name must be one line"),
        (with("file-name", json!("   ")), "file-name must be one line of 1 to 255 bytes"),
        (with("file-name", json!(format!("{}.pdf", "é".repeat(128)))), "file-name must be one line of 1 to 255 bytes"),
        (with("field", json!("Signed_NDA\"},{\"Owner")), "is not a field API name"),
        (with("record-id", json!("5725767000000524157/../1")), "record-id"),
        (with("file", json!({ "base64": "QUFB".repeat(20 * MIB / 3 + 1) })), "more than the 20971520 bytes accepted"),
    ] {
        let outcome = h.run("crm-upload-file-field", input.clone()).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{input}");
        assert!(error["message"].as_str().unwrap_or("").contains(says), "{input}: {error}");
    }
    assert!(h.requests().is_empty());

    // Refused after reading the module's fields, before the upload.
    for (field, says) in [
        ("Last_Name", "Leads.Last_Name is a text field, not a file or image upload field; its file and image upload fields: Signed_NDA, Business_Card"),
        ("No_Such_Field", "Leads has no field \"No_Such_Field\"; its file and image upload fields: Signed_NDA, Business_Card"),
    ] {
        let error = error_of(&h.run("crm-upload-file-field", with("field", json!(field))).await).clone();
        assert_eq!((error["kind"].as_str(), error["message"].as_str()), (Some("invalid-input"), Some(says)));
    }
    assert!(h.requests().iter().all(|r| r.path == "/crm/v8/settings/fields"), "{:?}", h.requests());
    assert!(h.sandbox.stored_files().is_empty());

    // 20 MB exactly goes through.
    h.sandbox.clear_requests();
    let bytes: Vec<u8> = (0..20 * MIB).map(|i| (i * 31 % 251) as u8).collect();
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let outcome = h.run("crm-upload-file-field", with("file", json!({ "base64": encoded }))).await;
    let id = ok_of(&outcome)["file_id"].as_str().expect("an id").to_string();
    assert!(h.sandbox.stored_files()[&id].bytes == bytes, "the 20 MB arrived intact");
}

/// Zoho's own example answers of `uploadFiles` (200 SingleFileUpload, 400 MissingFileField,
/// 415 FileTooLarge), and a store answer that names no usable id: the field is never written.
#[tokio::test(flavor = "multi_thread")]
async fn upload_file_field_reads_zohos_example_answers() {
    let h = Harness::new().await;
    let input = json!({ "record-type": "Leads", "record-id": LEAD, "field": "Signed_NDA", "file": "%PDF", "file-name": "invoice_2024_Q4.pdf" });
    ok_of(&h.run("crm-describe-module", json!({ "record-type": "Leads" })).await);
    let single = r#"{"data":[{"status":"success","code":"SUCCESS","message":"invoice_2024_Q4.pdf uploaded successfully","details":{"name":"invoice_2024_Q4.pdf","id":"ae9c6cd994aa55a0fda90faaff4a2f472b1c94e7"}}]}"#;
    h.sandbox.inject(Fault::status(1, 200, single).on_path("/crm/v8/files"));
    let outcome = h.run("crm-upload-file-field", input.clone()).await;
    assert_eq!(ok_of(&outcome)["file_id"], "ae9c6cd994aa55a0fda90faaff4a2f472b1c94e7");
    let record = h.sandbox.record("Leads", LEAD).expect("the lead");
    assert_eq!(record["Signed_NDA"][0]["File_Id__s"], "ae9c6cd994aa55a0fda90faaff4a2f472b1c94e7");

    h.sandbox.clear_requests();
    for (status, body, code) in [
        (
            400,
            r#"{"code":"failure_in_attachment_handling","details":{},"message":"Problem in uploading attachment. kindly upload the file properly","status":"error"}"#,
            "failure_in_attachment_handling",
        ),
        (
            415,
            r#"{"code":"FILE_SIZE_MORE_THAN_ALLOWED_SIZE","details":{},"message":"Please check if the size of the file is in the correct range","status":"error"}"#,
            "FILE_SIZE_MORE_THAN_ALLOWED_SIZE",
        ),
        (200, r#"{"data":[{"status":"success","code":"SUCCESS","message":"uploaded","details":{"name":"a.pdf"}}]}"#, ""),
    ] {
        h.sandbox.inject(Fault::status(1, status, body).on_path("/crm/v8/files"));
        let error = error_of(&h.run("crm-upload-file-field", input.clone()).await).clone();
        assert_eq!(error["code"].as_str().unwrap_or(""), code, "{error}");
        assert_eq!(error["status"].as_u64(), Some(status.into()), "{error}");
    }
    assert!(h.requests().iter().all(|r| r.method != "PUT"), "the field was never written: {:?}", h.requests());
}

/// A file store echoing the access token as the file id: the id is never written into the
/// record (where every CRM user would read it), and the token never reaches the result.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_id_holding_the_token_is_never_written_into_the_record() {
    let h = Harness::new().await;
    ok_of(&h.run("crm-describe-module", json!({ "record-type": "Leads" })).await);
    let echo = format!(r#"{{"data":[{{"status":"success","code":"SUCCESS","message":"ok","details":{{"name":"a.pdf","id":"{}"}}}}]}}"#, h.token);
    h.sandbox.inject(Fault::status(1, 200, &echo).on_path("/crm/v8/files"));
    h.sandbox.clear_requests();
    let outcome = h.run("crm-upload-file-field", json!({ "record-type": "Leads", "record-id": LEAD, "field": "Signed_NDA", "file": "x", "file-name": "a.pdf" })).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "zoho");
    assert!(!error.to_string().contains(&h.token) && !outcome.stderr.contains(&h.token), "{error}");
    assert_eq!(h.requests().len(), 1, "only the upload: {:?}", h.requests());

    // Zoho's refusal of a mail echoing the token is redacted too.
    let refusal = format!(r#"{{"data":[{{"code":"INVALID_DATA","message":"bad token {}","status":"error","details":{{"api_name":"from","json_path":"$.data[0].from"}}}}]}}"#, h.token);
    h.sandbox.inject(Fault::status(1, 400, &refusal).on_path("/crm/v8/Leads"));
    let outcome = h.run("crm-send-email", json!({ "record-type": "Leads", "record-id": LEAD, "from": "owner@sandbox.zoho", "to": ["lead@client.com"], "subject": "s", "content": "c" })).await;
    let error = error_of(&outcome);
    assert_eq!(error["message"], "from: bad token [redacted]");
    assert!(!outcome.stderr.contains(&h.token));
}

/// The record update takes a file field's values as Zoho's pages write them (`file_id`, or a
/// read's `File_Id__s`; `{"id", "_delete": null}` to remove one) and refuses others with
/// Zoho's INVALID_DATA, the component's own checks turned off.
#[tokio::test(flavor = "multi_thread")]
async fn the_record_update_takes_only_zohos_file_field_values() {
    let h = Harness::new().await;
    let uploaded = ok_of(&h.run("crm-upload-file-field", json!({ "record-type": "Leads", "record-id": LEAD, "field": "Signed_NDA", "file": "a", "file-name": "a.txt" })).await).clone();
    let row_id = h.sandbox.record("Leads", LEAD).expect("the lead")["Signed_NDA"][0]["id"].as_str().expect("a row id").to_string();
    assert_eq!(h.sandbox.record("Leads", LEAD).expect("the lead")["Signed_NDA"][0]["File_Id__s"], uploaded["file_id"]);
    for bad in [json!([{ "_delete": null }]), json!([{ "id": "row", "_delete": null }]), json!([{ "File_Id__s": "a".repeat(151) }]), json!([{ "Encrypted_Id": "ae9c" }])] {
        let input = json!({ "record-type": "Leads", "record-id": LEAD, "values": { "Signed_NDA": bad } });
        let error = error_of(&h.run_with("crm-update-record", input, component_tests::unchecked()).await).clone();
        assert_eq!((error["code"].as_str(), error["status"].as_u64()), (Some("INVALID_DATA"), Some(400)), "{bad}: {error}");
        let refusal = json!({ "code": "INVALID_DATA", "details": { "api_name": "Signed_NDA", "expected_data_type": "jsonarray", "json_path": "$.data[0].Signed_NDA" }, "message": "invalid data", "status": "error" });
        assert_eq!(error["details"], json!({ "data": [refusal] }), "{bad}: {error}");
    }
    let removal = json!({ "record-type": "Leads", "record-id": LEAD, "values": { "Signed_NDA": [{ "id": row_id, "_delete": null }] } });
    ok_of(&h.run_with("crm-update-record", removal, component_tests::unchecked()).await);
    assert_eq!(h.sandbox.record("Leads", LEAD).expect("the lead")["Signed_NDA"], json!([]));
}
