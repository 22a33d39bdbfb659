//! Search Records: `GET /crm/v8/{module}/search` with exactly one of `criteria`, `email`,
//! `phone`, `word`. Criteria are Zoho's text, sanity-checked and sent as given, or a JSON object
//! of field to value turned into equals conditions joined with `and`, each value escaped as
//! Zoho's v8 "Search Records" page says: `(`, `)` and `,` get a backslash, and a backslash only
//! when it is the value's last character (zoho/crm-oas `module_search` searchRecords, `criteria`).
//!
//! What v8 refuses is refused here before anything is sent (the same operation's parameters):
//! criteria over 3,000 characters, `word` outside 2 to 100, `phone` outside 3 to 50 or not
//! `^[+]?[0-9\s\-\(\)\.]+$`, `email` over 255.

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
/// Longest criteria Zoho takes (v8 Search Records: `criteria` maxLen 3000), in characters.
pub const MAX_CRITERIA_CHARS: usize = 3_000;
/// `word`: 2 to 100 characters (v8 Search Records: minLen 2, maxLen 100).
pub const WORD_CHARS: std::ops::RangeInclusive<usize> = 2..=100;
/// `phone`: 3 to 50 characters (v8 Search Records: minLen 3, maxLen 50).
pub const PHONE_CHARS: std::ops::RangeInclusive<usize> = 3..=50;
/// `email`: at most 255 characters (v8 Search Records: maxLen 255).
pub const MAX_EMAIL_CHARS: usize = 255;
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
            if text.contains(char::is_control) {
                return Err(ZohoError::invalid_input(format!("{name} must be one line")));
            }
            term(name, text)?;
            Ok((name, text.to_string()))
        }
        [] => Err(ZohoError::invalid_input("give one of criteria, email, phone or word: Zoho searches by exactly one")),
        several => Err(ZohoError::invalid_input(format!(
            "give only one of criteria, email, phone or word (got {}): Zoho searches by exactly one",
            several.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// An email, phone or word as Zoho's v8 search takes it (its lengths and the phone's pattern),
/// counted in characters.
fn term(name: &str, text: &str) -> Result<()> {
    let count = text.chars().count();
    match name {
        "word" if !WORD_CHARS.contains(&count) => {
            Err(ZohoError::invalid_input(format!("word is {count} characters; Zoho searches a word of {} to {} characters", WORD_CHARS.start(), WORD_CHARS.end())))
        }
        "phone" if !PHONE_CHARS.contains(&count) => {
            Err(ZohoError::invalid_input(format!("phone is {count} characters; Zoho searches a phone of {} to {} characters", PHONE_CHARS.start(), PHONE_CHARS.end())))
        }
        "phone" if !is_phone(text) => Err(ZohoError::invalid_input("phone may hold only digits, spaces, - ( ) . and a leading +, e.g. +1-555-123-4567 or (555) 123-4567")),
        "email" if count > MAX_EMAIL_CHARS => Err(ZohoError::invalid_input(format!("email is {count} characters; Zoho searches an email of at most {MAX_EMAIL_CHARS}"))),
        _ => Ok(()),
    }
}

/// Zoho's phone pattern `^[+]?[0-9\s\-\(\)\.]+$`: an optional leading `+`, then at least one of
/// digits, whitespace, `-`, `(`, `)` and `.`.
fn is_phone(text: &str) -> bool {
    let rest = text.strip_prefix('+').unwrap_or(text);
    !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c.is_whitespace() || matches!(c, '-' | '(' | ')' | '.'))
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
/// Either way at most [`MAX_CRITERIA_CHARS`] characters go out, as Zoho takes no more.
pub fn criteria(text: &str) -> Result<String> {
    let trimmed = text.trim();
    let sent = if trimmed.starts_with('{') { from_object(trimmed)? } else { checked_text(trimmed)?.to_string() };
    let count = sent.chars().count();
    if count > MAX_CRITERIA_CHARS {
        return Err(ZohoError::invalid_input(format!("criteria is {count} characters as sent; Zoho's search takes at most {MAX_CRITERIA_CHARS}: use fewer or shorter conditions, or a COQL query")));
    }
    Ok(sent)
}

/// `{"Field": value, ...}` as `((Field:equals:value)and(...))`.
fn from_object(text: &str) -> Result<String> {
    // Far more than 3,000 characters of criteria can come of it: not read further.
    let members = json::input_object("criteria", text, 4 * MAX_CRITERIA_CHARS)?;
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
        let value = condition_value(name, value)?;
        let escaped = escape(&value).map_err(|why| ZohoError::invalid_input(format!("criteria value of {name} {why}")))?;
        conditions.push(format!("({name}:equals:{escaped})"));
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

/// The characters Zoho's criteria escape with a backslash wherever they are in a value.
const SPECIAL: [char; 3] = ['(', ')', ','];

/// A value escaped as Zoho's v8 "Search Records" page says: `(`, `)` and `,` get a backslash,
/// and a backslash only when it is the value's last character (`K\` is sent `K\\`); any other
/// backslash is sent as it is. A backslash right before `(`, `)` or `,` reads two ways (a
/// backslash then an escaped character, or an escaped backslash then a bare one), so such a
/// value is refused (the error says why) rather than searched for something else.
pub fn escape(value: &str) -> std::result::Result<String, &'static str> {
    let mut out = String::with_capacity(value.len() + 4);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(next)) if SPECIAL.contains(next) => {
                return Err("has a backslash right before ( ) or , which Zoho's search cannot tell from an escape: use a COQL query for it");
            }
            ('\\', None) => out.push_str("\\\\"),
            (c, _) if SPECIAL.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            (c, _) => out.push(c),
        }
    }
    Ok(out)
}

/// Zoho's criteria text, sanity-checked: conditions `(Field:operator:value)` joined with `and`
/// or `or`, grouped in parentheses or not at the top (Zoho's own samples write
/// `(A) and (B)` as well as `((A)and(B))`), balanced (escaped ones aside), one line, at most
/// [`MAX_CONDITIONS`] conditions. Inside a value `\(`, `\)`, `\,` are escaped characters, and
/// `\\` right before the condition's `)` is an escaped last backslash.
fn checked_text(text: &str) -> Result<&str> {
    if !text.starts_with('(') || !text.ends_with(')') {
        return Err(refusal("must start with ( and end with )"));
    }
    if text.contains(char::is_control) {
        return Err(refusal("must be one line"));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut depth: usize = 0;
    let mut conditions = 0usize;
    let mut leaf = String::new();
    let mut in_leaf = false;
    // Between two groups at one level: and/or is required (and nothing else but spaces).
    let mut joiner = String::new();
    let mut after_group = false;
    let mut at = 0;
    while let Some(&c) = chars.get(at) {
        at += 1;
        if in_leaf {
            match c {
                '\\' => {
                    let next = chars.get(at).copied();
                    let escaped_last = next == Some('\\') && chars.get(at + 1) == Some(&')');
                    if next.is_some_and(|n| SPECIAL.contains(&n)) || escaped_last {
                        leaf.push('\\');
                        leaf.extend(next);
                        at += 1;
                    } else {
                        leaf.push('\\');
                    }
                }
                '(' => return Err(refusal("holds a ( inside a condition (escape it as \\( )")),
                ')' => {
                    in_leaf = false;
                    depth = depth.saturating_sub(1);
                    conditions = conditions.saturating_add(1);
                    if conditions > MAX_CONDITIONS {
                        return Err(ZohoError::invalid_input(format!("criteria has more than {MAX_CONDITIONS} conditions; Zoho's search takes at most {MAX_CONDITIONS}")));
                    }
                    check_condition(&leaf)?;
                    after_group = true;
                    joiner.clear();
                }
                other => leaf.push(other),
            }
            continue;
        }
        match c {
            '(' => {
                if after_group && !matches!(joiner.trim().to_ascii_lowercase().as_str(), "and" | "or") {
                    return Err(refusal("joins two conditions without and or or"));
                }
                depth = depth.saturating_add(1);
                after_group = false;
                joiner.clear();
                if chars.get(at).is_some_and(|n| *n != '(') {
                    in_leaf = true;
                    leaf.clear();
                }
            }
            ')' => {
                let Some(less) = depth.checked_sub(1) else {
                    return Err(refusal("has a ) without its ("));
                };
                if !joiner.trim().is_empty() {
                    return Err(refusal("ends a group with and or or"));
                }
                depth = less;
                after_group = true;
            }
            other => {
                if !after_group {
                    return Err(refusal("has text outside a condition"));
                }
                joiner.push(other);
            }
        }
    }
    if depth != 0 || in_leaf {
        return Err(refusal("has unbalanced parentheses"));
    }
    if !joiner.trim().is_empty() {
        return Err(refusal("ends with and or or"));
    }
    Ok(text)
}

fn refusal(why: &str) -> ZohoError {
    ZohoError::invalid_input(format!(
        "criteria {why}: write (Field:operator:value) and (Field:operator:value), escaping ( ) and , in values with a backslash (and a backslash that ends a value), or give a JSON object {{\"Field\":\"value\"}}"
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

    /// Zoho's reading of a value (v8 "Search Records"): `\(`, `\)`, `\,` are the character, `\\`
    /// at the value's end is one backslash, any other backslash is itself.
    fn unescape(text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::new();
        let mut at = 0;
        while let Some(&c) = chars.get(at) {
            at += 1;
            let next = chars.get(at).copied();
            if c == '\\' && (next.is_some_and(|n| SPECIAL.contains(&n)) || (next == Some('\\') && at + 1 == chars.len())) {
                out.extend(next);
                at += 1;
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn objects_become_escaped_equals_and_criteria() {
        assert_eq!(criteria(r#"{"Last_Name":"Doe"}"#).unwrap(), "(Last_Name:equals:Doe)");
        assert_eq!(criteria(r#"{"Last_Name":"Doe"}"#).unwrap(), "(Last_Name:equals:Doe)");
        // A backslash inside a value is sent as it is; only one that ends the value is doubled.
        assert_eq!(
            criteria(r#"{"Company":"Zylker (EU), Ltd","Path":"C:\\x","Name":"K\\","Amount":12.5,"Active":true}"#).unwrap(),
            r"((Company:equals:Zylker \(EU\)\, Ltd)and(Path:equals:C:\x)and(Name:equals:K\\)and(Amount:equals:12.5)and(Active:equals:true))"
        );
        for bad in [r#"{}"#, r#"{"A":null}"#, r#"{"A":[1]}"#, r#"{"A":{"id":1}}"#, r#"{"A":""}"#, r#"{"A b":"x"}"#, r#"{"A":"x""#] {
            assert_eq!(criteria(bad).unwrap_err().kind, crate::error::ErrorKind::InvalidInput, "{bad}");
        }
        // A backslash before ( ) or , reads two ways at Zoho: refused, never searched wrongly.
        for ambiguous in [r#"{"A":"x\\(y"}"#, r#"{"A":"x\\)"}"#, r#"{"A":"\\,"}"#] {
            assert!(criteria(ambiguous).unwrap_err().message.contains("backslash right before"), "{ambiguous}");
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
        // Zoho's own samples: spaces around and/or, and no parentheses around the whole.
        for zohos in [
            "((Company:equals:Zylker) and (Lead_Status:equals:Qualified))",
            "(Last_Name:equals:Burns\\,B) and (First_Name:starts_with:M)",
            "(A:equals:x)or(B:equals:y)AND(C:equals:z)",
            r"(Last_Name:equals:K\\)",
            r"(Path:equals:C:\x)",
        ] {
            assert_eq!(criteria(zohos).unwrap(), zohos);
        }
        for bad in [
            "Last_Name:equals:Doe",
            "((Last_Name:equals:Doe)",
            "(Last_Name:equals:Doe))",
            "(Last_Name)",
            "(Last_Name:equals:a(b)",
            "(A:eq uals:x)",
            "(A:equals:x\ty)",
            "(A:equals:x)(B:equals:y)",
            "(A:equals:x) xor (B:equals:y)",
            "(A:equals:x) and",
            "((A:equals:x) and)",
            r"(A:equals:K\)",
        ] {
            assert!(criteria(bad).is_err(), "{bad}");
        }
        let conditions = |n: usize| format!("({})", vec!["(A:equals:x)"; n].join("and"));
        assert!(criteria(&conditions(10)).is_ok());
        assert!(criteria(&conditions(11)).unwrap_err().message.contains("more than 10"));
        // 3,000 characters as sent, counted in characters (not bytes).
        let at_most = format!("(A:equals:{})", "é".repeat(MAX_CRITERIA_CHARS - 11));
        assert_eq!(at_most.chars().count(), MAX_CRITERIA_CHARS);
        assert!(criteria(&at_most).is_ok());
        let over = format!("(A:equals:{})", "é".repeat(MAX_CRITERIA_CHARS - 10));
        assert!(criteria(&over).unwrap_err().message.contains("3001 characters"));
        let object = format!(r#"{{"A":"{}"}}"#, "(".repeat(1_500));
        assert!(criteria(&object).unwrap_err().message.contains("as sent"), "escaping counts");
    }

    #[test]
    fn terms_have_zohos_lengths_and_the_phone_its_pattern() {
        for (name, ok) in [("word", "ab"), ("word", &"w".repeat(100)), ("phone", "555"), ("phone", "+1 (555) 123-45.67"), ("phone", &"5".repeat(50)), ("email", &"e".repeat(255))] {
            assert!(term(name, ok).is_ok(), "{name} {ok}");
        }
        for (name, bad, says) in [
            ("word", "a", "word is 1 characters"),
            ("word", &"w".repeat(101), "word is 101 characters"),
            ("phone", "55", "phone is 2 characters"),
            ("phone", &"5".repeat(51), "phone is 51 characters"),
            ("phone", "555-CALL", "only digits"),
            ("phone", "1+555", "only digits"),
            ("phone", "+", "phone is 1 characters"),
            ("email", &"e".repeat(256), "email is 256 characters"),
        ] {
            let error = term(name, bad).unwrap_err();
            assert!(error.message.contains(says), "{name} {bad}: {}", error.message);
        }
        assert!(!is_phone("+") && !is_phone("") && is_phone("+ ") && is_phone("(555)"));
    }

    proptest! {
        // Any Unicode value Zoho can read one way survives escaping: Zoho's reading gives it
        // back, and no bracket or comma of the value is left bare to end the condition early.
        #[test]
        fn escaped_values_read_back_whole(value in "\\PC{1,40}") {
            match escape(&value) {
                Err(_) => prop_assert!(value.chars().zip(value.chars().skip(1)).any(|(a, b)| a == '\\' && SPECIAL.contains(&b))),
                Ok(escaped) => {
                    prop_assert_eq!(unescape(&escaped), value.clone());
                    let text = format!("(Field:equals:{escaped})");
                    prop_assert!(checked_text(&text).is_ok(), "{}", text);
                    let sent = criteria(&serde_json::json!({ "Field": value }).to_string()).unwrap();
                    prop_assert_eq!(sent, text);
                }
            }
        }
    }
}
