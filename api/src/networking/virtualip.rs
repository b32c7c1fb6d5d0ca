//! VirtualIP: a public IP address kept for the lifetime of the object.

use ironcore_apimachinery::names::{is_dns1123_subdomain, name_is_dns_label};
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::{GROUP, VERSION};
use crate::common::table::{age, or_none};
use crate::common::{ApiVersionTag, IP, IPFamily, KindTag, ListKindTag, LocalUIDReference};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A VirtualIP: a stable public IP that a NetworkInterface can claim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VirtualIP {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<VirtualIP>,
    /// Always `VirtualIP`.
    pub kind: KindTag<VirtualIP>,
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
    pub spec: VirtualIPSpec,
    /// The observed state.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub status: VirtualIPStatus,
}

/// The desired state of a VirtualIP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualIPSpec {
    /// The type of the VirtualIP; only `Public`.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub type_: String,
    /// The IP family of the address.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub ip_family: IPFamily,
    /// The NetworkInterface that claims this VirtualIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<LocalUIDReference>,
}

/// The observed state of a VirtualIP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VirtualIPStatus {
    /// The allocated public IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IP>,
}

/// A list of VirtualIPs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VirtualIPList {
    /// Always `networking.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<VirtualIP>,
    /// Always `VirtualIPList`.
    pub kind: ListKindTag<VirtualIP>,
    /// Standard list metadata.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub metadata: ListMeta,
    /// The VirtualIPs.
    pub items: Vec<VirtualIP>,
}

crate::impl_resource!(VirtualIP, group: GROUP, version: VERSION, plural: "virtualips", scope: Namespaced);

/// The only supported VirtualIP type.
pub const VIRTUAL_IP_TYPE_PUBLIC: &str = "Public";

/// Validates a VirtualIP spec at `path` (also used for ephemeral VirtualIP templates).
pub fn validate_virtual_ip_spec(spec: &VirtualIPSpec, path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    match spec.type_.as_str() {
        "" => errs.push(FieldError::required(
            &path.child("type"),
            "must specify type",
        )),
        VIRTUAL_IP_TYPE_PUBLIC => {}
        other => errs.push(FieldError::not_supported(
            &path.child("type"),
            other,
            &[VIRTUAL_IP_TYPE_PUBLIC],
        )),
    }
    match &spec.ip_family {
        IPFamily::Other(s) if s.is_empty() => errs.push(FieldError::required(
            &path.child("ipFamily"),
            "must specify ipFamily",
        )),
        IPFamily::Other(s) => errs.push(FieldError::not_supported(
            &path.child("ipFamily"),
            s.as_str(),
            IPFamily::SUPPORTED,
        )),
        _ => {}
    }
    if let Some(target) = &spec.target_ref {
        for msg in is_dns1123_subdomain(&target.name) {
            errs.push(FieldError::invalid(
                &path.child("targetRef").child("name"),
                target.name.as_str(),
                msg,
            ));
        }
    }
    errs
}

impl ApiKind for VirtualIP {
    type List = VirtualIPList;

    const FACTS: KindFacts = KindFacts {
        singular: "virtualip",
        short_names: &["vip"],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_label,
        field_labels: &[],
    };

    fn validate(&self) -> FieldErrors {
        validate_virtual_ip_spec(&self.spec, &Path::new("spec"))
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let mut new_spec = self.spec.clone();
        new_spec.target_ref = old.spec.target_ref.clone();
        if new_spec != old.spec {
            errs.push(FieldError::forbidden(
                &Path::new("spec"),
                "field is immutable",
            ));
        }
        errs.extend(self.validate());
        errs
    }

    fn table_columns() -> &'static [TableColumn] {
        &[
            TableColumn {
                name: "ExternalIP",
                type_: "string",
                format: "",
                description: "The external IP of the VirtualIP.",
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
            or_none(self.status.ip.as_ref().map(ToString::to_string).as_deref()),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironcore_apimachinery::ErrorType;

    fn valid() -> VirtualIP {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "VirtualIP",
            "metadata": {"name": "vip", "namespace": "default"},
            "spec": {"type": "Public", "ipFamily": "IPv4"}
        }))
        .unwrap()
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        let json = serde_json::json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "VirtualIP",
            "metadata": {"name": "vip", "namespace": "default"},
            "spec": {"type": "Public", "ipFamily": "IPv6", "targetRef": {"name": "nic", "uid": "u"}},
            "status": {"ip": "2001:db8::1"}
        });
        let vip: VirtualIP = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&vip).unwrap(), json);
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut vip = valid();
        vip.metadata.name = Some("a.b".into());
        let errs = vip.validate_create_all();
        assert_eq!(errs[0].field, "metadata.name");
        assert_eq!(errs[0].error_type, ErrorType::Invalid);
    }

    #[test]
    fn empty_type_is_required() {
        let mut vip = valid();
        vip.spec.type_.clear();
        let errs = vip.validate();
        assert_eq!(
            (errs[0].field.as_str(), errs[0].error_type),
            ("spec.type", ErrorType::Required)
        );
    }

    #[test]
    fn unknown_type_is_not_supported() {
        let mut vip = valid();
        vip.spec.type_ = "Private".into();
        let errs = vip.validate();
        assert_eq!(
            (errs[0].field.as_str(), errs[0].error_type),
            ("spec.type", ErrorType::NotSupported)
        );
    }

    #[test]
    fn unknown_ip_family_is_not_supported() {
        let mut vip = valid();
        vip.spec.ip_family = IPFamily::Other("IPv5".into());
        let errs = vip.validate();
        assert_eq!(
            (errs[0].field.as_str(), errs[0].error_type),
            ("spec.ipFamily", ErrorType::NotSupported)
        );
    }

    #[test]
    fn bad_target_ref_name_is_invalid() {
        let mut vip = valid();
        vip.spec.target_ref = Some(LocalUIDReference {
            name: "Bad_Name".into(),
            uid: "u".into(),
        });
        let errs = vip.validate();
        assert_eq!(
            (errs[0].field.as_str(), errs[0].error_type),
            ("spec.targetRef.name", ErrorType::Invalid)
        );
    }

    #[test]
    fn ip_family_is_immutable_but_target_ref_is_not() {
        let old = valid();
        let mut new = old.clone();
        new.spec.target_ref = Some(LocalUIDReference {
            name: "nic".into(),
            uid: "u".into(),
        });
        assert!(new.validate_update(&old).is_empty());
        new.spec.ip_family = IPFamily::IPv6;
        let errs = new.validate_update(&old);
        assert_eq!(
            (errs[0].field.as_str(), errs[0].error_type),
            ("spec", ErrorType::Forbidden)
        );
    }
}
