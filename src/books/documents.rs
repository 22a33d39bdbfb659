//! A Books record as a document (PDF or HTML).

use crate::client::Client;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::wit::types::DownloadedFile;
use crate::wit::books::{GetRecordDocumentInput};

pub fn get_record_document(_client: &Client, input: &GetRecordDocumentInput) -> Result<DownloadedFile> {
    let _ = input;
    Err(ZohoError::new(ErrorKind::Internal, "get_record_document is not built yet"))
}
