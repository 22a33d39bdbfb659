//! A module's fields from `/settings/fields`, cached in the connection's storage, so "all
//! fields" (get-records) and a module's description (describe-module) cost one metadata call an
//! hour rather than one per step. One fetch fills both caches: the field names under
//! `crm/fields/<module>` and the fields' descriptions under `crm/field-metadata/<module>`.

use crate::client::{ApiCall, Client};
use crate::crm::response::{answer_error, content};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Response};
use crate::json;
use crate::storage::{get_fresh, put_fresh};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::time::Duration;

/// Fields one module's metadata may list: far more than any Zoho module has, few enough that
/// a hostile answer's list stays small.
pub const MAX_MODULE_FIELDS: usize = 5_000;
/// Picklist values one field may list: above Zoho's own limit for a picklist; a field listing
/// more is a hostile answer, refused rather than cut (a cut list would make a valid value invalid).
pub const MAX_PICKLIST_VALUES: usize = 5_000;
/// Longest label kept (Zoho's field labels are at most a few dozen characters).
pub const MAX_LABEL_BYTES: usize = 255;
/// Longest data type name kept (Zoho's longest is `multiselectpicklist`).
const MAX_DATA_TYPE_BYTES: usize = 64;

/// The metadata answer, only `fields` kept (raw); every other member is skipped unread.
#[derive(Deserialize)]
struct FieldsAnswer<'a> {
    #[serde(borrow, default)]
    fields: Option<&'a RawValue>,
}

/// One field's metadata: the members a description needs, raw so an odd type is skipped, not fatal.
#[derive(Deserialize, Default)]
struct FieldMeta<'a> {
    #[serde(borrow, default)]
    api_name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data_type: Option<&'a RawValue>,
    #[serde(borrow, default)]
    field_label: Option<&'a RawValue>,
    #[serde(borrow, default)]
    display_label: Option<&'a RawValue>,
    #[serde(borrow, default)]
    system_mandatory: Option<&'a RawValue>,
    #[serde(borrow, default)]
    read_only: Option<&'a RawValue>,
    #[serde(borrow, default)]
    field_read_only: Option<&'a RawValue>,
    #[serde(borrow, default)]
    length: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pick_list_values: Option<&'a RawValue>,
    #[serde(borrow, default)]
    lookup: Option<&'a RawValue>,
    #[serde(borrow, default)]
    unique: Option<&'a RawValue>,
}

/// `pick_list_values[]` item, `lookup` and `lookup.module`: the one member read of each.
#[derive(Deserialize, Default)]
struct ActualValue<'a> {
    #[serde(borrow, default)]
    actual_value: Option<&'a RawValue>,
}
#[derive(Deserialize, Default)]
struct Lookup<'a> {
    #[serde(borrow, default)]
    module: Option<&'a RawValue>,
}
#[derive(Deserialize, Default)]
struct ApiName<'a> {
    #[serde(borrow, default)]
    api_name: Option<&'a RawValue>,
}

/// One field as describe-module shows it and the JSON Schema is made from (also the cached form).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct FieldDescription {
    pub api_name: String,
    pub label: String,
    pub data_type: String,
    /// Zoho's `system_mandatory`.
    pub required: bool,
    /// `read_only` or `field_read_only`, and always for autonumber and formula fields.
    pub read_only: bool,
    /// The `actual_value`s of a picklist or multiselectpicklist; null for other types.
    pub picklist: Option<Vec<String>>,
    /// Zoho's `length`, for the text types only (text, textarea, email, phone, website).
    pub max_length: Option<u32>,
    /// `lookup.module.api_name` of a lookup field.
    pub lookup_module: Option<String>,
    /// A user-defined unique field ("Do not allow duplicate values"): Zoho's `unique` is an
    /// object naming its `casesensitive` setting (fields.json); shown only when true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
}

fn is_false(flag: &bool) -> bool {
    !flag
}

#[derive(Deserialize, Default)]
struct Unique<'a> {
    #[serde(borrow, default)]
    casesensitive: Option<&'a RawValue>,
}

const CACHE_TTL: Duration = Duration::from_secs(60 * 60);

/// Data types the records list cannot return through `fields` (their data lives elsewhere).
const NOT_LISTABLE: [&str; 2] = ["subform", "multiselectlookup"];
/// Data types whose `length` is a text's maximum length.
pub const TEXT_TYPES: [&str; 5] = ["text", "textarea", "email", "phone", "website"];
/// Data types Zoho computes: never written.
pub const COMPUTED_TYPES: [&str; 2] = ["autonumber", "formula"];

pub use crate::storage::keys::{field_metadata as metadata_cache_key, fields as cache_key};

/// The API names `get-records` asks for when the caller names none.
pub fn module_fields(client: &Client, module: &str) -> Result<Vec<String>> {
    let key = cache_key(module);
    if let Some(Value::Array(cached)) = get_fresh(client.storage, &key, CACHE_TTL)? {
        let fields: Vec<String> = cached.iter().filter_map(|f| f.as_str().map(str::to_string)).collect();
        if !fields.is_empty() {
            return Ok(fields);
        }
    }
    let described = fetch(client, module)?;
    let fields = listable(&described);
    if fields.is_empty() {
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho's field list for {module} names no fields")).with_status(200));
    }
    Ok(fields)
}

/// Every field of `module`, described, from the cache when an hour old at most.
pub fn module_field_descriptions(client: &Client, module: &str) -> Result<Vec<FieldDescription>> {
    if let Some(cached) = get_fresh(client.storage, &metadata_cache_key(module), CACHE_TTL)? {
        if let Ok(fields) = serde_json::from_value::<Vec<FieldDescription>>(cached) {
            if !fields.is_empty() {
                return Ok(fields);
            }
        }
    }
    let described = fetch(client, module)?;
    if described.is_empty() {
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho's field list for {module} names no fields")).with_status(200));
    }
    Ok(described)
}

/// The module's field metadata, or none when the token may not read it (a scope the connection
/// lacks, `ZohoCRM.settings.fields.READ`): checking named fields and choosing what COUNT counts
/// are refinements, so their absence leaves the check to Zoho rather than failing the sweep.
/// A refusal is remembered for the hour the metadata would be cached (a marker in the metadata's
/// own key), so later steps pay no refused call.
pub fn described_if_allowed(client: &Client, module: &str) -> Result<Option<Vec<FieldDescription>>> {
    let key = metadata_cache_key(module);
    if get_fresh(client.storage, &key, CACHE_TTL)?.is_some_and(|cached| cached == *DENIED) {
        return Ok(None);
    }
    match module_field_descriptions(client, module) {
        Ok(described) => Ok(Some(described)),
        Err(e) if e.kind == ErrorKind::Forbidden || e.code.as_deref() == Some("OAUTH_SCOPE_MISMATCH") => {
            put_fresh(client.storage, &key, &DENIED)?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The marker of a token that may not read the module's field metadata.
static DENIED: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| serde_json::json!({ "denied": true }));

fn listable(described: &[FieldDescription]) -> Vec<String> {
    described.iter().filter(|f| !NOT_LISTABLE.contains(&f.data_type.as_str())).map(|f| f.api_name.clone()).collect()
}

/// One `/settings/fields` call; both caches are filled from it.
fn fetch(client: &Client, module: &str) -> Result<Vec<FieldDescription>> {
    let response = client.send(ApiCall::new(Method::Get, "/crm/v8/settings/fields").query("module", module))?;
    if content(&response)?.is_none() {
        return Err(ZohoError::new(ErrorKind::NotFound, format!("Zoho lists no fields for module {module}")).with_status(204));
    }
    let described = describe_answer(&response)?;
    if described.is_empty() {
        return Ok(described);
    }
    let names = listable(&described);
    if !names.is_empty() {
        put_fresh(client.storage, &cache_key(module), &Value::from(names))?;
    }
    let value = serde_json::to_value(&described).map_err(|e| ZohoError::new(ErrorKind::Internal, format!("cannot encode field metadata: {e}")))?;
    put_fresh(client.storage, &metadata_cache_key(module), &value)?;
    Ok(described)
}

/// The fields of a `/settings/fields` answer, described; fields without an API name are skipped.
pub fn describe_answer(response: &Response) -> Result<Vec<FieldDescription>> {
    let answer: FieldsAnswer = serde_json::from_slice(&response.body).map_err(|e| answer_error(response, json::JsonError::Invalid(e.to_string())))?;
    let listed = match answer.fields {
        Some(list) if list.get().starts_with('[') => json::items(list.get().as_bytes(), MAX_MODULE_FIELDS).map_err(|e| answer_error(response, e))?,
        _ => Vec::new(),
    };
    let mut described = Vec::with_capacity(listed.len());
    for field in listed {
        if let Some(field) = describe_field(field.get()).map_err(|e| e.with_status(response.status))? {
            described.push(field);
        }
    }
    Ok(described)
}

fn flag(raw: Option<&RawValue>) -> bool {
    raw.is_some_and(|r| r.get().trim() == "true")
}

/// `text` cut to `limit` bytes on a character boundary ([`crate::redact::cut`], owned).
pub(crate) fn cut(text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    crate::redact::cut(&text, limit).to_string()
}

/// One field's metadata text described; `None` when it names no API name.
fn describe_field(text: &str) -> Result<Option<FieldDescription>> {
    let meta: FieldMeta = serde_json::from_str(text).unwrap_or_default();
    let Some(api_name) = meta.api_name.and_then(json::raw_str).filter(|n| !n.is_empty()) else { return Ok(None) };
    let data_type = cut(meta.data_type.and_then(json::raw_str).unwrap_or_default(), MAX_DATA_TYPE_BYTES);
    let label = meta.field_label.or(meta.display_label).and_then(json::raw_str).unwrap_or_else(|| api_name.clone());
    let picklist = match data_type.as_str() {
        "picklist" | "multiselectpicklist" => Some(picklist_values(&api_name, meta.pick_list_values)?),
        _ => None,
    };
    let max_length = meta.length.filter(|_| TEXT_TYPES.contains(&data_type.as_str())).and_then(|l| l.get().trim().parse::<u32>().ok()).filter(|l| *l > 0);
    let lookup_module = meta
        .lookup
        .and_then(|l| serde_json::from_str::<Lookup>(l.get()).ok())
        .and_then(|l| l.module)
        .and_then(|m| serde_json::from_str::<ApiName>(m.get()).ok())
        .and_then(|m| m.api_name)
        .and_then(json::raw_str)
        .filter(|m| crate::validate::module_name(m).is_ok());
    Ok(Some(FieldDescription {
        required: flag(meta.system_mandatory),
        read_only: flag(meta.read_only) || flag(meta.field_read_only) || COMPUTED_TYPES.contains(&data_type.as_str()),
        api_name,
        label: cut(label, MAX_LABEL_BYTES),
        data_type,
        picklist,
        max_length,
        lookup_module,
        // An empty object or null is "not unique" under every reading of fields.json.
        unique: meta.unique.and_then(|u| serde_json::from_str::<Unique>(u.get()).ok()).and_then(|u| u.casesensitive).is_some_and(|c| c.get() != "null"),
    }))
}

/// A picklist's `actual_value`s in Zoho's order, duplicates dropped.
fn picklist_values(field: &str, raw: Option<&RawValue>) -> Result<Vec<String>> {
    let Some(list) = raw.filter(|r| r.get().starts_with('[')) else { return Ok(Vec::new()) };
    let items = json::items(list.get().as_bytes(), MAX_PICKLIST_VALUES).map_err(|e| match e {
        json::JsonError::TooMany { limit } => {
            ZohoError::new(ErrorKind::Zoho, format!("Zoho's metadata lists more than {limit} picklist values for the field {field}; refused as no real picklist has that many"))
        }
        other => ZohoError::new(ErrorKind::Zoho, format!("Zoho's picklist values of the field {field} are not a JSON list ({other})")),
    })?;
    let mut values: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let value = serde_json::from_str::<ActualValue>(item.get()).ok().and_then(|v| v.actual_value).and_then(json::raw_str);
        if let Some(value) = value.filter(|v| !values.contains(v)) {
            values.push(value);
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &str) -> Response {
        Response { status: 200, headers: vec![], body: body.as_bytes().to_vec() }
    }

    #[test]
    fn fields_are_described_from_zohos_members() {
        let body = r#"{"fields":[
            {"api_name":"Last_Name","data_type":"text","field_label":"Last Name","system_mandatory":true,"read_only":false,"length":80},
            {"api_name":"Stage","data_type":"picklist","display_label":"Stage","pick_list_values":[{"actual_value":"Open"},{"actual_value":"Won"},{"actual_value":"Open"},{"x":1}],"length":120},
            {"api_name":"Account_Name","data_type":"lookup","lookup":{"module":{"api_name":"Accounts","id":"1"}}},
            {"api_name":"Evil","data_type":"lookup","lookup":{"module":{"api_name":"../x"}}},
            {"api_name":"Auto","data_type":"autonumber"},
            {"data_type":"text"},
            {"api_name":"","data_type":"text"},
            {"api_name":42},
            "not an object",
            {"api_name":"Odd","data_type":7,"system_mandatory":"true","length":-3,"read_only":null}
        ]}"#;
        let described = describe_answer(&response(body)).unwrap();
        let names: Vec<&str> = described.iter().map(|f| f.api_name.as_str()).collect();
        assert_eq!(names, ["Last_Name", "Stage", "Account_Name", "Evil", "Auto", "Odd"]);
        assert_eq!(described[0], FieldDescription { api_name: "Last_Name".into(), label: "Last Name".into(), data_type: "text".into(), required: true, max_length: Some(80), ..Default::default() });
        assert_eq!((described[1].picklist.clone(), described[1].max_length), (Some(vec!["Open".to_string(), "Won".to_string()]), None));
        assert_eq!(described[2].lookup_module.as_deref(), Some("Accounts"));
        assert_eq!(described[3].lookup_module, None);
        assert!(described[4].read_only);
        assert_eq!(described[5], FieldDescription { api_name: "Odd".into(), label: "Odd".into(), ..Default::default() });
    }

    #[test]
    fn hostile_metadata_is_bounded() {
        let values = |n: usize| (0..n).map(|i| format!("{{\"actual_value\":\"v{i}\"}}")).collect::<Vec<_>>().join(",");
        let at_limit = format!("{{\"fields\":[{{\"api_name\":\"P\",\"data_type\":\"picklist\",\"pick_list_values\":[{}]}}]}}", values(MAX_PICKLIST_VALUES));
        assert_eq!(describe_answer(&response(&at_limit)).unwrap()[0].picklist.as_ref().map(Vec::len), Some(MAX_PICKLIST_VALUES));
        let past = format!("{{\"fields\":[{{\"api_name\":\"P\",\"data_type\":\"picklist\",\"pick_list_values\":[{}]}}]}}", values(10_000));
        let e = describe_answer(&response(&past)).unwrap_err();
        assert_eq!((e.kind, e.status), (ErrorKind::Zoho, Some(200)));
        assert!(e.message.contains("more than 5000 picklist values for the field P"), "{}", e.message);
        let label = "é".repeat(500_000);
        let big = format!("{{\"fields\":[{{\"api_name\":\"Ünïcode_名\",\"data_type\":\"text\",\"field_label\":\"{label}\"}}]}}");
        let described = describe_answer(&response(&big)).unwrap();
        assert!(described[0].label.len() <= MAX_LABEL_BYTES && described[0].label.chars().all(|c| c == 'é'));
        assert_eq!(described[0].api_name, "Ünïcode_名");
        let many = format!("{{\"fields\":[{}]}}", vec!["{}"; MAX_MODULE_FIELDS + 1].join(","));
        assert_eq!(describe_answer(&response(&many)).unwrap_err().kind, ErrorKind::Zoho);
        for odd in [r#"{"fields":null}"#, r#"{"fields":{}}"#, r#"{}"#] {
            assert!(describe_answer(&response(odd)).unwrap().is_empty(), "{odd}");
        }
        assert!(describe_answer(&response("<html>")).is_err());
    }
}
