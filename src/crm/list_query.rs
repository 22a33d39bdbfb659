//! A list request's paging and sorting, checked: shared by the list action and the page-token
//! walk past Zoho's discrete-paging reach.

use crate::client::ApiCall;
use crate::http::Method;

/// Records reachable with `page` alone; beyond, Zoho demands `page_token`.
pub const DISCRETE_PAGING_LIMIT: u32 = 2000;

/// The paging and sorting a list request carries, checked.
pub struct ListQuery {
    pub module: String,
    pub per_page: u32,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub cvid: Option<String>,
}

impl ListQuery {
    pub fn call(&self, fields: &[String]) -> ApiCall {
        let mut call = ApiCall::new(Method::Get, format!("/crm/v8/{}", self.module)).query("fields", fields.join(",")).query("per_page", self.per_page.to_string());
        if let Some(sort_by) = &self.sort_by {
            call = call.query("sort_by", sort_by.clone());
        }
        if let Some(sort_order) = &self.sort_order {
            call = call.query("sort_order", sort_order.clone());
        }
        if let Some(cvid) = &self.cvid {
            call = call.query("cvid", cvid.clone());
        }
        call
    }
}
