//! Memory attacks: answers and inputs sized to exhaust the
//! instance's 256 MiB, and sizes at and just past every budget the component states:
//! answers ≤ 32 MiB, trees ≤ 1 MiB, values ≤ 16 MiB, dynamic-fields ≤ 1 MiB, all-rows
//! ≤ 32 MiB of row text, host input ≤ 104 MiB. Each ends Ok or in a typed error, never a trap.

use component_tests::{assert_request, error_of, ok_of, runtime, unchecked, Fault, Harness};
use serde_json::{json, Value};
use zoho_host::ActionRef;
use zoho_sandbox::BOOKS_ORG_ID;

const MIB: usize = 1 << 20;
/// Every attack here must stay well inside the 256 MiB cap.
const PEAK_LIMIT: usize = 160 * MIB;
const LEAD: &str = "5725767000000524157";

/// `{"data":[0,0,...]}` with five million elements (~10 MB): a `Value` tree of it is ~500 MB.
fn hostile_list() -> String {
    let mut body = String::with_capacity(10_000_020);
    body.push_str("{\"data\":[");
    body.push_str(&"0,".repeat(4_999_999));
    body.push_str("0]}");
    body
}

fn with_org(h: &Harness) -> Value {
    let mut connection = h.connection.clone();
    connection["books-organization-id"] = json!(BOOKS_ORG_ID);
    connection
}

fn message(outcome: &zoho_host::StepOutcome) -> String {
    error_of(outcome)["message"].as_str().unwrap_or("").to_string()
}

// A 10 MB list answer trapped crm-get-record (the whole answer became a tree).
#[tokio::test(flavor = "multi_thread")]
async fn a_ten_megabyte_list_answer_to_get_record_is_a_typed_error() {
    let h = Harness::new().await;
    h.sandbox.inject(Fault::status(1, 200, &hostile_list()));
    let outcome = h.run("crm-get-record", json!({ "record-type": "Leads", "record-id": LEAD })).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["status"].as_u64()), (Some("zoho"), Some(200)));
    assert!(message(&outcome).contains("more than 1 items"), "{}", message(&outcome));
    assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/v8/Leads/{LEAD}"), &[], None);
    assert!(outcome.peak_memory_bytes < 64 * MIB, "peak {}", outcome.peak_memory_bytes);
}

// The same answer to a list page (more records than per-page asked for).
#[tokio::test(flavor = "multi_thread")]
async fn a_ten_megabyte_list_answer_to_get_records_is_a_typed_error() {
    let h = Harness::new().await;
    h.sandbox.inject(Fault::status(1, 200, &hostile_list()));
    let outcome = h.run("crm-get-records", json!({ "record-type": "Leads", "fields": "Email", "per-page": 200 })).await;
    assert_eq!(error_of(&outcome)["kind"], "zoho");
    assert!(message(&outcome).contains("more than 200 items"), "{}", message(&outcome));
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Leads", &[("fields", "id,Email"), ("per_page", "200"), ("page", "1")], None);
    assert!(outcome.peak_memory_bytes < 64 * MIB, "peak {}", outcome.peak_memory_bytes);
}

// Books lists too (the envelope was one tree).
#[tokio::test(flavor = "multi_thread")]
async fn a_ten_megabyte_list_answer_to_books_get_records_is_a_typed_error() {
    let h = Harness::new().await;
    h.sandbox.inject(Fault::status(1, 200, &hostile_list()).on_path("/books/"));
    let outcome = h.run_as(&with_org(&h), "books-get-records", json!({ "record-type": "contacts", "per-page": 25 }), None).await;
    assert_eq!(error_of(&outcome)["kind"], "zoho");
    assert!(message(&outcome).contains("more than 25 items"), "{}", message(&outcome));
    assert_request(&h.only_request(), &h.token, "GET", "/books/v3/contacts", &[("organization_id", BOOKS_ORG_ID), ("page", "1"), ("per_page", "25")], None);
    assert!(outcome.peak_memory_bytes < 64 * MIB, "peak {}", outcome.peak_memory_bytes);
}

// Raw-request hands the answer back as it came (raw.rs belongs to another change;
// this proves the whole path holds for it).
#[tokio::test(flavor = "multi_thread")]
async fn a_ten_megabyte_answer_to_raw_request_comes_back_whole() {
    let h = Harness::new().await;
    let body = hostile_list();
    h.sandbox.inject(Fault::status(1, 200, &body));
    let outcome = h.run("crm-raw-request", json!({ "url": "Leads" })).await;
    let result = ok_of(&outcome);
    assert_eq!(result["status"], 200);
    assert_eq!(result["body"]["json"].as_str().map(str::len), Some(body.len()));
    assert_eq!(h.requests().len(), 1);
    assert!(outcome.peak_memory_bytes < PEAK_LIMIT, "peak {}", outcome.peak_memory_bytes);
}

/// A get-record answer of exactly `size` bytes: one record with a padded Description.
fn record_answer(size: usize) -> String {
    let frame = format!("{{\"data\":[{{\"id\":\"{LEAD}\",\"Description\":\"\"}}]}}");
    format!("{{\"data\":[{{\"id\":\"{LEAD}\",\"Description\":\"{}\"}}]}}", "x".repeat(size - frame.len()))
}

// The 32 MiB answer cap, at and just past it.
#[tokio::test(flavor = "multi_thread")]
async fn answers_at_the_32_mib_cap_are_read_and_past_it_refused() {
    let h = Harness::new().await;
    let at_cap = record_answer(32 * MIB);
    assert_eq!(at_cap.len(), 32 * MIB);
    h.sandbox.inject(Fault::status(1, 200, &at_cap));
    let get = json!({ "record-type": "Leads", "record-id": LEAD });
    let outcome = h.run("crm-get-record", get.clone()).await;
    let record = ok_of(&outcome);
    let frame = format!("{{\"data\":[{{\"id\":\"{LEAD}\",\"Description\":\"\"}}]}}").len();
    assert_eq!((record["id"].as_str(), record["Description"].as_str().map(str::len)), (Some(LEAD), Some(at_cap.len() - frame)));
    assert!(outcome.peak_memory_bytes < PEAK_LIMIT, "peak {}", outcome.peak_memory_bytes);

    h.sandbox.clear_requests();
    h.sandbox.inject(Fault::status(1, 200, &record_answer(32 * MIB + 1)));
    let outcome = h.run("crm-get-record", get).await;
    assert_eq!(error_of(&outcome)["kind"], "transport");
    assert!(message(&outcome).contains("larger than 32 MiB"), "{}", message(&outcome));
    assert_eq!(h.requests().len(), 1);
}

/// A 400 error body of exactly `size` bytes.
fn error_body(size: usize) -> String {
    let frame = r#"{"code":"INVALID_DATA","message":"bad","status":"error","details":{"pad":""}}"#;
    format!(r#"{{"code":"INVALID_DATA","message":"bad","status":"error","details":{{"pad":"{}"}}}}"#, "p".repeat(size - frame.len()))
}

// Error bodies are trees only up to 1 MiB; past it, a typed error naming the size.
#[tokio::test(flavor = "multi_thread")]
async fn error_bodies_at_the_tree_limit_keep_details_and_past_it_give_their_size() {
    let h = Harness::new().await;
    let get = json!({ "record-type": "Leads", "record-id": LEAD });
    h.sandbox.inject(Fault::status(1, 400, &error_body(MIB)));
    let outcome = h.run("crm-get-record", get.clone()).await;
    let error = error_of(&outcome);
    assert_eq!((error["code"].as_str(), error["message"].as_str()), (Some("INVALID_DATA"), Some("bad")));
    let frame = r#"{"code":"INVALID_DATA","message":"bad","status":"error","details":{"pad":""}}"#.len();
    assert_eq!(error["details"]["pad"].as_str().map(str::len), Some(MIB - frame));

    h.sandbox.inject(Fault::status(1, 400, &error_body(MIB + 1)));
    let outcome = h.run("crm-get-record", get).await;
    let error = error_of(&outcome);
    assert_eq!((error["kind"].as_str(), error["status"].as_u64(), error["code"].as_str()), (Some("zoho"), Some(400), Some("INVALID_DATA")));
    assert_eq!(error["message"], format!("Zoho answered HTTP 400 with a {}-byte error body (more than the {} bytes read whole): bad", MIB + 1, MIB));
    assert_eq!(error["details"], Value::Null);
    assert_eq!(h.requests().len(), 2);
}

/// A COQL page of 2,000 rows of `row_bytes` each.
fn coql_page(rows: usize, first_id: usize, more: bool, row_bytes: usize) -> (String, usize) {
    let row = |id: usize| {
        let frame = format!("{{\"id\":\"{id:08}\",\"Description\":\"\"}}");
        format!("{{\"id\":\"{id:08}\",\"Description\":\"{}\"}}", "d".repeat(row_bytes - frame.len()))
    };
    let rows: Vec<String> = (first_id..first_id + rows).map(row).collect();
    (format!("{{\"data\":[{}],\"info\":{{\"count\":{},\"more_records\":{more}}}}}", rows.join(","), rows.len()), row_bytes)
}

// All-rows held up to 100,000 rows whatever their size; it now stops at 32 MiB of
// row text and says where to continue, and passing that back continues.
#[tokio::test(flavor = "multi_thread")]
async fn coql_all_rows_stops_by_bytes_and_continues_from_next_offset() {
    let h = Harness::new().await;
    let query = "select Description from Leads where id is not null";
    let row_bytes = 8_000;
    // Every page Zoho sends: 2,000 rows of 8 KB (16 MB), more to come.
    let (page, _) = coql_page(2_000, 0, true, row_bytes);
    h.sandbox.inject(Fault::status(3, 200, &page).on_path("/crm/v8/coql"));
    let outcome = h.run("crm-coql-query", json!({ "query": query, "all-rows": true })).await;
    let result = ok_of(&outcome);
    // A row costs its text and a comma; the walk keeps every row that fits the budget.
    let kept = (32 * MIB + 1) / (row_bytes + 1);
    assert_eq!(result["info"], json!({ "count": kept, "more_records": true, "calls": 3, "next_offset": kept }));
    assert_eq!(result["data"].as_array().map(Vec::len), Some(kept));
    let sent: Vec<Value> = h.requests().iter().map(|r| r.json().unwrap_or_default()).collect();
    assert_eq!(sent, (0..3).map(|n| json!({ "select_query": format!("{query} limit {}, 2000", n * 2000) })).collect::<Vec<_>>());
    assert!(outcome.peak_memory_bytes < PEAK_LIMIT, "peak {}", outcome.peak_memory_bytes);

    // Passing next_offset back continues from that row; a short last page ends the walk.
    h.sandbox.clear_requests();
    let (last, _) = coql_page(3, kept, false, 100);
    h.sandbox.inject(Fault::status(1, 200, &last).on_path("/crm/v8/coql"));
    let outcome = h.run("crm-coql-query", json!({ "query": query, "all-rows": true, "offset": kept })).await;
    let result = ok_of(&outcome);
    assert_eq!(result["info"], json!({ "count": 3, "more_records": false, "calls": 1 }));
    assert_eq!(result["data"][0]["id"], format!("{kept:08}"));
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/coql", &[], Some(json!({ "select_query": format!("{query} limit {kept}, 2000") })));

    // An offset without all-rows, or past Zoho's reach, is refused before anything is sent.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-coql-query", json!({ "query": query, "offset": 10 })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    let outcome = h.run("crm-coql-query", json!({ "query": query, "all-rows": true, "offset": 100_000 })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert!(h.requests().is_empty());
}

/// `{"Last_Name":"Doe","Description":"xx..."}` of exactly `size` bytes.
fn values_of_size(size: usize) -> String {
    let frame = r#"{"Last_Name":"Doe","Description":""}"#;
    format!(r#"{{"Last_Name":"Doe","Description":"{}"}}"#, "v".repeat(size - frame.len()))
}

// One 60 MB value trapped crm-create-record; the values cap (16 MiB) refuses it
// before anything is parsed or sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_sixty_megabyte_value_is_invalid_input_and_nothing_is_sent() {
    let h = Harness::new().await;
    let values = values_of_size(60_000_000);
    let outcome = h.run("crm-create-record", json!({ "record-type": "Leads", "values": values })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert_eq!(message(&outcome), "values is 60000000 bytes; at most 16777216 bytes (16 MiB) are accepted: send fewer records per step, and files as attachments");
    assert!(h.requests().is_empty());
    assert!(outcome.peak_memory_bytes < PEAK_LIMIT, "peak {}", outcome.peak_memory_bytes);
}

// Values at the 16 MiB cap are sent; one byte past is refused unsent.
#[tokio::test(flavor = "multi_thread")]
async fn values_at_the_cap_are_sent_and_past_it_refused() {
    let h = Harness::new().await;
    let at_cap = values_of_size(16 * MIB);
    let outcome = h.run_with("crm-create-record", json!({ "record-type": "Leads", "values": at_cap }), unchecked()).await;
    // Sent whole; Zoho refuses a Description past its 32,000 characters ("Insert Records": INVALID_DATA).
    assert_eq!(error_of(&outcome)["details"]["data"][0]["details"], json!({ "api_name": "Description", "json_path": "$.data[0].Description", "maximum_length": "32000" }));
    let sent = h.only_request();
    assert_eq!(sent.body.len(), 16 * MIB + r#"{"data":[]}"#.len());
    assert_eq!(sent.json().unwrap_or_default()["data"][0]["Description"].as_str().map(str::len), Some(16 * MIB - r#"{"Last_Name":"Doe","Description":""}"#.len()));
    assert!(outcome.peak_memory_bytes < PEAK_LIMIT, "peak {}", outcome.peak_memory_bytes);

    h.sandbox.clear_requests();
    let outcome = h.run_with("crm-create-record", json!({ "record-type": "Leads", "values": values_of_size(16 * MIB + 1) }), unchecked()).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert!(message(&outcome).starts_with("values is 16777217 bytes"), "{}", message(&outcome));
    let outcome = h.run("books-create-record", json!({ "record-type": "contacts", "values": values_of_size(16 * MIB + 1) })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert!(h.requests().is_empty());
}

// A 16 MB values text of one long array becomes members with raw values, not a
// 500 MB tree; and dynamic-fields has its own 1 MiB cap.
#[tokio::test(flavor = "multi_thread")]
async fn a_sixteen_megabyte_array_value_is_not_a_tree_and_dynamic_fields_are_capped() {
    let h = Harness::new().await;
    let mut values = String::from("{\"a\":[");
    values.push_str(&"0,".repeat(8_000_000));
    values.push_str("0]}");
    let outcome = h.run_with("crm-update-record", json!({ "record-type": "Leads", "record-id": LEAD, "values": values }), unchecked()).await;
    // Zoho's answer to the odd field does not matter here: the step ran and answered in kind.
    assert!(outcome.result.is_ok() || error_of(&outcome)["kind"] != "internal", "{:?}", outcome.result);
    assert_eq!(h.requests().len(), 1);
    assert!(outcome.peak_memory_bytes < PEAK_LIMIT, "peak {}", outcome.peak_memory_bytes);

    h.sandbox.clear_requests();
    let dynamic = |size: usize| format!(r#"{{"Company":"{}"}}"#, "c".repeat(size - r#"{"Company":""}"#.len()));
    let outcome = h.run_with("crm-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe" }, "dynamic-fields": dynamic(MIB) }), unchecked()).await;
    // Sent whole; Zoho refuses a Company past its 200 characters ("Insert Records": INVALID_DATA).
    assert_eq!(error_of(&outcome)["details"]["data"][0]["details"], json!({ "api_name": "Company", "json_path": "$.data[0].Company", "maximum_length": "200" }));
    assert_eq!(h.only_request().json().unwrap_or_default()["data"][0]["Company"].as_str().map(str::len), Some(MIB - r#"{"Company":""}"#.len()));
    h.sandbox.clear_requests();
    let outcome = h.run_with("crm-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe" }, "dynamic-fields": dynamic(MIB + 1) }), unchecked()).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert!(message(&outcome).starts_with("dynamic-fields is 1048577 bytes"), "{}", message(&outcome));
    // Copied into 100 records, 1 MiB of dynamic fields would make a 100 MiB body: refused.
    let hundred = vec![json!({ "Last_Name": "Doe" }); 100];
    let outcome = h.run_with("crm-create-record", json!({ "record-type": "Leads", "values": hundred, "dynamic-fields": dynamic(MIB) }), unchecked()).await;
    assert!(message(&outcome).contains("more than 16777216 bytes"), "{}", message(&outcome));
    assert!(h.requests().is_empty());
}

// The host's input cap (104 MiB, was 128 MiB) fits what the component can hold;
// past it the host refuses the step before the component runs.
#[tokio::test(flavor = "multi_thread")]
async fn inputs_past_the_host_cap_are_refused_by_the_host() {
    let h = Harness::new().await;
    let input = json!({ "record-type": "Leads", "values": "v".repeat(104 * MIB) });
    let refused = runtime().run(&ActionRef::from_key("crm-create-record").expect("key"), &h.connection, &input, None, Some(&h.namespace)).await;
    let error = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("this host accepts at most 104 MB"), "{error}");
    assert!(h.requests().is_empty());
}

/// Base64 of `bytes` in 76-character lines, as mail and most encoders write it.
fn wrapped_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

// ~60 MB of base64 with line breaks ran out of memory (the text was copied to strip
// the whitespace). It is now sized first and decoded straight into one buffer.
#[tokio::test(flavor = "multi_thread")]
async fn sixty_megabytes_of_wrapped_base64_attach_within_bounded_memory() {
    let h = Harness::new().await;
    let file: Vec<u8> = (0..44_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let text = wrapped_base64(&file);
    assert!(text.len() > 60_000_000, "{}", text.len());
    let outcome = h.run("crm-add-attachment", json!({ "record-id": LEAD, "file": { "base64": text }, "file-name": "big.bin" })).await;
    assert_eq!(ok_of(&outcome)["code"], "SUCCESS");
    let stored = h.sandbox.attachments("Leads", LEAD);
    assert_eq!(stored.len(), 1);
    assert!(stored[0].bytes == file, "the stored file differs");
    assert_eq!(h.requests().len(), 1);
    // The text (61 MB) and the file (44 MB) once each: no second copy of the text.
    assert!(outcome.peak_memory_bytes < PEAK_LIMIT, "peak {}", outcome.peak_memory_bytes);

    // Not base64: a typed refusal, nothing sent.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-add-attachment", json!({ "record-id": LEAD, "file": { "base64": "QUJD\r\nRA=\r\n=x" }, "file-name": "a.bin" })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert!(h.requests().is_empty());
}
