//! The request gate: authentication and authorization run here, before every handler; and the
//! admission hooks every create passes before it reaches the verb.
//!
//! The server only knows the two traits; what they check (client certificates, front-proxy
//! headers, tokens, SubjectAccessReview, namespace lifecycle) is plugged in at start-up with
//! [`Guards`] (see the `ironcore-auth` crate).

use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use crate::errors::ApiError;
use crate::registry::ResourceInfo;

/// Decides whether a request may proceed.
#[async_trait::async_trait]
pub trait Gate: Send + Sync + 'static {
    /// `Ok` to proceed; an error (401/403) is answered as it is.
    ///
    /// The gate may change the request head: strip credentials it consumed and record who the
    /// request runs as in its extensions.
    async fn check(&self, request: &mut http::request::Parts) -> Result<(), ApiError>;
}

/// `--authorization-mode=AlwaysAllow` without authentication: every request proceeds.
pub struct AllowAll;

#[async_trait::async_trait]
impl Gate for AllowAll {
    async fn check(&self, _: &mut http::request::Parts) -> Result<(), ApiError> {
        Ok(())
    }
}

/// The certificate chain a TLS client presented (leaf first), as the serving layer saw it.
///
/// Inserted into every request's extensions by [`crate::serve::serve`]; the chain is *not*
/// verified there (the TLS layer requests but does not require client certificates and accepts
/// any issuer), so a gate must verify it against the CA it trusts before using it.
#[derive(Clone, Debug)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// A create about to run: what admission hooks see.
pub struct CreateRequest<'a> {
    /// The resource created into.
    pub info: &'a ResourceInfo,
    /// The namespace from the request path (`None` for cluster-scoped resources).
    pub namespace: Option<&'a str>,
    /// The request's `Content-Type`.
    pub content_type: &'a str,
    /// The undecoded request body.
    pub body: &'a [u8],
}

impl CreateRequest<'_> {
    /// The object's `metadata.name`, decoded from the body on demand (for error messages).
    pub fn name(&self) -> Option<String> {
        let (obj, _) = crate::rest::decode_body(self.content_type, self.body).ok()?;
        crate::object::meta_str(&obj, "name")
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
    }
}

/// A check every create passes after the gate and before the object is decoded and stored
/// (kube-apiserver's admission for the create operation, e.g. NamespaceLifecycle).
#[async_trait::async_trait]
pub trait AdmissionHook: Send + Sync + 'static {
    /// `Ok` to let the create proceed; an error is answered as it is.
    async fn admit_create(&self, request: &CreateRequest<'_>) -> Result<(), ApiError>;
}

/// What guards a server: the gate every request passes and the admission hooks of creates.
#[derive(Clone)]
pub struct Guards {
    /// Authentication and authorization.
    pub gate: Arc<dyn Gate>,
    /// Admission hooks run, in order, on every create.
    pub admission: Vec<Arc<dyn AdmissionHook>>,
}

impl Default for Guards {
    /// [`AllowAll`] and no admission hooks.
    fn default() -> Self {
        Guards {
            gate: Arc::new(AllowAll),
            admission: Vec::new(),
        }
    }
}
