//! Many-record writes end to end: Update Records (`PUT /crm/v8/{module}`) and Delete Records
//! (`DELETE /crm/v8/{module}?ids=`), each record's outcome reported, inputs refused before
//! anything is sent.

use component_tests::{assert_request, error_of, ok_of, unchecked, Harness};
use serde_json::{json, Value};

const FIRST: &str = "5725767000000524157";
const SECOND: &str = "5725767000000524158";
const MISSING: &str = "5725767000000999999";

fn invalid_id(id: &str) -> Value {
    json!({ "code": "INVALID_DATA", "details": { "id": id }, "message": "the id given seems to be invalid", "status": "error" })
}

/// Two records changed and one id Zoho does not have: Zoho's 207, a success listing all three
/// outcomes in the order given, in one request charged one credit per ten records.
#[tokio::test(flavor = "multi_thread")]
async fn update_records_puts_every_record_and_reports_each_outcome() {
    let h = Harness::new().await;
    let values = json!([
        { "id": FIRST, "Lead_Status": "Contacted" },
        { "id": MISSING, "Lead_Status": "Contacted" },
        { "id": SECOND, "Company": "Zylker" },
    ]);
    let outcome = h.run_with("crm-update-records", json!({ "record-type": "Leads", "values": values, "dynamic-fields": { "Company": "Acme" }, "trigger": [] }), unchecked()).await;
    let (first, second) = (h.sandbox.record("Leads", FIRST).expect("first"), h.sandbox.record("Leads", SECOND).expect("second"));
    let success = |stored: &Value| json!({ "code": "SUCCESS", "details": { "Created_By": stored["Created_By"], "Created_Time": stored["Created_Time"], "Modified_By": stored["Modified_By"], "Modified_Time": stored["Modified_Time"], "id": stored["id"] }, "message": "record updated", "status": "success" });
    assert_eq!(ok_of(&outcome), &json!({ "data": [success(&first), invalid_id(MISSING), success(&second)] }));
    assert_eq!(
        (first["Lead_Status"].as_str(), first["Company"].as_str(), second["Company"].as_str()),
        (Some("Contacted"), Some("Acme"), Some("Zylker")),
        "dynamic fields fill in, a record's own value wins"
    );
    let sent = json!({ "data": [
        { "id": FIRST, "Lead_Status": "Contacted", "Company": "Acme" },
        { "id": MISSING, "Lead_Status": "Contacted", "Company": "Acme" },
        { "id": SECOND, "Company": "Zylker" },
    ], "trigger": [] });
    let request = h.only_request();
    assert_request(&request, &h.token, "PUT", "/crm/v8/Leads", &[], Some(sent));
    assert_eq!(request.response_status, Some(207));
}

/// Every record failed: the step's error, carrying every record's outcome.
#[tokio::test(flavor = "multi_thread")]
async fn update_records_all_failed_is_an_error_with_every_outcome() {
    let h = Harness::new().await;
    let other = "5725767000000999998";
    let outcome =
        h.run_with("crm-update-records", json!({ "record-type": "Leads", "values": [{ "id": MISSING, "Lead_Status": "Contacted" }, { "id": other, "Lead_Status": "Contacted" }] }), unchecked()).await;
    let error = error_of(&outcome);
    assert_eq!((error["status"].as_u64(), error["code"].as_str()), (Some(400), Some("INVALID_DATA")), "{error}");
    assert_eq!(error["details"]["data"], json!([invalid_id(MISSING), invalid_id(other)]));
    assert_eq!(h.requests().len(), 1);
}

/// Ten records cost Zoho one credit per ten: a 100-record update is charged 10.
#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_record_update_is_one_request_of_ten_credits() {
    let h = Harness::new().await;
    let ids: Vec<String> = (0..100).map(|_| h.sandbox.create_record("Leads", json!({ "Last_Name": "Many" }))).collect();
    let values: Vec<Value> = ids.iter().map(|id| json!({ "id": id, "Lead_Status": "Contacted" })).collect();
    let outcome = h.run_with("crm-update-records", json!({ "record-type": "Leads", "values": values }), unchecked()).await;
    let data = ok_of(&outcome)["data"].as_array().expect("data").clone();
    assert_eq!(data.len(), 100);
    assert!(data.iter().zip(&ids).all(|(item, id)| item["status"] == "success" && item["details"]["id"] == id.as_str()));
    assert_eq!(h.requests().len(), 1);
    let hour = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64 / 3_600_000;
    let spent: u64 = h.stored_raw(&format!("limits/credits/{hour}")).and_then(|b| String::from_utf8(b).ok()?.parse().ok()).unwrap_or(0);
    assert_eq!(spent, 10, "Zoho charges 1 credit per 10 records updated");
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_records_deletes_each_id_and_reports_each_outcome() {
    let h = Harness::new().await;
    let outcome = h.run("crm-remove-records", json!({ "record-type": "Leads", "record-ids": [FIRST, MISSING, SECOND], "trigger": false })).await;
    let deleted = |id: &str| json!({ "code": "SUCCESS", "details": { "id": id }, "message": "record deleted", "status": "success" });
    assert_eq!(ok_of(&outcome), &json!({ "data": [deleted(FIRST), invalid_id(MISSING), deleted(SECOND)] }));
    assert_request(&h.only_request(), &h.token, "DELETE", "/crm/v8/Leads", &[("ids", &format!("{FIRST},{MISSING},{SECOND}")), ("wf_trigger", "false")], None);
    assert!(h.sandbox.record("Leads", FIRST).is_none() && h.sandbox.record("Leads", SECOND).is_none());

    let outcome = h.run("crm-remove-records", json!({ "record-type": "Leads", "record-ids": [FIRST, SECOND] })).await;
    let error = error_of(&outcome);
    assert_eq!(error["details"]["data"], json!([invalid_id(FIRST), invalid_id(SECOND)]), "{error}");
    assert_request(&h.requests()[1], &h.token, "DELETE", "/crm/v8/Leads", &[("ids", &format!("{FIRST},{SECOND}"))], None);
}

/// Each bad input is refused with what to fix, before any request (the field checks' metadata
/// read included).
#[tokio::test(flavor = "multi_thread")]
async fn bad_many_record_inputs_are_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    let many: Vec<Value> = (0..101).map(|n| json!({ "id": format!("{}", 5725767000000600000u64 + n), "Lead_Status": "Contacted" })).collect();
    let ids: Vec<String> = (0..101).map(|n| format!("{}", 5725767000000600000u64 + n)).collect();
    let cases = [
        ("crm-update-records", json!({ "record-type": "Leads", "values": { "id": FIRST, "Lead_Status": "Contacted" } }), "values must be a JSON array of records"),
        ("crm-update-records", json!({ "record-type": "Leads", "values": [{ "Lead_Status": "Contacted" }] }), "values[0] has no \"id\""),
        ("crm-update-records", json!({ "record-type": "Leads", "values": [{ "id": 5725767000000524157u64 }] }), "values[0] has \"id\": a number, not a string of digits"),
        ("crm-update-records", json!({ "record-type": "Leads", "values": [{ "id": "57257670000005241\u{202e}57" }] }), "is not a Zoho record id"),
        ("crm-update-records", json!({ "record-type": "Leads", "values": [{ "id": FIRST }, { "id": FIRST, "Company": "x" }] }), "values[1] names record 5725767000000524157 again"),
        ("crm-update-records", json!({ "record-type": "Leads", "values": many }), "values holds more than 100 records"),
        ("crm-update-records", json!({ "record-type": "Leads", "values": [{ "id": FIRST }], "trigger": ["everything"] }), "trigger \"everything\" is not one of"),
        ("crm-update-records", json!({ "record-type": "Leads/../x", "values": [{ "id": FIRST }] }), "record-type"),
        ("crm-remove-records", json!({ "record-type": "Leads", "record-ids": [] }), "record-ids holds 0 ids; Zoho takes 1 to 100"),
        ("crm-remove-records", json!({ "record-type": "Leads", "record-ids": ids }), "record-ids holds 101 ids"),
        ("crm-remove-records", json!({ "record-type": "Leads", "record-ids": [FIRST, SECOND, FIRST] }), "record-ids names 5725767000000524157 twice"),
        // Zoho reads an id as a number: a leading zero names the same record again.
        ("crm-remove-records", json!({ "record-type": "Leads", "record-ids": [FIRST, format!("0{FIRST}")] }), "record-ids names 05725767000000524157 twice"),
        ("crm-update-records", json!({ "record-type": "Leads", "values": [{ "id": format!("0{FIRST}") }, { "id": FIRST }] }), "values[1] names record 5725767000000524157 again"),
        ("crm-remove-records", json!({ "record-type": "Leads", "record-ids": ["18446744073709551616"] }), "is not a Zoho record id"),
        ("crm-remove-records", json!({ "record-type": "Leads", "record-ids": ["1,2"] }), "is not a Zoho record id"),
    ];
    for (action, input, says) in cases {
        let outcome = h.run(action, input.clone()).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{input}: {error}");
        assert!(error["message"].as_str().unwrap_or("").contains(says), "{input}: {error}");
    }
    assert!(h.requests().is_empty(), "{:?}", h.requests());
}

/// The field checks run on every record of an update, naming the record and the field.
#[tokio::test(flavor = "multi_thread")]
async fn update_records_checks_every_records_fields_before_sending() {
    let h = Harness::new().await;
    let outcome = h.run("crm-update-records", json!({ "record-type": "Leads", "values": [{ "id": FIRST, "Lead_Status": "Contacted" }, { "id": SECOND, "Titel": "CEO" }] })).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "invalid-input", "{error}");
    assert!(error["message"].as_str().unwrap_or("").contains("Titel is not a field of the module"), "{error}");
    let requests = h.requests();
    assert_eq!(requests.len(), 1, "only the module's field metadata is read");
    assert_eq!((requests[0].method.as_str(), requests[0].path.as_str()), ("GET", "/crm/v8/settings/fields"));
}
