//! Run Composite Request end to end (`POST /crm/v8/__composite_requests`, Zoho's v8 "Composite
//! API" page): up to five sub-requests in one call, undone together by default when one fails,
//! checked before sending as raw requests are; and the sandbox's composite API as strict as the
//! page (too many sub-requests, a disallowed API, bad JSON, both flags true).

use component_tests::{assert_request, error_of, ok_of, Harness};
use serde_json::{json, Value};

const SEEDED: &str = "5725767000000524157";
const MISSING: &str = "5725767000000999999";
const CREATED: &str = "composite sub request executed successfully";
const ROLLED_BACK: &str = "the transaction was rolled back since another sub request in the same transaction failed.";
const JSON_TYPE: &str = "application/json;charset=UTF-8";

fn spent(h: &Harness) -> u64 {
    let hour = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64 / 3_600_000;
    h.stored_raw(&format!("limits/credits/{hour}")).and_then(|b| String::from_utf8(b).ok()?.parse().ok()).unwrap_or(0)
}

fn leads_named(h: &Harness, name: &str) -> usize {
    h.sandbox.record_versions("Leads").iter().filter(|(id, _)| h.sandbox.record("Leads", id).is_some_and(|r| r["Last_Name"] == name)).count()
}

/// A write's outcome as the sandbox answers it for a stored record.
fn written(record: &Value, message: &str) -> Value {
    json!({ "code": "SUCCESS", "details": { "Created_By": record["Created_By"], "Created_Time": record["Created_Time"], "Modified_By": record["Modified_By"], "Modified_Time": record["Modified_Time"], "id": record["id"] }, "message": message, "status": "success" })
}

fn ran(id: &str, status: u16, body: Value) -> Value {
    json!({ "sub_request_id": id, "code": "SUCCESS", "status": "success", "message": CREATED, "status_code": status, "headers": { "content-type": JSON_TYPE }, "body": body })
}

/// Create a lead, change it through a reference to the first answer, read it back: one
/// request, rollback on by default (so parallel off), each sub-answer exact, two credits (the
/// page: all succeeded with rollback_on_fail), one call.
#[tokio::test(flavor = "multi_thread")]
async fn all_sub_requests_succeed_in_one_call() {
    let h = Harness::new().await;
    let requests = json!([
        { "method": "POST", "url": "/Leads", "body": { "data": [{ "Last_Name": "Composite", "Company": "Zylker" }] }, "sub_request_id": "lead" },
        { "method": "PUT", "url": "/crm/v8/Leads/@{lead:$.data[0].details.id}", "body": { "data": [{ "Company": "ABC" }] } },
        { "method": "GET", "url": "Leads/@{lead:$.data[0].details.id}?fields=Last_Name,Company" },
    ]);
    let outcome = h.run("crm-run-composite", json!({ "requests": requests })).await;
    let sent = json!({ "rollback_on_fail": true, "parallel_execution": false, "__composite_requests": [
        { "sub_request_id": "lead", "method": "POST", "uri": "/crm/v8/Leads", "headers": {}, "params": {}, "body": { "data": [{ "Last_Name": "Composite", "Company": "Zylker" }] } },
        { "sub_request_id": "2", "method": "PUT", "uri": "/crm/v8/Leads/@{lead:$.data[0].details.id}", "headers": {}, "params": {}, "body": { "data": [{ "Company": "ABC" }] } },
        { "sub_request_id": "3", "method": "GET", "uri": "/crm/v8/Leads/@{lead:$.data[0].details.id}", "headers": {}, "params": { "fields": "Last_Name,Company" } },
    ] });
    let request = h.only_request();
    assert_request(&request, &h.token, "POST", "/crm/v8/__composite_requests", &[], Some(sent));
    assert_eq!(request.response_status, Some(200));
    let (id, _) = h.sandbox.record_versions("Leads").into_iter().find(|(id, _)| h.sandbox.record("Leads", id).is_some_and(|r| r["Last_Name"] == "Composite")).expect("the lead was created");
    let lead = h.sandbox.record("Leads", &id).expect("lead");
    assert_eq!(lead["Company"], "ABC", "the second sub-request changed the first one's record");
    let created = json!({ "data": [{ "code": "SUCCESS", "details": { "Created_By": lead["Created_By"], "Created_Time": lead["Created_Time"], "Modified_By": lead["Created_By"], "Modified_Time": lead["Created_Time"], "id": id }, "message": "record added", "status": "success" }] });
    let expected = json!({ "rolled_back": false, "responses": [
        ran("lead", 201, created),
        ran("2", 200, json!({ "data": [written(&lead, "record updated")] })),
        ran("3", 200, json!({ "data": [{ "Last_Name": "Composite", "Company": "ABC", "id": id }] })),
    ] });
    assert_eq!(ok_of(&outcome), &expected);
    assert_eq!(h.sandbox.usage(), (1, 2), "one call; Zoho charges two credits when rollback_on_fail is on and nothing was rolled back");
    assert_eq!(spent(&h), 2, "the connection counts what Zoho charges");
}

/// The second sub-request names a record Zoho does not have: Zoho rolls the call back, the
/// step fails with every sub-answer, and the lead the first one created is gone (read back).
#[tokio::test(flavor = "multi_thread")]
async fn one_failure_rolls_back_every_sub_request() {
    let h = Harness::new().await;
    let before = h.sandbox.record_count("Leads");
    let seeded = h.sandbox.record("Leads", SEEDED).expect("seeded lead");
    let requests = json!([
        { "method": "POST", "url": "/Leads", "body": { "data": [{ "Last_Name": "Undone" }] } },
        { "method": "PUT", "url": format!("/Leads/{SEEDED}"), "body": { "data": [{ "Company": "Changed" }] } },
        { "method": "PUT", "url": format!("/Leads/{MISSING}"), "body": { "data": [{ "Company": "Nobody" }] } },
        { "method": "DELETE", "url": format!("/Leads/{SEEDED}") },
    ]);
    let outcome = h.run("crm-run-composite", json!({ "requests": requests })).await;
    let error = error_of(&outcome);
    let failed = json!({ "data": [{ "code": "INVALID_DATA", "details": { "id": MISSING }, "message": "the id given seems to be invalid", "status": "error" }] });
    let undone = |id: &str| json!({ "sub_request_id": id, "code": "ROLLBACK_PERFORMED", "status": "error", "message": ROLLED_BACK, "details": { "rollbacked_by_sub_request_index": 2 } });
    let expected = json!({
        "kind": "zoho", "status": 400, "code": "ROLLBACK_PERFORMED", "retry-after-ms": null,
        "message": "Zoho rolled back the composite request, so none of its sub-requests was applied: sub-request 2 (\"3\") answered HTTP 400 INVALID_DATA; every sub-request's answer is in details",
        "details": { "rolled_back": true, "responses": [
            undone("1"),
            undone("2"),
            ran("3", 400, failed),
            { "sub_request_id": "4", "code": "PROCESSING_STOPPED", "status": "error", "message": ROLLED_BACK, "details": { "rollbacked_by_sub_request_index": 2 } },
        ] },
    });
    assert_eq!(error, &expected);
    assert_eq!(h.requests().len(), 1);
    assert_eq!((h.sandbox.record_count("Leads"), leads_named(&h, "Undone")), (before, 0), "the created lead was rolled back");
    assert_eq!(h.sandbox.record("Leads", SEEDED), Some(seeded), "the update was rolled back");
    assert_eq!(h.sandbox.usage(), (1, 1), "a rolled-back composite call costs one credit");
}

/// Without rollback, a failing sub-request is one answer among the others: Zoho ran them all
/// (200), the lead created stays, one credit.
#[tokio::test(flavor = "multi_thread")]
async fn without_rollback_a_failure_is_reported_and_the_rest_applies() {
    let h = Harness::new().await;
    let requests = json!([
        { "method": "POST", "url": "/Leads", "body": { "data": [{ "Last_Name": "Kept" }] } },
        { "method": "PUT", "url": format!("/Leads/{MISSING}"), "body": { "data": [{ "Company": "Nobody" }] } },
    ]);
    let outcome = h.run("crm-run-composite", json!({ "requests": requests, "rollback-on-fail": false })).await;
    let request = h.only_request();
    assert_eq!(request.json().expect("body")["parallel_execution"], json!(true), "Zoho's default without rollback, sent explicitly");
    assert_eq!(request.json().expect("body")["rollback_on_fail"], json!(false));
    let result = ok_of(&outcome);
    assert_eq!(result["rolled_back"], json!(false));
    let responses = result["responses"].as_array().expect("responses");
    assert_eq!(responses.iter().map(|r| r["status_code"].as_u64()).collect::<Vec<_>>(), vec![Some(201), Some(400)]);
    assert_eq!(responses[1], ran("2", 400, json!({ "data": [{ "code": "INVALID_DATA", "details": { "id": MISSING }, "message": "the id given seems to be invalid", "status": "error" }] })));
    assert_eq!(leads_named(&h, "Kept"), 1, "nothing was rolled back");
    assert_eq!(h.sandbox.usage(), (1, 1));
}

/// Six sub-requests, a traversal, another host, a nested composite, both flags true: refused
/// before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn bad_sub_requests_are_refused_before_sending() {
    let h = Harness::new().await;
    let get = json!({ "method": "GET", "url": "/Leads" });
    let cases = [
        (json!({ "requests": vec![get.clone(); 6] }), "requests holds 6 sub-requests; Zoho's composite API takes 1 to 5: split them into several steps"),
        (
            json!({ "requests": [{ "method": "GET", "url": "/Leads/../../oauth/v2/token" }] }),
            "requests[0]: url \"/Leads/../../oauth/v2/token\" has a path Zoho would not route: no . or .. segments, spaces, backslashes, # or control characters",
        ),
        (
            json!({ "requests": [{ "method": "GET", "url": "/crm/v8/Leads/%2e%2E/x" }] }),
            "requests[0]: url \"/Leads/%2e%2E/x\" has a path Zoho would not route: no . or .. segments, spaces, backslashes, # or control characters",
        ),
        (
            json!({ "requests": [{ "method": "GET", "url": format!("{}/crm/v8/Leads", h.sandbox.url) }] }),
            "requests[0]: url must be a path such as /Leads/5725767000000524157: sub-requests run on the connection's own API domain, so no scheme or host",
        ),
        (json!({ "requests": [{ "method": "POST", "url": "/__composite_requests" }] }), "requests[0]: a sub-request cannot be a composite request itself (Zoho does not nest them)"),
        (
            json!({ "requests": [get.clone()], "rollback-on-fail": true, "parallel-execution": true }),
            "rollback-on-fail and parallel-execution cannot both be true (Zoho answers AMBIGUITY_DURING_PROCESSING): turn one of them off",
        ),
    ];
    for (input, message) in cases {
        let outcome = h.run("crm-run-composite", input.clone()).await;
        let error = error_of(&outcome);
        assert_eq!((error["kind"].as_str(), error["message"].as_str()), (Some("invalid-input"), Some(message)), "{input}");
    }
    assert_eq!(h.requests().len(), 0);
}

/// A secret echoed in a sub-answer leaves the step redacted, as every answer does.
#[tokio::test(flavor = "multi_thread")]
async fn sub_answers_are_redacted() {
    let h = Harness::new().await;
    let requests = json!([{ "method": "POST", "url": "/Leads", "body": { "data": [{ "Last_Name": h.token.clone() }] } }, { "method": "GET", "url": "/Leads", "params": { "fields": "Last_Name", "per_page": 25 } }]);
    let outcome = h.run("crm-run-composite", json!({ "requests": requests, "rollback-on-fail": false })).await;
    let text = ok_of(&outcome).to_string();
    assert!(!text.contains(&h.token) && text.contains("[redacted]"), "{text}");
}

/// The sandbox as strict as Zoho's page, asked directly (a raw request sends any body).
#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_answers_zohos_composite_errors() {
    let h = Harness::new().await;
    let get = json!({ "method": "GET", "uri": "/crm/v8/Leads", "sub_request_id": "a" });
    let raw = |data: String| json!({ "url": "/__composite_requests", "method": "POST", "data": data });
    let body = |outcome: &zoho_host::StepOutcome| -> (u64, Value) {
        let result = ok_of(outcome);
        (result["status"].as_u64().unwrap_or(0), serde_json::from_str(result["body"]["json"].as_str().unwrap_or("null")).unwrap_or(Value::Null))
    };
    // More than five: INVALID_DATA with the limit.
    let six = json!({ "__composite_requests": vec![get.clone(); 6] }).to_string();
    let (status, answer) = body(&h.run("crm-raw-request", raw(six)).await);
    assert_eq!(
        (status, answer),
        (
            400,
            json!({ "code": "INVALID_DATA", "details": { "api_name": "__composite_requests", "json_path": "$.__composite_requests", "maximum_length": 5 }, "message": "invalid data", "status": "error" })
        )
    );
    // Not JSON.
    let (status, answer) = body(&h.run("crm-raw-request", raw("{\"__composite_requests\": [".into())).await);
    assert_eq!((status, answer["code"].as_str()), (400, Some("INVALID_DATA")));
    // Zoho's files refuse that body too: it is not JSON, so it went as text.
    let refused = h.take_openapi_mismatches();
    assert!(refused.len() == 1 && refused[0].contains("content type `text/plain`"), "{refused:?}");
    // Both flags true.
    let both = json!({ "rollback_on_fail": true, "parallel_execution": true, "__composite_requests": [get.clone()] }).to_string();
    let (status, answer) = body(&h.run("crm-raw-request", raw(both)).await);
    assert_eq!((status, answer["code"].as_str()), (400, Some("AMBIGUITY_DURING_PROCESSING")));
    // A bulk delete and an upload are not among the allowed APIs; the GET still runs: 207.
    let mixed = json!({ "__composite_requests": [
        { "method": "DELETE", "uri": "/crm/v8/Leads", "params": { "ids": SEEDED } },
        get.clone(),
        { "method": "POST", "uri": format!("/crm/v8/Leads/{SEEDED}/Attachments") },
    ] })
    .to_string();
    let (status, answer) = body(&h.run("crm-raw-request", raw(mixed)).await);
    let entries = answer["__composite_requests"].as_array().cloned().unwrap_or_default();
    assert_eq!(status, 207);
    assert_eq!(entries.iter().map(|e| e["code"].as_str().unwrap_or("")).collect::<Vec<_>>(), vec!["NOT_SUPPORTED", "SUCCESS", "NOT_SUPPORTED"]);
    assert!(h.sandbox.record("Leads", SEEDED).is_some(), "the bulk delete did not run");
    // A record write takes one record in a composite request (the page's "Allowed APIs").
    let two = json!({ "__composite_requests": [{ "method": "POST", "uri": "/crm/v8/Leads", "body": { "data": [{ "Last_Name": "A" }, { "Last_Name": "B" }] } }] }).to_string();
    let (status, answer) = body(&h.run("crm-raw-request", raw(two)).await);
    assert_eq!(
        (status, &answer["__composite_requests"][0]["details"]["response"]["body"]),
        (200, &json!({ "code": "LIMIT_EXCEEDED", "details": { "by": "limit", "limit": 1 }, "message": "limit exceeded", "status": "error" }))
    );
    assert_eq!(leads_named(&h, "A"), 0);
    // A sub-request the token's scopes do not cover answers Zoho's 401 inside the composite answer.
    let narrow = h.sandbox.issue_token_with_scopes("ZohoCRM.composite_requests.CUSTOM");
    let connection = json!({ "api-domain": h.sandbox.url, "access-token": narrow });
    let outcome = h.run_as(&connection, "crm-run-composite", json!({ "requests": [get.clone()], "rollback-on-fail": false }), None).await;
    assert_eq!(ok_of(&outcome)["responses"][0]["status_code"], json!(401));
    assert_eq!(ok_of(&outcome)["responses"][0]["body"]["code"], json!("OAUTH_SCOPE_MISMATCH"));
    h.assert_zoho_openapi();
}

/// A secret echoed by the sub-request that made Zoho roll back leaves the step's error redacted;
/// an oversized requests input is refused unread.
#[tokio::test(flavor = "multi_thread")]
async fn a_rolled_back_error_is_redacted_and_huge_input_is_refused() {
    let h = Harness::new().await;
    let requests = json!([
        { "method": "POST", "url": "/Leads", "body": { "data": [{ "Last_Name": "Undone" }] } },
        { "method": "PUT", "url": "/Leads", "body": { "data": [{ "id": h.token.clone(), "Company": "x" }] } },
    ]);
    let outcome = h.run("crm-run-composite", json!({ "requests": requests })).await;
    let error = error_of(&outcome);
    assert_eq!(error["code"], "ROLLBACK_PERFORMED", "{error}");
    let text = error.to_string();
    assert!(!text.contains(&h.token), "{text}");
    assert_eq!(leads_named(&h, "Undone"), 0);
    h.sandbox.clear_requests();
    // A JSON input given as a string reaches the step as that string, quoted: 1,200,003 bytes.
    let huge = json!({ "requests": format!("[{}]", "1,".repeat(600_000) + "1") });
    let error = error_of(&h.run("crm-run-composite", huge).await).clone();
    assert_eq!((error["kind"].as_str(), error["message"].as_str()), (Some("invalid-input"), Some("requests is 1200003 bytes; at most 1048576 bytes are accepted")));
    assert_eq!(h.requests().len(), 0);
}

/// In parallel, sub-requests that refer to each other are Zoho's LOOPING_FOUND and none runs (a
/// 400: the step's error with each answer); a reference to a sub-request that failed is
/// INVALID_REFERENCE while the others run (207, a success listing it).
#[tokio::test(flavor = "multi_thread")]
async fn references_that_loop_or_read_a_failure_are_zohos_errors() {
    let h = Harness::new().await;
    let looping = json!([
        { "method": "GET", "url": "/Leads/@{b:$.data[0].id}", "sub_request_id": "a" },
        { "method": "GET", "url": "/Leads/@{a:$.data[0].id}", "sub_request_id": "b" },
    ]);
    let outcome = h.run("crm-run-composite", json!({ "requests": looping, "rollback-on-fail": false, "parallel-execution": true })).await;
    let error = error_of(&outcome);
    assert_eq!((error["kind"].as_str(), error["status"].as_u64(), error["code"].as_str()), (Some("zoho"), Some(400), Some("LOOPING_FOUND")), "{error}");
    assert_eq!(
        error["details"]["responses"][1],
        json!({ "sub_request_id": "b", "code": "LOOPING_FOUND", "status": "error", "message": "the sub requests refer to each other", "details": { "api_name": "uri", "json_path": "$.__composite_requests[1].uri", "sub_request_indexes": [0, 1] } })
    );
    h.sandbox.clear_requests();
    let failed_first = json!([
        { "method": "PUT", "url": format!("/Leads/{MISSING}"), "body": { "data": [{ "Company": "Nobody" }] }, "sub_request_id": "missing" },
        { "method": "GET", "url": "/Leads/@{missing:$.data[0].details.id}" },
        { "method": "GET", "url": format!("/Leads/{SEEDED}"), "params": { "fields": "Last_Name" } },
    ]);
    let outcome = h.run("crm-run-composite", json!({ "requests": failed_first, "rollback-on-fail": false, "parallel-execution": false })).await;
    assert_eq!(h.only_request().response_status, Some(207));
    let responses = ok_of(&outcome)["responses"].clone();
    assert_eq!(
        responses[1],
        json!({ "sub_request_id": "2", "code": "INVALID_REFERENCE", "status": "error", "message": "invalid reference", "details": { "api_name": "sub_request_id", "json_path": "$.__composite_requests[1]", "reference": "@{missing:$.data[0].details.id}" } })
    );
    assert_eq!((responses[0]["status_code"].as_u64(), responses[2]["status_code"].as_u64()), (Some(400), Some(200)));
}
