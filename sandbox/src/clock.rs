//! The sandbox's clock: real time, or frozen and moved by tests.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use std::sync::Mutex;

pub struct Clock {
    /// `None` runs with the wall clock; `Some` is a frozen instant tests move by hand.
    frozen: Mutex<Option<DateTime<Utc>>>,
}

impl Clock {
    pub fn new() -> Self {
        Clock { frozen: Mutex::new(None) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.frozen.lock().map(|f| f.unwrap_or_else(Utc::now)).unwrap_or_else(|_| Utc::now())
    }

    pub fn freeze_at(&self, at: DateTime<Utc>) {
        if let Ok(mut f) = self.frozen.lock() {
            *f = Some(at);
        }
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut f) = self.frozen.lock() {
            *f = Some(f.unwrap_or_else(Utc::now) + by);
        }
    }

    /// Books' timestamp shape: no colon in the offset (`2016-06-11T17:38:06-0700`).
    pub fn now_books(at: DateTime<Utc>) -> String {
        at.with_timezone(&FixedOffset::west_opt(7 * 3600).expect("valid offset")).format("%Y-%m-%dT%H:%M:%S%z").to_string()
    }

    /// Zoho's timestamp shape: seconds precision with an offset (`2023-05-10T01:10:47-07:00`).
    pub fn zoho_time(at: DateTime<Utc>) -> String {
        at.with_timezone(&FixedOffset::west_opt(7 * 3600).expect("valid offset")).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
