//! `POST /crm/v8/Leads/{id}/actions/convert`: the lead becomes a contact (the one given, else one
//! with the lead's e-mail, else a new one), an account (the one given, else the one named as the
//! lead's Company, else a new one; none without a Company) and, when `Deals` is given, a deal.
//! The lead leaves Leads (a later GET answers 204); converting it again is ID_ALREADY_CONVERTED.
//! Zoho charges 5 credits per conversion (charged at the gate, `apis`).
//!
//! Zoho may schedule a conversion instead: 202 `{"data":[{"code":"SCHEDULED","details":
//! {"job_id":...},"message":"Convert lead scheduled successfully","status":"success"}]}`
//! (zoho/crm-oas `convert/operations/convertLead`, example `response-202-scheduledconversion`).
//! Zoho does not document when; here a lead with at least [`Sandbox::schedule_conversions_from`]
//! related records (notes and attachments) is scheduled, deterministically, and the job runs at
//! once (a retry is then ID_ALREADY_CONVERTED, as after a real job).
//!
//! [`Sandbox::schedule_conversions_from`]: crate::Sandbox::schedule_conversions_from

use crate::accounts::account;
use crate::crm::records::prepared;
use crate::crm::store;
use crate::request::RecordedRequest;
use crate::response::{error_body, error_response, json_response};
use crate::state::Shared;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub async fn handle(State(shared): State<Arc<Shared>>, Extension(request): Extension<Arc<RecordedRequest>>, Path((module, id)): Path<(String, String)>) -> Response {
    convert(&shared, &request, &module, &id)
}

fn failed(code: &str, message: &str, details: Value) -> Response {
    json_response(400, &json!({ "data": [error_body(code, message, details)] }))
}

/// The lead in the URL is at fault: convert_lead.json answers these at the top level with the
/// id's place in the path (`Leads` is 0, the id 1): `Invalid_URL_ID_Exception` and
/// `ID_Already_Converted_API_Exception`.
fn lead_refused(code: &str, message: &str) -> Response {
    error_response(400, code, message, json!({ "resource_path_index": 1 }))
}

/// An id in the body that names no record: convert_lead.json's `Invalid_Value_Exception`.
fn invalid_value(key: &str) -> Response {
    failed("INVALID_DATA", "invalid data", json!({ "api_name": key, "json_path": format!("$.data[0].{key}") }))
}

/// The `{"id":..}` of a key of the conversion, when given.
fn linked_id(item: &Map<String, Value>, key: &str) -> Result<Option<u64>, Response> {
    match item.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.get("id").and_then(Value::as_str).and_then(|i| i.parse::<u64>().ok()) {
            Some(id) => Ok(Some(id)),
            None => Err(failed("INVALID_DATA", "invalid data", json!({ "api_name": key, "json_path": format!("$.data[0].{key}") }))),
        },
    }
}

fn text<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

fn named(name: Option<&str>, id: u64) -> Value {
    json!({ "name": name, "id": id.to_string() })
}

pub fn convert(shared: &Shared, request: &RecordedRequest, module_name: &str, lead_id: &str) -> Response {
    if module_name != "Leads" {
        return error_response(400, "INVALID_MODULE", "the module name given seems to be invalid", json!({ "resource_path_index": 0 }));
    }
    let Some(item) = request.json().and_then(|b| b.get("data").and_then(Value::as_array).and_then(|d| d.first().cloned())) else {
        return error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "data" }));
    };
    let Some(item) = item.as_object() else {
        return failed("INVALID_DATA", "invalid data", json!({ "json_path": "$.data[0]" }));
    };
    let (accounts, contacts, assign_to) = match (linked_id(item, "Accounts"), linked_id(item, "Contacts"), linked_id(item, "assign_to")) {
        (Ok(a), Ok(c), Ok(u)) => (a, c, u),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    let deal = match item.get("Deals") {
        None | Some(Value::Null) => None,
        Some(Value::Object(deal)) => Some(deal.clone()),
        Some(_) => return failed("INVALID_DATA", "invalid data", json!({ "api_name": "Deals", "json_path": "$.data[0].Deals" })),
    };
    let overwrite = item.get("overwrite").and_then(Value::as_bool).unwrap_or(false);

    // Every check before any change: a refused conversion leaves everything as it was.
    let (lead, account_plan, contact_plan, deal_values, scheduled) = {
        let mut data = shared.data();
        if data.converted_leads.contains_key(lead_id) {
            return lead_refused("ID_ALREADY_CONVERTED", "id already converted");
        }
        let Some(lead) = lead_id.parse::<u64>().ok().and_then(|id| data.modules.get("Leads")?.records.get(&id).cloned()) else {
            return lead_refused("INVALID_DATA", "invalid data");
        };
        let exists = |module: &str, id: u64| data.modules.get(module).is_some_and(|m| m.records.contains_key(&id));
        if accounts.is_some_and(|id| !exists("Accounts", id)) {
            return invalid_value("Accounts");
        }
        if contacts.is_some_and(|id| !exists("Contacts", id)) {
            return invalid_value("Contacts");
        }
        if assign_to.is_some_and(|id| id.to_string() != account::OWNER_ID) {
            return invalid_value("assign_to");
        }
        let deal_values = match &deal {
            None => None,
            // Every field the Deals layout requires must be mapped (Convert Lead, v8).
            Some(values) if deal_missing(&data, values).is_some() => {
                let field = deal_missing(&data, values).unwrap_or("Deal_Name");
                return failed("MANDATORY_NOT_FOUND", "required field not found", json!({ "api_name": field, "json_path": format!("$.data[0].Deals.{field}") }));
            }
            // The deal's values as a create of a deal takes them, each error's path under `Deals`.
            Some(values) => {
                let checked = match data.modules.get("Deals").and_then(|deals| crate::crm::field_values::first_problem("Deals", deals, 0, values)) {
                    Some(error) => Err(error),
                    None => prepared(&mut data, "Deals", 0, values),
                };
                match checked {
                    Ok(stored) => Some(stored),
                    Err(mut error) => {
                        if let Some(path) = error["details"]["json_path"].as_str().and_then(|p| p.strip_prefix("$.data[0].")).map(|p| format!("$.data[0].Deals.{p}")) {
                            error["details"]["json_path"] = json!(path);
                        }
                        return json_response(400, &json!({ "data": [error] }));
                    }
                }
            }
        };
        // Zoho's mapping order: the lead's e-mail against Contacts, its Company against Accounts.
        let find = |module: &str, field: &str, value: Option<&str>| {
            let value = value?;
            data.modules.get(module)?.records.iter().find(|(_, r)| text(r, field) == Some(value)).map(|(id, _)| *id)
        };
        let account_plan = accounts.or_else(|| find("Accounts", "Account_Name", text(&lead, "Company")));
        let contact_plan = contacts.or_else(|| find("Contacts", "Email", text(&lead, "Email")));
        let scheduled = data.convert_schedule_from.is_some_and(|from| related_records(&data, lead_id) >= from);
        (lead, account_plan, contact_plan, deal_values, scheduled)
    };
    let now = shared.clock.now();
    let account = match (account_plan, text(&lead, "Company")) {
        (Some(id), _) => Some(id),
        (None, Some(company)) => {
            let mut values = Map::new();
            values.insert("Account_Name".into(), json!(company));
            Some(store::insert(shared, "Accounts", values, now))
        }
        (None, None) => None,
    };
    let account_name = account.and_then(|id| shared.data().modules.get("Accounts")?.records.get(&id).and_then(|r| text(r, "Account_Name").map(str::to_string)));
    let account_ref = account.map(|id| named(account_name.as_deref(), id));
    let person: Map<String, Value> = ["First_Name", "Last_Name", "Email", "Phone"].into_iter().filter_map(|f| lead.get(f).filter(|v| !v.is_null()).map(|v| (f.to_string(), v.clone()))).collect();
    let contact = contact(shared, contact_plan, person, overwrite, account_ref.as_ref(), now);
    let deal = deal_values.map(|mut values| {
        if let Some(account) = &account_ref {
            values.insert("Account_Name".into(), account.clone());
        }
        let name = text(&values, "Deal_Name").map(str::to_string);
        (store::insert(shared, "Deals", values, now), name)
    });
    let mut data = shared.data();
    let contact_name = data.modules.get("Contacts").and_then(|m| m.records.get(&contact)).and_then(|r| text(r, "Last_Name").map(str::to_string));
    let details = json!({
        "Contacts": named(contact_name.as_deref(), contact),
        "Accounts": account_ref,
        "Deals": deal.map(|(id, name)| named(name.as_deref(), id)),
    });
    if let Some(leads) = data.modules.get_mut("Leads") {
        if let Ok(id) = lead_id.parse::<u64>() {
            if leads.records.remove(&id).is_some() {
                crate::crm::notifications::deliveries::changed(shared, "Leads", crate::crm::notifications::deliveries::Operation::Delete, lead_id, Map::new());
            }
            leads.revision += 1;
        }
    }
    data.converted_leads.insert(lead_id.to_string(), details.clone());
    if scheduled {
        let job_id = data.next_id.to_string();
        data.next_id += 1;
        return json_response(202, &json!({ "data": [{ "code": "SCHEDULED", "details": { "job_id": job_id }, "message": "Convert lead scheduled successfully", "status": "success" }] }));
    }
    json_response(200, &json!({ "data": [{ "code": "SUCCESS", "details": details, "message": "The record has been converted successfully", "status": "success" }] }))
}

/// The conversion's contact: the planned one (given, or matched by e-mail), which takes the
/// lead's values only with `overwrite` and the account only when it has none; else a new one
/// from the lead's name, e-mail and phone.
fn contact(shared: &Shared, plan: Option<u64>, person: Map<String, Value>, overwrite: bool, account_ref: Option<&Value>, now: chrono::DateTime<chrono::Utc>) -> u64 {
    match plan {
        Some(id) => {
            let mut data = shared.data();
            if let Some(record) = data.modules.get_mut("Contacts").and_then(|m| m.records.get_mut(&id)) {
                // overwrite: the lead's values replace the existing contact's.
                let mut changes = if overwrite { person.clone() } else { Map::new() };
                if let (Some(account), None | Some(Value::Null)) = (account_ref, record.get("Account_Name")) {
                    changes.insert("Account_Name".into(), account.clone());
                }
                record.extend(changes.clone());
                if !changes.is_empty() {
                    crate::crm::notifications::deliveries::changed(shared, "Contacts", crate::crm::notifications::deliveries::Operation::Update, &id.to_string(), changes);
                }
            }
            id
        }
        None => {
            let mut values = person;
            if let Some(account) = account_ref {
                values.insert("Account_Name".into(), account.clone());
            }
            store::insert(shared, "Contacts", values, now)
        }
    }
}

/// The lead's related records that make a conversion heavy: its attachments and notes.
fn related_records(data: &crate::state::Data, lead_id: &str) -> usize {
    let attachments = data.attachments.get(&("Leads".to_string(), lead_id.to_string())).map_or(0, Vec::len);
    let notes = data.modules.get("Notes").map_or(0, |notes| notes.records.values().filter(|n| n.get("Parent_Id").and_then(|p| p.get("id")).and_then(Value::as_str) == Some(lead_id)).count());
    attachments + notes
}

/// The first field the Deals layout requires that a conversion's deal lacks.
fn deal_missing(data: &crate::state::Data, values: &Map<String, Value>) -> Option<&'static str> {
    let deals = data.modules.get("Deals")?;
    std::iter::once(deals.mandatory).chain(deals.also_mandatory.iter().copied()).find(|f| text(values, f).is_none())
}
