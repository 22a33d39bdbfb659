//! The host driving sliced sweeps (`zoho-host sweep/sync --slices N`) and the sandbox's
//! real-world knobs: every record exactly once with exact requests and usage, a sync resumed
//! after a failure mid-slice, a sweep and a sync started over when their plan was replaced,
//! the concurrency cap answered with Zoho's 429, the credit table, latency seen as overlap.

use component_tests::{runtime, Fault, Harness};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;
use zoho_sandbox::BulkModule;

const MODULE: &str = "Bulk";
const FIELDS: &str = "Field_01,Field_02,Field_03";
const RECORDS: usize = 3_000;

/// 3,000 records, half of them on five seconds (a bulk import), the rest over 30 days.
fn seed(h: &Harness) -> BTreeSet<String> {
    let spec = BulkModule { name: MODULE.into(), records: RECORDS, fields: 3, span: Duration::from_secs(30 * 86_400), burst_share: 0.5, burst: Duration::from_secs(5), seed: 7 };
    h.sandbox.seed_bulk(&spec).into_iter().map(|id| id.to_string()).collect()
}

fn ids_of_lines(text: &str) -> Vec<String> {
    text.lines().map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["id"].as_str().expect("id").to_string()).collect()
}

fn coql_queries(h: &Harness) -> Vec<String> {
    h.requests().iter().filter(|r| r.path == "/crm/v8/coql").filter_map(|r| r.json()?["select_query"].as_str().map(str::to_string)).collect()
}

fn sweep_request(slices: u32, per_page: u32, concurrency: Option<usize>) -> zoho_host::sweep::SweepRequest<'static> {
    zoho_host::sweep::SweepRequest { record_type: MODULE, since: None, per_page: Some(per_page), fields: Some(FIELDS), slices, concurrency, strategy: None }
}

/// A 4-slice sync of the Bulk stream, 200 a page, `concurrency` steps at once.
fn sync_request<'a>(streams: &'a [String], dir: &'a std::path::Path, concurrency: usize) -> zoho_host::sync::SyncRequest<'a> {
    zoho_host::sync::SyncRequest {
        streams,
        anchor_date: Some("2000-01-01"),
        reset: false,
        out_dir: dir,
        per_page: Some(200),
        concurrency,
        backoff_at_credit_percentage: None,
        slices: 4,
        requests_per_second: Some(1_000),
        strategy: None,
    }
}

fn fail_the_10th_coql_call(h: &Harness) {
    h.sandbox.inject(Fault::status(1, 500, r#"{"code":"INTERNAL_ERROR","details":{},"message":"boom","status":"error"}"#).on_path("/crm/v8/coql").after(9));
}

/// Four slices of 750 records at 300 a page: the field metadata (the named fields' types are
/// checked), the record count, three probes, three pages per slice (LIMIT 300: 2 credits each),
/// every record once, the usage the sandbox counted, then a commit that leaves nothing for the
/// next sweep.
#[tokio::test(flavor = "multi_thread")]
async fn sweep_in_4_slices_delivers_every_record_once_and_commits_once() {
    let h = Harness::new().await;
    let all = seed(&h);
    h.sandbox.set_limits(zoho_sandbox::Limits { latency: Duration::from_millis(30), ..Default::default() });
    let mut out = Vec::new();
    let summary = zoho_host::sweep::run(runtime(), &h.connection, Some(&h.namespace), &sweep_request(4, 300, None), &mut out).await.expect("sweep");
    let text = String::from_utf8(out).expect("utf-8");
    let ids = ids_of_lines(&text);
    assert_eq!(ids.len(), RECORDS, "every record once");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), all);
    // Records are written as Zoho's text: the sandbox's own bytes for each row.
    let first = text.lines().next().expect("a line");
    assert!(h.requests().iter().any(|r| r.response_body.as_ref().is_some_and(|b| String::from_utf8_lossy(b).contains(first))), "{first}");

    let queries = coql_queries(&h);
    let others: Vec<String> = h.requests().iter().filter(|r| r.path != "/crm/v8/coql").map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(others, ["GET /crm/v8/settings/fields", "GET /crm/v8/Bulk/actions/count"], "besides COQL, the field metadata once and the record count");
    assert!(queries.iter().all(|q| !q.contains("COUNT(")), "{queries:#?}");
    assert_eq!(queries.iter().filter(|q| q.ends_with(", 1")).count(), 3, "a probe per boundary: {queries:#?}");
    assert_eq!(queries.iter().filter(|q| q.ends_with("limit 0, 300")).count(), 12, "three pages per slice: {queries:#?}");
    assert_eq!(queries.len(), 15);
    assert_eq!((summary.records, summary.pages, summary.slices, summary.restarts), (RECORDS, 12, 4, 0));
    assert_eq!((summary.usage.calls, summary.usage.credits), (17, 1 + 1 + 3 + 12 * 2), "metadata, count and probes 1 credit, LIMIT 300 pages 2");
    assert_eq!(h.sandbox.usage(), (17, 29), "the sandbox charged what the component reported");
    assert!((2..=4).contains(&h.sandbox.max_in_flight()), "slices ran side by side, at most one step each: {}", h.sandbox.max_in_flight());
    assert!(summary.cursor.is_string(), "committed: {:?}", summary.cursor);

    // Committed once: the next sweep starts at the cursor and finds nothing new.
    h.sandbox.clear_requests();
    let mut again = Vec::new();
    let next = zoho_host::sweep::run(runtime(), &h.connection, Some(&h.namespace), &sweep_request(4, 300, None), &mut again).await.expect("next sweep");
    assert_eq!((next.records, again.len()), (0, 0));
    h.assert_zoho_openapi();
}

/// A 500 on the 10th COQL call stops the sync mid-slice; the same command again continues each
/// slice after its last written page: every record exactly once, nothing lost.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_in_4_slices_resumes_after_a_failure_mid_slice_without_loss_or_duplicates() {
    let h = Harness::new().await;
    let all = seed(&h);
    let dir = std::env::temp_dir().join(format!("zoho-sliced-sync-{}-{}", std::process::id(), h.sandbox.addr.port()));
    let _ = std::fs::remove_dir_all(&dir);
    let streams = vec![MODULE.to_string()];
    let request = sync_request(&streams, &dir, 4);
    fail_the_10th_coql_call(&h);
    let first = zoho_host::sync::run(runtime(), &h.connection, Some(&h.namespace), &request).await;
    assert!(first.is_err(), "the fault stopped the sync");
    let state: Value = serde_json::from_slice(&std::fs::read(dir.join("state.json")).expect("state")).expect("json");
    let stream = &state["streams"][MODULE];
    assert_eq!((stream["status"].clone(), stream["slices"].clone()), (json!("reading"), json!(4)), "{state}");
    let written: u64 = stream["slice_pages"].as_array().expect("pages per slice").iter().filter_map(Value::as_u64).sum();
    assert!(written >= 1 && stream["records"].as_u64() == Some(ids_of_lines(&std::fs::read_to_string(dir.join("Bulk.jsonl")).expect("file")).len() as u64), "{state}");

    let summary = zoho_host::sync::run(runtime(), &h.connection, Some(&h.namespace), &request).await.expect("resumed");
    let ids = ids_of_lines(&std::fs::read_to_string(dir.join("Bulk.jsonl")).expect("file"));
    assert_eq!(ids.len(), RECORDS, "no duplicates after resuming");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), all, "nothing lost");
    assert_eq!((summary[MODULE]["status"].clone(), summary[MODULE]["records"].clone(), summary[MODULE]["restarts"].clone()), (json!("done"), json!(RECORDS), json!(0)));
    assert!(summary[MODULE]["cursor"].is_string());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Between an interrupted sync and its resumption two other first steps replace the plan (a
/// different page size, then the sync's own): the resumed slices find their walks belong to an
/// old plan (`conflict`), so the stream starts over, its file cut back: each record once. One
/// step at a time, the failure is deterministic: plan and slice 1's page 1, page 1 of every
/// other slice, then slice 1's page 3 fails.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_sync_starts_over_when_its_plan_was_replaced() {
    let h = Harness::new().await;
    let all = seed(&h);
    let dir = std::env::temp_dir().join(format!("zoho-sliced-replan-{}-{}", std::process::id(), h.sandbox.addr.port()));
    let _ = std::fs::remove_dir_all(&dir);
    let streams = vec![MODULE.to_string()];
    let request = sync_request(&streams, &dir, 1);
    fail_the_10th_coql_call(&h);
    assert!(zoho_host::sync::run(runtime(), &h.connection, Some(&h.namespace), &request).await.is_err());
    for per_page in [100, 200] {
        let step =
            h.run("sync-read-stream-page", json!({ "stream": MODULE, "page": 1, "slice": 1, "slices": 4, "per-page": per_page, "anchor-date": "2000-01-01", "max-requests-per-second": 1000 })).await;
        assert!(step.result.is_ok(), "{:?}", step.result);
    }
    let summary = zoho_host::sync::run(runtime(), &h.connection, Some(&h.namespace), &request).await.expect("resumed");
    assert_eq!(summary[MODULE]["restarts"], 1, "{summary:?}");
    let ids = ids_of_lines(&std::fs::read_to_string(dir.join("Bulk.jsonl")).expect("file"));
    assert_eq!(ids.len(), RECORDS, "the old plan's pages were cut off");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), all);
    let _ = std::fs::remove_dir_all(&dir);
}

/// While a sweep runs, another worker's first step opens a new plan (another `since`): the
/// sweep's next step answers `conflict`, it starts over once, and still delivers every record
/// and commits.
#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_starts_over_when_another_worker_replaces_its_plan() {
    let h = Harness::new().await;
    let all = seed(&h);
    h.sandbox.set_limits(zoho_sandbox::Limits { latency: Duration::from_millis(100), ..Default::default() });
    let competitor = async {
        // Once the sweep has its plan (the record count, 3 probes) and two pages, replace the plan.
        while coql_queries(&h).len() < 5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        h.run("incremental-list-modified-records-by-page", json!({ "record-type": MODULE, "page": 1, "slice": 1, "slices": 4, "per-page": 100, "fields": FIELDS, "since": "2000-01-01T00:00:00Z" }))
            .await
    };
    let mut out = Vec::new();
    let request = sweep_request(4, 100, Some(1));
    let sweep = zoho_host::sweep::run(runtime(), &h.connection, Some(&h.namespace), &request, &mut out);
    let (summary, step) = futures_util::future::join(sweep, competitor).await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    let summary = summary.expect("the sweep finished after starting over");
    assert_eq!(summary.restarts, 1);
    let ids = ids_of_lines(&String::from_utf8(out).expect("utf-8"));
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), all, "every record, some twice (at-least-once across a restart)");
    assert!(ids.len() > RECORDS);
    assert!(summary.cursor.is_string());
}

/// One raw HTTP/1.1 exchange (no client library here): status and body.
async fn call(sandbox: &zoho_sandbox::Sandbox, token: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(sandbox.addr).await.expect("connect");
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Zoho-oauthtoken {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

fn coql(query: &str) -> String {
    json!({ "select_query": query }).to_string()
}

/// Past the edition's cap, and past COQL's own, calls are refused with Zoho's 429
/// `TOO_MANY_REQUESTS`; the latency holds each call, so every call is seen in flight at once.
#[tokio::test(flavor = "multi_thread")]
async fn calls_past_the_concurrency_cap_get_zohos_429_and_latency_shows_as_overlap() {
    let h = Harness::new().await;
    h.sandbox.set_limits(zoho_sandbox::Limits { max_concurrent: 3, max_concurrent_coql: 2, latency: Duration::from_millis(1_500), ..Default::default() });
    let gets = (0..5).map(|_| call(&h.sandbox, &h.token, "GET", "/crm/v8/Leads?fields=Last_Name", ""));
    let answers = futures_util::future::join_all(gets).await;
    let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert_eq!(h.sandbox.max_in_flight(), 5, "the latency kept all five in flight together");
    for (status, body) in answers.iter().filter(|(s, _)| *s == 429) {
        let error: Value = serde_json::from_str(body).expect("json");
        assert_eq!((error["code"].clone(), error["status"].clone(), *status), (json!("TOO_MANY_REQUESTS"), json!("error"), 429), "{body}");
    }
    // COQL's sub-cap: 3 queries at once, 2 answered.
    let query = coql("select Last_Name from Leads where id is not null limit 5");
    let queries = (0..3).map(|_| call(&h.sandbox, &h.token, "POST", "/crm/v8/coql", &query));
    let mut statuses: Vec<u16> = futures_util::future::join_all(queries).await.iter().map(|(s, _)| *s).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 429]);
    h.assert_zoho_openapi();
}

/// Credits by Zoho's table for a known sequence of calls: most calls 1, COQL by its LIMIT
/// (1–200 rows 1, 201–1,000 rows 2, 1,001–2,000 rows 3, none read 200), convert lead 5;
/// a refused or failed call is charged too (Zoho counts what reaches it).
#[tokio::test(flavor = "multi_thread")]
async fn credits_follow_zohos_table_for_a_known_sequence_of_calls() {
    let h = Harness::new().await;
    let sequence: [(&str, &str, String, u64); 10] = [
        ("GET", "/crm/v8/Leads?fields=Last_Name", String::new(), 1),
        ("POST", "/crm/v8/coql", coql("select Last_Name from Leads where id is not null limit 200"), 1),
        ("POST", "/crm/v8/coql", coql("select Last_Name from Leads where id is not null limit 0, 201"), 2),
        ("POST", "/crm/v8/coql", coql("select Last_Name from Leads where id is not null limit 1000 offset 5"), 2),
        ("POST", "/crm/v8/coql", coql("select Last_Name from Leads where id is not null limit 1001"), 3),
        ("POST", "/crm/v8/coql", coql("select Last_Name from Leads where Last_Name = 'limit 5' limit 2000"), 3),
        ("POST", "/crm/v8/coql", coql("select Last_Name from Leads where id is not null"), 1),
        ("POST", "/crm/v8/coql", coql("select COUNT(Created_By) from Leads where id is not null"), 1),
        ("POST", "/crm/v8/Leads/1/actions/convert", json!({ "data": [{}] }).to_string(), 5),
        ("GET", "/crm/v8/org", String::new(), 1),
    ];
    let mut expected = 0;
    for (i, (method, path, body, credits)) in sequence.iter().enumerate() {
        call(&h.sandbox, &h.token, method, path, body).await;
        expected += credits;
        assert_eq!(h.sandbox.usage(), (i as u64 + 1, expected), "after {method} {path} {body}");
    }
    assert_eq!(h.sandbox.usage(), (10, 20));
    assert_eq!(h.sandbox.limits().credits_used, 20);
    // A call without a token is refused, and charged.
    call(&h.sandbox, "", "GET", "/crm/v8/org", "").await;
    assert_eq!(h.sandbox.usage(), (11, 21));
    let unique: HashSet<String> = h.requests().iter().map(|r| r.path.clone()).collect();
    assert!(unique.contains("/crm/v8/coql"));
}
