//! Get Related Records: `GET /crm/v8/{module}/{id}/{related_list}`. Zoho requires `fields`;
//! without them the related module's own fields (its first 50) are asked for, when the related
//! list is named after a module (Contacts, Deals, Notes, ...).

use crate::client::{ApiCall, Client};
use crate::crm::fields::module_fields;
use crate::crm::records::MAX_FIELDS_PER_LIST;
use crate::crm::response::list_answer;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::validate;
use crate::wit::crm::GetRelatedRecordsInput;

pub fn get_related_records(client: &Client, input: &GetRelatedRecordsInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let id = validate::record_id(&input.record_id)?;
    let related = validate::related_list(input.related_list.trim())?;
    let per_page = validate::per_page(input.per_page)?;
    let page_token = input.page_token.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if input.page.is_some() && page_token.is_some() {
        return Err(ZohoError::invalid_input("give page or page-token, not both: a page token already says where the page starts"));
    }
    if page_token.is_some_and(|t| t.len() > 1000 || !t.chars().all(|c| c.is_ascii_graphic())) {
        return Err(ZohoError::invalid_input("page-token must be the info.next_page_token of a previous page"));
    }
    let page = input.page.map(|p| validate::page(Some(p))).transpose()?;
    let named = match input.fields.as_deref() {
        Some(f) => validate::field_names(f)?,
        None => Vec::new(),
    };
    if named.len() > MAX_FIELDS_PER_LIST {
        return Err(ZohoError::invalid_input(format!("fields names {} fields; Zoho takes at most {MAX_FIELDS_PER_LIST}", named.len())));
    }
    let fields = if named.is_empty() { related_module_fields(client, related)? } else { named };
    let mut call = ApiCall::new(Method::Get, format!("/crm/v8/{module}/{id}/{related}")).query("fields", fields.join(","));
    if let Some(page) = page {
        call = call.query("page", page.to_string());
    }
    if let Some(token) = page_token {
        call = call.query("page_token", token);
    }
    call = call.query("per_page", per_page.to_string());
    list_answer(&client.send(call)?, page, per_page)
}

/// The first 50 fields of the module a related list is named after; a related list named
/// otherwise (a custom one) needs the caller's fields.
fn related_module_fields(client: &Client, related: &str) -> Result<Vec<String>> {
    match module_fields(client, related) {
        Ok(mut fields) => {
            fields.truncate(MAX_FIELDS_PER_LIST);
            Ok(fields)
        }
        Err(e) if e.code.as_deref() == Some("INVALID_MODULE") || e.kind == ErrorKind::NotFound => {
            Err(ZohoError::invalid_input(format!("related list {related} is not named after a module, so its fields cannot be looked up: list the fields to return in fields (e.g. id,Name)")))
        }
        Err(e) => Err(e),
    }
}
