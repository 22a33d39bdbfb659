//! `zoho-host bench`: the figures in docs/benchmarks.md, measured in one run against the embedded
//! sandbox. Each figure is a median over many iterations, shown beside its target. Each part of the
//! measurement lives in its own module; this one chooses the parts and tabulates the figures.

mod books_sweep;
mod density;
mod front;
mod notify;
mod step;
mod sweep;

use crate::runtime::{engine, load_component, HostConfig, Runtime};
use anyhow::{Context as _, Result};
use density::{density, CONCURRENT_BEFORE};
pub use front::{serve_front, test_tls_server, Front, TEST_CERT, TEST_KEY};
use notify::notify_attacks;
use std::time::{Duration, Instant};
use step::{step, tls_step};
use sweep::{sweep_cost, sweep_throughput, SweepData};

/// Which parts to run: `ZOHO_BENCH_ONLY=size,step,tls,sweep,books-sweep,sweep-cost,density,instantiate,notify` (all by default).
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
    if wanted("books-sweep") {
        rows.extend(books_sweep::books_sweep(config, &cache, &sandbox).await?);
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
