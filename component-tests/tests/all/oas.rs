//! Zoho's OpenAPI files judge the end-to-end tests: a CRM exchange they do not document fails
//! the test that made it (component-tests/src/oas.rs), and a fault's hostile answer does not.

use component_tests::{ok_of, Fault, Harness};
use serde_json::json;

const LEAD: &str = "5725767000000524157";

/// Proves the judge is on for every test: a query parameter Get Records does not have fails
/// the test when its harness is dropped, though the step itself succeeded.
#[tokio::test(flavor = "multi_thread")]
#[should_panic(expected = "disagree with Zoho's OpenAPI files")]
async fn an_undocumented_request_fails_the_test_at_its_end() {
    let h = Harness::new().await;
    let outcome = h.run("crm-raw-request", json!({ "url": "/Leads", "query-parameters": { "fields": "Last_Name", "colour": "red" } })).await;
    assert_eq!(ok_of(&outcome)["status"], 200);
}

/// `h.requests()` judges what was answered so far, so the mismatch is named where it happens.
#[tokio::test(flavor = "multi_thread")]
#[should_panic(expected = "query at `/colour`: not a parameter of this operation")]
async fn an_undocumented_request_fails_at_requests() {
    let h = Harness::new().await;
    h.run("crm-raw-request", json!({ "url": "/Leads", "query-parameters": { "fields": "Last_Name", "colour": "red" } })).await;
    let _ = h.requests();
}

/// A path no operation of Zoho's files has fails too (the sandbox's 404 is Zoho's, the request is not).
#[tokio::test(flavor = "multi_thread")]
#[should_panic(expected = "no path template of Zoho's files matches")]
async fn an_undocumented_path_fails_the_test() {
    let h = Harness::new().await;
    h.run("crm-raw-request", json!({ "url": format!("/Leads/{LEAD}/a/b/c") })).await;
    let _ = h.requests();
}

/// A fault answers with a body no Zoho operation documents, on purpose: only its request is
/// judged, so the test passes; the unfaulted retry is judged in full.
#[tokio::test(flavor = "multi_thread")]
async fn a_faults_hostile_answer_is_exempt_but_its_request_is_judged() {
    let h = Harness::new().await;
    h.sandbox.inject(Fault::status(1, 500, "{\"not\":\"zoho\"}").on_path("/crm/"));
    let outcome = h.run("crm-get-record", json!({ "record-type": "Leads", "record-id": LEAD })).await;
    let _ = outcome.result;
    let requests = h.requests();
    assert!(requests.iter().any(|r| r.faulted && r.response_status == Some(500)), "{requests:#?}");
    assert!(requests.iter().filter(|r| !r.faulted).all(|r| r.response_status.is_some()));
}
