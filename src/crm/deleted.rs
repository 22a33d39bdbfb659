//! A module's deleted records.

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::wit::crm::{GetDeletedRecordsInput};

pub fn get_deleted_records(_client: &Client, input: &GetDeletedRecordsInput) -> Result<String> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "get_deleted_records is not built yet"))
}
