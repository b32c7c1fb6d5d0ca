//! The error type of every reconcile and of the runtime.

/// What can go wrong in a controller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to an API server failed.
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
    /// A kubeconfig could not be read or used.
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The kubeconfig file, or `<inferred>` for in-cluster/`KUBECONFIG`.
        path: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An object lacks something the reconcile needs (e.g. a UID), or the apinet side is not
    /// ready yet; retried with backoff.
    #[error("{0}")]
    NotReady(String),
    /// Another candidate took the leader election Lease; this process must stop.
    #[error("leadership lost")]
    LeadershipLost,
    /// A server could not be bound.
    #[error("bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether `err` is an API `404 Not Found`.
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404)
}

/// Whether `err` is an API `409 Conflict`.
pub fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 409)
}
