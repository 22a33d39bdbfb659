//! Sync streams for pipeline products (Sling's streams, Paragon's pipelines): discovery, and
//! a page of a stream at a time, incremental streams on the incremental sweep machinery and
//! full-refresh streams (users, modules) read whole. Credits and concurrency are watched.

use crate::budget;
use crate::client::{ApiCall, Client};
use crate::crm::response::{body_json, content};
use crate::error::{Result, ZohoError};
use crate::http::Method;
use crate::incremental::read_by::{self, ReadBy};
use crate::incremental::{self, SweepRequest};
use crate::limits::Throttle;
use crate::storage::now_ms;
use crate::wit::sync::{CommitStreamInput, DiscoverInput, ReadStreamPageInput};
use crate::zoho_time::format_iso;
use serde_json::{json, Value};

mod books;

/// Sling's standard streams (name → module), read incrementally on Modified_Time.
const STANDARD: [(&str, &str); 12] = [
    ("leads", "Leads"),
    ("contacts", "Contacts"),
    ("accounts", "Accounts"),
    ("deals", "Deals"),
    ("tasks", "Tasks"),
    ("meetings", "Events"),
    ("calls", "Calls"),
    ("campaigns", "Campaigns"),
    ("products", "Products"),
    ("quotes", "Quotes"),
    ("vendors", "Vendors"),
    ("notes", "Notes"),
];
/// Paragon's pipeline names that differ from Zoho's.
const PIPELINES: [(&str, &str); 1] = [("companies", "Accounts")];
/// Streams read whole on every run.
const FULL_REFRESH: [&str; 2] = ["users", "modules"];

/// Where a stream's records live: a module read incrementally, or a full-refresh listing.
enum Source {
    Module(String),
    Books(books::BooksStream),
    Users,
    Modules,
}

fn source_of(stream: &str) -> Result<Source> {
    if let Some(books) = books::parse(stream) {
        return books.map(Source::Books);
    }
    let name = stream.trim();
    let lower = name.to_ascii_lowercase();
    if lower == "users" {
        return Ok(Source::Users);
    }
    if lower == "modules" {
        return Ok(Source::Modules);
    }
    if let Some((_, module)) = STANDARD.iter().chain(PIPELINES.iter()).find(|(n, _)| *n == lower) {
        return Ok(Source::Module(module.to_string()));
    }
    // A custom object by its module API name.
    crate::validate::module_name(name)
        .map(|m| Source::Module(m.to_string()))
        .map_err(|_| ZohoError::invalid_input(format!("stream {name:?} is not a stream: use a name from discover (leads, contacts, companies, ...) or a module API name")))
}

/// Each stream keeps its own sweep and cursor.
fn scope_of(stream: &str) -> String {
    format!("sync/{}", stream.trim().to_ascii_lowercase())
}

/// The default anchor: one year back.
fn default_anchor() -> String {
    format_iso((now_ms() / 1000) as i64 - 365 * 86_400)
}

/// The streams: Sling's standard ones, Paragon's aliases and the full-refresh listings, then
/// (unless include-modules is false) every API-supported module of the org a sweep can read,
/// from `/settings/modules`. Each says how it is read (`read_by`): `coql` (keyset pages through
/// COQL), `records` (the records list by Modified_Time, for modules COQL cannot read) or
/// `list` (a full-refresh listing read whole); a module neither COQL nor a records list reads
/// (Attachments, Emails, linking modules, ...: [`ReadBy`]) is left out. Without the org's
/// modules nothing is sent.
pub fn discover(client: &Client, input: &DiscoverInput) -> Result<Value> {
    let mut streams: Vec<Value> = Vec::new();
    let incremental =
        |name: &str, module: &str, read_by: ReadBy| json!({ "stream": name, "module": module, "incremental": true, "cursor_field": "Modified_Time", "primary_key": "id", "read_by": read_by });
    for (name, module) in STANDARD {
        if let Some(read_by) = read_by::documented(module) {
            streams.push(incremental(name, module, read_by));
        }
    }
    for (name, module) in PIPELINES {
        if let Some(read_by) = read_by::documented(module) {
            let mut stream = incremental(name, module, read_by);
            stream["alias_of"] = json!(module.to_ascii_lowercase());
            streams.push(stream);
        }
    }
    for name in FULL_REFRESH {
        streams.push(json!({ "stream": name, "incremental": false, "primary_key": "id", "read_by": "list" }));
    }
    // Books' streams follow CRM's; with include-modules false neither asks the account.
    let with_books = |mut streams: Vec<Value>| {
        let (books_streams, warnings) = books::discover(client, input.include_modules != Some(false));
        streams.extend(books_streams);
        let mut out = json!({ "streams": streams });
        if !warnings.is_empty() {
            out["warnings"] = json!(warnings);
        }
        out
    };
    if input.include_modules == Some(false) {
        return Ok(with_books(streams));
    }
    for module in crate::crm::modules::org_modules(client)?.into_iter().filter(|m| m.api_supported == Some(true)) {
        let api_name = module.api_name.as_str();
        if streams.iter().any(|s| s["module"] == api_name) {
            continue;
        }
        let Some(read_by) = read_by::discovered(api_name, module.generated_type.as_deref()) else { continue };
        let mut stream = incremental(api_name, api_name, read_by);
        stream["custom"] = json!(module.generated_type.as_deref() == Some("custom"));
        streams.push(stream);
    }
    Ok(with_books(streams))
}

/// A page of a full-refresh listing (`/users?type=AllUsers`, `/settings/modules`).
fn full_refresh_page(client: &Client, stream: &str, page: u32, per_page: u32) -> Result<Value> {
    let (call, key) = match stream {
        "users" => (ApiCall::new(Method::Get, "/crm/v8/users").query("type", "AllUsers").query("page", page.to_string()).query("per_page", per_page.to_string()), "users"),
        _ => (ApiCall::new(Method::Get, "/crm/v8/settings/modules"), "modules"),
    };
    let response = client.send(call)?;
    let (records, more) = match content(&response)? {
        Some(response) => {
            let body = body_json(response)?;
            let more = key == "users" && body.pointer("/info/more_records").and_then(Value::as_bool) == Some(true);
            (body.get(key).cloned().unwrap_or_else(|| json!([])), more)
        }
        None => (json!([]), false),
    };
    let next_page = if more { page.checked_add(1) } else { None };
    Ok(json!({ "stream": stream, "records": records, "page": page, "more_records": more && next_page.is_some(), "next_page": next_page, "incremental": false, "usage": client.usage() }))
}

/// A page of a stream as the step's JSON text (incremental records pass through as Zoho's text).
/// The concurrency a read is held to: Sling's defaults, at least one in flight and one per
/// second, and no more in flight than Zoho's largest edition allows (25).
pub fn throttle_of(input: &ReadStreamPageInput) -> Throttle {
    Throttle {
        max_in_flight: input.max_concurrency.unwrap_or(Throttle::DEFAULT.max_in_flight).clamp(1, budget::edition_concurrency("ultimate")),
        per_second: input.max_requests_per_second.unwrap_or(Throttle::DEFAULT.per_second).max(1),
    }
}

pub fn read_stream_page(client: &Client, input: &ReadStreamPageInput) -> Result<String> {
    let source = source_of(&input.stream)?;
    // Only CRM modules are exported by jobs: `bulk` on another stream is refused, `auto` reads it as ever.
    let strategy = crate::incremental::bulk_sweep::Strategy::parse(input.strategy.as_deref())?;
    if strategy == crate::incremental::bulk_sweep::Strategy::Bulk && !matches!(source, Source::Module(_)) {
        return Err(ZohoError::invalid_input(format!(
            "strategy bulk: stream {:?} is not a CRM module Zoho's export jobs read (users, modules and Books streams are read by their lists): use strategy coql or auto",
            input.stream.trim()
        )));
    }
    // CRM's credits budget CRM streams; a Books stream checks Books' daily allowance instead.
    if let (Some(share), false) = (input.backoff_at_credit_percentage, matches!(source, Source::Books(_))) {
        budget::check_credit_budget(client, share)?;
    }
    match source {
        Source::Books(stream) => {
            let anchor = input.anchor_date.clone().unwrap_or_else(default_anchor);
            let mut page = books::read_page(client, &stream, input, anchor)?;
            page.stream = Some(input.stream.trim().to_string());
            page.incremental = Some(true);
            page.to_json()
        }
        Source::Users => full_refresh_page(client, "users", input.page.unwrap_or(1).max(1), input.per_page.unwrap_or(200).clamp(1, 200)).map(|v| v.to_string()),
        Source::Modules => full_refresh_page(client, "modules", 1, 200).map(|v| v.to_string()),
        Source::Module(module) => {
            let list = SweepRequest {
                record_type: module,
                page: input.page,
                per_page: input.per_page,
                fields: input.fields.clone(),
                since: None,
                anchor: Some(input.anchor_date.clone().unwrap_or_else(default_anchor)),
                scope: Some(scope_of(&input.stream)),
                include_deleted: None,
                slice: input.slice,
                slices: input.slices,
                strategy: input.strategy.clone(),
            };
            let mut page = incremental::list_page(client, &list)?;
            page.stream = Some(input.stream.trim().to_string());
            page.incremental = Some(true);
            page.to_json()
        }
    }
}

/// Commits a finished incremental stream's sweep; full-refresh streams have nothing to commit.
pub fn commit_stream(client: &Client, input: &CommitStreamInput) -> Result<Value> {
    let stream = &input.stream;
    match source_of(stream)? {
        Source::Module(module) => {
            let mut committed = incremental::commit(client, &module, Some(&scope_of(stream)), None)?;
            committed["stream"] = json!(stream.trim());
            Ok(committed)
        }
        Source::Books(books) => books::commit_stream(client, &books, stream),
        _ => Ok(json!({ "stream": stream.trim(), "cursor": null, "source": "full-refresh" })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn read_input(max_concurrency: Option<u32>, max_requests_per_second: Option<u32>) -> ReadStreamPageInput {
        ReadStreamPageInput {
            stream: "contacts".into(),
            page: None,
            per_page: None,
            anchor_date: None,
            backoff_at_credit_percentage: None,
            fields: None,
            max_concurrency,
            max_requests_per_second,
            slice: None,
            slices: None,
            strategy: None,
        }
    }

    /// Moved out of the wasm-only adapter: Sling's defaults, at least 1, at most Zoho's 25.
    #[test]
    fn the_throttle_is_clamped_to_what_zoho_allows() {
        assert_eq!(throttle_of(&read_input(None, None)), Throttle { max_in_flight: 3, per_second: 5 });
        assert_eq!(throttle_of(&read_input(Some(0), Some(0))), Throttle { max_in_flight: 1, per_second: 1 });
        assert_eq!(throttle_of(&read_input(Some(u32::MAX), Some(u32::MAX))), Throttle { max_in_flight: 25, per_second: u32::MAX });
        assert_eq!(throttle_of(&read_input(Some(25), Some(7))), Throttle { max_in_flight: 25, per_second: 7 });
    }

    fn discovered(include_modules: Option<bool>) -> (Vec<String>, Vec<String>) {
        let fixture = Fixture::default();
        let transport = &fixture.transport;
        transport
            .answer(200, r#"{"modules":[{"api_name":"Leads","api_supported":true},{"api_name":"Pets","api_supported":true,"generated_type":"custom"},{"api_name":"Hidden","api_supported":false}]}"#);
        transport.answer(200, r#"{"code":0,"message":"success","organizations":[{"organization_id":"10234695","name":"Zillum","is_default_org":true},{"organization_id":"20234695","name":"Labs","is_default_org":false}]}"#);
        let client = fixture.client();
        let out = discover(&client, &DiscoverInput { include_modules }).unwrap();
        let names = out["streams"].as_array().unwrap().iter().map(|s| s["stream"].as_str().unwrap().to_string()).collect();
        let sent = transport.sent.borrow().iter().map(|r| format!("{} {}", r.method.as_str(), r.url)).collect();
        (names, sent)
    }

    /// The old adapter ignored include-modules: false still listed (and fetched) the org's modules.
    #[test]
    fn include_modules_false_lists_only_the_standard_streams_without_a_request() {
        let books = crate::books::sweep::list::SWEEPABLE.len();
        let (names, sent) = discovered(Some(false));
        assert_eq!(names.len(), STANDARD.len() + PIPELINES.len() + FULL_REFRESH.len() + books);
        assert!(!names.contains(&"Pets".to_string()));
        assert_eq!(names.last().map(String::as_str), Some("books_recurringinvoices"));
        assert!(sent.is_empty(), "{sent:?}");
        for default in [None, Some(true)] {
            let (names, sent) = discovered(default);
            let crm = STANDARD.len() + PIPELINES.len() + FULL_REFRESH.len() + 1;
            assert_eq!(names[crm - 1], "Pets");
            // Two organizations and none named: a stream per organization and resource too.
            assert_eq!(names.len(), crm + 3 * books);
            assert_eq!((names[crm].as_str(), names[crm + books].as_str(), names[crm + 2 * books].as_str()), ("books_invoices", "books_10234695_invoices", "books_20234695_invoices"));
            assert_eq!(sent, vec!["GET https://www.zohoapis.com/crm/v8/settings/modules".to_string(), "GET https://www.zohoapis.com/books/v3/organizations".to_string()]);
        }
    }
}
