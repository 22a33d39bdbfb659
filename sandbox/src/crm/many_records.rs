//! Zoho CRM v8 "Update Records" (`PUT /crm/v8/{module}`, each item naming its `id`) and
//! "Delete Records" (`DELETE /crm/v8/{module}?ids=a,b`), up to 100 records a request (record.json;
//! zoho-api.md, "CRM records"). Every record gets its own outcome, in the order given: 200 when
//! all succeeded, 207 for a mix, 400 when none did.

use crate::crm::records::{delete_stored, update_item, write_items, write_status, MAX_WRITE as MAX_RECORDS};
use crate::request::RecordedRequest;
use crate::response::{error_body, error_response, invalid_module, json_response};
use crate::state::Shared;
use axum::response::Response;
use serde_json::{json, Value};

pub fn update(shared: &Shared, request: &RecordedRequest, module_name: &str) -> Response {
    let items = match write_items(request) {
        Ok(items) => items,
        Err(response) => return response,
    };
    if !shared.data().modules.contains_key(module_name) {
        return invalid_module();
    }
    let outcomes: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(index, item)| match item.get("id") {
            Some(Value::String(id)) => update_item(shared, module_name, index, id, item),
            None | Some(Value::Null) => error_body("MANDATORY_NOT_FOUND", "required field not found", json!({ "api_name": "id", "json_path": format!("$.data[{index}].id") })),
            Some(_) => error_body("INVALID_DATA", "invalid data", json!({ "api_name": "id", "json_path": format!("$.data[{index}].id"), "expected_data_type": "bigint" })),
        })
        .collect();
    json_response(write_status(&outcomes, 200), &json!({ "data": outcomes }))
}

pub fn delete(shared: &Shared, request: &RecordedRequest, module_name: &str) -> Response {
    if !shared.data().modules.contains_key(module_name) {
        return invalid_module();
    }
    let Some(ids) = request.query_param("ids").filter(|ids| !ids.is_empty()) else {
        return error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "ids" }));
    };
    if let Some(trigger) = request.query_param("wf_trigger").filter(|t| !matches!(*t, "true" | "false")) {
        return error_response(400, "INVALID_DATA", "invalid data", json!({ "param_name": "wf_trigger", "value": trigger }));
    }
    let ids: Vec<&str> = ids.split(',').collect();
    if ids.len() > MAX_RECORDS {
        return error_response(400, "LIMIT_EXCEEDED", "the number of records exceeds the limit", json!({ "limit": MAX_RECORDS }));
    }
    let outcomes: Vec<Value> = ids
        .iter()
        .map(|id| {
            if delete_stored(shared, module_name, id) {
                json!({ "code": "SUCCESS", "details": { "id": id }, "message": "record deleted", "status": "success" })
            } else {
                error_body("INVALID_DATA", "the id given seems to be invalid", json!({ "id": id }))
            }
        })
        .collect();
    json_response(write_status(&outcomes, 200), &json!({ "data": outcomes }))
}
