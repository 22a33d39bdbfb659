//! One request to the notify URL: its body read within the byte budget and deadlines, its
//! channel and token checked, and the answer given before any work (the verified body queued).

use super::log::Kind;
use super::{Counts, Shared, QUEUE};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Body as _;
use hyper::{Method, Request, Response, StatusCode};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

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

pub(super) async fn answer(shared: &Shared, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
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
