//! A module's settings listed: `GET /crm/v8/settings/related_lists?module=` (v8 "Related Lists
//! Metadata"; related_lists.json), `/settings/custom_views?module=` (v8 "Custom Views
//! Metadata"; zoho/crm-oas v8.0/custom_views.json) and `/settings/tags?module=` (v8 "Get
//! Tags"; tags.json), each in the shape its file requires.
//!
//! Rules, as Zoho documents them: `module` is mandatory on each (absent: 400
//! REQUIRED_PARAM_MISSING); a module the org lacks is 400 INVALID_MODULE. Zoho's examples name the
//! parameter as `param_name` while related_lists.json's error schemas require `param` (and
//! common.json's both): the details carry both, which satisfies every reading. Custom views page
//! by `page` (from 1) and `per_page` (1 to 200), else INVALID_DATA naming the parameter.

use crate::crm::metadata::{custom_view, default_view, module_id};
use crate::params;
use crate::request::RecordedRequest;
use crate::response::{empty_response, error_response, json_response};
use crate::state::Shared;
use axum::response::Response;
use serde_json::{json, Value};

/// The module a settings request names, one the org has.
fn module_of(shared: &Shared, request: &RecordedRequest) -> Result<String, Response> {
    let Some(module) = request.query_param("module").filter(|m| !m.is_empty()) else {
        return Err(error_response(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", json!({ "param_name": "module", "param": "module" })));
    };
    if !shared.data().modules.contains_key(module) {
        return Err(error_response(400, "INVALID_MODULE", "the module name given seems to be invalid", json!({ "param_name": "module", "param": "module" })));
    }
    Ok(module.to_string())
}

/// The module a lookup field points at (the sandbox's lookups are named for their module).
fn lookup_target(field: &str) -> Option<&'static str> {
    match field {
        "Account_Name" => Some("Accounts"),
        "Contact_Name" => Some("Contacts"),
        _ => None,
    }
}

/// One related list in related_lists.json's `related_list` shape.
fn related_list(parent: &str, related: &str, sequence: usize) -> Value {
    json!({
        "id": module_id(&format!("{parent}/{related}")), "sequence_number": sequence.to_string(), "display_label": related.replace('_', " "),
        "api_name": related, "module": { "api_name": related, "id": module_id(related) }, "name": related, "action": null,
        "href": format!("{parent}/{{ENTITYID}}/{related}"), "type": "default", "visible": true,
        "customize_sort": true, "customize_fields": true, "customize_display_label": true,
        "sort_by": { "api_name": null, "id": null }, "sort_order": null, "fields": [], "status": "visible",
    })
}

/// `GET /settings/related_lists?module=`: Notes, and each module with a lookup to this one
/// (the related lists Get Related Records reads); 204 when there are none.
pub fn related_lists(shared: &Shared, request: &RecordedRequest) -> Response {
    let module = match module_of(shared, request) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let data = shared.data();
    let mut names: Vec<&str> =
        data.modules.iter().filter(|(name, m)| **name != module && m.fields.iter().any(|f| lookup_target(&f.api_name) == Some(module.as_str()))).map(|(n, _)| n.as_str()).collect();
    if module != "Notes" && data.modules.contains_key("Notes") {
        names.push("Notes");
    }
    if names.is_empty() {
        return empty_response(204);
    }
    let lists: Vec<Value> = names.iter().enumerate().map(|(i, related)| related_list(&module, related, i + 1)).collect();
    json_response(200, &json!({ "related_lists": lists }))
}

/// `GET /settings/custom_views?module=`: the module's "All" view (its default), and two of the
/// user's, with an Unicode name among them; paged.
pub fn custom_views(shared: &Shared, request: &RecordedRequest) -> Response {
    let module = match module_of(shared, request) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let (page, per_page) = match (params::page(request), params::per_page(request)) {
        (Ok(page), Ok(per_page)) => (page, per_page),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let views = [default_view(&module), custom_view(&module, "My open items", false), custom_view(&module, "Führungskräfte ★ 東京", false)];
    let slice: Vec<Value> = views.iter().skip((page - 1).saturating_mul(per_page)).take(per_page).cloned().collect();
    let more = page.saturating_mul(per_page) < views.len();
    let translation = json!({ "public_views": "Public Views", "other_users_views": "Other User's Views", "shared_with_me": "Shared With Me", "created_by_me": "Created By Me" });
    let info = json!({ "per_page": per_page, "count": slice.len(), "page": page, "more_records": more, "default": views[0]["id"], "translation": translation });
    json_response(200, &json!({ "custom_views": slice, "info": info }))
}

/// Tags a module may have (the sandbox's allowance, reported as `info.allowed_count`).
const ALLOWED_TAGS: usize = 100;

/// The tags an org has made for its main modules before any step runs (tags live in the
/// module's settings, not only on records), colours from tags.json's `color_code` enum.
const SEEDED_TAGS: [(&str, &str); 3] = [("Hot", "#F17574"), ("Partner", "#63C57E"), ("Rückruf ☎ 東京", "#57B1FD")];
const TAGGED_MODULES: [&str; 4] = ["Leads", "Contacts", "Accounts", "Deals"];

/// `GET /settings/tags?module=`: the org's tags of the module and those on its records (each once, by name), in
/// tags.json's `Tag` shape, with `info` {count, allowed_count}.
pub fn tags(shared: &Shared, request: &RecordedRequest) -> Response {
    let module = match module_of(shared, request) {
        Ok(m) => m,
        Err(e) => return e,
    };
    if request.query_param("my_tags").is_some_and(|v| v != "true" && v != "false") {
        return params::bad_param("my_tags", "invalid data");
    }
    let data = shared.data();
    let seeded = SEEDED_TAGS.iter().filter(|_| TAGGED_MODULES.contains(&module.as_str()));
    let mut tags: Vec<Value> = seeded.map(|(name, color)| json!({ "name": name, "id": module_id(&format!("{module}#tag#{name}")), "color_code": color })).collect();
    for tag in data.modules[module.as_str()].records.values().filter_map(|r| r.get("Tag")).filter_map(Value::as_array).flatten() {
        if !tags.iter().any(|t| t["name"] == tag["name"]) {
            tags.push(tag.clone());
        }
    }
    let owner = json!({ "name": "Sandbox User", "id": crate::accounts::account::OWNER_ID });
    let tags: Vec<Value> = tags
        .into_iter()
        .map(|t| json!({ "name": t["name"], "id": t["id"], "color_code": t["color_code"], "created_time": "2024-01-02T03:04:05+00:00", "modified_time": "2024-01-02T03:04:05+00:00", "created_by": owner, "modified_by": owner }))
        .collect();
    json_response(200, &json!({ "info": { "count": tags.len(), "allowed_count": ALLOWED_TAGS }, "tags": tags }))
}
