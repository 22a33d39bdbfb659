//! Reliability and sandboxing: the fault matrix, hostile input, tenant isolation, secret hygiene
//! across every action, and the host's network rules.

use component_tests::{error_of, ok_of, runtime, Fault, Harness};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::time::Duration;
use zoho_host::manifest::Manifest;
use zoho_sandbox::Hostile;

const LEAD: &str = "5725767000000524157";

fn get_lead() -> Value {
    json!({ "record-type": "Leads", "record-id": LEAD, "fields": "Last_Name" })
}

/// The lead as the sandbox answers it, for hostile answers that carry a valid body.
const LEAD_BODY: &str = r#"{"data":[{"id":"5725767000000524157","Last_Name":"Lead1"}]}"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_fault_matrix_ends_in_a_result_or_a_typed_error() {
    let h = Harness::new().await;
    let error_body = r#"{"code":"INTERNAL_ERROR","details":{},"message":"down","status":"error"}"#;
    let throttled = r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"slow down","status":"error"}"#;
    let huge = format!("{{\"data\":[{{\"id\":\"1\",\"x\":\"{}\"}}]}}", "a".repeat(65 << 20));
    let trickle = Hostile::Trickle { every: Duration::from_millis(40) };
    // (fault, call options, expected: Ok or the error kind, requests the step sent)
    let cases: Vec<(Fault, Value, Result<(), &str>, usize)> = vec![
        (Fault::status(1, 200, "{}").delayed(Duration::from_millis(800)), json!({ "timeout-ms": 150 }), Err("timeout"), 1),
        (Fault::status(1, 200, "").dropped(), json!({}), Err("transport"), 1),
        (Fault::status(1, 200, "").dropped(), json!({ "max-retries": 1 }), Ok(()), 2),
        (Fault::status(1, 200, r#"{"data":[{"id":"5725"#), json!({}), Err("zoho"), 1),
        (Fault::status(1, 502, "<html><body><h1>502 Bad Gateway</h1></body></html>").header("content-type", "text/html"), json!({}), Err("zoho"), 1),
        (Fault::status(3, 429, throttled), json!({ "max-retries": 3 }), Ok(()), 4),
        (Fault::status(3, 429, throttled), json!({}), Err("rate-limited"), 1),
        (Fault::status(5, 503, error_body), json!({ "max-retries": 2 }), Err("zoho"), 3),
        (Fault::status(2, 503, error_body), json!({ "max-retries": 2, "retry-delay-ms": 5, "exponential-backoff": true }), Ok(()), 3),
        (Fault::status(1, 200, &huge), json!({}), Err("transport"), 1),
        (Fault::status(1, 200, "not json at all"), json!({}), Err("zoho"), 1),
        (Fault::status(1, 200, r#"{"data":[]}"#), json!({}), Err("zoho"), 1),
        // The hostile server: a body trickled a byte at a time runs into the exchange's bound,
        // and each retry is one more request, no more.
        (Fault::status(1, 200, LEAD_BODY).hostile(trickle.clone()), json!({ "timeout-ms": 300 }), Err("timeout"), 1),
        (Fault::status(2, 200, LEAD_BODY).hostile(trickle.clone()), json!({ "timeout-ms": 300, "max-retries": 1 }), Err("timeout"), 2),
        (Fault::status(1, 200, LEAD_BODY).hostile(trickle), json!({ "timeout-ms": 300, "max-retries": 1 }), Ok(()), 2),
        // A body cut short of its Content-Length is a broken exchange, not a short answer.
        (Fault::status(1, 200, LEAD_BODY).hostile(Hostile::Truncated { missing: 100 }), json!({}), Err("transport"), 1),
        (Fault::status(1, 200, LEAD_BODY).hostile(Hostile::Truncated { missing: 1 }), json!({ "max-retries": 1 }), Ok(()), 2),
        // Nesting far past any parser's recursion limit, and a generated 70 MB answer.
        (Fault::status(1, 200, "").hostile(Hostile::DeeplyNested { depth: 100_000 }), json!({}), Err("zoho"), 1),
        (Fault::status(1, 200, "").hostile(Hostile::Oversized { bytes: 70 << 20 }), json!({}), Err("transport"), 1),
        // Headers past what the host's HTTP client reads: one of 1 MiB, or a thousand of them.
        (Fault::status(1, 200, LEAD_BODY).hostile(Hostile::HugeHeader { bytes: 1 << 20 }), json!({}), Err("transport"), 1),
        (Fault::status(1, 200, LEAD_BODY).hostile(Hostile::ManyHeaders { count: 1000 }), json!({}), Err("transport"), 1),
        (Fault::status(1, 200, LEAD_BODY).hostile(Hostile::HugeHeader { bytes: 8 << 10 }).hostile(Hostile::ManyHeaders { count: 50 }), json!({}), Ok(()), 1),
    ];
    for (fault, options, expected, sent) in cases {
        h.sandbox.clear_requests();
        let described = format!("{fault:?}").chars().take(160).collect::<String>();
        h.sandbox.inject(fault.on_path("/crm/"));
        let outcome = h.run_with("crm-get-record", get_lead(), Some(options.clone())).await;
        match (expected, &outcome.result) {
            (Ok(()), Ok(value)) => assert_eq!(value, &json!({ "id": LEAD, "Last_Name": "Lead1" }), "{described}"),
            (Err(kind), Err(error)) => assert_eq!(error["kind"], kind, "{described} {options}: {error}"),
            (expected, got) => panic!("{described} {options}: expected {expected:?}, got {got:?}"),
        }
        let requests = h.requests();
        assert_eq!(requests.len(), sent, "{described} {options}: {:?}", requests.iter().map(|r| &r.path).collect::<Vec<_>>());
        for request in &requests {
            component_tests::assert_request(request, &h.token, "GET", &format!("/crm/v8/Leads/{LEAD}"), &[("fields", "Last_Name")], None);
        }
        // Drain what a case left queued so the next starts clean.
        for _ in 0..6 {
            h.sandbox.clear_requests();
            if h.run("crm-get-record", get_lead()).await.result.is_ok() {
                break;
            }
        }
    }
    let error = error_of(&{
        h.sandbox.inject(Fault::status(1, 200, &format!("{{\"data\":[{{\"x\":\"{}\"}}]}}", "b".repeat(65 << 20))).on_path("/crm/"));
        h.run("crm-get-record", get_lead()).await
    })
    .clone();
    assert!(error["message"].as_str().unwrap_or("").contains("larger than 32 MiB"), "{error}");
}

/// Through a hostile server: Zoho (or whatever answers in its place) echoes the
/// request's Authorization in headers and in the body, plain and `\u`-escaped. No output of the
/// step (result, error, debug log) may show the token.
#[tokio::test(flavor = "multi_thread")]
async fn an_echoing_server_never_gets_the_token_into_output() {
    let h = Harness::new().await;
    let echo_body = r#"{"data":[{"id":"5725767000000524157","Last_Name":"{authorization}","Email":"{authorization-escaped}"}],"echo":"{authorization-escaped}"}"#;
    let error_body = r#"{"code":"{authorization}","details":{"echo":"{authorization-escaped}"},"message":"{authorization}","status":"error"}"#;
    let raw = json!({ "url": format!("/Leads/{LEAD}") });
    let escaped = zoho_sandbox::hostile::u_escaped(&h.token);
    let mut leaks = Vec::new();
    for (key, input) in [("crm-get-record", get_lead()), ("crm-raw-request", raw.clone())] {
        for (status, body) in [(200, echo_body), (400, error_body), (500, error_body)] {
            let fault = Fault::status(1, status, body).header("x-token", "{authorization}").hostile(Hostile::EchoAuthorization).on_path("/crm/");
            h.sandbox.inject(fault);
            let outcome = h.run_with(key, input.clone(), Some(json!({ "debug": true }))).await;
            for (channel, text) in [("result", format!("{:?}", outcome.result)), ("log", outcome.stderr.clone())] {
                if text.contains(h.token.as_str()) || text.contains(escaped.as_str()) {
                    leaks.push(format!("{key} answered {status}, {channel}: {}", text.chars().take(300).collect::<String>()));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "the token leaked:\n{}", leaks.join("\n"));
}

/// The debug log past the host's cap trapped the step (wasmtime's 1 MiB pipe traps
/// when full). Now the excess is dropped with a marker and the step's result stands. The cap is
/// lowered so eight retried exchanges overflow it.
#[tokio::test(flavor = "multi_thread")]
async fn a_debug_log_past_the_cap_is_cut_and_the_result_stands() {
    let h = Harness::new().await;
    let mut config = zoho_host::HostConfig::new(zoho_host::default_component_path(), component_tests::data_dir());
    config.log_limit = 1024;
    let runtime = zoho_host::Runtime::new(config).expect("runtime");
    let down = format!(r#"{{"code":"INTERNAL_ERROR","details":{{"pad":"{}"}},"message":"down","status":"error"}}"#, "é".repeat(150));
    h.sandbox.inject(Fault::status(8, 503, &down).on_path("/crm/"));
    let options = json!({ "debug": true, "max-retries": 8 });
    let action = zoho_host::ActionRef::from_key("crm-get-record").expect("key");
    let outcome = runtime.run(&action, &h.connection, &get_lead(), Some(&options), Some(&h.namespace)).await.expect("the step ran to its end");
    component_tests::assert_output_of(&action, &outcome);
    assert_eq!(ok_of(&outcome), &json!({ "id": LEAD, "Last_Name": "Lead1" }));
    assert_eq!(h.requests().len(), 9, "eight failures, then the answer");
    assert!(outcome.stderr.len() <= 1024, "{}", outcome.stderr.len());
    assert!(outcome.stderr.starts_with("zoho: GET "), "{}", outcome.stderr);
    let last = outcome.stderr.lines().last().unwrap_or("");
    assert!(last.starts_with(zoho_host::step_log::DROPPED_MARKER), "{last}");
}

/// A platform-managed access token without a namespace got a namespace digested from
/// the token, so the platform's rotation reset every cursor and the next sweep re-delivered
/// everything. Now both tokens of one org share the org's namespace; the org id costs one
/// `GET /org` per new token and none for a known one.
#[tokio::test(flavor = "multi_thread")]
async fn rotated_managed_tokens_keep_their_cursors() {
    let h = Harness::new().await;
    let as_token = |token: &str| json!({ "api-domain": h.sandbox.url, "access-token": token });
    let (first, second) = (as_token(&h.token), as_token(&h.sandbox.issue_token()));
    // Ports are reused within a test process: start the org's namespace empty.
    let namespace = zoho_host::runtime::org_namespace(&first, "5725767000000021001");
    for key in runtime().kv().keys(&namespace, "").expect("keys") {
        runtime().kv().delete(&namespace, "", &key).expect("delete");
    }
    let step = |connection: Value, key: &'static str, input: Value| async move {
        let outcome = runtime().run(&zoho_host::ActionRef::from_key(key).expect("key"), &connection, &input, None, None).await.expect("runs");
        component_tests::assert_output_declared(key, &outcome);
        outcome
    };
    let page = json!({ "record-type": "Leads", "page": 1, "per-page": 200, "fields": "Last_Name" });
    let org_requests = |h: &Harness| h.requests().iter().filter(|r| r.path == "/crm/v8/org").count();

    let swept = step(first.clone(), "incremental-list-modified-records-by-page", page.clone()).await;
    assert_eq!(ok_of(&swept)["records"].as_array().map(Vec::len), Some(3), "the first sweep delivers every lead");
    assert_eq!(h.requests().first().map(|r| r.path.as_str()), Some("/crm/v8/org"), "a new token's org is asked first");
    component_tests::assert_request(&h.requests()[0], &h.token, "GET", "/crm/v8/org", &[], None);
    let asked = org_requests(&h);
    ok_of(&step(first.clone(), "incremental-update-last-successful-run-date", json!({ "record-type": "Leads" })).await);
    assert_eq!(org_requests(&h), asked, "a known token is not asked again");

    h.sandbox.clear_requests();
    let rotated = step(second.clone(), "incremental-list-modified-records-by-page", page.clone()).await;
    assert_eq!(ok_of(&rotated)["records"], json!([]), "the rotated token continues from the committed cursor");
    assert_eq!(h.requests().iter().take_while(|r| r.path == "/crm/v8/org").count(), 1, "one /org for the new token");
    assert!(!runtime().kv().keys(&namespace, "").expect("keys").is_empty(), "the cursor lives in the org's namespace");
    let token_namespace = zoho_host::runtime::namespace_of(&second);
    assert!(runtime().kv().keys(&token_namespace, "").expect("keys").is_empty(), "nothing in the token's namespace");
    // An explicit namespace is the platform's: no /org question.
    h.sandbox.clear_requests();
    let outcome = runtime().run(&zoho_host::ActionRef::from_key("crm-get-record").expect("key"), &as_token(&h.sandbox.issue_token()), &get_lead(), None, Some(&h.namespace)).await.expect("runs");
    component_tests::assert_output_declared("crm-get-record", &outcome);
    ok_of(&outcome);
    assert_eq!(h.requests().len(), 1);
}

/// The org question's failures: a token Zoho refuses /org to (no org scope) keeps the token's
/// namespace and is asked once; a server failure is not remembered, so the next step asks again.
#[tokio::test(flavor = "multi_thread")]
async fn a_managed_token_that_cannot_read_the_org_keeps_its_own_namespace() {
    let h = Harness::new().await;
    let run = |connection: Value| async move {
        let outcome = runtime().run(&zoho_host::ActionRef::from_key("crm-get-record").expect("key"), &connection, &get_lead(), None, None).await.expect("runs");
        component_tests::assert_output_declared("crm-get-record", &outcome);
        outcome
    };
    let org_requests = |h: &Harness| h.requests().iter().filter(|r| r.path == "/crm/v8/org").count();
    let scope = r#"{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}"#;
    let no_scope = json!({ "api-domain": h.sandbox.url, "access-token": h.sandbox.issue_token() });
    h.sandbox.inject(Fault::status(1, 401, scope).on_path("/crm/v8/org"));
    for _ in 0..2 {
        assert_eq!(ok_of(&run(no_scope.clone()).await), &json!({ "id": LEAD, "Last_Name": "Lead1" }));
    }
    assert_eq!(org_requests(&h), 1, "the refusal is remembered for the token");
    assert!(!runtime().kv().keys(&zoho_host::runtime::namespace_of(&no_scope), "").expect("keys").is_empty(), "state in the token's namespace");

    h.sandbox.clear_requests();
    let flaky = json!({ "api-domain": h.sandbox.url, "access-token": h.sandbox.issue_token() });
    h.sandbox.inject(Fault::status(1, 503, r#"{"code":"INTERNAL_ERROR","details":{},"message":"down","status":"error"}"#).on_path("/crm/v8/org"));
    ok_of(&run(flaky.clone()).await);
    ok_of(&run(flaky.clone()).await);
    ok_of(&run(flaky).await);
    assert_eq!(org_requests(&h), 2, "asked again after the failure, then known");
}

/// End to end: Unicode where a timestamp's digits go trapped the three actions that
/// take one. Now each is invalid input, and nothing is sent.
#[tokio::test(flavor = "multi_thread")]
async fn unicode_timestamps_are_invalid_input_and_nothing_is_sent() {
    let h = Harness::new().await;
    for bad in ["2024-01-01T10:00:00+1é2", "2024-01-01T10:00:00+😀", "２０２４-01-01", "2024-01-01T10:00:00-0é"] {
        for (key, input) in [
            ("incremental-list-contacts-by-page", json!({ "since": bad })),
            ("incremental-list-modified-records-by-page", json!({ "record-type": "Leads", "since": bad })),
            ("incremental-update-last-successful-run-date", json!({ "record-type": "Leads", "timestamp": bad })),
            ("sync-read-stream-page", json!({ "stream": "leads", "anchor-date": bad })),
        ] {
            h.sandbox.clear_requests();
            let outcome = h.run(key, input).await;
            let error = error_of(&outcome);
            assert_eq!(error["kind"], "invalid-input", "{key} {bad}: {error}");
            assert!(h.requests().is_empty(), "{key} {bad} sent {:?}", h.requests());
        }
    }
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
        component_tests::assert_output_of(&action, &outcome);
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
            // Inputs of the everyday steps, so each reaches Zoho (search needs one way to search).
            ("word", _) => json!("Hygiene"),
            ("record-ids", _) => json!([LEAD]),
            ("tags", _) => json!(["hygiene"]),
            ("attachment-id", _) => json!("5725767000000900001"),
            // Any other required input: the manifest's default, else a plain value of its kind,
            // so an action added later is covered without editing this list.
            (_, _) if field.required => match (&field.default, field.kind.as_str()) {
                (Some(default), _) => default.clone(),
                (None, "string-list") => json!(["hygiene"]),
                (None, "integer") => json!(1),
                (None, "boolean") => json!(true),
                (None, _) => json!("Hygiene"),
            },
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
        if let Some(at) = output.find(secret.as_str()) {
            panic!("{secret} leaked: ...{}...", &output[at.saturating_sub(300)..(at + 100).min(output.len())]);
        }
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

/// Lengths at and just past the limits a text input meets (field names, ids, COQL, URLs,
/// Zoho's 255-character text fields, the 1 MiB tree budget).
const LIMIT_SIZES: [usize; 16] = [0, 1, 2, 19, 20, 50, 51, 255, 256, 2000, 2001, 4096, 65_535, 65_536, (1 << 20) - 1, (1 << 20) + 1];

/// Text as an outsider sends it: any Unicode (printable or not), injections, and one
/// character repeated to a size around a limit.
fn hostile() -> impl Strategy<Value = String> {
    let repeated = (prop::sample::select(LIMIT_SIZES.to_vec()), prop::sample::select(vec!['a', '9', 'é', '😀', '\u{0}', '\'', '\\', '"', '%', '\u{7f}', '\u{b}', '\u{202e}']))
        .prop_map(|(n, c)| std::iter::repeat_n(c, n).collect::<String>());
    prop_oneof![
        4 => "\\PC{0,40}",
        2 => any::<String>().prop_map(|s| s.chars().take(40).collect::<String>()),
        2 => repeated,
        1 => "\\PC{0,20}".prop_map(|t| json!({ "Last_Name": t, "contact_name": t }).to_string()),
        1 => prop_oneof![
            Just("../../oauth/v2/token".to_string()),
            Just("Leads?x=1".to_string()),
            Just("Leads\r\nAuthorization: x".to_string()),
            Just("https://evil.example.com/x".to_string()),
            Just("%2e%2e%2f".to_string()),
            Just("5725767000000524157' or '1'='1".to_string()),
            Just("2024-01-01T10:00:00+1é2".to_string()),
            Just("18446744073709551616".to_string()),
        ],
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, .. ProptestConfig::default() })]

    /// Whatever goes into every text input of any action, the step ends in a result or a typed
    /// error, never a trap; invalid input sends nothing; nothing leaves the product's paths.
    #[test]
    fn hostile_inputs_never_trap_or_escape(key_index in 0usize..100, values in prop::collection::vec(hostile(), 10)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
        runtime.block_on(async move {
            let h = Harness::new().await;
            let manifest = Manifest::embedded().expect("manifest");
            let action = &manifest.actions[key_index % manifest.actions.len()];
            let mut input = input_for(action);
            let texts: Vec<&zoho_host::manifest::Input> = action.inputs.iter().filter(|i| matches!(i.kind.as_str(), "string" | "json" | "text" | "string-list")).collect();
            assert!(texts.len() <= values.len(), "{} has more text inputs than generated values", action.key);
            for (field, value) in texts.iter().zip(values) {
                // A list of strings (record ids, tags, duplicate-check fields) gets the value as its item.
                input[field.key.as_str()] = if field.kind == "string-list" { json!([value]) } else { json!(value) };
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

    /// What should succeed does: any printable Unicode in a value is created, read back and
    /// found as given, and a sweep from any valid instant in any of Zoho's shapes runs.
    #[test]
    fn unicode_values_and_valid_timestamps_succeed(name in "[^\\s\\p{C}]\\PC{0,78}[^\\s\\p{C}]", instant in 0i64..4_102_444_799, shape in 0usize..4, minutes in -720i32..=840) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
        runtime.block_on(async move {
            let h = Harness::new().await;
            let created = h.run("crm-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": name } })).await;
            let result = ok_of(&created);
            let id = result.pointer("/data/0/details/id").or_else(|| result.pointer("/details/id")).and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| panic!("no id in {:?}", created.result));
            assert_eq!(h.sandbox.record("Leads", &id).map(|r| r["Last_Name"].clone()), Some(json!(name)), "stored as given");
            let read = h.run("crm-get-record", json!({ "record-type": "Leads", "record-id": id, "fields": "Last_Name" })).await;
            assert_eq!(ok_of(&read)["Last_Name"], json!(name), "read back as given");

            let offset = chrono::FixedOffset::east_opt(minutes * 60).expect("offset");
            let at = chrono::DateTime::from_timestamp(instant, 0).expect("instant").with_timezone(&offset);
            let since = match shape {
                0 => at.format("%Y-%m-%d").to_string(),
                1 => at.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                2 => at.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
                _ => at.format("%Y-%m-%dT%H:%M:%S%z").to_string(),
            };
            let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Leads", "since": since, "fields": "Last_Name" })).await;
            assert!(ok_of(&outcome)["records"].is_array(), "{since}");
            let outcome = h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Leads", "timestamp": since })).await;
            ok_of(&outcome);
        });
    }
}

async fn runtime_run(h: &Harness, action: &zoho_host::ActionRef, input: &Value) -> Result<Value, Value> {
    match runtime().run(action, &h.connection, input, None, Some(&h.namespace)).await {
        Ok(outcome) => {
            component_tests::assert_output_of(action, &outcome);
            outcome.result
        }
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
            prop::collection::btree_map(
                prop_oneof![Just("record-type".to_string()), Just("values".to_string()), Just("text".to_string()), Just("bytes".to_string()), ".{0,8}".prop_map(|s| s)],
                inner,
                0..6
            )
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
    let outcome = runtime.run(&zoho_host::ActionRef::from_key("crm-get-record").expect("key"), &h.connection, &get_lead(), Some(&json!({ "timeout-ms": 60000 })), Some(&h.namespace)).await;
    let error = outcome.expect_err("the step ran past its deadline");
    assert!(format!("{error:#}").contains("deadline"), "{error:#}");
    assert!(started.elapsed() < Duration::from_secs(2), "stopped at the deadline, not after the 3 s answer");
}
