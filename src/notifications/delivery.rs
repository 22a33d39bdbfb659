//! What Zoho posts to a notify URL: `{"server_time","query_params","module","resource_uri",
//! "ids","affected_fields","operation","channel_id","token"}`. The token and channel are checked
//! first (the token in constant time); a delivery that fails them is `forbidden` and nothing
//! is fetched. The delivery's token never reaches the output or an error.

use super::{channel, token};
use crate::client::{ApiCall, Client};
use crate::crm::fields::module_fields;
use crate::crm::records::{MergedRecords, MAX_IDS_PER_LIST, MAX_MERGED_PAGE_BYTES};
use crate::crm::response::{content, list_page};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::json;
use crate::validate;
use crate::wit::notifications::ParseInput;
use crate::zoho_time::format_iso;
use serde_json::{Map, Value};

/// Largest delivery body read (Zoho's are a few kilobytes; a mass update's ids fit with room).
pub const MAX_DELIVERY_BYTES: usize = 1 << 20;
/// Most records Fetch Records reads for one delivery (10 requests of 100).
pub const MAX_FETCH_IDS: usize = 1_000;
/// Latest `server_time` taken: the end of year 9999, in milliseconds.
const MAX_SERVER_TIME_MS: i64 = 253_402_300_799_999;
/// The operations a delivery reports.
const OPERATIONS: [&str; 3] = ["insert", "update", "delete"];

/// A delivery once checked.
#[derive(Debug, PartialEq)]
pub struct Delivery {
    pub module: String,
    pub operation: String,
    pub ids: Vec<String>,
    pub affected_fields: Value,
    pub server_time_ms: i64,
    pub channel_id: String,
}

fn refused(what: &str) -> ZohoError {
    ZohoError::invalid_input(format!("the delivery body is not a Zoho notification: {what}"))
}

fn forbidden(code: &str, message: &str) -> ZohoError {
    ZohoError::new(ErrorKind::Forbidden, message).with_code(code)
}

/// Blank optional inputs count as not given (platforms send "" for an empty field).
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// A channel id as a delivery carries it: digits as a string, or a whole number.
fn channel_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// `server_time` in milliseconds: a number from 0 to the end of year 9999, whatever its JSON
/// form (an integer past i64, a float such as 1.7e12 or 1e308) — never a panic or a wrap.
fn server_time_ms(value: Option<&Value>) -> Result<i64> {
    let number = value.and_then(Value::as_number).ok_or_else(|| refused("server_time must be a number of milliseconds"))?;
    let ms = match number.as_i64() {
        Some(ms) => Some(ms),
        None => number.as_f64().filter(|f| f.is_finite() && *f >= 0.0 && *f <= MAX_SERVER_TIME_MS as f64).map(|f| f as i64),
    };
    ms.filter(|ms| (0..=MAX_SERVER_TIME_MS).contains(ms)).ok_or_else(|| refused("server_time is not a time between 1970 and 9999"))
}

/// Checks the delivery: its token and channel against the expected ones first (a mismatch is
/// `forbidden`), then every other field.
pub fn read(input: &ParseInput) -> Result<Delivery> {
    let expected_channel = given(&input.expected_channel_id).map(|id| channel::channel_id(id, "expected-channel-id")).transpose()?;
    if input.body.len() > MAX_DELIVERY_BYTES {
        return Err(ZohoError::invalid_input(format!("body is {} bytes; a Zoho notification is at most {MAX_DELIVERY_BYTES} bytes", input.body.len())));
    }
    let Ok(Value::Object(body)) = json::tree(input.body.as_bytes()) else {
        return Err(refused("it is not a JSON object"));
    };
    if let Some(expected) = given(&input.expected_token) {
        let carried = body.get("token").and_then(Value::as_str).unwrap_or("");
        if !token::same(carried.as_bytes(), expected.as_bytes()) {
            return Err(forbidden("TOKEN_MISMATCH", "the delivery does not carry the channel's token: it was not sent by Zoho for this channel, so it is refused and nothing was fetched"));
        }
    }
    if let Some(expected) = expected_channel {
        if channel_text(body.get("channel_id")).as_deref() != Some(expected) {
            return Err(forbidden("CHANNEL_MISMATCH", "the delivery is for another channel than expected-channel-id, so it is refused and nothing was fetched"));
        }
    }
    read_fields(&body)
}

fn read_fields(body: &Map<String, Value>) -> Result<Delivery> {
    let module = body.get("module").and_then(Value::as_str).ok_or_else(|| refused("module is missing"))?;
    validate::module_name(module).map_err(|_| refused("module is not a module API name"))?;
    let operation = body.get("operation").and_then(Value::as_str).filter(|o| OPERATIONS.contains(o)).ok_or_else(|| refused("operation is not insert, update or delete"))?;
    let channel_id = channel_text(body.get("channel_id")).ok_or_else(|| refused("channel_id is missing"))?;
    channel::channel_id(&channel_id, "channel_id").map_err(|_| refused("channel_id is not a channel id"))?;
    let items = body.get("ids").and_then(Value::as_array).filter(|ids| !ids.is_empty()).ok_or_else(|| refused("ids is not a list of record ids"))?;
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let id = match item {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_u64() => n.to_string(),
            _ => return Err(refused("ids holds something other than record ids")),
        };
        validate::record_id(&id).map_err(|_| refused("ids holds something other than record ids"))?;
        ids.push(id);
    }
    let affected_fields = match body.get("affected_fields") {
        None | Some(Value::Null) => Value::Null,
        Some(list @ Value::Array(_)) => list.clone(),
        Some(_) => return Err(refused("affected_fields is not a list")),
    };
    let server_time_ms = server_time_ms(body.get("server_time"))?;
    Ok(Delivery { module: module.to_string(), operation: operation.to_string(), ids, affected_fields, server_time_ms, channel_id })
}

/// A delivery's module, operation and ids, after its token and channel are checked; with
/// fetch-records, the records too (`GET /crm/v8/{module}?ids=` per 100 ids), as Zoho's text.
pub fn parse(client: &Client, input: &ParseInput) -> Result<String> {
    let named = match given(&input.fields) {
        Some(fields) => validate::field_names(fields)?,
        None => Vec::new(),
    };
    if named.len() > json::MAX_KEYS_PER_RECORD {
        return Err(ZohoError::invalid_input(format!("fields names {} fields; no Zoho module has more than {}", named.len(), json::MAX_KEYS_PER_RECORD)));
    }
    let delivery = read(input)?;
    let fetch = input.fetch_records == Some(true) && delivery.operation != "delete";
    if fetch && delivery.ids.len() > MAX_FETCH_IDS {
        return Err(ZohoError::invalid_input(format!(
            "the delivery names {} records; Fetch Records reads at most {MAX_FETCH_IDS}: turn it off and read the records by id in steps",
            delivery.ids.len()
        )));
    }
    let records = if fetch { Some(fetch_records(client, &delivery, named)?) } else { None };
    Ok(output(&delivery, records.as_deref()))
}

/// The records the delivery names, each as Zoho's text (a deleted one is simply absent).
fn fetch_records(client: &Client, delivery: &Delivery, named: Vec<String>) -> Result<Vec<String>> {
    let module = delivery.module.as_str();
    let mut fields = if named.is_empty() { module_fields(client, module)? } else { named };
    // The id ties each record (and the batches of a wide one) back to the delivery.
    if !fields.iter().any(|f| f == "id") {
        fields.insert(0, "id".to_string());
    }
    let batches = crate::crm::records::field_batches(&fields);
    let first: &[String] = batches.first().copied().unwrap_or_default();
    let mut records = Vec::new();
    let mut bytes = 0usize;
    for chunk in delivery.ids.chunks(MAX_IDS_PER_LIST) {
        let call = ApiCall::new(Method::Get, format!("/crm/v8/{module}")).query("fields", first.join(",")).query("ids", chunk.join(","));
        let response = client.send(call)?;
        let Some(response) = content(&response)? else { continue };
        // Zoho answers at most one record per id asked for.
        let listing = list_page(response, chunk.len())?;
        let texts = if batches.len() < 2 {
            listing.data.iter().map(|r| r.get().to_string()).collect()
        } else {
            let mut merged = MergedRecords::read(&listing.data)?;
            merged.complete(client, module, batches.get(1..).unwrap_or_default())?;
            merged.texts()
        };
        for text in texts {
            bytes = bytes.saturating_add(text.len());
            if bytes > MAX_MERGED_PAGE_BYTES {
                return Err(ZohoError::new(ErrorKind::Zoho, format!("the delivery's records come to more than {MAX_MERGED_PAGE_BYTES} bytes; ask for fewer fields")));
            }
            records.push(text);
        }
    }
    Ok(records)
}

/// `{"module","operation","ids","affected_fields","server_time","channel_id","records"?}`.
fn output(delivery: &Delivery, records: Option<&[String]>) -> String {
    let head = serde_json::json!({
        "module": delivery.module,
        "operation": delivery.operation,
        "ids": delivery.ids,
        "affected_fields": delivery.affected_fields,
        "server_time": format_iso(delivery.server_time_ms.div_euclid(1000)),
        "channel_id": delivery.channel_id,
    })
    .to_string();
    let Some(records) = records else { return head };
    let mut out = String::with_capacity(head.len() + records.iter().map(|r| r.len() + 1).sum::<usize>() + 16);
    out.push_str(head.strip_suffix('}').unwrap_or(&head));
    out.push_str(",\"records\":[");
    for (n, record) in records.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(record);
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENUINE: &str = r#"{"server_time":1558505877426,"query_params":{},"module":"Leads","resource_uri":"https://www.zohoapis.com/crm/v8/Leads","ids":["3652397000001226003"],"affected_fields":[{"3652397000001226003":["Phone"]}],"operation":"update","channel_id":"1000000068001","token":"TOKEN_FOR_VERIFICATION_OF_1000000068001"}"#;

    fn input(body: &str, token: Option<&str>, channel: Option<&str>) -> ParseInput {
        ParseInput { body: body.into(), expected_token: token.map(str::to_string), expected_channel_id: channel.map(str::to_string), fetch_records: None, fields: None }
    }

    fn with(key: &str, value: Value) -> String {
        let mut body: Value = serde_json::from_str(GENUINE).unwrap();
        body[key] = value;
        body.to_string()
    }

    #[test]
    fn a_genuine_delivery_is_read() {
        let d = read(&input(GENUINE, Some("TOKEN_FOR_VERIFICATION_OF_1000000068001"), Some("1000000068001"))).unwrap();
        assert_eq!((d.module.as_str(), d.operation.as_str(), d.ids.as_slice(), d.channel_id.as_str()), ("Leads", "update", &["3652397000001226003".to_string()][..], "1000000068001"));
        assert_eq!(
            output(&d, None),
            r#"{"affected_fields":[{"3652397000001226003":["Phone"]}],"channel_id":"1000000068001","ids":["3652397000001226003"],"module":"Leads","operation":"update","server_time":"2019-05-22T06:17:57+00:00"}"#
        );
        assert!(output(&d, Some(&["{\"id\":\"1\"}".to_string()])).ends_with(r#""server_time":"2019-05-22T06:17:57+00:00","records":[{"id":"1"}]}"#));
        // Blank expected values are not given: nothing to compare.
        assert!(read(&input(GENUINE, Some(""), Some(""))).is_ok());
    }

    #[test]
    fn forged_tokens_and_channels_are_forbidden() {
        let right = "TOKEN_FOR_VERIFICATION_OF_1000000068001";
        for forged in ["TOKEN_FOR_VERIFICATION_OF_1000000068002", "TOKEN_FOR_VERIFICATION_OF_100000006800", "", "TOKEN_FOR_VERIFICATION_OF_10000000680é", "x"] {
            let e = read(&input(&with("token", Value::String(forged.into())), Some(right), None)).unwrap_err();
            assert_eq!((e.kind, e.code.as_deref()), (ErrorKind::Forbidden, Some("TOKEN_MISMATCH")), "{forged}");
            assert!(!e.message.contains(forged) || forged.len() < 2);
        }
        for missing in [Value::Null, Value::from(5)] {
            assert_eq!(read(&input(&with("token", missing), Some(right), None)).unwrap_err().kind, ErrorKind::Forbidden);
        }
        let e = read(&input(GENUINE, Some(right), Some("1000000068002"))).unwrap_err();
        assert_eq!((e.kind, e.code.as_deref()), (ErrorKind::Forbidden, Some("CHANNEL_MISMATCH")));
        // A forged body that is also malformed is still forbidden first.
        let e = read(&input(r#"{"token":"nope","module":"../x"}"#, Some(right), None)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        // The channel id given is checked as input.
        assert_eq!(read(&input(GENUINE, None, Some("12a"))).unwrap_err().kind, ErrorKind::InvalidInput);
    }

    #[test]
    fn every_field_is_checked() {
        for (key, value) in [
            ("module", Value::from("Le/ads")),
            ("module", Value::Null),
            ("operation", Value::from("upsert")),
            ("ids", serde_json::json!([])),
            ("ids", serde_json::json!(["12a"])),
            ("ids", serde_json::json!([-1])),
            ("ids", serde_json::json!("1")),
            ("channel_id", Value::from("x")),
            ("channel_id", Value::from(1.5)),
            ("affected_fields", Value::from("Phone")),
            ("server_time", Value::from("1558505877426")),
            ("server_time", Value::from(-1)),
            ("server_time", Value::from(i64::MIN)),
            ("server_time", Value::from(u64::MAX)),
            ("server_time", Value::from(1e308)),
            ("server_time", Value::from(-1e308)),
            ("server_time", Value::from(MAX_SERVER_TIME_MS + 1)),
        ] {
            let e = read(&input(&with(key, value.clone()), None, None)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidInput, "{key}: {value}");
        }
        assert_eq!(read(&input(&with("server_time", Value::from(i64::MAX)), None, None)).unwrap_err().kind, ErrorKind::InvalidInput);
        assert_eq!(read(&input(&with("server_time", Value::from(1.5e12)), None, None)).unwrap().server_time_ms, 1_500_000_000_000);
        assert_eq!(read(&input(&with("server_time", Value::from(MAX_SERVER_TIME_MS)), None, None)).unwrap().server_time_ms, MAX_SERVER_TIME_MS);
        assert_eq!(read(&input(&with("ids", serde_json::json!([5725767000000524157u64])), None, None)).unwrap().ids, ["5725767000000524157"]);
        assert_eq!(read(&input(&with("affected_fields", Value::Null), None, None)).unwrap().affected_fields, Value::Null);
        for bad in ["", "[]", "null", "{", "\"x\"", "{}"] {
            assert_eq!(read(&input(bad, None, None)).unwrap_err().kind, ErrorKind::InvalidInput, "{bad}");
        }
        let huge = format!("{{\"pad\":\"{}\"}}", "p".repeat(MAX_DELIVERY_BYTES));
        assert!(read(&input(&huge, None, None)).unwrap_err().message.contains("at most 1048576 bytes"));
    }
}
