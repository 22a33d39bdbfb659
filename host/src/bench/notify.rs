//! The watch's notify URL under attack: peak memory under a flood of slow forged deliveries,
//! and a genuine delivery's latency among many idle sockets.

use super::{median, millis, resident_kb};
use anyhow::{bail, Result};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A forged delivery of `total` bytes as 1-byte chunks on the wire, with its request head.
fn one_byte_chunks(total: usize) -> Vec<u8> {
    let start = r#"{"channel_id":"1000000068001","token":"forged","pad":""#;
    let body = start.bytes().chain(std::iter::repeat_n(b'x', total.saturating_sub(start.len() + 2))).chain(*b"\"}");
    let mut wire = b"POST /hook HTTP/1.1\r\nHost: hooks.example.com\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for b in body {
        wire.extend_from_slice(b"1\r\n");
        wire.push(b);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}

/// Reads an answer's head; its status code (0 when the connection ended first).
async fn answer_status(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> u16 {
    use tokio::io::AsyncReadExt;
    let (mut head, mut byte) = (Vec::new(), [0u8; 1]);
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return 0,
        }
    }
    String::from_utf8_lossy(&head).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A connection from `from` (any 127/8 address is this machine's), as one client of many.
async fn connect_from(addr: SocketAddr, from: std::net::Ipv4Addr) -> Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from.into(), 0))?;
    Ok(socket.connect(addr).await?)
}

/// The watch's notify URL (`serve`, default limits) attacked on loopback: peak RSS while 16
/// connections each send a forged delivery of almost 1 MiB in 1-byte chunks, and a genuine
/// delivery's latency while 128 idle keep-alive sockets (8 addresses × 16) are open.
pub(super) async fn notify_attacks() -> Result<Vec<(String, String, String)>> {
    use crate::watch::server;
    use tokio::io::AsyncWriteExt;
    const FLOOD: usize = 16;
    const IDLE: usize = 128;
    const DELIVERIES: usize = 20;
    const CHANNEL: &str = "1000000068001";
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let gate = Arc::new(std::sync::RwLock::new(Some(server::Gate::new(CHANNEL, "bench-token"))));
    let (queue, mut deliveries) = tokio::sync::mpsc::channel(server::QUEUE);
    let counts = Arc::new(server::Counts::default());
    let _server = server::serve(listener, "/hook", gate, queue, counts.clone());
    let drain = tokio::spawn(async move { while deliveries.recv().await.is_some() {} });

    let wire = Arc::new(one_byte_chunks(server::BODY_LIMIT - 1024));
    // Resets VmHWM to the current RSS (Linux), so the peak is this flood's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = resident_kb("VmRSS");
    let floods = (0..FLOOD).map(|i| {
        let wire = wire.clone();
        async move {
            let stream = connect_from(addr, std::net::Ipv4Addr::new(127, 0, 5, 1 + i as u8)).await?;
            let (mut read, mut write) = stream.into_split();
            // Sent while the answer is awaited: the server may answer before it has it all.
            let sender = tokio::spawn(async move {
                for piece in wire.chunks(64 << 10) {
                    if write.write_all(piece).await.is_err() {
                        break;
                    }
                }
                std::future::pending::<()>().await;
            });
            let status = tokio::time::timeout(Duration::from_secs(120), answer_status(&mut read)).await.unwrap_or(0);
            sender.abort();
            Ok::<u16, anyhow::Error>(status)
        }
    });
    let mut statuses: Vec<u16> = futures_util::future::join_all(floods).await.into_iter().collect::<Result<_>>()?;
    let peak_kb = resident_kb("VmHWM").saturating_sub(rss_before);
    statuses.sort_unstable();
    let mut tally: Vec<(u16, usize)> = Vec::new();
    for s in statuses {
        match tally.last_mut() {
            Some((last, n)) if *last == s => *n += 1,
            _ => tally.push((s, 1)),
        }
    }
    let tally = tally.iter().map(|(s, n)| format!("{n}× {}", if *s == 0 { "no answer".to_string() } else { s.to_string() })).collect::<Vec<_>>().join(", ");
    let buffered_peak = counts.buffered_peak.load(Ordering::Relaxed);
    let mut rows = vec![(
        format!("notify URL: peak RSS growth, {FLOOD} connections each sending a forged {:.0} KiB delivery in 1-byte chunks", (server::BODY_LIMIT - 1024) as f64 / 1024.0),
        format!("{:.1} MiB (unverified bytes held at most {:.1} MiB; answers {tally})", peak_kb as f64 / 1024.0, buffered_peak as f64 / 1048576.0),
        format!("≤ {} MiB buffer budget + per-connection buffers", server::BUFFERED >> 20),
    )];

    // Idle keep-alive sockets: each asked once (answered 405) and then sends nothing.
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let mut stream = connect_from(addr, std::net::Ipv4Addr::new(127, 0, 6, 1 + (i / server::PER_CLIENT) as u8)).await?;
        stream.write_all(b"GET /hook HTTP/1.1\r\nHost: hooks.example.com\r\n\r\n").await?;
        let status = tokio::time::timeout(Duration::from_secs(120), answer_status(&mut stream)).await.unwrap_or(0);
        if status != 405 {
            bail!("an idle socket's GET was answered {status}");
        }
        idle.push(stream);
    }
    let delivery = format!(r#"{{"module":"Leads","ids":["5725767000000524157"],"operation":"insert","channel_id":"{CHANNEL}","token":"bench-token"}}"#);
    let request = format!("POST /hook HTTP/1.1\r\nHost: hooks.example.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{delivery}", delivery.len());
    let mut latencies = Vec::with_capacity(DELIVERIES);
    for _ in 0..DELIVERIES {
        let started = Instant::now();
        let status = tokio::time::timeout(Duration::from_secs(120), async {
            let mut stream = connect_from(addr, std::net::Ipv4Addr::LOCALHOST).await?;
            stream.write_all(request.as_bytes()).await?;
            Ok::<u16, anyhow::Error>(answer_status(&mut stream).await)
        })
        .await
        .map_err(|_| anyhow::anyhow!("a genuine delivery was not answered in 120 s while {IDLE} idle sockets were open"))??;
        latencies.push(started.elapsed());
        if status != 200 {
            bail!("a genuine delivery was answered {status}");
        }
    }
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    rows.push((
        format!("notify URL: genuine delivery (new connection) with {IDLE} idle keep-alive sockets open"),
        format!("median {}, slowest {} ({} idle sockets closed to make room)", millis(median(latencies)), millis(slowest), counts.evicted.load(Ordering::Relaxed)),
        "answered while the sockets are open".into(),
    ));
    drop(idle);
    drain.abort();
    Ok(rows)
}
