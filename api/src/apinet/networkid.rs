//! NetworkID: a cluster-scoped record that one VNI is taken, named by the VNI itself.

use ironcore_apimachinery::FieldErrors;
use ironcore_apimachinery::Path;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{AGE, ClaimRef, column, validate_immutable};
use super::{GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// The largest VNI: VNIs are 24-bit numbers.
pub const MAX_VNI: u32 = 16_777_215;

/// A NetworkID: the VNI named by `metadata.name` is allocated to `spec.claimRef`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkID {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkID>,
    /// Always `NetworkID`.
    pub kind: KindTag<NetworkID>,
    /// Standard object metadata; the name is the VNI in canonical decimal form.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: NetworkIDSpec,
}

/// The desired state of a NetworkID.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkIDSpec {
    /// The Network that holds this VNI.
    #[serde(default)]
    pub claim_ref: NetworkIDClaimRef,
}

/// The claimer of a NetworkID.
pub type NetworkIDClaimRef = ClaimRef;

/// A list of NetworkIDs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkIDList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NetworkID>,
    /// Always `NetworkIDList`.
    pub kind: ListKindTag<NetworkID>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The NetworkIDs.
    pub items: Vec<NetworkID>,
}

crate::impl_resource!(NetworkID, group: GROUP, version: VERSION, plural: "networkids", scope: Cluster);

/// Checks that `s` is a VNI in canonical decimal form (no sign, no leading zeros, at most
/// [`MAX_VNI`]); returns the problems, empty when valid.
pub fn validate_vni(s: &str) -> Vec<String> {
    let canonical = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() > 1 && s.starts_with('0'));
    if !canonical {
        return vec![
            "must be a VNI in canonical decimal form (digits only, no sign or leading zeros, e.g. '200')"
                .to_owned(),
        ];
    }
    match s.parse::<u32>() {
        Ok(v) if v <= MAX_VNI => Vec::new(),
        _ => vec![format!("must be no more than {MAX_VNI}")],
    }
}

/// The name rule of NetworkIDs: a canonical VNI (a generateName can never form one).
pub fn name_is_vni(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        return vec!["generateName is not supported: the name must be a VNI".to_owned()];
    }
    validate_vni(name)
}

/// Whether the NetworkID is claimed by the object with `uid`.
pub fn is_network_id_claimed_by(id: &NetworkID, uid: &str) -> bool {
    id.spec.claim_ref.uid == uid
}

impl ApiKind for NetworkID {
    type List = NetworkIDList;

    const FACTS: KindFacts = KindFacts {
        singular: "networkid",
        short_names: &[],
        namespaced: false,
        has_status: false,
        name_validator: name_is_vni,
        field_labels: &[],
    };

    fn validate(&self) -> FieldErrors {
        FieldErrors::new()
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = self.validate();
        errs.extend(validate_immutable(
            &self.spec.claim_ref,
            &old.spec.claim_ref,
            &Path::new("spec").child("claimRef"),
        ));
        errs
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[column("ClaimRef", "The claiming entity."), AGE];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        vec![self.spec.claim_ref.table_cell().into(), age(&self.metadata)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;

    fn valid() -> NetworkID {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NetworkID",
            "metadata": {"name": "200"},
            "spec": {"claimRef": {"group": "core.apinet.ironcore.dev", "resource": "networks",
                                  "namespace": "ns", "name": "net", "uid": "u1"}}
        }))
        .unwrap()
    }

    #[test]
    fn valid_cluster_scoped_object_round_trips_json_unchanged() {
        assert_round_trip::<NetworkID>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NetworkID",
            "metadata": {"name": "200"},
            "spec": {"claimRef": {"group": "core.apinet.ironcore.dev", "resource": "networks",
                                  "namespace": "ns", "name": "net", "uid": "u1"}}
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn namespace_is_forbidden_on_cluster_scoped_network_ids() {
        let mut id = valid();
        id.metadata.namespace = Some("ns".into());
        assert_one(
            &id.validate_create_all(),
            "metadata.namespace",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn name_must_be_a_decimal_vni() {
        let mut id = valid();
        id.metadata.name = Some("abc".into());
        assert_one(
            &id.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn name_with_leading_zero_is_not_canonical() {
        let mut id = valid();
        id.metadata.name = Some("0200".into());
        assert_one(
            &id.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn negative_vni_name_is_rejected_quirk_12() {
        let mut id = valid();
        id.metadata.name = Some("-5".into());
        assert_one(
            &id.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn vni_above_24_bits_is_rejected_quirk_12() {
        let mut id = valid();
        id.metadata.name = Some("16777216".into());
        assert_one(
            &id.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
        id.metadata.name = Some("16777215".into());
        assert!(id.validate_create_all().is_empty());
    }

    #[test]
    fn generate_name_is_rejected() {
        let mut id = valid();
        id.metadata.name = None;
        id.metadata.generate_name = Some("net-".into());
        assert_one(
            &id.validate_create_all(),
            "metadata.generateName",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn claim_ref_is_immutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.claim_ref.uid = "u2".into();
        assert_one(
            &new.validate_update_all(&old),
            "spec.claimRef",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn unchanged_update_is_valid() {
        let old = valid();
        assert!(old.validate_update_all(&old).is_empty());
    }

    #[test]
    fn claimed_by_compares_uids() {
        assert!(is_network_id_claimed_by(&valid(), "u1"));
        assert!(!is_network_id_claimed_by(&valid(), "u2"));
    }

    #[test]
    fn table_shows_claim_ref_and_age() {
        let cells = valid().table_cells();
        assert_eq!(cells[0], "networks.core.apinet.ironcore.dev ns/net");
        assert_eq!(NetworkID::table_columns().len(), cells.len());
    }
}
