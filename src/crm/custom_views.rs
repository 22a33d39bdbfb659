//! Custom Views Metadata (v8, "Custom View Metadata",
//! https://www.zoho.com/crm/developer/docs/api/v8/custom-view-meta.html; zoho/crm-oas
//! v8.0/custom_views.json): `GET /crm/v8/settings/custom_views?module=` lists a module's views
//! with an `info` (page, per_page, count, more_records, the default view's id); their `id`s are
//! what Get Records' `cvid` takes. Zoho's default page holds 200 views, the most it pages by.

use crate::client::Client;
use crate::crm::settings::module_settings;
use crate::error::Result;
use crate::wit::crm::ListCustomViewsInput;

/// Views on Zoho's first page (its default and largest `per_page`).
const MAX_CUSTOM_VIEWS: usize = 200;

pub fn list_custom_views(client: &Client, input: &ListCustomViewsInput) -> Result<String> {
    module_settings(client, "custom_views", &input.record_type, MAX_CUSTOM_VIEWS)
}
