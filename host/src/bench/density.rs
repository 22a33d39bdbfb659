//! Density: 1,000 concurrent steps in one host, their peak memory per instance and the
//! host's resident growth.

use super::resident_kb;
use crate::runtime::{ActionRef, HostConfig, Runtime};
use anyhow::{bail, Result};
use serde_json::json;
use std::time::Instant;

/// 1,000 concurrent get-record steps per second before the key-value backends ran on tokio's blocking threads (docs/benchmarks.md, one run).
pub(super) const CONCURRENT_BEFORE: f64 = 792.0;

/// Peak memory per instance and steps/s with 1,000 steps in flight in one host.
pub(super) async fn density(config: &HostConfig, cache: &std::path::Path, sandbox: &zoho_sandbox::Sandbox) -> Result<(Vec<(String, String, String)>, f64)> {
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
