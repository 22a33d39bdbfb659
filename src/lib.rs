//! Zoho CRM and Zoho Books connector, a WebAssembly component.
//!
//! The Zoho protocol logic (URLs, paging, error mapping) lives in plain Rust modules behind
//! two seams, [`http::Transport`] and [`storage::Storage`], so it is unit-tested natively;
//! `wasi` plugs in wasi:http and wasi:keyvalue and maps the WIT exports onto it.

pub mod auth;
pub mod books;
pub mod client;
pub mod connection;
pub mod crm;
pub mod error;
pub mod http;
pub mod incremental;
pub mod json;
pub mod limits;
pub mod multipart;
pub mod options;
pub mod raw;
pub mod redact;
pub mod storage;
pub mod sync;
pub mod validate;
pub mod zoho_time;

#[cfg(target_arch = "wasm32")]
mod wasi;

/// Standard base64 (padding optional, whitespace ignored), for binary content given as text.
pub fn decode_base64(text: &str) -> std::result::Result<Vec<u8>, String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD_NO_PAD;
    // Only copy the text when it has line breaks to drop: files here can be tens of MB.
    let decoded = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        engine.decode(compact.trim_end_matches('='))
    } else {
        engine.decode(text.trim_end_matches('='))
    };
    decoded.map_err(|e| format!("not valid base64 ({e})"))
}
