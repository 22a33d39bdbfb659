//! Zoho Books' own limits, apart from CRM's credits: Books calls spend no CRM credits. Books
//! counts requests per organization, about 100 a minute, and a number a day by plan (Free
//! 1,000, Standard 2,000, Professional 5,000, Premium and above 10,000; Zoho Books API
//! "Introduction", "API Call Limit"); past either it answers 429, with `X-Rate-Limit-Limit`,
//! `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` when it sends them.
//!
//! Every Books request is counted per organization, in a sliding minute (and per day, reported);
//! a request that would be the 101st of any 60 seconds is not sent, and an answer saying how long to wait
//! (a 429 with `X-Rate-Limit-Reset` or `Retry-After`) or that nothing remains
//! (`X-Rate-Limit-Remaining: 0`, a minute when it names no reset) keeps every step of the
//! connection from Books until then. A bare 429 is the step's rate-limited error only. `X-Rate-Limit-Reset` is read as seconds until the reset, or as the reset's Unix
//! time when it is that large (Zoho's pages do not say which; both readings wait long enough).

use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Response;
use crate::storage::{get_fresh, now_ms, put_fresh, Storage};
use serde_json::{json, Value};
use std::time::Duration;

/// Books' documented requests per minute per organization.
pub const PER_MINUTE: u64 = 100;
const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 24 * 3_600_000;
/// A reset past this many seconds is a Unix time, not a wait (a wait is at most a day).
const UNIX_TIME_FROM: u64 = 1_000_000_000;
/// The longest wait a reset header is trusted for.
const MAX_WAIT_MS: u64 = DAY_MS;

pub use crate::storage::keys::{books_allowance as allowance_key, books_blocked as blocked_key, books_day as day_key, books_window as window_key, BOOKS_SLOT_MS as SLOT_MS};

/// The slots before the current one that any 60 seconds ending now can touch.
const SLOTS: u64 = MINUTE_MS / SLOT_MS;

/// The code of a request held back because this connection already sent Books' minute: a step
/// that can wait for its turn within its retry budget does (src/client.rs), else it is the
/// step's rate-limited error.
pub const MINUTE_FULL: &str = "BOOKS_MINUTE_FULL";

/// The organization a Books request is for (`organization_id`), or `-` before one is known
/// (listing the organizations).
pub fn organization_of(query: &[(String, String)]) -> String {
    query.iter().find(|(k, _)| k == "organization_id").map(|(_, v)| v.chars().filter(char::is_ascii_digit).take(32).collect::<String>()).filter(|v| !v.is_empty()).unwrap_or_else(|| "-".into())
}

fn counter(storage: &dyn Storage, key: &str) -> u64 {
    storage.get(key).ok().flatten().and_then(|b| std::str::from_utf8(&b).ok()?.trim().parse().ok()).unwrap_or(0)
}

fn rate_limited(message: String, wait_ms: u64) -> ZohoError {
    let mut error = ZohoError::new(ErrorKind::RateLimited, message).with_code("BOOKS_RATE_LIMIT");
    error.retry_after_ms = Some(wait_ms.max(1));
    error
}

/// Before a Books request: refused (rate-limited, with the wait) while Books said nothing
/// remains, or when this minute already had Books' 100; else counted.
pub fn before(storage: &dyn Storage, organization: &str) -> Result<()> {
    before_at(storage, organization, now_ms())
}

pub fn before_at(storage: &dyn Storage, organization: &str, now: u64) -> Result<()> {
    if let Some(until) = get_fresh(storage, &blocked_key(organization), Duration::from_millis(MAX_WAIT_MS)).ok().flatten().and_then(|v| v.get("until_ms").and_then(Value::as_u64)) {
        if until > now {
            // A stored block is trusted no further than a reset is (a garbled or foreign value
            // must not ask the platform to wait for ages).
            let wait = (until - now).min(MAX_WAIT_MS);
            return Err(rate_limited(
                format!("Zoho Books answered that organization {organization}'s requests are used up until its limit resets; nothing was sent. Try again in {} s", wait.div_ceil(1000)),
                wait,
            ));
        }
    }
    if let Some(wait) = minute_is_full(storage, organization, now) {
        let mut error = rate_limited(
            format!("Zoho Books allows about {PER_MINUTE} requests a minute per organization and this connection sent them in the last minute for organization {organization}; nothing was sent. Try again in {} s", wait.div_ceil(1000)),
            wait,
        );
        error.code = Some(MINUTE_FULL.into());
        return Err(error);
    }
    let _ = storage.increment(&day_key(organization, now / DAY_MS), 1);
    Ok(())
}

/// Books' minute read as strictly as any reading of "about 100 requests per minute" allows: no
/// 60 seconds hold more than [`PER_MINUTE`] requests, whether Books counts calendar minutes or a
/// sliding minute. Requests are counted in slots of [`SLOT_MS`]; any 60 seconds ending in this
/// slot touch it and the [`SLOTS`] before it, and the slot after is read too, for a worker whose
/// clock runs ahead. The request is counted first (an atomic increment, so two workers never
/// both take the 100th place), then held back, and counted as refused, when the count passes
/// the limit: a race makes both refuse, never both send. Answers the wait until enough slots
/// leave the window for this request, or `None` when it may go.
fn minute_is_full(storage: &dyn Storage, organization: &str, now: u64) -> Option<u64> {
    let slot = now / SLOT_MS;
    let mine = storage.increment(&window_key(organization, slot, "sent"), 1).unwrap_or(0);
    if mine == 1 {
        for back in SLOTS + 3..SLOTS + 6 {
            for what in ["sent", "refused"] {
                let _ = storage.delete(&window_key(organization, slot.saturating_sub(back), what));
            }
        }
    }
    let first = slot.saturating_sub(SLOTS);
    let counts: Vec<u64> =
        (first..=slot.saturating_add(1)).map(|s| counter(storage, &window_key(organization, s, "sent")).saturating_sub(counter(storage, &window_key(organization, s, "refused")))).collect();
    let total: u64 = counts.iter().fold(0, |sum, n| sum.saturating_add(*n));
    if total <= PER_MINUTE {
        return None;
    }
    let _ = storage.increment(&window_key(organization, slot, "refused"), 1);
    // Others stay counted; the oldest slots leave one by one until one place is free. The k-th
    // oldest (from 1) leaves the window when the current slot is this one's k-th successor.
    let mut others = total.saturating_sub(1);
    let mut leaving = 0u64;
    for n in &counts {
        leaving += 1;
        others = others.saturating_sub(*n);
        if others < PER_MINUTE {
            break;
        }
    }
    Some(slot.saturating_add(leaving).saturating_mul(SLOT_MS).saturating_sub(now).max(1))
}

/// `X-Rate-Limit-Reset` as milliseconds to wait from `now`.
fn reset_wait_ms(response: &Response, now: u64) -> Option<u64> {
    let text = response.header("x-rate-limit-reset")?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = text.parse::<u64>().unwrap_or(u64::MAX);
    let wait = if value >= UNIX_TIME_FROM { value.saturating_mul(1000).saturating_sub(now) } else { value.saturating_mul(1000) };
    Some(wait.min(MAX_WAIT_MS))
}

/// The wait a Books answer asks for: its `Retry-After`, else its `X-Rate-Limit-Reset`.
pub fn wait_ms(response: &Response) -> Option<u64> {
    crate::http::retry_after_ms(response).or_else(|| reset_wait_ms(response, now_ms()))
}

/// After a Books answer: a 429 that says when to come back, or `X-Rate-Limit-Remaining: 0`,
/// blocks the organization until then (a minute when the answer names no reset).
pub fn after(storage: &dyn Storage, organization: &str, response: &Response) {
    after_at(storage, organization, response, now_ms())
}

pub fn after_at(storage: &dyn Storage, organization: &str, response: &Response, now: u64) {
    remember_allowance(storage, organization, response, now);
    let exhausted = response.header("x-rate-limit-remaining").is_some_and(|r| r.trim() == "0");
    let asked = crate::http::retry_after_ms(response).or_else(|| reset_wait_ms(response, now));
    let wait = match (response.status, asked) {
        (429, Some(wait)) => wait,
        _ if exhausted => asked.unwrap_or(MINUTE_MS),
        _ => return,
    }
    .min(MAX_WAIT_MS);
    let _ = put_fresh(storage, &blocked_key(organization), &json!({ "until_ms": now.saturating_add(wait) }));
}

/// A header's whole number, or `None` when absent or anything else.
fn header_number(response: &Response, name: &str) -> Option<u64> {
    let text = response.header(name)?.trim();
    (!text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

/// Keeps the daily allowance an answer reports. Zoho's pages name `X-Rate-Limit-Limit` and
/// `X-Rate-Limit-Remaining` without saying which limit they count; a limit above the minute's
/// [`PER_MINUTE`] can only be a day's (the smallest plan allows 1,000 a day), so only such a
/// limit is kept: under either reading the minute's numbers never pass for the day's.
fn remember_allowance(storage: &dyn Storage, organization: &str, response: &Response, now: u64) {
    let (Some(limit), Some(remaining)) = (header_number(response, "x-rate-limit-limit"), header_number(response, "x-rate-limit-remaining")) else { return };
    if limit <= PER_MINUTE {
        return;
    }
    let resets_at_ms = reset_wait_ms(response, now).map(|wait| now.saturating_add(wait));
    let _ = put_fresh(storage, &allowance_key(organization), &json!({ "limit": limit, "remaining": remaining.min(limit), "at_ms": now, "resets_at_ms": resets_at_ms }));
}

/// `backoff-at-credit-percentage` on Books' daily allowance: refused (`credits-exhausted`, with
/// the wait until Books' reset, else an hour as for CRM's credits) before anything is sent once
/// `share` of the day's requests are used, by the larger of what Books last reported
/// (`X-Rate-Limit-Limit` less `-Remaining`) and this
/// connection's own count today. Without an allowance reported since its last reset the share
/// cannot be known (the plan is not in any API answer), and the step goes on.
pub fn check_daily_allowance(storage: &dyn Storage, organization: &str, share: f64) -> Result<()> {
    check_daily_allowance_at(storage, organization, share, now_ms())
}

pub fn check_daily_allowance_at(storage: &dyn Storage, organization: &str, share: f64, now: u64) -> Result<()> {
    if !(0.5..=1.0).contains(&share) {
        return Err(ZohoError::invalid_input(format!("backoff-at-credit-percentage {share} is out of range: give a share from 0.5 to 1.0")));
    }
    let Some(reported) = get_fresh(storage, &allowance_key(organization), Duration::from_millis(DAY_MS)).ok().flatten() else { return Ok(()) };
    let number = |name: &str| reported.get(name).and_then(Value::as_u64);
    let (Some(limit), Some(remaining), Some(at)) = (number("limit"), number("remaining"), number("at_ms")) else { return Ok(()) };
    let resets_at = number("resets_at_ms");
    if resets_at.is_some_and(|r| r <= now) || (resets_at.is_none() && at / DAY_MS != now / DAY_MS) {
        return Ok(());
    }
    let today = counter(storage, &day_key(organization, now / DAY_MS));
    // Books' report covers every client of the organization; this connection's own count is
    // a floor for requests sent since that report.
    let spent = limit.saturating_sub(remaining).max(today.min(limit));
    if (spent as f64) < share * limit as f64 {
        return Ok(());
    }
    let wait = resets_at.map_or(60 * MINUTE_MS, |r| r.saturating_sub(now)).clamp(1, MAX_WAIT_MS);
    let mut error = ZohoError::new(
        ErrorKind::CreditsExhausted,
        format!(
            "{spent} of today's {limit} Zoho Books requests for organization {organization} are used, at or past the {:.0}% backoff share; nothing was sent. Try again in {} s",
            share * 100.0,
            wait.div_ceil(1000)
        ),
    );
    error.retry_after_ms = Some(wait);
    error.details = Some(json!({ "spent": spent, "allotment": limit, "organization_id": organization, "source": "books" }));
    Err(error)
}

/// Books requests counted today for `organization`.
#[cfg(test)]
pub fn today(storage: &dyn Storage, organization: &str) -> u64 {
    counter(storage, &day_key(organization, now_ms() / DAY_MS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::Memory;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response {
        Response { status, headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), body: Vec::new() }
    }

    #[test]
    fn the_hundred_and_first_request_of_a_minute_is_not_sent() {
        let storage = Memory::default();
        let start = 1_700_000_000_000 / MINUTE_MS * MINUTE_MS + 15_000;
        for _ in 0..PER_MINUTE {
            before_at(&storage, "10234695", start).unwrap();
        }
        let refused = before_at(&storage, "10234695", start + 1_000).unwrap_err();
        // The 100 leave the window with their 6-second slot, 11 slots on: 62 s from now.
        assert_eq!((refused.kind, refused.code.as_deref(), refused.retry_after_ms), (ErrorKind::RateLimited, Some(MINUTE_FULL), Some(62_000)));
        // Another organization has its own minute; once the slot has left, requests go again.
        before_at(&storage, "555", start).unwrap();
        before_at(&storage, "10234695", start + 1_000 + 61_999).unwrap_err();
        before_at(&storage, "10234695", start + 1_000 + 62_000).unwrap();
        assert_eq!(counter(&storage, &day_key("10234695", start / DAY_MS)), PER_MINUTE + 1, "refused requests are not counted for the day");
    }

    /// Under a calendar reading, 50 requests late in one minute and 50 early in the next are
    /// fine; under a sliding reading the next 100 would make 200 in a minute. Neither reading
    /// is exceeded: the first minute's requests hold the next ones back.
    #[test]
    fn a_new_calendar_minute_does_not_reopen_a_sliding_one() {
        let storage = Memory::default();
        let minute = 1_700_000_000_000 / MINUTE_MS * MINUTE_MS;
        for at in [50_000, 55_000] {
            for _ in 0..50 {
                before_at(&storage, "1", minute + at).unwrap();
            }
        }
        let refused = before_at(&storage, "1", minute + 61_000).unwrap_err();
        assert_eq!(refused.retry_after_ms, Some(53_000), "the 50 of second 50 leave with their slot, 114 s into the first minute");
    }

    /// At random moments over ten minutes, a burst of random size tries to send: no 60 seconds
    /// ever hold more than Books' 100 sent requests, and the limit is used (not held back for
    /// nothing).
    #[test]
    fn no_sixty_seconds_ever_hold_more_than_a_hundred_requests() {
        let storage = Memory::default();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let start = 1_700_000_000_123;
        let (mut now, mut sent) = (start, Vec::new());
        while now < start + 10 * MINUTE_MS {
            for _ in 0..next(40) {
                if before_at(&storage, "1", now).is_ok() {
                    sent.push(now);
                }
            }
            now += 1 + next(3_000);
        }
        for (i, t) in sent.iter().enumerate() {
            let within = sent[i..].iter().take_while(|u| **u < t + MINUTE_MS).count();
            assert!(within as u64 <= PER_MINUTE, "{within} requests in the 60 s from {t}");
        }
        assert!(sent.len() as u64 >= 8 * PER_MINUTE, "the limit was used: {} sent in 10 minutes", sent.len());
    }

    #[test]
    fn an_exhausted_answer_blocks_until_its_reset_under_either_reading() {
        let now = 1_700_000_000_000;
        for (headers, wait) in [
            (vec![("x-rate-limit-reset", "30")], 30_000),
            (vec![("x-rate-limit-reset", "1700000045")], 45_000),
            (vec![("retry-after", "7"), ("x-rate-limit-reset", "30")], 7_000),
            (vec![("x-rate-limit-remaining", "0")], MINUTE_MS),
            (vec![("x-rate-limit-reset", "99999999999999999999")], MAX_WAIT_MS),
        ] {
            let storage = Memory::default();
            after_at(&storage, "1", &answer(429, &headers), now);
            let refused = before_at(&storage, "1", now).unwrap_err();
            assert_eq!(refused.retry_after_ms, Some(wait), "{headers:?}");
            before_at(&storage, "1", now + wait).unwrap();
        }
        let storage = Memory::default();
        after_at(&storage, "1", &answer(200, &[("x-rate-limit-remaining", "0"), ("x-rate-limit-reset", "12")]), now);
        assert_eq!(before_at(&storage, "1", now).unwrap_err().retry_after_ms, Some(12_000));
        for calm in [answer(200, &[("x-rate-limit-remaining", "3")]), answer(429, &[])] {
            let storage = Memory::default();
            after_at(&storage, "1", &calm, now);
            before_at(&storage, "1", now).unwrap();
        }
    }

    /// Storage holding garbage or a counter at u64::MAX: nothing overflows or panics, a full
    /// count holds requests back until its slot leaves the window, and a stored block far in the
    /// future asks for no longer than the longest wait a reset is trusted for.
    #[test]
    fn stored_counters_at_their_edges_neither_panic_nor_wait_for_ever() {
        let now = 1_700_000_000_000 / MINUTE_MS * MINUTE_MS + 15_000;
        let slot = now / SLOT_MS;
        let storage = Memory::default();
        storage.set(&window_key("1", slot, "sent"), u64::MAX.to_string().as_bytes()).unwrap();
        storage.set(&window_key("1", slot - 1, "sent"), b"garbage").unwrap();
        storage.set(&window_key("1", slot - 2, "refused"), u64::MAX.to_string().as_bytes()).unwrap();
        let refused = before_at(&storage, "1", now).unwrap_err();
        assert_eq!(refused.code.as_deref(), Some(MINUTE_FULL));
        assert!(refused.retry_after_ms.unwrap() <= MINUTE_MS + 2 * SLOT_MS, "{:?}", refused.retry_after_ms);
        before_at(&storage, "1", (slot + SLOTS + 1) * SLOT_MS).unwrap();

        let storage = Memory::default();
        put_fresh(&storage, &blocked_key("1"), &json!({ "until_ms": u64::MAX })).unwrap();
        let refused = before_at(&storage, "1", now).unwrap_err();
        assert_eq!(refused.retry_after_ms, Some(MAX_WAIT_MS), "{}", refused.message);
    }

    #[test]
    fn a_reset_at_the_edges_of_its_readings() {
        let now = 1_700_000_000_000;
        for (reset, wait) in [("0", Some(0)), ("999999999", Some(MAX_WAIT_MS)), ("1000000000", Some(0)), ("1700000000", Some(0)), ("-5", None), ("1.5", None), (" 30 ", Some(30_000)), ("", None)] {
            assert_eq!(reset_wait_ms(&answer(429, &[("x-rate-limit-reset", reset)]), now), wait, "{reset:?}");
        }
    }

    #[test]
    fn the_organization_comes_from_the_query() {
        assert_eq!(organization_of(&[("organization_id".into(), "10234695".into())]), "10234695");
        assert_eq!(organization_of(&[("organization_id".into(), "../x".into())]), "-");
        assert_eq!(organization_of(&[]), "-");
    }
}
