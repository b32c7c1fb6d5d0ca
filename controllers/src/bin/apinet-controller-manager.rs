//! `apinet-controller-manager`: the apinet-internal controllers (NAT port allocation and
//! autoscaling, NAT claim release, LoadBalancer DaemonSets, DaemonSet Instances, the Instance
//! scheduler, garbage collection). Talks to the apinet API only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use futures::future::join_all;
use ironcore_api::apinet;
use ironcore_controllers::apinet_manager::{
    State, daemonset, gc, loadbalancer, natgateway, natgatewayautoscaler, natrelease, scheduler,
};
use ironcore_controllers::runtime::{
    self, Health, Metrics, RuntimeFlags, enabled, run_controller, serve_endpoints,
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
    tokio::select! {
        () = reachable => {},
        () = shutdown.requested() => return Ok(()),
    }

    // Upstream's lock name.
    let mut leadership = tokio::select! {
        l = runtime::lead(&cli.runtime, "ff142330.apinet.ironcore.dev", &client, &metrics) => l?,
        () = shutdown.requested() => return Ok(()),
    };
    let state = Arc::new(State::new(
        client.clone(),
        Duration::from_secs(cli.runtime.resync_seconds.max(1)),
    ));
    let (rt, on) = (&cli.runtime, |name: &str| enabled(&cli.controllers, name));
    let mut tasks = Vec::new();
    if on("natgateway") {
        tasks.push(tokio::spawn(run_controller(
            "natgateway",
            natgateway::controller(&client),
            rt,
            metrics.clone(),
            state.clone(),
            natgateway::reconcile,
        )));
        tasks.push(tokio::spawn(run_controller(
            "nattable-owner",
            gc::owned_controller::<apinet::NATTable, apinet::NATGateway>(&client),
            rt,
            metrics.clone(),
            state.clone(),
            gc::reconcile_owned::<apinet::NATTable, apinet::NATGateway>,
        )));
    }
    if on("natgatewayautoscaler") {
        tasks.push(tokio::spawn(run_controller(
            "natgatewayautoscaler",
            natgatewayautoscaler::controller(&client),
            rt,
            metrics.clone(),
            state.clone(),
            natgatewayautoscaler::reconcile,
        )));
    }
    if on("natrelease") {
        tasks.push(tokio::spawn(run_controller(
            "natrelease",
            natrelease::controller(&client),
            rt,
            metrics.clone(),
            state.clone(),
            natrelease::reconcile,
        )));
    }
    if on("loadbalancer") {
        tasks.push(tokio::spawn(run_controller(
            "loadbalancer",
            loadbalancer::controller(&client),
            rt,
            metrics.clone(),
            state.clone(),
            loadbalancer::reconcile,
        )));
        tasks.push(tokio::spawn(run_controller(
            "daemonset-owner",
            gc::owned_controller::<apinet::DaemonSet, apinet::LoadBalancer>(&client),
            rt,
            metrics.clone(),
            state.clone(),
            gc::reconcile_owned::<apinet::DaemonSet, apinet::LoadBalancer>,
        )));
        tasks.push(tokio::spawn(run_controller(
            "loadbalancerrouting-owner",
            gc::owned_controller::<apinet::LoadBalancerRouting, apinet::LoadBalancer>(&client),
            rt,
            metrics.clone(),
            state.clone(),
            gc::reconcile_owned::<apinet::LoadBalancerRouting, apinet::LoadBalancer>,
        )));
    }
    if on("daemonset") {
        tasks.push(tokio::spawn(run_controller(
            "daemonset",
            daemonset::controller(&client),
            rt,
            metrics.clone(),
            state.clone(),
            daemonset::reconcile,
        )));
        tasks.push(tokio::spawn(run_controller(
            "instance-owner",
            gc::owned_controller::<apinet::Instance, apinet::DaemonSet>(&client),
            rt,
            metrics.clone(),
            state.clone(),
            gc::reconcile_owned::<apinet::Instance, apinet::DaemonSet>,
        )));
    }
    if on("scheduler") {
        tasks.push(tokio::spawn(run_controller(
            "scheduler",
            scheduler::controller(&client),
            rt,
            metrics.clone(),
            state.clone(),
            scheduler::reconcile,
        )));
    }
    if on("gc") {
        tasks.push(tokio::spawn(gc::run(
            state.clone(),
            Duration::from_secs(cli.orphan_sweep_seconds.max(1)),
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
