//! Upsert (find or create): insert records or update the ones matching the duplicate-check fields.

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::wit::crm::{UpsertRecordsInput};

pub fn upsert_records(_client: &Client, input: &UpsertRecordsInput) -> Result<String> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "upsert_records is not built yet"))
}
