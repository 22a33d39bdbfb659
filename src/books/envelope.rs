//! The Books envelope: `{"code":0,"message":"success", "<key>": ...}`. Code 0 is success;
//! anything else is an error, even inside a 2xx. The envelope's members are read with their
//! values raw, so a resource or list passes through as Zoho's text, never as a tree.

use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Response;
use crate::json::{self, JsonError};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Top-level members a Books answer may have (code, message, the resource, page_context...).
const MAX_MEMBERS: usize = 100;

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

/// A Books answer's top-level members, values raw (borrowed from the answer).
#[derive(Debug, Default)]
pub struct Envelope<'a> {
    members: Vec<(String, &'a RawValue)>,
}

impl<'a> Envelope<'a> {
    /// Every top-level member, in Zoho's order.
    pub fn members(&self) -> &[(String, &'a RawValue)] {
        &self.members
    }

    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// A small member as a tree (`message`, `page_context`); a large or absent one is `None`.
    pub fn small(&self, key: &str) -> Option<Value> {
        self.get(key).and_then(|v| json::tree(v.get().as_bytes()).ok())
    }
}

/// The envelope of a Books answer, or the error it carries.
pub fn open(response: &Response) -> Result<Envelope<'_>> {
    let success = (200..300).contains(&response.status);
    if response.body.is_empty() && success {
        return Ok(Envelope::default());
    }
    let text = std::str::from_utf8(&response.body).ok().filter(|t| t.trim_start().starts_with('{'));
    let members = match text.map(|t| json::members(t, MAX_MEMBERS)) {
        Some(Ok(members)) => members,
        Some(Err(JsonError::TooMany { limit })) => {
            return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho Books answered with more than {limit} top-level members; refused unread")).with_status(response.status))
        }
        _ => {
            let start = response.body_start();
            let mut error =
                ZohoError::new(kind_of(response.status, None), format!("Zoho Books answered HTTP {} with a body that is not a JSON object: {start:?}", response.status)).with_status(response.status);
            error.retry_after_ms = crate::books::limits::wait_ms(response);
            return Err(error);
        }
    };
    let envelope = Envelope { members };
    // Only a code that is exactly 0 (or no code at all) is success: a code too large for an
    // integer, a fraction, a string or `true` is Zoho (or something posing as it) reporting
    // an error, never a success read as 0.
    let raw_code = envelope.get("code").map(|c| c.get().trim());
    let code = raw_code.and_then(|c| c.parse::<i64>().ok());
    if raw_code.is_none_or(|c| c == "0") && success {
        return Ok(envelope);
    }
    let message = envelope.get("message").and_then(json::raw_str).unwrap_or_else(|| "Zoho Books reported an error without a message".into());
    let mut error = ZohoError::new(kind_of(response.status, code), message).with_status(response.status);
    if let Some(code) = raw_code {
        error = error.with_code(crate::json::cut_code(code));
    }
    let others: Vec<&(String, &RawValue)> = envelope.members.iter().filter(|(k, _)| k != "code" && k != "message").collect();
    if !others.is_empty() {
        // Details become a tree only for an error body small enough to read whole.
        let details = if response.body.len() <= json::MAX_TREE_BYTES {
            let map: Map<String, Value> = others.iter().map(|(k, v)| (k.clone(), json::tree(v.get().as_bytes()).unwrap_or(Value::Null))).collect();
            Value::Object(map)
        } else {
            Value::String(format!("{} bytes of details not shown (more than {} bytes)", response.body.len(), json::MAX_TREE_BYTES))
        };
        error = error.with_details(details);
    }
    if response.status == 429 {
        // Books' wait: Retry-After, else X-Rate-Limit-Reset (see `limits`).
        error.retry_after_ms = crate::books::limits::wait_ms(response);
    }
    Err(error)
}

/// The resource under `key`, or the answer's only non-envelope value when Zoho named it otherwise.
pub fn take<'a>(envelope: &Envelope<'a>, key: &str) -> Result<&'a RawValue> {
    if let Some(value) = envelope.get(key) {
        return Ok(value);
    }
    let others: Vec<&(String, &RawValue)> = envelope.members.iter().filter(|(k, _)| !["code", "message", "page_context"].contains(&k.as_str())).collect();
    match others.as_slice() {
        [(_, only)] => Ok(*only),
        _ => Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho Books' answer has no {key:?} (keys: {})", others.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")))),
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
        // Attack: codes that do not fit an integer were read as 0, a success.
        for code in ["18446744073709551615", "18446744073709551617", "-9223372036854775809", "1.5", "\"57\"", "true", "0.0"] {
            let e = open(&response(200, &format!("{{\"code\":{code},\"message\":\"m\",\"contact\":{{\"id\":1}}}}"))).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Zoho, "{code}");
        }
        let weird = response(200, r#"{"code":0,"message":"success","weird":{"a":1}}"#);
        assert_eq!(take(&open(&weird).unwrap(), "widget").unwrap().get(), r#"{"a":1}"#);
        let mut limited = response(429, r#"{"code":45,"message":"rate"}"#);
        limited.headers.push(("retry-after".into(), "18446744073709551615".into()));
        assert_eq!(open(&limited).unwrap_err().retry_after_ms, Some(u64::MAX));
        // A 10 MB list is not a tree: the envelope keeps it raw.
        let big = format!("{{\"code\":0,\"data\":[{}0]}}", "0,".repeat(5_000_000));
        assert_eq!(take(&open(&response(200, &big)).unwrap(), "contacts").unwrap().get().len(), 10_000_003);
    }
}
