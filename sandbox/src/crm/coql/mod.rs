//! A COQL subset: `select f, ... from Module [where ...] [order by f [asc|desc], ...]
//! [limit [offset,] count | limit count offset n]`, with =, !=, <, >, <=, >=, like, in,
//! is [not] null, and/or and parentheses, answered with Zoho's bodies and errors; and the
//! aggregate `select COUNT(field) from Module where ...`, answered as Zoho does with one row
//! `{"COUNT(field)": n}` (a count of records whose field is not null).

use crate::request::RecordedRequest;
use crate::response::{empty_response, error_response, json_response};
use crate::state::{Module, Shared};
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;

const MAX_ROWS: usize = 2_000;
const ROW_CEILING: usize = 100_000;
const DEFAULT_ROWS: usize = 200;
/// Fields one SELECT may name since v7 (Kaizen #183 "COQL API's Enhancements in Zoho CRM API
/// Version 7": up to 500 fields, previously 50).
const MAX_SELECT_FIELDS: usize = 500;
/// Criteria one WHERE may hold ("Query API - Limitations": "a maximum of 25 criteria in the
/// WHERE clause").
const MAX_CRITERIA: usize = 25;

/// Why COQL cannot read `field` of `module` ("Query API - Limitations", v2 to v8: multi-select
/// lookup, file-upload, image-upload and subform fields, line items, Events' Participants; and
/// Calls' CTI_Entry and the Comments of Cases and Solutions, as the project's Corrections list
/// them). By name whatever the data type: Zoho's metadata gives Participants as `bigint`.
fn unreadable(module: &str, field: &str, data_type: &str) -> Option<&'static str> {
    let by_name = match (module, field) {
        (_, "Product_Details" | "Pricing_Details") => Some("line items are not supported in COQL"),
        ("Events", "Participants") => Some("the Participants field of Events is not supported in COQL"),
        ("Calls", "CTI_Entry") => Some("the CTI_Entry field of Calls is not supported in COQL"),
        ("Cases" | "Solutions", "Comments") => Some("Comments are not supported in COQL"),
        _ => None,
    };
    by_name.or(match data_type {
        "fileupload" => Some("file upload fields are not supported in COQL"),
        "imageupload" => Some("image upload fields are not supported in COQL"),
        "multiselectlookup" => Some("multi-select lookup fields are not supported in COQL"),
        "subform" => Some("subform fields are queried from the subform module, not the parent module"),
        _ => None,
    })
}

/// Whether COUNT takes a field of this data type: COQL's aggregate COUNT works on number,
/// lookup and picklist fields ("Get Records through COQL Query", v8, aggregate functions). The
/// user lookups (`ownerlookup`: Owner, Created_By) are lookups COQL joins through
/// (`Owner.role.id`). The record id is no field to count: `COUNT(id)` is not documented.
fn countable(field: &str, data_type: &str) -> bool {
    field != "id" && matches!(data_type, "integer" | "bigint" | "double" | "currency" | "percent" | "lookup" | "ownerlookup" | "picklist")
}

/// Criteria in a WHERE: its comparisons, at any depth.
fn criteria(cond: &Cond) -> usize {
    match cond {
        Cond::And(a, b) | Cond::Or(a, b) => criteria(a).saturating_add(criteria(b)),
        _ => 1,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Sym(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    column: usize,
    text: String,
}

struct SyntaxError {
    near: String,
    line: usize,
    column: usize,
}

fn tokenize(query: &str) -> Result<Vec<Token>, SyntaxError> {
    let chars: Vec<char> = query.chars().collect();
    let (mut i, mut line, mut column) = (0, 1, 1);
    let mut tokens = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        let (start_line, start_column) = (line, column);
        let advance = |n: usize, column: &mut usize| *column += n;
        if c == '\n' {
            i += 1;
            line += 1;
            column = 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            advance(1, &mut column);
            continue;
        }
        let start = i;
        let tok = if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.' || chars[i] == '$') {
                i += 1;
            }
            Tok::Word(chars[start..i].iter().collect())
        } else if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            Tok::Num(chars[start..i].iter().collect())
        } else if c == '\'' {
            i += 1;
            let mut text = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(SyntaxError { near: chars[start..].iter().collect(), line: start_line, column: start_column }),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        text.push(*ch);
                        i += 1;
                    }
                }
            }
            Tok::Str(text)
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = ["!=", "<>", "<=", ">="].into_iter().find(|s| *s == two).or_else(|| ["=", "<", ">", ",", "(", ")", "*"].into_iter().find(|s| s.starts_with(c)));
            match sym {
                Some(s) => {
                    i += s.len();
                    Tok::Sym(s)
                }
                None => return Err(SyntaxError { near: c.to_string(), line: start_line, column: start_column }),
            }
        };
        let text: String = chars[start..i].iter().collect();
        column += i - start;
        tokens.push(Token { tok, line: start_line, column: start_column, text });
    }
    Ok(tokens)
}

#[derive(Debug)]
enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Cmp(String, &'static str, Value),
    Like(String, bool, String),
    In(String, bool, Vec<Value>),
    Null(String, bool),
}

struct Query {
    fields: Vec<String>,
    /// `COUNT(field)`: the field counted (an aggregate query answers one row).
    count: Option<String>,
    module: String,
    filter: Option<Cond>,
    order: Vec<(String, bool)>,
    offset: usize,
    limit: usize,
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    end: (usize, usize),
}

enum Failure {
    Syntax(SyntaxError),
    /// LIMIT past a call's rows or past the reach: the limit passed.
    Limit(usize),
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|t| &t.tok)
    }

    fn error(&self) -> Failure {
        Failure::Syntax(match self.tokens.get(self.at) {
            Some(t) => SyntaxError { near: t.text.clone(), line: t.line, column: t.column },
            None => SyntaxError { near: String::new(), line: self.end.0, column: self.end.1 },
        })
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), Failure> {
        if self.keyword(word) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn symbol(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Result<String, Failure> {
        const RESERVED: [&str; 12] = ["select", "from", "where", "and", "or", "order", "by", "limit", "offset", "like", "in", "is"];
        match self.peek() {
            Some(Tok::Word(w)) if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(w)) => {
                let w = w.clone();
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.error()),
        }
    }

    fn number(&mut self) -> Result<usize, Failure> {
        match self.peek() {
            Some(Tok::Num(n)) => {
                let n = n.parse().map_err(|_| self.error())?;
                self.at += 1;
                Ok(n)
            }
            _ => Err(self.error()),
        }
    }

    fn value(&mut self) -> Result<Value, Failure> {
        let value = match self.peek() {
            Some(Tok::Str(s)) => json!(s),
            // Kept as written: record ids are 64-bit and would lose digits as floats.
            Some(Tok::Num(n)) => json!(n),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => json!(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => json!(false),
            _ => return Err(self.error()),
        };
        self.at += 1;
        Ok(value)
    }

    /// One bracket level: one or two operands joined by `and` or `or`. A third operand at the
    /// same level is a syntax error, `and`/`or` mixed or not: Zoho's "Query API - Limitations"
    /// (v2 to v8) asks criteria beyond two to be grouped, `((A and B) and C)` or
    /// `(A and (B and C))`, and Kaizen #171 ("FAQs on COQL API", question 2) shows the flat
    /// `A and B and C` failing. Pairs leave no precedence to settle.
    fn condition(&mut self) -> Result<Cond, Failure> {
        let left = self.operand()?;
        let and = if self.keyword("and") {
            true
        } else if self.keyword("or") {
            false
        } else {
            return Ok(left);
        };
        let right = self.operand()?;
        if matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or")) {
            return Err(self.error());
        }
        let (left, right) = (Box::new(left), Box::new(right));
        Ok(if and { Cond::And(left, right) } else { Cond::Or(left, right) })
    }

    /// A bracketed level or one comparison.
    fn operand(&mut self) -> Result<Cond, Failure> {
        if self.symbol("(") {
            let inner = self.condition()?;
            return if self.symbol(")") { Ok(inner) } else { Err(self.error()) };
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Cond, Failure> {
        let field = self.ident()?;
        if self.keyword("is") {
            let negated = self.keyword("not");
            self.expect_keyword("null")?;
            return Ok(Cond::Null(field, negated));
        }
        let negated = self.keyword("not");
        if self.keyword("like") {
            return match self.peek() {
                Some(Tok::Str(pattern)) => {
                    let pattern = pattern.clone();
                    self.at += 1;
                    Ok(Cond::Like(field, negated, pattern))
                }
                _ => Err(self.error()),
            };
        }
        if self.keyword("in") {
            if !self.symbol("(") {
                return Err(self.error());
            }
            let mut values = vec![self.value()?];
            while self.symbol(",") {
                values.push(self.value()?);
            }
            return if self.symbol(")") { Ok(Cond::In(field, negated, values)) } else { Err(self.error()) };
        }
        if negated {
            return Err(self.error());
        }
        let op = match self.peek() {
            Some(Tok::Sym(s)) if ["=", "!=", "<>", "<", ">", "<=", ">="].contains(s) => *s,
            _ => return Err(self.error()),
        };
        self.at += 1;
        Ok(Cond::Cmp(field, op, self.value()?))
    }

    fn query(&mut self) -> Result<Query, Failure> {
        self.expect_keyword("select")?;
        let mut fields = Vec::new();
        let mut count = None;
        loop {
            let aggregate = matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("count")) && matches!(self.tokens.get(self.at + 1).map(|t| &t.tok), Some(Tok::Sym("(")));
            if aggregate {
                self.at += 2;
                let field = self.ident()?;
                if !self.symbol(")") || count.is_some() {
                    return Err(self.error());
                }
                count = Some(field);
            } else {
                fields.push(self.ident()?);
            }
            if !self.symbol(",") {
                break;
            }
        }
        // Zoho: a plain column beside an aggregate needs a group by, which this subset lacks.
        if count.is_some() && !fields.is_empty() {
            return Err(Failure::Syntax(SyntaxError { near: fields.first().cloned().unwrap_or_default(), line: 1, column: 1 }));
        }
        self.expect_keyword("from")?;
        let module = self.ident()?;
        let filter = if self.keyword("where") { Some(self.condition()?) } else { None };
        let mut order = Vec::new();
        if self.keyword("order") {
            self.expect_keyword("by")?;
            loop {
                let field = self.ident()?;
                let descending = self.keyword("desc");
                if !descending {
                    self.keyword("asc");
                }
                order.push((field, descending));
                if !self.symbol(",") {
                    break;
                }
            }
        }
        let (mut offset, mut limit) = (0, DEFAULT_ROWS);
        if self.keyword("limit") {
            let first = self.number()?;
            if self.symbol(",") {
                offset = first;
                limit = self.number()?;
            } else {
                limit = first;
                if self.keyword("offset") {
                    offset = self.number()?;
                }
            }
            if limit > MAX_ROWS {
                return Err(Failure::Limit(MAX_ROWS));
            }
            if offset + limit > ROW_CEILING {
                return Err(Failure::Limit(ROW_CEILING));
            }
        }
        if self.at < self.tokens.len() {
            return Err(self.error());
        }
        Ok(Query { fields, count, module, filter, order, offset, limit })
    }
}

/// A field's value; dotted names reach into lookups (`Owner.name`).
fn lookup<'r>(record: &'r Map<String, Value>, field: &str) -> Option<&'r Value> {
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

fn parse_time(text: &str) -> Option<i64> {
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
fn compare(a: &Value, b: &Value) -> Ordering {
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
enum SortKey {
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
    fn of(value: Option<&Value>) -> SortKey {
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

fn like(value: &str, pattern: &str) -> bool {
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

fn matches(record: &Map<String, Value>, cond: &Cond) -> bool {
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

#[cfg(test)]
fn project_row(record: &Map<String, Value>, fields: &[String]) -> Value {
    let mut row = Map::new();
    for f in fields {
        row.insert(f.clone(), lookup(record, f).cloned().unwrap_or(Value::Null));
    }
    row.insert("id".into(), record.get("id").cloned().unwrap_or(Value::Null));
    Value::Object(row)
}

/// The least (Modified_Time, id) a row matching `cond` can have, read from its conjuncts:
/// `Modified_Time >= t`, `Modified_Time > t`, and the keyset form
/// `(Modified_Time > t or (Modified_Time = t and id > x))`. Rows are still checked in full.
fn lower_bound(cond: &Cond) -> (i64, u64) {
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
fn upper_bound(cond: &Cond) -> (i64, u64) {
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

fn fields_of(cond: &Cond, out: &mut Vec<String>) {
    match cond {
        Cond::And(a, b) | Cond::Or(a, b) => {
            fields_of(a, out);
            fields_of(b, out);
        }
        Cond::Cmp(f, ..) | Cond::Like(f, ..) | Cond::In(f, ..) | Cond::Null(f, ..) => out.push(f.clone()),
    }
}

pub fn query(shared: &Shared, request: &RecordedRequest) -> Response {
    let Some(text) = request.json().and_then(|b| b.get("select_query").and_then(Value::as_str).map(str::to_string)) else {
        return error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "select_query" }));
    };
    let tokens = match tokenize(&text) {
        Ok(tokens) => tokens,
        Err(e) => return error_response(400, "SYNTAX_ERROR", "invalid query formed", json!({ "near": e.near, "line": e.line, "column": e.column })),
    };
    let end = (text.lines().count().max(1), text.lines().last().map_or(1, |l| l.chars().count() + 1));
    let query = match (Parser { tokens, at: 0, end }).query() {
        Ok(q) => q,
        Err(Failure::Syntax(e)) => return error_response(400, "SYNTAX_ERROR", "invalid query formed", json!({ "near": e.near, "line": e.line, "column": e.column })),
        Err(Failure::Limit(limit)) => return error_response(400, "LIMIT_EXCEEDED", "limit exceeded", json!({ "by": "limit", "limit": limit })),
    };
    if query.fields.len() > MAX_SELECT_FIELDS {
        return error_response(400, "LIMIT_EXCEEDED", "limit exceeded", json!({ "by": "select", "limit": MAX_SELECT_FIELDS }));
    }
    if query.filter.as_ref().map_or(0, criteria) > MAX_CRITERIA {
        return error_response(400, "LIMIT_EXCEEDED", "limit exceeded", json!({ "by": "criteria", "limit": MAX_CRITERIA }));
    }
    let mut data = shared.data();
    let Some(module) = data.modules.get_mut(&query.module) else {
        return error_response(400, "INVALID_QUERY", "invalid query formed", json!({ "clause": "from", "near": query.module }));
    };
    // A module outside COQL's list (Notes, a linking module, ...) is refused though the org has it.
    if !crate::crm::module_reach::coql_reads(&query.module, module) {
        return error_response(400, "INVALID_QUERY", "invalid query formed", json!({ "clause": "from", "module": query.module }));
    }
    let mut used = query.fields.clone();
    used.extend(query.count.iter().cloned());
    query.filter.iter().for_each(|f| fields_of(f, &mut used));
    used.extend(query.order.iter().map(|(f, _)| f.clone()));
    for field in &used {
        let base = field.split('.').next().unwrap_or("");
        let Some(described) = module.fields.iter().find(|d| d.api_name == base) else {
            return error_response(400, "INVALID_QUERY", "column given seems to be invalid", json!({ "column_name": field, "clause": "select" }));
        };
        if let Some(reason) = unreadable(&query.module, base, described.data_type) {
            return error_response(400, "INVALID_QUERY", "data type not supported", json!({ "column_name": field, "data_type": described.data_type, "clause": "select", "reason": reason }));
        }
    }
    if let Some(counted) = &query.count {
        let data_type = module.fields.iter().find(|d| d.api_name == *counted).map_or("", |d| d.data_type);
        if !countable(counted, data_type) {
            return error_response(
                400,
                "INVALID_QUERY",
                "data type not supported",
                json!({ "column_name": counted, "data_type": data_type, "clause": "select", "reason": "COUNT works on number, lookup and picklist fields" }),
            );
        }
        let n = module.records.values().filter(|r| lookup(r, counted).is_some() && query.filter.as_ref().is_none_or(|f| matches(r, f))).count();
        return json_response(200, &json!({ "data": [{ format!("COUNT({counted})"): n }], "info": { "count": 1, "more_records": false } }));
    }
    // The sweep's shape (keyset on Modified_Time, id) is answered from an ordered index, as a
    // database would: seek to the lower bound, scan until the page is full.
    let sweep_order = query.order.len() == 2 && query.order[0] == ("Modified_Time".to_string(), false) && query.order[1] == ("id".to_string(), false);
    if sweep_order {
        refresh_index(module);
    }
    let (page, more) = if sweep_order { from_index(module, &query) } else { full_scan(module, &query) };
    if page.is_empty() {
        return empty_response(204);
    }
    // Written straight from the stored records: a 2,000-row page is not copied into a tree first.
    let names = Projection::names(&query.fields);
    let rows: Vec<Projection<'_>> = page.iter().map(|record| Projection { record, names: &names }).collect();
    #[derive(serde::Serialize)]
    struct Info {
        count: usize,
        more_records: bool,
    }
    #[derive(serde::Serialize)]
    struct Answer<'a> {
        data: Vec<Projection<'a>>,
        info: Info,
    }
    match serde_json::to_vec(&Answer { data: rows, info: Info { count: page.len(), more_records: more } }) {
        Ok(body) => axum::response::Response::builder().status(200).header("content-type", "application/json;charset=UTF-8").body(axum::body::Body::from(body)).unwrap_or_else(|_| empty_response(500)),
        Err(_) => empty_response(500),
    }
}

/// A row as `project_row` makes it, written without building it: the asked fields and the
/// id, in key order, nulls for what the record lacks.
struct Projection<'a> {
    record: &'a Map<String, Value>,
    names: &'a [&'a str],
}

impl Projection<'_> {
    /// The row's keys in the order a JSON object of them is written (sorted, once each).
    fn names(fields: &[String]) -> Vec<&str> {
        let mut names: Vec<&str> = fields.iter().map(String::as_str).chain(["id"]).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

impl serde::Serialize for Projection<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.names.len()))?;
        for name in self.names {
            let value = if *name == "id" { self.record.get("id") } else { lookup(self.record, name) };
            map.serialize_entry(name, value.unwrap_or(&Value::Null))?;
        }
        map.end()
    }
}

/// Rebuilds the (Modified_Time, id) index when the module changed since it was built.
fn refresh_index(module: &mut Module) {
    if module.by_modified.0 != module.revision || module.by_modified.1.len() != module.records.len() {
        let mut index: Vec<(i64, u64)> = module.records.iter().map(|(id, r)| (r.get("Modified_Time").and_then(Value::as_str).and_then(parse_time).unwrap_or(i64::MIN), *id)).collect();
        index.sort_unstable();
        module.by_modified = (module.revision, index);
    }
}

/// A page of a sweep-ordered query from the (Modified_Time, id) index, as a database would:
/// seek to the lower bound, scan until the page is full or past the upper bound.
fn from_index<'m>(module: &'m Module, query: &Query) -> (Vec<&'m Map<String, Value>>, bool) {
    let bound = query.filter.as_ref().map_or((i64::MIN, 0), lower_bound);
    let end = query.filter.as_ref().map_or((i64::MAX, u64::MAX), upper_bound);
    let index = &module.by_modified.1;
    let start = index.partition_point(|key| *key < bound);
    let mut page = Vec::new();
    let mut matched = 0;
    let mut more = false;
    for key in &index[start..] {
        if *key > end {
            break;
        }
        let Some(record) = module.records.get(&key.1) else { continue };
        if !query.filter.as_ref().is_none_or(|f| matches(record, f)) {
            continue;
        }
        if matched >= query.offset + query.limit {
            more = true;
            break;
        }
        if matched >= query.offset {
            page.push(record);
        }
        matched += 1;
    }
    (page, more)
}

/// A page of any query: every record checked, the matches sorted.
fn full_scan<'m>(module: &'m Module, query: &Query) -> (Vec<&'m Map<String, Value>>, bool) {
    let mut rows: Vec<(Vec<SortKey>, &Map<String, Value>)> =
        module.records.values().filter(|r| query.filter.as_ref().is_none_or(|f| matches(r, f))).map(|r| (query.order.iter().map(|(field, _)| SortKey::of(lookup(r, field))).collect(), r)).collect();
    rows.sort_by(|(a, _), (b, _)| {
        for ((x, y), (_, descending)) in a.iter().zip(b).zip(&query.order) {
            let ordering = x.cmp(y);
            let ordering = if *descending { ordering.reverse() } else { ordering };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    });
    let total = rows.len();
    let page: Vec<&Map<String, Value>> = rows.iter().skip(query.offset).take(query.limit).map(|(_, r)| *r).collect();
    let more = query.offset + page.len() < total;
    (page, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("Number0042", "number%"));
        assert!(like("Number0042", "%0042"));
        assert!(like("Number0042", "%mber00%"));
        assert!(!like("Number0042", "%0043"));
        assert!(like("abc", "abc"));
    }

    /// A row written from the record is the row `project_row` builds, byte for byte.
    #[test]
    fn projected_rows_are_written_as_built() {
        let mut record = Map::new();
        for (k, v) in [("id", json!("12")), ("B", json!(null)), ("A", json!("ä\"\n")), ("Owner", json!({ "name": "O", "id": "3" }))] {
            record.insert(k.into(), v);
        }
        for fields in [vec!["A", "B", "Missing"], vec!["id", "A", "A"], vec!["Owner.name", "Owner", "A"], vec!["Z"]] {
            let fields: Vec<String> = fields.into_iter().map(String::from).collect();
            let names = Projection::names(&fields);
            let written = serde_json::to_string(&Projection { record: &record, names: &names }).unwrap_or_default();
            assert_eq!(written, project_row(&record, &fields).to_string(), "{fields:?}");
        }
    }

    /// The index answers every keyset shape (lower and upper bounds, offsets, ties on one
    /// second, records without a time) exactly as a full scan and sort does.
    #[test]
    fn the_index_answers_as_the_full_scan() {
        let mut module = Module::default();
        let times = ["2024-01-01T00:00:00+00:00", "2024-01-01T00:00:01+00:00", "2024-01-01T00:00:01+00:00", "2024-01-01T05:30:00+05:30", "2024-03-01T10:00:00-07:00"];
        for id in 1..=400u64 {
            let mut record = Map::new();
            record.insert("id".into(), json!(id.to_string()));
            let time = if id % 97 == 0 { Value::Null } else { json!(times[(id * 7 % 5) as usize]) };
            record.insert("Modified_Time".into(), time);
            record.insert("Name".into(), json!(format!("n{}", id % 3)));
            module.records.insert(id, record);
        }
        module.revision = 1;
        let t = "2024-01-01T00:00:01+00:00";
        let filters = [
            "id is not null".to_string(),
            format!("Modified_Time >= '{t}'"),
            format!("Modified_Time > '{t}'"),
            format!("Modified_Time <= '{t}'"),
            format!("Modified_Time < '{t}'"),
            format!("(Modified_Time > '{t}' or (Modified_Time = '{t}' and id > 150))"),
            format!("(Modified_Time < '{t}' or (Modified_Time = '{t}' and id <= 150))"),
            format!("(((Modified_Time > '2024-01-01T00:00:00Z' or (Modified_Time = '2024-01-01T00:00:00Z' and id > 10)) and (Modified_Time < '{t}' or (Modified_Time = '{t}' and id <= 300))) and Name = 'n1')"),
            format!("((Modified_Time >= '2023-12-31T00:00:00Z' and Modified_Time <= '{t}') or Name = 'n2')"),
            format!("(Modified_Time >= '2023-12-31T00:00:00Z' and (Modified_Time <= '{t}' and Name = 'n1'))"),
        ];
        for filter in &filters {
            for limit in ["limit 0, 7", "limit 5, 50", "limit 0, 2000", "limit 390, 10"] {
                let text = format!("select Name, Modified_Time from M where {filter} order by Modified_Time asc, id asc {limit}");
                let tokens = tokenize(&text).unwrap_or_else(|_| panic!("tokens: {text}"));
                let Ok(query) = (Parser { tokens, at: 0, end: (1, 1) }).query() else { panic!("parses: {text}") };
                refresh_index(&mut module);
                assert_eq!(from_index(&module, &query), full_scan(&module, &query), "{text}");
            }
        }
    }

    /// The answer to one COQL query against a freshly seeded sandbox: status and body.
    async fn ask(shared: &Shared, text: &str) -> (u16, Value) {
        let request = RecordedRequest {
            method: "POST".into(),
            path: "/crm/v8/coql".into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: serde_json::to_vec(&json!({ "select_query": text })).unwrap_or_default(),
            received_ms: 0,
            seq: 0,
            response_status: None,
            response_body: None,
            faulted: false,
        };
        let response = query(shared, &request);
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn seeded() -> Shared {
        let shared = Shared::new();
        crate::seed::seed(&shared);
        shared
    }

    /// More than two criteria at one bracket level is a syntax error, `and`, `or` or mixed;
    /// pairs at every level, either way round, are read.
    #[tokio::test]
    async fn criteria_are_grouped_in_pairs() {
        let shared = seeded();
        for flat in [
            "select Last_Name from Contacts where id is not null and Email is not null and Phone is not null",
            "select Last_Name from Contacts where id is not null or Email is not null or Phone is not null",
            "select Last_Name from Contacts where id is not null and Email is not null or Phone is not null",
            "select Last_Name from Contacts where ((id is not null and Email is not null) and Phone is not null or Mailing_City = 'Austin')",
        ] {
            let (status, body) = ask(&shared, flat).await;
            assert_eq!((status, body["code"].as_str()), (400, Some("SYNTAX_ERROR")), "{flat}: {body}");
            assert_eq!(body["message"], "invalid query formed");
            assert!(matches!(body["details"]["near"].as_str(), Some("and" | "or")), "{body}");
        }
        for grouped in [
            "select Last_Name from Contacts where ((id is not null and Email is not null) and Phone is not null) limit 2",
            "select Last_Name from Contacts where (id is not null and (Email is not null and Phone is not null)) limit 2",
            "select Last_Name from Contacts where (id is not null and Email is not null) or Phone is not null limit 2",
            "select Last_Name from Contacts where Email is not null limit 2",
        ] {
            let (status, body) = ask(&shared, grouped).await;
            assert_eq!((status, body["info"]["count"].as_u64()), (200, Some(2)), "{grouped}: {body}");
        }
    }

    /// 25 criteria are read, the 26th is refused; 500 selected fields are read, the 501st is refused.
    #[tokio::test]
    async fn criteria_and_selected_fields_have_zohos_limits() {
        let shared = seeded();
        let nested = |n: usize| (1..n).fold("id is not null".to_string(), |w, _| format!("({w} and Email is not null)"));
        let (status, body) = ask(&shared, &format!("select Last_Name from Contacts where {} limit 1", nested(25))).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = ask(&shared, &format!("select Last_Name from Contacts where {} limit 1", nested(26))).await;
        assert_eq!((status, body["code"].as_str(), body["details"].clone()), (400, Some("LIMIT_EXCEEDED"), json!({ "by": "criteria", "limit": 25 })));
        let columns = |n: usize| vec!["Last_Name"; n].join(", ");
        let (status, body) = ask(&shared, &format!("select {} from Contacts where id is not null limit 1", columns(500))).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = ask(&shared, &format!("select {} from Contacts where id is not null limit 1", columns(501))).await;
        assert_eq!((status, body["code"].as_str(), body["details"].clone()), (400, Some("LIMIT_EXCEEDED"), json!({ "by": "select", "limit": 500 })));
    }

    /// COUNT counts number, lookup and picklist fields only, never the record id.
    #[tokio::test]
    async fn count_takes_documented_field_types() {
        let shared = seeded();
        let (status, body) = ask(&shared, "select COUNT(Created_By) from Contacts where id is not null").await;
        assert_eq!((status, body["data"][0]["COUNT(Created_By)"].as_u64()), (200, Some(crate::seed::CONTACTS as u64)), "{body}");
        let (status, body) = ask(&shared, "select COUNT(Lead_Source) from Leads where id is not null").await;
        assert_eq!(status, 200, "{body}");
        for (query, field, data_type) in [
            ("select COUNT(id) from Contacts where id is not null", "id", "bigint"),
            ("select COUNT(Last_Name) from Contacts where id is not null", "Last_Name", "text"),
            ("select COUNT(Modified_Time) from Contacts where id is not null", "Modified_Time", "datetime"),
        ] {
            let (status, body) = ask(&shared, query).await;
            assert_eq!((status, body["code"].as_str(), body["message"].as_str()), (400, Some("INVALID_QUERY"), Some("data type not supported")), "{query}: {body}");
            assert_eq!((body["details"]["column_name"].as_str(), body["details"]["data_type"].as_str()), (Some(field), Some(data_type)));
        }
    }

    /// What COQL cannot read is an INVALID_QUERY wherever the query names it: by data type
    /// (file upload, image upload, multi-select lookup, subform) and by name (Events'
    /// Participants, a bigint in Zoho's metadata; Calls' CTI_Entry; line items).
    #[tokio::test]
    async fn fields_coql_cannot_read_are_refused() {
        let shared = seeded();
        for (query, column, data_type) in [
            ("select Event_Title, Participants from Events where id is not null", "Participants", "bigint"),
            ("select Subject, CTI_Entry from Calls where id is not null", "CTI_Entry", "boolean"),
            ("select Name, Proof_Of_Delivery from Shipments where id is not null", "Proof_Of_Delivery", "fileupload"),
            ("select Package_Photo from Shipments where id is not null", "Package_Photo", "imageupload"),
            ("select Name from Shipments where Handlers is not null", "Handlers", "multiselectlookup"),
            ("select Subject from Quotes where id is not null order by Product_Details", "Product_Details", "subform"),
        ] {
            let (status, body) = ask(&shared, query).await;
            assert_eq!((status, body["code"].as_str(), body["message"].as_str()), (400, Some("INVALID_QUERY"), Some("data type not supported")), "{query}: {body}");
            assert_eq!((body["details"]["column_name"].as_str(), body["details"]["data_type"].as_str()), (Some(column), Some(data_type)), "{query}");
        }
        let (status, body) = ask(&shared, "select Event_Title, Start_DateTime from Events where id is not null").await;
        assert_eq!((status, body["info"]["count"].as_u64()), (200, Some(3)), "{body}");
    }
}
