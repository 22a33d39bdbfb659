//! `zoho-host`: run the connector's actions from the command line, serve the sandbox, or
//! watch a demo workflow run against it.

mod cli;
mod cli_help;

use anyhow::{bail, Context as _, Result};
use clap::Parser;
use cli::{Cli, Command};
use cli_help::json_arg;
#[cfg(feature = "sandbox")]
use serde_json::json;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use zoho_host::manifest::Manifest;
use zoho_host::{HostConfig, Runtime};

fn data_dir(cli: &Cli) -> PathBuf {
    cli.data_dir.clone().unwrap_or_else(|| {
        let base = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share"))).unwrap_or_else(std::env::temp_dir);
        base.join("zoho-host")
    })
}

fn config(cli: &Cli, data_dir: PathBuf) -> HostConfig {
    let mut config = HostConfig::new(cli.component.clone().unwrap_or_else(zoho_host::default_component_path), data_dir);
    config.kv = cli.kv.clone();
    config.log_limit = cli.log_limit;
    config
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zoho-host: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Actions { key } => cli_help::actions(key.as_deref()),
        Command::Manifest { wit, write, check } => manifest(wit, write.as_deref(), check.as_deref()),
        Command::Run { action, connection, input, options, namespace } => run_action(&cli, action, connection, input, options.as_deref(), namespace.as_deref()).await,
        #[cfg(feature = "sandbox")]
        Command::Sandbox { port } => {
            let sandbox = zoho_sandbox::Sandbox::start_on(*port).await?;
            let token = sandbox.issue_token();
            println!("Zoho sandbox on {}", sandbox.url);
            println!("connection: {}", json!({ "api-domain": sandbox.url, "access-token": token }));
            sandbox.wait().await;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "sandbox")]
        Command::Demo => demo(&cli).await,
        Command::Sync { streams, connection, anchor_date, reset, out, per_page, concurrency, backoff_at_credit_percentage, namespace, slices, requests_per_second, strategy } => {
            let request = zoho_host::sync::SyncRequest {
                streams,
                anchor_date: anchor_date.as_deref(),
                reset: *reset,
                out_dir: out,
                per_page: *per_page,
                concurrency: *concurrency,
                backoff_at_credit_percentage: *backoff_at_credit_percentage,
                slices: *slices,
                requests_per_second: *requests_per_second,
                strategy: strategy.as_deref(),
            };
            sync(&cli, connection, namespace.as_deref(), &request).await
        }
        Command::Sweep { record_type, connection, since, out, per_page, fields, namespace, slices, concurrency, strategy } => {
            let request = zoho_host::sweep::SweepRequest {
                record_type,
                since: since.as_deref(),
                per_page: *per_page,
                fields: fields.as_deref(),
                slices: *slices,
                concurrency: *concurrency,
                strategy: strategy.as_deref(),
            };
            sweep(&cli, connection, out.as_deref(), namespace.as_deref(), &request).await
        }
        Command::Watch { connection, events, books, listen, public_url, out, sweep_every, check_every, fetch_records, expiry_minutes, namespace } => {
            // Signals are taken from here on, before anything is sent: a SIGTERM while the
            // channel is being enabled stops the watch cleanly (the channel disabled, exit 0)
            // instead of killing it with the channel live at Zoho.
            let stopped = stopped();
            // Every flag is checked before anything is sent.
            let flags = zoho_host::watch::WatchFlags {
                events,
                books,
                listen: listen.is_some(),
                public_url: public_url.as_deref(),
                sweep_every,
                check_every,
                fetch_records: *fetch_records,
                expiry_minutes: *expiry_minutes,
            };
            let request = zoho_host::watch::WatchRequest::from_flags(&flags)?;
            watch(&cli, &request, listen.as_deref(), connection, out.as_deref(), namespace.as_deref(), stopped).await
        }
        Command::Load(options) => {
            let summary = zoho_host::load::run(&Runtime::new(config(&cli, data_dir(&cli)))?, &json_arg(&options.connection, "--connection")?, options.namespace.as_deref(), &options.request()).await?;
            eprintln!("{}", zoho_host::load::said(&summary));
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "sandbox")]
        Command::Bench { what: Some(cli::BenchWhat::Backfill(options)), .. } => {
            let report = zoho_host::backfill::run(&config(&cli, PathBuf::new()), options).await?;
            print!("{}", report.markdown());
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "sandbox")]
        Command::Bench { iterations, what: None } => {
            let figures = zoho_host::bench::run(&config(&cli, PathBuf::new()), *iterations).await?;
            print!("{}", figures.markdown());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `zoho-host manifest`: generates the manifest from the WIT, printing, writing or checking it.
fn manifest(wit: &std::path::Path, write: Option<&std::path::Path>, check: Option<&std::path::Path>) -> Result<ExitCode> {
    let generated = zoho_host::manifest::generate(wit)?;
    if let Some(path) = check {
        let committed = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        if committed != generated {
            eprintln!("{} differs from what {} generates: run `zoho-host manifest --write`", path.display(), wit.display());
            return Ok(ExitCode::from(1));
        }
    }
    match write {
        Some(path) => std::fs::write(path, &generated).with_context(|| format!("writing {}", path.display()))?,
        None if check.is_none() => print!("{generated}"),
        None => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// `zoho-host run`: one action; its result on stdout (exit 0) or its error on stderr (exit 1).
async fn run_action(cli: &Cli, action: &str, connection: &str, input: &str, options: Option<&str>, namespace: Option<&str>) -> Result<ExitCode> {
    let manifest = Manifest::embedded()?;
    let Some(entry) = manifest.action(action) else {
        bail!("no action {}; `zoho-host actions` lists them", zoho_host::zoho_error::shown(&format!("{action:?}")));
    };
    let connection = json_arg(connection, "--connection")?;
    let input = json_arg(input, "--input")?;
    let options = options.map(|o| json_arg(o, "--options")).transpose()?;
    let runtime = Runtime::new(config(cli, data_dir(cli)))?;
    let outcome = runtime.run(&entry.action_ref(), &connection, &input, options.as_ref(), namespace).await?;
    eprint!("{}", outcome.stderr);
    match outcome.result {
        Ok(value) => {
            let value = if entry.key.ends_with("raw-request") { cli_help::printed(value) } else { value };
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("{}", serde_json::to_string_pretty(&error)?);
            Ok(ExitCode::from(1))
        }
    }
}

/// `zoho-host sync`: every stream to its files; the summary on stdout, the totals on stderr.
async fn sync(cli: &Cli, connection: &str, namespace: Option<&str>, request: &zoho_host::sync::SyncRequest<'_>) -> Result<ExitCode> {
    let connection = json_arg(connection, "--connection")?;
    // Lives as long as the process: a sweep's steps run as tasks of their own.
    let runtime: &'static Runtime = Box::leak(Box::new(Runtime::new(config(cli, data_dir(cli)))?));
    let started = std::time::Instant::now();
    let summary = zoho_host::sync::run(runtime, &connection, namespace, request).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    let sum = |key: &str| summary.values().map(|s| s["usage"][key].as_u64().unwrap_or(0)).sum::<u64>();
    eprintln!("sync: {} streams in {:.1} s; {} calls, {} credits", summary.len(), started.elapsed().as_secs_f64(), sum("calls"), sum("credits"));
    Ok(ExitCode::SUCCESS)
}

/// `zoho-host sweep`: one module's records as JSON lines (to `out` or stdout); the summary on stderr.
async fn sweep(cli: &Cli, connection: &str, out: Option<&std::path::Path>, namespace: Option<&str>, request: &zoho_host::sweep::SweepRequest<'_>) -> Result<ExitCode> {
    let connection = json_arg(connection, "--connection")?;
    // Lives as long as the process: a sweep's steps run as tasks of their own.
    let runtime: &'static Runtime = Box::leak(Box::new(Runtime::new(config(cli, data_dir(cli)))?));
    let mut sink: Box<dyn std::io::Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let summary = zoho_host::sweep::run(runtime, &connection, namespace, request, &mut sink).await?;
    eprintln!(
        "{}: {} records in {} pages; cursor committed at {}; {} slices, {} calls, {} credits, {:.1} s",
        request.record_type,
        summary.records,
        summary.pages,
        summary.cursor,
        summary.slices,
        summary.usage.calls,
        summary.usage.credits,
        summary.elapsed.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `zoho-host watch`, its flags checked and its signals taken: serves the notify URL (when CRM
/// events are watched) until stopped, the summary on stderr.
async fn watch(
    cli: &Cli,
    request: &zoho_host::watch::WatchRequest,
    listen: Option<&str>,
    connection: &str,
    out: Option<&std::path::Path>,
    namespace: Option<&str>,
    stopped: impl std::future::Future<Output = ()>,
) -> Result<ExitCode> {
    let listen = zoho_host::watch::listen_address(listen)?;
    let connection = json_arg(connection, "--connection")?;
    let runtime = Runtime::new(config(cli, data_dir(cli)))?;
    let sink: Box<dyn std::io::Write + Send> = match out {
        Some(path) => Box::new(std::fs::OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("opening {}", path.display()))?),
        None => Box::new(std::io::stdout()),
    };
    let summary = zoho_host::watch::run_any(&runtime, &connection, namespace, request, listen, sink, stopped).await?;
    eprintln!("{}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled: a signal in between is kept, not fatal.
fn stopped() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (term, interrupt) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
        async move {
            match (term, interrupt) {
                (Ok(mut term), Ok(mut interrupt)) => tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = term.recv() => {}
                },
                (Ok(mut term), Err(_)) => {
                    term.recv().await;
                }
                (Err(_), _) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(feature = "sandbox")]
async fn demo(cli: &Cli) -> Result<ExitCode> {
    let sandbox = zoho_sandbox::Sandbox::start().await?;
    // A throwaway store unless one is named: the demo must not touch a real tenant's state.
    let scratch = std::env::temp_dir().join(format!("zoho-host-demo-{}", std::process::id()));
    let data_dir = cli.data_dir.clone().unwrap_or_else(|| scratch.clone());
    let outcome = demo_steps(cli, &sandbox, data_dir).await;
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

#[cfg(feature = "sandbox")]
async fn demo_steps(cli: &Cli, sandbox: &zoho_sandbox::Sandbox, data_dir: PathBuf) -> Result<ExitCode> {
    let runtime = Runtime::new(config(cli, data_dir))?;
    let manifest = Manifest::embedded()?;
    let connection = json!({ "api-domain": sandbox.url, "access-token": sandbox.issue_token() });
    println!("Zoho sandbox on {}; component {}\n", sandbox.url, config(cli, PathBuf::new()).component.display());

    let step = |key: &'static str, input: Value| {
        let runtime = &runtime;
        let manifest = &manifest;
        let connection = connection.clone();
        async move {
            let action = manifest.action(key).context("manifest")?;
            println!("▶ {} ({key})\n  input: {input}", action.label);
            let started = std::time::Instant::now();
            let outcome = runtime.run(&action.action_ref(), &connection, &input, None, Some("demo")).await?;
            let took = started.elapsed();
            match outcome.result {
                Ok(value) => {
                    let text = serde_json::to_string(&value)?;
                    let shown = if text.len() > 400 { format!("{}… ({} bytes)", &text[..400], text.len()) } else { text };
                    println!("  ok in {:.1} ms: {shown}\n", took.as_secs_f64() * 1000.0);
                    Ok::<Value, anyhow::Error>(value)
                }
                Err(error) => bail!("{key} failed: {error}"),
            }
        }
    };

    let created = step("crm-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe", "First_Name": "Jane", "Email": "jane.doe@zylker.com", "Company": "Zylker" } })).await?;
    let id = created["details"]["id"].as_str().context("created record has no id")?.to_string();
    step("crm-get-record", json!({ "record-type": "Leads", "record-id": id, "fields": "Last_Name,First_Name,Email,Company" })).await?;
    let listed = step("crm-get-records", json!({ "record-type": "Contacts", "fields": "Last_Name,Email", "page": 11, "per-page": 200 })).await?;
    println!("  (page 11 of Contacts lies past Zoho's 2,000-record page reach: {} records came back through page tokens)\n", listed["data"].as_array().map_or(0, Vec::len));
    step("crm-update-record", json!({ "record-type": "Leads", "record-id": id, "values": { "Lead_Status": "Contacted" } })).await?;
    // Find or create: Jane's Email finds her lead and leaves it as it is; Rick's is created.
    let jane = step("crm-find-or-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Doe", "Email": "jane.doe@zylker.com", "Lead_Status": "Qualified" } })).await?;
    let rick = step("crm-find-or-create-record", json!({ "record-type": "Leads", "values": { "Last_Name": "Roe", "Email": "rick.roe@zylker.com", "Company": "Zylker" } })).await?;
    println!("  (find or create: Jane found {} unchanged, Rick created {})\n", jane["found"], rick["created"]);
    // Create or update: the same Email again updates Jane's lead.
    let upserted = step(
        "crm-upsert-records",
        json!({ "record-type": "Leads", "duplicate-check-fields": ["Email"], "values": { "Last_Name": "Doe", "Email": "jane.doe@zylker.com", "Lead_Status": "Qualified" } }),
    )
    .await?;
    println!("  (upsert: {} {})\n", upserted["action"].as_str().unwrap_or("?"), upserted["details"]["id"].as_str().unwrap_or("?"));
    let found = step("crm-search-records", json!({ "record-type": "Leads", "criteria": { "Company": "Zylker", "Last_Name": "Roe" }, "fields": "Last_Name,Email,Company" })).await?;
    let roe = found["data"].as_array().and_then(|d| d.first()).and_then(|r| r["id"].as_str()).context("search found no lead")?.to_string();
    step("crm-remove-record", json!({ "record-type": "Leads", "record-id": roe })).await?;
    step("crm-remove-record", json!({ "record-type": "Leads", "record-id": id })).await?;
    step("books-get-records", json!({ "record-type": "contacts", "search-fields": { "status": "inactive" }, "per-page": 3 })).await?;
    println!("demo finished: {} requests reached the sandbox", sandbox.requests().len());
    Ok(ExitCode::SUCCESS)
}
