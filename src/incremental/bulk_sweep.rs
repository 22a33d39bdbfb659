//! A first sweep read through Zoho's export (bulk read) jobs instead of COQL pages: the
//! backfill strategy `bulk` (and `auto` past [`AUTO_THRESHOLD`] records).
//!
//! Why: a job exports up to 200,000 records for 50 credits ("Bulk Read Initialize 50" in Zoho's
//! v8 "API Limits" table), where COQL pages cost 1 to 3 credits per 200 to 2,000 records
//! (Zoho's "Query API - An Overview"): a million records are about 1,500 credits through COQL
//! and about 300 through five jobs.
//!
//! How, with the COQL sweep's guarantee (at-least-once, no gaps):
//! - The first step counts the records in range (`plan::count`, one request) and takes the
//!   sweep's bound from that answer's `Date`, exactly as a sliced COQL sweep's plan does: the
//!   bound `until` is Zoho's clock, the cursor the commit sets is that clock less the request's
//!   duration less a second. Then it creates a job whose criteria are `Modified_Time >= since`
//!   and `Modified_Time <= until`. A record modified while the job runs has a Modified_Time
//!   past the bound (or at its second, inside the next sweep's range from the cursor): the
//!   export may or may not hold it, and the next sweep, a COQL sweep from the cursor, does.
//! - Steps never block: while the job is ADDED or IN PROGRESS a step sends one status request
//!   and answers no records, `more_records: true` and `retry_after_ms`; the host waits that long.
//! - A completed job's result is read [`PAGE_RECORDS`] records a step (the ZIP is downloaded
//!   again from its start each step: Zoho serves it only whole); past its end, when Zoho says
//!   `more_records`, the next step creates the next job with the result's `page_token`.
//! - Job id, page token and result offset live in the open sweep (key-value storage), with the
//!   position each served page began at: a host restarted between steps resumes the same job,
//!   and a page asked again is served again from the same position (no second job).
//! - A job still not COMPLETED [`MAX_JOB_WAIT_S`] after Zoho created it (by Zoho's clock: its
//!   `created_time` and the status answer's `Date`) is a `timeout` error; a FAILURE job is a
//!   `zoho` error with Zoho's reason. Either way the job is dropped from the state, so the next
//!   step creates a new one for the same part of the export.
//! - The commit is the COQL sweep's commit: the cursor is set to the bound's, and later sweeps
//!   are COQL sweeps from it.
//!
//! Records come as `bulk-read-result-page` types them (numbers, booleans, lookups as `{"id"}`,
//! multi-select picklists as lists, empty cells as null); their keys are the CSV's columns (`id`
//! and the fields asked for). Unlike COQL pages: a lookup is `{"id"}` alone (COQL may add the
//! related record's name), and date-times are as Zoho writes them in the CSV.

use super::plan;
use super::read_by::ReadBy;
use super::state::{forget, load, save, sweep_key, Cursor, Sweep};
use super::sweep_page::Asked;
use super::{now_s, SweepInfo, SweepPage, HOST_CLOCK_MARGIN_S};
use crate::bulk::read_job::{self, MAX_FIELDS};
use crate::bulk::result_page;
use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::storage::now_ms;
use crate::wit::bulk::ReadCreateInput;
use crate::zoho_time::{format_iso, parse_iso};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// `auto` exports through jobs past this many records in the sweep's range. Measured with
/// `zoho-host bench backfill` (docs/benchmarks.md): below about 40,000 records COQL pages of
/// 2,000 cost fewer credits than a job (50), its count and its polls, and they finish in
/// seconds where a job waits on Zoho's queue.
pub const AUTO_THRESHOLD: u64 = 50_000;
/// Records one step delivers from a job's result (`bulk-read-result-page`'s largest page).
pub const PAGE_RECORDS: usize = result_page::MAX_LIMIT as usize;
/// How long a job may stay ADDED or IN PROGRESS, by Zoho's clock. Zoho documents no bound; a
/// 200,000-record job takes minutes, so two hours is a job that will not finish.
pub const MAX_JOB_WAIT_S: i64 = 2 * 3600;
/// A bulk sweep opened longer ago is opened again by its first step: Zoho keeps a job's result
/// for a day ("Download Bulk Read Result").
const BULK_SWEEP_TTL_MS: u64 = 24 * 60 * 60 * 1000;
/// The wait a step suggests while a job runs: the job's age (so polls double the wait, and a
/// job is polled about log2 of its duration times: each poll costs a credit), within these bounds.
const MIN_WAIT_MS: u64 = 2_000;
const MAX_WAIT_MS: u64 = 60_000;

/// How a first sweep reads: `coql` pages (the default), export jobs, or jobs past the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Coql,
    Bulk,
    Auto,
}

impl Strategy {
    pub fn parse(text: Option<&str>) -> Result<Strategy> {
        match text.map(str::trim).filter(|t| !t.is_empty()).map(str::to_ascii_lowercase).as_deref() {
            None | Some("coql") => Ok(Strategy::Coql),
            Some("bulk") => Ok(Strategy::Bulk),
            Some("auto") => Ok(Strategy::Auto),
            Some(other) => Err(ZohoError::invalid_input(format!("strategy {other:?} is not a strategy: use coql, bulk or auto"))),
        }
    }
}

/// Where the export stands: the job being read and how far.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The job reading this part of the export (none: the next step creates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// When Zoho created it (its `created_time`, seconds), for [`MAX_JOB_WAIT_S`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// The `page_token` the job was created with (none: the export's first job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Whether the job completed; then `offset` records of its result were delivered.
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub offset: u64,
    /// The completed job's `next_page_token` when Zoho said `more_records`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A bulk sweep's state, kept in its open sweep.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkState {
    pub at: Position,
    /// Where the last served page began: asked again, it is served again from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_from: Option<Position>,
    /// Jobs created for this sweep.
    #[serde(default)]
    pub jobs: u32,
    /// Records the first step counted in the sweep's range.
    #[serde(default)]
    pub counted: u64,
    /// Records the last served page delivered: a page that delivered none is not replayed
    /// (asked again, it goes on from where the export stands, never creating a second job).
    #[serde(default)]
    pub served_records: u64,
}

fn signature(asked: &Asked) -> String {
    format!("{}|bulk", asked.signature)
}

/// The open bulk sweep this step reads, or `None` when the step is a COQL sweep's: a sweep
/// with a committed cursor is COQL's; an open sweep continues as it was opened; a first step
/// with no open bulk sweep opens one for `bulk`, and for `auto` when the range holds more than
/// [`AUTO_THRESHOLD`] records and the module can be exported.
pub(super) fn route(client: &Client, asked: &Asked, strategy: Strategy, cursor: Option<&Cursor>) -> Result<Option<Sweep>> {
    if strategy == Strategy::Coql {
        return Ok(None);
    }
    let open: Option<Sweep> = load::<Sweep>(client, &sweep_key(&asked.scope))?.filter(|s| !s.sweep.is_empty());
    let bulk_open = open.as_ref().filter(|s| s.bulk.is_some() && s.signature == signature(asked) && !(asked.first_step && now_ms().saturating_sub(s.opened_at_ms) > BULK_SWEEP_TTL_MS));
    if let Some(sweep) = bulk_open {
        return Ok(Some(sweep.clone()));
    }
    if !asked.first_step || cursor.is_some_and(|c| c.cursor.is_some()) {
        return Ok(None);
    }
    let refusal = exportable(asked);
    if strategy == Strategy::Auto && refusal.is_some() {
        return Ok(None);
    }
    if let Some(why) = refusal {
        return Err(ZohoError::invalid_input(why));
    }
    let started = std::time::Instant::now();
    let (counted, response) = plan::count(client, &asked.module, asked.since.as_deref().or(asked.anchor.as_deref()))?;
    if strategy == Strategy::Auto && counted <= AUTO_THRESHOLD {
        return Ok(None);
    }
    let took_s = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX).saturating_add(1);
    // The bound as a sliced sweep's plan takes it: Zoho's clock at the count's answer.
    let (date, margin) = match response.header("date").and_then(crate::zoho_time::parse_http_date) {
        Some(date) => (date, 0),
        None => (now_s(), HOST_CLOCK_MARGIN_S),
    };
    if let Some(old) = &open {
        forget(client, &asked.scope, old)?;
    }
    let sweep = Sweep {
        signature: signature(asked),
        since: asked.since.clone().or_else(|| asked.anchor.clone()),
        opened_at_ms: now_ms(),
        sweep: format!("{:x}", now_ms()),
        until: Some(format_iso(date)),
        cursor: Some(format_iso(date.saturating_sub(took_s).saturating_sub(1).saturating_sub(margin))),
        bulk: Some(BulkState { counted, ..BulkState::default() }),
        ..Sweep::default()
    };
    save(client, &sweep_key(&asked.scope), &sweep)?;
    Ok(Some(sweep))
}

/// Why the sweep cannot be exported by jobs, if it cannot.
fn exportable(asked: &Asked) -> Option<String> {
    let module = &asked.module;
    if asked.read_by != ReadBy::Coql || read_job::create_body(&job_input(asked, None)).is_err() {
        return Some(format!(
            "strategy bulk: {module} cannot be exported by a bulk read job (Zoho's bulk read limitations; not Notes, Attachments, Emails or modules COQL cannot read): use strategy coql or auto"
        ));
    }
    if asked.slices > 1 {
        return Some(format!("strategy bulk reads {module} through export jobs, one walk: pass slices 1 (or none)"));
    }
    if asked.include_deleted {
        return Some("strategy bulk with include-deleted: the export reads no deletions; read the first sweep without include-deleted, then later (COQL) sweeps with it".into());
    }
    if asked.fields.len() > MAX_FIELDS {
        return Some(format!("strategy bulk: {} fields, Zoho exports at most {MAX_FIELDS} a job: name fewer fields or use strategy coql", asked.fields.len()));
    }
    None
}

/// The job of this sweep: its fields (the CSV always holds `Id`) and `since ≤ Modified_Time ≤ until`.
fn job_input(asked: &Asked, sweep: Option<&Sweep>) -> ReadCreateInput {
    let fields: Vec<String> = asked.fields.iter().filter(|f| *f != "id").cloned().collect();
    let condition = |comparator: &str, value: &str| json!({ "api_name": "Modified_Time", "comparator": comparator, "value": value });
    let mut conditions: Vec<Value> = Vec::new();
    if let Some(since) = sweep.and_then(|s| s.since.as_deref()) {
        conditions.push(condition("greater_equal", since));
    }
    if let Some(until) = sweep.and_then(|s| s.until.as_deref()) {
        conditions.push(condition("less_equal", until));
    }
    let criteria = match conditions.len() {
        0 => None,
        1 => conditions.pop().map(|c| c.to_string()),
        _ => Some(json!({ "group_operator": "and", "group": conditions }).to_string()),
    };
    ReadCreateInput { record_type: asked.module.clone(), fields: Some(fields), criteria, cvid: None, page: None, page_token: None, callback_url: None }
}

/// What one step did: records delivered, whether more follows, the wait it suggests, the job.
struct Served {
    records: Vec<String>,
    more: bool,
    retry_after_ms: Option<u64>,
    state: &'static str,
}

/// One step of an open bulk sweep: the page asked, served from where it began.
pub(super) fn step(client: &Client, asked: &Asked, mut sweep: Sweep, asked_page: Option<u32>) -> Result<SweepPage> {
    let mut bulk = sweep.bulk.clone().unwrap_or_default();
    let page = asked_page.map_or(sweep.served.saturating_add(1), u64::from);
    let served = if sweep.last_page.is_some_and(|last| page > last) {
        Served { records: Vec::new(), more: false, retry_after_ms: None, state: "COMPLETED" }
    } else {
        if page == sweep.served && page > 0 {
            if bulk.served_records > 0 {
                bulk.at = bulk.served_from.clone().unwrap_or_default();
            }
            if sweep.last_page == Some(page) {
                sweep.last_page = None;
            }
        } else if page == sweep.served.saturating_add(1) {
            bulk.served_from = Some(bulk.at.clone());
        } else {
            return Err(ZohoError::invalid_input(format!(
                "page {page}: a sweep read through export jobs is read in order: ask page {} (or page {} again)",
                sweep.served.saturating_add(1),
                sweep.served.max(1)
            )));
        }
        let outcome = serve(client, asked, &sweep, &mut bulk);
        sweep.bulk = Some(bulk.clone());
        let served = match outcome {
            Ok(served) => served,
            Err(error) => {
                // The page was not served: asked again, it starts from where it began, with a
                // new job when this one was dropped.
                save(client, &sweep_key(&asked.scope), &sweep)?;
                return Err(error);
            }
        };
        sweep.served = sweep.served.max(page);
        bulk.served_records = served.records.len() as u64;
        sweep.bulk = Some(bulk.clone());
        if !served.more {
            sweep.last_page = Some(page);
        }
        save(client, &sweep_key(&asked.scope), &sweep)?;
        served
    };
    let records = served
        .records
        .into_iter()
        .map(RawValue::from_string)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ZohoError::new(ErrorKind::Internal, format!("a record of the export is not JSON: {e}")))?;
    let bulk_info = json!({ "job": bulk.at.job, "state": served.state, "jobs": bulk.jobs, "records_counted": bulk.counted, "offset": bulk.at.offset });
    Ok(SweepPage {
        record_type: asked.module.clone(),
        records,
        page,
        per_page: PAGE_RECORDS as u32,
        more_records: served.more,
        next_page: if served.more { page.checked_add(1) } else { None },
        cursor: None,
        sweep: SweepInfo { id: sweep.sweep.clone(), since: sweep.since.clone(), until: sweep.until.clone(), commits_cursor: sweep.cursor.clone(), duplicates_dropped: 0 },
        deleted: None,
        deletions_may_be_missing: None,
        deletions_missing_why: None,
        slice: None,
        usage: client.usage(),
        warnings: Vec::new(),
        stream: None,
        incremental: None,
        organization_id: None,
        strategy: Some("bulk"),
        retry_after_ms: served.retry_after_ms,
        bulk: Some(bulk_info),
    })
}

/// Moves the export on from `bulk.at`: creates the job, polls it, or reads its result.
fn serve(client: &Client, asked: &Asked, sweep: &Sweep, bulk: &mut BulkState) -> Result<Served> {
    let at = &mut bulk.at;
    let Some(job) = at.job.clone() else {
        let mut input = job_input(asked, Some(sweep));
        input.page_token = at.token.clone();
        let created: Value = serde_json::from_str(&read_job::create(client, &input)?).map_err(|e| ZohoError::new(ErrorKind::Internal, format!("cannot read the created job: {e}")))?;
        at.job = created.get("id").and_then(Value::as_str).map(str::to_string);
        at.created = created.get("created_time").and_then(Value::as_str).and_then(parse_iso);
        (at.ready, at.offset, at.next_token) = (false, 0, None);
        bulk.jobs = bulk.jobs.saturating_add(1);
        return Ok(Served { records: Vec::new(), more: true, retry_after_ms: Some(MIN_WAIT_MS), state: "ADDED" });
    };
    if !at.ready {
        let (status, date) = match read_job::status_dated(client, &job) {
            Ok(answer) => answer,
            Err(error) => {
                if error.code.as_deref() == Some("FAILURE") {
                    at.job = None;
                }
                return Err(error);
            }
        };
        if status.get("done") != Some(&Value::Bool(true)) {
            let now = date.unwrap_or_else(now_s);
            // A job Zoho dated after its own clock (or not at all) is aged from the first poll
            // that saw it: a created time in the far future must not keep it polled forever.
            if at.created.is_none_or(|created| created > now) {
                at.created = Some(now);
            }
            let age = now.saturating_sub(at.created.unwrap_or(now));
            if age > MAX_JOB_WAIT_S {
                at.job = None;
                return Err(ZohoError::new(
                    ErrorKind::Timeout,
                    format!(
                        "Zoho's bulk read job {job} of {} is still {} {age} s after Zoho created it (the bound is {MAX_JOB_WAIT_S} s); it is dropped: the next step creates a new job for the same records",
                        asked.module,
                        status.get("state").and_then(Value::as_str).unwrap_or("unfinished")
                    ),
                )
                .with_code("BULK_READ_JOB_NOT_DONE"));
            }
            let wait = u64::try_from(age).unwrap_or(0).saturating_mul(1000);
            let state = if status.get("state").and_then(Value::as_str) == Some("ADDED") { "ADDED" } else { "IN PROGRESS" };
            return Ok(Served { records: Vec::new(), more: true, retry_after_ms: Some(wait.clamp(MIN_WAIT_MS, MAX_WAIT_MS)), state });
        }
        at.ready = true;
        at.offset = 0;
        let result = status.get("result");
        at.next_token = result.filter(|r| r.get("more_records") == Some(&Value::Bool(true))).and_then(|r| r.get("next_page_token")).and_then(Value::as_str).map(str::to_string);
    }
    let page = result_page::read(client, &job, &asked.module, at.offset, PAGE_RECORDS)?;
    at.offset = at.offset.saturating_add(page.records.len() as u64);
    let mut more = !page.ended;
    if page.ended {
        if let Some(token) = at.next_token.take() {
            // The export goes on past this job's 200,000 records: the next step creates its job.
            *at = Position { token: Some(token), ..Position::default() };
            more = true;
        }
    }
    Ok(Served { records: page.records, more, retry_after_ms: None, state: "COMPLETED" })
}

#[cfg(test)]
mod tests;
