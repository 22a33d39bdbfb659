//! One get-record step: end to end against the same exchange made natively, its time's
//! breakdown, the connections sequential steps open, and the same over TLS.

use super::{median, micros, ratio, serve_front, test_tls_server, TEST_CERT};
use crate::pool::{HttpPool, PoolConfig};
use crate::runtime::{ActionRef, HostConfig, Runtime, StepTimings};
use anyhow::{bail, Context as _, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Sequential steps whose connections are counted.
const SEQUENTIAL_STEPS: usize = 1_000;

/// The same GET natively through the host's own pooled client (kept-alive connection),
/// body parsed as JSON: the exchange a step makes, without the component.
async fn native_pooled_get(pool: &HttpPool, url: &str, token: &str) -> Result<Value> {
    let request = http::Request::get(url).header("authorization", format!("Zoho-oauthtoken {token}")).body(Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync())?;
    let response = pool.send(request, Default::default()).await.map_err(|e| anyhow::anyhow!("native GET: {e}"))?;
    if response.status() != 200 {
        bail!("native GET answered {}", response.status());
    }
    let body = response.into_body().collect().await.map_err(|e| anyhow::anyhow!("native GET body: {e}"))?.to_bytes();
    let parsed: Value = serde_json::from_slice(&body)?;
    parsed["data"].get(0).cloned().context("no record")
}

fn native_pool(roots: Vec<Vec<u8>>) -> Result<HttpPool> {
    HttpPool::new(&PoolConfig { connect_timeout: Duration::from_secs(10), allow_private_networks: true, extra_trust_roots: roots })
}

/// The same GET the component's get-record step sends, made natively: a fresh HTTP/1.1
/// connection (as the host's wasi:http does per request), then the body parsed as JSON.
async fn native_get_record(addr: std::net::SocketAddr, path: &str, token: &str) -> Result<Value> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = hyper::Request::get(path).header("host", addr.to_string()).header("authorization", format!("Zoho-oauthtoken {token}")).body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if response.status() != 200 {
        bail!("native GET answered {}", response.status());
    }
    let body = response.into_body().collect().await?.to_bytes();
    let parsed: Value = serde_json::from_slice(&body)?;
    parsed["data"].get(0).cloned().context("no record")
}

/// Median of each part of the steps' time.
fn breakdown(all: &[StepTimings]) -> Vec<(&'static str, Duration)> {
    let part = |f: fn(&StepTimings) -> Duration| median(all.iter().map(f).collect());
    vec![
        ("instantiate", part(|t| t.instantiate)),
        ("JSON → WIT", part(|t| t.to_wit)),
        ("component (own work)", part(|t| t.component)),
        ("key-value", part(|t| t.key_value)),
        ("wasi:http (request to answer's head)", part(|t| t.http)),
        ("result → JSON", part(|t| t.result)),
    ]
}

/// One get-record step end to end versus the same exchange made natively, its breakdown, and
/// the connections 1,000 sequential steps open (counted where the sandbox accepts them).
pub(super) async fn step(config: &HostConfig, cache: &std::path::Path, router: axum::Router, token: String, iterations: usize) -> Result<(Vec<(String, String, String)>, Vec<(String, f64, bool)>)> {
    let (mut rows, mut ratios) = (Vec::new(), Vec::new());
    let front = serve_front(router, None).await?;
    let mut cfg = config.clone();
    cfg.data_dir = cache.to_path_buf();
    let runtime = Runtime::new(cfg)?;
    let action = ActionRef::from_key("crm-get-record")?;
    let connection = json!({ "api-domain": front.url, "access-token": token });
    let id = "5725767000000524157";
    let input = json!({ "record-type": "Leads", "record-id": id });
    let path = format!("/crm/v8/Leads/{id}");
    let url = format!("{}{path}", front.url);

    // Connections opened by 1,000 sequential steps, counted by the sandbox's front.
    let accepted_before = front.accepted.load(Ordering::Relaxed);
    for _ in 0..SEQUENTIAL_STEPS {
        let outcome = runtime.run(&action, &connection, &input, None, Some("bench")).await?;
        if outcome.result.is_err() {
            bail!("get-record failed during the benchmark: {:?}", outcome.result);
        }
    }
    let opened = front.accepted.load(Ordering::Relaxed) - accepted_before;
    rows.push((format!("connections opened by {SEQUENTIAL_STEPS} sequential steps"), format!("{opened} (host pool counted {})", runtime.connections_opened()), "1".into()));
    ratios.push(ratio(&format!("connections per {SEQUENTIAL_STEPS} sequential steps / 1"), opened as f64, 1.0, opened <= 1));

    let pool = native_pool(Vec::new())?;
    let (mut step, mut native, mut fresh, mut timings) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..iterations {
        let started = Instant::now();
        let outcome = runtime.run(&action, &connection, &input, None, Some("bench")).await?;
        step.push(started.elapsed());
        if outcome.result.is_err() {
            bail!("get-record failed during the benchmark: {:?}", outcome.result);
        }
        timings.push(outcome.timings);
        let started = Instant::now();
        native_pooled_get(&pool, &url, &token).await?;
        native.push(started.elapsed());
        let started = Instant::now();
        native_get_record(front.addr, &path, &token).await?;
        fresh.push(started.elapsed());
    }
    let (step, native, fresh) = (median(step), median(native), median(fresh));
    let overhead = step.saturating_sub(native);
    let step_ratio = step.as_secs_f64() / native.as_secs_f64();
    rows.push(("get-record step (instantiate + call + HTTP, pooled connection)".into(), format!("median {}", micros(step)), String::new()));
    rows.push(("same GET natively (hyper, kept-alive connection)".into(), format!("median {}", micros(native)), String::new()));
    rows.push(("same GET natively (hyper, new connection each)".into(), format!("median {}", micros(fresh)), String::new()));
    rows.push(("step overhead over native (kept-alive both)".into(), format!("{} ({step_ratio:.2}× native)", micros(overhead)), "≤ 120 µs".into()));
    for (part, took) in breakdown(&timings) {
        rows.push((format!("· step part: {part}"), format!("median {}", micros(took)), String::new()));
    }
    ratios.push(ratio("step overhead / 120 µs", overhead.as_secs_f64(), 120e-6, overhead.as_secs_f64() <= 120e-6));
    ratios.push(ratio("step / native exchange, over 1.2×", step_ratio, 1.2, step_ratio <= 1.2));
    Ok((rows, ratios))
}

/// Steps over TLS against the sandbox served with its self-signed certificate (trusted as an
/// extra root, verified as any other), HTTP/2 negotiated through ALPN.
pub(super) async fn tls_step(config: &HostConfig, cache: &std::path::Path, sandbox: &zoho_sandbox::Sandbox, iterations: usize) -> Result<Vec<(String, String, String)>> {
    let front = serve_front(sandbox.router(), Some(test_tls_server()?)).await?;
    let token = sandbox.issue_token();
    let mut cfg = config.clone();
    cfg.data_dir = cache.to_path_buf();
    cfg.extra_trust_roots = vec![TEST_CERT.to_vec()];
    let runtime = Runtime::new(cfg)?;
    let action = ActionRef::from_key("crm-get-record")?;
    let connection = json!({ "api-domain": front.url, "access-token": token });
    let id = "5725767000000524157";
    let input = json!({ "record-type": "Leads", "record-id": id });
    let url = format!("{}/crm/v8/Leads/{id}", front.url);
    let pool = native_pool(vec![TEST_CERT.to_vec()])?;
    let (mut step, mut native) = (Vec::new(), Vec::new());
    let steps = iterations.max(SEQUENTIAL_STEPS);
    for i in 0..steps {
        let started = Instant::now();
        let outcome = runtime.run(&action, &connection, &input, None, Some("bench-tls")).await?;
        step.push(started.elapsed());
        if outcome.result.is_err() {
            bail!("get-record over TLS failed during the benchmark: {:?}", outcome.result);
        }
        if i < iterations {
            let started = Instant::now();
            native_pooled_get(&pool, &url, &token).await?;
            native.push(started.elapsed());
        }
    }
    let (step, native) = (median(step), median(native));
    let (accepted, h2) = (front.accepted.load(Ordering::Relaxed), front.http2.load(Ordering::Relaxed));
    Ok(vec![
        ("get-record step over TLS (pooled connection)".into(), format!("median {}", micros(step)), String::new()),
        ("same GET natively over TLS (kept-alive connection)".into(), format!("median {} (step overhead {})", micros(native), micros(step.saturating_sub(native))), String::new()),
        (format!("TLS connections opened by {steps} steps and the native GETs"), format!("{accepted} ({h2} HTTP/2 through ALPN)"), "1 per client".into()),
    ])
}
