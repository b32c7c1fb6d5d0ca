//! NATGateway: source NAT for the NetworkInterfaces of a network without a public IP.

use std::collections::BTreeSet;

use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{
    AGE, LocalObjectReference, column, is_zero_i64, join, validate_immutable, validate_ip_family,
    validate_ip_matches_family, validate_required_dns_label,
};
use super::{FIELD_SPEC_NETWORK_REF_NAME, GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IP, IPFamily, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// The first NAT (ephemeral) port.
pub const NAT_PORT_MIN: i32 = 1024;
/// The last NAT (ephemeral) port.
pub const NAT_PORT_MAX: i32 = 65535;
/// The number of NAT ports per public IP (1024..=65535), the largest `portsPerNetworkInterface`.
pub const NAT_PORTS: i32 = NAT_PORT_MAX - NAT_PORT_MIN + 1;

/// A NATGateway of the apinet layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGateway {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NATGateway>,
    /// Always `NATGateway`.
    pub kind: KindTag<NATGateway>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: NATGatewaySpec,
    /// The observed state.
    #[serde(default)]
    pub status: NATGatewayStatus,
}

/// The desired state of a NATGateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NATGatewaySpec {
    /// The IP family of the gateway.
    #[serde(default)]
    pub ip_family: IPFamily,
    /// The apinet Network of the gateway.
    #[serde(default)]
    pub network_ref: LocalObjectReference,
    /// The public IPs, one per `name`, allocated in the gateway's family.
    #[schemars(transform = crate::common::schema::list_map_by_name)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<NATGatewayIP>,
    /// Ports reserved per NetworkInterface, 1..=64512.
    #[serde(default)]
    pub ports_per_network_interface: i32,
}

/// A public IP of a NATGateway.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGatewayIP {
    /// The semantic name of the IP; unique within the list.
    #[serde(default)]
    pub name: String,
    /// A specific address; a random one is allocated when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IP>,
}

/// The observed state of a NATGateway.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGatewayStatus {
    /// Number of used NAT port slots.
    // Upstream's misleading name kept on the wire.
    #[serde(rename = "usedNATIPs", default, skip_serializing_if = "is_zero_i64")]
    pub used_nat_ips: i64,
    /// Number of NetworkInterfaces requesting NAT.
    // Upstream's misleading name kept on the wire.
    #[serde(
        rename = "requestedNATIPs",
        default,
        skip_serializing_if = "is_zero_i64"
    )]
    pub requested_nat_ips: i64,
}

/// A list of NATGateways.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGatewayList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NATGateway>,
    /// Always `NATGatewayList`.
    pub kind: ListKindTag<NATGateway>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The NATGateways.
    pub items: Vec<NATGateway>,
}

crate::impl_resource!(NATGateway, group: GROUP, version: VERSION, plural: "natgateways", scope: Namespaced);

impl NATGateway {
    /// The addresses of `spec.ips` (unallocated ones as `None`).
    pub fn ips(&self) -> Vec<Option<IP>> {
        self.spec.ips.iter().map(|i| i.ip.clone()).collect()
    }

    /// How many NetworkInterfaces one public IP serves: `floor(64512 / portsPerNetworkInterface)`
    /// (0 for an invalid value).
    pub fn slots_per_ip(&self) -> i32 {
        match self.spec.ports_per_network_interface {
            p if p > 0 => NAT_PORTS / p,
            _ => 0,
        }
    }
}

impl ApiKind for NATGateway {
    type List = NATGatewayList;

    const FACTS: KindFacts = KindFacts {
        singular: "natgateway",
        short_names: &[],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_label,
        field_labels: &[FIELD_SPEC_NETWORK_REF_NAME],
    };

    fn validate(&self) -> FieldErrors {
        let spec = Path::new("spec");
        let s = &self.spec;
        let family_errs = validate_ip_family(&s.ip_family, &spec.child("ipFamily"));
        let family_ok = family_errs.is_empty();
        let mut errs = family_errs;
        errs.extend(validate_required_dns_label(
            &s.network_ref.name,
            &spec.child("networkRef").child("name"),
            "must specify network",
        ));
        let mut names = BTreeSet::new();
        for (i, ip) in s.ips.iter().enumerate() {
            let path = spec.child("ips").index(i);
            if ip.name.is_empty() {
                errs.push(FieldError::required(
                    &path.child("name"),
                    "must specify name",
                ));
            } else if !names.insert(ip.name.as_str()) {
                errs.push(FieldError::duplicate(&path.child("name"), ip.name.as_str()));
            }
            if let (Some(addr), true) = (&ip.ip, family_ok) {
                errs.extend(validate_ip_matches_family(
                    addr,
                    &s.ip_family,
                    &path.child("ip"),
                ));
            }
        }
        let ppni = s.ports_per_network_interface;
        if !(1..=NAT_PORTS).contains(&ppni) {
            errs.push(FieldError::invalid(
                &spec.child("portsPerNetworkInterface"),
                ppni,
                format!("must be between 1 and {NAT_PORTS}, inclusive"),
            ));
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let spec = Path::new("spec");
        let mut errs = self.validate();
        errs.extend(validate_immutable(
            &self.spec.ip_family,
            &old.spec.ip_family,
            &spec.child("ipFamily"),
        ));
        errs.extend(validate_immutable(
            &self.spec.network_ref,
            &old.spec.network_ref,
            &spec.child("networkRef"),
        ));
        errs
    }

    fn field_label(&self, label: &str) -> Option<String> {
        (label == FIELD_SPEC_NETWORK_REF_NAME).then(|| self.spec.network_ref.name.clone())
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[
            column("Network", "The network of the NAT gateway."),
            column("IPs", "The IPs of the NAT gateway."),
            AGE,
        ];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        vec![
            self.spec.network_ref.name.as_str().into(),
            join(self.spec.ips.iter().filter_map(|i| i.ip.as_ref())).into(),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;

    fn valid() -> NATGateway {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NATGateway",
            "metadata": {"name": "nat", "namespace": "ns"},
            "spec": {"ipFamily": "IPv4", "networkRef": {"name": "net"},
                     "ips": [{"name": "ip-1", "ip": "1.2.3.4"}], "portsPerNetworkInterface": 2048}
        }))
        .unwrap()
    }

    fn nat_ip(name: &str, ip: Option<&str>) -> NATGatewayIP {
        NATGatewayIP {
            name: name.into(),
            ip: ip.and_then(|s| s.parse().ok()),
        }
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<NATGateway>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NATGateway",
            "metadata": {"name": "nat", "namespace": "ns"},
            "spec": {"ipFamily": "IPv4", "networkRef": {"name": "net"},
                     "ips": [{"name": "ip-1", "ip": "1.2.3.4"}, {"name": "ip-2"}], "portsPerNetworkInterface": 64},
            "status": {"usedNATIPs": 3, "requestedNATIPs": 4}
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut n = valid();
        n.metadata.name = Some("NAT".into());
        assert_one(
            &n.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn empty_ip_family_is_required() {
        let mut n = valid();
        n.spec.ip_family = IPFamily::default();
        assert_one(&n.validate(), "spec.ipFamily", ErrorType::Required);
    }

    #[test]
    fn unknown_ip_family_is_not_supported() {
        let mut n = valid();
        n.spec.ip_family = IPFamily::Other("ipv4".into());
        assert_one(&n.validate(), "spec.ipFamily", ErrorType::NotSupported);
    }

    #[test]
    fn network_ref_name_is_required() {
        let mut n = valid();
        n.spec.network_ref.name.clear();
        assert_one(&n.validate(), "spec.networkRef.name", ErrorType::Required);
    }

    #[test]
    fn network_ref_name_must_be_a_dns_label() {
        let mut n = valid();
        n.spec.network_ref.name = "Net".into();
        assert_one(&n.validate(), "spec.networkRef.name", ErrorType::Invalid);
    }

    #[test]
    fn ip_name_is_required() {
        let mut n = valid();
        n.spec.ips.push(nat_ip("", None));
        assert_one(&n.validate(), "spec.ips[1].name", ErrorType::Required);
    }

    #[test]
    fn ip_names_are_unique() {
        let mut n = valid();
        n.spec.ips.push(nat_ip("ip-1", None));
        assert_one(&n.validate(), "spec.ips[1].name", ErrorType::Duplicate);
    }

    #[test]
    fn ip_of_other_family_is_invalid() {
        let mut n = valid();
        n.spec.ips.push(nat_ip("ip-2", Some("fd00::1")));
        assert_one(&n.validate(), "spec.ips[1].ip", ErrorType::Invalid);
    }

    #[test]
    fn zero_ports_per_network_interface_is_invalid_quirk_5() {
        let mut n = valid();
        n.spec.ports_per_network_interface = 0;
        assert_one(
            &n.validate(),
            "spec.portsPerNetworkInterface",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn ports_per_network_interface_above_64512_is_invalid_quirk_5() {
        let mut n = valid();
        n.spec.ports_per_network_interface = 64513;
        assert_one(
            &n.validate(),
            "spec.portsPerNetworkInterface",
            ErrorType::Invalid,
        );
        n.spec.ports_per_network_interface = 64512;
        assert!(n.validate().is_empty());
    }

    #[test]
    fn ip_family_is_immutable() {
        let mut old = valid();
        old.spec.ips.clear();
        let mut new = old.clone();
        new.spec.ip_family = IPFamily::IPv6;
        assert_one(
            &new.validate_update(&old),
            "spec.ipFamily",
            ErrorType::Invalid,
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
            ErrorType::Invalid,
        );
    }

    #[test]
    fn ips_and_ports_per_network_interface_are_mutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.ips.push(nat_ip("ip-2", None));
        new.spec.ports_per_network_interface = 64;
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn slots_per_ip_divide_the_nat_port_range() {
        let mut n = valid();
        assert_eq!(n.slots_per_ip(), 31);
        n.spec.ports_per_network_interface = 64;
        assert_eq!(n.slots_per_ip(), 1008);
        n.spec.ports_per_network_interface = 0;
        assert_eq!(n.slots_per_ip(), 0);
    }

    #[test]
    fn network_ref_name_is_a_field_label() {
        assert_eq!(
            valid().field_label("spec.networkRef.name"),
            Some("net".into())
        );
    }

    #[test]
    fn table_shows_network_and_ips() {
        let cells = valid().table_cells();
        assert_eq!(cells[..2], ["net", "1.2.3.4"]);
        assert_eq!(NATGateway::table_columns().len(), cells.len());
    }
}
