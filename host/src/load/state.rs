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
                    &was.digest[..12.min(was.digest.len())],
                    &identity.digest[..12.min(identity.digest.len())]
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
        std::fs::write(&path, "{").expect("garbage");
        assert!(State::open(&path, identity("d1"), plan).is_err(), "a garbage state is refused, not overwritten");
        let _ = std::fs::remove_file(&path);
    }
}
