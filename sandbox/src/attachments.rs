//! `POST /crm/v8/{module}/{id}/Attachments`: a multipart `file` part (with a filename) or an
//! `attachmentUrl` (multipart text part, or query parameter as in Zoho's OpenAPI file), never both.

use crate::response::{error_response, json_response};
use crate::seed;
use crate::request::RecordedRequest;
use crate::state::{Shared, StoredAttachment};
use axum::response::Response;
use serde_json::json;

/// Zoho's attachment limit.
pub const MAX_FILE: usize = 100 * 1024 * 1024;

pub async fn upload(shared: &Shared, request: &RecordedRequest, module: &str, id: &str) -> Response {
    let record_exists = {
        let data = shared.data();
        let Some(m) = data.modules.get(module) else {
            return error_response(400, "INVALID_MODULE", "the module name given seems to be invalid", json!({ "resource_path_index": 0 }));
        };
        id.parse::<u64>().ok().is_some_and(|i| m.records.contains_key(&i))
    };
    if !record_exists {
        return error_response(400, "INVALID_DATA", "the related id given seems to be invalid", json!({ "id": id }));
    }
    let mut file = None;
    let mut url = request.query_param("attachmentUrl").map(str::to_string);
    if let Some(boundary) = request.header("content-type").and_then(|c| multer::parse_boundary(c).ok()) {
        let body = bytes::Bytes::from(request.body.clone());
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut form = multer::Multipart::new(stream, boundary);
        loop {
            match form.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or("").to_string();
                    let file_name = field.file_name().map(str::to_string);
                    let content_type = field.content_type().map(|m| m.to_string());
                    let Ok(bytes) = field.bytes().await else {
                        return error_response(400, "INVALID_DATA", "the multipart body is malformed", json!({}));
                    };
                    match name.as_str() {
                        "file" => match file_name {
                            Some(file_name) => file = Some((file_name, content_type.unwrap_or_default(), bytes.to_vec())),
                            None => return error_response(400, "INVALID_DATA", "the file part has no filename", json!({ "param_name": "file" })),
                        },
                        "attachmentUrl" => url = Some(String::from_utf8_lossy(&bytes).into_owned()),
                        _ => {}
                    }
                }
                Ok(None) => break,
                Err(_) => return error_response(400, "INVALID_DATA", "the multipart body is malformed", json!({})),
            }
        }
    }
    let attachment = match (file, url) {
        (Some(_), Some(_)) => return error_response(400, "INVALID_REQUEST", "either file or attachmentUrl can be given, not both", json!({})),
        (None, None) => return error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "file" })),
        (Some((file_name, content_type, bytes)), None) => {
            if bytes.len() > MAX_FILE {
                return error_response(413, "FILE_SIZE_MORE_THAN_ALLOWED_SIZE", "file size is more than the allowed size", json!({ "allowed_size": MAX_FILE }));
            }
            StoredAttachment { id: String::new(), file_name, content_type, bytes, link_url: None }
        }
        (None, Some(url)) => {
            if url.chars().count() > 3000 {
                return error_response(400, "INVALID_DATA", "attachmentUrl is too long", json!({ "param_name": "attachmentUrl", "maximum_length": 3000 }));
            }
            StoredAttachment { id: String::new(), file_name: url.rsplit('/').next().unwrap_or("link").to_string(), content_type: String::new(), bytes: Vec::new(), link_url: Some(url) }
        }
    };
    let now = crate::clock::Clock::zoho_time(shared.clock.now());
    let attachment_id = {
        let mut data = shared.data();
        let attachment_id = data.next_id;
        data.next_id += 1;
        data.attachments
            .entry((module.to_string(), id.to_string()))
            .or_default()
            .push(StoredAttachment { id: attachment_id.to_string(), ..attachment });
        attachment_id
    };
    json_response(
        200,
        &json!({ "data": [{
            "code": "SUCCESS",
            "details": { "Modified_Time": now, "Modified_By": seed::owner(), "Created_Time": now, "id": attachment_id.to_string(), "Created_By": seed::owner() },
            "message": "attachment uploaded successfully",
            "status": "success",
        }]}),
    )
}
