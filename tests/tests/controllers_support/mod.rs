//! The whole controller stack for one test: both API servers on the embedded store, then
//! `ironcore-controller-manager` and `apinetlet` as processes with the kubeconfigs the servers'
//! harness wrote.

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use ironcore_e2e::{Backend, ControllerProcess, ServerProcess};

/// The apinet namespace the apinetlet works in (as in the seed's provider IDs).
pub const APINET_NAMESPACE: &str = "ironcore-net-system";
/// The apinet public pool.
pub const PUBLIC_PREFIX: &str = "10.0.0.0/24";

/// Both servers and both controllers.
pub struct Stack {
    /// `ironcore-apiserver`.
    pub ironcore: ServerProcess,
    /// `apinet-apiserver`.
    pub apinet: ServerProcess,
    /// `ironcore-controller-manager`.
    pub manager: ControllerProcess,
    /// `apinetlet`.
    pub apinetlet: ControllerProcess,
}

impl Stack {
    /// Starts everything and waits until every process is ready.
    pub fn start() -> Self {
        let ironcore = ServerProcess::start("ironcore-apiserver", Backend::Embedded, &[]);
        let apinet = ServerProcess::start(
            "apinet-apiserver",
            Backend::Embedded,
            &[&format!("--public-prefix={PUBLIC_PREFIX}")],
        );
        let fast = [
            "--backoff-base-ms=50".to_owned(),
            "--backoff-max-seconds=2".to_owned(),
        ];
        let kubeconfig = format!("--kubeconfig={}", ironcore.kubeconfig().display());
        let mut args = vec![kubeconfig.clone()];
        args.extend(fast.iter().cloned());
        let manager = ControllerProcess::start("ironcore-controller-manager", &args);
        let mut args = vec![
            kubeconfig,
            format!("--apinet-kubeconfig={}", apinet.kubeconfig().display()),
            format!("--apinet-namespace={APINET_NAMESPACE}"),
            "--orphan-sweep-seconds=1".to_owned(),
        ];
        args.extend(fast.iter().cloned());
        let apinetlet = ControllerProcess::start("apinetlet", &args);
        Stack {
            ironcore,
            apinet,
            manager,
            apinetlet,
        }
    }
}

/// Polls `check` every 100 ms until it returns `Some`, panicking with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
