//! `loadbalancer`: the LoadBalancerRouting of every LoadBalancer (networking-upstream.md §8.8).
//!
//! For a LoadBalancer with a `spec.networkInterfaceSelector`, the routing named like the
//! LoadBalancer lists one destination `{name, uid, ip, providerID}` per `status.ips` entry of
//! every NetworkInterface in the same namespace and network that matches the selector and is
//! `Available`; `networkRef` is `{name, uid}` of the Network, and the LoadBalancer is its
//! controller owner. It is written by server-side apply (field manager
//! `loadbalancers.networking.ironcore.dev`, forced) only when it differs. Without a selector the
//! routing is managed by someone else and left alone; without the Network nothing is written.
//!
//! No garbage collector runs, so a second reconciler, [`reconcile_routing`], deletes a routing
//! whose controlling LoadBalancer (by UID) no longer exists. This was chosen over a finalizer
//! on LoadBalancers: deleting a LoadBalancer never waits for this manager, a routing orphaned
//! while the manager was down is removed at its next start (every routing is reconciled then),
//! and the deletion is conditioned on the routing's UID and resourceVersion, so it never removes
//! a routing that a re-created LoadBalancer of the same name took over meanwhile.
//!
//! Triggers: LoadBalancers; owned routings; NetworkInterfaces (→ the LoadBalancers of the
//! NetworkInterface's network whose selector matches its labels while it is `Available`, and
//! every LoadBalancer whose routing lists it, which covers relabelled, no longer `Available` and
//! deleted NetworkInterfaces without seeing their old state); Networks (→ the LoadBalancers
//! referencing them).

use std::sync::Arc;

use ironcore_api::networking::{
    LoadBalancer, LoadBalancerDestination, LoadBalancerRouting, LoadBalancerRoutingNetworkRef,
    Network, NetworkInterface, networkinterface::NETWORK_INTERFACE_STATE_AVAILABLE,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::core::Selector;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, watcher};
use kube::{Api, Resource, ResourceExt};

use super::State;
use crate::error::{Error, Result, is_not_found};
use crate::finalizer;

/// The field manager of the routings this controller writes.
pub const FIELD_MANAGER: &str = "loadbalancers.networking.ironcore.dev";

/// The two controllers: LoadBalancers (writing their routings) and LoadBalancerRoutings
/// (deleting those whose LoadBalancer is gone). Both must run: the first uses the second's
/// cache of routings to map NetworkInterface events.
pub fn controllers(
    client: &kube::Client,
) -> (Controller<LoadBalancer>, Controller<LoadBalancerRouting>) {
    let wc = watcher::Config::default();
    let routings_ctl = Controller::new(Api::<LoadBalancerRouting>::all(client.clone()), wc.clone())
        .watches(Api::<LoadBalancer>::all(client.clone()), wc.clone(), |lb| {
            lb.namespace()
                .map(|ns| ObjectRef::<LoadBalancerRouting>::new(&lb.name_any()).within(&ns))
        });
    let routings = routings_ctl.store();

    let lbs_ctl = Controller::new(Api::<LoadBalancer>::all(client.clone()), wc.clone());
    let lbs = lbs_ctl.store();
    let lbs_for_nics = lbs.clone();
    let lbs_ctl = lbs_ctl
        .owns(Api::<LoadBalancerRouting>::all(client.clone()), wc.clone())
        .watches(
            Api::<NetworkInterface>::all(client.clone()),
            wc.clone(),
            move |nic| {
                let routes_to = |lb: &LoadBalancer| routing_lists(&routings, lb, &nic);
                load_balancers_for_nic(&lbs_for_nics.state(), &nic, routes_to)
            },
        )
        .watches(Api::<Network>::all(client.clone()), wc, move |net| {
            load_balancers_for_network(&lbs.state(), &net)
        });
    (lbs_ctl, routings_ctl)
}

/// Whether the cached routing of `lb` lists `nic` (by UID).
fn routing_lists(
    routings: &Store<LoadBalancerRouting>,
    lb: &LoadBalancer,
    nic: &NetworkInterface,
) -> bool {
    let (Some(ns), Some(uid)) = (lb.namespace(), nic.uid()) else {
        return false;
    };
    routings
        .get(&ObjectRef::new(&lb.name_any()).within(&ns))
        .is_some_and(|r| r.destinations.iter().flatten().any(|d| d.uid == uid))
}

/// The LoadBalancers whose routing may change with `nic`: those in its namespace and network
/// whose selector matches its labels while it is `Available`, and those whose routing lists it
/// (`routes_to`).
pub fn load_balancers_for_nic(
    lbs: &[Arc<LoadBalancer>],
    nic: &NetworkInterface,
    routes_to: impl Fn(&LoadBalancer) -> bool,
) -> Vec<ObjectRef<LoadBalancer>> {
    let ns = nic.namespace();
    let available = nic.status.state == NETWORK_INTERFACE_STATE_AVAILABLE;
    lbs.iter()
        .filter(|lb| lb.namespace() == ns)
        .filter(|lb| {
            let selects = lb
                .spec
                .network_interface_selector
                .as_ref()
                .is_some_and(|s| {
                    available
                        && lb.spec.network_ref.name == nic.spec.network_ref.name
                        && selector_matches(s, nic.labels())
                });
            selects || routes_to(lb)
        })
        .map(|lb| ObjectRef::from_obj(lb.as_ref()))
        .collect()
}

/// The LoadBalancers in the namespace of `net` that reference it.
pub fn load_balancers_for_network(
    lbs: &[Arc<LoadBalancer>],
    net: &Network,
) -> Vec<ObjectRef<LoadBalancer>> {
    let ns = net.namespace();
    let name = net.name_any();
    lbs.iter()
        .filter(|lb| lb.namespace() == ns && lb.spec.network_ref.name == name)
        .map(|lb| ObjectRef::from_obj(lb.as_ref()))
        .collect()
}

pub use ironcore_api::apinet::common::selector_matches;

/// The routing `lb` should have, given the Network and the NetworkInterfaces of its namespace
/// (in any order; destinations come sorted by NetworkInterface name).
pub fn desired_routing(
    lb: &LoadBalancer,
    network: &Network,
    nics: &[NetworkInterface],
) -> LoadBalancerRouting {
    let selector = lb.spec.network_interface_selector.as_ref();
    let mut selected: Vec<&NetworkInterface> = nics
        .iter()
        .filter(|n| n.namespace() == lb.namespace())
        .filter(|n| n.spec.network_ref.name == lb.spec.network_ref.name)
        .filter(|n| n.status.state == NETWORK_INTERFACE_STATE_AVAILABLE)
        .filter(|n| selector.is_some_and(|s| selector_matches(s, n.labels())))
        .collect();
    selected.sort_by_key(|n| n.name_any());
    let destinations = selected
        .iter()
        .flat_map(|n| {
            n.status.ips.iter().map(|ip| LoadBalancerDestination {
                name: n.name_any(),
                uid: n.uid().unwrap_or_default(),
                ip: Some(ip.clone()),
                provider_id: n.spec.provider_id.clone(),
            })
        })
        .collect();
    LoadBalancerRouting {
        metadata: ObjectMeta {
            name: Some(lb.name_any()),
            namespace: lb.namespace(),
            owner_references: Some(vec![crate::objects::controller_ref(lb)]),
            ..Default::default()
        },
        network_ref: LoadBalancerRoutingNetworkRef {
            name: network.name_any(),
            uid: network.uid().unwrap_or_default(),
        },
        destinations: Some(destinations),
        ..Default::default()
    }
}

/// Whether `current` already is what `desired` asks for (network, destinations, owner).
pub fn routing_up_to_date(desired: &LoadBalancerRouting, current: &LoadBalancerRouting) -> bool {
    let owner = desired.owner_references().first();
    current.network_ref == desired.network_ref
        && current.destinations.as_deref().unwrap_or_default()
            == desired.destinations.as_deref().unwrap_or_default()
        && owner.is_some_and(|o| {
            current
                .owner_references()
                .iter()
                .any(|c| c.uid == o.uid && c.controller == Some(true))
        })
}

/// Writes the routing of one LoadBalancer.
pub async fn reconcile(lb: Arc<LoadBalancer>, st: Arc<State>) -> Result<Action> {
    if finalizer::is_deleting(lb.as_ref()) {
        return Ok(Action::await_change());
    }
    let Some(selector) = &lb.spec.network_interface_selector else {
        return Ok(Action::await_change());
    };
    let ns = lb
        .namespace()
        .ok_or_else(|| Error::NotReady("load balancer without namespace".into()))?;
    let name = lb.name_any();
    if lb.uid().is_none() {
        return Err(Error::NotReady("load balancer without uid".into()));
    }
    let networks: Api<Network> = Api::namespaced(st.client.clone(), &ns);
    let Some(network) = networks.get_opt(&lb.spec.network_ref.name).await? else {
        tracing::debug!(load_balancer = %name, namespace = %ns, network = %lb.spec.network_ref.name, "network not found, routing not written");
        return Ok(Action::requeue(st.resync));
    };
    let Ok(sel) = Selector::try_from(selector.clone()) else {
        tracing::warn!(load_balancer = %name, namespace = %ns, "invalid network interface selector");
        return Ok(Action::await_change());
    };
    let nics: Api<NetworkInterface> = Api::namespaced(st.client.clone(), &ns);
    let nics = nics
        .list(&ListParams::default().labels(&sel.to_string()))
        .await?
        .items;
    let desired = desired_routing(&lb, &network, &nics);

    let routings: Api<LoadBalancerRouting> = Api::namespaced(st.client.clone(), &ns);
    let current = routings.get_opt(&name).await?;
    if current
        .as_ref()
        .is_some_and(|c| routing_up_to_date(&desired, c))
    {
        return Ok(Action::requeue(st.resync));
    }
    routings
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&desired),
        )
        .await?;
    let targets: Vec<String> = desired
        .destinations
        .iter()
        .flatten()
        .map(|d| d.name.clone())
        .collect();
    tracing::info!(load_balancer = %name, namespace = %ns, ?targets, "load balancer routing written");
    Ok(Action::requeue(st.resync))
}

/// The controlling LoadBalancer owner reference of a routing, if any.
fn load_balancer_owner(routing: &LoadBalancerRouting) -> Option<&OwnerReference> {
    routing.owner_references().iter().find(|o| {
        o.controller == Some(true)
            && o.kind == LoadBalancer::kind(&())
            && o.api_version.split('/').next() == Some(LoadBalancer::group(&()).as_ref())
    })
}

/// Deletes a routing whose controlling LoadBalancer (by UID) no longer exists.
pub async fn reconcile_routing(
    routing: Arc<LoadBalancerRouting>,
    st: Arc<State>,
) -> Result<Action> {
    if finalizer::is_deleting(routing.as_ref()) {
        return Ok(Action::await_change());
    }
    let Some(owner) = load_balancer_owner(&routing) else {
        return Ok(Action::await_change());
    };
    let ns = routing
        .namespace()
        .ok_or_else(|| Error::NotReady("routing without namespace".into()))?;
    let name = routing.name_any();
    let lbs: Api<LoadBalancer> = Api::namespaced(st.client.clone(), &ns);
    let owner_uid = Some(owner.uid.clone());
    if lbs
        .get_opt(&owner.name)
        .await?
        .is_some_and(|lb| lb.uid() == owner_uid)
    {
        return Ok(Action::await_change());
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: routing.uid(),
            resource_version: routing.resource_version(),
        }),
        ..DeleteParams::background()
    };
    let routings: Api<LoadBalancerRouting> = Api::namespaced(st.client.clone(), &ns);
    match routings.delete(&name, &dp).await {
        Ok(_) => {
            tracing::info!(routing = %name, namespace = %ns, load_balancer = %owner.name, "load balancer gone, routing deleted");
            Ok(Action::await_change())
        }
        Err(e) if is_not_found(&e) => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lb(selector: serde_json::Value) -> LoadBalancer {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "LoadBalancer",
            "metadata": {"name": "lb", "namespace": "default", "uid": "lb-uid"},
            "spec": {"type": "Public", "ipFamilies": ["IPv4"], "networkRef": {"name": "net"},
                     "networkInterfaceSelector": selector},
        }))
        .unwrap()
    }

    fn nic(name: &str, app: &str, network: &str, state: &str, ips: &[&str]) -> NetworkInterface {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "NetworkInterface",
            "metadata": {"name": name, "namespace": "default", "uid": format!("{name}-uid"),
                         "labels": {"app": app}},
            "spec": {"networkRef": {"name": network}, "ipFamilies": ["IPv4"],
                     "providerID": format!("ironcore-net://ns/{name}/node-a/x")},
            "status": {"state": state, "ips": ips},
        }))
        .unwrap()
    }

    fn network() -> Network {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "Network",
            "metadata": {"name": "net", "namespace": "default", "uid": "net-uid"},
        }))
        .unwrap()
    }

    fn dests(r: &LoadBalancerRouting) -> Vec<(String, String)> {
        r.destinations
            .iter()
            .flatten()
            .map(|d| (d.name.clone(), d.ip.as_ref().unwrap().to_string()))
            .collect()
    }

    #[test]
    fn routing_lists_available_selected_nics_of_the_network_once_per_ip() {
        let l = lb(json!({"matchLabels": {"app": "web"}}));
        let nics = [
            nic("web-2", "web", "net", "Available", &["10.1.0.2"]),
            nic("web-1", "web", "net", "Available", &["10.1.0.1", "fd00::1"]),
            nic("db", "db", "net", "Available", &["10.1.0.3"]),
            nic("web-pending", "web", "net", "Pending", &["10.1.0.4"]),
            nic("web-other", "web", "other", "Available", &["10.1.0.5"]),
        ];
        let r = desired_routing(&l, &network(), &nics);
        assert_eq!(
            dests(&r),
            [
                ("web-1".to_owned(), "10.1.0.1".to_owned()),
                ("web-1".to_owned(), "fd00::1".to_owned()),
                ("web-2".to_owned(), "10.1.0.2".to_owned()),
            ]
        );
        let d = &r.destinations.as_ref().unwrap()[0];
        assert_eq!(d.uid, "web-1-uid");
        assert_eq!(d.provider_id, "ironcore-net://ns/web-1/node-a/x");
        assert_eq!(r.network_ref.name, "net");
        assert_eq!(r.network_ref.uid, "net-uid");
        assert_eq!(r.metadata.name.as_deref(), Some("lb"));
        let owner = &r.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("LoadBalancer", "lb-uid", Some(true))
        );
        assert_eq!(
            owner.api_version, "networking.ironcore.dev/v1alpha1",
            "owner apiVersion"
        );
    }

    #[test]
    fn routing_without_matches_has_an_empty_destination_list() {
        let l = lb(json!({"matchLabels": {"app": "none"}}));
        let r = desired_routing(
            &l,
            &network(),
            &[nic("a", "web", "net", "Available", &["10.1.0.1"])],
        );
        assert_eq!(r.destinations, Some(vec![]));
        let body = serde_json::to_value(&r).unwrap();
        assert_eq!(body["destinations"], json!([]));
    }

    #[test]
    fn up_to_date_compares_network_destinations_and_owner() {
        let l = lb(json!({"matchLabels": {"app": "web"}}));
        let nics = [nic("a", "web", "net", "Available", &["10.1.0.1"])];
        let desired = desired_routing(&l, &network(), &nics);
        let mut current = desired.clone();
        assert!(routing_up_to_date(&desired, &current));
        current.destinations = Some(vec![]);
        assert!(!routing_up_to_date(&desired, &current));
        let mut current = desired.clone();
        current.metadata.owner_references = None;
        assert!(!routing_up_to_date(&desired, &current));
        let mut current = desired.clone();
        current.network_ref.uid = "other".into();
        assert!(!routing_up_to_date(&desired, &current));
    }

    #[test]
    fn nic_events_map_to_matching_and_routing_load_balancers_of_its_namespace() {
        let web: Arc<LoadBalancer> = Arc::new(lb(json!({"matchLabels": {"app": "web"}})));
        let mut no_selector = lb(serde_json::Value::Null);
        no_selector.metadata.name = Some("external".into());
        let mut db = lb(json!({"matchLabels": {"app": "db"}}));
        db.metadata.name = Some("db".into());
        // A LoadBalancer without selector first: later ones are still found (upstream
        // stopped at it).
        let lbs = vec![Arc::new(no_selector), web, Arc::new(db)];
        let names = |refs: Vec<ObjectRef<LoadBalancer>>| -> Vec<String> {
            refs.into_iter().map(|r| r.name).collect()
        };

        let n = nic("a", "web", "net", "Available", &["10.1.0.1"]);
        assert_eq!(names(load_balancers_for_nic(&lbs, &n, |_| false)), ["lb"]);
        // Relabelled away from web: only the routing still lists it.
        let n = nic("a", "db", "net", "Available", &["10.1.0.1"]);
        assert_eq!(
            names(load_balancers_for_nic(&lbs, &n, |l| l.name_any() == "lb")),
            ["lb", "db"]
        );
        // Not Available and not routed to: nothing to do.
        let n = nic("a", "web", "net", "Pending", &[]);
        assert!(load_balancers_for_nic(&lbs, &n, |_| false).is_empty());
        // Another network.
        let n = nic("a", "web", "other", "Available", &["10.1.0.1"]);
        assert!(load_balancers_for_nic(&lbs, &n, |_| false).is_empty());
        // Another namespace.
        let mut n = nic("a", "web", "net", "Available", &["10.1.0.1"]);
        n.metadata.namespace = Some("elsewhere".into());
        assert!(load_balancers_for_nic(&lbs, &n, |_| true).is_empty());
    }

    #[test]
    fn network_events_map_to_load_balancers_referencing_it() {
        let a = Arc::new(lb(json!({})));
        let mut b = lb(json!({}));
        b.metadata.name = Some("b".into());
        b.spec.network_ref.name = "other".into();
        let refs = load_balancers_for_network(&[a, Arc::new(b)], &network());
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].name, "lb");
    }

    #[test]
    fn only_controlling_load_balancer_owners_count() {
        let l = lb(json!({}));
        let r = desired_routing(&l, &network(), &[]);
        assert!(load_balancer_owner(&r).is_some());
        let mut other = r.clone();
        if let Some(refs) = other.metadata.owner_references.as_mut() {
            refs[0].controller = Some(false);
        }
        assert!(load_balancer_owner(&other).is_none());
        let mut other = r.clone();
        if let Some(refs) = other.metadata.owner_references.as_mut() {
            refs[0].api_version = "core.apinet.ironcore.dev/v1alpha1".into();
        }
        assert!(load_balancer_owner(&other).is_none());
    }
}
