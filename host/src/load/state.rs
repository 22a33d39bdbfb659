//! The load's state file (`<out>.state.json`): the plan (each job's line range) and how far each
//! job got, written atomically before and after every step that reaches Zoho, so a rerun of the
//! same command continues instead of writing records twice.
//!
//! A job's steps: `planned` → `uploaded` (Zoho's file id kept) → `creating` (written before the
//! job is asked for) → `created` (Zoho's job id kept) → `done` (its outcomes in the out file).

use super::input::{Plan, Range};
use crate::sweep::Usage;
use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Planned,
    Uploaded,
    /// The job was being asked for: Zoho may or may not have made it.
    Creating,
    Created,
    Done,
}

/// One job of the load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    #[serde(flatten)]
    pub range: Range,
    pub step: Step,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// The CSV's columns as the upload answered them: the job maps each to its index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Times a job was asked for this range (more than one only when a rerun re-created it).
    #[serde(default)]
    pub creates: u32,
    /// Its outcome lines by status, once done.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub statuses: BTreeMap<String, u64>,
}

/// What the whole load is: a rerun must be the same load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub module: String,
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find_by: Option<String>,
    /// SHA-256 of the input file.
    pub digest: String,
    pub lines: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    #[serde(flatten)]
    pub identity: Identity,
    /// Bytes of the out file holding the outcomes of `done` jobs: anything after is cut.
    pub outcome_bytes: u64,
    pub chunks: Vec<Chunk>,
    /// Calls and credits of every run of this load so far, by Zoho's table.
    #[serde(default)]
    pub usage: Usage,
    #[serde(default)]
    pub jobs_created: u64,
}

impl Saved {
    /// Whether a state read back still describes `input_bytes` bytes of input the way a plan
    /// does: ranges that tile the file from its start, line after line and byte after byte, each
    /// within one file's limits, and every step holding what it needs. A state edited by hand
    /// (a range twice, one past the input, a created job without its id) would send records
    /// twice or read what is not there: it is refused, never acted on.
    pub fn check(&self, input_bytes: u64) -> Result<()> {
        let refuse = |why: String| anyhow!("the load's state is damaged ({why}): move it away (and its out file) to start the load over");
        let (mut line, mut offset) = (1u64, 0u64);
        for (i, chunk) in self.chunks.iter().enumerate() {
            let r = &chunk.range;
            if r.first_line != line || r.offset != offset {
                return Err(refuse(format!("job {i} starts at line {} byte {}, not line {line} byte {offset}", r.first_line, r.offset)));
            }
            // Every line holds at least its own byte; a job holds at most one file's records.
            if r.lines == 0 || r.lines > r.bytes || r.records > r.lines || r.records > super::input::MAX_RECORDS as u64 {
                return Err(refuse(format!("job {i} covers {} lines, {} bytes and {} records", r.lines, r.bytes, r.records)));
            }
            line = line.checked_add(r.lines).ok_or_else(|| refuse(format!("job {i}'s lines overflow")))?;
            offset = offset.checked_add(r.bytes).ok_or_else(|| refuse(format!("job {i}'s bytes overflow")))?;
            let missing = match chunk.step {
                Step::Uploaded if chunk.file_id.is_none() => Some("an uploaded job without its file id"),
                Step::Created if chunk.job_id.is_none() => Some("a created job without its id"),
                _ => None,
            };
            if let Some(what) = missing {
                return Err(refuse(format!("job {i} is {what}")));
            }
        }
        if offset != input_bytes || line - 1 != self.identity.lines {
            return Err(refuse(format!("its jobs cover {} lines and {offset} bytes; the input has {} lines and {input_bytes} bytes", line - 1, self.identity.lines)));
        }
        Ok(())
    }
}

/// The first `n` characters of a digest as read back (a damaged state may hold any text).
fn prefix(digest: &str, n: usize) -> String {
    digest.chars().take(n).collect()
}

/// The state file and its contents, shared by the jobs in flight.
pub struct State {
    path: PathBuf,
    saved: Mutex<Saved>,
}

impl State {
    /// The state of `identity`'s load from `path`, or a new one planned by `plan`. A state of
    /// another load (another input, module, mode or find-by) is refused, never overwritten.
    pub fn open(path: &Path, identity: Identity, plan: impl FnOnce() -> Result<Plan>) -> Result<(State, bool)> {
        let saved = match std::fs::read(path) {
            Ok(bytes) => Some(serde_json::from_slice::<Saved>(&bytes).with_context(|| format!("{} is not a load's state: move it away to start over", path.display()))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if let Some(saved) = saved {
            let was = &saved.identity;
            if was.digest != identity.digest {
                bail!(
                    "the input changed since this load began ({} records a load of another file, digest {}…, this one's is {}…): give another --out for a new load, or restore the input to resume",
                    path.display(),
                    prefix(&was.digest, 12),
                    prefix(&identity.digest, 12)
                );
            }
            if (&was.module, &was.mode, &was.find_by) != (&identity.module, &identity.mode, &identity.find_by) {
                bail!(
                    "{} records a load into {} by {}{}: rerun it with the same module, --mode and --find-by, or give another --out",
                    path.display(),
                    was.module,
                    was.mode,
                    was.find_by.as_deref().map(|f| format!(" (find by {f})")).unwrap_or_default()
                );
            }
            return Ok((State { path: path.to_path_buf(), saved: Mutex::new(saved) }, true));
        }
        let plan = plan()?;
        let chunks = plan.ranges.into_iter().map(|range| Chunk { range, step: Step::Planned, file_id: None, columns: None, job_id: None, creates: 0, statuses: BTreeMap::new() }).collect();
        let saved = Saved { identity: Identity { lines: plan.lines, ..identity }, outcome_bytes: 0, chunks, usage: Usage::default(), jobs_created: 0 };
        let state = State { path: path.to_path_buf(), saved: Mutex::new(saved) };
        state.write(&*state.lock()?)?;
        Ok((state, false))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Saved>> {
        self.saved.lock().map_err(|_| anyhow!("the load's state lock is poisoned"))
    }

    pub fn snapshot(&self) -> Result<Saved> {
        Ok(self.lock()?.clone())
    }

    pub fn chunk(&self, index: usize) -> Result<Chunk> {
        self.lock()?.chunks.get(index).cloned().ok_or_else(|| anyhow!("no job {index} in the load's state"))
    }

    /// Changes job `index` (and the totals) and writes the state before returning.
    pub fn update(&self, index: usize, change: impl FnOnce(&mut Saved, usize)) -> Result<()> {
        let mut saved = self.lock()?;
        if index >= saved.chunks.len() {
            bail!("no job {index} in the load's state");
        }
        change(&mut saved, index);
        self.write(&saved)
    }

    /// Adds a call's cost to the totals (written with the next step).
    pub fn count(&self, usage: Usage) -> Result<()> {
        self.lock()?.usage.add(usage);
        Ok(())
    }

    /// Written whole to a temporary file, synced, then renamed over the state: a crash leaves the
    /// old state or the new one, never a mix.
    fn write(&self, saved: &Saved) -> Result<()> {
        use std::io::Write as _;
        let partial = self.path.with_extension("json.partial");
        let mut file = std::fs::File::create(&partial).with_context(|| format!("writing {}", partial.display()))?;
        file.write_all(&serde_json::to_vec_pretty(saved)?)?;
        file.sync_all()?;
        std::fs::rename(&partial, &self.path).with_context(|| format!("replacing {}", self.path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(digest: &str) -> Identity {
        Identity { module: "Leads".into(), mode: "insert".into(), find_by: None, digest: digest.into(), lines: 0 }
    }

    fn plan() -> Result<Plan> {
        let range = |first_line, offset| Range { first_line, lines: 2, offset, bytes: 10, records: 2 };
        Ok(Plan { ranges: vec![range(1, 0), range(3, 10)], lines: 4, digest: "d1".into() })
    }

    fn state_snapshot(path: &Path) -> Saved {
        serde_json::from_slice(&std::fs::read(path).expect("state")).expect("saved")
    }

    fn saved() -> Saved {
        let plan = plan().expect("plan");
        let chunks = plan.ranges.into_iter().map(|range| Chunk { range, step: Step::Planned, file_id: None, columns: None, job_id: None, creates: 0, statuses: BTreeMap::new() }).collect();
        Saved { identity: Identity { lines: 4, ..identity("d1") }, outcome_bytes: 0, chunks, usage: Usage::default(), jobs_created: 0 }
    }

    /// A state edited by hand is refused before anything is sent: a range twice (its records
    /// would be written twice), a gap, a range past the input, sizes that overflow or would
    /// allocate without end, a step without the id it needs.
    #[test]
    fn a_tampered_state_is_refused_before_anything_is_sent() {
        assert!(saved().check(20).is_ok(), "a plan's state holds");
        let damaged = |change: &dyn Fn(&mut Saved), input_bytes: u64| {
            let mut s = saved();
            change(&mut s);
            let error = s.check(input_bytes).expect_err("refused").to_string();
            assert!(error.contains("the load's state is damaged") && error.contains("start the load over"), "{error}");
        };
        damaged(&|s| s.chunks[1] = s.chunks[0].clone(), 20);
        damaged(&|s| s.chunks.push(s.chunks[1].clone()), 20);
        damaged(&|s| s.chunks[1].range.offset = 11, 20);
        damaged(&|s| s.chunks[1].range.first_line = 2, 20);
        damaged(&|s| s.chunks.truncate(1), 20);
        damaged(&|_| {}, 19);
        damaged(&|s| s.identity.lines = 5, 20);
        damaged(&|s| s.chunks[1].range.bytes = u64::MAX, 20);
        damaged(&|s| s.chunks[1].range.lines = u64::MAX, 20);
        damaged(&|s| s.chunks[1].range.records = 3, 20);
        damaged(&|s| (s.chunks[1].range.lines, s.chunks[1].range.bytes, s.chunks[1].range.records) = (1 << 40, 1 << 41, 1 << 40), 20);
        damaged(&|s| s.chunks[0].range.lines = 0, 20);
        damaged(&|s| s.chunks[0].step = Step::Uploaded, 20);
        damaged(&|s| s.chunks[0].step = Step::Created, 20);
        let mut s = saved();
        (s.chunks[0].step, s.chunks[0].job_id) = (Step::Created, Some("111".into()));
        assert!(s.check(20).is_ok());
    }

    /// A new load writes its plan; a rerun reads it back with its steps; another input, module,
    /// mode or find-by is refused with what to do.
    #[test]
    fn a_rerun_resumes_its_own_load_and_refuses_another() {
        let path = std::env::temp_dir().join(format!("zoho-load-state-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (state, resumed) = State::open(&path, identity("d1"), plan).expect("new");
        assert!(!resumed);
        state
            .update(0, |saved, i| {
                saved.chunks[i].step = Step::Created;
                saved.chunks[i].job_id = Some("111".into());
            })
            .expect("update");
        drop(state);
        let (state, resumed) = State::open(&path, identity("d1"), || panic!("a resumed load is not planned again")).expect("resumed");
        let saved = state.snapshot().expect("snapshot");
        assert!(resumed);
        assert_eq!((saved.identity.lines, saved.chunks.len()), (4, 2));
        assert_eq!((saved.chunks[0].step, saved.chunks[0].job_id.as_deref(), saved.chunks[1].step), (Step::Created, Some("111"), Step::Planned));
        let changed = State::open(&path, identity("d2"), plan).err().expect("refused").to_string();
        assert!(changed.contains("the input changed") && changed.contains("another --out"), "{changed}");
        let upsert = Identity { mode: "upsert".into(), find_by: Some("Email".into()), ..identity("d1") };
        let other = State::open(&path, upsert, plan).err().expect("refused").to_string();
        assert!(other.contains("Leads by insert") && other.contains("same module"), "{other}");
        let tampered = serde_json::to_string(&Saved { identity: identity("ééééééééééééé"), ..state_snapshot(&path) }).expect("json");
        std::fs::write(&path, tampered).expect("tampered");
        let changed = State::open(&path, identity("d1"), plan).err().expect("refused").to_string();
        assert!(changed.contains("digest éééééééééééé…"), "a digest that is not hex is shown, not cut inside a character: {changed}");
        std::fs::write(&path, "{").expect("garbage");
        assert!(State::open(&path, identity("d1"), plan).is_err(), "a garbage state is refused, not overwritten");
        let _ = std::fs::remove_file(&path);
    }
}
