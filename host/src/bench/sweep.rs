//! Sweep figures: a whole 100,000-record sweep through the component against a native loop of
//! the same COQL queries, and what a sweep costs in calls and credits.

use crate::runtime::{ActionRef, HostConfig, Runtime};
use anyhow::{bail, Context as _, Result};
use http_body_util::BodyExt;
use hyper::body::Bytes;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

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
pub(super) enum SweepData {
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
pub(super) async fn sweep_throughput(config: &HostConfig, cache: &std::path::Path, sandbox: &zoho_sandbox::Sandbox, data: SweepData) -> Result<(Vec<(String, String, String)>, f64, f64)> {
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
pub(super) async fn sweep_cost(config: &HostConfig, cache: &std::path::Path, sandbox: &zoho_sandbox::Sandbox, fields: usize) -> Result<Vec<(String, String, String)>> {
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
