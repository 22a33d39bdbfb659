//! Reliability and sandboxing: the fault matrix, hostile input, tenant isolation, secret hygiene
//! across every action, and the host's network rules.

use component_tests::{error_of, ok_of, runtime, Fault, Harness};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::time::Duration;
use zoho_host::manifest::Manifest;

const LEAD: &str = "5725767000000524157";

fn get_lead() -> Value {
    json!({ "record-type": "Leads", "record-id": LEAD, "fields": "Last_Name" })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fault_matrix_ends_in_a_result_or_a_typed_error() {
    let h = Harness::new().await;
    let error_body = r#"{"code":"INTERNAL_ERROR","details":{},"message":"down","status":"error"}"#;
    let throttled = r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"slow down","status":"error"}"#;
    let huge = format!("{{\"data\":[{{\"id\":\"1\",\"x\":\"{}\"}}]}}", "a".repeat(65 << 20));
    // (fault, call options, expected: Ok or the error kind)
    let cases: Vec<(Fault, Value, Result<(), &str>)> = vec![
        (Fault::status(1, 200, "{}").delayed(Duration::from_millis(800)), json!({ "timeout-ms": 150 }), Err("timeout")),
        (Fault::status(1, 200, "").dropped(), json!({}), Err("transport")),
        (Fault::status(1, 200, "").dropped(), json!({ "max-retries": 1 }), Ok(())),
        (Fault::status(1, 200, r#"{"data":[{"id":"5725"#), json!({}), Err("zoho")),
        (Fault::status(1, 502, "<html><body><h1>502 Bad Gateway</h1></body></html>").header("content-type", "text/html"), json!({}), Err("zoho")),
        (Fault::status(3, 429, throttled), json!({ "max-retries": 3 }), Ok(())),
        (Fault::status(3, 429, throttled), json!({}), Err("rate-limited")),
        (Fault::status(5, 503, error_body), json!({ "max-retries": 2 }), Err("zoho")),
        (Fault::status(2, 503, error_body), json!({ "max-retries": 2, "retry-delay-ms": 5, "exponential-backoff": true }), Ok(())),
        (Fault::status(1, 200, &huge), json!({}), Err("transport")),
        (Fault::status(1, 200, "not json at all"), json!({}), Err("zoho")),
        (Fault::status(1, 200, r#"{"data":[]}"#), json!({}), Err("zoho")),
    ];
    for (fault, options, expected) in cases {
        h.sandbox.clear_requests();
        let described = format!("{fault:?}").chars().take(160).collect::<String>();
        h.sandbox.inject(fault.on_path("/crm/"));
        let outcome = h.run_with("crm-get-record", get_lead(), Some(options.clone())).await;
        match (expected, &outcome.result) {
            (Ok(()), Ok(value)) => assert_eq!(value, &json!({ "id": LEAD, "Last_Name": "Lead1" }), "{described}"),
            (Err(kind), Err(error)) => assert_eq!(error["kind"], kind, "{described} {options}: {error}"),
            (expected, got) => panic!("{described} {options}: expected {expected:?}, got {got:?}"),
        }
        // Drain what a case left queued so the next starts clean.
        for _ in 0..6 {
            if h.sandbox.requests().is_empty() {
                break;
            }
            let _ = h.run("crm-get-record", get_lead()).await;
        }
    }
    let error = error_of(&{
        h.sandbox.inject(Fault::status(1, 200, &format!("{{\"data\":[{{\"x\":\"{}\"}}]}}", "b".repeat(65 << 20))).on_path("/crm/"));
        h.run("crm-get-record", get_lead()).await
    })
    .clone();
    assert!(error["message"].as_str().unwrap_or("").contains("larger than 32 MB"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_expiry_mid_sweep_and_page_token_expiry_are_survived() {
    let h = Harness::new().await;
    let connection = h.refresh_connection();
    let page = |n: u32| json!({ "page": n, "per-page": 200, "fields": "Email" });
    let mut ids = std::collections::HashSet::new();
    for n in 1..=13 {
        if n == 7 {
            // The access token expires mid-sweep.
            for token in h.sandbox.issued_tokens().into_iter().filter(|t| t != &h.token) {
                h.sandbox.revoke_token(&token);
            }
        }
        let outcome = h.run_as(&connection, "incremental-list-contacts-by-page", page(n), None).await;
        ids.extend(ok_of(&outcome)["records"].as_array().expect("records").iter().map(|r| r["id"].as_str().expect("id").to_string()));
    }
    assert_eq!(ids.len(), 2600);
    assert_eq!(h.token_requests().len(), 2, "one refresh at the start, one after the expiry");

    // Page tokens kept for pages past 2,000 expire at Zoho after a day: the walk starts again.
    let list = |n: u32| json!({ "record-type": "Contacts", "fields": "Last_Name", "page": n });
    let first = ok_of(&h.run("crm-get-records", list(12)).await).clone();
    h.sandbox.clock().advance(chrono::Duration::hours(25));
    h.sandbox.clear_requests();
    // The platform's token expired too by now; it hands the step a new one.
    let renewed = json!({ "api-domain": h.sandbox.url, "access-token": h.sandbox.issue_token() });
    let again = ok_of(&h.run_as(&renewed, "crm-get-records", list(12), None).await).clone();
    assert_eq!(again["data"], first["data"]);
    let requests = h.requests();
    assert_eq!(requests.len(), 4, "the expired token was refused, then pages 10, 11, 12 walked: {requests:#?}");
    assert_eq!(requests[1].query_param("page"), Some("10"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_never_share_tokens_or_cursors() {
    let h = Harness::new().await;
    let connection = h.refresh_connection();
    let action = zoho_host::ActionRef::from_key("crm-get-record").expect("key");
    for tenant in ["tenant-a", "tenant-b"] {
        let outcome = runtime().run(&action, &connection, &get_lead(), None, Some(tenant)).await.expect("runs");
        ok_of(&outcome);
    }
    assert_eq!(h.token_requests().len(), 2, "each tenant refreshed its own token");
    let a = runtime().kv().keys("tenant-a", "").expect("keys");
    let b = runtime().kv().keys("tenant-b", "").expect("keys");
    let token_key = a.iter().find(|k| k.starts_with("auth/token/")).expect("a's token");
    let a_token = runtime().kv().get("tenant-a", "", token_key).expect("get");
    let b_token = runtime().kv().get("tenant-b", "", token_key).expect("get");
    assert_ne!(a_token, b_token, "the same key holds each tenant's own token");
    assert!(runtime().kv().get("tenant-c", "", token_key).expect("get").is_none());
    assert_eq!(a.len(), b.len());
}

/// A plausible input for every action from its manifest entry.
fn input_for(action: &zoho_host::manifest::Action) -> Value {
    let mut input = serde_json::Map::new();
    for field in &action.inputs {
        let value = match (field.key.as_str(), action.key.starts_with("books-")) {
            ("record-type", false) => json!("Leads"),
            ("record-type", true) => json!("contacts"),
            ("record-id", false) => json!(LEAD),
            ("record-id", true) => json!("460000000000001"),
            ("values", _) => json!({ "Last_Name": "Hygiene", "contact_name": "Hygiene" }),
            ("query", _) => json!("select Last_Name from Leads where Last_Name is not null"),
            ("url", _) => json!("/Leads"),
            ("stream", _) => json!("leads"),
            ("file", _) => json!("content"),
            ("file-name", _) => json!("a.txt"),
            _ => continue,
        };
        input.insert(field.key.clone(), value);
    }
    Value::Object(input)
}

#[tokio::test(flavor = "multi_thread")]
async fn no_action_leaks_a_secret_through_any_path() {
    let h = Harness::new().await;
    let mut connection = h.refresh_connection();
    connection["books-organization-id"] = json!(zoho_sandbox::BOOKS_ORG_ID);
    let manifest = Manifest::embedded().expect("manifest");
    let mut output = String::new();
    for action in &manifest.actions {
        let input = input_for(action);
        for fault in [None, Some(500), Some(401), Some(400)] {
            if let Some(status) = fault {
                let body = format!(r#"{{"code":"INVALID_DATA","details":{{"echo":"{}"}},"message":"echo {}","status":"error"}}"#, zoho_sandbox::CLIENT_SECRET, zoho_sandbox::REFRESH_TOKEN);
                h.sandbox.inject(Fault::status(1, status, &body).on_path(if action.key.starts_with("books-") { "/books/" } else { "/crm/" }));
            }
            let outcome = h.run_as(&connection, &action.key, input.clone(), Some(json!({ "debug": true, "max-retries": 1 }))).await;
            output.push_str(&outcome.stderr);
            output.push_str(&format!("{:?}\n", outcome.result));
        }
    }
    assert!(output.contains("[redacted]"), "the debug log ran");
    let mut secrets = vec![zoho_sandbox::CLIENT_SECRET.to_string(), zoho_sandbox::REFRESH_TOKEN.to_string()];
    secrets.extend(h.sandbox.issued_tokens().into_iter().filter(|t| t != &h.token));
    for secret in &secrets {
        if let Some(at) = output.find(secret.as_str()) { panic!("{secret} leaked: ...{}...", &output[at.saturating_sub(300)..(at + 100).min(output.len())]); }
        assert!(h.stored_keys().iter().all(|k| !k.contains(secret.as_str())), "{secret} in a storage key");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_name_resolving_to_loopback_is_refused() {
    let h = Harness::new().await;
    let connection = json!({ "api-domain": format!("http://localhost:{}", h.sandbox.addr.port()), "access-token": h.token });
    let outcome = h.run_as(&connection, "crm-get-record", get_lead(), None).await;
    assert_eq!(error_of(&outcome)["kind"], "transport");
    assert!(h.requests().is_empty(), "nothing reached the sandbox");
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_./?&=%#: '\"\\\\-]{0,40}",
        Just("../../oauth/v2/token".to_string()),
        Just("Leads?x=1".to_string()),
        Just("Leads\r\nAuthorization: x".to_string()),
        Just("https://evil.example.com/x".to_string()),
        Just("%2e%2e%2f".to_string()),
        Just("5725767000000524157' or '1'='1".to_string()),
        Just("\u{0}".to_string()),
        Just("😀".repeat(30)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, .. ProptestConfig::default() })]

    /// Whatever goes into the text inputs, the step ends in a result or a typed error, never a
    /// trap, and nothing is sent outside the product's own paths.
    #[test]
    fn hostile_inputs_never_trap_or_escape(key_index in 0usize..100, a in hostile(), b in hostile(), c in hostile()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
        runtime.block_on(async move {
            let h = Harness::new().await;
            let manifest = Manifest::embedded().expect("manifest");
            let action = &manifest.actions[key_index % manifest.actions.len()];
            let mut input = input_for(action);
            let texts: Vec<&zoho_host::manifest::Input> = action.inputs.iter().filter(|i| i.kind == "string" || i.kind == "json").collect();
            for (field, value) in texts.iter().zip([a, b, c]) {
                input[field.key.as_str()] = json!(value);
            }
            let action_ref = action.action_ref();
            let outcome = runtime_run(&h, &action_ref, &input).await;
            if let Err(error) = &outcome {
                let kinds = ["invalid-input", "unauthorized", "forbidden", "not-found", "conflict", "rate-limited", "credits-exhausted", "zoho", "transport", "timeout", "internal"];
                assert!(kinds.contains(&error["kind"].as_str().unwrap_or("")), "{error}");
                if error["kind"] == "invalid-input" {
                    assert!(h.requests().iter().all(|r| r.path == "/crm/v8/settings/fields" || r.path == "/books/v3/organizations"), "sent despite invalid input: {:?}", h.requests());
                }
            }
            for request in h.requests() {
                assert!(request.path.starts_with("/crm/v8/") || request.path.starts_with("/books/v3/"), "escaped to {}", request.path);
                assert!(!request.path.contains(".."), "{}", request.path);
            }
        });
    }
}

async fn runtime_run(h: &Harness, action: &zoho_host::ActionRef, input: &Value) -> Result<Value, Value> {
    match runtime().run(action, &h.connection, input, None, Some(&h.namespace)).await {
        Ok(outcome) => outcome.result,
        // A refusal by the host's own JSON→WIT conversion is typed too; a trap is not.
        Err(e) if !format!("{e:#}").contains("wasm trap") && !format!("{e:#}").contains("the step stopped") => Err(json!({ "kind": "invalid-input", "host": e.to_string() })),
        Err(e) => panic!("the step trapped: {e:#}"),
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
        Just(json!("Leads")),
        Just(json!("text")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(prop_oneof![Just("record-type".to_string()), Just("values".to_string()), Just("text".to_string()), Just("bytes".to_string()), ".{0,8}".prop_map(|s| s)], inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, .. ProptestConfig::default() })]

    /// The host's JSON→WIT conversion answers every JSON value with a value or an error.
    #[test]
    fn json_to_wit_never_panics(index in 0usize..1000, value in any_json()) {
        let params = zoho_host::manifest::export_params(runtime().engine(), runtime().component());
        let (_, types) = &params[index % params.len()];
        for (name, ty) in types {
            let _ = zoho_host::convert::to_val(&value, ty, name);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_stops_a_step_at_its_deadline() {
    let h = Harness::new().await;
    let mut config = zoho_host::HostConfig::new(zoho_host::default_component_path(), component_tests::data_dir());
    config.step_deadline = Duration::from_millis(500);
    let runtime = zoho_host::Runtime::new(config).expect("runtime");
    h.sandbox.inject(Fault::status(1, 200, "{}").delayed(Duration::from_secs(3)).on_path("/crm/"));
    let started = std::time::Instant::now();
    let outcome = runtime
        .run(&zoho_host::ActionRef::from_key("crm-get-record").expect("key"), &h.connection, &get_lead(), Some(&json!({ "timeout-ms": 60000 })), Some(&h.namespace))
        .await;
    let error = outcome.expect_err("the step ran past its deadline");
    assert!(format!("{error:#}").contains("deadline"), "{error:#}");
    assert!(started.elapsed() < Duration::from_secs(2), "stopped at the deadline, not after the 3 s answer");
}
