//! Notes and tags end to end: the built component, through the host, against the sandbox.

use component_tests::{assert_request, error_of, ok_of, Fault, Harness};
use serde_json::{json, Value};

fn owner() -> Value {
    json!({ "email": "owner@sandbox.zoho", "id": "5725767000000411001", "name": "Sandbox User" })
}

fn message_of(outcome: &zoho_host::StepOutcome) -> String {
    error_of(outcome)["message"].as_str().unwrap_or("").to_string()
}

/// A fresh lead to tag.
fn a_lead(h: &Harness) -> String {
    h.sandbox.create_record("Leads", json!({ "Last_Name": "Tagged", "Email": "tagged@example.com" }))
}

#[tokio::test(flavor = "multi_thread")]
async fn add_note_stores_it_under_the_record_and_returns_the_outcome() {
    let h = Harness::new().await;
    let lead = a_lead(&h);
    let notes = h.sandbox.record_count("Notes");
    let input = json!({ "record-type": "Leads", "record-id": lead, "note-title": "Call", "note-content": "Spoke to Jane ☎\nFollow up in May" });
    let outcome = h.run("crm-add-note", input).await;
    let result = ok_of(&outcome);
    let id = result["details"]["id"].as_str().expect("note id");
    let stored = h.sandbox.record("Notes", id).expect("note stored");
    assert_eq!(
        result,
        &json!({ "code": "SUCCESS", "details": { "Created_By": owner(), "Created_Time": stored["Created_Time"], "Modified_By": owner(),
            "Modified_Time": stored["Modified_Time"], "id": id }, "message": "record added", "status": "success" })
    );
    assert_eq!(stored["Parent_Id"], json!({ "module": { "api_name": "Leads" }, "id": lead }));
    assert_eq!((stored["Note_Title"].as_str(), stored["Note_Content"].as_str()), (Some("Call"), Some("Spoke to Jane ☎\nFollow up in May")));
    assert_request(
        &h.only_request(),
        &h.token,
        "POST",
        &format!("/crm/v8/Leads/{lead}/Notes"),
        &[],
        Some(json!({ "data": [{ "Note_Title": "Call", "Note_Content": "Spoke to Jane ☎\nFollow up in May" }] })),
    );
    assert_eq!(h.sandbox.record_count("Notes"), notes + 1);

    // Without a title (or a blank one) only the content is sent.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-add-note", json!({ "record-type": "Leads", "record-id": lead, "note-title": "  ", "note-content": "x" })).await;
    assert_eq!(ok_of(&outcome)["message"], "record added");
    assert_request(&h.only_request(), &h.token, "POST", &format!("/crm/v8/Leads/{lead}/Notes"), &[], Some(json!({ "data": [{ "Note_Content": "x" }] })));
}

#[tokio::test(flavor = "multi_thread")]
async fn add_note_errors_keep_zohos_shapes() {
    let h = Harness::new().await;
    let outcome = h.run("crm-add-note", json!({ "record-type": "Leads", "record-id": "42", "note-content": "x" })).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "not-found", "status": 400, "code": "INVALID_DATA", "message": "the related id given seems to be invalid",
            "details": { "data": [{ "code": "INVALID_DATA", "details": { "id": "42" }, "message": "the related id given seems to be invalid", "status": "error" }] },
            "retry-after-ms": null })
    );
    let outcome = h.run("crm-add-note", json!({ "record-type": "Nowhere", "record-id": "42", "note-content": "x" })).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "zoho", "status": 400, "code": "INVALID_MODULE", "message": "the module name given seems to be invalid", "details": { "resource_path_index": 0 }, "retry-after-ms": null })
    );
    h.sandbox.revoke_token(&h.token);
    let outcome = h.run("crm-add-note", json!({ "record-type": "Leads", "record-id": "42", "note-content": "x" })).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["status"].as_u64()), (Some("unauthorized"), Some(401)));
    assert_eq!(h.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn add_tags_tags_each_record_and_reports_each_outcome() {
    let h = Harness::new().await;
    let (a, b) = (a_lead(&h), h.sandbox.create_record("Leads", json!({ "Last_Name": "Other" })));
    let input = json!({ "record-type": "Leads", "record-ids": [a, b, a], "tags": ["Hot", " VIP ", "Hot", "日本"] });
    let outcome = h.run("crm-add-tags", input).await;
    let stored = h.sandbox.record("Leads", &a).expect("lead");
    let tags = stored["Tag"].clone();
    assert_eq!(tags.as_array().map(Vec::len), Some(3));
    assert_eq!(
        ok_of(&outcome),
        &json!({ "data": [
            { "code": "SUCCESS", "details": { "id": a, "tags": tags }, "message": "tags updated successfully", "status": "success" },
            { "code": "SUCCESS", "details": { "id": b, "tags": tags }, "message": "tags updated successfully", "status": "success" },
        ]})
    );
    assert_eq!(tags[0]["name"], "Hot");
    // Repeats are dropped and over_write is not sent when not given.
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/Leads/actions/add_tags", &[], Some(json!({ "tags": [{ "name": "Hot" }, { "name": "VIP" }, { "name": "日本" }], "ids": [a, b] })));

    // over_write replaces; an unknown id is listed as failed beside the success (207).
    h.sandbox.clear_requests();
    let outcome = h.run("crm-add-tags", json!({ "record-type": "Leads", "record-ids": [a, "42"], "tags": ["Cold"], "over-write": true })).await;
    let tags = h.sandbox.record("Leads", &a).expect("lead")["Tag"].clone();
    assert_eq!(tags.as_array().map(|t| t.iter().map(|t| t["name"].clone()).collect::<Vec<_>>()), Some(vec![json!("Cold")]));
    assert_eq!(
        ok_of(&outcome),
        &json!({ "data": [
            { "code": "SUCCESS", "details": { "id": a, "tags": tags }, "message": "tags updated successfully", "status": "success" },
            { "code": "INVALID_DATA", "details": { "api_name": "ids", "json_path": "$.ids[1]" }, "message": "invalid data", "status": "error" },
        ]})
    );
    let request = h.only_request();
    assert_eq!(request.response_status, Some(207));
    assert_request(&request, &h.token, "POST", "/crm/v8/Leads/actions/add_tags", &[], Some(json!({ "tags": [{ "name": "Cold" }], "ids": [a, "42"], "over_write": true })));
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_tags_untags_and_all_failed_is_a_zoho_error_with_details() {
    let h = Harness::new().await;
    let a = a_lead(&h);
    let outcome = h.run("crm-add-tags", json!({ "record-type": "Leads", "record-ids": [a], "tags": ["Hot", "VIP"] })).await;
    ok_of(&outcome);
    h.sandbox.clear_requests();
    let outcome = h.run("crm-remove-tags", json!({ "record-type": "Leads", "record-ids": [a], "tags": ["Hot"] })).await;
    let tags = h.sandbox.record("Leads", &a).expect("lead")["Tag"].clone();
    assert_eq!(tags.as_array().map(|t| t.iter().map(|t| t["name"].clone()).collect::<Vec<_>>()), Some(vec![json!("VIP")]));
    assert_eq!(ok_of(&outcome), &json!({ "data": [{ "code": "SUCCESS", "details": { "id": a, "tags": tags }, "message": "tags removed successfully", "status": "success" }] }));
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/Leads/actions/remove_tags", &[], Some(json!({ "tags": [{ "name": "Hot" }], "ids": [a] })));

    let outcome = h.run("crm-remove-tags", json!({ "record-type": "Leads", "record-ids": ["41", "42"], "tags": ["Hot"] })).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "zoho", "status": 400, "code": "INVALID_DATA", "message": "invalid data (and 1 more record results in details)",
            "details": { "data": [
                { "code": "INVALID_DATA", "details": { "api_name": "ids", "json_path": "$.ids[0]" }, "message": "invalid data", "status": "error" },
                { "code": "INVALID_DATA", "details": { "api_name": "ids", "json_path": "$.ids[1]" }, "message": "invalid data", "status": "error" },
            ] },
            "retry-after-ms": null })
    );
    let outcome = h.run("crm-add-tags", json!({ "record-type": "Nowhere", "record-ids": ["41"], "tags": ["Hot"] })).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_MODULE");
    h.sandbox.revoke_token(&h.token);
    let outcome = h.run("crm-add-tags", json!({ "record-type": "Leads", "record-ids": ["41"], "tags": ["Hot"] })).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["status"].as_u64()), (Some("unauthorized"), Some(401)));
    assert_eq!(h.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_carries_at_most_ten_tags_as_in_zoho() {
    let h = Harness::new().await;
    let a = a_lead(&h);
    let ten: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    ok_of(&h.run("crm-add-tags", json!({ "record-type": "Leads", "record-ids": [a], "tags": ten })).await);
    let outcome = h.run("crm-add-tags", json!({ "record-type": "Leads", "record-ids": [a], "tags": ["eleventh"] })).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_DATA");
    assert_eq!(error_of(&outcome)["details"]["data"][0]["details"], json!({ "api_name": "tags", "json_path": "$.tags" }));
    assert_eq!(h.sandbox.record("Leads", &a).expect("lead")["Tag"].as_array().map(Vec::len), Some(10), "the eleventh tag was not added");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_are_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    let ids = |n: usize| (0..n).map(|i| (1_000 + i).to_string()).collect::<Vec<_>>();
    let tags_input = |ids: Value, tags: Value| json!({ "record-type": "Leads", "record-ids": ids, "tags": tags });
    let cases = [
        ("crm-add-note", json!({ "record-type": "Leads", "record-id": "1", "note-content": "" }), "note-content is empty"),
        ("crm-add-note", json!({ "record-type": "Leads", "record-id": "1", "note-content": " \n\t" }), "note-content is empty"),
        ("crm-add-note", json!({ "record-type": "Leads", "record-id": "1", "note-content": "x".repeat((1 << 20) + 1) }), "Zoho keeps at most 65535 in a note"),
        ("crm-add-note", json!({ "record-type": "Le ads", "record-id": "1", "note-content": "x" }), "record-type"),
        ("crm-add-note", json!({ "record-type": "Leads", "record-id": "1/../2", "note-content": "x" }), "record-id"),
        ("crm-add-tags", tags_input(json!([]), json!(["Hot"])), "record-ids is empty"),
        ("crm-add-tags", tags_input(json!(ids(501)), json!(["Hot"])), "501 ids"),
        ("crm-remove-tags", tags_input(json!(ids(501)), json!(["Hot"])), "501 ids"),
        ("crm-add-tags", tags_input(json!(["1", "x2"]), json!(["Hot"])), "record-id"),
        ("crm-add-tags", tags_input(json!(["18446744073709551616"]), json!(["Hot"])), "record-id"),
        ("crm-add-tags", tags_input(json!(["1"]), json!([])), "tags is empty"),
        ("crm-add-tags", tags_input(json!(["1"]), json!([" "])), "tag name is empty"),
        ("crm-add-tags", tags_input(json!(["1"]), json!(["x".repeat(26)])), "at most 25"),
        ("crm-add-tags", tags_input(json!(["1"]), json!(["Hot\nCold"])), "U+000A"),
        ("crm-add-tags", tags_input(json!(["1"]), json!(["Hot\u{202e}"])), "U+202E"),
        ("crm-add-tags", tags_input(json!(["1"]), json!(["\u{200b}"])), "U+200B"),
        ("crm-remove-tags", tags_input(json!(["1"]), json!(["a\u{0}"])), "U+0000"),
        ("crm-add-tags", tags_input(json!(["1"]), json!((0..11).map(|i| format!("t{i}")).collect::<Vec<_>>())), "at most 10"),
        ("crm-add-tags", json!({ "record-type": "Leads?x=1", "record-ids": ["1"], "tags": ["Hot"] }), "record-type"),
    ];
    for (key, input, fragment) in cases {
        let outcome = h.run(key, input.clone()).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{key}: {error}");
        assert!(message_of(&outcome).contains(fragment), "{key} {fragment}: {error}");
    }
    // 500 ids and a 25-character tag are within Zoho's limits: one request.
    let outcome = h.run("crm-add-tags", tags_input(json!(ids(500)), json!(["x".repeat(25)]))).await;
    assert_eq!(error_of(&outcome)["details"]["data"].as_array().map(Vec::len), Some(500), "every unknown id reported");
    assert_eq!(h.requests().len(), 1, "only the in-limit call was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_tag_and_note_answers_are_typed_errors_and_secrets_are_redacted() {
    let h = Harness::new().await;
    // 10,000 outcomes for 2 ids: refused unread.
    let items = vec![r#"{"code":"SUCCESS","status":"success"}"#; 10_000].join(",");
    h.sandbox.inject(Fault::status(1, 200, &format!(r#"{{"data":[{items}]}}"#)).on_path("/crm/"));
    let outcome = h.run("crm-add-tags", json!({ "record-type": "Leads", "record-ids": ["1", "2"], "tags": ["Hot"] })).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["status"].as_u64()), (Some("zoho"), Some(200)));
    assert!(message_of(&outcome).contains("more than 2 items"), "{}", message_of(&outcome));

    // Outcomes echoing the access token reach the caller redacted.
    let echo = format!(r#"{{"data":[{{"code":"SUCCESS","details":{{"id":"1","tags":[{{"name":"{}","id":"2"}}]}},"message":"tags updated successfully","status":"success"}}]}}"#, h.token);
    h.sandbox.inject(Fault::status(1, 200, &echo).on_path("/crm/"));
    let outcome = h.run("crm-add-tags", json!({ "record-type": "Leads", "record-ids": ["1"], "tags": ["Hot"] })).await;
    assert_eq!(ok_of(&outcome)["data"][0]["details"]["tags"][0]["name"], "[redacted]");
    let echo = format!(r#"{{"data":[{{"code":"INVALID_DATA","details":{{"id":"{0}"}},"message":"bad {0}","status":"error"}}]}}"#, h.token);
    h.sandbox.inject(Fault::status(1, 400, &echo).on_path("/crm/"));
    let outcome = h.run("crm-add-note", json!({ "record-type": "Leads", "record-id": "1", "note-content": "x" })).await;
    assert_eq!(message_of(&outcome), "bad [redacted]");
    assert!(!error_of(&outcome).to_string().contains(&h.token) && !outcome.stderr.contains(&h.token));
    // A note answer of a bare array is a typed error.
    h.sandbox.inject(Fault::status(1, 201, "[]").on_path("/crm/"));
    let outcome = h.run("crm-add-note", json!({ "record-type": "Leads", "record-id": "1", "note-content": "x" })).await;
    assert_eq!(error_of(&outcome)["kind"], "zoho");
    assert_eq!(h.requests().len(), 4);
}
