//! wasi:keyvalue@0.2.0-draft (store, atomics, batch) over a durable backend: SQLite (the
//! default, one file in the data directory, shared by the host processes on that machine) or
//! Redis (`--kv redis://...`, shared by host workers on many machines). A component's cached
//! tokens, field lists, cursors and counters survive restarts. Each step sees only its
//! connection's namespace.
//!
//! The backends are blocking (SQLite files, a Redis socket), so the host functions are async
//! and run every backend call on tokio's blocking threads: a slow disk, a lock held by another
//! process or a slow Redis never stalls the steps sharing the async runtime.

use crate::runtime::StepClock;
use anyhow::Context as _;
use rusqlite::{params, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;
use wasmtime::component::{HasData, Resource, ResourceTable};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/deps/keyvalue",
        world: "wasi:keyvalue/imports",
        imports: { default: async },
        with: { "wasi:keyvalue/store.bucket": super::Bucket },
    });
}

use bindings::wasi::keyvalue::{atomics, batch, store};

/// Keys listed per `list-keys` call.
const LIST_PAGE: u64 = 1000;
/// A bucket name longer than this is refused.
const MAX_BUCKET_NAME: usize = 128;

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

/// Creates `dir` (and missing parents) usable by the host's user only (0700 on unix). An
/// existing directory is left as it is: it may be the operator's (`--kv /srv/kv.sqlite3`).
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if dir.is_dir() {
            return Ok(());
        }
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).with_context(|| format!("creating {}", dir.display()))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
    }
}

/// Makes a SQLite file readable and writable by the host's user only (0600 on unix), before
/// any secret is written to it: an absent file is created so, an existing one is narrowed by
/// path. No descriptor of an existing file is ever opened here: closing one would drop every
/// POSIX lock this process holds on the file (SQLite's own included), and another process would
/// then take the database, or its shared memory, for unused and reset it under our feet.
fn private_file(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        // create_new opens only a file it has just made, which nobody can hold locks on yet.
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
        // chmod(2) by path: narrows a file an older host left 0644 without opening it.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).with_context(|| format!("making {} private", path.display()))
    }
    #[cfg(not(unix))]
    {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
}

/// Narrows an existing SQLite companion file (-wal, -shm) by path, never through a descriptor
/// (see [`private_file`]); an absent one is left to SQLite, which creates it with the
/// database file's mode.
fn private_companion(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("making {} private", path.display())),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Connections of a SQLite store: reads run side by side (WAL); writes take turns in-process,
/// so they never sleep in SQLite's busy handler waiting for each other.
const SQLITE_CONNECTIONS: usize = 4;

/// The SQLite backend: one file for every namespace.
pub struct KvStore {
    idle: Mutex<Vec<rusqlite::Connection>>,
    returned: Condvar,
    writer: Mutex<()>,
}

/// An open bucket: a namespace (whose data) and a bucket name (which part of it).
pub struct Bucket {
    namespace: Arc<str>,
    name: String,
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
        self.with_db(|db| {
            db.prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?
                .query_row(params![namespace, bucket, key], |row| row.get(0))
                .optional()
        })
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
        Some(bytes) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| store::Error::Other(format!("key {key:?} does not hold a counter")))?,
    };
    let next = current.checked_add(delta).ok_or_else(|| store::Error::Other(format!("counter {key:?} overflows")))?;
    tx.prepare_cached("INSERT OR REPLACE INTO kv (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut statement| statement.execute(params![namespace, bucket, key, next.to_string().into_bytes()]))
        .map_err(sql_error)?;
    tx.commit().map_err(sql_error)?;
    Ok(next)
}

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

/// What the keyvalue imports see of a step: its namespace, the store, the resource table.
pub struct KvView<'a> {
    pub store: &'a Arc<dyn KvBackend>,
    pub namespace: &'a Arc<str>,
    pub table: &'a mut ResourceTable,
    /// Where the step's time in the store is added up.
    pub clock: Option<&'a StepClock>,
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

    /// Runs `f` on the backend from one of tokio's blocking threads, timed for the step.
    async fn off_runtime<T: Send + 'static>(
        &mut self,
        bucket: &Resource<Bucket>,
        f: impl FnOnce(&dyn KvBackend, &str, &str) -> Result<T, store::Error> + Send + 'static,
    ) -> Result<T, store::Error> {
        let (namespace, name) = self.bucket(bucket)?;
        let backend = self.store.clone();
        let started = Instant::now();
        let outcome = tokio::task::spawn_blocking(move || f(&*backend, &namespace, &name))
            .await
            .unwrap_or_else(|e| Err(store::Error::Other(format!("key-value call failed: {e}"))));
        if let Some(clock) = self.clock {
            clock.add_kv(started.elapsed());
        }
        outcome
    }
}

impl store::Host for KvView<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, store::Error> {
        if !self.store.provides_store() {
            return Err(store::Error::NoSuchStore);
        }
        if identifier.len() > MAX_BUCKET_NAME {
            return Err(store::Error::Other(format!("bucket names are at most {MAX_BUCKET_NAME} bytes")));
        }
        let bucket = Bucket { namespace: self.namespace.clone(), name: identifier };
        self.table.push(bucket).map_err(|e| store::Error::Other(e.to_string()))
    }
}

impl store::HostBucket for KvView<'_> {
    async fn get(&mut self, bucket: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| store.get(ns, name, &key)).await
    }

    async fn set(&mut self, bucket: Resource<Bucket>, key: String, value: Vec<u8>) -> Result<(), store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| store.set(ns, name, &key, &value)).await
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<(), store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| store.delete(ns, name, &key)).await
    }

    async fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> Result<bool, store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| Ok(store.get(ns, name, &key)?.is_some())).await
    }

    async fn list_keys(&mut self, bucket: Resource<Bucket>, cursor: Option<u64>) -> Result<store::KeyResponse, store::Error> {
        let offset = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX);
        self.off_runtime(&bucket, move |store, ns, name| {
            let all = store.keys(ns, name)?;
            let keys: Vec<String> = all.iter().skip(offset).take(LIST_PAGE as usize).cloned().collect();
            let next = offset.saturating_add(keys.len());
            let cursor = (next < all.len()).then_some(next as u64);
            Ok(store::KeyResponse { keys, cursor })
        })
        .await
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KvView<'_> {
    async fn increment(&mut self, bucket: Resource<Bucket>, key: String, delta: u64) -> Result<u64, store::Error> {
        let (namespace, name) = self.bucket(&bucket)?;
        if let Some(answer) = self.store.increment_in_memory(&namespace, &name, &key, delta) {
            return answer;
        }
        self.off_runtime(&bucket, move |store, ns, name| store.increment(ns, name, &key, delta)).await
    }
}

impl batch::Host for KvView<'_> {
    async fn get_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Result<Vec<Option<(String, Vec<u8>)>>, store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| keys.into_iter().map(|key| Ok(store.get(ns, name, &key)?.map(|v| (key, v)))).collect()).await
    }

    async fn set_many(&mut self, bucket: Resource<Bucket>, key_values: Vec<(String, Vec<u8>)>) -> Result<(), store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| key_values.iter().try_for_each(|(key, value)| store.set(ns, name, key, value))).await
    }

    async fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Result<(), store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| keys.iter().try_for_each(|key| store.delete(ns, name, key))).await
    }
}

/// The behaviour every backend must have; run against SQLite here and against Redis by the
/// host's Redis tests.
pub mod conformance {
    use super::KvBackend;

    pub fn values_and_namespaces(store: &dyn KvBackend, prefix: &str) {
        let (a, b, c) = (format!("{prefix}-a"), format!("{prefix}-b"), format!("{prefix}-c"));
        store.set(&a, "", "token", b"secret-a").unwrap();
        store.set(&b, "", "token", b"secret-b").unwrap();
        assert_eq!(store.get(&a, "", "token").unwrap().as_deref(), Some(&b"secret-a"[..]));
        assert_eq!(store.get(&b, "", "token").unwrap().as_deref(), Some(&b"secret-b"[..]));
        assert_eq!(store.get(&c, "", "token").unwrap(), None);
        assert_eq!(store.get(&a, "other", "token").unwrap(), None, "buckets are apart too");
        assert_eq!(store.increment(&a, "", "n", 5).unwrap(), 5);
        assert_eq!(store.increment(&a, "", "n", 2).unwrap(), 7);
        assert_eq!(store.get(&a, "", "n").unwrap().as_deref(), Some(&b"7"[..]));
        assert_eq!(store.keys(&a, "").unwrap(), vec!["n".to_string(), "token".to_string()]);
        store.delete(&a, "", "token").unwrap();
        assert_eq!(store.get(&a, "", "token").unwrap(), None);
        assert!(store.increment(&b, "", "token", 1).is_err(), "a non-counter cannot be incremented");
    }

    pub fn increments_lose_nothing(store: std::sync::Arc<dyn KvBackend>, namespace: &str) {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let namespace = namespace.to_string();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        store.increment(&namespace, "", "c", 1).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(store.get(namespace, "", "c").unwrap().as_deref(), Some(&b"800"[..]));
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
