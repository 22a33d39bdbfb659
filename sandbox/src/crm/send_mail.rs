//! Send Mail: `POST /crm/v8/{module}/{id}/actions/send_mail` (send_mail.json; Zoho's v8 "Send
//! Mail" page and its operation, zoho/crm-oas `v8.0/send_mail` `sendMail`).
//!
//! Exactly one mail in `data`; `from` one of the org's from addresses (v8 "Get Email Addresses":
//! the current user's own address and the org's addresses); `to` 1 to 50 recipients, `cc` and
//! `bcc` at most 50 each, every address at most 255 characters; `subject` at most 1,000
//! characters and `content` at most 100,000, both required unless `template` names one;
//! `mail_format` `html` or `text`. Only the modules the page lists send mail (Leads, Contacts,
//! Deals, Accounts, Sales Orders, Purchase Orders, Invoices, Quotes, Cases, Vendors, custom
//! modules), and the record must exist. Errors are Zoho's: `INVALID_MODULE` (the URL's module),
//! `INVALID_DATA` and `MANDATORY_NOT_FOUND` in `data[]` with `api_name` and `json_path`
//! (send_mail.json `InvalidWrapper`). A mail sent is kept (`Shared::sent_mails`) and answered
//! as Zoho's example: `{"data":[{"code":"SUCCESS","details":{"message_id"},...}]}`.

use crate::request::RecordedRequest;
use crate::response::{error_body, error_response, json_response};
use crate::state::Shared;
use axum::response::Response;
use serde_json::{json, Value};

const MAX_RECIPIENTS: usize = 50;
const MAX_ADDRESS: usize = 255;
const MAX_SUBJECT: usize = 1_000;
const MAX_CONTENT: usize = 100_000;

/// Standard modules that do not send mail (the page lists the others).
const NOT_MAILABLE: [&str; 8] = ["Tasks", "Events", "Calls", "Notes", "Products", "Price_Books", "Campaigns", "Solutions"];

/// The org's from addresses: the current user's own and the org's (`from_addresses.json`
/// `address`: email, type, id, user_name, default).
pub fn from_addresses() -> Value {
    json!([
        { "email": "owner@sandbox.zoho", "type": "primary", "id": "5725767000000411001", "user_name": "Sandbox User", "default": true },
        { "email": "sales@sandbox.zoho", "type": "org_email", "id": "5725767000000622001", "user_name": "Sandbox Sales", "default": false },
    ])
}

fn data_error(code: &str, message: &str, api_name: &str, path: &str) -> Response {
    json_response(400, &json!({ "data": [error_body(code, message, json!({ "api_name": api_name, "json_path": path }))] }))
}

pub fn send(shared: &Shared, request: &RecordedRequest, module: &str, id: &str) -> Response {
    {
        let data = shared.data();
        let Some(m) = data.modules.get(module).filter(|_| !NOT_MAILABLE.contains(&module)) else {
            return error_response(400, "INVALID_MODULE", "the module name given seems to be invalid", json!({ "resource_path_index": 0 }));
        };
        if !id.parse::<u64>().ok().is_some_and(|i| m.records.contains_key(&i)) {
            return error_response(400, "INVALID_DATA", "the id given seems to be invalid", json!({ "resource_path_index": 1 }));
        }
    }
    let Some(body) = request.json() else {
        return error_response(400, "INVALID_DATA", "the body is not a JSON object", json!({}));
    };
    let mails = body.get("data").and_then(Value::as_array);
    let mail = match mails.map(Vec::as_slice) {
        Some([mail]) if mail.is_object() => mail,
        Some(_) => return data_error("INVALID_DATA", "send one mail per request", "data", "$.data"),
        None => return error_response(400, "MANDATORY_NOT_FOUND", "required field not found", json!({ "api_name": "data", "json_path": "$.data" })),
    };
    if let Some(refusal) = mail_problem(mail) {
        return refusal;
    }
    let message_id = {
        let mut data = shared.data();
        let n = data.next_id;
        data.next_id += 1;
        data.sent_mails.push((module.to_string(), id.to_string(), mail.clone()));
        format!("2cceafa{n:x}")
    };
    json_response(
        200,
        &json!({ "data": [{ "code": "SUCCESS", "details": { "message_id": message_id, "blocked_email_addresses": [] }, "message": "Your mail has been sent successfully.", "status": "success" }] }),
    )
}

/// Zoho's refusal of one mail, or None.
fn mail_problem(mail: &Value) -> Option<Response> {
    let from = mail.get("from");
    let Some(from_email) = from.and_then(|f| f.get("email")).and_then(Value::as_str) else {
        return Some(data_error("MANDATORY_NOT_FOUND", "required field not found", "from", "$.data[0].from"));
    };
    let allowed = from_addresses();
    if !allowed.as_array().into_iter().flatten().any(|a| a["email"].as_str().is_some_and(|e| e.eq_ignore_ascii_case(from_email))) {
        return Some(data_error("INVALID_DATA", "the from address is not one of the org's from addresses", "from", "$.data[0].from.email"));
    }
    if let Some(refusal) = address_problem(from.unwrap_or(&Value::Null), "from", "$.data[0].from") {
        return Some(refusal);
    }
    for (list, required) in [("to", true), ("cc", false), ("bcc", false)] {
        match mail.get(list) {
            None | Some(Value::Null) if !required => {}
            None | Some(Value::Null) => return Some(data_error("MANDATORY_NOT_FOUND", "required field not found", list, &format!("$.data[0].{list}"))),
            Some(Value::Array(items)) if (items.is_empty() && required) || items.len() > MAX_RECIPIENTS => {
                return Some(data_error("INVALID_DATA", "the number of recipients is out of range", list, &format!("$.data[0].{list}")));
            }
            Some(Value::Array(items)) => {
                for (n, item) in items.iter().enumerate() {
                    if let Some(refusal) = address_problem(item, list, &format!("$.data[0].{list}[{n}]")) {
                        return Some(refusal);
                    }
                }
            }
            Some(_) => return Some(data_error("INVALID_DATA", "invalid data", list, &format!("$.data[0].{list}"))),
        }
    }
    let templated = mail.get("template").and_then(|t| t.get("id")).and_then(Value::as_str).is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()));
    if mail.get("template").is_some_and(|t| !t.is_null()) && !templated {
        return Some(data_error("INVALID_DATA", "invalid data", "template", "$.data[0].template.id"));
    }
    for (key, max) in [("subject", MAX_SUBJECT), ("content", MAX_CONTENT)] {
        match mail.get(key) {
            None | Some(Value::Null) if templated => {}
            None | Some(Value::Null) => return Some(data_error("MANDATORY_NOT_FOUND", "required field not found", key, &format!("$.data[0].{key}"))),
            Some(Value::String(text)) if text.chars().count() <= max => {}
            Some(_) => return Some(data_error("INVALID_DATA", "invalid data", key, &format!("$.data[0].{key}"))),
        }
    }
    match mail.get("mail_format") {
        None | Some(Value::Null) => None,
        Some(Value::String(f)) if f == "html" || f == "text" => None,
        Some(_) => Some(data_error("INVALID_DATA", "invalid data", "mail_format", "$.data[0].mail_format")),
    }
}

/// An `{user_name?, email}` with a plausible address of at most 255 characters.
fn address_problem(item: &Value, list: &str, path: &str) -> Option<Response> {
    let email = item.get("email").and_then(Value::as_str).unwrap_or("");
    let name_ok = match item.get("user_name") {
        None | Some(Value::Null) => true,
        Some(Value::String(n)) => n.chars().count() <= MAX_ADDRESS && !n.contains(char::is_control),
        Some(_) => false,
    };
    let plausible = email.chars().count() <= MAX_ADDRESS
        && !email.contains(|c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
        && email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'));
    (!plausible || !name_ok).then(|| data_error("INVALID_DATA", "invalid data", list, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> Value {
        json!({ "from": { "user_name": "Sandbox User", "email": "owner@sandbox.zoho" }, "to": [{ "user_name": "Lead", "email": "lead@client.com" }], "subject": "s", "content": "c", "mail_format": "html" })
    }

    fn refused(change: impl Fn(&mut Value)) -> bool {
        let mut m = mail();
        change(&mut m);
        mail_problem(&m).is_some()
    }

    #[test]
    fn a_mail_is_checked_as_zoho_documents() {
        assert!(mail_problem(&mail()).is_none());
        assert!(refused(|m| m["from"]["email"] = json!("someone@else.com")), "not a from address");
        assert!(refused(|m| m["to"] = json!([])));
        assert!(refused(|m| m["to"] = json!(vec![json!({ "email": "a@b.co" }); 51])));
        assert!(!refused(|m| m["cc"] = json!(vec![json!({ "email": "a@b.co" }); 50])));
        assert!(refused(|m| m["bcc"] = json!(vec![json!({ "email": "a@b.co" }); 51])));
        assert!(refused(|m| m["to"][0]["email"] = json!("a@b.co\r\nBcc: x@y.co")));
        assert!(refused(|m| m["subject"] = json!("s".repeat(1001))));
        assert!(!refused(|m| m["subject"] = json!("é".repeat(1000))));
        assert!(refused(|m| m["content"] = json!("c".repeat(100_001))));
        assert!(refused(|m| m["mail_format"] = json!("rtf")));
        assert!(refused(|m| m.as_object_mut().unwrap().remove("content").map(|_| ()).unwrap_or(())));
        assert!(!refused(|m| {
            m.as_object_mut().unwrap().remove("content");
            m["template"] = json!({ "id": "5725767000000601001" });
        }));
    }
}
