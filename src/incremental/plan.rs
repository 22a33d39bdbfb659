//! A sliced sweep's plan, fixed by its first step and kept in storage: the sweep's end and the
//! cursor its commit sets (server time, as for a single walk), and where each slice ends.
//!
//! Slices are balanced by record count, never by equal time spans (real data is skewed: a
//! bulk import puts thousands of records on one second). One request counts the sweep's
//! records ([`count`]); then one probe per boundary reads the record at that count's share
//! (`order by Modified_Time asc, id asc limit <offset>, 1`, from the previous boundary), so a
//! boundary is a (Modified_Time, id) key and one second can be split between slices. COQL
//! reaches 100,000 rows from a position, so a boundary farther away takes a hop per 100,000;
//! past `PLAN_MAX_CALLS` the remaining boundaries split the remaining time evenly instead
//! (`balanced: false`: correct, only less even).

use super::keyset::{self, unreadable};
use super::state::Key;
use super::{now_s, HOST_CLOCK_MARGIN_S};
use crate::client::{ApiCall, Client};
use crate::crm::coql_fields;
use crate::crm::response::content;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Response};
use crate::json;
use crate::zoho_time::{format_iso, parse_http_date, parse_iso};
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use std::time::Instant;

/// Slices a sweep may have.
pub const MAX_SLICES: u32 = 10;
/// Requests one plan may make: the count and the probes (a hop per 100,000 records).
pub const PLAN_MAX_CALLS: u64 = 30;
/// Rows COQL reaches from one position (offset + limit ≤ 100,000).
const COQL_REACH: u64 = 100_000;
/// The id of a bound by time alone: every id of that second is at or before it (Zoho ids are
/// signed 64-bit).
const LAST_ID: &str = "9223372036854775807";

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// Hex of the millisecond the plan was made (names its slices' page keys).
    pub id: String,
    pub slices: u32,
    /// Page size, fields and deletions, as a single sweep's signature.
    pub signature: String,
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub opened_at_ms: u64,
    #[serde(default)]
    pub include_deleted: bool,
    /// The last key of slices 1 to slices-1; none: that slice holds nothing.
    #[serde(default)]
    pub bounds: Vec<Option<Key>>,
    /// Records counted when the plan was made.
    #[serde(default)]
    pub records: u64,
    /// Whether every boundary sits at its count's share (false past the call budget).
    #[serde(default)]
    pub balanced: bool,
    /// What making the plan cost.
    #[serde(default)]
    pub calls: u64,
    #[serde(default)]
    pub credits: u64,
}

/// The keys slice n covers: after `after` (exclusive) up to `through` (inclusive).
#[derive(Debug, Clone, Default)]
pub struct Range {
    pub after: Option<Key>,
    pub through: Option<Key>,
    /// Nothing can be in it: no request is sent for it.
    pub empty: bool,
}

impl Range {
    pub fn conditions(&self) -> Vec<String> {
        self.after.iter().map(Key::after).chain(self.through.iter().map(Key::up_to)).collect()
    }
}

impl Plan {
    /// A stored plan is used only when its shape holds.
    pub fn is_sound(&self) -> bool {
        // Every key and time goes into a COQL where clause: a stored one is checked as Zoho's
        // answers are, so a garbled or tampered plan is no plan rather than a query.
        let keys_checked = self.bounds.iter().flatten().all(|k| Key::checked(&k.time, &k.id).is_some());
        let times_checked = [&self.since, &self.until, &self.cursor].iter().all(|t| t.as_deref().is_none_or(|t| parse_iso(t).is_some()));
        (2..=MAX_SLICES).contains(&self.slices) && self.bounds.len() == self.slices as usize - 1 && !self.id.is_empty() && keys_checked && times_checked
    }

    /// What each slice's walk records: the plan's id and a digest of everything a walk and the
    /// commit take from it, so two plans made in the same millisecond are still told apart.
    pub fn tag(&self) -> String {
        let fixed = serde_json::to_string(&(&self.bounds, &self.since, &self.until, &self.cursor, &self.signature, self.include_deleted)).unwrap_or_default();
        format!("{}:{}", self.id, &super::boundary::digest(&fixed))
    }

    /// Slice `n` (1-based)'s range.
    pub fn range(&self, n: u32) -> Range {
        let index = n.saturating_sub(1) as usize;
        let after = if n >= 2 { self.bounds.get(index.saturating_sub(1)).cloned().flatten() } else { None };
        let last = n >= self.slices;
        let through = if last { None } else { self.bounds.get(index).cloned().flatten() };
        let empty = (!last && through.is_none()) || (after.is_some() && after == through);
        Range { after, through, empty }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Integer(u64),
    Text(String),
}

/// The record-count API's answer: `{"count": n}` (`record.json` gives the count as a string).
#[derive(Deserialize)]
struct RecordCount {
    count: Option<Number>,
}

/// A count read from `value` (a number, or digits as text), or a `zoho` error naming `what`.
fn count_in(value: Option<Number>, response: &Response, what: &str) -> Result<u64> {
    match value {
        Some(Number::Integer(n)) => Ok(n),
        Some(Number::Text(t)) if t.trim().parse::<u64>().is_ok() => Ok(t.trim().parse().unwrap_or(0)),
        _ => Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho's {what} answer has no count of records")).with_status(response.status)),
    }
}

/// `select COUNT(<field>)`'s answer: `{"data":[{"COUNT(<field>)":n}]}` (the key is the
/// expression's text), 204 when nothing matches.
fn coql_count_of(response: &Response, field: &str) -> Result<u64> {
    let Some(response) = content(response)? else { return Ok(0) };
    let listing = json::listing(&response.body, 1).map_err(|e| unreadable(response, "COQL COUNT", e))?;
    let key = format!("COUNT({field})");
    let counted = listing
        .data
        .first()
        .and_then(|item| serde_json::from_str::<std::collections::HashMap<String, &RawValue>>(item.get()).ok())
        .and_then(|row| row.get(&key).and_then(|n| serde_json::from_str::<Number>(n.get()).ok()));
    count_in(counted, response, &format!("COQL COUNT (data[0][\"{key}\"])"))
}

/// The record-count API's answer: `{"count": n}`, 204 when the module has no records.
fn record_count_of(response: &Response) -> Result<u64> {
    let Some(response) = content(response)? else { return Ok(0) };
    let invalid = |e: String| unreadable(response, "record count", json::JsonError::Invalid(e));
    let raw: &RawValue = serde_json::from_slice(&response.body).map_err(|e| invalid(e.to_string()))?;
    // An object only: serde would read a struct from an array too.
    if !json::is_object(raw) {
        return Err(invalid(format!("{} is not an object", json::kind_of(raw.get()))));
    }
    let answer: RecordCount = serde_json::from_str(raw.get()).map_err(|e| invalid(e.to_string()))?;
    count_in(answer.count, response, "record count (count)")
}

/// Counts the records a sweep since `since` reads, with what Zoho documents, and returns the
/// count with the answer (its `Date` bounds the sweep).
///
/// - No `since` (every record): the record-count API, `GET /crm/v8/{module}/actions/count`
///   (`record_count.json`), which counts a module's records.
/// - A `since`: `record_count.json` gives that API no criteria (only `email`, `phone`, `word`
///   and `cvid`; `record.json` lists a `criteria` for the same operation, where an API that did
///   not honour it would count every record, silently), so a `Modified_Time` range is counted
///   with COQL `select COUNT(<field>) ... where Modified_Time >= since`, on a system lookup every
///   record has ([`coql_fields::counted`]); COUNT works only on number, lookup and picklist
///   fields, and `COUNT(id)` is not documented.
/// - A module whose metadata has no such lookup (or a token that may not read the metadata)
///   falls back to the record-count API: its count
///   of every record is at least the range's, so the plan is less even, never wrong (a probe past
///   the range's end finds nothing, and the last slice takes the rest).
pub(crate) fn count(client: &Client, module: &str, since: Option<&str>) -> Result<(u64, Response)> {
    let counted = match since {
        Some(_) => crate::crm::fields::described_if_allowed(client, module)?.and_then(|described| coql_fields::counted(&described)),
        None => None,
    };
    match (since, counted) {
        (Some(since), Some(field)) => {
            let query = format!("select COUNT({field}) from {module} where Modified_Time >= '{since}'");
            let response = client.send(ApiCall::new(Method::Post, "/crm/v8/coql").json(json!({ "select_query": query })))?;
            coql_count_of(&response, field).map(|n| (n, response))
        }
        _ => {
            let response = client.send(ApiCall::new(Method::Get, format!("/crm/v8/{module}/actions/count")))?;
            record_count_of(&response).map(|n| (n, response))
        }
    }
}

/// Makes the plan of a sweep of `module` since `since` in `slices` slices.
pub fn make(client: &Client, module: &str, since: Option<String>, slices: u32, signature: String, include_deleted: bool) -> Result<Plan> {
    let before = client.usage();
    let mut base = Vec::new();
    if let Some(since) = &since {
        base.push(format!("Modified_Time >= '{since}'"));
    }
    let started = Instant::now();
    let (records, response) = count(client, module, since.as_deref())?;
    let took_s = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX).saturating_add(1);
    // The sweep's bounds as a single walk takes them (see `list_page`), from this first answer.
    let (date, margin) = match response.header("date").and_then(parse_http_date) {
        Some(date) => (date, 0),
        None => (now_s(), HOST_CLOCK_MARGIN_S),
    };
    drop(response);
    let until = format_iso(date);
    let cursor = format_iso(date.saturating_sub(took_s).saturating_sub(1).saturating_sub(margin));
    base.push(format!("Modified_Time <= '{until}'"));

    let probe_fields = ["id".to_string(), "Modified_Time".to_string()];
    let (mut bounds, mut previous, mut reached, mut calls, mut ended) = (Vec::new(), None::<Key>, 0u64, 1u64, false);
    let mut balanced = true;
    for k in 1..slices {
        // Slice k's last record is the one at this share of the count (0-based index target-1).
        let target = u64::try_from(u128::from(records).saturating_mul(u128::from(k)) / u128::from(slices)).unwrap_or(u64::MAX);
        while !ended && target > reached && calls < PLAN_MAX_CALLS {
            let skip = target.saturating_sub(1).saturating_sub(reached).min(COQL_REACH - 1);
            let mut conditions = base.clone();
            conditions.extend(previous.iter().map(Key::after));
            let probe = keyset::fetch_at(client, module, &probe_fields, &conditions, usize::try_from(skip).unwrap_or(0), 1)?;
            calls = calls.saturating_add(1);
            match probe.rows.into_iter().next().and_then(|row| row.key) {
                Some(key) => {
                    previous = Some(key);
                    reached = reached.saturating_add(skip).saturating_add(1);
                }
                // Fewer records than counted (deleted meanwhile): the later slices hold nothing
                // but what the last one reaches.
                None => ended = true,
            }
        }
        if !ended && target > reached {
            balanced = false;
            bounds.extend(by_time(previous.as_ref(), since.as_deref(), date, slices - k));
            break;
        }
        bounds.push(previous.clone());
    }
    let spent = client.usage();
    Ok(Plan {
        id: format!("{:x}", crate::storage::now_ms()),
        slices,
        signature,
        since,
        until: Some(until),
        cursor: Some(cursor),
        opened_at_ms: crate::storage::now_ms(),
        include_deleted,
        bounds,
        records,
        balanced,
        calls: spent.calls.saturating_sub(before.calls),
        credits: spent.credits.saturating_sub(before.credits),
    })
}

/// `count` boundaries splitting the time from the last boundary (or `since`) to `until` evenly,
/// each through the end of its second.
fn by_time(previous: Option<&Key>, since: Option<&str>, until: i64, count: u32) -> Vec<Option<Key>> {
    let Some(from) = previous.map(|k| k.time.as_str()).or(since).and_then(parse_iso) else {
        return vec![previous.cloned(); count as usize];
    };
    let span = until.saturating_sub(from).max(0);
    (1..=i64::from(count))
        .map(|j| {
            let at = from.saturating_add(span.saturating_mul(j) / i64::from(count).saturating_add(1));
            Key::checked(&format_iso(at), LAST_ID).or_else(|| previous.cloned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn key(t: &str, id: &str) -> Option<Key> {
        Key::checked(t, id)
    }

    #[test]
    fn ranges_chain_their_bounds_and_empty_slices_send_nothing() {
        let (a, b) = (key("2024-01-01T00:00:00+00:00", "1"), key("2024-01-01T00:00:00+00:00", "9"));
        let plan = Plan { id: "1".into(), slices: 4, bounds: vec![a.clone(), b.clone(), b.clone()], ..Default::default() };
        assert!(plan.is_sound());
        let r = plan.range(1);
        assert_eq!((r.after.clone(), r.through.clone(), r.empty), (None, a.clone(), false));
        assert_eq!(r.conditions(), vec!["(Modified_Time < '2024-01-01T00:00:00+00:00' or (Modified_Time = '2024-01-01T00:00:00+00:00' and id <= 1))".to_string()]);
        let r = plan.range(2);
        assert_eq!((r.after, r.through, r.empty), (a, b.clone(), false));
        assert!(plan.range(3).empty, "after b through b holds nothing");
        let r = plan.range(4);
        assert_eq!((r.after, r.through, r.empty), (b, None, false));
        // Nothing counted: every slice but the last is empty, the last takes what comes.
        let none = Plan { id: "1".into(), slices: 3, bounds: vec![None, None], ..Default::default() };
        assert!(none.range(1).empty && none.range(2).empty && !none.range(3).empty);
        assert!(none.range(3).conditions().is_empty());
        // Stored plans of the wrong shape are not used; slice numbers past the plan are harmless.
        assert!(!Plan { id: "1".into(), slices: 3, bounds: vec![None], ..Default::default() }.is_sound());
        assert!(!Plan { id: "1".into(), slices: 11, bounds: vec![None; 10], ..Default::default() }.is_sound());
        let _ = none.range(u32::MAX);
        let _ = none.range(0);
    }

    /// A slice's walk lives in a scope of its own (`<scope>/slice<n>`), so the hourly retention
    /// keeps the page keys of the open plan's walks past an hour and deletes a replaced plan's.
    #[test]
    fn slice_walks_keep_their_page_keys_while_open() {
        use crate::incremental::state::{page_key, slice_scope, sweep_key, Sweep};
        use crate::storage::{memory::Memory, retention::is_stale, Storage};
        let storage = Memory::default();
        let now: u64 = 10 * 24 * 3_600_000;
        let (open, old) = (format!("{:x}", now - 2 * 3_600_000), format!("{:x}", now - 3 * 3_600_000));
        let walk = slice_scope("sync/contacts", 3);
        let sweep = Sweep { sweep: open.clone(), opened_at_ms: now - 2 * 3_600_000, plan: Some(format!("{open}:x")), ..Default::default() };
        storage.set(&sweep_key(&walk), &serde_json::to_vec(&sweep).unwrap()).unwrap();
        let mut cache = std::collections::HashMap::new();
        assert!(!is_stale(&storage, &page_key(&walk, &open, "start", 7), now, &mut cache).unwrap());
        assert!(is_stale(&storage, &page_key(&walk, &old, "boundary", 2), now, &mut cache).unwrap());
        assert!(!is_stale(&storage, &sweep_key(&walk), now, &mut cache).unwrap());
    }

    /// 10,000,000 records in 10 slices need a hop per 100,000: past the 30-call budget the
    /// remaining boundaries split the remaining time (balanced: false), each probe from the
    /// previous key at Zoho's reach, and the plan's cost is its calls and credits.
    #[test]
    fn past_the_call_budget_the_rest_is_split_by_time() {
        use crate::http::Response;

        let fixture = Fixture::default();
        let transport = &fixture.transport;
        let dated = |body: String| Response { status: 200, headers: vec![("date".into(), "Wed, 01 May 2024 00:00:00 GMT".into())], body: body.into_bytes() };
        // The module's fields (read by the sweep before its plan, so cached), then COUNT on its
        // system lookup (COUNT takes number, lookup and picklist fields; COUNT(id) is not documented).
        transport.answers.borrow_mut().push_back(dated(r#"{"fields":[{"api_name":"Last_Name","data_type":"text"},{"api_name":"Created_By","data_type":"ownerlookup"}]}"#.into()));
        transport.answers.borrow_mut().push_back(dated(r#"{"data":[{"COUNT(Created_By)":10000000}],"info":{"count":1,"more_records":false}}"#.into()));
        for i in 0..40 {
            let row = format!(r#"{{"data":[{{"id":"{}","Modified_Time":"2024-01-01T00:{:02}:00+00:00"}}],"info":{{"count":1,"more_records":true}}}}"#, 1000 + i, i);
            transport.answers.borrow_mut().push_back(dated(row));
        }
        let client = fixture.client();
        crate::crm::fields::module_field_descriptions(&client, "Leads").unwrap();
        let plan = make(&client, "Leads", Some("2024-01-01T00:00:00+00:00".into()), 10, "s".into(), false).unwrap();
        assert_eq!((plan.records, plan.calls, plan.credits, plan.balanced), (10_000_000, PLAN_MAX_CALLS, PLAN_MAX_CALLS, false));
        assert_eq!(plan.bounds.len(), 9);
        assert!(plan.is_sound());
        let sent: Vec<String> = transport.sent.borrow().iter().skip(1).map(|r| String::from_utf8_lossy(&r.body.as_ref().unwrap().parts.concat()).to_string()).collect();
        assert_eq!(sent.len(), 30);
        assert_eq!(sent[0], r#"{"select_query":"select COUNT(Created_By) from Leads where Modified_Time >= '2024-01-01T00:00:00+00:00'"}"#);
        // Criteria in pairs: ((since and until) and after).
        assert!(
            sent[1].ends_with(r#"where (Modified_Time >= '2024-01-01T00:00:00+00:00' and Modified_Time <= '2024-05-01T00:00:00+00:00') order by Modified_Time asc, id asc limit 99999, 1"}"#),
            "{}",
            sent[1]
        );
        assert!(
            sent[2].contains("where ((Modified_Time >= '2024-01-01T00:00:00+00:00' and Modified_Time <= '2024-05-01T00:00:00+00:00') and (Modified_Time > '2024-01-01T00:00:00+00:00' or (Modified_Time = '2024-01-01T00:00:00+00:00' and id > 1000))) order by"),
            "{}",
            sent[2]
        );
        // 29 hops reach record 2,900,000: boundaries 1 and 2 (1,000,000 and 2,000,000) by count.
        assert_eq!(plan.bounds[0].as_ref().map(|k| k.id.as_str()), Some("1009"));
        assert_eq!(plan.bounds[1].as_ref().map(|k| k.id.as_str()), Some("1019"));
        let rest: Vec<&Key> = plan.bounds[2..].iter().map(|k| k.as_ref().unwrap()).collect();
        assert!(rest.iter().all(|k| k.id == LAST_ID), "{rest:?}");
        let times: Vec<i64> = rest.iter().map(|k| parse_iso(&k.time).unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]) && times[0] > parse_iso("2024-01-01T00:28:00+00:00").unwrap(), "{times:?}");
        assert_eq!(plan.until.as_deref(), Some("2024-05-01T00:00:00+00:00"));
    }

    /// What a plan counts with: every record, the record-count API; since a date, COQL's COUNT
    /// on a system lookup (Owner where the module has no Created_By); a module without one, the
    /// record-count API again. Never `COUNT(id)`.
    #[test]
    fn a_plan_counts_with_what_zoho_documents() {
        use crate::http::scripted::Scripted;

        let sent = |transport: &Scripted| -> Vec<String> {
            transport
                .sent
                .borrow()
                .iter()
                .map(|r| format!("{} {} {}", r.method.as_str(), r.url, r.body.as_ref().map(|b| String::from_utf8_lossy(&b.parts.concat()).to_string()).unwrap_or_default()))
                .collect()
        };
        for (since, fields, answer, expected) in [
            (None, None, r#"{"count":7}"#, vec!["GET https://www.zohoapis.com/crm/v8/Leads/actions/count ".to_string()]),
            (
                Some("2024-01-01T00:00:00+00:00"),
                Some(r#"{"fields":[{"api_name":"Owner","data_type":"ownerlookup"},{"api_name":"Stage","data_type":"picklist"}]}"#),
                r#"{"data":[{"COUNT(Owner)":7}],"info":{"count":1,"more_records":false}}"#,
                vec![
                    "GET https://www.zohoapis.com/crm/v8/settings/fields?module=Leads ".to_string(),
                    r#"POST https://www.zohoapis.com/crm/v8/coql {"select_query":"select COUNT(Owner) from Leads where Modified_Time >= '2024-01-01T00:00:00+00:00'"}"#.to_string(),
                ],
            ),
            (
                Some("2024-01-01T00:00:00+00:00"),
                Some(r#"{"fields":[{"api_name":"Name","data_type":"text"}]}"#),
                r#"{"count":"7"}"#,
                vec!["GET https://www.zohoapis.com/crm/v8/settings/fields?module=Leads ".to_string(), "GET https://www.zohoapis.com/crm/v8/Leads/actions/count ".to_string()],
            ),
        ] {
            let fixture = Fixture::default();
            let transport = &fixture.transport;
            if let Some(fields) = fields {
                transport.answer(200, fields);
            }
            transport.answer(200, answer);
            // The one probe (record 3 of 7) finds none: the last slice takes every record.
            transport.answer(204, "");
            let client = fixture.client();
            let plan = make(&client, "Leads", since.map(str::to_string), 2, "s".into(), false).unwrap();
            assert_eq!(plan.records, 7);
            let sent = sent(transport);
            assert_eq!(sent[..expected.len()], expected[..], "{since:?}");
            assert!(sent.iter().all(|s| !s.contains("COUNT(id)")));
        }
    }

    #[test]
    fn time_bounds_split_the_rest_evenly_and_never_go_back() {
        let from = key("2024-01-01T00:00:00+00:00", "5");
        let until = parse_iso("2024-01-01T00:00:40+00:00").unwrap();
        let bounds = by_time(from.as_ref(), None, until, 3);
        let times: Vec<String> = bounds.iter().map(|k| k.as_ref().unwrap().time.clone()).collect();
        assert_eq!(times, ["2024-01-01T00:00:10+00:00", "2024-01-01T00:00:20+00:00", "2024-01-01T00:00:30+00:00"]);
        assert_eq!(by_time(None, None, until, 2), vec![None, None]);
        assert_eq!(by_time(from.as_ref(), None, i64::MIN, 2).len(), 2);
    }
    /// Attack: a stored plan is trusted by shape alone. Its bounds (and since/until) are
    /// deserialized without `Key::checked`, so a garbled or tampered plan puts any text into the
    /// slice's COQL where clause (a quote ends the time literal). A plan whose keys would not
    /// pass `Key::checked` should be no plan.
    #[test]
    fn a_plan_with_unchecked_keys_is_not_sound() {
        let stored = r#"{"id":"1","slices":2,"signature":"s","bounds":[{"t":"2024-01-01T00:00:00+00:00' or Modified_Time > '2000-01-01T00:00:00+00:00","id":"1 or id > 0"}]}"#;
        let plan: Plan = serde_json::from_str(stored).unwrap();
        let conditions = plan.range(1).conditions();
        assert!(!plan.is_sound(), "a plan with a key Key::checked refuses is used: {conditions:?}");
    }
}
