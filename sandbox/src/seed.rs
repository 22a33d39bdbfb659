//! The data a fresh sandbox starts with: Leads wider than one 50-field request, Contacts
//! beyond the 2,000-record `page` reach, and a few Accounts and Deals.

use crate::accounts::account;
use crate::crm::store::insert;
use crate::crm::{metadata, standard_fields};
use crate::state::{FieldDef, Module, Shared};
use serde_json::{json, Map, Value};

pub const CONTACTS: usize = 2_600;
pub const LEAD_CUSTOM_FIELDS: usize = 52;
const CITIES: [&str; 4] = ["Austin", "Chennai", "Dublin", "Tokyo"];
const COUNTRIES: [&str; 4] = ["United States", "India", "Ireland", "Japan"];
const TITLES: [&str; 3] = ["Purchasing Manager", "CTO", "Head of Sales"];

fn system_fields() -> Vec<FieldDef> {
    ["Owner", "Created_By", "Modified_By"]
        .into_iter()
        .map(|f| FieldDef { api_name: f.into(), data_type: "ownerlookup" })
        .chain(["Created_Time", "Modified_Time"].into_iter().map(|f| FieldDef { api_name: f.into(), data_type: "datetime" }))
        .collect()
}

/// The fields of a module by API name, each with the data type Zoho gives it.
fn text_fields(names: &[&str]) -> Vec<FieldDef> {
    names.iter().map(|n| FieldDef { api_name: n.to_string(), data_type: data_type_of(n) }).collect()
}

/// Zoho's data type of a seeded field (as in a fresh org; Account_Name is a lookup outside Accounts).
fn data_type_of(name: &str) -> &'static str {
    match name {
        "Email" => "email",
        "Phone" => "phone",
        "Website" => "website",
        "Description" | "Note_Content" => "textarea",
        "Lead_Source" | "Lead_Status" | "Industry" | "Stage" | "Status" | "Type" | "Call_Type" | "Quote_Stage" => "picklist",
        "Amount" | "Unit_Price" | "Grand_Total" => "currency",
        "Closing_Date" | "Due_Date" => "date",
        "Probability" => "integer",
        "Qty_in_Stock" => "double",
        "Product_Active" => "boolean",
        "Tax" => "multiselectpicklist",
        "Account_Name" | "Contact_Name" => "lookup",
        // COQL cannot read these types ("Query API - Limitations"): a sweep without fields must leave them out.
        "Proof_Of_Delivery" => "fileupload",
        "Package_Photo" => "imageupload",
        "Handlers" => "multiselectlookup",
        // Zoho's own metadata gives Events' Participants as bigint and Calls' CTI_Entry as a
        // checkbox: COQL refuses them by name, not by type.
        "Participants" => "bigint",
        "CTI_Entry" => "boolean",
        _ => "text",
    }
}

/// Quotes with their line items (`Product_Details`, a subform of the quoted products).
fn quote_fields() -> Vec<FieldDef> {
    let mut fields = text_fields(&["Subject", "Quote_Stage", "Grand_Total"]);
    fields.push(FieldDef { api_name: "Product_Details".into(), data_type: "subform" });
    fields
}

/// A standard module's fields as Zoho lists them (`crm::standard_fields`), system fields included.
fn standard(module: &str) -> Vec<FieldDef> {
    standard_fields::of(module).unwrap_or_default().into_iter().map(|s| FieldDef { api_name: s.api_name.to_string(), data_type: s.data_type }).collect()
}

pub fn seed(shared: &Shared) {
    let mut leads = standard("Leads");
    leads.extend((1..=LEAD_CUSTOM_FIELDS).map(|i| FieldDef { api_name: format!("Custom_Field_{i:02}__c"), data_type: "text" }));
    let modules = [
        ("Leads", leads, "Last_Name", vec!["Email"]),
        ("Contacts", standard("Contacts"), "Last_Name", vec!["Email"]),
        ("Accounts", standard("Accounts"), "Account_Name", vec!["Account_Name"]),
        ("Deals", standard("Deals"), "Deal_Name", vec![]),
        ("Tasks", text_fields(&["Subject", "Status", "Due_Date"]), "Subject", vec![]),
        ("Events", text_fields(&["Event_Title", "Start_DateTime", "End_DateTime", "Participants"]), "Event_Title", vec![]),
        ("Calls", text_fields(&["Subject", "Call_Type", "Call_Duration", "CTI_Entry"]), "Subject", vec![]),
        ("Campaigns", text_fields(&["Campaign_Name", "Status", "Type"]), "Campaign_Name", vec![]),
        ("Products", text_fields(&["Product_Name", "Product_Code", "Unit_Price", "Qty_in_Stock", "Product_Active", "Tax"]), "Product_Name", vec![]),
        ("Quotes", quote_fields(), "Subject", vec![]),
        ("Vendors", text_fields(&["Vendor_Name", "Email", "Phone"]), "Vendor_Name", vec![]),
        ("Notes", text_fields(&["Note_Title", "Note_Content", "Parent_Id"]), "Note_Content", vec![]),
        ("Shipments", text_fields(&["Name", "Carrier", "Tracking_Number", "Proof_Of_Delivery", "Package_Photo", "Handlers"]), "Name", vec![]),
    ];
    {
        let mut data = shared.data();
        data.clients.insert(account::CLIENT_ID.into(), account::CLIENT_SECRET.into());
        data.refresh_tokens.insert(account::REFRESH_TOKEN.into(), account::CLIENT_ID.into());
        data.refresh_token_scopes.insert(account::REFRESH_TOKEN.into(), crate::accounts::scopes::list(account::REFRESH_TOKEN_SCOPES));
        data.orgs.insert(account::ORG_ID.into());
        for (name, mut fields, mandatory, unique) in modules {
            if standard_fields::of(name).is_none() {
                fields.extend(system_fields());
            }
            fields.insert(0, FieldDef { api_name: "id".into(), data_type: "bigint" });
            data.modules.insert(name.to_string(), Module { fields, mandatory, unique, ..Default::default() });
        }
        // A standard Deals layout requires Deal_Name, Stage and Closing_Date on create (and on a
        // lead conversion's deal: "its mandatory fields must be mapped", Convert Lead, v8).
        if let Some(deals) = data.modules.get_mut("Deals") {
            deals.also_mandatory = &["Stage", "Closing_Date"];
        }
    }
    seed_books(shared);
    let start = shared.clock.now() - chrono::Duration::days(30);
    for i in 1..=3 {
        let mut lead = Map::new();
        lead.insert("Last_Name".into(), json!(format!("Lead{i}")));
        lead.insert("First_Name".into(), json!("Sample"));
        lead.insert("Email".into(), json!(format!("lead{i}@example.com")));
        lead.insert("Company".into(), json!("Zylker"));
        lead.extend(lead_details(i));
        for c in 1..=LEAD_CUSTOM_FIELDS {
            lead.insert(format!("Custom_Field_{c:02}__c"), json!(format!("L{i}C{c}")));
        }
        insert(shared, "Leads", lead, start + chrono::Duration::minutes(i));
    }
    for i in 1..=CONTACTS {
        let contact = json!({
            "First_Name": "Contact",
            "Last_Name": format!("Number{i:04}"),
            "Email": format!("contact{i}@example.com"),
            "Phone": format!("+1 555 {i:04}"),
            "Mailing_City": CITIES[i % 4],
            "Mailing_Country": COUNTRIES[i % 4],
            "Title": TITLES[i % 3],
            "Lead_Source": (["Web Download", "Trade Show", "Partner", "Cold Call"][i % 4]),
            "Languages": ([&["English"][..], &["Tamil", "English"], &["English", "German"], &["Japanese"]][i % 4]),
        });
        let Value::Object(contact) = contact else { continue };
        insert(shared, "Contacts", contact, start + chrono::Duration::minutes(i as i64));
    }
    let small = [
        ("Tasks", "Subject"),
        ("Events", "Event_Title"),
        ("Calls", "Subject"),
        ("Campaigns", "Campaign_Name"),
        ("Products", "Product_Name"),
        ("Quotes", "Subject"),
        ("Vendors", "Vendor_Name"),
        ("Notes", "Note_Content"),
        ("Shipments", "Name"),
    ];
    for (m, (module, field)) in small.iter().enumerate() {
        for i in 1..=3 {
            let mut values = Map::new();
            values.insert(field.to_string(), json!(format!("{module} {i}")));
            insert(shared, module, values, start + chrono::Duration::hours((m * 3 + i) as i64));
        }
    }
    for (i, name) in ["Zylker", "Zoho", "Acme", "Globex", "Initech"].iter().enumerate() {
        let Value::Object(account) = account_details(i, name) else { continue };
        let account_id = insert(shared, "Accounts", account, start + chrono::Duration::hours(i as i64));
        // Each deal is on its account's Deals related list (a lookup, as Zoho stores it).
        let lookup = json!({ "id": account_id.to_string(), "name": name });
        let Value::Object(deal) = deal_details(i, name, lookup) else { continue };
        insert(shared, "Deals", deal, start + chrono::Duration::hours(i as i64));
    }
    link_related(shared);
}

/// Subform rows (or uploaded files) with the ids Zoho gives each row.
fn rows(first: usize, rows: Vec<Value>) -> Value {
    let rows = rows
        .into_iter()
        .enumerate()
        .map(|(n, mut row)| {
            row["id"] = json!(format!("57257670000300{:05}", first + n));
            row
        })
        .collect();
    Value::Array(rows)
}

/// What a lead's standard and custom fields hold beside its name: a real lead's details.
fn lead_details(i: i64) -> Map<String, Value> {
    let n = i as usize;
    let Value::Object(details) = json!({
        "Salutation": (["Mr.", "Ms.", "Dr."][n % 3]),
        "Designation": TITLES[n % 3],
        "Phone": format!("+1 555 01{i:02}"),
        "Mobile": format!("+1 555 02{i:02}"),
        "Website": "https://www.zylker.com",
        "Lead_Source": (["Web Download", "Trade Show", "Advertisement"][n % 3]),
        "Lead_Status": (["Not Contacted", "Contacted", "Qualified"][n % 3]),
        "Industry": "Software",
        "No_of_Employees": 50 * i,
        "Annual_Revenue": 250_000.0 * i as f64,
        "Rating": "Active",
        "Email_Opt_Out": false,
        "City": CITIES[n % 4],
        "Country": COUNTRIES[n % 4],
        "Description": "Asked for a demo at the spring trade show.",
        "Product_Interest": ([&["Zoho CRM"][..], &["Zoho CRM", "Zoho Books"], &["Zoho Desk"]][n % 3]),
        "Follow_Up_Date": format!("2027-01-{:02}", 10 + i),
        "Product_Details": rows(n * 10, vec![json!({ "Product_Name": "Zoho CRM Enterprise", "Quantity": 10.0 * i as f64, "List_Price": 40.0, "Delivery_Date": "2027-02-01" })]),
    }) else {
        return Map::new();
    };
    details
}

/// The account `name` as a real org holds it.
fn account_details(i: usize, name: &str) -> Value {
    json!({
        "Account_Name": name,
        "Industry": "Software",
        "Account_Type": (["Customer", "Partner", "Prospect", "Customer", "Reseller"][i % 5]),
        "Ownership": "Private",
        "Rating": "Active",
        "Phone": format!("+1 555 03{i:02}"),
        "Website": format!("https://www.{}.com", name.to_lowercase()),
        "Employees": 120 * (i + 1),
        "Annual_Revenue": 1_000_000.0 * (i + 1) as f64,
        "Billing_City": CITIES[i % 4],
        "Billing_Country": COUNTRIES[i % 4],
        "Regions_Served": ([&["North America"][..], &["Asia Pacific", "Europe"]][i % 2]),
        "Customer_Since": format!("20{:02}-04-01", 18 + i),
        "Tax_Exempt": false,
        "Locations": rows(100 + i * 10, vec![json!({ "Site_Name": "Head office", "City": CITIES[i % 4], "Headcount": 80, "Opened_On": "2015-06-01" })]),
    })
}

/// The renewal deal of account `name` as a real org holds it.
fn deal_details(i: usize, name: &str, account: Value) -> Value {
    json!({
        "Deal_Name": format!("{name} renewal"),
        "Stage": "Qualification",
        "Closing_Date": format!("2027-0{}-15", i + 1),
        "Amount": 1000 * (i + 1),
        "Account_Name": account,
        "Type": "Existing Business",
        "Pipeline": "Standard (Standard)",
        "Probability": 10,
        "Lead_Source": "Partner",
        "Products_Of_Interest": ["Zoho CRM"],
        "Seats": 25 * (i + 1),
        "Billing_Frequency": "Yearly",
        "Auto_Renew": true,
        "Competitors": rows(200 + i * 10, vec![json!({ "Competitor": "Globex CRM", "Strength": "Even", "Quoted_Price": 900.0, "Website": "https://www.globex.example" })]),
    })
}

/// Links for the related lists: the first two contacts work at Zylker, the first contact is on
/// the Zylker deal, and note n is on account n (the first on Zylker), titled as Zoho's notes
/// are (notes.json: every note has a title and a parent, its module named with its id).
fn link_related(shared: &Shared) {
    let mut data = shared.data();
    let first = |data: &crate::state::Data, module: &str, n: usize| data.modules.get(module).and_then(|m| m.records.keys().nth(n).copied());
    let (Some(zylker), Some(contact)) = (first(&data, "Accounts", 0), first(&data, "Contacts", 0)) else { return };
    let (second, deal) = (first(&data, "Contacts", 1), first(&data, "Deals", 0));
    let notes: Vec<(u64, Option<u64>)> = (0..3).filter_map(|n| Some((first(&data, "Notes", n)?, first(&data, "Accounts", n)))).collect();
    let account = json!({ "id": zylker.to_string(), "name": "Zylker" });
    let contact_name = data.modules.get("Contacts").and_then(|m| m.records.get(&contact)).and_then(|r| r.get("Last_Name").cloned()).unwrap_or(Value::Null);
    let mut set = |module: &str, id: Option<u64>, field: &str, value: Value| {
        if let Some(record) = id.and_then(|id| data.modules.get_mut(module).and_then(|m| m.records.get_mut(&id))) {
            record.insert(field.into(), value);
        }
    };
    set("Contacts", Some(contact), "Account_Name", account.clone());
    set("Contacts", second, "Account_Name", account);
    set("Deals", deal, "Contact_Name", json!({ "id": contact.to_string(), "name": contact_name }));
    let accounts_module = json!({ "api_name": "Accounts", "id": metadata::module_id("Accounts") });
    for (n, (note, account)) in notes.into_iter().enumerate() {
        let Some(account) = account else { continue };
        let name = ["Zylker", "Zoho", "Acme"][n % 3];
        set("Notes", Some(note), "Parent_Id", json!({ "module": accounts_module.clone(), "id": account.to_string(), "name": name }));
        set("Notes", Some(note), "Note_Title", json!(format!("Note {}", n + 1)));
    }
}

/// The account's second Books organization (EUR), with data of its own.
pub const OTHER_BOOKS_ORG_ID: &str = "10234696";

fn seed_books(shared: &Shared) {
    use crate::books::documents::{kind_of, seeded, Stamp};
    let mut data = shared.data();
    let org = |id: &str, name: &str, default: bool, currency: &str, symbol: &str, zone: &str, country: &str| json!({ "organization_id": id, "name": name, "is_default_org": default, "currency_code": currency, "currency_symbol": symbol, "time_zone": zone, "country": country, "language_code": "en", "fiscal_year_start_month": 0, "account_created_date": "2016-02-18", "is_org_active": true });
    data.books.organizations = vec![org(account::BOOKS_ORG_ID, "Zillum", true, "USD", "$", "PST", "U.S.A"), org(OTHER_BOOKS_ORG_ID, "Zillum Labs", false, "EUR", "€", "Europe/Berlin", "Germany")];
    let time = "2016-06-11T17:38:06-0700";
    let contact = |id: String, name: String, kind: &str, status: &str| json!({ "contact_id": id, "contact_name": name, "company_name": "", "contact_type": kind, "email": "", "status": status, "created_time": time, "last_modified_time": time });
    let mut contacts: Vec<Value> = (1..=account::BOOKS_CONTACTS)
        .map(|i| {
            let mut c = contact(format!("46000000{:07}", i), format!("Customer {i:03}"), "customer", if i % 10 == 0 { "inactive" } else { "active" });
            c["company_name"] = json!(format!("Company {i:03}"));
            c["email"] = json!(format!("customer{i}@zillum.com"));
            c
        })
        .collect();
    // Vendors are contacts too (contact_type "vendor"): purchase orders and bills name them.
    contacts.extend((1..=2).map(|i| contact(format!("46000000{:07}", account::BOOKS_CONTACTS + i), format!("Vendor {i:03}"), "vendor", "active")));
    let items = vec![
        json!({ "item_id": "460000020000001", "name": "Consulting hour", "rate": 120.0, "status": "active", "created_time": time, "last_modified_time": time }),
        json!({ "item_id": "460000020000002", "name": "Support plan", "rate": 49.0, "status": "active", "created_time": time, "last_modified_time": time }),
    ];
    let taxes = vec![json!({ "tax_id": "460000040000001", "tax_name": "Sales Tax", "tax_percentage": 8.25, "tax_type": "tax" })];
    let invoices_kind = kind_of("invoices").expect("invoices are a document");
    let stamp = Stamp { currency: "USD", date: "2016-06-11", time };
    let invoices: Vec<Value> = (1..=3u64)
        .map(|i| {
            seeded(invoices_kind, &format!("46000001{:07}", i), i, &contacts[0], &[("460000020000001", "Consulting hour", 120.0, i as f64), ("460000020000002", "Support plan", 49.0, 1.0)], &stamp)
        })
        .collect();
    let comments = vec![json!({ "comment_id": "460000030000001", "description": "Sent by e-mail", "created_time": time, "last_modified_time": time })];
    let books = &mut data.books;
    books.records.insert(("contacts".into(), None), contacts);
    books.records.insert(("invoices".into(), None), invoices);
    books.records.insert(("items".into(), None), items);
    books.records.insert(("taxes".into(), None), taxes);
    books.records.insert(("comments".into(), Some("460000010000001".into())), comments);
    books.series.insert((account::BOOKS_ORG_ID.into(), "invoices".into()), 3);

    // The second organization keeps its own customers, items, taxes and series.
    let kunde = contact("470000000000001".into(), "Kunde 001".into(), "customer", "active");
    let labs_invoice = seeded(invoices_kind, "470000010000001", 1, &kunde, &[("470000020000001", "Beratungsstunde", 100.0, 2.0)], &Stamp { currency: "EUR", ..stamp });
    let mut labs = std::collections::HashMap::new();
    labs.insert(("contacts".into(), None), vec![kunde]);
    labs.insert(("items".into(), None), vec![json!({ "item_id": "470000020000001", "name": "Beratungsstunde", "rate": 100.0, "status": "active", "created_time": time, "last_modified_time": time })]);
    labs.insert(("taxes".into(), None), vec![json!({ "tax_id": "470000040000001", "tax_name": "MwSt", "tax_percentage": 19.0, "tax_type": "tax" })]);
    labs.insert(("invoices".into(), None), vec![labs_invoice]);
    books.other_orgs.insert(OTHER_BOOKS_ORG_ID.into(), labs);
    books.series.insert((OTHER_BOOKS_ORG_ID.into(), "invoices".into()), 1);
}
