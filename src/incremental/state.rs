//! What a sweep keeps in the connection's storage, typed: the open sweep, the committed
//! cursor, each page's start key and boundary digests. Unreadable state counts as absent (a
//! fresh sweep), never as a panic; every stored number is read as u64 and used saturating.

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::validate;
use crate::zoho_time::parse_iso;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Pages `forget` deletes directly; a longer sweep's remaining page keys are the retention
/// sweep's (they belong to no open sweep any more).
const FORGET_PAGES: u64 = 10_000;

// The keys themselves are storage::keys' (one owner for every stored key).
pub use crate::storage::keys::{cursor as cursor_key, cursor_boundary as boundary_key, open_sweep as sweep_key, plan as plan_key, sweep_page as page_key};

/// Where slice `n` of a sliced sweep keeps its own walk: a scope of its own, so its state is
/// `incremental/<scope>/slice<n>/sweep` and its page keys live and expire like a sweep's.
pub fn slice_scope(scope: &str, n: u32) -> String {
    format!("{scope}/slice{n}")
}

/// An open sweep.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Sweep {
    /// Page size, fields and whether deletions are reported: a sweep read differently restarts.
    #[serde(default)]
    pub signature: String,
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub opened_at_ms: u64,
    /// The sweep's id (hex of the millisecond it began), naming its page keys.
    #[serde(default)]
    pub sweep: String,
    /// Pages whose end (the next page's start key) is known.
    #[serde(default)]
    pub fetched: u64,
    /// The sweep's upper bound: the server's `Date` at its first answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The cursor a commit of this sweep sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The last page holding records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_page: Option<u64>,
    /// Whether the sweep reports deleted ids: it then ends when the deleted feed is walked.
    #[serde(default)]
    pub include_deleted: bool,
    /// The page the deleted feed's walk ended on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_last_page: Option<u64>,
    /// The highest page served, for a step that names no page.
    #[serde(default)]
    pub served: u64,
    /// A slice's walk: the plan it belongs to (`<plan id>:<digest of its bounds>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// A first sweep read through export jobs: where the export stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk: Option<super::bulk_sweep::BulkState>,
}

impl Sweep {
    /// Every page read, the deleted feed included when the sweep reports it.
    pub fn finished(&self) -> bool {
        self.last_page.is_some() && (!self.include_deleted || self.deleted_last_page.is_some())
    }
}

/// The committed position.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub committed_at: Option<String>,
}

/// What the sweep's boundary window delivered: id → digest of the record's text as delivered.
pub type Boundary = BTreeMap<String, String>;

/// A position in the sweep's order: (Modified_Time as Zoho wrote it, id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Key {
    #[serde(rename = "t")]
    pub time: String,
    pub id: String,
}

impl Key {
    /// Both go into a query: a time must parse and an id must be a number.
    pub fn checked(time: &str, id: &str) -> Option<Key> {
        (parse_iso(time).is_some() && validate::record_id(id).is_ok()).then(|| Key { time: time.to_string(), id: id.to_string() })
    }

    pub fn after(&self) -> String {
        format!("(Modified_Time > '{t}' or (Modified_Time = '{t}' and id > {id}))", t = self.time, id = self.id)
    }

    pub fn up_to(&self) -> String {
        format!("(Modified_Time < '{t}' or (Modified_Time = '{t}' and id <= {id}))", t = self.time, id = self.id)
    }
}

/// A stored value of type `T`; absent when missing or unreadable.
pub fn load<T: for<'de> Deserialize<'de>>(client: &Client, key: &str) -> Result<Option<T>> {
    Ok(client.storage.get(key)?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

pub fn save<T: Serialize>(client: &Client, key: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| ZohoError::new(ErrorKind::Internal, format!("cannot encode {key}: {e}")))?;
    client.storage.set(key, &bytes)
}

pub fn load_key(client: &Client, key: &str) -> Result<Option<Key>> {
    Ok(load::<Key>(client, key)?.and_then(|k| Key::checked(&k.time, &k.id)))
}

/// Deletes a sweep's page keys (a bounded number; the retention sweep takes any rest).
pub fn forget(client: &Client, scope: &str, sweep: &Sweep) -> Result<()> {
    if sweep.sweep.is_empty() {
        return Ok(());
    }
    let pages = sweep.fetched.max(sweep.last_page.unwrap_or(0)).max(sweep.served).saturating_add(1).min(FORGET_PAGES);
    for n in 1..=pages {
        client.storage.delete(&page_key(scope, &sweep.sweep, "start", n))?;
        client.storage.delete(&page_key(scope, &sweep.sweep, "boundary", n))?;
    }
    Ok(())
}
