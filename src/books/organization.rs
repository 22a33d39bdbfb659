//! The `organization_id` every Books request carries: from the connection, else the account's
//! default organization, discovered once and kept in storage.

use crate::books::envelope;
use crate::client::{ApiCall, Client};
use crate::connection::given;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use serde_json::Value;

pub const CACHE_KEY: &str = "books/organization-id";

pub fn organization_id(client: &Client, from_connection: &Option<String>) -> Result<String> {
    if let Some(id) = given(from_connection) {
        if !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ZohoError::invalid_input(format!("books-organization-id {id:?} is not an organization id (a number such as 10234695)")));
        }
        return Ok(id.to_string());
    }
    if let Some(bytes) = client.storage.get(CACHE_KEY)? {
        if let Ok(id) = String::from_utf8(bytes) {
            if !id.is_empty() {
                return Ok(id);
            }
        }
    }
    let response = client.send(ApiCall::new(Method::Get, "/books/v3/organizations"))?;
    let organizations = envelope::take(envelope::open(&response)?, "organizations")?;
    let organizations = organizations.as_array().cloned().unwrap_or_default();
    let id_of = |o: &Value| o.get("organization_id").and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_u64().map(|n| n.to_string())));
    let chosen = match organizations.iter().find(|o| o.get("is_default_org").and_then(Value::as_bool) == Some(true)) {
        Some(default) => id_of(default),
        None if organizations.len() == 1 => id_of(&organizations[0]),
        None if organizations.is_empty() => {
            return Err(ZohoError::new(ErrorKind::NotFound, "this Zoho account has no Books organization: create one in Zoho Books first"));
        }
        None => {
            let listed: Vec<String> = organizations
                .iter()
                .map(|o| format!("{} ({})", o.get("name").and_then(Value::as_str).unwrap_or("?"), id_of(o).unwrap_or_default()))
                .collect();
            return Err(ZohoError::invalid_input(format!(
                "this Zoho account has several Books organizations and none is the default: set books-organization-id to one of {}",
                listed.join(", ")
            )));
        }
    };
    let id = chosen.ok_or_else(|| ZohoError::new(ErrorKind::Zoho, "Zoho Books listed an organization without an organization_id"))?;
    client.storage.set(CACHE_KEY, id.as_bytes())?;
    Ok(id)
}
