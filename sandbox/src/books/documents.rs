//! Zoho Books' sales and purchase documents as the sandbox serves them: invoices, estimates,
//! sales orders, purchase orders, bills and credit notes. A created document names an existing
//! contact of its organization (`customer_id`, or `vendor_id` for purchases), must have
//! `line_items`, gets its number from the organization's series (`INV-000001`, ...; a bill
//! carries the vendor's own `bill_number`), its status (draft; bills and credit notes open),
//! `currency_code`, `date` and `due_date`, and the totals its lines come to ([`totals`]).
//! Only these documents render as PDF or HTML (`accept=pdf|html`); a contact or an item does not.
//!
//! Sources: Zoho Books API v3 pages "Invoices", "Estimates", "Sales Order", "Purchase Order",
//! "Bills", "Credit Notes" (their Create and Get endpoints: required `customer_id`/`vendor_id`
//! and `line_items`, `ignore_auto_number_generation`, `accept` json/pdf/html); "Response"
//! ("Certain APIs also support csv and pdf formats"); Zoho Invoice "Invoices" (code 1001
//! "Invoice Number already exist"). Books names no code for an unknown contact, item or tax,
//! nor for a missing field: the sandbox answers its general code 4, as for the JSONString.

use crate::books::organizations::{currency_of, next_number, records_of, Records};
use crate::books::totals::{self, cents};
use crate::request::RecordedRequest;
use crate::response::json_response;
use crate::state::Data;
use axum::response::Response;
use serde_json::{json, Map, Value};

fn books_error(status: u16, code: i64, message: &str) -> Response {
    json_response(status, &json!({ "code": code, "message": message }))
}

/// One kind of document: where it lives, how it is numbered and whom it names.
pub struct Kind {
    pub collection: &'static str,
    pub singular: &'static str,
    pub id_field: &'static str,
    pub label: &'static str,
    pub number_field: &'static str,
    /// The series' prefix; `None`: the number is the caller's (a vendor's bill number).
    pub prefix: Option<&'static str>,
    /// `customer_id` for sales, `vendor_id` for purchases.
    pub party: &'static str,
    /// The status a created document has.
    pub status: &'static str,
    /// Whether the document carries what is still owed (`balance`).
    pub owed: bool,
    /// Whether Books renders it as PDF or HTML.
    pub renders: bool,
}

/// Books' default series are `INV-000001`, `EST-000001`, `SO-00001`, `PO-00001`, `CN-00001`;
/// the sandbox gives every series six digits.
pub const KINDS: [Kind; 6] = [
    Kind {
        collection: "invoices",
        singular: "invoice",
        id_field: "invoice_id",
        label: "Invoice",
        number_field: "invoice_number",
        prefix: Some("INV-"),
        party: "customer_id",
        status: "draft",
        owed: true,
        renders: true,
    },
    Kind {
        collection: "estimates",
        singular: "estimate",
        id_field: "estimate_id",
        label: "Estimate",
        number_field: "estimate_number",
        prefix: Some("EST-"),
        party: "customer_id",
        status: "draft",
        owed: false,
        renders: true,
    },
    Kind {
        collection: "salesorders",
        singular: "salesorder",
        id_field: "salesorder_id",
        label: "Sales Order",
        number_field: "salesorder_number",
        prefix: Some("SO-"),
        party: "customer_id",
        status: "draft",
        owed: false,
        renders: true,
    },
    Kind {
        collection: "purchaseorders",
        singular: "purchaseorder",
        id_field: "purchaseorder_id",
        label: "Purchase Order",
        number_field: "purchaseorder_number",
        prefix: Some("PO-"),
        party: "vendor_id",
        status: "draft",
        owed: false,
        renders: true,
    },
    Kind { collection: "bills", singular: "bill", id_field: "bill_id", label: "Bill", number_field: "bill_number", prefix: None, party: "vendor_id", status: "open", owed: true, renders: false },
    Kind {
        collection: "creditnotes",
        singular: "creditnote",
        id_field: "creditnote_id",
        label: "Credit Note",
        number_field: "creditnote_number",
        prefix: Some("CN-"),
        party: "customer_id",
        status: "open",
        owed: true,
        renders: true,
    },
];

pub fn kind_of(collection: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.collection == collection)
}

/// The records route's description of a document collection: singular key, plural key, id
/// field, the field a create must give, and its label.
pub fn resource(parent: Option<&str>, name: &str) -> Option<(&'static str, &'static str, &'static str, &'static str, &'static str)> {
    let kind = kind_of(name).filter(|_| parent.is_none())?;
    Some((kind.singular, kind.collection, kind.id_field, kind.party, kind.label))
}

/// The number a new document gets: the next of the series not taken, or the caller's with
/// `ignore_auto_number_generation=true` (then required and unique), or a bill's own.
fn number(data: &mut Data, org: &str, kind: &Kind, values: &Map<String, Value>, request: &RecordedRequest) -> Result<String, Response> {
    let given = values.get(kind.number_field).and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
    let taken = |data: &mut Data, number: &str| records_of(&mut data.books, org).get(&(kind.collection.to_string(), None)).is_some_and(|r| r.iter().any(|d| d[kind.number_field] == number));
    let Some(prefix) = kind.prefix.filter(|_| request.query_param("ignore_auto_number_generation") != Some("true")) else {
        let Some(number) = given else { return Err(books_error(400, 4, &format!("Please enter {}", kind.number_field))) };
        if kind.prefix.is_some() && taken(data, &number) {
            return Err(books_error(400, 1001, &format!("{} Number already exist", kind.label)));
        }
        return Ok(number);
    };
    loop {
        let number = format!("{prefix}{:06}", next_number(&mut data.books, org, kind.collection));
        if !taken(data, &number) {
            return Ok(number);
        }
    }
}

/// What a create of `collection` completes before the record is stored: a document's number,
/// lines and totals, a payment's effect on its invoices; nothing for other records.
pub fn on_create(data: &mut Data, org: &str, collection: &str, values: &mut Map<String, Value>, request: &RecordedRequest, now: &str) -> Result<(), Response> {
    let today = now.get(..10).unwrap_or(now);
    match kind_of(collection) {
        Some(kind) => prepare(data, org, kind, values, request, today),
        None if collection == "customerpayments" => crate::books::payments::apply(data, org, values, today, now),
        None => Ok(()),
    }
}

/// A `yyyy-mm-dd` date field, or `default`.
fn date(values: &Map<String, Value>, field: &str, default: &str) -> Result<String, Response> {
    match values.get(field).and_then(Value::as_str).filter(|d| !d.is_empty()) {
        None => Ok(default.to_string()),
        Some(d) if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok() => Ok(d.to_string()),
        Some(_) => Err(books_error(400, 4, &format!("Invalid value passed for {field}"))),
    }
}

/// Completes a new document of `kind` in organization `org` as Books stores it, or Books'
/// refusal. `today` is the organization's date (`yyyy-mm-dd`).
pub fn prepare(data: &mut Data, org: &str, kind: &Kind, values: &mut Map<String, Value>, request: &RecordedRequest, today: &str) -> Result<(), Response> {
    let records = records_of(&mut data.books, org);
    let (party_id, party) = party_of(records, kind, values)?;
    let vendor = kind.party == "vendor_id";
    if values.get("line_items").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        return Err(books_error(400, 4, "Please enter line_items"));
    }
    let items = records.get(&("items".to_string(), None)).cloned().unwrap_or_default();
    let taxes = records.get(&("taxes".to_string(), None)).cloned().unwrap_or_default();
    let computed = totals::compute(values, &items, &taxes, &mut data.next_id).map_err(|(code, message)| books_error(400, code, &message))?;
    let date = date(values, "date", today)?;
    let due_date = date_after(values, &date)?;
    let number = number(data, org, kind, values, request)?;
    let name_field = if vendor { "vendor_name" } else { "customer_name" };
    values.insert(kind.party.into(), json!(party_id));
    values.insert(name_field.into(), party["contact_name"].clone());
    values.insert(kind.number_field.into(), json!(number));
    values.insert("status".into(), json!(kind.status));
    values.insert("date".into(), json!(date));
    values.insert("due_date".into(), json!(due_date));
    values.insert("currency_code".into(), json!(currency_of(&data.books, org)));
    values.insert("line_items".into(), json!(computed.line_items));
    values.insert("sub_total".into(), json!(computed.sub_total));
    values.insert("tax_total".into(), json!(computed.tax_total));
    values.insert("total".into(), json!(computed.total));
    if kind.owed {
        values.insert("balance".into(), json!(computed.total));
    }
    Ok(())
}

/// The contact a document names (`customer_id` a customer, `vendor_id` a vendor), with its id.
fn party_of(records: &Records, kind: &Kind, values: &Map<String, Value>) -> Result<(String, Value), Response> {
    let id = values.get(kind.party).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).unwrap_or_default();
    let vendor = kind.party == "vendor_id";
    let party = records
        .get(&("contacts".to_string(), None))
        .and_then(|contacts| contacts.iter().find(|c| c["contact_id"] == id.as_str() && (c["contact_type"] == "vendor") == vendor))
        .cloned()
        .ok_or_else(|| books_error(400, 4, &format!("Invalid value passed for {}", kind.party)))?;
    Ok((id, party))
}

/// `PUT` of a document that changes its contact or its lines: checked as on create, the totals
/// computed again (what was paid stays paid: the balance moves with the total), the rest merged.
/// `None` leaves every other update to the records route.
pub fn on_update(data: &mut Data, org: &str, collection: &str, id: &str, request: &RecordedRequest, now: &str) -> Option<Response> {
    let kind = kind_of(collection)?;
    let Some(Value::Object(body)) = request.json() else { return None };
    if !body.contains_key("line_items") && !body.contains_key(kind.party) {
        return None;
    }
    let records = records_of(&mut data.books, org);
    let index = records.get(&(collection.to_string(), None))?.iter().position(|r| r[kind.id_field] == id)?;
    let items = records.get(&("items".to_string(), None)).cloned().unwrap_or_default();
    let taxes = records.get(&("taxes".to_string(), None)).cloned().unwrap_or_default();
    let Value::Object(mut record) = records.get(&(collection.to_string(), None))?.get(index)?.clone() else { return None };
    for (key, value) in body {
        if key != kind.id_field {
            record.insert(key, value);
        }
    }
    let (party_id, party) = match party_of(records, kind, &record) {
        Ok(found) => found,
        Err(refusal) => return Some(refusal),
    };
    let paid = record.get("total").and_then(Value::as_f64).unwrap_or(0.0) - record.get("balance").and_then(Value::as_f64).unwrap_or(0.0);
    let computed = match totals::compute(&record, &items, &taxes, &mut data.next_id) {
        Ok(computed) => computed,
        Err((code, message)) => return Some(books_error(400, code, &message)),
    };
    if kind.owed && computed.total < paid {
        return Some(books_error(400, 4, "The total cannot be less than the amount already paid."));
    }
    record.insert(kind.party.into(), json!(party_id));
    record.insert(if kind.party == "vendor_id" { "vendor_name" } else { "customer_name" }.into(), party["contact_name"].clone());
    record.insert("line_items".into(), json!(computed.line_items));
    record.insert("sub_total".into(), json!(computed.sub_total));
    record.insert("tax_total".into(), json!(computed.tax_total));
    record.insert("total".into(), json!(computed.total));
    if kind.owed {
        record.insert("balance".into(), json!(cents(computed.total - paid)));
    }
    record.insert("last_modified_time".into(), json!(now));
    let stored = records_of(&mut data.books, org).get_mut(&(collection.to_string(), None))?.get_mut(index)?;
    *stored = Value::Object(record.clone());
    let mut answer = Map::new();
    answer.insert("code".into(), json!(0));
    answer.insert("message".into(), json!(format!("{} information has been updated.", kind.label)));
    answer.insert(kind.singular.into(), Value::Object(record));
    Some(json_response(200, &Value::Object(answer)))
}

/// The due date: given (on or after the date), else the date itself ("Due on Receipt").
fn date_after(values: &Map<String, Value>, date: &str) -> Result<String, Response> {
    let due = self::date(values, "due_date", date)?;
    if due.as_str() < date {
        return Err(books_error(400, 4, "Invalid value passed for due_date"));
    }
    Ok(due)
}

/// `GET /{collection}/{id}?accept=pdf|html`: the document's file for what Books renders, Books'
/// refusal for the rest (a contact is no document); `None` for the JSON answer.
pub fn document(collection: &str, record: &Value, accept: Option<&str>) -> Option<Response> {
    let accept = accept.filter(|a| *a == "pdf" || *a == "html")?;
    let Some(kind) = kind_of(collection).filter(|k| k.renders) else {
        return Some(books_error(400, 4, "Invalid value passed for accept"));
    };
    crate::books::actions::document(record, kind.number_field, accept)
}

/// When and in what currency seeded documents were made.
pub struct Stamp<'a> {
    pub currency: &'a str,
    pub date: &'a str,
    pub time: &'a str,
}

/// A seeded document, sent: `lines` of (item id, name, rate, quantity), number `n` of the series.
pub fn seeded(kind: &Kind, id: &str, n: u64, party: &Value, lines: &[(&str, &str, f64, f64)], stamp: &Stamp) -> Value {
    let line_items: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, (item_id, name, rate, quantity))| {
            let total = cents(rate * quantity);
            json!({ "line_item_id": format!("{id}{i}"), "item_id": item_id, "name": name, "item_order": i + 1, "rate": rate, "quantity": quantity, "discount": 0.0, "discount_amount": 0.0, "tax_id": "", "tax_percentage": 0.0, "item_total": total })
        })
        .collect();
    let total = cents(lines.iter().map(|(_, _, rate, quantity)| cents(rate * quantity)).sum());
    let mut document = json!({
        kind.id_field: id, kind.number_field: format!("{}{n:06}", kind.prefix.unwrap_or("")), kind.party: party["contact_id"], "status": "sent",
        "date": stamp.date, "due_date": stamp.date, "currency_code": stamp.currency, "line_items": line_items, "sub_total": total, "tax_total": 0.0, "total": total,
        "created_time": stamp.time, "last_modified_time": stamp.time,
    });
    document[if kind.party == "vendor_id" { "vendor_name" } else { "customer_name" }] = party["contact_name"].clone();
    if kind.owed {
        document["balance"] = json!(total);
    }
    document
}
