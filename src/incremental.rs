//! Incremental listing: a sweep reads every record modified since the committed cursor, a
//! page per step, and a commit moves the cursor. Nothing is lost:
//!
//! - Pages are keyset pages on (Modified_Time, id) through COQL (`where (Modified_Time > t or
//!   (Modified_Time = t and id > last)) order by Modified_Time, id`), so there is no offset to
//!   shift when records change mid-sweep, no 2,000-record page reach and no 100,000-row
//!   ceiling, and hundreds of records on one `Modified_Time` second are walked by id.
//! - The sweep has an upper bound, the server's `Date` when it began, so it ends even while
//!   records keep changing; records changed after it are the next sweep's.
//! - The cursor a sweep commits is the server time its first query could have run at (the
//!   `Date` of the first answer, less the request's duration, less a second), so a record
//!   changed during the sweep behind the keyset position is in the next sweep.
//! - Each page's start key is kept in storage: page N can be asked again (a retried step gets
//!   the same range) and a sweep survives the host restarting between steps.
//! - Records delivered at the boundary window are remembered with the cursor, and the next
//!   sweep drops the same versions by id: duplicates only for records modified during a sweep.

use crate::client::{ApiCall, Client};
use crate::crm::fields::module_fields;
use crate::crm::records::{complete_records, MAX_FIELDS_PER_LIST};
use crate::crm::response::{body_json, error_from_response};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::storage::now_ms;
use crate::validate;
use crate::zoho_time::{format_iso, parse_http_date, parse_iso};
use serde_json::{json, Map, Value};
use std::time::Instant;

/// An open sweep older than this is restarted when page 1 (or the next page) is asked again.
const SWEEP_TTL_MS: u64 = 60 * 60 * 1000;
/// Rows one COQL call can return; re-reading a known page range asks for up to this many.
const COQL_MAX_ROWS: usize = 2_000;
/// Boundary ids remembered for the next sweep's duplicate drop (past it, duplicates are allowed).
const MAX_BOUNDARY_IDS: usize = 2_000;

#[derive(Debug, Default, Clone)]
pub struct ListInput {
    pub record_type: String,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
    pub fields: Option<String>,
    pub since: Option<String>,
    /// Where a sweep starts when no cursor is committed yet (a sync stream's anchor date).
    pub anchor: Option<String>,
    /// Whose cursor this is: the module for the incremental actions, `sync/<stream>` for a sync
    /// stream, so two consumers of one module (accounts, companies) each keep their own.
    pub scope: Option<String>,
    pub include_deleted: Option<bool>,
}

fn sweep_key(scope: &str) -> String {
    format!("incremental/{scope}/sweep")
}

fn cursor_key(scope: &str) -> String {
    format!("incremental/{scope}/cursor")
}

/// The previous sweep's boundary (id → delivered Modified_Time), apart from the cursor so pages
/// past the boundary window never read it.
fn boundary_key(scope: &str) -> String {
    format!("incremental/{scope}/cursor-boundary")
}

/// One key per page, so a step reads and writes a constant amount however long the sweep:
/// `start/n` is the key page n starts after; `boundary/n` what page n delivered in the window.
fn page_key(scope: &str, sweep: &str, what: &str, page: usize) -> String {
    format!("incremental/{scope}/{sweep}/{what}/{page}")
}

fn load_key(client: &Client, key: &str) -> Result<Option<Key>> {
    Ok(client.storage.get(key)?.and_then(|b| serde_json::from_slice::<Value>(&b).ok()).and_then(|v| Key::from_json(&v)))
}

/// Deletes a sweep's page keys.
fn forget_sweep(client: &Client, scope: &str, sweep: &Map<String, Value>) -> Result<()> {
    let Some(id) = sweep.get("sweep").and_then(Value::as_str) else { return Ok(()) };
    let pages = sweep.get("fetched").and_then(Value::as_u64).unwrap_or(0) as usize;
    for n in 1..=pages + 1 {
        client.storage.delete(&page_key(scope, id, "start", n))?;
        client.storage.delete(&page_key(scope, id, "boundary", n))?;
    }
    Ok(())
}

fn load(client: &Client, key: &str) -> Result<Option<Map<String, Value>>> {
    Ok(client.storage.get(key)?.and_then(|b| serde_json::from_slice::<Value>(&b).ok()).and_then(|v| match v {
        Value::Object(map) => Some(map),
        _ => None,
    }))
}

fn save(client: &Client, key: &str, value: &Map<String, Value>) -> Result<()> {
    client.storage.set(key, Value::Object(value.clone()).to_string().as_bytes())
}

/// A position in the sweep's order: (Modified_Time as Zoho wrote it, id).
#[derive(Debug, Clone, PartialEq)]
struct Key {
    time: String,
    id: String,
}

impl Key {
    fn of(record: &Value) -> Option<Key> {
        let time = record.get("Modified_Time")?.as_str()?.to_string();
        let id = record.get("id")?.as_str()?.to_string();
        // Both go into a query: a time must parse and an id must be a number.
        (parse_iso(&time).is_some() && validate::record_id(&id).is_ok()).then_some(Key { time, id })
    }

    fn from_json(value: &Value) -> Option<Key> {
        Key::of(&json!({ "Modified_Time": value.get("t")?, "id": value.get("id")? }))
    }

    fn to_json(&self) -> Value {
        json!({ "t": self.time, "id": self.id })
    }

    fn after(&self) -> String {
        format!("(Modified_Time > '{t}' or (Modified_Time = '{t}' and id > {id}))", t = self.time, id = self.id)
    }

    fn up_to(&self) -> String {
        format!("(Modified_Time < '{t}' or (Modified_Time = '{t}' and id <= {id}))", t = self.time, id = self.id)
    }
}

/// Normalizes a caller's timestamp to Zoho's shape in UTC.
fn normalize(what: &str, text: &str) -> Result<String> {
    parse_iso(text).map(format_iso).ok_or_else(|| {
        ZohoError::invalid_input(format!("{what} {text:?} is not a timestamp: use ISO 8601 with an offset, e.g. 2024-05-10T01:10:47-07:00 or 2024-05-10"))
    })
}

struct Page {
    records: Vec<Value>,
    more: bool,
    /// The server's `Date` and how long the exchange took (for the sweep's bounds).
    date: Option<i64>,
    took_s: i64,
}

fn fetch(client: &Client, module: &str, coql_fields: &[String], conditions: &[String], limit: usize) -> Result<Page> {
    let filter = if conditions.is_empty() { "id is not null".to_string() } else { conditions.join(" and ") };
    let query = format!("select {} from {module} where {filter} order by Modified_Time asc, id asc limit 0, {limit}", coql_fields.join(", "));
    let started = Instant::now();
    let response = client.send(ApiCall::new(Method::Post, "/crm/v8/coql").json(json!({ "select_query": query })))?;
    let took_s = started.elapsed().as_secs() as i64 + 1;
    let date = response.header("date").and_then(parse_http_date);
    let (records, more) = match response.status {
        200 => {
            let body = body_json(&response)?;
            let more = body.pointer("/info/more_records").and_then(Value::as_bool).unwrap_or(false);
            (body.get("data").and_then(Value::as_array).cloned().unwrap_or_default(), more)
        }
        204 => (Vec::new(), false),
        _ => return Err(error_from_response(&response)),
    };
    Ok(Page { records, more, date, took_s })
}

pub fn list_modified_records(client: &Client, input: &ListInput) -> Result<Value> {
    let module = validate::module_name(input.record_type.trim())?.to_string();
    let per_page = input.per_page.unwrap_or(200);
    if !(1..=200).contains(&per_page) {
        return Err(ZohoError::invalid_input(format!("per-page {per_page} is out of range: 1 to 200")));
    }
    if input.page == Some(0) {
        return Err(ZohoError::invalid_input("page starts at 1"));
    }
    let since_input = input.since.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| normalize("since", s)).transpose()?;
    let anchor = input.anchor.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| normalize("anchor-date", s)).transpose()?;
    let named = match input.fields.as_deref() {
        Some(f) => validate::field_names(f)?,
        None => Vec::new(),
    };
    let mut fields = if named.is_empty() { module_fields(client, &module)? } else { named };
    fields.retain(|f| f != "id" && f != "Modified_Time");
    fields.splice(0..0, ["id".to_string(), "Modified_Time".to_string()]);
    let signature = format!("{per_page}|{}", fields.join(","));

    let scope = input.scope.clone().unwrap_or_else(|| module.clone());
    let cursor = load(client, &cursor_key(&scope))?;
    let mut sweep = load(client, &sweep_key(&scope))?.unwrap_or_default();
    let fresh = sweep.is_empty()
        || sweep.get("signature").and_then(Value::as_str) != Some(signature.as_str())
        || (since_input.is_some() && sweep.get("since").and_then(Value::as_str) != since_input.as_deref())
        || (matches!(input.page, None | Some(1)) && now_ms().saturating_sub(sweep.get("opened_at_ms").and_then(Value::as_u64).unwrap_or(0)) > SWEEP_TTL_MS);
    if fresh {
        let since = since_input
            .clone()
            .or_else(|| cursor.as_ref().and_then(|c| c.get("cursor")).and_then(Value::as_str).map(str::to_string))
            .or(anchor);
        forget_sweep(client, &scope, &sweep)?;
        sweep = Map::new();
        sweep.insert("signature".into(), json!(signature));
        sweep.insert("since".into(), json!(since));
        sweep.insert("opened_at_ms".into(), json!(now_ms()));
        sweep.insert("sweep".into(), json!(format!("{:x}", now_ms())));
        sweep.insert("fetched".into(), json!(0));
    }
    let since = sweep.get("since").and_then(Value::as_str).map(str::to_string);
    let sweep_id = sweep.get("sweep").and_then(Value::as_str).unwrap_or("0").to_string();
    let last_page = sweep.get("last_page").and_then(Value::as_u64).map(|n| n as usize);
    // Pages whose end (the next page's start) is known.
    let mut fetched = sweep.get("fetched").and_then(Value::as_u64).unwrap_or(0) as usize;
    let page = input.page.map(|p| p as usize).unwrap_or(fetched + 1);
    let (coql_fields, extra): (Vec<String>, Vec<String>) = if fields.len() > MAX_FIELDS_PER_LIST {
        (fields[..MAX_FIELDS_PER_LIST].to_vec(), fields[MAX_FIELDS_PER_LIST..].to_vec())
    } else {
        (fields.clone(), Vec::new())
    };

    let base_conditions = |sweep: &Map<String, Value>| -> Vec<String> {
        let mut conditions = Vec::new();
        if let Some(since) = &since {
            conditions.push(format!("Modified_Time >= '{since}'"));
        }
        if let Some(until) = sweep.get("until").and_then(Value::as_str) {
            conditions.push(format!("Modified_Time <= '{until}'"));
        }
        conditions
    };

    // Walk to the asked page when the pages before it were never read.
    let mut result = None;
    let mut n = page.min(fetched + 1);
    if last_page.is_some_and(|last| page > last) {
        result = Some(Page { records: Vec::new(), more: false, date: None, took_s: 0 });
    }
    while result.is_none() {
        let mut conditions = base_conditions(&sweep);
        let start = if n > 1 { load_key(client, &page_key(&scope, &sweep_id, "start", n))? } else { None };
        if let Some(start) = &start {
            conditions.push(start.after());
        }
        // A page read before is read again over the same key range.
        let known_end = if n <= fetched { load_key(client, &page_key(&scope, &sweep_id, "start", n + 1))? } else { None };
        if let Some(end) = &known_end {
            conditions.push(end.up_to());
        }
        let limit = if known_end.is_some() { COQL_MAX_ROWS } else { per_page as usize };
        let mut fetched_page = fetch(client, &module, &coql_fields, &conditions, limit)?;
        if !sweep.contains_key("until") {
            // The sweep's bounds, by the server's clock.
            let date = fetched_page.date.unwrap_or_else(|| (now_ms() / 1000) as i64);
            sweep.insert("until".into(), json!(format_iso(date)));
            sweep.insert("cursor".into(), json!(format_iso(date - fetched_page.took_s - 1)));
        }
        if known_end.is_some() {
            fetched_page.more = last_page != Some(n);
        } else {
            if let Some(last) = fetched_page.records.last().and_then(Key::of) {
                client.storage.set(&page_key(&scope, &sweep_id, "start", n + 1), last.to_json().to_string().as_bytes())?;
                fetched = n;
            }
            if !fetched_page.more || fetched_page.records.is_empty() {
                fetched_page.more = false;
                sweep.insert("last_page".into(), json!(n));
            }
        }
        if n == page {
            result = Some(fetched_page);
        } else if !fetched_page.more {
            // The sweep ends before the asked page.
            result = Some(Page { records: Vec::new(), more: false, date: None, took_s: 0 });
        } else {
            n += 1;
        }
    }
    let mut page_result = result.unwrap_or(Page { records: Vec::new(), more: false, date: None, took_s: 0 });
    // Records the previous sweep delivered in its boundary window (same version) are dropped;
    // only a page reaching back into that window reads the remembered ids.
    let previous_until = cursor.as_ref().and_then(|c| c.get("until")).and_then(Value::as_str).and_then(parse_iso);
    let time_of = |r: &Value| r.get("Modified_Time").and_then(Value::as_str).and_then(parse_iso);
    let delivered_before = page_result.records.len();
    if page_result.records.iter().any(|r| matches!((time_of(r), previous_until), (Some(t), Some(u)) if t <= u)) {
        let boundary = load(client, &boundary_key(&scope))?.unwrap_or_default();
        page_result.records.retain(|r| {
            let id = r.get("id").and_then(Value::as_str).unwrap_or("");
            boundary.get(id).is_none_or(|seen| Some(seen) != r.get("Modified_Time"))
        });
    }
    let dropped = delivered_before - page_result.records.len();
    if !extra.is_empty() && !page_result.records.is_empty() {
        let batches: Vec<&[String]> = extra.chunks(MAX_FIELDS_PER_LIST - 1).collect();
        complete_records(client, &module, &batches, &mut page_result.records)?;
    }
    // Remember what this page delivered inside the sweep's boundary window.
    let window_start = sweep.get("cursor").and_then(Value::as_str).and_then(parse_iso);
    let mut delivered = Map::new();
    for record in &page_result.records {
        if let (Some(t), Some(w), Some(id)) = (time_of(record), window_start, record.get("id").and_then(Value::as_str)) {
            if t >= w && delivered.len() < MAX_BOUNDARY_IDS {
                delivered.insert(id.to_string(), record["Modified_Time"].clone());
            }
        }
    }
    if !delivered.is_empty() {
        save(client, &page_key(&scope, &sweep_id, "boundary", page), &delivered)?;
    }
    sweep.insert("fetched".into(), json!(fetched));
    save(client, &sweep_key(&scope), &sweep)?;

    let mut out = json!({
        "record_type": module,
        "records": page_result.records,
        "page": page,
        "per_page": per_page,
        "more_records": page_result.more,
        "next_page": if page_result.more { json!(page + 1) } else { Value::Null },
        "cursor": cursor.as_ref().and_then(|c| c.get("cursor")).cloned().unwrap_or(Value::Null),
        "sweep": {
            "id": sweep.get("sweep"),
            "since": since,
            "until": sweep.get("until"),
            "commits_cursor": sweep.get("cursor"),
            "duplicates_dropped": dropped,
        },
    });
    if input.include_deleted.unwrap_or(false) && !page_result.more {
        out["deleted"] = json!(deleted_since(client, &module, since.as_deref())?);
    }
    Ok(out)
}

/// Ids deleted at or after `since` (all of them without a cursor), from `/{module}/deleted`.
fn deleted_since(client: &Client, module: &str, since: Option<&str>) -> Result<Vec<Value>> {
    let since = since.and_then(parse_iso);
    let mut ids = Vec::new();
    for page in 1..=10u32 {
        let response = client.send(
            ApiCall::new(Method::Get, format!("/crm/v8/{module}/deleted")).query("type", "all").query("page", page.to_string()).query("per_page", "200"),
        )?;
        if response.status == 204 {
            break;
        }
        if response.status != 200 {
            return Err(error_from_response(&response));
        }
        let body = body_json(&response)?;
        let mut older_than_cursor = false;
        for item in body.get("data").and_then(Value::as_array).into_iter().flatten() {
            let deleted_at = item.get("deleted_time").and_then(Value::as_str).and_then(parse_iso);
            match (since, deleted_at) {
                (Some(s), Some(t)) if t < s => older_than_cursor = true,
                _ => ids.push(item.get("id").cloned().unwrap_or(Value::Null)),
            }
        }
        if older_than_cursor || body.pointer("/info/more_records").and_then(Value::as_bool) != Some(true) {
            break;
        }
    }
    Ok(ids)
}

/// Commits the finished sweep of `scope` (default: the module) with its cursor and boundary,
/// or sets an explicit cursor.
pub fn update_last_successful_run_date(client: &Client, record_type: &str, scope: Option<&str>, timestamp: Option<&str>) -> Result<Value> {
    let module = validate::module_name(record_type.trim())?.to_string();
    let scope = scope.map(str::to_string).unwrap_or_else(|| module.clone());
    let sweep = load(client, &sweep_key(&scope))?;
    let mut cursor = Map::new();
    match timestamp.map(str::trim).filter(|t| !t.is_empty()) {
        Some(timestamp) => {
            cursor.insert("cursor".into(), json!(normalize("timestamp", timestamp)?));
            cursor.insert("source".into(), json!("explicit"));
        }
        None => {
            let Some(sweep) = sweep.as_ref().filter(|s| s.contains_key("last_page")) else {
                return Err(ZohoError::new(
                    ErrorKind::Conflict,
                    "there is no finished sweep to commit: read pages until more_records is false, then update the run date (or pass timestamp)",
                ));
            };
            cursor.insert("cursor".into(), sweep.get("cursor").cloned().unwrap_or(Value::Null));
            cursor.insert("until".into(), sweep.get("until").cloned().unwrap_or(Value::Null));
            cursor.insert("source".into(), json!("sweep"));
            // Gather what the sweep's pages delivered in the boundary window.
            let mut boundary = Map::new();
            let id = sweep.get("sweep").and_then(Value::as_str).unwrap_or("0");
            for n in 1..=sweep.get("last_page").and_then(Value::as_u64).unwrap_or(0) as usize {
                for (k, v) in load(client, &page_key(&scope, id, "boundary", n))?.unwrap_or_default() {
                    if boundary.len() < MAX_BOUNDARY_IDS {
                        boundary.insert(k, v);
                    }
                }
            }
            save(client, &boundary_key(&scope), &boundary)?;
        }
    }
    cursor.insert("committed_at".into(), json!(format_iso((now_ms() / 1000) as i64)));
    if cursor.get("source") == Some(&json!("explicit")) {
        client.storage.delete(&boundary_key(&scope))?;
    }
    save(client, &cursor_key(&scope), &cursor)?;
    if let Some(sweep) = &sweep {
        forget_sweep(client, &scope, sweep)?;
    }
    client.storage.delete(&sweep_key(&scope))?;
    Ok(json!({ "record_type": module, "cursor": cursor["cursor"], "source": cursor["source"], "committed_at": cursor["committed_at"] }))
}
