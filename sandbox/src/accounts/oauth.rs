//! Zoho Accounts' token endpoint: the refresh and client-credentials grants, answered as
//! Zoho does, failures included as HTTP 200 with an `error`.
//!
//! Zoho issues at most 10 access tokens per refresh token in 10 minutes, then refuses that
//! refresh token for the rest of the window (CRM v8 "Token Validity": "You can generate a
//! maximum of 10 access tokens from a refresh token in a span of 10 minutes. If the 10-minute
//! throttle limit is reached, "Access Denied" exception will be thrown for the remaining
//! time"). The refusal is HTTP 400 `{"error_description":"You have made too many requests
//! continuously. Please try again after some time.","error":"Access Denied","status":"failure"}`.
//! The sandbox counts grants on its own (controllable) clock.

use crate::request::RecordedRequest;
use crate::response::json_response;
use crate::state::Shared;
use axum::response::Response;
use serde_json::json;
use std::collections::HashMap;

fn oauth_error(code: &str) -> Response {
    json_response(200, &json!({ "error": code }))
}

/// Access tokens one refresh token may be granted in [`GRANT_WINDOW_MINUTES`].
pub const GRANTS_PER_WINDOW: usize = 10;
pub const GRANT_WINDOW_MINUTES: i64 = 10;

fn access_denied() -> Response {
    json_response(400, &json!({ "error_description": "You have made too many requests continuously. Please try again after some time.", "error": "Access Denied", "status": "failure" }))
}

pub fn token(shared: &Shared, request: &RecordedRequest) -> Response {
    if request.method != "POST" {
        return json_response(405, &json!({ "error": "invalid_request" }));
    }
    // Parameters may come as a form body or in the query string.
    let mut params: HashMap<String, String> = form_urlencoded::parse(&request.body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    for (k, v) in &request.query {
        params.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
    let (client_ok, settings) = {
        let data = shared.data();
        (data.clients.get(param("client_id")).is_some_and(|secret| secret == param("client_secret")), data.oauth.clone())
    };
    if !client_ok {
        return oauth_error("invalid_client");
    }
    let mut answer = json!({ "token_type": "Bearer" });
    // The token carries the scopes granted: the refresh token's, or the Self Client's `scope`.
    let scopes: Option<Vec<String>> = match param("grant_type") {
        "refresh_token" => {
            let (issued_to, scopes) = {
                let data = shared.data();
                (data.refresh_tokens.get(param("refresh_token")).cloned(), data.refresh_token_scopes.get(param("refresh_token")).cloned())
            };
            if issued_to.as_deref() != Some(param("client_id")) {
                return oauth_error("invalid_code");
            }
            // The grants of the last 10 minutes: the 11th is refused until the oldest is 10
            // minutes old (the rest of the window).
            let now = shared.clock.now();
            let window_start = now - chrono::Duration::minutes(GRANT_WINDOW_MINUTES);
            let refused = {
                let mut data = shared.data();
                let grants = data.grants.entry(param("refresh_token").to_string()).or_default();
                grants.retain(|at| *at > window_start);
                let refused = grants.len() >= GRANTS_PER_WINDOW;
                if !refused {
                    grants.push(now);
                }
                refused
            };
            if refused {
                return access_denied();
            }
            answer["scope"] = json!(scopes.as_ref().map(|s| s.join(" ")).unwrap_or_else(|| "ZohoCRM.modules.ALL ZohoCRM.settings.ALL".into()));
            scopes
        }
        "client_credentials" => {
            let Some(org) = param("soid").strip_prefix("ZohoCRM.") else { return oauth_error("missing_org_info") };
            if !shared.data().orgs.contains(org) {
                return oauth_error("missing_org_info");
            }
            if param("scope").is_empty() {
                return oauth_error("invalid_scope");
            }
            answer["scope"] = json!(param("scope"));
            Some(crate::accounts::scopes::list(param("scope")))
        }
        _ => return oauth_error("unsupported_grant_type"),
    };
    let host = request.header("host").unwrap_or("127.0.0.1");
    answer["access_token"] = json!(shared.issue_token_with(scopes));
    answer["api_domain"] = json!(settings.api_domain.clone().unwrap_or_else(|| format!("http://{host}")));
    if settings.legacy_expiry {
        answer["expires_in_sec"] = json!(settings.token_lifetime_s);
        answer["expires_in"] = json!(settings.token_lifetime_s * 1000);
    } else {
        answer["expires_in"] = json!(settings.token_lifetime_s);
    }
    json_response(200, &answer)
}
