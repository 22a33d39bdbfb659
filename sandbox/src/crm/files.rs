//! Zoho's file store: `POST /crm/v8/files` (files.json; Zoho's v8 "Upload Files to Zoho File
//! System (ZFS)" page and its operation, zoho/crm-oas `v8.0/files` `uploadFiles`).
//!
//! A `multipart/form-data` body with 1 to 10 `file` parts, each with a filename and 1 byte to
//! 20 MB. Refusals are the operation's examples: no `file` part, or an empty one, is 400
//! `failure_in_attachment_handling`; more than ten is 400 `INVALID_REQUEST`; a file over 20 MB
//! is 415 `FILE_SIZE_MORE_THAN_ALLOWED_SIZE` (files.json lists it under 400; the operation, the
//! newer, says 415). `type` may only be `inline`. Each stored file answers
//! `{"status":"success","code":"SUCCESS","message":"<name> uploaded successfully","details":{"name","id"}}`
//! in the order sent; the id is what a file or image upload field is then written with.

use crate::request::RecordedRequest;
use crate::response::{error_response, json_response};
use crate::state::{Shared, StoredFile};
use axum::response::Response;
use serde_json::{json, Value};

/// Zoho's limits: files per call, bytes per file.
pub const MAX_FILES: usize = 10;
pub const MAX_FILE: usize = 20 * 1024 * 1024;

fn failure() -> Response {
    error_response(400, "failure_in_attachment_handling", "Problem in uploading attachment. kindly upload the file properly", json!({}))
}

pub async fn upload(shared: &Shared, request: &RecordedRequest) -> Response {
    if request.query_param("type").is_some_and(|t| t != "inline") {
        return error_response(400, "INVALID_DATA", "invalid data", json!({ "param_name": "type" }));
    }
    let Some(boundary) = request.header("content-type").and_then(|c| multer::parse_boundary(c).ok()) else {
        return failure();
    };
    let body = bytes::Bytes::from(request.body.clone());
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut files = Vec::new();
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                if field.name() != Some("file") {
                    continue;
                }
                let Some(name) = field.file_name().map(str::to_string) else { return failure() };
                let content_type = field.content_type().map(|m| m.to_string()).unwrap_or_default();
                let Ok(bytes) = field.bytes().await else { return failure() };
                files.push(StoredFile { name, content_type, bytes: bytes.to_vec() });
            }
            Ok(None) => break,
            Err(_) => return failure(),
        }
    }
    if files.is_empty() || files.iter().any(|f| f.bytes.is_empty()) {
        return failure();
    }
    if files.len() > MAX_FILES {
        return error_response(400, "INVALID_REQUEST", "unable to process your request. please verify whether you have entered proper method name, parameter and parameter values.", json!({}));
    }
    if files.iter().any(|f| f.bytes.len() > MAX_FILE) {
        return error_response(415, "FILE_SIZE_MORE_THAN_ALLOWED_SIZE", "Please check if the size of the file is in the correct range", json!({}));
    }
    let mut answers = Vec::new();
    let mut data = shared.data();
    for file in files {
        let n = data.next_id;
        data.next_id += 1;
        let id = format!("ae9c6cd994aa55a0fda90faa{n:016x}");
        answers.push(json!({ "status": "success", "code": "SUCCESS", "message": format!("{} uploaded successfully", file.name), "details": { "name": file.name, "id": id } }));
        data.files.insert(id, file);
    }
    json_response(200, &json!({ "data": Value::Array(answers) }))
}
