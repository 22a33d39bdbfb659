//! Reading Zoho CRM answers: the success items, and the error shapes (top-level or per record).

use crate::client::retry_after;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Response;
use serde_json::{json, Value};

/// Parses a JSON body, or explains what came instead (an HTML proxy page, a cut-off body).
pub fn body_json(response: &Response) -> Result<Value> {
    serde_json::from_slice(&response.body).map_err(|e| {
        let start = response.body_start();
        ZohoError::new(ErrorKind::Zoho, format!("Zoho answered HTTP {} with a body that is not JSON ({e}): {start:?}", response.status))
            .with_status(response.status)
    })
}

/// The kind a Zoho error code or HTTP status stands for.
pub fn kind_of(status: u16, code: Option<&str>) -> ErrorKind {
    match (status, code) {
        (_, Some("INVALID_TOKEN" | "OAUTH_SCOPE_MISMATCH" | "AUTHENTICATION_FAILURE")) => ErrorKind::Unauthorized,
        (_, Some("NO_PERMISSION")) => ErrorKind::Forbidden,
        (_, Some("DUPLICATE_DATA" | "ALREADY_MODIFIED" | "RECORD_LOCKED")) => ErrorKind::Conflict,
        (_, Some("INVALID_URL_PATTERN")) => ErrorKind::NotFound,
        (429, _) => ErrorKind::RateLimited,
        (401, _) => ErrorKind::Unauthorized,
        (403, _) => ErrorKind::Forbidden,
        (404, _) => ErrorKind::NotFound,
        (409 | 412, _) => ErrorKind::Conflict,
        _ => ErrorKind::Zoho,
    }
}

fn is_error_item(item: &Value) -> bool {
    item.get("status").and_then(Value::as_str) == Some("error")
}

/// One Zoho error object (`{"code","details","message","status":"error"}`) as a typed error.
pub fn error_from_item(status: u16, item: &Value) -> ZohoError {
    let code = item.get("code").and_then(Value::as_str);
    let message = item.get("message").and_then(Value::as_str).unwrap_or("Zoho reported an error without a message");
    let mut error = ZohoError::new(kind_of(status, code), message.to_string()).with_status(status);
    if let Some(code) = code {
        error = error.with_code(code);
    }
    if let Some(details) = item.get("details").filter(|d| !d.is_null()) {
        error = error.with_details(details.clone());
    }
    error
}

/// A failed answer as a typed error: a top-level error object, a `data[]` of per-record
/// errors (Zoho uses both for 400), or a bare status.
pub fn error_from_response(response: &Response) -> ZohoError {
    let status = response.status;
    let mut error = match serde_json::from_slice::<Value>(&response.body) {
        Ok(body) => match body.get("data").and_then(Value::as_array) {
            Some(items) if !items.is_empty() => {
                let first = items.iter().find(|i| is_error_item(i)).unwrap_or(&items[0]);
                let mut error = error_from_item(status, first);
                if items.len() > 1 {
                    error.message = format!("{} (and {} more record results in details)", error.message, items.len() - 1);
                }
                // Every record's outcome stays available to the caller.
                error.with_details(json!({ "data": items }))
            }
            _ if body.get("code").is_some() => error_from_item(status, &body),
            _ => ZohoError::new(kind_of(status, None), format!("Zoho answered HTTP {status}: {}", body)).with_status(status),
        },
        Err(_) if response.body.is_empty() => {
            ZohoError::new(kind_of(status, None), format!("Zoho answered HTTP {status} with an empty body")).with_status(status)
        }
        Err(_) => {
            let start = response.body_start();
            ZohoError::new(kind_of(status, None), format!("Zoho answered HTTP {status} with a non-JSON body: {start:?}"))
                .with_status(status)
        }
    };
    if status == 429 {
        error.kind = ErrorKind::RateLimited;
        error.retry_after_ms = retry_after(response).map(|d| d.as_millis() as u64);
    }
    error
}

/// The `data[]` items of a write (create, update, delete) answer; an error when the request failed.
pub fn write_items(response: &Response) -> Result<Vec<Value>> {
    if !(200..300).contains(&response.status) {
        return Err(error_from_response(response));
    }
    let body = body_json(response)?;
    match body.get("data").and_then(Value::as_array) {
        Some(items) if !items.is_empty() => Ok(items.clone()),
        _ if body.get("code").is_some() && is_error_item(&body) => Err(error_from_item(response.status, &body)),
        _ => Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho answered HTTP {} without a data array: {body}", response.status))
            .with_status(response.status)),
    }
}

/// The single item of a one-record write: Ok when it succeeded, its error otherwise
/// (older API versions answer 200/201 with an error item).
pub fn single_outcome(response: &Response) -> Result<Value> {
    let mut items = write_items(response)?;
    let item = items.swap_remove(0);
    if is_error_item(&item) {
        // A per-record failure inside a 2xx is Zoho refusing the data: report it as a 400 would.
        let status = if (200..300).contains(&response.status) { 400 } else { response.status };
        let mut error = error_from_item(status, &item);
        error.status = Some(response.status);
        return Err(error);
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: vec![], body: body.as_bytes().to_vec() }
    }

    #[test]
    fn both_400_shapes_keep_zohos_code() {
        let top = error_from_response(&response(400, r#"{"code":"INVALID_MODULE","details":{},"message":"the module name given seems to be invalid","status":"error"}"#));
        assert_eq!(top.code.as_deref(), Some("INVALID_MODULE"));
        assert_eq!(top.kind, ErrorKind::Zoho);
        let items = error_from_response(&response(400, r#"{"data":[{"code":"DUPLICATE_DATA","details":{"api_name":"Email"},"message":"duplicate data","status":"error"}]}"#));
        assert_eq!(items.kind, ErrorKind::Conflict);
        assert_eq!(items.details.unwrap()["data"][0]["details"]["api_name"], "Email");
    }

    #[test]
    fn html_and_429_are_typed() {
        let html = error_from_response(&response(502, "<html>Bad gateway</html>"));
        assert_eq!(html.kind, ErrorKind::Zoho);
        assert!(html.message.contains("non-JSON"));
        let mut limited = response(429, r#"{"code":"TOO_MANY_REQUESTS","message":"slow down","status":"error"}"#);
        limited.headers.push(("retry-after".into(), "7".into()));
        let e = error_from_response(&limited);
        assert_eq!((e.kind, e.retry_after_ms), (ErrorKind::RateLimited, Some(7000)));
    }

    #[test]
    fn error_item_inside_200_is_an_error() {
        let e = single_outcome(&response(200, r#"{"data":[{"code":"MANDATORY_NOT_FOUND","details":{"api_name":"Last_Name"},"message":"required field not found","status":"error"}]}"#)).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("MANDATORY_NOT_FOUND"));
        assert_eq!(e.status, Some(200));
    }
}
