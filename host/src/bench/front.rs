//! The sandbox's front for the bench and the tests: its routes on their own loopback port,
//! counting accepted connections, over TLS with the test certificate when asked.

use anyhow::Result;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The sandbox's self-signed certificate (127.0.0.1 and localhost, valid to 2126) and its key:
/// the bench and the tests serve the sandbox over TLS with it and trust it as an extra root.
pub const TEST_CERT: &[u8] = include_bytes!("../tls/sandbox-cert.pem");
pub const TEST_KEY: &[u8] = include_bytes!("../tls/sandbox-key.pem");

/// A front for the sandbox's routes on its own loopback port that counts the connections it
/// accepts, over TLS (ALPN h2 and http/1.1) when given a server config.
pub struct Front {
    pub addr: SocketAddr,
    pub url: String,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicU64>,
    /// Of those, connections that negotiated HTTP/2.
    pub http2: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The TLS server config of the sandbox's front: the test certificate, h2 and http/1.1.
pub fn test_tls_server() -> Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(TEST_CERT).collect::<Result<Vec<_>, _>>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(TEST_KEY).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider())).with_safe_default_protocol_versions()?.with_no_client_auth().with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` on a new loopback port, counting accepted connections.
pub async fn serve_front(router: axum::Router, tls: Option<Arc<rustls::ServerConfig>>) -> Result<Front> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (accepted, http2) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (counted, counted_h2) = (accepted.clone(), http2.clone());
    let acceptor = tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::Relaxed);
            let _ = tcp.set_nodelay(true);
            let (router, acceptor, counted_h2) = (router.clone(), acceptor.clone(), counted_h2.clone());
            tokio::spawn(async move {
                let service = hyper_util::service::TowerToHyperService::new(router);
                let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                match acceptor {
                    None => {
                        let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(tcp), service).await;
                    }
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(tcp).await else { return };
                        if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                            counted_h2.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    Ok(Front { addr, url: format!("{scheme}://{addr}"), accepted, http2, server })
}
