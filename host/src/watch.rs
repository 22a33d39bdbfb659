//! `zoho-host watch`: Zoho's instant notifications, kept alive, with the incremental sweep as a
//! safety net. Enables a channel through the component, serves the notify URL (answering Zoho
//! before any work), turns each delivery into one JSON line per record event, renews the channel
//! by Zoho's clock, sweeps every watched module on a timer to catch what deliveries missed, and
//! writes each version once (a durable, bounded memory of what was written). Every change is
//! written at least once: within seconds when its delivery arrives, within a sweep interval when
//! it does not. Zoho Books resources (`--books`) are swept only, beside the CRM modules or
//! alone (no channel, listener or public URL then): see `books`.

pub mod books;
pub mod channel;
pub mod flags;
pub mod seen;
pub mod server;
pub mod sweeps;

use crate::runtime::{ActionRef, Runtime};
pub use crate::zoho_error::error_line;
use anyhow::{Context as _, Result};
use bytes::Bytes;
use channel::{ChannelState, Kept};
use flags::Watched;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;

/// A watch as its flags asked for it, validated.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    /// The CRM modules notified (none: a watch of Books resources only).
    pub modules: BTreeMap<String, Watched>,
    /// The Books resources swept, each as its sync stream names it.
    pub books: Vec<books::BooksResource>,
    /// Empty when only Books resources are watched (no channel).
    pub public_url: String,
    /// The public URL's path: where deliveries are taken.
    pub path: String,
    pub sweep_every: Duration,
    pub check_every: Duration,
    pub fetch_records: bool,
    /// The channel's lifetime asked of Zoho at each enable and renewal (1 to 10080, a week).
    pub expiry_minutes: u32,
}

/// `zoho-host watch`'s flags as given.
#[derive(Debug, Clone, Copy)]
pub struct WatchFlags<'a> {
    pub events: &'a [String],
    pub books: &'a [String],
    /// Whether --listen was given (the address itself is the CLI's to bind).
    pub listen: bool,
    pub public_url: Option<&'a str>,
    pub sweep_every: &'a str,
    pub check_every: &'a str,
    pub fetch_records: bool,
    pub expiry_minutes: u32,
}

impl WatchRequest {
    /// A watch of CRM events: checks every flag before anything is sent.
    pub fn new(events: &[String], public_url: &str, sweep_every: &str, check_every: &str, fetch_records: bool, expiry_minutes: u32) -> Result<Self> {
        Self::from_flags(&WatchFlags { events, books: &[], listen: true, public_url: Some(public_url), sweep_every, check_every, fetch_records, expiry_minutes })
    }

    /// A watch of CRM events, Books resources or both: checks every flag before anything is
    /// sent. CRM events need the notify URL (--public-url, served on --listen); a watch of
    /// Books resources alone needs neither and refuses them, as nothing would be served.
    pub fn from_flags(flags: &WatchFlags<'_>) -> Result<Self> {
        let books = books::resources(flags.books)?;
        let crm = flags.events.iter().any(|e| !e.trim().is_empty());
        if !crm && books.is_empty() {
            anyhow::bail!("name what to watch: --events for Zoho CRM (e.g. Leads.all,Contacts.create), --books for Zoho Books (e.g. invoices,contacts), or both");
        }
        let sweep_every = flags::duration("--sweep-every", flags.sweep_every, Duration::from_secs(1), Duration::from_secs(24 * 3600))?;
        let check_every = flags::duration("--check-every", flags.check_every, Duration::from_millis(100), Duration::from_secs(3600))?;
        let expiry_minutes = flags.expiry_minutes;
        if !(1..=zoho_connector::notifications::channel::MAX_EXPIRY_MINUTES).contains(&expiry_minutes) {
            anyhow::bail!("--expiry-minutes {expiry_minutes} is out of range: 1 to 10080 (one week, Zoho's most since API v4)");
        }
        let fetch_records = flags.fetch_records;
        if !crm {
            if flags.listen || flags.public_url.is_some() {
                anyhow::bail!("--listen and --public-url serve Zoho CRM's notifications: give --events with them, or leave both out to watch only --books (Zoho Books is swept, never notified)");
            }
            return Ok(WatchRequest { modules: BTreeMap::new(), books, public_url: String::new(), path: String::new(), sweep_every, check_every, fetch_records, expiry_minutes });
        }
        let (Some(public_url), true) = (flags.public_url, flags.listen) else {
            anyhow::bail!("--events needs --public-url (where Zoho CRM posts its notifications) and --listen (the address that URL reaches); only a watch of --books alone needs neither");
        };
        let modules = flags::events(flags.events)?;
        let path = flags::public_url(public_url)?;
        Ok(WatchRequest { modules, books, public_url: public_url.to_string(), path, sweep_every, check_every, fetch_records, expiry_minutes })
    }

    fn events(&self) -> Vec<String> {
        flags::zoho_events(&self.modules)
    }
}

/// What a watch did, once stopped.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WatchSummary {
    pub channel_id: String,
    pub written: u64,
    pub duplicates_skipped: u64,
    pub deliveries_accepted: u64,
    pub deliveries_refused: u64,
    pub deliveries_left_to_the_sweep: u64,
    pub sweeps: u64,
    pub renewals: u64,
    pub reenabled: u64,
}

/// Runs component actions for the watch, as `zoho-host run` would.
pub struct Steps<'a> {
    pub runtime: &'a Runtime,
    pub connection: &'a Value,
    /// The tenant's namespace: the channel's state and its actions.
    pub namespace: String,
}

impl Steps<'_> {
    pub async fn call(&self, key: &str, input: &Value) -> Result<std::result::Result<Value, Value>> {
        self.call_in(&self.namespace, key, input).await
    }

    pub async fn call_in(&self, namespace: &str, key: &str, input: &Value) -> Result<std::result::Result<Value, Value>> {
        let action = ActionRef::from_key(key)?;
        let outcome = self.runtime.run(&action, self.connection, input, None, Some(namespace)).await.with_context(|| format!("{key} did not run"))?;
        // The step's debug log goes where the watch's own lines go.
        eprint!("{}", outcome.stderr);
        Ok(outcome.result)
    }
}

/// A record id as Zoho writes it (digits, as a string or a number).
pub fn id_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    zoho_connector::validate::record_id(&text).ok().map(str::to_string)
}

/// Where an event line came from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Notification,
    Sweep,
}

/// Writes event lines, each version once.
pub struct Emitter {
    out: Box<dyn Write + Send>,
    seen: seen::Seen,
    /// Books versions written: one memory per tenant, as the Books streams' place is.
    books_seen: seen::Seen,
    channel_id: String,
    written: u64,
    duplicates: u64,
}

impl Emitter {
    /// Writes one event unless this version of the record was written before. A record's
    /// version is its content's digest; a delete is written once per id.
    pub fn record(&mut self, module: &str, operation: &str, id: &str, record: Option<&Value>, source: Source) -> Result<()> {
        let source = match source {
            Source::Notification => "notification",
            Source::Sweep => "sweep",
        };
        let line = json!({ "app": "crm", "module": module, "operation": operation, "id": id, "record": record, "source": source, "channel_id": self.channel_id });
        let digest = match record {
            Some(record) => seen::digest(record),
            None if operation == "delete" => seen::DELETED.to_string(),
            // Without the record (--fetch-records false) each delivery is its own event.
            None => return self.write(&line),
        };
        self.once(false, module, id, &digest, &line)
    }

    /// Writes a Books record's line unless this version was written before. Its memory is
    /// keyed by the organization the record belongs to (not the stream's name, which may leave
    /// it to the connection).
    pub fn books_record(&mut self, resource: &books::BooksResource, organization_id: &str, operation: &str, id: &str, record: &Value) -> Result<()> {
        let line = books::line(resource, organization_id, operation, id, record);
        self.once(true, &format!("books_{organization_id}_{}", resource.resource), id, &seen::digest(record), &line)
    }

    fn once(&mut self, books: bool, module: &str, id: &str, digest: &str, line: &Value) -> Result<()> {
        let seen = if books { &self.books_seen } else { &self.seen };
        if seen.contains(module, id, digest) {
            self.duplicates = self.duplicates.saturating_add(1);
            return Ok(());
        }
        self.write(line)?;
        // Remembered only once written and flushed: a crash in between writes it again, never loses it.
        let now = u64::try_from(channel::unix_now()).unwrap_or(0);
        let seen = if books { &self.books_seen } else { &self.seen };
        seen.remember(module, id, digest, now);
        Ok(())
    }

    fn write(&mut self, line: &Value) -> Result<()> {
        serde_json::to_writer(&mut self.out, line)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        self.written = self.written.saturating_add(1);
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        Ok(self.out.flush()?)
    }

    /// Forgets what is past the memories' retention or cap.
    fn prune(&self) {
        let now = u64::try_from(channel::unix_now()).unwrap_or(0);
        self.seen.prune(now);
        self.books_seen.prune(now);
    }
}

/// A short, stable id of a watch: its notify URL. Two watches of one tenant (two URLs) keep
/// their own channel, memory and sweep cursors.
pub fn watch_id(public_url: &str) -> String {
    Sha256::digest(public_url.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Turns one verified delivery into event lines: `notifications-parse` (reading the records
/// when asked), then one line per record, or per id for deletes.
async fn on_delivery(steps: &Steps<'_>, request: &WatchRequest, state: &ChannelState, body: Bytes, emit: &mut Emitter) -> Result<()> {
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        eprintln!("zoho-host watch: a delivery was not UTF-8; the sweep reads its changes");
        return Ok(());
    };
    let input = json!({ "body": body, "expected-token": state.token, "expected-channel-id": state.channel_id, "fetch-records": request.fetch_records });
    let parsed = match steps.call("notifications-parse", &input).await? {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("zoho-host watch: a delivery could not be read ({}); the sweep reads its changes", error_line(&error));
            return Ok(());
        }
    };
    let (Some(module), Some(operation)) = (parsed["module"].as_str(), parsed["operation"].as_str()) else {
        eprintln!("zoho-host watch: a delivery named no module or operation");
        return Ok(());
    };
    if !request.modules.get(module).is_some_and(|w| w.wants(operation)) {
        eprintln!("zoho-host watch: a delivery of {module} {operation} is not watched; skipped");
        return Ok(());
    }
    let ids: Vec<String> = parsed["ids"].as_array().map(Vec::as_slice).unwrap_or_default().iter().filter_map(id_text).collect();
    if operation == "delete" || !request.fetch_records {
        for id in &ids {
            emit.record(module, operation, id, None, Source::Notification)?;
        }
        return Ok(());
    }
    let records = parsed["records"].as_array().map(Vec::as_slice).unwrap_or_default();
    for record in records {
        if let Some(id) = id_text(&record["id"]) {
            emit.record(module, operation, &id, Some(record), Source::Notification)?;
        }
    }
    let missing = ids.iter().filter(|id| !records.iter().any(|r| id_text(&r["id"]).as_deref() == Some(id.as_str()))).count();
    if missing > 0 {
        eprintln!("zoho-host watch: {missing} record(s) of a {module} {operation} delivery were not found (deleted since?)");
    }
    Ok(())
}

/// The channel the watch runs under: the stored one resumed (listed, renewed or enabled again),
/// or a new one. A new channel is stored with its id and token before Zoho is asked to enable
/// it, so a watch stopped or killed meanwhile is restarted on the same channel, never a second.
/// Once `stopping` is set, nothing more is enabled.
async fn start(
    steps: &Steps<'_>,
    request: &WatchRequest,
    state_key: &str,
    stored: Option<ChannelState>,
    resumable: Option<ChannelState>,
    stopping: &AtomicBool,
    summary: &mut WatchSummary,
) -> Result<ChannelState> {
    if let Some(mut state) = resumable {
        match channel::keep_alive(steps, &mut state, request.expiry_minutes).await? {
            Kept::Alive => eprintln!("zoho-host watch: resumed channel {}", state.channel_id),
            Kept::Renewed => summary.renewals += 1,
            Kept::Reenabled => summary.reenabled += 1,
        }
        return Ok(state);
    }
    if let Some(old) = &stored {
        // The events changed: the old channel stops, a new one watches the new events.
        if !old.disabled {
            let mut old = old.clone();
            if let Err(e) = channel::disable(steps, &mut old).await {
                eprintln!("zoho-host watch: {e:#}");
            }
        }
    }
    let mut state = ChannelState::successor(stored.as_ref(), request.events(), &request.public_url, &request.modules);
    channel::save(steps, state_key, &state)?;
    if stopping.load(Ordering::SeqCst) {
        return Ok(state);
    }
    channel::enable(steps, &mut state, true, request.expiry_minutes).await?;
    eprintln!("zoho-host watch: enabled channel {} for {}", state.channel_id, state.events.join(","));
    Ok(state)
}

/// Runs the watch until `shutdown` completes, then disables the channel. `listener` serves the
/// public URL's path; `out` gets one JSON line per event.
pub async fn run(
    runtime: &Runtime,
    connection: &Value,
    namespace: Option<&str>,
    request: &WatchRequest,
    listener: TcpListener,
    out: Box<dyn Write + Send>,
    shutdown: impl Future<Output = ()>,
) -> Result<WatchSummary> {
    if request.modules.is_empty() {
        anyhow::bail!("a watch of Zoho Books resources alone has no channel to serve: run it with run_books");
    }
    let namespace = runtime.namespace_for(connection, namespace).await?;
    let id = watch_id(&request.public_url);
    let state_key = format!("channel/{id}");
    // See sweeps.rs: the watch's cursors must not be the tenant's own flows' cursors.
    let sweep_namespace = format!("{namespace}#watch-{id}");
    let steps = Steps { runtime, connection, namespace: namespace.clone() };
    let retention = request.sweep_every.as_secs().saturating_mul(4).max(24 * 3600);
    let seen = seen::Seen::new(runtime.kv().clone(), &namespace, &format!("zoho-host/watch-seen/{id}"), retention, seen::CAP);
    let books_seen = seen::Seen::new(runtime.kv().clone(), &namespace, books::SEEN_BUCKET, retention, seen::CAP);
    // Where each Books resource's first sweep starts, kept before anything is sent.
    let books_starts = books::starts(&steps, &request.books)?;

    // A resumed channel's deliveries are taken from the start; a new one's once it is enabled.
    let stored = channel::load(&steps, &state_key);
    let resumable = stored.clone().filter(|s| s.events == request.events() && s.notify_url == request.public_url);
    let gate = Arc::new(RwLock::new(resumable.as_ref().map(|s| server::Gate::new(&s.channel_id, &s.token))));
    let (queue, mut deliveries) = tokio::sync::mpsc::channel::<Bytes>(server::QUEUE);
    let counts = Arc::new(server::Counts::default());
    let server = server::serve(listener, &request.path, gate.clone(), queue, counts.clone());

    let mut summary = WatchSummary::default();
    // A stop asked for during the start lets the start finish (a channel enable in flight may
    // land at Zoho), then disables what it enabled: no channel is left live and unrecorded.
    let stopping = AtomicBool::new(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let started = {
        let mut starting = std::pin::pin!(start(&steps, request, &state_key, stored, resumable, &stopping, &mut summary));
        loop {
            tokio::select! {
                started = &mut starting => break started,
                _ = &mut shutdown, if !stopping.load(Ordering::SeqCst) => {
                    stopping.store(true, Ordering::SeqCst);
                    eprintln!("zoho-host watch: stopping once the start is done");
                }
            }
        }
    };
    let mut state = started?;
    channel::save(&steps, &state_key, &state)?;
    if let Ok(mut g) = gate.write() {
        *g = Some(server::Gate::new(&state.channel_id, &state.token));
    }
    summary.channel_id = state.channel_id.clone();
    let mut emit = Emitter { out, seen, books_seen, channel_id: state.channel_id.clone(), written: 0, duplicates: 0 };

    // Checked at least twice per margin, so one failed check cannot let the channel lapse.
    let half_margin = Duration::from_secs(u64::try_from(channel::margin_s(request.expiry_minutes) / 2).unwrap_or(u64::MAX));
    let check_every = request.check_every.min(half_margin);
    let mut sweep_tick = tokio::time::interval(request.sweep_every);
    let mut check_tick = tokio::time::interval_at(tokio::time::Instant::now() + check_every, check_every);
    sweep_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    check_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stopping.load(Ordering::SeqCst) {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(body) = deliveries.recv() => {
                // A failed delivery is not fatal: its changes are in the next sweep.
                if let Err(e) = on_delivery(&steps, request, &state, body, &mut emit).await {
                    eprintln!("zoho-host watch: {e:#}; the sweep reads that delivery's changes");
                }
            }
            _ = check_tick.tick() => check(&steps, request, &state_key, &mut state, check_every, &mut summary).await,
            _ = sweep_tick.tick() => {
                sweep_all(&steps, request, &state_key, &sweep_namespace, &mut state, &mut emit, &mut summary).await;
                books::sweep_all(&steps, &request.books, &books_starts, &mut emit).await;
            }
        }
    }

    // Zoho stops first; then what was already taken is written. A channel stored but never
    // enabled (stopped before the enable was sent) has nothing to stop.
    let disabled = if state.disabled { Ok(()) } else { channel::disable(&steps, &mut state).await };
    channel::save(&steps, &state_key, &state)?;
    drop(server);
    while let Ok(body) = deliveries.try_recv() {
        if let Err(e) = on_delivery(&steps, request, &state, body, &mut emit).await {
            eprintln!("zoho-host watch: {e:#}; the next run's sweep reads that delivery's changes");
        }
    }
    emit.flush()?;
    disabled?;
    summary.written = emit.written;
    summary.duplicates_skipped = emit.duplicates;
    summary.deliveries_accepted = counts.accepted.load(Ordering::Relaxed);
    summary.deliveries_refused = counts.refused.load(Ordering::Relaxed);
    summary.deliveries_left_to_the_sweep = counts.queue_full.load(Ordering::Relaxed);
    Ok(summary)
}

pub use books::run as run_books;

/// `--listen` as an address, checked before anything is read or bound.
pub fn listen_address(listen: Option<&str>) -> Result<Option<std::net::SocketAddr>> {
    let shown = |l: &str| crate::zoho_error::shown(&format!("{l:?}"));
    listen.map(|l| l.parse().with_context(|| format!("--listen {} is not an address: write e.g. 127.0.0.1:8788", shown(l)))).transpose()
}

/// The watch `request` asks for: with CRM events, the channel served on `listen`; of Books
/// resources alone, their sweeps (nothing bound).
pub async fn run_any(
    runtime: &Runtime,
    connection: &Value,
    namespace: Option<&str>,
    request: &WatchRequest,
    listen: Option<std::net::SocketAddr>,
    out: Box<dyn Write + Send>,
    shutdown: impl Future<Output = ()>,
) -> Result<WatchSummary> {
    if request.modules.is_empty() {
        return run_books(runtime, connection, namespace, request, out, shutdown).await;
    }
    let Some(listen) = listen else { anyhow::bail!("--events needs --listen: the address --public-url reaches") };
    let listener = TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    run(runtime, connection, namespace, request, listener, out, shutdown).await
}

/// The periodic check: the channel kept alive (renewed, or enabled again when Zoho lost it)
/// and its state saved. A failed check is logged and tried again at the next tick.
async fn check(steps: &Steps<'_>, request: &WatchRequest, state_key: &str, state: &mut ChannelState, check_every: Duration, summary: &mut WatchSummary) {
    match channel::keep_alive(steps, state, request.expiry_minutes).await {
        Ok(Kept::Alive) => {}
        Ok(Kept::Renewed) => {
            summary.renewals += 1;
            eprintln!("zoho-host watch: renewed channel {} until {}", state.channel_id, state.channel_expiry.as_deref().unwrap_or("?"));
        }
        Ok(Kept::Reenabled) => {
            summary.reenabled += 1;
            eprintln!("zoho-host watch: channel {} was gone; enabled it again", state.channel_id);
        }
        Err(e) => eprintln!("zoho-host watch: {e:#}; checking again in {} ms", check_every.as_millis()),
    }
    if let Err(e) = channel::save(steps, state_key, state) {
        eprintln!("zoho-host watch: {e:#}");
    }
}

/// The safety-net sweep of every watched module (a module not yet swept starts where its
/// channel began), then the state saved and the memory of written versions pruned.
async fn sweep_all(steps: &Steps<'_>, request: &WatchRequest, state_key: &str, sweep_namespace: &str, state: &mut ChannelState, emit: &mut Emitter, summary: &mut WatchSummary) {
    for (module, watched) in &request.modules {
        let since = if state.swept.contains(module) { None } else { state.start_of(module) };
        match sweeps::sweep(steps, sweep_namespace, module, *watched, since.as_deref(), emit).await {
            Ok(_) => {
                state.swept.insert(module.clone());
            }
            Err(e) => eprintln!("zoho-host watch: {e:#}"),
        }
    }
    summary.sweeps += 1;
    state.last_sweep = Some(zoho_connector::zoho_time::format_iso(channel::unix_now()));
    if let Err(e) = channel::save(steps, state_key, state) {
        eprintln!("zoho-host watch: {e:#}");
    }
    emit.prune();
}
