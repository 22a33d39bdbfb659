//! What the `zoho-host` command line shows and reads beyond clap: exit statuses, JSON
//! arguments (text, @file or stdin), the manifest's actions and `run`'s printed result.

use anyhow::{bail, Context as _, Result};
use serde_json::Value;
use std::io::Read as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use zoho_host::manifest::{Action, Manifest};
use zoho_host::zoho_error::shown;

/// The exit statuses `main` and the commands actually return.
pub const EXIT_STATUS: &str = "\
Exit status:
  0  success (and --help, --version)
  1  `run`: the action returned its zoho-error (printed as JSON on stderr);
     `manifest --check`: the file differs from the generated manifest
  2  a usage error (a missing or bad flag), a host error (unreadable or invalid JSON, no such
     action, the store, the component), or `sweep`, `sync`, `watch` or `load` stopped by an error,
     a step's zoho-error included (one line on stderr)";

/// Set once stdin has been read: it can feed one argument only.
static STDIN_TAKEN: AtomicBool = AtomicBool::new(false);

/// A JSON argument: the JSON itself, `@file`, or `-` (also `@-`) for stdin.
pub fn json_arg(text: &str, what: &str) -> Result<Value> {
    let text = match text {
        "-" | "@-" => {
            if STDIN_TAKEN.swap(true, Ordering::SeqCst) {
                bail!("{what} -: stdin is already read by another argument; give {what} as JSON or @file");
            }
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).with_context(|| format!("reading {what} from stdin"))?;
            text
        }
        _ => match text.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {what} from {}", shown(path)))?,
            None => text.to_string(),
        },
    };
    serde_json::from_str(&text).with_context(|| format!("{what} is not valid JSON ({} bytes)", text.len()))
}

/// `zoho-host actions`: each action's key, label and inputs (`?` marks the optional ones);
/// `zoho-host actions KEY`: that action's form and output.
pub fn actions(key: Option<&str>) -> Result<ExitCode> {
    let manifest = Manifest::embedded()?;
    let Some(key) = key else {
        for action in &manifest.actions {
            let inputs: Vec<String> = action.inputs.iter().map(|i| if i.required { i.key.clone() } else { format!("{}?", i.key) }).collect();
            println!("{:<22} {:<26} {}", action.key, action.label, inputs.join(" "));
        }
        return Ok(ExitCode::SUCCESS);
    };
    match manifest.action(key) {
        Some(action) => {
            print!("{}", form(action));
            Ok(ExitCode::SUCCESS)
        }
        None => bail!("no action {}{}; `zoho-host actions` lists them", shown(&format!("{key:?}")), close_keys(&manifest, key)),
    }
}

/// One action as a form: its inputs (type, required or default, choices, help) and output.
fn form(action: &Action) -> String {
    let mut text = format!("{} ({})\n{}\n", action.label, action.key, action.description);
    if !action.scopes.is_empty() {
        text += &format!("scopes: {}\n", action.scopes.join(", "));
    }
    text += "\ninputs:\n";
    for input in &action.inputs {
        let need = match (&input.default, input.required) {
            (_, true) => "required".to_string(),
            (Some(default), false) => format!("optional, default {default}"),
            (None, false) => "optional".to_string(),
        };
        text += &format!("  {} ({}, {need}): {}\n", input.key, input.kind, input.label);
        if let Some(choices) = input.choices.as_ref().and_then(Value::as_array) {
            text += &format!("      one of: {}\n", choices.iter().map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_string)).collect::<Vec<_>>().join(", "));
        }
        if let Some(from) = &input.choices_from {
            text += &format!("      choices from: {}\n", from["action"].as_str().unwrap_or("another action"));
        }
        if !input.help.is_empty() {
            text += &format!("      {}\n", input.help);
        }
    }
    if let Some(output) = &action.output {
        text += &format!("\noutput:\n  {output}\n");
    }
    text
}

/// ", did you mean a, b?" for the keys nearest `key` (sharing a word or a few edits away).
fn close_keys(manifest: &Manifest, key: &str) -> String {
    let wanted = key.to_ascii_lowercase();
    let mut scored: Vec<(usize, &str)> = manifest
        .actions
        .iter()
        .map(|a| {
            let shared = wanted.split('-').filter(|w| w.len() > 2 && a.key.split('-').any(|k| k == *w)).count();
            (edit_distance(&wanted, &a.key).saturating_sub(shared * 4), a.key.as_str())
        })
        .filter(|(score, _)| *score <= wanted.len().max(6) / 2)
        .collect();
    scored.sort();
    let close: Vec<&str> = scored.iter().take(3).map(|(_, k)| *k).collect();
    if close.is_empty() {
        String::new()
    } else {
        format!(", did you mean {}?", close.join(", "))
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(row[j] + 1).min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// `run`'s Ok value as printed: a raw request's JSON body (`body: {json: text}`) is shown as
/// the JSON it is, not as a string of escaped JSON. Only the printing changes: embedders and
/// the component's own output keep the text, which is byte for byte what Zoho sent.
pub fn printed(mut value: Value) -> Value {
    if let Some(body) = value.get_mut("body").and_then(|b| b.get_mut("json")) {
        if let Some(parsed) = body.as_str().and_then(|text| serde_json::from_str::<Value>(text).ok()) {
            *body = parsed;
        }
    }
    value
}
