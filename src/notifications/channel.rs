//! A channel's parts as the caller gives them, checked before anything is sent: the events
//! watched, the notify URL, the channel id, the token and the expiry.

use crate::error::{Result, ZohoError};
use crate::validate;

/// Most events one channel watches. Zoho documents no count; four operations of 25 modules
/// is more than a flow watches, and it keeps the request small.
pub const MAX_EVENTS: usize = 100;
/// Zoho keeps a token of at most 50 characters ("Maximum length of characters is 50").
pub const MAX_TOKEN_CHARS: usize = 50;
/// Longest notify URL accepted.
pub const MAX_NOTIFY_URL_CHARS: usize = 2_000;
/// Zoho's longest channel life: one week since API v4 (Kaizen #170, "FAQs on Notification
/// APIs": "From V4, the default expiry time remains one hour, but the maximum limit is one
/// week"); a later expiry silently becomes one hour.
pub const MAX_EXPIRY_MINUTES: u32 = 10_080;
/// Digits of Zoho's long (channel ids are `long`).
pub const MAX_CHANNEL_ID_DIGITS: usize = 19;
/// The operations an event names.
pub const OPERATIONS: [&str; 4] = ["create", "edit", "delete", "all"];

/// Events as Zoho takes them (`Leads.create`, `Deals.all`): 1 to [`MAX_EVENTS`], each a module
/// API name and an operation, none twice.
pub fn events(events: &[String]) -> Result<Vec<String>> {
    if events.is_empty() || events.len() > MAX_EVENTS {
        return Err(ZohoError::invalid_input(format!("events lists {} events; give 1 to {MAX_EVENTS}, each Module.create, Module.edit, Module.delete or Module.all (e.g. Leads.all)", events.len())));
    }
    let mut checked: Vec<String> = Vec::with_capacity(events.len());
    for event in events {
        let event = event.trim();
        let shown: String = event.chars().take(60).collect();
        let Some((module, operation)) = event.split_once('.') else {
            return Err(ZohoError::invalid_input(format!("event {shown:?} is not Module.operation: write e.g. Leads.create, Contacts.edit, Deals.delete or Accounts.all")));
        };
        validate::module_name(module)
            .map_err(|_| ZohoError::invalid_input(format!("event {shown:?} does not start with a module API name (letters, digits and underscores, at most 25, e.g. Leads)")))?;
        if !OPERATIONS.contains(&operation) {
            return Err(ZohoError::invalid_input(format!("event {shown:?} names no operation Zoho watches: end it with .create, .edit, .delete or .all")));
        }
        if checked.iter().any(|e| e == event) {
            return Err(ZohoError::invalid_input(format!("event {shown:?} is listed twice")));
        }
        checked.push(event.to_string());
    }
    Ok(checked)
}

/// A notify URL Zoho can post to and the flow can trust: https, or http on a loopback host
/// (tests, a local host behind a tunnel); no user or password in it; printable ASCII.
pub fn notify_url(url: &str) -> Result<&str> {
    let url = url.trim();
    let count = url.chars().count();
    if count == 0 || count > MAX_NOTIFY_URL_CHARS {
        return Err(ZohoError::invalid_input(format!("notify-url is {count} characters; give an https URL of 1 to {MAX_NOTIFY_URL_CHARS}")));
    }
    if !url.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(ZohoError::invalid_input("notify-url holds spaces, control or non-ASCII characters: percent-encode them"));
    }
    let bad = |why: &str| ZohoError::invalid_input(format!("notify-url is not usable: {why}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("it must start with https://"))?;
    let secure = scheme.eq_ignore_ascii_case("https");
    if !secure && !scheme.eq_ignore_ascii_case("http") {
        return Err(bad("it must start with https:// (http:// only on a loopback host)"));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end).unwrap_or("");
    if authority.contains('@') {
        return Err(bad("it carries a user name or password; Zoho would post them with every notification, so put the secret in the token instead"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("its IPv6 host has no closing ]"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("its IPv6 host is not an address"));
            }
            (host, if after.is_empty() { None } else { Some(after.strip_prefix(':').ok_or_else(|| bad("a port must follow ] after a colon"))?) })
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let valid_host = !host.is_empty() && (host.contains(':') || host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
    if !valid_host {
        return Err(bad("it names no host"));
    }
    if let Some(port) = port {
        if !(1..=5).contains(&port.len()) || !port.bytes().all(|b| b.is_ascii_digit()) || !port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p)) {
            return Err(bad("its port is not a number from 1 to 65535"));
        }
    }
    if !secure && !is_loopback(host) {
        return Err(bad("http is accepted only on a loopback host (127.0.0.1, [::1], localhost); use https so the notifications and their token travel encrypted"));
    }
    Ok(url)
}

/// 127.0.0.0/8, ::1 or localhost.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.octets()[0] == 127) || host.parse::<std::net::Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// A channel id: 1 to 19 digits that fit Zoho's long.
pub fn channel_id<'a>(id: &'a str, what: &str) -> Result<&'a str> {
    let id = id.trim();
    let digits = !id.is_empty() && id.len() <= MAX_CHANNEL_ID_DIGITS && id.bytes().all(|b| b.is_ascii_digit());
    if digits && id.parse::<i64>().is_ok_and(|n| n > 0) {
        return Ok(id);
    }
    let shown: String = id.chars().take(40).collect();
    Err(ZohoError::invalid_input(format!(
        "{what} {shown:?} is not a channel id: use 1 to {MAX_CHANNEL_ID_DIGITS} digits, a positive number Zoho's long holds (at most 9223372036854775807), e.g. 1000000068001"
    )))
}

/// The token to send: the caller's (at most [`MAX_TOKEN_CHARS`] printable characters), or a
/// random one when none is given.
pub fn token(token: Option<&str>) -> Result<String> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(super::token::generate()),
        Some(t) if t.chars().count() > MAX_TOKEN_CHARS => Err(ZohoError::invalid_input(format!("token is {} characters; Zoho keeps at most {MAX_TOKEN_CHARS}", t.chars().count()))),
        Some(t) if t.chars().any(|c| c.is_control() || c.is_whitespace() || validate::is_invisible(c)) => {
            Err(ZohoError::invalid_input("token holds spaces, control or invisible characters; use printable characters (or leave it empty for a random one)"))
        }
        Some(t) => Ok(t.to_string()),
    }
}

/// Minutes until the channel expires: 1 to [`MAX_EXPIRY_MINUTES`], the most when not given.
pub fn expiry_minutes(minutes: Option<u32>) -> Result<u32> {
    match minutes.unwrap_or(MAX_EXPIRY_MINUTES) {
        m @ 1..=MAX_EXPIRY_MINUTES => Ok(m),
        m => Err(ZohoError::invalid_input(format!("expiry-minutes {m} is out of range: a channel lives 1 to {MAX_EXPIRY_MINUTES} minutes (one week, Zoho's most)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn events_are_module_and_operation_once_each() {
        assert_eq!(events(&strings(&["Leads.all", " Contacts.create", "My_Mod__c.delete"])).unwrap(), ["Leads.all", "Contacts.create", "My_Mod__c.delete"]);
        for bad in [&[][..], &["Leads"], &["Leads.update"], &["Leads.all", "Leads.all"], &["Le ads.all"], &["1Leads.all"], &["Leads.all.x"], &["../x.all"], &[".all"], &["Leads."]] {
            assert_eq!(events(&strings(bad)).unwrap_err().kind, crate::error::ErrorKind::InvalidInput, "{bad:?}");
        }
        let many: Vec<String> = (0..=MAX_EVENTS).map(|i| format!("M{i}.all")).collect();
        assert!(events(&many).is_err());
        assert!(events(&many[..MAX_EVENTS]).is_ok());
    }

    #[test]
    fn notify_urls_are_https_or_loopback_http_without_credentials() {
        for ok in ["https://hooks.example.com/zoho?x=1", "http://127.0.0.1:8080/n", "http://127.200.1.1/", "http://[::1]:9/", "http://LOCALHOST:1", "https://[2001:db8::1]/x", "HTTPS://a.b"] {
            assert!(notify_url(ok).is_ok(), "{ok}");
        }
        let long = format!("https://a.example/{}", "p".repeat(MAX_NOTIFY_URL_CHARS - 18));
        assert_eq!(long.len(), MAX_NOTIFY_URL_CHARS);
        assert!(notify_url(&long).is_ok());
        assert!(notify_url(&format!("{long}p")).is_err());
        for bad in [
            "http://example.com/x",
            "http://10.0.0.1/",
            "http://128.0.0.1/",
            "http://[::2]/",
            "http://localhost.evil.com/",
            "ftp://127.0.0.1/",
            "https://user:pw@example.com/",
            "http://a@127.0.0.1/",
            "https://exa mple.com",
            "https://exämple.com",
            "https://",
            "example.com",
            "https://:443/",
            "https://a:0/",
            "https://a:65536/",
            "https://a:x/",
            "https://[::1/",
            "https://[zz]/",
            "http://127.0.0.1.evil.com/",
            "",
        ] {
            assert!(notify_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn channel_ids_tokens_and_expiry() {
        assert!(channel_id("1000000068001", "channel-id").is_ok());
        assert!(channel_id("9223372036854775807", "channel-id").is_ok());
        for bad in ["", "0", "12a", "9223372036854775808", "12345678901234567890", "-1", "+1", "١٢"] {
            assert!(channel_id(bad, "channel-id").is_err(), "{bad}");
        }
        assert_eq!(token(Some(&"t".repeat(50))).unwrap().len(), 50);
        assert_eq!(token(Some(&"é".repeat(50))).unwrap().chars().count(), 50);
        assert!(token(Some(&"t".repeat(51))).is_err());
        assert!(token(Some("a b")).is_err());
        assert!(token(Some("a\u{200b}")).is_err());
        assert_eq!(token(None).unwrap().len(), 40);
        assert_eq!(token(Some("")).unwrap().len(), 40);
        assert_eq!((expiry_minutes(None).unwrap(), expiry_minutes(Some(1)).unwrap(), expiry_minutes(Some(10_080)).unwrap()), (10_080, 1, 10_080));
        assert!(expiry_minutes(Some(0)).is_err() && expiry_minutes(Some(10_081)).is_err() && expiry_minutes(Some(u32::MAX)).is_err());
    }
}
