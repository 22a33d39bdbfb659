//! `zoho-host sync`: reads streams through the component, concurrently up to a cap, one
//! JSON-lines file per stream plus a state file, resumable after an interruption: each slice of
//! a stream continues from the page after the last one fully written (the component keeps each
//! sweep's page ranges), and a partly written page is cut off before it is read again.
//!
//! A stream's file is appended to, never replaced: each run's records follow the earlier runs'
//! (`start_bytes` in the state is where the current sweep's began), so a run that finds nothing
//! new leaves the file as it was.
//!
//! With `slices` > 1 an incremental stream's slices are read concurrently into its one file:
//! pages are written whole, one at a time, so the file's length after each page is a point to
//! resume from; the order of records across slices is unspecified.

use crate::runtime::{ActionRef, Runtime};
use crate::sweep::{check_slices, write_record, Page, Pages, Usage, Walk, Walked};
use anyhow::{bail, Context as _, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

pub struct SyncRequest<'a> {
    pub streams: &'a [String],
    pub anchor_date: Option<&'a str>,
    /// Forget the streams' cursors and unfinished runs first: a full refresh from the anchor.
    pub reset: bool,
    pub out_dir: &'a Path,
    pub per_page: Option<u32>,
    /// Steps in flight at once (also the component's per-connection request cap).
    pub concurrency: usize,
    pub backoff_at_credit_percentage: Option<f64>,
    /// Modified_Time slices of each incremental stream read in parallel, 1 to 10. A resumed
    /// stream keeps the slices it was started with.
    pub slices: u32,
    /// The component's per-connection cap on requests a second (default: Sling's 5).
    pub requests_per_second: Option<u32>,
    /// How a stream's first sweep reads: coql (default), bulk (export jobs) or auto.
    pub strategy: Option<&'a str>,
}

/// Streams read whole on every run: one walk, no slices.
const FULL_REFRESH: [&str; 2] = ["users", "modules"];

/// The state file: per stream, how far the current run got.
struct State {
    path: PathBuf,
    streams: Mutex<Map<String, Value>>,
}

impl State {
    fn load(out_dir: &Path) -> Result<State> {
        let path = out_dir.join("state.json");
        let mut streams = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| v.get("streams").and_then(Value::as_object).cloned()).unwrap_or_default(),
            Err(_) => Map::new(),
        };
        // A finished run starts a new one; an interrupted run is resumed.
        if !streams.is_empty() && streams.values().all(|s| s["status"] == "done") {
            streams.clear();
        }
        Ok(State { path, streams: Mutex::new(streams) })
    }

    fn get(&self, stream: &str) -> Value {
        self.streams.lock().map(|s| s.get(stream).cloned().unwrap_or(Value::Null)).unwrap_or(Value::Null)
    }

    /// Records a stream's progress, written atomically (temporary file, then rename).
    fn put(&self, stream: &str, value: Value) -> Result<()> {
        let mut streams = self.streams.lock().map_err(|_| anyhow::anyhow!("state lock poisoned"))?;
        streams.insert(stream.to_string(), value);
        self.write(&streams)
    }

    /// Drops a stream's progress: its next sweep starts afresh.
    fn forget(&self, stream: &str) -> Result<()> {
        let mut streams = self.streams.lock().map_err(|_| anyhow::anyhow!("state lock poisoned"))?;
        if streams.remove(stream).is_some() {
            self.write(&streams)?;
        }
        Ok(())
    }

    fn write(&self, streams: &Map<String, Value>) -> Result<()> {
        let partial = self.path.with_extension("json.partial");
        std::fs::write(&partial, serde_json::to_vec_pretty(&json!({ "streams": streams }))?)?;
        std::fs::rename(&partial, &self.path)?;
        Ok(())
    }
}

/// A stream's progress inside its current sweep: pages written per slice, whether each slice
/// ended, and how much of its file holds whole pages.
#[derive(Debug, Clone)]
struct Progress {
    slices: u32,
    pages: Vec<u32>,
    ended: Vec<bool>,
    records: u64,
    /// Where this sweep's records begin in the file (what earlier runs wrote ends there).
    start: u64,
    bytes: u64,
    usage: Usage,
}

impl Progress {
    #[cfg(test)]
    fn new(slices: u32) -> Self {
        Progress::starting_at(slices, 0)
    }

    /// A fresh sweep whose records go after the file's first `start` bytes.
    fn starting_at(slices: u32, start: u64) -> Self {
        let n = slices as usize;
        Progress { slices, pages: vec![0; n], ended: vec![false; n], records: 0, start, bytes: start, usage: Usage::default() }
    }

    /// The progress a `reading` or `committing` state recorded (a state from before slices is
    /// one slice).
    fn of_state(state: &Value) -> Option<Progress> {
        if !matches!(state.get("status").and_then(Value::as_str), Some("reading" | "committing")) {
            return None;
        }
        // A page number past u32::MAX - 1 has no next page to resume from: the state is garbage.
        let number = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|n| *n < u32::MAX);
        let (pages, ended): (Vec<u32>, Vec<bool>) = match state.get("slice_pages").and_then(Value::as_array) {
            Some(pages) => {
                let ended = state.get("slice_ended").and_then(Value::as_array);
                let mut read = Vec::with_capacity(pages.len());
                for (i, page) in pages.iter().enumerate() {
                    read.push((number(page)?, ended.and_then(|e| e.get(i)).and_then(Value::as_bool).unwrap_or(false)));
                }
                read.into_iter().unzip()
            }
            None => (vec![state.get("pages_written").map_or(Some(0), number)?], vec![false]),
        };
        let slices = u32::try_from(pages.len()).ok().filter(|n| (1..=crate::sweep::MAX_SLICES).contains(n))?;
        let usage = state.get("usage").and_then(|u| serde_json::from_value(u.clone()).ok()).unwrap_or_default();
        let (records, bytes) = (state.get("records").and_then(Value::as_u64).unwrap_or(0), state.get("bytes").and_then(Value::as_u64).unwrap_or(0));
        // A state from before appending began its sweep at the file's start.
        let start = state.get("start_bytes").and_then(Value::as_u64).unwrap_or(0).min(bytes);
        Some(Progress { slices, pages, ended, records, start, bytes, usage })
    }

    /// Whether every slice delivered its last page: what is left is the commit.
    fn read_whole(&self) -> bool {
        self.ended.iter().all(|ended| *ended)
    }

    /// Each slice's next page, or `None` for a fresh sweep (nothing written yet).
    fn resume_from(&self) -> Option<Vec<Option<u32>>> {
        if self.pages.iter().all(|p| *p == 0) {
            return None;
        }
        Some(self.pages.iter().zip(&self.ended).map(|(p, ended)| if *ended { None } else { Some(p.saturating_add(1)) }).collect())
    }

    fn state(&self, status: &str) -> Value {
        json!({
            "status": status,
            "slices": self.slices,
            "pages_written": self.pages.iter().map(|p| u64::from(*p)).sum::<u64>(),
            "slice_pages": self.pages,
            "slice_ended": self.ended,
            "records": self.records,
            "start_bytes": self.start,
            "bytes": self.bytes,
            "usage": self.usage,
        })
    }
}

/// A stream's file and state: each page is appended whole, synced, then recorded.
struct StreamFile<'a> {
    stream: &'a str,
    path: PathBuf,
    state: &'a State,
    file: RefCell<std::io::BufWriter<std::fs::File>>,
    progress: RefCell<Progress>,
}

impl StreamFile<'_> {
    /// Opens the stream's file, cut back to its last whole page.
    fn open<'a>(stream: &'a str, path: PathBuf, state: &'a State, progress: Progress) -> Result<StreamFile<'a>> {
        let file = std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&path).with_context(|| format!("opening {}", path.display()))?;
        // Drop whatever a crash left after the last fully written page.
        file.set_len(progress.bytes)?;
        let file = std::io::BufWriter::new(std::fs::OpenOptions::new().append(true).open(&path)?);
        Ok(StreamFile { stream, path, state, file: RefCell::new(file), progress: RefCell::new(progress) })
    }
}

impl Pages for StreamFile<'_> {
    fn write(&self, page: &Page<'_>) -> Result<()> {
        let mut file = self.file.borrow_mut();
        for record in &page.records {
            write_record(&mut *file, record)?;
        }
        file.flush()?;
        file.get_ref().sync_data()?;
        let bytes = file.get_ref().metadata()?.len();
        let mut progress = self.progress.borrow_mut();
        let index = page.slice.checked_sub(1).map(|i| i as usize).filter(|i| *i < progress.pages.len()).context("a page of an unknown slice")?;
        progress.pages[index] = page.page;
        progress.ended[index] = !page.more;
        progress.records = progress.records.saturating_add(page.records.len() as u64);
        progress.bytes = bytes;
        progress.usage.add(page.usage);
        self.state.put(self.stream, progress.state("reading"))
    }

    /// A new plan: the sweep's pages so far are dropped from the file (earlier runs' records
    /// stay) and read again.
    fn restart(&self) -> Result<()> {
        let mut file = self.file.borrow_mut();
        file.flush()?;
        let (slices, start) = (self.progress.borrow().slices, self.progress.borrow().start);
        file.get_ref().set_len(start)?;
        let mut progress = Progress::starting_at(slices, start);
        progress.usage = self.progress.borrow().usage;
        *self.progress.borrow_mut() = progress;
        self.state.put(self.stream, self.progress.borrow().state("reading")).with_context(|| format!("restarting {}", self.path.display()))
    }
}

async fn sync_stream(
    runtime: &'static Runtime,
    connection: &Value,
    namespace: Option<&str>,
    request: &SyncRequest<'_>,
    state: &State,
    gate: &tokio::sync::Semaphore,
    stream: &str,
    bar: &ProgressBar,
) -> Result<Value> {
    let started = Instant::now();
    let commit = ActionRef::from_key("sync-commit-stream")?;
    let full_refresh = FULL_REFRESH.contains(&stream.trim().to_ascii_lowercase().as_str());
    // Books streams are one walk each (Books numbers its pages; the component refuses slices).
    let one_walk = full_refresh || stream.trim().starts_with("books_");
    let wanted = if one_walk { 1 } else { request.slices };
    // A resumed stream keeps its slices: the component's plan is fixed for its sweep.
    let saved = state.get(stream);
    let path = request.out_dir.join(format!("{stream}.jsonl"));
    let existing = std::fs::metadata(&path).map_or(0, |m| m.len());
    let progress = Progress::of_state(&saved).filter(|p| !one_walk || p.slices == 1).unwrap_or_else(|| {
        // A new sweep appends after what earlier runs wrote; one whose state cannot be resumed
        // starts over where that sweep began (the file's start for a state without it).
        let unfinished = matches!(saved.get("status").and_then(Value::as_str), Some("reading" | "committing"));
        let start = if unfinished { saved.get("start_bytes").and_then(Value::as_u64).unwrap_or(0) } else { existing };
        Progress::starting_at(wanted, start.min(existing))
    });
    // A run stopped after its last page (before, during or after the commit) has only the
    // commit left; the file holds every record already.
    let read_whole = saved["status"] == "committing" || progress.read_whole();
    let slices = progress.slices;
    let resume = progress.resume_from();
    let file = StreamFile::open(stream, path, state, progress)?;

    let mut input = json!({ "stream": stream, "max-concurrency": request.concurrency });
    if let Some(anchor) = request.anchor_date {
        input["anchor-date"] = json!(anchor);
    }
    if let Some(per_page) = request.per_page {
        input["per-page"] = json!(per_page);
    }
    if let Some(share) = request.backoff_at_credit_percentage {
        input["backoff-at-credit-percentage"] = json!(share);
    }
    if let Some(rate) = request.requests_per_second {
        input["max-requests-per-second"] = json!(rate);
    }
    if let Some(strategy) = request.strategy {
        input["strategy"] = json!(strategy);
    }
    let start_over = format!("run `zoho-host sync --streams {stream} --reset` to read the stream again from its anchor date");
    let walk = Walk { runtime, connection, namespace, action: ActionRef::from_key("sync-read-stream-page")?, input, slices, gate, label: stream.to_string(), bar, start_over };
    let walked = Walked::default();
    if !read_whole {
        walk.run(resume, &file, &walked).await?;
    }

    // "committing" first, so a run stopped at any point from here on resumes with the commit,
    // never with a walk the moved cursor no longer matches.
    file.state.put(stream, file.progress.borrow().state("committing"))?;
    let committed = match runtime.run(&commit, connection, &json!({ "stream": stream }), None, namespace).await?.result {
        Ok(value) => Some(value),
        // The walk is over, yet the component has no finished sweep: the commit before the
        // stop went through (it forgets the sweep as it moves the cursor).
        Err(error) if read_whole && committed_already(&error) => None,
        Err(error) => bail!("{stream}: read, but the commit failed: {error}"),
    };
    let progress = file.progress.into_inner();
    let mut done = progress.state("done");
    match committed {
        Some(committed) => done["cursor"] = committed["cursor"].clone(),
        None => done["committed_earlier"] = json!(true),
    }
    done["elapsed_s"] = json!(started.elapsed().as_secs_f64());
    done["restarts"] = json!(walked.restarts.get());
    let warnings = walked.warnings.into_inner();
    if !warnings.is_empty() {
        done["warnings"] = json!(warnings);
    }
    state.put(stream, done.clone())?;
    bar.finish_with_message(format!("{stream}: {} records, done in {:.1} s; {} calls, {} credits", progress.records, started.elapsed().as_secs_f64(), progress.usage.calls, progress.usage.credits));
    Ok(done)
}

/// Whether a commit's error says the sweep is no longer there to commit (the component's
/// conflict for a commit with no finished sweep, plain or sliced).
fn committed_already(error: &Value) -> bool {
    error["kind"] == "conflict" && error["message"].as_str().is_some_and(|m| m.starts_with("there is no finished sweep to commit"))
}

/// The component's storage keys of an incremental stream's committed cursor, open sweep and
/// sliced plan (`incremental/sync/<stream>/...`, as its storage::keys writes them). The host
/// reads and deletes them itself: no action of the component forgets a cursor.
fn stream_keys(stream: &str) -> Vec<String> {
    let scope = format!("sync/{}", stream.trim().to_ascii_lowercase());
    let mut keys = vec![format!("incremental/{scope}/cursor"), format!("incremental/{scope}/sweep"), format!("incremental/{scope}/plan")];
    keys.extend((1..=crate::sweep::MAX_SLICES).map(|n| format!("incremental/{scope}/slice{n}/sweep")));
    keys
}

/// A Books stream's keys (`books_...`): the component keeps each under
/// `incremental/sync/<stream>/<organization id>/...`, one scope per organization the stream was
/// read for, so every key under the stream's prefix is listed (the cursors among them). `None`
/// for a CRM stream.
fn books_stream_keys(kv: &dyn crate::kv::KvBackend, namespace: &str, stream: &str) -> Result<Option<Vec<String>>> {
    let stream = stream.trim();
    if !stream.starts_with("books_") {
        return Ok(None);
    }
    let prefix = format!("incremental/sync/{stream}/");
    let mut keys: Vec<String> = kv.keys(namespace, "").map_err(|e| anyhow::anyhow!("listing {stream}'s keys: {e:?}"))?.into_iter().filter(|k| k.starts_with(&prefix)).collect();
    keys.sort();
    Ok(Some(keys))
}

/// With `--reset`, forgets the streams' cursors, open sweeps and unfinished runs; without it,
/// refuses `--anchor-date` for a stream starting a sweep that has a cursor (the component would
/// start from the cursor and silently ignore the date).
async fn check_cursors(runtime: &Runtime, connection: &Value, namespace: Option<&str>, request: &SyncRequest<'_>, state: &State) -> Result<()> {
    let namespace = runtime.namespace(connection, namespace).await?;
    let kv = runtime.kv();
    let mut committed = Vec::new();
    for stream in request.streams.iter().filter(|s| !FULL_REFRESH.contains(&s.trim().to_ascii_lowercase().as_str())) {
        let keys = match books_stream_keys(kv.as_ref(), &namespace, stream)? {
            Some(keys) => keys,
            None => stream_keys(stream),
        };
        if request.reset {
            for key in &keys {
                kv.delete(&namespace, "", key).map_err(|e| anyhow::anyhow!("forgetting {stream}'s {key}: {e:?}"))?;
            }
            state.forget(stream)?;
            continue;
        }
        // A stream of an interrupted run resumes with the command that started it, anchor
        // date included: only a stream this run has not touched is starting a sweep.
        if !state.get(stream).is_null() {
            continue;
        }
        let Some(cursor_key) = keys.iter().find(|k| k.ends_with("/cursor")) else { continue };
        let stored = kv.get(&namespace, "", cursor_key).map_err(|e| anyhow::anyhow!("reading {stream}'s cursor: {e:?}"))?;
        if let Some(cursor) = stored.and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok()).and_then(|v| v["cursor"].as_str().map(str::to_string)) {
            committed.push(format!("{stream} (at {cursor})"));
        }
    }
    if !committed.is_empty() {
        bail!(
            "--anchor-date applies only to a stream's first sweep, and {} already {} a cursor: give --reset to forget it and read again from --anchor-date, or leave --anchor-date out to continue from the cursor",
            committed.join(", "),
            if committed.len() == 1 { "has" } else { "have" }
        );
    }
    Ok(())
}

/// Takes `<out>/sync.lock` for the whole run: two runs appending to the same files would write
/// every record twice. The OS lock dies with its process, so a killed run leaves none behind.
fn lock_out_dir(out_dir: &Path) -> Result<std::fs::File> {
    let path = out_dir.join("sync.lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!("{} is in use by another `zoho-host sync` (it holds {}): wait for that run to end, or give this one another --out", out_dir.display(), path.display())
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

/// Runs every stream to its end (resuming an interrupted run), up to `concurrency` steps at
/// once. Each stream's summary has its records, pages, calls and credits (`usage`, the sum of
/// its pages' since the sweep began, across resumptions) and elapsed seconds of this run.
pub async fn run(runtime: &'static Runtime, connection: &Value, namespace: Option<&str>, request: &SyncRequest<'_>) -> Result<Map<String, Value>> {
    check_slices(request.slices)?;
    if request.streams.is_empty() || request.streams.iter().any(|s| s.trim().is_empty()) {
        bail!("--streams names no stream: give comma-separated names, e.g. --streams contacts,deals");
    }
    std::fs::create_dir_all(request.out_dir).with_context(|| format!("creating {}", request.out_dir.display()))?;
    let _lock = lock_out_dir(request.out_dir)?;
    let state = State::load(request.out_dir)?;
    if request.reset || request.anchor_date.is_some() {
        check_cursors(runtime, connection, namespace, request, &state).await?;
    }
    let progress = MultiProgress::new();
    let style = ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
    let gate = tokio::sync::Semaphore::new(request.concurrency.max(1));
    let tasks = request.streams.iter().map(|stream| {
        let bar = progress.add(ProgressBar::new_spinner().with_style(style.clone()));
        let (state, gate) = (&state, &gate);
        async move {
            if state.get(stream)["status"] == "done" {
                bar.finish_with_message(format!("{stream}: done earlier in this run"));
                return Ok((stream.clone(), state.get(stream)));
            }
            Ok::<_, anyhow::Error>((stream.clone(), sync_stream(runtime, connection, namespace, request, state, gate, stream, &bar).await?))
        }
    });
    let mut summary = Map::new();
    for outcome in futures_util::future::join_all(tasks).await {
        let (stream, result) = outcome?;
        summary.insert(stream, result);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state written before slices resumes as one slice; a sliced one resumes each slice after
    /// its last written page (ended slices not at all); garbage starts over.
    #[test]
    fn progress_resumes_from_the_state_file() {
        let old = json!({ "status": "reading", "pages_written": 3, "records": 600, "bytes": 1234 });
        let p = Progress::of_state(&old).expect("old state");
        assert_eq!((p.slices, p.resume_from(), p.bytes), (1, Some(vec![Some(4)]), 1234));
        let sliced = json!({ "status": "reading", "slice_pages": [2, 0, 5], "slice_ended": [false, false, true], "records": 10, "bytes": 99, "usage": { "calls": 9, "credits": 12 } });
        let p = Progress::of_state(&sliced).expect("sliced state");
        assert_eq!((p.slices, p.resume_from(), p.usage), (3, Some(vec![Some(3), Some(1), None]), Usage { calls: 9, credits: 12 }));
        assert_eq!(Progress::of_state(&json!({ "status": "reading", "slice_pages": [0, 0] })).and_then(|p| p.resume_from()), None, "nothing written: a fresh sweep");
        for garbage in [json!({ "status": "done" }), json!({ "status": "reading", "slice_pages": [] }), json!({ "status": "reading", "slice_pages": vec![1; 11] }), json!(null)] {
            assert!(Progress::of_state(&garbage).is_none(), "{garbage}");
        }
        // A page number it cannot resume after makes the whole state unusable: the stream starts
        // over with its file emptied (never a slice skipped, never pages written twice).
        for edge in [json!([u64::MAX, 1]), json!([4294967295u64, 1]), json!(["1", 1]), json!([-1, 1])] {
            assert!(Progress::of_state(&json!({ "status": "reading", "slice_pages": edge, "slice_ended": "x" })).is_none(), "{edge}");
        }
        let near = json!({ "status": "reading", "slice_pages": [4294967294u64, 1], "slice_ended": [false, true] });
        assert_eq!(Progress::of_state(&near).expect("near the edge").resume_from(), Some(vec![Some(u32::MAX), None]));
        // "committing": every slice ended, only the commit left.
        let committing = Progress::of_state(&json!({ "status": "committing", "slice_pages": [13], "slice_ended": [true], "records": 2600, "bytes": 9 })).expect("committing state");
        assert!(committing.read_whole());
        assert_eq!((committing.resume_from(), committing.records, committing.bytes), (Some(vec![None]), 2600, 9));
        assert!(!Progress::new(2).read_whole(), "a fresh sweep has its walk ahead");
        let state = Progress::new(2).state("reading");
        assert_eq!((state["slices"].clone(), state["slice_pages"].clone(), state["pages_written"].clone()), (json!(2), json!([0, 0]), json!(0)));
    }
}
