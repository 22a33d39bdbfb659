//! `zoho-host sweep`: reads every page of an incremental sweep through the component, writes
//! the records as JSON lines, and commits the cursor only after the last page is written.
//!
//! A sliced sweep (`--slices N`) runs its first step alone (it fixes the plan: the sweep's end
//! and each slice's Modified_Time range), then walks the slices concurrently, each to its own
//! last page. Records are written as the component gave them (no JSON tree per record); within
//! a slice they keep the sweep's (Modified_Time, id) order, across slices the order is
//! unspecified. The walker here is shared with `zoho-host sync`.

use crate::runtime::{ActionRef, Runtime};
use anyhow::{anyhow, bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::time::{Duration, Instant};

/// How many times one page waits out `rate-limited` before the sweep gives up.
pub const RATE_LIMIT_WAITS: u32 = 30;
/// How many times a sweep starts over after its plan changed under it.
pub const MAX_RESTARTS: u32 = 3;
/// Zoho's limit on a sliced sweep (and the component's).
pub const MAX_SLICES: u32 = 10;
/// The longest wait between steps an export job's page may ask for.
const MAX_JOB_WAIT_MS: u64 = 60_000;

pub struct SweepRequest<'a> {
    pub record_type: &'a str,
    pub since: Option<&'a str>,
    pub per_page: Option<u32>,
    pub fields: Option<&'a str>,
    /// Modified_Time slices read in parallel, 1 to 10.
    pub slices: u32,
    /// Steps in flight at once (default: one per slice).
    pub concurrency: Option<usize>,
    /// How a first sweep reads: coql (default), bulk (export jobs) or auto.
    pub strategy: Option<&'a str>,
}

impl<'a> SweepRequest<'a> {
    /// A one-slice sweep of `record_type` with the component's defaults.
    pub fn new(record_type: &'a str) -> Self {
        SweepRequest { record_type, since: None, per_page: None, fields: None, slices: 1, concurrency: None, strategy: None }
    }
}

/// What the component reports a step cost: requests sent and Zoho credits spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub calls: u64,
    #[serde(default)]
    pub credits: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.calls = self.calls.saturating_add(other.calls);
        self.credits = self.credits.saturating_add(other.credits);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SweepSummary {
    pub records: usize,
    pub pages: usize,
    /// The committed cursor.
    pub cursor: Value,
    pub slices: u32,
    /// Calls made and credits spent: the sum of the pages' `usage`.
    pub usage: Usage,
    /// Times the sweep started over because its plan changed (records may repeat then).
    pub restarts: u32,
    pub elapsed: Duration,
    /// What the component warned of (a cursor later than the server's clock), with how to
    /// start over; also written to stderr as they came.
    pub warnings: Vec<String>,
}

/// A page as the component wrote it: the records stay text, only the keys read are parsed.
#[derive(Deserialize)]
struct PageText<'a> {
    #[serde(borrow, default)]
    records: Vec<&'a RawValue>,
    #[serde(default)]
    more_records: bool,
    #[serde(default)]
    usage: Usage,
    #[serde(default)]
    warnings: Vec<String>,
    /// An export job is still running: come back after this long.
    #[serde(default)]
    retry_after_ms: Option<u64>,
}

/// The records of one step, their text borrowed from the step's result.
pub(crate) struct Page<'a> {
    pub slice: u32,
    pub page: u32,
    pub records: Vec<&'a RawValue>,
    pub more: bool,
    pub usage: Usage,
}

/// Writes one record as a JSON line, as the component gave it. JSON text holds a line break
/// only as whitespace between tokens (never inside a string), so it becomes a space.
pub(crate) fn write_record(out: &mut dyn Write, record: &RawValue) -> std::io::Result<()> {
    let text = record.get().as_bytes();
    if text.contains(&b'\n') || text.contains(&b'\r') {
        let flat: Vec<u8> = text.iter().map(|b| if *b == b'\n' || *b == b'\r' { b' ' } else { *b }).collect();
        out.write_all(&flat)?;
    } else {
        out.write_all(text)?;
    }
    out.write_all(b"\n")
}

/// Where a walk's pages go.
pub(crate) trait Pages {
    /// Writes a page; once this returns, the page counts as delivered.
    fn write(&self, page: &Page<'_>) -> Result<()>;
    /// The sweep's plan changed: it starts over from its first step.
    fn restart(&self) -> Result<()>;
}

/// A step's task, stopped when the walk that waits for it is dropped (another slice failed).
struct Task<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A step that found the sweep's plan changed (another worker planned it anew).
#[derive(Debug)]
struct PlanConflict(String);

impl std::fmt::Display for PlanConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the sweep's plan changed: {}", self.0)
    }
}

impl std::error::Error for PlanConflict {}

/// One sweep's steps: which action, its input apart from the page and slice, and the gate
/// every step passes (the connection's cap on steps in flight). Each step runs as a task of
/// its own, so the slices' component work spreads over the host's threads.
pub(crate) struct Walk<'a> {
    pub runtime: &'static Runtime,
    pub connection: &'a Value,
    pub namespace: Option<&'a str>,
    pub action: ActionRef,
    pub input: Value,
    pub slices: u32,
    pub gate: &'a tokio::sync::Semaphore,
    pub label: String,
    pub bar: &'a ProgressBar,
    /// How this command starts the walk over (said after a warning about its cursor).
    pub start_over: String,
}

/// What a walk delivered.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    pub records: Cell<usize>,
    pub pages: Cell<usize>,
    pub usage: Cell<Usage>,
    pub restarts: Cell<u32>,
    /// The component's warnings, each once, with the walk's way to start over.
    pub warnings: RefCell<Vec<String>>,
}

impl Walk<'_> {
    /// One step's result text, waiting out `rate-limited` answers.
    async fn step(&self, slice: u32, page: u32) -> Result<String> {
        let mut input = self.input.clone();
        input["page"] = json!(page);
        if self.slices > 1 {
            input["slice"] = json!(slice);
            input["slices"] = json!(self.slices);
        }
        let mut waits = 0;
        loop {
            let outcome = {
                let _permit = self.gate.acquire().await?;
                let (runtime, action, connection, input, namespace) = (self.runtime, self.action.clone(), self.connection.clone(), input.clone(), self.namespace.map(str::to_string));
                let mut task = Task(tokio::spawn(async move { runtime.run_text(&action, &connection, &input, None, namespace.as_deref()).await }));
                (&mut task.0).await.map_err(|e| anyhow!("{}: a step of slice {slice} stopped: {e}", self.label))??
            };
            match outcome.result {
                Ok(text) => return Ok(text),
                Err(error) if error["kind"] == "rate-limited" && waits < RATE_LIMIT_WAITS => {
                    waits += 1;
                    let ms = error["retry-after-ms"].as_u64().unwrap_or(1_000).clamp(50, 60_000);
                    self.bar.set_message(format!("{}: slice {slice} rate-limited, waiting {ms} ms", self.label));
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                Err(error) if error["kind"] == "conflict" => return Err(PlanConflict(error["message"].as_str().unwrap_or("conflict").to_string()).into()),
                Err(error) => bail!("{}: slice {slice} page {page} failed, nothing committed: {error}", self.label),
            }
        }
    }

    /// Reads page `page` of `slice` and writes it; answers whether the slice has more.
    async fn page(&self, slice: u32, page: u32, pages: &dyn Pages, walked: &Walked, started: Instant) -> Result<bool> {
        let text = self.step(slice, page).await?;
        let parsed: PageText<'_> = serde_json::from_str(&text).map_err(|e| anyhow!("{}: slice {slice} page {page} is not a sweep page: {e}", self.label))?;
        self.warn(&parsed.warnings, walked);
        let page = Page { slice, page, records: parsed.records, more: parsed.more_records, usage: parsed.usage };
        pages.write(&page)?;
        walked.records.set(walked.records.get().saturating_add(page.records.len()));
        walked.pages.set(walked.pages.get().saturating_add(1));
        let mut usage = walked.usage.get();
        usage.add(page.usage);
        walked.usage.set(usage);
        let records = walked.records.get();
        let rate = records as f64 / started.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!("{}: {records} records, {} pages, {rate:.0} records/s, {} calls, {} credits", self.label, walked.pages.get(), usage.calls, usage.credits));
        self.bar.tick();
        if let (Some(ms), true) = (parsed.retry_after_ms, page.more) {
            // A step never blocks on Zoho's export job: the host waits as the page asks.
            let ms = ms.min(MAX_JOB_WAIT_MS);
            self.bar.set_message(format!("{}: waiting {ms} ms for Zoho's export job", self.label));
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Ok(page.more)
    }

    /// Says each new warning of the component on stderr, never silently, with how to start over.
    fn warn(&self, warnings: &[String], walked: &Walked) {
        let mut said = walked.warnings.borrow_mut();
        for warning in warnings {
            let text = format!("{}: {warning}: {}", self.label, self.start_over);
            if !said.contains(&text) {
                self.bar.suspend(|| eprintln!("warning: {text}"));
                said.push(text);
            }
        }
    }

    /// One slice from `page` to its last page.
    async fn slice(&self, slice: u32, mut page: u32, pages: &dyn Pages, walked: &Walked, started: Instant) -> Result<()> {
        while self.page(slice, page, pages, walked, started).await? {
            page = page.checked_add(1).ok_or_else(|| anyhow!("{}: slice {slice} ran past page {}", self.label, u32::MAX))?;
        }
        Ok(())
    }

    /// Walks every slice to its end. `resume` gives each slice's next page (`None`: the slice
    /// ended); without it the sweep starts with its plan-fixing first step. A plan conflict
    /// starts the sweep over (up to [`MAX_RESTARTS`] times).
    pub async fn run(&self, mut resume: Option<Vec<Option<u32>>>, pages: &dyn Pages, walked: &Walked) -> Result<()> {
        let started = Instant::now();
        loop {
            let outcome = async {
                let next = match resume.take() {
                    Some(next) => next,
                    None => {
                        // The first step alone: it fixes the plan the other slices read.
                        let more = self.page(1, 1, pages, walked, started).await?;
                        (1..=self.slices).map(|s| if s == 1 { more.then_some(2) } else { Some(1) }).collect()
                    }
                };
                let walks = next.iter().enumerate().filter_map(|(i, page)| {
                    let slice = u32::try_from(i).ok()?.checked_add(1)?;
                    page.map(|page| self.slice(slice, page, pages, walked, started))
                });
                futures_util::future::try_join_all(walks).await.map(|_| ())
            }
            .await;
            match outcome {
                Err(error) if error.is::<PlanConflict>() && walked.restarts.get() < MAX_RESTARTS => {
                    walked.restarts.set(walked.restarts.get().saturating_add(1));
                    self.bar.set_message(format!("{}: {error}; starting over", self.label));
                    pages.restart()?;
                }
                other => return other,
            }
        }
    }
}

/// Pages of a sweep written to one output, in the order they arrive.
struct Output<'w> {
    out: RefCell<&'w mut dyn Write>,
}

impl Pages for Output<'_> {
    fn write(&self, page: &Page<'_>) -> Result<()> {
        let mut out = self.out.borrow_mut();
        for record in &page.records {
            write_record(&mut **out, record)?;
        }
        Ok(())
    }

    /// What was written stays written (at-least-once): the new plan reads it again.
    fn restart(&self) -> Result<()> {
        Ok(())
    }
}

pub(crate) fn check_slices(slices: u32) -> Result<()> {
    if !(1..=MAX_SLICES).contains(&slices) {
        bail!("--slices {slices} is out of range: 1 to {MAX_SLICES}");
    }
    Ok(())
}

/// Runs one sweep to its end, then commits. A failed page stops the sweep uncommitted: the
/// next run reads the same range again (at-least-once, nothing lost).
pub async fn run(runtime: &'static Runtime, connection: &Value, namespace: Option<&str>, request: &SweepRequest<'_>, out: &mut dyn Write) -> Result<SweepSummary> {
    check_slices(request.slices)?;
    let commit = ActionRef::from_key("incremental-update-last-successful-run-date")?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    let started = Instant::now();
    let mut input = json!({ "record-type": request.record_type });
    if let Some(since) = request.since {
        input["since"] = json!(since);
    }
    if let Some(per_page) = request.per_page {
        input["per-page"] = json!(per_page);
    }
    if let Some(fields) = request.fields {
        input["fields"] = json!(fields);
    }
    if let Some(strategy) = request.strategy {
        input["strategy"] = json!(strategy);
    }
    let gate = tokio::sync::Semaphore::new(request.concurrency.unwrap_or(request.slices as usize).max(1));
    let walk = Walk {
        runtime,
        connection,
        namespace,
        action: ActionRef::from_key("incremental-list-modified-records-by-page")?,
        input,
        slices: request.slices,
        gate: &gate,
        label: request.record_type.to_string(),
        bar: &bar,
        start_over: format!("run `zoho-host sweep {} --since <date>` to read from a date", request.record_type),
    };
    let walked = Walked::default();
    let output = Output { out: RefCell::new(out) };
    walk.run(None, &output, &walked).await?;
    let out = output.out.into_inner();
    out.flush()?;
    let outcome = runtime.run(&commit, connection, &json!({ "record-type": request.record_type }), None, namespace).await?;
    let committed = match outcome.result {
        Ok(value) => value,
        Err(error) => bail!("the sweep was read but its commit failed: {error}"),
    };
    bar.finish_and_clear();
    Ok(SweepSummary {
        records: walked.records.get(),
        pages: walked.pages.get(),
        cursor: committed["cursor"].clone(),
        slices: request.slices,
        usage: walked.usage.get(),
        restarts: walked.restarts.get(),
        elapsed: started.elapsed(),
        warnings: walked.warnings.into_inner(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record is written as its text; line breaks between tokens (the only place valid JSON
    /// has them) become spaces, so one record stays one line and means the same.
    #[test]
    fn records_are_written_as_given_one_per_line() {
        let cases = [r#"{"id":"1","A":"ä\n\"x\""}"#, "{\n  \"id\": \"2\",\r\n  \"B\": [1,\n2]\n}", r#"{"id":"3","C":"\u2028"}"#];
        for text in cases {
            let raw: Box<RawValue> = serde_json::from_str(text).expect("valid");
            let mut out = Vec::new();
            write_record(&mut out, &raw).expect("written");
            let line = String::from_utf8(out).expect("utf-8");
            assert_eq!(line.matches('\n').count(), 1, "{line:?}");
            assert!(line.ends_with('\n'));
            let (again, original): (Value, Value) = (serde_json::from_str(&line).expect("reparses"), serde_json::from_str(text).expect("valid"));
            assert_eq!(again, original);
            if !text.contains('\n') {
                assert_eq!(line.trim_end_matches('\n'), text, "untouched");
            }
        }
    }

    #[test]
    fn page_texts_read_records_more_and_usage_and_ignore_the_rest() {
        let text = r#"{"record_type":"X","records":[{"id":"1"},{"id":"2"}],"more_records":true,"usage":{"calls":3,"credits":7},"slice":{"n":2,"of":4}}"#;
        let page: PageText<'_> = serde_json::from_str(text).expect("page");
        assert_eq!((page.records.len(), page.more_records, page.usage), (2, true, Usage { calls: 3, credits: 7 }));
        let bare: PageText<'_> = serde_json::from_str(r#"{"records":[]}"#).expect("page");
        assert_eq!((bare.records.len(), bare.more_records, bare.usage), (0, false, Usage::default()));
        assert!(serde_json::from_str::<PageText<'_>>(r#"{"records":{}}"#).is_err());
        let mut sum = Usage { calls: u64::MAX, credits: 1 };
        sum.add(Usage { calls: 1, credits: 1 });
        assert_eq!(sum, Usage { calls: u64::MAX, credits: 2 }, "saturates");
    }

    #[test]
    fn slices_are_checked_before_anything_runs() {
        assert!(check_slices(0).is_err() && check_slices(11).is_err());
        assert!(check_slices(1).is_ok() && check_slices(10).is_ok());
    }
}
