//! A record's related lists.

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::wit::crm::{GetRelatedRecordsInput};

pub fn get_related_records(_client: &Client, input: &GetRelatedRecordsInput) -> Result<String> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "get_related_records is not built yet"))
}
