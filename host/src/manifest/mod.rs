//! actions.json: the form a platform renders for each step, and its map onto WIT exports.
//! `check` proves the manifest and the component agree in both directions; `generate` makes it.

mod annotations;
mod generate;
mod outputs;
pub use generate::generate;
pub use outputs::OutputSchemas;

use crate::action::{ActionRef, PACKAGE, VERSION};
use anyhow::{Context as _, Result};
use serde::Deserialize;
use serde_json::Value;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Type};
use wasmtime::Engine;

/// The manifest shipped with this host, embedded at build time.
pub const EMBEDDED: &str = include_str!("../../../actions.json");

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub connection: Section,
    #[serde(rename = "call-options")]
    pub call_options: Section,
    pub actions: Vec<Action>,
}

#[derive(Debug, Deserialize)]
pub struct Section {
    pub inputs: Vec<Input>,
}

#[derive(Debug, Deserialize)]
pub struct Action {
    pub key: String,
    pub label: String,
    pub description: String,
    pub wit: WitRef,
    /// The OAuth scopes the action's requests need.
    #[serde(default)]
    pub scopes: Vec<String>,
    pub inputs: Vec<Input>,
    #[serde(rename = "input-schema")]
    pub input_schema: Value,
    /// What the action's Ok value holds, in words.
    #[serde(default)]
    pub output: Option<String>,
    /// The JSON Schema of the Ok value, when declared.
    #[serde(default, rename = "output-schema")]
    pub output_schema: Option<Value>,
    /// One Ok value, valid under `output_schema`.
    #[serde(default, rename = "output-sample")]
    pub output_sample: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct WitRef {
    pub interface: String,
    pub function: String,
}

#[derive(Debug, Deserialize)]
pub struct Input {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    #[serde(default)]
    pub default: Option<Value>,
    pub help: String,
    /// The values allowed, when the manifest lists them.
    #[serde(default, rename = "enum")]
    pub choices: Option<Value>,
    /// The action whose answer lists the values allowed.
    #[serde(default, rename = "choices-from")]
    pub choices_from: Option<Value>,
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Self> {
        serde_json::from_str(text).context("actions.json does not match the manifest format")
    }

    pub fn embedded() -> Result<Self> {
        Self::parse(EMBEDDED)
    }

    pub fn action(&self, key: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.key == key)
    }
}

impl Action {
    pub fn action_ref(&self) -> ActionRef {
        let interface = self.wit.interface.trim_start_matches(&format!("{PACKAGE}/")).trim_end_matches(&format!("@{VERSION}"));
        ActionRef { interface: interface.to_string(), function: self.wit.function.clone() }
    }
}

/// Does a manifest input type describe this WIT type (options unwrapped)?
fn type_matches(kind: &str, ty: &Type) -> bool {
    match (kind, ty) {
        ("string" | "json" | "password" | "text", Type::String) => true,
        ("integer", Type::U32 | Type::U64 | Type::U16 | Type::S32 | Type::S64) => true,
        ("boolean", Type::Bool) => true,
        ("number", Type::Float64 | Type::Float32) => true,
        ("string-list", Type::List(l)) => matches!(l.ty(), Type::String),
        ("file", Type::Variant(v)) => v.cases().any(|c| c.name == "text") && v.cases().any(|c| c.name == "bytes"),
        _ => false,
    }
}

/// Compares one manifest section's inputs with a WIT record's fields.
fn compare_inputs(place: &str, inputs: &[Input], ty: &Type, problems: &mut Vec<String>) {
    let ty = match ty {
        Type::Option(o) => o.ty(),
        other => other.clone(),
    };
    let Type::Record(record) = ty else {
        problems.push(format!("{place}: the WIT parameter is not a record"));
        return;
    };
    for field in record.fields() {
        let (inner, optional) = match &field.ty {
            Type::Option(o) => (o.ty(), true),
            other => (other.clone(), false),
        };
        match inputs.iter().find(|i| i.key == field.name) {
            None => problems.push(format!("{place}: WIT field {} has no manifest input", field.name)),
            Some(input) => {
                if input.required == optional {
                    problems.push(format!("{place}.{}: manifest says required={} but WIT optional={optional}", field.name, input.required));
                }
                if !type_matches(&input.kind, &inner) {
                    problems.push(format!("{place}.{}: manifest type {:?} does not describe WIT {inner:?}", field.name, input.kind));
                }
            }
        }
    }
    for input in inputs {
        if !record.fields().any(|f| f.name == input.key) {
            problems.push(format!("{place}: manifest input {} is not a WIT field", input.key));
        }
    }
}

/// Every exported action's parameters: (`interface-function` key, [(name, type)]).
pub fn export_params(engine: &Engine, component: &Component) -> Vec<(String, Vec<(String, Type)>)> {
    let mut out = Vec::new();
    for (iface_name, iface) in component.component_type().exports(engine) {
        let ComponentItem::ComponentInstance(instance) = iface.ty else { continue };
        for (fname, item) in instance.exports(engine) {
            let ComponentItem::ComponentFunc(func) = item.ty else { continue };
            let interface = iface_name.trim_start_matches(&format!("{PACKAGE}/")).trim_end_matches(&format!("@{VERSION}"));
            out.push((format!("{interface}-{fname}"), func.params().map(|(n, t)| (n.to_string(), t)).collect()));
        }
    }
    out
}

/// Every disagreement between the manifest and the component's exports, in both directions.
pub fn check(manifest: &Manifest, engine: &Engine, component: &Component) -> Vec<String> {
    let mut problems = Vec::new();
    let ty = component.component_type();
    let mut exported = Vec::new();
    for (iface_name, iface) in ty.exports(engine) {
        let ComponentItem::ComponentInstance(instance) = iface.ty else { continue };
        for (fname, item) in instance.exports(engine) {
            let ComponentItem::ComponentFunc(func) = item.ty else { continue };
            exported.push((iface_name.to_string(), fname.to_string()));
            let key = format!("{}-{fname}", iface_name.trim_start_matches(&format!("{PACKAGE}/")).trim_end_matches(&format!("@{VERSION}")));
            let Some(action) = manifest.actions.iter().find(|a| a.wit.interface == iface_name && a.wit.function == fname) else {
                problems.push(format!("export {iface_name}#{fname} has no manifest action"));
                continue;
            };
            if action.key != key {
                problems.push(format!("action {} should have key {key}", action.key));
            }
            for (param, param_ty) in func.params() {
                match param {
                    "connection" => compare_inputs(&format!("{key} connection"), &manifest.connection.inputs, &param_ty, &mut problems),
                    "options" => compare_inputs(&format!("{key} options"), &manifest.call_options.inputs, &param_ty, &mut problems),
                    _ => compare_inputs(&key, &action.inputs, &param_ty, &mut problems),
                }
            }
            for input in action.inputs.iter().filter(|i| i.required) {
                let required = action.input_schema.get("required").and_then(Value::as_array);
                if !required.is_some_and(|r| r.iter().any(|k| k == &Value::String(input.key.clone()))) {
                    problems.push(format!("{key}: input-schema does not require {}", input.key));
                }
            }
        }
    }
    for action in &manifest.actions {
        if !exported.iter().any(|(i, f)| *i == action.wit.interface && *f == action.wit.function) {
            problems.push(format!("action {} names {}#{}, which the component does not export", action.key, action.wit.interface, action.wit.function));
        }
    }
    problems
}
