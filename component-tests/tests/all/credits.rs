//! Credits as Zoho charges them and scopes as Zoho enforces them: a write's credits by its
//! records, the org's own figure (`X-API-CREDITS-REMAINING`) raising the budget's use, the
//! credit table read from `/__apis`, Books counted apart and backed off on its 429, and an
//! OAUTH_SCOPE_MISMATCH naming the scopes the action needs.

use component_tests::{assert_request, books_org, error_of, ok_of, runtime, unchecked, with_books_org, Harness};
use serde_json::{json, Value};

const LEAD: &str = "5725767000000524157";

fn hour() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64 / 3_600_000
}

fn set_spent(h: &Harness, credits: u64) {
    runtime().kv().set(&h.namespace, "", &format!("limits/credits/{}", hour()), credits.to_string().as_bytes()).expect("kv");
}

/// The CRM credits this connection counted this hour.
fn spent(h: &Harness) -> u64 {
    h.stored_raw(&format!("limits/credits/{}", hour())).and_then(|b| String::from_utf8(b).ok()?.parse().ok()).unwrap_or(0)
}

fn hundred_leads(tag: &str) -> Value {
    Value::Array((0..100).map(|i| json!({ "Last_Name": format!("{tag} {i}") })).collect())
}

fn free_edition(h: &Harness, credits_used: u64) {
    h.sandbox.set_limits(zoho_sandbox::Limits { edition: "free".into(), users: 3, credits_used, ..Default::default() });
}

/// Zoho charges a 100-record insert 10 credits (1 per 10 records): the sandbox charges 10 and
/// the connection counts 10, where it counted 1.
#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_record_create_counts_ten_credits() {
    let h = Harness::new().await;
    let outcome = h.run_with("crm-create-record", json!({ "record-type": "Leads", "values": hundred_leads("Bulk") }), unchecked()).await;
    assert_eq!(ok_of(&outcome)["data"].as_array().map(Vec::len), Some(100));
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/Leads", &[], Some(json!({ "data": hundred_leads("Bulk") })));
    assert_eq!(h.sandbox.usage(), (1, 10), "Zoho's table: 10 credits");
    assert_eq!(spent(&h), 10, "the connection counts what Zoho charges");
    // A 25-record upsert: 3 credits.
    let values: Vec<Value> = (0..25).map(|i| json!({ "Last_Name": "Up", "Email": format!("up{i}@example.com") })).collect();
    h.sandbox.clear_requests();
    ok_of(&h.run_with("crm-upsert-records", json!({ "record-type": "Leads", "values": values }), unchecked()).await);
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/Leads/upsert", &[], Some(json!({ "data": values })));
    assert_eq!((h.sandbox.usage(), spent(&h)), ((2, 13), 13));
}

/// A write-heavy tenant: its 100-record creates push the day's use to the sync step's backoff
/// share, and the next page pauses. Counted at 1 credit a write, the page went on.
#[tokio::test(flavor = "multi_thread")]
async fn a_write_heavy_tenant_reaches_the_sync_backoff() {
    let h = Harness::new().await;
    // Free edition: 5,000 credits a day, half of it 2,500.
    free_edition(&h, 0);
    set_spent(&h, 2_480);
    for batch in ["A", "B"] {
        ok_of(&h.run_with("crm-create-record", json!({ "record-type": "Leads", "values": hundred_leads(batch) }), unchecked()).await);
    }
    assert_eq!(spent(&h), 2_500);
    h.sandbox.clear_requests();
    let error = error_of(&h.run("sync-read-stream-page", json!({ "stream": "deals", "fields": "id", "backoff-at-credit-percentage": 0.5 })).await).clone();
    assert_eq!((error["kind"].as_str(), error["retry-after-ms"].as_u64()), (Some("credits-exhausted"), Some(3_600_000)));
    // The /org lookup (the edition's allotment, first of the day) is the only request.
    assert_eq!(error["details"], json!({ "spent": 2501, "allotment": 5000, "edition": "free" }));
    let paths: Vec<String> = h.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(paths, ["GET /crm/v8/org"]);
}

/// The org's credits are shared with every app it runs: once half the day is used, Zoho's
/// answers carry X-API-CREDITS-REMAINING, and the budget takes the larger use. Here other apps
/// used 2,600 of 5,000; this connection counted 1.
#[tokio::test(flavor = "multi_thread")]
async fn zohos_remaining_credits_raise_the_use() {
    let h = Harness::new().await;
    free_edition(&h, 2_600);
    let error = error_of(&h.run("sync-read-stream-page", json!({ "stream": "deals", "fields": "id", "backoff-at-credit-percentage": 0.5 })).await).clone();
    assert_eq!(error["kind"], "credits-exhausted");
    // The /org answer (the 2,601st credit) said 2,399 remain: 2,601 used, though the connection counted 1.
    assert_eq!(h.requests().iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/crm/v8/org"]);
    assert_eq!(error["details"], json!({ "spent": 2601, "allotment": 5000, "edition": "free", "counted": 1, "zoho_credits_remaining": 2399 }));
    assert!(error["message"].as_str().unwrap_or("").contains("Zoho says 2399 remain for the whole org; this connection counted 1"), "{error}");
    assert_eq!(spent(&h), 1);

    // At a share of 1.0 the page is read, and the page reports Zoho's latest figure.
    let outcome = h.run("sync-read-stream-page", json!({ "stream": "deals", "fields": "id", "backoff-at-credit-percentage": 1.0 })).await;
    let page = ok_of(&outcome).clone();
    let used = h.sandbox.limits().credits_used;
    assert_eq!(page["usage"]["zoho_credits_remaining"], json!(5_000 - used), "{page}");
    assert_eq!(page["usage"]["credits"], json!(spent(&h) - 1), "the page's own credits");

    // Under half used, Zoho sends no figure and the page reports none.
    let fresh = Harness::new().await;
    let page = ok_of(&fresh.run("sync-read-stream-page", json!({ "stream": "deals", "fields": "id" })).await).clone();
    assert!(page["usage"].get("zoho_credits_remaining").is_none(), "{page}");
    assert!(fresh.requests().iter().all(|r| r.response_status.is_some()));
}

/// The org's credit table is read from GET /crm/v8/__apis once a day (a budgeted sync page
/// asks), judged by Zoho's apis.json, and kept; a token without the scope for it is refused
/// with OAUTH_SCOPE_MISMATCH, the defaults are kept for the day, and the step goes on.
#[tokio::test(flavor = "multi_thread")]
async fn the_credit_table_is_read_once_a_day_and_a_refusal_keeps_the_defaults() {
    let h = Harness::new().await;
    let read = || h.run("sync-read-stream-page", json!({ "stream": "deals", "fields": "id", "backoff-at-credit-percentage": 0.9 }));
    ok_of(&read().await);
    let paths: Vec<String> = h.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(&paths[..2], ["GET /crm/v8/org", "GET /crm/v8/__apis"], "the allotment, then the table, then the page");
    let apis = h.requests().into_iter().find(|r| r.path == "/crm/v8/__apis").expect("asked");
    assert_request(&apis, &h.token, "GET", "/crm/v8/__apis", &[], None);
    assert_eq!(apis.response_status, Some(200));
    let stored = h.stored("limits/credit-table").expect("the table is kept");
    assert_eq!(stored["value"]["source"], "zoho");
    assert!(stored["value"]["entries"].as_array().expect("entries").contains(&json!(["GET", "/crm/v8/{module_api_name}/deleted", 2, 2])), "{stored}");
    h.sandbox.clear_requests();
    ok_of(&read().await);
    assert!(h.requests().iter().all(|r| r.path != "/crm/v8/__apis"), "asked once a day");

    // A token without ZohoCRM.apis.READ (or settings.modules): refused, defaults kept, step done.
    let limited = Harness::new().await;
    let token = limited.sandbox.issue_token_with_scopes("ZohoCRM.modules.ALL,ZohoCRM.coql.READ,ZohoCRM.org.READ,ZohoCRM.settings.fields.READ");
    let connection = json!({ "api-domain": limited.sandbox.url, "access-token": token });
    let input = json!({ "stream": "deals", "fields": "id", "backoff-at-credit-percentage": 0.9 });
    ok_of(&limited.run_as(&connection, "sync-read-stream-page", input.clone(), None).await);
    let refused: Vec<_> = limited.requests().into_iter().filter(|r| r.path == "/crm/v8/__apis").collect();
    assert_eq!(refused.iter().map(|r| r.response_status).collect::<Vec<_>>(), [Some(401)]);
    assert_eq!(limited.stored("limits/credit-table").expect("kept")["value"]["source"], "defaults");
    limited.sandbox.clear_requests();
    ok_of(&limited.run_as(&connection, "sync-read-stream-page", input, None).await);
    assert!(limited.requests().iter().all(|r| r.path != "/crm/v8/__apis"), "a refusal is kept for the day too");
}

/// Books calls spend no CRM credits: they are counted apart, per Books organization.
#[tokio::test(flavor = "multi_thread")]
async fn books_calls_spend_no_crm_credits() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    ok_of(&h.run_as(&connection, "books-get-records", json!({ "record-type": "contacts", "per-page": 5 }), None).await);
    ok_of(&h.run_as(&connection, "books-get-record", json!({ "record-type": "contacts", "record-id": "460000000000001" }), None).await);
    let requests = h.requests();
    assert_eq!(requests.len(), 2);
    assert_request(&requests[0], &h.token, "GET", "/books/v3/contacts", &[books_org(), ("page", "1"), ("per_page", "5")], None);
    assert_request(&requests[1], &h.token, "GET", "/books/v3/contacts/460000000000001", &[books_org()], None);
    assert_eq!(spent(&h), 0, "no CRM credit for a Books call");
    assert_eq!(h.sandbox.usage(), (0, 0));
    let day = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64 / 86_400_000;
    let books = h.stored_raw(&format!("limits/books/{}/day/{day}", zoho_sandbox::BOOKS_ORG_ID)).and_then(|b| String::from_utf8(b).ok());
    assert_eq!(books.as_deref(), Some("2"), "Books requests are counted apart");
}

/// Past Books' per-minute limit, Books answers 429 with X-Rate-Limit-* headers: the step says
/// rate-limited with the reset's wait, and the next step holds back until then without sending.
#[tokio::test(flavor = "multi_thread")]
async fn books_429_backs_off_until_its_reset() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    h.sandbox.set_limits(zoho_sandbox::Limits { books_per_minute: 2, ..Default::default() });
    // 15 seconds into a minute by the sandbox's clock: Books counts any 60 seconds, so the
    // place of the requests of second 15 frees 60 s later, not at the calendar minute's end.
    let now = h.sandbox.clock().now();
    h.sandbox.clock().freeze_at(now - chrono::Duration::seconds(now.timestamp().rem_euclid(60)) + chrono::Duration::seconds(15));
    let get = json!({ "record-type": "contacts", "record-id": "460000000000001" });
    for _ in 0..2 {
        ok_of(&h.run_as(&connection, "books-get-record", get.clone(), None).await);
    }
    let error = error_of(&h.run_as(&connection, "books-get-record", get.clone(), None).await).clone();
    assert_eq!((error["kind"].as_str(), error["status"].as_u64(), error["retry-after-ms"].as_u64()), (Some("rate-limited"), Some(429), Some(60_000)), "{error}");
    assert_eq!(h.requests().len(), 3);
    assert_eq!(h.requests()[2].response_status, Some(429));
    // Held back: nothing reaches Books until the reset.
    let error = error_of(&h.run_as(&connection, "books-get-record", get, None).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("rate-limited"), Some("BOOKS_RATE_LIMIT")));
    let wait = error["retry-after-ms"].as_u64().expect("a wait");
    assert!((55_000..=60_000).contains(&wait), "{wait}");
    assert_eq!(h.requests().len(), 3, "the held step sent nothing");
    assert_eq!(spent(&h), 0);
}

/// Books' daily quota spent: Books answers 429 with `X-Rate-Limit-Reset` naming the day's end,
/// and the step is rate-limited with that wait (never a blind day's sleep, never retried in the
/// step); the next step holds back without sending until then.
#[tokio::test(flavor = "multi_thread")]
async fn a_spent_daily_books_quota_is_rate_limited_until_the_days_reset() {
    let h = Harness::new().await;
    let connection = with_books_org(&h);
    h.sandbox.set_limits(zoho_sandbox::Limits { books_per_day: 2, ..Default::default() });
    // The sandbox's clock stands still, so the day's end is a known wait.
    let now = h.sandbox.clock().now();
    h.sandbox.clock().freeze_at(now);
    let to_reset = ((now.timestamp().div_euclid(86_400) + 1) * 86_400 - now.timestamp()) as u64 * 1000;
    let get = json!({ "record-type": "contacts", "record-id": "460000000000001" });
    for _ in 0..2 {
        ok_of(&h.run_as(&connection, "books-get-record", get.clone(), None).await);
    }
    let error = error_of(&h.run_as(&connection, "books-get-record", get.clone(), Some(json!({ "max-retries": 3 }))).await).clone();
    assert_eq!((error["kind"].as_str(), error["status"].as_u64(), error["retry-after-ms"].as_u64()), (Some("rate-limited"), Some(429), Some(to_reset)), "{error}");
    assert_eq!(h.requests().len(), 3, "a wait past the step's budget is the platform's to schedule, not retried");
    let answer = &h.requests()[2];
    assert_eq!(answer.response_status, Some(429));
    let held = error_of(&h.run_as(&connection, "books-get-record", get, None).await).clone();
    assert_eq!((held["kind"].as_str(), held["code"].as_str()), (Some("rate-limited"), Some("BOOKS_RATE_LIMIT")));
    assert!((to_reset.saturating_sub(60_000)..=to_reset).contains(&held["retry-after-ms"].as_u64().expect("a wait")), "{held}");
    assert_eq!(h.requests().len(), 3, "the held step sent nothing");
}

/// A token without a scope the request needs: Zoho answers 401 OAUTH_SCOPE_MISMATCH, and the
/// step's error names the scopes the action needs (never refreshed or retried: a new token has
/// the same scopes).
#[tokio::test(flavor = "multi_thread")]
async fn an_oauth_scope_mismatch_names_the_scopes_the_action_needs() {
    let h = Harness::new().await;
    let token = h.sandbox.issue_token_with_scopes("ZohoCRM.modules.ALL");
    let connection = json!({ "api-domain": h.sandbox.url, "access-token": token });
    let outcome = h.run_as(&connection, "crm-coql-query", json!({ "query": "select Last_Name from Leads where Last_Name is not null limit 5" }), None).await;
    let error = error_of(&outcome).clone();
    assert_eq!((error["kind"].as_str(), error["status"].as_u64(), error["code"].as_str()), (Some("unauthorized"), Some(401), Some("OAUTH_SCOPE_MISMATCH")));
    let message = error["message"].as_str().unwrap_or("");
    assert!(message.contains("crm-coql-query needs ZohoCRM.coql.READ, ZohoCRM.modules.READ"), "{message}");
    assert!(message.contains("invalid oauth scope to access this URL"), "Zoho's own words are kept: {message}");
    let requests = h.requests();
    assert_eq!(requests.iter().map(|r| (r.path.as_str(), r.response_status)).collect::<Vec<_>>(), [("/crm/v8/coql", Some(401))]);

    // A refresh token granted too few scopes: the same, after one grant.
    h.sandbox.add_refresh_token("1000.narrow-refresh-token", "ZohoCRM.modules.READ");
    let mut narrow = h.refresh_connection();
    narrow["refresh-token"] = json!("1000.narrow-refresh-token");
    h.sandbox.clear_requests();
    let error = error_of(&h.run_as(&narrow, "notifications-list", json!({}), None).await).clone();
    assert_eq!(error["code"], "OAUTH_SCOPE_MISMATCH");
    assert!(error["message"].as_str().unwrap_or("").contains("notifications-list needs ZohoCRM.notifications.READ"), "{error}");
    assert_eq!(h.requests().iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/oauth/v2/token", "/crm/v8/actions/watch"]);
}

/// Each action's declared scopes (actions.json) are enough: a token granted exactly them is
/// never refused by the sandbox, which enforces Zoho's scopes per endpoint. (Search, tags and
/// related records are checked in the sandbox's own scope test: their exchanges are judged
/// against module_search.json, tags.json and related_records.json, whose defects the OpenAPI
/// judge does not exempt yet.)
#[tokio::test(flavor = "multi_thread")]
async fn a_token_with_exactly_the_declared_scopes_runs_each_action() {
    let h = Harness::new().await;
    let manifest: Value = serde_json::from_str(zoho_host::manifest::EMBEDDED).expect("manifest");
    let scopes_of = |key: &str| -> String {
        let action = manifest["actions"].as_array().expect("actions").iter().find(|a| a["key"] == key).unwrap_or_else(|| panic!("no action {key}"));
        action["scopes"].as_array().expect("scopes").iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")
    };
    let url = "http://127.0.0.1:9/hook";
    let cases = [
        ("crm-get-record", json!({ "record-type": "Leads", "record-id": LEAD })),
        ("crm-get-records", json!({ "record-type": "Deals" })),
        ("crm-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Scoped" } })),
        ("crm-update-record", json!({ "record-type": "Leads", "record-id": LEAD, "values": { "Lead_Status": "Contacted" } })),
        ("crm-coql-query", json!({ "query": "select Last_Name from Leads where Last_Name is not null limit 5" })),
        ("crm-upsert-records", json!({ "record-type": "Leads", "values": { "Last_Name": "Up", "Email": "up@example.com" } })),
        ("crm-add-note", json!({ "record-type": "Leads", "record-id": LEAD, "note-content": "called" })),
        ("crm-add-attachment", json!({ "record-id": LEAD, "file": "numbers", "file-name": "n.csv" })),
        ("crm-list-attachments", json!({ "record-type": "Leads", "record-id": LEAD })),
        ("crm-get-deleted-records", json!({ "record-type": "Deals" })),
        ("crm-list-modules", json!({})),
        ("crm-describe-module", json!({ "record-type": "Deals" })),
        ("sync-discover", json!({})),
        ("sync-read-stream-page", json!({ "stream": "deals", "backoff-at-credit-percentage": 0.9 })),
        ("sync-read-stream-page", json!({ "stream": "users" })),
        ("sync-read-stream-page", json!({ "stream": "modules" })),
        ("incremental-list-modified-records-by-page", json!({ "record-type": "Vendors" })),
        ("notifications-enable", json!({ "events": ["Leads.all"], "notify-url": url, "channel-id": "4242" })),
        ("notifications-list", json!({})),
        ("notifications-renew", json!({ "channel-id": "4242" })),
        ("notifications-disable", json!({ "channel-ids": ["4242"] })),
        ("crm-convert-lead", json!({ "record-id": LEAD, "deal": json!({ "Deal_Name": "Scoped", "Stage": "Qualification", "Closing_Date": "2030-01-31" }).to_string() })),
        ("crm-remove-record", json!({ "record-type": "Deals", "record-id": h.sandbox.create_record("Deals", json!({ "Deal_Name": "D" })) })),
    ];
    for (key, input) in cases {
        let scopes = scopes_of(key);
        let token = h.sandbox.issue_token_with_scopes(&scopes);
        let connection = json!({ "api-domain": h.sandbox.url, "access-token": token });
        h.sandbox.clear_requests();
        let outcome = h.run_as(&connection, key, input.clone(), None).await;
        // A write's field checks read the metadata when the token may (an optional scope), else
        // leave them to Zoho: that one refusal is expected.
        let optional = ["crm-create-record", "crm-update-record", "crm-upsert-records"].contains(&key);
        let refused: Vec<String> =
            h.requests().iter().filter(|r| r.response_status == Some(401) && !(optional && r.path == "/crm/v8/settings/fields")).map(|r| format!("{} {}", r.method, r.path)).collect();
        assert!(refused.is_empty(), "{key} with {scopes}: refused {refused:?}");
        assert!(outcome.result.is_ok(), "{key} {input}: {:?}", outcome.result);
    }
}
