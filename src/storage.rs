//! The `Storage` seam: the connection's key-value namespace (wasi:keyvalue in the component).

use crate::error::{ErrorKind, Result, ZohoError};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub mod keys;
pub(crate) mod memory;
pub(crate) mod retention;

/// An hour, for the retention rules (limits keeps its buckets by the hour too).
const HOUR_MS_FOR_RETENTION: u64 = 3_600_000;

pub trait Storage {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    fn set(&self, key: &str, value: &[u8]) -> Result<()>;
    fn delete(&self, key: &str) -> Result<()>;
    /// Adds `delta` to a counter atomically across every instance sharing the store;
    /// returns the new value (an absent counter counts as 0).
    fn increment(&self, key: &str, delta: u64) -> Result<u64>;
    /// One page of the namespace's keys from `cursor` (None: the first page), with the cursor
    /// of the next page; for retention sweeps. A store that cannot list answers no keys.
    fn list_keys(&self, cursor: Option<u64>) -> Result<KeyPage> {
        let _ = cursor;
        Ok(KeyPage::default())
    }
    /// Whether what is written outlives the step (false: the host gave no key-value store and
    /// the step runs on its own memory, see `memory::StepOnly`).
    fn durable(&self) -> bool {
        true
    }
}

/// Refuses an action that keeps state between steps when the step's storage does not outlive
/// it, before anything is sent; `keeps` says what the action keeps, for the message.
pub fn require_durable(storage: &dyn Storage, keeps: &str) -> Result<()> {
    if storage.durable() {
        return Ok(());
    }
    Err(ZohoError::invalid_input(format!(
        "this action keeps {keeps} between steps: the host must provide a durable wasi:keyvalue store (store and atomics, bucket \"\", one namespace per connection; see the README's \"Key-value contract\"), and this host provides none. Actions that keep nothing (records, COQL, raw requests, Books) run without one"
    )))
}

/// A page of keys and where the next page starts (None: this was the last).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct KeyPage {
    pub keys: Vec<String>,
    pub cursor: Option<u64>,
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A cached value stored at most `ttl` ago. An unreadable entry counts as absent, so a
/// corrupted cache is refetched rather than failing the step.
pub fn get_fresh(storage: &dyn Storage, key: &str, ttl: Duration) -> Result<Option<Value>> {
    let Some(bytes) = storage.get(key)? else { return Ok(None) };
    let Ok(mut entry) = serde_json::from_slice::<Value>(&bytes) else { return Ok(None) };
    let stored_at = entry.get("stored_at_ms").and_then(Value::as_u64).unwrap_or(0);
    // A stored time in the future (a skewed clock or garbage) is not trusted to be fresh.
    if stored_at > now_ms().saturating_add(60_000) || now_ms().saturating_sub(stored_at) >= u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX) {
        return Ok(None);
    }
    Ok(entry.get_mut("value").map(Value::take))
}

/// Stores `value` with the time it was stored, for `get_fresh`.
pub fn put_fresh(storage: &dyn Storage, key: &str, value: &Value) -> Result<()> {
    let entry = json!({ "stored_at_ms": now_ms(), "value": value });
    let bytes = serde_json::to_vec(&entry).map_err(|e| ZohoError::new(ErrorKind::Internal, format!("cannot encode {key}: {e}")))?;
    storage.set(key, &bytes)
}
