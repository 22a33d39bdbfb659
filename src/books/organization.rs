//! The `organization_id` every Books request carries: from the connection, else the account's
//! default organization, discovered once and kept in storage.

use crate::books::envelope;
use crate::client::{ApiCall, Client};
use crate::connection::given;
use crate::crm::response::answer_error;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::json;
use serde_json::Value;

/// Books organizations one account may list (Zoho allows a handful per user).
const MAX_ORGANIZATIONS: usize = 1_000;

pub use crate::storage::keys::BOOKS_ORGANIZATION_ID as CACHE_KEY;

/// The three members of an organization the choice needs, read without the rest.
#[derive(serde::Deserialize, Default)]
struct Organization<'a> {
    #[serde(borrow, default)]
    organization_id: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    is_default_org: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    name: Option<&'a serde_json::value::RawValue>,
}

fn outline(text: &str) -> Value {
    let o: Organization = serde_json::from_str(text).unwrap_or_default();
    // An id is a string or a number; anything longer than an id is not one.
    let small = |raw: Option<&serde_json::value::RawValue>| raw.filter(|r| r.get().len() <= 256).and_then(|r| serde_json::from_str::<Value>(r.get()).ok()).unwrap_or(Value::Null);
    serde_json::json!({ "organization_id": small(o.organization_id), "is_default_org": small(o.is_default_org), "name": small(o.name) })
}

/// The account's Books organizations (`GET /books/v3/organizations`, "List organizations"),
/// each as its `organization_id`, `is_default_org` and `name` only.
pub fn organizations(client: &Client) -> Result<Vec<Value>> {
    let response = client.send(ApiCall::new(Method::Get, "/books/v3/organizations"))?;
    let envelope = envelope::open(&response)?;
    let listed = envelope::take(&envelope, "organizations")?;
    // Each organization is small; a list longer than any account has is refused unread.
    match json::items(listed.get().as_bytes(), MAX_ORGANIZATIONS) {
        Ok(items) => Ok(items.iter().map(|o| outline(o.get())).collect()),
        Err(json::JsonError::Invalid(_)) => Ok(Vec::new()),
        Err(e) => Err(answer_error(&response, e)),
    }
}

/// An organization's id, written as a string or a number.
pub fn id_of(organization: &Value) -> Option<String> {
    organization.get("organization_id").and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_u64().map(|n| n.to_string())))
}

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
    let organizations = organizations(client)?;
    let chosen = match organizations.iter().find(|o| o.get("is_default_org").and_then(Value::as_bool) == Some(true)) {
        Some(default) => id_of(default),
        None if organizations.len() == 1 => organizations.first().and_then(id_of),
        None if organizations.is_empty() => {
            return Err(ZohoError::new(ErrorKind::NotFound, "this Zoho account has no Books organization: create one in Zoho Books first"));
        }
        None => {
            let listed: Vec<String> = organizations.iter().map(|o| format!("{} ({})", o.get("name").and_then(Value::as_str).unwrap_or("?"), id_of(o).unwrap_or_default())).collect();
            return Err(ZohoError::invalid_input(format!("this Zoho account has several Books organizations and none is the default: set books-organization-id to one of {}", listed.join(", "))));
        }
    };
    let id = chosen.ok_or_else(|| ZohoError::new(ErrorKind::Zoho, "Zoho Books listed an organization without an organization_id"))?;
    client.storage.set(CACHE_KEY, id.as_bytes())?;
    Ok(id)
}
