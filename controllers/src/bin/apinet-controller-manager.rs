//! `apinet-controller-manager`: the apinet-internal controllers (NAT port allocation and
//! autoscaling, NAT claim release, LoadBalancer DaemonSets, DaemonSet Instances, the Instance
//! scheduler, garbage collection). Talks to the apinet API only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ironcore_api::apinet;
use ironcore_controllers::apinet_manager::{
    State, daemonset, gc, loadbalancer, natgateway, natgatewayautoscaler, natrelease, scheduler,
};
use ironcore_controllers::runtime::{
    self, ControllerSet, Health, Metrics, RuntimeFlags, serve_endpoints,
};
use kube::Api;
use kube::api::ListParams;

/// Runs the apinet-internal controllers against the apinet API.
#[derive(Debug, Parser)]
#[command(name = "apinet-controller-manager", version, about, long_about = None)]
struct Cli {
    /// Kubeconfig of the apinet API (core.apinet.ironcore.dev). Unset: KUBECONFIG,
    /// ~/.kube/config or the in-cluster service account.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Controllers to run, comma-separated: `natgateway`, `natgatewayautoscaler`,
    /// `natrelease`, `loadbalancer`, `daemonset`, `scheduler`, `gc`; `*` runs all, `-name`
    /// disables one.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
    /// Period of the sweep that deletes IPAddresses and NetworkIDs whose claimer is gone, in
    /// seconds (it also runs once at start-up).
    #[arg(long, default_value_t = 60)]
    orphan_sweep_seconds: u64,
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
        .context("apinet API client")?;
    tracing::info!(kubeconfig = %runtime::describe(cli.kubeconfig.as_ref()), "starting apinet-controller-manager");
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::default());
    serve_endpoints(&cli.runtime, health.clone(), metrics.clone()).await?;

    let probe = client.clone();
    let reachable = runtime::wait_until_reachable("apinet API", &health, move || {
        let api = Api::<apinet::Node>::all(probe.clone());
        async move {
            api.list(&ListParams::default().limit(1)).await?;
            Ok(())
        }
    });
    if shutdown.unless(reachable).await.is_none() {
        return Ok(());
    }

    // Upstream's lock name.
    let Some(leadership) = shutdown
        .unless(runtime::lead(
            &cli.runtime,
            "ff142330.apinet.ironcore.dev",
            &client,
            &metrics,
        ))
        .await
    else {
        return Ok(());
    };
    let leadership = leadership?;
    let state = Arc::new(State::new(
        client.clone(),
        Duration::from_secs(cli.runtime.resync_seconds.max(1)),
    ));
    let mut set = ControllerSet::new(&cli.controllers, &cli.runtime, metrics);
    // Each switch also starts the owner checks of what its controller makes (no garbage
    // collector runs).
    if set.is_enabled("natgateway") {
        set.start(
            "natgateway",
            natgateway::controller(&client),
            state.clone(),
            natgateway::reconcile,
        );
        set.start(
            "nattable-owner",
            gc::owned_controller::<apinet::NATTable, apinet::NATGateway>(&client),
            state.clone(),
            gc::reconcile_owned::<apinet::NATTable, apinet::NATGateway>,
        );
    }
    set.add(
        "natgatewayautoscaler",
        || natgatewayautoscaler::controller(&client),
        state.clone(),
        natgatewayautoscaler::reconcile,
    );
    set.add(
        "natrelease",
        || natrelease::controller(&client),
        state.clone(),
        natrelease::reconcile,
    );
    if set.is_enabled("loadbalancer") {
        set.start(
            "loadbalancer",
            loadbalancer::controller(&client),
            state.clone(),
            loadbalancer::reconcile,
        );
        set.start(
            "daemonset-owner",
            gc::owned_controller::<apinet::DaemonSet, apinet::LoadBalancer>(&client),
            state.clone(),
            gc::reconcile_owned::<apinet::DaemonSet, apinet::LoadBalancer>,
        );
        set.start(
            "loadbalancerrouting-owner",
            gc::owned_controller::<apinet::LoadBalancerRouting, apinet::LoadBalancer>(&client),
            state.clone(),
            gc::reconcile_owned::<apinet::LoadBalancerRouting, apinet::LoadBalancer>,
        );
    }
    if set.is_enabled("daemonset") {
        set.start(
            "daemonset",
            daemonset::controller(&client),
            state.clone(),
            daemonset::reconcile,
        );
        set.start(
            "instance-owner",
            gc::owned_controller::<apinet::Instance, apinet::DaemonSet>(&client),
            state.clone(),
            gc::reconcile_owned::<apinet::Instance, apinet::DaemonSet>,
        );
    }
    set.add(
        "scheduler",
        || scheduler::controller(&client),
        state.clone(),
        scheduler::reconcile,
    );
    if set.is_enabled("gc") {
        set.spawn(gc::run(
            state.clone(),
            Duration::from_secs(cli.orphan_sweep_seconds.max(1)),
        ));
    }
    set.run(&shutdown, leadership).await?;
    Ok(())
}
