//! The sandbox's state: modules and records, tokens, page tokens, the request log, faults.

pub mod bulk_reads;
pub mod bulk_writes;
pub mod channels;
pub mod outbox;

use crate::clock::Clock;
use crate::faults::Fault;
use crate::request::RecordedRequest;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// A field of a module, as `/settings/fields` describes it.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub api_name: String,
    pub data_type: &'static str,
}

#[derive(Debug, Default, Clone)]
pub struct Module {
    pub fields: Vec<FieldDef>,
    /// The field Zoho requires on create (also the record's display name).
    pub mandatory: &'static str,
    /// Further fields a standard layout requires on create (Deals: Stage and Closing_Date).
    pub also_mandatory: &'static [&'static str],
    /// Fields whose values must be unique (DUPLICATE_DATA).
    pub unique: Vec<&'static str>,
    /// id → record (every field, system fields included).
    pub records: BTreeMap<u64, Map<String, Value>>,
    /// Bumped on every write; invalidates `by_modified`.
    pub revision: u64,
    /// (revision it was built at, ids in (Modified_Time, id) order): COQL's index for sweeps.
    pub by_modified: (u64, Vec<(i64, u64)>),
    /// `/settings/modules`' generated_type when it is neither custom nor default (`linking`).
    pub generated_type: Option<&'static str>,
}

/// An attachment as the sandbox stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAttachment {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub link_url: Option<String>,
    /// When it was attached (Zoho's time text): its Created_Time and Modified_Time.
    pub created_time: String,
}

/// A file in Zoho's file store (`POST /crm/v8/files`), by the id it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Where a page token points: the listing it belongs to and the offset of its page.
#[derive(Debug, Clone)]
pub struct PageToken {
    pub signature: String,
    pub offset: usize,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// How the accounts server answers token requests.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// Seconds an issued access token lives.
    pub token_lifetime_s: i64,
    /// Answer in the legacy shape: `expires_in_sec` in seconds, `expires_in` in milliseconds.
    pub legacy_expiry: bool,
    /// The api_domain handed out with tokens; `None` answers with the sandbox's own URL.
    pub api_domain: Option<String>,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        OAuthSettings { token_lifetime_s: 3600, legacy_expiry: false, api_domain: None }
    }
}

/// Zoho Books' data: organizations, and records per (collection, parent id).
#[derive(Default)]
pub struct BooksData {
    pub organizations: Vec<Value>,
    /// The default organization's records (see `books::organizations::records_of`).
    pub records: HashMap<(String, Option<String>), Vec<Value>>,
    /// Every other organization's records, by organization id: each keeps its own data.
    pub other_orgs: HashMap<String, HashMap<(String, Option<String>), Vec<Value>>>,
    /// (organization id, collection) → the last number of the collection's series.
    pub series: HashMap<(String, String), u64>,
}

/// One relation between two records (`crm::relations`): (module, id, module, id), the pair in
/// order, so it is the same from either side.
pub type RelationKey = (String, String, String, String);

#[derive(Default)]
pub struct Data {
    pub books: BooksData,
    pub modules: HashMap<String, Module>,
    /// access token → when it stops working
    pub tokens: HashMap<String, chrono::DateTime<chrono::Utc>>,
    /// access token → the scopes it was granted (a token absent here is not limited; see
    /// `scopes`)
    pub token_scopes: HashMap<String, Vec<String>>,
    /// refresh token → the scopes it was granted, which the access tokens it yields carry
    pub refresh_token_scopes: HashMap<String, Vec<String>>,
    /// client id → client secret
    pub clients: HashMap<String, String>,
    /// refresh token → the client it was issued to
    pub refresh_tokens: HashMap<String, String>,
    /// refresh token → when each access token of the last 10 minutes was granted from it
    pub grants: HashMap<String, Vec<chrono::DateTime<chrono::Utc>>>,
    /// Self Client organizations (the `<org id>` of `ZohoCRM.<org id>`).
    pub orgs: HashSet<String>,
    pub oauth: OAuthSettings,
    /// module → (id, deleted time) of deleted records, newest last
    pub deleted: HashMap<String, Vec<(String, chrono::DateTime<chrono::Utc>)>>,
    /// (module, id) → the display name a deleted record had (`display_name` of the feed)
    pub deleted_names: HashMap<(String, String), String>,
    /// (module, record id) → its attachments
    pub attachments: HashMap<(String, String), Vec<StoredAttachment>>,
    pub page_tokens: HashMap<String, PageToken>,
    /// lead id → the details its conversion answered (a converted lead leaves Leads).
    pub converted_leads: HashMap<String, Value>,
    /// Read If-Modified-Since as "modified after" (a record of the header's own second is out);
    /// the default lists that second too (see `crm::list`).
    pub if_modified_since_exclusive: bool,
    /// Related records (notes, attachments) from which a lead's conversion is scheduled (202
    /// SCHEDULED); `None`: every conversion is immediate.
    pub convert_schedule_from: Option<usize>,
    /// Records linked through a related list, with the relation's own fields (`crm::relations`).
    pub relations: HashMap<RelationKey, Map<String, Value>>,
    pub next_id: u64,
    pub next_token: u64,
    /// Zoho's file store: encrypted file id → the file.
    pub files: HashMap<String, StoredFile>,
    /// Mails sent (Send Mail): module, record id, the mail as sent.
    pub sent_mails: Vec<(String, String, Value)>,
}

/// The CRM store as a composite request with rollback_on_fail found it: restored when one of
/// its sub-requests fails (v8 "Composite API": "rollback (revert all the changes)").
pub struct CrmSnapshot {
    modules: HashMap<String, Module>,
    deleted: HashMap<String, Vec<(String, chrono::DateTime<chrono::Utc>)>>,
    deleted_names: HashMap<(String, String), String>,
    attachments: HashMap<(String, String), Vec<StoredAttachment>>,
    converted_leads: HashMap<String, Value>,
}

/// The account's limits as Zoho enforces them: daily credits by edition, concurrent calls.
#[derive(Debug, Clone)]
pub struct Limits {
    pub edition: String,
    pub users: u64,
    pub credits_used: u64,
    pub max_concurrent: usize,
    /// Added to every API answer, so concurrency can be observed.
    pub latency: std::time::Duration,
    /// Up to this much more per answer, drawn from `seed` and the request's arrival number
    /// (the same in every run; see `realism::delay`).
    pub jitter: std::time::Duration,
    pub seed: u64,
    /// COQL's own cap on calls in flight (Zoho's heavy APIs: about 10).
    pub max_concurrent_coql: usize,
    /// CRM calls answered, refusals included.
    pub calls: u64,
    /// Zoho Books requests an organization may send a minute (Books: about 100) and a day (by
    /// plan: Free 1,000, Standard 2,000, Professional 5,000, Premium and above 10,000).
    pub books_per_minute: u64,
    pub books_per_day: u64,
    /// Books documents no order among records sharing a sort value: with this set, each list
    /// request of a Books collection orders such ties the opposite way to the request before
    /// (stored order, then reversed, ...), a server as unhelpful as the words allow.
    pub books_reorder_ties: bool,
    /// Every Books answer carries the day's `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining`
    /// and `X-Rate-Limit-Reset` (Zoho names the headers, not which answers carry them; a 429
    /// always does).
    pub books_day_headers: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            edition: "enterprise".into(),
            users: 10,
            credits_used: 0,
            max_concurrent: 20,
            latency: std::time::Duration::ZERO,
            jitter: std::time::Duration::ZERO,
            seed: 0,
            max_concurrent_coql: 10,
            calls: 0,
            books_per_minute: 100,
            books_per_day: 10_000,
            books_reorder_ties: false,
            books_day_headers: false,
        }
    }
}

impl Limits {
    pub fn allotment(&self) -> u64 {
        let users = self.users;
        match self.edition.as_str() {
            "free" => 5_000,
            "standard" => (50_000 + 250 * users).min(100_000),
            "professional" => 50_000 + 500 * users,
            "enterprise" => 50_000 + 1_000 * users,
            _ => 50_000 + 2_000 * users,
        }
    }
}

pub struct Shared {
    pub data: Mutex<Data>,
    pub limits: Mutex<Limits>,
    /// Requests being answered now, and the most seen at once.
    pub in_flight: std::sync::atomic::AtomicUsize,
    pub max_in_flight: std::sync::atomic::AtomicUsize,
    /// COQL requests being answered now.
    pub coql_in_flight: std::sync::atomic::AtomicUsize,
    pub clock: Clock,
    log: Mutex<Vec<RecordedRequest>>,
    faults: Mutex<VecDeque<Fault>>,
    /// Told of every answered exchange (the tests' OpenAPI judge).
    observer: Mutex<Option<Observer>>,
    next_seq: std::sync::atomic::AtomicU64,
    /// Instant-notification channels (`/crm/v8/actions/watch`).
    pub watch: channels::Channels,
    /// Zoho Books requests counted per organization and minute, and per day.
    pub books_requests: Mutex<HashMap<(String, i64), u64>>,
    /// Deliveries to the channels' notify URLs, and their fault switch.
    pub outbox: outbox::Outbox,
    /// Bulk read (export) jobs and their knobs.
    pub bulk_reads: bulk_reads::Jobs,
    /// Bulk write (import) files, jobs and their knobs.
    pub bulk_writes: bulk_writes::Jobs,
}

/// Sees each exchange once the sandbox answered it (request with status and body).
pub type Observer = std::sync::Arc<dyn Fn(&RecordedRequest) + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not wedge the sandbox for the others.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub fn new() -> Self {
        Shared {
            data: Mutex::new(Data { next_id: 5_725_767_000_000_524_157, next_token: 1, ..Default::default() }),
            clock: Clock::new(),
            limits: Mutex::new(Limits::default()),
            in_flight: Default::default(),
            max_in_flight: Default::default(),
            coql_in_flight: Default::default(),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(VecDeque::new()),
            observer: Mutex::new(None),
            next_seq: Default::default(),
            watch: Default::default(),
            outbox: Default::default(),
            books_requests: Mutex::new(HashMap::new()),
            bulk_reads: Default::default(),
            bulk_writes: Default::default(),
        }
    }

    pub fn books_requests(&self) -> MutexGuard<'_, HashMap<(String, i64), u64>> {
        lock(&self.books_requests)
    }

    pub fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }

    pub fn limits(&self) -> MutexGuard<'_, Limits> {
        lock(&self.limits)
    }

    /// A new access token living `oauth.token_lifetime_s` from the sandbox's now, not limited
    /// to any scopes.
    pub fn issue_token(&self) -> String {
        self.issue_token_with(None)
    }

    /// A new access token carrying `scopes` (None: not limited).
    pub fn issue_token_with(&self, scopes: Option<Vec<String>>) -> String {
        let now = self.clock.now();
        let mut data = self.data();
        let token = format!("1000.sandbox{:08}.{:016x}", data.next_token, data.next_token.wrapping_mul(0x9e3779b97f4a7c15));
        data.next_token += 1;
        let expires = now + chrono::Duration::seconds(data.oauth.token_lifetime_s);
        data.tokens.insert(token.clone(), expires);
        if let Some(scopes) = scopes {
            data.token_scopes.insert(token.clone(), scopes);
        }
        token
    }

    /// The scopes a token carries (None: not limited, or no such token).
    pub fn token_scopes(&self, token: &str) -> Option<Vec<String>> {
        self.data().token_scopes.get(token).cloned()
    }

    pub fn revoke_token(&self, token: &str) {
        self.data().tokens.remove(token);
    }

    pub fn token_is_valid(&self, token: &str) -> bool {
        let now = self.clock.now();
        self.data().tokens.get(token).is_some_and(|expires| *expires > now)
    }

    /// Logs a request; returns its `seq`.
    pub fn log(&self, mut request: RecordedRequest) -> u64 {
        let mut log = lock(&self.log);
        request.seq = self.next_seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let seq = request.seq;
        log.push(request);
        seq
    }

    /// Puts the answer next to its logged request (if the log still holds it) and tells the observer.
    pub fn answered(&self, exchange: RecordedRequest) {
        if let Some(logged) = lock(&self.log).iter_mut().rev().find(|r| r.seq == exchange.seq) {
            logged.response_status = exchange.response_status;
            logged.response_body.clone_from(&exchange.response_body);
            logged.faulted = exchange.faulted;
        }
        let observer = lock(&self.observer).clone();
        if let Some(observer) = observer {
            observer(&exchange);
        }
    }

    pub fn observe(&self, observer: Observer) {
        *lock(&self.observer) = Some(observer);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    pub fn inject(&self, fault: Fault) {
        lock(&self.faults).push_back(fault);
    }

    /// The fault that answers a request to `path`, if one is queued for it.
    pub fn next_fault(&self, path: &str) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let index = faults.iter().position(|f| path.starts_with(&f.path_prefix) && f.times > 0)?;
        if faults[index].after > 0 {
            faults[index].after -= 1;
            return None;
        }
        let fault = faults[index].clone();
        faults[index].times -= 1;
        if faults[index].times == 0 {
            faults.remove(index);
        }
        Some(fault)
    }

    /// The CRM's records and everything a record write touches, copied whole.
    pub fn crm_snapshot(&self) -> CrmSnapshot {
        let data = self.data();
        CrmSnapshot {
            modules: data.modules.clone(),
            deleted: data.deleted.clone(),
            deleted_names: data.deleted_names.clone(),
            attachments: data.attachments.clone(),
            converted_leads: data.converted_leads.clone(),
        }
    }

    /// Puts the CRM back as `snapshot` found it (ids handed out since stay used, as Zoho's do).
    pub fn restore_crm(&self, snapshot: CrmSnapshot) {
        let mut data = self.data();
        data.modules = snapshot.modules;
        data.deleted = snapshot.deleted;
        data.deleted_names = snapshot.deleted_names;
        data.attachments = snapshot.attachments;
        data.converted_leads = snapshot.converted_leads;
    }

    pub fn record(&self, module: &str, id: &str) -> Option<Value> {
        let id: u64 = id.parse().ok()?;
        self.data().modules.get(module)?.records.get(&id).map(|r| Value::Object(r.clone()))
    }

    pub fn record_count(&self, module: &str) -> usize {
        self.data().modules.get(module).map_or(0, |m| m.records.len())
    }
}

impl Default for Shared {
    fn default() -> Self {
        Self::new()
    }
}
