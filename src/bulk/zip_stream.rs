//! A bulk read result, a ZIP holding one CSV, unzipped as its bytes arrive: the entry's local
//! header is read, its data inflated chunk by chunk into the CSV reader, and nothing of the
//! file is held beyond one header and one inflate window.
//!
//! Zoho's "Download Bulk Read Result" page (v8): "The file would be in .zip format. Extract it
//! to get the CSV"; the limitations page: the ZIP `{job_id}.zip` holds `{job_id}.csv`. A ZIP
//! (PKWARE APPNOTE 4.3.7) starts with its first entry's local header; the central directory at
//! its end is not needed to read the first entry. What a hostile answer could do is bounded:
//! an entry that is not a CSV, encrypted, or compressed otherwise than stored or deflated is
//! refused; inflated bytes are capped ([`MAX_INFLATED_BYTES`]) and so is their ratio to the
//! compressed bytes ([`MAX_RATIO`], a ZIP bomb); a second entry is refused when the first ends.

use crate::error::{ErrorKind, Result, ZohoError};
use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZFlush, MZStatus};

/// Inflated bytes read from one result at most (a 200,000-record page of 1,000 fields is far
/// less than this in Zoho's CSV; the cap ends a bomb whatever its ratio).
pub const MAX_INFLATED_BYTES: u64 = 8 << 30;
/// Inflated bytes per compressed byte past which the file is a bomb (judged once
/// [`RATIO_GRACE_BYTES`] are inflated): CSV text deflates 5 to 50 times, the deflate format's
/// own ceiling is about 1,032.
pub const MAX_RATIO: u64 = 200;
pub const RATIO_GRACE_BYTES: u64 = 16 << 20;
/// Longest entry name and extra field kept while the header is read.
const MAX_NAME_BYTES: usize = 1024;
const LOCAL_HEADER: [u8; 4] = *b"PK\x03\x04";
const CENTRAL_HEADER: [u8; 4] = *b"PK\x01\x02";
const END_OF_DIRECTORY: [u8; 4] = *b"PK\x05\x06";
const DATA_DESCRIPTOR: [u8; 4] = *b"PK\x07\x08";

/// Where the entry's bytes go: the CSV reader.
pub trait Entry {
    /// Inflated bytes; `Ok(false)` when no more are wanted.
    fn data(&mut self, bytes: &[u8]) -> Result<bool>;
    /// The entry ended.
    fn end(&mut self) -> Result<()>;
}

enum Stage {
    Header,
    Data,
    Trailer,
    Done,
}

/// The ZIP reader's state between chunks.
pub struct ZipStream {
    stage: Stage,
    pending: Vec<u8>,
    deflated: bool,
    descriptor: bool,
    crc_expected: u32,
    stored_left: u64,
    inflater: Option<Box<InflateState>>,
    crc: crc32fast::Hasher,
    compressed: u64,
    inflated: u64,
    window: Vec<u8>,
}

impl Default for ZipStream {
    fn default() -> Self {
        ZipStream {
            stage: Stage::Header,
            pending: Vec::new(),
            deflated: false,
            descriptor: false,
            crc_expected: 0,
            stored_left: 0,
            inflater: None,
            crc: crc32fast::Hasher::new(),
            compressed: 0,
            inflated: 0,
            window: vec![0; 64 * 1024],
        }
    }
}

/// A result that is not the ZIP Zoho documents: a typed `zoho` error naming why.
pub fn not_the_zip(why: impl std::fmt::Display) -> ZohoError {
    ZohoError::new(ErrorKind::Zoho, format!("Zoho's bulk job result is not the ZIP of one CSV it documents: {why}")).with_status(200)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl ZipStream {
    /// Feeds the next bytes of the download; `Ok(false)` when the entry wants no more.
    pub fn feed(&mut self, mut bytes: &[u8], entry: &mut dyn Entry) -> Result<bool> {
        loop {
            match self.stage {
                Stage::Header => {
                    let wanted = 30usize.saturating_sub(self.pending.len());
                    let take = wanted.min(bytes.len());
                    self.pending.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.pending.len() >= 4 && self.pending[..4] != LOCAL_HEADER {
                        return Err(not_the_zip("it does not start with a ZIP entry"));
                    }
                    if self.pending.len() < 30 {
                        return Ok(true);
                    }
                    let whole = 30 + usize::from(u16_at(&self.pending, 26)) + usize::from(u16_at(&self.pending, 28));
                    if whole > 30 + 2 * MAX_NAME_BYTES + 64 * 1024 {
                        return Err(not_the_zip("its entry header is too long"));
                    }
                    let more = whole.saturating_sub(self.pending.len()).min(bytes.len());
                    self.pending.extend_from_slice(&bytes[..more]);
                    bytes = &bytes[more..];
                    if self.pending.len() < whole {
                        return Ok(true);
                    }
                    self.read_header()?;
                    self.pending.clear();
                    self.stage = Stage::Data;
                }
                Stage::Data => {
                    if bytes.is_empty() {
                        return Ok(true);
                    }
                    let (used, wants_more) = if self.deflated { self.inflate(bytes, entry)? } else { self.stored(bytes, entry)? };
                    bytes = &bytes[used..];
                    if !wants_more {
                        return Ok(false);
                    }
                }
                Stage::Trailer => {
                    let take = (64 - self.pending.len().min(64)).min(bytes.len());
                    self.pending.extend_from_slice(&bytes[..take]);
                    return self.check_trailer(false).map(|()| true);
                }
                Stage::Done => return Ok(true),
            }
        }
    }

    /// The download ended: the entry must have ended with it, whole.
    pub fn finish(&mut self) -> Result<()> {
        match self.stage {
            Stage::Header | Stage::Data => Err(not_the_zip("the file ends inside its first entry (a cut-off download)")),
            Stage::Trailer => self.check_trailer(true),
            Stage::Done => Ok(()),
        }
    }

    fn read_header(&mut self) -> Result<()> {
        let h = &self.pending;
        if h[..4] != LOCAL_HEADER {
            return Err(not_the_zip("it does not start with a ZIP entry"));
        }
        let flags = u16_at(h, 6);
        let method = u16_at(h, 8);
        if flags & 1 != 0 {
            return Err(not_the_zip("its entry is encrypted"));
        }
        let name_len = usize::from(u16_at(h, 26));
        let name = String::from_utf8_lossy(&h[30..30 + name_len]).into_owned();
        if !name.to_ascii_lowercase().ends_with(".csv") {
            let ics = name.to_ascii_lowercase().ends_with(".ics");
            return Err(not_the_zip(format!("its entry {:?} is not a CSV{}", crate::redact::shown(&name, 80), if ics { " (an ICS calendar: this action reads CSV results only)" } else { "" })));
        }
        self.descriptor = flags & 8 != 0;
        self.crc_expected = u32_at(h, 14);
        let compressed = u64::from(u32_at(h, 18));
        let inflated = u64::from(u32_at(h, 22));
        match method {
            8 => {
                self.deflated = true;
                self.inflater = Some(InflateState::new_boxed(DataFormat::Raw));
            }
            0 if !self.descriptor && compressed == inflated => self.stored_left = compressed,
            0 => return Err(not_the_zip("its stored entry gives no size")),
            other => return Err(not_the_zip(format!("its entry is compressed with method {other}; Zoho's are deflated"))),
        }
        if !self.descriptor && inflated > MAX_INFLATED_BYTES {
            return Err(bomb(format!("its entry says it inflates to {inflated} bytes")));
        }
        Ok(())
    }

    fn stored(&mut self, bytes: &[u8], entry: &mut dyn Entry) -> Result<(usize, bool)> {
        let take = usize::try_from(self.stored_left).unwrap_or(usize::MAX).min(bytes.len());
        let chunk = &bytes[..take];
        self.stored_left -= take as u64;
        self.crc.update(chunk);
        let wants = entry.data(chunk)?;
        if self.stored_left == 0 {
            self.entry_ended(entry)?;
        }
        Ok((take, wants))
    }

    fn inflate(&mut self, bytes: &[u8], entry: &mut dyn Entry) -> Result<(usize, bool)> {
        let Some(state) = self.inflater.as_mut() else { return Err(not_the_zip("its entry has no inflater")) };
        let result = inflate(state, bytes, &mut self.window, MZFlush::None);
        let written = result.bytes_written;
        self.compressed = self.compressed.saturating_add(result.bytes_consumed as u64);
        self.inflated = self.inflated.saturating_add(written as u64);
        if self.inflated > MAX_INFLATED_BYTES {
            return Err(bomb(format!("its entry inflates past {MAX_INFLATED_BYTES} bytes")));
        }
        if self.inflated > RATIO_GRACE_BYTES && self.inflated / self.compressed.max(1) > MAX_RATIO {
            return Err(bomb(format!("its entry inflates more than {MAX_RATIO} times its compressed size")));
        }
        let status = result.status.map_err(|e| not_the_zip(format!("its deflated data is corrupt ({e:?})")))?;
        self.crc.update(&self.window[..written]);
        let wants = if written > 0 { entry.data(&self.window[..written])? } else { true };
        if status == MZStatus::StreamEnd {
            self.entry_ended(entry)?;
        } else if result.bytes_consumed == 0 && written == 0 {
            return Err(not_the_zip("its deflated data does not progress"));
        }
        Ok((result.bytes_consumed, wants))
    }

    fn entry_ended(&mut self, entry: &mut dyn Entry) -> Result<()> {
        entry.end()?;
        self.inflater = None;
        self.stage = Stage::Trailer;
        Ok(())
    }

    /// After the entry: its data descriptor (when the header said one follows), then the
    /// central directory. Another local header is a second entry, refused.
    fn check_trailer(&mut self, at_end: bool) -> Result<()> {
        let t = &self.pending;
        let skip = if !self.descriptor {
            0
        } else if t.len() >= 4 && t[..4] == DATA_DESCRIPTOR {
            4
        } else {
            0
        };
        if self.descriptor && t.len() >= skip + 4 {
            self.crc_expected = u32_at(t, skip);
        }
        // The descriptor's sizes are 4 or 8 bytes each (ZIP64): the next header is looked for in both places.
        let after = if self.descriptor { [skip + 12, skip + 20] } else { [0, 0] };
        let at = |i: usize| t.get(i..i + 4);
        if after.iter().any(|&i| at(i) == Some(&LOCAL_HEADER[..])) {
            return Err(not_the_zip("it holds more than one entry"));
        }
        let complete = after.iter().any(|&i| at(i) == Some(&CENTRAL_HEADER[..]) || at(i) == Some(&END_OF_DIRECTORY[..]));
        if complete || at_end || t.len() >= 64 {
            let crc = std::mem::take(&mut self.crc).finalize();
            if crc != self.crc_expected {
                return Err(not_the_zip("its CSV does not match the entry's checksum"));
            }
            self.stage = Stage::Done;
        }
        Ok(())
    }
}

fn bomb(why: String) -> ZohoError {
    not_the_zip(format!("{why} (a ZIP bomb, refused)")).with_code("ZIP_BOMB")
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A ZIP of one deflated entry with a data descriptor, as Zoho's (and the sandbox's) are.
    pub fn zip_of(name: &str, content: &[u8]) -> Vec<u8> {
        let deflated = miniz_oxide::deflate::compress_to_vec(content, 6);
        let crc = crc32fast::hash(content);
        let mut out = Vec::new();
        out.extend_from_slice(&LOCAL_HEADER);
        out.extend_from_slice(&[20, 0, 8, 0, 8, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&deflated);
        out.extend_from_slice(&DATA_DESCRIPTOR);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(deflated.len() as u32).to_le_bytes());
        out.extend_from_slice(&(content.len() as u32).to_le_bytes());
        out.extend_from_slice(&CENTRAL_HEADER);
        out.extend_from_slice(&[0; 42]);
        out
    }

    #[derive(Default)]
    struct Collect(Vec<u8>, bool);
    impl Entry for Collect {
        fn data(&mut self, bytes: &[u8]) -> Result<bool> {
            self.0.extend_from_slice(bytes);
            Ok(true)
        }
        fn end(&mut self) -> Result<()> {
            self.1 = true;
            Ok(())
        }
    }

    fn unzip(zip: &[u8], chunk: usize) -> Result<Vec<u8>> {
        let mut stream = ZipStream::default();
        let mut out = Collect::default();
        for part in zip.chunks(chunk) {
            stream.feed(part, &mut out)?;
        }
        stream.finish()?;
        assert!(out.1);
        Ok(out.0)
    }

    #[test]
    fn one_csv_entry_is_inflated_whatever_the_chunking() {
        let csv: Vec<u8> = (0..5000).flat_map(|i| format!("{i},name {i}\n").into_bytes()).collect();
        let zip = zip_of("123.csv", &csv);
        for chunk in [1, 7, 1000, 1 << 20] {
            assert_eq!(unzip(&zip, chunk).unwrap(), csv);
        }
    }

    #[test]
    fn hostile_files_are_typed_errors() {
        let message = |zip: &[u8]| unzip(zip, 4096).unwrap_err().message;
        assert!(message(b"<html>oops</html> and then some more bytes....").contains("does not start with a ZIP entry"));
        assert!(message(&zip_of("123.ics", b"BEGIN:VCALENDAR")).contains("ICS"));
        let mut two = zip_of("1.csv", b"a\n1\n");
        let second_at = two.len() - 46;
        two.truncate(second_at);
        two.extend_from_slice(&zip_of("2.csv", b"b\n"));
        assert!(message(&two).contains("more than one entry"));
        let mut corrupt = zip_of("1.csv", b"Id\n1\n2\n3\n");
        let crc_at = corrupt.len() - 46 - 12;
        corrupt[crc_at] ^= 0xff;
        assert!(message(&corrupt).contains("checksum"));
        let whole = zip_of("1.csv", b"Id\n1\n");
        assert!(message(&whole[..33]).contains("cut-off"));
        assert!(message(&whole[..whole.len() - 60]).contains("checksum"));
        let bomb = zip_of("1.csv", &vec![b','; 64 << 20]);
        let error = unzip(&bomb, 1 << 16).unwrap_err();
        assert_eq!(error.code.as_deref(), Some("ZIP_BOMB"));
    }
    /// Every cut-off prefix of a result, and every single byte of it flipped, read in chunks of
    /// 1 and 7 bytes: a typed error or the CSV, never a panic.
    #[test]
    fn every_truncation_and_flipped_byte_is_an_answer_not_a_panic() {
        let csv: Vec<u8> = (0..300).flat_map(|i| format!("{i},name {i}\n").into_bytes()).collect();
        let zip = zip_of("9.csv", &csv);
        for end in 0..zip.len() {
            for chunk in [1, 7] {
                let mut stream = ZipStream::default();
                let mut out = Collect::default();
                let fed = zip[..end].chunks(chunk).try_for_each(|part| stream.feed(part, &mut out).map(|_| ()));
                let _ = fed.and_then(|()| stream.finish());
            }
        }
        for at in 0..zip.len() {
            let mut bad = zip.clone();
            bad[at] ^= 0x5a;
            for chunk in [1, 7] {
                let mut stream = ZipStream::default();
                let mut out = Collect::default();
                let fed = bad.chunks(chunk).try_for_each(|part| stream.feed(part, &mut out).map(|_| ()));
                if fed.and_then(|()| stream.finish()).is_ok() {
                    assert!(out.0 == csv || at >= zip.len() - 46 - 16, "byte {at} flipped, read as another CSV");
                }
            }
        }
    }
}
