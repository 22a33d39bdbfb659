//! Zoho Books sync streams beside the CRM ones: discovery (`books_<resource>`, and a stream per
//! organization when the connection names none and the account has several), a page and a
//! commit of a Books stream on the Books sweep under the stream's own scope, and `zoho-host sync
//! --streams contacts,books_invoices` interrupted and resumed without duplicates or gaps.

use component_tests::{books_org, error_of, ok_of, runtime, Fault, Harness};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const OTHER: &str = zoho_sandbox::OTHER_BOOKS_ORG_ID;

fn names(result: &Value) -> Vec<String> {
    result["streams"].as_array().expect("streams").iter().map(|s| s["stream"].as_str().expect("name").to_string()).collect()
}

/// CRM's names stay as they were; Books' follow as `books_<resource>`; the account's two
/// organizations (the connection names none) each get `books_<id>_<resource>`, with the
/// organization in the descriptor, from exactly one `GET /books/v3/organizations`.
#[tokio::test(flavor = "multi_thread")]
async fn discover_lists_books_streams_and_one_per_organization() {
    let h = Harness::new().await;
    let swept = ["invoices", "bills", "contacts", "estimates", "salesorders", "purchaseorders", "creditnotes", "customerpayments", "vendorpayments", "expenses", "items", "recurringinvoices"];
    let result = ok_of(&h.run("sync-discover", json!({ "include-modules": false })).await).clone();
    let listed = names(&result);
    let crm = ["leads", "contacts", "accounts", "deals", "tasks", "meetings", "calls", "campaigns", "products", "quotes", "vendors", "notes", "companies", "users", "modules"];
    let books: Vec<String> = swept.iter().map(|r| format!("books_{r}")).collect();
    assert_eq!(listed, crm.iter().map(|s| s.to_string()).chain(books.iter().cloned()).collect::<Vec<_>>());
    assert!(h.requests().is_empty(), "include-modules false sends nothing");
    let invoices = &result["streams"][crm.len()];
    assert_eq!(
        invoices,
        &json!({ "stream": "books_invoices", "source": "books", "resource": "invoices", "organization_id": null, "incremental": true, "cursor_field": "last_modified_time", "primary_key": "invoice_id", "read_by": "books-list" })
    );

    let result = ok_of(&h.run("sync-discover", json!({})).await).clone();
    let listed = names(&result);
    let per_org = |org: &str| swept.iter().map(|r| format!("books_{org}_{r}")).collect::<Vec<_>>();
    let tail: Vec<String> = books.iter().cloned().chain(per_org(zoho_sandbox::BOOKS_ORG_ID)).chain(per_org(OTHER)).collect();
    assert_eq!(listed[listed.len() - tail.len()..], tail[..]);
    let other = result["streams"].as_array().expect("streams").iter().find(|s| s["stream"] == format!("books_{OTHER}_bills")).expect("other org's bills");
    assert_eq!((other["organization_id"].as_str(), other["resource"].as_str(), other["primary_key"].as_str()), (Some(OTHER), Some("bills"), Some("bill_id")));
    let sent: Vec<(String, String)> = h.requests().iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    assert_eq!(sent, [("GET".to_string(), "/crm/v8/settings/modules".to_string()), ("GET".to_string(), "/books/v3/organizations".to_string())]);
    assert!(h.requests()[1].query.is_empty());

    // A connection that names its organization has one set of Books streams, no lookup.
    let named = component_tests::with_books_org(&h);
    h.sandbox.clear_requests();
    let result = ok_of(&h.run_as(&named, "sync-discover", json!({}), None).await).clone();
    assert!(!names(&result).iter().any(|n| n.starts_with(&format!("books_{OTHER}"))));
    assert_eq!(result["streams"].as_array().expect("streams").iter().find(|s| s["stream"] == "books_items").expect("items")["organization_id"], zoho_sandbox::BOOKS_ORG_ID);
    assert_eq!(h.requests().len(), 1, "only the CRM modules");

    // An account whose Books cannot be listed still discovers, and says so.
    h.sandbox.inject(Fault::status(1, 401, r#"{"code":57,"message":"You are not authorized to perform this operation"}"#).on_path("/books/v3/organizations"));
    let result = ok_of(&h.run("sync-discover", json!({})).await).clone();
    assert!(names(&result).contains(&"books_invoices".to_string()));
    let warning = result["warnings"][0].as_str().expect("a warning");
    assert!(warning.starts_with("Zoho Books' organizations could not be listed ("), "{warning}");
}

/// A Books stream's page is the Books sweep's list request exactly (organization, the anchor a
/// second early in Books' shape, ascending by modification, 200 a request), its commit names
/// the organization, and its cursor is its own: the Books sweep action still reads everything.
/// CRM-only inputs are refused before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_books_stream_reads_and_commits_on_its_own_cursor() {
    let h = Harness::new().await;
    let total = h.sandbox.books_count("invoices");
    assert!(total > 0, "the sandbox seeds invoices");
    let page = ok_of(&h.run("sync-read-stream-page", json!({ "stream": "books_invoices", "anchor-date": "2000-01-01", "per-page": 200 })).await).clone();
    assert_eq!((page["stream"].as_str(), page["incremental"].as_bool(), page["organization_id"].as_str()), (Some("books_invoices"), Some(true), Some(zoho_sandbox::BOOKS_ORG_ID)));
    assert_eq!(page["records"].as_array().map(Vec::len), Some(total));
    assert_eq!(page["more_records"], false);
    assert_eq!(page["sweep"]["since"], "2000-01-01T00:00:00+00:00");
    let lists: Vec<_> = h.requests().into_iter().filter(|r| r.path == "/books/v3/invoices").collect();
    let first = &lists[0];
    assert_eq!(first.method, "GET");
    assert!(first.body.is_empty());
    let expected: Vec<(String, String)> =
        [books_org(), ("last_modified_time", "1999-12-31T23:59:59+0000"), ("sort_column", "last_modified_time"), ("sort_order", "A"), ("page", "1"), ("per_page", "200")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(first.query, expected);
    let committed = ok_of(&h.run("sync-commit-stream", json!({ "stream": "books_invoices" })).await).clone();
    assert_eq!((committed["stream"].as_str(), committed["organization_id"].as_str(), committed["source"].as_str()), (Some("books_invoices"), Some(zoho_sandbox::BOOKS_ORG_ID), Some("sweep")));
    assert!(h.stored(&format!("incremental/sync/books_invoices/{}/cursor", zoho_sandbox::BOOKS_ORG_ID)).is_some());
    // The sweep action keeps its own cursor: it reads every invoice still.
    let action = ok_of(&h.run("books-list-modified-records-by-page", json!({ "record-type": "invoices", "since": "2000-01-01" })).await).clone();
    assert_eq!(action["records"].as_array().map(Vec::len), Some(total));

    // The other organization's stream reads its own invoices.
    h.sandbox.clear_requests();
    let other = ok_of(&h.run("sync-read-stream-page", json!({ "stream": format!("books_{OTHER}_invoices"), "anchor-date": "2000-01-01" })).await).clone();
    assert_eq!(other["organization_id"], OTHER);
    assert!(h.requests().iter().filter(|r| r.path == "/books/v3/invoices").all(|r| r.query_param("organization_id") == Some(OTHER)));
    assert!(other["records"].as_array().expect("records").iter().all(|r| r["currency_code"] == "EUR"), "{other}");

    h.sandbox.clear_requests();
    for (input, why) in [
        (json!({ "stream": "books_invoices", "fields": "invoice_id" }), "fields applies to CRM streams only"),
        (json!({ "stream": "books_invoices", "slices": 2, "slice": 1 }), "books_invoices is read as one walk"),
        (json!({ "stream": "books_journals" }), "stream \"books_journals\" is not a Books stream"),
        (json!({ "stream": "books_invoices", "per-page": 201 }), "per-page 201 is out of range: 1 to 200"),
    ] {
        let error = error_of(&h.run("sync-read-stream-page", input.clone()).await).clone();
        assert_eq!(error["kind"], "invalid-input", "{input}");
        assert!(error["message"].as_str().expect("message").starts_with(why), "{input}: {error}");
    }
    assert!(h.requests().is_empty(), "refused before anything is sent");
}

fn ids_in(dir: &std::path::Path, stream: &str, id: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(format!("{stream}.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line")[id].as_str().expect("id").to_string())
        .collect()
}

fn request<'a>(streams: &'a [String], dir: &'a std::path::Path) -> zoho_host::sync::SyncRequest<'a> {
    zoho_host::sync::SyncRequest {
        streams,
        anchor_date: Some("2000-01-01"),
        reset: false,
        out_dir: dir,
        per_page: Some(100),
        concurrency: 3,
        backoff_at_credit_percentage: None,
        slices: 1,
        requests_per_second: None,
        strategy: None,
    }
}

/// 250 invoices on one second and 200 over the next four, beside the seeded ones.
fn seed_invoices(h: &Harness) -> Vec<String> {
    h.sandbox.clock().freeze_at(chrono::Utc::now());
    (0..450)
        .map(|i| {
            if i >= 250 && i % 50 == 0 {
                h.sandbox.clock().advance(chrono::Duration::seconds(1));
            }
            h.sandbox.create_books_record("invoices", "invoice_id", json!({ "customer_id": "460000000000001", "reference_number": format!("stream-{i}") }))
        })
        .collect()
}

/// `zoho-host sync --streams contacts,books_invoices`: both streams written; interrupted by a
/// Books 500 mid-walk (pages of the crowded second among those written), the same command
/// resumes each stream after its last whole page, and the result equals an uninterrupted
/// run's: every invoice of the organization once, every contact once. A later run appends
/// only what changed since.
#[tokio::test(flavor = "multi_thread")]
async fn sync_runs_crm_and_books_streams_and_resumes_without_duplicates_or_gaps() {
    let streams: Vec<String> = ["contacts", "books_invoices"].iter().map(|s| s.to_string()).collect();
    let base = std::env::temp_dir().join(format!("zoho-books-sync-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);

    let h = Harness::new().await;
    let created = seed_invoices(&h);
    let clean = base.join("clean");
    let summary = zoho_host::sync::run(runtime(), &h.connection, Some(&h.namespace), &request(&streams, &clean)).await.expect("sync");
    assert_eq!(summary["books_invoices"]["status"], "done", "{summary:?}");
    let clean_ids = ids_in(&clean, "books_invoices", "invoice_id");
    assert_eq!(clean_ids.len(), h.sandbox.books_count("invoices"));
    assert!(created.iter().all(|id| clean_ids.contains(id)));

    let h2 = Harness::new().await;
    seed_invoices(&h2);
    let resumed = base.join("resumed");
    // The 6th Books list request fails: the walk is inside the crowded second.
    h2.sandbox.inject(Fault::status(1, 500, r#"{"code":1,"message":"boom"}"#).on_path("/books/v3/invoices").after(5));
    let first = zoho_host::sync::run(runtime(), &h2.connection, Some(&h2.namespace), &request(&streams, &resumed)).await;
    assert!(first.is_err(), "the fault interrupted the sync");
    let state: Value = serde_json::from_slice(&std::fs::read(resumed.join("state.json")).expect("state")).expect("json");
    assert_eq!(state["streams"]["books_invoices"]["status"], "reading", "{state}");
    assert!(state["streams"]["books_invoices"]["pages_written"].as_u64().expect("pages") >= 2, "{state}");
    zoho_host::sync::run(runtime(), &h2.connection, Some(&h2.namespace), &request(&streams, &resumed)).await.expect("resumed");

    for (stream, id) in [("contacts", "id"), ("books_invoices", "invoice_id")] {
        let (a, b) = (ids_in(&clean, stream, id), ids_in(&resumed, stream, id));
        let unique: BTreeSet<&String> = b.iter().collect();
        assert_eq!(unique.len(), b.len(), "{stream}: no duplicates after resuming");
        assert_eq!(a.iter().collect::<BTreeSet<_>>(), unique, "{stream}: no gaps");
    }
    assert_eq!(ids_in(&resumed, "contacts", "id").len(), 2600);
    assert_eq!(ids_in(&resumed, "books_invoices", "invoice_id").len(), h2.sandbox.books_count("invoices"));

    // The next run appends only the invoice changed since.
    let before = ids_in(&resumed, "books_invoices", "invoice_id").len();
    h2.sandbox.clock().advance(chrono::Duration::seconds(5));
    let changed = ids_in(&resumed, "books_invoices", "invoice_id")[7].clone();
    assert!(h2.sandbox.modify_books_record("invoices", "invoice_id", &changed, json!({ "reference_number": "changed" })));
    let books_only = vec!["books_invoices".to_string()];
    let mut again = request(&books_only, &resumed);
    again.anchor_date = None;
    zoho_host::sync::run(runtime(), &h2.connection, Some(&h2.namespace), &again).await.expect("next run");
    let after = ids_in(&resumed, "books_invoices", "invoice_id");
    assert_eq!(after[before..], [changed]);
    let _ = std::fs::remove_dir_all(&base);
}

/// `backoff-at-credit-percentage` on a Books stream is Books' daily allowance, as its
/// `X-Rate-Limit-Limit` and `-Remaining` report it (never CRM's credits: no CRM request is
/// sent). Free plan, 1,000 a day: under half used the stream reads; once Books reports half
/// used, the next read is `credits-exhausted` with the wait until Books' reset, and sends
/// nothing; a share of 1.0 still reads.
#[tokio::test(flavor = "multi_thread")]
async fn the_backoff_share_applies_to_books_daily_allowance() {
    let h = Harness::new().await;
    let connection = component_tests::with_books_org(&h);
    h.sandbox.set_limits(zoho_sandbox::Limits { books_per_day: 1_000, books_day_headers: true, ..Default::default() });
    h.sandbox.set_books_used_today(zoho_sandbox::BOOKS_ORG_ID, 490);
    let read = |share: f64| h.run_as(&connection, "sync-read-stream-page", json!({ "stream": "books_invoices", "anchor-date": "2000-01-01", "backoff-at-credit-percentage": share }), None);
    ok_of(&read(0.5).await);
    ok_of(&h.run_as(&connection, "sync-commit-stream", json!({ "stream": "books_invoices" }), None).await);
    let sent = h.requests().iter().filter(|r| r.path.starts_with("/books/v3/")).count() as u64;
    assert!(!h.requests().iter().any(|r| r.path.starts_with("/crm/")), "no CRM request: {:?}", h.requests());
    assert!(490 + sent < 500, "{sent} requests");
    // Books reports 500 of 1,000 used: the next read at half is refused, sending nothing.
    h.sandbox.set_books_used_today(zoho_sandbox::BOOKS_ORG_ID, 499);
    ok_of(&read(0.5).await);
    h.sandbox.clear_requests();
    let error = error_of(&read(0.5).await).clone();
    assert!(!h.requests().iter().any(|r| r.path.starts_with("/books/") || r.path.starts_with("/crm/")), "refused before anything is sent: {:?}", h.requests());
    assert_eq!(error["kind"], "credits-exhausted", "{error}");
    let wait = error["retry-after-ms"].as_u64().expect("retry-after-ms");
    assert!((1..=86_400_000).contains(&wait), "until Books' reset: {wait}");
    let spent = error["details"]["spent"].as_u64().expect("spent");
    assert!(spent >= 500, "{error}");
    assert_eq!(error["details"], json!({ "spent": spent, "allotment": 1000, "organization_id": zoho_sandbox::BOOKS_ORG_ID, "source": "books" }));
    assert!(error["message"]
        .as_str()
        .expect("message")
        .starts_with(&format!("{spent} of today's 1000 Zoho Books requests for organization {} are used, at or past the 50% backoff share", zoho_sandbox::BOOKS_ORG_ID)));
    ok_of(&read(1.0).await);
    for bad in [0.4, 1.1] {
        assert_eq!(error_of(&read(bad).await)["kind"], "invalid-input");
    }
}
