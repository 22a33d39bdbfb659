use super::*;
use crate::testing::Fixture;
use crate::wit::bulk::WriteResultInput;

fn upload_input(records: &str) -> WriteUploadInput {
    WriteUploadInput { record_type: "Leads".into(), records: records.into(), columns: None }
}

fn create_input(operation: &str, find_by: Option<&str>) -> WriteCreateInput {
    WriteCreateInput {
        record_type: "Leads".into(),
        file_id: "5725767000000900001".into(),
        operation: operation.into(),
        find_by: find_by.map(str::to_string),
        field_mappings: None,
        columns: None,
        ignore_empty: None,
        callback_url: None,
    }
}

const ORG: &str = r#"{"org":[{"id":"5725767000000021001","zgid":"10101010","license_details":{"paid_type":"enterprise","users_license_purchased":3}}]}"#;
const UPLOADED: &str = r#"{"status":"success","code":"FILE_UPLOAD_SUCCESS","message":"file uploaded.","details":{"file_id":"5725767000000900001","created_time":"2026-12-07T10:00:00-07:00"}}"#;

/// The upload goes to the DC's content host with Zoho's headers and the zgid the org API gave
/// (read once, then kept); the multipart body holds the ZIP of the CSV.
#[test]
fn the_upload_goes_to_the_content_host_with_zohos_headers() {
    let mut fixture = Fixture::default();
    fixture.connection.region = Some("eu".into());
    fixture.answer(200, ORG);
    fixture.answer(200, UPLOADED);
    let out = upload(&fixture.client(), &upload_input(r#"[{"Last_Name":"Doe","Account_Name":{"id":"111"}}]"#)).unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["file_id"], "5725767000000900001");
    assert_eq!(out["columns"], json!(["Last_Name", "Account_Name.id"]));
    let sent = fixture.transport.sent.borrow().clone();
    assert_eq!((sent[0].method, sent[0].url.as_str()), (Method::Get, "https://www.zohoapis.eu/crm/v8/org"));
    assert_eq!((sent[1].method, sent[1].url.as_str()), (Method::Post, "https://content.zohoapis.eu/crm/v8/upload"));
    let header = |name: &str| sent[1].headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    assert_eq!(header("feature").as_deref(), Some("bulk-write"));
    assert_eq!(header("X-CRM-ORG").as_deref(), Some("10101010"));
    assert_eq!(header("Authorization").as_deref(), Some("Zoho-oauthtoken t"));
    let body = sent[1].body.as_ref().unwrap();
    assert!(body.content_type.starts_with("multipart/form-data; boundary="));
    let bytes = body.to_vec();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Content-Disposition: form-data; name=\"file\"; filename=\"Leads.zip\"\r\nContent-Type: application/zip\r\n\r\nPK\u{3}\u{4}"), "{text}");
    // The zgid is kept: the next upload asks the org API no more.
    fixture.answer(200, UPLOADED);
    upload(&fixture.client(), &upload_input(r#"[{"Last_Name":"Roe"}]"#)).unwrap();
    assert_eq!(fixture.sent(), 3);
}

/// A Self Client's soid names the zgid: no org call.
#[test]
fn a_self_clients_soid_names_the_org() {
    let mut fixture = Fixture::default();
    fixture.connection.soid = Some("ZohoCRM.20202020".into());
    fixture.connection.client_id = Some("1000.ID".into());
    fixture.connection.client_secret = Some("secret".into());
    fixture.connection.scopes = Some("ZohoCRM.bulk.ALL,ZohoFiles.files.ALL".into());
    fixture.connection.access_token = None;
    fixture.answer(200, r#"{"access_token":"1000.fresh","api_domain":"https://www.zohoapis.com","token_type":"Bearer","expires_in":3600}"#);
    fixture.answer(200, UPLOADED);
    upload(&fixture.client(), &upload_input(r#"[{"Last_Name":"Doe"}]"#)).unwrap();
    let sent = fixture.transport.sent.borrow().clone();
    assert_eq!((sent.len(), sent[1].url.as_str()), (2, "https://content.zohoapis.com/crm/v8/upload"));
    assert!(sent[0].url.starts_with("https://accounts.zoho.com/oauth/v2/token"), "{}", sent[0].url);
    assert!(sent[1].headers.contains(&("X-CRM-ORG".to_string(), "20202020".to_string())));
}

/// Zoho refuses an upload with HTTP 200 and `"status":"error"` (Zoho's upload page).
#[test]
fn an_upload_refused_with_200_is_a_typed_error() {
    let fixture = Fixture::default();
    fixture.answer(200, ORG);
    fixture.answer(200, r#"{"code":"INVALID_FILE_FORMAT","details":{"created_time":"2022-05-23T12:56:42+05:30"},"message":"invalid file format. only zip format is supported","status":"error"}"#);
    let error = upload(&fixture.client(), &upload_input(r#"[{"Last_Name":"Doe"}]"#)).unwrap_err();
    assert_eq!((error.kind, error.code.as_deref()), (ErrorKind::Zoho, Some("INVALID_FILE_FORMAT")));
    // Past Zoho's limits nothing is sent.
    let past = format!("[{}]", vec![r#"{"Last_Name":"x"}"#; 25_001].join(","));
    assert!(upload(&fixture.client(), &upload_input(&past)).unwrap_err().message.contains("at most 25000"));
    assert_eq!(fixture.sent(), 2);
}

#[test]
fn the_job_body_is_zohos_and_refusals_come_first() {
    let mut full = create_input("upsert", Some("Email"));
    full.columns = Some(vec!["Last_Name".into(), "Email".into(), "Account_Name.id".into()]);
    full.ignore_empty = Some(true);
    full.callback_url = Some("https://example.com/hook".into());
    assert_eq!(
        create_body(&full).unwrap(),
        json!({"operation":"upsert","character_encoding":"UTF-8","ignore_empty":true,"callback":{"url":"https://example.com/hook","method":"post"},
            "resource":[{"type":"data","module":{"api_name":"Leads"},"file_id":"5725767000000900001","find_by":"Email",
            "field_mappings":[{"api_name":"Last_Name","index":0},{"api_name":"Email","index":1},{"api_name":"Account_Name","find_by":"id","index":2}]}]})
    );
    assert_eq!(
        create_body(&create_input("insert", None)).unwrap(),
        json!({"operation":"insert","character_encoding":"UTF-8","resource":[{"type":"data","module":{"api_name":"Leads"},"file_id":"5725767000000900001"}]})
    );
    assert!(create_body(&create_input("update", None)).unwrap_err().message.contains("needs find-by"));
    assert!(create_body(&create_input("insert", Some("Email"))).unwrap_err().message.contains("for update and upsert"));
    assert!(create_body(&create_input("delete", None)).unwrap_err().message.contains("not insert, update or upsert"));
    let mut plain = create_input("insert", None);
    plain.callback_url = Some("http://example.com/hook".into());
    assert!(create_body(&plain).unwrap_err().message.contains("not https"));
}

/// Zoho's 201 (bulk_write.json's Success_Response) is the job; its cost is 500 credits.
#[test]
fn a_job_is_created_for_500_credits() {
    let fixture = Fixture::default();
    fixture.answer(201, r#"{"status":"success","code":"SUCCESS","message":"success","details":{"id":"5725767000000901001","created_by":{"id":"1","name":"Patricia Boyle"},"created_time":"2026-12-07T10:00:00-07:00"}}"#);
    let client = fixture.client();
    let out: Value = serde_json::from_str(&create(&client, &create_input("insert", None)).unwrap()).unwrap();
    assert_eq!(out, json!({"id":"5725767000000901001","status":"ADDED","operation":"insert","created_time":"2026-12-07T10:00:00-07:00"}));
    assert_eq!(client.usage().credits, 500);
}

#[test]
fn status_counts_and_a_failed_job() {
    let fixture = Fixture::default();
    fixture.answer(200, r#"{"status":"COMPLETED","character_encoding":"UTF-8","resource":[{"status":"COMPLETED","type":"data","module":{"id":"4150868000000002175","api_name":"Leads"},"file":{"status":"COMPLETED","name":"Fil2.csv","added_count":9,"skipped_count":2,"updated_count":0,"total_count":11},"code":"COMPLETED"}],"id":"4150868000005350003","result":{"download_url":"https://download-accl.zoho.com/v2/crm/694902309/bulk-write/4150868000005350003/4150868000005350003.zip"},"operation":"insert","created_time":"2021-05-11T12:38:29+05:30"}"#);
    let out: Value = serde_json::from_str(&status(&fixture.client(), &WriteStatusInput { job_id: "4150868000005350003".into() }).unwrap()).unwrap();
    assert_eq!(out, json!({"id":"4150868000005350003","status":"COMPLETED","operation":"insert","module":"Leads","added":9,"updated":0,"skipped":2,"total":11,"result_ready":true}));
    fixture.answer(200, r#"{"status":"FAILED","resource":[{"status":"FAILED","code":"INVALID_DATA","message":"the file is empty"}],"id":"111","operation":"insert"}"#);
    let error = status(&fixture.client(), &WriteStatusInput { job_id: "111".into() }).unwrap_err();
    assert_eq!((error.kind, error.code.as_deref()), (ErrorKind::Zoho, Some("INVALID_DATA")));
    assert!(error.message.contains("failed: INVALID_DATA: the file is empty"), "{}", error.message);
    assert!(status(&fixture.client(), &WriteStatusInput { job_id: "1 OR 1".into() }).is_err());
    assert_eq!(fixture.sent(), 2);
}

fn completed(url: &str) -> String {
    format!(r#"{{"status":"COMPLETED","resource":[{{"status":"COMPLETED"}}],"id":"111","operation":"insert","result":{{"download_url":"{url}"}}}}"#)
}

/// The result is downloaded from Zoho's download host of the connection's DC, with the token;
/// a URL on any other host is refused before anything is sent there.
#[test]
fn the_result_url_is_followed_only_on_the_connections_zoho_hosts() {
    let fixture = Fixture::default();
    let input = WriteResultInput { job_id: "111".into(), offset: None, limit: None };
    for hostile in [
        "https://download-accl.zoho.com.evil.io/x.zip",
        "https://evil.example/v2/crm/1/bulk-write/111/111.zip",
        "https://download-accl.zoho.eu/x.zip",
        "//evil.example/x.zip",
        "http://download-accl.zoho.com/x.zip",
    ] {
        fixture.answer(200, &completed(hostile));
        let error = crate::bulk::write_result(&fixture.client(), &input).unwrap_err();
        assert_eq!(error.code.as_deref(), Some("DOWNLOAD_URL_NOT_ALLOWED"), "{hostile}");
    }
    assert_eq!(fixture.sent(), 5, "only the job's status was asked");
    fixture.answer(200, &completed("https://download-accl.zoho.com/v2/crm/1/bulk-write/111/111.zip"));
    let csv = b"Last_Name,STATUS,RECORD_ID,ERRORS\r\nDoe,ADDED,5725767000000902001,\r\n";
    let zip = crate::bulk::write_file::zip_of("111.csv", csv).unwrap();
    fixture.transport.answers.borrow_mut().push_back(crate::http::Response { status: 200, headers: Vec::new(), body: zip });
    let out: Value = serde_json::from_str(&crate::bulk::write_result(&fixture.client(), &input).unwrap()).unwrap();
    assert_eq!(out, json!({"outcomes":[{"row":0,"status":"ADDED","id":"5725767000000902001","errors":null}],"count":1,"offset":0,"next_offset":null,"more":false}));
    let sent = fixture.transport.sent.borrow().last().cloned().unwrap();
    assert_eq!(sent.url, "https://download-accl.zoho.com/v2/crm/1/bulk-write/111/111.zip");
    // An origin the caller names is checked by the client too, whatever built the call.
    let error = fixture.client().send(ApiCall::new(Method::Get, "/x").at("https://evil.example")).unwrap_err();
    assert!(error.message.contains("not one of the connection's Zoho hosts"));
    assert_eq!(fixture.sent(), 7);
}

/// Look-alikes of the download host (userinfo, a port, an IP literal, case, a trailing dot, a
/// query or fragment or backslash before the path) are refused before anything is sent there.
#[test]
fn download_urls_dressed_as_zohos_are_refused() {
    let fixture = Fixture::default();
    let input = WriteResultInput { job_id: "111".into(), offset: None, limit: None };
    let hostile = [
        "https://evil@download-accl.zoho.com/x.zip",
        "https://download-accl.zoho.com:8443/x.zip",
        "https://download-accl.zoho.com@evil.example/x.zip",
        "https://136.143.190.1/x.zip",
        "https://[::1]/x.zip",
        "https://DOWNLOAD-ACCL.ZOHO.COM/x.zip",
        "https://download-accl.zoho.com./x.zip",
        "https://content.zohoapis.com./x.zip",
        "https://download-accl.zoho.com?@evil.example/x.zip",
        "https://download-accl.zoho.com#@evil.example/x.zip",
        "https://download-accl.zoho.com\\@evil.example/x.zip",
        "https://download-accl.zoho.com",
        "https://download-accl.zoho.com/x.zip\r\nHost: evil.example",
        "download-accl.zoho.com/x.zip",
    ];
    for url in hostile {
        fixture.answer(200, &completed(&url.replace('\\', "\\\\").replace('\r', "\\r").replace('\n', "\\n")));
        let error = crate::bulk::write_result(&fixture.client(), &input).unwrap_err();
        assert_eq!(error.code.as_deref(), Some("DOWNLOAD_URL_NOT_ALLOWED"), "{url}: {}", error.message);
    }
    assert_eq!(fixture.sent(), hostile.len(), "only the job's status was asked");
}
