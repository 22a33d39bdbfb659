//! The actions that fill a form's dropdowns, end to end: users (List Users, Get User), a
//! module's related lists, custom views and tags, and the events a notification channel can
//! watch; each request exact, each result Zoho's answer as the sandbox sent it, and each
//! dropdown's value accepted by the action it feeds.

use component_tests::{assert_request, error_of, ok_of, Fault, Harness};
use serde_json::{json, Value};
use zoho_sandbox::hostile::Hostile;
use zoho_sandbox::RecordedRequest;

const OWNER: &str = "5725767000000411001";

/// The JSON the sandbox answered to a request (what the component read).
fn answered(request: &RecordedRequest) -> Value {
    serde_json::from_slice(request.response_body.as_deref().expect("a JSON answer")).expect("JSON")
}

fn ids(users: &Value) -> Vec<String> {
    users["users"].as_array().expect("users").iter().map(|u| u["id"].as_str().expect("id")[17..].to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_users_sends_zohos_type_and_paging_and_returns_its_page() {
    let h = Harness::new().await;
    let all = ok_of(&h.run("crm-list-users", json!({})).await).clone();
    let request = h.only_request();
    assert_request(&request, &h.token, "GET", "/crm/v8/users", &[("type", "AllUsers"), ("page", "1"), ("per_page", "200")], None);
    assert_eq!(all, answered(&request));
    assert_eq!(ids(&all), ["01", "02", "03", "04", "05", "06", "07"]);
    assert_eq!(all["info"], json!({ "per_page": 200, "count": 7, "page": 1, "more_records": false }));
    // Unicode names pass through untouched.
    assert_eq!((all["users"][1]["full_name"].as_str(), all["users"][2]["full_name"].as_str()), (Some("Zoë Ångström"), Some("山田 太郎")));

    for (kind, page, per_page, expected, more) in [
        ("ActiveUsers", 2, 2, vec!["03", "04"], true),
        ("DeactiveUsers", 1, 200, vec!["05", "07"], false),
        ("DeletedUsers", 1, 200, vec!["08"], false),
        ("AdminUsers", 1, 200, vec!["01", "03", "07"], false),
        ("ActiveConfirmedAdmins", 1, 1, vec!["01"], true),
        ("CurrentUser", 1, 200, vec!["01"], false),
    ] {
        h.sandbox.clear_requests();
        let listed = ok_of(&h.run("crm-list-users", json!({ "type": kind, "page": page, "per-page": per_page })).await).clone();
        let request = h.only_request();
        assert_request(&request, &h.token, "GET", "/crm/v8/users", &[("type", kind), ("page", &page.to_string()), ("per_page", &per_page.to_string())], None);
        assert_eq!(listed, answered(&request), "{kind}");
        assert_eq!((ids(&listed), listed["info"]["more_records"].as_bool()), (expected.iter().map(|s| s.to_string()).collect(), Some(more)), "{kind}");
    }

    // Past the last page Zoho answers 204: an empty page that says so.
    h.sandbox.clear_requests();
    let past = ok_of(&h.run("crm-list-users", json!({ "type": "NotConfirmedUsers", "page": 3, "per-page": 1 })).await).clone();
    assert_eq!(h.requests().len(), 1);
    assert_eq!(h.requests()[0].response_status, Some(204));
    assert_eq!(past, json!({ "users": [], "info": { "count": 0, "more_records": false, "page": 3, "per_page": 1 } }));
}

#[tokio::test(flavor = "multi_thread")]
async fn list_users_refuses_what_zoho_would_before_sending() {
    let h = Harness::new().await;
    for (input, says) in [
        (json!({ "type": "Admins" }), "type \"Admins\" is not one of Zoho's user types: AllUsers, ActiveUsers, DeactiveUsers, ConfirmedUsers, NotConfirmedUsers, DeletedUsers, ActiveConfirmedUsers, AdminUsers, ActiveConfirmedAdmins, CurrentUser"),
        (json!({ "type": "allusers" }), "type \"allusers\" is not one of Zoho's user types"),
        (json!({ "per-page": 0 }), "per-page 0 is out of range: Zoho returns 1 to 200 records per page"),
        (json!({ "per-page": 201 }), "per-page 201 is out of range"),
        (json!({ "per-page": u32::MAX }), "per-page 4294967295 is out of range"),
        (json!({ "page": 0 }), "page starts at 1"),
    ] {
        let error = error_of(&h.run("crm-list-users", input.clone()).await).clone();
        assert_eq!((error["kind"].as_str(), error["status"].as_u64()), (Some("invalid-input"), None), "{input}");
        assert!(error["message"].as_str().unwrap_or("").starts_with(says), "{input}: {error}");
    }
    assert!(h.requests().is_empty(), "nothing is sent: {:?}", h.requests());
    // The sandbox refuses what Zoho does: a page past 200 users (INVALID_DATA naming per_page).
    let raw = json!({ "url": "/users?type=ActiveUsers&per_page=201", "method": "GET" });
    let answer = ok_of(&h.run("crm-raw-request", raw).await).clone();
    let body = &answer["body"]["json"];
    let body = body.as_str().map_or_else(|| body.clone(), |t| serde_json::from_str::<Value>(t).expect("JSON"));
    assert_eq!(
        (answer["status"].as_u64(), body),
        (Some(400), json!({ "code": "INVALID_DATA", "details": { "param_name": "per_page" }, "message": "per_page must be between 1 and 200", "status": "error" }))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_answers_to_list_users_are_typed_errors() {
    let h = Harness::new().await;
    let cases: [(&str, &str); 6] = [
        ("<html>maintenance</html>", "not JSON"),
        (r#"{"users":"everyone","info":{}}"#, "without a users list"),
        (r#"{"info":{"count":1}}"#, "without a users list"),
        (r#"{"users":[1,2]}"#, "a users item that is a number, not an object"),
        (r#"{"users":[{"id":"1"},{"id":"2"},{"id":"3"}]}"#, "lists more than 2 items"),
        (r#"[{"users":[]}]"#, "not JSON"),
    ];
    for (body, says) in cases {
        h.sandbox.clear_requests();
        h.sandbox.inject(Fault::status(1, 200, body).on_path("/crm/v8/users"));
        let error = error_of(&h.run("crm-list-users", json!({ "per-page": 2 })).await).clone();
        assert_eq!((error["kind"].as_str(), error["status"].as_u64()), (Some("zoho"), Some(200)), "{body}");
        assert!(error["message"].as_str().unwrap_or("").contains(says), "{body}: {error}");
        assert_eq!(h.requests().len(), 1, "{body}: no retry of a malformed answer");
    }
    h.sandbox.inject(Fault::status(1, 200, "").on_path("/crm/v8/users").hostile(Hostile::Oversized { bytes: (2 << 20) + 1 }));
    let error = error_of(&h.run("crm-list-users", json!({})).await).clone();
    assert!(error["message"].as_str().unwrap_or("").contains("more than the 2097152 a metadata answer is read up to"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn get_user_reads_one_user_and_a_user_zoho_lacks_is_not_found() {
    let h = Harness::new().await;
    let user = ok_of(&h.run("crm-get-user", json!({ "user-id": OWNER })).await).clone();
    let request = h.only_request();
    assert_request(&request, &h.token, "GET", &format!("/crm/v8/users/{OWNER}"), &[], None);
    assert_eq!(user, answered(&request)["users"][0]);
    assert_eq!((user["full_name"].as_str(), user["email"].as_str()), (Some("Sandbox User"), Some("owner@sandbox.zoho")));

    // Ids at the edges of Zoho's 64-bit ids: the largest is sent (and Zoho has no such user).
    for id in ["5725767000000411099", "18446744073709551615", "1"] {
        h.sandbox.clear_requests();
        let error = error_of(&h.run("crm-get-user", json!({ "user-id": id })).await).clone();
        assert_eq!(error, json!({ "kind": "not-found", "status": 204, "code": null, "message": format!("no user has id {id}"), "details": null, "retry-after-ms": null }));
        assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/v8/users/{id}"), &[], None);
    }
    // Past u64, signed, exponent, non-ASCII digits, a path: refused before sending.
    h.sandbox.clear_requests();
    for id in ["18446744073709551616", "-1", "1e3", "١٢٣", "", "1/../org", "12 34"] {
        let error = error_of(&h.run("crm-get-user", json!({ "user-id": id })).await).clone();
        assert_eq!(error["kind"], "invalid-input", "{id}");
        assert!(error["message"].as_str().unwrap_or("").starts_with("user-id "), "{id}: {error}");
    }
    assert!(h.requests().is_empty());
    // Zoho's other wording of an unknown id (Kaizen #51: INVALID_DATA "The ID given seems to be invalid").
    h.sandbox.inject(Fault::status(1, 400, r#"{"code":"INVALID_DATA","details":{},"message":"the id given seems to be invalid","status":"error"}"#).on_path("/crm/v8/users/"));
    let error = error_of(&h.run("crm-get-user", json!({ "user-id": "42" })).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str(), error["status"].as_u64()), (Some("not-found"), Some("INVALID_DATA"), Some(400)));
    // A hostile answer: a nest of arrays where the user should be.
    h.sandbox.inject(Fault::status(1, 200, r#"{"users":[[[[]]]]}"#).on_path("/crm/v8/users/"));
    let error = error_of(&h.run("crm-get-user", json!({ "user-id": "42" })).await).clone();
    assert_eq!(error["kind"], "zoho");
}

#[tokio::test(flavor = "multi_thread")]
async fn related_lists_feed_get_related_records() {
    let h = Harness::new().await;
    let listed = ok_of(&h.run("crm-list-related-lists", json!({ "record-type": "Accounts" })).await).clone();
    let request = h.only_request();
    assert_request(&request, &h.token, "GET", "/crm/v8/settings/related_lists", &[("module", "Accounts")], None);
    assert_eq!(listed, answered(&request));
    let names: Vec<&str> = listed["related_lists"].as_array().expect("lists").iter().filter_map(|l| l["api_name"].as_str()).collect();
    assert!(names.contains(&"Contacts") && names.contains(&"Deals") && names.contains(&"Notes"), "{names:?}");

    // Each choice is a related list Get Related Records reads.
    let account = h.sandbox.create_record("Accounts", json!({ "Account_Name": "Dropdown Ltd" }));
    for name in names {
        let outcome = h.run("crm-get-related-records", json!({ "record-type": "Accounts", "record-id": account, "related-list": name, "fields": "id" })).await;
        assert!(outcome.result.is_ok(), "{name}: {:?}", outcome.result);
    }

    h.sandbox.clear_requests();
    let error = error_of(&h.run("crm-list-related-lists", json!({ "record-type": "Nope" })).await).clone();
    assert_eq!(
        error,
        json!({ "kind": "zoho", "status": 400, "code": "INVALID_MODULE", "message": "the module name given seems to be invalid",
            "details": { "param_name": "module", "param": "module" }, "retry-after-ms": null })
    );
    assert_eq!(h.requests().len(), 1);
    let error = error_of(&h.run("crm-list-related-lists", json!({ "record-type": "Leads&module=Deals" })).await).clone();
    assert_eq!(error["kind"], "invalid-input");
    assert_eq!(h.requests().len(), 1, "a bad module name is not sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_views_list_the_modules_views_with_zohos_info() {
    let h = Harness::new().await;
    let listed = ok_of(&h.run("crm-list-custom-views", json!({ "record-type": "Leads" })).await).clone();
    let request = h.only_request();
    assert_request(&request, &h.token, "GET", "/crm/v8/settings/custom_views", &[("module", "Leads")], None);
    assert_eq!(listed, answered(&request));
    let names: Vec<&str> = listed["custom_views"].as_array().expect("views").iter().filter_map(|v| v["display_value"].as_str()).collect();
    assert_eq!(names, ["All Leads", "My open items", "Führungskräfte ★ 東京"]);
    assert_eq!(listed["info"]["default"], listed["custom_views"][0]["id"]);

    // A view's id is Get Records' cvid.
    h.sandbox.clear_requests();
    let cvid = listed["custom_views"][2]["id"].as_str().expect("id").to_string();
    let outcome = h.run("crm-get-records", json!({ "record-type": "Leads", "cvid": cvid, "fields": "Last_Name", "per-page": 1 })).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert!(h.requests()[0].query.contains(&("cvid".to_string(), cvid)));

    h.sandbox.clear_requests();
    let error = error_of(&h.run("crm-list-custom-views", json!({ "record-type": "Unknown_Module__c" })).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str(), error["status"].as_u64()), (Some("zoho"), Some("INVALID_MODULE"), Some(400)));
    // A hostile answer: far more views than Zoho's page of 200.
    let many = format!("{{\"custom_views\":[{}],\"info\":{{}}}}", vec![r#"{"id":"1"}"#; 201].join(","));
    h.sandbox.inject(Fault::status(1, 200, &many).on_path("/crm/v8/settings/custom_views"));
    let error = error_of(&h.run("crm-list-custom-views", json!({ "record-type": "Leads" })).await).clone();
    assert!(error["message"].as_str().unwrap_or("").contains("lists more than 200 items"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_list_the_modules_tags_and_feed_add_and_remove_tags() {
    let h = Harness::new().await;
    let lead = h.sandbox.create_record("Leads", json!({ "Last_Name": "Tagged", "Email": "tags@example.com" }));
    let add = json!({ "record-type": "Leads", "record-ids": [lead], "tags": ["VIP", "Ünïcode ✓ 東京"] });
    assert!(h.run("crm-add-tags", add).await.result.is_ok());
    h.sandbox.clear_requests();
    let listed = ok_of(&h.run("crm-list-tags", json!({ "record-type": "Leads" })).await).clone();
    let request = h.only_request();
    assert_request(&request, &h.token, "GET", "/crm/v8/settings/tags", &[("module", "Leads")], None);
    assert_eq!(listed, answered(&request));
    let names: Vec<&str> = listed["tags"].as_array().expect("tags").iter().filter_map(|t| t["name"].as_str()).collect();
    // The org's tags of the module first, then those only on records.
    assert_eq!(names, ["Hot", "Partner", "Rückruf ☎ 東京", "VIP", "Ünïcode ✓ 東京"]);
    assert_eq!(listed["info"], json!({ "count": 5, "allowed_count": 100 }));

    // A listed tag's name is what Remove Tags takes.
    let remove = json!({ "record-type": "Leads", "record-ids": [lead], "tags": [names[4]] });
    assert!(h.run("crm-remove-tags", remove).await.result.is_ok());
    assert_eq!(ok_of(&h.run("crm-list-tags", json!({ "record-type": "Leads" })).await)["tags"].as_array().map(Vec::len), Some(4));

    // A module without tags: an empty list.
    let none = ok_of(&h.run("crm-list-tags", json!({ "record-type": "Vendors" })).await).clone();
    assert_eq!(none, json!({ "tags": [], "info": { "count": 0, "allowed_count": 100 } }));
    // Wrong types from a hostile server.
    h.sandbox.inject(Fault::status(1, 200, r#"{"tags":{"name":"VIP"}}"#).on_path("/crm/v8/settings/tags"));
    assert_eq!(error_of(&h.run("crm-list-tags", json!({ "record-type": "Leads" })).await)["kind"], "zoho");
}

#[tokio::test(flavor = "multi_thread")]
async fn notification_events_come_from_one_modules_read_and_enable_a_channel() {
    let h = Harness::new().await;
    let events = ok_of(&h.run("notifications-list-events", json!({})).await).clone();
    let request = h.only_request();
    assert_request(&request, &h.token, "GET", "/crm/v8/settings/modules", &[], None);
    // Every API-supported module of Zoho's list (or custom), four events each, labelled by its plural label.
    let modules = answered(&request)["modules"].as_array().expect("modules").clone();
    let standard = [
        "Leads",
        "Accounts",
        "Contacts",
        "Deals",
        "Campaigns",
        "Tasks",
        "Cases",
        "Events",
        "Calls",
        "Solutions",
        "Products",
        "Vendors",
        "Price_Books",
        "Quotes",
        "Sales_Orders",
        "Purchase_Orders",
        "Invoices",
        "Appointments__s",
        "Appointments_Rescheduled_History__s",
        "Services__s",
    ];
    let expected: Vec<Value> = modules
        .iter()
        .filter(|m| m["api_supported"] == true && (standard.contains(&m["api_name"].as_str().unwrap_or("")) || m["generated_type"] == "custom"))
        .flat_map(|m| {
            let (name, label) = (m["api_name"].as_str().unwrap().to_string(), m["plural_label"].as_str().unwrap().to_string());
            [("create", "created"), ("edit", "edited"), ("delete", "deleted"), ("all", "any change")]
                .map(|(op, said)| json!({ "value": format!("{name}.{op}"), "label": format!("{label}: {said}"), "module": name, "operation": op }))
        })
        .collect();
    assert_eq!(events, json!({ "events": expected }));
    let values: Vec<&str> = events["events"].as_array().unwrap().iter().filter_map(|e| e["value"].as_str()).collect();
    assert!(values.contains(&"Leads.create") && values.contains(&"Deals.all") && !values.iter().any(|v| v.starts_with("Notes.") || v.starts_with("Visits.")), "{values:?}");

    // The choices enable a channel as they are.
    h.sandbox.clear_requests();
    let enable = json!({ "events": ["Leads.create", "Deals.all"], "notify-url": "https://hooks.example.com/zoho", "channel-id": "1000" });
    assert!(h.run("notifications-enable", enable).await.result.is_ok());

    let one = ok_of(&h.run("notifications-list-events", json!({ "record-type": "Deals" })).await).clone();
    assert_eq!(one["events"].as_array().map(Vec::len), Some(4));
    let error = error_of(&h.run("notifications-list-events", json!({ "record-type": "Notes" })).await).clone();
    assert_eq!(error["kind"], "not-found");
    assert!(error["message"].as_str().unwrap_or("").starts_with("Zoho sends no notifications for module Notes"), "{error}");
}

/// The manifest links each of these inputs to the action that lists its choices.
#[test]
fn the_manifest_offers_each_known_set_as_a_dropdown() {
    let manifest: Value = serde_json::from_str(zoho_host::manifest::EMBEDDED).expect("json");
    let input = |action: &str, name: &str| -> Value {
        let action = manifest["actions"].as_array().unwrap().iter().find(|a| a["key"] == action).unwrap_or_else(|| panic!("no {action}"));
        action["inputs"].as_array().unwrap().iter().find(|i| i["key"] == name).unwrap_or_else(|| panic!("no input {name}")).clone()
    };
    for (action, name, source, options, value) in [
        ("crm-get-related-records", "related-list", "crm-list-related-lists", "/related_lists", "api_name"),
        ("crm-get-records", "cvid", "crm-list-custom-views", "/custom_views", "id"),
        ("crm-convert-lead", "assign-to", "crm-list-users", "/users", "id"),
        ("crm-get-user", "user-id", "crm-list-users", "/users", "id"),
        ("crm-add-tags", "tags", "crm-list-tags", "/tags", "name"),
        ("crm-remove-tags", "tags", "crm-list-tags", "/tags", "name"),
        ("notifications-enable", "events", "notifications-list-events", "/events", "value"),
        ("notifications-renew", "events", "notifications-list-events", "/events", "value"),
        ("notifications-list", "module", "crm-list-modules", "/modules", "api_name"),
        ("incremental-update-last-successful-run-date", "record-type", "crm-list-modules", "/modules", "api_name"),
        ("incremental-list-contacts-by-page", "fields", "crm-describe-module", "/fields", "api_name"),
        ("crm-send-email", "from", "crm-list-from-addresses", "/from_addresses", "email"),
        ("crm-list-from-addresses", "user-id", "crm-list-users", "/users", "id"),
    ] {
        let from = &input(action, name)["choices-from"];
        assert_eq!((from["action"].as_str(), from["options"].as_str(), from["value"].as_str()), (Some(source), Some(options), Some(value)), "{action}.{name}: {from}");
    }
    assert_eq!(input("crm-convert-lead", "assign-to")["choices-from"]["input"], json!({ "type": "ActiveUsers" }));
    // New tag names may be typed beside the module's tags; removing takes only existing ones.
    assert_eq!(input("crm-add-tags", "tags")["choices-from"]["open"], true);
    assert!(input("crm-remove-tags", "tags")["choices-from"].get("open").is_none());
    assert_eq!(input("crm-list-users", "type")["options"].as_array().map(Vec::len), Some(10));
    // Zoho's automation triggers are a fixed set (Insert Records v8, `trigger`).
    for action in ["crm-create-record", "crm-update-record", "crm-upsert-records", "crm-find-or-create-record"] {
        let values: Vec<Value> = input(action, "trigger")["options"].as_array().expect("options").iter().map(|o| o["value"].clone()).collect();
        assert_eq!(values, ["workflow", "approval", "blueprint", "orchestration", "pathfinder"], "{action}");
    }
}
