//! The watch's notify URL attacked as the internet would: idle keep-alive sockets, sockets from
//! many addresses, silent and slow clients, bodies in 1-byte chunks, declared lengths over the
//! limit, and forged deliveries at volume. Each test asserts what the server did (answers,
//! connections closed, bytes held, lines written), never how fast.

use bytes::Bytes;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use zoho_host::watch::server::{self, Counts, Gate, Limits, Server};

/// Counts the heap this thread holds, so a test on a current-thread runtime (server and
/// clients on one thread) measures the server's memory without the other tests'.
struct ThreadHeap;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn held_add(n: isize) {
    let _ = HELD.try_with(|held| {
        let now = held.get() + n;
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

unsafe impl GlobalAlloc for ThreadHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            held_add(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        held_add(-(layout.size() as isize));
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            held_add(layout.size() as isize);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            held_add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static HEAP: ThreadHeap = ThreadHeap;

const CHANNEL: &str = "1000000068001";
const TOKEN: &str = "s3cret-token";
const PATH: &str = "/hook";

/// Limits under which only what a test attacks can close a connection: the time-based ones
/// are out of reach unless the test sets them, and a connection waiting for a request counts
/// as idle at once (no time to settle), so which ones a cap closes is exact.
fn patient() -> Limits {
    Limits { idle: Duration::from_secs(3600), settle: Duration::ZERO, read: Duration::from_secs(3600), summary_every: Duration::from_secs(3600), ..Limits::default() }
}

struct Notify {
    server: Option<Server>,
    addr: SocketAddr,
    queue: mpsc::Receiver<Bytes>,
    counts: Arc<Counts>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Notify {
    async fn start(limits: Limits) -> Notify {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let gate = Arc::new(RwLock::new(Some(Gate::new(CHANNEL, TOKEN))));
        let (tx, queue) = mpsc::channel(server::QUEUE);
        let counts = Arc::new(Counts::default());
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let lines = lines.clone();
            Arc::new(move |line: &str| lines.lock().unwrap().push(line.to_string())) as server::LogSink
        };
        let server = server::serve_with(listener, PATH, gate, tx, counts.clone(), limits, sink);
        Notify { server: Some(server), addr, queue, counts, lines }
    }

    fn count(&self, pick: impl Fn(&Counts) -> &std::sync::atomic::AtomicU64) -> u64 {
        pick(&self.counts).load(Ordering::SeqCst)
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Stops the server: its pending summaries are written.
    fn stop(&mut self) {
        self.server.take();
    }
}

fn delivery(token: &str) -> String {
    format!(
        r#"{{"server_time":1750077218012,"query_params":{{}},"module":"Leads","resource_uri":"https://www.zohoapis.com/crm/v8/Leads","ids":["5725767000000524157"],"affected_fields":[],"operation":"insert","channel_id":"{CHANNEL}","token":"{token}"}}"#
    )
}

/// A connection to the server from `from` (any address of 127/8 is this machine's).
async fn connect(addr: SocketAddr, from: Ipv4Addr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).expect("bind a loopback source address");
    socket.connect(addr).await.expect("connect")
}

/// Reads one answer's head and its (Content-Length) body; the status code.
async fn read_answer(stream: &mut TcpStream) -> u16 {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.expect("the answer");
        assert_eq!(n, 1, "the server closed the connection before answering: {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let length: usize = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.expect("the answer's body");
    status
}

/// POSTs `body` on a connection of its own; the status. A hang becomes a failure, not a
/// figure: the bound is far above any answer's time.
async fn post(addr: SocketAddr, from: Ipv4Addr, body: &str) -> u16 {
    tokio::time::timeout(Duration::from_secs(120), async {
        let mut stream = connect(addr, from).await;
        let request = format!("POST {PATH} HTTP/1.1\r\nHost: hooks.example.com\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        stream.write_all(request.as_bytes()).await.expect("send");
        read_answer(&mut stream).await
    })
    .await
    .expect("the delivery was answered (not left waiting behind other connections)")
}

/// Waits until the server has closed `stream` (reads end of stream or a reset).
async fn closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 256];
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .expect("the server closed the connection");
}

/// Whether the server still holds `stream` open (nothing to read, not closed).
fn still_open(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(stream.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// An idle keep-alive socket: one request answered, then nothing.
async fn idle_keep_alive(addr: SocketAddr, from: Ipv4Addr) -> TcpStream {
    let mut stream = connect(addr, from).await;
    stream.write_all(format!("GET {PATH} HTTP/1.1\r\nHost: hooks.example.com\r\n\r\n").as_bytes()).await.expect("send");
    assert_eq!(tokio::time::timeout(Duration::from_secs(120), read_answer(&mut stream)).await.expect("the GET was answered"), 405);
    stream
}

const LOCAL: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_delivery_is_served_while_200_idle_keep_alive_sockets_are_open() {
    let mut notify = Notify::start(patient()).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(idle_keep_alive(notify.addr, LOCAL).await);
    }
    assert_eq!(post(notify.addr, LOCAL, &delivery(TOKEN)).await, 200);
    assert_eq!(notify.queue.recv().await.expect("queued"), Bytes::from(delivery(TOKEN)));
    assert_eq!(notify.count(|c| &c.accepted), 1);
    // One address holds at most PER_CLIENT connections: each newer one closed the one idle longest.
    let evicted = 200 + 1 - server::PER_CLIENT;
    assert_eq!(notify.count(|c| &c.evicted), evicted as u64);
    for stream in &mut idle[..evicted] {
        closed(stream).await;
    }
    assert!(idle[evicted..].iter().all(still_open), "the {} newest idle sockets are kept", server::PER_CLIENT - 1);
    assert_eq!(notify.count(|c| &c.connections), 201);
    notify.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_from_nine_addresses_give_way_to_a_new_client_at_the_total_cap() {
    let mut notify = Notify::start(patient()).await;
    let mut silent = Vec::new();
    for a in 0..9u8 {
        for _ in 0..server::PER_CLIENT {
            // Connected and never a byte sent: the cheapest socket an attacker can hold.
            silent.push(connect(notify.addr, Ipv4Addr::new(127, 0, 1, 10 + a)).await);
        }
    }
    assert_eq!(post(notify.addr, LOCAL, &delivery(TOKEN)).await, 200);
    assert_eq!(notify.queue.recv().await.expect("queued"), Bytes::from(delivery(TOKEN)));
    let evicted = silent.len() + 1 - server::CONNECTIONS;
    assert_eq!(notify.count(|c| &c.evicted), evicted as u64);
    for stream in &mut silent[..evicted] {
        closed(stream).await;
    }
    assert!(silent[evicted..].iter().all(still_open), "the newest sockets are kept");
    notify.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_deliveries_from_one_address_is_served_whole() {
    // Connections still settling (connected, request not yet sent) are not idle to the caps.
    let mut notify = Notify::start(Limits { settle: Duration::from_secs(3600), ..patient() }).await;
    // More than one address may hold idle, fewer than the queue holds.
    const BURST: usize = 60;
    let mut streams = Vec::new();
    for _ in 0..BURST {
        streams.push(connect(notify.addr, LOCAL).await);
    }
    let body = delivery(TOKEN);
    let request = format!("POST {PATH} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    for stream in &mut streams {
        stream.write_all(request.as_bytes()).await.expect("send");
    }
    for stream in &mut streams {
        assert_eq!(read_answer(stream).await, 200);
    }
    assert_eq!(notify.count(|c| &c.accepted), BURST as u64);
    assert_eq!(notify.count(|c| &c.evicted), 0, "{BURST} connections from one address, fewer than the server's cap: none closed");
    for _ in 0..BURST {
        assert_eq!(notify.queue.recv().await.expect("queued"), Bytes::from(body.clone()));
    }
    notify.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_slow_clients_are_closed_after_the_idle_time() {
    let mut notify = Notify::start(Limits { idle: Duration::from_millis(300), ..patient() }).await;
    // A keep-alive socket that asks nothing more after its first answer.
    let mut kept = idle_keep_alive(notify.addr, LOCAL).await;
    // A request head that never ends.
    let mut head = connect(notify.addr, LOCAL).await;
    head.write_all(b"POST /hook HTTP/1.1\r\nHost: hooks.exa").await.expect("send");
    // A body that stops after 10 of its 100 bytes.
    let mut body = connect(notify.addr, LOCAL).await;
    body.write_all(format!("POST {PATH} HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n{{\"channel_i").as_bytes()).await.expect("send");
    assert_eq!(read_answer(&mut body).await, 408);
    for stream in [&mut kept, &mut head, &mut body] {
        closed(stream).await;
    }
    assert_eq!(notify.count(|c| &c.idle_closed), 2);
    assert_eq!(notify.count(|c| &c.unread), 1);
    assert_eq!(notify.count(|c| &c.buffered), 0, "the slow body's bytes were given back");
    assert_eq!(post(notify.addr, LOCAL, &delivery(TOKEN)).await, 200);
    notify.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_read() {
    let mut notify = Notify::start(patient()).await;
    let mut stream = connect(notify.addr, LOCAL).await;
    stream.write_all(format!("POST {PATH} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n", server::BODY_LIMIT + 1).as_bytes()).await.expect("send");
    let status = tokio::time::timeout(Duration::from_secs(120), read_answer(&mut stream)).await.expect("answered without a body byte sent");
    assert_eq!(status, 413);
    closed(&mut stream).await;
    assert_eq!(notify.count(|c| &c.buffered_peak), 0, "nothing was reserved for it");
    assert_eq!(notify.count(|c| &c.unread), 1);
    notify.stop();
}

/// A forged delivery's bytes as 1-byte chunks, `total` of them (the JSON left open when it is
/// longer than a delivery).
fn one_byte_chunks(total: usize, close: bool) -> Vec<u8> {
    let start = format!(r#"{{"channel_id":"{CHANNEL}","token":"forged","pad":""#);
    let end = if close { "\"}" } else { "" };
    let pad = total - start.len() - end.len();
    let body: Vec<u8> = start.bytes().chain(std::iter::repeat_n(b'x', pad)).chain(end.bytes()).collect();
    let mut wire = format!("POST {PATH} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    wire.reserve(body.len() * 6 + 5);
    for b in body {
        wire.extend_from_slice(b"1\r\n");
        wire.push(b);
        wire.extend_from_slice(b"\r\n");
    }
    if close {
        wire.extend_from_slice(b"0\r\n\r\n");
    }
    wire
}

/// Sends `wire` while reading the answer (the server may answer before it has it all, and
/// then close); the status.
async fn flood(addr: SocketAddr, from: Ipv4Addr, wire: Arc<Vec<u8>>) -> u16 {
    let stream = connect(addr, from).await;
    let (mut read, mut write) = stream.into_split();
    let sender = tokio::spawn(async move {
        for piece in wire.chunks(64 << 10) {
            if write.write_all(piece).await.is_err() {
                return;
            }
        }
        let _ = write.flush().await;
        // Kept open: the answer is read on the other half.
        std::future::pending::<()>().await;
    });
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let status = tokio::time::timeout(Duration::from_secs(120), async {
        while !head.ends_with(b"\r\n\r\n") {
            match read.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return 0,
            }
        }
        String::from_utf8_lossy(&head).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
    })
    .await
    .expect("the flood was answered");
    sender.abort();
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_flood_is_cut_off_at_the_byte_budget() {
    const BUDGET: usize = 256 << 10;
    let mut notify = Notify::start(Limits { buffered: BUDGET, ..patient() }).await;
    let wire = Arc::new(one_byte_chunks(server::BODY_LIMIT + 1, false));
    let floods: Vec<_> = (0..8u8).map(|i| tokio::spawn(flood(notify.addr, Ipv4Addr::new(127, 0, 2, 1 + i), wire.clone()))).collect();
    let mut statuses = Vec::new();
    for f in floods {
        statuses.push(f.await.expect("flood task"));
    }
    // None could reach the 1 MiB body limit: the budget (a quarter of it) refused each first.
    assert_eq!(statuses, vec![503; 8]);
    assert_eq!(notify.count(|c| &c.unread), 8);
    let peak = notify.count(|c| &c.buffered_peak);
    assert!(peak <= BUDGET as u64 && peak > 0, "held at most the budget at once: {peak}");
    assert_eq!(notify.count(|c| &c.buffered), 0, "every refused body's bytes were given back");
    assert_eq!(notify.count(|c| &c.refused), 0, "no forged token was even read");
    assert_eq!(post(notify.addr, LOCAL, &delivery(TOKEN)).await, 200, "the budget is free again for a genuine delivery");
    notify.stop();
}

/// Four forged deliveries of almost 1 MiB each, in 1-byte chunks, read whole and refused: the
/// server's heap grows by about their bytes, not by a buffer per chunk.
#[tokio::test(flavor = "current_thread")]
async fn bodies_in_one_byte_chunks_cost_their_bytes_not_a_buffer_each() {
    let mut notify = Notify::start(patient()).await;
    let wire = Arc::new(one_byte_chunks(server::BODY_LIMIT - 1024, true));
    let floods: Vec<_> = (0..4u8).map(|i| flood(notify.addr, Ipv4Addr::new(127, 0, 3, 1 + i), wire.clone())).collect();
    let before = HELD.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let statuses = futures_util::future::join_all(floods).await;
    let growth = PEAK.with(Cell::get) - before;
    eprintln!("heap growth for 4 bodies of 1 MiB in 1-byte chunks: {:.1} MiB", growth as f64 / 1048576.0);
    assert_eq!(statuses, vec![403; 4]);
    assert_eq!(notify.count(|c| &c.refused), 4);
    // Four bodies of 1 MiB at once plus the clients' and server's small buffers; a buffer kept
    // per 1-byte chunk costs about 30 MiB a body.
    assert!(growth < 4 * 2 * server::BODY_LIMIT as isize, "the heap grew by {growth} bytes for 4 bodies of 1 MiB");
    notify.stop();
}

/// The number in a summary line ("refused N more ...").
fn summarised(line: &str) -> u64 {
    line.split_whitespace().skip_while(|w| *w != "refused").nth(1).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("not a summary: {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_forged_deliveries_write_two_lines() {
    let mut notify = Notify::start(patient()).await;
    let forged = delivery("guessed-token");
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let (addr, forged) = (notify.addr, forged.clone());
            tokio::spawn(async move {
                // Keep-alive: 500 deliveries on one connection, as a cheap attacker sends them.
                let mut stream = connect(addr, LOCAL).await;
                let request = format!("POST {PATH} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n{forged}", forged.len());
                for _ in 0..500 {
                    stream.write_all(request.as_bytes()).await.expect("send");
                    assert_eq!(read_answer(&mut stream).await, 403);
                }
            })
        })
        .collect();
    for s in senders {
        s.await.expect("sender");
    }
    assert_eq!(notify.count(|c| &c.refused), 2000);
    let lines = notify.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("refused a delivery whose channel or token is not this watch's"), "{}", lines[0]);
    assert!(!lines[0].contains("guessed-token"), "a token, even a forged one, is never written");
    notify.stop();
    let lines = notify.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(summarised(&lines[1]), 1999);
    assert_eq!(notify.count(|c| &c.lines_logged), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_not_written_are_summarised_once_an_interval() {
    let mut notify = Notify::start(Limits { summary_every: Duration::from_millis(200), ..patient() }).await;
    for _ in 0..10 {
        assert_eq!(post(notify.addr, LOCAL, &delivery("guessed-token")).await, 403);
    }
    // Written by the server's own interval, not at its stop.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let lines = notify.lines();
        if lines.len() >= 2 && lines[1..].iter().map(|l| summarised(l)).sum::<u64>() == 9 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the refusals were not summarised: {lines:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    notify.stop();
    let lines = notify.lines();
    assert!(lines[0].contains("refused a delivery"), "{lines:?}");
    assert_eq!(lines[1..].iter().map(|l| summarised(l)).sum::<u64>(), 9, "{lines:?}");
}
