//! Tags on many records at once: `POST /crm/v8/{module}/actions/add_tags` and `remove_tags`.
//! Every record's outcome is reported: a partial success lists each failure.

use crate::client::{ApiCall, Client};
use crate::crm::response::{listing_text, write_outcomes};
use crate::error::{Result, ZohoError};
use crate::http::Method;
use crate::validate;
use crate::wit::crm::{AddTagsInput, ListTagsInput, RemoveTagsInput};
use serde_json::{json, Map, Value};

/// Records one tag request may name (Zoho's limit).
pub const MAX_TAG_IDS: usize = 500;
/// Longest tag name, in characters (Zoho's limit).
pub const MAX_TAG_NAME_CHARS: usize = 25;
/// Most tags one record may carry (Zoho's limit on Professional and above; Standard allows 5).
pub const MAX_TAGS_PER_RECORD: usize = 10;

/// Tags one module may have listed: far more than any org uses (the answer is also held to the
/// metadata size limit).
const MAX_MODULE_TAGS: usize = 10_000;

/// Get Tags (v8 "Tags" pages; tags.json `Get Tags`; scope ZohoCRM.settings.tags.{ALL|READ}):
/// `GET /crm/v8/settings/tags?module=` lists a module's tags, `{"tags":[...],"info":{...}}`.
pub fn list_tags(client: &crate::client::Client, input: &ListTagsInput) -> Result<String> {
    crate::crm::settings::module_settings(client, "tags", &input.record_type, MAX_MODULE_TAGS)
}

/// The record ids, each a Zoho id, 1 to 500, repeats dropped (as Zoho reads them, numbers:
/// "0007" repeats "7").
fn record_ids(ids: &[String]) -> Result<Vec<&str>> {
    if ids.is_empty() {
        return Err(ZohoError::invalid_input(format!("record-ids is empty: give 1 to {MAX_TAG_IDS} record ids")));
    }
    if ids.len() > MAX_TAG_IDS {
        return Err(ZohoError::invalid_input(format!("record-ids holds {} ids; Zoho takes 1 to {MAX_TAG_IDS} per request: split the records into several steps", ids.len())));
    }
    let mut out: Vec<&str> = Vec::with_capacity(ids.len());
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        let id = validate::record_id(id.trim())?;
        if seen.insert(validate::record_number(id)) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The tag names, trimmed, each 1 to 25 characters without control characters, repeats dropped.
fn tag_names(tags: &[String]) -> Result<Vec<&str>> {
    let mut out: Vec<&str> = Vec::new();
    for tag in tags {
        let name = tag.trim();
        if name.is_empty() {
            return Err(ZohoError::invalid_input("a tag name is empty: give each tag's name, e.g. [\"Hot\",\"Trade show\"]"));
        }
        let chars = name.chars().count();
        if chars > MAX_TAG_NAME_CHARS {
            return Err(ZohoError::invalid_input(format!(
                "tag {:?}... is {chars} characters; Zoho's tag names are at most {MAX_TAG_NAME_CHARS}",
                name.chars().take(MAX_TAG_NAME_CHARS).collect::<String>()
            )));
        }
        // Control characters and bidirectional overrides would make a tag that reads as another.
        if let Some(c) = name.chars().find(|c| c.is_control() || crate::validate::is_invisible(*c)) {
            return Err(ZohoError::invalid_input(format!("tag {name:?} holds the invisible or control character U+{:04X}: tag names are plain text", c as u32)));
        }
        if !out.contains(&name) {
            out.push(name);
        }
        if out.len() > MAX_TAGS_PER_RECORD {
            return Err(ZohoError::invalid_input(format!("tags names more than {MAX_TAGS_PER_RECORD} tags; a Zoho record carries at most {MAX_TAGS_PER_RECORD}")));
        }
    }
    if out.is_empty() {
        return Err(ZohoError::invalid_input("tags is empty: give at least one tag name"));
    }
    Ok(out)
}

fn tag_call(client: &Client, record_type: &str, action: &str, ids: &[String], tags: &[String], over_write: Option<bool>) -> Result<String> {
    let module = validate::module_name(record_type)?;
    let ids = record_ids(ids)?;
    let tags = tag_names(tags)?;
    let mut body = Map::new();
    body.insert("tags".into(), Value::Array(tags.iter().map(|t| json!({ "name": t })).collect()));
    body.insert("ids".into(), json!(ids));
    if let Some(over_write) = over_write {
        body.insert("over_write".into(), json!(over_write));
    }
    let response = client.send(ApiCall::new(Method::Post, format!("/crm/v8/{module}/actions/{action}")).json(Value::Object(body)))?;
    // One outcome per id: a 207 lists each failure beside the successes; a longer list is refused unread.
    let items = write_outcomes(&response, ids.len())?;
    Ok(listing_text(items.iter().map(|r| r.get()), None))
}

pub fn add_tags(client: &Client, input: &AddTagsInput) -> Result<String> {
    tag_call(client, &input.record_type, "add_tags", &input.record_ids, &input.tags, input.over_write)
}

pub fn remove_tags(client: &Client, input: &RemoveTagsInput) -> Result<String> {
    tag_call(client, &input.record_type, "remove_tags", &input.record_ids, &input.tags, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ids_are_bounded_and_checked() {
        assert!(record_ids(&[]).is_err());
        assert_eq!(record_ids(&strings(&["1", " 2 ", "1"])).unwrap(), ["1", "2"]);
        assert_eq!(record_ids(&vec!["7".to_string(); 500]).unwrap(), ["7"]);
        assert_eq!(record_ids(&strings(&["7", "0007", "007 "])).unwrap(), ["7"]);
        assert!(record_ids(&vec!["7".to_string(); 501]).unwrap_err().message.contains("501 ids"));
        assert!(record_ids(&strings(&["1", "x"])).is_err());
    }

    #[test]
    fn tag_names_are_plain_and_short() {
        assert_eq!(tag_names(&strings(&[" Hot ", "Hot", "Trade show", "日本語"])).unwrap(), ["Hot", "Trade show", "日本語"]);
        assert!(tag_names(&strings(&["é".repeat(25).as_str()])).is_ok());
        for bad in ["", "  ", "Hot\nCold", "a\u{0}", "Hot\u{202e}", "\u{200b}", "a\u{61c}b", "a\u{2028}b", "a\u{ad}b", "a\u{180e}b", "a\u{2060}b", &"x".repeat(26)] {
            assert!(tag_names(&strings(&[bad])).is_err(), "{bad:?}");
        }
        assert!(tag_names(&[]).is_err());
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(tag_names(&eleven).is_err());
    }
}
