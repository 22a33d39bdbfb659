//! Raw Request: any call under the product's base path, with Prismatic's inputs, returning
//! Zoho's answer as data (status, headers, body) rather than judging it.

use crate::client::{ApiCall, Client};
use crate::connection::given;
use crate::crm::response::error_from_response;
use crate::error::{Result, ZohoError};
use crate::http::{Body, Method};
use crate::multipart::{self, Field};
use serde_json::{Map, Value};

#[derive(Debug, Default, Clone)]
pub struct RawInput {
    pub url: String,
    pub method: Option<String>,
    pub data: Option<String>,
    pub form_data: Option<String>,
    pub file_data: Option<String>,
    pub file_data_file_names: Option<String>,
    pub query_parameters: Option<String>,
    pub headers: Option<String>,
    pub response_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RawBody {
    Json(String),
    Text(String),
    Binary(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: RawBody,
}

/// Headers a caller may not set: the connection's own, and those the transport owns.
const RESERVED_HEADERS: [&str; 9] =
    ["authorization", "host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "keep-alive", "trailer"];

/// A JSON object input (`{"name": value}`), or what is wrong with it.
fn object(input: &str, text: &str) -> Result<Map<String, Value>> {
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

/// The path under the API domain: `url` relative to `base`, or a full URL on `api_domain`.
fn path_of(url: &str, base: &str, api_domain: &str) -> Result<(String, Vec<(String, String)>)> {
    let url = url.trim();
    let (target, query) = url.split_once('?').unwrap_or((url, ""));
    let path = if let Some(rest) = target.strip_prefix(api_domain).filter(|r| r.starts_with('/')) {
        rest.to_string()
    } else if target.contains("://") || target.starts_with("//") {
        return Err(ZohoError::invalid_input(format!(
            "url {url:?} is not on the connection's API domain {api_domain}: give a path such as /Leads/123 (under {base}), or a full URL on {api_domain}"
        )));
    } else {
        format!("{base}/{}", target.trim_start_matches('/'))
    };
    let bad_segment = path.split('/').any(|s| s == ".." || s == ".");
    if bad_segment || path.chars().any(|c| c.is_control() || c == ' ' || c == '\\' || c == '#') {
        return Err(ZohoError::invalid_input(format!("url {url:?} has a path Zoho would not route: no .., spaces, backslashes or control characters")));
    }
    let query = form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    Ok((path, query))
}

fn method_of(method: Option<&str>) -> Result<Method> {
    match method.map(str::to_ascii_uppercase).as_deref() {
        None | Some("GET") => Ok(Method::Get),
        Some("POST") => Ok(Method::Post),
        Some("PUT") => Ok(Method::Put),
        Some("PATCH") => Ok(Method::Patch),
        Some("DELETE") => Ok(Method::Delete),
        Some(other) => Err(ZohoError::invalid_input(format!("method {other:?} is not one of GET, POST, PUT, PATCH, DELETE"))),
    }
}

fn headers_of(text: &str) -> Result<Vec<(String, String)>> {
    object("headers", text)?
        .into_iter()
        .map(|(name, value)| {
            let value = as_text(&value);
            let token = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !token || value.contains(['\r', '\n', '\0']) {
                return Err(ZohoError::invalid_input(format!("header {name:?} is not a valid header: names are tokens, values single-line")));
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) || name.to_ascii_lowercase().starts_with("proxy-") {
                return Err(ZohoError::invalid_input(format!("header {name:?} cannot be set: the connection supplies authorization and the transport its own framing")));
            }
            Ok((name, value))
        })
        .collect()
}

/// File Data values are text, or `{"base64": "..."}` for binary content.
fn file_bytes(name: &str, value: &Value) -> Result<Vec<u8>> {
    match value {
        Value::String(text) => Ok(text.clone().into_bytes()),
        Value::Object(o) => match o.get("base64").and_then(Value::as_str) {
            Some(b64) => crate::decode_base64(b64).map_err(|e| ZohoError::invalid_input(format!("file-data {name:?}: {e}"))),
            None => Err(ZohoError::invalid_input(format!("file-data {name:?} must be text or {{\"base64\": \"...\"}}"))),
        },
        other => Err(ZohoError::invalid_input(format!("file-data {name:?} must be text or {{\"base64\": \"...\"}}, not {other}"))),
    }
}

fn body_of(input: &RawInput) -> Result<Option<Body>> {
    let form = given(&input.form_data);
    let files = given(&input.file_data);
    if let Some(data) = given(&input.data) {
        if form.is_some() || files.is_some() {
            return Err(ZohoError::invalid_input("give data, or form-data/file-data, not both: one request has one body"));
        }
        let kind = if serde_json::from_str::<Value>(data).is_ok() { "application/json" } else { "text/plain; charset=utf-8" };
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
    for (name, value) in files.map(|f| object("file-data", f)).transpose()?.unwrap_or_default() {
        let file_name = names.get(&name).map(as_text).unwrap_or_else(|| name.clone());
        let bytes = file_bytes(&name, &value)?;
        fields.push(Field::File { content_type: multipart::content_type_for(&file_name).to_string(), name, file_name, bytes });
    }
    if let Some(unknown) = names.keys().find(|k| !fields.iter().any(|f| matches!(f, Field::File { name, .. } if name == *k))) {
        return Err(ZohoError::invalid_input(format!("file-data-file-names names {unknown:?}, which is not a key of file-data")));
    }
    Ok(Some(multipart::form(fields)))
}

/// Sends the raw request under `base` (`/crm/v8`, `/books/v3`) with `fixed_query` appended
/// (Books' organization_id).
pub fn raw_request(client: &Client, base: &str, fixed_query: &[(String, String)], input: &RawInput) -> Result<RawResponse> {
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
    let (path, url_query) = path_of(&input.url, base, &client.api_domain()?)?;
    let mut call = ApiCall::new(method, path);
    let mut query: Vec<(String, String)> = url_query.into_iter().chain(extra_query).collect();
    // A fixed parameter the caller already set (an explicit organization_id) is not doubled.
    query.extend(fixed_query.iter().filter(|(name, _)| !query.iter().any(|(n, _)| n == name)).cloned().collect::<Vec<_>>());
    for (name, value) in query {
        call = call.query(name, value);
    }
    for (name, value) in headers {
        call = call.header(name, value);
    }
    if let Some(body) = body {
        call = call.body(body);
    }
    let response = client.send(call)?;
    // A non-2xx status is data here, unless the caller asked for retries and they ran out.
    let retries_exhausted = client.options.max_retries() > 0
        && (response.status == 429 || response.status >= 500 || (response.status >= 400 && client.options.retry_on_all_errors()));
    if retries_exhausted {
        return Err(error_from_response(&response));
    }
    // Text comes back with the connection's secrets scrubbed, like every other output.
    let text = |bytes: &[u8]| client.redact(&String::from_utf8_lossy(bytes));
    let body = match response_type.as_deref() {
        Some("binary") => RawBody::Binary(response.body),
        Some("text") => RawBody::Text(text(&response.body)),
        _ if response.body.is_empty() => RawBody::Json("null".into()),
        // Asked for JSON but Zoho sent something else (an HTML error page): keep it as text.
        _ => match serde_json::from_slice::<Value>(&response.body) {
            Ok(_) => RawBody::Json(text(&response.body)),
            Err(_) => RawBody::Text(text(&response.body)),
        },
    };
    Ok(RawResponse { status: response.status, headers: response.headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_on_the_api_domain() {
        let api = "https://www.zohoapis.eu";
        assert_eq!(path_of("Leads/1?fields=Email", "/crm/v8", api).unwrap(), ("/crm/v8/Leads/1".into(), vec![("fields".into(), "Email".into())]));
        assert_eq!(path_of("/Leads", "/crm/v8", api).unwrap().0, "/crm/v8/Leads");
        assert_eq!(path_of("https://www.zohoapis.eu/crm/v7/Leads", "/crm/v8", api).unwrap().0, "/crm/v7/Leads");
        for bad in ["https://evil.com/crm/v8/Leads", "https://www.zohoapis.eu.evil.com/x", "//evil.com/x", "../../oauth/v2/token", "Leads/../../x", "Leads /x", "Leads\r\nX: y"] {
            assert!(path_of(bad, "/crm/v8", api).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_injection_and_overrides_are_refused() {
        assert!(headers_of(r#"{"X-Trace":"1"}"#).is_ok());
        for bad in [r#"{"Authorization":"Bearer x"}"#, r#"{"host":"evil"}"#, r#"{"X-A":"1\r\nAuthorization: x"}"#, r#"{"Bad Name":"1"}"#, r#"{"Proxy-Authorization":"x"}"#, "[1]"] {
            assert!(headers_of(bad).is_err(), "{bad}");
        }
    }
}
