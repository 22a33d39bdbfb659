//! Zoho CRM v8 records as the sandbox serves them: `/crm/v8/{module}`, `/{module}/{id}`,
//! `/{module}/deleted`; metadata is in `crm/metadata.rs`, COQL in `crm/coql/`, routing in `routes.rs`.

use crate::accounts::account;
use crate::clock::Clock;
use crate::crm::metadata;
use crate::crm::store;
use crate::request::RecordedRequest;
use crate::response::{empty_response, error_body, error_response, invalid_module, json_response};
use crate::state::{Data, Module, PageToken, Shared};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

const MAX_FIELDS: usize = 50;
const MAX_PER_PAGE: usize = 200;
const DISCRETE_LIMIT: usize = 2_000;
const TOKEN_LIMIT: usize = 100_000;
pub(crate) const MAX_WRITE: usize = 100;

/// The refusal for a request without a valid token, if it has none.
pub fn authenticate(shared: &Shared, request: &RecordedRequest) -> Option<Response> {
    match request.header("authorization").and_then(|h| h.strip_prefix("Zoho-oauthtoken ")) {
        None => Some(error_response(401, "AUTHENTICATION_FAILURE", "Authentication failed", json!({}))),
        Some(token) if !shared.token_is_valid(token) => Some(error_response(401, "INVALID_TOKEN", "invalid oauth token", json!({}))),
        Some(_) => None,
    }
}

/// A record limited to the asked fields (the id always comes back).
pub(crate) fn project(record: &Map<String, Value>, fields: &[&str]) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), record.get("id").cloned().unwrap_or(Value::Null));
    for f in fields {
        if let Some(v) = record.get(*f) {
            out.insert(f.to_string(), v.clone());
        } else {
            out.insert(f.to_string(), Value::Null);
        }
    }
    Value::Object(out)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

fn bad_param(param: &str, message: &str) -> Response {
    error_response(400, "INVALID_DATA", message, json!({ "param_name": param }))
}

pub fn list(shared: &Shared, request: &RecordedRequest, module_name: &str) -> Response {
    let mut data = shared.data();
    let Some(module) = data.modules.get(module_name) else { return invalid_module() };
    let Some(fields_param) = request.query_param("fields") else {
        return error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "fields" }));
    };
    let fields: Vec<&str> = fields_param.split(',').filter(|f| !f.is_empty()).collect();
    if fields.len() > MAX_FIELDS {
        return error_response(400, "LIMIT_EXCEEDED", "the number of fields exceeds the limit", json!({ "param_name": "fields", "limit": MAX_FIELDS }));
    }
    if let Some(unknown) = fields.iter().find(|f| !module.fields.iter().any(|d| d.api_name == **f)) {
        return error_response(400, "INVALID_DATA", "invalid field name in fields", json!({ "api_name": unknown, "param_name": "fields" }));
    }
    let per_page = match request.query_param("per_page").map(str::parse::<usize>) {
        None => MAX_PER_PAGE,
        Some(Ok(n)) if (1..=MAX_PER_PAGE).contains(&n) => n,
        Some(_) => return bad_param("per_page", "per_page must be between 1 and 200"),
    };
    let sort_by = request.query_param("sort_by").unwrap_or("id");
    if !["id", "Created_Time", "Modified_Time"].contains(&sort_by) {
        return bad_param("sort_by", "invalid sort_by");
    }
    let sort_order = request.query_param("sort_order").unwrap_or("desc");
    if !["asc", "desc"].contains(&sort_order) {
        return bad_param("sort_order", "invalid sort_order");
    }
    let page = request.query_param("page");
    let token = request.query_param("page_token");
    if page.is_some() && token.is_some() {
        return bad_param("page_token", "page and page_token cannot be used together");
    }
    let since = match if_modified_since(request) {
        Ok(since) => since,
        Err(refused) => return refused,
    };
    // Zoho's v8 "Get Records" lists "recently modified records" since the header's time and
    // does not say whether a record of that very second is in; peers read it inclusive
    // (zoho-api.md), so the sandbox does, and a test may switch to the other reading.
    let exclusive = data.if_modified_since_exclusive;
    let ids: Option<Vec<u64>> = request.query_param("ids").map(|ids| ids.split(',').filter_map(|i| i.trim().parse().ok()).collect());
    // The listing a page token belongs to: tokens are only valid for the same query.
    let signature = format!("{module_name}|{fields_param}|{per_page}|{sort_by}|{sort_order}|{since:?}|{:?}", request.query_param("ids"));
    let now = shared.clock.now();
    let offset = match offset(&data, page, token, per_page, &signature, now) {
        Ok(offset) => offset,
        Err(refused) => return refused,
    };

    let mut matching: Vec<&Map<String, Value>> = module
        .records
        .iter()
        .filter(|(id, _)| ids.as_ref().is_none_or(|ids| ids.contains(id)))
        .filter(|(_, r)| since.is_none_or(|s| r.get("Modified_Time").and_then(Value::as_str).and_then(parse_time).is_some_and(|m| m > s || (m == s && !exclusive))))
        .map(|(_, r)| r)
        .collect();
    if matching.is_empty() {
        // Nothing modified since the header's time: 304, as Zoho's SDK samples read it ("Get
        // Notes", "Get Records": `[204, 304].includes(status)` → "Not Modified").
        return empty_response(if since.is_some() { 304 } else { 204 });
    }
    let key = |r: &Map<String, Value>| -> (String, u64) {
        let id = r.get("id").and_then(Value::as_str).and_then(|i| i.parse().ok()).unwrap_or(0);
        let time = match sort_by {
            "id" => String::new(),
            f => r.get(f).and_then(Value::as_str).and_then(parse_time).map(|t| t.to_rfc3339()).unwrap_or_default(),
        };
        (time, id)
    };
    // Records are kept in id order already; other orders are sorted.
    if sort_by != "id" {
        matching.sort_by_key(|r| key(r));
    }
    if sort_order == "desc" {
        matching.reverse();
    }
    let total = matching.len();
    let page_records: Vec<Value> = matching.iter().skip(offset).take(per_page).map(|r| project(r, &fields)).collect();
    if page_records.is_empty() {
        return empty_response(204);
    }
    let more = offset + per_page < total.min(TOKEN_LIMIT);
    let expires_at = now + chrono::Duration::hours(24);
    let next_token = more.then(|| {
        let token = format!("pt{:x}{:06}", now.timestamp(), data.page_tokens.len());
        data.page_tokens.insert(token.clone(), PageToken { signature: signature.clone(), offset: offset + per_page, expires_at });
        token
    });
    let count = page_records.len();
    json_response(
        200,
        &json!({
            "data": page_records,
            "info": {
                "per_page": per_page,
                "next_page_token": next_token,
                "count": count,
                "sort_by": sort_by,
                "page": offset / per_page + 1,
                "previous_page_token": null,
                "page_token_expiry": Clock::zoho_time(expires_at),
                "sort_order": sort_order,
                "more_records": more,
            }
        }),
    )
}

/// The records list's `If-Modified-Since`, if sent: 400 INVALID_DATA when it is no time.
fn if_modified_since(request: &RecordedRequest) -> Result<Option<DateTime<Utc>>, Response> {
    match request.header("if-modified-since") {
        None => Ok(None),
        Some(text) => match parse_time(text) {
            Some(t) => Ok(Some(t)),
            None => Err(error_response(400, "INVALID_DATA", "invalid If-Modified-Since header", json!({ "header_name": "If-Modified-Since" }))),
        },
    }
}

/// Where a records page starts: a page token of the same listing (`signature`) still alive, or
/// `page` within the 2,000 records Zoho reaches without tokens; never past the token limit.
fn offset(data: &Data, page: Option<&str>, token: Option<&str>, per_page: usize, signature: &str, now: DateTime<Utc>) -> Result<usize, Response> {
    let offset = match (page, token) {
        (_, Some(token)) => match data.page_tokens.get(token) {
            Some(t) if t.signature == signature && t.expires_at > now => t.offset,
            Some(t) if t.expires_at <= now => return Err(bad_param("page_token", "the page token has expired")),
            _ => return Err(bad_param("page_token", "invalid page token")),
        },
        (Some(page), None) => match page.parse::<usize>() {
            Ok(p) if p >= 1 => {
                if p * per_page > DISCRETE_LIMIT {
                    return Err(error_response(
                        400,
                        "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                        "You can only get the first 2000 records without using page_token param",
                        json!({ "limit": DISCRETE_LIMIT }),
                    ));
                }
                (p - 1) * per_page
            }
            _ => return Err(bad_param("page", "page must be a number from 1")),
        },
        (None, None) => 0,
    };
    if offset >= TOKEN_LIMIT {
        return Err(error_response(400, "PAGINATION_LIMIT_EXCEEDED", "pagination limit exceeded", json!({ "limit": TOKEN_LIMIT })));
    }
    Ok(offset)
}

pub fn get(shared: &Shared, request: &RecordedRequest, module_name: &str, id: &str) -> Response {
    let data = shared.data();
    let Some(module) = data.modules.get(module_name) else { return invalid_module() };
    let Some(record) = id.parse::<u64>().ok().and_then(|id| module.records.get(&id)) else { return empty_response(204) };
    let record = match request.query_param("fields") {
        Some(fields) => project(record, &fields.split(',').filter(|f| !f.is_empty()).collect::<Vec<_>>()),
        None => Value::Object(record.clone()),
    };
    json_response(200, &json!({ "data": [record] }))
}

/// The `data` array of a write body, or the top-level error Zoho gives for a malformed body.
pub(crate) fn write_items(request: &RecordedRequest) -> Result<Vec<Value>, Response> {
    let Some(body) = request.json() else {
        return Err(error_response(400, "INVALID_DATA", "body is not a valid JSON", json!({})));
    };
    let Some(items) = body.get("data").and_then(Value::as_array).filter(|d| !d.is_empty()) else {
        return Err(error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "data" })));
    };
    if items.len() > MAX_WRITE {
        return Err(error_response(400, "LIMIT_EXCEEDED", "the number of records exceeds the limit", json!({ "limit": MAX_WRITE })));
    }
    Ok(items.clone())
}

/// Zoho's checks on one record's values: mandatory field, e-mail shape, unique fields.
pub(crate) fn check_values(module: &Module, module_name: &str, index: usize, values: &Map<String, Value>, own_id: Option<u64>, creating: bool) -> Option<Value> {
    if let Some(error) = check_shape(module, module_name, index, values, creating) {
        return Some(error);
    }
    let path = |field: &str| format!("$.data[{index}].{field}");
    for field in &module.unique {
        let Some(value) = values.get(*field).filter(|v| !v.is_null()) else { continue };
        if let Some((id, _)) = module.records.iter().find(|(id, r)| Some(**id) != own_id && r.get(*field) == Some(value)) {
            return Some(duplicate(module_name, *id, field, &path(field)));
        }
    }
    None
}

/// Zoho's DUPLICATE_DATA error for `field`, naming the record that holds the value already.
pub(crate) fn duplicate(module_name: &str, id: u64, field: &str, json_path: &str) -> Value {
    error_body(
        "DUPLICATE_DATA",
        "duplicate data",
        json!({ "api_name": field, "json_path": json_path, "duplicate_record": { "id": id.to_string(), "Owner": account::owner(), "module": { "api_name": module_name, "id": metadata::module_id(module_name) } } }),
    )
}

/// [`check_values`] but the unique fields: mandatory fields, the values' types, e-mail shape (a
/// bulk write job checks uniqueness against its own index instead of scanning every record).
pub(crate) fn check_shape(module: &Module, module_name: &str, index: usize, values: &Map<String, Value>, creating: bool) -> Option<Value> {
    let path = |field: &str| format!("$.data[{index}].{field}");
    for field in std::iter::once(module.mandatory).chain(module.also_mandatory.iter().copied()) {
        let missing = match values.get(field) {
            None => creating,
            Some(v) => v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()),
        };
        if missing {
            return Some(error_body("MANDATORY_NOT_FOUND", "required field not found", json!({ "api_name": field, "json_path": path(field) })));
        }
    }
    if let Some(error) = crate::crm::field_values::first_problem(module_name, module, index, values) {
        return Some(error);
    }
    if let Some(email) = values.get("Email").filter(|e| !e.is_null()) {
        if !email.as_str().is_some_and(|e| e.contains('@') && !e.starts_with('@') && !e.ends_with('@')) {
            return Some(error_body("INVALID_DATA", "invalid data", json!({ "api_name": "Email", "json_path": path("Email"), "expected_data_type": "email" })));
        }
    }
    None
}

/// The values a write stores (the module's own fields the API writes, as a read answers them),
/// or Zoho's error for the record; fresh ids (subform rows, files) are drawn from the data's.
pub(crate) fn prepared(data: &mut Data, module_name: &str, index: usize, values: &Map<String, Value>) -> Result<Map<String, Value>, Value> {
    let mut next = data.next_id;
    let out = crate::crm::field_values::stored(data, module_name, index, values, &mut next);
    data.next_id = next;
    out
}

pub(crate) fn success_details(record: &Map<String, Value>) -> Value {
    json!({
        "Modified_Time": record.get("Modified_Time"),
        "Modified_By": record.get("Modified_By"),
        "Created_Time": record.get("Created_Time"),
        "id": record.get("id"),
        "Created_By": record.get("Created_By"),
    })
}

/// 201/200 when all succeeded, 400 when none did, 207 for a mix.
pub(crate) fn write_status(items: &[Value], all_ok: u16) -> u16 {
    let failed = items.iter().filter(|i| i["status"] == "error").count();
    match failed {
        0 => all_ok,
        n if n == items.len() => 400,
        _ => 207,
    }
}

pub fn create(shared: &Shared, request: &RecordedRequest, module_name: &str) -> Response {
    if !shared.data().modules.contains_key(module_name) {
        return invalid_module();
    }
    let items = match write_items(request) {
        Ok(items) => items,
        Err(response) => return response,
    };
    let mut results = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(values) = item.as_object() else {
            results.push(error_body("INVALID_DATA", "invalid data", json!({ "json_path": format!("$.data[{index}]") })));
            continue;
        };
        let checked = {
            let mut data = shared.data();
            match check_values(&data.modules[module_name], module_name, index, values, None, true) {
                Some(error) => Err(error),
                None => prepared(&mut data, module_name, index, values),
            }
        };
        let stored = match checked {
            Ok(stored) => stored,
            Err(error) => {
                results.push(error);
                continue;
            }
        };
        let id = store::insert(shared, module_name, stored, shared.clock.now());
        let data = shared.data();
        let record = &data.modules[module_name].records[&id];
        results.push(json!({ "code": "SUCCESS", "details": success_details(record), "message": "record added", "status": "success" }));
    }
    let status = write_status(&results, 201);
    json_response(status, &json!({ "data": results }))
}

fn invalid_id(id: &str) -> Response {
    json_response(400, &json!({ "data": [error_body("INVALID_DATA", "the id given seems to be invalid", json!({ "id": id }))] }))
}

pub fn update(shared: &Shared, request: &RecordedRequest, module_name: &str, id: &str) -> Response {
    let items = match write_items(request) {
        Ok(items) => items,
        Err(response) => return response,
    };
    if !shared.data().modules.contains_key(module_name) {
        return invalid_module();
    }
    let outcome = update_item(shared, module_name, 0, id, &items[0]);
    json_response(write_status(std::slice::from_ref(&outcome), 200), &json!({ "data": [outcome] }))
}

/// One record's update (the `index`-th of the request): its outcome, a success with the
/// record's details or the error Zoho gives that item.
pub(crate) fn update_item(shared: &Shared, module_name: &str, index: usize, id: &str, item: &Value) -> Value {
    let invalid_id = || error_body("INVALID_DATA", "the id given seems to be invalid", json!({ "id": id }));
    let now = Clock::zoho_time(shared.clock.now());
    let mut data = shared.data();
    let Some(module) = data.modules.get(module_name) else { return invalid_id() };
    let Some(record_id) = id.parse::<u64>().ok().filter(|i| module.records.contains_key(i)) else { return invalid_id() };
    let Some(values) = item.as_object() else { return invalid_id() };
    if let Some(error) = check_values(module, module_name, index, values, Some(record_id), false) {
        return error;
    }
    let changes = match prepared(&mut data, module_name, index, values) {
        Ok(changes) => changes,
        Err(error) => return error,
    };
    let Some(module) = data.modules.get_mut(module_name) else { return invalid_id() };
    module.revision += 1;
    let Some(record) = module.records.get_mut(&record_id) else { return invalid_id() };
    record.extend(changes.clone());
    record.insert("Modified_Time".into(), json!(now));
    crate::crm::notifications::deliveries::changed(shared, module_name, crate::crm::notifications::deliveries::Operation::Update, id, changes);
    json!({ "code": "SUCCESS", "details": success_details(record), "message": "record updated", "status": "success" })
}

/// Removes a record and notes it in the module's deleted list.
pub fn delete_stored(shared: &Shared, module_name: &str, id: &str) -> bool {
    let now = shared.clock.now();
    let mut data = shared.data();
    let removed = data.modules.get_mut(module_name).and_then(|m| {
        m.revision += 1;
        let mandatory = m.mandatory;
        id.parse::<u64>().ok().and_then(|i| m.records.remove(&i)).map(|r| r.get(mandatory).and_then(Value::as_str).unwrap_or(id).to_string())
    });
    if let Some(name) = &removed {
        data.deleted.entry(module_name.to_string()).or_default().push((id.to_string(), now));
        data.deleted_names.insert((module_name.to_string(), id.to_string()), name.clone());
        crate::crm::notifications::deliveries::changed(shared, module_name, crate::crm::notifications::deliveries::Operation::Delete, id, Map::new());
    }
    removed.is_some()
}

pub fn delete(shared: &Shared, module_name: &str, id: &str) -> Response {
    if !shared.data().modules.contains_key(module_name) {
        return invalid_module();
    }
    if delete_stored(shared, module_name, id) {
        json_response(200, &json!({ "data": [{ "code": "SUCCESS", "details": { "id": id }, "message": "record deleted", "status": "success" }] }))
    } else {
        invalid_id(id)
    }
}

/// Days a deleted record stays in the recycle bin before Zoho deletes it for good.
const RECYCLE_BIN_DAYS: i64 = 60;
/// Days a permanently deleted record's id stays in the feed (v7/v8 "Get List of Deleted
/// Records": the recycle bin keeps 60 days, permanently deleted ids 120).
const PERMANENT_DAYS: i64 = 120;

/// Where an id stands in the feed: Zoho documents no order for it, so the sandbox answers in
/// an order that is stable from page to page but neither deletion time nor id.
pub fn feed_position(id: &str) -> u64 {
    id.parse::<u64>().unwrap_or(0).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

/// `GET /{module}/deleted?type=all|recycle|permanent&page&per_page`, paged in no time order
/// (Zoho documents none); `If-Modified-Since` keeps the deletions at or after it. A record
/// deleted more than 60 days ago has left the recycle bin (`permanent`); after 120 days it has
/// left the feed.
pub fn deleted(shared: &Shared, request: &RecordedRequest, module_name: &str) -> Response {
    let now = shared.clock.now();
    let data = shared.data();
    if !data.modules.contains_key(module_name) {
        return invalid_module();
    }
    let wanted = request.query_param("type").unwrap_or("all");
    if !["all", "recycle", "permanent"].contains(&wanted) {
        return bad_param("type", "type must be all, recycle or permanent");
    }
    let (per_page, page) = match (crate::params::per_page(request), crate::params::page(request)) {
        (Ok(per_page), Ok(page)) => (per_page, page),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let since = match if_modified_since(request) {
        Ok(since) => since,
        Err(refused) => return refused,
    };
    let bin_start = now - chrono::Duration::days(RECYCLE_BIN_DAYS);
    let feed_start = now - chrono::Duration::days(PERMANENT_DAYS);
    let mut entries: Vec<&(String, DateTime<Utc>)> =
        data.deleted.get(module_name).map(|d| d.iter().filter(|(_, at)| *at >= feed_start && since.is_none_or(|s| *at >= s)).collect()).unwrap_or_default();
    entries.sort_by_key(|(id, _)| feed_position(id));
    let all: Vec<Value> = entries
        .into_iter()
        .map(|(id, at)| (id, at, if *at < bin_start { "permanent" } else { "recycle" }))
        .filter(|(_, _, kind)| wanted == "all" || wanted == *kind)
        .map(|(id, at, kind)| {
            let name = data.deleted_names.get(&(module_name.to_string(), id.clone())).cloned().unwrap_or_else(|| id.clone());
            json!({ "id": id, "deleted_time": Clock::zoho_time(*at), "deleted_by": account::owner(), "display_name": name, "type": kind, "created_by": account::owner() })
        })
        .collect();
    // Nothing (left) to list: 204, as every empty listing (Zoho's page names no other answer
    // for a filtered feed with nothing in it; the component reads a 304 the same way).
    let slice: Vec<Value> = all.iter().skip((page - 1).saturating_mul(per_page)).take(per_page).cloned().collect();
    if slice.is_empty() {
        return empty_response(204);
    }
    let more = page.saturating_mul(per_page) < all.len();
    json_response(200, &json!({ "data": slice, "info": { "per_page": per_page, "count": slice.len(), "page": page, "more_records": more } }))
}
