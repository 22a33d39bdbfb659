//! Tenancy: which key-value namespace a connection's steps use (a digest of who it is, or its
//! organization's for a platform-managed token, learned once per token and cached), and the
//! origins a connection may reach.

use super::{ActionRef, Runtime};
use crate::kv::KvBackend;
use anyhow::{anyhow, bail, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::Duration;

impl Runtime {
    /// The namespace `run` uses for `connection` given `namespace` (None: the default one), for
    /// host-side state that must live beside the component's (e.g. `zoho-host watch`'s channel).
    /// Stricter than `run`: a managed token's organization that cannot be learned now (a
    /// transport, throttling or server failure) is asked again with backoff, and if it still
    /// cannot be, this fails. A long-lived state keyed by the namespace (a channel, its cursors)
    /// must not move to the token's own namespace on one failed lookup: there it would find no
    /// channel, enable a second one and sweep from now, losing the changes made meanwhile. No
    /// last-known namespace is kept instead: the token rotates and the org is the only link
    /// between a new token and its tenant, so there is nothing else to key it by.
    pub async fn namespace_for(&self, connection: &Value, namespace: Option<&str>) -> Result<String> {
        if let Some(given) = namespace {
            return Ok(given.to_string());
        }
        let origins = origins_of(connection)?;
        let Some(token) = managed_token(connection).filter(|_| self.kv.provides_store()) else {
            return Ok(self.default_namespace(connection, &origins).await);
        };
        let mut wait = ORG_LOOKUP_FIRST_WAIT;
        for attempt in 1..=ORG_LOOKUP_TRIES {
            match self.org_of(connection, &origins, &token).await {
                OrgLookup::Org(org) => return Ok(org_namespace(connection, &org)),
                OrgLookup::NoOrg => return Ok(namespace_of(connection)),
                OrgLookup::Unknown(why) if attempt == ORG_LOOKUP_TRIES => bail!(
                    "the organization of the access token could not be read ({why}; {ORG_LOOKUP_TRIES} tries): the watch's channel and sweep cursors are kept per organization, and starting under another identity would enable a second channel and miss the changes made while it was down; start it again when Zoho answers GET /org, or pass --namespace to name the tenant"
                ),
                OrgLookup::Unknown(why) => {
                    eprintln!("zoho-host: the organization of the access token could not be read ({why}); asking again in {} ms", wait.as_millis());
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
            }
        }
        bail!("the organization of the access token could not be read")
    }

    /// The namespace of a connection run without one. A platform-managed access token is
    /// rotated by the platform, so its digest would reset every cursor: its namespace is its
    /// organization's, learned once per token (see `org_of`). Grants keep `namespace_of`.
    pub(super) async fn default_namespace(&self, connection: &Value, origins: &[String]) -> String {
        // Without a store there is nothing to keep apart, nor a cache for the org probe.
        if !self.kv.provides_store() {
            return namespace_of(connection);
        }
        let Some(token) = managed_token(connection) else { return namespace_of(connection) };
        match self.org_of(connection, origins, &token).await {
            OrgLookup::Org(org) => org_namespace(connection, &org),
            // One step, unlike a watch, keeps no state across runs that a fallback could orphan.
            OrgLookup::NoOrg | OrgLookup::Unknown(_) => namespace_of(connection),
        }
    }

    /// The org id a managed token belongs to: from the host's cache (token digest → org id),
    /// else asked once with the component's own `GET /org` (secrets stay in the component, the
    /// allowlist applies) in a throwaway namespace. A token that cannot read /org is cached as
    /// such, so it costs one request too, and keeps its token namespace.
    async fn org_of(&self, connection: &Value, origins: &[String], token: &str) -> OrgLookup {
        let now = unix_now();
        let (kv, key) = (self.kv.clone(), token.to_string());
        let cached = tokio::task::spawn_blocking(move || kv.get(MANAGED_TOKENS, "", &key)).await;
        if let Ok(Ok(Some(bytes))) = cached {
            if let Ok(known) = serde_json::from_slice::<KnownToken>(&bytes) {
                if now.saturating_sub(known.at) < MANAGED_TOKEN_RETENTION.as_secs() {
                    return known.org.map_or(OrgLookup::NoOrg, OrgLookup::Org);
                }
            }
        }
        let probe = format!("{MANAGED_TOKENS}/probe/{token}");
        let action = ActionRef { interface: "crm".into(), function: "raw-request".into() };
        let outcome = self.run_in(&action, connection, &serde_json::json!({ "url": "/org" }), None, origins, &probe).await;
        // The probe's own state (cached field lists, credit counts) is not kept.
        let kv = self.kv.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for key in kv.keys(&probe, "").unwrap_or_default() {
                let _ = kv.delete(&probe, "", &key);
            }
        })
        .await;
        // Raw answers come back whatever their status; errors are the component's typed ones.
        let org = match outcome.map(|o| o.result) {
            Ok(Ok(answer)) if answer["status"] == 200 => org_id_of(&answer),
            // Zoho's verdict on this token (e.g. no org scope): remembered, asked no more.
            Ok(Ok(answer)) if matches!(answer["status"].as_u64(), Some(401 | 403 | 404)) => None,
            Ok(Err(error)) if matches!(error["kind"].as_str(), Some("unauthorized" | "forbidden" | "not-found")) => None,
            // A transport, throttling or server failure says nothing about the token: ask again.
            Ok(Ok(answer)) => return OrgLookup::Unknown(format!("GET /org answered {}", answer["status"])),
            Ok(Err(error)) => return OrgLookup::Unknown(format!("GET /org failed: {}", crate::zoho_error::error_line(&error))),
            Err(e) => return OrgLookup::Unknown(format!("GET /org did not run: {e}")),
        };
        let known = serde_json::json!({ "org": org, "at": now });
        let (kv, key) = (self.kv.clone(), token.to_string());
        let _ = tokio::task::spawn_blocking(move || {
            let _ = kv.set(MANAGED_TOKENS, "", &key, known.to_string().as_bytes());
            forget_stale_tokens(&*kv, now);
        })
        .await;
        org.map_or(OrgLookup::NoOrg, OrgLookup::Org)
    }
}

/// What the org lookup of a managed token found.
enum OrgLookup {
    Org(String),
    /// Zoho's verdict: this token reads no org (no scope, or none): it keeps its own namespace.
    NoOrg,
    /// Not known now (transport, throttling, server failure): why, without secrets.
    Unknown(String),
}

/// How often the watch asks a managed token's org before refusing to start, and the first wait
/// (doubled each time: 0.5 + 1 + 2 s).
const ORG_LOOKUP_TRIES: u32 = 4;
const ORG_LOOKUP_FIRST_WAIT: Duration = Duration::from_millis(500);

/// Deletes token → org entries past their retention, so the host's store stays bounded.
fn forget_stale_tokens(kv: &dyn KvBackend, now: u64) {
    for key in kv.keys(MANAGED_TOKENS, "").unwrap_or_default() {
        let stale = match kv.get(MANAGED_TOKENS, "", &key) {
            Ok(Some(bytes)) => serde_json::from_slice::<KnownToken>(&bytes).map_or(true, |k| now.saturating_sub(k.at) >= MANAGED_TOKEN_RETENTION.as_secs()),
            _ => false,
        };
        if stale {
            let _ = kv.delete(MANAGED_TOKENS, "", &key);
        }
    }
}

/// Host-only key-value namespace: digests of platform-managed tokens → their org id.
const MANAGED_TOKENS: &str = "zoho-host/managed-tokens";
/// How long a token → org entry is trusted and kept (Zoho access tokens live one hour).
pub const MANAGED_TOKEN_RETENTION: Duration = Duration::from_secs(24 * 3600);

#[derive(serde::Deserialize)]
struct KnownToken {
    org: Option<String>,
    at: u64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn text_field(connection: &Value, name: &str) -> String {
    connection.get(name).and_then(Value::as_str).unwrap_or("").trim().to_string()
}

/// A digest of the platform-managed access token (with its data center), when the connection
/// is one: an access token and no grant the component could refresh it with.
fn managed_token(connection: &Value) -> Option<String> {
    let field = |name: &str| text_field(connection, name);
    let token = field("access-token");
    if token.is_empty() || !field("refresh-token").is_empty() || !field("soid").is_empty() {
        return None;
    }
    let digest = Sha256::digest([field("region"), field("api-domain"), token].join("\u{0}").as_bytes());
    Some(format!("{:x}", digest))
}

/// The org id in a raw `GET /org` answer: `{"status":200,"body":{"json":"{\"org\":[{\"id\":...}]}"}}`.
fn org_id_of(answer: &Value) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Org {
        id: Value,
    }
    #[derive(serde::Deserialize)]
    struct Orgs {
        org: Vec<Org>,
    }
    if answer["status"] != 200 {
        return None;
    }
    let orgs: Orgs = serde_json::from_str(answer["body"]["json"].as_str()?).ok()?;
    let id = match &orgs.org.first()?.id {
        Value::String(id) => id.clone(),
        Value::Number(id) => id.to_string(),
        _ => return None,
    };
    (!id.is_empty() && id.len() <= 64).then_some(id)
}

/// The namespace of an organization in a data center: the same for every token it is given.
pub fn org_namespace(connection: &Value, org: &str) -> String {
    let field = |name: &str| text_field(connection, name);
    let digest = Sha256::digest([field("region"), field("api-domain"), org.to_string()].join("\u{0}").as_bytes());
    format!("org-{}", &format!("{digest:x}")[..32])
}

/// The origins a connection may reach, or why it is refused. The component's message may
/// quote what was pasted into a field (a client secret in `region` or `api-domain`), so it
/// passes the component's own redaction first, as every message of the component does.
pub(super) fn origins_of(connection: &Value) -> Result<Vec<String>> {
    let redacted = |e: zoho_connector::error::ZohoError| {
        let secrets = ["client-secret", "refresh-token", "access-token"].iter().filter_map(|k| connection[*k].as_str()).flat_map(|s| [s, s.trim()]);
        anyhow!("connection: {}", zoho_connector::redact::Redactor::new(secrets).text(&e.message))
    };
    zoho_connector::connection::from_json(connection).and_then(|parsed| parsed.allowed_origins()).map_err(redacted)
}

/// The key-value namespace of a connection: a digest of who it is, never the secrets
/// themselves. Platforms that know their tenant ids should pass a namespace instead.
pub fn namespace_of(connection: &Value) -> String {
    let field = |name: &str| connection.get(name).and_then(Value::as_str).unwrap_or("").trim().to_string();
    let mut identity = vec![field("region"), field("accounts-url"), field("api-domain"), field("client-id")];
    let grant = ["refresh-token", "soid"].iter().map(|f| field(f)).find(|v| !v.is_empty());
    // Without a grant, the token is all that tells two platform-managed accounts apart.
    identity.push(grant.unwrap_or_else(|| field("access-token")));
    let digest = Sha256::digest(identity.join("\u{0}").as_bytes());
    format!("conn-{}", &format!("{digest:x}")[..32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Two tokens of one org in one data center share a namespace; grants and other
    /// data centers do not.
    #[test]
    fn managed_tokens_are_named_by_their_org() {
        let first = json!({ "api-domain": "https://www.zohoapis.eu", "access-token": "1000.a" });
        let second = json!({ "api-domain": "https://www.zohoapis.eu", "access-token": "1000.b" });
        let (a, b) = (managed_token(&first), managed_token(&second));
        assert!(a.is_some() && a != b, "each token has its own cache key");
        assert_eq!(org_namespace(&first, "20001"), org_namespace(&second, "20001"));
        assert_ne!(org_namespace(&first, "20001"), org_namespace(&first, "20002"));
        let us = json!({ "api-domain": "https://www.zohoapis.com", "access-token": "1000.a" });
        assert_ne!(org_namespace(&first, "20001"), org_namespace(&us, "20001"));
        let granted = json!({ "api-domain": "https://www.zohoapis.eu", "access-token": "1000.a", "refresh-token": "r" });
        assert_eq!(managed_token(&granted), None, "a grant keeps its own namespace");
        assert_eq!(managed_token(&json!({ "api-domain": "https://www.zohoapis.eu" })), None);
    }

    #[test]
    fn the_org_id_is_read_from_the_raw_answer_only_when_plain() {
        let answer = |status: u16, body: &str| json!({ "status": status, "headers": [], "body": { "json": body } });
        assert_eq!(org_id_of(&answer(200, r#"{"org":[{"id":"5725767000000021001"}]}"#)).as_deref(), Some("5725767000000021001"));
        assert_eq!(org_id_of(&answer(200, r#"{"org":[{"id":5725767000000021001}]}"#)).as_deref(), Some("5725767000000021001"));
        for (status, body) in [(401, r#"{"org":[{"id":"1"}]}"#), (200, r#"{"org":[]}"#), (200, r#"{"org":[{"id":""}]}"#), (200, "not json"), (200, r#"{"org":[{"id":{"x":1}}]}"#)] {
            assert_eq!(org_id_of(&answer(status, body)), None, "{status} {body}");
        }
        assert_eq!(org_id_of(&answer(200, &format!(r#"{{"org":[{{"id":"{}"}}]}}"#, "9".repeat(65)))), None, "an id past 64 characters");
    }
}
