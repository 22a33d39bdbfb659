//! Books record actions: create, get, list, update, remove, for any resource, top-level or
//! nested under a parent (`invoices/{id}/comments`). Bodies are JSON (Books v3 takes
//! `application/json`); a resource that still demands the legacy `JSONString` form field can be
//! reached through Raw Request with `form-data: {"JSONString": "..."}`.

use crate::books::documented_fields::Write;
use crate::books::{envelope, field_checks, organization, resources};
use crate::client::{ApiCall, Client};
use crate::connection::given;
use crate::crm::response::answer_error;
use crate::error::{Result, ZohoError};
use crate::http::{Body, Method};
use crate::json::{self, MAX_DYNAMIC_FIELDS_BYTES, MAX_SEARCH_FIELDS_BYTES, MAX_VALUES_BYTES};
use crate::validate;
use crate::wit::books::{CreateRecordInput, GetRecordInput, GetRecordsInput, RemoveRecordInput, UpdateRecordInput};
use crate::wit::types::{RawRequestInput, RawResponse};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::HashSet;

/// A Books resource name as it appears in the path: lowercase letters, digits, underscores.
pub(crate) fn resource_name<'a>(what: &str, name: &'a str) -> Result<&'a str> {
    let ok = (1..=40).contains(&name.len()) && name.starts_with(|c: char| c.is_ascii_lowercase()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(name)
    } else {
        Err(ZohoError::invalid_input(format!("{what} {name:?} is not a Zoho Books resource: use the path name, e.g. contacts, invoices, items, salesorders")))
    }
}

pub(crate) struct Target {
    /// `/books/v3/{parent}/{parent_id}/{resource}`, or `/books/v3/{resource}` (or the path Zoho
    /// documents for it, e.g. `/books/v3/settings/taxes`)
    pub(crate) collection: String,
    pub(crate) keys: resources::Keys,
    pub(crate) organization_id: String,
}

/// The resource a Books action names, under its parent when one is given.
pub(crate) fn target(client: &Client, record_type: &str, parent_record_type: &Option<String>, parent_record_id: &Option<String>) -> Result<Target> {
    let resource = resource_name("record-type", record_type.trim())?;
    let (collection, parent) = match (given(parent_record_type), given(parent_record_id)) {
        (None, None) => (format!("/books/v3/{}", resources::collection_path(resource)), None),
        (Some(parent), Some(parent_id)) => {
            let parent = resource_name("parent-record-type", parent)?;
            let parent_id = books_id("parent-record-id", parent_id)?;
            (format!("/books/v3/{parent}/{parent_id}/{resource}"), Some(parent))
        }
        _ => return Err(ZohoError::invalid_input("give parent-record-type and parent-record-id together (e.g. invoices and the invoice's id for its comments)")),
    };
    let organization_id = organization::organization_id(client, client.books_organization_id())?;
    Ok(Target { collection, keys: resources::keys(parent, resource), organization_id })
}

/// Books ids are numbers carried as strings, like CRM's.
pub(crate) fn books_id<'a>(what: &str, id: &'a str) -> Result<&'a str> {
    validate::record_id(id).map_err(|_| ZohoError::invalid_input(format!("{what} {id:?} is not a Zoho Books id: ids are numbers such as 460000000026049")))
}

/// The record to send: `values` filled in from `dynamic-fields`, read as members (never a
/// tree) after their sizes are checked, passed through `check` (the documented fields), and
/// written back out as one JSON object.
fn values_of(values: &str, dynamic_fields: &Option<String>, check: impl FnOnce(&[(String, &RawValue)]) -> Result<()>) -> Result<Body> {
    let values = Some(values.trim()).filter(|v| !v.is_empty()).ok_or_else(|| ZohoError::invalid_input("values is required: the fields as a JSON object"))?;
    let mut record =
        json::input_object("values", values, MAX_VALUES_BYTES).map_err(|e| ZohoError::invalid_input(format!("{}; values must be a JSON object such as {{\"contact_name\":\"Zylker\"}}", e.message)))?;
    if let Some(dynamic) = given(dynamic_fields) {
        let dynamic = json::input_object("dynamic-fields", dynamic, MAX_DYNAMIC_FIELDS_BYTES)?;
        // As in CRM: a key given in values keeps its value.
        let present: HashSet<String> = record.iter().map(|(k, _)| k.clone()).collect();
        record.extend(dynamic.into_iter().filter(|(k, _)| !present.contains(k)));
    }
    check(&record)?;
    Ok(Body::new("application/json", json::object_text(&record).into_bytes()))
}

pub(crate) fn call(method: Method, path: String, target: &Target) -> ApiCall {
    ApiCall::new(method, path).query("organization_id", target.organization_id.clone())
}

/// Whether a parent is named: a nested resource's values are not the documented top-level ones.
fn nested(parent_record_type: &Option<String>) -> bool {
    given(parent_record_type).is_some()
}

pub fn create_record(client: &Client, input: &CreateRecordInput) -> Result<String> {
    let nested = nested(&input.parent_record_type);
    let body = values_of(&input.values, &input.dynamic_fields, |record| field_checks::check(client, &input.record_type, nested, Write::Create, record))?;
    let target = target(client, &input.record_type, &input.parent_record_type, &input.parent_record_id)?;
    let response = client.send(call(Method::Post, target.collection.clone(), &target).body(body))?;
    Ok(envelope::take(&envelope::open(&response)?, &target.keys.singular)?.get().to_string())
}

pub fn get_record(client: &Client, input: &GetRecordInput) -> Result<String> {
    let id = books_id("record-id", input.record_id.trim())?.to_string();
    let target = target(client, &input.record_type, &input.parent_record_type, &input.parent_record_id)?;
    let response = client.send(call(Method::Get, format!("{}/{id}", target.collection), &target))?;
    Ok(envelope::take(&envelope::open(&response)?, &target.keys.singular)?.get().to_string())
}

pub fn update_record(client: &Client, input: &UpdateRecordInput) -> Result<String> {
    let id = books_id("record-id", input.record_id.trim())?.to_string();
    let nested = nested(&input.parent_record_type);
    let body = values_of(&input.values, &input.dynamic_fields, |record| field_checks::check(client, &input.record_type, nested, Write::Update, record))?;
    let target = target(client, &input.record_type, &input.parent_record_type, &input.parent_record_id)?;
    let response = client.send(call(Method::Put, format!("{}/{id}", target.collection), &target).body(body))?;
    Ok(envelope::take(&envelope::open(&response)?, &target.keys.singular)?.get().to_string())
}

pub fn remove_record(client: &Client, input: &RemoveRecordInput) -> Result<String> {
    let id = books_id("record-id", input.record_id.trim())?.to_string();
    let target = target(client, &input.record_type, &input.parent_record_type, &input.parent_record_id)?;
    let response = client.send(call(Method::Delete, format!("{}/{id}", target.collection), &target))?;
    let envelope = envelope::open(&response)?;
    Ok(json!({ "message": envelope.small("message").unwrap_or(Value::Null) }).to_string())
}

/// Books - Raw Request under `/books/v3` with the organization's id. The input is checked
/// first: a refused input costs neither the organization lookup nor a token.
pub fn raw_request(client: &Client, input: &RawRequestInput) -> Result<RawResponse> {
    let call = crate::raw::prepare(client, "/books/v3", input)?;
    let id = organization::organization_id(client, client.books_organization_id())?;
    crate::raw::send(client, call, &[("organization_id".to_string(), id)])
}

/// `search-fields` as query filters: a JSON object, its size checked before it is read.
fn filters_of(input: &GetRecordsInput) -> Result<Vec<(String, String)>> {
    let Some(search) = given(&input.search_fields) else { return Ok(Vec::new()) };
    let members = json::input_object("search-fields", search, MAX_SEARCH_FIELDS_BYTES)
        .map_err(|e| ZohoError::invalid_input(format!("{}; search-fields must be a JSON object of filters, e.g. {{\"email\":\"a@b.com\",\"status\":\"active\"}}", e.message)))?;
    let mut filters = Vec::with_capacity(members.len());
    for (name, value) in members {
        if ["organization_id", "page", "per_page"].contains(&name.as_str()) || name.is_empty() {
            return Err(ZohoError::invalid_input(format!("search-fields cannot set {name:?}: use the page and per-page inputs")));
        }
        let value = json::raw_str(value).unwrap_or_else(|| value.get().to_string());
        filters.push((name, value));
    }
    Ok(filters)
}

pub fn get_records(client: &Client, input: &GetRecordsInput) -> Result<String> {
    let per_page = input.per_page.unwrap_or(200);
    if !(1..=200).contains(&per_page) {
        return Err(ZohoError::invalid_input(format!("per-page {per_page} is out of range: Zoho Books returns 1 to 200 records per page")));
    }
    let page = input.page.unwrap_or(1);
    if page == 0 {
        return Err(ZohoError::invalid_input("page starts at 1"));
    }
    let filters = filters_of(input)?;
    let target = target(client, &input.record_type, &input.parent_record_type, &input.parent_record_id)?;
    let mut list = call(Method::Get, target.collection.clone(), &target).query("page", page.to_string()).query("per_page", per_page.to_string());
    for (name, value) in filters {
        list = list.query(name, value);
    }
    let response = client.send(list)?;
    let envelope = envelope::open(&response)?;
    let records = envelope::take(&envelope, &target.keys.plural)?;
    // Books sends at most per-page records: a longer list is refused before it is held.
    if records.get().starts_with('[') {
        json::items(records.get().as_bytes(), per_page as usize).map_err(|e| answer_error(&response, e))?;
    }
    let page_context = match envelope.get("page_context") {
        Some(raw) => raw.get().to_string(),
        None => json!({ "page": page, "per_page": per_page, "has_more_page": false }).to_string(),
    };
    let mut out = String::with_capacity(records.get().len() + page_context.len() + target.keys.plural.len() + 24);
    out.push('{');
    json::push_string(&mut out, &target.keys.plural);
    out.push(':');
    out.push_str(records.get());
    out.push_str(",\"page_context\":");
    out.push_str(&page_context);
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    use crate::raw::tests::input_for as raw;

    /// Moved out of the wasm-only adapter: the input is checked before the organization lookup,
    /// and the discovered organization rides on the raw call.
    #[test]
    fn books_raw_request_checks_input_before_the_organization_lookup() {
        let fixture = Fixture::default();
        let transport = &fixture.transport;
        let client = fixture.client();
        let e = raw_request(&client, &raw("../../oauth/v2/token", None)).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::InvalidInput);
        assert!(transport.sent.borrow().is_empty());

        transport.answer(200, r#"{"code":0,"organizations":[{"organization_id":"42","is_default_org":true}]}"#);
        transport.answer(200, r#"{"code":0,"invoices":[]}"#);
        let out = raw_request(&client, &raw("invoices", Some("GET"))).unwrap();
        assert_eq!(out.status, 200);
        let sent: Vec<String> = transport.sent.borrow().iter().map(|r| r.url.clone()).collect();
        assert_eq!(sent, ["https://www.zohoapis.com/books/v3/organizations", "https://www.zohoapis.com/books/v3/invoices?organization_id=42"]);
    }
}
