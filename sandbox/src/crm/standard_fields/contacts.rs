//! Contacts: a fresh org's standard fields (mailing and other address, assistant, reporting
//! line), then the custom fields of a real org (languages, a signed contract, a badge photo).

use super::{f, Spec, LEAD_SOURCE, SALUTATION, UNSUBSCRIBED_MODE};

pub const LANGUAGES: &[&str] = &["English", "German", "French", "Spanish", "Japanese", "Tamil"];

pub const FIELDS: [Spec; 43] = [
    f("Owner", "ownerlookup"),
    f("Lead_Source", "picklist").pick(LEAD_SOURCE),
    f("First_Name", "text").len(40),
    f("Last_Name", "text").len(80),
    f("Full_Name", "text").ro(),
    f("Salutation", "picklist").pick(SALUTATION),
    f("Account_Name", "lookup").to("Accounts"),
    f("Vendor_Name", "lookup").to("Vendors"),
    f("Email", "email"),
    f("Title", "text").len(100),
    f("Department", "text").len(100),
    f("Phone", "phone"),
    f("Home_Phone", "phone"),
    f("Other_Phone", "phone"),
    f("Fax", "text").len(30),
    f("Mobile", "phone"),
    f("Date_of_Birth", "date"),
    f("Assistant", "text").len(100),
    f("Asst_Phone", "phone"),
    f("Reporting_To", "lookup").to("Contacts"),
    f("Email_Opt_Out", "boolean"),
    f("Skype_ID", "text").len(50),
    f("Secondary_Email", "email"),
    f("Twitter", "text").len(50),
    f("Mailing_Street", "text").len(250),
    f("Other_Street", "text").len(250),
    f("Mailing_City", "text").len(100),
    f("Other_City", "text").len(100),
    f("Mailing_State", "text").len(100),
    f("Other_State", "text").len(100),
    f("Mailing_Zip", "text").len(30),
    f("Other_Zip", "text").len(30),
    f("Mailing_Country", "text").len(100),
    f("Other_Country", "text").len(100),
    f("Description", "textarea"),
    f("Record_Image", "profileimage"),
    f("Unsubscribed_Mode", "picklist").ro().pick(UNSUBSCRIBED_MODE),
    f("Unsubscribed_Time", "datetime").ro(),
    // A real org's custom fields.
    f("Languages", "multiselectpicklist").pick(LANGUAGES),
    f("Signed_Contract", "fileupload"),
    f("Badge_Photo", "imageupload"),
    f("Preferred_Call_Time", "datetime"),
    f("Lifetime_Value", "currency"),
];
