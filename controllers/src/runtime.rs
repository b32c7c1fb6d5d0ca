//! The runtime every controller binary shares: kubeconfig loading, `/healthz`, `/readyz` and
//! `/metrics`, structured logging, per-object exponential backoff with jitter, and the loop that
//! drives a kube-rs [`Controller`].

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::Controller;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Config, Resource};
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;

use crate::error::{Error, Result};

/// Flags every controller binary has: probes, metrics and backoff.
#[derive(Clone, Debug, clap::Args)]
pub struct RuntimeFlags {
    /// Address of the `/healthz` and `/readyz` endpoints (plain HTTP); `:PORT` means all
    /// interfaces (as in a Pod).
    #[arg(long, default_value = "127.0.0.1:8081", value_parser = parse_bind_address)]
    pub health_probe_bind_address: SocketAddr,
    /// Address of the Prometheus `/metrics` endpoint (plain HTTP); `:PORT` means all
    /// interfaces.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_bind_address)]
    pub metrics_bind_address: SocketAddr,
    /// Run only while holding the leader election Lease (see the `--leader-election-*` flags),
    /// so that several replicas can run with one active.
    #[arg(long)]
    pub leader_elect: bool,
    /// Leader election settings.
    #[command(flatten)]
    pub leader: crate::leader::LeaderFlags,
    /// First retry delay after a failed reconcile, in milliseconds; doubles per failure.
    #[arg(long, default_value_t = 200)]
    pub backoff_base_ms: u64,
    /// Upper bound of the retry delay after failed reconciles, in seconds.
    #[arg(long, default_value_t = 60)]
    pub backoff_max_seconds: u64,
    /// Period after which every object is reconciled again even without a change, in seconds.
    #[arg(long, default_value_t = 300)]
    pub resync_seconds: u64,
    /// Number of reconciles each controller runs at the same time (0 = unbounded).
    #[arg(long, default_value_t = 4)]
    pub concurrency: u16,
}

/// Parses `HOST:PORT`, or Go's `:PORT` (all interfaces).
pub fn parse_bind_address(s: &str) -> Result<SocketAddr, String> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_owned()
    };
    full.parse()
        .map_err(|e| format!("invalid bind address {s:?}: {e}"))
}

/// Installs the `ring` rustls provider and a tracing subscriber (filter from `RUST_LOG`,
/// default `info`; logs go to stderr with structured key=value fields).
pub fn init_process() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// A client for the cluster in `kubeconfig`; without a file the configuration is inferred
/// (`KUBECONFIG`, `~/.kube/config`, or in-cluster).
pub async fn load_client(kubeconfig: Option<&Path>) -> Result<Client> {
    let config = match kubeconfig {
        Some(path) => {
            let wrap = |e: kube::config::KubeconfigError| Error::Kubeconfig {
                path: path.display().to_string(),
                source: Box::new(e),
            };
            let kc = Kubeconfig::read_from(path).map_err(wrap)?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(wrap)?
        }
        None => Config::infer().await.map_err(|e| Error::Kubeconfig {
            path: "<inferred>".into(),
            source: Box::new(e),
        })?,
    };
    Client::try_from(config).map_err(Error::from)
}

/// Liveness and readiness shared by the probe server and the controllers.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
}

impl Health {
    /// Marks the process ready (`/readyz` answers 200 from now on).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Whether the process is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Default)]
struct Counter {
    count: u64,
    seconds: f64,
}

/// Reconcile counters in Prometheus text format.
#[derive(Debug, Default)]
pub struct Metrics {
    reconciles: Mutex<BTreeMap<(&'static str, &'static str), Counter>>,
    leader: AtomicBool,
}

impl Metrics {
    /// Records one reconcile of `controller` with `result` (`success` or `error`).
    pub fn record(&self, controller: &'static str, result: &'static str, took: Duration) {
        if let Ok(mut map) = self.reconciles.lock() {
            let c = map.entry((controller, result)).or_default();
            c.count += 1;
            c.seconds += took.as_secs_f64();
        }
    }

    /// Records whether this process leads (`leader_election_master_status`).
    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::SeqCst);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = format!(
            "# HELP leader_election_master_status Whether this process leads: always 1 without leader election.\n# TYPE leader_election_master_status gauge\nleader_election_master_status {}\n",
            u8::from(self.leader.load(Ordering::SeqCst))
        );
        out.push_str(
            "# HELP controller_reconcile_total Reconciles by controller and result.\n# TYPE controller_reconcile_total counter\n",
        );
        let map = match self.reconciles.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        for ((ctl, res), c) in map.iter() {
            out.push_str(&format!(
                "controller_reconcile_total{{controller=\"{ctl}\",result=\"{res}\"}} {}\n",
                c.count
            ));
        }
        out.push_str("# HELP controller_reconcile_seconds_sum Time spent reconciling.\n# TYPE controller_reconcile_seconds_sum counter\n");
        for ((ctl, res), c) in map.iter() {
            out.push_str(&format!(
                "controller_reconcile_seconds_sum{{controller=\"{ctl}\",result=\"{res}\"}} {}\n",
                c.seconds
            ));
        }
        out
    }
}

/// Answers a plain-HTTP `GET` of a path with a status and a body.
pub type Handler = Arc<dyn Fn(&str) -> (StatusCode, String) + Send + Sync>;

/// Binds `addr` and serves `handler(path)` over plain HTTP/1.1 until the process ends.
async fn serve(addr: SocketAddr, handler: Handler) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (code, body) = handler(req.uri().path());
                    let mut resp = Response::new(Full::new(Bytes::from(body)));
                    *resp.status_mut() = code;
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(local)
}

/// Starts the probe server (`/healthz`, `/readyz`) and the metrics server (`/metrics`);
/// returns their bound addresses.
pub async fn serve_endpoints(
    flags: &RuntimeFlags,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
) -> Result<(SocketAddr, SocketAddr)> {
    serve_endpoints_with(flags, health, metrics, None).await
}

/// [`serve_endpoints`], with `extra` answering every other path of the metrics server (e.g.
/// the netlet's read-only `/dataplane`).
pub async fn serve_endpoints_with(
    flags: &RuntimeFlags,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    extra: Option<Handler>,
) -> Result<(SocketAddr, SocketAddr)> {
    let probes: Handler = Arc::new(move |path| match path {
        "/healthz" | "/livez" => (StatusCode::OK, "ok".into()),
        "/readyz" if health.is_ready() => (StatusCode::OK, "ok".into()),
        "/readyz" => (StatusCode::SERVICE_UNAVAILABLE, "not ready".into()),
        _ => (StatusCode::NOT_FOUND, "not found".into()),
    });
    let probe_addr = serve(flags.health_probe_bind_address, probes).await?;
    let m: Handler = Arc::new(move |path| match path {
        "/metrics" => (StatusCode::OK, metrics.render()),
        other => match &extra {
            Some(h) => h(other),
            None => (StatusCode::NOT_FOUND, "not found".into()),
        },
    });
    let metrics_addr = serve(flags.metrics_bind_address, m).await?;
    tracing::info!(%probe_addr, %metrics_addr, "serving probes and metrics");
    Ok((probe_addr, metrics_addr))
}

/// Per-object exponential backoff with jitter: the n-th consecutive failure of one object is
/// retried after `base * 2^(n-1)` (capped at `max`), scaled by a random factor in [0.5, 1.5).
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// A backoff starting at `base`, never longer than `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure of `key` and returns how long to wait before the retry.
    pub fn failure(&self, key: &str) -> Duration {
        let n = match self.failures.lock() {
            Ok(mut map) => {
                let n = map.entry(key.to_owned()).or_insert(0);
                *n = n.saturating_add(1);
                *n
            }
            Err(_) => 1,
        };
        let exp = self.base.saturating_mul(
            1u32.checked_shl(n.saturating_sub(1).min(20))
                .unwrap_or(u32::MAX),
        );
        exp.min(self.max).mul_f64(0.5 + fastrand::f64())
    }

    /// Forgets the failures of `key` after a successful reconcile.
    pub fn success(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(key);
        }
    }
}

struct LoopCtx<S> {
    state: Arc<S>,
    name: &'static str,
    backoff: Backoff,
    metrics: Arc<Metrics>,
}

/// Runs `controller` until its streams end: each object is reconciled by `reconcile`; a failure
/// is logged and retried with [`Backoff`]; every outcome is counted in `metrics`.
pub fn run_controller<K, S, F, Fut>(
    name: &'static str,
    controller: Controller<K>,
    flags: &RuntimeFlags,
    metrics: Arc<Metrics>,
    state: Arc<S>,
    reconcile: F,
) -> impl Future<Output = ()> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    S: Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action>> + Send + 'static,
{
    let ctx = Arc::new(LoopCtx {
        state,
        name,
        backoff: Backoff::new(
            Duration::from_millis(flags.backoff_base_ms.max(1)),
            Duration::from_secs(flags.backoff_max_seconds.max(1)),
        ),
        metrics,
    });
    let config = kube::runtime::controller::Config::default().concurrency(flags.concurrency);
    let stream = controller
        .with_config(config)
        .run(
            move |obj: Arc<K>, ctx: Arc<LoopCtx<S>>| {
                let fut = reconcile(obj.clone(), ctx.state.clone());
                async move {
                    let key = ObjectRef::from_obj(obj.as_ref()).to_string();
                    let start = Instant::now();
                    let res = fut.await;
                    let took = start.elapsed();
                    match &res {
                        Ok(_) => {
                            ctx.backoff.success(&key);
                            ctx.metrics.record(ctx.name, "success", took);
                            tracing::debug!(controller = ctx.name, object = %key, ?took, "reconciled");
                        }
                        Err(_) => ctx.metrics.record(ctx.name, "error", took),
                    }
                    res
                }
            },
            |obj: Arc<K>, err: &Error, ctx: Arc<LoopCtx<S>>| {
                let key = ObjectRef::from_obj(obj.as_ref()).to_string();
                let delay = ctx.backoff.failure(&key);
                if matches!(err, Error::Kube(e) if crate::error::is_conflict(e)) {
                    // An optimistic-lock loss: someone wrote first; retry on fresh state.
                    tracing::debug!(controller = ctx.name, object = %key, retry_in = ?delay, "write conflict, retrying");
                } else {
                    tracing::warn!(controller = ctx.name, object = %key, error = %err, retry_in = ?delay, "reconcile failed");
                }
                Action::requeue(delay)
            },
            ctx,
        )
        .for_each(move |res| async move {
            if let Err(e) = res {
                tracing::debug!(controller = name, error = %e, "controller event");
            }
        });
    async move {
        stream.await;
        tracing::info!(controller = name, "controller stopped");
    }
}

/// The controllers and background loops one binary runs: each controller enabled by
/// `--controllers`, driven by [`run_controller`]; [`ControllerSet::run`] keeps them going until
/// shutdown or lost leadership, stops them, and only then hands the Lease back.
pub struct ControllerSet<'a> {
    enabled: &'a [String],
    flags: &'a RuntimeFlags,
    metrics: Arc<Metrics>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl<'a> ControllerSet<'a> {
    /// An empty set for the `--controllers` list `enabled`.
    pub fn new(enabled: &'a [String], flags: &'a RuntimeFlags, metrics: Arc<Metrics>) -> Self {
        ControllerSet {
            enabled,
            flags,
            metrics,
            tasks: Vec::new(),
        }
    }

    /// Whether controller `name` is enabled.
    pub fn is_enabled(&self, name: &str) -> bool {
        enabled(self.enabled, name)
    }

    /// Starts controller `name` (built by `make` only when enabled), reconciling with
    /// `reconcile` on `state`.
    pub fn add<K, S, F, Fut>(
        &mut self,
        name: &'static str,
        make: impl FnOnce() -> Controller<K>,
        state: Arc<S>,
        reconcile: F,
    ) where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        S: Send + Sync + 'static,
        F: Fn(Arc<K>, Arc<S>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action>> + Send + 'static,
    {
        if self.is_enabled(name) {
            self.start(name, make(), state, reconcile);
        }
    }

    /// Starts controller `name` whatever `--controllers` says (a companion of an enabled one).
    pub fn start<K, S, F, Fut>(
        &mut self,
        name: &'static str,
        controller: Controller<K>,
        state: Arc<S>,
        reconcile: F,
    ) where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        S: Send + Sync + 'static,
        F: Fn(Arc<K>, Arc<S>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action>> + Send + 'static,
    {
        let run = run_controller(
            name,
            controller,
            self.flags,
            self.metrics.clone(),
            state,
            reconcile,
        );
        self.tasks.push(tokio::spawn(run));
    }

    /// Starts a background loop (e.g. an orphan sweep) that runs as long as the controllers.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(tokio::spawn(task));
    }

    /// Runs until `shutdown` or lost leadership; then stops every task and releases the Lease
    /// (so two leaders never overlap). Lost leadership is an error: the process must exit.
    pub async fn run(
        self,
        shutdown: &Shutdown,
        mut leadership: Option<crate::leader::Leadership>,
    ) -> Result<()> {
        let running: Vec<_> = self.tasks.iter().map(|t| t.abort_handle()).collect();
        let outcome = tokio::select! {
            () = shutdown.requested() => Ok(()),
            _ = futures::future::join_all(self.tasks) => {
                tracing::warn!("all controllers stopped");
                Ok(())
            }
            () = leadership_lost(&mut leadership) => Err(Error::LeadershipLost),
        };
        running.iter().for_each(tokio::task::AbortHandle::abort);
        if let Some(l) = leadership {
            l.release().await?;
        }
        outcome
    }
}

/// Paths of the kubeconfigs a binary was given, for logging.
pub fn describe(path: Option<&PathBuf>) -> String {
    path.map(|p| p.display().to_string())
        .unwrap_or_else(|| "<inferred>".into())
}

/// Waits until `check` succeeds (retrying with [`Backoff`]), then marks `health` ready.
pub async fn wait_until_reachable<F, Fut>(what: &str, health: &Health, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    loop {
        match check().await {
            Ok(()) => break,
            Err(e) => {
                let delay = backoff.failure(what);
                tracing::warn!(%what, error = %e, retry_in = ?delay, "API not reachable yet");
                tokio::time::sleep(delay).await;
            }
        }
    }
    health.set_ready();
    tracing::info!(%what, "ready");
}

/// With `--leader-elect`: waits until this process leads (Lease `--leader-election-id`, else
/// `default_id`, in the cluster of `--leader-election-kubeconfig`, else of `main`). Without it:
/// `None` at once.
pub async fn lead(
    flags: &RuntimeFlags,
    default_id: &str,
    main: &Client,
    metrics: &Metrics,
) -> Result<Option<crate::leader::Leadership>> {
    if !flags.leader_elect {
        metrics.set_leader(true);
        return Ok(None);
    }
    let client = match &flags.leader.leader_election_kubeconfig {
        Some(path) => load_client(Some(path)).await?,
        None => main.clone(),
    };
    let name = flags
        .leader
        .leader_election_id
        .clone()
        .unwrap_or_else(|| default_id.to_owned());
    let namespace = flags.leader.namespace();
    let identity = crate::leader::identity();
    tracing::info!(lease = %format!("{namespace}/{name}"), %identity, "waiting for leadership");
    let candidate =
        crate::leader::Candidate::new(client, &namespace, &name, &identity, flags.leader.timing());
    let leadership = candidate.acquire().await;
    metrics.set_leader(true);
    Ok(Some(leadership))
}

/// Resolves when `leadership` is lost; never without leader election.
pub async fn leadership_lost(leadership: &mut Option<crate::leader::Leadership>) {
    match leadership {
        Some(l) => l.lost().await,
        None => futures::future::pending().await,
    }
}

/// Waits for the next delivery of `signal`; forever when it could not be installed.
#[cfg(unix)]
async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => futures::future::pending::<()>().await,
    }
}

/// SIGINT and SIGTERM, caught from the moment [`Shutdown::install`] runs, so that a signal
/// during start-up ends the process gracefully like one at any later time.
#[derive(Clone, Debug)]
pub struct Shutdown {
    requested: tokio::sync::watch::Receiver<bool>,
}

impl Shutdown {
    /// Installs the signal handlers (call first thing in `main`, inside the runtime).
    pub fn install() -> Self {
        let (tx, requested) = tokio::sync::watch::channel(false);
        #[cfg(unix)]
        let mut signals = [
            tokio::signal::unix::SignalKind::terminate(),
            tokio::signal::unix::SignalKind::interrupt(),
        ]
        .map(|kind| tokio::signal::unix::signal(kind).ok());
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                let [term, int] = &mut signals;
                tokio::select! {
                    () = recv(term) => {},
                    () = recv(int) => {},
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
            tracing::info!("shutting down");
            let _ = tx.send(true);
        });
        Shutdown { requested }
    }

    /// Resolves once a shutdown signal arrived.
    pub async fn requested(&self) {
        let mut rx = self.requested.clone();
        let _ = rx.wait_for(|r| *r).await;
    }

    /// `fut`'s output, or `None` when a shutdown signal arrives first.
    pub async fn unless<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            v = fut => Some(v),
            () = self.requested() => None,
        }
    }
}

/// Runs `sweep` now and then every `period`, logging what it changed (`what`) and failures.
pub async fn every<F, Fut>(period: Duration, what: &'static str, mut sweep: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize>>,
{
    loop {
        match sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(changed = n, %what, "sweep changed objects"),
            Err(e) => tracing::warn!(error = %e, %what, "sweep failed"),
        }
        tokio::time::sleep(period).await;
    }
}

/// Whether controller `name` is enabled by a `--controllers` list (`*` enables all,
/// `-name` disables one).
pub fn enabled(list: &[String], name: &str) -> bool {
    if list.iter().any(|c| c == &format!("-{name}")) {
        return false;
    }
    list.iter().any(|c| c == "*" || c == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped_and_reset() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let first = b.failure("a");
        assert!(first >= Duration::from_millis(50) && first < Duration::from_millis(150));
        let second = b.failure("a");
        assert!(second >= Duration::from_millis(100) && second < Duration::from_millis(300));
        for _ in 0..40 {
            assert!(b.failure("a") < Duration::from_millis(1500));
        }
        let other = b.failure("b");
        assert!(other < Duration::from_millis(150), "per object");
        b.success("a");
        assert!(
            b.failure("a") < Duration::from_millis(150),
            "reset after success"
        );
    }

    #[test]
    fn controllers_switch() {
        let all = vec!["*".to_owned()];
        assert!(enabled(&all, "network"));
        let some = vec!["*".to_owned(), "-network".to_owned()];
        assert!(!enabled(&some, "network"));
        assert!(enabled(&some, "virtualip"));
        assert!(!enabled(&["virtualip".to_owned()], "network"));
    }

    #[test]
    fn bind_addresses() {
        assert_eq!(
            parse_bind_address(":8080").unwrap(),
            "0.0.0.0:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_bind_address("127.0.0.1:1").unwrap(),
            "127.0.0.1:1".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_bind_address("nope").is_err());
    }

    #[test]
    fn metrics_render_counts() {
        let m = Metrics::default();
        m.record("network", "success", Duration::from_millis(10));
        m.record("network", "success", Duration::from_millis(10));
        let text = m.render();
        assert!(
            text.contains(
                "controller_reconcile_total{controller=\"network\",result=\"success\"} 2"
            )
        );
    }
}
