//! `Storage` over wasi:keyvalue. Bucket "" is the connection's namespace: the host decides
//! whose it is, so one tenant never sees another's keys.

use crate::error::{ErrorKind, Result, ZohoError};
use crate::storage::{KeyPage, Storage};
use crate::wit::wasi::keyvalue::{atomics, store};

pub struct KeyValue {
    bucket: store::Bucket,
}

fn storage_error(e: store::Error) -> ZohoError {
    let detail = match e {
        store::Error::NoSuchStore => "no such store".to_string(),
        store::Error::AccessDenied => "access denied".to_string(),
        store::Error::Other(text) => text,
    };
    ZohoError::new(ErrorKind::Internal, format!("the host's key-value storage failed: {detail}"))
}

impl KeyValue {
    /// The connection's bucket; `Ok(None)` when the host has no store to give (no-such-store,
    /// access-denied), so the step can run on its own memory. A store that fails otherwise
    /// fails the step: it exists and is broken, and stepping around it would lose state.
    pub fn open() -> Result<Option<Self>> {
        match store::open("") {
            Ok(bucket) => Ok(Some(KeyValue { bucket })),
            Err(store::Error::NoSuchStore | store::Error::AccessDenied) => Ok(None),
            Err(e) => Err(storage_error(e)),
        }
    }
}

impl Storage for KeyValue {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.bucket.get(key).map_err(storage_error)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.bucket.set(key, value).map_err(storage_error)
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.bucket.delete(key).map_err(storage_error)
    }

    fn increment(&self, key: &str, delta: u64) -> Result<u64> {
        atomics::increment(&self.bucket, key, delta).map_err(storage_error)
    }

    fn list_keys(&self, cursor: Option<u64>) -> Result<KeyPage> {
        let page = self.bucket.list_keys(cursor).map_err(storage_error)?;
        Ok(KeyPage { keys: page.keys, cursor: page.cursor })
    }
}
