//! Every command the README and docs/*.md show in a fenced `sh`, `bash`, `shell` or `console` block
//! is run here, or named in `NOT_RUN` with the reason it cannot run in a test. A block runs as one
//! bash script (`set -euo pipefail`, so a `cd` carries to the next line, as in a terminal), from a
//! folder that looks like the clone (a link to each of its top-level entries), against one sandbox
//! that this test starts with the documented `zoho-host sandbox --port 8787 &`. A command added to
//! the docs is run by default: it must work as written, or be listed below with its reason.
//!
//! What changes from the text as written, and why:
//! - the port 8787 becomes a free one, since other tests and other clones may hold 8787;
//! - `zoho-host` is the binary under test (first on PATH), `ZOHO_DATA_DIR` and `TMPDIR` are this
//!   test's own folders, so nothing lands in the user's data or in the clone;
//! - a block needing the wasmtime CLI 48 or node/npm is skipped, loudly, when they are not
//!   installed, as `wasmtime_cli.rs` and `jco.rs` do (CI has both).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Commands shown in the docs that this test does not run, each with why.
const NOT_RUN: &[(&str, &str)] = &[
    ("./build.sh", "builds what this test runs and must come before it; it takes about 14 minutes from a fresh clone on 2 cores (the README says so)"),
    ("cargo test --profile native --workspace", "the test command itself, of which this test is a part"),
];

/// Started by this test, once, before any block runs, and waited for until it prints its
/// connection (a reader runs it in the background and the next lines take longer than its start).
const SANDBOX: &str = "zoho-host sandbox --port 8787 &";
/// The sandbox's first token, which the docs use: a new sandbox always issues this one first.
const SANDBOX_TOKEN: &str = "1000.sandbox00000001.9e3779b97f4a7c15";
const DOC_PORT: &str = "8787";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("the repository")
}

#[derive(Debug)]
struct Block {
    place: String,
    /// Each command of the block, continuation lines joined, comments dropped, split at `&&`.
    commands: Vec<String>,
}

/// The shell blocks of one markdown file; an unlabelled fence is an error, so that no command can
/// sit in one unseen.
fn shell_blocks(file: &str, text: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(lang) = line.trim_start().strip_prefix("```") else { continue };
        let lang = lang.trim();
        if lang.is_empty() {
            return Err(format!("{file}:{}: a fence without a language (```text, ```sh, ...)", n + 1));
        }
        let body: Vec<&str> = lines.by_ref().map(|(_, l)| l).take_while(|l| !l.trim_start().starts_with("```")).collect();
        let console = lang == "console";
        if matches!(lang, "sh" | "bash" | "shell" | "console") {
            blocks.push(Block { place: format!("{file}:{}", n + 1), commands: commands(&body, console) });
        }
    }
    Ok(blocks)
}

/// Logical commands: `\` continuations joined, comment lines and trailing comments dropped, each
/// `a && b` split in two; in a console block only the `$ ` lines (and their continuations) count.
fn commands(body: &[&str], console: bool) -> Vec<String> {
    let mut logical = Vec::new();
    let mut current: Option<String> = None;
    for line in body {
        let line = match (&current, console) {
            (None, true) => match line.trim_start().strip_prefix("$ ") {
                Some(command) => command,
                None => continue,
            },
            _ => line,
        };
        if current.is_none() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        let text = current.get_or_insert_with(String::new);
        match line.trim_end().strip_suffix('\\') {
            Some(head) => text.push_str(head),
            None => {
                text.push_str(line);
                logical.push(current.take().unwrap_or_default());
            }
        }
    }
    logical.extend(current);
    logical.iter().flat_map(|l| split_and(&strip_comment(l))).collect()
}

/// Positions outside single and double quotes.
fn unquoted(text: &str) -> Vec<usize> {
    let (mut single, mut double, mut out) = (false, false, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            _ if !single && !double => out.push(i),
            _ => {}
        }
    }
    out
}

fn strip_comment(line: &str) -> String {
    let cut = unquoted(line).into_iter().find(|&i| line[i..].starts_with('#') && (i == 0 || line[..i].ends_with(char::is_whitespace)));
    line[..cut.unwrap_or(line.len())].trim().to_string()
}

fn split_and(line: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut start = 0;
    for i in unquoted(line) {
        if i >= start && line[i..].starts_with("&&") {
            parts.push(line[start..i].trim().to_string());
            start = i + 2;
        }
    }
    parts.push(line[start..].trim().to_string());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// The README's and docs/*.md's shell blocks, in reading order.
fn documented_blocks() -> Vec<Block> {
    let root = repo();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs")).expect("docs/").map(|e| e.expect("entry").path()).filter(|p| p.extension().is_some_and(|e| e == "md")).collect();
    docs.sort();
    files.extend(docs);
    files
        .iter()
        .flat_map(|path| {
            let name = path.strip_prefix(&root).unwrap_or(path).display().to_string();
            shell_blocks(&name, &std::fs::read_to_string(path).expect("readable")).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// The wasmtime CLI 48 that `hosts/wasmtime-cli/install.sh` put in its cache (so running the
/// documented install.sh is instant and needs no network), if it did.
fn wasmtime_cli_installed() -> bool {
    let root = std::env::var_os("ZOHO_WASMTIME_CLI_ROOT").map(PathBuf::from).unwrap_or_else(|| {
        let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")));
        base.unwrap_or_default().join("zoho-connector/wasmtime-cli-48")
    });
    Command::new(root.join("bin/wasmtime")).arg("--version").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("wasmtime 48."))
}

fn installed(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// What a block needs beyond zoho-host and bash, and whether it is here.
fn missing_tool(block: &Block) -> Option<&'static str> {
    let uses = |word: &str| block.commands.iter().any(|c| c.split_whitespace().any(|w| w == word || w.starts_with(word)));
    if uses("hosts/wasmtime-cli/") && !wasmtime_cli_installed() {
        return Some("the wasmtime CLI 48 (run hosts/wasmtime-cli/install.sh, which ./build.sh runs)");
    }
    if (uses("npm") || uses("node")) && !(installed("node") && installed("npm")) {
        return Some("node and npm");
    }
    None
}

/// The sandbox child, stopped when the test ends, however it ends.
struct Stop(Child);
impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

/// A folder standing for the clone: a link to each top-level entry, `target` being the one this
/// test's binary was built in; files the commands write (conn.json) land here, not in the clone.
fn work_dir(base: &Path) -> PathBuf {
    let work = base.join("clone");
    std::fs::create_dir_all(&work).expect("work dir");
    let target = Path::new(env!("CARGO_BIN_EXE_zoho-host")).parent().and_then(Path::parent).expect("the target dir").to_path_buf();
    for entry in std::fs::read_dir(repo()).expect("the repository") {
        let entry = entry.expect("entry");
        let from = if entry.file_name() == "target" { target.clone() } else { entry.path() };
        std::os::unix::fs::symlink(from, work.join(entry.file_name())).expect("symlink");
    }
    if !work.join("target").exists() {
        std::os::unix::fs::symlink(&target, work.join("target")).expect("symlink");
    }
    work
}

#[test]
fn every_documented_command_runs_as_written_or_is_listed_with_its_reason() {
    let blocks = documented_blocks();
    let all: Vec<&String> = blocks.iter().flat_map(|b| &b.commands).collect();
    for (command, _) in NOT_RUN {
        assert!(all.iter().any(|c| c == command), "NOT_RUN lists {command:?}, which no doc shows any more: remove it");
    }
    assert!(all.iter().any(|c| *c == SANDBOX), "no doc starts the sandbox with {SANDBOX:?} any more: update this test");

    let base = std::env::temp_dir().join(format!("zoho-recipes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let work = work_dir(&base);
    let (bin, data, tmp) = (base.join("bin"), base.join("data"), base.join("tmp"));
    for dir in [&bin, &data, &tmp] {
        std::fs::create_dir_all(dir).expect("dir");
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_zoho-host"), bin.join("zoho-host")).expect("symlink");
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()))).expect("PATH");
    let port = free_port().to_string();
    let as_run = |command: &str| command.replace(DOC_PORT, &port);

    let mut sandbox = Stop(
        Command::new("bash")
            .arg("-c")
            .arg(format!("exec {}", as_run(SANDBOX).trim_end_matches('&')))
            .env("PATH", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the sandbox starts"),
    );
    let mut out = BufReader::new(sandbox.0.stdout.take().expect("stdout"));
    let connection = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).expect("the sandbox's output") > 0, "the sandbox exited before printing its connection");
        if let Some(json) = line.strip_prefix("connection: ") {
            break serde_json::from_str::<serde_json::Value>(json).expect("the printed connection is JSON");
        }
    };
    assert_eq!(connection["access-token"], SANDBOX_TOKEN, "the docs use the sandbox's first token: update them with the one it prints now");
    assert_eq!(connection["api-domain"], format!("http://127.0.0.1:{port}"));

    let (mut ran, mut skipped) = (Vec::new(), Vec::new());
    for block in &blocks {
        let runnable: Vec<&String> = block.commands.iter().filter(|c| *c != SANDBOX && !NOT_RUN.iter().any(|(n, _)| n == c)).collect();
        for command in block.commands.iter().filter(|c| !runnable.contains(c)) {
            let why = NOT_RUN.iter().find(|(n, _)| n == command).map_or("started once by this test, before the blocks", |(_, why)| why);
            skipped.push(format!("{}: {command}  ({why})", block.place));
        }
        if runnable.is_empty() {
            continue;
        }
        if let Some(tool) = missing_tool(block) {
            eprintln!("\n!!!!! SKIPPED {}: {tool} not installed; its commands are NOT checked !!!!!\n", block.place);
            skipped.extend(runnable.iter().map(|c| format!("{}: {c}  (SKIPPED HERE: no {tool})", block.place)));
            continue;
        }
        let script = format!("set -euo pipefail\n{}\n", runnable.iter().map(|c| as_run(c)).collect::<Vec<_>>().join("\n"));
        let output = Command::new("bash").arg("-c").arg(&script).current_dir(&work).env("PATH", &path).env("ZOHO_DATA_DIR", &data).env("TMPDIR", &tmp).output().expect("bash runs");
        assert!(
            output.status.success(),
            "{} does not work as written ({}):\n{script}\n--- stdout\n{}\n--- stderr\n{}",
            block.place,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        ran.extend(runnable.iter().map(|c| format!("{}: {c}", block.place)));
    }
    eprintln!("ran:\n  {}\nnot run:\n  {}", ran.join("\n  "), skipped.join("\n  "));
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn commands_are_read_as_a_shell_reads_them() {
    let body = ["a --x '1 && 2' \\", "  --y \"# not a comment\"   # a comment", "# a comment line", "", "cd d && b # c"];
    assert_eq!(commands(&body, false), ["a --x '1 && 2'   --y \"# not a comment\"", "cd d", "b"]);
    assert_eq!(commands(&["$ zoho-host actions", "crm-create-record ...", "$ x \\", "  y"], true), ["zoho-host actions", "x   y"]);
    assert!(shell_blocks("f.md", "text\n```\nls\n```\n").is_err(), "an unlabelled fence hides commands");
    let blocks = shell_blocks("f.md", "```json\n{}\n```\n```sh\nls\n```\n").expect("labelled");
    assert_eq!(blocks.len(), 1);
    assert_eq!((blocks[0].place.as_str(), blocks[0].commands.as_slice()), ("f.md:4", ["ls".to_string()].as_slice()));
}
