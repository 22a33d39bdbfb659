//! The credit budget, checked above the client before a read spends more: the org's edition
//! and licensed users from `/crm/v8/org` (cached a day), its daily allotment, and the credits
//! counted in the last 24 hours ([`crate::limits`]).

use crate::client::{ApiCall, Client};
use crate::credits::{self, CreditTable};
use crate::crm::response::{body_json, content_required};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::limits::{observed_remaining, spent_last_24h, HOUR_MS};
use crate::storage::{get_fresh, put_fresh};
use serde_json::{json, Value};
use std::time::Duration;

pub const ALLOTMENT_TTL: Duration = Duration::from_secs(24 * 3600);

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

pub use crate::storage::keys::ORG_LICENSE as ORG_LICENSE_KEY;

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

/// Refuses to spend more once `share` of the day's credits is used. The use is the larger of
/// this connection's own count (credits by Zoho's table, [`crate::credits`]) and what Zoho's
/// last `X-API-CREDITS-REMAINING` says the whole org used (every app of the org spends from the
/// same credits). Once the budget allows the step, the org's credit table is read if the day's
/// is not known yet ([`refresh_credit_table`]; never fails the step).
pub fn check_credit_budget(client: &Client, share: f64) -> Result<()> {
    if !(0.5..=1.0).contains(&share) {
        return Err(ZohoError::invalid_input(format!("backoff-at-credit-percentage {share} is out of range: give a share from 0.5 to 1.0")));
    }
    let (edition, users) = edition(client)?;
    let allotment = daily_allotment(&edition, users);
    let counted = spent_last_24h(client.storage)?;
    let remaining = observed_remaining(client.storage);
    let spent = counted.max(remaining.map_or(0, |r| allotment.saturating_sub(r)));
    if spent as f64 >= share * allotment as f64 {
        let by_zoho = remaining.filter(|_| spent > counted).map(|r| format!(" (Zoho says {r} remain for the whole org; this connection counted {counted})")).unwrap_or_default();
        let mut error = ZohoError::new(
            ErrorKind::CreditsExhausted,
            format!("{spent} of today's {allotment} API credits ({edition}, {users} users) are used{by_zoho}, at or past the {:.0}% backoff share; try again in an hour", share * 100.0),
        );
        error.retry_after_ms = Some(HOUR_MS);
        let mut details = serde_json::json!({ "spent": spent, "allotment": allotment, "edition": edition });
        if let Some(remaining) = remaining {
            details["counted"] = serde_json::json!(counted);
            details["zoho_credits_remaining"] = serde_json::json!(remaining);
        }
        error.details = Some(details);
        return Err(error);
    }
    refresh_credit_table(client);
    Ok(())
}

/// Reads the org's credit table from `/__apis` once a day, where the token allows it: a Self
/// Client's scopes are known, and one without a scope for it is not asked. Whatever comes back,
/// the outcome is kept for the day and the step goes on.
pub fn refresh_credit_table(client: &Client) {
    if get_fresh(client.storage, credits::TABLE_KEY, credits::TABLE_TTL).ok().flatten().is_some() {
        return;
    }
    let granted = client.granted_scopes().map(|s| crate::scopes::list(&s).into_iter().map(str::to_string).collect::<Vec<_>>());
    let allowed = granted.as_ref().is_none_or(|granted| credits::APIS_SCOPES.iter().any(|needed| granted.iter().any(|g| crate::scopes::covers(g, needed))));
    let (stored, note) = if !allowed {
        (json!({ "source": "defaults", "why": "the connection's scopes do not include ZohoCRM.apis.READ" }), None)
    } else {
        match client.send(ApiCall::new(Method::Get, credits::APIS_PATH)) {
            Ok(response) if response.status == 200 => match crate::json::tree(&response.body).ok().as_ref().and_then(CreditTable::from_apis) {
                Some(table) => (table.to_stored(), None),
                None => (json!({ "source": "defaults", "why": "Zoho's credit table was not readable" }), Some("an unreadable answer".to_string())),
            },
            Ok(response) => (json!({ "source": "defaults", "why": format!("Zoho answered HTTP {}", response.status) }), Some(format!("HTTP {}", response.status))),
            Err(e) => (json!({ "source": "defaults", "why": e.message.clone() }), Some(e.message)),
        }
    };
    if let Some(note) = note {
        eprintln!("zoho: the org's credit table (GET {}) was not read ({note}); Zoho's documented credits are counted instead", credits::APIS_PATH);
    }
    let _ = put_fresh(client.storage, credits::TABLE_KEY, &stored);
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
