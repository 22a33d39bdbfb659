//! Zoho CRM and Zoho Books connector, a WebAssembly component.
//!
//! The Zoho protocol logic (URLs, paging, error mapping) lives in plain Rust modules behind
//! two seams, [`http::Transport`] and [`storage::Storage`], so it is unit-tested natively;
//! `wasi` plugs in wasi:http and wasi:keyvalue and maps the WIT exports onto it.

pub mod auth;
pub mod client;
pub mod connection;
pub mod crm;
pub mod error;
pub mod http;
pub mod options;
pub mod storage;
pub mod validate;

#[cfg(target_arch = "wasm32")]
mod wasi;
