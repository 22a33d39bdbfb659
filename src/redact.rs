//! Keeping secrets out of everything that leaves the component. A [`Redactor`] knows every
//! secret of the connection (client secret, refresh token, access token) and every token issued
//! during the step, and finds them in *decoded* text: a JSON string literal is decoded before it
//! is searched (so a `\u`-escaped copy, or a secret holding `"` or `\`, is found), then
//! re-encoded with the secret replaced. Bodies are scanned literal by literal, never parsed into
//! a tree. Anything cut short for display is redacted whole first, then cut ([`cut`]).
//!
//! The step's redactor also lives in a thread-local ([`step`]), so code that formats a message
//! from an answer without a client at hand (`Response::body_start`) redacts before it cuts.

mod hits;
mod literal;

use crate::error::ZohoError;
use hits::{encoded_forms, everything, mark, needle_hits, percent_hits, MAX_HITS};
use literal::{decode, literal_end};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;

/// What a secret is replaced with.
pub const MARK: &str = "[redacted]";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Redactor {
    /// Each secret as given, non-empty, no duplicates.
    secrets: Vec<String>,
    /// The forms searched in text as it stands: each secret and its form-urlencoded copy.
    needles: Vec<String>,
}

impl Redactor {
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut redactor = Redactor::default();
        for secret in secrets {
            redactor.add(secret.as_ref());
        }
        redactor
    }

    /// Learns one more secret (a token issued during the step).
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() || self.secrets.iter().any(|s| s == secret) {
            return;
        }
        self.secrets.push(secret.to_string());
        let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        // A message formatted with `{:?}` shows `\u{200b}`, `\0` or `\"` for what the secret holds.
        let debug = format!("{secret:?}");
        let debug = debug.strip_prefix('"').and_then(|d| d.strip_suffix('"')).unwrap_or(&debug).to_string();
        let mut forms = vec![secret.to_string(), encoded, debug];
        forms.extend(encoded_forms(secret));
        for needle in forms {
            if !self.needles.contains(&needle) {
                self.needles.push(needle);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Whether bytes hold a secret in any form searched (a file answer echoing the token, say
    /// in UTF-16 or base64). Bytes are not text, so they are searched, never rewritten.
    pub fn finds_in_bytes(&self, bytes: &[u8]) -> bool {
        self.needles.iter().any(|needle| memchr::memmem::find(bytes, needle.as_bytes()).is_some())
    }

    /// Any text: a message, a code, a header value, a log line, a text body. JSON string
    /// literals in it are decoded and searched; when an escaped copy of a secret still hides
    /// outside any literal (quotes paired differently), the text is returned decoded.
    pub fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let redacted = match self.literals(text, false) {
            // Outside literals a text is prose, not JSON: copies there are replaced as they stand.
            Cow::Borrowed(_) => self.replace(text),
            Cow::Owned(json) => Cow::Owned(self.replace(&json).into_owned()),
        };
        if self.is_empty() || !redacted.contains('\\') {
            return redacted;
        }
        let decoded = decode(&redacted);
        if let Cow::Owned(decoded) = self.replace(&decoded) {
            return Cow::Owned(decoded);
        }
        redacted
    }

    /// A JSON document (a body of tens of megabytes included): string literals holding a
    /// secret once decoded are re-encoded with it replaced; everything else is kept byte for
    /// byte, and an untouched text is not copied at all. Linear time.
    pub fn json<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.literals(text, true)
    }

    /// The string literals of `text` redacted; with `json`, the value tokens between them too
    /// (a text that is not JSON is left to the caller's plain pass there).
    fn literals<'t>(&self, text: &'t str, json: bool) -> Cow<'t, str> {
        if self.is_empty() {
            return Cow::Borrowed(text);
        }
        // One search of the whole text first (a sweep page is megabytes of clean records): with
        // no copy anywhere as the text stands, only a literal holding an escape can hide one once
        // decoded; everything else is kept without searching it piece by piece. A copy inside a
        // piece is a copy in the whole (escapes never straddle a quote), so nothing is missed.
        let clean = self.hits(text).is_empty();
        if clean && !text.contains('\\') {
            return Cow::Borrowed(text);
        }
        let walked = self.walk(text, json, clean);
        if !json || clean {
            return walked;
        }
        // A copy left as it stands spans literals (a text is searched whole by its caller).
        let left = self.hits(&walked);
        if left.is_empty() {
            walked
        } else {
            Cow::Owned(Self::scrub(&walked, &left))
        }
    }

    /// [`Redactor::literals`] piece by piece; with `clean` (no copy in the text as it stands),
    /// only literals holding an escape are decoded and searched.
    fn walk<'t>(&self, text: &'t str, json: bool, clean: bool) -> Cow<'t, str> {
        // Built only from the first literal that changes.
        let mut out: Option<String> = None;
        let mut rest = text;
        loop {
            let open = rest.find('"').unwrap_or(rest.len());
            let (before, from_quote) = rest.split_at(open);
            let (end, closed) = if from_quote.is_empty() { (0, true) } else { literal_end(from_quote) };
            let (literal, after) = from_quote.split_at(end);
            let before_changed = if json && !clean { self.between(before) } else { None };
            let changed = if literal.is_empty() || clean && !literal.contains('\\') { None } else { self.literal(literal, closed) };
            match (&mut out, before_changed.is_some() || changed.is_some()) {
                (Some(out), _) => {
                    out.push_str(before_changed.as_deref().unwrap_or(before));
                    out.push_str(changed.as_deref().unwrap_or(literal));
                }
                (None, true) => {
                    let done = text.len() - rest.len();
                    let mut started = String::with_capacity(text.len());
                    started.push_str(&text[..done]);
                    started.push_str(before_changed.as_deref().unwrap_or(before));
                    started.push_str(changed.as_deref().unwrap_or(literal));
                    out = Some(started);
                }
                (None, false) => {}
            }
            rest = after;
            if rest.is_empty() {
                break;
            }
        }
        match out {
            None => Cow::Borrowed(text),
            Some(out) => Cow::Owned(out),
        }
    }

    /// The text between string literals (numbers, true/false/null, punctuation): a secret found
    /// there (a token of digits) replaces the value tokens it touches with the string
    /// `"[redacted]"`, so the document stays JSON and nothing of the secret is left.
    fn between(&self, text: &str) -> Option<String> {
        let hits = self.hits(text);
        if hits.is_empty() {
            return None;
        }
        Some(mask_tokens(text, hits))
    }

    /// A document whose copies of a secret span several literals (a secret holding `","`,
    /// echoed into a body built by concatenation: still valid JSON): every literal and value
    /// token a copy touches becomes `"[redacted]"`, so the document stays JSON and nothing of
    /// the secret but JSON's own punctuation is left.
    fn scrub(text: &str, hits: &[Range<usize>]) -> String {
        // In order, with a moving start: each piece looks only at the hits it may touch, so a
        // hostile body of many copies and many literals stays linear.
        let mut hits = hits.to_vec();
        hits.sort_by_key(|h| h.start);
        let mut next = 0;
        let mut touching = |from: usize, to: usize| -> &[Range<usize>] {
            while hits.get(next).is_some_and(|h| h.end <= from) {
                next += 1;
            }
            let rest = hits.get(next..).unwrap_or_default();
            let count = rest.iter().take_while(|h| h.start < to).count();
            rest.get(..count).unwrap_or_default()
        };
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        while let Some(rest) = text.get(at..).filter(|r| !r.is_empty()) {
            let open = rest.find('"').unwrap_or(rest.len());
            let before = rest.get(..open).unwrap_or("");
            let local: Vec<Range<usize>> = touching(at, at + open).iter().filter(|h| at < h.end).map(|h| h.start.saturating_sub(at)..h.end.saturating_sub(at).min(open)).collect();
            if local.is_empty() {
                out.push_str(before);
            } else {
                out.push_str(&mask_tokens(before, local));
            }
            at += open;
            let Some(from_quote) = text.get(at..).filter(|r| !r.is_empty()) else { break };
            let (end, closed) = literal_end(from_quote);
            if touching(at, at + end).iter().any(|h| at < h.end) {
                out.push('"');
                out.push_str(MARK);
                if closed {
                    out.push('"');
                }
            } else {
                out.push_str(from_quote.get(..end).unwrap_or(""));
            }
            at += end;
        }
        out
    }
}

/// The text between literals with every value token a hit touches replaced by `"[redacted]"`.
fn mask_tokens(text: &str, mut hits: Vec<Range<usize>>) -> String {
    // In order, so each value token is checked against the next hits only (linear time).
    hits.sort_by_key(|h| h.start);
    let mut next = 0;
    let structural = |b: u8| b"{}[],:".contains(&b) || b.is_ascii_whitespace();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + MARK.len());
    let mut at = 0;
    while at < bytes.len() {
        if structural(bytes[at]) {
            out.push(char::from(bytes[at]));
            at += 1;
            continue;
        }
        let end = (at..bytes.len()).find(|&i| structural(bytes[i])).unwrap_or(bytes.len());
        while hits.get(next).is_some_and(|h| h.end <= at) {
            next += 1;
        }
        if hits.get(next..).unwrap_or_default().iter().take_while(|h| h.start < end).any(|h| at < h.end) {
            out.push('"');
            out.push_str(MARK);
            out.push('"');
        } else {
            out.push_str(text.get(at..end).unwrap_or(""));
        }
        at = end;
    }
    out
}

impl Redactor {
    /// Where the secrets stand in `text`: as given, in their encoded needles, and behind
    /// percent-escapes of any case or choice of escaped characters.
    fn hits(&self, text: &str) -> Vec<Range<usize>> {
        let mut found = needle_hits(text, &self.needles);
        found.extend(percent_hits(text, &self.secrets));
        if found.len() > MAX_HITS {
            return everything(text);
        }
        found
    }

    /// [`Redactor::text`] of the start of a body, cut to `limit` bytes after redaction. Only a
    /// window is read: a secret starting before the cut ends within it even fully escaped.
    pub fn start(&self, body: &[u8], limit: usize) -> String {
        let longest = self.secrets.iter().map(String::len).max().unwrap_or(0);
        let window = limit.saturating_add(longest.saturating_mul(12)).saturating_add(12);
        let text = String::from_utf8_lossy(body.get(..window).unwrap_or(body));
        cut(&self.text(&text), limit).to_string()
    }

    /// One literal with its quotes (the closing one may be missing at the end of a text),
    /// re-encoded when it holds a secret once decoded; `None` keeps it as written.
    fn literal(&self, literal: &str, closed: bool) -> Option<String> {
        let inner = literal.strip_prefix('"').unwrap_or(literal);
        let inner = if closed { inner.strip_suffix('"').unwrap_or(inner) } else { inner };
        // Without an escape, the literal is the text as it stands.
        let decoded = if inner.contains('\\') { Cow::Owned(decode(inner)) } else { Cow::Borrowed(inner) };
        let Cow::Owned(redacted) = self.replace(&decoded) else { return None };
        let encoded = serde_json::to_string(&redacted).unwrap_or_else(|_| format!("\"{MARK}\""));
        Some(if closed { encoded } else { encoded.strip_suffix('"').unwrap_or(&encoded).to_string() })
    }

    /// A JSON tree, keys included (error details are small).
    pub fn value(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Cow::Owned(redacted) = self.text(s) {
                    *s = redacted;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    self.value(&mut v);
                    map.insert(self.text(&key).into_owned(), v);
                }
            }
            _ => {}
        }
    }

    /// An error as it leaves the component: code, message and details.
    pub fn error(&self, mut error: ZohoError) -> ZohoError {
        if self.is_empty() {
            return error;
        }
        error.code = error.code.map(|c| self.text(&c).into_owned());
        error.message = self.text(&error.message).into_owned();
        if let Some(details) = error.details.as_mut() {
            self.value(details);
        }
        error
    }
}

impl Redactor {
    /// Every copy of a secret in `text` (as given, encoded, or percent-escaped; overlapping ones
    /// merged) replaced by one [`MARK`].
    fn replace<'t>(&self, text: &'t str) -> Cow<'t, str> {
        mark(text, self.hits(text))
    }
}

/// The longest prefix of `text` of at most `limit` bytes that ends on a character boundary.
pub fn cut(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` for display in at most `limit` bytes: a text that must be cut is redacted whole first,
/// since a secret cut in half is no longer found by the redaction at the boundary. A text within
/// the limit is kept as it is (the boundary redacts it whole).
pub fn shown(text: &str, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit {
        return Cow::Borrowed(text);
    }
    match step().text(text) {
        Cow::Borrowed(clean) => Cow::Borrowed(cut(clean, limit)),
        Cow::Owned(redacted) => Cow::Owned(cut(&redacted, limit).to_string()),
    }
}

thread_local! {
    static STEP: RefCell<Redactor> = RefCell::new(Redactor::default());
}

/// Makes `redactor` the step's (a client does this when it is made for a connection).
pub fn install(redactor: Redactor) {
    STEP.with(|step| *step.borrow_mut() = redactor);
}

/// Adds a token issued during the step.
pub fn learn(secret: &str) {
    STEP.with(|step| step.borrow_mut().add(secret));
}

/// The step's redactor.
pub fn step() -> Redactor {
    STEP.with(|step| step.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short token echoed back to back through a 32 MiB answer, or with a byte between copies,
    /// is redacted within bounded memory (one range per run, a cap on separate copies), never
    /// a trap: found by an outside attack with the token "a" and 8 MiB of "a".
    #[test]
    fn a_short_secret_repeated_millions_of_times_is_redacted_in_bounded_memory() {
        let redactor = Redactor::new(["a", "ab"]);
        let run = "a".repeat(8 << 20);
        assert_eq!(redactor.text(&run), MARK);
        let spaced = "ab ".repeat(3 << 20);
        let hits = redactor.hits(&spaced);
        assert_eq!(hits, vec![0..spaced.len()], "past the cap the whole text is one hit");
        assert!(!redactor.json(&format!("{{\"m\":\"{spaced}\"}}")).contains("ab"));
        let few = "ab x ".repeat(10);
        assert_eq!(redactor.text(&few), format!("{MARK} x ").repeat(10));
    }

    const TOKEN: &str = "1000.abcdef0123456789.fedcba";

    fn escaped_all(text: &str) -> String {
        text.chars().map(|c| format!("\\u{:04x}", c as u32)).collect()
    }

    #[test]
    fn plain_copies_anywhere_are_replaced() {
        let r = Redactor::new([TOKEN]);
        assert_eq!(r.text(&format!("Zoho-oauthtoken {TOKEN}; again {TOKEN}")), "Zoho-oauthtoken [redacted]; again [redacted]");
        assert_eq!(r.text("nothing here"), "nothing here");
        assert_eq!(Redactor::default().text(TOKEN), TOKEN);
    }

    #[test]
    fn escaped_copies_in_json_are_found_and_the_rest_kept_byte_for_byte() {
        let r = Redactor::new([TOKEN]);
        let body = format!(r#"{{"echo":"{}","other":"caf\u00e9","n":1}}"#, escaped_all(TOKEN));
        let out = r.json(&body);
        assert_eq!(out, r#"{"echo":"[redacted]","other":"caf\u00e9","n":1}"#);
        // Partly escaped, inside a longer string.
        let body = r#"["x 100\u0030.abcdef0123456789\/\u002efedcba y"]"#.to_string();
        let r2 = Redactor::new(["1000.abcdef0123456789/.fedcba"]);
        assert_eq!(r2.json(&body), r#"["x [redacted] y"]"#);
        // Untouched bodies are identical.
        let clean = r#"{"a":"\u00e9\n","b":[1,2]}"#;
        assert_eq!(r.json(clean), clean);
    }

    #[test]
    fn secrets_with_quotes_and_backslashes() {
        let secret = r#"se"cr\et"#;
        let r = Redactor::new([secret]);
        // As JSON writes it, as Rust's Debug writes it, as it stands.
        let json = serde_json::to_string(&serde_json::json!({ "error": format!("invalid_client:{secret}") })).unwrap();
        assert_eq!(r.json(&json), r#"{"error":"invalid_client:[redacted]"}"#);
        assert_eq!(r.text(&format!("{:?}", format!("x {secret} y"))), r#""x [redacted] y""#);
        assert_eq!(r.text(&format!("code {secret}")), "code [redacted]");
        // Form-urlencoded (an echoed token request).
        assert_eq!(r.text("client_secret=se%22cr%5Cet&x=1"), "client_secret=[redacted]&x=1");
    }

    #[test]
    fn unicode_secrets_and_surrogates() {
        let secret = "tökén-😀-x";
        let r = Redactor::new([secret]);
        let escaped: String = secret.encode_utf16().map(|u| format!("\\u{u:04X}")).collect();
        assert_eq!(r.json(&format!("[\"{escaped}\"]")), "[\"[redacted]\"]");
        assert_eq!(r.text(&format!("é{secret}é")), "é[redacted]é");
        // Lone surrogates and malformed escapes never panic.
        let r = Redactor::new([TOKEN]);
        for odd in ["\"\\ud800\"", "\"\\u12\"", "\"\\", "\\u", "\"abc", "\"\\uD83D\\u0041\"", "\\uZZZZ", "é\"\\é"] {
            let _ = r.text(odd);
            let _ = r.json(odd);
        }
    }

    #[test]
    fn escaped_copies_outside_paired_quotes_are_still_found() {
        let r = Redactor::new([TOKEN]);
        // An odd quote shifts the pairing: the escaped token sits between literals.
        let text = format!("a\" b \"{}\" x", escaped_all(TOKEN));
        let out = r.text(&text);
        assert!(!decode(&out).contains(TOKEN), "{out}");
        assert!(out.contains(MARK), "{out}");
    }

    #[test]
    fn overlapping_secrets_leave_no_piece() {
        let r = Redactor::new(["abcdef12", "ef123456"]);
        assert_eq!(r.text("xxabcdef123456yy"), "xx[redacted]yy");
        let r = Redactor::new(["aaaa"]);
        assert_eq!(r.text("aaaaaa b aaaa"), "[redacted] b [redacted]");
        let r = Redactor::new(["abc", "abcdef"]);
        assert_eq!(r.text("abcdef abc"), "[redacted] [redacted]");
    }

    #[test]
    fn redaction_comes_before_the_cut() {
        let r = Redactor::new([TOKEN]);
        let text = format!("{}{TOKEN}{}", "x".repeat(110), "y".repeat(50));
        let shown = cut(&r.text(&text), 120).to_string();
        for n in 8..=TOKEN.len() {
            assert!(!shown.contains(&TOKEN[..n]), "{shown}");
        }
        // Through `start`, which reads only a window: the token fully escaped still fits it.
        let body = format!(r#"{{"x":"{}{}"}}"#, "x".repeat(100), escaped_all(TOKEN));
        let shown = r.start(body.as_bytes(), 120);
        assert_eq!(shown, format!(r#"{{"x":"{}[redacted]"}}"#, "x".repeat(100)));
        let body = format!("{}{TOKEN}", "é".repeat(300));
        assert_eq!(r.start(body.as_bytes(), 512), "é".repeat(256));
        assert_eq!(cut("ééé", 3), "é");
        assert_eq!(cut("abc", 10), "abc");
    }

    #[test]
    fn errors_are_redacted_in_code_message_and_details() {
        let r = Redactor::new([TOKEN, "s3cret\"\\"]);
        let error = ZohoError::invalid_input(format!("got {TOKEN}")).with_code("invalid_client:s3cret\"\\").with_details(serde_json::json!({ TOKEN: [format!("a{TOKEN}"), 1], "k": "s3cret\"\\" }));
        let error = r.error(error);
        assert_eq!(error.code.as_deref(), Some("invalid_client:[redacted]"));
        assert_eq!(error.message, "got [redacted]");
        assert_eq!(error.details.unwrap(), serde_json::json!({ "[redacted]": ["a[redacted]", 1], "k": "[redacted]" }));
    }

    #[test]
    fn the_step_redactor_learns_tokens() {
        install(Redactor::new(["secret-one"]));
        learn("token-two");
        assert_eq!(step().text("secret-one token-two"), "[redacted] [redacted]");
        install(Redactor::default());
    }

    /// Attack: a one-character token would be replaced outside string literals too, leaving
    /// `"n":[redacted]`: the result must stay JSON, with nothing of the secret in it.
    #[test]
    fn a_short_secret_leaves_the_document_json() {
        let r = Redactor::new(["1"]);
        let out = r.json(r#"{"id":"123","n":1,"x":true,"y":null,"z":[1,2,31e1]}"#);
        let parsed: Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(parsed, serde_json::json!({"id":"[redacted]23","n":"[redacted]","x":true,"y":null,"z":["[redacted]",2,"[redacted]"]}));
        for bad in ["e", "\"", ":", "}", "true"] {
            let r = Redactor::new([bad]);
            let out = r.json(r#"{"a":"b","e":1e5,"t":true}"#);
            assert!(serde_json::from_str::<Value>(&out).is_ok(), "{bad:?}: {out}");
        }
    }

    /// Attack: percent-escaped copies in any case, with any characters escaped.
    #[test]
    fn percent_escaped_copies_are_found() {
        let r = Redactor::new(["1000.Ab+cD/eF=gh"]);
        for copy in ["1000%2EAb%2BcD%2FeF%3Dgh", "1000%2eAb%2bcD%2feF%3dgh", "1000.Ab%2bcD%2FeF%3Dgh", "1000.Ab%2BcD/eF%3Dgh", "%31%30%30%30.Ab+cD/eF=gh"] {
            let text = format!("x-pct: {copy};");
            assert_eq!(r.text(&text), "x-pct: [redacted];", "{copy}");
            assert_eq!(r.json(&format!("{{\"a\":\"{copy}\"}}")), "{\"a\":\"[redacted]\"}", "{copy}");
        }
        assert_eq!(r.text("100% sure, %zz"), "100% sure, %zz");
    }

    /// Attack: base64 copies at every alignment, standard and URL-safe, inside longer encoded
    /// text; UTF-16 in bytes either way round and NUL-escaped in JSON; HTML-escaped and
    /// numeric-entity copies. Forms not promised (mixed entities, a copy wrapped across lines)
    /// stay as they are, and a short secret gets none of these forms (no chance hits).
    #[test]
    fn encoded_copies_are_found_and_the_forms_not_promised_are_said() {
        use base64::Engine as _;
        let secret = "1000.a\"b&c<d>e'f+/g?h~0123456789";
        let r = Redactor::new([secret]);
        for prefix in ["", "x", "xy", "xyz"] {
            for engine in [base64::engine::general_purpose::STANDARD, base64::engine::general_purpose::URL_SAFE] {
                let encoded = engine.encode(format!("{prefix}{secret} and after"));
                assert!(r.finds_in_bytes(encoded.as_bytes()), "{prefix:?} {encoded}");
                assert!(r.text(&encoded).contains(MARK), "{prefix:?} {encoded}");
                assert!(r.json(&format!("{{\"f\":\"{encoded}\"}}")).contains(MARK), "{encoded}");
            }
        }
        let le: Vec<u8> = secret.bytes().flat_map(|b| [b, 0]).collect();
        let be: Vec<u8> = secret.bytes().flat_map(|b| [0, b]).collect();
        assert!(r.finds_in_bytes(&le) && r.finds_in_bytes(&be));
        let nul_escaped: String = secret.chars().flat_map(|c| [c.to_string(), "\\u0000".to_string()]).collect::<Vec<_>>().concat().replace('"', "\\\"");
        let document = format!("{{\"f\":\"{nul_escaped}\"}}");
        let redacted = r.json(&document);
        assert!(redacted.contains(MARK) && serde_json::from_str::<Value>(&redacted).is_ok(), "{redacted}");
        let escaped = "1000.a&quot;b&amp;c&lt;d&gt;e&#39;f+/g?h~0123456789";
        let decimal: String = secret.chars().map(|c| format!("&#{};", c as u32)).collect();
        let hex: String = secret.chars().map(|c| format!("&#x{:x};", c as u32)).collect();
        for copy in [escaped.to_string(), escaped.replace("&#39;", "&#x27;"), decimal, hex.clone(), hex.to_uppercase().replace("&#X", "&#x")] {
            assert_eq!(r.text(&format!("<p>{copy}</p>")), format!("<p>{MARK}</p>"), "{copy}");
        }
        // Not promised: entities mixed with plain characters, base64 wrapped across lines.
        let mixed = secret.replacen('1', "&#49;", 1);
        assert_eq!(r.text(&mixed), mixed);
        let wrapped = base64::engine::general_purpose::STANDARD.encode(secret);
        let wrapped = format!("{}\r\n{}", &wrapped[..20], &wrapped[20..]);
        assert!(!r.finds_in_bytes(wrapped.as_bytes()));
        // A short secret is searched as it stands only: its base64 is too short to be a secret's.
        let short = Redactor::new(["1000.abc"]);
        assert_eq!(short.needles.len(), 1);
        assert_eq!(short.text("MTAwMC5hYmM="), "MTAwMC5hYmM=");
    }

    /// Attack: a message formatted with `{:?}` shows a Unicode secret Rust-escaped.
    #[test]
    fn debug_formatted_copies_are_found() {
        for secret in ["ab\u{200b}cdefgh", "ab\u{7f}cd", "ab\0cd", "ab\u{ad}cd\u{301}"] {
            let r = Redactor::new([secret]);
            let message = format!("the token came back for api_domain {:?}", format!("https://evil.example/{secret}"));
            assert!(!r.text(&message).contains("cd"), "{secret:?}: {}", r.text(&message));
        }
    }

    /// The piece-by-piece walk, then the scrub of copies spanning literals: what `json` gives
    /// without its whole-text shortcut.
    fn piecewise(r: &Redactor, doc: &str) -> String {
        let walked = r.walk(doc, true, false);
        let left = r.hits(&walked);
        if left.is_empty() {
            walked.into_owned()
        } else {
            Redactor::scrub(&walked, &left)
        }
    }

    proptest::proptest! {
        /// The whole-text shortcut changes nothing: any document of quotes, escapes, percent
        /// signs and pieces of secrets comes out as the piece-by-piece walk gives it.
        #[test]
        fn the_whole_text_shortcut_agrees_with_the_piecewise_walk(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "\"", "\\", "\\\"", "\\u0041", "\\u0061", "%41", "%2", "a", "b", "Ab", "1000.", "tok", "en",
                "{", "}", ":", ",", "[", "]", " ", "null", "42", "é", "\\n", "aB%22c", "1000.token",
            ]), 0..40)
        ) {
            let r = Redactor::new(["1000.token", "Ab", "aB\"c"]);
            let doc: String = pieces.concat();
            proptest::prop_assert_eq!(r.json(&doc), piecewise(&r, &doc));
            proptest::prop_assert_eq!(r.literals(&doc, false), r.walk(&doc, false, false));
        }
    }
    // Append inside `mod tests` of src/redact.rs.
    fn arb_secret() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        proptest::collection::vec(proptest::sample::select(vec!['b', 'x', '"', '\\', '%', '4', '1', 'u', '0', 'é', '😀', ' ', '.', '+', '/', 'n', '\u{200b}']), 1..6)
            .prop_map(|cs| cs.into_iter().collect())
    }

    fn forms(secret: &str) -> Vec<String> {
        let json = serde_json::to_string(secret).unwrap();
        let json_inner = json[1..json.len() - 1].to_string();
        let all_u: String = secret.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
        let pct: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let pct_all: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        let dbg = format!("{secret:?}");
        let dbg = dbg[1..dbg.len() - 1].to_string();
        vec![secret.to_string(), json_inner, all_u, pct, pct_all, dbg]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]
        /// Stronger: arbitrary secrets (quotes, backslashes, percent signs, unicode), documents
        /// mixing arbitrary characters with every encoded form of every secret, cut anywhere.
        #[test]
        fn the_shortcut_agrees_for_arbitrary_secrets_and_documents(
            secrets in proptest::collection::vec(arb_secret(), 1..4),
            picks in proptest::collection::vec((0usize..64, 0usize..8, proptest::sample::select(vec![
                "\"", "\\", "\\\"", "\\u", "\\u00", "\\u0041", "%", "%2", "%22", "%5C", "'", "{", "}", ":", ",", " ", "é", "\\n", "u", "0", "4", "1", "x",
            ])), 0..30),
        ) {
            let r = Redactor::new(&secrets);
            let mut doc = String::new();
            for (which, form, filler) in picks {
                if which % 2 == 0 {
                    doc.push_str(filler);
                } else {
                    let s = &secrets[which / 2 % secrets.len()];
                    let f = forms(s);
                    let piece = &f[form % f.len()];
                    // Sometimes only part of a form (a straddling copy).
                    let cut_at = if which % 3 == 0 { piece.char_indices().nth(piece.chars().count() / 2).map_or(piece.len(), |(i, _)| i) } else { piece.len() };
                    doc.push_str(&piece[..cut_at]);
                }
            }
            proptest::prop_assert_eq!(r.json(&doc), piecewise(&r, &doc), "json {:?} secrets {:?}", doc, secrets);
            proptest::prop_assert_eq!(r.literals(&doc, false), r.walk(&doc, false, false), "text {:?} secrets {:?}", doc, secrets);
        }

        /// Fully arbitrary strings as both documents and secrets.
        #[test]
        fn the_shortcut_agrees_for_any_strings(secrets in proptest::collection::vec(".{1,6}", 1..4), doc in ".{0,80}") {
            let r = Redactor::new(&secrets);
            proptest::prop_assert_eq!(r.json(&doc), piecewise(&r, &doc));
            proptest::prop_assert_eq!(r.literals(&doc, false), r.walk(&doc, false, false));
        }
    }

    /// Attack: the length edge (15 bytes: as it stands only; 16: every form, a non-ASCII
    /// secret counted in bytes), and secrets holding the prefilter's own bytes (`&`, NUL) found
    /// as they stand in a text holding no other `&` or NUL.
    #[test]
    fn the_encoded_forms_start_at_sixteen_bytes_and_the_prefilter_skips_no_copy() {
        use base64::Engine as _;
        let fifteen = "1000.abcdefghij";
        assert_eq!(fifteen.len(), 15);
        let r = Redactor::new([fifteen]);
        let encoded = base64::engine::general_purpose::STANDARD.encode(fifteen);
        assert_eq!(r.text(&encoded), encoded);
        let sixteen = "1000.abcdefghi\u{e9}";
        assert_eq!(sixteen.len(), 16);
        let r = Redactor::new([sixteen]);
        for prefix in ["", "x", "xy"] {
            let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{prefix}{sixteen}"));
            assert!(r.text(&encoded).contains(MARK), "{encoded}");
        }
        for secret in ["1000.a&b0123456789", "1000.a\0b0123456789", "&&&&&&&&&&&&&&&&", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"] {
            let r = Redactor::new([secret]);
            assert_eq!(r.text(&format!("token={secret};")), format!("token={MARK};"), "{secret:?}");
            let doc = serde_json::json!({ "t": secret }).to_string();
            assert_eq!(r.json(&doc), format!("{{\"t\":\"{MARK}\"}}"), "{secret:?}");
        }
    }

    /// Secrets long enough for the encoded forms (16 to 40 characters), of characters that
    /// change those forms: `+` and `/` in base64, NUL and `&` (the bytes the form prefilter
    /// scans for), `<`, `'`, quotes, backslashes, percent signs and non-ASCII.
    fn arb_long_secret() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        proptest::collection::vec(proptest::sample::select(vec!['b', 'x', '"', '\\', '%', '4', '1', '0', 'é', '😀', ' ', '.', '+', '/', '?', '>', '~', '&', '<', '\'', '\0', '\u{200b}']), 16..40)
            .prop_map(|cs| cs.into_iter().collect())
    }

    /// Every form of a long secret: the short forms, the searched encodings, and whole base64
    /// encodings of the secret after 0 to 2 other bytes (a copy inside a longer encoded text).
    fn long_forms(secret: &str) -> Vec<String> {
        use base64::Engine as _;
        let mut all = forms(secret);
        all.extend(encoded_forms(secret));
        for prefix in ["", "x", "xy"] {
            all.push(base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{secret}")));
            all.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{prefix}{secret}!")));
        }
        all
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1_000))]
        /// The encoded forms under the whole-text shortcut, the form prefilter and the walk:
        /// documents mixing every form of long secrets (whole or cut) with fillers that hold
        /// the prefilter's bytes or not give what the piece-by-piece walk gives, and no
        /// searched form placed whole survives `text`.
        #[test]
        fn encoded_forms_agree_between_shortcut_and_walk_and_none_survives(
            secrets in proptest::collection::vec(arb_long_secret(), 1..3),
            picks in proptest::collection::vec((0usize..64, 0usize..32, proptest::sample::select(vec![
                "\"", "\\", "\\\"", "\\u0000", "\\u0026", "&", "&amp;", "\0", "%", "{", "}", ":", ",", " ", "é", "x", "[", "]", "QUJD", "+/", "-_", "=",
            ])), 0..16),
        ) {
            let r = Redactor::new(&secrets);
            let mut doc = String::new();
            let mut placed = Vec::new();
            for (which, form, filler) in picks {
                if which % 2 == 0 {
                    doc.push_str(filler);
                } else {
                    let f = long_forms(&secrets[which / 2 % secrets.len()]);
                    let piece = &f[form % f.len()];
                    let cut_at = if which % 3 == 0 { piece.char_indices().nth(piece.chars().count() / 2).map_or(piece.len(), |(i, _)| i) } else { piece.len() };
                    doc.push_str(&piece[..cut_at]);
                    if cut_at == piece.len() {
                        placed.push(piece.clone());
                    }
                }
            }
            proptest::prop_assert_eq!(r.json(&doc), piecewise(&r, &doc), "json {:?} secrets {:?}", doc, secrets);
            proptest::prop_assert_eq!(r.literals(&doc, false), r.walk(&doc, false, false), "text {:?} secrets {:?}", doc, secrets);
            let out = r.text(&doc);
            for s in &secrets {
                for form in encoded_forms(s).into_iter().chain([s.clone()]) {
                    if placed.iter().any(|p| p.contains(&form)) {
                        proptest::prop_assert!(!out.contains(&form), "secret {:?} form {:?} in {:?} from {:?}", s, form, out, doc);
                    }
                }
            }
            proptest::prop_assert!(!r.finds_in_bytes(out.as_bytes()), "a searched form is left in {:?} from {:?}", out, doc);
        }
    }

    /// The MAX_HITS fallback: past the cap the whole text is one hit in both walks.
    #[test]
    fn the_shortcut_agrees_past_the_hit_cap() {
        let r = Redactor::new(["q"]);
        for doc in [format!("\"{}\"", "q ".repeat(MAX_HITS + 5)), format!("{} \"\\u0071\"", "q ".repeat(MAX_HITS + 5)), format!("\"a\" {} \"b\"", "%71 ".repeat(MAX_HITS + 5))] {
            assert_eq!(r.json(&doc), piecewise(&r, &doc));
            assert_eq!(r.literals(&doc, false), r.walk(&doc, false, false));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]
        /// No form of a secret survives `text` or `json` (decoded output, percent-decoded output).
        #[test]
        fn no_form_of_a_secret_survives(
            secrets in proptest::collection::vec(arb_secret(), 1..3),
            picks in proptest::collection::vec((0usize..64, 0usize..8, proptest::sample::select(vec![
                "\"", "\\", "\\\"", "%", "{", "}", ":", ",", " ", "é", "x", "[", "]",
            ])), 0..12),
        ) {
            let r = Redactor::new(&secrets);
            let mut doc = String::new();
            for (which, form, filler) in picks {
                if which % 2 == 0 { doc.push_str(filler); } else {
                    let s = &secrets[which / 2 % secrets.len()];
                    let f = forms(s);
                    doc.push_str(&f[form % f.len()]);
                }
            }
            for out in [r.text(&doc).into_owned()] {
                for s in &secrets {
                    if s.chars().count() < 3 { continue; }
                    {
                        let form = s.clone();
                        // A copy made of MARK's own characters or of the document's fillers does not count.
                        proptest::prop_assert!(!out.contains(&form) || !doc.contains(&form) , "secret {:?} form {:?} in {:?} from {:?}", s, form, out, doc);
                    }
                }
            }
        }
    }

    /// A server that builds its JSON by concatenation echoes a secret holding `","` raw: the
    /// body is valid JSON, the secret stands in it as given, and `json()` (raw responses,
    /// every Ok value through `output_text`) returns it byte for byte.
    #[test]
    fn a_secret_spanning_literals_in_valid_json_is_redacted() {
        let secret = r#"x","y":"z"#;
        let r = Redactor::new([secret]);
        let body = format!(r#"{{"error":"invalid client_secret {secret}"}}"#);
        assert!(serde_json::from_str::<Value>(&body).is_ok(), "valid JSON: {body}");
        let out = r.json(&body);
        assert!(!out.contains(secret), "secret left as it stands: {out}");
    }

    /// Attack: fifty thousand such copies among as many other literals: every copy scrubbed,
    /// the rest kept, the document still JSON (the scrub walks its hits in order, once).
    #[test]
    fn fifty_thousand_copies_spanning_literals_are_all_scrubbed() {
        let secret = r#"x","y":"z"#;
        let r = Redactor::new([secret]);
        let items: Vec<String> = (0..50_000).map(|i| format!(r#"{{"keep":"v{i}","error":"echo {secret}"}}"#)).collect();
        let body = format!("[{}]", items.join(","));
        let out = r.json(&body);
        assert!(!out.contains(secret));
        let parsed: Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(parsed[49_999]["keep"], "v49999");
        assert_eq!(parsed.as_array().map(Vec::len), Some(50_000));
    }
}
