//! Convert a lead into a contact, an account and optionally a deal.

use crate::client::{ApiCall, Client};
use crate::crm::response::single_outcome;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Body, Method};
use crate::json;
use crate::validate;
use crate::wit::crm::ConvertLeadInput;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

/// Zoho charges 5 credits for a conversion (its published API-credits table).
pub const CONVERT_CREDITS: u64 = 5;
/// Largest `deal` object: one record's fields.
pub const MAX_DEAL_BYTES: usize = 1 << 20;

/// An id input (accounts, contacts, assign-to) checked as a Zoho id, named in the message.
fn id_of<'a>(what: &str, id: Option<&'a str>) -> Result<Option<&'a str>> {
    match id.map(str::trim).filter(|i| !i.is_empty()) {
        None => Ok(None),
        Some(id) => validate::record_id(id).map(Some).map_err(|_| ZohoError::invalid_input(format!("{what} {id:?} is not a Zoho id: ids are numbers such as 5725767000000524157"))),
    }
}

fn raw(text: String) -> Result<Box<RawValue>> {
    RawValue::from_string(text).map_err(|e| ZohoError::new(ErrorKind::Internal, format!("composing the convert request: {e}")))
}

/// `{"data":[{...}]}` with only the keys given; the deal's fields pass as the caller's text.
fn convert_body(input: &ConvertLeadInput) -> Result<Body> {
    let mut members: Vec<(String, Box<RawValue>)> = Vec::new();
    let flags = [("overwrite", input.overwrite), ("notify_lead_owner", input.notify_lead_owner), ("notify_new_entity_owner", input.notify_new_entity_owner)];
    for (key, flag) in flags {
        if let Some(flag) = flag {
            members.push((key.into(), raw(json!(flag).to_string())?));
        }
    }
    let ids = [("Accounts", "accounts", &input.accounts), ("Contacts", "contacts", &input.contacts), ("assign_to", "assign-to", &input.assign_to)];
    for (key, what, id) in ids {
        if let Some(id) = id_of(what, id.as_deref())? {
            members.push((key.into(), raw(json!({ "id": id }).to_string())?));
        }
    }
    if let Some(deal) = input.deal.as_deref().filter(|d| !d.trim().is_empty()) {
        let fields = json::input_object("deal", deal, MAX_DEAL_BYTES)?;
        members.push(("Deals".into(), raw(json::object_text(&fields))?));
    }
    Ok(Body::new("application/json", format!("{{\"data\":[{}]}}", json::object_text(&members)).into_bytes()))
}

/// One converted record as Zoho names it in `details` (`{"id","name"}`), or null.
#[derive(Deserialize)]
struct Converted {
    id: Option<String>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct Details {
    Contacts: Option<Converted>,
    Accounts: Option<Converted>,
    Deals: Option<Converted>,
}

#[derive(Deserialize)]
struct Outcome {
    code: Option<String>,
    details: Option<Details>,
}

/// A scheduled conversion's outcome: `details.job_id`.
#[derive(Deserialize)]
struct Scheduled {
    details: Option<Job>,
}

#[derive(Deserialize)]
struct Job {
    job_id: Option<String>,
}

fn odd_answer(why: &str) -> ZohoError {
    ZohoError::new(ErrorKind::Zoho, format!("Zoho answered the conversion without {why}")).with_status(200)
}

/// A converted record's id, which must be a Zoho id (never any text an answer carries).
fn converted_id(what: &str, record: Option<Converted>) -> Result<Option<String>> {
    match record.and_then(|r| r.id) {
        None => Ok(None),
        Some(id) if validate::record_id(&id).is_ok() => Ok(Some(id)),
        Some(_) => Err(odd_answer(&format!("a Zoho id for {what}"))),
    }
}

pub fn convert_lead(client: &Client, input: &ConvertLeadInput) -> Result<String> {
    let id = validate::record_id(&input.record_id)?;
    let body = convert_body(input)?;
    let call = ApiCall::new(Method::Post, format!("/crm/v8/Leads/{id}/actions/convert")).body(body).credits(CONVERT_CREDITS);
    let response = client.send(call)?;
    let text = single_outcome(&response)?;
    // Zoho may run the conversion as a job: 202 with `{"code":"SCHEDULED","details":{"job_id"}}`
    // (zoho/crm-oas convert/operations/convertLead, example response-202-scheduledconversion).
    // That is a success the flow branches on; retried, it would be ID_ALREADY_CONVERTED.
    if serde_json::from_str::<Outcome>(&text).ok().and_then(|o| o.code).as_deref() == Some("SCHEDULED") {
        let scheduled: Scheduled = serde_json::from_str(&text).map_err(|e| odd_answer(&format!("the scheduled job's details ({e})")))?;
        let job_id = scheduled.details.and_then(|d| d.job_id).filter(|id| validate::record_id(id).is_ok());
        let job_id = job_id.ok_or_else(|| odd_answer("a Zoho job id for the scheduled conversion").with_status(response.status))?;
        return Ok(json!({ "status": "scheduled", "job_id": job_id, "Contacts": null, "Accounts": null, "Deals": null }).to_string());
    }
    // Only the three ids are read; everything else in the outcome is skipped unbuilt.
    let outcome: Outcome = serde_json::from_str(&text).map_err(|e| odd_answer(&format!("the expected details ({e})")))?;
    let details = outcome.details.ok_or_else(|| odd_answer("details"))?;
    let contact = converted_id("Contacts", details.Contacts)?.ok_or_else(|| odd_answer("the contact's id"))?;
    let account = converted_id("Accounts", details.Accounts)?;
    let deal = converted_id("Deals", details.Deals)?;
    Ok(json!({ "status": "converted", "job_id": null, "Contacts": contact, "Accounts": account, "Deals": deal }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ConvertLeadInput {
        ConvertLeadInput { record_id: "1".into(), overwrite: None, notify_lead_owner: None, notify_new_entity_owner: None, accounts: None, contacts: None, assign_to: None, deal: None }
    }

    fn body_of(input: &ConvertLeadInput) -> serde_json::Value {
        serde_json::from_slice(&convert_body(input).unwrap().parts.concat()).unwrap()
    }

    #[test]
    fn only_the_keys_given_are_sent() {
        assert_eq!(body_of(&input()), json!({ "data": [{}] }));
        let full = ConvertLeadInput {
            overwrite: Some(true),
            notify_lead_owner: Some(false),
            notify_new_entity_owner: Some(true),
            accounts: Some("11".into()),
            contacts: Some(" 12 ".into()),
            assign_to: Some("13".into()),
            deal: Some(r#"{"Deal_Name":"D","Amount":1.5e3}"#.into()),
            ..input()
        };
        assert_eq!(
            body_of(&full),
            json!({ "data": [{ "overwrite": true, "notify_lead_owner": false, "notify_new_entity_owner": true,
                "Accounts": { "id": "11" }, "Contacts": { "id": "12" }, "assign_to": { "id": "13" }, "Deals": { "Deal_Name": "D", "Amount": 1.5e3 } }] })
        );
    }

    #[test]
    fn bad_ids_and_deals_are_refused() {
        assert!(convert_body(&ConvertLeadInput { accounts: Some("x1".into()), ..input() }).unwrap_err().message.starts_with("accounts"));
        assert!(convert_body(&ConvertLeadInput { assign_to: Some("1\u{0}".into()), ..input() }).unwrap_err().message.starts_with("assign-to"));
        assert!(convert_body(&ConvertLeadInput { deal: Some("[1]".into()), ..input() }).unwrap_err().message.contains("JSON object"));
        let big = format!(r#"{{"Deal_Name":"{}"}}"#, "d".repeat(MAX_DEAL_BYTES));
        assert!(convert_body(&ConvertLeadInput { deal: Some(big), ..input() }).unwrap_err().message.starts_with("deal is"));
    }
}
