//! `bulk-read-result-page`: records of a completed job's result.
//!
//! Zoho's "Download Bulk Read Result" page (v8): `GET /crm/bulk/v8/read/{job_id}/result` answers
//! the ZIP (`application/x-download`, `bulk_read.json`); "only 10 requests for download are
//! allowed for a one-minute interval" (429 past them); the file can be downloaded for a day.
//!
//! Cost, said plainly: Zoho serves the result only whole, so each page downloads the ZIP again
//! from its start and reads (inflates and parses) it up to the page's end; rows before the
//! offset are read and dropped, never kept. Reading a 200,000-record result in pages of
//! `limit` records downloads it 200,000 / `limit` times and transfers about half the file each
//! time on average, and every download counts against Zoho's 10 a minute: ask for large pages
//! (up to 50,000 records, or what fits 16 MiB of JSON). Memory stays one row, one inflate window
//! and the page's records, whatever the file's size.

use crate::bulk::read_job::job_path;
use crate::bulk::result_csv::ResultPage;
use crate::bulk::zip_stream::ZipStream;
use crate::client::{ApiCall, Client};
use crate::crm::fields::described_if_allowed;
use crate::crm::response::error_from_response;
use crate::error::{Result, ZohoError};
use crate::http::{BodySink, Method};
use crate::validate;
use crate::wit::bulk::ReadResultPageInput;

/// Records a page returns when the caller names no limit.
pub const DEFAULT_LIMIT: u32 = 2_000;
pub const MAX_LIMIT: u32 = 50_000;
/// JSON a page holds at most; the page ends at the record that passes it.
pub const MAX_PAGE_BYTES: usize = 16 << 20;

/// The download's body, unzipped and parsed as it arrives.
struct Download {
    zip: ZipStream,
    page: ResultPage,
    accepted: bool,
}

impl BodySink for Download {
    fn accept(&mut self, status: u16, _headers: &[(String, String)]) -> bool {
        // A retried download starts over.
        self.zip = ZipStream::default();
        self.page = self.page.clone_empty();
        self.accepted = status == 200;
        self.accepted
    }

    fn chunk(&mut self, bytes: &[u8]) -> Result<bool> {
        self.zip.feed(bytes, &mut self.page)
    }
}

/// Up to `limit` records of a completed job's result from `offset` on (at most
/// [`MAX_PAGE_BYTES`] of JSON), typed by the module's field metadata: the page a backfill's
/// step delivers, and `bulk-read-result-page`'s.
pub fn read(client: &Client, job_id: &str, record_type: &str, offset: u64, limit: usize) -> Result<ResultPage> {
    let path = format!("{}/result", job_path(job_id)?);
    let module = validate::module_name(record_type)?;
    // The fields' types; without the metadata scope every value stays text.
    let fields = described_if_allowed(client, module)?.unwrap_or_default();
    let page = ResultPage::new(&fields, offset, limit, MAX_PAGE_BYTES);
    let mut download = Download { zip: ZipStream::default(), page, accepted: false };
    let response = client.send_streaming(ApiCall::new(Method::Get, &path), &mut download)?;
    if !download.accepted {
        return Err(error_from_response(&response));
    }
    if !download.page.stopped {
        download.zip.finish()?;
    }
    Ok(download.page)
}

/// `{"records":[...],"count","offset","next_offset","columns"}`: `next_offset` is null once the
/// result's last record was returned.
pub fn result_page(client: &Client, input: &ReadResultPageInput) -> Result<String> {
    // Checked in the order the request is built: the job, the module, then the page.
    job_path(&input.job_id)?;
    validate::module_name(&input.record_type)?;
    let limit = match input.limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => n as usize,
        n => return Err(ZohoError::invalid_input(format!("limit {n} is out of range: 1 to {MAX_LIMIT} records a page"))),
    };
    let offset = input.offset.unwrap_or(0);
    let page = read(client, &input.job_id, &input.record_type, offset, limit)?;
    let count = page.records.len() as u64;
    let next = if page.ended { None } else { Some(offset.saturating_add(count)) };
    let mut out = String::with_capacity(page.records.iter().map(|r| r.len() + 1).sum::<usize>() + 256);
    out.push_str("{\"records\":[");
    for (i, record) in page.records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(record);
    }
    out.push_str("],");
    let tail = serde_json::json!({ "count": count, "offset": offset, "next_offset": next, "columns": page.column_names() });
    let tail = tail.to_string();
    out.push_str(&tail[1..]);
    Ok(out)
}
