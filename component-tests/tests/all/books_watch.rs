//! `zoho-host watch --books` end to end: Zoho Books resources swept every `--sweep-every` (Books
//! has no notification API), with no listener or public URL when only Books is watched. Each
//! invoice created or edited between sweeps is one line per version, in the CRM lines' shape
//! with the resource and organization; a restarted watch goes on from the committed cursor
//! (changes made while it was down written once, nothing earlier again); CRM events and Books
//! resources watched together each write their own lines.

use crate::watch::{appending, by_id, lines, notify_listener, out_file, until};
use component_tests::{books_org, new_runtime, runtime, with_books_org, Harness};
use serde_json::{json, Value};
use std::path::Path;
use zoho_host::watch::{self, WatchFlags, WatchRequest, WatchSummary};
use zoho_host::Runtime;
use zoho_sandbox::{RecordedRequest, BOOKS_ORG_ID};

fn flags<'a>(events: &'a [String], books: &'a [String], public_url: Option<&'a str>) -> WatchFlags<'a> {
    WatchFlags { events, books, listen: public_url.is_some(), public_url, sweep_every: "1s", check_every: "1m", fetch_records: true, expiry_minutes: 10_080 }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The Books list requests answered so far, each checked to be the Books sweep's list request
/// exactly (GET, the organization, `last_modified_time`, ascending by it, page 1 of 200, no
/// body); returns each one's `last_modified_time`.
fn books_sweeps(h: &Harness) -> Vec<String> {
    h.sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "/books/v3/invoices" && r.response_status.is_some())
        .map(|r: &RecordedRequest| {
            assert_eq!(r.method, "GET");
            assert!(r.body.is_empty());
            let since = r.query_param("last_modified_time").expect("a Books sweep filters by last_modified_time").to_string();
            let expected: Vec<(String, String)> = [books_org(), ("last_modified_time", since.as_str()), ("sort_column", "last_modified_time"), ("sort_order", "A"), ("page", "1"), ("per_page", "200")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(r.query, expected, "query of {r:?}");
            since
        })
        .collect()
}

/// Waits for `n` more Books sweeps than `before` answered: a change made before the wait is
/// read by the last of them.
async fn more_sweeps(h: &Harness, before: usize, n: usize) {
    until("more Books sweeps", || books_sweeps(h).len() >= before + n).await;
}

/// Runs a Books-only watch while `driver` runs, then stops it.
async fn watching_books<F: std::future::Future<Output = ()>>(runtime: &Runtime, h: &Harness, connection: &Value, request: &WatchRequest, out: &Path, driver: F) -> WatchSummary {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watch = watch::run_books(runtime, connection, Some(&h.namespace), request, appending(out), async {
        let _ = stopped.await;
    });
    let drive = async {
        driver.await;
        let _ = stop.send(());
    };
    let (summary, ()) = tokio::join!(watch, drive);
    summary.unwrap_or_else(|e| panic!("the watch failed: {e:#}"))
}

fn create_invoice(h: &Harness, reference: &str) -> String {
    h.sandbox.create_books_record("invoices", "invoice_id", json!({ "customer_id": "460000000000001", "reference_number": reference }))
}

fn edit_invoice(h: &Harness, id: &str, reference: &str) {
    assert!(h.sandbox.modify_books_record("invoices", "invoice_id", id, json!({ "reference_number": reference })));
}

/// A Books line: the resource, the organization, the operation, and the record as Books lists it.
fn assert_books_line(line: &Value, id: &str, operation: &str, reference: &str) {
    let expected = (Some("books"), Some("books_invoices"), Some("invoices"), Some(BOOKS_ORG_ID), Some(operation), Some(id), Some("sweep"));
    let got = (line["app"].as_str(), line["module"].as_str(), line["resource"].as_str(), line["organization_id"].as_str(), line["operation"].as_str(), line["id"].as_str(), line["source"].as_str());
    assert_eq!(got, expected, "{line}");
    assert_eq!((line["record"]["invoice_id"].as_str(), line["record"]["reference_number"].as_str()), (Some(id), Some(reference)), "{line}");
    assert!(line.get("channel_id").is_none(), "a Books line has no channel: {line}");
}

/// Only Books resources: no listener, no channel, no CRM request. Three invoices created, two
/// of them edited, between sweeps: five lines, one per version, each written once however many
/// sweeps read them again. The watch stopped, an invoice is created and one edited; a restarted
/// host's watch asks Books from the committed cursor (not the watch's first start) and writes
/// those two changes, and nothing written before.
#[tokio::test(flavor = "multi_thread")]
async fn a_books_only_watch_writes_each_version_once_and_a_restart_goes_on_from_the_cursor() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let books = strings(&["invoices"]);
    let request = WatchRequest::from_flags(&flags(&[], &books, None)).expect("a Books-only watch needs no URL");
    let out = out_file("books-only");
    let (mut ids, mut first_since) = (Vec::new(), String::new());
    let summary = watching_books(runtime(), &h, &connection, &request, &out, async {
        more_sweeps(&h, 0, 1).await;
        first_since = books_sweeps(&h)[0].clone();
        // The first sweep starts where the watch first started (15 minutes back by this host's
        // clock): Books' seeded invoices of 2016 are not new.
        assert!(lines(&out).is_empty(), "{:#?}", lines(&out));
        ids = (0..3).map(|i| create_invoice(&h, &format!("new {i}"))).collect();
        until("every invoice created is written", || lines(&out).len() == 3).await;
        // Edited once their creation is behind a committed cursor: each edit reads as an update.
        let before = books_sweeps(&h).len();
        more_sweeps(&h, before, 3).await;
        edit_invoice(&h, &ids[0], "edited 0");
        edit_invoice(&h, &ids[2], "edited 2");
        until("every edit is written", || lines(&out).len() == 5).await;
        let before = books_sweeps(&h).len();
        more_sweeps(&h, before, 3).await;
    })
    .await;
    let written = lines(&out);
    assert_eq!(written.len(), 5, "{written:#?}");
    let per_id = by_id(&written);
    for (i, id) in ids.iter().enumerate() {
        let versions = &per_id[id];
        assert_books_line(&versions[0], id, "insert", &format!("new {i}"));
        match i {
            1 => assert_eq!(versions.len(), 1, "{versions:#?}"),
            _ => {
                assert_eq!(versions.len(), 2, "{versions:#?}");
                assert_books_line(&versions[1], id, "update", &format!("edited {i}"));
            }
        }
    }
    assert_eq!(summary.written, 5);
    // The sweeps read the same versions again (each sweep starts a little before the last
    // began) and the component's sweep drops them as delivered before the watch sees them.
    assert!(summary.sweeps >= 8, "{summary:?}");
    assert!(h.sandbox.requests().iter().all(|r| r.path.starts_with("/books/v3/")), "a Books-only watch sends nothing to CRM: {:#?}", h.sandbox.requests());

    // While the watch is down: one invoice created, one edited.
    let later = create_invoice(&h, "while down");
    edit_invoice(&h, &ids[1], "edited while down");
    let asked_before = books_sweeps(&h).len();
    let restarted = new_runtime();
    let summary = watching_books(&restarted, &h, &connection, &request, &out, async {
        until("the changes made while down are written", || lines(&out).len() == 7).await;
        let before = books_sweeps(&h).len();
        more_sweeps(&h, before, 2).await;
    })
    .await;
    let resumed_from = &books_sweeps(&h)[asked_before];
    let as_instant = |t: &str| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z").expect("Books' time shape");
    assert!(as_instant(resumed_from) > as_instant(&first_since), "the restarted watch asks from the committed cursor ({resumed_from}), not from its first start ({first_since})");
    let written = lines(&out);
    assert_eq!(written.len(), 7, "{written:#?}");
    assert_books_line(&written[5..].iter().find(|l| l["id"] == later.as_str()).expect("the invoice created while down").clone(), &later, "insert", "while down");
    assert_books_line(&written[5..].iter().find(|l| l["id"] == ids[1].as_str()).expect("the edit made while down").clone(), &ids[1], "update", "edited while down");
    assert_eq!(summary.written, 2);
}

/// CRM events and Books resources in one watch: the channel serves Leads' notifications, the
/// sweep reads invoices; a lead and an invoice created are each one line of its own app.
#[tokio::test(flavor = "multi_thread")]
async fn a_crm_and_books_watch_writes_both() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let (listener, url) = notify_listener().await;
    let (events, books) = (strings(&["Leads.all"]), strings(&["invoices"]));
    let request = WatchRequest::from_flags(&flags(&events, &books, Some(&url))).expect("valid flags");
    let out = out_file("crm-and-books");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watch = watch::run(runtime(), &connection, Some(&h.namespace), &request, listener, appending(&out), async {
        let _ = stopped.await;
    });
    let (mut lead, mut invoice) = (String::new(), String::new());
    let drive = async {
        until("the channel is enabled", || h.sandbox.watch_channels().len() == 1).await;
        more_sweeps(&h, 0, 1).await;
        lead = h.sandbox.create_record("Leads", json!({ "Last_Name": "Both" }));
        invoice = create_invoice(&h, "both");
        until("the lead and the invoice are written", || lines(&out).len() == 2).await;
        let before = books_sweeps(&h).len();
        more_sweeps(&h, before, 2).await;
        let _ = stop.send(());
    };
    let (summary, ()) = tokio::join!(watch, drive);
    let summary = summary.unwrap_or_else(|e| panic!("the watch failed: {e:#}"));
    let written = lines(&out);
    assert_eq!(written.len(), 2, "{written:#?}");
    let crm = written.iter().find(|l| l["app"] == "crm").expect("the lead's line");
    assert_eq!((crm["module"].as_str(), crm["operation"].as_str(), crm["id"].as_str()), (Some("Leads"), Some("insert"), Some(lead.as_str())), "{crm}");
    assert_eq!(crm["channel_id"].as_str(), Some(summary.channel_id.as_str()));
    assert_books_line(written.iter().find(|l| l["app"] == "books").expect("the invoice's line"), &invoice, "insert", "both");
    assert!(h.sandbox.watch_channels().is_empty(), "disabled on exit");
}

/// What to watch is checked before anything is sent: Books alone refuses a URL it would not
/// serve, CRM events need one, and a watch of nothing or of a resource Books cannot sweep is
/// refused with what to write instead.
#[test]
fn the_flags_say_what_a_books_watch_needs() {
    let (events, books, none) = (strings(&["Leads.all"]), strings(&["invoices", "20000001_bills"]), Vec::new());
    let url = Some("http://127.0.0.1:8788/zoho");
    let books_only = WatchRequest::from_flags(&flags(&none, &books, None)).expect("valid");
    assert!(books_only.modules.is_empty() && books_only.public_url.is_empty());
    assert_eq!(books_only.books.iter().map(|b| b.stream.as_str()).collect::<Vec<_>>(), ["books_invoices", "books_20000001_bills"]);
    let refused = |f: WatchFlags<'_>| WatchRequest::from_flags(&f).expect_err("refused").to_string();
    assert!(refused(flags(&none, &books, url)).contains("give --events with them"));
    assert!(refused(WatchFlags { listen: false, ..flags(&events, &books, url) }).contains("--events needs --public-url"));
    assert!(refused(WatchFlags { public_url: None, ..flags(&events, &books, url) }).contains("--events needs --public-url"));
    assert!(refused(flags(&none, &none, None)).contains("name what to watch"));
    assert!(refused(flags(&none, &strings(&["journals"]), None)).contains("journals cannot be swept"));
    assert!(refused(flags(&none, &strings(&["Invoices"]), None)).starts_with("--books \"Invoices\""));
    let both = WatchRequest::from_flags(&flags(&events, &books, url)).expect("valid");
    assert_eq!((both.modules.len(), both.books.len(), both.path.as_str()), (1, 2, "/zoho"));
}
