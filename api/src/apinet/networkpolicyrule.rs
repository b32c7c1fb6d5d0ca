//! NetworkPolicyRule: a NetworkPolicy resolved to target and peer IPs (written by the apinetlet).

use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{AGE, family_is_empty, wide_column};
use super::networkpolicy::{IPBlock, NetworkPolicyPort};
use super::{GROUP, VERSION};
use crate::common::table::age;
use crate::common::{
    ApiVersionTag, IP, IPFamily, IPPrefix, KindTag, ListKindTag, LocalUIDReference,
};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// Field label of the rule's network (top-level `networkRef`, not under `spec`).
pub const FIELD_NETWORK_REF_NAME: &str = "networkRef.name";

/// A NetworkPolicyRule (top-level fields, no spec, no status).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyRule {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkPolicyRule>,
    /// Always `NetworkPolicyRule`.
    pub kind: KindTag<NetworkPolicyRule>,
    /// Standard object metadata; the name equals the NetworkPolicy's.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The apinet Network the policy applies to.
    #[serde(default)]
    pub network_ref: LocalUIDReference,
    /// The NetworkInterfaces the policy applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetNetworkInterface>,
    /// Order of application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// The ingress rules (JSON `ingressRule`).
    #[serde(rename = "ingressRule", default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_rules: Vec<Rule>,
    /// The egress rules (JSON `egressRule`).
    #[serde(rename = "egressRule", default, skip_serializing_if = "Vec::is_empty")]
    pub egress_rules: Vec<Rule>,
}

/// A NetworkInterface the policy applies to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetNetworkInterface {
    /// The IP of the target; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IP>,
    /// The target NetworkInterface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<LocalUIDReference>,
}

/// One resolved rule: peers as IP blocks and object IPs, plus ports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// IP blocks.
    // JSON `ipBlock`, Go field `CIDRBlock`.
    #[serde(rename = "ipBlock", default, skip_serializing_if = "Vec::is_empty")]
    pub cidr_block: Vec<IPBlock>,
    /// IPs of selected objects.
    // JSON `ips`, Go field `ObjectIPs`.
    #[serde(rename = "ips", default, skip_serializing_if = "Vec::is_empty")]
    pub object_ips: Vec<ObjectIP>,
    /// The protocols and ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_policy_ports: Vec<NetworkPolicyPort>,
}

/// The IP (prefix) of a selected object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectIP {
    /// The family of the prefix.
    #[serde(default, skip_serializing_if = "family_is_empty")]
    pub ip_family: IPFamily,
    /// The prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<IPPrefix>,
}

/// A list of NetworkPolicyRules.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPolicyRuleList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkPolicyRule>,
    /// Always `NetworkPolicyRuleList`.
    pub kind: ListKindTag<NetworkPolicyRule>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The NetworkPolicyRules.
    pub items: Vec<NetworkPolicyRule>,
}

crate::impl_resource!(NetworkPolicyRule, group: GROUP, version: VERSION, plural: "networkpolicyrules", scope: Namespaced);

impl ApiKind for NetworkPolicyRule {
    type List = NetworkPolicyRuleList;

    const FACTS: KindFacts = KindFacts {
        singular: "networkpolicyrule",
        short_names: &[],
        namespaced: true,
        has_status: false,
        name_validator: name_is_dns_label,
        field_labels: &[FIELD_NETWORK_REF_NAME],
    };

    fn validate(&self) -> FieldErrors {
        let targets = Path::new("targets");
        self.targets
            .iter()
            .enumerate()
            .filter(|(_, t)| t.ip.is_none())
            .map(|(i, _)| FieldError::required(&targets.index(i).child("ip"), "must specify IP"))
            .collect()
    }

    fn field_label(&self, label: &str) -> Option<String> {
        (label == FIELD_NETWORK_REF_NAME).then(|| self.network_ref.name.clone())
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[
            wide_column("Network", "The network the rule applies to."),
            AGE,
        ];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        vec![self.network_ref.name.as_str().into(), age(&self.metadata)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;

    fn valid() -> NetworkPolicyRule {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NetworkPolicyRule",
            "metadata": {"name": "np", "namespace": "ns"},
            "networkRef": {"name": "net", "uid": "nu"},
            "targets": [{"ip": "10.0.0.1", "targetRef": {"name": "nic", "uid": "u"}}]
        }))
        .unwrap()
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<NetworkPolicyRule>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NetworkPolicyRule",
            "metadata": {"name": "np", "namespace": "ns"},
            "networkRef": {"name": "net", "uid": "nu"},
            "targets": [{"ip": "10.0.0.1", "targetRef": {"name": "nic", "uid": "u"}}, {"ip": "10.0.0.2"}],
            "priority": 1000,
            "ingressRule": [{
                "ipBlock": [{"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}],
                "ips": [{"ipFamily": "IPv4", "prefix": "10.0.0.5/32"}],
                "networkPolicyPorts": [{"protocol": "TCP", "port": 80, "endPort": 90}]
            }],
            "egressRule": [{"ips": [{"prefix": "fd00::1/128"}]}]
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut r = valid();
        r.metadata.name = Some("Np".into());
        assert_one(
            &r.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn target_ip_is_required() {
        let mut r = valid();
        r.targets[0].ip = None;
        assert_one(&r.validate(), "targets[0].ip", ErrorType::Required);
    }

    #[test]
    fn everything_but_metadata_is_mutable() {
        let old = valid();
        let mut new = old.clone();
        new.network_ref.uid = "other".into();
        new.targets.clear();
        new.priority = Some(1);
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn network_ref_name_is_a_field_label() {
        assert_eq!(valid().field_label("networkRef.name"), Some("net".into()));
        assert_eq!(valid().field_label("spec.networkRef.name"), None);
    }

    #[test]
    fn table_shows_the_network_wide() {
        let cells = valid().table_cells();
        assert_eq!(cells[0], "net");
        assert_eq!(NetworkPolicyRule::table_columns().len(), cells.len());
    }
}
