//! CRM's records list as the walk reads it: `GET /crm/v8/{module}?fields=...&sort_by=
//! Modified_Time&sort_order=asc&per_page=200` with `page` (its first 2,000 records) or
//! `page_token` (past them), filtered by the `If-Modified-Since` header (v8 "Get Records").

use super::{Address, Answer, Listing, PER_REQUEST};
use crate::client::ApiCall;
use crate::crm::response::error_from_response;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Response};
use crate::incremental::keyset::{unreadable, Row};
use crate::json;
use crate::zoho_time::format_iso;
use serde::Deserialize;

/// Records `page` reaches; past them Zoho answers only to `page_token`.
const DISCRETE_REACH: u32 = 2_000;

pub struct RecordsList<'a> {
    pub module: &'a str,
    /// At most 50 field names, comma-separated, id and Modified_Time first.
    pub fields: String,
}

#[derive(Deserialize, Default)]
struct Info {
    #[serde(default)]
    more_records: Option<bool>,
    #[serde(default)]
    next_page_token: Option<String>,
}

impl Listing for RecordsList<'_> {
    fn name(&self) -> &str {
        self.module
    }

    fn request(&self, address: &Address, header: Option<i64>) -> ApiCall {
        let mut call = ApiCall::new(Method::Get, format!("/crm/v8/{}", self.module))
            .query("fields", self.fields.clone())
            .query("sort_by", "Modified_Time")
            .query("sort_order", "asc")
            .query("per_page", PER_REQUEST.to_string());
        call = match address {
            Address::Page(p) => call.query("page", p.to_string()),
            Address::Token(t) => call.query("page_token", t.clone()),
        };
        if let Some(header) = header {
            call = call.header("If-Modified-Since", format_iso(header));
        }
        call
    }

    fn answer(&self, response: &Response) -> Result<Answer> {
        // An empty list is 204, or 304 "not modified" with If-Modified-Since.
        if matches!(response.status, 204 | 304) {
            return Ok(Answer::empty());
        }
        if response.status != 200 {
            return Err(error_from_response(response));
        }
        let listing = json::listing(&response.body, PER_REQUEST as usize).map_err(|e| unreadable(response, "records list", e))?;
        let info = listing.info.and_then(|i| serde_json::from_str::<Info>(i.get()).ok()).unwrap_or_default();
        let mut rows = Vec::with_capacity(listing.data.len());
        for raw in &listing.data {
            let row = Row::new((*raw).to_owned());
            let (Some(t), Some(id)) = (row.time, row.id.clone()) else {
                return Err(
                    ZohoError::new(ErrorKind::Zoho, format!("Zoho's {} list has a record without a readable id or Modified_Time: the walk cannot place it", self.module)).with_status(response.status)
                );
            };
            rows.push((t, id, row));
        }
        Ok(Answer { more: info.more_records == Some(true), rows, next_token: info.next_page_token })
    }

    fn last_page(&self) -> u32 {
        DISCRETE_REACH / PER_REQUEST
    }
}
