//! `zoho-host watch` end to end: the built component through the host's watch loop against the
//! sandbox's watch API and deliveries. Every change is written at least once — seconds after
//! it happens when its delivery arrives, within one sweep interval when it is dropped — and no
//! version twice; a restart resumes the same channel; the channel is renewed by Zoho's clock
//! before it lapses; a forged delivery is refused and written nowhere; exit disables it.

use component_tests::{assert_request, runtime, Harness};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use zoho_host::watch::{self, WatchRequest, WatchSummary};
use zoho_host::Runtime;

const WATCH_PATH: &str = "/crm/v8/actions/watch";

/// A notify URL on a free loopback port, and its listener.
pub(crate) async fn notify_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("http://{}/zoho/notify", listener.local_addr().expect("bound"));
    (listener, url)
}

/// The listener for `url` again (a restarted watch on the same address).
async fn listener_for(url: &str) -> TcpListener {
    let addr = url.trim_start_matches("http://").split('/').next().expect("host:port");
    TcpListener::bind(addr).await.expect("the same port again")
}

fn request(url: &str, events: &[&str], sweep_every: &str, check_every: &str) -> WatchRequest {
    let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    WatchRequest::new(&events, url, sweep_every, check_every, true, 10_080).expect("valid flags")
}

pub(crate) fn out_file(name: &str) -> PathBuf {
    let dir = component_tests::data_dir().join("watch-out");
    std::fs::create_dir_all(&dir).expect("out dir");
    let path = dir.join(format!("{name}-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

pub(crate) fn appending(path: &Path) -> Box<dyn std::io::Write + Send> {
    Box::new(std::fs::OpenOptions::new().create(true).append(true).open(path).expect("out file"))
}

/// The event lines written so far.
pub(crate) fn lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a line is not JSON ({e}): {l}"))).collect()
}

/// Polls `condition` until it holds; fails after a generous deadline (no timed assertion).
pub(crate) async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a watch while `driver` runs, then stops it (Ctrl-C's path) and returns its summary.
async fn watching<F: std::future::Future<Output = ()>>(runtime: &Runtime, h: &Harness, request: &WatchRequest, listener: TcpListener, out: &Path, driver: F) -> WatchSummary {
    watching_as(runtime, h, &h.connection, request, listener, out, driver).await
}

async fn watching_as<F: std::future::Future<Output = ()>>(runtime: &Runtime, h: &Harness, connection: &Value, request: &WatchRequest, listener: TcpListener, out: &Path, driver: F) -> WatchSummary {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watch = watch::run(runtime, connection, Some(&h.namespace), request, listener, appending(out), async {
        let _ = stopped.await;
    });
    let drive = async {
        driver.await;
        let _ = stop.send(());
    };
    let (summary, ()) = tokio::join!(watch, drive);
    summary.unwrap_or_else(|e| panic!("the watch failed: {e:#}"))
}

fn watch_requests(h: &Harness, method: &str) -> Vec<zoho_sandbox::RecordedRequest> {
    h.requests().into_iter().filter(|r| r.method == method && r.path == WATCH_PATH).collect()
}

/// The enable request's one channel item.
fn enabled_item(request: &zoho_sandbox::RecordedRequest) -> Value {
    request.json().expect("a JSON body")["watch"][0].clone()
}

/// Asserts the enable request Zoho got: its events, notify URL and (when known) id and token.
fn assert_enable(h: &Harness, request: &zoho_sandbox::RecordedRequest, events: &[&str], url: &str, same_as: Option<&Value>) {
    let item = enabled_item(request);
    let expiry = item["channel_expiry"].as_str().expect("an expiry").to_string();
    let (id, token) = match same_as {
        Some(first) => (first["channel_id"].clone(), first["token"].clone()),
        None => (item["channel_id"].clone(), item["token"].clone()),
    };
    assert!(id.as_str().is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())), "{item}");
    assert!(token.as_str().is_some_and(|t| !t.is_empty() && t.len() <= 50), "{item}");
    let body = json!({ "watch": [{ "channel_id": id, "events": events, "channel_expiry": expiry, "token": token, "notify_url": url }] });
    assert_request(request, &h.token, "POST", WATCH_PATH, &[], Some(body));
}

/// The watch's lines per record id, in order written.
pub(crate) fn by_id(lines: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut ids: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in lines {
        ids.entry(line["id"].as_str().expect("an id").to_string()).or_default().push(line.clone());
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn with_three_in_ten_deliveries_dropped_every_version_is_written_once() {
    let h = Harness::new().await;
    h.sandbox.set_delivery_drop_share(0.3);
    let (listener, url) = notify_listener().await;
    let out = out_file("dropped");
    let request = request(&url, &["Leads.all"], "2s", "1m");
    let sweeps_done = || h.sandbox.requests().iter().filter(|r| r.path == "/crm/v8/coql").count();
    let summary = watching(runtime(), &h, &request, listener, &out, async {
        until("the channel is enabled", || h.sandbox.watch_channels().len() == 1).await;
        // 20 creates, one delivery each: the sandbox drops the 4th, 7th, 10th, ... (6 of 20).
        let ids: Vec<String> = (0..20).map(|i| h.sandbox.create_record("Leads", json!({ "Last_Name": format!("Watch {i}") }))).collect();
        until("every create is written", || by_id(&lines(&out)).len() == 20).await;
        let dropped: Vec<String> =
            h.sandbox.deliveries().iter().filter(|d| d.dropped).flat_map(|d| d.body["ids"].as_array().cloned().unwrap_or_default()).filter_map(|id| id.as_str().map(str::to_string)).collect();
        assert_eq!(dropped.len(), 6, "{:?}", h.sandbox.deliveries());
        for (i, id) in ids.iter().enumerate() {
            h.sandbox.modify_record("Leads", id, json!({ "Last_Name": format!("Edited {i}") }));
        }
        until("every edit is written", || by_id(&lines(&out)).values().all(|l| l.len() == 2) && by_id(&lines(&out)).len() == 20).await;
        for id in &ids[..3] {
            h.sandbox.delete_record("Leads", id);
        }
        until("every delete is written", || lines(&out).iter().filter(|l| l["operation"] == "delete").count() == 3).await;
        // Two more sweeps read everything again: nothing is written twice.
        let before = sweeps_done();
        until("two more sweeps", || sweeps_done() >= before + 2).await;
        let written = lines(&out);
        assert_eq!(written.len(), 43, "{written:#?}");
        let per_id = by_id(&written);
        for (i, id) in ids.iter().enumerate() {
            let versions = &per_id[id];
            assert_eq!(versions[0]["record"]["Last_Name"], format!("Watch {i}"), "{versions:#?}");
            assert_eq!(versions[0]["operation"], "insert");
            assert_eq!(versions[1]["record"]["Last_Name"], format!("Edited {i}"), "{versions:#?}");
            if i < 3 {
                assert_eq!(versions.len(), 3);
                assert_eq!(versions[2]["operation"], "delete");
                assert_eq!(versions[2]["record"], Value::Null);
            } else {
                assert_eq!(versions.len(), 2, "{versions:#?}");
            }
            for v in versions {
                assert_eq!(v["module"], "Leads");
            }
            // A create whose delivery was dropped was caught by the sweep.
            if dropped.contains(id) {
                assert_eq!(versions[0]["source"], "sweep", "{versions:#?}");
            }
        }
        // Both paths wrote: notifications (when no sweep was faster) and the sweep.
        assert!(written.iter().any(|l| l["source"] == "notification"), "{written:#?}");
        assert!(written.iter().any(|l| l["source"] == "sweep"), "{written:#?}");
    })
    .await;
    assert_eq!(summary.written, 43);
    assert!(summary.duplicates_skipped > 0, "{summary:?}");
    assert_eq!((summary.deliveries_refused, summary.deliveries_left_to_the_sweep), (0, 0));
    let posts = watch_requests(&h, "POST");
    assert_eq!(posts.len(), 1, "one channel");
    assert_enable(&h, &posts[0], &["Leads.all"], &url, None);
    assert!(h.sandbox.watch_channels().is_empty(), "disabled on exit");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_watch_resumes_its_channel_and_writes_nothing_twice() {
    let h = Harness::new().await;
    let (listener, url) = notify_listener().await;
    let out = out_file("restart");
    let request = request(&url, &["Contacts.create", "Contacts.edit"], "1s", "1m");
    let first = watching(runtime(), &h, &request, listener, &out, async {
        until("the channel is enabled", || h.sandbox.watch_channels().len() == 1).await;
        for i in 0..3 {
            h.sandbox.create_record("Contacts", json!({ "Last_Name": format!("Before {i}") }));
        }
        until("three creates are written", || lines(&out).len() == 3).await;
    })
    .await;
    let posts = watch_requests(&h, "POST");
    assert_eq!(posts.len(), 1);
    assert_enable(&h, &posts[0], &["Contacts.create", "Contacts.edit"], &url, None);
    let channel = enabled_item(&posts[0]);
    assert_eq!(json!(first.channel_id), channel["channel_id"]);
    // Exit disabled it, exactly so.
    let deletes = watch_requests(&h, "DELETE");
    assert_eq!(deletes.len(), 1);
    assert_request(&deletes[0], &h.token, "DELETE", WATCH_PATH, &[("channel_ids", &first.channel_id)], None);
    assert!(h.sandbox.watch_channels().is_empty());

    // A restarted host (a new runtime on the same store): the same channel, enabled again.
    let restarted = component_tests::new_runtime();
    let created_while_down = h.sandbox.create_record("Contacts", json!({ "Last_Name": "While down" }));
    let second = watching(&restarted, &h, &request, listener_for(&url).await, &out, async {
        until("the channel is enabled again", || h.sandbox.watch_channels().len() == 1).await;
        until("the change made while down is written by the sweep", || lines(&out).iter().any(|l| l["id"] == created_while_down.as_str())).await;
        h.sandbox.create_record("Contacts", json!({ "Last_Name": "After" }));
        until("the new create is written", || lines(&out).len() == 5).await;
    })
    .await;
    assert_eq!(second.channel_id, first.channel_id, "the same channel");
    let posts = watch_requests(&h, "POST");
    assert_eq!(posts.len(), 2);
    assert_enable(&h, &posts[1], &["Contacts.create", "Contacts.edit"], &url, Some(&channel));

    // A crash (no disable), then a restart: the channel is alive, so it is only listed.
    let third_runtime = component_tests::new_runtime();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let crashed = watch::run(&third_runtime, &h.connection, Some(&h.namespace), &request, listener_for(&url).await, appending(&out), async {
        let _ = stopped.await;
    });
    tokio::select! {
        outcome = crashed => panic!("the watch ended by itself: {:?}", outcome.map(|s| s.channel_id)),
        () = until("the channel is enabled once more", || watch_requests(&h, "POST").len() == 3) => {}
    }
    drop(stop);
    let alive = h.sandbox.watch_channels();
    assert_eq!(alive.len(), 1, "a crashed watch leaves its channel");
    let lists_before = watch_requests(&h, "GET").len();
    let fourth = watching(&component_tests::new_runtime(), &h, &request, listener_for(&url).await, &out, async {
        until("the resumed channel is listed", || watch_requests(&h, "GET").len() > lists_before).await;
    })
    .await;
    assert_eq!(fourth.channel_id, first.channel_id);
    assert_eq!(watch_requests(&h, "POST").len(), 3, "no second channel: a live one is resumed, not enabled");
    let list = &watch_requests(&h, "GET")[lists_before];
    assert_request(list, &h.token, "GET", WATCH_PATH, &[("channel_id", &first.channel_id)], None);

    // Nothing was written twice across the restarts.
    let written = lines(&out);
    assert_eq!(written.len(), 5, "{written:#?}");
    assert!(by_id(&written).values().all(|l| l.len() == 1), "{written:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_channel_is_renewed_by_zohos_clock_before_it_lapses() {
    let h = Harness::new().await;
    let start = chrono::Utc::now();
    h.sandbox.clock().freeze_at(start);
    let (listener, url) = notify_listener().await;
    let out = out_file("renew");
    let request = request(&url, &["Deals.edit", "Contacts.create"], "1h", "200ms");
    // Access tokens expire by the sandbox's clock too: a grant refreshes them.
    let connection = h.refresh_connection();
    let week = chrono::Duration::days(7);
    let summary = watching_as(runtime(), &h, &connection, &request, listener, &out, async {
        until("the channel is enabled", || h.sandbox.watch_channels().len() == 1).await;
        let first_expiry = h.sandbox.watch_channels()[0].expiry;
        // A week, less the five minutes kept in hand before Zoho's clock was read.
        assert!(first_expiry > start + week - chrono::Duration::minutes(6), "a week's channel: {first_expiry}");
        assert!(watch_requests(&h, "PATCH").is_empty(), "a week left: no renewal");
        // Six days on by Zoho's clock: a day left, under the 42 hours' margin (a quarter of a week).
        h.sandbox.clock().advance(chrono::Duration::days(6));
        until("the channel is renewed to a week from Zoho's now", || {
            h.sandbox.watch_channels().first().is_some_and(|c| c.expiry > start + chrono::Duration::days(6) + week - chrono::Duration::minutes(1))
        })
        .await;
        // Past the first expiry: the channel lives on, never lapsed, never enabled again.
        h.sandbox.clock().advance(chrono::Duration::days(2));
        assert_eq!(h.sandbox.watch_channels().len(), 1);
    })
    .await;
    assert!(summary.renewals >= 1, "{summary:?}");
    assert_eq!(summary.reenabled, 0);
    let posts = watch_requests(&h, "POST");
    assert_eq!(posts.len(), 1, "never enabled again");
    let patches = watch_requests(&h, "PATCH");
    assert!(!patches.is_empty());
    // Each renewal restates what Zoho's PATCH requires (channel_id, notify_url, events) from
    // the watch's own state: one request, no listing read for it.
    for patch in &patches {
        let expiry = patch.json().expect("JSON")["watch"][0]["channel_expiry"].clone();
        let body = json!({ "watch": [{ "channel_id": summary.channel_id, "events": ["Contacts.create", "Deals.edit"], "channel_expiry": expiry, "notify_url": url }] });
        // The token is whichever the grant issued then (asserted by the sandbox answering 200).
        let token = patch.header("authorization").and_then(|a| a.strip_prefix("Zoho-oauthtoken ")).expect("a Zoho token").to_string();
        assert_request(patch, &token, "PATCH", WATCH_PATH, &[], Some(body));
    }
    // Every renewal was sent while the channel was alive by the sandbox's clock, and Zoho took it.
    let statuses: Vec<Option<u16>> = patches.iter().map(|p| p.response_status).collect();
    assert!(statuses.iter().all(|s| *s == Some(200)), "{statuses:?}");
    // Disabled on exit (after a token refresh: the access token expired by the sandbox's clock).
    let deletes: Vec<_> = watch_requests(&h, "DELETE").into_iter().filter(|d| d.response_status == Some(200)).collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!((deletes[0].path.as_str(), &deletes[0].query), (WATCH_PATH, &vec![("channel_ids".to_string(), summary.channel_id.clone())]));
    assert!(h.sandbox.watch_channels().is_empty());
}

/// One HTTP/1.1 exchange with the notify URL: the status it answered.
async fn post(url: &str, method: &str, path: &str, body: &str) -> u16 {
    let addr = url.trim_start_matches("http://").split('/').next().expect("host:port");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("the notify URL listens");
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).await.expect("sent");
    // A refused body may be answered before it is all read: the answer is what counts.
    let _ = stream.write_all(body.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_delivery_is_refused_with_403_and_written_nowhere() {
    let h = Harness::new().await;
    let (listener, url) = notify_listener().await;
    let out = out_file("forged");
    let request = request(&url, &["Leads.all"], "1h", "1m");
    // A lead changed long before the watch: no sweep of this watch reads it.
    let (lead, _) = h.sandbox.record_versions("Leads").into_iter().min().expect("seeded leads");
    let last_name = h.sandbox.record("Leads", &lead).expect("the lead")["Last_Name"].clone();
    let summary = watching(runtime(), &h, &request, listener, &out, async {
        until("the channel is enabled", || h.sandbox.watch_channels().len() == 1).await;
        let channel = h.sandbox.watch_channels().remove(0);
        let token = channel.token.clone().expect("a token");
        // Until the enable's answer is in, the notify URL answers 503 (Zoho retries; the sweep reads it anyway).
        let mut status = 503;
        while status == 503 {
            status = post(&url, "POST", "/zoho/notify", "{}").await;
        }
        assert_eq!(status, 403, "a body without a token");
        let delivery = |channel_id: &str, token: Option<&str>| {
            let mut body = json!({ "server_time": 1_767_225_600_000i64, "query_params": {}, "module": "Leads", "resource_uri": format!("{}/crm/v8/Leads", h.sandbox.url), "ids": [lead], "affected_fields": [], "operation": "update", "channel_id": channel_id });
            if let Some(token) = token {
                body["token"] = json!(token);
            }
            body.to_string()
        };
        // A parse that reads records asks for them by id.
        let record_reads = || h.sandbox.requests().iter().filter(|r| r.query.iter().any(|(k, _)| k == "ids")).count();
        let wrong_last = format!("{}x", &token[..token.len() - 1]);
        for forged in [delivery(&channel.channel_id, Some("forged")), delivery(&channel.channel_id, Some(&wrong_last)), delivery(&channel.channel_id, None), delivery("1000000000001", Some(&token)), delivery(&channel.channel_id, Some(&format!("{token}\u{0}")))] {
            assert_eq!(post(&url, "POST", "/zoho/notify", &forged).await, 403, "{forged}");
        }
        assert_eq!(post(&url, "POST", "/zoho/notify", "{not json").await, 400);
        assert_eq!(post(&url, "GET", "/zoho/notify", "").await, 405);
        assert_eq!(post(&url, "POST", "/elsewhere", &delivery(&channel.channel_id, Some(&token))).await, 404);
        assert_eq!(post(&url, "POST", "/zoho/notify", &format!("{{\"token\":\"{}\"}}", "a".repeat(1 << 20))).await, 413);
        // Nothing was fetched for them, nothing written.
        assert_eq!(record_reads(), 0, "a refused delivery reads nothing");
        assert!(lines(&out).is_empty());
        // The genuine one is answered 200 and written, with the record read.
        assert_eq!(post(&url, "POST", "/zoho/notify", &delivery(&channel.channel_id, Some(&token))).await, 200);
        until("the genuine delivery is written", || lines(&out).len() == 1).await;
        let line = &lines(&out)[0];
        assert_eq!((line["id"].as_str(), line["operation"].as_str(), line["source"].as_str()), (Some(lead.as_str()), Some("update"), Some("notification")));
        assert_eq!(line["record"]["Last_Name"], last_name);
        assert_eq!(line["channel_id"], channel.channel_id.as_str());
        assert_ne!(record_reads(), 0, "the genuine delivery's record is read (a request per 50 fields)");
        // The usual case: no sweep for an hour, and a create is written seconds later by its delivery.
        let created = h.sandbox.create_record("Leads", json!({ "Last_Name": "Seconds later" }));
        until("the create is written by its delivery", || lines(&out).len() == 2).await;
        let line = &lines(&out)[1];
        assert_eq!((line["id"].as_str(), line["operation"].as_str(), line["source"].as_str()), (Some(created.as_str()), Some("insert"), Some("notification")));
    })
    .await;
    assert_eq!(summary.deliveries_refused, 6);
    assert_eq!((summary.deliveries_accepted, summary.written), (2, 2));
    assert_eq!(lines(&out).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watchs_sweeps_leave_the_tenants_own_cursor_alone() {
    let h = Harness::new().await;
    // The tenant's own Leads flow has swept once and committed its cursor.
    let mut page = 1;
    loop {
        let result = component_tests::ok_of(&h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Leads", "page": page, "fields": "Last_Name" })).await).clone();
        if result["more_records"] != json!(true) {
            break;
        }
        page += 1;
    }
    component_tests::ok_of(&h.run("incremental-update-last-successful-run-date", json!({ "record-type": "Leads" })).await);
    let (listener, url) = notify_listener().await;
    let out = out_file("namespaces");
    let request = request(&url, &["Leads.create"], "1s", "1m");
    let sweeps_done = || h.sandbox.requests().iter().filter(|r| r.path == "/crm/v8/coql").count();
    let ids: Vec<String> = (0..3).map(|i| format!("{i}")).collect();
    let mut created = Vec::new();
    watching(runtime(), &h, &request, listener, &out, async {
        until("the channel is enabled", || h.sandbox.watch_channels().len() == 1).await;
        created = ids.iter().map(|i| h.sandbox.create_record("Leads", json!({ "Last_Name": format!("Mine {i}") }))).collect();
        until("the creates are written", || lines(&out).len() == 3).await;
        let before = sweeps_done();
        until("two sweeps have committed past them", || sweeps_done() >= before + 2).await;
    })
    .await;
    // The tenant's next sweep still gets them: the watch committed only its own cursor.
    let result = component_tests::ok_of(&h.run("incremental-list-modified-records-by-page", json!({ "record-type": "Leads", "page": 1, "fields": "Last_Name" })).await).clone();
    let seen: Vec<&str> = result["records"].as_array().expect("records").iter().filter_map(|r| r["id"].as_str()).collect();
    for id in &created {
        assert!(seen.contains(&id.as_str()), "{id} missing from the tenant's own sweep: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_consumer_never_makes_zoho_wait_and_an_overflow_is_swept() {
    let h = Harness::new().await;
    let (listener, url) = notify_listener().await;
    let out = out_file("slow");
    let request = request(&url, &["Contacts.create"], "2s", "1m");
    let summary = watching(runtime(), &h, &request, listener, &out, async {
        until("the channel is enabled", || h.sandbox.watch_channels().len() == 1).await;
        // Every read of a record now takes 100 ms: the worker falls far behind the deliveries.
        h.sandbox.set_limits(zoho_sandbox::Limits { latency: Duration::from_millis(100), ..zoho_sandbox::Limits::default() });
        let ids: Vec<String> = (0..80).map(|i| h.sandbox.create_record("Contacts", json!({ "Last_Name": format!("Burst {i}") }))).collect();
        until("every delivery is answered", || h.sandbox.deliveries().iter().all(|d| d.status.is_some()) && h.sandbox.deliveries().len() == 80).await;
        assert!(h.sandbox.deliveries().iter().all(|d| d.status == Some(200)), "{:?}", h.sandbox.deliveries());
        assert!(lines(&out).len() < 80, "the answers did not wait for the work");
        until("every create is written", || by_id(&lines(&out)).len() == 80).await;
        let written = lines(&out);
        assert_eq!(written.len(), 80, "none twice");
        assert!(ids.iter().all(|id| by_id(&written).contains_key(id)));
    })
    .await;
    assert!(summary.deliveries_left_to_the_sweep > 0, "the queue is bounded: {summary:?}");
    assert_eq!(summary.deliveries_accepted + summary.deliveries_left_to_the_sweep, 80);
    assert_eq!(summary.written, 80);
}

/// Waits until the sandbox's clock (Zoho's, whole seconds) is in a later second than `at`.
async fn past_the_second_of(h: &Harness, at: &str) {
    seconds_past(h, at, 1).await;
}

/// Waits until the sandbox's clock is at least `seconds` whole seconds past `at`'s second. A
/// sweep may start a second early (either reading of If-Modified-Since, a cursor a second before
/// Zoho's Date), so a change two seconds before a start is clearly before it.
async fn seconds_past(h: &Harness, at: &str, seconds: i64) {
    let at = chrono::DateTime::parse_from_rfc3339(at).expect("an ISO time").timestamp();
    until("Zoho's clock is seconds later", || h.sandbox.clock().now().timestamp() >= at + seconds).await;
}

fn created_time(h: &Harness, module: &str, id: &str) -> String {
    h.sandbox.record(module, id).expect("the record")["Created_Time"].as_str().expect("a Created_Time").to_string()
}

/// The sweeps (COQL walks) the sandbox has answered.
fn sweeps_done(h: &Harness) -> usize {
    h.sandbox.requests().iter().filter(|r| r.path == "/crm/v8/coql" && r.response_status.is_some()).count()
}

/// A `Module.edit` watch whose edit delivery is lost: the safety-net sweep reads a record
/// created and edited since its last sweep, and must write it (an edit is among its changes),
/// while a record only created (no edit watched) is not written.
#[tokio::test(flavor = "multi_thread")]
async fn an_edit_watch_gets_from_the_sweep_an_edit_of_a_record_created_since_its_last_sweep() {
    let h = Harness::new().await;
    // Every delivery is lost: only the sweep can write the edit.
    h.sandbox.set_delivery_drop_share(1.0);
    let (listener, url) = notify_listener().await;
    let out = out_file("edit-of-new");
    let request = request(&url, &["Leads.edit"], "1s", "1m");
    let (mut edited, mut only_created) = (String::new(), String::new());
    let summary = watching(runtime(), &h, &request, listener, &out, async {
        until("the channel is enabled", || h.sandbox.watch_channels().len() == 1).await;
        let first = sweeps_done(&h);
        until("a sweep has committed before the changes", || sweeps_done(&h) >= first + 2).await;
        edited = h.sandbox.create_record("Leads", json!({ "Last_Name": "Created" }));
        only_created = h.sandbox.create_record("Leads", json!({ "Last_Name": "Only created" }));
        past_the_second_of(&h, &created_time(&h, "Leads", &edited)).await;
        h.sandbox.modify_record("Leads", &edited, json!({ "Last_Name": "Then edited" }));
        until("the edit is written by the sweep", || !lines(&out).is_empty()).await;
        // Two more sweeps: nothing else is written (the record only created is not an edit).
        let before = sweeps_done(&h);
        until("two more sweeps", || sweeps_done(&h) >= before + 2).await;
    })
    .await;
    let written = lines(&out);
    assert_eq!(written.len(), 1, "{written:#?}");
    let line = &written[0];
    assert_eq!((line["id"].as_str(), line["operation"].as_str(), line["source"].as_str()), (Some(edited.as_str()), Some("update"), Some("sweep")), "{line}");
    assert_eq!(line["record"]["Last_Name"], "Then edited");
    assert_ne!(line["id"], only_created.as_str());
    assert!(h.sandbox.deliveries().iter().all(|d| d.dropped), "the edit arrived only through the sweep: {:?}", h.sandbox.deliveries());
    assert_eq!(summary.written, 1);
}

/// A watch restarted with other events keeps each module's place: a module it watched before
/// continues from its cursor (the change made while it was down is written), a module newly
/// watched starts with the new channel (what changed before is not its business).
#[tokio::test(flavor = "multi_thread")]
async fn a_watch_restarted_with_other_events_writes_the_changes_made_while_it_was_down() {
    let h = Harness::new().await;
    let (listener, url) = notify_listener().await;
    let out = out_file("events-change");
    let first = watching(runtime(), &h, &request(&url, &["Leads.create"], "1s", "1m"), listener, &out, async {
        until("the channel is enabled", || h.sandbox.watch_channels().len() == 1).await;
        let before = sweeps_done(&h);
        until("a sweep has committed Leads' cursor", || sweeps_done(&h) >= before + 2).await;
    })
    .await;
    assert!(h.sandbox.watch_channels().is_empty(), "disabled on exit");
    // While it is down: a lead (watched before and after) and a contact (watched only after).
    let lead = h.sandbox.create_record("Leads", json!({ "Last_Name": "While down" }));
    let contact = h.sandbox.create_record("Contacts", json!({ "Last_Name": "Before Contacts were watched" }));
    // The new channel starts clearly after these creates.
    seconds_past(&h, &created_time(&h, "Contacts", &contact), 3).await;
    let restarted = component_tests::new_runtime();
    let wider = request(&url, &["Leads.create", "Contacts.create"], "1s", "1m");
    let second = watching(&restarted, &h, &wider, listener_for(&url).await, &out, async {
        until("the lead created while down is written", || lines(&out).iter().any(|l| l["id"] == lead.as_str())).await;
        let before = sweeps_done(&h);
        until("two more sweeps", || sweeps_done(&h) >= before + 4).await;
    })
    .await;
    let written = lines(&out);
    assert_eq!(written.len(), 1, "{written:#?}");
    assert_eq!((written[0]["id"].as_str(), written[0]["operation"].as_str(), written[0]["source"].as_str()), (Some(lead.as_str()), Some("insert"), Some("sweep")));
    assert_eq!(written[0]["channel_id"], second.channel_id.as_str());
    // The new events are a new channel (the old one was disabled on exit, not left live).
    assert_ne!(second.channel_id, first.channel_id);
    let posts = watch_requests(&h, "POST");
    assert_eq!(posts.len(), 2);
    assert_enable(&h, &posts[1], &["Contacts.create", "Leads.create"], &url, None);
    assert_eq!(enabled_item(&posts[1])["channel_id"], second.channel_id.as_str());
    assert!(h.sandbox.watch_channels().is_empty());
}

/// A platform-managed token (no --namespace): the watch's namespace is its organization's. The
/// platform rotates the token while the watch is down, and the first `GET /org` of the restart
/// fails: the watch asks again and resumes its own channel and cursors, instead of starting
/// under the token's namespace with a second channel that never writes the change made meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_org_lookup_does_not_move_a_managed_token_watch_to_another_channel() {
    let h = Harness::new().await;
    let (listener, url) = notify_listener().await;
    let out = out_file("org-lookup");
    let managed = |token: &str| json!({ "api-domain": h.sandbox.url, "access-token": token });
    let request = request(&url, &["Leads.create"], "1h", "1m");
    let run = |runtime: &'static Runtime, connection: Value, listener: TcpListener, until_enabled: usize| {
        let out = out.clone();
        let h = &h;
        let request = request.clone();
        async move {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let watch = watch::run(runtime, &connection, None, &request, listener, appending(&out), async {
                let _ = stopped.await;
            });
            let drive = async {
                until("the channel is enabled", || watch_requests(h, "POST").len() == until_enabled && h.sandbox.watch_channels().len() == 1).await;
                until("the first sweep is done", || sweeps_done(h) >= until_enabled).await;
                let _ = stop.send(());
            };
            let (summary, ()) = tokio::join!(watch, drive);
            summary.unwrap_or_else(|e| panic!("the watch failed: {e:#}"))
        }
    };
    let first = run(runtime(), managed(&h.sandbox.issue_token()), listener, 1).await;
    assert!(h.sandbox.watch_channels().is_empty(), "disabled on exit");
    let lead = h.sandbox.create_record("Leads", json!({ "Last_Name": "While down" }));
    seconds_past(&h, &created_time(&h, "Leads", &lead), 3).await;
    let org_requests = || h.sandbox.requests().into_iter().filter(|r| r.path == "/crm/v8/org").collect::<Vec<_>>();
    let orgs_before = org_requests().len();
    h.sandbox.inject(zoho_sandbox::Fault::status(1, 500, r#"{"code":"INTERNAL_ERROR","details":{},"message":"Internal Server Error","status":"error"}"#).on_path("/crm/v8/org"));
    let rotated = h.sandbox.issue_token();
    let second = run(runtime(), managed(&rotated), listener_for(&url).await, 2).await;
    let asked: Vec<Option<u16>> = org_requests()[orgs_before..].iter().map(|r| r.response_status).collect();
    assert_eq!(asked, [Some(500), Some(200)], "asked again after the failure");
    assert_eq!(second.channel_id, first.channel_id, "the same channel, resumed");
    let posts = watch_requests(&h, "POST");
    assert_eq!(posts.len(), 2);
    let (before, again) = (enabled_item(&posts[0]), enabled_item(&posts[1]));
    assert_eq!((&again["channel_id"], &again["token"]), (&before["channel_id"], &before["token"]), "enabled again under the same id and token");
    assert_eq!(posts[1].header("authorization"), Some(format!("Zoho-oauthtoken {rotated}").as_str()));
    let written = lines(&out);
    assert_eq!(written.len(), 1, "{written:#?}");
    assert_eq!((written[0]["id"].as_str(), written[0]["source"].as_str()), (Some(lead.as_str()), Some("sweep")));
}

/// Zoho cannot say whose a managed token is: after a few tries with backoff the watch refuses
/// to start (and says why and what to do) rather than start under another identity.
#[tokio::test(flavor = "multi_thread")]
async fn a_managed_token_watch_whose_org_cannot_be_read_refuses_to_start() {
    let h = Harness::new().await;
    let (listener, url) = notify_listener().await;
    let out = out_file("org-unreadable");
    let token = h.sandbox.issue_token();
    let connection = json!({ "api-domain": h.sandbox.url, "access-token": token });
    h.sandbox.inject(zoho_sandbox::Fault::status(100, 503, r#"{"code":"INTERNAL_ERROR","details":{},"message":"Service unavailable","status":"error"}"#).on_path("/crm/v8/org"));
    let request = request(&url, &["Leads.create"], "1h", "1m");
    // Were the watch to start anyway, it is stopped once it enables a channel (and fails below).
    let outcome = watch::run(runtime(), &connection, None, &request, listener, appending(&out), until("a channel is enabled", || !watch_requests(&h, "POST").is_empty())).await;
    let error = format!("{:#}", outcome.expect_err("the start is refused"));
    assert!(error.contains("the organization of the access token could not be read (GET /org answered 503; 4 tries)"), "{error}");
    assert!(error.contains("pass --namespace"), "{error}");
    assert!(!error.contains(&token), "no secret in the error");
    let orgs = h.sandbox.requests().into_iter().filter(|r| r.path == "/crm/v8/org").count();
    assert_eq!(orgs, 4);
    assert!(watch_requests(&h, "POST").is_empty(), "no channel enabled");
    assert!(lines(&out).is_empty());
}

/// kill -9 after Zoho enabled a new channel but before its answer came back: the channel is
/// stored (recorded before the enable) without its start. The restart asks a shorter lifetime
/// (`--expiry-minutes 60` after the default week) 40 minutes later (within the access token's hour): its first sweep must start
/// from when the channel was recorded, not from the channel's expiry less the new lifetime
/// (which fell after the enable, and the lead created while the watch was down, its delivery
/// lost, was never written).
#[tokio::test(flavor = "multi_thread")]
async fn a_watch_killed_after_its_enable_landed_sweeps_from_the_recorded_channel_whatever_lifetime_it_restarts_with() {
    let h = Harness::new().await;
    h.sandbox.set_delivery_drop_share(1.0);
    let (listener, url) = notify_listener().await;
    let out = out_file("killed-after-enable");
    let week = request(&url, &["Leads.create"], "1s", "1m");
    // What the killed start left: its channel stored, then enabled at Zoho for a week.
    let steps = watch::Steps { runtime: runtime(), connection: &h.connection, namespace: h.namespace.clone() };
    let state = watch::channel::ChannelState::successor(None, watch::flags::zoho_events(&week.modules), &url, &week.modules);
    watch::channel::save(&steps, &format!("channel/{}", watch::watch_id(&url)), &state).expect("stored");
    let enable = json!({ "events": state.events, "notify-url": url, "expiry-minutes": 10_080, "channel-id": state.channel_id, "token": state.token });
    component_tests::ok_of(&h.run("notifications-enable", enable).await);
    let lead = h.sandbox.create_record("Leads", json!({ "Last_Name": "While down" }));
    h.sandbox.clock().advance(chrono::Duration::minutes(40));
    let hour = WatchRequest::new(&["Leads.create".to_string()], &url, "1s", "1m", true, 60).expect("valid flags");
    let summary = watching(runtime(), &h, &hour, listener, &out, async {
        until("the lead created while the watch was down is written", || lines(&out).iter().any(|l| l["id"] == lead.as_str())).await;
    })
    .await;
    assert_eq!(summary.channel_id, state.channel_id, "the stored channel is resumed");
    assert_eq!(watch_requests(&h, "POST").len(), 1, "no second enable: the landed one is resumed");
    let written = lines(&out);
    assert_eq!(written.len(), 1, "{written:#?}");
    assert_eq!((written[0]["operation"].as_str(), written[0]["source"].as_str()), (Some("insert"), Some("sweep")));
}
