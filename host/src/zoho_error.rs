//! A component's zoho-error as the host reports it: one line, for logs and error messages.

use serde_json::Value;

/// A zoho-error in one line: kind, code and message (the component has redacted secrets).
pub fn error_line(error: &Value) -> String {
    let part = |k: &str| error[k].as_str().unwrap_or("").to_string();
    format!("{} {} {}", part("kind"), part("code"), part("message")).split_whitespace().collect::<Vec<_>>().join(" ")
}
