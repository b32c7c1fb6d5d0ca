//! NetworkPolicy → apinet NetworkPolicy + NetworkPolicyRule (apinet-upstream.md §5.7).
//!
//! The apinet NetworkPolicy (named by the IronCore UID) mirrors the policy on the apinet side:
//! network (the IronCore Network's UID), interface selector, priority 1000, the rules' peers and
//! ports, the policy types. VirtualIP peers (which IronCore allows and apinet does not) are left
//! out of it: they only appear resolved, in the rule.
//!
//! The NetworkPolicyRule (same name, controlled by the apinet NetworkPolicy, field manager
//! `networkpolicies.networking.ironcore.dev`) is the policy resolved to addresses, which is what
//! the node agents program:
//! - `targets`: one entry per internal IP of every Ready apinet NetworkInterface of the network
//!   whose labels (the IronCore NIC's, propagated) match the interface selector;
//! - one rule per ingress (egress) entry: its ports, its IP blocks, and its object peers
//!   resolved to host prefixes: NetworkInterfaces → the matching Ready apinet NICs of the
//!   network; LoadBalancers → the matching IronCore LoadBalancers of the network (apinet
//!   LoadBalancers carry only origin labels, upstream quirk 8), through their apinet
//!   LoadBalancer's `spec.ips`; VirtualIPs → the matching VirtualIPs' `status.ip`.
//!
//! A missing IronCore Network makes nothing (the watch on apinet Networks retries); a missing
//! apinet Network is "not ready" and retried. No garbage collector runs: deletion deletes the
//! rule and the apinet policy and keeps the finalizer until both are gone.
//!
//! Watches (upstream's wrong-key handlers fixed, quirk 8): apinet policies and rules by origin;
//! apinet NetworkInterfaces → the policies of their network (through a store of apinet policies
//! and their origin); IronCore LoadBalancers, VirtualIPs, apinet LoadBalancers and apinet
//! Networks → the policies of their namespace (and network, where known).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use futures::StreamExt;
use ironcore_api::apinet::networkinterface::NETWORK_INTERFACE_STATE_READY;
use ironcore_api::apinet::networkpolicy::{POLICY_TYPE_EGRESS, POLICY_TYPE_INGRESS};
use ironcore_api::common::{IP, IPPrefix};
use ironcore_api::{apinet, networking};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{ListParams, PatchParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};

use super::{
    APINET_API_VERSION, LOAD_BALANCER_ORIGIN, NETWORK_ORIGIN, NETWORK_POLICY_ORIGIN, State, apply,
    ensure_gone, lifecycle, network_uid,
};
use crate::error::{Error, Result};

/// The finalizer on IronCore NetworkPolicies.
pub const FINALIZER: &str = "apinet.ironcore.dev/networkpolicy";
/// The field manager of NetworkPolicyRule writes.
pub const RULE_FIELD_MANAGER: &str = "networkpolicies.networking.ironcore.dev";
/// The priority of every apinet NetworkPolicy and NetworkPolicyRule (IronCore has none).
pub const PRIORITY: i32 = 1000;
/// Object selector kind: NetworkInterfaces.
pub const KIND_NETWORK_INTERFACE: &str = "NetworkInterface";
/// Object selector kind: LoadBalancers.
pub const KIND_LOAD_BALANCER: &str = "LoadBalancer";
/// Object selector kind: VirtualIPs (IronCore only).
pub const KIND_VIRTUAL_IP: &str = "VirtualIP";
/// The controller (see the module documentation for what it watches). Spawns the reflector of
/// apinet NetworkPolicies that maps apinet NetworkInterfaces back to policies, so it must be
/// called within a Tokio runtime.
pub fn controller(st: &State) -> Controller<networking::NetworkPolicy> {
    let wc = watcher::Config::default();
    let origin = wc.clone().labels(&NETWORK_POLICY_ORIGIN.uid_label());
    let apinet_policies_api =
        Api::<apinet::NetworkPolicy>::namespaced(st.apinet.clone(), &st.namespace);

    let (apinet_policies, writer) = reflector::store();
    let feed = reflector::reflector(writer, watcher(apinet_policies_api.clone(), origin.clone()))
        .default_backoff()
        .for_each(|ev| async move {
            if let Err(e) = ev {
                tracing::debug!(error = %e, "apinet network policy reflector");
            }
        });
    tokio::spawn(feed);

    let ctl = Controller::new(
        Api::<networking::NetworkPolicy>::all(st.ironcore.clone()),
        wc.clone(),
    );
    let (by_lb, by_vip, by_apinet_lb, by_net) =
        (ctl.store(), ctl.store(), ctl.store(), ctl.store());
    ctl.watches(apinet_policies_api, origin.clone(), |p| {
        NETWORK_POLICY_ORIGIN.source::<networking::NetworkPolicy, _>(&p)
    })
    .watches(
        Api::<apinet::NetworkPolicyRule>::namespaced(st.apinet.clone(), &st.namespace),
        origin,
        |r| NETWORK_POLICY_ORIGIN.source::<networking::NetworkPolicy, _>(&r),
    )
    .watches(
        Api::<apinet::NetworkInterface>::namespaced(st.apinet.clone(), &st.namespace),
        wc.clone(),
        move |nic| policies_of_apinet_network(&apinet_policies, &nic.spec.network_ref.name),
    )
    .watches(
        Api::<networking::LoadBalancer>::all(st.ironcore.clone()),
        wc.clone(),
        move |lb| {
            policies_in(
                &by_lb,
                &lb.namespace().unwrap_or_default(),
                Some(&lb.spec.network_ref.name),
            )
        },
    )
    .watches(
        Api::<networking::VirtualIP>::all(st.ironcore.clone()),
        wc.clone(),
        move |vip| policies_in(&by_vip, &vip.namespace().unwrap_or_default(), None),
    )
    .watches(
        Api::<apinet::LoadBalancer>::namespaced(st.apinet.clone(), &st.namespace),
        wc.clone().labels(&LOAD_BALANCER_ORIGIN.uid_label()),
        move |lb| match lb.labels().get(&LOAD_BALANCER_ORIGIN.namespace_label()) {
            Some(ns) => policies_in(&by_apinet_lb, ns, None),
            None => Vec::new(),
        },
    )
    .watches(
        Api::<apinet::Network>::namespaced(st.apinet.clone(), &st.namespace),
        wc.labels(&NETWORK_ORIGIN.uid_label()),
        move |net| match NETWORK_ORIGIN.source::<networking::Network, _>(&net) {
            Some(src) => policies_in(
                &by_net,
                src.namespace.as_deref().unwrap_or_default(),
                Some(&src.name),
            ),
            None => Vec::new(),
        },
    )
}

/// The IronCore policies whose apinet policy regulates the apinet network `network_uid`.
fn policies_of_apinet_network(
    apinet_policies: &Store<apinet::NetworkPolicy>,
    network_uid: &str,
) -> Vec<ObjectRef<networking::NetworkPolicy>> {
    apinet_policies
        .state()
        .into_iter()
        .filter(|p| p.spec.network_ref.name == network_uid)
        .filter_map(|p| NETWORK_POLICY_ORIGIN.source(p.as_ref()))
        .collect()
}

/// The IronCore policies in `namespace` (regulating the Network `network`, when given).
fn policies_in(
    policies: &Store<networking::NetworkPolicy>,
    namespace: &str,
    network: Option<&str>,
) -> Vec<ObjectRef<networking::NetworkPolicy>> {
    policies
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace))
        .filter(|p| network.is_none_or(|n| p.spec.network_ref.name == n))
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// Realizes one NetworkPolicy, or cleans up after a deleting one.
pub async fn reconcile(policy: Arc<networking::NetworkPolicy>, st: Arc<State>) -> Result<Action> {
    let ns = policy
        .namespace()
        .ok_or_else(|| Error::NotReady("network policy without namespace".into()))?;
    let name = policy.name_any();
    let uid = policy
        .uid()
        .ok_or_else(|| Error::NotReady("network policy without uid".into()))?;
    let api: Api<networking::NetworkPolicy> = Api::namespaced(st.ironcore.clone(), &ns);
    let policies: Api<apinet::NetworkPolicy> = Api::namespaced(st.apinet.clone(), &st.namespace);
    let rules: Api<apinet::NetworkPolicyRule> = Api::namespaced(st.apinet.clone(), &st.namespace);

    // No garbage collector: the rule goes explicitly, with the policy.
    let made =
        || async { Ok(ensure_gone(&rules, &uid).await? & ensure_gone(&policies, &uid).await?) };
    if let Some(done) = lifecycle(&api, policy.as_ref(), FINALIZER, made).await? {
        return Ok(done);
    }

    let network = &policy.spec.network_ref.name;
    let Some(net_uid) = network_uid(&st, &ns, network).await? else {
        tracing::info!(network_policy = %name, namespace = %ns, %network, "network not found, waiting for it");
        return Ok(Action::await_change());
    };
    let apinet_net = Api::<apinet::Network>::namespaced(st.apinet.clone(), &st.namespace)
        .get_opt(&net_uid)
        .await?
        .ok_or_else(|| Error::NotReady(format!("apinet network {net_uid} does not exist yet")))?;
    let apinet_net_uid = apinet_net
        .uid()
        .ok_or_else(|| Error::NotReady(format!("apinet network {net_uid} without uid")))?;

    // 1. The apinet NetworkPolicy.
    let spec = apinet_policy_spec(&policy, &net_uid)?;
    let apinet_policy = match policies.get_opt(&uid).await? {
        Some(have)
            if have.spec == spec
                && NETWORK_POLICY_ORIGIN.marks(&have, policy.as_ref())
                && have.meta().deletion_timestamp.is_none() =>
        {
            have
        }
        _ => {
            let body = json!({
                "apiVersion": APINET_API_VERSION,
                "kind": "NetworkPolicy",
                "metadata": origin_metadata(&policy, &uid, &st.namespace),
                "spec": to_json(&spec)?,
            });
            let p = apply(&policies, &uid, &body).await?;
            tracing::info!(network_policy = %name, namespace = %ns, apinet = %uid, "apinet network policy applied");
            p
        }
    };
    let apinet_policy_uid = apinet_policy
        .uid()
        .ok_or_else(|| Error::NotReady(format!("apinet network policy {uid} without uid")))?;

    // 2. What the rule resolves against.
    let nics = Api::<apinet::NetworkInterface>::namespaced(st.apinet.clone(), &st.namespace)
        .list(&ListParams::default().fields(&format!(
            "{}={net_uid}",
            apinet::FIELD_SPEC_NETWORK_REF_NAME
        )))
        .await?
        .items;
    let peers = Peers {
        network_interfaces: nics,
        load_balancers: if selects_kind(&policy, KIND_LOAD_BALANCER) {
            load_balancers(&st, &ns, network).await?
        } else {
            Vec::new()
        },
        virtual_ips: if selects_kind(&policy, KIND_VIRTUAL_IP) {
            Api::<networking::VirtualIP>::namespaced(st.ironcore.clone(), &ns)
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|v| v.meta().deletion_timestamp.is_none())
                .map(|v| (v.labels().clone(), v.status.ip.into_iter().collect()))
                .collect()
        } else {
            Vec::new()
        },
    };

    // 3. The rule.
    let want = rule(
        &policy,
        &net_uid,
        LocalRef::new(&net_uid, &apinet_net_uid),
        &peers,
    )?;
    let up_to_date = rules.get_opt(&uid).await?.is_some_and(|have| {
        have.meta().deletion_timestamp.is_none()
            && NETWORK_POLICY_ORIGIN.marks(&have, policy.as_ref())
            && crate::objects::controlled_by(&have, &apinet_policy_uid)
            && have.network_ref == want.network_ref
            && have.targets == want.targets
            && have.priority == want.priority
            && have.ingress_rules == want.ingress_rules
            && have.egress_rules == want.egress_rules
    });
    if !up_to_date {
        let mut body = to_json(&want)?;
        let mut meta = origin_metadata(&policy, &uid, &st.namespace);
        meta["ownerReferences"] = json!([{
            "apiVersion": APINET_API_VERSION,
            "kind": "NetworkPolicy",
            "name": uid,
            "uid": apinet_policy_uid,
            "controller": true,
            "blockOwnerDeletion": true,
        }]);
        body["metadata"] = meta;
        rules
            .patch(
                &uid,
                &PatchParams::apply(RULE_FIELD_MANAGER).force(),
                &kube::api::Patch::Apply(&body),
            )
            .await?;
        tracing::info!(network_policy = %name, namespace = %ns, apinet = %uid, targets = want.targets.len(), "network policy rule applied");
    }
    Ok(Action::requeue(st.resync))
}

/// The IronCore LoadBalancers of network `network` in `ns`, with the IPs of their apinet
/// LoadBalancers.
async fn load_balancers(
    st: &State,
    ns: &str,
    network: &str,
) -> Result<Vec<(BTreeMap<String, String>, Vec<IP>)>> {
    let apinet_lbs: HashMap<String, apinet::LoadBalancer> =
        Api::<apinet::LoadBalancer>::namespaced(st.apinet.clone(), &st.namespace)
            .list(
                &ListParams::default()
                    .labels(&format!("{}={ns}", LOAD_BALANCER_ORIGIN.namespace_label())),
            )
            .await?
            .items
            .into_iter()
            .map(|lb| (lb.name_any(), lb))
            .collect();
    Ok(
        Api::<networking::LoadBalancer>::namespaced(st.ironcore.clone(), ns)
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|lb| {
                lb.meta().deletion_timestamp.is_none() && lb.spec.network_ref.name == network
            })
            .map(|lb| {
                let ips = lb
                    .uid()
                    .and_then(|uid| apinet_lbs.get(&uid))
                    .map(|a| a.spec.ips.iter().filter_map(|i| i.ip.clone()).collect())
                    .unwrap_or_default();
                (lb.labels().clone(), ips)
            })
            .collect(),
    )
}

/// Name and UID of an apinet object.
#[derive(Clone, Debug)]
pub struct LocalRef {
    /// The name.
    pub name: String,
    /// The UID.
    pub uid: String,
}

impl LocalRef {
    /// A reference to `name` with `uid`.
    pub fn new(name: &str, uid: &str) -> Self {
        LocalRef {
            name: name.to_owned(),
            uid: uid.to_owned(),
        }
    }
}

/// What object peers resolve against.
#[derive(Clone, Debug, Default)]
pub struct Peers {
    /// The apinet NetworkInterfaces of the policy's network.
    pub network_interfaces: Vec<apinet::NetworkInterface>,
    /// The IronCore LoadBalancers of the policy's network: their labels and their IPs.
    pub load_balancers: Vec<(BTreeMap<String, String>, Vec<IP>)>,
    /// The IronCore VirtualIPs of the policy's namespace: their labels and their IPs.
    pub virtual_ips: Vec<(BTreeMap<String, String>, Vec<IP>)>,
}

/// The origin metadata of an apinet object named `name` made for `policy`.
fn origin_metadata(policy: &networking::NetworkPolicy, name: &str, namespace: &str) -> Value {
    json!({
        "name": name,
        "namespace": namespace,
        "labels": NETWORK_POLICY_ORIGIN.labels(policy),
        "annotations": NETWORK_POLICY_ORIGIN.annotations(policy),
    })
}

fn to_json(v: &impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::NotReady(format!("encode: {e}")))
}

/// Whether any peer of `policy` selects objects of `kind`.
fn selects_kind(policy: &networking::NetworkPolicy, kind: &str) -> bool {
    let s = &policy.spec;
    s.ingress
        .iter()
        .flat_map(|r| &r.from)
        .chain(s.egress.iter().flat_map(|r| &r.to))
        .any(|p| p.object_selector.as_ref().is_some_and(|o| o.kind == kind))
}

/// Whether `selector` selects `labels` (an empty selector selects everything).
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> Result<bool> {
    let sel = Selector::try_from(selector.clone())
        .map_err(|e| Error::NotReady(format!("invalid label selector: {e}")))?;
    Ok(sel.matches(labels))
}

/// The spec of the apinet NetworkPolicy mirroring `policy` on the apinet network `network_uid`.
pub fn apinet_policy_spec(
    policy: &networking::NetworkPolicy,
    network_uid: &str,
) -> Result<apinet::NetworkPolicySpec> {
    let s = &policy.spec;
    let policy_types = s
        .policy_types
        .iter()
        .map(|t| match t.as_str() {
            POLICY_TYPE_INGRESS | POLICY_TYPE_EGRESS => Ok(t.clone()),
            other => Err(Error::NotReady(format!("unknown policy type {other:?}"))),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(apinet::NetworkPolicySpec {
        network_ref: apinet::LocalObjectReference {
            name: network_uid.to_owned(),
        },
        network_interface_selector: s.network_interface_selector.clone(),
        priority: Some(PRIORITY),
        ingress: s
            .ingress
            .iter()
            .map(|r| apinet::NetworkPolicyIngressRule {
                from: apinet_peers(&r.from),
                ports: r.ports.iter().map(apinet_port).collect(),
            })
            .collect(),
        egress: s
            .egress
            .iter()
            .map(|r| apinet::NetworkPolicyEgressRule {
                ports: r.ports.iter().map(apinet_port).collect(),
                to: apinet_peers(&r.to),
            })
            .collect(),
        policy_types,
    })
}

/// Peers as apinet expresses them (VirtualIP selectors are only resolved in the rule).
fn apinet_peers(peers: &[networking::NetworkPolicyPeer]) -> Vec<apinet::NetworkPolicyPeer> {
    peers
        .iter()
        .filter(|p| {
            p.object_selector
                .as_ref()
                .is_none_or(|o| o.kind != KIND_VIRTUAL_IP)
        })
        .map(|p| apinet::NetworkPolicyPeer {
            object_selector: p.object_selector.as_ref().map(|o| apinet::ObjectSelector {
                kind: o.kind.clone(),
                label_selector: o.label_selector(),
            }),
            ip_block: p.ip_block.as_ref().map(apinet_ip_block),
        })
        .collect()
}

fn apinet_ip_block(b: &networking::IPBlock) -> apinet::IPBlock {
    apinet::IPBlock {
        cidr: b.cidr,
        except: b.except.clone(),
    }
}

fn apinet_port(p: &networking::NetworkPolicyPort) -> apinet::NetworkPolicyPort {
    apinet::NetworkPolicyPort {
        protocol: p.protocol.clone(),
        port: p.port,
        end_port: p.end_port,
    }
}

/// Whether an apinet NetworkInterface of network `network_uid` can be a target or peer.
fn usable(nic: &apinet::NetworkInterface, network_uid: &str) -> bool {
    nic.spec.network_ref.name == network_uid
        && nic.status.state == NETWORK_INTERFACE_STATE_READY
        && nic.meta().deletion_timestamp.is_none()
}

/// The Ready apinet NetworkInterfaces of `network_uid` whose labels `selector` selects, by name.
fn selected_nics<'a>(
    nics: &'a [apinet::NetworkInterface],
    network_uid: &str,
    selector: &LabelSelector,
) -> Result<Vec<&'a apinet::NetworkInterface>> {
    let mut out = Vec::new();
    for nic in nics.iter().filter(|n| usable(n, network_uid)) {
        if selects(selector, nic.labels())? {
            out.push(nic);
        }
    }
    out.sort_by_key(|n| n.name_any());
    Ok(out)
}

/// The rule's targets: one per internal IP of each selected Ready NetworkInterface.
pub fn targets(
    nics: &[apinet::NetworkInterface],
    network_uid: &str,
    selector: &LabelSelector,
) -> Result<Vec<apinet::TargetNetworkInterface>> {
    Ok(selected_nics(nics, network_uid, selector)?
        .into_iter()
        .flat_map(|nic| {
            let target_ref = ironcore_api::common::LocalUIDReference {
                name: nic.name_any(),
                uid: nic.uid().unwrap_or_default(),
            };
            nic.spec
                .ips
                .iter()
                .map(move |ip| apinet::TargetNetworkInterface {
                    ip: Some(ip.clone()),
                    target_ref: Some(target_ref.clone()),
                })
        })
        .collect())
}

/// The host prefix (/32 or /128) of `ip`, with its family.
pub fn host_ip(ip: &IP) -> Option<apinet::ObjectIP> {
    let bits = match ip.addr() {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    Some(apinet::ObjectIP {
        ip_family: ip.family(),
        prefix: Some(IPPrefix::new(ip.addr(), bits)?),
    })
}

/// The host prefixes an object selector resolves to.
pub fn object_ips(
    selector: &networking::ObjectSelector,
    network_uid: &str,
    peers: &Peers,
) -> Result<Vec<apinet::ObjectIP>> {
    let labels = selector.label_selector();
    let ips: Vec<IP> = match selector.kind.as_str() {
        KIND_NETWORK_INTERFACE => selected_nics(&peers.network_interfaces, network_uid, &labels)?
            .into_iter()
            .flat_map(|n| n.spec.ips.iter().cloned())
            .collect(),
        KIND_LOAD_BALANCER | KIND_VIRTUAL_IP => {
            let objects = if selector.kind == KIND_LOAD_BALANCER {
                &peers.load_balancers
            } else {
                &peers.virtual_ips
            };
            let mut out = Vec::new();
            for (l, ips) in objects {
                if selects(&labels, l)? {
                    out.extend(ips.iter().cloned());
                }
            }
            out
        }
        other => {
            return Err(Error::NotReady(format!(
                "unsupported object selector kind {other:?}"
            )));
        }
    };
    Ok(ips.iter().filter_map(host_ip).collect())
}

/// One resolved rule: the ports, the IP blocks and the object peers' host prefixes (each
/// prefix once, in peer order).
pub fn resolve_rule(
    ports: &[networking::NetworkPolicyPort],
    peers: &[networking::NetworkPolicyPeer],
    network_uid: &str,
    objects: &Peers,
) -> Result<apinet::Rule> {
    let mut resolved: Vec<apinet::ObjectIP> = Vec::new();
    for sel in peers.iter().filter_map(|p| p.object_selector.as_ref()) {
        for ip in object_ips(sel, network_uid, objects)? {
            if !resolved.contains(&ip) {
                resolved.push(ip);
            }
        }
    }
    Ok(apinet::Rule {
        cidr_block: peers
            .iter()
            .filter_map(|p| p.ip_block.as_ref())
            .map(apinet_ip_block)
            .collect(),
        object_ips: resolved,
        network_policy_ports: ports.iter().map(apinet_port).collect(),
    })
}

/// The NetworkPolicyRule `policy` resolves to (without metadata).
pub fn rule(
    policy: &networking::NetworkPolicy,
    network_uid: &str,
    apinet_network: LocalRef,
    peers: &Peers,
) -> Result<apinet::NetworkPolicyRule> {
    let s = &policy.spec;
    Ok(apinet::NetworkPolicyRule {
        network_ref: ironcore_api::common::LocalUIDReference {
            name: apinet_network.name,
            uid: apinet_network.uid,
        },
        targets: targets(
            &peers.network_interfaces,
            network_uid,
            &s.network_interface_selector,
        )?,
        priority: Some(PRIORITY),
        ingress_rules: s
            .ingress
            .iter()
            .map(|r| resolve_rule(&r.ports, &r.from, network_uid, peers))
            .collect::<Result<_>>()?,
        egress_rules: s
            .egress
            .iter()
            .map(|r| resolve_rule(&r.ports, &r.to, network_uid, peers))
            .collect::<Result<_>>()?,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_policy() -> networking::NetworkPolicy {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "NetworkPolicy",
            "metadata": {"name": "my-network-policy", "namespace": "default", "uid": "np-uid"},
            "spec": {
                "networkRef": {"name": "my-network"},
                "networkInterfaceSelector": {"matchLabels": {"app": "db"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{
                    "from": [
                        {"ipBlock": {"cidr": "172.17.0.0/16"}},
                        {"objectSelector": {"kind": "NetworkInterface", "matchLabels": {"app": "web"}}},
                        {"objectSelector": {"kind": "LoadBalancer", "matchLabels": {"app": "web"}}},
                        {"objectSelector": {"kind": "VirtualIP", "matchLabels": {"app": "web"}}},
                    ],
                    "ports": [{"protocol": "TCP", "port": 5432}],
                }],
                "egress": [{
                    "to": [{"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.1/32"]}}],
                    "ports": [{"protocol": "TCP", "port": 8080, "endPort": 8090}],
                }],
            },
        }))
        .unwrap()
    }

    fn nic(
        name: &str,
        network: &str,
        app: &str,
        ips: &[&str],
        state: &str,
    ) -> apinet::NetworkInterface {
        serde_json::from_value(json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1", "kind": "NetworkInterface",
            "metadata": {"name": name, "namespace": "apinet", "uid": format!("{name}-uid"),
                         "labels": {"app": app}},
            "spec": {"networkRef": {"name": network}, "nodeRef": {"name": "node-a"}, "ips": ips},
            "status": {"state": state},
        }))
        .unwrap()
    }

    fn labels(app: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("app".to_owned(), app.to_owned())])
    }

    fn ip(s: &str) -> IP {
        s.parse().unwrap()
    }

    fn peers() -> Peers {
        Peers {
            network_interfaces: vec![
                nic("db", "net-uid", "db", &["10.1.0.1"], "Ready"),
                nic("web", "net-uid", "web", &["10.1.0.2", "fd00::2"], "Ready"),
                nic("web-pending", "net-uid", "web", &["10.1.0.3"], "Pending"),
                nic("web-elsewhere", "other", "web", &["10.1.0.4"], "Ready"),
            ],
            load_balancers: vec![
                (labels("web"), vec![ip("10.0.0.7")]),
                (labels("api"), vec![ip("10.0.0.8")]),
            ],
            virtual_ips: vec![(labels("web"), vec![ip("10.0.0.9")])],
        }
    }

    #[test]
    fn apinet_policy_mirrors_the_spec_with_priority_and_without_virtual_ip_peers() {
        let spec = apinet_policy_spec(&seed_policy(), "net-uid").unwrap();
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({
                "networkRef": {"name": "net-uid"},
                "networkInterfaceSelector": {"matchLabels": {"app": "db"}},
                "priority": 1000,
                "ingress": [{
                    "from": [
                        {"ipBlock": {"cidr": "172.17.0.0/16"}},
                        {"objectSelector": {"kind": "NetworkInterface", "matchLabels": {"app": "web"}}},
                        {"objectSelector": {"kind": "LoadBalancer", "matchLabels": {"app": "web"}}},
                    ],
                    "ports": [{"protocol": "TCP", "port": 5432}],
                }],
                "egress": [{
                    "ports": [{"protocol": "TCP", "port": 8080, "endPort": 8090}],
                    "to": [{"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.1/32"]}}],
                }],
                "policyTypes": ["Ingress", "Egress"],
            })
        );
    }

    #[test]
    fn unknown_policy_type_is_an_error() {
        let mut p = seed_policy();
        p.spec.policy_types.push("Sideways".into());
        assert!(apinet_policy_spec(&p, "net-uid").is_err());
    }

    #[test]
    fn targets_are_the_ready_selected_interfaces_of_the_network_one_per_ip() {
        let p = peers();
        let sel = seed_policy().spec.network_interface_selector;
        let t = targets(&p.network_interfaces, "net-uid", &sel).unwrap();
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!([{"ip": "10.1.0.1", "targetRef": {"name": "db", "uid": "db-uid"}}])
        );
        let web: LabelSelector =
            serde_json::from_value(json!({"matchLabels": {"app": "web"}})).unwrap();
        let t = targets(&p.network_interfaces, "net-uid", &web).unwrap();
        let ips: Vec<_> = t
            .iter()
            .map(|t| t.ip.clone().unwrap().to_string())
            .collect();
        assert_eq!(ips, ["10.1.0.2", "fd00::2"]);
        assert!(
            targets(&p.network_interfaces, "net-uid", &LabelSelector::default())
                .unwrap()
                .len()
                == 3,
            "an empty selector selects every Ready interface of the network"
        );
    }

    #[test]
    fn rule_resolves_blocks_interfaces_load_balancers_and_virtual_ips() {
        let r = rule(
            &seed_policy(),
            "net-uid",
            LocalRef::new("net-uid", "apinet-net-uid"),
            &peers(),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({
                "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
                "kind": "NetworkPolicyRule",
                "metadata": {},
                "networkRef": {"name": "net-uid", "uid": "apinet-net-uid"},
                "targets": [{"ip": "10.1.0.1", "targetRef": {"name": "db", "uid": "db-uid"}}],
                "priority": 1000,
                "ingressRule": [{
                    "ipBlock": [{"cidr": "172.17.0.0/16"}],
                    "ips": [
                        {"ipFamily": "IPv4", "prefix": "10.1.0.2/32"},
                        {"ipFamily": "IPv6", "prefix": "fd00::2/128"},
                        {"ipFamily": "IPv4", "prefix": "10.0.0.7/32"},
                        {"ipFamily": "IPv4", "prefix": "10.0.0.9/32"},
                    ],
                    "networkPolicyPorts": [{"protocol": "TCP", "port": 5432}],
                }],
                "egressRule": [{
                    "ipBlock": [{"cidr": "10.0.0.0/24", "except": ["10.0.0.1/32"]}],
                    "networkPolicyPorts": [{"protocol": "TCP", "port": 8080, "endPort": 8090}],
                }],
            })
        );
    }

    #[test]
    fn match_expressions_select_too() {
        let sel: networking::ObjectSelector = serde_json::from_value(json!({
            "kind": "NetworkInterface",
            "matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}],
        }))
        .unwrap();
        let got = object_ips(&sel, "net-uid", &peers()).unwrap();
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            json!([{"ipFamily": "IPv4", "prefix": "10.1.0.1/32"}])
        );
    }

    #[test]
    fn unknown_object_kind_is_an_error() {
        let sel: networking::ObjectSelector =
            serde_json::from_value(json!({"kind": "Machine"})).unwrap();
        assert!(object_ips(&sel, "net-uid", &peers()).is_err());
    }
}
