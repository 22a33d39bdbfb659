//! Zoho Books v3: records under `{api_domain}/books/v3`, every request with `organization_id`.

pub(crate) mod actions;
pub mod documented_fields;
pub(crate) mod documents;
pub mod envelope;
pub(crate) mod field_checks;
pub(crate) mod limits;
pub(crate) mod organization;
pub(crate) mod records;
pub mod resources;
pub mod sweep;
