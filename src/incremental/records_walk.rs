//! The records walk: the sweep of a module COQL cannot read ([`super::read_by`]), through the
//! records list `GET /crm/v8/{module}?fields=...&sort_by=Modified_Time&sort_order=asc` with
//! the `If-Modified-Since` header (v8 "Get Records": `sort_by` id, Created_Time or
//! Modified_Time; `If-Modified-Since` lists the records modified since the time, ISO 8601;
//! `page` reaches the first 2,000 records and `page_token` the rest; `per_page` at most 200;
//! record.json and notes.json). It keeps the COQL walk's guarantee (the module doc of
//! [`super`]) with what that list can do:
//!
//! - **A keyset on the second.** The walk's position is a Modified_Time second and the ids
//!   delivered at it ([`Position`]). Each request is page 1 of the list modified since that
//!   second, so no offset ever carries from one request to the next: a record changed or
//!   deleted between two steps shifts nothing the walk relies on. Whatever page 1 holds past
//!   the position's second, and every record before the first of those, is delivered.
//! - **If-Modified-Since, under both readings.** Zoho's pages say "modified since" (inclusive)
//!   and "modified after" (exclusive), and are silent on the second itself. The walk asks from
//!   the second before the one it must include, so either reading lists it; a record at the
//!   header's own second proves the inclusive reading, and from then on the walk asks from the
//!   second itself (a list starting a second early costs places on page 1, never a record).
//! - **Many records on one second.** When page 1 holds nothing past the position's second and
//!   Zoho has more, the second is "crowded": the walk reads that one list deeper (`page` 2 to
//!   10, then `page_token` from each answer's `next_page_token`) until a record past the second
//!   or the list's end, then reads the same pages again from the last but one down to page 1.
//!   Zoho does not say whether a page token is a snapshot, a keyset or an offset into the live
//!   list. As a snapshot or a keyset the forward pass is exact. As a live offset (the reading
//!   `page` has), a record of the second can only move to an earlier place while the walk runs
//!   (a change moves a record to the list's end, Modified_Time being now; a deletion removes
//!   one): so one it missed sits, at the backward pass, at or before a page not yet read again,
//!   and is delivered then. (Records of a second at or after the sweep's cursor can also gain
//!   company; the next sweep reads that second again anyway.) Zoho must keep one order among
//!   records of one second from one request to the next, as any paging of it needs.
//! - **Bounded by the server's Date, cursor by the first answer**, as the COQL walk: records past
//!   `until` end the walk; the cursor is that Date less the request's duration and a second.
//! - **A retried page gets the same records.** Each page's start position is kept in storage
//!   (`start/<n>`, as the COQL walk's keys); a page read again walks from its start to the next
//!   page's and delivers the records between the two positions that are still there.
//! - A step sends at most [`MAX_REQUESTS_PER_STEP`] requests; a crowded second's walk goes on
//!   in the next step from where its position says (an empty page may say `more_records`).
//! - **A step ends on a short page rather than send a request it cannot use.** Each request
//!   relists the records delivered at the position's second, so a full answer holds fewer than
//!   200 new ones; when fewer places are left on the page than a request holds, the step ends
//!   (`more_records` true) and the next reads on from the same position: a page of 200, one call.
//! - 304 (Zoho's SDK samples read it as "not modified") and 204 are an empty list.
//!
//! The walk reads any list ordered by modification time through a [`Listing`]: CRM's records
//! list ([`records_list`]) and Zoho Books' lists (`crate::books::sweep`), whose filter is a
//! `last_modified_time` query parameter and whose pages are numbered without a reach.

mod crowded;
mod records_list;

use super::keyset::{Page, Row};
use super::state::{load, page_key, save, Sweep};
use super::{complete, now_s, HOST_CLOCK_MARGIN_S, MAX_PER_PAGE};
use crate::client::{ApiCall, Client};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Response;
use crate::zoho_time::{format_iso, parse_http_date, parse_iso};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Instant;

/// Records per request: the records list's `per_page` maximum (Books' too).
pub const PER_REQUEST: u32 = 200;
/// Field names per request (the records list's limit); the rest are read by id afterwards.
const FIELDS_PER_REQUEST: usize = 50;
/// Requests one step sends at most: a full 2,000-record page needs 10, a crowded second's
/// walk of its 2,000 `page` places 19.
pub const MAX_REQUESTS_PER_STEP: usize = 30;
/// Pages one crowded second's walk reads forward at most (page tokens reach 100,000 records).
const MAX_CROWDED_PAGES: usize = 500;
/// Backward passes over a crowded second read again when one was unsteady, before the walk
/// gives up with an error rather than risk a silent gap.
const MAX_UNSTEADY_ROUNDS: u32 = 3;
/// A page token longer than this, or not plain ASCII, is no token Zoho gave.
const MAX_TOKEN_LEN: usize = 1_000;
/// 9999-12-31T23:59:59Z: the last second a stored position may name.
const MAX_SECOND: i64 = 253_402_300_799;

/// Where one request of a crowded second's list reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Address {
    Page(u32),
    Token(String),
}

/// A crowded second's walk in progress: one list (one If-Modified-Since) read page by page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Crowded {
    /// The If-Modified-Since second every page of this list carries.
    #[serde(default)]
    header: Option<i64>,
    /// The pages read forward, in order.
    #[serde(default)]
    read: Vec<Address>,
    /// The last forward answer's `next_page_token`.
    #[serde(default)]
    next_token: Option<String>,
    /// The backward pass: `Some(k)` reads `read[k-1]` next; `None` while reading forward.
    #[serde(default)]
    back: Option<usize>,
    /// The check pass (the last forward page, then every page backward): the second's ids it
    /// showed and the places they filled. A place shown twice means the list's order moved
    /// between its requests, so a record may have been shown nowhere.
    #[serde(default)]
    pass_ids: BTreeSet<String>,
    #[serde(default)]
    pass_places: u64,
    /// Backward passes read again after an unsteady one.
    #[serde(default)]
    rounds: u32,
}

/// How far the walk has delivered: every record before its second, and at its second the ids
/// in `seen` (or all, when `complete`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// The Modified_Time second (Unix seconds); `None`: nothing is behind the walk yet.
    #[serde(default)]
    at: Option<i64>,
    /// Every record of `at` is delivered (a crowded second walked both ways).
    #[serde(default)]
    complete: bool,
    #[serde(default)]
    seen: BTreeSet<String>,
    /// Zoho's If-Modified-Since was seen to list its own second.
    #[serde(default)]
    inclusive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crowded: Option<Crowded>,
}

impl Position {
    /// The walk's start: everything modified at or after `since` is ahead of it.
    fn start(since: Option<&str>) -> Position {
        Position { at: since.and_then(parse_iso), ..Position::default() }
    }

    /// Is the record (Modified_Time second `t`, `id`) behind this position (delivered)?
    fn behind(&self, t: i64, id: &str) -> bool {
        self.at.is_some_and(|at| t < at || (t == at && (self.complete || self.seen.contains(id))))
    }

    fn advance(&mut self, t: i64, id: &str) {
        if self.at != Some(t) {
            self.at = Some(t);
            self.seen.clear();
            self.complete = false;
        }
        self.seen.insert(id.to_string());
    }

    /// The If-Modified-Since second that lists every record not behind the position under
    /// either reading of the header (see the module doc).
    fn header(&self) -> Option<i64> {
        let at = self.at?;
        Some(match (self.complete, self.inclusive) {
            (false, false) => at.saturating_sub(1),
            (false, true) | (true, false) => at,
            (true, true) => at.saturating_add(1),
        })
    }

    /// A stored position is used only when what it would send is what Zoho could have given
    /// (pages 1 to `last_page` of a crowded second's list).
    fn is_sound(&self, last_page: u32) -> bool {
        let token_ok = |t: &String| t.len() <= MAX_TOKEN_LEN && !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic());
        // A second from 1970 to 9999 (it goes into If-Modified-Since), and no more ids at it
        // than the list reaches on one second.
        let at_ok = self.at.is_none_or(|t| (0..=MAX_SECOND).contains(&t));
        let seen_ok = self.seen.len() <= MAX_CROWDED_PAGES * PER_REQUEST as usize;
        at_ok
            && seen_ok
            && self.crowded.as_ref().is_none_or(|c| {
                self.at.is_some()
                    && c.read.len() <= MAX_CROWDED_PAGES
                    && c.pass_ids.len() <= MAX_CROWDED_PAGES * PER_REQUEST as usize
                    && c.rounds <= MAX_UNSTEADY_ROUNDS
                    // A pass read again starts at the last page (`back` = pages read).
                    && c.back.is_none_or(|k| k < c.read.len() || (k == c.read.len() && c.rounds > 0))
                    && c.next_token.iter().all(token_ok)
                    && c.read.iter().all(|a| match a {
                        Address::Page(p) => (1..=last_page).contains(p),
                        Address::Token(t) => token_ok(t),
                    })
            })
    }
}

/// A list the walk reads: ordered by modification time, ascending, filtered from a second.
pub trait Listing {
    /// What the list is called in errors (the module or resource).
    fn name(&self) -> &str;
    /// One request: page `address` of the list modified since `header` (Unix seconds), at
    /// most [`PER_REQUEST`] records.
    fn request(&self, address: &Address, header: Option<i64>) -> ApiCall;
    /// The answer's records, each with its modification second and id, and what follows.
    fn answer(&self, response: &Response) -> Result<Answer>;
    /// The last page number one list reaches (past it, page tokens); pages a crowded second's
    /// walk reads forward are bounded apart from this.
    fn last_page(&self) -> u32;
}

/// One answer of the list, its records checked for the two members the walk orders by.
pub struct Answer {
    pub rows: Vec<(i64, String, Row)>,
    pub more: bool,
    pub next_token: Option<String>,
}

impl Answer {
    pub fn empty() -> Answer {
        Answer { rows: Vec::new(), more: false, next_token: None }
    }
}

/// The walk over one list within a step.
struct Walker<'a, 'c> {
    client: &'a Client<'c>,
    listing: &'a dyn Listing,
    until: Option<i64>,
    requests: usize,
}

/// What a walk from a position delivered, where it stopped, and whether more follows.
struct Walked {
    rows: Vec<Row>,
    end: Position,
    more: bool,
}

impl Walker<'_, '_> {
    /// One request of the list modified since `header`, at `address`. The first answer of the
    /// sweep fixes its bound and cursor, by Zoho's clock (as the COQL walk does).
    fn fetch(&mut self, sweep: &mut Sweep, address: &Address, header: Option<i64>) -> Result<Answer> {
        let call = self.listing.request(address, header);
        let started = Instant::now();
        let response = self.client.send(call)?;
        self.requests = self.requests.saturating_add(1);
        if sweep.until.is_none() {
            let took_s = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX).saturating_add(1);
            let (date, margin) = match response.header("date").and_then(parse_http_date) {
                Some(date) => (date, 0),
                None => (now_s(), HOST_CLOCK_MARGIN_S),
            };
            sweep.until = Some(format_iso(date));
            sweep.cursor = Some(format_iso(date.saturating_sub(took_s).saturating_sub(1).saturating_sub(margin)));
            self.until = Some(date);
        }
        let answer = self.listing.answer(&response)?;
        // Every record must lie at or after the second asked for (whichever reading of the
        // filter holds, none lies before it) and in ascending order: a list that ignored its
        // filter or sort would make the walk skip records, so it is an error, never an end.
        let mut previous = header.unwrap_or(i64::MIN);
        for (t, id, _) in &answer.rows {
            if *t < previous {
                return Err(ZohoError::new(
                    ErrorKind::Zoho,
                    format!(
                        "Zoho's {} list broke the sweep's order: record {id} (modified at {}) comes before {} though the list was asked from that second in ascending order of modification; nothing was committed: read the sweep again from page 1",
                        self.listing.name(),
                        format_iso(*t),
                        format_iso(previous)
                    ),
                )
                .with_status(response.status));
            }
            previous = *t;
        }
        Ok(Answer { more: answer.more && !answer.rows.is_empty(), ..answer })
    }

    /// Walks from `from`, delivering at most `limit` records; with `stop` (a page read again)
    /// the walk ends at the first record past `stop`'s second (the caller keeps the records
    /// behind `stop`).
    fn walk(&mut self, sweep: &mut Sweep, from: Position, limit: usize, stop: Option<&Position>) -> Result<Walked> {
        let mut pos = from;
        let mut rows = Vec::new();
        let stop_at = match stop {
            Some(stop) => match stop.at {
                Some(at) => Some(at),
                None => return Ok(Walked { rows, end: pos, more: true }),
            },
            None => None,
        };
        loop {
            if rows.len() >= limit || self.requests >= MAX_REQUESTS_PER_STEP {
                return Ok(Walked { rows, end: pos, more: true });
            }
            let (address, header) = match &pos.crowded {
                None => (Address::Page(1), pos.header()),
                Some(c) => (next_address(c, self.listing)?, c.header),
            };
            let answer = self.fetch(sweep, &address, header)?;
            let learned = !pos.inclusive && header.is_some_and(|h| answer.rows.iter().any(|(t, _, _)| *t == h));
            pos.inclusive |= learned;
            let Some(mut crowded) = pos.crowded.take() else {
                // Page 1 of the list from the position's second.
                let before = pos.at;
                let mut passed = false;
                for (t, id, row) in answer.rows {
                    passed |= before.is_none_or(|b| t > b);
                    if self.until.is_some_and(|u| t > u) {
                        // The sweep's bound: what follows is the next sweep's.
                        return Ok(Walked { rows, end: pos, more: false });
                    }
                    if stop_at.is_some_and(|s| t > s) {
                        return Ok(Walked { rows, end: pos, more: true });
                    }
                    if pos.behind(t, &id) {
                        continue;
                    }
                    if rows.len() >= limit {
                        return Ok(Walked { rows, end: pos, more: true });
                    }
                    pos.advance(t, &id);
                    rows.push(row);
                }
                if !answer.more {
                    return Ok(Walked { rows, end: pos, more: false });
                }
                if passed && stop.is_none() && limit.saturating_sub(rows.len()) < PER_REQUEST as usize {
                    // Another request would fill the few places left and discard the rest of
                    // its answer: the step ends short, the next asks from this position as this
                    // one would have. A page read again (`stop`) always walks to its stored end.
                    return Ok(Walked { rows, end: pos, more: true });
                }
                if passed || learned {
                    // Page 1 again, from the new position (or with the header now known).
                    continue;
                }
                // Nothing past the second on page 1, and more follows: a crowded second.
                pos.crowded = Some(Crowded { header, read: vec![address], next_token: answer.next_token, back: None, ..Crowded::default() });
                continue;
            };
            let Some(second) = pos.at else {
                return Err(ZohoError::new(ErrorKind::Internal, "a crowded walk without its second"));
            };
            if self.until.is_some_and(|u| second > u) {
                return Ok(Walked { rows, end: pos, more: false });
            }
            let mut past = false;
            let mut shown = Vec::new();
            for (t, id, row) in answer.rows {
                if t != second {
                    past |= t > second;
                    continue;
                }
                shown.push(id.clone());
                if pos.behind(t, &id) {
                    continue;
                }
                if rows.len() >= limit {
                    // The same page is read again by the next step; what it delivered is seen.
                    pos.crowded = Some(crowded);
                    return Ok(Walked { rows, end: pos, more: true });
                }
                pos.advance(t, &id);
                rows.push(row);
            }
            crowded.turn(address, answer.next_token, past || !answer.more, shown, self.listing.name(), second)?;
            if crowded.back == Some(0) {
                pos.complete = true;
            } else {
                pos.crowded = Some(crowded);
            }
        }
    }
}

/// The next page of a crowded second's list: forward by `page` while it reaches, then by the
/// token the last answer gave; backward over the pages read.
fn next_address(crowded: &Crowded, listing: &dyn Listing) -> Result<Address> {
    if let Some(k) = crowded.back {
        return crowded.read.get(k.saturating_sub(1)).cloned().ok_or_else(|| ZohoError::new(ErrorKind::Internal, "a crowded walk past its pages"));
    }
    match crowded.read.last() {
        None => Ok(Address::Page(1)),
        Some(Address::Page(p)) if *p < listing.last_page() => Ok(Address::Page(p.saturating_add(1))),
        Some(_) => match &crowded.next_token {
            Some(token) if token.len() <= MAX_TOKEN_LEN && token.bytes().all(|b| b.is_ascii_graphic()) && !token.is_empty() => Ok(Address::Token(token.clone())),
            _ => Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho's {} list says more records follow past the pages it reaches but gave no usable next_page_token", listing.name()))),
        },
    }
}

/// Page `page` of the sweep of `module` by the records list, fields past the 50 a request
/// takes merged in by id. `fields` starts with id and Modified_Time.
#[allow(clippy::too_many_arguments)]
pub fn read(client: &Client, module: &str, fields: &[String], walk_scope: &str, sweep: &mut Sweep, page: u64, per_page: u32, fetched: &mut u64) -> Result<Page> {
    let split = fields.len().min(FIELDS_PER_REQUEST);
    let (listed, extra) = fields.split_at(split);
    let listing = records_list::RecordsList { module, fields: listed.join(",") };
    let read = read_list(client, &listing, walk_scope, sweep, page, per_page, fetched)?;
    let rows = if extra.is_empty() || read.rows.is_empty() { read.rows } else { complete(client, module, extra, read.rows)? };
    Ok(Page { rows, ..read })
}

/// Page `page` of the sweep of `listing`: walks to it from the last page read (as the COQL
/// walk does) and reads a page read before again between its stored positions.
pub fn read_list(client: &Client, listing: &dyn Listing, walk_scope: &str, sweep: &mut Sweep, page: u64, per_page: u32, fetched: &mut u64) -> Result<Page> {
    let mut walker = Walker { client, listing, until: sweep.until.as_deref().and_then(parse_iso), requests: 0 };
    let sweep_id = sweep.sweep.clone();
    let last_page = listing.last_page();
    let position = |n: u64| -> Result<Option<Position>> { Ok(load::<Position>(client, &page_key(walk_scope, &sweep_id, "start", n))?.filter(|p| p.is_sound(last_page))) };
    let mut n = page.min(fetched.saturating_add(1)).max(1);
    loop {
        let start = if n > 1 { position(n)? } else { None }.unwrap_or_else(|| Position::start(sweep.since.as_deref()));
        let known_end = if n <= *fetched { position(n.saturating_add(1))? } else { None };
        let walked = match &known_end {
            Some(end) => {
                // The records between the page's two positions that are still there.
                let mut walked = walker.walk(sweep, start, MAX_PER_PAGE as usize, Some(end))?;
                walked.rows.retain(|r| matches!((r.time, r.id.as_deref()), (Some(t), Some(id)) if end.behind(t, id)));
                walked.more = sweep.last_page != Some(n);
                walked
            }
            None => {
                let walked = walker.walk(sweep, start, per_page as usize, None)?;
                save(client, &page_key(walk_scope, &sweep_id, "start", n.saturating_add(1)), &walked.end)?;
                *fetched = n;
                if !walked.more {
                    sweep.last_page = Some(n);
                }
                walked
            }
        };
        if n == page {
            return Ok(Page { rows: walked.rows, more: walked.more, date: None, took_s: 0 });
        }
        if !walked.more {
            // The sweep ends before the asked page.
            return Ok(Page::empty());
        }
        n = n.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: i64, seen: &[&str]) -> Position {
        Position { at: Some(t), seen: seen.iter().map(|s| s.to_string()).collect(), ..Position::default() }
    }

    #[test]
    fn the_header_lists_the_position_second_under_either_reading() {
        let mut p = at(100, &["1"]);
        assert_eq!(p.header(), Some(99), "unknown reading: a second early");
        p.inclusive = true;
        assert_eq!(p.header(), Some(100));
        p.complete = true;
        assert_eq!(p.header(), Some(101), "inclusive and the second done: the next one");
        p.inclusive = false;
        assert_eq!(p.header(), Some(100), "exclusive reading of the done second: after it");
        assert_eq!(Position::start(None).header(), None);
        assert_eq!(Position::start(Some("2024-01-01T00:00:10+00:00")).header(), Some(1_704_067_209));
    }

    #[test]
    fn behind_is_the_delivered_range() {
        let p = at(100, &["7"]);
        assert!(p.behind(99, "1") && p.behind(100, "7"));
        assert!(!p.behind(100, "8") && !p.behind(101, "7"));
        assert!(!Position::default().behind(i64::MIN, "1"));
        let done = Position { complete: true, ..at(100, &[]) };
        assert!(done.behind(100, "anything") && !done.behind(101, "x"));
    }

    #[test]
    fn a_stored_position_must_be_one_zoho_could_have_given() {
        let crowded = |read: Vec<Address>, back: Option<usize>| Position { crowded: Some(Crowded { header: Some(1), read, next_token: None, back, ..Crowded::default() }), ..at(5, &[]) };
        assert!(crowded(vec![Address::Page(1), Address::Page(10)], Some(1)).is_sound(10));
        assert!(!crowded(vec![Address::Page(11)], None).is_sound(10), "page 11 of 200 is past the page reach");
        assert!(crowded(vec![Address::Page(11)], None).is_sound(500), "a list without a reach");
        assert!(!crowded(vec![Address::Token("a b".into())], None).is_sound(10));
        assert!(!crowded(vec![Address::Page(1)], Some(1)).is_sound(10), "back past the pages read");
        assert!(!Position { at: None, ..crowded(vec![], None) }.is_sound(10));
        assert!(!at(i64::MAX, &[]).is_sound(10) && !at(-1, &[]).is_sound(10), "a second outside 1970 to 9999");
        assert!(at(MAX_SECOND, &["1"]).is_sound(10));
    }

    #[test]
    fn forward_by_page_then_by_token_and_back_over_the_same_pages() {
        let notes = records_list::RecordsList { module: "Notes", fields: String::new() };
        let mut c = Crowded { header: Some(1), read: vec![Address::Page(1)], next_token: Some("t11".into()), back: None, ..Crowded::default() };
        assert_eq!(next_address(&c, &notes).unwrap(), Address::Page(2));
        c.read = (1..=10).map(Address::Page).collect();
        assert_eq!(next_address(&c, &notes).unwrap(), Address::Token("t11".into()));
        c.back = Some(10);
        assert_eq!(next_address(&c, &notes).unwrap(), Address::Page(10));
        c.back = Some(1);
        assert_eq!(next_address(&c, &notes).unwrap(), Address::Page(1));
        c.back = None;
        c.next_token = None;
        assert_eq!(next_address(&c, &notes).unwrap_err().kind, ErrorKind::Zoho);
    }
}

#[cfg(test)]
pub(crate) mod model;
