//! Network: an isolated layer-3 network, identified by a VNI the server allocates.

use std::collections::BTreeMap;

use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{AGE, column, validate_immutable};
use super::networkid::validate_vni;
use super::{GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IPPrefix, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A Network of the apinet layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Network {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<Network>,
    /// Always `Network`.
    pub kind: KindTag<Network>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: NetworkSpec,
    /// The observed state.
    #[serde(default)]
    pub status: NetworkStatus,
}

/// The desired state of a Network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkSpec {
    /// The VNI as a canonical decimal string; allocated by the server when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The networks this network peers with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peerings: Vec<NetworkPeering>,
}

/// A peering with another network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPeering {
    /// The semantic name of the peering.
    #[serde(default)]
    pub name: String,
    /// The VNI of the peer network, as a canonical decimal string.
    #[serde(default)]
    pub id: String,
    /// The prefixes exposed to the peer; empty means no filtering.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<PeeringPrefix>,
}

/// A prefix exposed to a peered network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PeeringPrefix {
    /// The semantic name of the prefix.
    #[serde(default)]
    pub name: String,
    /// The exposed CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<IPPrefix>,
}

/// The observed state of a Network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkStatus {
    /// Peering states, keyed by partition (each metalnetlet writes its own entry).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peerings: BTreeMap<String, Vec<NetworkPeeringStatus>>,
}

/// The state of one peering in one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPeeringStatus {
    /// The VNI of the peer network.
    #[serde(default)]
    pub id: i32,
    /// `Pending`, `Ready` or `Error`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state: String,
}

/// Peering state: not applied yet.
pub const NETWORK_PEERING_STATE_PENDING: &str = "Pending";
/// Peering state: applied.
pub const NETWORK_PEERING_STATE_READY: &str = "Ready";
/// Peering state: failed.
pub const NETWORK_PEERING_STATE_ERROR: &str = "Error";

/// A list of Networks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<Network>,
    /// Always `NetworkList`.
    pub kind: ListKindTag<Network>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The Networks.
    pub items: Vec<Network>,
}

crate::impl_resource!(Network, group: GROUP, version: VERSION, plural: "networks", scope: Namespaced);

impl ApiKind for Network {
    type List = NetworkList;

    const FACTS: KindFacts = KindFacts {
        singular: "network",
        short_names: &[],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_label,
        field_labels: &[],
    };

    fn validate(&self) -> FieldErrors {
        let spec = Path::new("spec");
        let mut errs = FieldErrors::new();
        if !self.spec.id.is_empty() {
            for msg in validate_vni(&self.spec.id) {
                errs.push(FieldError::invalid(
                    &spec.child("id"),
                    self.spec.id.as_str(),
                    msg,
                ));
            }
        }
        for (i, peering) in self.spec.peerings.iter().enumerate() {
            let p = spec.child("peerings").index(i).child("id");
            if peering.id.is_empty() {
                errs.push(FieldError::required(
                    &p,
                    "must specify the peer network's VNI",
                ));
            } else {
                for msg in validate_vni(&peering.id) {
                    errs.push(FieldError::invalid(&p, peering.id.as_str(), msg));
                }
            }
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = self.validate();
        errs.extend(validate_immutable(
            &self.spec.id,
            &old.spec.id,
            &Path::new("spec").child("id"),
        ));
        errs
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[column("ID", "The ID (VNI) of the network."), AGE];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        vec![self.spec.id.as_str().into(), age(&self.metadata)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;

    fn valid() -> Network {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "Network",
            "metadata": {"name": "net", "namespace": "ns"},
            "spec": {"id": "200"}
        }))
        .unwrap()
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<Network>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "Network",
            "metadata": {"name": "net", "namespace": "ns"},
            "spec": {
                "id": "200",
                "peerings": [
                    {"name": "p", "id": "201", "prefixes": [{"name": "a", "prefix": "10.0.0.0/24"}, {"name": "b"}]},
                    {"name": "q", "id": "202"}
                ]
            },
            "status": {"peerings": {"part-a": [{"id": 201, "state": "Ready"}, {"id": 202}]}}
        }));
    }

    #[test]
    fn minimal_object_round_trips_with_empty_spec_and_status() {
        assert_round_trip::<Network>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "Network",
            "metadata": {"name": "net", "namespace": "ns"},
            "spec": {},
            "status": {}
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
        let mut no_id = valid();
        no_id.spec.id.clear();
        assert!(no_id.validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut n = valid();
        n.metadata.name = Some("a.b".into());
        assert_one(
            &n.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn id_must_be_a_canonical_vni() {
        let mut n = valid();
        n.spec.id = "0200".into();
        assert_one(&n.validate(), "spec.id", ErrorType::Invalid);
    }

    #[test]
    fn peering_id_is_required() {
        let mut n = valid();
        n.spec.peerings = vec![NetworkPeering {
            name: "p".into(),
            ..Default::default()
        }];
        assert_one(&n.validate(), "spec.peerings[0].id", ErrorType::Required);
    }

    #[test]
    fn peering_id_must_be_a_canonical_vni() {
        let mut n = valid();
        n.spec.peerings = vec![NetworkPeering {
            name: "p".into(),
            id: "x".into(),
            prefixes: vec![],
        }];
        assert_one(&n.validate(), "spec.peerings[0].id", ErrorType::Invalid);
    }

    #[test]
    fn id_is_immutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.id = "201".into();
        assert_one(&new.validate_update(&old), "spec.id", ErrorType::Invalid);
    }

    #[test]
    fn peerings_are_mutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.peerings = vec![NetworkPeering {
            name: "p".into(),
            id: "300".into(),
            prefixes: vec![],
        }];
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn table_shows_the_id() {
        assert_eq!(valid().table_cells()[0], "200");
        assert_eq!(Network::table_columns().len(), valid().table_cells().len());
    }
}
