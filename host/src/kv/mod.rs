//! wasi:keyvalue@0.2.0-draft (store, atomics, batch) over a durable backend: SQLite (the
//! default, one file in the data directory, shared by the host processes on that machine) or
//! Redis (`--kv redis://...`, shared by host workers on many machines). A component's cached
//! tokens, field lists, cursors and counters survive restarts. Each step sees only its
//! connection's namespace.
//!
//! The backends are blocking (SQLite files, a Redis socket), so the host functions are async
//! and run every backend call on tokio's blocking threads: a slow disk, a lock held by another
//! process or a slow Redis never stalls the steps sharing the async runtime.
//!
//! One concern per module: the backend trait and the `--kv` choice here; [`batched`] credit
//! counters; [`sqlite`] and [`redis`] stores; [`files`], the store's file modes; [`wasi`], the
//! WIT bindings a step calls; [`conformance`], the behaviour every backend must have.

mod batched;
pub mod conformance;
mod files;
mod redis;
mod sqlite;
mod wasi;

pub use batched::{Batched, FLUSH_EVERY};
pub use files::private_dir;
pub use redis::RedisStore;
pub use sqlite::KvStore;
pub use wasi::{add_to_linker, Bucket, Kv, KvView};

use std::path::Path;
use std::sync::Arc;
use wasi::store;

/// What a key-value backend does: values and counters per (namespace, bucket, key).
pub trait KvBackend: Send + Sync {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, store::Error>;
    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<(), store::Error>;
    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<(), store::Error>;
    /// Every key of a bucket, sorted.
    fn keys(&self, namespace: &str, bucket: &str) -> Result<Vec<String>, store::Error>;
    /// Adds `delta` to a decimal counter atomically (absent counts as 0).
    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64, store::Error>;
    /// Whether steps get a store at all (false: `--kv none`, every `open` is no-such-store).
    fn provides_store(&self) -> bool {
        true
    }
    /// An increment answered from memory, without I/O, when the backend batches this counter
    /// (see [`Batched`]); `None` sends it to the backend.
    fn increment_in_memory(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Option<Result<u64, store::Error>> {
        let _ = (namespace, bucket, key, delta);
        None
    }
}

/// `--kv none`: no key-value store, as a host without wasi:keyvalue support would offer. The
/// component then runs stateless actions on the step's own memory and refuses stateful ones.
pub struct NoStore;

impl KvBackend for NoStore {
    fn get(&self, _: &str, _: &str, _: &str) -> Result<Option<Vec<u8>>, store::Error> {
        Err(store::Error::NoSuchStore)
    }
    fn set(&self, _: &str, _: &str, _: &str, _: &[u8]) -> Result<(), store::Error> {
        Err(store::Error::NoSuchStore)
    }
    fn delete(&self, _: &str, _: &str, _: &str) -> Result<(), store::Error> {
        Err(store::Error::NoSuchStore)
    }
    fn keys(&self, _: &str, _: &str) -> Result<Vec<String>, store::Error> {
        Err(store::Error::NoSuchStore)
    }
    fn increment(&self, _: &str, _: &str, _: &str, _: u64) -> Result<u64, store::Error> {
        Err(store::Error::NoSuchStore)
    }
    fn provides_store(&self) -> bool {
        false
    }
}

/// Opens the backend a `--kv` value names: `redis://...`, `none`, or a SQLite file path.
pub fn open_backend(spec: &str) -> anyhow::Result<Arc<dyn KvBackend>> {
    if spec == "none" {
        Ok(Arc::new(NoStore))
    } else if spec.starts_with("redis://") || spec.starts_with("rediss://") {
        Ok(Arc::new(RedisStore::open(spec)?))
    } else {
        Ok(KvStore::open(Path::new(spec))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("zoho-kv-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("kv.sqlite3")
    }

    /// Credits are counted in memory after a counter's first (durable) increment, seen at once
    /// by reads through the host, written within a flush, and written when the host stops.
    #[test]
    fn batched_credits_are_read_at_once_and_written_by_the_flush() {
        let path = temp_db("batched");
        let sqlite: Arc<dyn KvBackend> = KvStore::open(&path).unwrap();
        let batched = Batched::wrap(sqlite.clone());
        let key = "limits/credits/480000";
        assert_eq!(batched.increment("t", "", key, 1).unwrap(), 1, "the first increment is the backend's");
        assert_eq!(sqlite.get("t", "", key).unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(batched.increment_in_memory("t", "", key, 2).unwrap().unwrap(), 3);
        assert_eq!(batched.increment("t", "", key, 1).unwrap(), 4);
        assert_eq!(batched.get("t", "", key).unwrap().as_deref(), Some(&b"4"[..]), "reads add the unwritten count");
        // Another worker counts meanwhile: the next flush's total includes it.
        sqlite.increment("t", "", key, 10).unwrap();
        batched.flush();
        assert_eq!(sqlite.get("t", "", key).unwrap().as_deref(), Some(&b"14"[..]));
        assert_eq!(batched.increment("t", "", key, 1).unwrap(), 15);
        // Other counters are never batched; a set replaces the unwritten count.
        assert_eq!(batched.increment_in_memory("t", "", "limits/inflight/1/acquired", 1).map(|r| r.is_ok()), None);
        batched.set("t", "", key, b"100").unwrap();
        assert_eq!(batched.get("t", "", key).unwrap().as_deref(), Some(&b"100"[..]));
        assert_eq!(batched.increment("t", "", key, 1).unwrap(), 101);
        assert_eq!(batched.increment("t", "", key, 2).unwrap(), 103);
        // Overflow is refused as the backends refuse it.
        assert!(batched.increment("t", "", key, u64::MAX).is_err());
        drop(batched);
        assert_eq!(sqlite.get("t", "", key).unwrap().as_deref(), Some(&b"103"[..]), "written when the host stops");
    }

    #[test]
    fn sqlite_passes_the_conformance_suite_and_survives_reopening() {
        let path = temp_db("durable");
        conformance::values_and_namespaces(&*KvStore::open(&path).unwrap(), "t");
        let reopened = KvStore::open(&path).unwrap();
        assert_eq!(reopened.get("t-b", "", "token").unwrap().as_deref(), Some(&b"secret-b"[..]));
        conformance::increments_lose_nothing(KvStore::open(&temp_db("atomic")).unwrap(), "t");
        conformance::values_and_namespaces(&*Batched::wrap(KvStore::open(&temp_db("batched-conformance")).unwrap()), "t");
    }

    /// The database (access tokens inside) was created 0644 in a 0755 directory.
    #[cfg(unix)]
    #[test]
    fn the_database_and_its_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        let path = temp_db("private").with_file_name("nested").join("kv.sqlite3");
        let store = KvStore::open(&path).unwrap();
        store.set("t", "", "auth/token/x", b"secret").unwrap();
        assert_eq!(mode(&path), 0o600, "database file");
        for companion in ["kv.sqlite3-wal", "kv.sqlite3-shm"] {
            let file = path.with_file_name(companion);
            assert!(file.exists(), "{companion} exists in WAL mode");
            assert_eq!(mode(&file), 0o600, "{companion}");
        }
        assert_eq!(mode(path.parent().unwrap()), 0o700, "its directory");
        assert_eq!(mode(path.parent().unwrap().parent().unwrap()), 0o700, "a directory created on the way");
        // Files left 0644 by an older host are narrowed when opened (the companions exist while
        // a connection is open: the last one to close removes them), by path, while this
        // process holds the database through `store`.
        for file in ["kv.sqlite3", "kv.sqlite3-wal", "kv.sqlite3-shm"] {
            std::fs::set_permissions(path.with_file_name(file), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let again = KvStore::open(&path).unwrap();
        for file in ["kv.sqlite3", "kv.sqlite3-wal", "kv.sqlite3-shm"] {
            assert_eq!(mode(&path.with_file_name(file)), 0o600, "{file} narrowed on reopening");
        }
        assert_eq!(again.get("t", "", "auth/token/x").unwrap().as_deref(), Some(&b"secret"[..]));
        drop(store);
    }
}
