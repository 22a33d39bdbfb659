//! Actions on a Books record: status changes, email, approval (`POST /books/v3/{type}/{id}/{action}`,
//! nested under a parent when one is given). The answer comes back without Books' envelope.

use crate::books::envelope;
use crate::books::records::{books_id, call, target};
use crate::client::Client;
use crate::connection::given;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Body, Method};
use crate::json;
use crate::wit::books::RecordActionInput;

/// Largest action body: an email's subject, body and recipients, with room.
pub const MAX_ACTION_BODY_BYTES: usize = 1 << 20;
/// Path segments an action may have (`status/sent`, `email`, `approve`, ...): Books' deepest is 3.
const MAX_ACTION_SEGMENTS: usize = 3;
const MAX_SEGMENT_BYTES: usize = 40;

/// The action's path: 1 to 3 segments of lowercase letters, digits and underscores, so that
/// nothing but an action under the record can be reached (no `..`, no query, no empty segment).
pub fn action_path(action: &str) -> Result<&str> {
    let refuse = || {
        ZohoError::invalid_input(format!(
            "action {action:?} is not a Zoho Books record action: give the path after the record, 1 to 3 segments of lowercase letters, digits and underscores, e.g. status/sent, status/void, email, approve, submit, markasopen"
        ))
    };
    let segments: Vec<&str> = action.split('/').collect();
    let ok = (1..=MAX_ACTION_SEGMENTS).contains(&segments.len())
        && segments.iter().all(|s| (1..=MAX_SEGMENT_BYTES).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
    if ok {
        Ok(action)
    } else {
        Err(refuse())
    }
}

/// The optional JSON object body, read as members within its size limit and written back out.
fn body_of(values: &Option<String>) -> Result<Option<Body>> {
    let Some(values) = given(values) else { return Ok(None) };
    let members = json::input_object("values", values, MAX_ACTION_BODY_BYTES)
        .map_err(|e| ZohoError::invalid_input(format!("{}; values must be a JSON object such as {{\"to_mail_ids\":[\"ap@zylker.com\"]}}", e.message)))?;
    Ok(Some(Body::new("application/json", json::object_text(&members).into_bytes())))
}

/// Runs the action. Ok is Zoho's answer without `code` and `message`; when the message is all
/// Zoho said (most status changes, email), it is `{"message": ...}`.
pub fn record_action(client: &Client, input: &RecordActionInput) -> Result<String> {
    let id = books_id("record-id", input.record_id.trim())?.to_string();
    let action = action_path(input.action.trim())?;
    let body = body_of(&input.values)?;
    let target = target(client, &input.record_type, &input.parent_record_type, &input.parent_record_id)?;
    let mut request = call(Method::Post, format!("{}/{id}/{action}", target.collection), &target);
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = client.send(request)?;
    let envelope = envelope::open(&response)?;
    // Books answers every action with its envelope; an answer without a code (204, an empty
    // body, someone else's JSON) says nothing about whether the action ran.
    if envelope.get("code").is_none() {
        return Err(ZohoError::new(
            ErrorKind::Zoho,
            format!("Zoho Books answered HTTP {} without its envelope's code, so whether the action ran is unknown: {:?}", response.status, response.body_start()),
        )
        .with_status(response.status));
    }
    let rest: Vec<&(String, &serde_json::value::RawValue)> = envelope.members().iter().filter(|(k, _)| k != "code" && k != "message").collect();
    if rest.is_empty() {
        let mut out = String::from("{\"message\":");
        out.push_str(envelope.get("message").map_or("null", |m| m.get()));
        out.push('}');
        return Ok(out);
    }
    let pairs: Vec<(String, &serde_json::value::RawValue)> = rest.iter().map(|(k, v)| (k.clone(), *v)).collect();
    Ok(json::object_text(&pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_paths_under_the_record_only() {
        for good in ["email", "status/sent", "approve", "markasopen", "a/b/c", "status/void_2", &"x".repeat(40)] {
            assert_eq!(action_path(good).ok(), Some(good), "{good}");
        }
        for bad in
            ["", "/", "../x", "status/../../x", "status/sent?x=1", "a/b/c/d", "/email", "email/", "Status/sent", "email#x", "e mail", "status//sent", "é", "%2e%2e", &"x".repeat(41), "status\\sent"]
        {
            assert!(action_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bodies_are_json_objects_within_their_limit() {
        assert!(body_of(&None).unwrap().is_none());
        assert!(body_of(&Some("  ".into())).unwrap().is_none());
        assert_eq!(body_of(&Some(r#"{"to_mail_ids":["a@b.c"]}"#.into())).unwrap().map(|b| b.parts.concat()), Some(br#"{"to_mail_ids":["a@b.c"]}"#.to_vec()));
        for bad in ["[1]", "\"x\"", "{", "3"] {
            assert!(body_of(&Some(bad.into())).is_err(), "{bad}");
        }
        let at_limit = format!("{{\"s\":\"{}\"}}", "a".repeat(MAX_ACTION_BODY_BYTES - 8));
        assert_eq!(at_limit.len(), MAX_ACTION_BODY_BYTES);
        assert!(body_of(&Some(at_limit.clone())).is_ok());
        assert!(body_of(&Some(at_limit.replacen('a', "aa", 1))).unwrap_err().message.contains("at most 1048576 bytes"));
    }
}
