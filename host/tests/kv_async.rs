//! The key-value backends never block the async runtime: while another process holds the
//! SQLite file's write lock, a step waiting on it leaves its runtime thread free for others.

use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use zoho_host::{ActionRef, HostConfig, Runtime};
use zoho_sandbox::Sandbox;

/// One runtime thread: if a key-value call blocked it, the ticker below could not tick while
/// the step waits 400 ms for the write lock.
#[tokio::test(flavor = "current_thread")]
async fn a_step_waiting_for_the_database_lock_leaves_the_runtime_free() {
    let dir = std::env::temp_dir().join(format!("zoho-kv-async-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = Runtime::new(HostConfig::new(zoho_host::default_component_path(), &dir)).expect("runtime (run ./build.sh first)");
    let sandbox = Sandbox::start().await.unwrap();

    // Another process's writer: holds the write lock for 400 ms.
    let path = dir.join("kv.sqlite3");
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch("BEGIN IMMEDIATE").unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(400));
        db.execute_batch("COMMIT").unwrap();
    });
    locked_rx.recv().unwrap();

    let ticks = Arc::new(AtomicU64::new(0));
    let ticking = ticks.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            ticking.fetch_add(1, Ordering::Relaxed);
        }
    });
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() });
    let input = json!({ "record-type": "Leads", "record-id": "5725767000000524157" });
    let action = ActionRef::from_key("crm-get-record").unwrap();
    // The step counts its credit: an increment that waits for the lock.
    let outcome = runtime.run(&action, &connection, &input, None, Some("kv-async")).await.unwrap();
    let during = ticks.load(Ordering::Relaxed);
    ticker.abort();
    holder.join().unwrap();
    assert_eq!(outcome.result.unwrap()["id"], json!("5725767000000524157"));
    assert!(during >= 10, "the runtime ticked only {during} times while the step waited for the lock");
    assert_eq!(sandbox.requests().len(), 1);
}
