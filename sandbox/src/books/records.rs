//! Zoho Books v3 as the sandbox serves it: organizations, contacts, invoices and items, nested
//! comments and contact persons, `page_context` paging, plain-parameter search, the envelope
//! with `code`, and `organization_id` enforced on every call.

use crate::books::organizations::records_of;
use crate::request::RecordedRequest;
use crate::response::json_response;
use crate::state::{Data, Shared};
use axum::response::Response;
use serde_json::{json, Map, Value};

fn books_error(status: u16, code: i64, message: &str) -> Response {
    json_response(status, &json!({ "code": code, "message": message }))
}

/// Zoho Books' limits per organization (Zoho Books API "Introduction", "API Call Limit"):
/// about 100 requests a minute, and a number a day by plan. The minute is read as strictly as
/// the words allow: any 60 seconds, not a calendar minute (a client that keeps to a calendar
/// minute can send 200 in two seconds across its turn, which a sliding reading refuses). A
/// request past either is answered 429 with `X-Rate-Limit-Limit` (the limit passed),
/// `X-Rate-Limit-Remaining: 0` and `X-Rate-Limit-Reset` (seconds until a place is free, or the
/// day ends); it spends nothing. Every request counts, refused ones included, as Zoho counts
/// what reaches it.
pub fn limited(shared: &Shared, request: &RecordedRequest) -> Option<Response> {
    let org = request.query_param("organization_id").unwrap_or("-").to_string();
    let now = shared.clock.now().timestamp();
    let (per_minute, per_day) = {
        let limits = shared.limits();
        (limits.books_per_minute, limits.books_per_day)
    };
    let day = now.div_euclid(86_400);
    let (seconds, in_day) = {
        let mut counts = shared.books_requests();
        let s = counts.entry((format!("{org}/second"), now)).or_insert(0);
        *s = s.saturating_add(1);
        let seconds: Vec<(i64, u64)> = (now - 59..=now).filter_map(|at| counts.get(&(format!("{org}/second"), at)).map(|n| (at, *n))).collect();
        let d = counts.entry((format!("{org}/day"), day)).or_insert(0);
        *d = d.saturating_add(1);
        (seconds, *d)
    };
    let in_minute: u64 = seconds.iter().map(|(_, n)| n).sum();
    let (limit, reset) = if in_minute > per_minute {
        // A place frees when the oldest second of the last 60 leaves them.
        (per_minute, seconds.first().map_or(60, |(at, _)| at + 60 - now))
    } else if in_day > per_day {
        (per_day, (day + 1) * 86_400 - now)
    } else {
        return None;
    };
    let mut response = books_error(429, 44, "You have made too many requests. Please try again after some time.");
    for (name, value) in [("x-rate-limit-limit", limit.to_string()), ("x-rate-limit-remaining", "0".to_string()), ("x-rate-limit-reset", reset.max(1).to_string())] {
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    Some(response)
}

/// With `Limits::books_day_headers`, the organization's day on an answer: the plan's
/// requests a day, those left, and the seconds until the day ends.
pub fn day_headers(shared: &Shared, request: &RecordedRequest, response: &mut Response) {
    let per_day = {
        let limits = shared.limits();
        if !limits.books_day_headers {
            return;
        }
        limits.books_per_day
    };
    let org = request.query_param("organization_id").unwrap_or("-").to_string();
    let now = shared.clock.now().timestamp();
    let day = now.div_euclid(86_400);
    let used = shared.books_requests().get(&(format!("{org}/day"), day)).copied().unwrap_or(0);
    for (name, value) in
        [("x-rate-limit-limit", per_day.to_string()), ("x-rate-limit-remaining", per_day.saturating_sub(used).to_string()), ("x-rate-limit-reset", ((day + 1) * 86_400 - now).to_string())]
    {
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
}

/// Requests organization `org` has sent today by the sandbox's clock (tests set it to play a
/// day mostly spent).
pub fn set_used_today(shared: &Shared, org: &str, used: u64) {
    let day = shared.clock.now().timestamp().div_euclid(86_400);
    shared.books_requests().insert((format!("{org}/day"), day), used);
}

/// Collections Zoho documents under another resource's path, with no id between (Books v3 pages
/// "Taxes": /settings/taxes, "Currency": /settings/currencies, "Time Entries":
/// /projects/timeentries, "Contact Persons": /contacts/contactpersons). `/books/v3/taxes` is not
/// Zoho's and answers "Invalid URL Passed". Contact persons reached this way are kept apart
/// from those listed under one contact (`/contacts/{id}/contactpersons`).
const GROUPED: [(&str, &str); 4] = [("settings", "taxes"), ("settings", "currencies"), ("projects", "timeentries"), ("contacts", "contactpersons")];
/// The parent `resource` is given for a grouped collection: no record type is named so.
const GROUP: &str = "/grouped";

/// `segments` with a grouped collection's two segments read as one top-level name.
fn ungroup<'a>(segments: &[&'a str]) -> Option<Vec<&'a str>> {
    let [group, name, rest @ ..] = segments else { return None };
    GROUPED.contains(&(*group, *name)).then(|| std::iter::once(*name).chain(rest.iter().copied()).collect())
}

/// Singular key, plural key, id field, the field a new record must have, and its label.
fn resource(parent: Option<&str>, name: &str) -> Option<(&'static str, &'static str, &'static str, &'static str, &'static str)> {
    Some(match (parent, name) {
        (None, "contacts") => ("contact", "contacts", "contact_id", "contact_name", "Contact"),
        (None, "invoices") => ("invoice", "invoices", "invoice_id", "customer_id", "Invoice"),
        (None, "items") => ("item", "items", "item_id", "name", "Item"),
        (Some("invoices"), "comments") => ("comment", "comments", "comment_id", "description", "Comment"),
        (Some("contacts"), "comments") => ("comment", "contact_comments", "comment_id", "description", "Comment"),
        (Some("contacts"), "contactpersons") => ("contact_person", "contact_persons", "contact_person_id", "first_name", "Contact person"),
        // Served only under the paths Zoho documents for them (`GROUPED`), never as /books/v3/{name}.
        (Some(GROUP), "taxes") => ("tax", "taxes", "tax_id", "tax_name", "Tax"),
        (Some(GROUP), "currencies") => ("currency", "currencies", "currency_id", "currency_code", "Currency"),
        (Some(GROUP), "timeentries") => ("time_entry", "time_entries", "time_entry_id", "project_id", "Time entry"),
        (Some(GROUP), "contactpersons") => ("contact_person", "contact_persons", "contact_person_id", "first_name", "Contact person"),
        // Sales and purchase documents: their own module.
        _ => return crate::books::documents::resource(parent, name).or_else(|| crate::books::payments::resource(parent, name)),
    })
}

fn label_of(parent: &str) -> &'static str {
    match parent {
        "contacts" => "Contact",
        "invoices" => "Invoice",
        _ => "Resource",
    }
}

pub fn route(shared: &Shared, request: &RecordedRequest) -> Response {
    let Some(rest) = request.path.strip_prefix("/books/v3/") else {
        return books_error(404, 5, "Invalid URL Passed");
    };
    match request.header("authorization").and_then(|h| h.strip_prefix("Zoho-oauthtoken ")) {
        Some(token) if shared.token_is_valid(token) => {}
        _ => return books_error(401, 57, "You are not authorized to perform this operation"),
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if segments == ["organizations"] && request.method == "GET" {
        let orgs = shared.data().books.organizations.clone();
        return json_response(200, &json!({ "code": 0, "message": "success", "organizations": orgs }));
    }
    let org = request.query_param("organization_id").unwrap_or("");
    let known_org = shared.data().books.organizations.iter().any(|o| o["organization_id"] == org);
    if !known_org {
        return books_error(400, 6041, "This user is not associated with the organization_id given");
    }
    if let Some(answer) = crate::books::actions::route(shared, request, &segments) {
        return answer;
    }
    let grouped = ungroup(&segments);
    let (parent, collection, id) = match (grouped.as_deref(), segments.as_slice()) {
        (Some([name]), _) => (Some((GROUP, "")), *name, None),
        (Some([name, id]), _) => (Some((GROUP, "")), *name, Some(*id)),
        (Some(_), _) => return books_error(404, 5, "Invalid URL Passed"),
        (None, [name]) => (None, *name, None),
        (None, [name, id]) => (None, *name, Some(*id)),
        (None, [parent, parent_id, name]) => (Some((*parent, *parent_id)), *name, None),
        (None, [parent, parent_id, name, id]) => (Some((*parent, *parent_id)), *name, Some(*id)),
        _ => return books_error(404, 5, "Invalid URL Passed"),
    };
    let Some((singular, plural, id_field, required, label)) = resource(parent.map(|p| p.0), collection) else {
        return books_error(404, 5, "Invalid URL Passed");
    };
    let reversed = request.method == "GET" && id.is_none() && reversed_ties(shared);
    let mut data = shared.data();
    if let Some((parent_name, parent_id)) = parent.filter(|(name, _)| *name != GROUP) {
        let exists = records_of(&mut data.books, org).get(&(parent_name.to_string(), None)).is_some_and(|r| r.iter().any(|x| x[format!("{}_id", &parent_name[..parent_name.len() - 1])] == parent_id));
        if !exists {
            return books_error(404, 1002, &format!("{} does not exist.", label_of(parent_name)));
        }
    }
    let key = (collection.to_string(), parent.map(|p| p.1.to_string()));
    let now = crate::clock::Clock::now_books(shared.clock.now());
    let resource = Resource { singular, plural, id_field, required, label };
    if let (Some(id), "PUT", None) = (id, request.method.as_str(), parent) {
        if let Some(answer) = crate::books::documents::on_update(&mut data, org, collection, id, request, &now) {
            return answer;
        }
    }
    match (request.method.as_str(), id) {
        ("GET", None) => list(records_of(&mut data.books, org).get(&key).cloned().unwrap_or_default(), request, &resource, reversed),
        ("POST", None) => create(&mut data, org, key, request, &resource, &now),
        (method, Some(id)) => one(records_of(&mut data.books, org).entry(key).or_default(), method, id, request, &resource, &now),
        _ => books_error(405, 37, "The HTTP method is not allowed for the resource"),
    }
}

/// What a Books collection is called and keyed by (from `resource`).
struct Resource {
    singular: &'static str,
    plural: &'static str,
    id_field: &'static str,
    /// The field a create must give.
    required: &'static str,
    label: &'static str,
}

/// `GET` a collection: search, the `last_modified_time` filter, sorting and paging (`listing`).
fn list(all: Vec<Value>, request: &RecordedRequest, resource: &Resource, reversed_ties: bool) -> Response {
    crate::books::listing::list(all, request, resource.plural, resource.label, reversed_ties)
}

/// Whether this list request orders ties reversed (`Limits::books_reorder_ties`: every other
/// list request does).
fn reversed_ties(shared: &Shared) -> bool {
    if !shared.limits().books_reorder_ties {
        return false;
    }
    let mut counts = shared.books_requests();
    let n = counts.entry(("-/lists".to_string(), 0)).or_insert(0);
    *n = n.saturating_add(1);
    (*n).is_multiple_of(2)
}

/// `POST` a collection: a new record with its id and times, or Books' code 4 for a body
/// without the required field.
fn create(data: &mut Data, org: &str, key: (String, Option<String>), request: &RecordedRequest, resource: &Resource, now: &str) -> Response {
    let Resource { singular, id_field, required, label, .. } = *resource;
    let Some(Value::Object(mut values)) = request.json() else {
        return books_error(400, 4, "Invalid value passed for JSONString");
    };
    if values.get(required).is_none_or(|v| v.is_null() || v.as_str() == Some("")) {
        return books_error(400, 4, &format!("Please enter {required}"));
    }
    if key.1.is_none() {
        if let Err(refusal) = crate::books::documents::on_create(data, org, &key.0, &mut values, request, now) {
            return refusal;
        }
    }
    let new_id = data.next_id;
    data.next_id += 1;
    values.insert(id_field.into(), json!(new_id.to_string()));
    values.insert("created_time".into(), json!(now));
    values.insert("last_modified_time".into(), json!(now));
    let record = Value::Object(values);
    records_of(&mut data.books, org).entry(key).or_default().push(record.clone());
    let mut answer = Map::new();
    answer.insert("code".into(), json!(0));
    answer.insert("message".into(), json!(format!("The {} has been added.", label.to_lowercase())));
    answer.insert(singular.into(), record);
    json_response(201, &Value::Object(answer))
}

/// `GET` (or its document), `PUT` and `DELETE` of one record of `records`.
fn one(records: &mut Vec<Value>, method: &str, id: &str, request: &RecordedRequest, resource: &Resource, now: &str) -> Response {
    let Resource { singular, id_field, label, .. } = *resource;
    let Some(index) = records.iter().position(|r| r[id_field] == id) else {
        return books_error(404, 1002, &format!("{label} does not exist."));
    };
    match method {
        "GET" => {
            if let Some(document) = crate::books::documents::document(resource.plural, &records[index], request.query_param("accept")) {
                return document;
            }
            let mut answer = Map::new();
            answer.insert("code".into(), json!(0));
            answer.insert("message".into(), json!("success"));
            answer.insert(singular.into(), records[index].clone());
            json_response(200, &Value::Object(answer))
        }
        "PUT" => {
            let Some(Value::Object(values)) = request.json() else {
                return books_error(400, 4, "Invalid value passed for JSONString");
            };
            if let Value::Object(record) = &mut records[index] {
                for (k, v) in values {
                    if k != id_field {
                        record.insert(k, v);
                    }
                }
                record.insert("last_modified_time".into(), json!(now));
            }
            let mut answer = Map::new();
            answer.insert("code".into(), json!(0));
            answer.insert("message".into(), json!(format!("{label} information has been updated.")));
            answer.insert(singular.into(), records[index].clone());
            json_response(200, &Value::Object(answer))
        }
        "DELETE" => {
            records.remove(index);
            json_response(200, &json!({ "code": 0, "message": format!("The {} has been deleted.", label.to_lowercase()) }))
        }
        _ => books_error(405, 37, "The HTTP method is not allowed for the resource"),
    }
}
