//! One keyset page through COQL, read within a memory budget: the answer is read in one pass
//! with records kept as their raw text (at most the rows asked for), and each record's id and
//! `Modified_Time` read through a small typed struct.

use super::state::Key;
use crate::client::{coql_credits, ApiCall, Client};
use crate::crm::response::content;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Response};
use crate::json;
use crate::zoho_time::{parse_http_date, parse_iso};
use serde::Deserialize;
use serde_json::json as json_value;
use serde_json::value::RawValue;
use std::time::Instant;

/// A record as delivered, with the fields the sweep orders by.
pub struct Row {
    pub text: Box<RawValue>,
    pub id: Option<String>,
    /// Modified_Time as an instant.
    pub time: Option<i64>,
    /// Its position in the sweep's order, when both parts are usable in a query.
    pub key: Option<Key>,
}

#[derive(Deserialize)]
struct Head {
    id: String,
    #[serde(rename = "Modified_Time")]
    modified_time: String,
}

#[derive(Deserialize, Default)]
pub struct Info {
    #[serde(default)]
    pub more_records: Option<bool>,
}

impl Row {
    pub fn new(text: Box<RawValue>) -> Row {
        let head = serde_json::from_str::<Head>(text.get()).ok();
        let key = head.as_ref().and_then(|h| Key::checked(&h.modified_time, &h.id));
        let time = head.as_ref().and_then(|h| parse_iso(&h.modified_time));
        Row { id: head.map(|h| h.id), time, key, text }
    }
}

pub struct Page {
    pub rows: Vec<Row>,
    pub more: bool,
    /// The server's `Date` and how long the exchange took (for the sweep's bounds).
    pub date: Option<i64>,
    pub took_s: i64,
}

impl Page {
    pub fn empty() -> Page {
        Page { rows: Vec::new(), more: false, date: None, took_s: 0 }
    }
}

/// A Zoho answer that is not the list it should be.
pub fn unreadable(response: &Response, what: &str, e: json::JsonError) -> ZohoError {
    ZohoError::new(ErrorKind::Zoho, format!("Zoho's {what} answer could not be read ({e})")).with_status(response.status)
}

/// Where a page's rows must lie: what its query asked (`Modified_Time` from `since` through
/// `until`, after every key of `after`, up to every key of `up_to`), in ascending order. The
/// walk trusts that shape: a row past the sweep's bound, for one, would make the next page's
/// query empty and end the sweep after one page. So an answer outside its window, out of order
/// or with a record the walk cannot place is an error (nothing is committed; the sweep is read
/// again), never an end.
#[derive(Default)]
pub struct Window<'a> {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub after: Vec<&'a Key>,
    pub up_to: Vec<&'a Key>,
}

/// A key's place in the sweep's order: its instant, then its id as a number (as COQL compares).
/// The id must be one the walk can put in its next query (`validate::record_id`, as
/// [`Key::checked`] asks): `+5` or 21 leading zeros parse as a `u64` but make no key, and a
/// last row without a key would start the next page after an earlier row, or from the start.
fn place(time: i64, id: &str) -> Option<(i64, u64)> {
    Some((time, crate::validate::record_id(id).ok()?.parse::<u64>().ok()?))
}

fn key_place(key: &Key) -> Option<(i64, u64)> {
    place(parse_iso(&key.time)?, &key.id)
}

impl Window<'_> {
    pub fn check(&self, module: &str, rows: &[Row]) -> Result<()> {
        let broken = |row: &Row, how: String| {
            let id = row.id.as_deref().unwrap_or("?");
            ZohoError::new(
                ErrorKind::Zoho,
                format!("Zoho's COQL answer for {module} broke the sweep's order: record {id} {how}; nothing was committed: read the sweep again from page 1 (if this repeats, Zoho or a proxy between is answering wrongly)"),
            )
        };
        let mut previous: Option<(i64, u64)> = None;
        for row in rows {
            let (Some(time), Some(id)) = (row.time, row.id.as_deref()) else {
                return Err(broken(row, "has no readable id or Modified_Time".to_string()));
            };
            let Some(here) = place(time, id) else {
                return Err(broken(row, "has an id that is not a number".to_string()));
            };
            let at = crate::zoho_time::format_iso(time);
            if self.since.is_some_and(|s| time < s) {
                return Err(broken(row, format!("was modified at {at}, before the sweep's start")));
            }
            if self.until.is_some_and(|u| time > u) {
                return Err(broken(row, format!("was modified at {at}, past the sweep's bound")));
            }
            if self.after.iter().any(|k| key_place(k).is_some_and(|k| here <= k)) {
                return Err(broken(row, format!("(modified at {at}) lies before the page's start")));
            }
            if self.up_to.iter().any(|k| key_place(k).is_some_and(|k| here > k)) {
                return Err(broken(row, format!("(modified at {at}) lies past the page's end")));
            }
            if previous.is_some_and(|p| here <= p) {
                return Err(broken(row, format!("(modified at {at}) is out of order (ascending Modified_Time, then id)")));
            }
            previous = Some(here);
        }
        Ok(())
    }
}

/// Records of `module` matching `conditions`, in sweep order, at most `limit`.
pub fn fetch(client: &Client, module: &str, coql_fields: &[String], conditions: &[String], limit: usize) -> Result<Page> {
    fetch_at(client, module, coql_fields, conditions, 0, limit)
}

/// COQL's where clause (COQL needs one): the conditions, or every record, grouped in pairs.
/// Zoho refuses more than two criteria at one bracket level ("Query API - Limitations", v2 to
/// v8: "If WHERE has more than two criteria such as A, B, and C, use them as (A and (B and C))
/// or ((A and B) and C)"; Kaizen #171 "FAQs on COQL API", question 2), so `[A, B, C]` is
/// written `((A and B) and C)`. Each condition is one operand: a compound one (a keyset key)
/// comes in its own brackets.
pub fn filter(conditions: &[String]) -> String {
    let mut conditions = conditions.iter();
    let Some(first) = conditions.next() else { return "id is not null".to_string() };
    conditions.fold(first.clone(), |grouped, next| format!("({grouped} and {next})"))
}

/// [`fetch`] from the `offset`-th matching record (a slice plan's probe).
pub fn fetch_at(client: &Client, module: &str, coql_fields: &[String], conditions: &[String], offset: usize, limit: usize) -> Result<Page> {
    let query = format!("select {} from {module} where {} order by Modified_Time asc, id asc limit {offset}, {limit}", coql_fields.join(", "), filter(conditions));
    let started = Instant::now();
    let response = client.send(ApiCall::new(Method::Post, "/crm/v8/coql").json(json_value!({ "select_query": query })).credits(coql_credits(limit)))?;
    let took_s = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX).saturating_add(1);
    let date = response.header("date").and_then(parse_http_date);
    let (rows, more) = match content(&response)? {
        Some(response) => {
            let listing = json::listing(&response.body, limit).map_err(|e| unreadable(response, "COQL", e))?;
            let info = listing.info.and_then(|i| serde_json::from_str::<Info>(i.get()).ok()).unwrap_or_default();
            let rows = listing.data.iter().map(|r| Row::new((*r).to_owned())).collect();
            (rows, info.more_records.unwrap_or(false))
        }
        None => (Vec::new(), false),
    };
    Ok(Page { rows, more, date, took_s })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(rows: &[(&str, &str)]) -> Vec<Row> {
        rows.iter().map(|(id, time)| Row::new(RawValue::from_string(json_value!({ "id": id, "Modified_Time": time }).to_string()).unwrap())).collect()
    }

    fn refusal(window: &Window, answer: &[(&str, &str)]) -> String {
        match window.check("Contacts", &rows(answer)) {
            Ok(()) => String::new(),
            Err(e) => e.message,
        }
    }

    /// Attack: ids `u64` parses but no query can hold (a sign, more than 20 digits of leading
    /// zeros) are refused like any id that is not a number: every row accepted has a key, so
    /// the next page starts after the page's last row.
    #[test]
    fn ids_the_walk_cannot_put_in_a_query_are_refused() {
        let window = Window::default();
        for id in ["+5", "000000000000000000000005", "18446744073709551616", "-1", " 5", "5 ", "", "1e3"] {
            let message = refusal(&window, &[("4", "2024-01-01T00:00:00+00:00"), (id, "2024-01-01T00:00:01+00:00")]);
            assert!(message.contains("has an id that is not a number"), "{id:?}: {message:?}");
            assert!(rows(&[(id, "2024-01-01T00:00:01+00:00")])[0].key.is_none(), "{id:?}");
        }
        // At u64's edge and with leading zeros within 20 digits, ids are numbers COQL compares.
        for answer in [
            [("18446744073709551614", "2024-01-01T00:00:00+00:00"), ("18446744073709551615", "2024-01-01T00:00:00+00:00")],
            [("0007", "2024-01-01T00:00:00+00:00"), ("8", "2024-01-01T00:00:00+00:00")],
        ] {
            assert_eq!(refusal(&window, &answer), "");
            assert!(rows(&answer).iter().all(|r| r.key.is_some()));
        }
        // 0007 is 7: after it, 7 again (written otherwise) is out of order.
        assert!(refusal(&window, &[("0007", "2024-01-01T00:00:00+00:00"), ("7", "2024-01-01T00:00:00+00:00")]).contains("out of order"));
    }

    /// Legitimate answers are kept: times in other offsets than the sweep's bounds (the same
    /// instant written +05:30, -07:00 or Z), rows exactly at `since`, at `until` and at the
    /// page's known end, and a first page dated up to year 9999.
    #[test]
    fn legitimate_answers_in_any_offset_and_at_the_bounds_are_kept() {
        let start = Key::checked("2024-01-01T05:30:00+05:30", "10").unwrap();
        let end = Key::checked("2024-01-01T00:00:10-07:00", "20").unwrap();
        let window = Window { since: parse_iso("2023-12-31T17:00:00-07:00"), until: parse_iso("2024-01-01T07:00:10Z"), after: vec![&start], up_to: vec![&end] };
        let kept = [("11", "2024-01-01T00:00:00Z"), ("12", "2023-12-31T17:00:00-07:00"), ("13", "2024-01-01T05:30:00+05:30"), ("5", "2024-01-01T05:30:01+05:30"), ("20", "2024-01-01T12:30:10+05:30")];
        assert_eq!(refusal(&window, &kept), "");
        assert!(refusal(&window, &[("10", "2024-01-01T00:00:00Z")]).contains("before the page's start"));
        assert!(refusal(&window, &[("21", "2024-01-01T07:00:10+00:00")]).contains("past the page's end"));
        assert!(refusal(&window, &[("9", "2024-01-01T07:00:11+00:00")]).contains("past the sweep's bound"));
        assert!(refusal(&window, &[("9", "2023-12-31T23:59:59Z")]).contains("before the sweep's start"));
        assert!(refusal(&window, &[("12", "2024-01-01T00:00:01Z"), ("12", "2024-01-01T05:30:01+05:30")]).contains("out of order"));
        assert_eq!(refusal(&Window::default(), &[("1", "0000-01-01T00:00:00+00:00"), ("1", "9999-12-31T23:59:59+00:00")]), "");
        assert!(refusal(&Window::default(), &[("1", "10000-01-01T00:00:00+00:00")]).contains("no readable id or Modified_Time"));
    }

    fn conditions(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("C{i}")).collect()
    }

    /// Zoho takes at most two criteria at one bracket level: every chain is grouped in pairs.
    #[test]
    fn where_clauses_group_criteria_in_pairs() {
        assert_eq!(filter(&[]), "id is not null");
        assert_eq!(filter(&conditions(1)), "C1");
        assert_eq!(filter(&conditions(2)), "(C1 and C2)");
        assert_eq!(filter(&conditions(3)), "((C1 and C2) and C3)");
        assert_eq!(filter(&conditions(6)), "(((((C1 and C2) and C3) and C4) and C5) and C6)");
    }

    /// The widest where clause a sweep builds (since, until, a slice's two bounds, the page's
    /// start and a known end) holds 14 criteria, within Zoho's 25, and no bracket level holds
    /// more than two operands.
    #[test]
    fn the_widest_sweep_filter_stays_within_zohos_limits() {
        let key = Key::checked("2024-01-01T00:00:00+00:00", "5").unwrap();
        let widest = ["Modified_Time >= '2024-01-01T00:00:00+00:00'".to_string(), "Modified_Time <= '2024-02-01T00:00:00+00:00'".to_string(), key.after(), key.up_to(), key.after(), key.up_to()];
        let text = filter(&widest);
        let criteria = text.matches("Modified_Time").count() + text.matches("id >").count() + text.matches("id <=").count();
        assert_eq!(criteria, 14, "{text}");
        // Operands per bracket level: the joiners directly inside each pair of brackets.
        let mut joiners = vec![0usize];
        for word in text.replace('(', " ( ").replace(')', " ) ").split_whitespace() {
            match word {
                "(" => joiners.push(0),
                ")" => assert!(joiners.pop().unwrap_or(0) <= 1, "{text}"),
                "and" | "or" => *joiners.last_mut().unwrap() += 1,
                _ => {}
            }
        }
        assert!(joiners.iter().all(|n| *n <= 1), "{text}");
    }
}
