//! `include-line-items`: Books' lists leave out line items (and a contact's persons, an item's
//! stock details...); a record's own `GET /books/v3/{resource}/{id}` answers them (Zoho Books
//! API v3, each resource's "Get ..." page). One request per record, each counted against
//! Books' daily and per-minute limits by the client like every Books call.

use super::list::Resource;
use crate::books::envelope;
use crate::client::{ApiCall, Client};
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::Method;
use crate::incremental::keyset::Row;

/// The bytes of detailed records one page holds at most: a page of details past it is refused
/// (ask fewer per page) rather than held.
pub const DETAILS_BYTES_BUDGET: usize = 32 << 20;

/// Replaces each row's listed text with its detail. A record deleted since it was listed
/// (Books' 404, code 1002) stays as listed: it was there when the list was read.
pub fn read(client: &Client, resource: &Resource, organization_id: &str, rows: &mut [Row]) -> Result<()> {
    let mut held: usize = 0;
    for row in rows.iter_mut() {
        let Some(id) = row.id.clone() else { continue };
        let call = ApiCall::new(Method::Get, format!("/books/v3/{}/{id}", resource.name)).query("organization_id", organization_id);
        let response = match client.send(call) {
            Ok(response) => response,
            Err(e) if e.kind == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let detail = match envelope::open(&response) {
            Ok(envelope) => envelope::take(&envelope, resource.singular)?.to_owned(),
            Err(e) if e.kind == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        held = held.saturating_add(detail.get().len());
        if held > DETAILS_BYTES_BUDGET {
            return Err(ZohoError::new(
                ErrorKind::Zoho,
                format!("the details of this page's {} are larger than {} MiB together: ask fewer records per page with include-line-items", resource.name, DETAILS_BYTES_BUDGET >> 20),
            ));
        }
        if !detail.get().trim_start().starts_with('{') {
            return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho Books answered {} {id} with a {} that is not an object", resource.name, resource.singular)));
        }
        row.text = detail;
    }
    Ok(())
}
