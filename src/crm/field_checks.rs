//! Values checked against the module's field metadata before a create, update or upsert, so a
//! misspelt field is refused with its name instead of coming back `SUCCESS` with the value
//! silently dropped by Zoho. What is checked, per record: unknown field names, values of the
//! wrong JSON type, picklist values outside the field's list, texts longer than the field's
//! length, read-only fields given a value, and, on a create, mandatory fields missing. Every
//! bad field of every record is named in one `invalid-input`, and nothing is sent.
//!
//! The metadata is `/settings/fields` as describe-module reads it (one call per module an hour,
//! cached). A token that may not read it (no `ZohoCRM.settings.fields.READ`) leaves the checks
//! to Zoho, and that is remembered for the hour so no write pays a refused call. The call option
//! `check-fields: false` turns the checks off for callers who know better (a picklist Zoho does
//! not restrict, a field added in the last hour).

use crate::client::Client;
use crate::crm::coql_fields::described_if_allowed;
use crate::crm::fields::FieldDescription;
use crate::error::{Result, ZohoError};
use crate::json;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// The write the values are for: mandatory fields are required only when a record is created.
#[derive(Clone, Copy, PartialEq)]
pub enum Write {
    Create,
    Update,
    Upsert,
}

/// Keys a record may carry that are not fields of the module's metadata: the record's id, and
/// the members Zoho's write pages document beside the fields (`Tag`, `Layout`, `Territories`,
/// `$`-prefixed controls such as `$append_values`).
const NOT_FIELDS: [&str; 4] = ["id", "Tag", "Layout", "Territories"];

/// Bad fields named in the message (all are in `details`, up to [`MAX_LISTED`]).
const MAX_NAMED: usize = 10;
const MAX_LISTED: usize = 1_000;

pub fn check(client: &Client, module: &str, records: &[String], write: Write) -> Result<()> {
    if client.options.check_fields == Some(false) {
        return Ok(());
    }
    let Some(described) = described_if_allowed(client, module)? else { return Ok(()) };
    let mut problems = Vec::new();
    for (n, record) in records.iter().enumerate() {
        let members = json::members(record, json::MAX_KEYS_PER_RECORD).map_err(|e| ZohoError::invalid_input(format!("values: {e}")))?;
        for (field, why) in record_problems(&described, &members, write) {
            if problems.len() < MAX_LISTED {
                problems.push((n, field, why));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let several = records.len() > 1;
    let said: Vec<String> = problems.iter().take(MAX_NAMED).map(|(n, field, why)| if several { format!("record {}: {field} {why}", n + 1) } else { format!("{field} {why}") }).collect();
    let more = problems.len().saturating_sub(said.len());
    let more = if more > 0 { format!("; and {more} more in details") } else { String::new() };
    let details: Vec<Value> = problems.iter().map(|(n, field, why)| json!({ "record": n + 1, "field": field, "problem": why })).collect();
    Err(ZohoError::invalid_input(format!(
        "{module}: {}{more}. Nothing was sent. Field names are API names (crm-describe-module lists them); the call option check-fields: false skips this check",
        said.join("; ")
    ))
    .with_details(json!({ "fields": details })))
}

/// What is wrong with one record's values, field by field.
fn record_problems(described: &[FieldDescription], members: &[(String, &RawValue)], write: Write) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (name, value) in members {
        if name.starts_with('$') || NOT_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let Some(field) = described.iter().find(|f| f.api_name == *name) else {
            problems.push((name.clone(), unknown(described, name)));
            continue;
        };
        if let Some(why) = value_problem(field, value) {
            problems.push((name.clone(), why));
        }
    }
    if write == Write::Create {
        for field in described.iter().filter(|f| f.required && !f.read_only) {
            let given = members.iter().any(|(name, value)| *name == field.api_name && !is_empty(value));
            if !given {
                problems.push((field.api_name.clone(), "is required to create a record".to_string()));
            }
        }
    }
    problems
}

/// "is not a field of the module", with the field of the same name in another case when there is one.
fn unknown(described: &[FieldDescription], name: &str) -> String {
    let folded = |s: &str| s.to_lowercase().replace('_', "");
    match described.iter().find(|f| folded(&f.api_name) == folded(name)) {
        Some(near) => format!("is not a field of the module (did you mean {}?)", near.api_name),
        None => "is not a field of the module".to_string(),
    }
}

fn is_empty(value: &RawValue) -> bool {
    matches!(value.get().trim(), "null" | "\"\"")
}

/// Why `value` cannot go into `field`, when it cannot.
fn value_problem(field: &FieldDescription, value: &RawValue) -> Option<String> {
    let raw = value.get().trim();
    if field.read_only {
        return Some(format!("is read-only ({}): leave it out", field.data_type));
    }
    if raw == "null" {
        return None;
    }
    let first = raw.as_bytes().first().copied().unwrap_or(b'n');
    let text = (first == b'"').then(|| json::raw_str(value).unwrap_or_default());
    let is_number = matches!(first, b'-' | b'0'..=b'9');
    let kind = json::kind_of(raw);
    match field.data_type.as_str() {
        "text" | "textarea" | "email" | "phone" | "website" | "autonumber" => {
            let Some(text) = text else { return Some(format!("expects text, not {kind}")) };
            let length = text.chars().count();
            if let Some(max) = field.max_length.filter(|m| length > *m as usize) {
                return Some(format!("is {length} characters; the field takes at most {max}"));
            }
            if field.data_type == "email" && !text.is_empty() && !text.contains('@') {
                return Some("expects an email address".to_string());
            }
            None
        }
        "picklist" => {
            let Some(text) = text else { return Some(format!("expects one of its picklist values, not {kind}")) };
            picklist_problem(field, &text)
        }
        "multiselectpicklist" => {
            if first != b'[' {
                return Some(format!("expects a list of its picklist values, not {kind}"));
            }
            let items: Vec<String> = serde_json::from_str(raw).ok()?;
            items.iter().find_map(|item| picklist_problem(field, item))
        }
        "integer" | "bigint" | "long" => {
            let whole = is_number && !raw.contains(['.', 'e', 'E']) || text.as_deref().is_some_and(|t| !t.is_empty() && t.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()));
            (!whole).then(|| format!("expects a whole number, not {kind}"))
        }
        "double" | "decimal" | "currency" | "percent" => {
            let number = is_number || text.as_deref().is_some_and(|t| t.parse::<f64>().is_ok_and(f64::is_finite));
            (!number).then(|| format!("expects a number, not {kind}"))
        }
        "boolean" => (!matches!(raw, "true" | "false")).then(|| format!("expects true or false, not {kind}")),
        "date" => match text {
            Some(t) if is_date(&t) => None,
            _ => Some("expects a date, yyyy-MM-dd".to_string()),
        },
        "datetime" => match text {
            Some(t) if t.len() >= 19 && is_date(&t[..10.min(t.len())]) && t.as_bytes().get(10) == Some(&b'T') => None,
            _ => Some("expects a date-time, yyyy-MM-ddTHH:mm:ss±HH:mm".to_string()),
        },
        "lookup" | "ownerlookup" => (!matches!(first, b'{' | b'"') && !is_number).then(|| format!("expects a record, {{\"id\": \"...\"}}, not {kind}")),
        "subform" | "multiselectlookup" | "fileupload" | "imageupload" => (first != b'[').then(|| format!("expects a list, not {kind}")),
        // Types not listed here are left to Zoho.
        _ => None,
    }
}

fn picklist_problem(field: &FieldDescription, value: &str) -> Option<String> {
    let values = field.picklist.as_deref().filter(|v| !v.is_empty())?;
    if values.iter().any(|v| v == value) {
        return None;
    }
    let shown: Vec<&str> = values.iter().map(String::as_str).take(10).collect();
    let more = if values.len() > shown.len() { format!(", and {} more", values.len() - shown.len()) } else { String::new() };
    Some(format!("has {:?}, not one of its picklist values ({}{more})", crate::redact::cut(value, 80), shown.join(", ")))
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10 && b[4] == b'-' && b[7] == b'-' && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::options::CallOptions;
    use crate::testing::Fixture;

    const FIELDS: &str = r#"{"fields":[
        {"api_name":"Last_Name","data_type":"text","length":10,"system_mandatory":true},
        {"api_name":"Email","data_type":"email","length":100},
        {"api_name":"Lead_Status","data_type":"picklist","pick_list_values":[{"actual_value":"New"},{"actual_value":"Contacted"}]},
        {"api_name":"Rating","data_type":"integer"},
        {"api_name":"Created_Time","data_type":"datetime","read_only":true},
        {"api_name":"Owner","data_type":"ownerlookup"}]}"#;

    fn refused(fixture: &Fixture, records: &[&str], write: Write) -> ZohoError {
        let records: Vec<String> = records.iter().map(|r| r.to_string()).collect();
        check(&fixture.client(), "Leads", &records, write).unwrap_err()
    }

    #[test]
    fn each_bad_field_is_named_with_why() {
        let fixture = Fixture::default();
        fixture.answer(200, FIELDS);
        let error = refused(&fixture, &[r#"{"Last_Name":"Doe","Titel":"CEO","Lead_Status":"Lost","Created_Time":"2024-01-01T00:00:00+00:00","Email":"x"}"#], Write::Update);
        assert_eq!(error.kind, ErrorKind::InvalidInput);
        assert_eq!(
            error.message,
            "Leads: Titel is not a field of the module; Lead_Status has \"Lost\", not one of its picklist values (New, Contacted); Created_Time is read-only (datetime): leave it out; Email expects an email address. Nothing was sent. Field names are API names (crm-describe-module lists them); the call option check-fields: false skips this check"
        );
        assert_eq!(error.details.as_ref().unwrap()["fields"][0], json!({ "record": 1, "field": "Titel", "problem": "is not a field of the module" }));
        // A second write in the hour reads the cached metadata: one call in all.
        let error = refused(&fixture, &[r#"{"Last_Name":"Doe-Smith-Jones"}"#, r#"{"last_name":"x","Rating":1.5}"#], Write::Create);
        assert_eq!(
            error.message,
            "Leads: record 1: Last_Name is 15 characters; the field takes at most 10; record 2: last_name is not a field of the module (did you mean Last_Name?); record 2: Rating expects a whole number, not a number; record 2: Last_Name is required to create a record. Nothing was sent. Field names are API names (crm-describe-module lists them); the call option check-fields: false skips this check"
        );
        assert_eq!(fixture.sent(), 1);
    }

    #[test]
    fn good_values_pass_and_mandatory_fields_are_asked_only_on_create() {
        let fixture = Fixture::default();
        fixture.answer(200, FIELDS);
        let client = fixture.client();
        let good = [r#"{"Last_Name":"Doe","Email":"a@b.c","Lead_Status":"New","Rating":"7","Owner":{"id":"1"},"id":"5","$append_values":{"x":true},"Tag":[{"name":"t"}]}"#.to_string()];
        check(&client, "Leads", &good, Write::Create).unwrap();
        check(&client, "Leads", &[r#"{"Email":"a@b.c"}"#.to_string()], Write::Update).unwrap();
        check(&client, "Leads", &[r#"{"Email":"a@b.c"}"#.to_string()], Write::Upsert).unwrap();
        assert!(check(&client, "Leads", &[r#"{"Email":"a@b.c"}"#.to_string()], Write::Create).is_err());
    }

    #[test]
    fn the_check_can_be_turned_off_and_a_token_without_the_scope_leaves_it_to_zoho_for_the_hour() {
        let off = Fixture::with(CallOptions { check_fields: Some(false), ..Default::default() });
        check(&off.client(), "Leads", &[r#"{"Titel":"x"}"#.to_string()], Write::Create).unwrap();
        assert_eq!(off.sent(), 0);

        let fixture = Fixture::default();
        fixture.answer(401, r#"{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}"#);
        let client = fixture.client();
        check(&client, "Leads", &[r#"{"Titel":"x"}"#.to_string()], Write::Create).unwrap();
        check(&client, "Leads", &[r#"{"Titel":"x"}"#.to_string()], Write::Create).unwrap();
        assert_eq!(fixture.sent(), 1, "the refusal is remembered");
    }

    #[test]
    fn hundreds_of_bad_fields_give_a_bounded_message() {
        let fixture = Fixture::default();
        fixture.answer(200, FIELDS);
        let record = format!("{{{}}}", (0..400).map(|i| format!("\"F{i}\":1")).collect::<Vec<_>>().join(","));
        let records = vec![record; 100];
        let error = check(&fixture.client(), "Leads", &records, Write::Update).unwrap_err();
        assert!(error.message.len() < 2_000, "{}", error.message.len());
        assert!(error.message.contains("and 990 more in details"), "{}", error.message);
        assert_eq!(error.details.unwrap()["fields"].as_array().unwrap().len(), MAX_LISTED);
    }
}
