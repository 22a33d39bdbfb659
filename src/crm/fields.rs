//! A module's field API names from `/settings/fields`, cached in the connection's storage,
//! so "all fields" costs one metadata call an hour rather than one per step.

use crate::client::{ApiCall, Client};
use crate::crm::response::{body_json, error_from_response};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::storage::{get_fresh, put_fresh};
use serde_json::Value;
use std::time::Duration;

const CACHE_TTL: Duration = Duration::from_secs(60 * 60);

/// Data types the records list cannot return through `fields` (their data lives elsewhere).
const NOT_LISTABLE: [&str; 2] = ["subform", "multiselectlookup"];

pub fn cache_key(module: &str) -> String {
    format!("crm/fields/{module}")
}

pub fn module_fields(client: &Client, module: &str) -> Result<Vec<String>> {
    let key = cache_key(module);
    if let Some(Value::Array(cached)) = get_fresh(client.storage, &key, CACHE_TTL)? {
        let fields: Vec<String> = cached.iter().filter_map(|f| f.as_str().map(str::to_string)).collect();
        if !fields.is_empty() {
            return Ok(fields);
        }
    }
    let response = client.send(ApiCall::new(Method::Get, "/crm/v8/settings/fields").query("module", module))?;
    if response.status != 200 {
        return Err(match response.status {
            204 => ZohoError::new(ErrorKind::NotFound, format!("Zoho lists no fields for module {module}")).with_status(204),
            _ => error_from_response(&response),
        });
    }
    let body = body_json(&response)?;
    let fields: Vec<String> = body
        .get("fields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter(|f| !NOT_LISTABLE.contains(&f.get("data_type").and_then(Value::as_str).unwrap_or("")))
                .filter_map(|f| f.get("api_name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if fields.is_empty() {
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho's field list for {module} names no fields")).with_status(200));
    }
    put_fresh(client.storage, &key, &Value::from(fields.clone()))?;
    Ok(fields)
}
