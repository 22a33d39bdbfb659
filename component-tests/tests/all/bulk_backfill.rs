//! The backfill strategy `bulk`: a stream's first sweep read through export jobs up to the
//! sweep's bound, steps that answer "come back later" while the job runs, the job resumed by a
//! restarted host (one create), a job that never ends, the commit at the bound and the COQL
//! sweep from it; `zoho-host sync --strategy bulk` writing what a COQL sync writes.

use chrono::{DateTime, Duration, Utc};
use component_tests::{error_of, ok_of, runtime, Harness};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use zoho_sandbox::BulkModule;

const ANCHOR: &str = "2020-01-01T00:00:00+00:00";

fn step(page: u32) -> Value {
    json!({ "stream": "contacts", "page": page, "fields": "Last_Name,Email", "anchor-date": ANCHOR, "strategy": "bulk" })
}

fn at_second(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).expect("a second")
}

fn iso(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

fn creates(h: &Harness) -> usize {
    h.requests().iter().filter(|r| r.method == "POST" && r.path == "/crm/bulk/v8/read").count()
}

/// The exact requests of a bulk first sync: the field metadata, a COQL COUNT of the range whose
/// answer's Date is the bound, the job with `Modified_Time` from the anchor up to the bound;
/// then polls (a restarted host polls the same job), the download, the commit at the bound's
/// cursor, and the next sweep a COQL sweep from there that finds a record changed since.
#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_first_sync_exports_up_to_the_bound_resumes_its_job_and_hands_over_to_coql() {
    let h = Harness::new().await;
    let now = at_second(Utc::now());
    h.sandbox.clock().freeze_at(now);
    let all: Vec<String> = h.sandbox.record_versions("Contacts").into_iter().map(|(id, _)| id).collect();
    h.sandbox.clear_requests();
    let first = ok_of(&h.run("sync-read-stream-page", step(1)).await).clone();
    let sent: Vec<String> = h.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(sent, ["GET /crm/v8/settings/fields", "POST /crm/v8/coql", "POST /crm/bulk/v8/read"]);
    let requests = h.requests();
    assert_eq!(requests[1].json().expect("COUNT")["select_query"], format!("select COUNT(Created_By) from Contacts where Modified_Time >= '{ANCHOR}'"));
    let job_body = json!({ "query": { "module": { "api_name": "Contacts" }, "fields": ["Modified_Time", "Last_Name", "Email"], "criteria": { "group_operator": "and", "group": [
        { "api_name": "Modified_Time", "comparator": "greater_equal", "value": ANCHOR },
        { "api_name": "Modified_Time", "comparator": "less_equal", "value": iso(now) } ] } } });
    component_tests::assert_request(&requests[2], &h.token, "POST", "/crm/bulk/v8/read", &[], Some(job_body));
    assert_eq!((first["records"].clone(), first["more_records"].clone(), first["retry_after_ms"].clone(), first["strategy"].clone()), (json!([]), json!(true), json!(2000), json!("bulk")));
    assert_eq!((first["bulk"]["state"].clone(), first["bulk"]["records_counted"].clone()), (json!("ADDED"), json!(all.len())));
    assert_eq!(first["sweep"]["until"], iso(now));
    assert_eq!(first["usage"]["credits"], 52, "metadata 1, COUNT 1, the job 50");

    // The host restarts and asks page 1 again, then goes on: the job in storage is polled.
    h.sandbox.clock().advance(Duration::seconds(10));
    h.sandbox.clear_requests();
    let again = ok_of(&h.run("sync-read-stream-page", step(1)).await).clone();
    assert_eq!((again["bulk"]["state"].clone(), again["bulk"]["jobs"].clone(), again["more_records"].clone()), (json!("IN PROGRESS"), json!(1), json!(true)));
    let job = again["bulk"]["job"].as_str().expect("job id").to_string();
    component_tests::assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/bulk/v8/read/{job}"), &[], None);

    // A record changed now, after the bound, is not exported; the next sweep has it.
    let changed = all[7].clone();
    assert!(h.sandbox.modify_record("Contacts", &changed, json!({ "Last_Name": "Changed during the export" })));
    h.sandbox.clock().advance(Duration::seconds(30));
    h.sandbox.clear_requests();
    let done = ok_of(&h.run("sync-read-stream-page", step(2)).await).clone();
    let sent: Vec<String> = h.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(sent, [format!("GET /crm/bulk/v8/read/{job}"), format!("GET /crm/bulk/v8/read/{job}/result")]);
    assert_eq!(creates(&h), 0);
    let records = done["records"].as_array().expect("records");
    assert_eq!(records.len(), all.len());
    assert_eq!(done["more_records"], false);
    let exported: BTreeMap<&str, &Value> = records.iter().map(|r| (r["id"].as_str().expect("id"), r)).collect();
    assert_ne!(exported[changed.as_str()]["Last_Name"], "Changed during the export");

    let committed = ok_of(&h.run("sync-commit-stream", json!({ "stream": "contacts" })).await).clone();
    assert_eq!(committed["cursor"], iso(now - Duration::seconds(2)), "the bound's second less the count's duration and a second");
    h.sandbox.clear_requests();
    let next = ok_of(&h.run("sync-read-stream-page", step(1)).await).clone();
    let query = h.requests().iter().find(|r| r.path == "/crm/v8/coql").and_then(|r| r.json()).expect("a COQL page")["select_query"].as_str().expect("query").to_string();
    assert!(query.starts_with(&format!("select id, Modified_Time, Last_Name, Email from Contacts where Modified_Time >= '{}' order by", iso(now - Duration::seconds(2)))), "{query}");
    assert_eq!(next.get("strategy"), None);
    let ids: Vec<&str> = next["records"].as_array().expect("records").iter().filter_map(|r| r["id"].as_str()).collect();
    assert!(ids.contains(&changed.as_str()), "the record changed during the export is in the next sweep: {ids:?}");
    assert_eq!(creates(&h), 0);
    h.assert_zoho_openapi();
}

/// A job that never leaves IN PROGRESS: each step answers at once, and past two hours of Zoho's
/// clock the step is a `timeout` naming the job; the same page again starts a new job.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_never_ends_is_a_timeout_and_the_next_step_starts_a_new_job() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(at_second(Utc::now()));
    h.sandbox.tune_bulk_reads(|k| k.never_ends = true);
    ok_of(&h.run("sync-read-stream-page", step(1)).await);
    h.sandbox.clock().advance(Duration::minutes(50));
    let waiting = ok_of(&h.run("sync-read-stream-page", step(2)).await).clone();
    assert_eq!((waiting["retry_after_ms"].clone(), waiting["records"].clone()), (json!(60_000), json!([])), "the job's age, at most a minute");
    h.sandbox.clock().advance(Duration::minutes(71));
    // The harness's token has expired on the sandbox's clock two hours on: a fresh one.
    let connection = json!({ "api-domain": h.sandbox.url, "access-token": h.sandbox.issue_token() });
    h.sandbox.clear_requests();
    let started = std::time::Instant::now();
    let error = error_of(&h.run_as(&connection, "sync-read-stream-page", step(3), None).await).clone();
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the step answers at once");
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("timeout"), Some("BULK_READ_JOB_NOT_DONE")), "{error}");
    assert!(error["message"].as_str().expect("message").contains("s after Zoho created it (the bound is 7200 s)"), "{error}");
    assert_eq!(h.requests().len(), 1, "one status poll");
    h.sandbox.tune_bulk_reads(|k| k.never_ends = false);
    let retried = ok_of(&h.run_as(&connection, "sync-read-stream-page", step(3), None).await).clone();
    assert_eq!((retried["bulk"]["jobs"].clone(), retried["bulk"]["state"].clone()), (json!(2), json!("ADDED")));
    assert_eq!(creates(&h), 1);
}

/// Streams jobs cannot read refuse bulk; auto reads them as ever.
#[tokio::test(flavor = "multi_thread")]
async fn streams_jobs_cannot_export_refuse_bulk_and_auto_reads_them_as_ever() {
    let h = Harness::new().await;
    for stream in ["users", "notes", "books_invoices"] {
        h.sandbox.clear_requests();
        let error = error_of(&h.run("sync-read-stream-page", json!({ "stream": stream, "strategy": "bulk" })).await).clone();
        assert_eq!(error["kind"], "invalid-input", "{stream}: {error}");
        assert!(h.requests().iter().all(|r| !r.path.contains("/bulk/")), "{stream}");
    }
    let users = ok_of(&h.run("sync-read-stream-page", json!({ "stream": "users", "strategy": "auto" })).await).clone();
    assert!(users["records"].as_array().is_some_and(|r| !r.is_empty()));
    // 2,600 Contacts: under auto's 50,000, the count then COQL pages.
    h.sandbox.clear_requests();
    let contacts = ok_of(&h.run("sync-read-stream-page", json!({ "stream": "contacts", "strategy": "auto", "fields": "Last_Name", "anchor-date": ANCHOR })).await).clone();
    assert_eq!(contacts.get("strategy"), None);
    assert_eq!(creates(&h), 0);
}

fn sync_request<'a>(streams: &'a [String], dir: &'a std::path::Path, strategy: Option<&'a str>) -> zoho_host::sync::SyncRequest<'a> {
    zoho_host::sync::SyncRequest {
        streams,
        anchor_date: Some(ANCHOR),
        reset: false,
        out_dir: dir,
        per_page: Some(500),
        concurrency: 2,
        backoff_at_credit_percentage: None,
        slices: 1,
        requests_per_second: Some(1_000),
        strategy,
    }
}

fn records_of(path: &std::path::Path) -> BTreeMap<String, Value> {
    std::fs::read_to_string(path).expect("stream file").lines().map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")).map(|r| (r["id"].as_str().expect("id").to_string(), r)).collect()
}

/// `zoho-host sync --strategy bulk` of 1,200 records (jobs of 500, so three jobs and page
/// tokens) writes the same records a COQL sync writes, each once, and commits.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_with_strategy_bulk_writes_what_a_coql_sync_writes() {
    let h = Harness::new().await;
    let spec = BulkModule { name: "Bulk".into(), records: 1_200, fields: 3, span: std::time::Duration::from_secs(30 * 86_400), burst_share: 0.5, burst: std::time::Duration::from_secs(5), seed: 9 };
    h.sandbox.seed_bulk(&spec);
    h.sandbox.tune_bulk_reads(|k| {
        k.per_page = 500;
        k.added_for = 0;
        k.runs_for = 1;
    });
    let streams = vec!["Bulk".to_string()];
    let base = std::env::temp_dir().join(format!("zoho-bulk-backfill-{}-{}", std::process::id(), h.sandbox.addr.port()));
    let (bulk_dir, coql_dir) = (base.join("bulk"), base.join("coql"));
    let _ = std::fs::remove_dir_all(&base);
    let bulk = zoho_host::sync::run(runtime(), &h.connection, Some(&format!("{}-bulk", h.namespace)), &sync_request(&streams, &bulk_dir, Some("bulk"))).await.expect("bulk sync");
    assert_eq!(creates(&h), 3, "1,200 records at 500 a job");
    let tokens = h.requests().iter().filter(|r| r.path == "/crm/bulk/v8/read").filter(|r| r.json().is_some_and(|b| b["query"]["page_token"].is_string())).count();
    assert_eq!(tokens, 2, "the second and third jobs carry the page token");
    let coql = zoho_host::sync::run(runtime(), &h.connection, Some(&format!("{}-coql", h.namespace)), &sync_request(&streams, &coql_dir, None)).await.expect("coql sync");
    let (by_bulk, by_coql) = (records_of(&bulk_dir.join("Bulk.jsonl")), records_of(&coql_dir.join("Bulk.jsonl")));
    assert_eq!(by_bulk.len(), 1_200);
    assert_eq!(std::fs::read_to_string(bulk_dir.join("Bulk.jsonl")).expect("file").lines().count(), 1_200, "each record once");
    // Field for field, except that a lookup comes as {"id"} alone from the export's CSV (COQL
    // adds the related record's name and email).
    let id_only = |record: &Value| -> Value {
        let mut record = record.clone();
        for value in record.as_object_mut().expect("a record").values_mut() {
            if let Some(id) = value.as_object().and_then(|o| o.get("id")).cloned() {
                *value = json!({ "id": id });
            }
        }
        record
    };
    let differ: Vec<&String> = by_coql.iter().filter(|(id, coql)| by_bulk.get(*id).map(id_only) != Some(id_only(coql))).map(|(id, _)| id).collect();
    assert!(differ.is_empty(), "{} records differ, e.g. {:?} vs {:?}", differ.len(), differ.first().map(|id| &by_bulk[*id]), differ.first().map(|id| &by_coql[*id]));
    assert_eq!(by_bulk.keys().collect::<Vec<_>>(), by_coql.keys().collect::<Vec<_>>());
    assert_eq!(by_bulk.values().next().map(|r| r["Owner"].clone()), Some(json!({ "id": "5725767000000411001" })));
    assert_eq!((bulk["Bulk"]["status"].clone(), coql["Bulk"]["status"].clone()), (json!("done"), json!("done")));
    assert!(bulk["Bulk"]["cursor"].is_string());
    let _ = std::fs::remove_dir_all(&base);
}

use crate::support::users::{change, versions_now, Change, Ledger};
use proptest::prelude::*;
use std::collections::HashSet;

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, failure_persistence: None, .. ProptestConfig::default() })]

    /// A bulk first sweep with creates, modifications (twice in one second too), deletions and
    /// clock ticks while its job runs and after it, then COQL sweeps with changes between their
    /// pages: every version that existed when a sweep began is delivered by the end of the next
    /// (or superseded, or deleted), the last quiet sweep delivers every record's latest version,
    /// and every delivered record deleted since is in a later sweep's deleted feed.
    #[test]
    fn a_bulk_first_sweep_then_coql_sweeps_lose_nothing(per_page in 100u32..=400, rounds in prop::collection::vec(prop::collection::vec(prop::collection::vec(change(), 0..20), 1..8), 2..4)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        runtime.block_on(replay(per_page, rounds));
    }
}

/// Sweeps of Contacts, the first through export jobs: `rounds[k][p]` are the changes users make
/// after page p of sweep k (the bulk sweep's pages include those that wait for the job).
async fn replay(per_page: u32, rounds: Vec<Vec<Vec<Change>>>) {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(at_second(Utc::now()));
    h.sandbox.tune_bulk_reads(|k| {
        k.added_for = 1;
        k.runs_for = 1;
    });
    let mut ledger = Ledger::default();
    let mut reported_deleted: HashSet<String> = HashSet::new();
    let mut ever_delivered: HashSet<String> = HashSet::new();
    let input = |k: usize, page: u32| json!({ "record-type": "Contacts", "page": page, "per-page": per_page, "fields": "Last_Name", "strategy": "bulk", "include-deleted": k > 0 });
    for (k, pages) in rounds.iter().enumerate() {
        ledger.begin_sweep(&h);
        let mut page = 1;
        loop {
            let result = ok_of(&h.run("incremental-list-modified-records-by-page", input(k, page)).await).clone();
            assert_eq!(result.get("strategy").is_some(), k == 0, "only the first sweep is read through jobs");
            let until = result["sweep"]["until"].as_str().map_or(i64::MAX, crate::support::users::instant);
            ledger.deliver(&result);
            ever_delivered.extend(result["records"].as_array().expect("records").iter().filter_map(|r| r["id"].as_str().map(str::to_string)));
            reported_deleted.extend(result["deleted"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)));
            for change in pages.get(page as usize - 1).into_iter().flatten() {
                ledger.apply(&h, change, until);
            }
            if result["more_records"] != json!(true) {
                break;
            }
            // The job runs on the sandbox's clock: a second a page.
            h.sandbox.clock().advance(Duration::seconds(1));
            page += 1;
        }
        ok_of(&h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Contacts" })).await);
        ledger.end_sweep(&h, k, "");
    }
    // A quiet last sweep delivers the last changes and the deletions since.
    let last = versions_now(&h);
    let mut page = 1;
    loop {
        let result = ok_of(&h.run("incremental-list-modified-records-by-page", input(1, page)).await).clone();
        ledger.deliver(&result);
        reported_deleted.extend(result["deleted"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)));
        if result["more_records"] != json!(true) {
            break;
        }
        page += 1;
    }
    ledger.check_final(&last, "");
    let gone: Vec<&String> = ever_delivered.iter().filter(|id| !last.contains_key(*id)).collect();
    let unreported: Vec<&&String> = gone.iter().filter(|id| !reported_deleted.contains(**id)).collect();
    assert!(unreported.is_empty(), "delivered, deleted since, never reported deleted: {unreported:?}");
    assert_eq!(creates(&h), 1, "one job exports the 2,600 Contacts");
}
