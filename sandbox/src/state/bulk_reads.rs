//! The sandbox's bulk read (export) jobs: each job's CSV rows, kept from its creation, and the
//! knobs tests turn (see `crm::bulk_read`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The sandbox's jobs and the knobs tests turn.
#[derive(Default)]
pub struct Jobs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) jobs: HashMap<String, Job>,
    pub(crate) tokens: HashMap<String, usize>,
    pub(crate) next: u64,
    pub(crate) knobs: Knobs,
}

/// How jobs behave.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// Records a result page holds (Zoho: 200,000).
    pub per_page: usize,
    /// Seconds a job stays ADDED, then IN PROGRESS, on the sandbox's clock.
    pub added_for: i64,
    pub runs_for: i64,
    /// Numbered pages a job may ask for (`bulk_read.json`'s `page` pattern: 1 to 50);
    /// `page_token` reaches past them.
    pub max_page: u32,
    /// The next job created fails.
    pub fail_next: bool,
    /// The next result download answers these bytes instead (hostile-file tests).
    pub result_override: Option<Vec<u8>>,
    /// Records a job exports per second once IN PROGRESS, on top of `runs_for` (0: no time per
    /// record). Zoho documents no speed; the bench sets one so a 200,000-record job runs minutes.
    pub records_per_second: u64,
    /// Jobs created from now on never leave IN PROGRESS (a job that never ends).
    pub never_ends: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs { per_page: 200_000, added_for: 5, runs_for: 30, max_page: 50, fail_next: false, result_override: None, records_per_second: 0, never_ends: false }
    }
}

pub(crate) struct Job {
    pub(crate) module: String,
    pub(crate) columns: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
    pub(crate) page: u64,
    pub(crate) more: bool,
    pub(crate) created: DateTime<Utc>,
    pub(crate) fails: bool,
    pub(crate) query: Value,
    /// Seconds it stays ADDED, then IN PROGRESS (`None`: forever), fixed at its creation.
    pub(crate) added_for: i64,
    pub(crate) runs_for: Option<i64>,
}

impl Jobs {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the knobs.
    pub fn tune(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut self.lock().knobs);
    }
}
