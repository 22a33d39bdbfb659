//! Attacks on the connection's secrets and on the order of checks, as an outsider would play
//! them: a server echoing credentials (in headers, `\u`-escaped in bodies, in error codes), a
//! secret holding `"` and `\`, a token straddling a display cut, a wrong secret after the right
//! one, refused input that must cost no request (the token grant included), control characters
//! in header values, and numbers at the edge of u64. Each test says what the
//! old code did.

use component_tests::{error_of, ok_of, Fault, Harness};
use serde_json::{json, Value};
use zoho_host::StepOutcome;

const LEAD: &str = "5725767000000524157";

/// Every character as a JSON `\u00XX` escape: the same string once decoded, and not one byte
/// of it as it stands.
fn escaped(text: &str) -> String {
    text.chars().map(|c| format!("\\u{:04x}", c as u32)).collect()
}

/// Every string in a result, decoded, and inside strings that are JSON themselves (raw bodies).
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if let Ok(inner) = serde_json::from_str::<Value>(s) {
                strings(&inner, out);
            }
            out.push(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out);
        }),
        _ => out.push(value.to_string()),
    }
}

/// What an outsider sees of a step: its debug log and its result, every string decoded.
fn seen(outcome: &StepOutcome) -> String {
    let mut out = vec![outcome.stderr.clone()];
    match &outcome.result {
        Ok(v) | Err(v) => strings(v, &mut out),
    }
    out.join("\n")
}

/// Neither `secret` nor any prefix of it of 8 characters or more is in `seen`.
fn assert_hidden(seen: &str, secret: &str) {
    let chars: Vec<char> = secret.chars().collect();
    for n in 8.min(chars.len())..=chars.len() {
        let prefix: String = chars[..n].iter().collect();
        assert!(!seen.contains(&prefix), "{n}-character prefix {prefix:?} of a secret leaked into:\n{seen}");
    }
}

fn header<'a>(result: &'a Value, name: &str) -> Vec<&'a str> {
    result["headers"].as_array().expect("headers").iter().filter(|h| h[0].as_str() == Some(name)).map(|h| h[1].as_str().expect("header value")).collect()
}

/// A raw-request answer echoing `Authorization` in `x-echo` and `set-cookie` showed
/// the access token; headers are redacted now, for the connection's token and a granted one.
#[tokio::test(flavor = "multi_thread")]
async fn echoed_authorization_in_raw_response_headers_is_redacted() {
    let h = Harness::new().await;
    // A granted token: the first step gets and caches it, the second is answered with it echoed.
    let connection = h.refresh_connection();
    ok_of(&h.run_as(&connection, "crm-raw-request", json!({ "url": format!("Leads/{LEAD}") }), None).await);
    // `issued_tokens` comes from a HashMap, in no order: the granted one is the one not the harness's.
    let granted = h.sandbox.issued_tokens().into_iter().find(|t| *t != h.token).expect("a token was granted");
    for (connection, token) in [(h.connection.clone(), h.token.clone()), (connection, granted)] {
        h.sandbox.clear_requests();
        h.sandbox
            .inject(Fault::status(1, 200, r#"{"ok":true}"#).on_path("/crm/").header("x-echo", &format!("Zoho-oauthtoken {token}")).header("set-cookie", &format!("zat={token}; Path=/; HttpOnly")));
        let outcome = h.run_as(&connection, "crm-raw-request", json!({ "url": format!("Leads/{LEAD}") }), Some(json!({ "debug": true }))).await;
        let result = ok_of(&outcome);
        assert_eq!(header(result, "x-echo"), ["Zoho-oauthtoken [redacted]"]);
        assert_eq!(header(result, "set-cookie"), ["zat=[redacted]; Path=/; HttpOnly"]);
        assert_eq!(result["body"], json!({ "json": r#"{"ok":true}"# }));
        assert_hidden(&seen(&outcome), &token);
        assert_eq!(h.requests().len(), 1);
    }
}

/// A `\u`-escaped copy of the token survived in raw-request bodies (json and
/// text), in error messages, details and codes.
#[tokio::test(flavor = "multi_thread")]
async fn an_escaped_token_in_bodies_messages_details_and_codes_is_redacted() {
    let h = Harness::new().await;
    let hidden = escaped(&h.token);
    let body = format!(r#"{{"echo":"{hidden}","name":"caf\u00e9"}}"#);
    for response_type in ["json", "text"] {
        h.sandbox.inject(Fault::status(1, 200, &body).on_path("/crm/"));
        let outcome = h.run("crm-raw-request", json!({ "url": format!("Leads/{LEAD}"), "response-type": response_type })).await;
        let result = ok_of(&outcome);
        let text = result["body"][response_type].as_str().expect("body text");
        // The rest of the body is kept as Zoho wrote it, escapes included.
        assert_eq!(text, r#"{"echo":"[redacted]","name":"caf\u00e9"}"#, "{response_type}");
        assert_hidden(&seen(&outcome), &h.token);
    }

    // An error whose code, message and details carry the escaped token.
    let error_body = format!(r#"{{"code":"{hidden}","message":"token {hidden} refused","details":{{"{hidden}":["{hidden}"]}},"status":"error"}}"#);
    h.sandbox.clear_requests();
    h.sandbox.inject(Fault::status(1, 400, &error_body).on_path("/crm/"));
    let outcome = h.run_with("crm-get-record", json!({ "record-type": "Leads", "record-id": LEAD }), Some(json!({ "debug": true }))).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "zoho");
    assert_eq!(error["code"], "[redacted]");
    assert_eq!(error["message"], "token [redacted] refused");
    assert_eq!(error["details"], json!({ "[redacted]": ["[redacted]"] }));
    assert_hidden(&seen(&outcome), &h.token);
    assert_eq!(h.requests().len(), 1);
}

/// The accounts server's error code `invalid_client:<secret>` reached the error's
/// code in clear (codes were never redacted).
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_in_the_accounts_servers_error_code_is_redacted() {
    let h = Harness::new().await;
    let secret = zoho_sandbox::CLIENT_SECRET;
    let answer = json!({ "error": format!("invalid_client:{secret}"), "error_description": format!("client {secret} / {}", zoho_sandbox::REFRESH_TOKEN) });
    h.sandbox.inject(Fault::status(1, 200, &answer.to_string()).on_path("/oauth/"));
    let outcome = h.run_as(&h.refresh_connection(), "crm-get-record", json!({ "record-type": "Leads", "record-id": LEAD }), Some(json!({ "debug": true }))).await;
    let error = error_of(&outcome);
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("unauthorized"), Some("invalid_client:[redacted]")));
    assert!(error["message"].as_str().expect("message").contains("(invalid_client:[redacted])"), "{error}");
    assert_hidden(&seen(&outcome), secret);
    assert_hidden(&seen(&outcome), zoho_sandbox::REFRESH_TOKEN);
    assert_eq!(h.token_requests().len(), 1);
    assert_eq!(h.requests().len(), 1);
}

/// A client secret holding `"` or `\` was shown in clear, because redaction matched
/// the JSON-escaped text. The accounts server echoes it in code, description and a raw copy.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_secret_with_quotes_and_backslashes_is_redacted() {
    let h = Harness::new().await;
    let secret = r#"s3cr"et\with-quote"#;
    let mut connection = h.refresh_connection();
    connection["client-secret"] = json!(secret);
    let answer = json!({ "error": format!("invalid_client:{secret}"), "error_description": format!("secret {secret} ({}) is wrong", escaped(secret)) });
    h.sandbox.inject(Fault::status(1, 200, &answer.to_string()).on_path("/oauth/v2/token"));
    let outcome = h.run_as(&connection, "crm-get-record", json!({ "record-type": "Leads", "record-id": LEAD }), Some(json!({ "debug": true }))).await;
    let error = error_of(&outcome);
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("unauthorized"), Some("invalid_client:[redacted]")));
    assert_eq!(error["details"]["error_description"], "secret [redacted] ([redacted]) is wrong");
    assert_hidden(&seen(&outcome), secret);
    // The secret went out form-encoded, once.
    let sent = h.only_request();
    let form = String::from_utf8_lossy(&sent.body);
    assert!(form.contains("&client_secret=s3cr%22et%5Cwith-quote&"), "{form}");
}

/// Non-JSON bodies were cut to 512 (debug) and 120 (error message) bytes before
/// redaction, so a token straddling the cut showed minus its last characters.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_straddling_the_display_cuts_is_redacted_whole() {
    let h = Harness::new().await;
    for offset in [500, 110] {
        let body = format!("{}{}{}", "x".repeat(offset), h.token, "y".repeat(100));
        h.sandbox.clear_requests();
        h.sandbox.inject(Fault::status(1, 500, &body).on_path("/crm/"));
        let outcome = h.run_with("crm-get-record", json!({ "record-type": "Leads", "record-id": LEAD }), Some(json!({ "debug": true }))).await;
        let error = error_of(&outcome);
        assert_eq!((error["kind"].as_str(), error["status"].as_u64()), (Some("zoho"), Some(500)));
        assert_hidden(&seen(&outcome), &h.token);
        if offset == 110 {
            assert!(error["message"].as_str().expect("message").contains("[redact"), "the cut falls in the mark: {error}");
        } else {
            assert!(outcome.stderr.contains("[redact"), "the cut falls in the mark: {}", outcome.stderr);
        }
        assert_eq!(h.requests().len(), 1);
    }
}

/// The same client-id and refresh-token with a wrong client-secret was served the
/// right connection's cached token. The cache key now covers every credential.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_never_gets_the_right_secrets_token() {
    let h = Harness::new().await;
    let get = json!({ "record-type": "Leads", "record-id": LEAD, "fields": "Last_Name" });
    ok_of(&h.run_as(&h.refresh_connection(), "crm-get-record", get.clone(), None).await);
    h.sandbox.clear_requests();

    let mut wrong = h.refresh_connection();
    wrong["client-secret"] = json!("not-the-client-secret");
    let outcome = h.run_as(&wrong, "crm-get-record", get, None).await;
    let error = error_of(&outcome);
    assert_eq!((error["kind"].as_str(), error["code"].as_str()), (Some("unauthorized"), Some("invalid_client")));
    // It ran its own grant, with its own secret, and reached nothing else.
    let sent = h.only_request();
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/oauth/v2/token"));
    assert_eq!(
        String::from_utf8_lossy(&sent.body),
        format!("grant_type=refresh_token&client_id={}&client_secret=not-the-client-secret&refresh_token={}", zoho_sandbox::CLIENT_ID, zoho_sandbox::REFRESH_TOKEN)
    );
}

/// A raw request with a refused url first ran the token grant (client secret and
/// refresh token sent), and Books first called GET /organizations. Every input is checked
/// before any request now.
#[tokio::test(flavor = "multi_thread")]
async fn refused_raw_input_sends_nothing_not_even_the_token_grant() {
    let h = Harness::new().await;
    let refused = [
        json!({ "url": "https://evil.example/crm/v8/Leads" }),
        json!({ "url": "https://www.zohoapis.com.evil.io/crm/v8/Leads" }),
        json!({ "url": "//evil.example/x" }),
        json!({ "url": "../../oauth/v2/token" }),
        json!({ "url": "Leads/%2e%2e/%2e%2e/oauth/v2/token" }),
        json!({ "url": "Leads", "method": "TRACE" }),
        json!({ "url": "Leads", "headers": { "Authorization": "Zoho-oauthtoken x" } }),
        json!({ "url": "Leads", "data": "{}", "form-data": { "a": "b" } }),
        json!({ "url": "Leads", "response-type": "xml" }),
    ];
    // The access-token connection has no books-organization-id: Books would look it up first.
    for connection in [h.refresh_connection(), h.self_client_connection(), h.connection.clone()] {
        for key in ["crm-raw-request", "books-raw-request"] {
            for input in &refused {
                let outcome = h.run_as(&connection, key, input.clone(), None).await;
                assert_eq!(error_of(&outcome)["kind"], "invalid-input", "{key} {input}");
                assert_eq!(h.requests().len(), 0, "{key} {input} sent {:#?}", h.requests());
            }
        }
    }
    // The same url on the connection's API domain goes through, the grant first.
    let outcome = h.run_as(&h.refresh_connection(), "crm-raw-request", json!({ "url": format!("{}/crm/v8/Leads/{LEAD}", h.sandbox.url) }), None).await;
    assert_eq!(ok_of(&outcome)["status"], 200);
    assert_eq!(h.requests().iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/oauth/v2/token", &format!("/crm/v8/Leads/{LEAD}")]);
}

/// Header values with DEL or vertical tab came back as `internal` (the transport
/// refused them); every control character is invalid-input naming the header, nothing sent.
#[tokio::test(flavor = "multi_thread")]
async fn control_characters_in_header_values_are_invalid_input() {
    let h = Harness::new().await;
    for bad in ["a\u{7f}b", "a\u{0b}b", "a\u{85}b", "a\u{0}b", "a\tb", "a\u{1b}[31m", "a\u{2028}b"] {
        for key in ["crm-raw-request", "books-raw-request"] {
            let outcome = h.run(key, json!({ "url": "Leads", "headers": { "X-Trace": bad } })).await;
            let error = error_of(&outcome);
            assert_eq!(error["kind"], "invalid-input", "{bad:?}");
            assert!(error["message"].as_str().expect("message").contains("\"X-Trace\""), "{error}");
        }
    }
    let outcome = h.run("crm-raw-request", json!({ "url": "Leads", "headers": { "X-\u{7f}": "1" } })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert_eq!(h.requests().len(), 0);
    // Visible non-ASCII text is not a control character: it is sent.
    let outcome = h.run("crm-raw-request", json!({ "url": format!("Leads/{LEAD}"), "headers": { "X-Trace": "café" } })).await;
    assert_eq!(ok_of(&outcome)["status"], 200);
    assert_eq!(h.only_request().header("x-trace"), Some("café"));
}

/// After a first 429, `Retry-After: 18446744073709551615` panicked in the wait-budget
/// sum; `18446744073709552` came back as 384 ms. Both are rate-limited with retry-after-ms
/// saturated at u64::MAX, after exactly two requests.
#[tokio::test(flavor = "multi_thread")]
async fn huge_retry_after_is_rate_limited_with_saturated_retry_after_ms() {
    let limited = r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"slow down","status":"error"}"#;
    for seconds in ["18446744073709551615", "18446744073709552", "99999999999999999999999"] {
        for (key, input) in [("crm-raw-request", json!({ "url": format!("Leads/{LEAD}") })), ("crm-get-record", json!({ "record-type": "Leads", "record-id": LEAD }))] {
            let h = Harness::new().await;
            h.sandbox.inject(Fault::status(1, 429, limited).on_path("/crm/"));
            h.sandbox.inject(Fault::status(1, 429, limited).on_path("/crm/").header("retry-after", seconds));
            let outcome = h.run_with(key, input, Some(json!({ "max-retries": 3, "retry-delay-ms": 1 }))).await;
            let error = error_of(&outcome);
            assert_eq!((error["kind"].as_str(), error["status"].as_u64(), error["retry-after-ms"].as_u64()), (Some("rate-limited"), Some(429), Some(u64::MAX)), "{key} Retry-After {seconds}: {error}");
            assert_eq!(h.requests().len(), 2, "{key} Retry-After {seconds}");
        }
    }
}

/// In the token grant: a token lifetime of u64::MAX seconds overflowed `lifetime × 1000`, so the
/// cached token looked expired at once and every step ran the grant again. Lifetimes are read
/// with checked arithmetic and kept at most a day.
#[tokio::test(flavor = "multi_thread")]
async fn a_huge_token_lifetime_is_clamped_not_wrapped() {
    let h = Harness::new().await;
    let get = json!({ "record-type": "Leads", "record-id": LEAD, "fields": "Last_Name" });
    for lifetime in [json!(u64::MAX), json!(1e300), json!("18446744073709551615")] {
        h.sandbox.clear_requests();
        let token = h.sandbox.issue_token();
        let answer = json!({ "access_token": token, "api_domain": h.sandbox.url, "expires_in_sec": lifetime, "expires_in": lifetime, "token_type": "Bearer" });
        h.sandbox.inject(Fault::status(1, 200, &answer.to_string()).on_path("/oauth/"));
        // A fresh connection identity each round: a different refresh token is a different cache key.
        let mut connection = h.refresh_connection();
        connection["refresh-token"] = json!(format!("{}-{}", zoho_sandbox::REFRESH_TOKEN, lifetime));
        for _ in 0..3 {
            ok_of(&h.run_as(&connection, "crm-get-record", get.clone(), None).await);
        }
        assert_eq!(h.token_requests().len(), 1, "lifetime {lifetime}: one grant for three steps");
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
        let expiries: Vec<u64> = h.stored_keys().into_iter().filter(|k| k.starts_with("auth/token/")).filter_map(|k| h.stored(&k)?["expires_at_ms"].as_u64()).collect();
        assert!(expiries.iter().all(|e| *e <= now_ms + 86_400_000), "kept at most a day: {expiries:?}");
    }
}

/// Encoded copies of the access token a server, a mail or a file format makes: base64
/// (standard at each byte alignment, URL-safe), UTF-16 (little- and big-endian) and HTML
/// numeric entities (decimal, hexadecimal). What the product promises of them, exactly: a
/// downloaded file holding one is refused, a file name holding one is redacted, a swept record
/// holding one (as it stands, or JSON-escaped for UTF-16's NULs) is redacted. On the old code
/// each of them passed through.
#[tokio::test(flavor = "multi_thread")]
async fn encoded_copies_of_the_token_are_refused_in_files_and_redacted_in_names_and_records() {
    use base64::Engine as _;
    let h = Harness::new().await;
    let token = h.token.clone();
    let b64 = |prefix: &str| base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{token}"));
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("??>{token}"));
    let utf16 = |big: bool| -> String { token.chars().flat_map(|c| if big { ['\0', c] } else { [c, '\0'] }).collect() };
    let decimal: String = token.chars().map(|c| format!("&#{};", c as u32)).collect();
    let hex: String = token.chars().map(|c| format!("&#x{:X};", c as u32)).collect();
    let forms = [
        ("base64", format!("Authorization: Basic {}", b64(""))),
        ("base64 +1", b64("x")),
        ("base64 +2", format!("data:text/plain;base64,{}", b64("xy"))),
        ("url-safe base64", url_safe),
        ("UTF-16LE", utf16(false)),
        ("UTF-16BE", utf16(true)),
        ("decimal entities", format!("<p>{decimal}</p>")),
        ("hex entities", hex),
    ];
    let download = json!({ "record-type": "Leads", "record-id": LEAD, "attachment-id": "1" });
    for (label, form) in &forms {
        // File bytes: refused, the bytes never passed on.
        h.sandbox.inject(Fault::status(1, 200, form).header("content-type", "application/octet-stream"));
        let outcome = h.run("crm-download-attachment", download.clone()).await;
        assert_eq!(error_of(&outcome)["kind"], "zoho", "{label}: {:?}", outcome.result);
        assert!(!seen(&outcome).contains(form.as_str()), "{label}");

        // A swept record: the copy is replaced, the page stays JSON.
        let row = json!({ "id": "5725767000000777001", "Modified_Time": "2026-01-01T00:00:00+00:00", "Last_Name": form });
        let body = json!({ "data": [row], "info": { "more_records": false, "count": 1, "per_page": 200, "page": 1 } }).to_string();
        h.sandbox.inject(Fault::status(1, 200, &body).on_path("/crm/v8/coql"));
        let outcome = h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Leads", "fields": "Last_Name", "page": 1, "since": "2025-01-01T00:00:00+00:00" })).await;
        let name = ok_of(&outcome)["records"][0]["Last_Name"].as_str().expect("a text field").to_string();
        assert!(name.contains("[redacted]") && !name.contains(form.as_str()), "{label}: {name:?}");
        assert_hidden(&seen(&outcome), &token);
    }
    // File names carry text: the base64 and entity copies (a name drops control characters, so
    // a UTF-16 copy in a name is the token itself, redacted as such; a name is cut to its last
    // path component, so only copies without a `/` reach the name whole).
    let names: Vec<_> = forms.iter().filter(|(label, form)| !label.starts_with("UTF-16") && !form.contains('/')).collect();
    assert!(names.len() >= 3, "{names:?}");
    for (label, form) in names {
        let disposition = format!("attachment; filename*=UTF-8''{}.txt", form.bytes().map(|b| format!("%{b:02X}")).collect::<String>());
        h.sandbox.inject(Fault::status(1, 200, "ok").header("content-disposition", &disposition).header("content-type", "text/plain"));
        let outcome = h.run("crm-download-attachment", download.clone()).await;
        let file = ok_of(&outcome);
        let name = file["file-name"].as_str().unwrap_or_default().to_string();
        assert!(name.contains("[redacted]") && !name.contains(form.as_str()), "{label}: {file}");
    }
}
