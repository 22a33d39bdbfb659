//! Zoho CRM instant notifications (`/crm/v8/actions/watch`): channels that push record changes
//! to a notify URL, kept alive by renewing before they expire, and the parsing of what Zoho
//! delivers there (token and channel checked before anything is trusted or fetched).

pub mod channel;
pub(crate) mod delivery;
pub(crate) mod token;
pub(crate) mod watch;

use crate::client::Client;
use crate::error::Result;
use crate::wit::notifications::{DisableInput, EnableInput, ListInput, ParseInput, RenewInput};

/// Enable a channel: `POST /crm/v8/actions/watch`.
pub fn enable(client: &Client, input: &EnableInput) -> Result<String> {
    watch::enable(client, input)
}

/// Move a channel's expiry: `PATCH /crm/v8/actions/watch`.
pub fn renew(client: &Client, input: &RenewInput) -> Result<String> {
    watch::renew(client, input)
}

/// Stop channels: `DELETE /crm/v8/actions/watch?channel_ids=...`.
pub fn disable(client: &Client, input: &DisableInput) -> Result<String> {
    watch::disable(client, input)
}

/// The org's channels: `GET /crm/v8/actions/watch`.
pub fn list(client: &Client, input: &ListInput) -> Result<String> {
    watch::list(client, input)
}

/// A delivery's module, operation and ids, after its token and channel are checked.
pub fn parse(client: &Client, input: &ParseInput) -> Result<String> {
    delivery::parse(client, input)
}
