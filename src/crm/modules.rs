//! The org's modules and a module's fields, described for forms.

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::wit::crm::{ListModulesInput, DescribeModuleInput};

pub fn list_modules(_client: &Client, input: &ListModulesInput) -> Result<String> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "list_modules is not built yet"))
}
pub fn describe_module(_client: &Client, input: &DescribeModuleInput) -> Result<String> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "describe_module is not built yet"))
}
