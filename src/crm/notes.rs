//! Notes (v8 "Notes API": Create, Get, Update and Delete Notes,
//! https://www.zoho.com/crm/developer/docs/api/v8/get-notes.html and the pages beside it):
//! `POST /crm/v8/{module}/{id}/Notes` adds a note to a record; `GET /crm/v8/Notes` lists the
//! org's notes and `GET /crm/v8/{module}/{id}/Notes` one record's (the Notes related list);
//! `PUT` and `DELETE /crm/v8/Notes/{note_id}` change and delete one note.

use crate::client::{ApiCall, Client};
use crate::connection::given;
use crate::crm::response::{list_answer, single_outcome};
use crate::error::{Result, ZohoError};
use crate::http::Method;
use crate::validate;
use crate::wit::crm::{AddNoteInput, ListNotesInput, RemoveNoteInput, UpdateNoteInput};
use serde_json::{json, Map, Value};

/// Longest note title, in characters (zoho/crm-oas notes `updateNoteById` and `getNotesModule`:
/// `Note_Title` maxLen 120).
pub const MAX_TITLE_CHARS: usize = 120;
/// Longest note text, in characters (the same operations: `Note_Content` maxLen 65535); files go
/// as attachments.
pub const MAX_CONTENT_CHARS: usize = 65_535;

/// The fields every listing asks for. Zoho's v8 Get Notes requires `fields` (notes.json marks it
/// required; without it Zoho answers REQUIRED_PARAM_MISSING), and the Notes related list of a
/// record does too (v8 "Get Related Records"): the note's own fields and its system fields.
pub const NOTE_FIELDS: &str = "Note_Title,Note_Content,Parent_Id,Owner,Created_By,Modified_By,Created_Time,Modified_Time";

/// Notes a listing reaches by page number: Zoho's lists stop at 2,000 records without a page
/// token (DISCRETE_PAGINATION_LIMIT_EXCEEDED, zoho/crm-oas `getNotesModule` 400).
const MAX_PAGED_NOTES: u64 = 2_000;

/// A note's `{"Note_Title","Note_Content"}` as sent: the text required and non-blank, a blank
/// title left out (the note keeps its title on an update), both within Zoho's lengths.
fn note_record(title: Option<&str>, content: &str) -> Result<Value> {
    if content.trim().is_empty() {
        return Err(ZohoError::invalid_input("note-content is empty: Zoho requires the note's text"));
    }
    let chars = content.chars().count();
    if chars > MAX_CONTENT_CHARS {
        return Err(ZohoError::invalid_input(format!("note-content is {chars} characters; Zoho keeps at most {MAX_CONTENT_CHARS} in a note: attach long content as a file")));
    }
    let mut note = Map::new();
    if let Some(title) = title.filter(|t| !t.trim().is_empty()) {
        let chars = title.chars().count();
        if chars > MAX_TITLE_CHARS {
            return Err(ZohoError::invalid_input(format!("note-title is {chars} characters; Zoho takes at most {MAX_TITLE_CHARS}")));
        }
        note.insert("Note_Title".into(), json!(title));
    }
    note.insert("Note_Content".into(), json!(content));
    Ok(Value::Object(note))
}

/// A note id as Zoho gives it: a record id, named as the note's in the message.
fn note_id(id: &str) -> Result<&str> {
    validate::record_id(id.trim()).map_err(|_| {
        let shown: String = id.chars().take(40).collect();
        ZohoError::invalid_input(format!("note-id {shown:?} is not a Zoho note id: ids are numbers such as 5725767000000524157, as List Notes and Add Note give them"))
    })
}

pub fn add_note(client: &Client, input: &AddNoteInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let id = validate::record_id(&input.record_id)?;
    let note = note_record(input.note_title.as_deref(), &input.note_content)?;
    let call = ApiCall::new(Method::Post, format!("/crm/v8/{module}/{id}/Notes")).json(json!({ "data": [note] }));
    single_outcome(&client.send(call)?)
}

/// List Notes: one page of the org's notes, or of one record's when both record-type and
/// record-id are given; no notes is an empty page (Zoho's 204).
pub fn list_notes(client: &Client, input: &ListNotesInput) -> Result<String> {
    let page = validate::page(input.page)?;
    let per_page = validate::per_page(input.per_page)?;
    if u64::from(page).saturating_mul(u64::from(per_page)) > MAX_PAGED_NOTES {
        return Err(ZohoError::invalid_input(format!("page {page} of {per_page} notes reaches past the first {MAX_PAGED_NOTES} notes, the most Zoho lists by page number")));
    }
    let path = match (given(&input.record_type), given(&input.record_id)) {
        (None, None) => "/crm/v8/Notes".to_string(),
        (Some(module), Some(id)) => {
            let module = validate::module_name(module)?;
            let id = validate::record_id(id)?;
            if module == "Notes" {
                return Err(ZohoError::invalid_input("record-type Notes names the notes themselves: give the module of the record whose notes to list"));
            }
            format!("/crm/v8/{module}/{id}/Notes")
        }
        (Some(_), None) => return Err(ZohoError::invalid_input("record-type is given without record-id: give both to list one record's notes, or neither to list every note")),
        (None, Some(_)) => return Err(ZohoError::invalid_input("record-id is given without record-type: give the record's module too (e.g. Leads)")),
    };
    let call = ApiCall::new(Method::Get, path).query("fields", NOTE_FIELDS).query("page", page.to_string()).query("per_page", per_page.to_string());
    list_answer(&client.send(call)?, Some(page), per_page)
}

/// Update Note: the one outcome (`"record updated"`); a note Zoho does not have is `not-found`.
pub fn update_note(client: &Client, input: &UpdateNoteInput) -> Result<String> {
    let id = note_id(&input.note_id)?;
    let note = note_record(input.note_title.as_deref(), &input.note_content)?;
    let call = ApiCall::new(Method::Put, format!("/crm/v8/Notes/{id}")).json(json!({ "data": [note] }));
    single_outcome(&client.send(call)?)
}

/// Delete Note: the one outcome (`"record deleted"`); a note Zoho does not have is `not-found`.
pub fn remove_note(client: &Client, input: &RemoveNoteInput) -> Result<String> {
    let id = note_id(&input.note_id)?;
    single_outcome(&client.send(ApiCall::new(Method::Delete, format!("/crm/v8/Notes/{id}")))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_checked_against_zohos_lengths_in_characters() {
        assert_eq!(note_record(Some("  "), "x").unwrap(), json!({ "Note_Content": "x" }));
        assert_eq!(note_record(Some("日本"), "☎").unwrap(), json!({ "Note_Title": "日本", "Note_Content": "☎" }));
        assert!(note_record(None, &"é".repeat(MAX_CONTENT_CHARS)).is_ok());
        assert!(note_record(None, &"é".repeat(MAX_CONTENT_CHARS + 1)).is_err());
        assert!(note_record(Some(&"t".repeat(MAX_TITLE_CHARS + 1)), "x").is_err());
        assert!(note_record(None, " \n").is_err());
        for bad in ["", "1/2", "../1", "１２", "99999999999999999999999"] {
            assert!(note_id(bad).is_err(), "{bad}");
        }
    }
}
