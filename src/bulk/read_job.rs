//! Creating a bulk read (export) job and reading its status.
//!
//! Zoho's v8 pages "Create Bulk Read job (Bulk Export)"
//! (https://www.zoho.com/crm/developer/docs/api/v8/bulk-read/create-job.html), "Get the Status of
//! the Bulk Read Job" (.../bulk-read/get-job-details.html) and "Bulk Read APIs - An Overview", and
//! `bulk_read.json`: `POST /crm/bulk/v8/read` with `{"callback":{"url","method":"post"},
//! "query":{"module":{"api_name"},"fields","criteria","cvid","page","page_token"}}` answers 201
//! `{"data":[{"status":"success","code":"ADDED_SUCCESSFULLY","details":{"id","operation","state",
//! "created_by","created_time"}}],"info":{}}`; `GET /crm/bulk/v8/read/{job_id}` answers
//! `{"data":[{"id","operation","state","query","created_by","created_time","result","file_type"}]}`
//! with `state` ADDED, IN PROGRESS, COMPLETED or FAILURE and, once completed, `result`
//! `{"page","count","download_url","per_page","more_records","next_page_token"}`.
//! Scope `ZohoCRM.bulk.READ` and the module's READ. A job costs 50 credits (Zoho's API-limits
//! table: "Bulk Read Initialize 50"); its status 1.

use crate::bulk::criteria;
use crate::client::{ApiCall, Client};
use crate::crm::response::{error_from_response, small_json};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::validate;
use crate::wit::bulk::{ReadCreateInput, ReadStatusInput};
use serde_json::{json, Map, Value};

/// Where jobs are created.
pub const READ_PATH: &str = "/crm/bulk/v8/read";
/// Credits a job costs (Zoho's API-limits table, "Bulk Read Initialize").
pub const JOB_CREDITS: u64 = 50;
/// Fields one job may name (Zoho's create-job page).
pub const MAX_FIELDS: usize = 1_000;
/// Modules Zoho cannot export (the bulk read limitations page).
const NOT_EXPORTABLE: [&str; 3] = ["Notes", "Attachments", "Emails"];
/// Longest page token, callback URL and cvid passed on.
const MAX_TOKEN_BYTES: usize = 2048;

/// A job's path: `/crm/bulk/v8/read/{job_id}`, the id checked first.
pub fn job_path(job_id: &str) -> Result<String> {
    let id = validate::record_id(job_id).map_err(|_| ZohoError::invalid_input(format!("job-id {job_id:?} is not a Zoho bulk job id: ids are numbers such as 5725767000000524157")))?;
    Ok(format!("{READ_PATH}/{id}"))
}

/// `bulk-read-create`: the job Zoho added, as `{"id","state","operation","created_time","created_by","module"}`.
pub fn create(client: &Client, input: &ReadCreateInput) -> Result<String> {
    let body = create_body(input)?;
    let response = client.send(ApiCall::new(Method::Post, READ_PATH).json(body).credits(JOB_CREDITS))?;
    if !(200..300).contains(&response.status) {
        return Err(error_from_response(&response));
    }
    let answer = small_json(&response)?;
    let item = answer.get("data").and_then(Value::as_array).and_then(|d| d.first()).ok_or_else(|| unexpected("its answer to a new job has no data[0]", response.status))?;
    if item.get("status").and_then(Value::as_str) != Some("success") {
        return Err(crate::crm::response::error_from_item(response.status, item));
    }
    let details = item.get("details").and_then(Value::as_object).ok_or_else(|| unexpected("its new job has no details", response.status))?;
    let id = job_id_of(details, response.status)?;
    let mut out = Map::new();
    out.insert("id".into(), Value::from(id));
    for key in ["state", "operation", "created_time", "created_by"] {
        out.insert(key.into(), details.get(key).cloned().unwrap_or(Value::Null));
    }
    out.insert("module".into(), Value::from(input.record_type.as_str()));
    Ok(Value::Object(out).to_string())
}

/// The request body for `input`, or why Zoho would refuse it.
pub fn create_body(input: &ReadCreateInput) -> Result<Value> {
    let module = validate::module_name(&input.record_type)?;
    if NOT_EXPORTABLE.contains(&module) {
        return Err(ZohoError::invalid_input(format!(
            "record-type {module} cannot be exported by a bulk read job (Zoho's bulk read limitations: not Notes, Attachments or Emails); read it with get-records or a sync"
        )));
    }
    let mut query = Map::new();
    query.insert("module".into(), json!({ "api_name": module }));
    let fields = validate::field_name_list("fields", input.fields.as_deref(), MAX_FIELDS, "Zoho exports at most 1,000 fields a job: split them across jobs")?;
    if !fields.is_empty() {
        query.insert("fields".into(), Value::from(fields));
    }
    if let Some(text) = input.criteria.as_deref().filter(|t| !t.trim().is_empty()) {
        query.insert("criteria".into(), criteria::parse(text)?);
    }
    if let Some(cvid) = input.cvid.as_deref().filter(|c| !c.is_empty()) {
        validate::record_id(cvid).map_err(|_| ZohoError::invalid_input(format!("cvid {cvid:?} is not a custom view id: ids are numbers such as 5725767000000087501")))?;
        query.insert("cvid".into(), Value::from(cvid));
    }
    match (input.page, input.page_token.as_deref().filter(|t| !t.is_empty())) {
        (Some(_), Some(_)) => return Err(ZohoError::invalid_input("give page or page-token, not both: page-token continues after a completed job's records, page numbers them from the start")),
        (Some(0), None) => return Err(ZohoError::invalid_input("page 0 is out of range: pages count from 1")),
        (Some(page), None) => {
            query.insert("page".into(), Value::from(page));
        }
        (None, Some(token)) => {
            if token.len() > MAX_TOKEN_BYTES || token.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(ZohoError::invalid_input("page-token is not a token Zoho gave: pass next_page_token from bulk-read-status as it is"));
            }
            query.insert("page_token".into(), Value::from(token));
        }
        (None, None) => {}
    }
    let mut body = Map::new();
    if let Some(url) = input.callback_url.as_deref().filter(|u| !u.is_empty()) {
        body.insert("callback".into(), json!({ "url": callback_url(url)?, "method": "post" }));
    }
    body.insert("query".into(), Value::Object(query));
    Ok(Value::Object(body))
}

/// A callback URL: https only (Zoho posts the job's details there; over http anyone on the way
/// reads them), with a host, without spaces; export and import jobs take the same.
pub(super) fn callback_url(url: &str) -> Result<&str> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| ZohoError::invalid_input(format!("callback-url {:?} is not https: Zoho posts the job's details to it, so it must be an https URL", crate::redact::cut(url, 80))))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || url.len() > MAX_TOKEN_BYTES || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ZohoError::invalid_input("callback-url is not a URL: give an https URL such as https://example.com/zoho/bulk"));
    }
    Ok(url)
}

/// `bulk-read-status`: `{"id","state","done","module","created_time","result"}`; `result` (once
/// completed) `{"page","count","per_page","more_records","next_page_token"}`. A FAILURE is a
/// `zoho` error with what Zoho said; a download URL off the connection's API domain is refused.
pub fn status(client: &Client, input: &ReadStatusInput) -> Result<String> {
    status_dated(client, &input.job_id).map(|(out, _)| out.to_string())
}

/// The job's status as `bulk-read-status` answers it, with Zoho's clock (the answer's `Date`,
/// seconds since the epoch) when the answer carried a readable one.
pub fn status_dated(client: &Client, job_id: &str) -> Result<(Value, Option<i64>)> {
    let input = ReadStatusInput { job_id: job_id.to_string() };
    let path = job_path(&input.job_id)?;
    let response = client.send(ApiCall::new(Method::Get, &path))?;
    let date = response.header("date").and_then(crate::zoho_time::parse_http_date);
    if response.status != 200 {
        return Err(error_from_response(&response));
    }
    let answer = small_json(&response)?;
    let job = answer.get("data").and_then(Value::as_array).and_then(|d| d.first()).and_then(Value::as_object).ok_or_else(|| unexpected("its job status has no data[0]", 200))?;
    let id = job_id_of(job, 200)?;
    if id != input.job_id.trim_start_matches('0') && id != input.job_id {
        return Err(unexpected(&format!("it answered for job {id}, not {}", input.job_id), 200));
    }
    let state = job.get("state").and_then(Value::as_str).unwrap_or_default();
    let module = job.get("query").and_then(|q| q.get("module")).map(|m| m.get("api_name").cloned().unwrap_or_else(|| m.clone())).unwrap_or(Value::Null);
    let result = match state {
        "ADDED" | "IN PROGRESS" => Value::Null,
        "COMPLETED" => completed_result(client, job, &path)?,
        "FAILURE" => return Err(failed(&id, job)),
        other => return Err(unexpected(&format!("its job is in state {other:?}, not ADDED, IN PROGRESS, COMPLETED or FAILURE"), 200)),
    };
    let out = json!({
        "id": id,
        "state": state,
        "done": state == "COMPLETED",
        "module": module,
        "created_time": job.get("created_time").cloned().unwrap_or(Value::Null),
        "result": result,
    });
    Ok((out, date))
}

/// A completed job's `result`, its download URL checked to be this job's result on the
/// connection's API domain (a hostile answer could point the next step's token elsewhere).
fn completed_result(client: &Client, job: &Map<String, Value>, path: &str) -> Result<Value> {
    let result = job.get("result").and_then(Value::as_object).ok_or_else(|| unexpected("its completed job has no result", 200))?;
    let expected = format!("{path}/result");
    let url = result.get("download_url").and_then(Value::as_str).unwrap_or_default();
    let api_domain = client.api_domain()?;
    let on_domain = url == expected || url.strip_prefix(api_domain.as_str()) == Some(expected.as_str());
    if !on_domain {
        return Err(ZohoError::new(
            ErrorKind::Zoho,
            format!(
                "Zoho's job status gives a download URL {:?} that is not this job's result on the connection's API domain ({api_domain}{expected}); it is not followed",
                client.redact(&crate::redact::shown(url, 120))
            ),
        )
        .with_status(200)
        .with_code("DOWNLOAD_URL_NOT_ALLOWED"));
    }
    let number = |key: &str| result.get(key).and_then(Value::as_u64).map(Value::from).unwrap_or(Value::Null);
    Ok(json!({
        "page": number("page"),
        "count": number("count"),
        "per_page": number("per_page"),
        "more_records": result.get("more_records").and_then(Value::as_bool).unwrap_or(false),
        "next_page_token": result.get("next_page_token").and_then(Value::as_str).map(Value::from).unwrap_or(Value::Null),
    }))
}

/// A FAILURE job as a `zoho` error; its details are the job as Zoho described it.
fn failed(id: &str, job: &Map<String, Value>) -> ZohoError {
    let reason = ["error_message", "message", "reason"]
        .iter()
        .find_map(|k| job.get(*k).or_else(|| job.get("result").and_then(|r| r.get(*k))).and_then(Value::as_str))
        // Redacted whole before it is cut: a secret cut in half escapes the boundary's redaction.
        .map(|r| crate::redact::shown(r, 500).into_owned())
        .unwrap_or_else(|| "Zoho gave no reason".into());
    ZohoError::new(ErrorKind::Zoho, format!("Zoho's bulk read job {id} failed: {reason}. Create a new job (check its criteria and fields)"))
        .with_status(200)
        .with_code("FAILURE")
        .with_details(Value::Object(job.clone()))
}

fn job_id_of(details: &Map<String, Value>, status: u16) -> Result<String> {
    let id = match details.get("id") {
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(unexpected("its job has no id", status)),
    };
    validate::record_id(&id).map_err(|_| unexpected(&format!("its job id {:?} is not a number", crate::redact::shown(&id, 40)), status))?;
    Ok(id)
}

fn unexpected(why: &str, status: u16) -> ZohoError {
    ZohoError::new(ErrorKind::Zoho, format!("Zoho's bulk read answer is not as documented: {why}")).with_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn input(record_type: &str) -> ReadCreateInput {
        ReadCreateInput { record_type: record_type.into(), fields: None, criteria: None, cvid: None, page: None, page_token: None, callback_url: None }
    }

    /// Zoho's examples (zoho/crm-oas v8.0 bulk_read createBulkReadJob request and 201, getBulkReadJobDetails 200 and 404).
    #[test]
    fn zohos_examples_replay() {
        let fixture = Fixture::default();
        fixture.answer(201, r#"{"data":[{"status":"success","code":"ADDED_SUCCESSFULLY","message":"Added successfully.","details":{"id":"string","operation":"read","state":"COMPLETED","created_by":{"id":"string"},"created_time":"2023-01-01T00:00:00Z"}}],"info":{}}"#);
        let error = create(&fixture.client(), &input("Leads")).unwrap_err();
        assert!(error.message.contains("job id \"string\" is not a number"), "{}", error.message);
        let sent = fixture.transport.sent.borrow()[0].clone();
        assert_eq!(sent.body.unwrap().to_vec(), br#"{"query":{"module":{"api_name":"Leads"}}}"#);
        fixture.answer(404, r#"{"code":"RESOURCE_NOT_FOUND","details":{"resource":"string"},"message":"string","status":"error"}"#);
        let error = status(&fixture.client(), &ReadStatusInput { job_id: "111".into() }).unwrap_err();
        assert_eq!((error.kind, error.code.as_deref()), (ErrorKind::NotFound, Some("RESOURCE_NOT_FOUND")));
        fixture.answer(200, r#"{"data":[{"id":"string","operation":"string","state":"COMPLETED","query":{"module":{"api_name":"string","id":"string"},"page":0},"created_by":{"name":"string","id":"string"},"created_time":"2023-01-01T00:00:00Z","file_type":"csv"}]}"#);
        assert!(status(&fixture.client(), &ReadStatusInput { job_id: "111".into() }).is_err());
    }

    #[test]
    fn the_body_is_zohos_and_refusals_come_before_sending() {
        let mut full = input("Deals");
        full.fields = Some(vec!["Deal_Name".into(), "Amount".into()]);
        full.criteria = Some(r#"{"api_name":"Modified_Time","comparator":"greater_equal","value":"2024-05-01T00:00:00+00:00"}"#.into());
        full.page = Some(2);
        full.callback_url = Some("https://example.com/hook".into());
        let body = create_body(&full).unwrap();
        assert_eq!(
            body,
            json!({"callback":{"url":"https://example.com/hook","method":"post"},"query":{"module":{"api_name":"Deals"},"fields":["Deal_Name","Amount"],"criteria":{"api_name":"Modified_Time","comparator":"greater_equal","value":"2024-05-01T00:00:00+00:00"},"page":2}})
        );
        let mut wide = input("Leads");
        wide.fields = Some((0..1001).map(|i| format!("F{i}")).collect());
        assert!(create_body(&wide).unwrap_err().message.contains("more than 1000 fields"));
        let mut plain = input("Leads");
        plain.callback_url = Some("http://example.com/hook".into());
        assert!(create_body(&plain).unwrap_err().message.contains("not https"));
        assert!(create_body(&input("Notes")).unwrap_err().message.contains("cannot be exported"));
        let mut both = input("Leads");
        both.page = Some(1);
        both.page_token = Some("abc".into());
        assert!(create_body(&both).unwrap_err().message.contains("not both"));
    }
    /// Zoho's answer echoing the access token where it is cut for display (a failed job's
    /// reason at 500 bytes, a download URL at 120, a job id at 40): each is redacted whole
    /// before it is cut, so the boundary's redaction leaves no prefix of the token.
    #[test]
    fn a_token_at_the_cut_of_a_job_answer_is_redacted_before_it_is_cut() {
        let token = format!("1000.{}", "a1b2c3d4".repeat(20));
        crate::redact::install(crate::redact::Redactor::new([token.as_str()]));
        let mut fixture = Fixture::default();
        fixture.connection.access_token = Some(token.clone());
        let reason = format!("{}{token}", "x".repeat(480));
        fixture.answer(200, &format!(r#"{{"data":[{{"id":"111","state":"FAILURE","error_message":"{reason}"}}]}}"#));
        let failure = status(&fixture.client(), &ReadStatusInput { job_id: "111".into() }).unwrap_err();
        let url = format!("https://evil.example/{}{token}", "z".repeat(85));
        fixture.answer(200, &format!(r#"{{"data":[{{"id":"111","state":"COMPLETED","result":{{"download_url":"{url}"}}}}]}}"#));
        let elsewhere = status(&fixture.client(), &ReadStatusInput { job_id: "111".into() }).unwrap_err();
        fixture.answer(200, &format!(r#"{{"data":[{{"id":"{}{token}","state":"COMPLETED"}}]}}"#, "9".repeat(25)));
        let odd_id = status(&fixture.client(), &ReadStatusInput { job_id: "111".into() }).unwrap_err();
        for error in [failure, elsewhere, odd_id] {
            let error = crate::redact::step().error(error);
            assert!(!error.message.contains(&token[..12]), "{}", error.message);
        }
        crate::redact::install(crate::redact::Redactor::default());
    }
}
