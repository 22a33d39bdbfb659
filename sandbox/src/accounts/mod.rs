//! Zoho Accounts: the sandbox's one account (its ids and credentials), the OAuth token
//! endpoint, and the scopes a token carries and each CRM request needs.

pub mod account;
pub mod oauth;
pub mod scopes;
