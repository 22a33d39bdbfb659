//! Zoho's structured field types end to end against the sandbox's Deals (a real org's fields):
//! every valid value of each type is checked, sent as given and stored as Zoho answers it
//! (lookups as `{"name","id"}`, multi-select picklists as lists, subform rows and uploaded
//! files with ids); each invalid one is refused naming the field with nothing sent; a value of
//! the right shape that Zoho still refuses (a lookup to no record, a subform over 100 rows)
//! comes back as Zoho's INVALID_DATA naming the field.

use component_tests::{assert_request, error_of, ok_of, unchecked, Harness};
use serde_json::{json, Value};

/// A deal with a value of every type the Deals module has.
fn every_type(account: &str, contact: &str) -> Value {
    json!({
        "Deal_Name": "Fieldtest renewal",
        "Stage": "Needs Analysis",
        "Closing_Date": "2027-06-30",
        "Amount": "1250.50",
        "Margin": 12.5,
        "Discount": 7,
        "Seats": "40",
        "Probability": 60,
        "Auto_Renew": true,
        "Signed_On": "2027-01-15T10:30:00+05:30",
        "Billing_Contact_Email": "billing@fieldtest.example",
        "Billing_Contact_Phone": "+1 555 0199",
        "Deal_Website": "https://fieldtest.example",
        "Terms": "Net 30.\nRenews yearly.",
        "Account_Name": { "id": account },
        "Contact_Name": { "id": contact, "name": "ignored by Zoho" },
        "Products_Of_Interest": ["Zoho CRM", "Zoho Books"],
        "Competitors": [{ "Competitor": "Globex CRM", "Strength": "Strong", "Quoted_Price": 990.0 }, { "Competitor": "Initech Sales", "Quoted_Price": "1100" }],
        "Signed_Proposal": [{ "file_id": "ae9c7cefa418aec1d6a5cc2d7d5e00a54b7563c0dd42b" }],
        "Site_Photo": [{ "file_id": "b7563c0dd42bae9c7cefa418aec1d6a5cc2d7d5e00a54" }],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_valid_value_of_every_type_is_sent_as_given_and_read_back_as_zoho_answers_it() {
    let h = Harness::new().await;
    let account = h.sandbox.create_record("Accounts", json!({ "Account_Name": "Fieldtest Co" }));
    let contact = h.sandbox.create_record("Contacts", json!({ "Last_Name": "Okafor" }));
    let values = every_type(&account, &contact);
    let outcome = h.run("crm-create-record", json!({ "record-type": "Deals", "values": values, "trigger": [] })).await;
    let id = ok_of(&outcome)["details"]["id"].as_str().expect("id").to_string();
    let requests = h.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Deals")], None);
    assert_request(&requests[1], &h.token, "POST", "/crm/v8/Deals", &[], Some(json!({ "data": [values], "trigger": [] })));

    h.sandbox.clear_requests();
    let outcome = h.run("crm-get-record", json!({ "record-type": "Deals", "record-id": id })).await;
    assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/v8/Deals/{id}"), &[], None);
    let record = ok_of(&outcome).clone();
    let stored = h.sandbox.record("Deals", &id).expect("stored");
    assert_eq!(record, stored);
    assert_eq!(record["Account_Name"], json!({ "name": "Fieldtest Co", "id": account }));
    assert_eq!(record["Contact_Name"], json!({ "name": "Okafor", "id": contact }));
    assert_eq!(record["Products_Of_Interest"], json!(["Zoho CRM", "Zoho Books"]));
    let rows = record["Competitors"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    for (row, given) in rows.iter().zip(values["Competitors"].as_array().expect("given")) {
        let mut without_id = row.clone();
        let row_id = without_id.as_object_mut().and_then(|r| r.remove("id")).expect("each row has an id");
        assert!(row_id.as_str().is_some_and(|i| i.bytes().all(|b| b.is_ascii_digit())), "{row_id}");
        assert_eq!(&without_id, given);
    }
    for (field, file_id) in [("Signed_Proposal", "ae9c7cefa418aec1d6a5cc2d7d5e00a54b7563c0dd42b"), ("Site_Photo", "b7563c0dd42bae9c7cefa418aec1d6a5cc2d7d5e00a54")] {
        let files = record[field].as_array().expect("files");
        assert_eq!(files.len(), 1, "{field}");
        assert_eq!(files[0]["File_Id__s"], file_id, "{field}");
        assert!(files[0]["id"].as_str().is_some(), "{field}");
    }
    assert_eq!((record["Amount"].clone(), record["Seats"].clone(), record["Auto_Renew"].clone()), (json!("1250.50"), json!("40"), json!(true)));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_value_of_each_type_is_refused_naming_the_field_and_nothing_is_sent() {
    let h = Harness::new().await;
    let account = h.sandbox.create_record("Accounts", json!({ "Account_Name": "Fieldtest Co" }));
    let contact = h.sandbox.create_record("Contacts", json!({ "Last_Name": "Okafor" }));
    let count = h.sandbox.record_count("Deals");
    let cases = [
        ("Products_Of_Interest", json!(["Zoho Mail"]), "Products_Of_Interest has \"Zoho Mail\", not one of its picklist values (Zoho CRM, Zoho Books, Zoho Desk, Zoho Projects, Zoho Analytics)"),
        ("Products_Of_Interest", json!("Zoho CRM"), "Products_Of_Interest expects a list of its picklist values, [\"...\"], not a string"),
        ("Products_Of_Interest", json!(["Zoho CRM", 7]), "Products_Of_Interest expects a list of its picklist values, [\"...\"], not an array"),
        ("Account_Name", json!({ "name": "Zylker" }), "Account_Name expects a record, {\"id\": \"...\"} with the record's id (digits), not {\"name\":\"Zylker\"}"),
        ("Contact_Name", json!({ "id": "Okafor" }), "Contact_Name expects a record, {\"id\": \"...\"} with the record's id (digits), not {\"id\":\"Okafor\"}"),
        ("Competitors", json!({ "Competitor": "Globex CRM" }), "Competitors expects a list of rows, [{\"Field\": ...}]"),
        ("Competitors", json!(["Globex CRM"]), "Competitors row 1 is no object; a subform takes a list of rows, [{\"Field\": ...}]"),
        ("Signed_Proposal", json!("ae9c7cefa418"), "Signed_Proposal expects a list of uploaded files, [{\"file_id\": \"...\"}] with the id the Files API gave, not \"ae9c7cefa418\""),
        ("Site_Photo", json!([{ "file_id": "" }]), "Site_Photo expects a list of uploaded files, [{\"file_id\": \"...\"}] with the id the Files API gave, not [{\"file_id\":\"\"}]"),
        ("Amount", json!("12,50"), "Amount expects a number, not a string"),
        ("Margin", json!(true), "Margin expects a number, not true or false"),
        ("Seats", json!(2.5), "Seats expects a whole number, not a number"),
        ("Auto_Renew", json!("yes"), "Auto_Renew expects true or false, not a string"),
        ("Signed_On", json!("2027-13-01T10:00:00+05:30"), "Signed_On expects a date-time, yyyy-MM-ddTHH:mm:ss±HH:mm"),
        ("Contract_Start", json!("01/02/2027"), "Contract_Start expects a date, yyyy-MM-dd"),
        ("Billing_Contact_Email", json!("billing"), "Billing_Contact_Email expects an email address"),
        ("PO_Number", json!("P".repeat(51)), "PO_Number is 51 characters; the field takes at most 50"),
        ("Expected_Revenue", json!(5000), "Expected_Revenue is read-only (currency): leave it out"),
    ];
    for (field, bad, says) in cases {
        let mut values = every_type(&account, &contact);
        values[field] = bad.clone();
        let outcome = h.run("crm-create-record", json!({ "record-type": "Deals", "values": values })).await;
        let error = error_of(&outcome);
        assert_eq!(error["kind"], "invalid-input", "{field}: {bad}");
        assert_eq!(
            error["message"],
            format!("Deals: {says}. Nothing was sent. Field names are API names (crm-describe-module lists them); the call option check-fields: false skips this check"),
            "{field}"
        );
        assert_eq!(error["details"]["fields"], json!([{ "record": 1, "field": field, "problem": says.strip_prefix(field).map(str::trim_start) }]), "{field}");
    }
    assert_eq!(h.sandbox.record_count("Deals"), count);
    let requests = h.requests();
    assert_eq!(requests.len(), 1, "only the module's metadata, once: {requests:#?}");
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Deals")], None);
}

/// With the checks off, the sandbox refuses as Zoho does: INVALID_DATA naming the field with
/// the data type it expects (or the maximum length), and nothing is stored. A lookup of the
/// right shape naming no record passes the component's check and is Zoho's to refuse.
#[tokio::test(flavor = "multi_thread")]
async fn zoho_refuses_a_value_its_field_does_not_take_naming_the_field() {
    let h = Harness::new().await;
    let account = h.sandbox.create_record("Accounts", json!({ "Account_Name": "Fieldtest Co" }));
    let contact = h.sandbox.create_record("Contacts", json!({ "Last_Name": "Okafor" }));
    let count = h.sandbox.record_count("Deals");
    let cases = [
        ("Seats", json!("ten"), json!({ "api_name": "Seats", "json_path": "$.data[0].Seats", "expected_data_type": "integer" }), None),
        ("Products_Of_Interest", json!("Zoho CRM"), json!({ "api_name": "Products_Of_Interest", "json_path": "$.data[0].Products_Of_Interest", "expected_data_type": "jsonarray" }), None),
        ("PO_Number", json!("P".repeat(51)), json!({ "api_name": "PO_Number", "json_path": "$.data[0].PO_Number", "maximum_length": "50" }), None),
        ("Account_Name", json!({ "id": "1" }), json!({ "api_name": "Account_Name", "json_path": "$.data[0].Account_Name", "expected_data_type": "lookup" }), Some(true)),
    ];
    for (field, bad, details, checked) in cases {
        let mut values = every_type(&account, &contact);
        values[field] = bad.clone();
        let options = if checked.is_some() { None } else { unchecked() };
        h.sandbox.clear_requests();
        let outcome = h.run_with("crm-create-record", json!({ "record-type": "Deals", "values": values, "trigger": [] }), options).await;
        let error = error_of(&outcome);
        assert_eq!(error["code"], "INVALID_DATA", "{field}: {error}");
        assert_eq!(error["details"]["data"][0]["details"], details, "{field}");
        assert!(error["message"].as_str().unwrap_or("").starts_with(field), "{field}: {error}");
        let posts: Vec<_> = h.requests().into_iter().filter(|r| r.method == "POST").collect();
        assert_eq!(posts.len(), 1, "{field}");
        assert_request(&posts[0], &h.token, "POST", "/crm/v8/Deals", &[], Some(json!({ "data": [values], "trigger": [] })));
    }
    assert_eq!(h.sandbox.record_count("Deals"), count);
}

/// A conversion's deal is a deal like any other: a value its field does not take is Zoho's
/// INVALID_DATA naming it under `Deals`, and nothing is converted; a good one converts, the
/// contact and account made from the lead carrying their mandatory Last_Name and Account_Name,
/// the deal's lookups stored as Zoho answers them.
#[tokio::test(flavor = "multi_thread")]
async fn a_conversions_deal_is_checked_by_its_fields_types() {
    let h = Harness::new().await;
    let lead = h.sandbox.create_record("Leads", json!({ "Last_Name": "Mbeki", "Company": "Typed Inc", "Email": "mbeki@typed.example" }));
    let (deals, contacts, accounts) = (h.sandbox.record_count("Deals"), h.sandbox.record_count("Contacts"), h.sandbox.record_count("Accounts"));
    let bad = json!({ "record-id": lead, "deal": r#"{"Deal_Name":"Typed deal","Stage":"Qualification","Closing_Date":"2027-12-31","Seats":"ten"}"# });
    let error = error_of(&h.run("crm-convert-lead", bad).await).clone();
    assert_eq!((error["code"].as_str(), error["message"].as_str()), (Some("INVALID_DATA"), Some("Seats: invalid data (expects a whole number)")));
    assert_eq!(error["details"]["data"][0]["details"], json!({ "api_name": "Seats", "json_path": "$.data[0].Deals.Seats", "expected_data_type": "integer" }));
    assert!(h.sandbox.record("Leads", &lead).is_some(), "the lead is not converted");
    assert_eq!((h.sandbox.record_count("Deals"), h.sandbox.record_count("Contacts"), h.sandbox.record_count("Accounts")), (deals, contacts, accounts));

    h.sandbox.clear_requests();
    let deal = r#"{"Deal_Name":"Typed deal","Stage":"Qualification","Closing_Date":"2027-12-31","Seats":10,"Products_Of_Interest":["Zoho Desk"]}"#;
    let outcome = h.run("crm-convert-lead", json!({ "record-id": lead, "deal": deal })).await;
    let converted = ok_of(&outcome).clone();
    let (contact, account, deal_id) = (converted["Contacts"].as_str().expect("contact"), converted["Accounts"].as_str().expect("account"), converted["Deals"].as_str().expect("deal"));
    assert_eq!(converted, json!({ "status": "converted", "job_id": null, "Contacts": contact, "Accounts": account, "Deals": deal_id }));
    assert_request(
        &h.only_request(),
        &h.token,
        "POST",
        &format!("/crm/v8/Leads/{lead}/actions/convert"),
        &[],
        Some(json!({ "data": [{ "Deals": serde_json::from_str::<Value>(deal).expect("json") }] })),
    );
    assert_eq!(h.sandbox.record("Contacts", contact).expect("contact")["Last_Name"], "Mbeki");
    assert_eq!(h.sandbox.record("Accounts", account).expect("account")["Account_Name"], "Typed Inc");
    let stored = h.sandbox.record("Deals", deal_id).expect("deal");
    assert_eq!((stored["Seats"].clone(), stored["Products_Of_Interest"].clone()), (json!(10), json!(["Zoho Desk"])));
    assert_eq!(stored["Account_Name"], json!({ "name": "Typed Inc", "id": account }));
}
