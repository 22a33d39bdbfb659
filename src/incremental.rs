//! Incremental listing: a sweep reads every record modified since the committed cursor, a
//! page per step, and a commit moves the cursor. Nothing is lost:
//!
//! - Pages are keyset pages on (Modified_Time, id) through COQL (`where (Modified_Time > t or
//!   (Modified_Time = t and id > last)) order by Modified_Time, id`), so there is no offset to
//!   shift when records change mid-sweep, no 2,000-record page reach and no 100,000-row
//!   ceiling, and hundreds of records on one `Modified_Time` second are walked by id.
//! - The sweep has an upper bound, the server's `Date` when it began, so it ends even while
//!   records keep changing; records changed after it are the next sweep's.
//! - The cursor a sweep commits is the server time its first query could have run at (the
//!   `Date` of the first answer, less the request's duration, less a second), so a record
//!   changed during the sweep behind the keyset position is in the next sweep.
//! - Each page's start key is kept in storage: page N can be asked again (a retried step gets
//!   the same range) and a sweep survives the host restarting between steps.
//! - Records delivered in the boundary window are remembered (id and a digest of the text
//!   delivered), and the next sweep drops a record only when both match ([`boundary`]).
//! - With include-deleted the deleted feed is walked completely after the last records page,
//!   a bounded number of feed pages per step ([`deleted`]).
//! - Answers are read within a memory budget and records pass through as their raw text.
//!
//! Sliced sweeps (`slices` 2 to 10) read one sweep as several keyset walks that can run in
//! parallel from separate instances sharing the store:
//!
//! - The first step with no open plan makes it ([`plan`]): the sweep's end and cursor by the
//!   server's clock, and each slice's last (Modified_Time, id) key, balanced by record count.
//!   slices = 1 is the single walk above, with no plan and no extra request.
//! - Slice n walks the keys after slice n-1's last key through its own, with its own page keys,
//!   `more_records` and boundary digests, in the scope `<scope>/slice<n>`; slice 1 walks the
//!   deleted feed after its last records page (include-deleted).
//! - Every slice's walk records its plan's tag. A later page of a walk made under another plan
//!   (two first steps raced, or the plan was replaced) is a `conflict`: the driver reads every
//!   slice again from page 1. A page 1 joins the open plan. So pages of two plans never mix.
//! - The commit is a `conflict` naming the slices whose walk under the open plan has not
//!   delivered its last page; then it commits the plan's cursor with every slice's digests.
//! - Another `slices` value while a plan is open is `invalid-input` (nothing sent); only page 1
//!   of slice 1, an hour after the plan opened, replaces it.
//!
//! A module COQL cannot read (Notes, Appointments, ... [`read_by`]) is swept by the records
//! walk ([`records_walk`]): the records list ordered by Modified_Time from If-Modified-Since,
//! with the same guarantee, sweep state, page keys, boundary digests and commit. It is one
//! walk: `slices` past 1 is `invalid-input` for it (nothing sent), as COQL alone can plan.

mod boundary;
pub mod bulk_sweep;
mod deleted;
pub(crate) mod keyset;
pub(crate) mod open_sweep;
mod plan;
pub mod read_by;
pub(crate) mod records_walk;
pub(crate) mod stale_cursor;
pub(crate) mod state;
pub(crate) mod sweep_page;

pub use sweep_page::list_page;

use crate::client::{Client, Usage};
use crate::crm::records::{complete_texts, MAX_FIELDS_PER_LIST};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::storage::now_ms;
use crate::validate;
use crate::wit::incremental::{ListContactsByPageInput, ListModifiedRecordsByPageInput, UpdateLastSuccessfulRunDateInput};
use crate::zoho_time::{format_iso, parse_iso};
use keyset::Row;
use plan::Plan;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use state::{boundary_key, cursor_key, load, page_key, plan_key, save, slice_scope, sweep_key, Boundary, Cursor, Sweep};

/// An open sweep older than this is restarted when page 1 (or the next page) is asked again.
const SWEEP_TTL_MS: u64 = 60 * 60 * 1000;
/// Rows one COQL call can return; re-reading a known page range asks for up to this many.
const COQL_MAX_ROWS: usize = 2_000;
/// The largest page a sweep step asks for: COQL's LIMIT maximum (a 2,000-row page costs 3 credits, ten 200-row pages 10).
pub const MAX_PER_PAGE: u32 = 2_000;
/// Pages one step walks to reach a page asked ahead of the pages read (each is a request).
pub const MAX_PAGES_WALKED: u64 = 20;

/// What one sweep step reads: the actions' inputs plus where a sync stream starts and whose
/// cursor it is.
#[derive(Debug, Default, Clone)]
pub struct SweepRequest {
    pub record_type: String,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
    pub fields: Option<String>,
    pub since: Option<String>,
    /// Where a sweep starts when no cursor is committed yet (a sync stream's anchor date).
    pub anchor: Option<String>,
    /// Whose cursor this is: the module for the incremental actions, `sync/<stream>` for a sync
    /// stream, so two consumers of one module (accounts, companies) each keep their own.
    pub scope: Option<String>,
    pub include_deleted: Option<bool>,
    /// This step's slice, 1 to `slices` (a sliced sweep's own keyset walk).
    pub slice: Option<u32>,
    /// The sweep's number of Modified_Time slices, 1 to 10.
    pub slices: Option<u32>,
    /// How a first sweep reads: `coql` (default), `bulk` (export jobs) or `auto` ([`bulk_sweep`]).
    pub strategy: Option<String>,
}

/// Normalizes a caller's timestamp to Zoho's shape in UTC.
pub(crate) fn normalize(what: &str, text: &str) -> Result<String> {
    parse_iso(text).map(format_iso).ok_or_else(|| ZohoError::invalid_input(format!("{what} {text:?} is not a timestamp: use ISO 8601 with an offset, e.g. 2024-05-10T01:10:47-07:00 or 2024-05-10")))
}

/// How much earlier a cursor starts when Zoho's clock could not be read from the answer.
const HOST_CLOCK_MARGIN_S: i64 = 15 * 60;

fn now_s() -> i64 {
    i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX)
}

/// One page of a sweep, written as the step's result with its records as Zoho's own text.
#[derive(Serialize)]
pub struct SweepPage {
    pub record_type: String,
    pub records: Vec<Box<RawValue>>,
    pub page: u64,
    pub per_page: u32,
    pub more_records: bool,
    pub next_page: Option<u64>,
    pub cursor: Option<String>,
    pub sweep: SweepInfo,
    /// Ids from the deleted feed (include-deleted, from the records' last page on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Vec<Box<RawValue>>>,
    /// With `deleted`: whether the feed may lack deletions this sweep needs (its start is older
    /// than Zoho keeps deletions), and why; never silently.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletions_may_be_missing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletions_missing_why: Option<String>,
    /// A sliced sweep's slice: its number, how many, its range and what its plan cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice: Option<SliceInfo>,
    /// The requests this step sent and the credits Zoho charged (a plan's included).
    pub usage: Usage,
    /// What the caller must know about this sweep (a cursor later than the server's clock),
    /// never silently.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental: Option<bool>,
    /// A Zoho Books stream's organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// `bulk` when the page is a first sweep read through export jobs ([`bulk_sweep`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<&'static str>,
    /// Come back after this long: an export job is still running (no records, more follow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// The export job read and how far (`job`, `state`, `jobs`, `records_counted`, `offset`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bulk: Option<Value>,
}

#[derive(Serialize)]
pub struct SweepInfo {
    pub id: String,
    pub since: Option<String>,
    pub until: Option<String>,
    pub commits_cursor: Option<String>,
    pub duplicates_dropped: usize,
}

/// Where a slice reads: keys after (`from`, `from_id`) through (`to`, `to_id`); the first
/// slice starts at the sweep's since, the last ends at its until.
#[derive(Serialize)]
pub struct SliceInfo {
    pub n: u32,
    pub of: u32,
    pub from: Option<String>,
    pub from_id: Option<String>,
    pub to: Option<String>,
    pub to_id: Option<String>,
    pub plan: PlanInfo,
}

/// The plan the slice belongs to: records counted, whether the boundaries sit at their
/// count's share, and the requests and credits making it cost (in its first step's usage).
#[derive(Serialize)]
pub struct PlanInfo {
    pub id: String,
    pub records: u64,
    pub balanced: bool,
    pub calls: u64,
    pub credits: u64,
}

impl SweepPage {
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| ZohoError::new(ErrorKind::Internal, format!("cannot write the page: {e}")))
    }
}

/// A sweep's page as the step's JSON text.
pub fn list_modified_records(client: &Client, input: &SweepRequest) -> Result<String> {
    list_page(client, input)?.to_json()
}

/// List New/Updated Contacts By Page: the Contacts module's sweep.
pub fn list_contacts_by_page(client: &Client, input: &ListContactsByPageInput) -> Result<String> {
    let ListContactsByPageInput { page, per_page, fields, since, include_deleted } = input.clone();
    let by_module = ListModifiedRecordsByPageInput { record_type: "Contacts".into(), page, per_page, fields, since, include_deleted, slice: None, slices: None, strategy: None };
    list_modified_records_by_page(client, &by_module)
}

/// List New/Updated Records By Page: any module's sweep, its cursor kept per module.
pub fn list_modified_records_by_page(client: &Client, input: &ListModifiedRecordsByPageInput) -> Result<String> {
    let request = SweepRequest {
        record_type: input.record_type.clone(),
        page: input.page,
        per_page: input.per_page,
        fields: input.fields.clone(),
        since: input.since.clone(),
        include_deleted: input.include_deleted,
        slice: input.slice,
        slices: input.slices,
        strategy: input.strategy.clone(),
        ..Default::default()
    };
    list_modified_records(client, &request)
}

/// The module Update Last Successful Run Date commits: Contacts when none (or blank) is given,
/// as List New/Updated Contacts sweeps Contacts.
pub fn run_date_module(input: &UpdateLastSuccessfulRunDateInput) -> &str {
    input.record_type.as_deref().filter(|r| !r.trim().is_empty()).unwrap_or("Contacts")
}

/// Update Last Successful Run Date: commits the module's finished sweep, or sets `timestamp`.
pub fn update_last_successful_run_date(client: &Client, input: &UpdateLastSuccessfulRunDateInput) -> Result<Value> {
    commit(client, run_date_module(input), None, input.timestamp.as_deref())
}

/// The fields past COQL's 500 of a module wider than one SELECT, read by id with the records
/// GET (49 fields and the id, 100 ids a call) and merged in as text, within the merged-page budget.
fn complete(client: &Client, module: &str, extra: &[String], rows: Vec<Row>) -> Result<Vec<Row>> {
    let batches: Vec<&[String]> = extra.chunks(MAX_FIELDS_PER_LIST - 1).collect();
    let texts = {
        let raw: Vec<&RawValue> = rows.iter().map(|r| r.text.as_ref()).collect();
        complete_texts(client, module, &batches, &raw)?
    };
    drop(rows);
    texts.into_iter().map(|t| RawValue::from_string(t).map(Row::new).map_err(|e| ZohoError::new(ErrorKind::Internal, format!("cannot write a record: {e}")))).collect()
}

/// Pages a commit reads back for boundary digests (they are the sweep's last pages).
const BOUNDARY_PAGES_READ: u64 = 10_000;

/// Commits the finished sweep of `scope` (default: the module) with its cursor and boundary,
/// or sets an explicit cursor. A sliced sweep commits only when every slice of its open plan
/// delivered its last page; its boundary digests are gathered from every slice.
pub fn commit(client: &Client, record_type: &str, scope: Option<&str>, timestamp: Option<&str>) -> Result<Value> {
    let module = validate::module_name(record_type.trim())?.to_string();
    let scope = scope.map(str::to_string).unwrap_or_else(|| module.clone());
    let sweep: Option<Sweep> = load(client, &sweep_key(&scope))?;
    let plan: Option<Plan> = load::<Plan>(client, &plan_key(&scope))?.filter(Plan::is_sound);
    let mut cursor = Cursor::default();
    match timestamp.map(str::trim).filter(|t| !t.is_empty()) {
        Some(timestamp) => {
            cursor.cursor = Some(normalize("timestamp", timestamp)?);
            cursor.source = Some("explicit".into());
        }
        None => {
            let mut gathered = Boundary::new();
            if let Some(plan) = &plan {
                let tag = plan.tag();
                let mut walks = Vec::new();
                let mut unfinished = Vec::new();
                for n in 1..=plan.slices {
                    let walk_scope = slice_scope(&scope, n);
                    match load::<Sweep>(client, &sweep_key(&walk_scope))?.filter(|s| s.plan.as_deref() == Some(tag.as_str()) && s.finished()) {
                        Some(walk) => walks.push((walk_scope, walk)),
                        None => unfinished.push(n.to_string()),
                    }
                }
                if !unfinished.is_empty() {
                    return Err(ZohoError::new(
                        ErrorKind::Conflict,
                        format!(
                            "the sliced sweep of {scope} (plan {}) is not finished: slice {} of {} has not delivered its last page; read each until more_records is false (slice 1 with include-deleted, until the deleted feed is walked too), then commit",
                            plan.id,
                            unfinished.join(", "),
                            plan.slices
                        ),
                    ));
                }
                cursor.cursor = plan.cursor.clone();
                cursor.until = plan.until.clone();
                // The last slices first: the boundary window is at the sweep's end.
                for (walk_scope, walk) in walks.iter().rev() {
                    gather(client, walk_scope, walk, &mut gathered)?;
                }
            } else {
                let Some(sweep) = sweep.as_ref().filter(|s| s.finished()) else {
                    return Err(ZohoError::new(
                        ErrorKind::Conflict,
                        "there is no finished sweep to commit: read pages until more_records is false (with include-deleted, until the deleted feed is walked too), then update the run date (or pass timestamp)",
                    ));
                };
                cursor.cursor = sweep.cursor.clone();
                cursor.until = sweep.until.clone();
                gather(client, &scope, sweep, &mut gathered)?;
            }
            cursor.source = Some("sweep".into());
            save(client, &boundary_key(&scope), &gathered)?;
        }
    }
    cursor.committed_at = Some(format_iso(now_s()));
    if cursor.source.as_deref() == Some("explicit") {
        client.storage.delete(&boundary_key(&scope))?;
    }
    save(client, &cursor_key(&scope), &cursor)?;
    if let Some(sweep) = &sweep {
        state::forget(client, &scope, sweep)?;
    }
    client.storage.delete(&sweep_key(&scope))?;
    if let Some(plan) = &plan {
        forget_plan(client, &scope, plan)?;
    }
    Ok(json!({ "record_type": module, "cursor": cursor.cursor, "source": cursor.source, "committed_at": cursor.committed_at }))
}

/// Adds what a walk's pages delivered in the boundary window: its last pages, up to the cap.
fn gather(client: &Client, walk_scope: &str, sweep: &Sweep, gathered: &mut Boundary) -> Result<()> {
    let last = sweep.last_page.unwrap_or(0);
    for n in (1..=last).rev().take(BOUNDARY_PAGES_READ as usize) {
        if gathered.len() >= boundary::MAX_BOUNDARY_IDS {
            break;
        }
        for (id, digest) in load::<Boundary>(client, &page_key(walk_scope, &sweep.sweep, "boundary", n))?.unwrap_or_default() {
            if gathered.len() < boundary::MAX_BOUNDARY_IDS {
                gathered.entry(id).or_insert(digest);
            }
        }
    }
    Ok(())
}

/// Deletes a plan and its slices' walks (their page keys with them).
fn forget_plan(client: &Client, scope: &str, plan: &Plan) -> Result<()> {
    for n in 1..=plan.slices {
        let walk_scope = slice_scope(scope, n);
        if let Some(walk) = load::<Sweep>(client, &sweep_key(&walk_scope))? {
            state::forget(client, &walk_scope, &walk)?;
        }
        client.storage.delete(&sweep_key(&walk_scope))?;
    }
    client.storage.delete(&plan_key(scope))
}

#[cfg(test)]
mod action_tests {
    use super::*;
    use crate::testing::Fixture;

    /// Moved out of the wasm-only adapter: no (or a blank) record-type commits Contacts.
    #[test]
    fn the_run_date_defaults_to_contacts() {
        let input = |record_type: Option<&str>| UpdateLastSuccessfulRunDateInput { record_type: record_type.map(str::to_string), timestamp: None };
        assert_eq!(run_date_module(&input(None)), "Contacts");
        assert_eq!(run_date_module(&input(Some(" \t"))), "Contacts");
        assert_eq!(run_date_module(&input(Some("Deals"))), "Deals");
    }

    /// Attack: an answer without a Date header made the host's "now" the committed cursor; the
    /// cursor must start at least the margin before the host's clock.
    #[test]
    fn without_zohos_date_the_cursor_starts_a_margin_early() {
        let fixture = Fixture::default();
        let transport = &fixture.transport;
        transport.answer(200, r#"{"fields":[{"api_name":"Last_Name","data_type":"text"}]}"#);
        transport.answer(200, r#"{"data":[{"id":"1","Modified_Time":"2024-01-01T00:00:00+00:00","Last_Name":"a"}],"info":{"count":1,"more_records":false}}"#);
        let client = fixture.client();
        let request = SweepRequest { record_type: "Leads".into(), page: Some(1), fields: Some("Last_Name".into()), ..Default::default() };
        let before = now_s();
        let page: Value = serde_json::from_str(&list_modified_records(&client, &request).unwrap()).unwrap();
        let cursor = page["sweep"]["commits_cursor"].as_str().and_then(parse_iso).unwrap();
        assert!(cursor <= before - HOST_CLOCK_MARGIN_S, "{cursor} vs {before}");
        assert!(cursor >= before - HOST_CLOCK_MARGIN_S - 5, "{cursor} vs {before}");
    }
}
