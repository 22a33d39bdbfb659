//! A bulk read job's `criteria`, checked before anything is sent.
//!
//! Zoho's "Create Bulk Read job (Bulk Export)" page (v8,
//! https://www.zoho.com/crm/developer/docs/api/v8/bulk-read/create-job.html) and `bulk_read.json`
//! (`Criteria`): a condition is `{"api_name","comparator","value"}`, a group is
//! `{"group_operator":"and"|"or","group":[...]}` of conditions or groups; comparators are the
//! fourteen of the file's enum; `in`/`not_in` take a list of values and `between`/`not_between`
//! a list of two; at most 25 conditions in all (Zoho's `CRITERIA_LIMIT_EXCEEDED`). Date-time
//! values are ISO 8601 with an offset (`2024-01-01T00:00:00+05:30`), as Zoho's samples write
//! `Modified_Time`. Nesting deeper than [`MAX_DEPTH`] is our own bound (Zoho's pages name none).

use crate::error::{Result, ZohoError};
use serde_json::{Map, Value};

/// Zoho's comparators (`bulk_read.json`, `Criteria.comparator`).
pub const COMPARATORS: [&str; 14] =
    ["equal", "not_equal", "in", "not_in", "less_than", "less_equal", "greater_than", "greater_equal", "contains", "not_contains", "starts_with", "ends_with", "between", "not_between"];
/// Conditions one job's criteria may hold (Zoho's create-job page).
pub const MAX_CONDITIONS: usize = 25;
/// Groups inside groups: ours, far above any real filter.
pub const MAX_DEPTH: usize = 8;
/// Longest criteria text read.
pub const MAX_CRITERIA_BYTES: usize = 64 * 1024;
/// System date-time fields whose values must be ISO 8601 with an offset.
const DATE_TIME_FIELDS: [&str; 3] = ["Modified_Time", "Created_Time", "Last_Activity_Time"];

/// The criteria text as the JSON Zoho is sent, or the reason it would be refused.
pub fn parse(text: &str) -> Result<Value> {
    if text.len() > MAX_CRITERIA_BYTES {
        return Err(invalid(format!("is {} bytes; at most {MAX_CRITERIA_BYTES} are read", text.len())));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| invalid(format!("is not JSON: {e}")))?;
    let mut conditions = 0;
    check(&value, 0, &mut conditions)?;
    Ok(value)
}

fn invalid(why: impl std::fmt::Display) -> ZohoError {
    ZohoError::invalid_input(format!(
        "criteria {why}. Give one condition {{\"api_name\":\"Modified_Time\",\"comparator\":\"greater_than\",\"value\":\"2024-01-01T00:00:00+00:00\"}} or a group {{\"group_operator\":\"and\",\"group\":[...]}}"
    ))
}

fn check(node: &Value, depth: usize, conditions: &mut usize) -> Result<()> {
    let Value::Object(node) = node else { return Err(invalid("holds a part that is not a JSON object")) };
    if depth > MAX_DEPTH {
        return Err(invalid(format!("nests groups more than {MAX_DEPTH} deep")));
    }
    if let Some(unknown) = node.keys().find(|k| !["api_name", "comparator", "value", "group_operator", "group", "type", "field"].contains(&k.as_str())) {
        return Err(invalid(format!("has a key {unknown:?} Zoho does not know")));
    }
    if node.contains_key("group") || node.contains_key("group_operator") {
        return check_group(node, depth, conditions);
    }
    *conditions += 1;
    if *conditions > MAX_CONDITIONS {
        return Err(invalid(format!("holds more than {MAX_CONDITIONS} conditions, Zoho's limit for a bulk read job")));
    }
    check_condition(node)
}

fn check_group(node: &Map<String, Value>, depth: usize, conditions: &mut usize) -> Result<()> {
    match node.get("group_operator").and_then(Value::as_str) {
        Some("and" | "or") => {}
        other => return Err(invalid(format!("has a group whose group_operator is {other:?}; Zoho takes \"and\" or \"or\""))),
    }
    let Some(group) = node.get("group").and_then(Value::as_array) else { return Err(invalid("has a group_operator without a group list")) };
    if group.len() < 2 {
        return Err(invalid("has a group of fewer than two parts; give a lone condition without a group"));
    }
    if node.contains_key("api_name") || node.contains_key("comparator") {
        return Err(invalid("mixes a group with a condition's keys in one object"));
    }
    group.iter().try_for_each(|part| check(part, depth + 1, conditions))
}

fn check_condition(node: &Map<String, Value>) -> Result<()> {
    let api_name = node.get("api_name").and_then(Value::as_str).ok_or_else(|| invalid("has a condition without api_name"))?;
    let name_ok = !api_name.is_empty() && api_name.len() <= 100 && api_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$');
    if !name_ok {
        return Err(invalid(format!("names {api_name:?}, which is not a field API name")));
    }
    let comparator = node.get("comparator").and_then(Value::as_str).ok_or_else(|| invalid(format!("has a condition on {api_name} without comparator")))?;
    if !COMPARATORS.contains(&comparator) {
        return Err(invalid(format!("compares {api_name} with {comparator:?}; Zoho's comparators are {}", COMPARATORS.join(", "))));
    }
    let value = node.get("value").ok_or_else(|| invalid(format!("has a condition on {api_name} without value")))?;
    let values: Vec<&Value> = match (comparator, value) {
        ("in" | "not_in", Value::Array(list)) if !list.is_empty() => list.iter().collect(),
        ("in" | "not_in", _) => return Err(invalid(format!("gives {comparator} on {api_name} a value that is not a non-empty list"))),
        ("between" | "not_between", Value::Array(list)) if list.len() == 2 => list.iter().collect(),
        ("between" | "not_between", _) => return Err(invalid(format!("gives {comparator} on {api_name} a value that is not a list of two"))),
        (_, one) => vec![one],
    };
    for value in values {
        if !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
            return Err(invalid(format!("gives {api_name} a value that is not a text, number or boolean")));
        }
        if DATE_TIME_FIELDS.contains(&api_name) && !is_date_time(value) {
            return Err(invalid(format!("gives {api_name} the value {value}; Zoho takes ISO 8601 date-times with an offset, e.g. 2024-01-01T00:00:00+00:00")));
        }
    }
    Ok(())
}

/// `2024-01-01T00:00:00+05:30` (or `Z`): a date-time with seconds and an offset.
fn is_date_time(value: &Value) -> bool {
    let Some(text) = value.as_str() else { return false };
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| b.get(range).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let Some(offset) = text.get(19..).filter(|_| shape) else { return false };
    offset == "Z" || (offset.len() == 6 && matches!(b[19], b'+' | b'-') && digits(20..22) && b[22] == b':' && digits(23..25))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_time_conditions_and_groups_pass_as_given() {
        let one = r#"{"api_name":"Modified_Time","comparator":"greater_than","value":"2024-01-01T00:00:00+05:30"}"#;
        assert_eq!(parse(one).unwrap()["comparator"], "greater_than");
        let group = r#"{"group_operator":"and","group":[{"api_name":"Modified_Time","comparator":"between","value":["2024-01-01T00:00:00Z","2024-02-01T00:00:00-07:00"]},{"api_name":"Lead_Source","comparator":"in","value":["Web","Ads"]}]}"#;
        assert!(parse(group).is_ok());
    }

    #[test]
    fn shapes_comparators_and_limits_zoho_refuses_are_refused_here() {
        let refused = |text: &str| parse(text).unwrap_err().message;
        assert!(refused(r#"{"api_name":"Email","comparator":"like","value":"x"}"#).contains("Zoho's comparators"));
        assert!(refused(r#"{"api_name":"Modified_Time","comparator":"greater_than","value":"yesterday"}"#).contains("ISO 8601"));
        assert!(refused(r#"{"api_name":"Modified_Time","comparator":"greater_than","value":"2024-01-01T00:00:00"}"#).contains("ISO 8601"));
        assert!(refused(r#"{"api_name":"A","comparator":"between","value":[1]}"#).contains("list of two"));
        assert!(refused(r#"{"api_name":"A","comparator":"in","value":[]}"#).contains("non-empty list"));
        assert!(refused(r#"{"group_operator":"xor","group":[]}"#).contains("group_operator"));
        assert!(refused(r#"{"group_operator":"and","group":[{"api_name":"A","comparator":"equal","value":1}]}"#).contains("fewer than two"));
        assert!(refused(r#"{"api_name":"A","comparator":"equal","value":{"x":1}}"#).contains("not a text"));
        assert!(refused(r#"[1]"#).contains("not a JSON object"));
        assert!(refused("nope").contains("not JSON"));
        let many: Vec<String> = (0..26).map(|i| format!(r#"{{"api_name":"F{i}","comparator":"equal","value":1}}"#)).collect();
        assert!(refused(&format!(r#"{{"group_operator":"or","group":[{}]}}"#, many.join(","))).contains("more than 25"));
    }
}
