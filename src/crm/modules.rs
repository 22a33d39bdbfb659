//! The org's modules and a module's fields, described for forms. `/settings/modules` is read
//! here once for every caller (list-modules, and sync's discover): each module's few members
//! are read from Zoho's text, the rest skipped unread, within the metadata size limit.

use crate::client::{ApiCall, Client};
use crate::crm::fields::{cut, module_field_descriptions, MAX_LABEL_BYTES};
use crate::crm::json_schema;
use crate::crm::response::{answer_error, content_required, metadata_sized};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::json;
use crate::validate;
use crate::wit::crm::{DescribeModuleInput, ListModulesInput};
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;

/// Modules one org may list: Zoho's standard ones plus its custom-module allowance, many times over.
pub const MAX_MODULES: usize = 1_000;

#[derive(Deserialize)]
struct ModulesAnswer<'a> {
    #[serde(borrow, default)]
    modules: Option<&'a RawValue>,
}

/// The members of a module kept, raw so an odd type is a null, not a failure.
#[derive(Deserialize, Default)]
struct ModuleMeta<'a> {
    #[serde(borrow, default)]
    api_name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    module_name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    singular_label: Option<&'a RawValue>,
    #[serde(borrow, default)]
    plural_label: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    generated_type: Option<&'a RawValue>,
    #[serde(borrow, default)]
    api_supported: Option<&'a RawValue>,
    #[serde(borrow, default)]
    creatable: Option<&'a RawValue>,
    #[serde(borrow, default)]
    editable: Option<&'a RawValue>,
    #[serde(borrow, default)]
    deletable: Option<&'a RawValue>,
    #[serde(borrow, default)]
    viewable: Option<&'a RawValue>,
    #[serde(borrow, default)]
    convertable: Option<&'a RawValue>,
}

/// One module as list-modules shows it; a member Zoho left out (or sent oddly) is null.
#[derive(Serialize, Debug, PartialEq, Default)]
pub struct ModuleSummary {
    pub api_name: String,
    pub module_name: Option<String>,
    pub singular_label: Option<String>,
    pub plural_label: Option<String>,
    pub id: Option<String>,
    /// default, custom, linking, subform ...
    pub generated_type: Option<String>,
    pub api_supported: Option<bool>,
    pub creatable: Option<bool>,
    pub editable: Option<bool>,
    pub deletable: Option<bool>,
    pub viewable: Option<bool>,
    pub convertable: Option<bool>,
}

fn text(raw: Option<&RawValue>) -> Option<String> {
    raw.and_then(json::raw_str).map(|t| cut(t, MAX_LABEL_BYTES))
}

fn boolean(raw: Option<&RawValue>) -> Option<bool> {
    match raw.map(|r| r.get().trim()) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    }
}

/// Every module `/settings/modules` lists (modules without an API name skipped).
pub fn org_modules(client: &Client) -> Result<Vec<ModuleSummary>> {
    let response = client.send(ApiCall::new(Method::Get, "/crm/v8/settings/modules"))?;
    let response = metadata_sized(content_required(&response)?)?;
    let answer: ModulesAnswer = serde_json::from_slice(&response.body).map_err(|e| answer_error(response, json::JsonError::Invalid(e.to_string())))?;
    // Every org has modules: an answer without the list is not Zoho's, not an empty org.
    let listed = match answer.modules {
        Some(list) if list.get().starts_with('[') => json::items(list.get().as_bytes(), MAX_MODULES).map_err(|e| answer_error(response, e))?,
        _ => return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho answered /settings/modules without a modules list: {:?}", response.body_start())).with_status(response.status)),
    };
    Ok(listed
        .iter()
        .filter_map(|m| {
            let meta: ModuleMeta = serde_json::from_str(m.get()).unwrap_or_default();
            Some(ModuleSummary {
                api_name: text(meta.api_name).filter(|n| !n.is_empty())?,
                module_name: text(meta.module_name),
                singular_label: text(meta.singular_label),
                plural_label: text(meta.plural_label),
                id: text(meta.id),
                generated_type: text(meta.generated_type),
                api_supported: boolean(meta.api_supported),
                creatable: boolean(meta.creatable),
                editable: boolean(meta.editable),
                deletable: boolean(meta.deletable),
                viewable: boolean(meta.viewable),
                convertable: boolean(meta.convertable),
            })
        })
        .collect())
}

pub fn list_modules(client: &Client, input: &ListModulesInput) -> Result<String> {
    let supported_only = input.api_supported_only.unwrap_or(true);
    let modules: Vec<ModuleSummary> = org_modules(client)?.into_iter().filter(|m| !supported_only || m.api_supported == Some(true)).collect();
    serde_json::to_string(&json!({ "modules": modules })).map_err(|e| ZohoError::new(ErrorKind::Internal, format!("cannot encode the modules: {e}")))
}

pub fn describe_module(client: &Client, input: &DescribeModuleInput) -> Result<String> {
    let module = validate::module_name(input.record_type.trim())?;
    let fields = module_field_descriptions(client, module)?;
    let schema = json_schema::record_schema(module, &fields);
    serde_json::to_string(&json!({ "module": module, "fields": fields, "json_schema": schema }))
        .map_err(|e| ZohoError::new(ErrorKind::Internal, format!("cannot encode the module's description: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn listed(answer: &str, api_supported_only: Option<bool>) -> Result<serde_json::Value> {
        let fixture = Fixture::default();
        let transport = &fixture.transport;
        transport.answer(200, answer);
        let client = fixture.client();
        list_modules(&client, &ListModulesInput { api_supported_only }).map(|t| serde_json::from_str(&t).unwrap_or_default())
    }

    #[test]
    fn modules_are_read_member_by_member() {
        let answer = r#"{"modules":[{"api_name":"Leads","api_supported":true,"creatable":true,"plural_label":"Leads","profiles":[{"x":1}]},{"api_name":"Visits","api_supported":false},{"api_supported":true},{"api_name":7,"api_supported":true},"odd",{"api_name":"Pets","api_supported":"true","creatable":1}]}"#;
        let out = listed(answer, None).unwrap();
        assert_eq!(
            out,
            json!({ "modules": [{ "api_name": "Leads", "module_name": null, "singular_label": null, "plural_label": "Leads", "id": null, "generated_type": null, "api_supported": true, "creatable": true, "editable": null, "deletable": null, "viewable": null, "convertable": null }] })
        );
        let all = listed(answer, Some(false)).unwrap();
        let names: Vec<&str> = all["modules"].as_array().unwrap().iter().filter_map(|m| m["api_name"].as_str()).collect();
        assert_eq!(names, ["Leads", "Visits", "Pets"]);
        // An answer without the list is not an empty org (found by an outside attack).
        for odd in [r#"{"modules":null}"#, r#"{"modules":{}}"#, r#"{}"#] {
            assert_eq!(listed(odd, None).unwrap_err().kind, ErrorKind::Zoho, "{odd}");
        }
        assert_eq!(listed(r#"{"modules":[]}"#, None).unwrap(), json!({ "modules": [] }));
        assert_eq!(listed("<html>", None).unwrap_err().kind, ErrorKind::Zoho);
        let many = format!("{{\"modules\":[{}]}}", vec!["{}"; MAX_MODULES + 1].join(","));
        assert_eq!(listed(&many, None).unwrap_err().kind, ErrorKind::Zoho);
        let long = format!("{{\"modules\":[{{\"api_name\":\"L\",\"api_supported\":true,\"plural_label\":\"{}\"}}]}}", "ü".repeat(1_000));
        assert_eq!(listed(&long, None).unwrap()["modules"][0]["plural_label"].as_str().map(str::len), Some(254));
    }
}
