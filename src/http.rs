//! The `Transport` seam: the one way protocol logic reaches the network (and the clock it waits on).
//! The component plugs in wasi:http; unit tests plug in a scripted fake.

use crate::error::Result;
use std::rc::Rc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Methods a retry cannot double: repeating them leaves Zoho in the same state.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post | Method::Patch)
    }
}

/// A request body: its media type and its bytes in parts, so a large file is sent from the
/// buffer it arrived in rather than copied into one contiguous body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Body {
    pub content_type: String,
    pub parts: Vec<Vec<u8>>,
}

impl Body {
    pub fn new(content_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        Body { content_type: content_type.into(), parts: vec![bytes] }
    }

    pub fn json(value: &serde_json::Value) -> Self {
        Body::new("application/json", value.to_string().into_bytes())
    }

    pub fn len(&self) -> usize {
        self.parts.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole body in one buffer (for logs and tests; the transport streams the parts).
    pub fn to_vec(&self) -> Vec<u8> {
        self.parts.concat()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    /// Absolute URL, query included.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Shared, so a retry re-sends the same bytes without copying them.
    pub body: Option<Rc<Body>>,
    /// Bound on the whole exchange: connect, first byte and the body read.
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The start of the body, for an error message about an answer that is not what it should
    /// be: the step's secrets are redacted before the cut, so none shows even in part.
    pub fn body_start(&self) -> String {
        crate::redact::step().start(&self.body, 120)
    }
}

/// `Retry-After` in seconds (Zoho sends seconds when it sends it at all), saturated so that its
/// milliseconds fit a u64: `Retry-After: 18446744073709551615` is `u64::MAX` ms, never a
/// wrapped small number. Anything but digits (a date, a sign, a fraction) is ignored.
pub fn retry_after(response: &Response) -> Option<Duration> {
    let seconds = response.header("retry-after")?.trim();
    if seconds.is_empty() || !seconds.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: too many for a u64 is "forever".
    let seconds = seconds.parse::<u64>().unwrap_or(u64::MAX);
    Some(Duration::from_millis(seconds.saturating_mul(1000)))
}

/// `retry-after-ms` for an error: the header's wait in milliseconds, saturated.
pub fn retry_after_ms(response: &Response) -> Option<u64> {
    retry_after(response).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub trait Transport {
    /// Sends one request. An `Err` means no HTTP answer arrived (transport or timeout kind).
    fn send(&self, request: &Request) -> Result<Response>;
    /// Waits before a retry.
    fn sleep(&self, duration: Duration);
    /// Sends one request whose answer may be larger than memory (a bulk read's ZIP): when
    /// `sink` accepts the answer's status and headers, the body goes to it chunk by chunk as it
    /// arrives and the returned `Response` has an empty body; otherwise the body is read whole,
    /// as [`Transport::send`] reads it. This default reads the body whole and then hands it
    /// over in chunks (test transports); the component's transport streams it.
    fn send_streaming(&self, request: &Request, sink: &mut dyn BodySink) -> Result<Response> {
        let response = self.send(request)?;
        if !sink.accept(response.status, &response.headers) {
            return Ok(response);
        }
        for chunk in response.body.chunks(64 * 1024) {
            if !sink.chunk(chunk)? {
                break;
            }
        }
        Ok(Response { body: Vec::new(), ..response })
    }
}

/// Where a streamed answer's body goes.
pub trait BodySink {
    /// Called with each answer's status and headers (again on a retry: the sink starts over):
    /// true takes the body as chunks, false has it read whole into the `Response`.
    fn accept(&mut self, status: u16, headers: &[(String, String)]) -> bool;
    /// One chunk of the body; `Ok(false)` stops reading (the rest is not wanted), an `Err`
    /// ends the exchange with that error.
    fn chunk(&mut self, bytes: &[u8]) -> Result<bool>;
}

#[cfg(test)]
pub mod scripted {
    //! A `Transport` that answers from a script and records what it was sent.
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    #[derive(Default)]
    pub struct Scripted {
        pub answers: RefCell<VecDeque<Response>>,
        pub sent: RefCell<Vec<Request>>,
        pub slept: RefCell<Vec<Duration>>,
    }

    impl Scripted {
        pub fn answer(&self, status: u16, body: &str) {
            self.answers.borrow_mut().push_back(Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() });
        }
    }

    impl Transport for Scripted {
        fn send(&self, request: &Request) -> Result<Response> {
            self.sent.borrow_mut().push(request.clone());
            self.answers.borrow_mut().pop_front().ok_or_else(|| crate::error::ZohoError::transport("script ran out"))
        }
        fn sleep(&self, duration: Duration) {
            self.slept.borrow_mut().push(duration);
        }
    }
}
