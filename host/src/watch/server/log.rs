//! The server's log lines: each kind a stranger can cause written once, then summarised at
//! most once per interval.

use super::{Counts, LogSink, QUEUE};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The kinds of lines a stranger can cause, each written once then summarised.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Forged = 0,
    QueueFull = 1,
    Unread = 2,
}

#[derive(Default)]
struct Limiter {
    last_line: Option<Instant>,
    pending: u64,
}

/// The server's log: a line per kind at most once per interval, the rest counted into one
/// summary line, so a flood of forged deliveries writes a bounded number of lines.
pub(super) struct Log {
    sink: LogSink,
    counts: Arc<Counts>,
    every: Duration,
    kinds: Mutex<[Limiter; 3]>,
}

impl Log {
    pub(super) fn new(sink: LogSink, counts: Arc<Counts>, every: Duration) -> Log {
        Log { sink, counts, every, kinds: Mutex::new(Default::default()) }
    }

    fn write(&self, line: &str) {
        self.counts.lines_logged.fetch_add(1, Ordering::Relaxed);
        (self.sink)(line);
    }

    /// One event of `kind`: written at once when its kind wrote nothing in the last interval,
    /// else counted for the next summary.
    pub(super) fn note(&self, kind: Kind, line: impl FnOnce() -> String) {
        let now = Instant::now();
        let write = match self.kinds.lock() {
            Ok(mut kinds) => {
                let limiter = &mut kinds[kind as usize];
                let quiet = limiter.last_line.is_none_or(|t| now.duration_since(t) >= self.every);
                if quiet && limiter.pending == 0 {
                    limiter.last_line = Some(now);
                    true
                } else {
                    limiter.pending += 1;
                    false
                }
            }
            Err(_) => false,
        };
        if write {
            self.write(&line());
        }
    }

    /// Writes the summaries due (all pending ones when `all`, as the server stops).
    pub(super) fn flush(&self, all: bool) {
        let now = Instant::now();
        let mut due = Vec::new();
        if let Ok(mut kinds) = self.kinds.lock() {
            for (i, limiter) in kinds.iter_mut().enumerate() {
                let Some(last) = limiter.last_line else { continue };
                let since = now.duration_since(last);
                if limiter.pending > 0 && (all || since >= self.every) {
                    due.push((i, limiter.pending, since.as_secs().max(1)));
                    limiter.pending = 0;
                    limiter.last_line = Some(now);
                }
            }
        }
        for (kind, n, seconds) in due {
            self.write(&match kind {
                0 => format!("zoho-host watch: refused {n} more deliveries whose channel or token is not this watch's in the last {seconds} s (answered 403, written nowhere)"),
                1 => format!("zoho-host watch: {n} more deliveries found {QUEUE} waiting in the last {seconds} s; the next sweep reads their changes"),
                _ => {
                    format!("zoho-host watch: turned away {n} more requests without reading them whole in the last {seconds} s (too large, too slow, not JSON, or over the notify URL's buffer budget)")
                }
            });
        }
    }
}
