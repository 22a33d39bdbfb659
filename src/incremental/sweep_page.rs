//! One step of a sweep, in named phases: check what was asked (nothing sent), open the single
//! or sliced walk it belongs to, walk to the page, drop what the last sweep delivered, step the
//! deleted feed, then save the walk and answer. The order of the phases is the order of the
//! requests a step sends; the module documentation of [`super`] says why nothing is lost.

use super::keyset::{self, Page, Row};
use super::plan::{self, Plan};
use super::read_by::{self, ReadBy};
use super::state::{boundary_key, load, load_key, page_key, plan_key, save, slice_scope, sweep_key, Boundary, Cursor, Sweep};
use super::{
    boundary, complete, cursor_key, deleted, forget_plan, normalize, now_s, open_sweep, records_walk, PlanInfo, SliceInfo, SweepInfo, SweepPage, SweepRequest, COQL_MAX_ROWS, HOST_CLOCK_MARGIN_S,
    MAX_PAGES_WALKED, MAX_PER_PAGE, SWEEP_TTL_MS,
};
use crate::client::Client;
use crate::crm::coql_fields::{self, MAX_SELECT_FIELDS};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::storage::now_ms;
use crate::validate;
use crate::zoho_time::{format_iso, parse_iso};

/// One step of a sweep: see the module documentation.
pub fn list_page(client: &Client, input: &SweepRequest) -> Result<SweepPage> {
    let strategy = super::bulk_sweep::Strategy::parse(input.strategy.as_deref())?;
    let (asked, open_plan) = Asked::check(client, input)?;
    let cursor: Option<Cursor> = load(client, &cursor_key(&asked.scope))?;
    if let Some(bulk) = super::bulk_sweep::route(client, &asked, strategy, cursor.as_ref())? {
        return super::bulk_sweep::step(client, &asked, bulk, input.page);
    }
    let mut walk = Walk::open(client, &asked, open_plan, cursor.as_ref())?;
    let page = walk.page_asked(input.page)?;
    let records = walk.read_to(client, &asked, page)?;
    let records_more = records.more;
    let delivered = drop_delivered(client, &asked.scope, &walk.scope, &walk.sweep, cursor.as_ref(), page, records.rows)?;
    let feed = walk.step_deleted_feed(client, &asked.module, page, records_more)?;
    walk.sweep.fetched = walk.fetched;
    walk.sweep.served = walk.sweep.served.max(page);
    save(client, &sweep_key(&walk.scope), &walk.sweep)?;
    Ok(answer(client, asked, walk, cursor, page, delivered, feed))
}

/// What a step asked, checked; which sweep it belongs to is settled before anything is sent.
pub(super) struct Asked {
    pub(super) module: String,
    pub(super) page: Option<u32>,
    pub(super) per_page: u32,
    pub(super) slices: u32,
    pub(super) slice: u32,
    pub(super) read_by: ReadBy,
    pub(super) since: Option<String>,
    pub(super) anchor: Option<String>,
    pub(super) include_deleted: bool,
    /// Whose cursor: the module, or a sync stream's scope.
    pub(super) scope: String,
    /// Page 1, or no page: a step that may open a sweep.
    pub(super) first_step: bool,
    /// The fields read, `id` and `Modified_Time` first.
    pub(super) fields: Vec<String>,
    /// What a walk's pages depend on: a walk read otherwise is a new walk.
    pub(super) signature: String,
}

impl Asked {
    fn check(client: &Client, input: &SweepRequest) -> Result<(Asked, Option<Plan>)> {
        let module = validate::module_name(input.record_type.trim())?.to_string();
        let per_page = input.per_page.unwrap_or(200);
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ZohoError::invalid_input(format!("per-page {per_page} is out of range: 1 to 2,000")));
        }
        if input.page == Some(0) {
            return Err(ZohoError::invalid_input("page starts at 1"));
        }
        let slices = input.slices.unwrap_or(1);
        if !(1..=plan::MAX_SLICES).contains(&slices) {
            return Err(ZohoError::invalid_input(format!("slices {slices} is out of range: 1 to {}", plan::MAX_SLICES)));
        }
        let slice = input.slice.unwrap_or(1);
        if !(1..=slices).contains(&slice) {
            return Err(ZohoError::invalid_input(format!("slice {slice} is out of range: 1 to slices ({slices})")));
        }
        let read_by = read_by::read_by(&module)?;
        if read_by == ReadBy::Records && slices > 1 {
            return Err(ZohoError::invalid_input(format!("slices {slices}: {module} is read through its records list (COQL cannot read it), one walk that cannot be sliced: pass slices 1 (or none)")));
        }
        let since = input.since.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| normalize("since", s)).transpose()?;
        let anchor = input.anchor.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| normalize("anchor-date", s)).transpose()?;
        let include_deleted = input.include_deleted.unwrap_or(false);
        let named = match input.fields.as_deref() {
            Some(f) => validate::field_names(f)?,
            None => Vec::new(),
        };
        let scope = input.scope.clone().unwrap_or_else(|| module.clone());
        let first_step = matches!(input.page, None | Some(1));
        let open_plan: Option<Plan> = load::<Plan>(client, &plan_key(&scope))?.filter(Plan::is_sound);
        let replaces_stale = |p: &Plan| first_step && slice == 1 && stale(p);
        match &open_plan {
            Some(plan) if plan.slices != slices && !replaces_stale(plan) => {
                return Err(ZohoError::invalid_input(format!(
                    "slices {slices} differs from the open sweep of {scope}, planned in {} slices (plan {}): pass slices {} on every step until the sweep is committed; a sweep left unfinished is replaced when page 1 of slice 1 is asked an hour after it opened",
                    plan.slices, plan.id, plan.slices
                )));
            }
            None if slices > 1 && !first_step => {
                return Err(ZohoError::invalid_input(format!(
                    "page {} of slice {slice} continues a sliced sweep of {scope}, and none is open: ask page 1 (or no page) to open one; the sweep was committed or expired, or the host's key-value store did not keep it between steps",
                    input.page.unwrap_or(0)
                )));
            }
            _ => {}
        }
        if slices == 1 {
            open_sweep::require_for_page(client, &scope, input.page)?;
        }
        // Only what COQL reads: a sweep without fields selects the module's readable fields; a
        // named field COQL cannot read is refused here, before anything is sent. The records
        // list has no such limits: it lists every listable field, and names are Zoho's to check.
        let mut fields = match (read_by, named.is_empty()) {
            (ReadBy::Records, true) => crate::crm::fields::module_fields(client, &module)?,
            (ReadBy::Records, false) => named,
            (_, true) => coql_fields::readable_fields(client, &module)?,
            (_, false) => coql_fields::check_named(client, &module, named)?,
        };
        fields.retain(|f| f != "id" && f != "Modified_Time");
        fields.splice(0..0, ["id".to_string(), "Modified_Time".to_string()]);
        let signature = format!("{per_page}|{}{}{}", fields.join(","), if include_deleted { "|deleted" } else { "" }, if read_by == ReadBy::Records { "|records" } else { "" });
        let asked = Asked { module, page: input.page, per_page, slices, slice, read_by, since, anchor, include_deleted, scope, first_step, fields, signature };
        Ok((asked, open_plan))
    }

    /// Only slice 1's first step may replace an open plan an hour old (as page 1 restarts a sweep).
    fn replaces_stale(&self, plan: &Plan) -> bool {
        self.first_step && self.slice == 1 && stale(plan)
    }
}

fn stale(plan: &Plan) -> bool {
    now_ms().saturating_sub(plan.opened_at_ms) > SWEEP_TTL_MS
}

/// The walk a step reads: a single walk of the scope, or one slice of a sliced sweep.
struct Walk {
    /// Where the walk's keys live: the scope, or `<scope>/slice<n>`.
    scope: String,
    sweep: Sweep,
    range: plan::Range,
    slice: Option<SliceInfo>,
    /// The last page whose end key is known.
    fetched: u64,
}

impl Walk {
    fn open(client: &Client, asked: &Asked, open_plan: Option<Plan>, cursor: Option<&Cursor>) -> Result<Walk> {
        let walk = if asked.slices == 1 { Self::single(client, asked, open_plan, cursor)? } else { Self::sliced(client, asked, open_plan, cursor)? };
        Ok(Walk { fetched: walk.sweep.fetched, ..walk })
    }

    /// A single walk, as before slices existed; a stale plan it replaces is forgotten.
    fn single(client: &Client, asked: &Asked, open_plan: Option<Plan>, cursor: Option<&Cursor>) -> Result<Walk> {
        let scope = &asked.scope;
        if let Some(plan) = &open_plan {
            forget_plan(client, scope, plan)?;
        }
        let opening = Opening { signature: &asked.signature, since: asked.since.as_ref(), anchor: asked.anchor.as_ref(), first_step: asked.first_step, include_deleted: asked.include_deleted };
        let sweep = open_single(client, scope, &opening, cursor)?;
        Ok(Walk { scope: scope.clone(), sweep, range: plan::Range::default(), slice: None, fetched: 0 })
    }

    /// One slice's walk under the open plan; the first step of a sliced sweep makes the plan.
    fn sliced(client: &Client, asked: &Asked, open_plan: Option<Plan>, cursor: Option<&Cursor>) -> Result<Walk> {
        let (scope, slice) = (&asked.scope, asked.slice);
        let plan = match open_plan {
            Some(plan) if plan.signature == asked.signature && (asked.since.is_none() || plan.since == asked.since) && !asked.replaces_stale(&plan) => plan,
            Some(plan) if !asked.first_step => {
                return Err(ZohoError::invalid_input(format!(
                    "this step reads the sweep of {scope} differently from its plan {} (per-page, fields, include-deleted or since): pass the same values on every step of a sliced sweep",
                    plan.id
                )));
            }
            open => {
                // An unfinished single walk or older plan of this scope is dropped.
                if let Some(old) = &open {
                    forget_plan(client, scope, old)?;
                }
                if let Some(single) = load::<Sweep>(client, &sweep_key(scope))? {
                    super::state::forget(client, scope, &single)?;
                    client.storage.delete(&sweep_key(scope))?;
                }
                let since = asked.since.clone().or_else(|| cursor.and_then(|c| c.cursor.clone())).or_else(|| asked.anchor.clone());
                let plan = plan::make(client, &asked.module, since, asked.slices, asked.signature.clone(), asked.include_deleted)?;
                save(client, &plan_key(scope), &plan)?;
                plan
            }
        };
        let walk_scope = slice_scope(scope, slice);
        let tag = plan.tag();
        let mut sweep: Sweep = load(client, &sweep_key(&walk_scope))?.unwrap_or_default();
        if sweep.plan.as_deref() != Some(tag.as_str()) {
            if !asked.first_step {
                return Err(ZohoError::new(
                    ErrorKind::Conflict,
                    format!(
                        "page {} of slice {slice} is not part of the open sweep plan {} of {scope} (another first step replaced the plan, or this slice's page 1 was never read under it): read every slice again from page 1",
                        asked.page.unwrap_or(0),
                        plan.id
                    ),
                ));
            }
            super::state::forget(client, &walk_scope, &sweep)?;
            sweep = Sweep {
                signature: asked.signature.clone(),
                since: plan.since.clone(),
                opened_at_ms: now_ms(),
                sweep: plan.id.clone(),
                until: plan.until.clone(),
                cursor: plan.cursor.clone(),
                // The deleted feed is walked once, by slice 1 after its last records page.
                include_deleted: plan.include_deleted && slice == 1,
                plan: Some(tag),
                ..Sweep::default()
            };
        }
        let range = plan.range(slice);
        let info = SliceInfo {
            n: slice,
            of: asked.slices,
            from: range.after.as_ref().map(|k| k.time.clone()).or_else(|| plan.since.clone()),
            from_id: range.after.as_ref().map(|k| k.id.clone()),
            to: range.through.as_ref().map(|k| k.time.clone()).or_else(|| plan.until.clone()),
            to_id: range.through.as_ref().map(|k| k.id.clone()),
            plan: PlanInfo { id: plan.id.clone(), records: plan.records, balanced: plan.balanced, calls: plan.calls, credits: plan.credits },
        };
        Ok(Walk { scope: walk_scope, sweep, range, slice: Some(info), fetched: 0 })
    }

    fn page_asked(&self, asked: Option<u32>) -> Result<u64> {
        page_asked(&self.sweep, self.fetched, asked)
    }

    /// Reads `page`, walking to it when the pages before it were never read.
    fn read_to(&mut self, client: &Client, asked: &Asked, page: u64) -> Result<Page> {
        // One COQL call reads up to 500 fields; past that (a module wider than any COQL
        // SELECT), the rest is read by the records GET by id, 50 fields per call.
        let fields = &asked.fields;
        let (coql_fields, extra) = fields.split_at(fields.len().min(MAX_SELECT_FIELDS));
        let read = if self.sweep.last_page.is_some_and(|last| page > last) {
            Page::empty()
        } else if self.range.empty {
            // A slice the plan left nothing in ends on its first page, unasked.
            self.sweep.last_page = Some(self.sweep.last_page.unwrap_or(1).min(page));
            Page::empty()
        } else if asked.read_by == ReadBy::Records {
            records_walk::read(client, &asked.module, fields, &self.scope, &mut self.sweep, page, asked.per_page, &mut self.fetched)?
        } else {
            self.keyset_walk(client, asked, coql_fields, page)?
        };
        if extra.is_empty() || read.rows.is_empty() || asked.read_by != ReadBy::Coql {
            return Ok(read);
        }
        let rows = complete(client, &asked.module, extra, read.rows)?;
        Ok(Page { rows, ..read })
    }

    /// The COQL keyset walk from the first page not read to `page`.
    fn keyset_walk(&mut self, client: &Client, asked: &Asked, coql_fields: &[String], page: u64) -> Result<Page> {
        let since = self.sweep.since.clone();
        let mut n = page.min(self.fetched.saturating_add(1));
        loop {
            let mut conditions = Vec::new();
            if let Some(since) = &since {
                conditions.push(format!("Modified_Time >= '{since}'"));
            }
            if let Some(until) = &self.sweep.until {
                conditions.push(format!("Modified_Time <= '{until}'"));
            }
            conditions.extend(self.range.conditions());
            let start = if n > 1 { load_key(client, &page_key(&self.scope, &self.sweep.sweep, "start", n))? } else { None };
            if let Some(start) = &start {
                conditions.push(start.after());
            }
            // A page read before is read again over the same key range.
            let known_end = if n <= self.fetched { load_key(client, &page_key(&self.scope, &self.sweep.sweep, "start", n.saturating_add(1)))? } else { None };
            if let Some(end) = &known_end {
                conditions.push(end.up_to());
            }
            let limit = if known_end.is_some() { COQL_MAX_ROWS } else { asked.per_page as usize };
            let mut fetched_page = keyset::fetch(client, &asked.module, coql_fields, &conditions, limit)?;
            let window = keyset::Window {
                since: since.as_deref().and_then(parse_iso),
                until: self.sweep.until.as_deref().and_then(parse_iso),
                after: self.range.after.iter().chain(start.iter()).collect(),
                up_to: self.range.through.iter().chain(known_end.iter()).collect(),
            };
            window.check(&asked.module, &fetched_page.rows)?;
            if self.sweep.until.is_none() {
                self.bound_by(&fetched_page);
            }
            if known_end.is_some() {
                fetched_page.more = self.sweep.last_page != Some(n);
            } else {
                if let Some(last) = fetched_page.rows.iter().rev().find_map(|r| r.key.clone()) {
                    save(client, &page_key(&self.scope, &self.sweep.sweep, "start", n.saturating_add(1)), &last)?;
                    self.fetched = n;
                }
                if !fetched_page.more || fetched_page.rows.is_empty() {
                    fetched_page.more = false;
                    self.sweep.last_page = Some(n);
                }
            }
            if n == page {
                return Ok(fetched_page);
            }
            if !fetched_page.more {
                // The sweep ends before the asked page.
                return Ok(Page::empty());
            }
            n = n.saturating_add(1);
        }
    }

    /// The sweep's bounds, by the server's clock, from its first page. An answer without a
    /// readable Date (Zoho always dates its answers; a proxy may not) falls back to this host's
    /// clock, and the cursor then starts a margin earlier, so a server clock behind ours by
    /// less than the margin loses nothing: more duplicates, never a gap.
    fn bound_by(&mut self, first: &Page) {
        let (date, margin) = match first.date {
            Some(date) => (date, 0),
            None => (now_s(), HOST_CLOCK_MARGIN_S),
        };
        // A first page holding records later than its own Date (Zoho's servers' clocks a
        // second apart, or this host's clock behind) moves the bound to them: the next page's
        // query must reach what this page began. The cursor stays by the clock.
        let latest = first.rows.iter().filter_map(|r| r.time).max();
        self.sweep.until = Some(format_iso(latest.map_or(date, |latest| latest.max(date))));
        self.sweep.cursor = Some(format_iso(date.saturating_sub(first.took_s).saturating_sub(1).saturating_sub(margin)));
    }

    /// After the last records page, the deleted feed, a bounded part per step.
    fn step_deleted_feed(&mut self, client: &Client, module: &str, page: u64, records_more: bool) -> Result<Feed> {
        if !self.sweep.include_deleted || records_more {
            return Ok((records_more, None));
        }
        let last = self.sweep.last_page.unwrap_or(page);
        if self.sweep.deleted_last_page.is_some_and(|end| page > end) {
            return Ok((records_more, Some(Vec::new())));
        }
        let step = deleted::step(client, module, self.sweep.since.as_deref(), page.saturating_sub(last))?;
        if step.ended {
            self.sweep.deleted_last_page = Some(self.sweep.deleted_last_page.map_or(page, |end| end.max(page)));
        }
        let more = self.sweep.deleted_last_page.is_none_or(|end| end > page);
        Ok((more, Some(step.ids)))
    }
}

/// Remembers what this page delivers inside the sweep's boundary window (the duplicates
/// dropped below included: the consumer holds them, so the next sweep may drop them too), then
/// drops the records the previous sweep delivered in its boundary window with the same
/// content; only a page reaching back into that window reads the remembered digests.
pub(crate) fn drop_delivered(client: &Client, scope: &str, walk_scope: &str, sweep: &Sweep, cursor: Option<&Cursor>, page: u64, mut rows: Vec<Row>) -> Result<(Vec<Row>, usize)> {
    let window_start = sweep.cursor.as_deref().and_then(parse_iso);
    let mut delivered = Boundary::new();
    for row in &rows {
        if let (Some(t), Some(w), Some(id)) = (row.time, window_start, row.id.as_deref()) {
            if t >= w {
                boundary::remember(&mut delivered, id, row.text.get());
            }
        }
    }
    if !delivered.is_empty() {
        save(client, &page_key(walk_scope, &sweep.sweep, "boundary", page), &delivered)?;
    }
    let previous_until = cursor.and_then(|c| c.until.as_deref()).and_then(parse_iso);
    let before = rows.len();
    if rows.iter().any(|r| matches!((r.time, previous_until), (Some(t), Some(u)) if t <= u)) {
        let remembered: Boundary = load(client, &boundary_key(scope))?.unwrap_or_default();
        rows.retain(|r| !r.id.as_deref().is_some_and(|id| boundary::is_duplicate(&remembered, id, r.text.get())));
    }
    let dropped = before.saturating_sub(rows.len());
    Ok((rows, dropped))
}

/// The step's answer: the page's records as Zoho's text, where the sweep stands, and the
/// deleted feed's part with whether it may lack deletions (Zoho's clock as the sweep's bound
/// read it, the host's when unknown, says how far back the feed still reaches).
fn answer(client: &Client, asked: Asked, walk: Walk, cursor: Option<Cursor>, page: u64, (rows, dropped): (Vec<Row>, usize), (more, deleted): Feed) -> SweepPage {
    let gap = deleted.as_ref().map(|_| {
        let now = walk.sweep.until.as_deref().and_then(parse_iso).unwrap_or_else(now_s);
        deleted::retention_gap(walk.sweep.since.as_deref(), now)
    });
    let stored = cursor.as_ref().and_then(|c| c.cursor.as_deref());
    let warnings = super::stale_cursor::warnings(&asked.scope, asked.since.is_some(), stored, walk.sweep.since.as_deref(), walk.sweep.until.as_deref());
    SweepPage {
        record_type: asked.module,
        records: rows.into_iter().map(|r| r.text).collect(),
        page,
        per_page: asked.per_page,
        more_records: more,
        next_page: if more { page.checked_add(1) } else { None },
        cursor: cursor.and_then(|c| c.cursor),
        sweep: SweepInfo { id: walk.sweep.sweep, since: walk.sweep.since, until: walk.sweep.until, commits_cursor: walk.sweep.cursor, duplicates_dropped: dropped },
        deleted,
        deletions_may_be_missing: gap.as_ref().map(Option::is_some),
        deletions_missing_why: gap.flatten(),
        slice: walk.slice,
        usage: client.usage(),
        warnings,
        stream: None,
        incremental: None,
        organization_id: None,
        strategy: None,
        retry_after_ms: None,
        bulk: None,
    }
}

/// Whether more follows (records or feed pages), and the ids this step read from the deleted
/// feed (None: the feed is not walked on this page).
type Feed = (bool, Option<Vec<Box<serde_json::value::RawValue>>>);

/// How a single walk is read: a walk read otherwise (another signature or since, or an hour
/// old at its first step) is a new walk.
pub(crate) struct Opening<'a> {
    pub signature: &'a str,
    pub since: Option<&'a String>,
    /// Where a walk starts with no since and no committed cursor.
    pub anchor: Option<&'a String>,
    pub first_step: bool,
    pub include_deleted: bool,
}

/// The single walk of `scope`: the open one when it is read the same way, else a new one from
/// `since`, the committed cursor or the anchor (its old page keys forgotten).
pub(crate) fn open_single(client: &Client, scope: &str, opening: &Opening, cursor: Option<&Cursor>) -> Result<Sweep> {
    let mut sweep: Sweep = load(client, &sweep_key(scope))?.unwrap_or_default();
    let fresh = sweep.sweep.is_empty()
        || sweep.signature != opening.signature
        || (opening.since.is_some() && sweep.since.as_ref() != opening.since)
        || (opening.first_step && now_ms().saturating_sub(sweep.opened_at_ms) > SWEEP_TTL_MS);
    if fresh {
        let since = opening.since.cloned().or_else(|| cursor.and_then(|c| c.cursor.clone())).or_else(|| opening.anchor.cloned());
        super::state::forget(client, scope, &sweep)?;
        sweep = Sweep { signature: opening.signature.to_string(), since, opened_at_ms: now_ms(), sweep: format!("{:x}", now_ms()), include_deleted: opening.include_deleted, ..Sweep::default() };
    }
    Ok(sweep)
}

/// The page a step reads: the one asked, else the next one; a page far ahead of the pages
/// read is refused (walking to it would cost a request per page).
pub(crate) fn page_asked(sweep: &Sweep, fetched: u64, asked: Option<u32>) -> Result<u64> {
    let page: u64 = match asked {
        Some(p) => u64::from(p),
        None if sweep.last_page.is_some() => sweep.served.saturating_add(1),
        None => fetched.saturating_add(1),
    };
    if sweep.last_page.is_none() && page.saturating_sub(fetched.saturating_add(1)) > MAX_PAGES_WALKED {
        return Err(ZohoError::invalid_input(format!(
            "page {page} is {} pages past the last page this sweep has read ({fetched}); one step walks at most {MAX_PAGES_WALKED}: read the pages in order from page {}",
            page.saturating_sub(fetched),
            fetched.saturating_add(1)
        )));
    }
    Ok(page)
}
