//! A step's stderr (its debug log), capped: writes past the cap are accepted and dropped, so a
//! long debug log never traps the step (wasmtime's MemoryOutputPipe traps when full). The kept
//! text ends with a marker line saying how much was dropped.

use bytes::Bytes;
use std::sync::{Arc, Mutex};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Room kept under the cap for the marker line.
const MARKER_ROOM: usize = 128;
/// Bytes the guest may write per call: anything, since every write is accepted.
const WRITE_PERMIT: usize = 64 << 10;

/// The text that starts the line telling the log was cut.
pub const DROPPED_MARKER: &str = "[zoho-host: debug log cut at";

#[derive(Default)]
struct Kept {
    text: Vec<u8>,
    dropped: u64,
}

/// A cloneable handle: the store writes through one clone, the host reads through another.
#[derive(Clone)]
pub struct StepLog {
    cap: usize,
    kept: Arc<Mutex<Kept>>,
}

impl StepLog {
    /// A log whose contents (marker included) never exceed `cap` bytes.
    pub fn new(cap: usize) -> Self {
        StepLog { cap, kept: Arc::default() }
    }

    fn keep(&self, bytes: &[u8]) {
        let Ok(mut kept) = self.kept.lock() else { return };
        let room = self.cap.saturating_sub(MARKER_ROOM).saturating_sub(kept.text.len());
        let (taken, rest) = bytes.split_at(bytes.len().min(room));
        kept.text.extend_from_slice(taken);
        kept.dropped = kept.dropped.saturating_add(rest.len() as u64);
    }

    /// What the step wrote, cut at the last whole line before the cap, then the marker line.
    pub fn contents(&self) -> String {
        let Ok(kept) = self.kept.lock() else { return String::new() };
        if kept.dropped == 0 {
            return String::from_utf8_lossy(&kept.text).into_owned();
        }
        let whole_lines = kept.text.iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1);
        let dropped = kept.dropped.saturating_add((kept.text.len() - whole_lines) as u64);
        let mut text = String::from_utf8_lossy(&kept.text[..whole_lines]).into_owned();
        text.push_str(&format!("{DROPPED_MARKER} {} bytes: {dropped} bytes dropped]\n", self.cap));
        // The lossy conversion can only grow text by replacement characters; keep the promise.
        if text.len() > self.cap {
            let mut end = self.cap;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        text
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for StepLog {
    async fn ready(&mut self) {}
}

impl OutputStream for StepLog {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

impl tokio::io::AsyncWrite for StepLog {
    fn poll_write(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>, buf: &[u8]) -> std::task::Poll<std::io::Result<usize>> {
        self.keep(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl IsTerminal for StepLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StepLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log past its cap is cut with a marker, never an error, and stays under the cap.
    #[test]
    fn writes_past_the_cap_are_accepted_and_marked() {
        let mut log = StepLog::new(1024);
        for i in 0..200 {
            assert!(log.check_write().is_ok());
            assert!(OutputStream::write(&mut log, Bytes::from(format!("line {i} é\n"))).is_ok());
        }
        let text = log.contents();
        assert!(text.len() <= 1024, "{}", text.len());
        assert!(text.starts_with("line 0 é\nline 1 é\n"));
        let last = text.lines().last().unwrap_or("");
        assert!(last.starts_with(DROPPED_MARKER), "{last}");
        assert!(text.lines().rev().nth(1).is_some_and(|l| l.ends_with('é')), "cut at a whole line");
        let short = StepLog::new(1024);
        short.keep(b"short\n");
        assert_eq!(short.contents(), "short\n");
    }
}
