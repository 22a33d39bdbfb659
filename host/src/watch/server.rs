//! The notify URL: takes Zoho's deliveries, checks the channel and its token (in constant time)
//! and answers at once, 2xx before any work, so a slow consumer never makes Zoho wait or retry.
//! Verified bodies go to a bounded queue; when it is full the delivery is still answered 2xx
//! and left to the sweep, which reads every change anyway.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Largest delivery body read: the component's own limit for a delivery.
pub const BODY_LIMIT: usize = 1 << 20;
/// Deliveries waiting for the worker: with the body limit, at most 64 MiB held.
pub const QUEUE: usize = 64;
/// Connections served at once; more wait in the listen backlog.
const CONNECTIONS: usize = 128;
/// Longest a client may take to send its headers or its body.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

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
}

/// The serving task; stops when dropped.
pub struct Server {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Shared {
    path: Arc<str>,
    gate: Arc<RwLock<Option<Gate>>>,
    queue: mpsc::Sender<Bytes>,
    counts: Arc<Counts>,
}

/// Serves `path` on `listener` until the returned server is dropped.
pub fn serve(listener: TcpListener, path: &str, gate: Arc<RwLock<Option<Gate>>>, queue: mpsc::Sender<Bytes>, counts: Arc<Counts>) -> Server {
    let shared = Shared { path: Arc::from(path), gate, queue, counts };
    let task = tokio::spawn(async move {
        let slots = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS));
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else { return };
            let Ok((stream, _)) = listener.accept().await else {
                // Out of descriptors, say: wait a little instead of spinning.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let shared = shared.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(&shared, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(READ_TIMEOUT)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                drop(permit);
            });
        }
    });
    Server { task }
}

fn reply(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
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

async fn answer(shared: &Shared, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() != &*shared.path {
        return reply(StatusCode::NOT_FOUND, "not found\n");
    }
    if request.method() != Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "deliveries are POSTed\n");
    }
    let body = match tokio::time::timeout(READ_TIMEOUT, Limited::new(request.into_body(), BODY_LIMIT).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return reply(StatusCode::PAYLOAD_TOO_LARGE, "the delivery is too large\n"),
        _ => return reply(StatusCode::BAD_REQUEST, "the delivery was not read\n"),
    };
    let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) else {
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
        eprintln!("zoho-host watch: refused a delivery whose channel or token is not this watch's (answered 403, written nowhere)");
        return reply(StatusCode::FORBIDDEN, "forbidden\n");
    }
    match shared.queue.try_send(body) {
        Ok(()) => {
            shared.counts.accepted.fetch_add(1, Ordering::Relaxed);
        }
        Err(mpsc::error::TrySendError::Full(_)) => {
            shared.counts.queue_full.fetch_add(1, Ordering::Relaxed);
            eprintln!("zoho-host watch: {QUEUE} deliveries are waiting; this one is left to the next sweep");
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
}
