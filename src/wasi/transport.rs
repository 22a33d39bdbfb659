//! `Transport` over wasi:http, through waki's generated wasi:http bindings. waki's own
//! client only sets a connect timeout; a step's `timeout-ms` must bound the whole exchange,
//! so this sets all three request timeouts and reads the body against one deadline.

use crate::error::{ErrorKind, Result, ZohoError};
use crate::http::{BodySink, Method, Request, Response, Transport};
use std::time::Duration;
use waki::bindings::wasi::clocks::monotonic_clock;
use waki::bindings::wasi::http::outgoing_handler;
use waki::bindings::wasi::http::types::{ErrorCode, Fields, IncomingBody, Method as WasiMethod, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};
use waki::bindings::wasi::io::poll;
use waki::bindings::wasi::io::streams::StreamError;

pub struct WasiHttp;

/// Largest write wasi:io promises to accept in one blocking call.
const WRITE_CHUNK: usize = 4096;
const READ_CHUNK: u64 = 64 * 1024;
/// Largest response body read; a bigger one is refused rather than allowed to exhaust memory.
/// From the instance's 256 MiB: one answer (32 MiB) and the output composed from it (about as
/// much again) fit beside a step's input (the host passes at most 104 MiB) with room to spare.
/// Zoho's own answers are far smaller (200 records or 2,000 COQL rows are a few MB).
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

struct Url<'a> {
    https: bool,
    authority: &'a str,
    path_and_query: &'a str,
}

fn split_url(url: &str) -> Result<Url<'_>> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(ZohoError::new(ErrorKind::Internal, format!("not an http(s) URL: {url}")));
    };
    let split = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    Ok(Url { https, authority, path_and_query: if path.is_empty() { "/" } else { path } })
}

fn timeout_error(request: &Request) -> ZohoError {
    ZohoError::new(ErrorKind::Timeout, format!("Zoho did not answer within {} ms", request.timeout.as_millis()))
}

fn error_code(code: ErrorCode, request: &Request) -> ZohoError {
    match code {
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => timeout_error(request),
        ErrorCode::HttpRequestDenied => ZohoError::transport("the host refused this request: its destination is not one of the connection's allowed Zoho hosts"),
        other => ZohoError::transport(format!("HTTP exchange failed: {other:?}")),
    }
}

/// Waits on `pollable` until it is ready or `deadline` (monotonic ns) passes; false on timeout.
fn wait_until(pollable: &poll::Pollable, deadline: u64) -> bool {
    let timer = monotonic_clock::subscribe_instant(deadline);
    let ready = poll::poll(&[pollable, &timer]);
    ready.contains(&0)
}

impl Transport for WasiHttp {
    fn send(&self, request: &Request) -> Result<Response> {
        self.exchange(request, None)
    }

    fn send_streaming(&self, request: &Request, sink: &mut dyn BodySink) -> Result<Response> {
        self.exchange(request, Some(sink))
    }

    fn sleep(&self, duration: Duration) {
        monotonic_clock::subscribe_duration(duration.as_nanos() as u64).block();
    }
}

impl WasiHttp {
    /// One exchange; with a sink that accepts the answer, its body is streamed to the sink
    /// (never held whole) instead of read into the response.
    fn exchange(&self, request: &Request, sink: Option<&mut dyn BodySink>) -> Result<Response> {
        let internal = |what: &str| ZohoError::new(ErrorKind::Internal, format!("cannot build the HTTP request: {what}"));
        let deadline = monotonic_clock::now().saturating_add(request.timeout.as_nanos() as u64);
        let url = split_url(&request.url)?;
        let mut headers: Vec<(String, Vec<u8>)> = request.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
        // A known length, not chunked encoding: Zoho's front ends and proxies expect it, and a
        // DELETE without a body must say so.
        if request.method != Method::Get {
            let length = request.body.as_ref().map_or(0, |b| b.len());
            headers.push(("content-length".into(), length.to_string().into_bytes()));
        }
        let fields = Fields::from_list(&headers).map_err(|e| internal(&format!("header rejected: {e:?}")))?;
        let outgoing = OutgoingRequest::new(fields);
        let method = match request.method {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
            Method::Put => WasiMethod::Put,
            Method::Patch => WasiMethod::Patch,
            Method::Delete => WasiMethod::Delete,
        };
        outgoing.set_method(&method).map_err(|()| internal("method"))?;
        outgoing.set_scheme(Some(if url.https { &Scheme::Https } else { &Scheme::Http })).map_err(|()| internal("scheme"))?;
        outgoing.set_authority(Some(url.authority)).map_err(|()| internal("authority"))?;
        outgoing.set_path_with_query(Some(url.path_and_query)).map_err(|()| internal("path"))?;

        let options = RequestOptions::new();
        let ns = Some(request.timeout.as_nanos() as u64);
        // A host may not support every timeout; the deadline below still bounds the exchange.
        let _ = options.set_connect_timeout(ns);
        let _ = options.set_first_byte_timeout(ns);
        let _ = options.set_between_bytes_timeout(ns);

        let body = outgoing.body().map_err(|()| internal("body"))?;
        let future = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| error_code(e, request))?;
        {
            let stream = body.write().map_err(|()| internal("body stream"))?;
            let parts = request.body.as_ref().map(|b| b.parts.as_slice()).unwrap_or_default();
            for chunk in parts.iter().flat_map(|part| part.chunks(WRITE_CHUNK)) {
                stream.blocking_write_and_flush(chunk).map_err(|e| ZohoError::transport(format!("sending the request body failed: {e:?}")))?;
            }
        }
        OutgoingBody::finish(body, None).map_err(|e| error_code(e, request))?;

        if !wait_until(&future.subscribe(), deadline) {
            return Err(timeout_error(request));
        }
        let incoming = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(error_code(code, request)),
            Some(Err(())) | None => return Err(ZohoError::transport("the HTTP response was not delivered")),
        };
        let status = incoming.status();
        let headers: Vec<(String, String)> = incoming.headers().entries().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), String::from_utf8_lossy(&v).into_owned())).collect();
        let incoming_body = incoming.consume().map_err(|()| ZohoError::transport("the response body was already taken"))?;
        if let Some(sink) = sink {
            if sink.accept(status, &headers) {
                stream_body(&incoming_body, deadline, request, sink)?;
                drop(IncomingBody::finish(incoming_body));
                return Ok(Response { status, headers, body: Vec::new() });
            }
        }
        let announced = headers_len(&headers);
        if announced.is_some_and(|n| n > MAX_RESPONSE_BYTES) {
            return Err(too_large());
        }
        let body = read_body(&incoming_body, deadline, request, announced)?;
        drop(IncomingBody::finish(incoming_body));
        Ok(Response { status, headers, body })
    }
}

/// The body handed to `sink` chunk by chunk until it ends, the sink has enough, or the
/// deadline passes; nothing of it is kept here.
fn stream_body(body: &IncomingBody, deadline: u64, request: &Request, sink: &mut dyn BodySink) -> Result<()> {
    let stream = body.stream().map_err(|()| ZohoError::transport("the response body stream was already taken"))?;
    loop {
        match stream.read(READ_CHUNK) {
            Ok(chunk) if chunk.is_empty() => {
                if !wait_until(&stream.subscribe(), deadline) {
                    return Err(timeout_error(request));
                }
            }
            Ok(chunk) => {
                if !sink.chunk(&chunk)? {
                    return Ok(());
                }
            }
            Err(StreamError::Closed) => return Ok(()),
            Err(StreamError::LastOperationFailed(e)) => return Err(ZohoError::transport(format!("the response body broke off: {}", e.to_debug_string()))),
        }
    }
}

fn too_large() -> ZohoError {
    ZohoError::transport(format!("Zoho's answer is larger than {} MiB, the memory budget's answer cap; ask for less (fewer fields, a smaller page, or a smaller file)", MAX_RESPONSE_BYTES >> 20))
}

fn headers_len(headers: &[(String, String)]) -> Option<usize> {
    headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.trim().parse().ok())
}

fn read_body(body: &IncomingBody, deadline: u64, request: &Request, announced: Option<usize>) -> Result<Vec<u8>> {
    // An announced length (already checked against the cap) is reserved once, so the buffer
    // does not grow by doubling past the body's size.
    let mut whole = Whole(Vec::with_capacity(announced.unwrap_or(0)));
    stream_body(body, deadline, request, &mut whole)?;
    Ok(whole.0)
}

/// A body read whole, up to the answer cap.
struct Whole(Vec<u8>);

impl BodySink for Whole {
    fn accept(&mut self, _status: u16, _headers: &[(String, String)]) -> bool {
        true
    }

    fn chunk(&mut self, chunk: &[u8]) -> Result<bool> {
        if self.0.len().saturating_add(chunk.len()) > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        self.0.extend_from_slice(chunk);
        Ok(true)
    }
}
