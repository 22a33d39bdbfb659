//! Tags on many records at once.

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::wit::crm::{AddTagsInput, RemoveTagsInput};

pub fn add_tags(_client: &Client, input: &AddTagsInput) -> Result<String> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "add_tags is not built yet"))
}
pub fn remove_tags(_client: &Client, input: &RemoveTagsInput) -> Result<String> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "remove_tags is not built yet"))
}
