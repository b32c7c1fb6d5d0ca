//! Network: a logically isolated layer-3 network, optionally peered with other networks.
//!
//! Fixed upstream quirks (networking-upstream.md §3.1, §12):
//! - peering-prefix names and `prefixRef`s must be unique *within one peering* (upstream checks
//!   them across all peerings), and an empty `prefixRef` is not a key (upstream: two CIDR-only
//!   prefixes collide on the empty name);
//! - `incomingPeerings[].namespace` must be a DNS label like every namespace (upstream: subdomain);
//! - a peering prefix must give a `prefix` or a `prefixRef` (upstream accepts neither).

use std::collections::HashSet;

use ironcore_apimachinery::names::{is_dns1123_label, is_dns1123_subdomain, name_is_dns_subdomain};
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{LocalObjectReference, json, name_errors};
use super::{GROUP, VERSION};
use crate::common::table::{age, or_unknown};
use crate::common::{ApiVersionTag, IPPrefix, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A Network: an isolated layer-3 network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Network {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<Network>,
    /// Always `Network`.
    pub kind: KindTag<Network>,
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
    pub spec: NetworkSpec,
    /// The observed state.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub status: NetworkStatus,
}

/// The desired state of a Network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSpec {
    /// The provider-internal ID, set once by the network plugin.
    #[serde(
        rename = "providerID",
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub provider_id: String,
    /// Peerings with other networks, one per `name`. Traffic flows once both networks peer
    /// with each other.
    #[schemars(transform = crate::common::schema::list_map_by_name)]
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub peerings: Vec<NetworkPeering>,
    /// Networks whose peering with this one is accepted; written by the peering controller.
    #[schemars(transform = crate::common::schema::list_map_by_name)]
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub incoming_peerings: Vec<NetworkPeeringClaimRef>,
}

/// A peering with another network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPeering {
    /// The semantic name of the peering.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub name: String,
    /// The network to peer with.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub network_ref: NetworkPeeringNetworkRef,
    /// Prefixes exposed to the peer; empty = no filtering.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub prefixes: Vec<PeeringPrefix>,
}

/// A reference to the network to peer with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPeeringNetworkRef {
    /// Namespace of the network; empty = the peering network's own namespace.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    /// Name of the network.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub name: String,
}

/// A prefix exposed to a peered network: a CIDR or an ipam Prefix.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeeringPrefix {
    /// The semantic name of the prefix.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub name: String,
    /// The CIDR to expose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<IPPrefix>,
    /// The ipam Prefix (in the network's namespace) to expose; used when `prefix` is unset.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub prefix_ref: LocalObjectReference,
}

/// A network that claims a peering with this one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPeeringClaimRef {
    /// Namespace of the network; empty = this network's namespace.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    /// Name of the network.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub name: String,
    /// UID of the network.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub uid: String,
}

/// The observed state of a Network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkStatus {
    /// `Pending`, `Available` or `Error`.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub state: String,
    /// The state of each peering, one per peering `name`.
    #[schemars(transform = crate::common::schema::list_map_by_name)]
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub peerings: Vec<NetworkPeeringStatus>,
}

/// The observed state of one peering.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkPeeringStatus {
    /// The name of the peering.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub name: String,
    /// `Pending`, `Ready` or `Error`.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub state: String,
    /// The prefixes exposed to the peer.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub prefixes: Vec<PeeringPrefixStatus>,
}

/// A prefix exposed to a peer, as realized.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PeeringPrefixStatus {
    /// The name of the peering prefix.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub name: String,
    /// The exposed CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<IPPrefix>,
}

/// A list of Networks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkList {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<Network>,
    /// Always `NetworkList`.
    pub kind: ListKindTag<Network>,
    /// Standard list metadata.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub metadata: ListMeta,
    /// The Networks.
    pub items: Vec<Network>,
}

crate::impl_resource!(Network, group: GROUP, version: VERSION, plural: "networks", scope: Namespaced);

/// Network state: being provisioned.
pub const NETWORK_STATE_PENDING: &str = "Pending";
/// Network state: ready to use.
pub const NETWORK_STATE_AVAILABLE: &str = "Available";
/// Network state: failed.
pub const NETWORK_STATE_ERROR: &str = "Error";
/// Peering state: not (yet) applied.
pub const NETWORK_PEERING_STATE_PENDING: &str = "Pending";
/// Peering state: applied.
pub const NETWORK_PEERING_STATE_READY: &str = "Ready";
/// Peering state: failed.
pub const NETWORK_PEERING_STATE_ERROR: &str = "Error";

impl Network {
    fn validate_peerings(&self, own_ns: &str, own_name: &str, path: &Path) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let mut names = HashSet::new();
        let mut targets = HashSet::new();
        for (i, peering) in self.spec.peerings.iter().enumerate() {
            let p = path.index(i);
            if !names.insert(peering.name.as_str()) {
                errs.push(FieldError::duplicate(
                    &p.child("name"),
                    peering.name.as_str(),
                ));
            }
            errs.extend(name_errors(
                &p.child("name"),
                &peering.name,
                is_dns1123_subdomain(&peering.name),
            ));

            let r = &peering.network_ref;
            let ns = if r.namespace.is_empty() {
                own_ns
            } else {
                r.namespace.as_str()
            };
            let key = (ns, r.name.as_str());
            if !own_name.is_empty() && key == (own_ns, own_name) {
                errs.push(FieldError::forbidden(
                    &p.child("networkRef"),
                    "cannot peer a network with itself",
                ));
            } else if !targets.insert(key) {
                errs.push(FieldError::duplicate(&p.child("networkRef"), json(r)));
            }
            let ref_path = p.child("networkRef");
            if !r.namespace.is_empty() {
                errs.extend(name_errors(
                    &ref_path.child("namespace"),
                    &r.namespace,
                    is_dns1123_label(&r.namespace),
                ));
            }
            errs.extend(name_errors(
                &ref_path.child("name"),
                &r.name,
                is_dns1123_subdomain(&r.name),
            ));

            errs.extend(validate_peering_prefixes(
                &peering.prefixes,
                &p.child("prefixes"),
            ));
        }
        errs
    }

    fn validate_incoming_peerings(&self, own_ns: &str, own_name: &str, path: &Path) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let mut seen = HashSet::new();
        for (i, claim) in self.spec.incoming_peerings.iter().enumerate() {
            let p = path.index(i);
            let ns = if claim.namespace.is_empty() {
                own_ns
            } else {
                claim.namespace.as_str()
            };
            let key = (ns, claim.name.as_str());
            if !own_name.is_empty() && key == (own_ns, own_name) {
                errs.push(FieldError::forbidden(&p, "cannot claim itself"));
            } else if !seen.insert(key) {
                errs.push(FieldError::duplicate(&p, json(claim)));
            }
            if claim.name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), "name is required"));
            } else {
                errs.extend(name_errors(
                    &p.child("name"),
                    &claim.name,
                    is_dns1123_subdomain(&claim.name),
                ));
            }
            if !claim.namespace.is_empty() {
                errs.extend(name_errors(
                    &p.child("namespace"),
                    &claim.namespace,
                    is_dns1123_label(&claim.namespace),
                ));
            }
        }
        errs
    }
}

/// The prefixes of one peering: names and prefix refs unique within the peering.
fn validate_peering_prefixes(prefixes: &[PeeringPrefix], path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut names = HashSet::new();
    let mut refs = HashSet::new();
    for (j, prefix) in prefixes.iter().enumerate() {
        let p = path.index(j);
        if !names.insert(prefix.name.as_str()) {
            errs.push(FieldError::duplicate(
                &p.child("name"),
                prefix.name.as_str(),
            ));
        }
        errs.extend(name_errors(
            &p.child("name"),
            &prefix.name,
            is_dns1123_subdomain(&prefix.name),
        ));
        let ref_name = prefix.prefix_ref.name.as_str();
        if !ref_name.is_empty() {
            if !refs.insert(ref_name) {
                errs.push(FieldError::duplicate(
                    &p.child("prefixRef"),
                    json(&prefix.prefix_ref),
                ));
            }
            errs.extend(name_errors(
                &p.child("prefixRef").child("name"),
                ref_name,
                is_dns1123_subdomain(ref_name),
            ));
        } else if prefix.prefix.is_none() {
            errs.push(FieldError::required(
                &p.child("prefix"),
                "must specify prefix or prefixRef",
            ));
        }
    }
    errs
}

impl ApiKind for Network {
    type List = NetworkList;

    const FACTS: KindFacts = KindFacts {
        singular: "network",
        short_names: &["net"],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_subdomain,
        field_labels: &[],
    };

    fn validate(&self) -> FieldErrors {
        let own_ns = self.metadata.namespace.as_deref().unwrap_or("");
        let own_name = self.metadata.name.as_deref().unwrap_or("");
        let spec = Path::new("spec");
        let mut errs = self.validate_peerings(own_ns, own_name, &spec.child("peerings"));
        errs.extend(self.validate_incoming_peerings(
            own_ns,
            own_name,
            &spec.child("incomingPeerings"),
        ));
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        if !old.spec.provider_id.is_empty() && self.spec.provider_id != old.spec.provider_id {
            errs.push(FieldError::forbidden(
                &Path::new("spec").child("providerID"),
                "field is immutable",
            ));
        }
        errs.extend(self.validate());
        errs
    }

    fn table_columns() -> &'static [TableColumn] {
        &[
            TableColumn {
                name: "State",
                type_: "string",
                format: "",
                description: "The state of the network.",
                priority: 0,
            },
            TableColumn {
                name: "ProviderID",
                type_: "string",
                format: "",
                description: "The provider ID of the network.",
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

    fn table_cells(&self) -> Vec<serde_json::Value> {
        vec![
            or_unknown(Some(self.status.state.as_str())),
            serde_json::Value::from(self.spec.provider_id.as_str()),
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

    fn network(spec: serde_json::Value) -> Network {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "Network",
            "metadata": {"name": "net", "namespace": "default"},
            "spec": spec
        }))
        .unwrap()
    }

    fn peering(name: &str, target: &str) -> serde_json::Value {
        json!({"name": name, "networkRef": {"name": target}})
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        let json = json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "Network",
            "metadata": {"name": "net", "namespace": "default"},
            "spec": {
                "providerID": "ironcore-net://ns/n/1/u",
                "peerings": [{
                    "name": "p1",
                    "networkRef": {"namespace": "other", "name": "net2"},
                    "prefixes": [
                        {"name": "a", "prefix": "10.0.0.0/24", "prefixRef": {}},
                        {"name": "b", "prefixRef": {"name": "pfx"}}
                    ]
                }],
                "incomingPeerings": [{"namespace": "other", "name": "net2", "uid": "u2"}]
            },
            "status": {
                "state": "Available",
                "peerings": [{"name": "p1", "state": "Ready", "prefixes": [{"name": "a", "prefix": "10.0.0.0/24"}]}]
            }
        });
        let net: Network = serde_json::from_value(json.clone()).unwrap();
        assert!(
            net.validate_create_all().is_empty(),
            "{:?}",
            net.validate_create_all()
        );
        assert_eq!(serde_json::to_value(&net).unwrap(), json);
    }

    #[test]
    fn empty_spec_and_status_are_emitted() {
        let net = network(json!({}));
        let v = serde_json::to_value(&net).unwrap();
        assert_eq!(v["spec"], json!({}));
        assert_eq!(v["status"], json!({}));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(
            network(json!({"peerings": [peering("p", "net2")]}))
                .validate_create_all()
                .is_empty()
        );
    }

    #[test]
    fn name_must_be_a_dns_subdomain() {
        let mut net = network(json!({}));
        net.metadata.name = Some("a.b".into());
        assert!(net.validate_create_all().is_empty());
        net.metadata.name = Some("A".into());
        assert_only(
            &net.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn duplicate_peering_name_is_duplicate() {
        let net = network(json!({"peerings": [peering("p", "a"), peering("p", "b")]}));
        assert_only(
            &net.validate(),
            "spec.peerings[1].name",
            ErrorType::Duplicate,
        );
    }

    #[test]
    fn bad_peering_name_is_invalid() {
        let net = network(json!({"peerings": [peering("P", "a")]}));
        assert_only(&net.validate(), "spec.peerings[0].name", ErrorType::Invalid);
    }

    #[test]
    fn peering_with_itself_is_forbidden() {
        let net = network(json!({"peerings": [peering("p", "net")]}));
        assert_only(
            &net.validate(),
            "spec.peerings[0].networkRef",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn peering_with_itself_by_explicit_namespace_is_forbidden() {
        let net = network(
            json!({"peerings": [{"name": "p", "networkRef": {"namespace": "default", "name": "net"}}]}),
        );
        assert_only(
            &net.validate(),
            "spec.peerings[0].networkRef",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn peering_same_network_twice_is_duplicate() {
        let net = network(json!({"peerings": [
            peering("p1", "a"),
            {"name": "p2", "networkRef": {"namespace": "default", "name": "a"}}
        ]}));
        assert_only(
            &net.validate(),
            "spec.peerings[1].networkRef",
            ErrorType::Duplicate,
        );
    }

    #[test]
    fn peering_same_name_in_other_namespace_is_allowed() {
        let net = network(json!({"peerings": [
            peering("p1", "a"),
            {"name": "p2", "networkRef": {"namespace": "other", "name": "a"}}
        ]}));
        assert!(net.validate().is_empty());
    }

    #[test]
    fn peering_namespace_must_be_a_dns_label() {
        let net = network(
            json!({"peerings": [{"name": "p", "networkRef": {"namespace": "a.b", "name": "a"}}]}),
        );
        assert_only(
            &net.validate(),
            "spec.peerings[0].networkRef.namespace",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn peering_network_name_must_be_a_dns_subdomain() {
        let net = network(json!({"peerings": [peering("p", "")]}));
        assert_only(
            &net.validate(),
            "spec.peerings[0].networkRef.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn duplicate_peering_prefix_name_is_duplicate() {
        let net = network(json!({"peerings": [{
            "name": "p", "networkRef": {"name": "a"},
            "prefixes": [{"name": "x", "prefix": "10.0.0.0/8"}, {"name": "x", "prefix": "11.0.0.0/8"}]
        }]}));
        assert_only(
            &net.validate(),
            "spec.peerings[0].prefixes[1].name",
            ErrorType::Duplicate,
        );
    }

    #[test]
    fn bad_peering_prefix_name_is_invalid() {
        let net = network(json!({"peerings": [{
            "name": "p", "networkRef": {"name": "a"},
            "prefixes": [{"name": "X", "prefix": "10.0.0.0/8"}]
        }]}));
        assert_only(
            &net.validate(),
            "spec.peerings[0].prefixes[0].name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn duplicate_peering_prefix_ref_is_duplicate() {
        let net = network(json!({"peerings": [{
            "name": "p", "networkRef": {"name": "a"},
            "prefixes": [{"name": "x", "prefixRef": {"name": "r"}}, {"name": "y", "prefixRef": {"name": "r"}}]
        }]}));
        assert_only(
            &net.validate(),
            "spec.peerings[0].prefixes[1].prefixRef",
            ErrorType::Duplicate,
        );
    }

    #[test]
    fn bad_peering_prefix_ref_name_is_invalid() {
        let net = network(json!({"peerings": [{
            "name": "p", "networkRef": {"name": "a"},
            "prefixes": [{"name": "x", "prefixRef": {"name": "R"}}]
        }]}));
        assert_only(
            &net.validate(),
            "spec.peerings[0].prefixes[0].prefixRef.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn peering_prefix_without_prefix_or_ref_is_required() {
        let net = network(json!({"peerings": [{
            "name": "p", "networkRef": {"name": "a"}, "prefixes": [{"name": "x"}]
        }]}));
        assert_only(
            &net.validate(),
            "spec.peerings[0].prefixes[0].prefix",
            ErrorType::Required,
        );
    }

    #[test]
    fn quirk_peering_prefixes_without_prefix_ref_do_not_collide() {
        let net = network(json!({"peerings": [{
            "name": "p", "networkRef": {"name": "a"},
            "prefixes": [{"name": "x", "prefix": "10.0.0.0/8"}, {"name": "y", "prefix": "11.0.0.0/8"}]
        }]}));
        assert!(net.validate().is_empty());
    }

    #[test]
    fn quirk_peering_prefix_names_are_unique_per_peering_not_per_network() {
        let prefixes = json!([{"name": "x", "prefixRef": {"name": "r"}}]);
        let net = network(json!({"peerings": [
            {"name": "p1", "networkRef": {"name": "a"}, "prefixes": prefixes},
            {"name": "p2", "networkRef": {"name": "b"}, "prefixes": prefixes}
        ]}));
        assert!(net.validate().is_empty());
    }

    #[test]
    fn incoming_peering_of_itself_is_forbidden() {
        let net = network(json!({"incomingPeerings": [{"name": "net"}]}));
        assert_only(
            &net.validate(),
            "spec.incomingPeerings[0]",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn duplicate_incoming_peering_is_duplicate() {
        let net = network(
            json!({"incomingPeerings": [{"name": "a"}, {"name": "a", "namespace": "default"}]}),
        );
        assert_only(
            &net.validate(),
            "spec.incomingPeerings[1]",
            ErrorType::Duplicate,
        );
    }

    #[test]
    fn incoming_peering_name_is_required() {
        let net = network(json!({"incomingPeerings": [{"namespace": "x"}]}));
        assert_only(
            &net.validate(),
            "spec.incomingPeerings[0].name",
            ErrorType::Required,
        );
    }

    #[test]
    fn bad_incoming_peering_name_is_invalid() {
        let net = network(json!({"incomingPeerings": [{"name": "A"}]}));
        assert_only(
            &net.validate(),
            "spec.incomingPeerings[0].name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn quirk_incoming_peering_namespace_must_be_a_dns_label() {
        let net = network(json!({"incomingPeerings": [{"name": "a", "namespace": "a.b"}]}));
        assert_only(
            &net.validate(),
            "spec.incomingPeerings[0].namespace",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn provider_id_can_be_set_once() {
        let old = network(json!({}));
        let new = network(json!({"providerID": "p1"}));
        assert!(new.validate_update(&old).is_empty());
    }

    #[test]
    fn provider_id_cannot_change_once_set() {
        let old = network(json!({"providerID": "p1"}));
        let new = network(json!({"providerID": "p2"}));
        assert_only(
            &new.validate_update(&old),
            "spec.providerID",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn peerings_are_mutable() {
        let old = network(json!({}));
        let new = network(json!({"peerings": [peering("p", "a")]}));
        assert!(new.validate_update(&old).is_empty());
    }

    #[test]
    fn table_shows_state_provider_id_and_age() {
        let mut net = network(json!({"providerID": "pid"}));
        let names: Vec<_> = Network::table_columns().iter().map(|c| c.name).collect();
        assert_eq!(names, ["State", "ProviderID", "Age"]);
        assert_eq!(net.table_cells()[..2], [json!("<unknown>"), json!("pid")]);
        net.status.state = NETWORK_STATE_AVAILABLE.into();
        assert_eq!(net.table_cells()[0], json!("Available"));
    }

    #[test]
    fn network_has_no_extra_field_labels() {
        assert!(Network::FACTS.field_labels.is_empty());
        assert_eq!(network(json!({})).field_label("spec.networkRef.name"), None);
    }
}
