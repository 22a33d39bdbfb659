//! Incremental sweeps: Cyclr's page loop, retries, restarts, the commit rule, and a property
//! test that no record's version is ever lost while records change under a running sweep.

use component_tests::{error_of, new_runtime, ok_of, Harness};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::HashSet;

use crate::support::users;
use users::{change, versions_now, Change, Ledger};

/// Reads one sweep of `module` to its end and commits it; returns the records in order.
async fn sweep(h: &Harness, module: &str, per_page: u32, fields: &str) -> Vec<Value> {
    let mut records = Vec::new();
    let mut page = 1;
    loop {
        let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": module, "page": page, "per-page": per_page, "fields": fields })).await;
        let result = ok_of(&outcome).clone();
        assert_eq!(result["page"], page);
        records.extend(result["records"].as_array().expect("records").iter().cloned());
        if result["more_records"] != json!(true) {
            assert_eq!(result["next_page"], Value::Null);
            break;
        }
        assert_eq!(result["next_page"], page + 1);
        page += 1;
    }
    ok_of(&h.run("incremental-update-last-successful-run-date", json!({ "record-type": module })).await);
    records
}

#[tokio::test(flavor = "multi_thread")]
async fn cyclr_flow_reads_everything_then_only_changes() {
    let h = Harness::new().await;
    let first = sweep(&h, "Contacts", 200, "Last_Name").await;
    assert_eq!(first.len(), 2600, "more than 2,000 records in one sweep");
    let ids: HashSet<&str> = first.iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), 2600, "no duplicates in a quiet sweep");
    // Keyset pages: every query after the first starts after the previous page's last key.
    let queries: Vec<String> = h.requests().iter().filter_map(|r| r.json()?["select_query"].as_str().map(str::to_string)).collect();
    assert_eq!(queries.len(), 13);
    assert!(queries[0].starts_with("select id, Modified_Time, Last_Name from Contacts where id is not null order by Modified_Time asc, id asc limit 0, 200"), "{}", queries[0]);
    let last = &first[199];
    assert!(
        queries[1].contains(&format!("(Modified_Time > '{t}' or (Modified_Time = '{t}' and id > {id}))", t = last["Modified_Time"].as_str().expect("t"), id = last["id"].as_str().expect("id"))),
        "{}",
        queries[1]
    );
    assert!(queries[1].contains("Modified_Time <= '"), "later pages are bounded by the sweep's start: {}", queries[1]);

    // Nothing changed: the next sweep is empty (its boundary duplicates were dropped by id).
    let second = sweep(&h, "Contacts", 200, "Last_Name").await;
    assert!(second.is_empty(), "{second:?}");

    // Change three records, create one, delete one: only the changes come back.
    h.sandbox.clock().advance(chrono::Duration::seconds(5));
    let changed = ["5725767000000524200", "5725767000000524300", "5725767000000525000"];
    for id in changed {
        assert!(h.sandbox.modify_record("Contacts", id, json!({ "Mailing_City": "Oslo" })));
    }
    let created = h.sandbox.create_record("Contacts", json!({ "Last_Name": "Newcomer" }));
    assert!(h.sandbox.delete_record("Contacts", "5725767000000524400"));
    let third = sweep(&h, "Contacts", 200, "Last_Name").await;
    let got: HashSet<String> = third.iter().map(|r| r["id"].as_str().expect("id").to_string()).collect();
    let expected: HashSet<String> = changed.iter().map(|s| s.to_string()).chain([created]).collect();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_can_be_asked_again_and_survive_a_host_restart() {
    let h = Harness::new().await;
    let page = |n: u32| json!({ "record-type": "Contacts", "page": n, "per-page": 100, "fields": "Last_Name" });
    let first = ok_of(&h.run("incremental-list-modified-records-by-page", page(1)).await).clone();
    let second = ok_of(&h.run("incremental-list-modified-records-by-page", page(2)).await).clone();
    // A retried step gets the same records.
    let again = ok_of(&h.run("incremental-list-modified-records-by-page", page(2)).await).clone();
    assert_eq!(again["records"], second["records"]);
    // A restarted host (new runtime, same store) continues the same sweep.
    let restarted = new_runtime();
    let action = zoho_host::ActionRef::from_key("incremental-list-modified-records-by-page").expect("key");
    let outcome = restarted.run(&action, &h.connection, &page(3), None, Some(&h.namespace)).await.expect("runs");
    component_tests::assert_output_of(&action, &outcome);
    let third = ok_of(&outcome).clone();
    assert_eq!(third["sweep"]["id"], first["sweep"]["id"]);
    let last_of_second = second["records"][99]["id"].as_str().expect("id").to_string();
    let first_of_third = third["records"][0]["id"].as_str().expect("id").to_string();
    assert!(first_of_third.parse::<u64>().expect("id") > last_of_second.parse::<u64>().expect("id"));
    // Asking for page 6 without reading 4 and 5 walks to it.
    let sixth = ok_of(&h.run("incremental-list-modified-records-by-page", page(6)).await).clone();
    assert_eq!(sixth["records"][0]["Last_Name"], "Number0501");
    // The next page after the last one is empty, and committing before the end is refused.
    let outcome = h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Contacts" })).await;
    assert_eq!(error_of(&outcome)["kind"], "conflict");
}

#[tokio::test(flavor = "multi_thread")]
async fn hundreds_on_one_second_are_walked_by_id() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    // 450 records on one Modified_Time second.
    let ids: Vec<String> = (0..450).map(|i| h.sandbox.create_record("Deals", json!({ "Deal_Name": format!("Bulk {i}") }))).collect();
    let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Deals", "per-page": 100, "since": "2000-01-01", "fields": "Deal_Name" })).await;
    let mut seen: Vec<String> = ok_of(&outcome)["records"].as_array().expect("records").iter().map(|r| r["id"].as_str().expect("id").to_string()).collect();
    loop {
        let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Deals", "per-page": 100, "since": "2000-01-01", "fields": "Deal_Name" })).await;
        let result = ok_of(&outcome);
        seen.extend(result["records"].as_array().expect("records").iter().map(|r| r["id"].as_str().expect("id").to_string()));
        if result["more_records"] != json!(true) {
            break;
        }
    }
    for id in &ids {
        assert!(seen.contains(id), "{id} missing");
    }
    assert_eq!(seen.len(), 455, "5 seeded deals + 450 bulk, once each");
}

#[tokio::test(flavor = "multi_thread")]
async fn explicit_timestamps_and_deleted_ids() {
    let h = Harness::new().await;
    let outcome = h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Deals", "timestamp": "2000-01-01T00:00:00-05:00" })).await;
    assert_eq!(ok_of(&outcome)["cursor"], "2000-01-01T05:00:00+00:00");
    assert!(h.sandbox.delete_record("Deals", &h.sandbox.record_versions("Deals")[0].0));
    let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Deals", "include-deleted": true })).await;
    let result = ok_of(&outcome);
    assert_eq!(result["records"].as_array().map(Vec::len), Some(4));
    assert_eq!(result["deleted"].as_array().map(Vec::len), Some(1));
    assert_eq!(result["cursor"], "2000-01-01T05:00:00+00:00");
    let outcome = h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Deals", "timestamp": "last tuesday" })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    let outcome = h.run("incremental-list-contacts-by-page", json!({ "since": "2024-13-40" })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
}

/// The deleted feed has no documented order and filters by `If-Modified-Since` (v7/v8 "Get List
/// of Deleted Records"): the sweep sends its start in the header and walks the whole feed, so a
/// deletion listed after an older one is still reported. Deletions older than the start are not
/// this sweep's. A start older than Zoho keeps deletions (the recycle bin's 60 days) is said in
/// the page, never silently.
#[tokio::test(flavor = "multi_thread")]
async fn the_deleted_feed_is_filtered_by_the_header_and_walked_whole() {
    let h = Harness::new().await;
    let now = h.sandbox.clock().now();
    h.sandbox.clock().freeze_at(now - chrono::Duration::days(2));
    let mut made: Vec<String> = (0..10).map(|i| h.sandbox.create_record("Deals", json!({ "Deal_Name": format!("Gone {i}") }))).collect();
    // In the feed's order, every other one was deleted two days ago: older and newer deletions
    // alternate, as nothing in Zoho's page rules out.
    made.sort_by_key(|id| zoho_sandbox::deleted_feed_position(id));
    let (old, new): (Vec<String>, Vec<String>) = (made.iter().step_by(2).cloned().collect(), made.iter().skip(1).step_by(2).cloned().collect());
    for id in &old {
        assert!(h.sandbox.delete_record("Deals", id));
    }
    h.sandbox.clock().freeze_at(now);
    let cursor = chrono::DateTime::from_timestamp(now.timestamp() - 3600, 0).expect("time").format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    ok_of(&h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Deals", "timestamp": cursor })).await);
    for id in &new {
        assert!(h.sandbox.delete_record("Deals", id));
    }
    // The feed's order puts an older deletion before a newer one: a walk that stops at the
    // first older entry would miss deletions.
    let first_old = old.iter().map(|id| zoho_sandbox::deleted_feed_position(id)).min().expect("old");
    assert!(new.iter().any(|id| zoho_sandbox::deleted_feed_position(id) > first_old), "the sandbox's feed order interleaves them");

    h.sandbox.clear_requests();
    let input = json!({ "record-type": "Deals", "page": 1, "per-page": 200, "fields": "Deal_Name", "include-deleted": true });
    let result = ok_of(&h.run("incremental-list-modified-records-by-page", input).await).clone();
    let requests = h.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    // The named field's type is looked up (cached an hour), one COQL page, one feed page.
    assert_eq!(paths, ["/crm/v8/settings/fields", "/crm/v8/coql", "/crm/v8/Deals/deleted"]);
    let feed = &requests[2];
    assert_eq!((feed.method.as_str(), feed.path.as_str()), ("GET", "/crm/v8/Deals/deleted"));
    let query: Vec<(&str, &str)> = feed.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(query, [("type", "all"), ("page", "1"), ("per_page", "200")]);
    assert_eq!(feed.header("if-modified-since"), Some(cursor.as_str()));
    assert_eq!(feed.header("authorization"), Some(format!("Zoho-oauthtoken {}", h.token).as_str()));
    assert!(feed.body.is_empty());
    let mut reported: Vec<String> = result["deleted"].as_array().expect("deleted").iter().map(|id| id.as_str().expect("id").to_string()).collect();
    reported.sort();
    let mut expected = new.clone();
    expected.sort();
    assert_eq!(reported, expected, "every deletion since the cursor, none before it");
    assert_eq!((result["more_records"].clone(), result["records"].clone()), (json!(false), json!([])));
    assert_eq!((result["deletions_may_be_missing"].clone(), result.get("deletions_missing_why")), (json!(false), None));
    ok_of(&h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Deals" })).await);

    // A cursor 61 days old reaches back past what the recycle bin keeps: the page says so.
    let stale = chrono::DateTime::from_timestamp(now.timestamp() - 61 * 86_400, 0).expect("time").format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    ok_of(&h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Deals", "timestamp": stale })).await);
    h.sandbox.clear_requests();
    let input = json!({ "record-type": "Deals", "page": 1, "per-page": 200, "fields": "Deal_Name", "include-deleted": true });
    let result = ok_of(&h.run("incremental-list-modified-records-by-page", input).await).clone();
    let feed = h.requests().into_iter().find(|r| r.path == "/crm/v8/Deals/deleted").expect("the feed is read");
    assert_eq!(feed.header("if-modified-since"), Some(stale.as_str()));
    assert_eq!(result["deleted"].as_array().map(Vec::len), Some(10));
    assert_eq!(result["deletions_may_be_missing"], json!(true));
    let why = result["deletions_missing_why"].as_str().expect("why");
    assert!(why.starts_with(&format!("the sweep starts at {stale}, more than 60 days before Zoho's now")), "{why}");
    assert!(why.contains("recycle bin 60 days") && why.contains("120 days"), "{why}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, .. ProptestConfig::default() })]

    /// Sweeps with changes between their pages, several modifications per second and the same
    /// record modified twice in one second: every version that existed when a sweep began is
    /// delivered (or superseded by a delivered later version, or deleted) by the end of the next.
    /// On the old code a second modification within the second of a delivered first
    /// one was dropped as a boundary duplicate (same id, same Modified_Time) and never delivered.
    #[test]
    fn no_version_is_lost(per_page in 60u32..=200, rounds in prop::collection::vec(prop::collection::vec(prop::collection::vec(change(), 0..25), 1..20), 3..5)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        runtime.block_on(replay(per_page, rounds));
    }
}

/// Runs sweeps over `rounds` (per sweep, per page: the changes users make after that page)
/// and asserts no version is lost: the property `no_version_is_lost` states, on given changes.
async fn replay(per_page: u32, rounds: Vec<Vec<Vec<Change>>>) {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    let mut ledger = Ledger::default();
    for (k, pages) in rounds.iter().enumerate() {
        ledger.begin_sweep(&h);
        let mut page = 1;
        loop {
            let outcome = h.run("incremental-list-contacts-by-page", json!({ "page": page, "per-page": per_page, "fields": "Last_Name" })).await;
            let result = ok_of(&outcome).clone();
            let until = result["sweep"]["until"].as_str().map_or(i64::MAX, users::instant);
            ledger.deliver(&result);
            // Users change records while the sweep runs.
            for change in pages.get(page - 1).into_iter().flatten() {
                ledger.apply(&h, change, until);
            }
            if result["more_records"] != json!(true) {
                break;
            }
            page += 1;
        }
        ok_of(&h.run("incremental-update-last-successful-run-date", json!({})).await);
        ledger.end_sweep(&h, k, "");
    }
    // The last changes are delivered by one more sweep.
    let last = versions_now(&h);
    for record in sweep(&h, "Contacts", per_page, "Last_Name").await {
        ledger.deliver(&json!({ "records": [record] }));
    }
    ledger.check_final(&last, "");
}

/// The exact scenario: a record modified twice within one second, whose first version
/// sweep 1 delivered, is delivered again by sweep 2; unchanged boundary records are still
/// dropped as duplicates, and a third sweep is empty.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_modified_twice_in_one_second_is_delivered_again() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    let ids: Vec<String> = (0..3).map(|i| h.sandbox.create_record("Deals", json!({ "Deal_Name": format!("first {i}") }))).collect();
    let first = sweep(&h, "Deals", 200, "Deal_Name").await;
    assert!(first.iter().any(|r| r["id"] == ids[1].as_str() && r["Deal_Name"] == "first 1"), "{first:?}");
    // The same second: Modified_Time does not change, the content does.
    assert!(h.sandbox.modify_record("Deals", &ids[1], json!({ "Deal_Name": "second 1" })));
    h.sandbox.clear_requests();
    let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Deals", "page": 1, "fields": "Deal_Name" })).await;
    let second = ok_of(&outcome).clone();
    let records = second["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{second}");
    assert_eq!((records[0]["id"].as_str(), records[0]["Deal_Name"].as_str()), (Some(ids[1].as_str()), Some("second 1")));
    assert_eq!(second["sweep"]["duplicates_dropped"], 2, "the two unchanged records of the window are dropped");
    assert_eq!(h.requests().len(), 1, "one COQL page");
    let query = h.requests()[0].json().expect("body")["select_query"].as_str().expect("query").to_string();
    assert!(query.starts_with("select id, Modified_Time, Deal_Name from Deals where Modified_Time >= '"), "{query}");
    ok_of(&h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Deals" })).await);
    assert_eq!(sweep(&h, "Deals", 200, "Deal_Name").await, Vec::<Value>::new(), "nothing changed since");
}

/// 2,100 deletions are all reported, once each, across steps: the deleted feed is
/// walked 10 pages (2,000 ids) per step and more_records stays true until it ends; a commit
/// before that is refused. On the old code 2,000 ids came back and 100 never, with no flag.
#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_one_hundred_deletions_are_all_reported_once() {
    let h = Harness::new().await;
    let gone: Vec<String> = h.sandbox.record_versions("Contacts").into_iter().take(2_100).map(|(id, _)| id).collect();
    for id in &gone {
        assert!(h.sandbox.delete_record("Contacts", id));
    }
    h.sandbox.clear_requests();
    let page = |n: u32| json!({ "record-type": "Contacts", "page": n, "per-page": 200, "fields": "Last_Name", "include-deleted": true });
    let mut records = 0;
    let mut reported: Vec<String> = Vec::new();
    for n in 1..=3 {
        let result = ok_of(&h.run("incremental-list-modified-records-by-page", page(n)).await).clone();
        records += result["records"].as_array().map_or(0, Vec::len);
        reported.extend(result["deleted"].as_array().into_iter().flatten().map(|id| id.as_str().expect("id").to_string()));
        assert_eq!(result["more_records"], true, "page {n}: the deleted feed is not walked yet");
    }
    assert_eq!((records, reported.len()), (500, 2_000));
    assert_eq!(h.requests().len(), 1 + 3 + 10, "the field metadata (Last_Name's type is checked), three COQL pages, ten feed pages");
    let outcome = h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Contacts" })).await;
    assert_eq!(error_of(&outcome)["kind"], "conflict", "the sweep is not finished while the feed is unread");
    h.sandbox.clear_requests();
    let fourth = ok_of(&h.run("incremental-list-modified-records-by-page", page(4)).await).clone();
    assert_eq!((fourth["records"].clone(), fourth["more_records"].clone(), fourth["next_page"].clone()), (json!([]), json!(false), Value::Null));
    reported.extend(fourth["deleted"].as_array().expect("deleted").iter().map(|id| id.as_str().expect("id").to_string()));
    component_tests::assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Contacts/deleted", &[("type", "all"), ("page", "11"), ("per_page", "200")], None);
    assert_eq!(reported.len(), 2_100, "each id exactly once");
    assert_eq!(reported.iter().collect::<HashSet<_>>(), gone.iter().collect::<HashSet<_>>());
    // Past the end: nothing more, nothing sent.
    h.sandbox.clear_requests();
    let fifth = ok_of(&h.run("incremental-list-modified-records-by-page", page(5)).await).clone();
    assert_eq!((fifth["deleted"].clone(), fifth["more_records"].clone()), (json!([]), json!(false)));
    assert!(h.requests().is_empty());
    ok_of(&h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Contacts" })).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn more_than_100000_changed_records_in_one_sweep() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    for i in 0..100_500 {
        if i % 1000 == 0 {
            h.sandbox.clock().advance(chrono::Duration::seconds(1));
        }
        h.sandbox.create_record("Deals", json!({ "Deal_Name": format!("D{i}") }));
    }
    let records = sweep(&h, "Deals", 200, "Deal_Name").await;
    let ids: HashSet<&str> = records.iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), 100_505, "past COQL's 100,000-row offset ceiling, nothing lost");
}

/// The proptest's shrunk failure (per_page 60), replayed. The Contact it reported "lost by
/// sweep 0" was changed during sweep 0 to a time past sweep 0's bound (v45), then changed again
/// during sweep 1, before sweep 1 reached it, past sweep 1's bound (v99): no version of it could
/// be in either sweep, and sweep 2 delivers v99. The old bookkeeping failed here every time; the
/// property now carries such a record's obligation to the version it had when sweep 1 began.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_pushed_past_two_bounds_replayed_from_the_proptest() {
    use Change::*;
    let rounds = vec![
        vec![
            vec![
                Modify(2655),
                Modify(4009),
                Modify(839),
                Modify(4973),
                Modify(7921),
                Tick,
                Delete(6852),
                Modify(3398),
                Modify(5448),
                Modify(2533),
                Delete(7108),
                Modify(2049),
                Modify(216),
                Modify(4800),
                Modify(1104),
            ],
            vec![ModifyTwice(2572), ModifyTwice(5514), Modify(89), Modify(6858), Modify(5331), Modify(4942), Create, Modify(6418), Create, Modify(9281), Tick, ModifyTwice(6539), Modify(9942)],
            vec![Create, Create, Modify(3438), ModifyTwice(8130), Delete(9092)],
            vec![Modify(3762), Create, Create, Modify(7923)],
            vec![
                Modify(9037),
                Modify(9853),
                Modify(1336),
                Modify(9775),
                ModifyTwice(688),
                Modify(854),
                ModifyTwice(410),
                Modify(9461),
                Delete(3751),
                Delete(4692),
                Modify(8399),
                Modify(5291),
                Create,
                Modify(8565),
                Modify(3980),
                Tick,
            ],
            vec![Create, Modify(1748), Modify(7937), Delete(3879), Create, Create, Modify(8976), ModifyTwice(6137), Modify(732), Modify(6906), Create],
            vec![Delete(258), Modify(3207), Modify(9348), Delete(3027)],
            vec![ModifyTwice(5622), Modify(1527), ModifyTwice(8503), ModifyTwice(9206), Create, Create, ModifyTwice(3721), Create, Create, Modify(1608)],
            vec![ModifyTwice(3880), Modify(9662), ModifyTwice(6298), Modify(1310), Modify(4351), ModifyTwice(2239), Modify(3300)],
            vec![Modify(7005), ModifyTwice(3026), ModifyTwice(4558), Modify(528), ModifyTwice(7725), Modify(1871), ModifyTwice(1578)],
        ],
        vec![
            vec![
                Modify(1689),
                ModifyTwice(4391),
                Modify(6130),
                Modify(369),
                Modify(8393),
                Tick,
                Delete(2466),
                Modify(8008),
                Modify(8107),
                Modify(279),
                ModifyTwice(7517),
                Modify(4466),
                Create,
                Modify(2315),
                Modify(6959),
                Modify(844),
                Modify(4779),
                Modify(279),
                Create,
                ModifyTwice(7650),
                Modify(2029),
            ],
            vec![Delete(92), Create, Delete(8696), Modify(6666)],
            vec![
                Modify(1844),
                Modify(4870),
                Modify(8250),
                Modify(9810),
                Delete(8507),
                ModifyTwice(9494),
                Create,
                Modify(5389),
                Modify(8074),
                Modify(4766),
                Modify(4717),
                ModifyTwice(7878),
                ModifyTwice(8414),
                Modify(8770),
                Delete(6456),
                ModifyTwice(1150),
                ModifyTwice(7828),
                ModifyTwice(4645),
                Create,
                Modify(2261),
            ],
            vec![
                ModifyTwice(3282),
                Modify(8778),
                Modify(6985),
                Modify(2968),
                Modify(2553),
                Tick,
                ModifyTwice(4919),
                Modify(5374),
                ModifyTwice(7087),
                Modify(6643),
                Modify(2950),
                Modify(1332),
                ModifyTwice(8294),
                Modify(6154),
                Create,
                Modify(2334),
                Modify(2525),
                Delete(579),
                Modify(9285),
            ],
            vec![Modify(492), ModifyTwice(4602), Modify(6250), ModifyTwice(9354), Delete(564), Modify(3206), Modify(3684), ModifyTwice(2196), ModifyTwice(7120)],
            vec![
                Delete(915),
                Modify(513),
                Modify(3260),
                ModifyTwice(2500),
                Modify(9160),
                ModifyTwice(303),
                Modify(2589),
                Modify(6833),
                Modify(6064),
                Modify(6266),
                Modify(230),
                ModifyTwice(626),
                ModifyTwice(4880),
                Delete(8092),
                ModifyTwice(4672),
                ModifyTwice(4691),
                Modify(6187),
                Modify(4686),
            ],
            vec![Modify(7743), Tick, Modify(6730), Create, Create, Modify(1705), Tick],
            vec![Modify(7636), Modify(5306), Tick, Create, Create, Tick, Modify(2061), ModifyTwice(7371), Create, Create, ModifyTwice(2578), Create, Modify(3108), Modify(1469), Tick, Modify(7181)],
            vec![
                Create,
                ModifyTwice(8861),
                Delete(5887),
                ModifyTwice(1256),
                Modify(677),
                Create,
                Modify(9893),
                Modify(7249),
                ModifyTwice(3926),
                Create,
                Create,
                ModifyTwice(8032),
                Create,
                ModifyTwice(4933),
                ModifyTwice(6147),
                ModifyTwice(6507),
                Create,
                ModifyTwice(9268),
                Tick,
                ModifyTwice(3763),
                Modify(3217),
                Modify(4509),
                Modify(218),
            ],
            vec![],
            vec![Delete(9764), Modify(8183), Modify(54), Tick, Delete(7391), Modify(3026), Modify(9792), Tick],
            vec![Tick, Tick, ModifyTwice(9768), Tick, Modify(9006), Create],
            vec![
                Modify(9866),
                ModifyTwice(9054),
                Tick,
                ModifyTwice(9090),
                ModifyTwice(1174),
                Create,
                Create,
                Modify(509),
                Create,
                ModifyTwice(3487),
                ModifyTwice(4899),
                Modify(3116),
                Modify(3758),
                Tick,
                Delete(9085),
            ],
            vec![Modify(336), Delete(8475), Tick, Modify(1501), Modify(8652), Modify(4386), ModifyTwice(7736)],
        ],
        vec![
            vec![Modify(1307)],
            vec![
                Modify(1199),
                Modify(6675),
                ModifyTwice(5249),
                Modify(2566),
                ModifyTwice(2493),
                ModifyTwice(3201),
                Modify(6700),
                Create,
                Create,
                Create,
                ModifyTwice(4973),
                Tick,
                Modify(8317),
                Create,
                Delete(738),
                Modify(1249),
                Modify(1087),
                Create,
                Create,
                Modify(1377),
                Create,
                ModifyTwice(5073),
                Delete(4858),
                Modify(4444),
            ],
        ],
    ];
    replay(60, rounds).await;
}

/// The bound's exact promise, on a quiet module with two records per page. A record changed
/// during sweep A past A's bound (`c`) is delivered by sweep B. A record changed during sweep A
/// past A's bound and again during sweep B, before B reached it, past B's bound (`d`) is in
/// neither (Zoho keeps no older version; a sweep that reached past its bound would never end
/// while a workflow writes back what it reads) and is delivered by C, the first sweep it stays
/// put through, with its latest content. Nothing else is delivered twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_changed_during_each_sweep_past_its_bound_comes_with_the_first_quiet_one() {
    let h = Harness::new().await;
    h.sandbox.add_module("Parcels", &["Name"], "Name");
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|n| h.sandbox.create_record("Parcels", json!({ "Name": n })));
    let page = |n: u32| json!({ "record-type": "Parcels", "page": n, "per-page": 2, "fields": "Name" });
    let names = |result: &Value| -> Vec<(String, String)> {
        result["records"].as_array().expect("records").iter().map(|r| (r["id"].as_str().expect("id").to_string(), r["Name"].as_str().expect("name").to_string())).collect()
    };
    let commit = || h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Parcels" }));

    // Sweep A: page 1 is a and b; then c and d change a second later, past A's bound.
    let a1 = ok_of(&h.run("incremental-list-modified-records-by-page", page(1)).await).clone();
    assert_eq!(names(&a1), [(a.clone(), "a".into()), (b.clone(), "b".into())]);
    h.sandbox.clock().advance(chrono::Duration::seconds(1));
    assert!(h.sandbox.modify_record("Parcels", &c, json!({ "Name": "c1" })));
    assert!(h.sandbox.modify_record("Parcels", &d, json!({ "Name": "d1" })));
    let a2 = ok_of(&h.run("incremental-list-modified-records-by-page", page(2)).await).clone();
    assert_eq!((names(&a2), a2["more_records"].clone()), (vec![], json!(false)), "c1 and d1 are past A's bound");
    ok_of(&commit().await);

    // Sweep B: page 1 reads a and b again (boundary duplicates, dropped); then d changes again,
    // past B's bound, before B reaches it. Page 2 delivers c1, never d.
    let b1 = ok_of(&h.run("incremental-list-modified-records-by-page", page(1)).await).clone();
    assert_eq!((names(&b1), b1["sweep"]["duplicates_dropped"].clone(), b1["more_records"].clone()), (vec![], json!(2), json!(true)));
    h.sandbox.clock().advance(chrono::Duration::seconds(1));
    assert!(h.sandbox.modify_record("Parcels", &d, json!({ "Name": "d2" })));
    let b2 = ok_of(&h.run("incremental-list-modified-records-by-page", page(2)).await).clone();
    assert_eq!(names(&b2), [(c.clone(), "c1".into())], "the record pushed past one bound comes with the next sweep");
    assert_eq!(b2["more_records"], false);
    ok_of(&commit().await);

    // Sweep C, nothing changing: d2 and only d2.
    let swept: Vec<(String, String)> = sweep(&h, "Parcels", 2, "Name").await.iter().map(|r| (r["id"].as_str().expect("id").to_string(), r["Name"].as_str().expect("name").to_string())).collect();
    assert_eq!(swept, [(d.clone(), "d2".into())]);
    assert_eq!(sweep(&h, "Parcels", 2, "Name").await, Vec::<Value>::new());
}

/// The COQL queries the sandbox received, in order.
fn coql_queries(h: &Harness) -> Vec<String> {
    h.requests().iter().filter(|r| r.path == "/crm/v8/coql").filter_map(|r| r.json()?["select_query"].as_str().map(str::to_string)).collect()
}

/// `[A, B, C]` as Zoho asks criteria beyond two to be written: `((A and B) and C)`.
fn grouped(parts: &[String]) -> String {
    parts.iter().skip(1).fold(parts[0].clone(), |w, p| format!("({w} and {p})"))
}

fn after(record: &Value) -> String {
    format!("(Modified_Time > '{t}' or (Modified_Time = '{t}' and id > {id}))", t = record["Modified_Time"].as_str().expect("t"), id = record["id"].as_str().expect("id"))
}

fn up_to(record: &Value) -> String {
    format!("(Modified_Time < '{t}' or (Modified_Time = '{t}' and id <= {id}))", t = record["Modified_Time"].as_str().expect("t"), id = record["id"].as_str().expect("id"))
}

/// Zoho refuses more than two criteria at one bracket level (COQL limitations page; Kaizen
/// #171): page 2 of a sweep since a date holds three (since, until, the page's start) and a
/// page read again four (its known end). Each is grouped in pairs, `((A and B) and C)`. On the
/// flat `A and B and C` the sandbox, as Zoho, answers SYNTAX_ERROR and the sweep broke on page 2.
#[tokio::test(flavor = "multi_thread")]
async fn page_two_of_a_sweep_since_a_date_groups_its_criteria_in_pairs() {
    let h = Harness::new().await;
    let page = |n: u32| json!({ "record-type": "Contacts", "page": n, "per-page": 1000, "since": "2000-01-01", "fields": "Last_Name" });
    let first = ok_of(&h.run("incremental-list-modified-records-by-page", page(1)).await).clone();
    let second = ok_of(&h.run("incremental-list-modified-records-by-page", page(2)).await).clone();
    let third = ok_of(&h.run("incremental-list-modified-records-by-page", page(3)).await).clone();
    let again = ok_of(&h.run("incremental-list-modified-records-by-page", page(2)).await).clone();
    assert_eq!(again["records"], second["records"], "page 2 read again over its known range");
    let counts: Vec<usize> = [&first, &second, &third].iter().map(|p| p["records"].as_array().map_or(0, Vec::len)).collect();
    assert_eq!(counts, [1000, 1000, 600]);
    let until = first["sweep"]["until"].as_str().expect("until").to_string();
    let since = "Modified_Time >= '2000-01-01T00:00:00+00:00'".to_string();
    let bounded = [since.clone(), format!("Modified_Time <= '{until}'")];
    let select = |parts: &[String], limit: u32| format!("select id, Modified_Time, Last_Name from Contacts where {} order by Modified_Time asc, id asc limit 0, {limit}", grouped(parts));
    let last_of = |p: &Value| p["records"][999].clone();
    let queries = coql_queries(&h);
    assert_eq!(
        queries,
        [
            select(&[since], 1000),
            select(&[bounded[0].clone(), bounded[1].clone(), after(&last_of(&first))], 1000),
            select(&[bounded[0].clone(), bounded[1].clone(), after(&last_of(&second))], 1000),
            select(&[bounded[0].clone(), bounded[1].clone(), after(&last_of(&first)), up_to(&last_of(&second))], 2000),
        ]
    );
    assert!(queries[2].contains(" where ((Modified_Time >= '2000-01-01T00:00:00+00:00' and Modified_Time <= '"), "{}", queries[2]);
    // The module's field metadata once (Last_Name was named: its data type is checked), then COQL only.
    let requests = h.requests();
    component_tests::assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Contacts")], None);
    assert_eq!(requests.len(), 1 + queries.len());
    ok_of(&h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Contacts" })).await);
}

/// A sweep without `fields` selects only what COQL reads: Events without Participants, Calls
/// without CTI_Entry, Quotes and Leads without their line items (Product_Details), and a module
/// with file-upload, image-upload and multi-select-lookup fields without them. Selecting every
/// field made each an INVALID_QUERY on page 1. Every record of each module comes.
#[tokio::test(flavor = "multi_thread")]
async fn sweeps_without_fields_select_only_what_coql_reads() {
    let h = Harness::new().await;
    let system = "Owner, Created_By, Modified_By, Created_Time";
    for (module, fields) in [
        ("Events", format!("Event_Title, Start_DateTime, End_DateTime, {system}")),
        ("Calls", format!("Subject, Call_Type, Call_Duration, {system}")),
        ("Quotes", format!("Subject, Quote_Stage, Grand_Total, {system}")),
        ("Shipments", format!("Name, Carrier, Tracking_Number, {system}")),
    ] {
        h.sandbox.clear_requests();
        let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": module, "page": 1 })).await;
        let result = ok_of(&outcome);
        assert_eq!(result["records"].as_array().map(Vec::len), Some(h.sandbox.record_count(module)), "{module}");
        assert_eq!(result["more_records"], false);
        let requests = h.requests();
        assert_eq!(requests.len(), 2, "{module}: the field metadata and one COQL page");
        component_tests::assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", module)], None);
        let query = format!("select id, Modified_Time, {fields} from {module} where id is not null order by Modified_Time asc, id asc limit 0, 200");
        component_tests::assert_request(&requests[1], &h.token, "POST", "/crm/v8/coql", &[], Some(json!({ "select_query": query })));
        ok_of(&h.run("incremental-update-last-successful-run-date", json!({ "record-type": module })).await);
    }
    // Leads: more than 50 fields and a subform; every field but Product_Details in one query.
    h.sandbox.clear_requests();
    let result = ok_of(&h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Leads", "page": 1 })).await).clone();
    assert_eq!(result["records"].as_array().map(Vec::len), Some(3));
    let queries = coql_queries(&h);
    assert_eq!(queries.len(), 1);
    assert!(!queries[0].contains("Product_Details") && queries[0].contains("Custom_Field_52__c"), "{}", queries[0]);
    assert!(result["records"][0]["Custom_Field_52__c"].is_string());
    assert_eq!(h.requests().len(), 2, "metadata and one COQL call: no records GET by id");
}

/// A field COQL cannot read, named in `fields`, is refused before the query is sent, naming the
/// field and why: by name without any request (Calls.CTI_Entry, Events.Participants, line
/// items), by data type after the module's field metadata (file and image upload, multi-select
/// lookup).
#[tokio::test(flavor = "multi_thread")]
async fn a_named_field_coql_cannot_read_is_refused_before_sending() {
    let h = Harness::new().await;
    for (module, fields, named) in [
        ("Calls", "Subject,CTI_Entry", "CTI_Entry (COQL does not read the CTI_Entry field of Calls)"),
        ("Events", "Participants", "Participants (COQL does not read the Participants field of Events (Meetings))"),
        ("Quotes", "Subject,Product_Details", "Product_Details (COQL does not read line items (Product_Details))"),
    ] {
        let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": module, "fields": fields })).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{error}");
        assert_eq!(
            error["message"],
            format!("fields names {named} of {module} that COQL cannot read; a sweep reads through COQL: leave them out of fields (get-record reads them one record at a time)")
        );
        assert!(h.requests().is_empty(), "{module}: nothing sent");
    }
    let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Shipments", "fields": "Name,Proof_Of_Delivery,Package_Photo,Handlers" })).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "invalid-input", "{error}");
    assert_eq!(
        error["message"],
        "fields names Proof_Of_Delivery (COQL does not read file-upload fields), Package_Photo (COQL does not read image-upload fields), Handlers (COQL does not read multi-select lookup fields (query their linking module instead)) of Shipments that COQL cannot read; a sweep reads through COQL: leave them out of fields (get-record reads them one record at a time)"
    );
    component_tests::assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Shipments")], None);
}

/// A 120-field module, 450 records at 200 a page: one COQL call per page selects every field
/// (COQL takes 500 since v7, Kaizen #183). With 50 fields per COQL call the other 70 were read
/// again by id, 49 fields and 100 ids per GET: 4 more calls per 200-record page.
#[tokio::test(flavor = "multi_thread")]
async fn a_120_field_module_is_swept_with_one_coql_call_per_page() {
    let h = Harness::new().await;
    let names: Vec<String> = (1..=114).map(|i| format!("Field_{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    h.sandbox.add_module("Wide", &refs, "Field_001");
    for r in 0..450 {
        let values: serde_json::Map<String, Value> = names.iter().map(|n| (n.clone(), json!(format!("{n}-{r}")))).collect();
        h.sandbox.create_record("Wide", Value::Object(values));
    }
    h.sandbox.clear_requests();
    let mut records = Vec::new();
    let mut usage = Vec::new();
    for page in 1..=3 {
        let result = ok_of(&h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Wide", "page": page, "per-page": 200 })).await).clone();
        records.extend(result["records"].as_array().expect("records").iter().cloned());
        usage.push(result["usage"].clone());
    }
    assert_eq!(records.len(), 450);
    assert!(records.iter().all(|r| r.as_object().map(serde_json::Map::len) == Some(120)), "every record with all 120 fields");
    assert!(records.iter().enumerate().all(|(i, r)| r["Field_114"] == format!("Field_114-{i}")));
    let requests = h.requests();
    assert_eq!(requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect::<Vec<_>>(), ["GET /crm/v8/settings/fields", "POST /crm/v8/coql", "POST /crm/v8/coql", "POST /crm/v8/coql"]);
    let select = requests[1].json().expect("json")["select_query"].as_str().expect("query").to_string();
    assert!(select.starts_with(&format!("select id, Modified_Time, {}, Created_Time, Owner, Created_By, Modified_By from Wide where id is not null", names.join(", "))), "{select}");
    // One call and one credit per 200-row page; the metadata once.
    assert_eq!(usage, [json!({ "calls": 2, "credits": 2 }), json!({ "calls": 1, "credits": 1 }), json!({ "calls": 1, "credits": 1 })]);
}

/// Past 500 fields (wider than one COQL SELECT), COQL reads the first 500 and the rest is read
/// by id with the records GET, 49 fields plus id and 100 ids per call, merged into each record.
#[tokio::test(flavor = "multi_thread")]
async fn past_500_fields_the_rest_is_read_by_id() {
    let h = Harness::new().await;
    let names: Vec<String> = (1..=520).map(|i| format!("F{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    h.sandbox.add_module("Widest", &refs, "F001");
    for r in 0..150 {
        let values: serde_json::Map<String, Value> = names.iter().map(|n| (n.clone(), json!(format!("{n}-{r}")))).collect();
        h.sandbox.create_record("Widest", Value::Object(values));
    }
    h.sandbox.clear_requests();
    let result = ok_of(&h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Widest", "page": 1, "per-page": 150 })).await).clone();
    let records = result["records"].as_array().expect("records");
    assert_eq!(records.len(), 150);
    assert!(records.iter().all(|r| r.as_object().map(serde_json::Map::len) == Some(526)), "520 fields, id, two times, three users");
    assert!(records.iter().enumerate().all(|(i, r)| r["F520"] == format!("F520-{i}") && r["Modified_By"].is_object()));
    let requests = h.requests();
    let select = requests[1].json().expect("json")["select_query"].as_str().expect("query").to_string();
    let selected = select.trim_start_matches("select ").split(" from ").next().expect("fields").split(", ").count();
    assert_eq!(selected, 500);
    // 26 fields left (498 of the 520, then 22 and the two times and three users after them): one
    // batch of fields, two chunks of ids.
    let by_id: Vec<_> = requests.iter().filter(|r| r.method == "GET" && r.path == "/crm/v8/Widest").collect();
    assert_eq!(by_id.len(), 2);
    let rest = std::iter::once("id".to_string()).chain(names[498..].iter().cloned()).chain(["Created_Time", "Owner", "Created_By", "Modified_By"].map(String::from)).collect::<Vec<_>>().join(",");
    assert_eq!(by_id[0].query[0], ("fields".to_string(), rest));
    assert_eq!(by_id[0].query[1].1.split(',').count(), 100);
    assert_eq!(by_id[1].query[1].1.split(',').count(), 50);
    assert_eq!(result["usage"], json!({ "calls": 4, "credits": 4 }));
}
