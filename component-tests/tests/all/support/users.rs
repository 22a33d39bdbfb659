//! Users changing Contacts (or another module's records) under running sweeps, and the ledger
//! of the no-loss property: shared by the unsliced (`incremental.rs`), sliced
//! (`incremental_slices.rs`) and records-list (`incremental_records.rs`) property tests.

use component_tests::Harness;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

pub fn instant(zoho_time: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(zoho_time).map(|t| t.timestamp()).unwrap_or(i64::MIN)
}

#[derive(Debug, Clone)]
pub enum Change {
    Modify(usize),
    /// Two modifications of one record within the same second.
    ModifyTwice(usize),
    Create,
    Delete(usize),
    Tick,
}

pub fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        6 => (0usize..10_000).prop_map(Change::Modify),
        3 => (0usize..10_000).prop_map(Change::ModifyTwice),
        2 => Just(Change::Create),
        1 => (0usize..10_000).prop_map(Change::Delete),
        1 => Just(Change::Tick)
    ]
}

/// A record's version: modifications write `v<n>` (n grows) into Last_Name, a delivered field,
/// so a later version differs in content even within one Modified_Time second.
pub fn version_of(last_name: &Value) -> u64 {
    last_name.as_str().and_then(|n| n.strip_prefix('v')).and_then(|n| n.parse().ok()).unwrap_or(0)
}

// Each binary that shares this module uses a part of it.
#[allow(dead_code)]
pub fn versions_now(h: &Harness) -> HashMap<String, u64> {
    versions_of(h, "Contacts", "Last_Name")
}

/// Each record's version in `module`, written in `field`.
pub fn versions_of(h: &Harness, module: &str, field: &str) -> HashMap<String, u64> {
    h.sandbox
        .record_versions(module)
        .into_iter()
        .map(|(id, _)| {
            let version = h.sandbox.record(module, &id).map_or(0, |r| version_of(&r[field]));
            (id, version)
        })
        .collect()
}

/// What the sweeps delivered and what users did, sweep by sweep.
pub struct Ledger {
    /// The module users change, the field holding each version, and what else a new record
    /// of it carries: Contacts' Last_Name unless a test says otherwise.
    pub module: &'static str,
    pub field: &'static str,
    pub new_record: Value,
    next_version: u64,
    pub delivered: HashMap<String, u64>,
    starts: Vec<HashMap<String, u64>>,
    deleted: HashSet<String>,
    /// Per sweep: records changed while it ran to a Modified_Time past its bound (`until`).
    pushed_past: Vec<HashSet<String>>,
    /// A sliced sweep's slices that have delivered their last page, as key ranges (after,
    /// through; `None` = unbounded): a record changed while the sweep runs to a key inside one
    /// of them is past that slice's walk, as a key past `until` is past a single walk's, and is
    /// the next sweep's (it starts before `until`'s second).
    pub walked: Vec<(Option<(i64, u64)>, Option<(i64, u64)>)>,
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger::of("Contacts", "Last_Name", json!({}))
    }
}

impl Ledger {
    /// A ledger of `module`'s records, versions written in `field`.
    pub fn of(module: &'static str, field: &'static str, new_record: Value) -> Ledger {
        Ledger { module, field, new_record, next_version: 0, delivered: HashMap::new(), starts: Vec::new(), deleted: HashSet::new(), pushed_past: Vec::new(), walked: Vec::new() }
    }

    /// Modifies a record as a user would; returns its Modified_Time after the change.
    pub fn modify(&mut self, h: &Harness, id: &str) -> i64 {
        self.next_version += 1;
        let mut values = json!({});
        values[self.field] = json!(format!("v{}", self.next_version));
        h.sandbox.modify_record(self.module, id, values);
        h.sandbox.record(self.module, id).and_then(|r| r["Modified_Time"].as_str().map(instant)).unwrap_or(i64::MIN)
    }

    pub fn begin_sweep(&mut self, h: &Harness) {
        self.starts.push(versions_of(h, self.module, self.field));
        self.pushed_past.push(HashSet::new());
        self.walked.clear();
    }

    /// Notes that a slice with this result's range has delivered its last page.
    // Only the sliced property test has slices; the unsliced one compiles this module too.
    #[allow(dead_code)]
    pub fn slice_walked(&mut self, result: &Value) {
        let key = |time: &Value, id: &Value| Some((time.as_str().map(instant)?, id.as_str()?.parse::<u64>().ok()?));
        let slice = &result["slice"];
        self.walked.push((key(&slice["from"], &slice["from_id"]), key(&slice["to"], &slice["to_id"])));
    }

    /// Notes the records of a step's result, best version per id.
    pub fn deliver(&mut self, result: &Value) {
        for record in result["records"].as_array().expect("records") {
            let best = self.delivered.entry(record["id"].as_str().expect("id").to_string()).or_insert(0);
            *best = (*best).max(version_of(&record[self.field]));
        }
    }

    /// A user's change while the current sweep (bounded by `until`) runs.
    pub fn apply(&mut self, h: &Harness, change: &Change, until: i64) {
        let versions = h.sandbox.record_versions(self.module);
        let pushed = |ledger: &mut Ledger, id: &str, at: i64| {
            let key = (at, id.parse::<u64>().unwrap_or(u64::MAX));
            let in_walked = ledger.walked.iter().any(|(after, through)| after.is_none_or(|a| key > a) && through.is_none_or(|t| key <= t));
            if at > until || in_walked {
                ledger.pushed_past.last_mut().expect("a sweep").insert(id.to_string());
            }
        };
        match change {
            Change::Modify(i) => {
                let id = &versions[i % versions.len()].0;
                let at = self.modify(h, id);
                pushed(self, id, at);
            }
            Change::ModifyTwice(i) => {
                let id = &versions[i % versions.len()].0;
                self.modify(h, id);
                let at = self.modify(h, id);
                pushed(self, id, at);
            }
            Change::Create => {
                let mut record = self.new_record.clone();
                record[self.field] = json!("New");
                h.sandbox.create_record(self.module, record);
            }
            Change::Delete(i) => {
                let id = versions[i % versions.len()].0.clone();
                h.sandbox.delete_record(self.module, &id);
                self.deleted.insert(id);
            }
            Change::Tick => h.sandbox.clock().advance(chrono::Duration::seconds(1)),
        }
    }

    /// After sweep `k`'s commit: a record it delivered changes again within the same second,
    /// the clock moves on 3 s after every other sweep (so the sweep after next no longer reaches
    /// back to that second: dropping the change once loses it), and sweep k-1 is checked.
    ///
    /// Everything that existed when sweep k-1 began is accounted for by now: delivered (or a
    /// later version), deleted, or changed again while sweep k ran to a time past sweep k's
    /// bound. No sweep that ends while records keep changing can deliver that one (Zoho keeps
    /// no older version, and the newer one is after the bound); the version it had when sweep k
    /// began is in starts[k], checked after sweep k+1 by the same rule, and the last, quiet
    /// sweep delivers every record without exception.
    pub fn end_sweep(&mut self, h: &Harness, k: usize, what: &str) {
        if let Some((id, _)) = h.sandbox.record_versions(self.module).into_iter().max_by_key(|(id, t)| (instant(t), id.clone())) {
            self.modify(h, &id);
        }
        if k.is_multiple_of(2) {
            h.sandbox.clock().advance(chrono::Duration::seconds(3));
        }
        if k >= 1 {
            for (id, version) in &self.starts[k - 1] {
                let ok = self.deleted.contains(id) || self.delivered.get(id).is_some_and(|d| d >= version) || self.pushed_past[k].contains(id);
                assert!(ok, "{what}sweep {} lost {id} at version {version} (delivered {:?})", k - 1, self.delivered.get(id));
            }
        }
    }

    /// After a quiet last sweep: every version of `last` was delivered.
    pub fn check_final(&self, last: &HashMap<String, u64>, what: &str) {
        for (id, version) in last {
            assert!(self.delivered.get(id).is_some_and(|d| d >= version), "{what}the final sweep lost {id} at version {version}");
        }
    }
}
