//! OAuth scopes as Zoho enforces them: a token carries the scopes it was granted, and a CRM
//! request its scopes do not cover is answered 401 `OAUTH_SCOPE_MISMATCH` (v8 "Status Codes";
//! each API page's "Scope" section, cited per endpoint below).
//!
//! The grammar (v8 "Scopes"; "Select API Scopes"): `service.scope_name[.sub].operation`, with
//! operations ALL, READ, CREATE, UPDATE, DELETE, WRITE (an alias for CREATE, UPDATE and
//! DELETE) and CUSTOM; a scope covers the narrower ones under it (`ZohoCRM.modules.ALL` covers
//! `ZohoCRM.modules.leads.READ`, `ZohoCRM.settings.ALL` covers `ZohoCRM.settings.fields.READ`),
//! compared without case. Module scopes name Zoho's lower-case module names (leads, accounts,
//! ..., pricebooks, salesorders) and `custom` for every custom module.
//!
//! A token issued without scopes (the tests' default `issue_token`) is not limited: every
//! existing test keeps working, and a test limits a token by issuing it with scopes.

use crate::request::RecordedRequest;
use crate::response::error_response;
use axum::response::Response;
use serde_json::{json, Value};

/// Does `granted` allow what `required` names?
pub fn covers(granted: &str, required: &str) -> bool {
    let parts = |s: &str| -> Option<(String, Vec<String>, String)> {
        let mut p: Vec<String> = s.trim().split('.').map(str::to_ascii_lowercase).collect();
        if p.len() < 3 || p.iter().any(String::is_empty) {
            return None;
        }
        let operation = p.pop()?;
        let service = p.remove(0);
        Some((service, p, operation))
    };
    let (Some((gs, gn, go)), Some((rs, rn, ro))) = (parts(granted), parts(required)) else { return false };
    let op = go == "all" || go == ro || (go == "write" && ["create", "update", "delete"].contains(&ro.as_str()));
    if gs != rs {
        return false;
    }
    // Zoho Books' full access covers every Books scope.
    if gs == "zohobooks" && gn == ["fullaccess"] {
        return true;
    }
    gn.len() <= rn.len() && gn.iter().zip(&rn).all(|(a, b)| a == b) && op
}

/// A scope list as granted: separated by commas, spaces or both.
pub fn list(text: &str) -> Vec<String> {
    text.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Zoho's scope name for a module's API name: the standard modules' lower-case names (v8
/// "Scopes": leads, accounts, contacts, deals, campaigns, tasks, cases, events, calls,
/// solutions, products, vendors, pricebooks, quotes, salesorders, purchaseorders, invoices,
/// notes, ...), `custom` for any other.
pub fn module_scope_name(module: &str) -> &'static str {
    match module {
        "Leads" => "leads",
        "Accounts" => "accounts",
        "Contacts" => "contacts",
        "Deals" => "deals",
        "Campaigns" => "campaigns",
        "Tasks" => "tasks",
        "Cases" => "cases",
        "Events" => "events",
        "Calls" => "calls",
        "Solutions" => "solutions",
        "Products" => "products",
        "Vendors" => "vendors",
        "Price_Books" => "pricebooks",
        "Quotes" => "quotes",
        "Sales_Orders" => "salesorders",
        "Purchase_Orders" => "purchaseorders",
        "Invoices" => "invoices",
        "Notes" => "notes",
        "Attachments" => "attachments",
        "Appointments__s" => "appointments",
        "Services__s" => "services",
        _ => "custom",
    }
}

/// The module a COQL query reads (`from X`, outside quoted text).
fn coql_module(query: &str) -> Option<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.chars() {
        if quoted {
            quoted = c != '\'';
            continue;
        }
        match c {
            '\'' => quoted = true,
            c if c.is_whitespace() || c == ',' || c == '(' || c == ')' => words.extend((!current.is_empty()).then(|| std::mem::take(&mut current))),
            c => current.push(c),
        }
    }
    words.extend((!current.is_empty()).then_some(current));
    let at = words.iter().position(|w| w.eq_ignore_ascii_case("from"))?;
    words.get(at + 1).cloned()
}

fn operation_of(method: &str) -> &'static str {
    match method {
        "GET" => "READ",
        "POST" => "CREATE",
        "PUT" | "PATCH" => "UPDATE",
        "DELETE" => "DELETE",
        _ => "ALL",
    }
}

/// What a request needs: every inner list must have one scope covered (all of, any of).
pub fn required(request: &RecordedRequest) -> Vec<Vec<String>> {
    let path = request.path.strip_prefix("/crm/").unwrap_or("");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let op = operation_of(&request.method);
    let module = |m: &str, op: &str| vec![format!("ZohoCRM.modules.{}.{op}", module_scope_name(m))];
    let one = |s: String| vec![vec![s]];
    match (request.method.as_str(), segments.as_slice()) {
        // Composite API (v8): ZohoCRM.composite_requests.CUSTOM, and each sub-request its own.
        ("POST", [_, "__composite_requests"]) => one("ZohoCRM.composite_requests.CUSTOM".into()),
        // Bulk Read (v8 "Create Bulk Read job", "Get the Status of the Bulk Read Job", "Download
        // Bulk Read Result"): ZohoCRM.bulk.READ and the module's READ (named in the job's body).
        (_, ["bulk", _, "read", ..]) => {
            let mut needs = one("ZohoCRM.bulk.READ".into());
            if let Some(m) = request.json().and_then(|b| b.pointer("/query/module/api_name").and_then(Value::as_str).map(str::to_string)) {
                needs.push(module(&m, "READ"));
            }
            needs
        }
        // Bulk Write (v8 "Create Bulk Write Job": ZohoCRM.bulk.CREATE and the module's CREATE;
        // "Get Bulk Write Job Details": ZohoCRM.bulk.CREATE, a GET included).
        (_, ["bulk", _, "write", ..]) => {
            let mut needs = one("ZohoCRM.bulk.CREATE".into());
            if let Some(m) = request.json().and_then(|b| b.pointer("/resource/0/module/api_name").and_then(Value::as_str).map(str::to_string)) {
                needs.push(module(&m, "CREATE"));
            }
            needs
        }
        // "Upload File" (v8 bulk write): scope=ZohoFiles.files.ALL.
        ("POST", [_, "upload"]) => one("ZohoFiles.files.ALL".into()),
        (_, ["bulk", ..]) => one(format!("ZohoCRM.bulk.{op}")),
        // List of Available APIs: ZohoCRM.apis.READ on Zoho's page; its apis.json names
        // ZohoCRM.settings.modules instead. Either is taken.
        ("GET", [_, "__apis"]) => vec![vec!["ZohoCRM.apis.READ".into(), "ZohoCRM.settings.modules.READ".into()]],
        // Get Records through COQL Query (v8): ZohoCRM.coql.READ and the module's READ.
        ("POST", [_, "coql"]) => {
            let query = request.json().and_then(|b| b.get("select_query").and_then(Value::as_str).map(str::to_string)).unwrap_or_default();
            let mut needs = one("ZohoCRM.coql.READ".into());
            if let Some(from) = coql_module(&query) {
                needs.push(module(&from, "READ"));
            }
            needs
        }
        // Field and module metadata (v8): ZohoCRM.settings.{fields|modules}.{op}, covered by
        // ZohoCRM.settings.ALL.
        (_, [_, "settings", area, ..]) => one(format!("ZohoCRM.settings.{area}.{op}")),
        // Organization (v8): ZohoCRM.org.{ALL|READ}; Users: ZohoCRM.users.{op}.
        (_, [_, "org", ..]) => one(format!("ZohoCRM.org.{op}")),
        (_, [_, "users", ..]) => one(format!("ZohoCRM.users.{op}")),
        // Notification APIs (v8): ZohoCRM.notifications.{op} (CREATE to enable, UPDATE to
        // change, DELETE to disable, READ to list).
        (_, [_, "actions", "watch"]) => one(format!("ZohoCRM.notifications.{op}")),
        // Convert Lead: ZohoCRM.modules.ALL or ZohoCRM.modules.leads.{ALL|WRITE|CREATE}.
        ("POST", [_, m, _, "actions", "convert"]) => vec![module(m, "CREATE")],
        // Add Tags (v8): the module's {ALL|WRITE|CREATE}; Remove Tags (v8): its {ALL|WRITE}.
        ("POST", [_, m, "actions", "add_tags"]) | ("POST", [_, m, _, "actions", "add_tags"]) => vec![module(m, "CREATE")],
        ("POST", [_, m, "actions", "remove_tags"]) | ("POST", [_, m, _, "actions", "remove_tags"]) => vec![module(m, "WRITE")],
        // Upload Files to ZFS (v8; files.json): ZohoCRM.files.CREATE (Zoho writes it `Files` too).
        ("POST", [_, "files"]) => one("ZohoCRM.files.CREATE".into()),
        // Send Mail (v8): ZohoCRM.send_mail.all.CREATE or ZohoCRM.send_mail.{module}.CREATE.
        ("POST", [_, m, _, "actions", "send_mail"]) => vec![vec!["ZohoCRM.send_mail.all.CREATE".into(), format!("ZohoCRM.send_mail.{}.CREATE", module_scope_name(m))]],
        // Upsert Records (v8): the module's {ALL|WRITE|CREATE}.
        ("POST", [_, m, "upsert"]) => vec![module(m, "CREATE")],
        // Attachments (upload, list, download): the module's scope and
        // ZohoCRM.modules.attachments.{op}.
        (_, [_, m, _, "Attachments", ..]) => vec![module(m, op), vec![format!("ZohoCRM.modules.attachments.{op}")]],
        // Notes of a record: ZohoCRM.modules.notes.{op} to add; reading a related list is the
        // parent module's READ.
        ("POST", [_, _, _, "Notes"]) => one("ZohoCRM.modules.notes.CREATE".into()),
        // Records, search, deleted records, record count, related records (v8): the module's
        // {op} (GET: READ; POST: CREATE; PUT: UPDATE; DELETE: DELETE).
        (_, [_, m, ..]) => vec![module(m, op)],
        _ => Vec::new(),
    }
}

/// Zoho's answer to a request the token's scopes do not cover, or None when they do (or when
/// the token carries no scope list).
pub fn check(granted: Option<&[String]>, request: &RecordedRequest) -> Option<Response> {
    let granted = granted?;
    let covered = required(request).iter().all(|any| any.iter().any(|needed| granted.iter().any(|g| covers(g, needed))));
    if covered {
        return None;
    }
    Some(error_response(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL", json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str, body: Option<Value>) -> RecordedRequest {
        RecordedRequest {
            method: method.into(),
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
            received_ms: 0,
            seq: 0,
            response_status: None,
            response_body: None,
            faulted: false,
        }
    }

    fn allowed(granted: &str, method: &str, path: &str, body: Option<Value>) -> bool {
        check(Some(&list(granted)), &request(method, path, body)).is_none()
    }

    #[test]
    fn scopes_are_enforced_per_endpoint() {
        let coql = || Some(json!({ "select_query": "select id from Leads where id is not null" }));
        assert!(!allowed("ZohoCRM.modules.ALL", "POST", "/crm/v8/coql", coql()), "COQL needs ZohoCRM.coql.READ");
        assert!(!allowed("ZohoCRM.coql.READ", "POST", "/crm/v8/coql", coql()), "and the module's READ");
        assert!(allowed("ZohoCRM.coql.READ,ZohoCRM.modules.leads.READ", "POST", "/crm/v8/coql", coql()));
        assert!(allowed("ZohoCRM.coql.READ ZohoCRM.modules.READ", "POST", "/crm/v8/coql", coql()));
        assert!(allowed("ZohoCRM.modules.leads.READ", "GET", "/crm/v8/Leads/1", None));
        assert!(allowed("ZohoCRM.modules.contacts.READ", "GET", "/crm/v8/Contacts/search", None), "v8 search: the module's READ alone");
        assert!(!allowed("ZohoCRM.modules.leads.READ", "GET", "/crm/v8/Contacts/1", None));
        assert!(!allowed("ZohoCRM.modules.READ", "POST", "/crm/v8/Leads", None));
        assert!(allowed("ZohoCRM.modules.WRITE", "POST", "/crm/v8/Leads", None));
        assert!(allowed("ZohoCRM.modules.custom.ALL", "GET", "/crm/v8/Shipments", None));
        assert!(!allowed("ZohoCRM.modules.CREATE", "POST", "/crm/v8/Leads/actions/remove_tags", None), "remove tags needs WRITE");
        assert!(allowed("ZohoCRM.modules.leads.WRITE", "POST", "/crm/v8/Leads/actions/remove_tags", None));
        assert!(!allowed("ZohoCRM.modules.leads.CREATE", "POST", "/crm/v8/Leads/1/Attachments", None), "and the attachments scope");
        assert!(allowed("ZohoCRM.modules.leads.CREATE,ZohoCRM.modules.attachments.CREATE", "POST", "/crm/v8/Leads/1/Attachments", None));
        assert!(allowed("ZohoCRM.settings.ALL", "GET", "/crm/v8/settings/fields", None));
        assert!(!allowed("ZohoCRM.settings.modules.READ", "GET", "/crm/v8/settings/fields", None));
        assert!(allowed("ZohoCRM.apis.READ", "GET", "/crm/v8/__apis", None));
        assert!(allowed("ZohoCRM.settings.modules.READ", "GET", "/crm/v8/__apis", None));
        assert!(!allowed("ZohoCRM.modules.ALL", "GET", "/crm/v8/__apis", None));
        assert!(!allowed("ZohoCRM.modules.ALL", "POST", "/crm/v8/actions/watch", None));
        assert!(allowed("ZohoCRM.notifications.CREATE", "POST", "/crm/v8/actions/watch", None));
        assert!(!allowed("ZohoCRM.notifications.CREATE", "PATCH", "/crm/v8/actions/watch", None));
        assert!(allowed("ZohoCRM.org.READ", "GET", "/crm/v8/org", None));
        assert!(allowed("ZohoCRM.modules.leads.CREATE", "POST", "/crm/v8/Leads/1/actions/convert", None));
        assert!(check(None, &request("POST", "/crm/v8/coql", coql())).is_none(), "a token without a scope list is not limited");
    }

    #[test]
    fn the_coql_module_is_read_outside_quotes() {
        assert_eq!(coql_module("select id from Leads where Last_Name = 'from X' limit 2"), Some("Leads".into()));
        assert_eq!(coql_module("SELECT COUNT(Owner) FROM Deals"), Some("Deals".into()));
        assert_eq!(coql_module("select id"), None);
    }
}
