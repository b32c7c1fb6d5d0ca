//! `ironcore-controller-manager`: the IronCore-side networking controllers (network protection
//! finalizer, network peering claims).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use futures::future::join_all;
use ironcore_api::networking::Network;
use ironcore_controllers::manager::{State, peering, protection};
use ironcore_controllers::runtime::{
    self, Health, Metrics, RuntimeFlags, enabled, run_controller, serve_endpoints,
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
    tokio::select! {
        () = reachable => {},
        () = shutdown.requested() => return Ok(()),
    }

    let mut leadership = tokio::select! {
        l = runtime::lead(&cli.runtime, "d0ae00be.ironcore.dev", &client, &metrics) => l?,
        () = shutdown.requested() => return Ok(()),
    };
    let state = Arc::new(State {
        client: client.clone(),
        resync: Duration::from_secs(cli.runtime.resync_seconds.max(1)),
    });
    let mut tasks = Vec::new();
    if enabled(&cli.controllers, "networkprotection") {
        tasks.push(tokio::spawn(run_controller(
            "networkprotection",
            protection::controller(&client),
            &cli.runtime,
            metrics.clone(),
            state.clone(),
            protection::reconcile,
        )));
    }
    if enabled(&cli.controllers, "networkpeering") {
        tasks.push(tokio::spawn(run_controller(
            "networkpeering",
            peering::controller(&client),
            &cli.runtime,
            metrics.clone(),
            state.clone(),
            peering::reconcile,
        )));
    }
    {
        use ironcore_controllers::manager::{ephemeral_virtualip, release};
        if enabled(&cli.controllers, "networkinterfaceephemeralvirtualip") {
            tasks.push(tokio::spawn(run_controller(
                "networkinterfaceephemeralvirtualip",
                ephemeral_virtualip::controller(&client),
                &cli.runtime,
                metrics.clone(),
                state.clone(),
                ephemeral_virtualip::reconcile,
            )));
        }
        if enabled(&cli.controllers, "virtualiprelease") {
            tasks.push(tokio::spawn(run_controller(
                "virtualiprelease",
                release::virtual_ip_controller(&client),
                &cli.runtime,
                metrics.clone(),
                state.clone(),
                release::reconcile_virtual_ip,
            )));
        }
        if enabled(&cli.controllers, "networkinterfacerelease")
            && let Some(ctl) = release::network_interface_controller(&client)
                .await
                .context("networkinterfacerelease discovery")?
        {
            tasks.push(tokio::spawn(run_controller(
                "networkinterfacerelease",
                ctl,
                &cli.runtime,
                metrics.clone(),
                state.clone(),
                release::reconcile_network_interface,
            )));
        }
    }
    if enabled(&cli.controllers, "loadbalancer") {
        use ironcore_controllers::manager::loadbalancer;
        // The routing reconciler deletes routings whose LoadBalancer is gone; its cache also
        // maps NetworkInterface events to LoadBalancers.
        let (lbs, routings) = loadbalancer::controllers(&client);
        tasks.push(tokio::spawn(run_controller(
            "loadbalancer",
            lbs,
            &cli.runtime,
            metrics.clone(),
            state.clone(),
            loadbalancer::reconcile,
        )));
        tasks.push(tokio::spawn(run_controller(
            "loadbalancerrouting",
            routings,
            &cli.runtime,
            metrics.clone(),
            state.clone(),
            loadbalancer::reconcile_routing,
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
