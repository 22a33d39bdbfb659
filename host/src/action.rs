//! What an action is called: its manifest key (`crm-create-record`) and the interface and
//! function the component exports it as.

use anyhow::{anyhow, Result};

/// The WIT package every action lives in.
pub const PACKAGE: &str = "zoho:connector";
pub const VERSION: &str = "0.1.0";

/// One action as the component exports it: interface and function name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRef {
    pub interface: String,
    pub function: String,
}

impl ActionRef {
    /// `crm-create-record` → interface `crm`, function `create-record`.
    pub fn from_key(key: &str) -> Result<Self> {
        let (interface, function) = key.split_once('-').ok_or_else(|| anyhow!("action key {key:?} has no interface prefix"))?;
        Ok(ActionRef { interface: interface.into(), function: function.into() })
    }

    pub fn export_name(&self) -> String {
        format!("{PACKAGE}/{}@{VERSION}", self.interface)
    }
}
