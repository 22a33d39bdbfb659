//! Zoho's answers as the sandbox builds them: JSON bodies, empty answers, and CRM's error shape.
//! Every handler module uses these, so none of them has to import another handler module.

use axum::body::Body;
use axum::response::Response;
use serde_json::{json, Value};

pub fn json_response(status: u16, body: &Value) -> Response {
    Response::builder().status(status).header("content-type", "application/json;charset=UTF-8").body(Body::from(body.to_string())).unwrap_or_else(|_| Response::new(Body::empty()))
}

pub fn empty_response(status: u16) -> Response {
    Response::builder().status(status).body(Body::empty()).unwrap_or_else(|_| Response::new(Body::empty()))
}

pub fn error_body(code: &str, message: &str, details: Value) -> Value {
    json!({ "code": code, "details": details, "message": message, "status": "error" })
}

pub fn error_response(status: u16, code: &str, message: &str, details: Value) -> Response {
    json_response(status, &error_body(code, message, details))
}

/// Zoho's answer to a module name it does not know.
pub fn invalid_module() -> Response {
    error_response(400, "INVALID_MODULE", "the module name given seems to be invalid", json!({ "resource_path_index": 0 }))
}
