//! CRM metadata end to end: list-modules (`/settings/modules`) and describe-module
//! (`/settings/fields`, cached, with a JSON Schema of one record's values).

use component_tests::{assert_request, error_of, ok_of, Fault, Harness};
use serde_json::{json, Value};
use zoho_sandbox::hostile::Hostile;
use zoho_sandbox::module_id;

const SUPPORTED: [&str; 13] = ["Accounts", "Calls", "Campaigns", "Contacts", "Deals", "Events", "Leads", "Notes", "Products", "Quotes", "Shipments", "Tasks", "Vendors"];
const WEB_ONLY: [&str; 4] = ["Home", "Feeds", "Reports", "Visits"];

/// A module as list-modules shows it for the sandbox's seeded modules.
fn summary(name: &str, supported: bool) -> Value {
    let custom = name == "Shipments";
    json!({
        "api_name": name, "module_name": name, "singular_label": name.strip_suffix('s').unwrap_or(name), "plural_label": name,
        "id": module_id(name), "generated_type": if custom { "custom" } else { "default" }, "api_supported": supported,
        "creatable": supported, "editable": supported, "deletable": custom, "viewable": true, "convertable": name == "Leads",
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn list_modules_lists_the_api_supported_modules_unless_asked_for_all() {
    let h = Harness::new().await;
    let outcome = h.run("crm-list-modules", json!({})).await;
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/settings/modules", &[], None);
    let expected: Vec<Value> = SUPPORTED.iter().map(|m| summary(m, true)).collect();
    assert_eq!(ok_of(&outcome), &json!({ "modules": expected }));

    h.sandbox.clear_requests();
    let outcome = h.run("crm-list-modules", json!({ "api-supported-only": false })).await;
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/settings/modules", &[], None);
    let all: Vec<Value> = SUPPORTED.iter().map(|m| summary(m, true)).chain(WEB_ONLY.iter().map(|m| summary(m, false))).collect();
    assert_eq!(ok_of(&outcome), &json!({ "modules": all }));
}

#[tokio::test(flavor = "multi_thread")]
async fn list_modules_reads_a_metadata_answer_up_to_2_mib_and_refuses_past_it() {
    let h = Harness::new().await;
    let head = r#"{"modules":[{"api_name":"Leads","api_supported":true,"description":""#;
    let tail = r#""}]}"#;
    let exactly = format!("{head}{}{tail}", "x".repeat((2 << 20) - head.len() - tail.len()));
    assert_eq!(exactly.len(), 2 << 20);
    h.sandbox.inject(Fault::status(1, 200, &exactly).on_path("/crm/v8/settings/modules"));
    let outcome = h.run("crm-list-modules", json!({})).await;
    assert_eq!(ok_of(&outcome)["modules"][0]["api_name"], "Leads");

    h.sandbox.clear_requests();
    h.sandbox.inject(Fault::status(1, 200, "").on_path("/crm/v8/settings/modules").hostile(Hostile::Oversized { bytes: (2 << 20) + 1 }));
    let outcome = h.run("crm-list-modules", json!({})).await;
    let error = error_of(&outcome);
    assert_eq!((error["kind"].as_str(), error["status"].as_u64()), (Some("zoho"), Some(200)));
    assert!(error["message"].as_str().unwrap_or("").contains("more than the 2097152 a metadata answer is read up to"), "{error}");
    assert_eq!(h.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_modules_errors_keep_zohos_shape() {
    let h = Harness::new().await;
    h.sandbox.inject(Fault::status(1, 401, r#"{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}"#).on_path("/crm/v8/settings/modules"));
    let outcome = h.run("crm-list-modules", json!({})).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "unauthorized", "status": 401, "code": "OAUTH_SCOPE_MISMATCH", "details": {}, "retry-after-ms": null,
            "message": "Zoho refused the connection's token for this request (invalid oauth scope to access this URL): its scopes do not allow it. crm-list-modules needs ZohoCRM.settings.modules.READ; authorize the connection again with them (actions.json lists each action's scopes)" })
    );
    h.sandbox.inject(Fault::status(1, 200, "<html>maintenance</html>").on_path("/crm/v8/settings/modules"));
    let error = error_of(&h.run("crm-list-modules", json!({})).await).clone();
    assert_eq!(error["kind"], "zoho");
    assert!(error["message"].as_str().unwrap_or("").contains("not JSON"), "{error}");
    let many = format!("{{\"modules\":[{}]}}", vec!["{}"; 1_001].join(","));
    h.sandbox.inject(Fault::status(1, 200, &many).on_path("/crm/v8/settings/modules"));
    assert!(error_of(&h.run("crm-list-modules", json!({})).await)["message"].as_str().unwrap_or("").contains("more than 1000 items"));
}

fn described(api_name: &str, label: &str, data_type: &str, required: bool, read_only: bool) -> Value {
    json!({ "api_name": api_name, "label": label, "data_type": data_type, "required": required, "read_only": read_only, "picklist": null, "max_length": null, "lookup_module": null })
}

fn nullable(mut schema: Value, title: &str) -> Value {
    let kind = schema["type"].clone();
    schema["type"] = json!([kind, "null"]);
    schema["title"] = json!(title);
    schema
}

/// A fresh org's Deals stages (Zoho's standard Stage picklist).
const STAGES: [&str; 9] =
    ["Qualification", "Needs Analysis", "Value Proposition", "Identify Decision Makers", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost", "Closed Lost to Competition"];

/// Fields Deals has in the sandbox: a real org's standard and custom fields.
const DEALS_FIELDS: usize = 53;

/// The part of a description that names these fields: their descriptions (keyed by name) and
/// their schemas, with the schema's `required` and frame kept whole.
fn only_fields(description: &Value, names: &[&str]) -> Value {
    let mut out = description.clone();
    let fields: serde_json::Map<String, Value> =
        description["fields"].as_array().into_iter().flatten().filter_map(|f| f["api_name"].as_str().filter(|n| names.contains(n)).map(|n| (n.to_string(), f.clone()))).collect();
    out["fields"] = Value::Object(fields);
    let properties: serde_json::Map<String, Value> =
        description["json_schema"]["properties"].as_object().into_iter().flatten().filter(|(k, _)| names.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    out["json_schema"]["properties"] = Value::Object(properties);
    out
}

fn deals_description() -> Value {
    let owner = json!({ "type": "object", "properties": { "id": { "type": "string", "pattern": "^[0-9]{1,20}$" } }, "required": ["id"] });
    let mut id = nullable(json!({ "type": "string", "pattern": "^-?[0-9]{1,19}$" }), "id");
    id["readOnly"] = json!(true);
    // Stage and Closing_Date are mandatory in a standard Deals layout: not nullable, required.
    let stage = json!({ "type": "string", "enum": STAGES, "title": "Stage" });
    let read_only = |mut s: Value| {
        s["readOnly"] = json!(true);
        s
    };
    let time = json!({ "type": "string", "format": "date-time" });
    let mut fields = vec![
        described("id", "id", "bigint", false, true),
        described("Deal_Name", "Deal Name", "text", true, false),
        described("Stage", "Stage", "picklist", true, false),
        described("Amount", "Amount", "currency", false, false),
        described("Closing_Date", "Closing Date", "date", true, false),
        described("Account_Name", "Account Name", "lookup", false, false),
        described("Contact_Name", "Contact Name", "lookup", false, false),
        described("Probability", "Probability", "integer", false, false),
        described("Owner", "Owner", "ownerlookup", false, false),
        described("Created_By", "Created By", "ownerlookup", false, true),
        described("Modified_By", "Modified By", "ownerlookup", false, true),
        described("Created_Time", "Created Time", "datetime", false, true),
        described("Modified_Time", "Modified Time", "datetime", false, true),
    ];
    fields[1]["max_length"] = json!(120);
    fields[2]["picklist"] = json!(STAGES);
    fields[5]["lookup_module"] = json!("Accounts");
    fields[6]["lookup_module"] = json!("Contacts");
    json!({
        "module": "Deals",
        "fields": fields,
        "json_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Deals record",
            "type": "object",
            "properties": {
                "id": id,
                "Deal_Name": { "type": "string", "maxLength": 120, "title": "Deal Name" },
                "Stage": stage,
                "Amount": { "type": ["number", "string", "null"], "pattern": "^-?[0-9]+(\\.[0-9]+)?$", "title": "Amount" },
                "Closing_Date": { "type": "string", "format": "date", "title": "Closing Date" },
                "Account_Name": nullable(owner.clone(), "Account Name"),
                "Contact_Name": nullable(owner.clone(), "Contact Name"),
                "Probability": nullable(json!({ "type": "integer" }), "Probability"),
                "Owner": nullable(owner.clone(), "Owner"),
                "Created_By": read_only(nullable(owner.clone(), "Created By")),
                "Modified_By": read_only(nullable(owner, "Modified By")),
                "Created_Time": read_only(nullable(time.clone(), "Created Time")),
                "Modified_Time": read_only(nullable(time, "Modified Time")),
            },
            // In Zoho's order of the fields.
            "required": ["Deal_Name", "Closing_Date", "Stage"],
        }
    })
}

/// The subset of JSON Schema 2020-12 describe-module emits, checked as a validator would.
fn valid(schema: &Value, value: &Value) -> bool {
    let type_ok = |kind: &str| match kind {
        "string" => value.is_string(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => false,
    };
    let typed = match &schema["type"] {
        Value::String(kind) => type_ok(kind),
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).any(type_ok),
        _ => true,
    };
    let listed = schema["enum"].as_array().is_none_or(|values| values.contains(value));
    let text = value.as_str();
    let short = schema["maxLength"].as_u64().zip(text).is_none_or(|(max, t)| t.chars().count() as u64 <= max);
    // The three patterns describe-module emits: a bigint, a record id, a number as text.
    let digits = |t: &str, most: usize| (1..=most).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
    let pattern = schema["pattern"].as_str().zip(text).is_none_or(|(pattern, t)| match pattern {
        "^-?[0-9]{1,19}$" => digits(t.strip_prefix('-').unwrap_or(t), 19),
        "^[0-9]{1,20}$" => digits(t, 20),
        "^-?[0-9]+(\\.[0-9]+)?$" => {
            let t = t.strip_prefix('-').unwrap_or(t);
            match t.split_once('.') {
                Some((whole, fraction)) => digits(whole, usize::MAX) && digits(fraction, usize::MAX),
                None => digits(t, usize::MAX),
            }
        }
        other => panic!("a pattern the test does not know: {other}"),
    });
    let format = match (schema["format"].as_str(), text) {
        (Some("date"), Some(t)) => chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok(),
        (Some("date-time"), Some(t)) => chrono::DateTime::parse_from_rfc3339(t).is_ok(),
        (Some("email"), Some(t)) => t.split_once('@').is_some_and(|(a, b)| !a.is_empty() && b.contains('.')),
        _ => true,
    };
    let members = match value.as_object() {
        Some(object) => {
            let required = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).all(|r| object.contains_key(r));
            let properties = object.iter().all(|(k, v)| schema["properties"].get(k).is_none_or(|s| valid(s, v)));
            required && properties
        }
        None => true,
    };
    let items = value.as_array().is_none_or(|items| items.iter().all(|i| schema.get("items").is_none_or(|s| valid(s, i))));
    let long_enough = schema["minLength"].as_u64().zip(text).is_none_or(|(min, t)| t.chars().count() as u64 >= min);
    let few_enough = schema["maxItems"].as_u64().zip(value.as_array()).is_none_or(|(max, items)| items.len() as u64 <= max);
    let any_of = schema["anyOf"].as_array().is_none_or(|branches| branches.iter().any(|b| valid(b, value)));
    typed && listed && short && long_enough && pattern && format && members && items && few_enough && any_of
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_module_answers_the_fields_and_a_json_schema_then_serves_both_from_the_cache() {
    let h = Harness::new().await;
    let outcome = h.run("crm-describe-module", json!({ "record-type": " Deals " })).await;
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Deals")], None);
    let description = ok_of(&outcome).clone();
    let expected = deals_description();
    let names: Vec<&str> = expected["fields"].as_array().into_iter().flatten().filter_map(|f| f["api_name"].as_str()).collect();
    assert_eq!(only_fields(&description, &names), only_fields(&expected, &names));
    assert_eq!(description["fields"].as_array().map(Vec::len), Some(DEALS_FIELDS));
    assert_eq!(description["json_schema"]["properties"].as_object().map(serde_json::Map::len), Some(DEALS_FIELDS));

    let schema = &description["json_schema"];
    let record = json!({ "Deal_Name": "Zylker renewal", "Stage": "Closed Won", "Amount": 1250.5, "Closing_Date": "2025-03-31", "Account_Name": { "id": "5725767000000411001" }, "Probability": 80, "Owner": null });
    assert!(valid(schema, &record));
    for (field, bad) in [
        ("Deal_Name", json!(null)),
        ("Deal_Name", json!("x".repeat(256))),
        ("Stage", json!("Won-ish")),
        ("Amount", json!("12,50")),
        ("Closing_Date", json!("31/03/2025")),
        ("Account_Name", json!({ "name": "Zylker" })),
        ("Probability", json!(80.5)),
        ("id", json!("12ab")),
    ] {
        let mut invalid = record.clone();
        invalid[field] = bad.clone();
        assert!(!valid(schema, &invalid), "{field}: {bad}");
    }
    let mut missing = record.clone();
    missing.as_object_mut().map(|r| r.remove("Deal_Name"));
    assert!(!valid(schema, &missing));

    // The cache: a second describe and an all-fields listing send no metadata request.
    let stored = h.stored("crm/field-metadata/Deals").expect("cached");
    assert_eq!(stored["value"], description["fields"]);
    // get-records' field names: every field but the subform (Competitors), in Zoho's order.
    let readable: Vec<&str> = description["fields"].as_array().into_iter().flatten().filter(|f| f["data_type"] != "subform").filter_map(|f| f["api_name"].as_str()).collect();
    assert_eq!(readable.len(), DEALS_FIELDS - 1);
    assert_eq!(h.stored("crm/fields/Deals").expect("names cached")["value"], json!(readable));
    h.sandbox.clear_requests();
    assert_eq!(ok_of(&h.run("crm-describe-module", json!({ "record-type": "Deals" })).await), &description);
    assert_eq!(h.requests().len(), 0);
    ok_of(&h.run("crm-get-records", json!({ "record-type": "Deals" })).await);
    assert!(h.requests().iter().all(|r| r.path != "/crm/v8/settings/fields"), "{:?}", h.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_seeded_type_reaches_the_schema() {
    let h = Harness::new().await;
    let products = ok_of(&h.run("crm-describe-module", json!({ "record-type": "Products" })).await).clone();
    let properties = &products["json_schema"]["properties"];
    assert_eq!(properties["Tax"], json!({ "type": ["array", "null"], "items": { "type": "string", "enum": ["Sales Tax", "Vat", "Service Tax"] }, "uniqueItems": true, "title": "Tax" }));
    assert_eq!(properties["Product_Active"], json!({ "type": ["boolean", "null"], "title": "Product Active" }));
    assert_eq!(properties["Qty_in_Stock"], json!({ "type": ["number", "string", "null"], "pattern": "^-?[0-9]+(\\.[0-9]+)?$", "title": "Qty in Stock" }));
    let accounts = ok_of(&h.run("crm-describe-module", json!({ "record-type": "Accounts" })).await).clone();
    let properties = &accounts["json_schema"]["properties"];
    assert_eq!(properties["Website"], json!({ "type": ["string", "null"], "format": "uri", "maxLength": 255, "title": "Website" }));
    assert_eq!(properties["Phone"], json!({ "type": ["string", "null"], "maxLength": 30, "title": "Phone" }));
    let leads = ok_of(&h.run("crm-describe-module", json!({ "record-type": "Leads" })).await).clone();
    let properties = &leads["json_schema"]["properties"];
    assert_eq!(properties["Email"], json!({ "type": ["string", "null"], "format": "email", "maxLength": 100, "title": "Email" }));
    assert_eq!(properties["Description"], json!({ "type": ["string", "null"], "maxLength": 32000, "title": "Description" }));
    assert_eq!(properties["Product_Details"], json!({ "type": ["array", "null"], "items": { "type": "object" }, "maxItems": 100, "title": "Product Details" }));
    assert_eq!(properties["Product_Interest"]["items"]["enum"], json!(["Zoho CRM", "Zoho Books", "Zoho Desk", "Zoho Projects", "Zoho Analytics"]));
    assert_eq!(properties["Record_Image"], json!({ "type": ["string", "null"], "title": "Record Image" }));
    for upload in ["Signed_NDA", "Business_Card"] {
        assert_eq!(properties[upload]["type"], json!(["array", "null"]), "{upload}");
        assert_eq!(properties[upload]["items"]["anyOf"][0], json!({ "required": ["file_id"] }), "{upload}");
    }
    assert!(properties["Converted_Deal"]["readOnly"] == true && properties["Full_Name"]["readOnly"] == true);
    // Zoho's standard Leads fields and the org's custom ones, the 52 Custom_Field_NN__c among them.
    assert_eq!(leads["fields"].as_array().map(Vec::len), Some(113));
    // get-records' field names leave the subform out, as before.
    assert_eq!(h.stored("crm/fields/Leads").expect("cached")["value"].as_array().map(Vec::len), Some(112));
    assert_eq!(h.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_module_refuses_bad_names_before_anything_is_sent() {
    let h = Harness::new().await;
    for name in ["", "  ", "../Leads", "Leads?fields=x", "Leads/1", "Lëads", "1Leads", &"L".repeat(26), "Leads%2F"] {
        let error = error_of(&h.run("crm-describe-module", json!({ "record-type": name })).await).clone();
        assert_eq!(error["kind"], "invalid-input", "{name}");
        assert!(error["message"].as_str().unwrap_or("").contains("is not a Zoho module API name"), "{error}");
    }
    assert_eq!(h.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_module_errors_keep_zohos_shape() {
    let h = Harness::new().await;
    let outcome = h.run("crm-describe-module", json!({ "record-type": "Nope" })).await;
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Nope")], None);
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "zoho", "status": 400, "code": "INVALID_MODULE", "message": "the module name given seems to be invalid", "details": { "api_name": "module" }, "retry-after-ms": null })
    );
    h.sandbox.inject(Fault::status(1, 204, "").on_path("/crm/v8/settings/fields"));
    let error = error_of(&h.run("crm-describe-module", json!({ "record-type": "Deals" })).await).clone();
    assert_eq!((error["kind"].as_str(), error["status"].as_u64(), error["message"].as_str()), (Some("not-found"), Some(204), Some("Zoho lists no fields for module Deals")));
    h.sandbox.inject(Fault::status(1, 200, r#"{"fields":[]}"#).on_path("/crm/v8/settings/fields"));
    let error = error_of(&h.run("crm-describe-module", json!({ "record-type": "Deals" })).await).clone();
    assert_eq!(error["message"], "Zoho's field list for Deals names no fields");
    assert!(h.stored("crm/field-metadata/Deals").is_none(), "an error is not cached");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_field_metadata_is_bounded() {
    let h = Harness::new().await;
    let values: Vec<String> = (0..10_000).map(|i| format!("{{\"actual_value\":\"v{i}\"}}")).collect();
    let body = format!("{{\"fields\":[{{\"api_name\":\"P\",\"data_type\":\"picklist\",\"pick_list_values\":[{}]}}]}}", values.join(","));
    h.sandbox.inject(Fault::status(1, 200, &body).on_path("/crm/v8/settings/fields"));
    let error = error_of(&h.run("crm-describe-module", json!({ "record-type": "Deals" })).await).clone();
    assert_eq!((error["kind"].as_str(), error["status"].as_u64()), (Some("zoho"), Some(200)));
    assert!(error["message"].as_str().unwrap_or("").contains("more than 5000 picklist values for the field P"), "{error}");

    let label = "ラ".repeat(400_000);
    let body = format!(
        r#"{{"fields":[{{"api_name":"Ünï_名","data_type":"text","field_label":"{label}","length":18446744073709551616}},{{"api_name":"Odd","data_type":"holographic","read_only":true}},{{"data_type":"text"}},{{"api_name":"L","data_type":"lookup","lookup":{{"module":{{"api_name":"../../x"}}}}}}]}}"#
    );
    h.sandbox.inject(Fault::status(1, 200, &body).on_path("/crm/v8/settings/fields"));
    let out = ok_of(&h.run("crm-describe-module", json!({ "record-type": "Visits" })).await).clone();
    let first = &out["fields"][0];
    assert_eq!((first["api_name"].as_str(), first["max_length"].clone()), (Some("Ünï_名"), Value::Null));
    assert_eq!(first["label"].as_str().map(str::len), Some(255));
    assert_eq!(out["json_schema"]["properties"]["Odd"], json!({ "title": "Odd", "readOnly": true }));
    assert_eq!(out["fields"][2]["lookup_module"], Value::Null);
    assert_eq!(out["fields"].as_array().map(Vec::len), Some(3));
}

/// Every `schema-from` of the manifest resolves: its action, run with its inputs (the form's
/// `record-type` set to Leads, or to invoices for Books' forms), answers a JSON Schema at its
/// pointer, so a platform can render the values field by field.
#[tokio::test(flavor = "multi_thread")]
async fn every_schema_from_in_the_manifest_resolves_to_a_json_schema() {
    let h = Harness::new().await;
    let manifest: Value = serde_json::from_str(zoho_host::manifest::EMBEDDED).expect("manifest");
    let mut resolved = 0;
    for action in manifest["actions"].as_array().expect("actions") {
        for input in action["inputs"].as_array().expect("inputs") {
            let Some(from) = input.get("schema-from") else { continue };
            let books = from["action"] == "books-describe-resource";
            let mut given = serde_json::Map::new();
            for (name, template) in from["input"].as_object().into_iter().flatten() {
                let value = match template.as_str() {
                    Some("{record-type}") if books => json!("invoices"),
                    Some("{record-type}") => json!("Leads"),
                    _ => template.clone(),
                };
                given.insert(name.clone(), value);
            }
            let outcome = h.run(from["action"].as_str().unwrap(), Value::Object(given)).await;
            let schema = ok_of(&outcome).pointer(from["schema"].as_str().unwrap()).unwrap_or_else(|| panic!("{}.{}: no schema at {}", action["key"], input["key"], from["schema"])).clone();
            // Leads (invoices in Books) for a form's record type; a fixed module (a conversion's
            // deal: Deals) for itself.
            let field = match from["input"]["record-type"].as_str() {
                Some("Deals") => "Deal_Name",
                _ if books => "customer_id",
                _ => "Last_Name",
            };
            assert!(schema["properties"][field].is_object(), "{}.{}: {schema}", action["key"], input["key"]);
            resolved += 1;
        }
    }
    assert_eq!(resolved, 15, "values and dynamic-fields of CRM's create, update (one and many), upsert and find-or-create, a conversion's deal, and Books' create and update");
}

/// Every dropdown of the manifest fills: each `choices-from` action, run with its inputs (the
/// form's `record-type` set to Leads), answers a non-empty list at its pointer whose items carry
/// the named value and label as text.
#[tokio::test(flavor = "multi_thread")]
async fn every_choices_from_in_the_manifest_fills_its_dropdown() {
    let h = Harness::new().await;
    let manifest: Value = serde_json::from_str(zoho_host::manifest::EMBEDDED).expect("manifest");
    let mut sources = std::collections::BTreeSet::new();
    for action in manifest["actions"].as_array().expect("actions") {
        for input in action["inputs"].as_array().expect("inputs") {
            let Some(from) = input.get("choices-from") else { continue };
            let given: serde_json::Map<String, Value> =
                from["input"].as_object().into_iter().flatten().map(|(k, v)| (k.clone(), if v == "{record-type}" { json!("Leads") } else { v.clone() })).collect();
            let place = format!("{}.{}", action["key"], input["key"]);
            let outcome = h.run(from["action"].as_str().unwrap(), Value::Object(given)).await;
            let options = ok_of(&outcome).pointer(from["options"].as_str().unwrap()).and_then(Value::as_array).unwrap_or_else(|| panic!("{place}: no list at {}", from["options"])).clone();
            assert!(!options.is_empty(), "{place}: an empty dropdown");
            for option in &options {
                assert!(option[from["value"].as_str().unwrap()].is_string() && option[from["label"].as_str().unwrap()].is_string(), "{place}: {option}");
            }
            sources.insert(from["action"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        sources.into_iter().collect::<Vec<_>>(),
        [
            "crm-describe-module",
            "crm-list-custom-views",
            "crm-list-from-addresses",
            "crm-list-modules",
            "crm-list-notes",
            "crm-list-related-lists",
            "crm-list-tags",
            "crm-list-users",
            "notifications-list-events",
            "sync-discover"
        ]
    );
}

/// describe-module's schema for the structured types of a real org's Deals: subform rows,
/// multi-select picklists, lookups by id, uploaded files, decimals as numbers or their text;
/// each valid value passes the schema and each invalid one fails it, as the field checks do.
#[tokio::test(flavor = "multi_thread")]
async fn the_schema_of_each_structured_type_takes_what_zoho_takes() {
    let h = Harness::new().await;
    let deals = ok_of(&h.run("crm-describe-module", json!({ "record-type": "Deals" })).await).clone();
    let schema = &deals["json_schema"];
    let properties = &schema["properties"];
    assert_eq!(properties["Competitors"], json!({ "type": ["array", "null"], "items": { "type": "object" }, "maxItems": 100, "title": "Competitors" }));
    let text = json!({ "type": "string", "minLength": 1 });
    let upload = json!({
        "type": "object",
        "properties": { "file_id": text, "File_Id__s": text, "Encrypted_Id": text, "id": { "type": "string" }, "_delete": { "type": "null" } },
        "anyOf": [{ "required": ["file_id"] }, { "required": ["File_Id__s"] }, { "required": ["Encrypted_Id"] }, { "required": ["id", "_delete"] }],
    });
    assert_eq!(properties["Signed_Proposal"], json!({ "type": ["array", "null"], "items": upload, "title": "Signed Proposal" }));
    assert_eq!(properties["Site_Photo"], json!({ "type": ["array", "null"], "items": upload, "title": "Site Photo" }));
    assert_eq!(
        properties["Products_Of_Interest"],
        json!({ "type": ["array", "null"], "items": { "type": "string", "enum": ["Zoho CRM", "Zoho Books", "Zoho Desk", "Zoho Projects", "Zoho Analytics"] }, "uniqueItems": true, "title": "Products Of Interest" })
    );
    assert_eq!(properties["Margin"], json!({ "type": ["number", "string", "null"], "pattern": "^-?[0-9]+(\\.[0-9]+)?$", "title": "Margin" }));
    assert_eq!(properties["Discount"]["type"], json!(["number", "string", "null"]));
    assert_eq!(properties["Expected_Revenue"]["readOnly"], true);
    assert_eq!(
        properties["Decision_Maker"],
        json!({ "type": ["object", "null"], "properties": { "id": { "type": "string", "pattern": "^[0-9]{1,20}$" } }, "required": ["id"], "title": "Decision Maker" })
    );

    let record = json!({
        "Deal_Name": "Zylker renewal", "Stage": "Closed Won", "Closing_Date": "2027-03-31",
        "Amount": "1250.50", "Margin": 12.5, "Seats": 40, "Auto_Renew": true,
        "Account_Name": { "id": "5725767000000411001" }, "Products_Of_Interest": ["Zoho CRM"],
        "Competitors": [{ "Competitor": "Globex CRM" }], "Signed_Proposal": [{ "file_id": "ae9c7cefa418" }, { "id": "5725767000000300001", "_delete": null }],
        "Site_Photo": [{ "Encrypted_Id": "b7563c0dd42b" }], "Signed_On": "2027-01-15T10:30:00+05:30",
    });
    assert!(valid(schema, &record));
    for (field, bad) in [
        ("Amount", json!("12,50")),
        ("Margin", json!(true)),
        ("Account_Name", json!({ "id": "Zylker" })),
        ("Products_Of_Interest", json!("Zoho CRM")),
        ("Products_Of_Interest", json!(["Zoho Mail"])),
        ("Competitors", json!({ "Competitor": "Globex CRM" })),
        ("Competitors", json!(["Globex CRM"])),
        ("Signed_Proposal", json!("ae9c7cefa418")),
        ("Signed_Proposal", json!([{ "file_id": "" }])),
        ("Site_Photo", json!([{ "id": "5725767000000300001" }])),
    ] {
        let mut invalid = record.clone();
        invalid[field] = bad.clone();
        assert!(!valid(schema, &invalid), "{field}: {bad}");
    }
}
