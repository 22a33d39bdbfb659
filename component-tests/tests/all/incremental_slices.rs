//! Sliced sweeps: the plan a first step makes (a count, then a probe per boundary), each
//! slice's own keyset walk, balance on skewed data, the commit rule, usage per step, inputs
//! refused before anything is sent, and a property test that no record version is lost under
//! any interleaving of slice steps, retries, host restarts and concurrent changes.

use component_tests::{assert_request, error_of, new_runtime, ok_of, Harness};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::HashSet;
use zoho_host::Runtime;

use crate::support::users;
use users::{change, versions_now, Change, Ledger};

const LIST: &str = "incremental-list-modified-records-by-page";
const COMMIT: &str = "incremental-update-last-successful-run-date";

fn queries(h: &Harness) -> Vec<String> {
    h.requests().iter().filter_map(|r| r.json()?["select_query"].as_str().map(str::to_string)).collect()
}

fn ids(result: &Value) -> Vec<String> {
    result["records"].as_array().expect("records").iter().map(|r| r["id"].as_str().expect("id").to_string()).collect()
}

/// Reads slice `n` of `of` from page 1 to its end; returns its pages.
async fn read_slice(h: &Harness, module: &str, n: u32, of: u32, per_page: u32, fields: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut page = 1;
    loop {
        let result = ok_of(&h.run(LIST, json!({ "record-type": module, "page": page, "per-page": per_page, "fields": fields, "slice": n, "slices": of })).await).clone();
        assert_eq!(result["page"], page);
        if of > 1 {
            assert_eq!((result["slice"]["n"].clone(), result["slice"]["of"].clone()), (json!(n), json!(of)));
        }
        let more = result["more_records"] == json!(true);
        assert_eq!(result["next_page"], if more { json!(page + 1) } else { Value::Null });
        pages.push(result);
        if !more {
            return pages;
        }
        page += 1;
    }
}

/// `[A, B, C]` as Zoho asks criteria beyond two to be written: `((A and B) and C)`.
fn grouped(parts: &[String]) -> String {
    parts.iter().skip(1).fold(parts[0].clone(), |w, p| format!("({w} and {p})"))
}

/// The exact requests of a planned sweep: the record count (`GET /{module}/actions/count`,
/// never COQL's undocumented `COUNT(id)`), one probe per boundary at its count's share (from
/// the previous boundary), then each slice's keyset pages bounded by its range, criteria
/// grouped in pairs; the plan's calls are in the first step's usage; every record once; the
/// commit then succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn a_planned_sweep_counts_probes_and_walks_each_slice_in_its_range() {
    let h = Harness::new().await;
    let first = ok_of(&h.run(LIST, json!({ "record-type": "Contacts", "page": 1, "per-page": 500, "fields": "Last_Name", "slice": 1, "slices": 4 })).await).clone();
    let until = first["sweep"]["until"].as_str().expect("until").to_string();
    let requests = h.requests();
    // Last_Name is named: the module's field metadata checks COQL reads it; then the count.
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Contacts")], None);
    assert_request(&requests[1], &h.token, "GET", "/crm/v8/Contacts/actions/count", &[], None);
    assert_eq!(requests.len(), 6, "{requests:#?}");
    let sent = queries(&h);
    assert_eq!(sent.len(), 4, "{sent:#?}");
    assert!(sent.iter().all(|q| !q.contains("COUNT(")), "{sent:#?}");
    let bound = format!("Modified_Time <= '{until}'");
    // 2,600 records in 4 slices: slice k ends at record 650k (0-based index 650k - 1).
    let probe = |after: Option<String>| {
        let parts: Vec<String> = std::iter::once(bound.clone()).chain(after).collect();
        format!("select id, Modified_Time from Contacts where {} order by Modified_Time asc, id asc limit 649, 1", grouped(&parts))
    };
    assert_eq!(sent[0], probe(None));
    let mut bounds = Vec::new();
    for n in 1..=4u32 {
        h.sandbox.clear_requests();
        let pages = if n == 1 { vec![first.clone()] } else { Vec::new() };
        let pages = if n == 1 {
            let mut rest = pages;
            let mut page = 2;
            while rest.last().expect("page")["more_records"] == json!(true) {
                rest.push(ok_of(&h.run(LIST, json!({ "record-type": "Contacts", "page": page, "per-page": 500, "fields": "Last_Name", "slice": 1, "slices": 4 })).await).clone());
                page += 1;
            }
            rest
        } else {
            read_slice(&h, "Contacts", n, 4, 500, "Last_Name").await
        };
        let slice = pages[0]["slice"].clone();
        bounds.push(slice.clone());
        assert_eq!(pages.iter().map(|p| ids(p).len()).sum::<usize>(), 650, "slice {n} holds its share");
        assert_eq!(slice["plan"]["records"], 2600);
        assert_eq!(slice["plan"]["balanced"], true);
        assert_eq!((slice["plan"]["calls"].clone(), slice["plan"]["credits"].clone()), (json!(4), json!(4)));
        assert!(pages.iter().all(|p| p["sweep"]["until"] == until.as_str() && p["sweep"]["id"] == first["sweep"]["id"]));
        // The range this slice's queries are bounded by.
        let after =
            (n > 1).then(|| format!("(Modified_Time > '{t}' or (Modified_Time = '{t}' and id > {id}))", t = slice["from"].as_str().expect("from"), id = slice["from_id"].as_str().expect("from id")));
        let through =
            (n < 4).then(|| format!("(Modified_Time < '{t}' or (Modified_Time = '{t}' and id <= {id}))", t = slice["to"].as_str().expect("to"), id = slice["to_id"].as_str().expect("to id")));
        let range: Vec<String> = std::iter::once(bound.clone()).chain(after).chain(through).collect();
        let slice_queries = if n == 1 { sent[3..].iter().cloned().chain(queries(&h)).collect::<Vec<_>>() } else { queries(&h) };
        assert_eq!(slice_queries.len(), 2, "slice {n}: two pages of 500 and the rest: {slice_queries:#?}");
        assert_eq!(slice_queries[0], format!("select id, Modified_Time, Last_Name from Contacts where {} order by Modified_Time asc, id asc limit 0, 500", grouped(&range)));
        let last = pages[0]["records"][499].clone();
        let start = format!("(Modified_Time > '{t}' or (Modified_Time = '{t}' and id > {id}))", t = last["Modified_Time"].as_str().expect("t"), id = last["id"].as_str().expect("id"));
        let paged: Vec<String> = range.iter().cloned().chain([start]).collect();
        assert_eq!(slice_queries[1], format!("select id, Modified_Time, Last_Name from Contacts where {} order by Modified_Time asc, id asc limit 0, 500", grouped(&paged)));
        if n > 1 {
            assert_eq!((bounds[n as usize - 2]["to"].clone(), bounds[n as usize - 2]["to_id"].clone()), (slice["from"].clone(), slice["from_id"].clone()), "slices chain");
        }
    }
    // The probes after the first start after the boundary before them.
    for (k, probe_query) in sent[1..3].iter().enumerate() {
        let b = &bounds[k];
        assert_eq!(*probe_query, probe(Some(format!("(Modified_Time > '{t}' or (Modified_Time = '{t}' and id > {id}))", t = b["to"].as_str().expect("t"), id = b["to_id"].as_str().expect("id")))));
    }
    // Usage: the field metadata, the plan's 4 calls and the first 500-row page (2 credits) in the first step.
    assert_eq!(first["usage"], json!({ "calls": 6, "credits": 7 }));
    let committed = ok_of(&h.run(COMMIT, json!({ "record-type": "Contacts" })).await).clone();
    assert_eq!(committed["cursor"], first["sweep"]["commits_cursor"]);
    assert!(h.stored_keys().iter().all(|k| !k.contains("/slice") && !k.ends_with("/plan")), "the commit forgets the plan and its slices: {:?}", h.stored_keys());
}

/// slices = 1 (or none) is today's single walk: the same requests, no plan, no slice field.
#[tokio::test(flavor = "multi_thread")]
async fn one_slice_sends_exactly_the_requests_of_an_unsliced_sweep() {
    let mask = |q: &str| q.split('\'').enumerate().map(|(i, part)| if i % 2 == 1 { "T" } else { part }).collect::<Vec<_>>().join("'");
    let mut seen = Vec::new();
    for slices in [None, Some(1)] {
        let h = Harness::new().await;
        let mut page = 1;
        loop {
            let mut input = json!({ "record-type": "Contacts", "page": page, "per-page": 2000, "fields": "Last_Name" });
            if let Some(s) = slices {
                input["slices"] = json!(s);
                input["slice"] = json!(1);
            }
            let result = ok_of(&h.run(LIST, input).await).clone();
            assert!(result.get("slice").is_none(), "{result}");
            // One 2,000-row COQL page costs 3 credits; the first step reads the field metadata too.
            let usage = if page == 1 { json!({ "calls": 2, "credits": 4 }) } else { json!({ "calls": 1, "credits": 3 }) };
            assert_eq!(result["usage"], usage);
            if result["more_records"] != json!(true) {
                break;
            }
            page += 1;
        }
        ok_of(&h.run(COMMIT, json!({ "record-type": "Contacts" })).await);
        let sent: Vec<String> = queries(&h).iter().map(|q| mask(q)).collect();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0], "select id, Modified_Time, Last_Name from Contacts where id is not null order by Modified_Time asc, id asc limit 0, 2000");
        seen.push(sent);
    }
    assert_eq!(seen[0], seen[1]);
}

/// Skewed data: 900 of 1,000 records on one second. Balanced by count, each of 10 slices holds
/// 100 records, the crowded second split between slices by id; every record comes once.
#[tokio::test(flavor = "multi_thread")]
async fn skewed_data_is_balanced_by_count_not_time() {
    let h = Harness::new().await;
    h.sandbox.add_module("Parcels", &["Name"], "Name");
    h.sandbox.clock().freeze_at(chrono::Utc::now() - chrono::Duration::hours(1));
    let mut created = HashSet::new();
    for i in 0..100 {
        created.insert(h.sandbox.create_record("Parcels", json!({ "Name": format!("early {i}") })));
        h.sandbox.clock().advance(chrono::Duration::seconds(7));
    }
    for i in 0..900 {
        created.insert(h.sandbox.create_record("Parcels", json!({ "Name": format!("bulk {i}") })));
    }
    let mut delivered = Vec::new();
    for n in 1..=10 {
        let pages = read_slice(&h, "Parcels", n, 10, 60, "Name").await;
        let got: Vec<String> = pages.iter().flat_map(ids).collect();
        assert_eq!(got.len(), 100, "slice {n}");
        delivered.extend(got);
    }
    assert_eq!(delivered.len(), 1000);
    assert_eq!(delivered.into_iter().collect::<HashSet<_>>(), created);
    ok_of(&h.run(COMMIT, json!({ "record-type": "Parcels" })).await);
}

/// The commit is a conflict naming the slices not finished, until each delivered its last
/// page; then it commits the plan's cursor, and the next sliced sweep drops the boundary
/// duplicates every slice remembered.
#[tokio::test(flavor = "multi_thread")]
async fn the_commit_waits_for_every_slice() {
    let h = Harness::new().await;
    read_slice(&h, "Contacts", 1, 3, 2000, "Last_Name").await;
    read_slice(&h, "Contacts", 3, 3, 2000, "Last_Name").await;
    let refused = h.run(COMMIT, json!({ "record-type": "Contacts" })).await;
    let error = error_of(&refused);
    assert_eq!(error["kind"], "conflict");
    assert!(error["message"].as_str().expect("message").contains("slice 2 of 3 has not delivered its last page"), "{error}");
    let second = read_slice(&h, "Contacts", 2, 3, 2000, "Last_Name").await;
    h.sandbox.clear_requests();
    let committed = ok_of(&h.run(COMMIT, json!({ "record-type": "Contacts" })).await).clone();
    assert!(h.requests().is_empty());
    assert_eq!(committed["cursor"], second[0]["sweep"]["commits_cursor"]);
    // The next sweep, nothing changed: every slice empty.
    h.sandbox.clock().advance(chrono::Duration::seconds(2));
    for n in 1..=3 {
        let pages = read_slice(&h, "Contacts", n, 3, 2000, "Last_Name").await;
        assert!(pages.iter().all(|p| ids(p).is_empty()), "slice {n}: {pages:?}");
    }
    ok_of(&h.run(COMMIT, json!({ "record-type": "Contacts" })).await);
}

/// With include-deleted the deleted feed is walked once, by slice 1 after its last records
/// page; the other slices never ask for it and the commit waits for the feed.
#[tokio::test(flavor = "multi_thread")]
async fn slice_one_walks_the_deleted_feed_once() {
    let h = Harness::new().await;
    let gone = h.sandbox.record_versions("Deals")[0].0.clone();
    assert!(h.sandbox.delete_record("Deals", &gone));
    let input = |n: u32| json!({ "record-type": "Deals", "page": 1, "fields": "Deal_Name", "include-deleted": true, "slice": n, "slices": 2 });
    let second = ok_of(&h.run(LIST, input(2)).await).clone();
    assert!(second.get("deleted").is_none(), "{second}");
    assert!(h.requests().iter().all(|r| !r.path.ends_with("/deleted")));
    let first = ok_of(&h.run(LIST, input(1)).await).clone();
    assert_eq!(first["deleted"], json!([gone]));
    assert_eq!(ids(&first).len() + ids(&second).len(), 4);
    assert_eq!(h.requests().iter().filter(|r| r.path.ends_with("/deleted")).count(), 1);
    ok_of(&h.run(COMMIT, json!({ "record-type": "Deals" })).await);
}

/// Invalid slice and page inputs, and steps that do not belong to the open plan, are refused
/// before anything is sent, with a message naming what to pass.
#[tokio::test(flavor = "multi_thread")]
async fn invalid_slice_inputs_send_nothing() {
    let h = Harness::new().await;
    let cases = [
        (json!({ "slices": 0 }), "slices 0 is out of range: 1 to 10"),
        (json!({ "slices": 11 }), "slices 11 is out of range: 1 to 10"),
        (json!({ "slices": u32::MAX }), "slices 4294967295 is out of range: 1 to 10"),
        (json!({ "slice": 0, "slices": 3 }), "slice 0 is out of range: 1 to slices (3)"),
        (json!({ "slice": 4, "slices": 3 }), "slice 4 is out of range: 1 to slices (3)"),
        (json!({ "slice": 2 }), "slice 2 is out of range: 1 to slices (1)"),
        (json!({ "slice": u32::MAX, "slices": 10 }), "slice 4294967295 is out of range: 1 to slices (10)"),
        (json!({ "per-page": 2001 }), "per-page 2001 is out of range: 1 to 2,000"),
        (json!({ "per-page": 0, "slices": 2 }), "per-page 0 is out of range: 1 to 2,000"),
        (json!({ "page": 2, "slice": 2, "slices": 2 }), "page 2 of slice 2 continues a sliced sweep of Contacts, and none is open"),
    ];
    for (extra, message) in cases {
        let mut input = json!({ "record-type": "Contacts", "fields": "Last_Name" });
        for (k, v) in extra.as_object().expect("object") {
            input[k] = v.clone();
        }
        let outcome = h.run(LIST, input.clone()).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{input}");
        assert!(error["message"].as_str().expect("message").starts_with(message), "{input}: {error}");
        assert!(h.requests().is_empty(), "{input}: nothing is sent");
    }
    let outcome = h.run("sync-read-stream-page", json!({ "stream": "contacts", "slices": 11 })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert!(h.requests().is_empty());
    // A plan of 3 is open: another slices value, or an unsliced step, is refused unsent.
    ok_of(&h.run(LIST, json!({ "record-type": "Contacts", "fields": "Last_Name", "page": 1, "slice": 1, "slices": 3 })).await);
    h.sandbox.clear_requests();
    for other in [json!({ "slices": 4, "slice": 1, "page": 1 }), json!({ "slices": 4, "slice": 2, "page": 2 }), json!({ "page": 1 }), json!({})] {
        let mut input = json!({ "record-type": "Contacts", "fields": "Last_Name" });
        for (k, v) in other.as_object().expect("object") {
            input[k] = v.clone();
        }
        let outcome = h.run(LIST, input.clone()).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{input}");
        assert!(error["message"].as_str().expect("message").contains("pass slices 3 on every step"), "{input}: {error}");
        assert!(h.requests().is_empty(), "{input}");
    }
}

/// Two first steps that race each make a plan; the one stored last is the sweep's. A slice
/// whose walk belongs to the other plan gets a conflict on its next page and the commit is
/// refused, so two plans' pages are never mixed; asking every slice again from page 1 ends it.
#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_plan_is_a_conflict_never_a_mix() {
    let h = Harness::new().await;
    let step = |n: u32, page: u32, per_page: u32| json!({ "record-type": "Contacts", "page": page, "per-page": per_page, "fields": "Last_Name", "slice": n, "slices": 2 });
    let a = ok_of(&h.run(LIST, step(1, 1, 1000)).await).clone();
    // A first step read differently (another page size) makes a new plan, as a racing one would.
    let b = ok_of(&h.run(LIST, step(2, 1, 1300)).await).clone();
    assert_ne!(a["slice"]["plan"]["id"], b["slice"]["plan"]["id"]);
    h.sandbox.clear_requests();
    let outcome = h.run(LIST, step(1, 2, 1300)).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "conflict");
    assert!(error["message"].as_str().expect("message").contains("read every slice again from page 1"), "{error}");
    assert!(h.requests().is_empty());
    let outcome = h.run(COMMIT, json!({ "record-type": "Contacts" })).await;
    assert_eq!(error_of(&outcome)["kind"], "conflict");
    // Restarted: slice 1 from page 1 under the open plan, slice 2 finished.
    let one = ok_of(&h.run(LIST, step(1, 1, 1300)).await).clone();
    assert_eq!(one["slice"]["plan"]["id"], b["slice"]["plan"]["id"]);
    assert_eq!((ids(&one).len(), ids(&b).len(), one["more_records"].clone(), b["more_records"].clone()), (1300, 1300, json!(false), json!(false)));
    ok_of(&h.run(COMMIT, json!({ "record-type": "Contacts" })).await);
}

/// A stored plan an attacker or a bug garbled (wrong shape, not JSON) is no plan: a first step
/// makes a new one, a later page is refused unsent.
#[tokio::test(flavor = "multi_thread")]
async fn a_garbled_plan_is_no_plan() {
    let h = Harness::new().await;
    for garbage in [&b"{not json"[..], br#"{"id":"1","slices":3,"bounds":[]}"#, br#"{"id":"1","slices":99,"bounds":[null]}"#] {
        component_tests::runtime().kv().set(&h.namespace, "", "incremental/Contacts/plan", garbage).expect("kv set");
        let outcome = h.run(LIST, json!({ "record-type": "Contacts", "page": 2, "fields": "Last_Name", "slice": 1, "slices": 3 })).await;
        assert_eq!(error_of(&outcome)["kind"], "invalid-input");
        assert!(h.requests().is_empty());
    }
    let first = ok_of(&h.run(LIST, json!({ "record-type": "Contacts", "page": 1, "fields": "Last_Name", "slice": 1, "slices": 3 })).await).clone();
    assert_eq!(first["slice"]["plan"]["records"], 2600);
}

/// A hostile count answer (no count, a negative or huge one, text), from the record-count API
/// or COQL's COUNT, is a typed error or a plan that still covers every record: never a panic,
/// never a lost slice.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_count_answers_are_typed_errors() {
    let h = Harness::new().await;
    let count_path = "/crm/v8/Deals/actions/count";
    for body in [r#"{"total":5}"#, r#"{"count":-3}"#, r#"{}"#, r#"{"count":"x"}"#, r#"[1]"#] {
        h.sandbox.inject(component_tests::Fault::status(1, 200, body).on_path(count_path));
        let outcome = h.run(LIST, json!({ "record-type": "Deals", "page": 1, "fields": "Deal_Name", "slice": 1, "slices": 2 })).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "zoho", "{body}: {error}");
        assert!(error["message"].as_str().expect("message").contains("record count"), "{error}");
    }
    // A sweep since a date counts with COQL's COUNT on a system lookup.
    let since = json!({ "record-type": "Deals", "page": 1, "fields": "Deal_Name", "slice": 1, "slices": 2, "since": "2000-01-01" });
    for body in [r#"{"data":[{"total":5}],"info":{"count":1}}"#, r#"{"data":[{"COUNT(Created_By)":-3}]}"#, r#"{"data":[]}"#, r#"{"data":[{"COUNT(Created_By)":"x"}]}"#, r#"{"data":[{"COUNT(id)":5}]}"#]
    {
        h.sandbox.inject(component_tests::Fault::status(1, 200, body).on_path("/crm/v8/coql"));
        let outcome = h.run(LIST, since.clone()).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "zoho", "{body}: {error}");
        assert!(error["message"].as_str().expect("message").contains("COUNT(Created_By)"), "{error}");
    }
    // A count far past the records: the probes find fewer; the last slice still reads them all.
    h.sandbox.clear_requests();
    h.sandbox.inject(component_tests::Fault::status(1, 200, r#"{"count":18446744073709551615}"#).on_path(count_path));
    let first = ok_of(&h.run(LIST, json!({ "record-type": "Deals", "page": 1, "fields": "Deal_Name", "slice": 1, "slices": 2 })).await).clone();
    let second = ok_of(&h.run(LIST, json!({ "record-type": "Deals", "page": 1, "fields": "Deal_Name", "slice": 2, "slices": 2 })).await).clone();
    assert_eq!(ids(&first).len() + ids(&second).len(), 5, "{first} {second}");
    ok_of(&h.run(COMMIT, json!({ "record-type": "Deals" })).await);
}

/// A sync stream sliced: the same plan and walks on the stream's own scope; its commit waits.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_stream_reads_in_slices_and_commits_when_all_end() {
    let h = Harness::new().await;
    let read = |n: u32| json!({ "stream": "contacts", "page": 1, "per-page": 2000, "fields": "Last_Name", "anchor-date": "2000-01-01", "slice": n, "slices": 2 });
    let one = ok_of(&h.run("sync-read-stream-page", read(1)).await).clone();
    assert_eq!((one["stream"].clone(), one["slice"]["n"].clone(), one["more_records"].clone()), (json!("contacts"), json!(1), json!(false)));
    let outcome = h.run("sync-commit-stream", json!({ "stream": "contacts" })).await;
    assert_eq!(error_of(&outcome)["kind"], "conflict");
    let two = ok_of(&h.run("sync-read-stream-page", read(2)).await).clone();
    assert_eq!(ids(&one).len() + ids(&two).len(), 2600);
    assert_eq!(two["usage"], json!({ "calls": 1, "credits": 3 }));
    ok_of(&h.run("sync-commit-stream", json!({ "stream": "contacts" })).await);
    // A stream reads since its anchor date, a range the record-count API cannot count: COQL
    // counts it, with COUNT on a lookup every record has (COUNT takes number, lookup and
    // picklist fields; COUNT(id) is not documented).
    assert_request(&h.requests()[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Contacts")], None);
    assert_request(
        &h.requests()[1],
        &h.token,
        "POST",
        "/crm/v8/coql",
        &[],
        Some(json!({ "select_query": "select COUNT(Created_By) from Contacts where Modified_Time >= '2000-01-01T00:00:00+00:00'" })),
    );
}

// ---- the property: nothing lost across slices ----

/// How a step is taken: the next page, the same page again (a retry), or on a restarted host.
#[derive(Debug, Clone)]
enum How {
    Next,
    Again,
    Restarted,
}

fn how() -> impl Strategy<Value = How> {
    prop_oneof![6 => Just(How::Next), 1 => Just(How::Again), 1 => Just(How::Restarted)]
}

/// One sweep's schedule: per step, which unfinished slice moves (an index), how, and the
/// changes users make after it.
type Schedule = Vec<(usize, How, Vec<Change>)>;

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, .. ProptestConfig::default() })]

    /// Sliced sweeps (1 to 10 slices) with slice steps in any order, pages asked again, steps
    /// on a restarted host, and records created, deleted and modified between steps (moving
    /// them from one slice's range into another's, twice within one second too): every version
    /// that existed when a sweep began is delivered (or superseded by a delivered later one,
    /// or deleted) by the end of the next sweep, unless changed during that next sweep past
    /// its bound, as for unsliced sweeps (see incremental.rs).
    #[test]
    fn no_version_is_lost_across_slices(
        slices in 1u32..=10,
        per_page in 150u32..=400,
        rounds in prop::collection::vec(prop::collection::vec((0usize..10, how(), prop::collection::vec(change(), 0..12)), 1..40), 3..4),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        runtime.block_on(replay(slices, per_page, rounds));
    }
}

async fn step(h: &Harness, restarted: &Runtime, on_restarted: bool, input: Value) -> Value {
    let outcome = if on_restarted {
        let action = zoho_host::ActionRef::from_key(LIST).expect("key");
        let outcome = restarted.run(&action, &h.connection, &input, None, Some(&h.namespace)).await.expect("runs");
        component_tests::assert_output_of(&action, &outcome);
        outcome
    } else {
        h.run(LIST, input).await
    };
    ok_of(&outcome).clone()
}

async fn replay(slices: u32, per_page: u32, rounds: Vec<Schedule>) {
    let h = Harness::new().await;
    let restarted = new_runtime();
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    let mut ledger = Ledger::default();
    let what = format!("slices {slices}: ");
    let input = |n: u32, page: u32| json!({ "record-type": "Contacts", "page": page, "per-page": per_page, "fields": "Last_Name", "slice": n, "slices": slices });
    for (k, schedule) in rounds.iter().enumerate() {
        ledger.begin_sweep(&h);
        // Slice 1's first page makes the plan; the others fan out afterwards.
        let mut next: Vec<u32> = vec![1; slices as usize];
        let mut done = vec![false; slices as usize];
        let mut plan_id = Value::Null;
        let mut steps = schedule.iter().cloned().chain(std::iter::repeat((0, How::Next, Vec::new())));
        let mut first = true;
        while done.iter().any(|d| !d) {
            let (pick, how, changes) = steps.next().expect("endless");
            let open: Vec<usize> = (0..slices as usize).filter(|i| !done[*i]).collect();
            let i = if first { 0 } else { open[pick % open.len()] };
            first = false;
            let page = match how {
                How::Again if next[i] > 1 => next[i] - 1,
                _ => next[i],
            };
            let result = step(&h, &restarted, matches!(how, How::Restarted), input(i as u32 + 1, page)).await;
            let until = result["sweep"]["until"].as_str().map_or(i64::MAX, users::instant);
            if slices > 1 {
                if plan_id.is_null() {
                    plan_id = result["slice"]["plan"]["id"].clone();
                }
                assert_eq!(result["slice"]["plan"]["id"], plan_id, "one plan per sweep");
            }
            ledger.deliver(&result);
            if page == next[i] {
                if result["more_records"] == json!(true) {
                    next[i] += 1;
                } else {
                    done[i] = true;
                    if slices > 1 {
                        ledger.slice_walked(&result);
                    }
                }
            }
            for change in &changes {
                ledger.apply(&h, change, until);
            }
        }
        ok_of(&h.run(COMMIT, json!({})).await);
        ledger.end_sweep(&h, k, &what);
    }
    // The last changes come with one more (quiet) sliced sweep.
    let last = versions_now(&h);
    for n in 1..=slices {
        for page in read_slice(&h, "Contacts", n, slices, per_page, "Last_Name").await {
            ledger.deliver(&page);
        }
    }
    ok_of(&h.run(COMMIT, json!({})).await);
    ledger.check_final(&last, &what);
}

/// 2,000-row pages of wide records (Leads: more than 50 fields) come whole from one COQL call
/// (a SELECT takes 500 fields since v7): no records GET by id. Past the 32 MiB answer cap the
/// step is a typed error asking for less, never a trap, and a smaller per-page then reads the
/// same records.
#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_wide_records_fit_a_page_and_past_the_budget_are_a_typed_error() {
    let h = Harness::new().await;
    let lead = |i: usize, size: usize| {
        let mut values = serde_json::Map::new();
        values.insert("Last_Name".into(), json!(format!("Wide{i}")));
        for c in 1..=52 {
            values.insert(format!("Custom_Field_{c:02}__c"), json!(format!("{i}-{c}-{}", "w".repeat(size))));
        }
        Value::Object(values)
    };
    for i in 0..1_997 {
        h.sandbox.create_record("Leads", lead(i, 0));
    }
    let result = ok_of(&h.run(LIST, json!({ "record-type": "Leads", "page": 1, "per-page": 2000 })).await).clone();
    let records = result["records"].as_array().expect("records");
    assert_eq!((records.len(), result["more_records"].clone()), (2000, json!(false)));
    assert!(records.iter().all(|r| r["Custom_Field_52__c"].is_string() && r["Custom_Field_01__c"].is_string()), "every field of every record");
    let sent = h.requests();
    assert_eq!(sent.iter().map(|r| format!("{} {}", r.method, r.path)).collect::<Vec<_>>(), ["GET /crm/v8/settings/fields", "POST /crm/v8/coql"]);
    assert_eq!(result["usage"], json!({ "calls": 2, "credits": 4 }));
    ok_of(&h.run(COMMIT, json!({ "record-type": "Leads" })).await);

    // The same records grown to about 34 MB with every field: past the answer cap, a typed error.
    for (id, _) in h.sandbox.record_versions("Leads") {
        let mut values = lead(0, 320);
        values["Last_Name"] = json!(format!("Big {id}"));
        h.sandbox.modify_record("Leads", &id, values);
    }
    let outcome = h.run(LIST, json!({ "record-type": "Leads", "page": 1, "per-page": 2000 })).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "transport", "{error}");
    assert_eq!(error["message"], "Zoho's answer is larger than 32 MiB, the memory budget's answer cap; ask for less (fewer fields, a smaller page, or a smaller file)");
    let smaller = ok_of(&h.run(LIST, json!({ "record-type": "Leads", "page": 1, "per-page": 200 })).await).clone();
    assert_eq!(smaller["records"].as_array().map(Vec::len), Some(200));
}
