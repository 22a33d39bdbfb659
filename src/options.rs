//! Call options (WIT `types.call-options`) with their defaults applied.

use std::time::Duration;

pub use crate::wit::types::CallOptions;

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions { debug: None, timeout_ms: None, max_retries: None, retry_delay_ms: None, exponential_backoff: None, retry_on_all_errors: None }
    }
}

pub const DEFAULT_TIMEOUT_MS: u32 = 60_000;
/// A retry wait longer than this is not slept through: the step answers `rate-limited` with
/// `retry-after-ms` so the platform reschedules it instead of holding a host thread.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// Upper bound on `max-retries`, so a typo cannot keep a step spinning.
pub const MAX_RETRIES_CAP: u32 = 10;

impl CallOptions {
    pub fn debug(&self) -> bool {
        self.debug.unwrap_or(false)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.timeout_ms.filter(|t| *t > 0).unwrap_or(DEFAULT_TIMEOUT_MS)))
    }

    pub fn max_retries(&self) -> u32 {
        self.max_retries.unwrap_or(0).min(MAX_RETRIES_CAP)
    }

    /// Delay before retry number `retry` (0-based): the base delay, doubled each time with backoff.
    pub fn retry_delay(&self, retry: u32) -> Duration {
        let base = u64::from(self.retry_delay_ms.unwrap_or(0));
        let factor = if self.exponential_backoff.unwrap_or(false) { 1u64 << retry.min(20) } else { 1 };
        Duration::from_millis(base.saturating_mul(factor))
    }

    pub fn retry_on_all_errors(&self) -> bool {
        self.retry_on_all_errors.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_apply() {
        let o = CallOptions { retry_delay_ms: Some(100), exponential_backoff: Some(true), max_retries: Some(99), ..Default::default() };
        assert_eq!(o.retry_delay(0), Duration::from_millis(100));
        assert_eq!(o.retry_delay(3), Duration::from_millis(800));
        assert_eq!(o.max_retries(), MAX_RETRIES_CAP);
        assert_eq!(CallOptions::default().timeout(), Duration::from_secs(60));
    }
}
