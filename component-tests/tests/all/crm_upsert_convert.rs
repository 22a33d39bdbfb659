//! Upsert (find or create) and lead conversion end to end: the built component, through the
//! host, against the sandbox.

use component_tests::{assert_request, error_of, ok_of, unchecked, Fault, Harness};
use serde_json::{json, Value};

fn owner() -> Value {
    json!({ "email": "owner@sandbox.zoho", "id": "5725767000000411001", "name": "Sandbox User" })
}

/// An upsert outcome as Zoho sends it, built from the record the sandbox stored.
fn upserted(stored: &Value, action: &str, duplicate_field: Value) -> Value {
    json!({
        "code": "SUCCESS",
        "duplicate_field": duplicate_field,
        "action": action,
        "details": {
            "Created_By": owner(), "Created_Time": stored["Created_Time"], "Modified_By": owner(),
            "Modified_Time": stored["Modified_Time"], "id": stored["id"],
        },
        "message": if action == "insert" { "record added" } else { "record updated" },
        "status": "success",
    })
}

fn message_of(outcome: &zoho_host::StepOutcome) -> String {
    error_of(outcome)["message"].as_str().unwrap_or("").to_string()
}

/// The find-or-create story: the same e-mail twice inserts once, then updates that record.
#[tokio::test(flavor = "multi_thread")]
async fn upserting_the_same_email_twice_inserts_then_updates_the_same_record() {
    let h = Harness::new().await;
    let before = h.sandbox.record_count("Leads");
    let first = h.run_with("crm-upsert-records", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe", "Email": "jane@zylker.com" } }), unchecked()).await;
    let inserted = ok_of(&first).clone();
    let id = inserted["details"]["id"].as_str().expect("id").to_string();
    let stored = h.sandbox.record("Leads", &id).expect("stored");
    assert_eq!(inserted, upserted(&stored, "insert", Value::Null));
    // Without duplicate-check-fields none is sent: Zoho uses the module's unique fields.
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/Leads/upsert", &[], Some(json!({ "data": [{ "Last_Name": "Doe", "Email": "jane@zylker.com" }] })));
    assert_eq!(h.sandbox.record_count("Leads"), before + 1);

    h.sandbox.clear_requests();
    let input = json!({
        "record-type": "Leads",
        "values": { "Last_Name": "Doe-Smith", "Email": "jane@zylker.com" },
        "duplicate-check-fields": ["Email"],
        "trigger": [],
    });
    let second = h.run_with("crm-upsert-records", input, unchecked()).await;
    let stored = h.sandbox.record("Leads", &id).expect("still stored");
    assert_eq!(ok_of(&second), &upserted(&stored, "update", json!("Email")));
    assert_eq!(stored["Last_Name"], "Doe-Smith");
    assert_request(
        &h.only_request(),
        &h.token,
        "POST",
        "/crm/v8/Leads/upsert",
        &[],
        Some(json!({ "data": [{ "Last_Name": "Doe-Smith", "Email": "jane@zylker.com" }], "duplicate_check_fields": ["Email"], "trigger": [] })),
    );
    assert_eq!(h.sandbox.record_count("Leads"), before + 1, "the second upsert found the record instead of creating one");

    // An empty list is the same as none: nothing is sent for it.
    h.sandbox.clear_requests();
    let third = h.run_with("crm-upsert-records", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe", "Email": "jane@zylker.com" }, "duplicate-check-fields": [] }), unchecked()).await;
    assert_eq!(ok_of(&third)["action"], "update");
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/Leads/upsert", &[], Some(json!({ "data": [{ "Last_Name": "Doe", "Email": "jane@zylker.com" }] })));
}

/// Contacts match on Email and Accounts on Account_Name, Zoho's system-defined fields.
#[tokio::test(flavor = "multi_thread")]
async fn system_defined_fields_match_contacts_by_email_and_accounts_by_name() {
    let h = Harness::new().await;
    let outcome = h.run("crm-upsert-records", json!({ "record-type": "Accounts", "values": { "Account_Name": "Zylker", "Website": "https://zylker.com" } })).await;
    assert_eq!((ok_of(&outcome)["action"].as_str(), ok_of(&outcome)["duplicate_field"].as_str()), (Some("update"), Some("Account_Name")));
    let outcome = h.run("crm-upsert-records", json!({ "record-type": "Contacts", "values": { "Last_Name": "Renamed", "Email": "contact7@example.com" } })).await;
    let id = ok_of(&outcome)["details"]["id"].as_str().expect("id");
    assert_eq!((ok_of(&outcome)["action"].as_str(), ok_of(&outcome)["duplicate_field"].as_str()), (Some("update"), Some("Email")));
    assert_eq!(h.sandbox.record("Contacts", id).expect("contact")["Email"], "contact7@example.com");
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_many_reports_each_records_outcome_on_207() {
    let h = Harness::new().await;
    let input = json!({
        "record-type": "Leads",
        "values": [{ "Last_Name": "Updated", "Email": "lead1@example.com" }, { "Email": "nobody@zylker.com" }],
        "dynamic-fields": { "Lead_Source": "Web" },
    });
    let outcome = h.run_with("crm-upsert-records", input, unchecked()).await;
    let result = ok_of(&outcome);
    let id = result["data"][0]["details"]["id"].as_str().expect("id");
    let stored = h.sandbox.record("Leads", id).expect("stored");
    assert_eq!(
        result,
        &json!({ "data": [
            upserted(&stored, "update", json!("Email")),
            { "code": "MANDATORY_NOT_FOUND", "details": { "api_name": "Last_Name", "json_path": "$.data[1].Last_Name" }, "message": "required field not found", "status": "error" },
        ]})
    );
    assert_eq!(h.requests()[0].response_status, Some(207));
    assert_request(
        &h.only_request(),
        &h.token,
        "POST",
        "/crm/v8/Leads/upsert",
        &[],
        Some(json!({ "data": [{ "Last_Name": "Updated", "Email": "lead1@example.com", "Lead_Source": "Web" }, { "Email": "nobody@zylker.com", "Lead_Source": "Web" }] })),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_failures_keep_zohos_code_in_both_400_shapes_and_401() {
    let h = Harness::new().await;
    // data[] shape: the one record lacks the mandatory field.
    let outcome = h.run_with("crm-upsert-records", json!({ "record-type": "Leads", "values": { "Email": "new@zylker.com" } }), unchecked()).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "zoho", "status": 400, "code": "MANDATORY_NOT_FOUND", "message": "Last_Name is required",
            "details": { "data": [{ "code": "MANDATORY_NOT_FOUND", "details": { "api_name": "Last_Name", "json_path": "$.data[0].Last_Name" }, "message": "required field not found", "status": "error" }] },
            "retry-after-ms": null })
    );
    // Top-level shape: a duplicate-check field that is not one of the module's unique fields.
    let outcome = h.run_with("crm-upsert-records", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe" }, "duplicate-check-fields": ["Last_Name"] }), unchecked()).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "zoho", "status": 400, "code": "INVALID_DATA", "message": "invalid data",
            "details": { "api_name": "Last_Name", "json_path": "$.duplicate_check_fields[0]" }, "retry-after-ms": null })
    );
    let outcome = h.run_with("crm-upsert-records", json!({ "record-type": "Unknown_Module", "values": { "Name": "x" } }), unchecked()).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_MODULE");
    assert_eq!(h.requests().len(), 3);

    h.sandbox.revoke_token(&h.token);
    let outcome = h.run_with("crm-upsert-records", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe" } }), unchecked()).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["status"].as_u64(), error_of(&outcome)["code"].as_str()), (Some("unauthorized"), Some(401), Some("INVALID_TOKEN")));
    assert_eq!(h.requests().len(), 4, "a connection without a refresh token cannot renew: one request");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_are_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    let two_mib = format!(r#"{{"Deal_Name":"{}"}}"#, "d".repeat(2 << 20));
    let cases = [
        ("crm-upsert-records", json!({ "record-type": "Leads/../Deals", "values": {} }), "record-type"),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": vec![json!({ "Last_Name": "x" }); 101] }), "1 to 100"),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": [] }), "1 to 100"),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": "{not json" }), "values must be JSON"),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": {}, "duplicate-check-fields": ["Email,Phone"] }), "one field API name per entry"),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": {}, "duplicate-check-fields": ["Émail"] }), "not a field API name"),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": {}, "duplicate-check-fields": ["Email\u{202e}"] }), "not a field API name"),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": {}, "duplicate-check-fields": ["Email\u{0}"] }), "not a field API name"),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": {}, "duplicate-check-fields": ["Email&x=1"] }), "not a field API name"),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": {}, "duplicate-check-fields": (0..11).map(|i| format!("F{i}")).collect::<Vec<_>>() }), "at most 10"),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": {}, "trigger": ["everything"] }), "trigger"),
        ("crm-convert-lead", json!({ "record-id": "12ab" }), "record-id"),
        ("crm-convert-lead", json!({ "record-id": "" }), "record-id"),
        ("crm-convert-lead", json!({ "record-id": "99999999999999999999" }), "record-id"),
        ("crm-convert-lead", json!({ "record-id": "1", "accounts": "x" }), "accounts"),
        ("crm-convert-lead", json!({ "record-id": "1", "contacts": "1;2" }), "contacts"),
        ("crm-convert-lead", json!({ "record-id": "1", "assign-to": "me@zylker.com" }), "assign-to"),
        ("crm-convert-lead", json!({ "record-id": "1", "deal": "[1]" }), "deal must be a JSON object"),
        ("crm-convert-lead", json!({ "record-id": "1", "deal": "{\"Deal_Name\":" }), "deal must be a JSON object"),
        ("crm-convert-lead", json!({ "record-id": "1", "deal": two_mib }), "deal is 2097168 bytes"),
    ];
    for (key, input, fragment) in cases {
        let outcome = h.run(key, input.clone()).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{key}: {error}");
        assert!(message_of(&outcome).contains(fragment), "{key} {fragment}: {error}");
    }
    assert!(h.requests().is_empty(), "nothing may be sent for bad input: {:?}", h.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_upsert_answers_are_typed_errors_and_secrets_are_redacted() {
    let h = Harness::new().await;
    // 10,000 outcomes for the one record sent: refused unread, no trap.
    let items = vec![r#"{"code":"SUCCESS","status":"success"}"#; 10_000].join(",");
    h.sandbox.inject(Fault::status(1, 200, &format!(r#"{{"data":[{items}]}}"#)).on_path("/crm/v8/Leads/upsert"));
    let outcome = h.run_with("crm-upsert-records", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe" } }), unchecked()).await;
    let error = error_of(&outcome);
    assert_eq!((error["kind"].as_str(), error["status"].as_u64()), (Some("zoho"), Some(200)));
    assert!(message_of(&outcome).contains("more than 1 items"), "{error}");

    // An outcome echoing the access token reaches the caller redacted.
    let echo = format!(r#"{{"data":[{{"code":"SUCCESS","duplicate_field":null,"action":"insert","details":{{"id":"1","note":"{}"}},"message":"record added","status":"success"}}]}}"#, h.token);
    h.sandbox.inject(Fault::status(1, 200, &echo).on_path("/crm/v8/Leads/upsert"));
    let outcome = h.run_with("crm-upsert-records", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe" } }), unchecked()).await;
    assert_eq!(ok_of(&outcome)["details"], json!({ "id": "1", "note": "[redacted]" }));
    assert!(!outcome.stderr.contains(&h.token));
    assert_eq!(h.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn convert_lead_creates_contact_account_and_deal_and_the_lead_leaves_leads() {
    let h = Harness::new().await;
    let lead = h.sandbox.create_record("Leads", json!({ "First_Name": "Jane", "Last_Name": "Doe", "Email": "jane@newco.com", "Company": "NewCo" }));
    let (contacts, accounts, deals) = (h.sandbox.record_count("Contacts"), h.sandbox.record_count("Accounts"), h.sandbox.record_count("Deals"));
    let credits = h.sandbox.limits().credits_used;
    let input = json!({
        "record-id": lead, "notify-lead-owner": false, "assign-to": "5725767000000411001",
        "deal": r#"{"Deal_Name":"NewCo deal","Stage":"Qualification","Closing_Date":"2026-12-31"}"#,
    });
    let outcome = h.run("crm-convert-lead", input).await;
    let result = ok_of(&outcome);
    let (contact, account, deal) = (result["Contacts"].as_str().expect("contact"), result["Accounts"].as_str().expect("account"), result["Deals"].as_str().expect("deal"));
    assert_eq!(result, &json!({ "status": "converted", "job_id": null, "Contacts": contact, "Accounts": account, "Deals": deal }));
    assert_request(
        &h.only_request(),
        &h.token,
        "POST",
        &format!("/crm/v8/Leads/{lead}/actions/convert"),
        &[],
        Some(json!({ "data": [{ "notify_lead_owner": false, "assign_to": { "id": "5725767000000411001" },
            "Deals": { "Deal_Name": "NewCo deal", "Stage": "Qualification", "Closing_Date": "2026-12-31" } }] })),
    );
    let stored = h.sandbox.record("Contacts", contact).expect("contact");
    assert_eq!((stored["Last_Name"].as_str(), stored["Email"].as_str()), (Some("Doe"), Some("jane@newco.com")));
    assert_eq!(stored["Account_Name"], json!({ "name": "NewCo", "id": account }));
    assert_eq!(h.sandbox.record("Accounts", account).expect("account")["Account_Name"], "NewCo");
    assert_eq!(h.sandbox.record("Deals", deal).expect("deal")["Deal_Name"], "NewCo deal");
    assert_eq!((h.sandbox.record_count("Contacts"), h.sandbox.record_count("Accounts"), h.sandbox.record_count("Deals")), (contacts + 1, accounts + 1, deals + 1));
    assert_eq!(h.sandbox.limits().credits_used, credits + 5, "Zoho charges 5 credits for a conversion");

    // The converted lead is gone from Leads; converting it again is Zoho's ID_ALREADY_CONVERTED.
    let gone = h.run("crm-get-record", json!({ "record-type": "Leads", "record-id": lead })).await;
    assert_eq!((error_of(&gone)["kind"].as_str(), error_of(&gone)["status"].as_u64()), (Some("not-found"), Some(204)));
    let again = h.run("crm-convert-lead", json!({ "record-id": lead })).await;
    assert_eq!(
        error_of(&again),
        &json!({ "kind": "zoho", "status": 400, "code": "ID_ALREADY_CONVERTED", "message": "id already converted",
            "details": { "resource_path_index": 1 }, "retry-after-ms": null })
    );
    assert_eq!(h.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn convert_lead_uses_the_given_contact_and_account_and_a_lead_without_company_has_no_account() {
    let h = Harness::new().await;
    let lead = h.sandbox.create_record("Leads", json!({ "Last_Name": "Solo", "Email": "solo@example.com" }));
    let contact = h.sandbox.create_record("Contacts", json!({ "Last_Name": "Existing" }));
    let account = h.sandbox.create_record("Accounts", json!({ "Account_Name": "Existing Inc" }));
    let counts = (h.sandbox.record_count("Contacts"), h.sandbox.record_count("Accounts"), h.sandbox.record_count("Deals"));
    let input = json!({ "record-id": lead, "overwrite": true, "notify-new-entity-owner": true, "accounts": account, "contacts": contact });
    let outcome = h.run("crm-convert-lead", input).await;
    assert_eq!(ok_of(&outcome), &json!({ "status": "converted", "job_id": null, "Contacts": contact, "Accounts": account, "Deals": null }));
    assert_request(
        &h.only_request(),
        &h.token,
        "POST",
        &format!("/crm/v8/Leads/{lead}/actions/convert"),
        &[],
        Some(json!({ "data": [{ "overwrite": true, "notify_new_entity_owner": true, "Accounts": { "id": account }, "Contacts": { "id": contact } }] })),
    );
    assert_eq!(h.sandbox.record("Contacts", &contact).expect("contact")["Last_Name"], "Solo", "overwrite copies the lead's values");
    assert_eq!((h.sandbox.record_count("Contacts"), h.sandbox.record_count("Accounts"), h.sandbox.record_count("Deals")), counts);

    let bare = h.sandbox.create_record("Leads", json!({ "Last_Name": "NoCompany" }));
    let outcome = h.run("crm-convert-lead", json!({ "record-id": bare })).await;
    let contact = ok_of(&outcome)["Contacts"].as_str().expect("new contact");
    assert_eq!(ok_of(&outcome), &json!({ "status": "converted", "job_id": null, "Contacts": contact, "Accounts": null, "Deals": null }));
}

/// Zoho may run a conversion as a job: 202 SCHEDULED with its job id (zoho/crm-oas
/// convert/operations/convertLead, example response-202-scheduledconversion). That is a
/// success a flow can branch on, never an error a platform would retry into
/// ID_ALREADY_CONVERTED.
#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_conversion_is_a_success_with_its_job_id() {
    let h = Harness::new().await;
    let lead = h.sandbox.create_record("Leads", json!({ "Last_Name": "Heavy", "Email": "heavy@bigco.com", "Company": "BigCo" }));
    h.sandbox.add_attachment("Leads", &lead, "a.txt", "text/plain", b"a".to_vec());
    h.sandbox.add_attachment("Leads", &lead, "b.txt", "text/plain", b"b".to_vec());
    // A lead with two related records or more converts as a job; one with fewer, at once.
    h.sandbox.schedule_conversions_from(Some(2));
    let light = h.sandbox.create_record("Leads", json!({ "Last_Name": "Light" }));
    h.sandbox.add_attachment("Leads", &light, "c.txt", "text/plain", b"c".to_vec());
    let credits = h.sandbox.limits().credits_used;

    let outcome = h.run("crm-convert-lead", json!({ "record-id": lead, "notify-lead-owner": true })).await;
    let result = ok_of(&outcome);
    let job = result["job_id"].as_str().expect("a job id");
    assert!(!job.is_empty() && job.bytes().all(|b| b.is_ascii_digit()), "{job}");
    assert_eq!(result, &json!({ "status": "scheduled", "job_id": job, "Contacts": null, "Accounts": null, "Deals": null }));
    let sent = h.only_request();
    assert_request(&sent, &h.token, "POST", &format!("/crm/v8/Leads/{lead}/actions/convert"), &[], Some(json!({ "data": [{ "notify_lead_owner": true }] })));
    assert_eq!(sent.response_status, Some(202));
    assert_eq!(
        sent.response_body.as_deref().and_then(|b| serde_json::from_slice::<Value>(b).ok()),
        Some(json!({ "data": [{ "code": "SCHEDULED", "details": { "job_id": job }, "message": "Convert lead scheduled successfully", "status": "success" }] }))
    );
    assert_eq!(h.sandbox.limits().credits_used, credits + 5, "a scheduled conversion costs its 5 credits too");
    // The job ran: the lead left Leads, and a retry is Zoho's ID_ALREADY_CONVERTED.
    assert!(h.sandbox.record("Leads", &lead).is_none());
    let again = h.run("crm-convert-lead", json!({ "record-id": lead })).await;
    assert_eq!(error_of(&again)["code"], "ID_ALREADY_CONVERTED");

    h.sandbox.clear_requests();
    let outcome = h.run("crm-convert-lead", json!({ "record-id": light })).await;
    assert_eq!(ok_of(&outcome)["status"], "converted");
    assert_eq!(h.only_request().response_status, Some(200));

    // Zoho's own example answer, replayed: its job id comes back; one without a job id is refused.
    let example = r#"{"data":[{"code":"SCHEDULED","details":{"job_id":"1643514000006145007"},"message":"Convert lead scheduled successfully","status":"success"}]}"#;
    h.sandbox.inject(Fault::status(1, 202, example).on_path("/crm/"));
    let outcome = h.run("crm-convert-lead", json!({ "record-id": "1" })).await;
    assert_eq!(ok_of(&outcome), &json!({ "status": "scheduled", "job_id": "1643514000006145007", "Contacts": null, "Accounts": null, "Deals": null }));
    for odd in [r#"{"data":[{"code":"SCHEDULED","details":{},"message":"m","status":"success"}]}"#, r#"{"data":[{"code":"SCHEDULED","details":{"job_id":"x1"},"status":"success"}]}"#] {
        h.sandbox.inject(Fault::status(1, 202, odd).on_path("/crm/"));
        let outcome = h.run("crm-convert-lead", json!({ "record-id": "1" })).await;
        assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["status"].as_u64()), (Some("zoho"), Some(202)), "{odd}");
        assert!(error_of(&outcome)["message"].as_str().is_some_and(|m| m.contains("job id")), "{odd}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn convert_lead_errors_keep_zohos_shapes() {
    let h = Harness::new().await;
    let outcome = h.run("crm-convert-lead", json!({ "record-id": "42" })).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "zoho", "status": 400, "code": "INVALID_DATA", "message": "invalid data",
            "details": { "resource_path_index": 1 }, "retry-after-ms": null })
    );
    let lead = h.sandbox.create_record("Leads", json!({ "Last_Name": "Doe", "Company": "DealCo" }));
    let accounts = h.sandbox.record_count("Accounts");
    let outcome = h.run("crm-convert-lead", json!({ "record-id": lead, "deal": r#"{"Stage":"Qualification"}"# })).await;
    assert_eq!(error_of(&outcome)["code"], "MANDATORY_NOT_FOUND");
    assert_eq!(error_of(&outcome)["details"]["data"][0]["details"], json!({ "api_name": "Deal_Name", "json_path": "$.data[0].Deals.Deal_Name" }));
    assert!(h.sandbox.record("Leads", &lead).is_some(), "a refused conversion changes nothing");
    assert_eq!(h.sandbox.record_count("Accounts"), accounts);

    // A top-level error and a 401, as Zoho may answer them.
    h.sandbox.inject(Fault::status(1, 400, r#"{"code":"INVALID_DATA","details":{"param_name":"data"},"message":"invalid data","status":"error"}"#).on_path("/crm/"));
    let outcome = h.run("crm-convert-lead", json!({ "record-id": lead })).await;
    assert_eq!(error_of(&outcome), &json!({ "kind": "zoho", "status": 400, "code": "INVALID_DATA", "message": "invalid data", "details": { "param_name": "data" }, "retry-after-ms": null }));
    h.sandbox.inject(Fault::status(1, 401, r#"{"code":"AUTHENTICATION_FAILURE","details":{},"message":"Authentication failed","status":"error"}"#).on_path("/crm/"));
    let outcome = h.run("crm-convert-lead", json!({ "record-id": lead })).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["status"].as_u64()), (Some("unauthorized"), Some(401)));
    assert_eq!(h.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_convert_answers_never_pass_text_for_an_id() {
    let h = Harness::new().await;
    let answers = [
        format!(r#"{{"data":[{{"code":"SUCCESS","details":{{"Contacts":{{"id":"{}"}},"Accounts":null,"Deals":null}},"status":"success"}}]}}"#, h.token),
        r#"{"data":[{"code":"SUCCESS","details":{"Contacts":"1","Accounts":null,"Deals":null},"status":"success"}]}"#.to_string(),
        r#"{"data":[{"code":"SUCCESS","details":{"Accounts":{"id":"1"}},"status":"success"}]}"#.to_string(),
        r#"{"data":[{"code":"SUCCESS","status":"success"}]}"#.to_string(),
        format!(r#"{{"data":[{}]}}"#, vec![r#"{"code":"SUCCESS","status":"success"}"#; 10_000].join(",")),
    ];
    for answer in &answers {
        h.sandbox.inject(Fault::status(1, 200, answer).on_path("/crm/"));
        let outcome = h.run("crm-convert-lead", json!({ "record-id": "1" })).await;
        let error = error_of(&outcome);
        assert_eq!((error["kind"].as_str(), error["status"].as_u64()), (Some("zoho"), Some(200)), "{error}");
        assert!(!error.to_string().contains(&h.token) && !outcome.stderr.contains(&h.token));
    }
    // Nothing more than one request per step, however odd the answer.
    assert_eq!(h.requests().len(), answers.len());
    // The component's budget counted 5 credits per conversion answered.
    let spent: u64 = h.stored_keys().iter().filter(|k| k.contains("credits")).filter_map(|k| h.stored(k)).filter_map(|v| v.as_u64()).sum();
    assert_eq!(spent, 5 * answers.len() as u64);
}

/// A conversion's deal needs every field the Deals layout requires (Deal_Name, Stage,
/// Closing_Date in a standard org): one missing is Zoho's MANDATORY_NOT_FOUND naming it, and
/// nothing is converted.
#[tokio::test(flavor = "multi_thread")]
async fn a_conversions_deal_without_its_stage_is_refused_naming_it() {
    let h = Harness::new().await;
    let lead = h.sandbox.create_record("Leads", json!({ "Last_Name": "Doe", "Company": "NoStage Inc" }));
    let deals = h.sandbox.record_count("Deals");
    let input = json!({ "record-id": lead, "deal": r#"{"Deal_Name":"NoStage deal","Closing_Date":"2026-12-31"}"# });
    let error = error_of(&h.run("crm-convert-lead", input).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str(), error["message"].as_str()), (Some("zoho"), Some("MANDATORY_NOT_FOUND"), Some("Stage is required")));
    assert!(h.sandbox.record("Leads", &lead).is_some(), "the lead is not converted");
    assert_eq!(h.sandbox.record_count("Deals"), deals);
}
