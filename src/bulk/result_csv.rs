//! The CSV of a bulk read result, read as its bytes are inflated: the header row names the
//! columns (field API names), each later row is one record, typed by the module's field
//! metadata and written as JSON. Only one row is held at a time.
//!
//! Zoho's "Download Bulk Read Result" page (v8): the CSV's columns are the fields asked for, in
//! that order (every field, in no set order, when none were named); a lookup's column holds the
//! related record's id; a multi-select picklist's values are separated by `;`. Rows are RFC
//! 4180. Bounds on what a hostile file can make this hold: a row of more than
//! [`MAX_ROW_BYTES`] (a giant cell) and a header of more than [`MAX_COLUMNS`] columns are
//! typed errors, as is a row whose column count is not the header's.

use crate::bulk::zip_stream::{not_the_zip, Entry};
use crate::crm::fields::FieldDescription;
use crate::error::Result;
use csv_core::{ReadRecordResult, Reader};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// Bytes one row may hold (a record of 1,000 fields of a few kilobytes each fits).
pub const MAX_ROW_BYTES: usize = 8 << 20;
/// Columns a result may have: Zoho exports at most 1,000 fields a job, plus its `Id`.
pub const MAX_COLUMNS: usize = 2_000;

/// How one column's text becomes JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Typed {
    Text,
    Integer,
    Decimal,
    Boolean,
    Lookup,
    MultiSelect,
}

impl Typed {
    fn of(data_type: &str) -> Typed {
        match data_type {
            "integer" | "bigint" | "autonumber_integer" => Typed::Integer,
            "double" | "currency" | "percent" | "decimal" => Typed::Decimal,
            "boolean" => Typed::Boolean,
            "lookup" | "ownerlookup" | "userlookup" => Typed::Lookup,
            "multiselectpicklist" => Typed::MultiSelect,
            _ => Typed::Text,
        }
    }

    /// A cell as JSON: empty is null; a cell that does not read as its type stays text (Zoho's
    /// formats vary by org setting; the value is never lost).
    fn value(self, cell: &str) -> Value {
        if cell.is_empty() {
            return Value::Null;
        }
        match self {
            Typed::Integer => cell.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(cell)),
            Typed::Decimal => cell
                .parse::<i64>()
                .map(Value::from)
                .ok()
                .or_else(|| exact_in_f64(cell).then(|| cell.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number)).flatten())
                .unwrap_or_else(|| Value::from(cell)),
            Typed::Boolean => match cell {
                "true" | "TRUE" | "True" => Value::Bool(true),
                "false" | "FALSE" | "False" => Value::Bool(false),
                _ => Value::from(cell),
            },
            Typed::Lookup => serde_json::json!({ "id": cell }),
            Typed::MultiSelect => Value::Array(cell.split(';').map(str::trim).filter(|v| !v.is_empty()).map(Value::from).collect()),
            Typed::Text => Value::from(cell),
        }
    }
}

/// Whether a decimal cell reads back unchanged from a double: at most 15 significant digits
/// (every such decimal survives the round trip). A longer one (a currency field holds up to 16
/// digits before its point plus its precision) stays text rather than come out rounded.
fn exact_in_f64(cell: &str) -> bool {
    let mantissa = cell.split(['e', 'E']).next().unwrap_or(cell);
    // Counted in one pass, nothing allocated (this runs for every decimal cell of a result).
    let (mut all, mut through_last_nonzero) = (0usize, 0usize);
    for digit in mantissa.bytes().filter(u8::is_ascii_digit).skip_while(|d| *d == b'0') {
        all = all.saturating_add(1);
        if digit != b'0' {
            through_last_nonzero = all;
        }
    }
    // Trailing zeros after the point are not significant; before it they are (1e20 vs 100...0).
    let count = if mantissa.contains('.') { through_last_nonzero } else { all };
    count <= 15
}

/// A column: the key its values get in a record, and their type.
#[derive(Debug)]
struct Column {
    key: String,
    typed: Typed,
}

/// RFC 4180 rows read with csv-core as bytes arrive, one row held at a time, bounded: a row
/// past [`MAX_ROW_BYTES`] or [`MAX_COLUMNS`] columns is a typed error. Shared by the bulk read
/// result and the bulk write result.
#[derive(Debug)]
pub struct CsvRows {
    reader: Reader,
    row: Vec<u8>,
    ends: Vec<usize>,
    row_len: usize,
    ends_len: usize,
    /// Rows read so far, the header included.
    pub rows_read: u64,
}

impl Default for CsvRows {
    fn default() -> Self {
        CsvRows { reader: Reader::new(), row: vec![0; 4096], ends: vec![0; 64], row_len: 0, ends_len: 0, rows_read: 0 }
    }
}

impl CsvRows {
    /// Reads `input` (empty: the end of the file), handing each whole row to `on_row`; stops
    /// when `on_row` answers false, and answers false then.
    pub fn read(&mut self, mut input: &[u8], on_row: &mut dyn FnMut(Vec<String>) -> Result<bool>) -> Result<bool> {
        loop {
            let (result, used, written, ended) = self.reader.read_record(input, &mut self.row[self.row_len..], &mut self.ends[self.ends_len..]);
            input = &input[used..];
            self.row_len += written;
            self.ends_len += ended;
            match result {
                ReadRecordResult::InputEmpty | ReadRecordResult::End => return Ok(true),
                ReadRecordResult::OutputFull => self.grow_row()?,
                ReadRecordResult::OutputEndsFull => self.grow_ends()?,
                ReadRecordResult::Record => {
                    let cells = self.cells()?;
                    self.row_len = 0;
                    self.ends_len = 0;
                    self.rows_read = self.rows_read.saturating_add(1);
                    if !on_row(cells)? {
                        return Ok(false);
                    }
                }
            }
        }
    }

    fn grow_row(&mut self) -> Result<()> {
        if self.row.len() >= MAX_ROW_BYTES {
            return Err(not_the_zip(format!("row {} of its CSV is larger than {} MiB (a giant cell)", self.rows_read, MAX_ROW_BYTES >> 20)));
        }
        let grown = (self.row.len() * 2).min(MAX_ROW_BYTES);
        self.row.resize(grown, 0);
        Ok(())
    }

    fn grow_ends(&mut self) -> Result<()> {
        if self.ends.len() > MAX_COLUMNS {
            return Err(not_the_zip(format!("its CSV has rows of more than {MAX_COLUMNS} columns; Zoho exports at most 1,000 fields a job")));
        }
        let grown = (self.ends.len() * 2).min(MAX_COLUMNS + 1);
        self.ends.resize(grown, 0);
        Ok(())
    }

    fn cells(&self) -> Result<Vec<String>> {
        let mut start = 0;
        let mut cells = Vec::with_capacity(self.ends_len);
        for &end in &self.ends[..self.ends_len] {
            let bytes = self.row.get(start..end).unwrap_or_default();
            let text = std::str::from_utf8(bytes).map_err(|_| not_the_zip(format!("row {} of its CSV is not UTF-8", self.rows_read)))?;
            cells.push(text.to_string());
            start = end;
        }
        Ok(cells)
    }
}

/// The page being read: rows before `offset` are skipped, then up to `limit` rows (and at most
/// `max_bytes` of JSON) are kept.
#[derive(Debug)]
pub struct ResultPage {
    rows: CsvRows,
    types: HashMap<String, Typed>,
    columns: Option<Vec<Column>>,
    /// Data rows seen so far (the header is not counted).
    pub rows_seen: u64,
    offset: u64,
    limit: usize,
    max_bytes: usize,
    /// The page's records as JSON texts.
    pub records: Vec<String>,
    bytes: usize,
    /// The page stopped before the file's end (more rows may follow).
    pub stopped: bool,
    /// The file ended (every row was read).
    pub ended: bool,
}

impl ResultPage {
    pub fn new(fields: &[FieldDescription], offset: u64, limit: usize, max_bytes: usize) -> Self {
        let types = fields.iter().map(|f| (f.api_name.clone(), Typed::of(&f.data_type))).collect();
        ResultPage { rows: CsvRows::default(), types, columns: None, rows_seen: 0, offset, limit, max_bytes, records: Vec::new(), bytes: 0, stopped: false, ended: false }
    }

    /// The same page, not yet read (a retried download starts over).
    pub fn clone_empty(&self) -> Self {
        ResultPage { types: self.types.clone(), ..ResultPage::new(&[], self.offset, self.limit, self.max_bytes) }
    }

    /// The column names, as the header gave them (after the first row).
    pub fn column_names(&self) -> Vec<String> {
        self.columns.as_ref().map(|c| c.iter().map(|c| c.key.clone()).collect()).unwrap_or_default()
    }

    /// Reads `input` to its end, or until the page is full (false).
    fn read(&mut self, input: &[u8]) -> Result<bool> {
        let mut rows = std::mem::take(&mut self.rows);
        let more = rows.read(input, &mut |cells| self.record(cells));
        self.rows = rows;
        let more = more?;
        if !more {
            self.stopped = true;
        }
        Ok(more)
    }

    /// The row just read: the header, a skipped row, or a record of the page.
    fn record(&mut self, cells: Vec<String>) -> Result<bool> {
        let Some(columns) = &self.columns else {
            self.columns = Some(cells.iter().enumerate().map(|(i, name)| self.column(name, i)).collect());
            return Ok(true);
        };
        if cells.len() != columns.len() {
            return Err(not_the_zip(format!("row {} of its CSV has {} columns, its header {}", self.rows_seen.saturating_add(1), cells.len(), columns.len())));
        }
        let index = self.rows_seen;
        self.rows_seen = self.rows_seen.saturating_add(1);
        if index < self.offset {
            return Ok(true);
        }
        let record: Map<String, Value> = columns.iter().zip(&cells).map(|(c, cell)| (c.key.clone(), c.typed.value(cell))).collect();
        let text = Value::Object(record).to_string();
        self.bytes = self.bytes.saturating_add(text.len() + 1);
        self.records.push(text);
        Ok(self.records.len() < self.limit && self.bytes < self.max_bytes)
    }

    /// A header cell as a column: `Id` is the record's `id` (as every other action names it);
    /// `X.id` is lookup X's id; otherwise the field's API name, typed by its metadata.
    fn column(&self, name: &str, at: usize) -> Column {
        let name = if at == 0 { name.trim_start_matches('\u{feff}') } else { name };
        if name == "Id" {
            return Column { key: "id".into(), typed: Typed::Text };
        }
        if let Some(lookup) = name.strip_suffix(".id") {
            return Column { key: lookup.to_string(), typed: Typed::Lookup };
        }
        Column { key: name.to_string(), typed: self.types.get(name).copied().unwrap_or(Typed::Text) }
    }
}

impl Entry for ResultPage {
    fn data(&mut self, bytes: &[u8]) -> Result<bool> {
        self.read(bytes)
    }

    /// The CSV ended: its last row may have had no line end.
    fn end(&mut self) -> Result<()> {
        if !self.stopped {
            self.read(&[])?;
            self.ended = !self.stopped;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, data_type: &str) -> FieldDescription {
        FieldDescription { api_name: name.into(), data_type: data_type.into(), ..Default::default() }
    }

    fn read(csv: &[u8], offset: u64, limit: usize) -> Result<ResultPage> {
        let fields =
            [field("Annual_Revenue", "currency"), field("No_of_Employees", "integer"), field("Email_Opt_Out", "boolean"), field("Owner", "ownerlookup"), field("Tags_X", "multiselectpicklist")];
        let mut page = ResultPage::new(&fields, offset, limit, 1 << 20);
        for chunk in csv.chunks(5) {
            if !page.data(chunk)? {
                break;
            }
        }
        page.end()?;
        Ok(page)
    }

    #[test]
    fn rows_are_typed_by_the_fields_metadata() {
        let csv = b"\xef\xbb\xbfId,Last_Name,Annual_Revenue,No_of_Employees,Email_Opt_Out,Owner,Tags_X,Account_Name.id\n1,\"Doe, \"\"J\"\"\",1200.5,12,true,99,a;b,7\n2,,,,,,,";
        let page = read(csv, 0, 10).unwrap();
        assert_eq!(
            page.records[0],
            r#"{"Account_Name":{"id":"7"},"Annual_Revenue":1200.5,"Email_Opt_Out":true,"Last_Name":"Doe, \"J\"","No_of_Employees":12,"Owner":{"id":"99"},"Tags_X":["a","b"],"id":"1"}"#
        );
        assert_eq!(page.records[1], r#"{"Account_Name":null,"Annual_Revenue":null,"Email_Opt_Out":null,"Last_Name":null,"No_of_Employees":null,"Owner":null,"Tags_X":null,"id":"2"}"#);
        assert!(page.ended && !page.stopped);
    }

    /// A decimal a double would round stays text; one it holds exactly is a number.
    #[test]
    fn decimals_past_a_doubles_precision_stay_text() {
        assert_eq!(Typed::Decimal.value("1234567890123.45"), serde_json::json!(1234567890123.45));
        assert_eq!(Typed::Decimal.value("0.000001250"), serde_json::json!(0.00000125));
        assert_eq!(Typed::Decimal.value("12345678901234567.89"), Value::from("12345678901234567.89"));
        assert_eq!(Typed::Decimal.value("9007199254740993.5"), Value::from("9007199254740993.5"));
        assert_eq!(Typed::Decimal.value("99999999999999999999"), Value::from("99999999999999999999"));
        assert_eq!(Typed::Decimal.value("-42"), serde_json::json!(-42));
        assert_eq!(Typed::Decimal.value("1e400"), Value::from("1e400"));
    }

    #[test]
    fn offset_and_limit_cut_the_page() {
        let csv: Vec<u8> = std::iter::once("Id\n".to_string()).chain((0..10).map(|i| format!("{i}\n"))).collect::<String>().into_bytes();
        let page = read(&csv, 3, 4).unwrap();
        assert_eq!(page.records, ["{\"id\":\"3\"}", "{\"id\":\"4\"}", "{\"id\":\"5\"}", "{\"id\":\"6\"}"]);
        assert!(page.stopped && !page.ended);
    }

    #[test]
    fn giant_cells_wide_headers_and_ragged_rows_are_typed_errors() {
        let giant = [b"Id\n\"".as_slice(), &vec![b'x'; MAX_ROW_BYTES + 10], b"\"\n"].concat();
        assert!(read(&giant, 0, 10).unwrap_err().message.contains("giant cell"));
        let wide = [vec![b','; 10_000_000], b"\n".to_vec()].concat();
        assert!(read(&wide, 0, 10).unwrap_err().message.contains("more than 2000 columns"));
        assert!(read(b"Id,A\n1\n", 0, 10).unwrap_err().message.contains("has 1 columns, its header 2"));
    }
}
