//! Zoho CRM v8.

pub mod fields;
pub mod page_tokens;
pub mod records;
pub mod response;
