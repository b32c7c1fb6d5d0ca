//! `netlet`: the node agent. Registers its apinet Node, programs the recording dataplane with
//! the apinet objects of its node and reports readiness back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use hyper::StatusCode;
use ironcore_api::apinet;
use ironcore_controllers::netlet::dataplane::RecordingDataplane;
use ironcore_controllers::netlet::register_node;
use ironcore_controllers::netlet::sync::{Agent, Stores};
use ironcore_controllers::runtime::{self, Handler, Health, Metrics, RuntimeFlags};
use kube::Api;
use kube::api::ListParams;
use tokio::sync::Notify;

/// Node agent: programs this node's dataplane from the apinet API and reports readiness.
#[derive(Debug, Parser)]
#[command(name = "netlet", version, about, long_about = None)]
struct Cli {
    /// Kubeconfig of the apinet API (core.apinet.ironcore.dev). Unset: KUBECONFIG,
    /// ~/.kube/config or the in-cluster service account.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Name of this node's apinet Node (a DNS subdomain); also its partition in status reports.
    #[arg(long)]
    node_name: String,
    /// Extra Node label `key=value` (repeatable), e.g.
    /// `topology.core.apinet.ironcore.dev/zone=zone-a`.
    #[arg(long = "node-label", value_parser = parse_label)]
    node_labels: Vec<(String, String)>,
    #[command(flatten)]
    runtime: RuntimeFlags,
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("node label {s:?} is not key=value"))?;
    if k.is_empty() {
        return Err(format!("node label {s:?} has an empty key"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_process();
    let shutdown = runtime::Shutdown::install();
    let cli = Cli::parse();
    anyhow::ensure!(
        !cli.runtime.leader_elect,
        "--leader-elect does not apply to the netlet: run exactly one per node"
    );
    anyhow::ensure!(!cli.node_name.is_empty(), "--node-name must not be empty");
    let client = runtime::load_client(cli.kubeconfig.as_deref())
        .await
        .context("apinet API client")?;
    tracing::info!(kubeconfig = %runtime::describe(cli.kubeconfig.as_ref()), node = %cli.node_name, "starting netlet");

    let dataplane = Arc::new(RecordingDataplane::new(&cli.node_name));
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::default());
    let dp = dataplane.clone();
    let extra: Handler = Arc::new(move |path| match path {
        "/dataplane" => (StatusCode::OK, dp.to_json()),
        _ => (StatusCode::NOT_FOUND, "not found".into()),
    });
    runtime::serve_endpoints_with(&cli.runtime, health.clone(), metrics.clone(), Some(extra))
        .await?;

    let labels: BTreeMap<String, String> = cli.node_labels.iter().cloned().collect();
    let (probe, node) = (client.clone(), cli.node_name.clone());
    let (reg_client, reg_labels) = (client.clone(), labels.clone());
    // Readiness waits for the reflectors below, not for reachability.
    let registering = Health::default();
    let reachable = runtime::wait_until_reachable("apinet API", &registering, move || {
        let api = Api::<apinet::Network>::all(probe.clone());
        let (c, n, l) = (reg_client.clone(), node.clone(), reg_labels.clone());
        async move {
            api.list(&ListParams::default().limit(1)).await?;
            register_node(&c, &n, &l).await?;
            Ok(())
        }
    });
    if shutdown.unless(reachable).await.is_none() {
        return Ok(());
    }
    tracing::info!(node = %cli.node_name, "node registered");

    let wake = Arc::new(Notify::new());
    let stores = Stores::start(&client, &cli.node_name, wake.clone());
    if shutdown.unless(stores.wait_until_ready()).await.is_none() {
        return Ok(());
    }
    health.set_ready();
    let agent = Agent::new(client, &cli.node_name, dataplane, metrics).await;
    wake.notify_one();
    let resync = Duration::from_secs(cli.runtime.resync_seconds.max(1));
    tokio::select! {
        () = shutdown.requested() => {},
        () = agent.run(stores, wake, resync) => tracing::warn!("netlet loop stopped"),
    }
    Ok(())
}
