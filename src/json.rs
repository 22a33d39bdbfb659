//! Zoho's answers read within a memory budget. A `serde_json::Value` tree of a hostile answer
//! (`[0,0,0,...]`) takes about thirty times its text, so only small texts become trees
//! ([`tree`]); records pass through as raw JSON text borrowed from the answer, and a list
//! answer is read in one pass ([`listing`]) that stops at the number of records Zoho could
//! have sent. Typed reads (`serde_json::from_slice::<SomeStruct>`) keep only the fields named,
//! so they are bounded too; skipped values cost nothing.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

/// Largest text parsed into a `Value` tree: error bodies, token answers, metadata, one record
/// to merge. Zoho's own errors and single objects are a few kilobytes.
pub const MAX_TREE_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq)]
pub enum JsonError {
    /// The text is larger than the budget for reading it as a tree.
    TooLarge { bytes: usize, limit: usize },
    /// A list holds more items than the answer can (more records than were asked for).
    TooMany { limit: usize },
    /// Not JSON, or not the shape expected.
    Invalid(String),
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::TooLarge { bytes, limit } => write!(f, "{bytes} bytes, more than the {limit} bytes read as one document"),
            JsonError::TooMany { limit } => write!(f, "more than {limit} items in one list"),
            JsonError::Invalid(why) => write!(f, "{why}"),
        }
    }
}

/// The marker a visitor's error carries when a list overflows (serde errors are text).
const TOO_MANY: &str = "\u{0}too many items";

fn from_serde(e: serde_json::Error, limit: usize) -> JsonError {
    if e.to_string().starts_with(TOO_MANY) {
        JsonError::TooMany { limit }
    } else {
        JsonError::Invalid(e.to_string())
    }
}

/// A small text as a `Value` tree; a text over [`MAX_TREE_BYTES`] is refused unread.
pub fn tree(bytes: &[u8]) -> Result<Value, JsonError> {
    if bytes.len() > MAX_TREE_BYTES {
        return Err(JsonError::TooLarge { bytes: bytes.len(), limit: MAX_TREE_BYTES });
    }
    serde_json::from_slice(bytes).map_err(|e| JsonError::Invalid(e.to_string()))
}

/// Is the text one well-formed JSON document? Checked without building anything.
pub fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(bytes).is_ok()
}

/// A list answer (`{"data":[...],"info":{...}}`): each item as its raw text, `info` raw, every
/// other key skipped. `has_data` tells an absent `data` from an empty one.
#[derive(Debug, Default)]
pub struct Listing<'a> {
    pub data: Vec<&'a RawValue>,
    pub info: Option<&'a RawValue>,
    pub has_data: bool,
}

/// Reads a list answer in one pass, refusing more than `max_items` items in `data`.
pub fn listing(bytes: &[u8], max_items: usize) -> Result<Listing<'_>, JsonError> {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let listing = ListingSeed { max_items }.deserialize(&mut reader).map_err(|e| from_serde(e, max_items))?;
    reader.end().map_err(|e| JsonError::Invalid(e.to_string()))?;
    Ok(listing)
}

/// The items of a JSON array text, each raw, at most `max_items`.
pub fn items(bytes: &[u8], max_items: usize) -> Result<Vec<&RawValue>, JsonError> {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let items = ItemsSeed { max_items }.deserialize(&mut reader).map_err(|e| from_serde(e, max_items))?;
    reader.end().map_err(|e| JsonError::Invalid(e.to_string()))?;
    Ok(items)
}

/// `[a,b,c]` from raw items, without re-serializing them.
pub fn array_text(items: &[&RawValue]) -> String {
    let mut out = String::with_capacity(items.iter().map(|i| i.get().len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(item.get());
    }
    out.push(']');
    out
}

/// A JSON object's top-level members, each value kept as its raw text, at most `max_keys`
/// members. A record given by the caller or sent by Zoho is read this way when its keys matter
/// (to merge or fill it in): the cost is one entry per key, however deep or long the values.
/// A repeated key keeps its last value, as a tree would.
pub fn members(text: &str, max_keys: usize) -> Result<Vec<(String, &RawValue)>, JsonError> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let members = MembersSeed { max_keys }.deserialize(&mut reader).map_err(|e| from_serde(e, max_keys))?;
    reader.end().map_err(|e| JsonError::Invalid(e.to_string()))?;
    Ok(members)
}

/// `{"k":v,...}` from members, values copied as their text.
pub fn object_text<V: std::ops::Deref<Target = RawValue>>(members: &[(String, V)]) -> String {
    let size = members.iter().map(|(k, v)| k.len() + v.get().len() + 4).sum::<usize>() + 2;
    let mut out = String::with_capacity(size);
    out.push('{');
    for (n, (key, value)) in members.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        push_string(&mut out, key);
        out.push(':');
        out.push_str(value.get());
    }
    out.push('}');
    out
}

/// Appends `text` as a JSON string literal.
pub fn push_string(out: &mut String, text: &str) {
    // Serializing a str cannot fail; the fallback keeps the output JSON regardless.
    out.push_str(&serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into()));
}

/// A code from an answer as text for an error's `code`: a string's content, anything else as
/// written, at most 64 characters (a hostile code can be megabytes).
pub fn cut_code(raw: &str) -> String {
    let text = serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_string());
    text.chars().take(64).collect()
}

/// The text of a raw JSON string value; `None` when the value is not a string.
pub fn raw_str(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get()).ok()
}

/// Does a raw value hold an object (a record) rather than a scalar or an array?
pub fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

/// Largest `values` text (CRM and Books writes): 100 records of Zoho's largest fields fit
/// with room; the text, the members read from it and the body built from them stay far
/// inside the instance's 256 MiB.
pub const MAX_VALUES_BYTES: usize = 16 << 20;
/// Largest `dynamic-fields` text: it is copied into each of up to 100 records.
pub const MAX_DYNAMIC_FIELDS_BYTES: usize = 1 << 20;
/// Largest `search-fields` text: filters go into the query string.
pub const MAX_SEARCH_FIELDS_BYTES: usize = 64 << 10;
/// Most fields one record may name: more than any Zoho module has.
pub const MAX_KEYS_PER_RECORD: usize = 1_000;

/// What a raw JSON value is, for a message that must not echo a huge value.
pub fn kind_of(raw: &str) -> &'static str {
    match raw.trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "true or false",
        Some(b'n') => "null",
        Some(_) => "a number",
        None => "empty",
    }
}

/// A caller's JSON object input (`values`, `dynamic-fields`, `search-fields`): its size is
/// checked before anything is parsed, then its members are read with their values raw.
pub fn input_object<'a>(what: &str, text: &'a str, max_bytes: usize) -> crate::error::Result<Vec<(String, &'a RawValue)>> {
    use crate::error::ZohoError;
    if text.len() > max_bytes {
        return Err(ZohoError::invalid_input(format!("{what} is {} bytes; at most {max_bytes} bytes are accepted (send large content as an attachment, or fewer records per step)", text.len())));
    }
    if !text.trim_start().starts_with('{') && is_json(text.as_bytes()) {
        return Err(ZohoError::invalid_input(format!("{what} must be a JSON object, not {}", kind_of(text))));
    }
    members(text, MAX_KEYS_PER_RECORD).map_err(|e| match e {
        JsonError::TooMany { limit } => ZohoError::invalid_input(format!("{what} names more than {limit} fields; no Zoho record has that many")),
        other => ZohoError::invalid_input(format!("{what} must be a JSON object ({other})")),
    })
}

struct MembersSeed {
    max_keys: usize,
}

impl<'de> DeserializeSeed<'de> for MembersSeed {
    type Value = Vec<(String, &'de RawValue)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MembersSeed {
    type Value = Vec<(String, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(String, &'de RawValue)> = Vec::new();
        // Where each key sits, so a key repeated a million times costs a lookup, not a scan.
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: &'de RawValue = map.next_value()?;
            let count = members.len();
            match at.get(&key).and_then(|&n| members.get_mut(n)) {
                Some(member) => member.1 = value,
                None if count >= self.max_keys => return Err(de::Error::custom(TOO_MANY)),
                None => {
                    at.insert(key.clone(), members.len());
                    members.push((key, value));
                }
            }
        }
        Ok(members)
    }
}

struct ListingSeed {
    max_items: usize,
}

enum ListingKey {
    Data,
    Info,
    Other,
}

impl<'de> de::Deserialize<'de> for ListingKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = ListingKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<ListingKey, E> {
                Ok(match key {
                    "data" => ListingKey::Data,
                    "info" => ListingKey::Info,
                    _ => ListingKey::Other,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> DeserializeSeed<'de> for ListingSeed {
    type Value = Listing<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Listing<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ListingSeed {
    type Value = Listing<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Listing<'de>, A::Error> {
        let mut listing = Listing::default();
        while let Some(key) = map.next_key::<ListingKey>()? {
            match key {
                // A repeated key replaces the earlier value, as a tree would.
                ListingKey::Data => {
                    listing.data = map.next_value_seed(ItemsSeed { max_items: self.max_items })?;
                    listing.has_data = true;
                }
                ListingKey::Info => listing.info = Some(map.next_value()?),
                ListingKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(listing)
    }
}

struct ItemsSeed {
    max_items: usize,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed {
    type Value = Vec<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            if items.len() >= self.max_items {
                return Err(de::Error::custom(TOO_MANY));
            }
            items.push(item);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_keeps_records_as_their_text() {
        let body = br#"{"info":{"more_records":true},"data":[{"id":"1","a":"x\u00e9"}, {"id":"2"}],"extra":[1,2,3]}"#;
        let listing = listing(body, 200).unwrap();
        assert!(listing.has_data);
        assert_eq!(listing.data.iter().map(|r| r.get()).collect::<Vec<_>>(), [r#"{"id":"1","a":"x\u00e9"}"#, r#"{"id":"2"}"#]);
        assert_eq!(listing.info.unwrap().get(), r#"{"more_records":true}"#);
        assert_eq!(array_text(&listing.data), r#"[{"id":"1","a":"x\u00e9"},{"id":"2"}]"#);
        assert!(!super::listing(b"{}", 1).unwrap().has_data);
    }

    #[test]
    fn hostile_lists_stop_at_the_limit_without_growing() {
        // Five million elements: refused at the 201st, long before a tree would trap.
        let mut body = String::from("{\"data\":[");
        body.push_str(&"0,".repeat(5_000_000));
        body.push_str("0]}");
        assert_eq!(listing(body.as_bytes(), 200).unwrap_err(), JsonError::TooMany { limit: 200 });
        assert!(matches!(tree(body.as_bytes()), Err(JsonError::TooLarge { .. })));
        assert!(is_json(body.as_bytes()));
    }

    #[test]
    fn malformed_and_deep_answers_are_errors_not_crashes() {
        for bad in [&b"{\"data\":[1,"[..], b"[]", b"{\"data\":{}}", b"{\"data\":[]} x", b"\xff\xfe"] {
            assert!(matches!(listing(bad, 10), Err(JsonError::Invalid(_))), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = format!("{{\"data\":[{}{}]}}", "[".repeat(100_000), "]".repeat(100_000));
        // Skipped or kept raw, a deep value costs no stack; read as a tree it is refused.
        assert_eq!(listing(deep.as_bytes(), 10).unwrap().data.len(), 1);
        assert!(matches!(tree(deep.as_bytes()), Err(JsonError::Invalid(_))));
        assert_eq!(items(b"[1, {\"a\":2}]", 2).unwrap().len(), 2);
        assert_eq!(items(b"[1,2,3]", 2).unwrap_err(), JsonError::TooMany { limit: 2 });
    }

    #[test]
    fn members_keep_values_raw_and_stop_at_the_key_limit() {
        let m = members(r#"{"a":[1,{"b":2}],"c\u00e9":"x","a":3}"#, 10).unwrap();
        assert_eq!(m.iter().map(|(k, v)| (k.as_str(), v.get())).collect::<Vec<_>>(), [("a", "3"), ("cé", r#""x""#)]);
        assert_eq!(object_text(&m), r#"{"a":3,"cé":"x"}"#);
        assert_eq!(members(r#"{"a":1,"b":2,"c":3}"#, 2).unwrap_err(), JsonError::TooMany { limit: 2 });
        // A huge value is one member: a 16 MB array costs one entry, not a tree.
        let big = format!("{{\"a\":[{}0]}}", "0,".repeat(1_000_000));
        assert_eq!(members(&big, 1).unwrap().len(), 1);
        for bad in ["[]", "1", "{", "{\"a\":1} x", ""] {
            assert!(matches!(members(bad, 5), Err(JsonError::Invalid(_))), "{bad}");
        }
        assert_eq!(raw_str(members(r#"{"s":"q\"\\"}"#, 1).unwrap()[0].1).as_deref(), Some("q\"\\"));
        assert_eq!(raw_str(members(r#"{"s":5}"#, 1).unwrap()[0].1), None);
        let mut out = String::new();
        push_string(&mut out, "a\"b\n");
        assert_eq!(out, r#""a\"b\n""#);
    }
}
