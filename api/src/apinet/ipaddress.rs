//! IPAddress: a cluster-scoped record that one public IP address is taken, named by the address.

use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{AGE, ClaimRef, column, validate_immutable};
use super::{GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IP, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// An IPAddress: the address named by `metadata.name` is allocated to `spec.claimRef`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IPAddress {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<IPAddress>,
    /// Always `IPAddress`.
    pub kind: KindTag<IPAddress>,
    /// Standard object metadata; the name is the address in canonical form.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: IPAddressSpec,
}

/// The desired state of an IPAddress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IPAddressSpec {
    /// The address; must equal the object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IP>,
    /// The IP object that holds this address.
    #[serde(default)]
    pub claim_ref: IPAddressClaimRef,
}

/// The claimer of an IPAddress.
pub type IPAddressClaimRef = ClaimRef;

/// A list of IPAddresses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IPAddressList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<IPAddress>,
    /// Always `IPAddressList`.
    pub kind: ListKindTag<IPAddress>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The IPAddresses.
    pub items: Vec<IPAddress>,
}

crate::impl_resource!(IPAddress, group: GROUP, version: VERSION, plural: "ipaddresses", scope: Cluster);

/// The name rule of IPAddresses: an IP address in canonical form.
pub fn name_is_canonical_ip(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        return vec!["generateName is not supported: the name must be an IP address".to_owned()];
    }
    match name.parse::<IP>() {
        Err(e) => vec![e.to_string()],
        Ok(ip) if ip.to_string() != name => {
            vec!["not a valid IP address in canonical format".to_owned()]
        }
        Ok(_) => Vec::new(),
    }
}

/// Whether the IPAddress is claimed by the object with `uid`.
pub fn is_ip_address_claimed_by(addr: &IPAddress, uid: &str) -> bool {
    addr.spec.claim_ref.uid == uid
}

impl ApiKind for IPAddress {
    type List = IPAddressList;

    const FACTS: KindFacts = KindFacts {
        singular: "ipaddress",
        short_names: &[],
        namespaced: false,
        has_status: false,
        name_validator: name_is_canonical_ip,
        field_labels: &[],
    };

    fn validate(&self) -> FieldErrors {
        let path = Path::new("spec").child("ip");
        let mut errs = FieldErrors::new();
        let name = self.metadata.name.as_deref().unwrap_or("");
        if let Ok(name_ip) = name.parse::<IP>() {
            match &self.spec.ip {
                None => errs.push(FieldError::required(
                    &path,
                    "must specify the IP of the name",
                )),
                Some(ip) if *ip != name_ip => errs.push(FieldError::invalid(
                    &path,
                    ip.to_string(),
                    "IP address must match name",
                )),
                Some(_) => {}
            }
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let spec = Path::new("spec");
        let mut errs = self.validate();
        errs.extend(validate_immutable(
            &self.spec.ip,
            &old.spec.ip,
            &spec.child("ip"),
        ));
        errs.extend(validate_immutable(
            &self.spec.claim_ref,
            &old.spec.claim_ref,
            &spec.child("claimRef"),
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

    fn valid() -> IPAddress {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "IPAddress",
            "metadata": {"name": "10.0.0.5"},
            "spec": {"ip": "10.0.0.5", "claimRef": {"group": "core.apinet.ironcore.dev", "resource": "ips",
                                                   "namespace": "ns", "name": "ip", "uid": "u1"}}
        }))
        .unwrap()
    }

    #[test]
    fn valid_cluster_scoped_object_round_trips_json_unchanged() {
        assert_round_trip::<IPAddress>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "IPAddress",
            "metadata": {"name": "fd00::5", "finalizers": ["apinet.ironcore.dev/ipaddress-protection"]},
            "spec": {"ip": "fd00::5", "claimRef": {"group": "core.apinet.ironcore.dev", "resource": "ips",
                                                   "namespace": "ns", "name": "ip", "uid": "u1"}}
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn namespace_is_forbidden_on_cluster_scoped_ip_addresses() {
        let mut a = valid();
        a.metadata.namespace = Some("ns".into());
        assert_one(
            &a.validate_create_all(),
            "metadata.namespace",
            ErrorType::Forbidden,
        );
    }

    #[test]
    fn name_must_be_an_ip() {
        let mut a = valid();
        a.metadata.name = Some("not-an-ip".into());
        assert_one(
            &a.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn name_must_be_canonical() {
        let mut a = valid();
        a.metadata.name = Some("FD00::5".into());
        a.spec.ip = "fd00::5".parse().ok();
        assert_one(
            &a.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn ip_must_match_name() {
        let mut a = valid();
        a.spec.ip = "10.0.0.6".parse().ok();
        assert_one(&a.validate_create_all(), "spec.ip", ErrorType::Invalid);
    }

    #[test]
    fn missing_ip_is_required() {
        let mut a = valid();
        a.spec.ip = None;
        assert_one(&a.validate_create_all(), "spec.ip", ErrorType::Required);
    }

    #[test]
    fn ip_is_immutable() {
        let mut old = valid();
        old.spec.ip = None;
        let new = valid();
        assert_one(&new.validate_update(&old), "spec.ip", ErrorType::Invalid);
    }

    #[test]
    fn claim_ref_is_immutable_at_spec_claim_ref_not_clam_ref() {
        let old = valid();
        let mut new = old.clone();
        new.spec.claim_ref.name = "other".into();
        assert_one(
            &new.validate_update_all(&old),
            "spec.claimRef",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn claimed_by_compares_uids() {
        assert!(is_ip_address_claimed_by(&valid(), "u1"));
        assert!(!is_ip_address_claimed_by(&valid(), "u2"));
    }

    #[test]
    fn table_shows_claim_ref() {
        let cells = valid().table_cells();
        assert_eq!(cells[0], "ips.core.apinet.ironcore.dev ns/ip");
        assert_eq!(IPAddress::table_columns().len(), cells.len());
    }
}
