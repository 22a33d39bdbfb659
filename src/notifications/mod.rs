//! Zoho CRM instant notifications (`/crm/v8/actions/watch`): channels that push record changes
//! to a notify URL, kept alive by renewing before they expire, and the parsing of what Zoho
//! delivers there (token and channel checked before anything is trusted or fetched).

pub mod channel;
pub(crate) mod delivery;
pub mod events;
pub(crate) mod token;
pub(crate) mod watch;

use crate::client::Client;
use crate::error::Result;
use crate::wit::notifications::{DisableInput, EnableInput, ListEventsInput, ListInput, ParseInput, RenewInput};

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

/// The events a channel can watch, from the org's modules: `GET /crm/v8/settings/modules`.
pub fn list_events(client: &Client, input: &ListEventsInput) -> Result<String> {
    events::list_events(client, input)
}

/// The org's channels: `GET /crm/v8/actions/watch`.
pub fn list(client: &Client, input: &ListInput) -> Result<String> {
    watch::list(client, input)
}

/// A delivery's module, operation and ids, after its token and channel are checked.
pub fn parse(client: &Client, input: &ParseInput) -> Result<String> {
    delivery::parse(client, input)
}
