//! A record's values checked and stored as Zoho does by each field's data type (Zoho's "Insert
//! Records" and "Update Records", v8: the value each data type takes, INVALID_DATA naming the
//! field in `details.api_name` with its `expected_data_type`, and "The 'INVALID_DATA' error is
//! thrown if the field value length is more than the maximum length defined for that field").
//! Stored as a read answers them: a lookup as `{"name","id"}` of the record it points to, each
//! subform row and uploaded file with its own id.
//!
//! Picklist values are not checked: Zoho's pages for writing records name no error for a value
//! outside the list (the Fields Metadata page: "The response does not contain layout-specific
//! fields like mandatory fields or picklist values"), so the sandbox takes any text, as the
//! lenient reading would; the component checks them before sending.

use crate::crm::standard_fields::{self, Spec};
use crate::response::error_body;
use crate::state::{Data, Module};
use serde_json::{json, Map, Value};

/// Rows one subform of a record holds ("Subform API", v8: "Each record's subform can have a
/// maximum of 100 subform records").
const MAX_SUBFORM_ROWS: usize = 100;

/// Zoho's usual length of a data type (fields.json `length`), where a field does not give its own.
pub fn usual_length(data_type: &str) -> u32 {
    match data_type {
        "email" => 100,
        "phone" => 30,
        "website" | "text" | "profileimage" => 255,
        "textarea" => 32_000,
        "picklist" => 120,
        "multiselectpicklist" => 2_000,
        "integer" => 9,
        "bigint" => 19,
        "currency" | "double" | "percent" => 16,
        "boolean" => 5,
        "date" => 20,
        "datetime" | "lookup" | "ownerlookup" => 120,
        "subform" => 0,
        "fileupload" => 5,
        "imageupload" => 10,
        _ => 255,
    }
}

/// The field `api_name` of `module_name` as Zoho describes it: the standard field when the
/// module is one of the four, else the data type the module stores with its usual length.
pub fn spec_of(module_name: &str, module: Option<&Module>, api_name: &str) -> Option<Spec> {
    if let Some(spec) = standard_fields::spec(module_name, api_name) {
        return Some(spec);
    }
    let def = module?.fields.iter().find(|f| f.api_name == api_name)?;
    Some(standard_fields::f("", def.data_type))
}

fn invalid(path: &str, api_name: &str, expected: &str) -> Value {
    error_body("INVALID_DATA", "invalid data", json!({ "api_name": api_name, "json_path": path, "expected_data_type": expected }))
}

/// record.json gives `maximum_length` as text.
fn too_long(path: &str, api_name: &str, max: u32) -> Value {
    error_body("INVALID_DATA", "invalid data", json!({ "api_name": api_name, "json_path": path, "maximum_length": max.to_string() }))
}

/// Digits of a whole number given as a JSON number or a text of digits (Zoho takes both).
fn whole(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Value::String(s) if !s.is_empty() && s.strip_prefix('-').unwrap_or(s).bytes().all(|b| b.is_ascii_digit()) && s != "-" => Some(s.clone()),
        _ => None,
    }
}

fn decimal(value: &Value) -> bool {
    match value {
        Value::Number(_) => true,
        Value::String(s) => s.trim().parse::<f64>().is_ok_and(f64::is_finite),
        _ => false,
    }
}

fn is_date(text: &str) -> bool {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() && text.len() == 10
}

/// ISO 8601 with its offset (`2026-03-01T10:00:00+05:30`), as Zoho writes date-times; one
/// without an offset is read in the org's time zone, so it is taken too.
fn is_datetime(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok() || chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").is_ok()
}

/// Why `value` cannot go into a field of this spec: Zoho's INVALID_DATA, or `None`.
pub fn problem(spec: &Spec, api_name: &str, path: &str, value: &Value) -> Option<Value> {
    if value.is_null() {
        return None;
    }
    let max = if spec.length == 0 { usual_length(spec.data_type) } else { spec.length };
    let text = value.as_str();
    let counted = |t: &str| (t.chars().count() > max as usize).then(|| too_long(path, api_name, max));
    match spec.data_type {
        "text" | "textarea" | "phone" | "website" | "picklist" | "profileimage" | "autonumber" => match text {
            Some(t) => counted(t),
            None => Some(invalid(path, api_name, spec.data_type)),
        },
        "email" => match text {
            Some(t) if t.contains('@') && !t.starts_with('@') && !t.ends_with('@') => counted(t),
            _ => Some(invalid(path, api_name, "email")),
        },
        "integer" | "bigint" => match whole(value) {
            Some(digits) if digits.trim_start_matches('-').len() <= max as usize => None,
            Some(_) => Some(too_long(path, api_name, max)),
            None => Some(invalid(path, api_name, spec.data_type)),
        },
        "currency" | "double" | "percent" | "decimal" => (!decimal(value)).then(|| invalid(path, api_name, spec.data_type)),
        "boolean" => (!value.is_boolean()).then(|| invalid(path, api_name, "boolean")),
        "date" => (!text.is_some_and(is_date)).then(|| invalid(path, api_name, "date")),
        "datetime" => (!text.is_some_and(is_datetime)).then(|| invalid(path, api_name, "datetime")),
        "lookup" | "ownerlookup" => (lookup_id(value).is_none()).then(|| invalid(path, api_name, spec.data_type)),
        "multiselectpicklist" => match value.as_array() {
            Some(items) if items.iter().all(Value::is_string) => None,
            _ => Some(invalid(path, api_name, "jsonarray")),
        },
        "fileupload" | "imageupload" => match value.as_array() {
            Some(items) if items.len() > max as usize => Some(too_long(path, api_name, max)),
            Some(items) if items.iter().all(|i| file_id(i).is_some() || removes_a_file(i)) => None,
            _ => Some(invalid(path, api_name, "jsonarray")),
        },
        "subform" => subform_problem(spec, api_name, path, value),
        _ => None,
    }
}

/// A subform takes a list of rows (objects), each row's values checked by the subform's fields.
fn subform_problem(spec: &Spec, api_name: &str, path: &str, value: &Value) -> Option<Value> {
    let Some(rows) = value.as_array() else { return Some(invalid(path, api_name, "jsonarray")) };
    if rows.len() > MAX_SUBFORM_ROWS {
        return Some(error_body("LIMIT_EXCEEDED", "the number of subform records exceeds the limit", json!({ "api_name": api_name, "json_path": path, "limit": MAX_SUBFORM_ROWS })));
    }
    let fields = spec.target.and_then(standard_fields::subform).unwrap_or(&[]);
    for (n, row) in rows.iter().enumerate() {
        let Some(row) = row.as_object() else { return Some(invalid(&format!("{path}[{n}]"), api_name, "jsonobject")) };
        for (key, value) in row {
            if let Some(field) = fields.iter().find(|f| f.api_name == key) {
                if let Some(error) = problem(field, key, &format!("{path}[{n}].{key}"), value) {
                    return Some(error);
                }
            }
        }
    }
    None
}

/// The record id a lookup names: `{"id": ...}`, or the id itself.
fn lookup_id(value: &Value) -> Option<String> {
    let id = match value {
        Value::Object(members) => members.get("id")?,
        other => other,
    };
    whole(id).filter(|d| !d.starts_with('-'))
}

/// The id of an uploaded file a file or image upload row names (`file_id` from the Files API,
/// or the `File_Id__s` a read answered): at most 150 characters (the Upload Files operation's
/// `details.id`, `maxLen=150`).
fn file_id(row: &Value) -> Option<&str> {
    ["file_id", "File_Id__s"].iter().find_map(|k| row.get(*k).and_then(Value::as_str)).filter(|id| !id.is_empty() && id.chars().count() <= 150 && !id.contains(char::is_control))
}

/// A row removing a file the field holds: its row `id` (or the `attachment_id` Zoho's SDKs
/// send) with `_delete` (Zoho's "Update Records": `{"id": "...", "_delete": null}`).
fn removes_a_file(row: &Value) -> bool {
    row.get("_delete").is_some() && ["id", "attachment_id"].iter().any(|k| row.get(*k).and_then(Value::as_str).is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())))
}

/// The first value of `values` its field's data type refuses (fields the module does not have
/// are Zoho's to ignore).
pub fn first_problem(module_name: &str, module: &Module, index: usize, values: &Map<String, Value>) -> Option<Value> {
    values.iter().find_map(|(key, value)| {
        let spec = spec_of(module_name, Some(module), key)?;
        problem(&spec, key, &format!("$.data[{index}].{key}"), value)
    })
}

/// The values a write stores, as a read answers them: only the module's fields the API may
/// write; a lookup as `{"name","id"}` of an existing record (INVALID_DATA when there is none);
/// subform rows and uploaded files each with an id. `next_id` gives fresh ids.
pub fn stored(data: &Data, module_name: &str, index: usize, values: &Map<String, Value>, next_id: &mut u64) -> Result<Map<String, Value>, Value> {
    let Some(module) = data.modules.get(module_name) else { return Ok(Map::new()) };
    let mut out = Map::new();
    for (key, value) in values {
        let Some(spec) = spec_of(module_name, Some(module), key) else { continue };
        let system = matches!(spec.data_type, "ownerlookup" | "datetime") && standard_fields::spec(module_name, key).is_none();
        if spec.read_only || system || key == "id" || spec.data_type == "ownerlookup" {
            continue;
        }
        let path = format!("$.data[{index}].{key}");
        let value = match (spec.data_type, value) {
            (_, Value::Null) => Value::Null,
            ("lookup", v) => match spec.target {
                Some(target) => lookup(data, target, v).ok_or_else(|| invalid(&path, key, "lookup"))?,
                None => v.clone(),
            },
            ("subform", Value::Array(rows)) => Value::Array(rows.iter().map(|r| with_id(r, next_id)).collect()),
            ("fileupload" | "imageupload", Value::Array(files)) => Value::Array(files.iter().filter(|f| f.get("_delete").is_none()).map(|f| file_row(data, f, next_id)).collect()),
            (_, v) => v.clone(),
        };
        out.insert(key.clone(), value);
    }
    Ok(out)
}

/// `{"name","id"}` of the record of `target` a lookup names, if it exists.
fn lookup(data: &Data, target: &str, value: &Value) -> Option<Value> {
    let id = lookup_id(value)?;
    let module = data.modules.get(target)?;
    let record = module.records.get(&id.parse::<u64>().ok()?)?;
    let name = record.get(module.mandatory).cloned().unwrap_or(Value::Null);
    Some(json!({ "name": name, "id": id }))
}

fn fresh(next_id: &mut u64) -> String {
    let id = *next_id;
    *next_id = next_id.saturating_add(1);
    id.to_string()
}

/// A subform row with its id (a row given with one keeps it).
fn with_id(row: &Value, next_id: &mut u64) -> Value {
    let mut row = row.as_object().cloned().unwrap_or_default();
    if !row.get("id").is_some_and(Value::is_string) {
        row.insert("id".into(), json!(fresh(next_id)));
    }
    Value::Object(row)
}

/// An uploaded file as a read answers it (record.json `FileDetails`/`Image_Upload`): a file
/// of the file store (`POST /crm/v8/files`) with its own name and size.
fn file_row(data: &Data, row: &Value, next_id: &mut u64) -> Value {
    let file_id = file_id(row).unwrap_or_default().to_string();
    let stored = data.files.get(&file_id);
    let name = match stored {
        Some(file) => json!(file.name),
        None => row.get("File_Name__s").cloned().unwrap_or_else(|| json!(format!("{file_id}.bin"))),
    };
    let size = stored.map_or_else(|| row.get("Size__s").cloned().unwrap_or(json!("0")), |file| json!(file.bytes.len().to_string()));
    json!({ "File_Id__s": file_id, "File_Name__s": name, "Size__s": size, "id": row.get("id").filter(|i| i.is_string()).cloned().unwrap_or_else(|| json!(fresh(next_id))) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Shared;

    fn spec(module: &str, field: &str) -> Spec {
        standard_fields::spec(module, field).unwrap_or_else(|| panic!("{module}.{field}"))
    }

    fn expected(body: &Option<Value>) -> Value {
        body.as_ref().map_or(Value::Null, |b| b["details"].clone())
    }

    /// Each data type takes Zoho's values and refuses the rest naming the field and the type.
    #[test]
    fn each_type_takes_its_values_and_refuses_the_rest() {
        let goods = [
            ("Seats", json!(40)),
            ("Seats", json!("40")),
            ("Amount", json!("1250.50")),
            ("Amount", json!(1250.5)),
            ("Auto_Renew", json!(false)),
            ("Closing_Date", json!("2024-02-29")),
            ("Signed_On", json!("2027-01-15T10:30:00+05:30")),
            ("Account_Name", json!({ "id": "5725767000000411001" })),
            ("Products_Of_Interest", json!(["Zoho CRM"])),
            ("Competitors", json!([{ "Competitor": "Globex", "Quoted_Price": "10" }])),
            ("Signed_Proposal", json!([{ "file_id": "ab" }, { "id": "1", "_delete": null }])),
            ("Billing_Contact_Email", json!("a@b.example")),
            ("Deal_Name", json!(null)),
        ];
        for (field, value) in goods {
            assert_eq!(problem(&spec("Deals", field), field, "$", &value), None, "{field}: {value}");
        }
        let bads = [
            ("Seats", json!("ten"), "integer"),
            ("Seats", json!(2.5), "integer"),
            ("Amount", json!("12,50"), "currency"),
            ("Auto_Renew", json!("yes"), "boolean"),
            ("Closing_Date", json!("2023-02-29"), "date"),
            ("Signed_On", json!("2027-01-15"), "datetime"),
            ("Account_Name", json!({ "name": "Zylker" }), "lookup"),
            ("Products_Of_Interest", json!("Zoho CRM"), "jsonarray"),
            ("Products_Of_Interest", json!([1]), "jsonarray"),
            ("Competitors", json!({}), "jsonarray"),
            ("Competitors", json!(["row"]), "jsonobject"),
            ("Signed_Proposal", json!([{ "file_id": "" }]), "jsonarray"),
            ("Signed_Proposal", json!([{ "_delete": null }]), "jsonarray"),
            ("Signed_Proposal", json!([{ "id": "x", "_delete": null }]), "jsonarray"),
            ("Site_Photo", json!([{ "File_Id__s": "a".repeat(151) }]), "jsonarray"),
            ("Billing_Contact_Email", json!("billing"), "email"),
            ("Deal_Name", json!(5), "text"),
        ];
        for (field, value, kind) in bads {
            let error = problem(&spec("Deals", field), field, "$.data[0].X", &value);
            assert_eq!(expected(&error)["expected_data_type"], kind, "{field}: {value}");
            assert_eq!(expected(&error)["api_name"], field);
        }
        // A subform row's own fields are checked by the subform module's types.
        let error = problem(&spec("Deals", "Competitors"), "Competitors", "$.data[0].Competitors", &json!([{ "Quoted_Price": "lots" }]));
        assert_eq!(expected(&error), json!({ "api_name": "Quoted_Price", "json_path": "$.data[0].Competitors[0].Quoted_Price", "expected_data_type": "currency" }));
        let rows = json!(vec![json!({}); 101]);
        assert_eq!(problem(&spec("Deals", "Competitors"), "Competitors", "$", &rows).map(|e| e["code"].clone()), Some(json!("LIMIT_EXCEEDED")));
        let long = problem(&spec("Deals", "PO_Number"), "PO_Number", "$", &json!("é".repeat(51)));
        assert_eq!(expected(&long)["maximum_length"], "50");
        assert_eq!(problem(&spec("Deals", "PO_Number"), "PO_Number", "$", &json!("é".repeat(50))), None, "characters, not bytes");
        let files = json!(vec![json!({ "file_id": "x" }); 6]);
        assert_eq!(expected(&problem(&spec("Deals", "Signed_Proposal"), "Signed_Proposal", "$", &files))["maximum_length"], "5");
    }

    /// Stored as a read answers it: lookups named, rows and files with ids, read-only fields
    /// and fields the module lacks left out; a lookup to no record is INVALID_DATA.
    #[test]
    fn values_are_stored_as_a_read_answers_them() {
        let shared = Shared::new();
        crate::seed::seed(&shared);
        let data = shared.data();
        let (account, name) = data.modules["Accounts"].records.iter().next().map(|(id, r)| (id.to_string(), r["Account_Name"].clone())).expect("an account");
        let Value::Object(values) = json!({
            "Deal_Name": "D", "Account_Name": { "id": account }, "Expected_Revenue": 5, "Nope": 1, "Owner": { "id": "1" },
            "Competitors": [{ "Competitor": "G" }, { "id": "77", "Competitor": "H" }], "Site_Photo": [{ "file_id": "f" }, { "id": "9", "_delete": null }],
        }) else {
            unreachable!()
        };
        let mut next = 1_000;
        let stored = stored(&data, "Deals", 0, &values, &mut next).expect("stored");
        assert_eq!(stored["Account_Name"], json!({ "name": name, "id": account }));
        assert_eq!(stored["Competitors"], json!([{ "Competitor": "G", "id": "1000" }, { "id": "77", "Competitor": "H" }]));
        assert_eq!(stored["Site_Photo"], json!([{ "File_Id__s": "f", "File_Name__s": "f.bin", "Size__s": "0", "id": "1001" }]));
        assert!(["Expected_Revenue", "Nope", "Owner"].iter().all(|f| !stored.contains_key(*f)), "{stored:?}");
        let Value::Object(missing) = json!({ "Contact_Name": { "id": "1" } }) else { unreachable!() };
        let error = super::stored(&data, "Deals", 2, &missing, &mut next).expect_err("no such contact");
        assert_eq!(error["details"], json!({ "api_name": "Contact_Name", "json_path": "$.data[2].Contact_Name", "expected_data_type": "lookup" }));
    }
}
