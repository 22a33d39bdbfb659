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
}
