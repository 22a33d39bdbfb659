//! Send Mail: `POST /crm/v8/{module}/{id}/actions/send_mail`, an email sent from a record and
//! filed under it.
//!
//! Zoho's v8 "Send Mail" page and its operation (zoho/crm-oas `v8.0/send_mail`, `sendMail`):
//! the body is `{"data":[one mail]}`; a mail has `from` (`{user_name?, email}`), `to` (at most
//! 50), `cc` and `bcc` (at most 50 each), `subject` (at most 1,000 characters), `content` (at
//! most 100,000), `mail_format` `html` or `text`, and `template` `{id}` (the template gives the
//! subject and content); every address at most 255 characters. Supported modules: Leads,
//! Contacts, Deals, Accounts, Sales Orders, Purchase Orders, Invoices, Quotes, Cases, Vendors
//! and custom modules. `from` must be one of the org's from addresses (the users' own emails,
//! the org's emails and the addresses configured in Settings; v8 "Get Email Addresses",
//! `GET /settings/emails/actions/from_addresses`). Scope `ZohoCRM.send_mail.all.CREATE` (or
//! `ZohoCRM.send_mail.{module}.CREATE`).
//!
//! `user_name`: Zoho's operation makes it optional, its OpenAPI file (send_mail.json) requires it
//! in `from`, `to` and `cc`; it is always sent (the name given as `Name <address>`, else the
//! address itself), which every reading accepts.

use crate::client::{ApiCall, Client};
use crate::crm::response::{keyed_listing, keyed_listing_text, single_outcome};
use crate::error::{Result, ZohoError};
use crate::http::Method;
use crate::validate;
use crate::wit::crm::{ListFromAddressesInput, SendEmailInput};
use serde_json::{json, Map, Value};

/// Recipients per list (to, cc, bcc), subject and content lengths, address length: Zoho's
/// `sendMail` operation (`maxItems=50`, `maxLen=1000`, `maxLen=100000`, `maxLen=255`).
pub const MAX_RECIPIENTS: usize = 50;
pub const MAX_SUBJECT_CHARS: usize = 1_000;
pub const MAX_CONTENT_CHARS: usize = 100_000;
const MAX_ADDRESS_CHARS: usize = 255;

/// Standard modules Zoho's page does not list for Send Mail (custom modules are listed).
const NOT_MAILABLE: [&str; 14] =
    ["Tasks", "Events", "Calls", "Notes", "Attachments", "Products", "Price_Books", "Campaigns", "Solutions", "Users", "Activities", "Visits", "Appointments__s", "Services__s"];

pub fn send_email(client: &Client, input: &SendEmailInput) -> Result<String> {
    let module = validate::module_name(input.record_type.trim())?;
    if NOT_MAILABLE.contains(&module) {
        return Err(ZohoError::invalid_input(format!(
            "Zoho sends email from records of Leads, Contacts, Deals, Accounts, Sales_Orders, Purchase_Orders, Invoices, Quotes, Cases, Vendors and custom modules, not {module}"
        )));
    }
    let id = validate::record_id(input.record_id.trim())?;
    let body = mail_body(input)?;
    let call = ApiCall::new(Method::Post, format!("/crm/v8/{module}/{id}/actions/send_mail")).json(body);
    single_outcome(&client.send(call)?)
}

/// From addresses a mail may be sent from listed for `from`'s dropdown: `GET
/// /crm/v8/settings/emails/actions/from_addresses` (Zoho's from_addresses.json, v8 "Get Email
/// Addresses"; scope ZohoCRM.settings.emails.READ), `user_id` for another user's, answered as
/// `{"from_addresses":[{email, type, id, user_name, default}]}`; Zoho's 204 is an empty list.
pub fn list_from_addresses(client: &Client, input: &ListFromAddressesInput) -> Result<String> {
    let mut call = ApiCall::new(Method::Get, "/crm/v8/settings/emails/actions/from_addresses");
    if let Some(user) = input.user_id.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        let user = validate::record_id(user).map_err(|_| ZohoError::invalid_input(format!("user-id {user:?} is not a Zoho user id: ids are numbers, as List Users gives them")))?;
        call = call.query("user_id", user);
    }
    let response = client.send(call)?;
    Ok(match keyed_listing(&response, "from_addresses", MAX_FROM_ADDRESSES)? {
        Some((items, _)) => keyed_listing_text("from_addresses", &items, None),
        None => keyed_listing_text("from_addresses", &[], None),
    })
}

/// From addresses read at most (an org has its users' and a handful of its own).
const MAX_FROM_ADDRESSES: usize = 1_000;

/// The request body, every input checked first.
fn mail_body(input: &SendEmailInput) -> Result<Value> {
    let mut mail = Map::new();
    mail.insert("from".into(), address("from", &input.from)?);
    mail.insert("to".into(), recipients("to", &input.to, true)?);
    for (name, list) in [("cc", &input.cc), ("bcc", &input.bcc)] {
        if let Some(list) = list.as_deref().filter(|l| !l.is_empty()) {
            mail.insert(name.into(), recipients(name, list, false)?);
        }
    }
    let template = match input.template_id.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Some(validate::record_id(t).map_err(|_| ZohoError::invalid_input(format!("template-id {t:?} is not a Zoho email template id: ids are numbers")))?),
        None => None,
    };
    let subject = text("subject", input.subject.as_deref(), MAX_SUBJECT_CHARS, template.is_some())?;
    let content = text("content", input.content.as_deref(), MAX_CONTENT_CHARS, template.is_some())?;
    if subject.as_deref().is_some_and(|s| s.contains(['\r', '\n'])) {
        return Err(ZohoError::invalid_input("subject must be one line: a line break would end the mail's Subject header"));
    }
    let format = match input.mail_format.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None | Some("html") => "html",
        Some("text") => "text",
        Some(other) => return Err(ZohoError::invalid_input(format!("mail-format {other:?} is not html or text"))),
    };
    if let Some(subject) = subject {
        mail.insert("subject".into(), Value::String(subject));
    }
    if let Some(content) = content {
        mail.insert("content".into(), Value::String(content));
    }
    mail.insert("mail_format".into(), json!(format));
    if let Some(template) = template {
        mail.insert("template".into(), json!({ "id": template }));
    }
    Ok(json!({ "data": [Value::Object(mail)] }))
}

/// A subject or content: required (non-blank) unless a template gives it, at most `max` characters.
fn text(name: &str, value: Option<&str>, max: usize, templated: bool) -> Result<Option<String>> {
    match value.filter(|v| !v.trim().is_empty()) {
        None if templated => Ok(None),
        None => Err(ZohoError::invalid_input(format!("{name} is required unless template-id names an email template that gives it"))),
        Some(v) if v.chars().count() > max => Err(ZohoError::invalid_input(format!("{name} is {} characters; Zoho takes at most {max}", v.chars().count()))),
        Some(v) => Ok(Some(v.to_string())),
    }
}

fn recipients(name: &str, list: &[String], required: bool) -> Result<Value> {
    if required && list.is_empty() {
        return Err(ZohoError::invalid_input(format!("{name} needs at least one recipient")));
    }
    if list.len() > MAX_RECIPIENTS {
        return Err(ZohoError::invalid_input(format!("{name} holds {} recipients; Zoho takes at most {MAX_RECIPIENTS} per list", list.len())));
    }
    list.iter().map(|a| address(name, a)).collect::<Result<Vec<_>>>().map(Value::Array)
}

/// `address` or `Name <address>` as Zoho's `{user_name, email}`.
fn address(name: &str, given: &str) -> Result<Value> {
    let given = given.trim();
    let (display, email) = match given.strip_suffix('>').and_then(|g| g.rsplit_once('<')) {
        Some((display, email)) => (display.trim().trim_matches('"').trim(), email.trim()),
        None => ("", given),
    };
    if !is_email(email) {
        return Err(ZohoError::invalid_input(format!("{name}: {given:?} is not an email address (name@example.com, or Name <name@example.com>)")));
    }
    if display.chars().count() > MAX_ADDRESS_CHARS || display.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')) {
        return Err(ZohoError::invalid_input(format!("{name}: the name of {email} must be one line of at most {MAX_ADDRESS_CHARS} characters")));
    }
    // A name holding angle brackets shows another address than the one the mail goes to.
    if display.contains(['<', '>']) {
        return Err(ZohoError::invalid_input(format!("{name}: the name of {email} holds < or >, which would show it as another address: give the name alone, e.g. Sales <{email}>")));
    }
    let user_name = if display.is_empty() { email } else { display };
    Ok(json!({ "user_name": user_name, "email": email }))
}

/// One plain address: a local part and a dotted domain, no spaces, controls, quotes or the
/// characters that separate addresses; at most 255 characters.
pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else { return false };
    let plain = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';' | '@' | '(' | ')' | '[' | ']' | '\\'));
    email.chars().count() <= MAX_ADDRESS_CHARS
        && plain(local)
        && plain(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !local.starts_with('.')
        && !local.ends_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn input() -> SendEmailInput {
        SendEmailInput {
            record_type: "Leads".into(),
            record_id: "5725767000000524157".into(),
            from: "Sales <sales@zylker.com>".into(),
            to: vec!["lead@client.com".into()],
            cc: None,
            bcc: None,
            subject: Some("Product Update".into()),
            content: Some("<h1>Hello</h1>".into()),
            mail_format: None,
            template_id: None,
        }
    }

    #[test]
    fn the_body_is_zohos_one_mail() {
        let mut i = input();
        i.cc = Some(vec!["\"Manager\" <manager@zylker.com>".into()]);
        assert_eq!(
            mail_body(&i).unwrap(),
            json!({ "data": [{
                "from": { "user_name": "Sales", "email": "sales@zylker.com" },
                "to": [{ "user_name": "lead@client.com", "email": "lead@client.com" }],
                "cc": [{ "user_name": "Manager", "email": "manager@zylker.com" }],
                "subject": "Product Update", "content": "<h1>Hello</h1>", "mail_format": "html",
            }]})
        );
        i.template_id = Some("5725767000000601001".into());
        i.subject = None;
        i.content = None;
        i.mail_format = Some("text".into());
        assert_eq!(mail_body(&i).unwrap()["data"][0]["template"], json!({ "id": "5725767000000601001" }));
        assert!(mail_body(&i).unwrap()["data"][0].get("subject").is_none());
    }

    #[test]
    fn bad_inputs_are_refused_before_sending() {
        let cases: Vec<(Box<dyn Fn(&mut SendEmailInput)>, &str)> = vec![
            (Box::new(|i| i.to = vec![]), "to needs at least one recipient"),
            (Box::new(|i| i.to = vec!["a@b.co".into(); 51]), "to holds 51 recipients; Zoho takes at most 50 per list"),
            (Box::new(|i| i.bcc = Some(vec!["x@y.co".into(); 51])), "bcc holds 51 recipients"),
            (Box::new(|i| i.to = vec!["lead@client.com\r\nBcc: evil@x.com".into()]), "is not an email address"),
            (Box::new(|i| i.from = "Sales\r\nX: y <sales@zylker.com>".into()), "must be one line"),
            (Box::new(|i| i.from = "nobody".into()), "from: \"nobody\" is not an email address"),
            (Box::new(|i| i.subject = Some("a\r\nBcc: x@y.co".into())), "subject must be one line"),
            (Box::new(|i| i.subject = Some("s".repeat(1001))), "subject is 1001 characters; Zoho takes at most 1000"),
            (Box::new(|i| i.content = Some("c".repeat(100_001))), "content is 100001 characters"),
            (Box::new(|i| i.content = None), "content is required unless template-id"),
            (Box::new(|i| i.mail_format = Some("rtf".into())), "mail-format \"rtf\" is not html or text"),
            (Box::new(|i| i.template_id = Some("../x".into())), "template-id \"../x\" is not"),
            (Box::new(|i| i.record_type = "Tasks".into()), "not Tasks"),
            (Box::new(|i| i.record_id = "1/2".into()), "record-id"),
        ];
        for (change, says) in cases {
            let fixture = Fixture::default();
            let mut i = input();
            change(&mut i);
            let e = send_email(&fixture.client(), &i).unwrap_err();
            assert!(e.message.contains(says), "{} does not say {says:?}", e.message);
            assert_eq!(fixture.sent(), 0);
        }
        assert!(content_limits_hold_at_the_edge());
    }

    fn content_limits_hold_at_the_edge() -> bool {
        let mut i = input();
        i.subject = Some("é".repeat(MAX_SUBJECT_CHARS));
        i.content = Some("日".repeat(MAX_CONTENT_CHARS));
        i.to = vec!["a@b.co".into(); MAX_RECIPIENTS];
        mail_body(&i).is_ok()
    }

    #[test]
    fn addresses() {
        for good in ["a@b.co", "first.last+tag@sub.example.com", "ü@exämple.de"] {
            assert!(is_email(good), "{good}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a@.co", "a@b.co.", "a b@c.co", "a@b..co", "a,b@c.co", "<a@b.co>", "a@b@c.co", ".a@b.co"] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(!is_email(&format!("{}@b.co", "a".repeat(252))));
    }
    /// A display name holding an address of its own (`"Eve <eve@evil.example>" <ceo@zylker.com>`)
    /// would show the recipient, or the mail's From, as another address than the one it goes
    /// to; a line separator would break the header a mail client builds from the name.
    #[test]
    fn a_display_name_holding_an_address_or_a_line_break_is_refused() {
        for bad in ["\"Eve <eve@evil.example>\" <ceo@zylker.com>", "Eve <eve@evil.example> <ceo@zylker.com>", "Eve>x <ceo@zylker.com>", "Eve\u{2028}Bcc: x@y.co <ceo@zylker.com>"] {
            assert!(address("to", bad).is_err(), "{bad}");
        }
        assert_eq!(address("to", "\"Smith, John\" <john@zylker.com>").unwrap(), json!({"user_name": "Smith, John", "email": "john@zylker.com"}));
    }
}
