//! Books sweep figure: a whole sweep of Books invoices through the component against the sandbox
//! answering with Zoho-like latency, and the calls it costs against Books' own limits (about
//! 100 requests a minute per organization, 1,000 to 10,000 a day by plan).

use crate::runtime::{ActionRef, HostConfig, Runtime};
use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// 4,000 invoices: 20 list pages of 200, under Books' 100 requests a minute, so the figure is
/// the sweep's own pace and not the limiter's.
const INVOICES: usize = 4_000;
/// A round trip to Zoho's data center from a customer's host, as the backfill figure assumes.
const LATENCY: Duration = Duration::from_millis(300);
const JITTER: Duration = Duration::from_millis(20);

pub(super) async fn books_sweep(config: &HostConfig, cache: &std::path::Path, sandbox: &zoho_sandbox::Sandbox) -> Result<Vec<(String, String, String)>> {
    // One invoice a second over the past INVOICES seconds, as a busy organization writes them.
    let start = chrono::Utc::now() - chrono::Duration::seconds(INVOICES as i64 + 60);
    sandbox.clock().freeze_at(start);
    for n in 0..INVOICES {
        sandbox.clock().advance(chrono::Duration::seconds(1));
        sandbox.create_books_record("invoices", "invoice_id", json!({ "customer_id": "460000000000001", "line_items": [{ "item_id": "460000020000001", "quantity": n % 7 + 1, "rate": 120.0 }] }));
    }
    sandbox.clock().advance(chrono::Duration::seconds(30));
    // The sandbox's own seeded invoices are swept too.
    let expected = sandbox.books_count("invoices");
    let before = sandbox.limits();
    sandbox.set_limits(zoho_sandbox::Limits { latency: LATENCY, jitter: JITTER, seed: 11, ..before.clone() });
    sandbox.clear_requests();

    let mut rows = Vec::new();
    // 200 a page is Books' own page (a request's answer holds ~198 new records: the walk ends the
    // step on that short page); 190 fits inside one answer beside the records of the second a
    // step starts from (listed again, as the walk asks from the position's second).
    for per_page in [200u32, 190] {
        let mut cfg = config.clone();
        cfg.data_dir = cache.join(format!("books-{per_page}"));
        std::fs::create_dir_all(&cfg.data_dir)?;
        let runtime = Runtime::new(cfg)?;
        let list = ActionRef::from_key("books-list-modified-records-by-page")?;
        let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token(), "books-organization-id": zoho_sandbox::BOOKS_ORG_ID });
        sandbox.clear_requests();
        let started = Instant::now();
        let (mut records, mut page) = (0usize, 1u32);
        loop {
            let input = json!({ "record-type": "invoices", "page": page, "per-page": per_page });
            let outcome = runtime.run_text(&list, &connection, &input, None, Some("bench-books-sweep")).await?;
            let text = outcome.result.map_err(|e| anyhow::anyhow!("Books sweep page {page}: {e}"))?;
            let parsed: Value = serde_json::from_str(&text).with_context(|| format!("Books sweep page {page}"))?;
            records += parsed["records"].as_array().map_or(0, Vec::len);
            if parsed["more_records"] != json!(true) {
                break;
            }
            page += 1;
        }
        let took = started.elapsed();
        if records != expected {
            sandbox.set_limits(before);
            bail!("the component's Books sweep read {records} invoices, not {expected}");
        }
        let calls = sandbox.requests().iter().filter(|r| r.path.starts_with("/books/v3/")).count();
        let floor = LATENCY * u32::try_from(calls).unwrap_or(u32::MAX);
        let rate = records as f64 / took.as_secs_f64();
        rows.push((
            format!("Books sweep of {expected} invoices (one a second), {per_page} a page, sandbox latency {} ms + up to {} ms", LATENCY.as_millis(), JITTER.as_millis()),
            format!("{rate:.0} records/s ({:.2} s, {page} pages, {calls} calls, {:.1} records a call)", took.as_secs_f64(), records as f64 / calls.max(1) as f64),
            format!("latency-bound: wall ≤ 1.25× the latency floor of its calls ({:.2} s): {:.2}×", floor.as_secs_f64(), took.as_secs_f64() / floor.as_secs_f64()),
        ));
    }
    sandbox.set_limits(before);
    rows.push((
        "Books ceiling at 100 requests a minute".into(),
        format!("{} records/min listed; with include-line-items 1 detail GET per record: ≤ 100 records/min", 100 * 200),
        "Books' documented per-minute limit".into(),
    ));
    Ok(rows)
}
