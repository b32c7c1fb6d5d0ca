//! `netlet`, the node agent: registers its apinet `Node`, watches the apinet objects that
//! concern its node, programs a [`dataplane::Dataplane`] and reports readiness back. It is the
//! only component that ever reports readiness (apinet NetworkInterface `Ready`, Network
//! peering states, Instance IPs).
//!
//! How it works ([`sync`]): reflectors keep local copies of the apinet Networks, the
//! NetworkInterfaces and Instances placed on this node, NATTables, LoadBalancers,
//! LoadBalancerRoutings and NetworkPolicyRules. Any change wakes one sync: [`config::desired`]
//! computes the whole node configuration from the copies, the dataplane is converged to it
//! (apply what changed, remove what is no longer wanted), and [`report`] computes each object's
//! status, written only where it differs. Level-triggered: a missed event or a failed write is
//! repaired by the next sync (at the latest after `--resync-seconds`).
//!
//! Each netlet is its own partition: it reports under its node name in an apinet Network's
//! `status.peerings`. It sets no finalizers: the dataplane is converged to the objects that
//! exist, so deleting an object never waits for a node agent.

pub mod config;
pub mod dataplane;
pub mod report;
pub mod sync;

use std::collections::BTreeMap;

use ironcore_api::apinet;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::error::Result;

/// The field manager of every netlet write.
pub const FIELD_MANAGER: &str = "apinet.ironcore.dev/netlet";
/// The Node label naming the node's partition (each netlet is one).
pub const PARTITION_LABEL: &str = "topology.core.apinet.ironcore.dev/partition";
/// The Node label naming the node's zone (load balancer anti-affinity spreads over it).
pub const ZONE_LABEL: &str = "topology.core.apinet.ironcore.dev/zone";

/// Creates or updates this node's apinet `Node` with `labels` (plus the partition label).
pub async fn register_node(
    client: &kube::Client,
    node: &str,
    labels: &BTreeMap<String, String>,
) -> Result<apinet::Node> {
    let mut all = labels.clone();
    all.insert(PARTITION_LABEL.to_owned(), node.to_owned());
    let body = json!({
        "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
        "kind": "Node",
        "metadata": {"name": node, "labels": all},
    });
    let api: Api<apinet::Node> = Api::all(client.clone());
    Ok(api
        .patch(
            node,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await?)
}
