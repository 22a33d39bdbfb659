//! `zoho-host bench`: the figures in the README, measured in one run against the embedded
//! sandbox. Each figure is a median over many iterations, shown beside its target.

use crate::runtime::{engine, load_component, ActionRef, HostConfig, Runtime};
use anyhow::{bail, Context as _, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

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
    let request = hyper::Request::get(path)
        .header("host", addr.to_string())
        .header("authorization", format!("Zoho-oauthtoken {token}"))
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if response.status() != 200 {
        bail!("native GET answered {}", response.status());
    }
    let body = response.into_body().collect().await?.to_bytes();
    let parsed: Value = serde_json::from_slice(&body)?;
    parsed["data"].get(0).cloned().context("no record")
}

pub async fn run(config: &HostConfig, iterations: usize) -> Result<Figures> {
    let mut rows = Vec::new();
    let wasm = std::fs::read(&config.component).context("reading the component; run ./build.sh")?;
    rows.push((".wasm size".to_string(), format!("{:.1} KB ({} bytes)", wasm.len() as f64 / 1024.0, wasm.len()), "≤ 250 KB".to_string()));
    let mut ratios = vec![(".wasm size / 250 KB".to_string(), wasm.len() as f64 / (250.0 * 1024.0), wasm.len() <= 250 * 1024)];

    // Compilation: cold (Cranelift) versus loading the cached machine code.
    let engine = engine(config)?;
    let cold = median((0..3).map(|_| {
        let started = Instant::now();
        let _ = engine.precompile_component(&wasm);
        started.elapsed()
    }).collect());
    let cache = tempdir()?;
    load_component(&engine, &config.component, &cache)?;
    let cached = median((0..20).map(|_| {
        let started = Instant::now();
        let _ = load_component(&engine, &config.component, &cache);
        started.elapsed()
    }).collect());
    rows.push(("compile, cold".into(), millis(cold), "once per host start without cache".into()));
    rows.push(("load from compiled cache".into(), millis(cached), format!("{:.0}× faster than cold", cold.as_secs_f64() / cached.as_secs_f64())));

    // Instantiation from InstancePre, pooled and on demand.
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
            ratios.push(("pooled instantiate / 30 µs".into(), m.as_secs_f64() / 30e-6, m.as_secs_f64() <= 30e-6));
        }
        rows.push((label.to_string(), format!("median {}", micros(m)), target.to_string()));
    }

    // One get-record step end to end versus the same exchange made natively.
    let sandbox = zoho_sandbox::Sandbox::start().await?;
    let token = sandbox.issue_token();
    let _ = &token;
    let mut cfg = config.clone();
    cfg.data_dir = cache.clone();
    let runtime = Runtime::new(cfg)?;
    let action = ActionRef::from_key("crm-get-record")?;
    let connection = json!({ "api-domain": sandbox.url, "access-token": token });
    let id = "5725767000000524157";
    let input = json!({ "record-type": "Leads", "record-id": id });
    let path = format!("/crm/v8/Leads/{id}");
    let (mut step, mut native) = (Vec::new(), Vec::new());
    for _ in 0..iterations {
        let started = Instant::now();
        let outcome = runtime.run(&action, &connection, &input, None, Some("bench")).await?;
        step.push(started.elapsed());
        if outcome.result.is_err() {
            bail!("get-record failed during the benchmark: {:?}", outcome.result);
        }
        let started = Instant::now();
        native_get_record(sandbox.addr, &path, &token).await?;
        native.push(started.elapsed());
    }
    let (step, native) = (median(step), median(native));
    drop(runtime);
    let step_ratio = step.as_secs_f64() / native.as_secs_f64();
    ratios.push(("step / native exchange, over 1.2×".into(), step_ratio / 1.2, step_ratio <= 1.2));
    rows.push(("get-record step (instantiate + call + HTTP)".into(), format!("median {}", micros(step)), String::new()));
    rows.push(("same GET natively (hyper, new connection)".into(), format!("median {}", micros(native)), String::new()));
    rows.push((
        "step overhead over native".into(),
        format!("{} ({:.2}× native)", micros(step.saturating_sub(native)), step.as_secs_f64() / native.as_secs_f64()),
        "≤ 1 ms; ≤ 1.2× native".into(),
    ));
    let (sweep_rows, ours, theirs) = sweep_throughput(config, &cache, &sandbox).await?;
    rows.extend(sweep_rows);
    ratios.push(("sweep records/s / 50,000".into(), ours / 50_000.0, ours >= 50_000.0));
    ratios.push(("sweep vs native, over 0.8×".into(), ours / theirs / 0.8, ours / theirs >= 0.8));
    rows.extend(density(config, &cache, &sandbox).await?);
    let _ = std::fs::remove_dir_all(&cache);
    Ok(Figures { rows, ratios })
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

/// Records/s of a whole 100,000-record, 20-field sweep through the component, and of a native
/// loop sending the same keyset COQL queries and parsing the same JSON.
async fn sweep_throughput(config: &HostConfig, cache: &std::path::Path, sandbox: &zoho_sandbox::Sandbox) -> Result<(Vec<(String, String, String)>, f64, f64)> {
    let fields: Vec<String> = (1..=SWEEP_FIELDS).map(|i| format!("Field_{i:02}")).collect();
    let names: Vec<&str> = fields.iter().map(String::as_str).collect();
    sandbox.add_module("Bench_Records", &names, "Field_01");
    for i in 0..SWEEP_RECORDS {
        let record: serde_json::Map<String, Value> = fields.iter().map(|f| (f.clone(), json!(format!("{f} value {i}")))).collect();
        sandbox.create_record("Bench_Records", Value::Object(record));
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
        let input = json!({ "record-type": "Bench_Records", "page": page, "per-page": 200, "fields": field_list });
        let outcome = runtime.run(&list, &connection, &input, None, Some("bench-sweep")).await?;
        let result = outcome.result.map_err(|e| anyhow::anyhow!("sweep page {page}: {e}"))?;
        records += result["records"].as_array().map_or(0, Vec::len);
        if result["more_records"] != json!(true) {
            break;
        }
        page += 1;
    }
    let component = started.elapsed();
    if records != SWEEP_RECORDS {
        bail!("the component's sweep read {records} records, not {SWEEP_RECORDS}");
    }

    // The same queries, natively.
    let select = format!("select id, Modified_Time, {} from Bench_Records", fields.join(", "));
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
        let filter = if conditions.is_empty() { "id is not null".to_string() } else { conditions.join(" and ") };
        let (body, date) = native_coql(sandbox.addr, &token, &format!("{select} where {filter} order by Modified_Time asc, id asc limit 0, 200")).await?;
        if until.is_none() {
            let seconds = zoho_connector::zoho_time::parse_http_date(&date).context("Date header")?;
            until = Some(zoho_connector::zoho_time::format_iso(seconds));
        }
        let data = body["data"].as_array().cloned().unwrap_or_default();
        native_records += data.len();
        match data.last() {
            Some(last) if body["info"]["more_records"] == json!(true) => {
                after = Some((last["Modified_Time"].as_str().unwrap_or("").to_string(), last["id"].as_str().unwrap_or("").to_string()))
            }
            _ => break,
        }
    }
    let native = started.elapsed();
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    let (ours, theirs) = (rate(records, component), rate(native_records, native));
    let rows = vec![
        (format!("sweep {SWEEP_RECORDS} records × {SWEEP_FIELDS} fields, component"), format!("{ours:.0} records/s ({:.2} s)", component.as_secs_f64()), "≥ 50,000 records/s".into()),
        ("same sweep, native loop (same queries, same parsing)".into(), format!("{theirs:.0} records/s ({:.2} s)", native.as_secs_f64()), String::new()),
        ("sweep throughput vs native".into(), format!("{:.2}×", ours / theirs), "≥ 0.8×".into()),
    ];
    Ok((rows, ours, theirs))
}

/// Peak memory per instance and steps/s with 1,000 steps in flight in one host.
async fn density(config: &HostConfig, cache: &std::path::Path, sandbox: &zoho_sandbox::Sandbox) -> Result<Vec<(String, String, String)>> {
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
    Ok(vec![
        (format!("{STEPS} concurrent get-record steps"), format!("{:.0} steps/s", STEPS as f64 / took.as_secs_f64()), String::new()),
        ("linear memory per instance (median peak)".into(), format!("{:.2} MiB", peaks[peaks.len() / 2] as f64 / 1048576.0), String::new()),
        ("host RSS growth per concurrent step".into(), format!("{:.0} KiB", rss_growth_kb as f64 / STEPS as f64), String::new()),
    ])
}

/// A `/proc/self/status` figure in KiB (0 where there is none).
fn resident_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
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
