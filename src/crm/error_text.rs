//! Zoho's per-record errors as a builder reads them: the message leads with the field to fix,
//! taken from `details` (`Last_Name is required`, `Email: invalid data (expects an email
//! address)`), and Zoho's own words follow where they add anything. Zoho's code stays in the
//! error's `code` and its details in `details`, so nothing Zoho said is lost.
//!
//! The details' members are those of the v8 error schemas (zoho/crm-oas `record.json`:
//! `api_name`, `json_path`, `expected_data_type`, `maximum_length`, `reason`, `id`).

use crate::error::ErrorKind;
// Zoho's words are cut for display only after redaction: a secret cut in half (a details member
// echoing the token) would no longer be found by the redaction at the boundary.
use crate::redact::shown;
use serde_json::Value;
use std::borrow::Cow;

/// A record id Zoho does not know: the same situation as get-record's empty answer, so the same
/// kind for every action. Zoho words it several ways across operations (record.json,
/// related_records.json, notes.json enums; the deleteRecord and uploadAttachment examples); a malformed id never reaches Zoho (ids are checked
/// before sending), so an id Zoho calls invalid is one it does not have.
pub fn is_unknown_id(code: Option<&str>, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    code == Some("INVALID_DATA") && ["id given seems to be invalid", "given id seems to be invalid", "invalid record id"].iter().any(|w| message.contains(w))
}

/// The kind for an error item, [`is_unknown_id`] read as not found.
pub fn kind(kind: ErrorKind, code: Option<&str>, message: &str) -> ErrorKind {
    if is_unknown_id(code, message) {
        ErrorKind::NotFound
    } else {
        kind
    }
}

/// Zoho's message with the field it is about put first, when `details` names one.
pub fn lead(code: Option<&str>, message: &str, details: Option<&Value>) -> String {
    let field = details.and_then(|d| d.get("api_name")).and_then(Value::as_str).filter(|f| !f.is_empty() && f.len() <= 100);
    let record = details.and_then(|d| d.get("json_path")).and_then(Value::as_str).and_then(record_number);
    // A missing key is named whatever it belongs to; other errors lead with the field only when
    // it is a record's (a path into the records sent, `$.data[...]`): the message of a query
    // parameter's or a setting's error (page_token, a watch's module) already says what it is about.
    let on_record = field.filter(|_| record_path(details));
    let said = match (code, field, on_record) {
        (Some("MANDATORY_NOT_FOUND"), Some(field), _) => format!("{field} is required"),
        (Some("INVALID_DATA"), _, Some(field)) => {
            let expected = details.and_then(|d| d.get("expected_data_type")).and_then(Value::as_str);
            let longest = details.and_then(|d| d.get("maximum_length")).and_then(|m| m.as_str().map(str::to_string).or_else(|| m.as_u64().map(|n| n.to_string())));
            let supported = details.and_then(|d| d.get("supported_values")).and_then(Value::as_array).map(|values| choices(values));
            match (supported, longest, expected) {
                (Some(supported), _, _) => format!("{field}: {message} (one of {supported})"),
                (None, Some(longest), _) => format!("{field}: {message} (its limit is {})", shown(&longest, 20)),
                (None, None, Some(expected)) => format!("{field}: {message} (expects {})", expectation(expected)),
                (None, None, None) if message.contains(field) => message.to_string(),
                (None, None, None) => format!("{field}: {message}"),
            }
        }
        (Some("DUPLICATE_DATA"), _, Some(field)) => {
            // Zoho's ids are 19 digits; anything longer is shown cut, redacted before it is cut.
            let existing = details.and_then(|d| d.get("duplicate_record")).and_then(|r| r.get("id")).and_then(Value::as_str).map(|id| shown(id, 40));
            match existing {
                Some(id) => format!("{field}: {message} (record {id} already has this value)"),
                None => format!("{field}: {message} (another record already has this value)"),
            }
        }
        (_, _, Some(field)) if !message.contains(field) => format!("{field}: {message}"),
        _ => message.to_string(),
    };
    match record {
        Some(n) => format!("record {n}: {said}"),
        None => said,
    }
}

/// Whether `details.json_path` points into the records sent (`$.data[...]`).
fn record_path(details: Option<&Value>) -> bool {
    details.and_then(|d| d.get("json_path")).and_then(Value::as_str).is_some_and(|p| p.starts_with("$.data["))
}

/// The 1-based record a `json_path` such as `$.data[1].Last_Name` points into, when it names one
/// past the first (a single record needs no number).
fn record_number(path: &str) -> Option<usize> {
    let index: usize = path.strip_prefix("$.data[")?.split(']').next()?.parse().ok()?;
    (index > 0).then(|| index.saturating_add(1))
}

/// Zoho's supported values, at most ten shown.
fn choices(values: &[Value]) -> String {
    let listed: Vec<Cow<str>> = values.iter().filter_map(Value::as_str).take(10).map(|v| shown(v, 60)).collect();
    let more = values.len().saturating_sub(listed.len());
    if more > 0 {
        format!("{}, and {more} more", listed.join(", "))
    } else {
        listed.join(", ")
    }
}

/// What a Zoho data type expects, in words.
fn expectation(data_type: &str) -> String {
    match data_type {
        "email" => "an email address".into(),
        "integer" | "bigint" | "long" => "a whole number".into(),
        "double" | "decimal" | "currency" | "percent" => "a number".into(),
        "boolean" => "true or false".into(),
        "date" => "a date, yyyy-MM-dd".into(),
        "datetime" => "a date-time, yyyy-MM-ddTHH:mm:ss±HH:mm".into(),
        "phone" => "a phone number".into(),
        "website" => "a URL".into(),
        "lookup" | "ownerlookup" | "jsonobject" => "an object such as {\"id\": \"...\"}".into(),
        "jsonarray" | "multiselectpicklist" | "multiselectlookup" | "subform" => "a list".into(),
        "picklist" => "one of the field's picklist values".into(),
        "text" | "textarea" | "string" => "text".into(),
        other => format!("a value of type {}", shown(other, 40)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_field_leads_and_zohos_words_follow() {
        let lead = |code, message, details: Value| lead(Some(code), message, Some(&details));
        assert_eq!(lead("MANDATORY_NOT_FOUND", "required field not found", json!({ "api_name": "Last_Name", "json_path": "$.data[0].Last_Name" })), "Last_Name is required");
        assert_eq!(lead("MANDATORY_NOT_FOUND", "required field not found", json!({ "api_name": "Last_Name", "json_path": "$.data[1].Last_Name" })), "record 2: Last_Name is required");
        assert_eq!(
            lead("INVALID_DATA", "invalid data", json!({ "api_name": "Email", "expected_data_type": "email", "json_path": "$.data[0].Email" })),
            "Email: invalid data (expects an email address)"
        );
        assert_eq!(
            lead("INVALID_DATA", "invalid data", json!({ "api_name": "First_Name", "maximum_length": "40", "json_path": "$.data[0].First_Name" })),
            "First_Name: invalid data (its limit is 40)"
        );
        let odd_type = lead("INVALID_DATA", "invalid data", json!({ "api_name": "Rating", "expected_data_type": "x\u{202e}".repeat(40), "json_path": "$.data[0].Rating" }));
        assert!(odd_type.starts_with("Rating: invalid data (expects a value of type x") && odd_type.len() < 100, "{odd_type}");
        assert_eq!(
            lead("DUPLICATE_DATA", "duplicate data", json!({ "api_name": "Email", "duplicate_record": { "id": "42" }, "json_path": "$.data[0].Email" })),
            "Email: duplicate data (record 42 already has this value)"
        );
        assert_eq!(lead("INVALID_DATA", "the id given seems to be invalid", json!({ "id": "7" })), "the id given seems to be invalid");
        assert_eq!(lead("X", "m", json!("not an object")), "m");
        assert_eq!(super::lead(Some("X"), "m", None), "m");
        assert_eq!(lead("X", "m", json!({ "api_name": "" })), "m");
        assert_eq!(lead("MANDATORY_NOT_FOUND", "mandatory key not found", json!({ "api_name": "select_query" })), "select_query is required");
        assert_eq!(lead("INVALID_DATA", "invalid data", json!({ "api_name": "tags", "json_path": "$.tags", "maximum_length": 3 })), "invalid data");
        assert_eq!(
            lead("INVALID_DATA", "invalid data", json!({ "api_name": "Lead_Status", "json_path": "$.data[0].Lead_Status", "supported_values": ["New", "Lost"] })),
            "Lead_Status: invalid data (one of New, Lost)"
        );
        assert_eq!(lead("EXPIRED_VALUE", "Page token expired", json!({ "api_name": "page_token", "json_path": "$.query.page_token" })), "Page token expired");
        assert_eq!(lead("X", "not allowed", json!({ "api_name": "Stage", "json_path": "$.data[0].Stage" })), "Stage: not allowed");
        assert_eq!(lead("X", "m", json!({ "json_path": "$.data[18446744073709551615].A" })), "record 18446744073709551615: m");
        assert_eq!(lead("X", "m", json!({ "json_path": "$.data[99999999999999999999].A" })), "m");
    }

    #[test]
    fn an_id_zoho_does_not_know_is_not_found_whatever_its_wording() {
        for message in ["invalid record id", "the id given seems to be invalid", "the id given seems to be invalid.", "the related id given seems to be invalid", "the given id seems to be invalid"] {
            assert_eq!(kind(ErrorKind::Zoho, Some("INVALID_DATA"), message), ErrorKind::NotFound, "{message}");
        }
        assert_eq!(kind(ErrorKind::Zoho, Some("INVALID_DATA"), "invalid data"), ErrorKind::Zoho);
        assert_eq!(kind(ErrorKind::Conflict, Some("DUPLICATE_DATA"), "the id given seems to be invalid"), ErrorKind::Conflict);
    }

    /// Zoho's `maximum_length`, `expected_data_type` or `supported_values` holding the token were
    /// cut short before the boundary's redaction saw them: the first bytes of the token passed.
    #[test]
    fn a_secret_in_details_is_redacted_before_it_is_cut() {
        let token = format!("1000.{}", "a1b2c3d4".repeat(20));
        crate::redact::install(crate::redact::Redactor::new([token.as_str()]));
        let path = "$.data[0].Rating";
        for details in [
            json!({ "api_name": "Rating", "json_path": path, "maximum_length": token }),
            json!({ "api_name": "Rating", "json_path": path, "expected_data_type": token }),
            json!({ "api_name": "Rating", "json_path": path, "supported_values": [token] }),
            json!({ "api_name": "Rating", "json_path": path, "duplicate_record": { "id": token } }),
        ] {
            let code = if details.get("duplicate_record").is_some() { "DUPLICATE_DATA" } else { "INVALID_DATA" };
            let said = crate::redact::step().text(&lead(Some(code), "invalid data", Some(&details))).into_owned();
            assert!(!said.contains(&token[..12]), "{said}");
        }
        crate::redact::install(crate::redact::Redactor::default());
    }

    /// A duplicate's id of a megabyte is not a megabyte of message.
    #[test]
    fn a_huge_duplicate_id_is_cut() {
        let details = json!({ "api_name": "Email", "json_path": "$.data[0].Email", "duplicate_record": { "id": "9".repeat(1 << 20) } });
        assert!(lead(Some("DUPLICATE_DATA"), "duplicate data", Some(&details)).len() < 200);
    }
}
