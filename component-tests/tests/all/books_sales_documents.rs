//! Zoho Books documents as Books makes them, end to end: a created invoice gets its number
//! from the organization's series, its status, line items with ids and item totals, and the
//! totals they come to; a customer that does not exist, no line items, a bill without its
//! number are refused with Books' codes; statuses move through the actions; only documents
//! render as PDF (a contact is refused); and each organization keeps its own data and series.

use component_tests::{assert_request, books_org, error_of, ok_of, with_books_org, Harness};
use serde_json::{json, Value};
use zoho_sandbox::OTHER_BOOKS_ORG_ID;

const CUSTOMER: &str = "460000000000001";
const VENDOR: &str = "460000000000451";
const CONSULTING: &str = "460000020000001";
const SALES_TAX: &str = "460000040000001";

fn refusal(code: &str, message: &str) -> Value {
    json!({ "kind": "zoho", "status": 400, "code": code, "message": message, "details": null, "retry-after-ms": null })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_created_invoice_is_numbered_totalled_and_moves_through_its_statuses() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let values = json!({
        "customer_id": CUSTOMER, "date": "2026-12-01", "due_date": "2026-12-31",
        "line_items": [{ "item_id": CONSULTING, "quantity": 3, "discount": "10%", "tax_id": SALES_TAX }, { "name": "Travel", "rate": 45.5, "discount": 5 }],
    });
    let outcome = h.run_as(&connection, "books-create-record", json!({ "record-type": "invoices", "values": values.clone() }), None).await;
    assert_request(&h.only_request(), &h.token, "POST", "/books/v3/invoices", &[books_org()], Some(values));
    let invoice = ok_of(&outcome).clone();
    let id = invoice["invoice_id"].as_str().expect("an id").to_string();
    // Three invoices are seeded: the series goes on from INV-000003.
    assert_eq!(invoice["invoice_number"], "INV-000004");
    assert_eq!((invoice["status"].as_str(), invoice["customer_name"].as_str(), invoice["currency_code"].as_str()), (Some("draft"), Some("Customer 001"), Some("USD")));
    assert_eq!((invoice["date"].as_str(), invoice["due_date"].as_str()), (Some("2026-12-01"), Some("2026-12-31")));
    let lines = invoice["line_items"].as_array().expect("line items");
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["line_item_id"].as_str().is_some_and(|i| !i.is_empty())), "{lines:?}");
    // 3 × 120 less 10% = 324, taxed 8.25% (26.73); 45.50 less 5 = 40.50.
    let line = &lines[0];
    assert_eq!((line["name"].as_str(), line["rate"].as_f64(), line["quantity"].as_f64()), (Some("Consulting hour"), Some(120.0), Some(3.0)));
    assert_eq!((line["tax_name"].as_str(), line["tax_percentage"].as_f64(), line["item_total"].as_f64()), (Some("Sales Tax"), Some(8.25), Some(324.0)));
    assert_eq!(lines[1]["item_total"], 40.5);
    let sums = |k: &str| invoice[k].as_f64();
    assert_eq!((sums("sub_total"), sums("tax_total"), sums("total"), sums("balance")), (Some(364.5), Some(26.73), Some(391.23), Some(391.23)));
    assert_eq!(h.sandbox.books_record("invoices", None, "invoice_id", &id).as_ref(), Some(&invoice));

    // Draft → sent → void → draft, through the record actions.
    for (action, status) in [("status/sent", "sent"), ("status/void", "void"), ("status/draft", "draft")] {
        ok_of(&h.run_as(&connection, "books-record-action", json!({ "record-type": "invoices", "record-id": id, "action": action }), None).await);
        assert_eq!(h.sandbox.books_record("invoices", None, "invoice_id", &id).map(|i| i["status"].clone()), Some(json!(status)), "{action}");
    }
    // Paid by customer payments: a draft takes none; once sent, part of it, then the rest.
    let pay = |amount: f64| json!({ "record-type": "customerpayments", "values": { "customer_id": CUSTOMER, "amount": amount, "payment_mode": "cash", "invoices": [{ "invoice_id": id, "amount_applied": amount }] } });
    assert_eq!(error_of(&h.run_as(&connection, "books-create-record", pay(100.0), None).await), &refusal("4", "Payments cannot be recorded for a draft invoice."));
    ok_of(&h.run_as(&connection, "books-record-action", json!({ "record-type": "invoices", "record-id": id, "action": "status/sent" }), None).await);
    assert_eq!(error_of(&h.run_as(&connection, "books-create-record", pay(400.0), None).await), &refusal("4", "The amount applied exceeds the invoice's balance."));
    let outcome = h.run_as(&connection, "books-create-record", pay(100.0), None).await;
    assert_eq!((ok_of(&outcome)["payment_number"].as_str(), ok_of(&outcome)["unused_amount"].as_f64()), (Some("1"), Some(0.0)));
    let stored = h.sandbox.books_record("invoices", None, "invoice_id", &id).expect("the invoice");
    assert_eq!((stored["status"].as_str(), stored["balance"].as_f64()), (Some("partially_paid"), Some(291.23)));
    ok_of(&h.run_as(&connection, "books-create-record", pay(291.23), None).await);
    let stored = h.sandbox.books_record("invoices", None, "invoice_id", &id).expect("the invoice");
    assert_eq!((stored["status"].as_str(), stored["balance"].as_f64()), (Some("paid"), Some(0.0)));

    // The next one takes the next number.
    let outcome = h.run_as(&connection, "books-create-record", json!({ "record-type": "invoices", "values": { "customer_id": CUSTOMER, "line_items": [{ "item_id": CONSULTING }] } }), None).await;
    assert_eq!((ok_of(&outcome)["invoice_number"].as_str(), ok_of(&outcome)["total"].as_f64()), (Some("INV-000005"), Some(120.0)));
}

#[tokio::test(flavor = "multi_thread")]
async fn books_refuses_what_it_refuses_with_its_codes() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let cases = [
        ("invoices", json!({ "customer_id": "460000000099999", "line_items": [{ "item_id": CONSULTING }] }), "4", "Invalid value passed for customer_id"),
        ("invoices", json!({ "customer_id": VENDOR, "line_items": [{ "item_id": CONSULTING }] }), "4", "Invalid value passed for customer_id"),
        ("invoices", json!({ "customer_id": CUSTOMER }), "4", "Please enter line_items"),
        ("invoices", json!({ "customer_id": CUSTOMER, "line_items": [] }), "4", "Please enter line_items"),
        ("invoices", json!({ "line_items": [{ "item_id": CONSULTING }] }), "4", "Please enter customer_id"),
        ("invoices", json!({ "customer_id": CUSTOMER, "line_items": [{ "item_id": "460000029999999" }] }), "4", "Invalid value passed for item_id"),
        ("invoices", json!({ "customer_id": CUSTOMER, "line_items": [{ "item_id": CONSULTING, "tax_id": "1" }] }), "4", "Invalid value passed for tax_id"),
        ("invoices", json!({ "customer_id": CUSTOMER, "date": "12/01/2026", "line_items": [{ "item_id": CONSULTING }] }), "4", "Invalid value passed for date"),
        ("bills", json!({ "vendor_id": VENDOR, "line_items": [{ "item_id": CONSULTING }] }), "4", "Please enter bill_number"),
        ("purchaseorders", json!({ "vendor_id": CUSTOMER, "line_items": [{ "item_id": CONSULTING }] }), "4", "Invalid value passed for vendor_id"),
    ];
    let sent = cases.len();
    for (record_type, values, code, message) in cases {
        let outcome = h.run_as(&connection, "books-create-record", json!({ "record-type": record_type, "values": values }), None).await;
        assert_eq!(error_of(&outcome), &refusal(code, message), "{record_type} {message}");
    }
    assert_eq!(h.sandbox.books_count("invoices"), 3, "nothing refused was kept");
    assert_eq!(h.requests().len(), sent, "one request each");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_document_kind_has_its_series_status_and_party() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let line = json!([{ "item_id": CONSULTING, "quantity": 2 }]);
    for (record_type, party, number_field, number, status) in [
        ("estimates", ("customer_id", CUSTOMER), "estimate_number", "EST-000001", "draft"),
        ("salesorders", ("customer_id", CUSTOMER), "salesorder_number", "SO-000001", "draft"),
        ("purchaseorders", ("vendor_id", VENDOR), "purchaseorder_number", "PO-000001", "draft"),
        ("creditnotes", ("customer_id", CUSTOMER), "creditnote_number", "CN-000001", "open"),
        ("bills", ("vendor_id", VENDOR), "bill_number", "VB-7731", "open"),
    ] {
        let mut values = json!({ party.0: party.1, "line_items": line.clone() });
        if record_type == "bills" {
            values["bill_number"] = json!("VB-7731");
        }
        let outcome = h.run_as(&connection, "books-create-record", json!({ "record-type": record_type, "values": values }), None).await;
        let created = ok_of(&outcome);
        assert_eq!((created[number_field].as_str(), created["status"].as_str(), created["total"].as_f64()), (Some(number), Some(status), Some(240.0)), "{record_type}");
    }
}

/// An update that changes the lines computes the totals again, keeping the number and status
/// (and what was paid: the balance moves with the total); a vendor as customer is refused.
#[tokio::test(flavor = "multi_thread")]
async fn changed_lines_are_totalled_again() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let outcome = h.run_as(&connection, "books-create-record", json!({ "record-type": "invoices", "values": { "customer_id": CUSTOMER, "line_items": [{ "item_id": CONSULTING }] } }), None).await;
    let id = ok_of(&outcome)["invoice_id"].as_str().expect("id").to_string();
    h.sandbox.clear_requests();
    let lines = json!({ "line_items": [{ "item_id": CONSULTING, "quantity": 2, "tax_id": SALES_TAX }], "reference_number": "PO-7" });
    let outcome = h.run_as(&connection, "books-update-record", json!({ "record-type": "invoices", "record-id": id, "values": lines.clone() }), None).await;
    assert_request(&h.only_request(), &h.token, "PUT", &format!("/books/v3/invoices/{id}"), &[books_org()], Some(lines));
    let updated = ok_of(&outcome);
    let sums = |k: &str| updated[k].as_f64();
    assert_eq!((sums("sub_total"), sums("tax_total"), sums("total"), sums("balance")), (Some(240.0), Some(19.8), Some(259.8), Some(259.8)));
    assert_eq!((updated["invoice_number"].as_str(), updated["status"].as_str(), updated["reference_number"].as_str()), (Some("INV-000004"), Some("draft"), Some("PO-7")));
    assert_eq!(updated["line_items"][0]["item_total"], 240.0);
    assert_eq!(h.sandbox.books_record("invoices", None, "invoice_id", &id).as_ref(), Some(updated));
    let outcome = h.run_as(&connection, "books-update-record", json!({ "record-type": "invoices", "record-id": id, "values": { "customer_id": VENDOR } }), None).await;
    assert_eq!(error_of(&outcome), &refusal("4", "Invalid value passed for customer_id"));
}

/// With auto-numbering off (`ignore_auto_number_generation=true`) the caller's number is
/// required and must be unique: Books' 1001 "Invoice Number already exist".
#[tokio::test(flavor = "multi_thread")]
async fn an_invoice_number_of_ones_own_must_be_unique() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let own = |number: Option<&str>| {
        let mut body = json!({ "customer_id": CUSTOMER, "line_items": [{ "item_id": CONSULTING }] });
        if let Some(number) = number {
            body["invoice_number"] = json!(number);
        }
        json!({ "url": "/invoices", "method": "POST", "data": body.to_string(), "query-parameters": json!({ "ignore_auto_number_generation": "true" }).to_string() })
    };
    let answer = |outcome: &zoho_host::StepOutcome| -> (u64, Value) {
        (ok_of(outcome)["status"].as_u64().unwrap_or(0), serde_json::from_str(ok_of(outcome)["body"]["json"].as_str().unwrap_or("null")).unwrap_or(Value::Null))
    };
    let (status, body) = answer(&h.run_as(&connection, "books-raw-request", own(Some("INV-000001")), None).await);
    assert_eq!((status, body), (400, json!({ "code": 1001, "message": "Invoice Number already exist" })));
    let (status, body) = answer(&h.run_as(&connection, "books-raw-request", own(None), None).await);
    assert_eq!((status, body), (400, json!({ "code": 4, "message": "Please enter invoice_number" })));
    let (status, body) = answer(&h.run_as(&connection, "books-raw-request", own(Some("ZL-2026-17")), None).await);
    assert_eq!((status, body["invoice"]["invoice_number"].as_str()), (201, Some("ZL-2026-17")));
    // The series is untouched: the next numbered invoice is still INV-000004.
    let outcome = h.run_as(&connection, "books-create-record", json!({ "record-type": "invoices", "values": { "customer_id": CUSTOMER, "line_items": [{ "item_id": CONSULTING }] } }), None).await;
    assert_eq!(ok_of(&outcome)["invoice_number"], "INV-000004");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_documents_render_and_a_contact_is_refused() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let outcome = h.run_as(&connection, "books-get-record-document", json!({ "record-type": "contacts", "record-id": CUSTOMER }), None).await;
    assert_request(&h.only_request(), &h.token, "GET", &format!("/books/v3/contacts/{CUSTOMER}"), &[books_org(), ("accept", "pdf")], None);
    assert_eq!(error_of(&outcome), &refusal("4", "Invalid value passed for accept"));
    // Without accept the contact is its JSON, as before.
    let outcome = h.run_as(&connection, "books-get-record", json!({ "record-type": "contacts", "record-id": CUSTOMER }), None).await;
    assert_eq!(ok_of(&outcome)["contact_type"], "customer");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_organization_keeps_its_own_documents_and_series() {
    let h = Harness::new().await;
    let mut labs = h.connection.clone();
    labs["books-organization-id"] = json!(OTHER_BOOKS_ORG_ID);
    let outcome = h.run_as(&labs, "books-get-records", json!({ "record-type": "invoices" }), None).await;
    let invoices = ok_of(&outcome)["invoices"].as_array().expect("invoices").clone();
    assert_eq!(invoices.len(), 1);
    assert_eq!((invoices[0]["invoice_number"].as_str(), invoices[0]["currency_code"].as_str(), invoices[0]["total"].as_f64()), (Some("INV-000001"), Some("EUR"), Some(200.0)));
    assert_request(&h.only_request(), &h.token, "GET", "/books/v3/invoices", &[("organization_id", OTHER_BOOKS_ORG_ID), ("page", "1"), ("per_page", "200")], None);

    // Its own series and currency; the other organization's customer is not its customer.
    let create = |customer: &str| json!({ "record-type": "invoices", "values": { "customer_id": customer, "line_items": [{ "item_id": "470000020000001", "tax_id": "470000040000001" }] } });
    let outcome = h.run_as(&labs, "books-create-record", create("470000000000001"), None).await;
    let created = ok_of(&outcome);
    assert_eq!((created["invoice_number"].as_str(), created["currency_code"].as_str(), created["total"].as_f64()), (Some("INV-000002"), Some("EUR"), Some(119.0)));
    let outcome = h.run_as(&labs, "books-create-record", create(CUSTOMER), None).await;
    assert_eq!(error_of(&outcome), &refusal("4", "Invalid value passed for customer_id"));
    assert_eq!(h.sandbox.books_count("invoices"), 3, "the default organization's invoices are untouched");

    // An organization the account does not have: Books' 6041.
    let mut unknown = h.connection.clone();
    unknown["books-organization-id"] = json!("99999999");
    let outcome = h.run_as(&unknown, "books-get-records", json!({ "record-type": "invoices" }), None).await;
    assert_eq!((error_of(&outcome)["code"].as_str(), error_of(&outcome)["message"].as_str()), (Some("6041"), Some("This user is not associated with the organization_id given")));
}
