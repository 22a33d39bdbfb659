//! The `Storage` seam: the connection's key-value namespace (wasi:keyvalue in the component).

use crate::error::Result;

pub trait Storage {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    fn set(&self, key: &str, value: &[u8]) -> Result<()>;
    fn delete(&self, key: &str) -> Result<()>;
}

/// JSON values on top of the byte store; an unreadable value counts as absent so a
/// corrupted cache entry is refetched rather than failing the step.
pub fn get_json<T: serde::de::DeserializeOwned>(storage: &dyn Storage, key: &str) -> Result<Option<T>> {
    Ok(storage.get(key)?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

pub fn set_json<T: serde::Serialize>(storage: &dyn Storage, key: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| crate::error::ZohoError::new(crate::error::ErrorKind::Internal, format!("cannot encode {key}: {e}")))?;
    storage.set(key, &bytes)
}
