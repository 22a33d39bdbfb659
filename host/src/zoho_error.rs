//! A component's zoho-error as the host reports it: one line, for logs and error messages.

use serde_json::Value;

/// A zoho-error in one line: kind, code and message (the component has redacted secrets).
pub fn error_line(error: &Value) -> String {
    let part = |k: &str| error[k].as_str().unwrap_or("").to_string();
    format!("{} {} {}", part("kind"), part("code"), part("message")).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A transport error's message with the host's own words in place of the component's dump of
/// the wasi:http error code: the host puts what failed and where (`cannot resolve
/// www.zohoapis.eu: ...`) in the code's text payload, and the component prints the code with
/// Rust's debug format, which nobody running a step should have to read.
pub fn plain_transport(mut error: Value) -> Value {
    if error["kind"] != "transport" {
        return error;
    }
    let Some(lifted) = error["message"].as_str().and_then(lift_payload) else {
        return error;
    };
    error["message"] = Value::String(lifted);
    error
}

/// `HTTP exchange failed: ErrorCode::X(... Some("text") ...)` → `HTTP exchange failed: text`.
fn lift_payload(message: &str) -> Option<String> {
    let rest = message.strip_prefix("HTTP exchange failed: ErrorCode::")?;
    let quoted = &rest[rest.find("Some(\"")? + 5..];
    // A debug-quoted string reads as a JSON string for everything but `\u{..}` escapes,
    // which leave the message as it was.
    let text: String = serde_json::Deserializer::from_str(quoted).into_iter::<String>().next()?.ok()?;
    Some(format!("HTTP exchange failed: {text}"))
}

/// Longest prefix of a bad value an error message shows.
pub const SHOWN_CHARS: usize = 200;

/// At most the first [`SHOWN_CHARS`] characters of `text`, cut on a character boundary, with
/// its length when cut: an error about a 3 MB value must not be 3 MB itself.
pub fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn transport_messages_name_what_failed() {
        let dumped = json!({ "kind": "transport", "message": r#"HTTP exchange failed: ErrorCode::DnsError(DnsErrorPayload { rcode: Some("cannot resolve www.zohoapis.eu: failed \"lookup\""), info-code: None })"# });
        assert_eq!(plain_transport(dumped)["message"], r#"HTTP exchange failed: cannot resolve www.zohoapis.eu: failed "lookup""#);
        let other = json!({ "kind": "transport", "message": "HTTP exchange failed: ErrorCode::HttpProtocolError" });
        assert_eq!(plain_transport(other.clone()), other);
        let not_transport = json!({ "kind": "internal", "message": r#"HTTP exchange failed: ErrorCode::X(Some("y"))"# });
        assert_eq!(plain_transport(not_transport.clone()), not_transport);
    }

    #[test]
    fn shown_cuts_on_a_char_boundary() {
        assert_eq!(shown("short"), "short");
        let long = "é".repeat(300);
        let cut = shown(&long);
        assert!(cut.starts_with(&"é".repeat(200)) && cut.ends_with("… (600 bytes)"), "{cut}");
    }
}
