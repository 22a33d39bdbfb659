//! Sweeps and streams of a module COQL cannot read (Notes), through the records list ordered by
//! Modified_Time with If-Modified-Since: the exact requests, both readings of the header,
//! hundreds of records on one second (forward, then backward over the same pages), deletions
//! shifting a crowded second's pages between steps, page tokens past 2,000 records of one
//! second, retried pages and a host restart, and a property test that no version is lost while
//! notes change under running sweeps.

use component_tests::{error_of, new_runtime, ok_of, Harness};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use zoho_sandbox::RecordedRequest;

use crate::support::users;
use users::{change, versions_of, Change, Ledger};

const LIST: &str = "incremental-list-modified-records-by-page";
const COMMIT: &str = "incremental-update-last-successful-run-date";
/// The fields a sweep of Notes without `fields` lists: every field `/settings/fields` gives,
/// id and Modified_Time first.
const NOTE_FIELDS: &str = "id,Modified_Time,Note_Title,Note_Content,Parent_Id,Owner,Created_By,Modified_By,Created_Time";

/// A note as Zoho keeps one: on a parent record, with a title.
fn note(content: &str) -> Value {
    json!({ "Note_Title": "Bulk", "Note_Content": content, "Parent_Id": { "module": { "api_name": "Accounts", "id": zoho_sandbox::module_id("Accounts") }, "id": "5725767000000524001", "name": "Zylker" } })
}

fn iso(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).expect("time").format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

fn second_of(zoho_time: &str) -> i64 {
    users::instant(zoho_time)
}

fn ids(result: &Value) -> Vec<String> {
    result["records"].as_array().expect("records").iter().map(|r| r["id"].as_str().expect("id").to_string()).collect()
}

/// Asserts a records-list request exactly: GET, path, query pairs in order, the token, the
/// If-Modified-Since header (or none), no other header and no body.
fn assert_list_request(request: &RecordedRequest, token: &str, path: &str, query: &[(&str, &str)], since: Option<&str>) {
    assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", path), "{request:?}");
    let query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(request.query, query, "query of GET {path}");
    assert_eq!(request.header("authorization"), Some(format!("Zoho-oauthtoken {token}").as_str()));
    assert_eq!(request.header("if-modified-since"), since, "If-Modified-Since of {request:?}");
    for (name, _) in &request.headers {
        assert!(["authorization", "host", "if-modified-since"].contains(&name.as_str()), "unexpected header {name} in {request:?}");
    }
    assert!(request.body.is_empty());
}

/// The list requests sent so far, as (page or token, If-Modified-Since).
fn walked(h: &Harness) -> Vec<(String, Option<String>)> {
    h.requests()
        .iter()
        .filter(|r| r.path == "/crm/v8/Notes")
        .map(|r| {
            let at = r.query_param("page").map(|p| format!("page {p}")).or_else(|| r.query_param("page_token").map(|_| "token".to_string())).unwrap_or_default();
            (at, r.header("if-modified-since").map(str::to_string))
        })
        .collect()
}

/// Reads a sweep of Notes from page 1 to its end (without committing); returns its pages.
async fn pages(h: &Harness, per_page: u32, since: Option<&str>, fields: Option<&str>) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut page = 1;
    loop {
        let mut input = json!({ "record-type": "Notes", "page": page, "per-page": per_page });
        if let Some(since) = since {
            input["since"] = json!(since);
        }
        if let Some(fields) = fields {
            input["fields"] = json!(fields);
        }
        let result = ok_of(&h.run(LIST, input).await).clone();
        assert_eq!(result["page"], page);
        let more = result["more_records"] == json!(true);
        assert_eq!(result["next_page"], if more { json!(page + 1) } else { Value::Null });
        pages.push(result);
        if !more {
            return pages;
        }
        page += 1;
    }
}

fn delivered(pages: &[Value]) -> Vec<String> {
    pages.iter().flat_map(ids).collect()
}

/// Each id at most once.
fn assert_once(all: &[String]) {
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "a record delivered twice in one sweep");
}

/// COQL refuses Notes (its module list has no Notes): the sweep used to fail on page 1. Now it
/// lists Notes with every field, ordered by Modified_Time, and the next sweep asks from the
/// committed cursor's second less one (either reading of If-Modified-Since lists that second).
#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_of_notes_without_fields_completes_through_the_records_list() {
    let h = Harness::new().await;
    let outcome = h.run("crm-coql-query", json!({ "query": "select id from Notes where id is not null" })).await;
    assert_eq!((error_of(&outcome)["status"].as_u64(), error_of(&outcome)["code"].as_str()), (Some(400), Some("INVALID_QUERY")), "COQL does not read Notes");
    h.sandbox.clear_requests();

    let first = ok_of(&h.run(LIST, json!({ "record-type": "Notes" })).await).clone();
    let notes: Vec<String> = h.sandbox.record_versions("Notes").into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids(&first), notes, "every note, oldest first");
    assert_eq!((first["more_records"].clone(), first["next_page"].clone()), (json!(false), Value::Null));
    assert_eq!(first["records"][0]["Note_Title"], "Note 1");
    assert_eq!(first["records"][0]["Parent_Id"]["name"], "Zylker");
    let sent = h.requests();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!((sent[0].path.as_str(), sent[0].query_param("module")), ("/crm/v8/settings/fields", Some("Notes")));
    let query = [("fields", NOTE_FIELDS), ("sort_by", "Modified_Time"), ("sort_order", "asc"), ("per_page", "200"), ("page", "1")];
    assert_list_request(&sent[1], &h.token, "/crm/v8/Notes", &query, None);
    let committed = ok_of(&h.run(COMMIT, json!({ "record-type": "Notes" })).await).clone();
    let cursor = second_of(committed["cursor"].as_str().expect("cursor"));
    assert_eq!(cursor, second_of(first["sweep"]["commits_cursor"].as_str().expect("commits_cursor")));

    // One note changes: the next sweep asks from the cursor's second less one and gets it alone.
    h.sandbox.clock().advance(chrono::Duration::seconds(5));
    assert!(h.sandbox.modify_record("Notes", &notes[1], json!({ "Note_Content": "edited" })));
    h.sandbox.clear_requests();
    let second = ok_of(&h.run(LIST, json!({ "record-type": "Notes" })).await).clone();
    assert_eq!(ids(&second), [notes[1].clone()]);
    assert_eq!(second["records"][0]["Note_Content"], "edited");
    assert_list_request(&h.only_request(), &h.token, "/crm/v8/Notes", &query, Some(&iso(cursor - 1)));
    ok_of(&h.run(COMMIT, json!({ "record-type": "Notes" })).await);

    // The next sweep reads the edited note again (it is past that sweep's cursor) and drops it
    // as a boundary duplicate; after it, nothing is modified: Zoho answers 304 Not Modified.
    h.sandbox.clock().advance(chrono::Duration::seconds(5));
    let third = ok_of(&h.run(LIST, json!({ "record-type": "Notes" })).await).clone();
    assert_eq!((third["records"].clone(), third["sweep"]["duplicates_dropped"].clone()), (json!([]), json!(1)));
    ok_of(&h.run(COMMIT, json!({ "record-type": "Notes" })).await);
    h.sandbox.clear_requests();
    let quiet = ok_of(&h.run(LIST, json!({ "record-type": "Notes" })).await).clone();
    assert_eq!((quiet["records"].clone(), quiet["more_records"].clone()), (json!([]), json!(false)));
    assert_eq!(h.only_request().response_status, Some(304));
}

/// The sync stream of notes, without `fields`, reads the records list from its anchor date.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_stream_of_notes_without_fields_completes() {
    let h = Harness::new().await;
    let outcome = h.run("sync-read-stream-page", json!({ "stream": "notes", "anchor-date": "2000-01-01" })).await;
    let result = ok_of(&outcome).clone();
    assert_eq!(result["records"].as_array().map(Vec::len), Some(3));
    assert_eq!((result["stream"].as_str(), result["more_records"].as_bool()), (Some("notes"), Some(false)));
    let sent = h.requests();
    assert_eq!(sent.len(), 2);
    let query = [("fields", NOTE_FIELDS), ("sort_by", "Modified_Time"), ("sort_order", "asc"), ("per_page", "200"), ("page", "1")];
    assert_list_request(&sent[1], &h.token, "/crm/v8/Notes", &query, Some("1999-12-31T23:59:59+00:00"));
    ok_of(&h.run("sync-commit-stream", json!({ "stream": "notes" })).await);

    // A records-list stream is one walk: slices are refused before anything is sent.
    h.sandbox.clear_requests();
    let outcome = h.run("sync-read-stream-page", json!({ "stream": "notes", "slice": 1, "slices": 2 })).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "invalid-input");
    assert_eq!(error["message"], "slices 2: Notes is read through its records list (COQL cannot read it), one walk that cannot be sliced: pass slices 1 (or none)");
    assert!(h.requests().is_empty());
    // A module no API documented for sweeps reads is refused, nothing sent.
    let outcome = h.run(LIST, json!({ "record-type": "Functions__s" })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert!(h.requests().is_empty());
}

/// Zoho is silent on whether If-Modified-Since lists its own second. Two notes on second P, five
/// on P+1, two per page: under either reading every note comes once. A record at the header's
/// own second proves the inclusive reading, and the walk then asks from the second itself.
#[tokio::test(flavor = "multi_thread")]
async fn either_reading_of_if_modified_since_delivers_every_note_once() {
    for exclusive in [false, true] {
        let h = Harness::new().await;
        h.sandbox.set_if_modified_since_exclusive(exclusive);
        h.sandbox.clock().freeze_at(chrono::Utc::now());
        let a: Vec<String> = (0..2).map(|i| h.sandbox.create_record("Notes", note(&format!("a{i}")))).collect();
        h.sandbox.clock().advance(chrono::Duration::seconds(1));
        let b: Vec<String> = (0..5).map(|i| h.sandbox.create_record("Notes", note(&format!("b{i}")))).collect();
        let p = second_of(h.sandbox.record("Notes", &a[0]).expect("a")["Modified_Time"].as_str().expect("time"));
        let seeded: Vec<(String, String)> = h.sandbox.record_versions("Notes").into_iter().take(3).collect();
        h.sandbox.clear_requests();
        let swept = pages(&h, 2, Some("2000-01-01"), Some("Note_Content")).await;
        let all = delivered(&swept);
        assert_once(&all);
        let expected: Vec<String> = seeded.iter().map(|(id, _)| id.clone()).chain(a.clone()).chain(b.clone()).collect();
        assert_eq!(all, expected, "exclusive: {exclusive}");
        let second_seed = second_of(&seeded[1].1);
        let headers: Vec<Option<String>> = walked(&h).into_iter().map(|(_, since)| since).collect();
        let (p_prev, p_itself, s_itself) = (Some(iso(p - 1)), Some(iso(p)), Some(iso(p + 1)));
        let mut expected_headers = vec![Some("1999-12-31T23:59:59+00:00".to_string()), Some(iso(second_seed - 1)), p_prev, p_itself.clone()];
        // Page 4 saw a and b under the inclusive reading (a is of the header's second): page 5
        // asks from b's second itself; the exclusive reading never shows it, so a second early.
        expected_headers.push(if exclusive { p_itself } else { s_itself });
        assert_eq!(headers, expected_headers, "exclusive: {exclusive}");
        ok_of(&h.run(COMMIT, json!({ "record-type": "Notes" })).await);
    }
}

/// 450 notes on one Modified_Time second, 100 per page: page 1 of the list from that second
/// holds nothing past it, so the walk reads the same list deeper (page 2, 3), then the pages
/// before the last again, backward; every note once, the sweep ends with the list.
#[tokio::test(flavor = "multi_thread")]
async fn hundreds_of_notes_on_one_second_are_walked_forward_then_back() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    let bulk: Vec<String> = (0..450).map(|i| h.sandbox.create_record("Notes", note(&format!("n{i}")))).collect();
    let s = second_of(h.sandbox.record("Notes", &bulk[0]).expect("note")["Modified_Time"].as_str().expect("time"));
    h.sandbox.clear_requests();
    let swept = pages(&h, 100, Some("2000-01-01"), Some("Note_Content")).await;
    let all = delivered(&swept);
    assert_once(&all);
    assert_eq!(all.len(), 453);
    assert_eq!(all[3..], bulk[..], "the second's notes in Zoho's order");
    assert_eq!(swept.iter().map(|p| p["records"].as_array().map_or(0, Vec::len)).collect::<Vec<_>>(), [100, 100, 100, 100, 53]);
    let (before, at, after) = (Some(iso(s - 1)), Some(iso(s)), Some(iso(s + 1)));
    let page = |n: u32, since: &Option<String>| (format!("page {n}"), since.clone());
    assert_eq!(
        walked(&h),
        [
            page(1, &Some("1999-12-31T23:59:59+00:00".into())),
            page(1, &before),
            // Page 3 of the sweep: page 1 holds 3 new notes and nothing past the second.
            page(1, &before),
            page(2, &before),
            page(2, &before),
            // Page 5: the rest of page 2, page 3 (the second ends), then pages 2 and 1 again.
            page(2, &before),
            page(3, &before),
            page(2, &before),
            page(1, &before),
            // The second is done: the list after it (a record of the header's second shows the
            // inclusive reading, so the next asks from the second after), which is empty.
            page(1, &at),
            page(1, &after),
        ]
    );
    assert_eq!(h.requests().last().and_then(|r| r.response_status), Some(304));
    ok_of(&h.run(COMMIT, json!({ "record-type": "Notes" })).await);
}

/// The attack on a crowded second: between two steps ten notes the sweep already delivered
/// are deleted, so Zoho's pages of that second shift back by ten and seven notes move from
/// page 3 onto page 2, which the forward pass has read. The backward pass over page 2 delivers
/// them; on a forward-only walk they would be lost (none changed, so no later sweep has them).
#[tokio::test(flavor = "multi_thread")]
async fn notes_shifted_onto_a_page_already_read_are_delivered_by_the_backward_pass() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    let bulk: Vec<String> = (0..450).map(|i| h.sandbox.create_record("Notes", note(&format!("n{i}")))).collect();
    // 206 a page: page 1 ends after one request (3 seeded notes and 197 of the second: the 6
    // places left would cost a request of 200), page 2 with page 2 of the second's list read
    // and 3 notes of its page 3 delivered.
    let step = |n: u32| json!({ "record-type": "Notes", "page": n, "per-page": 206, "since": "2000-01-01", "fields": "Note_Content" });
    let first = ok_of(&h.run(LIST, step(1)).await).clone();
    assert_eq!(ids(&first).len(), 200);
    let second = ok_of(&h.run(LIST, step(2)).await).clone();
    assert_eq!(ids(&second), bulk[197..403]);
    for id in &bulk[..10] {
        assert!(h.sandbox.delete_record("Notes", id));
    }
    h.sandbox.clear_requests();
    let third = ok_of(&h.run(LIST, step(3)).await).clone();
    assert_eq!(third["more_records"], false);
    let shifted: HashSet<String> = bulk[403..410].iter().cloned().collect();
    let got: HashSet<String> = ids(&third).into_iter().collect();
    assert!(shifted.is_subset(&got), "the notes shifted onto page 2 are delivered");
    let all: Vec<String> = [first, second, third].iter().flat_map(ids).collect();
    assert_once(&all);
    let expected: HashSet<String> = h.sandbox.record_versions("Notes").into_iter().map(|(id, _)| id).chain(bulk[..10].iter().cloned()).collect();
    assert_eq!(all.iter().cloned().collect::<HashSet<_>>(), expected, "every note once, the deleted ones as delivered before");
    // Page 3 of the list (forward, the second ends), page 2 and page 1 again (backward).
    let read: Vec<String> = walked(&h).into_iter().map(|(at, _)| at).collect();
    assert_eq!(read[..3], ["page 3", "page 2", "page 1"]);
}

/// 2,300 notes on one second: past `page`'s 2,000-record reach the walk follows Zoho's
/// `next_page_token`, then reads the same tokens' pages and pages 10 to 1 again, backward.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_past_two_thousand_notes_is_walked_with_page_tokens() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    let bulk: Vec<String> = (0..2_300).map(|i| h.sandbox.create_record("Notes", note(&format!("n{i}")))).collect();
    let s = second_of(h.sandbox.record("Notes", &bulk[0]).expect("note")["Modified_Time"].as_str().expect("time"));
    h.sandbox.clear_requests();
    let swept = pages(&h, 2_000, Some(&iso(s)), Some("Note_Content")).await;
    let all = delivered(&swept);
    assert_once(&all);
    assert_eq!(all, bulk);
    assert_eq!(swept.iter().map(|p| p["records"].as_array().map_or(0, Vec::len)).collect::<Vec<_>>(), [2_000, 300]);
    let sent: Vec<RecordedRequest> = h.requests();
    let before = iso(s - 1);
    let address = |r: &RecordedRequest| r.query_param("page").map(|p| format!("page {p}")).or_else(|| r.query_param("page_token").map(|t| format!("token {t}"))).expect("address");
    for r in &sent[..sent.len() - 2] {
        assert_eq!(r.header("if-modified-since"), Some(before.as_str()), "one list for the crowded second");
        assert!(r.query_param("page").is_none() || r.query_param("page_token").is_none());
    }
    // Page 1: pages 1 to 10 (2,000 notes). Page 2: the token page 10 gave, the token that page
    // gave (the list's end), then back: the first token's page, pages 10 to 1; then the list
    // after the second (the inclusive reading shows at the header's second), which is empty.
    let read: Vec<String> = sent.iter().map(address).collect();
    let (t10, t11) = (sent[10].query_param("page_token").expect("token").to_string(), sent[11].query_param("page_token").expect("token").to_string());
    let mut expected: Vec<String> = (1..=10).map(|n| format!("page {n}")).collect();
    expected.extend([format!("token {t10}"), format!("token {t11}"), format!("token {t10}")]);
    expected.extend((1..=10).rev().map(|n| format!("page {n}")));
    expected.extend(["page 1".to_string(), "page 1".to_string()]);
    assert_eq!(read, expected);
    assert_ne!(t10, t11);
    assert_eq!(sent[sent.len() - 2].header("if-modified-since"), Some(iso(s).as_str()));
    assert_eq!(sent[sent.len() - 1].header("if-modified-since"), Some(iso(s + 1).as_str()));
    ok_of(&h.run(COMMIT, json!({ "record-type": "Notes" })).await);
}

/// A page asked again (a retried step) gets the same notes, within a crowded second too, and a
/// host restarted between steps goes on with the same sweep from the store.
#[tokio::test(flavor = "multi_thread")]
async fn a_retried_page_gets_the_same_notes_and_a_restart_goes_on() {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    for i in 0..450 {
        h.sandbox.create_record("Notes", note(&format!("n{i}")));
    }
    let step = |n: u32| json!({ "record-type": "Notes", "page": n, "per-page": 100, "since": "2000-01-01", "fields": "Note_Content" });
    let mut read = HashMap::new();
    for n in 1..=4 {
        read.insert(n, ok_of(&h.run(LIST, step(n)).await).clone());
    }
    for n in [3, 2, 4, 1] {
        let again = ok_of(&h.run(LIST, step(n)).await).clone();
        assert_eq!(again["records"], read[&n]["records"], "page {n} asked again");
        assert_eq!(again["sweep"]["id"], read[&1]["sweep"]["id"]);
    }
    let restarted = new_runtime();
    let action = zoho_host::ActionRef::from_key(LIST).expect("key");
    let outcome = restarted.run(&action, &h.connection, &step(5), None, Some(&h.namespace)).await.expect("runs");
    component_tests::assert_output_of(&action, &outcome);
    let fifth = ok_of(&outcome).clone();
    assert_eq!(fifth["sweep"]["id"], read[&1]["sweep"]["id"]);
    assert_eq!(fifth["more_records"], false);
    let all: Vec<String> = (1..=4).flat_map(|n| ids(&read[&n])).chain(ids(&fifth)).collect();
    assert_once(&all);
    assert_eq!(all.len(), 453);
}

/// Reads one sweep of Notes to its end and commits it; returns its records.
async fn sweep(h: &Harness, per_page: u32) -> Vec<Value> {
    let swept = pages(h, per_page, None, Some("Note_Content")).await;
    ok_of(&h.run(COMMIT, json!({ "record-type": "Notes" })).await);
    swept.iter().flat_map(|p| p["records"].as_array().expect("records").clone()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, .. ProptestConfig::default() })]

    /// Sweeps of 300 notes made on one second, with changes between their pages (several per
    /// second, the same note twice in one second, deletions shifting the crowded second's
    /// pages, new notes): every version that existed when a sweep began is delivered (or a
    /// later one, or it was deleted, or changed past the sweep's bound) by the end of the next.
    #[test]
    fn no_note_version_is_lost(per_page in 60u32..=200, rounds in prop::collection::vec(prop::collection::vec(prop::collection::vec(change(), 0..25), 1..12), 3..5)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        runtime.block_on(replay(per_page, rounds));
    }
}

async fn replay(per_page: u32, rounds: Vec<Vec<Vec<Change>>>) {
    let h = Harness::new().await;
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    for i in 0..300 {
        h.sandbox.create_record("Notes", note(&format!("v0 {i}")));
    }
    let mut ledger = Ledger::of("Notes", "Note_Content", note("New"));
    for (k, pages) in rounds.iter().enumerate() {
        ledger.begin_sweep(&h);
        let mut page = 1;
        loop {
            let result = ok_of(&h.run(LIST, json!({ "record-type": "Notes", "page": page, "per-page": per_page, "fields": "Note_Content" })).await).clone();
            let until = result["sweep"]["until"].as_str().map_or(i64::MAX, users::instant);
            ledger.deliver(&result);
            for change in pages.get(page - 1).into_iter().flatten() {
                ledger.apply(&h, change, until);
            }
            if result["more_records"] != json!(true) {
                break;
            }
            page += 1;
        }
        ok_of(&h.run(COMMIT, json!({ "record-type": "Notes" })).await);
        ledger.end_sweep(&h, k, "notes: ");
    }
    let last = versions_of(&h, "Notes", "Note_Content");
    for record in sweep(&h, per_page).await {
        ledger.deliver(&json!({ "records": [record] }));
    }
    ledger.check_final(&last, "notes: ");
}

/// `sync-discover` lists each stream with how it is read, and leaves out the modules neither
/// COQL nor a records list reads: attachments, analytics and system modules, linking modules.
#[tokio::test(flavor = "multi_thread")]
async fn discover_says_how_each_stream_is_read_and_leaves_out_what_nothing_reads() {
    let h = Harness::new().await;
    for module in ["Attachments", "Email_Analytics", "Functions__s", "Locking_Information__s"] {
        h.sandbox.add_module(module, &["Name"], "Name");
    }
    h.sandbox.add_linking_module("Contacts_X_Deals", &["Name"], "Name");
    h.sandbox.add_module("Parcels", &["Name"], "Name");
    let outcome = h.run("sync-discover", json!({})).await;
    let streams = ok_of(&outcome)["streams"].as_array().expect("streams").clone();
    // Zoho Books' streams follow CRM's (books_streams.rs checks them), each read by Books' list.
    assert!(streams.iter().filter(|s| s["source"] == "books").all(|s| s["read_by"] == "books-list"));
    let read_by: Vec<(&str, &str)> = streams.iter().filter(|s| s["source"] != "books").map(|s| (s["stream"].as_str().expect("stream"), s["read_by"].as_str().expect("read_by"))).collect();
    assert_eq!(
        read_by,
        [
            ("leads", "coql"),
            ("contacts", "coql"),
            ("accounts", "coql"),
            ("deals", "coql"),
            ("tasks", "coql"),
            ("meetings", "coql"),
            ("calls", "coql"),
            ("campaigns", "coql"),
            ("products", "coql"),
            ("quotes", "coql"),
            ("vendors", "coql"),
            ("notes", "records"),
            ("companies", "coql"),
            ("users", "list"),
            ("modules", "list"),
            ("Parcels", "coql"),
            ("Shipments", "coql"),
        ]
    );
    assert_eq!(streams.iter().find(|s| s["stream"] == "Parcels").expect("Parcels")["custom"], true);
    // A COQL sweep of the linking module is refused by Zoho as COQL refuses it.
    let outcome = h.run("crm-coql-query", json!({ "query": "select id from Contacts_X_Deals where id is not null" })).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_QUERY");
}

/// A records-list module wider than the list's 50 fields a request (Appointments, which
/// COQL does not read): each page lists 50 fields, then reads the rest by id, merged.
#[tokio::test(flavor = "multi_thread")]
async fn a_module_wider_than_fifty_fields_is_merged_by_id() {
    let h = Harness::new().await;
    let names: Vec<String> = (1..=60).map(|i| format!("Field_{i:02}")).collect();
    let fields: Vec<&str> = names.iter().map(String::as_str).collect();
    h.sandbox.add_module("Appointments__s", &fields, "Field_01");
    let values: serde_json::Map<String, Value> = names.iter().map(|n| (n.clone(), json!(format!("{n} value")))).collect();
    let created: Vec<String> = (0..3).map(|_| h.sandbox.create_record("Appointments__s", Value::Object(values.clone()))).collect();
    h.sandbox.clear_requests();
    let result = ok_of(&h.run(LIST, json!({ "record-type": "Appointments__s" })).await).clone();
    assert_eq!(ids(&result), created);
    for record in result["records"].as_array().expect("records") {
        for name in &names {
            assert_eq!(record[name], format!("{name} value"), "{name} merged");
        }
    }
    let sent = h.requests();
    let listed: Vec<&RecordedRequest> = sent.iter().filter(|r| r.path == "/crm/v8/Appointments__s").collect();
    assert_eq!(listed.len(), 2, "one list page, one read by id");
    assert_eq!(listed[0].query_param("fields").map(|f| f.split(',').count()), Some(50));
    assert_eq!((listed[0].query_param("sort_by"), listed[0].query_param("page")), (Some("Modified_Time"), Some("1")));
    assert_eq!(listed[1].query_param("ids"), Some(created.join(",").as_str()));
    let outcome = h.run("crm-coql-query", json!({ "query": "select id from Appointments__s where id is not null" })).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_QUERY", "a system module COQL does not list");
}
