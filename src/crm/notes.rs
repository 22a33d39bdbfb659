//! Notes on a record.

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::wit::crm::{AddNoteInput};

pub fn add_note(_client: &Client, input: &AddNoteInput) -> Result<String> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "add_note is not built yet"))
}
