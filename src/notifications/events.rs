//! The events a notification channel can watch, as a form's choices: `Module.create`, `.edit`,
//! `.delete` and `.all` of each module Zoho sends notifications for. The org's modules are read
//! once (`GET /crm/v8/settings/modules`, the call list-modules makes) so custom modules and
//! labels are the org's own.
//!
//! Zoho's "Enable Notifications" page (v7/v8, "Supported modules"): Leads, Accounts, Contacts,
//! Deals, Campaigns, Tasks, Cases, Meetings (API name Events), Calls, Solutions, Products,
//! Vendors, Price Books, Quotes, Sales Orders, Purchase Orders, Invoices, Appointments,
//! Appointments Rescheduled History, Services, and custom modules.

use crate::client::Client;
use crate::crm::modules::{org_modules, ModuleSummary};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::validate;
use crate::wit::notifications::ListEventsInput;
use serde_json::json;

/// The standard modules of Zoho's list, by API name.
pub const STANDARD_MODULES: [&str; 20] = [
    "Leads",
    "Accounts",
    "Contacts",
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
    "Appointments__s",
    "Appointments_Rescheduled_History__s",
    "Services__s",
];

/// Each operation a channel watches and how a builder reads it.
const OPERATIONS: [(&str, &str); 4] = [("create", "created"), ("edit", "edited"), ("delete", "deleted"), ("all", "any change")];

/// Does Zoho notify on this module? Its standard list, or a custom module the API reaches.
fn notifies(module: &ModuleSummary) -> bool {
    module.api_supported == Some(true) && (STANDARD_MODULES.contains(&module.api_name.as_str()) || module.generated_type.as_deref() == Some("custom"))
}

pub fn list_events(client: &Client, input: &ListEventsInput) -> Result<String> {
    let only = match input.record_type.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(module) => Some(validate::module_name(module)?),
        None => None,
    };
    // A module listed twice is one choice, and a name the watch's events refuse (channel.rs)
    // is none: an answer that is not Zoho's offers nothing the watch would not take.
    let mut seen = std::collections::HashSet::new();
    let modules: Vec<ModuleSummary> =
        org_modules(client)?.into_iter().filter(|m| notifies(m) && validate::module_name(&m.api_name).is_ok() && only.is_none_or(|o| o == m.api_name) && seen.insert(m.api_name.clone())).collect();
    if let (Some(module), true) = (only, modules.is_empty()) {
        return Err(ZohoError::new(
            ErrorKind::NotFound,
            format!("Zoho sends no notifications for module {module}: it is not among the org's modules that notify (standard ones such as Leads or Deals, and custom modules)"),
        ));
    }
    let events: Vec<_> = modules
        .iter()
        .flat_map(|m| {
            let label = m.plural_label.clone().filter(|l| !l.is_empty()).unwrap_or_else(|| m.api_name.clone());
            OPERATIONS.iter().map(move |(op, said)| json!({ "value": format!("{}.{op}", m.api_name), "label": format!("{label}: {said}"), "module": m.api_name, "operation": op }))
        })
        .collect();
    Ok(json!({ "events": events }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn events(answer: &str, only: Option<&str>) -> Result<serde_json::Value> {
        let fixture = Fixture::default();
        fixture.transport.answer(200, answer);
        let client = fixture.client();
        list_events(&client, &ListEventsInput { record_type: only.map(str::to_string) }).map(|t| serde_json::from_str(&t).unwrap_or_default())
    }

    #[test]
    fn events_are_those_of_modules_zoho_notifies_on() {
        let answer = r#"{"modules":[{"api_name":"Leads","plural_label":"Leads","api_supported":true,"generated_type":"default"},
            {"api_name":"Visits","api_supported":false},{"api_name":"Notes","api_supported":true,"generated_type":"default"},
            {"api_name":"Pets__c","plural_label":"Haustiere 🐾","api_supported":true,"generated_type":"custom"}]}"#;
        let all = events(answer, None).unwrap();
        let values: Vec<&str> = all["events"].as_array().unwrap().iter().filter_map(|e| e["value"].as_str()).collect();
        assert_eq!(values, ["Leads.create", "Leads.edit", "Leads.delete", "Leads.all", "Pets__c.create", "Pets__c.edit", "Pets__c.delete", "Pets__c.all"]);
        assert_eq!(all["events"][4], json!({ "value": "Pets__c.create", "label": "Haustiere 🐾: created", "module": "Pets__c", "operation": "create" }));
        assert_eq!(events(answer, Some("Pets__c")).unwrap()["events"].as_array().unwrap().len(), 4);
        assert_eq!(events(answer, Some("Notes")).unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(events(answer, Some("Le ads")).unwrap_err().kind, ErrorKind::InvalidInput);
    }

    /// A hostile or broken modules answer (a module listed twice, an API name no module can
    /// have) offers no choice twice and no choice the watch would refuse.
    #[test]
    fn a_module_listed_twice_or_misnamed_is_no_choice() {
        let answer = r#"{"modules":[{"api_name":"Leads","api_supported":true,"generated_type":"default"},
            {"api_name":"Leads","plural_label":"Leads again","api_supported":true,"generated_type":"default"},
            {"api_name":"Bad.Name","api_supported":true,"generated_type":"custom"},
            {"api_name":"../x","api_supported":true,"generated_type":"custom"},
            {"api_name":"Pëts","api_supported":true,"generated_type":"custom"}]}"#;
        let all = events(answer, None).unwrap();
        let values: Vec<&str> = all["events"].as_array().unwrap().iter().filter_map(|e| e["value"].as_str()).collect();
        assert_eq!(values, ["Leads.create", "Leads.edit", "Leads.delete", "Leads.all"]);
    }
}
