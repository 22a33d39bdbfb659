//! Hostile and broken Books answers to the sweep: each is a typed error or read safely, never a
//! silent end of the sweep, and the requests sent are exactly Books' documented list request.

use super::{list_modified_records_by_page, update_last_successful_run_date};
use crate::error::ErrorKind;
use crate::testing::Fixture;
use crate::wit::books::{ListModifiedRecordsByPageInput, UpdateLastSuccessfulRunDateInput};
use serde_json::{json, Value};

fn fixture() -> Fixture {
    let mut fixture = Fixture::default();
    fixture.connection.books_organization_id = Some("10234695".into());
    fixture
}

fn step(page: u32, per_page: u32) -> ListModifiedRecordsByPageInput {
    ListModifiedRecordsByPageInput { record_type: "invoices".into(), page: Some(page), per_page: Some(per_page), since: Some("2024-01-01T00:00:00Z".into()), include_line_items: None }
}

fn invoice(id: u64, time: &str) -> Value {
    json!({ "invoice_id": id.to_string(), "last_modified_time": time, "customer_name": "Zylker" })
}

fn list(invoices: &[Value], page_context: Option<Value>) -> String {
    let mut answer = json!({ "code": 0, "message": "success", "invoices": invoices });
    if let Some(context) = page_context {
        answer["page_context"] = context;
    }
    answer.to_string()
}

fn urls(fixture: &Fixture) -> Vec<String> {
    fixture.transport.sent.borrow().iter().map(|r| r.url.clone()).collect()
}

const FIRST: &str =
    "https://www.zohoapis.com/books/v3/invoices?organization_id=10234695&last_modified_time=2023-12-31T23%3A59%3A59%2B0000&sort_column=last_modified_time&sort_order=A&page=1&per_page=200";

/// The request is Books' list request exactly: organization, filter a second early in Books'
/// time shape (the `+` encoded), ascending by modification, page 1 of 200.
#[test]
fn the_list_request_is_exact_and_offsets_without_a_colon_are_instants() {
    let fixture = fixture();
    // 17:38:06-0700 is 00:38:06 the next day in UTC: after 2024-01-01T00:00:00Z, before the other.
    fixture.answer(200, &list(&[invoice(2, "2024-01-01T17:38:06-0700"), invoice(1, "2024-01-02T01:00:00+0000")], Some(json!({ "page": 1, "per_page": 200, "has_more_page": false }))));
    let page: Value = serde_json::from_str(&list_modified_records_by_page(&fixture.client(), &step(1, 10)).unwrap()).unwrap();
    assert_eq!(urls(&fixture), [FIRST]);
    assert_eq!(page["records"], json!([invoice(2, "2024-01-01T17:38:06-0700"), invoice(1, "2024-01-02T01:00:00+0000")]));
    assert_eq!((page["more_records"].clone(), page["record_type"].clone(), page["usage"]["books_calls"].clone()), (json!(false), json!("invoices"), json!(1)));
    // Committed per organization.
    let committed = update_last_successful_run_date(&fixture.client(), &UpdateLastSuccessfulRunDateInput { record_type: "invoices".into(), timestamp: None }).unwrap();
    assert_eq!((committed["source"].clone(), committed["organization_id"].clone()), (json!("sweep"), json!("10234695")));
    assert!(fixture.storage.0.borrow().contains_key("incremental/books/10234695/invoices/cursor"));
}

/// Records out of ascending order, or before the second asked for (a filter or sort ignored),
/// would make the walk skip records: an error naming the record, nothing committed.
#[test]
fn a_list_out_of_order_or_before_its_filter_is_an_error() {
    for rows in [vec![invoice(1, "2024-01-03T00:00:00+0000"), invoice(2, "2024-01-02T00:00:00+0000")], vec![invoice(1, "2023-06-01T00:00:00+0000")]] {
        let fixture = fixture();
        fixture.answer(200, &list(&rows, Some(json!({ "has_more_page": false }))));
        let e = list_modified_records_by_page(&fixture.client(), &step(1, 10)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Zoho);
        assert!(e.message.starts_with("Zoho's invoices list broke the sweep's order: record "), "{}", e.message);
        let refused = update_last_successful_run_date(&fixture.client(), &UpdateLastSuccessfulRunDateInput { record_type: "invoices".into(), timestamp: None }).unwrap_err();
        assert_eq!(refused.kind, ErrorKind::Conflict);
    }
}

/// Timestamps that are not times, at the type's edges, or ids that are not ids: the record
/// cannot be placed, so the page is an error, never a record dropped.
#[test]
fn malformed_timestamps_and_ids_are_errors() {
    for bad in [
        json!({ "invoice_id": "1", "last_modified_time": "yesterday" }),
        json!({ "invoice_id": "1", "last_modified_time": "2024-02-30T00:00:00+0000" }),
        json!({ "invoice_id": "1", "last_modified_time": "99999-01-01T00:00:00+0000" }),
        json!({ "invoice_id": "1", "last_modified_time": 1_704_067_200 }),
        json!({ "invoice_id": "1", "last_modified_time": "2024-01-01T00:00:00+2400" }),
        json!({ "invoice_id": "1e5", "last_modified_time": "2024-01-02T00:00:00+0000" }),
        json!({ "invoice_id": "١٢٣", "last_modified_time": "2024-01-02T00:00:00+0000" }),
        json!({ "last_modified_time": "2024-01-02T00:00:00+0000" }),
    ] {
        let fixture = fixture();
        fixture.answer(200, &list(std::slice::from_ref(&bad), Some(json!({ "has_more_page": false }))));
        let e = list_modified_records_by_page(&fixture.client(), &step(1, 10)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Zoho, "{bad}");
        assert_eq!(e.message, "Zoho Books' invoices list has a record without a readable invoice_id or last_modified_time: the sweep cannot place it", "{bad}");
    }
}

/// page_context missing, or has_more_page saying false on a full page: the next page is read
/// anyway (a lie would end the sweep early); true on an empty page ends it.
#[test]
fn has_more_page_missing_or_lying_does_not_end_the_sweep_early() {
    let fixture = fixture();
    let full: Vec<Value> = (0..200).map(|i| invoice(1_000 + i, &format!("2024-01-02T00:{:02}:{:02}+0000", i / 60, i % 60))).collect();
    fixture.answer(200, &list(&full, None));
    fixture.answer(200, &list(&[invoice(5_000, "2024-01-03T00:00:00+0000")], Some(json!({ "has_more_page": false }))));
    let page: Value = serde_json::from_str(&list_modified_records_by_page(&fixture.client(), &step(1, 200)).unwrap()).unwrap();
    assert_eq!((page["records"].as_array().map(Vec::len), page["more_records"].clone()), (Some(200), json!(true)));
    let page: Value = serde_json::from_str(&list_modified_records_by_page(&fixture.client(), &step(2, 200)).unwrap()).unwrap();
    assert_eq!((page["records"].clone(), page["more_records"].clone()), (json!([invoice(5_000, "2024-01-03T00:00:00+0000")]), json!(false)));
    let fixture = self::fixture();
    fixture.answer(200, &list(&[], Some(json!({ "has_more_page": true }))));
    let page: Value = serde_json::from_str(&list_modified_records_by_page(&fixture.client(), &step(1, 10)).unwrap()).unwrap();
    assert_eq!((page["records"].clone(), page["more_records"].clone(), fixture.sent()), (json!([]), json!(false), 1));
}

/// A page of more records than Books sends (per_page is at most 200) is refused unread, and
/// an answer that is not Books' envelope is a typed error.
#[test]
fn a_huge_page_or_a_broken_envelope_is_refused() {
    let fixture = fixture();
    let huge: Vec<Value> = (0..201).map(|i| invoice(1_000 + i, "2024-01-02T00:00:00+0000")).collect();
    fixture.answer(200, &list(&huge, Some(json!({ "has_more_page": true }))));
    let e = list_modified_records_by_page(&fixture.client(), &step(1, 10)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Zoho);
    assert!(e.message.starts_with("Zoho Books' invoices list could not be read as at most 200 records"), "{}", e.message);
    for (status, body, kind) in
        [(200, "<html>", ErrorKind::Zoho), (200, r#"{"code":1,"message":"Ünïcödé 错误"}"#, ErrorKind::Zoho), (429, r#"{"code":44,"message":"slow down"}"#, ErrorKind::RateLimited)]
    {
        let fixture = self::fixture();
        fixture.answer(status, body);
        let e = list_modified_records_by_page(&fixture.client(), &step(1, 10)).unwrap_err();
        assert_eq!(e.kind, kind, "{body}");
    }
}

/// Unicode in records passes through as Books wrote it; input outside the documented ranges is
/// refused before anything is sent.
#[test]
fn unicode_passes_through_and_bad_input_sends_nothing() {
    let fixture = fixture();
    let named = json!({ "invoice_id": "7", "last_modified_time": "2024-01-02T00:00:00+0000", "customer_name": "Zylker 株式会社 \u{1F600} \u{202E}" });
    fixture.answer(200, &list(std::slice::from_ref(&named), Some(json!({ "has_more_page": false }))));
    let page: Value = serde_json::from_str(&list_modified_records_by_page(&fixture.client(), &step(1, 10)).unwrap()).unwrap();
    assert_eq!(page["records"], json!([named]));
    let fixture = self::fixture();
    let refuse = |input: ListModifiedRecordsByPageInput, message: &str| {
        let e = list_modified_records_by_page(&fixture.client(), &input).unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::InvalidInput, message));
    };
    refuse(ListModifiedRecordsByPageInput { per_page: Some(201), ..step(1, 1) }, "per-page 201 is out of range: 1 to 200");
    refuse(
        ListModifiedRecordsByPageInput { per_page: Some(51), include_line_items: Some(true), ..step(1, 1) },
        "per-page 51 is out of range: 1 to 50 with include-line-items (a request per record; Books allows about 100 a minute)",
    );
    refuse(ListModifiedRecordsByPageInput { page: Some(0), ..step(1, 1) }, "page starts at 1");
    refuse(
        ListModifiedRecordsByPageInput { since: Some("2024-13-01".into()), ..step(1, 1) },
        "since \"2024-13-01\" is not a timestamp: use ISO 8601 with an offset, e.g. 2024-05-10T01:10:47-07:00 or 2024-05-10",
    );
    refuse(ListModifiedRecordsByPageInput { record_type: "ïnvoices".into(), ..step(1, 1) }, "record-type \"ïnvoices\" is not a Zoho Books resource the sweep reads: use one of invoices, bills, contacts, estimates, salesorders, purchaseorders, creditnotes, customerpayments, vendorpayments, expenses, items, recurringinvoices");
    refuse(step(2, 10), "page 2 continues a sweep of books/10234695/invoices, and none is open: ask page 1 (or no page) to open one. If page 1 was read, the sweep was committed or expired, or the host's key-value store did not keep it between steps (it must be durable: see the README's \"Key-value contract\")");
    assert_eq!(fixture.sent(), 0);
}

/// include-line-items: one GET per record after the list, each record replaced by its detail;
/// a record deleted before its detail is read stays as listed.
#[test]
fn line_items_come_from_one_detail_request_per_record() {
    let fixture = fixture();
    fixture.answer(200, &list(&[invoice(1, "2024-01-02T00:00:00+0000"), invoice(2, "2024-01-02T00:00:01+0000")], Some(json!({ "has_more_page": false }))));
    let detail = json!({ "invoice_id": "1", "last_modified_time": "2024-01-02T00:00:00+0000", "line_items": [{ "line_item_id": "9", "rate": 120.0, "quantity": 2 }] });
    fixture.answer(200, &json!({ "code": 0, "message": "success", "invoice": detail }).to_string());
    fixture.answer(404, r#"{"code":1002,"message":"Invoice does not exist."}"#);
    let input = ListModifiedRecordsByPageInput { include_line_items: Some(true), per_page: None, ..step(1, 1) };
    let page: Value = serde_json::from_str(&list_modified_records_by_page(&fixture.client(), &input).unwrap()).unwrap();
    assert_eq!(page["records"], json!([detail, invoice(2, "2024-01-02T00:00:01+0000")]));
    assert_eq!((page["per_page"].clone(), page["usage"]["books_calls"].clone()), (json!(50), json!(3)));
    let sent = urls(&fixture);
    assert_eq!(sent[1..], ["https://www.zohoapis.com/books/v3/invoices/1?organization_id=10234695", "https://www.zohoapis.com/books/v3/invoices/2?organization_id=10234695"]);
}

/// Each organization keeps its own sweep and cursor: a sweep open for one is no sweep of another.
#[test]
fn each_organization_has_its_own_sweep() {
    let mut fixture = fixture();
    fixture.answer(200, &list(&[invoice(1, "2024-01-02T00:00:00+0000")], Some(json!({ "has_more_page": true }))));
    list_modified_records_by_page(&fixture.client(), &step(1, 1)).unwrap();
    fixture.connection.books_organization_id = Some("555".into());
    let e = list_modified_records_by_page(&fixture.client(), &step(2, 1)).unwrap_err();
    assert!(e.message.starts_with("page 2 continues a sweep of books/555/invoices, and none is open"), "{}", e.message);
    assert_eq!(fixture.sent(), 1);
    assert!(fixture.storage.0.borrow().contains_key("incremental/books/10234695/invoices/sweep"));
}

/// A hostile server's `Date` at the edges of what an HTTP date can say (year 0000, the leap
/// second at the end of 9999): the sweep's bound and committed cursor stay times the next
/// sweep can read, never a cursor that wedges every later sweep.
#[test]
fn a_date_header_at_the_edges_of_time_leaves_a_readable_cursor() {
    for date in ["Sat, 01 Jan 0000 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:60 GMT"] {
        let fixture = fixture();
        let answer = list(&[invoice(1, "2024-01-02T01:00:00+0000")], Some(json!({ "has_more_page": false })));
        fixture.transport.answers.borrow_mut().push_back(crate::http::Response { status: 200, headers: vec![("date".into(), date.into())], body: answer.into_bytes() });
        // Read as no date: the host's clock, with its margin, bounds the sweep.
        let first: Value = serde_json::from_str(&list_modified_records_by_page(&fixture.client(), &step(1, 10)).unwrap()).unwrap();
        for bound in [&first["sweep"]["until"], &first["sweep"]["commits_cursor"]] {
            assert!(bound.as_str().and_then(crate::zoho_time::parse_iso).is_some(), "{date}: {first}");
        }
        update_last_successful_run_date(&fixture.client(), &UpdateLastSuccessfulRunDateInput { record_type: "invoices".into(), timestamp: None }).unwrap();
        fixture.answer(200, &list(&[], Some(json!({ "has_more_page": false }))));
        let next = ListModifiedRecordsByPageInput { since: None, ..step(1, 10) };
        list_modified_records_by_page(&fixture.client(), &next).unwrap();
    }
}

/// A cursor set by hand in another of Zoho's shapes (`Z`, Books' `+0000`) and later than
/// Books' clock is still the stored cursor: the sweep that starts from it warns.
#[test]
fn a_stored_cursor_in_any_shape_past_the_clock_warns() {
    for timestamp in ["2031-01-01T00:00:00Z", "2031-01-01T00:00:00+0000", "2031-01-01T05:30:00+05:30", "2031-01-01T00:00:00+00:00"] {
        let fixture = fixture();
        update_last_successful_run_date(&fixture.client(), &UpdateLastSuccessfulRunDateInput { record_type: "invoices".into(), timestamp: Some(timestamp.into()) }).unwrap();
        let answer = list(&[], Some(json!({ "has_more_page": false })));
        fixture.transport.answers.borrow_mut().push_back(crate::http::Response { status: 200, headers: vec![("date".into(), "Mon, 07 Dec 2026 10:00:00 GMT".into())], body: answer.into_bytes() });
        let page: Value = serde_json::from_str(&list_modified_records_by_page(&fixture.client(), &ListModifiedRecordsByPageInput { since: None, ..step(1, 10) }).unwrap()).unwrap();
        let warned = page["warnings"].as_array().map_or(0, Vec::len);
        assert_eq!(warned, 1, "{timestamp}: {page}");
        // The caller's own since, however late, is theirs: no warning.
        fixture.transport.answers.borrow_mut().push_back(crate::http::Response {
            status: 200,
            headers: vec![("date".into(), "Mon, 07 Dec 2026 10:00:00 GMT".into())],
            body: list(&[], None).into_bytes(),
        });
        let own: Value = serde_json::from_str(&list_modified_records_by_page(&fixture.client(), &ListModifiedRecordsByPageInput { since: Some(timestamp.into()), ..step(1, 10) }).unwrap()).unwrap();
        assert_eq!(own["warnings"].as_array().map_or(0, Vec::len), 0, "{timestamp}: {own}");
    }
}

/// A hostile Books list over 450 invoices modified in one second: pages that repeat the end of
/// the page before, `has_more_page` always false, or always true. No invoice is lost and the
/// sweep ends: with every invoice, or (pages that overlap show some invoices at two places, so
/// the walk cannot prove it saw every place) with a typed error after reading the second again.
struct Crowded {
    mode: &'static str,
    requests: std::cell::Cell<usize>,
}

impl crate::http::Transport for Crowded {
    fn send(&self, request: &crate::http::Request) -> crate::error::Result<crate::http::Response> {
        self.requests.set(self.requests.get() + 1);
        assert!(self.requests.get() < 400, "the sweep does not end: {}", request.url);
        let query = request.url.split_once('?').map_or("", |(_, q)| q);
        let params: std::collections::HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let (page, per_page): (usize, usize) = (params["page"].parse().unwrap(), params["per_page"].parse().unwrap());
        let since = params.get("last_modified_time").and_then(|t| crate::zoho_time::parse_iso(t));
        let at = 1_704_067_200; // 2024-01-01T00:00:00Z
        let mut listed: Vec<u64> = if since.is_some_and(|s| s > at) { Vec::new() } else { (1..=450).collect() };
        if self.mode == "reversed" && self.requests.get().is_multiple_of(2) {
            // Ties of one second in the other order on every other request.
            listed.reverse();
        }
        let offset = match (self.mode, page) {
            ("overlap", p) if p > 1 => (p - 1) * per_page - 5,
            (_, p) => (p - 1) * per_page,
        };
        let rows: Vec<Value> = listed.iter().skip(offset).take(per_page).map(|id| invoice(*id, "2024-01-01T00:00:00+0000")).collect();
        let more = match self.mode {
            "false" => false,
            "true" => true,
            _ => offset + per_page < listed.len(),
        };
        let body = list(&rows, Some(json!({ "page": page, "per_page": per_page, "has_more_page": more })));
        Ok(crate::http::Response { status: 200, headers: vec![("date".into(), "Mon, 07 Dec 2026 10:00:00 GMT".into())], body: body.into_bytes() })
    }
    fn sleep(&self, _: std::time::Duration) {}
}

#[test]
fn a_crowded_second_that_repeats_records_or_lies_about_more_loses_none() {
    'modes: for mode in ["overlap", "false", "true"] {
        let fixture = fixture();
        let books = Crowded { mode, requests: std::cell::Cell::new(0) };
        let client = crate::client::Client::new(&fixture.connection, &fixture.options, &books, &fixture.storage).unwrap();
        let mut got = std::collections::BTreeSet::new();
        for page in 1..=50 {
            // Books' minute is the limits module's to hold; these steps run faster than a minute.
            fixture.storage.0.borrow_mut().retain(|k, _| !k.starts_with("limits/books/"));
            let answer = match list_modified_records_by_page(&client, &step(page, 200)) {
                Ok(text) => serde_json::from_str::<Value>(&text).unwrap(),
                Err(e) if mode == "overlap" => {
                    assert_eq!(e.kind, ErrorKind::Zoho);
                    assert!(e.message.starts_with("Zoho's invoices list did not keep one order among the "), "{}", e.message);
                    // What the step would have delivered is not: the sweep is not committable.
                    assert!(got.iter().all(|id| (1..=450).contains(id)), "{mode}");
                    let refused = update_last_successful_run_date(&client, &UpdateLastSuccessfulRunDateInput { record_type: "invoices".into(), timestamp: None }).unwrap_err();
                    assert_eq!(refused.kind, ErrorKind::Conflict, "nothing committed");
                    continue 'modes;
                }
                Err(e) => panic!("{mode}: {e:?}"),
            };
            for r in answer["records"].as_array().unwrap() {
                got.insert(r["invoice_id"].as_str().unwrap().parse::<u64>().unwrap());
            }
            if answer["more_records"] == json!(false) {
                break;
            }
            assert!(page < 50, "{mode}: the sweep does not end");
        }
        assert_eq!(got, (1..=450).collect(), "{mode}: {} requests", books.requests.get());
    }
}

/// Books documents no order among records of one second: a list ordering 450 ties the other
/// way on every other request shows some on two pages and others on none. Whatever the page
/// size, the sweep delivers every invoice or ends with a typed error, never silently short.
#[test]
fn ties_reordered_between_requests_are_delivered_or_an_error() {
    for per_page in [200, 150, 100, 60] {
        let fixture = fixture();
        let books = Crowded { mode: "reversed", requests: std::cell::Cell::new(0) };
        let client = crate::client::Client::new(&fixture.connection, &fixture.options, &books, &fixture.storage).unwrap();
        let mut got = std::collections::BTreeSet::new();
        for page in 1..=50 {
            fixture.storage.0.borrow_mut().retain(|k, _| !k.starts_with("limits/books/"));
            match list_modified_records_by_page(&client, &step(page, per_page)) {
                Ok(text) => {
                    let answer: Value = serde_json::from_str(&text).unwrap();
                    for r in answer["records"].as_array().unwrap() {
                        got.insert(r["invoice_id"].as_str().unwrap().parse::<u64>().unwrap());
                    }
                    if answer["more_records"] == json!(false) {
                        assert_eq!(got, (1..=450).collect(), "{per_page} a page: a sweep that ends delivered every invoice");
                        break;
                    }
                }
                Err(e) => {
                    assert_eq!(e.kind, ErrorKind::Zoho, "{e:?}");
                    assert!(e.message.starts_with("Zoho's invoices list did not keep one order among the "), "{}", e.message);
                    break;
                }
            }
            assert!(page < 50, "{per_page}: the sweep does not end");
        }
    }
}
