//! A file written into a record's file upload or image upload field: the file goes to Zoho's
//! file store (ZFS), then the record's field is updated with the id the store gave.
//!
//! Zoho's v8 "Upload Files to Zoho File System (ZFS)" page and its operation (zoho/crm-oas
//! `v8.0/files`, `uploadFiles`; files.json): `POST /crm/v8/files`, `multipart/form-data` with
//! one `file` part per file (at most 10 a call), each at most 20 MB (a larger one is
//! `FILE_SIZE_MORE_THAN_ALLOWED_SIZE`, 415 in the operation, 400 in files.json), an empty part
//! is `failure_in_attachment_handling`; `type=inline` (the operation calls it `inline`) is only
//! for inline images of email templates and is never sent here. The answer is
//! `{"data":[{"code":"SUCCESS","details":{"name","id"},...}]}`, `id` the encrypted file id
//! (at most 150 characters). The store is on the API domain, as every CRM call: no other host.
//!
//! The field is then written with Update Records (`PUT /crm/v8/{module}/{id}`): a file upload
//! field as `[{"file_id": "<id>"}]` (v8 "Update Records", file upload fields), an image upload
//! field as `[{"File_Id__s": "<id>"}]` (the key Zoho's SDKs write, `FileDetails.File_Id__s`,
//! and the one a read answers with; record.json's image rows have no `file_id`). Zoho's pages
//! name one key per type and disagree on which key the other type takes; each type is sent the
//! key its own page names. Zoho adds the file to the field's files (a row is removed only by
//! `{"id", "_delete": null}`).

use crate::client::{ApiCall, Client};
use crate::crm::fields::{self, FieldDescription};
use crate::crm::response::single_outcome;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::multipart::{self, Field};
use crate::validate;
use crate::wit::crm::{FileContent, UploadFileFieldInput};
use serde_json::{json, Value};

/// Zoho's limit on one file of the file store (v8 "Upload Files": "the maximum size of each
/// file is 20MB").
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// The longest file id the store answers (the operation's `details.id`, `maxLen=150`).
const MAX_FILE_ID_CHARS: usize = 150;
const MAX_FILE_NAME_BYTES: usize = 255;

pub fn upload_file_field(client: &Client, input: UploadFileFieldInput) -> Result<String> {
    let module = validate::module_name(input.record_type.trim())?.to_string();
    let id = validate::record_id(input.record_id.trim())?.to_string();
    let field = input.field.trim();
    if field.is_empty() || field.len() > 100 || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(ZohoError::invalid_input(format!("field {field:?} is not a field API name (letters, digits and underscores, e.g. Signed_Contract)")));
    }
    let file_name = input.file_name.trim();
    if file_name.is_empty() || file_name.contains(char::is_control) || file_name.len() > MAX_FILE_NAME_BYTES {
        return Err(ZohoError::invalid_input(format!("file-name must be one line of 1 to {MAX_FILE_NAME_BYTES} bytes: Zoho shows it and reads the file's type from it")));
    }
    let bytes = file_bytes(input.file)?;
    // The field is checked before the upload, so a wrong field never leaves a stray file in the store.
    let described = fields::module_field_descriptions(client, &module)?;
    let upload_field = upload_field_of(&described, &module, field)?;
    let part = Field::File { name: "file".into(), content_type: multipart::content_type_for(file_name).to_string(), file_name: file_name.to_string(), bytes };
    let stored = single_outcome(&client.send(ApiCall::new(Method::Post, "/crm/v8/files").body(multipart::form(vec![part])))?)?;
    let file_id = stored_file_id(&stored)?;
    // A hostile answer could hand back a secret as the id, to have it written into the record.
    if client.redactor().finds_in_bytes(file_id.as_bytes()) {
        return Err(ZohoError::new(ErrorKind::Zoho, "Zoho's file store answered a file id holding the connection's secret; the field was not changed").with_status(200));
    }
    let key = if upload_field.data_type == "imageupload" { "File_Id__s" } else { "file_id" };
    let body = json!({ "data": [{ field: [{ key: file_id }] }] });
    let outcome = single_outcome(&client.send(ApiCall::new(Method::Put, format!("/crm/v8/{module}/{id}")).json(body))?)?;
    let outcome: Value = serde_json::from_str(&outcome).map_err(|e| ZohoError::new(ErrorKind::Zoho, format!("Zoho's record outcome is not JSON: {e}")))?;
    Ok(json!({ "field": field, "file_id": file_id, "file_name": file_name, "record": outcome }).to_string())
}

/// The file's bytes: 1 byte to 20 MB (base64 sized before it is decoded).
fn file_bytes(file: FileContent) -> Result<Vec<u8>> {
    let bytes = match file {
        FileContent::Text(text) => text.into_bytes(),
        FileContent::Bytes(bytes) => bytes,
        FileContent::Base64(text) => crate::decode_base64_within(&text, MAX_FILE_BYTES).map_err(|e| ZohoError::invalid_input(format!("file: {e} (Zoho's file store takes files up to 20 MB)")))?,
    };
    if bytes.is_empty() {
        return Err(ZohoError::invalid_input("file is empty: Zoho's file store refuses an empty file (failure_in_attachment_handling)"));
    }
    if bytes.len() > MAX_FILE_BYTES {
        let tenths = bytes.len().saturating_mul(10) / (1024 * 1024);
        return Err(ZohoError::invalid_input(format!("the file is {}.{} MB; Zoho's file store takes files up to 20 MB", tenths / 10, tenths % 10)));
    }
    Ok(bytes)
}

/// The module's field named `field`, when it is a file upload or image upload field the API may write.
fn upload_field_of<'a>(described: &'a [FieldDescription], module: &str, field: &str) -> Result<&'a FieldDescription> {
    let uploads = || {
        let names: Vec<&str> = described.iter().filter(|f| is_upload(f) && !f.read_only).map(|f| f.api_name.as_str()).collect();
        if names.is_empty() {
            format!("{module} has no file or image upload field")
        } else {
            format!("its file and image upload fields: {}", names.join(", "))
        }
    };
    match described.iter().find(|f| f.api_name == field) {
        None => Err(ZohoError::invalid_input(format!("{module} has no field {field:?}; {}", uploads()))),
        Some(f) if !is_upload(f) => Err(ZohoError::invalid_input(format!("{module}.{field} is a {} field, not a file or image upload field; {}", f.data_type, uploads()))),
        Some(f) if f.read_only => Err(ZohoError::invalid_input(format!("{module}.{field} is read-only"))),
        Some(f) => Ok(f),
    }
}

fn is_upload(field: &FieldDescription) -> bool {
    matches!(field.data_type.as_str(), "fileupload" | "imageupload")
}

/// The encrypted id of the stored file (`details.id`), checked before it is written anywhere.
fn stored_file_id(outcome: &str) -> Result<String> {
    let value: Value = serde_json::from_str(outcome).unwrap_or(Value::Null);
    match value.pointer("/details/id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() && id.chars().count() <= MAX_FILE_ID_CHARS && id.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\') => Ok(id.to_string()),
        _ => Err(ZohoError::new(ErrorKind::Zoho, "Zoho's file store answered without a usable file id (details.id); the field was not changed").with_status(200)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    const FIELDS: &str = r#"{"fields":[{"api_name":"Last_Name","data_type":"text","field_label":"Last Name"},{"api_name":"Signed_NDA","data_type":"fileupload","field_label":"Signed NDA"},{"api_name":"Business_Card","data_type":"imageupload","field_label":"Business Card"}]}"#;

    fn input(field: &str, file: FileContent) -> UploadFileFieldInput {
        UploadFileFieldInput { record_type: "Leads".into(), record_id: "5725767000000524157".into(), field: field.into(), file, file_name: "nda.pdf".into() }
    }

    #[test]
    fn uploads_then_writes_the_field_with_the_key_of_its_type() {
        for (field, key) in [("Signed_NDA", "file_id"), ("Business_Card", "File_Id__s")] {
            let fixture = Fixture::default();
            fixture.answer(200, FIELDS);
            fixture.answer(
                200,
                r#"{"data":[{"status":"success","code":"SUCCESS","message":"nda.pdf uploaded successfully","details":{"name":"nda.pdf","id":"ae9c6cd994aa55a0fda90faaff4a2f472b1c94e7"}}]}"#,
            );
            fixture.answer(200, r#"{"data":[{"code":"SUCCESS","details":{"id":"5725767000000524157"},"message":"record updated","status":"success"}]}"#);
            let out: Value = serde_json::from_str(&upload_file_field(&fixture.client(), input(field, FileContent::Text("%PDF".into()))).unwrap()).unwrap();
            assert_eq!(out["file_id"], "ae9c6cd994aa55a0fda90faaff4a2f472b1c94e7");
            assert_eq!(out["record"]["details"]["id"], "5725767000000524157");
            let sent = fixture.transport.sent.borrow();
            assert_eq!(sent.len(), 3);
            let update: Value = serde_json::from_slice(&sent[2].body.as_ref().unwrap().to_vec()).unwrap();
            assert_eq!(update, json!({ "data": [{ field: [{ key: "ae9c6cd994aa55a0fda90faaff4a2f472b1c94e7" }] }] }));
        }
    }

    #[test]
    fn the_wrong_field_or_file_is_refused_before_the_upload() {
        for (field, file, says) in [
            ("Last_Name", FileContent::Text("x".into()), "Leads.Last_Name is a text field, not a file or image upload field; its file and image upload fields: Signed_NDA, Business_Card"),
            ("Nope", FileContent::Text("x".into()), "Leads has no field \"Nope\"; its file and image upload fields: Signed_NDA, Business_Card"),
        ] {
            let fixture = Fixture::default();
            fixture.answer(200, FIELDS);
            let e = upload_file_field(&fixture.client(), input(field, file)).unwrap_err();
            assert_eq!(e.message, says);
            assert_eq!(fixture.sent(), 1, "only the field metadata was read");
        }
        for (file, says) in [
            (FileContent::Text(String::new()), "file is empty"),
            (FileContent::Bytes(vec![0; MAX_FILE_BYTES + 1]), "the file is 20.0 MB; Zoho's file store takes files up to 20 MB"),
            (FileContent::Base64("QUFB".repeat(MAX_FILE_BYTES / 3 + 1)), "more than the 20971520 bytes accepted"),
        ] {
            let fixture = Fixture::default();
            let e = upload_file_field(&fixture.client(), input("Signed_NDA", file)).unwrap_err();
            assert!(e.message.contains(says), "{}", e.message);
            assert_eq!(fixture.sent(), 0);
        }
        assert!(file_bytes(FileContent::Bytes(vec![1; MAX_FILE_BYTES])).is_ok(), "20 MB exactly is taken");
    }

    #[test]
    fn a_file_id_that_is_not_one_is_not_written() {
        for bad in [r#"{"code":"SUCCESS","details":{"name":"a"}}"#, r#"{"details":{"id":"a\"b"}}"#, r#"{"details":{"id":""}}"#] {
            assert!(stored_file_id(bad).is_err(), "{bad}");
        }
        assert!(stored_file_id(&format!(r#"{{"details":{{"id":"{}"}}}}"#, "a".repeat(151))).is_err());
    }
}
