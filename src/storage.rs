//! The `Storage` seam: the connection's key-value namespace (wasi:keyvalue in the component).

use crate::error::{ErrorKind, Result, ZohoError};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub mod retention;

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

#[cfg(test)]
pub mod memory {
    //! An in-memory `Storage` for unit tests.
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[derive(Default)]
    pub struct Memory(pub RefCell<HashMap<String, Vec<u8>>>);

    impl Storage for Memory {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
            Ok(self.0.borrow().get(key).cloned())
        }
        fn set(&self, key: &str, value: &[u8]) -> Result<()> {
            self.0.borrow_mut().insert(key.into(), value.to_vec());
            Ok(())
        }
        fn delete(&self, key: &str) -> Result<()> {
            self.0.borrow_mut().remove(key);
            Ok(())
        }
        fn increment(&self, key: &str, delta: u64) -> Result<u64> {
            let mut map = self.0.borrow_mut();
            let current = map.get(key).and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok()).unwrap_or(0);
            let next = current.saturating_add(delta);
            map.insert(key.into(), next.to_string().into_bytes());
            Ok(next)
        }
        fn list_keys(&self, cursor: Option<u64>) -> Result<KeyPage> {
            // Small pages, so tests walk the cursor as the host's store makes callers do.
            const PAGE: usize = 7;
            let mut keys: Vec<String> = self.0.borrow().keys().cloned().collect();
            keys.sort();
            let offset = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX);
            let page: Vec<String> = keys.iter().skip(offset).take(PAGE).cloned().collect();
            let next = offset.saturating_add(page.len());
            Ok(KeyPage { cursor: (next < keys.len()).then_some(next as u64), keys: page })
        }
    }

    /// A storage whose every operation fails, as a broken host store would.
    pub struct Broken;

    impl Storage for Broken {
        fn get(&self, _: &str) -> Result<Option<Vec<u8>>> {
            Err(ZohoError::new(ErrorKind::Internal, "the host's key-value storage failed: disk full"))
        }
        fn set(&self, _: &str, _: &[u8]) -> Result<()> {
            Err(ZohoError::new(ErrorKind::Internal, "the host's key-value storage failed: disk full"))
        }
        fn delete(&self, _: &str) -> Result<()> {
            Err(ZohoError::new(ErrorKind::Internal, "the host's key-value storage failed: disk full"))
        }
        fn increment(&self, _: &str, _: u64) -> Result<u64> {
            Err(ZohoError::new(ErrorKind::Internal, "the host's key-value storage failed: disk full"))
        }
    }

    #[test]
    fn fresh_entries_expire_and_garbage_is_absent() {
        let m = Memory::default();
        put_fresh(&m, "k", &json!([1, 2])).unwrap();
        assert_eq!(get_fresh(&m, "k", Duration::from_secs(60)).unwrap(), Some(json!([1, 2])));
        assert_eq!(get_fresh(&m, "k", Duration::ZERO).unwrap(), None);
        m.set("bad", b"{not json").unwrap();
        assert_eq!(get_fresh(&m, "bad", Duration::from_secs(60)).unwrap(), None);
    }
}
