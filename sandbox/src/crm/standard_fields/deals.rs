//! Deals: a fresh org's standard fields (Deal_Name, Stage and Closing_Date required by the
//! standard layout), then the custom fields of a real org (products of interest, the signed
//! proposal, a site photo, the competitors met as a subform).

use super::{f, Spec, LEAD_SOURCE, PRODUCTS};

pub const STAGE: &[&str] =
    &["Qualification", "Needs Analysis", "Value Proposition", "Identify Decision Makers", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost", "Closed Lost to Competition"];
pub const TYPE: &[&str] = &["-None-", "Existing Business", "New Business"];
pub const REASON_FOR_LOSS: &[&str] = &["-None-", "Lost to Competitor", "Price", "Timing", "No Budget", "Other"];
pub const BILLING_FREQUENCY: &[&str] = &["Monthly", "Quarterly", "Yearly"];
pub const STRENGTH: &[&str] = &["-None-", "Weak", "Even", "Strong"];

pub const FIELDS: [Spec; 44] = [
    f("Owner", "ownerlookup"),
    f("Amount", "currency"),
    f("Deal_Name", "text").len(120),
    f("Closing_Date", "date"),
    f("Account_Name", "lookup").to("Accounts"),
    f("Stage", "picklist").pick(STAGE),
    f("Type", "picklist").pick(TYPE),
    f("Pipeline", "picklist").pick(&["Standard (Standard)"]),
    f("Probability", "integer").len(3),
    f("Expected_Revenue", "currency").ro(),
    f("Next_Step", "text").len(100),
    f("Lead_Source", "picklist").pick(LEAD_SOURCE),
    f("Campaign_Source", "lookup").to("Campaigns"),
    f("Contact_Name", "lookup").to("Contacts"),
    f("Description", "textarea"),
    f("Reason_For_Loss__s", "picklist").pick(REASON_FOR_LOSS),
    f("Lead_Conversion_Time", "integer").ro(),
    f("Sales_Cycle_Duration", "integer").ro(),
    f("Overall_Sales_Duration", "integer").ro(),
    // A real org's custom fields.
    f("Products_Of_Interest", "multiselectpicklist").pick(PRODUCTS),
    f("Signed_Proposal", "fileupload"),
    f("Site_Photo", "imageupload"),
    f("Competitors", "subform").to("Competitors"),
    f("Contract_Start", "date"),
    f("Contract_End", "date"),
    f("Seats", "integer"),
    f("Discount", "percent"),
    f("Margin", "double"),
    f("Billing_Frequency", "picklist").pick(BILLING_FREQUENCY),
    f("Auto_Renew", "boolean"),
    f("Decision_Maker", "lookup").to("Contacts"),
    f("Partner_Account", "lookup").to("Accounts"),
    f("Signed_On", "datetime"),
    f("PO_Number", "text").len(50),
    f("Billing_Contact_Email", "email"),
    f("Billing_Contact_Phone", "phone"),
    f("Deal_Website", "website"),
    f("Terms", "textarea"),
    f("Annual_Value", "currency"),
    f("Budget_Confirmed", "boolean"),
    f("Implementation_Partner", "text").len(100),
    f("Use_Case", "textarea"),
    f("Expected_Go_Live", "date"),
    f("Region", "picklist").pick(&["-None-", "Americas", "EMEA", "APAC"]),
];

/// The competitors met on a deal, one row each (`Competitors`, a subform).
pub const COMPETITORS: [Spec; 4] = [f("Competitor", "text").len(120), f("Strength", "picklist").pick(STRENGTH), f("Quoted_Price", "currency"), f("Website", "website")];
