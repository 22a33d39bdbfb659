//! Which modules Zoho's read APIs reach, as its pages list them. COQL reads the modules of
//! v8 "Get Records through COQL Query" ("Possible module names": leads, accounts, contacts,
//! users, deals, campaigns, tasks, cases, events, calls, solutions, products, vendors,
//! pricebooks, quotes, salesorders, purchaseorders, invoices, and custom; the COQL
//! limitations page and Kaizen #171 agree) and refuses the rest (Notes, Attachments, Emails,
//! `__s` system modules) with `INVALID_QUERY` (coql.json's Query_Exception, whose details may
//! name the `module`; Zoho's page does not print the refusal, Estuary's connector met
//! INVALID_QUERY on Email_Analytics and Functions__s). A module that is none of Zoho's own is
//! a custom module, which `/settings/modules` marks `generated_type: custom`.

use crate::state::Module;

/// Zoho's own modules (standard and system) besides COQL's, that the sandbox may hold; any module
/// in neither list is custom. The analytics and CTI modules are listed `api_supported` by Zoho
/// though no API reads them.
const ZOHOS_OTHERS: [&str; 9] = ["Notes", "Attachments", "Emails", "Visits", "Email_Analytics", "Email_Template_Analytics", "Email_Sentiment", "CTI_Entry", "Actions_Performed"];

/// The modules COQL's page names (custom modules besides).
const COQL_MODULES: [&str; 18] = [
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

/// A module an org's admin made (system modules end in `__s`).
fn is_custom(name: &str) -> bool {
    !COQL_MODULES.contains(&name) && !ZOHOS_OTHERS.contains(&name) && !name.ends_with("__s")
}

/// The module's `generated_type` in `/settings/modules`: as it was made (a linking module of a
/// multi-select lookup), else `custom` for an admin's module, `default` for Zoho's own.
pub fn generated_type(name: &str, module: &Module) -> &'static str {
    module.generated_type.unwrap_or(if is_custom(name) { "custom" } else { "default" })
}

/// Does COQL read `module`? Its listed modules and custom ones (not linking modules).
pub fn coql_reads(name: &str, module: &Module) -> bool {
    COQL_MODULES.contains(&name) || generated_type(name, module) == "custom"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coql_reads_its_list_and_custom_modules_only() {
        let module = Module::default();
        for name in ["Leads", "Events", "Calls", "Invoices", "Shipments", "Parcels"] {
            assert!(coql_reads(name, &module), "{name}");
        }
        for name in ["Notes", "Attachments", "Emails", "Functions__s", "Email_Analytics"] {
            assert!(!coql_reads(name, &module), "{name}");
        }
        let linking = Module { generated_type: Some("linking"), ..Module::default() };
        assert!(!coql_reads("Contacts_X_Deals", &linking));
        assert_eq!((generated_type("Shipments", &module), generated_type("Notes", &module), generated_type("Appointments__s", &module)), ("custom", "default", "default"));
    }
}
