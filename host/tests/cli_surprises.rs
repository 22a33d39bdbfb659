//! The `zoho-host` command line never surprises: a re-run sync keeps what earlier runs wrote,
//! `--anchor-date` is not silently ignored, missing flags are errors, `-` reads stdin, network
//! errors name the host, bad values are shown short, exit statuses are documented, one action's
//! form can be shown, and a raw request's JSON body prints as JSON.

use serde_json::{json, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn zoho_host(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zoho-host"));
    command.arg("--data-dir").arg(data_dir);
    command
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zoho-cli-surprises-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// Runs `command` with `input` on its stdin.
fn with_stdin(mut command: Command, input: &str) -> Output {
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("zoho-host runs");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("zoho-host ends")
}

/// A second sync into the same --out finds nothing new and must leave the first run's records;
/// a third, after a change, appends just the change. Then --anchor-date is refused for a stream
/// with a cursor (exit 2) unless --reset, which reads the stream again from the anchor.
#[test]
fn sync_appends_and_anchor_date_needs_reset() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let sandbox = runtime.block_on(zoho_sandbox::Sandbox::start()).expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("sync");
    let out = dir.join("out");
    let sync = |extra: &[&str]| -> Output {
        zoho_host(&dir.join("data")).args(["sync", "--streams", "contacts", "--per-page", "200", "--connection", &connection]).arg("--out").arg(&out).args(extra).output().expect("zoho-host runs")
    };
    let file = out.join("contacts.jsonl");
    let first = sync(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let written = lines(&file);
    assert!(written.len() > 100, "{}", written.len());

    let second = sync(&[]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(lines(&file), written, "a sync that finds nothing new keeps the earlier output");

    sandbox.modify_record("Contacts", "5725767000000524200", json!({ "Email": "appended@example.com" }));
    let third = sync(&[]);
    assert!(third.status.success(), "{}", stderr(&third));
    let after = lines(&file);
    assert_eq!(&after[..written.len()], &written[..], "earlier runs' records stay first");
    assert_eq!(after.len(), written.len() + 1, "the change is appended");
    assert!(after[written.len()].contains("appended@example.com"));

    let refused = sync(&["--anchor-date", "2000-01-01T00:00:00Z"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("contacts (at ") && stderr(&refused).contains("--reset"), "{}", stderr(&refused));
    assert!(refused.stdout.is_empty());
    assert_eq!(lines(&file).len(), after.len(), "nothing read when refused");

    let reset = sync(&["--anchor-date", "2000-01-01T00:00:00Z", "--reset"]);
    assert!(reset.status.success(), "{}", stderr(&reset));
    let refreshed = lines(&file);
    assert_eq!(&refreshed[..after.len()], &after[..]);
    assert_eq!(refreshed.len() - after.len(), written.len(), "a full refresh reads every contact again");
    let _ = std::fs::remove_dir_all(dir);
}

/// Missing required flags are clap's usage errors (exit 2), never an empty success.
#[test]
fn missing_required_flags_exit_2() {
    let dir = scratch("flags");
    for args in [
        vec!["sync", "--connection", "{}"],
        vec!["sync", "--streams", "", "--connection", "{}"],
        vec!["sync", "--streams", "contacts"],
        vec!["run", "crm-get-record"],
        vec!["sweep", "--connection", "{}"],
        vec!["watch", "--connection", "{}", "--listen", "127.0.0.1:0", "--public-url", "http://127.0.0.1:9/x"],
    ] {
        let output = zoho_host(&dir).args(&args).arg("--out").arg(dir.join("out")).output().expect("zoho-host runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(output.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&output.stdout));
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `--input -` and `--connection -` read stdin; only one argument can.
#[test]
fn dash_reads_stdin() {
    let dir = scratch("stdin");
    let input = r#"{"record-type":"Leads","record-id":"not-a-number"}"#;
    let mut command = zoho_host(&dir);
    command.args(["run", "crm-get-record", "--connection", r#"{"access-token":"1000.abc"}"#, "--input", "-"]);
    let output = with_stdin(command, input);
    assert_eq!(output.status.code(), Some(1), "the step ran on stdin's input: {}", stderr(&output));
    assert!(stderr(&output).contains("is not a Zoho record id"), "{}", stderr(&output));

    let mut command = zoho_host(&dir);
    command.args(["run", "crm-get-record", "--connection", "-", "--input", input]);
    let output = with_stdin(command, r#"{"access-token":"1000.abc"}"#);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));

    let mut command = zoho_host(&dir);
    command.args(["run", "crm-get-record", "--connection", "-", "--input", "-"]);
    let output = with_stdin(command, "{}");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("stdin is already read"), "{}", stderr(&output));
    let _ = std::fs::remove_dir_all(dir);
}

/// A name no resolver knows: the step's transport error names the host and what failed, not a
/// debug dump of the wasi:http error code.
#[test]
fn dns_failures_name_the_host() {
    let dir = scratch("dns");
    let output = zoho_host(&dir)
        .args(["run", "crm-get-record", "--connection", r#"{"api-domain":"https://www.zohoapis.invalid","access-token":"1000.abc"}"#])
        .args(["--input", r#"{"record-type":"Leads","record-id":"1"}"#, "--options", r#"{"max-retries":0}"#])
        .output()
        .expect("zoho-host runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let error: Value = serde_json::from_slice(&output.stderr).expect("the zoho-error as JSON");
    let message = error["message"].as_str().unwrap_or("");
    assert!(message.contains("cannot resolve www.zohoapis.invalid"), "{message}");
    assert!(!message.contains("ErrorCode::") && !message.contains("DnsErrorPayload"), "{message}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A 3 MB bad value, or a 100 KB action name, gives an error of a few hundred bytes that says how
/// long the value was.
#[test]
fn host_errors_show_a_short_prefix_of_a_bad_value() {
    let dir = scratch("long");
    let huge = "9x".repeat(1_500_000);
    let input = json!({ "record-type": "Leads", "fields": "Email", "page": huge }).to_string();
    let input_file = dir.join("input.json");
    std::fs::write(&input_file, &input).expect("input file");
    let output = zoho_host(&dir)
        .args(["run", "crm-get-records", "--connection", r#"{"api-domain":"https://www.zohoapis.eu","access-token":"1000.abc"}"#])
        .arg("--input")
        .arg(format!("@{}", input_file.display()))
        .output()
        .expect("zoho-host runs");
    assert_ne!(output.status.code(), Some(0));
    assert!(output.stderr.len() < 2_000, "{} bytes of error: {}", output.stderr.len(), &stderr(&output)[..300]);
    assert!(stderr(&output).contains("3000002 bytes"), "{}", stderr(&output));

    // An argument is at most 128 KiB on Linux.
    let name = "crm-".repeat(25_000);
    let output = zoho_host(&dir).args(["run", &name, "--connection", "{}"]).output().expect("zoho-host runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stderr.len() < 2_000, "{} bytes of error", output.stderr.len());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn help_documents_the_exit_statuses() {
    for args in [vec!["--help"], vec!["run", "--help"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_zoho-host")).args(&args).output().expect("zoho-host runs");
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("Exit status:") && help.contains("  1  `run`: the action returned its zoho-error") && help.contains("  2  a usage error"), "{args:?}: {help}");
    }
}

/// `actions KEY` shows the action's form and output; an unknown key names the close ones.
#[test]
fn actions_key_shows_one_form() {
    let dir = scratch("actions");
    let output = zoho_host(&dir).args(["actions", "crm-get-records"]).output().expect("zoho-host runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let form = String::from_utf8_lossy(&output.stdout);
    assert!(form.starts_with("CRM - Get Records (crm-get-records)"), "{form}");
    assert!(form.contains("  record-type (string, required): Record Type"), "{form}");
    assert!(form.contains("choices from: crm-list-modules"), "{form}");
    assert!(form.contains("optional, default"), "{form}");
    assert!(form.contains("\noutput:\n"), "{form}");

    let output = zoho_host(&dir).args(["actions", "crm-get-recrods"]).output().expect("zoho-host runs");
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("no action \"crm-get-recrods\", did you mean ") && message.contains("crm-get-records"), "{message}");
    assert!(output.stdout.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

/// A raw request's JSON body prints as JSON, not as a string of escaped JSON.
#[test]
fn raw_request_prints_its_json_body_as_json() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let sandbox = runtime.block_on(zoho_sandbox::Sandbox::start()).expect("sandbox");
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = scratch("raw");
    let output = zoho_host(&dir).args(["run", "crm-raw-request", "--connection", &connection, "--input", r#"{"url":"/Leads?fields=Last_Name&per_page=2"}"#]).output().expect("zoho-host runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(printed["status"], 200, "{printed}");
    assert!(printed["body"]["json"]["data"].is_array(), "{printed}");
    let _ = std::fs::remove_dir_all(dir);
}
