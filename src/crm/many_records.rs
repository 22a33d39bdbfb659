//! CRM v8 "Update Records" (`PUT /crm/v8/{module}`, each record naming its `id`) and "Delete
//! Records" (`DELETE /crm/v8/{module}?ids=`), up to 100 records a request (record.json;
//! https://www.zoho.com/crm/developer/docs/api/v8/update-records.html and delete-records.html).
//! Every record's outcome is reported in the order given: a mix of successes and failures
//! (Zoho's 207) is a success listing each; all failed is the step's error carrying every
//! outcome. Inputs are checked before the first request: ids are Zoho ids, each record once.

use crate::client::{ApiCall, Client};
use crate::crm::field_checks::{self, Write};
use crate::crm::records::{check_trigger, records_from_values, write_body, write_outcome, MAX_RECORDS_PER_WRITE};
use crate::error::{Result, ZohoError};
use crate::http::Method;
use crate::json;
use crate::validate;
use crate::wit::crm::{RemoveRecordsInput, UpdateRecordsInput};
use std::collections::HashSet;

pub fn update_records(client: &Client, input: &UpdateRecordsInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let (records, single) = records_from_values(&input.values, input.dynamic_fields.as_deref())?;
    if single {
        return Err(ZohoError::invalid_input("values must be a JSON array of records, each with its \"id\": update-records changes up to 100 records (update-record changes one)"));
    }
    let mut seen = HashSet::with_capacity(records.len());
    for (n, record) in records.iter().enumerate() {
        let id = id_of(record).map_err(|why| ZohoError::invalid_input(format!("values[{n}] {why}")))?;
        if !seen.insert(id.clone()) {
            return Err(ZohoError::invalid_input(format!("values[{n}] names record {id} again: give each record once")));
        }
    }
    let sent = records.len();
    check_trigger(&input.trigger)?;
    field_checks::check(client, module, &records, Write::Update)?;
    let body = write_body(records, &input.trigger)?;
    let response = client.send(ApiCall::new(Method::Put, format!("/crm/v8/{module}")).body(body))?;
    write_outcome(&response, false, sent)
}

/// A record's `id`: a JSON string holding a Zoho id (a number would lose digits on the way
/// through many platforms, so Zoho's own form, the string, is asked for).
fn id_of(record: &str) -> std::result::Result<String, String> {
    let members = json::members(record, usize::MAX).map_err(|_| "is not a JSON object".to_string())?;
    let Some((_, value)) = members.iter().find(|(k, _)| k == "id") else {
        return Err("has no \"id\": each record names the record to change, e.g. {\"id\":\"5725767000000524157\",...}".into());
    };
    let id: String = serde_json::from_str(value.get()).map_err(|_| format!("has \"id\": {}, not a string of digits such as \"5725767000000524157\"", json::kind_of(value.get())))?;
    validate::record_id(&id).map_err(|e| e.message)?;
    Ok(id)
}

pub fn remove_records(client: &Client, input: &RemoveRecordsInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let ids = validate::distinct_record_ids(&input.record_ids, MAX_RECORDS_PER_WRITE)?;
    let mut call = ApiCall::new(Method::Delete, format!("/crm/v8/{module}")).query("ids", ids.join(","));
    if let Some(trigger) = input.trigger {
        call = call.query("wf_trigger", trigger.to_string());
    }
    let response = client.send(call)?;
    write_outcome(&response, false, ids.len())
}
