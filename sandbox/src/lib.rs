//! A local stand-in for Zoho CRM v8 (and, as the connector grows, Books v3 and Accounts),
//! answering with the status codes and bodies of `shared/zoho-api.md`. Tests, the demo and
//! the benchmarks run against it: it keeps state, logs every request, and injects faults.

mod accounts;
mod apis;
mod books;
mod clock;
mod crm;
mod faults;
pub mod hostile;
mod params;
mod realism;
mod request;
mod response;
mod routes;
mod seed;
mod state;

pub use accounts::scopes;
pub use crm::search;

pub use clock::Clock;
pub use faults::Fault;
pub use hostile::Hostile;
pub use request::RecordedRequest;
pub use state::{Limits, OAuthSettings, StoredAttachment, StoredFile};

pub use accounts::account::{BOOKS_CONTACTS, BOOKS_ORG_ID, CLIENT_ID, CLIENT_SECRET, ORG_ID, REFRESH_TOKEN, REFRESH_TOKEN_SCOPES};

use state::Shared;
use std::net::SocketAddr;
use std::sync::Arc;

/// A running sandbox and the handles tests use to look inside it.
pub struct Sandbox {
    pub url: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Sandbox {
    /// Starts on a free loopback port with the standard seed data.
    pub async fn start() -> anyhow::Result<Sandbox> {
        Self::start_on(0).await
    }

    pub async fn start_on(port: u16) -> anyhow::Result<Sandbox> {
        let shared = Arc::new(Shared::new());
        seed::seed(&shared);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let app = routes::app(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Sandbox { url: format!("http://{addr}"), addr, shared, server })
    }

    /// A valid access token for API calls, not limited to any scopes.
    pub fn issue_token(&self) -> String {
        self.shared.issue_token()
    }

    /// A valid access token granted only `scopes` (separated by commas or spaces): a CRM
    /// request they do not cover is answered 401 OAUTH_SCOPE_MISMATCH.
    pub fn issue_token_with_scopes(&self, scopes: &str) -> String {
        self.shared.issue_token_with(Some(scopes::list(scopes)))
    }

    /// Registers a refresh token of the sandbox's client granted `scopes`; the access tokens it
    /// yields carry them.
    pub fn add_refresh_token(&self, refresh_token: &str, scopes: &str) {
        let mut data = self.shared.data();
        data.refresh_tokens.insert(refresh_token.to_string(), CLIENT_ID.to_string());
        data.refresh_token_scopes.insert(refresh_token.to_string(), scopes::list(scopes));
    }

    /// Makes a token unknown, as Zoho does when it expires or is revoked.
    pub fn revoke_token(&self, token: &str) {
        self.shared.revoke_token(token);
    }

    /// Sets the account's edition and licensed users (`/org`), credits already used today,
    /// the concurrent-call limit and an added latency per answer.
    pub fn set_limits(&self, limits: state::Limits) {
        *self.shared.limits() = limits;
    }

    pub fn limits(&self) -> state::Limits {
        self.shared.limits().clone()
    }

    /// The most CRM requests the sandbox was answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every access token issued so far (to check none leaks into output).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.data().tokens.keys().cloned().collect()
    }

    pub fn token_is_valid(&self, token: &str) -> bool {
        self.shared.token_is_valid(token)
    }

    /// Changes how the accounts server answers (token lifetime, legacy shape, api_domain).
    pub fn set_oauth(&self, settings: OAuthSettings) {
        self.shared.data().oauth = settings;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// Calls `observer` with every exchange once answered (request, status, body, faulted).
    pub fn observe(&self, observer: impl Fn(&RecordedRequest) + Send + Sync + 'static) {
        self.shared.observe(Arc::new(observer));
    }

    /// Answers the next requests with `fault` instead of the real handler.
    pub fn inject(&self, fault: Fault) {
        self.shared.inject(fault);
    }

    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// A stored record, as Zoho would return it with every field.
    pub fn record(&self, module: &str, id: &str) -> Option<serde_json::Value> {
        self.shared.record(module, id)
    }

    /// Replaces the Books organizations the account has (`organization_id`, `name`, `is_default_org`).
    pub fn set_books_organizations(&self, organizations: Vec<serde_json::Value>) {
        self.shared.data().books.organizations = organizations;
    }

    /// A Books record as stored: `collection` (e.g. "contacts"), under `parent_id` when nested.
    pub fn books_record(&self, collection: &str, parent_id: Option<&str>, id_field: &str, id: &str) -> Option<serde_json::Value> {
        let data = self.shared.data();
        data.books.records.get(&(collection.to_string(), parent_id.map(str::to_string)))?.iter().find(|r| r[id_field] == id).cloned()
    }

    /// Sets the Books requests `org` has sent today (a day mostly spent, in one call).
    pub fn set_books_used_today(&self, org: &str, used: u64) {
        books::records::set_used_today(&self.shared, org, used)
    }

    pub fn books_count(&self, collection: &str) -> usize {
        self.shared.data().books.records.get(&(collection.to_string(), None)).map_or(0, Vec::len)
    }

    /// Adds a module (custom, as an admin would create it) with text fields.
    pub fn add_module(&self, name: &str, fields: &[&str], mandatory: &'static str) {
        let mut defs: Vec<state::FieldDef> = vec![state::FieldDef { api_name: "id".into(), data_type: "bigint" }];
        defs.extend(fields.iter().map(|f| state::FieldDef { api_name: f.to_string(), data_type: "text" }));
        for f in ["Created_Time", "Modified_Time"] {
            defs.push(state::FieldDef { api_name: f.into(), data_type: "datetime" });
        }
        for f in ["Owner", "Created_By", "Modified_By"] {
            defs.push(state::FieldDef { api_name: f.into(), data_type: "ownerlookup" });
        }
        self.shared.data().modules.insert(name.to_string(), state::Module { fields: defs, mandatory, ..Default::default() });
    }

    /// Adds a linking module (the records joining a multi-select lookup's two modules), as
    /// Zoho makes one: `/settings/modules` lists it with `generated_type: linking`.
    pub fn add_linking_module(&self, name: &str, fields: &[&str], mandatory: &'static str) {
        self.add_module(name, fields, mandatory);
        if let Some(module) = self.shared.data().modules.get_mut(name) {
            module.generated_type = Some("linking");
        }
    }

    /// How the records list reads If-Modified-Since: `true` leaves out records of the header's
    /// own second (Zoho's pages are silent on it; the component must work either way).
    pub fn set_if_modified_since_exclusive(&self, exclusive: bool) {
        self.shared.data().if_modified_since_exclusive = exclusive;
    }

    /// Changes a record as a user would in Zoho: the values, and Modified_Time set to now.
    pub fn modify_record(&self, module: &str, id: &str, values: serde_json::Value) -> bool {
        let module_name = module;
        let now = clock::Clock::zoho_time(self.shared.clock.now());
        let mut data = self.shared.data();
        let Some(module) = data.modules.get_mut(module) else { return false };
        module.revision += 1;
        let Some(record) = id.parse().ok().and_then(|i: u64| module.records.get_mut(&i)) else {
            return false;
        };
        let values = match values {
            serde_json::Value::Object(values) => values,
            _ => serde_json::Map::new(),
        };
        record.extend(values.clone());
        record.insert("Modified_Time".into(), serde_json::json!(now));
        crm::notifications::deliveries::changed(&self.shared, module_name, crm::notifications::deliveries::Operation::Update, id, values);
        true
    }

    /// Creates a record as a user would; returns its id.
    pub fn create_record(&self, module: &str, values: serde_json::Value) -> String {
        let serde_json::Value::Object(values) = values else { return String::new() };
        crm::store::insert(&self.shared, module, values, self.shared.clock.now()).to_string()
    }

    /// Deletes a record as a user would (it shows in `/{module}/deleted`).
    pub fn delete_record(&self, module: &str, id: &str) -> bool {
        crm::records::delete_stored(&self.shared, module, id)
    }

    /// Every record id of a module with its Modified_Time.
    pub fn record_versions(&self, module: &str) -> Vec<(String, String)> {
        let data = self.shared.data();
        data.modules.get(module).map_or_else(Vec::new, |m| m.records.values().map(|r| (r["id"].as_str().unwrap_or("").to_string(), r["Modified_Time"].as_str().unwrap_or("").to_string())).collect())
    }

    /// The attachments stored on a record, oldest first.
    pub fn attachments(&self, module: &str, id: &str) -> Vec<StoredAttachment> {
        self.shared.data().attachments.get(&(module.to_string(), id.to_string())).cloned().unwrap_or_default()
    }

    pub fn record_count(&self, module: &str) -> usize {
        self.shared.record_count(module)
    }

    /// Attaches a file to a record as a user would; returns the attachment's id.
    pub fn add_attachment(&self, module: &str, id: &str, file_name: &str, content_type: &str, bytes: Vec<u8>) -> String {
        let attachment = StoredAttachment { id: String::new(), file_name: file_name.into(), content_type: content_type.into(), bytes, link_url: None, created_time: String::new() };
        crm::attachments::store(&self.shared, module, id, attachment).to_string()
    }

    /// Attaches a link (no file) to a record as a user would; returns the attachment's id.
    /// The files in Zoho's file store, by id.
    pub fn stored_files(&self) -> std::collections::HashMap<String, StoredFile> {
        self.shared.data().files.clone()
    }

    /// The mails Send Mail sent: (module, record id, the mail).
    pub fn sent_mails(&self) -> Vec<(String, String, serde_json::Value)> {
        self.shared.data().sent_mails.clone()
    }

    pub fn add_link_attachment(&self, module: &str, id: &str, url: &str) -> String {
        let attachment = StoredAttachment { id: String::new(), file_name: url.into(), content_type: String::new(), bytes: Vec::new(), link_url: Some(url.into()), created_time: String::new() };
        crm::attachments::store(&self.shared, module, id, attachment).to_string()
    }

    /// Runs until the process is stopped.
    pub async fn wait(mut self) {
        let _ = (&mut self.server).await;
    }
}

/// For tests: a module's id as /settings/modules lists it, and the PDF an invoice document is.
pub use books::actions::pdf as books_pdf;
pub use crm::metadata::module_id;
pub use seed::OTHER_BOOKS_ORG_ID;

pub use state::channels::Channel as WatchChannel;
pub use state::outbox::Delivery;

impl Sandbox {
    /// Drops `share` (0.0 to 1.0) of the deliveries from now on, deterministically: the n-th is
    /// dropped when `n * share` crosses an integer, so 0.3 drops exactly 3 of every 10.
    pub fn set_delivery_drop_share(&self, share: f64) {
        self.shared.outbox.set_drop_share(share);
    }

    /// Every delivery decided so far, in order: sent (with the notify URL's status once it
    /// answered) or dropped by the switch.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.outbox.deliveries()
    }

    /// Deliveries not made because the channel's notify URL is not a loopback http address.
    pub fn refused_deliveries(&self) -> usize {
        self.shared.outbox.refused()
    }

    /// The channels alive by the sandbox's clock (expired ones are gone).
    pub fn watch_channels(&self) -> Vec<WatchChannel> {
        crm::notifications::watch::live_channels(&self.shared, self.shared.clock.now())
    }
}

/// Zoho at a distance and at scale: latency with jitter, concurrency caps, the
/// credit table, large skewed modules.
pub use apis::{coql_credits, coql_limit};
pub use realism::{edition_concurrency, BulkModule};

impl Sandbox {
    /// Creates a large module in one go (see [`BulkModule`]); returns its ids in creation order.
    pub fn seed_bulk(&self, spec: &BulkModule) -> Vec<u64> {
        realism::seed_bulk(&self.shared, spec)
    }

    /// Sets `field` to `value` on each of `ids` with Modified_Time now, as one mass update.
    pub fn modify_bulk(&self, module: &str, ids: &[u64], field: &str, value: &serde_json::Value) -> usize {
        realism::modify_bulk(&self.shared, module, ids, field, value)
    }

    /// The CRM calls answered so far and the credits they cost by Zoho's table.
    pub fn usage(&self) -> (u64, u64) {
        let limits = self.shared.limits();
        (limits.calls, limits.credits_used)
    }
}

/// Where a deleted record's id stands in `/{module}/deleted` (smaller first): a stable order that
/// is neither time nor id, as Zoho documents none.
pub use crm::records::feed_position as deleted_feed_position;

impl Sandbox {
    /// From now on a lead with at least `related` notes and attachments converts as a scheduled
    /// job (202 SCHEDULED with a job id; `Some(0)`: every conversion); `None`: at once (200).
    /// Zoho documents the 202 answer, not when it chooses it.
    pub fn schedule_conversions_from(&self, related: Option<usize>) {
        self.shared.data().convert_schedule_from = related;
    }
}

impl Sandbox {
    /// The sandbox's routes over its own state, to serve on another listener as well (the
    /// bench's connection-counting and TLS fronts).
    pub fn router(&self) -> axum::Router {
        routes::app(self.shared.clone())
    }
}

pub use crm::bulk_read::{csv_of as bulk_read_csv, zip_of as bulk_read_zip};
pub use state::bulk_reads::Knobs as BulkReadKnobs;

impl Sandbox {
    /// Turns the bulk read jobs' knobs (page size, how long jobs take, a failing job, the next
    /// result's bytes).
    pub fn tune_bulk_reads(&self, change: impl FnOnce(&mut BulkReadKnobs)) {
        self.shared.bulk_reads.tune(change);
    }
}

pub use crm::bulk_write::upload::unzip_one as bulk_write_unzip;
pub use state::bulk_writes::Knobs as BulkWriteKnobs;

impl Sandbox {
    /// Turns the bulk write jobs' knobs (how long jobs take, a failing job, the next result's
    /// bytes, a download URL elsewhere).
    pub fn tune_bulk_writes(&self, change: impl FnOnce(&mut BulkWriteKnobs)) {
        self.shared.bulk_writes.tune(change);
    }

    /// Bulk write jobs created so far.
    pub fn bulk_write_jobs(&self) -> usize {
        self.shared.bulk_writes.count()
    }
}
