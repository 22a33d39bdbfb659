//! `GET /crm/v8/{module}/{id}/{related_list}`: related lists computed from the record store. The
//! related list M of record R lists the records of module M with a lookup pointing at R
//! (`Account_Name: {"id": R, "name": ...}`); `Notes` lists the notes whose `Parent_Id` is
//! `{"module":{"api_name": P},"id": R}`; records linked to R through the related list
//! (`relations`) are listed too. `fields` is required, as in Zoho.

use crate::crm::records::project;
use crate::crm::relations;
use crate::params;
use crate::request::RecordedRequest;
use crate::response::{empty_response, error_response, invalid_module, json_response};
use crate::state::{PageToken, Shared};
use axum::response::Response;
use serde_json::{json, Map, Value};

const DISCRETE_LIMIT: usize = 2_000;
/// Lookups to users, not to records.
const USER_LOOKUPS: [&str; 3] = ["Owner", "Created_By", "Modified_By"];

/// Does `record` (of the related module) point at record `id` of module `parent`?
fn points_at(record: &Map<String, Value>, related_list: &str, parent: &str, id: &str) -> bool {
    if related_list == "Notes" {
        let parent_id = record.get("Parent_Id");
        return parent_id.and_then(|p| p.get("id")).and_then(Value::as_str) == Some(id) && parent_id.and_then(|p| p.pointer("/module/api_name")).and_then(Value::as_str) == Some(parent);
    }
    // Ids are unique across the sandbox's modules, so a lookup holding `id` points at it.
    record.iter().any(|(k, v)| !USER_LOOKUPS.contains(&k.as_str()) && v.get("id").and_then(Value::as_str) == Some(id))
}

pub fn related(shared: &Shared, request: &RecordedRequest, module_name: &str, id: &str, related_list: &str) -> Response {
    let mut data = shared.data();
    let Some(module) = data.modules.get(module_name) else { return invalid_module() };
    if !id.parse::<u64>().ok().is_some_and(|i| module.records.contains_key(&i)) {
        return error_response(400, "INVALID_DATA", "the id given seems to be invalid", json!({ "resource_path_index": 1 }));
    }
    let Some(related) = data.modules.get(related_list) else {
        // An unknown related list is an unknown URL to Zoho.
        return error_response(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", json!({}));
    };
    let (fields, per_page) = match (params::required_fields(request, Some(&related.fields)), params::per_page(request)) {
        (Ok(fields), Ok(per_page)) => (fields, per_page),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let signature = format!("related|{module_name}|{id}|{related_list}|{}|{per_page}", fields.join(","));
    let now = shared.clock.now();
    let offset = match (request.query_param("page"), request.query_param("page_token")) {
        (Some(_), Some(_)) => return params::bad_param("page_token", "page and page_token cannot be used together"),
        (_, Some(token)) => match data.page_tokens.get(token) {
            Some(t) if t.signature == signature && t.expires_at > now => t.offset,
            _ => return params::bad_param("page_token", "invalid page token"),
        },
        (Some(page), None) => match page.parse::<usize>() {
            Ok(p) if p >= 1 && p.saturating_mul(per_page) <= DISCRETE_LIMIT => (p - 1) * per_page,
            Ok(p) if p >= 1 => {
                return error_response(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED", "You can only get the first 2000 records without using page_token param", json!({ "limit": DISCRETE_LIMIT }))
            }
            _ => return params::bad_param("page", "page must be a number from 1"),
        },
        (None, None) => 0,
    };
    // A record lists as related when a lookup of it points at the parent, or when the two are
    // linked through the related list (`relations`).
    let is_linked = |r: &Map<String, Value>| r.get("id").and_then(Value::as_str).is_some_and(|rid| relations::linked(&data, module_name, id, related_list, rid));
    let matching: Vec<&Map<String, Value>> = related.records.values().filter(|r| points_at(r, related_list, module_name, id) || is_linked(r)).collect();
    let records: Vec<Value> = matching.iter().skip(offset).take(per_page).map(|r| project(r, &fields)).collect();
    if records.is_empty() {
        return empty_response(204);
    }
    let count = records.len();
    let more = offset + count < matching.len();
    let next_token = more.then(|| {
        let token = format!("rt{:x}{:06}", now.timestamp(), data.page_tokens.len());
        data.page_tokens.insert(token.clone(), PageToken { signature, offset: offset + per_page, expires_at: now + chrono::Duration::hours(24) });
        token
    });
    json_response(200, &json!({ "data": records, "info": { "per_page": per_page, "next_page_token": next_token, "count": count, "page": offset / per_page + 1, "more_records": more } }))
}
