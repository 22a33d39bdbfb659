//! Search Records: `GET /crm/v8/{module}/search` with exactly one of `criteria`, `email`,
//! `phone`, `word`. Criteria are Zoho's text, sanity-checked and sent as given, or a JSON object
//! of field to value turned into equals conditions joined with `and`, each value escaped as Zoho
//! requires (`\\(`, `\\)`, `\\,`, and the backslash itself).

use crate::client::{ApiCall, Client};
use crate::crm::records::MAX_FIELDS_PER_LIST;
use crate::crm::response::list_answer;
use crate::error::{Result, ZohoError};
use crate::http::Method;
use crate::json;
use crate::validate;
use crate::wit::crm::SearchRecordsInput;
use serde_json::value::RawValue;

/// Conditions one criteria may hold (Zoho's limit).
pub const MAX_CONDITIONS: usize = 10;
/// Longest criteria text sent: ten conditions with long values, far below a URL's limits.
pub const MAX_CRITERIA_BYTES: usize = 8 * 1024;
/// Longest email, phone or word searched for.
pub const MAX_TERM_CHARS: usize = 1000;
/// Records search reaches (page × per-page); beyond, Zoho refuses and COQL is the way.
pub const SEARCH_REACH: u64 = 2000;

pub fn search_records(client: &Client, input: &SearchRecordsInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let (name, value) = search_term(input)?;
    let per_page = validate::per_page(input.per_page)?;
    let page = validate::page(input.page)?;
    let reach = u64::from(page).saturating_mul(u64::from(per_page));
    if reach > SEARCH_REACH {
        return Err(ZohoError::invalid_input(format!(
            "page {page} of {per_page} reaches record {reach}; Zoho's search reaches only the first {SEARCH_REACH} matches: use a COQL Query (crm-coql-query, with all-rows) to read further"
        )));
    }
    let fields = match input.fields.as_deref() {
        Some(f) => validate::field_names(f)?,
        None => Vec::new(),
    };
    if fields.len() > MAX_FIELDS_PER_LIST {
        return Err(ZohoError::invalid_input(format!("fields names {} fields; Zoho takes at most {MAX_FIELDS_PER_LIST}", fields.len())));
    }
    let converted = choice("converted", input.converted.as_deref())?;
    let approved = choice("approved", input.approved.as_deref())?;
    let mut call = ApiCall::new(Method::Get, format!("/crm/v8/{module}/search")).query(name, value);
    if !fields.is_empty() {
        call = call.query("fields", fields.join(","));
    }
    if let Some(converted) = converted {
        call = call.query("converted", converted);
    }
    if let Some(approved) = approved {
        call = call.query("approved", approved);
    }
    call = call.query("page", page.to_string()).query("per_page", per_page.to_string());
    list_answer(&client.send(call)?, Some(page), per_page)
}

/// The one search parameter given, checked: its name and the value to send.
fn search_term(input: &SearchRecordsInput) -> Result<(&'static str, String)> {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|t| !t.trim().is_empty())
    }
    let terms = [("criteria", given(&input.criteria)), ("email", given(&input.email)), ("phone", given(&input.phone)), ("word", given(&input.word))];
    let named: Vec<(&'static str, &str)> = terms.iter().filter_map(|(n, v)| v.map(|v| (*n, v))).collect();
    match named.as_slice() {
        [("criteria", text)] => Ok(("criteria", criteria(text)?)),
        [(name, text)] => {
            let text = text.trim();
            if text.chars().count() > MAX_TERM_CHARS || text.contains(char::is_control) {
                return Err(ZohoError::invalid_input(format!("{name} must be one line of at most {MAX_TERM_CHARS} characters")));
            }
            Ok((name, text.to_string()))
        }
        [] => Err(ZohoError::invalid_input("give one of criteria, email, phone or word: Zoho searches by exactly one")),
        several => Err(ZohoError::invalid_input(format!(
            "give only one of criteria, email, phone or word (got {}): Zoho searches by exactly one",
            several.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// `true`, `false` or `both` for converted/approved; empty is not sent.
fn choice(what: &str, value: Option<&str>) -> Result<Option<&'static str>> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some("true")),
        Some("false") => Ok(Some("false")),
        Some("both") => Ok(Some("both")),
        Some(_) => Err(ZohoError::invalid_input(format!("{what} must be true, false or both"))),
    }
}

/// The criteria to send: a JSON object becomes equals-and criteria; text is checked and kept.
pub fn criteria(text: &str) -> Result<String> {
    if text.len() > MAX_CRITERIA_BYTES {
        return Err(ZohoError::invalid_input(format!("criteria is {} bytes; at most {MAX_CRITERIA_BYTES} are accepted", text.len())));
    }
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        from_object(trimmed)
    } else {
        checked_text(trimmed).map(str::to_string)
    }
}

/// `{"Field": value, ...}` as `((Field:equals:value)and(...))`.
fn from_object(text: &str) -> Result<String> {
    let members = json::input_object("criteria", text, MAX_CRITERIA_BYTES)?;
    if members.is_empty() {
        return Err(ZohoError::invalid_input("criteria names no field: give {\"Field\": \"value\", ...}"));
    }
    if members.len() > MAX_CONDITIONS {
        return Err(ZohoError::invalid_input(format!("criteria has {} conditions; Zoho's search takes at most {MAX_CONDITIONS}", members.len())));
    }
    let mut conditions = Vec::with_capacity(members.len());
    for (field, value) in &members {
        let names = validate::field_names(field)?;
        let [name] = names.as_slice() else {
            return Err(ZohoError::invalid_input(format!("criteria key {field:?} is not one field API name")));
        };
        conditions.push(format!("({name}:equals:{})", escape(&condition_value(name, value)?)));
    }
    Ok(match conditions.as_slice() {
        [one] => one.clone(),
        many => format!("({})", many.join("and")),
    })
}

/// A criteria value as text: a string, number or boolean.
fn condition_value(field: &str, value: &RawValue) -> Result<String> {
    let raw = value.get();
    let text = match raw.as_bytes().first() {
        Some(b'"') => json::raw_str(value).unwrap_or_default(),
        Some(b't' | b'f' | b'-' | b'0'..=b'9') => raw.to_string(),
        _ => {
            return Err(ZohoError::invalid_input(format!(
                "criteria value of {field} is {}; give a text, number or true/false (use Zoho's criteria text or COQL for other comparisons)",
                json::kind_of(raw)
            )))
        }
    };
    if text.is_empty() {
        return Err(ZohoError::invalid_input(format!("criteria value of {field} is empty; Zoho's search cannot match an empty value (use a COQL query with `is null`)")));
    }
    Ok(text)
}

/// A value escaped for Zoho's criteria: `(`, `)`, `,` and the backslash get a backslash.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if matches!(c, '(' | ')' | ',' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Zoho's criteria text, sanity-checked: wrapped in parentheses, balanced (escaped ones aside),
/// one line, each condition `Field:operator:value`, at most [`MAX_CONDITIONS`] of them.
fn checked_text(text: &str) -> Result<&str> {
    if !text.starts_with('(') || !text.ends_with(')') {
        return Err(refusal("must be wrapped in parentheses"));
    }
    if text.contains(char::is_control) {
        return Err(refusal("must be one line"));
    }
    let mut depth: usize = 0;
    let mut conditions = 0usize;
    let mut leaf = String::new();
    let mut in_leaf = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                // An escaped character belongs to the value.
                let escaped = chars.next();
                if in_leaf {
                    leaf.push('\\');
                    leaf.extend(escaped);
                }
            }
            '(' => {
                depth = depth.saturating_add(1);
                if in_leaf {
                    return Err(refusal("holds a ( inside a condition (escape it as \\( )"));
                }
                if chars.peek().is_some_and(|n| *n != '(') {
                    in_leaf = true;
                    leaf.clear();
                }
            }
            ')' => {
                let Some(less) = depth.checked_sub(1) else { return Err(refusal("has a ) without its (")) };
                depth = less;
                if in_leaf {
                    in_leaf = false;
                    conditions = conditions.saturating_add(1);
                    if conditions > MAX_CONDITIONS {
                        return Err(ZohoError::invalid_input(format!("criteria has more than {MAX_CONDITIONS} conditions; Zoho's search takes at most {MAX_CONDITIONS}")));
                    }
                    check_condition(&leaf)?;
                }
                if depth == 0 && chars.peek().is_some() {
                    return Err(refusal("continues after its closing parenthesis"));
                }
            }
            other if in_leaf => leaf.push(other),
            _ => {}
        }
    }
    if depth != 0 {
        return Err(refusal("has unbalanced parentheses"));
    }
    Ok(text)
}

fn refusal(why: &str) -> ZohoError {
    ZohoError::invalid_input(format!(
        "criteria {why}: write ((Field:operator:value)and(Field:operator:value)), escaping ( ) , and \\ in values with a backslash, or give a JSON object {{\"Field\":\"value\"}}"
    ))
}

/// One condition `Field:operator:value`: a field API name, an operator word, a value.
fn check_condition(leaf: &str) -> Result<()> {
    let mut parts = leaf.splitn(3, ':');
    let (field, operator, value) = (parts.next().unwrap_or(""), parts.next(), parts.next());
    let field_ok = !field.trim().is_empty() && field.trim().chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$');
    let operator_ok = operator.is_some_and(|o| !o.is_empty() && o.chars().all(|c| c.is_ascii_alphabetic() || c == '_'));
    if !field_ok || !operator_ok || value.is_none() {
        return Err(refusal(&format!("condition ({leaf}) is not Field:operator:value")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Zoho's reading of an escaped value: a backslash takes the next character as it is.
    fn unescape(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            out.extend(if c == '\\' { chars.next() } else { Some(c) });
        }
        out
    }

    #[test]
    fn objects_become_escaped_equals_and_criteria() {
        assert_eq!(criteria(r#"{"Last_Name":"Doe"}"#).unwrap(), "(Last_Name:equals:Doe)");
        assert_eq!(
            criteria(r#"{"Company":"Zylker (EU), Ltd","Path":"C:\\x","Amount":12.5,"Active":true}"#).unwrap(),
            r"((Company:equals:Zylker \(EU\)\, Ltd)and(Path:equals:C:\\x)and(Amount:equals:12.5)and(Active:equals:true))"
        );
        for bad in [r#"{}"#, r#"{"A":null}"#, r#"{"A":[1]}"#, r#"{"A":{"id":1}}"#, r#"{"A":""}"#, r#"{"A b":"x"}"#, r#"{"A":"x""#] {
            assert_eq!(criteria(bad).unwrap_err().kind, crate::error::ErrorKind::InvalidInput, "{bad}");
        }
        let ten: Vec<String> = (0..10).map(|i| format!("\"F{i}\":\"v\"")).collect();
        assert!(criteria(&format!("{{{}}}", ten.join(","))).is_ok());
        let eleven: Vec<String> = (0..11).map(|i| format!("\"F{i}\":\"v\"")).collect();
        assert!(criteria(&format!("{{{}}}", eleven.join(","))).unwrap_err().message.contains("11 conditions"));
    }

    #[test]
    fn zoho_text_is_checked_and_kept() {
        let text = r"((Last_Name:equals:Burns\,B)and(First_Name:starts_with:M\(x\)))";
        assert_eq!(criteria(text).unwrap(), text);
        assert_eq!(criteria("(Created_Time:between:2024-01-01T00:00:00+00:00,2024-02-01T00:00:00+00:00)").unwrap().len(), 74);
        for bad in ["Last_Name:equals:Doe", "((Last_Name:equals:Doe)", "(Last_Name:equals:Doe))", "(Last_Name)", "(Last_Name:equals:a(b)", "(A:eq uals:x)", "(A:equals:x\ty)", "(A:equals:x)(B:equals:y)"] {
            assert!(criteria(bad).is_err(), "{bad}");
        }
        let conditions = |n: usize| format!("({})", vec!["(A:equals:x)"; n].join("and"));
        assert!(criteria(&conditions(10)).is_ok());
        assert!(criteria(&conditions(11)).unwrap_err().message.contains("more than 10"));
        assert!(criteria(&format!("(A:equals:{})", "x".repeat(MAX_CRITERIA_BYTES))).is_err());
    }

    proptest! {
        // Any Unicode value survives escaping: Zoho's reading gives it back, and no bracket or
        // comma of the value is left bare to end the condition early.
        #[test]
        fn escaped_values_read_back_whole(value in "\\PC{1,40}") {
            let escaped = escape(&value);
            prop_assert_eq!(unescape(&escaped), value.clone());
            let text = format!("(Field:equals:{escaped})");
            prop_assert!(checked_text(&text).is_ok(), "{}", text);
            let sent = criteria(&serde_json::json!({ "Field": value }).to_string()).unwrap();
            prop_assert_eq!(sent, text);
        }
    }
}
