//! `zoho-host watch`'s flags, checked before anything is sent: the events (`Module.create|edit|
//! delete|all`), the public notify URL (https, or http on a loopback host) and the durations.

use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::time::Duration;

/// The operations a module is watched for, as Zoho's event suffixes name them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watched {
    pub create: bool,
    pub edit: bool,
    pub delete: bool,
}

impl Watched {
    /// Whether an event of Zoho's `operation` (insert, update, delete) is watched.
    pub fn wants(&self, operation: &str) -> bool {
        match operation {
            "insert" => self.create,
            "update" => self.edit,
            "delete" => self.delete,
            _ => false,
        }
    }
}

/// Each watched module with its operations, from events such as `Leads.all,Contacts.create`.
pub fn events(list: &[String]) -> Result<BTreeMap<String, Watched>> {
    let mut modules: BTreeMap<String, Watched> = BTreeMap::new();
    for event in list.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        let Some((module, operation)) = event.rsplit_once('.') else {
            bail!("--events: {event:?} is not Module.operation: write e.g. Leads.all or Contacts.create");
        };
        if let Err(e) = zoho_connector::validate::module_name(module) {
            bail!("--events: {event:?}: {}", e.message);
        }
        let watched = modules.entry(module.to_string()).or_default();
        match operation {
            "create" => watched.create = true,
            "edit" => watched.edit = true,
            "delete" => watched.delete = true,
            "all" => *watched = Watched { create: true, edit: true, delete: true },
            other => bail!("--events: {event:?}: the operation {other:?} is none of create, edit, delete, all"),
        }
    }
    if modules.is_empty() {
        bail!("--events: name at least one event, e.g. Leads.all or Contacts.create");
    }
    Ok(modules)
}

/// The events as Zoho is asked for them: `Module.all` where all three are watched.
pub fn zoho_events(modules: &BTreeMap<String, Watched>) -> Vec<String> {
    let mut events = Vec::new();
    for (module, w) in modules {
        if w.create && w.edit && w.delete {
            events.push(format!("{module}.all"));
            continue;
        }
        for (on, operation) in [(w.create, "create"), (w.edit, "edit"), (w.delete, "delete")] {
            if on {
                events.push(format!("{module}.{operation}"));
            }
        }
    }
    events
}

/// The path deliveries arrive on, from the URL Zoho is given: https anywhere, http only on a
/// loopback host (tests, or a TLS proxy on the same machine).
pub fn public_url(text: &str) -> Result<String> {
    if text.len() > 2048 {
        bail!("--public-url is {} bytes; at most 2048", text.len());
    }
    let Ok(uri) = text.parse::<http::Uri>() else {
        bail!("--public-url {text:?} is not a URL: write e.g. https://hooks.example.com/zoho");
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        bail!("--public-url {text:?} needs a scheme and host: write e.g. https://hooks.example.com/zoho");
    };
    if authority.as_str().contains('@') {
        bail!("--public-url {text:?} carries credentials: Zoho authenticates a delivery by its token, not by the URL");
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match scheme {
        "https" => {}
        "http" if loopback => {}
        "http" => bail!("--public-url {text:?}: Zoho needs https; http is allowed only on a loopback host (127.0.0.1, ::1, localhost)"),
        other => bail!("--public-url {text:?}: the scheme {other:?} is not https"),
    }
    Ok(uri.path().to_string())
}

/// A duration such as `15m`, `30s`, `2h` or `500ms`, between `min` and `max`.
pub fn duration(flag: &str, text: &str, min: Duration, max: Duration) -> Result<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let Ok(n) = digits.parse::<u64>() else {
        bail!("{flag} {text:?} is not a duration: write e.g. 15m, 30s, 2h or 500ms");
    };
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => bail!("{flag} {text:?} has no unit: write e.g. 15m, 30s, 2h or 500ms"),
    };
    let within = millis.map(Duration::from_millis).filter(|d| *d >= min && *d <= max);
    within.ok_or_else(|| anyhow::anyhow!("{flag} {text:?} is out of range: {} to {}", shown(min), shown(max)))
}

fn shown(d: Duration) -> String {
    match d.as_millis() {
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(events: &[&str]) -> Vec<String> {
        events.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn events_name_a_module_and_an_operation() {
        let modules = events(&list(&["Leads.all", "Contacts.create", "Contacts.delete", "My_Module__c.edit"])).unwrap();
        assert_eq!(modules["Leads"], Watched { create: true, edit: true, delete: true });
        assert_eq!(modules["Contacts"], Watched { create: true, edit: false, delete: true });
        assert_eq!(zoho_events(&modules), ["Contacts.create", "Contacts.delete", "Leads.all", "My_Module__c.edit"]);
        for bad in ["Leads", "Leads.ALL", "Leads.update", ".all", "Le ads.all", "Leads/../x.all", "Léads\u{202e}.all", ""] {
            assert!(events(&list(&[bad])).is_err(), "{bad:?}");
        }
        assert!(events(&[]).is_err());
    }

    #[test]
    fn public_urls_are_https_or_loopback_http() {
        assert_eq!(public_url("https://hooks.example.com/zoho?x=1").unwrap(), "/zoho");
        assert_eq!(public_url("http://127.0.0.1:8788/hook").unwrap(), "/hook");
        assert_eq!(public_url("http://[::1]:9/").unwrap(), "/");
        assert_eq!(public_url("http://localhost:9").unwrap(), "/");
        for bad in ["http://example.com/x", "http://10.0.0.1/x", "ftp://127.0.0.1/", "https://u:p@example.com/", "/relative", "https://exa mple.com/", "https://example.com/\u{0}"] {
            assert!(public_url(bad).is_err(), "{bad:?}");
        }
        assert!(public_url(&format!("https://example.com/{}", "a".repeat(2048))).is_err());
    }

    #[test]
    fn durations_have_a_unit_and_stay_in_range() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(86_400));
        assert_eq!(duration("--sweep-every", "15m", min, max).unwrap(), Duration::from_secs(900));
        assert_eq!(duration("--sweep-every", "30s", min, max).unwrap(), Duration::from_secs(30));
        assert_eq!(duration("--sweep-every", "2h", min, max).unwrap(), Duration::from_secs(7200));
        assert_eq!(duration("--sweep-every", "500ms", min, max).unwrap(), Duration::from_millis(500));
        for bad in ["15", "m", "0s", "25h", "18446744073709551615h", "99999999999999999999s", "1.5h", "-1s", "٣s"] {
            assert!(duration("--sweep-every", bad, min, max).is_err(), "{bad:?}");
        }
    }
}
