//! Authorization: `AlwaysAllow`, or `Delegated` to kube-apiserver through
//! `SubjectAccessReview` (`authorization.k8s.io/v1`) with allow and deny answers cached; in
//! both modes the always-allowed paths and group `system:masters` pass without a review.

use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes as SarResourceAttributes, SubjectAccessReview,
    SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use crate::AuthError;
use crate::attributes::RequestAttributes;
use crate::cache::TtlCache;
use crate::user::{AUTHENTICATED, MASTERS, UserInfo};

/// How long a SubjectAccessReview may take.
pub const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);

/// kube-apiserver's default `--authorization-always-allow-paths`.
pub const DEFAULT_ALWAYS_ALLOW_PATHS: &[&str] = &["/healthz", "/readyz", "/livez"];

/// Non-resource paths every authenticated user may GET without a review: what the
/// `system:discovery` and `system:public-info-viewer` cluster roles grant in every cluster.
const DISCOVERY_PATHS: &[&str] = &[
    "/version",
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/openapi",
    "/openapi/*",
];

/// `--authorization-always-allow-paths`: exact paths, or prefixes ending in `*`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathMatcher {
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl PathMatcher {
    /// Parses the paths; a `*` anywhere but at the end is an error.
    pub fn new<S: AsRef<str>>(paths: &[S]) -> Result<Self, AuthError> {
        let mut m = PathMatcher::default();
        for p in paths {
            let p = p.as_ref().trim().trim_start_matches('/');
            if let Some(prefix) = p.strip_suffix('*') {
                if prefix.contains('*') {
                    return Err(AuthError::Flag(format!(
                        "only a trailing * is allowed in {p:?}"
                    )));
                }
                m.prefixes.push(prefix.to_owned());
            } else if p.contains('*') {
                return Err(AuthError::Flag(format!(
                    "only a trailing * is allowed in {p:?}"
                )));
            } else {
                m.exact.push(p.to_owned());
            }
        }
        Ok(m)
    }

    /// Whether a non-resource request to `path` matches.
    pub fn matches(&self, attrs: &RequestAttributes) -> bool {
        if attrs.is_resource_request() {
            return false;
        }
        let path = attrs.path.trim_start_matches('/');
        self.exact.iter().any(|p| p == path)
            || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
}

/// An authorization decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Proceed.
    Allow,
    /// Refuse (403), with the authorizer's reason (may be empty).
    Deny(String),
    /// The authorizer could not decide (500).
    Error(String),
}

/// The authorizer of a server.
pub struct Authorizer {
    always_allow: PathMatcher,
    discovery: PathMatcher,
    delegated: Option<SubjectAccessReviewer>,
}

impl Authorizer {
    /// `AlwaysAllow` (`delegated` = `None`) or `Delegated`.
    pub fn new(always_allow: PathMatcher, delegated: Option<SubjectAccessReviewer>) -> Self {
        Authorizer {
            always_allow,
            discovery: PathMatcher::new(DISCOVERY_PATHS).unwrap_or_default(),
            delegated,
        }
    }

    /// Whether the request is to an always-allowed path (served even without credentials).
    pub fn always_allowed(&self, attrs: &RequestAttributes) -> bool {
        self.always_allow.matches(attrs)
    }

    /// Decides whether `user` may do what `attrs` describes.
    pub async fn authorize(&self, user: &UserInfo, attrs: &RequestAttributes) -> Decision {
        let Some(sar) = &self.delegated else {
            return Decision::Allow;
        };
        if self.always_allow.matches(attrs) || user.in_group(MASTERS) {
            return Decision::Allow;
        }
        if attrs.verb == "get" && user.in_group(AUTHENTICATED) && self.discovery.matches(attrs) {
            return Decision::Allow;
        }
        match sar.review(user, attrs).await {
            Ok((true, _)) => Decision::Allow,
            Ok((false, reason)) => Decision::Deny(reason),
            Err(e) => Decision::Error(e),
        }
    }
}

/// A SubjectAccessReview client with a cache of recent answers.
pub struct SubjectAccessReviewer {
    api: Api<SubjectAccessReview>,
    cache: TtlCache<String, (bool, String)>,
    allowed_ttl: Duration,
    denied_ttl: Duration,
}

impl SubjectAccessReviewer {
    /// Reviews through `client`; allowed answers are cached for `allowed_ttl`, denied ones for
    /// `denied_ttl`.
    pub fn new(client: kube::Client, allowed_ttl: Duration, denied_ttl: Duration) -> Self {
        SubjectAccessReviewer {
            api: Api::all(client),
            cache: TtlCache::new(),
            allowed_ttl,
            denied_ttl,
        }
    }

    /// `(allowed, reason)` for `user` doing `attrs`; errors are not cached.
    pub async fn review(
        &self,
        user: &UserInfo,
        attrs: &RequestAttributes,
    ) -> Result<(bool, String), String> {
        let spec = review_spec(user, attrs);
        let key = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let review = SubjectAccessReview {
            spec,
            ..SubjectAccessReview::default()
        };
        let answer = tokio::time::timeout(
            REVIEW_TIMEOUT,
            self.api.create(&PostParams::default(), &review),
        )
        .await
        .map_err(|_| "SubjectAccessReview timed out".to_owned())?
        .map_err(|e| format!("SubjectAccessReview failed: {e}"))?;
        let status = answer.status.unwrap_or_default();
        if let Some(e) = status.evaluation_error.as_deref().filter(|e| !e.is_empty()) {
            tracing::debug!(error = e, "SubjectAccessReview evaluation error");
        }
        let result = (status.allowed, status.reason.unwrap_or_default());
        let ttl = if result.0 {
            self.allowed_ttl
        } else {
            self.denied_ttl
        };
        self.cache.insert(key, result.clone(), ttl);
        Ok(result)
    }
}

/// The review kube-apiserver's webhook authorizer sends for a request.
pub fn review_spec(user: &UserInfo, attrs: &RequestAttributes) -> SubjectAccessReviewSpec {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let (resource_attributes, non_resource_attributes) = match &attrs.resource {
        Some(r) => (
            Some(SarResourceAttributes {
                namespace: opt(&r.namespace),
                verb: opt(&attrs.verb),
                group: Some(r.group.clone()),
                version: opt(&r.version),
                resource: opt(&r.resource),
                subresource: opt(&r.subresource),
                name: opt(&r.name),
                ..SarResourceAttributes::default()
            }),
            None,
        ),
        None => (
            None,
            Some(NonResourceAttributes {
                path: Some(attrs.path.clone()),
                verb: Some(attrs.verb.clone()),
            }),
        ),
    };
    SubjectAccessReviewSpec {
        user: opt(&user.name),
        uid: opt(&user.uid),
        groups: (!user.groups.is_empty()).then(|| user.groups.clone()),
        extra: (!user.extra.is_empty()).then(|| user.extra.clone().into_iter().collect()),
        resource_attributes,
        non_resource_attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn attrs(method: Method, path: &str) -> RequestAttributes {
        RequestAttributes::from_request(&method, path, None)
    }

    #[test]
    fn always_allow_paths_match_exactly_or_by_prefix() {
        let m = PathMatcher::new(&["/healthz", "/readyz/*", "metrics"]).unwrap();
        assert!(m.matches(&attrs(Method::GET, "/healthz")));
        assert!(!m.matches(&attrs(Method::GET, "/healthz/ping")));
        assert!(m.matches(&attrs(Method::GET, "/readyz/storage")));
        assert!(m.matches(&attrs(Method::GET, "/metrics")));
        let all = PathMatcher::new(&["/apis/*"]).unwrap();
        assert!(all.matches(&attrs(
            Method::GET,
            "/apis/networking.ironcore.dev/v1alpha1"
        )));
        // Never resource requests.
        assert!(!all.matches(&attrs(
            Method::GET,
            "/apis/networking.ironcore.dev/v1alpha1/networks"
        )));
        assert!(PathMatcher::new(&["/a*b"]).is_err());
        assert!(PathMatcher::new(&["/a**"]).is_err());
    }

    #[test]
    fn review_spec_carries_user_and_attributes() {
        let mut user = UserInfo::new("bob", vec!["devs".into(), AUTHENTICATED.into()]);
        user.extra.insert("scopes".into(), vec!["a".into()]);
        let a = RequestAttributes::from_request(
            &Method::PATCH,
            "/apis/networking.ironcore.dev/v1alpha1/namespaces/ns/networks/n1/status",
            None,
        );
        let spec = review_spec(&user, &a);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "user": "bob",
                "groups": ["devs", "system:authenticated"],
                "extra": {"scopes": ["a"]},
                "resourceAttributes": {
                    "namespace": "ns", "verb": "patch", "group": "networking.ironcore.dev",
                    "version": "v1alpha1", "resource": "networks", "subresource": "status", "name": "n1"
                }
            })
        );
        let d = review_spec(&user, &attrs(Method::GET, "/apis"));
        assert_eq!(
            serde_json::to_value(&d).unwrap()["nonResourceAttributes"],
            serde_json::json!({"path": "/apis", "verb": "get"})
        );
    }

    #[tokio::test]
    async fn reviews_are_cached_by_decision() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let client = crate::testing::client(
            |review| {
                let allowed = review["spec"]["user"] == "alice";
                serde_json::json!({
                    "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                    "metadata": {}, "spec": review["spec"],
                    "status": {"allowed": allowed, "reason": if allowed { "" } else { "nope" }}
                })
            },
            Arc::clone(&calls),
        );
        // Allowed answers kept 10s, denied ones not at all.
        let sar = SubjectAccessReviewer::new(client, Duration::from_secs(10), Duration::ZERO);
        let a = attrs(Method::GET, "/apis/g/v1/namespaces/ns/things");
        let alice = UserInfo::new("alice", vec![AUTHENTICATED.into()]);
        let bob = UserInfo::new("bob", vec![AUTHENTICATED.into()]);
        assert_eq!(sar.review(&alice, &a).await, Ok((true, String::new())));
        assert_eq!(sar.review(&alice, &a).await, Ok((true, String::new())));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another verb is another review.
        let create = attrs(Method::POST, "/apis/g/v1/namespaces/ns/things");
        assert!(sar.review(&alice, &create).await.unwrap().0);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(sar.review(&bob, &a).await, Ok((false, "nope".into())));
        assert_eq!(sar.review(&bob, &a).await, Ok((false, "nope".into())));
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        // The authorizer: system:masters and always-allowed paths never reach the reviewer.
        let authz = Authorizer::new(
            PathMatcher::new(DEFAULT_ALWAYS_ALLOW_PATHS).unwrap(),
            Some(sar),
        );
        let root = UserInfo::new("root", vec![MASTERS.into()]);
        assert_eq!(authz.authorize(&root, &a).await, Decision::Allow);
        assert_eq!(
            authz.authorize(&bob, &attrs(Method::GET, "/healthz")).await,
            Decision::Allow
        );
        assert_eq!(
            authz
                .authorize(&bob, &attrs(Method::GET, "/apis/g/v1"))
                .await,
            Decision::Allow
        );
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(
            authz.authorize(&bob, &a).await,
            Decision::Deny("nope".into())
        );
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn always_allow_mode_allows_everything() {
        let a = Authorizer::new(PathMatcher::new(DEFAULT_ALWAYS_ALLOW_PATHS).unwrap(), None);
        let d = a
            .authorize(
                &UserInfo::anonymous(),
                &attrs(Method::DELETE, "/apis/g/v1/things"),
            )
            .await;
        assert_eq!(d, Decision::Allow);
        assert!(a.always_allowed(&attrs(Method::GET, "/livez")));
        assert!(!a.always_allowed(&attrs(Method::GET, "/apis")));
    }
}
