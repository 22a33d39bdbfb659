//! Outgoing connections are pooled across steps, over plain HTTP and over TLS (HTTP/2 through
//! ALPN), with certificates verified against the web's roots plus the host's extra trust roots,
//! and the allowlist applied to every request whatever connection would carry it.

use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use zoho_host::bench::{serve_front, test_tls_server, TEST_CERT};
use zoho_host::{ActionRef, HostConfig, Runtime};
use zoho_sandbox::Sandbox;

const LEAD: &str = "5725767000000524157";

fn runtime(name: &str, roots: Vec<Vec<u8>>) -> Runtime {
    let dir = std::env::temp_dir().join(format!("zoho-pool-test-{}-{name}", std::process::id()));
    let mut config = HostConfig::new(zoho_host::default_component_path(), dir);
    config.extra_trust_roots = roots;
    Runtime::new(config).expect("runtime (run ./build.sh first)")
}

async fn get_record(runtime: &Runtime, api_domain: &str, token: &str) -> Result<Value, Value> {
    let connection = json!({ "api-domain": api_domain, "access-token": token });
    let input = json!({ "record-type": "Leads", "record-id": LEAD });
    let action = ActionRef::from_key("crm-get-record").unwrap();
    runtime.run(&action, &connection, &input, None, Some("pool-test")).await.expect("step runs").result
}

#[tokio::test(flavor = "multi_thread")]
async fn sequential_steps_share_one_connection() {
    let sandbox = Sandbox::start().await.unwrap();
    let front = serve_front(sandbox.router(), None).await.unwrap();
    let runtime = runtime("plain", Vec::new());
    let token = sandbox.issue_token();
    for _ in 0..50 {
        let record = get_record(&runtime, &front.url, &token).await.expect("record");
        assert_eq!(record["id"], json!(LEAD));
    }
    assert_eq!(front.accepted.load(Ordering::Relaxed), 1, "50 steps, one connection");
    assert_eq!(runtime.connections_opened(), 1);
    assert_eq!(sandbox.requests().len(), 50);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_steps_verify_the_certificate_and_share_one_http2_connection() {
    let sandbox = Sandbox::start().await.unwrap();
    let front = serve_front(sandbox.router(), Some(test_tls_server().unwrap())).await.unwrap();
    assert!(front.url.starts_with("https://127.0.0.1:"));
    let runtime = runtime("tls", vec![TEST_CERT.to_vec()]);
    let token = sandbox.issue_token();
    for _ in 0..20 {
        let record = get_record(&runtime, &front.url, &token).await.expect("record over TLS");
        assert_eq!(record["id"], json!(LEAD));
    }
    assert_eq!(front.accepted.load(Ordering::Relaxed), 1);
    assert_eq!(front.http2.load(Ordering::Relaxed), 1, "the server offers h2 and the host takes it");
    assert_eq!(sandbox.requests().len(), 20);
}

/// Without the certificate among its trust roots, a host refuses the self-signed server: no
/// request reaches it, and the step answers a transport error.
#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_is_refused() {
    let sandbox = Sandbox::start().await.unwrap();
    let front = serve_front(sandbox.router(), Some(test_tls_server().unwrap())).await.unwrap();
    let runtime = runtime("untrusted", Vec::new());
    let error = get_record(&runtime, &front.url, &sandbox.issue_token()).await.expect_err("refused");
    assert_eq!(error["kind"], json!("transport"), "{error}");
    assert_eq!(sandbox.requests().len(), 0);
    assert!(zoho_host::pool::HttpPool::new(&zoho_host::pool::PoolConfig { extra_trust_roots: vec![b"not a certificate".to_vec()], ..Default::default() }).is_err());
}

/// A connection pooled for one origin never carries a request for another: a step whose
/// connection allows origin A cannot reach origin B, even right after A's connection is idle.
#[tokio::test(flavor = "multi_thread")]
async fn the_allowlist_holds_for_every_request_on_pooled_connections() {
    let sandbox = Sandbox::start().await.unwrap();
    let (a, b) = (serve_front(sandbox.router(), None).await.unwrap(), serve_front(sandbox.router(), None).await.unwrap());
    let runtime = runtime("allowlist", Vec::new());
    let token = sandbox.issue_token();
    get_record(&runtime, &a.url, &token).await.expect("allowed origin");
    let connection = json!({ "api-domain": a.url, "access-token": token });
    let action = ActionRef::from_key("crm-raw-request").unwrap();
    let outcome = runtime.run(&action, &connection, &json!({ "url": format!("{}/crm/v8/Leads/{LEAD}", b.url) }), None, Some("pool-test")).await.unwrap();
    assert!(outcome.result.is_err(), "{:?}", outcome.result);
    assert_eq!(b.accepted.load(Ordering::Relaxed), 0, "nothing reached origin B");
    assert_eq!(sandbox.requests().len(), 1, "only the allowed request");
}

/// The host's own guard, below the component's: with a pooled connection to origin A open and
/// idle, a request for origin B is denied before any connection is looked up.
#[tokio::test(flavor = "multi_thread")]
async fn the_host_denies_other_origins_with_a_pooled_connection_open() {
    use http_body_util::BodyExt;
    use wasmtime_wasi_http::WasiHttpHooks;
    let sandbox = Sandbox::start().await.unwrap();
    let (a, b) = (serve_front(sandbox.router(), None).await.unwrap(), serve_front(sandbox.router(), None).await.unwrap());
    let pool = std::sync::Arc::new(zoho_host::pool::HttpPool::new(&Default::default()).unwrap());
    let mut hosts = zoho_host::net::AllowedHosts::new(std::slice::from_ref(&a.url), Default::default()).with_pool(pool.clone());
    let get = |url: String| {
        http::Request::get(url).header("authorization", format!("Zoho-oauthtoken {}", sandbox.issue_token())).body(http_body_util::Empty::new().map_err(|never| match never {}).boxed_unsync()).unwrap()
    };
    let (response, _) = Box::into_pin(hosts.send_request(get(format!("{}/crm/v8/Leads/{LEAD}", a.url)), None, Box::new(async { Ok(()) }))).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap();
    for refused in [format!("{}/crm/v8/Leads/{LEAD}", b.url), format!("https://{}/crm/v8/Leads/{LEAD}", a.addr)] {
        let outcome = Box::into_pin(hosts.send_request(get(refused.clone()), None, Box::new(async { Ok(()) }))).await;
        assert!(matches!(outcome, Err(wasmtime_wasi_http::Error::HttpRequestDenied)), "{refused}");
    }
    assert_eq!((a.accepted.load(Ordering::Relaxed), b.accepted.load(Ordering::Relaxed)), (1, 0));
    assert_eq!(pool.connections_opened(), 1);
}
