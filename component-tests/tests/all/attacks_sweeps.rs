//! Attacks on sweeps, page walks and the key-value store, as an outsider would make them:
//! page numbers at u32's edge, hostile COQL and deleted-feed answers, stored counters at u64's
//! edge or garbage, a store that fails, and a tenant whose store must stay bounded.

use component_tests::{error_of, ok_of, runtime, Fault, Harness};
use serde_json::json;

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64
}

fn set_raw(h: &Harness, key: &str, value: &[u8]) {
    runtime().kv().set(&h.namespace, "", key, value).expect("kv set");
}

/// `per-page: 1, page: 4000000000` walked hundreds of page tokens (a credit each).
/// A page more than 20 token hops from where a walk can start is refused before anything is
/// sent, with a message naming page-token; u32::MAX too.
#[tokio::test(flavor = "multi_thread")]
async fn a_far_page_is_refused_before_any_token_walk() {
    let h = Harness::new().await;
    for page in [4_000_000_000u64, u64::from(u32::MAX), 2_021] {
        let outcome = h.run("crm-get-records", json!({ "record-type": "Contacts", "fields": "Last_Name", "per-page": 1, "page": page })).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "page {page}: {error}");
        assert!(error["message"].as_str().expect("message").contains("page-token"), "{error}");
        assert!(h.requests().is_empty(), "page {page}: nothing is sent");
    }
    // 20 hops from the last numbered page (2,000 at one per page) is walked: 21 requests.
    let outcome = h.run("crm-get-records", json!({ "record-type": "Contacts", "fields": "Last_Name", "per-page": 1, "page": 2_020 })).await;
    assert_eq!(ok_of(&outcome)["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(h.requests().len(), 21);
    // From the kept token of page 2,021, page 2,041 is again within reach: 21 more.
    h.sandbox.clear_requests();
    ok_of(&h.run("crm-get-records", json!({ "record-type": "Contacts", "fields": "Last_Name", "per-page": 1, "page": 2_041 })).await);
    assert_eq!(h.requests().len(), 21);
    assert!(h.requests()[0].query_param("page_token").is_some(), "the walk starts from the kept token");
}

/// A sweep page far ahead of the pages read is refused too (walking to it would cost a COQL
/// request per page, and the pages skipped would never be delivered).
#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_page_far_ahead_is_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    for page in [22u64, 4_000_000_000, u64::from(u32::MAX)] {
        let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Contacts", "page": page, "per-page": 10, "fields": "Last_Name" })).await;
        assert_eq!(error_of(&outcome)["kind"], "invalid-input", "page {page}");
        assert!(h.requests().is_empty());
    }
    // A page past 1 needs the open sweep page 1 makes; from there 20 pages ahead are walked.
    ok_of(&h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Contacts", "page": 1, "per-page": 10, "fields": "Last_Name" })).await);
    let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Contacts", "page": 23, "per-page": 10, "fields": "Last_Name" })).await;
    assert!(error_of(&outcome)["message"].as_str().is_some_and(|m| m.starts_with("page 23 is 22 pages past the last page this sweep has read (1)")), "{outcome:?}");
    assert_eq!(h.requests().len(), 2, "page 1 only, after the field metadata (Last_Name's type is checked once)");
    let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Contacts", "page": 22, "per-page": 10, "fields": "Last_Name" })).await;
    assert_eq!(ok_of(&outcome)["records"].as_array().map(Vec::len), Some(10));
    assert_eq!(h.requests().len(), 23, "the field metadata, then pages 1 to 22, one COQL request each");
}

/// A deleted feed that claims more records forever costs 10 requests per step, never more, and
/// the sweep says more_records until the feed ends.
#[tokio::test(flavor = "multi_thread")]
async fn an_endless_deleted_feed_is_walked_ten_pages_per_step() {
    let h = Harness::new().await;
    let entry = r#"{"data":[{"id":"5725767000000999999","deleted_time":"2099-01-01T00:00:00+00:00","type":"recycle"}],"info":{"more_records":true,"per_page":200,"page":1,"count":1}}"#;
    h.sandbox.inject(Fault::status(25, 200, entry).on_path("/crm/v8/Vendors/deleted"));
    let page = |n: u32| json!({ "record-type": "Vendors", "page": n, "fields": "Vendor_Name", "include-deleted": true });
    let mut deleted = 0;
    for n in 1..=3u32 {
        h.sandbox.clear_requests();
        let result = ok_of(&h.run("incremental-list-modified-records-by-page", page(n)).await).clone();
        deleted += result["deleted"].as_array().map_or(0, Vec::len);
        let feed_requests = h.requests().iter().filter(|r| r.path.ends_with("/deleted")).count();
        assert_eq!(feed_requests, if n < 3 { 10 } else { 6 }, "step {n}");
        assert_eq!(result["more_records"], n < 3, "step {n}");
    }
    assert_eq!(deleted, 25, "every entry the feed gave is reported");
}

/// For sweeps: a 5-million-element COQL answer is refused by its item count, read in
/// one pass; no tree is built, nothing traps.
#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_coql_answer_is_an_error_not_a_trap() {
    let h = Harness::new().await;
    let mut body = String::from("{\"data\":[");
    body.push_str(&"0,".repeat(5_000_000));
    body.push_str("0],\"info\":{\"more_records\":false}}");
    h.sandbox.inject(Fault::status(1, 200, &body).on_path("/crm/v8/coql"));
    let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Deals", "fields": "Deal_Name" })).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "zoho", "{error}");
    assert_eq!(h.requests().iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/crm/v8/settings/fields", "/crm/v8/coql"]);
    assert!(outcome.peak_memory_bytes < 64 << 20, "peak {} bytes", outcome.peak_memory_bytes);
}

/// A COQL answer that breaks the walk's order (a record past the sweep's bound, one before the
/// page's start, rows out of order, a row the walk cannot place) is an error, never an end: on
/// the old code a row past the bound made the next page's query empty, and the sweep ended and
/// committed after one page. The sweep stays open, its commit is refused, and the page read
/// again from Zoho continues the walk.
#[tokio::test(flavor = "multi_thread")]
async fn a_coql_answer_that_breaks_the_walks_order_is_an_error_never_an_end() {
    let h = Harness::new().await;
    let page = |n: u32| json!({ "record-type": "Contacts", "page": n, "per-page": 10, "fields": "Last_Name" });
    let first = ok_of(&h.run("incremental-list-modified-records-by-page", page(1)).await).clone();
    assert_eq!(first["records"].as_array().map(Vec::len), Some(10));
    let last = &first["records"][9];
    let (last_id, last_time) = (last["id"].as_str().expect("id").to_string(), last["Modified_Time"].as_str().expect("time").to_string());
    let next_id = (last_id.parse::<u64>().expect("numeric id") + 1).to_string();
    let row = |id: &str, time: &str| json!({ "id": id, "Modified_Time": time, "Last_Name": "Hostile" });
    let hostile = [
        (vec![row(&next_id, "2099-01-01T00:00:00+00:00")], "past the sweep's bound"),
        (vec![row(&last_id, &last_time)], "before the page's start"),
        (vec![row("5725767000099999999", "2099-01-01T00:00:00+00:00"), row(&next_id, &last_time)], "past the sweep's bound"),
        (vec![json!({ "id": next_id, "Last_Name": "No time" })], "has no readable id or Modified_Time"),
        // An id Rust reads as a number but no query can hold: accepted, it left the page without
        // a key to continue from.
        (vec![row(&format!("+{next_id}"), &last_time)], "has an id that is not a number"),
    ];
    for (rows, said) in hostile {
        let body = json!({ "data": rows, "info": { "more_records": true, "count": rows.len(), "per_page": 10, "page": 2 } }).to_string();
        h.sandbox.inject(Fault::status(1, 200, &body).on_path("/crm/v8/coql"));
        h.sandbox.clear_requests();
        let error = error_of(&h.run("incremental-list-modified-records-by-page", page(2)).await).clone();
        assert_eq!(error["kind"], "zoho", "{error}");
        let message = error["message"].as_str().expect("message");
        assert!(message.starts_with("Zoho's COQL answer for Contacts broke the sweep's order: record "), "{message}");
        assert!(message.contains(said), "{said}: {message}");
        assert_eq!(h.requests().len(), 1, "one COQL request, no walk past it");
        let commit = h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Contacts" })).await;
        assert!(error_of(&commit)["message"].as_str().is_some_and(|m| m.starts_with("there is no finished sweep to commit")), "{commit:?}");
    }
    let second = ok_of(&h.run("incremental-list-modified-records-by-page", page(2)).await).clone();
    let records = second["records"].as_array().expect("records");
    assert_eq!(records.len(), 10, "Zoho's own page 2 continues the walk");
    assert!(records.iter().all(|r| r["id"] != first["records"][0]["id"]));
    // Two rows inside page 3's window (the second of page 2's last record, higher ids), in
    // descending order.
    let end = &records[9];
    let (end_id, end_time) = (end["id"].as_str().expect("id").parse::<u64>().expect("numeric id"), end["Modified_Time"].as_str().expect("time"));
    let swapped = vec![row(&(end_id + 2).to_string(), end_time), row(&(end_id + 1).to_string(), end_time)];
    let body = json!({ "data": swapped, "info": { "more_records": true, "count": 2, "per_page": 10, "page": 3 } }).to_string();
    h.sandbox.inject(Fault::status(1, 200, &body).on_path("/crm/v8/coql"));
    let error = error_of(&h.run("incremental-list-modified-records-by-page", page(3)).await).clone();
    assert!(error["message"].as_str().is_some_and(|m| m.contains(&format!("record {} (modified at ", end_id + 1)) && m.contains("is out of order")), "{error}");
}

/// Stored counters at u64's edge or garbage neither trap nor wrap. Two hours of
/// credits summing past u64::MAX wrapped to a small number on the old code, letting a read
/// through a budget that is used up; now they saturate and the read pauses.
#[tokio::test(flavor = "multi_thread")]
async fn stored_counters_at_the_edge_neither_trap_nor_wrap() {
    let h = Harness::new().await;
    let hour = now_ms() / 3_600_000;
    set_raw(&h, &format!("limits/credits/{}", hour - 1), b"18446744073709551615");
    set_raw(&h, &format!("limits/credits/{}", hour - 2), b"1");
    set_raw(&h, &format!("limits/credits/{}", hour - 3), b"not a number");
    let minute = now_ms() / 60_000;
    set_raw(&h, &format!("limits/inflight/{minute}/released"), b"18446744073709551615");
    let outcome = h.run("sync-read-stream-page", json!({ "stream": "deals", "fields": "id", "backoff-at-credit-percentage": 1.0 })).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "credits-exhausted", "{error}");
    assert_eq!(error["details"]["spent"], json!(u64::MAX));

    // Sweep state with numbers at the edge or garbage: a fresh sweep, no trap.
    for state in [
        json!({ "signature": "200|id,Modified_Time,Deal_Name", "sweep": "x", "fetched": u64::MAX, "served": u64::MAX, "last_page": u64::MAX, "opened_at_ms": u64::MAX }).to_string(),
        json!({ "sweep": "y", "fetched": -1, "last_page": "many" }).to_string(),
        "not json at all".to_string(),
    ] {
        set_raw(&h, "incremental/Deals/sweep", state.as_bytes());
        set_raw(&h, "incremental/Deals/cursor", br#"{"cursor":"2000-01-01T00:00:00+00:00","until":18446744073709551615}"#);
        let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Deals", "fields": "Deal_Name", "page": 1 })).await;
        assert!(outcome.result.is_ok(), "{state}: {:?}", outcome.result);
    }
}

/// When the store cannot count a credit (here the host refuses to increment a
/// counter past u64::MAX), the step's result stands and its log says the credits are uncounted.
#[tokio::test(flavor = "multi_thread")]
async fn a_credit_the_store_cannot_count_is_logged() {
    let h = Harness::new().await;
    let hour = now_ms() / 3_600_000;
    for h_ in [hour, hour + 1] {
        set_raw(&h, &format!("limits/credits/{h_}"), b"18446744073709551615");
    }
    let outcome = h.run("crm-get-record", json!({ "record-type": "Deals", "record-id": h.sandbox.record_versions("Deals")[0].0 })).await;
    ok_of(&outcome);
    assert!(outcome.stderr.contains("credit count not recorded"), "stderr: {:?}", outcome.stderr);
    assert!(outcome.stderr.contains("1 credits of this step are uncounted"), "stderr: {:?}", outcome.stderr);
}

/// The hourly retention sweep (run by the first request of an hour) deletes stale
/// keys of every family and keeps live ones.
#[tokio::test(flavor = "multi_thread")]
async fn stale_keys_of_every_family_are_deleted() {
    let h = Harness::new().await;
    let now = now_ms();
    let (hour, minute, second) = (now / 3_600_000, now / 60_000, now / 1000);
    let fresh = |at: u64| json!({ "stored_at_ms": at, "value": [] }).to_string();
    let stale: Vec<(String, String)> = vec![
        (format!("limits/credits/{}", hour - 30), "5".into()),
        (format!("limits/inflight/{}/acquired", minute - 10), "3".into()),
        (format!("limits/inflight/{}/released", minute - 10), "3".into()),
        (format!("limits/rate/{}", second - 100), "1".into()),
        (format!("limits/rate/{}", second - 3_000), "1".into()),
        ("limits/org-license".into(), fresh(now - 25 * 3_600_000)),
        ("crm/fields/Deals".into(), fresh(now - 2 * 3_600_000)),
        ("crm/page-tokens/Deals/0123456789abcdef".into(), fresh(now - 2 * 3_600_000)),
        ("auth/token/0123".into(), json!({ "expires_at_ms": now - 2 * 3_600_000, "access_token": "1000.old", "api_domain": "x" }).to_string()),
        (format!("auth/lease/0123/{}", now / 15_000 - 100), "1".into()),
        ("incremental/Leads/sweep".into(), json!({ "sweep": "1", "opened_at_ms": now - 8 * 86_400_000 }).to_string()),
        ("incremental/Leads/1/start/2".into(), json!({ "t": "2024-01-01T00:00:00+00:00", "id": "1" }).to_string()),
        ("incremental/sync/deals/2/boundary/1".into(), "{}".into()),
    ];
    let live: Vec<(String, String)> = vec![
        (format!("limits/credits/{}", hour - 23), "5".into()),
        ("crm/fields/Accounts".into(), fresh(now - 60_000)),
        ("incremental/Leads/cursor".into(), json!({ "cursor": "2024-01-01T00:00:00+00:00" }).to_string()),
        ("incremental/Leads/cursor-boundary".into(), "{}".into()),
        ("books/organization-id".into(), "10234695".into()),
    ];
    for (key, value) in stale.iter().chain(live.iter()) {
        set_raw(&h, key, value.as_bytes());
    }
    // The first credit of this hour in this namespace runs the sweep.
    ok_of(&h.run("crm-get-record", json!({ "record-type": "Deals", "record-id": h.sandbox.record_versions("Deals")[0].0, "fields": "Deal_Name" })).await);
    let keys = h.stored_keys();
    for (key, _) in &stale {
        assert!(!keys.contains(key), "{key} is stale and still stored: {keys:?}");
    }
    for (key, _) in &live {
        assert!(keys.contains(key), "{key} is live and was deleted");
    }
}

/// A new `limits/rate/<second>` key every second piled up forever; now the first
/// request of each second deletes the ones no one reads, so throttled requests over several
/// seconds leave at most a couple of rate keys and in-flight windows.
#[tokio::test(flavor = "multi_thread")]
async fn throttle_counters_do_not_pile_up_across_seconds() {
    let h = Harness::new().await;
    // A credit already counted this hour: the hourly sweep does not run, only the throttle's own cleanup.
    let hour = now_ms() / 3_600_000;
    set_raw(&h, &format!("limits/credits/{hour}"), b"1");
    let started = now_ms() / 1000;
    let mut steps = 0;
    while now_ms() / 1000 < started + 4 {
        ok_of(&h.run("sync-read-stream-page", json!({ "stream": "vendors", "fields": "id", "page": 1, "max-requests-per-second": 25 })).await);
        steps += 1;
    }
    assert!(steps >= 4, "{steps} steps");
    let keys = h.stored_keys();
    let rate: Vec<&String> = keys.iter().filter(|k| k.starts_with("limits/rate/")).collect();
    let inflight: Vec<&String> = keys.iter().filter(|k| k.starts_with("limits/inflight/")).collect();
    assert!(rate.len() <= 2, "rate keys of at most this second and the one before: {rate:?}");
    assert!(inflight.len() <= 6, "{inflight:?}");
    let all: Vec<&String> = keys.iter().filter(|k| !k.starts_with("incremental/")).collect();
    assert!(all.len() <= 12, "{all:?}");
}
