//! Zoho Books streams beside the CRM ones: `books_<resource>` (invoices, bills, contacts, ...:
//! every resource the Books sweep reads) for the connection's organization (its
//! `books-organization-id`, else the account's default), and `books_<organization id>_<resource>`
//! for one named organization, which discovery lists for every organization when the connection
//! names none and the account has several (as hotglue's tap-zohobooks reads each organization).
//! CRM stream names are unchanged: a Books stream is always lower-case `books_...`.
//!
//! A Books stream is the Books sweep ([`crate::books::sweep`]) kept under the stream's own scope,
//! `sync/<stream>/<organization id>`: the stream and the Books sweep action never take each
//! other's changes, and a stream whose connection moves to another organization starts that
//! organization's sweep from the anchor instead of carrying a cursor that means nothing there.

use crate::books::sweep::list::{sweepable, Resource, SWEEPABLE};
use crate::books::sweep::{self, Step};
use crate::books::{limits, organization};
use crate::client::Client;
use crate::error::{Result, ZohoError};
use crate::incremental::{commit, normalize};
use crate::wit::sync::ReadStreamPageInput;
use serde_json::{json, Value};

const PREFIX: &str = "books_";

/// A Books stream: its resource and, when the name carries one, its organization.
#[derive(Debug)]
pub struct BooksStream {
    pub resource: &'static Resource,
    pub organization_id: Option<String>,
}

/// The Books stream `stream` names, `None` for a CRM stream, or why a `books_` name is none.
pub fn parse(stream: &str) -> Option<Result<BooksStream>> {
    let rest = stream.trim().strip_prefix(PREFIX)?;
    let (organization_id, resource) = match rest.split_once('_') {
        Some((org, resource)) if !org.is_empty() && org.len() <= 32 && org.bytes().all(|b| b.is_ascii_digit()) => (Some(org.to_string()), resource),
        _ => (None, rest),
    };
    Some(
        sweepable(resource)
            .map(|resource| BooksStream { resource, organization_id })
            .map_err(|e| ZohoError::invalid_input(format!("stream {:?} is not a Books stream: use books_<resource> or books_<organization id>_<resource> ({})", stream.trim(), e.message))),
    )
}

/// The stream's organization: the one its name carries, else the connection's.
fn organization_of(client: &Client, stream: &BooksStream) -> Result<String> {
    match &stream.organization_id {
        Some(id) => Ok(id.clone()),
        None => organization::organization_id(client, client.books_organization_id()),
    }
}

/// The stream's scope: its name and organization.
pub fn scope_of(stream: &str, organization_id: &str) -> String {
    format!("sync/{}/{organization_id}", stream.trim())
}

fn descriptor(name: String, resource: &Resource, organization_id: Option<&str>) -> Value {
    json!({
        "stream": name,
        "source": "books",
        "resource": resource.name,
        "organization_id": organization_id,
        "incremental": true,
        "cursor_field": "last_modified_time",
        "primary_key": resource.id_member,
        "read_by": "books-list",
    })
}

/// The Books streams: `books_<resource>` for the connection's organization, and, when
/// `per_organization` and the connection names none, `books_<id>_<resource>` for each of the
/// account's organizations when it has several (one `GET /books/v3/organizations`). An account
/// without Books, or a token without Books' scopes, is a warning, never a failed discovery.
pub fn discover(client: &Client, per_organization: bool) -> (Vec<Value>, Vec<String>) {
    let named = crate::connection::given(client.books_organization_id());
    let mut streams: Vec<Value> = SWEEPABLE.iter().map(|r| descriptor(format!("{PREFIX}{}", r.name), r, named)).collect();
    let mut warnings = Vec::new();
    if !per_organization || named.is_some() {
        return (streams, warnings);
    }
    match organization::organizations(client) {
        Ok(organizations) if organizations.len() > 1 => {
            for id in organizations.iter().filter_map(organization::id_of) {
                streams.extend(SWEEPABLE.iter().map(|r| descriptor(format!("{PREFIX}{id}_{}", r.name), r, Some(&id))));
            }
        }
        Ok(_) => {}
        Err(e) => warnings.push(format!("Zoho Books' organizations could not be listed ({}): only the books_<resource> streams of the connection's default organization are listed", e.message)),
    }
    (streams, warnings)
}

/// A page of a Books stream: the Books sweep's page under the stream's scope, from the anchor
/// on its first sweep. `fields` and slices are CRM's (Books lists answer whole records and
/// number their pages), so they are refused rather than ignored.
pub fn read_page(client: &Client, stream: &BooksStream, input: &ReadStreamPageInput, anchor: String) -> Result<crate::incremental::SweepPage> {
    let name = input.stream.trim();
    if input.fields.as_deref().is_some_and(|f| !f.trim().is_empty()) {
        return Err(ZohoError::invalid_input(format!("fields applies to CRM streams only: Books lists answer whole records, so {name} takes no fields")));
    }
    if input.slices.is_some_and(|n| n > 1) || input.slice.is_some_and(|n| n > 1) {
        return Err(ZohoError::invalid_input(format!("{name} is read as one walk: slices apply to CRM streams only (Books numbers its pages and offers no count to balance slices by)")));
    }
    let anchor = normalize("anchor-date", anchor.trim())?;
    let organization_id = organization_of(client, stream)?;
    if let Some(share) = input.backoff_at_credit_percentage {
        limits::check_daily_allowance(client.storage, &organization_id, share)?;
    }
    let step = Step {
        resource: stream.resource,
        organization_id: &organization_id,
        scope: scope_of(name, &organization_id),
        page: input.page,
        per_page: input.per_page,
        since: None,
        anchor: Some(anchor),
        line_items: false,
    };
    let mut page = sweep::step_page(client, &step)?;
    page.organization_id = Some(organization_id);
    Ok(page)
}

/// Commits a finished Books stream's sweep.
pub fn commit_stream(client: &Client, stream: &BooksStream, name: &str) -> Result<Value> {
    let organization_id = organization_of(client, stream)?;
    let mut committed = commit(client, stream.resource.name, Some(&scope_of(name, &organization_id)), None)?;
    committed["stream"] = json!(name.trim());
    committed["organization_id"] = json!(organization_id);
    Ok(committed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn books_names_parse_and_crm_names_are_left_alone() {
        let plain = parse("books_invoices").unwrap().unwrap();
        assert_eq!((plain.resource.name, plain.organization_id), ("invoices", None));
        let named = parse(" books_10234695_recurringinvoices ").unwrap().unwrap();
        assert_eq!((named.resource.name, named.organization_id.as_deref()), ("recurringinvoices", Some("10234695")));
        for crm in ["contacts", "Books_Invoices", "invoices"] {
            assert!(parse(crm).is_none(), "{crm}");
        }
        for bad in ["books_journals", "books_", "books_1_", "books_x_invoices", "books_1_journals"] {
            assert_eq!(parse(bad).unwrap().unwrap_err().kind, crate::error::ErrorKind::InvalidInput, "{bad}");
        }
    }
}
