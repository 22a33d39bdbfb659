//! Zoho CRM's Notifications API (`/crm/v8/actions/watch`) as notifications.json documents it:
//! POST enables channels (201, one outcome per item), GET lists them (204 when none), PUT
//! replaces a channel, PATCH updates the keys given, DELETE `?channel_ids=` disables. A channel
//! expires by the sandbox's clock (absent or more than a week ahead: one hour, as Zoho says);
//! an expired channel leaves the listing and gets no deliveries (`deliveries.rs`). A PATCH
//! must restate each channel's `channel_id`, `notify_url` and `events` (v8 "Update Specific
//! Information of a Notification"), else 400 MANDATORY_NOT_FOUND as Zoho's own example answers.

use crate::clock::Clock;
use crate::crm::metadata;
use crate::request::RecordedRequest;
use crate::response::{empty_response, error_response, invalid_module, json_response};
use crate::state::channels::Channel;
use crate::state::Shared;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::sync::Arc;

/// Longest token Zoho keeps (its docs: "Maximum length of characters is 50").
pub const MAX_TOKEN_CHARS: usize = 50;
/// The operations an event names.
const OPERATIONS: [&str; 4] = ["create", "edit", "delete", "all"];
/// A channel's longest life: one week since API v4 (Kaizen #170, "FAQs on Notification APIs":
/// "From V4, the default expiry time remains one hour, but the maximum limit is one week").
pub const LONGEST_EXPIRY_DAYS: i64 = 7;
/// The keys a PATCH must give for each channel, in the order Zoho's page lists them
/// (zoho/crm-oas `notifications/operations/updateNotificationInfo`: channel_id, notify_url and
/// events REQ; its example `response-400-mandatorynotfound` names notify_url).
const PATCH_MANDATORY: [&str; 3] = ["channel_id", "notify_url", "events"];

/// The channels alive at `now` (for deliveries and tests).
pub fn live_channels(shared: &Shared, now: DateTime<Utc>) -> Vec<Channel> {
    shared.watch.live(now).values().cloned().collect()
}

type Sandbox = State<Arc<Shared>>;
type Recorded = Extension<Arc<RecordedRequest>>;

fn mandatory(api_name: &str, path: String) -> Value {
    json!({ "code": "MANDATORY_NOT_FOUND", "details": { "api_name": api_name, "json_path": path }, "message": "required field not found", "status": "error" })
}

fn invalid(api_name: &str, path: String) -> Value {
    json!({ "code": "INVALID_DATA", "details": { "api_name": api_name, "json_path": path }, "message": "invalid data", "status": "error" })
}

fn not_subscribed(channel_id: &str) -> Value {
    json!({ "code": "NOT_SUBSCRIBED", "details": { "channel_id": channel_id }, "message": "the channel is not subscribed for actions-watch", "status": "error" })
}

/// A channel id: Zoho's long, as a number or its digits.
fn channel_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().filter(|n| *n > 0),
        Value::String(s) if (1..=19).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok().filter(|n| *n > 0),
        _ => None,
    }
}

/// The expiry Zoho keeps: the one asked if it is ahead by at most a week, else one hour.
fn expiry(given: Option<&Value>, now: DateTime<Utc>) -> Result<DateTime<Utc>, ()> {
    let default = now + Duration::hours(1);
    match given {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(text)) => {
            let at = DateTime::parse_from_rfc3339(text).map_err(|_| ())?.with_timezone(&Utc);
            Ok(if at <= now || at > now + Duration::days(LONGEST_EXPIRY_DAYS) { default } else { at })
        }
        Some(_) => Err(()),
    }
}

/// Events as sent: a non-empty list of `Module.create|edit|delete|all` of known modules.
fn events(value: &Value, modules: &[String], path: &str) -> Result<Vec<String>, Value> {
    let items = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| invalid("events", path.to_string()))?;
    let mut events = Vec::new();
    for (j, item) in items.iter().enumerate() {
        let known = item.as_str().and_then(|e| e.split_once('.')).is_some_and(|(m, op)| modules.iter().any(|k| k == m) && OPERATIONS.contains(&op));
        let Some(event) = item.as_str().filter(|_| known) else { return Err(invalid("events", format!("{path}[{j}]"))) };
        if !events.iter().any(|e| e == event) {
            events.push(event.to_string());
        }
    }
    Ok(events)
}

/// Reads item `index` of a POST or PUT (every key) or a PATCH (`base` is the channel, only the
/// keys given change) into the channel it describes.
fn read_item(item: &Value, index: usize, base: Option<&Channel>, modules: &[String], api_base: &str, now: DateTime<Utc>) -> Result<Channel, Value> {
    let path = |key: &str| format!("$.watch[{index}].{key}");
    let id = match item.get("channel_id") {
        None | Some(Value::Null) => return Err(mandatory("channel_id", path("channel_id"))),
        Some(v) => channel_id(v).ok_or_else(|| invalid("channel_id", path("channel_id")))?,
    };
    let patching = base.is_some();
    let mut channel = base.cloned().unwrap_or(Channel {
        channel_id: id.to_string(),
        events: Vec::new(),
        expiry: now,
        token: None,
        notify_url: String::new(),
        return_affected_field_values: false,
        notify_on_related_action: true,
        fields: None,
        api_base: api_base.to_string(),
    });
    match item.get("events") {
        None | Some(Value::Null) if !patching => return Err(mandatory("events", path("events"))),
        None | Some(Value::Null) => {}
        Some(v) => {
            let named = events(v, modules, &path("events"))?;
            if patching && item.get("_delete_events") == Some(&Value::Bool(true)) {
                channel.events.retain(|e| !named.contains(e));
            } else {
                channel.events = named;
            }
        }
    }
    match item.get("notify_url") {
        None | Some(Value::Null) if !patching => return Err(mandatory("notify_url", path("notify_url"))),
        None | Some(Value::Null) => {}
        Some(Value::String(url)) if url.starts_with("https://") || url.starts_with("http://") => channel.notify_url = url.clone(),
        Some(_) => return Err(invalid("notify_url", path("notify_url"))),
    }
    match item.get("token") {
        None => {}
        Some(Value::Null) => channel.token = None,
        Some(Value::String(t)) if t.chars().count() <= MAX_TOKEN_CHARS => channel.token = Some(t.clone()),
        Some(_) => return Err(invalid("token", path("token"))),
    }
    if !patching || item.get("channel_expiry").is_some() {
        channel.expiry = expiry(item.get("channel_expiry"), now).map_err(|_| invalid("channel_expiry", path("channel_expiry")))?;
    }
    for (key, slot) in [("return_affected_field_values", &mut channel.return_affected_field_values), ("notify_on_related_action", &mut channel.notify_on_related_action)] {
        match item.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => *slot = *b,
            Some(_) => return Err(invalid(key, path(key))),
        }
    }
    if let Some(fields) = item.get("fields") {
        channel.fields = Some(fields.clone()).filter(|f| !f.is_null());
    }
    Ok(channel)
}

/// The events of a success outcome: one per module the channel watches.
fn details(channel: &Channel) -> Value {
    let events: Vec<Value> = channel
        .modules()
        .into_iter()
        .map(|module| {
            json!({
                "channel_expiry": Clock::zoho_time(channel.expiry),
                "resource_uri": format!("{}/crm/v8/{module}", channel.api_base),
                "resource_id": metadata::module_id(module),
                "resource_name": module,
                "channel_id": channel.channel_id,
                "notification_condition": [],
            })
        })
        .collect();
    json!({ "events": events })
}

fn success(message: &str, details: Value) -> Value {
    json!({ "code": "SUCCESS", "details": details, "message": message, "status": "success" })
}

/// The `watch` items of a write body, or Zoho's top-level refusal.
fn items(request: &RecordedRequest) -> Result<Vec<Value>, Response> {
    let Some(body) = request.json() else {
        return Err(error_response(400, "INVALID_DATA", "body is not a valid JSON", json!({ "api_name": "watch", "json_path": "$" })));
    };
    match body.get("watch").and_then(Value::as_array).filter(|w| !w.is_empty()) {
        Some(items) => Ok(items.clone()),
        None => Err(error_response(400, "MANDATORY_NOT_FOUND", "required field not found", json!({ "api_name": "watch", "json_path": "$.watch" }))),
    }
}

/// Outcomes in a `watch` array: `all_ok` when every item succeeded, else 202 as Zoho's file
/// lists for its wrapped errors.
fn outcomes(results: Vec<Value>, all_ok: u16) -> Response {
    let status = if results.iter().all(|r| r["status"] == "success") { all_ok } else { 202 };
    json_response(status, &json!({ "watch": results }))
}

fn api_base(request: &RecordedRequest) -> String {
    format!("http://{}", request.header("host").unwrap_or("localhost"))
}

fn module_names(shared: &Shared) -> Vec<String> {
    shared.data().modules.keys().cloned().collect()
}

/// `POST /crm/v8/actions/watch`: enables (or re-subscribes) each channel given.
pub async fn enable(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    write(&shared, &request, Write::Enable)
}

/// `PUT /crm/v8/actions/watch`: replaces each channel's details.
pub async fn replace(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    write(&shared, &request, Write::Replace)
}

/// `PATCH /crm/v8/actions/watch`: changes the keys given of each channel.
pub async fn update(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    write(&shared, &request, Write::Update)
}

#[derive(Clone, Copy, PartialEq)]
enum Write {
    Enable,
    Replace,
    Update,
}

fn write(shared: &Shared, request: &RecordedRequest, kind: Write) -> Response {
    let items = match items(request) {
        Ok(items) => items,
        Err(refusal) => return refusal,
    };
    if kind == Write::Update {
        // Zoho refuses the whole PATCH, top-level, when a channel misses a mandatory key.
        for (index, item) in items.iter().enumerate() {
            if let Some(key) = PATCH_MANDATORY.iter().find(|k| item.get(**k).is_none_or(Value::is_null)) {
                return json_response(400, &mandatory(key, format!("$.watch[{index}].{key}")));
            }
        }
    }
    let modules = module_names(shared);
    let now = shared.clock.now();
    let base = api_base(request);
    let mut channels = shared.watch.live(now);
    let mut results = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let existing = item.get("channel_id").and_then(channel_id).and_then(|id| channels.get(&id).cloned());
        if kind != Write::Enable && existing.is_none() {
            let id = item.get("channel_id").map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).unwrap_or_default();
            results.push(if item.get("channel_id").is_none() { mandatory("channel_id", format!("$.watch[{index}].channel_id")) } else { not_subscribed(&id) });
            continue;
        }
        let patch_base = if kind == Write::Update { existing.as_ref() } else { None };
        match read_item(item, index, patch_base, &modules, &base, now) {
            Err(error) => results.push(error),
            Ok(channel) => {
                let Ok(id) = channel.channel_id.parse::<i64>() else { continue };
                if channel.events.is_empty() {
                    // Every event deleted: the channel is unsubscribed.
                    channels.remove(&id);
                    results.push(success("Successfully un-subscribed from actions-watch", json!({ "channel_id": channel.channel_id })));
                    continue;
                }
                let message = match kind {
                    Write::Enable => "Successfully subscribed for actions-watch of the given module",
                    _ => "Successfully updated the subscribe details",
                };
                results.push(success(message, details(&channel)));
                channels.insert(id, channel);
            }
        }
    }
    outcomes(results, if kind == Write::Enable { 201 } else { 200 })
}

/// `DELETE /crm/v8/actions/watch?channel_ids=a,b`: disables each channel named.
pub async fn disable(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    let Some(ids) = request.query_param("channel_ids").filter(|ids| !ids.trim().is_empty()) else {
        return error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "channel_ids", "param": "channel_ids" }));
    };
    let mut channels = shared.watch.live(shared.clock.now());
    let results: Vec<Value> = ids
        .split(',')
        .map(str::trim)
        .map(|id| match channel_id(&Value::String(id.to_string())).and_then(|n| channels.remove(&n)) {
            Some(channel) => success("Successfully removed the subscribe details", json!({ "channel_id": channel.channel_id })),
            None => not_subscribed(id),
        })
        .collect();
    outcomes(results, 200)
}

/// `GET /crm/v8/actions/watch`: one entry per channel and module, paged; 204 when none.
pub async fn list(State(shared): Sandbox, Extension(request): Recorded) -> Response {
    let (per_page, page) = match (crate::params::per_page(&request), crate::params::page(&request)) {
        (Ok(per_page), Ok(page)) => (per_page, page),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let module = request.query_param("module");
    if module.is_some_and(|m| !shared.data().modules.contains_key(m)) {
        return invalid_module();
    }
    let wanted = request.query_param("channel_id");
    let channels = live_channels(&shared, shared.clock.now());
    let mut entries = Vec::new();
    for channel in channels.iter().filter(|c| wanted.is_none_or(|w| w == c.channel_id)) {
        for name in channel.modules().into_iter().filter(|m| module.is_none_or(|w| w == *m)) {
            let events: Vec<&String> = channel.events.iter().filter(|e| e.split_once('.').is_some_and(|(m, _)| m == name)).collect();
            entries.push(json!({
                "notify_on_related_action": channel.notify_on_related_action,
                "channel_expiry": Clock::zoho_time(channel.expiry),
                "return_affected_field_values": channel.return_affected_field_values,
                "resource_uri": format!("{}/crm/v8/{name}", channel.api_base),
                "resource_id": metadata::module_id(name),
                "notify_url": channel.notify_url,
                "resource_name": name,
                "fields": channel.fields,
                "notification_condition": [],
                "channel_id": channel.channel_id,
                "events": events,
                "token": channel.token,
            }));
        }
    }
    let slice: Vec<Value> = entries.iter().skip((page - 1).saturating_mul(per_page)).take(per_page).cloned().collect();
    if slice.is_empty() {
        return empty_response(204);
    }
    let more = page.saturating_mul(per_page) < entries.len();
    json_response(200, &json!({ "watch": slice, "info": { "per_page": per_page, "page": page, "count": slice.len(), "more_records": more } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_one_hour_when_absent_past_or_beyond_a_week() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let hour = now + Duration::hours(1);
        assert_eq!(expiry(None, now), Ok(hour));
        assert_eq!(expiry(Some(&json!("2026-01-02T00:00:01+00:00")), now), Ok(now + Duration::days(1) + Duration::seconds(1)));
        assert_eq!(expiry(Some(&json!("2026-01-08T00:00:00+00:00")), now), Ok(now + Duration::days(7)));
        assert_eq!(expiry(Some(&json!("2026-01-08T00:00:01+00:00")), now), Ok(hour));
        assert_eq!(expiry(Some(&json!("2025-12-31T23:00:00-07:00")), now), Ok(now + Duration::hours(6)));
        assert_eq!(expiry(Some(&json!("2025-12-31T00:00:00Z")), now), Ok(hour));
        assert!(expiry(Some(&json!("tomorrow")), now).is_err());
        assert!(expiry(Some(&json!(5)), now).is_err());
    }

    #[test]
    fn channel_ids_are_positive_longs() {
        assert_eq!(channel_id(&json!("1000000068001")), Some(1_000_000_068_001));
        assert_eq!(channel_id(&json!(9_223_372_036_854_775_807i64)), Some(i64::MAX));
        for bad in [json!("9223372036854775808"), json!("12a"), json!(""), json!(0), json!(-1), json!(1.5), json!(null)] {
            assert_eq!(channel_id(&bad), None, "{bad}");
        }
    }
}
