//! The token seam: where an action gets the `Authorization` value. The OAuth grants
//! (refresh token, self client) plug in here without touching the actions.

use crate::connection::{given, Connection};
use crate::error::{ErrorKind, Result, ZohoError};

pub fn access_token(connection: &Connection) -> Result<String> {
    given(&connection.access_token).map(str::to_string).ok_or_else(|| {
        ZohoError::new(
            ErrorKind::InvalidInput,
            "the connection has no access-token: set access-token to the OAuth token your platform holds for this Zoho account",
        )
    })
}

/// The header value Zoho expects (not `Bearer`).
pub fn authorization(token: &str) -> String {
    format!("Zoho-oauthtoken {token}")
}
