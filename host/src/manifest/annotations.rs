//! `wit/annotations.json`: what WIT cannot say about a form (labels, input kinds, defaults,
//! choices and where they come from, schemas of JSON inputs, triggers), as the generator reads it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What WIT cannot say, per input.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InputNote {
    pub(super) label: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    /// Explains a field of a shared record differently for one action.
    pub(super) help: Option<String>,
    pub(super) default: Option<Value>,
    pub(super) pattern: Option<String>,
    #[serde(rename = "enum")]
    pub(super) choices: Option<Vec<Value>>,
    pub(super) minimum: Option<Value>,
    pub(super) maximum: Option<Value>,
    #[serde(rename = "maxLength")]
    pub(super) max_length: Option<u64>,
    #[serde(rename = "choices-from")]
    pub(super) choices_from: Option<ChoicesFrom>,
    #[serde(rename = "schema-from")]
    pub(super) schema_from: Option<SchemaFrom>,
    /// Fixed choices with labels, for a dropdown; with `options-open` other values are valid too
    /// (the region takes any Zoho URL beside its data-center codes).
    pub(super) options: Option<Vec<ChoiceOption>>,
    #[serde(rename = "options-open")]
    pub(super) options_open: Option<bool>,
}

/// Where the JSON Schema of a JSON input comes from: another action of this manifest, run with
/// the given inputs (`{key}` is this form's input `key`), its answer read at the JSON pointer
/// `schema`. `describes` says what the schema is of (`record`: one record; the input may hold one
/// record or an array of them). A platform renders the input field by field from it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SchemaFrom {
    pub(super) action: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) input: BTreeMap<String, String>,
    pub(super) schema: String,
    pub(super) describes: String,
}

/// One fixed choice of an input: what is sent and what a builder reads.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChoiceOption {
    pub(super) value: String,
    pub(super) label: String,
}

/// An action a platform runs as a trigger: `polling` (run on a schedule; each run's records
/// follow the cursor it keeps) or `instant` (Zoho calls a URL). `cursor` says what the trigger
/// keeps between runs, `dedup-key` what identifies one delivered item, so a platform can drop
/// the repeats an at-least-once trigger may deliver.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TriggerNote {
    pub(super) kind: String,
    pub(super) cursor: String,
    #[serde(rename = "dedup-key")]
    pub(super) dedup_key: String,
}

/// Where a dynamic input's choices come from: another action of this manifest, run with the
/// given inputs (`{key}` stands for this form's input `key`), its answer read at the JSON
/// pointer `options` as a list of objects, each giving a choice's `value` and `label`. A
/// platform renders the input as a dropdown filled by that action. With `open`, a value the
/// dropdown does not offer is valid too (a new tag name typed beside the module's tags).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChoicesFrom {
    pub(super) action: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) input: BTreeMap<String, String>,
    pub(super) options: String,
    pub(super) value: String,
    pub(super) label: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) open: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionNote {
    pub(super) label: String,
    pub(super) output: String,
    /// The JSON Schema of the action's Ok value (a JSON text result parsed), so a platform can
    /// offer the next step a picker of its fields.
    #[serde(default, rename = "output-schema")]
    pub(super) output_schema: Option<Value>,
    /// One Ok value as the action returns it, valid under `output-schema`.
    #[serde(default, rename = "output-sample")]
    pub(super) output_sample: Option<Value>,
    #[serde(default)]
    pub(super) trigger: Option<TriggerNote>,
    /// The action a platform runs to test a connection when a user connects (one per manifest).
    #[serde(default, rename = "connection-test")]
    pub(super) connection_test: bool,
    #[serde(default)]
    pub(super) inputs: BTreeMap<String, InputNote>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SectionNote {
    pub(super) label: String,
    #[serde(default)]
    pub(super) inputs: BTreeMap<String, InputNote>,
    /// Anything else the section carries (credential sets, default scopes), passed through.
    #[serde(flatten)]
    pub(super) extra: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Annotations {
    pub(super) manifest: Map<String, Value>,
    pub(super) sections: BTreeMap<String, SectionNote>,
    pub(super) actions: BTreeMap<String, ActionNote>,
}
