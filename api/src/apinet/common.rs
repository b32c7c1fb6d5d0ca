//! Sub-types and validation helpers shared by several apinet kinds.

use std::collections::BTreeMap;
use std::fmt::Display;

use ironcore_apimachinery::meta::validate_label_selector;
use ironcore_apimachinery::names::{is_dns1123_label, is_dns1123_subdomain};
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube_core::{Selector, SelectorExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{IP, IPFamily};
use crate::kind::TableColumn;

pub use k8s_openapi::api::core::v1::LocalObjectReference;

/// The supported IP protocols of ports, sorted as upstream lists them in errors.
pub const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// The message apimachinery uses for a changed immutable field.
pub const FIELD_IMMUTABLE: &str = "field is immutable";

/// Selects objects of one kind by labels (`kind` plus an inline label selector).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObjectSelector {
    /// The kind of objects to select, e.g. `NetworkInterface`.
    #[serde(default)]
    pub kind: String,
    /// The label selector (`matchLabels`, `matchExpressions`), inlined.
    #[serde(flatten)]
    pub label_selector: LabelSelector,
}

/// A reference to the object that claims a cluster-scoped allocation (NetworkID, IPAddress).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClaimRef {
    /// API group of the claimer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Resource (plural) of the claimer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    /// Namespace of the claimer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name of the claimer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// UID of the claimer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

impl ClaimRef {
    /// The table cell: `resource.group namespace/name`, or `<none>` when unclaimed.
    pub fn table_cell(&self) -> String {
        if self.name.is_empty() && self.uid.is_empty() {
            return NONE.to_owned();
        }
        let obj = if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        };
        format!("{} {}", group_resource(&self.group, &self.resource), obj)
    }
}

/// Formats a group and resource as apimachinery's `GroupResource` does (`resource.group`).
pub fn group_resource(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

/// Whether an `ipFamily` is unset (`""`), for `omitempty` fields.
pub fn family_is_empty(f: &IPFamily) -> bool {
    f.as_str().is_empty()
}

/// Defaults an unset `family` to the family of `ip`, when an address is given.
pub fn default_ip_family(family: &mut IPFamily, ip: Option<&IP>) {
    match ip {
        Some(ip) if family_is_empty(family) => *family = ip.family(),
        _ => {}
    }
}

/// Whether an `int32` is zero, for `omitempty` fields.
pub fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

/// Whether an `int64` is zero, for `omitempty` fields.
pub fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// Validates an enumeration: empty is Required (`required_detail`), unknown is NotSupported.
pub fn validate_enum(
    value: &str,
    supported: &[&str],
    path: &Path,
    required_detail: &str,
) -> FieldErrors {
    if value.is_empty() {
        vec![FieldError::required(path, required_detail)]
    } else if supported.contains(&value) {
        Vec::new()
    } else {
        vec![FieldError::not_supported(path, value, supported)]
    }
}

/// Validates an IP family: required, `IPv4` or `IPv6`.
pub fn validate_ip_family(family: &IPFamily, path: &Path) -> FieldErrors {
    validate_enum(
        family.as_str(),
        IPFamily::SUPPORTED,
        path,
        "must specify IP family",
    )
}

/// Validates that `ip` is of `family` (IPv4-mapped IPv6 addresses are IPv6).
pub fn validate_ip_matches_family(ip: &IP, family: &IPFamily, path: &Path) -> FieldErrors {
    if ip.family() == *family {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            path,
            ip.to_string(),
            format!("IP should have family {family}"),
        )]
    }
}

/// Validates a port protocol: `TCP`, `UDP` or `SCTP`.
pub fn validate_protocol(protocol: &str, path: &Path) -> FieldErrors {
    validate_enum(protocol, PROTOCOLS, path, "must specify protocol")
}

/// Validates a port number: 1..=65535.
pub fn validate_port_number(port: i32, path: &Path) -> FieldErrors {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            path,
            port,
            "must be between 1 and 65535, inclusive",
        )]
    }
}

/// Validates the name of a referenced object that must be a DNS label; empty is Required.
pub fn validate_required_dns_label(name: &str, path: &Path, required_detail: &str) -> FieldErrors {
    if name.is_empty() {
        return vec![FieldError::required(path, required_detail)];
    }
    is_dns1123_label(name)
        .into_iter()
        .map(|msg| FieldError::invalid(path, name, msg))
        .collect()
}

/// Validates the name of a referenced Node (a DNS subdomain); empty is Required.
pub fn validate_required_node_name(name: &str, path: &Path, required_detail: &str) -> FieldErrors {
    if name.is_empty() {
        return vec![FieldError::required(path, required_detail)];
    }
    is_dns1123_subdomain(name)
        .into_iter()
        .map(|msg| FieldError::invalid(path, name, msg))
        .collect()
}

/// An Invalid `field is immutable` error at `path` when `new != old` (apimachinery's check).
pub fn validate_immutable<T: PartialEq + Serialize>(new: &T, old: &T, path: &Path) -> FieldErrors {
    if new == old {
        Vec::new()
    } else {
        let value = serde_json::to_value(new).unwrap_or(Value::Null);
        vec![FieldError::invalid(path, value, FIELD_IMMUTABLE)]
    }
}

/// Validates a label selector that must exist and select the template labels.
///
/// A missing selector is Required at `selector_path`; a selector that does not select the
/// template labels is Invalid at `labels_path`. The match is only checked for a valid selector.
pub fn validate_selector_selects_template(
    selector: Option<&LabelSelector>,
    template_labels: Option<&BTreeMap<String, String>>,
    selector_path: &Path,
    labels_path: &Path,
) -> FieldErrors {
    let Some(selector) = selector else {
        return vec![FieldError::required(
            selector_path,
            "must specify a selector",
        )];
    };
    let mut errs = validate_label_selector(selector, selector_path);
    if errs.is_empty() {
        let empty = BTreeMap::new();
        let labels = template_labels.unwrap_or(&empty);
        if !selector_matches(selector, labels) {
            errs.push(FieldError::invalid(
                labels_path,
                serde_json::to_value(labels).unwrap_or(Value::Null),
                "`selector` does not match template `labels`",
            ));
        }
    }
    errs
}

/// Whether a (valid) label selector selects `labels`; an invalid selector selects nothing.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    match Selector::try_from(selector.clone()) {
        Ok(sel) => sel.matches(labels),
        Err(_) => false,
    }
}

/// Formats a label selector as `metav1.FormatLabelSelector` does (`<none>` when empty).
pub fn format_label_selector(selector: &LabelSelector) -> String {
    let mut parts: Vec<(String, String)> = Vec::new();
    for (k, v) in selector.match_labels.iter().flatten() {
        parts.push((k.clone(), format!("{k}={v}")));
    }
    for e in selector.match_expressions.iter().flatten() {
        let mut values: Vec<&str> = e.values.iter().flatten().map(String::as_str).collect();
        values.sort_unstable();
        values.dedup();
        let s = match e.operator.as_str() {
            "In" => format!("{} in ({})", e.key, values.join(",")),
            "NotIn" => format!("{} notin ({})", e.key, values.join(",")),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            _ => return "<error>".to_owned(),
        };
        parts.push((e.key.clone(), s));
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    if parts.is_empty() {
        return NONE.to_owned();
    }
    parts
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(",")
}

/// The `<none>` cell.
pub const NONE: &str = "<none>";

/// Joins displayable items with `,` (empty when there are none), as upstream's table cells do.
pub fn join<T: Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A string table column shown by default.
pub const fn column(name: &'static str, description: &'static str) -> TableColumn {
    TableColumn {
        name,
        type_: "string",
        format: "",
        description,
        priority: 0,
    }
}

/// A string table column shown only with `-o wide`.
pub const fn wide_column(name: &'static str, description: &'static str) -> TableColumn {
    TableColumn {
        name,
        type_: "string",
        format: "",
        description,
        priority: 1,
    }
}

/// The `Age` column.
pub const AGE: TableColumn = TableColumn {
    name: "Age",
    type_: "date",
    format: "",
    description: "Time since the object was created.",
    priority: 0,
};

#[cfg(test)]
pub(crate) mod testing {
    //! Assertions shared by the kinds' tests.

    use ironcore_apimachinery::{ErrorType, FieldErrors};
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    /// Asserts that `errs` is exactly one error of `error_type` at `field`.
    #[track_caller]
    pub fn assert_one(errs: &FieldErrors, field: &str, error_type: ErrorType) {
        let got: Vec<(&str, ErrorType)> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.error_type))
            .collect();
        assert_eq!(got, vec![(field, error_type)], "errors: {errs:#?}");
    }

    /// Asserts that `json` parses into `K` and serializes back unchanged.
    #[track_caller]
    pub fn assert_round_trip<K: Serialize + DeserializeOwned>(json: serde_json::Value) {
        let obj: K = serde_json::from_value(json.clone()).expect("parse");
        assert_eq!(serde_json::to_value(&obj).expect("serialize"), json);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    #[test]
    fn selectors_match_labels_and_expressions_and_invalid_ones_nothing() {
        let labels = BTreeMap::from([("app".to_owned(), "web".to_owned())]);
        let sel: LabelSelector =
            serde_json::from_value(serde_json::json!({"matchLabels": {"app": "web"}})).unwrap();
        assert!(selector_matches(&sel, &labels));
        let sel: LabelSelector = serde_json::from_value(serde_json::json!(
            {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}
        ))
        .unwrap();
        assert!(!selector_matches(&sel, &labels));
        assert!(selector_matches(&LabelSelector::default(), &labels));
        let bad: LabelSelector = serde_json::from_value(serde_json::json!(
            {"matchExpressions": [{"key": "app", "operator": "Nope"}]}
        ))
        .unwrap();
        assert!(!selector_matches(&bad, &labels));
    }

    #[test]
    fn object_selector_inlines_the_label_selector() {
        let json = serde_json::json!({
            "kind": "NetworkInterface",
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "Exists"}]
        });
        let sel: ObjectSelector = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(sel.kind, "NetworkInterface");
        assert_eq!(
            sel.label_selector.match_labels.as_ref().unwrap()["app"],
            "web"
        );
        assert_eq!(serde_json::to_value(&sel).unwrap(), json);
    }

    #[test]
    fn claim_ref_cell_shows_group_resource_and_namespaced_name() {
        let c = ClaimRef {
            group: "core.apinet.ironcore.dev".into(),
            resource: "networks".into(),
            namespace: "ns".into(),
            name: "n".into(),
            uid: "u".into(),
        };
        assert_eq!(c.table_cell(), "networks.core.apinet.ironcore.dev ns/n");
        assert_eq!(ClaimRef::default().table_cell(), "<none>");
    }

    #[test]
    fn label_selector_is_formatted_sorted_by_key() {
        let sel = LabelSelector {
            match_labels: Some([("b".to_owned(), "1".to_owned())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "In".into(),
                values: Some(vec!["y".into(), "x".into()]),
            }]),
        };
        assert_eq!(format_label_selector(&sel), "a in (x,y),b=1");
        assert_eq!(format_label_selector(&LabelSelector::default()), "<none>");
    }

    #[test]
    fn immutable_check_reports_the_new_value() {
        let errs = validate_immutable(&"b", &"a", &Path::new("spec").child("x"));
        assert_eq!(errs[0].field, "spec.x");
        assert_eq!(errs[0].bad_value, Some(Value::from("b")));
        assert!(validate_immutable(&1, &1, &Path::new("x")).is_empty());
    }
}
