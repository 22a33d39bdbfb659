//! The three ways in, the token cache, refresh on expiry and on INVALID_TOKEN, no stampede,
//! the token endpoint's failures, and no secret in any output.

use component_tests::{error_of, new_runtime, ok_of, Fault, Harness};
use serde_json::{json, Value};
use zoho_host::ActionRef;

const LEAD: &str = "5725767000000524157";

fn get_lead() -> Value {
    json!({ "record-type": "Leads", "record-id": LEAD, "fields": "Last_Name" })
}

/// The token the API requests carried, checked to be one the sandbox issued.
fn api_tokens(h: &Harness) -> Vec<String> {
    h.requests().iter().filter(|r| r.path.starts_with("/crm/")).map(|r| r.header("authorization").and_then(|a| a.strip_prefix("Zoho-oauthtoken ")).expect("auth header").to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_grant_fetches_one_token_for_many_steps_and_across_host_restarts() {
    let h = Harness::new().await;
    let connection = h.refresh_connection();
    for _ in 0..5 {
        let outcome = h.run_as(&connection, "crm-get-record", get_lead(), None).await;
        assert_eq!(ok_of(&outcome), &json!({ "id": LEAD, "Last_Name": "Lead1" }));
    }
    let token_requests = h.token_requests();
    assert_eq!(token_requests.len(), 1, "one token for five steps");
    let request = &token_requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        String::from_utf8_lossy(&request.body),
        format!("grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}", zoho_sandbox::CLIENT_ID, zoho_sandbox::CLIENT_SECRET, zoho_sandbox::REFRESH_TOKEN)
    );
    let tokens = api_tokens(&h);
    assert_eq!(tokens.len(), 5);
    assert!(tokens.iter().all(|t| t == &tokens[0] && h.sandbox.token_is_valid(t)));

    // A restarted host (a new runtime on the same data directory) reuses the cached token.
    let restarted = new_runtime();
    let outcome = restarted.run(&ActionRef::from_key("crm-get-record").expect("key"), &connection, &get_lead(), None, Some(&h.namespace)).await.expect("runs");
    component_tests::assert_output_declared("crm-get-record", &outcome);
    ok_of(&outcome);
    assert_eq!(h.token_requests().len(), 1);
    assert_eq!(api_tokens(&h).last(), Some(&tokens[0]));
}

#[tokio::test(flavor = "multi_thread")]
async fn self_client_uses_the_client_credentials_grant() {
    let h = Harness::new().await;
    let outcome = h.run_as(&h.self_client_connection(), "crm-get-record", get_lead(), None).await;
    ok_of(&outcome);
    let token_requests = h.token_requests();
    assert_eq!(token_requests.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&token_requests[0].body),
        format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=ZohoCRM.modules.ALL%2CZohoCRM.settings.ALL&soid=ZohoCRM.{}",
            zoho_sandbox::CLIENT_ID,
            zoho_sandbox::CLIENT_SECRET,
            zoho_sandbox::ORG_ID
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_near_expiry_is_refreshed_before_use() {
    let h = Harness::new().await;
    let connection = h.refresh_connection();
    ok_of(&h.run_as(&connection, "crm-get-record", get_lead(), None).await);
    let key = h.stored_keys().into_iter().find(|k| k.starts_with("auth/token/")).expect("token cached");
    let mut entry = h.stored(&key).expect("entry");
    let first = entry["access_token"].as_str().expect("token").to_string();
    // One minute left: inside the five-minute refresh margin.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    entry["expires_at_ms"] = json!(now_ms + 60_000);
    component_tests::runtime().kv().set(&h.namespace, "", &key, entry.to_string().as_bytes()).expect("kv set");

    ok_of(&h.run_as(&connection, "crm-get-record", get_lead(), None).await);
    assert_eq!(h.token_requests().len(), 2);
    let tokens = api_tokens(&h);
    assert_eq!(tokens[0], first);
    assert_ne!(tokens[1], first, "the refreshed token is used");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_token_refreshes_once_and_retries_once() {
    let h = Harness::new().await;
    let connection = h.refresh_connection();
    ok_of(&h.run_as(&connection, "crm-get-record", get_lead(), None).await);
    let first = api_tokens(&h)[0].clone();
    h.sandbox.revoke_token(&first);
    h.sandbox.clear_requests();

    let outcome = h.run_as(&connection, "crm-get-record", get_lead(), None).await;
    assert_eq!(ok_of(&outcome), &json!({ "id": LEAD, "Last_Name": "Lead1" }));
    let paths: Vec<String> = h.requests().iter().map(|r| r.path.clone()).collect();
    let lead_path = format!("/crm/v8/Leads/{LEAD}");
    assert_eq!(paths, vec![lead_path.clone(), "/oauth/v2/token".to_string(), lead_path]);
    let tokens = api_tokens(&h);
    assert_eq!(tokens[0], first);
    assert_ne!(tokens[1], first);

    // Rejected again after the refresh: unauthorized, with exactly one refresh tried.
    h.sandbox.clear_requests();
    let invalid = r#"{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}"#;
    h.sandbox.inject(Fault::status(2, 401, invalid).on_path("/crm/"));
    let outcome = h.run_as(&connection, "crm-get-record", get_lead(), None).await;
    assert_eq!(error_of(&outcome), &json!({ "kind": "unauthorized", "status": 401, "code": "INVALID_TOKEN", "message": "invalid oauth token", "details": {}, "retry-after-ms": null }));
    assert_eq!(h.token_requests().len(), 1);
    assert_eq!(h.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_steps_do_not_stampede_the_token_endpoint() {
    let h = Harness::new().await;
    let connection = h.refresh_connection();
    let steps = (0..8).map(|_| h.run_as(&connection, "crm-get-record", get_lead(), None));
    for outcome in futures_util::future::join_all(steps).await {
        assert_eq!(ok_of(&outcome), &json!({ "id": LEAD, "Last_Name": "Lead1" }));
    }
    assert_eq!(h.token_requests().len(), 1, "one refresh for eight concurrent steps");
    let tokens = api_tokens(&h);
    assert!(tokens.iter().all(|t| t == &tokens[0]));
}

#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_failures_are_unauthorized_with_a_hint() {
    let h = Harness::new().await;
    let mut wrong_client = h.refresh_connection();
    wrong_client["client-secret"] = json!("not-the-secret");
    let outcome = h.run_as(&wrong_client, "crm-get-record", get_lead(), None).await;
    let error = error_of(&outcome);
    assert_eq!((error["kind"].as_str(), error["code"].as_str(), error["status"].as_u64()), (Some("unauthorized"), Some("invalid_client"), Some(200)));
    assert!(error["message"].as_str().unwrap_or("").contains("another data center"), "{error}");

    let mut bad_refresh = h.refresh_connection();
    bad_refresh["refresh-token"] = json!("1000.revoked");
    let error = error_of(&h.run_as(&bad_refresh, "crm-get-record", get_lead(), None).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("unauthorized"), Some("invalid_code")));
    assert!(error["message"].as_str().unwrap_or("").contains("authorize the connection again"));

    let mut no_org = h.self_client_connection();
    no_org["soid"] = json!("ZohoCRM.999");
    let error = error_of(&h.run_as(&no_org, "crm-get-record", get_lead(), None).await).clone();
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("unauthorized"), Some("missing_org_info")));

    let throttled = r#"{"error":"Access Denied","error_description":"You have made too many requests continuously. Please try again after some time.","status":"failure"}"#;
    h.sandbox.inject(Fault::status(1, 400, throttled).on_path("/oauth/"));
    let error = error_of(&h.run_as(&h.refresh_connection(), "crm-get-record", get_lead(), None).await).clone();
    // Zoho refuses the rest of a 10-minute window: the step waits out a whole window.
    assert_eq!((error["kind"].as_str(), error["status"].as_u64(), error["code"].as_str(), error["retry-after-ms"].as_u64()), (Some("rate-limited"), Some(400), Some("Access Denied"), Some(600_000)));
    // The same refusal on a 200 (as Zoho's other token errors come), and localized: still the throttle.
    for (status, body) in [(200, throttled.to_string()), (400, r#"{"error_description":"您已连续提出过多请求，请稍后再试。 too many requests","error":"拒绝访问","status":"failure"}"#.to_string())]
    {
        h.sandbox.inject(Fault::status(1, status, &body).on_path("/oauth/"));
        let error = error_of(&h.run_as(&h.refresh_connection(), "crm-get-record", get_lead(), None).await).clone();
        assert_eq!((error["kind"].as_str(), error["retry-after-ms"].as_u64()), (Some("rate-limited"), Some(600_000)), "{body}");
    }

    // Nothing reached the API with a missing token.
    assert!(h.requests().iter().all(|r| r.path == "/oauth/v2/token"));
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_expiry_answers_work() {
    let h = Harness::new().await;
    h.sandbox.set_oauth(zoho_sandbox::OAuthSettings { legacy_expiry: true, ..Default::default() });
    ok_of(&h.run_as(&h.refresh_connection(), "crm-get-record", get_lead(), None).await);
    let key = h.stored_keys().into_iter().find(|k| k.starts_with("auth/token/")).expect("token cached");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    let left = h.stored(&key).expect("entry")["expires_at_ms"].as_u64().expect("expiry") - now_ms;
    assert!((3_500_000..=3_600_000).contains(&left), "expires_in_sec read as seconds: {left} ms left");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_output_errors_or_storage_keys() {
    let h = Harness::new().await;
    let debug = Some(json!({ "debug": true, "max-retries": 1 }));
    let mut outputs = Vec::new();
    for connection in [h.refresh_connection(), h.self_client_connection()] {
        h.sandbox.inject(Fault::status(1, 500, r#"{"code":"INTERNAL_ERROR","message":"boom","status":"error"}"#).on_path("/crm/"));
        let outcome = h.run_as(&connection, "crm-get-record", get_lead(), debug.clone()).await;
        outputs.push(format!("{}\n{:?}", outcome.stderr, outcome.result));
        let outcome = h.run_as(&connection, "crm-get-record", json!({ "record-type": "Leads", "record-id": "1" }), debug.clone()).await;
        outputs.push(format!("{}\n{:?}", outcome.stderr, outcome.result));
    }
    let mut wrong = h.refresh_connection();
    wrong["client-secret"] = json!("wrong-secret-value");
    let outcome = h.run_as(&wrong, "crm-get-record", get_lead(), debug.clone()).await;
    outputs.push(format!("{}\n{:?}", outcome.stderr, outcome.result));

    let all = outputs.join("\n");
    assert!(all.contains("/oauth/v2/token -> 200"), "the token exchange is logged: {all}");
    let mut secrets = vec![zoho_sandbox::CLIENT_SECRET.to_string(), zoho_sandbox::REFRESH_TOKEN.to_string(), "wrong-secret-value".to_string()];
    secrets.extend(h.sandbox.issued_tokens());
    assert!(secrets.len() >= 5);
    for secret in &secrets {
        assert!(!all.contains(secret.as_str()), "secret {secret} leaked into:\n{all}");
        for key in h.stored_keys() {
            assert!(!key.contains(secret.as_str()), "secret in storage key {key}");
        }
    }
}
