//! The `zoho-host` binary as a platform engineer uses it: the demo, `actions`, and `run`'s
//! output contract (JSON on stdout with exit 0, the zoho-error on stderr with exit 1).

use std::process::Command;

fn zoho_host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zoho-host"))
}

#[test]
fn demo_runs_the_five_record_steps() {
    let output = zoho_host().arg("demo").output().expect("zoho-host runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "demo failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for label in ["CRM - Create Record", "CRM - Get Record", "CRM - Get Records", "CRM - Update Record", "CRM - Remove Record"] {
        assert!(stdout.contains(&format!("▶ {label}")), "{label} missing from:\n{stdout}");
    }
    assert!(stdout.contains("\"message\":\"record deleted\""), "{stdout}");
}

#[test]
fn actions_lists_every_manifest_key() {
    let output = zoho_host().arg("actions").output().expect("zoho-host runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for key in ["crm-create-record", "crm-get-record", "crm-get-records", "crm-update-record", "crm-remove-record"] {
        assert!(stdout.lines().any(|l| l.starts_with(key)), "{key} missing from:\n{stdout}");
    }
}

#[test]
fn run_prints_the_error_as_json_on_stderr_with_exit_1() {
    let data_dir = std::env::temp_dir().join(format!("zoho-cli-test-{}", std::process::id()));
    let output = zoho_host()
        .args(["--data-dir", data_dir.to_str().expect("utf-8 path"), "run", "crm-get-record"])
        .args(["--connection", r#"{"access-token":"1000.abc"}"#])
        .args(["--input", r#"{"record-type":"Leads","record-id":"not-a-number"}"#])
        .output()
        .expect("zoho-host runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let error: serde_json::Value = serde_json::from_slice(&output.stderr).expect("stderr is the zoho-error as JSON");
    assert_eq!(error["kind"], "invalid-input");
    assert!(error["message"].as_str().unwrap_or("").starts_with("record-id \"not-a-number\" is not a Zoho record id"));
    let _ = std::fs::remove_dir_all(data_dir);
}

#[test]
fn run_refuses_unknown_actions_and_bad_json_with_exit_2() {
    let output = zoho_host().args(["run", "crm-fly", "--connection", "{}"]).output().expect("zoho-host runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no action \"crm-fly\""));
    let output = zoho_host().args(["run", "crm-get-record", "--connection", "{nope"]).output().expect("zoho-host runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--connection is not valid JSON"));
}
