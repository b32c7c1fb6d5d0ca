//! Serving: TLS (rustls, ring provider) or loopback-only plain HTTP, HTTP/1.1 and HTTP/2,
//! graceful shutdown that ends open watches.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::gate::PeerCertificates;
use crate::server::ApiServer;

/// Serving failures.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Reading or writing certificate files failed.
    #[error("certificate file {path}: {source}")]
    CertFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The certificate or key is unusable.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// Plain HTTP was asked for on a non-loopback address.
    #[error("plain HTTP is only served on loopback addresses, not {0}")]
    InsecureNonLoopback(SocketAddr),
    /// Binding the port failed.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Installs rustls' ring provider as the process default (idempotent).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read(path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|source| ServeError::CertFile {
        path: path.to_owned(),
        source,
    })
}

/// Loads a serving certificate chain and key from PEM files (no client certificates asked).
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    tls_config(cert, key, false)
}

/// [`load_tls`], but the server *requests* (does not require) a client certificate and accepts
/// any chain whose holder proves its key: which CA a chain must verify against (client CA,
/// front-proxy CA) is the gate's decision, made per request from [`PeerCertificates`] — as
/// kube-apiserver does with Go's `tls.RequestClientCert`. CAs can then change at run time
/// without rebuilding the TLS configuration.
pub fn load_tls_requesting_client_certs(
    cert: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    tls_config(cert, key, true)
}

fn tls_config(
    cert: &Path,
    key: &Path,
    request_client_certs: bool,
) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    install_crypto_provider();
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError::Tls(format!("{}: {e}", cert.display())))?;
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| ServeError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| ServeError::Tls(format!("{}: no private key", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    let builder = if request_client_certs {
        builder.with_client_cert_verifier(Arc::new(RequestClientCert {
            algorithms: provider.signature_verification_algorithms,
        }))
    } else {
        builder.with_no_client_auth()
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Requests a client certificate, accepts any chain and checks only that the client holds the
/// leaf's key (the handshake signature); the chain itself is verified by the gate.
#[derive(Debug)]
struct RequestClientCert {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::server::danger::ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        // An empty list: clients send the certificate they have, whatever its issuer.
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Returns `<cert-dir>/apiserver.{crt,key}`, generating them when absent: a local CA
/// (`ca.crt`, which clients trust) and a serving certificate for `hosts` signed by it.
pub fn self_signed(cert_dir: &Path, hosts: &[String]) -> Result<(PathBuf, PathBuf), ServeError> {
    let cert = cert_dir.join("apiserver.crt");
    let key = cert_dir.join("apiserver.key");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(cert_dir).map_err(|source| ServeError::CertFile {
        path: cert_dir.to_owned(),
        source,
    })?;
    let tls = |e: rcgen::Error| ServeError::Tls(e.to_string());
    let ca_key = rcgen::KeyPair::generate().map_err(tls)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ironcore-apiserver-ca");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(tls)?;
    let serving_key = rcgen::KeyPair::generate().map_err(tls)?;
    let mut params = rcgen::CertificateParams::new(hosts.to_vec()).map_err(tls)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ironcore-apiserver");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let serving = params.signed_by(&serving_key, &ca).map_err(tls)?;
    let write = |p: &Path, s: String| {
        std::fs::write(p, s).map_err(|source| ServeError::CertFile {
            path: p.to_owned(),
            source,
        })
    };
    write(&cert_dir.join("ca.crt"), ca.pem())?;
    write(&cert, format!("{}{}", serving.pem(), ca.pem()))?;
    write(&key, serving_key.serialize_pem())?;
    Ok((cert, key))
}

/// Binds `addr`; plain HTTP (`tls` = `None`) is refused unless `addr` is loopback.
pub async fn bind(addr: SocketAddr, tls: bool) -> Result<TcpListener, ServeError> {
    if !tls && !addr.ip().is_loopback() {
        return Err(ServeError::InsecureNonLoopback(addr));
    }
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Serves `server` on `listener` until `shutdown` flips to true, then drains connections.
pub async fn serve(
    server: Arc<ApiServer>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let server = Arc::clone(&server);
        match &acceptor {
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(stream) => {
                            let peer_certs = stream.get_ref().1.peer_certificates().map(|c| {
                                PeerCertificates(Arc::new(
                                    c.iter().map(|c| c.clone().into_owned()).collect(),
                                ))
                            });
                            let conn = builder
                                .serve_connection(TokioIo::new(stream), service(server, peer_certs))
                                .into_owned();
                            if let Err(e) = watcher.watch(conn).await {
                                tracing::debug!(%peer, error = %e, "connection ended");
                            }
                        }
                        Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    }
                });
            }
            None => {
                let conn = builder
                    .serve_connection(TokioIo::new(tcp), service(server, None))
                    .into_owned();
                let fut = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = fut.await {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                });
            }
        }
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => tracing::warn!("connections did not drain in 10s"),
    }
}

/// The per-connection service: every request carries the connection's client certificates.
fn service(
    server: Arc<ApiServer>,
    peer_certs: Option<PeerCertificates>,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<crate::response::Body>,
    Error = std::convert::Infallible,
    Future = impl Future<
        Output = Result<http::Response<crate::response::Body>, std::convert::Infallible>,
    > + Send,
> + Clone {
    service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        let server = Arc::clone(&server);
        if let Some(certs) = &peer_certs {
            req.extensions_mut().insert(certs.clone());
        }
        async move { Ok::<_, std::convert::Infallible>(server.handle(req).await) }
    })
}
