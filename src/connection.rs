//! The connection: which data center, which hosts, which credentials.

use crate::error::{Result, ZohoError};

/// What the caller gave: WIT `types.connection`, the generated record itself.
pub use crate::wit::types::Connection;

impl Default for Connection {
    fn default() -> Self {
        Connection {
            region: None,
            accounts_url: None,
            api_domain: None,
            client_id: None,
            client_secret: None,
            refresh_token: None,
            soid: None,
            scopes: None,
            access_token: None,
            books_organization_id: None,
        }
    }
}

/// A connection given as JSON with the WIT's kebab-case keys (the host reads one to compute
/// the origins it may reach). Absent and `null` fields are unset; unknown keys are ignored.
pub fn from_json(value: &serde_json::Value) -> Result<Connection> {
    let object = value.as_object().ok_or_else(|| ZohoError::invalid_input("the connection must be a JSON object"))?;
    let field = |key: &str| -> Result<Option<String>> {
        match object.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(ZohoError::invalid_input(format!("connection {key} must be text"))),
        }
    };
    Ok(Connection {
        region: field("region")?,
        accounts_url: field("accounts-url")?,
        api_domain: field("api-domain")?,
        client_id: field("client-id")?,
        client_secret: field("client-secret")?,
        refresh_token: field("refresh-token")?,
        soid: field("soid")?,
        scopes: field("scopes")?,
        access_token: field("access-token")?,
        books_organization_id: field("books-organization-id")?,
    })
}

/// One Zoho data center (zoho-api.md, "Hosts and data centers").
#[derive(Debug, PartialEq)]
pub struct DataCenter {
    pub code: &'static str,
    pub accounts: &'static str,
    pub api: &'static str,
    /// Registrable domains of the DC's hosts (accounts, crm, crmplus, books, zohoapis).
    domains: &'static [&'static str],
}

pub const DATA_CENTERS: [DataCenter; 9] = [
    DataCenter { code: "us", accounts: "https://accounts.zoho.com", api: "https://www.zohoapis.com", domains: &["zoho.com", "zohoapis.com"] },
    DataCenter { code: "eu", accounts: "https://accounts.zoho.eu", api: "https://www.zohoapis.eu", domains: &["zoho.eu", "zohoapis.eu"] },
    DataCenter { code: "in", accounts: "https://accounts.zoho.in", api: "https://www.zohoapis.in", domains: &["zoho.in", "zohoapis.in"] },
    DataCenter { code: "au", accounts: "https://accounts.zoho.com.au", api: "https://www.zohoapis.com.au", domains: &["zoho.com.au", "zohoapis.com.au"] },
    DataCenter { code: "jp", accounts: "https://accounts.zoho.jp", api: "https://www.zohoapis.jp", domains: &["zoho.jp", "zohoapis.jp"] },
    // Canada's accounts server is zohocloud.ca, not zoho.ca (a common peer bug).
    DataCenter { code: "ca", accounts: "https://accounts.zohocloud.ca", api: "https://www.zohoapis.ca", domains: &["zohocloud.ca", "zohoapis.ca", "zoho.ca"] },
    DataCenter { code: "cn", accounts: "https://accounts.zoho.com.cn", api: "https://www.zohoapis.com.cn", domains: &["zoho.com.cn", "zohoapis.com.cn"] },
    DataCenter { code: "sa", accounts: "https://accounts.zoho.sa", api: "https://www.zohoapis.sa", domains: &["zoho.sa", "zohoapis.sa"] },
    DataCenter { code: "uk", accounts: "https://accounts.zoho.uk", api: "https://www.zohoapis.uk", domains: &["zoho.uk", "zohoapis.uk"] },
];

/// Non-empty, trimmed value of an optional field.
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The lower-cased host of a URL or bare host name.
fn host_of(text: &str) -> String {
    let rest = text.split_once("://").map_or(text, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    host.split(':').next().unwrap_or("").trim_end_matches('.').to_ascii_lowercase()
}

fn under(host: &str, domain: &str) -> bool {
    host == domain || host.strip_suffix(domain).is_some_and(|prefix| prefix.ends_with('.'))
}

/// The DC a region names: a DC code (`eu`), a domain suffix (`com.au`), or any URL on the DC's
/// hosts: the accounts server (Prismatic's Region URL, Zoho's `accounts-server`), the CRM
/// domain (Cyclr's domain property, `crmplus` included), or the API domain.
pub fn data_center_of(region: &str) -> Option<&'static DataCenter> {
    let wanted = region.trim().trim_end_matches('/').to_ascii_lowercase();
    let wanted = wanted.strip_prefix("location=").unwrap_or(&wanted);
    if let Some(dc) = DATA_CENTERS.iter().find(|dc| dc.code == wanted || dc.domains[0].split_once('.').is_some_and(|(_, tld)| tld == wanted)) {
        return Some(dc);
    }
    let host = host_of(wanted);
    DATA_CENTERS.iter().find(|dc| dc.domains.iter().any(|d| under(&host, d)))
}

/// Is `url` an API domain of some Zoho DC (where a token may be sent)?
pub fn is_zoho_api_domain(url: &str) -> bool {
    let host = host_of(url);
    url.starts_with("https://")
        && DATA_CENTERS.iter().flat_map(|dc| dc.domains.iter()).any(|d| d.starts_with("zohoapis.") && under(&host, d))
}

impl Connection {
    /// The data center named by `region`, default us.
    pub fn data_center(&self) -> Result<&'static DataCenter> {
        let Some(region) = given(&self.region) else {
            return Ok(&DATA_CENTERS[0]);
        };
        data_center_of(region).ok_or_else(|| {
            ZohoError::invalid_input(format!(
                "region {region:?} is not a Zoho data center: use one of us, eu, in, au, jp, ca, cn, sa, uk, or a Zoho URL of the account such as https://accounts.zoho.eu or https://crm.zoho.eu"
            ))
        })
    }

    /// Base URL for API calls before a token names one: the explicit `api-domain`, else the region's.
    pub fn api_domain(&self) -> Result<String> {
        match given(&self.api_domain) {
            Some(domain) => check_base_url("api-domain", domain),
            None => Ok(self.data_center()?.api.to_string()),
        }
    }

    /// The OAuth server: the explicit `accounts-url`, else the region's.
    pub fn accounts_url(&self) -> Result<String> {
        match given(&self.accounts_url) {
            Some(url) => check_base_url("accounts-url", url),
            None => Ok(self.data_center()?.accounts.to_string()),
        }
    }

    /// Origins this connection may reach: its accounts server and API domain (explicit or by
    /// region). The host's network allowlist is built from this list.
    pub fn allowed_origins(&self) -> Result<Vec<String>> {
        let dc = self.data_center()?;
        let mut origins = vec![dc.accounts.to_string(), dc.api.to_string()];
        for origin in [self.accounts_url()?, self.api_domain()?] {
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(origins)
    }

    /// Values that must never appear in logs, errors or debug output.
    pub fn secrets(&self) -> Vec<String> {
        [&self.client_secret, &self.refresh_token, &self.access_token]
            .into_iter()
            .filter_map(|s| given(s).map(str::to_string))
            .collect()
    }
}

/// An http(s) origin without path, query or trailing slash.
fn check_base_url(field: &str, url: &str) -> Result<String> {
    let url = url.trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| ZohoError::invalid_input(format!("{field} must start with https:// (got {url:?})")))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(ZohoError::invalid_input(format!("{field} must be a bare origin such as https://www.zohoapis.eu (got {url:?})")));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dc_by_code_accounts_url_and_crm_domain() {
        let cases = [
            ("us", "com", "https://accounts.zoho.com", "https://crm.zoho.com", "https://www.zohoapis.com"),
            ("eu", "eu", "https://accounts.zoho.eu", "https://crm.zoho.eu", "https://www.zohoapis.eu"),
            ("in", "in", "https://accounts.zoho.in", "https://crmplus.zoho.in", "https://www.zohoapis.in"),
            ("au", "com.au", "https://accounts.zoho.com.au", "https://crm.zoho.com.au/crm/org123", "https://www.zohoapis.com.au"),
            ("jp", "jp", "https://accounts.zoho.jp/", "crm.zoho.jp", "https://www.zohoapis.jp"),
            ("ca", "ca", "https://accounts.zohocloud.ca", "https://crm.zohocloud.ca", "https://www.zohoapis.ca"),
            ("cn", "com.cn", "https://accounts.zoho.com.cn", "https://crm.zoho.com.cn", "https://www.zohoapis.com.cn"),
            ("sa", "sa", "https://accounts.zoho.sa", "https://crm.zoho.sa", "https://www.zohoapis.sa"),
            ("uk", "uk", "https://accounts.zoho.uk", "https://crmplus.zoho.uk", "https://www.zohoapis.uk"),
        ];
        for (code, tld, accounts, crm, api) in cases {
            for form in [code, tld, accounts, crm, &code.to_uppercase(), &format!("location={code}")] {
                let dc = data_center_of(form).unwrap_or_else(|| panic!("{form} not recognised"));
                assert_eq!((dc.code, dc.api), (code, api), "{form}");
            }
            let c = Connection { region: Some(accounts.into()), ..Default::default() };
            assert_eq!(c.accounts_url().unwrap(), accounts.trim_end_matches('/'));
            assert!(is_zoho_api_domain(api));
        }
        // Canada is zohocloud.ca for accounts, never accounts.zoho.ca.
        assert_eq!(data_center_of("ca").unwrap().accounts, "https://accounts.zohocloud.ca");
    }

    #[test]
    fn lookalike_hosts_are_not_zoho() {
        for bad in ["mars", "https://accounts.zoho.com.evil.io", "https://notzoho.eu", "https://zoho.eu.attacker.com", ""] {
            assert!(data_center_of(bad).is_none(), "{bad}");
        }
        assert!(!is_zoho_api_domain("https://www.zohoapis.com.evil.io"));
        assert!(!is_zoho_api_domain("http://www.zohoapis.com"));
        assert!(Connection { region: Some("mars".into()), ..Default::default() }.api_domain().is_err());
    }

    #[test]
    fn explicit_hosts_win_and_must_be_origins() {
        let c = Connection { region: Some("eu".into()), api_domain: Some("http://127.0.0.1:9/".into()), accounts_url: Some("http://127.0.0.1:9".into()), ..Default::default() };
        assert_eq!(c.api_domain().unwrap(), "http://127.0.0.1:9");
        assert_eq!(c.allowed_origins().unwrap(), vec!["https://accounts.zoho.eu", "https://www.zohoapis.eu", "http://127.0.0.1:9"]);
        let c = Connection { api_domain: Some("https://x.com/crm".into()), ..Default::default() };
        assert!(c.api_domain().is_err());
    }

    #[test]
    fn a_connection_reads_from_kebab_case_json() {
        let c = from_json(&serde_json::json!({"region": "eu", "api-domain": "http://127.0.0.1:9", "books-organization-id": "42", "extra": 1, "soid": null})).unwrap();
        assert_eq!((c.region.as_deref(), c.api_domain.as_deref(), c.books_organization_id.as_deref(), c.soid), (Some("eu"), Some("http://127.0.0.1:9"), Some("42"), None));
        assert!(from_json(&serde_json::json!({"client-secret": 7})).unwrap_err().message.contains("client-secret must be text"));
        assert!(from_json(&serde_json::json!("eu")).is_err());
    }
}
