//! Zoho CRM v8.

pub(crate) mod attachments;
pub(crate) mod composite;
pub(crate) mod convert;
pub(crate) mod coql;
pub(crate) mod coql_fields;
pub(crate) mod coql_limit;
pub(crate) mod custom_views;
pub(crate) mod deleted;
pub(crate) mod error_text;
pub(crate) mod field_checks;
pub(crate) mod fields;
pub(crate) mod files;
pub(crate) mod find_or_create;
pub(crate) mod json_schema;
pub(crate) mod list_query;
pub(crate) mod many_records;
pub(crate) mod modules;
pub(crate) mod notes;
pub(crate) mod page_tokens;
pub(crate) mod records;
pub(crate) mod related;
pub(crate) mod related_lists;
pub mod response;
pub(crate) mod search;
pub(crate) mod send_mail;
pub(crate) mod settings;
pub(crate) mod structured_values;
pub(crate) mod tags;
pub(crate) mod upsert;
pub(crate) mod users;
// Connection test, relation links and notes beyond adding one.
pub(crate) mod connection_test;
pub(crate) mod related_links;
