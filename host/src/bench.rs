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
    rows.push((".wasm size".to_string(), format!("{:.1} KB ({} bytes)", wasm.len() as f64 / 1024.0, wasm.len()), "≤ 300 KB".to_string()));

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
        let target = if pooled > 0 { "median ≤ 50 µs" } else { "" };
        rows.push((label.to_string(), format!("median {}", micros(median(samples))), target.to_string()));
    }

    // One get-record step end to end versus the same exchange made natively.
    let sandbox = zoho_sandbox::Sandbox::start().await?;
    let token = sandbox.issue_token();
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
    rows.push(("get-record step (instantiate + call + HTTP)".into(), format!("median {}", micros(step)), String::new()));
    rows.push(("same GET natively (hyper, new connection)".into(), format!("median {}", micros(native)), String::new()));
    rows.push((
        "step overhead over native".into(),
        format!("{} ({:.2}× native)", micros(step.saturating_sub(native)), step.as_secs_f64() / native.as_secs_f64()),
        "≤ 1 ms".into(),
    ));
    let _ = std::fs::remove_dir_all(&cache);
    Ok(Figures { rows })
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
        out
    }
}
