//! Outgoing HTTP for a step: only to the connection's own Zoho hosts, with bounded waits.

use crate::pool::{HttpPool, PoolConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};
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
    /// Let a host name resolve to a private, loopback or link-local address (off by default:
    /// a public name pointing inward is how requests get smuggled into a platform's network).
    pub allow_private_networks: bool,
    /// The host's shared connections; without one, each request gets a connection of its own.
    pool: Option<Arc<HttpPool>>,
    /// Time spent waiting for answers' heads, for the step's breakdown.
    pub clock: Option<Arc<crate::timing::StepClock>>,
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
        AllowedHosts { origins: origins.iter().filter_map(|o| origin_of(o)).collect(), limits, allow_private_networks: false, pool: None, clock: None }
    }

    /// Sends through `pool` (built with this host's private-network setting), reusing its
    /// connections across steps.
    pub fn with_pool(mut self, pool: Arc<HttpPool>) -> Self {
        self.pool = Some(pool);
        self
    }

    pub fn allowing_private_networks(mut self, allow: bool) -> Self {
        self.allow_private_networks = allow;
        self
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

type SendFuture = Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>)>> + Send>;

impl WasiHttpHooks for AllowedHosts {
    fn send_request(&mut self, request: http::Request<WasiBody>, options: Option<RequestOptions>, fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>) -> SendFuture {
        let allowed = self.allows(&request.uri().to_string());
        let options = self.clamp(options);
        let pool = self.pool.clone();
        let (connect, allow_private_networks) = (self.limits.connect, self.allow_private_networks);
        let clock = self.clock.clone();
        drop(fut);
        Box::new(async move {
            // Every request is checked, whichever connection would carry it: a pooled
            // connection only ever serves its own origin, and only allowed origins get here.
            if !allowed {
                return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
            }
            let started = Instant::now();
            let response = match pool {
                Some(pool) => pool.send(request, options).await,
                None => {
                    let config = PoolConfig { connect_timeout: connect, allow_private_networks, extra_trust_roots: Vec::new() };
                    let pool = HttpPool::new(&config).map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string())))?;
                    pool.send(request, options).await
                }
            };
            if let Some(clock) = clock {
                clock.add_http(started.elapsed());
            }
            Ok((response?, Box::new(async { Ok(()) }) as Box<dyn std::future::Future<Output = _> + Send>))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_public_name_resolving_inward_is_refused() {
        use http_body_util::BodyExt;
        let mut hosts = AllowedHosts::new(&["http://localhost:9".into()], NetLimits::default());
        let request = http::Request::get("http://localhost:9/crm/v8/Leads").body(http_body_util::Empty::new().map_err(|never| match never {}).boxed_unsync()).unwrap();
        let outcome = Box::into_pin(hosts.send_request(request, None, Box::new(async { Ok(()) }))).await;
        assert!(matches!(outcome, Err(wasmtime_wasi_http::Error::DestinationIpProhibited)));
    }

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
