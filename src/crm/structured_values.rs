//! Values of Zoho's structured field types, checked before a write is sent: a lookup names a
//! record by its id, a multi-select picklist is a list of texts, a subform is a list of rows,
//! a file or image upload is a list of uploaded files. Each check says what is wrong in words
//! the caller's field name is put before.
//!
//! The shapes are Zoho's "Insert Records" (v8) input: a lookup `{"id": "..."}` (ids are 64-bit
//! numbers Zoho writes as text); a multi-select picklist a JSON array of its values; a subform a
//! JSON array of row objects ("Subform API", v8: "Each record's subform can have a maximum of
//! 100 subform records"); a file upload `[{"file_id": "..."}]` with the id the Files API gave
//! (an image upload the same, or the `File_Id__s`/`Encrypted_Id` a read answered); a row or file
//! kept from a read is removed with `{"id": "...", "_delete": null}`.

use serde_json::Value;

/// Rows one subform of a record holds.
pub const MAX_SUBFORM_ROWS: usize = 100;

/// Keys that name an uploaded file in a file or image upload row.
const FILE_KEYS: [&str; 3] = ["file_id", "File_Id__s", "Encrypted_Id"];

/// A record id as Zoho writes it: digits, as text or a whole number.
fn is_record_id(value: &Value) -> bool {
    match value {
        Value::String(s) => !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()),
        Value::Number(n) => n.is_u64(),
        _ => false,
    }
}

/// A lookup: `{"id": "..."}` (more members, such as `name`, are Zoho's to ignore) or the id itself.
pub fn lookup_problem(value: &Value) -> Option<String> {
    let ok = match value {
        Value::Object(members) => members.get("id").is_some_and(is_record_id),
        other => is_record_id(other),
    };
    (!ok).then(|| "expects a record, {\"id\": \"...\"} with the record's id (digits)".to_string())
}

/// A multi-select picklist: a list of texts (each then checked against the picklist).
pub fn multiselect_items(value: &Value) -> Result<Vec<&str>, String> {
    let wrong = || "expects a list of its picklist values, [\"...\"]".to_string();
    let items = value.as_array().ok_or_else(wrong)?;
    items.iter().map(|item| item.as_str().ok_or_else(wrong)).collect()
}

/// A subform: a list of rows, each an object, at most [`MAX_SUBFORM_ROWS`].
pub fn subform_problem(value: &Value) -> Option<String> {
    let Some(rows) = value.as_array() else { return Some("expects a list of rows, [{\"Field\": ...}]".to_string()) };
    if let Some(n) = rows.iter().position(|row| !row.is_object()) {
        return Some(format!("row {} is no object; a subform takes a list of rows, [{{\"Field\": ...}}]", n + 1));
    }
    (rows.len() > MAX_SUBFORM_ROWS).then(|| format!("has {} rows; a subform takes at most {MAX_SUBFORM_ROWS}", rows.len()))
}

/// A file or image upload: a list of uploaded files, each `{"file_id": "..."}` (or a kept
/// file's `{"id": "...", "_delete": null}` to remove it).
pub fn upload_problem(value: &Value) -> Option<String> {
    let wrong = || Some("expects a list of uploaded files, [{\"file_id\": \"...\"}] with the id the Files API gave".to_string());
    let Some(files) = value.as_array() else { return wrong() };
    let good = |file: &Value| {
        let Some(members) = file.as_object() else { return false };
        let named = FILE_KEYS.iter().any(|k| members.get(*k).and_then(Value::as_str).is_some_and(|id| !id.trim().is_empty()));
        let removed = members.contains_key("_delete") && members.get("id").is_some_and(is_record_id);
        named || removed
    };
    if files.iter().all(good) {
        None
    } else {
        wrong()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_shape_takes_what_zoho_takes_and_nothing_else() {
        for good in [json!({ "id": "5725767000000411001" }), json!({ "id": 5725767000000411001_u64, "name": "Zylker" }), json!("5725767000000411001")] {
            assert_eq!(lookup_problem(&good), None, "{good}");
        }
        for bad in [json!({}), json!({ "name": "Zylker" }), json!({ "id": "Zylker" }), json!({ "id": -1 }), json!({ "id": 1.5 }), json!([]), json!(true), json!("")] {
            assert!(lookup_problem(&bad).is_some(), "{bad}");
        }
        assert_eq!(multiselect_items(&json!(["a", "b"])), Ok(vec!["a", "b"]));
        assert!(multiselect_items(&json!("a;b")).is_err());
        assert!(multiselect_items(&json!(["a", 1])).is_err());
        assert_eq!(subform_problem(&json!([{ "A": 1 }, { "id": "1", "_delete": null }])), None);
        assert_eq!(subform_problem(&json!([])), None);
        assert_eq!(subform_problem(&json!([{}, 1])).as_deref(), Some("row 2 is no object; a subform takes a list of rows, [{\"Field\": ...}]"));
        assert_eq!(subform_problem(&json!(vec![json!({}); 101])).as_deref(), Some("has 101 rows; a subform takes at most 100"));
        assert!(subform_problem(&json!({ "A": 1 })).is_some());
        for good in [json!([{ "file_id": "ab12" }]), json!([{ "File_Id__s": "x" }, { "id": "12", "_delete": null }]), json!([{ "Encrypted_Id": "e" }]), json!([])] {
            assert_eq!(upload_problem(&good), None, "{good}");
        }
        for bad in [json!("ab12"), json!([{ "file_id": "" }]), json!([{ "file_id": 12 }]), json!(["ab12"]), json!([{ "id": "12" }]), json!({ "file_id": "x" })] {
            assert!(upload_problem(&bad).is_some(), "{bad}");
        }
    }
}
