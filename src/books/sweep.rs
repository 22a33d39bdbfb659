//! Books sweeps: every record of a Books resource created or modified since the committed
//! cursor, a page per step, and a commit that moves the cursor; the CRM sweep's guarantee
//! (at-least-once, no gaps, records changed during the sweep in this sweep or the next, a
//! record changed twice in one second delivered again, a bound by Books' `Date`, a page asked
//! again answering the same records, state kept in key-value storage across host restarts).
//!
//! Books pages its lists by number, and a record changed mid-sweep moves in a list sorted by
//! `last_modified_time`. So no page number is carried from one step to the next: the walk is
//! the CRM records walk ([`crate::incremental::records_walk`]) over the Books list
//! ([`list`]): each request is page 1 of the list modified since the walk's position (a second
//! and the ids delivered at it), and a second holding more records than a page is read deeper
//! by page number, then read again backward over the same pages, so a record of that second
//! changed or deleted between pages (which shifts the rest to earlier places) is delivered by
//! the backward pass. Its sweep state, page keys and boundary digests are the CRM sweep's, in
//! the scope `books/<organization>/<resource>`.
//!
//! Deletions are not reported: Books has no deleted-records feed (no documented endpoint lists
//! what was deleted), and a deleted record leaves its list without a trace.

mod details;
pub mod list;

use crate::books::organization;
use crate::client::Client;
use crate::error::{Result, ZohoError};
use crate::incremental::records_walk;
use crate::incremental::state::{cursor_key, load, save, sweep_key, Cursor};
use crate::incremental::sweep_page::{drop_delivered, open_single, page_asked, Opening};
use crate::incremental::{commit, normalize, open_sweep, SweepInfo, SweepPage};
use crate::wit::books::{ListModifiedRecordsByPageInput, UpdateLastSuccessfulRunDateInput};
use list::BooksList;
use serde_json::Value;

/// Books' largest page (`per_page`, every list page of Books API v3).
pub const MAX_PER_PAGE: u32 = 200;
/// The largest page with `include-line-items`: each record is a request, and Books allows
/// about 100 requests a minute per organization, so a page and its list requests fit in one.
pub const MAX_PER_PAGE_WITH_LINE_ITEMS: u32 = 50;

/// The scope a Books resource's sweep keeps its state under (one per organization).
fn scope(organization_id: &str, resource: &str) -> String {
    crate::storage::keys::books_sweep_scope(organization_id, resource)
}

/// Books - List New/Updated Records By Page: one step of a Books resource's sweep.
pub fn list_modified_records_by_page(client: &Client, input: &ListModifiedRecordsByPageInput) -> Result<String> {
    let resource = list::sweepable(input.record_type.trim())?;
    let line_items = input.include_line_items.unwrap_or(false);
    let since = input.since.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| normalize("since", s)).transpose()?;
    let organization_id = organization::organization_id(client, client.books_organization_id())?;
    let step = Step { resource, organization_id: &organization_id, scope: scope(&organization_id, resource.name), page: input.page, per_page: input.per_page, since, anchor: None, line_items };
    step_page(client, &step)?.to_json()
}

/// One step of a Books sweep, whoever keeps it: the sweep action (scope
/// `books/<organization>/<resource>`) or a sync stream (its own scope, so the two never take
/// each other's changes).
pub struct Step<'a> {
    pub resource: &'static list::Resource,
    pub organization_id: &'a str,
    pub scope: String,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
    /// Where this sweep starts, over the committed cursor (already normalized).
    pub since: Option<String>,
    /// Where a sweep starts with no since and no cursor (already normalized).
    pub anchor: Option<String>,
    pub line_items: bool,
}

/// The page `step` asks of its resource's sweep.
pub fn step_page(client: &Client, step: &Step) -> Result<SweepPage> {
    let resource = step.resource;
    let line_items = step.line_items;
    let (largest, why) = if line_items { (MAX_PER_PAGE_WITH_LINE_ITEMS, " with include-line-items (a request per record; Books allows about 100 a minute)") } else { (MAX_PER_PAGE, "") };
    let per_page = step.per_page.unwrap_or(largest);
    if !(1..=largest).contains(&per_page) {
        return Err(ZohoError::invalid_input(format!("per-page {per_page} is out of range: 1 to {largest}{why}")));
    }
    if step.page == Some(0) {
        return Err(ZohoError::invalid_input("page starts at 1"));
    }
    let (scope, organization_id, since) = (step.scope.as_str(), step.organization_id, step.since.as_ref());
    open_sweep::require_for_page(client, scope, step.page)?;
    let cursor: Option<Cursor> = load(client, &cursor_key(scope))?;
    let signature = format!("books|{per_page}{}", if line_items { "|line-items" } else { "" });
    let opening = Opening { signature: &signature, since, anchor: step.anchor.as_ref(), first_step: matches!(step.page, None | Some(1)), include_deleted: false };
    let mut sweep = open_single(client, scope, &opening, cursor.as_ref())?;
    let mut fetched = sweep.fetched;
    let page = page_asked(&sweep, fetched, step.page)?;
    let listing = BooksList { resource, organization_id };
    let read = if sweep.last_page.is_some_and(|last| page > last) {
        crate::incremental::keyset::Page::empty()
    } else {
        records_walk::read_list(client, &listing, scope, &mut sweep, page, per_page, &mut fetched)?
    };
    let more = read.more;
    let (mut rows, dropped) = drop_delivered(client, scope, scope, &sweep, cursor.as_ref(), page, read.rows)?;
    if line_items {
        details::read(client, resource, organization_id, &mut rows)?;
    }
    sweep.fetched = fetched;
    sweep.served = sweep.served.max(page);
    save(client, &sweep_key(scope), &sweep)?;
    let stored = cursor.as_ref().and_then(|c| c.cursor.as_deref());
    let given = since.is_some() || (stored.is_none() && step.anchor.is_some());
    let warnings = crate::incremental::stale_cursor::warnings(scope, given, stored, sweep.since.as_deref(), sweep.until.as_deref());
    Ok(SweepPage {
        record_type: resource.name.to_string(),
        records: rows.into_iter().map(|r| r.text).collect(),
        page,
        per_page,
        more_records: more,
        next_page: if more { page.checked_add(1) } else { None },
        cursor: cursor.and_then(|c| c.cursor),
        sweep: SweepInfo { id: sweep.sweep, since: sweep.since, until: sweep.until, commits_cursor: sweep.cursor, duplicates_dropped: dropped },
        deleted: None,
        deletions_may_be_missing: None,
        deletions_missing_why: None,
        slice: None,
        usage: client.usage(),
        stream: None,
        incremental: None,
        organization_id: None,
        strategy: None,
        retry_after_ms: None,
        bulk: None,
        warnings,
    })
}

/// Books - Update Last Successful Run Date: commits the resource's finished sweep, or sets
/// `timestamp` as its cursor.
pub fn update_last_successful_run_date(client: &Client, input: &UpdateLastSuccessfulRunDateInput) -> Result<Value> {
    let resource = list::sweepable(input.record_type.trim())?;
    if let Some(timestamp) = input.timestamp.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        normalize("timestamp", timestamp)?;
    }
    let organization_id = organization::organization_id(client, client.books_organization_id())?;
    let mut committed = commit(client, resource.name, Some(&scope(&organization_id, resource.name)), input.timestamp.as_deref())?;
    committed["organization_id"] = Value::String(organization_id);
    Ok(committed)
}

/// The Books sweep against the model of Books' list at its least helpful reading (pages as
/// offsets into the live list, the filter inclusive or exclusive, ties on a second in id
/// order), with records created, changed, changed twice and deleted between pages, seconds
/// holding more records than a page, and the clock ticking: no version present at a sweep's
/// start, or changed before its bound, is lost.
#[cfg(test)]
mod model_tests {
    use crate::incremental::records_walk::model::{op, replay_in, Dialect, Op};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: crate::testing::proptest_cases(150), failure_persistence: None, .. ProptestConfig::default() })]

        #[test]
        fn no_books_version_is_lost_while_pages_shift(
            exclusive in any::<bool>(),
            per_page in prop_oneof![1u32..=5, 40u32..=200, Just(200u32)],
            groups in prop::collection::vec(prop_oneof![0usize..=3, 150usize..=700], 1..5),
            rounds in prop::collection::vec(prop::collection::vec(prop::collection::vec(op(), 0..15), 1..8), 2..4),
        ) {
            replay_in(Dialect::Books, exclusive, per_page, &groups, &rounds);
        }
    }

    /// 450 invoices on one second, 150 a page: after page 2 ten delivered invoices are deleted,
    /// so ten shift onto pages already read; the backward pass delivers them.
    #[test]
    fn invoices_shifted_onto_a_page_read_are_delivered() {
        let deletes: Vec<Op> = (0..10).map(|_| Op::Delete(0)).collect();
        let edits: Vec<Op> = (0..10).map(|i| Op::Modify(i * 7)).collect();
        for exclusive in [false, true] {
            replay_in(Dialect::Books, exclusive, 150, &[450, 0, 0, 0], &[vec![vec![], deletes.clone(), vec![]], vec![vec![]], vec![vec![]]]);
            // 200 a page, the size of one request: page 2 ends with the list's page 2, so page 3
            // reads the list's page 3, onto which nothing shifts from before; ten records shift
            // from it onto page 2, already read, and only the backward pass delivers them.
            replay_in(Dialect::Books, exclusive, 200, &[450], &[vec![vec![], deletes.clone(), vec![]], vec![vec![]], vec![vec![]]]);
            replay_in(Dialect::Books, exclusive, 199, &[450, 3], &[vec![edits.clone(), deletes.clone(), edits.clone()], vec![vec![]], vec![vec![]]]);
        }
    }
}

#[cfg(test)]
mod attacks;
