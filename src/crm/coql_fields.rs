//! What COQL can read of a module's fields, decided once for every reader that selects through
//! COQL (sweeps, sync streams, slice plans): a SELECT naming a field COQL cannot read is an
//! `INVALID_QUERY` for the whole query, so a sweep without `fields` selects only what COQL reads
//! and a caller naming such a field is told which one and why before anything is sent.
//!
//! Zoho's "Query API - Limitations" page (v2 to v8) lists what COQL does not read: multi-select
//! lookup fields, line items (`Pricing_Details`, `Product_Details`), the `Participants` field of
//! Events, file-upload and image-upload fields, and subform fields (queried from the subform's
//! own module, not the parent's). `Calls.CTI_Entry` and the `Comments` of Cases and Solutions are
//! refused as well (the project's "Corrections", read against the same page and production
//! connectors that exclude them). Events' `Participants` is a `bigint` in Zoho's own field
//! metadata, so these are excluded by name, whatever their data type.

use crate::client::Client;
use crate::crm::fields::{described_if_allowed, module_field_descriptions, FieldDescription};
use crate::error::{ErrorKind, Result, ZohoError};

/// Fields one COQL SELECT may name since API v7 (Kaizen #183 "COQL API's Enhancements in Zoho
/// CRM API Version 7": "You can now retrieve up to 500 fields in a single query. Previously,
/// the limit was 50"). The records `GET` keeps its 50.
pub const MAX_SELECT_FIELDS: usize = 500;

/// Data types COQL cannot select (Zoho's names in `/settings/fields` `data_type`), and why.
const UNREADABLE_TYPES: [(&str, &str); 4] = [
    ("fileupload", "COQL does not read file-upload fields"),
    ("imageupload", "COQL does not read image-upload fields"),
    ("multiselectlookup", "COQL does not read multi-select lookup fields (query their linking module instead)"),
    ("subform", "COQL does not read subform fields in the parent module (query the subform's own module instead)"),
];

/// Fields COQL cannot select by name: (module, or any module; API name; why).
const UNREADABLE_NAMES: [(Option<&str>, &str, &str); 6] = [
    // Line items are named alike in Quotes, Sales Orders, Purchase Orders, Invoices and Price Books.
    (None, "Product_Details", "COQL does not read line items (Product_Details)"),
    (None, "Pricing_Details", "COQL does not read line items (Pricing_Details)"),
    (Some("Events"), "Participants", "COQL does not read the Participants field of Events (Meetings)"),
    (Some("Calls"), "CTI_Entry", "COQL does not read the CTI_Entry field of Calls"),
    (Some("Cases"), "Comments", "COQL does not read the Comments of Cases"),
    (Some("Solutions"), "Comments", "COQL does not read the Comments of Solutions"),
];

/// Why COQL cannot read `field` of `module` (its data type as `/settings/fields` gives it, when
/// known); `None` when it can.
pub fn unreadable(module: &str, field: &str, data_type: Option<&str>) -> Option<&'static str> {
    let by_name = UNREADABLE_NAMES.iter().find(|(m, name, _)| *name == field && m.is_none_or(|m| m == module)).map(|(_, _, why)| *why);
    by_name.or_else(|| data_type.and_then(|t| UNREADABLE_TYPES.iter().find(|(unreadable, _)| *unreadable == t)).map(|(_, why)| *why))
}

/// The API names of `described` that COQL can read, in Zoho's order.
pub fn readable(module: &str, described: &[FieldDescription]) -> Vec<String> {
    described.iter().filter(|f| unreadable(module, &f.api_name, Some(&f.data_type)).is_none()).map(|f| f.api_name.clone()).collect()
}

/// Every field of `module` COQL can read (what a sweep without `fields` selects), from the
/// module's field metadata (cached an hour).
pub fn readable_fields(client: &Client, module: &str) -> Result<Vec<String>> {
    let fields = readable(module, &module_field_descriptions(client, module)?);
    if fields.is_empty() {
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho's field list for {module} names no field COQL can read")).with_status(200));
    }
    Ok(fields)
}

/// Fields every record has and COQL always reads: naming only these needs no metadata.
const ALWAYS_READABLE: [&str; 2] = ["id", "Modified_Time"];

/// `named` as given, or `invalid-input` naming each field COQL cannot read and why. Documented
/// names are refused without a request; data types are read from the module's field metadata
/// (cached an hour). A name the metadata does not list is left to Zoho.
pub fn check_named(client: &Client, module: &str, named: Vec<String>) -> Result<Vec<String>> {
    let by_name: Vec<String> = named.iter().filter_map(|f| unreadable(module, f, None).map(|why| format!("{f} ({why})"))).collect();
    let typed: Vec<&String> = named.iter().filter(|f| !ALWAYS_READABLE.contains(&f.as_str())).collect();
    let refused = if !by_name.is_empty() || typed.is_empty() {
        by_name
    } else {
        let described = described_if_allowed(client, module)?.unwrap_or_default();
        typed.into_iter().filter_map(|f| described.iter().find(|d| d.api_name == *f).and_then(|d| unreadable(module, f, Some(&d.data_type))).map(|why| format!("{f} ({why})"))).collect()
    };
    if refused.is_empty() {
        return Ok(named);
    }
    Err(ZohoError::invalid_input(format!(
        "fields names {} of {module} that COQL cannot read; a sweep reads through COQL: leave them out of fields (get-record reads them one record at a time)",
        refused.join(", ")
    )))
}

/// A field COQL's COUNT can count on every record of `module`, when its metadata has one.
/// COUNT works only on number, lookup and picklist fields (COQL's aggregate functions, "Get
/// Records through COQL Query", v8; `COUNT(id)` is not documented), and counts the records where
/// the field is set. The system user lookups are set on every record (Zoho fills them), and COQL
/// treats them as lookups (it joins through them: `Owner.role.id`); `Created_By` is first as every
/// module has it, `Owner` only where records are owned.
pub fn counted(described: &[FieldDescription]) -> Option<&'static str> {
    ["Created_By", "Modified_By", "Owner"].into_iter().find(|name| described.iter().any(|f| f.api_name == *name && matches!(f.data_type.as_str(), "ownerlookup" | "lookup")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn field(api_name: &str, data_type: &str) -> FieldDescription {
        FieldDescription { api_name: api_name.into(), data_type: data_type.into(), ..Default::default() }
    }

    #[test]
    fn coql_reads_what_the_limitations_page_allows() {
        let described = [
            field("Subject", "text"),
            field("Participants", "bigint"),
            field("Contract", "fileupload"),
            field("Photo", "imageupload"),
            field("Handlers", "multiselectlookup"),
            field("Product_Details", "subform"),
            field("Pricing_Details", "lineitem"),
            field("CTI_Entry", "boolean"),
            field("Comments", "textarea"),
            field("Owner", "ownerlookup"),
            field("Amount", "currency"),
        ];
        assert_eq!(readable("Events", &described), ["Subject", "CTI_Entry", "Comments", "Owner", "Amount"]);
        assert_eq!(readable("Calls", &described), ["Subject", "Participants", "Comments", "Owner", "Amount"]);
        assert_eq!(readable("Cases", &described), ["Subject", "Participants", "CTI_Entry", "Owner", "Amount"]);
        assert_eq!(readable("Solutions", &described), ["Subject", "Participants", "CTI_Entry", "Owner", "Amount"]);
        assert_eq!(unreadable("Quotes", "Product_Details", None), Some("COQL does not read line items (Product_Details)"));
        assert_eq!(unreadable("Leads", "Participants", Some("text")), None);
        assert_eq!(unreadable("Leads", "Contract", Some("fileupload")), Some("COQL does not read file-upload fields"));
    }

    /// Named fields are checked by the module's metadata; a token without the metadata scope
    /// leaves the data-type check to Zoho (documented names are still refused, unsent).
    #[test]
    fn named_fields_are_checked_by_metadata_when_the_token_may_read_it() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let fixture = Fixture::default();
        let transport = &fixture.transport;
        transport.answer(200, r#"{"fields":[{"api_name":"Name","data_type":"text"},{"api_name":"Scan","data_type":"fileupload"}]}"#);
        let client = fixture.client();
        let error = check_named(&client, "Parcels", names(&["Name", "Scan"])).unwrap_err();
        assert_eq!((error.kind, error.message.contains("Scan (COQL does not read file-upload fields)")), (ErrorKind::InvalidInput, true), "{}", error.message);
        assert_eq!(check_named(&client, "Parcels", names(&["id", "Name"])).unwrap(), names(&["id", "Name"]));
        assert_eq!(transport.sent.borrow().len(), 1, "the metadata is cached");
        // No scope for the metadata: the names go as given.
        let fixture = Fixture::default();
        let transport = &fixture.transport;
        transport.answer(401, r#"{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}"#);
        let client = fixture.client();
        assert_eq!(check_named(&client, "Parcels", names(&["Name", "Scan"])).unwrap(), names(&["Name", "Scan"]));
        // Naming only fields every record has sends nothing; a documented name is refused unsent.
        let fixture = Fixture::default();
        let transport = &fixture.transport;
        let client = fixture.client();
        assert_eq!(check_named(&client, "Calls", names(&["id", "Modified_Time"])).unwrap(), names(&["id", "Modified_Time"]));
        assert_eq!(check_named(&client, "Calls", names(&["Subject", "CTI_Entry"])).unwrap_err().kind, ErrorKind::InvalidInput);
        assert!(transport.sent.borrow().is_empty());
    }

    #[test]
    fn count_takes_a_system_lookup_every_record_has() {
        assert_eq!(counted(&[field("Owner", "ownerlookup"), field("Created_By", "ownerlookup")]), Some("Created_By"));
        assert_eq!(counted(&[field("Owner", "ownerlookup")]), Some("Owner"));
        // A text field named like one is not counted; no system lookup: none.
        assert_eq!(counted(&[field("Created_By", "text"), field("Stage", "picklist")]), None);
        assert_eq!(counted(&[]), None);
    }
}
