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
mod deleted;
mod keyset;
mod open_sweep;
mod plan;
pub mod read_by;
mod records_walk;
mod state;

use crate::client::{Client, Usage};
use crate::crm::coql_fields::{self, MAX_SELECT_FIELDS};
use crate::crm::records::{complete_texts, MAX_FIELDS_PER_LIST};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::storage::now_ms;
use crate::validate;
use crate::wit::incremental::{ListContactsByPageInput, ListModifiedRecordsByPageInput, UpdateLastSuccessfulRunDateInput};
use crate::zoho_time::{format_iso, parse_iso};
use keyset::{Page, Row};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use plan::Plan;
use read_by::ReadBy;
use state::{boundary_key, cursor_key, load, load_key, page_key, plan_key, save, slice_scope, sweep_key, Boundary, Cursor, Sweep};

pub use deleted::FEED_PAGES_PER_STEP;

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
}

/// Normalizes a caller's timestamp to Zoho's shape in UTC.
fn normalize(what: &str, text: &str) -> Result<String> {
    parse_iso(text).map(format_iso).ok_or_else(|| {
        ZohoError::invalid_input(format!("{what} {text:?} is not a timestamp: use ISO 8601 with an offset, e.g. 2024-05-10T01:10:47-07:00 or 2024-05-10"))
    })
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental: Option<bool>,
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
    let by_module = ListModifiedRecordsByPageInput { record_type: "Contacts".into(), page, per_page, fields, since, include_deleted, slice: None, slices: None };
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
    texts
        .into_iter()
        .map(|t| RawValue::from_string(t).map(Row::new).map_err(|e| ZohoError::new(ErrorKind::Internal, format!("cannot write a record: {e}"))))
        .collect()
}

pub fn list_page(client: &Client, input: &SweepRequest) -> Result<SweepPage> {
    let module = validate::module_name(input.record_type.trim())?.to_string();
    let per_page = input.per_page.unwrap_or(200);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ZohoError::invalid_input(format!("per-page {per_page} is out of range: 1 to 2,000")));
    }
    if input.page == Some(0) {
        return Err(ZohoError::invalid_input("page starts at 1"));
    }
    let slices = input.slices.unwrap_or(1);
    if !(1..=plan::MAX_SLICES).contains(&slices) {
        return Err(ZohoError::invalid_input(format!("slices {slices} is out of range: 1 to {}", plan::MAX_SLICES)));
    }
    let slice = input.slice.unwrap_or(1);
    if !(1..=slices).contains(&slice) {
        return Err(ZohoError::invalid_input(format!("slice {slice} is out of range: 1 to slices ({slices})")));
    }
    let read_by = read_by::read_by(&module)?;
    if read_by == ReadBy::Records && slices > 1 {
        return Err(ZohoError::invalid_input(format!(
            "slices {slices}: {module} is read through its records list (COQL cannot read it), one walk that cannot be sliced: pass slices 1 (or none)"
        )));
    }
    let since_input = input.since.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| normalize("since", s)).transpose()?;
    let anchor = input.anchor.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| normalize("anchor-date", s)).transpose()?;
    let include_deleted = input.include_deleted.unwrap_or(false);
    let named = match input.fields.as_deref() {
        Some(f) => validate::field_names(f)?,
        None => Vec::new(),
    };
    let scope = input.scope.clone().unwrap_or_else(|| module.clone());
    let first_step = matches!(input.page, None | Some(1));
    // Which sweep this step belongs to is settled before anything is sent.
    let open_plan: Option<Plan> = load::<Plan>(client, &plan_key(&scope))?.filter(Plan::is_sound);
    let stale = |p: &Plan| now_ms().saturating_sub(p.opened_at_ms) > SWEEP_TTL_MS;
    // Only slice 1's first step may replace an open plan an hour old (as page 1 restarts a sweep).
    let replaces_stale = |p: &Plan| first_step && slice == 1 && stale(p);
    match &open_plan {
        Some(plan) if plan.slices != slices && !replaces_stale(plan) => {
            return Err(ZohoError::invalid_input(format!(
                "slices {slices} differs from the open sweep of {scope}, planned in {} slices (plan {}): pass slices {} on every step until the sweep is committed; a sweep left unfinished is replaced when page 1 of slice 1 is asked an hour after it opened",
                plan.slices, plan.id, plan.slices
            )));
        }
        None if slices > 1 && !first_step => {
            return Err(ZohoError::invalid_input(format!(
                "page {} of slice {slice} continues a sliced sweep of {scope}, and none is open: ask page 1 (or no page) to open one; the sweep was committed or expired, or the host's key-value store did not keep it between steps",
                input.page.unwrap_or(0)
            )));
        }
        _ => {}
    }
    if slices == 1 {
        open_sweep::require_for_page(client, &scope, input.page)?;
    }
    // Only what COQL reads: a sweep without fields selects the module's readable fields; a
    // named field COQL cannot read is refused here, before anything is sent. The records list
    // has no such limits: it lists every listable field, and names are Zoho's to check.
    let mut fields = match (read_by, named.is_empty()) {
        (ReadBy::Records, true) => crate::crm::fields::module_fields(client, &module)?,
        (ReadBy::Records, false) => named,
        (_, true) => coql_fields::readable_fields(client, &module)?,
        (_, false) => coql_fields::check_named(client, &module, named)?,
    };
    fields.retain(|f| f != "id" && f != "Modified_Time");
    fields.splice(0..0, ["id".to_string(), "Modified_Time".to_string()]);
    let signature = format!("{per_page}|{}{}{}", fields.join(","), if include_deleted { "|deleted" } else { "" }, if read_by == ReadBy::Records { "|records" } else { "" });

    let cursor: Option<Cursor> = load(client, &cursor_key(&scope))?;
    let (walk_scope, mut sweep, range, mut slice_info) = if slices == 1 {
        // A single walk, as before slices existed; a stale plan it replaces is forgotten.
        if let Some(plan) = &open_plan {
            forget_plan(client, &scope, plan)?;
        }
        let mut sweep: Sweep = load(client, &sweep_key(&scope))?.unwrap_or_default();
        let fresh = sweep.sweep.is_empty()
            || sweep.signature != signature
            || (since_input.is_some() && sweep.since != since_input)
            || (first_step && now_ms().saturating_sub(sweep.opened_at_ms) > SWEEP_TTL_MS);
        if fresh {
            let since = since_input.clone().or_else(|| cursor.as_ref().and_then(|c| c.cursor.clone())).or(anchor);
            state::forget(client, &scope, &sweep)?;
            sweep = Sweep { signature, since, opened_at_ms: now_ms(), sweep: format!("{:x}", now_ms()), include_deleted, ..Sweep::default() };
        }
        (scope.clone(), sweep, plan::Range::default(), None)
    } else {
        let plan = match open_plan {
            Some(plan) if plan.signature == signature && (since_input.is_none() || plan.since == since_input) && !replaces_stale(&plan) => plan,
            Some(plan) if !first_step => {
                return Err(ZohoError::invalid_input(format!(
                    "this step reads the sweep of {scope} differently from its plan {} (per-page, fields, include-deleted or since): pass the same values on every step of a sliced sweep",
                    plan.id
                )));
            }
            open => {
                // The first step of a sliced sweep makes its plan (an unfinished single walk or
                // older plan of this scope is dropped).
                if let Some(old) = &open {
                    forget_plan(client, &scope, old)?;
                }
                if let Some(single) = load::<Sweep>(client, &sweep_key(&scope))? {
                    state::forget(client, &scope, &single)?;
                    client.storage.delete(&sweep_key(&scope))?;
                }
                let since = since_input.clone().or_else(|| cursor.as_ref().and_then(|c| c.cursor.clone())).or(anchor);
                let plan = plan::make(client, &module, since, slices, signature.clone(), include_deleted)?;
                save(client, &plan_key(&scope), &plan)?;
                plan
            }
        };
        let walk_scope = slice_scope(&scope, slice);
        let tag = plan.tag();
        let mut sweep: Sweep = load(client, &sweep_key(&walk_scope))?.unwrap_or_default();
        if sweep.plan.as_deref() != Some(tag.as_str()) {
            if !first_step {
                return Err(ZohoError::new(
                    ErrorKind::Conflict,
                    format!(
                        "page {} of slice {slice} is not part of the open sweep plan {} of {scope} (another first step replaced the plan, or this slice's page 1 was never read under it): read every slice again from page 1",
                        input.page.unwrap_or(0),
                        plan.id
                    ),
                ));
            }
            state::forget(client, &walk_scope, &sweep)?;
            sweep = Sweep {
                signature,
                since: plan.since.clone(),
                opened_at_ms: now_ms(),
                sweep: plan.id.clone(),
                until: plan.until.clone(),
                cursor: plan.cursor.clone(),
                // The deleted feed is walked once, by slice 1 after its last records page.
                include_deleted: plan.include_deleted && slice == 1,
                plan: Some(tag),
                ..Sweep::default()
            };
        }
        let range = plan.range(slice);
        let info = SliceInfo {
            n: slice,
            of: slices,
            from: range.after.as_ref().map(|k| k.time.clone()).or_else(|| plan.since.clone()),
            from_id: range.after.as_ref().map(|k| k.id.clone()),
            to: range.through.as_ref().map(|k| k.time.clone()).or_else(|| plan.until.clone()),
            to_id: range.through.as_ref().map(|k| k.id.clone()),
            plan: PlanInfo { id: plan.id.clone(), records: plan.records, balanced: plan.balanced, calls: plan.calls, credits: plan.credits },
        };
        (walk_scope, sweep, range, Some(info))
    };
    let since = sweep.since.clone();
    let page: u64 = match input.page {
        Some(p) => u64::from(p),
        None if sweep.last_page.is_some() => sweep.served.saturating_add(1),
        None => sweep.fetched.saturating_add(1),
    };
    let mut fetched = sweep.fetched;
    if sweep.last_page.is_none() && page.saturating_sub(fetched.saturating_add(1)) > MAX_PAGES_WALKED {
        return Err(ZohoError::invalid_input(format!(
            "page {page} is {} pages past the last page this sweep has read ({fetched}); one step walks at most {MAX_PAGES_WALKED}: read the pages in order from page {}",
            page.saturating_sub(fetched),
            fetched.saturating_add(1)
        )));
    }
    // One COQL call reads up to 500 fields; past that (a module wider than any COQL SELECT), the
    // rest is read by the records GET by id, 50 fields per call.
    let (coql_fields, extra): (Vec<String>, Vec<String>) = if fields.len() > MAX_SELECT_FIELDS {
        (fields[..MAX_SELECT_FIELDS].to_vec(), fields[MAX_SELECT_FIELDS..].to_vec())
    } else {
        (fields.clone(), Vec::new())
    };

    // Walk to the asked page when the pages before it were never read.
    let mut result = None;
    let mut n = page.min(fetched.saturating_add(1));
    if sweep.last_page.is_some_and(|last| page > last) {
        result = Some(Page::empty());
    }
    if range.empty {
        // A slice the plan left nothing in ends on its first page, unasked.
        sweep.last_page = Some(sweep.last_page.unwrap_or(1).min(page));
        result = Some(Page::empty());
    }
    if result.is_none() && read_by == ReadBy::Records {
        result = Some(records_walk::read(client, &module, &fields, &walk_scope, &mut sweep, page, per_page, &mut fetched)?);
    }
    while result.is_none() {
        let mut conditions = Vec::new();
        if let Some(since) = &since {
            conditions.push(format!("Modified_Time >= '{since}'"));
        }
        if let Some(until) = &sweep.until {
            conditions.push(format!("Modified_Time <= '{until}'"));
        }
        conditions.extend(range.conditions());
        let start = if n > 1 { load_key(client, &page_key(&walk_scope, &sweep.sweep, "start", n))? } else { None };
        if let Some(start) = &start {
            conditions.push(start.after());
        }
        // A page read before is read again over the same key range.
        let known_end = if n <= fetched { load_key(client, &page_key(&walk_scope, &sweep.sweep, "start", n.saturating_add(1)))? } else { None };
        if let Some(end) = &known_end {
            conditions.push(end.up_to());
        }
        let limit = if known_end.is_some() { COQL_MAX_ROWS } else { per_page as usize };
        let mut fetched_page = keyset::fetch(client, &module, &coql_fields, &conditions, limit)?;
        let window = keyset::Window {
            since: since.as_deref().and_then(parse_iso),
            until: sweep.until.as_deref().and_then(parse_iso),
            after: range.after.iter().chain(start.iter()).collect(),
            up_to: range.through.iter().chain(known_end.iter()).collect(),
        };
        window.check(&module, &fetched_page.rows)?;
        if sweep.until.is_none() {
            // The sweep's bounds, by the server's clock. An answer without a readable Date
            // (Zoho always dates its answers; a proxy may not) falls back to this host's clock,
            // and the cursor then starts a margin earlier, so a server clock behind ours by
            // less than the margin loses nothing: more duplicates, never a gap.
            let (date, margin) = match fetched_page.date {
                Some(date) => (date, 0),
                None => (now_s(), HOST_CLOCK_MARGIN_S),
            };
            // A first page holding records later than its own Date (Zoho's servers' clocks a
            // second apart, or this host's clock behind) moves the bound to them: the next
            // page's query must reach what this page began. The cursor stays by the clock.
            let latest = fetched_page.rows.iter().filter_map(|r| r.time).max();
            sweep.until = Some(format_iso(latest.map_or(date, |latest| latest.max(date))));
            sweep.cursor = Some(format_iso(date.saturating_sub(fetched_page.took_s).saturating_sub(1).saturating_sub(margin)));
        }
        if known_end.is_some() {
            fetched_page.more = sweep.last_page != Some(n);
        } else {
            if let Some(last) = fetched_page.rows.iter().rev().find_map(|r| r.key.clone()) {
                save(client, &page_key(&walk_scope, &sweep.sweep, "start", n.saturating_add(1)), &last)?;
                fetched = n;
            }
            if !fetched_page.more || fetched_page.rows.is_empty() {
                fetched_page.more = false;
                sweep.last_page = Some(n);
            }
        }
        if n == page {
            result = Some(fetched_page);
        } else if !fetched_page.more {
            // The sweep ends before the asked page.
            result = Some(Page::empty());
        } else {
            n = n.saturating_add(1);
        }
    }
    let records_page = result.unwrap_or_else(Page::empty);
    let records_more = records_page.more;
    let mut rows = records_page.rows;
    if !extra.is_empty() && !rows.is_empty() && read_by == ReadBy::Coql {
        rows = complete(client, &module, &extra, rows)?;
    }
    // Remember what this page delivers inside the sweep's boundary window, the duplicates
    // dropped below included: the consumer holds them, so the next sweep may drop them too.
    let window_start = sweep.cursor.as_deref().and_then(parse_iso);
    let mut delivered = Boundary::new();
    for row in &rows {
        if let (Some(t), Some(w), Some(id)) = (row.time, window_start, row.id.as_deref()) {
            if t >= w {
                boundary::remember(&mut delivered, id, row.text.get());
            }
        }
    }
    if !delivered.is_empty() {
        save(client, &page_key(&walk_scope, &sweep.sweep, "boundary", page), &delivered)?;
    }
    // Records the previous sweep delivered in its boundary window, with the same content, are
    // dropped; only a page reaching back into that window reads the remembered digests.
    let previous_until = cursor.as_ref().and_then(|c| c.until.as_deref()).and_then(parse_iso);
    let delivered_before = rows.len();
    if rows.iter().any(|r| matches!((r.time, previous_until), (Some(t), Some(u)) if t <= u)) {
        let remembered: Boundary = load(client, &boundary_key(&scope))?.unwrap_or_default();
        rows.retain(|r| !r.id.as_deref().is_some_and(|id| boundary::is_duplicate(&remembered, id, r.text.get())));
    }
    let dropped = delivered_before.saturating_sub(rows.len());

    // After the last records page, the deleted feed, a bounded part per step.
    let mut more = records_more;
    let mut deleted_ids = None;
    if sweep.include_deleted && !records_more {
        let last = sweep.last_page.unwrap_or(page);
        match sweep.deleted_last_page {
            Some(end) if page > end => deleted_ids = Some(Vec::new()),
            _ => {
                let step = deleted::step(client, &module, since.as_deref(), page.saturating_sub(last))?;
                if step.ended {
                    sweep.deleted_last_page = Some(sweep.deleted_last_page.map_or(page, |end| end.max(page)));
                }
                more = sweep.deleted_last_page.is_none_or(|end| end > page);
                deleted_ids = Some(step.ids);
            }
        }
    }
    // Zoho's clock as the sweep's bound read it (the host's when unknown) says how far back
    // the feed still reaches.
    let gap = deleted_ids.as_ref().map(|_| {
        let now = sweep.until.as_deref().and_then(parse_iso).unwrap_or_else(now_s);
        deleted::retention_gap(since.as_deref(), now)
    });
    sweep.fetched = fetched;
    sweep.served = sweep.served.max(page);
    save(client, &sweep_key(&walk_scope), &sweep)?;

    Ok(SweepPage {
        record_type: module,
        records: rows.into_iter().map(|r| r.text).collect(),
        page,
        per_page,
        more_records: more,
        next_page: if more { page.checked_add(1) } else { None },
        cursor: cursor.and_then(|c| c.cursor),
        sweep: SweepInfo { id: sweep.sweep, since, until: sweep.until, commits_cursor: sweep.cursor, duplicates_dropped: dropped },
        deleted: deleted_ids,
        deletions_may_be_missing: gap.as_ref().map(Option::is_some),
        deletions_missing_why: gap.flatten(),
        slice: slice_info.take(),
        usage: client.usage(),
        stream: None,
        incremental: None,
    })
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
        use crate::client::Client;
        use crate::connection::Connection;
        use crate::http::scripted::Scripted;
        use crate::options::CallOptions;
        use crate::storage::memory::Memory;
        let (transport, storage, options) = (Scripted::default(), Memory::default(), CallOptions::default());
        transport.answer(200, r#"{"fields":[{"api_name":"Last_Name","data_type":"text"}]}"#);
        transport.answer(200, r#"{"data":[{"id":"1","Modified_Time":"2024-01-01T00:00:00+00:00","Last_Name":"a"}],"info":{"count":1,"more_records":false}}"#);
        let connection = Connection { access_token: Some("t".into()), ..Default::default() };
        let client = Client::new(&connection, &options, &transport, &storage).unwrap();
        let request = SweepRequest { record_type: "Leads".into(), page: Some(1), fields: Some("Last_Name".into()), ..Default::default() };
        let before = now_s();
        let page: Value = serde_json::from_str(&list_modified_records(&client, &request).unwrap()).unwrap();
        let cursor = page["sweep"]["commits_cursor"].as_str().and_then(parse_iso).unwrap();
        assert!(cursor <= before - HOST_CLOCK_MARGIN_S, "{cursor} vs {before}");
        assert!(cursor >= before - HOST_CLOCK_MARGIN_S - 5, "{cursor} vs {before}");
    }
}
