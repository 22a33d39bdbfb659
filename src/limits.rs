//! Zoho's limits, counted in the connection's key-value storage so every instance sees the same
//! numbers: API credits spent over a rolling 24 hours (hourly buckets), the daily allotment
//! from `/org`, and a cap on in-flight requests and requests per second.

use crate::client::{ApiCall, Client};
use crate::crm::response::{body_json, error_from_response};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Transport};
use crate::storage::{get_fresh, now_ms, put_fresh, Storage};
use serde_json::Value;
use std::time::Duration;

const HOUR_MS: u64 = 3_600_000;
const ALLOTMENT_TTL: Duration = Duration::from_secs(24 * 3600);
/// In-flight counters are per minute window; a holder that died frees its slot when the window ages out.
const SLOT_WINDOW_MS: u64 = 60_000;
/// How long a request waits for a slot or a second's budget before answering rate-limited.
const MAX_WAIT_MS: u64 = 2_000;
const POLL: Duration = Duration::from_millis(20);

fn counter(storage: &dyn Storage, key: &str) -> Result<u64> {
    Ok(storage.get(key)?.and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok()).unwrap_or(0))
}

/// Counts `credits` spent now.
pub fn spend(storage: &dyn Storage, credits: u64) -> Result<()> {
    storage.increment(&format!("limits/credits/{}", now_ms() / HOUR_MS), credits).map(drop)
}

/// Credits spent in the last 24 hours (the current hour and the 23 before it).
pub fn spent_last_24h(storage: &dyn Storage) -> Result<u64> {
    let hour = now_ms() / HOUR_MS;
    (0..24).map(|back| counter(storage, &format!("limits/credits/{}", hour.saturating_sub(back)))).sum()
}

/// The daily allotment of an edition with its licensed users (zoho-api.md, "Limits and credits").
pub fn daily_allotment(edition: &str, users: u64) -> u64 {
    match edition.to_ascii_lowercase().as_str() {
        "free" => 5_000,
        "standard" | "starter" => (50_000 + 250 * users).min(100_000),
        "professional" => 50_000 + 500 * users,
        "enterprise" => 50_000 + 1_000 * users,
        "ultimate" | "crmplus" | "zohoone" => 50_000 + 2_000 * users,
        // An unknown edition gets the smallest paid allotment: pausing early beats running dry.
        _ => 50_000,
    }
}

/// Concurrent calls Zoho allows per org per app, by edition (the ceiling for our cap).
pub fn edition_concurrency(edition: &str) -> u32 {
    match edition.to_ascii_lowercase().as_str() {
        "free" => 5,
        "standard" | "starter" => 10,
        "professional" => 15,
        "enterprise" => 20,
        _ => 25,
    }
}

/// The org's edition and licensed users, from `/crm/v8/org`, cached for a day.
pub fn edition(client: &Client) -> Result<(String, u64)> {
    let key = "limits/org-license";
    if let Some(cached) = get_fresh(client.storage, key, ALLOTMENT_TTL)? {
        if let (Some(e), Some(u)) = (cached.get("paid_type").and_then(Value::as_str), cached.get("users_license_purchased").and_then(Value::as_u64)) {
            return Ok((e.to_string(), u));
        }
    }
    let response = client.send(ApiCall::new(Method::Get, "/crm/v8/org"))?;
    if response.status != 200 {
        return Err(error_from_response(&response));
    }
    let body = body_json(&response)?;
    let license = body.pointer("/org/0/license_details").cloned().unwrap_or(Value::Null);
    let edition = license.get("paid_type").and_then(Value::as_str).unwrap_or("free").to_string();
    let users = license.get("users_license_purchased").and_then(Value::as_u64).unwrap_or(1);
    put_fresh(client.storage, key, &serde_json::json!({ "paid_type": edition, "users_license_purchased": users }))?;
    Ok((edition, users))
}

/// Refuses to spend more once `share` of the day's credits is used.
pub fn check_credit_budget(client: &Client, share: f64) -> Result<()> {
    if !(0.5..=1.0).contains(&share) {
        return Err(ZohoError::invalid_input(format!("backoff-at-credit-percentage {share} is out of range: give a share from 0.5 to 1.0")));
    }
    let (edition, users) = edition(client)?;
    let allotment = daily_allotment(&edition, users);
    let spent = spent_last_24h(client.storage)?;
    if spent as f64 >= share * allotment as f64 {
        let mut error = ZohoError::new(
            ErrorKind::CreditsExhausted,
            format!("{spent} of today's {allotment} API credits ({edition}, {users} users) are used, at or past the {:.0}% backoff share; try again in an hour", share * 100.0),
        );
        error.retry_after_ms = Some(HOUR_MS);
        error.details = Some(serde_json::json!({ "spent": spent, "allotment": allotment, "edition": edition }));
        return Err(error);
    }
    Ok(())
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
        let mut total = 0;
        // The next window too: a worker whose clock already crossed the minute counts there.
        for w in [window.saturating_sub(1), window, window + 1] {
            let acquired = counter(storage, &format!("limits/inflight/{w}/acquired"))?;
            let released = counter(storage, &format!("limits/inflight/{w}/released"))?;
            total += acquired.saturating_sub(released);
        }
        Ok(total)
    }

    /// Waits for a slot and a share of this second's budget, or answers rate-limited.
    pub fn acquire(&self, storage: &dyn Storage, transport: &dyn Transport) -> Result<Slot> {
        let mut waits = MAX_WAIT_MS / POLL.as_millis() as u64;
        loop {
            let now = now_ms();
            let window = now / SLOT_WINDOW_MS;
            // Increment-only atomics: in flight = acquired - released, per window.
            storage.increment(&format!("limits/inflight/{window}/acquired"), 1)?;
            if Self::in_flight(storage, window)? <= u64::from(self.max_in_flight) {
                let second = storage.increment(&format!("limits/rate/{}", now / 1000), 1)?;
                if second <= u64::from(self.per_second) {
                    return Ok(Slot { window });
                }
            }
            storage.increment(&format!("limits/inflight/{window}/released"), 1)?;
            if waits == 0 {
                let mut error = ZohoError::new(
                    ErrorKind::RateLimited,
                    format!("this connection already has {} requests in flight or {} this second; try again shortly", self.max_in_flight, self.per_second),
                );
                error.retry_after_ms = Some(1_000);
                return Err(error);
            }
            waits -= 1;
            transport.sleep(POLL);
        }
    }

    pub fn release(storage: &dyn Storage, slot: Slot) {
        let _ = storage.increment(&format!("limits/inflight/{}/released", slot.window), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::scripted::Scripted;
    use crate::storage::memory::Memory;

    #[test]
    fn allotments_follow_the_editions() {
        assert_eq!(daily_allotment("Free", 3), 5_000);
        assert_eq!(daily_allotment("standard", 100), 75_000);
        assert_eq!(daily_allotment("standard", 1_000), 100_000);
        assert_eq!(daily_allotment("Enterprise", 10), 60_000);
        assert_eq!(daily_allotment("ultimate", 10), 70_000);
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
