//! Find or Create Record, as every workflow tool means it: a record matching the values on the
//! search fields is returned unchanged; none is created; several are a conflict naming them.
//! Nothing found is ever written to (Zoho's upsert, by contrast, updates what it finds).
//!
//! The find is `GET /crm/v8/{module}/search` with equals criteria (v8 "Search Records"), the
//! create `POST /crm/v8/{module}` (v8 "Insert Records"): one credit each by Zoho's table.
//!
//! Search fields: the ones given, all of which must match; else the module's own identifier,
//! its system-defined duplicate-check field (v8 "Insert or Update Records (Upsert)": Email for
//! Leads and Contacts, Account_Name for Accounts, ...; Name for custom modules), or, when the
//! values do not hold it, the first user-defined unique field they hold (field metadata,
//! cached an hour as describe-module caches it).
//!
//! Between the find and the create another writer may create the same record. When the search
//! field is unique in Zoho, the create fails with DUPLICATE_DATA: the record is then looked up
//! once more and returned as found. A field Zoho does not keep unique cannot be protected this
//! way: two runs at the same moment can both create (said in docs/actions.md).

use crate::client::{ApiCall, Client};
use crate::crm::field_checks::{self, Write};
use crate::crm::fields::module_field_descriptions;
use crate::crm::records::{self, write_body};
use crate::crm::response::{content, list_page, single_outcome};
use crate::crm::search;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::json;
use crate::validate;
use crate::wit::crm::FindOrCreateRecordInput;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Matches read from the search: two prove a conflict; up to this many are named in it.
const MATCHES_NAMED: u32 = 10;
/// Search fields one step may name: Zoho's search takes at most 10 conditions.
const MAX_SEARCH_FIELDS: usize = search::MAX_CONDITIONS;

/// A module's system-defined duplicate-check field (v8 Upsert page, "system-defined duplicate
/// check fields"); a custom module's is Name.
fn system_identifier(module: &str) -> Option<&'static str> {
    Some(match module {
        "Leads" | "Contacts" => "Email",
        "Accounts" => "Account_Name",
        "Deals" => "Deal_Name",
        "Campaigns" => "Campaign_Name",
        "Cases" | "Quotes" | "Sales_Orders" | "Purchase_Orders" | "Invoices" => "Subject",
        "Solutions" => "Solution_Title",
        "Products" => "Product_Name",
        "Vendors" => "Vendor_Name",
        "Price_Books" => "Price_Book_Name",
        custom if custom.ends_with("__c") => "Name",
        _ => return None,
    })
}

pub fn find_or_create_record(client: &Client, input: &FindOrCreateRecordInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let (mut records, single) = records::records_from_values(&input.values, input.dynamic_fields.as_deref())?;
    let record = match (single, records.pop()) {
        (true, Some(record)) => record,
        _ => return Err(ZohoError::invalid_input("values must be one JSON object: find-or-create finds or creates one record")),
    };
    let members = json::members(&record, json::MAX_KEYS_PER_RECORD).map_err(|e| ZohoError::invalid_input(format!("values: {e}")))?;
    let given = search_fields(input.search_fields.as_deref())?;
    // The trigger names and the values are checked before the find, so bad ones send nothing
    // (the field metadata aside).
    let body = write_body(vec![record.clone()], &input.trigger)?;
    field_checks::check(client, module, std::slice::from_ref(&record), Write::Create)?;
    let fields = if given.is_empty() { default_fields(client, module, &members)? } else { given };
    let criteria = criteria_of(&fields, &members)?;
    match find(client, module, &criteria)? {
        Found::One(found) => Ok(found_answer(found)),
        Found::Many(ids, more) => Err(conflict(module, &fields, ids, more)),
        Found::None => create(client, module, body, &criteria, &fields),
    }
}

/// The search fields as given, each one field API name, blanks and repeats dropped.
fn search_fields(given: Option<&[String]>) -> Result<Vec<String>> {
    validate::field_name_list("search-fields", given, MAX_SEARCH_FIELDS, &format!("Zoho's search takes at most {MAX_SEARCH_FIELDS} conditions"))
}

/// Whether the record's values hold a non-null value for `field`.
fn holds(members: &[(String, &RawValue)], field: &str) -> bool {
    members.iter().any(|(name, value)| name == field && value.get().trim() != "null")
}

/// The module's identifier the values hold: its system-defined duplicate-check field without
/// a metadata call, else the first user-defined unique field from its (cached) metadata.
fn default_fields(client: &Client, module: &str, members: &[(String, &RawValue)]) -> Result<Vec<String>> {
    let system = system_identifier(module);
    if let Some(field) = system.filter(|f| holds(members, f)) {
        return Ok(vec![field.to_string()]);
    }
    let described = module_field_descriptions(client, module)?;
    let unique: Vec<&str> = described.iter().filter(|f| f.unique).map(|f| f.api_name.as_str()).collect();
    if let Some(field) = unique.iter().find(|f| holds(members, f)) {
        return Ok(vec![field.to_string()]);
    }
    let known: Vec<&str> = system.into_iter().chain(unique.iter().copied()).collect();
    Err(ZohoError::invalid_input(if known.is_empty() {
        format!("{module} has no unique field to find a record by: name the fields to search by in search-fields")
    } else {
        format!("values holds none of {module}'s identifying fields ({}): give one of them in values, or name the fields to search by in search-fields", known.join(", "))
    }))
}

/// Equals criteria on every search field, each value taken from the record's values.
fn criteria_of(fields: &[String], members: &[(String, &RawValue)]) -> Result<String> {
    let mut object = String::from("{");
    for (n, field) in fields.iter().enumerate() {
        let Some((_, value)) = members.iter().find(|(name, value)| name == field && value.get().trim() != "null") else {
            return Err(ZohoError::invalid_input(format!("values has no value for the search field {field}: give it, or search by other fields")));
        };
        if n > 0 {
            object.push(',');
        }
        object.push_str(&json!(field).to_string());
        object.push(':');
        object.push_str(value.get());
    }
    object.push('}');
    search::criteria(&object).map_err(|e| ZohoError::invalid_input(format!("search-fields: {}", e.message)))
}

enum Found {
    None,
    One(Box<RawValue>),
    Many(Vec<String>, bool),
}

#[derive(Deserialize)]
struct Id<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
}

/// A record's id as text: a string as given, a number as its digits; any other shape (an
/// object, a list, true) is no id and is never passed on as one.
fn id_of(record: &RawValue) -> Option<String> {
    let id = serde_json::from_str::<Id>(record.get()).ok().and_then(|r| r.id)?;
    json::raw_str(id).or_else(|| id.get().trim().bytes().all(|b| b.is_ascii_digit()).then(|| id.get().trim().to_string()).filter(|d| !d.is_empty()))
}

/// `info.more_records`, read as JSON: looking for its text would find it inside a string.
#[derive(Deserialize)]
struct Info {
    #[serde(default)]
    more_records: Option<bool>,
}

fn find(client: &Client, module: &str, criteria: &str) -> Result<Found> {
    let call = ApiCall::new(Method::Get, format!("/crm/v8/{module}/search")).query("criteria", criteria).query("per_page", MATCHES_NAMED.to_string());
    let response = client.send(call)?;
    let Some(response) = content(&response)? else { return Ok(Found::None) };
    let listing = list_page(response, MATCHES_NAMED as usize)?;
    match listing.data.as_slice() {
        [] => Ok(Found::None),
        [one] => Ok(Found::One((*one).to_owned())),
        many => {
            let more = listing.info.and_then(|i| serde_json::from_str::<Info>(i.get()).ok()).and_then(|i| i.more_records).unwrap_or(false);
            Ok(Found::Many(many.iter().filter_map(|r| id_of(r)).collect(), more))
        }
    }
}

fn found_answer(record: Box<RawValue>) -> String {
    let id = id_of(&record).map(Value::String).unwrap_or(Value::Null);
    format!("{{\"found\":true,\"created\":false,\"id\":{id},\"record\":{}}}", record.get())
}

fn conflict(module: &str, fields: &[String], ids: Vec<String>, more: bool) -> ZohoError {
    // Zoho's ids are 19 digits; a longer one is shown cut (redacted before it is cut), so ten
    // hostile ids of a megabyte are not a message of ten.
    let shown = ids.iter().map(|id| crate::redact::shown(id, 40)).collect::<Vec<_>>().join(", ");
    let more_text = if more { " and more" } else { "" };
    ZohoError::new(
        ErrorKind::Conflict,
        format!("{} {module} records match on {} (ids {shown}{more_text}); nothing was created or changed: search by more fields, or act on one id", ids.len(), fields.join(", ")),
    )
    .with_details(json!({ "ids": ids, "more_records": more }))
}

fn create(client: &Client, module: &str, body: crate::http::Body, criteria: &str, fields: &[String]) -> Result<String> {
    let response = client.send(ApiCall::new(Method::Post, format!("/crm/v8/{module}")).body(body))?;
    match single_outcome(&response) {
        Ok(outcome) => {
            let details: Value = json::tree(outcome.as_bytes()).ok().and_then(|o| o.get("details").cloned()).unwrap_or(Value::Null);
            // The created id as a found one is read: a string or a number's digits, else null.
            let id = RawValue::from_string(details.to_string()).ok().and_then(|d| id_of(&d)).map(Value::String).unwrap_or(Value::Null);
            Ok(format!("{{\"found\":false,\"created\":true,\"id\":{id},\"record\":{details},\"outcome\":{outcome}}}"))
        }
        // Created by another writer since the find, on a field Zoho keeps unique: found after all.
        Err(error) if error.code.as_deref() == Some("DUPLICATE_DATA") => match find(client, module, criteria)? {
            Found::One(found) => Ok(found_answer(found)),
            Found::Many(ids, more) => Err(conflict(module, fields, ids, more)),
            Found::None => Err(error),
        },
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::CallOptions;
    use crate::testing::Fixture;
    use crate::wit::crm::FindOrCreateRecordInput;

    /// The field checks have their own tests: these turn them off to count the find and the create.
    fn unchecked() -> Fixture {
        Fixture::with(CallOptions { check_fields: Some(false), ..Default::default() })
    }

    fn input(values: &str, fields: Option<&[&str]>) -> FindOrCreateRecordInput {
        FindOrCreateRecordInput { record_type: "Leads".into(), values: values.into(), search_fields: fields.map(|f| f.iter().map(|s| s.to_string()).collect()), dynamic_fields: None, trigger: None }
    }

    fn sent(fixture: &Fixture) -> Vec<String> {
        fixture.transport.sent.borrow().iter().map(|r| format!("{:?} {}", r.method, r.url)).collect()
    }

    #[test]
    fn a_found_record_is_returned_and_nothing_is_written() {
        let fixture = unchecked();
        fixture.answer(200, r#"{"data":[{"id":"7","Email":"a@b.c","Lead_Status":"New"}],"info":{"count":1,"more_records":false}}"#);
        let answer = find_or_create_record(&fixture.client(), &input(r#"{"Last_Name":"Doe","Email":"a@b.c","Lead_Status":"Lost"}"#, None)).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&answer).unwrap(), json!({ "found": true, "created": false, "id": "7", "record": { "id": "7", "Email": "a@b.c", "Lead_Status": "New" } }));
        assert_eq!(sent(&fixture), ["Get https://www.zohoapis.com/crm/v8/Leads/search?criteria=%28Email%3Aequals%3Aa%40b.c%29&per_page=10"]);
    }

    #[test]
    fn none_found_is_created_and_several_found_is_a_conflict_creating_nothing() {
        let fixture = unchecked();
        fixture.answer(204, "");
        fixture.answer(201, r#"{"data":[{"code":"SUCCESS","details":{"id":"9","Created_Time":"2024-01-01T00:00:00+00:00"},"message":"record added","status":"success"}]}"#);
        let answer: Value = serde_json::from_str(&find_or_create_record(&fixture.client(), &input(r#"{"Last_Name":"Doe","Email":"a@b.c"}"#, None)).unwrap()).unwrap();
        assert_eq!((answer["found"].clone(), answer["created"].clone(), answer["id"].clone()), (json!(false), json!(true), json!("9")));
        assert_eq!(fixture.sent(), 2);

        let fixture = unchecked();
        fixture.answer(200, r#"{"data":[{"id":"1"},{"id":"2"}],"info":{"count":2,"more_records":true}}"#);
        let error = find_or_create_record(&fixture.client(), &input(r#"{"Last_Name":"Doe","Company":"Z"}"#, Some(&["Last_Name", "Company"]))).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Conflict);
        assert_eq!(error.details, Some(json!({ "ids": ["1", "2"], "more_records": true })));
        assert_eq!(fixture.sent(), 1);
    }

    #[test]
    fn a_duplicate_created_meanwhile_is_found_after_all() {
        let fixture = unchecked();
        fixture.answer(204, "");
        fixture.answer(
            400,
            r#"{"data":[{"code":"DUPLICATE_DATA","details":{"api_name":"Email","json_path":"$.data[0].Email","duplicate_record":{"id":"5"}},"message":"duplicate data","status":"error"}]}"#,
        );
        fixture.answer(200, r#"{"data":[{"id":"5","Email":"a@b.c"}],"info":{"count":1,"more_records":false}}"#);
        let answer: Value = serde_json::from_str(&find_or_create_record(&fixture.client(), &input(r#"{"Last_Name":"Doe","Email":"a@b.c"}"#, None)).unwrap()).unwrap();
        assert_eq!((answer["found"].clone(), answer["id"].clone()), (json!(true), json!("5")));
        assert_eq!(fixture.sent(), 3);
    }

    #[test]
    fn bad_input_sends_nothing() {
        for (values, fields, says) in [
            (r#"[{"Email":"a@b.c"}]"#, None, "one JSON object"),
            (r#"{"Last_Name":"Doe"}"#, None, "values holds none of Leads's identifying fields (Email"),
            (r#"{"Email":null}"#, Some(&["Email"][..]), "no value for the search field Email"),
            (r#"{"Email":{"x":1}}"#, Some(&["Email"][..]), "Email expects text, not an object"),
            (r#"{"Email":"a"}"#, Some(&["E-mail"][..]), "search-fields"),
            (r#"{"Email":"a"}"#, Some(&["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K"][..]), "at most 10"),
        ] {
            let fixture = Fixture::default();
            // The metadata a default search reads when the values lack the system field.
            fixture.answer(200, r#"{"fields":[{"api_name":"Email","data_type":"email"},{"api_name":"Last_Name","data_type":"text"}]}"#);
            let error = find_or_create_record(&fixture.client(), &input(values, fields)).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidInput, "{values}");
            assert!(error.message.contains(says), "{values}: {}", error.message);
            assert!(sent(&fixture).iter().all(|s| s.contains("/settings/fields")), "{values}: {:?}", sent(&fixture));
        }
        let mut bad_trigger = input(r#"{"Email":"a@b.c"}"#, None);
        bad_trigger.trigger = Some(vec!["everything".into()]);
        let fixture = Fixture::default();
        assert_eq!(find_or_create_record(&fixture.client(), &bad_trigger).unwrap_err().kind, ErrorKind::InvalidInput);
        assert_eq!(fixture.sent(), 0);
    }

    #[test]
    fn a_custom_modules_unique_field_is_found_in_its_metadata() {
        let fixture = unchecked();
        fixture.answer(200, r#"{"fields":[{"api_name":"Name","data_type":"text","unique":{}},{"api_name":"Code","data_type":"text","unique":{"casesensitive":"0"}}]}"#);
        fixture.answer(204, "");
        fixture.answer(201, r#"{"data":[{"code":"SUCCESS","details":{"id":"3"},"message":"record added","status":"success"}]}"#);
        let mut custom = input(r#"{"Code":"X-1"}"#, None);
        custom.record_type = "Parcels__c".into();
        find_or_create_record(&fixture.client(), &custom).unwrap();
        assert_eq!(sent(&fixture)[1], "Get https://www.zohoapis.com/crm/v8/Parcels__c/search?criteria=%28Code%3Aequals%3AX-1%29&per_page=10");
    }

    // --- Outside attacks ---

    fn search_url(fixture: &Fixture) -> String {
        sent(fixture).into_iter().find(|s| s.contains("/search")).unwrap_or_default()
    }

    /// `more_records` was found by looking for `"more_records":true` in info's text: a string
    /// holding those characters said more, and a spaced `"more_records" : true` said none.
    #[test]
    fn more_records_is_read_not_searched_for() {
        for (info, more) in [(r#"{"note":"\"more_records\":true","more_records":false}"#, false), (r#"{"more_records" : true}"#, true), (r#"{"more_records":"true"}"#, false), ("[]", false)] {
            let fixture = unchecked();
            fixture.answer(200, &format!(r#"{{"data":[{{"id":"1"}},{{"id":"2"}}],"info":{info}}}"#));
            let error = find_or_create_record(&fixture.client(), &input(r#"{"Email":"a@b.c"}"#, None)).unwrap_err();
            assert_eq!(error.details.unwrap()["more_records"], json!(more), "{info}");
        }
    }

    /// A search answering 10,000 records to a request for 10 is refused unread: a typed error,
    /// nothing created.
    #[test]
    fn a_search_answering_ten_thousand_records_is_an_error_and_creates_nothing() {
        let fixture = unchecked();
        fixture.answer(200, &format!(r#"{{"data":[{}],"info":{{"more_records":false}}}}"#, vec![r#"{"id":"1"}"#; 10_000].join(",")));
        let error = find_or_create_record(&fixture.client(), &input(r#"{"Email":"a@b.c"}"#, None)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Zoho);
        assert_eq!(fixture.sent(), 1);
    }

    /// Ids of odd shapes: the answer is JSON and its `id` a string or null, never an object
    /// passed on; a created record's id the same.
    #[test]
    fn ids_of_odd_shapes_give_a_string_or_null() {
        for (id, expected) in [("7", json!("7")), (r#"{"$oid":"x"}"#, Value::Null), ("[1]", Value::Null), ("true", Value::Null), ("null", Value::Null), (r#""55""#, json!("55"))] {
            let fixture = unchecked();
            fixture.answer(200, &format!(r#"{{"data":[{{"id":{id}}}]}}"#));
            let answer: Value = serde_json::from_str(&find_or_create_record(&fixture.client(), &input(r#"{"Email":"a@b.c"}"#, None)).unwrap()).unwrap();
            assert_eq!(answer["id"], expected, "found {id}");
            let fixture = unchecked();
            fixture.answer(204, "");
            fixture.answer(201, &format!(r#"{{"data":[{{"code":"SUCCESS","details":{{"id":{id}}},"message":"record added","status":"success"}}]}}"#));
            let answer: Value = serde_json::from_str(&find_or_create_record(&fixture.client(), &input(r#"{"Email":"a@b.c"}"#, None)).unwrap()).unwrap();
            assert_eq!(answer["id"], expected, "created {id}");
        }
    }

    /// Ids of a conflict holding the access token, or a megabyte each: the message is bounded
    /// and, after the boundary's redaction, holds nothing of the token.
    #[test]
    fn conflict_ids_holding_the_token_or_a_megabyte_are_redacted_and_bounded() {
        let token = format!("1000.{}", "a1b2c3d4".repeat(20));
        let mut fixture = unchecked();
        fixture.connection.access_token = Some(token.clone());
        let huge = "9".repeat(1 << 20);
        fixture.answer(200, &format!(r#"{{"data":[{{"id":"{token}"}},{{"id":"{huge}"}},{{"id":"x{token}y"}}]}}"#));
        let error = find_or_create_record(&fixture.client(), &input(r#"{"Email":"a@b.c"}"#, None)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Conflict);
        let error = crate::redact::step().error(error);
        assert!(error.message.len() < 2_000, "{}", error.message.len());
        assert!(!error.message.contains(&token[..12]) && !error.details.unwrap().to_string().contains(&token[..12]));
    }

    /// DUPLICATE_DATA naming the token as the duplicate's id, and the re-find finding nothing:
    /// Zoho's error is returned, redacted at the boundary.
    #[test]
    fn a_duplicate_id_holding_the_token_is_redacted() {
        let token = format!("1000.{}", "a1b2c3d4".repeat(20));
        let mut fixture = unchecked();
        fixture.connection.access_token = Some(token.clone());
        fixture.answer(204, "");
        fixture.answer(
            400,
            &format!(r#"{{"data":[{{"code":"DUPLICATE_DATA","details":{{"api_name":"Email","json_path":"$.data[0].Email","duplicate_record":{{"id":"{token}"}}}},"message":"duplicate data","status":"error"}}]}}"#),
        );
        fixture.answer(204, "");
        let error = find_or_create_record(&fixture.client(), &input(r#"{"Email":"a@b.c"}"#, None)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Conflict);
        let error = crate::redact::step().error(error);
        assert!(!format!("{} {:?}", error.message, error.details).contains(&token[..12]), "{}", error.message);
        assert_eq!(fixture.sent(), 3);
    }

    /// Values that would break the criteria are escaped, or refused unsent when Zoho cannot
    /// read them one way; dynamic fields fill only what values lacks, the search uses the result.
    #[test]
    fn criteria_breaking_values_are_escaped_or_refused_unsent() {
        let fixture = unchecked();
        fixture.answer(200, r#"{"data":[{"id":"1"}]}"#);
        find_or_create_record(&fixture.client(), &input(r#"{"Email":"a),(Last_Name:equals:x\\"}"#, None)).unwrap();
        assert!(search_url(&fixture).contains("criteria=%28Email%3Aequals%3Aa%5C%29%5C%2C%5C%28Last_Name%3Aequals%3Ax%5C%5C%29"), "{}", search_url(&fixture));
        for values in [r#"{"Email":"a\\(b"}"#, r#"{"Email":"a\\,"}"#, r#"{"Email":""}"#, r#"{"Email":["a"]}"#] {
            let fixture = unchecked();
            assert_eq!(find_or_create_record(&fixture.client(), &input(values, None)).unwrap_err().kind, ErrorKind::InvalidInput, "{values}");
            assert_eq!(fixture.sent(), 0, "{values}");
        }
        let fixture = unchecked();
        fixture.answer(200, r#"{"data":[{"id":"1"}]}"#);
        let mut dynamic = input(r#"{"Last_Name":"Doe","Email":"a@b.c"}"#, Some(&["Email", "Phone"]));
        dynamic.dynamic_fields = Some(r#"{"Email":"evil@x","Phone":"5"}"#.into());
        find_or_create_record(&fixture.client(), &dynamic).unwrap();
        assert!(search_url(&fixture).contains("criteria=%28%28Email%3Aequals%3Aa%40b.c%29and%28Phone%3Aequals%3A5%29%29"), "{}", search_url(&fixture));
        // Ten search fields pass; the criteria's own 3,000-character limit still holds.
        let ten: Vec<String> = (0..10).map(|i| format!("F{i}")).collect();
        let refs: Vec<&str> = ten.iter().map(String::as_str).collect();
        let values = format!("{{{}}}", ten.iter().map(|f| format!("\"{f}\":\"{}\"", "é".repeat(400))).collect::<Vec<_>>().join(","));
        let fixture = unchecked();
        let error = find_or_create_record(&fixture.client(), &input(&values, Some(&refs))).unwrap_err();
        assert!(error.message.contains("3000"), "{}", error.message);
        assert_eq!(fixture.sent(), 0);
    }
}
