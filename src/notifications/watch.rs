//! The channel calls of `/crm/v8/actions/watch` (enable, renew, disable, list) and the reading
//! of their answers: one outcome per channel sent, a failed one is Zoho's error, typed.

use super::channel;
use super::token;
use crate::client::{ApiCall, Client};
use crate::crm::response::{error_from_item, error_from_response, kind_of, metadata_sized, small_json};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Response};
use crate::json;
use crate::storage::{get_fresh, now_ms, put_fresh};
use crate::validate;
use crate::wit::notifications::{DisableInput, EnableInput, ListInput, RenewInput};
use crate::zoho_time::{format_iso, parse_http_date, parse_iso, Seconds};
use serde_json::{json, Value};
use std::time::Duration;

pub const WATCH_PATH: &str = "/crm/v8/actions/watch";
/// Most channels one disable names.
pub const MAX_DISABLE_IDS: usize = 100;
/// Most channel entries a listing page holds (Zoho's per_page range is 1 to 200).
const MAX_LIST_PER_PAGE: u32 = 200;
/// Where the difference between Zoho's clock and the host's is kept between steps.
const CLOCK_KEY: &str = "notifications/server-clock-offset-s";
/// How long a measured clock difference is trusted.
const CLOCK_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// A difference larger than this is a broken Date header, not a clock.
const MAX_CLOCK_OFFSET_S: i64 = 366 * 24 * 60 * 60;
/// With Zoho's clock unknown, a channel is asked at most a week less this: a host clock running
/// up to five minutes ahead cannot push it past Zoho's limit, which Zoho turns into one hour.
const HOST_CLOCK_MARGIN_S: i64 = 5 * 60;
/// Zoho's longest channel life in seconds (one week; see [`channel::MAX_EXPIRY_MINUTES`]).
const LONGEST_S: i64 = channel::MAX_EXPIRY_MINUTES as i64 * 60;

fn host_now_s() -> Seconds {
    i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX)
}

/// The answer's `Date`: Zoho's clock when it answered.
pub fn server_time(response: &Response) -> Option<Seconds> {
    response.header("date").and_then(parse_http_date)
}

/// Notes Zoho's clock from the answer's `Date` for later expiries; returns it.
fn remember_clock(client: &Client, response: &Response) -> Option<Seconds> {
    let server = server_time(response)?;
    let offset = server.saturating_sub(host_now_s());
    if offset.unsigned_abs() <= MAX_CLOCK_OFFSET_S.unsigned_abs() {
        // Best effort: an expiry from the host clock with its margin is still right.
        let _ = put_fresh(client.storage, CLOCK_KEY, &json!(offset));
    }
    Some(server)
}

/// `minutes` from now as Zoho's ISO time. "Now" is Zoho's clock as an earlier answer's `Date`
/// showed it; before the first answer (nothing to read it from) it is the host's clock, and a
/// week-long expiry keeps [`HOST_CLOCK_MARGIN_S`] in hand.
fn expiry_at(client: &Client, minutes: u32) -> String {
    let offset = get_fresh(client.storage, CLOCK_KEY, CLOCK_TTL).ok().flatten().and_then(|v| v.as_i64()).filter(|o| o.unsigned_abs() <= MAX_CLOCK_OFFSET_S.unsigned_abs());
    let (now, margin) = match offset {
        Some(offset) => (host_now_s().saturating_add(offset), 0),
        None => (host_now_s(), HOST_CLOCK_MARGIN_S),
    };
    let ahead = (i64::from(minutes) * 60).min(LONGEST_S - margin);
    format_iso(now.saturating_add(ahead))
}

/// The outcomes of a watch write (`{"watch":[...]}` with one item per channel sent), each a
/// small object; any other answer is Zoho's error, typed.
fn outcomes(response: &Response, sent: usize) -> Result<Vec<Value>> {
    if !(200..300).contains(&response.status) || response.status == 204 {
        return Err(error_from_response(response));
    }
    let body = small_json(response)?;
    let Some(items) = body.get("watch").and_then(Value::as_array) else {
        if body.get("code").is_some() {
            return Err(error_from_item(response.status, &body));
        }
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho answered HTTP {} without a watch array: {:?}", response.status, response.body_start())).with_status(response.status));
    };
    if items.len() != sent {
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho answered {} outcomes for the {sent} channels sent; each channel's outcome is needed", items.len())).with_status(response.status));
    }
    Ok(items.clone())
}

/// An outcome that is not SUCCESS as Zoho's error (its code, message and details).
fn failed(response: &Response, item: &Value) -> Option<ZohoError> {
    if item.get("code").and_then(Value::as_str) == Some("SUCCESS") && item.get("status").and_then(Value::as_str) != Some("error") {
        return None;
    }
    let mut error =
        if item.is_object() { error_from_item(400, item) } else { ZohoError::new(ErrorKind::Zoho, format!("Zoho answered an outcome that is {}, not an object", json::kind_of(&item.to_string()))) };
    error.status = Some(response.status);
    error.kind = match error.code.as_deref() {
        Some("NOT_SUBSCRIBED") => ErrorKind::NotFound,
        code => kind_of(400, code),
    };
    Some(error)
}

/// The channel's expiry as Zoho kept it (`details.events[].channel_expiry`), when it says.
fn kept_expiry(item: &Value) -> Option<String> {
    let events = item.pointer("/details/events")?.as_array()?;
    events.iter().filter_map(|e| e.get("channel_expiry")?.as_str()).find(|t| parse_iso(t).is_some()).map(str::to_string)
}

fn channel_answer(channel_id: &str, token: Option<&str>, expiry: &str, events: Option<&[String]>, server: Option<Seconds>) -> String {
    json!({ "channel_id": channel_id, "token": token, "channel_expiry": expiry, "events": events, "server_time": server.map(format_iso) }).to_string()
}

/// Sends one channel `item` with `method`; its outcome's kept expiry (when Zoho says) and
/// Zoho's clock, or the outcome's error.
fn write_one(client: &Client, method: Method, item: Value) -> Result<(Option<String>, Option<Seconds>)> {
    let response = client.send(ApiCall::new(method, WATCH_PATH).json(json!({ "watch": [item] })))?;
    let server = remember_clock(client, &response);
    let items = outcomes(&response, 1)?;
    let outcome = items.first().unwrap_or(&Value::Null);
    match failed(&response, outcome) {
        Some(error) => Err(error),
        None => Ok((kept_expiry(outcome), server)),
    }
}

/// Enable a channel: `POST /crm/v8/actions/watch`.
pub fn enable(client: &Client, input: &EnableInput) -> Result<String> {
    let events = channel::events(&input.events)?;
    let notify_url = channel::notify_url(&input.notify_url)?;
    let channel_id = match input.channel_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => channel::channel_id(id, "channel-id")?.to_string(),
        None => token::generate_channel_id(),
    };
    let token = channel::token(input.token.as_deref())?;
    let minutes = channel::expiry_minutes(input.expiry_minutes)?;
    let expiry = expiry_at(client, minutes);
    let mut item = json!({ "channel_id": channel_id, "events": events, "channel_expiry": expiry, "token": token, "notify_url": notify_url });
    if let Some(affected) = input.return_affected_field_values {
        item["return_affected_field_values"] = json!(affected);
    }
    let (kept, server) = write_one(client, Method::Post, item)?;
    Ok(channel_answer(&channel_id, Some(&token), &kept.unwrap_or(expiry), Some(&events), server))
}

/// What a renewal restates of the channel: its notify URL and events, and its token when the
/// channel was read.
struct Restated {
    notify_url: String,
    events: Vec<String>,
    token: Option<String>,
}

/// The channel as Zoho lists it (`GET /crm/v8/actions/watch?channel_id=`): one entry per module
/// it watches, so its events are every entry's, in the order listed. None when Zoho lists no
/// such channel (never enabled, disabled, or expired).
fn read_channel(client: &Client, channel_id: &str) -> Result<Option<Restated>> {
    let call = ApiCall::new(Method::Get, WATCH_PATH).query("channel_id", channel_id).query("per_page", MAX_LIST_PER_PAGE.to_string());
    let response = client.send(call)?;
    remember_clock(client, &response);
    match response.status {
        204 => return Ok(None),
        200 => {}
        _ => return Err(error_from_response(&response)),
    }
    let body = small_json(metadata_sized(&response)?)?;
    let odd = |why: &str| ZohoError::new(ErrorKind::Zoho, format!("Zoho's listing of channel {channel_id} {why}")).with_status(200);
    let entries = body.get("watch").and_then(Value::as_array).ok_or_else(|| odd("has no watch array"))?;
    let mut restated: Option<Restated> = None;
    for entry in entries.iter().filter(|e| id_text(e.get("channel_id")).as_deref() == Some(channel_id)) {
        let url = entry.get("notify_url").and_then(Value::as_str).ok_or_else(|| odd("names no notify_url"))?;
        let named = entry.get("events").and_then(Value::as_array).ok_or_else(|| odd("names no events"))?;
        let into = restated.get_or_insert_with(|| Restated { notify_url: url.to_string(), events: Vec::new(), token: entry.get("token").and_then(Value::as_str).map(str::to_string) });
        for event in named {
            let event = event.as_str().ok_or_else(|| odd("names an event that is not text"))?;
            if !into.events.iter().any(|e| e == event) {
                into.events.push(event.to_string());
            }
        }
    }
    Ok(restated)
}

/// A channel id as Zoho writes it: digits, as a string or a number.
fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Move a channel's expiry: `PATCH /crm/v8/actions/watch`. Zoho's "Update Specific Information
/// of a Notification" (v8) makes `channel_id`, `notify_url` and `events` mandatory for each
/// channel (notifications.json lost its `required` lists; Zoho's own example answers
/// MANDATORY_NOT_FOUND for a missing notify_url), so the renewal restates them: as given, or
/// read from the channel first when not given (one more request). Restating the channel's own
/// events keeps them under either reading of PATCH (events replaced, or events added).
pub fn renew(client: &Client, input: &RenewInput) -> Result<String> {
    let channel_id = channel::channel_id(&input.channel_id, "channel-id")?;
    let minutes = channel::expiry_minutes(input.expiry_minutes)?;
    let given_url = match input.notify_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => Some(channel::notify_url(url)?.to_string()),
        None => None,
    };
    let given_events = match input.events.as_deref().filter(|e| !e.is_empty()) {
        Some(events) => Some(channel::events(events)?),
        None => None,
    };
    let restated = match (given_url, given_events) {
        (Some(notify_url), Some(events)) => Restated { notify_url, events, token: None },
        (url, events) => {
            let read = read_channel(client, channel_id)?.ok_or_else(|| {
                ZohoError::new(ErrorKind::NotFound, format!("channel {channel_id} is not enabled at Zoho (never enabled, disabled, or expired): enable it again"))
                    .with_code("NOT_SUBSCRIBED")
                    .with_details(json!({ "channel_id": channel_id }))
            })?;
            Restated { notify_url: url.unwrap_or(read.notify_url), events: events.unwrap_or(read.events), token: read.token }
        }
    };
    let expiry = expiry_at(client, minutes);
    let item = json!({ "channel_id": channel_id, "events": restated.events, "channel_expiry": expiry, "notify_url": restated.notify_url });
    let (kept, server) = write_one(client, Method::Patch, item)?;
    // Zoho's PATCH answer names neither the token nor the events: the token is null unless the
    // channel was read ("unchanged, not read").
    Ok(channel_answer(channel_id, restated.token.as_deref(), &kept.unwrap_or(expiry), Some(&restated.events), server))
}

/// Stop channels: `DELETE /crm/v8/actions/watch?channel_ids=a,b`.
pub fn disable(client: &Client, input: &DisableInput) -> Result<String> {
    if input.channel_ids.is_empty() || input.channel_ids.len() > MAX_DISABLE_IDS {
        return Err(ZohoError::invalid_input(format!("channel-ids lists {} ids; give 1 to {MAX_DISABLE_IDS}", input.channel_ids.len())));
    }
    let mut ids: Vec<&str> = Vec::with_capacity(input.channel_ids.len());
    for id in &input.channel_ids {
        let id = channel::channel_id(id, "channel-ids entry")?;
        if ids.contains(&id) {
            return Err(ZohoError::invalid_input(format!("channel-ids lists {id} twice")));
        }
        ids.push(id);
    }
    let response = client.send(ApiCall::new(Method::Delete, WATCH_PATH).query("channel_ids", ids.join(",")))?;
    let items = outcomes(&response, ids.len())?;
    let mut disabled = Vec::new();
    let mut first_failure = None;
    for (id, item) in ids.iter().zip(&items) {
        match failed(&response, item) {
            None => disabled.push(*id),
            Some(error) => {
                first_failure.get_or_insert((*id, error));
            }
        }
    }
    match first_failure {
        None => Ok(json!({ "disabled": disabled }).to_string()),
        Some((id, mut error)) => {
            error.message = format!("channel {id} was not disabled: {} ({} of {} channels disabled)", error.message, disabled.len(), ids.len());
            Err(error.with_details(json!({ "disabled": disabled, "outcomes": items })))
        }
    }
}

/// The org's channels: `GET /crm/v8/actions/watch`, one page, entries as Zoho's text.
pub fn list(client: &Client, input: &ListInput) -> Result<String> {
    let channel_id = match input.channel_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => Some(channel::channel_id(id, "channel-id")?),
        None => None,
    };
    let module = match input.module.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => Some(validate::module_name(m).map_err(|_| {
            ZohoError::invalid_input(format!("module {:?} is not a module API name: letters, digits and underscores, at most 25 (e.g. Leads)", m.chars().take(40).collect::<String>()))
        })?),
        None => None,
    };
    if input.page == Some(0) {
        return Err(ZohoError::invalid_input("page starts at 1"));
    }
    if let Some(n) = input.per_page.filter(|n| !(1..=MAX_LIST_PER_PAGE).contains(n)) {
        return Err(ZohoError::invalid_input(format!("per-page {n} is out of range: Zoho lists 1 to {MAX_LIST_PER_PAGE} channels per page")));
    }
    let mut call = ApiCall::new(Method::Get, WATCH_PATH);
    if let Some(page) = input.page {
        call = call.query("page", page.to_string());
    }
    if let Some(per_page) = input.per_page {
        call = call.query("per_page", per_page.to_string());
    }
    if let Some(id) = channel_id {
        call = call.query("channel_id", id);
    }
    if let Some(module) = module {
        call = call.query("module", module);
    }
    let response = client.send(call)?;
    // A listing shows Zoho's clock too: the next renewal's expiry goes by it, so one renewal
    // is enough after the host's clock jumped.
    let server = remember_clock(client, &response).map(format_iso);
    let mut out = String::from("{\"watch\":");
    match response.status {
        204 => {
            let info = json!({ "count": 0, "more_records": false, "page": input.page.unwrap_or(1), "per_page": input.per_page.unwrap_or(MAX_LIST_PER_PAGE) });
            out.push_str("[],\"info\":");
            out.push_str(&info.to_string());
        }
        200 => {
            let response = metadata_sized(&response)?;
            let text = std::str::from_utf8(&response.body).map_err(|_| ZohoError::new(ErrorKind::Zoho, "Zoho answered the channel listing with a body that is not UTF-8").with_status(200))?;
            let unreadable = |e: json::JsonError| ZohoError::new(ErrorKind::Zoho, format!("Zoho's channel listing could not be read ({e})")).with_status(200);
            let members = json::members(text, 64).map_err(unreadable)?;
            let member = |name: &str| members.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
            let watch =
                member("watch").ok_or_else(|| ZohoError::new(ErrorKind::Zoho, format!("Zoho answered the channel listing without a watch array: {:?}", response.body_start())).with_status(200))?;
            let per_page = input.per_page.unwrap_or(MAX_LIST_PER_PAGE) as usize;
            let entries = json::items(watch.get().as_bytes(), per_page).map_err(unreadable)?;
            out.push_str(&json::array_text(&entries));
            out.push_str(",\"info\":");
            out.push_str(member("info").map_or("null", |i| i.get()));
        }
        _ => return Err(error_from_response(&response)),
    }
    out.push_str(",\"server_time\":");
    out.push_str(&json!(server).to_string());
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod attack_tests {
    use super::*;
    use crate::testing::Fixture;

    /// Attack: a stored clock offset of i64::MIN (a garbled or hostile key-value entry) makes
    /// `o.abs()` overflow: a panic in debug builds, and in release (no overflow checks) it wraps
    /// to i64::MIN, passes the `<= MAX_CLOCK_OFFSET_S` filter, and the expiry sent is a year
    /// hundreds of billions before Christ. docs/guarantees.md: stored numbers never overflow, wrap or panic.
    #[test]
    fn a_stored_clock_offset_at_the_edge_neither_panics_nor_wraps() {
        let fixture = Fixture::default();
        let storage = &fixture.storage;
        put_fresh(storage, CLOCK_KEY, &json!(i64::MIN)).unwrap();
        let client = fixture.client();
        let expiry = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| expiry_at(&client, 60)));
        let expiry = expiry.expect("expiry_at panicked on a stored offset of i64::MIN");
        let at = parse_iso(&expiry).expect("an ISO time");
        assert!((at - host_now_s() - 3600).abs() <= 5 * 60, "{expiry}");
    }
}
