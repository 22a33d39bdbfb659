//! The WIT facade: each export forwards to its plain-Rust action with the generated input
//! record; failures leave as `zoho-error` with the connection's secrets removed.

mod keyvalue;
mod transport;

use crate::auth::Grant;
use crate::client::Client;
use crate::crm::{attachments, convert, coql, custom_views, deleted, files, find_or_create, modules, notes, records, related, related_lists, search, send_mail, tags, upsert, users};
use crate::error::ZohoError;
use crate::limits::Throttle;
use crate::redact::{self, Redactor};
use crate::storage::{self, memory::StepOnly, Storage};
use crate::wit::{books as wit_books, bulk as wit_bulk, crm, incremental as wit_incremental, notifications as wit_notifications, sync as wit_sync, types as wit};
use crate::{books, incremental, notifications, raw, sync};
use serde_json::Value;

struct Component;

crate::wit::export!(Component with_types_in crate::wit);

/// Runs one action with a client for this connection; every failure leaves as a `zoho-error`
/// with the connection's secrets removed from its text.
fn run_with<T>(key: &'static str, connection: wit::Connection, options: Option<wit::CallOptions>, action: impl FnOnce(&Client) -> crate::error::Result<T>) -> Result<T, wit::ZohoError> {
    run_limited(key, connection, options, None, None, action)
}

/// What a sweep keeps between steps (for the refusal without a store).
const SWEEP_STATE: &str = "a sweep cursor and each page's key range";
/// What a sync stream keeps between steps.
const STREAM_STATE: &str = "each stream's cursor and page ranges, the connection's credit budget and a request cap shared by every worker";

/// `run_with` for an action that keeps `keeps` between steps: refused before anything is sent
/// when the host has no key-value store.
fn run_keeping<T>(
    key: &'static str,
    connection: wit::Connection,
    options: Option<wit::CallOptions>,
    keeps: &'static str,
    throttle: Option<Throttle>,
    action: impl FnOnce(&Client) -> crate::error::Result<T>,
) -> Result<T, wit::ZohoError> {
    run_limited(key, connection, options, Some(keeps), throttle, action)
}

/// `run_with`, every request of the step held to `throttle` when given. Without a host store
/// the step runs on its own memory, unless the action `keeps` state between steps.
fn run_limited<T>(
    key: &'static str,
    connection: wit::Connection,
    options: Option<wit::CallOptions>,
    keeps: Option<&'static str>,
    throttle: Option<Throttle>,
    action: impl FnOnce(&Client) -> crate::error::Result<T>,
) -> Result<T, wit::ZohoError> {
    // The step's setup is one function for every action, not a copy per action (one per
    // export made the component tens of kilobytes larger): the action comes in as `dyn`.
    let mut action = Some(action);
    let mut outcome: Option<crate::error::Result<T>> = None;
    open_step(connection, options, keeps, throttle, &mut |client| {
        if let Some(action) = action.take() {
            outcome = Some(action(client));
        }
    })?;
    match outcome {
        // A scope Zoho refused is told in the action's terms: the scopes it needs.
        Some(result) => result.map_err(|e| leaving(crate::scopes::explain(key, e))),
        None => Err(leaving(ZohoError::new(crate::error::ErrorKind::Internal, "the step ended before its action ran"))),
    }
}

/// An error as it leaves the component: through the step's redactor (code, message and
/// details, searched decoded).
fn leaving(e: ZohoError) -> wit::ZohoError {
    wit::ZohoError::from(redact::step().error(e))
}

/// Sets a step up (redactor, storage, client) and runs `body` with its client.
#[inline(never)]
fn open_step(connection: wit::Connection, options: Option<wit::CallOptions>, keeps: Option<&'static str>, throttle: Option<Throttle>, body: &mut dyn FnMut(&Client)) -> Result<(), wit::ZohoError> {
    // The step's redactor starts with the connection's secrets; tokens issued are added as they
    // come.
    redact::install(Redactor::new(connection.secrets()));
    let options = options.unwrap_or_default();
    let host_store = keyvalue::KeyValue::open().map_err(leaving)?;
    let step_memory = StepOnly::default();
    let storage: &dyn Storage = match &host_store {
        Some(store) => store,
        None => &step_memory,
    };
    if let Some(keeps) = keeps {
        storage::require_durable(storage, keeps).map_err(leaving)?;
    }
    let mut client = Client::new(&connection, &options, &transport::WasiHttp, storage).map_err(leaving)?;
    if host_store.is_none() {
        warn_step_memory(&connection);
    }
    if let Some(throttle) = throttle {
        client = client.with_throttle(throttle);
    }
    body(&client);
    Ok(())
}

/// A line in the step's log: without a store nothing outlives the step, the token included.
fn warn_step_memory(connection: &wit::Connection) {
    let token = if Grant::of(connection).is_ok_and(|grant| grant.renewable()) {
        "; its access token is requested anew and forgotten (Zoho throttles token requests and keeps about 30 live tokens per refresh token: give the host a store for frequent steps)"
    } else {
        ""
    };
    eprintln!("zoho: the host provides no key-value store: this step keeps its caches and counters in its own memory{token}");
}

/// `run_with` for the actions that compose their JSON text themselves (records passed
/// through as Zoho's text, never as a tree).
fn run_text(key: &'static str, connection: wit::Connection, options: Option<wit::CallOptions>, action: impl FnOnce(&Client) -> crate::error::Result<String>) -> Result<String, wit::ZohoError> {
    run_with(key, connection, options, action).map(output_text)
}

/// `run_with` for the actions whose Ok value is JSON text.
fn run(key: &'static str, connection: wit::Connection, options: Option<wit::CallOptions>, action: impl FnOnce(&Client) -> crate::error::Result<Value>) -> Result<String, wit::ZohoError> {
    run_with(key, connection, options, action).map(output)
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

impl crm::Guest for Component {
    fn create_record(connection: wit::Connection, input: crm::CreateRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-create-record", connection, options, |client| records::create_record(client, &input))
    }

    fn get_record(connection: wit::Connection, input: crm::GetRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-get-record", connection, options, |client| records::get_record(client, &input))
    }

    fn get_records(connection: wit::Connection, input: crm::GetRecordsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-get-records", connection, options, |client| records::get_records(client, &input))
    }

    fn update_record(connection: wit::Connection, input: crm::UpdateRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-update-record", connection, options, |client| records::update_record(client, &input))
    }

    fn remove_record(connection: wit::Connection, input: crm::RemoveRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-remove-record", connection, options, |client| records::remove_record(client, &input))
    }

    fn update_records(connection: wit::Connection, input: crm::UpdateRecordsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-update-records", connection, options, |client| crate::crm::many_records::update_records(client, &input))
    }

    fn remove_records(connection: wit::Connection, input: crm::RemoveRecordsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-remove-records", connection, options, |client| crate::crm::many_records::remove_records(client, &input))
    }

    fn coql_query(connection: wit::Connection, input: crm::CoqlQueryInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-coql-query", connection, options, |client| coql::coql_query_action(client, &input))
    }

    fn add_attachment(connection: wit::Connection, input: crm::AddAttachmentInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-add-attachment", connection, options, |client| attachments::add_attachment(client, input))
    }

    fn raw_request(connection: wit::Connection, input: wit::RawRequestInput, options: Option<wit::CallOptions>) -> Result<wit::RawResponse, wit::ZohoError> {
        run_with("crm-raw-request", connection, options, |client| raw::crm_raw_request(client, &input))
    }

    fn upsert_records(connection: wit::Connection, input: crm::UpsertRecordsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-upsert-records", connection, options, |client| upsert::upsert_records(client, &input))
    }

    fn find_or_create_record(connection: wit::Connection, input: crm::FindOrCreateRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-find-or-create-record", connection, options, |client| find_or_create::find_or_create_record(client, &input))
    }

    fn search_records(connection: wit::Connection, input: crm::SearchRecordsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-search-records", connection, options, |client| search::search_records(client, &input))
    }

    fn convert_lead(connection: wit::Connection, input: crm::ConvertLeadInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-convert-lead", connection, options, |client| convert::convert_lead(client, &input))
    }

    fn get_related_records(connection: wit::Connection, input: crm::GetRelatedRecordsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-get-related-records", connection, options, |client| related::get_related_records(client, &input))
    }

    fn add_note(connection: wit::Connection, input: crm::AddNoteInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-add-note", connection, options, |client| notes::add_note(client, &input))
    }

    fn add_tags(connection: wit::Connection, input: crm::AddTagsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-add-tags", connection, options, |client| tags::add_tags(client, &input))
    }

    fn remove_tags(connection: wit::Connection, input: crm::RemoveTagsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-remove-tags", connection, options, |client| tags::remove_tags(client, &input))
    }

    fn list_attachments(connection: wit::Connection, input: crm::ListAttachmentsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-list-attachments", connection, options, |client| attachments::list_attachments(client, &input))
    }

    fn download_attachment(connection: wit::Connection, input: crm::DownloadAttachmentInput, options: Option<wit::CallOptions>) -> Result<wit::DownloadedFile, wit::ZohoError> {
        run_with("crm-download-attachment", connection, options, |client| attachments::download_attachment(client, &input))
    }

    fn get_deleted_records(connection: wit::Connection, input: crm::GetDeletedRecordsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-get-deleted-records", connection, options, |client| deleted::get_deleted_records(client, &input))
    }

    fn list_modules(connection: wit::Connection, input: crm::ListModulesInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-list-modules", connection, options, |client| modules::list_modules(client, &input))
    }

    fn describe_module(connection: wit::Connection, input: crm::DescribeModuleInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-describe-module", connection, options, |client| modules::describe_module(client, &input))
    }

    fn list_users(connection: wit::Connection, input: crm::ListUsersInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-list-users", connection, options, |client| users::list_users(client, &input))
    }

    fn get_user(connection: wit::Connection, input: crm::GetUserInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-get-user", connection, options, |client| users::get_user(client, &input))
    }

    fn list_related_lists(connection: wit::Connection, input: crm::ListRelatedListsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-list-related-lists", connection, options, |client| related_lists::list_related_lists(client, &input))
    }

    fn list_custom_views(connection: wit::Connection, input: crm::ListCustomViewsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-list-custom-views", connection, options, |client| custom_views::list_custom_views(client, &input))
    }

    fn list_tags(connection: wit::Connection, input: crm::ListTagsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-list-tags", connection, options, |client| tags::list_tags(client, &input))
    }

    fn run_composite(connection: wit::Connection, input: crm::RunCompositeInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-run-composite", connection, options, |client| crate::crm::composite::run_composite(client, &input))
    }

    fn test_connection(connection: wit::Connection, input: crm::TestConnectionInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-test-connection", connection, options, |client| crate::crm::connection_test::test_connection(client, &input))
    }

    fn link_related_record(connection: wit::Connection, input: crm::LinkRelatedRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-link-related-record", connection, options, |client| crate::crm::related_links::link_related_record(client, &input))
    }

    fn unlink_related_record(connection: wit::Connection, input: crm::UnlinkRelatedRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-unlink-related-record", connection, options, |client| crate::crm::related_links::unlink_related_record(client, &input))
    }

    fn list_notes(connection: wit::Connection, input: crm::ListNotesInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-list-notes", connection, options, |client| notes::list_notes(client, &input))
    }

    fn update_note(connection: wit::Connection, input: crm::UpdateNoteInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-update-note", connection, options, |client| notes::update_note(client, &input))
    }

    fn remove_note(connection: wit::Connection, input: crm::RemoveNoteInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-remove-note", connection, options, |client| notes::remove_note(client, &input))
    }

    fn send_email(connection: wit::Connection, input: crm::SendEmailInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-send-email", connection, options, |client| send_mail::send_email(client, &input))
    }

    fn upload_file_field(connection: wit::Connection, input: crm::UploadFileFieldInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-upload-file-field", connection, options, |client| files::upload_file_field(client, input))
    }

    fn list_from_addresses(connection: wit::Connection, input: crm::ListFromAddressesInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("crm-list-from-addresses", connection, options, |client| send_mail::list_from_addresses(client, &input))
    }
}

impl wit_books::Guest for Component {
    fn create_record(connection: wit::Connection, input: wit_books::CreateRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("books-create-record", connection, options, |client| books::records::create_record(client, &input))
    }

    fn get_record(connection: wit::Connection, input: wit_books::GetRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("books-get-record", connection, options, |client| books::records::get_record(client, &input))
    }

    fn get_records(connection: wit::Connection, input: wit_books::GetRecordsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("books-get-records", connection, options, |client| books::records::get_records(client, &input))
    }

    fn update_record(connection: wit::Connection, input: wit_books::UpdateRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("books-update-record", connection, options, |client| books::records::update_record(client, &input))
    }

    fn remove_record(connection: wit::Connection, input: wit_books::RemoveRecordInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("books-remove-record", connection, options, |client| books::records::remove_record(client, &input))
    }

    fn raw_request(connection: wit::Connection, input: wit::RawRequestInput, options: Option<wit::CallOptions>) -> Result<wit::RawResponse, wit::ZohoError> {
        run_with("books-raw-request", connection, options, |client| books::records::raw_request(client, &input))
    }

    fn record_action(connection: wit::Connection, input: wit_books::RecordActionInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_text("books-record-action", connection, options, |client| books::actions::record_action(client, &input))
    }

    fn get_record_document(connection: wit::Connection, input: wit_books::GetRecordDocumentInput, options: Option<wit::CallOptions>) -> Result<wit::DownloadedFile, wit::ZohoError> {
        run_with("books-get-record-document", connection, options, |client| books::documents::get_record_document(client, &input))
    }

    fn list_modified_records_by_page(connection: wit::Connection, input: wit_books::ListModifiedRecordsByPageInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_keeping("books-list-modified-records-by-page", connection, options, SWEEP_STATE, None, |client| books::sweep::list_modified_records_by_page(client, &input)).map(output_text)
    }

    fn update_last_successful_run_date(connection: wit::Connection, input: wit_books::UpdateLastSuccessfulRunDateInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_keeping("books-update-last-successful-run-date", connection, options, SWEEP_STATE, None, |client| books::sweep::update_last_successful_run_date(client, &input)).map(output)
    }

    fn describe_resource(connection: wit::Connection, input: wit_books::DescribeResourceInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run("books-describe-resource", connection, options, |_| books::documented_fields::describe_resource(&input.record_type))
    }
}

impl wit_incremental::Guest for Component {
    fn list_contacts_by_page(connection: wit::Connection, input: wit_incremental::ListContactsByPageInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_keeping("incremental-list-contacts-by-page", connection, options, SWEEP_STATE, None, |client| incremental::list_contacts_by_page(client, &input)).map(output_text)
    }

    fn list_modified_records_by_page(connection: wit::Connection, input: wit_incremental::ListModifiedRecordsByPageInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_keeping("incremental-list-modified-records-by-page", connection, options, SWEEP_STATE, None, |client| incremental::list_modified_records_by_page(client, &input)).map(output_text)
    }

    fn update_last_successful_run_date(connection: wit::Connection, input: wit_incremental::UpdateLastSuccessfulRunDateInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_keeping("incremental-update-last-successful-run-date", connection, options, SWEEP_STATE, None, |client| incremental::update_last_successful_run_date(client, &input)).map(output)
    }
}

impl wit_sync::Guest for Component {
    fn discover(connection: wit::Connection, input: wit_sync::DiscoverInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run("sync-discover", connection, options, |client| sync::discover(client, &input))
    }

    fn read_stream_page(connection: wit::Connection, input: wit_sync::ReadStreamPageInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_keeping("sync-read-stream-page", connection, options, STREAM_STATE, Some(sync::throttle_of(&input)), |client| sync::read_stream_page(client, &input)).map(output_text)
    }

    fn commit_stream(connection: wit::Connection, input: wit_sync::CommitStreamInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_keeping("sync-commit-stream", connection, options, STREAM_STATE, None, |client| sync::commit_stream(client, &input)).map(output)
    }
}

impl wit_notifications::Guest for Component {
    fn enable(connection: wit::Connection, input: wit_notifications::EnableInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("notifications-enable", connection, options, |client| notifications::enable(client, &input)).map(output_text)
    }

    fn renew(connection: wit::Connection, input: wit_notifications::RenewInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("notifications-renew", connection, options, |client| notifications::renew(client, &input)).map(output_text)
    }

    fn disable(connection: wit::Connection, input: wit_notifications::DisableInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("notifications-disable", connection, options, |client| notifications::disable(client, &input)).map(output_text)
    }

    fn list(connection: wit::Connection, input: wit_notifications::ListInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("notifications-list", connection, options, |client| notifications::list(client, &input)).map(output_text)
    }

    fn list_events(connection: wit::Connection, input: wit_notifications::ListEventsInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("notifications-list-events", connection, options, |client| notifications::list_events(client, &input)).map(output_text)
    }

    fn parse(connection: wit::Connection, input: wit_notifications::ParseInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("notifications-parse", connection, options, |client| notifications::parse(client, &input)).map(output_text)
    }
}

impl wit_bulk::Guest for Component {
    fn read_create(connection: wit::Connection, input: wit_bulk::ReadCreateInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("bulk-read-create", connection, options, |client| crate::bulk::read_create(client, &input)).map(output_text)
    }

    fn read_status(connection: wit::Connection, input: wit_bulk::ReadStatusInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("bulk-read-status", connection, options, |client| crate::bulk::read_status(client, &input)).map(output_text)
    }

    fn read_result_page(connection: wit::Connection, input: wit_bulk::ReadResultPageInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("bulk-read-result-page", connection, options, |client| crate::bulk::read_result_page(client, &input)).map(output_text)
    }

    fn write_upload(connection: wit::Connection, input: wit_bulk::WriteUploadInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("bulk-write-upload", connection, options, |client| crate::bulk::write_upload(client, &input)).map(output_text)
    }

    fn write_create(connection: wit::Connection, input: wit_bulk::WriteCreateInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("bulk-write-create", connection, options, |client| crate::bulk::write_create(client, &input)).map(output_text)
    }

    fn write_status(connection: wit::Connection, input: wit_bulk::WriteStatusInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("bulk-write-status", connection, options, |client| crate::bulk::write_status(client, &input)).map(output_text)
    }

    fn write_result(connection: wit::Connection, input: wit_bulk::WriteResultInput, options: Option<wit::CallOptions>) -> Result<String, wit::ZohoError> {
        run_with("bulk-write-result", connection, options, |client| crate::bulk::write_result(client, &input)).map(output_text)
    }
}
