//! The component under jco in Node (hosts/jco): `hosts/jco/test.sh` installs the pinned jco
//! with `npm ci` when hosts/jco/node_modules is missing, transpiles the built component, and runs
//! crm-get-records, crm-create-record, books-get-records and two incremental pages through
//! `node run.mjs` against `zoho-host sandbox`, plus the reference key-value store's contract.
//! Skipped, loudly, only when `node` is not installed.

use std::path::Path;
use std::process::Command;

#[test]
fn the_component_runs_under_jco_in_node() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!();
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!("!!! SKIPPED host/tests/jco.rs: `node` is not installed, so the jco recipe is NOT tested.");
        eprintln!("!!! Install Node 20 or later (with npm) to run hosts/jco/test.sh.");
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hosts/jco/test.sh");
    let component = std::env::var_os("ZOHO_COMPONENT").map(Into::into).unwrap_or_else(zoho_host::default_component_path);
    assert!(component.exists(), "no built component at {}: run ./build.sh first", component.display());
    let output = Command::new("sh").arg(&script).env("ZOHO_HOST", env!("CARGO_BIN_EXE_zoho-host")).env("ZOHO_COMPONENT", &component).output().expect("sh runs hosts/jco/test.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "hosts/jco/test.sh failed ({}):\n{stdout}\n{stderr}", output.status);
    assert!(!stdout.contains("FAIL"), "{stdout}");
    for step in ["crm-get-records", "crm-create-record", "books-get-records", "incremental-list-contacts-by-page"] {
        assert!(stdout.lines().any(|l| l.starts_with(&format!("ok   {step}"))), "{step} did not pass:\n{stdout}");
    }
}
