//! What one step's instance can reach and what bounds it: a fresh store with no files, no
//! environment, HTTP only to the connection's origins, key-value only in its namespace, and
//! memory, table and deadline limits.

use super::Runtime;
use crate::kv::{KvBackend, KvView};
use crate::net::AllowedHosts;
use crate::step_log::StepLog;
use crate::timing::StepClock;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// How often the epoch advances; the step deadline is counted in these ticks.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Everything one step's instance can reach.
pub struct StepState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hosts: AllowedHosts,
    table: ResourceTable,
    kv: Arc<dyn KvBackend>,
    namespace: Arc<str>,
    pub(super) limits: PeakLimits,
    pub(super) clock: Arc<StepClock>,
}

/// The store's limits, noting the largest linear memory the step grew to.
pub(super) struct PeakLimits {
    limits: StoreLimits,
    pub(super) peak_memory: usize,
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

pub(super) fn kv_view(state: &mut StepState) -> KvView<'_> {
    KvView { store: &state.kv, namespace: &state.namespace, table: &mut state.table, clock: Some(&*state.clock) }
}

impl Runtime {
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
}
