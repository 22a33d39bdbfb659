//! CRM v8 "Composite API" (`POST /crm/v8/__composite_requests`; composite_requests.json;
//! https://www.zoho.com/crm/developer/docs/api/v8/composite-api.html): up to five sub-requests
//! sent as one call, optionally undone together when one fails.
//!
//! What Zoho's page says and this step follows:
//! - 1 to 5 sub-requests, each `method` (GET, POST, PUT, PATCH, DELETE), `uri` (a CRM path),
//!   optional `params`, `body`, `headers` (never `authorization` or `x-crm-org`) and
//!   `sub_request_id` (`[a-zA-Z0-9][a-zA-Z0-9_]*`, unique); a later sub-request reads an
//!   earlier one's answer as `@{sub_request_id:$.data[0].details.id}`.
//! - `rollback_on_fail` defaults to false at Zoho; this step defaults it to true (the form says
//!   so), because a workflow step that half-applies is the failure users ask to avoid.
//! - The parallel key is `parallel_execution` on the v8 page (composite_requests.json still names
//!   v3's `concurrent_execution`; the page wins). Its default depends on rollback_on_fail, and the
//!   two cannot both be true (AMBIGUITY_DURING_PROCESSING). Both keys are always sent with an
//!   explicit value, never both true, so no reading of either default decides what runs.
//! - Credits: one composite call costs one credit, two when rollback_on_fail is true and every
//!   sub-request succeeded (one when Zoho rolled back). Counted here as the most it can cost.
//! - Status: 200 when every sub-request ran (a sub-request's own 4xx is its answer, not the
//!   call's failure), 207 when some ran, 400 when none ran or Zoho rolled back; a rolled-back
//!   answer lists ROLLBACK_PERFORMED for the sub-requests undone and PROCESSING_STOPPED for those
//!   never run, each naming `rollbacked_by_sub_request_index`.
//!
//! Sub-request paths are checked as raw requests' are (`raw::target_of`): under `/crm/v8` of
//! the connection's own API domain, no scheme or host, no `.`/`..` segment (encoded or not);
//! and never the composite API itself (no nesting).

use crate::client::{ApiCall, Client};
use crate::crm::response::{error_from_response, metadata_sized};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Response};
use crate::json;
use crate::raw::{headers_of, method_of, target_of, Target};
use crate::wit::crm::RunCompositeInput;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

pub const PATH: &str = "/crm/v8/__composite_requests";
/// Zoho's limit: "one or up to five sub-requests".
pub const MAX_SUB_REQUESTS: usize = 5;
/// Longest sub_request_id (composite_requests operation: maxLen 100).
const MAX_ID_LEN: usize = 100;
/// Keys a sub-request may carry: the page's, with `url` (this step's word) beside `uri` (Zoho's).
const KEYS: [&str; 7] = ["method", "url", "uri", "params", "body", "headers", "sub_request_id"];

/// One sub-request checked, in Zoho's words.
#[derive(Debug, PartialEq)]
struct SubRequest {
    id: String,
    method: Method,
    uri: String,
    params: Map<String, Value>,
    headers: Map<String, Value>,
    body: Option<Value>,
}

/// Run Composite: checks every sub-request before anything is sent, sends one composite call,
/// and reports each sub-request's answer; a rolled-back call is the step's error.
pub fn run_composite(client: &Client, input: &RunCompositeInput) -> Result<String> {
    let rollback = input.rollback_on_fail.unwrap_or(true);
    // Zoho's page: parallel_execution defaults to true, or false when rollback_on_fail is true.
    let parallel = input.parallel_execution.unwrap_or(!rollback);
    if rollback && parallel {
        return Err(ZohoError::invalid_input("rollback-on-fail and parallel-execution cannot both be true (Zoho answers AMBIGUITY_DURING_PROCESSING): turn one of them off"));
    }
    let requests = sub_requests(client, &input.requests, parallel)?;
    let body = json!({
        "rollback_on_fail": rollback,
        "parallel_execution": parallel,
        "__composite_requests": requests.iter().map(sub_request_json).collect::<Vec<_>>(),
    });
    let credits = if rollback { 2 } else { 1 };
    let response = client.send(ApiCall::new(Method::Post, PATH).json(body).credits(credits))?;
    let ids: Vec<&str> = requests.iter().map(|r| r.id.as_str()).collect();
    answer_of(&response, &ids)
}

fn sub_request_json(request: &SubRequest) -> Value {
    let mut out = Map::new();
    out.insert("sub_request_id".into(), json!(request.id));
    out.insert("method".into(), json!(request.method.as_str()));
    out.insert("uri".into(), json!(request.uri));
    // composite_requests.json marks headers and params required while the page calls them
    // optional: empty objects satisfy both readings. A body is sent only when given (the
    // page's own GET samples have none).
    out.insert("headers".into(), Value::Object(request.headers.clone()));
    out.insert("params".into(), Value::Object(request.params.clone()));
    if let Some(body) = &request.body {
        out.insert("body".into(), body.clone());
    }
    Value::Object(out)
}

/// The `requests` input checked whole: 1 to 5 objects, each path on the API domain, ids unique,
/// references naming another sub-request (an earlier one unless run in parallel).
fn sub_requests(client: &Client, text: &str, parallel: bool) -> Result<Vec<SubRequest>> {
    if text.len() > json::MAX_TREE_BYTES {
        return Err(ZohoError::invalid_input(format!("requests is {} bytes; at most {} bytes are accepted", text.len(), json::MAX_TREE_BYTES)));
    }
    let items = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        _ => return Err(ZohoError::invalid_input("requests must be a JSON array of sub-requests, e.g. [{\"method\":\"POST\",\"url\":\"/Leads\",\"body\":{\"data\":[{\"Last_Name\":\"Boyle\"}]}}]")),
    };
    if items.is_empty() || items.len() > MAX_SUB_REQUESTS {
        return Err(ZohoError::invalid_input(format!("requests holds {} sub-requests; Zoho's composite API takes 1 to {MAX_SUB_REQUESTS}: split them into several steps", items.len())));
    }
    let mut requests = Vec::with_capacity(items.len());
    for (n, item) in items.into_iter().enumerate() {
        let request = sub_request(client, n, item).map_err(|e| ZohoError::invalid_input(format!("requests[{n}]: {}", e.message)))?;
        if let Some(first) = requests.iter().position(|r: &SubRequest| r.id == request.id) {
            return Err(ZohoError::invalid_input(format!("requests[{n}] has sub_request_id {:?}, as requests[{first}] has: each sub-request needs its own id", request.id)));
        }
        requests.push(request);
    }
    for (n, request) in requests.iter().enumerate() {
        for reference in references_of(request) {
            let target = requests.iter().position(|r| r.id == reference);
            let known = match target {
                Some(t) if t == n => Err("refers to itself"),
                Some(t) if t > n && !parallel => Err("refers to a later sub-request, which has not run yet when they run in order"),
                Some(_) => Ok(()),
                None => Err("names no sub-request of this call"),
            };
            if let Err(why) = known {
                let shown: String = reference.chars().take(MAX_ID_LEN).collect();
                return Err(ZohoError::invalid_input(format!("requests[{n}]: the reference @{{{shown}:...}} {why}")));
            }
        }
    }
    Ok(requests)
}

fn sub_request(client: &Client, n: usize, item: Value) -> Result<SubRequest> {
    let Value::Object(mut item) = item else {
        return Err(ZohoError::invalid_input("is not a JSON object such as {\"method\":\"GET\",\"url\":\"/Leads/5725767000000524157\"}"));
    };
    if let Some(unknown) = item.keys().find(|k| !KEYS.contains(&k.as_str())) {
        let shown: String = unknown.chars().take(40).collect();
        return Err(ZohoError::invalid_input(format!("has {shown:?}, not a sub-request key: use method, url, params, body, headers and sub_request_id")));
    }
    let method = match item.remove("method") {
        Some(Value::String(m)) => method_of(Some(&m))?,
        _ => return Err(ZohoError::invalid_input("needs a method: GET, POST, PUT, PATCH or DELETE")),
    };
    let url = match (item.remove("url"), item.remove("uri")) {
        (Some(Value::String(url)), None) | (None, Some(Value::String(url))) => url,
        (Some(_), Some(_)) => return Err(ZohoError::invalid_input("gives both url and uri: give one")),
        _ => return Err(ZohoError::invalid_input("needs a url: a path under /crm/v8 such as /Leads or /Leads/5725767000000524157")),
    };
    let (uri, query) = sub_request_path(client, &url)?;
    let mut params = match item.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(_) => return Err(ZohoError::invalid_input("params must be a JSON object such as {\"fields\":\"Last_Name,Email\"}")),
    };
    if let Some((name, _)) = params.iter().find(|(_, v)| v.is_object() || v.is_array() || v.is_null()) {
        return Err(ZohoError::invalid_input(format!("params {name:?} must be text, a number or true/false")));
    }
    for (name, value) in query {
        if params.contains_key(&name) {
            return Err(ZohoError::invalid_input(format!("names the parameter {name:?} in both its url and its params: give it once")));
        }
        params.insert(name, Value::String(value));
    }
    let headers = match item.remove("headers") {
        None | Some(Value::Null) => Map::new(),
        Some(headers @ Value::Object(_)) => {
            let checked = headers_of(&headers.to_string())?;
            // Zoho's page: "you cannot use the headers authorization or x-crm-org".
            if let Some((name, _)) = checked.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-crm-org")) {
                return Err(ZohoError::invalid_input(format!("header {name:?} cannot be set in a sub-request: Zoho refuses authorization and x-crm-org there")));
            }
            checked.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
        }
        Some(_) => return Err(ZohoError::invalid_input("headers must be a JSON object such as {\"If-Modified-Since\":\"2024-05-01T00:00:00+00:00\"}")),
    };
    let body = match item.remove("body") {
        None | Some(Value::Null) => None,
        Some(body @ Value::Object(_)) => Some(body),
        Some(_) => return Err(ZohoError::invalid_input("body must be a JSON object such as {\"data\":[{\"Last_Name\":\"Boyle\"}]}")),
    };
    let id = match item.remove("sub_request_id") {
        None | Some(Value::Null) => (n + 1).to_string(),
        Some(Value::String(id)) if is_sub_request_id(&id) => id,
        Some(_) => return Err(ZohoError::invalid_input(format!("sub_request_id must be 1 to {MAX_ID_LEN} letters, digits and underscores, starting with a letter or digit"))),
    };
    Ok(SubRequest { id, method, uri, params, headers, body })
}

/// Zoho's pattern `[a-zA-Z0-9][a-zA-Z0-9_]*`, at most 100 characters.
fn is_sub_request_id(id: &str) -> bool {
    id.len() <= MAX_ID_LEN && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A sub-request's `uri` and the query its url carried. The url is a path under /crm/v8 (with or
/// without that prefix), checked as a raw request's path is: no scheme or host (sub-requests
/// run on the composite call's own API domain), no traversal, no other API version.
fn sub_request_path(client: &Client, url: &str) -> Result<(String, Vec<(String, String)>)> {
    let url = url.trim();
    if url.contains("://") || url.starts_with("//") {
        return Err(ZohoError::invalid_input("url must be a path such as /Leads/5725767000000524157: sub-requests run on the connection's own API domain, so no scheme or host"));
    }
    let under = url.strip_prefix('/').unwrap_or(url);
    let rest = match under.strip_prefix("crm/v8") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') => rest,
        _ if under.starts_with("crm/") || under == "crm" => return Err(ZohoError::invalid_input("url must be under /crm/v8 (this step speaks CRM v8): give a path such as /Leads or /crm/v8/Leads")),
        _ => url,
    };
    let (target, query) = target_of(rest, "/crm/v8", client.connection_api_domain(), &|_| false)?;
    let Target::Path(path) = target else {
        return Err(ZohoError::invalid_input("url must be a path under /crm/v8, not a full URL"));
    };
    let path = path.trim_end_matches('/').to_string();
    if path == "/crm/v8" {
        return Err(ZohoError::invalid_input("url names no API: give a path such as /Leads"));
    }
    // Zoho's page: a sub-request cannot be the composite API itself.
    if path == PATH || path.starts_with(&format!("{PATH}/")) {
        return Err(ZohoError::invalid_input("a sub-request cannot be a composite request itself (Zoho does not nest them)"));
    }
    Ok((path, query))
}

/// The sub_request_ids a sub-request refers to through `@{id:...}` in its uri, params,
/// headers or body.
fn references_of(request: &SubRequest) -> Vec<String> {
    let mut out = Vec::new();
    let mut texts = vec![request.uri.as_str()];
    let values = request.params.values().chain(request.headers.values()).chain(request.body.iter());
    fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::String(s) => out.push(s),
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(map) => map.iter().for_each(|(k, v)| {
                out.push(k);
                strings(v, out)
            }),
            _ => {}
        }
    }
    values.for_each(|v| strings(v, &mut texts));
    for text in texts {
        let mut rest = text;
        while let Some(at) = rest.find("@{") {
            rest = &rest[at + 2..];
            let end = rest.find('}').unwrap_or(rest.len());
            if let Some((id, _)) = rest[..end].split_once(':') {
                out.push(id.to_string());
            }
            rest = &rest[end..];
        }
    }
    out
}

/// One sub-answer as Zoho sends it: `{code, details, message, status}`, the wrapped answer in
/// `details.response` when it ran.
#[derive(Deserialize, Default)]
struct SubAnswer<'a> {
    #[serde(borrow, default)]
    code: Option<&'a RawValue>,
    #[serde(borrow, default)]
    status: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    details: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct Ran<'a> {
    #[serde(borrow, default)]
    response: Option<Wrapped<'a>>,
    #[serde(default)]
    rollbacked_by_sub_request_index: Option<u64>,
}

#[derive(Deserialize, Default)]
struct Wrapped<'a> {
    #[serde(borrow, default)]
    headers: Option<&'a RawValue>,
    #[serde(borrow, default)]
    body: Option<&'a RawValue>,
    #[serde(borrow, default)]
    status_code: Option<&'a RawValue>,
}

/// What a sub-answer says, read once.
struct Read {
    /// The sub-answer as this step reports it (JSON text).
    text: String,
    code: Option<String>,
    /// The wrapped answer's status, when the sub-request ran.
    status_code: Option<u64>,
    /// Zoho's code inside the wrapped answer's body (`code`, or `data[0].code`).
    body_code: Option<String>,
    rolled_back_by: Option<u64>,
    /// A refusal in a line: its code, message and the key it names (`api_name`).
    said: String,
}

fn read_sub_answer(item: &RawValue, id: Option<&str>) -> Read {
    let answer: SubAnswer = serde_json::from_str(item.get()).unwrap_or_default();
    let ran: Ran = answer.details.and_then(|d| serde_json::from_str(d.get()).ok()).unwrap_or_default();
    let wrapped = ran.response.unwrap_or_default();
    let status_code = wrapped.status_code.and_then(|s| s.get().parse::<u64>().ok());
    let mut members: Vec<(String, Box<RawValue>)> = Vec::new();
    let mut put = |name: &str, value: Option<&RawValue>| {
        if let Some(value) = value {
            members.push((name.to_string(), value.to_owned()));
        }
    };
    let id_text = id.and_then(|id| serde_json::value::to_raw_value(id).ok());
    put("sub_request_id", id_text.as_deref());
    put("code", answer.code);
    put("status", answer.status);
    put("message", answer.message);
    if wrapped.status_code.is_some() || wrapped.body.is_some() {
        put("status_code", wrapped.status_code.filter(|s| s.get().parse::<u64>().is_ok()));
        put("headers", wrapped.headers);
        put("body", wrapped.body);
    } else {
        put("details", answer.details);
    }
    let body_code = wrapped.body.and_then(|b| code_in_body(b.get()));
    let code = answer.code.map(|c| json::cut_code(c.get()));
    // Redacted whole before it is cut: a secret cut in half would escape the boundary's redaction.
    let message: Option<String> = answer.message.and_then(json::raw_str).map(|m| crate::redact::shown(&m, 200).into_owned());
    let named = answer.details.and_then(|d| serde_json::from_str::<Named>(d.get()).ok()).and_then(|n| n.api_name).map(|n| format!(" ({})", crate::redact::shown(&n, 100)));
    let said = format!("{} {}{}", code.as_deref().unwrap_or("an error"), message.as_deref().unwrap_or(""), named.unwrap_or_default()).replace("  ", " ");
    Read { text: json::object_text(&members), code, status_code, body_code, rolled_back_by: ran.rollbacked_by_sub_request_index, said }
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    api_name: Option<String>,
}

/// Zoho's code in an answer body: top-level, or the first record outcome's.
fn code_in_body(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(borrow, default)]
        code: Option<&'a RawValue>,
        #[serde(borrow, default)]
        data: Option<Vec<Body<'a>>>,
    }
    let body: Body = serde_json::from_str(body).ok()?;
    body.code.map(|c| json::cut_code(c.get())).or_else(|| body.data?.into_iter().next()?.code.map(|c| json::cut_code(c.get())))
}

/// The composite answer: each sub-request's answer in the order sent, and whether Zoho rolled
/// the call back. A rollback, or a 400 where none ran, is the step's `zoho` error carrying
/// every sub-answer in `details`.
fn answer_of(response: &Response, ids: &[&str]) -> Result<String> {
    let listed = match response.status {
        200 | 207 | 400 => composite_list(response, ids.len())?,
        _ => None,
    };
    let Some(items) = listed else { return Err(error_from_response(response)) };
    // Zoho answers one entry per sub-request, in order; an answer naming fewer (a 400 listing
    // only the invalid ones) is passed on without ids, which would be guesses.
    let matched = items.len() == ids.len();
    let reads: Vec<Read> = items.iter().enumerate().map(|(n, item)| read_sub_answer(item, matched.then(|| ids[n]))).collect();
    let rolled_back = reads.iter().any(|r| matches!(r.code.as_deref(), Some("ROLLBACK_PERFORMED" | "PROCESSING_STOPPED")));
    let mut out = format!("{{\"rolled_back\":{rolled_back},\"responses\":[");
    for (n, read) in reads.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&read.text);
    }
    out.push_str("]}");
    if !rolled_back && response.status != 400 {
        return Ok(out);
    }
    let details = json::tree(out.as_bytes()).unwrap_or_else(|e| Value::String(format!("sub-answers not shown: {e}")));
    let (code, message) = if rolled_back {
        let culprit = reads.iter().find_map(|r| r.rolled_back_by).and_then(|i| usize::try_from(i).ok());
        ("ROLLBACK_PERFORMED", format!("Zoho rolled back the composite request, so none of its sub-requests was applied: {}", culprit_text(&reads, ids, culprit)))
    } else {
        let first = reads.iter().find(|r| r.code.as_deref() != Some("SUCCESS")).or(reads.first());
        let code = first.and_then(|r| r.code.clone()).unwrap_or_default();
        let said = first.map(|r| r.said.as_str()).unwrap_or_default();
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho ran none of the sub-requests: {said}; each one's answer is in details"))
            .with_status(response.status)
            .with_code(code)
            .with_details(details));
    };
    Err(ZohoError::new(ErrorKind::Zoho, message).with_status(response.status).with_code(code).with_details(details))
}

/// Which sub-request made Zoho roll back, and what it answered.
fn culprit_text(reads: &[Read], ids: &[&str], culprit: Option<usize>) -> String {
    let Some((n, read)) = culprit.and_then(|n| Some((n, reads.get(n)?))) else {
        return "each sub-request's answer is in details".into();
    };
    let named = ids.get(n).filter(|_| reads.len() == ids.len()).map(|id| format!(" ({id:?})")).unwrap_or_default();
    let said = match (read.status_code, &read.body_code, &read.code) {
        (Some(status), Some(code), _) => format!("answered HTTP {status} {code}"),
        (Some(status), None, _) => format!("answered HTTP {status}"),
        (None, _, Some(code)) => format!("was refused with {code}"),
        _ => "failed".into(),
    };
    format!("sub-request {n}{named} {said}; every sub-request's answer is in details")
}

/// The `__composite_requests` list of an answer, at most `sent` entries, each an object; None
/// when the answer has no such list (a top-level error).
fn composite_list(response: &Response, sent: usize) -> Result<Option<Vec<&RawValue>>> {
    let text = std::str::from_utf8(&metadata_sized(response)?.body).map_err(|_| error_from_response(response))?;
    let Ok(members) = json::members(text, 64) else { return Ok(None) };
    let Some(list) = members.iter().rev().find(|(k, _)| k == "__composite_requests").map(|(_, v)| *v).filter(|l| l.get().starts_with('[')) else {
        return Ok(None);
    };
    let items = json::items(list.get().as_bytes(), sent).map_err(|e| crate::crm::response::answer_error(response, e))?;
    if let Some(odd) = items.iter().find(|i| !json::is_object(i)) {
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho listed a sub-answer that is {}, not an object", json::kind_of(odd.get()))).with_status(response.status));
    }
    Ok(Some(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn input(requests: &str, rollback: Option<bool>, parallel: Option<bool>) -> RunCompositeInput {
        RunCompositeInput { requests: requests.into(), rollback_on_fail: rollback, parallel_execution: parallel }
    }

    fn refused(requests: &str) -> String {
        let fixture = Fixture::default();
        let error = run_composite(&fixture.client(), &input(requests, None, None)).unwrap_err();
        assert_eq!((error.kind, fixture.sent()), (ErrorKind::InvalidInput, 0), "{requests}: {error:?}");
        error.message
    }

    #[test]
    fn hostile_and_malformed_sub_requests_are_refused_before_sending() {
        let get = r#"{"method":"GET","url":"/Leads"}"#;
        let six = format!("[{}]", [get; 6].join(","));
        for (requests, says) in [
            (six.as_str(), "1 to 5"),
            ("[]", "1 to 5"),
            ("{}", "JSON array"),
            (r#"[{"method":"GET","url":"https://evil.example/crm/v8/Leads"}]"#, "no scheme or host"),
            (r#"[{"method":"GET","url":"//evil.example/x"}]"#, "no scheme or host"),
            (r#"[{"method":"GET","url":"/Leads/../../oauth/v2/token"}]"#, ". or .."),
            (r#"[{"method":"GET","url":"/crm/v8/%2e%2E/x"}]"#, ". or .."),
            (r#"[{"method":"GET","url":"/Leads%2f..%2f..%2foauth%2fv2%2ftoken"}]"#, ". or .."),
            (r#"[{"method":"GET","url":"/Leads%5C..%5C..%5Cx"}]"#, ". or .."),
            (r#"[{"method":"GET","url":"/Leads/%252e%252e/%252E%252E/x"}]"#, ". or .."),
            (r#"[{"method":"GET","url":"/crm/v7/Leads"}]"#, "under /crm/v8"),
            (r#"[{"method":"GET","url":"/crm/bulk/v8/read"}]"#, "under /crm/v8"),
            (r#"[{"method":"POST","url":"/__composite_requests"}]"#, "nest"),
            (r#"[{"method":"POST","url":"/crm/v8/__composite_requests/"}]"#, "nest"),
            (r#"[{"method":"TRACE","url":"/Leads"}]"#, "not one of"),
            (r#"[{"url":"/Leads"}]"#, "needs a method"),
            (r#"[{"method":"GET"}]"#, "needs a url"),
            (r#"[{"method":"GET","url":"/Leads","x":1}]"#, "not a sub-request key"),
            (r#"[{"method":"GET","url":"/Leads","body":[1]}]"#, "body must be"),
            (r#"[{"method":"GET","url":"/Leads","params":{"a":{"b":1}}}]"#, "params \"a\""),
            (r#"[{"method":"GET","url":"/Leads?page=1","params":{"page":2}}]"#, "both its url"),
            (r#"[{"method":"GET","url":"/Leads","headers":{"X-CRM-ORG":"1"}}]"#, "x-crm-org"),
            (r#"[{"method":"GET","url":"/Leads","headers":{"Authorization":"x"}}]"#, "cannot be set"),
            (r#"[{"method":"GET","url":"/Leads","sub_request_id":"_x"}]"#, "sub_request_id"),
            (r#"[{"method":"GET","url":"/Leads","sub_request_id":"a"},{"method":"GET","url":"/Leads","sub_request_id":"a"}]"#, "its own id"),
            (r#"[{"method":"GET","url":"/Leads/@{2:$.data[0].id}"},{"method":"GET","url":"/Leads"}]"#, "later sub-request"),
            (r#"[{"method":"GET","url":"/Leads/@{1:$.data[0].id}"}]"#, "itself"),
            (r#"[{"method":"GET","url":"/Leads","params":{"ids":"@{nope:$.data[0].id}"}}]"#, "names no sub-request"),
        ] {
            let message = refused(requests);
            assert!(message.contains(says), "{requests}: {message}");
        }
        let fixture = Fixture::default();
        let error = run_composite(&fixture.client(), &input(get, Some(true), Some(true))).unwrap_err();
        assert!(error.message.contains("cannot both be true") && fixture.sent() == 0);
    }

    #[test]
    fn sub_requests_are_sent_in_zohos_words() {
        let fixture = Fixture::default();
        let client = fixture.client();
        let requests = sub_requests(&client, r#"[{"method":"post","url":"Leads","body":{"data":[{"Last_Name":"Boyle"}]},"sub_request_id":"lead"},{"method":"GET","uri":"/crm/v8/Leads/@{lead:$.data[0].details.id}?fields=Company","params":{"per_page":3}}]"#, false).unwrap();
        let sent: Vec<Value> = requests.iter().map(sub_request_json).collect();
        assert_eq!(
            sent,
            vec![
                json!({"sub_request_id":"lead","method":"POST","uri":"/crm/v8/Leads","headers":{},"params":{},"body":{"data":[{"Last_Name":"Boyle"}]}}),
                json!({"sub_request_id":"2","method":"GET","uri":"/crm/v8/Leads/@{lead:$.data[0].details.id}","headers":{},"params":{"per_page":3,"fields":"Company"}}),
            ]
        );
    }

    /// Zoho's own answers (zoho/crm-oas v8.0 composite_requests createCompositeRequest
    /// examples, and the v8 page's "Sample Response for a rollback").
    #[test]
    fn zohos_answers_read_as_outcomes_or_a_rollback() {
        let ok = Response { status: 200, headers: vec![], body: br#"{"__composite_requests":[{"code":"SUCCESS","message":"composite sub request executed successfully","status":"success","details":{"response":{"headers":{"server":"ZGS"},"body":{"data":[{"code":"SUCCESS","details":{"id":"2284048000005238359"},"message":"record added","status":"success"}]},"status_code":201}}}]}"#.to_vec() };
        let out: Value = serde_json::from_str(&answer_of(&ok, &["1"]).unwrap()).unwrap();
        assert_eq!(
            out,
            json!({"rolled_back":false,"responses":[{"sub_request_id":"1","code":"SUCCESS","status":"success","message":"composite sub request executed successfully","status_code":201,"headers":{"server":"ZGS"},"body":{"data":[{"code":"SUCCESS","details":{"id":"2284048000005238359"},"message":"record added","status":"success"}]}}]})
        );
        let rollback = br#"{"__composite_requests":[{"code":"ROLLBACK_PERFORMED","details":{"rollbacked_by_sub_request_index":1},"message":"the transaction was rolled back since another sub request in the same transaction failed.","status":"error"},{"code":"SUCCESS","details":{"response":{"headers":{},"status_code":400,"body":{"code":"LIMIT_EXCEEDED","details":{"by":"limit","limit":25},"message":"limit exceeded","status":"error"}}},"message":"composite sub request executed successfully","status":"success"},{"code":"PROCESSING_STOPPED","details":{"rollbacked_by_sub_request_index":1},"message":"the transaction was rolled back since another sub request in the same transaction failed.","status":"error"}]}"#;
        let error = answer_of(&Response { status: 400, headers: vec![], body: rollback.to_vec() }, &["a", "b", "c"]).unwrap_err();
        assert_eq!((error.kind, error.status, error.code.as_deref()), (ErrorKind::Zoho, Some(400), Some("ROLLBACK_PERFORMED")));
        assert!(error.message.contains("sub-request 1 (\"b\") answered HTTP 400 LIMIT_EXCEEDED"), "{}", error.message);
        let details = error.details.unwrap();
        assert_eq!((details["rolled_back"].clone(), details["responses"].as_array().map(Vec::len)), (json!(true), Some(3)));
        assert_eq!(
            details["responses"][2],
            json!({"sub_request_id":"c","code":"PROCESSING_STOPPED","status":"error","message":"the transaction was rolled back since another sub request in the same transaction failed.","details":{"rollbacked_by_sub_request_index":1}})
        );
        // A top-level error (more than five, ambiguity) is Zoho's error as any other.
        let top = Response { status: 400, headers: vec![], body: br#"{"code":"AMBIGUITY_DURING_PROCESSING","details":{},"message":"m","status":"error"}"#.to_vec() };
        assert_eq!(answer_of(&top, &["1"]).unwrap_err().code.as_deref(), Some("AMBIGUITY_DURING_PROCESSING"));
        // More entries than sub-requests sent is not Zoho's answer to this call.
        let extra = Response { status: 200, headers: vec![], body: br#"{"__composite_requests":[{},{}]}"#.to_vec() };
        assert_eq!(answer_of(&extra, &["1"]).unwrap_err().kind, ErrorKind::Zoho);
    }
    /// A 400 where none ran, whose sub-answer's message (or api_name) holds the access token
    /// just past the length shown: the message is cut only after redaction, so the boundary's
    /// redaction still finds the whole token and no prefix of it is left in the step's error.
    #[test]
    fn a_token_at_the_cut_of_a_sub_answer_message_is_redacted_before_it_is_cut() {
        let token = format!("1000.{}", "a1b2c3d4".repeat(20));
        crate::redact::install(crate::redact::Redactor::new([token.as_str()]));
        let message = format!("{}{token}", "x".repeat(185));
        let api_name = format!("{}{token}", "y".repeat(85));
        let body = format!(r#"{{"__composite_requests":[{{"code":"INVALID_DATA","details":{{"api_name":"{api_name}"}},"message":"{message}","status":"error"}}]}}"#);
        let error = answer_of(&Response { status: 400, headers: vec![], body: body.into_bytes() }, &["1"]).unwrap_err();
        let error = crate::redact::step().error(error);
        crate::redact::install(crate::redact::Redactor::default());
        assert!(!error.message.contains(&token[..12]), "{}", error.message);
        assert!(!error.details.unwrap().to_string().contains(&token[..12]));
    }
}
