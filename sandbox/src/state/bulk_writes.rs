//! The sandbox's bulk write (import) jobs: the files uploaded, the jobs created on them, each
//! job's outcome once it ran, and the knobs tests turn (see `crm::bulk_write`).

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The sandbox's files, jobs and knobs.
#[derive(Default)]
pub struct Jobs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
pub(crate) struct Inner {
    /// Uploaded files by file id: the CSV each ZIP held.
    pub(crate) files: HashMap<String, Arc<Upload>>,
    pub(crate) jobs: HashMap<String, Job>,
    pub(crate) next: u64,
    pub(crate) knobs: Knobs,
}

/// How jobs behave.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// Seconds a job stays ADDED, then IN PROGRESS, on the sandbox's clock.
    pub added_for: i64,
    pub runs_for: i64,
    /// The next job created fails with this code and message.
    pub fail_next: Option<(String, String)>,
    /// The next result download answers these bytes instead (hostile-file tests).
    pub result_override: Option<Vec<u8>>,
    /// Completed jobs name this download URL instead of the sandbox's own (hostile-host tests).
    pub download_url_override: Option<String>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs { added_for: 2, runs_for: 5, fail_next: None, result_override: None, download_url_override: None }
    }
}

/// One uploaded file: the name of the CSV in the ZIP and its bytes.
pub(crate) struct Upload {
    pub(crate) name: String,
    pub(crate) csv: Vec<u8>,
}

/// A field mapping: the field, the CSV column it reads, and how a lookup is found.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    pub(crate) api_name: String,
    pub(crate) index: usize,
    pub(crate) find_by: Option<String>,
}

pub(crate) struct Job {
    pub(crate) module: String,
    pub(crate) operation: String,
    pub(crate) find_by: Option<String>,
    pub(crate) mappings: Option<Vec<Mapping>>,
    pub(crate) ignore_empty: bool,
    pub(crate) callback: Option<String>,
    pub(crate) file_id: String,
    pub(crate) file: Arc<Upload>,
    pub(crate) created: DateTime<Utc>,
    pub(crate) fails: Option<(String, String)>,
    /// Set once the job ran (the first time its state was asked for after it was due).
    pub(crate) outcome: Option<Outcome>,
    /// The request body as Zoho echoes parts of it (field mappings, callback).
    pub(crate) request: serde_json::Value,
}

/// A run's counts and result CSV.
pub(crate) struct Outcome {
    pub(crate) added: u64,
    pub(crate) updated: u64,
    pub(crate) skipped: u64,
    pub(crate) total: u64,
    pub(crate) result_csv: Vec<u8>,
}

impl Jobs {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the knobs.
    pub fn tune(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut self.lock().knobs);
    }

    /// Jobs created so far.
    pub fn count(&self) -> usize {
        self.lock().jobs.len()
    }
}
