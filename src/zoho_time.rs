//! Zoho's timestamps as instants. Cursors are compared as instants, never as strings of
//! different shapes (`2023-05-10T01:10:47-07:00`, `...Z`, Books' `-0700`, HTTP `Date`).

/// Seconds since the Unix epoch.
pub type Seconds = i64;

// A hand-written parser on bytes rather than a time crate: jiff's parser added 168 KB to the
// component (+30%) for three shapes. It never slices a `str`: fields are byte slices split on
// ASCII separators, so any Unicode (all non-ASCII) is simply not a digit.

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

/// A field of 1 to `max_digits` ASCII digits as a number (small enough never to overflow).
fn number(field: &[u8], max_digits: usize) -> Option<i64> {
    if field.is_empty() || field.len() > max_digits || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(field.iter().fold(0, |n, digit| n * 10 + i64::from(digit - b'0')))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DD` as the day's start in seconds.
fn day_start(date: &[u8]) -> Option<Seconds> {
    let mut parts = date.splitn(3, |b| *b == b'-');
    civil_day(number(parts.next()?, 4)?, number(parts.next()?, 2)?, number(parts.next()?, 2)?)
}

fn civil_day(y: i64, m: i64, d: i64) -> Option<Seconds> {
    let valid = (1..=12).contains(&m) && (1..=days_in_month(y, m)).contains(&d);
    valid.then(|| days_from_civil(y, m, d) * 86_400)
}

/// `HH:MM[:SS][.fraction]` as seconds into the day (a leap second 60 counts as 60).
fn clock_seconds(clock: &[u8]) -> Option<Seconds> {
    let mut whole_and_fraction = clock.splitn(2, |b| *b == b'.');
    let whole = whole_and_fraction.next()?;
    if let Some(fraction) = whole_and_fraction.next() {
        number(fraction, 9)?;
    }
    let mut hms = whole.splitn(3, |b| *b == b':');
    let (h, min) = (number(hms.next()?, 2)?, number(hms.next()?, 2)?);
    let s = hms.next().map_or(Some(0), |s| number(s, 2))?;
    (h <= 23 && min <= 59 && s <= 60).then_some(h * 3600 + min * 60 + s)
}

/// `Z`, `±HH:MM` or `±HHMM` as seconds east of UTC.
fn offset_seconds(sign: u8, digits: &[u8]) -> Option<Seconds> {
    let digits: Vec<u8> = digits.iter().copied().filter(|b| *b != b':').collect();
    let (hours, minutes) = (number(digits.get(..2)?, 2)?, number(digits.get(2..)?, 2)?);
    if digits.len() != 4 || hours > 23 || minutes > 59 {
        return None;
    }
    let offset = hours * 3600 + minutes * 60;
    Some(if sign == b'-' { -offset } else { offset })
}

/// ISO 8601 as Zoho writes it: `YYYY-MM-DD`, or with `THH:MM:SS`, optional fraction, and `Z`,
/// `±HH:MM` or `±HHMM`. A time without an offset is refused: it would be ambiguous.
pub fn parse_iso(text: &str) -> Option<Seconds> {
    let mut halves = text.trim().as_bytes().splitn(2, |b| *b == b'T');
    let day = day_start(halves.next()?)?;
    let Some(rest) = halves.next() else { return Some(day) };
    let (clock, offset) = if let Some(clock) = rest.strip_suffix(b"Z") {
        (clock, 0)
    } else {
        let at = rest.iter().rposition(|b| *b == b'+' || *b == b'-')?;
        let (clock, offset) = rest.split_at(at);
        let (sign, digits) = offset.split_first()?;
        (clock, offset_seconds(*sign, digits)?)
    };
    Some(day + clock_seconds(clock)? - offset)
}

/// The last second [`format_iso`] writes as a time [`parse_iso`] reads (9999-12-31T23:59:59Z).
const LAST_ISO_SECOND: Seconds = 253_402_300_799;

/// An HTTP `Date` header (`Mon, 23 Nov 2026 03:48:42 GMT`). A date no server clock shows
/// (before the Unix epoch, or past the last second of year 9999) is read as no date: a sweep's
/// bound and cursor are written from it, and would not be times a later step could read.
pub fn parse_http_date(text: &str) -> Option<Seconds> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, clock, "GMT"] = fields.as_slice() else { return None };
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let day = civil_day(number(year.as_bytes(), 4)?, month, number(day.as_bytes(), 2)?)?;
    Some(day + clock_seconds(clock.as_bytes())?).filter(|at| (0..=LAST_ISO_SECOND).contains(at))
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

    /// A multi-byte character where the offset's digits go sliced inside it and trapped.
    #[test]
    fn unicode_where_digits_go_is_refused_not_a_trap() {
        for bad in [
            "2024-01-01T10:00:00+1é2",
            "2024-01-01T10:00:00+é:00",
            "2024-01-01T10:00:00-0é",
            "2024-01-01T1é:00:00Z",
            "2é24-01-01",
            "2024-01-01T10:00:00+😀",
            "2024-01-01T10:00:00.😀Z",
            "２０２４-01-01",
            "2024-01-01T10:00:00\u{0}Z",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
        assert_eq!(parse_http_date("Wed, 10 May 2023 08:10:4é GMT"), None);
        // Digits past a field's width are refused, not summed into an overflow.
        assert_eq!(parse_iso("99999999999999999999-01-01"), None);
        assert_eq!(parse_iso("2024-01-01T10:00:00.99999999999999999999Z"), None);
        assert_eq!(parse_iso("2023-02-29"), None, "no day 29 in February 2023");
    }

    proptest::proptest! {
        /// Any text, any Unicode: an instant or None, never a panic.
        #[test]
        fn any_text_is_an_instant_or_none(text in "\\PC{0,40}", cut in 0usize..40, insert in "\\PC{0,3}") {
            let _ = parse_iso(&text);
            let _ = parse_http_date(&text);
            // Zoho's own shape with arbitrary characters spliced in anywhere.
            let mut shaped = "2024-01-01T10:00:00+05:30".to_string();
            let at = shaped.char_indices().nth(cut % 25).map_or(0, |(i, _)| i);
            shaped.insert_str(at, &insert);
            let _ = parse_iso(&shaped);
        }

        /// Every instant of years 1..9999 survives format → parse, so cursors compare as instants.
        #[test]
        fn formatted_instants_parse_back(t in 0i64..253_402_300_799) {
            proptest::prop_assert_eq!(parse_iso(&format_iso(t)), Some(t));
        }
    }
}
