//! A file answer (an attachment, a Books PDF) as the WIT `downloaded-file`: the bytes as Zoho
//! sent them, never parsed, never base64; the name from `Content-Disposition`, made safe to use
//! as a file name; the media type from `Content-Type`. The answer cap of the transport (32 MiB)
//! bounds the bytes.

use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Response;
use crate::redact;
use crate::wit::types::DownloadedFile;

/// Longest file name passed on (most file systems take 255 bytes).
const MAX_FILE_NAME_BYTES: usize = 255;
/// Longest media type passed on (RFC 6838 allows 127 + 1 + 127).
const MAX_CONTENT_TYPE_BYTES: usize = 255;

/// The 2xx answer `response` as a downloaded file. A file that holds one of the connection's
/// secrets is refused rather than passed on or altered: no real file echoes the token, a hostile
/// server does.
pub fn downloaded_file(response: Response) -> Result<DownloadedFile> {
    let redactor = redact::step();
    if holds_secret(&redactor, &response.body) {
        return Err(ZohoError::new(ErrorKind::Zoho, "Zoho's file answer holds a credential of this connection; it is not passed on").with_status(response.status));
    }
    // Redacted whole before any cut or split, so no piece of a secret survives either.
    let file_name = response.header("content-disposition").and_then(|d| file_name_with(d, &redactor));
    let content_type = response.header("content-type").map(|t| clean(&redactor.text(t), MAX_CONTENT_TYPE_BYTES)).filter(|t| !t.is_empty());
    Ok(DownloadedFile { file_name, content_type, content: response.body })
}

/// The file name of a `Content-Disposition` value: `filename*=UTF-8''...` (percent-encoded, RFC
/// 6266) wins over `filename="..."` or a bare `filename=...`. Only the last path component is
/// kept (`../../etc/passwd` is `passwd`), control characters are dropped, and the name is cut to
/// 255 bytes on a character boundary. (Answers are named with [`file_name_with`], which also
/// redacts the connection's secrets.)
#[cfg(test)]
pub fn file_name(disposition: &str) -> Option<String> {
    file_name_with(disposition, &redact::Redactor::default())
}

/// Whether a file holds a secret: as it stands, form-encoded, or (when the file is text)
/// escaped as JSON or percent-encoded, as the redactor finds it in any text.
fn holds_secret(redactor: &redact::Redactor, bytes: &[u8]) -> bool {
    if redactor.is_empty() {
        return false;
    }
    if redactor.finds_in_bytes(bytes) {
        return true;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => matches!(redactor.text(text), std::borrow::Cow::Owned(_)),
        Err(_) => false,
    }
}

/// [`file_name`], the decoded name redacted whole before its last component is taken and cut.
fn file_name_with(disposition: &str, redactor: &redact::Redactor) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for (name, value) in parameters(disposition) {
        if name.eq_ignore_ascii_case("filename*") {
            extended = extended_value(&value);
        } else if name.eq_ignore_ascii_case("filename") {
            plain = Some(value);
        }
    }
    let name = extended.or(plain)?;
    let name = redactor.text(&name);
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let name = clean(last, MAX_FILE_NAME_BYTES);
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

/// `name=value` parameters after the disposition type; quoted values unescaped (`\"`, `\\`).
fn parameters(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = header.split_once(';').map(|(_, r)| r).unwrap_or("");
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        let Some((name, after)) = rest.split_once('=') else { break };
        let name = name.trim().to_string();
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((at, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = at + 1;
                        break;
                    }
                    other => value.push(other),
                }
            }
            (value, quoted.get(end..).unwrap_or(""))
        } else {
            let (value, remainder) = after.split_once(';').unwrap_or((after, ""));
            (value.trim().to_string(), remainder)
        };
        out.push((name, value));
        rest = remainder.split_once(';').map(|(_, r)| r).unwrap_or("");
    }
    out
}

/// `UTF-8''na%C3%AFve.pdf` (charset, language, percent-encoded bytes) as text; other charsets
/// are read as UTF-8 too, invalid sequences replaced.
fn extended_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let (_charset, _language, encoded) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes: Vec<u8> = percent_decode(encoded);
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        let hex = |i: usize| bytes.get(i).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(at + 1), hex(at + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                at += 3;
            }
            _ => {
                out.push(b);
                at += 1;
            }
        }
    }
    out
}

/// `text` without control characters, trimmed, cut to `limit` bytes on a character boundary.
fn clean(text: &str, limit: usize) -> String {
    let mut out = String::new();
    for c in text.trim().chars().filter(|c| !c.is_control() && !crate::validate::is_invisible(*c)) {
        if out.len().saturating_add(c.len_utf8()) > limit {
            break;
        }
        out.push(c);
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(headers: &[(&str, &str)], body: &[u8]) -> Response {
        Response { status: 200, headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), body: body.to_vec() }
    }

    #[test]
    fn names_come_from_every_form_of_content_disposition() {
        assert_eq!(file_name("attachment;filename=\"report.pdf\"").as_deref(), Some("report.pdf"));
        assert_eq!(file_name("attachment; filename=report.pdf; size=10").as_deref(), Some("report.pdf"));
        assert_eq!(file_name("attachment; filename=\"a \\\"quoted\\\" name.txt\"").as_deref(), Some("a \"quoted\" name.txt"));
        assert_eq!(file_name("attachment; filename=\"plain.pdf\"; filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.pdf").as_deref(), Some("naïve résumé.pdf"));
        assert_eq!(file_name("attachment; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt").as_deref(), Some("日本.txt"));
        assert_eq!(file_name("attachment; filename=\"semi;colon.pdf\"").as_deref(), Some("semi;colon.pdf"));
        assert_eq!(file_name("inline"), None);
        assert_eq!(file_name(""), None);
    }

    #[test]
    fn hostile_names_become_plain_file_names() {
        assert_eq!(file_name("attachment; filename=\"../../etc/passwd\"").as_deref(), Some("passwd"));
        assert_eq!(file_name("attachment; filename=\"C:\\\\Windows\\\\evil.exe\"").as_deref(), Some("evil.exe"));
        assert_eq!(file_name("attachment; filename*=UTF-8''..%2F..%2Fboot.ini").as_deref(), Some("boot.ini"));
        assert_eq!(file_name("attachment; filename=\"..\""), None);
        assert_eq!(file_name("attachment; filename=\"a\u{0}b\r\nc.txt\"").as_deref(), Some("abc.txt"));
        assert_eq!(file_name("attachment; filename*=UTF-8''%FF%FE.txt").as_deref(), Some("\u{FFFD}\u{FFFD}.txt"));
        // Truncated escapes and an unterminated quote are read, not trapped on.
        assert_eq!(file_name("attachment; filename*=UTF-8''a%2").as_deref(), Some("a%2"));
        assert_eq!(file_name("attachment; filename=\"open").as_deref(), Some("open"));
        let long = format!("attachment; filename=\"{}.pdf\"", "é".repeat(400));
        let name = file_name(&long).unwrap();
        assert!(name.len() <= MAX_FILE_NAME_BYTES && name.chars().all(|c| c == 'é'), "{} bytes", name.len());
    }

    #[test]
    fn the_file_is_the_bytes_zoho_sent() {
        let bytes: Vec<u8> = (0..=255).collect();
        let file = downloaded_file(answer(&[("content-type", "application/pdf"), ("content-disposition", "attachment;filename=\"x.pdf\"")], &bytes)).unwrap();
        assert_eq!(file.content, bytes);
        assert_eq!(file.file_name.as_deref(), Some("x.pdf"));
        assert_eq!(file.content_type.as_deref(), Some("application/pdf"));
        let bare = downloaded_file(answer(&[], b"")).unwrap();
        assert_eq!((bare.file_name, bare.content_type, bare.content), (None, None, Vec::new()));
    }

    /// Found by an outside attack: a secret behind 240 bytes of name was cut before redaction,
    /// a secret holding `/` or `\` was split before it, and an escaped copy in a text file
    /// passed as file content.
    #[test]
    fn secrets_are_redacted_before_cuts_and_splits_and_escaped_copies_refused() {
        let secret = "1000.sec/ret\\x";
        redact::install(redact::Redactor::new([secret]));
        let long = format!("attachment; filename=\"{}{}.txt\"", "A".repeat(240), secret.replace('\\', "\\\\"));
        let answer_named = |d: &str| downloaded_file(answer(&[("content-disposition", d), ("content-type", &format!("{}{secret}", "t".repeat(250)))], b"ok")).unwrap();
        let file = answer_named(&long);
        let (name, kind) = (file.file_name.unwrap(), file.content_type.unwrap());
        assert!(!name.contains("1000.") && !kind.contains("1000."), "{name} / {kind}");
        let encoded: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        let file = answer_named(&format!("attachment; filename*=UTF-8''{encoded}.pdf"));
        assert!(!file.file_name.unwrap().contains("ret"));
        let escaped: String = secret.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
        assert!(downloaded_file(answer(&[], format!("{{\"t\":\"{escaped}\"}}").as_bytes())).is_err());
        assert!(downloaded_file(answer(&[], encoded.as_bytes())).is_err());
        assert_eq!(file_name("attachment; filename=\"inv\u{202e}fdp.exe\"").as_deref(), Some("invfdp.exe"));
        redact::install(redact::Redactor::default());
    }

    #[test]
    fn a_file_or_name_echoing_a_secret_is_not_passed_on() {
        let secret = "1000.se\"cr\\et";
        redact::install(redact::Redactor::new([secret]));
        let echoed = downloaded_file(answer(&[], format!("%PDF {secret} ").as_bytes())).unwrap_err();
        assert_eq!(echoed.kind, ErrorKind::Zoho);
        assert!(!echoed.message.contains(secret));
        let named = downloaded_file(answer(&[("content-disposition", &format!("attachment; filename=\"{}.pdf\"", secret.replace('\\', "\\\\").replace('"', "\\\"")))], b"ok")).unwrap();
        assert!(!named.file_name.unwrap().contains("se\"cr"));
        redact::install(redact::Redactor::default());
    }
}
