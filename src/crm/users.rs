//! Users (v8, "Users APIs", https://www.zoho.com/crm/developer/docs/api/v8/get-users.html):
//! `GET /crm/v8/users?type=&page=&per_page=` lists the org's users of one type, a page at a
//! time; `GET /crm/v8/users/{user_id}` reads one. Zoho keys both answers by `users`.

use crate::client::{ApiCall, Client};
use crate::crm::error_text::is_unknown_id;
use crate::crm::response::{keyed_listing, keyed_listing_text};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::validate;
use crate::wit::crm::{GetUserInput, ListUsersInput};
use serde_json::json;

/// Zoho's user types (the `type` parameter of Get Users, v8 page and Kaizen #51 "Handling users
/// with Zoho CRM API"; users.json's enum lists only six of them, the page all ten). AllUsers is
/// Zoho's default and is sent explicitly, so the answer is the same under every reading.
pub const USER_TYPES: [&str; 10] =
    ["AllUsers", "ActiveUsers", "DeactiveUsers", "ConfirmedUsers", "NotConfirmedUsers", "DeletedUsers", "ActiveConfirmedUsers", "AdminUsers", "ActiveConfirmedAdmins", "CurrentUser"];

fn user_type(given: Option<&str>) -> Result<&'static str> {
    let given = given.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("AllUsers");
    USER_TYPES.iter().copied().find(|t| *t == given).ok_or_else(|| {
        let shown: String = given.chars().take(40).collect();
        ZohoError::invalid_input(format!("type {shown:?} is not one of Zoho's user types: {}", USER_TYPES.join(", ")))
    })
}

/// List Users: one page of users of a type, as `{"users":[...],"info":{...}}`; no users of the
/// type (Zoho's 204) is an empty page saying so in `info`.
pub fn list_users(client: &Client, input: &ListUsersInput) -> Result<String> {
    let kind = user_type(input.type_.as_deref())?;
    let page = validate::page(input.page)?;
    let per_page = validate::per_page(input.per_page)?;
    let call = ApiCall::new(Method::Get, "/crm/v8/users").query("type", kind).query("page", page.to_string()).query("per_page", per_page.to_string());
    let response = client.send(call)?;
    match keyed_listing(&response, "users", per_page as usize)? {
        Some((users, info)) => {
            let fallback = info.is_none().then(|| json!({ "count": users.len(), "more_records": false, "page": page, "per_page": per_page }).to_string());
            Ok(keyed_listing_text("users", &users, info.map(|i| i.get()).or(fallback.as_deref())))
        }
        None => Ok(json!({ "users": [], "info": { "count": 0, "more_records": false, "page": page, "per_page": per_page } }).to_string()),
    }
}

/// Get User: the one user object. A user Zoho does not have (its 204, an empty list, or its
/// INVALID_DATA "the id given seems to be invalid") is `not-found`, as get-record's is.
pub fn get_user(client: &Client, input: &GetUserInput) -> Result<String> {
    let id = validate::record_id(input.user_id.trim())
        .map_err(|_| ZohoError::invalid_input(format!("user-id {:?} is not a Zoho user id: ids are numbers such as 5725767000000411001, as List Users gives them", shown(&input.user_id))))?;
    let response = client.send(ApiCall::new(Method::Get, format!("/crm/v8/users/{id}")))?;
    let missing = || ZohoError::new(ErrorKind::NotFound, format!("no user has id {id}")).with_status(response.status);
    match keyed_listing(&response, "users", 1) {
        Ok(Some((users, _))) => users.first().map(|u| u.get().to_string()).ok_or_else(missing),
        Ok(None) => Err(missing()),
        Err(mut e) if is_unknown_id(e.code.as_deref(), &e.message) => {
            e.kind = ErrorKind::NotFound;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

fn shown(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn listed(status: u16, answer: &str, kind: Option<&str>) -> Result<serde_json::Value> {
        let fixture = Fixture::default();
        fixture.transport.answer(status, answer);
        let client = fixture.client();
        list_users(&client, &ListUsersInput { type_: kind.map(str::to_string), page: None, per_page: Some(2) }).map(|t| serde_json::from_str(&t).unwrap_or_default())
    }

    #[test]
    fn users_are_listed_as_zoho_sent_them_and_odd_answers_are_refused() {
        let page = r#"{"users":[{"id":"1","full_name":"Zoë"}],"info":{"count":1,"more_records":false,"page":1,"per_page":2}}"#;
        assert_eq!(listed(200, page, None).unwrap(), serde_json::from_str::<serde_json::Value>(page).unwrap());
        assert_eq!(listed(204, "", Some("DeletedUsers")).unwrap(), json!({ "users": [], "info": { "count": 0, "more_records": false, "page": 1, "per_page": 2 } }));
        assert_eq!(listed(200, r#"{"users":[]}"#, None).unwrap(), json!({ "users": [], "info": { "count": 0, "more_records": false, "page": 1, "per_page": 2 } }));
        for odd in ["<html>", r#"{"users":"x"}"#, r#"{"info":{}}"#, r#"{"users":[1]}"#, r#"{"users":[{},{},{}]}"#, "[]"] {
            assert_eq!(listed(200, odd, None).unwrap_err().kind, ErrorKind::Zoho, "{odd}");
        }
        assert_eq!(listed(200, page, Some("Admins")).unwrap_err().kind, ErrorKind::InvalidInput);
    }
}
