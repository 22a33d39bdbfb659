//! `zoho-host bench backfill`: a first sync of a large module against the sandbox set to Zoho's
//! latency and concurrency cap. One sweep with one slice, sliced sweeps (the best of the slice
//! counts tried), a peer-style baseline (`GET /crm/v8/{module}` 200 a page with page tokens,
//! one request at a time, natively), and a sliced sweep while 10% of the records are modified,
//! followed by the next sweep, with every id and every modified version checked.
//!
//! The sandbox runs on its own threads (named `zoho-sandbox`), so the host's CPU time (the
//! component, wasmtime, the host's output) is the process's less theirs.

use crate::runtime::{HostConfig, Runtime};
use crate::sweep::{SweepRequest, SweepSummary};
use anyhow::{bail, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};
use zoho_sandbox::{BulkModule, Limits, Sandbox};

/// Zoho's GET listing reads at most this many records through page tokens.
const GET_REACH: usize = 100_000;
const MODULE: &str = "Backfill";
const PEER_MODULE: &str = "Backfill_Peer";
/// Share of the records modified while the last backfill runs.
const MODIFIED_SHARE: f64 = 0.10;
/// Mass updates the modifications come in.
const MODIFY_BATCHES: usize = 20;

#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Records in the module.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: usize,
    /// Text fields per record.
    #[arg(long, default_value_t = 20)]
    pub fields: usize,
    /// Latency of every answer, in milliseconds...
    #[arg(long, default_value_t = 300)]
    pub latency_ms: u64,
    /// ...plus up to this much jitter (seeded: the same every run).
    #[arg(long, default_value_t = 20)]
    pub jitter_ms: u64,
    /// The org's concurrency cap (and COQL's): calls in flight past it answer 429.
    #[arg(long, default_value_t = 10)]
    pub cap: usize,
    /// Slice counts to try; the fastest is reported and used for the modified run.
    #[arg(long, value_delimiter = ',', default_value = "10")]
    pub slices: Vec<u32>,
    /// Records per sweep page (COQL LIMIT).
    #[arg(long, default_value_t = 2000)]
    pub per_page: u32,
    /// Share of the records on a few seconds (a bulk import), the rest over a year.
    #[arg(long, default_value_t = 0.4)]
    pub burst_share: f64,
    /// Records of the peer-style baseline's module (Zoho's GET reaches 100,000 at most).
    #[arg(long, default_value_t = 100_000)]
    pub peer_records: usize,
    /// Export jobs (strategy bulk): seconds a job stays ADDED on the sandbox's clock...
    #[arg(long, default_value_t = 5)]
    pub job_queued_s: i64,
    /// ...then seconds IN PROGRESS...
    #[arg(long, default_value_t = 10)]
    pub job_runs_s: i64,
    /// ...plus a second per this many records it exports. Zoho publishes no speed; this model
    /// makes a 200,000-record job take 25 s, a floor well under what Zoho's queue takes.
    #[arg(long, default_value_t = 20_000)]
    pub job_records_per_s: u64,
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct Run {
    pub label: String,
    pub records: usize,
    pub wall: Duration,
    pub calls: u64,
    pub credits: u64,
    /// What the sandbox counted for the run (calls, credits): a check on the component's own.
    pub sandbox_calls: u64,
    pub sandbox_credits: u64,
    /// CPU seconds of the host process outside the sandbox's threads.
    pub host_cpu_s: f64,
    /// CPU seconds of the sandbox's threads.
    pub sandbox_cpu_s: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.records as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

pub struct Report {
    pub options: Options,
    pub seeded: Duration,
    pub rss_after_seed_mib: u64,
    pub single: Run,
    pub sliced: Vec<(u32, Run)>,
    /// A first sweep through export jobs (strategy bulk).
    pub bulk: Run,
    pub peer: Run,
    pub modified: Modified,
}

/// The run with records modified meanwhile, and what the two sweeps delivered.
pub struct Modified {
    pub run: Run,
    pub next: Run,
    pub modified: usize,
    pub ids_missing: usize,
    pub versions_missing: usize,
}

/// CPU seconds of this process, and of its threads named `zoho-sandbox*` (clock ticks of 10 ms).
fn cpu_seconds() -> (f64, f64) {
    fn ticks(stat: &str) -> u64 {
        // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        field(11).saturating_add(field(12))
    }
    let process = std::fs::read_to_string("/proc/self/stat").map(|s| ticks(&s)).unwrap_or(0);
    let mut sandbox = 0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.starts_with("zoho-sandbox") {
                sandbox += std::fs::read_to_string(task.path().join("stat")).map(|s| ticks(&s)).unwrap_or(0);
            }
        }
    }
    (process as f64 / 100.0, sandbox as f64 / 100.0)
}

fn resident_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status").ok().and_then(|s| s.lines().find(|l| l.starts_with("VmRSS")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())).unwrap_or(0) / 1024
}

/// Measures `work` (wall time, host CPU, the sandbox's count of calls and credits).
async fn measured<F, T>(sandbox: &Sandbox, work: F) -> Result<(T, Duration, (f64, f64), (u64, u64))>
where
    F: std::future::Future<Output = Result<T>>,
{
    let (calls, credits) = sandbox.usage();
    let (process, theirs) = cpu_seconds();
    let started = Instant::now();
    let value = work.await?;
    let wall = started.elapsed();
    let (process_after, theirs_after) = cpu_seconds();
    let (calls_after, credits_after) = sandbox.usage();
    sandbox.clear_requests();
    let sandbox_cpu = theirs_after - theirs;
    let host_cpu = (process_after - process) - sandbox_cpu;
    Ok((value, wall, (host_cpu.max(0.0), sandbox_cpu.max(0.0)), (calls_after - calls, credits_after - credits)))
}

fn run_of(label: String, summary: &SweepSummary, wall: Duration, cpu: (f64, f64), sandbox: (u64, u64)) -> Run {
    Run {
        label,
        records: summary.records,
        wall,
        calls: summary.usage.calls,
        credits: summary.usage.credits,
        sandbox_calls: sandbox.0,
        sandbox_credits: sandbox.1,
        host_cpu_s: cpu.0,
        sandbox_cpu_s: cpu.1,
    }
}

/// Keeps each delivered record's id and Modified_Time (lines arrive whole: a record, then "\n").
#[derive(Default)]
struct Versions {
    line: Vec<u8>,
    seen: HashMap<u64, String>,
    lines: usize,
}

#[derive(serde::Deserialize)]
struct Head {
    id: String,
    #[serde(rename = "Modified_Time")]
    modified_time: String,
}

impl Write for Versions {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for part in buf.split_inclusive(|b| *b == b'\n') {
            match part.strip_suffix(b"\n") {
                Some(end) => {
                    self.line.extend_from_slice(end);
                    if let Ok(head) = serde_json::from_slice::<Head>(&self.line) {
                        if let Ok(id) = head.id.parse() {
                            self.seen.insert(id, head.modified_time);
                        }
                    }
                    self.lines += 1;
                    self.line.clear();
                }
                None => self.line.extend_from_slice(part),
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn sweep_request<'a>(options: &Options, fields: &'a str, slices: u32, strategy: Option<&'a str>) -> SweepRequest<'a> {
    SweepRequest { record_type: MODULE, since: None, per_page: Some(options.per_page), fields: Some(fields), slices, concurrency: Some(options.cap), strategy }
}

/// The peer-style baseline: `GET /crm/v8/{module}?fields=...&per_page=200`, then page tokens,
/// one request at a time on one kept-alive connection, each answer parsed into a JSON tree.
async fn peer_sweep(addr: std::net::SocketAddr, token: &str, fields: &str) -> Result<(usize, u64)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let (mut records, mut calls, mut page_token): (usize, u64, Option<String>) = (0, 0, None);
    loop {
        let mut path = format!("/crm/v8/{PEER_MODULE}?fields={fields}&per_page=200");
        if let Some(t) = &page_token {
            path.push_str(&format!("&page_token={t}"));
        }
        let request = hyper::Request::get(path).header("host", addr.to_string()).header("authorization", format!("Zoho-oauthtoken {token}")).body(Empty::<Bytes>::new())?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        calls += 1;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if status == 204 {
            break;
        }
        if status != 200 {
            bail!("the peer baseline's GET answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let page: Value = serde_json::from_slice(&body)?;
        records += page["data"].as_array().map_or(0, Vec::len);
        match page["info"]["next_page_token"].as_str() {
            Some(next) if page["info"]["more_records"] == json!(true) => page_token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok((records, calls))
}

pub async fn run(config: &HostConfig, options: &Options) -> Result<Report> {
    if options.slices.is_empty() || options.slices.iter().any(|n| !(1..=crate::sweep::MAX_SLICES).contains(n)) {
        bail!("--slices takes counts from 1 to {}", crate::sweep::MAX_SLICES);
    }
    // The sandbox on threads of its own, so its CPU time can be told apart.
    let threads = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("zoho-sandbox").enable_all().build()?;
    let outcome = measure(config, options, &threads).await;
    threads.shutdown_background();
    outcome
}

async fn measure(config: &HostConfig, options: &Options, threads: &tokio::runtime::Runtime) -> Result<Report> {
    let sandbox = threads.spawn(Sandbox::start()).await??;
    let seeding = Instant::now();
    let spec = |name: &str, records: usize| BulkModule {
        name: name.into(),
        records,
        fields: options.fields,
        span: Duration::from_secs(365 * 86_400),
        burst_share: options.burst_share,
        burst: Duration::from_secs(5),
        seed: 16,
    };
    let peer_records = options.peer_records.min(GET_REACH);
    let ids = sandbox.seed_bulk(&spec(MODULE, options.records));
    sandbox.seed_bulk(&spec(PEER_MODULE, peer_records));
    let seeded = seeding.elapsed();
    let rss_after_seed_mib = resident_mib();
    eprintln!("seeded {} + {} records × {} fields in {:.1} s (RSS {rss_after_seed_mib} MiB)", options.records, peer_records, options.fields, seeded.as_secs_f64());
    sandbox.set_limits(Limits {
        latency: Duration::from_millis(options.latency_ms),
        jitter: Duration::from_millis(options.jitter_ms),
        seed: 16,
        max_concurrent: options.cap,
        max_concurrent_coql: options.cap,
        ..Default::default()
    });

    let data_dir = std::env::temp_dir().join(format!("zoho-host-backfill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir)?;
    let mut cfg = config.clone();
    // A fresh key-value store and code cache, removed afterwards.
    cfg.data_dir = data_dir.clone();
    cfg.kv = None;
    // Kept for the process's life: a sweep's steps run as tasks of their own.
    let runtime: &'static Runtime = Box::leak(Box::new(Runtime::new(cfg)?));
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() });
    let fields = spec(MODULE, 0).field_names().join(",");
    let outcome = async {
        let sweep_by = |namespace: String, slices: u32, strategy: Option<&'static str>, out: Box<dyn Write>| {
            let (connection, fields) = (&connection, &fields);
            async move {
                let mut out = out;
                let summary = crate::sweep::run(runtime, connection, Some(&namespace), &sweep_request(options, fields, slices, strategy), &mut out).await?;
                Ok::<_, anyhow::Error>((summary, out))
            }
        };
        let sweep = |namespace: String, slices: u32, out: Box<dyn Write>| sweep_by(namespace, slices, None, out);

        eprintln!("slices=1 ...");
        let ((summary, _), wall, cpu, counted) = measured(&sandbox, sweep("backfill-single".into(), 1, Box::new(std::io::sink()))).await?;
        let single = run_of("sweep, slices=1".into(), &summary, wall, cpu, counted);
        check_count(&single, options.records)?;

        let mut sliced = Vec::new();
        for &n in &options.slices {
            eprintln!("slices={n} ...");
            let ((summary, _), wall, cpu, counted) = measured(&sandbox, sweep(format!("backfill-sliced-{n}"), n, Box::new(std::io::sink()))).await?;
            let run = run_of(format!("sweep, slices={n}"), &summary, wall, cpu, counted);
            check_count(&run, options.records)?;
            sliced.push((n, run));
        }
        let best = sliced.iter().min_by_key(|(_, r)| r.wall).map(|(n, _)| *n).unwrap_or(1);

        eprintln!("strategy=bulk (export jobs) ...");
        sandbox.tune_bulk_reads(|k| {
            k.added_for = options.job_queued_s;
            k.runs_for = options.job_runs_s;
            k.records_per_second = options.job_records_per_s;
        });
        let ((summary, _), wall, cpu, counted) = measured(&sandbox, sweep_by("backfill-bulk".into(), 1, Some("bulk"), Box::new(std::io::sink()))).await?;
        let bulk = run_of("sweep, strategy=bulk (export jobs)".into(), &summary, wall, cpu, counted);
        check_count(&bulk, options.records)?;

        eprintln!("peer-style GET baseline ...");
        let token = sandbox.issue_token();
        // Zoho's GET names at most 50 fields a request: a wider module's baseline reads its first 50.
        let peer_fields = fields.split(',').take(50).collect::<Vec<_>>().join(",");
        let ((records, calls), wall, cpu, counted) = measured(&sandbox, peer_sweep(sandbox.addr, &token, &peer_fields)).await?;
        let peer = Run {
            label: format!("peer-style GET, 200 a page, sequential ({PEER_MODULE}: {} records)", peer_records),
            records,
            wall,
            calls,
            credits: counted.1,
            sandbox_calls: counted.0,
            sandbox_credits: counted.1,
            host_cpu_s: cpu.0,
            sandbox_cpu_s: cpu.1,
        };

        eprintln!("slices={best} with {:.0}% of records modified meanwhile, then the next sweep ...", MODIFIED_SHARE * 100.0);
        let modified = modified_run(&sandbox, &ids, best, sliced.iter().find(|(n, _)| *n == best).map(|(_, r)| r.wall).unwrap_or(single.wall), |namespace, out| sweep(namespace, best, out)).await?;
        Ok::<_, anyhow::Error>(Report { options: options.clone(), seeded, rss_after_seed_mib, single, sliced, bulk, peer, modified })
    }
    .await;
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome
}

fn check_count(run: &Run, expected: usize) -> Result<()> {
    if run.records != expected {
        bail!("{} delivered {} records, not {expected}", run.label, run.records);
    }
    Ok(())
}

/// A sliced sweep while mass updates change 10% of the records (spread over about the time a
/// quiet sweep took), then the next sweep; every id must be in the first, and every modified
/// record's last version in one of the two.
async fn modified_run<F, Fut>(sandbox: &Sandbox, ids: &[u64], slices: u32, expected: Duration, sweep: F) -> Result<Modified>
where
    F: Fn(String, Box<dyn Write>) -> Fut,
    Fut: std::future::Future<Output = Result<(SweepSummary, Box<dyn Write>)>>,
{
    // Every 10th record in a shuffled order (a fixed stride through the ids).
    let chosen: Vec<u64> = ids.iter().enumerate().filter(|(i, _)| (i.wrapping_mul(7919)) % 10 == 3).map(|(_, id)| *id).collect();
    let modified = chosen.len();
    let pause = expected / (MODIFY_BATCHES as u32 + 1);
    let updates = async {
        for (batch, part) in chosen.chunks(modified.div_ceil(MODIFY_BATCHES).max(1)).enumerate() {
            tokio::time::sleep(pause).await;
            sandbox.modify_bulk(MODULE, part, "Field_01", &json!(format!("modified in batch {batch}")));
        }
        Ok::<_, anyhow::Error>(())
    };
    let versions = std::sync::Arc::new(std::sync::Mutex::new(Versions::default()));
    struct Shared(std::sync::Arc<std::sync::Mutex<Versions>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let reading = measured(sandbox, sweep("backfill-modified".into(), Box::new(Shared(versions.clone()))));
    let (read, written) = futures_util::future::join(reading, updates).await;
    written?;
    let ((summary, _), wall, cpu, counted) = read?;
    let run = run_of(format!("sweep, slices={slices}, 10% modified meanwhile"), &summary, wall, cpu, counted);
    let first = std::mem::take(&mut *versions.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let ((summary, _), wall, cpu, counted) = measured(sandbox, sweep("backfill-modified".into(), Box::new(Shared(versions.clone())))).await?;
    let next = run_of(format!("next sweep, slices={slices}"), &summary, wall, cpu, counted);
    let second = std::mem::take(&mut *versions.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    // A record modified before the first sweep reached it moved past that sweep's end: the
    // next sweep delivers it.
    let ids_missing = ids.iter().filter(|id| !first.seen.contains_key(id) && !second.seen.contains_key(id)).count();
    let final_versions: HashMap<u64, String> = sandbox.record_versions(MODULE).into_iter().filter_map(|(id, t)| Some((id.parse().ok()?, t))).collect();
    let versions_missing = chosen
        .iter()
        .filter(|id| {
            let last = final_versions.get(id);
            last.is_none() || (first.seen.get(id) != last && second.seen.get(id) != last)
        })
        .count();
    Ok(Modified { run, next, modified, ids_missing, versions_missing })
}

impl Report {
    pub fn markdown(&self) -> String {
        let o = &self.options;
        let mut out = format!(
            "Backfill of {} records × {} fields ({:.0}% on 5 seconds, the rest over a year); sandbox latency {} ms + up to {} ms jitter, \
             concurrency cap {} (COQL too); {} records a sweep page. Seeded in {:.1} s, RSS {} MiB.\n\n",
            o.records,
            o.fields,
            o.burst_share * 100.0,
            o.latency_ms,
            o.jitter_ms,
            o.cap,
            o.per_page,
            self.seeded.as_secs_f64(),
            self.rss_after_seed_mib
        );
        out.push_str("| run | records | wall time | records/s | calls | credits | sandbox counted (calls / credits) | host CPU s | sandbox CPU s |\n|---|---|---|---|---|---|---|---|---|\n");
        let mut rows: Vec<&Run> = vec![&self.single];
        rows.extend(self.sliced.iter().map(|(_, r)| r));
        rows.extend([&self.bulk, &self.peer, &self.modified.run, &self.modified.next]);
        for r in rows {
            out.push_str(&format!(
                "| {} | {} | {:.1} s | {:.0} | {} | {} | {} / {} | {:.1} | {:.1} |\n",
                r.label,
                r.records,
                r.wall.as_secs_f64(),
                r.rate(),
                r.calls,
                r.credits,
                r.sandbox_calls,
                r.sandbox_credits,
                r.host_cpu_s,
                r.sandbox_cpu_s
            ));
        }
        let Some((n, best)) = self.sliced.iter().min_by_key(|(_, r)| r.wall) else { return out };
        let speedup = self.single.wall.as_secs_f64() / best.wall.as_secs_f64().max(1e-9);
        let over_peer = best.rate() / self.peer.rate().max(1e-9);
        // The latency floor: the plan's calls one after another (a COUNT and a probe per
        // boundary), then the pages in waves of `cap`, each wave one mean latency.
        let pages = (o.records as f64 / f64::from(o.per_page)).ceil();
        let latency = (o.latency_ms as f64 + o.jitter_ms as f64 / 2.0) / 1000.0;
        let floor = (f64::from(*n) + (pages / (*n).min(o.cap as u32) as f64).ceil()) * latency;
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
        let m = &self.modified;
        out.push_str("\n| target | measured | limit | met |\n|---|---|---|---|\n");
        let mut target = |name: String, measured: String, limit: &str, met: bool| out.push_str(&format!("| {name} | {measured} | {limit} | {} |\n", if met { "yes" } else { "no" }));
        target(format!("slices={n} vs slices=1, wall time"), format!("{speedup:.1}× faster"), "≥ 6×", speedup >= 6.0);
        target(format!("slices={n} vs peer-style GET, records/s"), format!("{over_peer:.0}× faster"), "≥ 50×", over_peer >= 50.0);
        target(format!("credits, slices={n} vs slices=1"), format!("{} vs {}", best.credits, self.single.credits), "no more", best.credits <= self.single.credits);
        let (bulk, fewer) = (&self.bulk, self.single.credits as f64 / (self.bulk.credits.max(1)) as f64);
        // Zoho's v8 "API Limits" table: a job 50 credits per 200,000 records, polls and downloads 1
        // each; COQL 3 per 2,000 rows, 300 per 200,000: about 5× at best, and only for full jobs.
        let measured = format!("{} vs {} ({fewer:.1}× fewer); wall {:.1} s vs {:.1} s", bulk.credits, self.single.credits, bulk.wall.as_secs_f64(), self.single.wall.as_secs_f64());
        target("credits, strategy=bulk vs one COQL walk".into(), measured, "≥ 5× fewer (Zoho's table: at most about 5×)", fewer >= 5.0);
        target(
            format!("host CPU, slices={n} (component, wasmtime, output)"),
            format!(
                "{:.1} s ({:.1} µs a record): {:.1} s a core on {cores} cores vs the latency floor {floor:.1} s (wall {:.1} s)",
                best.host_cpu_s,
                best.host_cpu_s * 1e6 / o.records.max(1) as f64,
                best.host_cpu_s / cores,
                best.wall.as_secs_f64()
            ),
            "below the floor (latency-bound)",
            best.host_cpu_s / cores <= floor,
        );
        target(
            format!("{:.0}% modified during the backfill ({} records)", MODIFIED_SHARE * 100.0, m.modified),
            format!("{} ids missing, {} modified versions missing", m.ids_missing, m.versions_missing),
            "0 and 0",
            m.ids_missing == 0 && m.versions_missing == 0,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_line_by_line_whatever_the_chunks() {
        let mut v = Versions::default();
        let text = b"{\"id\":\"12\",\"Modified_Time\":\"2024-01-01T00:00:00+00:00\"}\n{\"id\":\"13\",\"Modified_Time\":\"t\"}\n";
        for chunk in text.chunks(7) {
            v.write_all(chunk).unwrap_or_default();
        }
        assert_eq!(v.lines, 2);
        assert_eq!(v.seen.get(&12).map(String::as_str), Some("2024-01-01T00:00:00+00:00"));
        assert_eq!(v.seen.get(&13).map(String::as_str), Some("t"));
    }
}
