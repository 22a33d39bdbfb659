//! Import jobs (Zoho's Bulk Write API, v8): upload the file, create the job, read its status.
//!
//! Zoho's v8 pages "Upload File" (https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/upload-file.html),
//! "Create Bulk Write Job" (.../v8/bulk-write/create-job.html), "Get Bulk Write Job Details"
//! (.../v8/bulk-write/get-job-details.html), and `bulk_write.json`:
//! - `POST https://content.zohoapis.{dc}/crm/v8/upload`, multipart `file` (the ZIP), headers
//!   `feature: bulk-write` and `X-CRM-ORG: {zgid}` ("The unique ID (zgid) of your organization
//!   obtained through the Organization API"); answers 200 `{"status":"success","code":
//!   "FILE_UPLOAD_SUCCESS","details":{"file_id","created_time"}}`, and its refusals with 200 too
//!   (`{"status":"error","code":"INVALID_FILE_FORMAT"}`), so the body's status decides.
//! - `POST /crm/bulk/v8/write` `{"operation","character_encoding","ignore_empty","callback":
//!   {"url","method":"post"},"resource":[{"type":"data","module":{"api_name"},"file_id",
//!   "find_by","field_mappings":[{"api_name","index","find_by"}]}]}` answers 201
//!   `{"status":"success","code":"SUCCESS","details":{"id","created_by","created_time"}}`;
//!   `find_by` is mandatory for update and upsert.
//! - `GET /crm/bulk/v8/write/{job_id}` answers the job itself (no `data` wrapper): `status`
//!   ADDED, IN PROGRESS, COMPLETED or FAILED, `resource[].file` with `added_count`,
//!   `updated_count`, `skipped_count`, `total_count`, and once completed `result.download_url`.
//!
//! Credits (Zoho's v8 "API Limits" page, as `crate::credits` keeps it): a job costs 500; its
//! status 1. Zoho's table has no row for the upload (a Zoho Files call): it is counted as 1.
//! Limits: 25,000 records and 25 MB a file ([`crate::bulk::write_file`]). Zoho's bulk write
//! pages name no cap on jobs running at once; the API-limits page's concurrency caps (per
//! edition, about 10 for heavy APIs) bound requests, and a caller running jobs in parallel
//! (`zoho-host load`) keeps within them.

use crate::bulk::write_file::{csv_of, zip_of};
use crate::client::{ApiCall, Client};
use crate::crm::response::{error_from_item, error_from_response, small_json};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::multipart::{form, Field};
use crate::storage::{get_fresh, put_fresh};
use crate::validate;
use crate::wit::bulk::{WriteCreateInput, WriteStatusInput, WriteUploadInput};
use serde_json::{json, Map, Value};

/// Where files are uploaded, on the content host.
pub const UPLOAD_PATH: &str = "/crm/v8/upload";
/// Where jobs are created.
pub const WRITE_PATH: &str = "/crm/bulk/v8/write";
/// Credits a job costs (Zoho's API-limits table; see `crate::credits`).
pub const JOB_CREDITS: u64 = 500;

/// A job's path: `/crm/bulk/v8/write/{job_id}`, the id checked first.
pub fn job_path(job_id: &str) -> Result<String> {
    let id = validate::record_id(job_id).map_err(|_| ZohoError::invalid_input(format!("job-id {job_id:?} is not a Zoho bulk write job id: ids are numbers such as 5725767000000524157")))?;
    Ok(format!("{WRITE_PATH}/{id}"))
}

/// The org's zgid for `X-CRM-ORG`: a Self Client's `soid` (`ZohoCRM.{zgid}`) names it; else
/// `GET /crm/v8/org` ("Get Organization Data": `org[0].zgid`), kept for a day with the org's license.
pub fn org_zgid(client: &Client) -> Result<String> {
    if let Some(zgid) = client.soid_org() {
        return Ok(zgid);
    }
    let key = crate::budget::ORG_LICENSE_KEY;
    let cached = get_fresh(client.storage, key, crate::budget::ALLOTMENT_TTL)?;
    if let Some(zgid) = cached.as_ref().and_then(|c| c.get("zgid")).and_then(Value::as_str) {
        return Ok(zgid.to_string());
    }
    let response = client.send(ApiCall::new(Method::Get, "/crm/v8/org"))?;
    if response.status != 200 {
        return Err(error_from_response(&response));
    }
    let answer = small_json(&response)?;
    let org = answer.pointer("/org/0").ok_or_else(|| unexpected("its organization answer has no org[0]", 200))?;
    let zgid = match org.get("zgid") {
        Some(Value::String(z)) => z.clone(),
        Some(Value::Number(z)) => z.to_string(),
        _ => return Err(unexpected("its organization has no zgid", 200)),
    };
    if zgid.is_empty() || zgid.len() > 20 || !zgid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unexpected("its organization's zgid is not a number", 200));
    }
    let license = org.get("license_details");
    let mut kept = cached.filter(Value::is_object).unwrap_or_else(|| {
        json!({
            "paid_type": license.and_then(|l| l.get("paid_type")).and_then(Value::as_str).unwrap_or("free"),
            "users_license_purchased": license.and_then(|l| l.get("users_license_purchased")).and_then(Value::as_u64).unwrap_or(1),
        })
    });
    kept["zgid"] = Value::from(zgid.as_str());
    put_fresh(client.storage, key, &kept)?;
    Ok(zgid)
}

/// `bulk-write-upload`: `{"file_id","records","bytes","columns"}`.
pub fn upload(client: &Client, input: &WriteUploadInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let csv = csv_of(&input.records, input.columns.as_deref())?;
    let zip = zip_of(&format!("{module}.csv"), &csv.bytes)?;
    let bytes = zip.len();
    let zgid = org_zgid(client)?;
    let content = client.bulk_origins()?.into_iter().next().ok_or_else(|| ZohoError::invalid_input("the connection has no content host"))?;
    let body = form(vec![Field::File { name: "file".into(), file_name: format!("{module}.zip"), content_type: "application/zip".into(), bytes: zip }]);
    let call = ApiCall::new(Method::Post, UPLOAD_PATH).at(content).body(body).header("feature", "bulk-write").header("X-CRM-ORG", zgid).credits(1);
    let response = client.send(call)?;
    if response.status != 200 {
        return Err(error_from_response(&response));
    }
    let answer = small_json(&response)?;
    if answer.get("status").and_then(Value::as_str) != Some("success") {
        return Err(error_from_item(response.status, &answer));
    }
    let file_id = answer.pointer("/details/file_id").and_then(id_text).ok_or_else(|| unexpected("its upload answer has no details.file_id", 200))?;
    Ok(json!({ "file_id": file_id, "records": csv.records, "bytes": bytes, "columns": csv.columns }).to_string())
}

/// An id as text, from a string or a number (Zoho's file ids are both, by page).
fn id_text(value: &Value) -> Option<String> {
    let id = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    validate::record_id(&id).ok().map(str::to_string)
}

/// `bulk-write-create`: the job Zoho added, `{"id","status","operation","created_time"}`.
pub fn create(client: &Client, input: &WriteCreateInput) -> Result<String> {
    let body = create_body(input)?;
    let response = client.send(ApiCall::new(Method::Post, WRITE_PATH).json(body).credits(JOB_CREDITS))?;
    if !(200..300).contains(&response.status) {
        return Err(error_from_response(&response));
    }
    let answer = small_json(&response)?;
    if answer.get("status").and_then(Value::as_str) != Some("success") {
        return Err(error_from_item(response.status, &answer));
    }
    let details = answer.get("details").and_then(Value::as_object).ok_or_else(|| unexpected("its new job has no details", response.status))?;
    let id = details.get("id").and_then(id_text).ok_or_else(|| unexpected("its new job has no numeric id", response.status))?;
    let out = json!({
        "id": id,
        "status": details.get("status").and_then(Value::as_str).unwrap_or("ADDED"),
        "operation": input.operation.trim().to_ascii_lowercase(),
        "created_time": details.get("created_time").cloned().unwrap_or(Value::Null),
    });
    Ok(out.to_string())
}

/// The request body for `input`, or why Zoho would refuse it.
pub fn create_body(input: &WriteCreateInput) -> Result<Value> {
    let module = validate::module_name(&input.record_type)?;
    let file_id =
        validate::record_id(input.file_id.trim()).map_err(|_| ZohoError::invalid_input(format!("file-id {:?} is not a file id bulk-write-upload answered", crate::redact::cut(&input.file_id, 40))))?;
    let operation = input.operation.trim().to_ascii_lowercase();
    if !["insert", "update", "upsert"].contains(&operation.as_str()) {
        return Err(ZohoError::invalid_input(format!("operation {:?} is not insert, update or upsert", crate::redact::cut(&input.operation, 40))));
    }
    let find_by = input.find_by.as_deref().map(str::trim).filter(|f| !f.is_empty());
    let mut resource = Map::new();
    resource.insert("type".into(), json!("data"));
    resource.insert("module".into(), json!({ "api_name": module }));
    resource.insert("file_id".into(), json!(file_id));
    match (operation.as_str(), find_by) {
        ("insert", Some(_)) => return Err(ZohoError::invalid_input("find-by is for update and upsert: an insert creates every record")),
        ("update" | "upsert", None) => return Err(ZohoError::invalid_input(format!("{operation} needs find-by: the API name of a unique field (or id) that finds each record, e.g. Email"))),
        (_, Some(field)) => {
            let field = validate::field_names(field)?.into_iter().next().ok_or_else(|| ZohoError::invalid_input("find-by is empty"))?;
            resource.insert("find_by".into(), json!(field));
        }
        _ => {}
    }
    if let Some(mappings) = field_mappings(input)? {
        resource.insert("field_mappings".into(), mappings);
    }
    let mut body = Map::new();
    body.insert("operation".into(), json!(operation));
    // The file is written in UTF-8 (write_file); naming it spares Zoho's guess on non-ASCII text.
    body.insert("character_encoding".into(), json!("UTF-8"));
    if let Some(ignore) = input.ignore_empty {
        body.insert("ignore_empty".into(), json!(ignore));
    }
    if let Some(url) = input.callback_url.as_deref().filter(|u| !u.is_empty()) {
        body.insert("callback".into(), json!({ "url": super::read_job::callback_url(url)?, "method": "post" }));
    }
    body.insert("resource".into(), json!([Value::Object(resource)]));
    Ok(Value::Object(body))
}

/// `field_mappings`: as given, else each column to its index (a `Field.id` column to the
/// lookup `Field` found by `id`), else none: Zoho then maps the CSV's headers by API name.
fn field_mappings(input: &WriteCreateInput) -> Result<Option<Value>> {
    if let Some(text) = input.field_mappings.as_deref().filter(|t| !t.trim().is_empty()) {
        let mappings: Vec<Map<String, Value>> =
            serde_json::from_str(text).map_err(|e| ZohoError::invalid_input(format!("field-mappings must be a JSON array such as [{{\"api_name\":\"Last_Name\",\"index\":0}}] ({e})")))?;
        if mappings.iter().any(|m| !m.get("api_name").is_some_and(Value::is_string)) {
            return Err(ZohoError::invalid_input("every field-mappings entry needs an api_name"));
        }
        return Ok(Some(Value::Array(mappings.into_iter().map(Value::Object).collect())));
    }
    let Some(columns) = input.columns.as_deref().filter(|c| !c.is_empty()) else { return Ok(None) };
    let mut mappings = Vec::with_capacity(columns.len());
    for (index, column) in columns.iter().enumerate() {
        let (name, lookup) = column.strip_suffix(".id").map_or((column.as_str(), false), |f| (f, true));
        let name = validate::field_names(name)?.into_iter().next().ok_or_else(|| ZohoError::invalid_input("columns names an empty column"))?;
        mappings.push(if lookup { json!({ "api_name": name, "find_by": "id", "index": index }) } else { json!({ "api_name": name, "index": index }) });
    }
    Ok(Some(Value::Array(mappings)))
}

/// A job as Zoho described it, and the parts of it the actions read.
pub struct Job {
    pub id: String,
    pub status: String,
    pub body: Map<String, Value>,
}

impl Job {
    /// `resource[0]`, the module's part of the job.
    fn resource(&self) -> Option<&Map<String, Value>> {
        self.body.get("resource").and_then(Value::as_array).and_then(|r| r.first()).and_then(Value::as_object)
    }

    /// The result's download URL, once the job completed.
    pub fn download_url(&self) -> Option<&str> {
        self.body.get("result").and_then(|r| r.get("download_url")).and_then(Value::as_str).filter(|u| !u.is_empty())
    }
}

/// `GET /crm/bulk/v8/write/{job_id}`: the job, its id checked to be the one asked for; FAILED
/// is a `zoho` error with Zoho's reason.
pub fn job(client: &Client, job_id: &str) -> Result<Job> {
    let path = job_path(job_id)?;
    let response = client.send(ApiCall::new(Method::Get, &path))?;
    if response.status != 200 {
        return Err(error_from_response(&response));
    }
    let answer = small_json(&response)?;
    // Zoho's page answers the job itself; a `data[0]` wrapper (as bulk read's) is read too.
    let body = answer.pointer("/data/0").unwrap_or(&answer).as_object().cloned().ok_or_else(|| unexpected("its job details are not an object", 200))?;
    let id = body.get("id").and_then(id_text).ok_or_else(|| unexpected("its job has no numeric id", 200))?;
    if id.trim_start_matches('0') != job_id.trim_start_matches('0') {
        return Err(unexpected(&format!("it answered for job {id}, not {job_id}"), 200));
    }
    let status = body.get("status").and_then(Value::as_str).unwrap_or_default().to_string();
    let job = Job { id, status, body };
    match job.status.as_str() {
        "ADDED" | "IN PROGRESS" | "INPROGRESS" | "COMPLETED" => Ok(job),
        "FAILED" | "FAILURE" => Err(failed(&job)),
        other => Err(unexpected(&format!("its job is in status {:?}, not ADDED, IN PROGRESS, COMPLETED or FAILED", crate::redact::shown(other, 40)), 200)),
    }
}

/// `bulk-write-status`: `{"id","status","operation","module","added","updated","skipped","total","result_ready"}`.
pub fn status(client: &Client, input: &WriteStatusInput) -> Result<String> {
    let job = job(client, &input.job_id)?;
    let resource = job.resource();
    let file = resource.and_then(|r| r.get("file"));
    let count = |key: &str| file.and_then(|f| f.get(key)).and_then(Value::as_u64).map(Value::from).unwrap_or(Value::Null);
    let module = resource.and_then(|r| r.get("module")).map(|m| m.get("api_name").cloned().unwrap_or_else(|| m.clone())).unwrap_or(Value::Null);
    let status = if job.status == "INPROGRESS" { "IN PROGRESS" } else { job.status.as_str() };
    let out = json!({
        "id": job.id,
        "status": status,
        "operation": job.body.get("operation").cloned().unwrap_or(Value::Null),
        "module": module,
        "added": count("added_count"),
        "updated": count("updated_count"),
        "skipped": count("skipped_count"),
        "total": count("total_count"),
        "result_ready": job.status == "COMPLETED" && job.download_url().is_some(),
    });
    Ok(out.to_string())
}

/// A FAILED job as a `zoho` error: Zoho's reason is the resource's (or the job's) code and message.
fn failed(job: &Job) -> ZohoError {
    let said = |m: Option<&Map<String, Value>>, k: &str| m.and_then(|m| m.get(k)).and_then(Value::as_str).map(str::to_string);
    let resource = job.resource();
    let code = said(resource, "code").or_else(|| said(Some(&job.body), "code")).filter(|c| c != "FAILED");
    let message = ["message", "error_message", "reason"].iter().find_map(|k| said(resource, k).or_else(|| said(Some(&job.body), k)));
    let reason = match (&code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        (None, Some(message)) => message,
        (None, None) => "Zoho gave no reason".into(),
    };
    // Redacted whole before it is cut: a secret cut in half escapes the boundary's redaction.
    let reason = crate::redact::shown(&reason, 500).into_owned();
    ZohoError::new(ErrorKind::Zoho, format!("Zoho's bulk write job {} failed: {reason}. Check the file and its mappings, then upload and create a new job", job.id))
        .with_status(200)
        .with_code(code.unwrap_or_else(|| "FAILED".into()))
        .with_details(Value::Object(job.body.clone()))
}

pub(crate) fn unexpected(why: &str, status: u16) -> ZohoError {
    ZohoError::new(ErrorKind::Zoho, format!("Zoho's bulk write answer is not as documented: {why}")).with_status(status)
}

#[cfg(test)]
mod tests;
