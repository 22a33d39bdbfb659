//! Injected faults: the next requests answered with a chosen status, body and delay, or a
//! connection that breaks off mid-body.

use axum::body::Body;
use axum::response::Response;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Fault {
    /// Only requests whose path starts with this are affected (empty: all).
    pub path_prefix: String,
    /// How many requests to answer this way.
    pub times: u32,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait before answering.
    pub delay: Duration,
    /// Send the headers, then break the connection instead of sending the body.
    pub drop_connection: bool,
    /// Matching requests to let through untouched before the fault applies.
    pub after: u32,
}

impl Fault {
    /// `times` answers with `status` and a JSON `body`.
    pub fn status(times: u32, status: u16, body: &str) -> Self {
        Fault {
            path_prefix: String::new(),
            times,
            status,
            headers: vec![("content-type".into(), "application/json;charset=UTF-8".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
            drop_connection: false,
            after: 0,
        }
    }

    pub fn on_path(mut self, prefix: &str) -> Self {
        self.path_prefix = prefix.to_string();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Applies only after `n` matching requests went through normally.
    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
    }

    pub fn dropped(mut self) -> Self {
        self.drop_connection = true;
        self
    }

    pub(crate) async fn respond(&self) -> Response {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let body = if self.drop_connection {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                vec![Ok(b"{\"data\":[".to_vec()), Err(std::io::Error::other("connection dropped by fault injection"))];
            Body::from_stream(futures_util::stream::iter(chunks))
        } else {
            Body::from(self.body.clone())
        };
        let mut response = Response::builder().status(self.status);
        for (name, value) in &self.headers {
            response = response.header(name, value);
        }
        response.body(body).unwrap_or_else(|_| Response::new(Body::from("bad fault")))
    }
}
