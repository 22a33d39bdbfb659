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
use crate::crm::fields::described_if_allowed;
use crate::crm::fields::FieldDescription;
use crate::crm::structured_values;
use crate::error::{Result, ZohoError};
use crate::json;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::HashMap;

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
/// Longest field name or value shown: Zoho's metadata is Zoho's to make long, and a required
/// field's name is repeated for every record, so an answer of 100 KB would be an error of 10 MB.
const MAX_SHOWN: usize = 100;

/// The module's fields by API name, and by their folded name for the near miss: built once per
/// check, as a write of 100 records of 400 names against 5,000 fields would otherwise fold every
/// field's name for every unknown name (seconds of CPU per step).
struct Described<'a> {
    fields: &'a [FieldDescription],
    by_name: HashMap<&'a str, &'a FieldDescription>,
    by_folded: HashMap<String, &'a str>,
}

fn folded(name: &str) -> String {
    name.to_lowercase().replace('_', "")
}

impl<'a> Described<'a> {
    fn new(fields: &'a [FieldDescription]) -> Self {
        let mut by_name = HashMap::new();
        let mut by_folded = HashMap::new();
        for f in fields {
            // The first field of a name is the one meant, as the list's order had it.
            by_name.entry(f.api_name.as_str()).or_insert(f);
            by_folded.entry(folded(&f.api_name)).or_insert(f.api_name.as_str());
        }
        Described { fields, by_name, by_folded }
    }
}

pub fn check(client: &Client, module: &str, records: &[String], write: Write) -> Result<()> {
    if client.options.check_fields == Some(false) {
        return Ok(());
    }
    let Some(described) = described_if_allowed(client, module)? else { return Ok(()) };
    let described = Described::new(&described);
    let mut problems = Vec::new();
    // Every problem is counted, only the first MAX_LISTED kept: the message says how many there are.
    let mut total = 0usize;
    for (n, record) in records.iter().enumerate() {
        let members = json::members(record, json::MAX_KEYS_PER_RECORD).map_err(|e| ZohoError::invalid_input(format!("values: {e}")))?;
        for (field, why) in record_problems(&described, &members, write) {
            total = total.saturating_add(1);
            if problems.len() < MAX_LISTED {
                problems.push((n, crate::redact::shown(&field, MAX_SHOWN).into_owned(), why));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let several = records.len() > 1;
    let said: Vec<String> = problems.iter().take(MAX_NAMED).map(|(n, field, why)| if several { format!("record {}: {field} {why}", n + 1) } else { format!("{field} {why}") }).collect();
    let more = total.saturating_sub(said.len());
    let more = match more {
        0 => String::new(),
        _ if total > problems.len() => format!("; and {more} more (the first {} in details)", problems.len()),
        _ => format!("; and {more} more in details"),
    };
    let details: Vec<Value> = problems.iter().map(|(n, field, why)| json!({ "record": n + 1, "field": field, "problem": why })).collect();
    Err(ZohoError::invalid_input(format!(
        "{module}: {}{more}. Nothing was sent. Field names are API names (crm-describe-module lists them); the call option check-fields: false skips this check",
        said.join("; ")
    ))
    .with_details(json!({ "fields": details })))
}

/// What is wrong with one record's values, field by field.
fn record_problems(described: &Described, members: &[(String, &RawValue)], write: Write) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (name, value) in members {
        if name.starts_with('$') || NOT_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let Some(field) = described.by_name.get(name.as_str()) else {
            problems.push((name.clone(), unknown(described, name)));
            continue;
        };
        if let Some(why) = value_problem(field, value) {
            problems.push((name.clone(), why));
        }
    }
    if write == Write::Create {
        for field in described.fields.iter().filter(|f| f.required && !f.read_only) {
            let given = members.iter().any(|(name, value)| *name == field.api_name && !is_empty(value));
            if !given {
                problems.push((field.api_name.clone(), "is required to create a record".to_string()));
            }
        }
    }
    problems
}

/// "is not a field of the module", with the field of the same name in another case when there is one.
fn unknown(described: &Described, name: &str) -> String {
    match described.by_folded.get(&folded(name)) {
        Some(near) => format!("is not a field of the module (did you mean {}?)", crate::redact::shown(near, MAX_SHOWN)),
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
        "text" | "textarea" | "email" | "phone" | "website" | "autonumber" | "profileimage" => {
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
        "multiselectpicklist" => match structured_values::multiselect_items(&parsed(raw)) {
            Ok(items) => items.iter().find_map(|item| picklist_problem(field, item)),
            Err(why) => Some(format!("{why}, not {kind}")),
        },
        "integer" | "bigint" | "long" => {
            // One sign at most, then at least one digit: "-" and "--5" are no numbers.
            let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
            let whole = is_number && !raw.contains(['.', 'e', 'E']) || text.as_deref().is_some_and(|t| digits(t.strip_prefix('-').unwrap_or(t)));
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
            // `get`, not a slice: byte 10 may fall inside a character of the caller's text.
            Some(t) if t.len() >= 19 && t.get(..10).is_some_and(is_date) && t.as_bytes().get(10) == Some(&b'T') && t.as_bytes().get(11..19).is_some_and(is_time) => None,
            _ => Some("expects a date-time, yyyy-MM-ddTHH:mm:ss±HH:mm".to_string()),
        },
        "lookup" | "ownerlookup" => structured_values::lookup_problem(&parsed(raw)).map(|why| format!("{why}, not {}", shown_value(raw))),
        "subform" => structured_values::subform_problem(&parsed(raw)),
        "fileupload" | "imageupload" => structured_values::upload_problem(&parsed(raw)).map(|why| format!("{why}, not {}", shown_value(raw))),
        "multiselectlookup" => (first != b'[').then(|| format!("expects a list, not {kind}")),
        // Types not listed here are left to Zoho.
        _ => None,
    }
}

/// A value as JSON (it was read as JSON already; `null` if it somehow is not).
fn parsed(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or(Value::Null)
}

/// The caller's value, cut short, for a message.
fn shown_value(raw: &str) -> String {
    crate::redact::shown(raw, 80).into_owned()
}

fn picklist_problem(field: &FieldDescription, value: &str) -> Option<String> {
    let values = field.picklist.as_deref().filter(|v| !v.is_empty())?;
    if values.iter().any(|v| v == value) {
        return None;
    }
    // Zoho's values are shown cut (redacted first), as each may be as long as Zoho makes it.
    let shown: Vec<String> = values.iter().take(10).map(|v| crate::redact::shown(v, MAX_SHOWN).into_owned()).collect();
    let more = if values.len() > shown.len() { format!(", and {} more", values.len() - shown.len()) } else { String::new() };
    Some(format!("has {:?}, not one of its picklist values ({}{more})", crate::redact::shown(value, 80), shown.join(", ")))
}

/// `HH:mm:ss` within a day (a leap second's 60 taken).
fn is_time(b: &[u8]) -> bool {
    let two = |at: usize| b.get(at..at + 2).filter(|d| d.iter().all(u8::is_ascii_digit)).map(|d| (d[0] - b'0') * 10 + (d[1] - b'0'));
    b.len() == 8 && b[2] == b':' && b[5] == b':' && two(0).is_some_and(|h| h < 24) && two(3).is_some_and(|m| m < 60) && two(6).is_some_and(|s| s <= 60)
}

/// `yyyy-MM-dd` naming a day of the calendar: 2024-02-30 or month 13 has the shape but is no date.
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    let shaped = b.len() == 10 && b[4] == b'-' && b[7] == b'-' && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    let number = |range: std::ops::Range<usize>| text.get(range).and_then(|t| t.parse::<u32>().ok()).unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    shaped && (1..=days).contains(&day)
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
        assert!(error.message.contains("and 39990 more (the first 1000 in details)"), "{}", error.message);
        assert_eq!(error.details.unwrap()["fields"].as_array().unwrap().len(), MAX_LISTED);
    }

    // --- Outside attacks ---

    /// A datetime whose 10th byte falls inside a character (`é` across bytes 9 and 10) was
    /// sliced at byte 10: a panic, a trap in the component.
    #[test]
    fn a_datetime_with_a_character_across_byte_ten_is_refused_not_a_panic() {
        let fixture = Fixture::default();
        fixture.answer(200, r#"{"fields":[{"api_name":"Due","data_type":"datetime"},{"api_name":"Day","data_type":"date"}]}"#);
        let client = fixture.client();
        for value in ["2024-01-0é:00:00+00:00", "2024-01-01é00:00:00", "2024-01-01T00:00:0é"] {
            let record = format!(r#"{{"Due":"{value}"}}"#);
            assert_eq!(check(&client, "Leads", &[record], Write::Update).unwrap_err().kind, ErrorKind::InvalidInput, "{value}");
        }
        check(&client, "Leads", &[r#"{"Due":"2024-02-29T23:59:59+05:30","Day":"2024-02-29"}"#.to_string()], Write::Update).unwrap();
        // Shapes that are no date: a day past the month's end, month 13, a leading '+'.
        for day in ["2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "+2024-01-01", "2024-1-01"] {
            let record = format!(r#"{{"Day":"{day}"}}"#);
            assert_eq!(check(&client, "Leads", &[record], Write::Update).unwrap_err().kind, ErrorKind::InvalidInput, "{day}");
        }
    }

    /// Text lengths count characters: an emoji or a combining mark is one, whatever its bytes
    /// or UTF-16 units, so a value Zoho takes is never refused; odd lengths mean no limit.
    #[test]
    fn lengths_count_characters_and_odd_lengths_set_no_limit() {
        let fixture = Fixture::default();
        fixture.answer(
            200,
            r#"{"fields":[{"api_name":"T","data_type":"text","length":4},{"api_name":"Z","data_type":"text","length":0},{"api_name":"N","data_type":"text","length":-1},{"api_name":"M","data_type":"text","length":4294967295},{"api_name":"B","data_type":"text","length":4294967296},{"api_name":"S","data_type":"text","length":"3"}]}"#,
        );
        let client = fixture.client();
        let long = "x".repeat(10_000);
        check(&client, "Leads", &[format!(r#"{{"T":"😀e\u0301é","Z":"{long}","N":"{long}","M":"{long}","B":"{long}","S":"{long}"}}"#)], Write::Update).unwrap();
        let error = check(&client, "Leads", &[r#"{"T":"😀😀😀😀😀"}"#.to_string()], Write::Update).unwrap_err();
        assert!(error.message.contains("T is 5 characters; the field takes at most 4"), "{}", error.message);
    }

    /// Whole numbers as text must be digits after at most one sign: "-" and "--5" were taken.
    #[test]
    fn whole_numbers_and_numbers_at_their_edges() {
        let fixture = Fixture::default();
        fixture.answer(200, r#"{"fields":[{"api_name":"I","data_type":"integer"},{"api_name":"D","data_type":"double"}]}"#);
        let client = fixture.client();
        for good in [r#"{"I":-9223372036854775808,"D":1.7976931348623157e308}"#, r#"{"I":"18446744073709551616","D":"-0.0"}"#, r#"{"I":"-5","D":5e-324}"#] {
            check(&client, "Leads", &[good.to_string()], Write::Update).unwrap();
        }
        for bad in [r#"{"I":"-"}"#, r#"{"I":"--5"}"#, r#"{"I":"5-"}"#, r#"{"I":1e3}"#, r#"{"I":""}"#, r#"{"D":"NaN"}"#, r#"{"D":"inf"}"#, r#"{"D":"1e400"}"#, r#"{"D":true}"#] {
            assert_eq!(check(&client, "Leads", &[bad.to_string()], Write::Update).unwrap_err().kind, ErrorKind::InvalidInput, "{bad}");
        }
    }

    /// `system_mandatory` on a read-only field asks for nothing (it cannot be given); odd
    /// `unique` shapes and flags as strings are not flags.
    #[test]
    fn a_mandatory_read_only_field_is_not_asked_for() {
        let fixture = Fixture::default();
        fixture.answer(200, r#"{"fields":[{"api_name":"Auto","data_type":"autonumber","system_mandatory":true},{"api_name":"Ro","data_type":"text","system_mandatory":true,"read_only":true},{"api_name":"F","data_type":"text","system_mandatory":"true","unique":[1]}]}"#);
        check(&fixture.client(), "Leads", &[r#"{"F":"x"}"#.to_string()], Write::Create).unwrap();
    }

    /// Zoho's names and picklist values are Zoho's to make long: one required field named with
    /// 100 KB (an answer of 100 KB) was named once per record, 100 times, in the details (10 MB
    /// of error from 100 KB of metadata); ten picklist values of 100 KB made a 1 MB message.
    #[test]
    fn long_names_and_values_from_the_metadata_give_a_bounded_error() {
        let long = "N".repeat(100_000);
        let fixture = Fixture::default();
        let values: Vec<String> = (0..10).map(|i| format!("{{\"actual_value\":\"{i}{long}\"}}")).collect();
        fixture.answer(
            200,
            &format!(r#"{{"fields":[{{"api_name":"{long}","data_type":"text","system_mandatory":true}},{{"api_name":"P","data_type":"picklist","pick_list_values":[{}]}}]}}"#, values.join(",")),
        );
        let records = vec![r#"{"P":"x"}"#.to_string(); 100];
        let error = check(&fixture.client(), "Leads", &records, Write::Create).unwrap_err();
        let details = serde_json::to_string(&error.details).unwrap();
        assert!(error.message.len() < 20_000, "{}", error.message.len());
        assert!(details.len() < 200_000, "{}", details.len());
    }

    /// A picklist value (or a field name) holding the access token is shown cut short: cut
    /// before redaction, its first bytes would pass the boundary's redaction (no whole copy left).
    #[test]
    fn a_secret_in_the_metadata_is_redacted_before_it_is_cut() {
        let token = format!("1000.{}", "a1b2c3d4".repeat(20));
        let mut fixture = Fixture::default();
        fixture.connection.access_token = Some(token.clone());
        let values: Vec<String> = (0..12).map(|i| format!("{{\"actual_value\":\"{i}{token}\"}}")).collect();
        fixture.answer(200, &format!(r#"{{"fields":[{{"api_name":"P","data_type":"picklist","pick_list_values":[{}]}}]}}"#, values.join(",")));
        let error = check(&fixture.client(), "Leads", &[r#"{"P":"x"}"#.to_string()], Write::Update).unwrap_err();
        let error = crate::redact::step().error(error);
        let out = format!("{} {}", error.message, error.details.unwrap_or_default());
        assert!(!out.contains(&token[..16]), "{out}");
    }

    /// 100 records of 400 unknown names against 5,000 described fields: the near-miss search
    /// folded every described name for every unknown one (200 million foldings).
    #[test]
    fn many_unknown_names_against_many_fields_stay_fast_and_the_count_is_true() {
        let fields: Vec<String> = (0..5_000).map(|i| format!("{{\"api_name\":\"Field_{i}\",\"data_type\":\"text\"}}")).collect();
        let fixture = Fixture::default();
        fixture.answer(200, &format!("{{\"fields\":[{}]}}", fields.join(",")));
        let record = format!("{{{}}}", (0..400).map(|i| format!("\"X{i}\":1")).collect::<Vec<_>>().join(","));
        let records = vec![record; 100];
        let started = std::time::Instant::now();
        let error = check(&fixture.client(), "Leads", &records, Write::Update).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        assert!(error.message.contains("and 39990 more"), "{}", error.message);
    }
}
