//! `networkpeering` + `networkrelease`: writes `spec.incomingPeerings` (networking-upstream.md
//! §8.2–§8.3).
//!
//! For every non-deleting Network N, the claims are recomputed from scratch: for each
//! `spec.peerings[]` item, the target T qualifies when it exists, is not being deleted, is
//! `Available`, and has a peering whose `networkRef` points back at N. The qualifying targets,
//! as `{namespace, name, uid}`, replace `spec.incomingPeerings`; so a claim is released as soon
//! as its target no longer qualifies (gone, deleting, unpeered, not Available).

use std::sync::Arc;

use ironcore_api::networking::{Network, NetworkPeeringClaimRef};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{State, ns_or, related_networks};
use crate::error::{Error, Result};
use crate::finalizer;

/// The field manager of its writes.
pub const FIELD_MANAGER: &str = "networkpeering.networking.ironcore.dev";
/// The Network state that lets a peer claim a Network.
pub const STATE_AVAILABLE: &str = "Available";

/// The controller: Networks; a change of one Network re-checks the Networks it names.
pub fn controller(client: &kube::Client) -> Controller<Network> {
    let wc = watcher::Config::default();
    Controller::new(Api::<Network>::all(client.clone()), wc.clone()).watches(
        Api::<Network>::all(client.clone()),
        wc,
        |n| related_networks(&n),
    )
}

/// Recomputes and writes `spec.incomingPeerings` of one Network.
pub async fn reconcile(net: Arc<Network>, state: Arc<State>) -> Result<Action> {
    if finalizer::is_deleting(net.as_ref()) {
        return Ok(Action::await_change());
    }
    let ns = net
        .namespace()
        .ok_or_else(|| Error::NotReady("network without namespace".into()))?;
    let name = net.name_any();
    let mut desired: Vec<NetworkPeeringClaimRef> = Vec::new();
    for p in &net.spec.peerings {
        let t_ns = ns_or(&p.network_ref.namespace, &ns);
        let t_name = &p.network_ref.name;
        if t_name.is_empty() {
            continue;
        }
        let api: Api<Network> = Api::namespaced(state.client.clone(), t_ns);
        let Some(target) = api.get_opt(t_name).await? else {
            continue;
        };
        if finalizer::is_deleting(&target) || target.status.state != STATE_AVAILABLE {
            continue;
        }
        let peers_back =
            target.spec.peerings.iter().any(|tp| {
                tp.network_ref.name == name && ns_or(&tp.network_ref.namespace, t_ns) == ns
            });
        let uid = target.uid().unwrap_or_default();
        if !peers_back || desired.iter().any(|c| c.uid == uid) {
            continue;
        }
        desired.push(NetworkPeeringClaimRef {
            namespace: t_ns.to_owned(),
            name: t_name.clone(),
            uid,
        });
    }
    if desired != net.spec.incoming_peerings {
        let value = if desired.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(&desired).map_err(|e| Error::NotReady(e.to_string()))?
        };
        let patch = json!({
            "metadata": { "resourceVersion": net.resource_version() },
            "spec": { "incomingPeerings": value },
        });
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..Default::default()
        };
        Api::<Network>::namespaced(state.client.clone(), &ns)
            .patch(&name, &pp, &Patch::Merge(&patch))
            .await?;
        tracing::info!(network = %name, namespace = %ns, claims = ?desired.iter().map(|c| &c.name).collect::<Vec<_>>(), "incoming peerings updated");
    }
    Ok(Action::requeue(state.resync))
}
