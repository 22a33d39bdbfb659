//! The deleted feed (`GET /crm/v8/{module}/deleted`), walked completely: a sweep with
//! include-deleted reads it after its last records page, `FEED_PAGES_PER_STEP` feed pages per
//! step. Step k of the walk (page = the records' last page + k) always reads feed pages
//! k·10+1 to k·10+10, so a retried step reads the same pages. Nothing is capped: the sweep's
//! `more_records` stays true until the feed is walked.
//!
//! What Zoho documents of the feed (v7/v8 "Get List of Deleted Records"; recycle_bin.json):
//!
//! - No order. So the walk never stops at an old entry: it reads every page of the feed until
//!   Zoho says there are no more, and keeps the entries deleted at or after the sweep's start.
//! - `If-Modified-Since` filters it to the deletions at or after that time: the walk sends the
//!   sweep's start, so the feed it walks is only what the sweep needs (a 304 or 204 is none).
//! - Retention: the recycle bin keeps a deleted record 60 days, permanently deleted ids are
//!   listed 120 days. A sweep starting further back than the shorter of the two may find the
//!   feed without deletions it needs, and the page says so ([`retention_gap`]), never silently.

use super::keyset::{unreadable, Info};
use crate::client::{ApiCall, Client};
use crate::crm::response::error_from_response;
use crate::error::Result;
use crate::http::Method;
use crate::json;
use crate::zoho_time::{format_iso, parse_iso, Seconds};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Feed pages one step reads (2,000 ids): bounded work and output per step.
pub const FEED_PAGES_PER_STEP: u64 = 10;
const FEED_PER_PAGE: usize = 200;
/// Days a deletion is surely in the feed: the recycle bin's 60 (permanently deleted ids stay
/// 120). Zoho's page does not say whether a record purged from the bin after 60 days is listed
/// on as permanent, so the shorter is the reading that holds under both.
pub const RETAINED_DAYS: i64 = 60;

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
    let since_at = since.and_then(parse_iso);
    let mut ids = Vec::new();
    let first = k.saturating_mul(FEED_PAGES_PER_STEP).saturating_add(1);
    for page in first..first.saturating_add(FEED_PAGES_PER_STEP) {
        let mut call = ApiCall::new(Method::Get, format!("/crm/v8/{module}/deleted")).query("type", "all").query("page", page.to_string()).query("per_page", FEED_PER_PAGE.to_string());
        if let Some(at) = since_at {
            call = call.header("If-Modified-Since", format_iso(at));
        }
        let response = client.send(call)?;
        match response.status {
            200 => {}
            // Nothing (more) deleted since: 204 as any empty listing, 304 as Zoho answers a
            // filtered listing with nothing changed.
            204 | 304 => return Ok(Step { ids, ended: true }),
            _ => return Err(error_from_response(&response)),
        }
        let listing = json::listing(&response.body, FEED_PER_PAGE).map_err(|e| unreadable(&response, "deleted records", e))?;
        for item in &listing.data {
            let Ok(entry) = serde_json::from_str::<Entry>(item.get()) else {
                continue;
            };
            let deleted_at = entry.deleted_time.and_then(|t| serde_json::from_str::<String>(t.get()).ok()).and_then(|t| parse_iso(&t));
            // The header filters already; an entry older than the sweep's start (a proxy that
            // dropped the header) is not this sweep's, wherever it stands in the feed.
            match (since_at, deleted_at) {
                (Some(s), Some(t)) if t < s => {}
                _ => ids.extend(entry.id.map(|id| id.to_owned())),
            }
        }
        let info = listing.info.and_then(|i| serde_json::from_str::<Info>(i.get()).ok()).unwrap_or_default();
        if info.more_records != Some(true) || listing.data.is_empty() {
            return Ok(Step { ids, ended: true });
        }
    }
    Ok(Step { ids, ended: false })
}

/// Why the feed may lack deletions the sweep needs: its start (`since`) lies more than
/// [`RETAINED_DAYS`] before `now` (Zoho's clock), so deletions before the retained range may
/// have left the feed. None when the whole range is retained (or the sweep has no start: a
/// first sweep reads every record that exists, and needs no deletions before it).
pub fn retention_gap(since: Option<&str>, now: Seconds) -> Option<String> {
    let since_at = parse_iso(since?)?;
    let retained_from = now.saturating_sub(RETAINED_DAYS.saturating_mul(86_400));
    (since_at < retained_from).then(|| {
        format!(
            "the sweep starts at {}, more than {RETAINED_DAYS} days before Zoho's now ({}): Zoho keeps deleted records in its recycle bin {RETAINED_DAYS} days and lists permanently deleted ids 120 days, so deletions before {} may be missing from the feed; read the module in full (a sweep without since, after clearing the cursor) to find the records that no longer exist",
            format_iso(since_at),
            format_iso(now),
            format_iso(retained_from)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_older_than_the_recycle_bins_days_is_a_gap() {
        let now = parse_iso("2026-03-02T00:00:00+00:00").unwrap();
        assert_eq!(retention_gap(None, now), None);
        assert_eq!(retention_gap(Some("2026-01-01T00:00:00+00:00"), now), None, "exactly 60 days back is retained");
        let why = retention_gap(Some("2025-12-31T23:59:59+00:00"), now).expect("a gap");
        assert!(why.starts_with("the sweep starts at 2025-12-31T23:59:59+00:00, more than 60 days before Zoho's now (2026-03-02T00:00:00+00:00)"), "{why}");
        assert!(why.contains("deletions before 2026-01-01T00:00:00+00:00 may be missing"), "{why}");
        assert_eq!(retention_gap(Some("not a time"), now), None);
        assert!(retention_gap(Some("1970-01-01T00:00:00+00:00"), i64::MIN).is_none());
        assert!(retention_gap(Some("1970-01-01T00:00:00+00:00"), i64::MAX).is_some());
    }
}
