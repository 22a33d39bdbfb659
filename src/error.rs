//! The one error type every action returns, mirroring WIT `types.zoho-error`.

use crate::wit::types as wit;
use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidInput,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    CreditsExhausted,
    Zoho,
    Transport,
    Timeout,
    Internal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ZohoError {
    pub kind: ErrorKind,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: String,
    pub details: Option<Value>,
    pub retry_after_ms: Option<u64>,
}

pub type Result<T> = std::result::Result<T, ZohoError>;

impl ZohoError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ZohoError { kind, status: None, code: None, message: message.into(), details: None, retry_after_ms: None }
    }

    /// A caller mistake found before anything was sent.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn transport(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transport, message)
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl fmt::Display for ZohoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

/// The error as it leaves through WIT: `details` as JSON text.
impl From<ZohoError> for wit::ZohoError {
    fn from(e: ZohoError) -> Self {
        wit::ZohoError {
            kind: match e.kind {
                ErrorKind::InvalidInput => wit::ErrorKind::InvalidInput,
                ErrorKind::Unauthorized => wit::ErrorKind::Unauthorized,
                ErrorKind::Forbidden => wit::ErrorKind::Forbidden,
                ErrorKind::NotFound => wit::ErrorKind::NotFound,
                ErrorKind::Conflict => wit::ErrorKind::Conflict,
                ErrorKind::RateLimited => wit::ErrorKind::RateLimited,
                ErrorKind::CreditsExhausted => wit::ErrorKind::CreditsExhausted,
                ErrorKind::Zoho => wit::ErrorKind::Zoho,
                ErrorKind::Transport => wit::ErrorKind::Transport,
                ErrorKind::Timeout => wit::ErrorKind::Timeout,
                ErrorKind::Internal => wit::ErrorKind::Internal,
            },
            status: e.status,
            // Zoho's codes are short words; a message is a sentence or two. A hostile answer's
            // 30 MB "message" is cut here (after redaction, which happens before the error
            // leaves the step), marked, so an error stays a line a platform can log.
            code: e.code.map(|c| capped(c, MAX_CODE_BYTES)),
            message: capped(e.message, MAX_MESSAGE_BYTES),
            details: e.details.map(|d| d.to_string()),
            retry_after_ms: e.retry_after_ms,
        }
    }
}

/// Longest error code passed on.
pub const MAX_CODE_BYTES: usize = 256;
/// Longest error message passed on.
pub const MAX_MESSAGE_BYTES: usize = 16 << 10;

/// `text` cut to `limit` bytes on a character boundary, with a marker saying so.
fn capped(text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", text.get(..end).unwrap_or(""), text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by an outside attack: a 400 whose message was 31 MiB left as a 32 MB error.
    #[test]
    fn huge_codes_and_messages_are_cut_with_a_marker() {
        let e = ZohoError::new(ErrorKind::Zoho, "é".repeat(20_000)).with_code("C".repeat(100_000));
        let out = wit::ZohoError::from(e);
        assert!(out.message.len() <= MAX_MESSAGE_BYTES + 40 && out.message.ends_with("(40000 bytes in all)"), "{}", out.message.len());
        assert!(out.code.as_deref().is_some_and(|c| c.len() <= MAX_CODE_BYTES + 40 && c.ends_with("(100000 bytes in all)")));
        let short = wit::ZohoError::from(ZohoError::new(ErrorKind::Zoho, "fine").with_code("INVALID_DATA"));
        assert_eq!((short.message.as_str(), short.code.as_deref()), ("fine", Some("INVALID_DATA")));
    }

    /// The one conversion at the WIT edge: kind by name, details as JSON text, the rest as is.
    #[test]
    fn an_error_leaves_as_the_wit_record() {
        let e = ZohoError::new(ErrorKind::CreditsExhausted, "used").with_status(429).with_code("LIMIT").with_details(serde_json::json!({"spent": u64::MAX}));
        let e = ZohoError { retry_after_ms: Some(u64::MAX), ..e };
        let out = wit::ZohoError::from(e);
        assert!(matches!(out.kind, wit::ErrorKind::CreditsExhausted));
        assert_eq!((out.status, out.code.as_deref(), out.message.as_str()), (Some(429), Some("LIMIT"), "used"));
        assert_eq!((out.details.as_deref(), out.retry_after_ms), (Some(r#"{"spent":18446744073709551615}"#), Some(u64::MAX)));
    }
}
