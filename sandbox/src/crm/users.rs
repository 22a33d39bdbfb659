//! `GET /crm/v8/users` and `GET /crm/v8/users/{id}` (v8 "Users APIs"; users.json): the org's
//! users, filtered by `type` and paged. Eight users: seven in AllUsers (active and deactivated,
//! confirmed or not, admins and standard users), and one deleted, listed only by DeletedUsers
//! (Zoho: AllUsers lists "both active and inactive users"; DeletedUsers "users who have been
//! deleted"). The first is the connection's own user (CurrentUser) and every record's owner.
//!
//! Rules, as Zoho documents them: `type` is one of the ten types of the v8 page (absent:
//! AllUsers); another is INVALID_DATA naming `type`. `page` from 1 and `per_page` 1 to 200
//! (Zoho's default and largest page), else INVALID_DATA naming the parameter. No users on the
//! page is 204. A user id Zoho does not have is 204 (users.json documents 204, 200 and 500 for
//! Get User, no 400).

use crate::accounts::account;
use crate::params;
use crate::request::RecordedRequest;
use crate::response::{empty_response, json_response};
use axum::response::Response;
use serde_json::{json, Value};

/// The `type` values of the v8 Users page, in its order.
pub const USER_TYPES: [&str; 10] =
    ["AllUsers", "ActiveUsers", "DeactiveUsers", "ConfirmedUsers", "NotConfirmedUsers", "DeletedUsers", "ActiveConfirmedUsers", "AdminUsers", "ActiveConfirmedAdmins", "CurrentUser"];

const PROFILES: [(&str, &str); 2] = [("Administrator", "5725767000000026011"), ("Standard", "5725767000000026014")];
const ROLE: (&str, &str) = ("Manager", "5725767000000026005");

/// One seeded user: (first name, last name, email, status, confirmed, admin).
type Seed = (&'static str, &'static str, &'static str, &'static str, bool, bool);

/// The org's users; the first is [`account::OWNER_ID`]'s.
const USERS: [Seed; 8] = [
    ("Sandbox", "User", "owner@sandbox.zoho", "active", true, true),
    ("Zoë", "Ångström", "zoe@zylker.com", "active", true, false),
    ("山田", "太郎", "yamada@zylker.com", "active", true, true),
    ("Amelia", "Burrows", "amelia@zylker.com", "active", false, false),
    ("Patricia", "Boyle", "patricia@zylker.com", "disabled", true, false),
    ("Kris", "Marrier", "kris@zylker.com", "active", true, false),
    ("Ravi", "Iyer", "ravi@zylker.com", "disabled", false, true),
    ("Gone", "Away", "gone@zylker.com", "deleted", true, false),
];

fn user_id(index: usize) -> String {
    format!("57257670000004110{:02}", index + 1)
}

/// A user in users.json's shape (`users` items; `profile`, `role`, `created_by` as it requires).
fn user(index: usize, seed: &Seed) -> Value {
    let (first, last, email, status, confirm, admin) = *seed;
    let profile = PROFILES[usize::from(!admin)];
    let owner = json!({ "name": "Sandbox User", "id": account::OWNER_ID });
    json!({
        "id": user_id(index), "first_name": first, "last_name": last, "full_name": format!("{first} {last}"), "email": email,
        "status": status, "confirm": confirm, "profile": { "name": profile.0, "id": profile.1 }, "role": { "name": ROLE.0, "id": ROLE.1 },
        "created_by": owner, "created_time": "2024-01-02T03:04:05+00:00",
        "zuid": format!("1010101{:01}", index + 1), "locale": "en_US", "language": "en_US", "country_locale": "en_US",
        "phone": null, "mobile": null, "microsoft": false, "personal_account": false, "sandboxDeveloper": false,
    })
}

/// Does the user of `seed` belong to `kind`?
fn of_type(kind: &str, index: usize, seed: &Seed) -> bool {
    let (_, _, _, status, confirm, admin) = *seed;
    let (active, deleted) = (status == "active", status == "deleted");
    match kind {
        "DeletedUsers" => deleted,
        _ if deleted => false,
        "AllUsers" => true,
        "ActiveUsers" => active,
        "DeactiveUsers" => status == "disabled",
        "ConfirmedUsers" => confirm,
        "NotConfirmedUsers" => !confirm,
        "ActiveConfirmedUsers" => active && confirm,
        "AdminUsers" => admin,
        "ActiveConfirmedAdmins" => active && confirm && admin,
        "CurrentUser" => index == 0,
        _ => false,
    }
}

/// `GET /users?type=&page=&per_page=`.
pub fn list(request: &RecordedRequest) -> Response {
    let kind = request.query_param("type").unwrap_or("AllUsers");
    if !USER_TYPES.contains(&kind) {
        return params::bad_param("type", "invalid data");
    }
    let (page, per_page) = match (params::page(request), params::per_page(request)) {
        (Ok(page), Ok(per_page)) => (page, per_page),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let all: Vec<Value> = USERS.iter().enumerate().filter(|(i, s)| of_type(kind, *i, s)).map(|(i, s)| user(i, s)).collect();
    let slice: Vec<Value> = all.iter().skip((page - 1).saturating_mul(per_page)).take(per_page).cloned().collect();
    if slice.is_empty() {
        return empty_response(204);
    }
    let more = page.saturating_mul(per_page) < all.len();
    json_response(200, &json!({ "users": slice, "info": { "per_page": per_page, "count": slice.len(), "page": page, "more_records": more } }))
}

/// `GET /users/{id}`: the user, in a one-user page (users.json's Get User answer is the same
/// `Response_Wrapper` as the listing's, `info` required); 204 for an id Zoho does not have.
pub fn get(id: &str) -> Response {
    match USERS.iter().enumerate().find(|(i, _)| user_id(*i) == id) {
        Some((i, seed)) => json_response(200, &json!({ "users": [user(i, seed)], "info": { "per_page": 200, "count": 1, "page": 1, "more_records": false } })),
        None => empty_response(204),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_lists_its_users() {
        let ids = |kind: &str| -> Vec<usize> { USERS.iter().enumerate().filter(|(i, s)| of_type(kind, *i, s)).map(|(i, _)| i + 1).collect() };
        assert_eq!(ids("AllUsers"), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(ids("ActiveUsers"), [1, 2, 3, 4, 6]);
        assert_eq!(ids("DeactiveUsers"), [5, 7]);
        assert_eq!(ids("DeletedUsers"), [8]);
        assert_eq!(ids("NotConfirmedUsers"), [4, 7]);
        assert_eq!(ids("AdminUsers"), [1, 3, 7]);
        assert_eq!(ids("ActiveConfirmedAdmins"), [1, 3]);
        assert_eq!(ids("CurrentUser"), [1]);
        assert_eq!(user_id(0), account::OWNER_ID);
    }
}
