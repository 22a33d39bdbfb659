//! Zoho Books organizations as the sandbox serves them: an account has several (`GET
//! /organizations` lists each with its currency and time zone), every other call names one by
//! `organization_id`, and each organization keeps its own contacts, items, taxes, documents and
//! number series ("Organizations", Zoho Books API v3: "each organization is a separate entity
//! with its own data"). An unknown organization is Books' code 6041.

use crate::state::BooksData;
use serde_json::Value;
use std::collections::HashMap;

pub type Records = HashMap<(String, Option<String>), Vec<Value>>;

/// The organization whose records live in `BooksData::records`: the default one, else the first.
fn default_org(books: &BooksData) -> Option<&str> {
    let orgs = &books.organizations;
    orgs.iter().find(|o| o["is_default_org"] == true).or_else(|| orgs.first()).and_then(|o| o["organization_id"].as_str())
}

/// The records of organization `org` (a known one: `route` refused the others).
pub fn records_of<'a>(books: &'a mut BooksData, org: &str) -> &'a mut Records {
    if default_org(books).is_none_or(|d| d == org) {
        return &mut books.records;
    }
    books.other_orgs.entry(org.to_string()).or_default()
}

/// The organization's currency (`currency_code` of `GET /organizations`), USD when unset.
pub fn currency_of(books: &BooksData, org: &str) -> String {
    books.organizations.iter().find(|o| o["organization_id"] == org).and_then(|o| o["currency_code"].as_str()).unwrap_or("USD").to_string()
}

/// The next number of the organization's series for `collection` (1, 2, ...).
pub fn next_number(books: &mut BooksData, org: &str, collection: &str) -> u64 {
    let last = books.series.entry((org.to_string(), collection.to_string())).or_insert(0);
    *last = last.saturating_add(1);
    *last
}
