//! Outgoing HTTP for a step: only to the connection's own Zoho hosts, with bounded waits.

use std::time::Duration;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// Caps on how long the host waits, whatever the component asks for.
#[derive(Debug, Clone, Copy)]
pub struct NetLimits {
    pub connect: Duration,
    pub first_byte: Duration,
    pub between_bytes: Duration,
}

impl Default for NetLimits {
    fn default() -> Self {
        NetLimits { connect: Duration::from_secs(10), first_byte: Duration::from_secs(120), between_bytes: Duration::from_secs(60) }
    }
}

/// The origins (scheme, host, port) a step may reach.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    origins: Vec<(String, String, u16)>,
    pub limits: NetLimits,
}

/// (scheme, lower-case host, port) of an http(s) origin or URL.
fn origin_of(url: &str) -> Option<(String, String, u16)> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    Some((scheme, host, uri.port_u16().unwrap_or(default_port)))
}

impl AllowedHosts {
    pub fn new(origins: &[String], limits: NetLimits) -> Self {
        AllowedHosts { origins: origins.iter().filter_map(|o| origin_of(o)).collect(), limits }
    }

    pub fn allows(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|o| self.origins.contains(&o))
    }

    fn clamp(&self, options: Option<RequestOptions>) -> RequestOptions {
        let o = options.unwrap_or_default();
        let min = |asked: Option<Duration>, cap: Duration| Some(asked.map_or(cap, |a| a.min(cap)));
        RequestOptions {
            connect_timeout: min(o.connect_timeout, self.limits.connect),
            first_byte_timeout: min(o.first_byte_timeout, self.limits.first_byte),
            between_bytes_timeout: min(o.between_bytes_timeout, self.limits.between_bytes),
        }
    }
}

type SendFuture = Box<
    dyn std::future::Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for AllowedHosts {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        let allowed = self.allows(&request.uri().to_string());
        let options = self.clamp(options);
        drop(fut);
        Box::new(async move {
            if !allowed {
                return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
            }
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_pass() {
        let hosts = AllowedHosts::new(&["https://www.zohoapis.eu".into(), "http://127.0.0.1:8080".into()], NetLimits::default());
        assert!(hosts.allows("https://www.zohoapis.eu/crm/v8/Leads"));
        assert!(hosts.allows("https://WWW.ZOHOAPIS.EU:443/x"));
        assert!(hosts.allows("http://127.0.0.1:8080/crm"));
        assert!(!hosts.allows("http://127.0.0.1:8081/crm"));
        assert!(!hosts.allows("http://www.zohoapis.eu/crm"));
        assert!(!hosts.allows("https://www.zohoapis.eu.evil.com/"));
        assert!(!hosts.allows("https://evil.com/?https://www.zohoapis.eu"));
    }
}
