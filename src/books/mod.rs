//! Zoho Books v3: records under `{api_domain}/books/v3`, every request with `organization_id`.

pub mod actions;
pub mod documents;
pub mod envelope;
pub mod limits;
pub mod organization;
pub mod records;
pub mod resources;
