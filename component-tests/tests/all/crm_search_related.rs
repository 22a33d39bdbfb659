//! Search Records and Get Related Records end to end: the exact requests, Zoho's criteria
//! grammar and escapes read back by the sandbox, paging limits, errors and hostile answers.

use component_tests::{assert_request, error_of, ok_of, Fault, Harness};
use proptest::strategy::{Strategy, ValueTree};
use serde_json::{json, Value};

/// The first seeded id; leads, 2,600 contacts, small modules, then accounts and deals follow.
const BASE: u64 = 5725767000000524157;

fn id(offset: u64) -> String {
    (BASE + offset).to_string()
}

fn contact_id(i: u64) -> String {
    id(2 + i)
}

/// Zylker, the first seeded account, and its deal.
fn zylker() -> String {
    id(2630)
}

fn info(count: usize, page: u32, per_page: u32, more: bool) -> Value {
    json!({ "per_page": per_page, "count": count, "page": page, "more_records": more })
}

fn empty(page: u32, per_page: u32) -> Value {
    json!({ "data": [], "info": { "count": 0, "more_records": false, "page": page, "per_page": per_page } })
}

/// The JSON body of a raw request's answer.
fn raw_body(outcome: &zoho_host::StepOutcome) -> Value {
    serde_json::from_str(ok_of(outcome)["body"]["json"].as_str().expect("a json body")).expect("json")
}

fn invalid(outcome: &zoho_host::StepOutcome) -> String {
    let error = error_of(outcome);
    assert_eq!(error["kind"], "invalid-input", "{error}");
    error["message"].as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_json_criteria_is_escaped_and_the_sandbox_finds_the_record() {
    let h = Harness::new().await;
    let name = "O'Neil (EU), \\ \"Ltd\" Ünïcødé 日本 :x";
    let created = h.sandbox.create_record("Contacts", json!({ "Last_Name": name, "First_Name": "Ann" }));
    // Written out: the caller's key order is the order of the conditions.
    let criteria = format!(r#"{{"Last_Name":{},"First_Name":"Ann"}}"#, json!(name));
    let outcome = h.run("crm-search-records", json!({ "record-type": "Contacts", "criteria": criteria, "fields": "Last_Name,First_Name" })).await;
    // Zoho's escapes: ( ) and , get a backslash; a backslash inside a value is sent as it is.
    let sent = r#"((Last_Name:equals:O'Neil \(EU\)\, \ "Ltd" Ünïcødé 日本 :x)and(First_Name:equals:Ann))"#;
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Contacts/search", &[("criteria", sent), ("fields", "Last_Name,First_Name"), ("page", "1"), ("per_page", "200")], None);
    assert_eq!(ok_of(&outcome), &json!({ "data": [{ "id": created, "Last_Name": name, "First_Name": "Ann" }], "info": info(1, 1, 200, false) }));
}

#[tokio::test(flavor = "multi_thread")]
async fn zohos_criteria_text_is_sent_as_given_with_its_operators() {
    let h = Harness::new().await;
    let criteria = "((Last_Name:starts_with:Number000)and(Mailing_City:in:Austin,Dublin))";
    let outcome =
        h.run("crm-search-records", json!({ "record-type": "Contacts", "criteria": criteria, "fields": "Last_Name", "page": 1, "per-page": 3, "converted": "both", "approved": "true" })).await;
    assert_request(
        &h.only_request(),
        &h.token,
        "GET",
        "/crm/v8/Contacts/search",
        &[("criteria", criteria), ("fields", "Last_Name"), ("converted", "both"), ("approved", "true"), ("page", "1"), ("per_page", "3")],
        None,
    );
    // Contacts 1..9 in Austin (i % 4 == 0) or Dublin (i % 4 == 2): 2, 4, 6, 8; the first three.
    let rows: Vec<Value> = [2, 4, 6].iter().map(|i| json!({ "id": contact_id(*i), "Last_Name": format!("Number{i:04}") })).collect();
    assert_eq!(ok_of(&outcome), &json!({ "data": rows, "info": info(3, 1, 3, true) }));
    // between, or, not_equal and greater_than on the same grammar.
    let outcome = h.run("crm-search-records", json!({ "record-type": "Deals", "criteria": "((Amount:between:2000,3000)or(Deal_Name:equals:Initech renewal))", "fields": "Deal_Name" })).await;
    let names: Vec<&str> = ok_of(&outcome)["data"].as_array().expect("rows").iter().map(|r| r["Deal_Name"].as_str().expect("name")).collect();
    assert_eq!(names, ["Zoho renewal", "Acme renewal", "Initech renewal"]);
    let outcome = h.run("crm-search-records", json!({ "record-type": "Deals", "criteria": "((Amount:greater_than:3000)and(Deal_Name:not_equal:Initech renewal))", "fields": "Deal_Name" })).await;
    assert_eq!(ok_of(&outcome)["data"], json!([{ "id": id(2637), "Deal_Name": "Globex renewal" }]));
}

#[tokio::test(flavor = "multi_thread")]
async fn email_phone_and_word_searches_and_no_match() {
    let h = Harness::new().await;
    for (param, value, i) in [("email", "CONTACT7@example.com", 7u64), ("phone", "+1 (555) 0042", 42), ("word", "number2600", 2600)] {
        h.sandbox.clear_requests();
        let outcome = h.run("crm-search-records", json!({ "record-type": "Contacts", param: value, "fields": "Email" })).await;
        assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Contacts/search", &[(param, value), ("fields", "Email"), ("page", "1"), ("per_page", "200")], None);
        assert_eq!(ok_of(&outcome), &json!({ "data": [{ "id": contact_id(i), "Email": format!("contact{i}@example.com") }], "info": info(1, 1, 200, false) }), "{param}");
    }
    // Nothing matches: Zoho answers 204, the step an empty page.
    let outcome = h.run("crm-search-records", json!({ "record-type": "Contacts", "word": "nobody-here", "page": 2, "per-page": 50 })).await;
    assert_eq!(h.requests().last().and_then(|r| r.response_status), Some(204));
    assert_eq!(ok_of(&outcome), &empty(2, 50));
}

#[tokio::test(flavor = "multi_thread")]
async fn zohos_search_errors_are_typed_with_their_details() {
    let h = Harness::new().await;
    let run = |criteria: &'static str| h.run("crm-search-records", json!({ "record-type": "Contacts", "criteria": criteria }));
    let outcome = run("(Shoe_Size:equals:9)").await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "zoho", "status": 400, "code": "INVALID_QUERY", "message": "Invalid query formed", "details": { "reason": "the field is not available for search", "api_name": "Shoe_Size" }, "retry-after-ms": null })
    );
    let outcome = run("(Last_Name:like:x)").await;
    assert_eq!(error_of(&outcome)["details"], json!({ "reason": "invalid operator found", "api_name": "Last_Name", "operator": "like" }));
    // A bare comma in a value is Zoho's error when the criteria is given as text.
    let outcome = run("(Last_Name:equals:Doe, John)").await;
    assert_eq!(error_of(&outcome)["details"]["reason"], "a , in a value must be escaped with a backslash");
    let outcome = h.run("crm-search-records", json!({ "record-type": "Nope", "word": "xy" })).await;
    assert_eq!((error_of(&outcome)["code"].as_str(), error_of(&outcome)["status"].as_u64()), (Some("INVALID_MODULE"), Some(400)));
    assert_eq!(h.requests().len(), 4);
    // The sandbox refuses what Zoho refuses, asked directly: past 2,000 records, no term.
    for (query, code) in [("/Contacts/search?word=xy&page=11&per_page=200", "LIMIT_REACHED"), ("/Contacts/search?page=1", "EXPECTED_PARAM_MISSING")] {
        let outcome = h.run("crm-raw-request", json!({ "url": query })).await;
        assert_eq!((ok_of(&outcome)["status"].as_u64(), raw_body(&outcome)["code"].as_str()), (Some(400), Some(code)), "{query}");
    }
    // Two terms: only the first of criteria, email, phone, word counts (Kaizen #30).
    let email = "contact7@example.com";
    let both = h.run("crm-raw-request", json!({ "url": format!("/Contacts/search?word=nothing-matches&email={email}") })).await;
    let alone = h.run("crm-raw-request", json!({ "url": format!("/Contacts/search?email={email}") })).await;
    assert_eq!(ok_of(&both)["status"].as_u64(), Some(200));
    assert_eq!(raw_body(&both), raw_body(&alone));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_search_inputs_are_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    let conditions = |n: usize| format!("({})", vec!["(Last_Name:equals:x)"; n].join("and"));
    let object = |n: usize| json!((1..=n).map(|c| (format!("Custom_Field_{c:02}__c"), json!(format!("L1C{c}")))).collect::<serde_json::Map<_, _>>()).to_string();
    let fields = |n: usize| (1..=n).map(|c| format!("Custom_Field_{c:02}__c")).collect::<Vec<_>>().join(",");
    let cases = [
        (json!({ "record-type": "Contacts" }), "exactly one"),
        (json!({ "record-type": "Contacts", "criteria": "", "email": "  " }), "exactly one"),
        (json!({ "record-type": "Contacts", "criteria": "(Last_Name:equals:x)", "email": "a@b.c" }), "criteria, email"),
        (json!({ "record-type": "Contacts", "word": "xy", "per-page": 0 }), "per-page 0"),
        (json!({ "record-type": "Contacts", "word": "xy", "per-page": 201 }), "per-page 201"),
        (json!({ "record-type": "Contacts", "word": "xy", "page": 0 }), "page starts at 1"),
        (json!({ "record-type": "Contacts", "word": "xy", "page": 23, "per-page": 87 }), "COQL"),
        (json!({ "record-type": "Contacts", "word": "xy", "page": 4_294_967_295u32, "per-page": 200 }), "COQL"),
        (json!({ "record-type": "Contacts", "criteria": conditions(11) }), "more than 10 conditions"),
        (json!({ "record-type": "Leads", "criteria": object(11) }), "11 conditions"),
        (json!({ "record-type": "Leads", "word": "xy", "fields": fields(51) }), "at most 50"),
        (json!({ "record-type": "Contacts", "criteria": "((Last_Name:equals:x)" }), "unbalanced"),
        (json!({ "record-type": "Contacts", "criteria": "(Last_Name:equals:a(b))" }), "escape it"),
        (json!({ "record-type": "Contacts", "criteria": "{\"Last_Name\":null}" }), "is null"),
        (json!({ "record-type": "Contacts", "criteria": "{\"Last Name\":\"x\"}" }), "not a field API name"),
        (json!({ "record-type": "Contacts", "word": "xy", "converted": "maybe" }), "true, false or both"),
        (json!({ "record-type": "Contacts", "word": "xy", "fields": "Email&x=1" }), "not a field API name"),
        (json!({ "record-type": "Contacts/../Leads", "word": "xy" }), "module API name"),
        (json!({ "record-type": "Contacts", "word": "line\nbreak" }), "one line"),
    ];
    for (input, says) in cases {
        let outcome = h.run("crm-search-records", input.clone()).await;
        let message = invalid(&outcome);
        assert!(message.contains(says), "{input}: {message}");
    }
    assert!(h.requests().is_empty(), "nothing is sent, not even a token grant");
    // At the limits the same inputs are sent: 10 conditions, 50 fields, page × per-page = 2,000.
    let outcome = h.run("crm-search-records", json!({ "record-type": "Leads", "criteria": object(10), "fields": fields(50) })).await;
    let lead = ok_of(&outcome)["data"].as_array().expect("rows").clone();
    assert_eq!((lead.len(), lead[0]["id"].as_str(), lead[0].as_object().map(|o| o.len())), (1, Some(id(0).as_str()), Some(51)));
    let outcome = h.run("crm-search-records", json!({ "record-type": "Contacts", "criteria": conditions(10), "page": 10, "per-page": 200 })).await;
    assert_eq!(ok_of(&outcome), &empty(10, 200));
    let outcome = h.run("crm-search-records", json!({ "record-type": "Contacts", "word": "Number", "page": 20, "per-page": 100, "fields": "Last_Name" })).await;
    assert_eq!(ok_of(&outcome)["info"], info(100, 20, 100, true));
    assert_eq!(ok_of(&outcome)["data"][0]["Last_Name"], "Number1901");
    assert_eq!(h.requests().len(), 3);
}

/// Zoho's v8 "Search Records": a backslash is escaped only as a value's last character, and
/// criteria need no parentheses around the whole (Zoho's own sample: `(A) and (B)`).
#[tokio::test(flavor = "multi_thread")]
async fn zohos_escapes_and_criteria_without_outer_parentheses_find_the_records() {
    let h = Harness::new().await;
    let ends = h.sandbox.create_record("Contacts", json!({ "Last_Name": "Ends with K\\", "First_Name": "Kay" }));
    let inside = h.sandbox.create_record("Contacts", json!({ "Last_Name": "C:\\x\\y", "First_Name": "Path" }));
    let burns = h.sandbox.create_record("Contacts", json!({ "Last_Name": "Burns,B", "First_Name": "Monty" }));
    for (criteria, sent, found) in [
        (json!({ "Last_Name": "Ends with K\\" }).to_string(), r"(Last_Name:equals:Ends with K\\)", &ends),
        (json!({ "Last_Name": "C:\\x\\y" }).to_string(), r"(Last_Name:equals:C:\x\y)", &inside),
        ("(Last_Name:equals:Burns\\,B) and (First_Name:starts_with:M)".to_string(), r"(Last_Name:equals:Burns\,B) and (First_Name:starts_with:M)", &burns),
    ] {
        h.sandbox.clear_requests();
        let outcome = h.run("crm-search-records", json!({ "record-type": "Contacts", "criteria": criteria, "fields": "First_Name" })).await;
        assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Contacts/search", &[("criteria", sent), ("fields", "First_Name"), ("page", "1"), ("per_page", "200")], None);
        let first = h.sandbox.record("Contacts", found).expect("record")["First_Name"].clone();
        assert_eq!(ok_of(&outcome), &json!({ "data": [{ "id": found, "First_Name": first }], "info": info(1, 1, 200, false) }), "{sent}");
    }
}

/// What v8 refuses is refused before it is sent (zoho/crm-oas module_search searchRecords:
/// criteria ≤ 3,000 characters, word 2 to 100, phone 3 to 50 and `^[+]?[0-9\s\-\(\)\.]+$`,
/// email ≤ 255); at the limits the search goes out; the sandbox refuses the same.
#[tokio::test(flavor = "multi_thread")]
async fn what_zoho_refuses_in_a_search_is_refused_before_sending() {
    let h = Harness::new().await;
    let long_criteria = |chars: usize| format!("(Last_Name:equals:{})", "z".repeat(chars - 19));
    let too_long = long_criteria(3_001);
    let cases = [
        (json!({ "record-type": "Contacts", "criteria": too_long }), "criteria is 3001 characters as sent"),
        (json!({ "record-type": "Contacts", "word": "x" }), "word is 1 characters"),
        (json!({ "record-type": "Contacts", "word": "w".repeat(101) }), "word is 101 characters"),
        (json!({ "record-type": "Contacts", "phone": "55" }), "phone is 2 characters"),
        (json!({ "record-type": "Contacts", "phone": "5".repeat(51) }), "phone is 51 characters"),
        (json!({ "record-type": "Contacts", "phone": "555-CALL-ME" }), "only digits"),
        (json!({ "record-type": "Contacts", "email": format!("{}@example.com", "e".repeat(244)) }), "email is 256 characters"),
    ];
    for (input, says) in cases {
        let outcome = h.run("crm-search-records", input.clone()).await;
        let message = invalid(&outcome);
        assert!(message.contains(says), "{input}: {message}");
    }
    assert!(h.requests().is_empty(), "nothing is sent");
    // At the limits the search goes out, and Zoho (the sandbox) takes it.
    let at_most = long_criteria(3_000);
    let email = format!("{}@example.com", "e".repeat(243));
    for (param, value) in [("criteria", at_most.as_str()), ("word", "zq"), ("word", &"w".repeat(100)), ("phone", "555"), ("phone", &"5".repeat(50)), ("email", &email)] {
        h.sandbox.clear_requests();
        let outcome = h.run("crm-search-records", json!({ "record-type": "Contacts", param: value })).await;
        assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Contacts/search", &[(param, value), ("page", "1"), ("per_page", "200")], None);
        assert_eq!(ok_of(&outcome), &empty(1, 200), "{param} of {} characters", value.chars().count());
    }
    // The sandbox refuses the same, asked directly, with Zoho's INVALID_REQUEST.
    for (param, value) in [("criteria", too_long.as_str()), ("word", "x"), ("phone", "55"), ("phone", "555-CALL-ME"), ("email", &format!("e{email}"))] {
        let outcome = h.run("crm-raw-request", json!({ "url": "/Contacts/search", "query-parameters": { param: value } })).await;
        let body = raw_body(&outcome);
        assert_eq!((ok_of(&outcome)["status"].as_u64(), body["code"].as_str(), body["details"]["param_name"].as_str()), (Some(400), Some("INVALID_REQUEST"), Some(param)), "{param}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_search_answers_are_refused_or_redacted() {
    let h = Harness::new().await;
    let input = json!({ "record-type": "Contacts", "word": "xy", "per-page": 1 });
    h.sandbox.inject(Fault::status(1, 200, r#"{"data":[{"id":"1"},{"id":"2"}],"info":{"count":2}}"#));
    let outcome = h.run("crm-search-records", input.clone()).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "zoho");
    assert!(error["message"].as_str().unwrap_or("").contains("more than 1 items"), "{error}");
    let echo = format!(r#"{{"data":[{{"id":"1","Last_Name":"{}"}}],"info":{{"count":1,"per_page":1,"page":1,"more_records":false}}}}"#, h.token);
    h.sandbox.inject(Fault::status(1, 200, &echo));
    let outcome = h.run("crm-search-records", input.clone()).await;
    assert_eq!(ok_of(&outcome)["data"], json!([{ "id": "1", "Last_Name": "[redacted]" }]));
    h.sandbox.inject(Fault::status(1, 400, &format!(r#"{{"code":"INVALID_QUERY","message":"bad {}","status":"error","details":{{}}}}"#, h.token)));
    let outcome = h.run("crm-search-records", input).await;
    assert_eq!((error_of(&outcome)["code"].as_str(), error_of(&outcome)["message"].as_str()), (Some("INVALID_QUERY"), Some("bad [redacted]")));
    assert_eq!(h.requests().len(), 3);
}

// Arbitrary Unicode values, as JSON criteria, are escaped by the component and read back by
// the sandbox's criteria parser to the same value: the record holding it is found.
#[tokio::test(flavor = "multi_thread")]
async fn any_unicode_value_is_found_by_its_json_criteria() {
    let h = Harness::new().await;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = "[()\\\\,:\"' a-zÀ-ÿ日本\u{1F600}\u{202E}]{1,24}|\\PC{1,24}";
    for _ in 0..24 {
        let value = strategy.new_tree(&mut runner).expect("a value").current();
        let created = h.sandbox.create_record("Vendors", json!({ "Vendor_Name": value }));
        let outcome = h.run("crm-search-records", json!({ "record-type": "Vendors", "criteria": json!({ "Vendor_Name": value }).to_string(), "fields": "Vendor_Name" })).await;
        // A backslash right before ( ) or , reads two ways under Zoho's escapes: refused.
        let chars: Vec<char> = value.chars().collect();
        if chars.windows(2).any(|w| w[0] == '\\' && matches!(w[1], '(' | ')' | ',')) {
            assert!(invalid(&outcome).contains("backslash right before"), "{value:?}");
            continue;
        }
        let found = ok_of(&outcome)["data"].as_array().expect("rows").iter().any(|r| r["id"] == created.as_str() && r["Vendor_Name"] == value.as_str());
        assert!(found, "{value:?} not found: {}", ok_of(&outcome));
    }
}

/// A stored record limited to `fields` (the id first), as Zoho answers a list.
fn projected(h: &Harness, module: &str, id: &str, fields: &[&str]) -> Value {
    let record = h.sandbox.record(module, id).expect("record");
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(id));
    for f in fields {
        out.insert(f.to_string(), record.get(*f).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

#[tokio::test(flavor = "multi_thread")]
async fn related_lists_come_from_lookups_and_parent_ids() {
    let h = Harness::new().await;
    let account = zylker();
    let outcome = h.run("crm-get-related-records", json!({ "record-type": "Accounts", "record-id": account, "related-list": "Contacts", "fields": "Last_Name,Account_Name" })).await;
    assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/v8/Accounts/{account}/Contacts"), &[("fields", "Last_Name,Account_Name"), ("per_page", "200")], None);
    let contacts: Vec<Value> = [1, 2].iter().map(|i| json!({ "id": contact_id(*i), "Last_Name": format!("Number{i:04}"), "Account_Name": { "id": account, "name": "Zylker" } })).collect();
    assert_eq!(ok_of(&outcome), &json!({ "data": contacts, "info": { "per_page": 200, "next_page_token": null, "count": 2, "page": 1, "more_records": false } }));

    // Deals of a contact (Contact_Name), Notes of an account (Parent_Id).
    let outcome = h.run("crm-get-related-records", json!({ "record-type": "Contacts", "record-id": contact_id(1), "related-list": "Deals", "fields": "Deal_Name" })).await;
    assert_eq!(ok_of(&outcome)["data"], json!([{ "id": id(2631), "Deal_Name": "Zylker renewal" }]));
    let outcome = h.run("crm-get-related-records", json!({ "record-type": "Accounts", "record-id": account, "related-list": "Notes", "fields": "Note_Content" })).await;
    assert_eq!(ok_of(&outcome)["data"], json!([{ "id": id(2624), "Note_Content": "Notes 1" }]));

    // No fields: the related module's fields, looked up once, then the list.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-get-related-records", json!({ "record-type": "Accounts", "record-id": account, "related-list": "Deals", "page": 1, "per-page": 5 })).await;
    let requests = h.requests();
    assert_eq!(requests.len(), 2);
    assert_request(&requests[0], &h.token, "GET", "/crm/v8/settings/fields", &[("module", "Deals")], None);
    // The first 50 of Deals' fields (a real org's: more than 50), the subform left out.
    let all = "id,Owner,Amount,Deal_Name,Closing_Date,Account_Name,Stage,Type,Pipeline,Probability,Expected_Revenue,Next_Step,Lead_Source,Campaign_Source,Contact_Name,Description,\
               Reason_For_Loss__s,Lead_Conversion_Time,Sales_Cycle_Duration,Overall_Sales_Duration,Products_Of_Interest,Signed_Proposal,Site_Photo,Contract_Start,Contract_End,Seats,\
               Discount,Margin,Billing_Frequency,Auto_Renew,Decision_Maker,Partner_Account,Signed_On,PO_Number,Billing_Contact_Email,Billing_Contact_Phone,Deal_Website,Terms,\
               Annual_Value,Budget_Confirmed,Implementation_Partner,Use_Case,Expected_Go_Live,Region,Created_By,Modified_By,Created_Time,Modified_Time,Last_Activity_Time,Change_Log_Time__s"
        .split(',')
        .collect::<Vec<_>>();
    assert_eq!(all.len(), 50);
    assert_request(&requests[1], &h.token, "GET", &format!("/crm/v8/Accounts/{account}/Deals"), &[("fields", &all.join(",")), ("page", "1"), ("per_page", "5")], None);
    assert_eq!(ok_of(&outcome)["data"], json!([projected(&h, "Deals", &id(2631), &all)]));

    // Nothing related: 204, an empty page.
    let outcome = h.run("crm-get-related-records", json!({ "record-type": "Accounts", "record-id": id(2632), "related-list": "Contacts", "fields": "Last_Name" })).await;
    assert_eq!(ok_of(&outcome), &empty(1, 200));
}

#[tokio::test(flavor = "multi_thread")]
async fn related_pages_follow_page_tokens() {
    let h = Harness::new().await;
    let acme = id(2634);
    let ids: Vec<String> = (0..3).map(|i| h.sandbox.create_record("Contacts", json!({ "Last_Name": format!("Acme {i}"), "Account_Name": { "id": acme, "name": "Acme" } }))).collect();
    let input = json!({ "record-type": "Accounts", "record-id": acme, "related-list": "Contacts", "fields": "Last_Name", "per-page": 2 });
    let first = h.run("crm-get-related-records", input.clone()).await;
    let first = ok_of(&first);
    assert_eq!(first["data"], json!([{ "id": ids[0], "Last_Name": "Acme 0" }, { "id": ids[1], "Last_Name": "Acme 1" }]));
    let token = first["info"]["next_page_token"].as_str().expect("a next page token").to_string();
    h.sandbox.clear_requests();
    let mut next = input.clone();
    next["page-token"] = json!(token);
    let second = h.run("crm-get-related-records", next.clone()).await;
    assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/v8/Accounts/{acme}/Contacts"), &[("fields", "Last_Name"), ("page_token", &token), ("per_page", "2")], None);
    assert_eq!(ok_of(&second), &json!({ "data": [{ "id": ids[2], "Last_Name": "Acme 2" }], "info": { "per_page": 2, "next_page_token": null, "count": 1, "page": 2, "more_records": false } }));
    // page and page-token together are refused before sending.
    h.sandbox.clear_requests();
    next["page"] = json!(2);
    assert!(invalid(&h.run("crm-get-related-records", next).await).contains("not both"));
    assert!(h.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn related_errors_and_bad_inputs() {
    let h = Harness::new().await;
    let account = zylker();
    // A custom related list, unknown as a module, needs fields: one metadata look-up, then refused.
    let outcome = h.run("crm-get-related-records", json!({ "record-type": "Accounts", "record-id": account, "related-list": "Contact_Roles" })).await;
    assert!(invalid(&outcome).contains("list the fields"));
    assert_eq!(h.requests().len(), 1);
    // With fields, Zoho answers an unknown related list as an unknown URL.
    let outcome = h.run("crm-get-related-records", json!({ "record-type": "Accounts", "record-id": account, "related-list": "Contact_Roles", "fields": "Name" })).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "not-found", "status": 404, "code": "INVALID_URL_PATTERN", "message": "Please check if the URL trying to access is a correct one", "details": {}, "retry-after-ms": null })
    );
    let outcome = h.run("crm-get-related-records", json!({ "record-type": "Accounts", "record-id": "42", "related-list": "Contacts", "fields": "Last_Name" })).await;
    assert_eq!((error_of(&outcome)["code"].as_str(), error_of(&outcome)["details"].clone()), (Some("INVALID_DATA"), json!({ "resource_path_index": 1 })));
    // Zoho requires fields: the sandbox says so when asked without.
    let outcome = h.run("crm-raw-request", json!({ "url": format!("/Accounts/{account}/Contacts") })).await;
    assert_eq!(raw_body(&outcome), json!({ "code": "REQUIRED_PARAM_MISSING", "details": { "param_name": "fields" }, "message": "One of the expected parameter is missing", "status": "error" }));
    h.sandbox.clear_requests();
    let fifty_one = (0..51).map(|i| format!("F{i}")).collect::<Vec<_>>().join(",");
    let base = json!({ "record-type": "Accounts", "record-id": account, "related-list": "Contacts", "fields": "Last_Name" });
    let with = |key: &str, value: Value| {
        let mut input = base.clone();
        input[key] = value;
        input
    };
    for (input, says) in [
        (with("related-list", json!("Contacts/../Leads")), "related list API name"),
        (with("related-list", json!("C".repeat(51))), "at most 50"),
        (with("related-list", json!("")), "related list API name"),
        (with("record-id", json!("12a")), "record id"),
        (with("per-page", json!(0)), "per-page 0"),
        (with("per-page", json!(201)), "per-page 201"),
        (with("page", json!(0)), "page starts at 1"),
        (with("fields", json!(fifty_one)), "at most 50"),
        (with("page-token", json!("a b")), "page-token"),
    ] {
        let outcome = h.run("crm-get-related-records", input.clone()).await;
        assert!(invalid(&outcome).contains(says), "{input}: {}", invalid(&outcome));
    }
    assert!(h.requests().is_empty());
    // At the limits: a 50-character related list name and 50 fields are sent.
    let fifty = (0..50).map(|i| format!("F{i}")).collect::<Vec<_>>().join(",");
    let outcome = h.run("crm-get-related-records", with("fields", json!(fifty))).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_DATA");
    let outcome = h.run("crm-get-related-records", with("related-list", json!("C".repeat(50)))).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_URL_PATTERN");
    assert_eq!(h.requests().len(), 2);
    // More records than per-page is a hostile answer, refused.
    h.sandbox.inject(Fault::status(1, 200, r#"{"data":[{"id":"1"},{"id":"2"}]}"#));
    let outcome = h.run("crm-get-related-records", with("per-page", json!(1))).await;
    assert!(error_of(&outcome)["message"].as_str().unwrap_or("").contains("more than 1 items"));
}
