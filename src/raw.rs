//! Raw Request: any call under the product's base path, with Prismatic's inputs, returning
//! Zoho's answer as data (status, headers, body) rather than judging it.

use crate::client::{ApiCall, Client};
use crate::connection::given;
use crate::crm::response::error_from_response;
use crate::error::{Result, ZohoError};
use crate::http::{Body, Method};
use crate::json;
use crate::multipart::{self, Field};
use crate::redact::Redactor;
use crate::wit::types::{RawBody, RawRequestInput, RawResponse};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Headers a caller may not set: the connection's own, and those the transport owns.
const RESERVED_HEADERS: [&str; 9] = ["authorization", "host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "keep-alive", "trailer"];

/// A small JSON object input (`{"name": value}`: headers, form fields, query parameters, file
/// names), or what is wrong with it. Read as a tree only within the tree budget.
fn object(input: &str, text: &str) -> Result<Map<String, Value>> {
    if text.len() > json::MAX_TREE_BYTES {
        return Err(ZohoError::invalid_input(format!("{input} is {} bytes; at most {} bytes are accepted (send large content as data or file-data)", text.len(), json::MAX_TREE_BYTES)));
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ZohoError::invalid_input(format!("{input} must be a JSON object such as {{\"name\": \"value\"}}"))),
    }
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Where a raw request goes: a path under the API domain, or a full URL whose origin must
/// still be the token's API domain once the token is known.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Path(String),
    Full { origin: String, path: String },
}

/// Bytes a path may carry as they are (RFC 3986 pchar, `/` and `%`); others are percent-encoded.
fn path_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b)
}

/// The target of `url` (relative to `base`, or full on `origin_ok` origins) and its query. Only
/// the input is looked at: nothing is fetched, no token is needed.
pub(crate) fn target_of(url: &str, base: &str, api_domain: &str, origin_ok: &dyn Fn(&str) -> bool) -> Result<(Target, Vec<(String, String)>)> {
    let url = url.trim();
    let (target, query) = url.split_once('?').unwrap_or((url, ""));
    let target = if target.contains("://") || target.starts_with("//") {
        let after_scheme = target.split_once("://").map_or(target, |(_, rest)| rest);
        let authority_end = after_scheme.find('/').unwrap_or(after_scheme.len());
        let origin_len = target.len() - after_scheme.len() + authority_end;
        let (origin, path) = target.split_at(origin_len);
        if path.is_empty() || !origin_ok(origin) || target.starts_with("//") {
            return Err(ZohoError::invalid_input(format!(
                "url {url:?} is not on the connection's API domain {api_domain}: give a path such as /Leads/123 (under {base}), or a full URL on {api_domain}"
            )));
        }
        Target::Full { origin: origin.to_string(), path: path.to_string() }
    } else {
        Target::Path(format!("{base}/{}", target.trim_start_matches('/')))
    };
    let path = match &target {
        Target::Path(path) | Target::Full { path, .. } => path,
    };
    // `.` and `..` segments, written out or percent-encoded (once or twice), would climb out of
    // the product's path; so would separators written encoded (`%2F`, `%5C`), which a server
    // decoding the path before routing reads as segments.
    let bad_segment = |path: &str| {
        path.split('/').any(|s| {
            let s = s.to_ascii_lowercase().replace("%2e", ".");
            s == ".." || s == "."
        })
    };
    let decoded = percent_decoded(path);
    let lower = path.to_ascii_lowercase();
    let encoded_separator = lower.contains("%2f") || lower.contains("%5c") || decoded.to_ascii_lowercase().contains("%2f") || decoded.to_ascii_lowercase().contains("%5c");
    if bad_segment(path) || bad_segment(&decoded) || encoded_separator || path.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\' || c == '#') {
        return Err(ZohoError::invalid_input(format!("url {url:?} has a path Zoho would not route: no . or .. segments, spaces, backslashes, # or control characters")));
    }
    let query = form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    Ok((target, query))
}

/// `path` with its `%XX` escapes decoded once (bytes that are not UTF-8 shown as U+FFFD).
fn percent_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A path the transport accepts as it is: characters a URL path cannot carry percent-encoded.
fn encoded_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if path_safe(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn method_of(method: Option<&str>) -> Result<Method> {
    match method.map(str::to_ascii_uppercase).as_deref() {
        None | Some("GET") => Ok(Method::Get),
        Some("POST") => Ok(Method::Post),
        Some("PUT") => Ok(Method::Put),
        Some("PATCH") => Ok(Method::Patch),
        Some("DELETE") => Ok(Method::Delete),
        Some(other) => Err(ZohoError::invalid_input(format!("method {other:?} is not one of GET, POST, PUT, PATCH, DELETE"))),
    }
}

pub(crate) fn headers_of(text: &str) -> Result<Vec<(String, String)>> {
    object("headers", text)?
        .into_iter()
        .map(|(name, value)| {
            let value = as_text(&value);
            let token = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !token {
                return Err(ZohoError::invalid_input(format!("header name {name:?} is not a valid header name: letters, digits and !#$%&'*+-.^_`|~ only")));
            }
            // Every control character (DEL, vertical tab, NEL ...) and line separator is refused
            // here, so the transport never meets a value it would reject.
            if let Some(bad) = value.chars().find(|&c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')) {
                return Err(ZohoError::invalid_input(format!("header {name:?} has a control character (U+{:04X}) in its value: header values are one line of visible text", u32::from(bad))));
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) || name.to_ascii_lowercase().starts_with("proxy-") {
                return Err(ZohoError::invalid_input(format!("header {name:?} cannot be set: the connection supplies authorization and the transport its own framing")));
            }
            Ok((name, value))
        })
        .collect()
}

/// File Data values are text, or `{"base64": "..."}` for binary content. Each is read from its
/// raw text: a file is one string, never a tree.
fn file_bytes(name: &str, value: &RawValue) -> Result<Vec<u8>> {
    #[derive(serde::Deserialize)]
    struct Encoded {
        base64: String,
    }
    if let Some(text) = json::raw_str(value) {
        return Ok(text.into_bytes());
    }
    match serde_json::from_str::<Encoded>(value.get()) {
        Ok(encoded) => crate::decode_base64(&encoded.base64).map_err(|e| ZohoError::invalid_input(format!("file-data {name:?}: {e}"))),
        Err(_) => Err(ZohoError::invalid_input(format!("file-data {name:?} must be text or {{\"base64\": \"...\"}}, not {}", json::kind_of(value.get())))),
    }
}

fn body_of(input: &RawRequestInput) -> Result<Option<Body>> {
    let form = given(&input.form_data);
    let files = given(&input.file_data);
    if let Some(data) = given(&input.data) {
        if form.is_some() || files.is_some() {
            return Err(ZohoError::invalid_input("give data, or form-data/file-data, not both: one request has one body"));
        }
        let kind = if json::is_json(data.as_bytes()) { "application/json" } else { "text/plain; charset=utf-8" };
        return Ok(Some(Body::new(kind, data.as_bytes().to_vec())));
    }
    if form.is_none() && files.is_none() {
        return Ok(None);
    }
    let mut fields = Vec::new();
    for (name, value) in form.map(|f| object("form-data", f)).transpose()?.unwrap_or_default() {
        fields.push(Field::Text { name, value: as_text(&value) });
    }
    let names = given(&input.file_data_file_names).map(|n| object("file-data-file-names", n)).transpose()?.unwrap_or_default();
    // Files are bounded by the host's input cap, not the tree budget: members keep values raw.
    for (name, value) in files.map(|f| json::input_object("file-data", f, usize::MAX)).transpose()?.unwrap_or_default() {
        let file_name = names.get(&name).map(as_text).unwrap_or_else(|| name.clone());
        let bytes = file_bytes(&name, value)?;
        fields.push(Field::File { content_type: multipart::content_type_for(&file_name).to_string(), name, file_name, bytes });
    }
    if let Some(unknown) = names.keys().find(|k| !fields.iter().any(|f| matches!(f, Field::File { name, .. } if name == *k))) {
        return Err(ZohoError::invalid_input(format!("file-data-file-names names {unknown:?}, which is not a key of file-data")));
    }
    Ok(Some(multipart::form(fields)))
}

/// A raw request checked and built, not yet sent.
#[derive(Debug)]
pub struct RawCall {
    pub method: Method,
    pub target: Target,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
    pub response_type: Option<String>,
}

/// Checks every input and builds the call under `base` (`/crm/v8`, `/books/v3`). Sends
/// nothing and fetches no token: a refused input costs no request at all.
pub fn prepare(client: &Client, base: &str, input: &RawRequestInput) -> Result<RawCall> {
    let method = method_of(given(&input.method))?;
    let response_type = given(&input.response_type).map(str::to_ascii_lowercase);
    if !matches!(response_type.as_deref(), None | Some("json" | "text" | "binary")) {
        return Err(ZohoError::invalid_input("response-type must be json, text or binary"));
    }
    let headers = given(&input.headers).map(headers_of).transpose()?.unwrap_or_default();
    let body = body_of(input)?;
    let mut extra_query = Vec::new();
    for (name, value) in given(&input.query_parameters).map(|q| object("query-parameters", q)).transpose()?.unwrap_or_default() {
        match value {
            Value::Array(items) => extra_query.extend(items.iter().map(|v| (name.clone(), as_text(v)))),
            Value::Null => {}
            other => extra_query.push((name, as_text(&other))),
        }
    }
    let api_domain = client.connection_api_domain();
    let (target, url_query) = target_of(&input.url, base, api_domain, &|origin| client.may_be_api_domain(origin))?;
    let query = url_query.into_iter().chain(extra_query).collect();
    Ok(RawCall { method, target, query, headers, body, response_type })
}

/// Sends a prepared call with `fixed_query` appended (Books' organization_id) and returns
/// Zoho's answer as data, secrets redacted from its headers and text.
pub fn send(client: &Client, call: RawCall, fixed_query: &[(String, String)]) -> Result<RawResponse> {
    let path = match call.target {
        Target::Path(path) => path,
        Target::Full { origin, path } => {
            // The token is known now: a full URL must be on the API domain it is good for.
            let api_domain = client.api_domain()?;
            if !origin.eq_ignore_ascii_case(&api_domain) {
                return Err(ZohoError::invalid_input(format!("url on {origin} is not on the API domain of the connection's token ({api_domain}): give a path such as /Leads/123 instead")));
            }
            path
        }
    };
    let mut api_call = ApiCall::new(call.method, encoded_path(&path));
    let mut query = call.query;
    // A fixed parameter the caller already set (an explicit organization_id) is not doubled.
    query.extend(fixed_query.iter().filter(|(name, _)| !query.iter().any(|(n, _)| n == name)).cloned().collect::<Vec<_>>());
    for (name, value) in query {
        api_call = api_call.query(name, value);
    }
    for (name, value) in call.headers {
        api_call = api_call.header(name, value);
    }
    if let Some(body) = call.body {
        api_call = api_call.body(body);
    }
    let method = call.method;
    let response = client.send(api_call)?;
    // A non-2xx status is data here, unless the caller asked for retries and the client's
    // retry policy ran out of them on this status.
    if client.retries_ran_out(method, &response) {
        return Err(error_from_response(&response));
    }
    let redactor = client.redactor();
    // Headers are output too: a server echoing Authorization (x-echo, set-cookie) shows nothing.
    let headers = response.headers.iter().map(|(k, v)| (redactor.text(k).into_owned(), redactor.text(v).into_owned())).collect();
    // Text and JSON come back with every secret removed, searched in decoded text. Binary is
    // returned as the bytes the caller asked for, unredacted.
    let body = match call.response_type.as_deref() {
        Some("binary") => RawBody::Binary(response.body),
        Some("text") => RawBody::Text(redacted_text(&redactor, response.body, false)),
        _ if response.body.is_empty() => RawBody::Json("null".into()),
        // Asked for JSON but Zoho sent something else (an HTML error page): keep it as text.
        _ if json::is_json(&response.body) => RawBody::Json(redacted_text(&redactor, response.body, true)),
        _ => RawBody::Text(redacted_text(&redactor, response.body, false)),
    };
    Ok(RawResponse { status: response.status, headers, body })
}

/// A body as text with every secret removed, without copying it when there is none.
fn redacted_text(redactor: &Redactor, body: Vec<u8>, is_json: bool) -> String {
    let text = match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    let redacted = if is_json { redactor.json(&text) } else { redactor.text(&text) };
    match redacted {
        Cow::Owned(redacted) => redacted,
        Cow::Borrowed(_) => text,
    }
}

/// CRM - Raw Request: under `/crm/v8`.
pub fn crm_raw_request(client: &Client, input: &RawRequestInput) -> Result<RawResponse> {
    raw_request(client, "/crm/v8", &[], input)
}

/// Checks the input, then sends: both steps of a raw request under `base`.
pub fn raw_request(client: &Client, base: &str, fixed_query: &[(String, String)], input: &RawRequestInput) -> Result<RawResponse> {
    let call = prepare(client, base, input)?;
    send(client, call, fixed_query)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::Fixture;

    /// A raw-request input with only a url and a method (shared with the Books tests).
    pub fn input_for(url: &str, method: Option<&str>) -> RawRequestInput {
        RawRequestInput {
            url: url.into(),
            method: method.map(str::to_string),
            data: None,
            form_data: None,
            file_data: None,
            file_data_file_names: None,
            query_parameters: None,
            headers: None,
            response_type: None,
        }
    }

    fn path_of(url: &str, base: &str, api: &str) -> Result<(Target, Vec<(String, String)>)> {
        target_of(url, base, api, &|origin| origin == api)
    }

    #[test]
    fn paths_stay_on_the_api_domain() {
        let api = "https://www.zohoapis.eu";
        assert_eq!(path_of("Leads/1?fields=Email", "/crm/v8", api).unwrap(), (Target::Path("/crm/v8/Leads/1".into()), vec![("fields".into(), "Email".into())]));
        assert_eq!(path_of("/Leads", "/crm/v8", api).unwrap().0, Target::Path("/crm/v8/Leads".into()));
        assert_eq!(path_of("https://www.zohoapis.eu/crm/v7/Leads", "/crm/v8", api).unwrap().0, Target::Full { origin: api.into(), path: "/crm/v7/Leads".into() });
        for bad in [
            "https://evil.com/crm/v8/Leads",
            "https://www.zohoapis.eu.evil.com/x",
            "https://www.zohoapis.eu@evil.com/x",
            "//evil.com/x",
            "//www.zohoapis.eu/x",
            "https://www.zohoapis.eu",
            "../../oauth/v2/token",
            "Leads/../../x",
            "Leads/%2E%2e/%2e%2E/x",
            "Leads /x",
            "Leads\r\nX: y",
            "Leads\u{7f}",
            "Leads\u{85}x",
        ] {
            assert!(path_of(bad, "/crm/v8", api).is_err(), "{bad}");
        }
        assert_eq!(encoded_path("/crm/v8/Léads/\"x\"<>{}|^`"), "/crm/v8/L%C3%A9ads/%22x%22%3C%3E%7B%7D%7C%5E%60");
    }

    /// Raw requests follow the client's one retry policy: a POST's 503 is not retried without
    /// retry-on-all-errors, so it comes back as data; a GET's 503 is retried, then an error.
    #[test]
    fn raw_requests_use_the_one_retry_policy() {
        let input = |method: &str| input_for("Leads", Some(method));
        for (method, expect_error, sent) in [("POST", false, 1), ("GET", true, 3)] {
            let fixture = Fixture::with(crate::options::CallOptions { max_retries: Some(2), ..Default::default() });
            for _ in 0..3 {
                fixture.answer(503, r#"{"code":"INTERNAL_ERROR","message":"m","status":"error"}"#);
            }
            let outcome = crm_raw_request(&fixture.client(), &input(method));
            assert_eq!(outcome.is_err(), expect_error, "{method}");
            assert_eq!(fixture.sent(), sent, "{method}");
        }
    }

    #[test]
    fn header_injection_and_overrides_are_refused() {
        assert!(headers_of(r#"{"X-Trace":"1"}"#).is_ok());
        assert!(headers_of(r#"{"X-Name":"Zoë café"}"#).is_ok(), "non-ASCII text is not a control character");
        for bad in [
            r#"{"Authorization":"Bearer x"}"#,
            r#"{"host":"evil"}"#,
            r#"{"X-A":"1\r\nAuthorization: x"}"#,
            r#"{"Bad Name":"1"}"#,
            r#"{"Proxy-Authorization":"x"}"#,
            "[1]",
            r#"{"X-A":"a\u007fb"}"#,
            r#"{"X-A":"a\u000bb"}"#,
            r#"{"X-A":"a\u0085b"}"#,
            r#"{"X-A":"a\tb"}"#,
            r#"{"X-A":"a\u2028b"}"#,
            r#"{"X-É":"1"}"#,
        ] {
            assert_eq!(headers_of(bad).unwrap_err().kind, crate::error::ErrorKind::InvalidInput, "{bad}");
        }
    }
}
