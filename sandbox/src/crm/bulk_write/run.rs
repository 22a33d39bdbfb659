//! Running a bulk write job: each row of its file written through the store with the same
//! checks a record write gets (mandatory fields, the values' types, unique fields), an invalid
//! row SKIPPED with Zoho's error; then the result CSV Zoho's "Download Bulk Write Result" page
//! describes: the file's first three mapped columns, then `STATUS`, `RECORD_ID` and `ERRORS`
//! (`<errorCode>-<column_header>`).
//!
//! Fast enough for Zoho's scale: unique values and `find_by` values are looked up in an index
//! built once per job (a scan per row would make 25,000 rows against 100,000 records quadratic).

use super::csv;
use crate::clock::Clock;
use crate::crm::notifications::deliveries::{self, Operation};
use crate::crm::records::{check_shape, duplicate, prepared};
use crate::crm::{field_values, store};
use crate::state::bulk_writes::{Mapping, Outcome};
use crate::state::Shared;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// A column of the file that a field reads.
struct Column {
    index: usize,
    field: String,
    header: String,
    data_type: &'static str,
    lookup: bool,
}

/// Where records are found by a field's value: (field, value) → record id, for the module's
/// unique fields and the job's `find_by`.
struct Index {
    unique: Vec<String>,
    fields: Vec<String>,
    ids: HashMap<(String, String), u64>,
}

impl Index {
    fn get(&self, field: &str, value: &Value) -> Option<u64> {
        self.ids.get(&(field.to_string(), key_of(value))).copied()
    }

    /// Notes the record's values of the indexed fields.
    fn remember(&mut self, values: &Map<String, Value>, id: u64) {
        for field in &self.fields {
            if let Some(value) = values.get(field).filter(|v| !v.is_null()) {
                self.ids.insert((field.clone(), key_of(value)), id);
            }
        }
    }
}

fn key_of(value: &Value) -> String {
    value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string())
}

/// Runs job `job_id` once: its outcome is kept on the job.
pub(super) fn run(shared: &Shared, job_id: &str) {
    let job = {
        let jobs = shared.bulk_writes.lock();
        let Some(job) = jobs.jobs.get(job_id) else { return };
        (job.module.clone(), job.operation.clone(), job.find_by.clone(), job.mappings.clone(), job.ignore_empty, job.file.clone(), job.fails.is_some())
    };
    let (module_name, operation, find_by, mappings, ignore_empty, file, fails) = job;
    let outcome = if fails {
        Outcome { added: 0, updated: 0, skipped: 0, total: 0, result_csv: Vec::new() }
    } else {
        write_rows(shared, &module_name, &operation, find_by.as_deref(), mappings, ignore_empty, &file.csv)
    };
    if let Some(job) = shared.bulk_writes.lock().jobs.get_mut(job_id) {
        job.outcome = Some(outcome);
    }
}

fn columns_of(shared: &Shared, module_name: &str, header: &[String], mappings: Option<Vec<Mapping>>) -> Vec<Column> {
    let data = shared.data();
    let module = data.modules.get(module_name);
    let data_type = |field: &str| field_values::spec_of(module_name, module, field).map_or("text", |s| s.data_type);
    match mappings {
        Some(mappings) => mappings
            .into_iter()
            .map(|m| Column {
                index: m.index,
                header: header.get(m.index).cloned().unwrap_or_default(),
                data_type: data_type(&m.api_name),
                lookup: m.find_by.as_deref() == Some("id"),
                field: m.api_name,
            })
            .collect(),
        None => header
            .iter()
            .enumerate()
            .map(|(index, h)| {
                let (field, lookup) = h.strip_suffix(".id").map_or((h.as_str(), false), |f| (f, true));
                Column { index, field: field.to_string(), header: h.clone(), data_type: data_type(field), lookup }
            })
            .collect(),
    }
}

/// A cell as the value a record write takes: a lookup's id as `{"id"}`, a boolean, a
/// multi-select list split on `;`; the rest as text (Zoho reads numbers and dates from text).
fn value_of(column: &Column, cell: &str) -> Value {
    if column.lookup {
        return json!({ "id": cell });
    }
    match column.data_type {
        "boolean" => match cell.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::from(cell),
        },
        "multiselectpicklist" => Value::Array(cell.split(';').map(|v| Value::from(v.trim())).collect()),
        _ => Value::from(cell),
    }
}

/// The module's records indexed by its unique fields and `find_by`.
fn index_of(shared: &Shared, module_name: &str, find_by: Option<&str>) -> Index {
    let data = shared.data();
    let unique: Vec<String> = data.modules.get(module_name).map(|m| m.unique.iter().map(|u| u.to_string()).collect()).unwrap_or_default();
    let mut fields = unique.clone();
    fields.extend(find_by.filter(|f| *f != "id" && !unique.iter().any(|u| u == f)).map(str::to_string));
    let mut ids = HashMap::new();
    if let Some(module) = data.modules.get(module_name) {
        for (id, record) in &module.records {
            for field in &fields {
                if let Some(value) = record.get(field).filter(|v| !v.is_null()) {
                    ids.entry((field.clone(), key_of(value))).or_insert(*id);
                }
            }
        }
    }
    Index { unique, fields, ids }
}

/// One row's outcome: status, record id, errors.
type RowOutcome = (&'static str, String, String);

fn write_rows(shared: &Shared, module_name: &str, operation: &str, find_by: Option<&str>, mappings: Option<Vec<Mapping>>, ignore_empty: bool, file: &[u8]) -> Outcome {
    let mut rows = csv::rows(file).into_iter();
    let header = rows.next().unwrap_or_default();
    let columns = columns_of(shared, module_name, &header, mappings);
    let mut index = index_of(shared, module_name, find_by);
    let shown: Vec<usize> = columns.iter().take(3).map(|c| c.index).collect();
    let mut out = String::new();
    let mut head: Vec<&str> = shown.iter().map(|&i| header.get(i).map_or("", String::as_str)).collect();
    head.extend(["STATUS", "RECORD_ID", "ERRORS"]);
    csv::write_row(&mut out, &head);
    let (mut added, mut updated, mut skipped, mut total) = (0, 0, 0, 0);
    for (row, cells) in rows.enumerate() {
        if cells.len() == 1 && cells[0].is_empty() {
            continue;
        }
        total += 1;
        let (status, id, errors) = write_row(shared, module_name, operation, find_by, ignore_empty, &columns, &mut index, row, &cells);
        match status {
            "ADDED" => added += 1,
            "UPDATED" => updated += 1,
            _ => skipped += 1,
        }
        let mut line: Vec<&str> = shown.iter().map(|&i| cells.get(i).map_or("", String::as_str)).collect();
        line.extend([status, id.as_str(), errors.as_str()]);
        csv::write_row(&mut out, &line);
    }
    Outcome { added, updated, skipped, total, result_csv: out.into_bytes() }
}

fn write_row(shared: &Shared, module_name: &str, operation: &str, find_by: Option<&str>, ignore_empty: bool, columns: &[Column], index: &mut Index, row: usize, cells: &[String]) -> RowOutcome {
    let header_of = |field: &str| columns.iter().find(|c| c.field == field).map_or(field.to_string(), |c| c.header.clone());
    let skipped = |error: &Value| -> RowOutcome {
        let code = error.get("code").and_then(Value::as_str).unwrap_or("INVALID_DATA");
        let field = error.pointer("/details/api_name").and_then(Value::as_str).map(header_of);
        ("SKIPPED", String::new(), field.map_or(code.to_string(), |f| format!("{code}-{f}")))
    };
    let mut values = Map::new();
    for column in columns {
        let cell = cells.get(column.index).map_or("", String::as_str);
        if cell.is_empty() {
            if !ignore_empty && operation != "insert" {
                values.insert(column.field.clone(), Value::Null);
            }
            continue;
        }
        values.insert(column.field.clone(), value_of(column, cell));
    }
    let found = find_by.and_then(|field| {
        let value = values.get(field).filter(|v| !v.is_null())?;
        if field == "id" {
            let id = key_of(value).parse::<u64>().ok()?;
            return shared.data().modules.get(module_name).filter(|m| m.records.contains_key(&id)).map(|_| id);
        }
        index.get(field, value)
    });
    values.remove("id");
    match (operation, found) {
        ("update", None) => ("SKIPPED", String::new(), format!("RESOURCE_NOT_FOUND-{}", header_of(find_by.unwrap_or("id")))),
        (_, Some(id)) => match update(shared, module_name, row, id, &values, index) {
            Ok(()) => ("UPDATED", id.to_string(), String::new()),
            Err(error) => skipped(&error),
        },
        (_, None) => match insert(shared, module_name, row, &values, index) {
            Ok(id) => ("ADDED", id.to_string(), String::new()),
            Err(error) => skipped(&error),
        },
    }
}

/// Zoho's checks on a row's values, its unique fields looked up in the job's index.
fn checked(shared: &Shared, module_name: &str, row: usize, values: &Map<String, Value>, own: Option<u64>, index: &Index) -> Result<Map<String, Value>, Value> {
    let mut data = shared.data();
    let module = data.modules.get(module_name).ok_or_else(|| json!({ "code": "INVALID_MODULE" }))?;
    if let Some(error) = check_shape(module, module_name, row, values, own.is_none()) {
        return Err(error);
    }
    for field in &index.unique {
        let Some(value) = values.get(field).filter(|v| !v.is_null()) else { continue };
        if let Some(holder) = index.get(field, value).filter(|holder| Some(*holder) != own) {
            return Err(duplicate(module_name, holder, field, &format!("$.data[{row}].{field}")));
        }
    }
    prepared(&mut data, module_name, row, values)
}

fn insert(shared: &Shared, module_name: &str, row: usize, values: &Map<String, Value>, index: &mut Index) -> Result<u64, Value> {
    let stored = checked(shared, module_name, row, values, None, index)?;
    let id = store::insert(shared, module_name, stored, shared.clock.now());
    index.remember(values, id);
    Ok(id)
}

fn update(shared: &Shared, module_name: &str, row: usize, id: u64, values: &Map<String, Value>, index: &mut Index) -> Result<(), Value> {
    let changes = checked(shared, module_name, row, values, Some(id), index)?;
    let now = Clock::zoho_time(shared.clock.now());
    {
        let mut data = shared.data();
        let Some(module) = data.modules.get_mut(module_name) else { return Err(json!({ "code": "INVALID_MODULE" })) };
        module.revision += 1;
        let Some(record) = module.records.get_mut(&id) else { return Err(json!({ "code": "RESOURCE_NOT_FOUND" })) };
        record.extend(changes.clone());
        record.insert("Modified_Time".into(), json!(now));
    }
    index.remember(values, id);
    deliveries::changed(shared, module_name, Operation::Update, &id.to_string(), changes);
    Ok(())
}
