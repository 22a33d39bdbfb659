//! The one error type every action returns, mirroring WIT `types.zoho-error`.

use serde_json::Value;
use crate::wit::types as wit;
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
            code: e.code,
            message: e.message,
            details: e.details.map(|d| d.to_string()),
            retry_after_ms: e.retry_after_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
