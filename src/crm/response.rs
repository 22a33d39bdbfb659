//! Reading Zoho CRM answers: the success items, and the error shapes (top-level or per record).
//! Lists are read in one pass with their records kept as raw text ([`list_page`]); only small
//! documents (error bodies, `info`) become trees, through [`json::tree`].

use crate::crm::error_text;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{retry_after_ms, Response};
use crate::json::{self, JsonError, Listing};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Records a write answers for at most (Zoho takes 100 per request).
pub const MAX_WRITE_ITEMS: usize = 100;

/// Largest metadata answer read whole (`/org`, `/settings/modules`, a `/users` page): Zoho's
/// real ones are a few hundred kilobytes; a tree of a hostile 2 MiB stays far inside the
/// instance's memory.
pub const MAX_METADATA_BYTES: usize = 2 << 20;

/// Parses a metadata answer whole, or explains what came instead (an HTML proxy page, a cut-off
/// body, an answer too large to be metadata). Lists of records go through [`list_page`].
pub fn body_json(response: &Response) -> Result<Value> {
    serde_json::from_slice(&metadata_sized(response)?.body).map_err(|e| not_json(response, &e.to_string()))
}

/// A metadata answer within [`MAX_METADATA_BYTES`], or the typed error saying it is larger.
pub fn metadata_sized(response: &Response) -> Result<&Response> {
    if response.body.len() > MAX_METADATA_BYTES {
        return Err(ZohoError::new(
            ErrorKind::Zoho,
            format!("Zoho answered HTTP {} with {} bytes, more than the {MAX_METADATA_BYTES} a metadata answer is read up to", response.status, response.body.len()),
        )
        .with_status(response.status));
    }
    Ok(response)
}

fn not_json(response: &Response, why: &str) -> ZohoError {
    let start = response.body_start();
    ZohoError::new(ErrorKind::Zoho, format!("Zoho answered HTTP {} with a body that is not JSON ({why}): {start:?}", response.status)).with_status(response.status)
}

/// A JSON reading failure as a typed error: the answer was too big, listed too many items,
/// or was not the JSON expected.
pub fn answer_error(response: &Response, error: JsonError) -> ZohoError {
    let status = response.status;
    match error {
        JsonError::TooLarge { bytes, limit } => {
            ZohoError::new(ErrorKind::Zoho, format!("Zoho answered HTTP {status} with a {bytes}-byte document; at most {limit} bytes are read as one document")).with_status(status)
        }
        JsonError::TooMany { limit } => {
            ZohoError::new(ErrorKind::Zoho, format!("Zoho's answer ({} bytes) lists more than {limit} items, more than the request asked for; it was refused unread", response.body.len()))
                .with_status(status)
        }
        JsonError::Invalid(why) => not_json(response, &why),
    }
}

/// A small document (≤ [`json::MAX_TREE_BYTES`]) as a tree; a bigger one is a typed error.
pub fn small_json(response: &Response) -> Result<Value> {
    json::tree(&response.body).map_err(|e| answer_error(response, e))
}

/// A list answer (`{"data":[...],"info":{...}}`) with its records raw, refusing more than
/// `max_items` records (the most the request could get back).
pub fn list_page(response: &Response, max_items: usize) -> Result<Listing<'_>> {
    json::listing(&response.body, max_items).map_err(|e| answer_error(response, e))
}

/// `info` of a list answer as a small object to amend; absent or not an object gives `None`.
pub fn info_object(response: &Response, info: Option<&RawValue>) -> Result<Option<serde_json::Map<String, Value>>> {
    match info {
        None => Ok(None),
        Some(raw) => match json::tree(raw.get().as_bytes()).map_err(|e| answer_error(response, e))? {
            Value::Object(map) => Ok(Some(map)),
            _ => Ok(None),
        },
    }
}

/// `{"data":[...],"info":...}` composed from the records' raw texts: nothing is re-serialized.
pub fn listing_text<'a>(records: impl Iterator<Item = &'a str> + Clone, info: Option<&str>) -> String {
    let size = records.clone().map(|r| r.len() + 1).sum::<usize>() + info.map_or(0, str::len) + 20;
    let mut out = String::with_capacity(size);
    out.push_str("{\"data\":[");
    for (n, record) in records.enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(record);
    }
    out.push(']');
    if let Some(info) = info {
        out.push_str(",\"info\":");
        out.push_str(info);
    }
    out.push('}');
    out
}

/// The kind a Zoho error code or HTTP status stands for.
pub fn kind_of(status: u16, code: Option<&str>) -> ErrorKind {
    match (status, code) {
        (_, Some("INVALID_TOKEN" | "OAUTH_SCOPE_MISMATCH" | "AUTHENTICATION_FAILURE")) => ErrorKind::Unauthorized,
        // AUTHORIZATION_FAILED is a missing privilege, as NO_PERMISSION is: Zoho answers it with
        // 400 and "User does not have sufficient privilege to perform this action" (zoho/crm-oas
        // v8.0 examples: createRecords, updateRecord and deleteRecord `response-400-authorizationfailed`).
        (_, Some("NO_PERMISSION" | "AUTHORIZATION_FAILED")) => ErrorKind::Forbidden,
        (_, Some("DUPLICATE_DATA" | "ALREADY_MODIFIED" | "RECORD_LOCKED")) => ErrorKind::Conflict,
        (_, Some("INVALID_URL_PATTERN")) => ErrorKind::NotFound,
        (429, _) => ErrorKind::RateLimited,
        (401, _) => ErrorKind::Unauthorized,
        (403, _) => ErrorKind::Forbidden,
        (404, _) => ErrorKind::NotFound,
        (409 | 412, _) => ErrorKind::Conflict,
        _ => ErrorKind::Zoho,
    }
}

fn is_error_item(item: &Value) -> bool {
    item.get("status").and_then(Value::as_str) == Some("error")
}

/// The members of a Zoho outcome object (`{"code","details","message","status"}`), read
/// without building the rest: every other member is skipped, the details kept raw.
#[derive(Deserialize, Default)]
struct Outcome<'a> {
    #[serde(borrow, default)]
    status: Option<&'a RawValue>,
    #[serde(borrow, default)]
    code: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    details: Option<&'a RawValue>,
}

impl Outcome<'_> {
    fn read(raw: &str) -> Outcome<'_> {
        serde_json::from_str(raw).unwrap_or_default()
    }

    fn is_error(&self) -> bool {
        self.status.and_then(json::raw_str).as_deref() == Some("error")
    }
}

/// Is a raw record result an error item?
pub fn is_error_raw(item: &RawValue) -> bool {
    Outcome::read(item.get()).is_error()
}

/// One Zoho error object (`{"code","details","message","status":"error"}`) as a typed error.
pub fn error_from_item(status: u16, item: &Value) -> ZohoError {
    let code = item.get("code").and_then(Value::as_str);
    let message = item.get("message").and_then(Value::as_str).unwrap_or("Zoho reported an error without a message");
    let details = item.get("details").filter(|d| !d.is_null());
    let kind = error_text::kind(kind_of(status, code), code, message);
    let mut error = ZohoError::new(kind, error_text::lead(code, message, details)).with_status(status);
    if let Some(code) = code {
        error = error.with_code(code);
    }
    if let Some(details) = details {
        error = error.with_details(details.clone());
    }
    error
}

/// [`error_from_item`] for an item kept raw: its details become a tree only when small.
pub fn error_from_raw(status: u16, item: &RawValue) -> ZohoError {
    error_from_text(status, item.get())
}

fn error_from_text(status: u16, item: &str) -> ZohoError {
    let outcome = Outcome::read(item);
    let code = outcome.code.and_then(json::raw_str);
    let message = outcome.message.and_then(json::raw_str).unwrap_or_else(|| "Zoho reported an error without a message".into());
    let details = match outcome.details.map(|d| json::tree(d.get().as_bytes())) {
        None | Some(Ok(Value::Null)) => None,
        Some(Ok(details)) => Some(details),
        Some(Err(e)) => Some(Value::String(format!("details not shown: {e}"))),
    };
    let kind = error_text::kind(kind_of(status, code.as_deref()), code.as_deref(), &message);
    let mut error = ZohoError::new(kind, error_text::lead(code.as_deref(), &message, details.as_ref())).with_status(status);
    if let Some(code) = code {
        error = error.with_code(code);
    }
    if let Some(details) = details {
        error = error.with_details(details);
    }
    error
}

/// The first error among a list of outcomes (or the first outcome) as a typed error; the
/// message says how many more outcomes there are.
fn error_from_items(status: u16, items: &[Value]) -> ZohoError {
    let first = items.iter().find(|i| is_error_item(i)).or(items.first()).unwrap_or(&Value::Null);
    let mut error = error_from_item(status, first);
    if items.len() > 1 {
        error.message = format!("{} (and {} more record results in details)", error.message, items.len() - 1);
    }
    error
}

/// A top-level list other than `data` holding Zoho error objects, with its name: Zoho answers
/// some 400s per item under the resource's own key, e.g. Add Tags `{"tags":[{"code":
/// "INVALID_DATA",...,"status":"error"}]}` (zoho/crm-oas v8.0 tags_actions postAddTags example
/// `response-400-invaliddataresponse2`) and the watch API `{"watch":[...]}` (notifications.yaml,
/// 400: "the list of error entries returned when a batch operation encounters validation errors").
fn named_error_list(body: &Value) -> Option<(&str, &[Value])> {
    body.as_object()?.iter().find_map(|(name, value)| {
        let items = value.as_array().filter(|items| items.iter().any(is_error_item))?;
        Some((name.as_str(), items.as_slice()))
    })
}

/// A failed answer as a typed error: a top-level error object, a `data[]` of per-record
/// errors (Zoho uses both for 400), or a bare status. A body over [`json::MAX_TREE_BYTES`]
/// gives its size and, when it has them, Zoho's code and message.
pub fn error_from_response(response: &Response) -> ZohoError {
    let status = response.status;
    let mut error = match json::tree(&response.body) {
        Ok(body) => match body.get("data").and_then(Value::as_array) {
            // Every record's outcome stays available to the caller.
            Some(items) if !items.is_empty() => error_from_items(status, items).with_details(json!({ "data": items })),
            _ if body.get("code").is_some() => error_from_item(status, &body),
            _ => match named_error_list(&body) {
                Some((name, items)) => error_from_items(status, items).with_details(json!({ name: items })),
                None => ZohoError::new(kind_of(status, None), format!("Zoho answered HTTP {status}: {}", body)).with_status(status),
            },
        },
        Err(JsonError::TooLarge { bytes, limit }) => {
            let outline = std::str::from_utf8(&response.body).map(Outcome::read).unwrap_or_default();
            let code = outline.code.and_then(json::raw_str);
            let said = outline.message.and_then(json::raw_str).map(|m| format!(": {m}")).unwrap_or_default();
            let mut error = ZohoError::new(kind_of(status, code.as_deref()), format!("Zoho answered HTTP {status} with a {bytes}-byte error body (more than the {limit} bytes read whole){said}"))
                .with_status(status);
            if let Some(code) = code {
                error = error.with_code(code);
            }
            error
        }
        Err(_) if response.body.is_empty() => ZohoError::new(kind_of(status, None), format!("Zoho answered HTTP {status} with an empty body")).with_status(status),
        Err(_) => {
            let start = response.body_start();
            ZohoError::new(kind_of(status, None), format!("Zoho answered HTTP {status} with a non-JSON body: {start:?}")).with_status(status)
        }
    };
    if status == 429 {
        error.kind = ErrorKind::RateLimited;
        error.retry_after_ms = retry_after_ms(response);
    }
    error
}

/// The one reading of a CRM answer's status: 200 has content, 204 is "nothing" (an empty
/// list, no such record), anything else is Zoho's error, typed.
pub fn content(response: &Response) -> Result<Option<&Response>> {
    match response.status {
        200 => Ok(Some(response)),
        204 => Ok(None),
        _ => Err(error_from_response(response)),
    }
}

/// [`content`] where only a 200 will do: a 204 is an error too.
pub fn content_required(response: &Response) -> Result<&Response> {
    match response.status {
        200 => Ok(response),
        _ => Err(error_from_response(response)),
    }
}

/// The `data[]` items of a write (create, update, delete) answer, raw; an error when the
/// request failed.
pub fn write_items(response: &Response) -> Result<Vec<&RawValue>> {
    write_items_within(response, MAX_WRITE_ITEMS)
}

/// [`write_items`] for a write that can answer for at most `max_items` records (the records
/// or ids sent): a longer `data` is refused unread.
pub fn write_items_within(response: &Response, max_items: usize) -> Result<Vec<&RawValue>> {
    if !(200..300).contains(&response.status) {
        return Err(error_from_response(response));
    }
    let listing = list_page(response, max_items)?;
    if !listing.data.is_empty() {
        return Ok(listing.data);
    }
    let text = std::str::from_utf8(&response.body).unwrap_or("");
    let outline = Outcome::read(text);
    if outline.code.is_some() && outline.is_error() {
        return Err(error_from_text(response.status, text));
    }
    Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho answered HTTP {} without a data array: {:?}", response.status, response.body_start())).with_status(response.status))
}

/// Every record's outcome of a write of `sent` records (or ids): exactly one each, since fewer
/// would hide a record's fate and more is not Zoho; and an error when every one failed (a 2xx
/// carrying only failures is Zoho refusing the data, as its 400 does), with every outcome in
/// its details.
pub fn write_outcomes(response: &Response, sent: usize) -> Result<Vec<&RawValue>> {
    let items = write_items_within(response, sent)?;
    if items.len() != sent {
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho answered {} outcomes for the {sent} records sent; every record's outcome is needed, so the answer is not trusted", items.len()))
            .with_status(response.status));
    }
    if items.iter().all(|item| is_error_raw(item)) {
        let mut error = error_from_response(response);
        if error.kind == ErrorKind::Zoho || error.kind == ErrorKind::Internal {
            error.kind = kind_of(400, error.code.as_deref());
        }
        return Err(error);
    }
    Ok(items)
}

/// The single item of a one-record write, as its JSON text: Ok when it succeeded, its error
/// otherwise (older API versions answer 200/201 with an error item). An answer with more than
/// one outcome for the one record is refused unread, never half reported.
pub fn single_outcome(response: &Response) -> Result<String> {
    let items = write_items_within(response, 1)?;
    single_outcome_of(response, &items)
}

/// [`single_outcome`] from items already read off `response`.
pub fn single_outcome_of(response: &Response, items: &[&RawValue]) -> Result<String> {
    let Some(item) = items.first() else {
        return Err(ZohoError::new(ErrorKind::Zoho, "Zoho answered without a record result").with_status(response.status));
    };
    if is_error_raw(item) {
        // A per-record failure inside a 2xx is Zoho refusing the data: report it as a 400 would.
        let status = if (200..300).contains(&response.status) { 400 } else { response.status };
        let mut error = error_from_raw(status, item);
        error.status = Some(response.status);
        return Err(error);
    }
    Ok(item.get().to_string())
}

/// A list answer passed on as Zoho's text (records and `info` raw): 204 ("nothing") is an empty
/// page saying so in `info`; more records than `per_page` are refused unread; any other status
/// is Zoho's error. For lists read page by page as asked (search, related, deleted, attachments).
pub fn list_answer(response: &Response, page: Option<u32>, per_page: u32) -> Result<String> {
    match content(response)? {
        None => Ok(json!({ "data": [], "info": { "count": 0, "more_records": false, "page": page.unwrap_or(1), "per_page": per_page } }).to_string()),
        Some(response) => {
            let listing = list_page(response, per_page as usize)?;
            Ok(listing_text(listing.data.iter().map(|r| r.get()), listing.info.map(|i| i.get())))
        }
    }
}

/// Most top-level members a metadata listing is read with (`users`/`tags`/... and `info`, a few more).
const MAX_LISTING_MEMBERS: usize = 64;

/// A metadata listing that Zoho keys by its resource (`{"users":[...],"info":{...}}`,
/// `related_lists`, `custom_views`, `tags`), read within [`MAX_METADATA_BYTES`]: each item raw
/// and an object, at most `max_items` (more than the request could get back is refused unread),
/// and `info` raw when it is an object. 204 ("nothing") is an empty list. An answer without the
/// list is not Zoho's, and says so.
pub fn keyed_listing<'a>(response: &'a Response, key: &str, max_items: usize) -> Result<Option<(Vec<&'a RawValue>, Option<&'a RawValue>)>> {
    let Some(response) = content(response)? else { return Ok(None) };
    let text = std::str::from_utf8(&metadata_sized(response)?.body).map_err(|e| not_json(response, &e.to_string()))?;
    let members = json::members(text, MAX_LISTING_MEMBERS).map_err(|e| answer_error(response, e))?;
    let find = |name: &str| members.iter().rev().find(|(k, _)| k == name).map(|(_, v)| *v);
    let list = find(key)
        .filter(|l| l.get().starts_with('['))
        .ok_or_else(|| ZohoError::new(ErrorKind::Zoho, format!("Zoho answered HTTP {} without a {key} list: {:?}", response.status, response.body_start())).with_status(response.status))?;
    let items = json::items(list.get().as_bytes(), max_items).map_err(|e| answer_error(response, e))?;
    if let Some(odd) = items.iter().find(|i| !json::is_object(i)) {
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho listed a {key} item that is {}, not an object", json::kind_of(odd.get()))).with_status(response.status));
    }
    Ok(Some((items, find("info").filter(|i| json::is_object(i)))))
}

/// `{"<key>":[...],"info":...}` from raw items and `info`, nothing re-serialized.
pub fn keyed_listing_text(key: &str, items: &[&RawValue], info: Option<&str>) -> String {
    let mut out = String::from("{");
    json::push_string(&mut out, key);
    out.push(':');
    out.push_str(&json::array_text(items));
    if let Some(info) = info {
        out.push_str(",\"info\":");
        out.push_str(info);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: vec![], body: body.as_bytes().to_vec() }
    }

    #[test]
    fn both_400_shapes_keep_zohos_code() {
        let top = error_from_response(&response(400, r#"{"code":"INVALID_MODULE","details":{},"message":"the module name given seems to be invalid","status":"error"}"#));
        assert_eq!(top.code.as_deref(), Some("INVALID_MODULE"));
        assert_eq!(top.kind, ErrorKind::Zoho);
        let items = error_from_response(&response(400, r#"{"data":[{"code":"DUPLICATE_DATA","details":{"api_name":"Email"},"message":"duplicate data","status":"error"}]}"#));
        assert_eq!(items.kind, ErrorKind::Conflict);
        assert_eq!(items.details.unwrap()["data"][0]["details"]["api_name"], "Email");
    }

    /// Zoho's own examples (zoho/crm-oas v8.0): Add Tags answers a 400 as `{"tags":[error]}`,
    /// and AUTHORIZATION_FAILED is a missing privilege.
    #[test]
    fn errors_listed_under_the_resources_own_key_keep_zohos_code() {
        let tags = error_from_response(&response(400, r#"{"tags":[{"code":"INVALID_DATA","message":"Invalid data type","details":{"api_name":"name"},"status":"error"}]}"#));
        assert_eq!((tags.kind, tags.code.as_deref(), tags.message.as_str()), (ErrorKind::Zoho, Some("INVALID_DATA"), "Invalid data type"));
        assert_eq!(tags.details.unwrap()["tags"][0]["details"]["api_name"], "name");
        let watch = error_from_response(&response(400, r#"{"watch":[{"code":"SUCCESS","status":"success"},{"code":"MANDATORY_NOT_FOUND","message":"required field not found","status":"error"}]}"#));
        assert_eq!((watch.code.as_deref(), watch.message.as_str()), (Some("MANDATORY_NOT_FOUND"), "required field not found (and 1 more record results in details)"));
        // A list without an error object is no error list: the answer is shown as it came.
        let odd = error_from_response(&response(400, r#"{"tags":[{"name":"x"}]}"#));
        assert_eq!(odd.code, None);
        let privilege = error_from_response(&response(
            400,
            r#"{"data":[{"code":"AUTHORIZATION_FAILED","details":{"resource_path_index":0},"message":"User does not have sufficient privilege to perform this action","status":"error"}]}"#,
        ));
        assert_eq!((privilege.kind, privilege.code.as_deref()), (ErrorKind::Forbidden, Some("AUTHORIZATION_FAILED")));
    }

    #[test]
    fn html_and_429_are_typed() {
        let html = error_from_response(&response(502, "<html>Bad gateway</html>"));
        assert_eq!(html.kind, ErrorKind::Zoho);
        assert!(html.message.contains("non-JSON"));
        let mut limited = response(429, r#"{"code":"TOO_MANY_REQUESTS","message":"slow down","status":"error"}"#);
        limited.headers.push(("retry-after".into(), "7".into()));
        let e = error_from_response(&limited);
        assert_eq!((e.kind, e.retry_after_ms), (ErrorKind::RateLimited, Some(7000)));
    }

    #[test]
    fn error_item_inside_200_is_an_error() {
        let e = single_outcome(&response(200, r#"{"data":[{"code":"MANDATORY_NOT_FOUND","details":{"api_name":"Last_Name"},"message":"required field not found","status":"error"}]}"#)).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("MANDATORY_NOT_FOUND"));
        assert_eq!(e.status, Some(200));
    }

    #[test]
    fn write_answers_are_read_raw_within_their_limit() {
        let ok = single_outcome(&response(201, r#"{"data":[{"code":"SUCCESS","details":{"id":"1"},"message":"record added","status":"success"}]}"#)).unwrap();
        assert_eq!(ok, r#"{"code":"SUCCESS","details":{"id":"1"},"message":"record added","status":"success"}"#);
        let many = format!("{{\"data\":[{}]}}", vec![r#"{"status":"success"}"#; 101].join(","));
        let e = write_items(&response(200, &many)).unwrap_err();
        assert!(e.message.contains("more than 100 items"), "{}", e.message);
        let top = write_items(&response(200, r#"{"code":"INVALID_DATA","message":"no","status":"error","details":{"x":1}}"#)).unwrap_err();
        assert_eq!((top.code.as_deref(), top.details), (Some("INVALID_DATA"), Some(json!({"x":1}))));
        // A hostile 10 MB list in a write answer is refused at the 101st item, never a tree.
        let hostile = format!("{{\"data\":[{}0]}}", "0,".repeat(5_000_000));
        assert!(write_items(&response(200, &hostile)).is_err());
    }

    #[test]
    fn error_bodies_over_the_tree_limit_give_size_code_and_message() {
        let pad = "p".repeat(json::MAX_TREE_BYTES);
        let e = error_from_response(&response(400, &format!(r#"{{"code":"INVALID_DATA","message":"bad","details":{{"pad":"{pad}"}}}}"#)));
        assert_eq!((e.kind, e.code.as_deref(), e.details), (ErrorKind::Zoho, Some("INVALID_DATA"), None));
        assert!(e.message.starts_with("Zoho answered HTTP 400 with a 1048") && e.message.ends_with(": bad"), "{}", e.message);
        let e = error_from_response(&response(500, &format!("[{}0]", "0,".repeat(1_000_000))));
        assert_eq!((e.kind, e.code), (ErrorKind::Zoho, None));
    }

    #[test]
    fn a_huge_retry_after_saturates() {
        let mut limited = response(429, "{}");
        limited.headers.push(("retry-after".into(), "18446744073709552".into()));
        assert_eq!(error_from_response(&limited).retry_after_ms, Some(u64::MAX));
        limited.headers[0].1 = "18446744073709551615".into();
        assert_eq!(error_from_response(&limited).retry_after_ms, Some(u64::MAX));
    }

    #[test]
    fn listing_text_composes_without_reparsing() {
        let r = response(200, r#"{"data":[{"a":1} , {"b":"\u00e9"}],"info":{"count":2}}"#);
        let page = list_page(&r, 2).unwrap();
        assert_eq!(listing_text(page.data.iter().map(|r| r.get()), page.info.map(|i| i.get())), r#"{"data":[{"a":1},{"b":"\u00e9"}],"info":{"count":2}}"#);
        assert!(list_page(&r, 1).is_err());
    }

    /// Attack: a 10 MB `[0,0,...]` answer to a metadata call (/org, /settings/modules, /users)
    /// was parsed whole; past the metadata budget it is a typed error, unread.
    #[test]
    fn a_metadata_answer_past_its_budget_is_refused_unread() {
        let mut body = String::from("{\"modules\":[");
        body.push_str(&"0,".repeat(5_000_000));
        body.push_str("0]}");
        let e = body_json(&response(200, &body)).unwrap_err();
        assert_eq!((e.kind, e.status), (ErrorKind::Zoho, Some(200)));
        assert!(e.message.contains("metadata"), "{}", e.message);
        assert!(body_json(&response(200, r#"{"modules":[]}"#)).is_ok());
    }
}
