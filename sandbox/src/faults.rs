//! Injected faults: the next requests answered with a chosen status, body and delay, or a
//! connection that breaks off mid-body.

use crate::hostile::{self, Hostile};
use crate::request::RecordedRequest;
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
    /// Attacks played on top of the answer (see `hostile.rs`).
    pub hostile: Vec<Hostile>,
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
            hostile: Vec::new(),
        }
    }

    /// Plays an attack class on top of this answer.
    pub fn hostile(mut self, attack: Hostile) -> Self {
        self.hostile.push(attack);
        self
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

    pub(crate) async fn respond(&self, request: &RecordedRequest) -> Response {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let authorization = request.header("authorization").unwrap_or("");
        let body_text = hostile::echoed(&self.body, authorization);
        let mut headers: Vec<(String, String)> = self.headers.iter().map(|(n, v)| (n.clone(), hostile::echoed(v, authorization))).collect();
        let mut body = None;
        for attack in &self.hostile {
            match attack {
                Hostile::EchoAuthorization => {
                    headers.push(("x-echo".into(), authorization.to_string()));
                    headers.push(("set-cookie".into(), format!("session={authorization}; Path=/")));
                }
                Hostile::Oversized { bytes } => body = Some(hostile::oversized_body(*bytes)),
                Hostile::DeeplyNested { depth } => body = Some(hostile::nested_body(*depth)),
                Hostile::HugeHeader { bytes } => headers.push(("x-huge".into(), "h".repeat(*bytes))),
                Hostile::ManyHeaders { count } => headers.extend((0..*count).map(|i| (format!("x-many-{i}"), i.to_string()))),
                Hostile::Trickle { every } => body = Some(hostile::trickled_body(body_text.clone(), *every)),
                Hostile::Truncated { missing } => {
                    headers.push(("content-length".into(), (body_text.len() + missing).to_string()));
                    body = Some(hostile::truncated_body(body_text.clone()));
                }
            }
        }
        let body = if self.drop_connection {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(b"{\"data\":[".to_vec()), Err(std::io::Error::other("connection dropped by fault injection"))];
            Body::from_stream(futures_util::stream::iter(chunks))
        } else {
            body.unwrap_or_else(|| Body::from(body_text))
        };
        let mut response = Response::builder().status(self.status);
        for (name, value) in &headers {
            response = response.header(name, value);
        }
        response.body(body).unwrap_or_else(|_| Response::new(Body::from("bad fault")))
    }
}
