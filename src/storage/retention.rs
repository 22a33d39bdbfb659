//! The hourly sweep that deletes stale keys, so a long-lived tenant's namespace stays bounded:
//! each key's family and its retention are [`keys`]'s (docs/key-value.md lists them).

use super::keys::{self, Retention, OPEN_SWEEP_RETENTION_MS};
use super::{Storage, HOUR_MS_FOR_RETENTION as HOUR_MS};
use serde::Deserialize;
use std::collections::HashMap;

/// Page keys of a sweep that began less than this ago are kept even when the scope's sweep key
/// does not name it yet (the step creating it writes its first page before the sweep key).
const YOUNG_SWEEP_MS: u64 = HOUR_MS;
/// One sweep deletes at most this many keys and lists at most this many; the rest wait an hour.
const MAX_DELETES: usize = 10_000;
const MAX_LISTED: usize = 200_000;

/// An entry written by `put_fresh`.
#[derive(Deserialize)]
struct Fresh {
    #[serde(default)]
    stored_at_ms: u64,
}

#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    expires_at_ms: u64,
}

#[derive(Deserialize)]
struct OpenSweep {
    #[serde(default)]
    sweep: String,
    #[serde(default)]
    opened_at_ms: u64,
}

/// Lists the namespace and deletes every stale key by its family's rule. Failures are logged
/// and end the sweep: retention never fails a step.
pub fn sweep(storage: &dyn Storage, now: u64) -> usize {
    match try_sweep(storage, now) {
        Ok(deleted) => deleted,
        Err(e) => {
            eprintln!("zoho: retention sweep stopped: {}", e.message);
            0
        }
    }
}

fn try_sweep(storage: &dyn Storage, now: u64) -> crate::error::Result<usize> {
    let mut stale = Vec::new();
    let mut open_sweeps: HashMap<String, Option<String>> = HashMap::new();
    let mut cursor = None;
    let mut listed = 0usize;
    loop {
        let page = storage.list_keys(cursor)?;
        listed = listed.saturating_add(page.keys.len());
        for key in page.keys {
            if stale.len() < MAX_DELETES && is_stale(storage, &key, now, &mut open_sweeps)? {
                stale.push(key);
            }
        }
        // A cursor that does not move would list forever.
        match page.cursor {
            Some(next) if Some(next) != cursor && listed < MAX_LISTED && stale.len() < MAX_DELETES => cursor = Some(next),
            _ => break,
        }
    }
    for key in &stale {
        storage.delete(key)?;
    }
    Ok(stale.len())
}

/// Is `key` past its family's retention at `now`? A key of no family the component writes is kept.
pub fn is_stale(storage: &dyn Storage, key: &str, now: u64, open_sweeps: &mut HashMap<String, Option<String>>) -> crate::error::Result<bool> {
    let Some(parsed) = keys::parse(key) else { return Ok(false) };
    let read = |k: &str| storage.get(k);
    Ok(match parsed.family.retention() {
        Retention::Window { window_ms, behind, grace_ms } => {
            parsed.window.is_none_or(|w| w.saturating_add(behind) <= now / window_ms.max(1) || w.saturating_mul(window_ms).saturating_add(grace_ms) < now)
        }
        Retention::Fresh { ttl_ms } => fresh_past(read(key)?, now, ttl_ms),
        Retention::TokenExpiry => match read(key)? {
            Some(bytes) => serde_json::from_slice::<Token>(&bytes).map_or(true, |t| t.expires_at_ms.saturating_add(HOUR_MS) < now),
            None => false,
        },
        Retention::OpenSweep => match read(key)? {
            Some(bytes) => serde_json::from_slice::<OpenSweep>(&bytes).map_or(true, |s| s.opened_at_ms.saturating_add(OPEN_SWEEP_RETENTION_MS) < now),
            None => false,
        },
        Retention::SweepPage => {
            let (Some(scope), Some(sweep_id)) = (parsed.scope, parsed.sweep) else { return Ok(false) };
            if !open_sweeps.contains_key(&scope) {
                // An open sweep past its own retention goes in this run: its pages with it.
                let open = read(&keys::open_sweep(&scope))?
                    .and_then(|b| serde_json::from_slice::<OpenSweep>(&b).ok())
                    .filter(|s| s.opened_at_ms.saturating_add(OPEN_SWEEP_RETENTION_MS) >= now)
                    .map(|s| s.sweep);
                open_sweeps.insert(scope.clone(), open);
            }
            let current = open_sweeps.get(&scope).and_then(|s| s.as_deref()) == Some(sweep_id);
            // Sweep ids are the hex of the millisecond they began.
            let young = u64::from_str_radix(sweep_id, 16).is_ok_and(|began| began.saturating_add(YOUNG_SWEEP_MS) > now);
            !current && !young
        }
        Retention::Always => false,
    })
}

/// A `put_fresh` entry stored more than `ttl_ms` ago (or unreadable) is stale.
fn fresh_past(bytes: Option<Vec<u8>>, now: u64, ttl_ms: u64) -> bool {
    match bytes {
        Some(bytes) => serde_json::from_slice::<Fresh>(&bytes).map_or(true, |f| f.stored_at_ms.saturating_add(ttl_ms) <= now),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::keys::LEASE_WINDOW_MS;
    use crate::storage::memory::Memory;
    use crate::storage::Storage;
    use serde_json::json;

    const MINUTE_MS: u64 = 60_000;
    const DAY_MS: u64 = 24 * HOUR_MS;

    fn set(m: &Memory, key: &str, value: serde_json::Value) {
        m.set(key, value.to_string().as_bytes()).unwrap();
    }

    /// #14: every family's stale keys go, live ones stay, garbage numbers do not panic.
    #[test]
    fn stale_keys_of_every_family_are_deleted_and_live_ones_kept() {
        let now: u64 = 1_700_000_000_000;
        let (hour, minute, second) = (now / HOUR_MS, now / MINUTE_MS, now / 1000);
        let m = Memory::default();
        let live = [
            format!("limits/credits/{hour}"),
            format!("limits/credits/{}", hour - 24),
            format!("limits/inflight/{minute}/acquired"),
            format!("limits/inflight/{}/released", minute - 1),
            format!("limits/rate/{second}"),
            format!("limits/rate/{}", second - 2),
            "limits/org-license".into(),
            "limits/credit-table".into(),
            "limits/credits-remaining".into(),
            format!("limits/books/10234695/window/{}/sent", now / 6_000),
            format!("limits/books/10234695/window/{}/refused", now / 6_000 - 12),
            format!("limits/books/10234695/day/{}", now / DAY_MS - 1),
            "limits/books/10234695/blocked".into(),
            "crm/fields/Leads".into(),
            "crm/field-metadata/Leads".into(),
            "crm/page-tokens/Leads/00ff".into(),
            "auth/token/abc".into(),
            format!("auth/lease/abc/{}", now / LEASE_WINDOW_MS),
            "incremental/Contacts/sweep".into(),
            "incremental/Contacts/cursor".into(),
            "incremental/Contacts/cursor-boundary".into(),
            "incremental/Contacts/aaaa/start/2".into(),
            format!("incremental/sync/deals/{:x}/boundary/1", now - 1000),
            "books/organization-id".into(),
        ];
        let stale = [
            format!("limits/credits/{}", hour - 25),
            "limits/credits/18446744073709551615x".into(),
            format!("limits/inflight/{}/acquired", minute - 3),
            format!("limits/rate/{}", second - 3),
            "limits/rate/garbage".into(),
            format!("limits/books/10234695/window/{}/sent", now / 6_000 - 13),
            format!("limits/books/10234695/day/{}", now / DAY_MS - 2),
            "limits/books/-/blocked".into(),
            "crm/fields/Deals".into(),
            "crm/field-metadata/Deals".into(),
            "crm/page-tokens/Deals/1111".into(),
            "auth/token/old".into(),
            format!("auth/lease/abc/{}", now / LEASE_WINDOW_MS - 10),
            "incremental/Leads/sweep".into(),
            "incremental/Contacts/bbbb/start/2".into(),
            "incremental/Leads/cccc/boundary/7".into(),
        ];
        for key in live.iter().chain(stale.iter()) {
            m.set(key, b"18446744073709551615").unwrap();
        }
        for (key, at) in
            [("limits/credit-table", now - DAY_MS + 1), ("limits/credits-remaining", now - HOUR_MS + 1), ("limits/books/10234695/blocked", now - 1000), ("limits/books/-/blocked", now - DAY_MS)]
        {
            set(&m, key, json!({ "stored_at_ms": at, "value": {} }));
        }
        for (key, at) in [
            ("limits/org-license", now - 1000),
            ("crm/fields/Leads", now - 1000),
            ("crm/field-metadata/Leads", now - HOUR_MS + 1),
            ("crm/page-tokens/Leads/00ff", now),
            ("crm/fields/Deals", now - HOUR_MS),
            ("crm/field-metadata/Deals", now - HOUR_MS),
        ] {
            set(&m, key, json!({ "stored_at_ms": at, "value": [] }));
        }
        // No stored time: stale.
        set(&m, "crm/page-tokens/Deals/1111", json!({ "value": [] }));
        set(&m, "auth/token/abc", json!({ "expires_at_ms": now + 1000, "access_token": "t" }));
        set(&m, "auth/token/old", json!({ "expires_at_ms": now - 2 * HOUR_MS }));
        set(&m, "incremental/Contacts/sweep", json!({ "sweep": "aaaa", "opened_at_ms": now - 1000 }));
        set(&m, "incremental/Leads/sweep", json!({ "sweep": "cccc", "opened_at_ms": now - OPEN_SWEEP_RETENTION_MS - 1 }));
        assert_eq!(sweep(&m, now), stale.len());
        let mut left: Vec<String> = m.0.borrow().keys().cloned().collect();
        left.sort();
        let mut expected: Vec<String> = live.to_vec();
        expected.sort();
        assert_eq!(left, expected);
    }

    #[test]
    fn a_failing_store_ends_the_sweep_quietly() {
        assert_eq!(sweep(&crate::storage::memory::Broken, 0), 0);
    }
}
