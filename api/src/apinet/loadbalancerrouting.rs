//! LoadBalancerRouting: the destinations of the LoadBalancer of the same name.

use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{AGE, LocalObjectReference, join, wide_column};
use super::{GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IP, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A LoadBalancerRouting: where a LoadBalancer sends traffic (top-level fields, no spec).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadBalancerRouting {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<LoadBalancerRouting>,
    /// Always `LoadBalancerRouting`.
    pub kind: KindTag<LoadBalancerRouting>,
    /// Standard object metadata; the name equals the LoadBalancer's.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The destinations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<LoadBalancerDestination>,
}

/// One destination of a load balancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerDestination {
    /// The target IP; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IP>,
    /// The target providing the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<LoadBalancerTargetRef>,
}

/// The NetworkInterface behind a destination.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerTargetRef {
    /// UID of the target.
    #[serde(default)]
    pub uid: String,
    /// Name of the target.
    #[serde(default)]
    pub name: String,
    /// The node the target is on.
    #[serde(default)]
    pub node_ref: LocalObjectReference,
}

/// A list of LoadBalancerRoutings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadBalancerRoutingList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<LoadBalancerRouting>,
    /// Always `LoadBalancerRoutingList`.
    pub kind: ListKindTag<LoadBalancerRouting>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The LoadBalancerRoutings.
    pub items: Vec<LoadBalancerRouting>,
}

crate::impl_resource!(LoadBalancerRouting, group: GROUP, version: VERSION, plural: "loadbalancerroutings", scope: Namespaced);

impl ApiKind for LoadBalancerRouting {
    type List = LoadBalancerRoutingList;

    const FACTS: KindFacts = KindFacts {
        singular: "loadbalancerrouting",
        short_names: &[],
        namespaced: true,
        has_status: false,
        name_validator: name_is_dns_label,
        field_labels: &[],
    };

    fn validate(&self) -> FieldErrors {
        let path = Path::new("destinations");
        let mut errs = FieldErrors::new();
        for (i, d) in self.destinations.iter().enumerate() {
            if d.ip.is_none() {
                errs.push(FieldError::required(
                    &path.index(i).child("ip"),
                    "must specify IP",
                ));
            }
        }
        errs
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[wide_column("Destinations", "The destination IPs."), AGE];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        vec![
            join(self.destinations.iter().filter_map(|d| d.ip.as_ref())).into(),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;

    fn valid() -> LoadBalancerRouting {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "LoadBalancerRouting",
            "metadata": {"name": "lb", "namespace": "ns"},
            "destinations": [{"ip": "10.0.0.1", "targetRef": {"uid": "u", "name": "nic", "nodeRef": {"name": "n1"}}}]
        }))
        .unwrap()
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<LoadBalancerRouting>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "LoadBalancerRouting",
            "metadata": {"name": "lb", "namespace": "ns"},
            "destinations": [
                {"ip": "10.0.0.1", "targetRef": {"uid": "u", "name": "nic", "nodeRef": {"name": "n1"}}},
                {"ip": "10.0.0.2"}
            ]
        }));
    }

    #[test]
    fn empty_routing_round_trips_without_destinations() {
        assert_round_trip::<LoadBalancerRouting>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "LoadBalancerRouting",
            "metadata": {"name": "lb", "namespace": "ns"}
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut r = valid();
        r.metadata.name = Some("LB".into());
        assert_one(
            &r.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn destination_ip_is_required() {
        let mut r = valid();
        r.destinations[0].ip = None;
        assert_one(&r.validate(), "destinations[0].ip", ErrorType::Required);
    }

    #[test]
    fn destinations_are_mutable() {
        let old = valid();
        let mut new = old.clone();
        new.destinations.clear();
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn table_shows_destination_ips() {
        let cells = valid().table_cells();
        assert_eq!(cells[0], "10.0.0.1");
        assert_eq!(LoadBalancerRouting::table_columns().len(), cells.len());
    }
}
