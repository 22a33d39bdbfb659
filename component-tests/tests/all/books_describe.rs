//! Books - Describe Resource end to end: the fields Zoho Books' API pages document for creating
//! and updating each resource, as JSON Schemas a platform renders Books' create and update
//! forms from (their `schema-from` links), answered without a request.

use component_tests::{error_of, ok_of, Harness};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use zoho_host::manifest::OutputSchemas;

const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

fn names(schema: &Value) -> BTreeSet<String> {
    schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

fn set(names: &str) -> BTreeSet<String> {
    names.split_whitespace().map(str::to_string).collect()
}

/// The JSON Schema compiled as draft 2020-12 (the harness's validator), checked against values.
fn accepts(schema: &Value, values: &Value) -> Result<(), String> {
    let compiled = OutputSchemas::compile([("values", Some(schema), Some(values))]).map_err(|e| e.to_string())?;
    compiled.check("values", values)
}

/// An invoice as "Create an invoice" documents it (zoho.com/books/api/v3/invoices): the
/// customer and line items required, each line an object with its documented fields, and no
/// request sent (no token, no organization lookup: the table is Zoho's documentation).
#[tokio::test(flavor = "multi_thread")]
async fn an_invoice_is_described_as_zoho_documents_it_without_a_request() {
    let h = Harness::new().await;
    let out = ok_of(&h.run("books-describe-resource", json!({ "record-type": "invoices" })).await).clone();
    assert!(h.requests().is_empty(), "{:?}", h.requests());
    assert_eq!(out["record_type"], "invoices");
    assert_eq!(out["documentation"], "https://www.zoho.com/books/api/v3/invoices/#create-an-invoice");
    assert_eq!((out["endpoint"].as_str(), out["update_endpoint"].as_str()), (Some("POST /books/v3/invoices"), Some("PUT /books/v3/invoices/{invoice_id}")));
    assert_eq!(out["required_on_create"], json!(["customer_id", "line_items"]));
    assert_eq!(out["required_on_update"], json!(["customer_id", "line_items"]));

    let create = &out["json_schema"];
    assert_eq!((create["$schema"].as_str(), create["type"].as_str(), &create["additionalProperties"]), (Some(DIALECT), Some("object"), &json!(true)));
    assert_eq!(create["title"], "Zoho Books invoices (create)");
    assert_eq!(create["required"], json!(["customer_id", "line_items"]));
    let shared = "customer_id currency_id contact_persons_associated invoice_number place_of_supply vat_treatment tax_treatment is_reverse_charge_applied gst_treatment gst_no cfdi_usage \
        reference_number template_id date payment_terms payment_terms_label due_date discount is_discount_before_tax discount_type is_inclusive_tax exchange_rate location_id \
        recurring_invoice_id invoiced_estimate_id salesperson_name custom_fields tags line_items payment_options allow_partial_payments custom_body custom_subject notes terms \
        shipping_charge adjustment adjustment_description reason tax_authority_id tax_exemption_id avatax_use_code avatax_exempt_no tax_id expense_id salesorder_item_id avatax_tax_code";
    let create_only = "contact_persons send billing_address_id shipping_address_id time_entry_ids batch_payments";
    let update_only = "cfdi_reference_type reference_invoice_id line_item_id";
    assert_eq!(names(create), &set(shared) | &set(create_only));
    assert_eq!(names(&out["update_json_schema"]), &set(shared) | &set(update_only));

    let line = |extra: Value| {
        let mut properties = json!({
            "item_id": { "type": "string" }, "project_id": { "type": "string" }, "time_entry_ids": { "type": "array" },
            "product_type": { "type": "string", "examples": ["goods", "services"] }, "hsn_or_sac": { "type": "string" }, "sat_item_key_code": { "type": "string" },
            "unitkey_code": { "type": "string" }, "location_id": { "type": "string" }, "expense_id": { "type": "string" }, "bill_id": { "type": "string" },
            "bill_item_id": { "type": "string" }, "expense_receipt_name": { "type": "string" }, "name": { "type": "string", "maxLength": 100 },
            "description": { "type": "string", "maxLength": 2000 }, "item_order": { "type": "integer" }, "bcy_rate": { "type": "number" }, "rate": { "type": "number" },
            "quantity": { "type": "number" }, "unit": { "type": "string", "maxLength": 100 }, "discount_amount": { "type": "number" }, "discount": { "type": "number" },
            "tags": { "type": "array" }, "tax_id": { "type": "string" }, "tds_tax_id": { "type": "string" }, "tax_name": { "type": "string" }, "tax_type": { "type": "string" },
            "tax_percentage": { "type": "number" }, "tax_treatment_code": { "type": "string" }, "salesorder_item_id": { "type": "string" },
            "line_item_category": { "type": "string", "enum": ["line_item", "header", "subtotal"] },
        });
        properties.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        properties
    };
    assert_eq!(create["properties"]["line_items"], json!({ "type": "array", "items": { "type": "object", "properties": line(json!({})), "required": ["item_id"] } }));
    assert_eq!(create["properties"]["customer_id"], json!({ "type": "string" }));
    assert_eq!(create["properties"]["invoice_number"], json!({ "type": "string", "maxLength": 100 }));
    assert_eq!(
        create["properties"]["custom_fields"],
        json!({ "type": "array", "items": { "type": "object", "properties": { "customfield_id": { "type": "string" }, "value": { "type": "string" } } } })
    );

    // The schema is a draft 2020-12 schema a platform validates a form's values with: the
    // documented invoice passes, as do fields no page lists; a line without its item, a line
    // category outside the documented set and a missing customer fail.
    let invoice = json!({ "customer_id": "460000000026049", "date": "2026-12-07", "line_items": [{ "item_id": "460000000027009", "rate": 120, "quantity": 2 }], "cf_po": "7" });
    assert_eq!(accepts(create, &invoice), Ok(()));
    for (bad, because) in [
        (json!({ "line_items": [{ "item_id": "1" }] }), "missing properties 'customer_id'"),
        (json!({ "customer_id": "1", "line_items": [{ "rate": 1 }] }), "missing properties 'item_id'"),
        (json!({ "customer_id": "1", "line_items": [{ "item_id": "1", "line_item_category": "total" }] }), "enum"),
        (json!({ "customer_id": "1", "line_items": [{ "item_id": "1", "name": "x".repeat(101) }] }), "length"),
    ] {
        let error = accepts(create, &bad).expect_err(&bad.to_string());
        assert!(error.contains(because), "{because}: {error}");
    }
}

/// A contact as "Create a Contact" documents it: only its name required on create (the update
/// page names its type too), the contact persons as rows (an update's with their ids), the
/// contact type from its documented set.
#[tokio::test(flavor = "multi_thread")]
async fn a_contact_is_described_with_its_persons_and_addresses() {
    let h = Harness::new().await;
    let out = ok_of(&h.run("books-describe-resource", json!({ "record-type": "contacts" })).await).clone();
    assert!(h.requests().is_empty());
    assert_eq!(out["documentation"], "https://www.zoho.com/books/api/v3/contacts/#create-a-contact");
    assert_eq!((out["required_on_create"].clone(), out["required_on_update"].clone()), (json!(["contact_name"]), json!(["contact_name", "contact_type"])));
    let (create, update) = (&out["json_schema"], &out["update_json_schema"]);
    assert_eq!((create["required"].clone(), update["required"].clone()), (json!(["contact_name"]), json!(["contact_name", "contact_type"])));
    let shared = "contact_name company_name website contact_type customer_sub_type credit_limit pricebook_id contact_number ignore_auto_number_generation tags currency_id \
        payment_terms payment_terms_label notes billing_address shipping_address contact_persons default_templates custom_fields opening_balances vat_reg_no owner_id tax_reg_no \
        tax_exemption_certificate_number country_code vat_treatment tax_treatment tax_regime legal_name is_tds_registered place_of_contact gst_no gst_treatment tax_authority_name \
        avatax_exempt_no avatax_use_code tax_exemption_id tax_exemption_code tax_authority_id tax_id is_taxable facebook twitter track_1099 tax_id_type tax_id_value";
    assert_eq!(names(create), &set(shared) | &set("is_portal_enabled language_code tds_tax_id"));
    assert_eq!(names(update), set(shared));
    assert_eq!(create["properties"]["contact_type"], json!({ "type": "string", "enum": ["customer", "vendor"] }));
    let person = |id: bool| {
        let mut p = json!({
            "salutation": { "type": "string", "maxLength": 25 }, "first_name": { "type": "string", "maxLength": 100 }, "last_name": { "type": "string", "maxLength": 100 },
            "email": { "type": "string", "maxLength": 100 }, "phone": { "type": "string", "maxLength": 50 }, "mobile": { "type": "string", "maxLength": 50 },
            "designation": { "type": "string", "maxLength": 100 }, "department": { "type": "string", "maxLength": 50 }, "skype": { "type": "string", "maxLength": 50 },
            "is_primary_contact": { "type": "boolean" }, "communication_preference": { "type": "object" }, "enable_portal": { "type": "boolean" },
        });
        if id {
            p["contact_person_id"] = json!({ "type": "string" });
        }
        json!({ "type": "array", "items": { "type": "object", "properties": p } })
    };
    assert_eq!(create["properties"]["contact_persons"], person(false));
    assert_eq!(update["properties"]["contact_persons"], person(true));
    assert_eq!(
        create["properties"]["billing_address"],
        json!({ "type": "object", "properties": {
            "attention": { "type": "string", "maxLength": 100 }, "address": { "type": "string", "maxLength": 500 }, "street2": { "type": "string", "maxLength": 255 },
            "state_code": { "type": "string", "maxLength": 100 }, "city": { "type": "string", "maxLength": 100 }, "state": { "type": "string", "maxLength": 100 },
            "zip": { "type": "string", "maxLength": 50 }, "country": { "type": "string", "maxLength": 100 }, "fax": { "type": "string", "maxLength": 50 },
            "phone": { "type": "string", "maxLength": 50 } } })
    );
    assert_eq!(accepts(create, &json!({ "contact_name": "Zylker", "contact_type": "customer", "custom_fields": [{ "index": 1, "value": "Gold" }] })), Ok(()));
    assert!(accepts(create, &json!({ "contact_name": "Zylker", "contact_type": "supplier" })).is_err_and(|e| e.contains("enum")));
}

/// Every record type a Books form offers is described, each answer's two schemas valid draft
/// 2020-12 schemas that take the record's documented required fields (and nothing sent).
#[tokio::test(flavor = "multi_thread")]
async fn every_offered_record_type_is_described_by_valid_schemas() {
    let h = Harness::new().await;
    let manifest: Value = serde_json::from_str(zoho_host::manifest::EMBEDDED).expect("manifest");
    let action = manifest["actions"].as_array().expect("actions").iter().find(|a| a["key"] == "books-describe-resource").expect("books-describe-resource");
    let offered: Vec<String> = action["inputs"][0]["options"].as_array().expect("options").iter().map(|o| o["value"].as_str().expect("value").to_string()).collect();
    let create_offered: Vec<String> = {
        let create = manifest["actions"].as_array().unwrap().iter().find(|a| a["key"] == "books-create-record").unwrap();
        create["inputs"].as_array().unwrap().iter().find(|i| i["key"] == "record-type").unwrap()["options"].as_array().unwrap().iter().map(|o| o["value"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(offered, create_offered, "the same record types as Books' create form");
    assert_eq!(offered.len(), 28);
    for record_type in &offered {
        let out = ok_of(&h.run("books-describe-resource", json!({ "record-type": record_type })).await).clone();
        for (schema, required) in [("json_schema", "required_on_create"), ("update_json_schema", "required_on_update")] {
            assert_eq!(out[schema]["required"], out[required], "{record_type}");
            // Compiles as draft 2020-12, and takes a record of nothing but unknown fields only
            // when nothing is required (the schema is open, never closed).
            let nothing_required = out[required].as_array().is_some_and(Vec::is_empty);
            assert_eq!(accepts(&out[schema], &json!({ "cf_any": 1 })).is_ok(), nothing_required, "{record_type} {schema}");
        }
    }
    assert!(h.requests().is_empty());
}

/// A record type no page is kept for is refused, naming those that are, before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn an_undocumented_record_type_is_refused_naming_the_documented_ones() {
    let h = Harness::new().await;
    for odd in ["salesreceipts", "Invoices", "invoice", ""] {
        let error = error_of(&h.run("books-describe-resource", json!({ "record-type": odd })).await).clone();
        assert_eq!(error["kind"], "invalid-input", "{odd}");
        let message = error["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with(&format!("record-type {odd:?} is not a Zoho Books resource whose fields are documented here: use one of contacts, invoices, items, estimates,")),
            "{odd}: {message}"
        );
    }
    assert!(h.requests().is_empty());
}

/// Books' create and update check the values against the fields its pages document before
/// anything is sent (not even the organization lookup): a documented name in another case or
/// without its underscores, a value outside a documented set (in a row too), and a text past
/// its documented length are each named. Fields no page lists (custom fields) go through, and
/// `check-fields: false` sends what was given.
#[tokio::test(flavor = "multi_thread")]
async fn a_misspelt_field_or_a_value_outside_zohos_set_is_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    let tail = "Nothing was sent. Field names and values are as Zoho Books documents them (books-describe-resource lists them); the call option check-fields: false skips this check";
    // (The values go in key order: the test's JSON objects are sorted.)
    let contact = json!({ "contact_name": "Zylker", "Contact_Type": "customer", "customer_sub_type": "company", "company_name": "Z".repeat(201) });
    let error = error_of(&h.run("books-create-record", json!({ "record-type": "contacts", "values": contact })).await).clone();
    assert_eq!(error["kind"], "invalid-input");
    assert_eq!(
        error["message"],
        format!("contacts: Contact_Type is not a field Zoho Books documents here (did you mean contact_type?); company_name is 201 characters; Zoho Books takes at most 200; customer_sub_type is \"company\"; Zoho Books takes one of individual, business. {tail}")
    );
    assert_eq!(
        error["details"],
        json!({ "fields": [
            { "field": "Contact_Type", "problem": "is not a field Zoho Books documents here (did you mean contact_type?)" },
            { "field": "company_name", "problem": "is 201 characters; Zoho Books takes at most 200" },
            { "field": "customer_sub_type", "problem": "is \"company\"; Zoho Books takes one of individual, business" },
        ] })
    );
    let invoice = json!({ "customer_id": "460000000000001", "line_items": [{ "item_id": "460000020000001", "line_item_category": "total" }] });
    let error = error_of(&h.run("books-create-record", json!({ "record-type": "invoices", "values": invoice })).await).clone();
    assert_eq!(error["message"], format!("invoices: line_items[1].line_item_category is \"total\"; Zoho Books takes one of line_item, header, subtotal. {tail}"));
    let update = json!({ "record-type": "contacts", "record-id": "460000000000001", "values": { "contacttype": "vendor" }, "dynamic-fields": { "customer_sub_type": "Business" } });
    let error = error_of(&h.run("books-update-record", update.clone()).await).clone();
    assert_eq!(
        error["message"],
        format!("contacts: contacttype is not a field Zoho Books documents here (did you mean contact_type?); customer_sub_type is \"Business\"; Zoho Books takes one of individual, business. {tail}")
    );
    assert!(h.requests().is_empty(), "{:?}", h.requests());

    // Documented names and values, and a custom field no page lists, are sent as given.
    let connection = component_tests::with_books_org(&h);
    let values = json!({ "contact_name": "Zylker", "contact_type": "customer", "customer_sub_type": "business", "cf_tier": "Gold" });
    ok_of(&h.run_as(&connection, "books-create-record", json!({ "record-type": "contacts", "values": values.clone() }), None).await);
    component_tests::assert_request(&h.only_request(), &h.token, "POST", "/books/v3/contacts", &[component_tests::books_org()], Some(values));

    // check-fields: false leaves the values to Books.
    h.sandbox.clear_requests();
    ok_of(&h.run_as(&connection, "books-update-record", update, Some(json!({ "check-fields": false }))).await);
    component_tests::assert_request(
        &h.only_request(),
        &h.token,
        "PUT",
        "/books/v3/contacts/460000000000001",
        &[component_tests::books_org()],
        Some(json!({ "contacttype": "vendor", "customer_sub_type": "Business" })),
    );
}
