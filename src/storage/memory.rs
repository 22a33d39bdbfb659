//! `Storage` in the step's own memory: `Memory` for unit tests, and `StepOnly` for a host that
//! provides no key-value store (its state ends with the step, so it says it is not durable).

use super::{KeyPage, Storage};
use crate::error::Result;
use std::cell::RefCell;
use std::collections::HashMap;

/// A map of keys to values; counters as decimal ASCII, as every host store keeps them.
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

/// The storage of a step whose host has no key-value store: tokens, caches and counters live
/// for this step only, and actions that keep state between steps refuse to run on it.
#[derive(Default)]
pub struct StepOnly(Memory);

impl Storage for StepOnly {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.0.get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.0.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.0.delete(key)
    }
    fn increment(&self, key: &str, delta: u64) -> Result<u64> {
        self.0.increment(key, delta)
    }
    fn list_keys(&self, cursor: Option<u64>) -> Result<KeyPage> {
        self.0.list_keys(cursor)
    }
    fn durable(&self) -> bool {
        false
    }
}

/// A storage whose every operation fails, as a broken host store would.
#[cfg(test)]
pub struct Broken;

#[cfg(test)]
impl Storage for Broken {
    fn get(&self, _: &str) -> Result<Option<Vec<u8>>> {
        Err(broken())
    }
    fn set(&self, _: &str, _: &[u8]) -> Result<()> {
        Err(broken())
    }
    fn delete(&self, _: &str) -> Result<()> {
        Err(broken())
    }
    fn increment(&self, _: &str, _: u64) -> Result<u64> {
        Err(broken())
    }
}

#[cfg(test)]
fn broken() -> crate::error::ZohoError {
    crate::error::ZohoError::new(crate::error::ErrorKind::Internal, "the host's key-value storage failed: disk full")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::storage::{get_fresh, put_fresh, require_durable};
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn fresh_entries_expire_and_garbage_is_absent() {
        let m = Memory::default();
        put_fresh(&m, "k", &json!([1, 2])).unwrap();
        assert_eq!(get_fresh(&m, "k", Duration::from_secs(60)).unwrap(), Some(json!([1, 2])));
        assert_eq!(get_fresh(&m, "k", Duration::ZERO).unwrap(), None);
        m.set("bad", b"{not json").unwrap();
        assert_eq!(get_fresh(&m, "bad", Duration::from_secs(60)).unwrap(), None);
    }

    #[test]
    fn step_memory_works_for_the_step_and_says_it_is_not_durable() {
        let step = StepOnly::default();
        step.set("a", b"1").unwrap();
        assert_eq!(step.get("a").unwrap(), Some(b"1".to_vec()));
        // Counters are decimal ASCII, read back with `get` as every host store must.
        assert_eq!(step.increment("c", 41).unwrap(), 41);
        assert_eq!(step.increment("c", 1).unwrap(), 42);
        assert_eq!(step.get("c").unwrap(), Some(b"42".to_vec()));
        assert_eq!(step.list_keys(None).unwrap().keys, vec!["a".to_string(), "c".to_string()]);
        step.delete("a").unwrap();
        assert_eq!(step.get("a").unwrap(), None);
        assert!(!step.durable() && Memory::default().durable());
    }

    #[test]
    fn stateful_actions_refuse_step_memory_naming_what_the_host_must_provide() {
        assert!(require_durable(&Memory::default(), "a sweep cursor").is_ok());
        let refused = require_durable(&StepOnly::default(), "a sweep cursor").unwrap_err();
        assert_eq!(refused.kind, ErrorKind::InvalidInput);
        assert!(refused.message.starts_with("this action keeps a sweep cursor between steps: the host must provide a durable wasi:keyvalue store"), "{}", refused.message);
        assert!(refused.message.contains("Key-value contract"), "{}", refused.message);
    }
}
