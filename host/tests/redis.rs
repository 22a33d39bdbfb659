//! The Redis key-value backend: the conformance suite, and several `zoho-host` worker processes
//! sharing one Redis: one token refresh, one cursor, one concurrency cap.
//! Each test starts its own `redis-server` (build.sh installs it) on a free port.

use serde_json::{json, Value};
use std::process::{Child, Command};
use std::sync::Arc;
use zoho_host::kv::{conformance, KvBackend, RedisStore};

struct Redis {
    child: Child,
    url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis() -> Redis {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    // The child is waited for by `Redis`'s Drop, which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server must be installed (./build.sh installs it)");
    let url = format!("redis://127.0.0.1:{port}/");
    for _ in 0..100 {
        if RedisStore::open(&url).is_ok() {
            return Redis { child, url };
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("redis-server did not start on {port}");
}

#[test]
fn redis_passes_the_same_conformance_suite_as_sqlite() {
    let server = redis();
    let store: Arc<dyn KvBackend> = Arc::new(RedisStore::open(&server.url).expect("redis"));
    conformance::values_and_namespaces(&*store, "t");
    conformance::increments_lose_nothing(store, "t");
}

fn zoho_host(redis: &str, data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zoho-host"));
    command.args(["--kv", redis, "--data-dir", data_dir.to_str().expect("utf-8")]);
    command
}

fn run(redis: &str, data_dir: &std::path::Path, key: &str, connection: &Value, input: Value) -> Value {
    let output = zoho_host(redis, data_dir).args(["run", key, "--namespace", "shared", "--connection", &connection.to_string(), "--input", &input.to_string()]).output().expect("zoho-host runs");
    assert!(output.status.success(), "{key}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[test]
fn two_workers_share_one_token_one_cursor_and_one_cap() {
    let server = redis();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let sandbox = tokio.block_on(zoho_sandbox::Sandbox::start()).expect("sandbox");
    let base = std::env::temp_dir().join(format!("zoho-redis-workers-{}", std::process::id()));
    let (a, b) = (base.join("worker-a"), base.join("worker-b"));
    let connection = json!({
        "accounts-url": sandbox.url, "api-domain": sandbox.url,
        "client-id": zoho_sandbox::CLIENT_ID, "client-secret": zoho_sandbox::CLIENT_SECRET, "refresh-token": zoho_sandbox::REFRESH_TOKEN,
    });

    // One token: worker A refreshes, worker B reuses it from Redis.
    run(&server.url, &a, "crm-get-record", &connection, json!({ "record-type": "Leads", "record-id": "5725767000000524157" }));
    run(&server.url, &b, "crm-get-record", &connection, json!({ "record-type": "Leads", "record-id": "5725767000000524157" }));
    let token_requests = sandbox.requests().iter().filter(|r| r.path == "/oauth/v2/token").count();
    assert_eq!(token_requests, 1, "one refresh for two workers");

    // One cursor: A reads the first pages of the sweep, B the rest, B commits.
    let mut ids = std::collections::HashSet::new();
    for page in 1..=13u32 {
        let worker = if page <= 4 { &a } else { &b };
        let result = run(&server.url, worker, "incremental-list-contacts-by-page", &connection, json!({ "page": page, "fields": "Email" }));
        ids.extend(result["records"].as_array().expect("records").iter().map(|r| r["id"].as_str().expect("id").to_string()));
        assert_eq!(result["more_records"], page < 13);
    }
    assert_eq!(ids.len(), 2600, "the two workers read one sweep between them");
    run(&server.url, &b, "incremental-update-last-successful-run-date", &connection, json!({}));
    sandbox.modify_record("Contacts", "5725767000000524300", json!({ "Email": "moved@example.com" }));
    let next = run(&server.url, &a, "incremental-list-contacts-by-page", &connection, json!({ "page": 1, "fields": "Email" }));
    let changed: Vec<&str> = next["records"].as_array().expect("records").iter().map(|r| r["Email"].as_str().unwrap_or("")).collect();
    assert!(changed.contains(&"moved@example.com") && changed.len() < 10, "A sees B's commit: {changed:?}");

    // One cap: both workers sync streams at once, 3 requests in flight for the connection in all.
    sandbox.set_limits(zoho_sandbox::Limits { latency: std::time::Duration::from_millis(40), ..Default::default() });
    // Each worker its own streams (two workers on one stream would race for its one sweep).
    let spawn = |dir: &std::path::Path, streams: &str| {
        zoho_host(&server.url, dir)
            .args(["sync", "--namespace", "shared", "--streams", streams, "--concurrency", "3", "--anchor-date", "2000-01-01"])
            .args(["--out", dir.join("out").to_str().expect("utf-8"), "--connection", &connection.to_string()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn")
    };
    let (mut first, mut second) = (spawn(&a, "leads,deals,tasks"), spawn(&b, "calls,products,vendors"));
    assert!(first.wait().expect("wait").success());
    assert!(second.wait().expect("wait").success());
    assert!(sandbox.max_in_flight() <= 3, "{} in flight across two workers", sandbox.max_in_flight());
    let _ = std::fs::remove_dir_all(base);
}

/// A workflow over Books' per-minute limit, run by two workers sharing Redis: 130 Books steps
/// as fast as two workers go. Books counts any 60 seconds (the sandbox refuses the 101st with
/// 429), so the connection holds back the 101st request: a step waits its turn within its retry
/// budget, or answers rate-limited with the wait, which the workers (as a platform does) sleep
/// before running the step again. Every step succeeds, Books never answers 429, and no 60
/// seconds hold more than 100 Books requests: the workflow is slowed to Books' rate.
#[test]
fn two_workers_sharing_redis_are_slowed_to_books_minute() {
    const STEPS: usize = 130;
    let server = redis();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let sandbox = tokio.block_on(zoho_sandbox::Sandbox::start()).expect("sandbox");
    let base = std::env::temp_dir().join(format!("zoho-redis-books-{}", std::process::id()));
    let connection = json!({
        "accounts-url": sandbox.url, "api-domain": sandbox.url, "books-organization-id": zoho_sandbox::BOOKS_ORG_ID,
        "client-id": zoho_sandbox::CLIENT_ID, "client-secret": zoho_sandbox::CLIENT_SECRET, "refresh-token": zoho_sandbox::REFRESH_TOKEN,
    });
    let input = json!({ "record-type": "contacts", "per-page": 1 }).to_string();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let held_back = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for worker in ["a", "b"] {
            let (dir, connection, input, next, held_back, url) = (base.join(worker), connection.to_string(), &input, &next, &held_back, &server.url);
            scope.spawn(move || {
                while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < STEPS {
                    loop {
                        let output = zoho_host(url, &dir).args(["run", "books-get-records", "--namespace", "shared", "--connection", &connection, "--input", input]).output().expect("zoho-host runs");
                        if output.status.success() {
                            break;
                        }
                        // The step's error is the JSON object `run` prints last on stderr.
                        let stderr = String::from_utf8_lossy(&output.stderr);
                        let error: Value = stderr
                            .match_indices("\n{")
                            .map(|(at, _)| at + 1)
                            .chain([0])
                            .find_map(|at| serde_json::from_str(&stderr[at..]).ok())
                            .unwrap_or_else(|| panic!("no error object in: {stderr}"));
                        assert_eq!(error["kind"], "rate-limited", "{error}");
                        held_back.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let wait = error["retry-after-ms"].as_u64().expect("a wait");
                        assert!(wait <= 66_000, "a wait of at most Books' minute and a slot: {wait}");
                        std::thread::sleep(std::time::Duration::from_millis(wait));
                    }
                }
            });
        }
    });
    let books: Vec<_> = sandbox.requests().into_iter().filter(|r| r.path.starts_with("/books/")).collect();
    assert_eq!(books.len(), STEPS, "one Books request a step, none refused and sent again");
    assert!(books.iter().all(|r| r.response_status == Some(200)), "Books never answered 429");
    let times: Vec<u128> = books.iter().map(|r| r.received_ms).collect();
    for (i, t) in times.iter().enumerate() {
        let within = times[i..].iter().take_while(|u| **u < t + 60_000).count();
        assert!(within <= 100, "{within} Books requests in the 60 s from {t}");
    }
    assert!(times[100] >= times[0] + 60_000, "the 101st waited for the first to leave Books' minute");
    assert!(held_back.load(std::sync::atomic::Ordering::SeqCst) > 0, "some steps were told to come back");
    let _ = std::fs::remove_dir_all(base);
}
