//! Pages past Zoho's 2,000-record `page` reach. Zoho serves them only through
//! `page_token`, so page N is reached by following `next_page_token` from the last page
//! `page` can address; the tokens met on the way are kept in storage, so a workflow asking
//! for page N, then N+1, pays one request per page rather than walking again.

use crate::client::Client;
use crate::crm::list_query::{ListQuery, DISCRETE_PAGING_LIMIT};
use crate::error::{Result, ZohoError};
use crate::http::Response;
use crate::storage::{get_fresh, put_fresh};
use serde_json::{Map, Value};
use std::time::Duration;

/// Zoho keeps page tokens for a day; trust ours for an hour.
pub const TOKEN_TTL: Duration = Duration::from_secs(60 * 60);
/// Token hops one step may walk to reach a page (each hop is a request and an API credit).
pub const MAX_TOKEN_HOPS: u32 = 20;
/// Tokens kept per listing: the highest pages, where a workflow paging forward continues.
const MAX_KEPT_TOKENS: usize = 500;

/// Kept tokens: page number (as a string key) → the token that fetches that page.
type Tokens = Map<String, Value>;

/// The kept token nearest at or before `page`, beyond the numbered pages.
fn nearest(tokens: &Tokens, after: u32, page: u32) -> Option<(u32, String)> {
    tokens.iter().filter_map(|(n, t)| Some((n.parse::<u32>().ok()?, t.as_str()?.to_string()))).filter(|(n, _)| *n > after && *n <= page).max_by_key(|(n, _)| *n)
}

/// Tokens belong to one exact listing: module, fields, page size, order and view.
fn cache_key(query: &ListQuery, fields: &[String]) -> String {
    let signature = format!("{}|{}|{}|{:?}|{:?}|{:?}", query.module, fields.join(","), query.per_page, query.sort_by, query.sort_order, query.cvid);
    // FNV-1a: a short stable name for the listing, not a security digest.
    let hash = signature.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    crate::storage::keys::page_tokens(&query.module, hash)
}

#[derive(serde::Deserialize)]
struct Info {
    #[serde(default)]
    more_records: Option<bool>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// The token of the page after this answer, read without building the answer's tree.
fn next_token(response: &Response, per_page: u32) -> Option<String> {
    if response.status != 200 {
        return None;
    }
    let listing = crate::json::listing(&response.body, usize::try_from(per_page).unwrap_or(usize::MAX)).ok()?;
    let info: Info = serde_json::from_str(listing.info?.get()).ok()?;
    if info.more_records != Some(true) {
        return None;
    }
    info.next_page_token
}

/// Refuses, before any request, a page more than [`MAX_TOKEN_HOPS`] token hops from `from`.
fn check_hops(page: u32, from: u32) -> Result<()> {
    let hops = page.saturating_sub(from);
    if hops > MAX_TOKEN_HOPS {
        return Err(ZohoError::invalid_input(format!(
            "page {page} is {hops} pages past page {from}, the nearest page this listing can start from; Zoho reaches pages past its 2,000-record page limit only by page tokens, one request (and API credit) each, and one step follows at most {MAX_TOKEN_HOPS}: pass page-token (info.next_page_token of the page before) instead of page, or ask the pages in order"
        )));
    }
    Ok(())
}

/// Keeps the highest-numbered tokens, so the stored map stays small however far a workflow pages.
fn trim(tokens: &mut Tokens) {
    if tokens.len() <= MAX_KEPT_TOKENS {
        return;
    }
    let mut numbers: Vec<(u32, String)> = tokens.keys().map(|k| (k.parse::<u32>().unwrap_or(0), k.clone())).collect();
    numbers.sort();
    let excess = tokens.len() - MAX_KEPT_TOKENS;
    for (_, key) in numbers.into_iter().take(excess) {
        tokens.remove(&key);
    }
}

/// The answer for page `page` of the listing.
pub fn fetch_page(client: &Client, query: &ListQuery, fields: &[String], page: u32) -> Result<Response> {
    let last_numbered = DISCRETE_PAGING_LIMIT.checked_div(query.per_page).unwrap_or(1).max(1);
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
    // A page too far from every place a walk can start is refused before anything is sent.
    check_hops(page, nearest(&tokens, last_numbered, page).map_or(last_numbered, |(n, _)| n))?;
    let mut walked_from_scratch = false;
    let response = loop {
        // Start from the nearest kept token at or before the page, else the last numbered page.
        let start = nearest(&tokens, last_numbered, page);
        if walked_from_scratch {
            // The kept token expired: walking from the numbered pages must fit the bound too.
            check_hops(page, last_numbered)?;
        }
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
            let Some(token) = next_token(&response, query.per_page) else {
                // The listing ends before the asked page (answer as Zoho does for an empty
                // page), or Zoho refused a step (pass the refusal on).
                if response.status == 200 || response.status == 204 {
                    response = Response { status: 204, headers: Vec::new(), body: Vec::new() };
                }
                break;
            };
            at = at.saturating_add(1);
            tokens.insert(at.to_string(), Value::from(token.clone()));
            response = by_token(&token)?;
        }
        break response;
    };
    // Keep the way to the following page, so a workflow stepping page by page pays one request each.
    if let (Some(next), Some(following)) = (next_token(&response, query.per_page), page.checked_add(1)) {
        tokens.insert(following.to_string(), Value::from(next));
    }
    trim(&mut tokens);
    if !tokens.is_empty() {
        put_fresh(client.storage, &key, &Value::Object(tokens))?;
    }
    Ok(response)
}
