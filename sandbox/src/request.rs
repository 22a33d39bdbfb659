//! A request as the sandbox logged it, with the answer it got: what handlers read and tests inspect.

use axum::http::request::Parts;
use serde_json::Value;

/// One request as the sandbox received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Decoded query pairs in the order sent.
    pub query: Vec<(String, String)>,
    /// Lower-cased names, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wall-clock milliseconds when it arrived (for rate checks).
    pub received_ms: u128,
    /// Arrival order in this sandbox; links the answer to its logged request.
    pub seq: u64,
    /// The answer's status, once the sandbox answered (None: not yet, or the caller hung up).
    pub response_status: Option<u16>,
    /// The answer's body when it was JSON or untyped (downloads and faults' bodies are not kept).
    pub response_body: Option<Vec<u8>>,
    /// Answered by an injected `Fault` instead of the sandbox's own logic.
    pub faulted: bool,
}

impl RecordedRequest {
    /// A request as a handler under test receives it: no query or headers, not yet answered.
    #[cfg(test)]
    pub fn for_test(method: &str, body: Vec<u8>) -> Self {
        RecordedRequest { method: method.into(), path: String::new(), query: Vec::new(), headers: Vec::new(), body, received_ms: 0, seq: 0, response_status: None, response_body: None, faulted: false }
    }

    /// The status and Zoho code of an answer under test (top-level, or its first outcome's).
    #[cfg(test)]
    pub async fn status_and_code(response: axum::response::Response) -> (u16, String) {
        let status = response.status().as_u16();
        let body: serde_json::Value = serde_json::from_slice(&axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default()).unwrap_or_default();
        let code = body.get("code").or_else(|| body.pointer("/data/0/code")).and_then(serde_json::Value::as_str).unwrap_or("").to_string();
        (status, code)
    }

    pub fn from_parts(parts: &Parts, body: Vec<u8>) -> Self {
        let query = parts.uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()).unwrap_or_default();
        let headers = parts.headers.iter().map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
        let received_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        RecordedRequest { method: parts.method.to_string(), path: parts.uri.path().to_string(), query, headers, body, received_ms, seq: 0, response_status: None, response_body: None, faulted: false }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}
