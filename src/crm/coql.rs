//! COQL: `POST /crm/v8/coql`, one call, or every row of a query walked in `LIMIT offset, count`
//! pages up to Zoho's 100,000-row ceiling.

use crate::client::{ApiCall, Client};
use crate::crm::response::{body_json, error_from_response};
use crate::error::{Result, ZohoError};
use crate::http::Method;
use serde_json::{json, Value};

/// Rows Zoho returns per COQL call at most.
pub const ROWS_PER_CALL: usize = 2_000;
/// Rows a COQL query can reach through LIMIT offsets.
pub const ROW_CEILING: usize = 100_000;

/// Does the query have a LIMIT clause of its own (outside string literals)?
fn has_limit(query: &str) -> bool {
    let mut in_string = false;
    let mut word = String::new();
    for c in query.chars().chain(std::iter::once(' ')) {
        if c == '\'' {
            in_string = !in_string;
            word.clear();
        } else if !in_string && (c.is_ascii_alphanumeric() || c == '_') {
            word.push(c);
        } else {
            if word.eq_ignore_ascii_case("limit") {
                return true;
            }
            word.clear();
        }
    }
    false
}

pub fn one_call(client: &Client, query: &str) -> Result<Value> {
    let response = client.send(ApiCall::new(Method::Post, "/crm/v8/coql").json(json!({ "select_query": query })))?;
    match response.status {
        200 => body_json(&response),
        204 => Ok(json!({ "data": [], "info": { "count": 0, "more_records": false } })),
        _ => Err(error_from_response(&response)),
    }
}

pub fn coql_query(client: &Client, query: &str, all_rows: bool) -> Result<Value> {
    let query = query.trim().trim_end_matches(';').trim();
    if !query.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("select")) {
        return Err(ZohoError::invalid_input("query must be a COQL select statement, e.g. select Last_Name, Email from Contacts where Last_Name is not null"));
    }
    if !all_rows {
        return one_call(client, query);
    }
    if has_limit(query) {
        return Err(ZohoError::invalid_input(
            "all-rows pages through the query with its own LIMIT clauses: remove LIMIT from the query, or turn all-rows off",
        ));
    }
    let mut rows = Vec::new();
    let mut calls = 0;
    let more_beyond_ceiling = loop {
        let page = one_call(client, &format!("{query} limit {}, {ROWS_PER_CALL}", rows.len()))?;
        calls += 1;
        let data = page.get("data").and_then(Value::as_array).cloned().unwrap_or_default();
        let more = page.pointer("/info/more_records").and_then(Value::as_bool).unwrap_or(false);
        let full = data.len() == ROWS_PER_CALL;
        rows.extend(data);
        if !more || !full {
            break false;
        }
        if rows.len() >= ROW_CEILING {
            break true;
        }
    };
    Ok(json!({ "data": rows, "info": { "count": rows.len(), "more_records": more_beyond_ceiling, "calls": calls } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_found_outside_strings_only() {
        assert!(has_limit("select Email from Leads limit 10"));
        assert!(has_limit("select Email from Leads LIMIT 0, 10"));
        assert!(!has_limit("select Email from Leads where Last_Name = 'no limit here'"));
        assert!(!has_limit("select Limitless__c from Leads"));
    }
}
