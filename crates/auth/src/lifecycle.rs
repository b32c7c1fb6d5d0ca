//! NamespaceLifecycle admission: a create into a namespace the cluster does not have is 404, into
//! a terminating one 403 — decided from a namespace watch (kube-rs reflector), with a live
//! lookup only when the namespace is not (yet) in the watched set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use ironcore_server::errors::ApiError;
use ironcore_server::gate::{AdmissionHook, CreateRequest};

/// How long to wait for the watch to catch up before looking a missing namespace up live.
const MISSING_GRACE: Duration = Duration::from_millis(50);

/// The namespace phase the watch or a lookup reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The namespace exists and accepts new objects.
    Active,
    /// The namespace is being deleted.
    Terminating,
    /// The cluster has no such namespace.
    Missing,
}

/// The NamespaceLifecycle admission hook.
pub struct NamespaceLifecycle {
    api: Api<Namespace>,
    store: Store<Namespace>,
    synced: Arc<AtomicBool>,
}

fn phase_of(ns: &Namespace) -> Phase {
    match ns.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Terminating") => Phase::Terminating,
        _ => Phase::Active,
    }
}

impl NamespaceLifecycle {
    /// Starts watching the cluster's namespaces through `client`.
    pub fn start(client: kube::Client) -> Arc<Self> {
        let api: Api<Namespace> = Api::all(client);
        let (store, writer) = reflector::store();
        let synced = Arc::new(AtomicBool::new(false));
        let stream = reflector::reflector(writer, watcher(api.clone(), watcher::Config::default()))
            .default_backoff();
        let flag = Arc::clone(&synced);
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(watcher::Event::InitDone) => {
                        if !flag.swap(true, Ordering::SeqCst) {
                            tracing::info!("namespace watch synced");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "watching namespaces"),
                }
            }
        });
        Arc::new(NamespaceLifecycle { api, store, synced })
    }

    fn cached(&self, name: &str) -> Option<Phase> {
        if !self.synced.load(Ordering::SeqCst) {
            return None;
        }
        self.store
            .get(&ObjectRef::new(name))
            .map(|ns| phase_of(&ns))
    }

    /// The namespace's phase: from the watch, or (missing there) after a short grace a live
    /// lookup, since a namespace created a moment ago may not have reached the watch yet.
    pub async fn phase(&self, name: &str) -> Result<Phase, ApiError> {
        if let Some(p) = self.cached(name) {
            return Ok(p);
        }
        if self.synced.load(Ordering::SeqCst) {
            tokio::time::sleep(MISSING_GRACE).await;
            if let Some(p) = self.cached(name) {
                return Ok(p);
            }
        }
        match self.api.get_opt(name).await {
            Ok(Some(ns)) => Ok(phase_of(&ns)),
            Ok(None) => Ok(Phase::Missing),
            Err(e) => Err(ApiError::internal(format!(
                "looking up namespace {name}: {e}"
            ))),
        }
    }
}

/// The error a create into `namespace` in `phase` gets, if any.
pub fn admission_error(req: &CreateRequest<'_>, namespace: &str, phase: Phase) -> Option<ApiError> {
    match phase {
        Phase::Active => None,
        Phase::Missing => Some(ApiError::not_found("", "namespaces", namespace)),
        Phase::Terminating => {
            let name = req.name().unwrap_or_default();
            Some(
                ApiError::forbidden(
                    &req.info.group,
                    &req.info.plural,
                    &name,
                    format!(
                        "unable to create new content in namespace {namespace} because it is being terminated"
                    ),
                )
                .with_cause(
                    "NamespaceTerminating",
                    &format!("namespace {namespace} is being terminated"),
                    "metadata.namespace",
                ),
            )
        }
    }
}

#[async_trait::async_trait]
impl AdmissionHook for NamespaceLifecycle {
    async fn admit_create(&self, req: &CreateRequest<'_>) -> Result<(), ApiError> {
        let Some(ns) = req.namespace else {
            return Ok(());
        };
        match admission_error(req, ns, self.phase(ns).await?) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironcore_server::registry::ResourceInfo;

    fn info() -> ResourceInfo {
        ResourceInfo {
            group: "networking.ironcore.dev".into(),
            version: "v1alpha1".into(),
            kind: "Network".into(),
            plural: "networks".into(),
            singular: "network".into(),
            short_names: vec![],
            namespaced: true,
            has_status: true,
            field_labels: vec![],
            columns: vec![],
        }
    }

    #[test]
    fn errors_match_kube_apiserver() {
        let info = info();
        let body = br#"{"apiVersion":"networking.ironcore.dev/v1alpha1","kind":"Network","metadata":{"name":"n1"}}"#;
        let req = CreateRequest {
            info: &info,
            namespace: Some("gone"),
            content_type: "application/json",
            body,
        };
        assert!(admission_error(&req, "gone", Phase::Active).is_none());
        let missing = admission_error(&req, "gone", Phase::Missing).unwrap();
        assert_eq!(
            (missing.code, missing.message.as_str()),
            (404, r#"namespaces "gone" not found"#)
        );
        let t = admission_error(&req, "gone", Phase::Terminating)
            .unwrap()
            .to_status();
        assert_eq!(t["code"], 403);
        assert_eq!(
            t["message"],
            r#"networks.networking.ironcore.dev "n1" is forbidden: unable to create new content in namespace gone because it is being terminated"#
        );
        assert_eq!(
            t["details"]["causes"],
            serde_json::json!([{"reason": "NamespaceTerminating", "message": "namespace gone is being terminated", "field": "metadata.namespace"}])
        );
    }
}
