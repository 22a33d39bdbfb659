//! The channel's life: enabled once, kept in key-value storage (id, token, expiry, where the
//! sweeps start), resumed by a restarted watch instead of a second channel, renewed by Zoho's
//! clock before it expires, enabled again under the same id and token when Zoho dropped it,
//! and disabled on exit. A new channel's id and token are made here and stored before Zoho is
//! asked to enable it: a watch stopped or killed mid-enable leaves a channel its restart reuses,
//! never one nobody knows.

use super::Steps;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use zoho_connector::zoho_time::{format_iso, parse_iso};

/// Where the host keeps a watch's state, apart from the component's own bucket.
pub const BUCKET: &str = "zoho-host/watch";
/// Least time left on a channel before it is renewed.
const MIN_MARGIN_S: i64 = 5 * 60;
/// Without Zoho's clock, how far back the first sweep starts (as the component's own margin).
pub(super) const HOST_CLOCK_MARGIN_S: i64 = 15 * 60;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ChannelState {
    pub channel_id: String,
    pub token: String,
    pub channel_expiry: Option<String>,
    pub events: Vec<String>,
    pub notify_url: String,
    /// Where each module's first sweep starts: when the channel was first enabled, by Zoho's clock.
    pub since: Option<String>,
    /// Modules whose sweep has committed a cursor: later sweeps continue from it.
    #[serde(default)]
    pub swept: BTreeSet<String>,
    /// A module's first-sweep start when it is not `since`: a module an earlier channel of this
    /// watch already watched starts where that channel's watch of it started.
    #[serde(default)]
    pub starts: BTreeMap<String, String>,
    #[serde(default)]
    pub last_sweep: Option<String>,
    /// Disabled on exit: a restart enables it again under the same id and token.
    #[serde(default)]
    pub disabled: bool,
    /// When this host recorded a new channel, before asking Zoho to enable it (its clock, Unix
    /// seconds): an enable whose answer never came back (the watch killed meanwhile) landed
    /// after this, whatever lifetime the restart asks for.
    #[serde(default)]
    pub recorded_at: Option<i64>,
}

impl ChannelState {
    /// Where `module`'s first sweep starts (later ones continue from its committed cursor).
    pub fn start_of(&self, module: &str) -> Option<String> {
        self.starts.get(module).cloned().or_else(|| self.since.clone())
    }

    /// The state of a new channel for `events` that follows `previous` (the same watch, other
    /// events): each module both watch keeps its place, a committed cursor or its start, so the
    /// changes made while the watch was down are swept; a module newly watched starts when the
    /// new channel does. Its id and token are new, made here.
    pub fn successor(previous: Option<&ChannelState>, events: Vec<String>, notify_url: &str, modules: &BTreeMap<String, super::flags::Watched>) -> ChannelState {
        let (channel_id, token) = new_identity();
        let mut state = ChannelState { channel_id, token, events, notify_url: notify_url.to_string(), disabled: true, recorded_at: Some(unix_now()), ..ChannelState::default() };
        if let Some(previous) = previous {
            let before = previous.modules();
            for module in modules.keys().filter(|m| before.contains(m.as_str())) {
                if previous.swept.contains(module) {
                    state.swept.insert(module.clone());
                } else if let Some(start) = previous.start_of(module) {
                    state.starts.insert(module.clone(), start);
                }
            }
        }
        state
    }

    /// The modules the channel's events name.
    fn modules(&self) -> BTreeSet<&str> {
        self.events.iter().filter_map(|e| e.rsplit_once('.').map(|(module, _)| module)).collect()
    }
}

/// A new channel's id (a positive long of at least 13 digits, as Zoho's own) and token (160 bits,
/// 40 hex characters), from the host's cryptographic generator (wasmtime-wasi's, OS-seeded).
pub fn new_identity() -> (String, String) {
    use wasmtime_wasi::Rng as _;
    let mut rng = wasmtime_wasi::thread_rng();
    let floor = 1_000_000_000_000u64;
    let span = i64::MAX.unsigned_abs() - floor;
    let id = floor + rng.next_u64() % span;
    let mut bytes = [0u8; 20];
    rng.fill_bytes(&mut bytes);
    (id.to_string(), bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What a check of the channel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    Alive,
    Renewed,
    /// Zoho no longer had it (expired, deleted): enabled again under the same id and token.
    Reenabled,
}

pub fn load(steps: &Steps<'_>, key: &str) -> Option<ChannelState> {
    let bytes = steps.runtime.kv().get(&steps.namespace, BUCKET, key).ok()??;
    serde_json::from_slice(&bytes).ok()
}

pub fn save(steps: &Steps<'_>, key: &str, state: &ChannelState) -> Result<()> {
    let text = serde_json::to_vec(state)?;
    steps.runtime.kv().set(&steps.namespace, BUCKET, key, &text).map_err(|e| anyhow::anyhow!("the key-value store did not keep the watch's state: {e:?}"))
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The renewal margin for a channel living `expiry_minutes`: a quarter of it, at least 5 min.
pub fn margin_s(expiry_minutes: u32) -> i64 {
    (i64::from(expiry_minutes) * 60 / 4).max(MIN_MARGIN_S)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Enables the channel: a new one (the component makes its id and token), or again the one
/// `state` names. Records its expiry and, the first time, where the sweeps start.
pub async fn enable(steps: &Steps<'_>, state: &mut ChannelState, reuse: bool, expiry_minutes: u32) -> Result<()> {
    let mut input = json!({ "events": state.events, "notify-url": state.notify_url, "expiry-minutes": expiry_minutes });
    if reuse {
        input["channel-id"] = json!(state.channel_id);
        input["token"] = json!(state.token);
    }
    let enabled = match steps.call("notifications-enable", &input).await? {
        Ok(value) => value,
        Err(error) => bail!("enabling the channel failed: {}", super::error_line(&error)),
    };
    let (Some(id), Some(token)) = (text(&enabled["channel_id"]), text(&enabled["token"])) else {
        bail!("enabling the channel answered no channel_id or token");
    };
    state.channel_id = id;
    state.token = token;
    state.channel_expiry = text(&enabled["channel_expiry"]);
    state.disabled = false;
    if state.since.is_none() {
        let zoho_now = enabled["server_time"].as_str().and_then(parse_iso);
        state.since = Some(format_iso(zoho_now.unwrap_or_else(|| unix_now().saturating_sub(HOST_CLOCK_MARGIN_S))));
    }
    Ok(())
}

/// Checks the channel by Zoho's clock: renews it when less than the margin is left, enables it
/// again when Zoho no longer lists it.
pub async fn keep_alive(steps: &Steps<'_>, state: &mut ChannelState, expiry_minutes: u32) -> Result<Kept> {
    let listed = match steps.call("notifications-list", &json!({ "channel-id": state.channel_id })).await? {
        Ok(value) => value,
        Err(error) if error["kind"] == "not-found" => json!({ "watch": [] }),
        Err(error) => bail!("listing the channel failed: {}", super::error_line(&error)),
    };
    let mine = listed["watch"].as_array().and_then(|channels| channels.iter().find(|c| text(&c["channel_id"]).as_deref() == Some(state.channel_id.as_str())));
    let Some(mine) = mine else {
        enable(steps, state, true, expiry_minutes).await?;
        return Ok(Kept::Reenabled);
    };
    let now = listed["server_time"].as_str().and_then(parse_iso).unwrap_or_else(unix_now);
    let expiry = mine["channel_expiry"].as_str().and_then(parse_iso);
    state.disabled = false;
    if state.since.is_none() {
        // Stored, then enabled by a start that stopped before Zoho's answer came back: the
        // sweeps start when it was enabled at the latest (its expiry less its lifetime), and
        // never after it was recorded: the lifetime the killed start asked for may not be this
        // start's (a restart with a shorter --expiry-minutes would start after the enable and
        // lose what changed while the watch was down).
        let by_expiry = expiry.map_or(now, |e| e.saturating_sub(i64::from(expiry_minutes).saturating_mul(60)));
        let enabled_by = state.recorded_at.map_or(by_expiry, |recorded| by_expiry.min(recorded)).min(now);
        state.since = Some(format_iso(enabled_by.saturating_sub(HOST_CLOCK_MARGIN_S)));
    }
    state.channel_expiry = text(&mine["channel_expiry"]).or(state.channel_expiry.take());
    // An expiry Zoho wrote unreadably is renewed: better a request too many than a lapse.
    let left = expiry.map_or(0, |e| e.saturating_sub(now));
    if left >= margin_s(expiry_minutes) {
        return Ok(Kept::Alive);
    }
    // Zoho's renewal (PATCH) must restate the notify URL and events: the state has them, so
    // the renewal is one request.
    let renewal = json!({ "channel-id": state.channel_id, "expiry-minutes": expiry_minutes, "notify-url": state.notify_url, "events": state.events });
    match steps.call("notifications-renew", &renewal).await? {
        Ok(renewed) => {
            state.channel_expiry = text(&renewed["channel_expiry"]).or(state.channel_expiry.take());
            Ok(Kept::Renewed)
        }
        // Gone between the listing and the renewal (it expired just then).
        Err(error) if error["kind"] == "not-found" || error["code"] == "NOT_SUBSCRIBED" => {
            enable(steps, state, true, expiry_minutes).await?;
            Ok(Kept::Reenabled)
        }
        Err(error) => bail!("renewing the channel failed: {}", super::error_line(&error)),
    }
}

/// Stops the channel at Zoho. The state is kept: a restart enables the same id and token.
pub async fn disable(steps: &Steps<'_>, state: &mut ChannelState) -> Result<()> {
    match steps.call("notifications-disable", &json!({ "channel-ids": [state.channel_id] })).await? {
        Ok(_) => {
            state.disabled = true;
            Ok(())
        }
        Err(error) => bail!("disabling channel {} failed: {}", state.channel_id, super::error_line(&error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_a_quarter_of_the_lifetime_and_at_least_five_minutes() {
        assert_eq!(margin_s(10_080), 42 * 3600);
        assert_eq!(margin_s(1440), 6 * 3600);
        assert_eq!(margin_s(60), 15 * 60);
        assert_eq!(margin_s(10), 5 * 60);
        assert_eq!(margin_s(u32::MAX), i64::from(u32::MAX) * 15);
    }

    #[test]
    fn new_identities_are_zoho_shaped_and_differ() {
        let (id, token) = new_identity();
        assert!(id.len() >= 13 && id.parse::<i64>().is_ok_and(|n| n >= 1_000_000_000_000), "{id}");
        assert!(token.len() == 40 && token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
        assert_ne!(new_identity(), (id, token));
    }

    #[test]
    fn a_successor_keeps_each_module_both_watch_where_it_was() {
        let modules = super::super::flags::events(&["Leads.all".to_string(), "Deals.edit".to_string(), "Calls.create".to_string()]).unwrap();
        let previous = ChannelState {
            channel_id: "1000000000001".into(),
            events: vec!["Contacts.create".into(), "Deals.create".into(), "Leads.create".into()],
            since: Some("2026-01-01T00:00:00+00:00".into()),
            swept: ["Leads".to_string(), "Contacts".to_string()].into(),
            starts: [("Deals".to_string(), "2025-12-01T00:00:00+00:00".to_string())].into(),
            ..ChannelState::default()
        };
        let next = ChannelState::successor(Some(&previous), super::super::flags::zoho_events(&modules), "https://h.example/z", &modules);
        assert_eq!(next.swept, ["Leads".to_string()].into(), "Leads continues from its cursor; Contacts is no longer watched");
        assert_eq!(next.start_of("Deals").as_deref(), Some("2025-12-01T00:00:00+00:00"), "Deals was never swept: it starts where it did");
        assert_eq!(next.start_of("Calls"), None, "Calls is new: it starts with the new channel");
        assert!(next.since.is_none() && next.disabled && next.channel_id != previous.channel_id);
        let fresh = ChannelState::successor(None, vec!["Leads.all".into()], "https://h.example/z", &modules);
        assert!(fresh.swept.is_empty() && fresh.starts.is_empty());
    }
}
