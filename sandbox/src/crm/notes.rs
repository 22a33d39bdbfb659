//! `POST /crm/v8/{module}/{id}/Notes`: each note is stored as a record of the Notes module with
//! `Parent_Id: {"module":{"api_name":<module>},"id":<record id>}` (the shape the Notes related
//! list reads back), Note_Title, Note_Content and the system fields. `GET /crm/v8/Notes` is the
//! Notes module's list (`records::list`, `fields` required as notes.json requires it).
//!
//! `PUT` and `DELETE /crm/v8/Notes/{id}` (zoho/crm-oas notes `updateNoteById`, `deleteNoteById`;
//! v8 "Update Notes", "Delete Notes"), as Zoho documents them:
//! - a note id Zoho does not have is 400 INVALID_DATA "the id given seems to be invalid" with
//!   `resource_path_index` 1 (updateNoteById's `InvalidIdError`);
//! - the body's `data` holds exactly one note (maxItems 1);
//! - "Either note content or note title must be provided": neither is `data[0]`
//!   EXPECTED_FIELD_MISSING listing both (`ExpectedFieldMissingErrorSingle`);
//! - Note_Title at most 120 characters, Note_Content at most 65,535 (maxLen), else `data[0]`
//!   INVALID_DATA naming the field and its `maximum_length`;
//! - success is 200 `data[0]` SUCCESS "record updated" (details id, times, users), or "record
//!   deleted" with details.id (Zoho's examples `response-200-successfulupdate`,
//!   `response-200-successfuldeletion`).

use crate::crm::records::{success_details, update_item, write_items, write_status};
use crate::crm::store;
use crate::request::RecordedRequest;
use crate::response::{error_body, error_response, invalid_module, json_response};
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

/// Zoho's longest note title and text, in characters (updateNoteById: maxLen 120 and 65535).
const NOTE_LIMITS: [(&str, usize); 2] = [("Note_Title", 120), ("Note_Content", 65_535)];

fn unknown_note(shared: &Shared, id: &str) -> Option<Response> {
    let known = id.parse::<u64>().ok().is_some_and(|id| shared.data().modules.get("Notes").is_some_and(|m| m.records.contains_key(&id)));
    (!known).then(|| error_response(400, "INVALID_DATA", "the id given seems to be invalid", json!({ "resource_path_index": 1 })))
}

/// `PUT /crm/v8/Notes/{id}`.
pub fn update(shared: &Shared, request: &RecordedRequest, id: &str) -> Response {
    if let Some(refusal) = unknown_note(shared, id) {
        return refusal;
    }
    let items = match write_items(request) {
        Ok(items) => items,
        Err(response) => return response,
    };
    if items.len() > 1 {
        return error_response(400, "LIMIT_EXCEEDED", "the number of records exceeds the limit", json!({ "limit": 1 }));
    }
    let one = |item: Value| json_response(400, &json!({ "data": [item] }));
    let Some(note) = items[0].as_object() else { return one(error_body("INVALID_DATA", "invalid data", json!({ "json_path": "$.data[0]" }))) };
    if !NOTE_LIMITS.iter().any(|(field, _)| note.get(*field).is_some_and(|v| !v.is_null())) {
        let expected: Vec<Value> = NOTE_LIMITS.iter().map(|(field, _)| json!({ "api_name": field, "json_path": format!("$.data[0].{field}") })).collect();
        return one(error_body("EXPECTED_FIELD_MISSING", "one of the expected fields is missing", json!({ "expected_fields": expected })));
    }
    for (field, limit) in NOTE_LIMITS {
        if note.get(field).and_then(Value::as_str).is_some_and(|text| text.chars().count() > limit) {
            return one(error_body("INVALID_DATA", "invalid data", json!({ "api_name": field, "json_path": format!("$.data[0].{field}"), "maximum_length": limit })));
        }
    }
    let outcome = update_item(shared, "Notes", 0, id, &items[0]);
    json_response(write_status(std::slice::from_ref(&outcome), 200), &json!({ "data": [outcome] }))
}

/// `DELETE /crm/v8/Notes/{id}`.
pub fn delete(shared: &Shared, id: &str) -> Response {
    if let Some(refusal) = unknown_note(shared, id) {
        return refusal;
    }
    crate::crm::records::delete(shared, "Notes", id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(body: Value) -> RecordedRequest {
        RecordedRequest::for_test("PUT", body.to_string().into_bytes())
    }

    async fn said(response: axum::response::Response) -> (u16, String) {
        RecordedRequest::status_and_code(response).await
    }

    #[tokio::test]
    async fn a_note_update_is_checked_as_zoho_documents_it() {
        let shared = Shared::new();
        crate::seed::seed(&shared);
        let note = store::insert(&shared, "Notes", Map::from_iter([("Note_Content".to_string(), json!("x"))]), shared.clock.now()).to_string();
        let one = |item: Value| put(json!({ "data": [item] }));
        let cases = [
            (update(&shared, &one(json!({ "Note_Content": "y" })), "42"), (400, "INVALID_DATA")),
            (update(&shared, &one(json!({})), &note), (400, "EXPECTED_FIELD_MISSING")),
            (update(&shared, &one(json!({ "Note_Title": "t".repeat(121) })), &note), (400, "INVALID_DATA")),
            (update(&shared, &one(json!({ "Note_Content": "é".repeat(65_536) })), &note), (400, "INVALID_DATA")),
            (update(&shared, &put(json!({ "data": [{ "Note_Content": "a" }, { "Note_Content": "b" }] })), &note), (400, "LIMIT_EXCEEDED")),
            (update(&shared, &one(json!({ "Note_Title": "日".repeat(120) })), &note), (200, "SUCCESS")),
            (delete(&shared, "42"), (400, "INVALID_DATA")),
            (delete(&shared, &note), (200, "SUCCESS")),
        ];
        for (n, (response, (status, code))) in cases.into_iter().enumerate() {
            assert_eq!(said(response).await, (status, code.to_string()), "case {n}");
        }
    }
}
