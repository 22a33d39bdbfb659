//! Leads: a fresh org's standard fields, then the custom fields of a real org (what products
//! the lead asks about, a signed NDA, a business-card photo, the products quoted as a subform).
//! The 52 `Custom_Field_NN__c` texts the seed adds make Leads wider than one 50-field request.

use super::{f, Spec, INDUSTRY, LEAD_SOURCE, PRODUCTS, SALUTATION, UNSUBSCRIBED_MODE};

pub const LEAD_STATUS: &[&str] = &["-None-", "Attempted to Contact", "Contact in Future", "Contacted", "Junk Lead", "Lost Lead", "Not Contacted", "Pre-Qualified", "Not Qualified", "Qualified"];
pub const RATING: &[&str] = &["-None-", "Acquired", "Active", "Market Failed", "Project Cancelled", "Shut Down"];

pub const FIELDS: [Spec; 42] = [
    f("Owner", "ownerlookup"),
    f("Company", "text").len(200),
    f("First_Name", "text").len(40),
    f("Last_Name", "text").len(80),
    f("Full_Name", "text").ro(),
    f("Salutation", "picklist").pick(SALUTATION),
    f("Designation", "text").len(100),
    f("Email", "email"),
    f("Phone", "phone"),
    f("Fax", "text").len(30),
    f("Mobile", "phone"),
    f("Website", "website"),
    f("Lead_Source", "picklist").pick(LEAD_SOURCE),
    f("Lead_Status", "picklist").pick(LEAD_STATUS),
    f("Industry", "picklist").pick(INDUSTRY),
    f("No_of_Employees", "integer"),
    f("Annual_Revenue", "currency"),
    f("Rating", "picklist").pick(RATING),
    f("Email_Opt_Out", "boolean"),
    f("Skype_ID", "text").len(50),
    f("Secondary_Email", "email"),
    f("Twitter", "text").len(50),
    f("Street", "text").len(250),
    f("City", "text").len(100),
    f("State", "text").len(100),
    f("Zip_Code", "text").len(30),
    f("Country", "text").len(100),
    f("Description", "textarea"),
    f("Record_Image", "profileimage"),
    f("Converted__s", "boolean").ro(),
    f("Converted_Date_Time", "datetime").ro(),
    f("Converted_Account", "lookup").ro().to("Accounts"),
    f("Converted_Contact", "lookup").ro().to("Contacts"),
    f("Converted_Deal", "lookup").ro().to("Deals"),
    f("Lead_Conversion_Time", "integer").ro(),
    f("Unsubscribed_Mode", "picklist").ro().pick(UNSUBSCRIBED_MODE),
    f("Unsubscribed_Time", "datetime").ro(),
    // A real org's custom fields.
    f("Product_Interest", "multiselectpicklist").pick(PRODUCTS),
    f("Signed_NDA", "fileupload"),
    f("Business_Card", "imageupload"),
    f("Follow_Up_Date", "date"),
    f("Product_Details", "subform").to("Lead_Products"),
];

/// The products a lead was quoted, one row each (`Product_Details`, a subform).
pub const LEAD_PRODUCTS: [Spec; 4] = [f("Product_Name", "text").len(120), f("Quantity", "double").len(16), f("List_Price", "currency"), f("Delivery_Date", "date")];
