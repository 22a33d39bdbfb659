//! `GET` (and `POST`) `/crm/v8/{module}/actions/count`: how many records a module holds, as
//! Zoho's `record_count.json` describes it. Its parameters are `email`, `phone` and `word` (a
//! search, matched as the search API matches them) and `cvid` (a custom view); a view and a
//! search together are `AMBIGUITY_DURING_PROCESSING`, an unknown module `INVALID_MODULE`.
//! `record.json` describes the same operation ("Record Count") with a `criteria` parameter too
//! (the search API's grammar) and the count as a string: `{"count":"2600"}`, which both files
//! accept (record_count.json gives the answer no schema).

use crate::crm::search::{found, parse, QueryError, Search};
use crate::request::RecordedRequest;
use crate::response::{error_response, invalid_module, json_response};
use crate::state::Shared;
use axum::response::Response;
use serde_json::{json, Value};

pub fn count(shared: &Shared, request: &RecordedRequest, module_name: &str) -> Response {
    let data = shared.data();
    let Some(module) = data.modules.get(module_name) else { return invalid_module() };
    let searched: Vec<(&str, &str)> = ["criteria", "email", "phone", "word"].into_iter().filter_map(|p| request.query_param(p).map(|v| (p, v))).collect();
    // record_count.json lists cvid for GET only.
    let cvid = if request.method == "GET" { request.query_param("cvid") } else { None };
    if cvid.is_some() && !searched.is_empty() {
        let due: Vec<Value> = std::iter::once("cvid").chain(searched.iter().map(|(p, _)| *p)).map(|p| json!({ "param_name": p })).collect();
        return error_response(400, "AMBIGUITY_DURING_PROCESSING", "Please use either Cvid or Search Params. Combination of both the params is not allowed", json!({ "ambiguity_due_to": due }));
    }
    // The sandbox has no custom views but every module's "All" view: a cvid counts every record.
    let search = match searched.first() {
        None => None,
        Some(("criteria", text)) => match parse(text) {
            Ok(criteria) => Some(Search::Criteria(criteria)),
            Err(QueryError(details)) => return error_response(400, "INVALID_QUERY", "invalid query formed", details),
        },
        Some(("email", value)) => Some(Search::Email(value.to_string())),
        Some(("phone", value)) => Some(Search::Phone(value.to_string())),
        Some((_, value)) => Some(Search::Word(value.to_string())),
    };
    let n = module.records.values().filter(|r| search.as_ref().is_none_or(|s| found(r, module, s))).count();
    json_response(200, &json!({ "count": n.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ask(shared: &Shared, method: &str, module: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let request = RecordedRequest {
            path: format!("/crm/v8/{module}/actions/count"),
            query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..RecordedRequest::for_test(method, Vec::new())
        };
        let response = count(shared, &request, module);
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// record_count.json (and record.json's criteria): the module's count, a search's count, and its two errors.
    #[tokio::test]
    async fn counts_as_record_count_json_says() {
        let shared = Shared::new();
        crate::seed::seed(&shared);
        assert_eq!(ask(&shared, "GET", "Contacts", &[]).await, (200, json!({ "count": "2600" })));
        assert_eq!(ask(&shared, "GET", "Contacts", &[("email", "contact7@example.com")]).await, (200, json!({ "count": "1" })));
        assert_eq!(ask(&shared, "POST", "Contacts", &[("word", "Number00")]).await, (200, json!({ "count": "99" })));
        assert_eq!(ask(&shared, "GET", "Contacts", &[("criteria", "(Mailing_City:equals:Austin)")]).await, (200, json!({ "count": "650" })));
        assert_eq!(ask(&shared, "GET", "Contacts", &[("cvid", "5725767000000087501")]).await, (200, json!({ "count": "2600" })));
        let (status, body) = ask(&shared, "GET", "Contacts", &[("cvid", "5725767000000087501"), ("email", "a@b.c")]).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("AMBIGUITY_DURING_PROCESSING")));
        assert_eq!(body["details"], json!({ "ambiguity_due_to": [{ "param_name": "cvid" }, { "param_name": "email" }] }));
        let (status, body) = ask(&shared, "GET", "Nowhere", &[]).await;
        assert_eq!((status, body["code"].as_str(), body["details"].clone()), (400, Some("INVALID_MODULE"), json!({ "resource_path_index": 0 })));
    }
}
