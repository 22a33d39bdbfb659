//! A module's field API names from `/settings/fields`, cached in the connection's storage,
//! so "all fields" costs one metadata call an hour rather than one per step.

use crate::client::{ApiCall, Client};
use crate::crm::response::{answer_error, content};
use crate::json;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::storage::{get_fresh, put_fresh};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::time::Duration;

/// Fields one module's metadata may list: far more than any Zoho module has, few enough that
/// a hostile answer's list stays small.
pub const MAX_MODULE_FIELDS: usize = 5_000;

/// The metadata answer, only `fields` kept (raw); every other member is skipped unread.
#[derive(Deserialize)]
struct FieldsAnswer<'a> {
    #[serde(borrow, default)]
    fields: Option<&'a RawValue>,
}

/// One field's metadata: the two members needed, raw so an odd type is skipped, not fatal.
#[derive(Deserialize, Default)]
struct FieldMeta<'a> {
    #[serde(borrow, default)]
    api_name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data_type: Option<&'a RawValue>,
}

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
    if content(&response)?.is_none() {
        return Err(ZohoError::new(ErrorKind::NotFound, format!("Zoho lists no fields for module {module}")).with_status(204));
    }
    let answer: FieldsAnswer = serde_json::from_slice(&response.body).map_err(|e| answer_error(&response, json::JsonError::Invalid(e.to_string())))?;
    let listed = match answer.fields {
        Some(list) if list.get().starts_with('[') => json::items(list.get().as_bytes(), MAX_MODULE_FIELDS).map_err(|e| answer_error(&response, e))?,
        _ => Vec::new(),
    };
    let fields: Vec<String> = listed
        .iter()
        .map(|f| serde_json::from_str::<FieldMeta>(f.get()).unwrap_or_default())
        .filter(|f| !NOT_LISTABLE.contains(&f.data_type.and_then(json::raw_str).unwrap_or_default().as_str()))
        .filter_map(|f| f.api_name.and_then(json::raw_str))
        .collect();
    if fields.is_empty() {
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho's field list for {module} names no fields")).with_status(200));
    }
    put_fresh(client.storage, &key, &Value::from(fields.clone()))?;
    Ok(fields)
}
