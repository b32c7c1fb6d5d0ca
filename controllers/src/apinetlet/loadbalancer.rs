//! LoadBalancer (+ its LoadBalancerRouting) → apinet LoadBalancer + LoadBalancerRouting
//! (apinet-upstream.md §5.6).
//!
//! The apinet LoadBalancer, named by the IronCore UID, has `type`, `networkRef` = the IronCore
//! Network's UID, `ports`, and `ips`: for `Public` one `{name: "ipv4"/"ipv6", ipFamily}` per
//! `spec.ipFamilies` entry (the apinet server allocates the address); for `Internal` one
//! `{name: "ip-<i>", ipFamily, ip}` per literal `spec.ips[i].value` (ephemeral sources need the
//! ipam group, which this system does not serve: they are skipped and logged). Its selector and
//! template labels are the origin labels, template annotations the origin annotations, and the
//! template's instance anti-affinity spreads instances over zones. With
//! `--is-node-affinity-aware` the template also gets one node affinity term per destination node
//! (destinations without a target are skipped, apinet-upstream.md §8 quirk 10).
//!
//! The apinet LoadBalancerRouting, named by the same UID and controlled by the apinet
//! LoadBalancer, lists the IronCore routing's destinations; a destination's `providerID`, parsed
//! as a NetworkInterface provider ID `ironcore-net://<ns>/<name>/<node>/<uid>`, becomes its
//! target `{uid, name, nodeRef}`. Back: `status.ips` = the apinet LoadBalancer's addresses.
//! Both apinet objects are applied only when they differ from what is stored. The apinet
//! `type` and `networkRef` are immutable while the IronCore `type` is not: on a change the
//! apinet objects are deleted and made again.
//!
//! No garbage collector runs, so deletion (finalizer `apinet.ironcore.dev/loadbalancer`)
//! deletes the apinet routing and the apinet LoadBalancer (whose public IPs the apinet server
//! releases) and lifts the finalizer once both are gone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ironcore_api::common::IP;
use ironcore_api::networking::{LoadBalancer, Network};
use ironcore_api::{apinet, networking};
use kube::api::Patch;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};

use super::networkinterface::parse_provider_id;
use super::{
    LOAD_BALANCER_ORIGIN, State, apply, ensure_gone, field_manager, lifecycle, network_uid,
};
use crate::error::{Error, Result};

/// The finalizer on IronCore LoadBalancers.
pub const FINALIZER: &str = "apinet.ironcore.dev/loadbalancer";
/// The node label instances of one load balancer are spread over.
pub const ZONE_LABEL: &str = "topology.core.apinet.ironcore.dev/zone";
/// `spec.type` of a public load balancer.
pub const TYPE_PUBLIC: &str = "Public";
/// `spec.type` of an internal load balancer.
pub const TYPE_INTERNAL: &str = "Internal";
/// How soon to look again while waiting for the apinet side.
const WAIT: Duration = Duration::from_secs(2);

/// What the LoadBalancer controller needs: the shared apinetlet state and its own mode.
pub struct Ctx {
    /// The apinetlet state.
    pub state: State,
    /// Whether to pin load balancer instances to the nodes of their destinations
    /// (`--is-node-affinity-aware`).
    pub node_affinity_aware: bool,
}

/// The controller: IronCore LoadBalancers, their routings (same key), the apinet
/// LoadBalancers and routings made for them (by origin), and Networks (→ the LoadBalancers
/// referencing them).
pub fn controller(st: &State) -> Controller<LoadBalancer> {
    let wc = watcher::Config::default();
    let ctl = Controller::new(Api::<LoadBalancer>::all(st.ironcore.clone()), wc.clone());
    let lbs = ctl.store();
    ctl.watches(
        Api::<apinet::LoadBalancer>::namespaced(st.apinet.clone(), &st.namespace),
        wc.clone().labels(&LOAD_BALANCER_ORIGIN.uid_label()),
        |o| LOAD_BALANCER_ORIGIN.source::<LoadBalancer, _>(&o),
    )
    .watches(
        Api::<apinet::LoadBalancerRouting>::namespaced(st.apinet.clone(), &st.namespace),
        wc.clone().labels(&LOAD_BALANCER_ORIGIN.uid_label()),
        |o| LOAD_BALANCER_ORIGIN.source::<LoadBalancer, _>(&o),
    )
    .watches(
        Api::<networking::LoadBalancerRouting>::all(st.ironcore.clone()),
        wc.clone(),
        |r| {
            r.namespace()
                .map(|ns| ObjectRef::<LoadBalancer>::new(&r.name_any()).within(&ns))
        },
    )
    .watches(Api::<Network>::all(st.ironcore.clone()), wc, move |net| {
        let ns = net.namespace();
        let name = net.name_any();
        lbs.state()
            .iter()
            .filter(|lb| lb.namespace() == ns && lb.spec.network_ref.name == name)
            .map(|lb| ObjectRef::from_obj(lb.as_ref()))
            .collect::<Vec<_>>()
    })
}

/// The apinet destinations of an IronCore routing: destinations without an IP are skipped; a
/// target is set when the provider ID parses.
pub fn apinet_destinations(
    routing: Option<&networking::LoadBalancerRouting>,
) -> Vec<apinet::LoadBalancerDestination> {
    routing
        .and_then(|r| r.destinations.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let ip = d.ip.clone()?;
            let target_ref =
                parse_provider_id(&d.provider_id).map(|p| apinet::LoadBalancerTargetRef {
                    uid: p.uid,
                    name: p.name,
                    node_ref: apinet::LocalObjectReference { name: p.node },
                });
            Some(apinet::LoadBalancerDestination {
                ip: Some(ip),
                target_ref,
            })
        })
        .collect()
}

/// The `spec.ips` of the apinet LoadBalancer, and the indices of internal IP sources that were
/// skipped (ephemeral or empty).
pub fn desired_ips(lb: &LoadBalancer) -> (Vec<Value>, Vec<usize>) {
    if lb.spec.type_ == TYPE_PUBLIC {
        let ips = lb
            .spec
            .ip_families
            .iter()
            .flatten()
            .map(|f| json!({"name": f.as_str().to_lowercase(), "ipFamily": f}))
            .collect();
        return (ips, Vec::new());
    }
    let mut ips = Vec::new();
    let mut skipped = Vec::new();
    for (i, src) in lb.spec.ips.iter().enumerate() {
        match &src.value {
            Some(ip) => {
                ips.push(json!({"name": format!("ip-{i}"), "ipFamily": ip.family(), "ip": ip}))
            }
            None => skipped.push(i),
        }
    }
    (ips, skipped)
}

/// The apinet LoadBalancer for `lb` (server-side apply body), in apinet namespace `namespace`
/// on the apinet Network `network_uid`.
pub fn desired_load_balancer(
    lb: &LoadBalancer,
    namespace: &str,
    network_uid: &str,
    destinations: &[apinet::LoadBalancerDestination],
    node_affinity_aware: bool,
) -> Value {
    let labels = LOAD_BALANCER_ORIGIN.labels(lb);
    let annotations = LOAD_BALANCER_ORIGIN.annotations(lb);
    let (ips, _) = desired_ips(lb);
    let ports: Vec<Value> = lb
        .spec
        .ports
        .iter()
        .map(|p| {
            let mut port = json!({"port": p.port});
            if let Some(protocol) = &p.protocol {
                port["protocol"] = json!(protocol);
            }
            if let Some(end) = p.end_port {
                port["endPort"] = json!(end);
            }
            port
        })
        .collect();
    let mut affinity = json!({
        "instanceAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": labels},
                "topologyKey": ZONE_LABEL,
            }],
        },
    });
    let nodes: BTreeSet<&str> = destinations
        .iter()
        .filter_map(|d| d.target_ref.as_ref())
        .map(|t| t.node_ref.name.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    if node_affinity_aware && !nodes.is_empty() {
        let terms: Vec<Value> = nodes
            .iter()
            .map(|n| {
                json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": [n]}]})
            })
            .collect();
        affinity["nodeAffinity"] = json!({
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms},
        });
    }
    json!({
        "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
        "kind": "LoadBalancer",
        "metadata": {
            "name": lb.uid().unwrap_or_default(),
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "type": lb.spec.type_,
            "networkRef": {"name": network_uid},
            "ips": ips,
            "ports": ports,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {"affinity": affinity},
            },
        },
    })
}

/// The apinet LoadBalancerRouting for `lb`, controlled by the apinet LoadBalancer `owner`.
pub fn desired_routing(
    lb: &LoadBalancer,
    namespace: &str,
    owner: &apinet::LoadBalancer,
    destinations: &[apinet::LoadBalancerDestination],
) -> Value {
    json!({
        "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
        "kind": "LoadBalancerRouting",
        "metadata": {
            "name": lb.uid().unwrap_or_default(),
            "namespace": namespace,
            "labels": LOAD_BALANCER_ORIGIN.labels(lb),
            "annotations": LOAD_BALANCER_ORIGIN.annotations(lb),
            "ownerReferences": [{
                "apiVersion": apinet::LoadBalancer::api_version(&()),
                "kind": apinet::LoadBalancer::kind(&()),
                "name": owner.name_any(),
                "uid": owner.uid().unwrap_or_default(),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "destinations": destinations,
    })
}

/// Whether every entry of `want` is in `have`.
fn contains_all(want: &BTreeMap<String, String>, have: &BTreeMap<String, String>) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

/// Whether the stored apinet LoadBalancer `current` already is `desired` (origin metadata and
/// spec; addresses the server allocated for entries without one count as matching).
pub fn load_balancer_up_to_date(
    desired: &apinet::LoadBalancer,
    current: &apinet::LoadBalancer,
) -> bool {
    let mut want = desired.spec.clone();
    for ip in &mut want.ips {
        if ip.ip.is_none() {
            ip.ip = current
                .spec
                .ips
                .iter()
                .find(|c| c.name == ip.name && c.ip_family == ip.ip_family)
                .and_then(|c| c.ip.clone());
        }
    }
    contains_all(desired.labels(), current.labels())
        && contains_all(desired.annotations(), current.annotations())
        && want == current.spec
}

/// Whether the stored apinet LoadBalancer `current` must be deleted and made again to become
/// `desired`: its `type` and `networkRef` are immutable (the IronCore `type` is not).
pub fn needs_recreate(desired: &apinet::LoadBalancer, current: &apinet::LoadBalancer) -> bool {
    desired.spec.type_ != current.spec.type_
        || desired.spec.network_ref.name != current.spec.network_ref.name
}

/// Whether the stored apinet routing `current` already is `desired` (origin metadata,
/// destinations, controller owner).
pub fn routing_up_to_date(
    desired: &apinet::LoadBalancerRouting,
    current: &apinet::LoadBalancerRouting,
) -> bool {
    let owner_ok = desired.owner_references().iter().all(|o| {
        current
            .owner_references()
            .iter()
            .any(|c| c.uid == o.uid && c.controller == o.controller)
    });
    contains_all(desired.labels(), current.labels())
        && contains_all(desired.annotations(), current.annotations())
        && owner_ok
        && desired.destinations == current.destinations
}

fn decode<T: serde::de::DeserializeOwned>(body: &Value) -> Result<T> {
    serde_json::from_value(body.clone())
        .map_err(|e| Error::NotReady(format!("desired object: {e}")))
}

/// Realizes one IronCore LoadBalancer, or cleans up after a deleting one.
pub async fn reconcile(lb: Arc<LoadBalancer>, ctx: Arc<Ctx>) -> Result<Action> {
    let st = &ctx.state;
    let ns = lb
        .namespace()
        .ok_or_else(|| Error::NotReady("load balancer without namespace".into()))?;
    let name = lb.name_any();
    let uid = lb
        .uid()
        .ok_or_else(|| Error::NotReady("load balancer without uid".into()))?;
    let api: Api<LoadBalancer> = Api::namespaced(st.ironcore.clone(), &ns);
    let apinet_lbs: Api<apinet::LoadBalancer> = Api::namespaced(st.apinet.clone(), &st.namespace);
    let apinet_routings: Api<apinet::LoadBalancerRouting> =
        Api::namespaced(st.apinet.clone(), &st.namespace);

    // No garbage collector: the routing goes explicitly, with the load balancer.
    let made = || async {
        Ok(ensure_gone(&apinet_routings, &uid).await? & ensure_gone(&apinet_lbs, &uid).await?)
    };
    if let Some(done) = lifecycle(&api, lb.as_ref(), FINALIZER, made).await? {
        return Ok(done);
    }

    let Some(net_uid) = network_uid(st, &ns, &lb.spec.network_ref.name).await? else {
        tracing::info!(load_balancer = %name, namespace = %ns, network = %lb.spec.network_ref.name, "network not found, waiting for it");
        return Ok(Action::requeue(st.resync));
    };
    let (_, skipped) = desired_ips(&lb);
    if !skipped.is_empty() {
        tracing::warn!(load_balancer = %name, namespace = %ns, ?skipped, "ephemeral load balancer IPs need the ipam group, which is not served: skipped");
    }
    let routings: Api<networking::LoadBalancerRouting> = Api::namespaced(st.ironcore.clone(), &ns);
    let routing = routings.get_opt(&name).await?;
    let destinations = apinet_destinations(routing.as_ref());

    let body = desired_load_balancer(
        &lb,
        &st.namespace,
        &net_uid,
        &destinations,
        ctx.node_affinity_aware,
    );
    let desired: apinet::LoadBalancer = decode(&body)?;
    let apinet_lb = match apinet_lbs.get_opt(&uid).await? {
        Some(cur) if needs_recreate(&desired, &cur) => {
            let routing_gone = ensure_gone(&apinet_routings, &uid).await?;
            let lb_gone = ensure_gone(&apinet_lbs, &uid).await?;
            tracing::info!(load_balancer = %name, namespace = %ns, apinet = %uid, routing_gone, lb_gone, "type or network changed: recreating the apinet load balancer");
            return Ok(Action::requeue(WAIT));
        }
        Some(cur) if load_balancer_up_to_date(&desired, &cur) => cur,
        _ => {
            let applied = apply(&apinet_lbs, &uid, &body).await?;
            tracing::info!(load_balancer = %name, namespace = %ns, apinet = %uid, "apinet load balancer applied");
            applied
        }
    };

    let body = desired_routing(&lb, &st.namespace, &apinet_lb, &destinations);
    let desired: apinet::LoadBalancerRouting = decode(&body)?;
    match apinet_routings.get_opt(&uid).await? {
        Some(cur) if routing_up_to_date(&desired, &cur) => {}
        _ => {
            apply(&apinet_routings, &uid, &body).await?;
            tracing::info!(load_balancer = %name, namespace = %ns, apinet = %uid, destinations = destinations.len(), "apinet load balancer routing applied");
        }
    }

    let ips: Vec<IP> = apinet_lb
        .spec
        .ips
        .iter()
        .filter_map(|i| i.ip.clone())
        .collect();
    if lb.status.ips != ips {
        let patch = json!({"status": {"ips": ips}});
        api.patch_status(&name, &field_manager(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(load_balancer = %name, namespace = %ns, ips = ?ips.iter().map(ToString::to_string).collect::<Vec<_>>(), "load balancer IPs written");
    }
    if ips.len() < apinet_lb.spec.ips.len() {
        return Err(Error::NotReady(format!(
            "apinet load balancer {uid} has unallocated IPs"
        )));
    }
    Ok(Action::requeue(st.resync))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(spec: Value) -> LoadBalancer {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "LoadBalancer",
            "metadata": {"name": "lb", "namespace": "default", "uid": "lb-uid"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn routing(dests: Value) -> networking::LoadBalancerRouting {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "LoadBalancerRouting",
            "metadata": {"name": "lb", "namespace": "default"},
            "networkRef": {"name": "net"},
            "destinations": dests,
        }))
        .unwrap()
    }

    fn origin_labels() -> Value {
        json!({
            "apinetlet.ironcore.dev/loadbalancer-uid": "lb-uid",
            "apinetlet.ironcore.dev/loadbalancer-namespace": "default",
        })
    }

    #[test]
    fn public_load_balancer_gets_one_ip_per_family_origin_selector_and_zone_spread() {
        let l = lb(json!({
            "type": "Public", "ipFamilies": ["IPv4", "IPv6"], "networkRef": {"name": "net"},
            "ports": [{"port": 80}, {"protocol": "UDP", "port": 1000, "endPort": 1010}],
        }));
        let body = desired_load_balancer(&l, "apinet-ns", "net-uid", &[], true);
        let labels = origin_labels();
        assert_eq!(
            body["metadata"],
            json!({"name": "lb-uid", "namespace": "apinet-ns", "labels": labels,
                   "annotations": {"apinetlet.ironcore.dev/loadbalancer-name": "lb"}})
        );
        assert_eq!(
            body["spec"],
            json!({
                "type": "Public",
                "networkRef": {"name": "net-uid"},
                "ips": [{"name": "ipv4", "ipFamily": "IPv4"}, {"name": "ipv6", "ipFamily": "IPv6"}],
                "ports": [{"port": 80}, {"protocol": "UDP", "port": 1000, "endPort": 1010}],
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels,
                                 "annotations": {"apinetlet.ironcore.dev/loadbalancer-name": "lb"}},
                    "spec": {"affinity": {"instanceAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [{
                            "labelSelector": {"matchLabels": labels},
                            "topologyKey": "topology.core.apinet.ironcore.dev/zone",
                        }],
                    }}},
                },
            })
        );
        let typed: apinet::LoadBalancer = decode(&body).unwrap();
        assert_eq!(typed.spec.ips.len(), 2);
    }

    #[test]
    fn internal_load_balancer_uses_literal_ips_and_skips_ephemeral_ones() {
        let l = lb(json!({
            "type": "Internal", "ipFamilies": ["IPv4", "IPv6"], "networkRef": {"name": "net"},
            "ips": [{"ephemeral": {"prefixTemplate": {"spec": {"prefixLength": 32}}}},
                    {"value": "10.0.0.1"}, {"value": "fd00::1"}],
        }));
        let (ips, skipped) = desired_ips(&l);
        assert_eq!(
            ips,
            [
                json!({"name": "ip-1", "ipFamily": "IPv4", "ip": "10.0.0.1"}),
                json!({"name": "ip-2", "ipFamily": "IPv6", "ip": "fd00::1"}),
            ]
        );
        assert_eq!(skipped, [0]);
    }

    #[test]
    fn destinations_take_targets_from_nic_provider_ids() {
        let r = routing(json!([
            {"name": "a", "uid": "ua", "ip": "192.168.0.1",
             "providerID": "ironcore-net://ns/first-apinet-nic/first-node/first-uid"},
            {"name": "b", "uid": "ub", "ip": "192.168.0.2", "providerID": "bogus"},
            {"name": "c", "uid": "uc"},
        ]));
        let d = apinet_destinations(Some(&r));
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!([
                {"ip": "192.168.0.1", "targetRef": {"uid": "first-uid", "name": "first-apinet-nic",
                                                    "nodeRef": {"name": "first-node"}}},
                {"ip": "192.168.0.2"},
            ])
        );
        assert!(apinet_destinations(None).is_empty());
    }

    #[test]
    fn node_affinity_lists_each_destination_node_once_sorted_when_aware() {
        let l =
            lb(json!({"type": "Public", "ipFamilies": ["IPv4"], "networkRef": {"name": "net"}}));
        let r = routing(json!([
            {"name": "a", "uid": "ua", "ip": "192.168.0.1", "providerID": "ironcore-net://ns/n1/second-node/u1"},
            {"name": "b", "uid": "ub", "ip": "192.168.0.2", "providerID": "ironcore-net://ns/n2/first-node/u2"},
            {"name": "c", "uid": "uc", "ip": "192.168.0.3", "providerID": "ironcore-net://ns/n3/first-node/u3"},
            {"name": "d", "uid": "ud", "ip": "192.168.0.4"},
        ]));
        let dests = apinet_destinations(Some(&r));
        let body = desired_load_balancer(&l, "apinet-ns", "net-uid", &dests, true);
        let term = |n: &str| json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": [n]}]});
        assert_eq!(
            body["spec"]["template"]["spec"]["affinity"]["nodeAffinity"],
            json!({"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [term("first-node"), term("second-node")]}})
        );
        let typed: apinet::LoadBalancer = decode(&body).unwrap();
        assert!(
            typed
                .spec
                .template
                .spec
                .affinity
                .and_then(|a| a.node_affinity)
                .is_some()
        );
        let unaware = desired_load_balancer(&l, "apinet-ns", "net-uid", &dests, false);
        assert!(
            unaware["spec"]["template"]["spec"]["affinity"]
                .get("nodeAffinity")
                .is_none()
        );
    }

    #[test]
    fn up_to_date_ignores_allocated_addresses_but_not_spec_changes() {
        let l = lb(
            json!({"type": "Public", "ipFamilies": ["IPv4"], "networkRef": {"name": "net"},
                          "ports": [{"port": 80}]}),
        );
        let desired: apinet::LoadBalancer =
            decode(&desired_load_balancer(&l, "ns", "net-uid", &[], false)).unwrap();
        let mut current = desired.clone();
        current.spec.ips[0].ip = Some("10.0.0.7".parse().unwrap());
        current
            .metadata
            .labels
            .get_or_insert_default()
            .insert("extra".into(), "x".into());
        assert!(load_balancer_up_to_date(&desired, &current));
        let mut changed = current.clone();
        changed.spec.ports.clear();
        assert!(!load_balancer_up_to_date(&desired, &changed));
        let mut relabelled = current.clone();
        relabelled.metadata.labels = None;
        assert!(!load_balancer_up_to_date(&desired, &relabelled));
    }

    #[test]
    fn a_type_change_recreates_the_apinet_load_balancer() {
        let public =
            lb(json!({"type": "Public", "ipFamilies": ["IPv4"], "networkRef": {"name": "net"}}));
        let internal = lb(
            json!({"type": "Internal", "ipFamilies": ["IPv4"], "networkRef": {"name": "net"},
                                 "ips": [{"value": "10.1.0.9"}]}),
        );
        let a: apinet::LoadBalancer =
            decode(&desired_load_balancer(&public, "ns", "net-uid", &[], false)).unwrap();
        let b: apinet::LoadBalancer = decode(&desired_load_balancer(
            &internal,
            "ns",
            "net-uid",
            &[],
            false,
        ))
        .unwrap();
        assert!(!needs_recreate(&a, &a));
        assert!(needs_recreate(&b, &a));
        let c: apinet::LoadBalancer = decode(&desired_load_balancer(
            &public,
            "ns",
            "other-uid",
            &[],
            false,
        ))
        .unwrap();
        assert!(needs_recreate(&c, &a));
    }

    #[test]
    fn routing_is_owned_by_the_apinet_load_balancer() {
        let l =
            lb(json!({"type": "Public", "ipFamilies": ["IPv4"], "networkRef": {"name": "net"}}));
        let owner: apinet::LoadBalancer = serde_json::from_value(json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1", "kind": "LoadBalancer",
            "metadata": {"name": "lb-uid", "namespace": "ns", "uid": "apinet-uid"},
        }))
        .unwrap();
        let dests = apinet_destinations(Some(&routing(
            json!([{"name": "a", "uid": "u", "ip": "10.1.0.1"}]),
        )));
        let body = desired_routing(&l, "ns", &owner, &dests);
        assert_eq!(
            body["metadata"]["ownerReferences"],
            json!([{"apiVersion": "core.apinet.ironcore.dev/v1alpha1", "kind": "LoadBalancer",
                    "name": "lb-uid", "uid": "apinet-uid", "controller": true,
                    "blockOwnerDeletion": true}])
        );
        assert_eq!(body["destinations"], json!([{"ip": "10.1.0.1"}]));
        let desired: apinet::LoadBalancerRouting = decode(&body).unwrap();
        assert!(routing_up_to_date(&desired, &desired));
        let mut stale = desired.clone();
        stale.destinations.clear();
        assert!(!routing_up_to_date(&desired, &stale));
    }
}
