//! NetworkInterface: a virtual NIC on a node, with internal, public and NAT addresses.

use std::collections::BTreeSet;

use ironcore_apimachinery::names::{is_dns1123_label, name_is_dns_label};
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{
    AGE, LocalObjectReference, column, default_ip_family, family_is_empty, join,
    validate_immutable, validate_ip_family, validate_ip_matches_family,
    validate_required_dns_label, validate_required_node_name, wide_column,
};
use super::{FIELD_SPEC_NETWORK_REF_NAME, FIELD_SPEC_NODE_REF_NAME, GROUP, VERSION};
use crate::common::table::age;
use crate::common::{
    ApiVersionTag, IP, IPFamily, IPPrefix, KindTag, ListKindTag, LocalUIDReference,
};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A NetworkInterface of the apinet layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkInterface {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkInterface>,
    /// Always `NetworkInterface`.
    pub kind: KindTag<NetworkInterface>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: NetworkInterfaceSpec,
    /// The observed state.
    #[serde(default)]
    pub status: NetworkInterfaceStatus,
}

/// The desired state of a NetworkInterface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterfaceSpec {
    /// The node hosting the interface.
    #[serde(default)]
    pub node_ref: LocalObjectReference,
    /// The apinet Network the interface is in.
    #[serde(default)]
    pub network_ref: LocalObjectReference,
    /// The internal IPs, at most one per family.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IP>,
    /// Additional prefixes routed to the interface.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<IPPrefix>,
    /// NAT claims, one per IP family without a public IP.
    // Go field `NATs`.
    #[serde(rename = "natGateways", default, skip_serializing_if = "Vec::is_empty")]
    pub nats: Vec<NetworkInterfaceNAT>,
    /// The hostname the interface announces (a DNS label).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// The public IPs, at most one per family, one per `name`.
    #[schemars(transform = crate::common::schema::list_map_by_name)]
    #[serde(rename = "publicIPs", default, skip_serializing_if = "Vec::is_empty")]
    pub public_ips: Vec<NetworkInterfacePublicIP>,
}

/// The NAT of one IP family of a NetworkInterface.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterfaceNAT {
    /// The IP family handled by the NAT gateway.
    #[serde(default)]
    pub ip_family: IPFamily,
    /// The NAT gateway that claimed the interface.
    #[serde(default)]
    pub claim_ref: NetworkInterfaceNATClaimRef,
}

/// The NATGateway claiming a NetworkInterface's NAT.
pub type NetworkInterfaceNATClaimRef = LocalUIDReference;

/// A public IP of a NetworkInterface.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterfacePublicIP {
    /// The semantic name of the public IP; unique within the list.
    #[serde(default)]
    pub name: String,
    /// The IP family; defaulted from `ip`.
    #[serde(default, skip_serializing_if = "family_is_empty")]
    pub ip_family: IPFamily,
    /// A specific address to allocate; a random one when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IP>,
}

/// The observed state of a NetworkInterface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterfaceStatus {
    /// `Ready`, `Pending` or `Error`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state: String,
    /// The PCI address of the interface on its host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_address: Option<PCIAddress>,
    /// The TAP device of the interface on its host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tap_device: Option<TAPDevice>,
    /// The prefixes routed to the interface.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<IPPrefix>,
    /// The public IPs of the interface.
    #[serde(rename = "publicIPs", default, skip_serializing_if = "Vec::is_empty")]
    pub public_ips: Vec<IP>,
    /// The NAT IPs of the interface.
    #[serde(rename = "natIPs", default, skip_serializing_if = "Vec::is_empty")]
    pub nat_ips: Vec<IP>,
}

/// A PCI address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PCIAddress {
    /// The PCI domain.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// The PCI bus.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bus: String,
    /// The PCI slot.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub slot: String,
    /// The PCI function.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub function: String,
}

/// A TAP device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TAPDevice {
    /// The name of the TAP device.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// NetworkInterface state: ready.
pub const NETWORK_INTERFACE_STATE_READY: &str = "Ready";
/// NetworkInterface state: in an intermediate state.
pub const NETWORK_INTERFACE_STATE_PENDING: &str = "Pending";
/// NetworkInterface state: failed.
pub const NETWORK_INTERFACE_STATE_ERROR: &str = "Error";

/// A list of NetworkInterfaces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkInterfaceList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkInterface>,
    /// Always `NetworkInterfaceList`.
    pub kind: ListKindTag<NetworkInterface>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The NetworkInterfaces.
    pub items: Vec<NetworkInterface>,
}

crate::impl_resource!(NetworkInterface, group: GROUP, version: VERSION, plural: "networkinterfaces", scope: Namespaced);

impl NetworkInterface {
    /// The NAT claim of `family`, if any.
    pub fn nat_claimer(&self, family: &IPFamily) -> Option<&NetworkInterfaceNATClaimRef> {
        self.spec
            .nats
            .iter()
            .find(|n| n.ip_family == *family)
            .map(|n| &n.claim_ref)
    }

    /// Whether any NAT of the interface is claimed by the NATGateway with `uid`.
    pub fn is_nat_claimed_by(&self, uid: &str) -> bool {
        self.spec.nats.iter().any(|n| n.claim_ref.uid == uid)
    }

    /// The addresses of `spec.publicIPs` (unallocated ones as `None`).
    pub fn public_ips(&self) -> Vec<Option<IP>> {
        self.spec.public_ips.iter().map(|p| p.ip.clone()).collect()
    }
}

impl ApiKind for NetworkInterface {
    type List = NetworkInterfaceList;

    const FACTS: KindFacts = KindFacts {
        singular: "networkinterface",
        short_names: &[],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_label,
        field_labels: &[FIELD_SPEC_NETWORK_REF_NAME, FIELD_SPEC_NODE_REF_NAME],
    };

    fn set_defaults(&mut self) {
        for p in &mut self.spec.public_ips {
            default_ip_family(&mut p.ip_family, p.ip.as_ref());
        }
    }

    fn validate(&self) -> FieldErrors {
        let spec = Path::new("spec");
        let s = &self.spec;
        let mut errs = FieldErrors::new();

        if !s.hostname.is_empty() {
            for msg in is_dns1123_label(&s.hostname) {
                errs.push(FieldError::invalid(
                    &spec.child("hostname"),
                    s.hostname.as_str(),
                    msg,
                ));
            }
        }
        errs.extend(validate_required_node_name(
            &s.node_ref.name,
            &spec.child("nodeRef").child("name"),
            "must specify target node",
        ));
        errs.extend(validate_required_dns_label(
            &s.network_ref.name,
            &spec.child("networkRef").child("name"),
            "must specify network",
        ));

        let mut internal_families = BTreeSet::new();
        for (i, ip) in s.ips.iter().enumerate() {
            if !internal_families.insert(ip.family()) {
                errs.push(FieldError::invalid(
                    &spec.child("ips").index(i),
                    ip.to_string(),
                    format!(
                        "cannot have multiple internal IPs of family {}",
                        ip.family()
                    ),
                ));
            }
        }

        let mut external_families = BTreeSet::new();
        let mut names = BTreeSet::new();
        for (i, p) in s.public_ips.iter().enumerate() {
            let path = spec.child("publicIPs").index(i);
            if p.name.is_empty() {
                errs.push(FieldError::required(
                    &path.child("name"),
                    "must specify name",
                ));
            } else if !names.insert(p.name.as_str()) {
                errs.push(FieldError::duplicate(&path.child("name"), p.name.as_str()));
            }
            let family_errs = validate_ip_family(&p.ip_family, &path.child("ipFamily"));
            if family_errs.is_empty() {
                if !external_families.insert(p.ip_family.clone()) {
                    errs.push(FieldError::forbidden(
                        &path,
                        format!(
                            "cannot have multiple external IPs of family {}",
                            p.ip_family
                        ),
                    ));
                }
                if let Some(ip) = &p.ip {
                    errs.extend(validate_ip_matches_family(
                        ip,
                        &p.ip_family,
                        &path.child("ip"),
                    ));
                }
            }
            errs.extend(family_errs);
        }

        for (i, nat) in s.nats.iter().enumerate() {
            let path = spec.child("natGateways").index(i);
            let family_errs = validate_ip_family(&nat.ip_family, &path.child("ipFamily"));
            if family_errs.is_empty() && !external_families.insert(nat.ip_family.clone()) {
                errs.push(FieldError::forbidden(
                    &path,
                    format!(
                        "cannot have nat for already present external IP family {}",
                        nat.ip_family
                    ),
                ));
            }
            errs.extend(family_errs);
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let spec = Path::new("spec");
        let (new_s, old_s) = (&self.spec, &old.spec);
        let mut errs = self.validate();
        errs.extend(validate_immutable(
            &new_s.network_ref,
            &old_s.network_ref,
            &spec.child("networkRef"),
        ));
        errs.extend(validate_immutable(
            &new_s.node_ref,
            &old_s.node_ref,
            &spec.child("nodeRef"),
        ));
        errs.extend(validate_immutable(
            &new_s.hostname,
            &old_s.hostname,
            &spec.child("hostname"),
        ));
        errs.extend(validate_immutable(
            &new_s.ips,
            &old_s.ips,
            &spec.child("ips"),
        ));
        errs
    }

    fn field_label(&self, label: &str) -> Option<String> {
        match label {
            FIELD_SPEC_NETWORK_REF_NAME => Some(self.spec.network_ref.name.clone()),
            FIELD_SPEC_NODE_REF_NAME => Some(self.spec.node_ref.name.clone()),
            _ => None,
        }
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[
            column("Network", "The network of the network interface."),
            column("IPs", "The IPs of the network interface."),
            column("Prefixes", "The prefixes of the network interface."),
            column("PublicIPs", "The public IPs of the network interface."),
            column("State", "The state of the network interface."),
            wide_column("Node", "The node hosting the network interface."),
            AGE,
        ];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        let s = &self.spec;
        vec![
            s.network_ref.name.as_str().into(),
            join(&s.ips).into(),
            join(&s.prefixes).into(),
            join(s.public_ips.iter().filter_map(|p| p.ip.as_ref())).into(),
            self.status.state.as_str().into(),
            s.node_ref.name.as_str().into(),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;

    fn valid() -> NetworkInterface {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NetworkInterface",
            "metadata": {"name": "nic", "namespace": "ns"},
            "spec": {
                "nodeRef": {"name": "node-1"},
                "networkRef": {"name": "net"},
                "ips": ["10.0.0.1", "fd00::1"]
            }
        }))
        .unwrap()
    }

    fn public_ip(name: &str, family: IPFamily, ip: Option<&str>) -> NetworkInterfacePublicIP {
        NetworkInterfacePublicIP {
            name: name.into(),
            ip_family: family,
            ip: ip.and_then(|s| s.parse().ok()),
        }
    }

    fn nat(family: IPFamily) -> NetworkInterfaceNAT {
        NetworkInterfaceNAT {
            ip_family: family,
            claim_ref: LocalUIDReference {
                name: "nat".into(),
                uid: "nat-uid".into(),
            },
        }
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<NetworkInterface>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NetworkInterface",
            "metadata": {"name": "nic", "namespace": "ns", "labels": {"app": "web"}},
            "spec": {
                "nodeRef": {"name": "node-1"},
                "networkRef": {"name": "net"},
                "ips": ["10.0.0.1"],
                "prefixes": ["10.1.0.0/24"],
                "natGateways": [{"ipFamily": "IPv6", "claimRef": {"name": "nat", "uid": "u"}}],
                "hostname": "host",
                "publicIPs": [{"name": "ipv4", "ipFamily": "IPv4", "ip": "1.2.3.4"}, {"name": "x", "ipFamily": "IPv4"}]
            },
            "status": {
                "state": "Ready",
                "pciAddress": {"domain": "0000", "bus": "00", "slot": "01", "function": "0"},
                "tapDevice": {"name": "tap0"},
                "prefixes": ["10.1.0.0/24"],
                "publicIPs": ["1.2.3.4"],
                "natIPs": ["fd00::9"]
            }
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn public_ip_family_defaults_from_ip() {
        let mut nic = valid();
        nic.spec.public_ips = vec![public_ip("a", IPFamily::default(), Some("fd00::5"))];
        nic.set_defaults();
        assert_eq!(nic.spec.public_ips[0].ip_family, IPFamily::IPv6);
    }

    #[test]
    fn public_ip_without_ip_keeps_empty_family_on_default() {
        let mut nic = valid();
        nic.spec.public_ips = vec![public_ip("a", IPFamily::default(), None)];
        nic.set_defaults();
        assert_eq!(nic.spec.public_ips[0].ip_family, IPFamily::default());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut nic = valid();
        nic.metadata.name = Some("nic.1".into());
        assert_one(
            &nic.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn hostname_must_be_a_dns_label() {
        let mut nic = valid();
        nic.spec.hostname = "Host_1".into();
        assert_one(&nic.validate(), "spec.hostname", ErrorType::Invalid);
    }

    #[test]
    fn node_ref_name_is_required() {
        let mut nic = valid();
        nic.spec.node_ref.name.clear();
        assert_one(&nic.validate(), "spec.nodeRef.name", ErrorType::Required);
    }

    #[test]
    fn node_ref_name_may_be_a_dns_subdomain() {
        let mut nic = valid();
        nic.spec.node_ref.name = "partition-a.host-1".into();
        assert!(nic.validate().is_empty());
    }

    #[test]
    fn node_ref_name_must_be_a_dns_subdomain() {
        let mut nic = valid();
        nic.spec.node_ref.name = "Host_1".into();
        assert_one(&nic.validate(), "spec.nodeRef.name", ErrorType::Invalid);
    }

    #[test]
    fn network_ref_name_is_required() {
        let mut nic = valid();
        nic.spec.network_ref.name.clear();
        assert_one(&nic.validate(), "spec.networkRef.name", ErrorType::Required);
    }

    #[test]
    fn network_ref_name_must_be_a_dns_label() {
        let mut nic = valid();
        nic.spec.network_ref.name = "Net".into();
        assert_one(&nic.validate(), "spec.networkRef.name", ErrorType::Invalid);
    }

    #[test]
    fn second_internal_ip_of_a_family_is_invalid_at_spec_ips_not_ips() {
        let mut nic = valid();
        nic.spec.ips.push("10.0.0.2".parse().unwrap());
        assert_one(&nic.validate(), "spec.ips[2]", ErrorType::Invalid);
    }

    #[test]
    fn public_ip_name_is_required() {
        let mut nic = valid();
        nic.spec.public_ips = vec![public_ip("", IPFamily::IPv4, None)];
        assert_one(
            &nic.validate(),
            "spec.publicIPs[0].name",
            ErrorType::Required,
        );
    }

    #[test]
    fn public_ip_names_are_unique() {
        let mut nic = valid();
        nic.spec.public_ips = vec![
            public_ip("a", IPFamily::IPv4, None),
            public_ip("a", IPFamily::IPv6, None),
        ];
        assert_one(
            &nic.validate(),
            "spec.publicIPs[1].name",
            ErrorType::Duplicate,
        );
    }

    #[test]
    fn public_ip_family_is_required() {
        let mut nic = valid();
        nic.spec.public_ips = vec![public_ip("a", IPFamily::default(), None)];
        assert_one(
            &nic.validate(),
            "spec.publicIPs[0].ipFamily",
            ErrorType::Required,
        );
    }

    #[test]
    fn unknown_public_ip_family_is_not_supported() {
        let mut nic = valid();
        nic.spec.public_ips = vec![public_ip("a", IPFamily::Other("v4".into()), None)];
        assert_one(
            &nic.validate(),
            "spec.publicIPs[0].ipFamily",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn second_public_ip_of_a_family_is_forbidden() {
        let mut nic = valid();
        nic.spec.public_ips = vec![
            public_ip("a", IPFamily::IPv4, None),
            public_ip("b", IPFamily::IPv4, None),
        ];
        assert_one(&nic.validate(), "spec.publicIPs[1]", ErrorType::Forbidden);
    }

    #[test]
    fn public_ip_of_other_family_is_invalid_quirk_unvalidated_public_ip_family() {
        let mut nic = valid();
        nic.spec.public_ips = vec![public_ip("a", IPFamily::IPv4, Some("fd00::5"))];
        assert_one(&nic.validate(), "spec.publicIPs[0].ip", ErrorType::Invalid);
    }

    #[test]
    fn nat_family_is_required_at_spec_nat_gateways_not_spec_nats() {
        let mut nic = valid();
        nic.spec.nats = vec![nat(IPFamily::default())];
        assert_one(
            &nic.validate(),
            "spec.natGateways[0].ipFamily",
            ErrorType::Required,
        );
    }

    #[test]
    fn unknown_nat_family_is_not_supported() {
        let mut nic = valid();
        nic.spec.nats = vec![nat(IPFamily::Other("IPv5".into()))];
        assert_one(
            &nic.validate(),
            "spec.natGateways[0].ipFamily",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn nat_for_a_family_with_public_ip_is_forbidden() {
        let mut nic = valid();
        nic.spec.public_ips = vec![public_ip("a", IPFamily::IPv4, None)];
        nic.spec.nats = vec![nat(IPFamily::IPv4)];
        assert_one(&nic.validate(), "spec.natGateways[0]", ErrorType::Forbidden);
    }

    #[test]
    fn second_nat_of_a_family_is_forbidden() {
        let mut nic = valid();
        nic.spec.nats = vec![nat(IPFamily::IPv4), nat(IPFamily::IPv4)];
        assert_one(&nic.validate(), "spec.natGateways[1]", ErrorType::Forbidden);
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
    fn node_ref_is_immutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.node_ref.name = "node-2".into();
        assert_one(
            &new.validate_update(&old),
            "spec.nodeRef",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn hostname_is_immutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.hostname = "h".into();
        assert_one(
            &new.validate_update(&old),
            "spec.hostname",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn ips_are_immutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.ips.pop();
        assert_one(&new.validate_update(&old), "spec.ips", ErrorType::Invalid);
    }

    #[test]
    fn public_ips_prefixes_and_nats_are_mutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.public_ips = vec![public_ip("a", IPFamily::IPv4, None)];
        new.spec.prefixes = vec!["10.9.0.0/16".parse().unwrap()];
        new.spec.nats = vec![nat(IPFamily::IPv6)];
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn nat_helpers_find_claims() {
        let mut nic = valid();
        nic.spec.nats = vec![nat(IPFamily::IPv6)];
        assert_eq!(
            nic.nat_claimer(&IPFamily::IPv6).map(|c| c.uid.as_str()),
            Some("nat-uid")
        );
        assert!(nic.nat_claimer(&IPFamily::IPv4).is_none());
        assert!(nic.is_nat_claimed_by("nat-uid"));
        assert!(!nic.is_nat_claimed_by("x"));
    }

    #[test]
    fn network_and_node_refs_are_field_labels() {
        let nic = valid();
        assert_eq!(nic.field_label("spec.networkRef.name"), Some("net".into()));
        assert_eq!(nic.field_label("spec.nodeRef.name"), Some("node-1".into()));
        assert_eq!(nic.field_label("spec.hostname"), None);
        assert!(
            NetworkInterface::FACTS
                .field_labels
                .contains(&"spec.networkRef.name")
        );
    }

    #[test]
    fn table_shows_network_ips_and_state() {
        let mut nic = valid();
        nic.spec.public_ips = vec![public_ip("a", IPFamily::IPv4, Some("1.2.3.4"))];
        nic.status.state = "Ready".into();
        let cells = nic.table_cells();
        assert_eq!(
            cells[..6],
            ["net", "10.0.0.1,fd00::1", "", "1.2.3.4", "Ready", "node-1"]
        );
        assert_eq!(NetworkInterface::table_columns().len(), cells.len());
        assert_eq!(NetworkInterface::table_columns()[5].priority, 1);
    }
}
