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
    /// Controllers to run, comma-separated: `networkprotection`, `networkpeering`; `*` runs
    /// all, `-name` disables one.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
    #[command(flatten)]
    runtime: RuntimeFlags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_process();
    let cli = Cli::parse();
    anyhow::ensure!(
        !cli.runtime.leader_elect,
        "--leader-elect is not implemented yet: run a single replica without it"
    );
    let client = runtime::load_client(cli.kubeconfig.as_deref())
        .await
        .context("IronCore API client")?;
    tracing::info!(kubeconfig = %runtime::describe(cli.kubeconfig.as_ref()), "starting ironcore-controller-manager");
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::default());
    serve_endpoints(&cli.runtime, health.clone(), metrics.clone()).await?;

    let probe = client.clone();
    runtime::wait_until_reachable("IronCore API", &health, move || {
        let api = Api::<Network>::all(probe.clone());
        async move {
            api.list(&ListParams::default().limit(1)).await?;
            Ok(())
        }
    })
    .await;

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
    tokio::select! {
        () = runtime::shutdown_signal() => {},
        _ = join_all(tasks) => tracing::warn!("all controllers stopped"),
    }
    Ok(())
}
