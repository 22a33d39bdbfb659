//! List Attachments, Download Attachment and Get Deleted Records end to end: exact requests,
//! exact results, Zoho's errors, the 32 MiB answer cap, hostile answers.

use component_tests::{assert_request, error_of, file_of, ok_of, Fault, Harness};
use serde_json::{json, Value};
use zoho_sandbox::Clock;

const LEAD: &str = "5725767000000524157";
const MIB: usize = 1 << 20;
const FIELDS: &str = "id,File_Name,Size,Created_Time,Modified_Time,Owner,Created_By,Modified_By,Parent_Id,$editable,$file_id,$type,$se_module,$state,$link_url";

fn owner() -> Value {
    json!({ "name": "Sandbox User", "id": "5725767000000411001", "email": "owner@sandbox.zoho" })
}

fn invalid(outcome: &zoho_host::StepOutcome) -> String {
    let error = error_of(outcome);
    assert_eq!(error["kind"], "invalid-input", "{error}");
    error["message"].as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn attachments_are_listed_with_zohos_fields() {
    let h = Harness::new().await;
    let file = h.sandbox.add_attachment("Leads", LEAD, "report.pdf", "application/pdf", b"%PDF-1.4".to_vec());
    let link = h.sandbox.add_link_attachment("Leads", LEAD, "https://example.com/brief");
    let times: Vec<String> = h.sandbox.attachments("Leads", LEAD).iter().map(|a| a.created_time.clone()).collect();
    let outcome = h.run("crm-list-attachments", json!({ "record-type": "Leads", "record-id": LEAD })).await;
    assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/v8/Leads/{LEAD}/Attachments"), &[("fields", FIELDS), ("page", "1"), ("per_page", "200")], None);
    let entry = |id: &str, name: &str, size: &str, time: &str, file_id: &str, kind: &str, url: Value| {
        json!({
            "id": id, "File_Name": name, "Size": size, "Created_Time": time, "Modified_Time": time,
            "Owner": owner(), "Created_By": owner(), "Modified_By": owner(), "Parent_Id": { "id": LEAD, "name": "Lead1" },
            "$editable": true, "$file_id": file_id, "$type": kind, "$se_module": "Leads", "$state": "save", "$link_url": url,
        })
    };
    assert_eq!(
        ok_of(&outcome),
        &json!({
            "data": [
                entry(&file, "report.pdf", "8", &times[0], &format!("f{file}"), "Attachment", Value::Null),
                entry(&link, "https://example.com/brief", "0", &times[1], "", "Link URL", json!("https://example.com/brief")),
            ],
            "info": { "per_page": 200, "count": 2, "page": 1, "more_records": false }
        })
    );
    // A second page of one; a record without attachments is an empty page (204).
    let outcome = h.run("crm-list-attachments", json!({ "record-type": "Leads", "record-id": LEAD, "page": 2, "per-page": 1 })).await;
    assert_eq!((ok_of(&outcome)["data"][0]["id"].as_str(), ok_of(&outcome)["info"].clone()), (Some(link.as_str()), json!({ "per_page": 1, "count": 1, "page": 2, "more_records": false })));
    let other = "5725767000000524158";
    let outcome = h.run("crm-list-attachments", json!({ "record-type": "Leads", "record-id": other })).await;
    assert_eq!(ok_of(&outcome), &json!({ "data": [], "info": { "count": 0, "more_records": false, "page": 1, "per_page": 200 } }));
    // Zoho's errors: no such record, no such module.
    let outcome = h.run("crm-list-attachments", json!({ "record-type": "Leads", "record-id": "42" })).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "not-found", "status": 400, "code": "INVALID_DATA", "message": "the related id given seems to be invalid", "details": { "id": "42" }, "retry-after-ms": null })
    );
    let outcome = h.run("crm-list-attachments", json!({ "record-type": "Nope", "record-id": LEAD })).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_MODULE");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_attachment_inputs_and_hostile_lists() {
    let h = Harness::new().await;
    let list = |extra: Value| {
        let mut input = json!({ "record-type": "Leads", "record-id": LEAD });
        if let (Value::Object(input), Value::Object(extra)) = (&mut input, extra) {
            input.extend(extra);
        }
        input
    };
    for (input, says) in [
        (list(json!({ "per-page": 0 })), "per-page 0"),
        (list(json!({ "per-page": 201 })), "per-page 201"),
        (list(json!({ "page": 0 })), "page starts at 1"),
        (list(json!({ "record-id": "1 OR 1" })), "record id"),
        (list(json!({ "record-type": "Leads/x" })), "module API name"),
    ] {
        assert!(invalid(&h.run("crm-list-attachments", input.clone()).await).contains(says), "{input}");
    }
    for (input, says) in [
        (json!({ "record-type": "Leads", "record-id": LEAD, "attachment-id": "../1" }), "attachment id"),
        (json!({ "record-type": "Leads", "record-id": LEAD, "attachment-id": "" }), "attachment id"),
        (json!({ "record-type": "Leads", "record-id": "x", "attachment-id": "1" }), "record id"),
    ] {
        assert!(invalid(&h.run("crm-download-attachment", input.clone()).await).contains(says), "{input}");
    }
    assert!(h.requests().is_empty());
    // At per-page 200 the list is sent; more items than asked for is refused unread.
    h.sandbox.inject(Fault::status(1, 200, r#"{"data":[{"id":"1"},{"id":"2"}],"info":{"count":2}}"#));
    let outcome = h.run("crm-list-attachments", list(json!({ "per-page": 1 }))).await;
    assert!(error_of(&outcome)["message"].as_str().unwrap_or("").contains("more than 1 items"));
    let outcome = h.run("crm-list-attachments", list(json!({ "per-page": 200 }))).await;
    assert_eq!(ok_of(&outcome)["data"], json!([]));
    assert_eq!(h.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_is_the_files_bytes_with_its_name_and_type() {
    let h = Harness::new().await;
    let bytes: Vec<u8> = (0..=255).collect();
    let pdf = h.sandbox.add_attachment("Leads", LEAD, "naïve résumé 日本.pdf", "application/pdf", bytes.clone());
    let outcome = h.run("crm-download-attachment", json!({ "record-type": "Leads", "record-id": LEAD, "attachment-id": pdf })).await;
    assert_request(&h.only_request(), &h.token, "GET", &format!("/crm/v8/Leads/{LEAD}/Attachments/{pdf}"), &[], None);
    assert_eq!(file_of(&outcome), (json!("naïve résumé 日本.pdf"), json!("application/pdf"), bytes));
    let text = h.sandbox.add_attachment("Leads", LEAD, "notes.txt", "text/plain", b"hello".to_vec());
    let outcome = h.run("crm-download-attachment", json!({ "record-type": "Leads", "record-id": LEAD, "attachment-id": text })).await;
    assert_eq!(file_of(&outcome), (json!("notes.txt"), json!("text/plain"), b"hello".to_vec()));

    // A link has no file: Zoho's error. An attachment the record lacks: 204, not-found.
    let link = h.sandbox.add_link_attachment("Leads", LEAD, "https://example.com/brief");
    let outcome = h.run("crm-download-attachment", json!({ "record-type": "Leads", "record-id": LEAD, "attachment-id": link })).await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "zoho", "status": 400, "code": "INVALID_DATA", "message": "the attachment is a link URL, not a file to download", "details": { "id": link }, "retry-after-ms": null })
    );
    let outcome = h.run("crm-download-attachment", json!({ "record-type": "Leads", "record-id": LEAD, "attachment-id": "42" })).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["status"].as_u64()), (Some("not-found"), Some(204)));
    let outcome = h.run("crm-download-attachment", json!({ "record-type": "Leads", "record-id": "42", "attachment-id": pdf })).await;
    assert_eq!(error_of(&outcome)["code"], "INVALID_DATA");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_downloads_are_refused_or_redacted() {
    let h = Harness::new().await;
    let input = json!({ "record-type": "Leads", "record-id": LEAD, "attachment-id": "1" });
    // A file holding the token is refused, not passed on.
    h.sandbox.inject(Fault::status(1, 200, &format!("secret: {}", h.token)).header("content-type", "text/plain"));
    let outcome = h.run("crm-download-attachment", input.clone()).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "zoho");
    assert!(!error.to_string().contains(&h.token), "{error}");
    // A file name echoing the token is redacted; a path in it is dropped.
    h.sandbox.inject(Fault::status(1, 200, "ok").header("content-disposition", &format!("attachment;filename=\"../{}.txt\"", h.token)));
    let outcome = h.run("crm-download-attachment", input.clone()).await;
    assert_eq!(file_of(&outcome), (json!("[redacted].txt"), json!("application/json;charset=UTF-8"), b"ok".to_vec()));
    // A JSON error is Zoho's typed error.
    h.sandbox.inject(Fault::status(1, 401, r#"{"code":"OAUTH_SCOPE_MISMATCH","message":"invalid oauth scope to access this URL","status":"error","details":{}}"#));
    let outcome = h.run("crm-download-attachment", input).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["code"].as_str()), (Some("unauthorized"), Some("OAUTH_SCOPE_MISMATCH")));
    assert_eq!(h.requests().len(), 3);
}

// The answer cap: one byte past 32 MiB is a typed transport error, the file never held. A
// file the host can hand back (its dynamic lifting of `list<u8>` is bounded by wasmtime's
// hostcall fuel, about 4 MiB) comes back whole within bounded memory.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_past_32_mib_is_refused_and_a_large_one_downloads() {
    let h = Harness::new().await;
    let past = h.sandbox.add_attachment("Leads", LEAD, "bigger.bin", "application/octet-stream", vec![7u8; 32 * MIB + 1]);
    let outcome = h.run("crm-download-attachment", json!({ "record-type": "Leads", "record-id": LEAD, "attachment-id": past })).await;
    let error = error_of(&outcome);
    assert_eq!(error["kind"], "transport");
    assert!(error["message"].as_str().unwrap_or("").contains("larger than 32 MiB"), "{error}");
    assert!(outcome.peak_memory_bytes < 16 * MIB, "the refused file was not held: peak {}", outcome.peak_memory_bytes);

    // Exactly at the cap the file comes back whole: the host lifts the bytes typed (one copy),
    // not as a value per byte (which ran out of wasmtime's hostcall fuel past about 4 MiB).
    let large = h.sandbox.add_attachment("Leads", LEAD, "large.bin", "application/octet-stream", vec![7u8; 32 * MIB]);
    let outcome = h.run("crm-download-attachment", json!({ "record-type": "Leads", "record-id": LEAD, "attachment-id": large })).await;
    let (name, kind, bytes) = file_of(&outcome);
    assert_eq!((name, kind, bytes.len(), bytes.iter().all(|b| *b == 7)), (json!("large.bin"), json!("application/octet-stream"), 32 * MIB, true));
    assert!(outcome.peak_memory_bytes < 80 * MIB, "peak {}", outcome.peak_memory_bytes);
    assert_eq!(h.requests().len(), 2);
}

fn deleted_entry(id: &str, at: &str, name: &str, kind: &str) -> Value {
    json!({ "id": id, "deleted_time": at, "deleted_by": owner(), "display_name": name, "type": kind, "created_by": owner() })
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_records_by_type_with_zohos_entries() {
    let h = Harness::new().await;
    let now = h.sandbox.clock().now();
    let deals: Vec<(String, String)> = h.sandbox.record_versions("Deals");
    let names = ["Zylker renewal", "Zoho renewal", "Acme renewal"];
    // Deleted 121 days ago, the fourth has left the feed (permanently deleted ids are listed 120
    // days); deleted 61 days ago, the first has left the recycle bin; two more are deleted now.
    h.sandbox.clock().freeze_at(now - chrono::Duration::days(121));
    assert!(h.sandbox.delete_record("Deals", &deals[3].0));
    let before = now - chrono::Duration::days(61);
    h.sandbox.clock().freeze_at(before);
    assert!(h.sandbox.delete_record("Deals", &deals[0].0));
    let old_at = Clock::zoho_time(before);
    h.sandbox.clock().freeze_at(now);
    assert!(h.sandbox.delete_record("Deals", &deals[1].0));
    assert!(h.sandbox.delete_record("Deals", &deals[2].0));
    let now_at = Clock::zoho_time(now);

    let outcome = h.run("crm-get-deleted-records", json!({ "record-type": "Deals" })).await;
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Deals/deleted", &[("type", "all"), ("page", "1"), ("per_page", "200")], None);
    // Zoho documents no order for the feed: the entries come in the sandbox's (stable, neither
    // time nor id) order, passed through as Zoho sent them.
    let mut entries =
        vec![deleted_entry(&deals[2].0, &now_at, names[2], "recycle"), deleted_entry(&deals[1].0, &now_at, names[1], "recycle"), deleted_entry(&deals[0].0, &old_at, names[0], "permanent")];
    entries.sort_by_key(|e| zoho_sandbox::deleted_feed_position(e["id"].as_str().expect("id")));
    assert_eq!(ok_of(&outcome), &json!({ "data": entries, "info": { "per_page": 200, "count": 3, "page": 1, "more_records": false } }));
    h.sandbox.clear_requests();
    let outcome = h.run("crm-get-deleted-records", json!({ "record-type": "Deals", "deleted-type": "Permanent", "page": 1, "per-page": 1 })).await;
    assert_request(&h.only_request(), &h.token, "GET", "/crm/v8/Deals/deleted", &[("type", "permanent"), ("page", "1"), ("per_page", "1")], None);
    assert_eq!(ok_of(&outcome)["data"], json!([deleted_entry(&deals[0].0, &old_at, names[0], "permanent")]));
    let outcome = h.run("crm-get-deleted-records", json!({ "record-type": "Deals", "deleted-type": "recycle", "page": 2, "per-page": 1 })).await;
    assert_eq!(ok_of(&outcome)["info"], json!({ "per_page": 1, "count": 1, "page": 2, "more_records": false }));
    // Nothing deleted: an empty page.
    let outcome = h.run("crm-get-deleted-records", json!({ "record-type": "Tasks", "deleted-type": "all" })).await;
    assert_eq!(ok_of(&outcome), &json!({ "data": [], "info": { "count": 0, "more_records": false, "page": 1, "per_page": 200 } }));
    // Zoho refuses an unknown type, asked directly.
    let outcome = h.run("crm-raw-request", json!({ "url": "/Deals/deleted?type=trash" })).await;
    assert_eq!(ok_of(&outcome)["status"], 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_deleted_inputs_and_hostile_answers() {
    let h = Harness::new().await;
    for (input, says) in [
        (json!({ "record-type": "Deals", "deleted-type": "trash" }), "all, recycle"),
        (json!({ "record-type": "Deals", "per-page": 0 }), "per-page 0"),
        (json!({ "record-type": "Deals", "per-page": 201 }), "per-page 201"),
        (json!({ "record-type": "Deals", "page": 0 }), "page starts at 1"),
        (json!({ "record-type": "" }), "module API name"),
    ] {
        assert!(invalid(&h.run("crm-get-deleted-records", input.clone()).await).contains(says), "{input}");
    }
    assert!(h.requests().is_empty());
    h.sandbox.inject(Fault::status(1, 200, r#"{"data":[{"id":"1"},{"id":"2"},{"id":"3"}],"info":{}}"#));
    let outcome = h.run("crm-get-deleted-records", json!({ "record-type": "Deals", "per-page": 2 })).await;
    assert!(error_of(&outcome)["message"].as_str().unwrap_or("").contains("more than 2 items"));
    let echo = format!(r#"{{"data":[{{"id":"1","display_name":"{}"}}],"info":{{"count":1}}}}"#, h.token);
    h.sandbox.inject(Fault::status(1, 200, &echo));
    let outcome = h.run("crm-get-deleted-records", json!({ "record-type": "Deals", "per-page": 200 })).await;
    assert_eq!(ok_of(&outcome), &json!({ "data": [{ "id": "1", "display_name": "[redacted]" }], "info": { "count": 1 } }));
    h.sandbox.inject(Fault::status(1, 400, r#"{"code":"INVALID_MODULE","message":"the module name given seems to be invalid","status":"error","details":{"resource_path_index":0}}"#));
    let outcome = h.run("crm-get-deleted-records", json!({ "record-type": "Deals" })).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["code"].as_str()), (Some("zoho"), Some("INVALID_MODULE")));
    assert_eq!(h.requests().len(), 3);
}
