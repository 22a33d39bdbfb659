//! What COQL refuses by Zoho's limits: rows a call and how deep a query reaches, fields a
//! SELECT names, criteria a WHERE holds, fields it cannot read and fields COUNT cannot take.

use super::parser::Cond;

pub(super) const MAX_ROWS: usize = 2_000;
pub(super) const ROW_CEILING: usize = 100_000;
pub(super) const DEFAULT_ROWS: usize = 200;
/// Fields one SELECT may name since v7 (Kaizen #183 "COQL API's Enhancements in Zoho CRM API
/// Version 7": up to 500 fields, previously 50).
pub(super) const MAX_SELECT_FIELDS: usize = 500;
/// Criteria one WHERE may hold ("Query API - Limitations": "a maximum of 25 criteria in the
/// WHERE clause").
pub(super) const MAX_CRITERIA: usize = 25;

/// Why COQL cannot read `field` of `module` ("Query API - Limitations", v2 to v8: multi-select
/// lookup, file-upload, image-upload and subform fields, line items, Events' Participants; and
/// Calls' CTI_Entry and the Comments of Cases and Solutions, as the project's Corrections list
/// them). By name whatever the data type: Zoho's metadata gives Participants as `bigint`.
pub(super) fn unreadable(module: &str, field: &str, data_type: &str) -> Option<&'static str> {
    let by_name = match (module, field) {
        (_, "Product_Details" | "Pricing_Details") => Some("line items are not supported in COQL"),
        ("Events", "Participants") => Some("the Participants field of Events is not supported in COQL"),
        ("Calls", "CTI_Entry") => Some("the CTI_Entry field of Calls is not supported in COQL"),
        ("Cases" | "Solutions", "Comments") => Some("Comments are not supported in COQL"),
        _ => None,
    };
    by_name.or(match data_type {
        "fileupload" => Some("file upload fields are not supported in COQL"),
        "imageupload" => Some("image upload fields are not supported in COQL"),
        "multiselectlookup" => Some("multi-select lookup fields are not supported in COQL"),
        "subform" => Some("subform fields are queried from the subform module, not the parent module"),
        _ => None,
    })
}

/// Whether COUNT takes a field of this data type: COQL's aggregate COUNT works on number,
/// lookup and picklist fields ("Get Records through COQL Query", v8, aggregate functions). The
/// user lookups (`ownerlookup`: Owner, Created_By) are lookups COQL joins through
/// (`Owner.role.id`). The record id is no field to count: `COUNT(id)` is not documented.
pub(super) fn countable(field: &str, data_type: &str) -> bool {
    field != "id" && matches!(data_type, "integer" | "bigint" | "double" | "currency" | "percent" | "lookup" | "ownerlookup" | "picklist")
}

/// Criteria in a WHERE: its comparisons, at any depth.
pub(super) fn criteria(cond: &Cond) -> usize {
    match cond {
        Cond::And(a, b) | Cond::Or(a, b) => criteria(a).saturating_add(criteria(b)),
        _ => 1,
    }
}
