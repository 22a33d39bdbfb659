//! The `zoho-host` command line: its global flags and subcommands, as clap reads them.

use crate::cli_help;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "zoho-host", version, about = "Runs the Zoho connector WebAssembly component", after_help = cli_help::EXIT_STATUS)]
pub(crate) struct Cli {
    /// The component (.wasm). Default: the one ./build.sh built.
    #[arg(long, global = true, env = "ZOHO_COMPONENT")]
    pub(crate) component: Option<PathBuf>,
    /// Key-value database and compiled-code cache. Default: $XDG_DATA_HOME/zoho-host.
    #[arg(long, global = true, env = "ZOHO_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Key-value backend shared by workers: redis://host:port/db, a SQLite file, or `none`
    /// (steps get no store: stateless actions only).
    /// Default: kv.sqlite3 in the data directory.
    #[arg(long, global = true, env = "ZOHO_KV")]
    pub(crate) kv: Option<String>,
    /// Bytes of a step's debug log kept; past it the log is cut with a marker line.
    #[arg(long, global = true, env = "ZOHO_LOG_LIMIT", default_value_t = zoho_host::runtime::LOG_LIMIT)]
    pub(crate) log_limit: usize,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
pub(crate) enum BenchWhat {
    /// A first sync of a large module at Zoho's latency and concurrency cap: slices=1, slices=N,
    /// a peer-style GET baseline, and the same backfill with 10% of records modified meanwhile.
    Backfill(zoho_host::backfill::Options),
}
