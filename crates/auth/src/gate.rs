//! The gate every request passes: authenticate, then authorize.

use ironcore_server::errors::ApiError;
use ironcore_server::gate::{Gate, PeerCertificates};

use crate::attributes::RequestAttributes;
use crate::authn::{Authenticator, Outcome};
use crate::authz::{Authorizer, Decision};
use crate::user::UserInfo;

/// Authentication and authorization as kube-apiserver chains them.
///
/// Requests to the always-allowed paths (health) pass even without credentials; other requests
/// without credentials run as `system:anonymous` when anonymous requests are enabled and get
/// 401 otherwise; rejected credentials are always 401. The authenticated user is recorded in
/// the request's extensions as a [`UserInfo`].
pub struct AuthGate {
    authn: Authenticator,
    authz: Authorizer,
    anonymous: bool,
}

impl AuthGate {
    /// A gate over `authn` and `authz`; `anonymous` enables anonymous requests.
    pub fn new(authn: Authenticator, authz: Authorizer, anonymous: bool) -> Self {
        AuthGate {
            authn,
            authz,
            anonymous,
        }
    }
}

#[async_trait::async_trait]
impl Gate for AuthGate {
    async fn check(&self, parts: &mut http::request::Parts) -> Result<(), ApiError> {
        let attrs =
            RequestAttributes::from_request(&parts.method, parts.uri.path(), parts.uri.query());
        let peer = parts.extensions.get::<PeerCertificates>().cloned();
        let outcome = self
            .authn
            .authenticate(&mut parts.headers, peer.as_ref())
            .await;
        let user = match outcome {
            Outcome::Authenticated(user) => user,
            Outcome::NoCredentials if self.anonymous => UserInfo::anonymous(),
            _ if self.authz.always_allowed(&attrs) => UserInfo::anonymous(),
            Outcome::NoCredentials => {
                tracing::debug!(path = %attrs.path, "no credentials");
                return Err(ApiError::unauthorized());
            }
            Outcome::Rejected(why) => {
                tracing::debug!(path = %attrs.path, reasons = ?why, "authentication failed");
                return Err(ApiError::unauthorized());
            }
        };
        match self.authz.authorize(&user, &attrs).await {
            Decision::Allow => {
                parts.extensions.insert(user);
                Ok(())
            }
            Decision::Deny(reason) => {
                tracing::debug!(user = %user.name, verb = %attrs.verb, path = %attrs.path, %reason, "forbidden");
                Err(attrs.forbidden(&user.name, &reason))
            }
            Decision::Error(e) => {
                tracing::warn!(user = %user.name, error = %e, "authorization failed");
                Err(ApiError::internal(format!("authorization: {e}")))
            }
        }
    }
}
