//! A host's settings: the component, its data directory and every limit a step runs under.

use crate::net::NetLimits;
use std::path::PathBuf;
use std::time::Duration;

/// Bytes of a step's stderr (its debug log) kept; the rest is dropped with a marker line.
pub const LOG_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct HostConfig {
    pub component: PathBuf,
    /// Key-value database and compiled-component cache.
    pub data_dir: PathBuf,
    /// Linear memory a step may grow to.
    pub memory_limit: usize,
    /// Wall-clock bound on a whole step.
    pub step_deadline: Duration,
    /// Pooling allocator: instances kept ready, 0 for on-demand allocation.
    pub pooled_instances: u32,
    pub net: NetLimits,
    /// Let connection host names resolve to private addresses (off: SSRF protection).
    pub allow_private_networks: bool,
    /// Largest step input (connection + input + options as JSON) accepted.
    pub max_input_bytes: usize,
    /// Key-value backend: `redis://...`, `none` (steps get no store) or a SQLite file; default
    /// `<data_dir>/kv.sqlite3`.
    pub kv: Option<String>,
    /// Bytes of a step's debug log kept (marker line included); writes past it are dropped.
    pub log_limit: usize,
    /// PEM certificates trusted for https besides the web's roots (a private CA; the bench's
    /// and tests' sandbox served with its self-signed certificate). Never a way around
    /// certificate verification.
    pub extra_trust_roots: Vec<Vec<u8>>,
}

impl HostConfig {
    pub fn new(component: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        HostConfig {
            component: component.into(),
            data_dir: data_dir.into(),
            memory_limit: 256 << 20,
            step_deadline: Duration::from_secs(300),
            pooled_instances: 64,
            net: NetLimits::default(),
            allow_private_networks: false,
            // Zoho's 100 MB attachment as text or bytes plus 4 MiB for the rest. One 256 MiB
            // instance holds it with its work: a file is moved, never copied; base64 text at the
            // cap decodes to 78 MiB (182 MiB together); other inputs are capped in the component
            // (values 16 MiB) before they are parsed.
            max_input_bytes: 104 << 20,
            kv: None,
            log_limit: LOG_LIMIT,
            extra_trust_roots: Vec::new(),
        }
    }
}
