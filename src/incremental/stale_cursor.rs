//! A committed cursor later than the server's own clock: the server holds nothing modified
//! after it, so the sweep reads no records, and says why instead of answering an empty page
//! that looks like "nothing changed". It happens when the cursor was committed against another
//! server, organization or clock: a sandbox restarted (its clock and data began again), a data
//! directory pointed at another account, a server whose clock was ahead.
//!
//! The server's clock is the sweep's bound, read from the `Date` of its first answer (Zoho
//! dates every answer; RFC 9110 §6.6.1), so the check costs no request. Nothing changed since
//! the last sweep is no warning: a committed cursor is always earlier than the clock that
//! committed it (the first answer's `Date` less the request's duration and a second), so a
//! quiet sweep's bound is after its cursor.

use crate::zoho_time::parse_iso;

/// The warnings a sweep step answers about its start: one when `since` came from the stored
/// cursor (no `since` was passed) and is later than the sweep's bound by the server's clock.
pub fn warnings(scope: &str, since_asked: bool, stored: Option<&str>, since: Option<&str>, until: Option<&str>) -> Vec<String> {
    let (Some(since), Some(until)) = (since, until) else { return Vec::new() };
    if since_asked || stored != Some(since) {
        return Vec::new();
    }
    match (parse_iso(since), parse_iso(until)) {
        (Some(s), Some(u)) if s > u => vec![format!(
            "the committed cursor of {} ({since}) is later than the server's clock ({until}): the server holds nothing modified after it, so this sweep reads no records, and its commit moves the cursor back to the server's clock without reading what the server holds from before. The cursor was committed against another server, organization or clock (a sandbox restarted, a data directory pointed at another account); to read those records, start over from an earlier date",
            whose(scope)
        )],
        _ => Vec::new(),
    }
}

/// A sync stream's scope (`sync/<stream>`) as the stream's name; a module's as itself.
fn whose(scope: &str) -> String {
    scope.strip_prefix("sync/").map_or_else(|| scope.to_string(), |stream| format!("stream {stream}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stored_cursor_past_the_servers_clock_warns() {
        let (later, earlier) = ("2031-01-01T00:00:00+00:00", "2026-12-07T10:00:00+00:00");
        let warned = warnings("sync/leads", false, Some(later), Some(later), Some(earlier));
        assert_eq!(warned.len(), 1);
        assert!(warned[0].starts_with("the committed cursor of stream leads (2031-01-01T00:00:00+00:00) is later than the server's clock (2026-12-07T10:00:00+00:00)"), "{warned:?}");
        // A quiet sweep: the cursor before the clock.
        assert!(warnings("Leads", false, Some(earlier), Some(earlier), Some(later)).is_empty());
        // A since or an anchor the caller gave is theirs to choose.
        assert!(warnings("Leads", true, Some(later), Some(later), Some(earlier)).is_empty());
        assert!(warnings("Leads", false, None, Some(later), Some(earlier)).is_empty());
        assert!(warnings("Leads", false, Some(later), Some(later), None).is_empty());
    }
}
