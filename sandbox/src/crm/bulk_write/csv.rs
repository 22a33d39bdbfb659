//! RFC 4180 rows of an uploaded file, as Zoho reads them: cells split on commas outside quotes,
//! quotes doubled inside quoted cells, rows ended by CRLF or LF; a UTF-8 byte-order mark before
//! the header is dropped. (Zoho also detects `;`, `:` and `|` from the header, per the
//! limitations page; the component writes commas, so the sandbox reads commas only.)

/// Every row of `csv`, the header first.
pub fn rows(csv: &[u8]) -> Vec<Vec<String>> {
    let text = String::from_utf8_lossy(csv);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

/// The header row's cells.
pub fn header(csv: &[u8]) -> Vec<String> {
    let end = csv.iter().position(|&b| b == b'\n').map_or(csv.len(), |i| i + 1);
    rows(&csv[..end]).into_iter().next().unwrap_or_default()
}

/// One row written back: cells quoted when they must be, CRLF-ended.
pub fn write_row(out: &mut String, cells: &[&str]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if cell.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(cell);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_cells_keep_commas_quotes_and_line_breaks() {
        let csv = "\u{feff}A,B\r\n\"x, \"\"y\"\"\",\"two\nlines\"\r\nMüller,\r\nlast,row".as_bytes();
        assert_eq!(rows(csv), vec![vec!["A", "B"], vec!["x, \"y\"", "two\nlines"], vec!["Müller", ""], vec!["last", "row"]]);
        assert_eq!(header(csv), ["A", "B"]);
        let mut out = String::new();
        write_row(&mut out, &["a,b", "c"]);
        assert_eq!(out, "\"a,b\",c\r\n");
    }
}
