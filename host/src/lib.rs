//! A reusable wasmtime embedding for the Zoho connector component: loads it once, runs any
//! action by its manifest key in a fresh sandboxed instance, supplies wasi:http (only to the
//! connection's Zoho hosts) and a durable wasi:keyvalue store.

pub mod action;
#[cfg(feature = "sandbox")]
pub mod backfill;
#[cfg(feature = "sandbox")]
pub mod bench;
pub mod bytes_calls;
pub mod convert;
pub mod kv;
pub mod load;
pub mod manifest;
pub mod net;
pub mod pool;
pub mod runtime;
pub mod step_log;
pub mod sweep;
pub mod sync;
pub mod timing;
pub mod watch;
pub mod zoho_error;

pub use runtime::{ActionRef, HostConfig, Runtime, StepOutcome, TextOutcome};

/// The component built by `./build.sh`, where the workspace puts it.
pub fn default_component_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/release/zoho_connector.wasm")
}
