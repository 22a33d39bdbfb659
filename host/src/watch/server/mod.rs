//! The notify URL: takes Zoho's deliveries, checks the channel and its token (in constant time)
//! and answers at once, 2xx before any work, so a slow consumer never makes Zoho wait or retry.
//! Verified bodies go to a bounded queue; when it is full the delivery is still answered 2xx
//! and left to the sweep, which reads every change anyway.
//!
//! The URL faces the internet without authentication before the body's token, so what a
//! stranger can hold is bounded: connections (in all, and per client address, the longest
//! idle or slowest closed first to make room, so a new delivery is never starved), silence
//! (a connection that sends nothing for `idle` is closed), bytes buffered before the token is
//! checked (per delivery and in all, copied into one buffer per delivery) and log lines (a
//! refusal is written once, then summarised at most once per interval).
//!
//! This module holds the limits, the counts and the serving loop; the gate, the connection
//! registry, the log and the reading of one delivery each have their own.

mod delivery;
mod gate;
mod log;
mod registry;

use bytes::Bytes;
use delivery::answer;
pub use gate::Gate;
use log::Log;
use registry::{Busy, Client, Registry};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::time::Instant;

/// Largest delivery body read: the component's own limit for a delivery.
pub const BODY_LIMIT: usize = 1 << 20;
/// Deliveries waiting for the worker: with the body limit, at most 64 MiB held.
pub const QUEUE: usize = 64;
/// Connections served at once, from all clients together.
pub const CONNECTIONS: usize = 128;
/// Connections served at once from one client address (an IPv6 client is its /64).
pub const PER_CLIENT: usize = 16;
/// Silence after which a connection waiting for a request, or inside one, is closed.
pub const IDLE: Duration = Duration::from_secs(5);
/// Time a new or just-answered connection has to begin its request before a cap may close it
/// as idle: Zoho sends its request at once, so a burst of deliveries is never mistaken for
/// sockets held open.
pub const SETTLE: Duration = Duration::from_secs(1);
/// Longest a client may take to send a request's headers, or its body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of unverified bodies held at once over all connections.
pub const BUFFERED: usize = 16 << 20;
/// At most one summary line per kind of refusal in this interval.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);
/// hyper's read buffer per connection: Zoho's request heads are a few hundred bytes.
const HEAD_BUFFER: usize = 16 << 10;

/// What the notify URL lets a client hold; `Limits::default()` is what `serve` uses.
#[derive(Clone, Debug)]
pub struct Limits {
    pub connections: usize,
    pub per_client: usize,
    pub idle: Duration,
    pub settle: Duration,
    pub read: Duration,
    pub body: usize,
    pub buffered: usize,
    pub summary_every: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { connections: CONNECTIONS, per_client: PER_CLIENT, idle: IDLE, settle: SETTLE, read: READ_TIMEOUT, body: BODY_LIMIT, buffered: BUFFERED, summary_every: SUMMARY_EVERY }
    }
}

/// Where the server's lines go: stderr for `serve`, anything for an embedder or a test.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Lines to stderr, as the rest of `zoho-host watch` writes them.
pub fn stderr_log() -> LogSink {
    Arc::new(|line: &str| eprintln!("{line}"))
}

/// What the notify URL saw, for the summary and the tests.
#[derive(Default, Debug)]
pub struct Counts {
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub queue_full: AtomicU64,
    /// Connections taken from the listener.
    pub connections: AtomicU64,
    /// Connections closed to make room for a newer one (the client's, or anyone's at the cap).
    pub evicted: AtomicU64,
    /// Connections closed because they sent nothing for the idle time.
    pub idle_closed: AtomicU64,
    /// Deliveries answered without reading them whole: too large, too slow, over the byte
    /// budget, or not a JSON object.
    pub unread: AtomicU64,
    /// Bytes of unverified bodies held now, and the most ever held at once.
    pub buffered: AtomicU64,
    pub buffered_peak: AtomicU64,
    /// Lines the server wrote to its log.
    pub lines_logged: AtomicU64,
}

/// The serving tasks; stops when dropped, closing every connection and writing the refusals
/// not yet summarised.
pub struct Server {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    registry: Arc<Mutex<Registry>>,
    log: Arc<Log>,
}

impl Drop for Server {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Ok(mut registry) = self.registry.lock() {
            registry.close_all();
        }
        self.log.flush(true);
    }
}

#[derive(Clone)]
struct Shared {
    path: Arc<str>,
    gate: Arc<RwLock<Option<Gate>>>,
    queue: mpsc::Sender<Bytes>,
    counts: Arc<Counts>,
    limits: Arc<Limits>,
    budget: Arc<Semaphore>,
    registry: Arc<Mutex<Registry>>,
    log: Arc<Log>,
}

/// Serves `path` on `listener` until the returned server is dropped, with the default limits
/// and lines to stderr.
pub fn serve(listener: TcpListener, path: &str, gate: Arc<RwLock<Option<Gate>>>, queue: mpsc::Sender<Bytes>, counts: Arc<Counts>) -> Server {
    serve_with(listener, path, gate, queue, counts, Limits::default(), stderr_log())
}

/// `serve` with its limits and log sink given.
pub fn serve_with(listener: TcpListener, path: &str, gate: Arc<RwLock<Option<Gate>>>, queue: mpsc::Sender<Bytes>, counts: Arc<Counts>, limits: Limits, log: LogSink) -> Server {
    // A semaphore's permits are counted in u32 per acquisition: keep the budget within it.
    let budget = Arc::new(Semaphore::new(limits.buffered.min(u32::MAX as usize)));
    let registry = Arc::new(Mutex::new(Registry::default()));
    let log = Arc::new(Log::new(log, counts.clone(), limits.summary_every));
    let shared = Shared { path: Arc::from(path), gate, queue, counts, limits: Arc::new(limits), budget, registry: registry.clone(), log: log.clone() };
    let flusher = {
        // An interval must not be zero, nor overflow the clock, whatever an embedder gives.
        let every = shared.limits.summary_every.clamp(Duration::from_millis(1), Duration::from_secs(86_400 * 365));
        let log = log.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(Instant::now() + every, every);
            loop {
                tick.tick().await;
                log.flush(false);
            }
        })
    };
    let accept = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                // Out of descriptors, say: wait a little instead of spinning.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            shared.counts.connections.fetch_add(1, Ordering::Relaxed);
            let admitted = match shared.registry.lock() {
                Ok(mut registry) => registry.admit(Client::of(peer.ip()), &shared.limits, &shared.counts),
                Err(_) => return,
            };
            tokio::spawn(connection(shared.clone(), stream, admitted));
        }
    });
    Server { tasks: vec![accept, flusher], registry, log }
}

/// Serves one connection until it ends, is evicted, or stays silent for the idle time.
async fn connection(shared: Shared, stream: tokio::net::TcpStream, (id, close): (u64, Arc<Notify>)) {
    let service = {
        let shared = shared.clone();
        hyper::service::service_fn(move |request| {
            let shared = shared.clone();
            async move {
                let _busy = Busy::start(&shared.registry, id);
                Ok::<_, std::convert::Infallible>(answer(&shared, request).await)
            }
        })
    };
    let serving = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(shared.limits.read)
        .max_buf_size(HEAD_BUFFER)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    let mut serving = std::pin::pin!(serving);
    let mut wait = shared.limits.idle;
    loop {
        tokio::select! {
            // The connection first: a request that has arrived is marked busy before its
            // silence is judged, however late this task runs.
            biased;
            _ = serving.as_mut() => break,
            _ = close.notified() => break,
            _ = tokio::time::sleep(wait) => {
                // A request in progress is bounded by its own read deadlines; between requests
                // (or before a request's headers are complete) silence is what closes it.
                let silent = shared.registry.lock().ok().and_then(|r| r.silent_for(id));
                match silent {
                    Some(silent) if silent >= shared.limits.idle => {
                        shared.counts.idle_closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Some(silent) => wait = shared.limits.idle - silent,
                    None => wait = shared.limits.idle,
                }
            }
        }
    }
    if let Ok(mut registry) = shared.registry.lock() {
        registry.leave(id);
    }
}
