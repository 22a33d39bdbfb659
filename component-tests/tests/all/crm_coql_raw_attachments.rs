//! COQL Query, Raw Request and Add Attachment end to end.

use component_tests::{assert_request, error_of, ok_of, Fault, Harness};
use serde_json::{json, Value};

const LEAD: &str = "5725767000000524157";

fn contact(i: usize) -> Value {
    json!({ "Last_Name": format!("Number{i:04}"), "Email": format!("contact{i}@example.com"), "id": (5725767000000524157u64 + 3 + i as u64 - 1).to_string() })
}

#[tokio::test(flavor = "multi_thread")]
async fn coql_query_sends_the_statement_and_returns_rows() {
    let h = Harness::new().await;
    let query = "select Last_Name, Email from Contacts where Last_Name like 'Number000%' and Mailing_City in ('Austin', 'Dublin') order by Last_Name desc limit 0, 3";
    let outcome = h.run("crm-coql-query", json!({ "query": query })).await;
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/coql", &[], Some(json!({ "select_query": query })));
    // Contacts 1..9 in Austin (i % 4 == 0) or Dublin (i % 4 == 2): 8, 6, 4, 2 — descending, first 3.
    assert_eq!(ok_of(&outcome), &json!({ "data": [contact(8), contact(6), contact(4)], "info": { "count": 3, "more_records": true } }));

    // No rows: 204 becomes an empty result.
    let outcome = h.run("crm-coql-query", json!({ "query": "select Email from Contacts where Last_Name = 'Nobody'" })).await;
    assert_eq!(ok_of(&outcome), &json!({ "data": [], "info": { "count": 0, "more_records": false } }));
}

#[tokio::test(flavor = "multi_thread")]
async fn coql_errors_keep_zohos_details() {
    let h = Harness::new().await;
    let run = |q: &'static str| h.run("crm-coql-query", json!({ "query": q }));
    let outcome = run("select Last_Name from Contacts where Last_Name = ").await;
    assert_eq!(
        error_of(&outcome),
        &json!({ "kind": "zoho", "status": 400, "code": "SYNTAX_ERROR", "message": "invalid query formed", "details": { "near": "", "line": 1, "column": 49 }, "retry-after-ms": null })
    );
    let outcome = run("select Last_Name from Contacts\nwhere Last_Name === 'x'").await;
    assert_eq!(error_of(&outcome)["details"], json!({ "near": "=", "line": 2, "column": 18 }));
    let outcome = run("select Shoe_Size from Contacts where Last_Name = 'x'").await;
    assert_eq!((error_of(&outcome)["code"].as_str(), error_of(&outcome)["details"]["column_name"].as_str()), (Some("INVALID_QUERY"), Some("Shoe_Size")));
    let outcome = run("select Last_Name from Contacts limit 0, 5000").await;
    assert_eq!(error_of(&outcome)["code"], "LIMIT_EXCEEDED");
    assert_eq!(error_of(&outcome)["details"], json!({ "by": "limit", "limit": 2000 }));
    // Not a select: refused before sending.
    h.sandbox.clear_requests();
    let outcome = run("delete from Contacts").await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert!(h.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn coql_all_rows_walks_limit_pages() {
    let h = Harness::new().await;
    let query = "select Last_Name from Contacts where Last_Name is not null order by Last_Name";
    let outcome = h.run("crm-coql-query", json!({ "query": query, "all-rows": true })).await;
    let result = ok_of(&outcome);
    let sent: Vec<String> = h.requests().iter().map(|r| r.json().expect("json")["select_query"].as_str().expect("query").to_string()).collect();
    assert_eq!(sent, vec![format!("{query} limit 0, 2000"), format!("{query} limit 2000, 2000")]);
    let names: Vec<&str> = result["data"].as_array().expect("rows").iter().map(|r| r["Last_Name"].as_str().expect("name")).collect();
    assert_eq!(names.len(), 2600);
    assert_eq!((names[0], names[2599]), ("Number0001", "Number2600"));
    assert_eq!(result["info"], json!({ "count": 2600, "more_records": false, "calls": 2 }));

    let outcome = h.run("crm-coql-query", json!({ "query": format!("{query} limit 10"), "all-rows": true })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
}

/// COQL reaches row 100,000 and no further (`offset + count` past it is refused, as the
/// sandbox refuses `limit 99500, 2000` like Zoho): an all-rows walk from offset 99,500 asks for
/// the 500 rows up to the reach, and when rows remain past it the answer says the reach ended.
#[tokio::test(flavor = "multi_thread")]
async fn coql_all_rows_never_asks_past_the_reach() {
    let h = Harness::new().await;
    let query = "select Last_Name from Contacts where Last_Name is not null order by Last_Name";
    let outcome = h.run("crm-coql-query", json!({ "query": query, "all-rows": true, "offset": 99_500 })).await;
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/coql", &[], Some(json!({ "select_query": format!("{query} limit 99500, 500") })));
    assert_eq!(ok_of(&outcome), &json!({ "data": [], "info": { "count": 0, "more_records": false, "calls": 1 } }));

    // 500 rows up to the reach, and Zoho says more follow: the walk stops and says why.
    h.sandbox.clear_requests();
    let rows: Vec<Value> = (0..500).map(|i| json!({ "Last_Name": format!("Far{i:03}"), "id": (9_000_000_000u64 + i).to_string() })).collect();
    let body = json!({ "data": rows, "info": { "count": 500, "more_records": true } }).to_string();
    h.sandbox.inject(Fault::status(1, 200, &body).on_path("/crm/v8/coql"));
    let outcome = h.run("crm-coql-query", json!({ "query": query, "all-rows": true, "offset": 99_500 })).await;
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/coql", &[], Some(json!({ "select_query": format!("{query} limit 99500, 500") })));
    let result = ok_of(&outcome);
    assert_eq!(result["data"].as_array().map(Vec::len), Some(500));
    assert_eq!(
        result["info"],
        json!({
            "count": 500, "more_records": true, "calls": 1, "reach_ended": true, "reach": 100000,
            "message": "COQL reaches the first 100000 rows of a query through LIMIT offsets, and this query has more: narrow it with a WHERE on an ordered field (e.g. Modified_Time or id) to read the rest",
        })
    );
    // From the reach itself, nothing can be asked.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-coql-query", json!({ "query": query, "all-rows": true, "offset": 100_000 })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert!(h.requests().is_empty());
}

fn raw(input: Value) -> Value {
    input
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_request_sends_every_input_and_returns_the_answer_as_data() {
    let h = Harness::new().await;
    let outcome = h
        .run(
            "crm-raw-request",
            raw(json!({
                // A query in the url, then `query-parameters`: a text, and a list (a text and a
                // number) sent as the repeated parameter, in order. `ids` is a parameter of Get
                // Records (record.json), so Zoho's files judge every one of them; 42 is no record.
                "url": "/Leads?fields=Last_Name",
                "query-parameters": { "approved": "both", "ids": [LEAD, 42] },
                "headers": { "X-Trace": "abc" },
            })),
        )
        .await;
    let request = h.only_request();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/crm/v8/Leads");
    assert_eq!(request.query, vec![("fields".into(), "Last_Name".into()), ("approved".into(), "both".into()), ("ids".into(), LEAD.into()), ("ids".into(), "42".into())]);
    assert_eq!(request.header("x-trace"), Some("abc"));
    assert_eq!(request.header("authorization"), Some(format!("Zoho-oauthtoken {}", h.token).as_str()));
    let result = ok_of(&outcome);
    assert_eq!(result["status"], 200);
    let body: Value = serde_json::from_str(result["body"]["json"].as_str().expect("json")).expect("json body");
    assert_eq!(body["data"], json!([{ "id": LEAD, "Last_Name": "Lead1" }]));
    assert_eq!(body["info"]["count"], 1);
    assert!(result["headers"].as_array().expect("headers").iter().any(|h| h[0] == "content-type"));

    // A JSON body on a write; a non-2xx answer is data, not an error.
    h.sandbox.clear_requests();
    let outcome = h.run("crm-raw-request", json!({ "url": "Leads", "method": "post", "data": { "data": [{ "First_Name": "x" }] } })).await;
    assert_request(&h.only_request(), &h.token, "POST", "/crm/v8/Leads", &[], Some(json!({ "data": [{ "First_Name": "x" }] })));
    let result = ok_of(&outcome);
    assert_eq!(result["status"], 400);
    let body: Value = serde_json::from_str(result["body"]["json"].as_str().expect("json")).expect("json body");
    assert_eq!(body["data"][0]["code"], "MANDATORY_NOT_FOUND");

    // A full URL on the API domain; text and binary response types.
    h.sandbox.clear_requests();
    let full = format!("{}/crm/v8/Leads/{LEAD}", h.sandbox.url);
    let text = h.run("crm-raw-request", json!({ "url": full, "response-type": "text" })).await;
    assert!(ok_of(&text)["body"]["text"].as_str().expect("text").contains("\"Lead1\""));
    let binary = h.run("crm-raw-request", json!({ "url": full, "response-type": "binary" })).await;
    let bytes: Vec<u8> = component_tests::bytes_of(&ok_of(&binary)["body"]["binary"]);
    assert_eq!(serde_json::from_slice::<Value>(&bytes).expect("json")["data"][0]["id"], LEAD);
    // 204 with json: null.
    let empty = h.run("crm-raw-request", json!({ "url": "Leads/42" })).await;
    assert_eq!(ok_of(&empty)["status"], 204);
    assert_eq!(ok_of(&empty)["body"], json!({ "json": "null" }));
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_request_multipart_form_and_file_data() {
    let h = Harness::new().await;
    let outcome = h
        .run(
            "crm-raw-request",
            json!({
                "url": format!("Leads/{LEAD}/Attachments"), "method": "POST",
                "form-data": { "note": "from raw" },
                "file-data": { "file": "hello, zoho" },
                "file-data-file-names": { "file": "hello.txt" },
            }),
        )
        .await;
    assert_eq!(ok_of(&outcome)["status"], 200);
    let request = h.only_request();
    let content_type = request.header("content-type").expect("content type").to_string();
    let boundary = content_type.strip_prefix("multipart/form-data; boundary=").expect("multipart");
    assert_eq!(
        String::from_utf8_lossy(&request.body),
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nfrom raw\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"hello.txt\"\r\nContent-Type: text/plain\r\n\r\nhello, zoho\r\n--{boundary}--\r\n"
        )
    );
    let stored = h.sandbox.attachments("Leads", LEAD);
    assert_eq!((stored[0].file_name.as_str(), stored[0].bytes.as_slice()), ("hello.txt", &b"hello, zoho"[..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_request_refuses_foreign_hosts_injection_and_reserved_headers() {
    let h = Harness::new().await;
    let cases = [
        json!({ "url": "https://evil.example.com/crm/v8/Leads" }),
        json!({ "url": format!("{}.evil.example.com/crm/v8/Leads", h.sandbox.url) }),
        json!({ "url": "../../oauth/v2/token" }),
        json!({ "url": "Leads", "headers": { "Authorization": "Zoho-oauthtoken stolen" } }),
        json!({ "url": "Leads", "headers": { "Host": "evil.example.com" } }),
        json!({ "url": "Leads", "headers": { "X-Evil": "1\r\nAuthorization: x" } }),
        json!({ "url": "Leads", "method": "TRACE" }),
        json!({ "url": "Leads", "data": "x", "form-data": { "a": "b" } }),
        json!({ "url": "Leads", "response-type": "xml" }),
        json!({ "url": "Leads", "file-data": { "f": "x" }, "file-data-file-names": { "g": "g.txt" } }),
    ];
    for input in cases {
        let outcome = h.run("crm-raw-request", input.clone()).await;
        assert_eq!(error_of(&outcome)["kind"], "invalid-input", "{input}");
    }
    assert!(h.requests().is_empty(), "nothing sent: {:?}", h.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_request_retries_then_reports_exhaustion() {
    let h = Harness::new().await;
    h.sandbox.inject(Fault::status(3, 503, r#"{"code":"INTERNAL_ERROR","details":{},"message":"down","status":"error"}"#));
    let outcome = h.run_with("crm-raw-request", json!({ "url": format!("Leads/{LEAD}") }), Some(json!({ "max-retries": 2, "retry-delay-ms": 5 }))).await;
    assert_eq!((error_of(&outcome)["kind"].as_str(), error_of(&outcome)["status"].as_u64()), (Some("zoho"), Some(503)));
    assert_eq!(h.requests().len(), 3);
    // Without retries the 503 is data.
    h.sandbox.inject(Fault::status(1, 503, r#"{"code":"INTERNAL_ERROR","details":{},"message":"down","status":"error"}"#));
    let outcome = h.run("crm-raw-request", json!({ "url": format!("Leads/{LEAD}") })).await;
    assert_eq!(ok_of(&outcome)["status"], 503);
}

#[tokio::test(flavor = "multi_thread")]
async fn add_attachment_sends_the_file_part() {
    let h = Harness::new().await;
    let outcome = h.run("crm-add-attachment", json!({ "record-id": LEAD, "file": "quarterly numbers", "file-name": "report.csv" })).await;
    let stored = h.sandbox.attachments("Leads", LEAD);
    assert_eq!(stored.len(), 1);
    let result = ok_of(&outcome);
    assert_eq!(result["details"]["id"].as_str(), Some(stored[0].id.as_str()));
    assert_eq!((result["code"].as_str(), result["message"].as_str()), (Some("SUCCESS"), Some("attachment uploaded successfully")));
    let request = h.only_request();
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", format!("/crm/v8/Leads/{LEAD}/Attachments").as_str()));
    assert_eq!(request.header("authorization"), Some(format!("Zoho-oauthtoken {}", h.token).as_str()));
    let boundary = request.header("content-type").and_then(|c| c.strip_prefix("multipart/form-data; boundary=")).expect("multipart").to_string();
    assert_eq!(request.header("content-length"), Some(request.body.len().to_string().as_str()));
    assert_eq!(
        String::from_utf8_lossy(&request.body),
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.csv\"\r\nContent-Type: text/csv\r\n\r\nquarterly numbers\r\n--{boundary}--\r\n")
    );
    assert_eq!((stored[0].file_name.as_str(), stored[0].content_type.as_str(), stored[0].bytes.as_slice()), ("report.csv", "text/csv", &b"quarterly numbers"[..]));

    // Binary content as base64, on another module.
    let png = [0x89u8, b'P', b'N', b'G', 0, 1, 2, 255];
    let outcome = h.run("crm-add-attachment", json!({ "record-type": "Contacts", "record-id": "5725767000000524160", "file": { "base64": "iVBORwABAv8=" }, "file-name": "logo.png" })).await;
    ok_of(&outcome);
    let stored = h.sandbox.attachments("Contacts", "5725767000000524160");
    assert_eq!((stored[0].content_type.as_str(), stored[0].bytes.as_slice()), ("image/png", &png[..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn add_attachment_by_url_and_the_refusals() {
    let h = Harness::new().await;
    let outcome = h.run("crm-add-attachment", json!({ "record-id": LEAD, "attachment-url": "https://files.example.com/contract.pdf" })).await;
    ok_of(&outcome);
    let request = h.only_request();
    let boundary = request.header("content-type").and_then(|c| c.strip_prefix("multipart/form-data; boundary=")).expect("multipart").to_string();
    assert_eq!(
        String::from_utf8_lossy(&request.body),
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"attachmentUrl\"\r\n\r\nhttps://files.example.com/contract.pdf\r\n--{boundary}--\r\n")
    );
    assert_eq!(h.sandbox.attachments("Leads", LEAD)[0].link_url.as_deref(), Some("https://files.example.com/contract.pdf"));

    h.sandbox.clear_requests();
    for (input, fragment) in [
        (json!({ "record-id": LEAD, "file": "x", "file-name": "a.txt", "attachment-url": "https://x.example.com/a" }), "not both"),
        (json!({ "record-id": LEAD }), "give the file"),
        (json!({ "record-id": LEAD, "file": "x" }), "file-name is required"),
        (json!({ "record-id": LEAD, "attachment-url": "ftp://x" }), "attachment-url"),
        (json!({ "record-id": LEAD, "attachment-url": format!("https://x.example.com/{}", "a".repeat(3000)) }), "3000"),
        (json!({ "record-id": LEAD, "file": { "base64": "!!!" }, "file-name": "a.bin" }), "base64"),
        (json!({ "record-id": "abc", "file": "x", "file-name": "a.txt" }), "record-id"),
    ] {
        let outcome = h.run("crm-add-attachment", input.clone()).await;
        assert_eq!(error_of(&outcome)["kind"], "invalid-input", "{input}");
        assert!(error_of(&outcome)["message"].as_str().unwrap_or("").contains(fragment), "{input}: {}", error_of(&outcome));
    }
    assert!(h.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_20_mb_attachment_goes_through_and_101_mb_is_refused_before_sending() {
    let h = Harness::new().await;
    let size = 20 * 1024 * 1024;
    let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let outcome = h.run("crm-add-attachment", json!({ "record-id": LEAD, "file": { "base64": encoded }, "file-name": "big.bin" })).await;
    ok_of(&outcome);
    let stored = h.sandbox.attachments("Leads", LEAD);
    assert_eq!(stored[0].bytes.len(), size);
    assert!(stored[0].bytes == bytes, "the 20 MB arrived intact");
    assert_eq!(stored[0].content_type, "application/octet-stream");

    h.sandbox.clear_requests();
    let too_big = "a".repeat(101 * 1024 * 1024);
    let outcome = h.run("crm-add-attachment", json!({ "record-id": LEAD, "file": too_big, "file-name": "huge.txt" })).await;
    assert_eq!(error_of(&outcome)["kind"], "invalid-input");
    assert_eq!(error_of(&outcome)["message"], "the file is 101.0 MB; Zoho accepts attachments up to 100 MB");
    assert!(h.requests().is_empty());
}
