//! Query parameters list endpoints share, read as Zoho reads them: `per_page` 1–200 (200 when
//! absent), `page` from 1, `fields` required and at most 50 of the module's fields.

use crate::request::RecordedRequest;
use crate::response::error_response;
use crate::state::FieldDef;
use axum::response::Response;
use serde_json::json;

const MAX_FIELDS: usize = 50;
const MAX_PER_PAGE: usize = 200;

pub fn bad_param(param: &str, message: &str) -> Response {
    error_response(400, "INVALID_DATA", message, json!({ "param_name": param }))
}

pub fn per_page(request: &RecordedRequest) -> Result<usize, Response> {
    match request.query_param("per_page").map(str::parse::<usize>) {
        None => Ok(MAX_PER_PAGE),
        Some(Ok(n)) if (1..=MAX_PER_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(bad_param("per_page", "per_page must be between 1 and 200")),
    }
}

pub fn page(request: &RecordedRequest) -> Result<usize, Response> {
    match request.query_param("page").map(str::parse::<usize>) {
        None => Ok(1),
        Some(Ok(p)) if p >= 1 => Ok(p),
        Some(_) => Err(bad_param("page", "page must be a number from 1")),
    }
}

/// The `fields` asked for, each one of `known` (None: any name); `None` when not given.
pub fn fields<'a>(request: &'a RecordedRequest, known: Option<&[FieldDef]>) -> Result<Option<Vec<&'a str>>, Response> {
    let Some(param) = request.query_param("fields") else { return Ok(None) };
    let fields: Vec<&str> = param.split(',').filter(|f| !f.is_empty()).collect();
    if fields.len() > MAX_FIELDS {
        return Err(error_response(400, "LIMIT_EXCEEDED", "the number of fields exceeds the limit", json!({ "param_name": "fields", "limit": MAX_FIELDS })));
    }
    if let Some(unknown) = fields.iter().find(|f| known.is_some_and(|k| !k.iter().any(|d| d.api_name == **f))) {
        return Err(error_response(400, "INVALID_DATA", "invalid field name in fields", json!({ "api_name": unknown, "param_name": "fields" })));
    }
    Ok(Some(fields))
}

/// [`fields`] where Zoho requires them.
pub fn required_fields<'a>(request: &'a RecordedRequest, known: Option<&[FieldDef]>) -> Result<Vec<&'a str>, Response> {
    fields(request, known)?.ok_or_else(|| error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "fields" })))
}
