//! `zoho-host sync`: reads streams through the component, concurrently up to a cap, one
//! JSON-lines file per stream plus a state file, resumable after an interruption: a stream
//! continues from the page after the last one fully written (the component keeps each sweep's
//! page ranges), and a partly written page is cut off before it is read again.

use crate::runtime::{ActionRef, Runtime};
use anyhow::{bail, Context as _, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// How many times one page waits out `rate-limited` before the sync gives up.
const RATE_LIMIT_WAITS: u32 = 30;

pub struct SyncRequest<'a> {
    pub streams: &'a [String],
    pub anchor_date: Option<&'a str>,
    pub out_dir: &'a Path,
    pub per_page: Option<u32>,
    /// Streams read at once (also the component's per-connection request cap).
    pub concurrency: usize,
    pub backoff_at_credit_percentage: Option<f64>,
}

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
        let partial = self.path.with_extension("json.partial");
        std::fs::write(&partial, serde_json::to_vec_pretty(&json!({ "streams": *streams }))?)?;
        std::fs::rename(&partial, &self.path)?;
        Ok(())
    }
}

async fn sync_stream(runtime: &Runtime, connection: &Value, namespace: Option<&str>, request: &SyncRequest<'_>, state: &State, stream: &str, bar: &ProgressBar) -> Result<Value> {
    let read = ActionRef::from_key("sync-read-stream-page")?;
    let commit = ActionRef::from_key("sync-commit-stream")?;
    let file_path = request.out_dir.join(format!("{stream}.jsonl"));
    let previous = state.get(stream);
    let (mut page, mut records, kept_bytes) = match previous.get("status").and_then(Value::as_str) {
        Some("reading") => (
            previous["pages_written"].as_u64().unwrap_or(0) as u32 + 1,
            previous["records"].as_u64().unwrap_or(0) as usize,
            previous["bytes"].as_u64().unwrap_or(0),
        ),
        _ => (1, 0, 0),
    };
    let file = std::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&file_path).with_context(|| format!("opening {}", file_path.display()))?;
    // Drop whatever a crash left after the last fully written page.
    file.set_len(kept_bytes)?;
    let mut file = std::io::BufWriter::new(std::fs::OpenOptions::new().append(true).open(&file_path)?);
    loop {
        let mut input = json!({ "stream": stream, "page": page, "max-concurrency": request.concurrency });
        if let Some(anchor) = request.anchor_date {
            input["anchor-date"] = json!(anchor);
        }
        if let Some(per_page) = request.per_page {
            input["per-page"] = json!(per_page);
        }
        if let Some(share) = request.backoff_at_credit_percentage {
            input["backoff-at-credit-percentage"] = json!(share);
        }
        let mut waits = 0;
        let result = loop {
            let outcome = runtime.run(&read, connection, &input, None, namespace).await?;
            match outcome.result {
                Ok(value) => break value,
                // The connection's request cap is shared with other workers: wait our turn.
                Err(error) if error["kind"] == "rate-limited" && waits < RATE_LIMIT_WAITS => {
                    waits += 1;
                    let ms = error["retry-after-ms"].as_u64().unwrap_or(1_000).min(60_000);
                    bar.set_message(format!("{stream}: rate-limited, waiting {ms} ms"));
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
                Err(error) => bail!("{stream}: page {page} failed: {error}"),
            }
        };
        for record in result["records"].as_array().context("no records array")? {
            serde_json::to_writer(&mut file, record)?;
            file.write_all(b"\n")?;
            records += 1;
        }
        file.flush()?;
        file.get_ref().sync_data()?;
        let bytes = file.get_ref().metadata()?.len();
        state.put(stream, json!({ "status": "reading", "pages_written": page, "records": records, "bytes": bytes }))?;
        bar.set_message(format!("{stream}: {records} records, {page} pages"));
        if result["more_records"] != json!(true) {
            break;
        }
        page += 1;
    }
    let committed = match runtime.run(&commit, connection, &json!({ "stream": stream }), None, namespace).await?.result {
        Ok(value) => value,
        Err(error) => bail!("{stream}: read, but the commit failed: {error}"),
    };
    let done = json!({ "status": "done", "pages_written": page, "records": records, "cursor": committed["cursor"] });
    state.put(stream, done.clone())?;
    bar.finish_with_message(format!("{stream}: {records} records, done"));
    Ok(done)
}

/// Runs every stream to its end (resuming an interrupted run), up to `concurrency` at once.
pub async fn run(runtime: &Runtime, connection: &Value, namespace: Option<&str>, request: &SyncRequest<'_>) -> Result<Map<String, Value>> {
    std::fs::create_dir_all(request.out_dir)?;
    let state = State::load(request.out_dir)?;
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
            let _permit = gate.acquire().await?;
            Ok::<_, anyhow::Error>((stream.clone(), sync_stream(runtime, connection, namespace, request, state, stream, &bar).await?))
        }
    });
    let mut summary = Map::new();
    for outcome in futures_util::future::join_all(tasks).await {
        let (stream, result) = outcome?;
        summary.insert(stream, result);
    }
    Ok(summary)
}
