//! Zoho CRM v8: records and their related lists, COQL, search, upsert, lead conversion,
//! metadata and the notifications API; one module per concern.

pub mod attachments;
pub mod bulk_read;
pub mod bulk_write;
pub mod composite;
pub mod convert;
pub mod coql;
pub mod field_values;
pub mod files;
pub mod many_records;
pub mod metadata;
pub mod module_reach;
pub mod module_settings;
pub mod notes;
pub mod notifications;
pub mod record_count;
pub mod records;
pub mod related;
pub mod relations;
pub mod search;
pub mod send_mail;
pub mod standard_fields;
pub mod store;
pub mod tags;
pub mod upsert;
pub mod users;
