//! Zoho Books actions end to end: the envelope, nested resources, organization discovery and
//! caching, paging, search, error mapping and Raw Request.

use component_tests::{assert_request, books_org, error_of, ok_of, with_books_org, Fault, Harness};
use serde_json::{json, Value};
use zoho_sandbox::BOOKS_ORG_ID;

#[tokio::test(flavor = "multi_thread")]
async fn organization_is_discovered_once_and_cached() {
    let h = Harness::new().await;
    let get = json!({ "record-type": "contacts", "record-id": "460000000000001" });
    let outcome = h.run("books-get-record", get.clone()).await;
    assert_eq!(ok_of(&outcome)["contact_name"], "Customer 001");
    let requests = h.requests();
    assert_eq!(requests.len(), 2);
    assert_request(&requests[0], &h.token, "GET", "/books/v3/organizations", &[], None);
    assert_request(&requests[1], &h.token, "GET", "/books/v3/contacts/460000000000001", &[books_org()], None);
    assert_eq!(h.stored_raw("books/organization-id").as_deref(), Some(BOOKS_ORG_ID.as_bytes()));

    h.sandbox.clear_requests();
    ok_of(&h.run("books-get-record", get).await);
    assert_eq!(h.requests().len(), 1, "the organization comes from the cache");
}

#[tokio::test(flavor = "multi_thread")]
async fn several_organizations_without_a_default_is_a_clear_error() {
    let h = Harness::new().await;
    h.sandbox
        .set_books_organizations(vec![json!({ "organization_id": "111", "name": "North", "is_default_org": false }), json!({ "organization_id": "222", "name": "South", "is_default_org": false })]);
    let outcome = h.run("books-get-records", json!({ "record-type": "contacts" })).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "invalid-input");
    assert_eq!(error["message"], "this Zoho account has several Books organizations and none is the default: set books-organization-id to one of North (111), South (222)");
    assert_eq!(h.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_get_update_remove_a_contact() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let outcome = h
        .run_as(
            &connection,
            "books-create-record",
            json!({ "record-type": "contacts", "values": { "contact_name": "Zylker", "email": "ap@zylker.com" }, "dynamic-fields": { "email": "ignored@x.com", "currency_code": "USD" } }),
            None,
        )
        .await;
    let created = ok_of(&outcome).clone();
    let id = created["contact_id"].as_str().expect("id").to_string();
    assert_eq!(Some(created.clone()), h.sandbox.books_record("contacts", None, "contact_id", &id));
    assert_eq!((created["email"].as_str(), created["currency_code"].as_str()), (Some("ap@zylker.com"), Some("USD")));
    assert_request(&h.only_request(), &h.token, "POST", "/books/v3/contacts", &[books_org()], Some(json!({ "contact_name": "Zylker", "email": "ap@zylker.com", "currency_code": "USD" })));

    h.sandbox.clear_requests();
    let outcome = h.run_as(&connection, "books-get-record", json!({ "record-type": "contacts", "record-id": id }), None).await;
    assert_eq!(ok_of(&outcome), &created);

    h.sandbox.clear_requests();
    let outcome = h.run_as(&connection, "books-update-record", json!({ "record-type": "contacts", "record-id": id, "values": { "company_name": "Zylker Inc" } }), None).await;
    assert_eq!(ok_of(&outcome)["company_name"], "Zylker Inc");
    assert_request(&h.only_request(), &h.token, "PUT", &format!("/books/v3/contacts/{id}"), &[books_org()], Some(json!({ "company_name": "Zylker Inc" })));

    h.sandbox.clear_requests();
    let outcome = h.run_as(&connection, "books-remove-record", json!({ "record-type": "contacts", "record-id": id }), None).await;
    assert_eq!(ok_of(&outcome), &json!({ "message": "The contact has been deleted." }));
    assert_request(&h.only_request(), &h.token, "DELETE", &format!("/books/v3/contacts/{id}"), &[books_org()], None);

    let outcome = h.run_as(&connection, "books-get-record", json!({ "record-type": "contacts", "record-id": id }), None).await;
    assert_eq!(error_of(&outcome), &json!({ "kind": "not-found", "status": 404, "code": "1002", "message": "Contact does not exist.", "details": null, "retry-after-ms": null }));
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_page_across_pages_and_search() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let mut names = Vec::new();
    for page in 1..=3 {
        let outcome = h.run_as(&connection, "books-get-records", json!({ "record-type": "contacts", "page": page }), None).await;
        let result = ok_of(&outcome);
        names.extend(result["contacts"].as_array().expect("contacts").iter().map(|c| c["contact_name"].as_str().expect("name").to_string()));
        assert_eq!(result["page_context"]["page"], page);
        assert_eq!(result["page_context"]["has_more_page"], page < 3);
    }
    // 450 customers, then the two vendors (Books keeps vendors as contacts too).
    assert_eq!(names.len(), 452);
    assert_eq!((names[0].as_str(), names[449].as_str(), names[451].as_str()), ("Customer 001", "Customer 450", "Vendor 002"));
    let requests = h.requests();
    assert_request(&requests[2], &h.token, "GET", "/books/v3/contacts", &[books_org(), ("page", "3"), ("per_page", "200")], None);

    h.sandbox.clear_requests();
    let outcome =
        h.run_as(&connection, "books-get-records", json!({ "record-type": "contacts", "search-fields": { "status": "inactive", "contact_name_contains": "customer 1" }, "per-page": 5 }), None).await;
    let found: Vec<&str> = ok_of(&outcome)["contacts"].as_array().expect("contacts").iter().map(|c| c["contact_name"].as_str().expect("name")).collect();
    assert_eq!(found, vec!["Customer 100", "Customer 110", "Customer 120", "Customer 130", "Customer 140"]);
    assert_request(&h.only_request(), &h.token, "GET", "/books/v3/contacts", &[books_org(), ("page", "1"), ("per_page", "5"), ("contact_name_contains", "customer 1"), ("status", "inactive")], None);
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_resources_use_the_parent_path_and_their_own_keys() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let invoice = "460000010000001";
    let outcome = h
        .run_as(
            &connection,
            "books-create-record",
            json!({ "record-type": "comments", "parent-record-type": "invoices", "parent-record-id": invoice, "values": { "description": "Paid by wire" } }),
            None,
        )
        .await;
    assert_eq!(ok_of(&outcome)["description"], "Paid by wire");
    assert_request(&h.only_request(), &h.token, "POST", &format!("/books/v3/invoices/{invoice}/comments"), &[books_org()], Some(json!({ "description": "Paid by wire" })));

    let outcome = h.run_as(&connection, "books-get-records", json!({ "record-type": "comments", "parent-record-type": "invoices", "parent-record-id": invoice }), None).await;
    let comments: Vec<&str> = ok_of(&outcome)["comments"].as_array().expect("comments").iter().map(|c| c["description"].as_str().expect("text")).collect();
    assert_eq!(comments, vec!["Sent by e-mail", "Paid by wire"]);

    // Contact comments come back under contact_comments.
    let contact = "460000000000002";
    ok_of(
        &h.run_as(&connection, "books-create-record", json!({ "record-type": "comments", "parent-record-type": "contacts", "parent-record-id": contact, "values": { "description": "VIP" } }), None)
            .await,
    );
    let outcome = h.run_as(&connection, "books-get-records", json!({ "record-type": "comments", "parent-record-type": "contacts", "parent-record-id": contact }), None).await;
    assert_eq!(ok_of(&outcome)["contact_comments"][0]["description"], "VIP");

    let outcome = h.run_as(&connection, "books-get-records", json!({ "record-type": "comments", "parent-record-type": "invoices" }), None).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    let outcome = h.run_as(&connection, "books-get-records", json!({ "record-type": "comments", "parent-record-type": "invoices", "parent-record-id": "999" }), None).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["code"].as_str()), (Some("not-found"), Some("1002")));
}

#[tokio::test(flavor = "multi_thread")]
async fn books_errors_map_to_kinds() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let get = json!({ "record-type": "invoices", "record-id": "460000010000001" });
    let cases = [
        (401, r#"{"code":57,"message":"You are not authorized to perform this operation"}"#, "forbidden", "57"),
        (429, r#"{"code":44,"message":"You have exceeded the maximum number of API calls"}"#, "rate-limited", "44"),
        (200, r#"{"code":4,"message":"Invalid value passed"}"#, "zoho", "4"),
        (400, r#"{"code":1001,"message":"Invoice number already exists"}"#, "zoho", "1001"),
    ];
    for (status, body, kind, code) in cases {
        h.sandbox.inject(Fault::status(1, status, body).on_path("/books/"));
        let outcome = h.run_as(&connection, "books-get-record", get.clone(), None).await;
        let error = error_of(&outcome);
        assert_eq!((error["kind"].as_str(), error["code"].as_str(), error["status"].as_u64()), (Some(kind), Some(code), Some(status as u64)), "{body}");
    }
    // A revoked platform token: Books' own 401.
    h.sandbox.revoke_token(&h.token);
    let outcome = h.run_as(&connection, "books-get-record", get, None).await;
    assert_eq!(error_of(&outcome)["kind"], "forbidden");
    let outcome = h.run_as(&connection, "books-create-record", json!({ "record-type": "Contacts", "values": {} }), None).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
}

#[tokio::test(flavor = "multi_thread")]
async fn books_raw_request_adds_the_organization() {
    let h = Harness::new().await;
    let outcome = h.run("books-raw-request", json!({ "url": "/items", "query-parameters": { "name_contains": "consult" } })).await;
    let result = ok_of(&outcome);
    assert_eq!(result["status"], 200);
    let body: Value = serde_json::from_str(result["body"]["json"].as_str().expect("json")).expect("json body");
    assert_eq!(body["items"][0]["name"], "Consulting hour");
    let requests = h.requests();
    assert_request(&requests[1], &h.token, "GET", "/books/v3/items", &[("name_contains", "consult"), books_org()], None);

    // An explicit organization_id is not doubled.
    h.sandbox.clear_requests();
    ok_of(&h.run("books-raw-request", json!({ "url": "/items?organization_id=10234696" })).await);
    assert_eq!(h.only_request().query, vec![("organization_id".to_string(), "10234696".to_string())]);
}

/// Taxes, currencies, time entries and contact persons live where Zoho's pages put them
/// (/settings/taxes, /settings/currencies, /projects/timeentries, /contacts/contactpersons), not
/// under /books/v3/{name}, which Zoho does not serve.
#[tokio::test(flavor = "multi_thread")]
async fn grouped_resources_are_sent_to_their_documented_paths() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    let cases = [
        ("taxes", "/books/v3/settings/taxes", json!({ "tax_name": "VAT", "tax_percentage": 20 }), "tax_id", "tax_name", json!({ "tax_name": "VAT 2" })),
        (
            "currencies",
            "/books/v3/settings/currencies",
            json!({ "currency_code": "EUR", "currency_format": "1,234,567.89" }),
            "currency_id",
            "currency_code",
            json!({ "currency_code": "EUR", "currency_format": "1.234.567,89" }),
        ),
        (
            "timeentries",
            "/books/v3/projects/timeentries",
            json!({ "project_id": "460000000044001", "task_id": "460000000044003", "user_id": "460000000024003", "log_date": "2026-12-07", "log_time": "01:30" }),
            "time_entry_id",
            "project_id",
            json!({ "project_id": "460000000044001", "task_id": "460000000044003", "user_id": "460000000024003", "log_date": "2026-12-07", "log_time": "02:00" }),
        ),
        (
            "contactpersons",
            "/books/v3/contacts/contactpersons",
            json!({ "contact_id": "460000000000001", "first_name": "Ada" }),
            "contact_person_id",
            "first_name",
            json!({ "contact_id": "460000000000001", "first_name": "Ada L." }),
        ),
    ];
    for (record_type, path, values, id_field, shown, update) in cases {
        h.sandbox.clear_requests();
        let outcome = h.run_as(&connection, "books-create-record", json!({ "record-type": record_type, "values": values }), None).await;
        let created = ok_of(&outcome).clone();
        assert_request(&h.only_request(), &h.token, "POST", path, &[books_org()], Some(values.clone()));
        let id = created[id_field].as_str().unwrap_or_else(|| panic!("{record_type}: {created}")).to_string();
        assert_eq!(created[shown], values[shown], "{record_type}");

        h.sandbox.clear_requests();
        let outcome = h.run_as(&connection, "books-update-record", json!({ "record-type": record_type, "record-id": id, "values": update }), None).await;
        assert_eq!(ok_of(&outcome)[shown], update[shown], "{record_type}");
        assert_request(&h.only_request(), &h.token, "PUT", &format!("{path}/{id}"), &[books_org()], Some(update.clone()));

        h.sandbox.clear_requests();
        let outcome = h.run_as(&connection, "books-get-records", json!({ "record-type": record_type }), None).await;
        let listed = ok_of(&outcome).as_object().and_then(|o| o.values().find_map(Value::as_array)).cloned().unwrap_or_default();
        assert!(listed.iter().any(|x| x[id_field] == id.as_str()), "{record_type}: {listed:?}");
        assert_request(&h.only_request(), &h.token, "GET", path, &[books_org(), ("page", "1"), ("per_page", "200")], None);

        h.sandbox.clear_requests();
        ok_of(&h.run_as(&connection, "books-remove-record", json!({ "record-type": record_type, "record-id": id }), None).await);
        assert_request(&h.only_request(), &h.token, "DELETE", &format!("{path}/{id}"), &[books_org()], None);
    }

    // The sandbox is as strict as Zoho: the undocumented path is not served.
    let outcome = h.run_as(&connection, "books-raw-request", json!({ "method": "GET", "url": "/taxes" }), None).await;
    let answer = ok_of(&outcome);
    assert_eq!((answer["status"].as_u64(), answer["body"]["json"].as_str()), (Some(404), Some(r#"{"code":5,"message":"Invalid URL Passed"}"#)));
}
