//! NATTable: the port sections a NATGateway assigned to NetworkInterfaces, per public IP.

use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{AGE, LocalObjectReference, join, wide_column};
use super::{GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, IP, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A NATTable (top-level `ips`, no spec); named like its NATGateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATTable {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NATTable>,
    /// Always `NATTable`.
    pub kind: KindTag<NATTable>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// How to NAT, per public IP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<NATIP>,
}

/// The sections of one public NAT IP.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATIP {
    /// The public NAT IP; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IP>,
    /// The port sections of the IP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<NATIPSection>,
}

/// A port range of a public NAT IP assigned to one internal source IP.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NATIPSection {
    /// The internal source IP; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IP>,
    /// The first port of the section.
    #[serde(default)]
    pub port: i32,
    /// The last port of the section.
    #[serde(default)]
    pub end_port: i32,
    /// The NetworkInterface owning the source IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<NATTableIPTargetRef>,
}

/// The NetworkInterface behind a NAT section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NATTableIPTargetRef {
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

/// A list of NATTables.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATTableList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NATTable>,
    /// Always `NATTableList`.
    pub kind: ListKindTag<NATTable>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The NATTables.
    pub items: Vec<NATTable>,
}

crate::impl_resource!(NATTable, group: GROUP, version: VERSION, plural: "nattables", scope: Namespaced);

impl ApiKind for NATTable {
    type List = NATTableList;

    const FACTS: KindFacts = KindFacts {
        singular: "nattable",
        short_names: &[],
        namespaced: true,
        has_status: false,
        name_validator: name_is_dns_label,
        field_labels: &[],
    };

    fn validate(&self) -> FieldErrors {
        let ips = Path::new("ips");
        let mut errs = FieldErrors::new();
        for (i, nat_ip) in self.ips.iter().enumerate() {
            let p = ips.index(i);
            if nat_ip.ip.is_none() {
                errs.push(FieldError::required(&p.child("ip"), "must specify IP"));
            }
            for (j, section) in nat_ip.sections.iter().enumerate() {
                let sp = p.child("sections").index(j);
                if section.ip.is_none() {
                    errs.push(FieldError::required(&sp.child("ip"), "must specify IP"));
                }
                if !(1..=65535).contains(&section.port) {
                    errs.push(FieldError::invalid(
                        &sp.child("port"),
                        section.port,
                        "must be between 1 and 65535, inclusive",
                    ));
                } else if !(section.port..=65535).contains(&section.end_port) {
                    errs.push(FieldError::invalid(
                        &sp.child("endPort"),
                        section.end_port,
                        "must be between port and 65535, inclusive",
                    ));
                }
            }
        }
        errs
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[wide_column("IPs", "The public NAT IPs."), AGE];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        vec![
            join(self.ips.iter().filter_map(|i| i.ip.as_ref())).into(),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;

    fn valid() -> NATTable {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NATTable",
            "metadata": {"name": "nat", "namespace": "ns"},
            "ips": [{"ip": "1.2.3.4", "sections": [{"ip": "10.0.0.1", "port": 1024, "endPort": 1087,
                "targetRef": {"uid": "u", "name": "nic", "nodeRef": {"name": "n1"}}}]}]
        }))
        .unwrap()
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<NATTable>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NATTable",
            "metadata": {"name": "nat", "namespace": "ns"},
            "ips": [
                {"ip": "1.2.3.4", "sections": [{"ip": "10.0.0.1", "port": 1024, "endPort": 1087,
                    "targetRef": {"uid": "u", "name": "nic", "nodeRef": {"name": "n1"}}}]},
                {"ip": "1.2.3.5"}
            ]
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut t = valid();
        t.metadata.name = Some("nat_1".into());
        assert_one(
            &t.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn nat_ip_is_required() {
        let mut t = valid();
        t.ips[0].ip = None;
        assert_one(&t.validate(), "ips[0].ip", ErrorType::Required);
    }

    #[test]
    fn section_ip_is_required() {
        let mut t = valid();
        t.ips[0].sections[0].ip = None;
        assert_one(&t.validate(), "ips[0].sections[0].ip", ErrorType::Required);
    }

    #[test]
    fn section_port_out_of_range_is_invalid() {
        let mut t = valid();
        t.ips[0].sections[0].port = 0;
        assert_one(&t.validate(), "ips[0].sections[0].port", ErrorType::Invalid);
    }

    #[test]
    fn section_end_port_below_port_is_invalid() {
        let mut t = valid();
        t.ips[0].sections[0].end_port = 1000;
        assert_one(
            &t.validate(),
            "ips[0].sections[0].endPort",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn section_end_port_above_65535_is_invalid() {
        let mut t = valid();
        t.ips[0].sections[0].end_port = 65536;
        assert_one(
            &t.validate(),
            "ips[0].sections[0].endPort",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn table_shows_nat_ips() {
        let cells = valid().table_cells();
        assert_eq!(cells[0], "1.2.3.4");
        assert_eq!(NATTable::table_columns().len(), cells.len());
    }
}
