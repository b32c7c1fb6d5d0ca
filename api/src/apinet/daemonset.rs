//! DaemonSet: runs one Instance from a template on every eligible node.

use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{AGE, format_label_selector, validate_selector_selects_template, wide_column};
use super::instance::InstanceTemplate;
use super::loadbalancer::validate_template_labels;
use super::{GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A DaemonSet of the apinet layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DaemonSet {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<DaemonSet>,
    /// Always `DaemonSet`.
    pub kind: KindTag<DaemonSet>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: DaemonSetSpec,
    /// The observed state.
    #[serde(default)]
    pub status: DaemonSetStatus,
}

/// The desired state of a DaemonSet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DaemonSetSpec {
    /// Selects the Instances the DaemonSet manages.
    // JSON `nodeSelector`, Go field `Selector`.
    #[serde(
        rename = "nodeSelector",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub selector: Option<LabelSelector>,
    /// The template of the Instances.
    #[serde(default)]
    pub template: InstanceTemplate,
}

/// The observed state of a DaemonSet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetStatus {
    /// Collision count of template hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
}

/// A list of DaemonSets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DaemonSetList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<DaemonSet>,
    /// Always `DaemonSetList`.
    pub kind: ListKindTag<DaemonSet>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The DaemonSets.
    pub items: Vec<DaemonSet>,
}

crate::impl_resource!(DaemonSet, group: GROUP, version: VERSION, plural: "daemonsets", scope: Namespaced);

impl ApiKind for DaemonSet {
    type List = DaemonSetList;

    const FACTS: KindFacts = KindFacts {
        singular: "daemonset",
        short_names: &[],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_label,
        field_labels: &[],
    };

    fn validate(&self) -> FieldErrors {
        let spec = Path::new("spec");
        let template = spec.child("template");
        let mut errs = validate_template_labels(&self.spec.template, &template);
        errs.extend(validate_selector_selects_template(
            self.spec.selector.as_ref(),
            self.spec.template.metadata.labels.as_ref(),
            &spec.child("nodeSelector"),
            &template.child("metadata").child("labels"),
        ));
        errs
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[
            wide_column("Selector", "The selector of the managed instances."),
            AGE,
        ];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        let selector = match &self.spec.selector {
            Some(s) => format_label_selector(s),
            None => super::common::NONE.to_owned(),
        };
        vec![selector.into(), age(&self.metadata)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;

    fn valid() -> DaemonSet {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "DaemonSet",
            "metadata": {"name": "lb-x", "namespace": "ns"},
            "spec": {
                "nodeSelector": {"matchLabels": {"app": "lb"}},
                "template": {"metadata": {"labels": {"app": "lb"}},
                             "spec": {"type": "LoadBalancer", "loadBalancerType": "Public", "networkRef": {"name": "net"}}}
            }
        }))
        .unwrap()
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<DaemonSet>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "DaemonSet",
            "metadata": {"name": "lb-x", "namespace": "ns"},
            "spec": {
                "nodeSelector": {"matchLabels": {"app": "lb"}},
                "template": {"metadata": {"labels": {"app": "lb"}},
                             "spec": {"type": "LoadBalancer", "loadBalancerType": "Public", "networkRef": {"name": "net"},
                                      "ips": ["1.2.3.4"]}}
            },
            "status": {"collisionCount": 1}
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut ds = valid();
        ds.metadata.name = Some("lb.x".into());
        assert_one(
            &ds.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn missing_selector_is_required_at_spec_node_selector() {
        let mut ds = valid();
        ds.spec.selector = None;
        assert_one(&ds.validate(), "spec.nodeSelector", ErrorType::Required);
    }

    #[test]
    fn invalid_selector_is_reported_at_spec_node_selector_not_spec_selector() {
        let mut ds = valid();
        ds.spec.selector = Some(LabelSelector {
            match_labels: Some([("-bad".to_owned(), "x".to_owned())].into()),
            match_expressions: None,
        });
        assert_one(
            &ds.validate(),
            "spec.nodeSelector.matchLabels",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn selector_not_matching_template_labels_is_invalid() {
        let mut ds = valid();
        ds.spec.template.metadata.labels = None;
        assert_one(
            &ds.validate(),
            "spec.template.metadata.labels",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn selector_and_template_are_mutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.selector = Some(LabelSelector::default());
        new.spec.template.spec.ips = vec!["1.2.3.4".parse().unwrap()];
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn table_shows_the_selector_wide() {
        let cells = valid().table_cells();
        assert_eq!(cells[0], "app=lb");
        assert_eq!(DaemonSet::table_columns()[0].priority, 1);
        assert_eq!(DaemonSet::table_columns().len(), cells.len());
    }
}
