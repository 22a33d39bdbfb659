//! CRM v8 "Composite API": `POST /crm/v8/__composite_requests` runs up to five sub-requests
//! against the sandbox's own CRM routes and answers each one's outcome, as Zoho's page
//! (https://www.zoho.com/crm/developer/docs/api/v8/composite-api.html) and
//! composite_requests.json describe it:
//! - `__composite_requests` is mandatory (MANDATORY_NOT_FOUND), an array (INVALID_DATA) of at
//!   most five (INVALID_DATA, `maximum_length` 5); `rollback_on_fail` (default false) and
//!   `parallel_execution` (default true, false when rollback_on_fail is true) are booleans, never
//!   both true (AMBIGUITY_DURING_PROCESSING). The v3 name `concurrent_execution` is not read.
//! - Each sub-request: `method` GET/POST/PUT/PATCH/DELETE and `uri` matching
//!   `/crm(/.*)?/v[0-9]+([.][0-9]+)?/.*` are mandatory; `sub_request_id` matches
//!   `[a-zA-Z0-9][a-zA-Z0-9_]*` and is unique (DUPLICATE_DATA); `params` and `body` are objects;
//!   `headers` never carry authorization or x-crm-org. Any of these wrong: 400, nothing runs.
//! - Only the page's "Allowed APIs" run (NOT_SUPPORTED otherwise, nesting included), within
//!   their record counts (the API's own 400 LIMIT_EXCEEDED); each needs its own scope besides
//!   ZohoCRM.composite_requests.CUSTOM.
//! - `@{id:$.path}` reads an earlier sub-request's answer; a reference to an unknown, later,
//!   failed or same sub-request, or a path leading nowhere, is INVALID_REFERENCE; in parallel,
//!   sub-requests referring to each other are LOOPING_FOUND. The sandbox runs "parallel"
//!   sub-requests one after another in an order that honours the references: the answers are the
//!   same, only slower.
//! - Status: 200 when every sub-request ran (whatever each answered), 207 when some ran, 400 when
//!   none did. With rollback_on_fail, the first failure (an answer of 400 or more, or a refusal)
//!   undoes every write (the store is restored as it was) and answers 400: ROLLBACK_PERFORMED for
//!   those that ran, the failure as it was, PROCESSING_STOPPED for the rest, each naming
//!   `rollbacked_by_sub_request_index`. Notifications of undone writes are never sent.
//! - Credits: one per composite call (charged at the gate); two when rollback_on_fail is true
//!   and every sub-request succeeded.

pub mod allowed;
pub mod references;

use crate::accounts::scopes;
use crate::crm::notifications::deliveries;
use crate::request::RecordedRequest;
use crate::response::{error_body, error_response, json_response};
use crate::state::Shared;
use allowed::Reach;
use axum::body::Body;
use axum::response::Response;
use axum::Router;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use tower_service::Service;

/// The sandbox's routes, handed in by the router (this module does not reach back to it).
pub type Routes = fn() -> Router<Arc<Shared>>;

const MAX_SUB_REQUESTS: usize = 5;
const URI_REGEX: &str = "/crm(/.*)?/v[0-9]+([.][0-9]+)?/.*";
const ID_REGEX: &str = "[a-zA-Z0-9][a-zA-Z0-9_]*";
const ROLLED_BACK: &str = "the transaction was rolled back since another sub request in the same transaction failed.";
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// One sub-request as checked.
#[derive(Debug, Clone)]
struct Sub {
    id: Option<String>,
    method: String,
    uri: String,
    params: Map<String, Value>,
    headers: Map<String, Value>,
    body: Option<Value>,
}

/// What became of a sub-request.
#[derive(Debug, Clone)]
enum Outcome {
    /// It ran: the wrapped API's status, headers and body.
    Ran { status: u16, headers: Value, body: Value },
    /// Zoho refused it before running it (its error entry).
    Refused(Value),
}

impl Outcome {
    fn failed(&self) -> bool {
        match self {
            Outcome::Ran { status, .. } => *status >= 400,
            Outcome::Refused(_) => true,
        }
    }

    fn entry(&self) -> Value {
        match self {
            Outcome::Ran { status, headers, body } => json!({
                "code": "SUCCESS",
                "details": { "response": { "headers": headers, "body": body, "status_code": status } },
                "message": "composite sub request executed successfully",
                "status": "success",
            }),
            Outcome::Refused(entry) => entry.clone(),
        }
    }
}

fn path_of(index: usize, key: &str) -> String {
    format!("$.__composite_requests[{index}].{key}")
}

fn invalid(api_name: &str, json_path: &str, extra: Value) -> Value {
    let mut details = json!({ "api_name": api_name, "json_path": json_path });
    if let (Some(d), Value::Object(extra)) = (details.as_object_mut(), extra) {
        d.extend(extra);
    }
    error_body("INVALID_DATA", "invalid data", details)
}

/// `POST /crm/v8/__composite_requests`.
pub async fn handle(shared: &Arc<Shared>, request: &RecordedRequest, routes: Routes) -> Response {
    let (rollback, parallel, subs) = match read(request) {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    let snapshot = rollback.then(|| shared.crm_snapshot());
    let pending = deliveries::pending_count();
    let granted = request.header("authorization").and_then(|h| h.strip_prefix("Zoho-oauthtoken ")).and_then(|t| shared.token_scopes(t));
    let mut done: Vec<Option<Outcome>> = vec![None; subs.len()];
    let mut failed_at = None;
    loop {
        let ready = |i: usize| done[i].is_none() && (!parallel || depends_on(&subs, i).iter().all(|&j| j == i || done[j].is_some()));
        let Some(i) = (0..subs.len()).find(|&i| ready(i)) else { break };
        let outcome = run_one(shared, routes, request, granted.as_deref(), &subs, i, &done).await;
        let failed = outcome.failed();
        done[i] = Some(outcome);
        if failed && rollback {
            failed_at = Some(i);
            break;
        }
    }
    if let (Some(at), Some(snapshot)) = (failed_at, snapshot) {
        shared.restore_crm(snapshot);
        deliveries::forget_pending_after(pending);
        let entries: Vec<Value> = done
            .iter()
            .enumerate()
            .map(|(i, outcome)| match outcome {
                Some(outcome) if i == at => outcome.entry(),
                Some(_) => error_body("ROLLBACK_PERFORMED", ROLLED_BACK, json!({ "rollbacked_by_sub_request_index": at })),
                None => error_body("PROCESSING_STOPPED", ROLLED_BACK, json!({ "rollbacked_by_sub_request_index": at })),
            })
            .collect();
        return json_response(400, &json!({ "__composite_requests": entries }));
    }
    // In parallel, what could not run waits on a sub-request that waits on it.
    let looping: Vec<usize> = (0..subs.len()).filter(|&i| done[i].is_none()).collect();
    let entries: Vec<Value> = done
        .iter()
        .enumerate()
        .map(|(i, outcome)| match outcome {
            Some(outcome) => outcome.entry(),
            None => error_body("LOOPING_FOUND", "the sub requests refer to each other", json!({ "api_name": "uri", "json_path": path_of(i, "uri"), "sub_request_indexes": looping })),
        })
        .collect();
    let ran = done.iter().filter(|o| matches!(o, Some(Outcome::Ran { .. }))).count();
    if rollback {
        // Zoho's page: "When all the sub-requests are successful, two credits will be used".
        let mut limits = shared.limits();
        limits.credits_used = limits.credits_used.saturating_add(1);
    }
    let status = match ran {
        0 => 400,
        n if n == subs.len() => 200,
        _ => 207,
    };
    json_response(status, &json!({ "__composite_requests": entries }))
}

/// The call's keys and sub-requests, or Zoho's 400 naming what is wrong.
fn read(request: &RecordedRequest) -> Result<(bool, bool, Vec<Sub>), Response> {
    let Some(Value::Object(body)) = request.json() else {
        return Err(error_response(400, "INVALID_DATA", "body is not a valid JSON", json!({})));
    };
    let flag = |key: &str| match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(json_response(400, &invalid(key, &format!("$.{key}"), json!({ "expected_data_type": "boolean" })))),
    };
    let rollback = flag("rollback_on_fail")?.unwrap_or(false);
    let parallel = flag("parallel_execution")?.unwrap_or(!rollback);
    if rollback && parallel {
        let due = json!([{ "api_name": "rollback_on_fail", "json_path": "$.rollback_on_fail" }, { "api_name": "parallel_execution", "json_path": "$.parallel_execution" }]);
        return Err(error_response(400, "AMBIGUITY_DURING_PROCESSING", "rollback_on_fail and parallel_execution cannot both be true", json!({ "ambiguity_due_to": due })));
    }
    let key = "__composite_requests";
    let items = match body.get(key) {
        None | Some(Value::Null) => {
            return Err(error_response(400, "MANDATORY_NOT_FOUND", "required field not found", json!({ "api_name": key, "json_path": format!("$.{key}") })));
        }
        Some(Value::Array(items)) if items.len() > MAX_SUB_REQUESTS => {
            return Err(json_response(400, &invalid(key, &format!("$.{key}"), json!({ "maximum_length": MAX_SUB_REQUESTS }))));
        }
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(_) => return Err(json_response(400, &invalid(key, &format!("$.{key}"), json!({ "expected_data_type": "jsonarray" })))),
    };
    let mut subs = Vec::with_capacity(items.len());
    let mut refusals = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match sub_request(i, item) {
            Ok(sub) => {
                if let Some(first) = sub.id.as_ref().and_then(|id| subs.iter().position(|s: &Sub| s.id.as_ref() == Some(id))) {
                    refusals.push(error_body(
                        "DUPLICATE_DATA",
                        "duplicate data",
                        json!({ "api_name": "sub_request_id", "json_path": path_of(i, "sub_request_id"), "sub_request_indexes": [first, i] }),
                    ));
                }
                subs.push(sub);
            }
            Err(refusal) => refusals.push(refusal),
        }
    }
    if !refusals.is_empty() {
        return Err(json_response(400, &json!({ "__composite_requests": refusals })));
    }
    Ok((rollback, parallel, subs))
}

/// One sub-request checked against the page's keys, or its error entry.
fn sub_request(i: usize, item: &Value) -> Result<Sub, Value> {
    let Some(item) = item.as_object() else {
        return Err(invalid("__composite_requests", &format!("$.__composite_requests[{i}]"), json!({ "expected_data_type": "jsonobject" })));
    };
    let mandatory = |key: &str| error_body("MANDATORY_NOT_FOUND", "required field not found", json!({ "api_name": key, "json_path": path_of(i, key) }));
    let method = match item.get("method") {
        None | Some(Value::Null) => return Err(mandatory("method")),
        Some(Value::String(m)) if METHODS.contains(&m.as_str()) => m.clone(),
        Some(_) => return Err(invalid("method", &path_of(i, "method"), json!({ "expected_data_type": "text" }))),
    };
    let uri = match item.get("uri") {
        None | Some(Value::Null) => return Err(mandatory("uri")),
        Some(Value::String(uri)) if uri_matches(uri) => uri.clone(),
        Some(_) => return Err(invalid("uri", &path_of(i, "uri"), json!({ "expected_data_type": "text", "regex": URI_REGEX }))),
    };
    let id = match item.get("sub_request_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if is_id(id) => Some(id.clone()),
        Some(_) => return Err(invalid("sub_request_id", &path_of(i, "sub_request_id"), json!({ "regex": ID_REGEX }))),
    };
    let object = |key: &str| match item.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(invalid(key, &path_of(i, key), json!({ "expected_data_type": "jsonobject" }))),
    };
    let params = object("params")?;
    if params.values().any(|v| v.is_object() || v.is_array()) {
        return Err(invalid("params", &path_of(i, "params"), json!({ "expected_data_type": "jsonobject" })));
    }
    let headers = object("headers")?;
    let restricted: Vec<&String> = headers.keys().filter(|k| k.eq_ignore_ascii_case("authorization") || k.eq_ignore_ascii_case("x-crm-org")).collect();
    if !restricted.is_empty() {
        return Err(invalid("headers", &path_of(i, "headers"), json!({ "restricted_headers": restricted })));
    }
    let body = match item.get("body") {
        None | Some(Value::Null) => None,
        Some(body @ Value::Object(_)) => Some(body.clone()),
        Some(_) => return Err(invalid("body", &path_of(i, "body"), json!({ "expected_data_type": "jsonobject" }))),
    };
    Ok(Sub { id, method, uri, params, headers, body })
}

/// Zoho's `/crm(/.*)?/v[0-9]+([.][0-9]+)?/.*`, whole.
fn uri_matches(uri: &str) -> bool {
    let segments: Vec<&str> = uri.split('/').collect();
    let version = |s: &str| {
        let Some(number) = s.strip_prefix('v') else { return false };
        let (major, minor) = number.split_once('.').unwrap_or((number, "0"));
        !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) && !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())
    };
    segments.first() == Some(&"") && segments.get(1) == Some(&"crm") && (2..segments.len().saturating_sub(1)).any(|k| version(segments[k]))
}

fn is_id(id: &str) -> bool {
    id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Every string of a sub-request: its uri, parameter and header values, and its body's strings.
fn texts(sub: &Sub) -> Vec<String> {
    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut out = vec![sub.uri.clone()];
    sub.params.values().chain(sub.headers.values()).chain(sub.body.iter()).for_each(|v| strings(v, &mut out));
    out
}

/// The sub-requests `i` refers to (by index; an unknown id is left for `run_one` to refuse).
fn depends_on(subs: &[Sub], i: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for text in texts(&subs[i]) {
        for (_, id, _) in references::find(&text) {
            out.extend(subs.iter().position(|s| s.id.as_deref() == Some(id)));
        }
    }
    out
}

/// `value` with every reference replaced by what it reads, or the INVALID_REFERENCE entry.
fn substitute(value: &Value, subs: &[Sub], i: usize, done: &[Option<Outcome>]) -> Result<Value, Value> {
    Ok(match value {
        Value::String(text) => {
            let found = references::find(text);
            let mut out = text.clone();
            for (whole, id, path) in &found {
                let refused = || error_body("INVALID_REFERENCE", "invalid reference", json!({ "api_name": "sub_request_id", "json_path": format!("$.__composite_requests[{i}]"), "reference": whole }));
                let referent = subs.iter().position(|s| s.id.as_deref() == Some(*id)).filter(|&j| j != i).ok_or_else(refused)?;
                let body = match &done[referent] {
                    Some(Outcome::Ran { status, body, .. }) if *status < 400 => body,
                    _ => return Err(refused()),
                };
                let read = references::resolve(body, path).ok_or_else(refused)?;
                if found.len() == 1 && *whole == text.as_str() {
                    return Ok(read.clone());
                }
                out = out.replacen(whole, &references::as_text(read), 1);
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, subs, i, done)).collect::<Result<_, _>>()?),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| Ok((k.clone(), substitute(v, subs, i, done)?))).collect::<Result<Map<String, Value>, Value>>()?),
        other => other.clone(),
    })
}

/// Runs sub-request `i` through the sandbox's routes, within the page's allowed APIs and counts.
async fn run_one(shared: &Arc<Shared>, routes: Routes, outer: &RecordedRequest, granted: Option<&[String]>, subs: &[Sub], i: usize, done: &[Option<Outcome>]) -> Outcome {
    let sub = &subs[i];
    let resolved = (|| -> Result<(String, Map<String, Value>, Map<String, Value>, Option<Value>), Value> {
        let uri = references::as_text(&substitute(&Value::String(sub.uri.clone()), subs, i, done)?);
        let object = |m: &Map<String, Value>| substitute(&Value::Object(m.clone()), subs, i, done).map(|v| v.as_object().cloned().unwrap_or_default());
        let body = sub.body.as_ref().map(|b| substitute(b, subs, i, done)).transpose()?;
        Ok((uri, object(&sub.params)?, object(&sub.headers)?, body))
    })();
    let (uri, params, headers, body) = match resolved {
        Ok(resolved) => resolved,
        Err(refusal) => return Outcome::Refused(refusal),
    };
    let path = uri.split('?').next().unwrap_or("").to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let reach = match segments.as_slice() {
        ["crm", version, rest @ ..] if version.starts_with('v') => allowed::reach(&sub.method, rest),
        _ => None,
    };
    let Some(reach) = reach else {
        return Outcome::Refused(error_body("NOT_SUPPORTED", "the API is not supported in a composite request", json!({ "allowed_services": allowed::SERVICES })));
    };
    let query: Vec<(String, String)> = params.iter().map(|(k, v)| (k.clone(), references::as_text(v))).collect();
    let mut sent_headers: Vec<(String, String)> = outer.headers.iter().filter(|(k, _)| k == "authorization").cloned().collect();
    sent_headers.push(("content-type".into(), "application/json".into()));
    sent_headers.extend(headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), references::as_text(v))));
    let bytes = body.as_ref().map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let recorded = RecordedRequest { method: sub.method.clone(), path, query, headers: sent_headers, body: bytes, ..outer.clone() };
    if let Some(limit) = over_reach(reach, &recorded, body.as_ref()) {
        let refusal = error_body("LIMIT_EXCEEDED", "limit exceeded", json!({ "by": "limit", "limit": limit }));
        return Outcome::Ran { status: 400, headers: json!({ "content-type": "application/json;charset=UTF-8" }), body: refusal };
    }
    if let Some(mismatch) = scopes::check(granted, &recorded) {
        return ran(mismatch).await;
    }
    dispatch(shared, routes, recorded).await
}

/// The record count Zoho allows past which a sub-request is LIMIT_EXCEEDED, when it is past it.
fn over_reach(reach: Reach, request: &RecordedRequest, body: Option<&Value>) -> Option<u64> {
    match reach {
        Reach::Any => None,
        Reach::One => body.and_then(|b| b.get("data")).and_then(Value::as_array).filter(|d| d.len() > 1).map(|_| 1),
        Reach::TwentyFive => {
            let per_page = request.query_param("per_page").and_then(|p| p.parse::<u64>().ok());
            let coql = body.and_then(|b| b.get("select_query")).and_then(Value::as_str).and_then(crate::apis::coql_limit);
            per_page.into_iter().chain(coql).any(|n| n > 25).then_some(25)
        }
    }
}

/// Sends `request` through the routes as if it had arrived (its `%` kept escaped, as the router
/// keeps them), without the gate: a sub-request spends no credit of its own.
async fn dispatch(shared: &Arc<Shared>, routes: Routes, request: RecordedRequest) -> Outcome {
    let mut uri = request.path.replace('%', "%25");
    if !request.query.is_empty() {
        uri.push('?');
        uri.push_str(&form_urlencoded::Serializer::new(String::new()).extend_pairs(&request.query).finish());
    }
    let mut built = axum::http::Request::builder().method(request.method.as_str()).uri(uri);
    for (name, value) in &request.headers {
        built = built.header(name.as_str(), value.as_str());
    }
    let Ok(mut built) = built.body(Body::empty()) else {
        return Outcome::Ran { status: 400, headers: json!({}), body: error_body("INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", json!({})) };
    };
    built.extensions_mut().insert(Arc::new(request));
    let mut router = routes().with_state(shared.clone());
    match router.call(built).await {
        Ok(response) => ran(response).await,
        Err(never) => match never {},
    }
}

/// A sub-request's answer as the composite answer wraps it.
async fn ran(response: Response) -> Outcome {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let headers = content_type.map(|t| json!({ "content-type": t })).unwrap_or_else(|| json!({}));
    Outcome::Ran { status, headers, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_follow_zohos_pattern() {
        for good in ["/crm/v8/Leads", "/crm/v8/", "/crm/bulk/v8/read", "/crm/v2.1/Leads/1"] {
            assert!(uri_matches(good), "{good}");
        }
        for bad in ["crm/v8/Leads", "/crm/v8", "/books/v3/x", "/crm/Leads", "/crm/vx/Leads", "https://x/crm/v8/Leads"] {
            assert!(!uri_matches(bad), "{bad}");
        }
    }
}
