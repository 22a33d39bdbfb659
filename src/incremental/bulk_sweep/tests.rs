//! The bulk first sweep against a scripted Zoho: the exact requests, the steps that wait, a
//! page asked again, a restart between steps, a job that never ends, and the commit handing
//! over to the COQL sweep.

use crate::http::Response;
use crate::incremental::{commit, list_page, SweepRequest};
use crate::testing::Fixture;
use serde_json::{json, Value};

const FIELDS: &str = r#"{"fields":[{"api_name":"Last_Name","data_type":"text"},{"api_name":"Owner","data_type":"ownerlookup"},{"api_name":"Annual_Revenue","data_type":"currency"}]}"#;

fn dated(fixture: &Fixture, status: u16, date: &str, body: &[u8]) {
    fixture.transport.answers.borrow_mut().push_back(Response { status, headers: vec![("date".into(), date.into())], body: body.to_vec() });
}

fn step(page: Option<u32>) -> SweepRequest {
    SweepRequest {
        record_type: "Leads".into(),
        page,
        fields: Some("Last_Name,Owner,Annual_Revenue".into()),
        anchor: Some("2024-01-01T00:00:00+00:00".into()),
        scope: Some("sync/leads".into()),
        strategy: Some("bulk".into()),
        ..Default::default()
    }
}

fn sent(fixture: &Fixture) -> Vec<String> {
    fixture
        .transport
        .sent
        .borrow()
        .iter()
        .map(|r| {
            format!(
                "{} {}{}",
                r.method.as_str(),
                r.url.trim_start_matches("https://www.zohoapis.com"),
                r.body.as_ref().map(|b| format!(" {}", String::from_utf8_lossy(&b.to_vec()))).unwrap_or_default()
            )
        })
        .collect()
}

fn page_json(fixture: &Fixture, page: Option<u32>) -> Value {
    serde_json::from_str(&list_page(&fixture.client(), &step(page)).unwrap().to_json().unwrap()).unwrap()
}

const JOB: &str = "5725767000000700001";
const ADDED: &str = r#"{"data":[{"status":"success","code":"ADDED_SUCCESSFULLY","message":"Added successfully.","details":{"id":"5725767000000700001","operation":"read","state":"ADDED","created_time":"2024-07-01T12:00:01+00:00"}}],"info":{}}"#;
const CSV: &[u8] = b"Id,Modified_Time,Last_Name,Owner,Annual_Revenue\n11,2024-06-01T00:00:00+00:00,Ann,77,12.5\n12,2024-06-02T00:00:00+00:00,\"Bo, Jr\",,\n";

fn state(state: &str, more: Option<&str>) -> String {
    let result = match (state, more) {
        ("COMPLETED", Some(token)) => format!(r#","result":{{"page":1,"count":2,"download_url":"/crm/bulk/v8/read/{JOB}/result","per_page":200000,"more_records":true,"next_page_token":"{token}"}}"#),
        ("COMPLETED", None) => format!(r#","result":{{"page":1,"count":2,"download_url":"/crm/bulk/v8/read/{JOB}/result","per_page":200000,"more_records":false}}"#),
        _ => String::new(),
    };
    format!(r#"{{"data":[{{"id":"{JOB}","operation":"read","state":"{state}","query":{{"module":{{"api_name":"Leads"}}}},"created_time":"2024-07-01T12:00:01+00:00","file_type":"csv"{result}}}]}}"#)
}

fn first_step(fixture: &Fixture) -> Value {
    fixture.answer(200, FIELDS);
    dated(fixture, 200, "Mon, 01 Jul 2024 12:00:00 GMT", br#"{"data":[{"COUNT(Owner)":3}]}"#);
    fixture.answer(201, ADDED);
    page_json(fixture, Some(1))
}

fn download(fixture: &Fixture) {
    dated(fixture, 200, "Mon, 01 Jul 2024 12:01:00 GMT", &crate::bulk::zip_stream::tests::zip_of(&format!("{JOB}.csv"), CSV));
}

const CREATE: &str = r#"POST /crm/bulk/v8/read {"query":{"criteria":{"group":[{"api_name":"Modified_Time","comparator":"greater_equal","value":"2024-01-01T00:00:00+00:00"},{"api_name":"Modified_Time","comparator":"less_equal","value":"2024-07-01T12:00:00+00:00"}],"group_operator":"and"},"fields":["Modified_Time","Last_Name","Owner","Annual_Revenue"],"module":{"api_name":"Leads"}}}"#;

/// The whole first sweep: count and bound, the job with Modified_Time up to the bound, a step
/// that waits, the result typed, the last page asked again, the commit at the bound's cursor,
/// and the next sweep a COQL sweep from it.
#[test]
fn a_bulk_first_sweep_reads_one_job_up_to_the_bound_then_hands_over_to_coql() {
    let fixture = Fixture::default();
    let first = first_step(&fixture);
    assert_eq!(
        sent(&fixture),
        vec![
            "GET /crm/v8/settings/fields?module=Leads".to_string(),
            r#"POST /crm/v8/coql {"select_query":"select COUNT(Owner) from Leads where Modified_Time >= '2024-01-01T00:00:00+00:00'"}"#.to_string(),
            CREATE.to_string(),
        ]
    );
    assert_eq!((first["records"].clone(), first["more_records"].clone(), first["retry_after_ms"].clone(), first["strategy"].clone()), (json!([]), json!(true), json!(2000), json!("bulk")));
    assert_eq!(first["bulk"], json!({"job": JOB, "state": "ADDED", "jobs": 1, "records_counted": 3, "offset": 0}));
    assert_eq!((first["sweep"]["until"].as_str(), first["sweep"]["commits_cursor"].as_str()), (Some("2024-07-01T12:00:00+00:00"), Some("2024-07-01T11:59:58+00:00")));
    assert_eq!(first["usage"], json!({"calls": 3, "credits": 52}), "the job costs 50 credits");

    // IN PROGRESS 39 s after Zoho created it: no records, come back in as long again.
    fixture.transport.sent.borrow_mut().clear();
    dated(&fixture, 200, "Mon, 01 Jul 2024 12:00:40 GMT", state("IN PROGRESS", None).as_bytes());
    let waiting = page_json(&fixture, Some(2));
    assert_eq!(sent(&fixture), vec![format!("GET /crm/bulk/v8/read/{JOB}")]);
    assert_eq!((waiting["records"].clone(), waiting["more_records"].clone(), waiting["retry_after_ms"].clone()), (json!([]), json!(true), json!(39000)));

    fixture.transport.sent.borrow_mut().clear();
    dated(&fixture, 200, "Mon, 01 Jul 2024 12:01:00 GMT", state("COMPLETED", None).as_bytes());
    download(&fixture);
    let done = page_json(&fixture, Some(3));
    assert_eq!(sent(&fixture), vec![format!("GET /crm/bulk/v8/read/{JOB}"), format!("GET /crm/bulk/v8/read/{JOB}/result")]);
    let expected = json!([
        {"id": "11", "Modified_Time": "2024-06-01T00:00:00+00:00", "Last_Name": "Ann", "Owner": {"id": "77"}, "Annual_Revenue": 12.5},
        {"id": "12", "Modified_Time": "2024-06-02T00:00:00+00:00", "Last_Name": "Bo, Jr", "Owner": null, "Annual_Revenue": null}
    ]);
    assert_eq!((done["records"].clone(), done["more_records"].clone(), done["next_page"].clone(), done.get("retry_after_ms")), (expected.clone(), json!(false), Value::Null, None));

    // The last page asked again (the host stopped before writing it): from where it began, the
    // same job's status and its result again, the same records.
    fixture.transport.sent.borrow_mut().clear();
    dated(&fixture, 200, "Mon, 01 Jul 2024 12:02:00 GMT", state("COMPLETED", None).as_bytes());
    download(&fixture);
    let again = page_json(&fixture, Some(3));
    assert_eq!(sent(&fixture), vec![format!("GET /crm/bulk/v8/read/{JOB}"), format!("GET /crm/bulk/v8/read/{JOB}/result")]);
    assert_eq!((again["records"].clone(), again["more_records"].clone()), (expected, json!(false)));
    // Past the end: nothing sent.
    fixture.transport.sent.borrow_mut().clear();
    assert_eq!(page_json(&fixture, Some(4))["more_records"], json!(false));
    assert!(sent(&fixture).is_empty());

    let committed = commit(&fixture.client(), "Leads", Some("sync/leads"), None).unwrap();
    assert_eq!(committed["cursor"], "2024-07-01T11:59:58+00:00");
    // The next sweep is COQL's from the cursor, whatever the strategy.
    fixture.transport.sent.borrow_mut().clear();
    dated(&fixture, 200, "Mon, 01 Jul 2024 13:00:00 GMT", br#"{"data":[],"info":{"count":0,"more_records":false}}"#);
    let next = page_json(&fixture, Some(1));
    let query = sent(&fixture).pop().unwrap();
    assert!(query.starts_with(r#"POST /crm/v8/coql {"select_query":"select id, Modified_Time, Last_Name, Owner, Annual_Revenue from Leads where Modified_Time >= '2024-07-01T11:59:58+00:00' order by Modified_Time asc, id asc limit 0, 200"}"#), "{query}");
    assert_eq!((next.get("strategy"), next["sweep"]["since"].as_str()), (None, Some("2024-07-01T11:59:58+00:00")));
}

/// A host restarted between steps (a new client over the same store) asks the page it had not
/// written again: the job in storage is polled, never a second one created.
#[test]
fn a_restart_resumes_the_same_job_without_creating_another() {
    let fixture = Fixture::default();
    first_step(&fixture);
    for _ in 0..3 {
        dated(&fixture, 200, "Mon, 01 Jul 2024 12:00:05 GMT", state("ADDED", None).as_bytes());
        let page = page_json(&fixture, Some(1));
        assert_eq!((page["bulk"]["state"].clone(), page["bulk"]["jobs"].clone()), (json!("ADDED"), json!(1)));
    }
    dated(&fixture, 200, "Mon, 01 Jul 2024 12:00:05 GMT", state("IN PROGRESS", None).as_bytes());
    assert_eq!(page_json(&fixture, None)["page"], 2, "no page: the next one");
    let creates = sent(&fixture).iter().filter(|r| r.starts_with("POST /crm/bulk/v8/read")).count();
    assert_eq!(creates, 1);
    assert_eq!(sent(&fixture).len(), 3 + 4);
}

/// A job past the bound is a timeout naming it; the same page asked again creates a new job.
/// A FAILURE is Zoho's reason, and again a new job next.
#[test]
fn a_job_that_never_ends_or_fails_is_a_typed_error_and_the_next_step_starts_a_new_job() {
    let fixture = Fixture::default();
    first_step(&fixture);
    dated(&fixture, 200, "Mon, 01 Jul 2024 14:00:02 GMT", state("IN PROGRESS", None).as_bytes());
    let error = list_page(&fixture.client(), &step(Some(2))).err().unwrap();
    assert_eq!((error.kind, error.code.as_deref()), (crate::error::ErrorKind::Timeout, Some("BULK_READ_JOB_NOT_DONE")));
    assert_eq!(
        error.message,
        format!("Zoho's bulk read job {JOB} of Leads is still IN PROGRESS 7201 s after Zoho created it (the bound is 7200 s); it is dropped: the next step creates a new job for the same records")
    );
    fixture.transport.sent.borrow_mut().clear();
    fixture.answer(201, ADDED);
    let again = page_json(&fixture, Some(2));
    assert_eq!(sent(&fixture), vec![CREATE.to_string()]);
    assert_eq!(again["bulk"]["jobs"], 2);
    fixture.answer(200, &format!(r#"{{"data":[{{"id":"{JOB}","state":"FAILURE","error_message":"the criteria took too long"}}]}}"#));
    let failed = list_page(&fixture.client(), &step(Some(3))).err().unwrap();
    assert_eq!((failed.kind, failed.code.as_deref()), (crate::error::ErrorKind::Zoho, Some("FAILURE")));
    assert!(failed.message.contains("the criteria took too long"), "{}", failed.message);
    fixture.transport.sent.borrow_mut().clear();
    fixture.answer(201, ADDED);
    page_json(&fixture, Some(3));
    assert_eq!(sent(&fixture), vec![CREATE.to_string()]);
}

/// A job Zoho dates in the far future (or not at all) is aged from the first poll that saw it:
/// past the bound from there it is dropped like any other, never polled forever.
#[test]
fn a_job_dated_in_the_far_future_still_times_out() {
    for created in [r#""created_time":"2999-12-31T23:59:59+00:00""#, r#""created_time":null"#] {
        let fixture = Fixture::default();
        fixture.answer(200, FIELDS);
        dated(&fixture, 200, "Mon, 01 Jul 2024 12:00:00 GMT", br#"{"data":[{"COUNT(Owner)":3}]}"#);
        fixture.answer(201, &ADDED.replace(r#""created_time":"2024-07-01T12:00:01+00:00""#, created));
        page_json(&fixture, Some(1));
        let in_progress = state("IN PROGRESS", None).replace(r#""created_time":"2024-07-01T12:00:01+00:00""#, created);
        dated(&fixture, 200, "Mon, 01 Jul 2024 12:00:10 GMT", in_progress.as_bytes());
        assert_eq!(page_json(&fixture, Some(2))["more_records"], true);
        dated(&fixture, 200, "Mon, 01 Jul 2024 14:00:11 GMT", in_progress.as_bytes());
        let error = list_page(&fixture.client(), &step(Some(2))).err().unwrap();
        assert_eq!(error.code.as_deref(), Some("BULK_READ_JOB_NOT_DONE"), "{created}: {}", error.message);
        assert!(error.message.contains("7201 s after"), "{}", error.message);
    }
}

/// Past a job's 200,000 records Zoho says more_records with a page token: the next step creates
/// the next job with it (and only it: the token carries the first job's query).
#[test]
fn the_export_goes_on_past_a_jobs_page_with_its_page_token() {
    let fixture = Fixture::default();
    first_step(&fixture);
    dated(&fixture, 200, "Mon, 01 Jul 2024 12:01:00 GMT", state("COMPLETED", Some("brt77")).as_bytes());
    download(&fixture);
    let page = page_json(&fixture, Some(2));
    assert_eq!((page["records"].as_array().map(Vec::len), page["more_records"].clone(), page.get("retry_after_ms")), (Some(2), json!(true), None));
    fixture.transport.sent.borrow_mut().clear();
    fixture.answer(201, ADDED);
    page_json(&fixture, Some(3));
    let body = sent(&fixture).pop().unwrap();
    assert!(body.contains(r#""page_token":"brt77""#), "{body}");
}

/// What cannot be exported is refused before a job is made; auto reads small ranges by COQL.
#[test]
fn bulk_is_refused_where_jobs_cannot_read_and_auto_falls_back_to_coql() {
    let fixture = Fixture::default();
    let refused = |input: SweepRequest| list_page(&fixture.client(), &input).err().unwrap();
    let wrong = refused(SweepRequest { strategy: Some("fast".into()), ..step(Some(1)) });
    assert_eq!(wrong.message, "strategy \"fast\" is not a strategy: use coql, bulk or auto");
    fixture.answer(200, FIELDS);
    let sliced = refused(SweepRequest { slices: Some(2), ..step(Some(1)) });
    assert_eq!(sliced.message, "strategy bulk reads Leads through export jobs, one walk: pass slices 1 (or none)");
    let deleted = refused(SweepRequest { include_deleted: Some(true), ..step(Some(1)) });
    assert!(deleted.message.starts_with("strategy bulk with include-deleted"), "{}", deleted.message);
    assert!(sent(&fixture).iter().all(|r| !r.contains("/bulk/")));
    // auto: 3 records in range, under the threshold: the count, then COQL's first page.
    fixture.transport.sent.borrow_mut().clear();
    dated(&fixture, 200, "Mon, 01 Jul 2024 12:00:00 GMT", br#"{"data":[{"COUNT(Owner)":3}]}"#);
    dated(&fixture, 200, "Mon, 01 Jul 2024 12:00:00 GMT", br#"{"data":[],"info":{"count":0,"more_records":false}}"#);
    let auto = page_json_with(&fixture, SweepRequest { strategy: Some("auto".into()), ..step(Some(1)) });
    assert_eq!(auto.get("strategy"), None);
    let sent = sent(&fixture);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].starts_with("POST /crm/v8/coql {\"select_query\":\"select id, Modified_Time"), "{sent:?}");
}

fn page_json_with(fixture: &Fixture, input: SweepRequest) -> Value {
    serde_json::from_str(&list_page(&fixture.client(), &input).unwrap().to_json().unwrap()).unwrap()
}
