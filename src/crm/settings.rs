//! A module's settings listed for a form's dropdown: `GET /crm/v8/settings/{area}?module=`
//! (related lists, custom views, tags), each answer keyed by its area (`related_lists`,
//! `custom_views`, `tags`) with an `info` for those Zoho pages.

use crate::client::{ApiCall, Client};
use crate::crm::response::{keyed_listing, keyed_listing_text};
use crate::error::Result;
use crate::http::Method;
use crate::validate;

/// `GET /crm/v8/settings/{area}?module={module}`, answered as `{"<area>":[...]}` with Zoho's
/// `info` when it sent one; Zoho's 204 ("none") is an empty list. At most `max_items` items are
/// read (more is refused unread); each is passed on as Zoho wrote it.
pub fn module_settings(client: &Client, area: &str, record_type: &str, max_items: usize) -> Result<String> {
    let module = validate::module_name(record_type.trim())?;
    let response = client.send(ApiCall::new(Method::Get, format!("/crm/v8/settings/{area}")).query("module", module))?;
    Ok(match keyed_listing(&response, area, max_items)? {
        Some((items, info)) => keyed_listing_text(area, &items, info.map(|i| i.get())),
        None => keyed_listing_text(area, &[], None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::testing::Fixture;

    fn listed(status: u16, answer: &str, module: &str) -> Result<String> {
        let fixture = Fixture::default();
        fixture.transport.answer(status, answer);
        let client = fixture.client();
        module_settings(&client, "tags", module, 3)
    }

    #[test]
    fn a_modules_settings_are_passed_on_and_odd_answers_refused() {
        assert_eq!(listed(200, r#"{"tags":[{"id":"1","name":"Ünïcode 🏷"}],"x":1}"#, "Leads").unwrap(), r#"{"tags":[{"id":"1","name":"Ünïcode 🏷"}]}"#);
        assert_eq!(listed(204, "", "Leads").unwrap(), r#"{"tags":[]}"#);
        for odd in ["not json", r#"{"tags":{}}"#, r#"{"tags":[[]]}"#, r#"{"tags":[{},{},{},{}]}"#, r#"{"related_lists":[]}"#] {
            assert_eq!(listed(200, odd, "Leads").unwrap_err().kind, ErrorKind::Zoho, "{odd}");
        }
        let huge = format!(r#"{{"tags":[{{"name":"{}"}}]}}"#, "a".repeat(3 << 20));
        assert_eq!(listed(200, &huge, "Leads").unwrap_err().kind, ErrorKind::Zoho);
        assert_eq!(listed(200, "{}", "Leads/../x").unwrap_err().kind, ErrorKind::InvalidInput);
        let invalid = r#"{"code":"INVALID_MODULE","details":{},"message":"the module name given seems to be invalid","status":"error"}"#;
        assert_eq!(listed(400, invalid, "Nope").unwrap_err().code.as_deref(), Some("INVALID_MODULE"));
    }
}
