//! JSON string literals inside a text: where one ends, and its escapes decoded leniently, so a
//! secret escaped in an answer is found as it reads.

/// The byte length of the literal starting at `text`'s opening quote, closing quote included,
/// and whether it closes (or runs to the end of the text).
pub(super) fn literal_end(text: &str) -> (usize, bool) {
    let bytes = text.as_bytes();
    let mut i = 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            // Only ASCII is compared, so stepping into a multi-byte character is harmless.
            b'\\' => i += 2,
            b'"' => return (i + 1, true),
            _ => i += 1,
        }
    }
    (text.len(), false)
}

/// JSON escapes decoded, leniently: a malformed escape stays as written, a lone surrogate
/// becomes U+FFFD.
pub(super) fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let simple = match chars.peek().map(|&(_, c)| c) {
            Some('"') => Some('"'),
            Some('\\') => Some('\\'),
            Some('/') => Some('/'),
            Some('b') => Some('\u{8}'),
            Some('f') => Some('\u{c}'),
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some('t') => Some('\t'),
            _ => None,
        };
        if let Some(decoded) = simple {
            out.push(decoded);
            chars.next();
            continue;
        }
        let Some(unit) = hex4(text, at + 2).filter(|_| text[at + 1..].starts_with('u')) else {
            out.push('\\');
            continue;
        };
        // Skip `u` and four hex digits.
        for _ in 0..5 {
            chars.next();
        }
        if (0xD800..0xDC00).contains(&unit) {
            let low = hex4(text, at + 8).filter(|_| text[at + 6..].starts_with("\\u")).filter(|l| (0xDC00..0xE000).contains(l));
            if let Some(low) = low {
                for _ in 0..6 {
                    chars.next();
                }
                let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                continue;
            }
        }
        out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
    }
    out
}

/// Four hex digits at byte `at`, as a number.
pub(super) fn hex4(text: &str, at: usize) -> Option<u32> {
    let digits = text.get(at..at.checked_add(4)?)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}
