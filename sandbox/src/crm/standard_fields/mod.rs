//! The standard fields of Leads, Contacts, Accounts and Deals as a fresh Zoho CRM org has them
//! (Zoho's "Fields Metadata" v8 page, `GET /settings/fields?module=`; fields.json), with the
//! custom fields a real org adds beside them (file and image upload, multi-select picklists,
//! subforms). Each field carries what `/settings/fields` answers about it: its data type, its
//! length, whether the API may write it, its picklist values, the module its lookup points to,
//! or the subform module whose own fields `GET /settings/fields?module={subform}` lists (Zoho's
//! "Subform API": "The Field API names of the individual fields in a subform can be acquired
//! using Fields Metadata API, with the request URL as fields?module={Sub_form_api_name}").

mod accounts;
mod contacts;
mod deals;
mod leads;

/// One field of a module as Zoho describes it.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub api_name: &'static str,
    pub data_type: &'static str,
    /// Zoho's `length` (characters of a text, digits of a number, files of an upload); 0: the
    /// data type's usual length.
    pub length: u32,
    /// The API cannot write it (system and computed fields): Zoho leaves it out of a write.
    pub read_only: bool,
    /// `actual_value`s of a picklist or multi-select picklist.
    pub picklist: &'static [&'static str],
    /// The module a lookup points to, or the subform module of a subform.
    pub target: Option<&'static str>,
}

/// A field of `data_type` with its type's usual length, writable, without choices.
pub const fn f(api_name: &'static str, data_type: &'static str) -> Spec {
    Spec { api_name, data_type, length: 0, read_only: false, picklist: &[], target: None }
}

impl Spec {
    pub const fn len(self, length: u32) -> Spec {
        Spec { length, ..self }
    }
    pub const fn ro(self) -> Spec {
        Spec { read_only: true, ..self }
    }
    pub const fn pick(self, picklist: &'static [&'static str]) -> Spec {
        Spec { picklist, ..self }
    }
    pub const fn to(self, module: &'static str) -> Spec {
        Spec { target: Some(module), ..self }
    }
}

/// Picklists shared by several modules (a fresh org's values).
pub const LEAD_SOURCE: &[&str] = &[
    "-None-",
    "Advertisement",
    "Cold Call",
    "Employee Referral",
    "External Referral",
    "Online Store",
    "Partner",
    "Public Relations",
    "Sales Email Alias",
    "Seminar Partner",
    "Internal Seminar",
    "Trade Show",
    "Web Download",
    "Web Research",
    "Chat",
];
pub const INDUSTRY: &[&str] = &[
    "-None-",
    "ASP (Application Service Provider)",
    "Data/Telecom OEM",
    "ERP (Enterprise Resource Planning)",
    "Government/Military",
    "Large Enterprise",
    "ManagementISV",
    "MSP (Management Service Provider)",
    "Network Equipment Enterprise",
    "Non-management ISV",
    "Optical Networking",
    "Service Provider",
    "Small/Medium Enterprise",
    "Storage Equipment",
    "Storage Service Provider",
    "Systems Integrator",
    "Wireless Industry",
    "Software",
    "Manufacturing",
    "Retail",
];
pub const SALUTATION: &[&str] = &["-None-", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof."];
pub const UNSUBSCRIBED_MODE: &[&str] = &["Manual", "Unsubscribe Link", "Consent form", "Zoho Campaigns"];
pub const ENRICH_STATUS: &[&str] = &["Available", "Enriched", "Data not found"];
pub const RECORD_STATUS: &[&str] = &["Trash", "Available", "Draft"];
pub const PRODUCTS: &[&str] = &["Zoho CRM", "Zoho Books", "Zoho Desk", "Zoho Projects", "Zoho Analytics"];

/// The fields every record keeps about itself, read-only: who and when.
pub const AUDIT: [Spec; 7] = [
    f("Created_By", "ownerlookup").ro(),
    f("Modified_By", "ownerlookup").ro(),
    f("Created_Time", "datetime").ro(),
    f("Modified_Time", "datetime").ro(),
    f("Last_Activity_Time", "datetime").ro(),
    f("Change_Log_Time__s", "datetime").ro(),
    f("Locked__s", "boolean").ro(),
];

/// What Zoho's website visitor tracking (SalesIQ) writes on Leads, Contacts and Accounts.
pub const VISITS: [Spec; 7] = [
    f("Visitor_Score", "bigint").ro(),
    f("Days_Visited", "integer").ro(),
    f("Average_Time_Spent_Minutes", "double").ro(),
    f("Number_Of_Chats", "integer").ro(),
    f("First_Visited_Time", "datetime").ro(),
    f("Last_Visited_Time", "datetime").ro(),
    f("First_Visited_URL", "website").ro(),
];

/// The fields of one of the four modules, in the order Zoho lists them (`None` for the others).
pub fn of(module: &str) -> Option<Vec<Spec>> {
    let own: &[Spec] = match module {
        "Leads" => &leads::FIELDS,
        "Contacts" => &contacts::FIELDS,
        "Accounts" => &accounts::FIELDS,
        "Deals" => &deals::FIELDS,
        _ => return None,
    };
    let mut all = own.to_vec();
    all.extend(AUDIT);
    if module != "Deals" {
        all.extend(VISITS);
        all.push(f("Referrer", "website").ro());
        all.push(f("Enrich_Status__s", "picklist").ro().pick(ENRICH_STATUS));
        all.push(f("Last_Enriched_Time__s", "datetime").ro());
    }
    all.push(f("Record_Status__s", "picklist").ro().pick(RECORD_STATUS));
    Some(all)
}

/// The fields of a subform module (each row of the subform holds these).
pub fn subform(module: &str) -> Option<&'static [Spec]> {
    match module {
        "Lead_Products" => Some(&leads::LEAD_PRODUCTS),
        "Locations" => Some(&accounts::LOCATIONS),
        "Competitors" => Some(&deals::COMPETITORS),
        _ => None,
    }
}

/// The field `api_name` of `module` (a module of the four, or a subform module).
pub fn spec(module: &str, api_name: &str) -> Option<Spec> {
    if let Some(fields) = subform(module) {
        return fields.iter().find(|s| s.api_name == api_name).copied();
    }
    of(module)?.into_iter().find(|s| s.api_name == api_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Each module has 50 fields and more, each named once, with every type a real org shows.
    #[test]
    fn every_module_is_as_wide_as_a_real_org() {
        for module in ["Leads", "Contacts", "Accounts", "Deals"] {
            let fields = of(module).unwrap_or_default();
            assert!(fields.len() >= 50, "{module}: {}", fields.len());
            let names: HashSet<&str> = fields.iter().map(|s| s.api_name).collect();
            assert_eq!(names.len(), fields.len(), "{module}: a name twice");
            let types: HashSet<&str> = fields.iter().map(|s| s.data_type).collect();
            for wanted in ["fileupload", "imageupload", "lookup", "ownerlookup", "multiselectpicklist", "currency", "integer", "date", "datetime", "boolean", "email", "phone", "textarea", "picklist"]
            {
                assert!(types.contains(wanted), "{module} has no {wanted}");
            }
            for s in fields.iter().filter(|s| matches!(s.data_type, "lookup" | "subform")) {
                assert!(s.target.is_some(), "{module}.{} points nowhere", s.api_name);
            }
            for s in fields.iter().filter(|s| s.data_type == "subform") {
                assert!(s.target.and_then(subform).is_some_and(|f| !f.is_empty()), "{module}.{}", s.api_name);
            }
        }
    }
}
