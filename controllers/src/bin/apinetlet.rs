//! `apinetlet`: realizes IronCore networking objects (Networks, VirtualIPs) as apinet objects
//! in one apinet namespace and writes the results back.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ironcore_api::{apinet, networking};
use ironcore_controllers::apinetlet::{
    State, gc, loadbalancer, natgateway, network, networkinterface, networkpolicy, virtualip,
};
use ironcore_controllers::runtime::{
    self, ControllerSet, Health, Metrics, RuntimeFlags, serve_endpoints,
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
    if shutdown.unless(reachable).await.is_none() {
        return Ok(());
    }

    let Some(leadership) = shutdown
        .unless(runtime::lead(
            &cli.runtime,
            "fa89daf5.apinetlet.apinet.ironcore.dev",
            &ironcore,
            &metrics,
        ))
        .await
    else {
        return Ok(());
    };
    let leadership = leadership?;
    let state = State {
        ironcore,
        apinet: apinet_client,
        namespace: cli.apinet_namespace.clone(),
        resync: Duration::from_secs(cli.runtime.resync_seconds.max(1)),
    };
    let shared = Arc::new(state.clone());
    let mut set = ControllerSet::new(&cli.controllers, &cli.runtime, metrics);
    set.spawn(gc::run(
        state.clone(),
        Duration::from_secs(cli.orphan_sweep_seconds.max(1)),
    ));
    set.add(
        "network",
        || network::controller(&state),
        shared.clone(),
        network::reconcile,
    );
    set.add(
        "virtualip",
        || virtualip::controller(&state),
        shared.clone(),
        virtualip::reconcile,
    );
    set.add(
        "networkinterface",
        || networkinterface::controller(&state),
        shared.clone(),
        networkinterface::reconcile,
    );
    set.add(
        "natgateway",
        || natgateway::controller(&state),
        shared.clone(),
        natgateway::reconcile,
    );
    set.add(
        "networkpolicy",
        || networkpolicy::controller(&state),
        shared.clone(),
        networkpolicy::reconcile,
    );
    let lb_ctx = Arc::new(loadbalancer::Ctx {
        state: state.clone(),
        node_affinity_aware: cli.is_node_affinity_aware,
    });
    set.add(
        "loadbalancer",
        || loadbalancer::controller(&state),
        lb_ctx,
        loadbalancer::reconcile,
    );
    set.run(&shutdown, leadership).await?;
    Ok(())
}
