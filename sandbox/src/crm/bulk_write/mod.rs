//! Bulk write (import) jobs, as Zoho's v8 Bulk Write pages and `bulk_write.json` describe them:
//! a ZIP of one CSV uploaded to the content host (`upload`), `POST /crm/bulk/v8/write` creating
//! a job on it (201 `SUCCESS`), `GET /crm/bulk/v8/write/{id}` telling its status (ADDED, then
//! IN PROGRESS, then COMPLETED or FAILED on the sandbox's clock), and the result ZIP at the
//! job's `download_url` (`run` writes the rows through the store and builds it). When a job
//! ends, its details are posted to its callback URL.

mod csv;
mod run;
pub mod upload;

use crate::clock::Clock;
use crate::request::RecordedRequest;
use crate::response::{error_response, json_response};
use crate::state::bulk_writes::{Job, Knobs, Mapping};
use crate::state::Shared;
use axum::body::Body;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

const OWNER: (&str, &str) = ("5725767000000411001", "Patricia Boyle");

fn refuse(code: &str, message: &str, details: Value) -> Response {
    error_response(400, code, message, details)
}

fn missing(key: &str) -> Response {
    refuse("MISSING_REQUIRED_KEY", &format!("required key {key} is not found in request body."), json!({ "api_name": key }))
}

/// `POST /crm/bulk/v8/write` (Zoho's "Create Bulk Write Job").
pub fn create(shared: &Shared, request: &RecordedRequest) -> Response {
    let Some(body) = request.json().filter(Value::is_object) else { return refuse("INVALID_DATA", "the request body is not readable", json!({})) };
    let Some(operation) = body.get("operation").and_then(Value::as_str) else { return missing("operation") };
    if !["insert", "update", "upsert"].contains(&operation) {
        return refuse("INVALID_DATA", "invalid data", json!({ "api_name": "operation" }));
    }
    if let Some(callback) = body.get("callback") {
        if callback.get("method").and_then(Value::as_str) != Some("post") {
            return refuse("INVALID_CALLBACK_METHOD", "the callback method is not supported", json!({ "supported_callback_methods": ["post"] }));
        }
        let url = callback.get("url").and_then(Value::as_str).unwrap_or_default();
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
            return refuse("INVALID_DATA", "invalid data", json!({ "api_name": "callback.url" }));
        }
    }
    let Some(resource) = body.get("resource").and_then(Value::as_array).and_then(|r| r.first()) else { return missing("resource") };
    let module_name = resource.pointer("/module/api_name").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(file_id) = resource.get("file_id").and_then(Value::as_str) else { return missing("file_id") };
    let data = shared.data();
    let Some(module) = data.modules.get(&module_name) else {
        return refuse("MODULE_NOT_AVAILABLE", &format!("Requested module '{module_name}' is not available."), json!({ "api_name": module_name }));
    };
    let find_by = resource.get("find_by").and_then(Value::as_str).map(str::to_string);
    match (operation, find_by.as_deref()) {
        ("update" | "upsert", None) => return refuse("MANDATORY_NOT_FOUND", "required field not found", json!({ "api_name": "find_by" })),
        // find_by is "the unique field or the record ID" (Create Bulk Write Job).
        (_, Some(field)) if field != "id" && !module.unique.contains(&field) => return refuse("INVALID_DATA", "invalid data", json!({ "api_name": "find_by" })),
        _ => {}
    }
    let mut jobs = shared.bulk_writes.lock();
    let Some(file) = jobs.files.get(file_id).cloned() else { return refuse("INVALID_FILE_ID", "improper file id", json!({ "api_name": "file_id" })) };
    let headers = csv::header(&file.csv);
    let mappings = match mappings_of(resource, &headers, module) {
        Ok(m) => m,
        Err(refusal) => return refusal,
    };
    let mapped = |field: &str| match &mappings {
        Some(m) => m.iter().any(|m| m.api_name == field),
        None => headers.iter().any(|h| h == field || h.strip_suffix(".id") == Some(field)),
    };
    if operation != "update" && !std::iter::once(module.mandatory).chain(module.also_mandatory.iter().copied()).all(mapped) {
        return refuse("MANDATORY_FIELDS_NOT_MAPPED", "All mandatory fields are not mapped for the layout", json!({ "api_name": module.mandatory }));
    }
    drop(data);
    jobs.next += 1;
    let id = (5_725_767_000_000_950_000u64 + jobs.next).to_string();
    let now = shared.clock.now();
    let fails = jobs.knobs.fail_next.take();
    let callback = body.pointer("/callback/url").and_then(Value::as_str).map(str::to_string);
    let ignore_empty = body.get("ignore_empty").and_then(Value::as_bool).unwrap_or(false);
    let job =
        Job { module: module_name, operation: operation.into(), find_by, mappings, ignore_empty, callback, file_id: file_id.into(), file, created: now, fails, outcome: None, request: body.clone() };
    jobs.jobs.insert(id.clone(), job);
    let details = json!({ "id": id, "created_by": { "id": OWNER.0, "name": OWNER.1 }, "created_time": Clock::zoho_time(now) });
    json_response(201, &json!({ "status": "success", "code": "SUCCESS", "message": "success", "details": details }))
}

/// The job's field mappings: as given (each a field of the module with a column of the file),
/// else none (the file's headers name the fields; each must be one).
fn mappings_of(resource: &Value, headers: &[String], module: &crate::state::Module) -> Result<Option<Vec<Mapping>>, Response> {
    let is_field = |name: &str| module.fields.iter().any(|f| f.api_name == name);
    let Some(given) = resource.get("field_mappings").and_then(Value::as_array) else {
        if let Some(stray) = headers.iter().find(|h| !is_field(h.strip_suffix(".id").unwrap_or(h))) {
            return Err(refuse("INVALID_FIELD", &format!("invalid mapping. invalid api_name {stray}."), json!({ "api_name": stray })));
        }
        return Ok(None);
    };
    let mut mappings = Vec::with_capacity(given.len());
    for mapping in given {
        let api_name = mapping.get("api_name").and_then(Value::as_str).unwrap_or_default();
        if !is_field(api_name) {
            return Err(refuse("INVALID_FIELD", &format!("invalid mapping. invalid api_name {api_name}."), json!({ "api_name": api_name })));
        }
        let index = match mapping.get("index").and_then(Value::as_u64) {
            Some(i) if (i as usize) < headers.len() => i as usize,
            Some(_) => return Err(refuse("COLUMN_INDEX_NOT_FOUND", "the column index is not found in the file", json!({ "api_name": api_name }))),
            // A mapping without a default value needs its column (the create-job page).
            None if mapping.get("default_value").is_none() => return Err(missing(&format!("index for field {api_name}"))),
            None => continue,
        };
        mappings.push(Mapping { api_name: api_name.into(), index, find_by: mapping.get("find_by").and_then(Value::as_str).map(str::to_string) });
    }
    Ok(Some(mappings))
}

fn state_of(job: &Job, knobs: &Knobs, now: DateTime<Utc>) -> &'static str {
    let age = now - job.created;
    if age < Duration::seconds(knobs.added_for) {
        "ADDED"
    } else if age < Duration::seconds(knobs.added_for + knobs.runs_for) {
        "IN PROGRESS"
    } else if job.fails.is_some() {
        "FAILED"
    } else {
        "COMPLETED"
    }
}

/// The job's details as Zoho answers them (Bulk_Write_Response); runs the job first when it is
/// due and has not run, and posts its callback then.
fn details(shared: &Shared, request: &RecordedRequest, job_id: &str) -> Option<Value> {
    let now = shared.clock.now();
    let due = {
        let jobs = shared.bulk_writes.lock();
        let job = jobs.jobs.get(job_id)?;
        let state = state_of(job, &jobs.knobs, now);
        (state == "COMPLETED" && job.outcome.is_none()) || (state == "FAILED" && job.outcome.is_none())
    };
    if due {
        run::run(shared, job_id);
    }
    let jobs = shared.bulk_writes.lock();
    let job = jobs.jobs.get(job_id)?;
    let state = state_of(job, &jobs.knobs, now);
    let mut file = json!({ "status": state, "name": job.file.name });
    let mut resource = json!({
        "status": state, "type": "data", "module": { "api_name": job.module, "id": crate::crm::metadata::module_id(&job.module) },
        "file_id": job.file_id, "ignore_empty": job.ignore_empty, "find_by": job.find_by,
        "field_mappings": job.request.pointer("/resource/0/field_mappings").cloned().unwrap_or(json!([])), "code": state,
    });
    if let (Some(outcome), "COMPLETED") = (&job.outcome, state) {
        for (key, n) in [("added_count", outcome.added), ("updated_count", outcome.updated), ("skipped_count", outcome.skipped), ("total_count", outcome.total)] {
            file[key] = json!(n);
        }
    }
    if let Some((code, message)) = job.fails.as_ref().filter(|_| state == "FAILED") {
        resource["code"] = json!(code);
        resource["message"] = json!(message);
    }
    resource["file"] = file;
    let mut out = json!({
        "status": state, "character_encoding": "UTF-8", "resource": [resource], "id": job_id,
        "created_by": { "id": OWNER.0, "name": OWNER.1 }, "operation": job.operation, "created_time": Clock::zoho_time(job.created),
    });
    if let Some(url) = &job.callback {
        out["callback"] = json!({ "url": url, "method": "post" });
    }
    if state == "COMPLETED" {
        let url = jobs.knobs.download_url_override.clone().unwrap_or_else(|| {
            let host = request.header("host").unwrap_or("127.0.0.1");
            format!("http://{host}/v2/crm/{}/bulk-write/{job_id}/{job_id}.zip", crate::accounts::account::ORG_ID)
        });
        out["result"] = json!({ "download_url": url });
    }
    if let Some(url) = job.callback.clone().filter(|_| due) {
        drop(jobs);
        callback(shared, job_id, &url, &out);
    }
    Some(out)
}

/// Zoho posts the job's details to its callback URL when it completes or fails ("Create Bulk
/// Write Job": `callback`). The delivery is logged with the notifications' (channel
/// `bulk-write:{job_id}`); only a loopback `http://` URL is actually contacted.
fn callback(shared: &Shared, job_id: &str, url: &str, body: &Value) {
    use crate::crm::notifications::deliveries::{loopback_target, post};
    use crate::state::outbox::Delivery;
    let index = {
        let mut log = shared.outbox.log.lock().unwrap_or_else(|p| p.into_inner());
        log.push(Delivery { channel_id: format!("bulk-write:{job_id}"), url: url.to_string(), body: body.clone(), dropped: false, status: None });
        log.len() - 1
    };
    let (Some(target), Ok(runtime)) = (loopback_target(url), tokio::runtime::Handle::try_current()) else { return };
    let (log, body) = (shared.outbox.log.clone(), body.clone());
    runtime.spawn(async move {
        let status = post(&target, &body).await;
        if let Some(entry) = log.lock().unwrap_or_else(|p| p.into_inner()).get_mut(index) {
            entry.status = status;
        }
    });
}

/// `GET /crm/bulk/v8/write/{job_id}`; an unknown job is bulk_write.json's 400 RESOURCE_NOT_FOUND.
pub fn status(shared: &Shared, request: &RecordedRequest, job_id: &str) -> Response {
    match details(shared, request, job_id) {
        Some(details) => json_response(200, &details),
        None => refuse("RESOURCE_NOT_FOUND", "The requested resource doesn't exist.", json!({ "resource": job_id })),
    }
}

/// `GET /v2/crm/{zgid}/bulk-write/{job_id}/{job_id}.zip` (the download host's path, served on
/// the sandbox's one port): the result ZIP once the job completed.
pub fn result(shared: &Shared, request: &RecordedRequest, zgid: &str, job_id: &str, file: &str) -> Response {
    // Zoho's SDKs send the token with the download; the sandbox asks for it.
    if let Some(denied) = crate::crm::records::authenticate(shared, request) {
        return denied;
    }
    let mut jobs = shared.bulk_writes.lock();
    let now = shared.clock.now();
    let knobs = jobs.knobs.clone();
    let ready = jobs.jobs.get(job_id).filter(|j| state_of(j, &knobs, now) == "COMPLETED").and_then(|j| j.outcome.as_ref());
    let Some(csv) = ready.filter(|_| zgid == crate::accounts::account::ORG_ID && file == format!("{job_id}.zip")).map(|o| o.result_csv.clone()) else {
        return json_response(403, &json!({ "info": "Forbidden", "x-info": "Link not valid" }));
    };
    let zip = match jobs.knobs.result_override.take() {
        Some(bytes) => bytes,
        None => crate::crm::bulk_read::zip_of(job_id, &csv),
    };
    Response::builder()
        .status(200)
        .header("content-type", "application/octet-stream")
        .header("content-disposition", format!("attachment; filename=\"{job_id}.zip\""))
        .body(Body::from(zip))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[cfg(test)]
mod tests;
