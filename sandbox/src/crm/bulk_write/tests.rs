use super::*;
use std::io::Write;

fn request(method: &str, path: &str, headers: &[(&str, &str)], content_type: Option<&str>, body: Vec<u8>) -> RecordedRequest {
    let mut headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    if let Some(t) = content_type {
        headers.push(("content-type".into(), t.into()));
    }
    headers.push(("host".into(), "127.0.0.1:9".into()));
    RecordedRequest { method: method.into(), path: path.into(), query: Vec::new(), headers, body, received_ms: 0, seq: 0, response_status: None, response_body: None, faulted: false }
}

async fn answer(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn multipart(file: &[u8]) -> Vec<u8> {
    [b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Leads.zip\"\r\nContent-Type: application/zip\r\n\r\n".as_slice(), file, b"\r\n--b--\r\n"].concat()
}

const HEADERS: [(&str, &str); 2] = [("feature", "bulk-write"), ("x-crm-org", "10101010")];

async fn upload_csv(shared: &Shared, csv: &str) -> (u16, Value) {
    let body = multipart(&zip_of(&[("Leads.csv", csv.as_bytes())]));
    answer(upload::upload(shared, &request("POST", "/crm/v8/upload", &HEADERS, Some("multipart/form-data; boundary=b"), body)).await).await
}

async fn create_job(shared: &Shared, body: Value) -> (u16, Value) {
    answer(create(shared, &request("POST", "/crm/bulk/v8/write", &[], Some("application/json"), body.to_string().into_bytes()))).await
}

fn setup() -> Shared {
    let shared = Shared::new();
    crate::seed::seed(&shared);
    shared.clock.freeze_at(Utc::now());
    shared
}

#[tokio::test]
async fn the_upload_is_strict_on_headers_and_file() {
    let shared = setup();
    let body = multipart(&zip_of(&[("Leads.csv", b"Last_Name\r\nDoe\r\n")]));
    let no_feature = request("POST", "/crm/v8/upload", &[("x-crm-org", "10101010")], Some("multipart/form-data; boundary=b"), body.clone());
    assert_eq!(answer(upload::upload(&shared, &no_feature).await).await.0, 400);
    let other_org = request("POST", "/crm/v8/upload", &[("feature", "bulk-write"), ("x-crm-org", "1")], Some("multipart/form-data; boundary=b"), body);
    assert_eq!(answer(upload::upload(&shared, &other_org).await).await.0, 400);
    let not_zip = request("POST", "/crm/v8/upload", &HEADERS, Some("multipart/form-data; boundary=b"), multipart(b"Last_Name\r\nDoe\r\n"));
    assert_eq!(answer(upload::upload(&shared, &not_zip).await).await.1["code"], "INVALID_FILE_FORMAT");
    let two = request("POST", "/crm/v8/upload", &HEADERS, Some("multipart/form-data; boundary=b"), multipart(&zip_of(&[("a.csv", b"x\n"), ("b.csv", b"y\n")])));
    assert_eq!(answer(upload::upload(&shared, &two).await).await.1["code"], "FILE_NOT_SUPPORTED");
    let many = format!("Last_Name\r\n{}", "x\r\n".repeat(upload::MAX_RECORDS + 1));
    assert_eq!(upload_csv(&shared, &many).await.1["code"], "FILE_TOO_LARGE");
    let (status, ok) = upload_csv(&shared, &format!("Last_Name\r\n{}", "x\r\n".repeat(upload::MAX_RECORDS))).await;
    assert_eq!((status, ok["code"].as_str()), (200, Some("FILE_UPLOAD_SUCCESS")));
}

#[tokio::test]
async fn jobs_are_refused_as_zoho_documents() {
    let shared = setup();
    let file_id = upload_csv(&shared, "Last_Name,Email\r\nDoe,d@x.com\r\n").await.1["details"]["id"].as_str().unwrap().to_string();
    let job = |operation: &str, resource: Value| json!({ "operation": operation, "resource": [resource] });
    let leads = |extra: Value| {
        let mut r = json!({ "type": "data", "module": { "api_name": "Leads" }, "file_id": file_id });
        r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        r
    };
    let code = |v: &Value| v["code"].as_str().unwrap_or_default().to_string();
    assert_eq!(code(&create_job(&shared, json!({ "resource": [leads(json!({}))] })).await.1), "MISSING_REQUIRED_KEY");
    assert_eq!(code(&create_job(&shared, job("update", leads(json!({})))).await.1), "MANDATORY_NOT_FOUND");
    assert_eq!(code(&create_job(&shared, job("upsert", leads(json!({ "find_by": "Last_Name" })))).await.1), "INVALID_DATA");
    assert_eq!(code(&create_job(&shared, job("insert", leads(json!({ "file_id": "1" })))).await.1), "INVALID_FILE_ID");
    assert_eq!(code(&create_job(&shared, job("insert", json!({ "module": { "api_name": "Nope" }, "file_id": file_id }))).await.1), "MODULE_NOT_AVAILABLE");
    assert_eq!(code(&create_job(&shared, job("insert", leads(json!({ "field_mappings": [{ "api_name": "Email", "index": 1 }] })))).await.1), "MANDATORY_FIELDS_NOT_MAPPED");
    assert_eq!(code(&create_job(&shared, job("insert", leads(json!({ "field_mappings": [{ "api_name": "Last_Name", "index": 7 }] })))).await.1), "COLUMN_INDEX_NOT_FOUND");
    assert_eq!(code(&create_job(&shared, json!({ "operation": "insert", "callback": { "url": "https://x.io", "method": "get" }, "resource": [leads(json!({}))] })).await.1), "INVALID_CALLBACK_METHOD");
    let (status, created) = create_job(&shared, job("insert", leads(json!({})))).await;
    assert_eq!((status, code(&created)), (201, "SUCCESS".to_string()));
}

/// 25,000 rows against a module of many records run in well under a second of the test's time
/// (the job's unique checks use its index); invalid rows are SKIPPED with Zoho's codes, and the
/// result CSV holds the first three mapped columns, STATUS, RECORD_ID and ERRORS.
#[tokio::test]
async fn a_job_runs_on_the_clock_and_writes_rows_through_the_store() {
    let shared = setup();
    let mut csv = String::from("Last_Name,Email,Company,Description\r\n");
    for i in 0..24_998 {
        csv.push_str(&format!("Doe {i},d{i}@x.com,Z,\"a, \"\"b\"\"\"\r\n"));
    }
    csv.push_str(",nobody@x.com,Z,\r\nDup,d1@x.com,Z,\r\n");
    let file_id = upload_csv(&shared, &csv).await.1["details"]["id"].as_str().unwrap().to_string();
    let created = create_job(
        &shared,
        json!({ "operation": "insert", "callback": { "url": "https://example.com/hook", "method": "post" }, "resource": [{ "type": "data", "module": { "api_name": "Leads" }, "file_id": file_id }] }),
    )
    .await
    .1;
    let id = created["details"]["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_string();
    let get = |shared: &Shared| status(shared, &request("GET", "/crm/bulk/v8/write/x", &[], None, Vec::new()), &id);
    assert_eq!(answer(get(&shared)).await.1["status"], "ADDED");
    shared.clock.advance(Duration::seconds(3));
    assert_eq!(answer(get(&shared)).await.1["status"], "IN PROGRESS");
    shared.clock.advance(Duration::seconds(10));
    let started = std::time::Instant::now();
    let done = answer(get(&shared)).await.1;
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["resource"][0]["file"], json!({ "status": "COMPLETED", "name": "Leads.csv", "added_count": 24_998, "updated_count": 0, "skipped_count": 2, "total_count": 25_000 }));
    assert_eq!(shared.outbox.deliveries().iter().filter(|d| d.channel_id == format!("bulk-write:{id}")).count(), 1);
    let url = done["result"]["download_url"].as_str().unwrap().to_string();
    let path: Vec<&str> = url.split('/').collect();
    let token = shared.issue_token();
    let download = request("GET", "/v2/x", &[("authorization", &format!("Zoho-oauthtoken {token}"))], None, Vec::new());
    let response = result(&shared, &download, path[5], path[7], path[8]);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut archive.by_index(0).unwrap(), &mut text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Last_Name,Email,Company,STATUS,RECORD_ID,ERRORS");
    assert!(lines[1].starts_with("Doe 0,d0@x.com,Z,ADDED,"), "{}", lines[1]);
    assert_eq!(lines[24_999], ",nobody@x.com,Z,SKIPPED,,MANDATORY_NOT_FOUND-Last_Name");
    assert_eq!(lines[25_000], "Dup,d1@x.com,Z,SKIPPED,,DUPLICATE_DATA-Email");
    // Without the token the download is refused.
    let bare = request("GET", "/v2/x", &[], None, Vec::new());
    assert_eq!(result(&shared, &bare, path[5], path[7], path[8]).status().as_u16(), 401);
}
