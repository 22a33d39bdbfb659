//! The Books envelope: `{"code":0,"message":"success", "<key>": ...}`. Code 0 is success;
//! anything else is an error, even inside a 2xx.

use crate::client::retry_after;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Response;
use serde_json::{Map, Value};

/// The kind a Books error code (or, without one, the HTTP status) stands for.
fn kind_of(status: u16, code: Option<i64>) -> ErrorKind {
    match (code, status) {
        (Some(1002), _) | (_, 404) => ErrorKind::NotFound,
        (Some(57), _) | (_, 403) => ErrorKind::Forbidden,
        (_, 401) => ErrorKind::Unauthorized,
        (_, 429) => ErrorKind::RateLimited,
        (_, 409) => ErrorKind::Conflict,
        _ => ErrorKind::Zoho,
    }
}

/// The envelope of a Books answer, or the error it carries.
pub fn open(response: &Response) -> Result<Map<String, Value>> {
    let parsed = serde_json::from_slice::<Value>(&response.body);
    let envelope = match parsed {
        Ok(Value::Object(map)) => map,
        _ if response.body.is_empty() && (200..300).contains(&response.status) => Map::new(),
        _ => {
            let start = response.body_start();
            let mut error = ZohoError::new(kind_of(response.status, None), format!("Zoho Books answered HTTP {} with a body that is not a JSON object: {start:?}", response.status))
                .with_status(response.status);
            error.retry_after_ms = retry_after(response).map(|d| d.as_millis() as u64);
            return Err(error);
        }
    };
    let code = envelope.get("code").and_then(Value::as_i64);
    if code.unwrap_or(0) == 0 && (200..300).contains(&response.status) {
        return Ok(envelope);
    }
    let message = envelope.get("message").and_then(Value::as_str).unwrap_or("Zoho Books reported an error without a message");
    let mut error = ZohoError::new(kind_of(response.status, code), message.to_string()).with_status(response.status);
    if let Some(code) = code {
        error = error.with_code(code.to_string());
    }
    let details: Map<String, Value> = envelope.iter().filter(|(k, _)| *k != "code" && *k != "message").map(|(k, v)| (k.clone(), v.clone())).collect();
    if !details.is_empty() {
        error = error.with_details(Value::Object(details));
    }
    if response.status == 429 {
        error.retry_after_ms = retry_after(response).map(|d| d.as_millis() as u64);
    }
    Err(error)
}

/// The resource under `key`, or the answer's only non-envelope value when Zoho named it otherwise.
pub fn take(mut envelope: Map<String, Value>, key: &str) -> Result<Value> {
    if let Some(value) = envelope.remove(key) {
        return Ok(value);
    }
    let others: Vec<String> = envelope.keys().filter(|k| !["code", "message", "page_context"].contains(&k.as_str())).cloned().collect();
    match others.as_slice() {
        [only] => Ok(envelope.remove(only).unwrap_or(Value::Null)),
        _ => Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho Books' answer has no {key:?} (keys: {})", others.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: vec![], body: body.as_bytes().to_vec() }
    }

    #[test]
    fn codes_map_to_kinds_even_inside_a_2xx() {
        let e = open(&response(404, r#"{"code":1002,"message":"Invoice does not exist."}"#)).unwrap_err();
        assert_eq!((e.kind, e.code.as_deref()), (ErrorKind::NotFound, Some("1002")));
        let e = open(&response(401, r#"{"code":57,"message":"You are not authorized to perform this operation"}"#)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        let e = open(&response(200, r#"{"code":4,"message":"Invalid value"}"#)).unwrap_err();
        assert_eq!((e.kind, e.status), (ErrorKind::Zoho, Some(200)));
        let e = open(&response(429, r#"{"code":45,"message":"rate"}"#)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert!(open(&response(200, r#"{"code":0,"message":"success","invoice":{}}"#)).is_ok());
        assert_eq!(take(open(&response(200, r#"{"code":0,"message":"success","weird":{"a":1}}"#)).unwrap(), "widget").unwrap()["a"], 1);
    }
}
