//! Zoho CRM v8 metadata as the sandbox serves it: `/settings/modules`, `/settings/fields` and
//! `/org`, in the full shape Zoho's OpenAPI files (modules.json, fields.json, org.json) require
//! (`/users` is `crm::users`). Each shape is written once; only the few values that differ are passed in.

use crate::accounts::account;
use crate::clock::Clock;
use crate::crm::{field_values, standard_fields};
use crate::request::RecordedRequest;
use crate::response::{error_response, json_response};
use crate::state::{FieldDef, Module, Shared};
use axum::response::Response;
use serde_json::{json, Value};

/// The profile every module and field grants access to (profiles.json is not shipped; Zoho's shape).
const PROFILE: (&str, &str) = ("Administrator", "5725767000000026011");

/// A module's id: stable for its name, so `/settings/modules` and the DUPLICATE_DATA error's
/// `duplicate_record.module` agree (FNV-1a; modules are few, so ids do not collide in practice).
pub fn module_id(name: &str) -> String {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("57257670000001{:05}", hash % 100_000)
}

fn api_name_and_id(api_name: Value, id: Value) -> Value {
    json!({ "api_name": api_name, "id": id })
}

/// The objects' keys in one object (`json!` cannot nest Zoho's 60-100 keys in one call).
fn merged<const N: usize>(parts: [Value; N]) -> Value {
    let mut all = serde_json::Map::new();
    for part in parts {
        if let Value::Object(keys) = part {
            all.extend(keys);
        }
    }
    Value::Object(all)
}

/// One module of `/settings/modules` (modules.json `modules`). The component reads `api_name`,
/// `api_supported` and `generated_type`; the rest is Zoho's shape with a standard module's values.
fn module_entry(name: &str, sequence: usize, api_supported: bool, generated_type: &str) -> Value {
    let custom = generated_type == "custom";
    let own = json!({
        // The files' own name for this key (not `global_search_supported`); modules.json requires it.
        "common.search_supported": true,
        "id": module_id(name),
        "api_name": name,
        "module_name": name,
        "plural_label": name,
        "singular_label": name.strip_suffix('s').unwrap_or(name),
        "description": null,
        "api_supported": api_supported,
        "generated_type": generated_type,
        "sequence_number": sequence,
        "visibility": 1,
        "visible": true,
        "show_as_tab": true,
        "creatable": api_supported,
        "editable": api_supported,
        "viewable": true,
        "deletable": custom,
        "convertable": name == "Leads",
        "quick_create": api_supported,
        "recycle_bin_on_delete": true,
        "inventory_template_supported": false,
        "presence_sub_menu": false,
        "triggers_supported": api_supported,
        "isBlueprintSupported": api_supported,
        "webform_supported": api_supported,
    });
    // What every module of the sandbox shares.
    let standard = json!({
        "chart_view": false,
        "chart_view_supported": true,
        "emailTemplate_support": true,
        "email_parser_supported": false,
        "filter_supported": true,
        "filter_status": true,
        "feeds_required": false,
        "scoring_supported": true,
        "kanban_view": false,
        "kanban_view_supported": true,
        "zia_view": false,
        "track_current_data": true,
        "web_link": null,
        "modified_time": null,
        "modified_by": { "name": "Sandbox User", "id": account::OWNER_ID },
        "parent_module": null,
        "activity_badge": "Enabled",
        "per_page": 10,
        "profile_count": 1,
        "profiles": [{ "name": PROFILE.0, "id": PROFILE.1 }],
        "business_card_field_limit": 5,
        "business_card_fields": [],
        "arguments": [],
        "$field_states": [],
        "$properties": [],
        "$on_demand_properties": [],
        "search_layout_fields": [],
        "lookup_field_properties": { "fields": [] },
        "related_lists": [],
        "related_list_properties": { "sort_by": api_name_and_id(Value::Null, Value::Null), "fields": [], "sort_order": null },
        "display_field": null,
        "layouts": [],
        "fields": [],
        // modules.json requires the module's default view here (custom_views.json's shape).
        "custom_view": default_view(name),
        "default_mapping_fields": [],
        "layout_associations": [],
    });
    merged([own, standard])
}

/// One view in custom_views.json's `custom_views` shape.
pub fn custom_view(module: &str, name: &str, system: bool) -> Value {
    let owner = json!({ "name": "Sandbox User", "id": account::OWNER_ID });
    json!({
        "id": module_id(&format!("{module}#{name}")), "display_value": name, "name": name, "system_name": if system { json!(name.replace(' ', "").to_uppercase()) } else { Value::Null },
        "category": if system { "public_views" } else { "created_by_me" }, "created_time": "2024-01-02T03:04:05+00:00", "modified_time": "2024-01-02T03:04:05+00:00",
        "last_accessed_time": null, "created_by": owner, "modified_by": owner, "module": { "name": module, "id": module_id(module) },
        "criteria": { "comparator": null, "field": { "api_name": null, "id": null }, "value": null, "group_operator": null, "group": [] },
        "default": system, "system_defined": system, "locked": false, "favorite": null, "offline": false,
        "access_type": if system { "public" } else { "only_to_me" }, "shared_to": [], "fields": [], "sort_by": { "id": module_id(&format!("{module}.Created_Time")), "api_name": "Created_Time" }, "sort_order": "desc",
    })
}

/// A module's "All" view, its default (the module's `custom_view` in `/settings/modules`, and
/// the first of `/settings/custom_views`).
pub fn default_view(module: &str) -> Value {
    custom_view(module, &format!("All {}", module.replace('_', " ")), true)
}

/// Zoho's JSON type and UI type for a data type the sandbox stores.
fn field_kind(data_type: &str) -> (&'static str, u32) {
    match data_type {
        "email" => ("string", 25),
        "phone" => ("string", 33),
        "website" => ("string", 21),
        "textarea" => ("string", 3),
        "picklist" => ("string", 2),
        "multiselectpicklist" => ("jsonarray", 100),
        "integer" => ("integer", 32),
        "bigint" => ("string", 1),
        "currency" => ("double", 36),
        "double" => ("double", 38),
        "percent" => ("double", 37),
        "boolean" => ("boolean", 301),
        "date" => ("string", 24),
        "lookup" => ("jsonobject", 133),
        "ownerlookup" => ("jsonobject", 8),
        "datetime" => ("string", 333),
        "subform" => ("jsonarray", 733),
        "fileupload" => ("jsonarray", 101),
        "imageupload" => ("jsonarray", 106),
        "profileimage" => ("string", 4),
        "multiselectlookup" => ("jsonarray", 786),
        _ => ("string", 1),
    }
}

/// The `actual_value`s of a picklist of the modules outside the four standard ones (as a fresh
/// Zoho org has them), by module and field.
fn picklist_values(module: &str, field: &str) -> &'static [&'static str] {
    match (module, field) {
        ("Tasks", "Status") => &["Not Started", "In Progress", "Completed"],
        ("Campaigns", "Status") => &["Planning", "Active", "Complete"],
        ("Campaigns", "Type") => &["Webinar", "Email", "Trade Show"],
        ("Calls", "Call_Type") => &["Outbound", "Inbound", "Missed"],
        ("Quotes", "Quote_Stage") => &["Draft", "Negotiation", "Delivered", "Closed Won"],
        ("Products", "Tax") => &["Sales Tax", "Vat", "Service Tax"],
        _ => &[],
    }
}

/// `pick_list_values` of a field (fields.json `pick_list_values`).
fn pick_list_entries(values: &[&str], index: usize) -> Value {
    let values = values
        .iter()
        .enumerate()
        .map(|(n, v)| {
            json!({
                "display_value": v, "actual_value": v, "reference_value": v, "sequence_number": n + 1, "type": "used",
                "id": format!("57257670000{:03}{:05}", n, index), "colour_code": null, "expected_data_type": "string", "_delete": false, "show_value": true,
            })
        })
        .collect();
    Value::Array(values)
}

/// `lookup` of a lookup field (fields.json `lookup`), null for other fields.
fn lookup_entry(field: &Described, label: &str) -> Value {
    match (field.data_type, field.target) {
        ("lookup", Some(target)) => json!({
            "display_label": label, "api_name": field.api_name, "id": null,
            "module": { "api_name": target, "id": module_id(target) },
            "query_details": {}, "revalidate_filter_during_edit": false, "show_fields": [],
        }),
        _ => Value::Null,
    }
}

/// What `/settings/fields` says of one field, gathered from the module's own list and, for the
/// standard modules and their subforms, Zoho's standard field (`crm::standard_fields`).
struct Described<'a> {
    api_name: &'a str,
    data_type: &'a str,
    length: u32,
    read_only: bool,
    mandatory: bool,
    display: bool,
    unique: bool,
    picklist: &'a [&'a str],
    target: Option<&'a str>,
}

impl<'a> Described<'a> {
    /// A field of a module the sandbox stores.
    fn of_module(module_name: &'a str, module: &'a Module, field: &'a FieldDef) -> Self {
        let name = field.api_name.as_str();
        let spec = standard_fields::spec(module_name, name);
        let system = matches!(name, "id" | "Created_By" | "Modified_By" | "Created_Time" | "Modified_Time");
        let length = spec.map_or(0, |s| s.length);
        Described {
            api_name: name,
            data_type: field.data_type,
            length: if length == 0 { field_values::usual_length(field.data_type) } else { length },
            read_only: system || spec.is_some_and(|s| s.read_only),
            mandatory: name == module.mandatory || module.also_mandatory.contains(&name),
            display: name == module.mandatory,
            unique: module.unique.contains(&name),
            picklist: spec.map_or_else(|| picklist_values(module_name, name), |s| s.picklist),
            target: spec.and_then(|s| s.target).or(match (module_name, name) {
                (_, "Account_Name") if module_name != "Accounts" => Some("Accounts"),
                (_, "Contact_Name") => Some("Contacts"),
                _ => None,
            }),
        }
    }

    /// A field of a subform module.
    fn of_subform(spec: &'a standard_fields::Spec) -> Self {
        let length = if spec.length == 0 { field_values::usual_length(spec.data_type) } else { spec.length };
        Described {
            api_name: spec.api_name,
            data_type: spec.data_type,
            length,
            read_only: spec.read_only,
            mandatory: false,
            display: false,
            unique: false,
            picklist: spec.picklist,
            target: spec.target,
        }
    }
}

/// One field of `/settings/fields` (fields.json `fields`). The component reads `api_name` and
/// `data_type`; the label, id and flags follow from the field's place in its module.
fn field_entry(index: usize, field: &Described) -> Value {
    let name = field.api_name;
    let (json_type, ui_type) = field_kind(field.data_type);
    let length = field.length;
    let custom = name.ends_with("__c");
    let system = field.read_only;
    let label = name.replace('_', " ");
    let null_pair = || api_name_and_id(Value::Null, Value::Null);
    let own = json!({
        "id": format!("57257670000000{:05}", index),
        "api_name": name,
        "data_type": field.data_type,
        "field_label": label,
        "display_label": label,
        "column_name": name.replace('_', "").to_ascii_uppercase(),
        "json_type": json_type,
        "ui_type": ui_type,
        "length": length,
        "decimal_place": if matches!(field.data_type, "currency" | "double" | "percent") { json!(2) } else { Value::Null },
        "display_type": -1,
        "show_type": 7,
        "category": if custom { 2 } else { 0 },
        "created_source": if custom { "custom" } else { "default" },
        "type": "used",
    });
    let flags = json!({
        "custom_field": custom,
        "system_mandatory": field.mandatory,
        "read_only": system,
        "field_read_only": system,
        "visible": true,
        "available_in_user_layout": true,
        "display_field": field.display,
        "filterable": field.data_type != "subform",
        "sortable": field.data_type != "subform",
        "searchable": field.data_type != "subform",
        "mass_update": !system,
        "webhook": true,
        "virtual_field": false,
        "blueprint_supported": !system,
        "businesscard_supported": !system,
        "separator": false,
        "number_separator": false,
        "static_field": false,
        "enable_colour_code": false,
        "colour_code_enabled_by_system": null,
        "pick_list_values_sorted_lexically": false,
        "hipaa_compliance_enabled": false,
        "_update_existing_records": false,
        "quick_sequence_number": (index + 1).to_string(),
        "additional_column": null,
        "created_time": null,
        "modified_time": null,
    });
    let settings = json!({
        "customizable_properties": [],
        "layout_associations": [],
        "pick_list_values": pick_list_entries(field.picklist, index),
        "allowed_modules": [],
        "file_upolad_optionlist": [],
        "profiles": [{ "name": PROFILE.0, "id": PROFILE.1, "permission_type": if system { "read_only" } else { "read_write" } }],
        "operation_type": { "web_update": !system, "api_create": !system, "web_create": !system, "api_update": !system },
        "view_type": { "view": true, "edit": !system, "quick_create": false, "create": !system },
        "unique": if field.unique { json!({ "casesensitive": "0" }) } else { Value::Null },
        "associated_module": null_pair(),
        "sub_module": null_pair(),
        "refer_from_field": null_pair(),
        "email_parser": { "fields_update_supported": false, "record_operations_supported": false },
        "external": { "show": false, "type": null },
        "multiuserlookup": {
            "display_label": null, "linking_module": null_pair(), "connected_module": null_pair(), "lookup_apiname": null,
            "api_name": null, "connectedfield_apiname": null, "connectedlookup_apiname": null, "id": null, "record_access": null,
        },
        "autonumber": { "starting_number_length": 0, "prefix": null, "suffix": null, "start_number": null },
        "crypt": { "mode": null, "status": null },
        "tooltip": { "name": "", "value": "" },
        "history_tracking": { "module": {}, "duration_configured_field": null_pair() },
        "association_details": { "related_field": null_pair(), "lookup_field": null_pair() },
        "hipaa_compliance": { "restricted_in_export": false, "restricted": false },
        "sharing_properties": {},
        "convert_mapping": {},
        "textarea": {},
        "multi_module_lookup": null,
        "currency": null,
        "lookup": lookup_entry(field, &label),
        // fields.json `subform`: the subform module whose own fields `?module=` lists.
        "subform": match (field.data_type, field.target) {
            ("subform", Some(target)) => json!({ "module": target, "id": module_id(target) }),
            _ => Value::Null,
        },
        "formula": null,
        "multiselectlookup": null,
        "rollup_summary": null,
        "auto_number": null,
        "common.picklist": null,
    });
    merged([own, flags, settings])
}

/// `GET /settings/fields?module=...`: every field of the module.
pub fn fields(shared: &Shared, request: &RecordedRequest) -> Response {
    let Some(name) = request.query_param("module") else {
        return error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "module" }));
    };
    let data = shared.data();
    // A subform module's own fields ("Subform API": `fields?module={Sub_form_api_name}`).
    if let Some(specs) = standard_fields::subform(name) {
        let fields: Vec<Value> = specs.iter().enumerate().map(|(i, s)| field_entry(900 + i, &Described::of_subform(s))).collect();
        return json_response(200, &json!({ "fields": fields }));
    }
    // fields.json's INVALID_MODULE (InvalidParamDetails): the details name the parameter, not a path index.
    let Some(module) = data.modules.get(name) else {
        return error_response(400, "INVALID_MODULE", "the module name given seems to be invalid", json!({ "api_name": "module" }));
    };
    let fields: Vec<Value> = module.fields.iter().enumerate().map(|(i, f)| field_entry(i, &Described::of_module(name, module, f))).collect();
    json_response(200, &json!({ "fields": fields }))
}

/// Modules of every org that only the web UI shows (`api_supported: false`).
pub const NOT_API_SUPPORTED: [&str; 4] = ["Home", "Feeds", "Reports", "Visits"];

/// `GET /settings/modules`: every module, API-supported or not, standard or custom.
pub fn modules(shared: &Shared) -> Response {
    let data = shared.data();
    let mut names: Vec<&String> = data.modules.keys().collect();
    names.sort();
    let mut modules: Vec<Value> = names.iter().enumerate().map(|(i, name)| module_entry(name, i + 1, true, crate::crm::module_reach::generated_type(name, &data.modules[name.as_str()]))).collect();
    // Zoho lists its web-only modules too, marked as out of the API's reach.
    for name in NOT_API_SUPPORTED {
        modules.push(module_entry(name, modules.len() + 1, false, "default"));
    }
    json_response(200, &json!({ "modules": modules }))
}

/// `GET /org`: the organization with its license details (edition, licensed users), which the
/// component reads; the rest is org.json's shape.
pub fn org(shared: &Shared) -> Response {
    let limits = shared.limits().clone();
    let license_details = json!({
        "paid": limits.edition != "free", "paid_type": limits.edition, "users_license_purchased": limits.users,
        "paid_expiry": Clock::zoho_time(shared.clock.now() + chrono::Duration::days(365)),
        "trial_type": null, "trial_expiry": null, "trial_action": "",
    });
    let company = json!({
        "id": "5725767000000021001", "company_name": "Zylker", "alias": null, "description": null,
        "country": "US", "country_code": "US", "state": null, "city": null, "street": null, "zip": null,
        "phone": "+1 555 0100", "mobile": null, "fax": null, "primary_email": "admin@zylker.com",
        "time_zone": "America/Los_Angeles", "iso_code": "USD", "currency": "US Dollar - USD", "currency_symbol": "$", "currency_locale": "en_US",
    });
    let account = json!({
        "license_details": license_details,
        "domain_name": "org10101010", "primary_zuid": "10101011", "zgid": "10101010", "ezgid": "10101010", "zia_zgid": 10101010,
        "zia_portal_id": null, "photo_id": null, "call_icon": "",
        "mc_status": false, "gapps_enabled": false, "translation_enabled": false, "deletable_org_account": false, "privacy_settings": false,
        "hipaa_compliance_enabled": false, "lite_users_enabled": false, "oauth_presence": false,
        "max_per_page": 200,
        "hierarchy_preferences": { "type": "Role_Hierarchy", "strictly_reporting": false },
        "checkin_preferences": { "restricted_event_types": null },
    });
    json_response(200, &json!({ "org": [merged([company, account])] }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// A subform's own fields answer `?module={subform}`; the parent's field names its module.
    #[test]
    fn a_subform_module_lists_its_own_fields() {
        let shared = Shared::new();
        crate::seed::seed(&shared);
        let request = |module: &str| RecordedRequest { path: "/crm/v8/settings/fields".into(), query: vec![("module".into(), module.into())], ..RecordedRequest::for_test("GET", Vec::new()) };
        let body = |response: Response| {
            let bytes = futures_body(response);
            serde_json::from_slice::<Value>(&bytes).unwrap_or_default()
        };
        let competitors = body(fields(&shared, &request("Competitors")));
        let names: Vec<&str> = competitors["fields"].as_array().into_iter().flatten().filter_map(|f| f["api_name"].as_str()).collect();
        assert_eq!(names, ["Competitor", "Strength", "Quoted_Price", "Website"]);
        let deals = body(fields(&shared, &request("Deals")));
        let subform = deals["fields"].as_array().into_iter().flatten().find(|f| f["api_name"] == "Competitors").cloned().unwrap_or_default();
        assert_eq!(subform["subform"], json!({ "module": "Competitors", "id": module_id("Competitors") }));
        assert_eq!(subform["json_type"], "jsonarray");
        let account = deals["fields"].as_array().into_iter().flatten().find(|f| f["api_name"] == "Account_Name").cloned().unwrap_or_default();
        assert_eq!(account["lookup"]["module"]["api_name"], "Accounts");
        assert_eq!(body(fields(&shared, &request("Nowhere")))["code"], "INVALID_MODULE");
    }

    fn futures_body(response: Response) -> Vec<u8> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(async { axum::body::to_bytes(response.into_body(), usize::MAX).await.map(|b| b.to_vec()).unwrap_or_default() })
    }

    #[test]
    fn seeded_modules_have_distinct_ids() {
        let shared = Shared::new();
        crate::seed::seed(&shared);
        let names: Vec<String> = shared.data().modules.keys().cloned().chain(NOT_API_SUPPORTED.map(String::from)).collect();
        let ids: HashSet<String> = names.iter().map(|n| module_id(n)).collect();
        assert_eq!(ids.len(), names.len(), "{names:?}");
        assert!(ids.iter().all(|id| id.len() == 19 && id.bytes().all(|b| b.is_ascii_digit())));
    }
}
