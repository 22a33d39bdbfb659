//! Bulk jobs: Zoho CRM's Bulk Read API (v8), export jobs that collect up to 200,000 records of a
//! module per page of results into a zipped CSV, for 50 credits a job.
//!
//! The pieces are small and reusable by a sync that backfills through jobs: [`criteria`] checks
//! a job's filter, [`read_job`] creates jobs and reads their state, [`zip_stream`] unzips the
//! result as it arrives and [`result_csv`] types its rows; [`result_page`] puts them together.
//! A flow polls: create, then `bulk-read-status` after a delay until `done` (a job of 200,000
//! records takes Zoho minutes), then `bulk-read-result-page` until `next_offset` is null.
//!
//! Import jobs (Zoho's Bulk Write API, 500 credits a job, up to 25,000 records a file):
//! [`write_file`] writes the records as a zipped CSV, [`write_job`] uploads it to Zoho's
//! content host, creates the job and reads its status, [`write_result`] reads each record's
//! outcome from the result ZIP with the same streaming reader.

pub mod criteria;
pub mod read_job;
pub mod result_csv;
pub mod result_page;
pub mod write_file;
pub mod write_job;
pub mod write_result;
pub mod zip_stream;

pub use read_job::{create as read_create, status as read_status};
pub use result_page::result_page as read_result_page;
pub use write_job::{create as write_create, status as write_status, upload as write_upload};
pub use write_result::result as write_result;
