//! The `Storage` seam: the connection's key-value namespace (wasi:keyvalue in the component).

use crate::error::{ErrorKind, Result, ZohoError};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Storage {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    fn set(&self, key: &str, value: &[u8]) -> Result<()>;
    fn delete(&self, key: &str) -> Result<()>;
    /// Adds `delta` to a counter atomically across every instance sharing the store;
    /// returns the new value (an absent counter counts as 0).
    fn increment(&self, key: &str, delta: u64) -> Result<u64>;
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
    if now_ms().saturating_sub(stored_at) >= ttl.as_millis() as u64 {
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
            map.insert(key.into(), (current + delta).to_string().into_bytes());
            Ok(current + delta)
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
