//! What a node's dataplane should hold, computed from the apinet objects the netlet watches.
//!
//! Pure functions over a [`Snapshot`]: no I/O, so every rule is unit-tested here. Keys are
//! `<namespace>/<name>` of the apinet object a configuration was made from.

use std::collections::BTreeMap;

use ironcore_api::apinet;
use ironcore_api::common::{IP, IPPrefix};
use kube::{Resource, ResourceExt};
use serde::Serialize;

/// Prefix of the name of every load balancer DaemonSet (`lb-<load balancer name>`).
pub const DAEMON_SET_PREFIX: &str = "lb-";

/// The apinet objects the configuration is computed from.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every apinet Network.
    pub networks: Vec<apinet::Network>,
    /// The apinet NetworkInterfaces placed on this node.
    pub interfaces: Vec<apinet::NetworkInterface>,
    /// Every NATTable.
    pub nat_tables: Vec<apinet::NATTable>,
    /// Every apinet LoadBalancer.
    pub load_balancers: Vec<apinet::LoadBalancer>,
    /// Every apinet LoadBalancerRouting.
    pub routings: Vec<apinet::LoadBalancerRouting>,
    /// The Instances scheduled on this node.
    pub instances: Vec<apinet::Instance>,
    /// Every NetworkPolicyRule.
    pub policy_rules: Vec<apinet::NetworkPolicyRule>,
}

/// A network as programmed: its VNI and the networks it is peered with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfig {
    /// The network's VNI.
    pub vni: i32,
    /// VNIs of the peered networks, ascending.
    pub peered_ids: Vec<i32>,
    /// Prefixes reachable through each peering, by peer VNI.
    pub peered_prefixes: BTreeMap<i32, Vec<IPPrefix>>,
}

/// Source NAT of an interface: its public IP and port range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NatConfig {
    /// The gateway's public IP.
    pub ip: IP,
    /// First port of the slot.
    pub port: i32,
    /// Last port of the slot.
    pub end_port: i32,
    /// The NATGateway (`<namespace>/<name>`) the slot belongs to.
    pub gateway: String,
}

/// Traffic direction of a firewall rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Direction {
    /// Traffic towards the interface.
    Ingress,
    /// Traffic from the interface.
    Egress,
}

/// What a firewall rule does with matching traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Action {
    /// Let it pass.
    Accept,
    /// Drop it.
    Deny,
}

/// One firewall rule on an interface.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FirewallRule {
    /// The NetworkPolicyRule (`<namespace>/<name>`) it comes from.
    pub policy: String,
    /// Ingress or egress.
    pub direction: Direction,
    /// Accept or deny.
    pub action: Action,
    /// Rule priority (lower first).
    pub priority: i32,
    /// `TCP`, `UDP`, `SCTP`, or `None` for all protocols.
    pub protocol: Option<String>,
    /// First port; 0 = all ports.
    pub port: i32,
    /// Last port of the range.
    pub end_port: i32,
    /// The remote prefix (source for ingress, destination for egress).
    pub prefix: IPPrefix,
}

/// A network interface as programmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceConfig {
    /// UID of the apinet NetworkInterface.
    pub uid: String,
    /// The network (`<namespace>/<name>`).
    pub network: String,
    /// The network's VNI.
    pub vni: i32,
    /// Internal IPs.
    pub ips: Vec<IP>,
    /// Routed prefixes.
    pub prefixes: Vec<IPPrefix>,
    /// Public IPs (virtual IPs) mapped onto the interface.
    pub public_ips: Vec<IP>,
    /// Source NAT, when a NATGateway gave the interface a slot.
    pub nat: Option<NatConfig>,
    /// Load balancer IPs that route to this interface.
    pub load_balancer_targets: Vec<IP>,
    /// Firewall rules from the NetworkPolicyRules targeting the interface, sorted.
    pub firewall_rules: Vec<FirewallRule>,
}

/// A load balancer destination: an IP and the interface behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationConfig {
    /// The destination IP.
    pub ip: IP,
    /// Name of the apinet NetworkInterface, when known.
    pub name: Option<String>,
    /// UID of the apinet NetworkInterface, when known.
    pub uid: Option<String>,
    /// Node of the apinet NetworkInterface, when known.
    pub node: Option<String>,
}

/// A load balancer instance as programmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerConfig {
    /// UID of the Instance.
    pub uid: String,
    /// The LoadBalancer (`<namespace>/<name>`) it serves, when known.
    pub load_balancer: Option<String>,
    /// `Public` or `Internal`.
    pub load_balancer_type: String,
    /// The network (`<namespace>/<name>`).
    pub network: String,
    /// The network's VNI.
    pub vni: i32,
    /// The frontend IPs.
    pub ips: Vec<IP>,
    /// The ports (empty = all).
    pub ports: Vec<apinet::loadbalancer::LoadBalancerPort>,
    /// Where traffic goes, from the LoadBalancerRouting.
    pub destinations: Vec<DestinationConfig>,
}

/// Why an object cannot be programmed (reported as its state `Error`, or left `Pending`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unprogrammable {
    /// The network does not exist or has no VNI yet: retried, reported `Pending`.
    NetworkNotReady(String),
}

/// Everything one node's dataplane should hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeConfig {
    /// Networks by key.
    pub networks: BTreeMap<String, NetworkConfig>,
    /// Interfaces by key.
    pub interfaces: BTreeMap<String, InterfaceConfig>,
    /// Load balancer instances by key.
    pub load_balancers: BTreeMap<String, LoadBalancerConfig>,
}

/// `<namespace>/<name>` of an object.
pub fn key<K: kube::Resource>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

fn vni(net: &apinet::Network) -> Option<i32> {
    net.spec.id.parse().ok()
}

/// The desired configuration, and the objects that cannot be programmed yet (by key).
pub fn desired(snap: &Snapshot) -> (NodeConfig, BTreeMap<String, Unprogrammable>) {
    let mut cfg = NodeConfig::default();
    let mut blocked = BTreeMap::new();
    let mut vnis: BTreeMap<String, i32> = BTreeMap::new();
    for net in &snap.networks {
        if net.meta().deletion_timestamp.is_some() {
            continue;
        }
        let Some(id) = vni(net) else { continue };
        vnis.insert(key(net), id);
        cfg.networks.insert(key(net), network_config(id, net));
    }
    let lb_targets = load_balancer_targets(snap);
    for nic in &snap.interfaces {
        if nic.meta().deletion_timestamp.is_some() {
            continue;
        }
        let ns = nic.namespace().unwrap_or_default();
        let network = format!("{ns}/{}", nic.spec.network_ref.name);
        let Some(&id) = vnis.get(&network) else {
            blocked.insert(key(nic), Unprogrammable::NetworkNotReady(network));
            continue;
        };
        let targets = nic
            .spec
            .ips
            .iter()
            .filter_map(|ip| lb_targets.get(&(network.clone(), ip.clone())))
            .flatten()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        cfg.interfaces.insert(
            key(nic),
            InterfaceConfig {
                uid: nic.uid().unwrap_or_default(),
                network,
                vni: id,
                ips: nic.spec.ips.clone(),
                prefixes: nic.spec.prefixes.clone(),
                public_ips: nic
                    .spec
                    .public_ips
                    .iter()
                    .filter_map(|p| p.ip.clone())
                    .collect(),
                nat: nat_config(snap, nic),
                load_balancer_targets: targets,
                firewall_rules: firewall_rules(snap, nic),
            },
        );
    }
    for inst in &snap.instances {
        if inst.meta().deletion_timestamp.is_some() {
            continue;
        }
        let ns = inst.namespace().unwrap_or_default();
        let network = format!("{ns}/{}", inst.spec.network_ref.name);
        let Some(&id) = vnis.get(&network) else {
            blocked.insert(key(inst), Unprogrammable::NetworkNotReady(network));
            continue;
        };
        let lb = instance_load_balancer(inst);
        let destinations = lb
            .as_ref()
            .and_then(|lb| snap.routings.iter().find(|r| &key(*r) == lb))
            .map(|r| {
                r.destinations
                    .iter()
                    .filter_map(|d| {
                        Some(DestinationConfig {
                            ip: d.ip.clone()?,
                            name: d.target_ref.as_ref().map(|t| t.name.clone()),
                            uid: d.target_ref.as_ref().map(|t| t.uid.clone()),
                            node: d.target_ref.as_ref().map(|t| t.node_ref.name.clone()),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        cfg.load_balancers.insert(
            key(inst),
            LoadBalancerConfig {
                uid: inst.uid().unwrap_or_default(),
                load_balancer: lb,
                load_balancer_type: inst.spec.load_balancer_type.clone(),
                network,
                vni: id,
                ips: inst.spec.ips.clone(),
                ports: inst.spec.load_balancer_ports.clone(),
                destinations,
            },
        );
    }
    (cfg, blocked)
}

fn network_config(id: i32, net: &apinet::Network) -> NetworkConfig {
    let mut peered_ids: Vec<i32> = net
        .spec
        .peerings
        .iter()
        .filter_map(|p| p.id.parse().ok())
        .collect();
    peered_ids.sort_unstable();
    peered_ids.dedup();
    let peered_prefixes = net
        .spec
        .peerings
        .iter()
        .filter_map(|p| {
            let id: i32 = p.id.parse().ok()?;
            let prefixes: Vec<IPPrefix> = p.prefixes.iter().filter_map(|pp| pp.prefix).collect();
            (!prefixes.is_empty()).then_some((id, prefixes))
        })
        .collect();
    NetworkConfig {
        vni: id,
        peered_ids,
        peered_prefixes,
    }
}

/// The LoadBalancer (`<namespace>/<name>`) an Instance serves: its controlling DaemonSet is
/// named `lb-<load balancer>`.
pub fn instance_load_balancer(inst: &apinet::Instance) -> Option<String> {
    let ds = inst
        .owner_references()
        .iter()
        .find(|o| o.kind == "DaemonSet" && o.controller == Some(true))?;
    let lb = ds.name.strip_prefix(DAEMON_SET_PREFIX)?;
    Some(format!("{}/{lb}", inst.namespace().unwrap_or_default()))
}

/// Load balancer IPs by (network key, destination IP).
fn load_balancer_targets(snap: &Snapshot) -> BTreeMap<(String, IP), Vec<IP>> {
    let mut out: BTreeMap<(String, IP), Vec<IP>> = BTreeMap::new();
    for lb in &snap.load_balancers {
        let Some(routing) = snap.routings.iter().find(|r| key(*r) == key(lb)) else {
            continue;
        };
        let ns = lb.namespace().unwrap_or_default();
        let network = format!("{ns}/{}", lb.spec.network_ref.name);
        let lb_ips: Vec<IP> = lb.spec.ips.iter().filter_map(|i| i.ip.clone()).collect();
        for d in &routing.destinations {
            if let Some(ip) = &d.ip {
                out.entry((network.clone(), ip.clone()))
                    .or_default()
                    .extend(lb_ips.iter().cloned());
            }
        }
    }
    out
}

/// The NAT slot of `nic`: a section of the NATTable of a gateway the NIC's claim names (by
/// name and UID), targeting the NIC by UID.
fn nat_config(snap: &Snapshot, nic: &apinet::NetworkInterface) -> Option<NatConfig> {
    let ns = nic.namespace().unwrap_or_default();
    let uid = nic.uid().unwrap_or_default();
    for claim in &nic.spec.nats {
        let Some(table) = snap.nat_tables.iter().find(|t| {
            t.namespace().unwrap_or_default() == ns
                && t.name_any() == claim.claim_ref.name
                && t.owner_references()
                    .iter()
                    .any(|o| o.uid == claim.claim_ref.uid)
        }) else {
            continue;
        };
        for nat_ip in &table.ips {
            let Some(public) = nat_ip.ip.clone() else {
                continue;
            };
            if let Some(s) = nat_ip
                .sections
                .iter()
                .find(|s| s.target_ref.as_ref().is_some_and(|t| t.uid == uid))
            {
                return Some(NatConfig {
                    ip: public,
                    port: s.port,
                    end_port: s.end_port,
                    gateway: key(table),
                });
            }
        }
    }
    None
}

/// Firewall rules of `nic`: one per (port × remote prefix) of every NetworkPolicyRule of its
/// network that targets one of its IPs; a block's `except` prefixes are denied. A rule entry
/// without ports matches all ports (unlike upstream, which programs nothing for it).
fn firewall_rules(snap: &Snapshot, nic: &apinet::NetworkInterface) -> Vec<FirewallRule> {
    let ns = nic.namespace().unwrap_or_default();
    let mut out = Vec::new();
    for rule in &snap.policy_rules {
        if rule.namespace().unwrap_or_default() != ns
            || rule.network_ref.name != nic.spec.network_ref.name
        {
            continue;
        }
        let targeted = rule
            .targets
            .iter()
            .any(|t| t.ip.as_ref().is_some_and(|ip| nic.spec.ips.contains(ip)));
        if !targeted {
            continue;
        }
        let policy = key(rule);
        let priority = rule.priority.unwrap_or(1000);
        let dirs = [
            (Direction::Ingress, &rule.ingress_rules),
            (Direction::Egress, &rule.egress_rules),
        ];
        for (direction, entries) in dirs {
            for entry in entries {
                let mut remotes: Vec<(Action, IPPrefix)> = Vec::new();
                for block in &entry.cidr_block {
                    if let Some(cidr) = block.cidr {
                        remotes.push((Action::Accept, cidr));
                    }
                    remotes.extend(block.except.iter().map(|e| (Action::Deny, *e)));
                }
                remotes.extend(
                    entry
                        .object_ips
                        .iter()
                        .filter_map(|o| o.prefix)
                        .map(|p| (Action::Accept, p)),
                );
                let ports: Vec<(Option<String>, i32, i32)> =
                    if entry.network_policy_ports.is_empty() {
                        vec![(None, 0, 0)]
                    } else {
                        entry
                            .network_policy_ports
                            .iter()
                            .map(|p| (p.protocol.clone(), p.port, p.end_port.unwrap_or(p.port)))
                            .collect()
                    };
                for (protocol, port, end_port) in &ports {
                    for (action, prefix) in &remotes {
                        out.push(FirewallRule {
                            policy: policy.clone(),
                            direction,
                            action: *action,
                            priority,
                            protocol: protocol.clone(),
                            port: *port,
                            end_port: *end_port,
                            prefix: *prefix,
                        });
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from<T>(mut v: serde_json::Value) -> T
    where
        T: serde::de::DeserializeOwned + kube::Resource<DynamicType = ()>,
    {
        v["apiVersion"] = json!(T::api_version(&()));
        v["kind"] = json!(T::kind(&()));
        serde_json::from_value(v).expect("fixture")
    }

    fn network(name: &str, id: &str, peerings: serde_json::Value) -> apinet::Network {
        from(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"id": id, "peerings": peerings},
        }))
    }

    fn nic(name: &str, ip: &str, extra: serde_json::Value) -> apinet::NetworkInterface {
        let mut spec =
            json!({"nodeRef": {"name": "node-a"}, "networkRef": {"name": "net"}, "ips": [ip]});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        from(json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}")},
            "spec": spec,
        }))
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            networks: vec![network("net", "200", json!([]))],
            ..Default::default()
        }
    }

    #[test]
    fn networks_carry_vni_and_sorted_peerings_with_prefixes() {
        let mut snap = snapshot();
        snap.networks = vec![network(
            "net",
            "200",
            json!([
                {"name": "b", "id": "300"},
                {"name": "a", "id": "201", "prefixes": [{"name": "x", "prefix": "10.9.0.0/16"}]},
            ]),
        )];
        let (cfg, _) = desired(&snap);
        let n = &cfg.networks["ns/net"];
        assert_eq!(n.vni, 200);
        assert_eq!(n.peered_ids, [201, 300]);
        assert_eq!(n.peered_prefixes.len(), 1);
        assert_eq!(n.peered_prefixes[&201][0].to_string(), "10.9.0.0/16");
    }

    #[test]
    fn networks_without_vni_are_not_programmed() {
        let mut snap = snapshot();
        snap.networks.push(network("fresh", "", json!([])));
        let (cfg, _) = desired(&snap);
        assert!(cfg.networks.contains_key("ns/net"));
        assert!(!cfg.networks.contains_key("ns/fresh"));
    }

    #[test]
    fn an_interface_of_a_network_without_vni_is_blocked() {
        let mut snap = Snapshot::default();
        snap.interfaces.push(nic("a", "10.1.0.1", json!({})));
        let (cfg, blocked) = desired(&snap);
        assert!(cfg.interfaces.is_empty());
        assert_eq!(
            blocked["ns/a"],
            Unprogrammable::NetworkNotReady("ns/net".into())
        );
    }

    #[test]
    fn interfaces_carry_ips_public_ips_and_vni() {
        let mut snap = snapshot();
        snap.interfaces.push(nic(
            "a",
            "10.1.0.1",
            json!({"publicIPs": [{"name": "x", "ipFamily": "IPv4", "ip": "10.0.0.7"}],
                   "prefixes": ["10.2.0.0/24"]}),
        ));
        let (cfg, blocked) = desired(&snap);
        assert!(blocked.is_empty());
        let i = &cfg.interfaces["ns/a"];
        assert_eq!(i.vni, 200);
        assert_eq!(i.uid, "uid-a");
        assert_eq!(i.ips[0].to_string(), "10.1.0.1");
        assert_eq!(i.public_ips[0].to_string(), "10.0.0.7");
        assert_eq!(i.prefixes[0].to_string(), "10.2.0.0/24");
        assert_eq!(i.nat, None);
    }

    #[test]
    fn nat_comes_from_the_claimed_gateways_table_section() {
        let mut snap = snapshot();
        snap.interfaces.push(nic(
            "a",
            "10.1.0.1",
            json!({"natGateways": [{"ipFamily": "IPv4", "claimRef": {"name": "gw", "uid": "gw-uid"}}]}),
        ));
        snap.nat_tables.push(from(json!({
            "metadata": {"name": "gw", "namespace": "ns",
                "ownerReferences": [{"apiVersion": "core.apinet.ironcore.dev/v1alpha1",
                    "kind": "NATGateway", "name": "gw", "uid": "gw-uid", "controller": true}]},
            "ips": [{"ip": "10.0.0.9", "sections": [
                {"ip": "10.1.0.2", "port": 1024, "endPort": 1087, "targetRef": {"uid": "uid-b", "name": "b", "nodeRef": {"name": "node-a"}}},
                {"ip": "10.1.0.1", "port": 1088, "endPort": 1151, "targetRef": {"uid": "uid-a", "name": "a", "nodeRef": {"name": "node-a"}}},
            ]}],
        })));
        let (cfg, _) = desired(&snap);
        let nat = cfg.interfaces["ns/a"].nat.clone().expect("nat");
        assert_eq!(
            (nat.ip.to_string(), nat.port, nat.end_port, nat.gateway),
            ("10.0.0.9".into(), 1088, 1151, "ns/gw".into())
        );
    }

    #[test]
    fn nat_of_a_table_owned_by_another_gateway_uid_is_ignored() {
        let mut snap = snapshot();
        snap.interfaces.push(nic(
            "a",
            "10.1.0.1",
            json!({"natGateways": [{"ipFamily": "IPv4", "claimRef": {"name": "gw", "uid": "old"}}]}),
        ));
        snap.nat_tables.push(from(json!({
            "metadata": {"name": "gw", "namespace": "ns",
                "ownerReferences": [{"apiVersion": "v", "kind": "NATGateway", "name": "gw", "uid": "new"}]},
            "ips": [{"ip": "10.0.0.9", "sections": [
                {"ip": "10.1.0.1", "port": 1024, "endPort": 1087, "targetRef": {"uid": "uid-a", "name": "a", "nodeRef": {"name": "node-a"}}}]}],
        })));
        let (cfg, _) = desired(&snap);
        assert_eq!(cfg.interfaces["ns/a"].nat, None);
    }

    #[test]
    fn firewall_rules_expand_ports_blocks_excepts_and_object_ips() {
        let mut snap = snapshot();
        snap.interfaces.push(nic("a", "10.1.0.1", json!({})));
        snap.policy_rules.push(from(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "networkRef": {"name": "net", "uid": "u"},
            "targets": [{"ip": "10.1.0.1"}],
            "priority": 1000,
            "ingressRule": [{
                "ipBlock": [{"cidr": "192.168.1.0/24", "except": ["192.168.1.1/32"]}],
                "ips": [{"ipFamily": "IPv4", "prefix": "10.1.0.5/32"}],
                "networkPolicyPorts": [{"protocol": "TCP", "port": 80}, {"protocol": "UDP", "port": 8080, "endPort": 8090}],
            }],
            "egressRule": [{"ipBlock": [{"cidr": "10.0.0.0/16"}]}],
        })));
        let (cfg, _) = desired(&snap);
        let rules = &cfg.interfaces["ns/a"].firewall_rules;
        let ingress: Vec<_> = rules
            .iter()
            .filter(|r| r.direction == Direction::Ingress)
            .collect();
        assert_eq!(ingress.len(), 6, "2 ports x 3 remotes");
        assert!(ingress.iter().any(|r| r.action == Action::Deny
            && r.prefix.to_string() == "192.168.1.1/32"
            && r.port == 8080
            && r.end_port == 8090));
        let egress: Vec<_> = rules
            .iter()
            .filter(|r| r.direction == Direction::Egress)
            .collect();
        assert_eq!(egress.len(), 1);
        assert_eq!((egress[0].port, egress[0].protocol.clone()), (0, None));
    }

    #[test]
    fn firewall_rules_of_policies_not_targeting_the_interface_are_skipped() {
        let mut snap = snapshot();
        snap.interfaces.push(nic("a", "10.1.0.1", json!({})));
        snap.policy_rules.push(from(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "networkRef": {"name": "net", "uid": "u"},
            "targets": [{"ip": "10.1.0.2"}],
            "egressRule": [{"ipBlock": [{"cidr": "10.0.0.0/16"}]}],
        })));
        let (cfg, _) = desired(&snap);
        assert!(cfg.interfaces["ns/a"].firewall_rules.is_empty());
    }

    fn lb_and_routing(snap: &mut Snapshot) {
        snap.load_balancers.push(from(json!({
            "metadata": {"name": "lb", "namespace": "ns"},
            "spec": {"type": "Public", "networkRef": {"name": "net"},
                     "ips": [{"name": "ipv4", "ipFamily": "IPv4", "ip": "10.0.0.5"}],
                     "template": {}},
        })));
        snap.routings.push(from(json!({
            "metadata": {"name": "lb", "namespace": "ns"},
            "destinations": [{"ip": "10.1.0.1", "targetRef": {"uid": "uid-a", "name": "a", "nodeRef": {"name": "node-a"}}}],
        })));
    }

    #[test]
    fn interfaces_know_the_load_balancers_routing_to_them() {
        let mut snap = snapshot();
        snap.interfaces.push(nic("a", "10.1.0.1", json!({})));
        snap.interfaces.push(nic("b", "10.1.0.2", json!({})));
        lb_and_routing(&mut snap);
        let (cfg, _) = desired(&snap);
        assert_eq!(
            cfg.interfaces["ns/a"].load_balancer_targets[0].to_string(),
            "10.0.0.5"
        );
        assert!(cfg.interfaces["ns/b"].load_balancer_targets.is_empty());
    }

    #[test]
    fn instances_carry_their_load_balancers_routing() {
        let mut snap = snapshot();
        lb_and_routing(&mut snap);
        snap.instances.push(from(json!({
            "metadata": {"name": "lb-lb-abc", "namespace": "ns", "uid": "i-uid",
                "ownerReferences": [{"apiVersion": "v", "kind": "DaemonSet", "name": "lb-lb", "uid": "d", "controller": true}]},
            "spec": {"type": "LoadBalancer", "loadBalancerType": "Public", "networkRef": {"name": "net"},
                     "ips": ["10.0.0.5"], "nodeRef": {"name": "node-a"}},
        })));
        let (cfg, _) = desired(&snap);
        let lb = &cfg.load_balancers["ns/lb-lb-abc"];
        assert_eq!(lb.load_balancer.as_deref(), Some("ns/lb"));
        assert_eq!(lb.vni, 200);
        assert_eq!(lb.destinations.len(), 1);
        assert_eq!(lb.destinations[0].name.as_deref(), Some("a"));
        assert_eq!(lb.destinations[0].ip.to_string(), "10.1.0.1");
    }
}
