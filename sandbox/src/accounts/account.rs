//! The sandbox account's fixed identities: the OAuth client, its refresh token, the CRM and
//! Books organizations, the one user who owns every record, and how many Books contacts are
//! seeded.

use serde_json::{json, Value};

/// The OAuth client the sandbox knows from the start.
pub const CLIENT_ID: &str = "1000.SANDBOXCLIENTID";
pub const CLIENT_SECRET: &str = "sandbox-client-secret-0123456789";
/// A refresh token issued to that client.
pub const REFRESH_TOKEN: &str = "1000.sandbox-refresh-token.abcdef0123456789";
/// The scopes that refresh token was granted: every API the sandbox serves, so a token it
/// yields reaches everything (a test limits scopes with a refresh token of its own).
pub const REFRESH_TOKEN_SCOPES: &str =
    "ZohoCRM.modules.ALL ZohoCRM.settings.ALL ZohoCRM.users.ALL ZohoCRM.org.ALL ZohoCRM.coql.READ ZohoCRM.notifications.ALL ZohoCRM.apis.READ ZohoCRM.bulk.ALL ZohoBooks.fullaccess.all";
/// The organization a Self Client may name as `soid` (`ZohoCRM.<org id>`).
pub const ORG_ID: &str = "10101010";
/// The default Zoho Books organization of the sandbox account.
pub const BOOKS_ORG_ID: &str = "10234695";
/// Books contacts seeded (more than two pages of 200).
pub const BOOKS_CONTACTS: usize = 450;
/// The account's one user: owner, creator and modifier of every record.
pub const OWNER_ID: &str = "5725767000000411001";

/// That user as a record's Owner, Created_By and Modified_By name them.
pub fn owner() -> Value {
    json!({ "name": "Sandbox User", "id": OWNER_ID, "email": "owner@sandbox.zoho" })
}
