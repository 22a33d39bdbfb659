//! Zoho CRM v8.

pub mod attachments;
pub mod convert;
pub mod coql;
pub mod coql_fields;
pub mod coql_limit;
pub mod deleted;
pub mod fields;
pub mod json_schema;
pub mod list_query;
pub mod modules;
pub mod notes;
pub mod page_tokens;
pub mod records;
pub mod related;
pub mod response;
pub mod search;
pub mod tags;
pub mod upsert;
