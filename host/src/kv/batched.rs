//! Credit counters added up in memory and written in batches, so a request never waits for a
//! durable write.

use super::wasi::store;
use super::KvBackend;
use std::sync::{Arc, Mutex};

/// Counters no step needs exact across workers at once: the credits spent per hour (the
/// key-value contract's `limits/credits/<hour>`). Budget checks tolerate a short delay;
/// the in-flight, rate and lease counters never get one.
const BATCHED_COUNTERS: &str = "limits/credits/";
/// How often batched counts are written to the backend.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// A batched counter in this process: its backend total when last written, what was added
/// since, and whether it was used since the last flush.
struct Batch {
    durable: u64,
    pending: u64,
    used: bool,
}

/// A backend whose credit counters are added up in memory and written every [`FLUSH_EVERY`]
/// (and when the host stops), so a request never waits for a durable write. The first
/// increment of a counter in this process goes to the backend, so exactly one step in all
/// workers sees a counter start (the component's hourly retention runs there); later ones are
/// answered from memory with the backend's total as of the last write plus this process's
/// unwritten count. Reads add the unwritten count too, so steps of this host see every credit
/// at once and other workers within [`FLUSH_EVERY`].
pub struct Batched {
    inner: Arc<dyn KvBackend>,
    counters: Mutex<std::collections::HashMap<(String, String, String), Batch>>,
    /// Held by a flush and by a set or delete of a batched counter, so a count written late
    /// never lands on a value set after it.
    writing: Mutex<()>,
}

impl Batched {
    pub fn wrap(inner: Arc<dyn KvBackend>) -> Arc<Batched> {
        let batched = Arc::new(Batched { inner, counters: Mutex::default(), writing: Mutex::default() });
        let weak = Arc::downgrade(&batched);
        std::thread::spawn(move || loop {
            std::thread::sleep(FLUSH_EVERY);
            match weak.upgrade() {
                Some(batched) => batched.flush(),
                None => return,
            }
        });
        batched
    }

    fn batched(key: &str) -> bool {
        key.starts_with(BATCHED_COUNTERS)
    }

    fn id(namespace: &str, bucket: &str, key: &str) -> (String, String, String) {
        (namespace.to_string(), bucket.to_string(), key.to_string())
    }

    /// Writes every unwritten count to the backend; a failed write is kept for the next.
    pub fn flush(&self) {
        let Ok(_writing) = self.writing.lock() else { return };
        let Ok(mut counters) = self.counters.lock() else { return };
        let work: Vec<((String, String, String), u64)> = counters.iter().filter(|(_, b)| b.pending > 0).map(|(id, b)| (id.clone(), b.pending)).collect();
        counters.retain(|_, b| b.pending > 0 || std::mem::take(&mut b.used));
        drop(counters);
        for ((namespace, bucket, key), delta) in work {
            let written = self.inner.increment(&namespace, &bucket, &key, delta);
            let Ok(mut counters) = self.counters.lock() else { return };
            match (written, counters.get_mut(&(namespace, bucket, key.clone()))) {
                (Ok(total), Some(batch)) => {
                    batch.durable = total;
                    batch.pending = batch.pending.saturating_sub(delta);
                }
                (Ok(_), None) => {}
                (Err(e), _) => eprintln!("zoho-host: {delta} credits of {key} not yet written ({e:?}); retrying"),
            }
        }
    }

    /// Forgets a counter's unwritten count (a set or delete replaces the counter).
    fn forget(&self, namespace: &str, bucket: &str, key: &str) {
        if let Ok(mut counters) = self.counters.lock() {
            counters.remove(&Self::id(namespace, bucket, key));
        }
    }
}

impl Drop for Batched {
    fn drop(&mut self) {
        self.flush();
    }
}

fn overflow(key: &str) -> store::Error {
    store::Error::Other(format!("counter {key:?} overflows"))
}

impl KvBackend for Batched {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, store::Error> {
        let stored = self.inner.get(namespace, bucket, key)?;
        if !Self::batched(key) {
            return Ok(stored);
        }
        let pending = self.counters.lock().ok().and_then(|c| c.get(&Self::id(namespace, bucket, key)).map(|b| b.pending)).unwrap_or(0);
        if pending == 0 {
            return Ok(stored);
        }
        let written = match &stored {
            None => 0,
            Some(bytes) => match std::str::from_utf8(bytes).ok().and_then(|s| s.parse::<u64>().ok()) {
                Some(n) => n,
                None => return Ok(stored),
            },
        };
        Ok(Some(written.saturating_add(pending).to_string().into_bytes()))
    }

    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<(), store::Error> {
        if !Self::batched(key) {
            return self.inner.set(namespace, bucket, key, value);
        }
        let _writing = self.writing.lock().map_err(|_| store::Error::Other("key-value batch lock poisoned".into()))?;
        self.forget(namespace, bucket, key);
        self.inner.set(namespace, bucket, key, value)
    }

    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<(), store::Error> {
        if !Self::batched(key) {
            return self.inner.delete(namespace, bucket, key);
        }
        let _writing = self.writing.lock().map_err(|_| store::Error::Other("key-value batch lock poisoned".into()))?;
        self.forget(namespace, bucket, key);
        self.inner.delete(namespace, bucket, key)
    }

    fn keys(&self, namespace: &str, bucket: &str) -> Result<Vec<String>, store::Error> {
        self.inner.keys(namespace, bucket)
    }

    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64, store::Error> {
        if let Some(answer) = self.increment_in_memory(namespace, bucket, key, delta) {
            return answer;
        }
        let total = self.inner.increment(namespace, bucket, key, delta)?;
        if Self::batched(key) {
            if let Ok(mut counters) = self.counters.lock() {
                let batch = counters.entry(Self::id(namespace, bucket, key)).or_insert(Batch { durable: 0, pending: 0, used: true });
                batch.durable = batch.durable.max(total);
                return Ok(batch.durable.saturating_add(batch.pending));
            }
        }
        Ok(total)
    }

    fn provides_store(&self) -> bool {
        self.inner.provides_store()
    }

    fn increment_in_memory(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Option<Result<u64, store::Error>> {
        if !Self::batched(key) {
            return None;
        }
        let mut counters = self.counters.lock().ok()?;
        let batch = counters.get_mut(&Self::id(namespace, bucket, key))?;
        let Some(pending) = batch.pending.checked_add(delta) else { return Some(Err(overflow(key))) };
        let Some(total) = batch.durable.checked_add(pending) else { return Some(Err(overflow(key))) };
        batch.pending = pending;
        batch.used = true;
        Some(Ok(total))
    }
}
