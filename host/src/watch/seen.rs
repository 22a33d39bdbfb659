//! What the watch already wrote: per module and record id, a digest of the version written,
//! kept in the host's key-value store so a restarted watch does not write it again. Bounded:
//! entries older than the retention, or past the cap (oldest first), are forgotten. A version
//! forgotten and read again is written again: a duplicate, never a loss.

use crate::kv::KvBackend;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Versions remembered at most (two keys each).
pub const CAP: usize = 100_000;

/// The digest written for a delete: a deleted id is written once.
pub const DELETED: &str = "deleted";

pub struct Seen {
    kv: Arc<dyn KvBackend>,
    namespace: String,
    bucket: String,
    /// Seconds an entry is kept.
    retention: u64,
    cap: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    d: String,
    t: u64,
}

fn version_key(module: &str, id: &str) -> String {
    format!("v/{module}/{id}")
}

fn time_key(t: u64, module: &str, id: &str) -> String {
    format!("t/{t:020}/{module}/{id}")
}

impl Seen {
    pub fn new(kv: Arc<dyn KvBackend>, namespace: &str, bucket: &str, retention: u64, cap: usize) -> Seen {
        Seen { kv, namespace: namespace.to_string(), bucket: bucket.to_string(), retention, cap }
    }

    /// Whether this version of `module`/`id` was written before. A store that cannot answer
    /// says no: writing twice beats losing an event.
    pub fn contains(&self, module: &str, id: &str, digest: &str) -> bool {
        match self.kv.get(&self.namespace, &self.bucket, &version_key(module, id)) {
            Ok(Some(bytes)) => serde_json::from_slice::<Entry>(&bytes).is_ok_and(|e| e.d == digest),
            _ => false,
        }
    }

    /// Notes that this version was written at `now` (unix seconds).
    pub fn remember(&self, module: &str, id: &str, digest: &str, now: u64) {
        let key = version_key(module, id);
        if let Ok(Some(bytes)) = self.kv.get(&self.namespace, &self.bucket, &key) {
            if let Ok(old) = serde_json::from_slice::<Entry>(&bytes) {
                let _ = self.kv.delete(&self.namespace, &self.bucket, &time_key(old.t, module, id));
            }
        }
        let entry = serde_json::json!({ "d": digest, "t": now }).to_string();
        let stored = self.kv.set(&self.namespace, &self.bucket, &key, entry.as_bytes()).and_then(|_| self.kv.set(&self.namespace, &self.bucket, &time_key(now, module, id), b""));
        if stored.is_err() {
            eprintln!("zoho-host watch: the key-value store did not keep {module}/{id} as written; a restart may write it again");
        }
    }

    /// Forgets entries past the retention, then the oldest past the cap. Returns how many.
    pub fn prune(&self, now: u64) -> usize {
        let Ok(keys) = self.kv.keys(&self.namespace, &self.bucket) else { return 0 };
        let times: Vec<&String> = keys.iter().filter(|k| k.starts_with("t/")).collect();
        let oldest_kept = now.saturating_sub(self.retention);
        let mut over = times.len().saturating_sub(self.cap);
        let mut forgotten = 0;
        // Time keys sort oldest first (zero-padded seconds).
        for key in times {
            let Some((t, module, id)) = parse_time_key(key) else { continue };
            if t >= oldest_kept && over == 0 {
                break;
            }
            over = over.saturating_sub(1);
            let _ = self.kv.delete(&self.namespace, &self.bucket, key);
            let version = version_key(module, id);
            let current = self.kv.get(&self.namespace, &self.bucket, &version).ok().flatten().and_then(|b| serde_json::from_slice::<Entry>(&b).ok());
            if current.is_some_and(|e| e.t == t) {
                let _ = self.kv.delete(&self.namespace, &self.bucket, &version);
            }
            forgotten += 1;
        }
        forgotten
    }
}

fn parse_time_key(key: &str) -> Option<(u64, &str, &str)> {
    let rest = key.strip_prefix("t/")?;
    let (t, rest) = rest.split_once('/')?;
    let (module, id) = rest.split_once('/')?;
    Some((t.parse().ok()?, module, id))
}

/// A digest of a record's data: keys in order, nulls and `$` metadata left out, lookups by
/// their id only. The same version read by the sweep (COQL) and by a notification (a read by
/// id) is then one event, though Zoho shapes the two answers differently.
pub fn digest(record: &Value) -> String {
    let canonical = canonical(record, true);
    let text = serde_json::to_string(&canonical).unwrap_or_default();
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn canonical(value: &Value, top: bool) -> Value {
    match value {
        Value::Object(map) => {
            if !top {
                if let Some(id) = map.get("id").filter(|id| !id.is_null()) {
                    return id.clone();
                }
            }
            let kept: Map<String, Value> = map.iter().filter(|(k, v)| !v.is_null() && !k.starts_with('$')).map(|(k, v)| (k.clone(), canonical(v, false))).collect();
            Value::Object(kept)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| canonical(v, false)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::KvStore;
    use serde_json::json;

    #[test]
    fn a_version_is_one_digest_whichever_answer_carried_it() {
        let by_coql = json!({ "id": "1", "Last_Name": "Doe", "Owner": { "id": "9" }, "Email": null, "Modified_Time": "2026-01-01T00:00:00+00:00" });
        let by_get = json!({ "Modified_Time": "2026-01-01T00:00:00+00:00", "Owner": { "id": "9", "name": "Pat", "email": "p@x" }, "Last_Name": "Doe", "id": "1", "$editable": true });
        assert_eq!(digest(&by_coql), digest(&by_get));
        let edited = json!({ "id": "1", "Last_Name": "Roe", "Owner": { "id": "9" }, "Modified_Time": "2026-01-01T00:00:00+00:00" });
        assert_ne!(digest(&by_coql), digest(&edited), "an edit within the same second is another version");
        let reassigned = json!({ "id": "1", "Last_Name": "Doe", "Owner": { "id": "8" }, "Modified_Time": "2026-01-01T00:00:00+00:00" });
        assert_ne!(digest(&by_coql), digest(&reassigned));
    }

    #[test]
    fn versions_are_remembered_durably_and_pruned_by_age_then_by_cap() {
        let dir = std::env::temp_dir().join(format!("zoho-watch-seen-{}", std::process::id()));
        let path = dir.join("kv.sqlite3");
        let kv: Arc<dyn KvBackend> = KvStore::open(&path).unwrap();
        let seen = Seen::new(kv, "ns", "seen", 100, 3);
        seen.remember("Leads", "1", "a", 1_000);
        assert!(seen.contains("Leads", "1", "a"));
        assert!(!seen.contains("Leads", "1", "b") && !seen.contains("Contacts", "1", "a"));
        // Reopened: a restarted watch remembers.
        let seen = Seen::new(KvStore::open(&path).unwrap(), "ns", "seen", 100, 3);
        assert!(seen.contains("Leads", "1", "a"));
        seen.remember("Leads", "1", "b", 1_050);
        assert!(seen.contains("Leads", "1", "b") && !seen.contains("Leads", "1", "a"));
        for (i, t) in [(2, 1_060), (3, 1_070), (4, 1_080)] {
            seen.remember("Leads", &i.to_string(), DELETED, t);
        }
        // Four entries, cap three: the oldest (id 1 at 1050) goes; then age drops those before 1075.
        assert_eq!(seen.prune(1_100), 1);
        assert!(!seen.contains("Leads", "1", "b") && seen.contains("Leads", "2", DELETED));
        assert_eq!(seen.prune(1_175), 2);
        assert!(seen.contains("Leads", "4", DELETED) && !seen.contains("Leads", "3", DELETED));
        let _ = std::fs::remove_dir_all(dir);
    }
}
