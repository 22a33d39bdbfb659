//! Every key the component keeps in a connection's namespace, in one place: the key-value
//! contract with every host. Each [`Family`] builds its keys here, is parsed back here, and
//! carries its [`Retention`]; the retention sweep matches on the family, and
//! [`Family::retention`] matches exhaustively, so a family added without a retention does not
//! compile. docs/key-value.md's table is checked against [`FAMILIES`] by a test.

/// The refresh lease's window: one lease per connection per window.
pub const LEASE_WINDOW_MS: u64 = 15_000;

/// A kind of key the component writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    AuthToken,
    AuthLease,
    Credits,
    InFlight,
    Rate,
    OrgLicense,
    CreditTable,
    CreditsRemaining,
    BooksWindow,
    BooksDay,
    BooksBlocked,
    BooksAllowance,
    BooksOrganizationId,
    Fields,
    FieldMetadata,
    PageTokens,
    OpenSweep,
    Cursor,
    CursorBoundary,
    Plan,
    SweepPage,
}

/// Every family, for the docs' check.
pub const FAMILIES: [Family; 21] = [
    Family::AuthToken,
    Family::AuthLease,
    Family::Credits,
    Family::InFlight,
    Family::Rate,
    Family::OrgLicense,
    Family::CreditTable,
    Family::CreditsRemaining,
    Family::BooksWindow,
    Family::BooksDay,
    Family::BooksBlocked,
    Family::BooksAllowance,
    Family::BooksOrganizationId,
    Family::Fields,
    Family::FieldMetadata,
    Family::PageTokens,
    Family::OpenSweep,
    Family::Cursor,
    Family::CursorBoundary,
    Family::Plan,
    Family::SweepPage,
];

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// How long a family's keys live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// A counter of a time window (the key's number, in windows of `window_ms`): stale once
    /// the window is `behind` windows behind the current one, or past its end by `grace_ms`.
    Window { window_ms: u64, behind: u64, grace_ms: u64 },
    /// A `put_fresh` entry: stale `ttl_ms` after it was stored (or unreadable).
    Fresh { ttl_ms: u64 },
    /// A cached token: stale an hour past its expiry.
    TokenExpiry,
    /// An open sweep: stale [`OPEN_SWEEP_RETENTION_MS`] after it opened.
    OpenSweep,
    /// A sweep's page key: stale once its sweep is not the scope's open sweep (and an hour
    /// after it began).
    SweepPage,
    /// One per scope or connection, replaced in place: never stale.
    Always,
}

/// An open sweep nobody finished is forgotten after this.
pub const OPEN_SWEEP_RETENTION_MS: u64 = 7 * DAY_MS;

impl Family {
    /// The key's shape, as docs/key-value.md writes it.
    pub fn pattern(self) -> &'static str {
        match self {
            Family::AuthToken => "auth/token/<digest>",
            Family::AuthLease => "auth/lease/<digest>/<window>",
            Family::Credits => "limits/credits/<hour>",
            Family::InFlight => "limits/inflight/<minute>/<what>",
            Family::Rate => "limits/rate/<second>",
            Family::OrgLicense => "limits/org-license",
            Family::CreditTable => "limits/credit-table",
            Family::CreditsRemaining => "limits/credits-remaining",
            Family::BooksWindow => "limits/books/<org>/window/<slot>/<what>",
            Family::BooksDay => "limits/books/<org>/day/<day>",
            Family::BooksBlocked => "limits/books/<org>/blocked",
            Family::BooksAllowance => "limits/books/<org>/allowance",
            Family::BooksOrganizationId => "books/organization-id",
            Family::Fields => "crm/fields/<module>",
            Family::FieldMetadata => "crm/field-metadata/<module>",
            Family::PageTokens => "crm/page-tokens/<module>/<listing>",
            Family::OpenSweep => "incremental/<scope>/sweep",
            Family::Cursor => "incremental/<scope>/cursor",
            Family::CursorBoundary => "incremental/<scope>/cursor-boundary",
            Family::Plan => "incremental/<scope>/plan",
            Family::SweepPage => "incremental/<scope>/<sweep>/{start,boundary}/<n>",
        }
    }

    pub fn retention(self) -> Retention {
        match self {
            Family::AuthToken => Retention::TokenExpiry,
            Family::AuthLease => Retention::Window { window_ms: LEASE_WINDOW_MS, behind: u64::MAX, grace_ms: MINUTE_MS },
            Family::Credits => Retention::Window { window_ms: HOUR_MS, behind: 25, grace_ms: u64::MAX },
            Family::InFlight => Retention::Window { window_ms: MINUTE_MS, behind: 3, grace_ms: u64::MAX },
            // Books' sliding minute reads its slot and the 11 around it (src/books/limits.rs).
            Family::BooksWindow => Retention::Window { window_ms: BOOKS_SLOT_MS, behind: 13, grace_ms: u64::MAX },
            Family::Rate => Retention::Window { window_ms: 1000, behind: 3, grace_ms: u64::MAX },
            Family::BooksDay => Retention::Window { window_ms: DAY_MS, behind: 2, grace_ms: u64::MAX },
            Family::OrgLicense | Family::CreditTable | Family::BooksBlocked | Family::BooksAllowance => Retention::Fresh { ttl_ms: DAY_MS },
            Family::CreditsRemaining | Family::Fields | Family::FieldMetadata | Family::PageTokens => Retention::Fresh { ttl_ms: HOUR_MS },
            Family::OpenSweep => Retention::OpenSweep,
            Family::SweepPage => Retention::SweepPage,
            // The cursor and its boundary are one per scope; a sliced sweep's plan is replaced
            // by the next and deleted by the commit; the Books organization is one per connection.
            Family::Cursor | Family::CursorBoundary | Family::Plan | Family::BooksOrganizationId => Retention::Always,
        }
    }
}

/// A key read back: its family, the number its window is (for window counters), and for a
/// sweep's page key its scope and sweep id.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<'k> {
    pub family: Family,
    /// The window's number; `None` when the key's number is garbage (stale at once).
    pub window: Option<u64>,
    pub scope: Option<String>,
    pub sweep: Option<&'k str>,
}

fn number(text: &str) -> Option<u64> {
    text.parse().ok()
}

/// The family of a stored key, or `None` for a key the component does not write (another
/// engineer's, or a host's in the same bucket): such keys are kept.
pub fn parse(key: &str) -> Option<Parsed<'_>> {
    let parts: Vec<&str> = key.split('/').collect();
    let of = |family| Some(Parsed { family, window: None, scope: None, sweep: None });
    let window = |family, n: &str| Some(Parsed { family, window: number(n), scope: None, sweep: None });
    match parts.as_slice() {
        ["auth", "token", _] => of(Family::AuthToken),
        ["auth", "lease", _, n] => window(Family::AuthLease, n),
        ["limits", "credits", n] => window(Family::Credits, n),
        ["limits", "inflight", n, _] => window(Family::InFlight, n),
        ["limits", "rate", n] => window(Family::Rate, n),
        ["limits", "org-license"] => of(Family::OrgLicense),
        ["limits", "credit-table"] => of(Family::CreditTable),
        ["limits", "credits-remaining"] => of(Family::CreditsRemaining),
        ["limits", "books", _, "window", n, _] => window(Family::BooksWindow, n),
        ["limits", "books", _, "day", n] => window(Family::BooksDay, n),
        ["limits", "books", _, "blocked"] => of(Family::BooksBlocked),
        ["limits", "books", _, "allowance"] => of(Family::BooksAllowance),
        ["books", "organization-id"] => of(Family::BooksOrganizationId),
        ["crm", "fields", ..] => of(Family::Fields),
        ["crm", "field-metadata", ..] => of(Family::FieldMetadata),
        ["crm", "page-tokens", ..] => of(Family::PageTokens),
        ["incremental", scope @ .., "sweep"] if !scope.is_empty() => of(Family::OpenSweep),
        ["incremental", scope @ .., "cursor"] if !scope.is_empty() => of(Family::Cursor),
        ["incremental", scope @ .., "cursor-boundary"] if !scope.is_empty() => of(Family::CursorBoundary),
        ["incremental", scope @ .., "plan"] if !scope.is_empty() => of(Family::Plan),
        ["incremental", scope @ .., sweep, "start" | "boundary", n] if !scope.is_empty() && number(n).is_some() => {
            Some(Parsed { family: Family::SweepPage, window: None, scope: Some(scope.join("/")), sweep: Some(sweep) })
        }
        _ => None,
    }
}

pub fn auth_token(identity: &str) -> String {
    format!("auth/token/{identity}")
}

pub fn auth_lease(identity: &str, window: u64) -> String {
    format!("auth/lease/{identity}/{window}")
}

pub fn credits(hour: u64) -> String {
    format!("limits/credits/{hour}")
}

pub fn inflight(window: u64, what: &str) -> String {
    format!("limits/inflight/{window}/{what}")
}

pub fn rate(second: u64) -> String {
    format!("limits/rate/{second}")
}

pub const ORG_LICENSE: &str = "limits/org-license";
pub const CREDIT_TABLE: &str = "limits/credit-table";
/// Zoho's `X-API-CREDITS-REMAINING`, as last seen.
pub const CREDITS_REMAINING: &str = "limits/credits-remaining";

/// The length of one slot of Books' per-minute count.
pub const BOOKS_SLOT_MS: u64 = 6_000;

/// Books requests of `organization` in one slot: `what` is `sent` (counted before sending) or
/// `refused` (counted, then held back).
pub fn books_window(organization: &str, slot: u64, what: &str) -> String {
    format!("limits/books/{organization}/window/{slot}/{what}")
}

pub fn books_day(organization: &str, day: u64) -> String {
    format!("limits/books/{organization}/day/{day}")
}

pub fn books_blocked(organization: &str) -> String {
    format!("limits/books/{organization}/blocked")
}

/// The daily allowance Books last reported for `organization` (`X-Rate-Limit-Limit` and
/// `-Remaining` of a daily limit), for `backoff-at-credit-percentage`.
pub fn books_allowance(organization: &str) -> String {
    format!("limits/books/{organization}/allowance")
}

pub const BOOKS_ORGANIZATION_ID: &str = "books/organization-id";

pub fn fields(module: &str) -> String {
    format!("crm/fields/{module}")
}

pub fn field_metadata(module: &str) -> String {
    format!("crm/field-metadata/{module}")
}

pub fn page_tokens(module: &str, listing: u64) -> String {
    format!("crm/page-tokens/{module}/{listing:016x}")
}

/// The scope of a Zoho Books resource's sweep: its cursor, open sweep and page keys live under
/// `incremental/books/<organization>/<resource>/...`, one set per organization.
pub fn books_sweep_scope(organization: &str, resource: &str) -> String {
    format!("books/{organization}/{resource}")
}

pub fn open_sweep(scope: &str) -> String {
    format!("incremental/{scope}/sweep")
}

pub fn cursor(scope: &str) -> String {
    format!("incremental/{scope}/cursor")
}

/// The previous sweep's boundary (id → digest of what was delivered), apart from the cursor so
/// pages past the boundary window never read it.
pub fn cursor_boundary(scope: &str) -> String {
    format!("incremental/{scope}/cursor-boundary")
}

/// A sliced sweep's plan (one per scope while the sweep is open, deleted by its commit).
pub fn plan(scope: &str) -> String {
    format!("incremental/{scope}/plan")
}

/// One key per page, so a step reads and writes a constant amount however long the sweep:
/// `start/n` is the key page n starts after; `boundary/n` what page n delivered in the window.
pub fn sweep_page(scope: &str, sweep: &str, what: &str, page: u64) -> String {
    format!("incremental/{scope}/{sweep}/{what}/{page}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key a builder makes parses back to its own family.
    #[test]
    fn every_built_key_parses_back_to_its_family() {
        let built = [
            (auth_token("abc"), Family::AuthToken),
            (auth_lease("abc", 7), Family::AuthLease),
            (credits(5), Family::Credits),
            (inflight(5, "acquired"), Family::InFlight),
            (rate(5), Family::Rate),
            (ORG_LICENSE.to_string(), Family::OrgLicense),
            (CREDIT_TABLE.to_string(), Family::CreditTable),
            (CREDITS_REMAINING.to_string(), Family::CreditsRemaining),
            (books_window("10234695", 5, "sent"), Family::BooksWindow),
            (books_day("10234695", 5), Family::BooksDay),
            (books_blocked("10234695"), Family::BooksBlocked),
            (books_allowance("10234695"), Family::BooksAllowance),
            (BOOKS_ORGANIZATION_ID.to_string(), Family::BooksOrganizationId),
            (fields("Leads"), Family::Fields),
            (field_metadata("Leads"), Family::FieldMetadata),
            (page_tokens("Leads", 0xff), Family::PageTokens),
            (open_sweep("sync/deals/slice2"), Family::OpenSweep),
            (cursor("Leads"), Family::Cursor),
            (cursor_boundary("Leads"), Family::CursorBoundary),
            (plan("Leads"), Family::Plan),
            (sweep_page("sync/deals/slice2", "18c0ffee", "boundary", 3), Family::SweepPage),
        ];
        assert_eq!(built.len(), FAMILIES.len());
        for ((key, family), listed) in built.iter().zip(FAMILIES) {
            assert_eq!(*family, listed, "FAMILIES lists every family once, in order");
            assert_eq!(parse(key).map(|p| p.family), Some(*family), "{key}");
        }
        let page = parse("incremental/sync/deals/slice2/18c0ffee/start/3").expect("a page key");
        assert_eq!((page.scope.as_deref(), page.sweep), (Some("sync/deals/slice2"), Some("18c0ffee")));
        for foreign in ["", "books", "other/key", "incremental/sweep", "auth/token", "limits/books/1/week/2"] {
            assert_eq!(parse(foreign), None, "{foreign}");
        }
    }
}
