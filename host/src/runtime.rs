//! Loading the component once and running steps: one fresh, limited instance per step.

use crate::bytes_calls::BytesCall;
use crate::convert::{from_val, to_val};
use crate::kv::{self, KvBackend, KvView};
use crate::net::{AllowedHosts, NetLimits};
use crate::step_log::StepLog;
pub use crate::timing::{StepClock, StepTimings};
use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable, Val};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The WIT package every action lives in.
pub const PACKAGE: &str = "zoho:connector";
pub const VERSION: &str = "0.1.0";
/// How often the epoch advances; the step deadline is counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Linear memory and table bytes a pooled slot keeps mapped between steps.
const RESIDENT_MEMORY: usize = 2 << 20;
const RESIDENT_TABLE: usize = 64 << 10;
/// Bytes of a step's stderr (its debug log) kept; the rest is dropped with a marker line.
pub const LOG_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct HostConfig {
    pub component: PathBuf,
    /// Key-value database and compiled-component cache.
    pub data_dir: PathBuf,
    /// Linear memory a step may grow to.
    pub memory_limit: usize,
    /// Wall-clock bound on a whole step.
    pub step_deadline: Duration,
    /// Pooling allocator: instances kept ready, 0 for on-demand allocation.
    pub pooled_instances: u32,
    pub net: NetLimits,
    /// Let connection host names resolve to private addresses (off: SSRF protection).
    pub allow_private_networks: bool,
    /// Largest step input (connection + input + options as JSON) accepted.
    pub max_input_bytes: usize,
    /// Key-value backend: `redis://...`, `none` (steps get no store) or a SQLite file; default
    /// `<data_dir>/kv.sqlite3`.
    pub kv: Option<String>,
    /// Bytes of a step's debug log kept (marker line included); writes past it are dropped.
    pub log_limit: usize,
    /// PEM certificates trusted for https besides the web's roots (a private CA; the bench's
    /// and tests' sandbox served with its self-signed certificate). Never a way around
    /// certificate verification.
    pub extra_trust_roots: Vec<Vec<u8>>,
}

impl HostConfig {
    pub fn new(component: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        HostConfig {
            component: component.into(),
            data_dir: data_dir.into(),
            memory_limit: 256 << 20,
            step_deadline: Duration::from_secs(300),
            pooled_instances: 64,
            net: NetLimits::default(),
            allow_private_networks: false,
            // Zoho's 100 MB attachment as text or bytes plus 4 MiB for the rest. One 256 MiB
            // instance holds it with its work: a file is moved, never copied; base64 text at the
            // cap decodes to 78 MiB (182 MiB together); other inputs are capped in the component
            // (values 16 MiB) before they are parsed.
            max_input_bytes: 104 << 20,
            kv: None,
            log_limit: LOG_LIMIT,
            extra_trust_roots: Vec::new(),
        }
    }
}

/// Everything one step's instance can reach.
pub struct StepState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hosts: AllowedHosts,
    table: ResourceTable,
    kv: Arc<dyn KvBackend>,
    namespace: Arc<str>,
    limits: PeakLimits,
    clock: Arc<StepClock>,
}

/// The store's limits, noting the largest linear memory the step grew to.
struct PeakLimits {
    limits: StoreLimits,
    peak_memory: usize,
}

impl wasmtime::ResourceLimiter for PeakLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak_memory = self.peak_memory.max(desired);
        }
        Ok(allowed)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for StepState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { hooks: &mut self.hosts, table: &mut self.table, ctx: &mut self.http }
    }
}

fn kv_view(state: &mut StepState) -> KvView<'_> {
    KvView { store: &state.kv, namespace: &state.namespace, table: &mut state.table, clock: Some(&*state.clock) }
}

/// One action as the component exports it: interface and function name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRef {
    pub interface: String,
    pub function: String,
}

impl ActionRef {
    /// `crm-create-record` → interface `crm`, function `create-record`.
    pub fn from_key(key: &str) -> Result<Self> {
        let (interface, function) = key.split_once('-').ok_or_else(|| anyhow!("action key {key:?} has no interface prefix"))?;
        Ok(ActionRef { interface: interface.into(), function: function.into() })
    }

    pub fn export_name(&self) -> String {
        format!("{PACKAGE}/{}@{VERSION}", self.interface)
    }
}

/// What a step gave back: the Ok value or the zoho-error, both as JSON, and its stderr.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub result: std::result::Result<Value, Value>,
    pub stderr: String,
    /// The largest linear memory the step's instance grew to.
    pub peak_memory_bytes: usize,
    /// Where the step's time went.
    pub timings: StepTimings,
}

/// What a step gave back with its Ok result as text (see [`Runtime::run_text`]).
#[derive(Debug, Clone)]
pub struct TextOutcome {
    pub result: std::result::Result<String, Value>,
    pub stderr: String,
    pub peak_memory_bytes: usize,
}

pub struct Runtime {
    engine: Engine,
    component: Component,
    pre: InstancePre<StepState>,
    /// The exports whose results carry bytes, called through typed bindings.
    typed: crate::bytes_calls::Typed,
    kv: Arc<dyn KvBackend>,
    /// Outgoing connections, kept across steps.
    pool: Arc<crate::pool::HttpPool>,
    config: HostConfig,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

pub fn engine(config: &HostConfig) -> Result<Engine> {
    let mut wasm = Config::new();
    wasm.wasm_component_model(true);
    // `ZOHO_PERF_MAP=1` lets `perf record` name the component's compiled functions (profiling
    // a bench run; build the component unstripped for Rust names).
    if std::env::var_os("ZOHO_PERF_MAP").is_some() {
        wasm.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    wasm.epoch_interruption(true);
    if config.pooled_instances > 0 {
        let mut pool = PoolingAllocationConfig::default();
        let n = config.pooled_instances;
        pool.total_component_instances(n)
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 8)
            .max_memory_size(config.memory_limit)
            // A step touches about 1.1 MiB: a reused slot keeps those pages mapped and has them
            // reset in place (only the touched ones, where the kernel can tell), instead of
            // faulting in fresh zero pages on every step.
            .linear_memory_keep_resident(RESIDENT_MEMORY)
            .table_keep_resident(RESIDENT_TABLE)
            .pagemap_scan(wasmtime::Enabled::Auto);
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(Engine::new(&wasm)?)
}

/// Compiles the component, or loads the machine code compiled for the same bytes and engine.
pub fn load_component(engine: &Engine, path: &Path, cache_dir: &Path) -> Result<Component> {
    let bytes = std::fs::read(path).with_context(|| format!("reading the component {} (build it with ./build.sh or pass --component)", path.display()))?;
    let mut hasher = Sha256::new();
    hasher.update(&bytes);
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut engine_hash);
    let key = format!("{:x}-{:016x}.cwasm", hasher.finalize(), std::hash::Hasher::finish(&engine_hash));
    let cached = cache_dir.join(key);
    if cached.exists() {
        // SAFETY: the file was written by `precompile_component` of an engine with the same
        // compatibility hash, into the host's own data directory.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &cached) } {
            return Ok(component);
        }
    }
    let compiled = engine.precompile_component(&bytes)?;
    // Machine code loaded from here runs unchecked: only the host's user may write it.
    crate::kv::private_dir(cache_dir).ok();
    let partial = cached.with_extension("partial");
    if std::fs::write(&partial, &compiled).is_ok() {
        std::fs::rename(&partial, &cached).ok();
    }
    // SAFETY: the bytes were produced by this engine just above.
    Ok(unsafe { Component::deserialize(engine, &compiled) }?)
}

impl Runtime {
    pub fn new(config: HostConfig) -> Result<Self> {
        let engine = engine(&config)?;
        let component = load_component(&engine, &config.component, &config.data_dir.join("compiled"))?;
        let mut linker: Linker<StepState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        kv::add_to_linker(&mut linker, kv_view)?;
        let pre = linker.instantiate_pre(&component)?;
        let kv = match &config.kv {
            Some(spec) => kv::open_backend(spec)?,
            None => kv::KvStore::open(&config.data_dir.join("kv.sqlite3"))? as Arc<dyn KvBackend>,
        };
        // Credit counts are written in batches: no request waits for a durable write.
        let kv: Arc<dyn KvBackend> = if kv.provides_store() { kv::Batched::wrap(kv) } else { kv };

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (ticking_engine, stop) = (engine.clone(), ticker_stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                ticking_engine.increment_epoch();
            }
        });
        let typed = crate::bytes_calls::Typed::new(&pre)?;
        let pool = crate::pool::HttpPool::new(&crate::pool::PoolConfig {
            connect_timeout: config.net.connect,
            allow_private_networks: config.allow_private_networks,
            extra_trust_roots: config.extra_trust_roots.clone(),
        })?;
        Ok(Runtime { engine, component, pre, typed, kv, pool: Arc::new(pool), config, ticker_stop })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn component(&self) -> &Component {
        &self.component
    }

    pub fn instance_pre(&self) -> &InstancePre<StepState> {
        &self.pre
    }

    pub fn kv(&self) -> &Arc<dyn KvBackend> {
        &self.kv
    }

    /// Outgoing connections this host opened so far (each carries many steps' requests).
    pub fn connections_opened(&self) -> u64 {
        self.pool.connections_opened()
    }

    /// A fresh store for one step: no files, no environment, no sockets; HTTP only to
    /// `origins`; key-value only in `namespace`.
    pub fn new_store(&self, origins: &[String], namespace: &str) -> (Store<StepState>, StepLog) {
        let stderr = StepLog::new(self.config.log_limit);
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let clock = Arc::new(StepClock::default());
        let mut hosts = AllowedHosts::new(origins, self.config.net).allowing_private_networks(self.config.allow_private_networks).with_pool(self.pool.clone());
        hosts.clock = Some(clock.clone());
        let state = StepState {
            wasi,
            http: WasiHttpCtx::new(),
            hosts,
            table: ResourceTable::new(),
            kv: self.kv.clone(),
            namespace: Arc::from(namespace),
            limits: PeakLimits { limits: StoreLimitsBuilder::new().memory_size(self.config.memory_limit).table_elements(100_000).instances(64).build(), peak_memory: 0 },
            clock,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let ticks = (self.config.step_deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        (store, stderr)
    }

    /// Runs one action: `connection`, `input` and `options` are JSON shaped like the WIT records.
    pub async fn run(&self, action: &ActionRef, connection: &Value, input: &Value, options: Option<&Value>, namespace: Option<&str>) -> Result<StepOutcome> {
        let (origins, namespace) = self.admit(connection, input, options, namespace).await?;
        self.run_in(action, connection, input, options, &origins, &namespace).await
    }

    /// `run`, with a string Ok result handed back as the component wrote it, unparsed: a
    /// sweep's page goes to the output record by record without a JSON tree in between.
    pub async fn run_text(&self, action: &ActionRef, connection: &Value, input: &Value, options: Option<&Value>, namespace: Option<&str>) -> Result<TextOutcome> {
        let (origins, namespace) = self.admit(connection, input, options, namespace).await?;
        let (answer, stderr, peak_memory_bytes, _timings) = self.call_in(action, connection, input, options, &origins, &namespace).await?;
        let result = match answer {
            Answer::Vals(results) => match results.into_iter().next() {
                Some(Val::Result(Ok(Some(v)))) if matches!(v.as_ref(), Val::String(_)) => match *v {
                    Val::String(text) => Ok(text),
                    _ => Err(Value::Null),
                },
                other => outcome_of(other.as_ref()).map(|v| v.to_string()),
            },
            Answer::Json(result) => result.map(|v| v.to_string()),
        };
        Ok(TextOutcome { result, stderr, peak_memory_bytes })
    }

    /// Checks a step's input size, and finds the connection's origins and the namespace.
    async fn admit(&self, connection: &Value, input: &Value, options: Option<&Value>, namespace: Option<&str>) -> Result<(Vec<String>, String)> {
        let size = json_size(connection) + json_size(input) + options.map_or(0, json_size);
        if size > self.config.max_input_bytes {
            bail!("the step's input is {} MB; this host accepts at most {} MB", size >> 20, self.config.max_input_bytes >> 20);
        }
        let origins = origins_of(connection)?;
        let namespace = match namespace {
            Some(given) => given.to_string(),
            None => self.default_namespace(connection, &origins).await,
        };
        Ok((origins, namespace))
    }

    /// The namespace `run` uses for `connection` given `namespace` (None: the default one), for
    /// host-side state that must live beside the component's (e.g. `zoho-host watch`'s channel).
    /// Stricter than `run`: a managed token's organization that cannot be learned now (a
    /// transport, throttling or server failure) is asked again with backoff, and if it still
    /// cannot be, this fails. A long-lived state keyed by the namespace (a channel, its cursors)
    /// must not move to the token's own namespace on one failed lookup: there it would find no
    /// channel, enable a second one and sweep from now, losing the changes made meanwhile. No
    /// last-known namespace is kept instead: the token rotates and the org is the only link
    /// between a new token and its tenant, so there is nothing else to key it by.
    pub async fn namespace_for(&self, connection: &Value, namespace: Option<&str>) -> Result<String> {
        if let Some(given) = namespace {
            return Ok(given.to_string());
        }
        let origins = origins_of(connection)?;
        let Some(token) = managed_token(connection).filter(|_| self.kv.provides_store()) else {
            return Ok(self.default_namespace(connection, &origins).await);
        };
        let mut wait = ORG_LOOKUP_FIRST_WAIT;
        for attempt in 1..=ORG_LOOKUP_TRIES {
            match self.org_of(connection, &origins, &token).await {
                OrgLookup::Org(org) => return Ok(org_namespace(connection, &org)),
                OrgLookup::NoOrg => return Ok(namespace_of(connection)),
                OrgLookup::Unknown(why) if attempt == ORG_LOOKUP_TRIES => bail!(
                    "the organization of the access token could not be read ({why}; {ORG_LOOKUP_TRIES} tries): the watch's channel and sweep cursors are kept per organization, and starting under another identity would enable a second channel and miss the changes made while it was down; start it again when Zoho answers GET /org, or pass --namespace to name the tenant"
                ),
                OrgLookup::Unknown(why) => {
                    eprintln!("zoho-host: the organization of the access token could not be read ({why}); asking again in {} ms", wait.as_millis());
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
            }
        }
        bail!("the organization of the access token could not be read")
    }

    /// The namespace of a connection run without one. A platform-managed access token is
    /// rotated by the platform, so its digest would reset every cursor: its namespace is its
    /// organization's, learned once per token (see `org_of`). Grants keep `namespace_of`.
    async fn default_namespace(&self, connection: &Value, origins: &[String]) -> String {
        // Without a store there is nothing to keep apart, nor a cache for the org probe.
        if !self.kv.provides_store() {
            return namespace_of(connection);
        }
        let Some(token) = managed_token(connection) else { return namespace_of(connection) };
        match self.org_of(connection, origins, &token).await {
            OrgLookup::Org(org) => org_namespace(connection, &org),
            // One step, unlike a watch, keeps no state across runs that a fallback could orphan.
            OrgLookup::NoOrg | OrgLookup::Unknown(_) => namespace_of(connection),
        }
    }

    /// The org id a managed token belongs to: from the host's cache (token digest → org id),
    /// else asked once with the component's own `GET /org` (secrets stay in the component, the
    /// allowlist applies) in a throwaway namespace. A token that cannot read /org is cached as
    /// such, so it costs one request too, and keeps its token namespace.
    async fn org_of(&self, connection: &Value, origins: &[String], token: &str) -> OrgLookup {
        let now = unix_now();
        let (kv, key) = (self.kv.clone(), token.to_string());
        let cached = tokio::task::spawn_blocking(move || kv.get(MANAGED_TOKENS, "", &key)).await;
        if let Ok(Ok(Some(bytes))) = cached {
            if let Ok(known) = serde_json::from_slice::<KnownToken>(&bytes) {
                if now.saturating_sub(known.at) < MANAGED_TOKEN_RETENTION.as_secs() {
                    return known.org.map_or(OrgLookup::NoOrg, OrgLookup::Org);
                }
            }
        }
        let probe = format!("{MANAGED_TOKENS}/probe/{token}");
        let action = ActionRef { interface: "crm".into(), function: "raw-request".into() };
        let outcome = self.run_in(&action, connection, &serde_json::json!({ "url": "/org" }), None, origins, &probe).await;
        // The probe's own state (cached field lists, credit counts) is not kept.
        let kv = self.kv.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for key in kv.keys(&probe, "").unwrap_or_default() {
                let _ = kv.delete(&probe, "", &key);
            }
        })
        .await;
        // Raw answers come back whatever their status; errors are the component's typed ones.
        let org = match outcome.map(|o| o.result) {
            Ok(Ok(answer)) if answer["status"] == 200 => org_id_of(&answer),
            // Zoho's verdict on this token (e.g. no org scope): remembered, asked no more.
            Ok(Ok(answer)) if matches!(answer["status"].as_u64(), Some(401 | 403 | 404)) => None,
            Ok(Err(error)) if matches!(error["kind"].as_str(), Some("unauthorized" | "forbidden" | "not-found")) => None,
            // A transport, throttling or server failure says nothing about the token: ask again.
            Ok(Ok(answer)) => return OrgLookup::Unknown(format!("GET /org answered {}", answer["status"])),
            Ok(Err(error)) => return OrgLookup::Unknown(format!("GET /org failed: {}", crate::watch::error_line(&error))),
            Err(e) => return OrgLookup::Unknown(format!("GET /org did not run: {e}")),
        };
        let known = serde_json::json!({ "org": org, "at": now });
        let (kv, key) = (self.kv.clone(), token.to_string());
        let _ = tokio::task::spawn_blocking(move || {
            let _ = kv.set(MANAGED_TOKENS, "", &key, known.to_string().as_bytes());
            forget_stale_tokens(&*kv, now);
        })
        .await;
        org.map_or(OrgLookup::NoOrg, OrgLookup::Org)
    }
}

/// What the org lookup of a managed token found.
enum OrgLookup {
    Org(String),
    /// Zoho's verdict: this token reads no org (no scope, or none): it keeps its own namespace.
    NoOrg,
    /// Not known now (transport, throttling, server failure): why, without secrets.
    Unknown(String),
}

/// How often the watch asks a managed token's org before refusing to start, and the first wait
/// (doubled each time: 0.5 + 1 + 2 s).
const ORG_LOOKUP_TRIES: u32 = 4;
const ORG_LOOKUP_FIRST_WAIT: Duration = Duration::from_millis(500);

/// Deletes token → org entries past their retention, so the host's store stays bounded.
fn forget_stale_tokens(kv: &dyn KvBackend, now: u64) {
    for key in kv.keys(MANAGED_TOKENS, "").unwrap_or_default() {
        let stale = match kv.get(MANAGED_TOKENS, "", &key) {
            Ok(Some(bytes)) => serde_json::from_slice::<KnownToken>(&bytes).map_or(true, |k| now.saturating_sub(k.at) >= MANAGED_TOKEN_RETENTION.as_secs()),
            _ => false,
        };
        if stale {
            let _ = kv.delete(MANAGED_TOKENS, "", &key);
        }
    }
}

impl Runtime {
    /// Runs one action in a given namespace, with the connection's allowed origins.
    async fn run_in(&self, action: &ActionRef, connection: &Value, input: &Value, options: Option<&Value>, origins: &[String], namespace: &str) -> Result<StepOutcome> {
        let (answer, stderr, peak_memory_bytes, mut timings) = self.call_in(action, connection, input, options, origins, namespace).await?;
        let started = Instant::now();
        let result = match answer {
            Answer::Vals(results) => outcome_of(results.first()),
            Answer::Json(result) => result,
        };
        timings.result = started.elapsed();
        Ok(StepOutcome { result, stderr, peak_memory_bytes, timings })
    }

    /// Runs one action; its results as the component gave them, its stderr, peak memory and
    /// where its time went (the result's conversion is the caller's to time).
    async fn call_in(&self, action: &ActionRef, connection: &Value, input: &Value, options: Option<&Value>, origins: &[String], namespace: &str) -> Result<(Answer, String, usize, StepTimings)> {
        let (mut store, stderr) = self.new_store(origins, namespace);
        let mut timings = StepTimings::default();
        let started = Instant::now();
        let instance = self.pre.instantiate_async(&mut store).await?;
        timings.instantiate = started.elapsed();
        let iface = instance.get_export_index(&mut store, None, &action.export_name()).ok_or_else(|| anyhow!("the component exports no interface {}", action.export_name()))?;
        let func_index = instance.get_export_index(&mut store, Some(&iface), &action.function).ok_or_else(|| anyhow!("{} has no function {}", action.export_name(), action.function))?;
        let func = instance.get_func(&mut store, func_index).ok_or_else(|| anyhow!("{} is not a function", action.function))?;

        let ty = func.ty(&store);
        let given: Vec<(&str, &Value, wasmtime::component::Type)> = ty
            .params()
            .map(|(name, param_ty)| {
                let given = match name {
                    "connection" => connection,
                    "options" => options.unwrap_or(&Value::Null),
                    _ => input,
                };
                (name, given, param_ty)
            })
            .collect();
        let answer = if let Some(call) = BytesCall::of(action) {
            let started = Instant::now();
            let call = self.typed.call(&mut store, &instance, call, &given);
            let outcome = match tokio::time::timeout(self.config.step_deadline, call).await {
                Ok(outcome) => outcome.map_err(|trap| anyhow!("the step stopped: {trap:#}"))?,
                Err(_) => bail!("the step ran past its deadline of {} s", self.config.step_deadline.as_secs()),
            };
            timings.component = started.elapsed();
            Answer::Json(outcome)
        } else {
            let started = Instant::now();
            let params = given.iter().map(|(name, value, param_ty)| to_val(value, param_ty, name)).collect::<Result<Vec<_>>>()?;
            let mut results = vec![Val::Bool(false); ty.results().len()];
            timings.to_wit = started.elapsed();
            let started = Instant::now();
            let call = func.call_async(&mut store, &params, &mut results);
            match tokio::time::timeout(self.config.step_deadline, call).await {
                Ok(outcome) => outcome.map_err(|trap| anyhow!("the step stopped: {trap:#}"))?,
                Err(_) => bail!("the step ran past its deadline of {} s", self.config.step_deadline.as_secs()),
            }
            timings.component = started.elapsed();
            Answer::Vals(results)
        };
        let clock = &store.data().clock;
        (timings.key_value, timings.http) = (clock.key_value(), clock.http());
        timings.component = timings.component.saturating_sub(timings.key_value).saturating_sub(timings.http);
        let stderr = stderr.contents();
        let peak_memory_bytes = store.data().limits.peak_memory;
        Ok((answer, stderr, peak_memory_bytes, timings))
    }
}

/// A step's results: the component's values, or the JSON the typed byte calls made of them.
enum Answer {
    Vals(Vec<Val>),
    Json(std::result::Result<Value, Value>),
}

/// The JSON a `result<string|record, zoho-error>` stands for: a string Ok is parsed as JSON;
/// an error's `details` string is parsed too, so callers get one JSON document.
fn outcome_of(result: Option<&Val>) -> std::result::Result<Value, Value> {
    match result {
        Some(Val::Result(Ok(Some(v)))) => match v.as_ref() {
            Val::String(s) => Ok(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))),
            other => Ok(from_val(other)),
        },
        Some(Val::Result(Ok(None))) => Ok(Value::Null),
        Some(Val::Result(Err(Some(e)))) => {
            let mut error = from_val(e);
            if let Some(details) = error.get_mut("details") {
                if let Some(parsed) = details.as_str().and_then(|s| serde_json::from_str(s).ok()) {
                    *details = parsed;
                }
            }
            Err(error)
        }
        Some(Val::Result(Err(None))) => Err(Value::Null),
        Some(other) => Ok(from_val(other)),
        None => Ok(Value::Null),
    }
}

/// Bytes of a value's JSON text, counted without building it.
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Host-only key-value namespace: digests of platform-managed tokens → their org id.
const MANAGED_TOKENS: &str = "zoho-host/managed-tokens";
/// How long a token → org entry is trusted and kept (Zoho access tokens live one hour).
pub const MANAGED_TOKEN_RETENTION: Duration = Duration::from_secs(24 * 3600);

#[derive(serde::Deserialize)]
struct KnownToken {
    org: Option<String>,
    at: u64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn text_field(connection: &Value, name: &str) -> String {
    connection.get(name).and_then(Value::as_str).unwrap_or("").trim().to_string()
}

/// A digest of the platform-managed access token (with its data center), when the connection
/// is one: an access token and no grant the component could refresh it with.
fn managed_token(connection: &Value) -> Option<String> {
    let field = |name: &str| text_field(connection, name);
    let token = field("access-token");
    if token.is_empty() || !field("refresh-token").is_empty() || !field("soid").is_empty() {
        return None;
    }
    let digest = Sha256::digest([field("region"), field("api-domain"), token].join("\u{0}").as_bytes());
    Some(format!("{:x}", digest))
}

/// The org id in a raw `GET /org` answer: `{"status":200,"body":{"json":"{\"org\":[{\"id\":...}]}"}}`.
fn org_id_of(answer: &Value) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Org {
        id: Value,
    }
    #[derive(serde::Deserialize)]
    struct Orgs {
        org: Vec<Org>,
    }
    if answer["status"] != 200 {
        return None;
    }
    let orgs: Orgs = serde_json::from_str(answer["body"]["json"].as_str()?).ok()?;
    let id = match &orgs.org.first()?.id {
        Value::String(id) => id.clone(),
        Value::Number(id) => id.to_string(),
        _ => return None,
    };
    (!id.is_empty() && id.len() <= 64).then_some(id)
}

/// The namespace of an organization in a data center: the same for every token it is given.
pub fn org_namespace(connection: &Value, org: &str) -> String {
    let field = |name: &str| text_field(connection, name);
    let digest = Sha256::digest([field("region"), field("api-domain"), org.to_string()].join("\u{0}").as_bytes());
    format!("org-{}", &format!("{digest:x}")[..32])
}

/// The origins a connection may reach, or why it is refused. The component's message may
/// quote what was pasted into a field (a client secret in `region` or `api-domain`), so it
/// passes the component's own redaction first, as every message of the component does.
fn origins_of(connection: &Value) -> Result<Vec<String>> {
    let redacted = |e: zoho_connector::error::ZohoError| {
        let secrets = ["client-secret", "refresh-token", "access-token"].iter().filter_map(|k| connection[*k].as_str()).flat_map(|s| [s, s.trim()]);
        anyhow!("connection: {}", zoho_connector::redact::Redactor::new(secrets).text(&e.message))
    };
    zoho_connector::connection::from_json(connection).and_then(|parsed| parsed.allowed_origins()).map_err(redacted)
}

/// The key-value namespace of a connection: a digest of who it is, never the secrets
/// themselves. Platforms that know their tenant ids should pass a namespace instead.
pub fn namespace_of(connection: &Value) -> String {
    let field = |name: &str| connection.get(name).and_then(Value::as_str).unwrap_or("").trim().to_string();
    let mut identity = vec![field("region"), field("accounts-url"), field("api-domain"), field("client-id")];
    let grant = ["refresh-token", "soid"].iter().map(|f| field(f)).find(|v| !v.is_empty());
    // Without a grant, the token is all that tells two platform-managed accounts apart.
    identity.push(grant.unwrap_or_else(|| field("access-token")));
    let digest = Sha256::digest(identity.join("\u{0}").as_bytes());
    format!("conn-{}", &format!("{digest:x}")[..32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Two tokens of one org in one data center share a namespace; grants and other
    /// data centers do not.
    #[test]
    fn managed_tokens_are_named_by_their_org() {
        let first = json!({ "api-domain": "https://www.zohoapis.eu", "access-token": "1000.a" });
        let second = json!({ "api-domain": "https://www.zohoapis.eu", "access-token": "1000.b" });
        let (a, b) = (managed_token(&first), managed_token(&second));
        assert!(a.is_some() && a != b, "each token has its own cache key");
        assert_eq!(org_namespace(&first, "20001"), org_namespace(&second, "20001"));
        assert_ne!(org_namespace(&first, "20001"), org_namespace(&first, "20002"));
        let us = json!({ "api-domain": "https://www.zohoapis.com", "access-token": "1000.a" });
        assert_ne!(org_namespace(&first, "20001"), org_namespace(&us, "20001"));
        let granted = json!({ "api-domain": "https://www.zohoapis.eu", "access-token": "1000.a", "refresh-token": "r" });
        assert_eq!(managed_token(&granted), None, "a grant keeps its own namespace");
        assert_eq!(managed_token(&json!({ "api-domain": "https://www.zohoapis.eu" })), None);
    }

    #[test]
    fn the_org_id_is_read_from_the_raw_answer_only_when_plain() {
        let answer = |status: u16, body: &str| json!({ "status": status, "headers": [], "body": { "json": body } });
        assert_eq!(org_id_of(&answer(200, r#"{"org":[{"id":"5725767000000021001"}]}"#)).as_deref(), Some("5725767000000021001"));
        assert_eq!(org_id_of(&answer(200, r#"{"org":[{"id":5725767000000021001}]}"#)).as_deref(), Some("5725767000000021001"));
        for (status, body) in [(401, r#"{"org":[{"id":"1"}]}"#), (200, r#"{"org":[]}"#), (200, r#"{"org":[{"id":""}]}"#), (200, "not json"), (200, r#"{"org":[{"id":{"x":1}}]}"#)] {
            assert_eq!(org_id_of(&answer(status, body)), None, "{status} {body}");
        }
        assert_eq!(org_id_of(&answer(200, &format!(r#"{{"org":[{{"id":"{}"}}]}}"#, "9".repeat(65)))), None, "an id past 64 characters");
    }
}
