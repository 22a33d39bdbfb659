//! Zoho CRM v8.

pub mod attachments;
pub mod coql;
pub mod fields;
pub mod list_query;
pub mod page_tokens;
pub mod records;
pub mod response;
