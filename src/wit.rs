//! The WIT contract as Rust types, generated on every target: the actions take these records
//! directly, so native unit tests exercise the same types the component exports.

wit_bindgen::generate!({ path: "wit", world: "connector", generate_all });

pub use exports::zoho::connector::types;
pub use exports::zoho::connector::{books, bulk, crm, incremental, notifications, sync};
