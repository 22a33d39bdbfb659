//! COQL: `POST /crm/v8/coql`, one call, or the rows of a query walked in `LIMIT offset, count`
//! pages up to Zoho's 100,000-row ceiling. Rows pass through as Zoho's text; an all-rows walk
//! stops at [`ROW_BYTES_BUDGET`] of row text and says where to continue (`info.next_offset`).

use crate::client::{coql_credits, ApiCall, Client};
use crate::crm::response::{content, list_page, listing_text};
use crate::error::{Result, ZohoError};
use crate::http::Method;
use serde::Deserialize;
use serde_json::json;

/// Rows Zoho returns per COQL call at most.
pub const ROWS_PER_CALL: usize = 2_000;
/// Rows a COQL query can reach through LIMIT offsets.
pub const ROW_CEILING: usize = 100_000;
/// Row text one all-rows step returns at most (the output is held whole, next to one answer
/// being read): past it the step ends with `info.next_offset` to continue from.
pub const ROW_BYTES_BUDGET: usize = 32 << 20;

/// Does the query have a LIMIT clause of its own (outside string literals)?
fn has_limit(query: &str) -> bool {
    limit_clause(query).is_some()
}

/// What follows the query's LIMIT keyword (outside string literals), if it has one.
fn limit_clause(query: &str) -> Option<&str> {
    let mut in_string = false;
    let mut word_start: Option<usize> = None;
    for (at, c) in query.char_indices().chain(std::iter::once((query.len(), ' '))) {
        if c == '\'' {
            in_string = !in_string;
            word_start = None;
        } else if !in_string && (c.is_ascii_alphanumeric() || c == '_') {
            word_start.get_or_insert(at);
        } else {
            if word_start.and_then(|from| query.get(from..at)).is_some_and(|w| w.eq_ignore_ascii_case("limit")) {
                return Some(query.get(at..).unwrap_or(""));
            }
            word_start = None;
        }
    }
    None
}

/// The rows a query asks for, as Zoho charges it: `LIMIT n` or `LIMIT offset, n`; without a
/// readable LIMIT, Zoho's default of 200 rows.
fn rows_asked(query: &str) -> usize {
    const DEFAULT_ROWS: usize = 200;
    let Some(clause) = limit_clause(query) else { return DEFAULT_ROWS };
    let count = clause.split(',').take(2).last().unwrap_or("");
    match count.trim().split(|c: char| !c.is_ascii_digit()).next().filter(|n| !n.is_empty()) {
        // Digits past usize are as many rows as can be: the most credits, never a wrap.
        Some(digits) => digits.parse().unwrap_or(usize::MAX),
        None => DEFAULT_ROWS,
    }
}

/// Sends one COQL query, its credits counted by Zoho's table for the rows it asks for.
fn send(client: &Client, query: &str) -> Result<crate::http::Response> {
    client.send(ApiCall::new(Method::Post, "/crm/v8/coql").json(json!({ "select_query": query })).credits(coql_credits(rows_asked(query))))
}

const NO_ROWS: &str = r#"{"data":[],"info":{"count":0,"more_records":false}}"#;

pub fn one_call(client: &Client, query: &str) -> Result<String> {
    let response = send(client, query)?;
    match content(&response)? {
        Some(response) => {
            let page = list_page(response, ROWS_PER_CALL)?;
            Ok(listing_text(page.data.iter().map(|r| r.get()), page.info.map(|i| i.get())))
        }
        None => Ok(NO_ROWS.to_string()),
    }
}

/// `info.more_records`, read without building `info`.
#[derive(Deserialize, Default)]
struct MoreRecords {
    #[serde(default)]
    more_records: Option<bool>,
}

/// The COQL Query action: `all-rows` defaults to one call.
pub fn coql_query_action(client: &Client, input: &crate::wit::crm::CoqlQueryInput) -> Result<String> {
    coql_query_from(client, &input.query, input.all_rows.unwrap_or(false), input.offset)
}

pub fn coql_query(client: &Client, query: &str, all_rows: bool) -> Result<String> {
    coql_query_from(client, query, all_rows, None)
}

/// [`coql_query`], an all-rows walk starting at `offset` (a previous step's `info.next_offset`).
pub fn coql_query_from(client: &Client, query: &str, all_rows: bool, offset: Option<u32>) -> Result<String> {
    let query = query.trim().trim_end_matches(';').trim();
    if !query.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("select")) {
        return Err(ZohoError::invalid_input("query must be a COQL select statement, e.g. select Last_Name, Email from Contacts where Last_Name is not null"));
    }
    let start = offset.map_or(0, |o| o as usize);
    if offset.is_some() && !all_rows {
        return Err(ZohoError::invalid_input("offset continues an all-rows walk (from info.next_offset): turn all-rows on, or put LIMIT offset, count in the query"));
    }
    if start >= ROW_CEILING {
        return Err(ZohoError::invalid_input(format!("offset {start} is past the {ROW_CEILING} rows Zoho lets COQL reach")));
    }
    if !all_rows {
        return one_call(client, query);
    }
    if has_limit(query) {
        return Err(ZohoError::invalid_input(
            "all-rows pages through the query with its own LIMIT clauses: remove LIMIT from the query, or turn all-rows off",
        ));
    }
    let mut out = String::from("{\"data\":[");
    let mut count = 0usize;
    let mut bytes = 0usize;
    let mut at = start;
    let mut calls = 0u32;
    // Some(offset) when the step stopped by bytes with rows left; true when rows remain past the ceiling.
    let (next_offset, more_beyond_ceiling) = 'walk: loop {
        if bytes >= ROW_BYTES_BUDGET {
            break (Some(at), false);
        }
        let response = send(client, &format!("{query} limit {at}, {ROWS_PER_CALL}"))?;
        calls += 1;
        let page = match content(&response)? {
            Some(response) => list_page(response, ROWS_PER_CALL)?,
            None => break (None, false),
        };
        let more = page.info.and_then(|i| serde_json::from_str::<MoreRecords>(i.get()).ok()).unwrap_or_default().more_records.unwrap_or(false);
        let full = page.data.len() == ROWS_PER_CALL;
        for row in &page.data {
            let text = row.get();
            // The first row always goes, so every step makes progress.
            if count > 0 && bytes.saturating_add(text.len()) > ROW_BYTES_BUDGET {
                break 'walk (Some(at), false);
            }
            if count > 0 {
                out.push(',');
            }
            out.push_str(text);
            bytes = bytes.saturating_add(text.len() + 1);
            count += 1;
            at += 1;
        }
        if !more || !full {
            break (None, false);
        }
        if at >= ROW_CEILING {
            break (None, true);
        }
    };
    let mut info = json!({ "count": count, "more_records": more_beyond_ceiling || next_offset.is_some(), "calls": calls });
    if let Some(next) = next_offset {
        info["next_offset"] = json!(next);
    }
    out.push_str("],\"info\":");
    out.push_str(&info.to_string());
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_follow_the_rows_a_query_asks_for() {
        for (query, rows) in [
            ("select Email from Leads", 200),
            ("select Email from Leads limit 2000", 2000),
            ("select Email from Leads LIMIT 100, 1000", 1000),
            ("select Email from Leads limit 0,201", 201),
            ("select Email from Leads where Last_Name = 'limit 2000'", 200),
            ("select Email from Leads limit", 200),
            ("select Email from Leads limit 99999999999999999999999", usize::MAX),
        ] {
            assert_eq!(rows_asked(query), rows, "{query}");
        }
    }

    #[test]
    fn limit_is_found_outside_strings_only() {
        assert!(has_limit("select Email from Leads limit 10"));
        assert!(has_limit("select Email from Leads LIMIT 0, 10"));
        assert!(!has_limit("select Email from Leads where Last_Name = 'no limit here'"));
        assert!(!has_limit("select Limitless__c from Leads"));
    }
}
