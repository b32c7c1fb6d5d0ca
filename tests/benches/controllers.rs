//! Controller benchmark: 500 NetworkInterfaces created at once in one Network, each placed on
//! a netlet node, programmed, and `Available` with its IP. The baseline, measured in the same
//! run, is creating 500 NetworkInterfaces the controllers skip (annotated as managed by someone
//! else) through the same API: the time the writes alone take.
//!
//! Run: `cargo build --release --bins && cargo bench -p ironcore-e2e --bench controllers`.
//! Every process is a release binary on fresh embedded stores. `BENCH_NICS` (default 500) sets
//! the count, `BENCH_NODES` (default 2) the number of netlets. Prints a Markdown table.

#[path = "../tests/controllers_support/mod.rs"]
mod controllers_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use controllers_support::{Options, Stack};
use ironcore_api::networking::NetworkInterface;
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::json;

const TASKS: usize = 16;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn nic(name: &str, network: &str, i: usize) -> NetworkInterface {
    let annotations = if name.starts_with("base") {
        json!({"common.ironcore.dev/managed-by": "benchmark"})
    } else {
        json!({})
    };
    serde_json::from_value(json!({
        "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "NetworkInterface",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "networkRef": {"name": network},
            "ipFamilies": ["IPv4"],
            "ips": [{"value": format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256)}],
        },
    }))
    .expect("NetworkInterface")
}

/// Creates `n` NICs named `<prefix>-<i>` in `network` from `TASKS` tasks; returns the time.
async fn create_all(
    api: &Api<NetworkInterface>,
    prefix: &str,
    network: &str,
    n: usize,
) -> Duration {
    let start = Instant::now();
    let api = Arc::new(api.clone());
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let (api, prefix, network) = (api.clone(), prefix.to_owned(), network.to_owned());
        handles.push(tokio::spawn(async move {
            let mut i = t;
            while i < n {
                let obj = nic(&format!("{prefix}-{i}"), &network, i);
                api.create(&PostParams::default(), &obj)
                    .await
                    .expect("create NIC");
                i += TASKS;
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    start.elapsed()
}

async fn available(api: &Api<NetworkInterface>, prefix: &str) -> usize {
    api.list(&ListParams::default())
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|n| {
                    n.metadata
                        .name
                        .as_deref()
                        .unwrap_or_default()
                        .starts_with(prefix)
                        && n.status.state == "Available"
                        && !n.status.ips.is_empty()
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n = env("BENCH_NICS", 500);
    let nodes = env("BENCH_NODES", 2);
    let stack = Stack::start_with(Options {
        nodes: (0..nodes).map(|i| format!("node-{i}")).collect(),
        apinet_manager: true,
        ..Default::default()
    });
    stack.ironcore.apply(
        "apiVersion: networking.ironcore.dev/v1alpha1\nkind: Network\nmetadata:\n  name: bench\n---\napiVersion: networking.ironcore.dev/v1alpha1\nkind: Network\nmetadata:\n  name: baseline\n",
    );
    let client = stack.ironcore.client().await;
    let api: Api<NetworkInterface> = Api::namespaced(client, "default");

    // Baseline: the same writes, of NetworkInterfaces the controllers skip.
    let baseline = create_all(&api, "base", "baseline", n).await;
    let deadline = Instant::now() + Duration::from_secs(600);

    let start = Instant::now();
    let created = create_all(&api, "nic", "bench", n).await;
    let mut first_half = None;
    loop {
        let ready = available(&api, "nic-").await;
        if first_half.is_none() && ready >= n / 2 {
            first_half = Some(start.elapsed());
        }
        if ready == n {
            break;
        }
        assert!(Instant::now() < deadline, "only {ready}/{n} Available");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = start.elapsed();
    println!(
        "| NICs | netlets | API create only (s) | create (s) | half Available (s) | all Available (s) | all Available / API create |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {n} | {nodes} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1}× |",
        baseline.as_secs_f64(),
        created.as_secs_f64(),
        first_half.unwrap_or(total).as_secs_f64(),
        total.as_secs_f64(),
        total.as_secs_f64() / baseline.as_secs_f64()
    );
}
