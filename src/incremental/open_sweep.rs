//! A page past 1 continues an open sweep. Without one (never opened, committed, expired from
//! the store, or a host store that keeps nothing between steps) it would be page N of a new
//! sweep whose pages before N were never delivered: refused, never a silent restart.

use super::state::{load, sweep_key, Sweep};
use crate::client::Client;
use crate::error::{Result, ZohoError};

/// Refuses `page` > 1 of `scope` when no sweep is open, before anything is sent.
pub fn require_for_page(client: &Client, scope: &str, page: Option<u32>) -> Result<()> {
    let Some(page) = page.filter(|&p| p > 1) else { return Ok(()) };
    let open = load::<Sweep>(client, &sweep_key(scope))?.is_some_and(|sweep| !sweep.sweep.is_empty());
    if open {
        return Ok(());
    }
    Err(ZohoError::invalid_input(format!(
        "page {page} continues a sweep of {scope}, and none is open: ask page 1 (or no page) to open one. If page 1 was read, the sweep was committed or expired, or the host's key-value store did not keep it between steps (it must be durable: see the README's \"Key-value contract\")"
    )))
}

#[cfg(test)]
mod tests {
    use crate::client::Client;
    use crate::testing::Fixture;

    use crate::error::ErrorKind;

    use crate::incremental::{list_modified_records, SweepRequest};

    use crate::storage::memory::Memory;
    use crate::storage::Storage;

    const ONE_ROW: &str = r#"{"data":[{"id":"1","Modified_Time":"2024-01-01T00:00:00+00:00","Last_Name":"a"}],"info":{"count":1,"more_records":true}}"#;

    fn page(n: u32) -> SweepRequest {
        SweepRequest { record_type: "Leads".into(), page: Some(n), per_page: Some(1), fields: Some("Last_Name".into()), ..Default::default() }
    }

    /// Attack: a store that keeps nothing between steps turned "page 2" into a new sweep; with no
    /// open sweep a page past 1 is refused before any request, whatever the page.
    #[test]
    fn a_page_past_one_without_an_open_sweep_is_refused_before_anything_is_sent() {
        let fixture = Fixture::default();
        let (transport, options, connection) = (&fixture.transport, &fixture.options, &fixture.connection);
        for n in [2, 3, 21, u32::MAX] {
            let fresh = Memory::default();
            let client = Client::new(connection, options, transport, &fresh).unwrap();
            let refused = list_modified_records(&client, &page(n)).unwrap_err();
            assert_eq!(refused.kind, ErrorKind::InvalidInput);
            assert_eq!(
                refused.message,
                format!("page {n} continues a sweep of Leads, and none is open: ask page 1 (or no page) to open one. If page 1 was read, the sweep was committed or expired, or the host's key-value store did not keep it between steps (it must be durable: see the README's \"Key-value contract\")")
            );
        }
        assert!(transport.sent.borrow().is_empty());
        // Unreadable sweep state is no open sweep either.
        let garbage = Memory::default();
        garbage.set("incremental/Leads/sweep", b"{not json").unwrap();
        let client = Client::new(connection, options, transport, &garbage).unwrap();
        assert_eq!(list_modified_records(&client, &page(2)).unwrap_err().kind, ErrorKind::InvalidInput);
        assert!(transport.sent.borrow().is_empty());
    }

    /// Page 1 opens the sweep; page 2 then continues it; wiping the store between the steps (a
    /// store that keeps nothing) makes page 2 an error, never page 1 again.
    #[test]
    fn page_two_continues_the_sweep_page_one_opened_and_fails_once_the_store_forgot_it() {
        let fixture = Fixture::default();
        let (transport, storage) = (&fixture.transport, &fixture.storage);
        let client = fixture.client();
        // The named field's type is read from the module's field metadata once (then cached).
        transport.answer(200, r#"{"fields":[{"api_name":"Last_Name","data_type":"text"}]}"#);
        transport.answer(200, ONE_ROW);
        list_modified_records(&client, &page(1)).unwrap();
        transport.answer(200, r#"{"data":[],"info":{"count":0,"more_records":false}}"#);
        list_modified_records(&client, &page(2)).unwrap();
        assert_eq!(transport.sent.borrow().len(), 3);
        storage.0.borrow_mut().clear();
        assert_eq!(list_modified_records(&client, &page(2)).unwrap_err().kind, ErrorKind::InvalidInput);
        assert_eq!(transport.sent.borrow().len(), 3);
    }
}
