//! Linking records through a related list (v8 "Update Related Records" and "Delink Related
//! Records", https://www.zoho.com/crm/developer/docs/api/v8/update-related-records.html and
//! .../delink.html; related_records.json "Update Related Record" and "Delink Record"):
//! `PUT /crm/v8/{module}/{id}/{related_list}/{related_id}` with `{"data":[{"id": related_id,
//! ...relation fields}]}` links (or updates the relation's fields), `DELETE` on the same path
//! unlinks. Zoho's operation for the PUT (zoho/crm-oas `updateSpecificRelatedRecord`) requires
//! `data` with exactly one object holding the related record's `id`; the page says sample data is
//! "mandatory ... while adding relation". The id goes in both the path and the body, which works
//! under every reading. Zoho answers `{"data":[outcome]}` ("relation added", "relation removed").

use crate::client::{ApiCall, Client};
use crate::crm::response::single_outcome;
use crate::error::{Result, ZohoError};
use crate::http::{Body, Method};
use crate::json;
use crate::validate;
use crate::wit::crm::{LinkRelatedRecordInput, UnlinkRelatedRecordInput};

/// Largest `values` accepted: a relation carries a few fields (Member_Status, list_price).
pub const MAX_RELATION_VALUES_BYTES: usize = 64 << 10;

/// Related lists that are not relations between two records: a note or an attachment belongs to
/// its record, and "unlinking" one through this path deletes it (zoho/crm-oas
/// `delinkSpecificRelatedRecord`, NoteId example: "record deleted"). Their own actions say so.
const NOT_RELATIONS: [(&str, &str); 2] = [("Notes", "update-note or remove-note"), ("Attachments", "add-attachment or list-attachments")];

/// The checked path of one relation: module, record id, related list, related record id.
struct Relation<'a> {
    module: &'a str,
    id: &'a str,
    related: &'a str,
    related_id: &'a str,
}

fn relation<'a>(record_type: &'a str, record_id: &'a str, related_list: &'a str, related_record_id: &'a str) -> Result<Relation<'a>> {
    let module = validate::module_name(record_type)?;
    let id = validate::record_id(record_id)?;
    let related = validate::related_list(related_list.trim())?;
    if let Some((_, instead)) = NOT_RELATIONS.iter().find(|(list, _)| list.eq_ignore_ascii_case(related)) {
        return Err(ZohoError::invalid_input(format!("related-list {related} holds the record's own {}, not linked records: use {instead}", related.to_ascii_lowercase())));
    }
    let related_id = validate::record_id(related_record_id.trim())
        .map_err(|_| ZohoError::invalid_input(format!("related-record-id {:?} is not a Zoho record id: ids are numbers such as 5725767000000524157", shown(related_record_id))))?;
    Ok(Relation { module, id, related, related_id })
}

impl Relation<'_> {
    fn path(&self) -> String {
        format!("/crm/v8/{}/{}/{}/{}", self.module, self.id, self.related, self.related_id)
    }
}

/// The one record of the PUT body: the related record's id, then the relation's fields as given.
fn link_body(related_id: &str, values: Option<&str>) -> Result<String> {
    let mut members = Vec::new();
    if let Some(text) = values.map(str::trim).filter(|v| !v.is_empty()) {
        members = json::input_object("values", text, MAX_RELATION_VALUES_BYTES)?;
    }
    if members.iter().any(|(name, _)| name == "id") {
        return Err(ZohoError::invalid_input("values must not hold id: the related record is named by related-record-id"));
    }
    let id = serde_json::value::to_raw_value(related_id).map_err(|e| ZohoError::invalid_input(e.to_string()))?;
    let mut record: Vec<(String, &serde_json::value::RawValue)> = vec![("id".into(), &id)];
    record.extend(members);
    Ok(format!("{{\"data\":[{}]}}", json::object_text(&record)))
}

pub fn link_related_record(client: &Client, input: &LinkRelatedRecordInput) -> Result<String> {
    let relation = relation(&input.record_type, &input.record_id, &input.related_list, &input.related_record_id)?;
    let body = link_body(relation.related_id, input.values.as_deref())?;
    let call = ApiCall::new(Method::Put, relation.path()).body(Body::new("application/json", body.into_bytes()));
    single_outcome(&client.send(call)?)
}

pub fn unlink_related_record(client: &Client, input: &UnlinkRelatedRecordInput) -> Result<String> {
    let relation = relation(&input.record_type, &input.record_id, &input.related_list, &input.related_record_id)?;
    single_outcome(&client.send(ApiCall::new(Method::Delete, relation.path()))?).map_err(|mut e| {
        // Zoho's "relation not found" (zoho/crm-oas delinkRelatedRecords example
        // `response-400-relationnotfound`): the two records are not linked, so the relation
        // asked for is not there.
        if e.code.as_deref() == Some("INVALID_DATA") && e.message.eq_ignore_ascii_case("relation not found") {
            e.kind = crate::error::ErrorKind::NotFound;
        }
        e
    })
}

fn shown(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_names_the_related_record_first_and_keeps_the_fields_as_given() {
        assert_eq!(link_body("42", None).unwrap(), r#"{"data":[{"id":"42"}]}"#);
        assert_eq!(link_body("42", Some(" ")).unwrap(), r#"{"data":[{"id":"42"}]}"#);
        assert_eq!(link_body("42", Some(r#"{"Member_Status":"Active","list_price":50.56}"#)).unwrap(), r#"{"data":[{"id":"42","Member_Status":"Active","list_price":50.56}]}"#);
        for bad in [r#"{"id":"7"}"#, "[1]", "\"x\"", "{", &format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_RELATION_VALUES_BYTES))] {
            assert!(link_body("42", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_part_of_the_path_is_checked() {
        assert_eq!(relation("Leads", "1", " Campaigns ", "2").unwrap().path(), "/crm/v8/Leads/1/Campaigns/2");
        for (module, id, list, related) in [
            ("Leads", "1", "../Contacts", "2"),
            ("Leads", "1", "Campaigns/2", "2"),
            ("Leads", "1", "Notes", "2"),
            ("Leads", "1", "attachments", "2"),
            ("Leads", "1", "Campañas", "2"),
            ("Leads", "1", "Campaigns", "2?x=1"),
            ("Leads", "1", "Campaigns", ""),
            ("Leads", "x", "Campaigns", "2"),
            ("Le/ads", "1", "Campaigns", "2"),
        ] {
            assert!(relation(module, id, list, related).is_err(), "{module} {id} {list} {related}");
        }
    }
}
