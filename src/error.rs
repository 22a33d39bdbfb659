//! The one error type every action returns, mirroring WIT `types.zoho-error`.

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
