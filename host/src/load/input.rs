//! The input of `zoho-host load`: a JSON-lines file read as a stream, never whole. One pass
//! plans the jobs (line ranges within Zoho's per-file limits) and takes the file's digest; each
//! job later reads back only its own byte range.
//!
//! Zoho's limits per file (Bulk Write API, "Limitations" page,
//! https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/limitations.html): one CSV of at
//! most 25 MB, "a maximum of 25000 records with 200 column headers". The CSV is built by the
//! component from the records; its size is bounded here from the JSON: a CSV cell is never longer
//! than its JSON value (keys are not repeated, `""` is as long as `\"`), but a record without a
//! column still costs a comma, so the bound is the JSON bytes plus one byte per record and column.

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Records per file (Zoho: "a maximum of 25000 records").
pub const MAX_RECORDS: usize = 25_000;
/// Bytes per file (Zoho: "a maximum size of 25MB"), taken as the decimal 25,000,000 so either
/// reading of "MB" holds.
pub const MAX_BYTES: u64 = 25_000_000;
/// Column headers per file (Zoho: "200 column headers").
pub const MAX_COLUMNS: usize = 200;

/// Longest line kept: a record longer than one file (its CRLF aside) can never be sent, so a
/// longer line is reported without being held in memory (a 2 GB line costs no 2 GB).
pub const MAX_LINE_BYTES: usize = MAX_BYTES as usize + 2;

/// Reads one line (through its `\n`) into `buffer`, each byte passed to `seen`: the bytes read,
/// and whether the line was longer than [`MAX_LINE_BYTES`] (then `buffer` holds none of it).
fn read_line(reader: &mut impl BufRead, buffer: &mut Vec<u8>, mut seen: impl FnMut(&[u8])) -> std::io::Result<(u64, bool)> {
    let (mut read, mut long) = (0u64, false);
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((read, long));
        }
        let (part, ended) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..=at], true),
            None => (available, false),
        };
        seen(part);
        if !long && buffer.len() + part.len() > MAX_LINE_BYTES {
            long = true;
            *buffer = Vec::new();
        }
        if !long {
            buffer.extend_from_slice(part);
        }
        let n = part.len();
        read += n as u64;
        reader.consume(n);
        if ended {
            return Ok((read, long));
        }
    }
}

/// A line as a record, or why not: `first` strips a UTF-8 byte order mark (RFC 8259 lets a
/// reader ignore one; editors on Windows write it), `long` says the line passed a file's size.
fn parse_line(bytes: &[u8], first: bool, long: bool) -> std::result::Result<(String, Map<String, Value>), String> {
    if long {
        return Err(format!("a line longer than {MAX_BYTES} bytes: Zoho's bulk write file holds at most 25 MB"));
    }
    parse(if first { bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes) } else { bytes })
}

/// A job's share of the input: a run of whole lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The 1-based number of its first line.
    pub first_line: u64,
    /// How many lines it covers (records and invalid lines).
    pub lines: u64,
    /// Where its first line starts in the file, and how many bytes it covers.
    pub offset: u64,
    pub bytes: u64,
    /// The records among its lines (what the job sends).
    pub records: u64,
}

/// The plan of a whole input: its jobs' ranges, its lines and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub ranges: Vec<Range>,
    pub lines: u64,
    /// SHA-256 of the file's bytes, hex: a rerun of another input is refused.
    pub digest: String,
}

/// One line of a range as read back: a record (its JSON text) or why it is not one.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Record { line: u64, text: String, record: Map<String, Value> },
    Invalid { line: u64, reason: String },
}

/// Whether a line holds a record: a JSON object, with no more fields than a file has columns.
fn parse(bytes: &[u8]) -> std::result::Result<(String, Map<String, Value>), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
    let text = text.trim_end_matches(['\n', '\r']);
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(record) = value else {
        return Err(format!("a JSON {} where a record (a JSON object) belongs", kind_of(&value)));
    };
    if record.is_empty() {
        return Err("an empty object: a record needs at least one field".into());
    }
    if record.len() > MAX_COLUMNS {
        return Err(format!("{} fields: Zoho's bulk write file takes at most {MAX_COLUMNS} columns", record.len()));
    }
    if let Some(why) = record.iter().find_map(|(key, value)| unwritable(key, value)) {
        return Err(why);
    }
    Ok((text.to_string(), record))
}

/// Why the component's CSV (`bulk-write-upload`) cannot hold this field, if it cannot: a line it
/// would refuse is reported here, alone, instead of failing its whole job's upload (and every
/// rerun's). The rules are the component's: a key is a field API name (ASCII letters, digits and
/// `_`, at most 100) or `Field.id`; an object is a lookup `{"id"}`; a list holds texts without
/// `;` or numbers (a multi-select picklist).
fn unwritable(key: &str, value: &Value) -> Option<String> {
    let name = key.strip_suffix(".id").unwrap_or(key);
    if name.is_empty() || name.len() > 100 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(format!("the key {:?} is not a field API name (or Field.id for a lookup), e.g. Last_Name, Account_Name.id", key.chars().take(80).collect::<String>()));
    }
    let fits = match value {
        Value::Object(lookup) => matches!(lookup.get("id"), Some(Value::String(_) | Value::Number(_))),
        Value::Array(items) => items.iter().all(|i| matches!(i, Value::String(s) if !s.contains(';')) || i.is_number()),
        _ => true,
    };
    (!fits).then(|| format!("{name} holds a value a bulk write file cannot: an object other than a lookup {{\"id\": \"...\"}} or a list of texts without ';'"))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The job being planned: its range so far and the columns its records use.
struct Open {
    range: Range,
    columns: BTreeSet<String>,
    /// The JSON bytes of its records.
    json: u64,
}

impl Open {
    fn at(first_line: u64, offset: u64) -> Self {
        Open { range: Range { first_line, lines: 0, offset, bytes: 0, records: 0 }, columns: BTreeSet::new(), json: 0 }
    }

    /// The CSV's size bound with one more record of `json` bytes and these columns: the header,
    /// the records' JSON, and a separator per cell of every row (commas and the row's CRLF).
    fn bound_with(&self, json: u64, fields: &Map<String, Value>) -> (u64, usize) {
        let new = || fields.keys().filter(|k| !self.columns.contains(*k));
        let columns = self.columns.len() + new().count();
        // A lookup's column is `Field.id`: 3 bytes past its key; a separator each, CRLF at the end.
        let header: u64 = self.columns.iter().chain(new()).map(|k| k.len() as u64 + 4).sum::<u64>() + 2;
        let rows = self.range.records + 1;
        (header + self.json + json + rows * (columns as u64 + 1), columns)
    }

    fn fits(&self, json: u64, fields: &Map<String, Value>) -> bool {
        let (bytes, columns) = self.bound_with(json, fields);
        self.range.records < MAX_RECORDS as u64 && bytes <= MAX_BYTES && columns <= MAX_COLUMNS
    }
}

/// Reads the input once: its jobs' ranges within Zoho's limits, and its digest. `max_records`
/// lowers the records per job (for tests and small first jobs); Zoho's limits always hold.
pub fn plan(path: &Path, max_records: usize) -> Result<Plan> {
    let max_records = max_records.clamp(1, MAX_RECORDS) as u64;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut digest = Sha256::new();
    let mut ranges = Vec::new();
    let (mut line, mut offset) = (0u64, 0u64);
    let mut open = Open::at(1, 0);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let (read, long) = read_line(&mut reader, &mut buffer, |part| digest.update(part)).with_context(|| format!("reading {}", path.display()))?;
        if read == 0 {
            break;
        }
        line += 1;
        if let Ok((text, record)) = parse_line(&buffer, line == 1, long) {
            let json = text.len() as u64;
            if open.range.records > 0 && (open.range.records >= max_records || !open.fits(json, &record)) {
                let next = Open::at(line, offset);
                ranges.push(std::mem::replace(&mut open, next).range);
            }
            open.columns.extend(record.keys().cloned());
            open.json += json;
            open.range.records += 1;
        }
        open.range.lines += 1;
        open.range.bytes += read;
        offset += read;
    }
    if open.range.lines > 0 {
        ranges.push(open.range);
    }
    Ok(Plan { ranges, lines: line, digest: hex(&digest.finalize()) })
}

/// The digest alone, read as a stream: whether a rerun's input is the one its state planned.
pub fn digest(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut digest = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).with_context(|| format!("reading {}", path.display()))?;
        if read == 0 {
            return Ok(hex(&digest.finalize()));
        }
        digest.update(&buffer[..read]);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads back one range's lines: its records and its invalid lines, in order.
pub fn read(path: &Path, range: &Range) -> Result<Vec<Line>> {
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    file.seek(SeekFrom::Start(range.offset))?;
    let mut reader = BufReader::with_capacity(1 << 20, file.take(range.bytes));
    let mut lines = Vec::new();
    let mut buffer = Vec::new();
    for n in 0..range.lines {
        buffer.clear();
        let (read, long) = read_line(&mut reader, &mut buffer, |_| {})?;
        if read == 0 {
            bail!("{} ended inside lines {}-{}: the input changed under the load", path.display(), range.first_line, range.first_line.saturating_add(range.lines - 1));
        }
        let line = range.first_line.saturating_add(n);
        lines.push(match parse_line(&buffer, range.offset == 0 && n == 0, long) {
            Ok((text, record)) => Line::Record { line, text, record },
            Err(reason) => Line::Invalid { line, reason },
        });
    }
    Ok(lines)
}

/// A range's records as one JSON array text, each record as the input wrote it.
pub fn records_text(lines: &[Line]) -> String {
    let mut text = String::from("[");
    for (i, record) in lines.iter().filter_map(|l| if let Line::Record { text, .. } = l { Some(text) } else { None }).enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(record);
    }
    text.push(']');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("zoho-load-input-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("written");
        path
    }

    /// Lines that are not records are kept in their range (they get an outcome) but not counted
    /// as records; ranges cover every line once, and read back as they were planned.
    #[test]
    fn ranges_cover_every_line_once_and_read_back() {
        let text = "{\"Last_Name\":\"A\"}\nnot json\n[1]\n{\"Last_Name\":\"B\"}\r\n\n{\"Last_Name\":\"C\"}\n{}\n{\"Last_Name\":\"D\"}";
        let path = file("ranges", text);
        let plan = plan(&path, 2).expect("plan");
        assert_eq!(plan.lines, 8);
        assert_eq!(plan.ranges.iter().map(|r| (r.first_line, r.lines, r.records)).collect::<Vec<_>>(), [(1, 5, 2), (6, 3, 2)]);
        assert_eq!(plan.ranges.iter().map(|r| r.bytes).sum::<u64>(), text.len() as u64);
        assert_eq!(plan.digest, digest(&path).expect("digest"));
        let first = read(&path, &plan.ranges[0]).expect("read");
        assert!(matches!(&first[1], Line::Invalid { line: 2, reason } if reason.starts_with("not JSON")));
        assert!(matches!(&first[2], Line::Invalid { line: 3, reason } if reason.contains("array")));
        assert!(matches!(&first[4], Line::Invalid { line: 5, .. }), "an empty line is not a record");
        assert_eq!(records_text(&first), r#"[{"Last_Name":"A"},{"Last_Name":"B"}]"#);
        let second = read(&path, &plan.ranges[1]).expect("read");
        assert!(matches!(&second[1], Line::Invalid { line: 7, reason } if reason.starts_with("an empty object")));
        assert_eq!(records_text(&second), r#"[{"Last_Name":"C"},{"Last_Name":"D"}]"#);
        let _ = std::fs::remove_file(path);
    }

    /// Zoho's limits cut jobs: 25,000 records, the CSV bound past 25 MB, 200 columns.
    #[test]
    fn jobs_stay_within_zohos_per_file_limits() {
        let mut text = String::new();
        for i in 0..25_001 {
            text.push_str(&format!("{{\"Last_Name\":\"n{i}\"}}\n"));
        }
        let path = file("records", &text);
        assert_eq!(plan(&path, usize::MAX).expect("plan").ranges.iter().map(|r| r.records).collect::<Vec<_>>(), [25_000, 1]);

        // 3 records of 10 MB: two fit under 25 MB, the third starts the next job.
        let big = format!("{{\"Description\":\"{}\"}}\n", "x".repeat(10_000_000));
        let path = file("bytes", &big.repeat(3));
        assert_eq!(plan(&path, usize::MAX).expect("plan").ranges.iter().map(|r| r.records).collect::<Vec<_>>(), [2, 1]);

        // 150 fields each, half of them new to the job: the second record would make 225 columns.
        let fields = |from: usize| Value::Object((from..from + 150).map(|i| (format!("F{i}"), Value::from(1))).collect()).to_string();
        let path = file("columns", &format!("{}\n{}\n", fields(0), fields(75)));
        assert_eq!(plan(&path, usize::MAX).expect("plan").ranges.len(), 2);
        let wide = Value::Object((0..201).map(|i| (format!("F{i}"), Value::from(1))).collect()).to_string();
        let path = file("wide", &format!("{wide}\n"));
        let plan = plan(&path, usize::MAX).expect("plan");
        assert_eq!(plan.ranges[0].records, 0, "a record wider than a file is reported, not sent");
        assert!(matches!(&read(&path, &plan.ranges[0]).expect("read")[0], Line::Invalid { reason, .. } if reason.contains("200 columns")));
        let _ = std::fs::remove_file(path);
    }

    /// A line past a file's size is reported, not held or sent (a 2 GB line would cost 2 GB);
    /// a byte order mark before the first record does not make it invalid; invalid UTF-8 is a
    /// line's reason, not the load's end.
    #[test]
    fn long_lines_boms_and_bad_bytes_are_lines_outcomes() {
        let long = format!("{{\"Description\":\"{}\"}}\n", "x".repeat(MAX_LINE_BYTES));
        let mut bytes = b"\xEF\xBB\xBF{\"Last_Name\":\"A\"}\r\n".to_vec();
        bytes.extend_from_slice(long.as_bytes());
        bytes.extend_from_slice(b"{\"Last_Name\":\"\xff\"}\n{\"Last_Name\":\"B\"}");
        let path = std::env::temp_dir().join(format!("zoho-load-input-{}-long", std::process::id()));
        std::fs::write(&path, &bytes).expect("written");
        let plan = plan(&path, usize::MAX).expect("plan");
        assert_eq!((plan.lines, plan.digest.as_str()), (4, digest(&path).expect("digest").as_str()));
        assert_eq!(plan.ranges.iter().map(|r| (r.first_line, r.lines, r.records)).collect::<Vec<_>>(), [(1, 4, 2)]);
        let lines = read(&path, &plan.ranges[0]).expect("read");
        assert!(matches!(&lines[1], Line::Invalid { line: 2, reason } if reason.contains("longer than 25000000 bytes")), "{:?}", lines[1]);
        assert!(matches!(&lines[2], Line::Invalid { line: 3, reason } if reason.contains("not UTF-8")));
        assert_eq!(records_text(&lines), r#"[{"Last_Name":"A"},{"Last_Name":"B"}]"#);
        let _ = std::fs::remove_file(path);
    }

    /// A line the component's CSV would refuse (a key that is no field API name, an object that
    /// is no lookup, a list with `;`) is that line's outcome, not its job's failed upload.
    #[test]
    fn lines_the_file_cannot_hold_are_reported_alone() {
        for bad in [r#"{"A,B":"x"}"#, r#"{"Last\nName":"x"}"#, r#"{"Nämé":"x"}"#, r#"{"A\"B":"x"}"#, r#"{"Owner":{"name":"x"}}"#, r#"{"Tags":["a;b"]}"#, r#"{"Tags":[{"x":1}]}"#] {
            let reason = parse(bad.as_bytes()).err().unwrap_or_else(|| panic!("{bad} was taken"));
            assert!(reason.contains("not a field API name") || reason.contains("cannot"), "{bad}: {reason}");
        }
        for good in [r#"{"Owner":{"id":"1"}}"#, r#"{"Owner.id":"1"}"#, r#"{"Tags":["a","b",3]}"#] {
            assert!(parse(good.as_bytes()).is_ok(), "{good}");
        }
    }

    /// The CSV bound: the header, the JSON, and a separator per cell.
    #[test]
    fn the_csv_bound_counts_sparse_columns() {
        let mut open = Open::at(1, 0);
        let a: Map<String, Value> = serde_json::from_str(r#"{"A":"1"}"#).expect("record");
        assert_eq!(open.bound_with(9, &a), (5 + 2 + 9 + 2, 1));
        open.columns.insert("A".into());
        open.json = 9;
        open.range.records = 1;
        let b: Map<String, Value> = serde_json::from_str(r#"{"B":"2"}"#).expect("record");
        assert_eq!(open.bound_with(9, &b), (10 + 2 + 18 + 2 * 3, 2));
    }
}
