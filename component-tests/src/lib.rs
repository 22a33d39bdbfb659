//! Harness for end-to-end tests: the built component, run through the host, against a fresh
//! sandbox per test. One compiled runtime is shared by the tests of a binary; each test gets
//! its own sandbox and key-value namespace.

pub mod oas;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};
use zoho_host::manifest::{Manifest, OutputSchemas};
use zoho_host::{ActionRef, HostConfig, Runtime, StepOutcome};
use zoho_sandbox::{RecordedRequest, Sandbox};

pub use zoho_sandbox::Fault;

/// The data directory (key-value database, compiled code) of this test process.
pub fn data_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("zoho-component-tests-{}", std::process::id()))
}

/// A runtime on this process's data directory; a second one stands for a restarted host.
pub fn new_runtime() -> Runtime {
    let config = HostConfig::new(zoho_host::default_component_path(), data_dir());
    Runtime::new(config).unwrap_or_else(|e| panic!("loading the component (run ./build.sh first): {e:#}"))
}

pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(new_runtime)
}

pub struct Harness {
    pub sandbox: Sandbox,
    pub token: String,
    pub connection: Value,
    pub namespace: String,
    /// Mismatches of the CRM exchanges so far with Zoho's OpenAPI files (see `oas`).
    mismatches: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    pub async fn new() -> Harness {
        let sandbox = Sandbox::start().await.expect("sandbox starts");
        let token = sandbox.issue_token();
        let connection = json!({ "api-domain": sandbox.url, "access-token": token });
        // Unique per harness: ports are reused, and a namespace must never inherit old state.
        static HARNESSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let namespace = format!("test-{}-{}", sandbox.addr.port(), HARNESSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        // Zoho's OpenAPI files judge every CRM exchange as the sandbox answers it.
        let mismatches: Arc<Mutex<Vec<String>>> = Arc::default();
        let found = mismatches.clone();
        sandbox.observe(move |exchange| {
            let wrong = oas::judge().check(exchange);
            if !wrong.is_empty() {
                found.lock().unwrap_or_else(|p| p.into_inner()).extend(wrong);
            }
        });
        Harness { sandbox, token, connection, namespace, mismatches }
    }

    /// Fails the test when an exchange so far disagrees with Zoho's OpenAPI files.
    pub fn assert_zoho_openapi(&self) {
        let found = std::mem::take(&mut *self.mismatches.lock().unwrap_or_else(|p| p.into_inner()));
        if !found.is_empty() {
            panic!("{} exchange(s) disagree with Zoho's OpenAPI files (component-tests/src/oas.rs):\n{}", found.len(), found.join("\n"));
        }
    }

    /// The mismatches of the CRM exchanges so far with Zoho's OpenAPI files, taken: a test that
    /// reports them with its own findings (instead of failing at the first) takes them here.
    pub fn take_openapi_mismatches(&self) -> Vec<String> {
        std::mem::take(&mut *self.mismatches.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A server-based app's connection: refresh token with client id and secret.
    pub fn refresh_connection(&self) -> Value {
        json!({
            "accounts-url": self.sandbox.url, "api-domain": self.sandbox.url,
            "client-id": zoho_sandbox::CLIENT_ID, "client-secret": zoho_sandbox::CLIENT_SECRET, "refresh-token": zoho_sandbox::REFRESH_TOKEN,
        })
    }

    /// A Self Client's connection: client credentials with soid and scopes.
    pub fn self_client_connection(&self) -> Value {
        json!({
            "accounts-url": self.sandbox.url, "api-domain": self.sandbox.url,
            "client-id": zoho_sandbox::CLIENT_ID, "client-secret": zoho_sandbox::CLIENT_SECRET,
            "soid": format!("ZohoCRM.{}", zoho_sandbox::ORG_ID), "scopes": "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL",
        })
    }

    /// The requests that went to the token endpoint.
    pub fn token_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.path == "/oauth/v2/token").collect()
    }

    pub async fn run(&self, key: &str, input: Value) -> StepOutcome {
        self.run_with(key, input, None).await
    }

    pub async fn run_with(&self, key: &str, input: Value, options: Option<Value>) -> StepOutcome {
        self.run_as(&self.connection, key, input, options).await
    }

    pub async fn run_as(&self, connection: &Value, key: &str, input: Value, options: Option<Value>) -> StepOutcome {
        let action = ActionRef::from_key(key).expect("action key");
        let outcome = runtime().run(&action, connection, &input, options.as_ref(), Some(&self.namespace)).await.unwrap_or_else(|e| panic!("{key} did not run: {e:#}"));
        assert_output_declared(key, &outcome);
        outcome
    }

    /// Every request so far, after checking the answered ones against Zoho's OpenAPI files.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.assert_zoho_openapi();
        self.sandbox.requests()
    }

    /// The one request the step sent; fails when it sent none or several.
    pub fn only_request(&self) -> RecordedRequest {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "expected exactly one request, got {requests:#?}");
        requests.into_iter().next().expect("one request")
    }

    /// Every key in this test's key-value namespace.
    pub fn stored_keys(&self) -> Vec<String> {
        runtime().kv().keys(&self.namespace, "").expect("kv keys")
    }

    /// The raw bytes stored under `key` in this test's namespace.
    pub fn stored_raw(&self, key: &str) -> Option<Vec<u8>> {
        runtime().kv().get(&self.namespace, "", key).expect("kv get")
    }

    /// A value stored in this test's key-value namespace.
    pub fn stored(&self, key: &str) -> Option<Value> {
        let bytes = runtime().kv().get(&self.namespace, "", key).expect("kv get")?;
        serde_json::from_slice(&bytes).ok()
    }
}

impl Drop for Harness {
    /// The end of every test: requests never answered (the caller hung up) get the request
    /// check, then any mismatch fails the test; the process's coverage is written when asked.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let judge = oas::judge();
        let unanswered: Vec<String> = self.sandbox.requests().iter().filter(|r| r.response_status.is_none()).flat_map(|r| judge.check(r)).collect();
        self.mismatches.lock().unwrap_or_else(|p| p.into_inner()).extend(unanswered);
        oas::write_coverage();
        self.assert_zoho_openapi();
    }
}

/// Asserts every part of a request the component sent: method, path, query pairs in order,
/// the auth header, the JSON body, and that no header beyond the expected ones was sent.
pub fn assert_request(request: &RecordedRequest, token: &str, method: &str, path: &str, query: &[(&str, &str)], body: Option<Value>) {
    assert_eq!(request.method, method, "method of {request:?}");
    assert_eq!(request.path, path, "path of {request:?}");
    let query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(request.query, query, "query of {} {}", request.method, request.path);
    assert_eq!(request.header("authorization"), Some(format!("Zoho-oauthtoken {token}").as_str()));
    let expected_headers: &[&str] = if body.is_some() { &["authorization", "content-type", "host", "content-length"] } else { &["authorization", "host", "content-length"] };
    let length = request.header("content-length");
    if method == "GET" {
        assert_eq!(length, None, "a GET carries no body length");
    } else {
        assert_eq!(length, Some(request.body.len().to_string().as_str()), "content-length of {} {}", request.method, request.path);
    }
    for (name, _) in &request.headers {
        assert!(expected_headers.contains(&name.as_str()), "unexpected header {name} in {request:?}");
    }
    match body {
        Some(body) => {
            assert_eq!(request.header("content-type"), Some("application/json"));
            assert_eq!(request.json(), Some(body), "body of {} {}", request.method, request.path);
        }
        None => assert!(request.body.is_empty(), "unexpected body in {request:?}"),
    }
}

/// Call options turning the field checks off: for tests of a write's wire format or of Zoho's
/// own refusals, which the checks would otherwise answer before anything is sent.
pub fn unchecked() -> Option<Value> {
    Some(serde_json::json!({ "check-fields": false }))
}

/// The error of a failed step, or a panic naming the unexpected success.
pub fn error_of(outcome: &StepOutcome) -> &Value {
    match &outcome.result {
        Err(e) => e,
        Ok(v) => panic!("expected an error, got Ok({v})"),
    }
}

/// The query pair every Books request carries for the sandbox's organization.
pub fn books_org() -> (&'static str, &'static str) {
    ("organization_id", zoho_sandbox::BOOKS_ORG_ID)
}

/// A connection that names its Books organization (no discovery).
pub fn with_books_org(h: &Harness) -> Value {
    let mut connection = h.connection.clone();
    connection["books-organization-id"] = serde_json::json!(zoho_sandbox::BOOKS_ORG_ID);
    connection
}

/// Bytes as the host shows them in JSON: `{"base64": "..."}`.
pub fn bytes_of(value: &Value) -> Vec<u8> {
    use base64::Engine as _;
    let text = value["base64"].as_str().unwrap_or_else(|| panic!("bytes are {{\"base64\": ...}}, got {value}"));
    base64::engine::general_purpose::STANDARD.decode(text).expect("valid base64")
}

/// A downloaded file as the host shows it: name, type, and the bytes.
pub fn file_of(outcome: &StepOutcome) -> (Value, Value, Vec<u8>) {
    let file = ok_of(outcome);
    (file["file-name"].clone(), file["content-type"].clone(), bytes_of(&file["content"]))
}

pub fn ok_of(outcome: &StepOutcome) -> &Value {
    match &outcome.result {
        Ok(v) => v,
        Err(e) => panic!("expected success, got error {e}"),
    }
}

/// Every action's declared output schema, from `actions.json` at the repository root (the file
/// platforms read), compiled once per test process.
pub fn output_schemas() -> &'static OutputSchemas {
    static SCHEMAS: OnceLock<OutputSchemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../actions.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let manifest = Manifest::parse(&text).unwrap_or_else(|e| panic!("{e:#}"));
        OutputSchemas::of_manifest(&manifest).unwrap_or_else(|e| panic!("actions.json: {e:#}"))
    })
}

fn outputs_checked_set() -> &'static Mutex<BTreeSet<String>> {
    static CHECKED: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    CHECKED.get_or_init(Mutex::default)
}

/// The suite's output check, run by [`Harness::run_as`] (so by `run` and `run_with`) on every
/// step: an Ok value its action's declared `output-schema` rejects fails the test, naming the
/// action, the JSON pointer and the reason. Tests that call a runtime directly call it too.
pub fn assert_output_declared(key: &str, outcome: &StepOutcome) {
    let Ok(value) = &outcome.result else { return };
    if let Err(reason) = output_schemas().check(key, value) {
        let mut shown = value.to_string();
        if shown.len() > 2000 {
            let cut = (0..=2000).rev().find(|i| shown.is_char_boundary(*i)).unwrap_or(0);
            shown.truncate(cut);
            shown.push_str("...");
        }
        panic!("{key}: its Ok value does not match the output-schema it declares in actions.json (wit/annotations.json): {reason}\nthe value: {shown}");
    }
    outputs_checked_set().lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_string());
}

/// [`assert_output_declared`] for a step run by its [`ActionRef`].
pub fn assert_output_of(action: &ActionRef, outcome: &StepOutcome) {
    assert_output_declared(&format!("{}-{}", action.interface, action.function), outcome);
}

/// The actions whose Ok values this test process has checked against their schemas so far.
pub fn outputs_checked() -> BTreeSet<String> {
    outputs_checked_set().lock().unwrap_or_else(|p| p.into_inner()).clone()
}
