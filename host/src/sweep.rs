//! `zoho-host sweep`: reads every page of an incremental sweep through the component, writes
//! the records as JSON lines, and commits the cursor only after the last page is written.

use crate::runtime::{ActionRef, Runtime};
use anyhow::{bail, Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::io::Write;

pub struct SweepRequest<'a> {
    pub record_type: &'a str,
    pub since: Option<&'a str>,
    pub per_page: Option<u32>,
    pub fields: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SweepSummary {
    pub records: usize,
    pub pages: usize,
    /// The committed cursor.
    pub cursor: Value,
}

/// Runs one sweep to its end, then commits. A failed page stops the sweep uncommitted: the
/// next run reads the same range again (at-least-once, nothing lost).
pub async fn run(
    runtime: &Runtime,
    connection: &Value,
    namespace: Option<&str>,
    request: &SweepRequest<'_>,
    out: &mut dyn Write,
) -> Result<SweepSummary> {
    let list = ActionRef::from_key("incremental-list-modified-records-by-page")?;
    let commit = ActionRef::from_key("incremental-update-last-successful-run-date")?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    let started = std::time::Instant::now();
    let (mut records, mut page) = (0usize, 1u32);
    loop {
        let mut input = json!({ "record-type": request.record_type, "page": page });
        if let Some(since) = request.since {
            input["since"] = json!(since);
        }
        if let Some(per_page) = request.per_page {
            input["per-page"] = json!(per_page);
        }
        if let Some(fields) = request.fields {
            input["fields"] = json!(fields);
        }
        let outcome = runtime.run(&list, connection, &input, None, namespace).await?;
        let result = match outcome.result {
            Ok(value) => value,
            Err(error) => bail!("page {page} failed, nothing committed: {error}"),
        };
        for record in result["records"].as_array().context("the page has no records array")? {
            serde_json::to_writer(&mut *out, record)?;
            out.write_all(b"\n")?;
            records += 1;
        }
        let rate = records as f64 / started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!("{}: {records} records, {page} pages, {rate:.0} records/s", request.record_type));
        bar.tick();
        if result["more_records"] != json!(true) {
            break;
        }
        page += 1;
    }
    out.flush()?;
    let outcome = runtime.run(&commit, connection, &json!({ "record-type": request.record_type }), None, namespace).await?;
    let committed = match outcome.result {
        Ok(value) => value,
        Err(error) => bail!("the sweep was read but its commit failed: {error}"),
    };
    bar.finish_and_clear();
    Ok(SweepSummary { records, pages: page as usize, cursor: committed["cursor"].clone() })
}
