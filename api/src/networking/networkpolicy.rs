//! NetworkPolicy: ingress and egress rules for the selected NetworkInterfaces of a Network.
//!
//! Seed decision (DESIGN.md §3): a port `protocol` left empty defaults to `TCP`.
//! Fixed upstream quirks (networking-upstream.md §3.7, §12.8): `policyTypes` defaulting only
//! appends the missing types (upstream de-duplicates and sorts, which made the Duplicate rule
//! unreachable); a peer must name an object selector or an IP block (upstream accepts `{}`);
//! `endPort` is range-checked like `port`.

use std::collections::HashSet;

use ironcore_apimachinery::meta::validate_label_selector;
use ironcore_apimachinery::names::name_is_dns_subdomain;
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ListMeta, ObjectMeta, Time};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{
    LocalObjectReference, ObjectSelector, default_protocol, format_label_selector, is_zero_i32,
    is_zero_i64, validate_enum, validate_network_ref, validate_network_ref_unchanged,
    validate_port_number, validate_protocol,
};
use super::{FIELD_LABEL_NETWORK_REF_NAME, GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IPPrefix, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A NetworkPolicy: which traffic the selected NetworkInterfaces may send and receive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPolicy {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkPolicy>,
    /// Always `NetworkPolicy`.
    pub kind: KindTag<NetworkPolicy>,
    /// Standard object metadata.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub spec: NetworkPolicySpec,
    /// The observed state.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub status: NetworkPolicyStatus,
}

/// The desired state of a NetworkPolicy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// The Network (same namespace) the policy regulates; immutable.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub network_ref: LocalObjectReference,
    /// Selects the NetworkInterfaces subject to the policy.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub network_interface_selector: LabelSelector,
    /// Rules for incoming traffic.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ingress: Vec<NetworkPolicyIngressRule>,
    /// Rules for outgoing traffic.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub egress: Vec<NetworkPolicyEgressRule>,
    /// `Ingress` and/or `Egress`; defaulted from the rules present.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub policy_types: Vec<String>,
}

/// A rule for incoming traffic: from any of `from`, on any of `ports`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPolicyIngressRule {
    /// The allowed ports; empty = all.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<NetworkPolicyPort>,
    /// The allowed sources; empty = all.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub from: Vec<NetworkPolicyPeer>,
}

/// A rule for outgoing traffic: to any of `to`, on any of `ports`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPolicyEgressRule {
    /// The allowed ports; empty = all.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<NetworkPolicyPort>,
    /// The allowed destinations; empty = all.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub to: Vec<NetworkPolicyPeer>,
}

/// A port (range) of a rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPort {
    /// `TCP` (the default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The (first) port; 0 = all ports.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub port: i32,
    /// The last port of the range, inclusive; needs `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i32>,
}

/// A traffic peer: objects selected by kind and labels, or an IP block (exactly one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPeer {
    /// Objects of a kind, by labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_selector: Option<ObjectSelector>,
    /// A CIDR with exceptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IPBlock>,
}

/// A CIDR with optional exceptions inside it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IPBlock {
    /// The CIDR of the block, e.g. `10.0.0.0/16`.
    // Always emitted (`null` when unset), as Go does.
    #[serde(default)]
    pub cidr: Option<IPPrefix>,
    /// Sub-ranges of `cidr` excluded from it.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub except: Vec<IPPrefix>,
}

/// The observed state of a NetworkPolicy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPolicyStatus {
    /// Conditions reported by the network plugin.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<NetworkPolicyCondition>,
}

/// One condition of a NetworkPolicy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyCondition {
    /// The type of the condition (free form).
    #[serde(
        rename = "type",
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub status: String,
    /// Machine-readable reason.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub reason: String,
    /// Human-readable message.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub message: String,
    /// The `metadata.generation` the condition was based on.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "is_zero_i64"
    )]
    pub observed_generation: i64,
    /// When the status last changed.
    // Always emitted (`null` when unset), as Go does.
    #[serde(default)]
    pub last_transition_time: Option<Time>,
}

/// A list of NetworkPolicies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPolicyList {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkPolicy>,
    /// Always `NetworkPolicyList`.
    pub kind: ListKindTag<NetworkPolicy>,
    /// Standard list metadata.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub metadata: ListMeta,
    /// The NetworkPolicies.
    pub items: Vec<NetworkPolicy>,
}

crate::impl_resource!(NetworkPolicy, group: GROUP, version: VERSION, plural: "networkpolicies", scope: Namespaced);

/// Policy type for incoming traffic.
pub const POLICY_TYPE_INGRESS: &str = "Ingress";
/// Policy type for outgoing traffic.
pub const POLICY_TYPE_EGRESS: &str = "Egress";
/// Kinds a peer's object selector may select, sorted.
pub const SUPPORTED_PEER_KINDS: &[&str] = &["LoadBalancer", "NetworkInterface", "VirtualIP"];

fn validate_peer(peer: &NetworkPolicyPeer, path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if let Some(sel) = &peer.object_selector {
        let p = path.child("objectSelector");
        errs.extend(validate_enum(
            &sel.kind,
            SUPPORTED_PEER_KINDS,
            &p.child("kind"),
            "must specify kind",
        ));
        errs.extend(validate_label_selector(&sel.label_selector(), &p));
    }
    if let Some(block) = &peer.ip_block {
        let p = path.child("ipBlock");
        if peer.object_selector.is_some() {
            errs.push(FieldError::forbidden(&p, "cannot specify multiple peers"));
        } else {
            errs.extend(validate_ip_block(block, &p));
        }
    }
    if peer.object_selector.is_none() && peer.ip_block.is_none() {
        errs.push(FieldError::required(path, "must specify a peer"));
    }
    errs
}

/// Whether `inner` lies completely inside `outer`.
fn prefix_contains(outer: &IPPrefix, inner: &IPPrefix) -> bool {
    inner.bits() >= outer.bits() && outer.contains(inner.addr())
}

fn validate_ip_block(block: &IPBlock, path: &Path) -> FieldErrors {
    let Some(cidr) = &block.cidr else {
        return vec![FieldError::invalid(
            &path.child("cidr"),
            Value::Null,
            "must specify valid cidr",
        )];
    };
    let mut errs = FieldErrors::new();
    for (k, except) in block.except.iter().enumerate() {
        if !prefix_contains(cidr, except) {
            errs.push(FieldError::forbidden(
                &path.child("except").index(k),
                format!("cidr {cidr} does not contain except {except}"),
            ));
        }
    }
    errs
}

fn validate_policy_port(port: &NetworkPolicyPort, path: &Path) -> FieldErrors {
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
        } else if !(1..=65535).contains(&end) {
            errs.extend(validate_port_number(end, &p));
        } else if end < port.port {
            errs.push(FieldError::forbidden(
                &p,
                format!("endPort {end} must not be smaller than port {}", port.port),
            ));
        }
    }
    if let Some(protocol) = &port.protocol {
        errs.extend(validate_protocol(protocol, &path.child("protocol")));
    }
    errs
}

fn validate_rule(
    ports: &[NetworkPolicyPort],
    peers: &[NetworkPolicyPeer],
    peers_field: &str,
    path: &Path,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (j, peer) in peers.iter().enumerate() {
        errs.extend(validate_peer(peer, &path.child(peers_field).index(j)));
    }
    for (k, port) in ports.iter().enumerate() {
        errs.extend(validate_policy_port(port, &path.child("ports").index(k)));
    }
    errs
}

impl NetworkPolicySpec {
    /// The ports of every rule, for defaulting.
    fn ports_mut(&mut self) -> impl Iterator<Item = &mut NetworkPolicyPort> {
        let ingress = self.ingress.iter_mut().flat_map(|r| r.ports.iter_mut());
        let egress = self.egress.iter_mut().flat_map(|r| r.ports.iter_mut());
        ingress.chain(egress)
    }
}

impl ApiKind for NetworkPolicy {
    type List = NetworkPolicyList;

    const FACTS: KindFacts = KindFacts {
        singular: "networkpolicy",
        short_names: &["netpol"],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_subdomain,
        field_labels: &[FIELD_LABEL_NETWORK_REF_NAME],
    };

    fn set_defaults(&mut self) {
        let spec = &mut self.spec;
        for (present, ty) in [
            (!spec.ingress.is_empty(), POLICY_TYPE_INGRESS),
            (!spec.egress.is_empty(), POLICY_TYPE_EGRESS),
        ] {
            if present && !spec.policy_types.iter().any(|t| t == ty) {
                spec.policy_types.push(ty.to_owned());
            }
        }
        for port in spec.ports_mut() {
            default_protocol(&mut port.protocol);
        }
    }

    fn validate(&self) -> FieldErrors {
        let spec = Path::new("spec");
        let mut errs = validate_network_ref(&self.spec.network_ref, &spec.child("networkRef"));
        errs.extend(validate_label_selector(
            &self.spec.network_interface_selector,
            &spec.child("networkInterfaceSelector"),
        ));
        for (i, rule) in self.spec.ingress.iter().enumerate() {
            errs.extend(validate_rule(
                &rule.ports,
                &rule.from,
                "from",
                &spec.child("ingress").index(i),
            ));
        }
        for (i, rule) in self.spec.egress.iter().enumerate() {
            errs.extend(validate_rule(
                &rule.ports,
                &rule.to,
                "to",
                &spec.child("egress").index(i),
            ));
        }
        let types_path = spec.child("policyTypes");
        if self.spec.policy_types.is_empty() {
            errs.push(FieldError::required(
                &types_path,
                "must specify policyTypes",
            ));
        }
        let mut seen = HashSet::new();
        for (i, ty) in self.spec.policy_types.iter().enumerate() {
            let p = types_path.index(i);
            errs.extend(validate_enum(
                ty,
                &[POLICY_TYPE_EGRESS, POLICY_TYPE_INGRESS],
                &p,
                "must specify type",
            ));
            if !seen.insert(ty.as_str()) {
                errs.push(FieldError::duplicate(&p, ty.as_str()));
            }
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs =
            validate_network_ref_unchanged(&self.spec.network_ref, &old.spec.network_ref);
        errs.extend(self.validate());
        errs
    }

    fn field_label(&self, label: &str) -> Option<String> {
        (label == FIELD_LABEL_NETWORK_REF_NAME).then(|| self.spec.network_ref.name.clone())
    }

    fn table_columns() -> &'static [TableColumn] {
        &[
            TableColumn {
                name: "Network",
                type_: "string",
                format: "",
                description: "The network this network policy affects.",
                priority: 0,
            },
            TableColumn {
                name: "Nic-Selector",
                type_: "string",
                format: "",
                description: "The selector of the network interfaces the policy applies to.",
                priority: 0,
            },
            TableColumn {
                name: "Age",
                type_: "date",
                format: "",
                description: "Time since the object was created.",
                priority: 0,
            },
        ]
    }

    fn table_cells(&self) -> Vec<Value> {
        vec![
            Value::from(self.spec.network_ref.name.as_str()),
            Value::from(format_label_selector(&self.spec.network_interface_selector)),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::networking::common::testing::{assert_only, pairs};
    use ironcore_apimachinery::ErrorType;
    use serde_json::json;

    fn netpol(spec: Value) -> NetworkPolicy {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "np", "namespace": "default"},
            "spec": spec
        }))
        .unwrap()
    }

    fn with(patch: Value) -> NetworkPolicy {
        let mut v = json!({
            "networkRef": {"name": "net"},
            "networkInterfaceSelector": {"matchLabels": {"app": "db"}},
            "policyTypes": ["Ingress"]
        });
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        netpol(v)
    }

    fn ingress_from(peer: Value) -> NetworkPolicy {
        with(json!({"ingress": [{"from": [peer]}]}))
    }

    fn ingress_port(port: Value) -> NetworkPolicy {
        with(json!({"ingress": [{"ports": [port]}]}))
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        let json = json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "np", "namespace": "default"},
            "spec": {
                "networkRef": {"name": "net"},
                "networkInterfaceSelector": {"matchLabels": {"app": "db"}},
                "ingress": [{
                    "ports": [{"protocol": "TCP", "port": 5432}],
                    "from": [
                        {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                        {"objectSelector": {"kind": "NetworkInterface", "matchLabels": {"app": "web"}}}
                    ]
                }],
                "egress": [{
                    "ports": [{"protocol": "UDP", "port": 1000, "endPort": 2000}],
                    "to": [{"objectSelector": {"kind": "LoadBalancer", "matchExpressions": [{"key": "a", "operator": "Exists"}]}}]
                }],
                "policyTypes": ["Ingress", "Egress"]
            },
            "status": {"conditions": [{
                "type": "Applied", "status": "True", "reason": "Ok", "message": "",
                "observedGeneration": 2, "lastTransitionTime": "2025-01-13T11:39:17Z"
            }]}
        });
        let mut obj: NetworkPolicy = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&obj).unwrap(), json);
        obj.set_defaults();
        assert!(
            obj.validate_create_all().is_empty(),
            "{:?}",
            obj.validate_create_all()
        );
        assert_eq!(serde_json::to_value(&obj).unwrap(), json);
    }

    #[test]
    fn required_fields_are_emitted_even_when_empty() {
        let mut obj = netpol(json!({}));
        obj.status
            .conditions
            .push(NetworkPolicyCondition::default());
        let v = serde_json::to_value(&obj).unwrap();
        assert_eq!(
            v["spec"],
            json!({"networkRef": {}, "networkInterfaceSelector": {}})
        );
        assert_eq!(
            v["status"]["conditions"][0],
            json!({"type": "", "status": "", "reason": "", "message": "", "lastTransitionTime": null})
        );
        let block: IPBlock = serde_json::from_value(json!({})).unwrap();
        assert_eq!(serde_json::to_value(&block).unwrap(), json!({"cidr": null}));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(with(json!({})).validate_create_all().is_empty());
    }

    #[test]
    fn name_may_be_a_dns_subdomain() {
        let mut obj = with(json!({}));
        obj.metadata.name = Some("a.b".into());
        assert!(obj.validate_create_all().is_empty());
        obj.metadata.name = Some("A".into());
        assert_only(
            &obj.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn policy_types_default_from_rules() {
        let mut obj = with(json!({"policyTypes": null, "ingress": [{}], "egress": [{}]}));
        obj.set_defaults();
        assert_eq!(obj.spec.policy_types, ["Ingress", "Egress"]);
    }

    #[test]
    fn explicit_policy_types_are_kept_and_missing_ones_appended() {
        let mut obj = with(json!({"policyTypes": ["Egress"], "ingress": [{}]}));
        obj.set_defaults();
        assert_eq!(obj.spec.policy_types, ["Egress", "Ingress"]);
    }

    #[test]
    fn policy_types_defaulting_is_idempotent() {
        let mut obj = with(json!({"policyTypes": null, "ingress": [{}]}));
        obj.set_defaults();
        obj.set_defaults();
        assert_eq!(obj.spec.policy_types, ["Ingress"]);
    }

    #[test]
    fn empty_port_protocol_defaults_to_tcp() {
        let mut obj = with(json!({
            "ingress": [{"ports": [{"port": 1}]}],
            "egress": [{"ports": [{"protocol": "UDP", "port": 2}, {"protocol": ""}]}]
        }));
        obj.set_defaults();
        assert_eq!(
            obj.spec.ingress[0].ports[0].protocol.as_deref(),
            Some("TCP")
        );
        assert_eq!(obj.spec.egress[0].ports[0].protocol.as_deref(), Some("UDP"));
        assert_eq!(obj.spec.egress[0].ports[1].protocol.as_deref(), Some("TCP"));
    }

    #[test]
    fn quirk_empty_network_ref_yields_one_required_error() {
        assert_only(
            &with(json!({"networkRef": {}})).validate(),
            "spec.networkRef",
            ErrorType::Required,
        );
    }

    #[test]
    fn bad_network_ref_name_is_invalid() {
        assert_only(
            &with(json!({"networkRef": {"name": "N"}})).validate(),
            "spec.networkRef.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn bad_network_interface_selector_is_invalid() {
        let obj = with(json!({"networkInterfaceSelector": {"matchLabels": {"-a": "b"}}}));
        assert_only(
            &obj.validate(),
            "spec.networkInterfaceSelector.matchLabels",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn object_selector_kind_is_required() {
        let obj = ingress_from(json!({"objectSelector": {"matchLabels": {"a": "b"}}}));
        assert_only(
            &obj.validate(),
            "spec.ingress[0].from[0].objectSelector.kind",
            ErrorType::Required,
        );
    }

    #[test]
    fn unknown_object_selector_kind_is_not_supported() {
        let obj = with(
            json!({"egress": [{"to": [{"objectSelector": {"kind": "Machine"}}]}], "policyTypes": ["Egress"]}),
        );
        assert_only(
            &obj.validate(),
            "spec.egress[0].to[0].objectSelector.kind",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn bad_object_selector_labels_are_invalid() {
        let obj = ingress_from(
            json!({"objectSelector": {"kind": "VirtualIP", "matchLabels": {"a": "-b"}}}),
        );
        assert_only(
            &obj.validate(),
            "spec.ingress[0].from[0].objectSelector.matchLabels",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn object_selector_and_ip_block_together_are_forbidden() {
        let obj = ingress_from(json!({
            "objectSelector": {"kind": "VirtualIP"},
            "ipBlock": {"cidr": "10.0.0.0/8"}
        }));
        assert_only(
            &obj.validate(),
            "spec.ingress[0].from[0].ipBlock",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn peer_without_selector_or_block_is_required() {
        assert_only(
            &ingress_from(json!({})).validate(),
            "spec.ingress[0].from[0]",
            ErrorType::Required,
        );
    }

    #[test]
    fn ip_block_without_cidr_is_invalid() {
        let obj = ingress_from(json!({"ipBlock": {}}));
        assert_only(
            &obj.validate(),
            "spec.ingress[0].from[0].ipBlock.cidr",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn except_outside_cidr_is_forbidden() {
        let obj = ingress_from(
            json!({"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.0/25", "10.0.1.0/25"]}}),
        );
        assert_only(
            &obj.validate(),
            "spec.ingress[0].from[0].ipBlock.except[1]",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn except_wider_than_cidr_is_forbidden() {
        let obj =
            ingress_from(json!({"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.0/16"]}}));
        assert_only(
            &obj.validate(),
            "spec.ingress[0].from[0].ipBlock.except[0]",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn except_of_other_family_is_forbidden() {
        let obj = ingress_from(json!({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["::/128"]}}));
        assert_only(
            &obj.validate(),
            "spec.ingress[0].from[0].ipBlock.except[0]",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn port_out_of_range_is_invalid() {
        assert_only(
            &ingress_port(json!({"port": 65536})).validate(),
            "spec.ingress[0].ports[0].port",
            ErrorType::Invalid,
        );
        assert_only(
            &ingress_port(json!({"port": -1})).validate(),
            "spec.ingress[0].ports[0].port",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn port_zero_means_all_ports() {
        assert!(
            ingress_port(json!({"protocol": "UDP"}))
                .validate()
                .is_empty()
        );
    }

    #[test]
    fn end_port_without_port_is_forbidden() {
        assert_only(
            &ingress_port(json!({"endPort": 10})).validate(),
            "spec.ingress[0].ports[0].endPort",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn end_port_below_port_is_forbidden() {
        let errs = ingress_port(json!({"port": 10, "endPort": 5})).validate();
        assert_only(
            &errs,
            "spec.ingress[0].ports[0].endPort",
            ErrorType::Forbidden,
        );
        assert_eq!(errs[0].detail, "endPort 5 must not be smaller than port 10");
    }

    #[test]
    fn quirk_end_port_out_of_range_is_invalid() {
        assert_only(
            &ingress_port(json!({"port": 10, "endPort": 70000})).validate(),
            "spec.ingress[0].ports[0].endPort",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn unknown_port_protocol_is_not_supported() {
        let obj =
            with(json!({"egress": [{"ports": [{"protocol": "ICMP"}]}], "policyTypes": ["Egress"]}));
        assert_only(
            &obj.validate(),
            "spec.egress[0].ports[0].protocol",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn policy_types_are_required() {
        assert_only(
            &with(json!({"policyTypes": []})).validate(),
            "spec.policyTypes",
            ErrorType::Required,
        );
    }

    #[test]
    fn policy_without_rules_or_types_is_rejected_after_defaulting() {
        let mut obj = with(json!({"policyTypes": null}));
        obj.set_defaults();
        assert_only(&obj.validate(), "spec.policyTypes", ErrorType::Required);
    }

    #[test]
    fn empty_policy_type_is_required() {
        assert_only(
            &with(json!({"policyTypes": [""]})).validate(),
            "spec.policyTypes[0]",
            ErrorType::Required,
        );
    }

    #[test]
    fn unknown_policy_type_is_not_supported() {
        assert_only(
            &with(json!({"policyTypes": ["Both"]})).validate(),
            "spec.policyTypes[0]",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn quirk_duplicate_policy_types_are_reported_not_silently_removed() {
        let mut obj = with(json!({"policyTypes": ["Ingress", "Ingress"], "ingress": [{}]}));
        obj.set_defaults();
        assert_eq!(obj.spec.policy_types, ["Ingress", "Ingress"]);
        assert_eq!(
            pairs(&obj.validate()),
            vec![("spec.policyTypes[1]".to_owned(), ErrorType::Duplicate)]
        );
    }

    #[test]
    fn network_ref_is_immutable() {
        let old = with(json!({}));
        let new = with(json!({"networkRef": {"name": "other"}}));
        assert_only(
            &new.validate_update(&old),
            "spec.networkRef",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn rules_selector_and_types_are_mutable() {
        let old = with(json!({}));
        let new = with(json!({
            "networkInterfaceSelector": {},
            "egress": [{"ports": [{"port": 1}]}],
            "policyTypes": ["Egress"]
        }));
        assert!(new.validate_update(&old).is_empty());
    }

    #[test]
    fn network_ref_name_is_a_field_label() {
        assert_eq!(NetworkPolicy::FACTS.field_labels, ["spec.networkRef.name"]);
        assert_eq!(
            with(json!({}))
                .field_label("spec.networkRef.name")
                .as_deref(),
            Some("net")
        );
    }

    #[test]
    fn table_shows_network_selector_and_age() {
        let names: Vec<_> = NetworkPolicy::table_columns()
            .iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["Network", "Nic-Selector", "Age"]);
        assert_eq!(
            with(json!({})).table_cells()[..2],
            [json!("net"), json!("app=db")]
        );
        assert_eq!(
            with(json!({"networkInterfaceSelector": {}})).table_cells()[1],
            json!("<none>")
        );
    }
}
