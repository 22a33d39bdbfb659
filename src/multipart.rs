//! multipart/form-data bodies, built as parts around the caller's buffers so a large file
//! is never copied into a second body-sized buffer.

use crate::http::Body;

/// One form field: text, or a file with its name and media type.
pub enum Field {
    Text { name: String, value: String },
    File { name: String, file_name: String, content_type: String, bytes: Vec<u8> },
}

/// A boundary that cannot occur in the parts (checked, and changed until it does not). After a
/// clash the next tries follow a hash of the parts, not a fixed sequence: content planting the
/// sequence's boundaries would otherwise make every try scan the whole file again (quadratic).
fn boundary_for(fields: &[Field]) -> String {
    use std::hash::{Hash, Hasher};
    let mut seed: u64 = 0x5a6f686f_436f6e6e;
    let mut first = true;
    loop {
        let boundary = format!("zoho-connector-{seed:016x}");
        let clashes = fields.iter().any(|f| match f {
            Field::Text { value, .. } => value.contains(&boundary),
            Field::File { bytes, .. } => bytes.windows(boundary.len()).any(|w| w == boundary.as_bytes()),
        });
        if !clashes {
            return boundary;
        }
        if std::mem::take(&mut first) {
            // SipHash of the contents: a file holding the boundary derived from its own hash
            // is a fixed point no one can construct.
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            for field in fields {
                match field {
                    Field::Text { value, .. } => value.hash(&mut hasher),
                    Field::File { bytes, .. } => bytes.hash(&mut hasher),
                }
            }
            seed = hasher.finish();
            continue;
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    }
}

/// Quotes a header parameter value; names and file names cannot break out of the header.
fn quoted(value: &str) -> String {
    value.replace(['\r', '\n'], " ").replace('"', "%22")
}

pub fn form(fields: Vec<Field>) -> Body {
    let boundary = boundary_for(&fields);
    let mut parts = Vec::with_capacity(fields.len() * 2 + 1);
    let mut head = String::new();
    for field in fields {
        match field {
            Field::Text { name, value } => {
                head.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n", quoted(&name)));
            }
            Field::File { name, file_name, content_type, bytes } => {
                head.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {content_type}\r\n\r\n", quoted(&name), quoted(&file_name)));
                parts.push(std::mem::take(&mut head).into_bytes());
                parts.push(bytes);
                head.push_str("\r\n");
            }
        }
    }
    head.push_str(&format!("--{boundary}--\r\n"));
    parts.push(head.into_bytes());
    Body { content_type: format!("multipart/form-data; boundary={boundary}"), parts }
}

/// A media type for a file name, from its extension; unknown kinds are octet streams.
pub fn content_type_for(file_name: &str) -> &'static str {
    let extension = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "eml" => "message/rfc822",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_wrap_the_file_without_copying_it() {
        let body = form(vec![
            Field::Text { name: "title".into(), value: "Q3".into() },
            Field::File { name: "file".into(), file_name: "a\"b.txt".into(), content_type: "text/plain".into(), bytes: b"hello".to_vec() },
        ]);
        let boundary = body.content_type.strip_prefix("multipart/form-data; boundary=").unwrap().to_string();
        assert_eq!(body.parts[1], b"hello");
        assert_eq!(
            String::from_utf8(body.to_vec()).unwrap(),
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nQ3\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a%22b.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
            )
        );
        assert_eq!(content_type_for("Report.PDF"), "application/pdf");
        assert_eq!(content_type_for("noext"), "application/octet-stream");
    }

    #[test]
    fn the_boundary_never_occurs_in_the_content() {
        let first = boundary_for(&[]);
        let body = form(vec![Field::Text { name: "x".into(), value: format!("evil {first}") }]);
        assert!(!body.content_type.ends_with(&first));
    }
    /// A file holding the boundaries the search would try, in the order it tries them: each
    /// try scans the whole file again, so a predictable sequence made the search quadratic
    /// (20,000 planted boundaries, 620 KB, took minutes; 20 MB would take hours).
    #[test]
    fn a_file_planting_the_boundaries_tried_does_not_stall_the_search() {
        let mut seed: u64 = 0x5a6f686f_436f6e6e;
        let mut planted = Vec::new();
        for _ in 0..20_000 {
            planted.extend_from_slice(format!("zoho-connector-{seed:016x}").as_bytes());
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        }
        let started = std::time::Instant::now();
        let body = form(vec![Field::File { name: "file".into(), file_name: "a.txt".into(), content_type: "text/plain".into(), bytes: planted.clone() }]);
        let boundary = body.content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
        assert!(!planted.windows(boundary.len()).any(|w| w == boundary.as_bytes()));
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }
}
