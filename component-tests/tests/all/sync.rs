//! Sync streams: discovery, incremental and full-refresh streams, the credit budget, the
//! concurrency cap across parallel steps, and an interrupted `sync` resumed.

use component_tests::{assert_request, error_of, ok_of, runtime, Fault, Harness};
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread")]
async fn discover_lists_standard_streams_pipelines_and_the_orgs_modules() {
    let h = Harness::new().await;
    let outcome = h.run("sync-discover", json!({})).await;
    let streams = ok_of(&outcome)["streams"].as_array().expect("streams").clone();
    let names: Vec<&str> = streams.iter().map(|s| s["stream"].as_str().expect("name")).collect();
    for expected in ["leads", "contacts", "accounts", "deals", "tasks", "meetings", "calls", "campaigns", "products", "quotes", "vendors", "notes", "companies", "users", "modules", "Shipments"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(!names.contains(&"Visits"), "modules without API support are left out");
    let meetings = streams.iter().find(|s| s["stream"] == "meetings").expect("meetings");
    assert_eq!((meetings["module"].as_str(), meetings["incremental"].as_bool()), (Some("Events"), Some(true)));
    assert_eq!(streams.iter().find(|s| s["stream"] == "users").expect("users")["incremental"], false);
    assert_eq!(streams.iter().find(|s| s["stream"] == "Shipments").expect("custom")["custom"], true);
}

/// The WIT and the manifest document include-modules, but the old adapter ignored it: false
/// still fetched /settings/modules and listed the org's modules. Now false lists the standard
/// streams only and sends nothing; true (the default) sends exactly one GET /settings/modules.
#[tokio::test(flavor = "multi_thread")]
async fn include_modules_false_lists_only_the_standard_streams() {
    let h = Harness::new().await;
    let outcome = h.run("sync-discover", json!({ "include-modules": false })).await;
    let streams = ok_of(&outcome)["streams"].as_array().expect("streams").clone();
    let names: Vec<&str> = streams.iter().map(|s| s["stream"].as_str().expect("name")).collect();
    let crm = ["leads", "contacts", "accounts", "deals", "tasks", "meetings", "calls", "campaigns", "products", "quotes", "vendors", "notes", "companies", "users", "modules"];
    assert_eq!(names[..crm.len()], crm);
    // Books' streams follow (books_streams.rs checks them); none is asked for.
    assert!(names[crm.len()..].iter().all(|n| n.starts_with("books_")), "{names:?}");
    assert_eq!(h.requests().len(), 0, "no org modules, no request");

    let outcome = h.run("sync-discover", json!({ "include-modules": true })).await;
    let streams = ok_of(&outcome)["streams"].as_array().expect("streams").clone();
    assert!(streams.iter().any(|s| s["stream"] == "Shipments"));
    // The org's modules, then the account's Books organizations (a stream per organization).
    assert_eq!(h.requests().len(), 2);
    assert_request(&h.requests()[0], &h.token, "GET", "/crm/v8/settings/modules", &[], None);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_stream_reads_from_its_anchor_date() {
    let h = Harness::new().await;
    for (stream, module) in [
        ("leads", "Leads"),
        ("accounts", "Accounts"),
        ("deals", "Deals"),
        ("tasks", "Tasks"),
        ("meetings", "Events"),
        ("calls", "Calls"),
        ("campaigns", "Campaigns"),
        ("products", "Products"),
        ("quotes", "Quotes"),
        ("vendors", "Vendors"),
        ("notes", "Notes"),
        ("companies", "Accounts"),
        ("Shipments", "Shipments"),
    ] {
        let outcome = h.run("sync-read-stream-page", json!({ "stream": stream, "anchor-date": "2000-01-01", "fields": "id" })).await;
        let result = ok_of(&outcome);
        assert_eq!(result["records"].as_array().map(Vec::len), Some(h.sandbox.record_count(module)), "{stream}");
        assert_eq!(result["sweep"]["since"], "2000-01-01T00:00:00+00:00");
        ok_of(&h.run("sync-commit-stream", json!({ "stream": stream })).await);
    }
    // An anchor after every record: nothing.
    let outcome = h.run("sync-read-stream-page", json!({ "stream": "contacts", "anchor-date": "2100-01-01", "fields": "id" })).await;
    assert_eq!(ok_of(&outcome)["records"], json!([]));
    // The default anchor is one year back: the seeded vendors (30 days old) are all in.
    let fresh = Harness::new().await;
    let outcome = fresh.run("sync-read-stream-page", json!({ "stream": "vendors", "fields": "id" })).await;
    assert_eq!(ok_of(&outcome)["records"].as_array().map(Vec::len), Some(3));
    let outcome = h.run("sync-read-stream-page", json!({ "stream": "no such stream!" })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
}

/// Every incremental stream read without `fields` delivers every record of its module: a
/// stream selects only what COQL reads, so Meetings (Events, with Participants), Calls (with
/// CTI_Entry), Quotes and Leads (with line items) and Shipments (file-upload, image-upload and
/// multi-select-lookup fields) complete instead of failing on page 1 with INVALID_QUERY.
#[tokio::test(flavor = "multi_thread")]
async fn every_stream_without_fields_reads_every_record() {
    let h = Harness::new().await;
    for (stream, module) in [
        ("leads", "Leads"),
        ("contacts", "Contacts"),
        ("accounts", "Accounts"),
        ("deals", "Deals"),
        ("tasks", "Tasks"),
        ("meetings", "Events"),
        ("calls", "Calls"),
        ("campaigns", "Campaigns"),
        ("products", "Products"),
        ("quotes", "Quotes"),
        ("vendors", "Vendors"),
        ("notes", "Notes"),
        ("Shipments", "Shipments"),
    ] {
        let mut records = BTreeSet::new();
        let mut page = 1;
        loop {
            let outcome = h.run("sync-read-stream-page", json!({ "stream": stream, "anchor-date": "2000-01-01", "per-page": 2000, "page": page })).await;
            let result = ok_of(&outcome);
            records.extend(result["records"].as_array().expect("records").iter().map(|r| r["id"].as_str().expect("id").to_string()));
            if result["more_records"] != json!(true) {
                break;
            }
            page += 1;
        }
        assert_eq!(records.len(), h.sandbox.record_count(module), "{stream}");
        ok_of(&h.run("sync-commit-stream", json!({ "stream": stream })).await);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn users_and_modules_are_full_refresh() {
    let h = Harness::new().await;
    let first = ok_of(&h.run("sync-read-stream-page", json!({ "stream": "users", "per-page": 5 })).await).clone();
    assert_eq!((first["records"].as_array().map(Vec::len), first["more_records"].as_bool()), (Some(5), Some(true)));
    let second = ok_of(&h.run("sync-read-stream-page", json!({ "stream": "users", "per-page": 5, "page": 2 })).await).clone();
    assert_eq!((second["records"].as_array().map(Vec::len), second["more_records"].as_bool()), (Some(2), Some(false)));
    assert_eq!(h.requests()[0].query, vec![("type".into(), "AllUsers".into()), ("page".into(), "1".into()), ("per_page".into(), "5".into())]);
    let modules = ok_of(&h.run("sync-read-stream-page", json!({ "stream": "modules" })).await).clone();
    assert!(modules["records"].as_array().expect("modules").iter().any(|m| m["api_name"] == "Shipments"));
    assert_eq!(ok_of(&h.run("sync-commit-stream", json!({ "stream": "users" })).await)["source"], "full-refresh");
}

fn set_spent(h: &Harness, credits: u64) {
    let hour = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64 / 3_600_000;
    runtime().kv().set(&h.namespace, "", &format!("limits/credits/{hour}"), credits.to_string().as_bytes()).expect("kv");
}

fn spent(h: &Harness) -> u64 {
    let hour = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64 / 3_600_000;
    h.stored_raw(&format!("limits/credits/{hour}")).and_then(|b| String::from_utf8(b).ok()?.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_credit_budget_pauses_at_the_configured_share() {
    let h = Harness::new().await;
    // Free edition: 5,000 credits a day.
    h.sandbox.set_limits(zoho_sandbox::Limits { edition: "free".into(), users: 3, ..Default::default() });
    let read = |share: f64| h.run("sync-read-stream-page", json!({ "stream": "deals", "fields": "id", "backoff-at-credit-percentage": share }));

    // 2,498 spent: the /org lookup (the first of the day) makes 2,499, still under half.
    set_spent(&h, 2_498);
    ok_of(&read(0.5).await);
    let used = spent(&h);
    assert!(used > 2_499, "the calls were counted: {used}");
    set_spent(&h, 2_500);
    let error = error_of(&read(0.5).await).clone();
    assert_eq!((error["kind"].as_str(), error["retry-after-ms"].as_u64()), (Some("credits-exhausted"), Some(3_600_000)));
    assert_eq!(error["details"], json!({ "spent": 2500, "allotment": 5000, "edition": "free" }));
    ok_of(&read(1.0).await);
    set_spent(&h, 5_000);
    assert_eq!(error_of(&read(1.0).await)["kind"], "credits-exhausted");
    h.sandbox.clear_requests();
    for share in [0.4, 1.1] {
        assert_eq!(error_of(&read(share).await)["kind"], "invalid-input");
    }
    assert!(h.requests().is_empty(), "a bad share or an exhausted budget spends nothing");

    // A 429 counts against the budget too.
    set_spent(&h, 0);
    h.sandbox.inject(Fault::status(1, 429, r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"slow down","status":"error"}"#).on_path("/crm/v8/coql"));
    error_of(&h.run("sync-read-stream-page", json!({ "stream": "deals", "fields": "id", "page": 1 })).await);
    // Page 1 was read before: its known range is read again with COQL's LIMIT 2,000, which
    // Zoho's table charges 3 credits, answered or refused.
    assert_eq!(spent(&h), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrency_never_exceeds_the_cap_across_parallel_steps() {
    let h = Harness::new().await;
    h.sandbox.set_limits(zoho_sandbox::Limits { latency: std::time::Duration::from_millis(40), ..Default::default() });
    let streams = ["leads", "accounts", "deals", "tasks", "meetings", "calls", "campaigns", "products", "quotes", "vendors", "notes", "Shipments"];
    let steps = streams.iter().map(|s| h.run("sync-read-stream-page", json!({ "stream": s, "fields": "id", "max-concurrency": 3, "max-requests-per-second": 1000 })));
    for outcome in futures_util::future::join_all(steps).await {
        ok_of(&outcome);
    }
    assert!(h.sandbox.max_in_flight() <= 3, "{} requests were in flight at once", h.sandbox.max_in_flight());
    assert!(h.sandbox.max_in_flight() >= 2, "the steps did run in parallel");

    // Five requests a second by default.
    h.sandbox.clear_requests();
    let steps = streams.iter().chain(streams.iter()).map(|s| h.run("sync-read-stream-page", json!({ "stream": s, "fields": "id", "page": 1 })));
    let mut admitted = 0;
    for outcome in futures_util::future::join_all(steps).await {
        match &outcome.result {
            Ok(_) => admitted += 1,
            // Past two seconds of waiting a step answers rate-limited, having sent nothing.
            Err(e) => assert_eq!(e["kind"], "rate-limited", "{e}"),
        }
    }
    // The cap counts by the component's clock; arrivals may drift across a second boundary, so
    // n requests must span at least the seconds that five a second allows (one boundary of slack).
    let arrivals: Vec<u128> = h.requests().iter().map(|r| r.received_ms).collect();
    let span_s = (arrivals.iter().max().unwrap_or(&0) - arrivals.iter().min().unwrap_or(&0)) / 1000;
    assert_eq!(arrivals.len(), admitted);
    assert!(admitted >= 10, "{admitted} steps got through");
    assert!(arrivals.len() as u128 <= 5 * (span_s + 2), "{} requests within {span_s} s", arrivals.len());
}

fn ids_in(dir: &std::path::Path, stream: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(format!("{stream}.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line")["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_sync_resumes_to_the_same_result() {
    let streams: Vec<String> = ["contacts", "deals", "users"].iter().map(|s| s.to_string()).collect();
    let base = std::env::temp_dir().join(format!("zoho-sync-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    fn request<'a>(streams: &'a [String], dir: &'a std::path::Path) -> zoho_host::sync::SyncRequest<'a> {
        zoho_host::sync::SyncRequest {
            streams,
            anchor_date: Some("2000-01-01"),
            reset: false,
            out_dir: dir,
            per_page: Some(200),
            concurrency: 3,
            backoff_at_credit_percentage: None,
            slices: 1,
            requests_per_second: None,
            strategy: None,
        }
    }

    // Uninterrupted.
    let h = Harness::new().await;
    let clean = base.join("clean");
    zoho_host::sync::run(runtime(), &h.connection, Some(&h.namespace), &request(&streams, &clean)).await.expect("sync");

    // Interrupted: the 6th COQL page fails; then the same command again.
    let h2 = Harness::new().await;
    let resumed = base.join("resumed");
    h2.sandbox.inject(Fault::status(1, 500, r#"{"code":"INTERNAL_ERROR","details":{},"message":"boom","status":"error"}"#).on_path("/crm/v8/coql").after(5));
    let first = zoho_host::sync::run(runtime(), &h2.connection, Some(&h2.namespace), &request(&streams, &resumed)).await;
    assert!(first.is_err(), "the fault interrupted the sync");
    let state: Value = serde_json::from_slice(&std::fs::read(resumed.join("state.json")).expect("state")).expect("json");
    assert!(state["streams"].as_object().expect("streams").values().any(|s| s["status"] == "reading"), "{state}");
    zoho_host::sync::run(runtime(), &h2.connection, Some(&h2.namespace), &request(&streams, &resumed)).await.expect("resumed");

    for stream in &streams {
        let (a, b) = (ids_in(&clean, stream), ids_in(&resumed, stream));
        assert_eq!(a.iter().collect::<BTreeSet<_>>(), b.iter().collect::<BTreeSet<_>>(), "{stream}");
        assert_eq!(b.len(), b.iter().collect::<BTreeSet<_>>().len(), "{stream}: no duplicates after resuming");
    }
    assert_eq!(ids_in(&resumed, "contacts").len(), 2600);
    let _ = std::fs::remove_dir_all(&base);
}
