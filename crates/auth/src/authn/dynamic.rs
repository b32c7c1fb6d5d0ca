//! Following `kube-system/extension-apiserver-authentication`: the client CA and front-proxy
//! settings kube-apiserver publishes for aggregated API servers.
//!
//! Flags win: a `--client-ca-file` replaces the ConfigMap's `client-ca-file`, a
//! `--requestheader-client-ca-file` replaces every `requestheader-*` key (as kube-apiserver's
//! delegating authentication does).

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

use super::requestheader::RequestHeaderConfig;
use super::{CertConfig, SharedCertConfig};
use crate::AuthError;
use crate::x509::CertAuthority;

/// The ConfigMap's namespace.
pub const NAMESPACE: &str = "kube-system";
/// The ConfigMap's name.
pub const NAME: &str = "extension-apiserver-authentication";

/// Reads the certificate settings from the ConfigMap's data; `flags` (what the command line
/// set) take precedence.
pub fn cert_config(
    data: &BTreeMap<String, String>,
    flags: &CertConfig,
) -> Result<CertConfig, String> {
    let client_ca = match (&flags.client_ca, data.get("client-ca-file")) {
        (Some(ca), _) => Some(ca.clone()),
        (None, Some(pem)) if !pem.trim().is_empty() => Some(
            CertAuthority::from_pem(pem.as_bytes(), "client-ca-file").map_err(|e| e.to_string())?,
        ),
        _ => None,
    };
    let request_header = match (
        &flags.request_header,
        data.get("requestheader-client-ca-file"),
    ) {
        (Some(rh), _) => Some(rh.clone()),
        (None, Some(pem)) if !pem.trim().is_empty() => {
            let list = |key: &str| -> Result<Vec<String>, String> {
                match data.get(key) {
                    None => Ok(Vec::new()),
                    Some(s) if s.trim().is_empty() => Ok(Vec::new()),
                    Some(s) => serde_json::from_str(s).map_err(|e| format!("{key}: {e}")),
                }
            };
            Some(RequestHeaderConfig {
                ca: CertAuthority::from_pem(pem.as_bytes(), "requestheader-client-ca-file")
                    .map_err(|e| e.to_string())?,
                allowed_names: list("requestheader-allowed-names")?,
                username_headers: list("requestheader-username-headers")?,
                uid_headers: list("requestheader-uid-headers")?,
                group_headers: list("requestheader-group-headers")?,
                extra_prefixes: list("requestheader-extra-headers-prefix")?,
            })
        }
        _ => None,
    };
    Ok(CertConfig {
        request_header,
        client_ca,
    })
}

/// Reads the ConfigMap once (so start-up fails when the cluster cannot be read), then follows
/// it in the background: every change replaces `shared`'s configuration.
///
/// A missing ConfigMap is not an error (the cluster publishes no front-proxy settings); a
/// ConfigMap whose content does not parse keeps the previous configuration.
pub async fn follow(
    client: kube::Client,
    flags: CertConfig,
    shared: SharedCertConfig,
) -> Result<tokio::task::JoinHandle<()>, AuthError> {
    let api: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    let initial = api
        .get_opt(NAME)
        .await
        .map_err(|e| AuthError::Cluster(format!("reading {NAMESPACE}/{NAME}: {e}")))?;
    match &initial {
        Some(cm) => apply(cm, &flags, &shared),
        None => {
            tracing::warn!(
                "ConfigMap {NAMESPACE}/{NAME} not found: no front-proxy or client CA from the cluster"
            );
            shared.set(flags.clone());
        }
    }
    let stream = watcher(
        api,
        watcher::Config::default().fields(&format!("metadata.name={NAME}")),
    )
    .default_backoff();
    Ok(tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => {
                    apply(&cm, &flags, &shared)
                }
                Ok(watcher::Event::Delete(_)) => tracing::warn!(
                    "ConfigMap {NAMESPACE}/{NAME} was deleted: keeping the last settings"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "watching {NAMESPACE}/{NAME}"),
            }
        }
    }))
}

fn apply(cm: &ConfigMap, flags: &CertConfig, shared: &SharedCertConfig) {
    let data = cm.data.clone().unwrap_or_default();
    match cert_config(&data, flags) {
        Ok(cfg) => {
            if *shared.current() != cfg {
                tracing::info!(
                    request_header = cfg.request_header.is_some(),
                    client_ca = cfg.client_ca.is_some(),
                    "authentication settings from {NAMESPACE}/{NAME} loaded"
                );
                shared.set(cfg);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "{NAMESPACE}/{NAME} is not usable; keeping the last settings")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::testing::Ca;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn configmap_keys_are_read() {
        let proxy = Ca::new("proxy");
        let client = Ca::new("client");
        let (proxy_pem, client_pem) = (proxy.pem(), client.pem());
        let d = data(&[
            ("client-ca-file", &client_pem),
            ("requestheader-client-ca-file", &proxy_pem),
            ("requestheader-allowed-names", r#"["front-proxy-client"]"#),
            ("requestheader-username-headers", r#"["X-Remote-User"]"#),
            ("requestheader-group-headers", r#"["X-Remote-Group"]"#),
            (
                "requestheader-extra-headers-prefix",
                r#"["X-Remote-Extra-"]"#,
            ),
        ]);
        let cfg = cert_config(&d, &CertConfig::default()).unwrap();
        let rh = cfg.request_header.unwrap();
        assert_eq!(rh.allowed_names, ["front-proxy-client"]);
        assert_eq!(rh.username_headers, ["X-Remote-User"]);
        assert_eq!(rh.extra_prefixes, ["X-Remote-Extra-"]);
        assert!(rh.uid_headers.is_empty());
        assert!(cfg.client_ca.is_some());
    }

    #[test]
    fn flags_win_over_the_configmap() {
        let flag_ca = Ca::new("flag");
        let flags = CertConfig {
            request_header: None,
            client_ca: Some(CertAuthority::from_pem(flag_ca.pem().as_bytes(), "flag").unwrap()),
        };
        let other = Ca::new("cm").pem();
        let cfg = cert_config(&data(&[("client-ca-file", &other)]), &flags).unwrap();
        assert_eq!(cfg.client_ca, flags.client_ca);
        assert!(cfg.request_header.is_none());
    }

    #[test]
    fn bad_content_is_an_error() {
        let pem = Ca::new("p").pem();
        let d = data(&[
            ("requestheader-client-ca-file", &pem),
            ("requestheader-allowed-names", "not json"),
        ]);
        assert!(cert_config(&d, &CertConfig::default()).is_err());
        assert!(cert_config(&data(&[("client-ca-file", "junk")]), &CertConfig::default()).is_err());
    }
}
