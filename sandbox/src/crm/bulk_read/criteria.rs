//! A bulk read job's criteria, checked as Zoho's create-job page and `bulk_read.json` describe
//! them (codes from `Bulk_Read_API_Exception` and the file's error schemas), and matched
//! against records.

use crate::state::Module;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// Zoho's comparators (`bulk_read.json`, `Criteria.comparator`).
const COMPARATORS: [&str; 14] =
    ["equal", "not_equal", "in", "not_in", "less_than", "less_equal", "greater_than", "greater_equal", "contains", "not_contains", "starts_with", "ends_with", "between", "not_between"];
/// At most 25 conditions (create-job page; `CRITERIA_LIMIT_EXCEEDED`).
const MAX_CONDITIONS: usize = 25;
/// Comparators for text; the ordering ones are for numbers and dates (create-job page's table).
const TEXT_ONLY: [&str; 4] = ["contains", "not_contains", "starts_with", "ends_with"];
const ORDERING: [&str; 6] = ["less_than", "less_equal", "greater_than", "greater_equal", "between", "not_between"];

/// A refusal: Zoho's code and details.
pub type Refusal = (&'static str, Value);

pub fn check(criteria: &Value, module: &Module) -> Result<(), Refusal> {
    let mut conditions = 0;
    check_node(criteria, module, &mut conditions)
}

fn check_node(node: &Value, module: &Module, conditions: &mut usize) -> Result<(), Refusal> {
    let Some(node) = node.as_object() else { return Err(("INVALID_CRITERIA", json!({}))) };
    if let Some(group) = node.get("group") {
        let operator = node.get("group_operator").and_then(Value::as_str);
        if !matches!(operator, Some("and" | "or")) {
            return Err(("GROUP_OPERATOR_NOT_SUPPORTED", json!({ "group_operator": operator })));
        }
        let Some(parts) = group.as_array().filter(|p| p.len() >= 2) else { return Err(("AMBIGUOUS_GROUP_IN_CRITERIA", json!({}))) };
        return parts.iter().try_for_each(|p| check_node(p, module, conditions));
    }
    *conditions += 1;
    if *conditions > MAX_CONDITIONS {
        return Err(("CRITERIA_LIMIT_EXCEEDED", json!({ "limit": MAX_CONDITIONS })));
    }
    let api_name = node.get("api_name").and_then(Value::as_str).ok_or(("INVALID_CRITERIA", json!({})))?;
    let comparator = node.get("comparator").and_then(Value::as_str).ok_or(("INVALID_CRITERIA", json!({ "api_name": api_name })))?;
    let data_type = field_type(module, api_name).ok_or(("FIELD_IN_CRITERIA_NOT_AVAILABLE", json!({ "api_name": api_name })))?;
    if !COMPARATORS.contains(&comparator) {
        return Err(("INVALID_CRITERIA", json!({ "api_name": api_name, "comparator": comparator })));
    }
    let textual = !matches!(data_type, "integer" | "bigint" | "double" | "currency" | "percent" | "decimal" | "date" | "datetime" | "boolean");
    if (textual && ORDERING.contains(&comparator)) || (!textual && TEXT_ONLY.contains(&comparator)) || (data_type == "boolean" && comparator != "equal") {
        return Err(("FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE", json!({ "comparator": comparator, "api_name": api_name, "supported": supported(data_type) })));
    }
    let value = node.get("value").ok_or(("INVALID_CRITERIA", json!({ "api_name": api_name })))?;
    let values: Vec<&Value> = match (comparator, value) {
        ("in" | "not_in", Value::Array(v)) if !v.is_empty() => v.iter().collect(),
        ("between" | "not_between", Value::Array(v)) if v.len() == 2 => v.iter().collect(),
        ("in" | "not_in" | "between" | "not_between", _) | (_, Value::Array(_)) => return Err(("COMPARATOR_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE", json!({ "api_name": api_name }))),
        (_, one) => vec![one],
    };
    if data_type == "datetime" && values.iter().any(|v| v.as_str().and_then(time).is_none()) {
        return Err(("FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE", json!({ "api_name": api_name, "expected_data_type": "datetime" })));
    }
    Ok(())
}

fn supported(data_type: &str) -> Vec<&'static str> {
    match data_type {
        "boolean" => vec!["equal"],
        "integer" | "bigint" | "double" | "currency" | "percent" | "decimal" | "date" | "datetime" => COMPARATORS.iter().copied().filter(|c| !TEXT_ONLY.contains(c)).collect(),
        _ => COMPARATORS.iter().copied().filter(|c| !ORDERING.contains(c)).collect(),
    }
}

fn field_type<'a>(module: &'a Module, api_name: &str) -> Option<&'a str> {
    if api_name == "id" || api_name == "Id" {
        return Some("bigint");
    }
    module.fields.iter().find(|f| f.api_name == api_name).map(|f| f.data_type)
}

fn time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// Whether `record` matches (criteria already checked).
pub fn matches(criteria: &Value, record: &Map<String, Value>) -> bool {
    if let Some(parts) = criteria.get("group").and_then(Value::as_array) {
        let and = criteria.get("group_operator").and_then(Value::as_str) == Some("and");
        return if and { parts.iter().all(|p| matches(p, record)) } else { parts.iter().any(|p| matches(p, record)) };
    }
    let api_name = criteria.get("api_name").and_then(Value::as_str).unwrap_or_default();
    let comparator = criteria.get("comparator").and_then(Value::as_str).unwrap_or_default();
    let value = criteria.get("value").cloned().unwrap_or(Value::Null);
    let field = record.get(if api_name == "Id" { "id" } else { api_name }).cloned().unwrap_or(Value::Null);
    let field = field.get("id").cloned().unwrap_or(field);
    let order = |other: &Value| compare(&field, other);
    let list = || value.as_array().cloned().unwrap_or_default();
    let text = |v: &Value| v.as_str().map(str::to_lowercase).unwrap_or_else(|| v.to_string());
    match comparator {
        "equal" => order(&value) == Some(std::cmp::Ordering::Equal),
        "not_equal" => order(&value) != Some(std::cmp::Ordering::Equal),
        "in" => list().iter().any(|v| order(v) == Some(std::cmp::Ordering::Equal)),
        "not_in" => !list().iter().any(|v| order(v) == Some(std::cmp::Ordering::Equal)),
        "less_than" => order(&value) == Some(std::cmp::Ordering::Less),
        "less_equal" => matches!(order(&value), Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)),
        "greater_than" => order(&value) == Some(std::cmp::Ordering::Greater),
        "greater_equal" => matches!(order(&value), Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)),
        "between" | "not_between" => {
            let bounds = list();
            let inside = bounds.len() == 2 && order(&bounds[0]).is_some_and(|o| o.is_ge()) && order(&bounds[1]).is_some_and(|o| o.is_le());
            inside == (comparator == "between")
        }
        "contains" => text(&field).contains(&text(&value)),
        "not_contains" => !text(&field).contains(&text(&value)),
        "starts_with" => text(&field).starts_with(&text(&value)),
        "ends_with" => text(&field).ends_with(&text(&value)),
        _ => false,
    }
}

/// Times as instants, numbers as numbers, anything else as text.
fn compare(field: &Value, value: &Value) -> Option<std::cmp::Ordering> {
    if field.is_null() {
        return None;
    }
    if let (Some(a), Some(b)) = (field.as_str().and_then(time), value.as_str().and_then(time)) {
        return Some(a.cmp(&b));
    }
    let number = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
    if let (Some(a), Some(b)) = (number(field), number(value)) {
        return a.partial_cmp(&b);
    }
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    Some(text(field).to_lowercase().cmp(&text(value).to_lowercase()))
}
