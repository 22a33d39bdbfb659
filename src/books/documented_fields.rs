//! The fields Zoho Books v3 documents for creating and updating each resource, as JSON Schemas
//! (draft 2020-12) a platform renders a form from. Books has no field-metadata API (CRM's
//! `/settings/fields` has no Books counterpart), so the schemas come from Zoho's own pages: the
//! "Create ..." and "Update ..." request bodies of each resource's page under
//! https://www.zoho.com/books/api/v3/ (the OpenAPI document each page offers for download), kept
//! as data in `documented_fields/*.json`, one file per area of Books' menu (contacts, items,
//! sales, purchases, time tracking, banking, accountant, settings). Each resource names its page
//! (`page`) and the request it documents (`endpoint`).
//!
//! What a table holds, per resource: `properties` (each field's type, its `maxLength` where the
//! page gives one, its values: `enum` where the page's list is the whole set, `examples` where
//! the page lists values but says other editions take more, `format: date` where the page says
//! yyyy-mm-dd, line items and other rows as arrays of objects with their documented fields), the
//! fields each request requires (`required_on_create`, `required_on_update`), the fields only
//! one of the two requests documents (`create_only`, `update_only`), and the fields whose update
//! entry differs from the create one (`update_changes`: a sales order's update line items carry
//! their `line_item_id`).
//!
//! The update pages mark fields required as the create pages do (an update of an invoice names
//! its customer and line items). Whether Books also takes a partial update is not said, so the
//! update schema keeps the page's required fields: a form that sends them works under either
//! reading.
//!
//! Corrections to Zoho's files, each where its page says otherwise: a customer payment's
//! `invoice_id` and `amount_applied` are listed among the payment's required fields in the file
//! but belong to each row of `invoices` (the page's "invoices" argument), so they are required
//! there.
//!
//! Every schema is open (`additionalProperties: true`): the pages document country editions'
//! fields unevenly, custom fields (`custom_fields`) vary per organization, and a field a page forgets is still taken by Books. A form
//! offers the documented fields; nothing here refuses a field Zoho accepts.
//!
//! No request is sent: the tables are Zoho's documentation, the same for every organization, so
//! describing a resource costs none of the organization's daily Books calls (and needs no
//! scope, and no organization_id).

use crate::crm::json_schema::DIALECT;
use crate::error::{ErrorKind, Result, ZohoError};
use serde_json::{json, Map, Value};

/// Each area's table: the resources it documents, by record type.
const TABLES: [&str; 8] = [
    include_str!("documented_fields/contacts.json"),
    include_str!("documented_fields/items.json"),
    include_str!("documented_fields/sales.json"),
    include_str!("documented_fields/purchases.json"),
    include_str!("documented_fields/time_tracking.json"),
    include_str!("documented_fields/banking.json"),
    include_str!("documented_fields/accountant.json"),
    include_str!("documented_fields/settings.json"),
];

/// One resource's entry, as its table holds it.
#[derive(serde::Deserialize)]
struct Documented {
    page: String,
    endpoint: String,
    update_endpoint: String,
    required_on_create: Vec<String>,
    required_on_update: Vec<String>,
    create_only: Vec<String>,
    update_only: Vec<String>,
    properties: Map<String, Value>,
    update_changes: Map<String, Value>,
}

/// The request a record's values are for.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Write {
    Create,
    Update,
}

/// The entry for `record_type`, from whichever table documents it (None when none does).
fn lookup(record_type: &str) -> Result<Option<Documented>> {
    for table in TABLES {
        // Each entry is kept as raw text: only the asked resource's is parsed, on every create
        // and update's field check.
        let resources: std::collections::HashMap<String, &serde_json::value::RawValue> =
            serde_json::from_str(table).map_err(|e| ZohoError::new(ErrorKind::Internal, format!("a Books field table is not JSON: {e}")))?;
        if let Some(entry) = resources.get(record_type) {
            let entry = serde_json::from_str(entry.get()).map_err(|e| ZohoError::new(ErrorKind::Internal, format!("the Books field table of {record_type} is malformed: {e}")))?;
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

impl Documented {
    /// The fields `write` documents: all but the other request's own, each as this request's
    /// page gives it.
    fn properties_for(&self, write: Write) -> Map<String, Value> {
        let (leave_out, changes) = match write {
            Write::Create => (&self.update_only, None),
            Write::Update => (&self.create_only, Some(&self.update_changes)),
        };
        self.properties.iter().filter(|(name, _)| !leave_out.contains(name)).map(|(name, field)| (name.clone(), changes.and_then(|c| c.get(name)).unwrap_or(field).clone())).collect()
    }

    fn required_for(&self, write: Write) -> &[String] {
        match write {
            Write::Create => &self.required_on_create,
            Write::Update => &self.required_on_update,
        }
    }

    /// The schema of one request's values.
    fn schema(&self, record_type: &str, write: Write) -> Value {
        let request = match write {
            Write::Create => "create",
            Write::Update => "update",
        };
        json!({
            "$schema": DIALECT,
            "title": format!("Zoho Books {record_type} ({request})"),
            "description": format!("The fields Zoho Books documents at {}; other fields (custom fields, other editions') are allowed.", self.page),
            "type": "object",
            "properties": self.properties_for(write),
            "required": self.required_for(write),
            "additionalProperties": true,
        })
    }
}

/// The fields `write` documents for `record_type`, or None when no page is kept for it.
pub fn documented_properties(record_type: &str, write: Write) -> Result<Option<Map<String, Value>>> {
    Ok(lookup(record_type)?.map(|entry| entry.properties_for(write)))
}

/// Books - Describe Resource: the documented fields of `record_type` as the schema of a create
/// request's values and of an update's, each with the fields its page requires.
pub fn describe_resource(record_type: &str) -> Result<Value> {
    let record_type = record_type.trim();
    let entry = lookup(record_type)?.ok_or_else(|| {
        ZohoError::invalid_input(format!("record-type {record_type:?} is not a Zoho Books resource whose fields are documented here: use one of {}", crate::books::resources::top_level().join(", ")))
    })?;
    Ok(json!({
        "record_type": record_type,
        "documentation": entry.page,
        "endpoint": entry.endpoint,
        "update_endpoint": entry.update_endpoint,
        "required_on_create": entry.required_on_create,
        "required_on_update": entry.required_on_update,
        "json_schema": entry.schema(record_type, Write::Create),
        "update_json_schema": entry.schema(record_type, Write::Update),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record type a Books form offers is documented, each once, every required field
    /// and every create- or update-only field among its properties, each page Zoho's.
    #[test]
    fn every_offered_record_type_is_documented_once() {
        let mut seen = Vec::new();
        for table in TABLES {
            let resources: Map<String, Value> = serde_json::from_str(table).expect("a table is JSON");
            for (record_type, entry) in resources {
                let entry: Documented = serde_json::from_value(entry).expect(&record_type);
                assert!(entry.page.starts_with("https://www.zoho.com/books/api/v3/"), "{record_type}: {}", entry.page);
                assert!(entry.endpoint.starts_with("POST /books/v3/"), "{record_type}: {}", entry.endpoint);
                assert!(entry.update_endpoint.starts_with("PUT /books/v3/"), "{record_type}: {}", entry.update_endpoint);
                let named = entry.required_on_create.iter().chain(&entry.required_on_update).chain(&entry.create_only).chain(&entry.update_only).chain(entry.update_changes.keys());
                for name in named {
                    assert!(entry.properties.contains_key(name), "{record_type}: {name} is not a documented field");
                }
                assert!(!seen.contains(&record_type), "{record_type} is documented twice");
                seen.push(record_type);
            }
        }
        let mut offered = crate::books::resources::top_level();
        offered.sort_unstable();
        seen.sort_unstable();
        assert_eq!(seen, offered);
    }

    #[test]
    fn create_and_update_schemas_differ_as_the_pages_do() {
        let invoices = describe_resource(" invoices ").unwrap();
        assert_eq!(invoices["record_type"], "invoices");
        assert_eq!(invoices["documentation"], "https://www.zoho.com/books/api/v3/invoices/#create-an-invoice");
        assert_eq!(invoices["json_schema"]["required"], json!(["customer_id", "line_items"]));
        assert_eq!(invoices["update_json_schema"]["required"], json!(["customer_id", "line_items"]));
        // A sales order's update line items carry the id of the line they change; a create's do not.
        let orders = describe_resource("salesorders").unwrap();
        assert!(orders["update_json_schema"]["properties"]["line_items"]["items"]["properties"]["line_item_id"].is_object());
        assert!(orders["json_schema"]["properties"]["line_items"]["items"]["properties"]["line_item_id"].is_null());
        // `send` is a create-only argument; `reference_invoice_id` an update-only one.
        assert!(invoices["json_schema"]["properties"]["send"].is_object());
        assert!(invoices["update_json_schema"]["properties"]["send"].is_null());
        assert!(invoices["json_schema"]["properties"]["reference_invoice_id"].is_null());
        assert!(invoices["update_json_schema"]["properties"]["reference_invoice_id"].is_object());
        let payments = describe_resource("customerpayments").unwrap();
        assert_eq!(payments["required_on_create"], json!(["customer_id", "payment_mode", "amount", "invoices", "date"]));
        assert_eq!(payments["required_on_update"], json!(["customer_id", "payment_mode", "amount", "invoices"]));
        for request in ["json_schema", "update_json_schema"] {
            assert_eq!(payments[request]["properties"]["invoices"]["items"]["required"], json!(["invoice_id", "amount_applied"]), "{request}");
        }
    }

    #[test]
    fn an_undocumented_record_type_is_refused_naming_the_documented_ones() {
        for odd in ["", "invoice", "Invoices", "salesreceipts", "../invoices", "invoices/comments"] {
            let e = describe_resource(odd).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidInput, "{odd}");
            assert!(e.message.contains("use one of contacts, invoices, items"), "{odd}: {}", e.message);
        }
    }
}
