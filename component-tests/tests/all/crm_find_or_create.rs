//! Find or Create Record end to end: a record found is returned and never written to; none
//! found is created; several are a conflict creating nothing; bad input sends nothing.

use component_tests::{assert_request, error_of, ok_of, unchecked, Harness};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_record_found_is_returned_unchanged_with_one_search() {
    let h = Harness::new().await;
    let id = h.sandbox.create_record("Leads", json!({ "Last_Name": "Doe", "Email": "jane@zylker.com", "Lead_Status": "New" }));
    let before = h.sandbox.record("Leads", &id).expect("stored");
    let count = h.sandbox.record_count("Leads");
    let outcome = h.run("crm-find-or-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe", "Email": "jane@zylker.com", "Lead_Status": "Qualified" } })).await;
    let answer = ok_of(&outcome);
    assert_eq!((answer["found"].clone(), answer["created"].clone(), answer["id"].clone()), (json!(true), json!(false), json!(id)));
    assert_eq!(answer["record"]["Lead_Status"], "New");
    assert_eq!(answer["record"]["id"], json!(id));
    // Nothing written: the stored record and the module are as they were.
    assert_eq!(h.sandbox.record("Leads", &id).expect("stored"), before);
    assert_eq!(h.sandbox.record_count("Leads"), count);
    // The values are checked against the module's fields (one metadata call an hour), then searched.
    let requests = h.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Leads")], None);
    assert_request(&requests[1], &h.token, "GET", "/crm/v8/Leads/search", &[("criteria", "(Email:equals:jane@zylker.com)"), ("per_page", "10")], None);
}

#[tokio::test(flavor = "multi_thread")]
async fn none_found_is_created_as_given() {
    let h = Harness::new().await;
    let count = h.sandbox.record_count("Leads");
    let values = json!({ "Last_Name": "Roe", "Email": "new.one@zylker.com", "Company": "Zylker (EU)" });
    let outcome = h.run("crm-find-or-create-record", json!({ "record-type": "Leads", "values": values, "trigger": [] })).await;
    let answer = ok_of(&outcome);
    let id = answer["id"].as_str().expect("the created id").to_string();
    assert_eq!((answer["found"].clone(), answer["created"].clone()), (json!(false), json!(true)));
    assert_eq!(answer["record"]["id"], json!(id));
    assert_eq!(answer["outcome"]["code"], "SUCCESS");
    assert_eq!(h.sandbox.record_count("Leads"), count + 1);
    let stored = h.sandbox.record("Leads", &id).expect("stored");
    assert_eq!((stored["Last_Name"].clone(), stored["Company"].clone()), (json!("Roe"), json!("Zylker (EU)")));
    let requests = h.requests();
    assert_eq!(requests.len(), 3, "{requests:#?}");
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Leads")], None);
    assert_request(&requests[1], &h.token, "GET", "/crm/v8/Leads/search", &[("criteria", "(Email:equals:new.one@zylker.com)"), ("per_page", "10")], None);
    assert_request(&requests[2], &h.token, "POST", "/crm/v8/Leads", &[], Some(json!({ "data": [values], "trigger": [] })));
}

#[tokio::test(flavor = "multi_thread")]
async fn several_matches_are_a_conflict_naming_them_and_nothing_is_created() {
    let h = Harness::new().await;
    let first = h.sandbox.create_record("Leads", json!({ "Last_Name": "Twin", "Company": "Zylker, Inc." }));
    let second = h.sandbox.create_record("Leads", json!({ "Last_Name": "Twin", "Company": "Zylker, Inc." }));
    let count = h.sandbox.record_count("Leads");
    let input = json!({ "record-type": "Leads", "values": { "Last_Name": "Twin", "Company": "Zylker, Inc." }, "search-fields": ["Last_Name", "Company"] });
    let outcome = h.run_with("crm-find-or-create-record", input, unchecked()).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "conflict");
    assert_eq!(error["details"], json!({ "ids": [first, second], "more_records": false }));
    assert!(error["message"].as_str().unwrap().starts_with("2 Leads records match on Last_Name, Company"), "{error}");
    assert_eq!(h.sandbox.record_count("Leads"), count);
    // The comma in the value is escaped as Zoho's search requires.
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Leads/search", &[("criteria", "((Last_Name:equals:Twin)and(Company:equals:Zylker\\, Inc.))"), ("per_page", "10")], None);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    for (input, says) in [
        (json!({ "record-type": "Leads", "values": [{ "Email": "a@b.c" }] }), "one JSON object"),
        (json!({ "record-type": "Leads", "values": { "Last_Name": "Doe", "Email": "a@b.c" }, "search-fields": ["Phone"] }), "no value for the search field Phone"),
        (json!({ "record-type": "Leads", "values": { "Email": "a@b.c" }, "search-fields": ["E mail"] }), "search-fields"),
        (json!({ "record-type": "Leads", "values": { "Email": "a@b.c" }, "trigger": ["all"] }), "trigger"),
        (json!({ "record-type": "Le ads", "values": { "Email": "a@b.c" } }), "record-type"),
    ] {
        let outcome = h.run("crm-find-or-create-record", input.clone()).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{input}");
        assert!(error["message"].as_str().unwrap().contains(says), "{input}: {error}");
        let sent: Vec<_> = h.requests().into_iter().filter(|r| r.path != "/crm/v8/settings/fields").collect();
        assert!(sent.is_empty(), "{input} sent {sent:#?}");
    }
}
