//! Network → apinet Network (apinet-upstream.md §5.3).
//!
//! The apinet Network carries `spec.peerings` for every claimed peering (`spec.incomingPeerings`
//! of the IronCore Network matched to its `spec.peerings` item), with the peer's VNI. Once the
//! VNI is allocated, the IronCore Network gets `spec.providerID`
//! `ironcore-net://<apinet namespace>/<apinet name>/<VNI>/<apinet uid>` and `status.state:
//! Available`.
//!
//! `status.peerings` has one entry per `spec.peerings` item, in spec order: `Pending` until the
//! peering is claimed and applied on the apinet side and the node agents report it; then the
//! state the agents report in the apinet Network's `status.peerings` (all partitions `Ready` →
//! `Ready`; any `Error` → `Error`). Readiness only ever comes from that report. Literal peering
//! prefixes are listed once the peering is `Ready`.

use std::sync::Arc;
use std::time::Duration;

use ironcore_api::apinet;
use ironcore_api::networking::{Network, NetworkPeeringStatus, PeeringPrefixStatus};
use kube::api::Patch;
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{
    NETWORK_ORIGIN, PROVIDER_ID_PREFIX, State, apply, ensure_gone, field_manager, lifecycle,
};
use crate::error::{Error, Result};
use crate::manager::ns_or;

/// The finalizer on IronCore Networks.
pub const FINALIZER: &str = "apinet.ironcore.dev/network";
/// `status.state` once realized.
pub const STATE_AVAILABLE: &str = "Available";
/// `status.state` while not realized.
pub const STATE_PENDING: &str = "Pending";
/// How soon to look again while waiting for the apinet side.
const WAIT: Duration = Duration::from_secs(2);

/// The controller: IronCore Networks, and apinet Networks mapped back by origin.
pub fn controller(st: &State) -> Controller<Network> {
    let wc = watcher::Config::default();
    Controller::new(Api::<Network>::all(st.ironcore.clone()), wc.clone()).watches(
        Api::<apinet::Network>::namespaced(st.apinet.clone(), &st.namespace),
        wc.labels(&NETWORK_ORIGIN.uid_label()),
        |n| NETWORK_ORIGIN.source::<Network, _>(&n),
    )
}

/// The provider ID of an apinet Network.
pub fn provider_id(namespace: &str, name: &str, id: &str, uid: &str) -> String {
    format!("{PROVIDER_ID_PREFIX}{namespace}/{name}/{id}/{uid}")
}

/// Realizes one IronCore Network, or cleans up after a deleting one.
pub async fn reconcile(net: Arc<Network>, st: Arc<State>) -> Result<Action> {
    let ns = net
        .namespace()
        .ok_or_else(|| Error::NotReady("network without namespace".into()))?;
    let name = net.name_any();
    let uid = net
        .uid()
        .ok_or_else(|| Error::NotReady("network without uid".into()))?;
    let api: Api<Network> = Api::namespaced(st.ironcore.clone(), &ns);
    let apinet_api: Api<apinet::Network> = Api::namespaced(st.apinet.clone(), &st.namespace);

    let made = || ensure_gone(&apinet_api, &uid);
    if let Some(done) = lifecycle(&api, net.as_ref(), FINALIZER, made).await? {
        return Ok(done);
    }
    realize(&net, &st, &ns, &name, &uid, &api, &apinet_api).await
}

async fn realize(
    net: &Network,
    st: &State,
    ns: &str,
    name: &str,
    uid: &str,
    api: &Api<Network>,
    apinet_api: &Api<apinet::Network>,
) -> Result<Action> {
    // Peerings: every claim whose peer is realized and matches a spec.peerings item.
    let mut peerings = Vec::new();
    let mut waiting = false;
    for claim in &net.spec.incoming_peerings {
        let Some(peer) = apinet_api.get_opt(&claim.uid).await? else {
            waiting = true;
            continue;
        };
        if peer.spec.id.is_empty() {
            waiting = true;
            continue;
        }
        let claim_ns = ns_or(&claim.namespace, ns);
        let Some(p) = net.spec.peerings.iter().find(|p| {
            p.network_ref.name == claim.name && ns_or(&p.network_ref.namespace, ns) == claim_ns
        }) else {
            continue;
        };
        let prefixes: Vec<_> = p
            .prefixes
            .iter()
            .filter_map(|pp| {
                pp.prefix
                    .as_ref()
                    .map(|pfx| json!({"name": pp.name, "prefix": pfx}))
            })
            .collect();
        peerings.push(json!({"name": p.name, "id": peer.spec.id, "prefixes": prefixes}));
    }

    let body = json!({
        "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
        "kind": "Network",
        "metadata": {
            "name": uid,
            "namespace": st.namespace,
            "labels": NETWORK_ORIGIN.labels(net),
            "annotations": NETWORK_ORIGIN.annotations(net),
        },
        "spec": { "peerings": peerings },
    });
    let applied = apply(apinet_api, uid, &body).await;
    let apinet_net = match applied {
        Ok(n) => n,
        Err(e) => {
            if net.status.state != STATE_AVAILABLE && net.status.state != STATE_PENDING {
                let patch = json!({"status": {"state": STATE_PENDING}});
                api.patch_status(name, &field_manager(), &Patch::Merge(&patch))
                    .await?;
            }
            return Err(e);
        }
    };
    let id = apinet_net.spec.id.clone();
    if id.is_empty() {
        return Err(Error::NotReady(format!(
            "apinet network {uid} has no VNI yet"
        )));
    }

    let want_provider_id = provider_id(
        &st.namespace,
        uid,
        &id,
        &apinet_net.uid().unwrap_or_default(),
    );
    if net.spec.provider_id.is_empty() {
        let patch = json!({"spec": {"providerID": want_provider_id}});
        api.patch(name, &field_manager(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(network = %name, namespace = %ns, provider_id = %want_provider_id, "provider ID set");
    } else if net.spec.provider_id != want_provider_id {
        tracing::warn!(network = %name, namespace = %ns, have = %net.spec.provider_id, want = %want_provider_id, "providerID is set once and differs");
    }

    let status_peerings = peering_status(net, &apinet_net);
    if net.status.state != STATE_AVAILABLE || net.status.peerings != status_peerings {
        let value = if status_peerings.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(&status_peerings).map_err(|e| Error::NotReady(e.to_string()))?
        };
        let patch = json!({"status": {"state": STATE_AVAILABLE, "peerings": value}});
        api.patch_status(name, &field_manager(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(network = %name, namespace = %ns, vni = %id, "network status updated");
    }
    Ok(Action::requeue(if waiting { WAIT } else { st.resync }))
}

/// One status entry per `spec.peerings` item (see the module documentation).
pub fn peering_status(net: &Network, apinet_net: &apinet::Network) -> Vec<NetworkPeeringStatus> {
    net.spec
        .peerings
        .iter()
        .map(|p| {
            let state = apinet_net
                .spec
                .peerings
                .iter()
                .find(|ap| ap.name == p.name)
                .map(|ap| reported_state(apinet_net, &ap.id))
                .unwrap_or(apinet::network::NETWORK_PEERING_STATE_PENDING);
            let prefixes = if state == apinet::network::NETWORK_PEERING_STATE_READY {
                p.prefixes
                    .iter()
                    .filter(|pp| pp.prefix.is_some())
                    .map(|pp| PeeringPrefixStatus {
                        name: pp.name.clone(),
                        prefix: pp.prefix,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            NetworkPeeringStatus {
                name: p.name.clone(),
                state: state.to_owned(),
                prefixes,
            }
        })
        .collect()
}

/// The state the node agents report for the peering with VNI `id`, over all partitions.
fn reported_state(apinet_net: &apinet::Network, id: &str) -> &'static str {
    use apinet::network::{
        NETWORK_PEERING_STATE_ERROR as ERROR, NETWORK_PEERING_STATE_PENDING as PENDING,
        NETWORK_PEERING_STATE_READY as READY,
    };
    let reports: Vec<&str> = apinet_net
        .status
        .peerings
        .values()
        .flatten()
        .filter(|s| s.id.to_string() == id)
        .map(|s| s.state.as_str())
        .collect();
    if reports.is_empty() {
        PENDING
    } else if reports.contains(&ERROR) {
        ERROR
    } else if reports.iter().all(|s| *s == READY) {
        READY
    } else {
        PENDING
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures(reports: serde_json::Value, applied: bool) -> (Network, apinet::Network) {
        let net: Network = serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "Network",
            "metadata": {"name": "a", "namespace": "default"},
            "spec": {"peerings": [
                {"name": "p1", "networkRef": {"name": "b"},
                 "prefixes": [{"name": "x", "prefix": "10.0.0.0/24"}]},
                {"name": "p2", "networkRef": {"name": "c"}},
            ]},
        }))
        .unwrap();
        let peerings = if applied {
            json!([{"name": "p1", "id": "300"}])
        } else {
            json!([])
        };
        let a: apinet::Network = serde_json::from_value(json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1", "kind": "Network",
            "metadata": {"name": "uid-a", "namespace": "ns"},
            "spec": {"id": "200", "peerings": peerings},
            "status": {"peerings": reports},
        }))
        .unwrap();
        (net, a)
    }

    fn states(s: &[NetworkPeeringStatus]) -> Vec<(&str, &str, usize)> {
        s.iter()
            .map(|p| (p.name.as_str(), p.state.as_str(), p.prefixes.len()))
            .collect()
    }

    #[test]
    fn pending_until_applied_and_reported() {
        let (net, a) = fixtures(json!({}), false);
        assert_eq!(
            states(&peering_status(&net, &a)),
            [("p1", "Pending", 0), ("p2", "Pending", 0)]
        );
        let (net, a) = fixtures(json!({}), true);
        assert_eq!(states(&peering_status(&net, &a))[0], ("p1", "Pending", 0));
    }

    #[test]
    fn ready_only_when_every_partition_reports_ready() {
        let (net, a) = fixtures(
            json!({"x": [{"id": 300, "state": "Ready"}], "y": [{"id": 300, "state": "Ready"}]}),
            true,
        );
        assert_eq!(
            states(&peering_status(&net, &a)),
            [("p1", "Ready", 1), ("p2", "Pending", 0)]
        );
        let (net, a) = fixtures(
            json!({"x": [{"id": 300, "state": "Ready"}], "y": [{"id": 300, "state": "Pending"}]}),
            true,
        );
        assert_eq!(states(&peering_status(&net, &a))[0], ("p1", "Pending", 0));
        let (net, a) = fixtures(
            json!({"x": [{"id": 300, "state": "Ready"}], "y": [{"id": 300, "state": "Error"}]}),
            true,
        );
        assert_eq!(states(&peering_status(&net, &a))[0], ("p1", "Error", 0));
    }

    #[test]
    fn provider_id_format() {
        assert_eq!(
            provider_id("ns", "name", "42", "uid"),
            "ironcore-net://ns/name/42/uid"
        );
    }
}
