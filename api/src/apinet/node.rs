//! Node: a cluster-scoped host that runs NetworkInterfaces and Instances; topology in labels.

use ironcore_apimachinery::FieldErrors;
use ironcore_apimachinery::names::name_is_dns_subdomain;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{AGE, wide_column};
use super::{GROUP, LABEL_TOPOLOGY_PARTITION, LABEL_TOPOLOGY_ZONE, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A Node of the apinet layer (named `<partition>.<host>` by its agent).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Node {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<Node>,
    /// Always `Node`.
    pub kind: KindTag<Node>,
    /// Standard object metadata; labels carry the topology.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state (empty).
    #[serde(default)]
    pub spec: NodeSpec,
    /// The observed state (empty).
    #[serde(default)]
    pub status: NodeStatus,
}

/// The desired state of a Node (empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeSpec {}

/// The observed state of a Node (empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeStatus {}

/// A list of Nodes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<Node>,
    /// Always `NodeList`.
    pub kind: ListKindTag<Node>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The Nodes.
    pub items: Vec<Node>,
}

crate::impl_resource!(Node, group: GROUP, version: VERSION, plural: "nodes", scope: Cluster);

impl Node {
    fn label(&self, key: &str) -> &str {
        self.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .map_or("", String::as_str)
    }
}

impl ApiKind for Node {
    type List = NodeList;

    const FACTS: KindFacts = KindFacts {
        singular: "node",
        short_names: &[],
        namespaced: false,
        has_status: true,
        name_validator: name_is_dns_subdomain,
        field_labels: &[],
    };

    fn validate(&self) -> FieldErrors {
        FieldErrors::new()
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[
            wide_column("Partition", "The partition of the node."),
            wide_column("Zone", "The zone of the node."),
            AGE,
        ];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        vec![
            self.label(LABEL_TOPOLOGY_PARTITION).into(),
            self.label(LABEL_TOPOLOGY_ZONE).into(),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;

    fn valid() -> Node {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "Node",
            "metadata": {"name": "part-a.host-1",
                         "labels": {"topology.core.apinet.ironcore.dev/partition": "part-a",
                                    "topology.core.apinet.ironcore.dev/zone": "z1"}}
        }))
        .unwrap()
    }

    #[test]
    fn valid_cluster_scoped_object_round_trips_json_unchanged() {
        assert_round_trip::<Node>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "Node",
            "metadata": {"name": "part-a.host-1", "labels": {"topology.core.apinet.ironcore.dev/zone": "z1"}},
            "spec": {},
            "status": {}
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn name_may_be_a_dns_subdomain() {
        let mut n = valid();
        n.metadata.name = Some("a.b.c".into());
        assert!(n.validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_subdomain() {
        let mut n = valid();
        n.metadata.name = Some("Host_1".into());
        assert_one(
            &n.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn namespace_is_forbidden_on_cluster_scoped_nodes() {
        let mut n = valid();
        n.metadata.namespace = Some("ns".into());
        assert_one(
            &n.validate_create_all(),
            "metadata.namespace",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn labels_are_mutable() {
        let old = valid();
        let mut new = old.clone();
        new.metadata.labels = None;
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn table_shows_partition_and_zone_wide() {
        let cells = valid().table_cells();
        assert_eq!(cells[..2], ["part-a", "z1"]);
        assert!(Node::table_columns()[..2].iter().all(|c| c.priority == 1));
        assert_eq!(Node::table_columns().len(), cells.len());
    }
}
