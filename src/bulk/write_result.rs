//! `bulk-write-result`: each record's outcome, read from a completed import job's result.
//!
//! Zoho's "Download Bulk Write Result" page (v8,
//! https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/download-result.html): the job's
//! `result.download_url` (on Zoho's download host, `https://download-accl.zoho.com/...zip`)
//! answers a ZIP of one CSV holding the uploaded file's first mapped columns and three more:
//! `STATUS` ("added, skipped, updated, or unprocessed"), `RECORD_ID` ("the added or updated
//! record's ID") and `ERRORS` (`<errorCode>-<column_header>`, several joined by `:`). Its rows
//! follow the uploaded file's, so a row's position is the record's index in the upload.
//!
//! The URL is followed only on the connection's own Zoho hosts (the API domain, the content
//! host, the DC's download host): the token goes with the request, and a hostile job answer
//! must not send it elsewhere. The file is read as it arrives (the bulk read's ZIP and CSV
//! readers, with their bounds on bombs, giant cells and absurd column counts); memory holds
//! one row and the page's outcomes.

use crate::bulk::result_csv::CsvRows;
use crate::bulk::write_job::{job, unexpected};
use crate::bulk::zip_stream::{not_the_zip, Entry, ZipStream};
use crate::client::{ApiCall, Client};
use crate::crm::response::error_from_response;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{BodySink, Method};
use crate::wit::bulk::WriteResultInput;
use serde_json::{json, Value};

/// Outcomes a page returns when the caller names no limit.
pub const DEFAULT_LIMIT: u32 = 5_000;
/// A file holds at most 25,000 records (Zoho's limit), so one page can hold them all.
pub const MAX_LIMIT: u32 = 25_000;

/// The columns of the result that say each record's outcome.
#[derive(Debug, Default)]
struct Columns {
    status: usize,
    record_id: Option<usize>,
    errors: Option<usize>,
}

/// The result being read: rows before `offset` skipped, up to `limit` outcomes kept.
#[derive(Debug, Default)]
struct Outcomes {
    rows: CsvRows,
    columns: Option<Columns>,
    width: usize,
    seen: u64,
    offset: u64,
    limit: usize,
    outcomes: Vec<Value>,
    stopped: bool,
    ended: bool,
}

impl Outcomes {
    fn row(&mut self, cells: Vec<String>) -> Result<bool> {
        let Some(columns) = &self.columns else {
            // Zoho appends its three columns after the file's own, which may hold a field of the
            // same name (Tasks' and Cases' `Status`): the last column of each name is Zoho's.
            let find = |name: &str| cells.iter().rposition(|c| c.trim_start_matches('\u{feff}').trim().eq_ignore_ascii_case(name));
            let status = find("STATUS").ok_or_else(|| not_the_zip("its CSV has no STATUS column"))?;
            self.columns = Some(Columns { status, record_id: find("RECORD_ID"), errors: find("ERRORS") });
            self.width = cells.len();
            return Ok(true);
        };
        if cells.len() != self.width {
            return Err(not_the_zip(format!("row {} of its CSV has {} columns, its header {}", self.seen.saturating_add(1), cells.len(), self.width)));
        }
        let row = self.seen;
        self.seen = self.seen.saturating_add(1);
        if row < self.offset {
            return Ok(true);
        }
        let text = |at: Option<usize>| at.and_then(|i| cells.get(i)).map(|c| c.trim()).filter(|c| !c.is_empty()).map(|c| Value::from(crate::redact::cut(c, 2000)));
        let status = cells.get(columns.status).map(|s| s.trim().to_ascii_uppercase()).unwrap_or_default();
        let id = text(columns.record_id);
        // "the added or updated record's ID": a Zoho record id, or the file is not Zoho's (an
        // id passed on is used in later requests' paths).
        if let Some(Value::String(id)) = &id {
            if crate::validate::record_id(id).is_err() {
                return Err(not_the_zip(format!("row {row}'s RECORD_ID {:?} is not a record id", crate::redact::cut(id, 40))));
            }
        }
        self.outcomes.push(json!({ "row": row, "status": status, "id": id, "errors": text(columns.errors) }));
        Ok(self.outcomes.len() < self.limit)
    }
}

impl Entry for Outcomes {
    fn data(&mut self, bytes: &[u8]) -> Result<bool> {
        let mut rows = std::mem::take(&mut self.rows);
        let more = rows.read(bytes, &mut |cells| self.row(cells));
        self.rows = rows;
        let more = more?;
        self.stopped |= !more;
        Ok(more)
    }

    fn end(&mut self) -> Result<()> {
        if !self.stopped {
            self.data(&[])?;
            self.ended = !self.stopped;
        }
        Ok(())
    }
}

/// The download's body, unzipped and read as it arrives.
struct Download {
    zip: ZipStream,
    outcomes: Outcomes,
    accepted: bool,
}

impl BodySink for Download {
    fn accept(&mut self, status: u16, _headers: &[(String, String)]) -> bool {
        // A retried download starts over.
        self.zip = ZipStream::default();
        self.outcomes = Outcomes { offset: self.outcomes.offset, limit: self.outcomes.limit, ..Outcomes::default() };
        self.accepted = status == 200;
        self.accepted
    }

    fn chunk(&mut self, bytes: &[u8]) -> Result<bool> {
        self.zip.feed(bytes, &mut self.outcomes)
    }
}

/// Where a download URL points: an origin of the connection's and the path on it, or why not.
fn download_target(client: &Client, url: &str) -> Result<(String, String)> {
    let api_domain = client.api_domain()?;
    if url.starts_with('/') && !url.starts_with("//") {
        return Ok((api_domain, url.to_string()));
    }
    let origin_end = url.find("://").map(|s| s + 3).and_then(|after| url[after..].find('/').map(|p| after + p)).unwrap_or(url.len());
    let (origin, path) = url.split_at(origin_end);
    let ours = origin == api_domain || client.bulk_origins()?.iter().any(|o| o == origin);
    if !ours || path.is_empty() || path.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ZohoError::new(
            ErrorKind::Zoho,
            format!(
                "Zoho's job gives a download URL {:?} that is not on the connection's Zoho hosts ({api_domain}, its content and download hosts); it is not followed",
                client.redact(&crate::redact::shown(url, 120))
            ),
        )
        .with_status(200)
        .with_code("DOWNLOAD_URL_NOT_ALLOWED"));
    }
    Ok((origin.to_string(), path.to_string()))
}

/// `{"outcomes":[{"row","status","id","errors"}],"count","offset","next_offset","more"}`.
pub fn result(client: &Client, input: &WriteResultInput) -> Result<String> {
    let limit = match input.limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => n as usize,
        n => return Err(ZohoError::invalid_input(format!("limit {n} is out of range: 1 to {MAX_LIMIT} outcomes a page"))),
    };
    let offset = input.offset.unwrap_or(0);
    let job = job(client, &input.job_id)?;
    if job.status != "COMPLETED" {
        return Err(
            ZohoError::new(ErrorKind::InvalidInput, format!("bulk write job {} is {}, not COMPLETED: poll bulk-write-status until result_ready", job.id, job.status)).with_code("JOB_NOT_COMPLETED")
        );
    }
    let url = job.download_url().ok_or_else(|| unexpected("its completed job has no result.download_url", 200))?;
    let (origin, path) = download_target(client, url)?;
    let outcomes = Outcomes { offset, limit, ..Outcomes::default() };
    let mut download = Download { zip: ZipStream::default(), outcomes, accepted: false };
    let response = client.send_streaming(ApiCall::new(Method::Get, path).at(origin), &mut download)?;
    if !download.accepted {
        return Err(error_from_response(&response));
    }
    if !download.outcomes.stopped {
        download.zip.finish()?;
    }
    let page = download.outcomes;
    let count = page.outcomes.len() as u64;
    let more = !page.ended;
    let next = more.then(|| offset.saturating_add(count));
    Ok(json!({ "outcomes": page.outcomes, "count": count, "offset": offset, "next_offset": next, "more": more }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(csv: &[u8], offset: u64, limit: usize) -> Result<Outcomes> {
        let mut page = Outcomes { offset, limit, ..Outcomes::default() };
        for chunk in csv.chunks(3) {
            if !page.data(chunk)? {
                break;
            }
        }
        page.end()?;
        Ok(page)
    }

    #[test]
    fn rows_become_outcomes_by_their_position() {
        let csv = b"Last_Name,Email,Company,STATUS,RECORD_ID,ERRORS\r\nDoe,a@b.c,Z,ADDED,111,\r\n,x,,SKIPPED,,MANDATORY_NOT_FOUND-Last_Name\r\nRoe,c@d.e,Z,Updated,112,\r\n";
        let page = read(csv, 0, 10).unwrap();
        assert_eq!(
            Value::from(page.outcomes.clone()),
            json!([
                {"row":0,"status":"ADDED","id":"111","errors":null},
                {"row":1,"status":"SKIPPED","id":null,"errors":"MANDATORY_NOT_FOUND-Last_Name"},
                {"row":2,"status":"UPDATED","id":"112","errors":null}
            ])
        );
        assert!(page.ended);
        let page = read(csv, 1, 1).unwrap();
        assert_eq!(page.outcomes[0]["row"], 1);
        assert!(!page.ended && page.stopped);
    }

    /// A module with its own `Status` field (Tasks, Cases) uploads it among the first columns:
    /// the outcome is Zoho's STATUS after them, not the record's status.
    #[test]
    fn a_status_field_of_the_records_is_not_zohos_status() {
        let csv = b"Subject,Status,Due_Date,STATUS,RECORD_ID,ERRORS\r\nCall,Not Started,2026-01-01,ADDED,111,\r\n";
        let page = read(csv, 0, 10).unwrap();
        assert_eq!(Value::from(page.outcomes), json!([{"row":0,"status":"ADDED","id":"111","errors":null}]));
    }

    #[test]
    fn files_that_are_not_zohos_are_typed_errors() {
        assert!(read(b"A,B\r\n1,2\r\n", 0, 10).unwrap_err().message.contains("no STATUS column"));
        assert!(read(b"STATUS,RECORD_ID\r\nADDED\r\n", 0, 10).unwrap_err().message.contains("has 1 columns, its header 2"));
        for id in ["../../x", "12a", "-1", "99999999999999999999999"] {
            let csv = format!("STATUS,RECORD_ID\r\nADDED,{id}\r\n");
            assert!(read(csv.as_bytes(), 0, 10).unwrap_err().message.contains("is not a record id"), "{id}");
        }
        let wide = [vec![b','; 10_000_000], b"\n".to_vec()].concat();
        assert!(read(&wide, 0, 10).unwrap_err().message.contains("more than 2000 columns"));
    }
}
