//! kube-rs clients for the cluster an aggregated server delegates to.

use std::path::Path;

use crate::AuthError;

/// Where a pod's service account token is mounted.
const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Whether this process runs in a pod with a service account (the in-cluster configuration
/// applies): `KUBERNETES_SERVICE_HOST` is set and the token is mounted.
pub fn in_cluster() -> bool {
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        && Path::new(SERVICE_ACCOUNT_TOKEN).exists()
}

/// A client from `kubeconfig` (its current context), or the in-cluster configuration when no
/// file is given and this process runs in a pod; `None` when neither applies.
pub async fn client(kubeconfig: Option<&Path>) -> Result<Option<kube::Client>, AuthError> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                AuthError::Cluster(format!("reading kubeconfig {}: {e}", path.display()))
            })?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| AuthError::Cluster(format!("kubeconfig {}: {e}", path.display())))?
        }
        None if in_cluster() => kube::Config::incluster()
            .map_err(|e| AuthError::Cluster(format!("in-cluster configuration: {e}")))?,
        None => return Ok(None),
    };
    kube::Client::try_from(config)
        .map(Some)
        .map_err(|e| AuthError::Cluster(format!("cluster client: {e}")))
}
