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

/// CRM's two times of a record (Books names its own: see `books`).
const CRM_TIMES: (&str, &str) = ("Created_Time", "Modified_Time");

/// The line a sweep writes for a record it read, if the watch covers any change the record may
/// have had since the sweep's start (`since`), else None. A sweep sees a record's present state,
/// not its events, so it infers them from Zoho's two times (whole seconds; `times` names them:
/// CRM's Created_Time and Modified_Time, Books' created_time and last_modified_time):
/// - created since the start: a create, and an edit too when Modified_Time is after Created_Time;
/// - created before the start: an edit;
/// - times missing or unreadable: it cannot tell, so it delivers (at least once, never lost) as
///   an edit, or as a create when only creates are watched.
///
/// A record is written when any of its changes is watched, labelled "insert" when its create is
/// watched (a create and its edits since read as one), else "update". So a `Module.edit` watch
/// gets a record created and edited since its last sweep, and not one only created. An edit in
/// the same second as the create reads as the create alone: its own notification carries it.
pub(super) fn operation(record: &Value, since: Option<i64>, watched: Watched, (created_field, modified_field): (&str, &str)) -> Option<&'static str> {
    let time = |field: &str| record[field].as_str().and_then(parse_iso);
    let (created, modified) = (time(created_field), time(modified_field));
    let (create, edit) = match (created, modified, since) {
        (Some(c), Some(m), Some(s)) if c >= s => (true, m > c),
        (Some(_), Some(_), Some(_)) => (false, true),
        // A first sweep without a start: a record never modified reads as its create.
        (Some(c), Some(m), None) => (true, m > c),
        _ => (!watched.edit, true),
    };
    if create && watched.create {
        Some("insert")
    } else if edit && watched.edit {
        Some("update")
    } else {
        None
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
            if let Some(operation) = operation(record, sweep_since, watched, CRM_TIMES) {
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
        let all = Watched { create: true, edit: true, delete: true };
        let record = |created: &str, modified: &str| json!({ "Created_Time": created, "Modified_Time": modified });
        assert_eq!(operation(&record("2026-01-01T00:00:05+00:00", "2026-01-01T00:09:00+00:00"), since, all, CRM_TIMES), Some("insert"));
        assert_eq!(operation(&record("2025-12-31T00:00:00+00:00", "2026-01-01T00:09:00+00:00"), since, all, CRM_TIMES), Some("update"));
        assert_eq!(operation(&record("2025-12-31T00:00:00+00:00", "2025-12-31T00:00:00+00:00"), None, all, CRM_TIMES), Some("insert"));
        assert_eq!(operation(&json!({ "Created_Time": "\u{202e}", "Modified_Time": 5 }), since, all, CRM_TIMES), Some("update"));
        assert_eq!(operation(&json!([]), None, all, CRM_TIMES), Some("update"));
    }

    #[test]
    fn a_watch_gets_every_change_it_covers_whatever_the_sweep_calls_it() {
        let since = parse_iso("2026-01-01T00:00:00+00:00");
        let edit = Watched { edit: true, ..Watched::default() };
        let create = Watched { create: true, ..Watched::default() };
        let record = |created: &str, modified: &str| json!({ "Created_Time": created, "Modified_Time": modified });
        let created_and_edited = record("2026-01-01T00:00:05+00:00", "2026-01-01T00:09:00+00:00");
        let only_created = record("2026-01-01T00:00:05+00:00", "2026-01-01T00:00:05+00:00");
        let edited = record("2025-12-31T00:00:00+00:00", "2026-01-01T00:09:00+00:00");
        assert_eq!(operation(&created_and_edited, since, edit, CRM_TIMES), Some("update"), "an edit-only watch gets a record created and edited");
        assert_eq!(operation(&only_created, since, edit, CRM_TIMES), None, "nor a record only created");
        assert_eq!(operation(&edited, since, edit, CRM_TIMES), Some("update"));
        assert_eq!(operation(&created_and_edited, since, create, CRM_TIMES), Some("insert"));
        assert_eq!(operation(&only_created, since, create, CRM_TIMES), Some("insert"));
        assert_eq!(operation(&edited, since, create, CRM_TIMES), None);
        // Unreadable times: delivered rather than lost, under a watched operation.
        let unreadable = json!({ "Created_Time": "soon", "Modified_Time": null });
        assert_eq!(operation(&unreadable, since, edit, CRM_TIMES), Some("update"));
        assert_eq!(operation(&unreadable, since, create, CRM_TIMES), Some("insert"));
        assert_eq!(operation(&unreadable, since, Watched { delete: true, ..Watched::default() }, CRM_TIMES), None);
    }
}
