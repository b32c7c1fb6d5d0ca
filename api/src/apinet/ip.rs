//! IP: a public IP address allocated from the pool and claimable by one object.

use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{
    AGE, NONE, column, default_ip_family, family_is_empty, group_resource, validate_enum,
    validate_immutable, validate_ip_family, validate_ip_matches_family,
};
use super::{GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IP as IPAddr, IPFamily, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// The only supported IP type.
pub const IP_TYPE_PUBLIC: &str = "Public";

/// The field label selecting IPs by address.
pub const FIELD_SPEC_IP: &str = "spec.ip";

/// An IP: a public address, allocated by the server when `spec.ip` is empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IP {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<IP>,
    /// Always `IP`.
    pub kind: KindTag<IP>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: IPSpec,
    /// The observed state (always empty).
    #[serde(default)]
    pub status: IPStatus,
}

/// The desired state of an IP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IPSpec {
    /// The type of the IP; only `Public`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The IP family; defaulted from `ip`.
    #[serde(default, skip_serializing_if = "family_is_empty")]
    pub ip_family: IPFamily,
    /// The address; allocated by the server when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IPAddr>,
    /// The object (in the same namespace) that claims this IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_ref: Option<IPClaimRef>,
}

/// The claimer of an IP, in the IP's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IPClaimRef {
    /// API group of the claimer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Resource (plural) of the claimer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    /// Name of the claimer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// UID of the claimer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// The observed state of an IP (empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IPStatus {}

/// A list of IPs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IPList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<IP>,
    /// Always `IPList`.
    pub kind: ListKindTag<IP>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The IPs.
    pub items: Vec<IP>,
}

crate::impl_resource!(IP, group: GROUP, version: VERSION, plural: "ips", scope: Namespaced);

/// Whether the IP is claimed by the object with `uid`.
pub fn is_ip_claimed_by(ip: &IP, uid: &str) -> bool {
    ip.spec.claim_ref.as_ref().is_some_and(|c| c.uid == uid)
}

impl ApiKind for IP {
    type List = IPList;

    const FACTS: KindFacts = KindFacts {
        singular: "ip",
        short_names: &[],
        namespaced: true,
        has_status: false,
        name_validator: name_is_dns_label,
        field_labels: &[FIELD_SPEC_IP],
    };

    fn set_defaults(&mut self) {
        default_ip_family(&mut self.spec.ip_family, self.spec.ip.as_ref());
    }

    fn validate(&self) -> FieldErrors {
        let spec = Path::new("spec");
        let mut errs = validate_enum(
            &self.spec.type_,
            &[IP_TYPE_PUBLIC],
            &spec.child("type"),
            "must specify IP type",
        );
        errs.extend(validate_ip_family(
            &self.spec.ip_family,
            &spec.child("ipFamily"),
        ));
        if let (Some(ip), true) = (&self.spec.ip, self.spec.ip_family.is_known()) {
            errs.extend(validate_ip_matches_family(
                ip,
                &self.spec.ip_family,
                &spec.child("ip"),
            ));
        }
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
            &self.spec.ip_family,
            &old.spec.ip_family,
            &spec.child("ipFamily"),
        ));
        errs.extend(validate_immutable(
            &self.spec.ip,
            &old.spec.ip,
            &spec.child("ip"),
        ));
        errs
    }

    fn field_label(&self, label: &str) -> Option<String> {
        match label {
            FIELD_SPEC_IP => Some(
                self.spec
                    .ip
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            _ => None,
        }
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[
            column("Type", "The type of the IP."),
            column("IP", "The allocated IP."),
            column("ClaimRef", "The claiming entity, if any."),
            AGE,
        ];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        let claim = match &self.spec.claim_ref {
            Some(c) => format!("{} {}", group_resource(&c.group, &c.resource), c.name),
            None => NONE.to_owned(),
        };
        vec![
            self.spec.type_.as_str().into(),
            self.spec
                .ip
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
                .into(),
            claim.into(),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;

    fn valid() -> IP {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "IP",
            "metadata": {"name": "ip", "namespace": "ns"},
            "spec": {"type": "Public", "ipFamily": "IPv4"}
        }))
        .unwrap()
    }

    fn addr(s: &str) -> Option<IPAddr> {
        s.parse().ok()
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<IP>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "IP",
            "metadata": {"name": "ip", "namespace": "ns", "labels": {"apinet.ironcore.dev/ip": "fd00--1"}},
            "spec": {"type": "Public", "ipFamily": "IPv6", "ip": "fd00::1",
                     "claimRef": {"group": "core.apinet.ironcore.dev", "resource": "loadbalancers", "name": "lb", "uid": "u"}},
            "status": {}
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn ip_family_defaults_from_ip() {
        let mut ip = valid();
        ip.spec.ip_family = IPFamily::default();
        ip.spec.ip = addr("fd00::1");
        ip.set_defaults();
        assert_eq!(ip.spec.ip_family, IPFamily::IPv6);
    }

    #[test]
    fn set_ip_family_is_not_overwritten_by_default() {
        let mut ip = valid();
        ip.spec.ip = addr("fd00::1");
        ip.set_defaults();
        assert_eq!(ip.spec.ip_family, IPFamily::IPv4);
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut ip = valid();
        ip.metadata.name = Some("Ip".into());
        assert_one(
            &ip.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn empty_type_is_required() {
        let mut ip = valid();
        ip.spec.type_.clear();
        assert_one(&ip.validate(), "spec.type", ErrorType::Required);
    }

    #[test]
    fn unknown_type_is_not_supported() {
        let mut ip = valid();
        ip.spec.type_ = "Private".into();
        assert_one(&ip.validate(), "spec.type", ErrorType::NotSupported);
    }

    #[test]
    fn empty_ip_family_is_required() {
        let mut ip = valid();
        ip.spec.ip_family = IPFamily::default();
        assert_one(&ip.validate(), "spec.ipFamily", ErrorType::Required);
    }

    #[test]
    fn unknown_ip_family_is_not_supported() {
        let mut ip = valid();
        ip.spec.ip_family = IPFamily::Other("IPv5".into());
        assert_one(&ip.validate(), "spec.ipFamily", ErrorType::NotSupported);
    }

    #[test]
    fn ip_of_other_family_is_invalid() {
        let mut ip = valid();
        ip.spec.ip = addr("fd00::1");
        assert_one(&ip.validate(), "spec.ip", ErrorType::Invalid);
    }

    #[test]
    fn type_is_immutable() {
        let mut old = valid();
        old.spec.type_ = "Legacy".into();
        let new = valid();
        assert_one(&new.validate_update(&old), "spec.type", ErrorType::Invalid);
    }

    #[test]
    fn ip_family_is_immutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.ip_family = IPFamily::IPv6;
        assert_one(
            &new.validate_update(&old),
            "spec.ipFamily",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn ip_is_immutable() {
        let mut old = valid();
        old.spec.ip = addr("10.0.0.1");
        let mut new = old.clone();
        new.spec.ip = addr("10.0.0.2");
        assert_one(&new.validate_update(&old), "spec.ip", ErrorType::Invalid);
    }

    #[test]
    fn claim_ref_is_mutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.claim_ref = Some(IPClaimRef {
            name: "nic".into(),
            uid: "u".into(),
            ..Default::default()
        });
        assert!(new.validate_update_all(&old).is_empty());
        assert!(is_ip_claimed_by(&new, "u"));
        assert!(!is_ip_claimed_by(&old, "u"));
    }

    #[test]
    fn spec_ip_is_a_field_label() {
        let mut ip = valid();
        assert_eq!(IP::FACTS.field_labels, &["spec.ip"]);
        assert_eq!(ip.field_label("spec.ip"), Some(String::new()));
        ip.spec.ip = addr("10.0.0.1");
        assert_eq!(ip.field_label("spec.ip"), Some("10.0.0.1".into()));
        assert_eq!(ip.field_label("spec.other"), None);
    }

    #[test]
    fn table_shows_type_ip_and_claim() {
        let mut ip = valid();
        ip.spec.ip = addr("10.0.0.1");
        ip.spec.claim_ref = Some(IPClaimRef {
            group: "core.apinet.ironcore.dev".into(),
            resource: "natgateways".into(),
            name: "nat".into(),
            uid: "u".into(),
        });
        let cells = ip.table_cells();
        assert_eq!(
            cells[..3],
            [
                "Public",
                "10.0.0.1",
                "natgateways.core.apinet.ironcore.dev nat"
            ]
        );
        assert_eq!(valid().table_cells()[2], "<none>");
        assert_eq!(IP::table_columns().len(), cells.len());
    }
}
