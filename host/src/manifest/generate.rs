//! actions.json made from its two sources: `wit/world.wit` (the functions, their input records,
//! field types, optionality and doc comments) and `wit/annotations.json` (what WIT cannot say:
//! labels, defaults, patterns, choices, bounds, input kinds such as json or password, and each
//! action's output text). Each action's OAuth scopes come from the component's own table
//! (`zoho_connector::scopes`, which also names them when Zoho refuses a token's scope), and each
//! default scope set under `connection.default-scopes` gets the scopes its actions need beyond
//! it (`missing`), computed here. `zoho-host manifest --write` regenerates the file; a test
//! fails when the committed file differs.

use anyhow::{anyhow, bail, Context as _, Result};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;
use wit_parser::{Docs, Resolve, Type, TypeDefKind, TypeId, WorldItem};

use super::annotations::{Annotations, ChoiceOption, ChoicesFrom, InputNote, SchemaFrom, TriggerNote};

/// One form input, in the order a platform reads it.
#[derive(Debug, Serialize)]
struct Input {
    key: String,
    label: String,
    #[serde(rename = "type")]
    kind: String,
    required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<Value>,
    help: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<String>,
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    choices: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum: Option<Value>,
    #[serde(rename = "maxLength", skip_serializing_if = "Option::is_none")]
    max_length: Option<u64>,
    #[serde(rename = "choices-from", skip_serializing_if = "Option::is_none")]
    choices_from: Option<ChoicesFrom>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Vec<ChoiceOption>>,
    #[serde(rename = "options-open", skip_serializing_if = "Option::is_none")]
    options_open: Option<bool>,
    #[serde(rename = "schema-from", skip_serializing_if = "Option::is_none")]
    schema_from: Option<SchemaFrom>,
}

#[derive(Debug, Serialize)]
struct Section {
    label: String,
    description: String,
    #[serde(flatten)]
    extra: Map<String, Value>,
    inputs: Vec<Input>,
    #[serde(rename = "input-schema")]
    input_schema: Value,
}

#[derive(Debug, Serialize)]
struct Action {
    key: String,
    label: String,
    description: String,
    wit: Value,
    /// The OAuth scopes the action's requests need (all of them).
    scopes: Vec<String>,
    /// Scopes the action uses when granted and does without otherwise.
    #[serde(rename = "optional-scopes", skip_serializing_if = "Vec::is_empty")]
    optional_scopes: Vec<String>,
    inputs: Vec<Input>,
    output: String,
    #[serde(rename = "output-schema", skip_serializing_if = "Option::is_none")]
    output_schema: Option<Value>,
    #[serde(rename = "output-sample", skip_serializing_if = "Option::is_none")]
    output_sample: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger: Option<TriggerNote>,
    /// Run by a platform to test a connection when a user connects.
    #[serde(rename = "connection-test", skip_serializing_if = "std::ops::Not::not")]
    connection_test: bool,
    #[serde(rename = "input-schema")]
    input_schema: Value,
}

/// A doc comment as one paragraph of help text.
fn text(docs: &Docs) -> String {
    docs.contents.as_deref().unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ")
}

fn title_case(key: &str) -> String {
    key.split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect::<Vec<_>>().join(" ")
}

/// The manifest kind a WIT type stands for (options unwrapped by the caller).
fn kind_of(resolve: &Resolve, ty: &Type) -> Result<&'static str> {
    Ok(match ty {
        Type::String => "string",
        Type::Bool => "boolean",
        Type::U8 | Type::U16 | Type::U32 | Type::U64 | Type::S8 | Type::S16 | Type::S32 | Type::S64 => "integer",
        Type::F32 | Type::F64 => "number",
        Type::Id(id) => match &resolve.types[*id].kind {
            TypeDefKind::List(Type::String) => "string-list",
            TypeDefKind::Variant(v) if v.cases.iter().any(|c| c.name == "text") && v.cases.iter().any(|c| c.name == "bytes") => "file",
            TypeDefKind::Type(inner) => kind_of(resolve, inner)?,
            other => bail!("no manifest kind for WIT type {other:?}"),
        },
        other => bail!("no manifest kind for WIT type {other:?}"),
    })
}

/// The record behind a parameter type (`record`, or `option<record>`).
fn record_of(resolve: &Resolve, ty: &Type) -> Result<TypeId> {
    let Type::Id(id) = ty else { bail!("a parameter is not a record") };
    match &resolve.types[*id].kind {
        TypeDefKind::Record(_) => Ok(*id),
        TypeDefKind::Option(inner) | TypeDefKind::Type(inner) => record_of(resolve, inner),
        other => bail!("a parameter is {other:?}, not a record"),
    }
}

fn inputs_of(resolve: &Resolve, record: TypeId, notes: &BTreeMap<String, InputNote>, place: &str) -> Result<Vec<Input>> {
    let TypeDefKind::Record(fields) = &resolve.types[record].kind else { bail!("{place}: not a record") };
    if let Some(unknown) = notes.keys().find(|k| !fields.fields.iter().any(|f| &f.name == *k)) {
        bail!("{place}: annotations name input {unknown}, which the WIT record lacks");
    }
    let mut inputs = Vec::new();
    for field in &fields.fields {
        let (ty, required) = match &field.ty {
            Type::Id(id) => match &resolve.types[*id].kind {
                TypeDefKind::Option(inner) => (*inner, false),
                _ => (field.ty, true),
            },
            other => (*other, true),
        };
        let note = notes.get(&field.name);
        let none = InputNote::default();
        let note = note.unwrap_or(&none);
        let help = note.help.clone().unwrap_or_else(|| text(&field.docs));
        if help.is_empty() {
            bail!("{place}.{}: no doc comment in the WIT and no help in the annotations", field.name);
        }
        inputs.push(Input {
            key: field.name.clone(),
            label: note.label.clone().unwrap_or_else(|| title_case(&field.name)),
            kind: note.kind.clone().unwrap_or_default(),
            required,
            default: note.default.clone(),
            help,
            pattern: note.pattern.clone(),
            choices: note.choices.clone(),
            minimum: note.minimum.clone(),
            maximum: note.maximum.clone(),
            max_length: note.max_length,
            choices_from: note.choices_from.clone(),
            options: note.options.clone(),
            options_open: note.options_open,
            schema_from: note.schema_from.clone(),
        });
        let derived = kind_of(resolve, &ty).with_context(|| format!("{place}.{}", field.name))?;
        let input = inputs.last_mut().ok_or_else(|| anyhow!("just pushed"))?;
        if input.kind.is_empty() {
            input.kind = derived.to_string();
        } else if !matches!((derived, input.kind.as_str()), ("string", "json" | "password" | "text")) {
            bail!("{place}.{}: annotation type {} cannot describe WIT {derived}", field.name, input.kind);
        }
    }
    Ok(inputs)
}

/// The connection's OAuth servers per data center, from the component's own table (so the
/// manifest cannot disagree with the hosts a connection reaches), and a check that the region's
/// options are exactly those data centers.
fn connection_extras(extra: &mut Map<String, Value>, inputs: &[Input]) -> Result<()> {
    let centers = &zoho_connector::connection::DATA_CENTERS;
    let mut by_code = Map::new();
    for dc in centers {
        by_code.insert(
            dc.code.to_string(),
            json!({
                "authorize": format!("{}/oauth/v2/auth", dc.accounts),
                "token": format!("{}/oauth/v2/token", dc.accounts),
                "revoke": format!("{}/oauth/v2/token/revoke", dc.accounts),
                "api-domain": dc.api,
            }),
        );
    }
    let oauth = extra.entry("oauth").or_insert_with(|| json!({})).as_object_mut().ok_or_else(|| anyhow!("connection.oauth must be an object"))?;
    oauth.insert("data-centers".into(), Value::Object(by_code));
    let offered: Vec<&str> = inputs.iter().find(|i| i.key == "region").and_then(|i| i.options.as_ref()).map(|o| o.iter().map(|c| c.value.as_str()).collect()).unwrap_or_default();
    let codes: Vec<&str> = centers.iter().map(|dc| dc.code).collect();
    if offered != codes {
        bail!("connection.region: the options {offered:?} are not the component's data centers {codes:?}");
    }
    Ok(())
}

/// The JSON Schema of a form: the same inputs, for platforms that validate with one.
fn schema_of(inputs: &[Input]) -> Value {
    let mut properties = Map::new();
    for input in inputs {
        let mut property = match input.kind.as_str() {
            "integer" => json!({ "type": "integer" }),
            "boolean" => json!({ "type": "boolean" }),
            "number" => json!({ "type": "number" }),
            "json" => json!({ "type": ["string", "object", "array"] }),
            "string-list" => json!({ "type": "array", "items": { "type": "string" } }),
            "file" => json!({ "oneOf": [
                { "type": "string", "description": "text content" },
                { "type": "object", "properties": { "text": { "type": "string" } }, "required": ["text"], "additionalProperties": false },
                { "type": "object", "properties": { "base64": { "type": "string", "contentEncoding": "base64" } }, "required": ["base64"], "additionalProperties": false },
                { "type": "object", "properties": { "bytes": { "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 255 } } }, "required": ["bytes"], "additionalProperties": false },
            ] }),
            _ => json!({ "type": "string" }),
        };
        let p = property.as_object_mut().map(std::mem::take).unwrap_or_default();
        let mut p = p;
        p.insert("title".into(), json!(input.label));
        p.insert("description".into(), json!(input.help));
        for (name, value) in [
            ("default", input.default.clone()),
            ("pattern", input.pattern.clone().map(Value::from)),
            ("enum", input.choices.clone().map(Value::from)),
            ("minimum", input.minimum.clone()),
            ("maximum", input.maximum.clone()),
            ("maxLength", input.max_length.map(Value::from)),
            ("x-choices-from", input.choices_from.as_ref().and_then(|c| serde_json::to_value(c).ok())),
            ("x-options", input.options.as_ref().and_then(|o| serde_json::to_value(o).ok())),
            ("x-schema-from", input.schema_from.as_ref().and_then(|f| serde_json::to_value(f).ok())),
            // Closed options are the only valid values; open ones are examples.
            (if input.options_open == Some(true) { "examples" } else { "enum" }, input.options.as_ref().map(|o| o.iter().map(|c| Value::from(c.value.clone())).collect::<Vec<_>>().into())),
        ] {
            if let Some(value) = value {
                p.insert(name.into(), value);
            }
        }
        // A list's choices are its items' choices.
        if input.kind == "string-list" {
            for name in ["enum", "examples"] {
                if let (Some(choices), Some(Value::Object(items))) = (p.remove(name), p.get("items").cloned()) {
                    p.insert("items".into(), Value::Object(items.into_iter().chain([(name.to_string(), choices)]).collect()));
                }
            }
        }
        property = Value::Object(p);
        properties.insert(input.key.clone(), property);
    }
    let required: Vec<&str> = inputs.iter().filter(|i| i.required).map(|i| i.key.as_str()).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// Every `choices-from` names an action of the manifest, only inputs that action has, and
/// fills them from inputs of its own form, so a platform can always run it.
fn check_choices(actions: &[Action]) -> Result<()> {
    for action in actions {
        for input in &action.inputs {
            let place = format!("{}.{}", action.key, input.key);
            if let Some(from) = &input.choices_from {
                check_source(actions, action, &place, "choices-from", &from.action, &from.input)?;
            }
            if let Some(from) = &input.schema_from {
                check_source(actions, action, &place, "schema-from", &from.action, &from.input)?;
            }
        }
    }
    Ok(())
}

/// A `choices-from` or `schema-from` names an action of the manifest, only inputs it has, only
/// inputs this form has, and fills every input the source action requires.
fn check_source(actions: &[Action], action: &Action, place: &str, what: &str, source: &str, given: &BTreeMap<String, String>) -> Result<()> {
    let source = actions.iter().find(|a| a.key == source).ok_or_else(|| anyhow!("{place}: {what} names action {source}, which the manifest lacks"))?;
    for (name, template) in given {
        if !source.inputs.iter().any(|i| &i.key == name) {
            bail!("{place}: {what} gives input {name}, which {} lacks", source.key);
        }
        let referenced = template.strip_prefix('{').and_then(|t| t.strip_suffix('}'));
        if let Some(own) = referenced {
            if !action.inputs.iter().any(|i| i.key == own) {
                bail!("{place}: {what} reads input {own}, which this form lacks");
            }
        }
    }
    if let Some(missing) = source.inputs.iter().find(|i| i.required && !given.contains_key(&i.key)) {
        bail!("{place}: {what} leaves {}'s required input {} empty", source.key, missing.key);
    }
    Ok(())
}

/// Fills in a default scope set's `missing`: for each scope the actions it is `for` need and it
/// does not grant, the actions that need it (and `missing-optional` likewise for the scopes
/// actions use when granted). A set marked `complete` must miss nothing.
fn default_scope_set(name: &str, set: &mut Value, actions: &[Action]) -> Result<()> {
    use zoho_connector::scopes::{list, missing};
    let place = format!("connection.default-scopes.{name}");
    let granted_text = set.get("scopes").and_then(Value::as_str).ok_or_else(|| anyhow!("{place}: no scopes text"))?.to_string();
    let granted = list(&granted_text);
    let prefixes: Vec<String> = match set.get("for") {
        Some(Value::Array(prefixes)) => prefixes.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => bail!("{place}: `for` must list the action keys (or key prefixes such as \"crm-\", or \"*\") the set is meant for"),
    };
    let meant = |key: &str| prefixes.iter().any(|p| p == "*" || key.starts_with(p.as_str()));
    if let Some(unknown) = prefixes.iter().find(|p| *p != "*" && !actions.iter().any(|a| a.key.starts_with(p.as_str()))) {
        bail!("{place}: `for` names {unknown}, which no action key starts with");
    }
    let mut lacking: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut lacking_optional: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for action in actions.iter().filter(|a| meant(&a.key)) {
        let needed: Vec<&str> = action.scopes.iter().map(String::as_str).collect();
        for scope in missing(&granted, &needed) {
            lacking.entry(scope.to_string()).or_default().push(action.key.clone());
        }
        let optional: Vec<&str> = action.optional_scopes.iter().map(String::as_str).collect();
        for scope in missing(&granted, &optional) {
            lacking_optional.entry(scope.to_string()).or_default().push(action.key.clone());
        }
    }
    if set.get("complete").and_then(Value::as_bool) == Some(true) && !(lacking.is_empty() && lacking_optional.is_empty()) {
        bail!("{place} is marked complete but lacks {:?}", lacking.keys().chain(lacking_optional.keys()).collect::<Vec<_>>());
    }
    let object = set.as_object_mut().ok_or_else(|| anyhow!("{place}: not an object"))?;
    object.insert("missing".into(), serde_json::to_value(lacking)?);
    if !lacking_optional.is_empty() {
        object.insert("missing-optional".into(), serde_json::to_value(lacking_optional)?);
    }
    Ok(())
}

/// actions.json as text, from the WIT package in `wit_dir` and its `annotations.json`.
pub fn generate(wit_dir: &Path) -> Result<String> {
    let notes: Annotations =
        serde_json::from_str(&std::fs::read_to_string(wit_dir.join("annotations.json")).with_context(|| format!("reading {}/annotations.json", wit_dir.display()))?).context("annotations.json")?;
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_dir(wit_dir)?;
    let world_name = notes.manifest.get("component").and_then(|c| c.get("world")).and_then(Value::as_str).unwrap_or("connector");
    let world = resolve.select_world(&[package], Some(world_name))?;
    let package_name = resolve.packages[package].name.clone();
    let version = package_name.version.as_ref().map(|v| format!("@{v}")).unwrap_or_default();

    let mut sections = Map::new();
    let mut actions = Vec::new();
    let mut seen = Vec::new();
    for item in resolve.worlds[world].exports.values() {
        let WorldItem::Interface { id, .. } = item else { continue };
        let interface = &resolve.interfaces[*id];
        let Some(name) = interface.name.clone() else { continue };
        for function in interface.functions.values() {
            let key = format!("{name}-{}", function.name);
            let note = notes.actions.get(&key).ok_or_else(|| anyhow!("annotations.json has no action {key}"))?;
            seen.push(key.clone());
            let mut inputs = Vec::new();
            for param in &function.params {
                let record = record_of(&resolve, &param.ty).with_context(|| format!("{key}({})", param.name))?;
                match param.name.as_str() {
                    "connection" | "options" => {
                        let section = if param.name == "options" { "call-options" } else { "connection" };
                        if !sections.contains_key(section) {
                            let sn = notes.sections.get(section).ok_or_else(|| anyhow!("annotations.json has no section {section}"))?;
                            let fields = inputs_of(&resolve, record, &sn.inputs, section)?;
                            let schema = schema_of(&fields);
                            let description = text(&resolve.types[record].docs);
                            let mut extra = sn.extra.clone();
                            if section == "connection" {
                                connection_extras(&mut extra, &fields)?;
                            }
                            let value = serde_json::to_value(Section { label: sn.label.clone(), description, extra, inputs: fields, input_schema: schema })?;
                            sections.insert(section.to_string(), value);
                        }
                    }
                    _ => inputs = inputs_of(&resolve, record, &note.inputs, &key)?,
                }
            }
            let description = text(&function.docs);
            if description.is_empty() {
                bail!("{key}: the WIT function has no doc comment to describe the action");
            }
            let input_schema = schema_of(&inputs);
            let scopes = zoho_connector::scopes::of(&key).ok_or_else(|| anyhow!("{key}: the component's scope table (src/scopes.rs) has no entry for this action"))?;
            let optional_scopes = zoho_connector::scopes::OPTIONAL.iter().filter(|(k, _)| *k == key).flat_map(|(_, s)| s.iter().map(|s| s.to_string())).collect();
            actions.push(Action {
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                optional_scopes,
                key,
                label: note.label.clone(),
                description,
                wit: json!({ "interface": format!("{}:{}/{name}{version}", package_name.namespace, package_name.name), "function": function.name }),
                inputs,
                output: note.output.clone(),
                output_schema: note.output_schema.clone(),
                output_sample: note.output_sample.clone(),
                trigger: note.trigger.clone(),
                connection_test: note.connection_test,
                input_schema,
            });
        }
    }
    if let Some(stale) = notes.actions.keys().find(|k| !seen.contains(k)) {
        bail!("annotations.json describes action {stale}, which the WIT does not export");
    }
    check_choices(&actions)?;
    // Each action declares its Ok value's JSON Schema and a real sample the schema accepts.
    super::OutputSchemas::compile(actions.iter().map(|a| (a.key.as_str(), a.output_schema.as_ref(), a.output_sample.as_ref())))?;
    // A Books record type's options are resources the component's key table knows.
    let books: Vec<&str> = zoho_connector::books::resources::top_level();
    for action in actions.iter().filter(|a| a.key.starts_with("books-")) {
        let offered = action.inputs.iter().find(|i| i.key == "record-type").and_then(|i| i.options.as_ref()).into_iter().flatten();
        if let Some(odd) = offered.map(|c| c.value.as_str()).find(|v| !books.contains(v)) {
            bail!("{}.record-type: option {odd} is not a Books resource of src/books/resources.rs", action.key);
        }
    }
    if let Some(odd) = actions.iter().find(|a| a.trigger.as_ref().is_some_and(|t| !matches!(t.kind.as_str(), "polling" | "instant"))) {
        bail!("{}: a trigger's kind is polling or instant", odd.key);
    }
    if actions.iter().filter(|a| a.connection_test).count() > 1 {
        bail!("more than one action is marked connection-test: a platform runs one");
    }
    if let Some(stale) = zoho_connector::scopes::ACTIONS.iter().find(|(k, _)| !seen.iter().any(|s| s == k)) {
        bail!("the component's scope table names action {}, which the WIT does not export", stale.0);
    }
    if let Some(sets) = sections.get_mut("connection").and_then(|c| c.get_mut("default-scopes")).and_then(Value::as_object_mut) {
        for (name, set) in sets.iter_mut() {
            default_scope_set(name, set, &actions)?;
        }
    }
    let mut manifest = notes.manifest.clone();
    for (name, section) in sections {
        manifest.insert(name, section);
    }
    manifest.insert("actions".into(), serde_json::to_value(actions)?);
    // Top-level keys in a fixed order: identity, sections, actions.
    let order = ["name", "label", "version", "component", "connection", "call-options", "actions"];
    let mut text = String::from("{\n");
    let mut first = true;
    for key in order.iter().map(|k| k.to_string()).chain(manifest.keys().filter(|k| !order.contains(&k.as_str())).cloned().collect::<Vec<_>>()) {
        let Some(value) = manifest.get(&key) else { continue };
        let pretty = serde_json::to_string_pretty(value)?.replace('\n', "\n  ");
        text.push_str(if first { "  " } else { ",\n  " });
        text.push_str(&format!("{}: {pretty}", serde_json::to_string(&key)?));
        first = false;
    }
    text.push_str("\n}\n");
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wit_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit")
    }

    /// CI's guard: actions.json is exactly what the WIT and its annotations make
    /// (run `zoho-host manifest --write` after changing either).
    #[test]
    fn the_committed_manifest_is_the_generated_one() {
        let generated = generate(&wit_dir()).expect("generates");
        assert!(generated == crate::manifest::EMBEDDED, "actions.json is stale: run `zoho-host manifest --write`");
    }

    #[test]
    fn annotations_that_do_not_match_the_wit_are_refused() {
        let dir = std::env::temp_dir().join(format!("zoho-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("deps")).expect("dir");
        for entry in std::fs::read_dir(wit_dir().join("deps")).expect("deps") {
            let entry = entry.expect("entry");
            let target = dir.join("deps").join(entry.file_name());
            std::fs::create_dir_all(&target).expect("dep dir");
            for file in std::fs::read_dir(entry.path()).expect("dep") {
                let file = file.expect("file");
                std::fs::copy(file.path(), target.join(file.file_name())).expect("copy");
            }
        }
        std::fs::copy(wit_dir().join("world.wit"), dir.join("world.wit")).expect("copy");
        let original: Value = serde_json::from_str(&std::fs::read_to_string(wit_dir().join("annotations.json")).expect("read")).expect("json");
        let cases: [(&str, fn(&mut Value)); 12] = [
            ("name input bogus", |a| a["actions"]["crm-get-record"]["inputs"]["bogus"] = json!({ "label": "B" })),
            ("has no action crm-get-record", |a| drop(a["actions"].as_object_mut().map(|m| m.remove("crm-get-record")))),
            ("describes action crm-delete-everything", |a| a["actions"]["crm-delete-everything"] = json!({ "label": "x", "output": "y" })),
            ("cannot describe WIT integer", |a| a["actions"]["crm-get-records"]["inputs"]["page"] = json!({ "type": "json" })),
            ("names action crm-list-everything", |a| a["actions"]["crm-get-record"]["inputs"]["record-type"]["choices-from"]["action"] = json!("crm-list-everything")),
            ("reads input module, which this form lacks", |a| a["actions"]["crm-get-record"]["inputs"]["fields"]["choices-from"]["input"]["record-type"] = json!("{module}")),
            ("leaves crm-describe-module's required input record-type empty", |a| a["actions"]["crm-get-record"]["inputs"]["fields"]["choices-from"]["input"] = json!({})),
            ("is marked complete but lacks", |a| a["sections"]["connection"]["default-scopes"]["complete"]["scopes"] = json!("ZohoCRM.modules.ALL")),
            ("crm-get-record: declares no output-schema", |a| drop(a["actions"]["crm-get-record"].as_object_mut().map(|m| m.remove("output-schema")))),
            ("crm-get-record: output-schema does not compile", |a| a["actions"]["crm-get-record"]["output-schema"]["type"] = json!("objekt")),
            ("crm-get-record: output-sample does not match output-schema", |a| a["actions"]["crm-get-record"]["output-sample"]["id"] = json!(42)),
            ("names nothing-, which no action key starts with", |a| a["sections"]["connection"]["default-scopes"]["cyclr"]["for"] = json!(["crm-", "nothing-"])),
        ];
        for (expected, change) in cases {
            let mut notes = original.clone();
            change(&mut notes);
            std::fs::write(dir.join("annotations.json"), notes.to_string()).expect("write");
            let error = format!("{:#}", generate(&dir).expect_err(expected));
            assert!(error.contains(expected), "{expected:?} not in {error}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
