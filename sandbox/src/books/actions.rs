//! Zoho Books record actions and documents as the sandbox serves them: invoice status changes
//! (`status/sent|void|draft`), `email` (recipients required), the approval steps (`submit`,
//! `approve`), contacts' `active`/`inactive`, and `GET /invoices/{id}?accept=pdf|html` answering
//! the document's bytes. Books publishes no code per refused transition: the sandbox answers
//! 400 with Books' general "invalid value" code 4 and a message naming the state.

use crate::request::RecordedRequest;
use crate::response::json_response;
use crate::state::Shared;
use axum::body::Body;
use axum::response::Response;
use serde_json::{json, Value};

fn books_error(status: u16, code: i64, message: &str) -> Response {
    json_response(status, &json!({ "code": code, "message": message }))
}

fn done(message: &str) -> Response {
    json_response(200, &json!({ "code": 0, "message": message }))
}

/// The actions each resource has: (resource, id field, label, action path).
const ACTIONS: [(&str, &str, &str, &str); 8] = [
    ("invoices", "invoice_id", "Invoice", "status/sent"),
    ("invoices", "invoice_id", "Invoice", "status/void"),
    ("invoices", "invoice_id", "Invoice", "status/draft"),
    ("invoices", "invoice_id", "Invoice", "email"),
    ("invoices", "invoice_id", "Invoice", "submit"),
    ("invoices", "invoice_id", "Invoice", "approve"),
    ("contacts", "contact_id", "Contact", "active"),
    ("contacts", "contact_id", "Contact", "inactive"),
];

/// `POST /{resource}/{id}/{action}` when the path names a known action; `None` lets the
/// resource routes answer (nested resources, or Books' "Invalid URL Passed").
pub fn route(shared: &Shared, request: &RecordedRequest, segments: &[&str]) -> Option<Response> {
    let [resource, id, rest @ ..] = segments else { return None };
    let action = rest.join("/");
    let (_, id_field, label, _) = ACTIONS.iter().find(|(r, _, _, a)| r == resource && *a == action)?;
    if request.method != "POST" {
        return Some(books_error(405, 37, "The HTTP method is not allowed for the resource"));
    }
    let org = request.query_param("organization_id").unwrap_or("");
    let mut data = shared.data();
    let records = crate::books::organizations::records_of(&mut data.books, org).entry((resource.to_string(), None)).or_default();
    let Some(record) = records.iter_mut().find(|r| r[*id_field] == *id) else {
        return Some(books_error(404, 1002, &format!("{label} does not exist.")));
    };
    let status = record["status"].as_str().unwrap_or("draft").to_string();
    let mut set = |to: &str| record["status"] = json!(to);
    Some(match (action.as_str(), status.as_str()) {
        ("status/void", "void") => books_error(400, 4, "The invoice has already been voided."),
        ("status/void", _) => {
            set("void");
            done("Invoice status has been changed to Void.")
        }
        ("status/sent", "void") => books_error(400, 4, "A void invoice cannot be marked as sent. Convert it to draft first."),
        ("status/sent", _) => {
            set("sent");
            done("Invoice status has been changed to Sent.")
        }
        ("status/draft", "void") => {
            set("draft");
            done("Status of invoice changed from void to draft.")
        }
        ("status/draft", _) => books_error(400, 4, "Only void invoices can be converted to draft."),
        ("email", "void") => books_error(400, 4, "A void invoice cannot be emailed."),
        ("email", _) => {
            let recipients = request.json().and_then(|b| b.get("to_mail_ids").cloned());
            let valid = recipients.as_ref().and_then(Value::as_array).is_some_and(|r| !r.is_empty() && r.iter().all(|m| m.as_str().is_some_and(|m| m.contains('@'))));
            if !valid {
                return Some(books_error(400, 4, "Please enter a valid email address in to_mail_ids."));
            }
            if status == "draft" {
                set("sent");
            }
            done("Your invoice has been sent.")
        }
        ("submit", "draft") => {
            set("pending_approval");
            done("The invoice has been submitted for approval.")
        }
        ("submit", _) => books_error(400, 4, "Only draft invoices can be submitted for approval."),
        ("approve", "pending_approval") => {
            set("approved");
            done("The invoice has been approved.")
        }
        ("approve", _) => books_error(400, 4, "Only invoices pending approval can be approved."),
        ("active", _) => {
            set("active");
            done("The contact has been marked as active.")
        }
        (_, _) => {
            set("inactive");
            done("The contact has been marked as inactive.")
        }
    })
}

/// The smallest valid PDF (one empty page) naming the document, with a correct xref table.
pub fn pdf(title: &str) -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>".to_string(),
        format!("<< /Title ({}) >>", title.replace(['(', ')', '\\'], "")),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (n, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{object}\nendobj\n", n + 1));
    }
    let xref = out.len();
    out.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    for offset in offsets {
        out.push_str(&format!("{offset:010} 00000 n \n"));
    }
    out.push_str(&format!("trailer\n<< /Size {} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1));
    out.into_bytes()
}

/// `GET /{resource}/{id}?accept=pdf|html` of a record: the document, named by its number.
pub fn document(record: &Value, number_field: &str, accept: &str) -> Option<Response> {
    let number = record.get(number_field).and_then(Value::as_str).unwrap_or("document").to_string();
    let (content_type, bytes, extension) = match accept {
        "pdf" => ("application/pdf", pdf(&number), "pdf"),
        "html" => ("text/html;charset=UTF-8", format!("<!DOCTYPE html><html><head><title>{number}</title></head><body><h1>{number}</h1></body></html>").into_bytes(), "html"),
        _ => return None,
    };
    Response::builder().status(200).header("content-type", content_type).header("content-disposition", format!("attachment; filename=\"{number}.{extension}\"")).body(Body::from(bytes)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every xref offset points at its object, and startxref at the table: a reader opens it.
    #[test]
    fn the_pdf_is_well_formed() {
        let bytes = pdf("INV-(00001)");
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        let xref: usize = text.lines().rev().nth(1).unwrap().parse().unwrap();
        assert!(text[xref..].starts_with("xref\n0 5\n"));
        for (n, line) in text[xref..].lines().skip(3).take(4).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            assert!(text[offset..].starts_with(&format!("{} 0 obj\n", n + 1)), "object {}", n + 1);
        }
        assert!(text.contains("/Title (INV-00001)"));
    }
}
