//! COQL: `POST /crm/v8/coql`, one call, or the rows of a query walked in `LIMIT offset, count`
//! pages up to Zoho's 100,000-row ceiling. Rows pass through as Zoho's text; an all-rows walk
//! stops at [`ROW_BYTES_BUDGET`] of row text and says where to continue (`info.next_offset`).

use crate::client::{coql_credits, ApiCall, Client};
use crate::crm::coql_limit::{limit_clause, rows_asked};
use crate::crm::response::{content, list_page, listing_text};
use crate::error::{Result, ZohoError};
use crate::http::Method;
use serde::Deserialize;
use serde_json::json;

/// Rows Zoho returns per COQL call at most.
pub use crate::crm::coql_limit::ROWS_PER_CALL;
/// Rows a COQL query can reach through LIMIT offsets.
pub const ROW_CEILING: usize = 100_000;
/// Row text one all-rows step returns at most (the output is held whole, next to one answer
/// being read): past it the step ends with `info.next_offset` to continue from.
pub const ROW_BYTES_BUDGET: usize = 32 << 20;

/// Does the query have a LIMIT clause of its own (outside string literals)?
fn has_limit(query: &str) -> bool {
    limit_clause(query).is_some()
}

/// The rows one all-rows call asks for from `at`: a call's most, and never past the reach.
fn reach_rows(at: usize) -> usize {
    ROWS_PER_CALL.min(ROW_CEILING.saturating_sub(at))
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

/// A COQL query; with `all_rows`, a walk starting at `offset` (a previous step's `info.next_offset`).
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
        return Err(ZohoError::invalid_input("all-rows pages through the query with its own LIMIT clauses: remove LIMIT from the query, or turn all-rows off"));
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
        // COQL reaches row 100,000 and no further: offset + count past it is refused
        // ("Query API - Limitations", v8: "You can fetch up to 1,00,000 records using pagination
        // with LIMIT and OFFSET"), so the last call asks only for the rows up to the reach.
        let rows = reach_rows(at);
        let response = send(client, &format!("{query} limit {at}, {rows}"))?;
        calls += 1;
        let page = match content(&response)? {
            Some(response) => list_page(response, rows)?,
            None => break (None, false),
        };
        let more = page.info.and_then(|i| serde_json::from_str::<MoreRecords>(i.get()).ok()).unwrap_or_default().more_records.unwrap_or(false);
        let full = page.data.len() == rows;
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
    if more_beyond_ceiling {
        // Said in the answer, never silently: rows remain that COQL's offsets cannot reach.
        info["reach_ended"] = json!(true);
        info["reach"] = json!(ROW_CEILING);
        info["message"] = json!(format!(
            "COQL reaches the first {ROW_CEILING} rows of a query through LIMIT offsets, and this query has more: narrow it with a WHERE on an ordered field (e.g. Modified_Time or id) to read the rest"
        ));
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
            ("select Email from Leads limit", ROWS_PER_CALL),
            ("select Email from Leads limit 99999999999999999999999", usize::MAX),
        ] {
            assert_eq!(rows_asked(query), rows, "{query}");
        }
    }

    /// An all-rows call never asks past row 100,000: `limit 99500, 2000` is refused by Zoho.
    #[test]
    fn all_rows_calls_stop_at_the_reach() {
        assert_eq!(reach_rows(0), 2_000);
        assert_eq!(reach_rows(98_000), 2_000);
        assert_eq!(reach_rows(99_500), 500);
        assert_eq!(reach_rows(99_999), 1);
        assert_eq!(reach_rows(100_000), 0);
        assert_eq!(reach_rows(usize::MAX), 0);
    }

    #[test]
    fn limit_is_found_outside_strings_only() {
        assert!(has_limit("select Email from Leads limit 10"));
        assert!(has_limit("select Email from Leads LIMIT 0, 10"));
        assert!(!has_limit("select Email from Leads where Last_Name = 'no limit here'"));
        assert!(!has_limit("select Limitless__c from Leads"));
    }
    /// Attack: queries that ask 2,000 rows (3 credits) counted as fewer. The first `limit` word
    /// outside quotes is taken, and a backslash-escaped quote flips the string state.
    #[test]
    fn a_query_asking_two_thousand_rows_counts_three_credits() {
        let mut wrong = Vec::new();
        for query in [
            // COQL escapes a quote in a value with a backslash: the rest reads as a string.
            r"select Email from Leads where Last_Name = 'O\'Brien' limit 2000",
            // A subquery's LIMIT comes first; the outer one is what the page asks.
            "select Email from Leads where Owner in (select id from users limit 1) limit 2000",
            // A field or alias spelled like the keyword.
            "select Limit, Email from Leads limit 2000",
        ] {
            let rows = rows_asked(query);
            if crate::client::coql_credits(rows) != 3 {
                wrong.push(format!("{query} -> {rows} rows"));
            }
        }
        assert!(wrong.is_empty(), "under-counted: {wrong:#?}");
    }

    /// Nothing panics on Unicode, quotes or huge numbers around the keyword.
    #[test]
    fn any_text_is_counted_without_a_panic() {
        for query in [
            "select é from Leads limité 5",
            "limit",
            "LIMIT é",
            "select x from y limit 1é",
            "select x limit ,",
            "select 'x limit 99999999999999999999999999",
            "select x from y limit\u{a0}2000",
            "select x from y limit -1",
            "select x from y limit 2000e0",
        ] {
            let _ = rows_asked(query);
            let _ = has_limit(query);
        }
    }
}
