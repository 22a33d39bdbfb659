//! A parsed query against records: field values through lookups, comparisons (numbers,
//! times, text), LIKE, WHERE matching, ORDER BY keys, and the (Modified_Time, id) bounds a
//! WHERE sets.

use super::parser::Cond;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// A field's value; dotted names reach into lookups (`Owner.name`).
pub(super) fn lookup<'r>(record: &'r Map<String, Value>, field: &str) -> Option<&'r Value> {
    let mut parts = field.split('.');
    let mut value = record.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value).filter(|v| !v.is_null())
}

thread_local! {
    /// Parsed timestamps: a sweep compares the same few hundred Modified_Time strings millions of times.
    static TIMES: std::cell::RefCell<std::collections::HashMap<String, Option<i64>>> = Default::default();
}

pub(super) fn parse_time(text: &str) -> Option<i64> {
    TIMES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(parsed) = cache.get(text) {
            return *parsed;
        }
        if cache.len() > 100_000 {
            cache.clear();
        }
        let parsed = chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp());
        cache.insert(text.to_string(), parsed);
        parsed
    })
}

/// Numbers as numbers (integers exactly), Zoho times as instants, the rest as text.
pub(super) fn compare(a: &Value, b: &Value) -> Ordering {
    let as_integer = |v: &Value| v.as_i64().map(i128::from).or_else(|| v.as_str().and_then(|s| s.parse::<i128>().ok()));
    if let (Some(x), Some(y)) = (as_integer(a), as_integer(b)) {
        return x.cmp(&y);
    }
    let as_number = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse::<f64>().ok()));
    if let (Some(x), Some(y)) = (as_number(a), as_number(b)) {
        return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    }
    let as_time = |v: &Value| v.as_str().and_then(parse_time);
    if let (Some(x), Some(y)) = (as_time(a), as_time(b)) {
        return x.cmp(&y);
    }
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    text(a).to_lowercase().cmp(&text(b).to_lowercase())
}

/// A value's place in ORDER BY, computed once per row: nulls first, then integers, instants,
/// other numbers and text, as `compare` orders them.
#[derive(Debug, PartialEq)]
pub(super) enum SortKey {
    Null,
    Integer(i128),
    Instant(i64),
    Number(f64),
    Text(String),
}

impl Eq for SortKey {}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SortKey {
    /// Kinds in the order above; within a kind by value (numbers that do not compare, NaN, as equal).
    fn cmp(&self, other: &Self) -> Ordering {
        use SortKey::*;
        let rank = |k: &SortKey| match k {
            Null => 0,
            Integer(_) => 1,
            Instant(_) => 2,
            Number(_) => 3,
            Text(_) => 4,
        };
        match (self, other) {
            (Integer(a), Integer(b)) => a.cmp(b),
            (Instant(a), Instant(b)) => a.cmp(b),
            (Number(a), Number(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (Text(a), Text(b)) => a.cmp(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

impl SortKey {
    pub(super) fn of(value: Option<&Value>) -> SortKey {
        let Some(value) = value else { return SortKey::Null };
        if let Some(i) = value.as_i64().map(i128::from).or_else(|| value.as_str().and_then(|s| s.parse::<i128>().ok())) {
            return SortKey::Integer(i);
        }
        if let Some(t) = value.as_str().and_then(parse_time) {
            return SortKey::Instant(t);
        }
        if let Some(n) = value.as_f64().or_else(|| value.as_str().and_then(|s| s.parse::<f64>().ok())) {
            return SortKey::Number(n);
        }
        SortKey::Text(value.as_str().map(str::to_lowercase).unwrap_or_else(|| value.to_string().to_lowercase()))
    }
}

pub(super) fn like(value: &str, pattern: &str) -> bool {
    let value = value.to_lowercase();
    let pattern = pattern.to_lowercase();
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return value == pattern;
    }
    let mut rest = value.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

pub(super) fn matches(record: &Map<String, Value>, cond: &Cond) -> bool {
    match cond {
        Cond::And(a, b) => matches(record, a) && matches(record, b),
        Cond::Or(a, b) => matches(record, a) || matches(record, b),
        Cond::Null(field, negated) => lookup(record, field).is_none() != *negated,
        Cond::Like(field, negated, pattern) => lookup(record, field).and_then(Value::as_str).is_some_and(|v| like(v, pattern)) != *negated,
        Cond::In(field, negated, values) => lookup(record, field).is_some_and(|v| values.iter().any(|x| compare(v, x) == Ordering::Equal)) != *negated,
        Cond::Cmp(field, op, value) => {
            let Some(actual) = lookup(record, field) else { return *op == "!=" || *op == "<>" };
            let ordering = compare(actual, value);
            match *op {
                "=" => ordering == Ordering::Equal,
                "!=" | "<>" => ordering != Ordering::Equal,
                "<" => ordering == Ordering::Less,
                ">" => ordering == Ordering::Greater,
                "<=" => ordering != Ordering::Greater,
                _ => ordering != Ordering::Less,
            }
        }
    }
}

/// The least (Modified_Time, id) a row matching `cond` can have, read from its conjuncts:
/// `Modified_Time >= t`, `Modified_Time > t`, and the keyset form
/// `(Modified_Time > t or (Modified_Time = t and id > x))`. Rows are still checked in full.
pub(super) fn lower_bound(cond: &Cond) -> (i64, u64) {
    let time = |v: &Value| v.as_str().and_then(parse_time);
    match cond {
        Cond::And(a, b) => lower_bound(a).max(lower_bound(b)),
        Cond::Cmp(field, ">=", v) if field == "Modified_Time" => time(v).map_or((i64::MIN, 0), |t| (t, 0)),
        Cond::Cmp(field, ">", v) if field == "Modified_Time" => time(v).map_or((i64::MIN, 0), |t| (t.saturating_add(1), 0)),
        Cond::Or(a, b) => match (a.as_ref(), b.as_ref()) {
            (Cond::Cmp(f1, ">", v1), Cond::And(eq, after)) if f1 == "Modified_Time" => match (eq.as_ref(), after.as_ref(), time(v1)) {
                (Cond::Cmp(f2, "=", v2), Cond::Cmp(f3, ">", id), Some(t)) if f2 == "Modified_Time" && f3 == "id" && time(v2) == Some(t) => {
                    (t, id.as_str().and_then(|i| i.parse::<u64>().ok()).map_or(0, |i| i.saturating_add(1)))
                }
                _ => (i64::MIN, 0),
            },
            _ => (i64::MIN, 0),
        },
        _ => (i64::MIN, 0),
    }
}

/// The greatest (Modified_Time, id) a row matching `cond` can have, read from its conjuncts:
/// `Modified_Time <= t`, `Modified_Time < t`, and the keyset form
/// `(Modified_Time < t or (Modified_Time = t and id <= x))`: a slice's end. Rows are still
/// checked in full; the scan only stops past it.
pub(super) fn upper_bound(cond: &Cond) -> (i64, u64) {
    let time = |v: &Value| v.as_str().and_then(parse_time);
    let open = (i64::MAX, u64::MAX);
    match cond {
        Cond::And(a, b) => upper_bound(a).min(upper_bound(b)),
        Cond::Cmp(field, "<=", v) if field == "Modified_Time" => time(v).map_or(open, |t| (t, u64::MAX)),
        Cond::Cmp(field, "<", v) if field == "Modified_Time" => time(v).map_or(open, |t| (t.saturating_sub(1), u64::MAX)),
        Cond::Or(a, b) => match (a.as_ref(), b.as_ref()) {
            (Cond::Cmp(f1, "<", v1), Cond::And(eq, through)) if f1 == "Modified_Time" => match (eq.as_ref(), through.as_ref(), time(v1)) {
                (Cond::Cmp(f2, "=", v2), Cond::Cmp(f3, "<=", id), Some(t)) if f2 == "Modified_Time" && f3 == "id" && time(v2) == Some(t) => {
                    id.as_str().and_then(|i| i.parse::<u64>().ok()).map_or(open, |i| (t, i))
                }
                _ => open,
            },
            _ => open,
        },
        _ => open,
    }
}

pub(super) fn fields_of(cond: &Cond, out: &mut Vec<String>) {
    match cond {
        Cond::And(a, b) | Cond::Or(a, b) => {
            fields_of(a, out);
            fields_of(b, out);
        }
        Cond::Cmp(f, ..) | Cond::Like(f, ..) | Cond::In(f, ..) | Cond::Null(f, ..) => out.push(f.clone()),
    }
}

#[cfg(test)]
pub(super) fn project_row(record: &Map<String, Value>, fields: &[String]) -> Value {
    let mut row = Map::new();
    for f in fields {
        row.insert(f.clone(), lookup(record, f).cloned().unwrap_or(Value::Null));
    }
    row.insert("id".into(), record.get("id").cloned().unwrap_or(Value::Null));
    Value::Object(row)
}
