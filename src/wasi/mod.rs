//! The WIT facade: WIT records in, plain Rust actions, WIT results out.

mod keyvalue;
mod transport;

pub(crate) mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "connector", generate_all });
}

use crate::client::Client;
use crate::connection::Connection;
use crate::crm::attachments::{self, AttachmentInput, FileContent};
use crate::crm::coql;
use crate::crm::records::{self, ListInput, WriteInput};
use crate::raw::{self, RawBody, RawInput};
use crate::redact::{self, Redactor};
use crate::error::{ErrorKind, ZohoError};
use crate::options::CallOptions;
use bindings::exports::zoho::connector::crm::{
    AddAttachmentInput, CoqlQueryInput, CreateRecordInput, FileContent as WitFile, GetRecordInput, GetRecordsInput, Guest as Crm,
    RemoveRecordInput, UpdateRecordInput,
};
use bindings::exports::zoho::connector::books as wit_books;
use bindings::exports::zoho::connector::incremental as wit_incremental;
use crate::incremental;
use crate::limits::{self, Throttle};
use crate::sync;
use bindings::exports::zoho::connector::sync as wit_sync;
use bindings::exports::zoho::connector::types as wit;
use crate::books::records::{self as books_records, BooksInput};
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
fn run_with<T>(
    connection: wit::Connection,
    options: Option<wit::CallOptions>,
    action: impl FnOnce(&Client) -> crate::error::Result<T>,
) -> Result<T, wit::ZohoError> {
    run_limited(connection, options, None, action)
}

/// `run_with`, every request of the step held to `throttle` when given.
fn run_limited<T>(
    connection: wit::Connection,
    options: Option<wit::CallOptions>,
    throttle: Option<Throttle>,
    action: impl FnOnce(&Client) -> crate::error::Result<T>,
) -> Result<T, wit::ZohoError> {
    let connection = Connection::from(connection);
    // The step's redactor starts with the connection's secrets; tokens issued are added as they
    // come. Every error leaves through it: code, message and details, searched decoded.
    redact::install(Redactor::new(connection.secrets()));
    let leaving = |e: ZohoError| wit::ZohoError::from(redact::step().error(e));
    let options = CallOptions::from(options);
    let storage = keyvalue::KeyValue::open().map_err(leaving)?;
    let mut client = Client::new(&connection, &options, &transport::WasiHttp, &storage).map_err(leaving)?;
    if let Some(throttle) = throttle {
        client = client.with_throttle(throttle);
    }
    action(&client).map_err(leaving)
}

/// `run_with` for the actions that compose their JSON text themselves (records passed
/// through as Zoho's text, never as a tree).
fn run_text(
    connection: wit::Connection,
    options: Option<wit::CallOptions>,
    action: impl FnOnce(&Client) -> crate::error::Result<String>,
) -> Result<String, wit::ZohoError> {
    run_with(connection, options, action).map(output_text)
}

/// `run_with` for the actions whose Ok value is JSON text.
fn run(
    connection: wit::Connection,
    options: Option<wit::CallOptions>,
    action: impl FnOnce(&Client) -> crate::error::Result<Value>,
) -> Result<String, wit::ZohoError> {
    run_with(connection, options, action).map(output)
}

/// An Ok value as it leaves: a record echoing a token or secret shows it redacted.
fn output(value: Value) -> String {
    output_text(value.to_string())
}

/// An Ok value already written as JSON text (sweep pages), redacted the same way.
fn output_text(text: String) -> String {
    match redact::step().json(&text) {
        std::borrow::Cow::Owned(redacted) => redacted,
        std::borrow::Cow::Borrowed(_) => text,
    }
}

impl From<wit::RawRequestInput> for RawInput {
    fn from(i: wit::RawRequestInput) -> Self {
        RawInput {
            url: i.url,
            method: i.method,
            data: i.data,
            form_data: i.form_data,
            file_data: i.file_data,
            file_data_file_names: i.file_data_file_names,
            query_parameters: i.query_parameters,
            headers: i.headers,
            response_type: i.response_type,
        }
    }
}

impl From<raw::RawResponse> for wit::RawResponse {
    fn from(r: raw::RawResponse) -> Self {
        wit::RawResponse {
            status: r.status,
            headers: r.headers,
            body: match r.body {
                RawBody::Json(text) => wit::RawBody::Json(text),
                RawBody::Text(text) => wit::RawBody::Text(text),
                RawBody::Binary(bytes) => wit::RawBody::Binary(bytes),
            },
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
        run_text(connection, options, |client| records::create_record(client, &input))
    }

    fn get_record(connection: wit::Connection, input: GetRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text(connection, options, |client| records::get_record(client, &input.record_type, &input.record_id, input.fields.as_deref()))
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
        run_text(connection, options, |client| records::get_records(client, &input))
    }

    fn update_record(connection: wit::Connection, input: UpdateRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        let input = WriteInput {
            record_type: input.record_type,
            record_id: Some(input.record_id),
            values: input.values,
            dynamic_fields: input.dynamic_fields,
            trigger: input.trigger,
        };
        run_text(connection, options, |client| records::update_record(client, &input))
    }

    fn remove_record(connection: wit::Connection, input: RemoveRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text(connection, options, |client| records::remove_record(client, &input.record_type, &input.record_id))
    }

    fn coql_query(connection: wit::Connection, input: CoqlQueryInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text(connection, options, |client| coql::coql_query_from(client, &input.query, input.all_rows.unwrap_or(false), input.offset))
    }

    fn add_attachment(connection: wit::Connection, input: AddAttachmentInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        let input = AttachmentInput {
            record_type: input.record_type,
            record_id: input.record_id,
            file: input.file.map(|f| match f {
                WitFile::Text(text) => FileContent::Text(text),
                WitFile::Bytes(bytes) => FileContent::Bytes(bytes),
                WitFile::Base64(text) => FileContent::Base64(text),
            }),
            file_name: input.file_name,
            attachment_url: input.attachment_url,
        };
        run_text(connection, options, |client| attachments::add_attachment(client, input))
    }

    fn raw_request(connection: wit::Connection, input: wit::RawRequestInput, options: Option<wit::CallOptions>) -> Result<wit::RawResponse, wit::ZohoError> {
        let input = RawInput::from(input);
        run_with(connection, options, |client| raw::raw_request(client, "/crm/v8", &[], &input)).map(wit::RawResponse::from)
    }
}

/// Runs a Books action with the connection's organization (or the discovered default).
fn run_books(
    connection: wit::Connection,
    options: Option<wit::CallOptions>,
    input: BooksInput,
    action: fn(&Client, &BooksInput, &Option<String>) -> crate::error::Result<String>,
) -> Result<String, wit::ZohoError> {
    let organization = connection.books_organization_id.clone();
    run_text(connection, options, |client| action(client, &input, &organization))
}

impl wit_books::Guest for Component {
    fn create_record(connection: wit::Connection, input: wit_books::CreateRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        let input = BooksInput {
            record_type: input.record_type,
            parent_record_type: input.parent_record_type,
            parent_record_id: input.parent_record_id,
            values: Some(input.values),
            dynamic_fields: input.dynamic_fields,
            ..Default::default()
        };
        run_books(connection, options, input, books_records::create_record)
    }

    fn get_record(connection: wit::Connection, input: wit_books::GetRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        let input = BooksInput {
            record_type: input.record_type,
            record_id: Some(input.record_id),
            parent_record_type: input.parent_record_type,
            parent_record_id: input.parent_record_id,
            ..Default::default()
        };
        run_books(connection, options, input, books_records::get_record)
    }

    fn get_records(connection: wit::Connection, input: wit_books::GetRecordsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        let input = BooksInput {
            record_type: input.record_type,
            parent_record_type: input.parent_record_type,
            parent_record_id: input.parent_record_id,
            search_fields: input.search_fields,
            page: input.page,
            per_page: input.per_page,
            ..Default::default()
        };
        run_books(connection, options, input, books_records::get_records)
    }

    fn update_record(connection: wit::Connection, input: wit_books::UpdateRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        let input = BooksInput {
            record_type: input.record_type,
            record_id: Some(input.record_id),
            parent_record_type: input.parent_record_type,
            parent_record_id: input.parent_record_id,
            values: Some(input.values),
            dynamic_fields: input.dynamic_fields,
            ..Default::default()
        };
        run_books(connection, options, input, books_records::update_record)
    }

    fn remove_record(connection: wit::Connection, input: wit_books::RemoveRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        let input = BooksInput {
            record_type: input.record_type,
            record_id: Some(input.record_id),
            parent_record_type: input.parent_record_type,
            parent_record_id: input.parent_record_id,
            ..Default::default()
        };
        run_books(connection, options, input, books_records::remove_record)
    }

    fn raw_request(connection: wit::Connection, input: wit::RawRequestInput, options: Option<wit::CallOptions>) -> Result<wit::RawResponse, wit::ZohoError> {
        let input = RawInput::from(input);
        let organization = connection.books_organization_id.clone();
        run_with(connection, options, |client| {
            // Input first: a refused input costs neither the organization lookup nor a token.
            let call = raw::prepare(client, "/books/v3", &input)?;
            let id = crate::books::organization::organization_id(client, &organization)?;
            raw::send(client, call, &[("organization_id".to_string(), id)])
        })
        .map(wit::RawResponse::from)
    }
}

/// The incremental actions' input, scoped to the module (sync streams scope theirs by stream).
fn sweep_input(
    record_type: String,
    page: Option<u32>,
    per_page: Option<u32>,
    fields: Option<String>,
    since: Option<String>,
    include_deleted: Option<bool>,
) -> incremental::ListInput {
    incremental::ListInput { record_type, page, per_page, fields, since, anchor: None, scope: None, include_deleted }
}

impl wit_incremental::Guest for Component {
    fn list_contacts_by_page(
        connection: wit::Connection,
        input: wit_incremental::ListContactsByPageInput,
        options: Option<wit::CallOptions>,
    ) -> Result<String, wit::ZohoError> {
        let input = sweep_input("Contacts".into(), input.page, input.per_page, input.fields, input.since, input.include_deleted);
        run_with(connection, options, |client| incremental::list_modified_records(client, &input)).map(output_text)
    }

    fn list_modified_records_by_page(
        connection: wit::Connection,
        input: wit_incremental::ListModifiedRecordsByPageInput,
        options: Option<wit::CallOptions>,
    ) -> Result<String, wit::ZohoError> {
        let input = sweep_input(input.record_type, input.page, input.per_page, input.fields, input.since, input.include_deleted);
        run_with(connection, options, |client| incremental::list_modified_records(client, &input)).map(output_text)
    }

    fn update_last_successful_run_date(
        connection: wit::Connection,
        input: wit_incremental::UpdateLastSuccessfulRunDateInput,
        options: Option<wit::CallOptions>,
    ) -> Result<String, wit::ZohoError> {
        let record_type = input.record_type.filter(|r| !r.trim().is_empty()).unwrap_or_else(|| "Contacts".into());
        run(connection, options, |client| incremental::update_last_successful_run_date(client, &record_type, None, input.timestamp.as_deref()))
    }
}

impl wit_sync::Guest for Component {
    fn discover(connection: wit::Connection, _input: wit_sync::DiscoverInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run(connection, options, sync::discover)
    }

    fn read_stream_page(connection: wit::Connection, input: wit_sync::ReadStreamPageInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        // Zoho's largest edition allows 25 concurrent calls; no cap goes above it.
        let throttle = Throttle {
            max_in_flight: input.max_concurrency.unwrap_or(Throttle::DEFAULT.max_in_flight).clamp(1, limits::edition_concurrency("ultimate")),
            per_second: input.max_requests_per_second.unwrap_or(Throttle::DEFAULT.per_second).max(1),
        };
        let input = sync::StreamInput {
            stream: input.stream,
            page: input.page,
            per_page: input.per_page,
            anchor_date: input.anchor_date,
            backoff_at_credit_percentage: input.backoff_at_credit_percentage,
            fields: input.fields,
        };
        run_limited(connection, options, Some(throttle), |client| sync::read_stream_page(client, &input)).map(output_text)
    }

    fn commit_stream(connection: wit::Connection, input: wit_sync::CommitStreamInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run(connection, options, |client| sync::commit_stream(client, &input.stream))
    }
}
