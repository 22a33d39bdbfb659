//! The engine, and the component compiled once: machine code cached per component and engine.

use super::HostConfig;
use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};
use std::path::Path;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Linear memory and table bytes a pooled slot keeps mapped between steps.
const RESIDENT_MEMORY: usize = 2 << 20;
const RESIDENT_TABLE: usize = 64 << 10;

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
