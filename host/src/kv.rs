//! wasi:keyvalue@0.2.0-draft (store, atomics, batch) over SQLite, so a component's cached
//! tokens, field lists and cursors survive the host restarting and are shared by every host
//! process on the same data directory. Each step sees only its connection's namespace.

use anyhow::Context as _;
use rusqlite::{params, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};
use wasmtime::component::{HasData, Resource, ResourceTable};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/deps/keyvalue",
        world: "wasi:keyvalue/imports",
        with: { "wasi:keyvalue/store.bucket": super::Bucket },
    });
}

use bindings::wasi::keyvalue::{atomics, batch, store};

/// Keys listed per `list-keys` call.
const LIST_PAGE: u64 = 1000;
/// A bucket name longer than this is refused.
const MAX_BUCKET_NAME: usize = 128;

/// The durable store: one SQLite file for every namespace.
pub struct KvStore {
    db: Mutex<rusqlite::Connection>,
}

/// An open bucket: a namespace (whose data) and a bucket name (which part of it).
pub struct Bucket {
    namespace: Arc<str>,
    name: String,
}

impl KvStore {
    pub fn open(path: &Path) -> anyhow::Result<Arc<Self>> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let db = rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        // WAL lets several host processes share the file; busy_timeout makes them wait their turn.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS kv (
                namespace TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                PRIMARY KEY (namespace, bucket, key)) WITHOUT ROWID;",
        )?;
        Ok(Arc::new(KvStore { db: Mutex::new(db) }))
    }

    fn with_db<T>(&self, f: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T>) -> Result<T, store::Error> {
        let mut db = self.db.lock().map_err(|_| store::Error::Other("key-value store lock poisoned".into()))?;
        f(&mut db).map_err(|e| store::Error::Other(format!("key-value store: {e}")))
    }

    pub fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, store::Error> {
        self.with_db(|db| {
            db.prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?
                .query_row(params![namespace, bucket, key], |row| row.get(0))
                .optional()
        })
    }

    pub fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<(), store::Error> {
        self.with_db(|db| {
            db.prepare_cached("INSERT OR REPLACE INTO kv (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![namespace, bucket, key, value])
                .map(drop)
        })
    }

    pub fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<(), store::Error> {
        self.with_db(|db| {
            db.prepare_cached("DELETE FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?
                .execute(params![namespace, bucket, key])
                .map(drop)
        })
    }

    fn list(&self, namespace: &str, bucket: &str, offset: u64) -> Result<Vec<String>, store::Error> {
        self.with_db(|db| {
            let mut stmt = db.prepare_cached(
                "SELECT key FROM kv WHERE namespace = ?1 AND bucket = ?2 ORDER BY key LIMIT ?3 OFFSET ?4",
            )?;
            let keys = stmt.query_map(params![namespace, bucket, LIST_PAGE as i64, offset as i64], |row| row.get(0))?;
            keys.collect()
        })
    }

    /// Every key of a bucket (for tests and inspection).
    pub fn keys(&self, namespace: &str, bucket: &str) -> Result<Vec<String>, store::Error> {
        self.with_db(|db| {
            let mut stmt = db.prepare_cached("SELECT key FROM kv WHERE namespace = ?1 AND bucket = ?2 ORDER BY key")?;
            let keys = stmt.query_map(params![namespace, bucket], |row| row.get(0))?;
            keys.collect()
        })
    }

    /// Adds `delta` to a decimal counter in one transaction (absent counts as 0).
    pub fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64, store::Error> {
        let mut db = self.db.lock().map_err(|_| store::Error::Other("key-value store lock poisoned".into()))?;
        let sql_error = |e: rusqlite::Error| store::Error::Other(format!("key-value store: {e}"));
        // IMMEDIATE takes the write lock first, so two processes cannot both read the old value.
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql_error)?;
        let current: Option<Vec<u8>> = tx
            .query_row("SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3", params![namespace, bucket, key], |r| r.get(0))
            .optional()
            .map_err(sql_error)?;
        let current = match current {
            None => 0,
            Some(bytes) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| store::Error::Other(format!("key {key:?} does not hold a counter")))?,
        };
        let next = current.checked_add(delta).ok_or_else(|| store::Error::Other(format!("counter {key:?} overflows")))?;
        tx.execute(
            "INSERT OR REPLACE INTO kv (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4)",
            params![namespace, bucket, key, next.to_string().into_bytes()],
        )
        .map_err(sql_error)?;
        tx.commit().map_err(sql_error)?;
        Ok(next)
    }
}

/// What the keyvalue imports see of a step: its namespace, the store, the resource table.
pub struct KvView<'a> {
    pub store: &'a KvStore,
    pub namespace: &'a Arc<str>,
    pub table: &'a mut ResourceTable,
}

pub struct Kv;

impl HasData for Kv {
    type Data<'a> = KvView<'a>;
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    view: fn(&mut T) -> KvView<'_>,
) -> anyhow::Result<()> {
    store::add_to_linker::<_, Kv>(linker, view)?;
    atomics::add_to_linker::<_, Kv>(linker, view)?;
    batch::add_to_linker::<_, Kv>(linker, view)?;
    Ok(())
}

impl KvView<'_> {
    fn bucket(&self, bucket: &Resource<Bucket>) -> Result<(Arc<str>, String), store::Error> {
        let b = self.table.get(bucket).map_err(|e| store::Error::Other(e.to_string()))?;
        Ok((b.namespace.clone(), b.name.clone()))
    }
}

impl store::Host for KvView<'_> {
    fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, store::Error> {
        if identifier.len() > MAX_BUCKET_NAME {
            return Err(store::Error::Other(format!("bucket names are at most {MAX_BUCKET_NAME} bytes")));
        }
        let bucket = Bucket { namespace: self.namespace.clone(), name: identifier };
        self.table.push(bucket).map_err(|e| store::Error::Other(e.to_string()))
    }
}

impl store::HostBucket for KvView<'_> {
    fn get(&mut self, bucket: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, store::Error> {
        let (ns, name) = self.bucket(&bucket)?;
        self.store.get(&ns, &name, &key)
    }

    fn set(&mut self, bucket: Resource<Bucket>, key: String, value: Vec<u8>) -> Result<(), store::Error> {
        let (ns, name) = self.bucket(&bucket)?;
        self.store.set(&ns, &name, &key, &value)
    }

    fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<(), store::Error> {
        let (ns, name) = self.bucket(&bucket)?;
        self.store.delete(&ns, &name, &key)
    }

    fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> Result<bool, store::Error> {
        let (ns, name) = self.bucket(&bucket)?;
        Ok(self.store.get(&ns, &name, &key)?.is_some())
    }

    fn list_keys(&mut self, bucket: Resource<Bucket>, cursor: Option<u64>) -> Result<store::KeyResponse, store::Error> {
        let (ns, name) = self.bucket(&bucket)?;
        let offset = cursor.unwrap_or(0);
        let keys = self.store.list(&ns, &name, offset)?;
        let cursor = (keys.len() as u64 == LIST_PAGE).then_some(offset + LIST_PAGE);
        Ok(store::KeyResponse { keys, cursor })
    }

    fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KvView<'_> {
    fn increment(&mut self, bucket: Resource<Bucket>, key: String, delta: u64) -> Result<u64, store::Error> {
        let (ns, name) = self.bucket(&bucket)?;
        self.store.increment(&ns, &name, &key, delta)
    }
}

impl batch::Host for KvView<'_> {
    fn get_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Result<Vec<Option<(String, Vec<u8>)>>, store::Error> {
        let (ns, name) = self.bucket(&bucket)?;
        keys.into_iter().map(|key| Ok(self.store.get(&ns, &name, &key)?.map(|v| (key, v)))).collect()
    }

    fn set_many(&mut self, bucket: Resource<Bucket>, key_values: Vec<(String, Vec<u8>)>) -> Result<(), store::Error> {
        let (ns, name) = self.bucket(&bucket)?;
        key_values.iter().try_for_each(|(key, value)| self.store.set(&ns, &name, key, value))
    }

    fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Result<(), store::Error> {
        let (ns, name) = self.bucket(&bucket)?;
        keys.iter().try_for_each(|key| self.store.delete(&ns, &name, key))
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

    #[test]
    fn values_survive_reopening_and_namespaces_stay_apart() {
        let path = temp_db("durable");
        {
            let store = KvStore::open(&path).unwrap();
            store.set("tenant-a", "", "token", b"secret-a").unwrap();
            store.set("tenant-b", "", "token", b"secret-b").unwrap();
            assert_eq!(store.increment("tenant-a", "", "n", 5).unwrap(), 5);
        }
        let store = KvStore::open(&path).unwrap();
        assert_eq!(store.get("tenant-a", "", "token").unwrap().as_deref(), Some(&b"secret-a"[..]));
        assert_eq!(store.get("tenant-b", "", "token").unwrap().as_deref(), Some(&b"secret-b"[..]));
        assert_eq!(store.get("tenant-c", "", "token").unwrap(), None);
        assert_eq!(store.increment("tenant-a", "", "n", 2).unwrap(), 7);
        store.delete("tenant-a", "", "token").unwrap();
        assert_eq!(store.get("tenant-a", "", "token").unwrap(), None);
        assert!(store.increment("tenant-b", "", "token", 1).is_err(), "a non-counter cannot be incremented");
    }

    #[test]
    fn increments_from_many_threads_lose_nothing() {
        let store = KvStore::open(&temp_db("atomic")).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        store.increment("t", "", "c", 1).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(store.get("t", "", "c").unwrap().as_deref(), Some(&b"800"[..]));
    }
}
