//! Notes on a record: `POST /crm/v8/{module}/{id}/Notes`.

use crate::client::{ApiCall, Client};
use crate::crm::response::single_outcome;
use crate::error::{Result, ZohoError};
use crate::http::Method;
use crate::validate;
use crate::wit::crm::AddNoteInput;
use serde_json::json;

/// Largest note text sent: a note is text; files go as attachments.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

pub fn add_note(client: &Client, input: &AddNoteInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let id = validate::record_id(&input.record_id)?;
    if input.note_content.trim().is_empty() {
        return Err(ZohoError::invalid_input("note-content is empty: Zoho requires the note's text"));
    }
    let title = input.note_title.as_deref().filter(|t| !t.trim().is_empty());
    let size = input.note_content.len().saturating_add(title.map_or(0, str::len));
    if size > MAX_NOTE_BYTES {
        return Err(ZohoError::invalid_input(format!("the note is {size} bytes; at most {MAX_NOTE_BYTES} bytes (1 MiB) are sent as a note: attach long content as a file")));
    }
    let mut note = serde_json::Map::new();
    if let Some(title) = title {
        note.insert("Note_Title".into(), json!(title));
    }
    note.insert("Note_Content".into(), json!(input.note_content));
    let call = ApiCall::new(Method::Post, format!("/crm/v8/{module}/{id}/Notes")).json(json!({ "data": [note] }));
    single_outcome(&client.send(call)?)
}
