//! Test Connection, linking related records and the notes actions end to end: the built
//! component, through the host, against the sandbox; every exchange judged by Zoho's files.

use component_tests::{assert_request, error_of, ok_of, Harness};
use serde_json::{json, Value};
use zoho_sandbox::RecordedRequest;

/// The fields every notes listing asks for (Zoho's Get Notes requires `fields`).
const NOTE_FIELDS: &str = "Note_Title,Note_Content,Parent_Id,Owner,Created_By,Modified_By,Created_Time,Modified_Time";

/// What the sandbox answered to one request, as JSON.
fn answered(request: &RecordedRequest) -> Value {
    serde_json::from_slice(request.response_body.as_deref().unwrap_or_default()).unwrap_or(Value::Null)
}

fn message_of(outcome: &zoho_host::StepOutcome) -> String {
    error_of(outcome)["message"].as_str().unwrap_or("").to_string()
}

/// The error's kind, status and Zoho code.
fn kind_status_code(outcome: &zoho_host::StepOutcome) -> (String, Option<u64>, Option<String>) {
    let e = error_of(outcome);
    (e["kind"].as_str().unwrap_or("").to_string(), e["status"].as_u64(), e["code"].as_str().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connection_reads_the_current_user_and_the_org_in_two_requests() {
    let h = Harness::new().await;
    let outcome = h.run("crm-test-connection", json!({})).await;
    let requests = h.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/users", &[("type", "CurrentUser")], None);
    assert_request(&requests[1], &h.token, "GET", "/crm/v8/org", &[], None);
    let user = answered(&requests[0])["users"][0].clone();
    let org = answered(&requests[1])["org"][0].clone();
    assert_eq!(user["id"], "5725767000000411001");
    assert_eq!(org["company_name"], "Zylker");
    // The sandbox is no Zoho data center's host: no data center is named for it.
    assert_eq!(ok_of(&outcome), &json!({ "user": user, "org": org, "data_center": null, "api_domain": h.sandbox.url }));
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connection_failures_say_what_to_fix() {
    let h = Harness::new().await;
    // A revoked (or another data center's) token: what to do, and nothing more is sent.
    h.sandbox.revoke_token(&h.token);
    let outcome = h.run("crm-test-connection", json!({})).await;
    assert_eq!(kind_status_code(&outcome), ("unauthorized".into(), Some(401), Some("INVALID_TOKEN".into())));
    let message = message_of(&outcome);
    assert!(message.contains(&format!("Zoho CRM at {} does not accept the connection's token", h.sandbox.url)), "{message}");
    assert!(message.contains("revoked") && message.contains("another data center's accounts server") && message.contains("authorize the connection again"), "{message}");
    assert_eq!(h.requests().len(), 1);

    // A client Zoho does not know at this accounts server (a wrong data center answers so): the
    // server that refused, and every data center's, are named.
    h.sandbox.clear_requests();
    let mut wrong = h.refresh_connection();
    wrong["client-secret"] = json!("not-the-secret");
    let outcome = h.run_as(&wrong, "crm-test-connection", json!({}), None).await;
    assert_eq!(kind_status_code(&outcome).0, "unauthorized");
    assert_eq!(error_of(&outcome)["code"], "invalid_client");
    let message = message_of(&outcome);
    assert!(message.contains(&format!("at {}", h.sandbox.url)) && message.contains("check the region"), "{message}");
    assert!(message.contains("eu https://accounts.zoho.eu") && message.contains("ca https://accounts.zohocloud.ca"), "{message}");
    assert!(!message.contains("not-the-secret"), "the secret stays out of the message: {message}");
    let requests = h.requests();
    assert_eq!((requests.len(), requests[0].path.as_str()), (1, "/oauth/v2/token"), "no CRM request without a token");

    // A scope the token lacks: the scopes the test needs.
    h.sandbox.clear_requests();
    let narrow = h.sandbox.issue_token_with_scopes("ZohoCRM.users.READ");
    let outcome = h.run_as(&json!({ "api-domain": h.sandbox.url, "access-token": narrow }), "crm-test-connection", json!({}), None).await;
    assert_eq!(kind_status_code(&outcome), ("unauthorized".into(), Some(401), Some("OAUTH_SCOPE_MISMATCH".into())));
    assert!(message_of(&outcome).contains("crm-test-connection needs ZohoCRM.users.READ, ZohoCRM.org.READ"), "{}", message_of(&outcome));
    let paths: Vec<String> = h.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/crm/v8/users", "/crm/v8/org"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connection_checks_books_when_asked() {
    let h = Harness::new().await;
    let outcome = h.run("crm-test-connection", json!({ "check-books": true })).await;
    let requests = h.requests();
    assert_eq!(requests.len(), 3);
    assert_request(&requests[2], &h.token, "GET", "/books/v3/organizations", &[], None);
    assert_eq!(ok_of(&outcome)["books_organization"], json!({ "organization_id": zoho_sandbox::BOOKS_ORG_ID, "name": "Zillum", "is_default_org": true }));

    // An organization the account does not have is named, with the ones it has.
    let mut other = h.connection.clone();
    other["books-organization-id"] = json!("999");
    let outcome = h.run_as(&other, "crm-test-connection", json!({ "check-books": true }), None).await;
    assert_eq!(error_of(&outcome)["kind"], "not-found");
    assert_eq!(message_of(&outcome), "books-organization-id 999 is not one of this account's Books organizations: Zillum (10234695), Zillum Labs (10234696)");
}

/// A fresh lead and campaign to link.
fn lead_and_campaign(h: &Harness) -> (String, String) {
    (h.sandbox.create_record("Leads", json!({ "Last_Name": "Member" })), h.sandbox.create_record("Campaigns", json!({ "Campaign_Name": "Spring ☀ launch" })))
}

#[tokio::test(flavor = "multi_thread")]
async fn link_and_unlink_a_lead_to_a_campaign() {
    let h = Harness::new().await;
    let (lead, campaign) = lead_and_campaign(&h);
    let input = json!({ "record-type": "Leads", "record-id": lead, "related-list": "Campaigns", "related-record-id": campaign, "values": "{\"Member_Status\":\"Active\"}" });
    let outcome = h.run("crm-link-related-record", input).await;
    assert_eq!(ok_of(&outcome), &json!({ "code": "SUCCESS", "details": { "id": campaign }, "message": "relation added", "status": "success" }));
    let path = format!("/crm/v8/Leads/{lead}/Campaigns/{campaign}");
    assert_request(&h.only_request(), &h.token, "PUT", &path, &[], Some(json!({ "data": [{ "id": campaign, "Member_Status": "Active" }] })));

    // The link shows from both sides.
    h.sandbox.clear_requests();
    let listed = h.run("crm-get-related-records", json!({ "record-type": "Campaigns", "record-id": campaign, "related-list": "Leads", "fields": "Last_Name" })).await;
    assert_eq!(ok_of(&listed)["data"], json!([{ "id": lead, "Last_Name": "Member" }]));

    // Unlinking sends the DELETE without a body; neither record is deleted.
    h.sandbox.clear_requests();
    let input = json!({ "record-type": "Leads", "record-id": lead, "related-list": "Campaigns", "related-record-id": campaign });
    let outcome = h.run("crm-unlink-related-record", input.clone()).await;
    assert_eq!(ok_of(&outcome), &json!({ "code": "SUCCESS", "details": { "id": campaign }, "message": "relation removed", "status": "success" }));
    assert_request(&h.only_request(), &h.token, "DELETE", &path, &[], None);
    assert!(h.sandbox.record("Leads", &lead).is_some() && h.sandbox.record("Campaigns", &campaign).is_some());

    // Unlinking again: the relation is not there (Zoho's "relation not found").
    h.sandbox.clear_requests();
    let outcome = h.run("crm-unlink-related-record", input).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "not-found", "status": 400, "code": "INVALID_DATA", "message": "relation not found",
            "details": { "data": [{ "code": "INVALID_DATA", "details": { "id": campaign }, "message": "relation not found", "status": "error" }] }, "retry-after-ms": null })
    );
    assert_eq!(h.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn link_errors_keep_zohos_shapes() {
    let h = Harness::new().await;
    let (lead, campaign) = lead_and_campaign(&h);
    let run = |list: &str, parent: &str, related: &str| json!({ "record-type": "Leads", "record-id": parent, "related-list": list, "related-record-id": related });
    // A related record Zoho does not have: not-found, as Zoho's relationnotfoundbulk example words it.
    let outcome = h.run("crm-link-related-record", run("Campaigns", &lead, "42")).await;
    assert_eq!(kind_status_code(&outcome), ("not-found".into(), Some(400), Some("INVALID_DATA".into())));
    assert_eq!(error_of(&outcome)["details"]["data"][0]["details"], json!({ "api_name": "id", "json_path": "$.data[0].id" }));
    // A parent Zoho does not have.
    let outcome = h.run("crm-link-related-record", run("Campaigns", "42", &campaign)).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "not-found", "status": 400, "code": "INVALID_DATA", "message": "the id given seems to be invalid", "details": { "resource_path_index": 1 }, "retry-after-ms": null })
    );
    // Leads and Contacts are no relation Zoho links.
    let outcome = h.run("crm-unlink-related-record", run("Contacts", &lead, &campaign)).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "zoho", "status": 400, "code": "INVALID_DATA", "message": "The relation name given seems to be invalid", "details": { "resource_path_index": 2 }, "retry-after-ms": null })
    );
    assert_eq!(h.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn link_inputs_are_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    let base = json!({ "record-type": "Leads", "record-id": "5725767000000524157", "related-list": "Campaigns", "related-record-id": "5725767000000524158" });
    let with = |key: &str, value: Value| {
        let mut input = base.clone();
        input[key] = value;
        input
    };
    let cases = [
        (with("related-list", json!("../Contacts")), "is not a related list API name"),
        (with("related-list", json!("Campaigns/5725767000000524158")), "is not a related list API name"),
        (with("related-list", json!("Camp%61igns")), "is not a related list API name"),
        (with("related-list", json!("Campañas")), "is not a related list API name"),
        (with("related-list", json!("C".repeat(51))), "is not a related list API name"),
        (with("related-list", json!("Notes")), "use update-note or remove-note"),
        (with("related-list", json!("attachments")), "use add-attachment or list-attachments"),
        (with("record-type", json!("Leads/../Deals")), "is not a Zoho module API name"),
        (with("record-id", json!("1 OR 1=1")), "is not a Zoho record id"),
        (with("related-record-id", json!("")), "related-record-id \"\" is not a Zoho record id"),
        (with("related-record-id", json!("１２３")), "is not a Zoho record id"),
        (with("related-record-id", json!("123456789012345678901")), "is not a Zoho record id"),
        (with("related-record-id", json!("1?x=1")), "is not a Zoho record id"),
        (with("values", json!("[1]")), "values must be a JSON object"),
        (with("values", json!("{\"id\":\"7\"}")), "values must not hold id"),
        (with("values", json!(format!("{{\"Member_Status\":\"{}\"}}", "x".repeat(64 << 10)))), "at most 65536 bytes"),
    ];
    for (input, says) in cases {
        for key in ["crm-link-related-record", "crm-unlink-related-record"] {
            if key == "crm-unlink-related-record" && input.get("values").is_some() {
                continue;
            }
            let outcome = h.run(key, input.clone()).await;
            assert_eq!(error_of(&outcome)["kind"], "invalid-input", "{key} {input}");
            assert!(message_of(&outcome).contains(says), "{key} {input}: {}", message_of(&outcome));
        }
    }
    assert!(h.requests().is_empty());
}

/// A note on a fresh lead, added through the action; its id.
async fn a_note(h: &Harness, lead: &str, title: &str, content: &str) -> String {
    let outcome = h.run("crm-add-note", json!({ "record-type": "Leads", "record-id": lead, "note-title": title, "note-content": content })).await;
    ok_of(&outcome)["details"]["id"].as_str().expect("note id").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn notes_are_listed_updated_and_removed() {
    let h = Harness::new().await;
    let lead = h.sandbox.create_record("Leads", json!({ "Last_Name": "Noted" }));
    let first = a_note(&h, &lead, "Call", "Spoke to Jane ☎").await;
    let second = a_note(&h, &lead, "مرحبا", "\u{202e}RTL text and 😀").await;

    // One record's notes: its Notes related list, with the fields Zoho requires.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-list-notes", json!({ "record-type": "Leads", "record-id": lead })).await;
    let request = h.only_request();
    assert_request(&request, &h.token, "GET", &format!("/crm/v8/Leads/{lead}/Notes"), &[("fields", NOTE_FIELDS), ("page", "1"), ("per_page", "200")], None);
    assert_eq!(ok_of(&outcome), &answered(&request));
    let ids: Vec<&str> = ok_of(&outcome)["data"].as_array().expect("notes").iter().filter_map(|n| n["id"].as_str()).collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    assert_eq!(ok_of(&outcome)["data"][1]["Note_Content"], "\u{202e}RTL text and 😀");

    // Every note of the org, a page at a time.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-list-notes", json!({ "page": 2, "per-page": 2 })).await;
    let request = h.only_request();
    assert_request(&request, &h.token, "GET", "/crm/v8/Notes", &[("fields", NOTE_FIELDS), ("page", "2"), ("per_page", "2")], None);
    assert_eq!(ok_of(&outcome), &answered(&request));
    assert_eq!((ok_of(&outcome)["info"]["page"].as_u64(), ok_of(&outcome)["info"]["more_records"].as_bool()), (Some(2), Some(true)));

    // Update: the text and, when given, the title; the note changes in place.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-update-note", json!({ "note-id": first, "note-title": "日".repeat(120), "note-content": "Changed ✔" })).await;
    let stored = h.sandbox.record("Notes", &first).expect("note kept");
    let owner = json!({ "email": "owner@sandbox.zoho", "id": "5725767000000411001", "name": "Sandbox User" });
    assert_eq!(
        ok_of(&outcome),
        &json!({ "code": "SUCCESS", "details": { "Created_By": owner, "Created_Time": stored["Created_Time"], "Modified_By": owner, "Modified_Time": stored["Modified_Time"], "id": first },
            "message": "record updated", "status": "success" })
    );
    assert_request(&h.only_request(), &h.token, "PUT", &format!("/crm/v8/Notes/{first}"), &[], Some(json!({ "data": [{ "Note_Title": "日".repeat(120), "Note_Content": "Changed ✔" }] })));
    assert_eq!((stored["Note_Title"].as_str(), stored["Note_Content"].as_str()), (Some("日".repeat(120).as_str()), Some("Changed ✔")));
    assert_eq!(stored["Parent_Id"]["id"], json!(lead));

    // Remove: the note is gone; a second removal or update finds nothing (not-found).
    h.sandbox.clear_requests();
    let outcome = h.run("crm-remove-note", json!({ "note-id": first })).await;
    assert_eq!(ok_of(&outcome), &json!({ "code": "SUCCESS", "details": { "id": first }, "message": "record deleted", "status": "success" }));
    assert_request(&h.only_request(), &h.token, "DELETE", &format!("/crm/v8/Notes/{first}"), &[], None);
    assert!(h.sandbox.record("Notes", &first).is_none());
    let gone = json!({ "kind": "not-found", "status": 400, "code": "INVALID_DATA", "message": "the id given seems to be invalid", "details": { "resource_path_index": 1 }, "retry-after-ms": null });
    assert_eq!(error_of(&h.run("crm-remove-note", json!({ "note-id": first })).await), &gone);
    assert_eq!(error_of(&h.run("crm-update-note", json!({ "note-id": first, "note-content": "x" })).await), &gone);
    // A record without notes lists none; an unknown record is not-found.
    let empty = h.sandbox.create_record("Leads", json!({ "Last_Name": "Quiet" }));
    let outcome = h.run("crm-list-notes", json!({ "record-type": "Leads", "record-id": empty })).await;
    assert_eq!(ok_of(&outcome), &json!({ "data": [], "info": { "count": 0, "more_records": false, "page": 1, "per_page": 200 } }));
    let outcome = h.run("crm-list-notes", json!({ "record-type": "Leads", "record-id": "42" })).await;
    assert_eq!(kind_status_code(&outcome), ("not-found".into(), Some(400), Some("INVALID_DATA".into())));
    assert_eq!(h.requests().len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn note_inputs_are_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    let cases = [
        ("crm-update-note", json!({ "note-id": "../1", "note-content": "x" }), "note-id \"../1\" is not a Zoho note id"),
        ("crm-update-note", json!({ "note-id": "1/2", "note-content": "x" }), "is not a Zoho note id"),
        ("crm-update-note", json!({ "note-id": "", "note-content": "x" }), "is not a Zoho note id"),
        ("crm-update-note", json!({ "note-id": "１", "note-content": "x" }), "is not a Zoho note id"),
        ("crm-update-note", json!({ "note-id": "1", "note-content": " \n" }), "note-content is empty"),
        ("crm-update-note", json!({ "note-id": "1", "note-content": "é".repeat(65_536) }), "note-content is 65536 characters; Zoho keeps at most 65535"),
        ("crm-update-note", json!({ "note-id": "1", "note-title": "t".repeat(121), "note-content": "x" }), "note-title is 121 characters; Zoho takes at most 120"),
        ("crm-add-note", json!({ "record-type": "Leads", "record-id": "1", "note-content": "x".repeat(65_536) }), "Zoho keeps at most 65535"),
        ("crm-remove-note", json!({ "note-id": "1 OR 1=1" }), "is not a Zoho note id"),
        ("crm-remove-note", json!({ "note-id": "123456789012345678901" }), "is not a Zoho note id"),
        ("crm-list-notes", json!({ "record-type": "Leads" }), "record-type is given without record-id"),
        ("crm-list-notes", json!({ "record-id": "1" }), "record-id is given without record-type"),
        ("crm-list-notes", json!({ "record-type": "Notes", "record-id": "1" }), "record-type Notes names the notes themselves"),
        ("crm-list-notes", json!({ "record-type": "../Leads", "record-id": "1" }), "is not a Zoho module API name"),
        ("crm-list-notes", json!({ "page": 11 }), "page 11 of 200 notes reaches past the first 2000 notes"),
        ("crm-list-notes", json!({ "per-page": 0 }), "per-page 0 is out of range"),
        ("crm-list-notes", json!({ "page": 0 }), "page starts at 1"),
    ];
    for (key, input, says) in cases {
        let outcome = h.run(key, input.clone()).await;
        assert_eq!(error_of(&outcome)["kind"], "invalid-input", "{key} {input}");
        assert!(message_of(&outcome).contains(says), "{key} {input}: {}", message_of(&outcome));
    }
    assert!(h.requests().is_empty());
}
