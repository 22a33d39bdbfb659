//! A committed cursor later than the server's clock (a sandbox restarted, a data directory
//! pointed at another account): the sweep reads nothing, and says so in its page's `warnings`
//! and on the host's stderr with how to start over; a quiet sweep (nothing changed) says nothing.

use component_tests::{ok_of, runtime, Harness};
use serde_json::json;

fn sweep_request() -> zoho_host::sweep::SweepRequest<'static> {
    zoho_host::sweep::SweepRequest { fields: Some("id"), ..zoho_host::sweep::SweepRequest::new("Vendors") }
}

fn sync_request<'a>(streams: &'a [String], dir: &'a std::path::Path) -> zoho_host::sync::SyncRequest<'a> {
    zoho_host::sync::SyncRequest {
        streams,
        anchor_date: None,
        reset: false,
        out_dir: dir,
        per_page: None,
        concurrency: 1,
        backoff_at_credit_percentage: None,
        slices: 1,
        requests_per_second: None,
        strategy: None,
    }
}

fn utc(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

fn warning(whose: &str, cursor: &str, clock: &str) -> String {
    format!(
        "the committed cursor of {whose} ({cursor}) is later than the server's clock ({clock}): the server holds nothing modified after it, so this sweep reads no records, and its commit moves the cursor back to the server's clock without reading what the server holds from before. The cursor was committed against another server, organization or clock (a sandbox restarted, a data directory pointed at another account); to read those records, start over from an earlier date"
    )
}

/// Cursors committed today, then the server's clock two years back: the
/// step's page warns (one COQL query from the cursor, nothing else sent), `zoho-host sweep`
/// says it with `--since`, and the quiet sweeps before said nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_later_than_the_servers_clock_is_warned_of_and_a_quiet_sweep_is_not() {
    let h = Harness::new().await;
    let today = chrono::Utc::now();
    h.sandbox.clock().freeze_at(today);
    let mut out = Vec::new();
    let first = zoho_host::sweep::run(runtime(), &h.connection, Some(&h.namespace), &sweep_request(), &mut out).await.expect("sweep");
    assert_eq!((first.records, first.warnings.len()), (3, 0));
    // Nothing changed since: an empty sweep, and no warning.
    let quiet = zoho_host::sweep::run(runtime(), &h.connection, Some(&h.namespace), &sweep_request(), &mut out).await.expect("quiet sweep");
    assert_eq!((quiet.records, quiet.warnings.len()), (0, 0));
    let cursor = quiet.cursor.as_str().expect("a cursor").to_string();

    // The server's clock two years back (a sandbox restarted on another clock).
    let earlier = today - chrono::Duration::days(730);
    h.sandbox.clock().freeze_at(earlier);
    let before = h.requests().len();
    let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Vendors", "page": 1, "fields": "id" })).await;
    let page = ok_of(&outcome);
    let sent: Vec<_> = h.requests().into_iter().skip(before).collect();
    assert_eq!(sent.len(), 1, "one query, no probe");
    assert_eq!(sent[0].path, "/crm/v8/coql");
    let query = sent[0].json().and_then(|b| b["select_query"].as_str().map(str::to_string)).expect("a query");
    assert!(query.starts_with(&format!("select id, Modified_Time from Vendors where Modified_Time >= '{cursor}'")), "{query}");
    assert_eq!(page["records"], json!([]));
    assert_eq!(page["warnings"], json!([warning("Vendors", &cursor, &utc(earlier))]));

    // `zoho-host sweep` says it, with how to start over, and its summary keeps it.
    let warned = zoho_host::sweep::run(runtime(), &h.connection, Some(&h.namespace), &sweep_request(), &mut out).await.expect("sweep");
    assert_eq!(warned.records, 0);
    assert_eq!(warned.warnings, [format!("Vendors: {}: run `zoho-host sweep Vendors --since <date>` to read from a date", warning("Vendors", &cursor, &utc(earlier)))]);
}

/// The same for a sync stream: the stream's summary carries the warning with `--reset`.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_streams_cursor_later_than_the_servers_clock_is_warned_of() {
    let h = Harness::new().await;
    let today = chrono::Utc::now();
    let dir = std::env::temp_dir().join(format!("zoho-stale-cursor-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let streams = vec!["vendors".to_string()];
    h.sandbox.clock().freeze_at(today);
    let first = zoho_host::sync::run(runtime(), &h.connection, Some(&h.namespace), &sync_request(&streams, &dir)).await.expect("sync");
    assert_eq!(first["vendors"].get("warnings"), None);
    let quiet = zoho_host::sync::run(runtime(), &h.connection, Some(&h.namespace), &sync_request(&streams, &dir)).await.expect("quiet sync");
    assert_eq!((quiet["vendors"]["records"].as_u64(), quiet["vendors"].get("warnings")), (Some(0), None));
    let cursor = quiet["vendors"]["cursor"].as_str().expect("a cursor").to_string();

    let earlier = today - chrono::Duration::days(730);
    h.sandbox.clock().freeze_at(earlier);
    let warned = zoho_host::sync::run(runtime(), &h.connection, Some(&h.namespace), &sync_request(&streams, &dir)).await.expect("sync");
    assert_eq!(warned["vendors"]["records"], 0);
    let text = format!("vendors: {}: run `zoho-host sync --streams vendors --reset` to read the stream again from its anchor date", warning("stream vendors", &cursor, &utc(earlier)));
    assert_eq!(warned["vendors"]["warnings"], json!([text]));
    let _ = std::fs::remove_dir_all(&dir);
}
