//! `zoho-host`: run the connector's actions from the command line, serve the sandbox, or
//! watch a demo workflow run against it.

mod cli_help;

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};
use cli_help::json_arg;
#[cfg(feature = "sandbox")]
use serde_json::json;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use zoho_host::manifest::Manifest;
use zoho_host::{HostConfig, Runtime};

#[derive(Parser)]
#[command(name = "zoho-host", version, about = "Runs the Zoho connector WebAssembly component", after_help = cli_help::EXIT_STATUS)]
struct Cli {
    /// The component (.wasm). Default: the one ./build.sh built.
    #[arg(long, global = true, env = "ZOHO_COMPONENT")]
    component: Option<PathBuf>,
    /// Key-value database and compiled-code cache. Default: $XDG_DATA_HOME/zoho-host.
    #[arg(long, global = true, env = "ZOHO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Key-value backend shared by workers: redis://host:port/db, a SQLite file, or `none`
    /// (steps get no store: stateless actions only).
    /// Default: kv.sqlite3 in the data directory.
    #[arg(long, global = true, env = "ZOHO_KV")]
    kv: Option<String>,
    /// Bytes of a step's debug log kept; past it the log is cut with a marker line.
    #[arg(long, global = true, env = "ZOHO_LOG_LIMIT", default_value_t = zoho_host::runtime::LOG_LIMIT)]
    log_limit: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the actions of the manifest, or show one action's inputs and output.
    Actions {
        /// An action's key, e.g. crm-create-record: its form (inputs with types, defaults,
        /// choices and help) and what it returns.
        key: Option<String>,
    },
    /// Generate actions.json from the WIT and its annotations; print it, or check or write the file.
    Manifest {
        /// The WIT package directory (world.wit, annotations.json, deps/).
        #[arg(long, default_value = "wit")]
        wit: std::path::PathBuf,
        /// Write the generated manifest to this file.
        #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "actions.json")]
        write: Option<std::path::PathBuf>,
        /// Exit 1 when this file differs from the generated manifest.
        #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "actions.json")]
        check: Option<std::path::PathBuf>,
    },
    /// Run one action; prints the result as JSON on stdout, or the error on stderr (exit 1).
    #[command(after_help = cli_help::EXIT_STATUS)]
    Run {
        /// Manifest key, e.g. crm-create-record.
        action: String,
        /// Connection JSON, @file, or - for stdin.
        #[arg(long)]
        connection: String,
        /// The action's input JSON, @file, or - for stdin.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Call options JSON (debug, timeout-ms, max-retries, ...), @file, or - for stdin.
        #[arg(long)]
        options: Option<String>,
        /// Key-value namespace (tenant). Default: a digest of the connection's identity; for a
        /// platform-managed access token, its organization's (learned once per token from /org).
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Read every record changed since the last sweep as JSON lines, then commit the cursor.
    Sweep {
        /// Module API name, e.g. Contacts.
        record_type: String,
        /// Connection JSON, @file, or - for stdin.
        #[arg(long)]
        connection: String,
        /// Read changes since this time instead of the committed cursor.
        #[arg(long)]
        since: Option<String>,
        /// Write the records here (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        per_page: Option<u32>,
        /// Comma-separated field API names (default: every field).
        #[arg(long)]
        fields: Option<String>,
        #[arg(long)]
        namespace: Option<String>,
        /// Modified_Time slices read in parallel (1 to 10); records of different slices come
        /// out in no particular order.
        #[arg(long, default_value_t = 1)]
        slices: u32,
        /// Steps in flight at once (default: one per slice).
        #[arg(long)]
        concurrency: Option<usize>,
        /// How a first sweep (no cursor yet) reads: coql, bulk (Zoho's export jobs) or auto
        /// (bulk past 50,000 records). Later sweeps are COQL sweeps.
        #[arg(long, value_parser = ["coql", "bulk", "auto"])]
        strategy: Option<String>,
    },
    /// Read streams (leads, contacts, ..., users, modules) into one JSON-lines file each; resumable.
    Sync {
        /// Comma-separated stream names (see the sync-discover action).
        #[arg(long, value_delimiter = ',', required = true)]
        streams: Vec<String>,
        /// Connection JSON, @file, or - for stdin.
        #[arg(long)]
        connection: String,
        /// Where the first sweep of each stream starts (default: one year back). Refused for a
        /// stream that already has a cursor, unless --reset.
        #[arg(long)]
        anchor_date: Option<String>,
        /// Full refresh of the named streams: forget their cursors (and any unfinished run of
        /// them) and read again from the anchor date. Their files keep what earlier runs wrote.
        #[arg(long)]
        reset: bool,
        /// Directory of the stream files (appended to, never replaced) and state.json.
        #[arg(long, default_value = "zoho-sync")]
        out: PathBuf,
        #[arg(long)]
        per_page: Option<u32>,
        /// Streams (and requests) in flight at once.
        #[arg(long, default_value_t = 3)]
        concurrency: usize,
        /// Pause once this share of the day's API credits is used (0.5 to 1.0).
        #[arg(long)]
        backoff_at_credit_percentage: Option<f64>,
        #[arg(long)]
        namespace: Option<String>,
        /// Modified_Time slices of each incremental stream read in parallel (1 to 10); a
        /// resumed stream keeps the slices it started with.
        #[arg(long, default_value_t = 1)]
        slices: u32,
        /// Requests a second for this connection across all workers (default: 5).
        #[arg(long)]
        requests_per_second: Option<u32>,
        /// How each stream's first sweep (no cursor yet) reads: coql, bulk (Zoho's export jobs)
        /// or auto (bulk past 50,000 records). Later sweeps are COQL sweeps.
        #[arg(long, value_parser = ["coql", "bulk", "auto"])]
        strategy: Option<String>,
    },
    /// Write each create, edit or delete of the watched CRM modules as a JSON line, seconds after
    /// it happens (Zoho's instant notifications, renewed) and at the latest within --sweep-every
    /// (the sweep catches what they missed); and each new or updated Books record (swept only).
    Watch {
        /// Connection JSON, @file, or - for stdin.
        #[arg(long)]
        connection: String,
        /// Comma-separated CRM Module.create|edit|delete|all, e.g. Leads.all (needs --listen, --public-url).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// Comma-separated Zoho Books resources swept every --sweep-every, e.g. invoices,contacts (the
        /// connection's organization) or <organization id>_invoices; alone, no --listen or --public-url.
        #[arg(long, value_delimiter = ',')]
        books: Vec<String>,
        /// Address the notify URL is served on, e.g. 127.0.0.1:8788 (with --events).
        #[arg(long)]
        listen: Option<String>,
        /// The URL Zoho CRM posts to (https, or http on loopback); its path is served on --listen.
        #[arg(long)]
        public_url: Option<String>,
        /// Append the event lines here (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// How often each CRM module and Books resource is swept (15m, 30s, 2h).
        #[arg(long, default_value = "15m")]
        sweep_every: String,
        /// How often the channel's expiry is checked by Zoho's clock.
        #[arg(long, default_value = "5m")]
        check_every: String,
        /// Read each notified record, so a line carries the record, not just its id.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        fetch_records: bool,
        /// The channel's lifetime asked at each enable and renewal, 1 to 10080 minutes (a week, Zoho's most).
        #[arg(long, default_value_t = 10080)]
        expiry_minutes: u32,
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Write a JSON-lines file of records into a module through Zoho's Bulk Write API: one outcome
    /// line per input line, a summary with jobs, calls and credits; rerun to resume.
    Load(zoho_host::load::Options),
    /// Serve the Zoho sandbox until interrupted.
    #[cfg(feature = "sandbox")]
    Sandbox {
        #[arg(long, default_value_t = 8787)]
        port: u16,
    },
    /// Run create → get → list → update → upsert (find or create) → search → remove against an embedded sandbox.
    #[cfg(feature = "sandbox")]
    Demo,
    /// Measure size, compile/load, instantiation and step overhead; prints a Markdown table.
    #[cfg(feature = "sandbox")]
    Bench {
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
        #[command(subcommand)]
        what: Option<BenchWhat>,
    },
}

/// Benchmarks other than the default table.
#[cfg(feature = "sandbox")]
#[derive(Subcommand)]
enum BenchWhat {
    /// A first sync of a large module at Zoho's latency and concurrency cap: slices=1, slices=N,
    /// a peer-style GET baseline, and the same backfill with 10% of records modified meanwhile.
    Backfill(zoho_host::backfill::Options),
}

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
        Command::Bench { what: Some(BenchWhat::Backfill(options)), .. } => {
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
