//! Zoho's credit table, the one the sandbox charges by and serves at `GET /crm/v8/__apis`
//! ("List of Available APIs"; the answer's shape is Zoho's `apis.json`: `__apis[]` with `path`
//! and `operation_types[]` of `method`, `oauth_scope`, `min_credits`, `max_credits`).
//!
//! The credits are Zoho's (v8 "API Limits", https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html):
//! most calls 1; insert, update and upsert 1 per 10 records (up to 10 for 100); add and remove
//! tags 1 per 10 record ids (up to 50 for 500); the deleted-records feed 2; convert lead 5;
//! COQL by its LIMIT (1-200 rows 1, 201-1,000 2, 1,001-2,000 3; a query without LIMIT reads
//! 200); a bulk write job 500. A call is charged as it reaches the gate, refused or not.

use crate::request::RecordedRequest;
use crate::response::{error_response, json_response};
use axum::response::Response;
use serde_json::{json, Value};

/// How a call's size sets its credits within an API's range.
#[derive(Clone, Copy)]
enum Scale {
    Records,
    Ids,
    Coql,
    Fixed,
}

/// (path, method, scope, fewest credits, most credits, scale)
type Api = (&'static str, &'static str, &'static str, u64, u64, Scale);

const TABLE: &[Api] = &[
    ("/crm/v8/{module_api_name}", "GET", "ZohoCRM.modules.{module_name}.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/{module_api_name}", "POST", "ZohoCRM.modules.{module_name}.CREATE", 1, 10, Scale::Records),
    ("/crm/v8/{module_api_name}", "PUT", "ZohoCRM.modules.{module_name}.UPDATE", 1, 10, Scale::Records),
    ("/crm/v8/{module_api_name}", "DELETE", "ZohoCRM.modules.{module_name}.DELETE", 1, 1, Scale::Fixed),
    ("/crm/v8/{module_api_name}/{id}", "GET", "ZohoCRM.modules.{module_name}.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/{module_api_name}/{id}", "PUT", "ZohoCRM.modules.{module_name}.UPDATE", 1, 1, Scale::Fixed),
    ("/crm/v8/{module_api_name}/{id}", "DELETE", "ZohoCRM.modules.{module_name}.DELETE", 1, 1, Scale::Fixed),
    ("/crm/v8/{module_api_name}/upsert", "POST", "ZohoCRM.modules.{module_name}.CREATE", 1, 10, Scale::Records),
    ("/crm/v8/{module_api_name}/search", "GET", "ZohoCRM.modules.{module_name}.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/{module_api_name}/deleted", "GET", "ZohoCRM.modules.{module_name}.READ", 2, 2, Scale::Fixed),
    ("/crm/v8/{module_api_name}/actions/count", "GET", "ZohoCRM.modules.{module_name}.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/{module_api_name}/actions/add_tags", "POST", "ZohoCRM.modules.{module_name}.CREATE", 1, 50, Scale::Ids),
    ("/crm/v8/{module_api_name}/actions/remove_tags", "POST", "ZohoCRM.modules.{module_name}.WRITE", 1, 50, Scale::Ids),
    ("/crm/v8/{module_api_name}/{id}/Attachments", "GET", "ZohoCRM.modules.attachments.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/{module_api_name}/{id}/Attachments", "POST", "ZohoCRM.modules.attachments.CREATE", 1, 1, Scale::Fixed),
    ("/crm/v8/{module_api_name}/{id}/Attachments/{attachment_id}", "GET", "ZohoCRM.modules.attachments.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/{module_api_name}/{id}/Notes", "POST", "ZohoCRM.modules.notes.CREATE", 1, 1, Scale::Fixed),
    ("/crm/v8/{module_api_name}/{id}/{related_list_api_name}", "GET", "ZohoCRM.modules.{module_name}.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/Leads/{id}/actions/convert", "POST", "ZohoCRM.modules.leads.CREATE", 5, 5, Scale::Fixed),
    ("/crm/v8/coql", "POST", "ZohoCRM.coql.READ", 1, 3, Scale::Coql),
    ("/crm/v8/settings/modules", "GET", "ZohoCRM.settings.modules.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/settings/fields", "GET", "ZohoCRM.settings.fields.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/org", "GET", "ZohoCRM.org.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/users", "GET", "ZohoCRM.users.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/users/{user_id}", "GET", "ZohoCRM.users.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/settings/related_lists", "GET", "ZohoCRM.settings.related_lists.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/settings/custom_views", "GET", "ZohoCRM.settings.custom_views.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/settings/tags", "GET", "ZohoCRM.settings.tags.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/actions/watch", "GET", "ZohoCRM.notifications.READ", 1, 1, Scale::Fixed),
    ("/crm/v8/actions/watch", "POST", "ZohoCRM.notifications.CREATE", 1, 1, Scale::Fixed),
    ("/crm/v8/actions/watch", "PUT", "ZohoCRM.notifications.UPDATE", 1, 1, Scale::Fixed),
    ("/crm/v8/actions/watch", "PATCH", "ZohoCRM.notifications.UPDATE", 1, 1, Scale::Fixed),
    ("/crm/v8/actions/watch", "DELETE", "ZohoCRM.notifications.DELETE", 1, 1, Scale::Fixed),
    ("/crm/v8/__apis", "GET", "ZohoCRM.apis.READ", 1, 1, Scale::Fixed),
    ("/crm/bulk/v8/write", "POST", "ZohoCRM.bulk.CREATE", 500, 500, Scale::Fixed),
    // Composite API (v8 page): 1 credit; 2 when rollback_on_fail is true and no rollback happened
    // (the second is charged by the handler, which knows).
    ("/crm/v8/__composite_requests", "POST", "ZohoCRM.composite_requests.CUSTOM", 1, 2, Scale::Fixed),
    // "Bulk Read Initialize 50" (the API-limits table).
    ("/crm/bulk/v8/read", "POST", "ZohoCRM.bulk.READ", 50, 50, Scale::Fixed),
];

/// The table's API for a request: the one matching it with the most literal segments.
fn api_of(method: &str, path: &str) -> Option<&'static Api> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut best: Option<(usize, &Api)> = None;
    for api in TABLE.iter().filter(|a| a.1 == method) {
        let pattern: Vec<&str> = api.0.split('/').filter(|s| !s.is_empty()).collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut literal = 0;
        let matched = pattern.iter().zip(&segments).all(|(p, s)| {
            if p.starts_with('{') {
                true
            } else {
                literal += 1;
                p == s
            }
        });
        if matched && best.is_none_or(|(b, _)| literal > b) {
            best = Some((literal, api));
        }
    }
    best.map(|(_, api)| api)
}

/// The length of a top-level array member of a JSON body.
fn count(request: &RecordedRequest, member: &str) -> Option<u64> {
    request.json().and_then(|b| b.get(member).and_then(Value::as_array).map(|a| a.len() as u64))
}

/// COQL's credits by the rows its LIMIT asks for: 1–200 rows 1, 201–1,000 rows 2,
/// 1,001–2,000 rows 3 (a query without LIMIT reads 200).
pub fn coql_credits(rows: u64) -> u64 {
    match rows {
        0..=200 => 1,
        201..=1_000 => 2,
        _ => 3,
    }
}

/// The row count of a COQL query's LIMIT (`limit n`, `limit offset, n`, `limit n offset m`),
/// read outside quoted text; `None` without one (or when unreadable).
pub fn coql_limit(query: &str) -> Option<u64> {
    // Words and numbers outside quotes, lower-cased, with commas kept as their own token.
    let mut tokens: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.chars() {
        if quoted {
            quoted = c != '\'';
            continue;
        }
        match c {
            '\'' => quoted = true,
            ',' | '(' | ')' => {
                tokens.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
                tokens.push(c.to_string());
            }
            c if c.is_whitespace() => tokens.extend((!current.is_empty()).then(|| std::mem::take(&mut current))),
            c => current.push(c.to_ascii_lowercase()),
        }
    }
    tokens.extend((!current.is_empty()).then_some(current));
    let at = tokens.iter().rposition(|t| t == "limit")?;
    let rest = tokens.get(at + 1..)?;
    let number = |t: Option<&String>| t.and_then(|t| t.parse::<u64>().ok());
    match rest.get(1).map(String::as_str) {
        Some(",") => number(rest.get(2)),
        _ => number(rest.first()),
    }
}

/// The credits Zoho charges for a CRM call as it reaches the gate.
pub fn credits_of(request: &RecordedRequest) -> u64 {
    let Some((_, _, _, min, max, scale)) = api_of(&request.method, &request.path) else { return 1 };
    let scaled = match scale {
        Scale::Records => count(request, "data").map(|n| n.div_ceil(10)),
        Scale::Ids => count(request, "ids").map(|n| n.div_ceil(10)),
        Scale::Coql => {
            let query = request.json().and_then(|b| b.get("select_query").and_then(Value::as_str).map(str::to_string)).unwrap_or_default();
            Some(coql_credits(coql_limit(&query).unwrap_or(200)))
        }
        Scale::Fixed => None,
    };
    scaled.unwrap_or(*min).clamp(*min, *max)
}

/// `GET /crm/v8/__apis`: the table as Zoho lists it. `filters` (a JSON object with
/// `field.api_name`, `comparator` `equals` and `value`) narrows it to the operations whose
/// `method` or `oauth_scope` equals the value; a filter that is not that is INVALID_DATA.
pub fn serve(request: &RecordedRequest) -> Response {
    let filter = match request.query_param("filters") {
        None => None,
        Some(text) => {
            let parsed: Option<(String, String)> = serde_json::from_str::<Value>(text).ok().and_then(|f| {
                let field = f.pointer("/field/api_name")?.as_str()?.to_string();
                let value = f.get("value")?.as_str()?.to_string();
                (f.get("comparator")?.as_str()? == "equals").then_some((field, value))
            });
            match parsed {
                Some((field, value)) if ["operation_types.method", "operation_types.oauth_scope"].contains(&field.as_str()) => Some((field, value)),
                _ => return error_response(400, "INVALID_DATA", "invalid data", json!({ "api_name": "filters", "param_name": "filters" })),
            }
        }
    };
    let keep = |(_, method, scope, ..): &&Api| match &filter {
        None => true,
        Some((field, value)) if field == "operation_types.method" => method.eq_ignore_ascii_case(value),
        Some((_, value)) => scope.eq_ignore_ascii_case(value),
    };
    let mut listed: Vec<(&str, Vec<Value>)> = Vec::new();
    for api in TABLE.iter().filter(keep) {
        let (path, method, scope, min, max, _) = api;
        let operation = json!({ "method": method, "oauth_scope": scope, "max_credits": max, "min_credits": min });
        match listed.iter_mut().find(|(p, _)| p == path) {
            Some((_, operations)) => operations.push(operation),
            None => listed.push((path, vec![operation])),
        }
    }
    if listed.is_empty() {
        return crate::response::empty_response(204);
    }
    let apis: Vec<Value> = listed.into_iter().map(|(path, operations)| json!({ "path": path, "operation_types": operations })).collect();
    json_response(200, &json!({ "__apis": apis }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_read_in_each_of_its_forms() {
        let cases = [
            ("select id from Leads limit 0, 2000", Some(2000)),
            ("select id from Leads LIMIT 150", Some(150)),
            ("select id from Leads limit 1000 offset 200", Some(1000)),
            ("select id from Leads where Last_Name = 'limit 5' order by id", None),
            ("select id from Leads where Last_Name = 'it''s' limit 10,201", Some(201)),
            ("select COUNT(Created_By) from Leads where id is not null", None),
            ("select id from Leads limit", None),
        ];
        for (query, limit) in cases {
            assert_eq!(coql_limit(query), limit, "{query}");
        }
    }

    #[test]
    fn coql_credits_follow_zohos_table_at_each_edge() {
        for (rows, credits) in [(0, 1), (1, 1), (200, 1), (201, 2), (1_000, 2), (1_001, 3), (2_000, 3), (u64::MAX, 3)] {
            assert_eq!(coql_credits(rows), credits, "{rows}");
        }
    }

    fn request(method: &str, path: &str, body: Value) -> RecordedRequest {
        RecordedRequest { path: path.into(), ..RecordedRequest::for_test(method, body.to_string().into_bytes()) }
    }

    #[test]
    fn credits_follow_zohos_table() {
        let records = |n: usize| json!({ "data": vec![json!({ "Last_Name": "x" }); n] });
        let ids = |n: usize| json!({ "tags": [{ "name": "t" }], "ids": vec!["1"; n] });
        let cases = [
            ("POST", "/crm/v8/Leads", records(1), 1),
            ("POST", "/crm/v8/Leads", records(10), 1),
            ("POST", "/crm/v8/Leads", records(11), 2),
            ("POST", "/crm/v8/Leads", records(100), 10),
            ("PUT", "/crm/v8/Leads", records(45), 5),
            ("POST", "/crm/v8/Leads/upsert", records(100), 10),
            ("PUT", "/crm/v8/Leads/1", records(1), 1),
            ("POST", "/crm/v8/Leads/actions/add_tags", ids(500), 50),
            ("POST", "/crm/v8/Leads/actions/remove_tags", ids(21), 3),
            ("GET", "/crm/v8/Leads/deleted", json!(null), 2),
            ("POST", "/crm/v8/Leads/5/actions/convert", json!({ "data": [{}] }), 5),
            ("POST", "/crm/v8/coql", json!({ "select_query": "select id from Leads limit 0, 2000" }), 3),
            ("POST", "/crm/v8/coql", json!({ "select_query": "select id from Leads" }), 1),
            ("POST", "/crm/bulk/v8/write", json!({}), 500),
            ("GET", "/crm/v8/Leads", json!(null), 1),
            ("GET", "/crm/v8/nowhere/at/all/here", json!(null), 1),
        ];
        for (method, path, body, credits) in cases {
            assert_eq!(credits_of(&request(method, path, body.clone())), credits, "{method} {path} {body}");
        }
    }

    #[tokio::test]
    async fn the_listing_is_filtered_by_method_or_scope() {
        let mut get = request("GET", "/crm/v8/__apis", json!(null));
        get.query = vec![("filters".into(), json!({ "field": { "api_name": "operation_types.method" }, "comparator": "equals", "value": "PATCH" }).to_string())];
        let body = body_of(serve(&get)).await;
        assert_eq!(
            body["__apis"],
            json!([{ "path": "/crm/v8/actions/watch", "operation_types": [{ "method": "PATCH", "oauth_scope": "ZohoCRM.notifications.UPDATE", "max_credits": 1, "min_credits": 1 }] }])
        );
        get.query = vec![("filters".into(), "{\"field\":{\"api_name\":\"module\"},\"comparator\":\"equals\",\"value\":\"x\"}".into())];
        assert_eq!(serve(&get).status(), 400);
    }

    async fn body_of(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }
}
