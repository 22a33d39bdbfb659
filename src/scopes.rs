//! OAuth scopes: what each action's requests need, and whether a set of granted scopes covers
//! them. The table below is the one place an action's scopes are written: the manifest
//! (`actions.json`, `scopes` per action) is generated from it, and an OAUTH_SCOPE_MISMATCH from
//! Zoho leaves the step naming the scopes its action needs.
//!
//! Zoho's scope grammar (v8 "Scopes", https://www.zoho.com/crm/developer/docs/api/v8/scopes.html,
//! and "Select API Scopes"): `service.scope_name[.sub_scope].operation_type`, operation types
//! `ALL`, `READ`, `CREATE`, `UPDATE`, `DELETE`, `WRITE` (an alias for CREATE, UPDATE and DELETE)
//! and `CUSTOM`. A scope covers the narrower ones under it: `ZohoCRM.modules.ALL` covers
//! `ZohoCRM.modules.leads.READ`, `ZohoCRM.settings.ALL` covers `ZohoCRM.settings.fields.READ`.
//! Zoho writes scopes in either case (`ZohoCRM.settings.all` in its OpenAPI files), so they are
//! compared without case. Zoho Books' `ZohoBooks.fullaccess.all` covers every Books scope.

use crate::error::{ErrorKind, ZohoError};

/// A module-generic scope such as `ZohoCRM.modules.READ` stands for the modules a step names: a
/// platform may narrow it to `ZohoCRM.modules.{module}.READ` (Zoho's lower-case module names:
/// leads, contacts, deals, custom, ...) for the modules its flows use.
///
/// Each scope is the narrowest that Zoho's page for the request documents (cited per action);
/// where the page and Zoho's OpenAPI file disagree, the page is taken, and where a reading is
/// unsure the action asks for what works under each (upsert: CREATE and UPDATE).
pub const ACTIONS: &[(&str, &[&str])] = &[
    // Insert Records (v8): ZohoCRM.modules.ALL or ZohoCRM.modules.{module}.{ALL|WRITE|CREATE}.
    ("crm-create-record", &["ZohoCRM.modules.CREATE"]),
    // Get Records (v8): modules.{module}.{ALL|READ}.
    ("crm-get-record", &["ZohoCRM.modules.READ"]),
    // Without `fields`, the module's fields are read from Field Metadata (settings.fields.READ).
    ("crm-get-records", &["ZohoCRM.modules.READ", "ZohoCRM.settings.fields.READ"]),
    // Update Records (v8): modules.{module}.{ALL|WRITE|UPDATE}.
    ("crm-update-record", &["ZohoCRM.modules.UPDATE"]),
    // Delete Records (v8): modules.{module}.{ALL|WRITE|DELETE}.
    ("crm-remove-record", &["ZohoCRM.modules.DELETE"]),
    // Update Records and Delete Records (v8), the many-record forms: the same scopes as one record's.
    ("crm-update-records", &["ZohoCRM.modules.UPDATE"]),
    ("crm-remove-records", &["ZohoCRM.modules.DELETE"]),
    // Get Records through COQL Query (v8): ZohoCRM.coql.READ and the module's READ.
    ("crm-coql-query", &["ZohoCRM.coql.READ", "ZohoCRM.modules.READ"]),
    // Upload an Attachment: the module's scope and ZohoCRM.modules.attachments.{ALL|WRITE|CREATE};
    // modules.CREATE covers both.
    ("crm-add-attachment", &["ZohoCRM.modules.CREATE"]),
    // A raw request needs the scopes of the endpoint it names (Zoho's page for it).
    ("crm-raw-request", &[]),
    // Zoho Books: each endpoint names ZohoBooks.{resource}.{operation}; an action over any
    // record type needs them all, which ZohoBooks.fullaccess.all grants (organizations:
    // ZohoBooks.settings.READ, covered too).
    ("books-create-record", &["ZohoBooks.fullaccess.all"]),
    ("books-get-record", &["ZohoBooks.fullaccess.all"]),
    ("books-get-records", &["ZohoBooks.fullaccess.all"]),
    ("books-update-record", &["ZohoBooks.fullaccess.all"]),
    ("books-remove-record", &["ZohoBooks.fullaccess.all"]),
    ("books-raw-request", &[]),
    // Books sweeps list a resource and, with include-line-items, read each record (each
    // resource's list and get pages: ZohoBooks.{invoices,bills,contacts,...}.READ), and find
    // the organization (ZohoBooks.settings.READ); fullaccess covers every resource's READ.
    ("books-list-modified-records-by-page", &["ZohoBooks.fullaccess.all"]),
    // Kept in the key-value store only, after the organization is known.
    ("books-update-last-successful-run-date", &["ZohoBooks.fullaccess.all"]),
    // Sweeps: COQL pages, the module's fields when none are named, the deleted-records feed and
    // records reads (module READ).
    ("incremental-list-contacts-by-page", &["ZohoCRM.coql.READ", "ZohoCRM.modules.READ", "ZohoCRM.settings.fields.READ"]),
    ("incremental-list-modified-records-by-page", &["ZohoCRM.coql.READ", "ZohoCRM.modules.READ", "ZohoCRM.settings.fields.READ"]),
    // Kept in the key-value store only: no request.
    ("incremental-update-last-successful-run-date", &[]),
    // Modules Metadata (v8): ZohoCRM.settings.modules.{ALL|READ} or ZohoCRM.settings.ALL.
    ("sync-discover", &["ZohoCRM.settings.modules.READ"]),
    // A stream page: a sweep's scopes, the users stream (Users: ZohoCRM.users.{ALL|READ}), the
    // modules stream, and the credit budget's organization (Organization: ZohoCRM.org.{ALL|READ}).
    ("sync-read-stream-page", &["ZohoCRM.coql.READ", "ZohoCRM.modules.READ", "ZohoCRM.settings.fields.READ", "ZohoCRM.settings.modules.READ", "ZohoCRM.users.READ", "ZohoCRM.org.READ"]),
    ("sync-commit-stream", &[]),
    // Upsert Records (v8): modules.{module}.{ALL|WRITE|CREATE}; UPDATE too, since an upsert
    // updates (what works under either reading).
    ("crm-upsert-records", &["ZohoCRM.modules.CREATE", "ZohoCRM.modules.UPDATE"]),
    // Search Records (v8): the module's READ only (no ZohoSearch scope since v3).
    // Search Records (modules READ), then Insert Records (CREATE); the unique fields of a module
    // without a system-defined identifier are read from its field metadata.
    ("crm-find-or-create-record", &["ZohoCRM.modules.READ", "ZohoCRM.modules.CREATE", "ZohoCRM.settings.fields.READ"]),
    ("crm-search-records", &["ZohoCRM.modules.READ"]),
    // Convert Lead: ZohoCRM.modules.ALL or ZohoCRM.modules.leads.{ALL|WRITE|CREATE}.
    ("crm-convert-lead", &["ZohoCRM.modules.leads.CREATE"]),
    // Related Records (v8): the module's READ; fields from Field Metadata when none are named.
    ("crm-get-related-records", &["ZohoCRM.modules.READ", "ZohoCRM.settings.fields.READ"]),
    // Notes: ZohoCRM.modules.notes.{ALL|WRITE|CREATE}.
    ("crm-add-note", &["ZohoCRM.modules.notes.CREATE"]),
    // Add Tags to Records (v8): modules.{module}.{ALL|WRITE|CREATE}.
    ("crm-add-tags", &["ZohoCRM.modules.CREATE"]),
    // Remove Tags from Records (v8): modules.{module}.{ALL|WRITE} (its OAUTH_SCOPE_MISMATCH
    // names ZohoCRM.modules.{module_name}.WRITE).
    ("crm-remove-tags", &["ZohoCRM.modules.WRITE"]),
    // Attachments: the module's READ and modules.attachments READ; modules.READ covers both.
    ("crm-list-attachments", &["ZohoCRM.modules.READ"]),
    ("crm-download-attachment", &["ZohoCRM.modules.READ"]),
    // List of Deleted Records (v8): the module's READ.
    ("crm-get-deleted-records", &["ZohoCRM.modules.READ"]),
    ("crm-list-modules", &["ZohoCRM.settings.modules.READ"]),
    // Field Metadata (v8): ZohoCRM.settings.fields.{ALL|READ} or ZohoCRM.settings.ALL.
    ("crm-describe-module", &["ZohoCRM.settings.fields.READ"]),
    // Users (v8 "Users APIs"): ZohoCRM.users.{ALL|READ}.
    ("crm-list-users", &["ZohoCRM.users.READ"]),
    ("crm-get-user", &["ZohoCRM.users.READ"]),
    // Related Lists Metadata (v8): ZohoCRM.settings.related_lists.{ALL|READ} or ZohoCRM.settings.ALL.
    ("crm-list-related-lists", &["ZohoCRM.settings.related_lists.READ"]),
    // Custom View Metadata (v8): ZohoCRM.settings.custom_views.{ALL|READ} or ZohoCRM.settings.ALL.
    ("crm-list-custom-views", &["ZohoCRM.settings.custom_views.READ"]),
    // Get Tags (v8): ZohoCRM.settings.tags.{ALL|READ} or ZohoCRM.settings.ALL.
    ("crm-list-tags", &["ZohoCRM.settings.tags.READ"]),
    // Test Connection: Get Users (ZohoCRM.users.{ALL|READ}) and Get Organization Data
    // (ZohoCRM.org.{ALL|READ}); with check-books, Books' organizations (ZohoBooks.settings.READ,
    // listed as optional).
    ("crm-test-connection", &["ZohoCRM.users.READ", "ZohoCRM.org.READ"]),
    // Update Related Records (v8, zoho/crm-oas updateSpecificRelatedRecord): the module's
    // {ALL|WRITE|UPDATE}; Delink Related Records (v8): its {ALL|WRITE|DELETE}.
    ("crm-link-related-record", &["ZohoCRM.modules.UPDATE"]),
    ("crm-unlink-related-record", &["ZohoCRM.modules.DELETE"]),
    // Notes (v8; zoho/crm-oas getNotesModule, updateNoteById, deleteNoteById):
    // ZohoCRM.modules.notes.{READ|UPDATE|DELETE}; one record's notes are its Notes related list,
    // read with the parent module's READ too.
    ("crm-list-notes", &["ZohoCRM.modules.notes.READ", "ZohoCRM.modules.READ"]),
    ("crm-update-note", &["ZohoCRM.modules.notes.UPDATE"]),
    ("crm-remove-note", &["ZohoCRM.modules.notes.DELETE"]),
    // Send Mail (v8): ZohoCRM.send_mail.all.CREATE (or ZohoCRM.send_mail.{module}.CREATE).
    ("crm-send-email", &["ZohoCRM.send_mail.all.CREATE"]),
    // Upload Files to ZFS (v8): ZohoCRM.files.CREATE; then Update Records (modules UPDATE); the
    // field is checked in Field Metadata first (settings.fields.READ).
    ("crm-upload-file-field", &["ZohoCRM.files.CREATE", "ZohoCRM.modules.UPDATE", "ZohoCRM.settings.fields.READ"]),
    // Get From Addresses (from_addresses.json): ZohoCRM.settings.emails.READ.
    ("crm-list-from-addresses", &["ZohoCRM.settings.emails.READ"]),
    ("books-record-action", &["ZohoBooks.fullaccess.all"]),
    ("books-get-record-document", &["ZohoBooks.fullaccess.all"]),
    // Notifications (v8): ZohoCRM.notifications.{ALL|WRITE|CREATE} to enable, READ to list,
    // UPDATE to change (a renewal reads the channel first), DELETE to disable.
    ("notifications-enable", &["ZohoCRM.notifications.CREATE"]),
    ("notifications-renew", &["ZohoCRM.notifications.READ", "ZohoCRM.notifications.UPDATE"]),
    ("notifications-disable", &["ZohoCRM.notifications.DELETE"]),
    ("notifications-list", &["ZohoCRM.notifications.READ"]),
    // The events are the org's modules that notify (Modules Metadata: settings.modules.READ).
    ("notifications-list-events", &["ZohoCRM.settings.modules.READ"]),
    // Parsing reads the changed records (Get Records, with the module's fields).
    ("notifications-parse", &["ZohoCRM.modules.READ", "ZohoCRM.settings.fields.READ"]),
    // Composite API (v8): ZohoCRM.composite_requests.CUSTOM "(and) Scope of the subrequest";
    // the sub-requests' own scopes are those of the APIs they name, as a raw request's are.
    ("crm-run-composite", &["ZohoCRM.composite_requests.CUSTOM"]),
    // Answered from Zoho's documentation kept in the component: no request, so no scope.
    ("books-describe-resource", &[]),
    // Bulk Read (v8 "Create Bulk Read job", "Get the Status of the Bulk Read Job", "Download Bulk
    // Read Result"): ZohoCRM.bulk.READ and ZohoCRM.modules.{module}.{ALL|READ}.
    ("bulk-read-create", &["ZohoCRM.bulk.READ", "ZohoCRM.modules.READ"]),
    ("bulk-read-status", &["ZohoCRM.bulk.READ", "ZohoCRM.modules.READ"]),
    ("bulk-read-result-page", &["ZohoCRM.bulk.READ", "ZohoCRM.modules.READ"]),
    // Bulk Write (v8 "Upload File": ZohoFiles.files.ALL; "Create Bulk Write Job":
    // ZohoCRM.bulk.CREATE (or bulk.ALL) and ZohoCRM.modules.{module}.{ALL|CREATE}; "Get Bulk
    // Write Job Details": ZohoCRM.bulk.CREATE; the result is downloaded from the job's URL).
    ("bulk-write-upload", &["ZohoFiles.files.ALL"]),
    ("bulk-write-create", &["ZohoCRM.bulk.CREATE", "ZohoCRM.modules.CREATE"]),
    ("bulk-write-status", &["ZohoCRM.bulk.CREATE"]),
    ("bulk-write-result", &["ZohoCRM.bulk.CREATE"]),
];

/// Scopes an action may use when granted and does without otherwise: the credit table
/// (`GET /crm/v8/__apis`, "List of Available APIs": ZohoCRM.apis.READ; Zoho's apis.json names
/// ZohoCRM.settings.modules.READ instead) read by a sync page with a credit budget.
///
/// Writes check their values against the module's field metadata (settings.fields.READ) when the
/// token may read it, and leave the check to Zoho when it may not.
///
/// Test Connection reads Books' organizations (ZohoBooks.settings.READ) only when check-books asks.
pub const OPTIONAL: &[(&str, &[&str])] = &[
    ("sync-read-stream-page", &["ZohoCRM.apis.READ"]),
    // Books streams (books_<resource>) list the resource and find the organization: Books' full
    // access covers both; a CRM-only connection reads CRM streams without it.
    ("sync-discover", &["ZohoBooks.fullaccess.all"]),
    ("sync-read-stream-page", &["ZohoBooks.fullaccess.all"]),
    ("sync-commit-stream", &["ZohoBooks.fullaccess.all"]),
    ("crm-create-record", &["ZohoCRM.settings.fields.READ"]),
    ("crm-update-record", &["ZohoCRM.settings.fields.READ"]),
    ("crm-update-records", &["ZohoCRM.settings.fields.READ"]),
    ("crm-upsert-records", &["ZohoCRM.settings.fields.READ"]),
    ("crm-test-connection", &["ZohoBooks.settings.READ"]),
    // The result's records are typed by the module's field metadata when the token may read it.
    ("bulk-read-result-page", &["ZohoCRM.settings.fields.READ"]),
    // X-CRM-ORG: a Self Client's soid names the org; other connections read its zgid from the
    // organization API ("Get Organization Data": ZohoCRM.org.READ), once a day.
    ("bulk-write-upload", &["ZohoCRM.org.READ"]),
];

/// The scopes `action` needs (None for an action the table does not know).
pub fn of(action: &str) -> Option<&'static [&'static str]> {
    ACTIONS.iter().find(|(key, _)| *key == action).map(|(_, scopes)| *scopes)
}

/// One scope's parts: service, the scope name's segments, and the operation type.
struct Scope<'a> {
    service: &'a str,
    names: Vec<&'a str>,
    operation: &'a str,
}

fn parse(text: &str) -> Option<Scope<'_>> {
    let mut parts: Vec<&str> = text.trim().split('.').collect();
    if parts.len() < 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let operation = parts.pop()?;
    let service = parts.remove(0);
    Some(Scope { service, names: parts, operation })
}

/// Does a granted operation type allow a required one? ALL allows every one; WRITE is Zoho's
/// alias for CREATE, UPDATE and DELETE.
fn operation_covers(granted: &str, required: &str) -> bool {
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    is(granted, "ALL") || is(granted, required) || (is(granted, "WRITE") && ["CREATE", "UPDATE", "DELETE"].iter().any(|op| is(required, op)))
}

/// Does the granted scope `granted` allow what `required` names?
pub fn covers(granted: &str, required: &str) -> bool {
    let (Some(g), Some(r)) = (parse(granted), parse(required)) else {
        return false;
    };
    if !g.service.eq_ignore_ascii_case(r.service) {
        return false;
    }
    // Zoho Books' full access: every Books scope.
    if g.service.eq_ignore_ascii_case("ZohoBooks") && g.names.len() == 1 && g.names[0].eq_ignore_ascii_case("fullaccess") {
        return operation_covers(g.operation, "ALL") || operation_covers(g.operation, r.operation);
    }
    g.names.len() <= r.names.len() && g.names.iter().zip(&r.names).all(|(a, b)| a.eq_ignore_ascii_case(b)) && operation_covers(g.operation, r.operation)
}

/// A scope list as platforms write it: separated by commas, spaces or both.
pub fn list(text: &str) -> Vec<&str> {
    text.split([',', ' ', '\n', '\t']).map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// The scopes of `required` that no scope of `granted` covers, in `required`'s order.
pub fn missing<'a>(granted: &[&str], required: &[&'a str]) -> Vec<&'a str> {
    required.iter().copied().filter(|r| !granted.iter().any(|g| covers(g, r))).collect()
}

/// An OAUTH_SCOPE_MISMATCH from Zoho (the token lacks a scope the request needs; refreshing
/// never cures it) told in the action's terms: the scopes the action needs, so the connection
/// can be authorized again with them. Other errors pass unchanged.
pub fn explain(action: &str, mut error: ZohoError) -> ZohoError {
    if error.code.as_deref() != Some("OAUTH_SCOPE_MISMATCH") {
        return error;
    }
    error.kind = ErrorKind::Unauthorized;
    let needs = match of(action) {
        Some([]) => "the scopes of the endpoint it calls (see Zoho's page for that endpoint)".to_string(),
        Some(scopes) => scopes.join(", "),
        None => return error,
    };
    error.message = format!(
        "Zoho refused the connection's token for this request ({}): its scopes do not allow it. {action} needs {needs}; authorize the connection again with them (actions.json lists each action's scopes)",
        error.message.trim_end_matches('.')
    );
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wider_scopes_cover_narrower_ones() {
        for (granted, required) in [
            ("ZohoCRM.modules.ALL", "ZohoCRM.modules.leads.READ"),
            ("ZohoCRM.modules.ALL", "ZohoCRM.modules.READ"),
            ("zohocrm.modules.all", "ZohoCRM.modules.CREATE"),
            ("ZohoCRM.modules.READ", "ZohoCRM.modules.contacts.READ"),
            ("ZohoCRM.modules.WRITE", "ZohoCRM.modules.leads.DELETE"),
            ("ZohoCRM.settings.ALL", "ZohoCRM.settings.fields.READ"),
            ("ZohoCRM.settings.all", "ZohoCRM.settings.modules.READ"),
            ("ZohoCRM.notifications.ALL", "ZohoCRM.notifications.UPDATE"),
            ("ZohoBooks.fullaccess.all", "ZohoBooks.invoices.CREATE"),
            ("ZohoBooks.fullaccess.all", "ZohoBooks.fullaccess.all"),
        ] {
            assert!(covers(granted, required), "{granted} should cover {required}");
        }
        for (granted, required) in [
            ("ZohoCRM.modules.READ", "ZohoCRM.modules.CREATE"),
            ("ZohoCRM.modules.leads.ALL", "ZohoCRM.modules.READ"),
            ("ZohoCRM.modules.contacts.READ", "ZohoCRM.modules.leads.READ"),
            ("ZohoCRM.settings.fields.READ", "ZohoCRM.settings.modules.READ"),
            ("ZohoCRM.settings.roles.ALL", "ZohoCRM.settings.fields.READ"),
            ("ZohoCRM.modules.WRITE", "ZohoCRM.modules.READ"),
            ("ZohoCRM.modules.ALL", "ZohoCRM.coql.READ"),
            ("ZohoCRM.modules.ALL", "ZohoBooks.fullaccess.all"),
            ("ZohoBooks.contacts.ALL", "ZohoBooks.fullaccess.all"),
            ("garbage", "ZohoCRM.modules.READ"),
            ("ZohoCRM..ALL", "ZohoCRM.modules.READ"),
        ] {
            assert!(!covers(granted, required), "{granted} should not cover {required}");
        }
    }

    #[test]
    fn lists_split_on_commas_and_spaces() {
        assert_eq!(list("ZohoCRM.modules.ALL, ZohoCRM.users.ALL ZohoCRM.org.ALL,,"), ["ZohoCRM.modules.ALL", "ZohoCRM.users.ALL", "ZohoCRM.org.ALL"]);
        assert_eq!(missing(&["ZohoCRM.modules.ALL"], &["ZohoCRM.coql.READ", "ZohoCRM.modules.READ"]), ["ZohoCRM.coql.READ"]);
    }

    #[test]
    fn every_scope_in_the_table_is_well_formed_and_actions_are_unique() {
        for (action, scopes) in ACTIONS.iter().chain(OPTIONAL) {
            for scope in *scopes {
                assert!(parse(scope).is_some() && covers(scope, scope), "{action}: {scope}");
            }
        }
        let keys: std::collections::HashSet<&str> = ACTIONS.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys.len(), ACTIONS.len(), "an action is listed twice");
        assert!(OPTIONAL.iter().all(|(k, _)| keys.contains(k)), "an optional scope for an unknown action");
    }

    #[test]
    fn a_scope_mismatch_names_the_actions_scopes() {
        let zoho = ZohoError::new(ErrorKind::Unauthorized, "invalid oauth scope to access this URL").with_code("OAUTH_SCOPE_MISMATCH").with_status(401);
        let explained = explain("crm-coql-query", zoho.clone());
        assert!(explained.message.contains("crm-coql-query needs ZohoCRM.coql.READ, ZohoCRM.modules.READ"), "{}", explained.message);
        assert!(explained.message.contains("invalid oauth scope to access this URL"));
        assert_eq!((explained.status, explained.code.as_deref()), (Some(401), Some("OAUTH_SCOPE_MISMATCH")));
        let other = ZohoError::new(ErrorKind::Unauthorized, "invalid oauth token").with_code("INVALID_TOKEN");
        assert_eq!(explain("crm-coql-query", other.clone()), other);
        assert!(explain("crm-raw-request", zoho.clone()).message.contains("the scopes of the endpoint it calls"));
        assert_eq!(explain("no-such-action", zoho.clone()), zoho);
    }
}
