//! The whole controller stack for one test: both API servers on the embedded store, then
//! `ironcore-controller-manager`, `apinetlet` and, when asked for, `netlet`s and
//! `apinet-controller-manager` as processes with the kubeconfigs the servers' harness wrote.

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

pub mod lease_server;

use ironcore_e2e::{Backend, ControllerProcess, ServerProcess};

/// The apinet namespace the apinetlet works in (as in the seed's provider IDs).
pub const APINET_NAMESPACE: &str = "ironcore-net-system";
/// The apinet public pool.
pub const PUBLIC_PREFIX: &str = "10.0.0.0/24";

/// Which processes a test wants besides the servers, the manager and the apinetlet.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// One `netlet` per name (`--node-name`); each also gets `--node-label` entries from
    /// `node_labels` with the same index, when present.
    pub nodes: Vec<String>,
    /// `--node-label` values per node (`key=value`), by index into `nodes`.
    pub node_labels: Vec<Vec<String>>,
    /// Run `apinet-controller-manager`.
    pub apinet_manager: bool,
    /// Extra `apinet-apiserver` flags.
    pub apinet_args: Vec<String>,
}

impl Options {
    /// Everything: `apinet-controller-manager` and one netlet on node `node-a`.
    pub fn full() -> Self {
        Options {
            nodes: vec!["node-a".into()],
            apinet_manager: true,
            ..Default::default()
        }
    }
}

/// Both servers and the controllers.
pub struct Stack {
    /// `ironcore-apiserver`.
    pub ironcore: ServerProcess,
    /// `apinet-apiserver`.
    pub apinet: ServerProcess,
    /// `ironcore-controller-manager`.
    pub manager: ControllerProcess,
    /// `apinetlet`.
    pub apinetlet: ControllerProcess,
    /// `apinet-controller-manager`, when asked for.
    pub apinet_manager: Option<ControllerProcess>,
    /// One `netlet` per node asked for, in order.
    pub netlets: Vec<ControllerProcess>,
}

/// Flags that make retries quick in tests.
fn fast() -> Vec<String> {
    vec![
        "--backoff-base-ms=50".to_owned(),
        "--backoff-max-seconds=2".to_owned(),
    ]
}

impl Stack {
    /// The servers, `ironcore-controller-manager` and `apinetlet` only.
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// Starts what `opts` asks for and waits until every process is ready.
    pub fn start_with(opts: Options) -> Self {
        let ironcore = ServerProcess::start("ironcore-apiserver", Backend::Embedded, &[]);
        let mut apinet_args = vec![format!("--public-prefix={PUBLIC_PREFIX}")];
        apinet_args.extend(opts.apinet_args.iter().cloned());
        let apinet_refs: Vec<&str> = apinet_args.iter().map(String::as_str).collect();
        let apinet = ServerProcess::start("apinet-apiserver", Backend::Embedded, &apinet_refs);
        let kubeconfig = format!("--kubeconfig={}", ironcore.kubeconfig().display());
        let apinet_kubeconfig = apinet.kubeconfig();
        let mut args = vec![kubeconfig.clone()];
        args.extend(fast());
        let manager = ControllerProcess::start("ironcore-controller-manager", &args);
        let mut args = vec![
            kubeconfig,
            format!("--apinet-kubeconfig={}", apinet_kubeconfig.display()),
            format!("--apinet-namespace={APINET_NAMESPACE}"),
            "--orphan-sweep-seconds=1".to_owned(),
        ];
        args.extend(fast());
        let apinetlet = ControllerProcess::start("apinetlet", &args);
        let apinet_manager = opts.apinet_manager.then(|| {
            let mut args = vec![format!("--kubeconfig={}", apinet_kubeconfig.display())];
            args.extend(fast());
            ControllerProcess::start("apinet-controller-manager", &args)
        });
        let mut stack = Stack {
            ironcore,
            apinet,
            manager,
            apinetlet,
            apinet_manager,
            netlets: Vec::new(),
        };
        for (i, node) in opts.nodes.iter().enumerate() {
            let labels = opts.node_labels.get(i).cloned().unwrap_or_default();
            stack.add_netlet(node, &labels);
        }
        stack
    }

    /// Starts one more `netlet` for `node` with `--node-label` entries `labels`.
    pub fn add_netlet(&mut self, node: &str, labels: &[String]) {
        let mut args = vec![
            format!("--kubeconfig={}", self.apinet.kubeconfig().display()),
            format!("--node-name={node}"),
        ];
        args.extend(labels.iter().map(|l| format!("--node-label={l}")));
        args.extend(fast());
        self.netlets.push(ControllerProcess::start("netlet", &args));
    }

    /// What the recording dataplane of netlet `i` holds (`GET /dataplane` on its metrics
    /// port), as JSON.
    pub fn dataplane(&self, i: usize) -> serde_json::Value {
        let (code, body) = self.netlets[i].metrics_get("/dataplane");
        assert_eq!(code, 200, "GET /dataplane: {body}");
        serde_json::from_str(&body).expect("dataplane JSON")
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
