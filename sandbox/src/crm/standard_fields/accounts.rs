//! Accounts: a fresh org's standard fields (billing and shipping address, ownership, parent
//! account), then the custom fields of a real org (regions served, the master agreement, a
//! logo, the account's sites as a subform).

use super::{f, Spec, INDUSTRY};

pub const ACCOUNT_TYPE: &[&str] = &["-None-", "Analyst", "Competitor", "Customer", "Distributor", "Integrator", "Investor", "Other", "Partner", "Press", "Prospect", "Reseller", "Supplier", "Vendor"];
pub const OWNERSHIP: &[&str] = &["-None-", "Other", "Private", "Public", "Subsidiary", "Partnership", "Government", "Privately Held", "Public Company"];
pub const RATING: &[&str] = &["-None-", "Acquired", "Active", "Market Failed", "Project Cancelled", "Shut Down"];
pub const REGIONS: &[&str] = &["North America", "Europe", "Asia Pacific", "Latin America", "Middle East and Africa"];

pub const FIELDS: [Spec; 38] = [
    f("Owner", "ownerlookup"),
    f("Rating", "picklist").pick(RATING),
    f("Account_Name", "text").len(200),
    f("Phone", "phone"),
    f("Account_Site", "text").len(80),
    f("Fax", "text").len(30),
    f("Parent_Account", "lookup").to("Accounts"),
    f("Website", "website"),
    f("Account_Number", "bigint"),
    f("Ticker_Symbol", "text").len(30),
    f("Account_Type", "picklist").pick(ACCOUNT_TYPE),
    f("Ownership", "picklist").pick(OWNERSHIP),
    f("Industry", "picklist").pick(INDUSTRY),
    f("Employees", "integer"),
    f("Annual_Revenue", "currency"),
    f("SIC_Code", "integer"),
    f("Billing_Street", "text").len(250),
    f("Shipping_Street", "text").len(250),
    f("Billing_City", "text").len(30),
    f("Shipping_City", "text").len(30),
    f("Billing_State", "text").len(30),
    f("Shipping_State", "text").len(30),
    f("Billing_Code", "text").len(30),
    f("Shipping_Code", "text").len(30),
    f("Billing_Country", "text").len(30),
    f("Shipping_Country", "text").len(30),
    f("Description", "textarea"),
    f("Record_Image", "profileimage"),
    // A real org's custom fields.
    f("Regions_Served", "multiselectpicklist").pick(REGIONS),
    f("Master_Agreement", "fileupload"),
    f("Logo", "imageupload"),
    f("Customer_Since", "date"),
    f("Credit_Limit", "currency"),
    f("Billing_Email", "email"),
    f("Support_Phone", "phone"),
    f("Renewal_Reminder", "datetime"),
    f("Tax_Exempt", "boolean"),
    f("Locations", "subform").to("Locations"),
];

/// The account's sites, one row each (`Locations`, a subform).
pub const LOCATIONS: [Spec; 4] = [f("Site_Name", "text").len(120), f("City", "text").len(100), f("Headcount", "integer"), f("Opened_On", "date")];
