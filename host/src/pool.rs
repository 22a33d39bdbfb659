//! Outgoing connections shared by every step of a host: one keep-alive pool per origin
//! (hyper-util's client keys idle connections by scheme and authority), HTTP/1.1, or HTTP/2
//! when the server offers it through ALPN. The allowlist is checked per request before a
//! request reaches the pool (`net::AllowedHosts`); the address checks run here, when a new
//! connection is made, on the very addresses it connects to.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// Addresses a public name must not lead to.
pub fn is_private(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast() || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1])
        }
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(std::net::IpAddr::V4(v4)))
        }
    }
}

/// How long an idle connection is kept for the next step.
const IDLE: Duration = Duration::from_secs(60);

/// The host's outgoing HTTP client: pooled connections, counted as they are opened.
pub struct HttpPool {
    client: Client<Connector, WasiBody>,
    opened: Arc<AtomicU64>,
    /// The host's caps, applied when a request gives no timeout of its own.
    caps: RequestOptions,
}

impl std::fmt::Debug for HttpPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPool").field("opened", &self.connections_opened()).finish()
    }
}

/// How a pool makes new connections.
#[derive(Debug, Clone, Default)]
pub struct PoolConfig {
    /// Longest wait for a new connection (DNS, TCP and TLS each).
    pub connect_timeout: Duration,
    /// Let a host name resolve to a private, loopback or link-local address.
    pub allow_private_networks: bool,
    /// PEM certificates trusted besides the web's roots (a private CA, a test sandbox's
    /// self-signed certificate). Verification itself is never switched off.
    pub extra_trust_roots: Vec<Vec<u8>>,
}

impl HttpPool {
    pub fn new(config: &PoolConfig) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        for pem in &config.extra_trust_roots {
            use rustls::pki_types::pem::PemObject;
            let mut found = 0;
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
                roots.add(cert.map_err(|e| anyhow::anyhow!("a trust root is not a PEM certificate: {e:?}"))?)?;
                found += 1;
            }
            anyhow::ensure!(found > 0, "a trust root holds no PEM certificate");
        }
        let mut tls =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider())).with_safe_default_protocol_versions()?.with_root_certificates(roots).with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let opened = Arc::new(AtomicU64::new(0));
        let connector =
            Connector { tls: tokio_rustls::TlsConnector::from(Arc::new(tls)), connect_timeout: config.connect_timeout, allow_private_networks: config.allow_private_networks, opened: opened.clone() };
        let client = Client::builder(TokioExecutor::new()).pool_timer(TokioTimer::new()).pool_idle_timeout(IDLE).build(connector);
        let cap = Some(config.connect_timeout);
        Ok(HttpPool { client, opened, caps: RequestOptions { connect_timeout: cap, first_byte_timeout: None, between_bytes_timeout: None } })
    }

    /// New connections made so far (TCP connects; a reused connection is not counted).
    pub fn connections_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Sends an allowed request on a pooled connection: `connect + first byte` bounds the wait
    /// for the answer's head, `between bytes` each wait for its body.
    pub async fn send(&self, request: http::Request<WasiBody>, options: RequestOptions) -> Result<http::Response<WasiBody>, Error> {
        let far = Duration::from_secs(600);
        let connect = options.connect_timeout.or(self.caps.connect_timeout).unwrap_or(far);
        let head = connect.saturating_add(options.first_byte_timeout.unwrap_or(far));
        let between = options.between_bytes_timeout.unwrap_or(far).max(Duration::from_nanos(1));
        let response = match tokio::time::timeout(head, self.client.request(request)).await {
            Err(_) => return Err(Error::ConnectionReadTimeout),
            Ok(Err(e)) => return Err(wasi_error(&e)),
            Ok(Ok(response)) => response,
        };
        Ok(response.map(|incoming| {
            let mut timeout = tokio::time::interval(between);
            timeout.reset();
            TimedBody { incoming, timeout }.boxed_unsync()
        }))
    }
}

/// The wasi:http error for a failed exchange: what the connector said, else hyper's verdict.
fn wasi_error(error: &hyper_util::client::legacy::Error) -> Error {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(failure) = cause.downcast_ref::<ConnectFailure>() {
            return failure.to_wasi();
        }
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            if hyper.is_timeout() {
                return Error::HttpResponseTimeout;
            }
        }
        source = cause.source();
    }
    if error.is_connect() {
        Error::ConnectionRefused
    } else {
        Error::HttpProtocolError
    }
}

/// Why a new connection was not made.
#[derive(Debug)]
enum ConnectFailure {
    Unsupported,
    /// The host name and the resolver's error: the step's error names what could not be reached.
    Dns(String, String),
    Prohibited,
    Timeout,
    /// The address dialled and why it failed.
    Io(SocketAddr, std::io::Error),
    /// The host name and the handshake's error.
    Tls(String, std::io::Error),
}

impl ConnectFailure {
    fn to_wasi(&self) -> Error {
        match self {
            ConnectFailure::Unsupported => Error::HttpRequestUriInvalid,
            // The text travels in the error code's payload: the component prints the code as it
            // got it, and the host's runtime lifts the text out (see zoho_error::plain_transport).
            ConnectFailure::Dns(host, error) => Error::DnsError { rcode: Some(format!("cannot resolve {host}: {error}")), info_code: None },
            ConnectFailure::Prohibited => Error::DestinationIpProhibited,
            ConnectFailure::Timeout => Error::ConnectionTimeout,
            ConnectFailure::Io(address, e) => Error::InternalError(Some(format!("cannot connect to {address}: {e}"))),
            ConnectFailure::Tls(host, e) => Error::InternalError(Some(format!("TLS handshake with {host} failed: {e}"))),
        }
    }
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_wasi())
    }
}

impl std::error::Error for ConnectFailure {}

/// Makes new connections: resolves, refuses inward addresses for names, connects, and speaks
/// TLS with ALPN for https.
#[derive(Clone)]
struct Connector {
    tls: tokio_rustls::TlsConnector,
    connect_timeout: Duration,
    allow_private_networks: bool,
    opened: Arc<AtomicU64>,
}

impl Connector {
    async fn connect(self, uri: http::Uri) -> Result<Io, ConnectFailure> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(ConnectFailure::Unsupported),
        };
        let host = uri.host().ok_or(ConnectFailure::Unsupported)?.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let limit = self.connect_timeout;
        // An IP literal was configured on purpose; a name must not resolve inward.
        let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => {
                let found: Vec<SocketAddr> = tokio::time::timeout(limit, tokio::net::lookup_host((host.as_str(), port)))
                    .await
                    .map_err(|_| ConnectFailure::Timeout)?
                    .map_err(|e| ConnectFailure::Dns(host.clone(), e.to_string()))?
                    .collect();
                if !self.allow_private_networks && found.iter().any(|a| is_private(a.ip())) {
                    return Err(ConnectFailure::Prohibited);
                }
                found
            }
        };
        // Only the addresses checked above are dialled: no second lookup can point elsewhere.
        let mut last = ConnectFailure::Dns(host.clone(), "no address found".into());
        let mut stream = None;
        for address in addresses {
            match tokio::time::timeout(limit, TcpStream::connect(address)).await {
                Ok(Ok(tcp)) => {
                    stream = Some(tcp);
                    break;
                }
                Ok(Err(e)) => last = ConnectFailure::Io(address, e),
                Err(_) => last = ConnectFailure::Timeout,
            }
        }
        let tcp = stream.ok_or(last)?;
        // Small requests and answers: no waiting for Nagle's coalescing.
        let _ = tcp.set_nodelay(true);
        self.opened.fetch_add(1, Ordering::Relaxed);
        if !https {
            return Ok(Io { stream: Stream::Plain(tcp), h2: false });
        }
        let host_name = host.clone();
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::from(ip),
            Err(_) => rustls::pki_types::ServerName::try_from(host).map_err(|_| ConnectFailure::Unsupported)?,
        };
        let tls = tokio::time::timeout(limit, self.tls.connect(name, tcp)).await.map_err(|_| ConnectFailure::Timeout)?.map_err(|e| ConnectFailure::Tls(host_name.clone(), e))?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok(Io { stream: Stream::Tls(Box::new(tls)), h2 })
    }
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = Io;
    type Error = ConnectFailure;
    type Future = Pin<Box<dyn Future<Output = Result<Io, ConnectFailure>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// A connection as the pool holds it.
pub struct Io {
    stream: Stream,
    h2: bool,
}

impl Connection for Io {
    fn connected(&self) -> Connected {
        if self.h2 {
            Connected::new().negotiated_h2()
        } else {
            Connected::new()
        }
    }
}

impl tokio::io::AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl hyper::rt::Read for Io {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: hyper::rt::ReadBufCursor<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut TokioIo::new(&mut self.get_mut().stream)).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Io {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write(Pin::new(&mut self.get_mut().stream), cx, buf)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write_vectored(Pin::new(&mut self.get_mut().stream), cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        tokio::io::AsyncWrite::is_write_vectored(&self.stream)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        tokio::io::AsyncWrite::poll_flush(Pin::new(&mut self.get_mut().stream), cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut self.get_mut().stream), cx)
    }
}

/// An answer's body that fails when no byte arrives within `timeout` (as wasmtime's own
/// client does), so a stalled server cannot hold a step past its between-bytes cap.
struct TimedBody {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(if e.is_timeout() { Error::HttpResponseTimeout } else { Error::from(e) }))),
            Poll::Ready(Some(Ok(frame))) => {
                self.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                std::task::ready!(self.timeout.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_recognised() {
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.4", "169.254.169.254", "100.64.0.1", "::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1", "0.0.0.0"] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "136.143.190.1", "2a00:1450::1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}
