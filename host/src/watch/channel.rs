//! The channel's life: enabled once, kept in key-value storage (id, token, expiry, where the
//! sweeps start), resumed by a restarted watch instead of a second channel, renewed by Zoho's
//! clock before it expires, enabled again under the same id and token when Zoho dropped it,
//! and disabled on exit.

use super::Steps;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use zoho_connector::zoho_time::{format_iso, parse_iso};

/// Where the host keeps a watch's state, apart from the component's own bucket.
pub const BUCKET: &str = "zoho-host/watch";
/// Least time left on a channel before it is renewed.
const MIN_MARGIN_S: i64 = 5 * 60;
/// Without Zoho's clock, how far back the first sweep starts (as the component's own margin).
const HOST_CLOCK_MARGIN_S: i64 = 15 * 60;

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
    #[serde(default)]
    pub last_sweep: Option<String>,
    /// Disabled on exit: a restart enables it again under the same id and token.
    #[serde(default)]
    pub disabled: bool,
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
}
