//! Authentication, authorization and admission of the API servers, as an aggregated API server
//! behind kube-apiserver does them (`k8s.io/apiserver`'s delegating authentication and
//! authorization, and NamespaceLifecycle):
//!
//! - [`authn`]: front-proxy request headers trusted from a verified front-proxy client
//!   certificate, x509 client certificates, bearer tokens from a token file and through
//!   TokenReview; the certificate settings optionally followed from the cluster's
//!   `kube-system/extension-apiserver-authentication` ConfigMap;
//! - [`authz`]: `AlwaysAllow`, or `Delegated` through SubjectAccessReview with cached answers;
//! - [`lifecycle`]: creates into missing or terminating namespaces refused, from a namespace
//!   watch;
//! - [`gate::AuthGate`] plugs authentication and authorization into the server's
//!   [`ironcore_server::gate::Gate`]; [`guards`] builds everything from [`Options`].

pub mod attributes;
pub mod authn;
pub mod authz;
pub mod cache;
pub mod cluster;
pub mod gate;
pub mod lifecycle;
pub mod user;
pub mod x509;

#[cfg(test)]
pub(crate) mod testing {
    //! A kube-rs client whose "cluster" is a function of the posted review (a stand-in for
    //! kube-apiserver's review endpoints), counting the calls.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use serde_json::Value;

    type BoxError = Box<dyn std::error::Error + Send + Sync>;

    /// A client answering every POST with `answer(body)`; `calls` counts requests.
    pub fn client(
        answer: impl Fn(&Value) -> Value + Send + Sync + 'static,
        calls: Arc<AtomicUsize>,
    ) -> kube::Client {
        let answer = Arc::new(answer);
        let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let answer = Arc::clone(&answer);
            let calls = Arc::clone(&calls);
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let body = req.into_body().collect().await?.to_bytes();
                let review: Value = serde_json::from_slice(&body)?;
                let out = answer(&review);
                let resp = http::Response::builder()
                    .status(201)
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(bytes::Bytes::from(
                        out.to_string(),
                    )))?;
                Ok::<_, BoxError>(resp)
            }
        });
        kube::Client::new(svc, "default")
    }
}

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ironcore_server::gate::{AdmissionHook, Guards};

use authn::requestheader::RequestHeaderConfig;
use authn::tokenfile::TokenFile;
use authn::tokenreview::TokenReviewer;
use authn::{Authenticator, CertConfig, SharedCertConfig};
use authz::{Authorizer, PathMatcher, SubjectAccessReviewer};
pub use user::UserInfo;
use x509::CertAuthority;

/// Percent-decodes `s` (`%XX` sequences; anything else, `+` included, is kept).
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// Start-up failures of authentication and authorization.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A certificate bundle is unusable.
    #[error("certificates: {0}")]
    Certificate(String),
    /// The token file does not parse.
    #[error("token file {path}: {message}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The cluster cannot be reached or read.
    #[error("cluster: {0}")]
    Cluster(String),
    /// A flag value is invalid or flags do not go together.
    #[error("{0}")]
    Flag(String),
}

/// `--authorization-mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthorizationMode {
    /// Every authenticated (or anonymous, when enabled) request is allowed.
    #[default]
    AlwaysAllow,
    /// SubjectAccessReview against the cluster of `--authorization-kubeconfig`.
    Delegated,
}

/// Front-proxy flags.
#[derive(Clone, Debug, Default)]
pub struct RequestHeaderOptions {
    /// `--requestheader-client-ca-file`.
    pub client_ca_file: Option<PathBuf>,
    /// `--requestheader-allowed-names`.
    pub allowed_names: Vec<String>,
    /// `--requestheader-username-headers`.
    pub username_headers: Vec<String>,
    /// `--requestheader-uid-headers`.
    pub uid_headers: Vec<String>,
    /// `--requestheader-group-headers`.
    pub group_headers: Vec<String>,
    /// `--requestheader-extra-headers-prefix`.
    pub extra_prefixes: Vec<String>,
}

/// Everything [`guards`] needs, one field per flag.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--client-ca-file`.
    pub client_ca_file: Option<PathBuf>,
    /// The `--requestheader-*` flags.
    pub request_header: RequestHeaderOptions,
    /// `--token-auth-file`.
    pub token_auth_file: Option<PathBuf>,
    /// `--authentication-kubeconfig`.
    pub authentication_kubeconfig: Option<PathBuf>,
    /// `--authentication-token-webhook-cache-ttl`.
    pub token_cache_ttl: Duration,
    /// `--anonymous-auth`; `None` = enabled only when no authenticator is configured.
    pub anonymous: Option<bool>,
    /// `--authorization-mode`.
    pub authorization_mode: AuthorizationMode,
    /// `--authorization-kubeconfig`.
    pub authorization_kubeconfig: Option<PathBuf>,
    /// `--authorization-webhook-cache-authorized-ttl`.
    pub authorized_ttl: Duration,
    /// `--authorization-webhook-cache-unauthorized-ttl`.
    pub unauthorized_ttl: Duration,
    /// `--authorization-always-allow-paths`.
    pub always_allow_paths: Vec<String>,
    /// `--kubeconfig`: the cluster whose namespaces NamespaceLifecycle follows (defaults to the
    /// authentication cluster).
    pub kubeconfig: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        Options {
            client_ca_file: None,
            request_header: RequestHeaderOptions {
                client_ca_file: None,
                allowed_names: Vec::new(),
                username_headers: own(authn::requestheader::DEFAULT_USERNAME_HEADERS),
                uid_headers: Vec::new(),
                group_headers: own(authn::requestheader::DEFAULT_GROUP_HEADERS),
                extra_prefixes: own(authn::requestheader::DEFAULT_EXTRA_PREFIXES),
            },
            token_auth_file: None,
            authentication_kubeconfig: None,
            token_cache_ttl: Duration::from_secs(10),
            anonymous: None,
            authorization_mode: AuthorizationMode::AlwaysAllow,
            authorization_kubeconfig: None,
            authorized_ttl: Duration::from_secs(10),
            unauthorized_ttl: Duration::from_secs(10),
            always_allow_paths: own(authz::DEFAULT_ALWAYS_ALLOW_PATHS),
            kubeconfig: None,
        }
    }
}

/// Builds the gate and admission hooks the options describe, starting the cluster watches
/// they need (the authentication ConfigMap, namespaces).
pub async fn guards(opts: &Options) -> Result<Guards, AuthError> {
    let flag_certs = CertConfig {
        client_ca: opts
            .client_ca_file
            .as_deref()
            .map(CertAuthority::from_file)
            .transpose()?,
        request_header: match &opts.request_header.client_ca_file {
            Some(path) => {
                let rh = &opts.request_header;
                Some(RequestHeaderConfig {
                    ca: CertAuthority::from_file(path)?,
                    allowed_names: rh.allowed_names.clone(),
                    username_headers: rh.username_headers.clone(),
                    uid_headers: rh.uid_headers.clone(),
                    group_headers: rh.group_headers.clone(),
                    extra_prefixes: rh.extra_prefixes.clone(),
                })
            }
            None => None,
        },
    };
    let certs = SharedCertConfig::new(flag_certs.clone());
    let authn_cluster = cluster::client(opts.authentication_kubeconfig.as_deref()).await?;
    let token_review = match &authn_cluster {
        Some(client) => {
            authn::dynamic::follow(client.clone(), flag_certs, certs.clone()).await?;
            Some(TokenReviewer::new(client.clone(), opts.token_cache_ttl))
        }
        None => None,
    };
    let authenticator = Authenticator {
        certs,
        token_file: opts
            .token_auth_file
            .as_deref()
            .map(TokenFile::read)
            .transpose()?,
        token_review,
    };
    let configured = authenticator.is_configured() || authn_cluster.is_some();
    let anonymous = opts.anonymous.unwrap_or(!configured);
    if !configured {
        tracing::warn!(
            "no authentication configured (--client-ca-file, --requestheader-client-ca-file, --token-auth-file, --authentication-kubeconfig): every request runs as system:anonymous"
        );
    }
    let delegated = match opts.authorization_mode {
        AuthorizationMode::AlwaysAllow => None,
        AuthorizationMode::Delegated => {
            let client = cluster::client(opts.authorization_kubeconfig.as_deref())
                .await?
                .ok_or_else(|| {
                    AuthError::Flag(
                        "--authorization-mode=Delegated needs --authorization-kubeconfig (or running in a cluster)"
                            .into(),
                    )
                })?;
            Some(SubjectAccessReviewer::new(
                client,
                opts.authorized_ttl,
                opts.unauthorized_ttl,
            ))
        }
    };
    let authorizer = Authorizer::new(PathMatcher::new(&opts.always_allow_paths)?, delegated);
    let lifecycle_cluster = match &opts.kubeconfig {
        Some(path) => cluster::client(Some(path)).await?,
        None => authn_cluster,
    };
    let mut admission: Vec<Arc<dyn AdmissionHook>> = Vec::new();
    if let Some(client) = lifecycle_cluster {
        admission.push(lifecycle::NamespaceLifecycle::start(client));
    }
    tracing::info!(
        authorization = ?opts.authorization_mode,
        anonymous,
        namespace_lifecycle = !admission.is_empty(),
        "authentication and authorization set up"
    );
    Ok(Guards {
        gate: Arc::new(gate::AuthGate::new(authenticator, authorizer, anonymous)),
        admission,
    })
}
