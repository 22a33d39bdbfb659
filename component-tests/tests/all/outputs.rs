//! Every action's declared output (`output-schema` in actions.json) against what it really
//! returns: the harness checks each Ok value of every step of the suite
//! (`component_tests::assert_output_declared`); here each action runs at least once against the
//! sandbox, so none is declared without a real output checked, and a wrong schema is seen to fail.

use component_tests::{ok_of, output_schemas, with_books_org, Harness};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use zoho_host::manifest::{Manifest, OutputSchemas};

const INVOICE: &str = "460000010000001";

/// Runs each step, keeping the keys of the actions that answered Ok (the harness checked
/// each answer against its action's schema on the way).
struct Steps<'a> {
    h: &'a Harness,
    ran: BTreeSet<String>,
}

impl Steps<'_> {
    async fn ok_as(&mut self, connection: &Value, key: &str, input: Value) -> Value {
        let outcome = self.h.run_as(connection, key, input.clone(), None).await;
        let Ok(value) = &outcome.result else { panic!("{key} {input}: {outcome:?}") };
        self.ran.insert(key.to_string());
        value.clone()
    }

    async fn ok(&mut self, key: &str, input: Value) -> Value {
        let connection = self.h.connection.clone();
        self.ok_as(&connection, key, input).await
    }
}

fn id_of(value: &Value, pointer: &str) -> String {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no id at {pointer} in {value}")).to_string()
}

async fn crm_records(s: &mut Steps<'_>) {
    s.ok("crm-list-modules", json!({})).await;
    s.ok("crm-describe-module", json!({ "record-type": "Leads" })).await;
    let created = s.ok("crm-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Outputs", "Email": "outputs@example.com" } })).await;
    let id = id_of(&created, "/details/id");
    let lead = json!({ "record-type": "Leads", "record-id": id });
    s.ok("crm-get-record", lead.clone()).await;
    s.ok("crm-get-records", json!({ "record-type": "Leads", "fields": "Last_Name,Email", "per-page": 2 })).await;
    s.ok("crm-update-record", json!({ "record-type": "Leads", "record-id": id, "values": { "First_Name": "Sample" } })).await;
    s.ok("crm-search-records", json!({ "record-type": "Leads", "email": "outputs@example.com" })).await;
    s.ok("crm-coql-query", json!({ "query": "select Last_Name, Email from Leads where Last_Name = 'Outputs' limit 10" })).await;
    s.ok("crm-upsert-records", json!({ "record-type": "Leads", "values": { "Last_Name": "Outputs", "Email": "outputs@example.com" } })).await;
    s.ok("crm-find-or-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Outputs", "Email": "outputs@example.com" } })).await;
    s.ok("crm-add-note", json!({ "record-type": "Leads", "record-id": id, "note-content": "Called back" })).await;
    s.ok("crm-get-related-records", json!({ "record-type": "Leads", "record-id": id, "related-list": "Notes" })).await;
    let attached = s.ok("crm-add-attachment", json!({ "record-type": "Leads", "record-id": id, "file": { "text": "hello" }, "file-name": "hello.txt" })).await;
    s.ok("crm-list-attachments", lead.clone()).await;
    s.ok("crm-download-attachment", json!({ "record-type": "Leads", "record-id": id, "attachment-id": id_of(&attached, "/details/id") })).await;
    s.ok("crm-add-tags", json!({ "record-type": "Leads", "record-ids": [id], "tags": ["VIP"] })).await;
    s.ok("crm-remove-tags", json!({ "record-type": "Leads", "record-ids": [id], "tags": ["VIP"] })).await;
    s.ok("crm-raw-request", json!({ "url": "Leads", "query-parameters": { "fields": "Last_Name", "per_page": 1 } })).await;
    s.ok("crm-convert-lead", json!({ "record-id": id })).await;
    let doomed = s.h.sandbox.create_record("Leads", json!({ "Last_Name": "Doomed" }));
    s.ok("crm-remove-record", json!({ "record-type": "Leads", "record-id": doomed })).await;
    s.ok("crm-get-deleted-records", json!({ "record-type": "Leads" })).await;
    let many: Vec<String> = (0..2).map(|_| s.h.sandbox.create_record("Leads", json!({ "Last_Name": "Many" }))).collect();
    s.ok("crm-update-records", json!({ "record-type": "Leads", "values": [{ "id": many[0], "Lead_Status": "Contacted" }, { "id": "5725767000000999999", "Lead_Status": "Contacted" }] })).await;
    s.ok("crm-remove-records", json!({ "record-type": "Leads", "record-ids": many })).await;
    s.ok("crm-list-users", json!({ "type": "ActiveUsers" })).await;
    s.ok("crm-get-user", json!({ "user-id": "5725767000000411001" })).await;
    s.ok("crm-list-related-lists", json!({ "record-type": "Accounts" })).await;
    s.ok("crm-list-custom-views", json!({ "record-type": "Leads" })).await;
    s.ok("crm-list-tags", json!({ "record-type": "Leads" })).await;
    let composite = json!([{ "method": "POST", "url": "/Leads", "body": { "data": [{ "Last_Name": "Composite" }] }, "sub_request_id": "lead" }, { "method": "GET", "url": "/Leads/@{lead:$.data[0].details.id}", "params": { "fields": "Last_Name" } }]);
    s.ok("crm-run-composite", json!({ "requests": composite })).await;
    s.ok("crm-test-connection", json!({ "check-books": true })).await;
    let (member, campaign) = (s.h.sandbox.create_record("Leads", json!({ "Last_Name": "Member" })), s.h.sandbox.create_record("Campaigns", json!({ "Campaign_Name": "Outputs" })));
    let link = json!({ "record-type": "Leads", "record-id": member, "related-list": "Campaigns", "related-record-id": campaign });
    s.ok("crm-link-related-record", link.clone()).await;
    s.ok("crm-unlink-related-record", link).await;
    let noted = s.ok("crm-add-note", json!({ "record-type": "Leads", "record-id": member, "note-content": "To change" })).await;
    let note = id_of(&noted, "/details/id");
    s.ok("crm-list-notes", json!({ "record-type": "Leads", "record-id": member })).await;
    s.ok("crm-update-note", json!({ "note-id": note, "note-title": "Changed", "note-content": "Changed" })).await;
    s.ok("crm-remove-note", json!({ "note-id": note })).await;
    // Send Mail from a contact, its From choices, and a file put into its file upload field.
    let contact = s.h.sandbox.create_record("Contacts", json!({ "Last_Name": "Mailed", "Email": "mailed@example.com" }));
    s.ok("crm-list-from-addresses", json!({})).await;
    s.ok(
        "crm-send-email",
        json!({ "record-type": "Contacts", "record-id": contact, "from": "Sandbox User <owner@sandbox.zoho>", "to": ["Mailed <mailed@example.com>"], "subject": "Hello", "content": "<p>Hi</p>" }),
    )
    .await;
    s.ok("crm-upload-file-field", json!({ "record-type": "Contacts", "record-id": contact, "field": "Signed_Contract", "file": { "text": "signed" }, "file-name": "contract.txt" })).await;
}

async fn books(s: &mut Steps<'_>) {
    let books = with_books_org(s.h);
    let created = s.ok_as(&books, "books-create-record", json!({ "record-type": "contacts", "values": { "contact_name": "Outputs Ltd" } })).await;
    let contact = json!({ "record-type": "contacts", "record-id": id_of(&created, "/contact_id") });
    s.ok_as(&books, "books-get-record", contact.clone()).await;
    s.ok_as(&books, "books-get-records", json!({ "record-type": "contacts", "per-page": 2 })).await;
    let mut update = contact.clone();
    update["values"] = json!({ "company_name": "Outputs Inc" });
    s.ok_as(&books, "books-update-record", update).await;
    s.ok_as(&books, "books-record-action", json!({ "record-type": "invoices", "record-id": INVOICE, "action": "status/sent" })).await;
    s.ok_as(&books, "books-get-record-document", json!({ "record-type": "invoices", "record-id": INVOICE })).await;
    s.ok_as(&books, "books-raw-request", json!({ "url": "/items" })).await;
    s.ok_as(&books, "books-remove-record", contact).await;
    let mut page = 1;
    while s.ok_as(&books, "books-list-modified-records-by-page", json!({ "record-type": "invoices", "page": page, "per-page": 2, "include-line-items": true })).await["more_records"] == true {
        page += 1;
    }
    s.ok_as(&books, "books-update-last-successful-run-date", json!({ "record-type": "invoices" })).await;
    s.ok_as(&books, "books-describe-resource", json!({ "record-type": "invoices" })).await;
}

async fn sweeps(s: &mut Steps<'_>) {
    s.ok("incremental-list-contacts-by-page", json!({ "page": 1, "per-page": 2 })).await;
    s.ok("incremental-list-modified-records-by-page", json!({ "record-type": "Deals", "page": 1, "per-page": 2 })).await;
    s.ok("incremental-update-last-successful-run-date", json!({ "record-type": "Contacts", "timestamp": "2026-01-01T00:00:00+00:00" })).await;
    s.ok("sync-discover", json!({})).await;
    let mut page = 1;
    while s.ok("sync-read-stream-page", json!({ "stream": "users", "page": page })).await["more_records"] == true {
        page += 1;
    }
    s.ok("sync-commit-stream", json!({ "stream": "users" })).await;
}

async fn notifications(s: &mut Steps<'_>) {
    let enabled = s.ok("notifications-enable", json!({ "events": ["Leads.all"], "notify-url": "https://hooks.example.com/zoho", "channel-id": "4242" })).await;
    let token = id_of(&enabled, "/token");
    s.ok("notifications-list", json!({})).await;
    s.ok("notifications-list-events", json!({})).await;
    s.ok("notifications-renew", json!({ "channel-id": "4242" })).await;
    let delivery = json!({
        "server_time": 1_765_000_000_000_i64, "query_params": {}, "module": "Leads", "resource_uri": format!("{}/crm/v8/Leads", s.h.sandbox.url),
        "ids": ["5725767000000524157"], "affected_fields": [], "operation": "insert", "channel_id": "4242", "token": token,
    });
    s.ok("notifications-parse", json!({ "body": delivery.to_string(), "expected-token": token })).await;
    s.ok("notifications-disable", json!({ "channel-ids": ["4242"] })).await;
}

async fn bulk(s: &mut Steps<'_>) {
    s.h.sandbox.clock().freeze_at(chrono::Utc::now());
    let job = s.ok("bulk-read-create", json!({ "record-type": "Leads", "fields": ["Last_Name", "Annual_Revenue", "Email_Opt_Out", "Owner"] })).await;
    let id = id_of(&job, "/id");
    s.h.sandbox.clock().advance(chrono::Duration::minutes(5));
    s.ok("bulk-read-status", json!({ "job-id": id })).await;
    s.ok("bulk-read-result-page", json!({ "job-id": id, "record-type": "Leads", "limit": 3 })).await;
    bulk_write(s).await;
}

/// An import job: upload, create, status once completed, the outcomes.
async fn bulk_write(s: &mut Steps<'_>) {
    let records = json!([{ "Last_Name": "Outputs", "Email": "outputs@example.com" }, { "Email": "nameless@example.com" }]).to_string();
    let file = s.ok("bulk-write-upload", json!({ "record-type": "Leads", "records": records })).await;
    let file_id = id_of(&file, "/file_id");
    let job = s.ok("bulk-write-create", json!({ "record-type": "Leads", "file-id": file_id, "operation": "insert" })).await;
    let id = id_of(&job, "/id");
    s.h.sandbox.clock().advance(chrono::Duration::minutes(5));
    s.ok("bulk-write-status", json!({ "job-id": id })).await;
    s.ok("bulk-write-result", json!({ "job-id": id })).await;
}

/// Each action of the manifest runs at least once against the sandbox, and its Ok value is
/// checked against its declared output-schema (by the harness, on every step).
#[tokio::test(flavor = "multi_thread")]
async fn every_action_returns_what_its_output_schema_declares() {
    let h = Harness::new().await;
    let mut steps = Steps { h: &h, ran: BTreeSet::new() };
    crm_records(&mut steps).await;
    books(&mut steps).await;
    sweeps(&mut steps).await;
    notifications(&mut steps).await;
    bulk(&mut steps).await;
    let declared: BTreeSet<String> = output_schemas().actions().map(str::to_string).collect();
    let manifest: BTreeSet<String> = Manifest::embedded().expect("manifest").actions.into_iter().map(|a| a.key).collect();
    assert_eq!(declared, manifest, "every action of the manifest declares an output schema");
    let unchecked: Vec<&String> = manifest.difference(&steps.ran).collect();
    assert!(unchecked.is_empty(), "actions with no real output checked: {unchecked:?}");
    assert!(manifest.iter().all(|k| component_tests::outputs_checked().contains(k)));
}

/// A schema that says something the component does not return fails the check, naming the
/// action, the JSON pointer and why; the same real output passes the declared schema.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_output_schema_fails_against_the_real_output() {
    let h = Harness::new().await;
    let record = ok_of(&h.run("crm-get-record", json!({ "record-type": "Leads", "record-id": "5725767000000524157" })).await).clone();
    assert_eq!(output_schemas().check("crm-get-record", &record), Ok(()));
    let mut manifest: Value = serde_json::from_str(zoho_host::manifest::EMBEDDED).expect("json");
    let action = manifest["actions"].as_array_mut().expect("actions").iter_mut().find(|a| a["key"] == "crm-get-record").expect("crm-get-record");
    // Ids declared as numbers (Zoho sends strings of digits), and a key Zoho never sends required.
    action["output-schema"]["properties"]["id"] = json!({ "type": "integer" });
    action["output-schema"]["required"] = json!(["id", "Record_Score"]);
    action["output-sample"] = json!({ "id": 1, "Record_Score": 5 });
    let broken = OutputSchemas::of_manifest(&Manifest::parse(&manifest.to_string()).expect("manifest")).expect("compiles");
    let wrong = broken.check("crm-get-record", &record).expect_err("the real output does not match");
    assert!(wrong.contains("at \"/id\"") && wrong.contains("want integer, but got string"), "{wrong}");
    assert!(wrong.contains("missing properties 'Record_Score'"), "{wrong}");
    // And the harness's check fails the test with the action's name.
    let outcome = h.run("crm-get-record", json!({ "record-type": "Leads", "record-id": "5725767000000524157" })).await;
    let mut odd = outcome.clone();
    odd.result = Ok(json!({ "id": 5725767000000524157_u64, "Last_Name": "Lead1" }));
    let panic = std::panic::catch_unwind(|| component_tests::assert_output_declared("crm-get-record", &odd)).expect_err("a number id fails");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.starts_with("crm-get-record: its Ok value does not match the output-schema") && message.contains("at \"/id\""), "{message}");
}
