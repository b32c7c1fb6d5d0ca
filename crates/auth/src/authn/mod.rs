//! Authentication in kube-apiserver's order: front-proxy headers, x509 client certificates,
//! bearer tokens (token file, then TokenReview); `system:authenticated` added to every user.

pub mod dynamic;
pub mod requestheader;
pub mod tokenfile;
pub mod tokenreview;

use std::sync::{Arc, RwLock};

use http::HeaderMap;
use ironcore_server::gate::PeerCertificates;

use crate::user::UserInfo;
use crate::x509::{CertAuthority, Subject};
use requestheader::RequestHeaderConfig;
use tokenfile::TokenFile;
use tokenreview::TokenReviewer;

/// The certificate-based settings, which may change at run time (ConfigMap).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CertConfig {
    /// Front-proxy authentication, when configured.
    pub request_header: Option<RequestHeaderConfig>,
    /// The CA of x509 client certificates, when configured.
    pub client_ca: Option<CertAuthority>,
}

/// The current [`CertConfig`], shared with whatever keeps it up to date.
#[derive(Clone, Debug, Default)]
pub struct SharedCertConfig(Arc<RwLock<Arc<CertConfig>>>);

impl SharedCertConfig {
    /// A shared configuration starting at `cfg`.
    pub fn new(cfg: CertConfig) -> Self {
        SharedCertConfig(Arc::new(RwLock::new(Arc::new(cfg))))
    }

    /// The configuration in force.
    pub fn current(&self) -> Arc<CertConfig> {
        Arc::clone(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the configuration.
    pub fn set(&self, cfg: CertConfig) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(cfg);
    }
}

/// What authentication concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The request runs as this user (`system:authenticated` included).
    Authenticated(UserInfo),
    /// The request carries no credentials any authenticator looks at.
    NoCredentials,
    /// Credentials were presented and rejected (why, per authenticator).
    Rejected(Vec<String>),
}

/// The authenticators of a server.
#[derive(Default)]
pub struct Authenticator {
    /// Front-proxy and client-certificate settings.
    pub certs: SharedCertConfig,
    /// `--token-auth-file`.
    pub token_file: Option<TokenFile>,
    /// TokenReview against the cluster.
    pub token_review: Option<TokenReviewer>,
}

impl Authenticator {
    /// Whether any authenticator is configured (a server without one runs everything as
    /// anonymous).
    pub fn is_configured(&self) -> bool {
        let certs = self.certs.current();
        certs.request_header.is_some()
            || certs.client_ca.is_some()
            || self.token_file.is_some()
            || self.token_review.is_some()
    }

    /// Authenticates a request, removing the front-proxy headers it trusted.
    pub async fn authenticate(
        &self,
        headers: &mut HeaderMap,
        peer: Option<&PeerCertificates>,
    ) -> Outcome {
        let chain = peer.map(|p| p.0.as_slice()).filter(|c| !c.is_empty());
        let certs = self.certs.current();
        let mut errors = Vec::new();
        if let Some(rh) = &certs.request_header {
            match rh.authenticate(chain, headers) {
                Ok(Some(user)) => {
                    rh.clear_headers(headers);
                    return Outcome::Authenticated(user.with_authenticated_group());
                }
                Ok(None) => {}
                Err(e) => errors.push(format!("request-header: {e}")),
            }
        }
        if let (Some(ca), Some(chain)) = (&certs.client_ca, chain) {
            match ca.verify(chain).and_then(|()| Subject::of(&chain[0])) {
                Ok(s) if !s.common_name.is_empty() => {
                    let user = UserInfo::new(s.common_name, s.organizations);
                    return Outcome::Authenticated(user.with_authenticated_group());
                }
                Ok(_) => {}
                Err(e) => errors.push(format!("client certificate: {e}")),
            }
        }
        let token = if self.token_file.is_some() || self.token_review.is_some() {
            bearer_token(headers)
        } else {
            None
        };
        if let Some(token) = token {
            if let Some(user) = self.token_file.as_ref().and_then(|f| f.lookup(&token)) {
                return Outcome::Authenticated(user.clone().with_authenticated_group());
            }
            if let Some(reviewer) = &self.token_review {
                match reviewer.review(&token).await {
                    Ok(Some(user)) => {
                        return Outcome::Authenticated(user.with_authenticated_group());
                    }
                    Ok(None) => {}
                    Err(e) => errors.push(e),
                }
            }
            errors.push("invalid bearer token".to_owned());
        }
        if errors.is_empty() {
            Outcome::NoCredentials
        } else {
            Outcome::Rejected(errors)
        }
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive), if non-empty.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let mut parts = value.trim().splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::testing::Ca;
    use http::HeaderValue;
    use std::sync::Arc;

    fn peer(chain: Vec<rustls::pki_types::CertificateDer<'static>>) -> PeerCertificates {
        PeerCertificates(Arc::new(chain))
    }

    fn authority(ca: &Ca) -> CertAuthority {
        CertAuthority::from_pem(ca.pem().as_bytes(), "ca").unwrap()
    }

    #[test]
    fn bearer_tokens_are_extracted() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert("authorization", HeaderValue::from_static("Bearer abc"));
        assert_eq!(bearer_token(&h).as_deref(), Some("abc"));
        h.insert(
            "authorization",
            HeaderValue::from_static("bearer xyz extra"),
        );
        assert_eq!(bearer_token(&h).as_deref(), Some("xyz"));
        h.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&h), None);
        h.insert("authorization", HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&h), None);
    }

    #[tokio::test]
    async fn order_is_request_header_then_x509_then_tokens() {
        let proxy_ca = Ca::new("front-proxy-ca");
        let client_ca = Ca::new("client-ca");
        let authn = Authenticator {
            certs: SharedCertConfig::new(CertConfig {
                request_header: Some(RequestHeaderConfig::with_defaults(
                    authority(&proxy_ca),
                    vec!["front-proxy-client".into()],
                )),
                client_ca: Some(authority(&client_ca)),
            }),
            token_file: Some(TokenFile::parse("tok,tokenuser,1,g1").unwrap()),
            token_review: None,
        };
        let mut h = HeaderMap::new();
        h.insert("x-remote-user", HeaderValue::from_static("proxied"));
        h.insert("authorization", HeaderValue::from_static("Bearer tok"));
        // A trusted proxy: the headers win, and are removed.
        let proxy = peer(proxy_ca.client("front-proxy-client", &[]));
        let mut h1 = h.clone();
        match authn.authenticate(&mut h1, Some(&proxy)).await {
            Outcome::Authenticated(u) => {
                assert_eq!(u.name, "proxied");
                assert_eq!(u.groups, ["system:authenticated"]);
            }
            o => panic!("{o:?}"),
        }
        assert!(h1.get("x-remote-user").is_none());
        // A client certificate: CN and O; the headers are ignored.
        let alice = peer(client_ca.client("alice", &["devs"]));
        match authn.authenticate(&mut h.clone(), Some(&alice)).await {
            Outcome::Authenticated(u) => {
                assert_eq!(u.name, "alice");
                assert_eq!(u.groups, ["devs", "system:authenticated"]);
            }
            o => panic!("{o:?}"),
        }
        // No certificate: the token.
        match authn.authenticate(&mut h.clone(), None).await {
            Outcome::Authenticated(u) => assert_eq!(u.name, "tokenuser"),
            o => panic!("{o:?}"),
        }
        // Nothing at all.
        assert_eq!(
            authn.authenticate(&mut HeaderMap::new(), None).await,
            Outcome::NoCredentials
        );
        // An unknown token, or an untrusted certificate: rejected.
        let mut bad = HeaderMap::new();
        bad.insert("authorization", HeaderValue::from_static("Bearer nope"));
        assert!(matches!(
            authn.authenticate(&mut bad, None).await,
            Outcome::Rejected(_)
        ));
        let stranger = peer(Ca::new("x").client("eve", &[]));
        assert!(matches!(
            authn
                .authenticate(&mut HeaderMap::new(), Some(&stranger))
                .await,
            Outcome::Rejected(_)
        ));
    }

    #[tokio::test]
    async fn tokens_are_ignored_without_token_authenticators() {
        let authn = Authenticator::default();
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer whatever"));
        assert_eq!(
            authn.authenticate(&mut h, None).await,
            Outcome::NoCredentials
        );
        assert!(!authn.is_configured());
    }
}
