//! CRM record actions end to end: the built component, through the host, against the sandbox.

use component_tests::{assert_request, error_of, ok_of, unchecked, Fault, Harness};
use serde_json::{json, Value};

fn owner() -> Value {
    json!({ "email": "owner@sandbox.zoho", "id": "5725767000000411001", "name": "Sandbox User" })
}

/// The success item Zoho returns for a write, built from the record the sandbox stored.
fn write_success(stored: &Value, message: &str) -> Value {
    json!({
        "code": "SUCCESS",
        "details": {
            "Created_By": owner(), "Created_Time": stored["Created_Time"], "Modified_By": owner(),
            "Modified_Time": stored["Modified_Time"], "id": stored["id"],
        },
        "message": message,
        "status": "success",
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn create_record_sends_data_and_trigger_and_returns_the_outcome() {
    let h = Harness::new().await;
    let outcome = h
        .run(
            "crm-create-record",
            json!({
                "record-type": "Leads",
                "values": { "Last_Name": "Doe", "Lead_Source": "Web Download" },
                "dynamic-fields": { "Lead_Source": "Advertisement", "Company": "Zylker" },
                "trigger": ["workflow"],
            }),
        )
        .await;
    let result = ok_of(&outcome);
    let id = result["details"]["id"].as_str().expect("id");
    let stored = h.sandbox.record("Leads", id).expect("record stored");
    assert_eq!(result, &write_success(&stored, "record added"));
    // The values are checked against the module's fields first (one metadata call an hour), then
    // sent: values win over dynamic fields; dynamic fields fill in the rest.
    let requests = h.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Leads")], None);
    assert_request(
        &requests[1],
        &h.token,
        "POST",
        "/crm/v8/Leads",
        &[],
        Some(json!({ "data": [{ "Last_Name": "Doe", "Lead_Source": "Web Download", "Company": "Zylker" }], "trigger": ["workflow"] })),
    );
    assert_eq!((stored["Company"].as_str(), stored["Lead_Source"].as_str()), (Some("Zylker"), Some("Web Download")));
}

#[tokio::test(flavor = "multi_thread")]
async fn create_many_reports_each_records_outcome_on_207() {
    let h = Harness::new().await;
    let outcome = h.run_with("crm-create-record", json!({ "record-type": "Contacts", "values": [{ "Last_Name": "Ok" }, { "First_Name": "No last name" }], "trigger": [] }), unchecked()).await;
    let result = ok_of(&outcome);
    let id = result["data"][0]["details"]["id"].as_str().expect("first created");
    let stored = h.sandbox.record("Contacts", id).expect("stored");
    assert_eq!(
        result,
        &json!({ "data": [
            write_success(&stored, "record added"),
            { "code": "MANDATORY_NOT_FOUND", "details": { "api_name": "Last_Name", "json_path": "$.data[1].Last_Name" }, "message": "required field not found", "status": "error" },
        ]})
    );
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/Contacts", &[], Some(json!({ "data": [{ "Last_Name": "Ok" }, { "First_Name": "No last name" }], "trigger": [] })));
}

#[tokio::test(flavor = "multi_thread")]
async fn create_failures_keep_zohos_code_in_both_400_shapes() {
    let h = Harness::new().await;
    // data[] shape: a duplicate e-mail on Leads.
    let outcome = h.run_with("crm-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Dup", "Email": "lead1@example.com" } }), unchecked()).await;
    let error = error_of(&outcome);
    let first = h.sandbox.requests()[0].clone();
    assert_eq!(error["kind"], "conflict");
    assert_eq!(error["status"], 400);
    assert_eq!(error["code"], "DUPLICATE_DATA");
    assert_eq!(error["message"], "Email: duplicate data (record 5725767000000524157 already has this value)");
    assert_eq!(error["details"]["data"][0]["details"]["api_name"], "Email");
    assert_eq!(error["details"]["data"][0]["details"]["duplicate_record"]["module"]["api_name"], "Leads");
    assert_request(&first, &h.token, "POST", "/crm/v8/Leads", &[], Some(json!({ "data": [{ "Last_Name": "Dup", "Email": "lead1@example.com" }] })));

    // Top-level shape: an unknown module.
    let outcome = h.run_with("crm-create-record", json!({ "record-type": "Unknown_Module", "values": { "Name": "x" } }), unchecked()).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "zoho", "status": 400, "code": "INVALID_MODULE", "message": "the module name given seems to be invalid", "details": { "resource_path_index": 0 }, "retry-after-ms": null })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_are_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    let cases = [
        ("crm-create-record", json!({ "record-type": "Leads/../Deals", "values": {} }), "record-type"),
        ("crm-create-record", json!({ "record-type": "Leads", "values": "{not json" }), "values must be JSON"),
        ("crm-create-record", json!({ "record-type": "Leads", "values": [] }), "1 to 100"),
        ("crm-create-record", json!({ "record-type": "Leads", "values": vec![json!({"Last_Name":"x"}); 101] }), "1 to 100"),
        ("crm-create-record", json!({ "record-type": "Leads", "values": [1] }), "values[0]"),
        ("crm-create-record", json!({ "record-type": "Leads", "values": {}, "dynamic-fields": [1] }), "dynamic-fields"),
        ("crm-create-record", json!({ "record-type": "Leads", "values": {}, "trigger": ["everything"] }), "trigger"),
        ("crm-get-record", json!({ "record-type": "Leads", "record-id": "12ab" }), "record-id"),
        ("crm-get-record", json!({ "record-type": "Leads", "record-id": "1", "fields": "Email&x=1" }), "field"),
        ("crm-get-records", json!({ "record-type": "Leads", "fields": "Email", "page": 2, "page-token": "abc" }), "not both"),
        ("crm-get-records", json!({ "record-type": "Leads", "fields": "Email", "per-page": 201 }), "per-page"),
        ("crm-get-records", json!({ "record-type": "Leads", "fields": "Email", "per-page": 0 }), "per-page"),
        ("crm-get-records", json!({ "record-type": "Leads", "fields": "Email", "page": 0 }), "page starts at 1"),
        ("crm-get-records", json!({ "record-type": "Leads", "fields": "Email", "sort-by": "Email" }), "sort-by"),
        ("crm-get-records", json!({ "record-type": "Leads", "fields": "Email", "sort-order": "up" }), "sort-order"),
        ("crm-update-record", json!({ "record-type": "Leads", "record-id": "1", "values": [{}] }), "one JSON object"),
        ("crm-remove-record", json!({ "record-type": "", "record-id": "1" }), "record-type"),
    ];
    for (key, input, fragment) in cases {
        let outcome = h.run(key, input.clone()).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{key} {input}: {error}");
        assert!(error["message"].as_str().unwrap_or("").contains(fragment), "{key} {input}: {error}");
    }
    assert!(h.requests().is_empty(), "nothing may be sent for bad input: {:?}", h.requests());

    let no_token = json!({ "api-domain": h.sandbox.url });
    let outcome = h.run_as(&no_token, "crm-get-record", json!({ "record-type": "Leads", "record-id": "1" }), None).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert!(error_of(&outcome)["message"].as_str().unwrap_or("").contains("access-token"));
    assert!(h.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn get_record_returns_the_record_and_204_is_not_found() {
    let h = Harness::new().await;
    let id = "5725767000000524157"; // the first seeded lead
    let outcome = h.run("crm-get-record", json!({ "record-type": "Leads", "record-id": id, "fields": "Last_Name, Email" })).await;
    assert_eq!(ok_of(&outcome), &json!({ "id": id, "Last_Name": "Lead1", "Email": "lead1@example.com" }));
    assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/v8/Leads/{id}"), &[("fields", "Last_Name,Email")], None);

    h.sandbox.clear_requests();
    let outcome = h.run("crm-get-record", json!({ "record-type": "Leads", "record-id": "42" })).await;
    assert_eq!(error_of(&outcome), &json!({ "kind": "not-found", "status": 204, "code": null, "message": "no Leads record has id 42", "details": null, "retry-after-ms": null }));
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Leads/42", &[], None);

    // Without fields, the whole record as stored.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-get-record", json!({ "record-type": "Leads", "record-id": id })).await;
    assert_eq!(ok_of(&outcome), &h.sandbox.record("Leads", id).expect("seeded"));
}

#[tokio::test(flavor = "multi_thread")]
async fn get_records_with_named_fields_pages_and_sorts() {
    let h = Harness::new().await;
    let outcome = h.run("crm-get-records", json!({ "record-type": "Contacts", "fields": "Last_Name,Email", "page": 2, "per-page": 3, "sort-by": "Modified_Time", "sort-order": "asc" })).await;
    let result = ok_of(&outcome);
    assert_request(
        &h.only_request(),
        &h.token,
        "GET",
        "/crm/v8/Contacts",
        &[("fields", "id,Last_Name,Email"), ("per_page", "3"), ("sort_by", "Modified_Time"), ("sort_order", "asc"), ("page", "2")],
        None,
    );
    let expected: Vec<Value> =
        (4..=6).map(|i: u64| json!({ "id": (5725767000000524157u64 + 3 + i - 1).to_string(), "Last_Name": format!("Number{i:04}"), "Email": format!("contact{i}@example.com") })).collect();
    assert_eq!(result["data"], json!(expected));
    assert_eq!(result["info"]["page"], 2);
    assert_eq!(result["info"]["per_page"], 3);
    assert_eq!(result["info"]["count"], 3);
    assert_eq!(result["info"]["more_records"], true);
    assert!(result["info"]["next_page_token"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn get_records_without_fields_returns_whole_records_in_batches_of_50() {
    let h = Harness::new().await;
    let outcome = h.run("crm-get-records", json!({ "record-type": "Leads", "per-page": 2 })).await;
    let result = ok_of(&outcome);
    let requests = h.requests();
    // 112 listable fields with id (the subform is left out): id + 49 in the listing, the rest by
    // id in batches of id + 49 at most: no request names more than Zoho's 50 fields (a second
    // batch of 50 more plus the id was Zoho's LIMIT_EXCEEDED).
    assert_eq!(requests.len(), 4, "{requests:#?}");
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Leads")], None);
    let listed: Vec<&str> = requests[1].query_param("fields").expect("fields").split(',').collect();
    assert_eq!(listed.len(), 50);
    assert_eq!(requests[1].query_param("per_page"), Some("2"));
    assert_eq!(requests[1].query_param("page"), Some("1"));
    let ids = result["data"].as_array().expect("data").iter().map(|r| r["id"].as_str().expect("id").to_string()).collect::<Vec<_>>();
    let mut every: Vec<&str> = listed.clone();
    for (request, size) in requests[2..].iter().zip([50, 14]) {
        assert_eq!(request.query_param("ids"), Some(ids.join(",").as_str()));
        let batch: Vec<&str> = request.query_param("fields").expect("fields").split(',').collect();
        assert_eq!((batch.first(), batch.len()), (Some(&"id"), size));
        every.extend(&batch[1..]);
    }
    let cached = h.stored("crm/fields/Leads").expect("field list cached")["value"].clone();
    assert_eq!(cached.as_array().map(Vec::len), Some(112));
    assert_eq!(json!(every), cached, "every listable field, id once, in Zoho's order");
    // Each record is the stored record's listable fields (null where it holds none).
    for record in result["data"].as_array().expect("data") {
        let stored = h.sandbox.record("Leads", record["id"].as_str().expect("id")).expect("stored");
        let expected: serde_json::Map<String, Value> = every.iter().map(|f| (f.to_string(), stored.get(*f).cloned().unwrap_or(Value::Null))).collect();
        assert_eq!(record, &Value::Object(expected));
    }

    // The field list comes from the cache the second time.
    h.sandbox.clear_requests();
    let again = h.run("crm-get-records", json!({ "record-type": "Leads", "per-page": 2 })).await;
    assert_eq!(ok_of(&again)["data"], result["data"]);
    assert!(h.requests().iter().all(|r| r.path != "/crm/v8/settings/fields"));
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_past_2000_records_walk_page_tokens_and_remember_them() {
    let h = Harness::new().await;
    let page = |n: u32| json!({ "record-type": "Contacts", "fields": "Last_Name", "page": n, "per-page": 200 });
    let outcome = h.run("crm-get-records", page(12)).await;
    let result = ok_of(&outcome);
    let requests = h.requests();
    assert_eq!(requests.len(), 3, "page 10 by number, then 11 and 12 by token");
    assert_eq!(requests[0].query_param("page"), Some("10"));
    assert!(requests[1].query_param("page").is_none() && requests[1].query_param("page_token").is_some());
    assert!(requests[2].query_param("page_token").is_some());
    // Default order is id descending: page 12 holds contacts 600 down to 401.
    let names: Vec<&str> = result["data"].as_array().expect("data").iter().map(|r| r["Last_Name"].as_str().expect("name")).collect();
    assert_eq!(names.len(), 200);
    assert_eq!((names[0], names[199]), ("Number0400", "Number0201"));
    assert_eq!(result["info"]["page"], 12);

    // The next page costs one request: its token was kept.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-get-records", page(13)).await;
    let result = ok_of(&outcome);
    let request = h.only_request();
    assert!(request.query_param("page_token").is_some());
    assert_eq!(result["data"].as_array().map(Vec::len), Some(200));
    assert_eq!(result["info"]["more_records"], false);

    // Past the end: an empty page, not an error.
    let outcome = h.run("crm-get-records", page(14)).await;
    assert_eq!(ok_of(&outcome), &json!({ "data": [], "info": { "count": 0, "more_records": false, "page": 14, "per_page": 200 } }));
}

#[tokio::test(flavor = "multi_thread")]
async fn update_record_puts_the_values_and_reports_bad_ids() {
    let h = Harness::new().await;
    let id = "5725767000000524158";
    let outcome =
        h.run_with("crm-update-record", json!({ "record-type": "Leads", "record-id": id, "values": { "Lead_Status": "Contacted" }, "trigger": ["approval", "blueprint"] }), unchecked()).await;
    let stored = h.sandbox.record("Leads", id).expect("stored");
    assert_eq!(ok_of(&outcome), &write_success(&stored, "record updated"));
    assert_eq!(stored["Lead_Status"], "Contacted");
    assert_request(&h.only_request(), &h.token, "PUT", &format!("/crm/v8/Leads/{id}"), &[], Some(json!({ "data": [{ "Lead_Status": "Contacted" }], "trigger": ["approval", "blueprint"] })));

    let outcome = h.run_with("crm-update-record", json!({ "record-type": "Leads", "record-id": "99", "values": { "Lead_Status": "x" } }), unchecked()).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "not-found", "status": 400, "code": "INVALID_DATA", "message": "the id given seems to be invalid",
                 "details": { "data": [{ "code": "INVALID_DATA", "details": { "id": "99" }, "message": "the id given seems to be invalid", "status": "error" }] },
                 "retry-after-ms": null })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_record_deletes_and_reports_missing_ids() {
    let h = Harness::new().await;
    let id = "5725767000000524159";
    let outcome = h.run("crm-remove-record", json!({ "record-type": "Leads", "record-id": id })).await;
    assert_eq!(ok_of(&outcome), &json!({ "code": "SUCCESS", "details": { "id": id }, "message": "record deleted", "status": "success" }));
    assert_request(&h.only_request(), &h.token, "DELETE", &format!("/crm/v8/Leads/{id}"), &[], None);
    assert!(h.sandbox.record("Leads", id).is_none());

    let outcome = h.run("crm-remove-record", json!({ "record-type": "Leads", "record-id": id })).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_DATA");
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_follow_the_call_options() {
    let h = Harness::new().await;
    let get = json!({ "record-type": "Leads", "record-id": "5725767000000524157", "fields": "Last_Name" });
    let expected = json!({ "id": "5725767000000524157", "Last_Name": "Lead1" });

    // 5xx twice, then the real answer: two retries succeed.
    h.sandbox.inject(Fault::status(2, 503, r#"{"code":"INTERNAL_ERROR","message":"down","status":"error"}"#));
    let outcome = h.run_with("crm-get-record", get.clone(), Some(json!({ "max-retries": 2, "retry-delay-ms": 10, "exponential-backoff": true }))).await;
    assert_eq!(ok_of(&outcome), &expected);
    assert_eq!(h.requests().len(), 3);

    // Without retries the 5xx is the answer.
    h.sandbox.clear_requests();
    h.sandbox.inject(Fault::status(1, 500, r#"{"code":"INTERNAL_ERROR","details":{},"message":"Internal Server Error","status":"error"}"#));
    let outcome = h.run("crm-get-record", get.clone()).await;
    assert_eq!(error_of(&outcome)["code"], "INTERNAL_ERROR");
    assert_eq!(h.requests().len(), 1);

    // A 4xx is retried only with retry-on-all-errors.
    h.sandbox.clear_requests();
    h.sandbox.inject(Fault::status(1, 400, r#"{"code":"INVALID_DATA","details":{},"message":"flaky","status":"error"}"#));
    let outcome = h.run_with("crm-get-record", get.clone(), Some(json!({ "max-retries": 3 }))).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_DATA");
    assert_eq!(h.requests().len(), 1);
    h.sandbox.clear_requests();
    h.sandbox.inject(Fault::status(1, 400, r#"{"code":"INVALID_DATA","details":{},"message":"flaky","status":"error"}"#));
    let outcome = h.run_with("crm-get-record", get.clone(), Some(json!({ "max-retries": 3, "retry-on-all-errors": true }))).await;
    assert_eq!(ok_of(&outcome), &expected);
    assert_eq!(h.requests().len(), 2);

    // A 429 not retried is rate-limited with Zoho's Retry-After.
    h.sandbox.clear_requests();
    h.sandbox.inject(Fault::status(1, 429, r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"too many requests","status":"error"}"#).header("retry-after", "7"));
    let outcome = h.run("crm-get-record", get.clone()).await;
    assert_eq!(error_of(&outcome), &json!({ "kind": "rate-limited", "status": 429, "code": "TOO_MANY_REQUESTS", "message": "too many requests", "details": {}, "retry-after-ms": 7000 }));
    // A Retry-After beyond what a step should sleep through is handed back, not waited out.
    h.sandbox.clear_requests();
    h.sandbox.inject(Fault::status(1, 429, r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"too many requests","status":"error"}"#).header("retry-after", "120"));
    let outcome = h.run_with("crm-get-record", get.clone(), Some(json!({ "max-retries": 3 }))).await;
    assert_eq!(error_of(&outcome)["retry-after-ms"], 120000);
    assert_eq!(h.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_drops_and_proxy_pages_are_typed_errors() {
    let h = Harness::new().await;
    let get = json!({ "record-type": "Leads", "record-id": "5725767000000524157" });

    h.sandbox.inject(Fault::status(1, 200, "{}").delayed(std::time::Duration::from_millis(1500)));
    let outcome = h.run_with("crm-get-record", get.clone(), Some(json!({ "timeout-ms": 200 }))).await;
    assert_eq!(error_of(&outcome)["kind"], "timeout");
    assert_eq!(error_of(&outcome)["message"], "Zoho did not answer within 200 ms");

    h.sandbox.inject(Fault::status(1, 200, "").dropped());
    let outcome = h.run("crm-get-record", get.clone()).await;
    assert_eq!(error_of(&outcome)["kind"], "transport");

    h.sandbox.inject(Fault::status(1, 502, "<html><body>Bad Gateway</body></html>").header("content-type", "text/html"));
    let outcome = h.run("crm-get-record", get.clone()).await;
    let error = error_of(&outcome);
    assert_eq!((error["kind"].as_str(), error["status"].as_u64()), (Some("zoho"), Some(502)));
    assert!(error["message"].as_str().unwrap_or("").contains("non-JSON"), "{error}");

    h.sandbox.inject(Fault::status(1, 200, r#"{"data":[{"id":"1""#));
    let outcome = h.run("crm-get-record", get).await;
    assert!(error_of(&outcome)["message"].as_str().unwrap_or("").contains("not JSON"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_is_unauthorized() {
    let h = Harness::new().await;
    h.sandbox.revoke_token(&h.token);
    let outcome = h.run("crm-get-record", json!({ "record-type": "Leads", "record-id": "5725767000000524157" })).await;
    assert_eq!(error_of(&outcome), &json!({ "kind": "unauthorized", "status": 401, "code": "INVALID_TOKEN", "message": "invalid oauth token", "details": {}, "retry-after-ms": null }));
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_logs_each_exchange_without_secrets() {
    let h = Harness::new().await;
    let connection = h.refresh_connection();
    let secret = zoho_sandbox::CLIENT_SECRET;
    h.sandbox.inject(Fault::status(1, 503, &format!(r#"{{"code":"INTERNAL_ERROR","message":"echo {secret}","status":"error"}}"#)).on_path("/crm/"));
    let outcome =
        h.run_as(&connection, "crm-get-record", json!({ "record-type": "Leads", "record-id": "5725767000000524157", "fields": "Email" }), Some(json!({ "debug": true, "max-retries": 1 }))).await;
    ok_of(&outcome);
    let log = &outcome.stderr;
    let url = format!("{}/crm/v8/Leads/5725767000000524157?fields=Email", h.sandbox.url);
    assert!(log.contains(&format!("zoho: POST {}/oauth/v2/token -> 200 in ", h.sandbox.url)), "{log}");
    assert!(log.contains(&format!("zoho: GET {url} -> 503 in ")), "{log}");
    assert!(log.contains(&format!("zoho: GET {url} -> 200 in ")) && log.contains("(retry 1)"), "{log}");
    assert!(log.contains("Zoho-oauthtoken [redacted]") && log.contains("echo [redacted]"), "{log}");
    let mut hidden = vec![secret.to_string(), zoho_sandbox::REFRESH_TOKEN.to_string()];
    hidden.extend(h.sandbox.issued_tokens());
    for value in &hidden {
        assert!(!log.contains(value.as_str()), "secret leaked into the debug log: {log}");
    }

    // An error that echoes the token or a secret is scrubbed too.
    let used = h.requests().into_iter().rev().find_map(|r| r.header("authorization").map(str::to_string)).expect("an API request");
    let token = used.trim_start_matches("Zoho-oauthtoken ").to_string();
    h.sandbox.inject(Fault::status(1, 400, &format!(r#"{{"code":"INVALID_DATA","details":{{"token":"{token}"}},"message":"bad {secret}","status":"error"}}"#)).on_path("/crm/"));
    let outcome = h.run_as(&connection, "crm-get-record", json!({ "record-type": "Leads", "record-id": "5725767000000524157" }), None).await;
    let text = error_of(&outcome).to_string();
    assert!(!text.contains(&token) && !text.contains(secret), "{text}");
    assert_eq!(error_of(&outcome)["message"], "bad [redacted]");
    assert_eq!(error_of(&outcome)["details"], json!({ "token": "[redacted]" }));
}

/// One situation, one kind: a record id Zoho does not have is `not-found` for every action that
/// names one, however Zoho words it (an empty answer for get, "the id given seems to be invalid"
/// for update and delete, "the related id given seems to be invalid" for notes and attachments).
#[tokio::test(flavor = "multi_thread")]
async fn a_record_id_zoho_does_not_have_is_not_found_for_every_action() {
    let h = Harness::new().await;
    let missing = "4242424242";
    for (action, input) in [
        ("crm-get-record", json!({ "record-type": "Leads", "record-id": missing })),
        ("crm-update-record", json!({ "record-type": "Leads", "record-id": missing, "values": { "Lead_Status": "Contacted" } })),
        ("crm-remove-record", json!({ "record-type": "Leads", "record-id": missing })),
        ("crm-add-note", json!({ "record-type": "Leads", "record-id": missing, "note-content": "x" })),
        ("crm-add-attachment", json!({ "record-type": "Leads", "record-id": missing, "file": "numbers", "file-name": "n.csv" })),
        ("crm-list-attachments", json!({ "record-type": "Leads", "record-id": missing })),
    ] {
        let before = h.sandbox.requests().len();
        let outcome = h.run(action, input).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "not-found", "{action}: {error}");
        let sent: Vec<_> = h.sandbox.requests().into_iter().skip(before).filter(|r| r.path != "/crm/v8/settings/fields").collect();
        assert_eq!(sent.len(), 1, "{action} sends one request beside the field checks' metadata: {sent:#?}");
    }
}

/// The field checks, as a builder meets them: a misspelt field, a picklist value Zoho does not
/// list, a text past the field's length, a missing mandatory field on create and a read-only
/// field are each named with why, and nothing is written (only the module's metadata is read,
/// once for all four steps).
#[tokio::test(flavor = "multi_thread")]
async fn field_checks_name_each_bad_field_and_send_nothing() {
    let h = Harness::new().await;
    let count = h.sandbox.record_count("Leads");
    let long = "x".repeat(256);
    let cases = [
        ("crm-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe", "Titel": "CEO" } }), "Titel is not a field of the module"),
        (
            "crm-create-record",
            json!({ "record-type": "Leads", "values": { "Last_Name": "Doe", "Lead_Status": "Hot" } }),
            "Lead_Status has \"Hot\", not one of its picklist values (-None-, Attempted to Contact, Contact in Future, Contacted, Junk Lead, Lost Lead, Not Contacted, Pre-Qualified, Not Qualified, Qualified)",
        ),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe", "Company": long } }), "Company is 256 characters; the field takes at most 200"),
        ("crm-create-record", json!({ "record-type": "Leads", "values": { "First_Name": "Jane" } }), "Last_Name is required to create a record"),
        (
            "crm-update-record",
            json!({ "record-type": "Leads", "record-id": "5725767000000524157", "values": { "Created_Time": "2024-01-01T00:00:00+00:00" } }),
            "Created_Time is read-only (datetime): leave it out",
        ),
    ];
    for (action, input, says) in cases {
        let outcome = h.run(action, input.clone()).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{input}");
        assert_eq!(error["message"], format!("Leads: {says}. Nothing was sent. Field names are API names (crm-describe-module lists them); the call option check-fields: false skips this check"));
    }
    assert_eq!(h.sandbox.record_count("Leads"), count);
    let requests = h.requests();
    assert_eq!(requests.len(), 1, "one metadata call for the module, cached for the hour: {requests:#?}");
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Leads")], None);
    // The same misspelt field with the checks off reaches Zoho, which drops the value silently.
    let outcome = h.run_with("crm-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe", "Titel": "CEO" } }), unchecked()).await;
    let id = ok_of(&outcome)["details"]["id"].as_str().expect("id").to_string();
    assert_eq!(h.sandbox.record("Leads", &id).expect("stored").get("Titel"), None);
}
