//! Instant notifications end to end: enable, renew, disable and list send Zoho's exact requests
//! to `/crm/v8/actions/watch`; the sandbox delivers record changes to a listener on 127.0.0.1;
//! `parse` accepts the genuine delivery (and fetches its records) and refuses forged ones.

use component_tests::{assert_request, error_of, ok_of, Fault, Harness};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const WATCH: &str = "/crm/v8/actions/watch";

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

fn instant(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text:?} is not an ISO time: {e}")).timestamp()
}

/// The body the step sent, and its `channel_expiry` as an instant.
fn sent_expiry(h: &Harness) -> (Value, i64) {
    let body = h.sandbox.requests().last().and_then(|r| r.json()).expect("a JSON body");
    let expiry = instant(body["watch"][0]["channel_expiry"].as_str().expect("channel_expiry"));
    (body, expiry)
}

/// A notify URL on 127.0.0.1: every POST body it receives, answered 200.
async fn listener() -> (String, mpsc::UnboundedReceiver<Value>) {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/zoho/notify?flow=7", socket.local_addr().expect("addr"));
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = socket.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&data).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length: usize = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
                        if body.len() >= length {
                            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                            let _ = tx.send(serde_json::from_str(&body[..length]).unwrap_or(Value::Null));
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, rx)
}

/// The next delivery the listener got (a hang guard, not a timing assertion).
async fn next_delivery(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("a delivery arrives").expect("listener open")
}

async fn enable(h: &Harness, input: Value) -> Value {
    ok_of(&h.run("notifications-enable", input).await).clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn enable_sends_zohos_exact_request_and_returns_the_channel() {
    let h = Harness::new().await;
    let frozen = chrono::DateTime::from_timestamp(now_s(), 0).expect("now");
    h.sandbox.clock().freeze_at(frozen);
    let before = now_s();
    let input = json!({
        "events": ["Leads.all", "Contacts.create"], "notify-url": "https://hooks.example.com/zoho?flow=7", "channel-id": "1000000068001",
        "token": "tok-é-123", "expiry-minutes": 60, "return-affected-field-values": true,
    });
    let out = enable(&h, input).await;
    let after = now_s();
    let (body, expiry) = sent_expiry(&h);
    // The expiry is an hour from the host's clock (Zoho's is not known before the first answer).
    assert!((before + 3600..=after + 3600).contains(&expiry), "{expiry} not within [{before}, {after}] + 1h");
    let sent = body["watch"][0]["channel_expiry"].as_str().expect("expiry").to_string();
    assert_request(
        &h.only_request(),
        &h.token,
        "POST",
        WATCH,
        &[],
        Some(json!({ "watch": [{
            "channel_id": "1000000068001", "events": ["Leads.all", "Contacts.create"], "channel_expiry": sent, "token": "tok-é-123",
            "notify_url": "https://hooks.example.com/zoho?flow=7", "return_affected_field_values": true,
        }] })),
    );
    // Zoho's kept expiry (its -07:00 shape of the same instant) and Zoho's clock come back.
    let kept = zoho_sandbox_time(expiry);
    assert_eq!(
        out,
        json!({ "channel_id": "1000000068001", "token": "tok-é-123", "channel_expiry": kept, "events": ["Leads.all", "Contacts.create"], "server_time": frozen.format("%Y-%m-%dT%H:%M:%S+00:00").to_string() })
    );
    let channels = h.sandbox.watch_channels();
    assert_eq!(channels.len(), 1);
    assert_eq!((channels[0].token.as_deref(), channels[0].return_affected_field_values, channels[0].expiry.timestamp()), (Some("tok-é-123"), true, expiry));
}

/// The sandbox's (Zoho's) time shape for an instant: `-07:00`.
fn zoho_sandbox_time(at: i64) -> String {
    let at = chrono::DateTime::from_timestamp(at, 0).expect("instant");
    at.with_timezone(&chrono::FixedOffset::west_opt(7 * 3600).expect("offset")).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn defaults_generate_the_id_and_token_and_renewals_go_by_zohos_clock() {
    let h = Harness::new().await;
    let before = now_s();
    let out = enable(&h, json!({ "events": ["Deals.edit", "Leads.all"], "notify-url": "http://[::1]:9/n" })).await;
    let after = now_s();
    let (body, expiry) = sent_expiry(&h);
    let id = out["channel_id"].as_str().expect("id");
    let token = out["token"].as_str().expect("token");
    assert!((13..=19).contains(&id.len()) && id.parse::<i64>().is_ok(), "{id}");
    assert!(token.len() == 40 && token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    assert_eq!((body["watch"][0]["channel_id"].as_str(), body["watch"][0]["token"].as_str()), (Some(id), Some(token)));
    // A week (Zoho's longest since v4, Kaizen #170), less five minutes in hand: the host clock
    // could run ahead of Zoho's.
    let week = 7 * 86_400;
    assert!((before + week - 300..=after + week - 300).contains(&expiry), "{expiry}");
    assert_eq!(instant(out["channel_expiry"].as_str().expect("kept")), expiry);
    assert!((before..=after).contains(&instant(out["server_time"].as_str().expect("server time"))));
    assert_eq!(h.requests().len(), 1);

    // Renew with the id alone: Zoho's PATCH must restate notify_url and events (v8 "Update
    // Specific Information of a Notification"), so the channel is read first, then renewed a
    // full week from Zoho's clock (known now), and Zoho keeps it (not one hour).
    h.sandbox.clear_requests();
    let before = now_s();
    let out = ok_of(&h.run("notifications-renew", json!({ "channel-id": id })).await).clone();
    let after = now_s();
    let sent = h.requests();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_request(&sent[0], &h.token, "GET", WATCH, &[("channel_id", id), ("per_page", "200")], None);
    let renewed = instant(sent[1].json().expect("body")["watch"][0]["channel_expiry"].as_str().expect("expiry"));
    assert!((before + week - 2..=after + week).contains(&renewed), "{renewed} not a week from [{before}, {after}]");
    let expiry_sent = sent[1].json().expect("body")["watch"][0]["channel_expiry"].clone();
    let patch = json!({ "watch": [{ "channel_id": id, "events": ["Deals.edit", "Leads.all"], "channel_expiry": expiry_sent, "notify_url": "http://[::1]:9/n" }] });
    assert_request(&sent[1], &h.token, "PATCH", WATCH, &[], Some(patch));
    assert_eq!(sent[1].response_status, Some(200));
    assert_eq!(instant(out["channel_expiry"].as_str().expect("kept")), renewed);
    assert_eq!((&out["channel_id"], &out["token"], &out["events"]), (&json!(id), &json!(token), &json!(["Deals.edit", "Leads.all"])));
    let channel = &h.sandbox.watch_channels()[0];
    assert_eq!((channel.expiry.timestamp(), channel.events.clone(), channel.notify_url.as_str()), (renewed, vec!["Deals.edit".to_string(), "Leads.all".to_string()], "http://[::1]:9/n"));

    // Given the notify URL and events (as a host that keeps them does), the renewal is one PATCH.
    h.sandbox.clear_requests();
    let input = json!({ "channel-id": id, "expiry-minutes": 120, "notify-url": "http://[::1]:9/n", "events": ["Deals.edit", "Leads.all"] });
    let out = ok_of(&h.run("notifications-renew", input).await).clone();
    let only = h.only_request();
    let expiry_sent = only.json().expect("body")["watch"][0]["channel_expiry"].clone();
    let patch = json!({ "watch": [{ "channel_id": id, "events": ["Deals.edit", "Leads.all"], "channel_expiry": expiry_sent, "notify_url": "http://[::1]:9/n" }] });
    assert_request(&only, &h.token, "PATCH", WATCH, &[], Some(patch));
    assert_eq!((&out["token"], &out["events"]), (&Value::Null, &json!(["Deals.edit", "Leads.all"])));
    assert!((instant(expiry_sent.as_str().expect("expiry")) - now_s() - 7200).abs() <= 5);
}

/// Zoho refuses a PATCH that does not restate a channel's channel_id, notify_url and events
/// (v8 "Update Specific Information of a Notification"; zoho/crm-oas example
/// response-400-mandatorynotfound), and keeps no channel past a week: absent or later, an hour.
#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_refuses_what_zoho_refuses_of_a_renewal() {
    let h = Harness::new().await;
    enable(&h, json!({ "events": ["Leads.all"], "notify-url": "https://a.example/n", "channel-id": "321" })).await;
    let frozen = chrono::DateTime::from_timestamp(now_s(), 0).expect("now");
    h.sandbox.clock().freeze_at(frozen);
    let at = |seconds: i64| chrono::DateTime::from_timestamp(frozen.timestamp() + seconds, 0).expect("time").format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    let full = json!({ "channel_id": "321", "notify_url": "https://a.example/n", "events": ["Leads.all"], "channel_expiry": at(3_600 * 30) });
    for missing in ["channel_id", "notify_url", "events"] {
        let mut item = full.clone();
        item.as_object_mut().expect("object").remove(missing);
        let outcome = h.run("crm-raw-request", json!({ "url": "/actions/watch", "method": "PATCH", "data": json!({ "watch": [item] }).to_string() })).await;
        assert_eq!(ok_of(&outcome)["status"], 400, "{missing}");
        let body: Value = serde_json::from_str(ok_of(&outcome)["body"]["json"].as_str().expect("json")).expect("json");
        assert_eq!(
            body,
            json!({ "code": "MANDATORY_NOT_FOUND", "details": { "api_name": missing, "json_path": format!("$.watch[0].{missing}") }, "message": "required field not found", "status": "error" })
        );
    }
    // A week ahead is kept; a second more, or none, is one hour.
    for (asked, kept) in [(Some(7 * 86_400), 7 * 86_400), (Some(7 * 86_400 + 1), 3_600), (None, 3_600)] {
        let mut item = full.clone();
        match asked {
            Some(seconds) => item["channel_expiry"] = json!(at(seconds)),
            None => {
                item.as_object_mut().expect("object").remove("channel_expiry");
            }
        }
        let method = if asked.is_some() { "PATCH" } else { "POST" };
        let outcome = h.run("crm-raw-request", json!({ "url": "/actions/watch", "method": method, "data": json!({ "watch": [item] }).to_string() })).await;
        assert!(ok_of(&outcome)["status"].as_u64().is_some_and(|s| s == 200 || s == 201), "{asked:?}: {}", ok_of(&outcome));
        assert_eq!(h.sandbox.watch_channels()[0].expiry.timestamp(), frozen.timestamp() + kept, "{asked:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn renewing_an_unknown_channel_is_not_found_with_zohos_code() {
    let h = Harness::new().await;
    let input = json!({ "channel-id": "42", "expiry-minutes": 30, "notify-url": "https://a.example/n", "events": ["Leads.all"] });
    let outcome = h.run("notifications-renew", input).await;
    let e = error_of(&outcome);
    assert_eq!((e["kind"].as_str(), e["status"].as_u64(), e["code"].as_str()), (Some("not-found"), Some(202), Some("NOT_SUBSCRIBED")));
    assert_eq!(e["details"], json!({ "channel_id": "42" }));
    assert_eq!(h.requests().len(), 1);
    // With the id alone, the channel is looked up first: Zoho lists none, so nothing is patched.
    h.sandbox.clear_requests();
    let outcome = h.run("notifications-renew", json!({ "channel-id": "42" })).await;
    let e = error_of(&outcome);
    assert_eq!((e["kind"].as_str(), e["code"].as_str(), &e["details"]), (Some("not-found"), Some("NOT_SUBSCRIBED"), &json!({ "channel_id": "42" })));
    assert_request(&h.only_request(), &h.token, "GET", WATCH, &[("channel_id", "42"), ("per_page", "200")], None);
}

#[tokio::test(flavor = "multi_thread")]
async fn disable_sends_the_ids_and_surfaces_each_failure() {
    let h = Harness::new().await;
    for id in ["111", "222", "333"] {
        enable(&h, json!({ "events": ["Leads.create"], "notify-url": "https://a.example/n", "channel-id": id })).await;
    }
    h.sandbox.clear_requests();
    let out = ok_of(&h.run("notifications-disable", json!({ "channel-ids": ["111", "222"] })).await).clone();
    assert_request(&h.only_request(), &h.token, "DELETE", WATCH, &[("channel_ids", "111,222")], None);
    assert_eq!(out, json!({ "disabled": ["111", "222"] }));

    // An unknown channel: Zoho's NOT_SUBSCRIBED outcome, typed.
    h.sandbox.clear_requests();
    let outcome = h.run("notifications-disable", json!({ "channel-ids": ["444"] })).await;
    let e = error_of(&outcome);
    assert_eq!((e["kind"].as_str(), e["code"].as_str(), e["status"].as_u64()), (Some("not-found"), Some("NOT_SUBSCRIBED"), Some(202)));
    assert_eq!(e["details"]["disabled"], json!([]));
    assert_eq!(h.requests().len(), 1);
    // Mixed outcomes (Zoho's file documents no answer mixing them; a hostile one may): each
    // failure is surfaced, with the channels that were disabled.
    let mixed = r#"{"watch":[{"code":"SUCCESS","details":{"channel_id":"333"},"message":"Successfully removed the subscribe details","status":"success"},{"code":"NOT_SUBSCRIBED","details":{"channel_id":"555"},"message":"not subscribed","status":"error"}]}"#;
    h.sandbox.inject(Fault::status(1, 202, mixed).on_path(WATCH));
    let outcome = h.run("notifications-disable", json!({ "channel-ids": ["333", "555"] })).await;
    let e = error_of(&outcome);
    assert_eq!((e["kind"].as_str(), e["code"].as_str()), (Some("not-found"), Some("NOT_SUBSCRIBED")));
    assert!(e["message"].as_str().expect("message").starts_with("channel 555 was not disabled: not subscribed (1 of 2 channels disabled)"), "{e}");
    assert_eq!(e["details"]["disabled"], json!(["333"]));
    assert_eq!(e["details"]["outcomes"][1]["code"], "NOT_SUBSCRIBED");
    ok_of(&h.run("notifications-disable", json!({ "channel-ids": ["333"] })).await);
    assert!(h.sandbox.watch_channels().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn list_sends_the_filters_given_and_passes_entries_through() {
    let h = Harness::new().await;
    let out = ok_of(&h.run("notifications-list", json!({})).await).clone();
    assert_request(&h.only_request(), &h.token, "GET", WATCH, &[], None);
    assert_eq!((&out["watch"], &out["info"]), (&json!([]), &json!({ "count": 0, "more_records": false, "page": 1, "per_page": 200 })));
    assert!(out["server_time"].is_string());

    enable(&h, json!({ "events": ["Leads.all", "Contacts.create"], "notify-url": "https://a.example/n", "channel-id": "555", "token": "t" })).await;
    h.sandbox.clear_requests();
    let out = ok_of(&h.run("notifications-list", json!({ "page": 1, "per-page": 1, "channel-id": "555", "module": "Contacts" })).await).clone();
    assert_request(&h.only_request(), &h.token, "GET", WATCH, &[("page", "1"), ("per_page", "1"), ("channel_id", "555"), ("module", "Contacts")], None);
    assert_eq!(out["info"], json!({ "per_page": 1, "page": 1, "count": 1, "more_records": false }));
    let entry = &out["watch"][0];
    assert_eq!((&entry["channel_id"], &entry["events"], &entry["resource_name"], &entry["token"]), (&json!("555"), &json!(["Contacts.create"]), &json!("Contacts"), &json!("t")));
    let all = ok_of(&h.run("notifications-list", json!({})).await).clone();
    assert_eq!(all["watch"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_inputs_are_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    let url = "https://a.example/n";
    let cases: Vec<(&str, Value, &str)> = vec![
        ("notifications-enable", json!({ "events": [], "notify-url": url }), "events lists 0"),
        ("notifications-enable", json!({ "events": ["Leads.update"], "notify-url": url }), "no operation"),
        ("notifications-enable", json!({ "events": ["Leads.all", "Leads.all"], "notify-url": url }), "twice"),
        ("notifications-enable", json!({ "events": ["Le/ads.all"], "notify-url": url }), "module API name"),
        ("notifications-enable", json!({ "events": ["Leads.all"], "notify-url": "http://hooks.example.com/n" }), "loopback"),
        ("notifications-enable", json!({ "events": ["Leads.all"], "notify-url": "https://u:p@a.example/n" }), "password"),
        ("notifications-enable", json!({ "events": ["Leads.all"], "notify-url": url, "token": "t".repeat(51) }), "51 characters"),
        ("notifications-enable", json!({ "events": ["Leads.all"], "notify-url": url, "expiry-minutes": 0 }), "expiry-minutes 0"),
        ("notifications-enable", json!({ "events": ["Leads.all"], "notify-url": url, "expiry-minutes": 10_081 }), "expiry-minutes 10081"),
        ("notifications-enable", json!({ "events": ["Leads.all"], "notify-url": url, "channel-id": "12ab" }), "not a channel id"),
        ("notifications-enable", json!({ "events": ["Leads.all"], "notify-url": url, "channel-id": "12345678901234567890" }), "not a channel id"),
        ("notifications-renew", json!({ "channel-id": "9223372036854775808" }), "not a channel id"),
        ("notifications-renew", json!({ "channel-id": "1", "expiry-minutes": 10_081 }), "expiry-minutes 10081"),
        ("notifications-renew", json!({ "channel-id": "1", "notify-url": "http://hooks.example.com/n" }), "loopback"),
        ("notifications-renew", json!({ "channel-id": "1", "events": ["Leads.update"] }), "no operation"),
        ("notifications-disable", json!({ "channel-ids": [] }), "0 ids"),
        ("notifications-disable", json!({ "channel-ids": (0..101).map(|i| (i + 1).to_string()).collect::<Vec<_>>() }), "101 ids"),
        ("notifications-disable", json!({ "channel-ids": ["1", "1"] }), "twice"),
        ("notifications-list", json!({ "per-page": 201 }), "per-page 201"),
        ("notifications-list", json!({ "page": 0 }), "page starts at 1"),
        ("notifications-list", json!({ "module": "Leads?x" }), "module API name"),
        ("notifications-parse", json!({ "body": "x".repeat(1_048_577) }), "at most 1048576 bytes"),
        ("notifications-parse", json!({ "body": "{}", "expected-channel-id": "abc" }), "not a channel id"),
        ("notifications-parse", json!({ "body": "{}", "fields": "Email&x=1" }), "field API name"),
    ];
    for (key, input, says) in cases {
        let outcome = h.run(key, input).await;
        let e = error_of(&outcome);
        assert_eq!(e["kind"], "invalid-input", "{key}: {e}");
        assert!(e["message"].as_str().is_some_and(|m| m.contains(says)), "{key}: {e}");
    }
    assert!(h.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_answers_are_typed_errors() {
    let h = Harness::new().await;
    let input = json!({ "events": ["Leads.all"], "notify-url": "https://a.example/n", "channel-id": "77" });
    let refused = r#"{"watch":[{"code":"INVALID_DATA","details":{"api_name":"notify_url","json_path":"$.watch[0].notify_url"},"message":"invalid data","status":"error"}]}"#;
    let cases: Vec<(u16, String, &str, &str)> = vec![
        (202, refused.to_string(), "zoho", "invalid data"),
        (201, r#"{"watch":[{"code":"PENDING","details":{},"message":"later","status":"success"}]}"#.to_string(), "zoho", "later"),
        (204, String::new(), "zoho", "empty body"),
        (201, r#"{"watch":[]}"#.to_string(), "zoho", "0 outcomes for the 1 channels"),
        (201, r#"{"data":[]}"#.to_string(), "zoho", "without a watch array"),
        (201, format!(r#"{{"watch":[{}]}}"#, [r#"{"code":"SUCCESS","status":"success"}"#; 2].join(",")), "zoho", "2 outcomes"),
        (201, format!(r#"{{"watch":[{{"pad":"{}"}}]}}"#, "p".repeat(2 << 20)), "zoho", "document"),
        (201, "<html>gateway</html>".to_string(), "zoho", "not JSON"),
        (400, r#"{"code":"INVALID_DATA","details":{"api_name":"watch","json_path":"$.watch"},"message":"bad body","status":"error"}"#.to_string(), "zoho", "bad body"),
    ];
    for (status, body, kind, says) in cases {
        h.sandbox.clear_requests();
        h.sandbox.inject(Fault::status(1, status, &body).on_path(WATCH));
        let outcome = h.run("notifications-enable", input.clone()).await;
        let e = error_of(&outcome);
        assert_eq!((e["kind"].as_str(), e["status"].as_u64()), (Some(kind), Some(u64::from(status))), "{status} {}", &body[..body.len().min(80)]);
        assert!(e["message"].as_str().is_some_and(|m| m.contains(says)), "{e}");
        assert_eq!(h.requests().len(), 1);
    }
    // A listing longer than the page asked for, or without its array, is refused unread.
    let entries = format!(r#"{{"watch":[{}],"info":{{}}}}"#, ["{}"; 3].join(","));
    h.sandbox.inject(Fault::status(1, 200, &entries).on_path(WATCH));
    let e = error_of(&h.run("notifications-list", json!({ "per-page": 2 })).await).clone();
    assert!(e["message"].as_str().is_some_and(|m| m.contains("more than 2 items")), "{e}");
    h.sandbox.inject(Fault::status(1, 200, r#"{"info":{}}"#).on_path(WATCH));
    let e = error_of(&h.run("notifications-list", json!({})).await).clone();
    assert!(e["message"].as_str().is_some_and(|m| m.contains("without a watch array")), "{e}");
}

/// A genuine delivery from the sandbox, its channel's id and token.
async fn delivered(h: &Harness) -> (Value, String, String, String, mpsc::UnboundedReceiver<Value>) {
    let (url, mut rx) = listener().await;
    let out = enable(h, json!({ "events": ["Leads.all"], "notify-url": url, "return-affected-field-values": true })).await;
    let id = h.sandbox.create_record("Leads", json!({ "Last_Name": "Notified", "Email": "n@example.com" }));
    let delivery = next_delivery(&mut rx).await;
    (delivery, out["channel_id"].as_str().expect("id").to_string(), out["token"].as_str().expect("token").to_string(), id, rx)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_genuine_delivery_is_parsed_and_its_records_fetched() {
    let h = Harness::new().await;
    let (delivery, channel, token, id, mut rx) = delivered(&h).await;
    assert_eq!((&delivery["module"], &delivery["operation"], &delivery["ids"]), (&json!("Leads"), &json!("insert"), &json!([id])));
    assert_eq!((&delivery["channel_id"], &delivery["token"], &delivery["query_params"]), (&json!(channel), &json!(token), &json!({ "flow": "7" })));
    h.sandbox.clear_requests();
    let input = json!({ "body": delivery.to_string(), "expected-token": token, "expected-channel-id": channel, "fetch-records": true, "fields": "Last_Name,Email" });
    let out = ok_of(&h.run("notifications-parse", input).await).clone();
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Leads", &[("fields", "id,Last_Name,Email"), ("ids", id.as_str())], None);
    let server_time = chrono::DateTime::from_timestamp_millis(delivery["server_time"].as_i64().expect("ms")).expect("time").format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    assert_eq!(
        out,
        json!({
            "module": "Leads", "operation": "insert", "ids": [id], "affected_fields": [], "server_time": server_time, "channel_id": channel,
            "records": [{ "id": id, "Last_Name": "Notified", "Email": "n@example.com" }],
        })
    );
    assert!(!out.to_string().contains(&token));

    // An edit through the API: one delivery naming the changed fields, parsed without a fetch.
    let outcome = h.run("crm-update-record", json!({ "record-type": "Leads", "record-id": id, "values": { "Email": "new@example.com" } })).await;
    ok_of(&outcome);
    let edit = next_delivery(&mut rx).await;
    assert_eq!((&edit["operation"], &edit["affected_fields"]), (&json!("update"), &json!([{ id.clone(): ["Email"] }])));
    assert_eq!(edit["affected_values"], json!([{ "record_id": id, "values": { "Email": "new@example.com" } }]));
    h.sandbox.clear_requests();
    let out = ok_of(&h.run("notifications-parse", json!({ "body": edit.to_string(), "expected-token": token })).await).clone();
    assert_eq!((&out["operation"], &out["affected_fields"], out.get("records")), (&json!("update"), &json!([{ id.clone(): ["Email"] }]), None));
    assert!(h.requests().is_empty());

    // Three records in one request: one delivery with the three ids, as Zoho batches them.
    let values = json!([{ "Last_Name": "A" }, { "Last_Name": "B" }, { "Last_Name": "C" }]);
    let created = ok_of(&h.run("crm-create-record", json!({ "record-type": "Leads", "values": values })).await).clone();
    let ids: Vec<Value> = created["data"].as_array().expect("outcomes").iter().map(|o| o["details"]["id"].clone()).collect();
    let batch = next_delivery(&mut rx).await;
    assert_eq!((&batch["operation"], &batch["ids"]), (&json!("insert"), &json!(ids)));
    // A delete: parsed, nothing fetched even when asked.
    assert!(h.sandbox.delete_record("Leads", &id));
    let deleted = next_delivery(&mut rx).await;
    h.sandbox.clear_requests();
    let out = ok_of(&h.run("notifications-parse", json!({ "body": deleted.to_string(), "expected-token": token, "fetch-records": true })).await).clone();
    assert_eq!((&out["operation"], &out["ids"], out.get("records")), (&json!("delete"), &json!([id]), None));
    assert!(h.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_deliveries_are_forbidden_and_nothing_is_fetched() {
    let h = Harness::new().await;
    let (delivery, channel, token, _, _rx) = delivered(&h).await;
    let mut one_off = token.clone().into_bytes();
    one_off[17] = if one_off[17] == b'0' { b'1' } else { b'0' };
    let forged_tokens = [String::from_utf8(one_off).expect("ascii"), token[..39].to_string(), format!("{token}0"), String::new(), format!("{}é", &token[..38])];
    h.sandbox.clear_requests();
    for forged in &forged_tokens {
        let mut body = delivery.clone();
        body["token"] = json!(forged);
        let input = json!({ "body": body.to_string(), "expected-token": token, "expected-channel-id": channel, "fetch-records": true });
        let outcome = h.run("notifications-parse", input).await;
        let e = error_of(&outcome);
        assert_eq!((e["kind"].as_str(), e["code"].as_str()), (Some("forbidden"), Some("TOKEN_MISMATCH")), "{forged:?}");
        assert!(!e.to_string().contains(&token), "{e}");
    }
    let mut other = delivery.clone();
    other["channel_id"] = json!("1000000000001");
    let outcome = h.run("notifications-parse", json!({ "body": other.to_string(), "expected-token": token, "expected-channel-id": channel, "fetch-records": true })).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["code"].as_str()), (Some("forbidden"), Some("CHANNEL_MISMATCH")));
    assert!(h.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_drop_switch_drops_exactly_three_of_ten_and_expired_channels_get_nothing() {
    let h = Harness::new().await;
    let (url, mut rx) = listener().await;
    enable(&h, json!({ "events": ["Contacts.create"], "notify-url": url, "channel-id": "99", "expiry-minutes": 5 })).await;
    h.sandbox.set_delivery_drop_share(0.3);
    for i in 0..10 {
        h.sandbox.create_record("Contacts", json!({ "Last_Name": format!("Drop{i}") }));
    }
    for _ in 0..7 {
        next_delivery(&mut rx).await;
    }
    let log = h.sandbox.deliveries();
    assert_eq!(log.iter().map(|d| d.dropped).collect::<Vec<_>>(), [false, false, false, true, false, false, true, false, false, true]);
    assert!(log.iter().all(|d| d.channel_id == "99" && d.url == url));
    // A lead is not watched; a non-loopback URL is never contacted, only counted.
    h.sandbox.create_record("Leads", json!({ "Last_Name": "Unwatched" }));
    enable(&h, json!({ "events": ["Contacts.edit"], "notify-url": "https://hooks.example.com/n", "channel-id": "98" })).await;
    let id = h.sandbox.create_record("Contacts", json!({ "Last_Name": "Edited" }));
    assert!(h.sandbox.modify_record("Contacts", &id, json!({ "Email": "e@example.com" })));
    assert_eq!((h.sandbox.deliveries().len(), h.sandbox.refused_deliveries()), (11, 1));
    // Past its expiry (by the sandbox's clock) a channel leaves the listing and gets nothing.
    h.sandbox.clock().advance(chrono::Duration::minutes(6));
    assert_eq!(h.sandbox.watch_channels().iter().map(|c| c.channel_id.as_str()).collect::<Vec<_>>(), ["98"]);
    h.sandbox.create_record("Contacts", json!({ "Last_Name": "Late" }));
    assert_eq!(h.sandbox.deliveries().len(), 11);
}
