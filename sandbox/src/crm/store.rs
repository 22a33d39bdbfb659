//! Storing a new CRM record as Zoho does: the next id, the system fields (times and owner),
//! and the change the watching channels are told of.

use crate::accounts::account::owner;
use crate::clock::Clock;
use crate::crm::notifications::deliveries::{self, Operation};
use crate::state::Shared;
use serde_json::{json, Map, Value};

/// Stores a new record with its system fields and returns its id.
pub fn insert(shared: &Shared, module: &str, values: Map<String, Value>, at: chrono::DateTime<chrono::Utc>) -> u64 {
    let mut data = shared.data();
    let id = data.next_id;
    data.next_id += 1;
    let mut record = values;
    let time = Clock::zoho_time(at);
    record.insert("id".into(), json!(id.to_string()));
    record.insert("Created_Time".into(), json!(time));
    record.insert("Modified_Time".into(), json!(time));
    for f in ["Owner", "Created_By", "Modified_By"] {
        record.insert(f.into(), owner());
    }
    if let Some(m) = data.modules.get_mut(module) {
        m.records.insert(id, record);
        m.revision += 1;
        drop(data);
        deliveries::changed(shared, module, Operation::Insert, &id.to_string(), Map::new());
    }
    id
}
