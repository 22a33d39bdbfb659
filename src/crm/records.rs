//! CRM v8 record actions: create, get, list, update, remove. Records travel as raw JSON text:
//! the caller's `values` are read as top-level members (never a tree), Zoho's records are
//! passed through as the text Zoho sent, and outputs are composed from those texts.

use crate::client::{ApiCall, Client};
use crate::crm::field_checks::{self, Write};
use crate::crm::fields::module_fields;
use crate::crm::list_query::ListQuery;
use crate::crm::page_tokens;
use crate::crm::response::{content, info_object, list_page, listing_text, single_outcome, single_outcome_of, write_items_within, write_outcomes};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Body, Method, Response};
use crate::json::{self, JsonError, MAX_DYNAMIC_FIELDS_BYTES, MAX_KEYS_PER_RECORD, MAX_VALUES_BYTES};
use crate::validate;
use crate::wit::crm::{CreateRecordInput, GetRecordInput, GetRecordsInput, RemoveRecordInput, UpdateRecordInput};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// Records per write request (Zoho's limit).
pub const MAX_RECORDS_PER_WRITE: usize = 100;
/// Field names per list request (Zoho's limit).
pub const MAX_FIELDS_PER_LIST: usize = 50;
/// Ids per `?ids=` request.
pub(crate) const MAX_IDS_PER_LIST: usize = 100;
/// Largest write body built from `values` and `dynamic-fields` (dynamic fields are copied
/// into every record, so the body can outgrow the values).
pub const MAX_WRITE_BODY_BYTES: usize = 16 << 20;
/// Largest page of records merged from several field batches (more than 50 fields): the
/// merged records are held whole before they are written out.
pub const MAX_MERGED_PAGE_BYTES: usize = 32 << 20;
const TRIGGERS: [&str; 5] = ["workflow", "approval", "blueprint", "orchestration", "pathfinder"];

fn values_error(e: JsonError) -> ZohoError {
    ZohoError::invalid_input(format!("values must be JSON: an object such as {{\"Last_Name\":\"Doe\"}} or an array of objects ({e})"))
}

/// One record of `values`, its members read with their values raw.
fn record_members<'a>(what: &str, text: &'a str) -> Result<Vec<(String, &'a RawValue)>> {
    json::members(text, MAX_KEYS_PER_RECORD).map_err(|e| match e {
        JsonError::TooMany { limit } => ZohoError::invalid_input(format!("{what} names more than {limit} fields; no Zoho record has that many")),
        other => values_error(other),
    })
}

/// Reads `values` (object or array of objects) and fills each record from `dynamic-fields`:
/// a key present in the record keeps the record's value. Returns each record's JSON text and
/// whether a single object was given. Sizes are checked before parsing; nothing becomes a tree.
pub(crate) fn records_from_values(values: &str, dynamic_fields: Option<&str>) -> Result<(Vec<String>, bool)> {
    if values.len() > MAX_VALUES_BYTES {
        return Err(ZohoError::invalid_input(format!(
            "values is {} bytes; at most {MAX_VALUES_BYTES} bytes (16 MiB) are accepted: send fewer records per step, and files as attachments",
            values.len()
        )));
    }
    let dynamic = match dynamic_fields.map(str::trim).filter(|d| !d.is_empty()) {
        None => Vec::new(),
        Some(text) => json::input_object("dynamic-fields", text, MAX_DYNAMIC_FIELDS_BYTES)?,
    };
    let trimmed = values.trim_start();
    let (records, single) = if trimmed.starts_with('{') {
        (vec![record_members("values", values)?], true)
    } else if trimmed.starts_with('[') {
        let items = json::items(values.as_bytes(), MAX_RECORDS_PER_WRITE).map_err(|e| match e {
            JsonError::TooMany { .. } => ZohoError::invalid_input(format!("values holds more than {MAX_RECORDS_PER_WRITE} records; Zoho takes 1 to {MAX_RECORDS_PER_WRITE} per request")),
            other => values_error(other),
        })?;
        if items.is_empty() {
            return Err(ZohoError::invalid_input(format!("values holds 0 records; Zoho takes 1 to {MAX_RECORDS_PER_WRITE} per request")));
        }
        let mut records = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if !json::is_object(item) {
                return Err(ZohoError::invalid_input(format!("values[{i}] must be a JSON object, not {}", json::kind_of(item.get()))));
            }
            records.push(record_members(&format!("values[{i}]"), item.get())?);
        }
        (records, false)
    } else if json::is_json(values.as_bytes()) {
        return Err(ZohoError::invalid_input(format!("values must be a JSON object or array of objects, not {}", json::kind_of(values))));
    } else {
        let why = serde_json::from_str::<serde::de::IgnoredAny>(values).err().map(|e| e.to_string()).unwrap_or_default();
        return Err(values_error(JsonError::Invalid(why)));
    };
    let mut total = 0usize;
    let mut texts = Vec::with_capacity(records.len());
    for mut record in records {
        let present: HashSet<String> = record.iter().map(|(k, _)| k.clone()).collect();
        record.extend(dynamic.iter().filter(|(k, _)| !present.contains(k)).map(|(k, v)| (k.clone(), *v)));
        let text = json::object_text(&record);
        total = total.saturating_add(text.len());
        if total > MAX_WRITE_BODY_BYTES {
            return Err(ZohoError::invalid_input(format!("the records with dynamic-fields filled in come to more than {MAX_WRITE_BODY_BYTES} bytes (16 MiB); send fewer records per step")));
        }
        texts.push(text);
    }
    Ok((texts, single))
}

/// `{"data":[...], "trigger":[...]}` with the trigger names checked, composed from the
/// records' texts.
pub(crate) fn write_body(records: Vec<String>, trigger: &Option<Vec<String>>) -> Result<Body> {
    write_body_with(records, trigger, &[])
}

/// [`write_body`] plus `"duplicate_check_fields":[...]` when any are given (upsert).
pub(crate) fn write_body_with(records: Vec<String>, trigger: &Option<Vec<String>>, duplicate_check_fields: &[String]) -> Result<Body> {
    let mut body = String::with_capacity(records.iter().map(|r| r.len() + 1).sum::<usize>() + 64);
    body.push_str("{\"data\":[");
    for (n, record) in records.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        body.push_str(record);
    }
    body.push(']');
    drop(records);
    if !duplicate_check_fields.is_empty() {
        body.push_str(",\"duplicate_check_fields\":");
        body.push_str(&json!(duplicate_check_fields).to_string());
    }
    check_trigger(trigger)?;
    if let Some(trigger) = trigger {
        body.push_str(",\"trigger\":");
        body.push_str(&json!(trigger).to_string());
    }
    body.push('}');
    Ok(Body::new("application/json", body.into_bytes()))
}

/// The trigger names, each one Zoho runs (checked before any request, the field checks' included).
pub(crate) fn check_trigger(trigger: &Option<Vec<String>>) -> Result<()> {
    match trigger.iter().flatten().find(|t| !TRIGGERS.contains(&t.as_str())) {
        Some(bad) => Err(ZohoError::invalid_input(format!("trigger {bad:?} is not one of {}; an empty list runs none", TRIGGERS.join(", ")))),
        None => Ok(()),
    }
}

pub fn create_record(client: &Client, input: &CreateRecordInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let (records, single) = records_from_values(&input.values, input.dynamic_fields.as_deref())?;
    let sent = records.len();
    check_trigger(&input.trigger)?;
    field_checks::check(client, module, &records, Write::Create)?;
    let body = write_body(records, &input.trigger)?;
    let response = client.send(ApiCall::new(Method::Post, format!("/crm/v8/{module}")).body(body))?;
    write_outcome(&response, single, sent)
}

/// What a write of records answers: the one outcome for a single object, else
/// `{"data":[...]}` with every record's own outcome (a mixed 207 is a success). An answer
/// listing more than `sent` outcomes is refused unread.
pub(crate) fn write_outcome(response: &Response, single: bool, sent: usize) -> Result<String> {
    if single {
        single_outcome_of(response, &write_items_within(response, 1)?)
    } else {
        Ok(listing_text(write_outcomes(response, sent)?.iter().map(|r| r.get()), None))
    }
}

pub fn update_record(client: &Client, input: &UpdateRecordInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let id = validate::record_id(&input.record_id)?;
    let (records, single) = records_from_values(&input.values, input.dynamic_fields.as_deref())?;
    if !single {
        return Err(ZohoError::invalid_input("values must be one JSON object: update-record changes the record named by record-id"));
    }
    check_trigger(&input.trigger)?;
    field_checks::check(client, module, &records, Write::Update)?;
    let body = write_body(records, &input.trigger)?;
    let response = client.send(ApiCall::new(Method::Put, format!("/crm/v8/{module}/{id}")).body(body))?;
    single_outcome(&response)
}

pub fn remove_record(client: &Client, input: &RemoveRecordInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let id = validate::record_id(&input.record_id)?;
    let response = client.send(ApiCall::new(Method::Delete, format!("/crm/v8/{module}/{id}")))?;
    single_outcome(&response)
}

pub fn get_record(client: &Client, input: &GetRecordInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let id = validate::record_id(&input.record_id)?;
    let mut call = ApiCall::new(Method::Get, format!("/crm/v8/{module}/{id}"));
    if let Some(fields) = input.fields.as_deref() {
        let fields = validate::field_names(fields)?;
        if fields.len() > MAX_FIELDS_PER_LIST {
            return Err(ZohoError::invalid_input(format!("fields names {} fields; Zoho takes at most {MAX_FIELDS_PER_LIST}", fields.len())));
        }
        if !fields.is_empty() {
            call = call.query("fields", fields.join(","));
        }
    }
    let response = client.send(call)?;
    match content(&response)? {
        Some(response) => first_record(response),
        None => Err(ZohoError::new(ErrorKind::NotFound, format!("no {module} record has id {id}")).with_status(204)),
    }
}

/// The one record of a get-record answer, as Zoho's text (a longer `data` is refused unread).
fn first_record(response: &Response) -> Result<String> {
    let listing = list_page(response, 1)?;
    match listing.data.first() {
        Some(record) if json::is_object(record) => Ok(record.get().to_string()),
        // A record is an object; anything else (a hostile nest of arrays) is not passed on.
        Some(other) => Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho answered 200 with a record that is {}, not an object", json::kind_of(other.get()))).with_status(200)),
        None => Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho answered 200 without a record: {:?}", response.body_start())).with_status(200)),
    }
}

pub fn get_records(client: &Client, input: &GetRecordsInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?.to_string();
    let per_page = input.per_page.unwrap_or(200);
    if !(1..=200).contains(&per_page) {
        return Err(ZohoError::invalid_input(format!("per-page {per_page} is out of range: Zoho returns 1 to 200 records per page")));
    }
    let page_token = input.page_token.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if input.page.is_some() && page_token.is_some() {
        return Err(ZohoError::invalid_input("give page or page-token, not both: a page token already says where the page starts"));
    }
    if input.page == Some(0) {
        return Err(ZohoError::invalid_input("page starts at 1"));
    }
    let sort_by = match input.sort_by.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s @ ("id" | "Created_Time" | "Modified_Time")) => Some(s.to_string()),
        Some(other) => return Err(ZohoError::invalid_input(format!("sort-by {other:?} is not supported: use id, Created_Time or Modified_Time"))),
    };
    let sort_order = match input.sort_order.as_deref().map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) if s == "asc" || s == "desc" => Some(s),
        Some(other) => return Err(ZohoError::invalid_input(format!("sort-order {other:?} must be asc or desc"))),
    };
    let cvid = match input.cvid.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(validate::record_id(c).map_err(|_| ZohoError::invalid_input(format!("cvid {c:?} is not a custom view id (a number)")))?.to_string()),
    };
    let named = match input.fields.as_deref() {
        Some(f) => validate::field_names(f)?,
        None => Vec::new(),
    };
    let mut fields = if named.is_empty() { module_fields(client, &module)? } else { named };
    // The id ties the batches of a wide record back together.
    if !fields.iter().any(|f| f == "id") {
        fields.insert(0, "id".to_string());
    }
    let batches = field_batches(&fields);
    let first_batch: &[String] = batches.first().copied().unwrap_or_default();
    let query = ListQuery { module, per_page, sort_by, sort_order, cvid };

    let page = input.page.unwrap_or(1);
    let (response, page_number) = match page_token {
        Some(token) => (client.send(query.call(first_batch).query("page_token", token))?, None),
        None => (page_tokens::fetch_page(client, &query, first_batch, page)?, Some(page)),
    };
    if content(&response)?.is_none() {
        return Ok(json!({ "data": [], "info": { "count": 0, "more_records": false, "page": page_number.unwrap_or(1), "per_page": per_page } }).to_string());
    }
    // Zoho sends at most per-page records; a longer list is refused before it is held.
    let listing = list_page(&response, per_page as usize)?;
    let info = match (page_number, info_object(&response, listing.info)?) {
        (Some(n), Some(mut info)) => {
            info.insert("page".into(), json!(n));
            Some(Value::Object(info).to_string())
        }
        _ => listing.info.map(|i| i.get().to_string()),
    };
    if batches.len() < 2 {
        return Ok(listing_text(listing.data.iter().map(|r| r.get()), info.as_deref()));
    }
    let mut records = MergedRecords::read(&listing.data)?;
    drop(listing);
    drop(response);
    records.complete(client, &query.module, batches.get(1..).unwrap_or_default())?;
    let texts = records.texts();
    Ok(listing_text(texts.iter().map(String::as_str), info.as_deref()))
}

/// One record being completed from several field batches: its members in Zoho's order,
/// values raw (owned, since the answers they came from are dropped batch by batch).
struct Merged {
    members: Vec<(String, Box<RawValue>)>,
    at: HashMap<String, usize>,
}

impl Merged {
    fn set(&mut self, key: String, value: Box<RawValue>) {
        match self.at.get(&key).and_then(|&n| self.members.get_mut(n)) {
            Some(member) => member.1 = value,
            None => {
                self.at.insert(key.clone(), self.members.len());
                self.members.push((key, value));
            }
        }
    }
}

/// A page of records merged across field batches, held within [`MAX_MERGED_PAGE_BYTES`].
pub(crate) struct MergedRecords {
    records: Vec<Merged>,
    bytes: usize,
}

fn merged_too_large() -> ZohoError {
    ZohoError::new(ErrorKind::Zoho, format!("the page's records come to more than {MAX_MERGED_PAGE_BYTES} bytes (32 MiB) with every field; ask for fewer fields or a smaller per-page"))
}

fn record_of(raw: &RawValue) -> Result<Vec<(String, &RawValue)>> {
    json::members(raw.get(), MAX_KEYS_PER_RECORD).map_err(|e| ZohoError::new(ErrorKind::Zoho, format!("Zoho sent a record that is not an object of at most {MAX_KEYS_PER_RECORD} fields ({e})")))
}

impl MergedRecords {
    pub(crate) fn read(records: &[&RawValue]) -> Result<Self> {
        let mut merged = MergedRecords { records: Vec::with_capacity(records.len()), bytes: 0 };
        for raw in records {
            let mut record = Merged { members: Vec::new(), at: HashMap::new() };
            for (key, value) in record_of(raw)? {
                record.set(key, value.to_owned());
            }
            merged.bytes = merged.bytes.saturating_add(raw.get().len());
            merged.records.push(record);
        }
        if merged.bytes > MAX_MERGED_PAGE_BYTES {
            return Err(merged_too_large());
        }
        Ok(merged)
    }

    pub(crate) fn complete(&mut self, client: &Client, module: &str, batches: &[&[String]]) -> Result<()> {
        let mut ids = Vec::new();
        let mut index = HashMap::new();
        for (n, record) in self.records.iter().enumerate() {
            if let Some(id) = record.at.get("id").and_then(|&at| record.members.get(at)).and_then(|(_, v)| json::raw_str(v)) {
                index.insert(id.clone(), n);
                ids.push(id);
            }
        }
        fetch_batches(client, module, batches, &ids, &mut |id, part| {
            let Some(record) = index.get(id).and_then(|&n| self.records.get_mut(n)) else { return Ok(()) };
            for (key, value) in part {
                self.bytes = self.bytes.saturating_add(key.len() + value.get().len());
                record.set(key, value.to_owned());
            }
            if self.bytes > MAX_MERGED_PAGE_BYTES {
                return Err(merged_too_large());
            }
            Ok(())
        })
    }

    pub(crate) fn texts(self) -> Vec<String> {
        self.records.into_iter().map(|r| json::object_text(&r.members)).collect()
    }
}

/// `fields` (the id first among them) in batches of one `GET` each: the first as it stands,
/// each later one with room for the id [`fetch_batches`] puts before it, so no request names
/// more than Zoho's 50 fields (a module of more than 100 fields asked 51 in its second batch,
/// and Zoho refused it with LIMIT_EXCEEDED).
pub(crate) fn field_batches(fields: &[String]) -> Vec<&[String]> {
    let (first, rest) = fields.split_at(fields.len().min(MAX_FIELDS_PER_LIST));
    std::iter::once(first).chain(rest.chunks(MAX_FIELDS_PER_LIST - 1)).filter(|b| !b.is_empty()).collect()
}

/// A record's members, values raw (see [`json::members`]).
type Members<'a> = Vec<(String, &'a RawValue)>;

/// Fetches the fields of the later batches for `ids` (by `?ids=`, so every batch describes
/// exactly the records of the first), handing each returned record's id and members to `merge`.
fn fetch_batches(client: &Client, module: &str, batches: &[&[String]], ids: &[String], merge: &mut dyn FnMut(&str, Members<'_>) -> Result<()>) -> Result<()> {
    for batch in batches {
        for chunk in ids.chunks(MAX_IDS_PER_LIST) {
            let mut fields = batch.to_vec();
            fields.insert(0, "id".to_string());
            let call = ApiCall::new(Method::Get, format!("/crm/v8/{module}")).query("fields", fields.join(",")).query("ids", chunk.join(","));
            let response = client.send(call)?;
            if content(&response)?.is_none() {
                continue;
            }
            // Zoho answers at most one record per id asked for.
            let listing = list_page(&response, chunk.len())?;
            for part in &listing.data {
                if !json::is_object(part) {
                    continue;
                }
                let members = record_of(part)?;
                let Some(id) = members.iter().find(|(k, _)| k == "id").and_then(|(_, v)| json::raw_str(v)) else { continue };
                merge(&id, members)?;
            }
        }
    }
    Ok(())
}

/// Completes records given as raw text with the fields of the later batches, as text and
/// within [`MAX_MERGED_PAGE_BYTES`] (a sweep's wide page): past it a `zoho` error asking for
/// fewer fields or a smaller per-page, never a page held as trees.
pub(crate) fn complete_texts(client: &Client, module: &str, batches: &[&[String]], records: &[&RawValue]) -> Result<Vec<String>> {
    let mut merged = MergedRecords::read(records)?;
    merged.complete(client, module, batches)?;
    Ok(merged.texts())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_batch_asks_for_more_than_fifty_fields_with_its_id() {
        let fields: Vec<String> = (0..=200).map(|i| if i == 0 { "id".to_string() } else { format!("F{i}") }).collect();
        let batches = field_batches(&fields);
        assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), [50, 49, 49, 49, 4]);
        assert!(batches.iter().skip(1).all(|b| b.len() < MAX_FIELDS_PER_LIST && !b.contains(&"id".to_string())));
        assert_eq!(batches.concat(), fields);
        assert_eq!(field_batches(&fields[..50]).len(), 1);
        assert!(field_batches(&[]).is_empty());
    }

    #[test]
    fn dynamic_fields_fill_in_and_values_win() {
        let (records, single) = records_from_values(r#"{"Last_Name":"Doe","Lead_Source":"Web"}"#, Some(r#"{"Lead_Source":"Ads","Company":"Zylker"}"#)).unwrap();
        assert!(single);
        assert_eq!(records, [r#"{"Last_Name":"Doe","Lead_Source":"Web","Company":"Zylker"}"#]);
    }

    #[test]
    fn values_shapes_are_checked() {
        assert!(records_from_values("[]", None).is_err());
        assert!(records_from_values("[1]", None).is_err());
        assert!(records_from_values("\"x\"", None).is_err());
        assert!(records_from_values("{", None).is_err());
        let many = format!("[{}]", vec!["{}"; 101].join(","));
        assert!(records_from_values(&many, None).is_err());
        assert!(write_body(vec![], &Some(vec!["everything".into()])).is_err());
    }

    #[test]
    fn input_sizes_are_checked_before_parsing() {
        let over = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_VALUES_BYTES));
        assert!(records_from_values(&over, None).unwrap_err().message.starts_with("values is 16777224 bytes"));
        let keys: Vec<String> = (0..=MAX_KEYS_PER_RECORD).map(|i| format!("\"k{i}\":0")).collect();
        let wide = format!("{{{}}}", keys.join(","));
        assert!(records_from_values(&wide, None).unwrap_err().message.contains("more than 1000 fields"));
        let dynamic = format!(r#"{{"Company":"{}"}}"#, "c".repeat(MAX_DYNAMIC_FIELDS_BYTES));
        assert!(records_from_values("{}", Some(&dynamic)).unwrap_err().message.starts_with("dynamic-fields is"));
        // 200 KB of dynamic fields copied into 100 records would make a 20 MB body.
        let dynamic = format!(r#"{{"Company":"{}"}}"#, "c".repeat(200_000));
        let hundred = format!("[{}]", vec!["{}"; 100].join(","));
        assert!(records_from_values(&hundred, Some(&dynamic)).unwrap_err().message.contains("more than 16777216 bytes"));
        // A long array value stays one raw member.
        let long = format!(r#"{{"a":[{}0]}}"#, "0,".repeat(1_000_000));
        assert_eq!(records_from_values(&long, None).unwrap().0[0].len(), long.len());
        assert!(records_from_values("  7 ", None).unwrap_err().message.contains("not a number"));
    }
}
