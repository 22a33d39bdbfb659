//! Related Lists Metadata (v8, "Related Lists Metadata",
//! https://www.zoho.com/crm/developer/docs/api/v8/related-list-meta.html; related_lists.json):
//! `GET /crm/v8/settings/related_lists?module=` lists a module's related lists; their
//! `api_name`s are what Get Related Records takes.

use crate::client::Client;
use crate::crm::settings::module_settings;
use crate::error::Result;
use crate::wit::crm::ListRelatedListsInput;

/// Related lists one module may have: Zoho's standard ones and every lookup to it, many times over.
const MAX_RELATED_LISTS: usize = 1_000;

pub fn list_related_lists(client: &Client, input: &ListRelatedListsInput) -> Result<String> {
    module_settings(client, "related_lists", &input.record_type, MAX_RELATED_LISTS)
}
