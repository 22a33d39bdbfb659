//! CRM v8 record actions: create, get, list, update, remove.

use crate::client::{ApiCall, Client};
use crate::crm::fields::module_fields;
use crate::crm::page_tokens;
use crate::crm::response::{body_json, error_from_response, single_outcome, write_items};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Response};
use crate::validate;
use serde_json::{json, Map, Value};

/// Records per write request (Zoho's limit).
pub const MAX_RECORDS_PER_WRITE: usize = 100;
/// Field names per list request (Zoho's limit).
pub const MAX_FIELDS_PER_LIST: usize = 50;
/// Ids per `?ids=` request.
const MAX_IDS_PER_LIST: usize = 100;
/// Records reachable with `page` alone; beyond, Zoho demands `page_token`.
pub const DISCRETE_PAGING_LIMIT: u32 = 2000;
const TRIGGERS: [&str; 5] = ["workflow", "approval", "blueprint", "orchestration", "pathfinder"];

#[derive(Debug, Default, Clone)]
pub struct WriteInput {
    pub record_type: String,
    pub record_id: Option<String>,
    pub values: String,
    pub dynamic_fields: Option<String>,
    pub trigger: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone)]
pub struct ListInput {
    pub record_type: String,
    pub fields: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
    pub page_token: Option<String>,
    pub sort_order: Option<String>,
    pub sort_by: Option<String>,
    pub cvid: Option<String>,
}

/// Parses `values` (object or array of objects) and fills each record from `dynamic-fields`:
/// a key present in the record keeps the record's value. Returns the records and whether a
/// single object was given.
fn records_from_values(values: &str, dynamic_fields: Option<&str>) -> Result<(Vec<Map<String, Value>>, bool)> {
    let parsed: Value = serde_json::from_str(values).map_err(|e| {
        ZohoError::invalid_input(format!("values must be JSON: an object such as {{\"Last_Name\":\"Doe\"}} or an array of objects ({e})"))
    })?;
    let (records, single) = match parsed {
        Value::Object(record) => (vec![record], true),
        Value::Array(items) => {
            if items.is_empty() || items.len() > MAX_RECORDS_PER_WRITE {
                return Err(ZohoError::invalid_input(format!(
                    "values holds {} records; Zoho takes 1 to {MAX_RECORDS_PER_WRITE} per request",
                    items.len()
                )));
            }
            let records = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(record) => Ok(record),
                    other => Err(ZohoError::invalid_input(format!("values[{i}] must be a JSON object, not {other}"))),
                })
                .collect::<Result<Vec<_>>>()?;
            (records, false)
        }
        other => return Err(ZohoError::invalid_input(format!("values must be a JSON object or array of objects, not {other}"))),
    };
    let dynamic = match dynamic_fields.map(str::trim).filter(|d| !d.is_empty()) {
        None => Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            Ok(other) => return Err(ZohoError::invalid_input(format!("dynamic-fields must be a JSON object, not {other}"))),
            Err(e) => return Err(ZohoError::invalid_input(format!("dynamic-fields must be a JSON object ({e})"))),
        },
    };
    let records = records
        .into_iter()
        .map(|mut record| {
            for (key, value) in &dynamic {
                record.entry(key.clone()).or_insert_with(|| value.clone());
            }
            record
        })
        .collect();
    Ok((records, single))
}

/// `{"data":[...], "trigger":[...]}` with the trigger names checked.
fn write_body(records: Vec<Map<String, Value>>, trigger: &Option<Vec<String>>) -> Result<Value> {
    let mut body = json!({ "data": records });
    if let Some(trigger) = trigger {
        if let Some(bad) = trigger.iter().find(|t| !TRIGGERS.contains(&t.as_str())) {
            return Err(ZohoError::invalid_input(format!(
                "trigger {bad:?} is not one of {}; an empty list runs none",
                TRIGGERS.join(", ")
            )));
        }
        body["trigger"] = json!(trigger);
    }
    Ok(body)
}

pub fn create_record(client: &Client, input: &WriteInput) -> Result<Value> {
    let module = validate::module_name(&input.record_type)?;
    let (records, single) = records_from_values(&input.values, input.dynamic_fields.as_deref())?;
    let body = write_body(records, &input.trigger)?;
    let response = client.send(ApiCall::new(Method::Post, format!("/crm/v8/{module}")).json(body))?;
    if single {
        single_outcome(&response)
    } else {
        // Mixed outcomes (207) are a success with every record's own status.
        Ok(json!({ "data": write_items(&response)? }))
    }
}

pub fn update_record(client: &Client, input: &WriteInput) -> Result<Value> {
    let module = validate::module_name(&input.record_type)?;
    let id = validate::record_id(input.record_id.as_deref().unwrap_or(""))?;
    let (records, single) = records_from_values(&input.values, input.dynamic_fields.as_deref())?;
    if !single {
        return Err(ZohoError::invalid_input("values must be one JSON object: update-record changes the record named by record-id"));
    }
    let body = write_body(records, &input.trigger)?;
    let response = client.send(ApiCall::new(Method::Put, format!("/crm/v8/{module}/{id}")).json(body))?;
    single_outcome(&response)
}

pub fn remove_record(client: &Client, record_type: &str, record_id: &str) -> Result<Value> {
    let module = validate::module_name(record_type)?;
    let id = validate::record_id(record_id)?;
    let response = client.send(ApiCall::new(Method::Delete, format!("/crm/v8/{module}/{id}")))?;
    single_outcome(&response)
}

pub fn get_record(client: &Client, record_type: &str, record_id: &str, fields: Option<&str>) -> Result<Value> {
    let module = validate::module_name(record_type)?;
    let id = validate::record_id(record_id)?;
    let mut call = ApiCall::new(Method::Get, format!("/crm/v8/{module}/{id}"));
    if let Some(fields) = fields {
        let fields = validate::field_names(fields)?;
        if fields.len() > MAX_FIELDS_PER_LIST {
            return Err(ZohoError::invalid_input(format!("fields names {} fields; Zoho takes at most {MAX_FIELDS_PER_LIST}", fields.len())));
        }
        if !fields.is_empty() {
            call = call.query("fields", fields.join(","));
        }
    }
    let response = client.send(call)?;
    match response.status {
        200 => first_record(&response),
        204 => Err(ZohoError::new(ErrorKind::NotFound, format!("no {module} record has id {id}")).with_status(204)),
        _ => Err(error_from_response(&response)),
    }
}

fn first_record(response: &Response) -> Result<Value> {
    let body = body_json(response)?;
    body.get("data")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .cloned()
        .ok_or_else(|| ZohoError::new(ErrorKind::Zoho, format!("Zoho answered 200 without a record: {body}")).with_status(200))
}

/// The paging and sorting a list request carries, checked.
pub struct ListQuery {
    pub module: String,
    pub per_page: u32,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub cvid: Option<String>,
}

impl ListQuery {
    pub fn call(&self, fields: &[String]) -> ApiCall {
        let mut call = ApiCall::new(Method::Get, format!("/crm/v8/{}", self.module))
            .query("fields", fields.join(","))
            .query("per_page", self.per_page.to_string());
        if let Some(sort_by) = &self.sort_by {
            call = call.query("sort_by", sort_by.clone());
        }
        if let Some(sort_order) = &self.sort_order {
            call = call.query("sort_order", sort_order.clone());
        }
        if let Some(cvid) = &self.cvid {
            call = call.query("cvid", cvid.clone());
        }
        call
    }
}

/// Where a list page starts: a page number within Zoho's discrete-paging reach, or a token.
pub enum PageAt {
    Number(u32),
    Token(String),
}

pub fn get_records(client: &Client, input: &ListInput) -> Result<Value> {
    let module = validate::module_name(&input.record_type)?.to_string();
    let per_page = input.per_page.unwrap_or(200);
    if !(1..=200).contains(&per_page) {
        return Err(ZohoError::invalid_input(format!("per-page {per_page} is out of range: Zoho returns 1 to 200 records per page")));
    }
    let page_token = input.page_token.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if input.page.is_some() && page_token.is_some() {
        return Err(ZohoError::invalid_input("give page or page-token, not both: a page token already says where the page starts"));
    }
    if input.page == Some(0) {
        return Err(ZohoError::invalid_input("page starts at 1"));
    }
    let sort_by = match input.sort_by.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s @ ("id" | "Created_Time" | "Modified_Time")) => Some(s.to_string()),
        Some(other) => return Err(ZohoError::invalid_input(format!("sort-by {other:?} is not supported: use id, Created_Time or Modified_Time"))),
    };
    let sort_order = match input.sort_order.as_deref().map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) if s == "asc" || s == "desc" => Some(s),
        Some(other) => return Err(ZohoError::invalid_input(format!("sort-order {other:?} must be asc or desc"))),
    };
    let cvid = match input.cvid.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(validate::record_id(c).map_err(|_| ZohoError::invalid_input(format!("cvid {c:?} is not a custom view id (a number)")))?.to_string()),
    };
    let named = match input.fields.as_deref() {
        Some(f) => validate::field_names(f)?,
        None => Vec::new(),
    };
    let mut fields = if named.is_empty() { module_fields(client, &module)? } else { named };
    // The id ties the batches of a wide record back together.
    if !fields.iter().any(|f| f == "id") {
        fields.insert(0, "id".to_string());
    }
    let batches: Vec<&[String]> = fields.chunks(MAX_FIELDS_PER_LIST).collect();
    let query = ListQuery { module, per_page, sort_by, sort_order, cvid };

    let page = input.page.unwrap_or(1);
    let (response, page_number) = match page_token {
        Some(token) => (client.send(query.call(batches[0]).query("page_token", token))?, None),
        None => (page_tokens::fetch_page(client, &query, batches[0], page)?, Some(page)),
    };
    let mut listing = match response.status {
        200 => body_json(&response)?,
        204 => json!({ "data": [], "info": { "count": 0, "more_records": false, "page": page_number.unwrap_or(1), "per_page": per_page } }),
        _ => return Err(error_from_response(&response)),
    };
    if let (Some(n), Some(info)) = (page_number, listing.get_mut("info").and_then(Value::as_object_mut)) {
        info.insert("page".into(), json!(n));
    }
    if let (true, Some(records)) = (batches.len() > 1, listing.get_mut("data").and_then(Value::as_array_mut)) {
        complete_records(client, &query.module, &batches[1..], records)?;
    }
    Ok(listing)
}

/// Adds the fields of the later batches to `records`, fetched by id so every batch describes
/// exactly the records of the first one.
pub fn complete_records(client: &Client, module: &str, batches: &[&[String]], records: &mut [Value]) -> Result<()> {
    let ids: Vec<String> = records.iter().filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_string)).collect();
    for batch in batches {
        for chunk in ids.chunks(MAX_IDS_PER_LIST) {
            let mut fields = batch.to_vec();
            fields.insert(0, "id".to_string());
            let call = ApiCall::new(Method::Get, format!("/crm/v8/{module}"))
                .query("fields", fields.join(","))
                .query("ids", chunk.join(","));
            let response = client.send(call)?;
            if response.status == 204 {
                continue;
            }
            if response.status != 200 {
                return Err(error_from_response(&response));
            }
            let body = body_json(&response)?;
            for part in body.get("data").and_then(Value::as_array).into_iter().flatten() {
                let Some(id) = part.get("id") else { continue };
                if let Some(Value::Object(record)) = records.iter_mut().find(|r| r.get("id") == Some(id)) {
                    if let Value::Object(part) = part {
                        for (k, v) in part {
                            record.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_fields_fill_in_and_values_win() {
        let (records, single) = records_from_values(r#"{"Last_Name":"Doe","Lead_Source":"Web"}"#, Some(r#"{"Lead_Source":"Ads","Company":"Zylker"}"#)).unwrap();
        assert!(single);
        assert_eq!(Value::Object(records[0].clone()), json!({"Last_Name":"Doe","Lead_Source":"Web","Company":"Zylker"}));
    }

    #[test]
    fn values_shapes_are_checked() {
        assert!(records_from_values("[]", None).is_err());
        assert!(records_from_values("[1]", None).is_err());
        assert!(records_from_values("\"x\"", None).is_err());
        assert!(records_from_values("{", None).is_err());
        let many = format!("[{}]", vec!["{}"; 101].join(","));
        assert!(records_from_values(&many, None).is_err());
        assert!(write_body(vec![], &Some(vec!["everything".into()])).is_err());
    }
}
