//! Which key a Books answer puts a resource under: singular for one object, plural for lists,
//! with Zoho's exceptions (contact comments are `contact_comments`). Resources not in the table
//! fall back to the name itself and its singular guess, and the reader falls back further to
//! the one non-envelope key of the answer.

/// (parent resource or "", resource, singular key, plural key)
const KNOWN: [(&str, &str, &str, &str); 30] = [
    ("", "contacts", "contact", "contacts"),
    ("", "invoices", "invoice", "invoices"),
    ("", "items", "item", "items"),
    ("", "estimates", "estimate", "estimates"),
    ("", "salesorders", "salesorder", "salesorders"),
    ("", "purchaseorders", "purchaseorder", "purchaseorders"),
    ("", "bills", "bill", "bills"),
    ("", "creditnotes", "creditnote", "creditnotes"),
    ("", "vendorcredits", "vendor_credit", "vendor_credits"),
    ("", "customerpayments", "payment", "customerpayments"),
    ("", "vendorpayments", "vendorpayment", "vendorpayments"),
    ("", "expenses", "expense", "expenses"),
    ("", "recurringinvoices", "recurring_invoice", "recurring_invoices"),
    ("", "recurringexpenses", "recurring_expense", "recurring_expenses"),
    ("", "recurringbills", "recurring_bill", "recurring_bills"),
    ("", "retainerinvoices", "retainerinvoice", "retainerinvoices"),
    ("", "projects", "project", "projects"),
    ("", "tasks", "task", "tasks"),
    ("", "timeentries", "time_entry", "time_entries"),
    ("", "users", "user", "users"),
    ("", "taxes", "tax", "taxes"),
    ("", "currencies", "currency", "currencies"),
    ("", "chartofaccounts", "chart_of_account", "chartofaccounts"),
    ("", "bankaccounts", "bankaccount", "bankaccounts"),
    ("", "banktransactions", "banktransaction", "banktransactions"),
    ("", "journals", "journal", "journals"),
    ("", "organizations", "organization", "organizations"),
    ("contacts", "comments", "comment", "contact_comments"),
    ("contacts", "contactpersons", "contact_person", "contact_persons"),
    ("", "contactpersons", "contact_person", "contact_persons"),
];

/// Top-level resources Zoho documents under another resource's path, not `/books/v3/{name}`
/// (Zoho Books v3 pages "Taxes" — POST /settings/taxes, "Currency" — POST /settings/currencies,
/// "Time Entries" — POST /projects/timeentries, "Contact Persons" — POST /contacts/contactpersons).
const GROUPED: [(&str, &str); 4] = [("taxes", "settings/taxes"), ("currencies", "settings/currencies"), ("timeentries", "projects/timeentries"), ("contactpersons", "contacts/contactpersons")];

/// Where a top-level resource's records live under `/books/v3/`: its own name, or the path Zoho
/// documents for it.
pub fn collection_path(resource: &str) -> &str {
    GROUPED.iter().find(|(name, _)| *name == resource).map_or(resource, |(_, path)| path)
}

/// The top-level resources the table knows, in its order: the record types a form offers (any
/// other Books resource path is still accepted).
pub fn top_level() -> Vec<&'static str> {
    KNOWN.iter().filter(|(parent, ..)| parent.is_empty()).map(|(_, name, ..)| *name).collect()
}

#[derive(Debug, PartialEq)]
pub struct Keys {
    pub singular: String,
    pub plural: String,
}

/// The response keys for `resource`, nested under `parent` when given.
pub fn keys(parent: Option<&str>, resource: &str) -> Keys {
    let parent = parent.unwrap_or("");
    let known = KNOWN.iter().find(|(p, r, ..)| *p == parent && *r == resource).or_else(|| KNOWN.iter().find(|(p, r, ..)| p.is_empty() && *r == resource));
    match known {
        Some((_, _, singular, plural)) => Keys { singular: singular.to_string(), plural: plural.to_string() },
        None => {
            let singular = resource.strip_suffix("ies").map(|s| format!("{s}y")).or_else(|| resource.strip_suffix('s').map(str::to_string));
            Keys { singular: singular.unwrap_or_else(|| resource.to_string()), plural: resource.to_string() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_exceptions_and_fallbacks() {
        assert_eq!(keys(None, "invoices"), Keys { singular: "invoice".into(), plural: "invoices".into() });
        assert_eq!(keys(Some("contacts"), "comments").plural, "contact_comments");
        assert_eq!(keys(Some("invoices"), "comments"), Keys { singular: "comment".into(), plural: "comments".into() });
        assert_eq!(keys(None, "customerpayments").singular, "payment");
        assert_eq!(keys(None, "categories"), Keys { singular: "category".into(), plural: "categories".into() });
        assert_eq!(keys(None, "widgets").singular, "widget");
    }

    /// Each offered record type is sent where its page's create endpoint says.
    #[test]
    fn collections_are_where_the_documented_endpoints_are() {
        for resource in top_level() {
            let described = crate::books::documented_fields::describe_resource(resource).expect("every offered type is documented");
            let expected = format!("POST /books/v3/{}", collection_path(resource));
            assert_eq!(described["endpoint"], expected.as_str(), "{resource}");
        }
        assert_eq!(collection_path("taxes"), "settings/taxes");
        assert_eq!(collection_path("invoices"), "invoices");
    }
}
