use super::*;

fn request(method: &str, path: &str, body: Value) -> RecordedRequest {
    RecordedRequest {
        method: method.into(),
        path: path.into(),
        query: Vec::new(),
        headers: Vec::new(),
        body: if body.is_null() { Vec::new() } else { body.to_string().into_bytes() },
        received_ms: 0,
        seq: 0,
        response_status: None,
        response_body: None,
        faulted: false,
    }
}

async fn answer(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A job goes ADDED, IN PROGRESS, COMPLETED on the clock; its ZIP holds one CSV of the matches.
#[tokio::test]
async fn jobs_run_on_the_clock_and_answer_a_zip_of_one_csv() {
    let shared = std::sync::Arc::new(Shared::new());
    crate::seed::seed(&shared);
    shared.clock.freeze_at(Utc::now());
    shared.bulk_reads.tune(|k| k.per_page = 1000);
    let body = json!({ "query": { "module": { "api_name": "Contacts" }, "fields": ["Last_Name", "Email"], "criteria": { "api_name": "Mailing_City", "comparator": "equal", "value": "Austin" } } });
    let (status, created) = answer(create(&shared, &request("POST", "/crm/bulk/v8/read", body))).await;
    assert_eq!((status, created["data"][0]["code"].as_str()), (201, Some("ADDED_SUCCESSFULLY")));
    let id = created["data"][0]["details"]["id"].as_str().unwrap().to_string();
    assert_eq!(answer(status_of(&shared, &id)).await.1["data"][0]["state"], "ADDED");
    shared.clock.advance(Duration::seconds(6));
    assert_eq!(answer(status_of(&shared, &id)).await.1["data"][0]["state"], "IN PROGRESS");
    shared.clock.advance(Duration::seconds(30));
    let done = answer(status_of(&shared, &id)).await.1;
    assert_eq!(done["data"][0]["result"]["count"], 650);
    assert_eq!(done["data"][0]["result"]["download_url"], format!("/crm/bulk/v8/read/{id}/result"));
    let zip = axum::body::to_bytes(result(&shared, &id).into_body(), usize::MAX).await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    assert_eq!(archive.len(), 1);
    let mut csv = String::new();
    std::io::Read::read_to_string(&mut archive.by_index(0).unwrap(), &mut csv).unwrap();
    assert_eq!(csv.lines().next(), Some("Id,Last_Name,Email"));
    assert_eq!(csv.lines().count(), 651);
}

fn status_of(shared: &Shared, id: &str) -> Response {
    status(shared, id)
}

/// Zoho's error codes for what the create-job page refuses.
#[tokio::test]
async fn refusals_carry_zohos_codes() {
    let shared = std::sync::Arc::new(Shared::new());
    crate::seed::seed(&shared);
    let code = |body: Value| {
        let shared = &shared;
        async move { answer(create(shared, &request("POST", "/crm/bulk/v8/read", body))).await.1["code"].as_str().unwrap_or_default().to_string() }
    };
    let leads = |extra: Value| {
        let mut q = json!({ "module": { "api_name": "Leads" } });
        q.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({ "query": q })
    };
    assert_eq!(code(json!({ "query": { "module": { "api_name": "Notes" } } })).await, "MODULE_NOT_SUPPORTED");
    assert_eq!(code(json!({ "query": { "module": { "api_name": "Nowhere" } } })).await, "MODULE_NOT_AVAILABLE");
    assert_eq!(code(leads(json!({ "page": 51 }))).await, "PAGE_RANGE_EXCEEDED");
    assert_eq!(code(leads(json!({ "criteria": { "api_name": "Modified_Time", "comparator": "contains", "value": "x" } }))).await, "FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE");
    assert_eq!(code(leads(json!({ "criteria": { "api_name": "Nope", "comparator": "equal", "value": "x" } }))).await, "FIELD_IN_CRITERIA_NOT_AVAILABLE");
    assert_eq!(code(leads(json!({ "criteria": { "group_operator": "xor", "group": [] } }))).await, "GROUP_OPERATOR_NOT_SUPPORTED");
    assert_eq!(code(json!({ "callback": { "url": "https://a.example/x", "method": "get" }, "query": { "module": { "api_name": "Leads" } } })).await, "INVALID_CALLBACK_METHOD");
    assert_eq!(code(Value::Null).await, "REQUEST_BODY_IS_EMPTY");
    assert_eq!(answer(status(&shared, "1")).await.0, 404);
}

/// A job made with a callback is posted to it once it completes (its status's job), and logged
/// with the deliveries; a job's duration grows with its records; a job can be made never to end.
#[tokio::test(flavor = "multi_thread")]
async fn a_completed_job_is_posted_to_its_callback_and_jobs_take_time_per_record() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let shared = std::sync::Arc::new(Shared::new());
    crate::seed::seed(&shared);
    shared.clock.freeze_at(Utc::now());
    shared.bulk_reads.tune(|k| k.records_per_second = 100);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/zoho/bulk?x=1", listener.local_addr().unwrap());
    let body = json!({ "callback": { "url": url, "method": "post" }, "query": { "module": { "api_name": "Contacts" }, "fields": ["Last_Name"] } });
    let (_, created) = answer(create(&shared, &request("POST", "/crm/bulk/v8/read", body))).await;
    let id = created["data"][0]["details"]["id"].as_str().unwrap().to_string();
    // 2,600 Contacts at 100 a second: 26 s past the 5 + 30.
    shared.clock.advance(Duration::seconds(5 + 30 + 25));
    assert_eq!(answer(status_of(&shared, &id)).await.1["data"][0]["state"], "IN PROGRESS");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(shared.outbox.deliveries().is_empty(), "nothing is posted before the job ends");
    shared.clock.advance(Duration::seconds(1));
    let (mut socket, _) = tokio::time::timeout(std::time::Duration::from_secs(5), listener.accept()).await.unwrap().unwrap();
    let mut received = vec![0u8; 64 * 1024];
    let n = socket.read(&mut received).await.unwrap();
    socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await.unwrap();
    let text = String::from_utf8_lossy(&received[..n]).to_string();
    assert!(text.starts_with("POST /zoho/bulk?x=1 HTTP/1.1\r\n"), "{text}");
    let posted: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!((posted["id"].as_str(), posted["state"].as_str(), posted["result"]["count"].as_u64()), (Some(id.as_str()), Some("COMPLETED"), Some(2600)));
    let deliveries = shared.outbox.deliveries();
    assert_eq!((deliveries.len(), deliveries[0].channel_id.clone()), (1, format!("bulk-read:{id}")));

    shared.bulk_reads.tune(|k| k.never_ends = true);
    let (_, created) = answer(create(&shared, &request("POST", "/crm/bulk/v8/read", json!({ "query": { "module": { "api_name": "Leads" } } })))).await;
    let id = created["data"][0]["details"]["id"].as_str().unwrap().to_string();
    shared.clock.advance(Duration::days(2));
    assert_eq!(answer(status_of(&shared, &id)).await.1["data"][0]["state"], "IN PROGRESS");
}
