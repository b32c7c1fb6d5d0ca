//! LoadBalancerRouting: the NetworkInterfaces a LoadBalancer currently sends traffic to.
//! Written by the LoadBalancer controller; same name as its LoadBalancer. No spec/status.
//!
//! Seed shape (DESIGN.md §3): top-level `networkRef` and `destinations` of `{name, uid}`, each
//! optionally with `ip` and `providerID` (upstream nests them as `{ip, targetRef{uid, name,
//! providerID}}`). Beyond upstream: `networkRef.name` and each destination's `name` and `uid`
//! are validated; the Targets column description no longer says "alias prefix" (§12.7).

use ironcore_apimachinery::names::{is_dns1123_subdomain, name_is_dns_subdomain};
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{join_strings_more, name_errors};
use super::{GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IP, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A LoadBalancerRouting: the destinations of a LoadBalancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerRouting {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<LoadBalancerRouting>,
    /// Always `LoadBalancerRouting`.
    pub kind: KindTag<LoadBalancerRouting>,
    /// Standard object metadata.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub metadata: ObjectMeta,
    /// The Network the load balancer belongs to.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub network_ref: LoadBalancerRoutingNetworkRef,
    /// The target NetworkInterfaces the load balancer forwards traffic to.
    // Always emitted (`null` when unset), as Go does.
    #[serde(default)]
    pub destinations: Option<Vec<LoadBalancerDestination>>,
}

/// The Network of a LoadBalancerRouting, by name and (once known) UID.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadBalancerRoutingNetworkRef {
    /// Name of the Network.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub name: String,
    /// UID of the Network.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub uid: String,
}

/// One target NetworkInterface of a load balancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadBalancerDestination {
    /// Name of the NetworkInterface.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub name: String,
    /// UID of the NetworkInterface.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub uid: String,
    /// The target IP of the NetworkInterface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IP>,
    /// The provider ID of the NetworkInterface.
    #[serde(
        rename = "providerID",
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub provider_id: String,
}

/// A list of LoadBalancerRoutings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadBalancerRoutingList {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<LoadBalancerRouting>,
    /// Always `LoadBalancerRoutingList`.
    pub kind: ListKindTag<LoadBalancerRouting>,
    /// Standard list metadata.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub metadata: ListMeta,
    /// The LoadBalancerRoutings.
    pub items: Vec<LoadBalancerRouting>,
}

crate::impl_resource!(LoadBalancerRouting, group: GROUP, version: VERSION, plural: "loadbalancerroutings", scope: Namespaced);

/// The field label of the network reference (top level: this kind has no spec).
pub const FIELD_LABEL_NETWORK_REF_NAME: &str = "networkRef.name";

impl ApiKind for LoadBalancerRouting {
    type List = LoadBalancerRoutingList;

    const FACTS: KindFacts = KindFacts {
        singular: "loadbalancerrouting",
        short_names: &["lbr", "lbrt"],
        namespaced: true,
        has_status: false,
        name_validator: name_is_dns_subdomain,
        field_labels: &[FIELD_LABEL_NETWORK_REF_NAME],
    };

    fn validate(&self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let net = Path::new("networkRef").child("name");
        if self.network_ref.name.is_empty() {
            errs.push(FieldError::required(&net, "must specify a network name"));
        } else {
            errs.extend(name_errors(
                &net,
                &self.network_ref.name,
                is_dns1123_subdomain(&self.network_ref.name),
            ));
        }
        let dest_path = Path::new("destinations");
        for (i, d) in self.destinations.iter().flatten().enumerate() {
            let p = dest_path.index(i);
            if d.name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), "must specify name"));
            } else {
                errs.extend(name_errors(
                    &p.child("name"),
                    &d.name,
                    is_dns1123_subdomain(&d.name),
                ));
            }
            if d.uid.is_empty() {
                errs.push(FieldError::required(&p.child("uid"), "must specify uid"));
            }
        }
        errs
    }

    fn field_label(&self, label: &str) -> Option<String> {
        (label == FIELD_LABEL_NETWORK_REF_NAME).then(|| self.network_ref.name.clone())
    }

    fn table_columns() -> &'static [TableColumn] {
        &[
            TableColumn {
                name: "Targets",
                type_: "string",
                format: "",
                description: "The destinations of the load balancer routing.",
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
        let targets: Vec<String> = self
            .destinations
            .iter()
            .flatten()
            .map(|d| {
                d.ip.as_ref()
                    .map_or_else(|| d.name.clone(), ToString::to_string)
            })
            .collect();
        vec![
            Value::from(join_strings_more(&targets, ",", 3)),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::networking::common::testing::assert_only;
    use ironcore_apimachinery::ErrorType;
    use serde_json::json;

    fn lbr(network_ref: Value, destinations: Value) -> LoadBalancerRouting {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "LoadBalancerRouting",
            "metadata": {"name": "lb", "namespace": "default"},
            "networkRef": network_ref,
            "destinations": destinations
        }))
        .unwrap()
    }

    fn valid() -> LoadBalancerRouting {
        lbr(
            json!({"name": "net"}),
            json!([{"name": "nic", "uid": "u1"}]),
        )
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        let json = json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "LoadBalancerRouting",
            "metadata": {"name": "lb", "namespace": "default"},
            "networkRef": {"name": "net", "uid": "nu"},
            "destinations": [
                {"name": "nic-1", "uid": "u1"},
                {"name": "nic-2", "uid": "u2", "ip": "10.0.0.2", "providerID": "ironcore-net://a/b/c/d"}
            ]
        });
        let obj: LoadBalancerRouting = serde_json::from_value(json.clone()).unwrap();
        assert!(obj.validate_create_all().is_empty());
        assert_eq!(serde_json::to_value(&obj).unwrap(), json);
    }

    #[test]
    fn network_ref_and_destinations_are_always_emitted() {
        let obj: LoadBalancerRouting = serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "LoadBalancerRouting",
            "metadata": {"name": "x"}
        }))
        .unwrap();
        let v = serde_json::to_value(&obj).unwrap();
        assert_eq!(
            (&v["networkRef"], &v["destinations"]),
            (&json!({"name": ""}), &Value::Null)
        );
        let empty = lbr(json!({"name": "net"}), json!([]));
        assert_eq!(
            serde_json::to_value(&empty).unwrap()["destinations"],
            json!([])
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
    fn network_ref_name_is_required() {
        let obj = lbr(json!({}), json!([]));
        assert_only(&obj.validate(), "networkRef.name", ErrorType::Required);
    }

    #[test]
    fn bad_network_ref_name_is_invalid() {
        let obj = lbr(json!({"name": "Net"}), json!([]));
        assert_only(&obj.validate(), "networkRef.name", ErrorType::Invalid);
    }

    #[test]
    fn destination_name_is_required() {
        let obj = lbr(json!({"name": "net"}), json!([{"uid": "u"}]));
        assert_only(&obj.validate(), "destinations[0].name", ErrorType::Required);
    }

    #[test]
    fn bad_destination_name_is_invalid() {
        let obj = lbr(json!({"name": "net"}), json!([{"name": "Nic", "uid": "u"}]));
        assert_only(&obj.validate(), "destinations[0].name", ErrorType::Invalid);
    }

    #[test]
    fn destination_uid_is_required() {
        let obj = lbr(json!({"name": "net"}), json!([{"name": "nic"}]));
        assert_only(&obj.validate(), "destinations[0].uid", ErrorType::Required);
    }

    #[test]
    fn everything_is_mutable() {
        let old = valid();
        let new = lbr(json!({"name": "other", "uid": "x"}), json!([]));
        assert!(new.validate_update(&old).is_empty());
    }

    #[test]
    fn network_ref_name_is_a_field_label() {
        assert_eq!(LoadBalancerRouting::FACTS.field_labels, ["networkRef.name"]);
        const { assert!(!LoadBalancerRouting::FACTS.has_status) };
        assert_eq!(
            valid().field_label("networkRef.name").as_deref(),
            Some("net")
        );
    }

    #[test]
    fn table_targets_list_at_most_three_destinations() {
        let names: Vec<_> = LoadBalancerRouting::table_columns()
            .iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["Targets", "Age"]);
        assert_eq!(
            lbr(json!({"name": "n"}), json!([])).table_cells()[0],
            json!("<unset>")
        );
        let obj = lbr(
            json!({"name": "n"}),
            json!([
                {"name": "a", "uid": "1", "ip": "10.0.0.1"},
                {"name": "b", "uid": "2"},
                {"name": "c", "uid": "3"},
                {"name": "d", "uid": "4"},
                {"name": "e", "uid": "5"}
            ]),
        );
        assert_eq!(obj.table_cells()[0], json!("10.0.0.1,b,c + 2 more"));
    }

    #[test]
    fn quirk_targets_column_description_names_destinations() {
        let desc = LoadBalancerRouting::table_columns()[0].description;
        assert!(!desc.contains("alias prefix"));
        assert!(desc.contains("destinations"));
    }
}
