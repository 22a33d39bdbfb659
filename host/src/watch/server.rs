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

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Body as _;
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
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

/// The channel a delivery must name and a digest of its token.
#[derive(Clone)]
pub struct Gate {
    pub channel_id: String,
    token_digest: [u8; 32],
}

impl Gate {
    pub fn new(channel_id: &str, token: &str) -> Gate {
        Gate { channel_id: channel_id.to_string(), token_digest: Sha256::digest(token.as_bytes()).into() }
    }

    /// Compares digests byte by byte without stopping early: the time taken says nothing about
    /// how much of a guessed token was right, nor its length.
    fn admits(&self, channel_id: &str, token: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let differences = given.iter().zip(self.token_digest.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        (differences == 0) & (channel_id == self.channel_id)
    }
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
            for (_, conn) in registry.conns.drain() {
                conn.close.notify_one();
            }
            registry.per_client.clear();
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

/// A client address as the caps count it: an IPv4 address, or an IPv6 /64 (what one
/// subscriber is usually given, so a client cannot multiply itself by its own addresses).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Client {
    V4([u8; 4]),
    V6([u8; 8]),
}

impl Client {
    fn of(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(v4) => Client::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4.octets()),
                None => {
                    let octets = v6.octets();
                    let mut prefix = [0u8; 8];
                    prefix.copy_from_slice(&octets[..8]);
                    Client::V6(prefix)
                }
            },
        }
    }
}

impl Conn {
    /// Waiting for a request, and past the time given to send one.
    fn idle(&self, now: Instant, settle: Duration) -> bool {
        !self.busy && now.saturating_duration_since(self.since) >= settle
    }
}

struct Conn {
    client: Client,
    /// Inside a request (its headers read, its answer not yet given).
    busy: bool,
    /// When the connection last started or finished a request, or was accepted.
    since: Instant,
    close: Arc<Notify>,
}

/// The connections being served, to cap them and choose which to close.
#[derive(Default)]
struct Registry {
    next: u64,
    conns: HashMap<u64, Conn>,
    per_client: HashMap<Client, usize>,
}

impl Registry {
    /// Registers a new connection, first closing others to make room. A client at its cap
    /// loses its connections idle longest (never one inside a request, nor one still
    /// settling: a burst of deliveries from one address is served whole). At the server's cap
    /// one connection is closed: the one idle longest, else the one whose request began first
    /// (the slowest), else the oldest still settling. The newest connection is always served:
    /// an attacker holding sockets open loses them to new arrivals instead of starving them.
    fn admit(&mut self, client: Client, limits: &Limits, counts: &Counts) -> (u64, Arc<Notify>) {
        let now = Instant::now();
        while self.per_client.get(&client).copied().unwrap_or(0) >= limits.per_client.max(1) {
            if !self.evict(|c| c.client == client && c.idle(now, limits.settle), now, limits.settle, counts) {
                break;
            }
        }
        while self.conns.len() >= limits.connections.max(1) {
            if !self.evict(|_| true, now, limits.settle, counts) {
                break;
            }
        }
        let id = self.next;
        self.next += 1;
        let close = Arc::new(Notify::new());
        self.conns.insert(id, Conn { client, busy: false, since: Instant::now(), close: close.clone() });
        *self.per_client.entry(client).or_insert(0) += 1;
        (id, close)
    }

    /// Closes the first of `among` in eviction order; false when there is none.
    fn evict(&mut self, among: impl Fn(&Conn) -> bool, now: Instant, settle: Duration, counts: &Counts) -> bool {
        let rank = |c: &Conn| match (c.idle(now, settle), c.busy) {
            (true, _) => 0u8,
            (false, true) => 1,
            (false, false) => 2,
        };
        let victim = self.conns.iter().filter(|(_, c)| among(c)).min_by_key(|(id, c)| (rank(c), c.since, **id)).map(|(id, _)| *id);
        let Some(conn) = victim.and_then(|id| self.leave(id)) else { return false };
        conn.close.notify_one();
        counts.evicted.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn leave(&mut self, id: u64) -> Option<Conn> {
        let conn = self.conns.remove(&id)?;
        if let Some(n) = self.per_client.get_mut(&conn.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_client.remove(&conn.client);
            }
        }
        Some(conn)
    }

    /// How long an idle connection has been silent; `None` inside a request (or once gone).
    fn silent_for(&self, id: u64) -> Option<Duration> {
        self.conns.get(&id).filter(|c| !c.busy).map(|c| c.since.elapsed())
    }

    fn mark(&mut self, id: u64, busy: bool) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.busy = busy;
            conn.since = Instant::now();
        }
    }
}

/// Marks a connection busy for the life of one request.
struct Busy<'a> {
    registry: &'a Mutex<Registry>,
    id: u64,
}

impl<'a> Busy<'a> {
    fn start(registry: &'a Mutex<Registry>, id: u64) -> Busy<'a> {
        if let Ok(mut r) = registry.lock() {
            r.mark(id, true);
        }
        Busy { registry, id }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.registry.lock() {
            r.mark(self.id, false);
        }
    }
}

/// The kinds of lines a stranger can cause, each written once then summarised.
#[derive(Clone, Copy)]
enum Kind {
    Forged = 0,
    QueueFull = 1,
    Unread = 2,
}

#[derive(Default)]
struct Limiter {
    last_line: Option<Instant>,
    pending: u64,
}

/// The server's log: a line per kind at most once per interval, the rest counted into one
/// summary line, so a flood of forged deliveries writes a bounded number of lines.
struct Log {
    sink: LogSink,
    counts: Arc<Counts>,
    every: Duration,
    kinds: Mutex<[Limiter; 3]>,
}

impl Log {
    fn new(sink: LogSink, counts: Arc<Counts>, every: Duration) -> Log {
        Log { sink, counts, every, kinds: Mutex::new(Default::default()) }
    }

    fn write(&self, line: &str) {
        self.counts.lines_logged.fetch_add(1, Ordering::Relaxed);
        (self.sink)(line);
    }

    /// One event of `kind`: written at once when its kind wrote nothing in the last interval,
    /// else counted for the next summary.
    fn note(&self, kind: Kind, line: impl FnOnce() -> String) {
        let now = Instant::now();
        let write = match self.kinds.lock() {
            Ok(mut kinds) => {
                let limiter = &mut kinds[kind as usize];
                let quiet = limiter.last_line.is_none_or(|t| now.duration_since(t) >= self.every);
                if quiet && limiter.pending == 0 {
                    limiter.last_line = Some(now);
                    true
                } else {
                    limiter.pending += 1;
                    false
                }
            }
            Err(_) => false,
        };
        if write {
            self.write(&line());
        }
    }

    /// Writes the summaries due (all pending ones when `all`, as the server stops).
    fn flush(&self, all: bool) {
        let now = Instant::now();
        let mut due = Vec::new();
        if let Ok(mut kinds) = self.kinds.lock() {
            for (i, limiter) in kinds.iter_mut().enumerate() {
                let Some(last) = limiter.last_line else { continue };
                let since = now.duration_since(last);
                if limiter.pending > 0 && (all || since >= self.every) {
                    due.push((i, limiter.pending, since.as_secs().max(1)));
                    limiter.pending = 0;
                    limiter.last_line = Some(now);
                }
            }
        }
        for (kind, n, seconds) in due {
            self.write(&match kind {
                0 => format!("zoho-host watch: refused {n} more deliveries whose channel or token is not this watch's in the last {seconds} s (answered 403, written nowhere)"),
                1 => format!("zoho-host watch: {n} more deliveries found {QUEUE} waiting in the last {seconds} s; the next sweep reads their changes"),
                _ => {
                    format!("zoho-host watch: turned away {n} more requests without reading them whole in the last {seconds} s (too large, too slow, not JSON, or over the notify URL's buffer budget)")
                }
            });
        }
    }
}

fn reply(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

/// A refusal after which the rest of the request is not read: the connection is closed.
fn reply_and_close(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = reply(status, text);
    response.headers_mut().insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
    response
}

/// The part of a delivery checked before it is trusted.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(default)]
    channel_id: Option<serde_json::Value>,
    #[serde(default)]
    token: Option<String>,
}

/// Why a body was not read whole.
enum Unread {
    TooLarge,
    OverBudget,
    TooSlow,
    NotJson,
    Broken,
}

impl Unread {
    fn reason(&self) -> &'static str {
        match self {
            Unread::TooLarge => "it is larger than a delivery can be",
            Unread::OverBudget => "the notify URL's buffer budget is in use",
            Unread::TooSlow => "it was not sent in time",
            Unread::NotJson => "it is not a JSON object",
            Unread::Broken => "the connection broke",
        }
    }

    fn reply(&self) -> Response<Full<Bytes>> {
        match self {
            Unread::TooLarge => reply_and_close(StatusCode::PAYLOAD_TOO_LARGE, "the delivery is too large\n"),
            Unread::OverBudget => reply_and_close(StatusCode::SERVICE_UNAVAILABLE, "the notify URL is busy; the sweep reads this change\n"),
            Unread::TooSlow => reply_and_close(StatusCode::REQUEST_TIMEOUT, "the delivery was not sent in time\n"),
            Unread::NotJson => reply_and_close(StatusCode::BAD_REQUEST, "the delivery is not Zoho's JSON\n"),
            Unread::Broken => reply_and_close(StatusCode::BAD_REQUEST, "the delivery was not read\n"),
        }
    }
}

/// Bytes taken from the budget for one body; given back when dropped.
struct Held {
    permit: Option<OwnedSemaphorePermit>,
    bytes: usize,
    counts: Arc<Counts>,
}

impl Held {
    fn take(&mut self, budget: &Arc<Semaphore>, bytes: usize) -> Result<(), Unread> {
        let n = u32::try_from(bytes).map_err(|_| Unread::OverBudget)?;
        let more = budget.clone().try_acquire_many_owned(n).map_err(|_| Unread::OverBudget)?;
        match &mut self.permit {
            Some(permit) => permit.merge(more),
            None => self.permit = Some(more),
        }
        self.bytes += bytes;
        let now = self.counts.buffered.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
        self.counts.buffered_peak.fetch_max(now, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.counts.buffered.fetch_sub(self.bytes as u64, Ordering::Relaxed);
    }
}

/// Reads a body into one buffer, each byte of its capacity taken from the budget first:
/// frames are copied, not kept (a frame per byte would otherwise cost a buffer each). Refuses
/// a declared length over the limit before reading anything, and a body whose first byte
/// cannot begin Zoho's JSON object as soon as it arrives.
async fn read_body(shared: &Shared, mut body: hyper::body::Incoming) -> Result<(Vec<u8>, Held), Unread> {
    let limit = shared.limits.body;
    let mut held = Held { permit: None, bytes: 0, counts: shared.counts.clone() };
    let declared = body.size_hint().exact();
    let mut buffer = Vec::new();
    if let Some(declared) = declared {
        let declared = usize::try_from(declared).map_err(|_| Unread::TooLarge)?;
        if declared > limit {
            return Err(Unread::TooLarge);
        }
        held.take(&shared.budget, declared)?;
        buffer.reserve_exact(declared);
    }
    let started = Instant::now();
    let deadline = started.checked_add(shared.limits.read).unwrap_or(started + Duration::from_secs(86_400 * 365));
    let mut checked_start = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = match tokio::time::timeout(left.min(shared.limits.idle), body.frame()).await {
            Err(_) => return Err(Unread::TooSlow),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(Unread::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        let needed = buffer.len() + data.len();
        if needed > limit {
            return Err(Unread::TooLarge);
        }
        if needed > buffer.capacity() {
            let grown = needed.max(buffer.capacity().saturating_mul(2)).max(4096).min(limit);
            held.take(&shared.budget, grown - buffer.capacity())?;
            buffer.reserve_exact(grown - buffer.len());
        }
        buffer.extend_from_slice(&data);
        if !checked_start {
            if let Some(first) = buffer.iter().find(|b| !b.is_ascii_whitespace()) {
                if *first != b'{' {
                    return Err(Unread::NotJson);
                }
                checked_start = true;
            }
        }
    }
    Ok((buffer, held))
}

async fn answer(shared: &Shared, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() != &*shared.path {
        return reply(StatusCode::NOT_FOUND, "not found\n");
    }
    if request.method() != Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "deliveries are POSTed\n");
    }
    let (body, held) = match read_body(shared, request.into_body()).await {
        Ok(read) => read,
        Err(unread) => {
            shared.counts.unread.fetch_add(1, Ordering::Relaxed);
            shared.log.note(Kind::Unread, || format!("zoho-host watch: turned away a request to the notify URL without reading it whole: {}", unread.reason()));
            return unread.reply();
        }
    };
    let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) else {
        shared.counts.unread.fetch_add(1, Ordering::Relaxed);
        shared.log.note(Kind::Unread, || format!("zoho-host watch: turned away a request to the notify URL: {}", Unread::NotJson.reason()));
        return reply(StatusCode::BAD_REQUEST, "the delivery is not Zoho's JSON\n");
    };
    let channel_id = match &envelope.channel_id {
        Some(serde_json::Value::String(id)) => id.clone(),
        Some(serde_json::Value::Number(id)) => id.to_string(),
        _ => String::new(),
    };
    let gate = shared.gate.read().map(|g| g.clone()).unwrap_or(None);
    let Some(gate) = gate else {
        // The channel is being enabled: Zoho retries, and the sweep reads the change anyway.
        return reply(StatusCode::SERVICE_UNAVAILABLE, "the channel is not ready\n");
    };
    if !gate.admits(&channel_id, envelope.token.as_deref().unwrap_or("")) {
        shared.counts.refused.fetch_add(1, Ordering::Relaxed);
        shared.log.note(Kind::Forged, || {
            format!(
                "zoho-host watch: refused a delivery whose channel or token is not this watch's (answered 403, written nowhere); more are summarised at most once every {} s",
                shared.limits.summary_every.as_secs().max(1)
            )
        });
        return reply(StatusCode::FORBIDDEN, "forbidden\n");
    }
    // Verified: the queue (bounded on its own) holds it from here, not the budget.
    drop(held);
    match shared.queue.try_send(Bytes::from(body)) {
        Ok(()) => {
            shared.counts.accepted.fetch_add(1, Ordering::Relaxed);
        }
        Err(mpsc::error::TrySendError::Full(_)) => {
            shared.counts.queue_full.fetch_add(1, Ordering::Relaxed);
            shared.log.note(Kind::QueueFull, || format!("zoho-host watch: {QUEUE} deliveries are waiting; this one is left to the next sweep"));
        }
        Err(mpsc::error::TrySendError::Closed(_)) => return reply(StatusCode::SERVICE_UNAVAILABLE, "the watch is stopping\n"),
    }
    reply(StatusCode::OK, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_admits_only_the_channels_own_token() {
        let gate = Gate::new("1000000068001", "s3cret-token");
        assert!(gate.admits("1000000068001", "s3cret-token"));
        for (channel, token) in [("1000000068001", "s3cret-tokeN"), ("1000000068001", ""), ("1000000068001", "s3cret-token "), ("1000000068002", "s3cret-token"), ("", "s3cret-token")] {
            assert!(!gate.admits(channel, token), "{channel} {token}");
        }
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_a_mapped_ipv4_is_the_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Client::of(a), Client::of(b));
        assert_ne!(Client::of(a), Client::of(c));
        assert_eq!(Client::of("::ffff:10.0.0.7".parse().unwrap()), Client::of("10.0.0.7".parse().unwrap()));
    }
}
