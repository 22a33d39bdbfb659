//! JSON ↔ WIT values, driven by the export's own types, so any action runs from JSON
//! without glue written per action.

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Map, Value};
use wasmtime::component::{Type, Val};

/// Converts `value` to a WIT value of type `ty`; `path` names the place for error messages.
pub fn to_val(value: &Value, ty: &Type, path: &str) -> Result<Val> {
    Ok(match ty {
        Type::Bool => Val::Bool(value.as_bool().ok_or_else(|| anyhow!("{path}: expected true or false, got {}", show(value)))?),
        Type::U8 => Val::U8(unsigned(value, path)?.try_into().map_err(|_| anyhow!("{path}: {} is out of range", show(value)))?),
        Type::U16 => Val::U16(unsigned(value, path)?.try_into().map_err(|_| anyhow!("{path}: {} is out of range", show(value)))?),
        Type::U32 => Val::U32(unsigned(value, path)?.try_into().map_err(|_| anyhow!("{path}: {} is out of range", show(value)))?),
        Type::U64 => Val::U64(unsigned(value, path)?),
        Type::S32 => Val::S32(signed(value, path)?.try_into().map_err(|_| anyhow!("{path}: {} is out of range", show(value)))?),
        Type::S64 => Val::S64(signed(value, path)?),
        Type::Float64 => Val::Float64(value.as_f64().ok_or_else(|| anyhow!("{path}: expected a number, got {}", show(value)))?),
        // A JSON object or array given for a string parameter is passed serialized.
        Type::String => Val::String(match value {
            Value::String(s) => s.clone(),
            Value::Object(_) | Value::Array(_) => value.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => bail!("{path}: expected a string, got null"),
        }),
        Type::List(list) => {
            let element = list.ty();
            match value {
                Value::Array(items) => Val::List(items.iter().enumerate().map(|(i, item)| to_val(item, &element, &format!("{path}[{i}]"))).collect::<Result<_>>()?),
                // A comma-separated string for a list of strings, as a form field gives it.
                Value::String(s) if matches!(element, Type::String) => Val::List(s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(|p| Val::String(p.to_string())).collect()),
                _ => bail!("{path}: expected an array, got {}", show(value)),
            }
        }
        Type::Option(option) => match value {
            Value::Null => Val::Option(None),
            _ => Val::Option(Some(Box::new(to_val(value, &option.ty(), path)?))),
        },
        Type::Record(record) => {
            let object = match value {
                Value::Object(o) => o,
                Value::Null => &Map::new(),
                _ => bail!("{path}: expected an object, got {}", show(value)),
            };
            let known: Vec<&str> = record.fields().map(|f| f.name).collect();
            if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
                bail!("{path}: unknown field {}; expected one of {}", show_debug(unknown), known.join(", "));
            }
            let fields = record
                .fields()
                .map(|field| {
                    let v = object.get(field.name).unwrap_or(&Value::Null);
                    if v.is_null() && !matches!(field.ty, Type::Option(_)) {
                        bail!("{path}.{}: required", field.name);
                    }
                    Ok((field.name.to_string(), to_val(v, &field.ty, &format!("{path}.{}", field.name))?))
                })
                .collect::<Result<_>>()?;
            Val::Record(fields)
        }
        // A variant is `{"case": payload}`; a bare string picks a `text` case when there is one
        // (a form's text box for a file).
        Type::Variant(variant) => {
            let (case_name, payload) = match value {
                Value::Object(o) if o.len() == 1 => o.iter().next().map(|(k, v)| (k.as_str(), Some(v))).unwrap_or(("", None)),
                Value::String(_) if variant.cases().any(|c| c.name == "text") => ("text", Some(value)),
                Value::String(name) => (name.as_str(), None),
                _ => ("", None),
            };
            let names: Vec<&str> = variant.cases().map(|c| c.name).collect();
            let Some(case) = variant.cases().find(|c| c.name == case_name) else {
                bail!("{path}: expected one of {} (as {{\"case\": value}}), got {}", names.join(", "), show(value));
            };
            let payload = match (case.ty, payload) {
                (Some(ty), Some(v)) => Some(Box::new(to_val(v, &ty, &format!("{path}.{case_name}"))?)),
                (None, _) => None,
                (Some(_), None) => bail!("{path}: case {case_name} needs a value"),
            };
            Val::Variant(case_name.to_string(), payload)
        }
        Type::Enum(e) => {
            let name = value.as_str().ok_or_else(|| anyhow!("{path}: expected one of {}", e.names().collect::<Vec<_>>().join(", ")))?;
            if !e.names().any(|n| n == name) {
                bail!("{path}: {} is not one of {}", show_debug(name), e.names().collect::<Vec<_>>().join(", "));
            }
            Val::Enum(name.to_string())
        }
        other => bail!("{path}: WIT type {other:?} is not supported as input"),
    })
}

fn unsigned(value: &Value, path: &str) -> Result<u64> {
    match value {
        Value::Number(n) => n.as_u64().ok_or_else(|| anyhow!("{path}: expected a whole number ≥ 0, got {n}")),
        Value::String(s) => s.trim().parse().map_err(|_| anyhow!("{path}: expected a whole number ≥ 0, got {}", show_debug(s))),
        _ => bail!("{path}: expected a number, got {}", show(value)),
    }
}

fn signed(value: &Value, path: &str) -> Result<i64> {
    match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| anyhow!("{path}: expected a whole number, got {n}")),
        Value::String(s) => s.trim().parse().map_err(|_| anyhow!("{path}: expected a whole number, got {}", show_debug(s))),
        _ => bail!("{path}: expected a number, got {}", show(value)),
    }
}

/// A bad value as an error message shows it: a short prefix and its length, never all of it.
fn show(value: &Value) -> String {
    crate::zoho_error::shown(&value.to_string())
}

fn show_debug(text: &str) -> String {
    crate::zoho_error::shown(&format!("{text:?}"))
}

/// A WIT value as JSON: records as objects, options as value-or-null, enums as names.
pub fn from_val(val: &Val) -> Value {
    match val {
        Val::Bool(b) => json!(b),
        Val::U8(n) => json!(n),
        Val::U16(n) => json!(n),
        Val::U32(n) => json!(n),
        Val::U64(n) => json!(n),
        Val::S8(n) => json!(n),
        Val::S16(n) => json!(n),
        Val::S32(n) => json!(n),
        Val::S64(n) => json!(n),
        Val::Float32(n) => json!(n),
        Val::Float64(n) => json!(n),
        Val::Char(c) => json!(c.to_string()),
        Val::String(s) => json!(s),
        Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => Value::Array(items.iter().map(from_val).collect()),
        Val::Record(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), from_val(v))).collect()),
        Val::Option(v) => v.as_deref().map_or(Value::Null, from_val),
        Val::Enum(name) => json!(name),
        Val::Variant(name, payload) => match payload {
            None => json!(name),
            Some(p) => json!({ name: from_val(p) }),
        },
        Val::Result(r) => match r {
            Ok(v) => json!({ "ok": v.as_deref().map_or(Value::Null, from_val) }),
            Err(e) => json!({ "err": e.as_deref().map_or(Value::Null, from_val) }),
        },
        Val::Flags(names) => json!(names),
        Val::Map(pairs) => Value::Array(pairs.iter().map(|(k, v)| json!([from_val(k), from_val(v)])).collect()),
        Val::Resource(_) | Val::Future(_) | Val::Stream(_) | Val::ErrorContext(_) => json!(format!("{val:?}")),
    }
}
