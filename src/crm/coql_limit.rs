//! COQL's LIMIT clause as Zoho reads it, for the rows a query asks for (COQL's credits follow
//! them: "Query API - An Overview"). A leaf module: the credit table ([`crate::credits`]) and
//! the COQL action both read it.

/// Rows Zoho returns per COQL call at most.
pub const ROWS_PER_CALL: usize = 2_000;

/// What follows the query's own LIMIT keyword, if it has one: the last `limit` word outside
/// string literals (a `\'` inside one does not end it) and outside parentheses (a subquery's).
pub(crate) fn limit_clause(query: &str) -> Option<&str> {
    let (mut in_string, mut escaped, mut depth) = (false, false, 0usize);
    let mut word_start: Option<usize> = None;
    let mut last = None;
    for (at, c) in query.char_indices().chain(std::iter::once((query.len(), ' '))) {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '\'') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            word_start.get_or_insert(at);
            continue;
        }
        if depth == 0 && word_start.and_then(|from| query.get(from..at)).is_some_and(|w| w.eq_ignore_ascii_case("limit")) {
            last = Some(at);
        }
        word_start = None;
        match c {
            '\'' => in_string = true,
            '(' => depth = depth.saturating_add(1),
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    last.map(|at| query.get(at..).unwrap_or(""))
}

/// The rows a query asks for, as Zoho charges it: `LIMIT n` or `LIMIT offset, n`; without a
/// LIMIT, Zoho's default of 200 rows; a LIMIT not read as a number counts as the most rows a
/// call returns (credits are over-counted in doubt, never under).
pub(crate) fn rows_asked(query: &str) -> usize {
    const DEFAULT_ROWS: usize = 200;
    let Some(clause) = limit_clause(query) else { return DEFAULT_ROWS };
    let count = clause.split(',').take(2).last().unwrap_or("");
    match count.trim().split(|c: char| !c.is_ascii_digit()).next().filter(|n| !n.is_empty()) {
        // Digits past usize are as many rows as can be: the most credits, never a wrap.
        Some(digits) => digits.parse().unwrap_or(usize::MAX),
        None => ROWS_PER_CALL,
    }
}
