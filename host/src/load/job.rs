//! One job of a load, step by step through the component's bulk write actions: upload the
//! range's records (the component builds the zipped CSV), create the job, poll its status, read
//! its result, write every line's outcome. Each step's result is in the state file before the
//! next step is sent.
//!
//! The window that matters: between asking Zoho for the job (`bulk-write-create`) and keeping its
//! id, Zoho may have made the job while the host never learns its id (a kill, a lost answer).
//! Zoho offers no way to find it again: the Bulk Write API has create, get one job by id and the
//! result download, and no list of jobs (`bulk_write.json`: `POST /crm/bulk/v8/write`,
//! `GET /crm/bulk/v8/write/{job_id}`, `GET /{download_url}`); only a callback URL would have told.
//! So the state says `creating` before the request, and a rerun that finds `creating`:
//! - for `update`, and for `upsert` when every record carries its find-by value (the record id
//!   by default), asks again: writing the same values to the same records twice leaves them as
//!   one write would (found by the key, never created twice);
//! - for `insert` (or an upsert with records Zoho could not find by their key) refuses: a second
//!   job would create every record again if the first was made. `--uncertain recreate` asks again
//!   after the user checked in Zoho CRM that the records are not there;
//!   `--uncertain skip` reports the range's records `unknown` instead.

use super::input::{self, Line};
use super::outcomes::{lines_of, Outcomes, RowOutcome, Whole};
use super::state::{State, Step};
use super::{LoadRequest, Mode, Uncertain};
use crate::runtime::{ActionRef, Runtime};
use crate::sweep::Usage;
use anyhow::{anyhow, bail, Result};
use indicatif::ProgressBar;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Credits by Zoho's table (v8 "API Limits", https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html):
/// "Bulk Write Initialize: 500"; every other call of a job (the upload, a status, a result
/// download) is one of "All other APIs: 1".
pub const CREATE_CREDITS: u64 = 500;
pub const OTHER_CREDITS: u64 = 1;
/// A result page reads the job (for its download URL: one CRM call), then downloads the result
/// from Zoho's download host, which is no CRM API call and costs no credits.
const RESULT_CALLS: u64 = 1;
/// How many times one call waits out `rate-limited` before the load stops.
const RATE_LIMIT_WAITS: u32 = 30;
/// How many times a status poll is tried again after a transport failure or a 5xx.
const POLL_RETRIES: u32 = 5;

/// The shared parts of every job of one load.
pub(super) struct Jobs<'a> {
    pub runtime: &'a Runtime,
    pub connection: &'a Value,
    pub namespace: Option<&'a str>,
    pub request: &'a LoadRequest<'a>,
    pub state: &'a State,
    pub outcomes: &'a Outcomes,
    pub bar: &'a ProgressBar,
}

/// Whether an error leaves it open if Zoho acted: no answer (transport, timeout), a 5xx, or the
/// host's own failure. A 4xx, or the component's refusal before sending, means nothing was made.
fn uncertain(error: &Value) -> bool {
    match error["status"].as_u64() {
        Some(status) => status >= 500,
        None => !matches!(error["kind"].as_str(), Some("invalid-input" | "unauthorized" | "forbidden" | "not-found" | "conflict" | "credits-exhausted")),
    }
}

/// Whether a status error is Zoho's verdict on the job, not a failed poll: `bulk-write-status`
/// answers a FAILED job as a `zoho` error of Zoho's 200 answer, the job's body as its details.
fn job_failed(error: &Value) -> bool {
    error["kind"] == "zoho" && error["status"] == 200 && matches!(error["details"]["status"].as_str(), Some("FAILED" | "FAILURE"))
}

impl Jobs<'_> {
    /// Runs one action, waiting out `rate-limited`; counts its calls and credits: the action's
    /// own `usage` when it reports one, else `calls` calls of 1 credit, or `CREATE_CREDITS` for a
    /// create (Zoho charges the job, not the call).
    async fn call(&self, key: &str, input: &Value, calls: u64) -> Result<std::result::Result<Value, Value>> {
        let credits = if key == "bulk-write-create" { CREATE_CREDITS } else { calls.saturating_mul(OTHER_CREDITS) };
        let action = ActionRef::from_key(key)?;
        let mut waits = 0;
        loop {
            let outcome = self.runtime.run(&action, self.connection, input, None, self.namespace).await?;
            let usage = outcome.result.as_ref().ok().and_then(|v| serde_json::from_value::<Usage>(v.get("usage")?.clone()).ok());
            // A call Zoho turned away for the rate is not charged.
            let limited = outcome.result.as_ref().err().is_some_and(|e| e["kind"] == "rate-limited");
            self.state.count(usage.unwrap_or(Usage { calls, credits: if limited { 0 } else { credits } }))?;
            match outcome.result {
                Err(error) if error["kind"] == "rate-limited" && waits < RATE_LIMIT_WAITS => {
                    waits += 1;
                    let ms = error["retry-after-ms"].as_u64().unwrap_or(1_000).clamp(50, 60_000);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                other => return Ok(other),
            }
        }
    }

    /// Brings job `index` to `done`, from whatever step the state left it at.
    pub async fn run(&self, index: usize) -> Result<()> {
        let chunk = self.state.chunk(index)?;
        if chunk.step == Step::Done {
            return Ok(());
        }
        let lines = input::read(&self.request.input, &chunk.range)?;
        let label = format!("lines {}-{}", chunk.range.first_line, chunk.range.first_line + chunk.range.lines.saturating_sub(1));
        if chunk.range.records == 0 {
            return self.finish(index, &lines, &Whole::Rows(Vec::new()), &label);
        }
        loop {
            let chunk = self.state.chunk(index)?;
            match chunk.step {
                Step::Planned => self.upload(index, &lines, &label).await?,
                Step::Uploaded => self.create(index, chunk.file_id.as_deref().unwrap_or_default(), chunk.columns.as_deref(), &label).await?,
                Step::Creating => match self.uncertain_job(&lines, &label)? {
                    Some(whole) => return self.finish(index, &lines, &whole, &label),
                    // Uploaded again: a file of a job that may have been made is not reused.
                    None => self.state.update(index, |s, i| s.chunks[i].step = Step::Planned)?,
                },
                Step::Created => {
                    let job = chunk.job_id.clone().ok_or_else(|| anyhow!("{label}: the state has a created job without its id"))?;
                    let whole = self.outcome(&job, chunk.range.records, &label).await?;
                    return self.finish(index, &lines, &whole, &label);
                }
                Step::Done => return Ok(()),
            }
        }
    }

    async fn upload(&self, index: usize, lines: &[Line], label: &str) -> Result<()> {
        self.bar.set_message(format!("{label}: uploading"));
        let input = json!({ "record-type": self.request.module, "records": input::records_text(lines) });
        let uploaded = match self.call("bulk-write-upload", &input, 1).await? {
            Ok(value) => value,
            Err(error) => bail!("{label}: the upload failed, no job was made: {error}"),
        };
        let file_id = uploaded["file_id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("{label}: the upload answered no file_id: {uploaded}"))?;
        let columns: Option<Vec<String>> = serde_json::from_value(uploaded["columns"].clone()).ok();
        self.state.update(index, |s, i| {
            s.chunks[i].file_id = Some(file_id);
            s.chunks[i].columns = columns;
            s.chunks[i].step = Step::Uploaded;
        })
    }

    async fn create(&self, index: usize, file_id: &str, columns: Option<&[String]>, label: &str) -> Result<()> {
        self.bar.set_message(format!("{label}: creating the job"));
        let mut input = json!({ "record-type": self.request.module, "file-id": file_id, "operation": self.request.mode.as_str() });
        // Zoho's update and upsert find records by a unique field or the id (Create Bulk Write Job: `find_by`).
        if self.request.mode != Mode::Insert {
            input["find-by"] = json!(self.request.find_by.unwrap_or("id"));
        }
        if let Some(columns) = columns {
            input["columns"] = json!(columns);
        }
        // Written first: a stop from here until the job's id is kept leaves `creating`.
        self.state.update(index, |s, i| {
            s.chunks[i].step = Step::Creating;
            s.chunks[i].creates = s.chunks[i].creates.saturating_add(1);
        })?;
        match self.call("bulk-write-create", &input, 1).await? {
            Ok(created) => {
                let job = created["id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("{label}: the job was made but its answer has no id: {created}"))?;
                self.state.update(index, |s, i| {
                    s.chunks[i].job_id = Some(job);
                    s.chunks[i].step = Step::Created;
                    s.jobs_created = s.jobs_created.saturating_add(1);
                })
            }
            Err(error) if !uncertain(&error) => {
                // Zoho refused: no job was made, the range is back to its uploaded file.
                self.state.update(index, |s, i| s.chunks[i].step = Step::Uploaded)?;
                bail!("{label}: Zoho refused the job: {error}")
            }
            Err(error) => bail!("{label}: asking for the job failed without a clear answer ({error}); a rerun decides what to do with it, see --uncertain"),
        }
    }

    /// A rerun found the job being asked for: asks again when that is safe (answers `None`),
    /// reports the records `unknown` when told to, else refuses.
    fn uncertain_job(&self, lines: &[Line], label: &str) -> Result<Option<Whole>> {
        let key = self.request.find_by.unwrap_or("id");
        let keyed = lines.iter().all(|line| match line {
            Line::Record { record, .. } => record.get(key).is_some_and(|v| !v.is_null() && v != ""),
            Line::Invalid { .. } => true,
        });
        let idempotent = match self.request.mode {
            Mode::Insert => false,
            Mode::Update | Mode::Upsert => keyed,
        };
        match self.request.uncertain {
            Some(Uncertain::Skip) => Ok(Some(Whole::All {
                status: "unknown",
                error: json!("the run that sent this record's job stopped before Zoho's answer: check in Zoho CRM whether it was written"),
            })),
            Some(Uncertain::Recreate) => Ok(None),
            None if idempotent => Ok(None),
            None => bail!(
                "{label}: an earlier run asked Zoho for this job and stopped before the answer, so Zoho may have made it; Zoho lists no bulk write jobs to check, and a second {} job would write these records twice. Check in Zoho CRM whether they are there (search a field of the first record), then rerun with --uncertain recreate (it was not made) or --uncertain skip (it was: the records are reported unknown)",
                self.request.mode.as_str()
            ),
        }
    }

    /// Polls the job to its end, with a growing wait, then reads its result.
    async fn outcome(&self, job: &str, records: u64, label: &str) -> Result<Whole> {
        let started = Instant::now();
        let mut wait = self.request.poll.first;
        let mut retries = 0;
        loop {
            match self.call("bulk-write-status", &json!({ "job-id": job }), 1).await? {
                Ok(status) if status["status"] == "COMPLETED" && status["result_ready"] != false => return self.result(job, records, label).await,
                Ok(status) => self.bar.set_message(format!("{label}: job {job} {}", status["status"].as_str().unwrap_or("?"))),
                Err(error) if job_failed(&error) => return Ok(Whole::All { status: "failed", error }),
                Err(error) if uncertain(&error) && retries < POLL_RETRIES => retries += 1,
                Err(error) => bail!("{label}: job {job}'s status could not be read: {error}; a rerun polls it again"),
            }
            if started.elapsed() > self.request.poll.give_up {
                bail!("{label}: job {job} did not finish in {} s; a rerun polls it again (never makes it again)", self.request.poll.give_up.as_secs());
            }
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2).min(self.request.poll.most);
        }
    }

    /// Reads every page of the job's result into per-row outcomes.
    async fn result(&self, job: &str, records: u64, label: &str) -> Result<Whole> {
        let mut rows: Vec<Option<RowOutcome>> = vec![None; usize::try_from(records)?];
        let mut offset = 0u64;
        loop {
            // A page of 25,000 (the action's most): one download of the result per job.
            let page = match self.call("bulk-write-result", &json!({ "job-id": job, "offset": offset, "limit": input::MAX_RECORDS }), RESULT_CALLS).await? {
                Ok(page) => page,
                Err(error) => bail!("{label}: job {job}'s result could not be read: {error}; a rerun reads it again"),
            };
            for outcome in page["outcomes"].as_array().map(Vec::as_slice).unwrap_or_default() {
                let Some(slot) = outcome["row"].as_u64().and_then(|r| usize::try_from(r).ok()).and_then(|r| rows.get_mut(r)) else { continue };
                if slot.is_none() {
                    let error = match &outcome["errors"] {
                        Value::Array(errors) if errors.is_empty() => Value::Null,
                        Value::String(text) if text.is_empty() => Value::Null,
                        other => other.clone(),
                    };
                    let status = outcome["status"].as_str().unwrap_or("unknown").to_ascii_lowercase();
                    *slot = Some(RowOutcome { status, id: outcome["id"].as_str().filter(|id| !id.is_empty()).map(str::to_string), error });
                }
            }
            // Every row has its outcome: a page past the last would find none.
            if rows.iter().all(Option::is_some) {
                return Ok(Whole::Rows(rows));
            }
            match page["next_offset"].as_u64() {
                Some(next) if page["more"] == true && next > offset => offset = next,
                _ => return Ok(Whole::Rows(rows)),
            }
        }
    }

    /// Writes the job's outcome lines and records it done, the file held throughout: the state's
    /// length of the file always ends at a job's last line.
    fn finish(&self, index: usize, lines: &[Line], whole: &Whole, label: &str) -> Result<()> {
        let (bytes, statuses) = lines_of(lines, whole);
        let mut file = self.outcomes.lock()?;
        let length = Outcomes::append(&mut file, &bytes)?;
        self.state.update(index, |s, i| {
            s.chunks[i].step = Step::Done;
            s.chunks[i].statuses = statuses;
            s.outcome_bytes = length;
        })?;
        drop(file);
        self.bar.inc(lines.len() as u64);
        self.bar.set_message(format!("{label}: done"));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4xx or a refusal before sending made nothing; no answer, a 5xx or the host's failure may have.
    #[test]
    fn what_leaves_a_job_uncertain() {
        assert!(!uncertain(&json!({ "kind": "zoho", "status": 400, "code": "INVALID_DATA" })));
        assert!(!uncertain(&json!({ "kind": "invalid-input", "status": null })));
        assert!(uncertain(&json!({ "kind": "zoho", "status": 500 })));
        assert!(uncertain(&json!({ "kind": "transport", "status": null })));
        assert!(uncertain(&json!({ "kind": "timeout" })));
        let failed = json!({ "kind": "zoho", "status": 200, "code": "INVALID_DATA", "details": { "status": "FAILED", "id": "111" } });
        assert!(job_failed(&failed));
        assert!(!job_failed(&json!({ "kind": "zoho", "status": 200, "message": "its job is in status \"PAUSED\"", "details": null })));
        assert!(!job_failed(&json!({ "kind": "zoho", "status": 500, "details": { "status": "FAILED" } })));
        assert!(!job_failed(&json!({ "kind": "transport", "message": "connection reset" })));
    }
}
