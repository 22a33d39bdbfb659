//! Where an action gets its access token and API domain. Three ways in, chosen from what the
//! connection holds: a token the platform manages, a refresh token (server-based app), or a
//! Self Client's client-credentials grant. Tokens from the grants are cached in the
//! connection's key-value namespace, shared by every step and instance, refreshed shortly
//! before they expire, and refreshed by one step at a time: Zoho caps live tokens per refresh
//! token, so a stampede of refreshes would evict tokens other steps are still using.

use crate::connection::{given, is_zoho_api_domain, Connection};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Request, Transport};
use crate::options::CallOptions;
use crate::storage::{now_ms, Storage};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Refresh this long before Zoho's expiry, so a token never dies mid-step.
const REFRESH_MARGIN_MS: u64 = 5 * 60 * 1000;
// A refresh lease lasts one window; a holder that died frees it when the window ends.
use crate::storage::keys::LEASE_WINDOW_MS;
/// How often a step waiting on another's refresh looks for the new token.
const LEASE_POLL: Duration = Duration::from_millis(50);
/// Zoho's access tokens live an hour; used when the answer does not say (or says nonsense).
const DEFAULT_LIFETIME_S: u64 = 3600;
/// A token is kept at most a day, whatever lifetime the answer claims.
const MAX_LIFETIME_S: u64 = 24 * 3600;
/// Zoho Accounts grants at most 10 access tokens per refresh token in 10 minutes, then refuses
/// that refresh token ("Access Denied") for the rest of the window (CRM v8 "Token Validity";
/// Zoho Accounts "Refresh access token"). The window's start is not known here, so a refused
/// grant waits out a whole window.
const GRANT_WINDOW_MS: u64 = 10 * 60 * 1000;

/// The token and the API domain it is good for.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub token: String,
    pub api_domain: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Grant {
    /// A token the platform holds and renews; used as is.
    Platform {
        token: String,
    },
    RefreshToken {
        client_id: String,
        client_secret: String,
        refresh_token: String,
    },
    ClientCredentials {
        client_id: String,
        client_secret: String,
        soid: String,
        scopes: String,
    },
}

impl Grant {
    /// The way in the connection supports, or what it lacks.
    pub fn of(connection: &Connection) -> Result<Grant> {
        let client = || -> Result<(String, String)> {
            match (given(&connection.client_id), given(&connection.client_secret)) {
                (Some(id), Some(secret)) => Ok((id.to_string(), secret.to_string())),
                (None, _) => Err(ZohoError::invalid_input("the connection needs client-id (from the Zoho API console) with its refresh-token or soid")),
                (_, None) => Err(ZohoError::invalid_input("the connection needs client-secret (from the Zoho API console) with its refresh-token or soid")),
            }
        };
        if let Some(refresh_token) = given(&connection.refresh_token) {
            let (client_id, client_secret) = client()?;
            return Ok(Grant::RefreshToken { client_id, client_secret, refresh_token: refresh_token.to_string() });
        }
        if let Some(soid) = given(&connection.soid) {
            let (client_id, client_secret) = client()?;
            let scopes = given(&connection.scopes).ok_or_else(|| ZohoError::invalid_input("a Self Client connection (soid) needs scopes, e.g. ZohoCRM.modules.ALL,ZohoCRM.settings.ALL"))?;
            return Ok(Grant::ClientCredentials { client_id, client_secret, soid: soid.to_string(), scopes: scopes.to_string() });
        }
        if let Some(token) = given(&connection.access_token) {
            // It goes into the Authorization header: anything the transport would refuse is
            // the caller's to fix, never an internal error after other requests.
            if !is_header_safe(token) {
                return Err(ZohoError::invalid_input("access-token has a control or non-ASCII character: give the token exactly as Zoho issued it (e.g. 1000.xxxx)"));
            }
            return Ok(Grant::Platform { token: token.to_string() });
        }
        Err(ZohoError::invalid_input(
            "the connection has no credentials: give access-token (a token your platform manages), or refresh-token with client-id and client-secret (server-based app), or soid and scopes with client-id and client-secret (Self Client)",
        ))
    }

    pub fn renewable(&self) -> bool {
        !matches!(self, Grant::Platform { .. })
    }
}

pub struct Auth<'a> {
    grant: Grant,
    accounts_url: String,
    /// The explicit or region API domain, used when a token response names none.
    api_domain: String,
    /// An API domain the caller named explicitly (a token may be sent there).
    explicit_api_domain: Option<String>,
    /// Storage keys derive from this digest of the connection's identity, never the secret.
    identity: String,
    transport: &'a dyn Transport,
    storage: &'a dyn Storage,
    options: &'a CallOptions,
}

/// Can this text go into a header value as it stands? Visible ASCII and spaces only.
pub fn is_header_safe(text: &str) -> bool {
    text.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// A digest of every credential, length-prefixed so no two credential sets collide: the token
/// cache key. The client secret is part of it, so a wrong secret never finds the right one's token.
fn identity_of(accounts_url: &str, grant: &Grant) -> String {
    let parts: Vec<&str> = match grant {
        Grant::Platform { token } => vec!["platform", token],
        Grant::RefreshToken { client_id, client_secret, refresh_token } => vec!["refresh", client_id, client_secret, refresh_token],
        Grant::ClientCredentials { client_id, client_secret, soid, scopes } => vec!["self-client", client_id, client_secret, soid, scopes],
    };
    let mut hasher = Sha256::new();
    for part in std::iter::once(accounts_url).chain(parts) {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A lifetime in seconds as the token answer gives it: a number (integer or not) or a numeric
/// string. Negative, zero, missing or unreadable is Zoho's default hour; more than a day is a day.
fn lifetime_s(value: Option<&Value>) -> Option<u64> {
    let seconds = match value? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 1.0).map(|f| f.min(u64::MAX as f64) as u64))?,
        Value::String(s) => s.trim().parse::<u64>().ok().or_else(|| s.trim().parse::<f64>().ok().filter(|f| f.is_finite() && *f >= 1.0).map(|f| f.min(u64::MAX as f64) as u64))?,
        _ => return None,
    };
    (seconds > 0).then_some(seconds.min(MAX_LIFETIME_S))
}

/// A token answer as a tree (it is a few hundred bytes; a huge one is not read). A member whose
/// value serde cannot hold (`"expires_in": 1e400`) is kept as its text rather than losing the
/// whole answer, token included.
fn token_answer(body: &[u8]) -> Value {
    match crate::json::tree(body) {
        Ok(value) => value,
        Err(crate::json::JsonError::Invalid(_)) => {
            let Ok(text) = std::str::from_utf8(body) else { return Value::Null };
            let Ok(members) = crate::json::members(text, 64) else { return Value::Null };
            let object = members.into_iter().map(|(key, raw)| (key, serde_json::from_str(raw.get()).unwrap_or_else(|_| Value::String(raw.get().to_string())))).collect();
            Value::Object(object)
        }
        Err(_) => Value::Null,
    }
}

/// Is a token answer Zoho's throttle? HTTP 429, or `"error":"Access Denied"` (Zoho answers it
/// with HTTP 400, and some clients report it on a 200 like Zoho's other token errors), or an
/// `error_description` saying "too many requests" whatever the `error` (Zoho localizes it).
fn is_throttled(status: u16, error: Option<&str>, body: &Value) -> bool {
    let description = body.get("error_description").and_then(Value::as_str).unwrap_or("");
    status == 429 || error.is_some_and(|e| e.eq_ignore_ascii_case("Access Denied")) || description.to_ascii_lowercase().contains("too many requests")
}

/// The header value Zoho expects (not `Bearer`).
pub fn authorization(token: &str) -> String {
    format!("Zoho-oauthtoken {token}")
}

impl<'a> Auth<'a> {
    pub fn new(connection: &Connection, transport: &'a dyn Transport, storage: &'a dyn Storage, options: &'a CallOptions) -> Result<Self> {
        let grant = Grant::of(connection)?;
        let accounts_url = connection.accounts_url()?;
        let identity = identity_of(&accounts_url, &grant);
        let explicit_api_domain = given(&connection.api_domain).map(|_| connection.api_domain()).transpose()?;
        Ok(Auth { grant, accounts_url, api_domain: connection.api_domain()?, explicit_api_domain, identity, transport, storage, options })
    }

    pub fn renewable(&self) -> bool {
        self.grant.renewable()
    }

    /// The connection's API domain (explicit or by region), known before any token is fetched.
    pub fn connection_api_domain(&self) -> &str {
        &self.api_domain
    }

    /// Could `origin` be where this connection's requests go, judged before any token is
    /// fetched? The connection's API domain; without an explicit one, any Zoho API domain
    /// (the token may name another data center's).
    pub fn may_be_api_domain(&self, origin: &str) -> bool {
        origin.eq_ignore_ascii_case(&self.api_domain) || (self.explicit_api_domain.is_none() && is_zoho_api_domain(origin))
    }

    fn cache_key(&self) -> String {
        crate::storage::keys::auth_token(&self.identity)
    }

    /// The cached session if it has more than the refresh margin left.
    fn cached(&self) -> Result<Option<Session>> {
        let Some(bytes) = self.storage.get(&self.cache_key())? else { return Ok(None) };
        let Ok(entry) = crate::json::tree(&bytes) else { return Ok(None) };
        let expires_at = entry.get("expires_at_ms").and_then(Value::as_u64).unwrap_or(0);
        let (Some(token), Some(api_domain)) = (entry.get("access_token").and_then(Value::as_str), entry.get("api_domain").and_then(Value::as_str)) else {
            return Ok(None);
        };
        if expires_at.saturating_sub(now_ms()) <= REFRESH_MARGIN_MS {
            return Ok(None);
        }
        Ok(Some(Session { token: token.to_string(), api_domain: api_domain.to_string() }))
    }

    /// A session to call Zoho with: the platform's token, or a cached or fresh one.
    pub fn session(&self) -> Result<Session> {
        if let Grant::Platform { token } = &self.grant {
            return Ok(Session { token: token.clone(), api_domain: self.api_domain.clone() });
        }
        match self.cached()? {
            Some(session) => Ok(session),
            None => self.refresh(None),
        }
    }

    /// A new session after Zoho refused `rejected` (INVALID_TOKEN); another step may already
    /// have replaced it.
    pub fn renew(&self, rejected: &str) -> Result<Session> {
        match self.cached()? {
            Some(session) if session.token != rejected => Ok(session),
            _ => self.refresh(Some(rejected)),
        }
    }

    /// Gets a token from the accounts server, one step at a time per connection: the step that
    /// takes the lease refreshes; the others wait for its token.
    fn refresh(&self, rejected: Option<&str>) -> Result<Session> {
        let started = Instant::now();
        let patience = Duration::from_millis(2 * LEASE_WINDOW_MS);
        loop {
            let window = now_ms() / LEASE_WINDOW_MS;
            let lease = crate::storage::keys::auth_lease(&self.identity, window);
            if self.storage.increment(&lease, 1)? == 1 || started.elapsed() > patience {
                // A step that held the lease a moment ago may have stored its token and let the
                // lease go between our cache miss and our increment: use that token, not a second.
                // A store that cannot be read now is no reason to fail: the grant goes ahead,
                // and the lease is let go either way.
                if let Ok(Some(session)) = self.cached() {
                    if Some(session.token.as_str()) != rejected {
                        let _ = self.storage.delete(&lease);
                        return Ok(session);
                    }
                }
                let outcome = self.request_token();
                let _ = self.storage.delete(&lease);
                return outcome;
            }
            self.transport.sleep(LEASE_POLL);
            if let Some(session) = self.cached()? {
                if Some(session.token.as_str()) != rejected {
                    return Ok(session);
                }
            }
        }
    }

    fn request_token(&self) -> Result<Session> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        match &self.grant {
            Grant::RefreshToken { client_id, client_secret, refresh_token } => {
                form.append_pair("grant_type", "refresh_token").append_pair("client_id", client_id).append_pair("client_secret", client_secret).append_pair("refresh_token", refresh_token);
            }
            Grant::ClientCredentials { client_id, client_secret, soid, scopes } => {
                form.append_pair("grant_type", "client_credentials")
                    .append_pair("client_id", client_id)
                    .append_pair("client_secret", client_secret)
                    .append_pair("scope", scopes)
                    .append_pair("soid", soid);
            }
            Grant::Platform { .. } => return Err(ZohoError::new(ErrorKind::Internal, "a platform token is not refreshed here")),
        }
        let url = format!("{}/oauth/v2/token", self.accounts_url);
        let request = Request {
            method: Method::Post,
            url: url.clone(),
            headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
            body: Some(std::rc::Rc::new(crate::http::Body::new("application/x-www-form-urlencoded", form.finish().into_bytes()))),
            timeout: self.options.timeout(),
        };
        let started = Instant::now();
        let response = self.transport.send(&request);
        if self.options.debug() {
            // The body carries the secrets going out and the token coming back: never logged.
            let outcome = match &response {
                Ok(r) => r.status.to_string(),
                Err(e) => format!("{:?} error", e.kind),
            };
            eprintln!("zoho: POST {url} -> {outcome} in {} ms (token request; bodies not logged)", started.elapsed().as_millis());
        }
        let response = response?;
        // A token answer is a few hundred bytes; a huge one is not read as a tree.
        let body: Value = token_answer(&response.body);
        let error = body.get("error").and_then(Value::as_str);
        if is_throttled(response.status, error, &body) {
            let mut e = ZohoError::new(
                ErrorKind::RateLimited,
                "Zoho's accounts server refused a new access token: it grants at most 10 per refresh token in 10 minutes, then refuses the rest of those 10 minutes; try again in 10 minutes. Keep steps from each asking for a token: give the host a key-value store (a token is then cached and shared by every step for its hour) or a platform-managed access-token",
            )
            .with_status(response.status)
            .with_code("Access Denied");
            e.retry_after_ms = Some(GRANT_WINDOW_MS);
            return Err(e);
        }
        let token = body.get("access_token").and_then(Value::as_str).filter(|t| !t.is_empty());
        // Whatever becomes of it, a token that came back is a secret of this step from now on.
        if let Some(token) = token {
            crate::redact::learn(token);
        }
        let Some(token) = token.filter(|_| response.status == 200) else {
            return Err(self.token_error(response.status, error, &body));
        };
        if !is_header_safe(token) {
            return Err(ZohoError::new(ErrorKind::Unauthorized, "Zoho's accounts server returned an access token with characters a header cannot carry").with_status(response.status));
        }
        let api_domain = match body.get("api_domain").and_then(Value::as_str) {
            None => self.api_domain.clone(),
            Some(domain) => {
                let domain = domain.trim_end_matches('/').to_string();
                // The token goes only where the connection or Zoho's own API hosts are.
                if Some(&domain) != self.explicit_api_domain.as_ref() && !is_zoho_api_domain(&domain) {
                    return Err(ZohoError::new(ErrorKind::Unauthorized, format!("the token came back for api_domain {domain:?}, which is not a Zoho API domain; set api-domain if this is intended")));
                }
                domain
            }
        };
        // Legacy answers give `expires_in_sec` in seconds and `expires_in` in milliseconds.
        let lifetime_s = match body.get("expires_in_sec") {
            Some(seconds) => lifetime_s(Some(seconds)),
            None => lifetime_s(body.get("expires_in")),
        }
        .unwrap_or(DEFAULT_LIFETIME_S);
        let session = Session { token: token.to_string(), api_domain };
        let expires_at_ms = now_ms().saturating_add(lifetime_s.saturating_mul(1000));
        let entry = json!({ "access_token": session.token, "api_domain": session.api_domain, "expires_at_ms": expires_at_ms });
        self.storage.set(&self.cache_key(), entry.to_string().as_bytes())?;
        Ok(session)
    }

    /// Zoho's token errors (HTTP 200 with an `error`, among others) with what to do about them.
    fn token_error(&self, status: u16, code: Option<&str>, body: &Value) -> ZohoError {
        let hint = match code {
            Some("invalid_client") => {
                format!("Zoho does not know this client id and secret at {}: check them, and check the region — a client registered in another data center is unknown here", self.accounts_url)
            }
            Some("invalid_code") => "the refresh token is invalid, expired or revoked: authorize the connection again".to_string(),
            Some("missing_org_info") => "the Self Client grant needs soid as ZohoCRM.<organization id>".to_string(),
            Some("invalid_scope") | Some("INVALID_OAUTHSCOPE") => "the scopes are not valid for this client".to_string(),
            Some(other) => format!("Zoho's accounts server refused the token request ({other})"),
            None => format!("Zoho's accounts server answered HTTP {status} without an access token"),
        };
        let mut error = ZohoError::new(ErrorKind::Unauthorized, hint).with_status(status);
        if let Some(code) = code {
            error = error.with_code(code);
        }
        if let Some(description) = body.get("error_description").filter(|d| d.is_string()) {
            error = error.with_details(json!({ "error_description": description }));
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(fields: &[(&str, &str)]) -> Connection {
        let object: serde_json::Map<String, Value> = fields.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        crate::connection::from_json(&Value::Object(object)).unwrap()
    }

    #[test]
    fn the_grant_follows_what_the_connection_holds() {
        assert!(matches!(Grant::of(&conn(&[("access-token", "t")])), Ok(Grant::Platform { .. })));
        assert!(matches!(Grant::of(&conn(&[("refresh-token", "r"), ("client-id", "i"), ("client-secret", "s"), ("access-token", "t")])), Ok(Grant::RefreshToken { .. })));
        assert!(matches!(Grant::of(&conn(&[("soid", "ZohoCRM.1"), ("scopes", "ZohoCRM.modules.ALL"), ("client-id", "i"), ("client-secret", "s")])), Ok(Grant::ClientCredentials { .. })));
        let missing = |fields: &[(&str, &str)]| Grant::of(&conn(fields)).unwrap_err().message;
        assert!(missing(&[]).contains("no credentials"));
        assert!(missing(&[("refresh-token", "r"), ("client-secret", "s")]).contains("client-id"));
        assert!(missing(&[("refresh-token", "r"), ("client-id", "i")]).contains("client-secret"));
        assert!(missing(&[("soid", "ZohoCRM.1"), ("client-id", "i"), ("client-secret", "s")]).contains("scopes"));
    }
}

#[cfg(test)]
mod token_tests {
    use super::*;
    use crate::http::scripted::Scripted;
    use crate::storage::memory::Memory;

    fn refresh_connection(region: &str) -> Connection {
        Connection { region: Some(region.into()), client_id: Some("1000.ID".into()), client_secret: Some("secret".into()), refresh_token: Some("1000.refresh".into()), ..Default::default() }
    }

    #[test]
    fn the_tokens_api_domain_wins_and_is_kept_with_the_cached_token() {
        let (transport, storage, options) = (Scripted::default(), Memory::default(), CallOptions::default());
        transport.answer(200, r#"{"access_token":"1000.a","expires_in":3600,"api_domain":"https://www.zohoapis.eu","token_type":"Bearer"}"#);
        let auth = Auth::new(&refresh_connection("us"), &transport, &storage, &options).unwrap();
        let session = auth.session().unwrap();
        assert_eq!(session, Session { token: "1000.a".into(), api_domain: "https://www.zohoapis.eu".into() });
        let sent = transport.sent.borrow();
        assert_eq!(sent[0].url, "https://accounts.zoho.com/oauth/v2/token");
        assert_eq!(String::from_utf8(sent[0].body.as_ref().unwrap().to_vec()).unwrap(), "grant_type=refresh_token&client_id=1000.ID&client_secret=secret&refresh_token=1000.refresh");
        drop(sent);
        // The next step reads it from storage: no second request.
        let again = Auth::new(&refresh_connection("us"), &transport, &storage, &options).unwrap();
        assert_eq!(again.session().unwrap(), session);
        assert_eq!(transport.sent.borrow().len(), 1);
        // The key is a digest, never the refresh token.
        assert!(storage.0.borrow().keys().all(|k| !k.contains("1000.refresh") && !k.contains("secret")));
    }

    /// The cache key left the client secret out.
    #[test]
    fn every_credential_is_part_of_the_cache_key() {
        let (transport, storage, options) = (Scripted::default(), Memory::default(), CallOptions::default());
        let key = |c: &Connection| Auth::new(c, &transport, &storage, &options).unwrap().cache_key();
        let base = refresh_connection("us");
        let keys = [
            key(&base),
            key(&Connection { client_secret: Some("other".into()), ..base.clone() }),
            key(&Connection { client_id: Some("1000.OTHER".into()), ..base.clone() }),
            key(&Connection { refresh_token: Some("1000.other".into()), ..base.clone() }),
            key(&Connection { region: Some("eu".into()), ..base.clone() }),
            // Fields that would run together without length prefixes.
            key(&Connection { client_id: Some("1000.IDs".into()), client_secret: Some("ecret".into()), ..base.clone() }),
        ];
        for (i, a) in keys.iter().enumerate() {
            assert!(keys.iter().skip(i + 1).all(|b| a != b), "{keys:?}");
        }
        assert_eq!(key(&base), key(&refresh_connection("us")));
    }

    #[test]
    fn token_lifetimes_are_read_with_checked_arithmetic() {
        for (answer, seconds) in [
            (json!(3600), 3600),
            (json!(u64::MAX), MAX_LIFETIME_S),
            (json!(i64::MIN), DEFAULT_LIFETIME_S),
            (json!(-5), DEFAULT_LIFETIME_S),
            (json!(0), DEFAULT_LIFETIME_S),
            (json!(1e300), MAX_LIFETIME_S),
            (json!(59.9), 59),
            (json!(f64::MIN_POSITIVE), DEFAULT_LIFETIME_S),
            (json!("1800"), 1800),
            (json!("18446744073709551615"), MAX_LIFETIME_S),
            (json!("soon"), DEFAULT_LIFETIME_S),
            (json!(null), DEFAULT_LIFETIME_S),
            (json!([1]), DEFAULT_LIFETIME_S),
        ] {
            assert_eq!(lifetime_s(Some(&answer)).unwrap_or(DEFAULT_LIFETIME_S), seconds, "{answer}");
        }
        let (transport, storage, options) = (Scripted::default(), Memory::default(), CallOptions::default());
        transport.answer(200, r#"{"access_token":"1000.a","expires_in_sec":18446744073709551615,"expires_in":18446744073709551615,"api_domain":"https://www.zohoapis.com"}"#);
        let auth = Auth::new(&refresh_connection("us"), &transport, &storage, &options).unwrap();
        auth.session().unwrap();
        let entry: Value = serde_json::from_slice(&storage.get(&auth.cache_key()).unwrap().unwrap()).unwrap();
        let left = entry["expires_at_ms"].as_u64().unwrap() - now_ms();
        assert!(left <= MAX_LIFETIME_S * 1000 && left > MAX_LIFETIME_S * 1000 - 10_000, "{left}");
        // Attack: a lifetime serde cannot hold (1e400) threw the whole answer, token included, away.
        let (transport, storage) = (Scripted::default(), Memory::default());
        transport.answer(200, r#"{"access_token":"1000.zz","expires_in":1e400,"api_domain":"https://www.zohoapis.com"}"#);
        let auth = Auth::new(&refresh_connection("us"), &transport, &storage, &options).unwrap();
        assert_eq!(auth.session().unwrap().token, "1000.zz");
    }

    #[test]
    fn a_token_a_header_cannot_carry_is_refused_before_it_is_used() {
        let bad = Connection { access_token: Some("1000.a\u{7f}b".into()), ..Default::default() };
        assert_eq!(Grant::of(&bad).unwrap_err().kind, ErrorKind::InvalidInput);
        let (transport, storage, options) = (Scripted::default(), Memory::default(), CallOptions::default());
        transport.answer(200, r#"{"access_token":"1000.a\u000bb","expires_in":3600,"api_domain":"https://www.zohoapis.com"}"#);
        let error = Auth::new(&refresh_connection("us"), &transport, &storage, &options).unwrap().session().unwrap_err();
        assert_eq!(error.kind, ErrorKind::Unauthorized);
    }

    #[test]
    fn a_token_for_a_foreign_host_is_refused() {
        let (transport, storage, options) = (Scripted::default(), Memory::default(), CallOptions::default());
        transport.answer(200, r#"{"access_token":"1000.a","expires_in":3600,"api_domain":"https://www.zohoapis.com.evil.io"}"#);
        let error = Auth::new(&refresh_connection("us"), &transport, &storage, &options).unwrap().session().unwrap_err();
        assert_eq!(error.kind, ErrorKind::Unauthorized);
        assert!(error.message.contains("not a Zoho API domain"));
    }

    #[test]
    fn legacy_expiry_is_read_in_seconds() {
        let (transport, storage, options) = (Scripted::default(), Memory::default(), CallOptions::default());
        transport.answer(200, r#"{"access_token":"1000.a","expires_in_sec":3600,"expires_in":3600000,"api_domain":"https://www.zohoapis.com"}"#);
        let auth = Auth::new(&refresh_connection("us"), &transport, &storage, &options).unwrap();
        auth.session().unwrap();
        let entry: Value = serde_json::from_slice(&storage.get(&auth.cache_key()).unwrap().unwrap()).unwrap();
        let left = entry["expires_at_ms"].as_u64().unwrap() - now_ms();
        assert!((3_590_000..=3_600_000).contains(&left), "{left}");
    }

    /// A transport whose sleep lets "another step" finish its refresh.
    struct OtherStepRefreshes<'s> {
        storage: &'s Memory,
        key: String,
        sleeps: std::cell::Cell<u32>,
    }

    impl Transport for OtherStepRefreshes<'_> {
        fn send(&self, _: &Request) -> Result<crate::http::Response> {
            panic!("this step must not request a token while another holds the lease");
        }
        fn sleep(&self, _: Duration) {
            self.sleeps.set(self.sleeps.get() + 1);
            if self.sleeps.get() == 3 {
                let entry = json!({ "access_token": "1000.theirs", "api_domain": "https://www.zohoapis.com", "expires_at_ms": now_ms() + 3_600_000 });
                self.storage.set(&self.key, entry.to_string().as_bytes()).unwrap();
            }
        }
    }

    #[test]
    fn a_step_that_finds_the_lease_taken_waits_for_the_other_steps_token() {
        let (storage, options) = (Memory::default(), CallOptions::default());
        let scripted = Scripted::default();
        let key = Auth::new(&refresh_connection("us"), &scripted, &storage, &options).unwrap().cache_key();
        let transport = OtherStepRefreshes { storage: &storage, key, sleeps: Default::default() };
        let auth = Auth::new(&refresh_connection("us"), &transport, &storage, &options).unwrap();
        // Another step holds this window's lease.
        let window = now_ms() / LEASE_WINDOW_MS;
        storage.increment(&format!("auth/lease/{}/{window}", auth.identity), 1).unwrap();
        assert_eq!(auth.session().unwrap().token, "1000.theirs");
        assert_eq!(transport.sleeps.get(), 3);
    }
    /// A store whose reads fail once the lease is taken (a transient KV error).
    struct FailsAfterLease {
        inner: Memory,
        leased: std::cell::Cell<bool>,
    }

    impl Storage for FailsAfterLease {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
            if self.leased.get() {
                return Err(ZohoError::new(ErrorKind::Internal, "kv read failed"));
            }
            self.inner.get(key)
        }
        fn set(&self, key: &str, value: &[u8]) -> Result<()> {
            self.inner.set(key, value)
        }
        fn delete(&self, key: &str) -> Result<()> {
            self.inner.delete(key)
        }
        fn increment(&self, key: &str, delta: u64) -> Result<u64> {
            let n = self.inner.increment(key, delta)?;
            self.leased.set(key.starts_with("auth/lease/"));
            Ok(n)
        }
    }

    /// Attack on the lease winner's re-read: a read error after the increment returns through
    /// `?` with the lease still held, so every other step of the connection waits out the
    /// window (up to 15 s of 50 ms polls) instead of refreshing.
    #[test]
    fn a_failed_re_read_lets_the_lease_go() {
        let (transport, options) = (Scripted::default(), CallOptions::default());
        let storage = FailsAfterLease { inner: Memory::default(), leased: Default::default() };
        let auth = Auth::new(&refresh_connection("us"), &transport, &storage, &options).unwrap();
        assert!(auth.session().is_err());
        let held: Vec<String> = storage.inner.0.borrow().keys().filter(|k| k.starts_with("auth/lease/")).cloned().collect();
        assert!(held.is_empty(), "the lease is still held after the step failed: {held:?}");
    }
}
