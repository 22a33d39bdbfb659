//! Each action's declared output (`output-schema`, a JSON Schema of draft 2020-12, and
//! `output-sample`) compiled once and checked against an Ok value: the generator refuses a
//! schema that does not compile or a sample it rejects, and the end-to-end harness checks every
//! Ok value an action returns, so a platform's field picker never offers a key the component
//! does not set.
//!
//! The Ok value is the one the host gives back: a JSON-text result parsed; a `downloaded-file` or
//! `raw-response` record as JSON with bytes as `{"base64": ...}` (`bytes_calls`).

use anyhow::{anyhow, bail, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// The dialect every output schema is read as, whether or not it says `$schema`.
const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Every action's output schema, compiled.
pub struct OutputSchemas {
    schemas: boon::Schemas,
    by_action: BTreeMap<String, boon::SchemaIndex>,
}

impl std::fmt::Debug for OutputSchemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputSchemas").field("actions", &self.by_action.keys().collect::<Vec<_>>()).finish()
    }
}

impl OutputSchemas {
    /// Compiles each action's schema and checks its sample: `(key, output-schema, output-sample)`.
    /// Fails naming the first action without both, whose schema does not compile (or is not of
    /// draft 2020-12), or whose sample the schema rejects.
    pub fn compile<'a>(actions: impl IntoIterator<Item = (&'a str, Option<&'a Value>, Option<&'a Value>)>) -> Result<Self> {
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        let mut schemas = boon::Schemas::new();
        let mut by_action = BTreeMap::new();
        let mut samples = Vec::new();
        for (key, schema, sample) in actions {
            let schema = schema.ok_or_else(|| anyhow!("{key}: declares no output-schema (the JSON Schema of its Ok value)"))?;
            let sample = sample.ok_or_else(|| anyhow!("{key}: declares no output-sample (one real Ok value)"))?;
            match schema.get("$schema") {
                None => {}
                Some(Value::String(s)) if s.trim_end_matches('#') == DRAFT => {}
                // A platform reads `$schema` to choose its validator: anything but this draft's
                // URI (another draft, or not text at all) would be read differently there.
                Some(other) => bail!("{key}: output-schema is of {other}, not of draft 2020-12 ({DRAFT})"),
            }
            let location = format!("urn:zoho-connector:output:{key}");
            compiler.add_resource(&location, schema.clone()).map_err(|e| anyhow!("{key}: output-schema is not a schema: {e}"))?;
            let index = compiler.compile(&location, &mut schemas).map_err(|e| anyhow!("{key}: output-schema does not compile: {e}"))?;
            by_action.insert(key.to_string(), index);
            samples.push((key.to_string(), sample.clone()));
        }
        let compiled = OutputSchemas { schemas, by_action };
        for (key, sample) in samples {
            compiled.check(&key, &sample).map_err(|e| anyhow!("{key}: output-sample does not match output-schema: {e}"))?;
        }
        Ok(compiled)
    }

    /// The schemas of a parsed manifest (`actions.json`).
    pub fn of_manifest(manifest: &super::Manifest) -> Result<Self> {
        Self::compile(manifest.actions.iter().map(|a| (a.key.as_str(), a.output_schema.as_ref(), a.output_sample.as_ref())))
    }

    /// The actions with a schema.
    pub fn actions(&self) -> impl Iterator<Item = &str> {
        self.by_action.keys().map(String::as_str)
    }

    /// Checks one Ok value of `key`: every place the schema rejects, as `JSON pointer: reason`.
    pub fn check(&self, key: &str, value: &Value) -> std::result::Result<(), String> {
        let index = *self.by_action.get(key).ok_or_else(|| format!("action {key} has no output-schema"))?;
        let Err(error) = self.schemas.validate(value, index) else { return Ok(()) };
        let output = error.basic_output();
        let mut found = Vec::new();
        match &output.error {
            boon::OutputError::Branch(units) => {
                for unit in units {
                    if let boon::OutputError::Leaf(kind) = &unit.error {
                        found.push(format!("at {:?} ({}): {kind}", unit.instance_location.to_string(), unit.keyword_location));
                    }
                }
            }
            boon::OutputError::Leaf(kind) => found.push(format!("at {:?}: {kind}", error.instance_location.to_string())),
        }
        if found.is_empty() {
            found.push(error.to_string());
        }
        Err(found.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(schema: Value, sample: Value) -> Result<OutputSchemas> {
        OutputSchemas::compile([("crm-get-record", Some(&schema), Some(&sample))])
    }

    #[test]
    fn a_value_the_schema_rejects_is_named_by_pointer_and_reason() {
        let schema = json!({ "type": "object", "required": ["id"], "properties": { "id": { "type": "string", "pattern": "^[0-9]+$" } } });
        let schemas = one(schema, json!({ "id": "42" })).expect("compiles");
        assert_eq!(schemas.check("crm-get-record", &json!({ "id": "42", "x": 1 })), Ok(()));
        let wrong = schemas.check("crm-get-record", &json!({ "id": 42 })).expect_err("a number is not a string");
        assert!(wrong.contains("\"/id\"") && wrong.contains("want string, but got number"), "{wrong}");
        let missing = schemas.check("crm-get-record", &json!({})).expect_err("id is required");
        assert!(missing.contains("missing properties 'id'"), "{missing}");
        assert!(schemas.check("crm-get-records", &json!({})).expect_err("no schema").contains("crm-get-records"));
    }

    #[test]
    fn a_missing_schema_or_sample_a_broken_schema_and_a_wrong_sample_are_refused() {
        let schema = json!({ "type": "object" });
        let none = OutputSchemas::compile([("crm-get-record", None, Some(&schema))]).expect_err("no schema");
        assert!(none.to_string().contains("crm-get-record: declares no output-schema"), "{none}");
        let none = OutputSchemas::compile([("crm-get-record", Some(&schema), None)]).expect_err("no sample");
        assert!(none.to_string().contains("crm-get-record: declares no output-sample"), "{none}");
        let broken = one(json!({ "type": "objekt" }), json!({})).expect_err("no such type");
        assert!(broken.to_string().contains("crm-get-record: output-schema does not compile"), "{broken}");
        let old = one(json!({ "$schema": "http://json-schema.org/draft-04/schema#" }), json!({})).expect_err("draft 4");
        assert!(old.to_string().contains("not of draft 2020-12"), "{old}");
        for not_text in [json!(2020), json!(null), json!(["https://json-schema.org/draft/2020-12/schema"])] {
            let odd = one(json!({ "$schema": not_text }), json!({})).expect_err("a $schema that is not the draft's URI");
            assert!(odd.to_string().contains("not of draft 2020-12"), "{odd}");
        }
        assert!(one(json!({ "$schema": "https://json-schema.org/draft/2020-12/schema#" }), json!({})).is_ok());
        let wrong = one(schema, json!([])).expect_err("an array is not an object");
        assert!(wrong.to_string().contains("crm-get-record: output-sample does not match output-schema"), "{wrong}");
    }
}
