//! The out file of `zoho-host load`: one JSON line per input line, `{"line", "status", "id",
//! "error"}`, a job's lines appended whole and synced before the state records the job done.
//! A rerun cuts the file back to the length the state recorded, so a job whose lines were being
//! written when the run stopped writes them again, once.
//!
//! Statuses: Zoho's per-row outcome in lower case (`added`, `updated`, `skipped`, with Zoho's
//! error for a skipped row), `invalid` (the line is not a record; never sent), `failed` (Zoho
//! failed the whole job: its error), `missing` (Zoho's result has no row for the record),
//! `unknown` (a job of uncertain fate skipped on request: see `--uncertain`).

use super::input::Line;
use anyhow::{anyhow, Context as _, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// What Zoho said of one uploaded record (its 0-based row in the job's file).
#[derive(Debug, Clone, PartialEq)]
pub struct RowOutcome {
    pub status: String,
    pub id: Option<String>,
    pub error: Value,
}

/// What every record of a job gets when the job has no per-row result.
#[derive(Debug, Clone, PartialEq)]
pub enum Whole {
    /// Per-row outcomes, by row.
    Rows(Vec<Option<RowOutcome>>),
    /// One status and error for every record (`failed`, `unknown`).
    All { status: &'static str, error: Value },
}

/// A job's outcome lines in input order, and how many of each status.
pub fn lines_of(lines: &[Line], whole: &Whole) -> (Vec<u8>, BTreeMap<String, u64>) {
    let mut out = Vec::new();
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    let mut row = 0usize;
    for line in lines {
        let value = match line {
            Line::Invalid { line, reason } => json!({ "line": line, "status": "invalid", "error": reason }),
            Line::Record { line, .. } => {
                let outcome = match whole {
                    Whole::Rows(rows) => rows.get(row).cloned().flatten(),
                    Whole::All { status, error } => Some(RowOutcome { status: (*status).to_string(), id: None, error: error.clone() }),
                };
                row += 1;
                match outcome {
                    Some(o) => {
                        let mut v = json!({ "line": line, "status": o.status });
                        if let Some(id) = o.id {
                            v["id"] = json!(id);
                        }
                        if !o.error.is_null() {
                            v["error"] = o.error;
                        }
                        v
                    }
                    None => json!({ "line": line, "status": "missing", "error": "Zoho's result has no row for this record" }),
                }
            }
        };
        *tally.entry(value["status"].as_str().unwrap_or("").to_string()).or_default() += 1;
        // serde_json writes no raw line break inside a value: one outcome, one line.
        out.extend_from_slice(value.to_string().as_bytes());
        out.push(b'\n');
    }
    (out, tally)
}

/// The out file, appended to by one job at a time.
pub struct Outcomes {
    file: Mutex<std::fs::File>,
}

impl Outcomes {
    /// Opens (or creates) the out file, cut back to its first `keep` bytes: the outcomes of the
    /// jobs the state records done.
    pub fn open(path: &Path, keep: u64) -> Result<Outcomes> {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(path).with_context(|| format!("opening {}", path.display()))?;
        let length = file.metadata()?.len();
        if length < keep {
            anyhow::bail!(
                "{} holds {length} bytes, fewer than the {keep} bytes of outcomes its state records: it was cut or replaced since; move the state away to start the load over (records already loaded would be written again)",
                path.display()
            );
        }
        file.set_len(keep)?;
        let file = std::fs::OpenOptions::new().append(true).open(path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Outcomes { file: Mutex::new(file) })
    }

    /// Holds the file for one job's lines: the caller records the job done before letting go.
    pub fn lock(&self) -> Result<MutexGuard<'_, std::fs::File>> {
        self.file.lock().map_err(|_| anyhow!("the out file's lock is poisoned"))
    }

    /// Appends `bytes` whole, synced; answers the file's new length.
    pub fn append(file: &mut std::fs::File, bytes: &[u8]) -> Result<u64> {
        file.write_all(bytes)?;
        file.flush()?;
        file.sync_data()?;
        Ok(file.metadata()?.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: u64) -> Line {
        Line::Record { line, text: "{}".into(), record: serde_json::Map::new() }
    }

    /// Every input line gets exactly one line, in input order: invalid lines their reason,
    /// records their row's outcome, a record without a row `missing`.
    #[test]
    fn every_line_gets_one_outcome() {
        let lines = [record(1), Line::Invalid { line: 2, reason: "not JSON".into() }, record(3), record(4)];
        let rows = Whole::Rows(vec![
            Some(RowOutcome { status: "added".into(), id: Some("9".into()), error: Value::Null }),
            Some(RowOutcome { status: "skipped".into(), id: None, error: json!({ "code": "MANDATORY_NOT_FOUND" }) }),
        ]);
        let (bytes, tally) = lines_of(&lines, &rows);
        let text = String::from_utf8(bytes).expect("utf-8");
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                r#"{"id":"9","line":1,"status":"added"}"#,
                r#"{"error":"not JSON","line":2,"status":"invalid"}"#,
                r#"{"error":{"code":"MANDATORY_NOT_FOUND"},"line":3,"status":"skipped"}"#,
                r#"{"error":"Zoho's result has no row for this record","line":4,"status":"missing"}"#,
            ]
        );
        assert_eq!(tally.into_iter().collect::<Vec<_>>(), [("added".into(), 1), ("invalid".into(), 1), ("missing".into(), 1), ("skipped".into(), 1)]);
        let (bytes, tally) = lines_of(&lines, &Whole::All { status: "failed", error: json!("boom") });
        assert_eq!(String::from_utf8(bytes).expect("utf-8").lines().count(), 4);
        assert_eq!(tally.get("failed"), Some(&3));
    }

    #[test]
    fn the_file_is_cut_back_to_what_the_state_recorded() {
        let path = std::env::temp_dir().join(format!("zoho-load-outcomes-{}.jsonl", std::process::id()));
        std::fs::write(&path, "done\npartly writ").expect("written");
        let outcomes = Outcomes::open(&path, 5).expect("open");
        let length = Outcomes::append(&mut outcomes.lock().expect("lock"), b"again\n").expect("append");
        assert_eq!((length, std::fs::read_to_string(&path).expect("read")), (11, "done\nagain\n".to_string()));
        assert!(Outcomes::open(&path, 100).is_err(), "a file shorter than its state is refused");
        let _ = std::fs::remove_file(&path);
    }
}
