//! Bulk read (export) jobs end to end: bulk-read-create, bulk-read-status polled on the
//! sandbox's clock until COMPLETED, bulk-read-result-page read through the ZIP; what the
//! component refuses before sending; hostile answers as typed errors.

use chrono::{DateTime, Duration, Utc};
use component_tests::{assert_request, error_of, ok_of, Fault, Harness};
use serde_json::{json, Value};

const FIELDS: [&str; 6] = ["Last_Name", "Email", "Annual_Revenue", "Email_Opt_Out", "Owner", "Modified_Time"];

/// The sandbox frozen ten minutes ahead (after every seeded record, within the token's hour)
/// with three Leads modified then, one minute apart; their ids.
fn three_new_leads(h: &Harness) -> (DateTime<Utc>, Vec<String>) {
    let start = start();
    let mut ids = Vec::new();
    for (i, (name, revenue, opt_out)) in [("Ames", json!(1200.5), json!(true)), ("Baker", Value::Null, json!(false)), ("Cole", json!(7), Value::Null)].into_iter().enumerate() {
        h.sandbox.clock().freeze_at(start + Duration::minutes(i as i64));
        let mut values = json!({ "Last_Name": name, "Email": format!("{}@example.com", name.to_lowercase()), "Annual_Revenue": revenue, "Email_Opt_Out": opt_out });
        values.as_object_mut().unwrap().retain(|_, v| !v.is_null());
        ids.push(h.sandbox.create_record("Leads", values));
    }
    (start, ids)
}

fn start() -> DateTime<Utc> {
    static START: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *START.get_or_init(|| DateTime::from_timestamp(Utc::now().timestamp() + 600, 0).unwrap())
}

/// Modified at or after five minutes before the three Leads: those three only.
fn modified_since() -> Value {
    let since = (start() - Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    json!({ "api_name": "Modified_Time", "comparator": "greater_equal", "value": since })
}

async fn status_of(h: &Harness, id: &str) -> zoho_host::StepOutcome {
    h.run("bulk-read-status", json!({ "job-id": id })).await
}

async fn page(h: &Harness, id: &str) -> zoho_host::StepOutcome {
    h.run("bulk-read-result-page", json!({ "job-id": id, "record-type": "Leads" })).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_is_created_polled_to_completed_and_read_through_in_typed_pages() {
    let h = Harness::new().await;
    let (start, ids) = three_new_leads(&h);
    h.sandbox.clear_requests();
    let created = h.run("bulk-read-create", json!({ "record-type": "Leads", "fields": FIELDS, "criteria": modified_since().to_string() })).await;
    let body = json!({ "query": { "module": { "api_name": "Leads" }, "fields": FIELDS, "criteria": modified_since() } });
    assert_request(&h.only_request(), &h.token, "POST", "/crm/bulk/v8/read", &[], Some(body));
    let job = ok_of(&created).clone();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!((job["state"].as_str(), job["operation"].as_str(), job["module"].as_str()), (Some("ADDED"), Some("read"), Some("Leads")));

    // Polled as a flow polls: a status step after each delay.
    for (wait, state) in [(0, "ADDED"), (6, "IN PROGRESS"), (30, "COMPLETED")] {
        h.sandbox.clock().advance(Duration::seconds(wait));
        h.sandbox.clear_requests();
        let status = ok_of(&status_of(&h, &id).await).clone();
        assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/bulk/v8/read/{id}"), &[], None);
        assert_eq!((status["state"].as_str(), status["done"].as_bool()), (Some(state), Some(state == "COMPLETED")));
        if state != "COMPLETED" {
            assert_eq!(status["result"], Value::Null);
        } else {
            assert_eq!(status["result"], json!({ "page": 1, "count": 3, "per_page": 200000, "more_records": false, "next_page_token": null }));
        }
    }

    h.sandbox.clear_requests();
    let first = ok_of(&h.run("bulk-read-result-page", json!({ "job-id": id, "record-type": "Leads", "limit": 2 })).await).clone();
    let requests = h.requests();
    assert_eq!(requests.len(), 2, "the fields' metadata, then the result: {requests:?}");
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Leads")], None);
    assert_request(&requests[1], &h.token, "GET", &format!("/crm/bulk/v8/read/{id}/result"), &[], None);
    let time = |i: i64| zoho_sandbox::Clock::zoho_time(start + Duration::minutes(i));
    let owner = json!({ "id": h.sandbox.record("Leads", &ids[0]).unwrap()["Owner"]["id"] });
    let record = |i: usize, name: &str, revenue: Value, opt_out: Value| json!({ "id": ids[i], "Last_Name": name, "Email": format!("{}@example.com", name.to_lowercase()), "Annual_Revenue": revenue, "Email_Opt_Out": opt_out, "Owner": owner, "Modified_Time": time(i as i64) });
    let columns = json!(["id", "Last_Name", "Email", "Annual_Revenue", "Email_Opt_Out", "Owner", "Modified_Time"]);
    assert_eq!(
        first,
        json!({ "records": [record(0, "Ames", json!(1200.5), json!(true)), record(1, "Baker", Value::Null, json!(false))], "count": 2, "offset": 0, "next_offset": 2, "columns": columns })
    );

    h.sandbox.clear_requests();
    let last = ok_of(&h.run("bulk-read-result-page", json!({ "job-id": id, "record-type": "Leads", "offset": 2, "limit": 2 })).await).clone();
    assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/bulk/v8/read/{id}/result"), &[], None);
    assert_eq!(last, json!({ "records": [record(2, "Cole", json!(7), Value::Null)], "count": 1, "offset": 2, "next_offset": null, "columns": columns }));
    h.assert_zoho_openapi();
}

/// Past a result page of `per_page` records, `next_page_token` makes the next job.
#[tokio::test(flavor = "multi_thread")]
async fn next_page_token_exports_the_records_after_a_full_page() {
    let h = Harness::new().await;
    let (_, ids) = three_new_leads(&h);
    h.sandbox.tune_bulk_reads(|k| k.per_page = 2);
    let job = ok_of(&h.run("bulk-read-create", json!({ "record-type": "Leads", "fields": ["Last_Name"], "criteria": modified_since().to_string() })).await).clone();
    h.sandbox.clock().advance(Duration::minutes(1));
    let status = ok_of(&status_of(&h, job["id"].as_str().unwrap()).await).clone().clone();
    assert_eq!((status["result"]["count"].as_u64(), status["result"]["more_records"].as_bool()), (Some(2), Some(true)));
    let token = status["result"]["next_page_token"].as_str().unwrap().to_string();
    h.sandbox.clear_requests();
    let next = ok_of(&h.run("bulk-read-create", json!({ "record-type": "Leads", "fields": ["Last_Name"], "criteria": modified_since().to_string(), "page-token": token })).await).clone();
    let body = json!({ "query": { "module": { "api_name": "Leads" }, "fields": ["Last_Name"], "criteria": modified_since(), "page_token": token } });
    assert_request(&h.only_request(), &h.token, "POST", "/crm/bulk/v8/read", &[], Some(body));
    h.sandbox.clock().advance(Duration::minutes(1));
    let id = next["id"].as_str().unwrap();
    let page = ok_of(&page(&h, id).await).clone();
    assert_eq!(page["records"], json!([{ "id": ids[2], "Last_Name": "Cole" }]));
    h.assert_zoho_openapi();
}

/// 1,001 fields, a comparator Zoho lacks, a Modified_Time that is not ISO 8601, an http
/// callback and a module Zoho cannot export are refused before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn what_zoho_would_refuse_is_refused_before_sending() {
    let h = Harness::new().await;
    let fields: Vec<String> = (0..1001).map(|i| format!("Field_{i}")).collect();
    let cases = [
        (json!({ "record-type": "Leads", "fields": fields }), "more than 1000 fields"),
        (json!({ "record-type": "Leads", "criteria": r#"{"api_name":"Modified_Time","comparator":"after","value":"2024-01-01T00:00:00Z"}"# }), "Zoho's comparators"),
        (json!({ "record-type": "Leads", "criteria": r#"{"api_name":"Modified_Time","comparator":"greater_than","value":"2024-01-01"}"# }), "ISO 8601"),
        (json!({ "record-type": "Leads", "callback-url": "http://example.com/hook" }), "not https"),
        (json!({ "record-type": "Notes" }), "cannot be exported"),
    ];
    for (input, says) in cases {
        let error = error_of(&h.run("bulk-read-create", input.clone()).await).clone();
        assert_eq!(error["kind"], "invalid-input", "{input}");
        assert!(error["message"].as_str().unwrap().contains(says), "{input}: {error}");
    }
    assert!(h.requests().is_empty(), "nothing was sent: {:?}", h.requests());
    let error = error_of(&h.run("bulk-read-status", json!({ "job-id": "../Leads" })).await).clone();
    assert_eq!(error["kind"], "invalid-input");
    assert!(h.requests().is_empty());
}

/// Zoho's own refusal (a field the criteria cannot compare that way) comes back typed.
#[tokio::test(flavor = "multi_thread")]
async fn zohos_refusals_are_typed_errors() {
    let h = Harness::new().await;
    let criteria = json!({ "api_name": "Annual_Revenue", "comparator": "starts_with", "value": "1" });
    let error = error_of(&h.run("bulk-read-create", json!({ "record-type": "Leads", "criteria": criteria.to_string() })).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str(), error["status"].as_u64()), (Some("zoho"), Some("FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE"), Some(400)));
    let error = error_of(&status_of(&h, "5725767000000799999").await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("not-found"), Some("RESOURCE_NOT_FOUND")));
    h.assert_zoho_openapi();
}

async fn completed_job(h: &Harness) -> String {
    let job = ok_of(&h.run("bulk-read-create", json!({ "record-type": "Leads", "fields": ["Last_Name"] })).await).clone();
    h.sandbox.clock().advance(Duration::minutes(1));
    job["id"].as_str().unwrap().to_string()
}

/// A failed job, a download URL on another host, a ZIP bomb, a CSV of 10 million columns and a
/// ZIP of two entries end as typed errors, within the step's memory.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_job_answers_are_typed_errors() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(Utc::now());
    h.sandbox.tune_bulk_reads(|k| k.fail_next = true);
    let failed = completed_job(&h).await;
    let error = error_of(&status_of(&h, &failed).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("zoho"), Some("FAILURE")));
    assert!(error["message"].as_str().unwrap().contains("failed"), "{error}");

    let id = completed_job(&h).await;
    let elsewhere = json!({ "data": [{ "id": id, "operation": "read", "state": "COMPLETED", "query": { "module": { "api_name": "Leads" } }, "created_by": { "id": "1" }, "created_time": "2026-01-01T00:00:00Z", "file_type": "csv",
        "result": { "page": 1, "count": 1, "download_url": format!("https://evil.example/crm/bulk/v8/read/{id}/result"), "per_page": 200000, "more_records": false } }] });
    h.sandbox.inject(Fault::status(1, 200, &elsewhere.to_string()).on_path("/crm/bulk/v8/read/"));
    let error = error_of(&status_of(&h, &id).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("zoho"), Some("DOWNLOAD_URL_NOT_ALLOWED")));

    // 128 million one-cell rows deflate about 1,000 times: skipping to a far offset inflates
    // them until the ratio gives the bomb away.
    let bomb_csv: Vec<u8> = b"Id\n".iter().copied().chain(b"1\n".iter().copied().cycle().take(256 << 20)).collect();
    let bomb = zoho_sandbox::bulk_read_zip(&id, &bomb_csv);
    drop(bomb_csv);
    h.sandbox.tune_bulk_reads(|k| k.result_override = Some(bomb));
    let error = error_of(&h.run("bulk-read-result-page", json!({ "job-id": id, "record-type": "Leads", "offset": 200_000_000u64 })).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("zoho"), Some("ZIP_BOMB")), "{error}");

    let wide = zoho_sandbox::bulk_read_zip(&id, &[vec![b','; 10_000_000], b"\n1\n".to_vec()].concat());
    h.sandbox.tune_bulk_reads(|k| k.result_override = Some(wide));
    let error = error_of(&page(&h, &id).await).clone();
    assert_eq!(error["kind"], "zoho");
    assert!(error["message"].as_str().unwrap().contains("more than 2000 columns"), "{error}");

    let giant = zoho_sandbox::bulk_read_zip(&id, &[b"Id,Last_Name\n1,\"".to_vec(), vec![b'x'; 20 << 20], b"\"\n".to_vec()].concat());
    h.sandbox.tune_bulk_reads(|k| k.result_override = Some(giant));
    let error = error_of(&page(&h, &id).await).clone();
    assert!(error["message"].as_str().unwrap().contains("giant cell"), "{error}");

    let mut two = zoho_sandbox::bulk_read_zip(&id, b"Id,Last_Name\n1,A\n");
    let second = zoho_sandbox::bulk_read_zip("2", b"Id\n2\n");
    let first_end = two.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    two.truncate(first_end);
    two.extend_from_slice(&second);
    h.sandbox.tune_bulk_reads(|k| k.result_override = Some(two));
    let error = error_of(&page(&h, &id).await).clone();
    assert!(error["message"].as_str().unwrap().contains("more than one entry"), "{error}");
}
