//! A record's attachments. `POST /crm/v8/{module}/{id}/Attachments`: a multipart `file` part
//! (with a filename) or an `attachmentUrl` (multipart text part, or query parameter as in Zoho's
//! OpenAPI file), never both. `GET` lists them (attachments.json's `Attachment`, `fields`
//! required), `GET .../Attachments/{id}` answers a file's bytes with Zoho's headers.

use crate::accounts::account;
use crate::params;
use crate::request::RecordedRequest;
use crate::response::{empty_response, error_response, json_response};
use crate::state::{Shared, StoredAttachment};
use axum::response::Response;
use serde_json::{json, Map, Value};

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
            StoredAttachment { id: String::new(), file_name, content_type, bytes, link_url: None, created_time: String::new() }
        }
        (None, Some(url)) => {
            if url.chars().count() > 3000 {
                return error_response(400, "INVALID_DATA", "attachmentUrl is too long", json!({ "param_name": "attachmentUrl", "maximum_length": 3000 }));
            }
            StoredAttachment {
                id: String::new(),
                file_name: url.rsplit('/').next().unwrap_or("link").to_string(),
                content_type: String::new(),
                bytes: Vec::new(),
                link_url: Some(url),
                created_time: String::new(),
            }
        }
    };
    let now = crate::clock::Clock::zoho_time(shared.clock.now());
    let attachment_id = store(shared, module, id, attachment);
    json_response(
        200,
        &json!({ "data": [{
            "code": "SUCCESS",
            "details": { "Modified_Time": now, "Modified_By": account::owner(), "Created_Time": now, "id": attachment_id.to_string(), "Created_By": account::owner() },
            "message": "attachment uploaded successfully",
            "status": "success",
        }]}),
    )
}

/// Keeps an attachment on a record (given its id and time here); returns its id.
pub fn store(shared: &Shared, module: &str, id: &str, attachment: StoredAttachment) -> u64 {
    let created_time = crate::clock::Clock::zoho_time(shared.clock.now());
    let mut data = shared.data();
    let attachment_id = data.next_id;
    data.next_id += 1;
    data.attachments.entry((module.to_string(), id.to_string())).or_default().push(StoredAttachment { id: attachment_id.to_string(), created_time, ..attachment });
    attachment_id
}

/// The record's name as Zoho shows it in `Parent_Id` (its mandatory field), if it exists.
fn parent_name(shared: &Shared, module: &str, id: &str) -> Result<String, Response> {
    let data = shared.data();
    let Some(m) = data.modules.get(module) else {
        // attachments.json's InvalidUrlError: the path index of the bad segment.
        return Err(error_response(400, "INVALID_MODULE", "the module name given seems to be invalid", json!({ "resource_path_index": 0, "related_status": "invalid" })));
    };
    match id.parse::<u64>().ok().and_then(|i| m.records.get(&i)) {
        Some(record) => Ok(record.get(m.mandatory).and_then(Value::as_str).unwrap_or(id).to_string()),
        None => Err(error_response(400, "INVALID_DATA", "the related id given seems to be invalid", json!({ "id": id }))),
    }
}

/// One attachment as attachments.json's `Attachment` describes it.
fn entry(module: &str, id: &str, parent: &str, a: &StoredAttachment) -> Map<String, Value> {
    let link = a.link_url.is_some();
    let value = json!({
        "id": a.id, "File_Name": a.file_name, "Size": a.bytes.len().to_string(),
        "Created_Time": a.created_time, "Modified_Time": a.created_time,
        "Owner": account::owner(), "Created_By": account::owner(), "Modified_By": account::owner(),
        "Parent_Id": { "id": id, "name": parent },
        "$editable": true, "$file_id": if link { String::new() } else { format!("f{}", a.id) },
        "$type": if link { "Link URL" } else { "Attachment" }, "$se_module": module, "$state": "save",
        "$link_url": a.link_url,
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `GET /{module}/{id}/Attachments?fields=...&page&per_page`: oldest first, 204 when none.
pub fn list(shared: &Shared, request: &RecordedRequest, module: &str, id: &str) -> Response {
    let parent = match parent_name(shared, module, id) {
        Ok(name) => name,
        Err(response) => return response,
    };
    let (fields, per_page, page) = match (params::required_fields(request, None), params::per_page(request), params::page(request)) {
        (Ok(fields), Ok(per_page), Ok(page)) => (fields, per_page, page),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    let data = shared.data();
    let all: Vec<Map<String, Value>> = data.attachments.get(&(module.to_string(), id.to_string())).map_or_else(Vec::new, |list| list.iter().map(|a| entry(module, id, &parent, a)).collect());
    if let Some(unknown) = fields.iter().find(|f| all.first().is_some_and(|e| !e.contains_key(**f))) {
        return error_response(400, "INVALID_DATA", "invalid field name in fields", json!({ "api_name": unknown, "param_name": "fields" }));
    }
    let offset = (page - 1).saturating_mul(per_page);
    let items: Vec<Value> = all.iter().skip(offset).take(per_page).map(|e| crate::crm::records::project(e, &fields)).collect();
    if items.is_empty() {
        return empty_response(204);
    }
    let count = items.len();
    json_response(200, &json!({ "data": items, "info": { "per_page": per_page, "count": count, "page": page, "more_records": offset + count < all.len() } }))
}

/// `filename="..."` for an ASCII name, else `filename*=UTF-8''...` (RFC 6266), as Zoho sends.
fn disposition(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_graphic() || c == ' ') && !name.contains('"') && !name.contains('\\') {
        format!("attachment;filename=\"{name}\"")
    } else {
        let encoded: String = name.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
        format!("attachment;filename*=UTF-8''{encoded}")
    }
}

/// `GET /{module}/{id}/Attachments/{attachment_id}`: the bytes with `Content-Type` and
/// `Content-Disposition`; 204 for an attachment the record does not have; a link has no file.
pub fn download(shared: &Shared, module: &str, id: &str, attachment_id: &str) -> Response {
    if let Err(response) = parent_name(shared, module, id) {
        return response;
    }
    let data = shared.data();
    let Some(found) = data.attachments.get(&(module.to_string(), id.to_string())).and_then(|list| list.iter().find(|a| a.id == attachment_id)) else {
        return empty_response(204);
    };
    if found.link_url.is_some() {
        return error_response(400, "INVALID_DATA", "the attachment is a link URL, not a file to download", json!({ "id": attachment_id }));
    }
    let content_type = if found.content_type.is_empty() { "application/octet-stream" } else { found.content_type.as_str() };
    axum::response::Response::builder()
        .status(200)
        .header("content-type", content_type)
        .header("content-disposition", disposition(&found.file_name))
        .body(axum::body::Body::from(found.bytes.clone()))
        .unwrap_or_else(|_| empty_response(500))
}
