//! Actions on a Books record: status changes, email, approval.

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::wit::books::{RecordActionInput};

pub fn record_action(_client: &Client, input: &RecordActionInput) -> Result<String> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "record_action is not built yet"))
}
