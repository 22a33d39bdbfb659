//! The file of an import job: JSON records written as one CSV, zipped.
//!
//! Zoho's v8 "Bulk Write API - Limitations" page
//! (https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/limitations.html): the ZIP holds
//! one CSV for a module without subforms, "with a maximum size of 25MB"; the "Upload File" page:
//! "a maximum of 25,000 records" per file; "To associate a lookup field's value, the column
//! header in the CSV file should be field_api_name.parent_field_api_name" (a lookup by id is
//! `Account_Name.id`). Rows are RFC 4180: a cell holding a comma, a quote, a line break or
//! spaces at its ends is quoted and its quotes doubled; the file is UTF-8 (the job names it).
//!
//! Where Zoho is ambiguous: "25MB" could be the ZIP or the CSV, in 10^6 or 2^20 bytes. The CSV
//! is held to 25,000,000 bytes, which keeps the ZIP (never larger than its CSV here) under every
//! reading.

use crate::error::{Result, ZohoError};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

/// Records one file may hold (Zoho's "Upload File" page).
pub const MAX_RECORDS: usize = 25_000;
/// Bytes one CSV may hold (see the module's header).
pub const MAX_FILE_BYTES: usize = 25_000_000;
/// Columns a file may name (Zoho is silent; a module has at most a few hundred fields).
pub const MAX_COLUMNS: usize = 1_000;

/// The CSV of a job, and what it holds.
#[derive(Debug, PartialEq)]
pub struct CsvFile {
    pub bytes: Vec<u8>,
    pub columns: Vec<String>,
    pub records: usize,
}

/// A record as given: its keys in the caller's order (the default columns follow it; serde_json's
/// own map sorts them).
#[derive(Debug, Default)]
struct Record(Vec<(String, Value)>);

impl Record {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }
}

impl<'de> serde::Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Record;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a record object keyed by field API names")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Record, A::Error> {
                let mut fields: Vec<(String, Value)> = Vec::new();
                while let Some((key, raw)) = map.next_entry::<String, Box<RawValue>>()? {
                    // A number is written as the caller wrote it: read as a float, a 20-digit
                    // integer or a long decimal would reach Zoho rounded, with no error.
                    let text = raw.get();
                    let value =
                        if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) { Value::String(text.to_string()) } else { serde_json::from_str(text).map_err(serde::de::Error::custom)? };
                    match fields.iter_mut().find(|(k, _)| *k == key) {
                        Some(field) => field.1 = value,
                        None => fields.push((key, value)),
                    }
                }
                Ok(Record(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// A column: the record key its value comes from, and whether it is a lookup's id.
struct Column {
    header: String,
    key: String,
    lookup: bool,
}

impl Column {
    fn of(header: &str) -> Result<Column> {
        let (key, lookup) = match header.strip_suffix(".id") {
            Some(field) => (field, true),
            None => (header, false),
        };
        let ok = !key.is_empty() && key.len() <= 100 && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(ZohoError::invalid_input(format!("column {:?} is not a field API name (or Field.id for a lookup), e.g. Last_Name, Account_Name.id", crate::redact::cut(header, 80))));
        }
        Ok(Column { header: header.to_string(), key: key.to_string(), lookup })
    }
}

/// The records of `records` (a JSON array of objects) as a CSV, its columns `columns` when
/// given, else every key in the order first seen (a lookup `{"id"}` as `Key.id`).
pub fn csv_of(records: &str, columns: Option<&[String]>) -> Result<CsvFile> {
    let records: Vec<Record> = serde_json::from_str(records)
        .map_err(|e| ZohoError::invalid_input(format!("records must be a JSON array of record objects keyed by field API names, e.g. [{{\"Last_Name\":\"Doe\"}}] ({e})")))?;
    if records.is_empty() {
        return Err(ZohoError::invalid_input("records is empty: give at least one record"));
    }
    if records.len() > MAX_RECORDS {
        return Err(ZohoError::invalid_input(format!("records holds {} records; Zoho imports at most {MAX_RECORDS} a file: split them across jobs", records.len())));
    }
    let columns = match columns.filter(|c| !c.is_empty()) {
        Some(given) => given.iter().map(|c| Column::of(c.trim())).collect::<Result<Vec<_>>>()?,
        None => columns_seen(&records)?,
    };
    if columns.len() > MAX_COLUMNS {
        return Err(ZohoError::invalid_input(format!("the records name {} columns; at most {MAX_COLUMNS}", columns.len())));
    }
    if let Some(twice) = columns.iter().enumerate().find(|(i, c)| columns[..*i].iter().any(|o| o.key == c.key)) {
        return Err(ZohoError::invalid_input(format!("column {} is named twice", twice.1.header)));
    }
    let mut out = Vec::with_capacity(records.len().saturating_mul(64));
    let headers: Vec<&str> = columns.iter().map(|c| c.header.as_str()).collect();
    write_row(&mut out, headers.iter().copied());
    for (row, record) in records.iter().enumerate() {
        if let Some(unknown) = record.keys().find(|k| !columns.iter().any(|c| &c.key == *k || &c.header == *k)) {
            return Err(ZohoError::invalid_input(format!("record {row} has {unknown:?}, which is not one of the columns; add it to columns or drop it")));
        }
        let cells = columns.iter().map(|c| cell(record, c, row)).collect::<Result<Vec<_>>>()?;
        write_row(&mut out, cells.iter().map(String::as_str));
        if out.len() > MAX_FILE_BYTES {
            return Err(ZohoError::invalid_input(format!("the CSV passes {MAX_FILE_BYTES} bytes at record {row}; Zoho takes at most 25 MB a file: split the records across jobs")));
        }
    }
    Ok(CsvFile { bytes: out, columns: headers.iter().map(|h| h.to_string()).collect(), records: records.len() })
}

/// Every key of the records in the order first seen; a key any record gives a lookup is `Key.id`
/// (so a text value in an earlier record is that row's id for Zoho to judge, not a refusal of
/// the whole file).
fn columns_seen(records: &[Record]) -> Result<Vec<Column>> {
    let mut columns: Vec<Column> = Vec::new();
    for record in records {
        for (key, value) in &record.0 {
            let lookup = is_lookup(value) && !key.ends_with(".id");
            if let Some(at) = columns.iter().position(|c| &c.key == key || &c.header == key) {
                if lookup && !columns[at].lookup {
                    columns[at] = Column::of(&format!("{key}.id"))?;
                }
                continue;
            }
            columns.push(Column::of(&if lookup { format!("{key}.id") } else { key.clone() })?);
        }
    }
    Ok(columns)
}

fn is_lookup(value: &Value) -> bool {
    value.as_object().is_some_and(|o| o.contains_key("id"))
}

/// A record's value for `column` as CSV text.
fn cell(record: &Record, column: &Column, row: usize) -> Result<String> {
    let value = record.get(&column.key).or_else(|| record.get(&column.header)).unwrap_or(&Value::Null);
    let wrong = |what: &str| ZohoError::invalid_input(format!("record {row}: {} {what}", column.key));
    Ok(match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Object(object) => match object.get("id") {
            Some(Value::String(id)) if column.lookup => id.clone(),
            Some(Value::Number(id)) if column.lookup => id.to_string(),
            Some(_) if !column.lookup => return Err(wrong(&format!("is a lookup: name its column {}.id", column.key))),
            _ => return Err(wrong("is an object other than a lookup {\"id\": \"...\"}")),
        },
        // A multi-select picklist: its values joined by `;` (as Zoho's bulk CSV writes them).
        Value::Array(items) => {
            let texts = items.iter().map(|i| match i {
                Value::String(s) if !s.contains(';') => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(wrong("holds a list value that is not text without ';'")),
            });
            texts.collect::<Result<Vec<_>>>()?.join(";")
        }
    })
}

/// One RFC 4180 row, CRLF-terminated.
fn write_row<'a>(out: &mut Vec<u8>, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let quoted = cell.contains([',', '"', '\r', '\n']) || cell.starts_with(char::is_whitespace) || cell.ends_with(char::is_whitespace);
        if quoted {
            out.push(b'"');
            for part in cell.split('"').enumerate() {
                if part.0 > 0 {
                    out.extend_from_slice(b"\"\"");
                }
                out.extend_from_slice(part.1.as_bytes());
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(cell.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// A ZIP (PKWARE APPNOTE 4.3) of one deflated entry `name` holding `content`: local header with
/// its sizes, the data, the central directory and its end. Deflate is miniz_oxide's.
pub fn zip_of(name: &str, content: &[u8]) -> Result<Vec<u8>> {
    let deflated = miniz_oxide::deflate::compress_to_vec(content, 6);
    let too_large = |_| ZohoError::invalid_input("the file is too large for a ZIP");
    let (packed, plain) = (u32::try_from(deflated.len()).map_err(too_large)?, u32::try_from(content.len()).map_err(too_large)?);
    let name_len = u16::try_from(name.len()).map_err(|_| ZohoError::invalid_input("the file name is too long"))?;
    let crc = crc32fast::hash(content);
    // Version 2.0, no flags, deflate, 1980-01-01 00:00 (DOS time 0, date 0x21).
    let common = |out: &mut Vec<u8>| {
        for half in [20u16, 0, 8, 0, 0x21] {
            out.extend_from_slice(&half.to_le_bytes());
        }
        for word in [crc, packed, plain] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
    };
    let mut out = Vec::with_capacity(deflated.len() + 2 * name.len() + 128);
    out.extend_from_slice(b"PK\x03\x04");
    common(&mut out);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&deflated);
    let directory_at = u32::try_from(out.len()).map_err(too_large)?;
    out.extend_from_slice(b"PK\x01\x02");
    out.extend_from_slice(&20u16.to_le_bytes());
    common(&mut out);
    // Comment length (2), disk (2), internal (2) and external (4) attributes, the local
    // header's offset (4, zero).
    out.extend_from_slice(&[0; 14]);
    out.extend_from_slice(name.as_bytes());
    let directory_len = u32::try_from(out.len()).map_err(too_large)? - directory_at;
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&directory_len.to_le_bytes());
    out.extend_from_slice(&directory_at.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::zip_stream::{Entry, ZipStream};

    #[derive(Default)]
    struct Collect(Vec<u8>);
    impl Entry for Collect {
        fn data(&mut self, bytes: &[u8]) -> Result<bool> {
            self.0.extend_from_slice(bytes);
            Ok(true)
        }
        fn end(&mut self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn records_become_rfc_4180_rows_with_lookups_as_field_id() {
        let records = r#"[{"Last_Name":"Doe, \"J\"","Description":"two\nlines","Account_Name":{"id":"111"},"Tags_X":["a","b"],"Email_Opt_Out":true,"No":12},
            {"Last_Name":"Müller ✓","City":" padded "}]"#;
        let file = csv_of(records, None).unwrap();
        assert_eq!(file.columns, ["Last_Name", "Description", "Account_Name.id", "Tags_X", "Email_Opt_Out", "No", "City"]);
        assert_eq!(
            String::from_utf8(file.bytes).unwrap(),
            "Last_Name,Description,Account_Name.id,Tags_X,Email_Opt_Out,No,City\r\n\"Doe, \"\"J\"\"\",\"two\nlines\",111,a;b,true,12,\r\nMüller ✓,,,,,,\" padded \"\r\n"
        );
        assert_eq!(file.records, 2);
    }

    /// Numbers reach the file as written: past u64 or with more digits than a float keeps,
    /// serde_json's float would round them silently.
    #[test]
    fn numbers_are_written_as_given_not_rounded() {
        let records = r#"[{"Big":123456789012345678901234567890,"Long":0.1000000000000000055511151231257827,"Neg":-18446744073709551617,"Max":18446744073709551615,"E":1e400}]"#;
        let file = csv_of(records, None).unwrap();
        assert_eq!(
            String::from_utf8(file.bytes).unwrap(),
            "Big,Long,Neg,Max,E\r\n123456789012345678901234567890,0.1000000000000000055511151231257827,-18446744073709551617,18446744073709551615,1e400\r\n"
        );
    }

    /// A key given as text in one record and as a lookup in a later one is one `Key.id` column:
    /// the text is that row's id (Zoho judges the row), the file is not refused whole.
    #[test]
    fn a_lookup_after_text_makes_one_id_column() {
        let file = csv_of(r#"[{"Owner":"77"},{"Owner":{"id":"78"}}]"#, None).unwrap();
        assert_eq!(String::from_utf8(file.bytes).unwrap(), "Owner.id\r\n77\r\n78\r\n");
    }

    #[test]
    fn given_columns_order_the_file_and_refuse_strays() {
        let columns = ["Email".to_string(), "Owner.id".to_string()];
        let file = csv_of(r#"[{"Owner":{"id":"9"},"Email":"a@b.c"}]"#, Some(&columns)).unwrap();
        assert_eq!(file.bytes, b"Email,Owner.id\r\na@b.c,9\r\n");
        assert!(csv_of(r#"[{"Email":"a@b.c","Phone":"1"}]"#, Some(&columns)).unwrap_err().message.contains("\"Phone\", which is not one of the columns"));
        assert!(csv_of(r#"[{"Owner":{"id":"9"}}]"#, Some(&["Owner".to_string()])).unwrap_err().message.contains("name its column Owner.id"));
        assert!(csv_of(r#"[{"Owner":{"name":"x"}}]"#, None).unwrap_err().message.contains("other than a lookup"));
        assert!(csv_of(r#"[{"A;B":"x"}]"#, None).unwrap_err().message.contains("not a field API name"));
        assert!(csv_of("{}", None).unwrap_err().message.contains("JSON array"));
        assert!(csv_of("[]", None).unwrap_err().message.contains("empty"));
    }

    #[test]
    fn zohos_limits_hold_at_and_past_them() {
        let at: String = format!("[{}]", vec![r#"{"Last_Name":"x"}"#; MAX_RECORDS].join(","));
        assert_eq!(csv_of(&at, None).unwrap().records, MAX_RECORDS);
        let past = format!("[{}]", vec![r#"{"Last_Name":"x"}"#; MAX_RECORDS + 1].join(","));
        assert!(csv_of(&past, None).unwrap_err().message.contains("at most 25000 a file"));
        let wide = "y".repeat(1100);
        let big = format!("[{}]", vec![format!(r#"{{"Last_Name":"{wide}"}}"#); MAX_FILE_BYTES / 1100 + 10].join(","));
        assert!(csv_of(&big, None).unwrap_err().message.contains("25 MB"));
    }

    /// The central directory and its end say what a ZIP reader that starts from the end (as
    /// Zoho's and the sandbox's do) reads: one entry, at offset 0, its directory where the end says.
    #[test]
    fn the_central_directory_is_where_its_end_says() {
        let zip = zip_of("Leads.csv", b"Last_Name\r\nDoe\r\n").unwrap();
        let end = zip.len() - 22;
        assert_eq!(&zip[end..end + 4], b"PK\x05\x06");
        let u32_at = |at: usize| u32::from_le_bytes([zip[at], zip[at + 1], zip[at + 2], zip[at + 3]]) as usize;
        let (size, at) = (u32_at(end + 12), u32_at(end + 16));
        assert_eq!((&zip[at..at + 4], at + size), (b"PK\x01\x02".as_slice(), end));
        assert_eq!(size, 46 + "Leads.csv".len());
        assert_eq!(&zip[at + 46..at + 46 + 9], b"Leads.csv");
        assert_eq!(u32_at(at + 42), 0, "the local header's offset");
    }

    #[test]
    fn the_zip_reads_back_with_our_reader() {
        let csv: Vec<u8> = (0..3000).flat_map(|i| format!("{i},name {i}\r\n").into_bytes()).collect();
        let zip = zip_of("Leads.csv", &csv).unwrap();
        let mut stream = ZipStream::default();
        let mut out = Collect::default();
        stream.feed(&zip, &mut out).unwrap();
        stream.finish().unwrap();
        assert_eq!(out.0, csv);
    }
}
