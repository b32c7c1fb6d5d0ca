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

/// Loads a serving certificate chain and key from PEM files.
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    install_crypto_provider();
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError::Tls(format!("{}: {e}", cert.display())))?;
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| ServeError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| ServeError::Tls(format!("{}: no private key", key.display())))?;
    let mut cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
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
        let svc = service_fn(move |req| {
            let server = Arc::clone(&server);
            async move { Ok::<_, std::convert::Infallible>(server.handle(req).await) }
        });
        match &acceptor {
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(stream) => {
                            let conn = builder
                                .serve_connection(TokioIo::new(stream), svc)
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
                    .serve_connection(TokioIo::new(tcp), svc)
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
