//! What makes the sandbox behave like Zoho at a distance and at scale: a latency per answer
//! (fixed plus a jitter drawn from a seed, the same in every run), the edition's concurrency cap
//! and COQL's own sub-cap answered with 429 `TOO_MANY_REQUESTS`, credits charged by Zoho's table
//! (`apis`: most calls 1, writes by their records, tags by their ids, the deleted feed 2,
//! convert lead 5, COQL by its LIMIT) and told once half the day is used, and bulk seeding of
//! large modules.

use crate::clock::Clock;
use crate::request::RecordedRequest;
use crate::response::error_response;
use crate::state::{FieldDef, Limits, Module, Shared};
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Zoho's concurrency cap per org and app by edition (calls in flight at once).
pub fn edition_concurrency(edition: &str) -> usize {
    match edition {
        "free" => 5,
        "standard" => 10,
        "professional" => 15,
        "enterprise" => 20,
        _ => 25,
    }
}

/// `X-API-CREDITS-REMAINING` on a CRM answer once the org has used half its day's credits
/// (add-on credits aside): the credits left. Zoho's v8 "API Limits" page; under half used the
/// header is not sent.
pub fn credits_remaining_header(shared: &Shared, response: &mut Response) {
    let (used, allotment) = {
        let limits = shared.limits();
        (limits.credits_used, limits.allotment())
    };
    if used.saturating_mul(2) < allotment {
        return;
    }
    if let Ok(value) = axum::http::HeaderValue::from_str(&allotment.saturating_sub(used).to_string()) {
        response.headers_mut().insert("x-api-credits-remaining", value);
    }
}

/// SplitMix64: a jitter that depends only on the seed and the request's arrival number.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// How long the answer to the `seq`th request waits: `latency` plus up to `jitter`.
pub fn delay(limits: &Limits, seq: u64) -> Duration {
    let jitter = u64::try_from(limits.jitter.as_micros()).unwrap_or(u64::MAX);
    let extra = if jitter == 0 { 0 } else { mix(limits.seed ^ seq) % jitter.saturating_add(1) };
    limits.latency.saturating_add(Duration::from_micros(extra))
}

/// A CRM call admitted past the gate: holds its places in flight until dropped.
pub struct Admitted<'a> {
    shared: &'a Shared,
    coql: bool,
    /// Zoho's refusal, when the call was over a limit.
    pub refusal: Option<Response>,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.coql {
            self.shared.coql_in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Counts a CRM call (calls, credits by the table), takes its places in flight, waits out the
/// latency, and says whether Zoho would refuse it: credits of the day exhausted, or more calls
/// in flight than the edition's cap (or COQL's sub-cap).
pub async fn admit<'a>(shared: &'a Shared, request: &RecordedRequest) -> Admitted<'a> {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst).saturating_add(1);
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let coql = request.path == "/crm/v8/coql";
    let coql_now = if coql { shared.coql_in_flight.fetch_add(1, Ordering::SeqCst).saturating_add(1) } else { 0 };
    let credits = crate::apis::credits_of(request);
    let (over_credits, over_concurrency, wait) = {
        let mut limits = shared.limits();
        limits.calls = limits.calls.saturating_add(1);
        limits.credits_used = limits.credits_used.saturating_add(credits);
        let over_concurrency = now > limits.max_concurrent || (coql && coql_now > limits.max_concurrent_coql);
        (limits.credits_used > limits.allotment(), over_concurrency, delay(&limits, request.seq))
    };
    let mut admitted = Admitted { shared, coql, refusal: None };
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    admitted.refusal = if over_credits {
        Some(error_response(429, "TOO_MANY_REQUESTS", "the API credits of the day are exhausted", json!({})))
    } else if over_concurrency {
        Some(error_response(429, "TOO_MANY_REQUESTS", "the concurrency limit of API calls was exceeded, try again later", json!({})))
    } else {
        None
    };
    admitted
}

/// A large module to seed: `records` records of `fields` text fields, their Modified_Time
/// skewed as real data is (a share of them on a few seconds, as a bulk import leaves them).
#[derive(Debug, Clone)]
pub struct BulkModule {
    pub name: String,
    pub records: usize,
    pub fields: usize,
    /// The records' times spread over this span before now...
    pub span: Duration,
    /// ...except this share of them (0.0 to 1.0), which land within `burst` seconds.
    pub burst_share: f64,
    pub burst: Duration,
    pub seed: u64,
}

impl BulkModule {
    /// Field API names: Field_01, Field_02, ...
    pub fn field_names(&self) -> Vec<String> {
        (1..=self.fields).map(|i| format!("Field_{i:02}")).collect()
    }
}

/// Creates `spec`'s module with its records under one lock; returns the ids in creation order.
pub fn seed_bulk(shared: &Shared, spec: &BulkModule) -> Vec<u64> {
    let names = spec.field_names();
    let mut defs: Vec<FieldDef> = vec![FieldDef { api_name: "id".into(), data_type: "bigint" }];
    defs.extend(names.iter().map(|f| FieldDef { api_name: f.clone(), data_type: "text" }));
    for f in ["Created_Time", "Modified_Time"] {
        defs.push(FieldDef { api_name: f.into(), data_type: "datetime" });
    }
    defs.push(FieldDef { api_name: "Owner".into(), data_type: "ownerlookup" });
    let now = shared.clock.now();
    let span = i64::try_from(spec.span.as_secs()).unwrap_or(i64::MAX).max(1);
    let burst = i64::try_from(spec.burst.as_secs()).unwrap_or(i64::MAX).max(1);
    // The burst sits in the middle of the span.
    let burst_start = now - chrono::Duration::seconds(span / 2);
    let share = (spec.burst_share.clamp(0.0, 1.0) * u64::MAX as f64) as u64;
    let owner = crate::accounts::account::owner();
    let mut data = shared.data();
    let first = data.next_id;
    data.next_id = data.next_id.saturating_add(spec.records as u64);
    let mut module = Module { fields: defs, mandatory: "Field_01", ..Default::default() };
    let mut ids = Vec::with_capacity(spec.records);
    for i in 0..spec.records as u64 {
        let id = first.saturating_add(i);
        let draw = mix(spec.seed ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let at = if draw < share { burst_start + chrono::Duration::seconds((mix(draw) % burst as u64) as i64) } else { now - chrono::Duration::seconds(1 + (mix(draw) % span as u64) as i64) };
        let time = Value::String(Clock::zoho_time(at));
        let mut record = Map::new();
        for name in &names {
            record.insert(name.clone(), Value::String(format!("{name} value {i}")));
        }
        record.insert("id".into(), Value::String(id.to_string()));
        record.insert("Created_Time".into(), time.clone());
        record.insert("Modified_Time".into(), time);
        record.insert("Owner".into(), owner.clone());
        module.records.insert(id, record);
        ids.push(id);
    }
    module.revision = 1;
    data.modules.insert(spec.name.clone(), module);
    ids
}

/// Changes `field` of each record in `ids` (that exists) to `value` with Modified_Time set to
/// now, under one lock, as a user's mass update would; returns how many changed.
///
/// The module's (Modified_Time, id) index is patched rather than rebuilt when it was current
/// and every entry is older than now (the changed records move to its end), as a database
/// updates its index row by row: a mass update of a large module does not stall its reads.
pub fn modify_bulk(shared: &Shared, module: &str, ids: &[u64], field: &str, value: &Value) -> usize {
    let at = shared.clock.now();
    let now = Value::String(Clock::zoho_time(at));
    let stamp = at.timestamp();
    let mut data = shared.data();
    let Some(module) = data.modules.get_mut(module) else { return 0 };
    let current = module.by_modified.0 == module.revision && module.by_modified.1.len() == module.records.len();
    let mut changed = std::collections::HashSet::new();
    for id in ids {
        if let Some(record) = module.records.get_mut(id) {
            record.insert(field.to_string(), value.clone());
            record.insert("Modified_Time".into(), now.clone());
            changed.insert(*id);
        }
    }
    module.revision = module.revision.saturating_add(1);
    if current && module.by_modified.1.last().is_none_or(|last| last.0 < stamp) {
        module.by_modified.1.retain(|(_, id)| !changed.contains(id));
        let mut moved: Vec<(i64, u64)> = changed.iter().map(|id| (stamp, *id)).collect();
        moved.sort_unstable();
        module.by_modified.1.extend(moved);
        module.by_modified.0 = module.revision;
    }
    changed.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A patched index is the index a rebuild makes; an index that was stale stays stale (the
    /// next query rebuilds it).
    #[test]
    fn a_mass_update_patches_the_index_as_a_rebuild_would() {
        let shared = Shared::new();
        let spec = BulkModule { name: "M".into(), records: 500, fields: 2, span: Duration::from_secs(86_400), burst_share: 0.5, burst: Duration::from_secs(2), seed: 3 };
        let ids = seed_bulk(&shared, &spec);
        let rebuilt = |shared: &Shared| -> Vec<(i64, u64)> {
            let data = shared.data();
            let mut index: Vec<(i64, u64)> =
                data.modules["M"].records.iter().map(|(id, r)| (chrono::DateTime::parse_from_rfc3339(r["Modified_Time"].as_str().unwrap_or("")).map_or(i64::MIN, |t| t.timestamp()), *id)).collect();
            index.sort_unstable();
            index
        };
        // Stale (never built): left for the next query to rebuild.
        let current = |shared: &Shared| {
            let data = shared.data();
            data.modules["M"].by_modified.0 == data.modules["M"].revision
        };
        assert_eq!(modify_bulk(&shared, "M", &ids[..10], "Field_01", &json!("x")), 10);
        assert!(!current(&shared));
        // Current: patched, equal to a rebuild, and marked current.
        let index = rebuilt(&shared);
        {
            let mut data = shared.data();
            let module = data.modules.get_mut("M").expect("module");
            module.by_modified = (module.revision, index);
        }
        shared.clock.freeze_at(shared.clock.now() + chrono::Duration::seconds(5));
        let some: Vec<u64> = ids.iter().copied().step_by(7).chain([ids[0], 1, u64::MAX]).collect();
        assert_eq!(modify_bulk(&shared, "M", &some, "Field_02", &json!("y")), ids.len().div_ceil(7));
        let data = shared.data();
        let module = &data.modules["M"];
        assert_eq!(module.by_modified.0, module.revision);
        let patched = module.by_modified.1.clone();
        drop(data);
        assert_eq!(patched, rebuilt(&shared));
        // The same second again: a key could land out of order, so the index is left stale.
        assert_eq!(modify_bulk(&shared, "M", &ids[1..3], "Field_02", &json!("z")), 2);
        assert!(!current(&shared));
        assert_eq!(modify_bulk(&shared, "Nowhere", &ids, "Field_02", &json!("z")), 0);
    }

    #[test]
    fn the_jitter_is_the_same_every_run_and_within_its_bound() {
        let limits = Limits { latency: Duration::from_millis(300), jitter: Duration::from_millis(40), seed: 7, ..Default::default() };
        let delays: Vec<Duration> = (0..1_000).map(|seq| delay(&limits, seq)).collect();
        assert_eq!(delays, (0..1_000).map(|seq| delay(&limits, seq)).collect::<Vec<_>>());
        assert!(delays.iter().all(|d| *d >= Duration::from_millis(300) && *d <= Duration::from_millis(340)));
        assert!(delays.iter().any(|d| *d != delays[0]), "the jitter varies");
        let none = Limits { latency: Duration::from_millis(5), ..Default::default() };
        assert_eq!(delay(&none, 3), Duration::from_millis(5));
        let huge = Limits { latency: Duration::MAX, jitter: Duration::MAX, ..Default::default() };
        assert_eq!(delay(&huge, u64::MAX), Duration::MAX, "saturates");
    }
}
