//! Validation of `ObjectMeta` and `LabelSelector`, as apimachinery's generic validation does it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::field::{FieldError, FieldErrors, Path};
use crate::names::{NameValidator, is_dns1123_label, is_qualified_name, is_valid_label_value};

/// Largest total size of all annotation keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Validates object metadata on create: name (or generateName), namespace scope, labels,
/// annotations, finalizers and owner references.
pub fn validate_object_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    name_fn: NameValidator,
) -> FieldErrors {
    let path = Path::new("metadata");
    let mut errs = FieldErrors::new();
    let generate_name = meta.generate_name.as_deref().unwrap_or("");
    if !generate_name.is_empty() {
        for msg in name_fn(generate_name, true) {
            errs.push(FieldError::invalid(
                &path.child("generateName"),
                generate_name,
                msg,
            ));
        }
    }
    match meta.name.as_deref().unwrap_or("") {
        "" if generate_name.is_empty() => errs.push(FieldError::required(
            &path.child("name"),
            "name or generateName is required",
        )),
        "" => {}
        name => {
            for msg in name_fn(name, false) {
                errs.push(FieldError::invalid(&path.child("name"), name, msg));
            }
        }
    }
    let namespace = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            for msg in is_dns1123_label(namespace) {
                errs.push(FieldError::invalid(
                    &path.child("namespace"),
                    namespace,
                    msg,
                ));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        ));
    }
    if let Some(g) = meta.generation.filter(|g| *g < 0) {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            g,
            "must be greater than or equal to 0",
        ));
    }
    if let Some(labels) = &meta.labels {
        errs.extend(validate_labels(labels, &path.child("labels")));
    }
    if let Some(annotations) = &meta.annotations {
        errs.extend(validate_annotations(
            annotations,
            &path.child("annotations"),
        ));
    }
    if let Some(finalizers) = &meta.finalizers {
        errs.extend(validate_finalizers(finalizers, &path.child("finalizers")));
    }
    if let Some(owners) = &meta.owner_references {
        let owners_path = path.child("ownerReferences");
        let mut controllers = 0;
        for (i, o) in owners.iter().enumerate() {
            let p = owners_path.index(i);
            if o.api_version.is_empty() {
                errs.push(FieldError::invalid(
                    &p.child("apiVersion"),
                    "",
                    "version must not be empty",
                ));
            }
            if o.kind.is_empty() {
                errs.push(FieldError::invalid(
                    &p.child("kind"),
                    "",
                    "kind must not be empty",
                ));
            }
            if o.name.is_empty() {
                errs.push(FieldError::invalid(
                    &p.child("name"),
                    "",
                    "name must not be empty",
                ));
            }
            if o.uid.is_empty() {
                errs.push(FieldError::invalid(
                    &p.child("uid"),
                    "",
                    "uid must not be empty",
                ));
            }
            if o.controller == Some(true) {
                controllers += 1;
            }
        }
        if controllers > 1 {
            errs.push(FieldError::invalid(
                &owners_path,
                controllers,
                "Only one reference can have Controller set to true",
            ));
        }
    }
    errs
}

/// Validates metadata on update: everything of create plus the immutable fields.
pub fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    namespaced: bool,
    name_fn: NameValidator,
) -> FieldErrors {
    let path = Path::new("metadata");
    let mut errs = validate_object_meta(new, namespaced, name_fn);
    let immutable = |errs: &mut FieldErrors, field: &str, a: Option<String>, b: Option<String>| {
        if a != b {
            errs.push(FieldError::invalid(
                &path.child(field),
                a.unwrap_or_default(),
                "field is immutable",
            ));
        }
    };
    immutable(&mut errs, "name", new.name.clone(), old.name.clone());
    immutable(
        &mut errs,
        "namespace",
        new.namespace.clone(),
        old.namespace.clone(),
    );
    immutable(&mut errs, "uid", new.uid.clone(), old.uid.clone());
    let ts = |m: &ObjectMeta| m.creation_timestamp.as_ref().map(|t| t.0.to_string());
    immutable(&mut errs, "creationTimestamp", ts(new), ts(old));
    errs
}

/// Validates label keys (qualified names) and values.
pub fn validate_labels(labels: &BTreeMap<String, String>, path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (k, v) in labels {
        for msg in is_qualified_name(k) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        for msg in is_valid_label_value(v) {
            errs.push(FieldError::invalid(path, v.as_str(), msg));
        }
    }
    errs
}

/// Validates annotation keys (lower-cased qualified names) and their total size.
pub fn validate_annotations(annotations: &BTreeMap<String, String>, path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut total = 0;
    for (k, v) in annotations {
        total += k.len() + v.len();
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

/// Validates finalizer names (qualified names; not both `orphan` and `foregroundDeletion`).
pub fn validate_finalizers(finalizers: &[String], path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, f) in finalizers.iter().enumerate() {
        for msg in is_qualified_name(f) {
            errs.push(FieldError::invalid(&path.index(i), f.as_str(), msg));
        }
    }
    let has = |n: &str| finalizers.iter().any(|f| f == n);
    if has("orphan") && has("foregroundDeletion") {
        errs.push(FieldError::invalid(
            path,
            serde_json::json!(finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// Validates a label selector: keys, values and operator/value consistency.
pub fn validate_label_selector(selector: &LabelSelector, path: &Path) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if let Some(exprs) = &selector.match_expressions {
        let exprs_path = path.child("matchExpressions");
        for (i, e) in exprs.iter().enumerate() {
            let p = exprs_path.index(i);
            let values = e.values.as_deref().unwrap_or(&[]);
            match e.operator.as_str() {
                "In" | "NotIn" => {
                    if values.is_empty() {
                        errs.push(FieldError::required(
                            &p.child("values"),
                            "must be specified when `operator` is 'In' or 'NotIn'",
                        ));
                    }
                }
                "Exists" | "DoesNotExist" => {
                    if !values.is_empty() {
                        errs.push(FieldError::forbidden(
                            &p.child("values"),
                            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                        ));
                    }
                }
                other => errs.push(FieldError::invalid(
                    &p.child("operator"),
                    other,
                    "not a valid selector operator",
                )),
            }
            for msg in is_qualified_name(&e.key) {
                errs.push(FieldError::invalid(&p.child("key"), e.key.as_str(), msg));
            }
            for (j, v) in values.iter().enumerate() {
                for msg in is_valid_label_value(v) {
                    errs.push(FieldError::invalid(
                        &p.child("values").index(j),
                        v.as_str(),
                        msg,
                    ));
                }
            }
        }
    }
    if let Some(labels) = &selector.match_labels {
        errs.extend(validate_labels(labels, &path.child("matchLabels")));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::name_is_dns_subdomain;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn meta(name: &str, ns: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: ns.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn name_or_generate_name_is_required() {
        let errs = validate_object_meta(&meta("", Some("ns")), true, name_is_dns_subdomain);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "metadata.name");
        assert_eq!(errs[0].error_type, crate::ErrorType::Required);
    }

    #[test]
    fn namespaced_kinds_need_a_namespace() {
        let errs = validate_object_meta(&meta("a", None), true, name_is_dns_subdomain);
        assert_eq!(errs[0].field, "metadata.namespace");
        assert_eq!(errs[0].error_type, crate::ErrorType::Required);
    }

    #[test]
    fn cluster_scoped_kinds_forbid_a_namespace() {
        let errs = validate_object_meta(&meta("a", Some("x")), false, name_is_dns_subdomain);
        assert_eq!(errs[0].field, "metadata.namespace");
        assert_eq!(errs[0].error_type, crate::ErrorType::Forbidden);
    }

    #[test]
    fn bad_label_key_is_invalid_at_metadata_labels() {
        let mut m = meta("a", Some("ns"));
        m.labels = Some([("-bad".to_owned(), "v".to_owned())].into());
        let errs = validate_object_meta(&m, true, name_is_dns_subdomain);
        assert_eq!(errs[0].field, "metadata.labels");
        assert_eq!(errs[0].error_type, crate::ErrorType::Invalid);
    }

    #[test]
    fn name_change_on_update_is_immutable() {
        let errs = validate_object_meta_update(
            &meta("b", Some("ns")),
            &meta("a", Some("ns")),
            true,
            name_is_dns_subdomain,
        );
        assert_eq!(errs[0].field, "metadata.name");
        assert!(errs[0].detail.contains("immutable"));
    }

    #[test]
    fn selector_in_without_values_is_required() {
        let sel = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "app".into(),
                operator: "In".into(),
                values: None,
            }]),
            match_labels: None,
        };
        let errs = validate_label_selector(&sel, &Path::new("spec").child("selector"));
        assert_eq!(errs[0].field, "spec.selector.matchExpressions[0].values");
        assert_eq!(errs[0].error_type, crate::ErrorType::Required);
    }

    #[test]
    fn selector_unknown_operator_is_invalid() {
        let sel = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "app".into(),
                operator: "Near".into(),
                values: None,
            }]),
            match_labels: None,
        };
        let errs = validate_label_selector(&sel, &Path::new("s"));
        assert_eq!(errs[0].field, "s.matchExpressions[0].operator");
    }
}
