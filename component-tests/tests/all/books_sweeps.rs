//! Books sweeps end to end: the exact list requests (organization, `last_modified_time` in
//! Books' shape, ascending by modification, numbered pages), 450 invoices on one second walked
//! forward then back, invoices deleted or changed between pages of that second, a retried page
//! and a host restart between pages, the commit per organization, line items from the detail
//! answer, and the manifest's trigger.

use component_tests::{books_org, error_of, new_runtime, ok_of, with_books_org, Harness};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use zoho_sandbox::RecordedRequest;

const LIST: &str = "books-list-modified-records-by-page";
const COMMIT: &str = "books-update-last-successful-run-date";

/// `seconds` in Books' filter shape: UTC, offset without a colon.
fn books_time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).expect("time").format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

fn ids(result: &Value) -> Vec<String> {
    result["records"].as_array().expect("records").iter().map(|r| r["invoice_id"].as_str().expect("invoice_id").to_string()).collect()
}

fn assert_once(all: &[String]) {
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "an invoice delivered twice in one sweep");
}

/// The list requests so far, as (page, last_modified_time), each checked to be Books' list
/// request exactly: GET, the path, the organization, the sort, 200 a page, no body.
fn walked(h: &Harness) -> Vec<(String, Option<String>)> {
    h.requests()
        .iter()
        .filter(|r| r.path == "/books/v3/invoices")
        .map(|r: &RecordedRequest| {
            assert_eq!(r.method, "GET");
            assert!(r.body.is_empty());
            let filter = r.query_param("last_modified_time").map(str::to_string);
            let mut expected = vec![books_org()];
            let filter_pair;
            if let Some(f) = &filter {
                filter_pair = ("last_modified_time", f.as_str());
                expected.push(filter_pair);
            }
            let page = r.query_param("page").expect("page").to_string();
            expected.extend([("sort_column", "last_modified_time"), ("sort_order", "A"), ("page", page.as_str()), ("per_page", "200")]);
            let expected: Vec<(String, String)> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            assert_eq!(r.query, expected, "query of {r:?}");
            (format!("page {page}"), filter)
        })
        .collect()
}

/// 450 invoices created in one frozen second, carrying line items Books keeps for the detail.
fn bulk(h: &Harness) -> (Vec<String>, i64) {
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    let s = h.sandbox.clock().now().timestamp();
    let ids = (0..450)
        .map(|i| {
            h.sandbox.create_books_record(
                "invoices",
                "invoice_id",
                json!({ "customer_id": "460000000000001", "reference_number": format!("bulk-{i}"), "line_items": [{ "item_id": "460000020000001", "quantity": 1, "rate": 120.0 }] }),
            )
        })
        .collect();
    (ids, s)
}

fn step(page: u32, per_page: u32, since: i64) -> Value {
    json!({ "record-type": "invoices", "page": page, "per-page": per_page, "since": books_time(since) })
}

/// Reads a sweep from page 1 to its end; returns its pages.
async fn sweep(h: &Harness, connection: &Value, per_page: u32, since: Option<i64>) -> Vec<Value> {
    let mut pages = Vec::new();
    for page in 1.. {
        let mut input = json!({ "record-type": "invoices", "page": page, "per-page": per_page });
        if let Some(since) = since {
            input["since"] = json!(books_time(since));
        }
        let result = ok_of(&h.run_as(connection, LIST, input, None).await).clone();
        assert_eq!(result["page"], page);
        let more = result["more_records"] == json!(true);
        assert_eq!(result["next_page"], if more { json!(page + 1) } else { Value::Null });
        pages.push(result);
        if !more {
            break;
        }
    }
    pages
}

/// 450 invoices on one second, 200 a page: page 1 of the list from a second early delivers
/// 200; then the list from the second before theirs holds nothing past it, so the walk reads
/// that list deeper by page number, then the same pages backward; every invoice once, without
/// line items (a list answer has none), and the commit's next sweep drops them as delivered.
#[tokio::test(flavor = "multi_thread")]
async fn four_hundred_fifty_invoices_on_one_second_are_swept_once_each() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let (bulk, s) = bulk(&h);
    h.sandbox.clear_requests();
    let swept = sweep(&h, &connection, 200, Some(s - 60)).await;
    let all: Vec<String> = swept.iter().flat_map(ids).collect();
    assert_once(&all);
    assert_eq!(all, bulk, "the second's invoices in Books' order");
    assert_eq!(swept.iter().map(|p| p["records"].as_array().map_or(0, Vec::len)).collect::<Vec<_>>(), [200, 200, 50]);
    for page in &swept {
        for record in page["records"].as_array().expect("records") {
            assert!(record.get("line_items").is_none(), "a list answer has no line items");
            assert_eq!(record["last_modified_time"].as_str().map(|t| t.ends_with("-0700")), Some(true));
        }
    }
    let (early, before, at, after) = (Some(books_time(s - 61)), Some(books_time(s - 1)), Some(books_time(s)), Some(books_time(s + 1)));
    let page = |n: u32, since: &Option<String>| (format!("page {n}"), since.clone());
    assert_eq!(
        walked(&h),
        [
            page(1, &early),
            // Page 2: the list from the second before theirs; its page 1 holds nothing past the
            // second, so the same list is read deeper: page 2 (200 new, the step's page full).
            page(1, &before),
            page(2, &before),
            // Page 3: page 3 (50 new, the list's end), then back over pages 2 and 1; then the
            // list after the second (inclusive, as a record at the asked second showed), empty.
            page(3, &before),
            page(2, &before),
            page(1, &before),
            page(1, &at),
            page(1, &after),
        ]
    );
    let committed = ok_of(&h.run_as(&connection, COMMIT, json!({ "record-type": "invoices" }), None).await).clone();
    assert_eq!((committed["record_type"].as_str(), committed["source"].as_str(), committed["organization_id"].as_str()), (Some("invoices"), Some("sweep"), Some(zoho_sandbox::BOOKS_ORG_ID)));
    assert_eq!(committed["cursor"].as_str(), Some(swept[0]["sweep"]["commits_cursor"].as_str().expect("cursor")));
    // The next sweep starts a little before the last one began: it reads the 450 again and
    // drops them, as delivered with the same content.
    let next = sweep(&h, &connection, 200, None).await;
    assert_eq!(next.iter().map(|p| p["records"].as_array().map_or(0, Vec::len)).sum::<usize>(), 0);
    assert_eq!(next.iter().map(|p| p["sweep"]["duplicates_dropped"].as_u64().unwrap_or(0)).sum::<u64>(), 450);
    assert!(h.stored(&format!("incremental/books/{}/invoices/cursor", zoho_sandbox::BOOKS_ORG_ID)).is_some());
}

/// The attack on a crowded second: after page 1 and page 2, ten invoices the sweep delivered
/// are deleted and five it has not reached are changed (they move past the sweep's bound), so
/// Books' numbered pages of that second shift back and invoices move onto pages already read.
/// The backward pass delivers them; every invoice left unchanged is delivered once.
#[tokio::test(flavor = "multi_thread")]
async fn invoices_shifted_onto_pages_already_read_are_delivered() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let (bulk, s) = bulk(&h);
    // 200 a page: page 2 ends where the list's page 2 does, so page 3 reads the list's page 3,
    // and the ten invoices that shift from it onto page 2 are found only by reading page 2 again.
    let first = ok_of(&h.run_as(&connection, LIST, step(1, 200, s - 60), None).await).clone();
    let second = ok_of(&h.run_as(&connection, LIST, step(2, 200, s - 60), None).await).clone();
    assert_eq!(ids(&second), bulk[200..400]);
    for id in &bulk[..10] {
        assert!(h.sandbox.delete_books_record("invoices", "invoice_id", id));
    }
    h.sandbox.clock().advance(chrono::Duration::seconds(5));
    for id in &bulk[420..425] {
        assert!(h.sandbox.modify_books_record("invoices", "invoice_id", id, json!({ "reference_number": "changed" })));
    }
    h.sandbox.clear_requests();
    let third = ok_of(&h.run_as(&connection, LIST, step(3, 200, s - 60), None).await).clone();
    assert_eq!(third["more_records"], false);
    // The list's page 3 (the second ends), then pages 2 and 1 again: page 2 now holds the ten.
    let read: Vec<String> = walked(&h).into_iter().map(|(at, _)| at).collect();
    assert_eq!(read[..3], ["page 3", "page 2", "page 1"]);
    assert!(bulk[400..410].iter().all(|id| ids(&third).contains(id)), "the invoices shifted onto page 2 are delivered");
    let all: Vec<String> = [first, second, third].iter().flat_map(ids).collect();
    assert_once(&all);
    let expected: HashSet<String> = bulk.iter().filter(|id| !bulk[420..425].contains(id)).cloned().collect();
    assert_eq!(all.iter().cloned().collect::<HashSet<_>>(), expected, "every unchanged invoice once (the deleted ones as delivered before); the changed ones are past this sweep's bound");
    ok_of(&h.run_as(&connection, COMMIT, json!({ "record-type": "invoices" }), None).await);
    // The next sweep delivers the changed five (their new second is after the cursor).
    let next: Vec<String> = sweep(&h, &connection, 200, None).await.iter().flat_map(ids).collect();
    assert_eq!(next.iter().cloned().collect::<HashSet<_>>(), bulk[420..425].iter().cloned().collect::<HashSet<_>>());
}

/// A page asked again (a retried step) gets the same invoices, within the crowded second too,
/// and a host restarted between pages goes on with the same sweep from the store.
#[tokio::test(flavor = "multi_thread")]
async fn a_retried_page_gets_the_same_invoices_and_a_restart_between_pages_goes_on() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let (bulk, s) = bulk(&h);
    let mut read = HashMap::new();
    for n in 1..=3 {
        read.insert(n, ok_of(&h.run_as(&connection, LIST, step(n, 100, s - 60), None).await).clone());
    }
    for n in [2, 3, 1] {
        let again = ok_of(&h.run_as(&connection, LIST, step(n, 100, s - 60), None).await).clone();
        assert_eq!(again["records"], read[&n]["records"], "page {n} asked again");
        assert_eq!(again["sweep"]["id"], read[&1]["sweep"]["id"]);
    }
    let restarted = new_runtime();
    let action = zoho_host::ActionRef::from_key(LIST).expect("key");
    let mut rest = Vec::new();
    for n in 4..=5 {
        let outcome = restarted.run(&action, &connection, &step(n, 100, s - 60), None, Some(&h.namespace)).await.expect("runs");
        rest.push(ok_of(&outcome).clone());
    }
    assert_eq!(rest[0]["sweep"]["id"], read[&1]["sweep"]["id"]);
    assert_eq!((rest[0]["more_records"].clone(), rest[1]["more_records"].clone()), (json!(true), json!(false)));
    let all: Vec<String> = (1..=3).flat_map(|n| ids(&read[&n])).chain(rest.iter().flat_map(ids)).collect();
    assert_once(&all);
    assert_eq!(all, bulk);
}

/// 450 invoices one a second, 200 a page: each step is one request. Step 2's list starts a
/// second early (the filter's reading is not yet known), so its answer of 200 relists two
/// invoices already delivered and holds 198 new ones; the step ends on that short page, more
/// records to come, instead of asking again for two places and discarding the rest. Step 3
/// asks from the second itself (the answer showed the filter inclusive) and ends the sweep.
/// Every invoice once, in order; each step's `books_calls` is 1.
#[tokio::test(flavor = "multi_thread")]
async fn a_step_of_two_hundred_invoices_is_one_request_even_when_it_ends_short() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    h.sandbox.clock().freeze_at(chrono::Utc::now() - chrono::Duration::seconds(600));
    let s = h.sandbox.clock().now().timestamp();
    let made: Vec<String> = (1..=450i64)
        .map(|n| {
            h.sandbox.clock().advance(chrono::Duration::seconds(1));
            h.sandbox.create_books_record("invoices", "invoice_id", json!({ "customer_id": "460000000000001", "reference_number": format!("one-a-second-{n}") }))
        })
        .collect();
    h.sandbox.clock().advance(chrono::Duration::seconds(30));
    h.sandbox.clear_requests();
    let mut asked = Vec::new();
    let swept = {
        let mut pages = Vec::new();
        for page in 1u32.. {
            let before = walked(&h).len();
            let result = ok_of(&h.run_as(&connection, LIST, step(page, 200, s), None).await).clone();
            asked.push(walked(&h)[before..].to_vec());
            assert_eq!(result["usage"]["books_calls"], 1, "page {page}: one Books call");
            let more = result["more_records"] == json!(true);
            pages.push(result);
            if !more {
                break;
            }
        }
        pages
    };
    assert_eq!(swept.iter().map(|p| p["records"].as_array().map_or(0, Vec::len)).collect::<Vec<_>>(), [200, 198, 52]);
    let all: Vec<String> = swept.iter().flat_map(ids).collect();
    assert_once(&all);
    assert_eq!(all, made);
    // Invoice n was made at s + n: step 2 asks from a second before invoice 200's, step 3 from
    // invoice 398's second itself (the last step 2 delivered).
    let page1 = |since: i64| vec![("page 1".to_string(), Some(books_time(since)))];
    assert_eq!(asked, [page1(s - 1), page1(s + 199), page1(s + 398)]);
}

/// include-line-items: after the list, one GET per invoice for its detail (with organization),
/// each counted as a Books call; the records carry their line items.
#[tokio::test(flavor = "multi_thread")]
async fn line_items_come_from_each_invoices_detail() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    let s = h.sandbox.clock().now().timestamp();
    let made: Vec<String> = (0..3)
        .map(|i| {
            h.sandbox.create_books_record("invoices", "invoice_id", json!({ "customer_id": "460000000000001", "line_items": [{ "item_id": "460000020000001", "quantity": i + 1, "rate": 120.0 }] }))
        })
        .collect();
    h.sandbox.clear_requests();
    let input = json!({ "record-type": "invoices", "since": books_time(s), "include-line-items": true });
    let page = ok_of(&h.run_as(&connection, LIST, input, None).await).clone();
    assert_eq!(ids(&page), made);
    for (i, record) in page["records"].as_array().expect("records").iter().enumerate() {
        assert_eq!(record["line_items"], json!([{ "item_id": "460000020000001", "quantity": i + 1, "rate": 120.0 }]));
        assert_eq!(Some(record), h.sandbox.books_record("invoices", None, "invoice_id", &made[i]).as_ref());
    }
    assert_eq!((page["per_page"].clone(), page["more_records"].clone(), page["usage"]["books_calls"].clone()), (json!(50), json!(false), json!(4)));
    let requests = h.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(walked(&h), [("page 1".to_string(), Some(books_time(s - 1)))]);
    for (request, id) in requests[1..].iter().zip(&made) {
        component_tests::assert_request(request, &h.token, "GET", &format!("/books/v3/invoices/{id}"), &[books_org()], None);
    }
}

/// Journals are refused before anything is sent, saying why; the commit of a sweep whose last
/// page was not read is a conflict.
#[tokio::test(flavor = "multi_thread")]
async fn journals_are_refused_and_an_unfinished_sweep_is_not_committed() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let outcome = h.run_as(&connection, LIST, json!({ "record-type": "journals" }), None).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "invalid-input");
    assert!(error["message"].as_str().is_some_and(|m| m.starts_with("journals cannot be swept: Zoho Books' journals list matches last_modified_time exactly")));
    assert!(h.requests().is_empty());
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    let s = h.sandbox.clock().now().timestamp();
    for _ in 0..3 {
        h.sandbox.create_books_record("invoices", "invoice_id", json!({ "customer_id": "460000000000001" }));
    }
    let first = ok_of(&h.run_as(&connection, LIST, json!({ "record-type": "invoices", "per-page": 2, "since": books_time(s) }), None).await).clone();
    assert_eq!(first["more_records"], true);
    let refused = h.run_as(&connection, COMMIT, json!({ "record-type": "invoices" }), None).await;
    assert_eq!(error_of(&refused)["kind"], "conflict");
}

/// The manifest offers the sweep as Pipedream's and Make's polling trigger.
#[test]
fn the_manifest_marks_the_books_sweep_as_a_polling_trigger() {
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../actions.json")).expect("actions.json")).expect("json");
    let actions = manifest["actions"].as_array().expect("actions");
    let action = actions.iter().find(|a| a["key"] == LIST).expect("the Books sweep");
    assert_eq!(action["label"], "Books - New or Updated Records");
    assert_eq!(action["trigger"]["kind"], "polling");
    assert!(action["output-schema"].is_object() && action["output-sample"].is_object());
    assert!(actions.iter().any(|a| a["key"] == COMMIT));
}

/// Books documents no order among records modified in the same second. A Books that orders
/// them the opposite way on every other request (the sandbox's `books_reorder_ties`) shows some
/// of 450 invoices of one second on two pages and others on none: before, the sweep ended as if
/// complete and lost them silently; now the places shown twice are seen, the second is read
/// again, and a second that never holds still ends the sweep with a typed error naming it,
/// nothing committed. Every invoice delivered before the error is one of the 450, once.
#[tokio::test(flavor = "multi_thread")]
async fn ties_reordered_between_requests_are_never_a_silent_loss() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let (bulk, s) = bulk(&h);
    h.sandbox.set_limits(zoho_sandbox::Limits { books_reorder_ties: true, ..Default::default() });
    let mut delivered = Vec::new();
    let mut outcome = None;
    for page in 1..=10 {
        match &h.run_as(&connection, LIST, step(page, 200, s - 60), None).await.result {
            Ok(result) => {
                delivered.extend(ids(result));
                if result["more_records"] == json!(false) {
                    outcome = Some(Ok(()));
                    break;
                }
            }
            Err(error) => {
                outcome = Some(Err(error.clone()));
                break;
            }
        }
    }
    assert_once(&delivered);
    assert!(delivered.iter().all(|id| bulk.contains(id)));
    match outcome.expect("the sweep ended") {
        Ok(()) => assert_eq!(delivered.len(), 450, "a sweep that ends delivered every invoice of the second"),
        Err(error) => {
            assert_eq!(error["kind"], "zoho", "{error}");
            let message = error["message"].as_str().expect("message");
            assert!(message.starts_with("Zoho's invoices list did not keep one order among the "), "{message}");
            assert!(message.contains(&chrono::DateTime::from_timestamp(s, 0).expect("time").format("%Y-%m-%dT%H:%M:%S+00:00").to_string()), "{message}");
            assert_eq!(error_of(&h.run_as(&connection, COMMIT, json!({ "record-type": "invoices" }), None).await)["kind"], "conflict", "nothing committed");
        }
    }
    // Zoho keeping one order again, the sweep read from page 1 delivers all 450.
    h.sandbox.set_limits(zoho_sandbox::Limits::default());
    let again: Vec<String> = sweep(&h, &connection, 200, Some(s - 60)).await.iter().flat_map(ids).collect();
    assert_eq!(again.iter().collect::<HashSet<_>>(), bulk.iter().collect::<HashSet<_>>());
}
