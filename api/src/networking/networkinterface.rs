//! NetworkInterface: the connection point between a Machine and a Network.
//!
//! Fixed upstream quirks (networking-upstream.md §3.2, §4, §12): an empty `spec.networkRef`
//! yields one Required error (upstream: Required plus Invalid); prefix-source errors carry the
//! `prefixTemplate` segment; the ephemeral VirtualIP's name (the NIC's name) must be a valid
//! VirtualIP name.

use std::collections::BTreeMap;

use ironcore_apimachinery::names::{is_dns1123_label, name_is_dns_subdomain};
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta, Time};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{
    IPSource, LocalObjectReference, NONE, PrefixSource, VirtualIPSource, default_ip_sources,
    default_prefix_sources, join_or, json, name_errors, validate_ip_families, validate_ip_source,
    validate_network_ref, validate_prefix_source, validate_virtual_ip_source,
};
use super::{FIELD_LABEL_NETWORK_REF_NAME, GROUP, VERSION};
use crate::common::table::age;
use crate::common::{
    ApiVersionTag, IP, IPFamily, IPPrefix, KindTag, ListKindTag, LocalUIDReference,
};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A NetworkInterface: a Machine's connection to a Network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkInterface {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkInterface>,
    /// Always `NetworkInterface`.
    pub kind: KindTag<NetworkInterface>,
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
    pub spec: NetworkInterfaceSpec,
    /// The observed state.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub status: NetworkInterfaceStatus,
}

/// The desired state of a NetworkInterface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterfaceSpec {
    /// The provider-internal ID, set by the machine pool.
    #[serde(
        rename = "providerID",
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub provider_id: String,
    /// The Network (same namespace) the interface is connected to; immutable.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub network_ref: LocalObjectReference,
    /// The Machine using the interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_ref: Option<LocalUIDReference>,
    /// The IP families of the interface, index-aligned with `ips`; immutable.
    // Always emitted (`null` when unset), as Go does.
    #[serde(default)]
    pub ip_families: Option<Vec<IPFamily>>,
    /// The IPs, one per family: a literal IP or an ephemeral ipam Prefix to allocate it from.
    // Always emitted (`null` when unset), as Go does.
    #[serde(default)]
    pub ips: Option<Vec<IPSource>>,
    /// Prefixes routed to the interface.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub prefixes: Vec<PrefixSource>,
    /// The public VirtualIP to attach.
    #[serde(rename = "virtualIP", default, skip_serializing_if = "Option::is_none")]
    pub virtual_ip: Option<VirtualIPSource>,
    /// Provider-specific attributes; immutable.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub attributes: BTreeMap<String, String>,
}

/// The observed state of a NetworkInterface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterfaceStatus {
    /// `Pending`, `Available` or `Error`; defaulted to `Pending`.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub state: String,
    /// When `state` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_state_transition_time: Option<Time>,
    /// The effective IPs.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ips: Vec<IP>,
    /// The effective prefixes.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub prefixes: Vec<IPPrefix>,
    /// The effective public IP.
    #[serde(rename = "virtualIP", default, skip_serializing_if = "Option::is_none")]
    pub virtual_ip: Option<IP>,
}

/// A list of NetworkInterfaces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkInterfaceList {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkInterface>,
    /// Always `NetworkInterfaceList`.
    pub kind: ListKindTag<NetworkInterface>,
    /// Standard list metadata.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub metadata: ListMeta,
    /// The NetworkInterfaces.
    pub items: Vec<NetworkInterface>,
}

crate::impl_resource!(NetworkInterface, group: GROUP, version: VERSION, plural: "networkinterfaces", scope: Namespaced);

/// NetworkInterface state: not (yet) realized; the default.
pub const NETWORK_INTERFACE_STATE_PENDING: &str = "Pending";
/// NetworkInterface state: realized.
pub const NETWORK_INTERFACE_STATE_AVAILABLE: &str = "Available";
/// NetworkInterface state: failed.
pub const NETWORK_INTERFACE_STATE_ERROR: &str = "Error";

impl NetworkInterfaceSpec {
    /// Validates the spec of an interface named `name` (may be empty, e.g. in a template).
    pub fn validate(&self, name: &str, path: &Path) -> FieldErrors {
        let mut errs = validate_network_ref(&self.network_ref, &path.child("networkRef"));
        if let Some(machine) = &self.machine_ref {
            errs.extend(name_errors(
                &path.child("machineRef").child("name"),
                &machine.name,
                is_dns1123_label(&machine.name),
            ));
        }
        let families = self.ip_families.as_deref().unwrap_or(&[]);
        let ips = self.ips.as_deref().unwrap_or(&[]);
        errs.extend(validate_ip_families(families, &path.child("ipFamilies")));
        if families.len() != ips.len() {
            errs.push(FieldError::invalid(
                &path.child("ips"),
                json(&families),
                "ip families must match ips",
            ));
        }
        let unset = IPFamily::default();
        for (i, src) in ips.iter().enumerate() {
            let family = families.get(i).unwrap_or(&unset);
            errs.extend(validate_ip_source(
                src,
                i,
                family,
                name,
                &path.child("ips").index(i),
            ));
        }
        for (i, src) in self.prefixes.iter().enumerate() {
            errs.extend(validate_prefix_source(
                src,
                i,
                name,
                &path.child("prefixes").index(i),
            ));
        }
        if let Some(vip) = &self.virtual_ip {
            errs.extend(validate_virtual_ip_source(
                vip,
                name,
                &path.child("virtualIP"),
            ));
        }
        errs
    }

    /// Defaults ipFamilies and the ephemeral IP / prefix templates.
    pub fn set_defaults(&mut self) {
        if let Some(ips) = self.ips.as_mut() {
            default_ip_sources(&mut self.ip_families, ips);
        }
        default_prefix_sources(&mut self.prefixes);
    }
}

const fn string_column(name: &'static str, description: &'static str) -> TableColumn {
    TableColumn {
        name,
        type_: "string",
        format: "",
        description,
        priority: 0,
    }
}

const COLUMNS: &[TableColumn] = &[
    string_column(
        "Network",
        "The network this network interface is connected to.",
    ),
    string_column("Machine", "The machine this network interface is used by."),
    string_column("IPs", "The effective IPs of the network interface."),
    string_column(
        "Prefixes",
        "The effective prefixes of the network interface.",
    ),
    string_column(
        "VirtualIP",
        "The virtual IP assigned to the network interface, if any.",
    ),
    string_column("State", "The state of the network interface."),
    TableColumn {
        name: "Age",
        type_: "date",
        format: "",
        description: "Time since the object was created.",
        priority: 0,
    },
];

impl ApiKind for NetworkInterface {
    type List = NetworkInterfaceList;

    const FACTS: KindFacts = KindFacts {
        singular: "networkinterface",
        short_names: &["nic"],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_subdomain,
        field_labels: &[FIELD_LABEL_NETWORK_REF_NAME],
    };

    fn set_defaults(&mut self) {
        self.spec.set_defaults();
        if self.status.state.is_empty() {
            self.status.state = NETWORK_INTERFACE_STATE_PENDING.to_owned();
        }
    }

    fn validate(&self) -> FieldErrors {
        let name = self.metadata.name.as_deref().unwrap_or("");
        self.spec.validate(name, &Path::new("spec"))
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let mut changed = Vec::new();
        if self.spec.network_ref != old.spec.network_ref {
            changed.push("networkRef");
        }
        let families = |s: &NetworkInterfaceSpec| s.ip_families.clone().unwrap_or_default();
        if families(&self.spec) != families(&old.spec) {
            changed.push("ipFamilies");
        }
        if self.spec.attributes != old.spec.attributes {
            changed.push("attributes");
        }
        if !changed.is_empty() {
            errs.push(FieldError::forbidden(
                &Path::new("spec"),
                format!("field is immutable\nchanged: {}", changed.join(", ")),
            ));
        }
        errs.extend(self.validate());
        errs
    }

    fn field_label(&self, label: &str) -> Option<String> {
        (label == FIELD_LABEL_NETWORK_REF_NAME).then(|| self.spec.network_ref.name.clone())
    }

    fn table_columns() -> &'static [TableColumn] {
        COLUMNS
    }

    fn table_cells(&self) -> Vec<Value> {
        let machine = self
            .spec
            .machine_ref
            .as_ref()
            .map_or(NONE, |m| m.name.as_str());
        let vip = self
            .status
            .virtual_ip
            .as_ref()
            .map_or_else(|| NONE.to_owned(), ToString::to_string);
        vec![
            Value::from(self.spec.network_ref.name.as_str()),
            Value::from(machine),
            Value::from(join_or(&self.status.ips, NONE)),
            Value::from(join_or(&self.status.prefixes, NONE)),
            Value::from(vip),
            Value::from(self.status.state.as_str()),
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

    fn nic(spec: Value) -> NetworkInterface {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "NetworkInterface",
            "metadata": {"name": "nic", "namespace": "default"},
            "spec": spec
        }))
        .unwrap()
    }

    fn valid() -> NetworkInterface {
        nic(json!({
            "networkRef": {"name": "net"},
            "ipFamilies": ["IPv4"],
            "ips": [{"value": "10.0.0.1"}]
        }))
    }

    fn with(patch: Value) -> NetworkInterface {
        let mut v = json!({
            "networkRef": {"name": "net"},
            "ipFamilies": ["IPv4"],
            "ips": [{"value": "10.0.0.1"}]
        });
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        nic(v)
    }

    fn ephemeral_ip(spec: Value) -> Value {
        json!([{"ephemeral": {"prefixTemplate": {"spec": spec}}}])
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        let json = json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "NetworkInterface",
            "metadata": {"name": "nic", "namespace": "default"},
            "spec": {
                "providerID": "ironcore-net://ns/n/node/u",
                "networkRef": {"name": "net"},
                "machineRef": {"name": "m", "uid": "mu"},
                "ipFamilies": ["IPv4", "IPv6"],
                "ips": [
                    {"value": "10.0.0.1"},
                    {"ephemeral": {"prefixTemplate": {
                        "metadata": {"labels": {"a": "b"}},
                        "spec": {"ipFamily": "IPv6", "prefixLength": 128, "parentRef": {"name": "root"}}
                    }}}
                ],
                "prefixes": [{"value": "10.1.0.0/24"}],
                "virtualIP": {"virtualIPRef": {"name": "vip"}},
                "attributes": {"k": "v"}
            },
            "status": {
                "state": "Available",
                "lastStateTransitionTime": "2025-01-13T11:39:17Z",
                "ips": ["10.0.0.1", "2001:db8::1"],
                "prefixes": ["10.1.0.0/24"],
                "virtualIP": "172.89.244.23"
            }
        });
        let mut obj: NetworkInterface = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&obj).unwrap(), json);
        obj.set_defaults();
        assert!(
            obj.validate_create_all().is_empty(),
            "{:?}",
            obj.validate_create_all()
        );
        assert_eq!(
            serde_json::to_value(&obj).unwrap(),
            json,
            "defaults are idempotent here"
        );
    }

    #[test]
    fn unset_ips_and_ip_families_are_emitted_as_null() {
        let obj = nic(json!({"networkRef": {"name": "net"}}));
        let v = serde_json::to_value(&obj).unwrap();
        assert_eq!(
            v["spec"],
            json!({"networkRef": {"name": "net"}, "ipFamilies": null, "ips": null})
        );
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn name_may_be_a_dns_subdomain() {
        let mut obj = valid();
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
    fn status_state_defaults_to_pending() {
        let mut obj = valid();
        obj.set_defaults();
        assert_eq!(obj.status.state, "Pending");
        obj.status.state = "Available".into();
        obj.set_defaults();
        assert_eq!(obj.status.state, "Available");
    }

    #[test]
    fn ip_families_default_from_ip_values() {
        let mut obj = with(
            json!({"ipFamilies": null, "ips": [{"value": "2001:db8::1"}, {"value": "10.0.0.1"}]}),
        );
        obj.set_defaults();
        assert_eq!(
            obj.spec.ip_families,
            Some(vec![IPFamily::IPv6, IPFamily::IPv4])
        );
    }

    #[test]
    fn ephemeral_ip_template_gets_family_and_single_ip_length() {
        let mut obj = with(json!({"ips": ephemeral_ip(json!({"parentRef": {"name": "p"}}))}));
        obj.set_defaults();
        let spec = &obj.spec.ips.as_ref().unwrap()[0]
            .ephemeral
            .as_ref()
            .unwrap()
            .prefix_template
            .as_ref()
            .unwrap()
            .spec;
        assert_eq!(
            (spec.ip_family.clone(), spec.prefix_length),
            (IPFamily::IPv4, 32)
        );
        assert!(obj.validate().is_empty(), "{:?}", obj.validate());
    }

    #[test]
    fn ephemeral_prefix_template_family_defaults_from_prefix() {
        let mut obj = with(
            json!({"prefixes": [{"ephemeral": {"prefixTemplate": {"spec": {"prefix": "10.9.0.0/16"}}}}]}),
        );
        obj.set_defaults();
        let spec = &obj.spec.prefixes[0]
            .ephemeral
            .as_ref()
            .unwrap()
            .prefix_template
            .as_ref()
            .unwrap()
            .spec;
        assert_eq!(spec.ip_family, IPFamily::IPv4);
        assert!(obj.validate().is_empty(), "{:?}", obj.validate());
    }

    #[test]
    fn quirk_empty_network_ref_yields_one_required_error() {
        let obj = with(json!({"networkRef": {}}));
        assert_only(&obj.validate(), "spec.networkRef", ErrorType::Required);
    }

    #[test]
    fn bad_network_ref_name_is_invalid() {
        let obj = with(json!({"networkRef": {"name": "Net"}}));
        assert_only(&obj.validate(), "spec.networkRef.name", ErrorType::Invalid);
    }

    #[test]
    fn machine_ref_name_must_be_a_dns_label() {
        let obj = with(json!({"machineRef": {"name": "a.b", "uid": "u"}}));
        assert_only(&obj.validate(), "spec.machineRef.name", ErrorType::Invalid);
    }

    #[test]
    fn ip_families_are_required() {
        let obj = with(json!({"ipFamilies": [], "ips": []}));
        assert_only(&obj.validate(), "spec.ipFamilies", ErrorType::Required);
    }

    #[test]
    fn unknown_ip_family_is_not_supported() {
        let obj = with(json!({"ipFamilies": ["IPv5"]}));
        let errs = obj.validate();
        assert_eq!(errs[0].field, "spec.ipFamilies[0]");
        assert_eq!(errs[0].error_type, ErrorType::NotSupported);
    }

    #[test]
    fn duplicate_ip_family_is_duplicate() {
        let obj = with(
            json!({"ipFamilies": ["IPv4", "IPv4"], "ips": [{"value": "10.0.0.1"}, {"value": "10.0.0.2"}]}),
        );
        assert_only(&obj.validate(), "spec.ipFamilies[1]", ErrorType::Duplicate);
    }

    #[test]
    fn ip_count_must_match_ip_families() {
        let obj = with(json!({"ipFamilies": ["IPv4", "IPv6"]}));
        assert_only(&obj.validate(), "spec.ips", ErrorType::Invalid);
    }

    #[test]
    fn ip_of_wrong_family_is_invalid() {
        let obj = with(json!({"ips": [{"value": "2001:db8::1"}]}));
        assert_only(&obj.validate(), "spec.ips[0].value", ErrorType::Invalid);
    }

    #[test]
    fn ip_source_without_value_or_ephemeral_is_invalid() {
        let obj = with(json!({"ips": [{}]}));
        assert_only(&obj.validate(), "spec.ips[0]", ErrorType::Invalid);
    }

    #[test]
    fn ip_source_with_value_and_ephemeral_is_invalid() {
        let obj = with(json!({"ips": [{"value": "10.0.0.1", "ephemeral": {}}]}));
        assert_only(&obj.validate(), "spec.ips[0].ephemeral", ErrorType::Invalid);
    }

    #[test]
    fn ephemeral_ip_without_template_is_required() {
        let obj = with(json!({"ips": [{"ephemeral": {}}]}));
        assert_only(
            &obj.validate(),
            "spec.ips[0].ephemeral.prefixTemplate",
            ErrorType::Required,
        );
    }

    #[test]
    fn ephemeral_ip_template_family_must_match() {
        let obj = with(
            json!({"ips": ephemeral_ip(json!({"ipFamily": "IPv6", "prefixLength": 128, "parentRef": {"name": "p"}}))}),
        );
        let errs = obj.validate();
        assert_eq!(
            pairs(&errs),
            vec![
                (
                    "spec.ips[0].ephemeral.prefixTemplate.spec.ipFamily".to_owned(),
                    ErrorType::Forbidden
                ),
                (
                    "spec.ips[0].ephemeral.prefixTemplate.spec.prefixLength".to_owned(),
                    ErrorType::Forbidden
                ),
            ]
        );
    }

    #[test]
    fn ephemeral_ip_template_prefix_must_be_a_single_ip() {
        let obj = with(
            json!({"ips": ephemeral_ip(json!({"ipFamily": "IPv4", "prefix": "10.0.0.0/24"}))}),
        );
        assert_only(
            &obj.validate(),
            "spec.ips[0].ephemeral.prefixTemplate.spec.prefix",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn ephemeral_ip_template_prefix_length_must_be_a_single_ip() {
        let obj = with(
            json!({"ips": ephemeral_ip(json!({"ipFamily": "IPv4", "prefixLength": 24, "parentRef": {"name": "p"}}))}),
        );
        assert_only(
            &obj.validate(),
            "spec.ips[0].ephemeral.prefixTemplate.spec.prefixLength",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn ephemeral_ip_template_metadata_name_is_forbidden() {
        let obj = with(json!({"ips": [{"ephemeral": {"prefixTemplate": {
            "metadata": {"name": "x"},
            "spec": {"ipFamily": "IPv4", "prefixLength": 32, "parentRef": {"name": "p"}}
        }}}]}));
        assert_only(
            &obj.validate(),
            "spec.ips[0].ephemeral.prefixTemplate.metadata.name",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn derived_ephemeral_ip_prefix_name_must_be_valid() {
        let mut obj = with(
            json!({"ips": ephemeral_ip(json!({"ipFamily": "IPv4", "prefixLength": 32, "parentRef": {"name": "p"}}))}),
        );
        obj.metadata.name = Some("n".repeat(253));
        assert_only(&obj.validate(), "spec.ips[0]", ErrorType::Invalid);
    }

    #[test]
    fn prefix_source_without_value_or_ephemeral_is_invalid() {
        let obj = with(json!({"prefixes": [{}]}));
        assert_only(&obj.validate(), "spec.prefixes[0]", ErrorType::Invalid);
    }

    #[test]
    fn prefix_source_with_value_and_ephemeral_is_invalid() {
        let obj = with(json!({"prefixes": [{"value": "10.0.0.0/8", "ephemeral": {}}]}));
        assert_only(
            &obj.validate(),
            "spec.prefixes[0].ephemeral",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn quirk_prefix_source_errors_include_prefix_template_segment() {
        let obj = with(json!({"prefixes": [{"ephemeral": {}}]}));
        assert_only(
            &obj.validate(),
            "spec.prefixes[0].ephemeral.prefixTemplate",
            ErrorType::Required,
        );
        let obj = with(
            json!({"prefixes": [{"ephemeral": {"prefixTemplate": {"spec": {"ipFamily": "IPv4"}}}}]}),
        );
        assert_only(
            &obj.validate(),
            "spec.prefixes[0].ephemeral.prefixTemplate.spec.prefix",
            ErrorType::Required,
        );
    }

    #[test]
    fn derived_ephemeral_prefix_name_must_be_valid() {
        let mut obj = with(
            json!({"prefixes": [{"ephemeral": {"prefixTemplate": {"spec": {"ipFamily": "IPv4", "prefix": "10.0.0.0/8"}}}}]}),
        );
        obj.metadata.name = Some("n".repeat(250));
        assert_only(&obj.validate(), "spec.prefixes[0]", ErrorType::Invalid);
    }

    #[test]
    fn virtual_ip_ref_name_must_be_a_dns_label() {
        let obj = with(json!({"virtualIP": {"virtualIPRef": {"name": "a.b"}}}));
        assert_only(
            &obj.validate(),
            "spec.virtualIP.virtualIPRef.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn virtual_ip_without_source_is_invalid() {
        let obj = with(json!({"virtualIP": {}}));
        assert_only(&obj.validate(), "spec.virtualIP", ErrorType::Invalid);
    }

    #[test]
    fn virtual_ip_with_ref_and_ephemeral_is_invalid() {
        let obj = with(json!({"virtualIP": {"virtualIPRef": {"name": "v"}, "ephemeral": {}}}));
        assert_only(
            &obj.validate(),
            "spec.virtualIP.ephemeral",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn ephemeral_virtual_ip_without_template_is_required() {
        let obj = with(json!({"virtualIP": {"ephemeral": {}}}));
        assert_only(
            &obj.validate(),
            "spec.virtualIP.ephemeral.virtualIPTemplate",
            ErrorType::Required,
        );
    }

    #[test]
    fn ephemeral_virtual_ip_spec_is_validated() {
        let obj = with(
            json!({"virtualIP": {"ephemeral": {"virtualIPTemplate": {"spec": {"type": "Private", "ipFamily": "IPv4"}}}}}),
        );
        assert_only(
            &obj.validate(),
            "spec.virtualIP.ephemeral.virtualIPTemplate.spec.type",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn quirk_virtual_ip_template_metadata_error_names_virtual_ip() {
        let obj = with(json!({"virtualIP": {"ephemeral": {"virtualIPTemplate": {
            "metadata": {"namespace": "x"},
            "spec": {"type": "Public", "ipFamily": "IPv4"}
        }}}}));
        let errs = obj.validate();
        assert_only(
            &errs,
            "spec.virtualIP.ephemeral.virtualIPTemplate.metadata.namespace",
            ErrorType::Forbidden,
        );
        assert_eq!(errs[0].detail, "cannot be set for an ephemeral virtual ip");
    }

    #[test]
    fn quirk_reclaim_policy_is_validated() {
        let obj = with(json!({"virtualIP": {"ephemeral": {"virtualIPTemplate": {
            "spec": {"type": "Public", "ipFamily": "IPv4", "reclaimPolicy": "Keep"}
        }}}}));
        assert_only(
            &obj.validate(),
            "spec.virtualIP.ephemeral.virtualIPTemplate.spec.reclaimPolicy",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn ephemeral_virtual_ip_name_must_be_a_dns_label() {
        let mut obj = with(json!({"virtualIP": {"ephemeral": {"virtualIPTemplate": {
            "spec": {"type": "Public", "ipFamily": "IPv4", "reclaimPolicy": "Retain"}
        }}}}));
        assert!(obj.validate().is_empty());
        obj.metadata.name = Some("a.b".into());
        assert_only(
            &obj.validate(),
            "spec.virtualIP.ephemeral",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn network_ref_is_immutable() {
        let old = valid();
        let new = with(json!({"networkRef": {"name": "other"}}));
        assert_only(&new.validate_update(&old), "spec", ErrorType::Forbidden);
    }

    #[test]
    fn ip_families_are_immutable() {
        let old = valid();
        let new = with(json!({"ipFamilies": ["IPv6"], "ips": [{"value": "2001:db8::1"}]}));
        assert_only(&new.validate_update(&old), "spec", ErrorType::Forbidden);
    }

    #[test]
    fn attributes_are_immutable() {
        let old = valid();
        let new = with(json!({"attributes": {"a": "b"}}));
        assert_only(&new.validate_update(&old), "spec", ErrorType::Forbidden);
    }

    #[test]
    fn ips_machine_ref_provider_id_prefixes_and_virtual_ip_are_mutable() {
        let old = valid();
        let new = with(json!({
            "providerID": "p",
            "machineRef": {"name": "m", "uid": "u"},
            "ips": [{"value": "10.0.0.2"}],
            "prefixes": [{"value": "10.1.0.0/24"}],
            "virtualIP": {"virtualIPRef": {"name": "v"}}
        }));
        assert!(new.validate_update(&old).is_empty());
    }

    #[test]
    fn network_ref_name_is_a_field_label() {
        assert_eq!(
            NetworkInterface::FACTS.field_labels,
            ["spec.networkRef.name"]
        );
        assert_eq!(
            valid().field_label("spec.networkRef.name").as_deref(),
            Some("net")
        );
        assert_eq!(valid().field_label("spec.other"), None);
    }

    #[test]
    fn table_shows_network_machine_ips_prefixes_vip_state_age() {
        let names: Vec<_> = NetworkInterface::table_columns()
            .iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(
            names,
            [
                "Network",
                "Machine",
                "IPs",
                "Prefixes",
                "VirtualIP",
                "State",
                "Age"
            ]
        );
        let mut obj = valid();
        assert_eq!(
            obj.table_cells()[..6],
            [
                json!("net"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("")
            ]
        );
        obj.status.ips = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        obj.status.virtual_ip = Some("1.2.3.4".parse().unwrap());
        obj.status.state = "Available".into();
        obj.spec.machine_ref = Some(LocalUIDReference {
            name: "m".into(),
            uid: "u".into(),
        });
        assert_eq!(
            obj.table_cells()[..6],
            [
                json!("net"),
                json!("m"),
                json!("10.0.0.1,10.0.0.2"),
                json!("<none>"),
                json!("1.2.3.4"),
                json!("Available")
            ]
        );
    }
}
