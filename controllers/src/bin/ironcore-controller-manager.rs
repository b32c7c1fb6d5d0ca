//! `ironcore-controller-manager`: the IronCore-side networking controllers (network protection
//! finalizer, network peering claims).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ironcore_api::networking::Network;
use ironcore_controllers::manager::{
    State, ephemeral_virtualip, loadbalancer, peering, protection, release,
};
use ironcore_controllers::runtime::{
    self, ControllerSet, Health, Metrics, RuntimeFlags, serve_endpoints,
};
use kube::Api;
use kube::api::ListParams;

/// Runs the IronCore networking controllers against the IronCore API.
#[derive(Debug, Parser)]
#[command(name = "ironcore-controller-manager", version, about, long_about = None)]
struct Cli {
    /// Kubeconfig of the IronCore API (networking.ironcore.dev). Unset: KUBECONFIG,
    /// ~/.kube/config or the in-cluster service account.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Controllers to run, comma-separated: `networkprotection`, `networkpeering`,
    /// `networkinterfaceephemeralvirtualip`, `virtualiprelease`, `networkinterfacerelease`,
    /// `loadbalancer`; `*` runs all, `-name` disables one.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
    #[command(flatten)]
    runtime: RuntimeFlags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_process();
    let shutdown = runtime::Shutdown::install();
    let cli = Cli::parse();
    let client = runtime::load_client(cli.kubeconfig.as_deref())
        .await
        .context("IronCore API client")?;
    tracing::info!(kubeconfig = %runtime::describe(cli.kubeconfig.as_ref()), "starting ironcore-controller-manager");
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::default());
    serve_endpoints(&cli.runtime, health.clone(), metrics.clone()).await?;

    let probe = client.clone();
    let reachable = runtime::wait_until_reachable("IronCore API", &health, move || {
        let api = Api::<Network>::all(probe.clone());
        async move {
            api.list(&ListParams::default().limit(1)).await?;
            Ok(())
        }
    });
    if shutdown.unless(reachable).await.is_none() {
        return Ok(());
    }

    // Discovery before the election: a failure here must not leave the Lease held.
    // `None` (idle) when the compute group, which holds Machines, is not served.
    let nic_release = if runtime::enabled(&cli.controllers, "networkinterfacerelease") {
        release::network_interface_controller(&client)
            .await
            .context("networkinterfacerelease discovery")?
    } else {
        None
    };
    let Some(leadership) = shutdown
        .unless(runtime::lead(
            &cli.runtime,
            "d0ae00be.ironcore.dev",
            &client,
            &metrics,
        ))
        .await
    else {
        return Ok(());
    };
    let leadership = leadership?;
    let state = Arc::new(State {
        client: client.clone(),
        resync: Duration::from_secs(cli.runtime.resync_seconds.max(1)),
    });
    let mut set = ControllerSet::new(&cli.controllers, &cli.runtime, metrics);
    set.add(
        "networkprotection",
        || protection::controller(&client),
        state.clone(),
        protection::reconcile,
    );
    set.add(
        "networkpeering",
        || peering::controller(&client),
        state.clone(),
        peering::reconcile,
    );
    set.add(
        "networkinterfaceephemeralvirtualip",
        || ephemeral_virtualip::controller(&client),
        state.clone(),
        ephemeral_virtualip::reconcile,
    );
    set.add(
        "virtualiprelease",
        || release::virtual_ip_controller(&client),
        state.clone(),
        release::reconcile_virtual_ip,
    );
    if let Some(ctl) = nic_release {
        set.start(
            "networkinterfacerelease",
            ctl,
            state.clone(),
            release::reconcile_network_interface,
        );
    }
    if set.is_enabled("loadbalancer") {
        // The routing reconciler deletes routings whose LoadBalancer is gone; its cache also
        // maps NetworkInterface events to LoadBalancers.
        let (lbs, routings) = loadbalancer::controllers(&client);
        set.start("loadbalancer", lbs, state.clone(), loadbalancer::reconcile);
        set.start(
            "loadbalancerrouting",
            routings,
            state.clone(),
            loadbalancer::reconcile_routing,
        );
    }
    set.run(&shutdown, leadership).await?;
    Ok(())
}
