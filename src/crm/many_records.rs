//! CRM v8 "Update Records" (`PUT /crm/v8/{module}`, each record naming its `id`) and "Delete
//! Records" (`DELETE /crm/v8/{module}?ids=`), up to 100 records a request (record.json;
//! https://www.zoho.com/crm/developer/docs/api/v8/update-records.html and delete-records.html).
//! Every record's outcome is reported in the order given: a mix of successes and failures
//! (Zoho's 207) is a success listing each; all failed is the step's error carrying every
//! outcome. Inputs are checked before the first request: ids are Zoho ids, each record once.

use crate::client::{ApiCall, Client};
use crate::crm::field_checks::{self, Write};
use crate::crm::records::{check_trigger, records_from_values, write_body, MAX_RECORDS_PER_WRITE};
use crate::crm::response::{listing_text, write_outcomes};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Response};
use crate::json;
use crate::validate;
use crate::wit::crm::{RemoveRecordsInput, UpdateRecordsInput};
use std::collections::HashSet;

pub fn update_records(client: &Client, input: &UpdateRecordsInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let (records, single) = records_from_values(&input.values, input.dynamic_fields.as_deref())?;
    if single {
        return Err(ZohoError::invalid_input("values must be a JSON array of records, each with its \"id\": update-records changes up to 100 records (update-record changes one)"));
    }
    let mut seen = HashSet::with_capacity(records.len());
    let mut sent_ids = Vec::with_capacity(records.len());
    for (n, record) in records.iter().enumerate() {
        let id = id_of(record).map_err(|why| ZohoError::invalid_input(format!("values[{n}] {why}")))?;
        // Zoho reads an id as a number: "0001" and "1" name the same record.
        let number = validate::record_number(&id);
        if !seen.insert(number) {
            return Err(ZohoError::invalid_input(format!("values[{n}] names record {id} again: give each record once")));
        }
        sent_ids.push(number);
    }
    check_trigger(&input.trigger)?;
    field_checks::check(client, module, &records, Write::Update)?;
    let body = write_body(records, &input.trigger)?;
    let response = client.send(ApiCall::new(Method::Put, format!("/crm/v8/{module}")).body(body))?;
    outcomes_of(&response, &sent_ids)
}

/// Every record's outcome, in the order sent: Zoho answers them in that order, so an outcome
/// naming another record than the one sent in its place is an answer not to be trusted (it
/// would report one record's fate as another's), never passed on.
fn outcomes_of(response: &Response, sent: &[u64]) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct Outcome<'a> {
        #[serde(borrow, default)]
        details: Option<Details<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Details<'a> {
        #[serde(borrow, default)]
        id: Option<&'a str>,
    }
    let items = write_outcomes(response, sent.len())?;
    for (n, (item, id)) in items.iter().zip(sent).enumerate() {
        let named = serde_json::from_str::<Outcome>(item.get()).ok().and_then(|o| o.details?.id);
        if let Some(named) = named.filter(|named| validate::record_id(named).map(validate::record_number).ok() != Some(*id)) {
            let shown: String = named.chars().take(40).collect();
            return Err(
                ZohoError::new(ErrorKind::Zoho, format!("Zoho's outcome {n} names record {shown:?}, not {id}, the record sent in its place; the answer is not trusted")).with_status(response.status)
            );
        }
    }
    Ok(listing_text(items.iter().map(|r| r.get()), None))
}

/// A record's `id`: a JSON string holding a Zoho id (a number would lose digits on the way
/// through many platforms, so Zoho's own form, the string, is asked for).
fn id_of(record: &str) -> std::result::Result<String, String> {
    let members = json::members(record, usize::MAX).map_err(|_| "is not a JSON object".to_string())?;
    let Some((_, value)) = members.iter().find(|(k, _)| k == "id") else {
        return Err("has no \"id\": each record names the record to change, e.g. {\"id\":\"5725767000000524157\",...}".into());
    };
    let id: String = serde_json::from_str(value.get()).map_err(|_| format!("has \"id\": {}, not a string of digits such as \"5725767000000524157\"", json::kind_of(value.get())))?;
    validate::record_id(&id).map_err(|e| e.message)?;
    Ok(id)
}

pub fn remove_records(client: &Client, input: &RemoveRecordsInput) -> Result<String> {
    let module = validate::module_name(&input.record_type)?;
    let ids = validate::distinct_record_ids(&input.record_ids, MAX_RECORDS_PER_WRITE)?;
    let mut call = ApiCall::new(Method::Delete, format!("/crm/v8/{module}")).query("ids", ids.join(","));
    if let Some(trigger) = input.trigger {
        call = call.query("wf_trigger", trigger.to_string());
    }
    let response = client.send(call)?;
    let sent_ids: Vec<u64> = ids.iter().map(|id| validate::record_number(id)).collect();
    outcomes_of(&response, &sent_ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn update(values: &str) -> Result<String> {
        let f = Fixture::default();
        let input = UpdateRecordsInput { record_type: "Leads".into(), values: values.into(), dynamic_fields: None, trigger: None };
        let outcome = update_records(&f.client(), &input);
        assert_eq!(f.sent(), 0, "refused before any request");
        outcome
    }

    fn remove(ids: &[&str]) -> Result<String> {
        let f = Fixture::default();
        let input = RemoveRecordsInput { record_type: "Leads".into(), record_ids: ids.iter().map(|s| s.to_string()).collect(), trigger: None };
        let outcome = remove_records(&f.client(), &input);
        assert_eq!(f.sent(), 0, "refused before any request");
        outcome
    }

    /// A record naming "id" twice is read by its last "id", as it is sent (the body is written
    /// from the same members): the record it changes is the one checked against the others.
    #[test]
    fn a_record_naming_its_id_twice_is_checked_by_the_id_sent() {
        let e = update(r#"[{"id":"1","id":"2","Last_Name":"A"},{"id":"2","Last_Name":"B"}]"#).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::InvalidInput);
        assert!(e.message.contains("values[1] names record 2 again"), "{}", e.message);
    }

    /// Zoho reads an id as a number: "0001" and "1" are the same record.
    #[test]
    fn an_id_with_leading_zeros_is_the_same_record() {
        let e = update(r#"[{"id":"05725767000000524157"},{"id":"5725767000000524157"}]"#).unwrap_err();
        assert!(e.message.contains("values[1] names record 5725767000000524157 again"), "{}", e.message);
        let e = remove(&["5725767000000524157", "05725767000000524157"]).unwrap_err();
        assert!(e.message.contains("names 05725767000000524157 twice"), "{}", e.message);
    }

    #[test]
    fn ids_with_whitespace_or_past_u64_are_refused() {
        for id in [" 1", "1 ", "18446744073709551616", "", "１"] {
            assert!(remove(&[id]).is_err(), "{id:?}");
            assert!(update(&format!(r#"[{{"id":{}}}]"#, serde_json::to_string(id).unwrap())).is_err(), "{id:?}");
        }
        assert!(remove(&[]).is_err());
        let many: Vec<String> = (1..=101).map(|n| n.to_string()).collect();
        assert!(remove(&many.iter().map(String::as_str).collect::<Vec<_>>()).unwrap_err().message.contains("holds 101 ids"));
    }

    fn removed(ids: &[&str], status: u16, answer: &str) -> (Result<String>, usize) {
        let f = Fixture::default();
        f.answer(status, answer);
        let input = RemoveRecordsInput { record_type: "Leads".into(), record_ids: ids.iter().map(|s| s.to_string()).collect(), trigger: None };
        let outcome = remove_records(&f.client(), &input);
        (outcome, f.sent())
    }

    fn item(id: &str, ok: bool) -> String {
        if ok {
            format!(r#"{{"code":"SUCCESS","details":{{"id":"{id}"}},"message":"record deleted","status":"success"}}"#)
        } else {
            format!(r#"{{"code":"INVALID_DATA","details":{{"id":"{id}"}},"message":"the related id given seems to be invalid","status":"error"}}"#)
        }
    }

    /// An answer with more or fewer outcomes than ids sent is not trusted (a record's outcome
    /// would be missing or invented); all failed is an error carrying every outcome.
    #[test]
    fn outcomes_are_one_per_id_and_all_failed_carries_every_one() {
        let ids = ["1", "2", "3"];
        for n in [0, 2, 4] {
            let items: Vec<String> = (0..n).map(|i| item(&i.to_string(), true)).collect();
            let (outcome, sent) = removed(&ids, 200, &format!(r#"{{"data":[{}]}}"#, items.join(",")));
            let e = outcome.unwrap_err();
            assert_eq!((e.kind, sent), (crate::error::ErrorKind::Zoho, 1), "{n}: {}", e.message);
        }
        let mixed = format!(r#"{{"data":[{},{},{}]}}"#, item("1", true), item("2", false), item("3", true));
        let (outcome, _) = removed(&ids, 207, &mixed);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&outcome.unwrap()).unwrap()["data"].as_array().unwrap().len(), 3);
        let failed = format!(r#"{{"data":[{},{},{}]}}"#, item("1", false), item("2", false), item("3", false));
        let (outcome, _) = removed(&ids, 400, &failed);
        let e = outcome.unwrap_err();
        assert_eq!(e.details.as_ref().and_then(|d| d["data"].as_array()).map(Vec::len), Some(3), "{e:?}");
    }

    /// An outcome naming another record than the one sent in its place (Zoho answers in the
    /// order sent) is not passed on as that record's fate; the same id written with leading
    /// zeros is the same record.
    #[test]
    fn an_outcome_naming_another_record_is_not_trusted() {
        let ids = ["1", "2", "3"];
        let swapped = format!(r#"{{"data":[{},{},{}]}}"#, item("2", true), item("1", true), item("3", true));
        let e = removed(&ids, 200, &swapped).0.unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Zoho);
        assert!(e.message.contains("outcome 0 names record \"2\", not 1"), "{}", e.message);
        let odd = format!(r#"{{"data":[{},{},{}]}}"#, item("1", true), item("x", false), item("3", true));
        assert!(removed(&ids, 207, &odd).0.unwrap_err().message.contains("outcome 1"));
        let zeros = format!(r#"{{"data":[{},{},{}]}}"#, item("0001", true), item("2", true), item("3", true));
        assert!(removed(&ids, 200, &zeros).0.is_ok());
    }
}
