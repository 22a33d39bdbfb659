//! `POST /crm/v8/{module}/actions/add_tags` and `remove_tags`: tags live on the records as
//! Zoho shows them (`Tag: [{"name","id","color_code"}]`, tags.json `Record_Detail_Tag`), one
//! outcome per id, 200 / 207 mixed / 400 when every id failed. Zoho's limits: 500 ids per
//! request, tag names of at most 25 characters, 10 tags per record.
//!
//! A record's failure takes the shape tags.json gives its per-record errors
//! (`Invalid_Data_API_Exception`: INVALID_DATA, "invalid data", `api_name` and `json_path`): an
//! unknown id points at its place in `ids`; an eleventh tag at `tags` (Zoho documents the limit
//! of 10 but not its code, and INVALID_DATA is the one of the file's four shapes that fits).

use crate::crm::records::write_status;
use crate::request::RecordedRequest;
use crate::response::{error_body, error_response, invalid_module, json_response};
use crate::state::Shared;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};
use std::sync::Arc;

const MAX_IDS: usize = 500;
const MAX_NAME_CHARS: usize = 25;
const MAX_TAGS_PER_RECORD: usize = 10;

pub async fn add(State(shared): State<Arc<Shared>>, Extension(request): Extension<Arc<RecordedRequest>>, Path(module): Path<String>) -> Response {
    tag(&shared, &request, &module, true)
}

pub async fn remove(State(shared): State<Arc<Shared>>, Extension(request): Extension<Arc<RecordedRequest>>, Path(module): Path<String>) -> Response {
    tag(&shared, &request, &module, false)
}

fn missing(param: &str) -> Response {
    error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": param }))
}

/// The tag names of the body, each checked as Zoho does.
fn names(body: &Value) -> Result<Vec<String>, Response> {
    let Some(tags) = body.get("tags").and_then(Value::as_array).filter(|t| !t.is_empty()) else { return Err(missing("tags")) };
    let mut names: Vec<String> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let name = tag.get("name").and_then(Value::as_str).map(str::trim).unwrap_or("");
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            let details = json!({ "api_name": "name", "json_path": format!("$.tags[{i}].name"), "maximum_length": MAX_NAME_CHARS });
            return Err(error_response(400, "INVALID_DATA", "invalid data", details));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

fn tag(shared: &Shared, request: &RecordedRequest, module_name: &str, adding: bool) -> Response {
    if !shared.data().modules.contains_key(module_name) {
        return invalid_module();
    }
    let Some(body) = request.json() else {
        return error_response(400, "INVALID_DATA", "body is not a valid JSON", json!({}));
    };
    let names = match names(&body) {
        Ok(names) => names,
        Err(response) => return response,
    };
    let Some(ids) = body.get("ids").and_then(Value::as_array).filter(|i| !i.is_empty()) else { return missing("ids") };
    if ids.len() > MAX_IDS {
        return error_response(400, "LIMIT_EXCEEDED", "the number of records exceeds the limit", json!({ "param_name": "ids", "limit": MAX_IDS }));
    }
    let over_write = body.get("over_write").and_then(Value::as_bool).unwrap_or(false);
    let mut data = shared.data();
    let Some(module) = data.modules.get(module_name) else { return invalid_module() };
    // A tag keeps its id across records: reuse the one a record of the module already carries.
    let known: Vec<(String, Value)> =
        module.records.values().filter_map(|r| r.get("Tag").and_then(Value::as_array)).flatten().filter_map(|t| Some((t.get("name")?.as_str()?.to_string(), t.get("id")?.clone()))).collect();
    let mut tags = Vec::new();
    for name in &names {
        let id = match known.iter().find(|(n, _)| n == name) {
            Some((_, id)) => id.clone(),
            None => {
                let id = data.next_id;
                data.next_id += 1;
                json!(id.to_string())
            }
        };
        tags.push(json!({ "name": name, "id": id, "color_code": Value::Null }));
    }
    let Some(module) = data.modules.get_mut(module_name) else { return invalid_module() };
    let mut results = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let text = id.as_str().map(str::to_string).unwrap_or_else(|| id.to_string());
        let Some(record) = text.parse::<u64>().ok().and_then(|i| module.records.get_mut(&i)) else {
            results.push(error_body("INVALID_DATA", "invalid data", json!({ "api_name": "ids", "json_path": format!("$.ids[{i}]") })));
            continue;
        };
        let mut current: Vec<Value> = if adding && over_write { Vec::new() } else { record.get("Tag").and_then(Value::as_array).cloned().unwrap_or_default() };
        if adding {
            for tag in &tags {
                if !current.iter().any(|t| t.get("name") == tag.get("name")) {
                    current.push(tag.clone());
                }
            }
            if current.len() > MAX_TAGS_PER_RECORD {
                results.push(error_body("INVALID_DATA", "invalid data", json!({ "api_name": "tags", "json_path": "$.tags" })));
                continue;
            }
        } else {
            current.retain(|t| !names.iter().any(|n| t.get("name").and_then(Value::as_str) == Some(n)));
        }
        record.insert("Tag".into(), Value::Array(current.clone()));
        let message = if adding { "tags updated successfully" } else { "tags removed successfully" };
        results.push(json!({ "code": "SUCCESS", "details": { "id": text, "tags": current }, "message": message, "status": "success" }));
    }
    module.revision += 1;
    json_response(write_status(&results, 200), &json!({ "data": results }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: Value) -> RecordedRequest {
        RecordedRequest { path: "/crm/v8/Leads/actions/add_tags".into(), ..RecordedRequest::for_test("POST", body.to_string().into_bytes()) }
    }

    #[test]
    fn zohos_limits_are_enforced() {
        let shared = Shared::new();
        crate::seed::seed(&shared);
        let ids: Vec<String> = (0..501).map(|i| i.to_string()).collect();
        let over = tag(&shared, &post(json!({ "tags": [{ "name": "Hot" }], "ids": ids })), "Leads", true);
        assert_eq!(over.status().as_u16(), 400);
        let long = tag(&shared, &post(json!({ "tags": [{ "name": "x".repeat(26) }], "ids": ["1"] })), "Leads", true);
        assert_eq!(long.status().as_u16(), 400);
        assert_eq!(tag(&shared, &post(json!({ "ids": ["1"] })), "Leads", true).status().as_u16(), 400);
        assert_eq!(tag(&shared, &post(json!({ "tags": [{ "name": "Hot" }] })), "Leads", true).status().as_u16(), 400);
    }
}
