//! NATGatewayAutoscaler: grows and shrinks a NATGateway's public IPs with demand.

use ironcore_apimachinery::names::name_is_dns_label;
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::common::{
    AGE, LocalObjectReference, column, validate_immutable, validate_required_dns_label,
};
use super::{GROUP, VERSION};
use crate::common::table::age;
use crate::common::{ApiVersionTag, KindTag, ListKindTag};
use crate::kind::{ApiKind, KindFacts, TableColumn};

/// A NATGatewayAutoscaler of the apinet layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGatewayAutoscaler {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NATGatewayAutoscaler>,
    /// Always `NATGatewayAutoscaler`.
    pub kind: KindTag<NATGatewayAutoscaler>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: NATGatewayAutoscalerSpec,
    /// The observed state (empty).
    #[serde(default)]
    pub status: NATGatewayAutoscalerStatus,
}

/// The desired state of a NATGatewayAutoscaler.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGatewayAutoscalerSpec {
    /// The NATGateway (same namespace) to scale.
    #[serde(rename = "natGatewayRef", default)]
    pub nat_gateway_ref: LocalObjectReference,
    /// The fewest public IPs; unbounded below when unset.
    #[serde(
        rename = "minPublicIPs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub min_public_ips: Option<i32>,
    /// The most public IPs; unbounded above when unset.
    #[serde(
        rename = "maxPublicIPs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_public_ips: Option<i32>,
}

/// The observed state of a NATGatewayAutoscaler (empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGatewayAutoscalerStatus {}

/// A list of NATGatewayAutoscalers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NATGatewayAutoscalerList {
    /// Always `core.apinet.ironcore.dev/v1alpha1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersionTag<NATGatewayAutoscaler>,
    /// Always `NATGatewayAutoscalerList`.
    pub kind: ListKindTag<NATGatewayAutoscaler>,
    /// Standard list metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The NATGatewayAutoscalers.
    pub items: Vec<NATGatewayAutoscaler>,
}

crate::impl_resource!(NATGatewayAutoscaler, group: GROUP, version: VERSION, plural: "natgatewayautoscalers", scope: Namespaced);

fn validate_non_negative(v: Option<i32>, path: &Path) -> FieldErrors {
    match v {
        Some(v) if v < 0 => vec![FieldError::invalid(
            path,
            v,
            "must be greater than or equal to 0",
        )],
        _ => FieldErrors::new(),
    }
}

impl ApiKind for NATGatewayAutoscaler {
    type List = NATGatewayAutoscalerList;

    const FACTS: KindFacts = KindFacts {
        singular: "natgatewayautoscaler",
        short_names: &[],
        namespaced: true,
        has_status: true,
        name_validator: name_is_dns_label,
        field_labels: &[],
    };

    fn validate(&self) -> FieldErrors {
        let spec = Path::new("spec");
        let s = &self.spec;
        let mut errs = validate_required_dns_label(
            &s.nat_gateway_ref.name,
            &spec.child("natGatewayRef").child("name"),
            "must specify the NAT gateway",
        );
        errs.extend(validate_non_negative(
            s.min_public_ips,
            &spec.child("minPublicIPs"),
        ));
        errs.extend(validate_non_negative(
            s.max_public_ips,
            &spec.child("maxPublicIPs"),
        ));
        // An unset bound is unbounded (upstream compares unset as 0, quirk 14).
        match (s.min_public_ips, s.max_public_ips) {
            (Some(min), Some(max)) if min >= 0 && max >= 0 && min > max => {
                errs.push(FieldError::invalid(
                    &spec.child("maxPublicIPs"),
                    max,
                    "must be greater than or equal to minPublicIPs",
                ));
            }
            _ => {}
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> FieldErrors {
        let mut errs = self.validate();
        errs.extend(validate_immutable(
            &self.spec.nat_gateway_ref,
            &old.spec.nat_gateway_ref,
            &Path::new("spec").child("natGatewayRef"),
        ));
        errs
    }

    fn table_columns() -> &'static [TableColumn] {
        const COLUMNS: &[TableColumn] = &[
            column("NATGateway", "The target NAT gateway."),
            column(
                "PublicIPs",
                "The min / max public IPs of the NAT gateway (- = unbounded).",
            ),
            AGE,
        ];
        COLUMNS
    }

    fn table_cells(&self) -> Vec<serde_json::Value> {
        let bound = |v: Option<i32>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        vec![
            self.spec.nat_gateway_ref.name.as_str().into(),
            format!(
                "{}/{}",
                bound(self.spec.min_public_ips),
                bound(self.spec.max_public_ips)
            )
            .into(),
            age(&self.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apinet::common::testing::{assert_one, assert_round_trip};
    use ironcore_apimachinery::ErrorType;

    fn valid() -> NATGatewayAutoscaler {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NATGatewayAutoscaler",
            "metadata": {"name": "nat", "namespace": "ns"},
            "spec": {"natGatewayRef": {"name": "nat"}, "minPublicIPs": 1, "maxPublicIPs": 10}
        }))
        .unwrap()
    }

    #[test]
    fn valid_object_round_trips_json_unchanged() {
        assert_round_trip::<NATGatewayAutoscaler>(serde_json::json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
            "kind": "NATGatewayAutoscaler",
            "metadata": {"name": "nat", "namespace": "ns"},
            "spec": {"natGatewayRef": {"name": "nat"}, "minPublicIPs": 1, "maxPublicIPs": 10},
            "status": {}
        }));
    }

    #[test]
    fn valid_object_has_no_errors() {
        assert!(valid().validate_create_all().is_empty());
    }

    #[test]
    fn name_must_be_a_dns_label() {
        let mut a = valid();
        a.metadata.name = Some("-nat".into());
        assert_one(
            &a.validate_create_all(),
            "metadata.name",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn nat_gateway_ref_name_is_required() {
        let mut a = valid();
        a.spec.nat_gateway_ref.name.clear();
        assert_one(
            &a.validate(),
            "spec.natGatewayRef.name",
            ErrorType::Required,
        );
    }

    #[test]
    fn nat_gateway_ref_name_must_be_a_dns_label() {
        let mut a = valid();
        a.spec.nat_gateway_ref.name = "nat.1".into();
        assert_one(&a.validate(), "spec.natGatewayRef.name", ErrorType::Invalid);
    }

    #[test]
    fn negative_min_is_invalid() {
        let mut a = valid();
        a.spec.min_public_ips = Some(-1);
        assert_one(&a.validate(), "spec.minPublicIPs", ErrorType::Invalid);
    }

    #[test]
    fn negative_max_is_invalid() {
        let mut a = valid();
        a.spec.min_public_ips = None;
        a.spec.max_public_ips = Some(-1);
        assert_one(&a.validate(), "spec.maxPublicIPs", ErrorType::Invalid);
    }

    #[test]
    fn min_above_max_is_invalid_at_max() {
        let mut a = valid();
        a.spec.min_public_ips = Some(11);
        assert_one(&a.validate(), "spec.maxPublicIPs", ErrorType::Invalid);
    }

    #[test]
    fn min_without_max_is_valid_quirk_14() {
        let mut a = valid();
        a.spec.max_public_ips = None;
        assert!(a.validate().is_empty());
    }

    #[test]
    fn nat_gateway_ref_is_immutable_on_main_updates_quirk_status_only_check() {
        let old = valid();
        let mut new = old.clone();
        new.spec.nat_gateway_ref.name = "other".into();
        assert_one(
            &new.validate_update_all(&old),
            "spec.natGatewayRef",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn bounds_are_mutable() {
        let old = valid();
        let mut new = old.clone();
        new.spec.max_public_ips = Some(3);
        assert!(new.validate_update_all(&old).is_empty());
    }

    #[test]
    fn table_shows_gateway_and_bounds() {
        let mut a = valid();
        assert_eq!(a.table_cells()[..2], ["nat", "1/10"]);
        a.spec.max_public_ips = None;
        assert_eq!(a.table_cells()[1], "1/-");
        assert_eq!(
            NATGatewayAutoscaler::table_columns().len(),
            a.table_cells().len()
        );
    }
}
