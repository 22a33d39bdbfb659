//! Pages past Zoho's 2,000-record `page` reach. Zoho serves them only through
//! `page_token`, so page N is reached by following `next_page_token` from the last page
//! `page` can address; the tokens met on the way are kept in storage, so a workflow asking
//! for page N, then N+1, pays one request per page rather than walking again.

use crate::client::Client;
use crate::crm::records::{ListQuery, DISCRETE_PAGING_LIMIT};
use crate::error::Result;
use crate::http::Response;
use crate::storage::{get_fresh, put_fresh};
use serde_json::{Map, Value};
use std::time::Duration;

/// Zoho keeps page tokens for a day; trust ours for an hour.
const TOKEN_TTL: Duration = Duration::from_secs(60 * 60);

/// Kept tokens: page number (as a string key) → the token that fetches that page.
type Tokens = Map<String, Value>;

/// The kept token nearest at or before `page`, beyond the numbered pages.
fn nearest(tokens: &Tokens, after: u32, page: u32) -> Option<(u32, String)> {
    tokens
        .iter()
        .filter_map(|(n, t)| Some((n.parse::<u32>().ok()?, t.as_str()?.to_string())))
        .filter(|(n, _)| *n > after && *n <= page)
        .max_by_key(|(n, _)| *n)
}

/// Tokens belong to one exact listing: module, fields, page size, order and view.
fn cache_key(query: &ListQuery, fields: &[String]) -> String {
    let signature = format!(
        "{}|{}|{}|{:?}|{:?}|{:?}",
        query.module,
        fields.join(","),
        query.per_page,
        query.sort_by,
        query.sort_order,
        query.cvid
    );
    // FNV-1a: a short stable name for the listing, not a security digest.
    let hash = signature.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    format!("crm/page-tokens/{}/{hash:016x}", query.module)
}

fn next_token(response: &Response) -> Option<String> {
    if response.status != 200 {
        return None;
    }
    let body: Value = serde_json::from_slice(&response.body).ok()?;
    let info = body.get("info")?;
    if info.get("more_records").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    info.get("next_page_token").and_then(Value::as_str).map(str::to_string)
}

/// The answer for page `page` of the listing.
pub fn fetch_page(client: &Client, query: &ListQuery, fields: &[String], page: u32) -> Result<Response> {
    let last_numbered = (DISCRETE_PAGING_LIMIT / query.per_page).max(1);
    let by_number = |n: u32| client.send(query.call(fields).query("page", n.to_string()));
    let by_token = |token: &str| client.send(query.call(fields).query("page_token", token));
    if page < last_numbered {
        return by_number(page);
    }
    let key = cache_key(query, fields);
    let mut tokens = match get_fresh(client.storage, &key, TOKEN_TTL)? {
        Some(Value::Object(tokens)) => tokens,
        _ => Tokens::new(),
    };
    let mut walked_from_scratch = false;
    let response = loop {
        // Start from the nearest kept token at or before the page, else the last numbered page.
        let start = nearest(&tokens, last_numbered, page);
        let (mut at, mut response) = match &start {
            Some((n, token)) => (*n, by_token(token)?),
            None => (last_numbered, by_number(last_numbered)?),
        };
        if start.is_some() && response.status == 400 && !walked_from_scratch {
            // The kept token expired or was revoked: walk again from the numbered pages.
            tokens = Tokens::new();
            walked_from_scratch = true;
            continue;
        }
        while at < page {
            let Some(token) = next_token(&response) else {
                // The listing ends before the asked page (answer as Zoho does for an empty
                // page), or Zoho refused a step (pass the refusal on).
                if response.status == 200 || response.status == 204 {
                    response = Response { status: 204, headers: Vec::new(), body: Vec::new() };
                }
                break;
            };
            at += 1;
            tokens.insert(at.to_string(), Value::from(token.clone()));
            response = by_token(&token)?;
        }
        break response;
    };
    // Keep the way to the following page, so a workflow stepping page by page pays one request each.
    if let Some(next) = next_token(&response) {
        tokens.insert((page + 1).to_string(), Value::from(next));
    }
    if !tokens.is_empty() {
        put_fresh(client.storage, &key, &Value::Object(tokens))?;
    }
    Ok(response)
}
