//! `zoho-host bench`: the figures in docs/benchmarks.md, measured in one run against the embedded
//! sandbox. Each figure is a median over many iterations, shown beside its target.

use crate::pool::{HttpPool, PoolConfig};
use crate::runtime::{engine, load_component, ActionRef, HostConfig, Runtime, StepTimings};
use anyhow::{bail, Context as _, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The sandbox's self-signed certificate (127.0.0.1 and localhost, valid to 2126) and its key:
/// the bench and the tests serve the sandbox over TLS with it and trust it as an extra root.
pub const TEST_CERT: &[u8] = include_bytes!("tls/sandbox-cert.pem");
pub const TEST_KEY: &[u8] = include_bytes!("tls/sandbox-key.pem");

/// 1,000 concurrent get-record steps per second before the key-value backends ran on tokio's blocking threads (docs/benchmarks.md, one run).
const CONCURRENT_BEFORE: f64 = 792.0;
/// Sequential steps whose connections are counted.
const SEQUENTIAL_STEPS: usize = 1_000;

/// A front for the sandbox's routes on its own loopback port that counts the connections it
/// accepts, over TLS (ALPN h2 and http/1.1) when given a server config.
pub struct Front {
    pub addr: SocketAddr,
    pub url: String,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicU64>,
    /// Of those, connections that negotiated HTTP/2.
    pub http2: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The TLS server config of the sandbox's front: the test certificate, h2 and http/1.1.
pub fn test_tls_server() -> Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(TEST_CERT).collect::<Result<Vec<_>, _>>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(TEST_KEY).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider())).with_safe_default_protocol_versions()?.with_no_client_auth().with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` on a new loopback port, counting accepted connections.
pub async fn serve_front(router: axum::Router, tls: Option<Arc<rustls::ServerConfig>>) -> Result<Front> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (accepted, http2) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (counted, counted_h2) = (accepted.clone(), http2.clone());
    let acceptor = tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::Relaxed);
            let _ = tcp.set_nodelay(true);
            let (router, acceptor, counted_h2) = (router.clone(), acceptor.clone(), counted_h2.clone());
            tokio::spawn(async move {
                let service = hyper_util::service::TowerToHyperService::new(router);
                let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                match acceptor {
                    None => {
                        let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(tcp), service).await;
                    }
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(tcp).await else { return };
                        if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                            counted_h2.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    Ok(Front { addr, url: format!("{scheme}://{addr}"), accepted, http2, server })
}

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

/// Which parts to run: `ZOHO_BENCH_ONLY=size,step,tls,sweep,sweep-cost,density,instantiate,notify` (all by default).
fn wanted(part: &str) -> bool {
    std::env::var("ZOHO_BENCH_ONLY").map_or(true, |only| only.split(',').any(|p| p.trim() == part))
}

pub struct Figures {
    pub rows: Vec<(String, String, String)>,
    /// (figure, measured / limit, met): each target's figure as a ratio of its limit.
    pub ratios: Vec<(String, f64, bool)>,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
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

fn ratio(figure: &str, measured: f64, limit: f64, met: bool) -> (String, f64, bool) {
    (figure.to_string(), measured / limit, met)
}

pub async fn run(config: &HostConfig, iterations: usize) -> Result<Figures> {
    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    let cache = tempdir()?;
    if wanted("size") {
        let wasm = std::fs::read(&config.component).context("reading the component; run ./build.sh")?;
        let kb = wasm.len() as f64 / 1024.0;
        rows.push((".wasm size".to_string(), format!("{kb:.1} KB ({} bytes)", wasm.len()), "≤ 400 KB (goal 250 KB)".to_string()));
        ratios.push(ratio(".wasm size / 400 KB", kb, 400.0, kb <= 400.0));
        ratios.push(ratio(".wasm size / 250 KB (goal)", kb, 250.0, kb <= 250.0));

        // Compilation: cold (Cranelift) versus loading the cached machine code.
        let engine = engine(config)?;
        let cold = median(
            (0..3)
                .map(|_| {
                    let started = Instant::now();
                    let _ = engine.precompile_component(&wasm);
                    started.elapsed()
                })
                .collect(),
        );
        load_component(&engine, &config.component, &cache)?;
        let cached = median(
            (0..20)
                .map(|_| {
                    let started = Instant::now();
                    let _ = load_component(&engine, &config.component, &cache);
                    started.elapsed()
                })
                .collect(),
        );
        rows.push(("compile, cold".into(), millis(cold), "once per host start without cache".into()));
        rows.push(("load from compiled cache".into(), millis(cached), format!("{:.0}× faster than cold", cold.as_secs_f64() / cached.as_secs_f64())));
    }

    // Instantiation from InstancePre, pooled and on demand.
    if wanted("instantiate") {
        for (label, pooled) in [("instantiate, pooling allocator", 64), ("instantiate, on-demand allocator", 0)] {
            let mut cfg = config.clone();
            cfg.pooled_instances = pooled;
            cfg.data_dir = cache.clone();
            let runtime = Runtime::new(cfg)?;
            let mut samples = Vec::with_capacity(iterations);
            for _ in 0..iterations {
                let (mut store, _) = runtime.new_store(&[], "bench");
                let started = Instant::now();
                runtime.instance_pre().instantiate_async(&mut store).await?;
                samples.push(started.elapsed());
            }
            let target = if pooled > 0 { "median ≤ 30 µs" } else { "" };
            let m = median(samples);
            if pooled > 0 {
                ratios.push(ratio("pooled instantiate / 30 µs", m.as_secs_f64(), 30e-6, m.as_secs_f64() <= 30e-6));
            }
            rows.push((label.to_string(), format!("median {}", micros(m)), target.to_string()));
        }
    }

    if wanted("notify") {
        // First of the network parts: the flood's peak RSS is measured from a quiet process.
        rows.extend(notify_attacks().await?);
    }

    let sandbox = zoho_sandbox::Sandbox::start().await?;
    if wanted("step") {
        // On a runtime worker, as a host runs its steps (tasks), not on the thread blocking on main.
        let (cfg, dir, router, token) = (config.clone(), cache.clone(), sandbox.router(), sandbox.issue_token());
        let (step_rows, step_ratios) = tokio::spawn(async move { step(&cfg, &dir, router, token, iterations).await }).await??;
        rows.extend(step_rows);
        ratios.extend(step_ratios);
    }
    if wanted("tls") {
        rows.extend(tls_step(config, &cache, &sandbox, iterations).await?);
    }
    if wanted("sweep") {
        let (sweep_rows, ours, theirs) = sweep_throughput(config, &cache, &sandbox, SweepData::History).await?;
        rows.extend(sweep_rows);
        ratios.push(ratio("sweep records/s / 50,000", ours, 50_000.0, ours >= 50_000.0));
        ratios.push(ratio("sweep vs native, over 0.8×", ours / theirs, 0.8, ours / theirs >= 0.8));
        let (sweep_rows, ours, theirs) = sweep_throughput(config, &cache, &sandbox, SweepData::JustChanged).await?;
        rows.extend(sweep_rows);
        ratios.push(ratio("sweep vs native, every record just changed, over 0.8×", ours / theirs, 0.8, ours / theirs >= 0.8));
    }
    if wanted("sweep-cost") {
        for fields in [20, 120] {
            rows.extend(sweep_cost(config, &cache, &sandbox, fields).await?);
        }
    }
    if wanted("density") {
        let (density_rows, steps_per_second) = density(config, &cache, &sandbox).await?;
        rows.extend(density_rows);
        let twice = 2.0 * CONCURRENT_BEFORE;
        ratios.push(ratio("1,000 concurrent steps/s / 2× 792 (before)", steps_per_second, twice, steps_per_second >= twice));
    }
    let _ = std::fs::remove_dir_all(&cache);
    Ok(Figures { rows, ratios })
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
async fn step(config: &HostConfig, cache: &std::path::Path, router: axum::Router, token: String, iterations: usize) -> Result<(Vec<(String, String, String)>, Vec<(String, f64, bool)>)> {
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
async fn tls_step(config: &HostConfig, cache: &std::path::Path, sandbox: &zoho_sandbox::Sandbox, iterations: usize) -> Result<Vec<(String, String, String)>> {
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

const SWEEP_RECORDS: usize = 100_000;
const SWEEP_FIELDS: usize = 20;

/// One POST of a COQL query over a new connection, as the host's wasi:http sends it; returns
/// the parsed body and the `Date` header.
async fn native_coql(addr: std::net::SocketAddr, token: &str, query: &str) -> Result<(Value, String)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let body = serde_json::to_vec(&json!({ "select_query": query }))?;
    let request = hyper::Request::post("/crm/v8/coql")
        .header("host", addr.to_string())
        .header("authorization", format!("Zoho-oauthtoken {token}"))
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .body(http_body_util::Full::new(Bytes::from(body)))?;
    let response = sender.send_request(request).await?;
    let date = response.headers().get("date").and_then(|d| d.to_str().ok()).unwrap_or("").to_string();
    if response.status() == 204 {
        return Ok((json!({ "data": [] }), date));
    }
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((serde_json::from_slice(&bytes)?, date))
}

/// What the swept records look like: history (Modified_Time spread over the past year, as a
/// backfill reads) or all changed in the seconds before the sweep, inside its boundary window,
/// where each record delivered also gets the SHA-256 digest the next sweep's de-duplication needs.
#[derive(Clone, Copy)]
enum SweepData {
    History,
    JustChanged,
}

/// A sweep page as the host reads it: records borrowed as raw text.
#[derive(serde::Deserialize)]
struct SweepPage<'a> {
    #[serde(borrow, default)]
    records: Vec<&'a serde_json::value::RawValue>,
    #[serde(default)]
    more_records: bool,
}

/// Records/s of a whole 100,000-record, 20-field sweep through the component, and of a native
/// loop sending the same keyset COQL queries and parsing the same JSON.
async fn sweep_throughput(config: &HostConfig, cache: &std::path::Path, sandbox: &zoho_sandbox::Sandbox, data: SweepData) -> Result<(Vec<(String, String, String)>, f64, f64)> {
    let fields: Vec<String> = (1..=SWEEP_FIELDS).map(|i| format!("Field_{i:02}")).collect();
    let module = match data {
        SweepData::History => "Bench_History",
        SweepData::JustChanged => "Bench_Records",
    };
    match data {
        SweepData::History => {
            sandbox.seed_bulk(&zoho_sandbox::BulkModule {
                name: module.into(),
                records: SWEEP_RECORDS,
                fields: SWEEP_FIELDS,
                span: Duration::from_secs(365 * 86_400),
                burst_share: 0.0,
                burst: Duration::from_secs(1),
                seed: 17,
            });
        }
        SweepData::JustChanged => {
            let names: Vec<&str> = fields.iter().map(String::as_str).collect();
            sandbox.add_module(module, &names, "Field_01");
            for i in 0..SWEEP_RECORDS {
                let record: serde_json::Map<String, Value> = fields.iter().map(|f| (f.clone(), json!(format!("{f} value {i}")))).collect();
                sandbox.create_record(module, Value::Object(record));
            }
        }
    }
    let token = sandbox.issue_token();
    let mut cfg = config.clone();
    cfg.data_dir = cache.to_path_buf();
    let runtime = Runtime::new(cfg)?;
    let list = ActionRef::from_key("incremental-list-modified-records-by-page")?;
    let connection = json!({ "api-domain": sandbox.url, "access-token": token });
    let field_list = fields.join(",");

    let started = Instant::now();
    let (mut records, mut page) = (0usize, 1u32);
    loop {
        let input = json!({ "record-type": module, "page": page, "per-page": 200, "fields": field_list });
        // As `zoho-host sweep` reads a page: the component's text, records kept as raw text and
        // only the keys the loop needs parsed.
        let outcome = runtime.run_text(&list, &connection, &input, None, Some("bench-sweep")).await?;
        let text = outcome.result.map_err(|e| anyhow::anyhow!("sweep page {page}: {e}"))?;
        let parsed: SweepPage<'_> = serde_json::from_str(&text).with_context(|| format!("sweep page {page}"))?;
        records += parsed.records.len();
        if !parsed.more_records {
            break;
        }
        page += 1;
    }
    let component = started.elapsed();
    if records != SWEEP_RECORDS {
        bail!("the component's sweep read {records} records, not {SWEEP_RECORDS}");
    }

    // The same queries, natively.
    let select = format!("select id, Modified_Time, {} from {module}", fields.join(", "));
    let started = Instant::now();
    let (mut native_records, mut until, mut after): (usize, Option<String>, Option<(String, String)>) = (0, None, None);
    loop {
        let mut conditions = Vec::new();
        if let Some(until) = &until {
            conditions.push(format!("Modified_Time <= '{until}'"));
        }
        if let Some((t, id)) = &after {
            conditions.push(format!("(Modified_Time > '{t}' or (Modified_Time = '{t}' and id > {id}))"));
        }
        // Grouped in pairs, as the component writes them (COQL takes two criteria per bracket level).
        let filter = match conditions.split_first() {
            None => "id is not null".to_string(),
            Some((first, rest)) => rest.iter().fold(first.clone(), |w, c| format!("({w} and {c})")),
        };
        let (body, date) = native_coql(sandbox.addr, &token, &format!("{select} where {filter} order by Modified_Time asc, id asc limit 0, 200")).await?;
        if until.is_none() {
            let seconds = zoho_connector::zoho_time::parse_http_date(&date).context("Date header")?;
            until = Some(zoho_connector::zoho_time::format_iso(seconds));
        }
        let data = body["data"].as_array().cloned().unwrap_or_default();
        native_records += data.len();
        match data.last() {
            Some(last) if body["info"]["more_records"] == json!(true) => after = Some((last["Modified_Time"].as_str().unwrap_or("").to_string(), last["id"].as_str().unwrap_or("").to_string())),
            _ => break,
        }
    }
    let native = started.elapsed();
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    let (ours, theirs) = (rate(records, component), rate(native_records, native));
    let rows = match data {
        SweepData::History => vec![
            (
                format!("sweep {SWEEP_RECORDS} records × {SWEEP_FIELDS} fields over the past year, component"),
                format!("{ours:.0} records/s ({:.2} s)", component.as_secs_f64()),
                "≥ 50,000 records/s".into(),
            ),
            ("same sweep, native loop (same queries, same parsing)".into(), format!("{theirs:.0} records/s ({:.2} s)", native.as_secs_f64()), String::new()),
            ("sweep throughput vs native".into(), format!("{:.2}×", ours / theirs), "≥ 0.8×".into()),
        ],
        SweepData::JustChanged => vec![
            (
                format!("sweep {SWEEP_RECORDS} records all changed in the seconds before it (each digested), component"),
                format!("{ours:.0} records/s ({:.2} s)", component.as_secs_f64()),
                String::new(),
            ),
            ("same sweep, native loop".into(), format!("{theirs:.0} records/s ({:.2} s)", native.as_secs_f64()), String::new()),
            ("sweep of just-changed records vs native".into(), format!("{:.2}×", ours / theirs), "≥ 0.8×".into()),
        ],
    };
    Ok((rows, ours, theirs))
}

/// Calls and credits a whole 100,000-record sweep costs at Zoho when the caller names no fields
/// (every field a sweep can read, as a sync stream reads a module), 2,000 records a page: what
/// bounds a customer is Zoho's daily credit allowance, not our CPU.
async fn sweep_cost(config: &HostConfig, cache: &std::path::Path, sandbox: &zoho_sandbox::Sandbox, fields: usize) -> Result<Vec<(String, String, String)>> {
    let module = format!("Bench_Cost_{fields}");
    sandbox.seed_bulk(&zoho_sandbox::BulkModule {
        name: module.clone(),
        records: SWEEP_RECORDS,
        fields,
        span: Duration::from_secs(365 * 86_400),
        burst_share: 0.0,
        burst: Duration::from_secs(1),
        seed: 23,
    });
    let token = sandbox.issue_token();
    let mut cfg = config.clone();
    cfg.data_dir = cache.join(format!("cost-{fields}"));
    let runtime = Runtime::new(cfg)?;
    let list = ActionRef::from_key("incremental-list-modified-records-by-page")?;
    let connection = json!({ "api-domain": sandbox.url, "access-token": token });
    sandbox.clear_requests();
    let credits_before = sandbox.limits().credits_used;
    let (mut records, mut page) = (0usize, 1u32);
    loop {
        let input = json!({ "record-type": module, "page": page, "per-page": 2000 });
        let outcome = runtime.run_text(&list, &connection, &input, None, Some("bench-cost")).await?;
        let text = outcome.result.map_err(|e| anyhow::anyhow!("sweep page {page}: {e}"))?;
        let parsed: SweepPage<'_> = serde_json::from_str(&text).with_context(|| format!("sweep page {page}"))?;
        records += parsed.records.len();
        if !parsed.more_records {
            break;
        }
        page += 1;
    }
    if records != SWEEP_RECORDS {
        bail!("the {fields}-field sweep read {records} records, not {SWEEP_RECORDS}");
    }
    let calls = sandbox.requests().iter().filter(|r| r.path.starts_with("/crm/")).count();
    let credits = sandbox.limits().credits_used.saturating_sub(credits_before);
    Ok(vec![(
        format!("calls and credits to sweep {SWEEP_RECORDS} records × {fields} fields (no fields named, 2,000 a page)"),
        format!("{calls} calls, {credits} credits"),
        "one COQL call a page".into(),
    )])
}

/// Peak memory per instance and steps/s with 1,000 steps in flight in one host.
async fn density(config: &HostConfig, cache: &std::path::Path, sandbox: &zoho_sandbox::Sandbox) -> Result<(Vec<(String, String, String)>, f64)> {
    const STEPS: usize = 1_000;
    let mut cfg = config.clone();
    cfg.data_dir = cache.to_path_buf();
    cfg.pooled_instances = STEPS as u32;
    let runtime = Runtime::new(cfg)?;
    let action = ActionRef::from_key("crm-get-record")?;
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() });
    let input = json!({ "record-type": "Leads", "record-id": "5725767000000524157" });
    let rss_before = resident_kb("VmRSS");
    let started = Instant::now();
    let steps = (0..STEPS).map(|i| {
        let (runtime, connection, input, action) = (&runtime, &connection, &input, &action);
        async move { runtime.run(action, connection, input, None, Some(&format!("density-{}", i % 16))).await }
    });
    let outcomes = futures_util::future::join_all(steps).await;
    let took = started.elapsed();
    let mut peaks = Vec::new();
    for outcome in outcomes {
        let outcome = outcome?;
        if outcome.result.is_err() {
            bail!("a density step failed: {:?}", outcome.result);
        }
        peaks.push(outcome.peak_memory_bytes);
    }
    peaks.sort_unstable();
    let rss_growth_kb = resident_kb("VmHWM").saturating_sub(rss_before);
    let steps_per_second = STEPS as f64 / took.as_secs_f64();
    Ok((
        vec![
            (format!("{STEPS} concurrent get-record steps"), format!("{steps_per_second:.0} steps/s"), format!("≥ {:.0} (2× {CONCURRENT_BEFORE:.0})", 2.0 * CONCURRENT_BEFORE)),
            ("linear memory per instance (median peak)".into(), format!("{:.2} MiB", peaks[peaks.len() / 2] as f64 / 1048576.0), String::new()),
            ("host RSS growth per concurrent step".into(), format!("{:.0} KiB", rss_growth_kb as f64 / STEPS as f64), String::new()),
        ],
        steps_per_second,
    ))
}

/// A forged delivery of `total` bytes as 1-byte chunks on the wire, with its request head.
fn one_byte_chunks(total: usize) -> Vec<u8> {
    let start = r#"{"channel_id":"1000000068001","token":"forged","pad":""#;
    let body = start.bytes().chain(std::iter::repeat_n(b'x', total.saturating_sub(start.len() + 2))).chain(*b"\"}");
    let mut wire = b"POST /hook HTTP/1.1\r\nHost: hooks.example.com\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for b in body {
        wire.extend_from_slice(b"1\r\n");
        wire.push(b);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}

/// Reads an answer's head; its status code (0 when the connection ended first).
async fn answer_status(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> u16 {
    use tokio::io::AsyncReadExt;
    let (mut head, mut byte) = (Vec::new(), [0u8; 1]);
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return 0,
        }
    }
    String::from_utf8_lossy(&head).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A connection from `from` (any 127/8 address is this machine's), as one client of many.
async fn connect_from(addr: SocketAddr, from: std::net::Ipv4Addr) -> Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from.into(), 0))?;
    Ok(socket.connect(addr).await?)
}

/// The watch's notify URL (`serve`, default limits) attacked on loopback: peak RSS while 16
/// connections each send a forged delivery of almost 1 MiB in 1-byte chunks, and a genuine
/// delivery's latency while 128 idle keep-alive sockets (8 addresses × 16) are open.
async fn notify_attacks() -> Result<Vec<(String, String, String)>> {
    use crate::watch::server;
    use tokio::io::AsyncWriteExt;
    const FLOOD: usize = 16;
    const IDLE: usize = 128;
    const DELIVERIES: usize = 20;
    const CHANNEL: &str = "1000000068001";
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let gate = Arc::new(std::sync::RwLock::new(Some(server::Gate::new(CHANNEL, "bench-token"))));
    let (queue, mut deliveries) = tokio::sync::mpsc::channel(server::QUEUE);
    let counts = Arc::new(server::Counts::default());
    let _server = server::serve(listener, "/hook", gate, queue, counts.clone());
    let drain = tokio::spawn(async move { while deliveries.recv().await.is_some() {} });

    let wire = Arc::new(one_byte_chunks(server::BODY_LIMIT - 1024));
    // Resets VmHWM to the current RSS (Linux), so the peak is this flood's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = resident_kb("VmRSS");
    let floods = (0..FLOOD).map(|i| {
        let wire = wire.clone();
        async move {
            let stream = connect_from(addr, std::net::Ipv4Addr::new(127, 0, 5, 1 + i as u8)).await?;
            let (mut read, mut write) = stream.into_split();
            // Sent while the answer is awaited: the server may answer before it has it all.
            let sender = tokio::spawn(async move {
                for piece in wire.chunks(64 << 10) {
                    if write.write_all(piece).await.is_err() {
                        break;
                    }
                }
                std::future::pending::<()>().await;
            });
            let status = tokio::time::timeout(Duration::from_secs(120), answer_status(&mut read)).await.unwrap_or(0);
            sender.abort();
            Ok::<u16, anyhow::Error>(status)
        }
    });
    let mut statuses: Vec<u16> = futures_util::future::join_all(floods).await.into_iter().collect::<Result<_>>()?;
    let peak_kb = resident_kb("VmHWM").saturating_sub(rss_before);
    statuses.sort_unstable();
    let mut tally: Vec<(u16, usize)> = Vec::new();
    for s in statuses {
        match tally.last_mut() {
            Some((last, n)) if *last == s => *n += 1,
            _ => tally.push((s, 1)),
        }
    }
    let tally = tally.iter().map(|(s, n)| format!("{n}× {}", if *s == 0 { "no answer".to_string() } else { s.to_string() })).collect::<Vec<_>>().join(", ");
    let buffered_peak = counts.buffered_peak.load(Ordering::Relaxed);
    let mut rows = vec![(
        format!("notify URL: peak RSS growth, {FLOOD} connections each sending a forged {:.0} KiB delivery in 1-byte chunks", (server::BODY_LIMIT - 1024) as f64 / 1024.0),
        format!("{:.1} MiB (unverified bytes held at most {:.1} MiB; answers {tally})", peak_kb as f64 / 1024.0, buffered_peak as f64 / 1048576.0),
        format!("≤ {} MiB buffer budget + per-connection buffers", server::BUFFERED >> 20),
    )];

    // Idle keep-alive sockets: each asked once (answered 405) and then sends nothing.
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let mut stream = connect_from(addr, std::net::Ipv4Addr::new(127, 0, 6, 1 + (i / server::PER_CLIENT) as u8)).await?;
        stream.write_all(b"GET /hook HTTP/1.1\r\nHost: hooks.example.com\r\n\r\n").await?;
        let status = tokio::time::timeout(Duration::from_secs(120), answer_status(&mut stream)).await.unwrap_or(0);
        if status != 405 {
            bail!("an idle socket's GET was answered {status}");
        }
        idle.push(stream);
    }
    let delivery = format!(r#"{{"module":"Leads","ids":["5725767000000524157"],"operation":"insert","channel_id":"{CHANNEL}","token":"bench-token"}}"#);
    let request = format!("POST /hook HTTP/1.1\r\nHost: hooks.example.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{delivery}", delivery.len());
    let mut latencies = Vec::with_capacity(DELIVERIES);
    for _ in 0..DELIVERIES {
        let started = Instant::now();
        let status = tokio::time::timeout(Duration::from_secs(120), async {
            let mut stream = connect_from(addr, std::net::Ipv4Addr::LOCALHOST).await?;
            stream.write_all(request.as_bytes()).await?;
            Ok::<u16, anyhow::Error>(answer_status(&mut stream).await)
        })
        .await
        .map_err(|_| anyhow::anyhow!("a genuine delivery was not answered in 120 s while {IDLE} idle sockets were open"))??;
        latencies.push(started.elapsed());
        if status != 200 {
            bail!("a genuine delivery was answered {status}");
        }
    }
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    rows.push((
        format!("notify URL: genuine delivery (new connection) with {IDLE} idle keep-alive sockets open"),
        format!("median {}, slowest {} ({} idle sockets closed to make room)", millis(median(latencies)), millis(slowest), counts.evicted.load(Ordering::Relaxed)),
        "answered while the sockets are open".into(),
    ));
    drop(idle);
    drain.abort();
    Ok(rows)
}

/// A `/proc/self/status` figure in KiB (0 where there is none).
fn resident_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status").ok().and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())).unwrap_or(0)
}

fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("zoho-host-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

impl Figures {
    pub fn markdown(&self) -> String {
        let mut out = String::from("| figure | measured | target |\n|---|---|---|\n");
        for (figure, measured, target) in &self.rows {
            out.push_str(&format!("| {figure} | {measured} | {target} |\n"));
        }
        out.push_str("\n| target | measured / limit | met |\n|---|---|---|\n");
        for (figure, ratio, met) in &self.ratios {
            out.push_str(&format!("| {figure} | {ratio:.2} | {} |\n", if *met { "yes" } else { "no" }));
        }
        out
    }
}
