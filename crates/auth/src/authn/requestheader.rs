//! Front-proxy authentication: identity headers (`X-Remote-User`, `X-Remote-Group`,
//! `X-Remote-Extra-<key>`) set by kube-apiserver's aggregator, trusted only from a client
//! certificate that verifies against the request-header CA and carries an allowed CN.

use http::HeaderMap;
use rustls::pki_types::CertificateDer;

use crate::user::UserInfo;
use crate::x509::{CertAuthority, Subject};

/// The request-header authenticator's settings (`--requestheader-*` flags, or the
/// `extension-apiserver-authentication` ConfigMap).
#[derive(Clone, Debug, PartialEq)]
pub struct RequestHeaderConfig {
    /// The CA front-proxy client certificates must verify against.
    pub ca: CertAuthority,
    /// CNs allowed to act as a front proxy; empty = any certificate of the CA.
    pub allowed_names: Vec<String>,
    /// Headers naming the user; the first non-empty one wins.
    pub username_headers: Vec<String>,
    /// Headers carrying the user's UID; the first non-empty one wins.
    pub uid_headers: Vec<String>,
    /// Headers carrying groups; every value is one group.
    pub group_headers: Vec<String>,
    /// Prefixes of headers carrying extra attributes (`<prefix><key>: <value>`).
    pub extra_prefixes: Vec<String>,
}

/// Default `--requestheader-username-headers`.
pub const DEFAULT_USERNAME_HEADERS: &[&str] = &["X-Remote-User"];
/// Default `--requestheader-group-headers`.
pub const DEFAULT_GROUP_HEADERS: &[&str] = &["X-Remote-Group"];
/// Default `--requestheader-extra-headers-prefix`.
pub const DEFAULT_EXTRA_PREFIXES: &[&str] = &["X-Remote-Extra-"];

impl RequestHeaderConfig {
    /// A configuration with kube-apiserver's default header names.
    pub fn with_defaults(ca: CertAuthority, allowed_names: Vec<String>) -> Self {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        RequestHeaderConfig {
            ca,
            allowed_names,
            username_headers: own(DEFAULT_USERNAME_HEADERS),
            uid_headers: Vec::new(),
            group_headers: own(DEFAULT_GROUP_HEADERS),
            extra_prefixes: own(DEFAULT_EXTRA_PREFIXES),
        }
    }

    /// Authenticates from the headers when `chain` is a trusted front-proxy certificate.
    ///
    /// `Ok(None)`: no client certificate, or no user named in the headers (the next
    /// authenticator decides). `Err`: a certificate was presented but is not a trusted front
    /// proxy's; the headers are ignored.
    pub fn authenticate(
        &self,
        chain: Option<&[CertificateDer<'static>]>,
        headers: &HeaderMap,
    ) -> Result<Option<UserInfo>, String> {
        let Some(chain) = chain.filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        self.ca.verify(chain)?;
        if !self.allowed_names.is_empty() {
            let cn = Subject::of(&chain[0])?.common_name;
            if !self.allowed_names.contains(&cn) {
                return Err(format!(
                    "x509: subject with cn={cn} is not in the allowed list"
                ));
            }
        }
        Ok(user_from_headers(self, headers))
    }

    /// Removes every identity header this configuration reads, so nothing downstream sees them.
    pub fn clear_headers(&self, headers: &mut HeaderMap) {
        for h in self
            .username_headers
            .iter()
            .chain(&self.uid_headers)
            .chain(&self.group_headers)
        {
            headers.remove(h.trim());
        }
        let prefixes: Vec<String> = self
            .extra_prefixes
            .iter()
            .map(|p| p.trim().to_ascii_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        let extra: Vec<http::HeaderName> = headers
            .keys()
            .filter(|k| prefixes.iter().any(|p| k.as_str().starts_with(p.as_str())))
            .cloned()
            .collect();
        for k in extra {
            headers.remove(k);
        }
    }
}

/// The values of `name` that are valid UTF-8.
fn values<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name.trim())
        .into_iter()
        .filter_map(|v| v.to_str().ok())
}

/// The first non-empty value of the first header of `names` that has one.
fn first_value(headers: &HeaderMap, names: &[String]) -> Option<String> {
    names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .find_map(|n| values(headers, n).next().filter(|v| !v.is_empty()))
        .map(str::to_owned)
}

/// The user the headers name, if any.
fn user_from_headers(cfg: &RequestHeaderConfig, headers: &HeaderMap) -> Option<UserInfo> {
    let name = first_value(headers, &cfg.username_headers)?;
    let uid = first_value(headers, &cfg.uid_headers).unwrap_or_default();
    let groups = cfg
        .group_headers
        .iter()
        .filter(|n| !n.trim().is_empty())
        .flat_map(|n| values(headers, n))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    let mut extra = std::collections::BTreeMap::<String, Vec<String>>::new();
    for prefix in &cfg.extra_prefixes {
        let prefix = prefix.trim().to_ascii_lowercase();
        if prefix.is_empty() {
            continue;
        }
        for (k, v) in headers {
            let Some(key) = k.as_str().strip_prefix(prefix.as_str()) else {
                continue;
            };
            if let Ok(v) = v.to_str() {
                extra
                    .entry(unescape_extra_key(key))
                    .or_default()
                    .push(v.to_owned());
            }
        }
    }
    Some(UserInfo {
        name,
        uid,
        groups,
        extra,
    })
}

/// Extra keys are percent-encoded by the proxy (`SetAuthProxyHeaders`) and lower-cased.
fn unescape_extra_key(key: &str) -> String {
    match String::from_utf8(crate::percent_decode(key)) {
        Ok(s) => s.to_lowercase(),
        // Not valid after unescaping: kube-apiserver keeps the key as it came.
        Err(_) => key.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::testing::Ca;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn config(ca: &Ca, allowed: &[&str]) -> RequestHeaderConfig {
        RequestHeaderConfig::with_defaults(
            CertAuthority::from_pem(ca.pem().as_bytes(), "proxy-ca").unwrap(),
            allowed.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    const AGGREGATOR: &[(&str, &str)] = &[
        ("X-Remote-User", "system:kube-aggregator"),
        ("X-Remote-Group", "system:masters"),
        ("X-Remote-Group", "team a"),
        ("X-Remote-Extra-Scopes", "one"),
        ("X-Remote-Extra-Scopes", "two"),
        ("X-Remote-Extra-Acme.com%2Fproject", "p1"),
    ];

    #[test]
    fn headers_from_an_allowed_proxy_name_the_user() {
        let ca = Ca::new("front-proxy-ca");
        let cfg = config(&ca, &["front-proxy-client"]);
        let chain = ca.client("front-proxy-client", &[]);
        let user = cfg
            .authenticate(Some(&chain), &headers(AGGREGATOR))
            .unwrap()
            .expect("a user");
        assert_eq!(user.name, "system:kube-aggregator");
        assert_eq!(user.groups, ["system:masters", "team a"]);
        assert_eq!(user.extra["scopes"], ["one", "two"]);
        assert_eq!(user.extra["acme.com/project"], ["p1"]);
    }

    #[test]
    fn headers_without_a_trusted_certificate_are_ignored() {
        let ca = Ca::new("front-proxy-ca");
        let cfg = config(&ca, &["front-proxy-client"]);
        let h = headers(AGGREGATOR);
        // No certificate: not this authenticator's business.
        assert_eq!(cfg.authenticate(None, &h), Ok(None));
        // Another CA's certificate with the right CN.
        let forged = Ca::new("front-proxy-ca").client("front-proxy-client", &[]);
        assert!(cfg.authenticate(Some(&forged), &h).is_err());
        // The right CA, a CN not allowed.
        let other = ca.client("someone-else", &[]);
        let err = cfg.authenticate(Some(&other), &h).unwrap_err();
        assert!(
            err.contains("cn=someone-else is not in the allowed list"),
            "{err}"
        );
        // Without allowed names any certificate of the CA is a proxy.
        assert!(
            config(&ca, &[])
                .authenticate(Some(&other), &h)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_proxy_certificate_without_a_user_header_names_nobody() {
        let ca = Ca::new("front-proxy-ca");
        let cfg = config(&ca, &[]);
        let chain = ca.client("front-proxy-client", &[]);
        let h = headers(&[("X-Remote-User", ""), ("X-Remote-Group", "system:masters")]);
        assert_eq!(cfg.authenticate(Some(&chain), &h), Ok(None));
    }

    #[test]
    fn configured_header_names_are_used_in_order() {
        let ca = Ca::new("front-proxy-ca");
        let mut cfg = config(&ca, &[]);
        cfg.username_headers = vec!["X-User".into(), "X-Remote-User".into()];
        cfg.uid_headers = vec!["X-Remote-Uid".into()];
        cfg.group_headers = vec!["X-Groups".into()];
        cfg.extra_prefixes = vec!["X-Extra-".into()];
        let chain = ca.client("proxy", &[]);
        let h = headers(&[
            ("X-Remote-User", "second"),
            ("X-User", "first"),
            ("X-Remote-Uid", "42"),
            ("X-Groups", "g1"),
            ("X-Remote-Group", "ignored"),
            ("X-Extra-Reason", "why"),
        ]);
        let u = cfg.authenticate(Some(&chain), &h).unwrap().unwrap();
        assert_eq!((u.name.as_str(), u.uid.as_str()), ("first", "42"));
        assert_eq!(u.groups, ["g1"]);
        assert_eq!(u.extra["reason"], ["why"]);
        let mut h = h;
        cfg.clear_headers(&mut h);
        assert_eq!(
            h.len(),
            1,
            "only X-Remote-Group (not configured) is left: {h:?}"
        );
    }
}
