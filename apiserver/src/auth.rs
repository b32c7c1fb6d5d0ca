//! Authentication and authorization flags, named as kube-apiserver names them, shared by the
//! server binaries (see `ironcore-auth` for what they do).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ironcore_auth::{AuthorizationMode, Options, RequestHeaderOptions};

use crate::cli::parse_duration;

/// `--authorization-mode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeFlag {
    /// Allow every authenticated request (local use).
    #[value(name = "AlwaysAllow")]
    AlwaysAllow,
    /// Ask the cluster of --authorization-kubeconfig (SubjectAccessReview).
    #[value(name = "Delegated")]
    Delegated,
}

/// Authentication and authorization flags.
#[derive(Args, Debug, Clone)]
pub struct AuthFlags {
    /// PEM CA bundle: client certificates signed by it authenticate as user CN, groups O.
    /// Without it (and with --authentication-kubeconfig) the cluster's
    /// kube-system/extension-apiserver-authentication client-ca-file is used.
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
    /// PEM CA bundle of front-proxy client certificates: only a client certificate verifying
    /// against it makes the --requestheader-*-headers trusted. Without it (and with
    /// --authentication-kubeconfig) the request-header settings come from the cluster's
    /// extension-apiserver-authentication ConfigMap and follow its changes.
    #[arg(long)]
    pub requestheader_client_ca_file: Option<PathBuf>,
    /// Front-proxy client certificate common names allowed to set identity headers
    /// (comma-separated; empty = any certificate of --requestheader-client-ca-file).
    #[arg(long, value_delimiter = ',')]
    pub requestheader_allowed_names: Vec<String>,
    /// Headers naming the user (first non-empty wins).
    #[arg(long, value_delimiter = ',', default_value = "X-Remote-User")]
    pub requestheader_username_headers: Vec<String>,
    /// Headers naming the user's UID (first non-empty wins).
    #[arg(long, value_delimiter = ',')]
    pub requestheader_uid_headers: Vec<String>,
    /// Headers carrying the user's groups (each value one group).
    #[arg(long, value_delimiter = ',', default_value = "X-Remote-Group")]
    pub requestheader_group_headers: Vec<String>,
    /// Header prefixes of the user's extra attributes.
    #[arg(long, value_delimiter = ',', default_value = "X-Remote-Extra-")]
    pub requestheader_extra_headers_prefix: Vec<String>,
    /// Static bearer tokens, CSV `token,user,uid,"group1,group2"` (kube-apiserver's format).
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
    /// kubeconfig of the cluster that reviews bearer tokens (TokenReview) and publishes the
    /// client CA and front-proxy settings (kube-system/extension-apiserver-authentication).
    /// In a pod, the in-cluster configuration is used when this is not given.
    #[arg(long)]
    pub authentication_kubeconfig: Option<PathBuf>,
    /// How long TokenReview answers are cached.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub authentication_token_webhook_cache_ttl: Duration,
    /// Serve requests without credentials as system:anonymous (group system:unauthenticated)
    /// instead of answering 401. Default: true only when no authentication is configured.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub anonymous_auth: Option<bool>,
    /// AlwaysAllow (every authenticated request), or Delegated (SubjectAccessReview against
    /// --authorization-kubeconfig's cluster).
    #[arg(long, value_enum, default_value = "AlwaysAllow")]
    pub authorization_mode: ModeFlag,
    /// kubeconfig of the cluster that answers SubjectAccessReviews (Delegated mode). In a pod,
    /// the in-cluster configuration is used when this is not given.
    #[arg(long)]
    pub authorization_kubeconfig: Option<PathBuf>,
    /// How long allowed SubjectAccessReview answers are cached.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub authorization_webhook_cache_authorized_ttl: Duration,
    /// How long denied SubjectAccessReview answers are cached.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub authorization_webhook_cache_unauthorized_ttl: Duration,
    /// Paths served without authorization, and without credentials (exact, or a prefix ending
    /// in *).
    #[arg(long, value_delimiter = ',', default_value = "/healthz,/readyz,/livez")]
    pub authorization_always_allow_paths: Vec<String>,
    /// kubeconfig of the cluster whose namespaces creates are checked against
    /// (NamespaceLifecycle); defaults to the authentication cluster.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

impl AuthFlags {
    /// The options `ironcore_auth::guards` takes.
    pub fn options(&self) -> Options {
        Options {
            client_ca_file: self.client_ca_file.clone(),
            request_header: RequestHeaderOptions {
                client_ca_file: self.requestheader_client_ca_file.clone(),
                allowed_names: non_empty(&self.requestheader_allowed_names),
                username_headers: non_empty(&self.requestheader_username_headers),
                uid_headers: non_empty(&self.requestheader_uid_headers),
                group_headers: non_empty(&self.requestheader_group_headers),
                extra_prefixes: non_empty(&self.requestheader_extra_headers_prefix),
            },
            token_auth_file: self.token_auth_file.clone(),
            authentication_kubeconfig: self.authentication_kubeconfig.clone(),
            token_cache_ttl: self.authentication_token_webhook_cache_ttl,
            anonymous: self.anonymous_auth,
            authorization_mode: match self.authorization_mode {
                ModeFlag::AlwaysAllow => AuthorizationMode::AlwaysAllow,
                ModeFlag::Delegated => AuthorizationMode::Delegated,
            },
            authorization_kubeconfig: self.authorization_kubeconfig.clone(),
            authorized_ttl: self.authorization_webhook_cache_authorized_ttl,
            unauthorized_ttl: self.authorization_webhook_cache_unauthorized_ttl,
            always_allow_paths: non_empty(&self.authorization_always_allow_paths),
            kubeconfig: self.kubeconfig.clone(),
        }
    }
}

/// Trimmed, non-empty entries (`--flag=` clears a list).
fn non_empty(v: &[String]) -> Vec<String> {
    v.iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        auth: AuthFlags,
    }

    #[test]
    fn defaults_follow_kube_apiserver() {
        let o = Cli::parse_from(["x"]).auth.options();
        assert_eq!(o.request_header.username_headers, ["X-Remote-User"]);
        assert_eq!(o.request_header.group_headers, ["X-Remote-Group"]);
        assert_eq!(o.request_header.extra_prefixes, ["X-Remote-Extra-"]);
        assert_eq!(o.always_allow_paths, ["/healthz", "/readyz", "/livez"]);
        assert_eq!(o.token_cache_ttl, Duration::from_secs(10));
        assert_eq!(o.anonymous, None);
        assert_eq!(o.authorization_mode, AuthorizationMode::AlwaysAllow);
    }

    #[test]
    fn flags_parse() {
        let o = Cli::parse_from([
            "x",
            "--anonymous-auth=false",
            "--authorization-mode=Delegated",
            "--requestheader-allowed-names=front-proxy-client,aggregator",
            "--authorization-always-allow-paths=",
            "--authorization-webhook-cache-unauthorized-ttl=30s",
        ])
        .auth
        .options();
        assert_eq!(o.anonymous, Some(false));
        assert_eq!(o.authorization_mode, AuthorizationMode::Delegated);
        assert_eq!(
            o.request_header.allowed_names,
            ["front-proxy-client", "aggregator"]
        );
        assert!(o.always_allow_paths.is_empty());
        assert_eq!(o.unauthorized_ttl, Duration::from_secs(30));
        assert_eq!(
            Cli::parse_from(["x", "--anonymous-auth"])
                .auth
                .anonymous_auth,
            Some(true)
        );
    }
}
