//! COQL's text read as a query: tokens, then SELECT, FROM, WHERE (comparisons, and/or,
//! brackets), ORDER BY and LIMIT, with the syntax errors Zoho answers.

use super::limits::{DEFAULT_ROWS, MAX_ROWS, ROW_CEILING};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Sym(&'static str),
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) text: String,
}

pub(super) struct SyntaxError {
    pub(super) near: String,
    pub(super) line: usize,
    pub(super) column: usize,
}

pub(super) fn tokenize(query: &str) -> Result<Vec<Token>, SyntaxError> {
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
pub(super) enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Cmp(String, &'static str, Value),
    Like(String, bool, String),
    In(String, bool, Vec<Value>),
    Null(String, bool),
}

pub(super) struct Query {
    pub(super) fields: Vec<String>,
    /// `COUNT(field)`: the field counted (an aggregate query answers one row).
    pub(super) count: Option<String>,
    pub(super) module: String,
    pub(super) filter: Option<Cond>,
    pub(super) order: Vec<(String, bool)>,
    pub(super) offset: usize,
    pub(super) limit: usize,
}

pub(super) struct Parser {
    pub(super) tokens: Vec<Token>,
    pub(super) at: usize,
    pub(super) end: (usize, usize),
}

pub(super) enum Failure {
    Syntax(SyntaxError),
    /// LIMIT past a call's rows or past the reach: the limit passed.
    Limit(usize),
}

impl Parser {
    pub(super) fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|t| &t.tok)
    }

    pub(super) fn error(&self) -> Failure {
        Failure::Syntax(match self.tokens.get(self.at) {
            Some(t) => SyntaxError { near: t.text.clone(), line: t.line, column: t.column },
            None => SyntaxError { near: String::new(), line: self.end.0, column: self.end.1 },
        })
    }

    pub(super) fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn expect_keyword(&mut self, word: &str) -> Result<(), Failure> {
        if self.keyword(word) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    pub(super) fn symbol(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn ident(&mut self) -> Result<String, Failure> {
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

    pub(super) fn number(&mut self) -> Result<usize, Failure> {
        match self.peek() {
            Some(Tok::Num(n)) => {
                let n = n.parse().map_err(|_| self.error())?;
                self.at += 1;
                Ok(n)
            }
            _ => Err(self.error()),
        }
    }

    pub(super) fn value(&mut self) -> Result<Value, Failure> {
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
    pub(super) fn condition(&mut self) -> Result<Cond, Failure> {
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
    pub(super) fn operand(&mut self) -> Result<Cond, Failure> {
        if self.symbol("(") {
            let inner = self.condition()?;
            return if self.symbol(")") { Ok(inner) } else { Err(self.error()) };
        }
        self.comparison()
    }

    pub(super) fn comparison(&mut self) -> Result<Cond, Failure> {
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

    pub(super) fn query(&mut self) -> Result<Query, Failure> {
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
