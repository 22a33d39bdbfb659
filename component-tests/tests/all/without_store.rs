//! A host without a key-value store (`--kv none`: every `wasi:keyvalue` open is no-such-store)
//! and a store that keeps nothing between steps: stateless actions work on the step's own
//! memory, stateful ones refuse with a message naming what the host must provide, and no sweep
//! ever silently restarts at page 1.

use component_tests::{assert_request, books_org, data_dir, error_of, ok_of, runtime, with_books_org, Harness};
use serde_json::{json, Value};
use std::sync::OnceLock;
use zoho_host::{ActionRef, HostConfig, Runtime, StepOutcome};

/// The same component on a host that provides no key-value store.
fn without_store() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let mut config = HostConfig::new(zoho_host::default_component_path(), data_dir());
        config.kv = Some("none".into());
        Runtime::new(config).unwrap_or_else(|e| panic!("loading the component (run ./build.sh first): {e:#}"))
    })
}

async fn run_without_store(h: &Harness, connection: &Value, key: &str, input: Value) -> StepOutcome {
    let action = ActionRef::from_key(key).expect("action key");
    let outcome = without_store().run(&action, connection, &input, None, Some(&h.namespace)).await.unwrap_or_else(|e| panic!("{key} did not run: {e:#}"));
    component_tests::assert_output_of(&action, &outcome);
    outcome
}

const NO_STORE_LOG: &str = "zoho: the host provides no key-value store: this step keeps its caches and counters in its own memory";

/// Records, COQL, raw requests and Books with an organization id answer exactly what they
/// answer on a host with a store, one request each, and the step's log says it has no store.
#[tokio::test(flavor = "multi_thread")]
async fn stateless_actions_answer_as_with_a_store() {
    let h = Harness::new().await;
    let id = h.sandbox.create_record("Leads", json!({ "Last_Name": "Ünïcode 🦀", "Email": "a@zylker.com" }));
    let books = with_books_org(&h);
    let steps: [(&Value, &str, Value); 4] = [
        (&h.connection, "crm-get-records", json!({ "record-type": "Leads", "fields": "Last_Name,Email", "per-page": 5 })),
        (&h.connection, "crm-coql-query", json!({ "query": "select Last_Name from Leads where Email = 'a@zylker.com'" })),
        (&h.connection, "crm-raw-request", json!({ "url": format!("/Leads/{id}") })),
        (&books, "books-get-records", json!({ "record-type": "contacts", "per-page": 5 })),
    ];
    for (connection, key, input) in steps {
        h.sandbox.clear_requests();
        let bare = run_without_store(&h, connection, key, input.clone()).await;
        let sent = h.requests();
        assert_eq!(sent.len(), 1, "{key}: one request, no token or metadata lookups");
        assert!(bare.stderr.contains(NO_STORE_LOG), "{key}: {}", bare.stderr);
        assert!(!bare.stderr.contains("access token is requested anew"), "{key}: a platform token is never refreshed");
        let with_store = h.run_as(connection, key, input, None).await;
        assert_eq!(ok_of(&bare), ok_of(&with_store), "{key}");
    }
    h.sandbox.clear_requests();
    let outcome = run_without_store(&h, &h.connection, "crm-get-records", json!({ "record-type": "Leads", "fields": "Last_Name,Email", "per-page": 5 })).await;
    assert_eq!(ok_of(&outcome)["data"][0]["id"], id);
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Leads", &[("fields", "id,Last_Name,Email"), ("per_page", "5"), ("page", "1")], None);
    h.sandbox.clear_requests();
    run_without_store(&h, &books, "books-get-records", json!({ "record-type": "contacts", "per-page": 5 })).await;
    assert_request(&h.only_request(), &h.token, "GET", "/books/v3/contacts", &[books_org(), ("page", "1"), ("per_page", "5")], None);
}

/// A refresh grant works without a store, but nothing keeps its token: every step asks the
/// accounts server for a new one, and the step's log says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_grant_requests_a_token_every_step_and_says_so() {
    let h = Harness::new().await;
    let connection = h.refresh_connection();
    for step in 1..=2 {
        let outcome = run_without_store(&h, &connection, "crm-get-records", json!({ "record-type": "Leads", "fields": "Last_Name" })).await;
        ok_of(&outcome);
        assert_eq!(h.token_requests().len(), step);
        assert!(outcome.stderr.contains("its access token is requested anew and forgotten"), "{}", outcome.stderr);
        assert!(!outcome.stderr.contains(zoho_sandbox::REFRESH_TOKEN) && !outcome.stderr.contains(zoho_sandbox::CLIENT_SECRET));
    }
    assert_eq!(h.requests().len(), 4, "a token and a listing per step");
}

/// Zoho grants at most 10 access tokens per refresh token in 10 minutes and refuses the rest of
/// the window (CRM v8 "Token Validity"). Without a store every step grants: the 11th step in
/// 10 minutes is rate-limited for a whole window (not a minute), with what to do instead; once
/// the window has passed (by Zoho's clock) steps run again.
#[tokio::test(flavor = "multi_thread")]
async fn the_eleventh_grant_in_ten_minutes_is_rate_limited_for_the_window() {
    let h = Harness::new().await;
    let start = chrono::Utc::now();
    h.sandbox.clock().freeze_at(start);
    let connection = h.refresh_connection();
    let list = json!({ "record-type": "Leads", "fields": "Last_Name", "per-page": 1 });
    for step in 1..=10 {
        ok_of(&run_without_store(&h, &connection, "crm-get-records", list.clone()).await);
        assert_eq!(h.token_requests().len(), step);
    }
    h.sandbox.clock().advance(chrono::Duration::minutes(9));
    h.sandbox.clear_requests();
    let outcome = run_without_store(&h, &connection, "crm-get-records", list.clone()).await;
    let error = error_of(&outcome);
    assert_eq!((error["kind"].as_str(), error["status"].as_u64(), error["code"].as_str(), error["retry-after-ms"].as_u64()), (Some("rate-limited"), Some(400), Some("Access Denied"), Some(600_000)));
    let message = error["message"].as_str().expect("message");
    assert!(message.contains("at most 10 per refresh token in 10 minutes") && message.contains("key-value store") && message.contains("access-token"), "{message}");
    assert!(!error.to_string().contains(zoho_sandbox::REFRESH_TOKEN) && !error.to_string().contains(zoho_sandbox::CLIENT_SECRET));
    // The grant was asked and refused: nothing reached the API without a token.
    let sent = h.requests();
    assert_eq!((sent.len(), sent[0].path.as_str(), sent[0].response_status), (1, "/oauth/v2/token", Some(400)));
    assert_eq!(
        sent[0].response_body.as_deref().and_then(|b| serde_json::from_slice::<Value>(b).ok()),
        Some(json!({ "error_description": "You have made too many requests continuously. Please try again after some time.", "error": "Access Denied", "status": "failure" }))
    );
    // Ten minutes after the first grant, the window has passed.
    h.sandbox.clock().advance(chrono::Duration::minutes(1));
    ok_of(&run_without_store(&h, &connection, "crm-get-records", list).await);
}

/// Sweeps and sync streams keep state between steps: without a store they refuse before
/// anything is sent, naming the store the host must provide; discover keeps nothing and runs.
#[tokio::test(flavor = "multi_thread")]
async fn stateful_actions_refuse_before_anything_is_sent_naming_the_store() {
    let h = Harness::new().await;
    let sweep = "this action keeps a sweep cursor and each page's key range between steps";
    let stream = "this action keeps each stream's cursor and page ranges, the connection's credit budget and a request cap shared by every worker between steps";
    let provide = ": the host must provide a durable wasi:keyvalue store (store and atomics, bucket \"\", one namespace per connection; see the README's \"Key-value contract\"), and this host provides none. Actions that keep nothing (records, COQL, raw requests, Books) run without one";
    let cases = [
        ("incremental-list-contacts-by-page", json!({ "page": 1 }), sweep),
        ("incremental-list-modified-records-by-page", json!({ "record-type": "Deals" }), sweep),
        ("incremental-update-last-successful-run-date", json!({}), sweep),
        ("sync-read-stream-page", json!({ "stream": "users" }), stream),
        ("sync-commit-stream", json!({ "stream": "contacts" }), stream),
    ];
    for (key, input, keeps) in cases {
        for connection in [h.connection.clone(), h.refresh_connection()] {
            let outcome = run_without_store(&h, &connection, key, input.clone()).await;
            let error = error_of(&outcome);
            assert_eq!((error["kind"].as_str(), error["message"].as_str()), (Some("invalid-input"), Some(format!("{keeps}{provide}").as_str())), "{key}");
        }
    }
    assert!(h.requests().is_empty(), "nothing sent, the token grant included");
    let outcome = run_without_store(&h, &h.connection, "sync-discover", json!({ "include-modules": false })).await;
    assert!(ok_of(&outcome).to_string().contains("contacts"));
    assert!(h.requests().is_empty());
}

/// A store that keeps nothing between steps (wasmtime's in-memory store, one process per
/// step): page 2 after the namespace was wiped is an error, never page 1 again.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_forgets_between_steps_gets_an_error_for_page_two_not_page_one() {
    let h = Harness::new().await;
    for n in 0..3 {
        h.sandbox.create_record("Contacts", json!({ "Last_Name": format!("Kept {n}") }));
    }
    let page = |n: u32| json!({ "page": n, "per-page": 2, "fields": "Last_Name" });
    let first = ok_of(&h.run("incremental-list-contacts-by-page", page(1)).await).clone();
    assert_eq!((first["records"].as_array().map(Vec::len), first["more_records"].as_bool()), (Some(2), Some(true)));
    let sent = h.requests().len();
    let kv = runtime().kv();
    for key in kv.keys(&h.namespace, "").expect("keys") {
        kv.delete(&h.namespace, "", &key).expect("wipe");
    }
    let outcome = h.run("incremental-list-contacts-by-page", page(2)).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "invalid-input");
    assert_eq!(
        error["message"],
        "page 2 continues a sweep of Contacts, and none is open: ask page 1 (or no page) to open one. If page 1 was read, the sweep was committed or expired, or the host's key-value store did not keep it between steps (it must be durable: see the README's \"Key-value contract\")"
    );
    assert_eq!(h.requests().len(), sent, "nothing sent for the refused page");
    // The same for a sync stream's sweep.
    let outcome = h.run("sync-read-stream-page", json!({ "stream": "contacts", "page": 2 })).await;
    assert!(error_of(&outcome)["message"].as_str().is_some_and(|m| m.starts_with("page 2 continues a sweep of sync/contacts, and none is open")), "{outcome:?}");
    assert_eq!(h.requests().len(), sent);
}
