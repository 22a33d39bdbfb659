//! The connection: which data center, which API domain, which credentials.

/// What the caller gave, mirroring WIT `types.connection` (kebab-case keys in JSON).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Connection {
    pub region: Option<String>,
    pub accounts_url: Option<String>,
    pub api_domain: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub refresh_token: Option<String>,
    pub soid: Option<String>,
    pub scopes: Option<String>,
    pub access_token: Option<String>,
    pub books_organization_id: Option<String>,
}

/// Zoho's data centers: code, accounts server, API domain (zoho-api.md, "Hosts and data centers").
pub const DATA_CENTERS: [(&str, &str, &str); 9] = [
    ("us", "https://accounts.zoho.com", "https://www.zohoapis.com"),
    ("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    ("in", "https://accounts.zoho.in", "https://www.zohoapis.in"),
    ("au", "https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    ("jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    // Canada's accounts server is zohocloud.ca, not zoho.ca.
    ("ca", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    ("cn", "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    ("sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    ("uk", "https://accounts.zoho.uk", "https://www.zohoapis.uk"),
];

/// Non-empty, trimmed value of an optional field.
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl Connection {
    /// The data center named by `region` (a DC code or an accounts-server URL), default us.
    fn data_center(&self) -> crate::error::Result<&'static (&'static str, &'static str, &'static str)> {
        let Some(region) = given(&self.region) else {
            return Ok(&DATA_CENTERS[0]);
        };
        let wanted = region.trim_end_matches('/').to_ascii_lowercase();
        DATA_CENTERS
            .iter()
            .find(|(code, accounts, _)| *code == wanted || *accounts == wanted)
            .ok_or_else(|| {
                crate::error::ZohoError::invalid_input(format!(
                    "region {region:?} is not a Zoho data center: use one of us, eu, in, au, jp, ca, cn, sa, uk, or an accounts-server URL such as https://accounts.zoho.eu"
                ))
            })
    }

    /// Base URL for API calls: the explicit `api-domain`, else the region's.
    pub fn api_domain(&self) -> crate::error::Result<String> {
        match given(&self.api_domain) {
            Some(domain) => check_base_url("api-domain", domain),
            None => Ok(self.data_center()?.2.to_string()),
        }
    }

    /// Origins this connection may reach: its accounts server and API domain (explicit or by
    /// region). The host's network allowlist is built from this list.
    pub fn allowed_origins(&self) -> crate::error::Result<Vec<String>> {
        let (_, accounts, api) = self.data_center()?;
        let mut origins = vec![accounts.to_string(), api.to_string()];
        if let Some(url) = given(&self.accounts_url) {
            origins.push(check_base_url("accounts-url", url)?);
        }
        if given(&self.api_domain).is_some() {
            origins.push(self.api_domain()?);
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
fn check_base_url(field: &str, url: &str) -> crate::error::Result<String> {
    let url = url.trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| crate::error::ZohoError::invalid_input(format!("{field} must start with https:// (got {url:?})")))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(crate::error::ZohoError::invalid_input(format!(
            "{field} must be a bare origin such as https://www.zohoapis.eu (got {url:?})"
        )));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes_and_accounts_urls_pick_the_api_domain() {
        let c = |r: &str| Connection { region: Some(r.into()), ..Default::default() }.api_domain().unwrap();
        assert_eq!(c("eu"), "https://www.zohoapis.eu");
        assert_eq!(c("https://accounts.zohocloud.ca/"), "https://www.zohoapis.ca");
        assert_eq!(Connection::default().api_domain().unwrap(), "https://www.zohoapis.com");
        let bad = Connection { region: Some("mars".into()), ..Default::default() }.api_domain().unwrap_err();
        assert_eq!(bad.kind, crate::error::ErrorKind::InvalidInput);
    }

    #[test]
    fn explicit_api_domain_wins_and_must_be_an_origin() {
        let c = Connection { region: Some("eu".into()), api_domain: Some("http://127.0.0.1:9/".into()), ..Default::default() };
        assert_eq!(c.api_domain().unwrap(), "http://127.0.0.1:9");
        let c = Connection { api_domain: Some("https://x.com/crm".into()), ..Default::default() };
        assert!(c.api_domain().is_err());
    }
}
