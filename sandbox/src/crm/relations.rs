//! `PUT` and `DELETE /crm/v8/{module}/{id}/{related_list}/{related_id}`: linking two records
//! through a related list, and unlinking them (v8 "Update Related Records" and "Delink Related
//! Records"; related_records.json "Update Related Record" and "Delink Record"; zoho/crm-oas
//! `updateSpecificRelatedRecord` and `delinkSpecificRelatedRecord` with their examples).
//!
//! Rules, as Zoho documents them:
//! - Only Zoho's supported relations link (the pages' "Supported relations": Campaigns to Leads
//!   and Contacts; Products to Leads, Accounts, Contacts, Deals (Potentials) and Price Books;
//!   Appointments to Services), from either side (the page's sample links a lead to campaigns
//!   with `PUT /Leads/{id}/Campaigns`). Another related list is 400 INVALID_DATA "The relation
//!   name given seems to be invalid", `resource_path_index` 2.
//! - An unknown module is INVALID_MODULE (index 0); an unknown parent id INVALID_DATA "the id
//!   given seems to be invalid" (index 1).
//! - The PUT body is `data` with exactly one object (minItems 1, maxItems 1) holding the related
//!   record's `id` (required: MANDATORY_NOT_FOUND at `$.data[0].id`); an id that names no record
//!   of the related module, or not the one in the path, is Zoho's `response-400-relationnotfoundbulk`:
//!   `data[0]` INVALID_DATA "the id given seems to be invalid" at `$.data[0].id`. The relation's
//!   own fields (Member_Status, list_price) are kept as given: Zoho's pages do not list them per
//!   relation, so the sandbox takes any scalar value and refuses objects and arrays.
//! - Success is 200 `data[0]` SUCCESS "relation added" (related_records.json's enum), details.id
//!   the related record's id; linking again updates the relation's fields.
//! - DELETE of a relation that does not exist is Zoho's `response-400-relationnotfound`: `data[0]`
//!   INVALID_DATA "relation not found" with the id; success is "relation removed".

use crate::request::RecordedRequest;
use crate::response::{error_body, error_response, invalid_module, json_response};
use crate::state::{Data, RelationKey, Shared};
use serde_json::{json, Map, Value};

/// Zoho's supported relations, each linkable from either side (related lists named as modules).
const RELATIONS: [(&str, &str); 8] = [
    ("Campaigns", "Leads"),
    ("Campaigns", "Contacts"),
    ("Products", "Leads"),
    ("Products", "Accounts"),
    ("Products", "Contacts"),
    ("Products", "Deals"),
    ("Products", "Price_Books"),
    ("Appointments__s", "Services__s"),
];

pub fn key(module: &str, id: &str, related: &str, related_id: &str) -> RelationKey {
    if (module, id) <= (related, related_id) {
        (module.into(), id.into(), related.into(), related_id.into())
    } else {
        (related.into(), related_id.into(), module.into(), id.into())
    }
}

fn supported(module: &str, related: &str) -> bool {
    RELATIONS.iter().any(|(a, b)| (*a == module && *b == related) || (*b == module && *a == related))
}

fn exists(data: &Data, module: &str, id: &str) -> bool {
    id.parse::<u64>().ok().is_some_and(|id| data.modules.get(module).is_some_and(|m| m.records.contains_key(&id)))
}

/// The path checks both methods share, in Zoho's order: module, parent id, relation name.
fn path_refusal(data: &Data, module: &str, id: &str, related: &str) -> Option<axum::response::Response> {
    if !data.modules.contains_key(module) {
        return Some(invalid_module());
    }
    if !exists(data, module, id) {
        return Some(error_response(400, "INVALID_DATA", "the id given seems to be invalid", json!({ "resource_path_index": 1 })));
    }
    if !supported(module, related) || !data.modules.contains_key(related) {
        return Some(error_response(400, "INVALID_DATA", "The relation name given seems to be invalid", json!({ "resource_path_index": 2 })));
    }
    None
}

fn outcome(status: u16, item: Value) -> axum::response::Response {
    json_response(status, &json!({ "data": [item] }))
}

pub fn link(shared: &Shared, request: &RecordedRequest, module: &str, id: &str, related: &str, related_id: &str) -> axum::response::Response {
    let mut data = shared.data();
    if let Some(refusal) = path_refusal(&data, module, id, related) {
        return refusal;
    }
    let Some(body) = request.json() else {
        return error_response(400, "INVALID_DATA", "body is not a valid JSON", json!({}));
    };
    let Some(items) = body.get("data").and_then(Value::as_array).filter(|d| !d.is_empty()) else {
        return error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "data" }));
    };
    if items.len() > 1 {
        return error_response(400, "LIMIT_EXCEEDED", "the number of records exceeds the limit", json!({ "limit": 1 }));
    }
    let Some(values) = items[0].as_object() else {
        return outcome(400, error_body("INVALID_DATA", "invalid data", json!({ "json_path": "$.data[0]" })));
    };
    let at_id = json!({ "api_name": "id", "json_path": "$.data[0].id" });
    let Some(given) = values.get("id") else {
        return outcome(400, error_body("MANDATORY_NOT_FOUND", "required field not found", at_id));
    };
    // Zoho's id is a string or an int64 (updateSpecificRelatedRecord: `id` string/int64).
    let given = given.as_str().map(str::to_string).or_else(|| given.as_u64().map(|n| n.to_string()));
    if given.as_deref() != Some(related_id) || !exists(&data, related, related_id) {
        return outcome(400, error_body("INVALID_DATA", "the id given seems to be invalid", at_id));
    }
    let mut fields = Map::new();
    for (name, value) in values.iter().filter(|(name, _)| *name != "id") {
        if value.is_object() || value.is_array() {
            return outcome(400, error_body("INVALID_DATA", "invalid data", json!({ "api_name": name, "json_path": format!("$.data[0].{name}") })));
        }
        fields.insert(name.clone(), value.clone());
    }
    data.relations.entry(key(module, id, related, related_id)).or_default().extend(fields);
    outcome(200, json!({ "code": "SUCCESS", "details": { "id": related_id }, "message": "relation added", "status": "success" }))
}

pub fn unlink(shared: &Shared, module: &str, id: &str, related: &str, related_id: &str) -> axum::response::Response {
    let mut data = shared.data();
    if let Some(refusal) = path_refusal(&data, module, id, related) {
        return refusal;
    }
    if data.relations.remove(&key(module, id, related, related_id)).is_none() {
        return outcome(400, error_body("INVALID_DATA", "relation not found", json!({ "id": related_id })));
    }
    outcome(200, json!({ "code": "SUCCESS", "details": { "id": related_id }, "message": "relation removed", "status": "success" }))
}

/// Is record `record_id` of the related list linked to record `id` of `module`?
pub fn linked(data: &Data, module: &str, id: &str, related: &str, record_id: &str) -> bool {
    data.relations.contains_key(&key(module, id, related, record_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::store;

    fn put(body: Value) -> RecordedRequest {
        RecordedRequest::for_test("PUT", body.to_string().into_bytes())
    }

    async fn said(response: axum::response::Response) -> (u16, String) {
        RecordedRequest::status_and_code(response).await
    }

    #[tokio::test]
    async fn a_link_is_checked_as_zoho_documents_it() {
        let shared = Shared::new();
        crate::seed::seed(&shared);
        let now = shared.clock.now();
        let lead = store::insert(&shared, "Leads", Map::from_iter([("Last_Name".to_string(), json!("L"))]), now).to_string();
        let campaign = store::insert(&shared, "Campaigns", Map::from_iter([("Campaign_Name".to_string(), json!("C"))]), now).to_string();
        let body = |item: Value| put(json!({ "data": [item] }));
        let cases = [
            (link(&shared, &body(json!({ "id": campaign })), "Nowhere", &lead, "Campaigns", &campaign), (400, "INVALID_MODULE")),
            (link(&shared, &body(json!({ "id": campaign })), "Leads", "42", "Campaigns", &campaign), (400, "INVALID_DATA")),
            (link(&shared, &body(json!({ "id": campaign })), "Leads", &lead, "Contacts", &campaign), (400, "INVALID_DATA")),
            (link(&shared, &put(json!({})), "Leads", &lead, "Campaigns", &campaign), (400, "REQUIRED_PARAM_MISSING")),
            (link(&shared, &put(json!({ "data": [{ "id": campaign }, { "id": campaign }] })), "Leads", &lead, "Campaigns", &campaign), (400, "LIMIT_EXCEEDED")),
            (link(&shared, &body(json!({ "Member_Status": "Active" })), "Leads", &lead, "Campaigns", &campaign), (400, "MANDATORY_NOT_FOUND")),
            (link(&shared, &body(json!({ "id": lead })), "Leads", &lead, "Campaigns", &campaign), (400, "INVALID_DATA")),
            (link(&shared, &body(json!({ "id": campaign, "Member_Status": { "x": 1 } })), "Leads", &lead, "Campaigns", &campaign), (400, "INVALID_DATA")),
            (unlink(&shared, "Leads", &lead, "Campaigns", &campaign), (400, "INVALID_DATA")),
            (link(&shared, &body(json!({ "id": campaign.parse::<u64>().unwrap_or(0) })), "Leads", &lead, "Campaigns", &campaign), (200, "SUCCESS")),
            (unlink(&shared, "Campaigns", &campaign, "Leads", &lead), (200, "SUCCESS")),
        ];
        for (n, (response, (status, code))) in cases.into_iter().enumerate() {
            assert_eq!(said(response).await, (status, code.to_string()), "case {n}");
        }
    }

    #[test]
    fn a_relation_is_the_same_from_either_side_and_only_zohos_relations_link() {
        assert_eq!(key("Leads", "1", "Campaigns", "2"), key("Campaigns", "2", "Leads", "1"));
        assert_ne!(key("Leads", "1", "Campaigns", "2"), key("Leads", "2", "Campaigns", "1"));
        assert!(supported("Leads", "Campaigns") && supported("Products", "Deals") && supported("Price_Books", "Products"));
        assert!(!supported("Leads", "Contacts") && !supported("Leads", "Notes") && !supported("Deals", "Deals"));
    }
}
