//! Where copies of secrets stand in a text: as given, in the encoded forms a server or a file
//! format makes without meaning to hide them, and behind percent-escapes; then the text with
//! each copy marked.

use super::MARK;
use std::borrow::Cow;
use std::ops::Range;

/// Secrets shorter than this are searched only as they stand, form-encoded and escaped: the
/// forms below of a short secret are short enough to occur by chance in any text.
pub(super) const MIN_ENCODED: usize = 16;

/// The copies of a secret a server, a mail or a file format makes without meaning to hide it,
/// searched beside the secret itself:
/// - base64, standard and URL-safe, at each of the three byte alignments a copy can start at
///   (the characters that depend on the secret alone: a copy inside a longer encoded text is
///   found; one wrapped across lines, as MIME wraps at 76, is not);
/// - UTF-16 of an ASCII secret as text with NULs between its characters, which is found in
///   little- and big-endian bytes alike and in a JSON string once its `\u0000`s are decoded;
/// - HTML: escaped as templates escape (`&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#39;` or
///   `&#x27;`), or every character as a decimal or hexadecimal numeric entity.
///
/// Other forms (entities mixed with plain characters, hex, compression, encryption, a copy
/// split by other text) are not searched: a server that transforms the token on purpose has it
/// already; what this guards against is an echo leaving the token in an output.
pub(super) fn encoded_forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let bytes = secret.as_bytes();
    if bytes.len() < MIN_ENCODED {
        return Vec::new();
    }
    let mut forms = Vec::new();
    for skip in 0..3 {
        let aligned = &bytes[skip..];
        let whole = &aligned[..aligned.len() / 3 * 3];
        let standard = base64::engine::general_purpose::STANDARD_NO_PAD.encode(whole);
        let url_safe = standard.replace('+', "-").replace('/', "_");
        forms.push(standard);
        forms.push(url_safe);
    }
    if secret.is_ascii() {
        let mut utf16 = String::with_capacity(bytes.len() * 2);
        for (i, c) in secret.chars().enumerate() {
            if i > 0 {
                utf16.push('\0');
            }
            utf16.push(c);
        }
        forms.push(utf16);
    }
    if secret.contains(['&', '<', '>', '"', '\'']) {
        let escaped = secret.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
        forms.push(escaped.replace('\'', "&#39;"));
        forms.push(escaped.replace('\'', "&#x27;"));
    }
    forms.push(secret.chars().map(|c| format!("&#{};", u32::from(c))).collect());
    forms.push(secret.chars().map(|c| format!("&#x{:x};", u32::from(c))).collect());
    forms.push(secret.chars().map(|c| format!("&#x{:X};", u32::from(c))).collect());
    forms
}

/// Where any needle occurs in `text`.
pub(super) fn needle_hits(text: &str, needles: &[String]) -> Vec<Range<usize>> {
    let mut found: Vec<Range<usize>> = Vec::new();
    // UTF-16 copies hold NULs and HTML copies hold `&`: a text without either (a sweep
    // page of clean records) is not searched for them, one byte scan each instead of a pass
    // per form.
    let bytes = text.as_bytes();
    let (nul, amp) = (memchr::memchr(0, bytes).is_some(), memchr::memchr(b'&', bytes).is_some());
    let possible = |n: &&String| !n.is_empty() && (nul || !n.contains('\0')) && (amp || !n.contains('&'));
    for needle in needles.iter().filter(possible) {
        let first = found.len();
        let mut from = 0;
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        // A match of a whole UTF-8 needle in UTF-8 text starts and ends on character boundaries.
        while let Some(at) = text.as_bytes().get(from..).and_then(|rest| finder.find(rest)) {
            let start = from + at;
            push_hit(&mut found, first, start..start + needle.len());
            if found.len() > MAX_HITS {
                return everything(text);
            }
            // Next search one character on, so a self-overlapping copy is found too.
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

/// More separate copies of secrets than this in one text is a hostile answer (a short token
/// echoed millions of times): the whole text is redacted rather than every copy remembered.
pub(super) const MAX_HITS: usize = 1 << 16;

/// The whole text as one hit.
pub(super) fn everything(text: &str) -> Vec<Range<usize>> {
    std::iter::once(0..text.len()).collect()
}

/// Adds a hit found in order, merged into the previous one of the same search (from `first`
/// on) when they touch, so a secret repeated back to back is one range, not one per copy.
pub(super) fn push_hit(found: &mut Vec<Range<usize>>, first: usize, hit: Range<usize>) {
    match found.get_mut(first..).and_then(|ours| ours.last_mut()) {
        Some(last) if hit.start <= last.end => last.end = last.end.max(hit.end),
        _ => found.push(hit),
    }
}

/// Where a secret stands behind percent-escapes (`%2e`, `%2E`, any characters escaped or not):
/// the escapes are decoded into a copy that remembers where each byte came from.
pub(super) fn percent_hits(text: &str, secrets: &[String]) -> Vec<Range<usize>> {
    if !text.contains('%') {
        return Vec::new();
    }
    let bytes = text.as_bytes();
    let (mut decoded, mut origin) = (Vec::with_capacity(bytes.len()), Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        let escaped = match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => Some((high * 16 + low) as u8),
            _ => None,
        };
        decoded.push(escaped.unwrap_or(bytes[i]));
        origin.push(i..i + if escaped.is_some() { 3 } else { 1 });
        i += if escaped.is_some() { 3 } else { 1 };
    }
    if decoded.len() == bytes.len() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let ours = found.len();
        for at in memchr::memmem::find_iter(&decoded, secret.as_bytes()) {
            if found.len() > MAX_HITS {
                return everything(text);
            }
            let last = at + secret.len() - 1;
            if let (Some(first), Some(last)) = (origin.get(at), origin.get(last)) {
                // Widen to character boundaries of the original text.
                let (mut start, mut end) = (first.start, last.end);
                while !text.is_char_boundary(start) {
                    start -= 1;
                }
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                push_hit(&mut found, ours, start..end);
            }
        }
    }
    found
}

/// `text` with the `found` ranges (overlapping ones merged) each replaced by one [`MARK`].
pub(super) fn mark(text: &str, mut found: Vec<Range<usize>>) -> Cow<'_, str> {
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    found.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(found.len());
    for range in found {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for range in merged {
        out.push_str(&text[copied..range.start]);
        out.push_str(MARK);
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}
