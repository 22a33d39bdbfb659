//! The safety net: every `--sweep-every`, each watched module's incremental sweep (pages to the
//! end, then commit) writes what the notifications missed. Written records are not written
//! again (see `seen`), so in the usual case the sweep writes nothing.
//!
//! The sweeps run in their own key-value namespace (`<namespace>#watch-<id>`): a sweep's cursor
//! is kept per namespace and module, and the component's incremental actions take no other
//! scope, so in the tenant's namespace the watch would commit the cursor of the tenant's own
//! Leads flow and steal its changes. The price: that namespace caches its own access token and
//! counts its own credits (the sweeps' reads are not in the tenant's credit budget).

use super::{error_line, Emitter, Source, Steps};
use crate::watch::flags::Watched;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use zoho_connector::zoho_time::parse_iso;

/// What one module's sweep read.
#[derive(Debug, Default, Clone, Copy)]
pub struct Swept {
    pub pages: u32,
    pub records: u64,
}

/// Zoho's operation for a record a sweep read: created since the sweep's start is an insert
/// (a create and its edits since read as one), else an update.
fn operation(record: &Value, since: Option<i64>) -> &'static str {
    let time = |field: &str| record[field].as_str().and_then(parse_iso);
    let created = time("Created_Time");
    let created_since = matches!((created, since), (Some(c), Some(s)) if c >= s);
    if created_since || (created.is_some() && created == time("Modified_Time")) {
        "insert"
    } else {
        "update"
    }
}

/// Sweeps `module` to its end in `namespace` and commits. `since` starts a first sweep (no
/// cursor yet). A failed page leaves the sweep uncommitted: the next one reads it all again.
pub async fn sweep(steps: &Steps<'_>, namespace: &str, module: &str, watched: Watched, since: Option<&str>, emit: &mut Emitter) -> Result<Swept> {
    let mut swept = Swept::default();
    let mut page: u32 = 1;
    loop {
        let mut input = json!({ "record-type": module, "page": page, "include-deleted": watched.delete });
        if let Some(since) = since {
            input["since"] = json!(since);
        }
        let result = match steps.call_in(namespace, "incremental-list-modified-records-by-page", &input).await? {
            Ok(value) => value,
            Err(error) => bail!("{module}: sweep page {page} failed, nothing committed: {}", error_line(&error)),
        };
        let sweep_since = result["sweep"]["since"].as_str().and_then(parse_iso);
        for record in result["records"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let Some(id) = super::id_text(&record["id"]) else { continue };
            let operation = operation(record, sweep_since);
            if watched.wants(operation) {
                emit.record(module, operation, &id, Some(record), Source::Sweep)?;
            }
            swept.records = swept.records.saturating_add(1);
        }
        if watched.delete {
            for id in result["deleted"].as_array().map(Vec::as_slice).unwrap_or_default().iter().filter_map(super::id_text) {
                emit.record(module, "delete", &id, None, Source::Sweep)?;
            }
        }
        swept.pages = page;
        if result["more_records"] != json!(true) {
            break;
        }
        let Some(next) = page.checked_add(1) else { bail!("{module}: the sweep ran past {page} pages") };
        page = next;
    }
    emit.flush()?;
    match steps.call_in(namespace, "incremental-update-last-successful-run-date", &json!({ "record-type": module })).await? {
        Ok(_) => Ok(swept),
        Err(error) => bail!("{module}: the sweep was written but its commit failed: {}", error_line(&error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_created_since_the_sweeps_start_is_an_insert() {
        let since = parse_iso("2026-01-01T00:00:00+00:00");
        let record = |created: &str, modified: &str| json!({ "Created_Time": created, "Modified_Time": modified });
        assert_eq!(operation(&record("2026-01-01T00:00:05+00:00", "2026-01-01T00:09:00+00:00"), since), "insert");
        assert_eq!(operation(&record("2025-12-31T00:00:00+00:00", "2026-01-01T00:09:00+00:00"), since), "update");
        assert_eq!(operation(&record("2025-12-31T00:00:00+00:00", "2025-12-31T00:00:00+00:00"), since), "insert");
        assert_eq!(operation(&json!({ "Created_Time": "\u{202e}", "Modified_Time": 5 }), since), "update");
        assert_eq!(operation(&json!([]), None), "update");
    }
}
