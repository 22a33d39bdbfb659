//! Bulk jobs: Zoho CRM's Bulk Read API (v8), export jobs that collect up to 200,000 records of a
//! module per page of results into a zipped CSV, for 50 credits a job.
//!
//! The pieces are small and reusable by a sync that backfills through jobs: [`criteria`] checks
//! a job's filter, [`read_job`] creates jobs and reads their state, [`zip_stream`] unzips the
//! result as it arrives and [`result_csv`] types its rows; [`result_page`] puts them together.
//! A flow polls: create, then `bulk-read-status` after a delay until `done` (a job of 200,000
//! records takes Zoho minutes), then `bulk-read-result-page` until `next_offset` is null.

pub mod criteria;
pub mod read_job;
pub mod result_csv;
pub mod result_page;
pub mod zip_stream;

pub use read_job::{create as read_create, status as read_status};
pub use result_page::result_page as read_result_page;
