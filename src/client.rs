//! One Zoho API exchange: URL, auth header, retries, debug log with secrets redacted.

use crate::auth::{authorization, Auth, Grant, Session};
use crate::connection::Connection;
use crate::credits::CreditTable;
use crate::error::{ErrorKind, Result};
use crate::http::{retry_after_ms, Body, BodySink, Method, Request, Response, Transport};
use crate::limits::{self, Throttle};
use crate::options::{CallOptions, MAX_RETRY_WAIT};
use crate::redact::{self, Redactor};
use crate::storage::Storage;
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub struct Client<'a> {
    pub transport: &'a dyn Transport,
    pub storage: &'a dyn Storage,
    pub options: &'a CallOptions,
    auth: Auth<'a>,
    /// The session in use, taken on the first request.
    session: RefCell<Option<Session>>,
    /// A cap on in-flight requests and requests per second (sync pipelines set one).
    throttle: Option<Throttle>,
    /// The connection's Books organization, when it names one.
    books_organization_id: Option<String>,
    /// Requests this client sent and the credits Zoho charged for their answers (a step's usage).
    usage: std::cell::Cell<Usage>,
    /// The credit table this step charges CRM calls by, read from the store at the first.
    credit_table: RefCell<Option<Rc<CreditTable>>>,
    /// The scopes the connection's grant names, when it names them (a Self Client's).
    granted_scopes: Option<String>,
    /// The org's zgid a Self Client's `soid` (`ZohoCRM.{zgid}`) names.
    soid_org: Option<String>,
}

/// What a step spent: requests sent (retries included), CRM credits by Zoho's table, Zoho
/// Books requests (Books spends no CRM credits: they are counted apart, against Books' own
/// limits), and the credits Zoho said the org has left when an answer said so
/// (`X-API-CREDITS-REMAINING`, sent once half the day's credits are used).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub calls: u64,
    pub credits: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub books_calls: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zoho_credits_remaining: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub use crate::credits::coql_credits;

/// Which of Zoho's APIs a path is under: CRM's counts credits, Books' its own requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Crm,
    Books,
    Other,
}

impl Api {
    fn of(path: &str) -> Api {
        if path.starts_with("/crm/") {
            Api::Crm
        } else if path.starts_with("/books/") {
            Api::Books
        } else {
            Api::Other
        }
    }
}

/// What one exchange is charged to: CRM credits, or a Books organization's requests.
#[derive(Debug, Clone)]
enum Charge {
    Credits(u64),
    Books(String),
    Nothing,
}

/// A request relative to the API domain, e.g. path `/crm/v8/Leads`.
pub struct ApiCall {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Body>,
    pub headers: Vec<(String, String)>,
    /// What the caller knows of the call's credits (held to Zoho's table, see [`crate::credits`]);
    /// None: the table and the call's size say.
    pub credits: Option<u64>,
    /// Another of the connection's Zoho hosts than the API domain (bulk write's content and
    /// download hosts), checked by [`Client`] before the token goes there; None: the API domain.
    pub origin: Option<String>,
}

impl ApiCall {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        ApiCall { method, path: path.into(), query: Vec::new(), body: None, headers: Vec::new(), credits: None, origin: None }
    }

    /// The credits each answer to this call costs, as the caller knows them (Zoho's table holds
    /// them to its range for the API).
    pub fn credits(mut self, credits: u64) -> Self {
        self.credits = Some(credits);
        self
    }

    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(Body::json(&body));
        self
    }

    pub fn body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends the call to `origin` instead of the API domain: one of [`Client::bulk_origins`],
    /// or the send is refused before the token leaves.
    pub fn at(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }
}

impl<'a> Client<'a> {
    pub fn new(connection: &Connection, options: &'a CallOptions, transport: &'a dyn Transport, storage: &'a dyn Storage) -> Result<Self> {
        // The step's redactor knows the connection's secrets before anything can fail or be sent;
        // every token issued later is added as it arrives (see `auth`).
        for secret in connection.secrets() {
            redact::learn(&secret);
        }
        let auth = Auth::new(connection, transport, storage, options)?;
        let granted_scopes = match Grant::of(connection) {
            Ok(Grant::ClientCredentials { scopes, .. }) => Some(scopes),
            _ => None,
        };
        Ok(Client {
            transport,
            storage,
            options,
            auth,
            session: RefCell::new(None),
            throttle: None,
            books_organization_id: connection.books_organization_id.clone(),
            usage: std::cell::Cell::new(Usage::default()),
            credit_table: RefCell::new(None),
            granted_scopes,
            soid_org: crate::connection::given(&connection.soid).and_then(|s| s.strip_prefix("ZohoCRM.")).filter(|z| !z.is_empty() && z.bytes().all(|b| b.is_ascii_digit())).map(str::to_string),
        })
    }

    /// The scopes the connection's grant asks for, when it names them (a Self Client's
    /// `scopes`); None when the token's scopes are not known here.
    pub fn granted_scopes(&self) -> Option<String> {
        self.granted_scopes.clone()
    }

    /// The credit table CRM calls are charged by (loaded once per step).
    fn credit_table(&self) -> Rc<CreditTable> {
        if let Some(table) = self.credit_table.borrow().as_ref() {
            return table.clone();
        }
        let table = Rc::new(crate::credits::load(self.storage));
        *self.credit_table.borrow_mut() = Some(table.clone());
        table
    }

    /// Requests sent and credits spent by this client so far.
    pub fn usage(&self) -> Usage {
        self.usage.get()
    }

    /// Holds every request of this client to `throttle`.
    pub fn with_throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// The org's zgid when the connection's `soid` names it (bulk write's `X-CRM-ORG`).
    pub fn soid_org(&self) -> Option<String> {
        self.soid_org.clone()
    }

    /// The connection's `books-organization-id` as given (checked where it is used).
    pub fn books_organization_id(&self) -> &Option<String> {
        &self.books_organization_id
    }

    /// The API domain requests go to (the token's, once one is held).
    pub fn api_domain(&self) -> Result<String> {
        Ok(self.session()?.api_domain)
    }

    /// The API domain of the token this step holds, else the connection's: for messages, never
    /// asking for a token.
    pub fn known_api_domain(&self) -> String {
        self.session.borrow().as_ref().map_or_else(|| self.connection_api_domain().to_string(), |s| s.api_domain.clone())
    }

    /// The API domain known before any token is fetched: the connection's explicit one, else
    /// its region's. For checking input before anything is sent.
    pub fn connection_api_domain(&self) -> &str {
        self.auth.connection_api_domain()
    }

    /// Could `origin` be the API domain, judged before any token is fetched? (See `Auth`.)
    pub fn may_be_api_domain(&self, origin: &str) -> bool {
        self.auth.may_be_api_domain(origin)
    }

    /// The hosts besides the API domain a bulk write job's requests go to (content host first,
    /// then the download host; [`crate::connection::bulk_origins`]).
    pub fn bulk_origins(&self) -> Result<Vec<String>> {
        Ok(crate::connection::bulk_origins(&self.api_domain()?))
    }

    fn session(&self) -> Result<Session> {
        if let Some(session) = self.session.borrow().as_ref() {
            return Ok(session.clone());
        }
        let session = self.auth.session()?;
        self.remember(&session);
        Ok(session)
    }

    fn remember(&self, session: &Session) {
        redact::learn(&session.token);
        *self.session.borrow_mut() = Some(session.clone());
    }

    pub fn url(&self, api_domain: &str, call: &ApiCall) -> String {
        let mut url = format!("{api_domain}{}", call.path);
        if !call.query.is_empty() {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (name, value) in &call.query {
                query.append_pair(name, value);
            }
            url.push('?');
            url.push_str(&query.finish());
        }
        url
    }

    /// Sends `call`, retrying as the call options say. Returns Zoho's answer whatever its
    /// status; only a missing answer (or a wait too long to sleep through) is an `Err`.
    /// A token Zoho rejects (INVALID_TOKEN) is renewed once and the call sent once more.
    pub fn send(&self, call: ApiCall) -> Result<Response> {
        self.send_to(call, None)
    }

    /// [`Client::send`] for an answer larger than memory: a 2xx answer's body goes to `sink` as
    /// it arrives (see [`crate::http::Transport::send_streaming`]); any other answer is read
    /// whole into the response, as `send` reads it.
    pub fn send_streaming(&self, call: ApiCall, sink: &mut dyn BodySink) -> Result<Response> {
        self.send_to(call, Some(sink))
    }

    fn send_to(&self, call: ApiCall, mut sink: Option<&mut (dyn BodySink + '_)>) -> Result<Response> {
        let body = call.body.map(Rc::new);
        let call = ApiCall { body: None, ..call };
        let session = self.session()?;
        let response = self.send_with(&session, &call, body.clone(), sink.as_deref_mut())?;
        if !(response.status == 401 && token_may_be_stale(&response) && self.auth.renewable()) {
            return Ok(response);
        }
        let renewed = self.auth.renew(&session.token)?;
        self.remember(&renewed);
        self.send_with(&renewed, &call, body, sink)
    }

    fn send_with(&self, session: &Session, call: &ApiCall, body: Option<Rc<Body>>, mut sink: Option<&mut (dyn BodySink + '_)>) -> Result<Response> {
        let mut headers = vec![("Authorization".to_string(), authorization(&session.token))];
        let content_type_given = call.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if let Some(body) = body.as_ref().filter(|_| !content_type_given) {
            headers.push(("Content-Type".into(), body.content_type.clone()));
        }
        headers.extend(call.headers.iter().cloned());
        let api = Api::of(&call.path);
        let charge = match api {
            Api::Crm => Charge::Credits(self.credit_table().cost(call.method, &call.path, body.as_deref(), call.credits)),
            Api::Books => Charge::Books(crate::books::limits::organization_of(&call.query)),
            Api::Other => Charge::Nothing,
        };
        let base = match call.origin.as_deref() {
            None => session.api_domain.clone(),
            // The token goes only to the connection's own Zoho hosts, whatever the caller built.
            Some(origin) if origin == session.api_domain || self.bulk_origins()?.iter().any(|o| o == origin) => origin.to_string(),
            Some(origin) => return Err(crate::error::ZohoError::invalid_input(format!("{} is not one of the connection's Zoho hosts: the token is not sent there", redact::shown(origin, 80)))),
        };
        let request = Request { method: call.method, url: self.url(&base, call), headers, body, timeout: self.options.timeout() };

        let mut retry = 0;
        let mut waited = Duration::ZERO;
        loop {
            let outcome = self.exchange(&request, &charge, sink.as_deref_mut());
            self.log_exchange(&request, &outcome.0, outcome.1, retry);
            let outcome = outcome.0;
            if retry >= self.options.max_retries() || !self.should_retry(request.method, &outcome) {
                return outcome;
            }
            let mut wait = jitter(self.options.retry_delay(retry));
            if let Ok(response) = &outcome {
                // Books says its wait in X-Rate-Limit-Reset when it sends no Retry-After.
                let asked = if api == Api::Books { crate::books::limits::wait_ms(response) } else { retry_after_ms(response) };
                wait = wait.max(Duration::from_millis(asked.unwrap_or(0)));
            }
            // One step sleeps at most MAX_RETRY_WAIT in all; a longer wait is the platform's to
            // schedule (the caller maps a 429 to rate-limited with retry-after-ms). Saturating:
            // a Retry-After of u64::MAX seconds must not overflow the sum.
            if waited.saturating_add(wait) > MAX_RETRY_WAIT {
                return outcome;
            }
            self.transport.sleep(wait);
            waited = waited.saturating_add(wait);
            retry = retry.saturating_add(1);
        }
    }

    /// One exchange: within the throttle when there is one, and counted as what it is charged
    /// (every answer costs it, a 429 included: Zoho counts what reaches it). A CRM answer's
    /// `X-API-CREDITS-REMAINING` is kept for the budget; a Books request is held to Books'
    /// limits before it is sent and its answer's `X-Rate-Limit-*` read after.
    fn exchange(&self, request: &Request, charge: &Charge, sink: Option<&mut (dyn BodySink + '_)>) -> (Result<Response>, Duration) {
        if let Charge::Books(organization) = charge {
            if let Err(e) = self.wait_for_books(organization) {
                return (Err(e), Duration::ZERO);
            }
        }
        let slot = match self.throttle.map(|t| t.acquire(self.storage, self.transport)).transpose() {
            Ok(slot) => slot,
            Err(e) => return (Err(e), Duration::ZERO),
        };
        let started = Instant::now();
        let outcome = match sink {
            Some(sink) => self.transport.send_streaming(request, sink),
            None => self.transport.send(request),
        };
        let took = started.elapsed();
        if let Some(slot) = slot {
            Throttle::release(self.storage, slot);
        }
        let mut usage = self.usage.get();
        usage.calls = usage.calls.saturating_add(1);
        if let Ok(response) = &outcome {
            match charge {
                Charge::Credits(credits) => {
                    usage.credits = usage.credits.saturating_add(*credits);
                    let _ = limits::spend(self.storage, *credits);
                    if let Some(remaining) = limits::credits_remaining(response) {
                        usage.zoho_credits_remaining = Some(remaining);
                        limits::observe_remaining(self.storage, remaining);
                    }
                }
                Charge::Books(organization) => {
                    usage.books_calls = usage.books_calls.saturating_add(1);
                    crate::books::limits::after(self.storage, organization, response);
                }
                Charge::Nothing => {}
            }
        }
        self.usage.set(usage);
        (outcome, took)
    }

    /// Books' minute, shared by every worker of the connection: a request that would pass it
    /// waits its turn (the workflow is slowed to Books' rate, not failed) while the waits fit
    /// one step's [`MAX_RETRY_WAIT`]; past that, or when Books itself said its requests are used
    /// up, the step's error is rate-limited with the wait for the platform to schedule.
    fn wait_for_books(&self, organization: &str) -> Result<()> {
        let mut waited = Duration::ZERO;
        loop {
            match crate::books::limits::before(self.storage, organization) {
                Err(e) if e.code.as_deref() == Some(crate::books::limits::MINUTE_FULL) => {
                    let wait = Duration::from_millis(e.retry_after_ms.unwrap_or(1000));
                    if waited.saturating_add(wait) > MAX_RETRY_WAIT {
                        return Err(e);
                    }
                    self.transport.sleep(wait);
                    waited = waited.saturating_add(wait);
                }
                other => return other,
            }
        }
    }

    /// The retry policy (see [`should_retry`]) for this client's call options.
    fn should_retry(&self, method: Method, outcome: &Result<Response>) -> bool {
        should_retry(self.options, method, outcome)
    }

    /// Did this answer come back after the retries the caller asked for ran out on a status the
    /// policy retries? (Raw requests return any status as data, except then.)
    pub fn retries_ran_out(&self, method: Method, response: &Response) -> bool {
        self.options.max_retries() > 0 && retries_status(self.options, method, response.status)
    }

    fn log_exchange(&self, request: &Request, outcome: &Result<Response>, took: Duration, retry: u32) {
        if !self.options.debug() {
            return;
        }
        let redactor = redact::step();
        let attempt = if retry > 0 { format!(" (retry {retry})") } else { String::new() };
        let line = match outcome {
            Ok(r) => format!(
                "zoho: {} {} -> {} in {} ms{attempt}; Authorization: Zoho-oauthtoken [redacted]; response {}",
                request.method.as_str(),
                request.url,
                r.status,
                took.as_millis(),
                preview(&redactor, &r.body)
            ),
            Err(e) => format!("zoho: {} {} -> {:?} error in {} ms{attempt}: {}", request.method.as_str(), request.url, e.kind, took.as_millis(), e.message),
        };
        eprintln!("{}", redactor.text(&line));
    }

    /// Every secret of the connection and every token this step has held.
    pub fn redactor(&self) -> Redactor {
        redact::step()
    }

    /// Removes every secret (decoded, escaped or as it stands) from a text bound for output.
    pub fn redact(&self, text: &str) -> String {
        redact::step().text(text).into_owned()
    }
}

/// The retry policy, the one place it is written. 429 means Zoho did not act, so it is retried
/// for every method. A lost answer or a 5xx is ambiguous for a POST or PATCH (the record may
/// exist already), so those are retried only with retry-on-all-errors, the caller's explicit
/// opt-in; GET, PUT and DELETE repeat safely. Other 4xx are retried only with retry-on-all-errors.
pub fn should_retry(options: &CallOptions, method: Method, outcome: &Result<Response>) -> bool {
    match outcome {
        Err(e) => matches!(e.kind, ErrorKind::Transport | ErrorKind::Timeout) && (method.is_idempotent() || options.retry_on_all_errors()),
        Ok(r) => retries_status(options, method, r.status),
    }
}

/// [`should_retry`] for an answer's status.
pub fn retries_status(options: &CallOptions, method: Method, status: u16) -> bool {
    let ambiguous_ok = method.is_idempotent() || options.retry_on_all_errors();
    match status {
        429 => true,
        500.. => ambiguous_ok,
        _ => status >= 400 && options.retry_on_all_errors(),
    }
}

/// Adds up to a quarter of `delay` at random, so steps that failed together retry apart.
fn jitter(delay: Duration) -> Duration {
    if delay.is_zero() {
        return delay;
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let spread = (u64::try_from(delay.as_millis()).unwrap_or(u64::MAX) / 4).max(1);
    delay.saturating_add(Duration::from_millis(u64::from(nanos) % spread))
}

/// A 401 a fresh token may cure: CRM's INVALID_TOKEN, Books' numeric codes. A scope mismatch
/// is never cured by refreshing, so it is not retried.
fn token_may_be_stale(response: &Response) -> bool {
    // Error answers are small; a huge 401 body is not read as a tree (json::tree refuses it).
    let code = crate::json::tree(&response.body).ok().and_then(|b| b.get("code").cloned());
    code.as_ref().and_then(Value::as_str) != Some("OAUTH_SCOPE_MISMATCH")
}

/// The start of a body for the debug log, redacted whole before it is cut.
fn preview(redactor: &Redactor, body: &[u8]) -> String {
    const LIMIT: usize = 512;
    let text = redactor.start(body, LIMIT);
    if body.len() > LIMIT {
        format!("{text}... ({} bytes)", body.len())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::retry_after_ms;
    use crate::testing::Fixture;

    fn attempts(method: Method, status: u16, options: CallOptions) -> usize {
        let fixture = Fixture::with(options);
        let transport = &fixture.transport;
        for _ in 0..4 {
            transport.answer(status, r#"{"code":"X","message":"m","status":"error"}"#);
        }
        let client = fixture.client();
        let _ = client.send(ApiCall::new(method, "/crm/v8/Leads"));
        let sent = transport.sent.borrow().len();
        sent
    }

    #[test]
    fn ambiguous_writes_are_not_repeated_without_opt_in() {
        let retries = CallOptions { max_retries: Some(2), ..Default::default() };
        let opted_in = CallOptions { max_retries: Some(2), retry_on_all_errors: Some(true), ..Default::default() };
        assert_eq!(attempts(Method::Get, 503, retries), 3);
        assert_eq!(attempts(Method::Delete, 503, retries), 3);
        assert_eq!(attempts(Method::Post, 503, retries), 1, "a 5xx on create may have created the record");
        assert_eq!(attempts(Method::Post, 503, opted_in), 3);
        assert_eq!(attempts(Method::Post, 429, retries), 3, "429: Zoho did nothing, safe for every method");
        assert_eq!(attempts(Method::Get, 400, retries), 1);
        assert_eq!(attempts(Method::Get, 400, opted_in), 3);
    }

    /// Books' minute already sent (by other workers, 55 s ago): the step waits for its turn,
    /// in sleeps the step's retry budget holds, and answers rate-limited with the wait once it
    /// would have to wait longer; nothing is sent meanwhile.
    #[test]
    fn a_step_waits_its_turn_in_books_minute_within_its_retry_budget() {
        let fixture = Fixture::default();
        let earlier = crate::storage::now_ms() - 55_000;
        for _ in 0..crate::books::limits::PER_MINUTE {
            crate::books::limits::before_at(&fixture.storage, "10234695", earlier).unwrap();
        }
        let error = fixture.client().send(ApiCall::new(Method::Get, "/books/v3/contacts").query("organization_id", "10234695")).unwrap_err();
        assert_eq!((error.kind, error.code.as_deref()), (crate::error::ErrorKind::RateLimited, Some(crate::books::limits::MINUTE_FULL)));
        let slept: Duration = fixture.transport.slept.borrow().iter().sum();
        assert!(!fixture.transport.slept.borrow().is_empty() && slept <= MAX_RETRY_WAIT, "{slept:?}");
        assert!(slept + Duration::from_millis(error.retry_after_ms.unwrap()) > MAX_RETRY_WAIT);
        assert_eq!(fixture.sent(), 0);
    }

    fn with_retry_after(value: &str) -> Response {
        Response { status: 429, headers: vec![("retry-after".into(), value.into())], body: Vec::new() }
    }

    #[test]
    fn retry_after_saturates_and_ignores_what_is_not_seconds() {
        let ms = |v: &str| retry_after_ms(&with_retry_after(v));
        assert_eq!(ms("7"), Some(7_000));
        assert_eq!(ms(" 7 "), Some(7_000));
        assert_eq!(ms("18446744073709551615"), Some(u64::MAX));
        assert_eq!(ms("18446744073709552"), Some(u64::MAX), "not 384: milliseconds saturate");
        assert_eq!(ms("99999999999999999999999999"), Some(u64::MAX));
        for odd in ["", "-1", "1.5", "+3", "Wed, 21 Oct 2015 07:28:00 GMT", "٣", "1e3", "0x10"] {
            assert_eq!(ms(odd), None, "{odd:?}");
        }
    }

    /// After a first 429 the wait-budget sum overflowed on u64::MAX seconds.
    #[test]
    fn a_huge_retry_after_after_a_first_wait_answers_instead_of_panicking() {
        for huge in ["18446744073709551615", "18446744073709552"] {
            let fixture = Fixture::with(CallOptions { max_retries: Some(5), retry_delay_ms: Some(1), ..Default::default() });
            let transport = &fixture.transport;
            transport.answer(429, "{}");
            transport.answers.borrow_mut().push_back(with_retry_after(huge));
            let client = fixture.client();
            let response = client.send(ApiCall::new(Method::Get, "/crm/v8/Leads")).unwrap();
            assert_eq!((response.status, transport.sent.borrow().len()), (429, 2));
            assert_eq!(transport.slept.borrow().len(), 1);
        }
    }

    /// Convert lead costs 5 credits (Zoho's table): the shared budget counts 5 per answer, not 1.
    #[test]
    fn a_call_counts_the_credits_zoho_charges_for_it() {
        let fixture = Fixture::default();
        let (transport, storage) = (&fixture.transport, &fixture.storage);
        transport.answer(200, "{}");
        transport.answer(200, "{}");
        let client = fixture.client();
        assert_eq!(ApiCall::new(Method::Get, "/x").credits, None);
        client.send(ApiCall::new(Method::Post, "/crm/v8/Leads/1/actions/convert").credits(5)).unwrap();
        assert_eq!(limits::spent_last_24h(storage).unwrap(), 5);
        client.send(ApiCall::new(Method::Get, "/crm/v8/Leads")).unwrap();
        assert_eq!(limits::spent_last_24h(storage).unwrap(), 6);
        assert_eq!(client.usage(), Usage { calls: 2, credits: 6, ..Default::default() });
    }

    /// COQL's credits follow its LIMIT at each edge of Zoho's table.
    #[test]
    fn coql_credits_follow_the_limit() {
        for (rows, credits) in [(0, 1), (1, 1), (200, 1), (201, 2), (1_000, 2), (1_001, 3), (2_000, 3), (usize::MAX, 3)] {
            assert_eq!(coql_credits(rows), credits, "{rows}");
        }
    }

    /// A 100-record create costs 10 credits by Zoho's table, counted from the body sent.
    #[test]
    fn a_hundred_record_write_counts_ten_credits() {
        let fixture = Fixture::default();
        let (transport, storage) = (&fixture.transport, &fixture.storage);
        transport.answer(201, "{}");
        let client = fixture.client();
        let records: Vec<Value> = (0..100).map(|i| serde_json::json!({ "Last_Name": format!("L{i}") })).collect();
        client.send(ApiCall::new(Method::Post, "/crm/v8/Leads").json(serde_json::json!({ "data": records }))).unwrap();
        assert_eq!(limits::spent_last_24h(storage).unwrap(), 10);
        assert_eq!(client.usage(), Usage { calls: 1, credits: 10, ..Default::default() });
    }

    /// Books calls spend no CRM credits: they are counted apart; a CRM answer's
    /// X-API-CREDITS-REMAINING is reported and kept.
    #[test]
    fn books_calls_are_counted_apart_and_zohos_remaining_is_kept() {
        let fixture = Fixture::default();
        let (transport, storage) = (&fixture.transport, &fixture.storage);
        transport.answer(200, r#"{"code":0,"message":"success","contacts":[]}"#);
        transport.answers.borrow_mut().push_back(Response { status: 200, headers: vec![("x-api-credits-remaining".into(), "1234".into())], body: b"{}".to_vec() });
        let client = fixture.client();
        client.send(ApiCall::new(Method::Get, "/books/v3/contacts").query("organization_id", "10234695")).unwrap();
        assert_eq!(limits::spent_last_24h(storage).unwrap(), 0);
        assert_eq!(crate::books::limits::today(storage, "10234695"), 1);
        client.send(ApiCall::new(Method::Get, "/crm/v8/org")).unwrap();
        assert_eq!(client.usage(), Usage { calls: 2, credits: 1, books_calls: 1, zoho_credits_remaining: Some(1234) });
        assert_eq!(limits::observed_remaining(storage), Some(1234));
        assert_eq!(serde_json::to_value(Usage { calls: 1, credits: 2, ..Default::default() }).unwrap(), serde_json::json!({ "calls": 1, "credits": 2 }));
    }

    #[test]
    fn waits_grow_with_jitter_within_the_budget() {
        let fixture = Fixture::with(CallOptions { max_retries: Some(5), retry_delay_ms: Some(5_000), exponential_backoff: Some(true), ..Default::default() });
        let transport = &fixture.transport;
        for _ in 0..6 {
            transport.answer(503, "{}");
        }
        let client = fixture.client();
        let response = client.send(ApiCall::new(Method::Get, "/x")).unwrap();
        assert_eq!(response.status, 503);
        let slept = transport.slept.borrow().clone();
        // 5 s and 10 s (+ up to 25% each) fit the 30 s budget; a third wait of 20 s+ never does.
        assert_eq!(slept.len(), 2, "{slept:?}");
        assert!(slept[0] >= Duration::from_secs(5) && slept[0] <= Duration::from_millis(6_250), "{slept:?}");
        assert!(slept[1] >= Duration::from_secs(10) && slept[1] <= Duration::from_millis(12_500), "{slept:?}");
    }
}
