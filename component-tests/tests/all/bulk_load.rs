//! `zoho-host load` end to end: a JSON-lines file through the component's bulk write actions into
//! the sandbox's import jobs. 100,000 records in four jobs with every line's outcome and the
//! credits against the records API's; rows Zoho skips and lines that are not records; a load
//! stopped by a fault and rerun (no job sent twice, no record written twice); a changed input
//! refused; a job whose create had no answer, refused for insert and asked again for upsert.

use component_tests::{runtime, Fault, Harness};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use zoho_host::load::{LoadRequest, LoadSummary, Mode, Poll, Uncertain};

/// A directory of its own per test: input, outcomes and state.
fn scratch(h: &Harness, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zoho-load-{name}-{}-{}", std::process::id(), h.sandbox.addr.port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn lead(i: usize) -> String {
    json!({ "Last_Name": format!("Load {i:06}"), "Email": format!("load{i:06}@example.com"), "Company": "Zylker" }).to_string()
}

fn write_lines(path: &Path, lines: impl IntoIterator<Item = String>) {
    let mut text = String::new();
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(path, text).expect("input written");
}

/// The sandbox's jobs finish on its clock in no time: the test polls every few milliseconds.
fn request<'a>(dir: &Path, mode: Mode, find_by: Option<&'a str>) -> LoadRequest<'a> {
    LoadRequest {
        module: "Leads",
        input: dir.join("records.jsonl"),
        out: dir.join("outcomes.jsonl"),
        mode,
        find_by,
        concurrency: 3,
        uncertain: None,
        poll: Poll { first: Duration::from_millis(5), most: Duration::from_millis(50), give_up: Duration::from_secs(120) },
        max_records: zoho_host::load::input::MAX_RECORDS,
    }
}

fn fast_jobs(h: &Harness) {
    h.sandbox.tune_bulk_writes(|k| {
        k.added_for = 0;
        k.runs_for = 0;
    });
}

async fn load(h: &Harness, request: &LoadRequest<'_>) -> anyhow::Result<LoadSummary> {
    zoho_host::load::run(runtime(), &h.connection, Some(&h.namespace), request).await
}

fn outcomes(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("outcomes.jsonl")).expect("outcomes").lines().map(|l| serde_json::from_str(l).expect("an outcome line")).collect()
}

/// Exactly one outcome per input line, 1 to `lines`: the outcomes by line.
fn by_line(outcomes: &[Value], lines: u64) -> BTreeMap<u64, Value> {
    let mut seen = BTreeMap::new();
    for outcome in outcomes {
        let line = outcome["line"].as_u64().expect("a line number");
        assert!(seen.insert(line, outcome.clone()).is_none(), "line {line} has two outcomes");
    }
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (1..=lines).collect::<Vec<_>>(), "every line once");
    seen
}

fn count(h: &Harness, method: &str, path: &str) -> usize {
    h.requests().iter().filter(|r| r.method == method && r.path.starts_with(path)).count()
}

const UPLOAD: &str = "/crm/v8/upload";
const WRITE: &str = "/crm/bulk/v8/write";

/// The Leads the sandbox holds whose Email is one of the load's, by Email: how many each.
fn loaded_emails(h: &Harness, ids: &BTreeSet<String>) -> BTreeMap<String, usize> {
    let mut emails = BTreeMap::new();
    for id in ids {
        let record = h.sandbox.record("Leads", id).unwrap_or_else(|| panic!("{id} is reported added but not in the sandbox"));
        *emails.entry(record["Email"].as_str().expect("an Email").to_string()).or_insert(0) += 1;
    }
    emails
}

/// 100,000 Leads: four jobs of 25,000 (four uploads, four creates), every line `added` with its
/// record's id, the sandbox holding each record once, and the credits by Zoho's table: 500 a job
/// and 1 for each other call, a fifth of the records API's 10,000.
#[tokio::test(flavor = "multi_thread")]
async fn a_load_of_100000_records_reports_every_outcome_for_a_fraction_of_the_credits() {
    let h = Harness::new().await;
    fast_jobs(&h);
    let dir = scratch(&h, "100k");
    const N: usize = 100_000;
    write_lines(&dir.join("records.jsonl"), (0..N).map(lead));
    let before = h.sandbox.record_count("Leads");
    h.sandbox.clear_requests();
    let summary = load(&h, &request(&dir, Mode::Insert, None)).await.expect("loaded");

    let outcomes = by_line(&outcomes(&dir), N as u64);
    assert!(outcomes.values().all(|o| o["status"] == "added" && o.get("error").is_none()), "{:?}", outcomes.values().find(|o| o["status"] != "added"));
    let ids: BTreeSet<String> = outcomes.values().map(|o| o["id"].as_str().expect("an id").to_string()).collect();
    assert_eq!(ids.len(), N, "each record its own id");
    assert_eq!(h.sandbox.record_count("Leads"), before + N, "the sandbox holds each record once");
    let emails = loaded_emails(&h, &ids);
    assert_eq!(emails.len(), N);
    assert_eq!(emails.get("load000042@example.com"), Some(&1));
    assert_eq!(outcomes[&43]["id"].as_str().and_then(|id| h.sandbox.record("Leads", id)).map(|r| r["Last_Name"].clone()), Some(json!("Load 000042")), "line 43 is record 42");

    assert_eq!((count(&h, "POST", UPLOAD), count(&h, "POST", WRITE)), (4, 4), "four files, four jobs");
    assert_eq!((summary.jobs, summary.jobs_created, summary.records, summary.lines), (4, 4, N as u64, N as u64));
    assert_eq!(summary.statuses, BTreeMap::from([("added".to_string(), N as u64)]));
    // The sandbox charges by Zoho's table: 500 a job, 1 each upload, status and result read (the
    // download is no CRM call); the uploads' look-ups of the org's zgid are the component's own.
    let org_lookups = count(&h, "GET", "/crm/v8/org") as u64;
    let (calls, credits) = h.sandbox.usage();
    assert_eq!((summary.usage.calls + org_lookups, summary.usage.credits + org_lookups), (calls, credits), "the host counted what the sandbox charged");
    let polls = count(&h, "GET", &format!("{WRITE}/")) as u64 - 4;
    assert_eq!(summary.usage, zoho_host::sweep::Usage { calls: 4 + 4 + polls + 4, credits: 4 + 4 * 500 + polls + 4 }, "uploads, jobs, polls, one result read each");
    assert_eq!((summary.records_api.calls, summary.records_api.credits), (1_000, 10_000));
    assert!(summary.usage.credits * 4 < summary.records_api.credits, "{} credits against {}", summary.usage.credits, summary.records_api.credits);

    // The same command again: finished, nothing sent.
    h.sandbox.clear_requests();
    let again = load(&h, &request(&dir, Mode::Insert, None)).await.expect("rerun");
    assert!(again.finished_earlier);
    assert!(h.requests().is_empty(), "{:?}", h.requests());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rows Zoho skips carry Zoho's error; lines that are not records are reported `invalid` and
/// never sent (the uploaded file holds the records only); each line once, in input order.
#[tokio::test(flavor = "multi_thread")]
async fn skipped_rows_carry_zohos_error_and_bad_lines_are_reported_unsent() {
    let h = Harness::new().await;
    fast_jobs(&h);
    let dir = scratch(&h, "skips");
    let lines = vec![lead(1), "not json".to_string(), json!({ "Email": "nolastname@example.com", "Company": "Zylker" }).to_string(), "[1,2]".to_string(), String::new(), "{}".to_string(), lead(2)];
    write_lines(&dir.join("records.jsonl"), lines);
    h.sandbox.clear_requests();
    let summary = load(&h, &request(&dir, Mode::Insert, None)).await.expect("loaded");
    let outcomes = outcomes(&dir);
    let lines = by_line(&outcomes, 7);
    assert_eq!(outcomes.iter().map(|o| o["line"].as_u64().unwrap()).collect::<Vec<_>>(), (1..=7).collect::<Vec<_>>(), "one job: input order");
    let status = |n: u64| lines[&n]["status"].as_str().unwrap().to_string();
    assert_eq!((1..=7).map(status).collect::<Vec<_>>(), ["added", "invalid", "skipped", "invalid", "invalid", "invalid", "added"]);
    assert!(lines[&2]["error"].as_str().unwrap().starts_with("not JSON"), "{}", lines[&2]);
    assert!(lines[&4]["error"].as_str().unwrap().contains("array"), "{}", lines[&4]);
    let skipped = lines[&3]["error"].to_string();
    assert!(skipped.contains("MANDATORY_NOT_FOUND"), "Zoho's error for the row: {skipped}");
    assert!(lines[&3].get("id").is_none());
    assert_eq!(summary.statuses, BTreeMap::from([("added".into(), 2), ("invalid".into(), 4), ("skipped".into(), 1)]));
    assert_eq!((count(&h, "POST", UPLOAD), count(&h, "POST", WRITE)), (1, 1));
    assert_eq!(summary.records, 3, "three records sent: the valid lines only");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Lines the bulk write file cannot hold (a key that would be a CSV header with a comma, quote
/// or line break in it; an object that is no lookup; a list with `;`) are reported alone, and a
/// byte order mark does not spoil the first record: the job holds the others. A state then
/// edited to send a range twice is refused before any request.
#[tokio::test(flavor = "multi_thread")]
async fn lines_a_file_cannot_hold_are_reported_alone_and_a_tampered_state_is_refused() {
    let h = Harness::new().await;
    fast_jobs(&h);
    let dir = scratch(&h, "hostile-lines");
    let lines = vec![
        format!("\u{feff}{}", lead(1)),
        json!({ "Last,Name": "Comma", "Email": "comma@example.com" }).to_string(),
        json!({ "Last_Name\"": "Quote" }).to_string(),
        json!({ "Last\nName": "Break" }).to_string(),
        json!({ "Last_Name": "Owner", "Owner": { "name": "x" } }).to_string(),
        json!({ "Last_Name": "Tags", "Tag": ["a;b"] }).to_string(),
        lead(2),
    ];
    write_lines(&dir.join("records.jsonl"), lines);
    h.sandbox.clear_requests();
    let summary = load(&h, &request(&dir, Mode::Insert, None)).await.expect("loaded");
    let outcomes = by_line(&outcomes(&dir), 7);
    let status = |n: u64| outcomes[&n]["status"].as_str().unwrap().to_string();
    assert_eq!((1..=7).map(status).collect::<Vec<_>>(), ["added", "invalid", "invalid", "invalid", "invalid", "invalid", "added"]);
    assert!(outcomes[&2]["error"].as_str().unwrap().contains("not a field API name"), "{}", outcomes[&2]);
    assert!(outcomes[&5]["error"].as_str().unwrap().contains("other than a lookup"), "{}", outcomes[&5]);
    assert_eq!((summary.records, count(&h, "POST", UPLOAD), count(&h, "POST", WRITE)), (2, 1, 1));

    let path = dir.join("outcomes.jsonl.state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).expect("state")).expect("json");
    let mut again = state["chunks"][0].clone();
    again["step"] = json!("planned");
    state["chunks"].as_array_mut().unwrap().push(again);
    std::fs::write(&path, state.to_string()).expect("tampered");
    h.sandbox.clear_requests();
    let error = load(&h, &request(&dir, Mode::Insert, None)).await.expect_err("refused").to_string();
    assert!(error.contains("the load's state is damaged"), "{error}");
    assert!(h.requests().is_empty(), "nothing sent: {:?}", h.requests().len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Checks a finished rerun: one create per job across both runs, every line once with its
/// record's id, each record in the sandbox once.
fn assert_loaded_once(h: &Harness, dir: &Path, before: usize, created: usize, summary: &LoadSummary) {
    assert_eq!(created, N_RESUMED / 10_000, "one job per 10,000 records in all");
    assert_eq!(summary.jobs_created, (N_RESUMED / 10_000) as u64);
    let outcomes = by_line(&outcomes(dir), N_RESUMED as u64);
    let ids: BTreeSet<String> = outcomes.values().map(|o| o["id"].as_str().expect("added with an id").to_string()).collect();
    assert_eq!(ids.len(), N_RESUMED);
    assert_eq!(h.sandbox.record_count("Leads"), before + N_RESUMED, "no record written twice");
    assert!(loaded_emails(h, &ids).values().all(|n| *n == 1));
}

const N_RESUMED: usize = 60_000;

fn steps(dir: &Path) -> Vec<String> {
    let state: Value = serde_json::from_slice(&std::fs::read(dir.join("outcomes.jsonl.state.json")).expect("state")).expect("json");
    state["chunks"].as_array().unwrap().iter().map(|c| c["step"].as_str().unwrap().to_string()).collect()
}

/// 60,000 records in jobs of 10,000, one at a time; Zoho answers the third job's status polls
/// with 500s until the host gives up, and the run stops: two jobs done, one made, three not
/// begun. The same command again polls the made job, never makes it again.
#[tokio::test(flavor = "multi_thread")]
async fn a_load_stopped_by_zohos_errors_resumes_without_writing_a_record_twice() {
    let h = Harness::new().await;
    fast_jobs(&h);
    let dir = scratch(&h, "resume");
    write_lines(&dir.join("records.jsonl"), (0..N_RESUMED).map(lead));
    let before = h.sandbox.record_count("Leads");
    let mut request = request(&dir, Mode::Insert, None);
    (request.max_records, request.concurrency) = (10_000, 1);
    // A job's status, then its result's read of the job: two requests per job under this path.
    let boom = r#"{"code":"INTERNAL_ERROR","details":{},"message":"boom","status":"error"}"#;
    h.sandbox.inject(Fault::status(6, 500, boom).on_path(&format!("{WRITE}/")).after(4));
    h.sandbox.clear_requests();
    let stopped = load(&h, &request).await.expect_err("the fault stops the run").to_string();
    assert!(stopped.contains("rerun the same command") && stopped.contains("lines 20001-30000"), "{stopped}");
    assert_eq!(steps(&dir), ["done", "done", "created", "planned", "planned", "planned"]);
    let made_first = count(&h, "POST", WRITE);
    assert_eq!(made_first, 3);
    assert_eq!(outcomes(&dir).len(), 20_000, "the two done jobs' lines");

    h.sandbox.clear_requests();
    let summary = load(&h, &request).await.expect("resumed");
    assert_eq!(count(&h, "POST", UPLOAD), 3, "only the jobs not begun are uploaded");
    assert_loaded_once(&h, &dir, before, made_first + count(&h, "POST", WRITE), &summary);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The run is killed (its future dropped, as a kill stops it between two instructions) while two
/// jobs are at Zoho; the same command again finishes the load: no job made twice, every record
/// once, every line once.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_load_resumes_without_writing_a_record_twice() {
    let h = Harness::new().await;
    // Each job stays ADDED a second: the kill lands while the host polls, not while it asks.
    h.sandbox.tune_bulk_writes(|k| {
        k.added_for = 1;
        k.runs_for = 0;
    });
    let dir = scratch(&h, "kill");
    write_lines(&dir.join("records.jsonl"), (0..N_RESUMED).map(lead));
    let before = h.sandbox.record_count("Leads");
    let mut request = request(&dir, Mode::Insert, None);
    (request.max_records, request.concurrency) = (10_000, 2);
    h.sandbox.clear_requests();
    // Killed once Zoho answered both jobs' creates and the host polls them.
    let made = || h.sandbox.requests().iter().filter(|r| r.method == "POST" && r.path == WRITE && r.response_status.is_some()).count();
    tokio::select! {
        outcome = load(&h, &request) => panic!("the load ended before the kill: {outcome:?}"),
        () = async {
            while made() < 2 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        } => {}
    }
    let at_kill = steps(&dir);
    assert!(at_kill.iter().any(|s| s == "created") && at_kill.iter().any(|s| s == "planned"), "killed midway: {at_kill:?}");
    assert!(!at_kill.iter().any(|s| s == "creating"), "the kill fell between asking and answering: {at_kill:?}");
    let made_first = count(&h, "POST", WRITE);

    h.sandbox.clear_requests();
    let summary = load(&h, &request).await.expect("resumed");
    assert_loaded_once(&h, &dir, before, made_first + count(&h, "POST", WRITE), &summary);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rerun with another input (one byte changed) is refused before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_of_a_changed_input_is_refused() {
    let h = Harness::new().await;
    fast_jobs(&h);
    let dir = scratch(&h, "changed");
    write_lines(&dir.join("records.jsonl"), (0..3).map(lead));
    let request = request(&dir, Mode::Insert, None);
    h.sandbox.inject(Fault::status(1, 400, r#"{"code":"INVALID_DATA","details":{},"message":"no","status":"error"}"#).on_path(WRITE));
    assert!(load(&h, &request).await.is_err(), "Zoho refused the job");
    write_lines(&dir.join("records.jsonl"), (0..3).map(|i| lead(i + 1)));
    h.sandbox.clear_requests();
    let refused = load(&h, &request).await.expect_err("refused").to_string();
    assert!(refused.contains("the input changed") && refused.contains("another --out"), "{refused}");
    assert!(h.requests().is_empty(), "nothing sent: {:?}", h.requests());
    let mut other = request;
    other.mode = Mode::Upsert;
    other.find_by = Some("Email");
    write_lines(&dir.join("records.jsonl"), (0..3).map(lead));
    let refused = load(&h, &other).await.expect_err("refused").to_string();
    assert!(refused.contains("same module, --mode and --find-by"), "{refused}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The create's answer is lost (a 500): Zoho may have made the job. An insert stops there and
/// says what to check; `--uncertain recreate` asks again. An upsert by Email asks again by itself.
#[tokio::test(flavor = "multi_thread")]
async fn a_create_without_an_answer_is_asked_again_only_where_that_cannot_write_twice() {
    let h = Harness::new().await;
    fast_jobs(&h);
    let dir = scratch(&h, "uncertain");
    write_lines(&dir.join("records.jsonl"), (0..5).map(lead));
    let boom = r#"{"code":"INTERNAL_ERROR","details":{},"message":"boom","status":"error"}"#;
    let lost = || Fault::status(1, 500, boom).on_path(WRITE);
    let mut insert = request(&dir, Mode::Insert, None);
    h.sandbox.inject(lost());
    assert!(load(&h, &insert).await.is_err());
    h.sandbox.clear_requests();
    let refused = load(&h, &insert).await.expect_err("an insert is not asked again blindly").to_string();
    assert!(refused.contains("--uncertain recreate") && refused.contains("--uncertain skip") && refused.contains("lines 1-5"), "{refused}");
    assert!(h.requests().is_empty(), "nothing sent: {:?}", h.requests());
    insert.uncertain = Some(Uncertain::Recreate);
    let summary = load(&h, &insert).await.expect("recreated");
    assert_eq!((count(&h, "POST", UPLOAD), count(&h, "POST", WRITE)), (1, 1), "uploaded again and asked again");
    assert_eq!(summary.statuses, BTreeMap::from([("added".into(), 5)]));

    // Upsert by Email: every record carries its Email, a second job cannot create twice.
    let dir = scratch(&h, "uncertain-upsert");
    write_lines(&dir.join("records.jsonl"), (0..5).map(lead));
    let upsert = request(&dir, Mode::Upsert, Some("Email"));
    let before = h.sandbox.record_count("Leads");
    h.sandbox.inject(lost());
    assert!(load(&h, &upsert).await.is_err());
    h.sandbox.clear_requests();
    let summary = load(&h, &upsert).await.expect("asked again by itself");
    assert_eq!(count(&h, "POST", WRITE), 1);
    assert_eq!(summary.statuses, BTreeMap::from([("updated".into(), 5)]), "found by Email: the insert's records updated");
    assert_eq!(h.sandbox.record_count("Leads"), before, "nothing created twice");

    // Skip: the uncertain job's records are reported unknown, each line once.
    let dir = scratch(&h, "uncertain-skip");
    write_lines(&dir.join("records.jsonl"), (10..13).map(lead));
    let mut skip = request(&dir, Mode::Insert, None);
    h.sandbox.inject(lost());
    assert!(load(&h, &skip).await.is_err());
    skip.uncertain = Some(Uncertain::Skip);
    h.sandbox.clear_requests();
    let summary = load(&h, &skip).await.expect("skipped");
    assert!(h.requests().is_empty());
    assert_eq!(summary.statuses, BTreeMap::from([("unknown".into(), 3)]));
    assert_eq!(by_line(&outcomes(&dir), 3).len(), 3);
}
