//! A Books record as a document: `GET /books/v3/{type}/{id}?accept=pdf|html` answers the file's
//! bytes. Books answers errors as its JSON envelope, even with a 2xx: such an answer is read as
//! the error it is, never returned as the file.

use crate::books::envelope;
use crate::books::records::{books_id, call, resource_name, target};
use crate::client::Client;
use crate::connection::given;
use crate::download::downloaded_file;
use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{Method, Response};
use crate::wit::books::GetRecordDocumentInput;
use crate::wit::types::DownloadedFile;

/// The `accept` value of a `format` input: pdf unless html is asked for.
fn format_of(format: &Option<String>) -> Result<&'static str> {
    match given(format).map(str::to_ascii_lowercase).as_deref() {
        None | Some("pdf") => Ok("pdf"),
        Some("html") => Ok("html"),
        Some(other) => Err(ZohoError::invalid_input(format!("format {other:?} is not a document format: use pdf (the default) or html"))),
    }
}

/// Does the answer look like Books' JSON envelope rather than a document?
fn is_envelope(response: &Response) -> bool {
    let typed_json = response.header("content-type").is_some_and(|t| t.to_ascii_lowercase().contains("json"));
    let starts = response.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    typed_json || starts
}

pub fn get_record_document(client: &Client, input: &GetRecordDocumentInput) -> Result<DownloadedFile> {
    resource_name("record-type", input.record_type.trim())?;
    let id = books_id("record-id", input.record_id.trim())?.to_string();
    let accept = format_of(&input.format)?;
    let target = target(client, &input.record_type, &None, &None)?;
    let response = client.send(call(Method::Get, format!("{}/{id}", target.collection), &target).query("accept", accept))?;
    if !(200..300).contains(&response.status) || is_envelope(&response) {
        // The envelope's error when it carries one; a success envelope is still not the document.
        envelope::open(&response)?;
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho Books answered a JSON document, not the {accept} file asked for: {:?}", response.body_start())).with_status(response.status));
    }
    // Only a whole document will do: a 204, a partial 206 or an empty body is not the file.
    if response.status != 200 || response.body.is_empty() {
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho Books answered HTTP {} with {} bytes where the whole {accept} document was asked for", response.status, response.body.len()))
            .with_status(response.status));
    }
    if accept == "pdf" && !response.body.starts_with(b"%PDF-") {
        let kind = response.header("content-type").unwrap_or("no content type").to_string();
        return Err(ZohoError::new(ErrorKind::Zoho, format!("Zoho Books answered {} bytes ({kind}) that are not a PDF where a PDF was asked for: {:?}", response.body.len(), response.body_start()))
            .with_status(response.status));
    }
    downloaded_file(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_pdf_or_html() {
        assert_eq!(format_of(&None).unwrap(), "pdf");
        assert_eq!(format_of(&Some(" HTML ".into())).unwrap(), "html");
        assert_eq!(format_of(&Some("".into())).unwrap(), "pdf");
        for bad in ["docx", "pdf?x=1", "p"] {
            assert_eq!(format_of(&Some(bad.into())).unwrap_err().kind, ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn json_answers_are_envelopes() {
        let answer = |t: &str, b: &str| Response { status: 200, headers: vec![("content-type".into(), t.into())], body: b.as_bytes().to_vec() };
        assert!(is_envelope(&answer("application/json;charset=UTF-8", "%PDF-")));
        assert!(is_envelope(&answer("application/pdf", " \n{\"code\":1002}")));
        assert!(!is_envelope(&answer("application/pdf", "%PDF-1.4")));
        assert!(!is_envelope(&answer("text/html", "<html>{</html>")));
    }
}
