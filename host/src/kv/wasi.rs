//! The wasi:keyvalue@0.2.0-draft imports a step calls (store, atomics, batch), each run on
//! tokio's blocking threads against the backend, within the step's namespace.

use super::KvBackend;
use crate::timing::StepClock;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{HasData, Resource, ResourceTable};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/deps/keyvalue",
        world: "wasi:keyvalue/imports",
        imports: { default: async },
        with: { "wasi:keyvalue/store.bucket": super::Bucket },
    });
}

pub(super) use bindings::wasi::keyvalue::store;
use bindings::wasi::keyvalue::{atomics, batch};

/// Keys listed per `list-keys` call.
const LIST_PAGE: u64 = 1000;
/// A bucket name longer than this is refused.
const MAX_BUCKET_NAME: usize = 128;

/// An open bucket: a namespace (whose data) and a bucket name (which part of it).
pub struct Bucket {
    namespace: Arc<str>,
    name: String,
}

/// What the keyvalue imports see of a step: its namespace, the store, the resource table.
pub struct KvView<'a> {
    pub store: &'a Arc<dyn KvBackend>,
    pub namespace: &'a Arc<str>,
    pub table: &'a mut ResourceTable,
    /// Where the step's time in the store is added up.
    pub clock: Option<&'a StepClock>,
}

pub struct Kv;

impl HasData for Kv {
    type Data<'a> = KvView<'a>;
}

pub fn add_to_linker<T: Send + 'static>(linker: &mut wasmtime::component::Linker<T>, view: fn(&mut T) -> KvView<'_>) -> anyhow::Result<()> {
    store::add_to_linker::<_, Kv>(linker, view)?;
    atomics::add_to_linker::<_, Kv>(linker, view)?;
    batch::add_to_linker::<_, Kv>(linker, view)?;
    Ok(())
}

impl KvView<'_> {
    fn bucket(&self, bucket: &Resource<Bucket>) -> Result<(Arc<str>, String), store::Error> {
        let b = self.table.get(bucket).map_err(|e| store::Error::Other(e.to_string()))?;
        Ok((b.namespace.clone(), b.name.clone()))
    }

    /// Runs `f` on the backend from one of tokio's blocking threads, timed for the step.
    async fn off_runtime<T: Send + 'static>(&mut self, bucket: &Resource<Bucket>, f: impl FnOnce(&dyn KvBackend, &str, &str) -> Result<T, store::Error> + Send + 'static) -> Result<T, store::Error> {
        let (namespace, name) = self.bucket(bucket)?;
        let backend = self.store.clone();
        let started = Instant::now();
        let outcome = tokio::task::spawn_blocking(move || f(&*backend, &namespace, &name)).await.unwrap_or_else(|e| Err(store::Error::Other(format!("key-value call failed: {e}"))));
        if let Some(clock) = self.clock {
            clock.add_kv(started.elapsed());
        }
        outcome
    }
}

impl store::Host for KvView<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, store::Error> {
        if !self.store.provides_store() {
            return Err(store::Error::NoSuchStore);
        }
        if identifier.len() > MAX_BUCKET_NAME {
            return Err(store::Error::Other(format!("bucket names are at most {MAX_BUCKET_NAME} bytes")));
        }
        let bucket = Bucket { namespace: self.namespace.clone(), name: identifier };
        self.table.push(bucket).map_err(|e| store::Error::Other(e.to_string()))
    }
}

impl store::HostBucket for KvView<'_> {
    async fn get(&mut self, bucket: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| store.get(ns, name, &key)).await
    }

    async fn set(&mut self, bucket: Resource<Bucket>, key: String, value: Vec<u8>) -> Result<(), store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| store.set(ns, name, &key, &value)).await
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<(), store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| store.delete(ns, name, &key)).await
    }

    async fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> Result<bool, store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| Ok(store.get(ns, name, &key)?.is_some())).await
    }

    async fn list_keys(&mut self, bucket: Resource<Bucket>, cursor: Option<u64>) -> Result<store::KeyResponse, store::Error> {
        let offset = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX);
        self.off_runtime(&bucket, move |store, ns, name| {
            let all = store.keys(ns, name)?;
            let keys: Vec<String> = all.iter().skip(offset).take(LIST_PAGE as usize).cloned().collect();
            let next = offset.saturating_add(keys.len());
            let cursor = (next < all.len()).then_some(next as u64);
            Ok(store::KeyResponse { keys, cursor })
        })
        .await
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KvView<'_> {
    async fn increment(&mut self, bucket: Resource<Bucket>, key: String, delta: u64) -> Result<u64, store::Error> {
        let (namespace, name) = self.bucket(&bucket)?;
        if let Some(answer) = self.store.increment_in_memory(&namespace, &name, &key, delta) {
            return answer;
        }
        self.off_runtime(&bucket, move |store, ns, name| store.increment(ns, name, &key, delta)).await
    }
}

impl batch::Host for KvView<'_> {
    async fn get_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Result<Vec<Option<(String, Vec<u8>)>>, store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| keys.into_iter().map(|key| Ok(store.get(ns, name, &key)?.map(|v| (key, v)))).collect()).await
    }

    async fn set_many(&mut self, bucket: Resource<Bucket>, key_values: Vec<(String, Vec<u8>)>) -> Result<(), store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| key_values.iter().try_for_each(|(key, value)| store.set(ns, name, key, value))).await
    }

    async fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Result<(), store::Error> {
        self.off_runtime(&bucket, move |store, ns, name| keys.iter().try_for_each(|key| store.delete(ns, name, key))).await
    }
}
