//! The forms a platform renders from `actions.json` alone: every action's form, the connection's
//! and the call options', each input as a plain description (type, label, default, help,
//! choices or where they come from, schema link). No input lacks a type, label or help, and no
//! input whose set of values is knowable lacks its choices: a fixed list (`enum`, `options`) or
//! an action of the manifest (`choices-from`) whose declared `output-schema` has the list it
//! reads, each item with the value and label keys it names.

use serde_json::Value;

/// Inputs whose values are names from a set the connector can list or Zoho documents, by key:
/// modules and Books resources, field API names of a module, related lists, custom views, users,
/// tags, notification events, sync streams, and Zoho's fixed vocabularies.
const ENUMERABLE_KEYS: [&str; 27] = [
    "record-type",
    "parent-record-type",
    "module",
    "fields",
    "sort-by",
    "search-fields",
    "duplicate-check-fields",
    "related-list",
    "cvid",
    "assign-to",
    "owner",
    "tags",
    "events",
    "stream",
    "method",
    "sort-order",
    "deleted-type",
    "response-type",
    "format",
    "converted",
    "approved",
    "mail-format",
    "action",
    "trigger",
    "region",
    "layout",
    "territory",
];

/// Is the input's set of values knowable? By key (the list above) and by kind: a name or a
/// list of names is; a JSON object of values (`search-fields` as Books' filters), a boolean (a
/// checkbox has its two values), a number, a file or free text is not.
fn enumerable(key: &str, kind: &str) -> bool {
    matches!(kind, "string" | "string-list") && ENUMERABLE_KEYS.contains(&key)
}

/// Enumerable inputs whose set depends on something a form does not hold: the module of a
/// related list, of a sync stream, or of a notification delivery is known only from an answer
/// at run time, so their field names cannot be a dropdown of the form.
const KNOWN_ONLY_AT_RUN_TIME: [(&str, &str); 3] = [("crm-get-related-records", "fields"), ("sync-read-stream-page", "fields"), ("notifications-parse", "fields")];

/// A record's values (a JSON input under these keys, in a form that names its record type)
/// render field by field only with a `schema-from`: CRM's from the module's field metadata,
/// Books' from the fields its pages document.
const RECORD_VALUES_KEYS: [&str; 2] = ["values", "dynamic-fields"];

/// Record-values keys that hold something else: a Books record action's body is the action's
/// (an email's recipients, ...), not the record's fields; a link's values are the relation's own
/// fields (a campaign member's status), which no metadata endpoint of Zoho's describes.
const NOT_RECORD_VALUES: [(&str, &str); 2] = [("books-record-action", "values"), ("crm-link-related-record", "values")];

/// Where an input's choices come from, as a platform reads it.
#[derive(Debug, PartialEq)]
enum Choices {
    None,
    /// Only these values (`enum`, or `options` without `options-open`).
    Fixed(Vec<String>),
    /// Offered values; others are valid too (`options` with `options-open`).
    Open(Vec<String>),
    /// Filled by running another action: its answer's list at `options`, each item's `value`
    /// and `label` keys.
    From {
        action: String,
        options: String,
        value: String,
        label: String,
    },
}

/// One input as a platform renders it.
#[derive(Debug)]
struct Rendered {
    form: String,
    key: String,
    kind: String,
    label: String,
    default: Option<Value>,
    help: String,
    choices: Choices,
    /// The action and pointer whose JSON Schema renders this JSON input field by field.
    schema_from: Option<(String, String)>,
}

impl Rendered {
    /// The plain description a form builder would show.
    fn describe(&self) -> String {
        let mut text = format!("{}.{}: {} {:?}", self.form, self.key, self.kind, self.label);
        if let Some(default) = &self.default {
            text.push_str(&format!(" (default {default})"));
        }
        match &self.choices {
            Choices::None => {}
            Choices::Fixed(values) => text.push_str(&format!(" one of {values:?}")),
            Choices::Open(values) => text.push_str(&format!(" e.g. {values:?}")),
            Choices::From { action, options, value, label } => text.push_str(&format!(" choices from {action} at {options} ({value}, {label})")),
        }
        if let Some((action, pointer)) = &self.schema_from {
            text.push_str(&format!(" fields from {action} at {pointer}"));
        }
        format!("{text}: {}", self.help)
    }
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn values(list: &Value, key: Option<&str>) -> Vec<String> {
    list.as_array().into_iter().flatten().map(|v| key.map_or(v, |k| &v[k])).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect()
}

/// One form's inputs, from the manifest alone.
fn render(form: &str, inputs: &Value) -> Vec<Rendered> {
    let inputs = inputs.as_array().unwrap_or_else(|| panic!("{form}: inputs is not a list"));
    inputs
        .iter()
        .map(|input| {
            let choices = if let Some(list) = input.get("enum") {
                Choices::Fixed(values(list, None))
            } else if let Some(list) = input.get("options") {
                let offered = values(list, Some("value"));
                if input["options-open"] == Value::Bool(true) {
                    Choices::Open(offered)
                } else {
                    Choices::Fixed(offered)
                }
            } else if let Some(from) = input.get("choices-from") {
                Choices::From { action: text(from, "action"), options: text(from, "options"), value: text(from, "value"), label: text(from, "label") }
            } else {
                Choices::None
            };
            Rendered {
                form: form.to_string(),
                key: text(input, "key"),
                kind: text(input, "type"),
                label: text(input, "label"),
                default: input.get("default").cloned(),
                help: text(input, "help"),
                choices,
                schema_from: input.get("schema-from").map(|s| (text(s, "action"), text(s, "schema"))),
            }
        })
        .collect()
}

/// Every form of a manifest: each action's, then the connection's and the call options'.
fn render_all(manifest: &Value) -> Vec<Rendered> {
    let actions = manifest["actions"].as_array().expect("actions");
    let mut all: Vec<Rendered> = actions.iter().flat_map(|a| render(&text(a, "key"), &a["inputs"])).collect();
    all.extend(render("connection", &manifest["connection"]["inputs"]));
    all.extend(render("call-options", &manifest["call-options"]["inputs"]));
    all
}

/// The sub-schema at a JSON pointer into the values a schema describes (`/modules` is the
/// `modules` property; a number or `-` an array's items), following local `$ref`s.
fn schema_at<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
    let resolve = |schema: &'a Value| -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(path) => root.pointer(path).unwrap_or(schema),
            None => schema,
        }
    };
    let mut at = resolve(root);
    for token in pointer.split('/').skip(1) {
        at = resolve(match at.get("properties").and_then(|p| p.get(token)) {
            Some(property) => property,
            None if token == "-" || token.parse::<usize>().is_ok() => at.get("items")?,
            None => return None,
        });
    }
    Some(at)
}

/// Every problem a platform would meet rendering the forms of `manifest`.
fn problems(manifest: &Value) -> Vec<String> {
    let actions = manifest["actions"].as_array().expect("actions");
    let output_schema = |key: &str| actions.iter().find(|a| a["key"] == key).map(|a| &a["output-schema"]);
    let mut found = Vec::new();
    let rendered = render_all(manifest);
    let has_record_type = |form: &str| rendered.iter().any(|i| i.form == form && i.key == "record-type");
    for input in &rendered {
        let pair = (input.form.as_str(), input.key.as_str());
        if input.kind == "json" && RECORD_VALUES_KEYS.contains(&pair.1) && has_record_type(pair.0) && !NOT_RECORD_VALUES.contains(&pair) && input.schema_from.is_none() {
            found.push(format!("{}.{}: a record's values without schema-from, so no form renders them field by field", pair.0, pair.1));
        }
    }
    for input in rendered {
        let place = format!("{}.{}", input.form, input.key);
        if input.kind.is_empty() || input.label.is_empty() || input.help.is_empty() {
            found.push(format!("{place}: no type, label or help text ({})", input.describe()));
        }
        let pair = (input.form.as_str(), input.key.as_str());
        if enumerable(&input.key, &input.kind) && input.choices == Choices::None && !KNOWN_ONLY_AT_RUN_TIME.contains(&pair) {
            found.push(format!("{place}: a {} whose values are knowable, offered without choices (enum, options or choices-from)", input.kind));
        }
        if let Choices::From { action, options, value, label } = &input.choices {
            match output_schema(action) {
                None => found.push(format!("{place}: choices-from names {action}, which the manifest lacks")),
                Some(Value::Null) => found.push(format!("{place}: choices-from names {action}, which declares no output-schema")),
                Some(schema) => match schema_at(schema, options).and_then(|list| list.get("items")) {
                    None => found.push(format!("{place}: {action}'s output-schema has no list at {options}")),
                    Some(item) => {
                        let item = schema_at(item, "").unwrap_or(item);
                        for key in [value, label] {
                            if item.get("properties").and_then(|p| p.get(key)).is_none() {
                                found.push(format!("{place}: the items of {action}'s {options} have no {key}"));
                            }
                        }
                    }
                },
            }
        }
        if let Some((action, pointer)) = &input.schema_from {
            if output_schema(action).and_then(|s| schema_at(s, pointer)).is_none() {
                found.push(format!("{place}: schema-from reads {pointer} of {action}, which its output-schema lacks"));
            }
        }
    }
    found
}

fn input_mut<'a>(manifest: &'a mut Value, action: &str, key: &str) -> &'a mut Value {
    let action = manifest["actions"].as_array_mut().expect("actions").iter_mut().find(|a| a["key"] == action).expect("action");
    action["inputs"].as_array_mut().expect("inputs").iter_mut().find(|i| i["key"] == key).expect("input")
}

fn manifest() -> Value {
    serde_json::from_str(zoho_host::manifest::EMBEDDED).expect("actions.json is JSON")
}

/// The first "Done when" of a platform: every form renders from actions.json alone, each input
/// with a type, label and help, every enumerable input with its choices, every dynamic choice
/// and schema link pointing into an action's declared output.
#[test]
fn every_form_renders_from_the_manifest_alone() {
    let manifest = manifest();
    let rendered = render_all(&manifest);
    let forms = manifest["actions"].as_array().expect("actions").len() + 2;
    assert!(rendered.len() > forms, "{} inputs in {forms} forms", rendered.len());
    // The description a form builder shows, e.g. for a record type.
    let record_type = rendered.iter().find(|i| i.form == "crm-get-record" && i.key == "record-type").expect("crm-get-record.record-type");
    assert_eq!(
        record_type.describe(),
        format!("crm-get-record.record-type: string \"Record Type\" (default \"Leads\") choices from crm-list-modules at /modules (api_name, plural_label): {}", record_type.help)
    );
    // Books' create and update render a record's values from the fields its pages document.
    for (form, pointer) in [("books-create-record", "/json_schema"), ("books-update-record", "/update_json_schema")] {
        for key in RECORD_VALUES_KEYS {
            let values = rendered.iter().find(|i| i.form == form && i.key == key).expect("a Books record's values");
            assert!(values.describe().contains(&format!(" fields from books-describe-resource at {pointer}: ")), "{}", values.describe());
        }
    }
    let found = problems(&manifest);
    assert!(found.is_empty(), "{} form problem(s):\n{}", found.len(), found.join("\n"));
    // The exemptions name inputs that exist and are enumerable, so none hides a typo.
    for (form, key) in NOT_RECORD_VALUES.iter() {
        assert!(rendered.iter().any(|i| i.form == *form && i.key == *key && i.kind == "json" && i.schema_from.is_none()), "{form}.{key} is not an unlinked JSON input");
    }
    for (form, key) in KNOWN_ONLY_AT_RUN_TIME.iter() {
        let input = rendered.iter().find(|i| i.form == *form && i.key == *key).unwrap_or_else(|| panic!("{form}.{key} is not an input"));
        assert!(enumerable(key, &input.kind), "{form}.{key} is not enumerable");
    }
}

/// The rule bites: an enumerable input stripped of its choices, an input without help, and a
/// dropdown reading a list its action's output-schema does not declare are each named.
#[test]
fn a_form_without_choices_help_or_a_declared_source_is_named() {
    let original = manifest();
    let cases: [(&str, &str, &str, fn(&mut Value)); 9] = [
        ("crm-get-record", "record-type", "crm-get-record.record-type: a string whose values are knowable, offered without choices", |i| drop(i.as_object_mut().map(|o| o.remove("choices-from")))),
        ("books-get-records", "record-type", "books-get-records.record-type: a string whose values are knowable", |i| drop(i.as_object_mut().map(|o| o.remove("options")))),
        ("crm-get-deleted-records", "deleted-type", "crm-get-deleted-records.deleted-type: a string whose values are knowable", |i| drop(i.as_object_mut().map(|o| o.remove("enum")))),
        ("crm-create-record", "trigger", "crm-create-record.trigger: a string-list whose values are knowable", |i| drop(i.as_object_mut().map(|o| o.remove("options")))),
        ("crm-get-record", "record-id", "crm-get-record.record-id: no type, label or help text", |i| i["help"] = "".into()),
        ("crm-get-record", "fields", "the items of crm-describe-module's /fields have no api_nme", |i| i["choices-from"]["value"] = "api_nme".into()),
        ("books-create-record", "values", "books-create-record.values: a record's values without schema-from", |i| drop(i.as_object_mut().map(|o| o.remove("schema-from")))),
        ("crm-update-record", "dynamic-fields", "crm-update-record.dynamic-fields: a record's values without schema-from", |i| drop(i.as_object_mut().map(|o| o.remove("schema-from")))),
        ("books-update-record", "values", "books-update-record.values: schema-from reads /update_json_schma of books-describe-resource, which its output-schema lacks", |i| {
            i["schema-from"]["schema"] = "/update_json_schma".into()
        }),
    ];
    for (action, key, expected, change) in cases {
        let mut manifest = original.clone();
        change(input_mut(&mut manifest, action, key));
        let found = problems(&manifest).join("\n");
        assert!(found.contains(expected), "{expected:?} not in:\n{found}");
    }
    // A dropdown's source action without the list in its declared output.
    let mut manifest = original.clone();
    let modules = manifest["actions"].as_array_mut().unwrap().iter_mut().find(|a| a["key"] == "crm-list-modules").unwrap();
    modules["output-schema"]["properties"].as_object_mut().unwrap().remove("modules");
    let found = problems(&manifest).join("\n");
    assert!(found.contains("crm-get-record.record-type: crm-list-modules's output-schema has no list at /modules"), "{found}");
}
