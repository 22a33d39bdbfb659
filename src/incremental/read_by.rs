//! Which documented API reads a module's records for a sweep: COQL, or the records list.
//!
//! COQL reads only the modules Zoho lists for it (v8 "Get Records through COQL Query",
//! "Possible module names": leads, accounts, contacts, users, deals, campaigns, tasks, cases,
//! events, calls, solutions, products, vendors, pricebooks, quotes, salesorders,
//! purchaseorders, invoices, and custom; the COQL limitations page and Kaizen #171 say the
//! same): Notes, Attachments, Emails and several `api_supported` system modules are refused
//! with `INVALID_QUERY` (Estuary's production connector met it on Email_Analytics and
//! Functions__s). The records list (`GET /crm/v8/{module}`, v8 "Get Records": "Supported
//! modules ... Appointments, Appointments Rescheduled History, Services and Custom") and the
//! Notes list (`GET /crm/v8/Notes`, notes.json, v8 "Get Notes") read some of those others, so
//! they are swept by the records walk ([`super::records_walk`]); the rest neither API
//! documents, and a sweep of them is refused before anything is sent.

use crate::error::{Result, ZohoError};
use serde::Serialize;

/// How a module's sweep reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadBy {
    /// Keyset pages through COQL (`POST /crm/v8/coql`).
    Coql,
    /// The records list ordered by Modified_Time, filtered with If-Modified-Since.
    Records,
}

/// The API names of the modules COQL's page lists (Users included: COQL reads it, though the
/// sync reads users as a full-refresh listing).
pub const COQL_MODULES: [&str; 18] = [
    "Leads",
    "Accounts",
    "Contacts",
    "Users",
    "Deals",
    "Campaigns",
    "Tasks",
    "Cases",
    "Events",
    "Calls",
    "Solutions",
    "Products",
    "Vendors",
    "Price_Books",
    "Quotes",
    "Sales_Orders",
    "Purchase_Orders",
    "Invoices",
];

/// Modules COQL does not list whose records a documented list reads: Notes (v8 "Get Notes")
/// and the system modules the v8 "Get Records" page names.
pub const RECORDS_MODULES: [&str; 4] = ["Notes", "Appointments__s", "Appointments_Rescheduled_History__s", "Services__s"];

/// Modules neither COQL nor a records list reads: attachments and e-mails belong to a record
/// (`/{module}/{id}/Attachments`, `/{module}/{id}/Emails`), and the analytics, function and
/// locking modules are `api_supported` yet refused by COQL and absent from "Get Records".
pub const UNREADABLE_MODULES: [&str; 8] = ["Attachments", "Emails", "Email_Analytics", "Email_Template_Analytics", "Email_Sentiment", "Functions__s", "Locking_Information__s", "CTI_Entry"];

/// What Zoho documents for `module` by its API name alone: `None` when neither list names it.
pub fn documented(module: &str) -> Option<ReadBy> {
    if COQL_MODULES.contains(&module) {
        Some(ReadBy::Coql)
    } else if RECORDS_MODULES.contains(&module) {
        Some(ReadBy::Records)
    } else {
        None
    }
}

/// How to sweep `module`. A name neither list names is a custom module (their API names are
/// the admin's, so only `/settings/modules` tells them apart: `sync-discover` reads it) and
/// COQL reads it; a system module (`__s`) outside the lists, or one of the unreadable ones, is
/// refused before anything is sent.
pub fn read_by(module: &str) -> Result<ReadBy> {
    if let Some(documented) = documented(module) {
        return Ok(documented);
    }
    if UNREADABLE_MODULES.contains(&module) || module.ends_with("__s") {
        return Err(ZohoError::invalid_input(format!(
            "{module} cannot be swept: Zoho's COQL does not read it and no records list of Zoho's documents it (sync-discover lists the modules a sweep can read, and how)"
        )));
    }
    Ok(ReadBy::Coql)
}

/// How `sync-discover` reads a module of the org, from its `generated_type`: custom modules by
/// COQL, linking and subform modules not at all (COQL refuses them, and "Get Records" does
/// not list them), the rest as Zoho's lists say.
pub fn discovered(module: &str, generated_type: Option<&str>) -> Option<ReadBy> {
    match generated_type {
        Some("linking" | "subform") => None,
        _ if UNREADABLE_MODULES.contains(&module) => None,
        Some("custom") => Some(ReadBy::Coql),
        _ => documented(module),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn coql_reads_its_listed_and_custom_modules_and_the_records_walk_the_rest_it_can() {
        for module in ["Leads", "Events", "Calls", "Price_Books", "Sales_Orders", "Invoices", "Shipments", "Parcels"] {
            assert_eq!(read_by(module).unwrap(), ReadBy::Coql, "{module}");
        }
        for module in ["Notes", "Appointments__s", "Services__s"] {
            assert_eq!(read_by(module).unwrap(), ReadBy::Records, "{module}");
        }
        for module in ["Attachments", "Emails", "Email_Analytics", "Functions__s", "Locking_Information__s", "Some_System__s"] {
            let refused = read_by(module).unwrap_err();
            assert_eq!(refused.kind, ErrorKind::InvalidInput, "{module}");
            assert!(refused.message.starts_with(&format!("{module} cannot be swept")), "{}", refused.message);
        }
    }

    #[test]
    fn discovery_reads_generated_types() {
        assert_eq!(discovered("Shipments", Some("custom")), Some(ReadBy::Coql));
        assert_eq!(discovered("Contacts_X_Deals", Some("linking")), None);
        assert_eq!(discovered("Notes", Some("default")), Some(ReadBy::Records));
        assert_eq!(discovered("Leads", Some("default")), Some(ReadBy::Coql));
        assert_eq!(discovered("Email_Analytics", Some("default")), None);
        assert_eq!(discovered("Visits", Some("default")), None, "documented for neither");
        assert_eq!(discovered("Attachments", None), None);
    }
}
