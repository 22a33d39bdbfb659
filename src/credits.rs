//! What a CRM call costs in API credits, by Zoho's own table.
//!
//! Zoho's v8 "API Limits" page (https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html)
//! and `GET /crm/v8/__apis` ("List of Available APIs"; Zoho's `apis.json`, each API's
//! `min_credits` and `max_credits`): most calls cost 1 credit; insert, update and upsert 1 per
//! 10 records (up to 10 for 100); add and remove tags 1 per 10 record ids (up to 50 for 500);
//! the deleted-records feed 2; convert lead 5; COQL by the rows its LIMIT asks for (1-200 rows
//! 1, 201-1,000 2, 1,001-2,000 3; "Query API - An Overview"); a bulk write job 500, a bulk read
//! job 50 ("Bulk Read Initialize").
//!
//! Those defaults are the table until the org's own is read: a sync page with a credit budget
//! reads `/__apis` once a day ([`crate::budget::refresh_credit_table`]) where the token's scope allows it, and keeps the
//! entries that differ from "1 credit" (or that the defaults name) in the connection's store.
//! A refusal (no scope, an error, an unreadable answer) is kept for the day too, and the
//! defaults stay: the credit table never fails a step.

use crate::http::{Body, Method};
use crate::storage::{get_fresh, Storage};
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// The org's table, or the note that it could not be read, cached for a day.
pub use crate::storage::keys::CREDIT_TABLE as TABLE_KEY;
pub const TABLE_TTL: Duration = Duration::from_secs(24 * 3600);

/// Where `__apis` lives; the request needs ZohoCRM.apis.READ (Zoho's page) or
/// ZohoCRM.settings.modules.READ (Zoho's apis.json).
pub const APIS_PATH: &str = "/crm/v8/__apis";
pub const APIS_SCOPES: [&str; 2] = ["ZohoCRM.apis.READ", "ZohoCRM.settings.modules.READ"];

/// Entries kept from Zoho's answer at most (its listing is some hundreds of paths).
const MAX_ENTRIES: usize = 4_000;

/// COQL's credits by the rows its LIMIT asks for (Zoho's table): 1-200 rows 1, 201-1,000
/// rows 2, 1,001-2,000 rows 3.
pub fn coql_credits(rows: usize) -> u64 {
    match rows {
        0..=200 => 1,
        201..=1_000 => 2,
        _ => 3,
    }
}

/// One API of the table: a method, a path whose `{...}` segments stand for any one segment,
/// and the fewest and most credits one call costs.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    method: String,
    path: Vec<String>,
    min: u64,
    max: u64,
}

impl Entry {
    fn new(method: &str, path: &str, min: u64, max: u64) -> Self {
        Entry { method: method.to_ascii_uppercase(), path: segments(path).map(str::to_string).collect(), min, max: max.max(min) }
    }

    /// How well this entry names `path` (literal segments matched), or None when it does not.
    fn matches(&self, method: &str, path: &[&str]) -> Option<usize> {
        if !self.method.eq_ignore_ascii_case(method) || self.path.len() != path.len() {
            return None;
        }
        let mut literal = 0;
        for (pattern, segment) in self.path.iter().zip(path) {
            if pattern.starts_with('{') && pattern.ends_with('}') {
                continue;
            }
            if !pattern.eq_ignore_ascii_case(segment) {
                return None;
            }
            literal += 1;
        }
        Some(literal)
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('?').next().unwrap_or("").split('/').filter(|s| !s.is_empty())
}

/// The credit table a client charges by.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditTable {
    entries: Vec<Entry>,
    /// Read from the org's `/__apis` (false: Zoho's documented defaults).
    pub from_zoho: bool,
}

/// The documented defaults (see the module's header for the sources).
fn default_entries() -> Vec<Entry> {
    vec![
        Entry::new("POST", "/crm/v8/{module}", 1, 10),
        Entry::new("PUT", "/crm/v8/{module}", 1, 10),
        Entry::new("POST", "/crm/v8/{module}/upsert", 1, 10),
        Entry::new("POST", "/crm/v8/{module}/actions/add_tags", 1, 50),
        Entry::new("POST", "/crm/v8/{module}/actions/remove_tags", 1, 50),
        Entry::new("GET", "/crm/v8/{module}/deleted", 2, 2),
        Entry::new("POST", "/crm/v8/Leads/{id}/actions/convert", 5, 5),
        Entry::new("POST", "/crm/v8/coql", 1, 3),
        Entry::new("POST", "/crm/bulk/v8/write", 500, 500),
        // "Bulk Read Initialize 50" (the API-limits table); status and download 1.
        Entry::new("POST", "/crm/bulk/v8/read", 50, 50),
    ]
}

/// How a call's own size sets its cost between the table's fewest and most credits.
enum Scale {
    /// 1 credit per 10 records of `data` (insert, update, upsert).
    Records,
    /// 1 credit per 10 ids (add and remove tags).
    Ids,
    /// By the rows the query's LIMIT asks for.
    Coql,
    /// The table's fewest credits.
    Fixed,
}

/// Path segments after `/crm/v8/` that are not a module's API name.
const NOT_MODULES: [&str; 9] = ["coql", "settings", "org", "users", "actions", "__apis", "__composite_requests", "files", "upload"];

fn scale_of(method: Method, path: &[&str]) -> Scale {
    match (method, path) {
        (Method::Post, ["crm", _, "coql"]) => Scale::Coql,
        (Method::Post | Method::Put, ["crm", _, module]) if !NOT_MODULES.iter().any(|n| n.eq_ignore_ascii_case(module)) => Scale::Records,
        (Method::Post, ["crm", _, _, "upsert"]) => Scale::Records,
        (Method::Post, ["crm", _, _, "actions", "add_tags" | "remove_tags"]) => Scale::Ids,
        _ => Scale::Fixed,
    }
}

/// A JSON array's length, counted without building its items; anything else is None.
#[derive(Default)]
struct Count(Option<usize>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Counter;
        impl<'de> Visitor<'de> for Counter {
            type Value = Count;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n = 0usize;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n = n.saturating_add(1);
                }
                Ok(Count(Some(n)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_unit<E>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
        }
        deserializer.deserialize_any(Counter)
    }
}

/// The members of a write's body that set its cost.
#[derive(Deserialize, Default)]
struct WriteSize<'a> {
    #[serde(default)]
    data: Count,
    #[serde(default)]
    ids: Count,
    #[serde(default, borrow)]
    select_query: Option<std::borrow::Cow<'a, str>>,
}

/// 1 credit per 10 (a count of 0 or an unreadable body is one call's 1 credit).
fn per_ten(n: Option<usize>) -> Option<u64> {
    n.map(|n| u64::try_from(n.div_ceil(10)).unwrap_or(u64::MAX).max(1))
}

impl CreditTable {
    pub fn defaults() -> Self {
        CreditTable { entries: default_entries(), from_zoho: false }
    }

    /// The entry naming `method` and `path` with the most literal segments.
    fn entry(&self, method: &str, path: &[&str]) -> Option<&Entry> {
        let mut best: Option<(usize, &Entry)> = None;
        for entry in &self.entries {
            if let Some(literal) = entry.matches(method, path) {
                if best.is_none_or(|(b, _)| literal > b) {
                    best = Some((literal, entry));
                }
            }
        }
        best.map(|(_, e)| e)
    }

    /// The credits one call costs: its size's share (records, ids, COQL rows) or `hint` (what
    /// the caller knows of it), held between the table's fewest and most credits for the API.
    pub fn cost(&self, method: Method, path: &str, body: Option<&Body>, hint: Option<u64>) -> u64 {
        let path: Vec<&str> = segments(path).collect();
        let scaled = hint.or_else(|| {
            let scale = scale_of(method, &path);
            if matches!(scale, Scale::Fixed) {
                return None;
            }
            let body = body.filter(|b| b.content_type.starts_with("application/json"))?;
            let joined;
            let bytes: &[u8] = match body.parts.as_slice() {
                [one] => one,
                parts => {
                    joined = parts.concat();
                    &joined
                }
            };
            let sized: WriteSize = serde_json::from_slice(bytes).ok()?;
            match scale {
                Scale::Records => per_ten(sized.data.0),
                Scale::Ids => per_ten(sized.ids.0),
                Scale::Coql => sized.select_query.map(|q| coql_credits(crate::crm::coql_limit::rows_asked(&q))),
                Scale::Fixed => None,
            }
        });
        match self.entry(method.as_str(), &path) {
            Some(entry) => scaled.unwrap_or(entry.min).clamp(entry.min, entry.max),
            None => scaled.unwrap_or(1),
        }
    }

    /// The table from Zoho's `/__apis` answer: every operation whose credits differ from 1, and
    /// every one the defaults name (so a changed default is followed). Paths are taken with or
    /// without their `/crm/v8` prefix. None when the answer lists nothing readable.
    pub fn from_apis(answer: &Value) -> Option<Self> {
        let defaults = default_entries();
        let mut entries = Vec::new();
        for api in answer.get("__apis")?.as_array()? {
            let Some(path) = api.get("path").and_then(Value::as_str) else { continue };
            let path = if path.starts_with("/crm/") { path.to_string() } else { format!("/crm/v8/{}", path.trim_start_matches('/')) };
            for operation in api.get("operation_types").and_then(Value::as_array).into_iter().flatten() {
                let (Some(method), Some(min), Some(max)) =
                    (operation.get("method").and_then(Value::as_str), operation.get("min_credits").and_then(Value::as_u64), operation.get("max_credits").and_then(Value::as_u64))
                else {
                    continue;
                };
                let entry = Entry::new(method, &path, min, max);
                let named = defaults.iter().any(|d| entry.matches(&d.method, &d.path.iter().map(String::as_str).collect::<Vec<_>>()).is_some());
                if (entry.min, entry.max) != (1, 1) || named {
                    entries.push(entry);
                }
                if entries.len() >= MAX_ENTRIES {
                    break;
                }
            }
        }
        if entries.is_empty() && answer.get("__apis").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
            return None;
        }
        // Zoho's entries first; the defaults answer for an API Zoho's answer does not name.
        let mut table = CreditTable { entries, from_zoho: true };
        for default in defaults {
            let path: Vec<&str> = default.path.iter().map(String::as_str).collect();
            if table.entry(&default.method, &path).is_none() {
                table.entries.push(default);
            }
        }
        Some(table)
    }

    pub fn to_stored(&self) -> Value {
        let entries: Vec<Value> = self.entries.iter().map(|e| json!([e.method, format!("/{}", e.path.join("/")), e.min, e.max])).collect();
        json!({ "source": "zoho", "entries": entries })
    }

    fn from_stored(stored: &Value) -> Option<Self> {
        if stored.get("source").and_then(Value::as_str) != Some("zoho") {
            return None;
        }
        let entries = stored.get("entries")?.as_array()?.iter().take(MAX_ENTRIES).filter_map(|e| {
            let e = e.as_array()?;
            Some(Entry::new(e.first()?.as_str()?, e.get(1)?.as_str()?, e.get(2)?.as_u64()?, e.get(3)?.as_u64()?))
        });
        Some(CreditTable { entries: entries.collect(), from_zoho: true })
    }
}

/// The table this connection charges by: the org's, read within the day, else the defaults.
/// A store that fails reads as the defaults (counting never fails a step).
pub fn load(storage: &dyn Storage) -> CreditTable {
    get_fresh(storage, TABLE_KEY, TABLE_TTL).ok().flatten().and_then(|stored| CreditTable::from_stored(&stored)).unwrap_or_else(CreditTable::defaults)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_body(value: Value) -> Body {
        Body::json(&value)
    }

    fn records(n: usize) -> Body {
        json_body(json!({ "data": vec![json!({ "Last_Name": "x", "Tags": [1, 2, 3] }); n], "trigger": [] }))
    }

    #[test]
    fn writes_cost_one_credit_per_ten_records_up_to_ten() {
        let table = CreditTable::defaults();
        for (n, credits) in [(0, 1), (1, 1), (10, 1), (11, 2), (99, 10), (100, 10), (101, 10)] {
            assert_eq!(table.cost(Method::Post, "/crm/v8/Leads", Some(&records(n)), None), credits, "create {n}");
            assert_eq!(table.cost(Method::Put, "/crm/v8/Leads", Some(&records(n)), None), credits, "update {n}");
            assert_eq!(table.cost(Method::Post, "/crm/v8/Leads/upsert", Some(&records(n)), None), credits, "upsert {n}");
        }
        // One record by id, reads, and bodies that are not JSON cost 1.
        assert_eq!(table.cost(Method::Put, "/crm/v8/Leads/1", Some(&records(1)), None), 1);
        assert_eq!(table.cost(Method::Get, "/crm/v8/Leads", None, None), 1);
        assert_eq!(table.cost(Method::Post, "/crm/v8/Leads", Some(&Body::new("text/plain", b"{\"data\":[1,2]}".to_vec())), None), 1);
        assert_eq!(table.cost(Method::Post, "/crm/v8/Leads", Some(&Body::new("application/json", b"not json".to_vec())), None), 1);
        // A body in parts counts as one.
        let mut parts = records(25);
        let whole = parts.to_vec();
        parts.parts = whole.chunks(7).map(<[u8]>::to_vec).collect();
        assert_eq!(table.cost(Method::Post, "/crm/v8/Leads", Some(&parts), None), 3);
    }

    #[test]
    fn tags_cost_one_credit_per_ten_ids_up_to_fifty() {
        let table = CreditTable::defaults();
        let ids = |n: usize| json_body(json!({ "tags": [{ "name": "a" }], "ids": (0..n).map(|i| i.to_string()).collect::<Vec<_>>() }));
        for (n, credits) in [(1, 1), (10, 1), (11, 2), (500, 50), (501, 50)] {
            assert_eq!(table.cost(Method::Post, "/crm/v8/Leads/actions/add_tags", Some(&ids(n)), None), credits);
            assert_eq!(table.cost(Method::Post, "/crm/v8/Leads/actions/remove_tags", Some(&ids(n)), None), credits);
        }
    }

    #[test]
    fn fixed_costs_and_coql_follow_the_table() {
        let table = CreditTable::defaults();
        assert_eq!(table.cost(Method::Get, "/crm/v8/Leads/deleted", None, None), 2);
        assert_eq!(table.cost(Method::Post, "/crm/v8/Leads/123/actions/convert", Some(&json_body(json!({ "data": [{}] }))), None), 5);
        assert_eq!(table.cost(Method::Post, "/crm/bulk/v8/write", None, None), 500);
        let coql = |q: &str| table.cost(Method::Post, "/crm/v8/coql", Some(&json_body(json!({ "select_query": q }))), None);
        assert_eq!(coql("select id from Leads where id is not null limit 0, 2000"), 3);
        assert_eq!(coql("select id from Leads where id is not null limit 300"), 2);
        assert_eq!(coql("select id from Leads where id is not null"), 1);
        // A caller's hint is held to the table's range.
        assert_eq!(table.cost(Method::Post, "/crm/v8/coql", None, Some(9)), 3);
        assert_eq!(table.cost(Method::Get, "/crm/v8/users", None, Some(4)), 4);
    }

    #[test]
    fn zohos_table_overrides_the_defaults_and_survives_the_store() {
        let answer = json!({ "__apis": [
            { "path": "/crm/v8/{module_api_name}", "operation_types": [
                { "method": "GET", "oauth_scope": "ZohoCRM.modules.{module_name}.READ", "min_credits": 1, "max_credits": 1 },
                { "method": "POST", "oauth_scope": "ZohoCRM.modules.{module_name}.CREATE", "min_credits": 1, "max_credits": 10 } ] },
            { "path": "/crm/v8/{module_api_name}/deleted", "operation_types": [
                { "method": "GET", "oauth_scope": "ZohoCRM.modules.{module_name}.READ", "min_credits": 3, "max_credits": 3 } ] },
            { "path": "Leads/{id}/actions/send_mail", "operation_types": [
                { "method": "POST", "oauth_scope": "ZohoCRM.send_mail.all.CREATE", "min_credits": 2, "max_credits": 4 } ] },
            { "path": "/crm/v8/org", "operation_types": [{ "method": "GET" }] },
        ] });
        let table = CreditTable::from_apis(&answer).expect("a table");
        assert!(table.from_zoho);
        assert_eq!(table.cost(Method::Get, "/crm/v8/Leads/deleted", None, None), 3, "Zoho's own figure");
        assert_eq!(table.cost(Method::Post, "/crm/v8/Leads/9/actions/send_mail", None, None), 2, "a path without its prefix");
        assert_eq!(table.cost(Method::Post, "/crm/v8/Leads", Some(&records(100)), None), 10);
        assert_eq!(table.cost(Method::Post, "/crm/v8/Leads/1/actions/convert", None, None), 5, "a default Zoho's answer does not name");
        let storage = crate::storage::memory::Memory::default();
        crate::storage::put_fresh(&storage, TABLE_KEY, &table.to_stored()).unwrap();
        assert_eq!(load(&storage), table);
        crate::storage::put_fresh(&storage, TABLE_KEY, &json!({ "source": "defaults", "why": "no scope" })).unwrap();
        assert_eq!(load(&storage), CreditTable::defaults());
        storage.set(TABLE_KEY, b"garbage").unwrap();
        assert_eq!(load(&storage), CreditTable::defaults());
        for odd in [json!({}), json!({ "__apis": "x" }), json!({ "__apis": [] }), json!([])] {
            assert_eq!(CreditTable::from_apis(&odd), None, "{odd}");
        }
    }
}
