//! NetworkPolicy: which traffic the selected NetworkInterfaces of a network may send and receive.

use std::collections::BTreeSet;

use ironcore_apimachinery::meta::validate_label_selector;
use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{
    AGE, FIELD_IMMUTABLE, LocalObjectReference, ObjectSelector, column, format_label_selector,
    is_zero_i32, validate_enum, validate_port_number, validate_protocol,
    validate_required_dns_label,
};
use super::{FIELD_SPEC_NETWORK_REF_NAME, GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IPPrefix, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// Policy type: the policy regulates ingress traffic.
pub const POLICY_TYPE_INGRESS: &str = "Ingress";
/// Policy type: the policy regulates egress traffic.
pub const POLICY_TYPE_EGRESS: &str = "Egress";
/// The supported policy types, sorted.
pub const POLICY_TYPES: &[&str] = &[POLICY_TYPE_EGRESS, POLICY_TYPE_INGRESS];
/// The kinds an `objectSelector` may select (ingress and egress alike), sorted.
pub const OBJECT_SELECTOR_KINDS: &[&str] = &["LoadBalancer", "NetworkInterface"];

/// A NetworkPolicy of the apinet layer (no status).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPolicy {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkPolicy>,
    /// Always `NetworkPolicy`.
    pub kind: KindTag<NetworkPolicy>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: NetworkPolicySpec,
}

/// The desired state of a NetworkPolicy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// The apinet Network the policy regulates.
    #[serde(default)]
    pub network_ref: LocalObjectReference,
    /// Selects the NetworkInterfaces subject to the policy.
    #[serde(default)]
    pub network_interface_selector: LabelSelector,
    /// Order of application (lower first); must not be negative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Ingress rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<NetworkPolicyIngressRule>,
    /// Egress rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<NetworkPolicyEgressRule>,
    /// The directions the policy regulates: `Ingress`, `Egress`; required, no duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_types: Vec<String>,
}

/// A rule for ingress traffic: peers and ports are each ORed; empty matches all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPolicyIngressRule {
    /// The allowed sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<NetworkPolicyPeer>,
    /// The allowed ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<NetworkPolicyPort>,
}

/// A rule for egress traffic: peers and ports are each ORed; empty matches all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPolicyEgressRule {
    /// The allowed destination ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<NetworkPolicyPort>,
    /// The allowed destinations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<NetworkPolicyPeer>,
}

/// A peer to allow traffic from or to: at most one of its fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPeer {
    /// Objects of a kind selected by labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_selector: Option<ObjectSelector>,
    /// An IP block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IPBlock>,
}

/// An IP block with optional exceptions inside it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IPBlock {
    /// The block; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<IPPrefix>,
    /// Prefixes inside `cidr` that are excluded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<IPPrefix>,
}

/// A port (range) to allow traffic on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPort {
    /// `TCP`, `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The port; 0 (omitted) matches all ports.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub port: i32,
    /// The last port of a range starting at `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i32>,
}

/// A list of NetworkPolicies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPolicyList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkPolicy>,
    /// Always `NetworkPolicyList`.
    pub kind: ListKindTag<NetworkPolicy>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The NetworkPolicies.
    pub items: Vec<NetworkPolicy>,
}

crate::impl_resource!(NetworkPolicy, group: GROUP, version: VERSION, plural: "networkpolicies", scope: Namespaced);

/// Whether `inner` lies entirely inside `outer` (same family, at least as long, same network).
pub fn prefix_contains_prefix(outer: &IPPrefix, inner: &IPPrefix) -> bool {
    inner.bits() >= outer.bits() && outer.contains(inner.addr())
}

/// Validates a port: `port` 1..=65535 when set; `endPort` needs `port`, `port <= endPort <= 65535`.
pub fn validate_network_policy_port(port: &NetworkPolicyPort, path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if port.port != 0 {
        errs.extend(validate_port_number(port.port, &path.child("port")));
    }
    if let Some(end) = port.end_port {
        let p = path.child("endPort");
        if port.port == 0 {
            errs.push(FieldError::forbidden(
                &p,
                "must not specify endPort without port",
            ));
        } else if end < port.port {
            errs.push(FieldError::forbidden(
                &p,
                format!("endPort {end} must not be smaller than port {}", port.port),
            ));
        } else if end > 65535 {
            errs.push(FieldError::invalid(
                &p,
                end,
                "must be between 1 and 65535, inclusive",
            ));
        }
    }
    if let Some(protocol) = &port.protocol {
        errs.extend(validate_protocol(protocol, &path.child("protocol")));
    }
    errs
}

/// Validates an IP block: `cidr` required; every `except` inside it.
pub fn validate_ip_block(block: &IPBlock, path: &Path) -> FieldErrors {
    let Some(cidr) = &block.cidr else {
        return vec![FieldError::required(
            &path.child("cidr"),
            "must specify cidr",
        )];
    };
    let mut errs = FieldErrors::new();
    for (i, except) in block.except.iter().enumerate() {
        if !prefix_contains_prefix(cidr, except) {
            errs.push(FieldError::forbidden(
                &path.child("except").index(i),
                format!("cidr {cidr} does not contain except {except}"),
            ));
        }
    }
    errs
}

fn validate_peer(peer: &NetworkPolicyPeer, path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if let Some(sel) = &peer.object_selector {
        let p = path.child("objectSelector");
        errs.extend(validate_enum(
            &sel.kind,
            OBJECT_SELECTOR_KINDS,
            &p.child("kind"),
            "must specify kind",
        ));
        errs.extend(validate_label_selector(&sel.label_selector, &p));
    }
    if let Some(block) = &peer.ip_block {
        let p = path.child("ipBlock");
        if peer.object_selector.is_some() {
            errs.push(FieldError::forbidden(&p, "cannot specify multiple peers"));
        } else {
            errs.extend(validate_ip_block(block, &p));
        }
    }
    errs
}

fn validate_rule(
    peers: &[NetworkPolicyPeer],
    peers_field: &str,
    ports: &[NetworkPolicyPort],
    path: &Path,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, peer) in peers.iter().enumerate() {
        errs.extend(validate_peer(peer, &path.child(peers_field).index(i)));
    }
    for (i, port) in ports.iter().enumerate() {
        errs.extend(validate_network_policy_port(
            port,
            &path.child("ports").index(i),
        ));
    }
    errs
}

impl ApiKind for NetworkPolicy {
    type List = NetworkPolicyList;

    const FACTS: KindFacts = KindFacts {
        singular: "networkpolicy",
        short_names: &[],
        namespaced: true,
        has_status: false,
        name_validator: name_is_dns_label,
        field_labels: &[FIELD_SPEC_NETWORK_REF_NAME],
    };

    fn validate(&self) -> FieldErrors {
        let spec = Path::new("spec");
        let s = &self.spec;
        let mut errs = validate_required_dns_label(
            &s.network_ref.name,
            &spec.child("networkRef").child("name"),
            "must specify a network ref",
        );
        errs.extend(validate_label_selector(
            &s.network_interface_selector,
            &spec.child("networkInterfaceSelector"),
        ));
        if let Some(p) = s.priority.filter(|p| *p < 0) {
            errs.push(FieldError::invalid(
                &spec.child("priority"),
                p,
                "priority cannot be negative",
            ));
        }
        for (i, rule) in s.ingress.iter().enumerate() {
            errs.extend(validate_rule(
                &rule.from,
                "from",
                &rule.ports,
                &spec.child("ingress").index(i),
            ));
        }
        for (i, rule) in s.egress.iter().enumerate() {
            errs.extend(validate_rule(
                &rule.to,
                "to",
                &rule.ports,
                &spec.child("egress").index(i),
            ));
        }
        let types = spec.child("policyTypes");
        if s.policy_types.is_empty() {
            errs.push(FieldError::required(&types, "must specify policyTypes"));
        }
        let mut seen = BTreeSet::new();
        for (i, t) in s.policy_types.iter().enumerate() {
            let p = types.index(i);
            let type_errs = validate_enum(t, POLICY_TYPES, &p, "must specify type");
            if type_errs.is_empty() && !seen.insert(t.as_str()) {
                errs.push(FieldError::duplicate(&p, t.as_str()));
            }
            errs.extend(type_errs);
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = self.validate();
        if self.spec.network_ref != old.spec.network_ref {
            errs.push(FieldError::forbidden(
                &Path::new("spec").child("networkRef"),
                FIELD_IMMUTABLE,
            ));
        }
        errs
    }

    fn field_label(&self, label: &str) -> Option<String> {
        (label == FIELD_SPEC_NETWORK_REF_NAME).then(|| self.spec.network_ref.name.clone())
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[
            column("Network", "The network this network policy affects."),
            column("Nic-Selector", "The selector for network interfaces."),
            AGE,
        ];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        vec![
            self.spec.network_ref.name.as_str().into(),
            format_label_selector(&self.spec.network_interface_selector).into(),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn valid() -> NetworkPolicy {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "np", "namespace": "ns"},
            "spec": {
                "networkRef": {"name": "net"},
                "networkInterfaceSelector": {"matchLabels": {"app": "db"}},
                "priority": 1000,
                "policyTypes": ["Ingress"]
            }
        }))
        .unwrap()
    }

    fn prefix(s: &str) -> IPPrefix {
        s.parse().unwrap()
    }

    fn block(cidr: &str, except: &[&str]) -> NetworkPolicyPeer {
        NetworkPolicyPeer {
            object_selector: None,
            ip_block: Some(IPBlock {
                cidr: Some(prefix(cidr)),
                except: except.iter().map(|e| prefix(e)).collect(),
            }),
        }
    }

    fn objects(kind: &str) -> NetworkPolicyPeer {
        NetworkPolicyPeer {
            object_selector: Some(ObjectSelector {
                kind: kind.into(),
                label_selector: LabelSelector::default(),
            }),
            ip_block: None,
        }
    }

    fn with_ingress(peers: Vec<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) -> NetworkPolicy {
        let mut np = valid();
        np.spec.ingress = vec![NetworkPolicyIngressRule { from: peers, ports }];
        np
    }

    fn port(port: i32, end_port: Option<i32>) -> NetworkPolicyPort {
        NetworkPolicyPort {
            protocol: None,
            port,
            end_port,
        }
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<NetworkPolicy>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "np", "namespace": "ns"},
            "spec": {
                "networkRef": {"name": "net"},
                "networkInterfaceSelector": {"matchLabels": {"app": "db"}},
                "priority": 1000,
                "ingress": [{
                    "from": [
                        {"objectSelector": {"kind": "NetworkInterface", "matchLabels": {"app": "web"}}},
                        {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]}}
                    ],
                    "ports": [{"protocol": "TCP", "port": 5432}, {"port": 8000, "endPort": 8080}, {"protocol": "UDP"}]
                }],
                "egress": [{"ports": [{"port": 53}], "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
                "policyTypes": ["Ingress", "Egress"]
            }
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut np = valid();
        np.metadata.name = Some("np.1".into());
        assert_one(
            &np.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn network_ref_name_is_required() {
        let mut np = valid();
        np.spec.network_ref.name.clear();
        assert_one(&np.validate(), "spec.networkRef.name", ErrorType::Required);
    }

    #[test]
    fn network_ref_name_must_be_a_dns_label() {
        let mut np = valid();
        np.spec.network_ref.name = "a.b".into();
        assert_one(&np.validate(), "spec.networkRef.name", ErrorType::Invalid);
    }

    #[test]
    fn invalid_network_interface_selector_is_invalid() {
        let mut np = valid();
        np.spec.network_interface_selector.match_expressions =
            Some(vec![LabelSelectorRequirement {
                key: "app".into(),
                operator: "Near".into(),
                values: None,
            }]);
        assert_one(
            &np.validate(),
            "spec.networkInterfaceSelector.matchExpressions[0].operator",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn negative_priority_is_invalid() {
        let mut np = valid();
        np.spec.priority = Some(-1);
        assert_one(&np.validate(), "spec.priority", ErrorType::Invalid);
    }

    #[test]
    fn policy_types_are_required() {
        let mut np = valid();
        np.spec.policy_types.clear();
        assert_one(&np.validate(), "spec.policyTypes", ErrorType::Required);
    }

    #[test]
    fn unknown_policy_type_is_not_supported() {
        let mut np = valid();
        np.spec.policy_types = vec!["Sideways".into()];
        assert_one(
            &np.validate(),
            "spec.policyTypes[0]",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn empty_policy_type_is_required() {
        let mut np = valid();
        np.spec.policy_types = vec![String::new()];
        assert_one(&np.validate(), "spec.policyTypes[0]", ErrorType::Required);
    }

    #[test]
    fn duplicate_policy_type_is_duplicate() {
        let mut np = valid();
        np.spec.policy_types = vec!["Ingress".into(), "Ingress".into()];
        assert_one(&np.validate(), "spec.policyTypes[1]", ErrorType::Duplicate);
    }

    #[test]
    fn peer_with_both_selector_and_block_is_forbidden() {
        let mut peer = objects("NetworkInterface");
        peer.ip_block = block("10.0.0.0/8", &[]).ip_block;
        let np = with_ingress(vec![peer], vec![]);
        assert_one(
            &np.validate(),
            "spec.ingress[0].from[0].ipBlock",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn empty_peer_is_accepted() {
        let np = with_ingress(vec![NetworkPolicyPeer::default()], vec![]);
        assert!(np.validate().is_empty());
    }

    #[test]
    fn object_selector_kind_is_required() {
        let np = with_ingress(vec![objects("")], vec![]);
        assert_one(
            &np.validate(),
            "spec.ingress[0].from[0].objectSelector.kind",
            ErrorType::Required,
        );
    }

    #[test]
    fn unknown_object_selector_kind_is_not_supported() {
        let mut np = valid();
        np.spec.egress = vec![NetworkPolicyEgressRule {
            ports: vec![],
            to: vec![objects("VirtualIP")],
        }];
        assert_one(
            &np.validate(),
            "spec.egress[0].to[0].objectSelector.kind",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn invalid_object_selector_labels_are_invalid_under_the_inline_selector() {
        let mut peer = objects("LoadBalancer");
        if let Some(sel) = peer.object_selector.as_mut() {
            sel.label_selector.match_labels = Some([("-x".to_owned(), "y".to_owned())].into());
        }
        let np = with_ingress(vec![peer], vec![]);
        assert_one(
            &np.validate(),
            "spec.ingress[0].from[0].objectSelector.matchLabels",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn ip_block_cidr_is_required() {
        let mut peer = block("10.0.0.0/8", &[]);
        if let Some(b) = peer.ip_block.as_mut() {
            b.cidr = None;
        }
        let np = with_ingress(vec![peer], vec![]);
        assert_one(
            &np.validate(),
            "spec.ingress[0].from[0].ipBlock.cidr",
            ErrorType::Required,
        );
    }

    #[test]
    fn except_outside_cidr_is_forbidden() {
        let np = with_ingress(
            vec![block("10.0.0.0/16", &["10.0.1.0/24", "10.1.0.0/24"])],
            vec![],
        );
        assert_one(
            &np.validate(),
            "spec.ingress[0].from[0].ipBlock.except[1]",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn except_wider_than_cidr_is_forbidden() {
        let np = with_ingress(vec![block("10.0.0.0/16", &["10.0.0.0/8"])], vec![]);
        assert_one(
            &np.validate(),
            "spec.ingress[0].from[0].ipBlock.except[0]",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn except_of_other_family_is_forbidden() {
        let np = with_ingress(vec![block("0.0.0.0/0", &["::/64"])], vec![]);
        assert_one(
            &np.validate(),
            "spec.ingress[0].from[0].ipBlock.except[0]",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn port_out_of_range_is_invalid() {
        let np = with_ingress(vec![], vec![port(65536, None)]);
        assert_one(
            &np.validate(),
            "spec.ingress[0].ports[0].port",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn end_port_without_port_is_forbidden() {
        let np = with_ingress(vec![], vec![port(0, Some(80))]);
        assert_one(
            &np.validate(),
            "spec.ingress[0].ports[0].endPort",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn end_port_below_port_is_forbidden() {
        let np = with_ingress(vec![], vec![port(80, Some(79))]);
        assert_one(
            &np.validate(),
            "spec.ingress[0].ports[0].endPort",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn end_port_above_65535_is_invalid() {
        let np = with_ingress(vec![], vec![port(80, Some(65536))]);
        assert_one(
            &np.validate(),
            "spec.ingress[0].ports[0].endPort",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn unknown_protocol_is_not_supported() {
        let np = with_ingress(
            vec![],
            vec![NetworkPolicyPort {
                protocol: Some("ICMP".into()),
                port: 0,
                end_port: None,
            }],
        );
        assert_one(
            &np.validate(),
            "spec.ingress[0].ports[0].protocol",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn empty_protocol_is_required() {
        let np = with_ingress(
            vec![],
            vec![NetworkPolicyPort {
                protocol: Some(String::new()),
                port: 0,
                end_port: None,
            }],
        );
        assert_one(
            &np.validate(),
            "spec.ingress[0].ports[0].protocol",
            ErrorType::Required,
        );
    }

    #[test]
    fn network_ref_is_immutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.network_ref.name = "other".into();
        assert_one(
            &new.validate_update(&old),
            "spec.networkRef",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn rules_and_selector_are_mutable() {
        let old = valid();
        let mut new = with_ingress(vec![block("10.0.0.0/8", &[])], vec![port(80, None)]);
        new.spec.network_interface_selector = LabelSelector::default();
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn network_ref_name_is_a_field_label() {
        assert_eq!(
            valid().field_label("spec.networkRef.name"),
            Some("net".into())
        );
    }

    #[test]
    fn table_shows_network_and_selector() {
        let cells = valid().table_cells();
        assert_eq!(cells[..2], ["net", "app=db"]);
        assert_eq!(NetworkPolicy::table_columns().len(), cells.len());
    }
}
