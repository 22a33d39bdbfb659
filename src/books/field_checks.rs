//! Books values checked against the fields Zoho's pages document (`documented_fields`) before a
//! create or update, so a misspelt field or a value outside Zoho's documented set is refused
//! with the field named, and nothing is sent.
//!
//! The tables are open (a page does not promise Books takes nothing else: custom fields, other
//! editions' fields), so only what the page says is wrong is refused, never a field it does not
//! list:
//! - a name that is a documented field's but for case and underscores (`Customer_ID`,
//!   `customerid` for `customer_id`): Books' names are exact, so such a key never reaches the
//!   field it was meant for;
//! - a value outside a field's `enum` (the tables carry `enum` only where the page's list is the
//!   whole set; a list the page says other editions extend is `examples`, not checked);
//! - a text longer than the field's documented `maxLength`.
//!
//! The same rules apply inside rows (`line_items`, `contact_persons`, ...), one level down.
//! Required fields are left to Books: its pages mark fields required that its own flows do
//! without, and Books names a missing one itself ("Please enter line_items"). Values of nested
//! resources (a parent given) and of resources no page is kept for are not checked. The call
//! option `check-fields: false` turns the checks off, as for CRM.

use crate::books::documented_fields::{documented_properties, Write};
use crate::client::Client;
use crate::error::{Result, ZohoError};
use crate::json;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Rows checked per array field, and problems named in the message (all are in `details`, up
/// to [`MAX_LISTED`]).
const MAX_ROWS: usize = 1_000;
const MAX_NAMED: usize = 10;
const MAX_LISTED: usize = 1_000;
/// Longest name or value shown in a message: the caller's values may be long.
const MAX_SHOWN: usize = 100;

fn folded(name: &str) -> String {
    name.to_lowercase().replace('_', "")
}

/// Checks one record's values for `record_type`, before anything is sent.
pub fn check(client: &Client, record_type: &str, nested: bool, write: Write, record: &[(String, &RawValue)]) -> Result<()> {
    if client.options.check_fields == Some(false) || nested {
        return Ok(());
    }
    let record_type = record_type.trim();
    let Some(fields) = documented_properties(record_type, write)? else { return Ok(()) };
    let mut problems = Vec::new();
    members_problems(&fields, record, "", &mut problems);
    if problems.is_empty() {
        return Ok(());
    }
    let total = problems.len();
    problems.truncate(MAX_LISTED);
    let said: Vec<String> = problems.iter().take(MAX_NAMED).map(|(field, why)| format!("{field} {why}")).collect();
    let more = match total.saturating_sub(said.len()) {
        0 => String::new(),
        more => format!("; and {more} more in details"),
    };
    let details: Vec<Value> = problems.iter().map(|(field, why)| json!({ "field": field, "problem": why })).collect();
    Err(ZohoError::invalid_input(format!(
        "{record_type}: {}{more}. Nothing was sent. Field names and values are as Zoho Books documents them (books-describe-resource lists them); the call option check-fields: false skips this check",
        said.join("; ")
    ))
    .with_details(json!({ "fields": details })))
}

/// The problems of one object's members against `fields`, each named with its place (`prefix`).
/// The documented names are folded once per object, so a write of many rows of many keys costs
/// one fold per key.
fn members_problems(fields: &Map<String, Value>, members: &[(String, &RawValue)], prefix: &str, problems: &mut Vec<(String, String)>) {
    let by_folded: HashMap<String, &str> = fields.keys().map(|name| (folded(name), name.as_str())).collect();
    let place = |name: &str| format!("{prefix}{}", crate::redact::shown(name, MAX_SHOWN));
    for (name, value) in members {
        match fields.get(name) {
            Some(field) => value_problems(field, value, &place(name), prefix.is_empty(), problems),
            None => {
                if let Some(near) = by_folded.get(&folded(name)) {
                    problems.push((place(name), format!("is not a field Zoho Books documents here (did you mean {near}?)")));
                }
            }
        }
    }
}

/// What is wrong with one value of a documented field: outside its set, too long, or (for
/// rows, at the top level only) a row's own members.
fn value_problems(field: &Value, value: &RawValue, place: &str, top: bool, problems: &mut Vec<(String, String)>) {
    if let Some(text) = json::raw_str(value) {
        if let Some(values) = field.get("enum").and_then(Value::as_array) {
            if !values.iter().any(|v| v.as_str() == Some(text.as_str())) {
                let listed: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                problems.push((place.to_string(), format!("is {:?}; Zoho Books takes one of {}", crate::redact::shown(&text, MAX_SHOWN), listed.join(", "))));
            }
        }
        if let Some(max) = field.get("maxLength").and_then(Value::as_u64) {
            let length = text.chars().count();
            if u64::try_from(length).is_ok_and(|l| l > max) {
                problems.push((place.to_string(), format!("is {length} characters; Zoho Books takes at most {max}")));
            }
        }
        return;
    }
    let Some(row_fields) = field.get("items").and_then(|items| items.get("properties")).and_then(Value::as_object) else { return };
    if !top || !value.get().trim_start().starts_with('[') {
        return;
    }
    // Rows that are not objects, or too many to read, are left to Books.
    let Ok(rows) = json::items(value.get().as_bytes(), MAX_ROWS) else { return };
    for (n, row) in rows.iter().enumerate() {
        if let Ok(members) = json::members(row.get(), json::MAX_KEYS_PER_RECORD) {
            members_problems(row_fields, &members, &format!("{place}[{}].", n + 1), problems);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn checked(record_type: &str, write: Write, values: &str) -> Result<()> {
        let fixture = Fixture::default();
        let client = fixture.client();
        let members = json::members(values, 1_000).unwrap();
        let outcome = check(&client, record_type, false, write, &members);
        assert!(fixture.transport.sent.borrow().is_empty());
        outcome
    }

    #[test]
    fn documented_names_values_and_lengths_pass_and_others_are_named() {
        let good = r#"{"customer_id":"1","line_items":[{"item_id":"2","line_item_category":"header","name":"Travel"}],"cf_po":"7","custom_fields":[{"customfield_id":"3","value":"x"}]}"#;
        assert!(checked("invoices", Write::Create, good).is_ok());
        let bad = format!(r#"{{"Customer_ID":"1","line_items":[{{"item_id":"2","line_item_category":"total","Rate":5}},7,{{"name":"{}"}}]}}"#, "n".repeat(101));
        let e = checked("invoices", Write::Create, &bad).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::InvalidInput);
        assert_eq!(
            e.message,
            "invoices: Customer_ID is not a field Zoho Books documents here (did you mean customer_id?); line_items[1].line_item_category is \"total\"; Zoho Books takes one of line_item, header, subtotal; line_items[1].Rate is not a field Zoho Books documents here (did you mean rate?); line_items[3].name is 101 characters; Zoho Books takes at most 100. Nothing was sent. Field names and values are as Zoho Books documents them (books-describe-resource lists them); the call option check-fields: false skips this check"
        );
        assert_eq!(e.details.as_ref().and_then(|d| d["fields"].as_array()).map(Vec::len), Some(4));
    }

    #[test]
    fn nested_undocumented_and_unchecked_values_are_left_to_books() {
        let fixture = Fixture::default();
        let client = fixture.client();
        let members = json::members(r#"{"Contact_Type":"supplier"}"#, 10).unwrap();
        assert!(check(&client, "comments", false, Write::Create, &members).is_ok());
        assert!(check(&client, "contacts", true, Write::Create, &members).is_ok());
        assert!(check(&client, "contacts", false, Write::Create, &members).is_err());
        let off = Fixture::with(crate::options::CallOptions { check_fields: Some(false), ..Default::default() });
        assert!(check(&off.client(), "contacts", false, Write::Create, &members).is_ok());
        // Values an edition extends (examples, not enum) and required fields are Books' to judge.
        assert!(checked("invoices", Write::Create, r#"{"line_items":[{"product_type":"capital_goods"}]}"#).is_ok());
        assert!(checked("contacts", Write::Update, r#"{"contact_type":"vendor","language_code":"xx"}"#).is_ok());
    }
}
