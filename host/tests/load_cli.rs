//! `zoho-host load` as an operator runs it: bad flags refused before any request, and a process
//! killed (SIGKILL) while its jobs are at Zoho, then run again: every line's outcome once, no job
//! made twice, no record written twice.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

fn zoho_host(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zoho-host"));
    command.args(["--data-dir", data_dir.to_str().expect("utf-8 path")]);
    command
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zoho-load-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn leads(path: &std::path::Path, n: usize) {
    let text: String = (0..n).map(|i| format!("{}\n", json!({ "Last_Name": format!("Kill {i:05}"), "Email": format!("kill{i:05}@example.com") }))).collect();
    std::fs::write(path, text).expect("input written");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_flags_are_refused_before_any_request() {
    let sandbox = zoho_sandbox::Sandbox::start().await.expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("flags");
    let input = dir.join("in.jsonl");
    leads(&input, 3);
    let cases: [(&[&str], &str); 4] = [
        (&["--concurrency", "11"], "--concurrency 11 is out of range: 1 to 10"),
        (&["--find-by", "Email"], "--find-by applies to --mode update and upsert"),
        (&["--mode", "merge"], "invalid value 'merge' for '--mode"),
        (&["--input", "/nonexistent/in.jsonl"], "opening /nonexistent/in.jsonl"),
    ];
    for (extra, message) in cases {
        let given = if extra.contains(&"--input") { Vec::new() } else { vec!["--input", input.to_str().expect("utf-8")] };
        let output = zoho_host(&dir).args(["load", "Leads", "--connection", &connection]).args(given).args(extra).output().expect("zoho-host runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
    }
    assert!(sandbox.requests().is_empty(), "a refused flag sends nothing: {:?}", sandbox.requests());
    let _ = std::fs::remove_dir_all(dir);
}

async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const WRITE: &str = "/crm/bulk/v8/write";

/// 30,000 Leads in jobs of 25,000 and 5,000, both at Zoho at once; the process is killed with
/// SIGKILL once Zoho answered both creates. The same command again: both jobs polled, none made
/// again, every line `added` once, 30,000 new Leads; the summary on stdout and stderr.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_load_is_finished_by_the_same_command_without_writing_twice() {
    let sandbox = zoho_sandbox::Sandbox::start().await.expect("sandbox");
    // Jobs stay ADDED for ten seconds: the kill lands while the host polls both.
    sandbox.tune_bulk_writes(|k| {
        k.added_for = 10;
        k.runs_for = 0;
    });
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("kill");
    let (input, out) = (dir.join("leads.jsonl"), dir.join("outcomes.jsonl"));
    leads(&input, 30_000);
    let before = sandbox.record_count("Leads");
    let args = ["load", "Leads", "--connection", &connection, "--input", input.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8"), "--concurrency", "2"];
    let mut child = zoho_host(&dir).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("zoho-host starts");
    let made = || sandbox.requests().iter().filter(|r| r.method == "POST" && r.path == WRITE && r.response_status.is_some()).count();
    until("both jobs are made", || made() == 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().expect("killed");
    let _ = child.wait();
    let state: Value = serde_json::from_slice(&std::fs::read(dir.join("outcomes.jsonl.state.json")).expect("state")).expect("json");
    let steps: Vec<&str> = state["chunks"].as_array().expect("chunks").iter().map(|c| c["step"].as_str().expect("step")).collect();
    assert_eq!(steps, ["created", "created"], "killed while both jobs were at Zoho");

    sandbox.clear_requests();
    let output = zoho_host(&dir).args(args).output().expect("zoho-host runs again");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(sandbox.requests().iter().filter(|r| r.method == "POST" && r.path == WRITE).count(), 0, "no job made again");
    assert_eq!(sandbox.requests().iter().filter(|r| r.path == "/crm/v8/upload").count(), 0, "no file uploaded again");
    let lines: Vec<Value> = std::fs::read_to_string(&out).expect("outcomes").lines().map(|l| serde_json::from_str(l).expect("an outcome")).collect();
    let numbers: BTreeSet<u64> = lines.iter().map(|o| o["line"].as_u64().expect("line")).collect();
    assert_eq!((lines.len(), numbers.len(), numbers.first(), numbers.last()), (30_000, 30_000, Some(&1), Some(&30_000)));
    assert!(lines.iter().all(|o| o["status"] == "added" && o["id"].is_string()));
    assert_eq!(sandbox.record_count("Leads"), before + 30_000, "each record once");
    let summary: Value = serde_json::from_slice(&output.stdout).expect("the summary on stdout");
    assert_eq!((summary["jobs"].clone(), summary["jobs_created"].clone(), summary["statuses"].clone()), (json!(2), json!(2), json!({ "added": 30_000 })));
    assert!(stderr.contains("load: 30000 lines (30000 added); 2 jobs,") && stderr.contains("(the records API: 300 calls, 3000 credits)"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
