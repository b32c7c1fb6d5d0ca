//! `apinetlet`: realizes IronCore networking objects (Networks, VirtualIPs) as apinet objects
//! in one apinet namespace and writes the results back.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use futures::future::join_all;
use ironcore_api::{apinet, networking};
use ironcore_controllers::apinetlet::{State, gc, network, virtualip};
use ironcore_controllers::runtime::{
    self, Health, Metrics, RuntimeFlags, enabled, run_controller, serve_endpoints,
};
use kube::Api;
use kube::api::ListParams;

/// Realizes IronCore networking objects in the apinet API.
#[derive(Debug, Parser)]
#[command(name = "apinetlet", version, about, long_about = None)]
struct Cli {
    /// Kubeconfig of the IronCore API (networking.ironcore.dev). Unset: KUBECONFIG,
    /// ~/.kube/config or the in-cluster service account.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig of the apinet API (core.apinet.ironcore.dev). Unset: the same cluster as
    /// --kubeconfig.
    #[arg(long)]
    apinet_kubeconfig: Option<PathBuf>,
    /// The apinet namespace every apinet object is created in.
    #[arg(long)]
    apinet_namespace: String,
    /// Period of the sweep that deletes apinet objects whose IronCore origin is gone, in
    /// seconds (it also runs once at start-up).
    #[arg(long, default_value_t = 60)]
    orphan_sweep_seconds: u64,
    /// Controllers to run, comma-separated: `network`, `virtualip`, `networkinterface`,
    /// `natgateway`, `networkpolicy`, `loadbalancer`; `*` runs all, `-name` disables one.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
    /// Pin load balancer instances to the nodes of their destinations (node affinity).
    #[arg(long)]
    is_node_affinity_aware: bool,
    #[command(flatten)]
    runtime: RuntimeFlags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_process();
    let shutdown = runtime::Shutdown::install();
    let cli = Cli::parse();
    anyhow::ensure!(
        !cli.apinet_namespace.is_empty(),
        "--apinet-namespace must not be empty"
    );
    let ironcore = runtime::load_client(cli.kubeconfig.as_deref())
        .await
        .context("IronCore API client")?;
    let apinet_client = match &cli.apinet_kubeconfig {
        Some(path) => runtime::load_client(Some(path))
            .await
            .context("apinet API client")?,
        None => ironcore.clone(),
    };
    tracing::info!(
        kubeconfig = %runtime::describe(cli.kubeconfig.as_ref()),
        apinet_kubeconfig = %runtime::describe(cli.apinet_kubeconfig.as_ref().or(cli.kubeconfig.as_ref())),
        apinet_namespace = %cli.apinet_namespace,
        "starting apinetlet"
    );
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::default());
    serve_endpoints(&cli.runtime, health.clone(), metrics.clone()).await?;

    let (ic, an, ns) = (
        ironcore.clone(),
        apinet_client.clone(),
        cli.apinet_namespace.clone(),
    );
    let reachable = runtime::wait_until_reachable("IronCore and apinet APIs", &health, move || {
        let a = Api::<networking::Network>::all(ic.clone());
        let b = Api::<apinet::Network>::namespaced(an.clone(), &ns);
        async move {
            a.list(&ListParams::default().limit(1)).await?;
            b.list(&ListParams::default().limit(1)).await?;
            Ok(())
        }
    });
    tokio::select! {
        () = reachable => {},
        () = shutdown.requested() => return Ok(()),
    }

    let mut leadership = tokio::select! {
        l = runtime::lead(&cli.runtime, "fa89daf5.apinetlet.apinet.ironcore.dev", &ironcore, &metrics) => l?,
        () = shutdown.requested() => return Ok(()),
    };
    let state = State {
        ironcore,
        apinet: apinet_client,
        namespace: cli.apinet_namespace.clone(),
        resync: Duration::from_secs(cli.runtime.resync_seconds.max(1)),
    };
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(gc::run(
        state.clone(),
        Duration::from_secs(cli.orphan_sweep_seconds.max(1)),
    )));
    let shared = Arc::new(state.clone());
    if enabled(&cli.controllers, "network") {
        tasks.push(tokio::spawn(run_controller(
            "network",
            network::controller(&state),
            &cli.runtime,
            metrics.clone(),
            shared.clone(),
            network::reconcile,
        )));
    }
    if enabled(&cli.controllers, "virtualip") {
        tasks.push(tokio::spawn(run_controller(
            "virtualip",
            virtualip::controller(&state),
            &cli.runtime,
            metrics.clone(),
            shared.clone(),
            virtualip::reconcile,
        )));
    }
    if enabled(&cli.controllers, "networkinterface") {
        use ironcore_controllers::apinetlet::networkinterface;
        tasks.push(tokio::spawn(run_controller(
            "networkinterface",
            networkinterface::controller(&state),
            &cli.runtime,
            metrics.clone(),
            shared.clone(),
            networkinterface::reconcile,
        )));
    }
    if enabled(&cli.controllers, "natgateway") {
        use ironcore_controllers::apinetlet::natgateway;
        tasks.push(tokio::spawn(run_controller(
            "natgateway",
            natgateway::controller(&state),
            &cli.runtime,
            metrics.clone(),
            shared.clone(),
            natgateway::reconcile,
        )));
    }
    if enabled(&cli.controllers, "networkpolicy") {
        use ironcore_controllers::apinetlet::networkpolicy;
        tasks.push(tokio::spawn(run_controller(
            "networkpolicy",
            networkpolicy::controller(&state),
            &cli.runtime,
            metrics.clone(),
            shared.clone(),
            networkpolicy::reconcile,
        )));
    }
    if enabled(&cli.controllers, "loadbalancer") {
        use ironcore_controllers::apinetlet::loadbalancer;
        let ctx = Arc::new(loadbalancer::Ctx {
            state: state.clone(),
            node_affinity_aware: cli.is_node_affinity_aware,
        });
        tasks.push(tokio::spawn(run_controller(
            "loadbalancer",
            loadbalancer::controller(&state),
            &cli.runtime,
            metrics.clone(),
            ctx,
            loadbalancer::reconcile,
        )));
    }
    let running: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    tokio::select! {
        () = shutdown.requested() => {},
        _ = join_all(tasks) => tracing::warn!("all controllers stopped"),
        () = runtime::leadership_lost(&mut leadership) => anyhow::bail!("leadership lost"),
    }
    // Stop reconciling before handing the Lease over, so two leaders never overlap.
    running.iter().for_each(tokio::task::AbortHandle::abort);
    if let Some(l) = leadership {
        l.release().await?;
    }
    Ok(())
}
