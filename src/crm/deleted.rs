//! Get Deleted Records: `GET /crm/v8/{module}/deleted?type=all|recycle|permanent`, each entry
//! (`id`, `deleted_time`, `deleted_by`, `display_name`, `type`, `created_by`) as Zoho sent it.

use crate::client::{ApiCall, Client};
use crate::crm::response::list_answer;
use crate::error::{Result, ZohoError};
use crate::http::Method;
use crate::validate;
use crate::wit::crm::GetDeletedRecordsInput;

pub fn get_deleted_records(client: &Client, input: &GetDeletedRecordsInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let deleted_type = match input.deleted_type.as_deref().map(|t| t.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("all") => "all",
        Some("recycle") => "recycle",
        Some("permanent") => "permanent",
        Some(_) => return Err(ZohoError::invalid_input("deleted-type must be all, recycle (still in the recycle bin) or permanent")),
    };
    let page = validate::page(input.page)?;
    let per_page = validate::per_page(input.per_page)?;
    let call = ApiCall::new(Method::Get, format!("/crm/v8/{module}/deleted")).query("type", deleted_type).query("page", page.to_string()).query("per_page", per_page.to_string());
    list_answer(&client.send(call)?, Some(page), per_page)
}
