//! Where a step's time goes, added up by the key-value and HTTP imports while it runs (its own
//! module, so those imports need nothing of the runtime that runs the step).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Time a step spent in the host's key-value store and waiting for HTTP answers.
#[derive(Debug, Default)]
pub struct StepClock {
    kv_nanos: AtomicU64,
    http_nanos: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl StepClock {
    pub fn add_kv(&self, d: Duration) {
        self.kv_nanos.fetch_add(nanos(d), Ordering::Relaxed);
    }

    pub fn add_http(&self, d: Duration) {
        self.http_nanos.fetch_add(nanos(d), Ordering::Relaxed);
    }

    pub fn key_value(&self) -> Duration {
        Duration::from_nanos(self.kv_nanos.load(Ordering::Relaxed))
    }

    pub fn http(&self) -> Duration {
        Duration::from_nanos(self.http_nanos.load(Ordering::Relaxed))
    }
}

/// Where a step's time went: instantiation, JSON to WIT values, the component's own work,
/// key-value calls, HTTP exchanges (request sent to answer's head) and the result to JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepTimings {
    pub instantiate: Duration,
    pub to_wit: Duration,
    pub component: Duration,
    pub key_value: Duration,
    pub http: Duration,
    pub result: Duration,
}
