//! `POST /crm/v8/{module}/{id}/Notes`: each note is stored as a record of the Notes module with
//! `Parent_Id: {"module":{"api_name":<module>},"id":<record id>}` (the shape the Notes related
//! list reads back), Note_Title, Note_Content and the system fields.

use crate::crm::records::{success_details, write_items, write_status};
use crate::crm::store;
use crate::request::RecordedRequest;
use crate::response::{error_body, invalid_module, json_response};
use crate::state::Shared;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub async fn handle(State(shared): State<Arc<Shared>>, Extension(request): Extension<Arc<RecordedRequest>>, Path((module, id)): Path<(String, String)>) -> Response {
    add(&shared, &request, &module, &id)
}

pub fn add(shared: &Shared, request: &RecordedRequest, module_name: &str, parent_id: &str) -> Response {
    let parent_exists = {
        let data = shared.data();
        let Some(module) = data.modules.get(module_name).filter(|_| module_name != "Notes") else { return invalid_module() };
        parent_id.parse::<u64>().ok().is_some_and(|id| module.records.contains_key(&id))
    };
    if !parent_exists {
        return json_response(400, &json!({ "data": [error_body("INVALID_DATA", "the related id given seems to be invalid", json!({ "id": parent_id }))] }));
    }
    let items = match write_items(request) {
        Ok(items) => items,
        Err(response) => return response,
    };
    let mut results = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let content = item.get("Note_Content").and_then(Value::as_str).filter(|c| !c.trim().is_empty());
        let Some(content) = content else {
            let details = json!({ "api_name": "Note_Content", "json_path": format!("$.data[{index}].Note_Content") });
            results.push(error_body("MANDATORY_NOT_FOUND", "required field not found", details));
            continue;
        };
        let mut note = Map::new();
        if let Some(title) = item.get("Note_Title").filter(|t| !t.is_null()) {
            note.insert("Note_Title".into(), title.clone());
        }
        note.insert("Note_Content".into(), json!(content));
        note.insert("Parent_Id".into(), json!({ "module": { "api_name": module_name }, "id": parent_id }));
        let id = store::insert(shared, "Notes", note, shared.clock.now());
        let data = shared.data();
        let Some(record) = data.modules.get("Notes").and_then(|m| m.records.get(&id)) else { continue };
        results.push(json!({ "code": "SUCCESS", "details": success_details(record), "message": "record added", "status": "success" }));
    }
    json_response(write_status(&results, 201), &json!({ "data": results }))
}
