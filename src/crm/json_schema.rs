//! Zoho field metadata as a JSON Schema (2020-12) for one record's values, so a platform can
//! render a form and check a record before it is sent. Each Zoho data type maps to the value
//! Zoho takes for it:
//!
//! | data type | schema |
//! |---|---|
//! | text, textarea, phone | string, `maxLength` from `length` |
//! | email / website | string, `format` email / uri, `maxLength` |
//! | integer | integer |
//! | bigint | string of digits: Zoho carries 64-bit numbers as strings (`json_type` string), past 2^53 a JSON number would lose digits |
//! | double, currency, percent, decimal | number, or its text (`"1250.50"`: Zoho takes both) |
//! | boolean | boolean |
//! | date / datetime | string, `format` date / date-time |
//! | picklist | `enum` of the `actual_value`s |
//! | multiselectpicklist | array of that enum, unique items |
//! | lookup, ownerlookup | object with a required `id`, a text of digits |
//! | subform | array of row objects, at most 100 ("Subform API", v8) |
//! | fileupload, imageupload | array of uploaded files: `{"file_id"}` (or a read's `File_Id__s`/`Encrypted_Id`), or `{"id", "_delete"}` to remove one |
//! | profileimage (Record_Image) | string |
//! | autonumber, formula, and read-only fields | `readOnly: true` (formula: no type, it depends on the formula) |
//! | any other type (multiselectlookup, ...) | no constraint, so the schema never refuses what Zoho takes |
//!
//! A field that is not required also takes `null` (Zoho's way to clear it). `required` lists the
//! `system_mandatory` fields.

use crate::crm::fields::FieldDescription;
use serde_json::{json, Map, Value};

pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The schema of one record of `module` with these fields (the first of a repeated API name wins).
pub fn record_schema(module: &str, fields: &[FieldDescription]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in fields {
        if properties.contains_key(&field.api_name) {
            continue;
        }
        if field.required {
            required.push(Value::String(field.api_name.clone()));
        }
        properties.insert(field.api_name.clone(), field_schema(field));
    }
    json!({
        "$schema": DIALECT,
        "title": format!("{module} record"),
        "type": "object",
        "properties": properties,
        "required": required,
    })
}

/// One field's value schema.
pub fn field_schema(field: &FieldDescription) -> Value {
    let enumeration = || Value::Array(field.picklist.iter().flatten().map(|v| Value::String(v.clone())).collect());
    let mut schema = match field.data_type.as_str() {
        "text" | "textarea" | "phone" | "autonumber" | "profileimage" => json!({ "type": "string" }),
        "email" => json!({ "type": "string", "format": "email" }),
        "website" => json!({ "type": "string", "format": "uri" }),
        "integer" => json!({ "type": "integer" }),
        "bigint" => json!({ "type": "string", "pattern": "^-?[0-9]{1,19}$" }),
        // The pattern applies to the text form only (JSON Schema: `pattern` constrains strings).
        "double" | "currency" | "percent" | "decimal" => json!({ "type": ["number", "string"], "pattern": NUMBER_TEXT }),
        "boolean" => json!({ "type": "boolean" }),
        "date" => json!({ "type": "string", "format": "date" }),
        "datetime" => json!({ "type": "string", "format": "date-time" }),
        "picklist" => json!({ "type": "string", "enum": enumeration() }),
        "multiselectpicklist" => json!({ "type": "array", "items": { "type": "string", "enum": enumeration() }, "uniqueItems": true }),
        "lookup" | "ownerlookup" => json!({ "type": "object", "properties": { "id": { "type": "string", "pattern": "^[0-9]{1,20}$" } }, "required": ["id"] }),
        "subform" => json!({ "type": "array", "items": { "type": "object" }, "maxItems": crate::crm::structured_values::MAX_SUBFORM_ROWS }),
        "fileupload" | "imageupload" => json!({ "type": "array", "items": upload_item() }),
        _ => json!({}),
    };
    let Value::Object(members) = &mut schema else { return schema };
    members.insert("title".into(), Value::String(field.label.clone()));
    if let (Some(length), Some("string")) = (field.max_length, members.get("type").and_then(Value::as_str)) {
        members.insert("maxLength".into(), json!(length));
    }
    if field.read_only {
        members.insert("readOnly".into(), Value::Bool(true));
    }
    if !field.required {
        nullable(members);
    }
    schema
}

/// A number as text, as Zoho takes it for decimal fields: an optional sign, digits, a fraction.
const NUMBER_TEXT: &str = "^-?[0-9]+(\\.[0-9]+)?$";

/// One file of a file or image upload: a new file by its id from the Files API, or a kept one
/// removed by its row id.
fn upload_item() -> Value {
    let text = json!({ "type": "string", "minLength": 1 });
    json!({
        "type": "object",
        "properties": { "file_id": text, "File_Id__s": text, "Encrypted_Id": text, "id": { "type": "string" }, "_delete": { "type": "null" } },
        "anyOf": [{ "required": ["file_id"] }, { "required": ["File_Id__s"] }, { "required": ["Encrypted_Id"] }, { "required": ["id", "_delete"] }],
    })
}

/// Adds `null` to a typed schema's type (and to its enum): not-required fields may be cleared.
fn nullable(members: &mut Map<String, Value>) {
    match members.get_mut("type") {
        Some(Value::String(kind)) => {
            let kind = kind.clone();
            members.insert("type".into(), json!([kind, "null"]));
        }
        Some(Value::Array(kinds)) => kinds.push(json!("null")),
        _ => {}
    }
    if let Some(Value::Array(values)) = members.get_mut("enum") {
        values.push(Value::Null);
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    fn field(api_name: &str, data_type: &str) -> FieldDescription {
        FieldDescription { api_name: api_name.into(), label: api_name.into(), data_type: data_type.into(), ..Default::default() }
    }

    #[test]
    fn every_zoho_type_maps_to_its_value() {
        let text = FieldDescription { max_length: Some(80), required: true, ..field("Last_Name", "text") };
        assert_eq!(field_schema(&text), json!({ "type": "string", "maxLength": 80, "title": "Last_Name" }));
        let cases = [
            ("textarea", json!({ "type": ["string", "null"] })),
            ("phone", json!({ "type": ["string", "null"] })),
            ("email", json!({ "type": ["string", "null"], "format": "email" })),
            ("website", json!({ "type": ["string", "null"], "format": "uri" })),
            ("integer", json!({ "type": ["integer", "null"] })),
            ("bigint", json!({ "type": ["string", "null"], "pattern": "^-?[0-9]{1,19}$" })),
            ("double", json!({ "type": ["number", "string", "null"], "pattern": NUMBER_TEXT })),
            ("currency", json!({ "type": ["number", "string", "null"], "pattern": NUMBER_TEXT })),
            ("percent", json!({ "type": ["number", "string", "null"], "pattern": NUMBER_TEXT })),
            ("decimal", json!({ "type": ["number", "string", "null"], "pattern": NUMBER_TEXT })),
            ("boolean", json!({ "type": ["boolean", "null"] })),
            ("date", json!({ "type": ["string", "null"], "format": "date" })),
            ("datetime", json!({ "type": ["string", "null"], "format": "date-time" })),
            ("picklist", json!({ "type": ["string", "null"], "enum": [null] })),
            ("multiselectpicklist", json!({ "type": ["array", "null"], "items": { "type": "string", "enum": [] }, "uniqueItems": true })),
            ("lookup", json!({ "type": ["object", "null"], "properties": { "id": { "type": "string", "pattern": "^[0-9]{1,20}$" } }, "required": ["id"] })),
            ("ownerlookup", json!({ "type": ["object", "null"], "properties": { "id": { "type": "string", "pattern": "^[0-9]{1,20}$" } }, "required": ["id"] })),
            ("subform", json!({ "type": ["array", "null"], "items": { "type": "object" }, "maxItems": 100 })),
            ("fileupload", json!({ "type": ["array", "null"], "items": upload_item() })),
            ("imageupload", json!({ "type": ["array", "null"], "items": upload_item() })),
            ("profileimage", json!({ "type": ["string", "null"] })),
            ("multiselectlookup", json!({})),
            ("", json!({})),
            ("ünknown_类型", json!({})),
        ];
        for (data_type, mut expected) in cases {
            expected["title"] = json!("F");
            assert_eq!(field_schema(&field("F", data_type)), expected, "{data_type}");
        }
        let picklist = FieldDescription { picklist: Some(vec!["Open".into(), "Wön".into()]), required: true, ..field("Stage", "picklist") };
        assert_eq!(field_schema(&picklist), json!({ "type": "string", "enum": ["Open", "Wön"], "title": "Stage" }));
        let multi = FieldDescription { picklist: Some(vec!["a".into()]), ..field("Tags", "multiselectpicklist") };
        assert_eq!(field_schema(&multi)["items"], json!({ "type": "string", "enum": ["a"] }));
        let auto = FieldDescription { read_only: true, max_length: Some(10), ..field("No", "autonumber") };
        assert_eq!(field_schema(&auto), json!({ "type": ["string", "null"], "maxLength": 10, "readOnly": true, "title": "No" }));
        let formula = FieldDescription { read_only: true, ..field("Total", "formula") };
        assert_eq!(field_schema(&formula), json!({ "readOnly": true, "title": "Total" }));
        // maxLength only where the value is a string.
        let number = FieldDescription { max_length: Some(9), required: true, ..field("N", "integer") };
        assert_eq!(field_schema(&number), json!({ "type": "integer", "title": "N" }));
    }

    #[test]
    fn the_record_schema_lists_each_field_once_and_the_mandatory_ones() {
        let fields = [FieldDescription { required: true, ..field("Last_Name", "text") }, field("Email", "email"), FieldDescription { required: true, ..field("Last_Name", "integer") }];
        let schema = record_schema("Leads", &fields);
        assert_eq!(schema["$schema"], DIALECT);
        assert_eq!(schema["required"], json!(["Last_Name"]));
        assert_eq!(schema["properties"]["Last_Name"]["type"], "string");
        assert_eq!(schema["properties"].as_object().map(Map::len), Some(2));
        assert_eq!(record_schema("X", &[]), json!({ "$schema": DIALECT, "title": "X record", "type": "object", "properties": {}, "required": [] }));
    }

    #[test]
    fn hostile_metadata_makes_a_bounded_schema() {
        let values: Vec<String> = (0..10_000).map(|i| format!("v{i}")).collect();
        let huge = FieldDescription { picklist: Some(values), label: "ラベル".repeat(10), ..field("P", "picklist") };
        let schema = field_schema(&huge);
        assert_eq!(schema["enum"].as_array().map(Vec::len), Some(10_001));
        assert_eq!(schema["title"], "ラベル".repeat(10));
        let many: Vec<FieldDescription> = (0..5_000).map(|i| field(&format!("F{i}"), "text")).collect();
        assert_eq!(record_schema("M", &many)["properties"].as_object().map(Map::len), Some(5_000));
    }
}
