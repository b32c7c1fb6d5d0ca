//! Instance: one load balancer instance, scheduled onto a node.

use ironcore_apimachinery::meta::validate_label_selector;
use ironcore_apimachinery::names::{is_qualified_name, name_is_dns_label};
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::api::core::v1::{NodeSelector, NodeSelectorRequirement};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{
    AGE, LocalObjectReference, column, join, validate_enum, validate_immutable,
    validate_required_dns_label, validate_required_node_name, wide_column,
};
use super::loadbalancer::{LOAD_BALANCER_TYPES, LoadBalancerPort, validate_load_balancer_port};
use super::{FIELD_SPEC_NETWORK_REF_NAME, FIELD_SPEC_NODE_REF_NAME, GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IP, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// The only instance type: a load balancer instance.
pub const INSTANCE_TYPE_LOAD_BALANCER: &str = "LoadBalancer";
/// The only `whenUnsatisfiable` action: do not schedule.
pub const DO_NOT_SCHEDULE: &str = "DoNotSchedule";
/// Node selector operators, sorted.
pub const NODE_SELECTOR_OPERATORS: &[&str] = &["DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"];

/// An Instance of the apinet layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Instance {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<Instance>,
    /// Always `Instance`.
    pub kind: KindTag<Instance>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: InstanceSpec,
    /// The observed state.
    #[serde(default)]
    pub status: InstanceStatus,
}

/// The desired state of an Instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSpec {
    /// The instance type; only `LoadBalancer`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The load balancer type (`Public` or `Internal`) this instance serves.
    #[serde(default)]
    pub load_balancer_type: String,
    /// The apinet Network of the instance.
    #[serde(default)]
    pub network_ref: LocalObjectReference,
    /// The IPs of the instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IP>,
    /// The load balancer ports of the instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_ports: Vec<LoadBalancerPort>,
    /// Scheduling affinity constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// How instances spread across topology domains (all ANDed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// The node hosting the instance; set by the scheduler when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ref: Option<LocalObjectReference>,
}

/// Scheduling affinity constraints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    /// Constraints on the node's labels and fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinity>,
    /// Constraints against co-locating with other instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_anti_affinity: Option<InstanceAntiAffinity>,
}

/// Node affinity: which nodes an instance may run on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinity {
    /// Hard requirement at scheduling time (terms ORed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
}

/// Instance anti-affinity: instances that must not share a topology domain.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceAntiAffinity {
    /// Hard requirements at scheduling time (all must hold).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_during_scheduling_ignored_during_execution: Vec<InstanceAffinityTerm>,
}

/// A set of instances and the topology key within which they are (not) co-located.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceAffinityTerm {
    /// Selects the instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// The node label whose value defines the domain; required.
    #[serde(default)]
    pub topology_key: String,
}

/// How matching instances spread across the domains of a topology key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpreadConstraint {
    /// The largest permitted difference of matching instances between domains; > 0.
    #[serde(default)]
    pub max_skew: i32,
    /// The node label whose value defines the domain; required.
    #[serde(default)]
    pub topology_key: String,
    /// What to do when the constraint cannot be met; only `DoNotSchedule`.
    #[serde(default)]
    pub when_unsatisfiable: String,
    /// Selects the instances counted per domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
}

/// The observed state of an Instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceStatus {
    /// The IPs of the instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IP>,
    /// Collision count for naming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
}

/// The template Instances are created from (LoadBalancer and DaemonSet).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceTemplate {
    /// Metadata of the created Instances (labels, annotations).
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec of the created Instances.
    #[serde(default)]
    pub spec: InstanceSpec,
}

/// A list of Instances.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<Instance>,
    /// Always `InstanceList`.
    pub kind: ListKindTag<Instance>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The Instances.
    pub items: Vec<Instance>,
}

crate::impl_resource!(Instance, group: GROUP, version: VERSION, plural: "instances", scope: Namespaced);

fn validate_topology_key(key: &str, path: &Path) -> FieldErrors {
    if key.is_empty() {
        return vec![FieldError::required(path, "can not be empty")];
    }
    is_qualified_name(key)
        .into_iter()
        .map(|msg| FieldError::invalid(path, key, msg))
        .collect()
}

fn validate_node_selector_requirement(
    req: &NodeSelectorRequirement,
    path: &Path,
    field: bool,
) -> FieldErrors {
    let mut errs = validate_enum(
        &req.operator,
        NODE_SELECTOR_OPERATORS,
        &path.child("operator"),
        "must specify operator",
    );
    let values = req.values.as_deref().unwrap_or(&[]);
    let values_path = path.child("values");
    match req.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
            &values_path,
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
            &values_path,
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "Gt" | "Lt" => {
            if values.len() != 1 {
                errs.push(FieldError::required(
                    &values_path,
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            } else if values[0].parse::<i64>().is_err() {
                errs.push(FieldError::invalid(
                    &values_path.index(0),
                    values[0].as_str(),
                    "must be an integer",
                ));
            }
        }
        _ => {}
    }
    if !field {
        for msg in is_qualified_name(&req.key) {
            errs.push(FieldError::invalid(
                &path.child("key"),
                req.key.as_str(),
                msg,
            ));
        }
    } else if req.key.is_empty() {
        errs.push(FieldError::required(&path.child("key"), "must specify key"));
    }
    errs
}

/// Validates a node selector: at least one term; every requirement well-formed.
pub fn validate_node_selector(selector: &NodeSelector, path: &Path) -> FieldErrors {
    let terms_path = path.child("nodeSelectorTerms");
    if selector.node_selector_terms.is_empty() {
        return vec![FieldError::required(
            &terms_path,
            "must have at least one node selector term",
        )];
    }
    let mut errs = FieldErrors::new();
    for (i, term) in selector.node_selector_terms.iter().enumerate() {
        let term_path = terms_path.index(i);
        for (j, req) in term.match_expressions.iter().flatten().enumerate() {
            let p = term_path.child("matchExpressions").index(j);
            errs.extend(validate_node_selector_requirement(req, &p, false));
        }
        for (j, req) in term.match_fields.iter().flatten().enumerate() {
            let p = term_path.child("matchFields").index(j);
            errs.extend(validate_node_selector_requirement(req, &p, true));
        }
    }
    errs
}

fn validate_affinity(affinity: &Affinity, path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if let Some(sel) = affinity.node_affinity.as_ref().and_then(|n| {
        n.required_during_scheduling_ignored_during_execution
            .as_ref()
    }) {
        errs.extend(validate_node_selector(
            sel,
            &path
                .child("nodeAffinity")
                .child("requiredDuringSchedulingIgnoredDuringExecution"),
        ));
    }
    if let Some(anti) = &affinity.instance_anti_affinity {
        let terms_path = path
            .child("instanceAntiAffinity")
            .child("requiredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in anti
            .required_during_scheduling_ignored_during_execution
            .iter()
            .enumerate()
        {
            let p = terms_path.index(i);
            if let Some(sel) = &term.label_selector {
                errs.extend(validate_label_selector(sel, &p.child("labelSelector")));
            }
            errs.extend(validate_topology_key(
                &term.topology_key,
                &p.child("topologyKey"),
            ));
        }
    }
    errs
}

fn validate_topology_spread_constraint(c: &TopologySpreadConstraint, path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if c.max_skew <= 0 {
        errs.push(FieldError::invalid(
            &path.child("maxSkew"),
            c.max_skew,
            "must be greater than zero",
        ));
    }
    errs.extend(validate_topology_key(
        &c.topology_key,
        &path.child("topologyKey"),
    ));
    errs.extend(validate_enum(
        &c.when_unsatisfiable,
        &[DO_NOT_SCHEDULE],
        &path.child("whenUnsatisfiable"),
        "must specify whenUnsatisfiable",
    ));
    if let Some(sel) = &c.label_selector {
        errs.extend(validate_label_selector(sel, &path.child("labelSelector")));
    }
    errs
}

/// Validates an instance spec at `path` (a full Instance; templates are not checked this way).
pub fn validate_instance_spec(s: &InstanceSpec, path: &Path) -> FieldErrors {
    let mut errs = validate_enum(
        &s.type_,
        &[INSTANCE_TYPE_LOAD_BALANCER],
        &path.child("type"),
        "must specify instance type",
    );
    if s.type_ == INSTANCE_TYPE_LOAD_BALANCER {
        errs.extend(validate_enum(
            &s.load_balancer_type,
            LOAD_BALANCER_TYPES,
            &path.child("loadBalancerType"),
            "must specify type",
        ));
    }
    errs.extend(validate_required_dns_label(
        &s.network_ref.name,
        &path.child("networkRef").child("name"),
        "must specify network",
    ));
    for (i, port) in s.load_balancer_ports.iter().enumerate() {
        errs.extend(validate_load_balancer_port(
            port,
            &path.child("loadBalancerPorts").index(i),
        ));
    }
    if let Some(affinity) = &s.affinity {
        errs.extend(validate_affinity(affinity, &path.child("affinity")));
    }
    for (i, c) in s.topology_spread_constraints.iter().enumerate() {
        errs.extend(validate_topology_spread_constraint(
            c,
            &path.child("topologySpreadConstraints").index(i),
        ));
    }
    if let Some(node) = &s.node_ref {
        errs.extend(validate_required_node_name(
            &node.name,
            &path.child("nodeRef").child("name"),
            "must specify node",
        ));
    }
    errs
}

impl ApiKind for Instance {
    type List = InstanceList;

    const FACTS: KindFacts = KindFacts {
        singular: "instance",
        short_names: &[],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_label,
        field_labels: &[FIELD_SPEC_NETWORK_REF_NAME, FIELD_SPEC_NODE_REF_NAME],
    };

    fn validate(&self) -> FieldErrors {
        validate_instance_spec(&self.spec, &Path::new("spec"))
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let spec = Path::new("spec");
        let (n, o) = (&self.spec, &old.spec);
        let mut errs = self.validate();
        errs.extend(validate_immutable(&n.type_, &o.type_, &spec.child("type")));
        errs.extend(validate_immutable(
            &n.load_balancer_type,
            &o.load_balancer_type,
            &spec.child("loadBalancerType"),
        ));
        errs.extend(validate_immutable(
            &n.network_ref,
            &o.network_ref,
            &spec.child("networkRef"),
        ));
        // nodeRef may be set once (by the scheduler), never changed or removed afterwards.
        if o.node_ref.is_some() {
            errs.extend(validate_immutable(
                &n.node_ref,
                &o.node_ref,
                &spec.child("nodeRef"),
            ));
        }
        errs
    }

    fn field_label(&self, label: &str) -> Option<String> {
        match label {
            FIELD_SPEC_NETWORK_REF_NAME => Some(self.spec.network_ref.name.clone()),
            FIELD_SPEC_NODE_REF_NAME => Some(
                self.spec
                    .node_ref
                    .as_ref()
                    .map(|n| n.name.clone())
                    .unwrap_or_default(),
            ),
            _ => None,
        }
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[
            column("Type", "The type of the instance."),
            column("LBType", "The load balancer type of the instance."),
            column("Network", "The network of the instance."),
            column("IPs", "The IPs the instance should have."),
            wide_column("Node", "The node hosting the instance."),
            AGE,
        ];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        let s = &self.spec;
        vec![
            s.type_.as_str().into(),
            s.load_balancer_type.as_str().into(),
            s.network_ref.name.as_str().into(),
            join(&s.ips).into(),
            s.node_ref
                .as_ref()
                .map(|n| n.name.as_str())
                .unwrap_or("")
                .into(),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;
    use k8s_openapi::api::core::v1::NodeSelectorTerm;

    fn valid() -> Instance {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "Instance",
            "metadata": {"name": "lb-x-abc", "namespace": "ns"},
            "spec": {"type": "LoadBalancer", "loadBalancerType": "Public", "networkRef": {"name": "net"}}
        }))
        .unwrap()
    }

    fn node(name: &str) -> Option<LocalObjectReference> {
        Some(LocalObjectReference { name: name.into() })
    }

    fn node_selector(op: &str, values: &[&str]) -> Affinity {
        Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "zone".into(),
                            operator: op.into(),
                            values: Some(values.iter().map(|s| s.to_string()).collect()),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            instance_anti_affinity: None,
        }
    }

    fn spread(max_skew: i32, key: &str, when: &str) -> TopologySpreadConstraint {
        TopologySpreadConstraint {
            max_skew,
            topology_key: key.into(),
            when_unsatisfiable: when.into(),
            label_selector: None,
        }
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<Instance>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "Instance",
            "metadata": {"name": "lb-x-abc", "namespace": "ns", "labels": {"apinet.ironcore.dev/controller-revision-hash": "h"}},
            "spec": {
                "type": "LoadBalancer",
                "loadBalancerType": "Public",
                "networkRef": {"name": "net"},
                "ips": ["1.2.3.4"],
                "loadBalancerPorts": [{"protocol": "TCP", "port": 80}],
                "affinity": {
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}
                    ]}},
                    "instanceAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "lb"}}, "topologyKey": "topology.core.apinet.ironcore.dev/zone"}
                    ]}
                },
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                                               "labelSelector": {"matchLabels": {"app": "lb"}}}],
                "nodeRef": {"name": "node-1"}
            },
            "status": {"ips": ["1.2.3.4"], "collisionCount": 2}
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut i = valid();
        i.metadata.name = Some("a_b".into());
        assert_one(
            &i.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn empty_type_is_required() {
        let mut i = valid();
        i.spec.type_.clear();
        assert_one(&i.validate(), "spec.type", ErrorType::Required);
    }

    #[test]
    fn unknown_type_is_not_supported() {
        let mut i = valid();
        i.spec.type_ = "Router".into();
        assert_one(&i.validate(), "spec.type", ErrorType::NotSupported);
    }

    #[test]
    fn load_balancer_type_is_required_for_load_balancer_instances() {
        let mut i = valid();
        i.spec.load_balancer_type.clear();
        assert_one(&i.validate(), "spec.loadBalancerType", ErrorType::Required);
    }

    #[test]
    fn unknown_load_balancer_type_is_not_supported() {
        let mut i = valid();
        i.spec.load_balancer_type = "External".into();
        assert_one(
            &i.validate(),
            "spec.loadBalancerType",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn network_ref_name_is_required() {
        let mut i = valid();
        i.spec.network_ref.name.clear();
        assert_one(&i.validate(), "spec.networkRef.name", ErrorType::Required);
    }

    #[test]
    fn bad_load_balancer_port_is_invalid() {
        let mut i = valid();
        i.spec.load_balancer_ports = vec![LoadBalancerPort {
            protocol: None,
            port: 70000,
            end_port: None,
        }];
        assert_one(
            &i.validate(),
            "spec.loadBalancerPorts[0].port",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn node_affinity_needs_a_term() {
        let mut i = valid();
        i.spec.affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector::default()),
            }),
            instance_anti_affinity: None,
        });
        assert_one(
            &i.validate(),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
            ErrorType::Required,
        );
    }

    #[test]
    fn unknown_node_selector_operator_is_not_supported() {
        let mut i = valid();
        i.spec.affinity = Some(node_selector("Near", &[]));
        assert_one(
            &i.validate(),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn node_selector_in_without_values_is_required() {
        let mut i = valid();
        i.spec.affinity = Some(node_selector("In", &[]));
        assert_one(
            &i.validate(),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            ErrorType::Required,
        );
    }

    #[test]
    fn node_selector_gt_needs_an_integer() {
        let mut i = valid();
        i.spec.affinity = Some(node_selector("Gt", &["x"]));
        assert_one(
            &i.validate(),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values[0]",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn node_selector_exists_with_values_is_forbidden() {
        let mut i = valid();
        i.spec.affinity = Some(node_selector("Exists", &["a"]));
        assert_one(
            &i.validate(),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn node_selector_gt_needs_exactly_one_value() {
        let mut i = valid();
        i.spec.affinity = Some(node_selector("Lt", &["1", "2"]));
        assert_one(
            &i.validate(),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            ErrorType::Required,
        );
    }

    #[test]
    fn node_selector_expression_key_must_be_a_qualified_name() {
        let mut affinity = node_selector("Exists", &[]);
        if let Some(sel) = affinity.node_affinity.as_mut().and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_mut()
        }) {
            sel.node_selector_terms[0]
                .match_expressions
                .as_mut()
                .unwrap()[0]
                .key = "-bad".into();
        }
        let mut i = valid();
        i.spec.affinity = Some(affinity);
        assert_one(
            &i.validate(),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn node_selector_field_key_is_required() {
        let mut i = valid();
        i.spec.affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: None,
                        match_fields: Some(vec![NodeSelectorRequirement {
                            key: String::new(),
                            operator: "In".into(),
                            values: Some(vec!["node-1".into()]),
                        }]),
                    }],
                }),
            }),
            instance_anti_affinity: None,
        });
        assert_one(
            &i.validate(),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key",
            ErrorType::Required,
        );
    }

    #[test]
    fn anti_affinity_label_selector_must_be_valid() {
        let mut i = valid();
        i.spec.affinity = Some(Affinity {
            node_affinity: None,
            instance_anti_affinity: Some(InstanceAntiAffinity {
                required_during_scheduling_ignored_during_execution: vec![InstanceAffinityTerm {
                    label_selector: Some(LabelSelector {
                        match_labels: Some([("-x".to_owned(), "y".to_owned())].into()),
                        match_expressions: None,
                    }),
                    topology_key: "zone".into(),
                }],
            }),
        });
        assert_one(
            &i.validate(),
            "spec.affinity.instanceAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabels",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn spread_label_selector_must_be_valid() {
        let mut i = valid();
        let mut c = spread(1, "zone", DO_NOT_SCHEDULE);
        c.label_selector = Some(LabelSelector {
            match_labels: Some([("-x".to_owned(), "y".to_owned())].into()),
            match_expressions: None,
        });
        i.spec.topology_spread_constraints = vec![c];
        assert_one(
            &i.validate(),
            "spec.topologySpreadConstraints[0].labelSelector.matchLabels",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn anti_affinity_topology_key_is_required() {
        let mut i = valid();
        i.spec.affinity = Some(Affinity {
            node_affinity: None,
            instance_anti_affinity: Some(InstanceAntiAffinity {
                required_during_scheduling_ignored_during_execution: vec![
                    InstanceAffinityTerm::default(),
                ],
            }),
        });
        assert_one(
            &i.validate(),
            "spec.affinity.instanceAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
            ErrorType::Required,
        );
    }

    #[test]
    fn spread_max_skew_must_be_positive() {
        let mut i = valid();
        i.spec.topology_spread_constraints = vec![spread(0, "zone", DO_NOT_SCHEDULE)];
        assert_one(
            &i.validate(),
            "spec.topologySpreadConstraints[0].maxSkew",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn spread_topology_key_is_required() {
        let mut i = valid();
        i.spec.topology_spread_constraints = vec![spread(1, "", DO_NOT_SCHEDULE)];
        assert_one(
            &i.validate(),
            "spec.topologySpreadConstraints[0].topologyKey",
            ErrorType::Required,
        );
    }

    #[test]
    fn unknown_when_unsatisfiable_is_not_supported() {
        let mut i = valid();
        i.spec.topology_spread_constraints = vec![spread(1, "zone", "ScheduleAnyway")];
        assert_one(
            &i.validate(),
            "spec.topologySpreadConstraints[0].whenUnsatisfiable",
            ErrorType::NotSupported,
        );
    }

    #[test]
    fn node_ref_name_must_be_a_dns_subdomain() {
        let mut i = valid();
        i.spec.node_ref = node("Node_1");
        assert_one(&i.validate(), "spec.nodeRef.name", ErrorType::Invalid);
    }

    #[test]
    fn empty_node_ref_name_is_required() {
        let mut i = valid();
        i.spec.node_ref = node("");
        assert_one(&i.validate(), "spec.nodeRef.name", ErrorType::Required);
    }

    #[test]
    fn type_is_immutable() {
        let mut old = valid();
        old.spec.type_ = "Legacy".into();
        assert_one(
            &valid().validate_update(&old),
            "spec.type",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn load_balancer_type_is_immutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.load_balancer_type = "Internal".into();
        assert_one(
            &new.validate_update(&old),
            "spec.loadBalancerType",
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
    fn node_ref_may_be_set_once() {
        let old = valid();
        let mut new = old.clone();
        new.spec.node_ref = node("node-1");
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn node_ref_is_immutable_once_set() {
        let mut old = valid();
        old.spec.node_ref = node("node-1");
        let mut new = old.clone();
        new.spec.node_ref = node("node-2");
        assert_one(
            &new.validate_update(&old),
            "spec.nodeRef",
            ErrorType::Invalid,
        );
        new.spec.node_ref = None;
        assert_one(
            &new.validate_update(&old),
            "spec.nodeRef",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn ips_and_ports_are_mutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.ips = vec!["1.2.3.4".parse().unwrap()];
        new.spec.load_balancer_ports = vec![LoadBalancerPort {
            protocol: None,
            port: 80,
            end_port: None,
        }];
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn network_and_node_refs_are_field_labels() {
        let mut i = valid();
        assert_eq!(i.field_label("spec.networkRef.name"), Some("net".into()));
        assert_eq!(i.field_label("spec.nodeRef.name"), Some(String::new()));
        i.spec.node_ref = node("node-1");
        assert_eq!(i.field_label("spec.nodeRef.name"), Some("node-1".into()));
        assert_eq!(i.field_label("spec.type"), None);
    }

    #[test]
    fn table_shows_type_network_ips_and_node() {
        let mut i = valid();
        i.spec.ips = vec!["1.2.3.4".parse().unwrap()];
        i.spec.node_ref = node("n1");
        let cells = i.table_cells();
        assert_eq!(
            cells[..5],
            ["LoadBalancer", "Public", "net", "1.2.3.4", "n1"]
        );
        assert_eq!(Instance::table_columns().len(), cells.len());
    }
}
