//! Bulk write (import) jobs end to end: bulk-write-upload builds the zipped CSV and sends it to
//! the content host with Zoho's headers, bulk-write-create adds the job, bulk-write-status is
//! polled on the sandbox's clock, bulk-write-result reads each record's outcome from the result
//! ZIP; Zoho's limits refused before anything is sent; hostile answers as typed errors.

use chrono::{Duration, Utc};
use component_tests::{assert_request, error_of, ok_of, Harness};
use serde_json::{json, Value};

/// The CSV inside an upload's multipart body (the one `file` part, a ZIP of one entry).
fn uploaded_csv(body: &[u8]) -> (String, String) {
    let start = body.windows(4).position(|w| w == b"PK\x03\x04").expect("a ZIP in the body");
    let end = body.windows(4).rposition(|w| w == b"PK\x05\x06").expect("the ZIP's end") + 22;
    let (name, csv) = zoho_sandbox::bulk_write_unzip(&body[start..end]).expect("a ZIP of one CSV");
    (name, String::from_utf8(csv).expect("UTF-8"))
}

async fn status_of(h: &Harness, id: &str) -> zoho_host::StepOutcome {
    h.run("bulk-write-status", json!({ "job-id": id })).await
}

/// Uploads `records` to Contacts and creates an `operation` job on them; the job's id.
async fn job(h: &Harness, records: Value, operation: &str, find_by: Option<&str>) -> String {
    let file = ok_of(&h.run("bulk-write-upload", json!({ "record-type": "Contacts", "records": records.to_string() })).await).clone();
    let mut input = json!({ "record-type": "Contacts", "file-id": file["file_id"], "operation": operation, "columns": file["columns"] });
    if let Some(field) = find_by {
        input["find-by"] = json!(field);
    }
    ok_of(&h.run("bulk-write-create", input).await)["id"].as_str().unwrap().to_string()
}

/// Records with commas, quotes, line breaks and non-ASCII text and a lookup become one CSV with
/// `Account_Name.id`, zipped, uploaded to the content host with `feature` and `X-CRM-ORG` (the
/// org's zgid, read once); the job is created for 500 credits, polled to COMPLETED, and each
/// record's outcome read back by its position.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_is_uploaded_created_polled_and_read_as_outcomes() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(Utc::now());
    let account = h.sandbox.create_record("Accounts", json!({ "Account_Name": "Zylker Bulk" }));
    h.sandbox.clear_requests();
    // Written as text: the keys' order is the columns' order.
    let records = format!(
        r#"[{{"Last_Name":"Doe, \"Jay\"","Email":"jay@example.com","Description":"two\nlines","Account_Name":{{"id":"{account}"}}}},
            {{"Last_Name":"Müller ✓","Email":"muller@example.com","Description":null,"Account_Name":null}},
            {{"Email":"nameless@example.com"}}]"#
    );
    let file = ok_of(&h.run("bulk-write-upload", json!({ "record-type": "Contacts", "records": records })).await).clone();
    let requests = h.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/org", &[], None);
    let upload = &requests[1];
    assert_eq!((upload.method.as_str(), upload.path.as_str(), upload.query.len()), ("POST", "/crm/v8/upload", 0));
    assert_eq!(upload.header("authorization"), Some(format!("Zoho-oauthtoken {}", h.token).as_str()));
    assert_eq!(upload.header("feature"), Some("bulk-write"));
    assert_eq!(upload.header("x-crm-org"), Some(zoho_sandbox::ORG_ID));
    assert!(upload.header("content-type").unwrap().starts_with("multipart/form-data; boundary="));
    let names: Vec<&str> = upload.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names.len(), 6, "authorization, content-type, feature, x-crm-org, host, content-length: {names:?}");
    let (name, csv) = uploaded_csv(&upload.body);
    assert_eq!(name, "Contacts.csv");
    assert_eq!(
        csv,
        format!("Last_Name,Email,Description,Account_Name.id\r\n\"Doe, \"\"Jay\"\"\",jay@example.com,\"two\nlines\",{account}\r\nMüller ✓,muller@example.com,,\r\n,nameless@example.com,,\r\n")
    );
    assert_eq!(file["records"], 3);
    assert_eq!(file["columns"], json!(["Last_Name", "Email", "Description", "Account_Name.id"]));
    let file_id = file["file_id"].as_str().unwrap().to_string();

    h.sandbox.clear_requests();
    let created = ok_of(&h.run_with("bulk-write-create", json!({ "record-type": "Contacts", "file-id": file_id, "operation": "insert", "columns": file["columns"] }), None).await).clone();
    let mappings =
        json!([{ "api_name": "Last_Name", "index": 0 }, { "api_name": "Email", "index": 1 }, { "api_name": "Description", "index": 2 }, { "api_name": "Account_Name", "find_by": "id", "index": 3 }]);
    let body = json!({ "operation": "insert", "character_encoding": "UTF-8", "resource": [{ "type": "data", "module": { "api_name": "Contacts" }, "file_id": file_id, "field_mappings": mappings }] });
    assert_request(&h.only_request(), &h.token, "POST", "/crm/bulk/v8/write", &[], Some(body));
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!((created["status"].as_str(), created["operation"].as_str()), (Some("ADDED"), Some("insert")));

    for (wait, state) in [(0, "ADDED"), (3, "IN PROGRESS"), (10, "COMPLETED")] {
        h.sandbox.clock().advance(Duration::seconds(wait));
        h.sandbox.clear_requests();
        let status = ok_of(&status_of(&h, &id).await).clone();
        assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/bulk/v8/write/{id}"), &[], None);
        assert_eq!((status["status"].as_str(), status["result_ready"].as_bool()), (Some(state), Some(state == "COMPLETED")));
        if state == "COMPLETED" {
            assert_eq!(status, json!({ "id": id, "status": "COMPLETED", "operation": "insert", "module": "Contacts", "added": 2, "updated": 0, "skipped": 1, "total": 3, "result_ready": true }));
        }
    }

    h.sandbox.clear_requests();
    let result = ok_of(&h.run("bulk-write-result", json!({ "job-id": id })).await).clone();
    let requests = h.requests();
    assert_eq!(requests.len(), 2, "the job, then its result: {requests:#?}");
    assert_request(&requests[1], &h.token, "GET", &format!("/v2/crm/{}/bulk-write/{id}/{id}.zip", zoho_sandbox::ORG_ID), &[], None);
    let outcomes = result["outcomes"].as_array().unwrap().clone();
    let (first, second) = (outcomes[0]["id"].as_str().unwrap().to_string(), outcomes[1]["id"].as_str().unwrap().to_string());
    assert_eq!(
        result,
        json!({ "outcomes": [
            { "row": 0, "status": "ADDED", "id": first, "errors": null },
            { "row": 1, "status": "ADDED", "id": second, "errors": null },
            { "row": 2, "status": "SKIPPED", "id": null, "errors": "MANDATORY_NOT_FOUND-Last_Name" }
        ], "count": 3, "offset": 0, "next_offset": null, "more": false })
    );
    let stored = h.sandbox.record("Contacts", &first).unwrap();
    assert_eq!((stored["Last_Name"].as_str(), stored["Description"].as_str(), stored["Account_Name"]["id"].as_str()), (Some("Doe, \"Jay\""), Some("two\nlines"), Some(account.as_str())));
    assert_eq!(h.sandbox.record("Contacts", &second).unwrap()["Last_Name"], "Müller ✓");

    // A second page from an offset; the zgid is kept: the next upload reads the org no more.
    let page = ok_of(&h.run("bulk-write-result", json!({ "job-id": id, "offset": 1, "limit": 1 })).await).clone();
    assert_eq!((page["count"].as_u64(), page["next_offset"].as_u64(), page["more"].as_bool()), (Some(1), Some(2), Some(true)));
    h.sandbox.clear_requests();
    ok_of(&h.run("bulk-write-upload", json!({ "record-type": "Contacts", "records": "[{\"Last_Name\":\"Again\"}]" })).await);
    assert_eq!(h.requests().len(), 1, "only the upload");
}

/// An upsert by Email updates the record that holds it, inserts the new one, and skips what
/// Zoho refuses, each with Zoho's code; the counts say so.
#[tokio::test(flavor = "multi_thread")]
async fn an_upsert_finds_records_by_find_by() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(Utc::now());
    let existing = h.sandbox.create_record("Contacts", json!({ "Last_Name": "Old", "Email": "old@example.com" }));
    let records = json!([{ "Last_Name": "Renamed", "Email": "old@example.com" }, { "Last_Name": "New", "Email": "new@example.com" }, { "Last_Name": "Bad", "Email": "not-an-email" }]);
    let id = job(&h, records, "upsert", Some("Email")).await;
    h.sandbox.clock().advance(Duration::seconds(30));
    let status = ok_of(&status_of(&h, &id).await).clone();
    assert_eq!((status["added"].as_u64(), status["updated"].as_u64(), status["skipped"].as_u64()), (Some(1), Some(1), Some(1)));
    let result = ok_of(&h.run("bulk-write-result", json!({ "job-id": id })).await).clone();
    assert_eq!(result["outcomes"][0], json!({ "row": 0, "status": "UPDATED", "id": existing, "errors": null }));
    assert_eq!(result["outcomes"][1]["status"], "ADDED");
    assert_eq!(result["outcomes"][2], json!({ "row": 2, "status": "SKIPPED", "id": null, "errors": "INVALID_DATA-Email" }));
    assert_eq!(h.sandbox.record("Contacts", &existing).unwrap()["Last_Name"], "Renamed");
    // An update needs find-by: refused before anything is sent.
    h.sandbox.clear_requests();
    let error = error_of(&h.run("bulk-write-create", json!({ "record-type": "Contacts", "file-id": "5725767000000900001", "operation": "update" })).await).clone();
    assert_eq!(error["kind"], "invalid-input");
    assert!(h.requests().is_empty());
}

/// 25,000 records is Zoho's limit per file: it is uploaded; 25,001, or a CSV past 25 MB, is
/// refused before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn zohos_limits_hold_at_and_past_them() {
    let h = Harness::new().await;
    let many = |n: usize, name: &str| Value::Array((0..n).map(|i| json!({ "Last_Name": format!("{name}{i}") })).collect()).to_string();
    let at = ok_of(&h.run("bulk-write-upload", json!({ "record-type": "Contacts", "records": many(25_000, "L") })).await).clone();
    assert_eq!(at["records"], 25_000);
    h.sandbox.clear_requests();
    let past = error_of(&h.run("bulk-write-upload", json!({ "record-type": "Contacts", "records": many(25_001, "L") })).await).clone();
    assert_eq!(past["kind"], "invalid-input");
    assert!(past["message"].as_str().unwrap().contains("at most 25000"), "{past}");
    let wide = many(20_000, &"x".repeat(1_300));
    let error = error_of(&h.run("bulk-write-upload", json!({ "record-type": "Contacts", "records": wide })).await).clone();
    assert!(error["message"].as_str().unwrap().contains("25 MB"), "{error}");
    assert!(h.requests().is_empty(), "nothing sent past the limits");
}

/// A failed job is a zoho error with Zoho's reason; a download URL on another host is not
/// followed (the token never goes there); a ZIP bomb, a CSV of 10 million columns and a result
/// without STATUS end as typed errors within the step's memory.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_job_answers_are_typed_errors() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(Utc::now());
    h.sandbox.tune_bulk_writes(|k| k.fail_next = Some(("INVALID_DATA".into(), "the file could not be read".into())));
    let failed = job(&h, json!([{ "Last_Name": "A" }]), "insert", None).await;
    h.sandbox.clock().advance(Duration::seconds(30));
    let error = error_of(&status_of(&h, &failed).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("zoho"), Some("INVALID_DATA")), "{error}");

    let id = job(&h, json!([{ "Last_Name": "A" }]), "insert", None).await;
    h.sandbox.clock().advance(Duration::seconds(30));
    h.sandbox.tune_bulk_writes(|k| k.download_url_override = Some(format!("https://evil.example/v2/crm/1/bulk-write/{id}/{id}.zip")));
    h.sandbox.clear_requests();
    let error = error_of(&h.run("bulk-write-result", json!({ "job-id": id })).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("zoho"), Some("DOWNLOAD_URL_NOT_ALLOWED")));
    assert_eq!(h.requests().len(), 1, "only the job's details were asked");
    h.sandbox.tune_bulk_writes(|k| k.download_url_override = None);

    let bomb_csv: Vec<u8> = b"STATUS\n".iter().copied().chain(b"A\n".iter().copied().cycle().take(256 << 20)).collect();
    let bomb = zoho_sandbox::bulk_read_zip(&id, &bomb_csv);
    drop(bomb_csv);
    h.sandbox.tune_bulk_writes(|k| k.result_override = Some(bomb));
    let error = error_of(&h.run("bulk-write-result", json!({ "job-id": id, "offset": 200_000_000u64 })).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("zoho"), Some("ZIP_BOMB")), "{error}");

    let wide = zoho_sandbox::bulk_read_zip(&id, &[vec![b','; 10_000_000], b"\n1\n".to_vec()].concat());
    h.sandbox.tune_bulk_writes(|k| k.result_override = Some(wide));
    let error = error_of(&h.run("bulk-write-result", json!({ "job-id": id })).await).clone();
    assert!(error["message"].as_str().unwrap().contains("more than 2000 columns"), "{error}");

    h.sandbox.tune_bulk_writes(|k| k.result_override = Some(zoho_sandbox::bulk_read_zip(&id, b"A,B\n1,2\n")));
    let error = error_of(&h.run("bulk-write-result", json!({ "job-id": id })).await).clone();
    assert!(error["message"].as_str().unwrap().contains("no STATUS column"), "{error}");
}
