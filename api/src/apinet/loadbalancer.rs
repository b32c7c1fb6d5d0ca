//! LoadBalancer: a public or internal load balancer realized by Instances on nodes.

use std::collections::BTreeSet;

use ironcore_apimachinery::meta::validate_labels;
use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{
    AGE, LocalObjectReference, column, default_ip_family, family_is_empty, join, validate_enum,
    validate_immutable, validate_ip_family, validate_ip_matches_family, validate_port_number,
    validate_protocol, validate_required_dns_label, validate_selector_selects_template,
};
use super::instance::InstanceTemplate;
use super::{FIELD_SPEC_NETWORK_REF_NAME, GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IP, IPFamily, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// Load balancer type: reachable from the internet, with allocated public IPs.
pub const LOAD_BALANCER_TYPE_PUBLIC: &str = "Public";
/// Load balancer type: reachable inside its network, with given IPs.
pub const LOAD_BALANCER_TYPE_INTERNAL: &str = "Internal";
/// The supported load balancer types, sorted.
pub const LOAD_BALANCER_TYPES: &[&str] = &[LOAD_BALANCER_TYPE_INTERNAL, LOAD_BALANCER_TYPE_PUBLIC];

/// A LoadBalancer of the apinet layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadBalancer {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<LoadBalancer>,
    /// Always `LoadBalancer`.
    pub kind: KindTag<LoadBalancer>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: LoadBalancerSpec,
    /// The observed state.
    #[serde(default)]
    pub status: LoadBalancerStatus,
}

/// The desired state of a LoadBalancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// `Public` or `Internal`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The apinet Network of the load balancer.
    #[serde(default)]
    pub network_ref: LocalObjectReference,
    /// The IPs of the load balancer, one per `name`.
    #[schemars(transform = crate::common::schema::list_map_by_name)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<LoadBalancerIP>,
    /// The allowed ports; empty allows all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<LoadBalancerPort>,
    /// Selects the Instances of the load balancer; must select the template labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The template of the Instances.
    #[serde(default)]
    pub template: InstanceTemplate,
}

/// An IP of a LoadBalancer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerIP {
    /// The name of the IP; unique within the list.
    #[serde(default)]
    pub name: String,
    /// The IP family; defaulted from `ip`.
    #[serde(default, skip_serializing_if = "family_is_empty")]
    pub ip_family: IPFamily,
    /// A specific address; for `Public` load balancers a random one is allocated when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IP>,
}

/// A port (range) a LoadBalancer allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerPort {
    /// `TCP`, `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The (first) port.
    #[serde(default)]
    pub port: i32,
    /// The last port of a range; only `port` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i32>,
}

/// The observed state of a LoadBalancer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerStatus {
    /// Used to construct names for the load balancer's IP objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
}

/// A list of LoadBalancers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadBalancerList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<LoadBalancer>,
    /// Always `LoadBalancerList`.
    pub kind: ListKindTag<LoadBalancer>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The LoadBalancers.
    pub items: Vec<LoadBalancer>,
}

crate::impl_resource!(LoadBalancer, group: GROUP, version: VERSION, plural: "loadbalancers", scope: Namespaced);

/// The name of the DaemonSet realizing the LoadBalancer `lb_name`: `lb-<name>`.
pub fn load_balancer_daemon_set_name(lb_name: &str) -> String {
    format!("lb-{lb_name}")
}

/// Validates a load balancer port: protocol, `1 <= port <= endPort <= 65535`.
pub fn validate_load_balancer_port(port: &LoadBalancerPort, path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if let Some(protocol) = &port.protocol {
        errs.extend(validate_protocol(protocol, &path.child("protocol")));
    }
    errs.extend(validate_port_number(port.port, &path.child("port")));
    if let Some(end) = port.end_port {
        if end > 65535 {
            errs.push(FieldError::invalid(
                &path.child("endPort"),
                end,
                "must be between 1 and 65535, inclusive",
            ));
        } else if end < port.port {
            errs.push(FieldError::invalid(
                &path.child("endPort"),
                end,
                format!("must be greater than or equal to port {}", port.port),
            ));
        }
    }
    errs
}

/// Validates the labels of an instance template at `<path>.metadata.labels`.
pub(crate) fn validate_template_labels(template: &InstanceTemplate, path: &Path) -> FieldErrors {
    match &template.metadata.labels {
        Some(labels) => validate_labels(labels, &path.child("metadata").child("labels")),
        None => FieldErrors::new(),
    }
}

impl LoadBalancer {
    /// The addresses of `spec.ips` (unallocated ones as `None`).
    pub fn ips(&self) -> Vec<Option<IP>> {
        self.spec.ips.iter().map(|i| i.ip.clone()).collect()
    }
}

impl ApiKind for LoadBalancer {
    type List = LoadBalancerList;

    const FACTS: KindFacts = KindFacts {
        singular: "loadbalancer",
        short_names: &[],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_label,
        field_labels: &[FIELD_SPEC_NETWORK_REF_NAME],
    };

    fn set_defaults(&mut self) {
        for ip in &mut self.spec.ips {
            default_ip_family(&mut ip.ip_family, ip.ip.as_ref());
        }
    }

    fn validate(&self) -> FieldErrors {
        let spec = Path::new("spec");
        let s = &self.spec;
        let mut errs = validate_enum(
            &s.type_,
            LOAD_BALANCER_TYPES,
            &spec.child("type"),
            "must specify type",
        );
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
            let family_errs = validate_ip_family(&ip.ip_family, &path.child("ipFamily"));
            match &ip.ip {
                Some(addr) if family_errs.is_empty() => {
                    errs.extend(validate_ip_matches_family(
                        addr,
                        &ip.ip_family,
                        &path.child("ip"),
                    ));
                }
                None if s.type_ == LOAD_BALANCER_TYPE_INTERNAL => errs.push(FieldError::required(
                    &path.child("ip"),
                    "must specify the IP of an internal load balancer",
                )),
                _ => {}
            }
            errs.extend(family_errs);
        }

        for (i, port) in s.ports.iter().enumerate() {
            errs.extend(validate_load_balancer_port(
                port,
                &spec.child("ports").index(i),
            ));
        }

        let template = spec.child("template");
        errs.extend(validate_template_labels(&s.template, &template));
        errs.extend(validate_selector_selects_template(
            s.selector.as_ref(),
            s.template.metadata.labels.as_ref(),
            &spec.child("selector"),
            &template.child("metadata").child("labels"),
        ));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let spec = Path::new("spec");
        let mut errs = self.validate();
        errs.extend(validate_immutable(
            &self.spec.type_,
            &old.spec.type_,
            &spec.child("type"),
        ));
        errs.extend(validate_immutable(
            &self.spec.network_ref,
            &old.spec.network_ref,
            &spec.child("networkRef"),
        ));
        errs.extend(validate_immutable(
            &self.spec.selector,
            &old.spec.selector,
            &spec.child("selector"),
        ));
        errs
    }

    fn field_label(&self, label: &str) -> Option<String> {
        (label == FIELD_SPEC_NETWORK_REF_NAME).then(|| self.spec.network_ref.name.clone())
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[
            column("Type", "The type of the load balancer."),
            column("Network", "The network of the load balancer."),
            column("IPs", "The IPs of the load balancer."),
            AGE,
        ];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        vec![
            self.spec.type_.as_str().into(),
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
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn valid() -> LoadBalancer {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "LoadBalancer",
            "metadata": {"name": "lb", "namespace": "ns"},
            "spec": {
                "type": "Public",
                "networkRef": {"name": "net"},
                "ips": [{"name": "ipv4", "ipFamily": "IPv4"}],
                "selector": {"matchLabels": {"app": "lb"}},
                "template": {"metadata": {"labels": {"app": "lb"}}, "spec": {}}
            }
        }))
        .unwrap()
    }

    fn lb_ip(name: &str, family: IPFamily, ip: Option<&str>) -> LoadBalancerIP {
        LoadBalancerIP {
            name: name.into(),
            ip_family: family,
            ip: ip.and_then(|s| s.parse().ok()),
        }
    }

    fn port(port: i32, end_port: Option<i32>) -> LoadBalancerPort {
        LoadBalancerPort {
            protocol: None,
            port,
            end_port,
        }
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<LoadBalancer>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "LoadBalancer",
            "metadata": {"name": "lb", "namespace": "ns"},
            "spec": {
                "type": "Internal",
                "networkRef": {"name": "net"},
                "ips": [{"name": "ip-0", "ipFamily": "IPv4", "ip": "10.0.0.10"}],
                "ports": [{"protocol": "UDP", "port": 53}, {"port": 8000, "endPort": 8080}],
                "selector": {"matchLabels": {"app": "lb"}},
                "template": {
                    "metadata": {"labels": {"app": "lb"}},
                    "spec": {
                        "type": "LoadBalancer",
                        "loadBalancerType": "Internal",
                        "networkRef": {"name": "net"},
                        "affinity": {"instanceAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                            {"labelSelector": {"matchLabels": {"app": "lb"}}, "topologyKey": "topology.core.apinet.ironcore.dev/zone"}
                        ]}}
                    }
                }
            },
            "status": {"collisionCount": 1}
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn ip_family_defaults_from_ip() {
        let mut lb = valid();
        lb.spec.ips = vec![lb_ip("a", IPFamily::default(), Some("fd00::1"))];
        lb.set_defaults();
        assert_eq!(lb.spec.ips[0].ip_family, IPFamily::IPv6);
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut lb = valid();
        lb.metadata.name = Some("LB".into());
        assert_one(
            &lb.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn empty_type_is_required() {
        let mut lb = valid();
        lb.spec.type_.clear();
        assert_one(&lb.validate(), "spec.type", ErrorType::Required);
    }

    #[test]
    fn unknown_type_is_not_supported() {
        let mut lb = valid();
        lb.spec.type_ = "External".into();
        assert_one(&lb.validate(), "spec.type", ErrorType::NotSupported);
    }

    #[test]
    fn network_ref_name_is_required() {
        let mut lb = valid();
        lb.spec.network_ref.name.clear();
        assert_one(&lb.validate(), "spec.networkRef.name", ErrorType::Required);
    }

    #[test]
    fn network_ref_name_must_be_a_dns_label() {
        let mut lb = valid();
        lb.spec.network_ref.name = "a.b".into();
        assert_one(&lb.validate(), "spec.networkRef.name", ErrorType::Invalid);
    }

    #[test]
    fn ip_name_is_required() {
        let mut lb = valid();
        lb.spec.ips = vec![lb_ip("", IPFamily::IPv4, None)];
        assert_one(&lb.validate(), "spec.ips[0].name", ErrorType::Required);
    }

    #[test]
    fn ip_names_are_unique() {
        let mut lb = valid();
        lb.spec.ips = vec![
            lb_ip("a", IPFamily::IPv4, None),
            lb_ip("a", IPFamily::IPv6, None),
        ];
        assert_one(&lb.validate(), "spec.ips[1].name", ErrorType::Duplicate);
    }

    #[test]
    fn ip_family_is_required_at_ip_family_not_at_the_ip_entry() {
        let mut lb = valid();
        lb.spec.ips = vec![lb_ip("a", IPFamily::default(), None)];
        assert_one(&lb.validate(), "spec.ips[0].ipFamily", ErrorType::Required);
    }

    #[test]
    fn unknown_ip_family_is_not_supported() {
        let mut lb = valid();
        lb.spec.ips = vec![lb_ip("a", IPFamily::Other("IPv5".into()), None)];
        assert_one(
            &lb.validate(),
            "spec.ips[0].ipFamily",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn ip_of_other_family_is_invalid() {
        let mut lb = valid();
        lb.spec.ips = vec![lb_ip("a", IPFamily::IPv4, Some("fd00::1"))];
        assert_one(&lb.validate(), "spec.ips[0].ip", ErrorType::Invalid);
    }

    #[test]
    fn internal_load_balancer_ip_is_required() {
        let mut lb = valid();
        lb.spec.type_ = LOAD_BALANCER_TYPE_INTERNAL.into();
        assert_one(&lb.validate(), "spec.ips[0].ip", ErrorType::Required);
    }

    #[test]
    fn unknown_port_protocol_is_not_supported() {
        let mut lb = valid();
        lb.spec.ports = vec![LoadBalancerPort {
            protocol: Some("ICMP".into()),
            port: 80,
            end_port: None,
        }];
        assert_one(
            &lb.validate(),
            "spec.ports[0].protocol",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn port_out_of_range_is_invalid() {
        let mut lb = valid();
        lb.spec.ports = vec![port(0, None)];
        assert_one(&lb.validate(), "spec.ports[0].port", ErrorType::Invalid);
    }

    #[test]
    fn end_port_below_port_is_invalid() {
        let mut lb = valid();
        lb.spec.ports = vec![port(80, Some(79))];
        assert_one(&lb.validate(), "spec.ports[0].endPort", ErrorType::Invalid);
    }

    #[test]
    fn end_port_above_65535_is_invalid() {
        let mut lb = valid();
        lb.spec.ports = vec![port(80, Some(70000))];
        assert_one(&lb.validate(), "spec.ports[0].endPort", ErrorType::Invalid);
    }

    #[test]
    fn missing_selector_is_required() {
        let mut lb = valid();
        lb.spec.selector = None;
        assert_one(&lb.validate(), "spec.selector", ErrorType::Required);
    }

    #[test]
    fn invalid_selector_is_reported_under_spec_selector() {
        let mut lb = valid();
        lb.spec.selector = Some(LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "app".into(),
                operator: "Near".into(),
                values: None,
            }]),
        });
        assert_one(
            &lb.validate(),
            "spec.selector.matchExpressions[0].operator",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn selector_not_matching_template_labels_is_invalid_at_template_metadata_labels() {
        let mut lb = valid();
        lb.spec.template.metadata.labels = Some([("app".to_owned(), "other".to_owned())].into());
        assert_one(
            &lb.validate(),
            "spec.template.metadata.labels",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn bad_template_label_is_invalid() {
        let mut lb = valid();
        lb.spec.template.metadata.labels = Some(
            [
                ("app".to_owned(), "lb".to_owned()),
                ("-x".to_owned(), "y".to_owned()),
            ]
            .into(),
        );
        assert_one(
            &lb.validate(),
            "spec.template.metadata.labels",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn type_is_immutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.type_ = LOAD_BALANCER_TYPE_INTERNAL.into();
        new.spec.ips.clear();
        assert_one(&new.validate_update(&old), "spec.type", ErrorType::Invalid);
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
    fn selector_is_immutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.selector = Some(LabelSelector::default());
        assert_one(
            &new.validate_update(&old),
            "spec.selector",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn ips_and_ports_are_mutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.ips.push(lb_ip("ipv6", IPFamily::IPv6, None));
        new.spec.ports = vec![port(443, None)];
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn daemon_set_name_is_prefixed() {
        assert_eq!(load_balancer_daemon_set_name("x"), "lb-x");
    }

    #[test]
    fn network_ref_name_is_a_field_label() {
        assert_eq!(
            valid().field_label("spec.networkRef.name"),
            Some("net".into())
        );
        assert_eq!(valid().field_label("spec.type"), None);
    }

    #[test]
    fn table_shows_type_network_and_ips() {
        let mut lb = valid();
        lb.spec.ips[0].ip = "1.2.3.4".parse().ok();
        let cells = lb.table_cells();
        assert_eq!(cells[..3], ["Public", "net", "1.2.3.4"]);
        assert_eq!(LoadBalancer::table_columns().len(), cells.len());
    }
}
