//! Typed calls for the exports whose results carry bytes (`list<u8>`: raw requests' binary
//! bodies, downloaded attachments, Books documents). wasmtime's dynamic API lifts every byte
//! as one 32-byte `Val` and charges it to the store's hostcall fuel, so a file past about 4 MiB
//! stopped the step and a 32 MiB one would cost a gigabyte; typed bindings lift bytes with one
//! copy. Inputs still go through `convert::to_val` first, so every action validates its JSON
//! the same way; the checked value is then read into the generated Rust types.
//!
//! In JSON, bytes are `{"base64": "..."}`: the form file inputs already take.

use crate::action::ActionRef;
use crate::convert::{from_val, to_val};
use anyhow::{anyhow, Context as _, Result};
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use wasmtime::component::{Instance, Type};
use wasmtime::AsContextMut;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "connector",
    exports: { default: async },
    additional_derives: [serde::Deserialize],
});

use exports::zoho::connector::types::{DownloadedFile, ErrorKind, RawBody, RawResponse, ZohoError};

/// The exports whose results carry bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BytesCall {
    CrmRawRequest,
    BooksRawRequest,
    DownloadAttachment,
    GetRecordDocument,
}

impl BytesCall {
    pub fn of(action: &ActionRef) -> Option<BytesCall> {
        match (action.interface.as_str(), action.function.as_str()) {
            ("crm", "raw-request") => Some(BytesCall::CrmRawRequest),
            ("books", "raw-request") => Some(BytesCall::BooksRawRequest),
            ("crm", "download-attachment") => Some(BytesCall::DownloadAttachment),
            ("books", "get-record-document") => Some(BytesCall::GetRecordDocument),
            _ => None,
        }
    }
}

/// The typed exports, found once per component (type-checked against the WIT).
pub struct Typed {
    indices: ConnectorIndices,
}

impl Typed {
    pub fn new<T: 'static>(pre: &wasmtime::component::InstancePre<T>) -> Result<Self> {
        Ok(Typed { indices: ConnectorIndices::new(pre).map_err(|e| anyhow!("the component does not match wit/world.wit: {e:#}"))? })
    }

    /// Runs `call` with the parameters as JSON (`params`: name, JSON, WIT type, in order).
    pub async fn call<T: Send + 'static>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        instance: &Instance,
        call: BytesCall,
        params: &[(&str, &Value, Type)],
    ) -> Result<std::result::Result<Value, Value>> {
        let exports = self.indices.load(&mut store, instance)?;
        let (connection, input, options) = match params {
            [(_, c, ct), (iname, i, it), (_, o, ot)] => (typed(c, ct, "connection")?, (i, it, *iname), typed_option(o, ot)?),
            _ => return Err(anyhow!("{call:?} takes connection, input and options")),
        };
        let (input, input_ty, name) = input;
        Ok(match call {
            BytesCall::CrmRawRequest => {
                let input = typed(input, input_ty, name)?;
                exports.zoho_connector_crm().call_raw_request(&mut store, &connection, &input, options).await?.map(raw_response_json)
            }
            BytesCall::BooksRawRequest => {
                let input = typed(input, input_ty, name)?;
                exports.zoho_connector_books().call_raw_request(&mut store, &connection, &input, options).await?.map(raw_response_json)
            }
            BytesCall::DownloadAttachment => {
                let input = typed(input, input_ty, name)?;
                exports.zoho_connector_crm().call_download_attachment(&mut store, &connection, &input, options).await?.map(file_json)
            }
            BytesCall::GetRecordDocument => {
                let input = typed(input, input_ty, name)?;
                exports.zoho_connector_books().call_get_record_document(&mut store, &connection, &input, options).await?.map(file_json)
            }
        }
        .map_err(error_json))
    }
}

/// JSON checked by `to_val` (unknown fields, required ones, numbers given as text), then read
/// into the generated type: WIT's kebab-case names become Rust's snake_case.
fn typed<D: DeserializeOwned>(value: &Value, ty: &Type, name: &str) -> Result<D> {
    let checked = from_val(&to_val(value, ty, name)?);
    serde_json::from_value(snake_keys(checked)).with_context(|| format!("{name}: not the WIT record"))
}

fn typed_option<D: DeserializeOwned>(value: &Value, ty: &Type) -> Result<Option<D>> {
    match from_val(&to_val(value, ty, "options")?) {
        Value::Null => Ok(None),
        checked => Ok(Some(serde_json::from_value(snake_keys(checked)).context("options: not the WIT record")?)),
    }
}

/// A record's keys as the generated struct names its fields (nested records included).
fn snake_keys(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(members.into_iter().map(|(k, v)| (k.replace('-', "_"), snake_keys(v))).collect::<Map<_, _>>()),
        Value::Array(items) => Value::Array(items.into_iter().map(snake_keys).collect()),
        other => other,
    }
}

fn bytes_json(bytes: &[u8]) -> Value {
    json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) })
}

fn file_json(file: DownloadedFile) -> Value {
    json!({ "file-name": file.file_name, "content-type": file.content_type, "content": bytes_json(&file.content) })
}

/// As the dynamic path shows a raw response, bytes excepted: the body is `{"json": text}`,
/// `{"text": text}` or `{"binary": {"base64": ...}}`.
fn raw_response_json(response: RawResponse) -> Value {
    let body = match response.body {
        RawBody::Json(text) => json!({ "json": text }),
        RawBody::Text(text) => json!({ "text": text }),
        RawBody::Binary(bytes) => json!({ "binary": bytes_json(&bytes) }),
    };
    let headers: Vec<Value> = response.headers.into_iter().map(|(k, v)| json!([k, v])).collect();
    json!({ "status": response.status, "headers": headers, "body": body })
}

/// The zoho-error as the dynamic path shows it: kind in WIT's name, details parsed as JSON.
fn error_json(error: ZohoError) -> Value {
    let kind = match error.kind {
        ErrorKind::InvalidInput => "invalid-input",
        ErrorKind::Unauthorized => "unauthorized",
        ErrorKind::Forbidden => "forbidden",
        ErrorKind::NotFound => "not-found",
        ErrorKind::Conflict => "conflict",
        ErrorKind::RateLimited => "rate-limited",
        ErrorKind::CreditsExhausted => "credits-exhausted",
        ErrorKind::Zoho => "zoho",
        ErrorKind::Transport => "transport",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Internal => "internal",
    };
    let details = error.details.map(|d| serde_json::from_str::<Value>(&d).unwrap_or(Value::String(d)));
    json!({
        "kind": kind, "status": error.status, "code": error.code, "message": error.message,
        "details": details, "retry-after-ms": error.retry_after_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_field_names_and_bytes_base64() {
        assert_eq!(snake_keys(json!({ "record-type": "Leads", "x": [{ "a-b": 1 }] })), json!({ "record_type": "Leads", "x": [{ "a_b": 1 }] }));
        let file = DownloadedFile { file_name: Some("a.pdf".into()), content_type: None, content: vec![0, 255, 10] };
        assert_eq!(file_json(file), json!({ "file-name": "a.pdf", "content-type": null, "content": { "base64": "AP8K" } }));
        let error = ZohoError { kind: ErrorKind::NotFound, status: Some(204), code: None, message: "m".into(), details: Some("{\"a\":1}".into()), retry_after_ms: None };
        assert_eq!(error_json(error), json!({ "kind": "not-found", "status": 204, "code": null, "message": "m", "details": { "a": 1 }, "retry-after-ms": null }));
    }
}
