//! Breaks an outside attack found in the everyday steps, each replayed here against the built
//! component: a short token echoed millions of times, outcomes missing from a write's answer,
//! an all-failed 2xx, a second outcome for one note, a 31 MiB error message, answers without
//! Books' envelope, a partial document and a modules answer without its list.

use component_tests::{error_of, with_books_org, Fault, Harness};
use serde_json::{json, Value};

fn outcome(id: &str, action: &str) -> Value {
    json!({ "code": "SUCCESS", "action": action, "duplicate_field": null, "details": { "id": id }, "message": "record added", "status": "success" })
}

fn failure() -> Value {
    json!({ "code": "INVALID_DATA", "details": { "api_name": "Email" }, "message": "invalid data", "status": "error" })
}

/// Break: with the token "a", an 8 MiB answer of "a"s made the redactor remember one range per
/// copy and the component ran out of memory (a trap). Now it is a typed error, its message cut.
#[tokio::test(flavor = "multi_thread")]
async fn a_short_token_echoed_millions_of_times_is_a_typed_error() {
    let h = Harness::new().await;
    let connection = json!({ "api-domain": h.connection["api-domain"], "access-token": "a" });
    let body = json!({ "code": "C", "details": {}, "message": "a".repeat(8 << 20), "status": "error" }).to_string();
    h.sandbox.inject(Fault::status(1, 400, &body).on_path("/crm/"));
    let outcome = h.run_as(&connection, "crm-add-note", json!({ "record-type": "Leads", "record-id": "5725767000000524157", "note-content": "x" }), None).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "zoho");
    let message = error["message"].as_str().unwrap_or("");
    assert!(message.len() < 20_000, "the message is cut: {} bytes", message.len());
    assert_eq!(h.requests().len(), 1);
}

/// Break: a 31 MiB error message left the step whole (a 32 MB error on stderr).
#[tokio::test(flavor = "multi_thread")]
async fn a_huge_error_message_is_cut_with_its_size() {
    let h = Harness::new().await;
    let body = json!({ "code": "INVALID_DATA", "details": {}, "message": "é".repeat(1 << 20), "status": "error" }).to_string();
    h.sandbox.inject(Fault::status(1, 400, &body).on_path("/crm/"));
    let outcome = h.run("crm-search-records", json!({ "record-type": "Leads", "word": "Doe" })).await;
    let message = error_of(&outcome)["message"].as_str().unwrap_or("").to_string();
    assert!(message.len() < 17_000, "{} bytes", message.len());
    assert!(message.ends_with("bytes in all)"), "{}", &message[message.len().saturating_sub(60)..]);
}

/// Break: two records upserted, one outcome answered, and the step succeeded with the second
/// record's fate unknown; the same for tags. Now fewer (or more) outcomes than records sent is
/// an error, and an all-failed 2xx is an error with every outcome in its details.
#[tokio::test(flavor = "multi_thread")]
async fn every_record_sent_needs_its_outcome_and_all_failed_is_an_error() {
    let h = Harness::new().await;
    let two = json!({ "record-type": "Leads", "values": [{ "Last_Name": "A", "Email": "a@zylker.com" }, { "Last_Name": "B", "Email": "b@zylker.com" }] });
    h.sandbox.inject(Fault::status(1, 200, &json!({ "data": [outcome("1", "insert")] }).to_string()).on_path("/crm/v8/Leads/upsert"));
    let error = error_of(&h.run("crm-upsert-records", two.clone()).await).clone();
    assert_eq!(error["kind"], "zoho");
    assert!(error["message"].as_str().unwrap_or("").contains("1 outcomes for the 2 records sent"), "{error}");

    h.sandbox.inject(Fault::status(1, 207, &json!({ "data": [failure(), failure()] }).to_string()).on_path("/crm/v8/Leads/upsert"));
    let error = error_of(&h.run("crm-upsert-records", two.clone()).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("zoho"), Some("INVALID_DATA")));
    assert_eq!(error["details"]["data"].as_array().map(Vec::len), Some(2), "{error}");

    let tags = json!({ "record-type": "Leads", "record-ids": ["5725767000000524157", "5725767000000524158"], "tags": ["vip"] });
    let tag_ok = json!({ "code": "SUCCESS", "details": { "id": "5725767000000524157" }, "message": "tags updated successfully", "status": "success" });
    h.sandbox.inject(Fault::status(1, 200, &json!({ "data": [tag_ok.clone(), tag_ok] }).to_string()).on_path("/crm/v8/Leads/actions/add_tags"));
    let outcome = h.run("crm-add-tags", tags.clone()).await;
    // Two outcomes for two ids pass the count; the caller sees both as Zoho sent them.
    assert_eq!(outcome.result.as_ref().ok().and_then(|v| v["data"].as_array()).map(Vec::len), Some(2));
    h.sandbox.inject(Fault::status(1, 200, &json!({ "data": [failure()] }).to_string()).on_path("/crm/v8/Leads/actions/add_tags"));
    assert_eq!(error_of(&h.run("crm-add-tags", tags).await)["kind"], "zoho");
}

/// Break: a 207 with a success and an error answering one note was reported as a success.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_outcome_for_one_note_is_refused() {
    let h = Harness::new().await;
    let note = json!({ "code": "SUCCESS", "details": { "id": "5725767000000900001" }, "message": "record added", "status": "success" });
    h.sandbox.inject(Fault::status(1, 207, &json!({ "data": [note, failure()] }).to_string()).on_path("/crm/v8/Leads/"));
    let outcome = h.run("crm-add-note", json!({ "record-type": "Leads", "record-id": "5725767000000524157", "note-content": "Called" })).await;
    assert_eq!(error_of(&outcome)["kind"], "zoho");
    assert_eq!(h.requests().len(), 1);
}

/// Break: Books answering an action with 204 or `{"message":"hi"}` (no code), or a document
/// with 206 or an empty body, passed as success.
#[tokio::test(flavor = "multi_thread")]
async fn books_answers_without_their_envelope_or_whole_document_are_errors() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let action = json!({ "record-type": "invoices", "record-id": "460000010000001", "action": "status/sent" });
    for (status, body) in [(204, ""), (200, r#"{"message":"hi"}"#), (200, "")] {
        h.sandbox.inject(Fault::status(1, status, body).on_path("/books/v3/invoices"));
        let outcome = h.run_as(&connection, "books-record-action", action.clone(), None).await;
        assert_eq!(error_of(&outcome)["kind"], "zoho", "{status} {body:?}");
    }
    let document = json!({ "record-type": "invoices", "record-id": "460000010000001", "format": "html" });
    for (status, body) in [(206, "<html>half"), (204, ""), (200, "")] {
        h.sandbox.inject(Fault::status(1, status, body).on_path("/books/v3/invoices").header("content-type", "text/html"));
        let outcome = h.run_as(&connection, "books-get-record-document", document.clone(), None).await;
        assert_eq!(error_of(&outcome)["kind"], "zoho", "{status} {body:?}");
    }
}

/// Break: a modules answer without its list was read as an org without modules.
#[tokio::test(flavor = "multi_thread")]
async fn a_modules_answer_without_its_list_is_an_error() {
    let h = Harness::new().await;
    for body in [r#"{"modules":null}"#, r#"{"modules":{}}"#, "{}"] {
        h.sandbox.inject(Fault::status(1, 200, body).on_path("/crm/v8/settings/modules"));
        assert_eq!(error_of(&h.run("crm-list-modules", json!({})).await)["kind"], "zoho", "{body}");
    }
}
