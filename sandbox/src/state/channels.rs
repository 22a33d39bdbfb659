//! The notification channels the org keeps (`/crm/v8/actions/watch`), as stored state: what
//! a channel watches and which are alive by the clock. The API that edits them is
//! `crm/notifications/watch.rs`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// A channel as the sandbox keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub channel_id: String,
    pub events: Vec<String>,
    pub expiry: DateTime<Utc>,
    pub token: Option<String>,
    pub notify_url: String,
    pub return_affected_field_values: bool,
    pub notify_on_related_action: bool,
    pub fields: Option<Value>,
    /// `http://host` the channel was enabled through: the base of `resource_uri`.
    pub api_base: String,
}

impl Channel {
    /// Does the channel watch `event` (create, edit, delete) of `module`?
    pub fn watches(&self, module: &str, event: &str) -> bool {
        self.events.iter().any(|e| e.split_once('.').is_some_and(|(m, op)| m == module && (op == event || op == "all")))
    }

    /// The modules the events name, in the order first named.
    pub(crate) fn modules(&self) -> Vec<&str> {
        let mut modules: Vec<&str> = Vec::new();
        for module in self.events.iter().filter_map(|e| e.split_once('.').map(|(m, _)| m)) {
            if !modules.contains(&module) {
                modules.push(module);
            }
        }
        modules
    }
}

/// The org's channels by id.
#[derive(Default)]
pub struct Channels(Mutex<BTreeMap<i64, Channel>>);

impl Channels {
    /// The channels, with every expired one removed first.
    pub(crate) fn live(&self, now: DateTime<Utc>) -> MutexGuard<'_, BTreeMap<i64, Channel>> {
        let mut channels = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        channels.retain(|_, c| c.expiry > now);
        channels
    }
}
