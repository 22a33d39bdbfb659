//! The Redis backend, shared by host workers on many machines.

use super::wasi::store;
use super::KvBackend;
use anyhow::Context as _;
use std::sync::Mutex;

/// The Redis backend: a hash per (namespace, bucket), counters with HINCRBY, so several host
/// workers share tokens, cursors and counters.
pub struct RedisStore {
    connection: Mutex<redis::Connection>,
}

impl RedisStore {
    pub fn open(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).with_context(|| format!("Redis URL {url:?}"))?;
        let connection = client.get_connection().with_context(|| format!("connecting to Redis at {url}"))?;
        Ok(RedisStore { connection: Mutex::new(connection) })
    }

    fn hash(namespace: &str, bucket: &str) -> String {
        // Lengths first, so no namespace/bucket pair can collide with another.
        format!("zoho-kv:{}:{namespace}:{}:{bucket}", namespace.len(), bucket.len())
    }

    fn with<T>(&self, f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>) -> Result<T, store::Error> {
        let mut connection = self.connection.lock().map_err(|_| store::Error::Other("Redis connection lock poisoned".into()))?;
        f(&mut connection).map_err(|e| store::Error::Other(format!("Redis: {e}")))
    }
}

impl KvBackend for RedisStore {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, store::Error> {
        self.with(|c| redis::cmd("HGET").arg(Self::hash(namespace, bucket)).arg(key).query(c))
    }

    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<(), store::Error> {
        self.with(|c| redis::cmd("HSET").arg(Self::hash(namespace, bucket)).arg(key).arg(value).query::<i64>(c).map(drop))
    }

    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<(), store::Error> {
        self.with(|c| redis::cmd("HDEL").arg(Self::hash(namespace, bucket)).arg(key).query::<i64>(c).map(drop))
    }

    fn keys(&self, namespace: &str, bucket: &str) -> Result<Vec<String>, store::Error> {
        let mut keys: Vec<String> = self.with(|c| redis::cmd("HKEYS").arg(Self::hash(namespace, bucket)).query(c))?;
        keys.sort();
        Ok(keys)
    }

    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64, store::Error> {
        let delta = i64::try_from(delta).map_err(|_| store::Error::Other(format!("increment of {delta} is too large")))?;
        let value: i64 = self.with(|c| redis::cmd("HINCRBY").arg(Self::hash(namespace, bucket)).arg(key).arg(delta).query(c))?;
        u64::try_from(value).map_err(|_| store::Error::Other(format!("counter {key:?} is negative")))
    }
}
