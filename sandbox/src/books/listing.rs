//! Zoho Books' list answers: plain-parameter search, the `last_modified_time` filter (records
//! modified at or after the time, Books' offset without a colon or ISO's with one, compared
//! as instants), `sort_column` with `sort_order` A or D (ties keep the stored order), `page`
//! and `per_page` (at most 200) with `page_context.has_more_page`, and line items only in a
//! record's own answer, never in a list (Zoho Books API v3: each resource's "List ..." page
//! names `last_modified_time`, `sort_column` and `page`/`per_page`; its list example has no
//! `line_items`, its "Get ..." example has them).

use crate::request::RecordedRequest;
use crate::response::json_response;
use chrono::{DateTime, FixedOffset};
use serde_json::{json, Map, Value};
use std::cmp::Ordering;

/// The query parameters that shape the list rather than search it.
const LIST_PARAMETERS: [&str; 6] = ["organization_id", "page", "per_page", "last_modified_time", "sort_column", "sort_order"];
/// Members a list answer leaves out of each record: they come with the record's own GET.
const DETAIL_ONLY: [&str; 2] = ["line_items", "contact_persons"];
/// Columns whose values are times, sorted and filtered as instants.
const TIME_COLUMNS: [&str; 2] = ["last_modified_time", "created_time"];

fn books_error(status: u16, code: i64, message: &str) -> axum::response::Response {
    json_response(status, &json!({ "code": code, "message": message }))
}

/// A Books time: `2016-06-11T17:38:06-0700` (Books' own), or with a colon in the offset.
pub fn instant(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z").or_else(|_| DateTime::parse_from_rfc3339(text)).ok()
}

/// The order of two records by `column`: times as instants, numbers as numbers, else text.
fn compare(a: &Value, b: &Value, column: &str) -> Ordering {
    let (a, b) = (a.get(column), b.get(column));
    if TIME_COLUMNS.contains(&column) {
        let at = |v: Option<&Value>| v.and_then(Value::as_str).and_then(instant);
        return at(a).cmp(&at(b));
    }
    match (a.and_then(Value::as_f64), b.and_then(Value::as_f64)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.map(Value::to_string).cmp(&b.map(Value::to_string)),
    }
}

/// Does the record match every plain search parameter (`_contains`, `_startswith`, equality)?
fn matches(record: &Value, filters: &[&(String, String)]) -> bool {
    filters.iter().all(|(name, wanted)| {
        let text = |field: &str| record.get(field).map(|v| v.as_str().map(str::to_lowercase).unwrap_or_else(|| v.to_string()));
        if let Some(field) = name.strip_suffix("_contains") {
            text(field).is_some_and(|v| v.contains(&wanted.to_lowercase()))
        } else if let Some(field) = name.strip_suffix("_startswith") {
            text(field).is_some_and(|v| v.starts_with(&wanted.to_lowercase()))
        } else {
            text(name).is_some_and(|v| v == wanted.to_lowercase())
        }
    })
}

/// `GET` a collection of `all` (stored order), answered under `plural`.
/// With `reversed_ties`, records equal on the sort column come in the reverse of their stored
/// order (Books documents no order among them).
pub fn list(all: Vec<Value>, request: &RecordedRequest, plural: &str, label: &str, reversed_ties: bool) -> axum::response::Response {
    let page: usize = request.query_param("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1);
    let per_page: usize = request.query_param("per_page").and_then(|p| p.parse().ok()).filter(|p| (1..=200).contains(p)).unwrap_or(200);
    let since = match request.query_param("last_modified_time") {
        None => None,
        Some(text) => match instant(text) {
            Some(at) => Some(at),
            None => return books_error(400, 2, "Invalid value passed for last_modified_time"),
        },
    };
    let order = request.query_param("sort_order").unwrap_or("D");
    if !["A", "D"].contains(&order) {
        return books_error(400, 2, "Invalid value passed for sort_order");
    }
    let column = request.query_param("sort_column");
    let filters: Vec<&(String, String)> = request.query.iter().filter(|(k, _)| !LIST_PARAMETERS.contains(&k.as_str())).collect();
    let modified_since = |r: &Value| since.is_none_or(|s| r.get("last_modified_time").and_then(Value::as_str).and_then(instant).is_some_and(|t| t >= s));
    let mut matching: Vec<Value> = all.into_iter().filter(|r| modified_since(r) && matches(r, &filters)).collect();
    if let Some(column) = column {
        // A stable sort: records of one second keep their stored order, as one order must hold
        // from one page request to the next for numbered pages to mean anything.
        if reversed_ties {
            matching.reverse();
        }
        matching.sort_by(|a, b| if order == "A" { compare(a, b, column) } else { compare(b, a, column) });
    }
    let start = page.saturating_sub(1).saturating_mul(per_page);
    let slice: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(per_page)
        .map(|r| {
            let mut r = r.clone();
            if let Value::Object(members) = &mut r {
                members.retain(|k, _| !DETAIL_ONLY.contains(&k.as_str()));
            }
            r
        })
        .collect();
    let has_more = start.saturating_add(per_page) < matching.len();
    let mut answer = Map::new();
    answer.insert("code".into(), json!(0));
    answer.insert("message".into(), json!("success"));
    answer.insert(plural.into(), json!(slice));
    answer.insert(
        "page_context".into(),
        json!({ "page": page, "per_page": per_page, "has_more_page": has_more, "report_name": label.to_string() + "s", "sort_column": column.unwrap_or("created_time"), "sort_order": order }),
    );
    json_response(200, &Value::Object(answer))
}

/// Books records changed as a user would in Books, at the sandbox clock's time (tests).
impl crate::Sandbox {
    /// Adds a record to `collection` (e.g. "invoices") with `id_field`, `created_time` and
    /// `last_modified_time` set as Books sets them; returns its id.
    pub fn create_books_record(&self, collection: &str, id_field: &str, values: Value) -> String {
        let now = crate::clock::Clock::now_books(self.shared.clock.now());
        let mut data = self.shared.data();
        let id = data.next_id;
        data.next_id += 1;
        let mut record = match values {
            Value::Object(members) => members,
            _ => Map::new(),
        };
        record.insert(id_field.into(), json!(id.to_string()));
        record.insert("created_time".into(), json!(now));
        record.insert("last_modified_time".into(), json!(now));
        data.books.records.entry((collection.to_string(), None)).or_default().push(Value::Object(record));
        id.to_string()
    }

    /// Changes a record's fields; its `last_modified_time` becomes the clock's time.
    pub fn modify_books_record(&self, collection: &str, id_field: &str, id: &str, values: Value) -> bool {
        let now = crate::clock::Clock::now_books(self.shared.clock.now());
        let mut data = self.shared.data();
        let Some(record) = data.books.records.get_mut(&(collection.to_string(), None)).and_then(|rs| rs.iter_mut().find(|r| r[id_field] == id)) else {
            return false;
        };
        if let (Value::Object(record), Value::Object(values)) = (record, values) {
            record.extend(values);
            record.insert("last_modified_time".into(), json!(now));
        }
        true
    }

    pub fn delete_books_record(&self, collection: &str, id_field: &str, id: &str) -> bool {
        let mut data = self.shared.data();
        let Some(records) = data.books.records.get_mut(&(collection.to_string(), None)) else { return false };
        let before = records.len();
        records.retain(|r| r[id_field] != id);
        records.len() < before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn books_times_compare_as_instants_with_or_without_a_colon() {
        assert_eq!(instant("2016-06-11T17:38:06-0700"), instant("2016-06-12T00:38:06+00:00"));
        assert_eq!(instant("2016-06-12T00:38:06+0000"), instant("2016-06-12T00:38:06Z"));
        assert!(instant("2016-06-11").is_none() && instant("yesterday").is_none());
        let a = json!({ "last_modified_time": "2016-06-11T17:38:06-0700" });
        let b = json!({ "last_modified_time": "2016-06-12T00:38:05+0000" });
        assert_eq!(compare(&a, &b, "last_modified_time"), Ordering::Greater);
    }

    fn get(query: &[(&str, &str)]) -> RecordedRequest {
        RecordedRequest { path: "/books/v3/invoices".into(), query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), ..RecordedRequest::for_test("GET", Vec::new()) }
    }

    async fn answer(all: &[Value], query: &[(&str, &str)]) -> (u16, Value) {
        let response = list(all.to_vec(), &get(query), "invoices", "Invoice", false);
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (status, serde_json::from_slice(&bytes).expect("json"))
    }

    /// At or after the filter's instant, ascending by it with ties in stored order, numbered
    /// pages with has_more_page, and no line items in the list.
    #[tokio::test]
    async fn the_list_filters_sorts_pages_and_leaves_line_items_to_the_detail() {
        let record = |id: &str, time: &str| json!({ "invoice_id": id, "last_modified_time": time, "line_items": [{ "rate": 1 }] });
        let all = [record("1", "2024-01-01T10:00:00-0700"), record("2", "2024-01-01T16:59:59+0000"), record("3", "2024-01-01T17:00:00+0000"), record("4", "2024-01-01T09:00:00-0700")];
        let query = [("last_modified_time", "2024-01-01T17:00:00+0000"), ("sort_column", "last_modified_time"), ("sort_order", "A"), ("page", "1"), ("per_page", "1")];
        let (status, page) = answer(&all, &query).await;
        assert_eq!(status, 200);
        assert_eq!(page["invoices"], json!([{ "invoice_id": "1", "last_modified_time": "2024-01-01T10:00:00-0700" }]));
        assert_eq!(page["page_context"]["has_more_page"], true);
        let (_, page) = answer(&all, &[query[0], query[1], query[2], ("page", "2"), ("per_page", "1")]).await;
        assert_eq!(page["invoices"][0]["invoice_id"], "3");
        assert_eq!(page["page_context"]["has_more_page"], false);
        for bad in [[("last_modified_time", "yesterday")], [("sort_order", "ascending")]] {
            let (status, page) = answer(&all, &bad).await;
            assert_eq!((status, page["code"].clone()), (400, json!(2)), "{bad:?}");
        }
    }
}
