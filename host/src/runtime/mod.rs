//! Loading the component once and running steps: one fresh, limited instance per step. The
//! runtime itself and its entry points; the settings, compiling, a step's store, the call and
//! tenancy each live in their own module.

mod call;
mod compile;
mod config;
mod step;
mod tenancy;

pub use crate::action::{ActionRef, PACKAGE, VERSION};
use crate::kv::{self, KvBackend};
pub use crate::timing::{StepClock, StepTimings};
use anyhow::{bail, Result};
use call::{outcome_of, Answer};
pub use call::{StepOutcome, TextOutcome};
pub use compile::{engine, load_component};
pub use config::{HostConfig, LOG_LIMIT};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
pub use step::StepState;
use step::{kv_view, EPOCH_TICK};
use tenancy::origins_of;
pub use tenancy::{namespace_of, org_namespace, MANAGED_TOKEN_RETENTION};
use wasmtime::component::{Component, InstancePre, Linker, Val};
use wasmtime::Engine;

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
        }
        .map_err(crate::zoho_error::plain_transport);
        Ok(TextOutcome { result, stderr, peak_memory_bytes })
    }

    /// The key-value namespace a step of `connection` runs in: `namespace` when given, else
    /// the connection's own (as `run` chooses it).
    pub async fn namespace(&self, connection: &Value, namespace: Option<&str>) -> Result<String> {
        let origins = origins_of(connection)?;
        Ok(match namespace {
            Some(given) => given.to_string(),
            None => self.default_namespace(connection, &origins).await,
        })
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
