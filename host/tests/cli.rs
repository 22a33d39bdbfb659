//! The `zoho-host` binary as a platform engineer uses it: the demo, `actions`, and `run`'s
//! output contract (JSON on stdout with exit 0, the zoho-error on stderr with exit 1).

use std::process::Command;

fn zoho_host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zoho-host"))
}

#[test]
fn demo_runs_the_record_steps_a_find_or_create_and_a_search() {
    let output = zoho_host().arg("demo").output().expect("zoho-host runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "demo failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for label in [
        "CRM - Create Record",
        "CRM - Get Record",
        "CRM - Get Records",
        "CRM - Update Record",
        "CRM - Find or Create Record",
        "CRM - Create or Update Records (Upsert)",
        "CRM - Search Records",
        "CRM - Remove Record",
    ] {
        assert!(stdout.contains(&format!("▶ {label}")), "{label} missing from:\n{stdout}");
    }
    assert!(stdout.contains("\"message\":\"record deleted\""), "{stdout}");
    // Find or create found Jane's lead by Email and left it, and created Rick's; the upsert then
    // updated Jane's.
    assert!(stdout.contains("(find or create: Jane found true unchanged, Rick created true)"), "{stdout}");
    assert!(stdout.contains("(upsert: update "), "{stdout}");
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

/// Cyclr's flow, each step a separate `zoho-host run` process (so every step is also a host
/// restart): pages 1, 2, ... while more_records, then Update Last Successful Run Date.
#[test]
fn cyclr_flow_through_zoho_host_run() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let sandbox = runtime.block_on(zoho_sandbox::Sandbox::start()).expect("sandbox");
    let connection = serde_json::json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let data_dir = std::env::temp_dir().join(format!("zoho-cli-cyclr-{}", std::process::id()));
    let step = |key: &str, input: serde_json::Value| -> serde_json::Value {
        let output = zoho_host()
            .args(["--data-dir", data_dir.to_str().expect("utf-8"), "run", key, "--namespace", "cyclr"])
            .args(["--connection", &connection, "--input", &input.to_string()])
            .output()
            .expect("zoho-host runs");
        assert!(output.status.success(), "{key} failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("stdout is JSON")
    };
    let mut ids = std::collections::HashSet::new();
    let mut page = 1;
    loop {
        let result = step("incremental-list-contacts-by-page", serde_json::json!({ "page": page, "fields": "Email" }));
        ids.extend(result["records"].as_array().expect("records").iter().map(|r| r["id"].as_str().expect("id").to_string()));
        if result["more_records"] != serde_json::json!(true) {
            break;
        }
        page += 1;
    }
    assert_eq!((page, ids.len()), (13, 2600));
    let committed = step("incremental-update-last-successful-run-date", serde_json::json!({}));
    assert_eq!(committed["source"], "sweep");
    assert!(committed["cursor"].is_string());
    // The next cycle sees only what changed since.
    sandbox.modify_record("Contacts", "5725767000000524200", serde_json::json!({ "Email": "new@example.com" }));
    let result = step("incremental-list-contacts-by-page", serde_json::json!({ "page": 1, "fields": "Email" }));
    let emails: Vec<&str> = result["records"].as_array().expect("records").iter().map(|r| r["Email"].as_str().unwrap_or("")).collect();
    assert!(emails.contains(&"new@example.com"), "{emails:?}");
    assert!(emails.len() < 10, "only the changes: {emails:?}");
    let _ = std::fs::remove_dir_all(data_dir);
}

#[test]
fn sweep_writes_json_lines_and_commits() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let sandbox = runtime.block_on(zoho_sandbox::Sandbox::start()).expect("sandbox");
    let connection = serde_json::json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() }).to_string();
    let dir = std::env::temp_dir().join(format!("zoho-cli-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let out = dir.join("deals.jsonl");
    let output = zoho_host()
        .args(["--data-dir", dir.to_str().expect("utf-8"), "sweep", "Deals", "--connection", &connection, "--per-page", "2"])
        .args(["--out", out.to_str().expect("utf-8")])
        .output()
        .expect("zoho-host runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out).expect("out").lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.len(), 5);
    assert!(String::from_utf8_lossy(&output.stderr).contains("Deals: 5 records in 3 pages; cursor committed at"));
    let _ = std::fs::remove_dir_all(dir);
}

/// The same pasted secrets through the other commands that read a connection (sweep, sync,
/// watch), with and without `--namespace`, and a connection whose host cannot be resolved:
/// every message stays free of the secret, and nothing is written to stdout.
#[test]
fn sweep_sync_and_watch_never_print_a_secret_pasted_into_the_wrong_field() {
    let data_dir = std::env::temp_dir().join(format!("zoho-cli-secrets-commands-{}", std::process::id()));
    let secret = r#"1000.s3cr"et\x'%41&amp;"#;
    let cases = [
        serde_json::json!({ "region": secret, "client-id": "1000.ID", "client-secret": secret, "refresh-token": "1000.r" }),
        serde_json::json!({ "api-domain": format!("https://www.zohoapis.eu/{secret}"), "client-id": "1000.ID", "client-secret": secret, "refresh-token": "1000.r" }),
        serde_json::json!({ "accounts-url": format!(" {secret} "), "access-token": format!(" {secret}") }),
        // A well-formed origin no resolver knows: the failure is the transport's, the token is not in it.
        serde_json::json!({ "api-domain": "https://www.zohoapis.invalid", "access-token": secret }),
    ];
    let out = data_dir.join("out");
    let out = out.to_str().expect("utf-8 path");
    for connection in cases {
        let connection = connection.to_string();
        let commands: [Vec<&str>; 5] = [
            vec!["sweep", "Leads", "--connection", &connection, "--out", out],
            vec!["sweep", "Leads", "--connection", &connection, "--out", out, "--namespace", "tenant-1"],
            vec!["sync", "--streams", "leads", "--connection", &connection, "--out", out],
            vec!["watch", "--connection", &connection, "--events", "Leads.create", "--listen", "127.0.0.1:0", "--public-url", "http://127.0.0.1:9/zoho", "--out", out],
            vec!["watch", "--connection", &connection, "--events", "Leads.create", "--listen", "127.0.0.1:0", "--public-url", "http://127.0.0.1:9/zoho", "--out", out, "--namespace", "tenant-1"],
        ];
        for command in commands {
            let output = zoho_host().args(["--data-dir", data_dir.to_str().expect("utf-8 path")]).args(&command).output().expect("zoho-host runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_ne!(output.status.code(), Some(0), "{command:?}: {stderr}");
            for form in [secret.to_string(), format!("{secret:?}").trim_matches('"').to_string(), "s3cr".to_string()] {
                assert!(!stderr.contains(&form), "{command:?}: {form} in {stderr}");
            }
            assert!(!String::from_utf8_lossy(&output.stdout).contains("s3cr"), "{command:?}");
        }
    }
    let _ = std::fs::remove_dir_all(data_dir);
}

/// A secret pasted into the wrong field (the client secret into `region` or `api-domain`, the
/// access token into `accounts-url`) is refused without being printed: the host's own
/// connection messages pass the component's redaction, quotes and backslashes included.
#[test]
fn connection_errors_never_print_a_secret_pasted_into_the_wrong_field() {
    let data_dir = std::env::temp_dir().join(format!("zoho-cli-secrets-{}", std::process::id()));
    let secret = r#"1000.s3cr"et\x'%41"#;
    let cases = [
        serde_json::json!({ "region": secret, "client-id": "1000.ID", "client-secret": secret, "refresh-token": "1000.r" }),
        serde_json::json!({ "api-domain": secret, "client-id": "1000.ID", "client-secret": secret, "refresh-token": "1000.r" }),
        serde_json::json!({ "api-domain": format!("https://www.zohoapis.eu/{secret}"), "client-id": "1000.ID", "client-secret": secret, "refresh-token": "1000.r" }),
        serde_json::json!({ "accounts-url": format!(" {secret} "), "access-token": format!(" {secret}") }),
    ];
    for connection in cases {
        let output = zoho_host()
            .args(["--data-dir", data_dir.to_str().expect("utf-8 path"), "run", "crm-get-record"])
            .args(["--connection", &connection.to_string()])
            .args(["--input", r#"{"record-type":"Leads","record-id":"1"}"#])
            .output()
            .expect("zoho-host runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(output.status.code(), Some(0), "{connection}: {stderr}");
        assert!(stderr.contains("connection: ") && stderr.contains("[redacted]"), "{connection}: {stderr}");
        for form in [secret.to_string(), format!("{secret:?}").trim_matches('"').to_string(), "s3cr".to_string()] {
            assert!(!stderr.contains(&form), "{connection}: {form} in {stderr}");
        }
        assert!(output.stdout.is_empty());
    }
    let _ = std::fs::remove_dir_all(data_dir);
}
