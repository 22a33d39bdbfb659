//! Bulk read (export) jobs, as Zoho's v8 Bulk Read pages and `bulk_read.json` describe them:
//! `POST /crm/bulk/v8/read` adds a job (201 `ADDED_SUCCESSFULLY`), `GET /crm/bulk/v8/read/{id}`
//! tells its state (ADDED, then IN PROGRESS, then COMPLETED on the sandbox's clock, or FAILURE
//! when a test asks), and `GET /crm/bulk/v8/read/{id}/result` answers a ZIP of one CSV
//! (`{id}.zip` holding `{id}.csv`; limitations page). A page of results holds `per_page`
//! records (Zoho's 200,000; a knob so tests stay small); `more_records` and `next_page_token`
//! lead to the next job. Notes, Attachments and Emails cannot be exported (limitations page).

mod callback;
mod criteria;

use crate::request::RecordedRequest;
use crate::response::{error_response, json_response};
use crate::state::bulk_reads::{Job, Knobs};
use crate::state::{Module, Shared};
use axum::body::Body;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use std::io::Write;

const NOT_EXPORTABLE: [&str; 3] = ["Notes", "Attachments", "Emails"];
const MAX_FIELDS: usize = 1_000;

fn refuse(code: &str, message: &str, details: Value) -> Response {
    error_response(400, code, message, details)
}

/// `POST /crm/bulk/v8/read`.
pub fn create(shared: &std::sync::Arc<Shared>, request: &RecordedRequest) -> Response {
    if request.body.is_empty() {
        return refuse("REQUEST_BODY_IS_EMPTY", "the request body is empty", json!({}));
    }
    let Some(body) = request.json().filter(Value::is_object) else { return refuse("REQUEST_BODY_NOT_READABLE", "the request body is not readable", json!({})) };
    if let Some(callback) = body.get("callback") {
        if callback.get("method").and_then(Value::as_str) != Some("post") {
            return refuse("INVALID_CALLBACK_METHOD", "the callback method is not post", json!({}));
        }
        let url = callback.get("url").and_then(Value::as_str).unwrap_or_default();
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
            return refuse("INVALID_CALLBACK_URL", "the callback url is invalid", json!({}));
        }
    }
    let query = body.get("query").cloned().unwrap_or(Value::Null);
    let module_name = query.get("module").and_then(|m| m.get("api_name")).and_then(Value::as_str).unwrap_or_default().to_string();
    let knobs = shared.bulk_reads.lock().knobs.clone();
    let data = shared.data();
    if NOT_EXPORTABLE.contains(&module_name.as_str()) {
        return refuse("MODULE_NOT_SUPPORTED", "the module is not supported for bulk read", json!({ "api_name": module_name }));
    }
    let Some(module) = data.modules.get(&module_name) else { return refuse("MODULE_NOT_AVAILABLE", "the module is not available", json!({ "api_name": module_name, "module": module_name })) };
    let columns = match columns_of(module, &query) {
        Ok(columns) => columns,
        Err(refusal) => return refusal,
    };
    let criteria = query.get("criteria").filter(|c| !c.is_null());
    if let Some(Err((code, details))) = criteria.map(|c| criteria::check(c, module)) {
        return refuse(code, "the criteria given is invalid", details);
    }
    let matched: Vec<&Map<String, Value>> = module.records.values().filter(|r| criteria.is_none_or(|c| criteria::matches(c, r))).collect();
    let mut jobs = shared.bulk_reads.lock();
    let (start, page) = match (query.get("page"), query.get("page_token").and_then(Value::as_str)) {
        (Some(_), Some(_)) => return refuse("INVALID_REQUEST", "page and page_token cannot be given together", json!({})),
        (None, Some(token)) => match jobs.tokens.get(token) {
            Some(&start) => (start, (start / knobs.per_page.max(1)) as u64 + 1),
            None => return refuse("INVALID_REQUEST", "the page_token is invalid or expired", json!({ "param": "page_token" })),
        },
        (Some(page), None) => match page.as_u64().filter(|p| (1..=u64::from(knobs.max_page)).contains(p)) {
            Some(page) => ((page as usize - 1).saturating_mul(knobs.per_page), page),
            None => return refuse("PAGE_RANGE_EXCEEDED", "the page given exceeds the page range", json!({ "max_limit": knobs.max_page })),
        },
        (None, None) => (0, 1),
    };
    let end = start.saturating_add(knobs.per_page).min(matched.len());
    let rows = matched.get(start..end).unwrap_or_default().iter().map(|r| columns.iter().map(|c| cell(r, c)).collect()).collect();
    jobs.next += 1;
    let id = (5_725_767_000_000_700_000u64 + jobs.next).to_string();
    let now = shared.clock.now();
    let fails = std::mem::take(&mut jobs.knobs.fail_next);
    // How long the job takes on the sandbox's clock: queued `added_for`, then `runs_for` plus a
    // second per `records_per_second` records (a Zoho-like job grows with its export).
    let rows_len = end.saturating_sub(start) as u64;
    let per_record = rows_len.checked_div(knobs.records_per_second).map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX));
    let runs_for = (!knobs.never_ends).then(|| knobs.runs_for.saturating_add(per_record));
    let callback = body.get("callback").and_then(|c| c.get("url")).and_then(Value::as_str).map(str::to_string);
    let job = Job { module: module_name.clone(), columns, rows, page, more: end < matched.len(), created: now, fails, query: query.clone(), added_for: knobs.added_for, runs_for };
    if job.more {
        jobs.tokens.insert(format!("brt{id}"), end);
    }
    jobs.jobs.insert(id.clone(), job);
    drop(jobs);
    if let Some(url) = callback {
        callback::post_when_done(shared, &id, url);
    }
    let details =
        json!({ "id": id, "operation": "read", "state": "ADDED", "created_by": { "id": "5725767000000411001", "name": "Patricia Boyle" }, "created_time": crate::clock::Clock::zoho_time(now) });
    json_response(201, &json!({ "data": [{ "status": "success", "code": "ADDED_SUCCESSFULLY", "message": "Added successfully.", "details": details }], "info": {} }))
}

/// The CSV's columns: `Id` and the fields asked for in their order (all the module's when none).
fn columns_of(module: &Module, query: &Value) -> Result<Vec<String>, Response> {
    let named: Vec<String> = match query.get("fields").and_then(Value::as_array) {
        Some(list) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        None => module.fields.iter().filter(|f| f.data_type != "subform").map(|f| f.api_name.clone()).collect(),
    };
    if named.len() > MAX_FIELDS {
        return Err(refuse("INVALID_REQUEST", "more than 1000 fields are given", json!({ "maximum_length": MAX_FIELDS })));
    }
    if let Some(unknown) = named.iter().find(|n| *n != "id" && *n != "Id" && !module.fields.iter().any(|f| &f.api_name == *n)) {
        return Err(refuse("FIELD_NOT_AVAILABLE", "the field is not available", json!({ "api_name": unknown })));
    }
    Ok(std::iter::once("Id".to_string()).chain(named.into_iter().filter(|n| n != "id" && n != "Id")).collect())
}

/// A record's value as Zoho's CSV writes it: a lookup's id, multi-select values joined by `;`.
fn cell(record: &Map<String, Value>, column: &str) -> String {
    let value = record.get(if column == "Id" { "id" } else { column }).cloned().unwrap_or(Value::Null);
    match value {
        Value::Null => String::new(),
        Value::String(s) => s,
        Value::Object(o) => o.get("id").map(|id| id.as_str().map(str::to_string).unwrap_or_else(|| id.to_string())).unwrap_or_default(),
        Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string())).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

/// `GET /crm/bulk/v8/read/{job_id}`.
pub fn status(shared: &Shared, job_id: &str) -> Response {
    let now = shared.clock.now();
    let jobs = shared.bulk_reads.lock();
    let Some(job) = jobs.jobs.get(job_id) else { return error_response(404, "RESOURCE_NOT_FOUND", "the job id given is invalid", json!({ "resource": job_id })) };
    json_response(200, &json!({ "data": [detail(job_id, job, &jobs.knobs, now)] }))
}

/// A job as its status answers it (and as its callback posts it).
pub(crate) fn detail(job_id: &str, job: &Job, knobs: &Knobs, now: DateTime<Utc>) -> Value {
    let state = state_of(job, knobs, now);
    let mut detail = json!({
        "id": job_id,
        "operation": "read",
        "state": state,
        "query": { "module": { "api_name": job.module, "id": "5725767000000002175" }, "page": job.page },
        "created_by": { "id": "5725767000000411001", "name": "Patricia Boyle" },
        "created_time": crate::clock::Clock::zoho_time(job.created),
        "file_type": "csv",
    });
    if let Some(criteria) = job.query.get("criteria") {
        detail["query"]["criteria"] = criteria.clone();
    }
    if state == "COMPLETED" {
        let mut result = json!({ "page": job.page, "count": job.rows.len(), "download_url": format!("/crm/bulk/v8/read/{job_id}/result"), "per_page": knobs.per_page, "more_records": job.more });
        if job.more {
            result["next_page_token"] = json!(format!("brt{job_id}"));
        }
        detail["result"] = result;
    }
    detail
}

pub(crate) fn state_of(job: &Job, _knobs: &Knobs, now: DateTime<Utc>) -> &'static str {
    let age = now - job.created;
    let Some(runs_for) = job.runs_for else { return if age < Duration::seconds(job.added_for) { "ADDED" } else { "IN PROGRESS" } };
    if age < Duration::seconds(job.added_for) {
        "ADDED"
    } else if age < Duration::seconds(job.added_for.saturating_add(runs_for)) {
        "IN PROGRESS"
    } else if job.fails {
        "FAILURE"
    } else {
        "COMPLETED"
    }
}

/// `GET /crm/bulk/v8/read/{job_id}/result`: the ZIP once the job completed.
pub fn result(shared: &Shared, job_id: &str) -> Response {
    let now = shared.clock.now();
    let mut jobs = shared.bulk_reads.lock();
    let knobs = jobs.knobs.clone();
    let Some(job) = jobs.jobs.get(job_id).filter(|j| state_of(j, &knobs, now) == "COMPLETED") else {
        return error_response(400, "RESOURCE_NOT_FOUND", "the job id given is invalid or its result is not ready", json!({ "resource": job_id }));
    };
    let csv = jobs.knobs.result_override.is_none().then(|| csv_of(&job.columns, &job.rows));
    let zip = match (jobs.knobs.result_override.take(), csv) {
        (Some(bytes), _) => bytes,
        (None, csv) => zip_of(job_id, &csv.unwrap_or_default()),
    };
    Response::builder()
        .status(200)
        .header("content-type", "application/x-download")
        .header("content-disposition", format!("attachment; filename=\"{job_id}.zip\""))
        .body(Body::from(zip))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// RFC 4180 CSV: a header row, then one row per record, every cell quoted when it must be.
pub fn csv_of(columns: &[String], rows: &[Vec<String>]) -> Vec<u8> {
    let quote = |cell: &str| if cell.contains([',', '"', '\n', '\r']) { format!("\"{}\"", cell.replace('"', "\"\"")) } else { cell.to_string() };
    let mut out = String::new();
    for row in std::iter::once(columns.to_vec()).chain(rows.iter().cloned()) {
        out.push_str(&row.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out.into_bytes()
}

/// A ZIP of one deflated `{job_id}.csv`.
pub fn zip_of(job_id: &str, csv: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let written = zip.start_file(format!("{job_id}.csv"), options).is_ok() && zip.write_all(csv).is_ok();
    match zip.finish() {
        Ok(cursor) if written => cursor.into_inner(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
