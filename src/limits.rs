//! Zoho's limits as they apply under the client, to every exchange, counted in the
//! connection's key-value storage so every instance sees the same numbers: API credits spent
//! over a rolling 24 hours (hourly buckets), and a cap on in-flight requests and requests per
//! second. The budget check that asks `/org` for the allotment sits above the client
//! ([`crate::budget`]).

use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Transport;
use crate::storage::{now_ms, Storage};
use std::time::Duration;

pub const HOUR_MS: u64 = 3_600_000;
/// In-flight counters are per minute window; a holder that died frees its slot when the window ages out.
pub const SLOT_WINDOW_MS: u64 = 60_000;
/// How long a request waits for a slot or a second's budget before answering rate-limited.
const MAX_WAIT_MS: u64 = 2_000;
const POLL: Duration = Duration::from_millis(20);

pub use crate::storage::keys::{credits as credits_key, inflight as inflight_key, rate as rate_key};

/// A stored counter; garbage or a missing key counts as 0, and any u64 is read without overflow.
fn counter(storage: &dyn Storage, key: &str) -> Result<u64> {
    Ok(storage.get(key)?.and_then(|b| std::str::from_utf8(&b).ok()?.trim().parse().ok()).unwrap_or(0))
}

thread_local! {
    /// Credits this instance spent but could not record (the store failed): added to the next
    /// successful count and to this step's own budget checks, so they are not lost while the
    /// step lives. A step is one instance, so this never outlives the step.
    static UNCOUNTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Credits spent in this step that the store has not recorded.
pub fn uncounted() -> u64 {
    UNCOUNTED.with(|c| c.get())
}

/// Counts `credits` spent now. When the store fails, the credits are kept in the step (see
/// [`uncounted`]), a line goes to the step's log (stderr) and the error is returned; the first
/// credit of an hour also runs the namespace's hourly retention sweep.
pub fn spend(storage: &dyn Storage, credits: u64) -> Result<()> {
    spend_at(storage, credits, now_ms())
}

pub fn spend_at(storage: &dyn Storage, credits: u64, now: u64) -> Result<()> {
    let pending = uncounted().saturating_add(credits);
    match storage.increment(&credits_key(now / HOUR_MS), pending) {
        Ok(total) => {
            UNCOUNTED.with(|c| c.set(0));
            // The atomic counter makes exactly one step per namespace and hour the first.
            if total == pending {
                crate::storage::retention::sweep(storage, now);
            }
            Ok(())
        }
        Err(e) => {
            UNCOUNTED.with(|c| c.set(pending));
            eprintln!("zoho: credit count not recorded ({}); {pending} credits of this step are uncounted in the shared budget", e.message);
            Err(e)
        }
    }
}

/// Credits spent in the last 24 hours (the current hour and the 23 before it), plus what
/// this step spent without recording it.
pub fn spent_last_24h(storage: &dyn Storage) -> Result<u64> {
    let hour = now_ms() / HOUR_MS;
    let mut total = uncounted();
    for back in 0..24 {
        total = total.saturating_add(counter(storage, &credits_key(hour.saturating_sub(back)))?);
    }
    Ok(total)
}

/// Zoho's own count of the org's credits: `X-API-CREDITS-REMAINING`, which CRM answers carry
/// once the org has used half its day's credits (add-on credits aside; v8 "API Limits",
/// https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html). Every app of the org spends
/// from the same credits, so this connection's own count is only a floor: the budget takes the
/// larger use. Absent means unknown (under half used, or not sent), never "plenty left".
pub const CREDITS_REMAINING_HEADER: &str = "x-api-credits-remaining";
pub use crate::storage::keys::CREDITS_REMAINING as REMAINING_KEY;
/// How long Zoho's figure is trusted: credits come back as the rolling day moves on, and every
/// CRM answer past half the day carries a fresh one.
pub const REMAINING_TTL: Duration = Duration::from_secs(3600);

/// The remaining credits an answer states, when it states them as a number.
pub fn credits_remaining(response: &crate::http::Response) -> Option<u64> {
    let text = response.header(CREDITS_REMAINING_HEADER)?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<u64>().unwrap_or(u64::MAX))
}

/// Keeps the latest remaining credits Zoho stated (a failing store loses only this hint).
pub fn observe_remaining(storage: &dyn Storage, remaining: u64) {
    let _ = crate::storage::put_fresh(storage, REMAINING_KEY, &serde_json::json!({ "remaining": remaining }));
}

/// The remaining credits Zoho stated within the last hour, if any.
pub fn observed_remaining(storage: &dyn Storage) -> Option<u64> {
    crate::storage::get_fresh(storage, REMAINING_KEY, REMAINING_TTL).ok().flatten()?.get("remaining")?.as_u64()
}

/// A cap on requests in flight and per second, shared by every instance of the connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    pub max_in_flight: u32,
    pub per_second: u32,
}

/// A held in-flight slot; released after the request.
#[derive(Debug)]
pub struct Slot {
    window: u64,
}

impl Throttle {
    /// Sling's defaults.
    pub const DEFAULT: Throttle = Throttle { max_in_flight: 3, per_second: 5 };

    fn in_flight(storage: &dyn Storage, window: u64) -> Result<u64> {
        let mut total = 0u64;
        // The next window too: a worker whose clock already crossed the minute counts there.
        for w in [window.saturating_sub(1), window, window.saturating_add(1)] {
            // Released before acquired: a step that acquires and releases between the two
            // reads then counts as in flight (one too many, for a moment), never the other
            // way round: read the other way, its release without its acquisition hid a holder
            // and let one step more through the cap.
            let released = counter(storage, &inflight_key(w, "released"))?;
            let acquired = counter(storage, &inflight_key(w, "acquired"))?;
            total = total.saturating_add(acquired.saturating_sub(released));
        }
        Ok(total)
    }

    /// Waits for a slot and a share of this second's budget, or answers rate-limited.
    pub fn acquire(&self, storage: &dyn Storage, transport: &dyn Transport) -> Result<Slot> {
        self.acquire_with(storage, transport, &now_ms)
    }

    /// `acquire` on a given clock (tests move it by hand).
    pub fn acquire_with(&self, storage: &dyn Storage, transport: &dyn Transport, clock: &dyn Fn() -> u64) -> Result<Slot> {
        let mut waits = MAX_WAIT_MS / POLL.as_millis() as u64;
        loop {
            let now = clock();
            let window = now / SLOT_WINDOW_MS;
            // Increment-only atomics: in flight = acquired - released, per window.
            if storage.increment(&inflight_key(window, "acquired"), 1)? == 1 {
                forget_windows_before(storage, window);
            }
            if Self::in_flight(storage, window)? <= u64::from(self.max_in_flight) {
                let second = now / 1000;
                let count = storage.increment(&rate_key(second), 1)?;
                if count == 1 {
                    forget_seconds_before(storage, second);
                }
                if count <= u64::from(self.per_second) {
                    return Ok(Slot { window });
                }
            }
            storage.increment(&inflight_key(window, "released"), 1)?;
            if waits == 0 {
                let mut error =
                    ZohoError::new(ErrorKind::RateLimited, format!("this connection already has {} requests in flight or {} this second; try again shortly", self.max_in_flight, self.per_second));
                error.retry_after_ms = Some(1_000);
                return Err(error);
            }
            waits -= 1;
            transport.sleep(POLL);
        }
    }

    pub fn release(storage: &dyn Storage, slot: Slot) {
        let _ = storage.increment(&inflight_key(slot.window, "released"), 1);
    }
}

/// Counters no reader looks at any more are deleted by the first request of each new window:
/// the in-flight count reads windows w-1 to w+1, the rate count only its own second; one more
/// window is kept for a worker whose clock lags. Gaps longer than this are the hourly sweep's.
const FORGET_BEHIND: u64 = 3;

fn forget_windows_before(storage: &dyn Storage, window: u64) {
    for back in 2..2 + FORGET_BEHIND {
        let Some(w) = window.checked_sub(back) else { break };
        let _ = storage.delete(&inflight_key(w, "acquired"));
        let _ = storage.delete(&inflight_key(w, "released"));
    }
}

fn forget_seconds_before(storage: &dyn Storage, second: u64) {
    for back in 2..2 + FORGET_BEHIND {
        let Some(s) = second.checked_sub(back) else { break };
        let _ = storage.delete(&rate_key(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::scripted::Scripted;
    use crate::storage::memory::Memory;

    /// #5: stored counters at u64's edge or garbage neither overflow nor panic; #5: licensed
    /// users from Zoho at u64::MAX saturate.
    #[test]
    fn counters_at_the_edge_and_garbage_are_read_without_overflow() {
        let storage = Memory::default();
        let hour = now_ms() / HOUR_MS;
        storage.set(&credits_key(hour), b"18446744073709551615").unwrap();
        storage.set(&credits_key(hour - 1), b"18446744073709551615").unwrap();
        storage.set(&credits_key(hour - 2), b"garbage").unwrap();
        assert_eq!(spent_last_24h(&storage).unwrap(), u64::MAX);
        spend(&storage, 1).unwrap();
        assert_eq!(counter(&storage, &credits_key(now_ms() / HOUR_MS)).unwrap(), u64::MAX);
        let window = now_ms() / SLOT_WINDOW_MS;
        storage.set(&inflight_key(window, "acquired"), b"18446744073709551615").unwrap();
        storage.set(&inflight_key(window + 1, "acquired"), b"18446744073709551615").unwrap();
        assert_eq!(Throttle::in_flight(&storage, window).unwrap(), u64::MAX);
    }

    /// #16: a failing store does not drop the credit silently: the error comes back, the step
    /// keeps the count and adds it to the next successful write.
    #[test]
    fn a_failing_store_keeps_the_credit_count_in_the_step() {
        let broken = crate::storage::memory::Broken;
        assert_eq!(spend(&broken, 1).unwrap_err().kind, ErrorKind::Internal);
        assert_eq!(spend(&broken, 1).unwrap_err().kind, ErrorKind::Internal);
        assert_eq!(uncounted(), 2);
        let storage = Memory::default();
        assert_eq!(spent_last_24h(&storage).unwrap(), 2, "the step's own budget check sees them");
        spend(&storage, 1).unwrap();
        assert_eq!(uncounted(), 0);
        assert_eq!(spent_last_24h(&storage).unwrap(), 3);
    }

    /// #14: the first request of a new second or minute deletes the counters no one reads.
    #[test]
    fn moving_past_a_window_deletes_its_counters() {
        let (storage, transport) = (Memory::default(), Scripted::default());
        let throttle = Throttle { max_in_flight: 100, per_second: 100 };
        let start: u64 = 1_700_000_000_000;
        let now = std::cell::Cell::new(start);
        for _ in 0..600 {
            let slot = throttle.acquire_with(&storage, &transport, &|| now.get()).unwrap();
            Throttle::release(&storage, slot);
            now.set(now.get() + 1_000);
        }
        let keys: Vec<String> = storage.0.borrow().keys().cloned().collect();
        let rate = keys.iter().filter(|k| k.starts_with("limits/rate/")).count();
        let inflight = keys.iter().filter(|k| k.starts_with("limits/inflight/")).count();
        assert!(rate <= 2, "{keys:?}");
        assert!(inflight <= 4, "{keys:?}");
        // A spend that is the hour's first runs the retention sweep, which takes any gap's leftovers.
        storage.set(&rate_key(start / 1000), b"3").unwrap();
        spend_at(&storage, 1, now.get() + HOUR_MS).unwrap();
        assert!(storage.get(&rate_key(start / 1000)).unwrap().is_none());
    }

    /// Attack: between the throttle's two reads of a window, another step acquires a slot and
    /// gives it back (a refused attempt does exactly that). The cap still holds.
    #[test]
    fn a_step_passing_between_the_two_reads_never_lets_one_more_through() {
        struct Interleaved {
            inner: Memory,
            window: u64,
            done: std::cell::Cell<bool>,
        }
        impl Storage for Interleaved {
            fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
                let value = self.inner.get(key)?;
                if key.starts_with(&format!("limits/inflight/{}/", self.window)) && !self.done.replace(true) {
                    self.inner.increment(&inflight_key(self.window, "acquired"), 1)?;
                    self.inner.increment(&inflight_key(self.window, "released"), 1)?;
                }
                Ok(value)
            }
            fn set(&self, key: &str, value: &[u8]) -> Result<()> {
                self.inner.set(key, value)
            }
            fn delete(&self, key: &str) -> Result<()> {
                self.inner.delete(key)
            }
            fn increment(&self, key: &str, delta: u64) -> Result<u64> {
                self.inner.increment(key, delta)
            }
        }
        let now: u64 = 1_700_000_000_000;
        let window = now / SLOT_WINDOW_MS;
        let storage = Interleaved { inner: Memory::default(), window, done: std::cell::Cell::new(false) };
        // One step holds the only slot.
        storage.inner.increment(&inflight_key(window, "acquired"), 1).unwrap();
        let throttle = Throttle { max_in_flight: 1, per_second: 100 };
        let transport = Scripted::default();
        let outcome = throttle.acquire_with(&storage, &transport, &|| now);
        assert_eq!(outcome.map(|_| ()).unwrap_err().kind, ErrorKind::RateLimited, "a second step got the only slot");
    }

    #[test]
    fn the_throttle_holds_the_cap_and_frees_slots() {
        let (storage, transport) = (Memory::default(), Scripted::default());
        let throttle = Throttle { max_in_flight: 2, per_second: 100 };
        let a = throttle.acquire(&storage, &transport).unwrap();
        let _b = throttle.acquire(&storage, &transport).unwrap();
        assert_eq!(throttle.acquire(&storage, &transport).unwrap_err().kind, ErrorKind::RateLimited);
        Throttle::release(&storage, a);
        assert!(throttle.acquire(&storage, &transport).is_ok());
    }
}
