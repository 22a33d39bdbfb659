//! Finding a query's page in a module: from the (Modified_Time, id) index for sweep-ordered
//! queries, as a database would, else by checking every record.

use super::eval::{lookup, lower_bound, matches, parse_time, upper_bound, SortKey};
use super::parser::Query;
use crate::state::Module;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Rebuilds the (Modified_Time, id) index when the module changed since it was built.
pub(super) fn refresh_index(module: &mut Module) {
    if module.by_modified.0 != module.revision || module.by_modified.1.len() != module.records.len() {
        let mut index: Vec<(i64, u64)> = module.records.iter().map(|(id, r)| (r.get("Modified_Time").and_then(Value::as_str).and_then(parse_time).unwrap_or(i64::MIN), *id)).collect();
        index.sort_unstable();
        module.by_modified = (module.revision, index);
    }
}

/// A page of a sweep-ordered query from the (Modified_Time, id) index, as a database would:
/// seek to the lower bound, scan until the page is full or past the upper bound.
pub(super) fn from_index<'m>(module: &'m Module, query: &Query) -> (Vec<&'m Map<String, Value>>, bool) {
    let bound = query.filter.as_ref().map_or((i64::MIN, 0), lower_bound);
    let end = query.filter.as_ref().map_or((i64::MAX, u64::MAX), upper_bound);
    let index = &module.by_modified.1;
    let start = index.partition_point(|key| *key < bound);
    let mut page = Vec::new();
    let mut matched = 0;
    let mut more = false;
    for key in &index[start..] {
        if *key > end {
            break;
        }
        let Some(record) = module.records.get(&key.1) else { continue };
        if !query.filter.as_ref().is_none_or(|f| matches(record, f)) {
            continue;
        }
        if matched >= query.offset + query.limit {
            more = true;
            break;
        }
        if matched >= query.offset {
            page.push(record);
        }
        matched += 1;
    }
    (page, more)
}

/// A page of any query: every record checked, the matches sorted.
pub(super) fn full_scan<'m>(module: &'m Module, query: &Query) -> (Vec<&'m Map<String, Value>>, bool) {
    let mut rows: Vec<(Vec<SortKey>, &Map<String, Value>)> =
        module.records.values().filter(|r| query.filter.as_ref().is_none_or(|f| matches(r, f))).map(|r| (query.order.iter().map(|(field, _)| SortKey::of(lookup(r, field))).collect(), r)).collect();
    rows.sort_by(|(a, _), (b, _)| {
        for ((x, y), (_, descending)) in a.iter().zip(b).zip(&query.order) {
            let ordering = x.cmp(y);
            let ordering = if *descending { ordering.reverse() } else { ordering };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    });
    let total = rows.len();
    let page: Vec<&Map<String, Value>> = rows.iter().skip(query.offset).take(query.limit).map(|(_, r)| *r).collect();
    let more = query.offset + page.len() < total;
    (page, more)
}
