//! The records walk against a model of Zoho's records list at its least helpful reading: pages
//! and page tokens are offsets into the live list, If-Modified-Since is inclusive or exclusive,
//! ties on a second are ordered by id, records change and vanish between steps. Sweeps run over
//! hundreds of records on a few seconds while a user changes them, and no version is lost: the
//! property the end-to-end test states, here over thousands of cases natively.
//!
//! The same model speaks Zoho Books' list (`Dialect::Books`): pages numbered without a reach,
//! the `last_modified_time` filter (at or after, or after, under the two readings), times with
//! an offset without a colon, `page_context.has_more_page`; the Books sweep is held to the
//! same ledger.

use crate::client::Client;
use crate::connection::Connection;
use crate::error::Result;
use crate::http::{Request, Response, Transport};
use crate::incremental::{commit, list_modified_records, SweepRequest};
use crate::options::CallOptions;
use crate::storage::memory::Memory;
use crate::wit::books::{ListModifiedRecordsByPageInput as BooksListInput, UpdateLastSuccessfulRunDateInput as BooksCommitInput};
use crate::zoho_time::{format_iso, parse_iso};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// Which list the model answers as.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Dialect {
    /// CRM's records list of Notes (If-Modified-Since, page then page_token).
    Crm,
    /// Zoho Books' invoices list (last_modified_time, numbered pages).
    Books,
}

/// Zoho's records list of one module, as a model.
struct Zoho {
    dialect: Dialect,
    /// id → (Modified_Time second, version)
    records: RefCell<BTreeMap<u64, (i64, u64)>>,
    now: Cell<i64>,
    exclusive: bool,
    next_id: Cell<u64>,
}

fn http_date(at: i64) -> String {
    // "2024-01-02T03:04:05+00:00" → "Tue, 02 Jan 2024 03:04:05 GMT" (the weekday is not read).
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let iso = format_iso(at);
    let month = MONTHS[iso[5..7].parse::<usize>().unwrap_or(1) - 1];
    format!("Xxx, {} {month} {} {} GMT", &iso[8..10], &iso[0..4], &iso[11..19])
}

/// Books writes times in the organization's zone, the offset without a colon.
fn books_time(at: i64) -> String {
    let local = format_iso(at - 7 * 3600);
    format!("{}-0700", &local[..19])
}

impl Zoho {
    /// The Books invoices list: `last_modified_time` filters, pages are offsets into the live list.
    fn books(&self, request: &Request) -> Result<Response> {
        let query = request.url.split_once('?').map_or("", |(_, q)| q);
        let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        assert!(request.url.starts_with("https://www.zohoapis.com/books/v3/invoices?"), "{}", request.url);
        assert_eq!(params.get("organization_id").map(String::as_str), Some("10234695"));
        assert_eq!(params.get("sort_column").map(String::as_str), Some("last_modified_time"));
        assert_eq!(params.get("sort_order").map(String::as_str), Some("A"));
        let per_page: usize = params["per_page"].parse().unwrap();
        assert!(per_page <= 200);
        let page: usize = params["page"].parse().unwrap();
        assert!(page >= 1);
        let since = params.get("last_modified_time").map(|v| parse_iso(v).unwrap());
        let mut list: Vec<(i64, u64, u64)> = self.records.borrow().iter().map(|(id, (t, v))| (*t, *id, *v)).filter(|(t, _, _)| since.is_none_or(|s| *t > s || (*t == s && !self.exclusive))).collect();
        list.sort();
        let offset = (page - 1) * per_page;
        let rows: Vec<Value> =
            list.iter().skip(offset).take(per_page).map(|(t, id, v)| json!({ "invoice_id": id.to_string(), "last_modified_time": books_time(*t), "notes": format!("v{v}") })).collect();
        let more = offset + per_page < list.len();
        let body = json!({ "code": 0, "message": "success", "invoices": rows, "page_context": { "page": page, "per_page": per_page, "has_more_page": more } });
        Ok(Response { status: 200, headers: vec![("date".to_string(), http_date(self.now.get()))], body: body.to_string().into_bytes() })
    }
}

impl Transport for Zoho {
    fn send(&self, request: &Request) -> Result<Response> {
        if self.dialect == Dialect::Books {
            return self.books(request);
        }
        let query = request.url.split_once('?').map_or("", |(_, q)| q);
        let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        assert_eq!(params.get("sort_by").map(String::as_str), Some("Modified_Time"));
        assert_eq!(params.get("sort_order").map(String::as_str), Some("asc"));
        let per_page: usize = params["per_page"].parse().unwrap();
        assert!(per_page <= 200);
        let since = request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("if-modified-since")).map(|(_, v)| parse_iso(v).unwrap());
        let mut list: Vec<(i64, u64, u64)> = self.records.borrow().iter().map(|(id, (t, v))| (*t, *id, *v)).filter(|(t, _, _)| since.is_none_or(|s| *t > s || (*t == s && !self.exclusive))).collect();
        list.sort();
        let date = vec![("date".to_string(), http_date(self.now.get()))];
        if list.is_empty() && since.is_some() {
            return Ok(Response { status: 304, headers: date, body: Vec::new() });
        }
        let offset = match (params.get("page"), params.get("page_token")) {
            (Some(page), None) => {
                let page: usize = page.parse().unwrap();
                assert!(page * per_page <= 2_000, "past page's reach");
                (page - 1) * per_page
            }
            (None, Some(token)) => token.strip_prefix('t').unwrap().parse().unwrap(),
            other => panic!("page or page_token: {other:?}"),
        };
        let page: Vec<Value> = list.iter().skip(offset).take(per_page).map(|(t, id, v)| json!({ "id": id.to_string(), "Modified_Time": format_iso(*t), "Note_Content": format!("v{v}") })).collect();
        if page.is_empty() {
            return Ok(Response { status: 204, headers: date, body: Vec::new() });
        }
        let more = offset + per_page < list.len();
        let body = json!({ "data": page, "info": { "more_records": more, "next_page_token": if more { Some(format!("t{}", offset + per_page)) } else { None } } });
        Ok(Response { status: 200, headers: date, body: body.to_string().into_bytes() })
    }

    fn sleep(&self, _: Duration) {}
}

#[derive(Debug, Clone)]
pub enum Op {
    Modify(usize),
    ModifyTwice(usize),
    Delete(usize),
    Create,
    Tick,
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0usize..10_000).prop_map(Op::Modify),
        2 => (0usize..10_000).prop_map(Op::ModifyTwice),
        2 => (0usize..10_000).prop_map(Op::Delete),
        // The oldest records: ahead of a crowded second's pages, they shift them back.
        3 => (0usize..40).prop_map(Op::Delete),
        2 => Just(Op::Create),
        1 => Just(Op::Tick),
    ]
}

/// The no-loss ledger (as `component-tests/tests/all/support/users.rs`).
#[derive(Default)]
struct Ledger {
    next_version: u64,
    delivered: HashMap<u64, u64>,
    starts: Vec<BTreeMap<u64, u64>>,
    deleted: HashSet<u64>,
    pushed_past: Vec<HashSet<u64>>,
}

impl Zoho {
    fn versions(&self) -> BTreeMap<u64, u64> {
        self.records.borrow().iter().map(|(id, (_, v))| (*id, *v)).collect()
    }

    fn modify(&self, ledger: &mut Ledger, id: u64) {
        ledger.next_version += 1;
        self.records.borrow_mut().insert(id, (self.now.get(), ledger.next_version));
    }

    fn apply(&self, ledger: &mut Ledger, op: &Op, until: i64) {
        let ids: Vec<u64> = self.records.borrow().keys().copied().collect();
        let pick = |i: usize| ids.get(i % ids.len().max(1)).copied();
        let pushed = |ledger: &mut Ledger, id: u64, zoho: &Zoho| {
            if zoho.now.get() > until {
                ledger.pushed_past.last_mut().unwrap().insert(id);
            }
        };
        match op {
            Op::Modify(i) => {
                if let Some(id) = pick(*i) {
                    self.modify(ledger, id);
                    pushed(ledger, id, self);
                }
            }
            Op::ModifyTwice(i) => {
                if let Some(id) = pick(*i) {
                    self.modify(ledger, id);
                    self.modify(ledger, id);
                    pushed(ledger, id, self);
                }
            }
            Op::Delete(i) => {
                if let Some(id) = pick(*i) {
                    self.records.borrow_mut().remove(&id);
                    ledger.deleted.insert(id);
                }
            }
            Op::Create => {
                let id = self.next_id.get();
                self.next_id.set(id + 1);
                self.records.borrow_mut().insert(id, (self.now.get(), 0));
            }
            Op::Tick => self.now.set(self.now.get() + 1),
        }
    }
}

/// A delivered record's id and version, in either dialect.
fn id_version(record: &Value) -> (u64, u64) {
    let id = record["id"].as_str().or_else(|| record["invoice_id"].as_str()).unwrap().parse().unwrap();
    let version = record["Note_Content"].as_str().or_else(|| record["notes"].as_str()).unwrap()[1..].parse().unwrap();
    (id, version)
}

fn deliver(ledger: &mut Ledger, page: &Value) {
    for record in page["records"].as_array().unwrap() {
        let (id, version) = id_version(record);
        let best = ledger.delivered.entry(id).or_insert(0);
        *best = (*best).max(version);
    }
}

/// Sweeps of a model list: `groups` records on each of a few seconds, `rounds` of changes
/// after each page; every version is accounted for sweep by sweep, and all at the end.
fn replay(exclusive: bool, per_page: u32, groups: &[usize], rounds: &[Vec<Vec<Op>>]) {
    replay_in(Dialect::Crm, exclusive, per_page, groups, rounds)
}

pub fn replay_in(dialect: Dialect, exclusive: bool, per_page: u32, groups: &[usize], rounds: &[Vec<Vec<Op>>]) {
    let zoho = Zoho { dialect, records: RefCell::new(BTreeMap::new()), now: Cell::new(1_700_000_000), exclusive, next_id: Cell::new(5_725_767_000_000_000) };
    for (second, count) in groups.iter().enumerate() {
        for _ in 0..*count {
            let id = zoho.next_id.get();
            zoho.next_id.set(id + 1);
            zoho.records.borrow_mut().insert(id, (1_700_000_000 + second as i64, 0));
        }
    }
    // The clock starts well past the records' seconds, so the first sweep's cursor lies after
    // them: a record that sweep missed is in no later sweep, and the ledger sees the loss.
    zoho.now.set(1_700_000_000 + groups.len() as i64 + 10);
    let (storage, options) = (Memory::default(), CallOptions::default());
    let connection = Connection { access_token: Some("t".into()), books_organization_id: Some("10234695".into()), ..Default::default() };
    let client = Client::new(&connection, &options, &zoho, &storage).unwrap();
    let mut ledger = Ledger::default();
    let read = |page: u32| -> Value {
        let text = match dialect {
            Dialect::Crm => {
                let request = SweepRequest { record_type: "Notes".into(), page: Some(page), per_page: Some(per_page), fields: Some("Note_Content".into()), ..Default::default() };
                list_modified_records(&client, &request).unwrap()
            }
            Dialect::Books => {
                // Books' 100 requests a minute are the limits module's to hold; the model's
                // steps run faster than any minute, so each starts with the minute's count gone.
                storage.0.borrow_mut().retain(|k, _| !k.starts_with("limits/books/"));
                let input = BooksListInput { record_type: "invoices".into(), page: Some(page), per_page: Some(per_page.min(200)), since: None, include_line_items: None };
                crate::books::sweep::list_modified_records_by_page(&client, &input).unwrap()
            }
        };
        serde_json::from_str(&text).unwrap()
    };
    let commit = || match dialect {
        Dialect::Crm => commit(&client, "Notes", None, None).map(drop),
        Dialect::Books => crate::books::sweep::update_last_successful_run_date(&client, &BooksCommitInput { record_type: "invoices".into(), timestamp: None }).map(drop),
    };
    for (k, pages) in rounds.iter().enumerate() {
        ledger.starts.push(zoho.versions());
        ledger.pushed_past.push(HashSet::new());
        let mut page = 1;
        let mut seen_this_sweep: HashSet<(u64, u64)> = HashSet::new();
        // One page a record at 1 a page, and room for a crowded second's empty steps: past that
        // (not merely past 2,000 pages, which 2,019 records at 1 a page need) it never ends.
        let most_pages = 2_000 + 2 * zoho.records.borrow().len();
        loop {
            assert!((page as usize) < most_pages, "a sweep that never ends");
            let result = read(page);
            for record in result["records"].as_array().unwrap() {
                let key = id_version(record);
                assert!(seen_this_sweep.insert(key), "version {key:?} delivered twice in one sweep");
            }
            deliver(&mut ledger, &result);
            let until = result["sweep"]["until"].as_str().and_then(parse_iso).unwrap_or(i64::MAX);
            for op in pages.get(page as usize - 1).into_iter().flatten() {
                zoho.apply(&mut ledger, op, until);
            }
            if result["more_records"] != json!(true) {
                break;
            }
            page += 1;
        }
        commit().unwrap();
        // A delivered record changes again in the same second; every other sweep the clock moves.
        let newest = zoho.records.borrow().iter().max_by_key(|(id, (t, _))| (*t, **id)).map(|(id, _)| *id);
        if let Some(id) = newest {
            zoho.modify(&mut ledger, id);
        }
        if k % 2 == 0 {
            zoho.now.set(zoho.now.get() + 3);
        }
        if k >= 1 {
            for (id, version) in &ledger.starts[k - 1] {
                let ok = ledger.deleted.contains(id) || ledger.delivered.get(id).is_some_and(|d| d >= version) || ledger.pushed_past[k].contains(id);
                assert!(ok, "sweep {} lost {id} at version {version} (delivered {:?})", k - 1, ledger.delivered.get(id));
            }
        }
    }
    // A quiet sweep delivers every last version.
    let last = zoho.versions();
    let mut page = 1;
    loop {
        let result = read(page);
        deliver(&mut ledger, &result);
        if result["more_records"] != json!(true) {
            break;
        }
        page += 1;
    }
    for (id, version) in last {
        assert!(ledger.delivered.get(&id).is_some_and(|d| *d >= version), "the final sweep lost {id} at version {version}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::testing::proptest_cases(300), failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn no_version_is_lost_under_either_reading_with_offsets_that_shift(
        exclusive in any::<bool>(),
        // Pages just past the list's 200 leave a step's last records at a page's start.
        per_page in prop_oneof![40u32..=450, 200u32..=206, 400u32..=406, Just(2_000u32)],
        groups in prop::collection::vec(prop_oneof![0usize..=3, 150usize..=700], 1..5),
        rounds in prop::collection::vec(prop::collection::vec(prop::collection::vec(op(), 0..15), 1..8), 2..4),
    ) {
        replay(exclusive, per_page, &groups, &rounds);
    }
}

/// The end-to-end attack, in the model: 450 records on one second, 203 a page; after page 2
/// (which read that second's page 2 and 3 records of its page 3) ten delivered records are
/// deleted, so seven move from page 3 onto page 2, already read; the backward pass has them.
#[test]
fn records_shifted_onto_a_page_read_are_delivered() {
    let deletes: Vec<Op> = (0..10).map(|_| Op::Delete(0)).collect();
    let rounds = vec![vec![vec![], deletes, vec![]], vec![vec![]], vec![vec![]]];
    for exclusive in [false, true] {
        replay(exclusive, 203, &[450, 0, 0, 0], &rounds);
    }
}

/// Pages of one or two records: every page boundary falls inside a second.
#[test]
fn one_record_a_page() {
    let rounds = vec![vec![vec![Op::Modify(1)], vec![Op::Delete(0), Op::Create], vec![Op::Tick, Op::Modify(4)]], vec![vec![Op::ModifyTwice(2)]], vec![vec![]]];
    for exclusive in [false, true] {
        replay(exclusive, 1, &[3, 0, 4, 2], &rounds);
        replay(exclusive, 2, &[5, 1], &rounds);
    }
}

/// More records on one second than `page` reaches, the walk going on by page tokens, with
/// deletions between its steps.
#[test]
fn a_second_past_page_reach_with_deletions_between_steps() {
    let rounds = vec![vec![vec![Op::Delete(3), Op::Delete(50), Op::Delete(700)], vec![Op::Delete(1), Op::Delete(2_100)], vec![Op::Delete(7)]], vec![vec![]]];
    replay(false, 700, &[2_400], &rounds);
    replay(true, 2_000, &[5, 2_250, 3], &rounds);
}
