//! Server-side apply (`application/apply-patch+yaml`) and field ownership (`managedFields`).
//!
//! Kind-agnostic port of the semantics of kube-apiserver's field manager and
//! sigs.k8s.io/structured-merge-diff, driven by the kind's OpenAPI schema:
//!
//! - [`FieldSet`]: sets of field paths and their FieldsV1 encoding;
//! - [`field_set_of`]: the fields an object sets, with list and map semantics from the schema
//!   (rules below);
//! - [`apply`]: merges an applied configuration into the live object, detects conflicts with
//!   other managers, removes fields the manager stopped applying, and records its `Apply` entry;
//! - [`update`]: records the `Update` entry of any other write.
//!
//! Schema rules: lists are atomic unless `x-kubernetes-list-type` is `set` (items owned as
//! `v:<value>`) or `map` (items owned as `k:{keys}`, merged by key); objects are granular
//! unless `x-kubernetes-map-type: atomic`; an object schema with `properties` is a struct,
//! one without is a map whose keys are owned as items. Without schema information objects are
//! granular maps and lists atomic. `metadata` follows upstream `ObjectMeta` semantics.
//!
//! Never owned by anyone: `apiVersion`, `kind`, `metadata` itself and its `name`, `namespace`,
//! `uid`, `resourceVersion`, `generation`, `creationTimestamp`, `managedFields`,
//! `deletionTimestamp`, `selfLink`; plus the [`ResetFields`] of the endpoint written through.

mod conflict;
mod fieldpath;
mod managed;
mod schema;
mod typed;

#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value};

use crate::strategic::JsonSchemaCursor;
use schema::Node;

pub use conflict::{Conflict, Conflicts, FIELD_MANAGER_CONFLICT};
pub use fieldpath::{FieldPath, FieldSet, FieldsV1Error, PathElement};
pub use managed::{
    ANCIENT_CHANGES, FIELDS_V1, MAX_UPDATE_MANAGERS, ManagedEntry, ManagedFieldsError, Operation,
    managed_fields_of, managed_fields_value, parse_managed_fields, set_managed_fields,
    sort_entries,
};

/// The annotation client-side `kubectl apply` keeps its last applied configuration in.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The field manager whose applies migrate from and keep up the last-applied annotation.
pub const KUBECTL_MANAGER: &str = "kubectl";

/// kube-apiserver's limit on the total size of an object's annotations.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Top-level fields pruning never removes themselves.
const PROTECTED: &[&str] = &["apiVersion", "kind", "metadata"];

/// The fields a write through one endpoint does not take, and so never owns.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ResetFields {
    /// The endpoint takes every field.
    #[default]
    None,
    /// These fields and everything below them are reset (the main resource of a kind with
    /// `/status`: `status`).
    Paths(FieldSet),
    /// Everything except these fields and what is below them is reset (`/status`: all but
    /// `status`).
    AllExcept(FieldSet),
}

impl ResetFields {
    /// The main resource of a kind with a status subresource: `status` is reset.
    pub fn main_resource() -> ResetFields {
        ResetFields::Paths(FieldSet::from_paths(&[FieldPath::fields(&["status"])]))
    }

    /// The `/status` subresource: everything but `status` is reset.
    pub fn status_subresource() -> ResetFields {
        ResetFields::AllExcept(FieldSet::from_paths(&[FieldPath::fields(&["status"])]))
    }

    /// `set` without the reset fields.
    pub fn filter(&self, set: &FieldSet) -> FieldSet {
        let mut set = set.clone();
        self.remove_from(&mut set);
        set
    }

    /// Removes the reset fields from `set` in place.
    fn remove_from(&self, set: &mut FieldSet) {
        match self {
            ResetFields::None => {}
            ResetFields::Paths(p) => set.remove_recursive(p),
            ResetFields::AllExcept(p) => set.retain_under(p),
        }
    }

    /// Removes the reset fields from `value`.
    fn strip(&self, value: &mut Value, node: Node<'_>) {
        match self {
            ResetFields::None => {}
            ResetFields::Paths(p) => typed::remove_paths(value, p, node, false),
            ResetFields::AllExcept(p) => typed::retain_paths(value, p, node),
        }
    }
}

/// Who writes, through which endpoint, with which schema, and when.
#[derive(Clone, Debug)]
pub struct WriteContext<'a> {
    /// The field manager (`fieldManager`, or the User-Agent's first token for updates).
    pub manager: &'a str,
    /// The API version written, `group/version`.
    pub api_version: &'a str,
    /// The subresource written through, e.g. `status`; empty for the main resource.
    pub subresource: &'a str,
    /// The kind's schema; `None` applies deduced semantics (maps granular, lists atomic).
    pub schema: Option<JsonSchemaCursor<'a>>,
    /// The fields the endpoint resets (see [`ResetFields::main_resource`] and
    /// [`ResetFields::status_subresource`]).
    pub reset: ResetFields,
    /// The time recorded in the entries this write changes.
    pub now: Time,
}

/// Why an apply is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change (kube-apiserver: `409 Conflict`, see
    /// [`Conflicts::status`]).
    #[error(transparent)]
    Conflicts(#[from] Conflicts),
    /// The applied configuration carries `metadata.managedFields` (`400 BadRequest`).
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsSet,
    /// The applied configuration is not a JSON object (`400 BadRequest`).
    #[error("apply patch must be a JSON object")]
    NotAnObject,
    /// The applied configuration's `apiVersion` is not the one served (`400 BadRequest`).
    #[error(
        "Incorrect version specified in apply patch. Specified patch version: {specified}, expected: {expected}"
    )]
    VersionMismatch {
        /// The `apiVersion` of the applied configuration.
        specified: String,
        /// The `apiVersion` served.
        expected: String,
    },
    /// The applied configuration does not fit the schema's list semantics, e.g. duplicate or
    /// missing keys (kube-apiserver: `500`, `failed to create typed patch object (…): <this>`).
    #[error("{0}")]
    Invalid(String),
}

/// The result of an apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The object to store, `metadata.managedFields` written; identical to the live object
    /// (byte for byte once serialised) when the apply changes nothing.
    pub object: Value,
    /// The entries written to `metadata.managedFields`.
    pub managed_fields: Vec<ManagedEntry>,
    /// Whether `object` differs from the live object.
    pub changed: bool,
}

/// The fields `object` sets, with list and map semantics from `schema` (structured-merge-diff's
/// `ToFieldSet`). Items that cannot be named (e.g. a keyed list item without its key) make
/// their list count as atomic.
pub fn field_set_of(object: &Value, schema: Option<JsonSchemaCursor<'_>>) -> FieldSet {
    typed::field_set(object, Node::root(schema), false).unwrap_or_default()
}

/// Server-side apply of `applied` (the request body) to `live` (`None` when the apply
/// creates the object); `force` is the `force` query parameter.
///
/// The live object's `metadata.managedFields` are the current owners (unreadable ones count
/// as none, as in kube-apiserver). Steps, as kube-apiserver's field manager takes them:
/// 1. the reset fields of the endpoint are dropped from the configuration;
/// 2. the configuration is merged into the live object (maps by key, keyed lists by key, sets
///    by value, everything else replaced); `null` sets a field to nothing, owned;
/// 3. fields the manager's previous `Apply` entry (same subresource) owned, that it no longer
///    applies and that no other manager owns, are removed;
/// 4. fields owned by other managers whose value the result changes are conflicts: an error
///    unless `force`, which takes them over (for manager `kubectl`, conflicts the
///    last-applied annotation accounts for are taken over without `force`, kube-apiserver's
///    migration from client-side apply);
/// 5. fields the result removes leave every owner; the manager's `Apply` entry becomes exactly
///    the applied field set (no entry when empty), timed `now`.
///
/// For manager `kubectl` on the main resource an existing last-applied annotation is
/// rewritten to the applied configuration. When nothing changes (object and owners, times
/// aside) the live object is returned unchanged.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    force: bool,
    ctx: &WriteContext<'_>,
) -> Result<Applied, ApplyError> {
    let Value::Object(applied_map) = applied else {
        return Err(ApplyError::NotAnObject);
    };
    if applied_map
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApplyError::ManagedFieldsSet);
    }
    let specified = applied_map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if specified != ctx.api_version {
        return Err(ApplyError::VersionMismatch {
            specified: specified.to_owned(),
            expected: ctx.api_version.to_owned(),
        });
    }
    let root = Node::root(ctx.schema);
    let mut config = applied.clone();
    ctx.reset.strip(&mut config, root);
    let full_set = typed::field_set(&config, root, true).map_err(|e| ApplyError::Invalid(e.0))?;
    let applied_set = ignore(full_set.clone(), &ctx.reset);
    let nulls = typed::null_paths(&config, root);

    let entries = managed::managed_fields_lenient(live);
    let is_mine = |e: &ManagedEntry| {
        e.is(
            ctx.manager,
            Operation::Apply,
            ctx.api_version,
            ctx.subresource,
        )
    };
    let last = entries.iter().find(|e| is_mine(e)).map(|e| &e.fields);
    let mut others: Vec<&ManagedEntry> = entries.iter().filter(|e| !is_mine(e)).collect();
    others.sort_by_key(|e| e.identifier());

    let mut base = match live {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Object(Map::new()),
    };
    remove_managed_fields(&mut base);
    let mut merged = typed::merge(Some(&base), &config, root, true);
    // Only what the manager may own is pruned, whatever a client wrote into its entry.
    let last = last.map(|l| ignore(l.clone(), &ctx.reset));
    if let Some(last) = last.filter(|l| !l.is_empty()) {
        let owned = others
            .iter()
            .fold(full_set.clone(), |acc, e| acc.union(&e.fields));
        typed::prune(&mut merged, root, &last, &owned, PROTECTED);
    }

    let cmp = typed::compare(&base, &merged, root).filtered(|s| ignore(s, &ctx.reset));
    let changed = cmp.added.union(&cmp.modified);
    let mut conflicts = Vec::new();
    for e in &others {
        for p in e.fields.intersection(&changed).paths() {
            conflicts.push(conflict::Conflict::new(e, p));
        }
    }
    if !conflicts.is_empty() && !force {
        let allowed = (ctx.manager == KUBECTL_MANAGER && ctx.subresource.is_empty())
            .then(|| last_applied_allowed(&base, root, ctx.api_version))
            .flatten();
        let remaining: Vec<Conflict> = match &allowed {
            Some(allowed) => conflicts
                .into_iter()
                .filter(|c| !allowed.contains(&c.path.0))
                .collect(),
            None => conflicts,
        };
        if !remaining.is_empty() {
            return Err(ApplyError::Conflicts(Conflicts(remaining)));
        }
    }

    let mut new_entries: Vec<ManagedEntry> = others
        .iter()
        .map(|e| {
            let mut e = (*e).clone();
            e.fields = e.fields.difference(&changed).difference(&cmp.removed);
            e
        })
        .filter(|e| !e.fields.is_empty())
        .collect();
    if !applied_set.is_empty() {
        new_entries.push(ManagedEntry {
            manager: ctx.manager.to_owned(),
            operation: Operation::Apply,
            api_version: ctx.api_version.to_owned(),
            time: Some(ctx.now.clone()),
            subresource: ctx.subresource.to_owned(),
            fields: applied_set,
        });
    }
    sort_entries(&mut new_entries);

    typed::remove_paths(&mut merged, &nulls, root, true);
    if ctx.manager == KUBECTL_MANAGER && ctx.subresource.is_empty() {
        update_last_applied(&mut merged, applied);
    }

    if let Some(live) = live
        && merged == base
        && same_ignoring_time(&new_entries, &entries)
    {
        return Ok(Applied {
            object: live.clone(),
            managed_fields: entries,
            changed: false,
        });
    }
    set_managed_fields(&mut merged, &new_entries);
    let changed = live != Some(&merged);
    Ok(Applied {
        object: merged,
        managed_fields: new_entries,
        changed,
    })
}

/// The managed fields after a non-apply write (create, update, patch) from `old` (`None` on
/// create) to `new`, the object about to be stored (after the endpoint's resets). Write them
/// with [`set_managed_fields`].
///
/// The starting entries are `new`'s `metadata.managedFields` when the client sent a non-empty,
/// readable list through the main resource (so clients can rewrite them), none when it sent
/// `[{}]` (clearing them), and `old`'s otherwise (`[]` keeps them). Fields the write adds or
/// changes leave every other owner and join the manager's `Update` entry (timed `now`); fields
/// it removes leave every owner. Empty entries are dropped, and beyond
/// [`MAX_UPDATE_MANAGERS`] `Update` entries the oldest are merged into `ancient-changes`
/// entries per API version, as kube-apiserver does.
pub fn update(old: Option<&Value>, new: &Value, ctx: &WriteContext<'_>) -> Vec<ManagedEntry> {
    let live_entries = managed::managed_fields_lenient(old);
    let mut entries = if ctx.subresource.is_empty() {
        match new.get("metadata").and_then(|m| m.get("managedFields")) {
            Some(v) if managed::is_reset(v) => Vec::new(),
            Some(v) => match parse_managed_fields(v) {
                Ok(e) if !e.is_empty() => e,
                _ => live_entries,
            },
            None => live_entries,
        }
    } else {
        live_entries
    };
    let root = Node::root(ctx.schema);
    let mut old_v = match old {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Object(Map::new()),
    };
    let mut new_v = new.clone();
    remove_managed_fields(&mut old_v);
    remove_managed_fields(&mut new_v);
    let cmp = typed::compare(&old_v, &new_v, root).filtered(|s| ignore(s, &ctx.reset));
    let changed = cmp.added.union(&cmp.modified);
    let own = changed.difference(&cmp.removed);
    for e in &mut entries {
        e.fields = e.fields.difference(&changed).difference(&cmp.removed);
    }
    if !own.is_empty() {
        let mine = entries.iter_mut().find(|e| {
            e.is(
                ctx.manager,
                Operation::Update,
                ctx.api_version,
                ctx.subresource,
            )
        });
        match mine {
            Some(e) => {
                e.fields = e.fields.union(&own);
                e.time = Some(ctx.now.clone());
            }
            None => entries.push(ManagedEntry {
                manager: ctx.manager.to_owned(),
                operation: Operation::Update,
                api_version: ctx.api_version.to_owned(),
                time: Some(ctx.now.clone()),
                subresource: ctx.subresource.to_owned(),
                fields: own,
            }),
        }
    }
    entries.retain(|e| !e.fields.is_empty());
    managed::cap_update_managers(&mut entries, MAX_UPDATE_MANAGERS);
    sort_entries(&mut entries);
    entries
}

/// Fields nobody owns: `apiVersion`, `kind`, `metadata` itself and its system fields.
fn fixed_ignored() -> &'static FieldSet {
    static SET: OnceLock<FieldSet> = OnceLock::new();
    SET.get_or_init(|| {
        let mut paths = vec![
            FieldPath::fields(&["apiVersion"]),
            FieldPath::fields(&["kind"]),
        ];
        for f in [
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
            "deletionTimestamp",
            "selfLink",
        ] {
            paths.push(FieldPath::fields(&["metadata", f]));
        }
        FieldSet::from_paths(&paths)
    })
}

/// `set` without the fields nobody owns and the endpoint's reset fields.
fn ignore(mut set: FieldSet, reset: &ResetFields) -> FieldSet {
    set.remove_recursive(fixed_ignored());
    set.remove_member(&PathElement::Field("metadata".to_owned()));
    reset.remove_from(&mut set);
    set
}

fn remove_managed_fields(v: &mut Value) {
    if let Some(Value::Object(meta)) = v.get_mut("metadata") {
        meta.shift_remove("managedFields");
    }
}

/// Whether two entry lists name the same managers owning the same fields.
fn same_ignoring_time(a: &[ManagedEntry], b: &[ManagedEntry]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter().any(|y| {
                x.same_manager(y) && x.api_version == y.api_version && x.fields == y.fields
            })
        })
}

/// The fields of the last-applied annotation of `live` that still hold their value there
/// (kube-apiserver's `lastAppliedManager`): conflicts on them do not stop `kubectl`.
fn last_applied_allowed(live: &Value, root: Node<'_>, api_version: &str) -> Option<FieldSet> {
    let text = live
        .get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED_ANNOTATION)?
        .as_str()?;
    if text.is_empty() {
        return None;
    }
    let last: Value = serde_json::from_str(text).ok()?;
    if !last.is_object() || last.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let set = typed::field_set(&last, root, false).ok()?;
    let cmp = typed::compare(&last, live, root);
    Some(
        set.difference(&cmp.modified)
            .difference(&cmp.added)
            .difference(&cmp.removed),
    )
}

/// Rewrites an existing last-applied annotation to `applied` (without the annotation), as
/// kube-apiserver's `lastAppliedUpdater` does for `kubectl`; drops it when the annotations
/// would exceed their size limit.
fn update_last_applied(obj: &mut Value, applied: &Value) {
    let Some(Value::Object(annotations)) = obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    else {
        return;
    };
    let has = annotations
        .get(LAST_APPLIED_ANNOTATION)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if !has {
        return;
    }
    let mut config = applied.clone();
    if let Some(Value::Object(a)) = config
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    {
        a.shift_remove(LAST_APPLIED_ANNOTATION);
    }
    let mut text = fieldpath::go_json(&config);
    text.push('\n');
    annotations.insert(LAST_APPLIED_ANNOTATION.into(), Value::from(text));
    let total: usize = annotations
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        annotations.shift_remove(LAST_APPLIED_ANNOTATION);
    }
}
