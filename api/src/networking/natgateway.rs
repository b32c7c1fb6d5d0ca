//! NATGateway: outbound connectivity for the NetworkInterfaces of a Network through public IPs.
//!
//! Seed shapes and decisions (DESIGN.md §3): `status.ips` is a list of `{name, ip}`;
//! `spec.portsPerNetworkInterface` defaults to 2048 and must be a power of two in 1..=32768.
//! Fixed upstream quirk (§12.9): an empty `spec.networkRef` yields one Required error.

use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{
    LocalObjectReference, validate_enum, validate_ip_family, validate_network_ref,
    validate_network_ref_unchanged,
};
use super::{FIELD_LABEL_NETWORK_REF_NAME, GROUP, VERSION};
use crate::common::table::{age, or_none};
use crate::common::{ApiVersionTag, IP, IPFamily, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A NATGateway: source NAT for a Network's interfaces without a public IP of their own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGateway {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NATGateway>,
    /// Always `NATGateway`.
    pub kind: KindTag<NATGateway>,
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
    pub spec: NATGatewaySpec,
    /// The observed state.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub status: NATGatewayStatus,
}

/// The desired state of a NATGateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NATGatewaySpec {
    /// The type of the NATGateway; only `Public`.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub type_: String,
    /// The IP family of the gateway's IPs.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub ip_family: IPFamily,
    /// The Network (same namespace) the gateway serves; immutable.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub network_ref: LocalObjectReference,
    /// NAT ports per NetworkInterface: a power of two in 1..=32768; default 2048.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports_per_network_interface: Option<i32>,
}

/// The observed state of a NATGateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGatewayStatus {
    /// The allocated public IPs.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ips: Vec<NATGatewayIPStatus>,
}

/// One allocated public IP of a NATGateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGatewayIPStatus {
    /// The name of the IP.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub name: String,
    /// The allocated public IP.
    // Always emitted (`null` when unset), as Go does.
    #[serde(default)]
    pub ip: Option<IP>,
}

/// A list of NATGateways.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGatewayList {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NATGateway>,
    /// Always `NATGatewayList`.
    pub kind: ListKindTag<NATGateway>,
    /// Standard list metadata.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub metadata: ListMeta,
    /// The NATGateways.
    pub items: Vec<NATGateway>,
}

crate::impl_resource!(NATGateway, group: GROUP, version: VERSION, plural: "natgateways", scope: Namespaced);

/// The only supported NATGateway type.
pub const NAT_GATEWAY_TYPE_PUBLIC: &str = "Public";
/// The default of `spec.portsPerNetworkInterface`.
pub const DEFAULT_PORTS_PER_NETWORK_INTERFACE: i32 = 2048;
/// The largest `spec.portsPerNetworkInterface`: the NAT port range 1024..=65535 holds one slot.
pub const MAX_PORTS_PER_NETWORK_INTERFACE: i32 = 32768;

impl ApiKind for NATGateway {
    type List = NATGatewayList;

    const FACTS: KindFacts = KindFacts {
        singular: "natgateway",
        short_names: &["ngw"],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_label,
        field_labels: &[FIELD_LABEL_NETWORK_REF_NAME],
    };

    fn set_defaults(&mut self) {
        if self.spec.ports_per_network_interface.is_none() {
            self.spec.ports_per_network_interface = Some(DEFAULT_PORTS_PER_NETWORK_INTERFACE);
        }
    }

    fn validate(&self) -> FieldErrors {
        let spec = Path::new("spec");
        let mut errs = validate_enum(
            &self.spec.type_,
            &[NAT_GATEWAY_TYPE_PUBLIC],
            &spec.child("type"),
            "must specify type",
        );
        errs.extend(validate_ip_family(
            &self.spec.ip_family,
            &spec.child("ipFamily"),
        ));
        errs.extend(validate_network_ref(
            &self.spec.network_ref,
            &spec.child("networkRef"),
        ));
        if let Some(n) = self.spec.ports_per_network_interface {
            let p = spec.child("portsPerNetworkInterface");
            if n <= 0 || n.count_ones() != 1 {
                errs.push(FieldError::invalid(
                    &p,
                    n,
                    format!("{n} is not a power of 2"),
                ));
            } else if n > MAX_PORTS_PER_NETWORK_INTERFACE {
                errs.push(FieldError::invalid(
                    &p,
                    n,
                    format!("must be at most {MAX_PORTS_PER_NETWORK_INTERFACE}"),
                ));
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
                name: "IPs",
                type_: "string",
                format: "",
                description: "The IPs of the NAT gateway.",
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
        let ips: Vec<String> = self
            .status
            .ips
            .iter()
            .filter_map(|s| s.ip.as_ref().map(ToString::to_string))
            .collect();
        vec![or_none(Some(ips.join(",").as_str())), age(&self.metadata)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::networking::common::testing::assert_only;
    use ironcore_apimachinery::ErrorType;
    use serde_json::json;

    fn ngw(spec: Value) -> NATGateway {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "NATGateway",
            "metadata": {"name": "ngw", "namespace": "default"},
            "spec": spec
        }))
        .unwrap()
    }

    fn valid() -> NATGateway {
        ngw(json!({"type": "Public", "ipFamily": "IPv4", "networkRef": {"name": "net"}}))
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        let json = json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "NATGateway",
            "metadata": {"name": "ngw", "namespace": "default"},
            "spec": {"type": "Public", "ipFamily": "IPv4", "networkRef": {"name": "net"}, "portsPerNetworkInterface": 64},
            "status": {"ips": [{"name": "ip1", "ip": "10.0.0.1"}]}
        });
        let obj: NATGateway = serde_json::from_value(json.clone()).unwrap();
        assert!(obj.validate_create_all().is_empty());
        assert_eq!(serde_json::to_value(&obj).unwrap(), json);
    }

    #[test]
    fn required_fields_are_emitted_even_when_empty() {
        let obj = ngw(json!({}));
        assert_eq!(
            serde_json::to_value(&obj).unwrap()["spec"],
            json!({"type": "", "ipFamily": "", "networkRef": {}})
        );
    }

    #[test]
    fn valid_object_has_no_errors() {
        let mut obj = valid();
        obj.set_defaults();
        assert!(obj.validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut obj = valid();
        obj.metadata.name = Some("a.b".into());
        assert_only(
            &obj.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn ports_per_network_interface_defaults_to_2048() {
        let mut obj = valid();
        obj.set_defaults();
        assert_eq!(obj.spec.ports_per_network_interface, Some(2048));
        let mut obj = ngw(json!({"portsPerNetworkInterface": 64}));
        obj.set_defaults();
        assert_eq!(obj.spec.ports_per_network_interface, Some(64));
    }

    #[test]
    fn empty_type_is_required() {
        let obj = ngw(json!({"ipFamily": "IPv4", "networkRef": {"name": "net"}}));
        assert_only(&obj.validate(), "spec.type", ErrorType::Required);
    }

    #[test]
    fn unknown_type_is_not_supported() {
        let obj =
            ngw(json!({"type": "Internal", "ipFamily": "IPv4", "networkRef": {"name": "net"}}));
        assert_only(&obj.validate(), "spec.type", ErrorType::NotSupported);
    }

    #[test]
    fn empty_ip_family_is_required() {
        let obj = ngw(json!({"type": "Public", "networkRef": {"name": "net"}}));
        assert_only(&obj.validate(), "spec.ipFamily", ErrorType::Required);
    }

    #[test]
    fn unknown_ip_family_is_not_supported() {
        let obj = ngw(json!({"type": "Public", "ipFamily": "IPv5", "networkRef": {"name": "net"}}));
        assert_only(&obj.validate(), "spec.ipFamily", ErrorType::NotSupported);
    }

    #[test]
    fn quirk_empty_network_ref_yields_one_required_error() {
        let obj = ngw(json!({"type": "Public", "ipFamily": "IPv4"}));
        assert_only(&obj.validate(), "spec.networkRef", ErrorType::Required);
    }

    #[test]
    fn bad_network_ref_name_is_invalid() {
        let obj = ngw(json!({"type": "Public", "ipFamily": "IPv4", "networkRef": {"name": "N"}}));
        assert_only(&obj.validate(), "spec.networkRef.name", ErrorType::Invalid);
    }

    #[test]
    fn ports_per_network_interface_must_be_a_power_of_two() {
        for n in [0, -2, 3, 2047] {
            let mut obj = valid();
            obj.spec.ports_per_network_interface = Some(n);
            assert_only(
                &obj.validate(),
                "spec.portsPerNetworkInterface",
                ErrorType::Invalid,
            );
        }
        for n in [1, 2, 64, 2048, 32768] {
            let mut obj = valid();
            obj.spec.ports_per_network_interface = Some(n);
            assert!(obj.validate().is_empty(), "{n}");
        }
    }

    #[test]
    fn ports_per_network_interface_must_be_at_most_32768() {
        let mut obj = valid();
        obj.spec.ports_per_network_interface = Some(65536);
        let errs = obj.validate();
        assert_only(&errs, "spec.portsPerNetworkInterface", ErrorType::Invalid);
        assert_eq!(errs[0].detail, "must be at most 32768");
    }

    #[test]
    fn network_ref_is_immutable() {
        let old = valid();
        let mut new = valid();
        new.spec.network_ref.name = "other".into();
        assert_only(
            &new.validate_update(&old),
            "spec.networkRef",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn type_family_and_ports_are_mutable() {
        let old = valid();
        let mut new = valid();
        new.spec.ip_family = IPFamily::IPv6;
        new.spec.ports_per_network_interface = Some(1024);
        assert!(new.validate_update(&old).is_empty());
    }

    #[test]
    fn network_ref_name_is_a_field_label() {
        assert_eq!(NATGateway::FACTS.field_labels, ["spec.networkRef.name"]);
        assert_eq!(
            valid().field_label("spec.networkRef.name").as_deref(),
            Some("net")
        );
    }

    #[test]
    fn table_shows_ips_and_age() {
        let names: Vec<_> = NATGateway::table_columns().iter().map(|c| c.name).collect();
        assert_eq!(names, ["IPs", "Age"]);
        let mut obj = valid();
        assert_eq!(obj.table_cells()[0], json!("None"));
        obj.status.ips = vec![
            NATGatewayIPStatus {
                name: "a".into(),
                ip: Some("1.2.3.4".parse().unwrap()),
            },
            NATGatewayIPStatus {
                name: "b".into(),
                ip: Some("1.2.3.5".parse().unwrap()),
            },
        ];
        assert_eq!(obj.table_cells()[0], json!("1.2.3.4,1.2.3.5"));
    }
}
