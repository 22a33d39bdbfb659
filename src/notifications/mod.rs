//! Zoho CRM instant notifications (`/crm/v8/actions/watch`): channels that push record changes
//! to a notify URL, kept alive by renewing before they expire, and the parsing of what Zoho
//! delivers there (token and channel checked before anything is trusted or fetched).

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::wit::notifications::{DisableInput, EnableInput, ListInput, ParseInput, RenewInput};

fn not_built(what: &str) -> ZohoError {
    ZohoError::new(ErrorKind::Internal, format!("notifications {what} is not built yet"))
}

/// Enable a channel: `POST /crm/v8/actions/watch`.
pub fn enable(_client: &Client, _input: &EnableInput) -> Result<String> {
    Err(not_built("enable"))
}

/// Move a channel's expiry: `PATCH /crm/v8/actions/watch`.
pub fn renew(_client: &Client, _input: &RenewInput) -> Result<String> {
    Err(not_built("renew"))
}

/// Stop channels: `DELETE /crm/v8/actions/watch?channel_ids=...`.
pub fn disable(_client: &Client, _input: &DisableInput) -> Result<String> {
    Err(not_built("disable"))
}

/// The org's channels: `GET /crm/v8/actions/watch`.
pub fn list(_client: &Client, _input: &ListInput) -> Result<String> {
    Err(not_built("list"))
}

/// A delivery's module, operation and ids, after its token and channel are checked.
pub fn parse(_client: &Client, _input: &ParseInput) -> Result<String> {
    Err(not_built("parse"))
}
