//! `zoho-host load`: writes a JSON-lines file of records into a CRM module through Zoho's Bulk
//! Write API (the component's `bulk-write-*` actions), one job per ≤ 25,000 records and ≤ 25 MB,
//! a few jobs at once, and writes one outcome line per input line. Resumable: the state file
//! beside the out file keeps each job's step, so a rerun of the same command sends no finished
//! job again, polls a created job instead of making another, and refuses another input.
//!
//! Credits (v8 "API Limits", https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html):
//! a bulk write job costs 500 credits ("Bulk Write Initialize") and its few other calls 1 each;
//! the records API costs 1 credit per 10 records ("Insert/Update/Upsert: 1 credit for every 10
//! records", 100 records a call). 100,000 records: 4 jobs, about 2,000 credits, against 1,000
//! calls and 10,000 credits. Below 5,000 records the records API is cheaper (Kaizen #103, "Bulk
//! Write API ... consumes 500 credits per job, while the Insert, Update, and Upsert records API
//! consumes 1 credit per 10 records").

pub mod input;
mod job;
mod outcomes;
pub mod state;

use crate::runtime::Runtime;
use crate::sweep::Usage;
use anyhow::{bail, Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Zoho's bulk write operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Insert,
    Update,
    Upsert,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Insert => "insert",
            Mode::Update => "update",
            Mode::Upsert => "upsert",
        }
    }
}

/// What a rerun does with a job an earlier run was asking for when it stopped (see `job`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Uncertain {
    /// Ask again: the user checked that Zoho did not make it.
    Recreate,
    /// Report its records `unknown` and move on.
    Skip,
}

/// How a job's status is polled: the first wait, doubling up to `most`, and when to give up
/// (the job stays created: a rerun polls it again).
#[derive(Debug, Clone, Copy)]
pub struct Poll {
    pub first: Duration,
    pub most: Duration,
    pub give_up: Duration,
}

impl Default for Poll {
    /// Zoho's jobs take seconds to minutes: 2 s first, at most a minute between polls, six hours in all.
    fn default() -> Self {
        Poll { first: Duration::from_secs(2), most: Duration::from_secs(60), give_up: Duration::from_secs(6 * 3600) }
    }
}

/// Jobs in flight at once by default, and at most. Zoho's pages give no number of bulk write
/// jobs an org may run at once; each call of a job is one of the org's concurrent calls, and the
/// heavy APIs share a sub-concurrency of 10 (v8 "API Limits"), so 10 is the most asked for.
pub const DEFAULT_CONCURRENCY: usize = 3;
pub const MAX_CONCURRENCY: usize = 10;

pub struct LoadRequest<'a> {
    /// The module's API name.
    pub module: &'a str,
    pub input: PathBuf,
    pub out: PathBuf,
    pub mode: Mode,
    pub find_by: Option<&'a str>,
    pub concurrency: usize,
    pub uncertain: Option<Uncertain>,
    pub poll: Poll,
    /// Records per job, at most Zoho's 25,000.
    pub max_records: usize,
}

impl LoadRequest<'_> {
    /// The state file: beside the out file.
    pub fn state_path(&self) -> PathBuf {
        let mut name = self.out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".state.json");
        self.out.with_file_name(name)
    }
}

/// What a load did, across its runs.
#[derive(Debug, Clone, Serialize)]
pub struct LoadSummary {
    pub lines: u64,
    pub records: u64,
    /// Outcome lines by status.
    pub statuses: BTreeMap<String, u64>,
    pub jobs: u64,
    /// Jobs asked for (more than `jobs` only when a rerun asked again for an uncertain one).
    pub jobs_created: u64,
    /// Calls and credits spent by this load's runs, by Zoho's table.
    pub usage: Usage,
    /// What the records API would have cost for the same records: 100 a call, 1 credit per 10.
    pub records_api: Usage,
    /// Whether this run found the load finished already and sent nothing.
    pub finished_earlier: bool,
}

/// The records API's cost for `records` records: calls of 100, each 1 credit per 10 records.
pub fn records_api_cost(records: u64) -> Usage {
    let calls = records.div_ceil(100);
    let credits = (records / 100) * 10 + (records % 100).div_ceil(10);
    Usage { calls, credits }
}

fn summary_of(saved: &state::Saved, finished_earlier: bool) -> LoadSummary {
    let mut statuses = BTreeMap::new();
    for chunk in &saved.chunks {
        for (status, n) in &chunk.statuses {
            *statuses.entry(status.clone()).or_insert(0u64) += n;
        }
    }
    let records = saved.chunks.iter().map(|c| c.range.records).sum();
    LoadSummary {
        lines: saved.identity.lines,
        records,
        statuses,
        jobs: saved.chunks.iter().filter(|c| c.range.records > 0).count() as u64,
        jobs_created: saved.jobs_created,
        usage: saved.usage,
        records_api: records_api_cost(records),
        finished_earlier,
    }
}

/// Takes `<out>.lock` for the run: two runs of one load would send its jobs twice. The OS lock
/// dies with its process, so a killed run leaves none behind.
fn lock(out: &Path) -> Result<std::fs::File> {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    let path = out.with_file_name(name);
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!("{} is in use by another `zoho-host load` (it holds {}): wait for it to end", out.display(), path.display()),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

/// Runs the load to its end (resuming an earlier run of it), up to `concurrency` jobs at once.
/// Stops taking new jobs after a job fails; the jobs in flight finish first.
pub async fn run(runtime: &Runtime, connection: &Value, namespace: Option<&str>, request: &LoadRequest<'_>) -> Result<LoadSummary> {
    if !(1..=MAX_CONCURRENCY).contains(&request.concurrency) {
        bail!("--concurrency {} is out of range: 1 to {MAX_CONCURRENCY}", request.concurrency);
    }
    if request.module.trim().is_empty() {
        bail!("name the module to load into, e.g. `zoho-host load Leads ...`");
    }
    if request.mode == Mode::Insert && request.find_by.is_some() {
        bail!("--find-by applies to --mode update and upsert: an insert finds nothing");
    }
    let digest = input::digest(&request.input)?;
    let _lock = lock(&request.out)?;
    let identity = state::Identity { module: request.module.to_string(), mode: request.mode.as_str().to_string(), find_by: request.find_by.map(str::to_string), digest, lines: 0 };
    let (state, resumed) = state::State::open(&request.state_path(), identity, || input::plan(&request.input, request.max_records))?;
    let saved = state.snapshot()?;
    saved.check(std::fs::metadata(&request.input).with_context(|| format!("reading {}", request.input.display()))?.len())?;
    if resumed && saved.chunks.iter().all(|c| c.step == state::Step::Done) {
        return Ok(summary_of(&saved, true));
    }
    let outcomes = outcomes::Outcomes::open(&request.out, saved.outcome_bytes)?;
    let bar = ProgressBar::new(saved.identity.lines);
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} lines {msg} [{elapsed}]").unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar.set_position(saved.chunks.iter().filter(|c| c.step == state::Step::Done).map(|c| c.range.lines).sum());
    let jobs = job::Jobs { runtime, connection, namespace, request, state: &state, outcomes: &outcomes, bar: &bar };
    let stopping = std::sync::atomic::AtomicBool::new(false);
    // Jobs a stopped run had at Zoho go first: they finish without another upload.
    let mut order: Vec<usize> = (0..saved.chunks.len()).collect();
    order.sort_by_key(|&i| !matches!(saved.chunks[i].step, state::Step::Created | state::Step::Creating));
    use futures_util::StreamExt as _;
    let errors: Vec<anyhow::Error> = futures_util::stream::iter(order)
        .map(|index| {
            let (jobs, stopping) = (&jobs, &stopping);
            async move {
                if stopping.load(std::sync::atomic::Ordering::Relaxed) {
                    return None;
                }
                let outcome = jobs.run(index).await;
                if outcome.is_err() {
                    stopping.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                outcome.err()
            }
        })
        .buffer_unordered(request.concurrency)
        .filter_map(|e| async move { e })
        .collect()
        .await;
    bar.finish_and_clear();
    if !errors.is_empty() {
        let said: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
        bail!("the load stopped; rerun the same command to continue it (finished jobs are not sent again):\n  {}", said.join("\n  "));
    }
    Ok(summary_of(&state.snapshot()?, false))
}

/// The `zoho-host load` command line.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Module API name, e.g. Leads.
    pub module: String,
    /// Connection JSON, @file, or - for stdin.
    #[arg(long)]
    pub connection: String,
    /// The records: one JSON object per line.
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long, value_enum, default_value = "insert")]
    pub mode: Mode,
    /// The field that finds existing records for update and upsert (a unique field; default: id).
    #[arg(long)]
    pub find_by: Option<String>,
    /// One outcome line per input line, appended as jobs finish; its state file sits beside it.
    /// Default: the input's name with .outcomes.jsonl.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Jobs at Zoho at once (1 to 10).
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// A job an earlier run was asking for when it stopped: recreate (Zoho did not make it) or
    /// skip (report its records unknown). Without it an insert stops there; update and upsert
    /// with keyed records ask again (writing the same values twice changes nothing).
    #[arg(long, value_enum)]
    pub uncertain: Option<Uncertain>,
    #[arg(long)]
    pub namespace: Option<String>,
}

impl Options {
    pub fn request(&self) -> LoadRequest<'_> {
        let out = self.out.clone().unwrap_or_else(|| self.input.with_extension("outcomes.jsonl"));
        LoadRequest {
            module: &self.module,
            input: self.input.clone(),
            out,
            mode: self.mode,
            find_by: self.find_by.as_deref(),
            concurrency: self.concurrency,
            uncertain: self.uncertain,
            poll: Poll::default(),
            max_records: input::MAX_RECORDS,
        }
    }
}

/// Says a summary on stderr: outcomes by status, jobs, calls and credits, and the records API's.
pub fn said(summary: &LoadSummary) -> String {
    let statuses: Vec<String> = summary.statuses.iter().map(|(s, n)| format!("{n} {s}")).collect();
    format!(
        "load: {} lines ({}){}; {} jobs, {} calls, {} credits (the records API: {} calls, {} credits)",
        summary.lines,
        statuses.join(", "),
        if summary.finished_earlier { ", finished earlier: nothing sent" } else { "" },
        summary.jobs,
        summary.usage.calls,
        summary.usage.credits,
        summary.records_api.calls,
        summary.records_api.credits
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zoho's table: 100 records a call, 1 credit per 10 records or part of 10.
    #[test]
    fn the_records_apis_cost() {
        assert_eq!(records_api_cost(100_000), Usage { calls: 1_000, credits: 10_000 });
        assert_eq!(records_api_cost(0), Usage { calls: 0, credits: 0 });
        assert_eq!(records_api_cost(101), Usage { calls: 2, credits: 11 });
        assert_eq!(records_api_cost(11), Usage { calls: 1, credits: 2 });
    }

    #[test]
    fn the_state_sits_beside_the_out_file() {
        let options = Options {
            module: "Leads".into(),
            connection: "{}".into(),
            input: "/tmp/x/leads.jsonl".into(),
            mode: Mode::Insert,
            find_by: None,
            out: None,
            concurrency: 3,
            uncertain: None,
            namespace: None,
        };
        let request = options.request();
        assert_eq!((request.out.as_path(), request.state_path()), (Path::new("/tmp/x/leads.outcomes.jsonl"), PathBuf::from("/tmp/x/leads.outcomes.jsonl.state.json")));
    }
}
