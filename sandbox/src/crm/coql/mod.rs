//! A COQL subset: `select f, ... from Module [where ...] [order by f [asc|desc], ...]
//! [limit [offset,] count | limit count offset n]`, with =, !=, <, >, <=, >=, like, in,
//! is [not] null, and/or and parentheses, answered with Zoho's bodies and errors; and the
//! aggregate `select COUNT(field) from Module where ...`, answered as Zoho does with one row
//! `{"COUNT(field)": n}` (a count of records whose field is not null).

use crate::request::RecordedRequest;
use crate::response::{empty_response, error_response, json_response};
use crate::state::Shared;
use axum::response::Response;
use serde_json::{json, Map, Value};

mod eval;
mod limits;
mod parser;
mod scan;

use eval::{fields_of, lookup, matches};
#[cfg(test)]
use eval::{like, project_row};
use limits::{countable, criteria, unreadable, MAX_CRITERIA, MAX_SELECT_FIELDS};
use parser::{tokenize, Failure, Parser};
use scan::{from_index, full_scan, refresh_index};

pub fn query(shared: &Shared, request: &RecordedRequest) -> Response {
    let Some(text) = request.json().and_then(|b| b.get("select_query").and_then(Value::as_str).map(str::to_string)) else {
        return error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "select_query" }));
    };
    let tokens = match tokenize(&text) {
        Ok(tokens) => tokens,
        Err(e) => return error_response(400, "SYNTAX_ERROR", "invalid query formed", json!({ "near": e.near, "line": e.line, "column": e.column })),
    };
    let end = (text.lines().count().max(1), text.lines().last().map_or(1, |l| l.chars().count() + 1));
    let query = match (Parser { tokens, at: 0, end }).query() {
        Ok(q) => q,
        Err(Failure::Syntax(e)) => return error_response(400, "SYNTAX_ERROR", "invalid query formed", json!({ "near": e.near, "line": e.line, "column": e.column })),
        Err(Failure::Limit(limit)) => return error_response(400, "LIMIT_EXCEEDED", "limit exceeded", json!({ "by": "limit", "limit": limit })),
    };
    if query.fields.len() > MAX_SELECT_FIELDS {
        return error_response(400, "LIMIT_EXCEEDED", "limit exceeded", json!({ "by": "select", "limit": MAX_SELECT_FIELDS }));
    }
    if query.filter.as_ref().map_or(0, criteria) > MAX_CRITERIA {
        return error_response(400, "LIMIT_EXCEEDED", "limit exceeded", json!({ "by": "criteria", "limit": MAX_CRITERIA }));
    }
    let mut data = shared.data();
    let Some(module) = data.modules.get_mut(&query.module) else {
        return error_response(400, "INVALID_QUERY", "invalid query formed", json!({ "clause": "from", "near": query.module }));
    };
    // A module outside COQL's list (Notes, a linking module, ...) is refused though the org has it.
    if !crate::crm::module_reach::coql_reads(&query.module, module) {
        return error_response(400, "INVALID_QUERY", "invalid query formed", json!({ "clause": "from", "module": query.module }));
    }
    let mut used = query.fields.clone();
    used.extend(query.count.iter().cloned());
    query.filter.iter().for_each(|f| fields_of(f, &mut used));
    used.extend(query.order.iter().map(|(f, _)| f.clone()));
    for field in &used {
        let base = field.split('.').next().unwrap_or("");
        let Some(described) = module.fields.iter().find(|d| d.api_name == base) else {
            return error_response(400, "INVALID_QUERY", "column given seems to be invalid", json!({ "column_name": field, "clause": "select" }));
        };
        if let Some(reason) = unreadable(&query.module, base, described.data_type) {
            return error_response(400, "INVALID_QUERY", "data type not supported", json!({ "column_name": field, "data_type": described.data_type, "clause": "select", "reason": reason }));
        }
    }
    if let Some(counted) = &query.count {
        let data_type = module.fields.iter().find(|d| d.api_name == *counted).map_or("", |d| d.data_type);
        if !countable(counted, data_type) {
            return error_response(
                400,
                "INVALID_QUERY",
                "data type not supported",
                json!({ "column_name": counted, "data_type": data_type, "clause": "select", "reason": "COUNT works on number, lookup and picklist fields" }),
            );
        }
        let n = module.records.values().filter(|r| lookup(r, counted).is_some() && query.filter.as_ref().is_none_or(|f| matches(r, f))).count();
        return json_response(200, &json!({ "data": [{ format!("COUNT({counted})"): n }], "info": { "count": 1, "more_records": false } }));
    }
    // The sweep's shape (keyset on Modified_Time, id) is answered from an ordered index, as a
    // database would: seek to the lower bound, scan until the page is full.
    let sweep_order = query.order.len() == 2 && query.order[0] == ("Modified_Time".to_string(), false) && query.order[1] == ("id".to_string(), false);
    if sweep_order {
        refresh_index(module);
    }
    let (page, more) = if sweep_order { from_index(module, &query) } else { full_scan(module, &query) };
    if page.is_empty() {
        return empty_response(204);
    }
    // Written straight from the stored records: a 2,000-row page is not copied into a tree first.
    let names = Projection::names(&query.fields);
    let rows: Vec<Projection<'_>> = page.iter().map(|record| Projection { record, names: &names }).collect();
    #[derive(serde::Serialize)]
    struct Info {
        count: usize,
        more_records: bool,
    }
    #[derive(serde::Serialize)]
    struct Answer<'a> {
        data: Vec<Projection<'a>>,
        info: Info,
    }
    match serde_json::to_vec(&Answer { data: rows, info: Info { count: page.len(), more_records: more } }) {
        Ok(body) => axum::response::Response::builder().status(200).header("content-type", "application/json;charset=UTF-8").body(axum::body::Body::from(body)).unwrap_or_else(|_| empty_response(500)),
        Err(_) => empty_response(500),
    }
}

/// A row as `project_row` makes it, written without building it: the asked fields and the
/// id, in key order, nulls for what the record lacks.
struct Projection<'a> {
    record: &'a Map<String, Value>,
    names: &'a [&'a str],
}

impl Projection<'_> {
    /// The row's keys in the order a JSON object of them is written (sorted, once each).
    fn names(fields: &[String]) -> Vec<&str> {
        let mut names: Vec<&str> = fields.iter().map(String::as_str).chain(["id"]).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

impl serde::Serialize for Projection<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.names.len()))?;
        for name in self.names {
            let value = if *name == "id" { self.record.get("id") } else { lookup(self.record, name) };
            map.serialize_entry(name, value.unwrap_or(&Value::Null))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Module;

    #[test]
    fn like_patterns() {
        assert!(like("Number0042", "number%"));
        assert!(like("Number0042", "%0042"));
        assert!(like("Number0042", "%mber00%"));
        assert!(!like("Number0042", "%0043"));
        assert!(like("abc", "abc"));
    }

    /// A row written from the record is the row `project_row` builds, byte for byte.
    #[test]
    fn projected_rows_are_written_as_built() {
        let mut record = Map::new();
        for (k, v) in [("id", json!("12")), ("B", json!(null)), ("A", json!("ä\"\n")), ("Owner", json!({ "name": "O", "id": "3" }))] {
            record.insert(k.into(), v);
        }
        for fields in [vec!["A", "B", "Missing"], vec!["id", "A", "A"], vec!["Owner.name", "Owner", "A"], vec!["Z"]] {
            let fields: Vec<String> = fields.into_iter().map(String::from).collect();
            let names = Projection::names(&fields);
            let written = serde_json::to_string(&Projection { record: &record, names: &names }).unwrap_or_default();
            assert_eq!(written, project_row(&record, &fields).to_string(), "{fields:?}");
        }
    }

    /// The index answers every keyset shape (lower and upper bounds, offsets, ties on one
    /// second, records without a time) exactly as a full scan and sort does.
    #[test]
    fn the_index_answers_as_the_full_scan() {
        let mut module = Module::default();
        let times = ["2024-01-01T00:00:00+00:00", "2024-01-01T00:00:01+00:00", "2024-01-01T00:00:01+00:00", "2024-01-01T05:30:00+05:30", "2024-03-01T10:00:00-07:00"];
        for id in 1..=400u64 {
            let mut record = Map::new();
            record.insert("id".into(), json!(id.to_string()));
            let time = if id % 97 == 0 { Value::Null } else { json!(times[(id * 7 % 5) as usize]) };
            record.insert("Modified_Time".into(), time);
            record.insert("Name".into(), json!(format!("n{}", id % 3)));
            module.records.insert(id, record);
        }
        module.revision = 1;
        let t = "2024-01-01T00:00:01+00:00";
        let filters = [
            "id is not null".to_string(),
            format!("Modified_Time >= '{t}'"),
            format!("Modified_Time > '{t}'"),
            format!("Modified_Time <= '{t}'"),
            format!("Modified_Time < '{t}'"),
            format!("(Modified_Time > '{t}' or (Modified_Time = '{t}' and id > 150))"),
            format!("(Modified_Time < '{t}' or (Modified_Time = '{t}' and id <= 150))"),
            format!("(((Modified_Time > '2024-01-01T00:00:00Z' or (Modified_Time = '2024-01-01T00:00:00Z' and id > 10)) and (Modified_Time < '{t}' or (Modified_Time = '{t}' and id <= 300))) and Name = 'n1')"),
            format!("((Modified_Time >= '2023-12-31T00:00:00Z' and Modified_Time <= '{t}') or Name = 'n2')"),
            format!("(Modified_Time >= '2023-12-31T00:00:00Z' and (Modified_Time <= '{t}' and Name = 'n1'))"),
        ];
        for filter in &filters {
            for limit in ["limit 0, 7", "limit 5, 50", "limit 0, 2000", "limit 390, 10"] {
                let text = format!("select Name, Modified_Time from M where {filter} order by Modified_Time asc, id asc {limit}");
                let tokens = tokenize(&text).unwrap_or_else(|_| panic!("tokens: {text}"));
                let Ok(query) = (Parser { tokens, at: 0, end: (1, 1) }).query() else { panic!("parses: {text}") };
                refresh_index(&mut module);
                assert_eq!(from_index(&module, &query), full_scan(&module, &query), "{text}");
            }
        }
    }

    /// The answer to one COQL query against a freshly seeded sandbox: status and body.
    async fn ask(shared: &Shared, text: &str) -> (u16, Value) {
        let request = RecordedRequest { path: "/crm/v8/coql".into(), ..RecordedRequest::for_test("POST", serde_json::to_vec(&json!({ "select_query": text })).unwrap_or_default()) };
        let response = query(shared, &request);
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn seeded() -> Shared {
        let shared = Shared::new();
        crate::seed::seed(&shared);
        shared
    }

    /// More than two criteria at one bracket level is a syntax error, `and`, `or` or mixed;
    /// pairs at every level, either way round, are read.
    #[tokio::test]
    async fn criteria_are_grouped_in_pairs() {
        let shared = seeded();
        for flat in [
            "select Last_Name from Contacts where id is not null and Email is not null and Phone is not null",
            "select Last_Name from Contacts where id is not null or Email is not null or Phone is not null",
            "select Last_Name from Contacts where id is not null and Email is not null or Phone is not null",
            "select Last_Name from Contacts where ((id is not null and Email is not null) and Phone is not null or Mailing_City = 'Austin')",
        ] {
            let (status, body) = ask(&shared, flat).await;
            assert_eq!((status, body["code"].as_str()), (400, Some("SYNTAX_ERROR")), "{flat}: {body}");
            assert_eq!(body["message"], "invalid query formed");
            assert!(matches!(body["details"]["near"].as_str(), Some("and" | "or")), "{body}");
        }
        for grouped in [
            "select Last_Name from Contacts where ((id is not null and Email is not null) and Phone is not null) limit 2",
            "select Last_Name from Contacts where (id is not null and (Email is not null and Phone is not null)) limit 2",
            "select Last_Name from Contacts where (id is not null and Email is not null) or Phone is not null limit 2",
            "select Last_Name from Contacts where Email is not null limit 2",
        ] {
            let (status, body) = ask(&shared, grouped).await;
            assert_eq!((status, body["info"]["count"].as_u64()), (200, Some(2)), "{grouped}: {body}");
        }
    }

    /// 25 criteria are read, the 26th is refused; 500 selected fields are read, the 501st is refused.
    #[tokio::test]
    async fn criteria_and_selected_fields_have_zohos_limits() {
        let shared = seeded();
        let nested = |n: usize| (1..n).fold("id is not null".to_string(), |w, _| format!("({w} and Email is not null)"));
        let (status, body) = ask(&shared, &format!("select Last_Name from Contacts where {} limit 1", nested(25))).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = ask(&shared, &format!("select Last_Name from Contacts where {} limit 1", nested(26))).await;
        assert_eq!((status, body["code"].as_str(), body["details"].clone()), (400, Some("LIMIT_EXCEEDED"), json!({ "by": "criteria", "limit": 25 })));
        let columns = |n: usize| vec!["Last_Name"; n].join(", ");
        let (status, body) = ask(&shared, &format!("select {} from Contacts where id is not null limit 1", columns(500))).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = ask(&shared, &format!("select {} from Contacts where id is not null limit 1", columns(501))).await;
        assert_eq!((status, body["code"].as_str(), body["details"].clone()), (400, Some("LIMIT_EXCEEDED"), json!({ "by": "select", "limit": 500 })));
    }

    /// COUNT counts number, lookup and picklist fields only, never the record id.
    #[tokio::test]
    async fn count_takes_documented_field_types() {
        let shared = seeded();
        let (status, body) = ask(&shared, "select COUNT(Created_By) from Contacts where id is not null").await;
        assert_eq!((status, body["data"][0]["COUNT(Created_By)"].as_u64()), (200, Some(crate::seed::CONTACTS as u64)), "{body}");
        let (status, body) = ask(&shared, "select COUNT(Lead_Source) from Leads where id is not null").await;
        assert_eq!(status, 200, "{body}");
        for (query, field, data_type) in [
            ("select COUNT(id) from Contacts where id is not null", "id", "bigint"),
            ("select COUNT(Last_Name) from Contacts where id is not null", "Last_Name", "text"),
            ("select COUNT(Modified_Time) from Contacts where id is not null", "Modified_Time", "datetime"),
        ] {
            let (status, body) = ask(&shared, query).await;
            assert_eq!((status, body["code"].as_str(), body["message"].as_str()), (400, Some("INVALID_QUERY"), Some("data type not supported")), "{query}: {body}");
            assert_eq!((body["details"]["column_name"].as_str(), body["details"]["data_type"].as_str()), (Some(field), Some(data_type)));
        }
    }

    /// What COQL cannot read is an INVALID_QUERY wherever the query names it: by data type
    /// (file upload, image upload, multi-select lookup, subform) and by name (Events'
    /// Participants, a bigint in Zoho's metadata; Calls' CTI_Entry; line items).
    #[tokio::test]
    async fn fields_coql_cannot_read_are_refused() {
        let shared = seeded();
        for (query, column, data_type) in [
            ("select Event_Title, Participants from Events where id is not null", "Participants", "bigint"),
            ("select Subject, CTI_Entry from Calls where id is not null", "CTI_Entry", "boolean"),
            ("select Name, Proof_Of_Delivery from Shipments where id is not null", "Proof_Of_Delivery", "fileupload"),
            ("select Package_Photo from Shipments where id is not null", "Package_Photo", "imageupload"),
            ("select Name from Shipments where Handlers is not null", "Handlers", "multiselectlookup"),
            ("select Subject from Quotes where id is not null order by Product_Details", "Product_Details", "subform"),
        ] {
            let (status, body) = ask(&shared, query).await;
            assert_eq!((status, body["code"].as_str(), body["message"].as_str()), (400, Some("INVALID_QUERY"), Some("data type not supported")), "{query}: {body}");
            assert_eq!((body["details"]["column_name"].as_str(), body["details"]["data_type"].as_str()), (Some(column), Some(data_type)), "{query}");
        }
        let (status, body) = ask(&shared, "select Event_Title, Start_DateTime from Events where id is not null").await;
        assert_eq!((status, body["info"]["count"].as_u64()), (200, Some(3)), "{body}");
    }
}
