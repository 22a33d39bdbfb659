//! Add Attachment: `POST /crm/v8/{module}/{id}/Attachments`, a file (multipart part `file`) or
//! a link (part `attachmentUrl`), never both.

use crate::client::{ApiCall, Client};
use crate::crm::response::{error_from_response, list_answer, single_outcome};
use crate::download::downloaded_file;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::multipart::{self, Field};
use crate::validate;
use crate::wit::crm::{AddAttachmentInput, DownloadAttachmentInput, FileContent, ListAttachmentsInput};
use crate::wit::types::DownloadedFile;

/// Zoho's attachment size limit.
pub const MAX_ATTACHMENT_BYTES: usize = 100 * 1024 * 1024;
const MAX_URL_CHARS: usize = 3000;

pub fn add_attachment(client: &Client, input: AddAttachmentInput) -> Result<String> {
    let module = validate::module_name(input.record_type.as_deref().map(str::trim).filter(|m| !m.is_empty()).unwrap_or("Leads"))?.to_string();
    let id = validate::record_id(&input.record_id)?.to_string();
    let url = input.attachment_url.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let field = match (input.file, url) {
        (Some(_), Some(_)) => return Err(ZohoError::invalid_input("give file or attachment-url, not both: Zoho attaches one or the other")),
        (None, None) => return Err(ZohoError::invalid_input("give the file to attach (with file-name), or an attachment-url")),
        (None, Some(url)) => {
            if url.chars().count() > MAX_URL_CHARS || !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_control) {
                return Err(ZohoError::invalid_input(format!("attachment-url must be an http(s) URL of at most {MAX_URL_CHARS} characters")));
            }
            Field::Text { name: "attachmentUrl".into(), value: url.to_string() }
        }
        (Some(file), None) => {
            let file_name = input
                .file_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ZohoError::invalid_input("file-name is required with a file: Zoho shows it and guesses the file's type from it"))?;
            if file_name.contains(char::is_control) || file_name.len() > 255 {
                return Err(ZohoError::invalid_input("file-name must be one line of at most 255 bytes"));
            }
            let bytes = match file {
                FileContent::Text(text) => text.into_bytes(),
                FileContent::Bytes(bytes) => bytes,
                // Sized before decoding (over 100 MB is refused unallocated), decoded without a copy of the text.
                FileContent::Base64(text) => crate::decode_base64(&text).map_err(|e| ZohoError::invalid_input(format!("file: {e}")))?,
            };
            if bytes.len() > MAX_ATTACHMENT_BYTES {
                // Integer arithmetic: float formatting would add 20 KB to the component.
                let tenths = bytes.len().saturating_mul(10) / (1024 * 1024);
                return Err(ZohoError::invalid_input(format!("the file is {}.{} MB; Zoho accepts attachments up to 100 MB", tenths / 10, tenths % 10)));
            }
            Field::File { name: "file".into(), content_type: multipart::content_type_for(file_name).to_string(), file_name: file_name.to_string(), bytes }
        }
    };
    let call = ApiCall::new(Method::Post, format!("/crm/v8/{module}/{id}/Attachments")).body(multipart::form(vec![field]));
    single_outcome(&client.send(call)?)
}

/// The attachment fields listed: every one attachments.json says an attachment has.
pub const ATTACHMENT_FIELDS: &str = "id,File_Name,Size,Created_Time,Modified_Time,Owner,Created_By,Modified_By,Parent_Id,$editable,$file_id,$type,$se_module,$state,$link_url";

/// List Attachments: `GET /crm/v8/{module}/{id}/Attachments` with the fields Zoho requires named.
pub fn list_attachments(client: &Client, input: &ListAttachmentsInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let id = validate::record_id(&input.record_id)?;
    let page = validate::page(input.page)?;
    let per_page = validate::per_page(input.per_page)?;
    let call = ApiCall::new(Method::Get, format!("/crm/v8/{module}/{id}/Attachments")).query("fields", ATTACHMENT_FIELDS).query("page", page.to_string()).query("per_page", per_page.to_string());
    list_answer(&client.send(call)?, Some(page), per_page)
}

/// Download Attachment: the file's bytes as Zoho sent them (never parsed), its name from
/// `Content-Disposition`; a JSON error is Zoho's typed error, 204 is not-found.
pub fn download_attachment(client: &Client, input: &DownloadAttachmentInput) -> Result<DownloadedFile> {
    let module = validate::module_name(&input.record_type)?;
    let id = validate::record_id(&input.record_id)?;
    let attachment_id = validate::record_id(input.attachment_id.trim())
        .map_err(|_| ZohoError::invalid_input(format!("attachment-id {:?} is not a Zoho attachment id: ids are numbers, as List Attachments gives them", input.attachment_id)))?;
    let response = client.send(ApiCall::new(Method::Get, format!("/crm/v8/{module}/{id}/Attachments/{attachment_id}")))?;
    match response.status {
        200 => downloaded_file(response),
        204 => Err(ZohoError::new(ErrorKind::NotFound, format!("record {id} of {module} has no attachment {attachment_id}")).with_status(204)),
        _ => Err(error_from_response(&response)),
    }
}
