//! One keyset page through COQL, read within a memory budget: the answer is read in one pass
//! with records kept as their raw text (at most the rows asked for), and each record's id and
//! `Modified_Time` read through a small typed struct.

use super::state::Key;
use crate::client::{coql_credits, ApiCall, Client};
use crate::crm::response::content;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Response};
use crate::json;
use crate::zoho_time::{parse_http_date, parse_iso};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::json as json_value;
use std::time::Instant;

/// A record as delivered, with the fields the sweep orders by.
pub struct Row {
    pub text: Box<RawValue>,
    pub id: Option<String>,
    /// Modified_Time as an instant.
    pub time: Option<i64>,
    /// Its position in the sweep's order, when both parts are usable in a query.
    pub key: Option<Key>,
}

#[derive(Deserialize)]
struct Head {
    id: String,
    #[serde(rename = "Modified_Time")]
    modified_time: String,
}

#[derive(Deserialize, Default)]
pub struct Info {
    #[serde(default)]
    pub more_records: Option<bool>,
}

impl Row {
    pub fn new(text: Box<RawValue>) -> Row {
        let head = serde_json::from_str::<Head>(text.get()).ok();
        let key = head.as_ref().and_then(|h| Key::checked(&h.modified_time, &h.id));
        let time = head.as_ref().and_then(|h| parse_iso(&h.modified_time));
        Row { id: head.map(|h| h.id), time, key, text }
    }
}

pub struct Page {
    pub rows: Vec<Row>,
    pub more: bool,
    /// The server's `Date` and how long the exchange took (for the sweep's bounds).
    pub date: Option<i64>,
    pub took_s: i64,
}

impl Page {
    pub fn empty() -> Page {
        Page { rows: Vec::new(), more: false, date: None, took_s: 0 }
    }
}

/// A Zoho answer that is not the list it should be.
pub fn unreadable(response: &Response, what: &str, e: json::JsonError) -> ZohoError {
    ZohoError::new(ErrorKind::Zoho, format!("Zoho's {what} answer could not be read ({e})")).with_status(response.status)
}

/// Records of `module` matching `conditions`, in sweep order, at most `limit`.
pub fn fetch(client: &Client, module: &str, coql_fields: &[String], conditions: &[String], limit: usize) -> Result<Page> {
    fetch_at(client, module, coql_fields, conditions, 0, limit)
}

/// COQL's where clause (COQL needs one): the conditions, or every record.
pub fn filter(conditions: &[String]) -> String {
    if conditions.is_empty() { "id is not null".to_string() } else { conditions.join(" and ") }
}

/// [`fetch`] from the `offset`-th matching record (a slice plan's probe).
pub fn fetch_at(client: &Client, module: &str, coql_fields: &[String], conditions: &[String], offset: usize, limit: usize) -> Result<Page> {
    let query = format!("select {} from {module} where {} order by Modified_Time asc, id asc limit {offset}, {limit}", coql_fields.join(", "), filter(conditions));
    let started = Instant::now();
    let response = client.send(ApiCall::new(Method::Post, "/crm/v8/coql").json(json_value!({ "select_query": query })).credits(coql_credits(limit)))?;
    let took_s = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX).saturating_add(1);
    let date = response.header("date").and_then(parse_http_date);
    let (rows, more) = match content(&response)? {
        Some(response) => {
            let listing = json::listing(&response.body, limit).map_err(|e| unreadable(response, "COQL", e))?;
            let info = listing.info.and_then(|i| serde_json::from_str::<Info>(i.get()).ok()).unwrap_or_default();
            let rows = listing.data.iter().map(|r| Row::new((*r).to_owned())).collect();
            (rows, info.more_records.unwrap_or(false))
        }
        None => (Vec::new(), false),
    };
    Ok(Page { rows, more, date, took_s })
}
