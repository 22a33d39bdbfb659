//! The SQLite backend: one file in the data directory, shared by the host processes on that
//! machine (WAL).

use super::files::{private_companion, private_dir, private_file};
use super::wasi::store;
use super::KvBackend;
use anyhow::Context as _;
use rusqlite::{params, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

/// Connections of a SQLite store: reads run side by side (WAL); writes take turns in-process,
/// so they never sleep in SQLite's busy handler waiting for each other.
const SQLITE_CONNECTIONS: usize = 4;

/// The SQLite backend: one file for every namespace.
pub struct KvStore {
    idle: Mutex<Vec<rusqlite::Connection>>,
    returned: Condvar,
    writer: Mutex<()>,
}

impl KvStore {
    pub fn open(path: &Path) -> anyhow::Result<Arc<Self>> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_dir(dir)?;
        }
        // The file holds access tokens: only the host's user may read it. SQLite gives its
        // -wal and -shm files the database file's mode; ones an older host left wider are
        // narrowed before SQLite opens them (by path: see `private_file`).
        private_file(path)?;
        for companion in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(companion);
            private_companion(Path::new(&name))?;
        }
        let mut idle = Vec::with_capacity(SQLITE_CONNECTIONS);
        for _ in 0..SQLITE_CONNECTIONS {
            let db = rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
            // busy_timeout first: another runtime opening the same file (a restarted host, a
            // second worker) may hold it while switching to WAL. WAL lets readers and several
            // host processes share the file; busy_timeout makes their writers wait their turn.
            db.busy_timeout(std::time::Duration::from_secs(5))?;
            db.pragma_update(None, "journal_mode", "WAL")?;
            db.pragma_update(None, "synchronous", "NORMAL")?;
            if idle.is_empty() {
                db.execute_batch(
                    "CREATE TABLE IF NOT EXISTS kv (
                        namespace TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                        PRIMARY KEY (namespace, bucket, key)) WITHOUT ROWID;",
                )?;
            }
            idle.push(db);
        }
        Ok(Arc::new(KvStore { idle: Mutex::new(idle), returned: Condvar::new(), writer: Mutex::new(()) }))
    }

    /// Runs `f` on an idle connection (waiting for one when all are busy).
    fn on_connection<T>(&self, f: impl FnOnce(&mut rusqlite::Connection) -> Result<T, store::Error>) -> Result<T, store::Error> {
        let poisoned = |_| store::Error::Other("key-value store lock poisoned".into());
        let mut db = {
            let mut idle = self.idle.lock().map_err(poisoned)?;
            loop {
                match idle.pop() {
                    Some(db) => break db,
                    None => idle = self.returned.wait(idle).map_err(poisoned)?,
                }
            }
        };
        let outcome = f(&mut db);
        self.idle.lock().map_err(poisoned)?.push(db);
        self.returned.notify_one();
        outcome
    }

    fn with_db<T>(&self, f: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T>) -> Result<T, store::Error> {
        self.on_connection(|db| f(db).map_err(|e| store::Error::Other(format!("key-value store: {e}"))))
    }

    /// `with_db` for a write: one writer of this process at a time.
    fn write<T>(&self, f: impl FnOnce(&mut rusqlite::Connection) -> Result<T, store::Error>) -> Result<T, store::Error> {
        let _turn = self.writer.lock().map_err(|_| store::Error::Other("key-value store lock poisoned".into()))?;
        self.on_connection(f)
    }
}

impl KvBackend for KvStore {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, store::Error> {
        self.with_db(|db| db.prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?.query_row(params![namespace, bucket, key], |row| row.get(0)).optional())
    }

    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<(), store::Error> {
        self.write(|db| {
            db.prepare_cached("INSERT OR REPLACE INTO kv (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut statement| statement.execute(params![namespace, bucket, key, value]))
                .map(drop)
                .map_err(|e| store::Error::Other(format!("key-value store: {e}")))
        })
    }

    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<(), store::Error> {
        self.write(|db| {
            db.prepare_cached("DELETE FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")
                .and_then(|mut statement| statement.execute(params![namespace, bucket, key]))
                .map(drop)
                .map_err(|e| store::Error::Other(format!("key-value store: {e}")))
        })
    }

    fn keys(&self, namespace: &str, bucket: &str) -> Result<Vec<String>, store::Error> {
        self.with_db(|db| {
            let mut stmt = db.prepare_cached("SELECT key FROM kv WHERE namespace = ?1 AND bucket = ?2 ORDER BY key")?;
            let keys = stmt.query_map(params![namespace, bucket], |row| row.get(0))?;
            keys.collect()
        })
    }

    /// One IMMEDIATE transaction per increment.
    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64, store::Error> {
        self.write(|db| increment_in(db, namespace, bucket, key, delta))
    }
}

/// One IMMEDIATE transaction per increment: it takes the write lock first, so two processes
/// cannot both read the old value.
fn increment_in(db: &mut rusqlite::Connection, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64, store::Error> {
    let sql_error = |e: rusqlite::Error| store::Error::Other(format!("key-value store: {e}"));
    let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql_error)?;
    let current: Option<Vec<u8>> = tx
        .prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")
        .and_then(|mut statement| statement.query_row(params![namespace, bucket, key], |r| r.get(0)).optional())
        .map_err(sql_error)?;
    let current = match current {
        None => 0,
        Some(bytes) => std::str::from_utf8(&bytes).ok().and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| store::Error::Other(format!("key {key:?} does not hold a counter")))?,
    };
    let next = current.checked_add(delta).ok_or_else(|| store::Error::Other(format!("counter {key:?} overflows")))?;
    tx.prepare_cached("INSERT OR REPLACE INTO kv (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut statement| statement.execute(params![namespace, bucket, key, next.to_string().into_bytes()]))
        .map_err(sql_error)?;
    tx.commit().map_err(sql_error)?;
    Ok(next)
}
