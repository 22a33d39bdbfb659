//! Search a module by criteria, email, phone or word.

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::wit::crm::{SearchRecordsInput};

pub fn search_records(_client: &Client, input: &SearchRecordsInput) -> Result<String> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "search_records is not built yet"))
}
