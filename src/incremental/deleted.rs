//! The deleted feed (`/{module}/deleted`, newest first), walked completely: a sweep with
//! include-deleted reads it after its last records page, `FEED_PAGES_PER_STEP` feed pages per
//! step. Step k of the walk (page = the records' last page + k) always reads feed pages
//! k·10+1 to k·10+10, so a retried step reads the same pages; the walk ends at the first
//! entry older than the sweep's start, or where the feed ends. Nothing is capped: the sweep's
//! `more_records` stays true until the feed is walked.

use super::keyset::{unreadable, Info};
use crate::client::{ApiCall, Client};
use crate::crm::response::content;
use crate::error::Result;
use crate::http::Method;
use crate::json;
use crate::zoho_time::parse_iso;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Feed pages one step reads (2,000 ids): bounded work and output per step.
pub const FEED_PAGES_PER_STEP: u64 = 10;
const FEED_PER_PAGE: usize = 200;

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    deleted_time: Option<&'a RawValue>,
}

/// One step of the walk: the ids it found and whether the feed is walked to its end.
pub struct Step {
    pub ids: Vec<Box<RawValue>>,
    pub ended: bool,
}

/// Step `k` of the walk over `module`'s deleted feed, keeping entries deleted at or after `since`.
pub fn step(client: &Client, module: &str, since: Option<&str>, k: u64) -> Result<Step> {
    let since = since.and_then(parse_iso);
    let mut ids = Vec::new();
    let first = k.saturating_mul(FEED_PAGES_PER_STEP).saturating_add(1);
    for page in first..first.saturating_add(FEED_PAGES_PER_STEP) {
        let response = client.send(
            ApiCall::new(Method::Get, format!("/crm/v8/{module}/deleted"))
                .query("type", "all")
                .query("page", page.to_string())
                .query("per_page", FEED_PER_PAGE.to_string()),
        )?;
        if content(&response)?.is_none() {
            return Ok(Step { ids, ended: true });
        }
        let listing = json::listing(&response.body, FEED_PER_PAGE).map_err(|e| unreadable(&response, "deleted records", e))?;
        let mut older_than_since = false;
        for item in &listing.data {
            let Ok(entry) = serde_json::from_str::<Entry>(item.get()) else { continue };
            let deleted_at = entry.deleted_time.and_then(|t| serde_json::from_str::<String>(t.get()).ok()).and_then(|t| parse_iso(&t));
            match (since, deleted_at) {
                (Some(s), Some(t)) if t < s => older_than_since = true,
                _ => ids.extend(entry.id.map(|id| id.to_owned())),
            }
        }
        let info = listing.info.and_then(|i| serde_json::from_str::<Info>(i.get()).ok()).unwrap_or_default();
        if older_than_since || info.more_records != Some(true) || listing.data.is_empty() {
            return Ok(Step { ids, ended: true });
        }
    }
    Ok(Step { ids, ended: false })
}
