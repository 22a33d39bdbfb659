//! Zoho Books record actions (`POST /{type}/{id}/{action}`) and documents
//! (`GET /{type}/{id}?accept=pdf|html`) end to end.

use component_tests::{assert_request, books_org, error_of, file_of, ok_of, with_books_org, Fault, Harness};
use serde_json::{json, Value};
use zoho_sandbox::books_pdf;
use zoho_sandbox::hostile::Hostile;

const INVOICE: &str = "460000010000001";

fn books_error(kind: &str, status: u16, code: &str, message: &str) -> Value {
    json!({ "kind": kind, "status": status, "code": code, "message": message, "details": null, "retry-after-ms": null })
}

fn invoice_status(h: &Harness, id: &str) -> Value {
    h.sandbox.books_record("invoices", None, "invoice_id", id).map(|r| r["status"].clone()).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn status_actions_change_the_invoice_and_books_refusals_are_typed() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let action = |a: &str| json!({ "record-type": "invoices", "record-id": INVOICE, "action": a });
    let outcome = h.run_as(&connection, "books-record-action", action("status/void"), None).await;
    assert_request(&h.only_request(), &h.token, "POST", &format!("/books/v3/invoices/{INVOICE}/status/void"), &[books_org()], None);
    assert_eq!(ok_of(&outcome), &json!({ "message": "Invoice status has been changed to Void." }));
    assert_eq!(invoice_status(&h, INVOICE), "void");

    h.sandbox.clear_requests();
    let outcome = h.run_as(&connection, "books-record-action", action("status/void"), None).await;
    assert_eq!(error_of(&outcome), &books_error("zoho", 400, "4", "The invoice has already been voided."));
    let outcome = h.run_as(&connection, "books-record-action", action("status/sent"), None).await;
    assert_eq!(error_of(&outcome), &books_error("zoho", 400, "4", "A void invoice cannot be marked as sent. Convert it to draft first."));
    let outcome = h.run_as(&connection, "books-record-action", action("status/draft"), None).await;
    assert_eq!(ok_of(&outcome), &json!({ "message": "Status of invoice changed from void to draft." }));
    let outcome = h.run_as(&connection, "books-record-action", action("submit"), None).await;
    assert_eq!(ok_of(&outcome), &json!({ "message": "The invoice has been submitted for approval." }));
    let outcome = h.run_as(&connection, "books-record-action", action("approve"), None).await;
    assert_eq!(ok_of(&outcome), &json!({ "message": "The invoice has been approved." }));
    assert_eq!(invoice_status(&h, INVOICE), "approved");
    assert_eq!(h.requests().len(), 5);

    let outcome = h.run_as(&connection, "books-record-action", json!({ "record-type": "invoices", "record-id": "460000019999999", "action": "status/sent" }), None).await;
    assert_eq!(error_of(&outcome), &books_error("not-found", 404, "1002", "Invoice does not exist."));
    let outcome = h.run_as(&connection, "books-record-action", action("status/paid"), None).await;
    assert_eq!(error_of(&outcome), &books_error("not-found", 404, "5", "Invalid URL Passed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn email_sends_the_values_as_the_json_body() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let values = json!({ "to_mail_ids": ["ap@zylker.com"], "subject": "Invoice INV-00002 — ünïcode", "body": "Dear customer,<br>please find it attached." });
    let outcome = h.run_as(&connection, "books-record-action", json!({ "record-type": "invoices", "record-id": "460000010000002", "action": "email", "values": values }), None).await;
    assert_request(&h.only_request(), &h.token, "POST", "/books/v3/invoices/460000010000002/email", &[books_org()], Some(values));
    assert_eq!(ok_of(&outcome), &json!({ "message": "Your invoice has been sent." }));

    h.sandbox.clear_requests();
    let outcome = h.run_as(&connection, "books-record-action", json!({ "record-type": "invoices", "record-id": "460000010000002", "action": "email", "values": "{\"subject\":\"x\"}" }), None).await;
    assert_request(&h.only_request(), &h.token, "POST", "/books/v3/invoices/460000010000002/email", &[books_org()], Some(json!({ "subject": "x" })));
    assert_eq!(error_of(&outcome), &books_error("zoho", 400, "4", "Please enter a valid email address in to_mail_ids."));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_organization_is_discovered_and_nested_actions_reach_their_path() {
    let h = Harness::new().await;
    let outcome = h.run("books-record-action", json!({ "record-type": "contacts", "record-id": "460000000000010", "action": "active" })).await;
    assert_eq!(ok_of(&outcome), &json!({ "message": "The contact has been marked as active." }));
    let requests = h.requests();
    assert_eq!(requests.len(), 2);
    assert_request(&requests[0], &h.token, "GET", "/books/v3/organizations", &[], None);
    assert_request(&requests[1], &h.token, "POST", "/books/v3/contacts/460000000000010/active", &[books_org()], None);
    assert_eq!(h.sandbox.books_record("contacts", None, "contact_id", "460000000000010").map(|c| c["status"].clone()), Some(json!("active")));

    h.sandbox.clear_requests();
    let nested = json!({ "record-type": "contactpersons", "record-id": "460000000000099", "action": "primary", "parent-record-type": "contacts", "parent-record-id": "460000000000001" });
    let outcome = h.run("books-record-action", nested).await;
    assert_request(&h.only_request(), &h.token, "POST", "/books/v3/contacts/460000000000001/contactpersons/460000000000099/primary", &[books_org()], None);
    assert_eq!(error_of(&outcome), &books_error("not-found", 404, "5", "Invalid URL Passed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_actions_and_values_send_nothing() {
    let h = Harness::new().await;
    let base = json!({ "record-type": "invoices", "record-id": INVOICE, "action": "email" });
    let with = |key: &str, value: Value| {
        let mut input = base.clone();
        input[key] = value;
        input
    };
    let big = format!("{{\"body\":\"{}\"}}", "a".repeat(1 << 20));
    let cases = [
        (with("action", json!("../x")), "is not a Zoho Books record action"),
        (with("action", json!("status/sent?x=1")), "is not a Zoho Books record action"),
        (with("action", json!("a/b/c/d")), "is not a Zoho Books record action"),
        (with("action", json!("Status/sent")), "is not a Zoho Books record action"),
        (with("action", json!("/email")), "is not a Zoho Books record action"),
        (with("action", json!("email/")), "is not a Zoho Books record action"),
        (with("action", json!("")), "is not a Zoho Books record action"),
        (with("action", json!("status/%2e%2e")), "is not a Zoho Books record action"),
        (with("values", json!("[1,2]")), "values must be a JSON object"),
        (with("values", json!("{\"to\":")), "values must be a JSON object"),
        (with("values", json!(big)), "at most 1048576 bytes"),
        (with("record-id", json!("INV-1")), "is not a Zoho Books id"),
        (with("record-type", json!("Invoices")), "is not a Zoho Books resource"),
        (with("parent-record-type", json!("contacts")), "give parent-record-type and parent-record-id together"),
    ];
    for (input, says) in cases {
        let error = error_of(&h.run("books-record-action", input.clone()).await).clone();
        assert_eq!(error["kind"], "invalid-input", "{input}");
        assert!(error["message"].as_str().unwrap_or("").contains(says), "{input}: {error}");
    }
    assert_eq!(h.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn books_answers_lose_their_envelope_and_a_2xx_error_code_is_an_error() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let input = json!({ "record-type": "invoices", "record-id": INVOICE, "action": "status/sent" });
    h.sandbox.inject(Fault::status(1, 200, r#"{"code":1002,"message":"Invoice does not exist."}"#).on_path("/books/v3/invoices"));
    assert_eq!(error_of(&h.run_as(&connection, "books-record-action", input.clone(), None).await), &books_error("not-found", 200, "1002", "Invoice does not exist."));
    h.sandbox.inject(Fault::status(1, 200, r#"{"code":0,"message":"done","invoice":{"invoice_id":"1","status":"sent"},"extra":[1]}"#).on_path("/books/v3/invoices"));
    assert_eq!(ok_of(&h.run_as(&connection, "books-record-action", input.clone(), None).await), &json!({ "invoice": { "invoice_id": "1", "status": "sent" }, "extra": [1] }));
    h.sandbox.inject(Fault::status(1, 200, r#"{"code":0}"#).on_path("/books/v3/invoices"));
    assert_eq!(ok_of(&h.run_as(&connection, "books-record-action", input.clone(), None).await), &json!({ "message": null }));
    h.sandbox.inject(Fault::status(1, 200, "<html>proxy</html>").on_path("/books/v3/invoices"));
    assert_eq!(error_of(&h.run_as(&connection, "books-record-action", input, None).await)["kind"], "zoho");
}

#[tokio::test(flavor = "multi_thread")]
async fn documents_come_as_pdf_or_html_files() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let outcome = h.run_as(&connection, "books-get-record-document", json!({ "record-type": "invoices", "record-id": INVOICE }), None).await;
    assert_request(&h.only_request(), &h.token, "GET", &format!("/books/v3/invoices/{INVOICE}"), &[books_org(), ("accept", "pdf")], None);
    assert_eq!(file_of(&outcome), (json!("INV-000001.pdf"), json!("application/pdf"), books_pdf("INV-000001")));

    h.sandbox.clear_requests();
    let outcome = h.run_as(&connection, "books-get-record-document", json!({ "record-type": "invoices", "record-id": INVOICE, "format": "HTML" }), None).await;
    assert_request(&h.only_request(), &h.token, "GET", &format!("/books/v3/invoices/{INVOICE}"), &[books_org(), ("accept", "html")], None);
    let html = b"<!DOCTYPE html><html><head><title>INV-000001</title></head><body><h1>INV-000001</h1></body></html>".to_vec();
    assert_eq!(file_of(&outcome), (json!("INV-000001.html"), json!("text/html;charset=UTF-8"), html));

    let outcome = h.run_as(&connection, "books-get-record-document", json!({ "record-type": "invoices", "record-id": "460000019999999" }), None).await;
    assert_eq!(error_of(&outcome), &books_error("not-found", 404, "1002", "Invoice does not exist."));
}

#[tokio::test(flavor = "multi_thread")]
async fn document_inputs_are_checked_before_anything_is_sent() {
    let h = Harness::new().await;
    for (input, says) in [
        (json!({ "record-type": "invoices", "record-id": INVOICE, "format": "docx" }), "is not a document format"),
        (json!({ "record-type": "invoices", "record-id": INVOICE, "format": "pdf&x=1" }), "is not a document format"),
        (json!({ "record-type": "invoices", "record-id": "../1" }), "is not a Zoho Books id"),
        (json!({ "record-type": "invoices/../contacts", "record-id": INVOICE }), "is not a Zoho Books resource"),
    ] {
        let error = error_of(&h.run("books-get-record-document", input.clone()).await).clone();
        assert_eq!(error["kind"], "invalid-input", "{input}");
        assert!(error["message"].as_str().unwrap_or("").contains(says), "{input}: {error}");
    }
    assert_eq!(h.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_document_answers_are_refused_or_made_safe() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let input = json!({ "record-type": "invoices", "record-id": INVOICE });
    let path = "/books/v3/invoices/";
    // Fault::status answers JSON by default: these answer as a PDF would.
    let pdf_fault = |body: &str| {
        let mut fault = Fault::status(1, 200, body).on_path(path);
        fault.headers = vec![("content-type".into(), "application/pdf".into())];
        fault
    };

    // A success envelope (or a 2xx error envelope) where a PDF was asked is never the file.
    h.sandbox.inject(Fault::status(1, 200, r#"{"code":1002,"message":"Invoice does not exist."}"#).on_path(path));
    assert_eq!(error_of(&h.run_as(&connection, "books-get-record-document", input.clone(), None).await), &books_error("not-found", 200, "1002", "Invoice does not exist."));
    h.sandbox.inject(Fault::status(1, 200, r#"{"code":0,"message":"success","invoice":{}}"#).on_path(path));
    let error = error_of(&h.run_as(&connection, "books-get-record-document", input.clone(), None).await).clone();
    assert!(error["message"].as_str().unwrap_or("").starts_with("Zoho Books answered a JSON document, not the pdf file asked for"), "{error}");
    h.sandbox.inject(pdf_fault("<html>login</html>"));
    let error = error_of(&h.run_as(&connection, "books-get-record-document", input.clone(), None).await).clone();
    assert!(error["message"].as_str().unwrap_or("").contains("that are not a PDF where a PDF was asked for"), "{error}");

    // A PDF echoing the token is refused, and the error does not repeat it.
    h.sandbox.inject(pdf_fault("%PDF-1.4 {authorization} %%EOF"));
    let error = error_of(&h.run_as(&connection, "books-get-record-document", input.clone(), None).await).clone();
    assert_eq!(error["message"], "Zoho's file answer holds a credential of this connection; it is not passed on");
    assert!(!error.to_string().contains(&h.token));

    // A traversing file name becomes a plain name.
    h.sandbox.inject(pdf_fault("%PDF-1.4 ok").header("content-disposition", "attachment; filename=\"../../etc/cron.d/INV-1.pdf\""));
    let (name, kind, content) = file_of(&h.run_as(&connection, "books-get-record-document", input.clone(), None).await);
    assert_eq!((name, kind, content), (json!("INV-1.pdf"), json!("application/pdf"), b"%PDF-1.4 ok".to_vec()));

    // 1 MiB passes whole; past the 32 MiB answer cap is a typed error, never held.
    let mega = format!("%PDF-1.4{}", "0".repeat((1 << 20) - 8));
    h.sandbox.inject(pdf_fault(&mega));
    assert_eq!(file_of(&h.run_as(&connection, "books-get-record-document", input.clone(), None).await).2.len(), 1 << 20);
    h.sandbox.inject(pdf_fault("").hostile(Hostile::Oversized { bytes: (32 << 20) + 1 }));
    let error = error_of(&h.run_as(&connection, "books-get-record-document", input, None).await).clone();
    assert!(error["message"].as_str().unwrap_or("").contains("larger than 32 MiB"), "{error}");
}
