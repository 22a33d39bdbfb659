//! Zoho's timestamps as instants. Cursors are compared as instants, never as strings of
//! different shapes (`2023-05-10T01:10:47-07:00`, `...Z`, Books' `-0700`, HTTP `Date`).

/// Seconds since the Unix epoch.
pub type Seconds = i64;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn number(text: &str) -> Option<i64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

/// ISO 8601 as Zoho writes it: `YYYY-MM-DD`, or with `THH:MM:SS`, optional fraction, and `Z`,
/// `±HH:MM` or `±HHMM`. A time without an offset is refused: it would be ambiguous.
pub fn parse_iso(text: &str) -> Option<Seconds> {
    let text = text.trim();
    let (date, rest) = text.split_once('T').map_or((text, None), |(d, r)| (d, Some(r)));
    let mut parts = date.splitn(3, '-');
    let (y, m, d) = (number(parts.next()?)?, number(parts.next()?)?, number(parts.next()?)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day_start = days_from_civil(y, m, d) * 86_400;
    let Some(rest) = rest else { return Some(day_start) };
    let (clock, offset) = if let Some(clock) = rest.strip_suffix('Z') {
        (clock, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (clock, offset) = rest.split_at(at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 {
            return None;
        }
        (clock, sign * (number(&digits[..2])? * 3600 + number(&digits[2..])? * 60))
    };
    let clock = clock.split('.').next()?;
    let mut hms = clock.splitn(3, ':');
    let (h, min, s) = (number(hms.next()?)?, number(hms.next()?)?, number(hms.next().unwrap_or("0"))?);
    if h > 23 || min > 59 || s > 60 {
        return None;
    }
    Some(day_start + h * 3600 + min * 60 + s - offset)
}

/// An HTTP `Date` header (`Mon, 23 Nov 2026 03:48:42 GMT`).
pub fn parse_http_date(text: &str) -> Option<Seconds> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, clock, "GMT"] = fields.as_slice() else { return None };
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    parse_iso(&format!("{year}-{month:02}-{:0>2}T{clock}Z", day))
}

/// The instant in Zoho's shape, in UTC: `2026-11-23T03:48:42+00:00`.
pub fn format_iso(at: Seconds) -> String {
    let (y, m, d) = civil_from_days(at.div_euclid(86_400));
    let secs = at.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_the_same_instant_agree() {
        let a = parse_iso("2023-05-10T01:10:47-07:00").unwrap();
        assert_eq!(parse_iso("2023-05-10T08:10:47Z"), Some(a));
        assert_eq!(parse_iso("2023-05-10T08:10:47.123+00:00"), Some(a));
        assert_eq!(parse_iso("2023-05-10T13:40:47+0530"), Some(a));
        assert_eq!(format_iso(a), "2023-05-10T08:10:47+00:00");
        assert_eq!(parse_http_date("Wed, 10 May 2023 08:10:47 GMT"), Some(a));
        assert_eq!(parse_iso("2024-02-29"), Some(1_709_164_800));
        for bad in ["2023-05-10T08:10:47", "yesterday", "2023-13-01", "2023-05-10T25:00:00Z", ""] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
        for t in [0, 951_782_400, 4_102_444_799, -86_400] {
            assert_eq!(parse_iso(&format_iso(t)), Some(t));
        }
    }
}
