//! Zoho Books resources in `zoho-host watch`, swept only. Books' webhooks are set up by a
//! person in Books' settings (Settings > Automation > Workflow Actions > Webhooks, "Webhooks",
//! https://www.zoho.com/books/help/settings/automation/workflow-actions/webhooks.html), tied to
//! workflow rules; the Books API v3 documents no endpoint that creates, renews or lists them.
//! So a Books resource is read by its sweep every `--sweep-every`: no listener, no public URL.
//!
//! Each resource is watched as the Books sync stream of the same name (`books_<resource>` for
//! the connection's organization, `books_<organization id>_<resource>` for a named one): the
//! Books sweep's pages to the end, then its commit, so the cursor moves only after every line
//! of a sweep is written, and a watch stopped or killed mid-sweep reads that sweep again (lines
//! already written are not written twice: see `seen`). A stream's first sweep starts where the
//! watch first watched it (kept in key-value storage, 15 minutes before by this host's clock, as
//! Books' clock is known only from its answers); later ones start at the committed cursor.
//!
//! The streams are kept in the tenant's namespace plus `#watch-books`: never the tenant's own
//! sync streams or Books sweeps, and the same place whether the watch also has `--events` or
//! not, so a watch restarted with other flags goes on from each Books resource's cursor.

use super::channel::{unix_now, BUCKET, HOST_CLOCK_MARGIN_S};
use super::seen::{self, Seen};
use super::{error_line, id_text, sweeps, Emitter, Steps, WatchRequest, WatchSummary};
use crate::runtime::Runtime;
use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};
use std::future::Future;
use std::io::Write;
use zoho_connector::zoho_time::{format_iso, parse_iso};

/// Where the watch's Books streams keep their sweeps: the tenant's namespace plus this.
pub const NAMESPACE_SUFFIX: &str = "#watch-books";
/// The memory of Books versions written (apart from a CRM watch's, which is per notify URL).
pub const SEEN_BUCKET: &str = "zoho-host/watch-seen/books";
/// Records a Books sweep page asks for: Books' largest page, one request a step.
const PER_PAGE: u32 = 200;
/// Books stamps records with these, in its own shape (`2016-06-11T17:38:06-0700`).
const TIMES: (&str, &str) = ("created_time", "last_modified_time");

/// A watched Books resource, as its sync stream names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BooksResource {
    /// `books_<resource>` or `books_<organization id>_<resource>`: the stream, and each line's `module`.
    pub stream: String,
    pub resource: &'static str,
    /// The record's id member (invoice_id, contact_id, ...).
    pub id_member: &'static str,
}

/// The Books resources of `--books`: `invoices`, `contacts`, ... (the connection's organization)
/// or `<organization id>_<resource>` (that organization), each once; a `books_` prefix, as the
/// sync stream is named, is taken too.
pub fn resources(list: &[String]) -> Result<Vec<BooksResource>> {
    let mut resources: Vec<BooksResource> = Vec::new();
    for entry in list.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        let name = entry.strip_prefix("books_").unwrap_or(entry);
        let (organization, resource) = match name.split_once('_') {
            Some((org, resource)) if !org.is_empty() && org.len() <= 32 && org.bytes().all(|b| b.is_ascii_digit()) => (Some(org), resource),
            _ => (None, name),
        };
        let resource = match zoho_connector::books::sweep::list::sweepable(resource) {
            Ok(resource) => resource,
            Err(e) => bail!("--books {entry:?}: {} (write a resource, e.g. invoices, or <organization id>_invoices for another organization)", e.message.replacen("record-type ", "", 1)),
        };
        let stream = match organization {
            Some(org) => format!("books_{org}_{}", resource.name),
            None => format!("books_{}", resource.name),
        };
        if !resources.iter().any(|r| r.stream == stream) {
            resources.push(BooksResource { stream, resource: resource.name, id_member: resource.id_member });
        }
    }
    Ok(resources)
}

/// Where each resource's first sweep starts: kept from the first watch of it, else 15 minutes
/// before now by this host's clock (stored before anything is swept, so a restart keeps it).
pub fn starts(steps: &Steps<'_>, resources: &[BooksResource]) -> Result<Vec<String>> {
    let kv = steps.runtime.kv();
    resources
        .iter()
        .map(|r| {
            let key = format!("books/{}/start", r.stream);
            let stored = kv.get(&steps.namespace, BUCKET, &key).ok().flatten().and_then(|b| String::from_utf8(b).ok()).filter(|s| parse_iso(s).is_some());
            if let Some(start) = stored {
                return Ok(start);
            }
            let start = format_iso(unix_now().saturating_sub(HOST_CLOCK_MARGIN_S));
            kv.set(&steps.namespace, BUCKET, &key, start.as_bytes()).map_err(|e| anyhow::anyhow!("the key-value store did not keep where {} starts: {e:?}", r.stream))?;
            Ok(start)
        })
        .collect()
}

/// Sweeps every Books resource once (a failure is logged; that resource is read again, from
/// its cursor, at the next sweep).
pub async fn sweep_all(steps: &Steps<'_>, resources: &[BooksResource], starts: &[String], emit: &mut Emitter) {
    let namespace = format!("{}{NAMESPACE_SUFFIX}", steps.namespace);
    for (resource, start) in resources.iter().zip(starts) {
        if let Err(e) = sweep(steps, &namespace, resource, start, emit).await {
            eprintln!("zoho-host watch: {e:#}");
        }
    }
}

/// One sweep of `resource`'s stream to its end, a line per record not written before, then the
/// commit. A failed page leaves the sweep uncommitted: the next one reads it all again.
async fn sweep(steps: &Steps<'_>, namespace: &str, resource: &BooksResource, start: &str, emit: &mut Emitter) -> Result<u64> {
    let stream = resource.stream.as_str();
    let mut records: u64 = 0;
    let mut page: u32 = 1;
    loop {
        let input = json!({ "stream": stream, "page": page, "per-page": PER_PAGE, "anchor-date": start });
        let result = match steps.call_in(namespace, "sync-read-stream-page", &input).await? {
            Ok(value) => value,
            Err(error) => bail!("{stream}: sweep page {page} failed, nothing committed: {}", error_line(&error)),
        };
        let organization_id = result["organization_id"].as_str().context("a Books stream page named no organization")?.to_string();
        let since = result["sweep"]["since"].as_str().and_then(parse_iso);
        let watched = super::flags::Watched { create: true, edit: true, delete: false };
        for record in result["records"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let Some(id) = id_text(&record[resource.id_member]) else { continue };
            if let Some(operation) = sweeps::operation(record, since, watched, TIMES) {
                emit.books_record(resource, &organization_id, operation, &id, record)?;
            }
            records = records.saturating_add(1);
        }
        if result["more_records"] != json!(true) {
            break;
        }
        let Some(next) = page.checked_add(1) else { bail!("{stream}: the sweep ran past {page} pages") };
        page = next;
    }
    emit.flush()?;
    match steps.call_in(namespace, "sync-commit-stream", &json!({ "stream": stream })).await? {
        Ok(_) => Ok(records),
        Err(error) => bail!("{stream}: the sweep was written but its commit failed: {}", error_line(&error)),
    }
}

/// A watch of Books resources alone, until `shutdown` completes: each resource swept every
/// `--sweep-every` (the first at once), lines to `out`. Nothing is served and no channel is
/// enabled, so none is left to disable.
pub async fn run(runtime: &Runtime, connection: &Value, namespace: Option<&str>, request: &WatchRequest, out: Box<dyn Write + Send>, shutdown: impl Future<Output = ()>) -> Result<WatchSummary> {
    let namespace = runtime.namespace_for(connection, namespace).await?;
    let steps = Steps { runtime, connection, namespace: namespace.clone() };
    let starts = starts(&steps, &request.books)?;
    let retention = request.sweep_every.as_secs().saturating_mul(4).max(24 * 3600);
    let seen = |bucket: &str| Seen::new(runtime.kv().clone(), &namespace, bucket, retention, seen::CAP);
    // No CRM line is written: its memory is an empty bucket, never filled.
    let mut emit = Emitter { out, seen: seen("zoho-host/watch-seen/no-crm"), books_seen: seen(SEEN_BUCKET), channel_id: String::new(), written: 0, duplicates: 0 };
    let mut summary = WatchSummary::default();
    let mut tick = tokio::time::interval(request.sweep_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {
                // A sweep under way finishes (its lines and commit) before a stop is taken.
                sweep_all(&steps, &request.books, &starts, &mut emit).await;
                summary.sweeps = summary.sweeps.saturating_add(1);
                emit.prune();
            }
        }
    }
    emit.flush()?;
    summary.written = emit.written;
    summary.duplicates_skipped = emit.duplicates;
    Ok(summary)
}

/// The line of a Books record: the CRM lines' shape, with the resource and organization.
pub fn line(resource: &BooksResource, organization_id: &str, operation: &str, id: &str, record: &Value) -> Value {
    json!({
        "app": "books",
        "module": resource.stream,
        "resource": resource.resource,
        "organization_id": organization_id,
        "operation": operation,
        "id": id,
        "record": record,
        "source": "sweep",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn books_resources_are_named_as_their_sync_streams() {
        let named = resources(&list(&["invoices", " contacts ", "20000001_bills", "books_invoices", "books_20000001_bills", ""])).unwrap();
        let streams: Vec<&str> = named.iter().map(|r| r.stream.as_str()).collect();
        assert_eq!(streams, ["books_invoices", "books_contacts", "books_20000001_bills"]);
        assert_eq!((named[2].resource, named[2].id_member), ("bills", "bill_id"));
        for bad in ["journals", "Invoices", "x_invoices", "1_", "invoices;", "\u{202e}invoices", "books_"] {
            let error = resources(&list(&[bad])).unwrap_err().to_string();
            assert!(error.starts_with("--books "), "{bad:?}: {error}");
        }
        assert!(resources(&list(&["journals"])).unwrap_err().to_string().contains("journals cannot be swept"));
        assert!(resources(&[]).unwrap().is_empty());
    }
}
