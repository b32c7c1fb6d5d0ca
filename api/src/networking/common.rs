//! Sub-types shared by several networking kinds (IP, prefix and VirtualIP sources, their
//! ephemeral templates, object selectors) and the defaulting and validation built on them.
//!
//! Upstream quirks fixed here (DESIGN.md §3, networking-upstream.md §4, §12):
//! - ipFamilies inference runs *after* a template's family was inferred from its prefix (§4.1).
//! - prefix-source errors carry the `prefixTemplate` path segment, like IP sources do (§4.3).
//! - a prefix whose family mismatches is reported once, not twice (§4.6).
//! - an empty reference name yields one Required error, not Required plus Invalid (§12.9).
//! - the "ipo" typo and the "ephemeral prefix" message on VirtualIP templates are fixed (§12.7).
//! - `reclaimPolicy` of an ephemeral VirtualIP is validated (§12.5).

use std::collections::{BTreeMap, HashSet};

use ironcore_apimachinery::meta::{validate_annotations, validate_label_selector, validate_labels};
use ironcore_apimachinery::names::{is_dns1123_label, is_dns1123_subdomain};
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::virtualip::{VirtualIPSpec, validate_virtual_ip_spec};
use crate::common::{IP, IPFamily, IPPrefix, LocalUIDReference};

/// A reference to an object in the same namespace by name.
// k8s `LocalObjectReference`; `name` is omitted when empty, as Go does.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct LocalObjectReference {
    /// Name of the referenced object.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
}

impl LocalObjectReference {
    /// A reference to `name`.
    pub fn new(name: impl Into<String>) -> Self {
        LocalObjectReference { name: name.into() }
    }
}

/// How to obtain an IP: a literal value or an ephemeral ipam Prefix (exactly one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IPSource {
    /// An IP literal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<IP>,
    /// An ephemeral Prefix to allocate the IP from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<EphemeralPrefixSource>,
}

/// How to obtain a prefix: a literal value or an ephemeral ipam Prefix (exactly one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrefixSource {
    /// A prefix literal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<IPPrefix>,
    /// An ephemeral Prefix to allocate the prefix from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<EphemeralPrefixSource>,
}

/// An ipam Prefix created for, and deleted with, the surrounding object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralPrefixSource {
    /// The template of the Prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_template: Option<PrefixTemplateSpec>,
}

/// The template of an ipam Prefix (`ipam.ironcore.dev/v1alpha1` PrefixTemplateSpec).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrefixTemplateSpec {
    /// Labels and annotations of the Prefix; nothing else may be set.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub metadata: ObjectMeta,
    /// The Prefix spec.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub spec: PrefixSpec,
}

/// The spec of an ipam Prefix (`ipam.ironcore.dev/v1alpha1` PrefixSpec).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrefixSpec {
    /// The IP family; inferred from `prefix` when unset.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "family_is_unset"
    )]
    pub ip_family: IPFamily,
    /// The prefix to allocate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<IPPrefix>,
    /// The length of the prefix to allocate.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "is_zero_i32"
    )]
    pub prefix_length: i32,
    /// The parent Prefix to allocate from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_ref: Option<LocalObjectReference>,
    /// Selects the parent Prefix to allocate from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_selector: Option<LabelSelector>,
}

impl PrefixSpec {
    /// Whether this is a root prefix (neither `parentRef` nor `parentSelector`).
    pub fn is_root(&self) -> bool {
        self.parent_ref.is_none() && self.parent_selector.is_none()
    }
}

/// How to obtain a VirtualIP: a reference or an ephemeral VirtualIP (exactly one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VirtualIPSource {
    /// An existing VirtualIP in the same namespace.
    #[serde(
        rename = "virtualIPRef",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub virtual_ip_ref: Option<LocalObjectReference>,
    /// A VirtualIP created for the surrounding object, named like it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<EphemeralVirtualIPSource>,
}

/// A VirtualIP created for the surrounding object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EphemeralVirtualIPSource {
    /// The template of the VirtualIP.
    #[serde(
        rename = "virtualIPTemplate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub virtual_ip_template: Option<VirtualIPTemplateSpec>,
}

/// The template of an ephemeral VirtualIP.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VirtualIPTemplateSpec {
    /// Labels and annotations of the VirtualIP; nothing else may be set.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub metadata: ObjectMeta,
    /// The VirtualIP spec plus its reclaim policy.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub spec: EphemeralVirtualIPSpec,
}

/// A VirtualIP spec (inlined) plus what happens to the VirtualIP when its owner goes away.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralVirtualIPSpec {
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
    /// The NetworkInterface that claims the VirtualIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<LocalUIDReference>,
    /// `Retain` keeps the VirtualIP when its owner is deleted; `Delete` (or unset) deletes it.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub reclaim_policy: String,
}

impl EphemeralVirtualIPSpec {
    /// The plain VirtualIP spec of the template.
    pub fn virtual_ip_spec(&self) -> VirtualIPSpec {
        VirtualIPSpec {
            type_: self.type_.clone(),
            ip_family: self.ip_family.clone(),
            target_ref: self.target_ref.clone(),
        }
    }
}

/// Reclaim policy that keeps an ephemeral VirtualIP when its owner is deleted.
pub const RECLAIM_POLICY_RETAIN: &str = "Retain";
/// Reclaim policy that deletes an ephemeral VirtualIP with its owner.
pub const RECLAIM_POLICY_DELETE: &str = "Delete";

/// Selects objects of one kind by labels (`core.ironcore.dev/v1alpha1` ObjectSelector, with the
/// label selector inlined).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectSelector {
    /// The kind of the selected objects.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default"
    )]
    pub kind: String,
    /// Labels the objects must have.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub match_labels: BTreeMap<String, String>,
    /// Label requirements the objects must meet.
    #[serde(
        default,
        deserialize_with = "crate::networking::common::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl ObjectSelector {
    /// The inlined label selector.
    pub fn label_selector(&self) -> LabelSelector {
        LabelSelector {
            match_labels: (!self.match_labels.is_empty()).then(|| self.match_labels.clone()),
            match_expressions: (!self.match_expressions.is_empty())
                .then(|| self.match_expressions.clone()),
        }
    }
}

/// Protocol `TCP`, the default of every port.
pub const PROTOCOL_TCP: &str = "TCP";
/// Protocol `UDP`.
pub const PROTOCOL_UDP: &str = "UDP";
/// Protocol `SCTP`.
pub const PROTOCOL_SCTP: &str = "SCTP";
/// The supported protocols, sorted as NotSupported errors list them.
pub const SUPPORTED_PROTOCOLS: &[&str] = &[PROTOCOL_SCTP, PROTOCOL_TCP, PROTOCOL_UDP];

/// Deserializes `null` as the type's default, as Go's decoder leaves a field at its zero value.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Whether a family is the unset value `""`.
pub(crate) fn family_is_unset(f: &IPFamily) -> bool {
    matches!(f, IPFamily::Other(s) if s.is_empty())
}

/// Whether an `int32` is zero (Go `omitempty`).
pub(crate) fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

/// Whether an `int64` is zero (Go `omitempty`).
pub(crate) fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

/// The JSON of a value for an error's bad value (`null` if it cannot be serialized).
pub(crate) fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Number of bits of a single address of `family`; 0 when the family is unknown.
fn family_bits(family: &IPFamily) -> i32 {
    match family {
        IPFamily::IPv4 => 32,
        IPFamily::IPv6 => 128,
        IPFamily::Other(_) => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Defaulting
// ---------------------------------------------------------------------------------------------

/// Defaults an empty or missing port protocol to `TCP`.
pub(crate) fn default_protocol(protocol: &mut Option<String>) {
    if protocol.as_deref().is_none_or(str::is_empty) {
        *protocol = Some(PROTOCOL_TCP.to_owned());
    }
}

/// ipam PrefixSpec defaulting: infers `ipFamily` from `prefix` when unset and no length is given.
pub(crate) fn default_prefix_spec(spec: &mut PrefixSpec) {
    let infer = family_is_unset(&spec.ip_family) && spec.prefix_length == 0;
    if let Some(prefix) = spec.prefix.filter(|_| infer) {
        spec.ip_family = prefix.family();
    }
}

fn templates_mut(ips: &mut [IPSource]) -> impl Iterator<Item = &mut PrefixTemplateSpec> {
    ips.iter_mut().filter_map(|s| {
        s.ephemeral
            .as_mut()
            .and_then(|e| e.prefix_template.as_mut())
    })
}

/// The ipFamilies / ephemeral-IP defaulting of NetworkInterface and LoadBalancer (§4.1).
///
/// Fixed quirk: a template's family is inferred from its `prefix` *before* `ipFamilies` is built
/// from the templates, so a template giving only a prefix contributes its family.
pub(crate) fn default_ip_sources(ip_families: &mut Option<Vec<IPFamily>>, ips: &mut [IPSource]) {
    for tpl in templates_mut(ips) {
        default_prefix_spec(&mut tpl.spec);
    }
    let families_len = ip_families.as_ref().map_or(0, Vec::len);
    if families_len > 0 && families_len == ips.len() {
        let families = ip_families.as_deref().unwrap_or(&[]);
        for (src, family) in ips.iter_mut().zip(families) {
            if let Some(tpl) = src
                .ephemeral
                .as_mut()
                .and_then(|e| e.prefix_template.as_mut())
                .filter(|t| family_is_unset(&t.spec.ip_family))
            {
                tpl.spec.ip_family = family.clone();
            }
        }
    } else if families_len == 0 && !ips.is_empty() {
        let mut families = Vec::new();
        for src in ips.iter() {
            if let Some(ip) = &src.value {
                families.push(ip.family());
            } else if let Some(tpl) = src
                .ephemeral
                .as_ref()
                .and_then(|e| e.prefix_template.as_ref())
            {
                families.push(tpl.spec.ip_family.clone());
            }
        }
        if !families.is_empty() {
            *ip_families = Some(families);
        }
    }
    for tpl in templates_mut(ips) {
        if tpl.spec.prefix.is_none() && tpl.spec.prefix_length == 0 {
            tpl.spec.prefix_length = family_bits(&tpl.spec.ip_family);
        }
        default_prefix_spec(&mut tpl.spec);
    }
}

/// Defaults the prefix template of every ephemeral prefix source.
pub(crate) fn default_prefix_sources(prefixes: &mut [PrefixSource]) {
    for tpl in prefixes.iter_mut().filter_map(|s| {
        s.ephemeral
            .as_mut()
            .and_then(|e| e.prefix_template.as_mut())
    }) {
        default_prefix_spec(&mut tpl.spec);
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Invalid errors for every message of a name check.
pub(crate) fn name_errors(path: &Path, name: &str, msgs: Vec<String>) -> FieldErrors {
    msgs.into_iter()
        .map(|m| FieldError::invalid(path, name, m))
        .collect()
}

/// `spec.networkRef`: Required when empty, else its name must be a DNS subdomain.
///
/// Fixed quirk (§12.9): an empty reference yields one Required error on every kind.
pub(crate) fn validate_network_ref(r: &LocalObjectReference, path: &Path) -> FieldErrors {
    if r.name.is_empty() {
        return vec![FieldError::required(path, "must specify a network ref")];
    }
    name_errors(&path.child("name"), &r.name, is_dns1123_subdomain(&r.name))
}

/// An enum value: Required when empty (with `required_detail`), NotSupported when unknown.
pub(crate) fn validate_enum(
    value: &str,
    supported: &[&str],
    path: &Path,
    required_detail: &str,
) -> FieldErrors {
    if value.is_empty() {
        vec![FieldError::required(path, required_detail)]
    } else if supported.contains(&value) {
        vec![]
    } else {
        vec![FieldError::not_supported(path, value, supported)]
    }
}

/// One IP family: Required when empty, NotSupported unless `IPv4` / `IPv6`.
pub(crate) fn validate_ip_family(family: &IPFamily, path: &Path) -> FieldErrors {
    validate_enum(
        family.as_str(),
        IPFamily::SUPPORTED,
        path,
        "must specify ipFamily",
    )
}

/// A list of IP families: non-empty, each supported, none repeated.
pub(crate) fn validate_ip_families(families: &[IPFamily], path: &Path) -> FieldErrors {
    if families.is_empty() {
        return vec![FieldError::required(path, "must specify ip families")];
    }
    let mut errs = FieldErrors::new();
    let mut seen = HashSet::new();
    for (i, f) in families.iter().enumerate() {
        errs.extend(validate_ip_family(f, &path.index(i)));
        if !seen.insert(f) {
            errs.push(FieldError::duplicate(&path.index(i), f.as_str()));
        }
    }
    errs
}

/// A port protocol: Required when empty, NotSupported unless TCP / UDP / SCTP.
pub(crate) fn validate_protocol(protocol: &str, path: &Path) -> FieldErrors {
    validate_enum(protocol, SUPPORTED_PROTOCOLS, path, "must specify protocol")
}

/// A port number in 1..=65535 (apimachinery's `IsValidPortNum`).
pub(crate) fn validate_port_number(port: i32, path: &Path) -> FieldErrors {
    if (1..=65535).contains(&port) {
        vec![]
    } else {
        vec![FieldError::invalid(
            path,
            port,
            "must be between 1 and 65535, inclusive",
        )]
    }
}

/// An IP of an IP source with expected family `family`.
fn validate_ip(ip: &IP, family: &IPFamily, path: &Path) -> FieldErrors {
    if !family.is_known() {
        return vec![FieldError::invalid(
            path,
            ip.to_string(),
            "cannot determine ip family for ip",
        )];
    }
    if ip.family() != *family {
        return vec![FieldError::invalid(
            path,
            ip.to_string(),
            format!("expected ip family {family} but got {}", ip.family()),
        )];
    }
    vec![]
}

/// Metadata of an ephemeral template: labels and annotations only (§4.5).
pub(crate) fn validate_template_metadata(
    meta: &ObjectMeta,
    path: &Path,
    what: &str,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if let Some(labels) = &meta.labels {
        errs.extend(validate_labels(labels, &path.child("labels")));
    }
    if let Some(annotations) = &meta.annotations {
        errs.extend(validate_annotations(
            annotations,
            &path.child("annotations"),
        ));
    }
    let set_str = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    let set_vec = |n: Option<usize>| n.is_some_and(|n| n > 0);
    let forbidden = [
        ("name", set_str(&meta.name)),
        ("generateName", set_str(&meta.generate_name)),
        ("namespace", set_str(&meta.namespace)),
        ("selfLink", set_str(&meta.self_link)),
        ("uid", set_str(&meta.uid)),
        ("resourceVersion", set_str(&meta.resource_version)),
        ("generation", meta.generation.is_some_and(|g| g != 0)),
        ("creationTimestamp", meta.creation_timestamp.is_some()),
        ("deletionTimestamp", meta.deletion_timestamp.is_some()),
        (
            "deletionGracePeriodSeconds",
            meta.deletion_grace_period_seconds.is_some(),
        ),
        (
            "ownerReferences",
            set_vec(meta.owner_references.as_ref().map(Vec::len)),
        ),
        (
            "finalizers",
            set_vec(meta.finalizers.as_ref().map(Vec::len)),
        ),
        (
            "managedFields",
            set_vec(meta.managed_fields.as_ref().map(Vec::len)),
        ),
    ];
    for (field, is_set) in forbidden {
        if is_set {
            errs.push(FieldError::forbidden(
                &path.child(field),
                format!("cannot be set for an {what}"),
            ));
        }
    }
    errs
}

/// ipam PrefixSpec rules inside a template (§4.6), each problem reported once.
pub(crate) fn validate_prefix_spec(spec: &PrefixSpec, path: &Path) -> FieldErrors {
    let mut errs = validate_ip_family(&spec.ip_family, &path.child("ipFamily"));
    let family_mismatch = |p: &IPPrefix| spec.ip_family.is_known() && p.family() != spec.ip_family;
    if let Some(prefix) = spec.prefix.filter(family_mismatch) {
        errs.push(FieldError::invalid(
            &path.child("prefix"),
            prefix.to_string(),
            format!(
                "expected ip family {} but got {}",
                spec.ip_family,
                prefix.family()
            ),
        ));
    }
    if spec.prefix_length != 0 {
        let max = match family_bits(&spec.ip_family) {
            0 => 128,
            bits => bits,
        };
        if !(1..=max).contains(&spec.prefix_length) {
            errs.push(FieldError::invalid(
                &path.child("prefixLength"),
                spec.prefix_length,
                format!("must be greater than 0 and less than or equal to {max}"),
            ));
        }
    }
    if spec.is_root() {
        if spec.prefix_length != 0 {
            errs.push(FieldError::invalid(
                &path.child("prefixLength"),
                spec.prefix_length,
                "cannot specify prefixLength for a root prefix",
            ));
        }
        if spec.prefix.is_none() {
            errs.push(FieldError::required(
                &path.child("prefix"),
                "must specify for root prefix",
            ));
        }
    } else {
        if spec.prefix.is_none() && spec.prefix_length <= 0 {
            errs.push(FieldError::invalid(
                path,
                json(spec),
                "must specify either prefix or prefixLength",
            ));
        }
        let length_mismatch =
            |p: &IPPrefix| spec.prefix_length > 0 && spec.prefix_length != i32::from(p.bits());
        if let Some(prefix) = spec.prefix.filter(length_mismatch) {
            errs.push(FieldError::invalid(
                &path.child("prefixLength"),
                spec.prefix_length,
                format!("does not match prefix {prefix}"),
            ));
        }
        if let Some(parent) = &spec.parent_ref {
            let p = path.child("parentRef").child("name");
            if parent.name.is_empty() {
                errs.push(FieldError::required(&p, "must specify name"));
            } else {
                errs.extend(name_errors(
                    &p,
                    &parent.name,
                    is_dns1123_subdomain(&parent.name),
                ));
            }
        }
        if let Some(sel) = &spec.parent_selector {
            errs.extend(validate_label_selector(sel, &path.child("parentSelector")));
        }
    }
    errs
}

/// The prefix template of an ephemeral IP of family `family` (§4.2): a single-IP prefix of it.
fn validate_ip_prefix_template(
    tpl: Option<&PrefixTemplateSpec>,
    family: &IPFamily,
    path: &Path,
) -> FieldErrors {
    let Some(tpl) = tpl else {
        return vec![FieldError::required(path, "must specify template")];
    };
    let mut errs =
        validate_template_metadata(&tpl.metadata, &path.child("metadata"), "ephemeral prefix");
    let spec_path = path.child("spec");
    errs.extend(validate_prefix_spec(&tpl.spec, &spec_path));
    if tpl.spec.ip_family != *family {
        errs.push(FieldError::forbidden(
            &spec_path.child("ipFamily"),
            format!("has to match ip family {:?}", family.as_str()),
        ));
    }
    if tpl.spec.prefix.is_some_and(|p| !p.is_single_ip()) {
        errs.push(FieldError::forbidden(
            &spec_path.child("prefix"),
            "must be a single IP",
        ));
    }
    if tpl.spec.prefix_length != 0 && tpl.spec.prefix_length != family_bits(family) {
        errs.push(FieldError::forbidden(
            &spec_path.child("prefixLength"),
            "must be a single IP",
        ));
    }
    errs
}

/// `spec.ips[index]` of an object named `owner` (may be empty), expected family `family` (§4.2).
pub(crate) fn validate_ip_source(
    src: &IPSource,
    index: usize,
    family: &IPFamily,
    owner: &str,
    path: &Path,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut sources = 0;
    if let Some(ip) = &src.value {
        sources += 1;
        errs.extend(validate_ip(ip, family, &path.child("value")));
    }
    if let Some(ephemeral) = &src.ephemeral {
        if sources > 0 {
            errs.push(FieldError::invalid(
                &path.child("ephemeral"),
                json(ephemeral),
                "cannot specify multiple ip sources",
            ));
        } else {
            sources += 1;
            errs.extend(validate_ip_prefix_template(
                ephemeral.prefix_template.as_ref(),
                family,
                &path.child("ephemeral").child("prefixTemplate"),
            ));
            if !owner.is_empty() {
                errs.extend(derived_name_errors(
                    path,
                    "prefix",
                    &format!("{owner}-{index}"),
                    false,
                ));
            }
        }
    }
    if sources == 0 {
        errs.push(FieldError::invalid(
            path,
            json(src),
            "must specify an ip source",
        ));
    }
    errs
}

/// Errors for a name derived from the owner's name (an ephemeral object's name).
fn derived_name_errors(path: &Path, what: &str, name: &str, label: bool) -> FieldErrors {
    let msgs = if label {
        is_dns1123_label(name)
    } else {
        is_dns1123_subdomain(name)
    };
    msgs.into_iter()
        .map(|m| {
            FieldError::invalid(
                path,
                name,
                format!("resulting {what} name {name:?} is invalid: {m}"),
            )
        })
        .collect()
}

/// `spec.prefixes[index]` of a NetworkInterface named `owner` (may be empty) (§4.3).
///
/// Fixed quirk: template errors are reported under `ephemeral.prefixTemplate`, as for IPs.
pub(crate) fn validate_prefix_source(
    src: &PrefixSource,
    index: usize,
    owner: &str,
    path: &Path,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut sources = 0;
    if src.value.is_some() {
        sources += 1;
    }
    if let Some(ephemeral) = &src.ephemeral {
        if sources > 0 {
            errs.push(FieldError::invalid(
                &path.child("ephemeral"),
                json(ephemeral),
                "cannot specify multiple prefix sources",
            ));
        } else {
            sources += 1;
            let tpl_path = path.child("ephemeral").child("prefixTemplate");
            match &ephemeral.prefix_template {
                None => errs.push(FieldError::required(&tpl_path, "must specify template")),
                Some(tpl) => {
                    errs.extend(validate_template_metadata(
                        &tpl.metadata,
                        &tpl_path.child("metadata"),
                        "ephemeral prefix",
                    ));
                    errs.extend(validate_prefix_spec(&tpl.spec, &tpl_path.child("spec")));
                }
            }
            if !owner.is_empty() {
                errs.extend(derived_name_errors(
                    path,
                    "prefix",
                    &format!("{owner}-pf-{index}"),
                    false,
                ));
            }
        }
    }
    if sources == 0 {
        errs.push(FieldError::invalid(
            path,
            json(src),
            "must specify a prefix source",
        ));
    }
    errs
}

/// `spec.virtualIP` of a NetworkInterface named `owner` (may be empty) (§4.4).
///
/// Beyond upstream: the ephemeral VirtualIP is named like the NetworkInterface, so that name
/// must be a valid VirtualIP name (a DNS label); `reclaimPolicy` must be `Retain` or `Delete`.
pub(crate) fn validate_virtual_ip_source(
    src: &VirtualIPSource,
    owner: &str,
    path: &Path,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut sources = 0;
    if let Some(r) = &src.virtual_ip_ref {
        sources += 1;
        let p = path.child("virtualIPRef").child("name");
        errs.extend(name_errors(&p, &r.name, is_dns1123_label(&r.name)));
    }
    if let Some(ephemeral) = &src.ephemeral {
        let eph_path = path.child("ephemeral");
        if sources > 0 {
            errs.push(FieldError::invalid(
                &eph_path,
                json(ephemeral),
                "cannot specify multiple sources",
            ));
        } else {
            sources += 1;
            let tpl_path = eph_path.child("virtualIPTemplate");
            match &ephemeral.virtual_ip_template {
                None => errs.push(FieldError::required(&tpl_path, "must specify template")),
                Some(tpl) => {
                    errs.extend(validate_template_metadata(
                        &tpl.metadata,
                        &tpl_path.child("metadata"),
                        "ephemeral virtual ip",
                    ));
                    let spec_path = tpl_path.child("spec");
                    errs.extend(validate_virtual_ip_spec(
                        &tpl.spec.virtual_ip_spec(),
                        &spec_path,
                    ));
                    let policy = tpl.spec.reclaim_policy.as_str();
                    if !policy.is_empty()
                        && policy != RECLAIM_POLICY_RETAIN
                        && policy != RECLAIM_POLICY_DELETE
                    {
                        errs.push(FieldError::not_supported(
                            &spec_path.child("reclaimPolicy"),
                            policy,
                            &[RECLAIM_POLICY_DELETE, RECLAIM_POLICY_RETAIN],
                        ));
                    }
                }
            }
            if !owner.is_empty() {
                errs.extend(derived_name_errors(&eph_path, "virtual ip", owner, true));
            }
        }
    }
    if sources == 0 {
        errs.push(FieldError::invalid(
            path,
            json(src),
            "must specify a virtual ip source",
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Table helpers
// ---------------------------------------------------------------------------------------------

/// The `<none>` cell kubectl prints for an unset reference or list.
pub(crate) const NONE: &str = "<none>";

/// Joins at most `max` elements and counts the rest (`a,b,c + 2 more`); `<unset>` when empty.
pub(crate) fn join_strings_more(elems: &[String], sep: &str, max: usize) -> String {
    if elems.is_empty() {
        return "<unset>".to_owned();
    }
    let max = max.max(1);
    if elems.len() <= max {
        elems.join(sep)
    } else {
        format!("{} + {} more", elems[..max].join(sep), elems.len() - max)
    }
}

/// Joins displayable values with `,`, or `empty` when there are none.
pub(crate) fn join_or<T: std::fmt::Display>(items: &[T], empty: &str) -> String {
    if items.is_empty() {
        empty.to_owned()
    } else {
        items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A label selector as `metav1.FormatLabelSelector` prints it: requirements sorted by key,
/// `<none>` for the empty selector, `<error>` for an invalid one.
pub fn format_label_selector(selector: &LabelSelector) -> String {
    if !validate_label_selector(selector, &Path::new("")).is_empty() {
        return "<error>".to_owned();
    }
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in selector.match_labels.iter().flatten() {
        reqs.push((k.clone(), format!("{k}={v}")));
    }
    for e in selector.match_expressions.iter().flatten() {
        let mut values = e.values.clone().unwrap_or_default();
        values.sort();
        let values = values.join(",");
        let s = match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            _ => return "<error>".to_owned(),
        };
        reqs.push((e.key.clone(), s));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    let s = reqs
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(",");
    if s.is_empty() { NONE.to_owned() } else { s }
}

// ---------------------------------------------------------------------------------------------
// Test helpers
// ---------------------------------------------------------------------------------------------

/// Test helpers shared by the kinds' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use ironcore_apimachinery::{ErrorType, FieldErrors};

    /// The (path, type) pairs of errors, for exact comparisons.
    pub(crate) fn pairs(errs: &FieldErrors) -> Vec<(String, ErrorType)> {
        errs.iter()
            .map(|e| (e.field.clone(), e.error_type))
            .collect()
    }

    /// Asserts that `errs` is exactly one error at `path` of type `ty`.
    #[track_caller]
    pub(crate) fn assert_only(errs: &FieldErrors, path: &str, ty: ErrorType) {
        assert_eq!(
            pairs(errs),
            vec![(path.to_owned(), ty)],
            "errors: {errs:#?}"
        );
    }
}

/// A Forbidden `field is immutable` at `spec.networkRef` when the reference changed (the rule
/// every kind that belongs to a network shares).
pub fn validate_network_ref_unchanged(
    new: &LocalObjectReference,
    old: &LocalObjectReference,
) -> FieldErrors {
    if new == old {
        FieldErrors::new()
    } else {
        vec![FieldError::forbidden(
            &Path::new("spec").child("networkRef"),
            "field is immutable",
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{assert_only, pairs};
    use super::*;
    use ironcore_apimachinery::ErrorType;

    fn tpl(spec: serde_json::Value) -> IPSource {
        serde_json::from_value(serde_json::json!({
            "ephemeral": {"prefixTemplate": {"spec": spec}}
        }))
        .unwrap()
    }

    fn tpl_spec(src: &IPSource) -> &PrefixSpec {
        &src.ephemeral
            .as_ref()
            .unwrap()
            .prefix_template
            .as_ref()
            .unwrap()
            .spec
    }

    #[test]
    fn empty_protocol_defaults_to_tcp() {
        let mut p = None;
        default_protocol(&mut p);
        assert_eq!(p.as_deref(), Some("TCP"));
        let mut p = Some(String::new());
        default_protocol(&mut p);
        assert_eq!(p.as_deref(), Some("TCP"));
        let mut p = Some("UDP".to_owned());
        default_protocol(&mut p);
        assert_eq!(p.as_deref(), Some("UDP"));
    }

    #[test]
    fn prefix_spec_family_is_inferred_from_prefix() {
        let mut spec = PrefixSpec {
            prefix: Some("2001:db8::/64".parse().unwrap()),
            ..Default::default()
        };
        default_prefix_spec(&mut spec);
        assert_eq!(spec.ip_family, IPFamily::IPv6);
    }

    #[test]
    fn ip_families_are_inferred_from_values_and_templates() {
        let mut families = None;
        let mut ips = vec![
            IPSource {
                value: Some("10.0.0.1".parse().unwrap()),
                ephemeral: None,
            },
            tpl(serde_json::json!({"ipFamily": "IPv6", "parentRef": {"name": "p"}})),
        ];
        default_ip_sources(&mut families, &mut ips);
        assert_eq!(families, Some(vec![IPFamily::IPv4, IPFamily::IPv6]));
    }

    #[test]
    fn template_family_is_taken_from_ip_families() {
        let mut families = Some(vec![IPFamily::IPv6]);
        let mut ips = vec![tpl(serde_json::json!({"parentRef": {"name": "p"}}))];
        default_ip_sources(&mut families, &mut ips);
        assert_eq!(tpl_spec(&ips[0]).ip_family, IPFamily::IPv6);
    }

    #[test]
    fn template_prefix_length_defaults_to_a_single_ip() {
        let mut families = Some(vec![IPFamily::IPv4]);
        let mut ips = vec![tpl(serde_json::json!({"parentRef": {"name": "p"}}))];
        default_ip_sources(&mut families, &mut ips);
        assert_eq!(tpl_spec(&ips[0]).prefix_length, 32);
    }

    #[test]
    fn quirk_ip_families_are_inferred_after_template_prefix_family() {
        let mut families = None;
        let mut ips = vec![tpl(serde_json::json!({"prefix": "10.0.0.7/32"}))];
        default_ip_sources(&mut families, &mut ips);
        assert_eq!(families, Some(vec![IPFamily::IPv4]));
    }

    #[test]
    fn quirk_ip_family_message_has_no_typo() {
        let src = IPSource {
            value: Some("10.0.0.1".parse().unwrap()),
            ephemeral: None,
        };
        let errs = validate_ip_source(
            &src,
            0,
            &IPFamily::default(),
            "",
            &Path::new("spec").child("ips").index(0),
        );
        assert_only(&errs, "spec.ips[0].value", ErrorType::Invalid);
        assert_eq!(errs[0].detail, "cannot determine ip family for ip");
    }

    #[test]
    fn quirk_prefix_family_mismatch_is_reported_once() {
        let spec = PrefixSpec {
            ip_family: IPFamily::IPv6,
            prefix: Some("10.0.0.0/8".parse().unwrap()),
            ..Default::default()
        };
        let errs = validate_prefix_spec(&spec, &Path::new("t"));
        assert_only(&errs, "t.prefix", ErrorType::Invalid);
    }

    #[test]
    fn quirk_empty_parent_ref_name_is_one_required_error() {
        let spec = PrefixSpec {
            ip_family: IPFamily::IPv4,
            prefix_length: 24,
            parent_ref: Some(LocalObjectReference::default()),
            ..Default::default()
        };
        let errs = validate_prefix_spec(&spec, &Path::new("t"));
        assert_only(&errs, "t.parentRef.name", ErrorType::Required);
    }

    #[test]
    fn root_prefix_requires_a_prefix() {
        let spec = PrefixSpec {
            ip_family: IPFamily::IPv4,
            ..Default::default()
        };
        assert_only(
            &validate_prefix_spec(&spec, &Path::new("t")),
            "t.prefix",
            ErrorType::Required,
        );
    }

    #[test]
    fn root_prefix_forbids_a_prefix_length() {
        let spec = PrefixSpec {
            ip_family: IPFamily::IPv4,
            prefix: Some("10.0.0.0/8".parse().unwrap()),
            prefix_length: 8,
            ..Default::default()
        };
        assert_only(
            &validate_prefix_spec(&spec, &Path::new("t")),
            "t.prefixLength",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn child_prefix_needs_prefix_or_length() {
        let spec = PrefixSpec {
            ip_family: IPFamily::IPv4,
            parent_ref: Some(LocalObjectReference::new("p")),
            ..Default::default()
        };
        assert_only(
            &validate_prefix_spec(&spec, &Path::new("t")),
            "t",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn child_prefix_length_must_match_prefix() {
        let spec = PrefixSpec {
            ip_family: IPFamily::IPv4,
            prefix: Some("10.0.0.0/8".parse().unwrap()),
            prefix_length: 16,
            parent_ref: Some(LocalObjectReference::new("p")),
            ..Default::default()
        };
        assert_only(
            &validate_prefix_spec(&spec, &Path::new("t")),
            "t.prefixLength",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn prefix_length_beyond_family_width_is_invalid() {
        let spec = PrefixSpec {
            ip_family: IPFamily::IPv4,
            prefix_length: 33,
            parent_ref: Some(LocalObjectReference::new("p")),
            ..Default::default()
        };
        assert_only(
            &validate_prefix_spec(&spec, &Path::new("t")),
            "t.prefixLength",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn bad_parent_selector_is_invalid() {
        let spec = PrefixSpec {
            ip_family: IPFamily::IPv4,
            prefix_length: 24,
            parent_selector: Some(LabelSelector {
                match_labels: Some([("-bad".to_owned(), "v".to_owned())].into()),
                match_expressions: None,
            }),
            ..Default::default()
        };
        assert_only(
            &validate_prefix_spec(&spec, &Path::new("t")),
            "t.parentSelector.matchLabels",
            ErrorType::Invalid,
        );
    }

    #[test]
    fn template_metadata_may_only_carry_labels_and_annotations() {
        let meta = ObjectMeta {
            name: Some("x".into()),
            labels: Some([("app".to_owned(), "web".to_owned())].into()),
            ..Default::default()
        };
        let errs = validate_template_metadata(&meta, &Path::new("m"), "ephemeral prefix");
        assert_only(&errs, "m.name", ErrorType::Forbidden);
        assert_eq!(errs[0].detail, "cannot be set for an ephemeral prefix");
    }

    #[test]
    fn ip_families_must_be_given() {
        assert_only(
            &validate_ip_families(&[], &Path::new("f")),
            "f",
            ErrorType::Required,
        );
    }

    #[test]
    fn repeated_ip_family_is_duplicate() {
        let errs = validate_ip_families(&[IPFamily::IPv4, IPFamily::IPv4], &Path::new("f"));
        assert_only(&errs, "f[1]", ErrorType::Duplicate);
    }

    #[test]
    fn empty_ip_family_entry_is_required() {
        let errs = validate_ip_families(&[IPFamily::default()], &Path::new("f"));
        assert_only(&errs, "f[0]", ErrorType::Required);
    }

    #[test]
    fn unknown_protocol_is_not_supported() {
        assert_only(
            &validate_protocol("ICMP", &Path::new("p")),
            "p",
            ErrorType::NotSupported,
        );
        assert!(validate_protocol("SCTP", &Path::new("p")).is_empty());
    }

    #[test]
    fn join_strings_more_counts_the_rest() {
        let e: Vec<String> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(join_strings_more(&e, ",", 3), "a,b,c + 2 more");
        assert_eq!(join_strings_more(&e[..2], ",", 3), "a,b");
        assert_eq!(join_strings_more(&[], ",", 3), "<unset>");
    }

    #[test]
    fn label_selector_formats_like_kubectl() {
        let sel: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [
                {"key": "c", "operator": "In", "values": ["y", "x"]},
                {"key": "d", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        assert_eq!(format_label_selector(&sel), "a=1,b=2,c in (x,y),!d");
        assert_eq!(format_label_selector(&LabelSelector::default()), "<none>");
        let bad = LabelSelector {
            match_labels: Some([("-x".to_owned(), "v".to_owned())].into()),
            match_expressions: None,
        };
        assert_eq!(format_label_selector(&bad), "<error>");
    }

    #[test]
    fn pairs_lists_path_and_type() {
        let errs = vec![FieldError::required(&Path::new("a"), "")];
        assert_eq!(pairs(&errs), vec![("a".to_owned(), ErrorType::Required)]);
    }
}
