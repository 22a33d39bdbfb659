//! Test Connection: the step a platform runs when a user connects. Two cheap reads that every
//! working connection can make (one credit each): who the token acts for (v8 "Get Users",
//! `GET /crm/v8/users?type=CurrentUser`, users.json) and which organization it reaches (v8 "Get
//! Organization Data", `GET /crm/v8/org`, org.json). A failure says what to fix: the data
//! center, the scopes, or a new authorization.

use crate::books::envelope;
use crate::client::{ApiCall, Client};
use crate::connection::{data_center_of, given};
use crate::crm::response::{answer_error, content_required, keyed_listing};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::json;
use crate::wit::crm::TestConnectionInput;
use serde_json::{json, Value};

/// Books organizations one account may list (as the organization discovery reads them).
const MAX_ORGANIZATIONS: usize = 1_000;

pub fn test_connection(client: &Client, input: &TestConnectionInput) -> Result<String> {
    let user = current_user(client).map_err(|e| explain(client, e))?;
    let org = organization(client).map_err(|e| explain(client, e))?;
    let api_domain = client.api_domain()?;
    let data_center = data_center_of(&api_domain).map(|dc| dc.code);
    let mut result = json!({ "user": user, "org": org, "data_center": data_center, "api_domain": api_domain });
    if input.check_books == Some(true) {
        result["books_organization"] = books_organization(client)?;
    }
    Ok(result.to_string())
}

/// The connection's own user: Get Users with `type=CurrentUser` lists exactly that one.
fn current_user(client: &Client) -> Result<Value> {
    let response = client.send(ApiCall::new(Method::Get, "/crm/v8/users").query("type", "CurrentUser"))?;
    let listed = keyed_listing(&response, "users", 1)?;
    let user = listed.and_then(|(users, _)| users.first().map(|u| u.get().to_string()));
    let user = user.ok_or_else(|| {
        ZohoError::new(ErrorKind::Zoho, "Zoho listed no current user for this token: the token acts for no CRM user (authorize the connection as a CRM user)").with_status(response.status)
    })?;
    serde_json::from_str(&user).map_err(|e| ZohoError::new(ErrorKind::Zoho, format!("Zoho's current user is not JSON: {e}")))
}

/// The organization: org.json's answer is `{"org":[{...}]}`, one organization.
fn organization(client: &Client) -> Result<Value> {
    let response = client.send(ApiCall::new(Method::Get, "/crm/v8/org"))?;
    let listed = keyed_listing(content_required(&response)?, "org", 1)?;
    let org = listed.and_then(|(orgs, _)| orgs.first().map(|o| o.get().to_string()));
    let org = org.ok_or_else(|| ZohoError::new(ErrorKind::Zoho, "Zoho answered the organization request without an organization").with_status(response.status))?;
    serde_json::from_str(&org).map_err(|e| ZohoError::new(ErrorKind::Zoho, format!("Zoho's organization is not JSON: {e}")))
}

/// A failed check told as what to fix. Zoho answers a token it does not know with 401
/// INVALID_TOKEN, whether the token was revoked or issued by another data center's accounts
/// server (each data center keeps its own tokens: zoho-api.md "Hosts and data centers"; v8 "OAuth
/// Overview", multi-DC); the client has already renewed a renewable token once before this.
/// Token-endpoint refusals (invalid_client: the client is unknown at that accounts server, which
/// is what a wrong region gives; invalid_code: revoked) carry their hint from `auth` already.
fn explain(client: &Client, mut error: ZohoError) -> ZohoError {
    let api_domain = client.known_api_domain();
    let center = data_center_of(&api_domain).map(|dc| format!(" (data center {}, accounts server {})", dc.code, dc.accounts)).unwrap_or_default();
    match error.code.as_deref() {
        Some("INVALID_TOKEN" | "AUTHENTICATION_FAILURE") => {
            error.message = format!(
                "Zoho CRM at {api_domain}{center} does not accept the connection's token ({}): it was revoked or has expired, or it was issued by another data center's accounts server. Set region to the data center the Zoho account lives in (the accounts server the user signed in at, e.g. https://accounts.zoho.eu for eu), then authorize the connection again",
                error.message.trim_end_matches('.')
            );
        }
        Some("invalid_client") => {
            error.message = format!(
                "{}. Zoho's accounts servers per data center: {}",
                error.message,
                crate::connection::DATA_CENTERS.iter().map(|dc| format!("{} {}", dc.code, dc.accounts)).collect::<Vec<_>>().join(", ")
            );
        }
        _ => {}
    }
    error
}

/// `check-books`: the account's Books organizations (`GET /books/v3/organizations`), and the
/// one Books steps will use: the connection's books-organization-id, else the default.
fn books_organization(client: &Client) -> Result<Value> {
    let response = client.send(ApiCall::new(Method::Get, "/books/v3/organizations"))?;
    let envelope = envelope::open(&response)?;
    let listed = envelope::take(&envelope, "organizations")?;
    let items = json::items(listed.get().as_bytes(), MAX_ORGANIZATIONS).map_err(|e| answer_error(&response, e))?;
    let orgs: Vec<Value> = items
        .iter()
        .filter_map(|o| serde_json::from_str::<Value>(o.get()).ok())
        .map(|o| json!({ "organization_id": id_of(&o), "name": o.get("name").cloned().unwrap_or(Value::Null), "is_default_org": o.get("is_default_org").cloned().unwrap_or(Value::Null) }))
        .collect();
    let wanted = given(client.books_organization_id());
    let chosen = match wanted {
        Some(id) => orgs.iter().find(|o| o["organization_id"] == id),
        None => orgs.iter().find(|o| o["is_default_org"] == true).or(if orgs.len() == 1 { orgs.first() } else { None }),
    };
    chosen.cloned().ok_or_else(|| {
        // Names are Zoho's text: each shown cut (redacted first), and only the first few listed.
        let shown = |text: Option<&str>| crate::redact::shown(text.unwrap_or("?"), 100).into_owned();
        let mut names: Vec<String> = orgs.iter().take(20).map(|o| format!("{} ({})", shown(o["name"].as_str()), shown(o["organization_id"].as_str()))).collect();
        if orgs.len() > names.len() {
            names.push(format!("and {} more", orgs.len() - names.len()));
        }
        let names = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        match wanted {
            Some(id) => ZohoError::new(ErrorKind::NotFound, format!("books-organization-id {id} is not one of this account's Books organizations: {names}")),
            None => ZohoError::new(ErrorKind::NotFound, format!("no default Books organization to use: set books-organization-id to one of this account's organizations: {names}")),
        }
    })
}

/// An organization id, given as a string or a number.
fn id_of(org: &Value) -> Value {
    match org.get("organization_id") {
        Some(Value::String(s)) => json!(s),
        Some(Value::Number(n)) => json!(n.to_string()),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    /// Organizations whose names are huge (or hold a secret): the message naming them stays
    /// short, each name shown cut after redaction.
    #[test]
    fn huge_organization_names_stay_out_of_the_message() {
        let fixture = Fixture::default();
        let huge = "N".repeat(200_000);
        fixture.answer(200, &format!(r#"{{"code":0,"message":"success","organizations":[{{"organization_id":"1","name":"{huge}","is_default_org":false}},{{"organization_id":"2","name":"{huge}","is_default_org":false}}]}}"#));
        let error = books_organization(&fixture.client()).unwrap_err();
        assert_eq!(error.kind, ErrorKind::NotFound);
        assert!(error.message.len() < 2_000, "{}", error.message.len());
    }
}
