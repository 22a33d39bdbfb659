//! `zoho-host watch` as an operator runs it: every flag checked before any request, and
//! SIGTERM disabling the channel before the process exits 0.

use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;

fn zoho_host(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zoho-host"));
    command.args(["--data-dir", data_dir.to_str().expect("utf-8 path")]);
    command
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zoho-watch-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_flags_are_refused_before_any_request() {
    let sandbox = zoho_sandbox::Sandbox::start().await.expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("flags");
    let good = ["--events", "Leads.all", "--listen", "127.0.0.1:0", "--public-url", "http://127.0.0.1:9/hook"];
    let cases: [(&[&str], &str); 8] = [
        (&["--events", "Leads.update"], "the operation \"update\" is none of create, edit, delete, all"),
        (&["--events", "Le ads.all"], "--events: \"Le ads.all\""),
        (&["--listen", "localhost:eighty"], "--listen \"localhost:eighty\" is not an address"),
        (&["--public-url", "http://hooks.example.com/zoho"], "Zoho needs https"),
        (&["--public-url", "https://user:pw@hooks.example.com/zoho"], "carries credentials"),
        (&["--sweep-every", "15"], "--sweep-every \"15\" has no unit"),
        (&["--check-every", "2d"], "--check-every \"2d\" has no unit"),
        (&["--expiry-minutes", "10081"], "--expiry-minutes 10081 is out of range: 1 to 10080 (one week"),
    ];
    for (changed, message) in cases {
        let mut args: Vec<&str> = good.to_vec();
        for pair in changed.chunks(2) {
            let at = args.iter().position(|a| *a == pair[0]);
            match at {
                Some(i) => args[i + 1] = pair[1],
                None => args.extend_from_slice(pair),
            }
        }
        let output = zoho_host(&dir).arg("watch").args(["--connection", &connection]).args(&args).output().expect("zoho-host runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert!(sandbox.requests().is_empty(), "a refused flag sends nothing: {:?}", sandbox.requests());
    let _ = std::fs::remove_dir_all(dir);
}

async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_disables_the_channel_and_exits_zero() {
    let sandbox = zoho_sandbox::Sandbox::start().await.expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("sigterm");
    let out = dir.join("events.jsonl");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let url = format!("http://127.0.0.1:{port}/zoho");
    let child = zoho_host(&dir)
        .arg("watch")
        .args(["--connection", &connection, "--events", "Contacts.all", "--listen", &format!("127.0.0.1:{port}"), "--public-url", &url])
        .args(["--out", out.to_str().expect("utf-8"), "--sweep-every", "1h", "--namespace", "cli-watch"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zoho-host starts");
    until("the channel is enabled", || sandbox.watch_channels().len() == 1).await;
    // The first sweep (at the start) has read its page: the create below is the notification's.
    until("the first sweep has read Contacts", || sandbox.requests().iter().any(|r| r.path == "/crm/v8/coql" && r.response_status.is_some())).await;
    let channel_id = sandbox.watch_channels()[0].channel_id.clone();
    let id = sandbox.create_record("Contacts", json!({ "Last_Name": "Signalled" }));
    let written = || std::fs::read_to_string(&out).unwrap_or_default();
    until("the create is written", || written().lines().count() == 1).await;
    let line: Value = serde_json::from_str(written().trim()).expect("a JSON line");
    assert_eq!((line["id"].as_str(), line["operation"].as_str(), line["source"].as_str()), (Some(id.as_str()), Some("insert"), Some("notification")));

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("joined").expect("zoho-host exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let deletes: Vec<_> = sandbox.requests().into_iter().filter(|r| r.method == "DELETE" && r.path == "/crm/v8/actions/watch").collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0].query, vec![("channel_ids".to_string(), channel_id)]);
    assert_eq!(deletes[0].response_status, Some(200));
    assert!(sandbox.watch_channels().is_empty(), "disabled on exit");
    let summary: Value = serde_json::from_str(stderr.lines().last().unwrap_or("")).unwrap_or_else(|_| panic!("the summary ends stderr: {stderr}"));
    assert_eq!(summary["written"], 1);
    let _ = std::fs::remove_dir_all(dir);
}

/// Zoho keeps a channel up to a week since API v4 (Kaizen #170): the default asks a week (less
/// the five minutes kept in hand before Zoho's clock is known), and the channel Zoho keeps
/// lives that long.
#[tokio::test(flavor = "multi_thread")]
async fn the_default_channel_lives_a_week() {
    let sandbox = zoho_sandbox::Sandbox::start().await.expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("week");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let url = format!("http://127.0.0.1:{port}/zoho");
    let now_s = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let started = now_s();
    let child = zoho_host(&dir)
        .arg("watch")
        .args(["--connection", &connection, "--events", "Leads.create", "--listen", &format!("127.0.0.1:{port}"), "--public-url", &url])
        .args(["--out", dir.join("events.jsonl").to_str().expect("utf-8"), "--sweep-every", "1h", "--namespace", "cli-week"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zoho-host starts");
    until("the channel is enabled", || sandbox.watch_channels().len() == 1).await;
    let expiry = sandbox.watch_channels()[0].expiry.timestamp();
    let week = 7 * 24 * 3600;
    assert!(expiry >= started + week - 6 * 60 && expiry <= now_s() + week, "{expiry} is not a week from {started}");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("joined").expect("zoho-host exits");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_dir_all(dir);
}

/// SIGTERM while the channel is being enabled (Zoho slow to answer): the watch lets the enable
/// finish, disables that channel and exits 0; the channel was stored before it was enabled, so
/// the next start enables the same one again (same id and token), never a second.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_the_channel_is_enabled_disables_it_and_a_restart_reuses_it() {
    let sandbox = zoho_sandbox::Sandbox::start().await.expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("sigterm-start");
    let out = dir.join("events.jsonl");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let url = format!("http://127.0.0.1:{port}/zoho");
    let watch = || {
        zoho_host(&dir)
            .arg("watch")
            .args(["--connection", &connection, "--events", "Contacts.all", "--listen", &format!("127.0.0.1:{port}"), "--public-url", &url])
            .args(["--out", out.to_str().expect("utf-8"), "--sweep-every", "1h", "--namespace", "cli-watch-start"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zoho-host starts")
    };
    let watch_requests = |method: &str| sandbox.requests().into_iter().filter(|r| r.method == method && r.path == "/crm/v8/actions/watch").collect::<Vec<_>>();
    // Zoho takes a second and a half to answer: the enable is in flight when the signal comes.
    sandbox.set_limits(zoho_sandbox::Limits { latency: Duration::from_millis(1500), ..zoho_sandbox::Limits::default() });
    let child = watch();
    until("the enable is sent", || watch_requests("POST").len() == 1).await;
    assert_eq!(watch_requests("POST")[0].response_status, None, "not answered yet");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("joined").expect("zoho-host exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let posts = watch_requests("POST");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].response_status, Some(201), "the enable landed at Zoho");
    let enabled = posts[0].json().expect("JSON")["watch"][0].clone();
    let channel_id = enabled["channel_id"].as_str().expect("a channel id").to_string();
    let deletes = watch_requests("DELETE");
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0].query, vec![("channel_ids".to_string(), channel_id.clone())]);
    assert_eq!(deletes[0].response_status, Some(200));
    assert!(sandbox.watch_channels().is_empty(), "no channel left live at Zoho");
    let summary: Value = serde_json::from_str(stderr.lines().last().unwrap_or("")).unwrap_or_else(|_| panic!("the summary ends stderr: {stderr}"));
    assert_eq!((summary["channel_id"].as_str(), summary["written"].as_u64()), (Some(channel_id.as_str()), Some(0)));

    // The restart enables the channel it stored, under the same id and token.
    sandbox.set_limits(zoho_sandbox::Limits::default());
    let child = watch();
    until("the channel is enabled again", || sandbox.watch_channels().len() == 1).await;
    assert_eq!(sandbox.watch_channels()[0].channel_id, channel_id);
    let posts = watch_requests("POST");
    assert_eq!(posts.len(), 2, "{posts:?}");
    let again = posts[1].json().expect("JSON")["watch"][0].clone();
    assert_eq!((&again["channel_id"], &again["token"]), (&enabled["channel_id"], &enabled["token"]));
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("joined").expect("zoho-host exits");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(sandbox.watch_channels().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

/// kill -9 while the channel is being enabled: nothing can run on the way out, but the channel
/// was stored (id and token) before the enable was sent, so the restart enables that one again,
/// or resumes it when the enable had landed: one channel at Zoho, one id in every enable.
#[tokio::test(flavor = "multi_thread")]
async fn a_watch_killed_while_enabling_its_channel_restarts_on_the_same_channel() {
    let sandbox = zoho_sandbox::Sandbox::start().await.expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("kill-start");
    let out = dir.join("events.jsonl");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let url = format!("http://127.0.0.1:{port}/zoho");
    let watch = || {
        zoho_host(&dir)
            .arg("watch")
            .args(["--connection", &connection, "--events", "Leads.create", "--listen", &format!("127.0.0.1:{port}"), "--public-url", &url])
            .args(["--out", out.to_str().expect("utf-8"), "--sweep-every", "1h", "--namespace", "cli-watch-killed"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zoho-host starts")
    };
    let watch_requests = |method: &str| sandbox.requests().into_iter().filter(|r| r.method == method && r.path == "/crm/v8/actions/watch").collect::<Vec<_>>();
    sandbox.set_limits(zoho_sandbox::Limits { latency: Duration::from_millis(1500), ..zoho_sandbox::Limits::default() });
    let mut child = watch();
    until("the enable is sent", || watch_requests("POST").len() == 1).await;
    child.kill().expect("killed");
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("joined").expect("reaped");
    assert_eq!(status.code(), None, "killed by a signal");
    let first = watch_requests("POST")[0].json().expect("JSON")["watch"][0].clone();

    sandbox.set_limits(zoho_sandbox::Limits::default());
    let child = watch();
    // The restart lists its stored channel, then enables it again unless the killed enable landed.
    until("the restart's channel is live", || {
        sandbox.watch_channels().len() == 1 && watch_requests("GET").iter().any(|r| r.response_status.is_some()) && watch_requests("POST")[1..].iter().all(|r| r.response_status.is_some())
    })
    .await;
    let channels = sandbox.watch_channels();
    assert_eq!(channels.len(), 1, "{channels:?}");
    assert_eq!(Some(channels[0].channel_id.as_str()), first["channel_id"].as_str());
    for post in watch_requests("POST") {
        let item = post.json().expect("JSON")["watch"][0].clone();
        assert_eq!((&item["channel_id"], &item["token"]), (&first["channel_id"], &first["token"]), "one channel id and token in every enable");
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("joined").expect("zoho-host exits");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(sandbox.watch_channels().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}
