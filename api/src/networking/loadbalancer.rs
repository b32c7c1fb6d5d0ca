//! LoadBalancer: an L3 load balancer distributing traffic to selected NetworkInterfaces.
//!
//! Seed shapes and decisions (DESIGN.md §3): a port `protocol` left empty defaults to `TCP`;
//! `spec.ips` on a non-`Internal` load balancer is rejected (Forbidden) instead of dropped.
//! Fixed upstream quirks (networking-upstream.md §3.5, §12): every port is validated exactly once
//! (upstream skips the first port of each protocol and repeats errors); an empty `networkRef`
//! yields one Required error; `spec.ips`, when given, must match `spec.ipFamilies` one to one.

use ironcore_apimachinery::meta::validate_label_selector;
use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{
    IPSource, LocalObjectReference, PROTOCOL_TCP, default_ip_sources, default_protocol, join_or,
    json, validate_enum, validate_ip_families, validate_ip_source, validate_network_ref,
    validate_network_ref_unchanged, validate_port_number, validate_protocol,
};
use super::{FIELD_LABEL_NETWORK_REF_NAME, GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IP, IPFamily, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A LoadBalancer: stable IPs whose traffic is spread over selected NetworkInterfaces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadBalancer {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<LoadBalancer>,
    /// Always `LoadBalancer`.
    pub kind: KindTag<LoadBalancer>,
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
    pub spec: LoadBalancerSpec,
    /// The observed state.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub status: LoadBalancerStatus,
}

/// The desired state of a LoadBalancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// `Public` or `Internal`.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub type_: String,
    /// The IP families of the load balancer; defaulted from `ips`.
    // Always emitted (`null` when unset), as Go does.
    #[serde(default)]
    pub ip_families: Option<Vec<IPFamily>>,
    /// The IPs to use, one per family; only for `Internal` load balancers.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ips: Vec<IPSource>,
    /// The Network (same namespace) the load balancer belongs to; immutable.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub network_ref: LocalObjectReference,
    /// Selects the target NetworkInterfaces; unset = routing is managed externally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_selector: Option<LabelSelector>,
    /// The ports to allow.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<LoadBalancerPort>,
}

/// A port (range) a LoadBalancer allows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerPort {
    /// `TCP` (the default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The (first) port.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub port: i32,
    /// The last port of the range, inclusive; unset = only `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i32>,
}

impl LoadBalancerPort {
    /// The protocol, `TCP` when unset.
    pub fn protocol(&self) -> &str {
        match self.protocol.as_deref() {
            None | Some("") => PROTOCOL_TCP,
            Some(p) => p,
        }
    }

    /// The inclusive port range `[port, endPort or port]`.
    pub fn range(&self) -> (i32, i32) {
        (self.port, self.end_port.unwrap_or(self.port))
    }
}

/// The observed state of a LoadBalancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadBalancerStatus {
    /// The allocated IPs.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ips: Vec<IP>,
}

/// A list of LoadBalancers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadBalancerList {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<LoadBalancer>,
    /// Always `LoadBalancerList`.
    pub kind: ListKindTag<LoadBalancer>,
    /// Standard list metadata.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub metadata: ListMeta,
    /// The LoadBalancers.
    pub items: Vec<LoadBalancer>,
}

crate::impl_resource!(LoadBalancer, group: GROUP, version: VERSION, plural: "loadbalancers", scope: Namespaced);

/// LoadBalancer type with a public IP.
pub const LOAD_BALANCER_TYPE_PUBLIC: &str = "Public";
/// LoadBalancer type with network-internal IPs.
pub const LOAD_BALANCER_TYPE_INTERNAL: &str = "Internal";

/// Validates the ports: each once, then overlaps with earlier ports of the same protocol.
fn validate_ports(ports: &[LoadBalancerPort], path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        if let Some(protocol) = &port.protocol {
            errs.extend(validate_protocol(protocol, &p.child("protocol")));
        }
        errs.extend(validate_port_number(port.port, &p.child("port")));
        if let Some(end) = port.end_port {
            errs.extend(validate_port_number(end, &p.child("endPort")));
            if end < port.port {
                errs.push(FieldError::forbidden(
                    &p.child("endPort"),
                    format!("endPort {end} must be >= port {}", port.port),
                ));
            }
        }
        let (start, end) = port.range();
        for earlier in &ports[..i] {
            if earlier.protocol() != port.protocol() {
                continue;
            }
            let (e_start, e_end) = earlier.range();
            if start <= e_end && e_start <= end {
                errs.push(FieldError::forbidden(
                    &p,
                    format!(
                        "port range [{start} {end}] overlaps with port range [{e_start} {e_end}]"
                    ),
                ));
            }
        }
    }
    errs
}

impl ApiKind for LoadBalancer {
    type List = LoadBalancerList;

    const FACTS: KindFacts = KindFacts {
        singular: "loadbalancer",
        short_names: &["lb"],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_label,
        field_labels: &[FIELD_LABEL_NETWORK_REF_NAME],
    };

    fn set_defaults(&mut self) {
        default_ip_sources(&mut self.spec.ip_families, &mut self.spec.ips);
        for port in &mut self.spec.ports {
            default_protocol(&mut port.protocol);
        }
    }

    fn validate(&self) -> FieldErrors {
        let spec = Path::new("spec");
        let name = self.metadata.name.as_deref().unwrap_or("");
        let mut errs = validate_enum(
            &self.spec.type_,
            &[LOAD_BALANCER_TYPE_INTERNAL, LOAD_BALANCER_TYPE_PUBLIC],
            &spec.child("type"),
            "must specify type",
        );
        let families = self.spec.ip_families.as_deref().unwrap_or(&[]);
        errs.extend(validate_ip_families(families, &spec.child("ipFamilies")));
        if !self.spec.ips.is_empty() {
            let ips_path = spec.child("ips");
            if self.spec.type_ != LOAD_BALANCER_TYPE_INTERNAL {
                errs.push(FieldError::forbidden(
                    &ips_path,
                    "may only be specified for load balancers of type Internal",
                ));
            } else {
                if families.len() != self.spec.ips.len() {
                    errs.push(FieldError::invalid(
                        &ips_path,
                        json(&families),
                        "ip families must match ips",
                    ));
                }
                let unset = IPFamily::default();
                for (i, src) in self.spec.ips.iter().enumerate() {
                    let family = families.get(i).unwrap_or(&unset);
                    errs.extend(validate_ip_source(src, i, family, name, &ips_path.index(i)));
                }
            }
        }
        errs.extend(validate_network_ref(
            &self.spec.network_ref,
            &spec.child("networkRef"),
        ));
        if let Some(sel) = &self.spec.network_interface_selector {
            errs.extend(validate_label_selector(
                sel,
                &spec.child("networkInterfaceSelector"),
            ));
        }
        errs.extend(validate_ports(&self.spec.ports, &spec.child("ports")));
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
                description: "The IPs of the load balancer.",
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
            Value::from(join_or(&self.status.ips, "None")),
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

    fn lb(spec: Value) -> LoadBalancer {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "LoadBalancer",
            "metadata": {"name": "lb", "namespace": "default"},
            "spec": spec
        }))
        .unwrap()
    }

    fn with(patch: Value) -> LoadBalancer {
        let mut v =
            json!({"type": "Public", "ipFamilies": ["IPv4"], "networkRef": {"name": "net"}});
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        lb(v)
    }

    fn ports(ports: Value) -> LoadBalancer {
        with(json!({"ports": ports}))
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        let json = json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "LoadBalancer",
            "metadata": {"name": "lb", "namespace": "default"},
            "spec": {
                "type": "Internal",
                "ipFamilies": ["IPv4"],
                "ips": [{"value": "10.0.0.10"}],
                "networkRef": {"name": "net"},
                "networkInterfaceSelector": {"matchLabels": {"app": "web"}},
                "ports": [{"protocol": "TCP", "port": 80}, {"protocol": "UDP", "port": 1000, "endPort": 2000}]
            },
            "status": {"ips": ["10.0.0.10"]}
        });
        let mut obj: LoadBalancer = serde_json::from_value(json.clone()).unwrap();
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
        let obj = lb(json!({}));
        assert_eq!(
            serde_json::to_value(&obj).unwrap()["spec"],
            json!({"type": "", "ipFamilies": null, "networkRef": {}})
        );
    }

    #[test]
    fn null_fields_decode_as_their_zero_value_like_go() {
        let obj = lb(json!({"type": null, "ips": null, "networkRef": null, "ports": null}));
        assert_eq!(obj.spec, LoadBalancerSpec::default());
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(with(json!({})).validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut obj = with(json!({}));
        obj.metadata.name = Some("a.b".into());
        assert_only(
            &obj.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn empty_port_protocol_defaults_to_tcp() {
        let mut obj = ports(json!([{"port": 80}, {"protocol": "UDP", "port": 53}]));
        obj.set_defaults();
        let protocols: Vec<_> = obj.spec.ports.iter().map(|p| p.protocol.clone()).collect();
        assert_eq!(protocols, [Some("TCP".to_owned()), Some("UDP".to_owned())]);
    }

    #[test]
    fn ip_families_default_from_internal_ips() {
        let mut obj = with(
            json!({"type": "Internal", "ipFamilies": null, "ips": [{"value": "2001:db8::5"}]}),
        );
        obj.set_defaults();
        assert_eq!(obj.spec.ip_families, Some(vec![IPFamily::IPv6]));
        assert!(obj.validate().is_empty());
    }

    #[test]
    fn empty_type_is_required() {
        assert_only(
            &with(json!({"type": ""})).validate(),
            "spec.type",
            ErrorType::Required,
        );
    }

    #[test]
    fn unknown_type_is_not_supported() {
        assert_only(
            &with(json!({"type": "External"})).validate(),
            "spec.type",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn ip_families_are_required() {
        assert_only(
            &with(json!({"ipFamilies": []})).validate(),
            "spec.ipFamilies",
            ErrorType::Required,
        );
    }

    #[test]
    fn duplicate_ip_family_is_duplicate() {
        let obj = with(json!({"ipFamilies": ["IPv4", "IPv4"]}));
        assert_only(&obj.validate(), "spec.ipFamilies[1]", ErrorType::Duplicate);
    }

    #[test]
    fn unknown_ip_family_is_not_supported() {
        let obj = with(json!({"ipFamilies": ["IPv5"]}));
        assert_only(
            &obj.validate(),
            "spec.ipFamilies[0]",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn ips_on_public_load_balancer_are_forbidden() {
        let obj = with(json!({"ips": [{"value": "10.0.0.1"}]}));
        assert_only(&obj.validate(), "spec.ips", ErrorType::Forbidden);
    }

    #[test]
    fn quirk_load_balancer_ips_must_match_ip_families() {
        let obj = with(
            json!({"type": "Internal", "ipFamilies": ["IPv4", "IPv6"], "ips": [{"value": "10.0.0.1"}]}),
        );
        assert_only(&obj.validate(), "spec.ips", ErrorType::Invalid);
    }

    #[test]
    fn internal_ip_of_wrong_family_is_invalid() {
        let obj = with(json!({"type": "Internal", "ips": [{"value": "2001:db8::1"}]}));
        assert_only(&obj.validate(), "spec.ips[0].value", ErrorType::Invalid);
    }

    #[test]
    fn internal_ip_source_without_value_or_ephemeral_is_invalid() {
        let obj = with(json!({"type": "Internal", "ips": [{}]}));
        assert_only(&obj.validate(), "spec.ips[0]", ErrorType::Invalid);
    }

    #[test]
    fn derived_ephemeral_ip_prefix_name_must_be_valid() {
        let mut obj = with(
            json!({"type": "Internal", "ips": [{"ephemeral": {"prefixTemplate": {
                "spec": {"ipFamily": "IPv4", "prefixLength": 32, "parentRef": {"name": "p"}}
            }}}]}),
        );
        assert!(obj.validate().is_empty(), "{:?}", obj.validate());
        obj.metadata.name = Some("n".repeat(253));
        assert_only(&obj.validate(), "spec.ips[0]", ErrorType::Invalid);
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
        let obj = with(json!({"networkRef": {"name": "N"}}));
        assert_only(&obj.validate(), "spec.networkRef.name", ErrorType::Invalid);
    }

    #[test]
    fn bad_network_interface_selector_is_invalid() {
        let obj = with(
            json!({"networkInterfaceSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}),
        );
        assert_only(
            &obj.validate(),
            "spec.networkInterfaceSelector.matchExpressions[0].values",
            ErrorType::Required,
        );
    }

    #[test]
    fn unknown_port_protocol_is_not_supported() {
        assert_only(
            &ports(json!([{"protocol": "ICMP", "port": 1}])).validate(),
            "spec.ports[0].protocol",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn port_out_of_range_is_invalid() {
        assert_only(
            &ports(json!([{"port": 0}])).validate(),
            "spec.ports[0].port",
            ErrorType::Invalid,
        );
        assert_only(
            &ports(json!([{"port": 65536}])).validate(),
            "spec.ports[0].port",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn end_port_out_of_range_is_invalid() {
        assert_only(
            &ports(json!([{"port": 1, "endPort": 70000}])).validate(),
            "spec.ports[0].endPort",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn end_port_below_port_is_forbidden() {
        let errs = ports(json!([{"port": 100, "endPort": 50}])).validate();
        assert_only(&errs, "spec.ports[0].endPort", ErrorType::Forbidden);
        assert_eq!(errs[0].detail, "endPort 50 must be >= port 100");
    }

    #[test]
    fn overlapping_ports_of_same_protocol_are_forbidden() {
        let errs = ports(json!([{"port": 80, "endPort": 90}, {"port": 85}])).validate();
        assert_only(&errs, "spec.ports[1]", ErrorType::Forbidden);
        assert_eq!(
            errs[0].detail,
            "port range [85 85] overlaps with port range [80 90]"
        );
    }

    #[test]
    fn unset_protocol_overlaps_with_tcp() {
        let errs = ports(json!([{"protocol": "TCP", "port": 80}, {"port": 80}])).validate();
        assert_only(&errs, "spec.ports[1]", ErrorType::Forbidden);
    }

    #[test]
    fn same_port_with_other_protocol_is_allowed() {
        assert!(
            ports(json!([{"protocol": "TCP", "port": 53}, {"protocol": "UDP", "port": 53}]))
                .validate()
                .is_empty()
        );
    }

    #[test]
    fn quirk_first_port_of_each_protocol_is_validated() {
        let errs =
            ports(json!([{"protocol": "UDP", "port": 0}, {"protocol": "TCP", "port": 70000}]))
                .validate();
        assert_eq!(
            pairs(&errs),
            vec![
                ("spec.ports[0].port".to_owned(), ErrorType::Invalid),
                ("spec.ports[1].port".to_owned(), ErrorType::Invalid),
            ]
        );
    }

    #[test]
    fn quirk_port_errors_are_reported_once() {
        let errs = ports(json!([{"port": 1}, {"port": 2}, {"port": 10, "endPort": 5}])).validate();
        assert_only(&errs, "spec.ports[2].endPort", ErrorType::Forbidden);
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
    fn type_families_selector_and_ports_are_mutable() {
        let old = with(json!({}));
        let new = with(json!({
            "type": "Internal",
            "ipFamilies": ["IPv6"],
            "networkInterfaceSelector": {"matchLabels": {"a": "b"}},
            "ports": [{"port": 443}]
        }));
        assert!(new.validate_update(&old).is_empty());
    }

    #[test]
    fn network_ref_name_is_a_field_label() {
        assert_eq!(LoadBalancer::FACTS.field_labels, ["spec.networkRef.name"]);
        assert_eq!(
            with(json!({}))
                .field_label("spec.networkRef.name")
                .as_deref(),
            Some("net")
        );
    }

    #[test]
    fn table_shows_ips_and_age() {
        let names: Vec<_> = LoadBalancer::table_columns()
            .iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["IPs", "Age"]);
        let mut obj = with(json!({}));
        assert_eq!(obj.table_cells()[0], json!("None"));
        obj.status.ips = vec!["1.2.3.4".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        assert_eq!(obj.table_cells()[0], json!("1.2.3.4,2001:db8::1"));
    }
}
