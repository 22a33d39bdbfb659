//! The unit tests' one fixture: a scripted Zoho that records what it is sent, an in-memory
//! key-value store, a connection holding an access token, and the step's options.

use crate::client::Client;
use crate::connection::Connection;
use crate::http::scripted::Scripted;
use crate::options::CallOptions;
use crate::storage::memory::Memory;

pub(crate) struct Fixture {
    pub transport: Scripted,
    pub storage: Memory,
    pub connection: Connection,
    pub options: CallOptions,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::with(CallOptions::default())
    }
}

impl Fixture {
    /// The fixture with these options (retries, delays, throttles).
    pub fn with(options: CallOptions) -> Self {
        Fixture { transport: Scripted::default(), storage: Memory::default(), connection: Connection { access_token: Some("t".into()), ..Default::default() }, options }
    }

    /// A client over the fixture's transport and store, as a step makes one.
    pub fn client(&self) -> Client<'_> {
        Client::new(&self.connection, &self.options, &self.transport, &self.storage).expect("the fixture's connection is valid")
    }

    /// Queues Zoho's next answer.
    pub fn answer(&self, status: u16, body: &str) {
        self.transport.answer(status, body);
    }

    /// How many requests were sent.
    pub fn sent(&self) -> usize {
        self.transport.sent.borrow().len()
    }
}

/// A property test's case count: `default`, or `PROPTEST_CASES` when set (a longer run asked
/// for once, e.g. after changing a sweep's walk).
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.trim().parse().ok()).unwrap_or(default)
}
