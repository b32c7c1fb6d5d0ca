//! Bearer tokens checked by kube-apiserver: `TokenReview` (`authentication.k8s.io/v1`) against
//! the cluster of `--authentication-kubeconfig`, answers cached for a while.

use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::api::{Api, PostParams};

use crate::cache::TtlCache;
use crate::user::UserInfo;

/// How long a TokenReview may take.
pub const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);

/// A TokenReview client with a cache of recent answers (authenticated and not alike).
pub struct TokenReviewer {
    api: Api<TokenReview>,
    cache: TtlCache<[u8; 32], Option<UserInfo>>,
    ttl: Duration,
}

impl TokenReviewer {
    /// Reviews tokens through `client`, caching answers for `ttl`.
    pub fn new(client: kube::Client, ttl: Duration) -> Self {
        TokenReviewer {
            api: Api::all(client),
            cache: TtlCache::new(),
            ttl,
        }
    }

    /// The user `token` belongs to, `None` if the cluster does not know it; errors (the
    /// cluster unreachable, a review error) are not cached.
    pub async fn review(&self, token: &str) -> Result<Option<UserInfo>, String> {
        let key = digest(token);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                audiences: None,
            },
            ..TokenReview::default()
        };
        let answer = tokio::time::timeout(
            REVIEW_TIMEOUT,
            self.api.create(&PostParams::default(), &review),
        )
        .await
        .map_err(|_| "TokenReview timed out".to_owned())?
        .map_err(|e| format!("TokenReview failed: {e}"))?;
        let status = answer.status.unwrap_or_default();
        let user = match (status.authenticated, status.user) {
            (Some(true), Some(u)) => Some(UserInfo {
                name: u.username.unwrap_or_default(),
                uid: u.uid.unwrap_or_default(),
                groups: u.groups.unwrap_or_default(),
                extra: u.extra.unwrap_or_default().into_iter().collect(),
            }),
            _ => {
                if let Some(e) = status.error.filter(|e| !e.is_empty()) {
                    tracing::debug!(error = %e, "TokenReview did not authenticate the token");
                }
                None
            }
        };
        self.cache.insert(key, user.clone(), self.ttl);
        Ok(user)
    }
}

/// Tokens are cached by their SHA-256, never in clear.
fn digest(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn answers_are_cached_for_the_ttl() {
        let calls = Arc::new(AtomicUsize::new(0));
        let client = crate::testing::client(
            |review| {
                let ok = review["spec"]["token"] == "good";
                let status = if ok {
                    serde_json::json!({"authenticated": true, "user": {"username": "tina", "uid": "7", "groups": ["devs"], "extra": {"k": ["v"]}}})
                } else {
                    serde_json::json!({"authenticated": false, "error": "unknown token"})
                };
                serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                    "metadata": {}, "spec": review["spec"], "status": status})
            },
            Arc::clone(&calls),
        );
        let reviewer = TokenReviewer::new(client, Duration::from_millis(300));
        let tina = reviewer.review("good").await.unwrap().unwrap();
        assert_eq!((tina.name.as_str(), tina.uid.as_str()), ("tina", "7"));
        assert_eq!(tina.groups, ["devs"]);
        assert_eq!(tina.extra["k"], ["v"]);
        assert_eq!(reviewer.review("good").await.unwrap(), Some(tina));
        assert_eq!(reviewer.review("bad").await.unwrap(), None);
        assert_eq!(reviewer.review("bad").await.unwrap(), None);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(reviewer.review("good").await.unwrap().is_some());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
