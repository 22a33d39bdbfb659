//! Convert a lead into a contact, an account and optionally a deal.

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::wit::crm::{ConvertLeadInput};

pub fn convert_lead(_client: &Client, input: &ConvertLeadInput) -> Result<String> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "convert_lead is not built yet"))
}
