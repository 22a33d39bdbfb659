//! The WIT facade: WIT records in, plain Rust actions, WIT results out.

mod keyvalue;
mod transport;

pub(crate) mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "connector", generate_all });
}

use crate::client::Client;
use crate::connection::Connection;
use crate::crm::records::{self, ListInput, WriteInput};
use crate::error::{ErrorKind, ZohoError};
use crate::options::CallOptions;
use bindings::exports::zoho::connector::crm::{
    CreateRecordInput, GetRecordInput, GetRecordsInput, Guest as Crm, RemoveRecordInput, UpdateRecordInput,
};
use bindings::exports::zoho::connector::types as wit;
use serde_json::Value;

struct Component;

bindings::export!(Component with_types_in bindings);

impl From<wit::Connection> for Connection {
    fn from(c: wit::Connection) -> Self {
        Connection {
            region: c.region,
            accounts_url: c.accounts_url,
            api_domain: c.api_domain,
            client_id: c.client_id,
            client_secret: c.client_secret,
            refresh_token: c.refresh_token,
            soid: c.soid,
            scopes: c.scopes,
            access_token: c.access_token,
            books_organization_id: c.books_organization_id,
        }
    }
}

impl From<Option<wit::CallOptions>> for CallOptions {
    fn from(o: Option<wit::CallOptions>) -> Self {
        let o = o.unwrap_or(wit::CallOptions {
            debug: None,
            timeout_ms: None,
            max_retries: None,
            retry_delay_ms: None,
            exponential_backoff: None,
            retry_on_all_errors: None,
        });
        CallOptions {
            debug: o.debug,
            timeout_ms: o.timeout_ms,
            max_retries: o.max_retries,
            retry_delay_ms: o.retry_delay_ms,
            exponential_backoff: o.exponential_backoff,
            retry_on_all_errors: o.retry_on_all_errors,
        }
    }
}

impl From<ZohoError> for wit::ZohoError {
    fn from(e: ZohoError) -> Self {
        wit::ZohoError {
            kind: match e.kind {
                ErrorKind::InvalidInput => wit::ErrorKind::InvalidInput,
                ErrorKind::Unauthorized => wit::ErrorKind::Unauthorized,
                ErrorKind::Forbidden => wit::ErrorKind::Forbidden,
                ErrorKind::NotFound => wit::ErrorKind::NotFound,
                ErrorKind::Conflict => wit::ErrorKind::Conflict,
                ErrorKind::RateLimited => wit::ErrorKind::RateLimited,
                ErrorKind::CreditsExhausted => wit::ErrorKind::CreditsExhausted,
                ErrorKind::Zoho => wit::ErrorKind::Zoho,
                ErrorKind::Transport => wit::ErrorKind::Transport,
                ErrorKind::Timeout => wit::ErrorKind::Timeout,
                ErrorKind::Internal => wit::ErrorKind::Internal,
            },
            status: e.status,
            code: e.code,
            message: e.message,
            details: e.details.map(|d| d.to_string()),
            retry_after_ms: e.retry_after_ms,
        }
    }
}

/// Runs one action with a client for this connection; every failure leaves as a `zoho-error`
/// with the connection's secrets removed from its text.
fn run(
    connection: wit::Connection,
    options: Option<wit::CallOptions>,
    action: impl FnOnce(&Client) -> crate::error::Result<Value>,
) -> Result<String, wit::ZohoError> {
    let connection = Connection::from(connection);
    let options = CallOptions::from(options);
    let storage = keyvalue::KeyValue::open().map_err(wit::ZohoError::from)?;
    let client = Client::new(&connection, &options, &transport::WasiHttp, &storage).map_err(wit::ZohoError::from)?;
    match action(&client) {
        Ok(value) => Ok(value.to_string()),
        Err(mut e) => {
            e.message = client.redact(&e.message);
            e.details = e.details.map(|d| serde_json::from_str(&client.redact(&d.to_string())).unwrap_or(Value::Null));
            Err(e.into())
        }
    }
}

impl Crm for Component {
    fn create_record(connection: wit::Connection, input: CreateRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        let input = WriteInput {
            record_type: input.record_type,
            record_id: None,
            values: input.values,
            dynamic_fields: input.dynamic_fields,
            trigger: input.trigger,
        };
        run(connection, options, |client| records::create_record(client, &input))
    }

    fn get_record(connection: wit::Connection, input: GetRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run(connection, options, |client| records::get_record(client, &input.record_type, &input.record_id, input.fields.as_deref()))
    }

    fn get_records(connection: wit::Connection, input: GetRecordsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        let input = ListInput {
            record_type: input.record_type,
            fields: input.fields,
            page: input.page,
            per_page: input.per_page,
            page_token: input.page_token,
            sort_order: input.sort_order,
            sort_by: input.sort_by,
            cvid: input.cvid,
        };
        run(connection, options, |client| records::get_records(client, &input))
    }

    fn update_record(connection: wit::Connection, input: UpdateRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        let input = WriteInput {
            record_type: input.record_type,
            record_id: Some(input.record_id),
            values: input.values,
            dynamic_fields: input.dynamic_fields,
            trigger: input.trigger,
        };
        run(connection, options, |client| records::update_record(client, &input))
    }

    fn remove_record(connection: wit::Connection, input: RemoveRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run(connection, options, |client| records::remove_record(client, &input.record_type, &input.record_id))
    }
}
