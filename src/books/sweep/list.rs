//! A Zoho Books list as the sweep's walk reads it: `GET /books/v3/{resource}?organization_id=
//! &last_modified_time=<second>&sort_column=last_modified_time&sort_order=A&page=&per_page=200`
//! (Zoho Books API v3, each resource's "List ..." page: `last_modified_time` lists the records
//! modified at or after the time, written `2016-06-11T17:38:06-0700`; `sort_column` and
//! `sort_order` A|D; `page`, `per_page` at most 200; the answer's `page_context.has_more_page`).
//!
//! Where a resource's page is silent on the filter or the sort, the walk does not take them on
//! trust: it asks from a second early until a record at the asked second shows the filter is
//! inclusive (either reading lists every record it must), and an answer with a record before
//! the asked second or out of ascending order is an error (the records walk's check), never a
//! silent gap. Journals are not swept: their list answers records modified exactly at
//! `last_modified_time` (an equality, as hotglue's tap-zohobooks and CData's Books driver
//! found), shows the current month's journals unless filtered otherwise, and no sort by
//! modification time is documented for it; a walk from a second cannot read such a list.

use crate::books::envelope;
use crate::client::ApiCall;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Response};
use crate::incremental::keyset::Row;
use crate::incremental::records_walk::{Address, Answer, Listing, PER_REQUEST};
use crate::json;
use crate::zoho_time::parse_iso;
use serde_json::value::RawValue;

/// Pages one crowded second's walk may number (200 records each): Books numbers pages without
/// a reach, so the crowded walk's own bound (`MAX_CROWDED_PAGES`) is the limit.
const LAST_PAGE: u32 = 500;
/// Members one Books record in a list may have (an invoice lists about 60).
const MAX_RECORD_MEMBERS: usize = 2_000;

/// A resource the sweep reads: its path name, the list's plural key, the detail's singular
/// key and the record's id member (Zoho Books API v3, each resource's list and get pages).
#[derive(Debug)]
pub struct Resource {
    pub name: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub id_member: &'static str,
}

const fn resource(name: &'static str, plural: &'static str, singular: &'static str, id_member: &'static str) -> Resource {
    Resource { name, plural, singular, id_member }
}

/// Every Books resource whose list filters and sorts by `last_modified_time`.
pub const SWEEPABLE: [Resource; 12] = [
    resource("invoices", "invoices", "invoice", "invoice_id"),
    resource("bills", "bills", "bill", "bill_id"),
    resource("contacts", "contacts", "contact", "contact_id"),
    resource("estimates", "estimates", "estimate", "estimate_id"),
    resource("salesorders", "salesorders", "salesorder", "salesorder_id"),
    resource("purchaseorders", "purchaseorders", "purchaseorder", "purchaseorder_id"),
    resource("creditnotes", "creditnotes", "creditnote", "creditnote_id"),
    resource("customerpayments", "customerpayments", "payment", "payment_id"),
    resource("vendorpayments", "vendorpayments", "vendorpayment", "payment_id"),
    resource("expenses", "expenses", "expense", "expense_id"),
    resource("items", "items", "item", "item_id"),
    resource("recurringinvoices", "recurring_invoices", "recurring_invoice", "recurring_invoice_id"),
];

/// The sweepable resource named `name`, or why it cannot be swept.
pub fn sweepable(name: &str) -> Result<&'static Resource> {
    if let Some(found) = SWEEPABLE.iter().find(|r| r.name == name) {
        return Ok(found);
    }
    let names: Vec<&str> = SWEEPABLE.iter().map(|r| r.name).collect();
    if name == "journals" {
        return Err(ZohoError::invalid_input(format!(
            "journals cannot be swept: Zoho Books' journals list matches last_modified_time exactly (not from a time on) and documents no sort by modification time, so no walk from a cursor reads every change; list them with Books - Get Records. Swept resources: {}",
            names.join(", ")
        )));
    }
    Err(ZohoError::invalid_input(format!("record-type {name:?} is not a Zoho Books resource the sweep reads: use one of {}", names.join(", "))))
}

/// `second` as Books writes times in a filter: UTC, the offset without a colon.
pub fn books_time(second: i64) -> String {
    let iso = crate::zoho_time::format_iso(second);
    // format_iso writes `...+00:00`; Books' own shape is `...+0000`.
    match iso.strip_suffix("+00:00") {
        Some(head) => format!("{head}+0000"),
        None => iso,
    }
}

pub struct BooksList<'a> {
    pub resource: &'a Resource,
    pub organization_id: &'a str,
}

impl BooksList<'_> {
    /// A record's id and modification second, read from its members without the rest.
    fn place(&self, raw: &RawValue) -> Option<(i64, String)> {
        let members = json::members(raw.get(), MAX_RECORD_MEMBERS).ok()?;
        let member = |name: &str| members.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        let id = member(self.resource.id_member).and_then(|v| json::raw_str(v).or_else(|| v.get().parse::<u64>().ok().map(|n| n.to_string())))?;
        let time = member("last_modified_time").and_then(json::raw_str).and_then(|t| parse_iso(&t))?;
        crate::validate::record_id(&id).ok()?;
        Some((time, id))
    }
}

impl Listing for BooksList<'_> {
    fn name(&self) -> &str {
        self.resource.name
    }

    fn request(&self, address: &Address, header: Option<i64>) -> ApiCall {
        let mut call = ApiCall::new(Method::Get, format!("/books/v3/{}", self.resource.name)).query("organization_id", self.organization_id);
        if let Some(header) = header {
            call = call.query("last_modified_time", books_time(header));
        }
        let page = match address {
            Address::Page(p) => *p,
            // Books gives no page tokens; `last_page` keeps the walk on numbers.
            Address::Token(_) => LAST_PAGE,
        };
        call.query("sort_column", "last_modified_time").query("sort_order", "A").query("page", page.to_string()).query("per_page", PER_REQUEST.to_string())
    }

    fn answer(&self, response: &Response) -> Result<Answer> {
        let envelope = envelope::open(response)?;
        if envelope.members().is_empty() {
            return Ok(Answer::empty());
        }
        let listed = envelope::take(&envelope, self.resource.plural)?;
        let records = json::items(listed.get().as_bytes(), PER_REQUEST as usize)
            .map_err(|e| ZohoError::new(ErrorKind::Zoho, format!("Zoho Books' {} list could not be read as at most {PER_REQUEST} records ({e})", self.resource.name)).with_status(response.status))?;
        let mut rows = Vec::with_capacity(records.len());
        for raw in records {
            let Some((time, id)) = self.place(raw) else {
                return Err(ZohoError::new(
                    ErrorKind::Zoho,
                    format!("Zoho Books' {} list has a record without a readable {} or last_modified_time: the sweep cannot place it", self.resource.name, self.resource.id_member),
                )
                .with_status(response.status));
            };
            rows.push((time, id.clone(), Row { text: raw.to_owned(), id: Some(id), time: Some(time), key: None }));
        }
        // `has_more_page` says whether a next page exists. A full page is read past even when it
        // says false or is missing: one request more at worst, where an answer that lied would
        // otherwise end the sweep early.
        let has_more = envelope.small("page_context").and_then(|c| c.get("has_more_page").and_then(serde_json::Value::as_bool)).unwrap_or(false);
        let more = has_more || rows.len() >= PER_REQUEST as usize;
        Ok(Answer { rows, more, next_token: None })
    }

    fn last_page(&self) -> u32 {
        LAST_PAGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_swept_resource_is_known_and_journals_are_refused_with_why() {
        for r in &SWEEPABLE {
            assert_eq!(sweepable(r.name).unwrap().name, r.name);
        }
        let refused = sweepable("journals").unwrap_err();
        assert_eq!(refused.kind, ErrorKind::InvalidInput);
        assert!(refused.message.starts_with("journals cannot be swept: Zoho Books' journals list matches last_modified_time exactly"), "{}", refused.message);
        assert_eq!(sweepable("Invoices").unwrap_err().kind, ErrorKind::InvalidInput);
    }

    #[test]
    fn a_filter_time_is_utc_without_a_colon() {
        assert_eq!(books_time(1_465_692_286), "2016-06-12T00:44:46+0000");
        assert_eq!(parse_iso(&books_time(1_465_692_286)), Some(1_465_692_286));
    }
}
