//! The credit budget, checked above the client before a read spends more: the org's edition
//! and licensed users from `/crm/v8/org` (cached a day), its daily allotment, and the credits
//! counted in the last 24 hours ([`crate::limits`]).

use crate::client::{ApiCall, Client};
use crate::crm::response::{body_json, content_required};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::limits::{spent_last_24h, HOUR_MS};
use crate::storage::{get_fresh, put_fresh};
use serde_json::Value;
use std::time::Duration;

const ALLOTMENT_TTL: Duration = Duration::from_secs(24 * 3600);

/// The daily allotment of an edition with its licensed users (zoho-api.md, "Limits and credits").
pub fn daily_allotment(edition: &str, users: u64) -> u64 {
    match edition.to_ascii_lowercase().as_str() {
        "free" => 5_000,
        // Licensed users come from Zoho: saturating, so no count overflows.
        "standard" | "starter" => 50_000u64.saturating_add(users.saturating_mul(250)).min(100_000),
        "professional" => 50_000u64.saturating_add(users.saturating_mul(500)),
        "enterprise" => 50_000u64.saturating_add(users.saturating_mul(1_000)),
        "ultimate" | "crmplus" | "zohoone" => 50_000u64.saturating_add(users.saturating_mul(2_000)),
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

pub const ORG_LICENSE_KEY: &str = "limits/org-license";
pub const ORG_LICENSE_TTL: Duration = ALLOTMENT_TTL;

/// The org's edition and licensed users, from `/crm/v8/org`, cached for a day.
pub fn edition(client: &Client) -> Result<(String, u64)> {
    let key = ORG_LICENSE_KEY;
    if let Some(cached) = get_fresh(client.storage, key, ALLOTMENT_TTL)? {
        if let (Some(e), Some(u)) = (cached.get("paid_type").and_then(Value::as_str), cached.get("users_license_purchased").and_then(Value::as_u64)) {
            return Ok((e.to_string(), u));
        }
    }
    let response = client.send(ApiCall::new(Method::Get, "/crm/v8/org"))?;
    let body = body_json(content_required(&response)?)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allotments_follow_the_editions() {
        assert_eq!(daily_allotment("Free", 3), 5_000);
        assert_eq!(daily_allotment("standard", 100), 75_000);
        assert_eq!(daily_allotment("standard", 1_000), 100_000);
        assert_eq!(daily_allotment("Enterprise", 10), 60_000);
        assert_eq!(daily_allotment("ultimate", 10), 70_000);
    }

    /// #5: licensed users from Zoho at u64::MAX saturate.
    #[test]
    fn allotments_saturate() {
        assert_eq!(daily_allotment("ultimate", u64::MAX), u64::MAX);
        assert_eq!(daily_allotment("standard", u64::MAX), 100_000);
    }
}
