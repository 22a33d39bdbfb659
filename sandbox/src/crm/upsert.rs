//! `POST /crm/v8/{module}/upsert` as Zoho answers it (record.json "Upsert Records"): each record
//! is matched on the duplicate-check fields given, else on the module's unique fields; a match
//! is updated ("record updated", action update, duplicate_field the field that matched), no
//! match is inserted ("record added", action insert, duplicate_field null).
//!
//! Several existing records matching is a case Zoho's docs leave unsettled (unique fields make
//! it rare: the values must predate the field's uniqueness). The sandbox checks the fields in
//! the order given and updates the oldest record matching the first field that matches.

use crate::clock::Clock;
use crate::crm::records::{check_values, prepared, success_details, write_items, write_status};
use crate::crm::store;
use crate::request::RecordedRequest;
use crate::response::{error_body, error_response, invalid_module, json_response};
use crate::state::{Module, Shared};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub async fn handle(State(shared): State<Arc<Shared>>, Extension(request): Extension<Arc<RecordedRequest>>, Path(module): Path<String>) -> Response {
    upsert(&shared, &request, &module)
}

/// The fields records are matched on: those named (each a unique field of the module, as Zoho
/// allows only system-defined duplicate-check and user-defined unique fields), else the module's.
fn check_fields(module: &Module, body: &Value) -> Result<Vec<String>, Response> {
    let Some(given) = body.get("duplicate_check_fields") else {
        return Ok(module.unique.iter().map(|f| f.to_string()).collect());
    };
    let Some(given) = given.as_array() else {
        return Err(error_response(400, "INVALID_DATA", "invalid data", json!({ "param_name": "duplicate_check_fields", "expected_data_type": "jsonarray" })));
    };
    let mut fields = Vec::new();
    for (i, field) in given.iter().enumerate() {
        match field.as_str() {
            Some(name) if module.unique.contains(&name) => fields.push(name.to_string()),
            _ => return Err(error_response(400, "INVALID_DATA", "invalid data", json!({ "api_name": field, "json_path": format!("$.duplicate_check_fields[{i}]") }))),
        }
    }
    Ok(fields)
}

/// The existing record a record's values match, and the field it matched on.
fn find_match(module: &Module, fields: &[String], values: &Map<String, Value>) -> Option<(u64, String)> {
    fields.iter().find_map(|field| {
        let value = values.get(field).filter(|v| !v.is_null())?;
        // BTreeMap order: the oldest (lowest id) record first.
        module.records.iter().find(|(_, r)| r.get(field) == Some(value)).map(|(id, _)| (*id, field.clone()))
    })
}

pub fn upsert(shared: &Shared, request: &RecordedRequest, module_name: &str) -> Response {
    if !shared.data().modules.contains_key(module_name) {
        return invalid_module();
    }
    let items = match write_items(request) {
        Ok(items) => items,
        Err(response) => return response,
    };
    let body = request.json().unwrap_or(Value::Null);
    let fields = {
        let data = shared.data();
        let Some(module) = data.modules.get(module_name) else { return invalid_module() };
        match check_fields(module, &body) {
            Ok(fields) => fields,
            Err(response) => return response,
        }
    };
    let mut results = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(values) = item.as_object() else {
            results.push(error_body("INVALID_DATA", "invalid data", json!({ "json_path": format!("$.data[{index}]") })));
            continue;
        };
        let now = Clock::zoho_time(shared.clock.now());
        let mut data = shared.data();
        let Some(module) = data.modules.get(module_name) else { return invalid_module() };
        match find_match(module, &fields, values) {
            Some((id, field)) => {
                let checked = match check_values(module, module_name, index, values, Some(id), false) {
                    Some(error) => Err(error),
                    None => prepared(&mut data, module_name, index, values),
                };
                let changes = match checked {
                    Ok(changes) => changes,
                    Err(error) => {
                        results.push(error);
                        continue;
                    }
                };
                let Some(module) = data.modules.get_mut(module_name) else { return invalid_module() };
                module.revision += 1;
                let Some(record) = module.records.get_mut(&id) else { continue };
                record.extend(changes.clone());
                record.insert("Modified_Time".into(), json!(now));
                crate::crm::notifications::deliveries::changed(shared, module_name, crate::crm::notifications::deliveries::Operation::Update, &id.to_string(), changes);
                results.push(json!({
                    "code": "SUCCESS", "duplicate_field": field, "action": "update", "details": success_details(record),
                    "message": "record updated", "status": "success",
                }));
            }
            None => {
                let checked = match check_values(module, module_name, index, values, None, true) {
                    Some(error) => Err(error),
                    None => prepared(&mut data, module_name, index, values),
                };
                let stored = match checked {
                    Ok(stored) => stored,
                    Err(error) => {
                        results.push(error);
                        continue;
                    }
                };
                drop(data);
                let id = store::insert(shared, module_name, stored, shared.clock.now());
                let data = shared.data();
                let Some(record) = data.modules.get(module_name).and_then(|m| m.records.get(&id)) else { continue };
                results.push(json!({
                    "code": "SUCCESS", "duplicate_field": null, "action": "insert", "details": success_details(record),
                    "message": "record added", "status": "success",
                }));
            }
        }
    }
    json_response(write_status(&results, 200), &json!({ "data": results }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Several records matching (values that predate a field's uniqueness): the first field in
    /// order that matches decides, and the oldest record matching it is updated.
    #[test]
    fn the_first_matching_field_and_the_oldest_record_win() {
        let mut module = Module { unique: vec!["Email", "Phone"], ..Default::default() };
        let record = |email: &str, phone: &str| {
            let Value::Object(r) = json!({ "Email": email, "Phone": phone }) else { unreachable!() };
            r
        };
        module.records.insert(3, record("a@x.com", "1"));
        module.records.insert(2, record("a@x.com", "2"));
        module.records.insert(1, record("b@x.com", "3"));
        let fields = vec!["Email".to_string(), "Phone".to_string()];
        let values = record("a@x.com", "3");
        assert_eq!(find_match(&module, &fields, &values), Some((2, "Email".to_string())));
        let fields = vec!["Phone".to_string(), "Email".to_string()];
        assert_eq!(find_match(&module, &fields, &values), Some((1, "Phone".to_string())));
        assert_eq!(find_match(&module, &fields, &record("c@x.com", "9")), None);
    }
}
