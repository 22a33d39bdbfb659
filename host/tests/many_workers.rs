//! Many `zoho-host` processes on one data directory (one SQLite store) or one Redis: steps,
//! sweeps and syncs side by side, killed with SIGKILL at random points. No process may crash
//! another, a resumed sync loses no record and writes none twice, two syncs never share an
//! output directory, and a sync stopped around its commit resumes.
//!
//! The kill points come from a seeded generator; the seed is printed, and
//! `ZOHO_WORKERS_SEED=<seed>` replays the same points.

use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Contacts the sandbox holds (its seed data).
const CONTACTS: usize = 2600;

fn zoho_host(data_dir: &Path, kv: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zoho-host"));
    command.arg("--data-dir").arg(data_dir);
    if let Some(kv) = kv {
        command.args(["--kv", kv]);
    }
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// A directory of this test alone, empty.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zoho-workers-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// SplitMix64: small, seeded, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn seeded(test: &str) -> Rng {
        let seed = std::env::var("ZOHO_WORKERS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
            now ^ u64::from(std::process::id())
        });
        eprintln!("{test}: seed {seed} (ZOHO_WORKERS_SEED={seed} replays these kill points)");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What a process did: exited by itself (with its output), or was killed by the test.
fn finish(what: &str, child: Child, kill_after: Option<Duration>) -> (Output, bool) {
    let mut child = child;
    if let Some(delay) = kill_after {
        // The random kill point itself, not a wait for anything.
        std::thread::sleep(delay);
        // A process that already exited is a zombie until reaped: SIGKILL does nothing to it.
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{what}: waiting: {e}"));
    let killed = output.status.signal() == Some(9);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(killed || output.status.success(), "{what}: neither exit 0 nor killed by the test: {:?} (signal {:?})\nstderr: {stderr}", output.status.code(), output.status.signal());
    for trouble in ["locking protocol", "database disk image is malformed", "database is locked", "key-value store:"] {
        assert!(!stderr.contains(trouble), "{what}: {trouble:?} on stderr:\n{stderr}");
    }
    (output, killed)
}

/// Compiles the component into the data directory's cache once, so the workers start alike.
fn warm(data_dir: &Path, kv: Option<&str>) {
    let child = zoho_host(data_dir, kv)
        .args(["run", "crm-get-record", "--connection", r#"{"access-token":"1000.warm"}"#, "--input", r#"{"record-type":"Leads","record-id":"x"}"#])
        .spawn()
        .expect("zoho-host runs");
    let output = child.wait_with_output().expect("warm-up");
    assert_eq!(output.status.code(), Some(1), "the warm-up step is refused as invalid input: {}", String::from_utf8_lossy(&output.stderr));
}

fn ids_of(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| r["id"].as_str().expect("a record id").to_string()).collect()
}

fn jsonl_ids(path: &Path) -> Vec<String> {
    ids_from(path, 0)
}

/// The ids the latest sync of `out` wrote: a stream file is appended to, and the state says
/// where the latest run's records begin.
fn run_ids(out: &Path) -> Vec<String> {
    let state: Value = serde_json::from_slice(&std::fs::read(out.join("state.json")).expect("state.json")).expect("state JSON");
    ids_from(&out.join("contacts.jsonl"), state["streams"]["contacts"]["start_bytes"].as_u64().unwrap_or(0) as usize)
}

fn ids_from(path: &Path, start: usize) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = std::str::from_utf8(&bytes[start..]).expect("utf-8");
    text.lines().map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {line}", path.display()))["id"].as_str().expect("id").to_string()).collect()
}

/// Four processes page and commit contacts in loops, each step a fresh process opening the
/// shared SQLite store while the others hold it. Every step exits 0, every cycle delivers every
/// contact once and the next only what changed (nothing).
#[test]
fn steps_of_many_processes_on_one_data_directory_never_crash_each_other() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let sandbox = runtime.block_on(zoho_sandbox::Sandbox::start()).expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("steps");
    let data_dir = dir.join("data");
    warm(&data_dir, None);
    const WORKERS: usize = 4;
    const STEPS: usize = 40;
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (data_dir, connection) = (data_dir.clone(), connection.clone());
            std::thread::spawn(move || {
                let namespace = format!("worker-{worker}");
                let step = |key: &str, input: Value| -> Value {
                    let child = zoho_host(&data_dir, None).args(["run", key, "--namespace", &namespace, "--connection", &connection, "--input", &input.to_string()]).spawn().expect("zoho-host runs");
                    let (output, _) = finish(&format!("{namespace} {key} {input}"), child, None);
                    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
                };
                let (mut steps, mut cycles) = (0, Vec::new());
                while steps < STEPS {
                    let mut ids = Vec::new();
                    let mut page = 1;
                    loop {
                        let result = step("incremental-list-contacts-by-page", json!({ "page": page, "per-page": 200, "fields": "Email" }));
                        steps += 1;
                        ids.extend(ids_of(result["records"].as_array().expect("records")));
                        if result["more_records"] != json!(true) {
                            break;
                        }
                        page += 1;
                    }
                    let committed = step("incremental-update-last-successful-run-date", json!({}));
                    steps += 1;
                    assert_eq!(committed["source"], "sweep", "{namespace}: {committed}");
                    cycles.push(ids);
                }
                (namespace, steps, cycles)
            })
        })
        .collect();
    for worker in workers {
        let (namespace, steps, cycles) = worker.join().expect("a worker failed");
        assert_eq!(steps, STEPS, "{namespace}: one full cycle of 14 steps, then 13 of two");
        assert_eq!(cycles[0].len(), CONTACTS, "{namespace}: the first sweep delivers every contact");
        assert_eq!(cycles[0].iter().collect::<HashSet<_>>().len(), CONTACTS, "{namespace}: each once");
        assert!(cycles[1..].iter().all(Vec::is_empty), "{namespace}: later sweeps see no change: {:?}", cycles.iter().map(Vec::len).collect::<Vec<_>>());
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Holds the sandbox's answers while closed; opens when dropped, so a failed assertion never
/// leaves a sandbox thread (and the test) waiting.
#[derive(Default)]
struct Gate(std::sync::Arc<(std::sync::Mutex<(bool, bool)>, std::sync::Condvar)>);

impl Drop for Gate {
    fn drop(&mut self) {
        let (lock, changed) = &*self.0;
        lock.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        changed.notify_all();
    }
}

/// A process killed when the test fails before waiting for it.
struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A sync holding its output directory (parked inside its first request) makes a second sync
/// on the same directory refuse at once, naming it; the first then finishes with every contact
/// once.
#[test]
fn a_second_sync_on_one_out_directory_refuses_at_once() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let sandbox = runtime.block_on(zoho_sandbox::Sandbox::start()).expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("one-out");
    let (data_dir, out) = (dir.join("data"), dir.join("out"));
    warm(&data_dir, None);
    // The first CRM request waits, answered, until the test lets it go.
    let gate = Gate::default();
    let held = gate.0.clone();
    sandbox.observe(move |request| {
        if !request.path.starts_with("/crm/") {
            return;
        }
        let (lock, changed) = &*held;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 {
            return;
        }
        state.0 = true;
        changed.notify_all();
        while !state.1 {
            state = changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    });
    let sync = |out: &Path| {
        zoho_host(&data_dir, None)
            .args(["sync", "--streams", "contacts", "--per-page", "200", "--namespace", "one-out", "--connection", &connection])
            .arg("--out")
            .arg(out)
            .spawn()
            .expect("zoho-host runs")
    };
    let mut first = KillOnDrop(Some(sync(&out)));
    {
        let (lock, changed) = &*gate.0;
        let mut state = lock.lock().expect("gate");
        while !state.0 {
            // Woken by the request, or now and then to see the sync is still alive.
            state = changed.wait_timeout(state, Duration::from_millis(100)).expect("gate").0;
            if let Some(status) = first.0.as_mut().and_then(|c| c.try_wait().expect("the first sync")) {
                panic!("the first sync ended ({status}) before any CRM request");
            }
        }
    }
    let second = sync(&out).wait_with_output().expect("second sync");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "the second sync refuses: {stderr}");
    assert!(stderr.contains(&format!("{} is in use by another `zoho-host sync`", out.display())), "{stderr}");
    assert!(second.stdout.is_empty());
    drop(gate);
    let first = first.0.take().expect("the first sync");
    let (output, _) = finish("the first sync", first, None);
    assert!(output.status.success());
    let ids = jsonl_ids(&out.join("contacts.jsonl"));
    assert_eq!((ids.len(), ids.iter().collect::<HashSet<_>>().len()), (CONTACTS, CONTACTS));
    let _ = std::fs::remove_dir_all(dir);
}

/// A sync stopped after its last page, before, during or after its commit, resumes with the
/// commit alone: exit 0, the file as it was, and the cursor moved (the next run reads only
/// the one contact changed since).
#[test]
fn a_sync_stopped_around_its_commit_resumes_with_the_commit_alone() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let sandbox = runtime.block_on(zoho_sandbox::Sandbox::start()).expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("commit");
    let data_dir = dir.join("data");
    warm(&data_dir, None);
    let sync = |out: &Path| -> Output {
        let child = zoho_host(&data_dir, None)
            .args(["sync", "--streams", "contacts", "--per-page", "200", "--namespace", &format!("commit-{}", out.file_name().and_then(|n| n.to_str()).expect("name")), "--connection", &connection])
            .arg("--out")
            .arg(out)
            .spawn()
            .expect("zoho-host runs");
        finish(&format!("sync into {}", out.display()), child, None).0
    };
    // The states a stop leaves: the last page written ("reading", every slice ended) with the
    // commit done, and "committing" with the commit done or not.
    for (out_name, status, commit_done) in [("reading-done", "reading", true), ("committing-done", "committing", true), ("committing-not-done", "committing", false)] {
        let out = dir.join(out_name);
        let namespace = format!("commit-{out_name}");
        let state_path = out.join("state.json");
        let mut state = if commit_done {
            assert!(sync(&out).status.success());
            let state: Value = serde_json::from_slice(&std::fs::read(&state_path).expect("state.json")).expect("state JSON");
            assert_eq!((&state["streams"]["contacts"]["status"], &state["streams"]["contacts"]["slice_ended"]), (&json!("done"), &json!([true])));
            state
        } else {
            // Stopped before its commit: the pages read through the component's own step, each
            // record written as a line, and the commit not made.
            let mut lines = String::new();
            let mut page = 1;
            loop {
                let child = zoho_host(&data_dir, None)
                    .args(["run", "sync-read-stream-page", "--namespace", &namespace, "--connection", &connection])
                    .args(["--input", &json!({ "stream": "contacts", "per-page": 200, "page": page }).to_string()])
                    .spawn()
                    .expect("zoho-host runs");
                let result: Value = serde_json::from_slice(&finish("a page", child, None).0.stdout).expect("stdout is JSON");
                for record in result["records"].as_array().expect("records") {
                    lines.push_str(&format!("{record}\n"));
                }
                if result["more_records"] != json!(true) {
                    break;
                }
                page += 1;
            }
            std::fs::create_dir_all(&out).expect("out");
            std::fs::write(out.join("contacts.jsonl"), &lines).expect("contacts.jsonl");
            json!({ "streams": { "contacts": { "slices": 1, "slice_pages": [page], "slice_ended": [true], "pages_written": page, "records": CONTACTS, "bytes": lines.len() } } })
        };
        let file = std::fs::read(out.join("contacts.jsonl")).expect("contacts.jsonl");
        state["streams"]["contacts"]["status"] = json!(status);
        std::fs::write(&state_path, state.to_string()).expect("state");
        let resumed = sync(&out);
        let stderr = String::from_utf8_lossy(&resumed.stderr);
        assert!(resumed.status.success(), "{out_name}: {stderr}");
        assert_eq!(std::fs::read(out.join("contacts.jsonl")).expect("contacts.jsonl"), file, "{out_name}: the file is as the walk left it");
        let state: Value = serde_json::from_slice(&std::fs::read(&state_path).expect("state.json")).expect("state JSON");
        assert_eq!(state["streams"]["contacts"]["status"], "done", "{out_name}");
        assert_eq!(state["streams"]["contacts"]["records"], json!(CONTACTS), "{out_name}");
        // Committed by the resume itself, or found committed by the run before it.
        assert_eq!(state["streams"]["contacts"]["cursor"].is_string(), !commit_done, "{out_name}: {state}");
        assert_eq!(state["streams"]["contacts"]["committed_earlier"] == json!(true), commit_done, "{out_name}: {state}");
        // The cursor moved: the next run reads the one contact changed since.
        let id = jsonl_ids(&out.join("contacts.jsonl"))[0].clone();
        assert!(sandbox.modify_record("Contacts", &id, json!({ "Email": format!("{out_name}@example.com") })));
        assert!(sync(&out).status.success());
        assert_eq!(run_ids(&out), vec![id], "{out_name}: only the change, appended");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// One worker's syncs into its own directory, killed at random points until one ends by
/// itself; returns how many were killed.
fn sync_until_done(data_dir: &Path, kv: Option<&str>, connection: &str, namespace: &str, out: &Path, rng: &mut Rng, kills: u32) -> u32 {
    let mut killed = 0;
    loop {
        let child = zoho_host(data_dir, kv)
            // Concurrency 8 with one slice: a sequential walk holds one in-flight slot, so the
            // slots the kills leak (six at most; freed only when their minute window ages out)
            // never use up the cap.
            // Pages of 20: a walk of 130 pages, each written and synced, so most kill points
            // land inside it.
            .args(["sync", "--streams", "contacts", "--per-page", "20", "--concurrency", "8", "--requests-per-second", "100", "--namespace", namespace, "--connection", connection])
            .arg("--out")
            .arg(out)
            .spawn()
            .expect("zoho-host runs");
        let kill_after = (killed < kills).then(|| Duration::from_millis(rng.below(800)));
        let (_, was_killed) = finish(&format!("{namespace}: sync"), child, kill_after);
        if !was_killed {
            return killed;
        }
        killed += 1;
    }
}

/// N syncs (each its own output directory and namespace) with steps and sweeps beside them on
/// one store, every process killed at random points: no crash, and each output ends with every
/// contact exactly once; then, after edits, with exactly the edited ones.
fn syncs_killed_at_random_lose_and_duplicate_nothing(test: &str, kv: Option<&str>, workers: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let sandbox = runtime.block_on(zoho_sandbox::Sandbox::start()).expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch(test);
    let data_dir = dir.join("data");
    warm(&data_dir, kv);
    let mut rng = Rng::seeded(test);
    let expected: BTreeSet<String> = {
        let output = zoho_host(&data_dir, kv)
            .args(["sweep", "Contacts", "--per-page", "200", "--namespace", "expected", "--connection", &connection])
            .arg("--out")
            .arg(dir.join("expected.jsonl"))
            .output()
            .expect("zoho-host runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        jsonl_ids(&dir.join("expected.jsonl")).into_iter().collect()
    };
    assert_eq!(expected.len(), CONTACTS);
    let edited: BTreeSet<String> = expected.iter().step_by(5).cloned().collect();
    for phase in ["first sync", "after edits"] {
        if phase == "after edits" {
            for id in &edited {
                assert!(sandbox.modify_record("Contacts", id, json!({ "Email": format!("edited-{id}@example.com") })));
            }
        }
        let syncs: Vec<_> = (0..workers)
            .map(|worker| {
                let (data_dir, connection, kv) = (data_dir.clone(), connection.clone(), kv.map(str::to_string));
                let out = dir.join(format!("out-{worker}"));
                let mut rng = Rng(rng.next());
                std::thread::spawn(move || {
                    let killed = sync_until_done(&data_dir, kv.as_deref(), &connection, &format!("sync-{worker}"), &out, &mut rng, 3);
                    (out, killed)
                })
            })
            .collect();
        // Beside them: steps and a sweep, killed at random too, on the same store.
        let mut others_rng = Rng(rng.next());
        let (data_dir_o, connection_o, kv_o, sweeps) = (data_dir.clone(), connection.clone(), kv.map(str::to_string), dir.join(format!("sweeps-{phase}")));
        let others = std::thread::spawn(move || {
            for round in 0..6 {
                let step = zoho_host(&data_dir_o, kv_o.as_deref())
                    .args(["run", "crm-get-records", "--namespace", "steps", "--connection", &connection_o, "--input", r#"{"record-type":"Deals","per-page":2}"#])
                    .spawn()
                    .expect("zoho-host runs");
                let kill = (others_rng.below(2) == 0).then(|| Duration::from_millis(others_rng.below(400)));
                finish(&format!("step {round}"), step, kill);
                let sweep = zoho_host(&data_dir_o, kv_o.as_deref())
                    .args(["sweep", "Deals", "--per-page", "2", "--namespace", "sweeps", "--connection", &connection_o])
                    .arg("--out")
                    .arg(sweeps.with_extension(format!("{round}.jsonl")))
                    .spawn()
                    .expect("zoho-host runs");
                let kill = (others_rng.below(2) == 0).then(|| Duration::from_millis(others_rng.below(400)));
                finish(&format!("sweep {round}"), sweep, kill);
            }
        });
        for sync in syncs {
            let (out, killed) = sync.join().expect("a sync worker failed");
            eprintln!("{test}, {phase}, {}: {killed} syncs killed before one ended by itself", out.display());
            let ids = run_ids(&out);
            let unique: BTreeSet<String> = ids.iter().cloned().collect();
            let want = if phase == "first sync" { &expected } else { &edited };
            assert_eq!(ids.len(), unique.len(), "{phase}, {}: {} records written twice ({killed} kills)", out.display(), ids.len() - unique.len());
            assert_eq!(&unique, want, "{phase}, {}: lost or extra records ({killed} kills)", out.display());
        }
        others.join().expect("the steps and sweeps failed");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn syncs_killed_at_random_on_one_sqlite_store_lose_and_duplicate_nothing() {
    syncs_killed_at_random_lose_and_duplicate_nothing("killed-sqlite", None, 4);
}

/// The same on one Redis (each test starts its own `redis-server`, as host/tests/redis.rs).
#[test]
fn syncs_killed_at_random_on_one_redis_lose_and_duplicate_nothing() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let mut redis = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (./build.sh installs it)");
    let url = format!("redis://127.0.0.1:{port}/");
    let up = (0..100).any(|_| {
        if zoho_host::kv::RedisStore::open(&url).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
        false
    });
    assert!(up, "redis-server did not start on {port}");
    let outcome = std::panic::catch_unwind(|| syncs_killed_at_random_lose_and_duplicate_nothing("killed-redis", Some(&url), 3));
    let _ = redis.kill();
    let _ = redis.wait();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
