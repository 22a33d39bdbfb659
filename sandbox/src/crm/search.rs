//! `GET /crm/v8/{module}/search`: Zoho's criteria grammar (`((Field:operator:value)and(...))`,
//! with or without parentheses around the whole, spaces around and/or allowed), or an email,
//! phone or word search; paged up to Zoho's 2,000-record reach, 204 when nothing matches.
//!
//! As Zoho's v8 "Search Records" says (zoho/crm-oas `module_search` searchRecords): in a value
//! `\(`, `\)` and `\,` are the character, `\\` ending the value is one backslash, any other
//! backslash is itself; `criteria` is at most 3,000 characters, `word` 2 to 100, `phone` 3 to 50
//! and `^[+]?[0-9\s\-\(\)\.]+$`, `email` at most 255: past them, 400 INVALID_REQUEST (the
//! file's code for "one or more invalid parameter values"); none of the four is
//! EXPECTED_PARAM_MISSING with their `param_names`.

use crate::crm::records::project;
use crate::params;
use crate::request::RecordedRequest;
use crate::response::{empty_response, error_response, invalid_module, json_response};
use crate::state::{Module, Shared};
use axum::response::Response;
use serde_json::{json, Map, Value};

const MAX_CONDITIONS: usize = 10;
/// Longest `criteria`, in characters.
const MAX_CRITERIA_CHARS: usize = 3_000;
/// `word` and `phone` lengths, and the longest `email`, in characters.
const WORD_CHARS: std::ops::RangeInclusive<usize> = 2..=100;
const PHONE_CHARS: std::ops::RangeInclusive<usize> = 3..=50;
const MAX_EMAIL_CHARS: usize = 255;
/// Characters a backslash escapes anywhere in a value.
const SPECIAL: [char; 3] = ['(', ')', ','];
/// Records a search reaches with page × per_page.
const SEARCH_REACH: usize = 2_000;
const OPERATORS: [&str; 10] = ["equals", "not_equal", "starts_with", "in", "not_in", "greater_than", "greater_equal", "less_than", "less_equal", "between"];

/// One `(Field:operator:value)`, its value unescaped (split on bare commas for in/between).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// A parsed criteria: a condition, or groups joined left to right with and/or.
#[derive(Debug, Clone, PartialEq)]
pub enum Criteria {
    Condition(Condition),
    Group(Box<Criteria>, Vec<(bool, Criteria)>),
}

/// Why a criteria is not Zoho's grammar: `details` of Zoho's INVALID_QUERY.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryError(pub Value);

fn query_error(reason: &str) -> QueryError {
    QueryError(json!({ "reason": reason }))
}

/// Parses Zoho's criteria text: groups joined with and/or, the whole in parentheses or not.
pub fn parse(text: &str) -> Result<Criteria, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let first = group(&chars, &mut at)?;
    let rest = joined(&chars, &mut at)?;
    if at != chars.len() {
        return Err(query_error("the criteria continues after its closing parenthesis"));
    }
    let criteria = if rest.is_empty() { first } else { Criteria::Group(Box::new(first), rest) };
    if conditions(&criteria) > MAX_CONDITIONS {
        return Err(QueryError(json!({ "reason": "more than 10 conditions in the criteria", "limit": MAX_CONDITIONS })));
    }
    Ok(criteria)
}

fn conditions(criteria: &Criteria) -> usize {
    match criteria {
        Criteria::Condition(_) => 1,
        Criteria::Group(first, rest) => conditions(first) + rest.iter().map(|(_, c)| conditions(c)).sum::<usize>(),
    }
}

fn group(chars: &[char], at: &mut usize) -> Result<Criteria, QueryError> {
    if chars.get(*at) != Some(&'(') {
        return Err(query_error("a condition must be enclosed in parentheses"));
    }
    *at += 1;
    if chars.get(*at) != Some(&'(') {
        let condition = condition(chars, at)?;
        return Ok(Criteria::Condition(condition));
    }
    let first = group(chars, at)?;
    let rest = joined(chars, at)?;
    if chars.get(*at) != Some(&')') {
        return Err(query_error("conditions are joined with and or or"));
    }
    *at += 1;
    Ok(Criteria::Group(Box::new(first), rest))
}

/// The `and (...)` / `or (...)` that follow a group, spaces around the word allowed; stops
/// before a `)` or the end.
fn joined(chars: &[char], at: &mut usize) -> Result<Vec<(bool, Criteria)>, QueryError> {
    let mut rest = Vec::new();
    loop {
        let mut ahead = *at;
        while chars.get(ahead).is_some_and(|c| *c == ' ') {
            ahead += 1;
        }
        match chars.get(ahead) {
            None | Some(')') => {
                *at = ahead;
                return Ok(rest);
            }
            Some('a' | 'A' | 'o' | 'O') => {
                let word: String = chars[ahead..].iter().take_while(|c| c.is_ascii_alphabetic()).collect();
                let and = match word.to_ascii_lowercase().as_str() {
                    "and" => true,
                    "or" => false,
                    _ => return Err(query_error("conditions are joined with and or or")),
                };
                ahead += word.len();
                while chars.get(ahead).is_some_and(|c| *c == ' ') {
                    ahead += 1;
                }
                *at = ahead;
                rest.push((and, group(chars, at)?));
            }
            _ => return Err(query_error("conditions are joined with and or or")),
        }
    }
}

/// `Field:operator:value)`: the value runs to the first bare `)`; `\x` is `x`.
fn condition(chars: &[char], at: &mut usize) -> Result<Condition, QueryError> {
    let mut field = String::new();
    while let Some(&c) = chars.get(*at) {
        *at += 1;
        if c == ':' {
            break;
        }
        field.push(c);
    }
    let mut operator = String::new();
    while let Some(&c) = chars.get(*at) {
        *at += 1;
        if c == ':' {
            break;
        }
        operator.push(c);
    }
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$') {
        return Err(QueryError(json!({ "reason": "invalid field name in the criteria", "api_name": field })));
    }
    if !OPERATORS.contains(&operator.as_str()) {
        return Err(QueryError(json!({ "reason": "invalid operator found", "api_name": field, "operator": operator })));
    }
    let list = matches!(operator.as_str(), "in" | "not_in" | "between");
    let mut values = vec![String::new()];
    loop {
        let Some(&c) = chars.get(*at) else { return Err(query_error("the criteria has unbalanced parentheses")) };
        *at += 1;
        match c {
            '\\' => {
                // `\(`, `\)`, `\,` are the character; `\\` right before the closing `)` is one
                // backslash (an escaped last character); any other backslash is itself.
                let next = chars.get(*at).copied();
                let escaped_last = next == Some('\\') && chars.get(*at + 1) == Some(&')');
                let kept = if next.is_some_and(|n| SPECIAL.contains(&n)) || escaped_last {
                    *at += 1;
                    next.unwrap_or('\\')
                } else {
                    '\\'
                };
                if let Some(last) = values.last_mut() {
                    last.push(kept);
                }
            }
            ')' => break,
            '(' => return Err(QueryError(json!({ "reason": "a ( in a value must be escaped with a backslash", "api_name": field }))),
            ',' if list => values.push(String::new()),
            ',' => return Err(QueryError(json!({ "reason": "a , in a value must be escaped with a backslash", "api_name": field, "operator": operator }))),
            other => {
                if let Some(last) = values.last_mut() {
                    last.push(other);
                }
            }
        }
    }
    if operator == "between" && values.len() != 2 {
        return Err(QueryError(json!({ "reason": "between takes two values", "api_name": field, "operator": operator })));
    }
    Ok(Condition { field, operator, values })
}

/// A record's value of a field as text: strings, numbers and booleans as written, a lookup by
/// its name (and id, checked apart).
fn texts(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Bool(b)) => vec![b.to_string()],
        Some(Value::Object(o)) => ["name", "id"].iter().filter_map(|k| o.get(*k).and_then(Value::as_str)).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    }
}

fn matches(record: &Map<String, Value>, c: &Condition) -> bool {
    let have = texts(record.get(&c.field));
    let lower = |s: &str| s.to_lowercase();
    let first = c.values.first().map(String::as_str).unwrap_or("");
    let any = |f: &dyn Fn(&str) -> bool| have.iter().any(|h| f(h));
    match c.operator.as_str() {
        // v8: equals behaves as "contains" for text (zoho-api.md), exact for numbers.
        "equals" => any(&|h| if h.parse::<f64>().is_ok() { compare(h, first).is_eq() } else { lower(h).contains(&lower(first)) }),
        "not_equal" => !any(&|h| lower(h) == lower(first)),
        "starts_with" => any(&|h| lower(h).starts_with(&lower(first))),
        "in" => any(&|h| c.values.iter().any(|v| lower(h) == lower(v))),
        "not_in" => !any(&|h| c.values.iter().any(|v| lower(h) == lower(v))),
        "greater_than" => any(&|h| compare(h, first).is_gt()),
        "greater_equal" => any(&|h| compare(h, first).is_ge()),
        "less_than" => any(&|h| compare(h, first).is_lt()),
        "less_equal" => any(&|h| compare(h, first).is_le()),
        "between" => any(&|h| compare(h, first).is_ge() && compare(h, c.values.get(1).map(String::as_str).unwrap_or("")).is_le()),
        _ => false,
    }
}

fn evaluate(record: &Map<String, Value>, criteria: &Criteria) -> bool {
    match criteria {
        Criteria::Condition(c) => matches(record, c),
        Criteria::Group(first, rest) => rest.iter().fold(evaluate(record, first), |so_far, (and, next)| if *and { so_far && evaluate(record, next) } else { so_far || evaluate(record, next) }),
    }
}

fn unknown_field(criteria: &Criteria, module: &Module) -> Option<String> {
    match criteria {
        Criteria::Condition(c) => (!module.fields.iter().any(|f| f.api_name == c.field)).then(|| c.field.clone()),
        Criteria::Group(first, rest) => unknown_field(first, module).or_else(|| rest.iter().find_map(|(_, c)| unknown_field(c, module))),
    }
}

/// module_search.json's `InvalidQuery`: the message "Invalid query formed" and details naming
/// the `reason` and the `api_name` at fault (the parameter, `criteria`, when no field is).
fn invalid_query(mut details: Value) -> Response {
    if let Some(details) = details.as_object_mut() {
        details.entry("api_name").or_insert_with(|| json!("criteria"));
    }
    error_response(400, "INVALID_QUERY", "Invalid query formed", details)
}

/// What a search looks for, from its one search parameter.
pub(crate) enum Search {
    Criteria(Criteria),
    Email(String),
    Phone(String),
    Word(String),
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

pub(crate) fn found(record: &Map<String, Value>, module: &Module, search: &Search) -> bool {
    let of_kind = |kind: &dyn Fn(&str, &str) -> bool| module.fields.iter().filter(|f| kind(&f.api_name, f.data_type)).flat_map(|f| texts(record.get(&f.api_name))).collect::<Vec<_>>();
    match search {
        Search::Criteria(criteria) => evaluate(record, criteria),
        Search::Email(email) => of_kind(&|_, t| t == "email").iter().any(|e| e.eq_ignore_ascii_case(email)),
        Search::Phone(phone) => {
            let wanted = digits(phone);
            !wanted.is_empty() && of_kind(&|n, t| t == "phone" || n.contains("Phone") || n.contains("Mobile")).iter().any(|p| digits(p) == wanted)
        }
        Search::Word(word) => {
            let word = word.to_lowercase();
            of_kind(&|_, t| matches!(t, "text" | "email" | "textarea" | "phone")).iter().any(|v| v.to_lowercase().contains(&word))
        }
    }
}

/// The refusal of a search parameter past what Zoho's v8 search takes (lengths in characters,
/// the phone's pattern), or None.
fn invalid_term(name: &str, value: &str) -> Option<Response> {
    let count = value.chars().count();
    let (why, details) = match name {
        "criteria" if count > MAX_CRITERIA_CHARS => ("criteria is longer than 3000 characters", json!({ "param_name": name, "maximum_length": MAX_CRITERIA_CHARS })),
        "word" if !WORD_CHARS.contains(&count) => ("word must be 2 to 100 characters", json!({ "param_name": name, "minimum_length": WORD_CHARS.start(), "maximum_length": WORD_CHARS.end() })),
        "phone" if !PHONE_CHARS.contains(&count) => ("phone must be 3 to 50 characters", json!({ "param_name": name, "minimum_length": PHONE_CHARS.start(), "maximum_length": PHONE_CHARS.end() })),
        "phone" if !is_phone(value) => ("phone may hold only digits, spaces, - ( ) . and a leading +", json!({ "param_name": name, "pattern": "^[+]?[0-9\\s\\-\\(\\)\\.]+$" })),
        "email" if count > MAX_EMAIL_CHARS => ("email is longer than 255 characters", json!({ "param_name": name, "maximum_length": MAX_EMAIL_CHARS })),
        _ => return None,
    };
    Some(error_response(400, "INVALID_REQUEST", why, details))
}

/// `^[+]?[0-9\s\-\(\)\.]+$`.
fn is_phone(text: &str) -> bool {
    let rest = text.strip_prefix('+').unwrap_or(text);
    !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c.is_whitespace() || matches!(c, '-' | '(' | ')' | '.'))
}

/// Leads converted, and records awaiting approval, are left out unless asked for.
fn state_fits(record: &Map<String, Value>, param: Option<&str>, key: &str, default: bool) -> bool {
    let value = record.get(key).and_then(Value::as_bool).unwrap_or(default);
    match param {
        None => value == default,
        Some("both") => true,
        Some(p) => Some(value) == p.parse::<bool>().ok(),
    }
}

pub fn search(shared: &Shared, request: &RecordedRequest, module_name: &str) -> Response {
    let data = shared.data();
    let Some(module) = data.modules.get(module_name) else {
        return invalid_module();
    };
    let given: Vec<(&str, &str)> = ["criteria", "email", "phone", "word"].into_iter().filter_map(|p| request.query_param(p).map(|v| (p, v))).collect();
    if let Some(refusal) = given.iter().find_map(|(name, value)| invalid_term(name, value)) {
        return refusal;
    }
    // module_search.json's `Mandatory_Param_Missing` (Zoho's example answer MissingParameter); with several, Kaizen #30 ("Parameters in
    // Zoho CRM APIs, part 2"): only one works, in the order criteria, email, phone, word.
    let search = match given.first() {
        None => return error_response(400, "EXPECTED_PARAM_MISSING", "one of the expected parameter is missing", json!({ "param_names": ["criteria", "email", "phone", "word"] })),
        Some(("criteria", text)) => match parse(text) {
            Err(QueryError(details)) => return invalid_query(details),
            Ok(criteria) => {
                if let Some(field) = unknown_field(&criteria, module) {
                    return invalid_query(json!({ "reason": "the field is not available for search", "api_name": field }));
                }
                Search::Criteria(criteria)
            }
        },
        Some(("email", v)) => Search::Email(v.to_string()),
        Some(("phone", v)) => Search::Phone(v.to_string()),
        Some((_, v)) => Search::Word(v.to_string()),
    };
    let (fields, per_page, page) = match (params::fields(request, Some(&module.fields)), params::per_page(request), params::page(request)) {
        (Ok(fields), Ok(per_page), Ok(page)) => (fields, per_page, page),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    if page.saturating_mul(per_page) > SEARCH_REACH {
        // module_search.json's `Max_records`: search pages reach the first 2,000 matches only.
        return error_response(400, "LIMIT_REACHED", "maximum response iteration limit reached", json!({ "limit": SEARCH_REACH.to_string() }));
    }
    for param in ["converted", "approved"] {
        if request.query_param(param).is_some_and(|v| !["true", "false", "both"].contains(&v)) {
            return params::bad_param(param, "the value must be true, false or both");
        }
    }
    let matching: Vec<&Map<String, Value>> = module
        .records
        .values()
        .filter(|r| state_fits(r, request.query_param("converted"), "$converted", false))
        .filter(|r| state_fits(r, request.query_param("approved"), "$approved", true))
        .filter(|r| found(r, module, &search))
        .collect();
    let offset = (page - 1) * per_page;
    let records: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(per_page)
        .map(|r| match &fields {
            Some(fields) => project(r, fields),
            None => Value::Object((*r).clone()),
        })
        .collect();
    if records.is_empty() {
        return empty_response(204);
    }
    let count = records.len();
    json_response(200, &json!({ "data": records, "info": { "per_page": per_page, "count": count, "page": page, "more_records": offset + count < matching.len() } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zohos_samples_without_outer_parentheses_and_with_spaces_parse() {
        let one = |field: &str, value: &str| Criteria::Condition(Condition { field: field.into(), operator: "equals".into(), values: vec![value.into()] });
        let both = Criteria::Group(Box::new(one("Company", "Zylker")), vec![(true, one("Lead_Status", "Qualified"))]);
        assert_eq!(parse("((Company:equals:Zylker) and (Lead_Status:equals:Qualified))").unwrap(), both);
        assert_eq!(parse("(Company:equals:Zylker) and (Lead_Status:equals:Qualified)").unwrap(), both);
        assert_eq!(parse("(Company:equals:Zylker)AND(Lead_Status:equals:Qualified)").unwrap(), both);
        for bad in ["(A:equals:x) (B:equals:y)", "(A:equals:x) and", "(A:equals:x) nand (B:equals:y)", "and (A:equals:x)"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_backslash_escapes_only_brackets_commas_and_a_last_backslash() {
        let value = |text: &str| match parse(text).unwrap() {
            Criteria::Condition(c) => c.values,
            other => panic!("{other:?}"),
        };
        assert_eq!(value(r"(Last_Name:equals:K\\)"), [r"K\"]);
        assert_eq!(value(r"(Path:equals:C:\x\y)"), [r"C:\x\y"]);
        assert_eq!(value(r"(Path:equals:a\\\)"), [r"a\\"]);
        assert_eq!(value(r"(Path:equals:a\\\\)"), [r"a\\\"]);
        assert_eq!(value(r"(A:equals:\(b\)\,)"), ["(b),"]);
        assert!(parse(r"(Last_Name:equals:K\)").is_err(), "an unescaped last backslash swallows the )");
    }

    #[test]
    fn terms_past_zohos_lengths_are_invalid_requests() {
        assert!(invalid_term("word", "ab").is_none() && invalid_term("word", &"w".repeat(100)).is_none());
        assert!(invalid_term("word", "a").is_some() && invalid_term("word", &"w".repeat(101)).is_some());
        assert!(invalid_term("phone", "+1 (555) 123-45.67").is_none() && invalid_term("phone", "55").is_some());
        assert!(invalid_term("phone", "555-CALL").is_some() && invalid_term("phone", &"5".repeat(51)).is_some());
        assert!(invalid_term("email", &"e".repeat(255)).is_none() && invalid_term("email", &"e".repeat(256)).is_some());
        assert!(invalid_term("criteria", &"c".repeat(3000)).is_none() && invalid_term("criteria", &"c".repeat(3001)).is_some());
    }

    #[test]
    fn the_grammar_and_its_escapes() {
        let parsed = parse(r"((Last_Name:equals:Burns\,B)and(First_Name:starts_with:M\(x\)\\))").unwrap();
        let Criteria::Group(first, rest) = parsed else { panic!("a group") };
        assert_eq!(*first, Criteria::Condition(Condition { field: "Last_Name".into(), operator: "equals".into(), values: vec!["Burns,B".into()] }));
        assert_eq!(rest[0].1, Criteria::Condition(Condition { field: "First_Name".into(), operator: "starts_with".into(), values: vec![r"M(x)\".into()] }));
        assert_eq!(parse("(Amount:between:1,5)").unwrap(), Criteria::Condition(Condition { field: "Amount".into(), operator: "between".into(), values: vec!["1".into(), "5".into()] }));
        assert_eq!(parse("(A:equals:x,y)").unwrap_err().0["reason"], "a , in a value must be escaped with a backslash");
        assert_eq!(parse("(A:like:x)").unwrap_err().0, json!({ "reason": "invalid operator found", "api_name": "A", "operator": "like" }));
        for bad in ["", "A:equals:x", "((A:equals:x)", "(A:equals:x))", "((A:equals:x)xor(B:equals:y))", "(A:equals:a(b)"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let n = |n: usize| format!("({})", vec!["(A:equals:x)"; n].join("and"));
        assert!(parse(&n(10)).is_ok());
        assert_eq!(parse(&n(11)).unwrap_err().0["limit"], 10);
    }
}
