//! OpenAPI documents for served resources, built from their JSON schemas.
//!
//! Kind-agnostic: the caller hands in, per resource, its group/version/kind/plural, scope,
//! whether it has `/status`, and the JSON schemas of the kind and its list (as `schemars`
//! generates them for OpenAPI 3, with references `#/components/schemas/<name>`). This module
//! adds what Kubernetes clients read beyond the schemas:
//!
//! - definition names: unqualified names (our Rust types) become `<reversed group>.<version>.<Name>`
//!   (e.g. `dev.ironcore.networking.v1alpha1.Network`), upstream's reversed-domain naming;
//!   Kubernetes meta types keep their `io.k8s.…` names;
//! - `x-kubernetes-group-version-kind` (a list) on the kind and list schemas, which
//!   `kubectl explain` looks up;
//! - `x-kubernetes-list-type: atomic` on every list that declares no list type (Kubernetes'
//!   default, made explicit for server-side apply), and the list and map semantics upstream's
//!   `ObjectMeta`, `OwnerReference` and `LabelSelector` schemas carry;
//! - `paths` with every operation of every resource, each with `x-kubernetes-action` and
//!   `x-kubernetes-group-version-kind`, the query parameters the verbs take and, on PATCH, a
//!   request body listing exactly the patch content types the server accepts.
//!
//! [`v3_document`] builds one OpenAPI 3.0 document per group-version, [`v2_document`] the
//! Swagger 2.0 document of all of them, [`v3_root`] the `/openapi/v3` discovery document.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// Where OpenAPI 3 documents keep schemas; schema references start with this.
pub const V3_REF_PREFIX: &str = "#/components/schemas/";
/// Where Swagger 2.0 documents keep schemas.
pub const V2_REF_PREFIX: &str = "#/definitions/";

/// The `DeleteOptions` schema name, the body of DELETE operations.
pub const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
/// The `Status` schema name, the result of DELETE operations.
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
/// The `WatchEvent` schema name, the items of a watch stream.
pub const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
/// The `Patch` schema name, the body of PATCH operations.
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
/// The meta schemas the operations reference; [`Options::meta`] must define them.
pub const REQUIRED_META: &[&str] = &[DELETE_OPTIONS, STATUS, WATCH_EVENT, PATCH];

/// The schemas of one kind: its own, its list's, and every schema they reference.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KindSchemas {
    /// Name of the kind's schema in [`Self::definitions`], e.g. `Network`.
    pub kind: String,
    /// Name of the list's schema in [`Self::definitions`], e.g. `NetworkList`.
    pub list: String,
    /// Schemas by name; references inside are `#/components/schemas/<name>`.
    pub definitions: Map<String, Value>,
}

/// One served resource: where it lives and the schemas of its kind.
#[derive(Clone, Copy, Debug)]
pub struct Resource<'a> {
    /// API group, e.g. `networking.ironcore.dev`.
    pub group: &'a str,
    /// API version, e.g. `v1alpha1`.
    pub version: &'a str,
    /// Kind, e.g. `Network`.
    pub kind: &'a str,
    /// Plural resource name, e.g. `networks`.
    pub plural: &'a str,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether the `/status` subresource exists.
    pub has_status: bool,
    /// The kind's schemas.
    pub schemas: &'a KindSchemas,
}

/// What every document shares.
#[derive(Clone, Copy, Debug)]
pub struct Options<'a> {
    /// `info.title`.
    pub title: &'a str,
    /// `info.version`.
    pub version: &'a str,
    /// The PATCH content types the server accepts, listed in each PATCH request body.
    pub patch_types: &'a [&'a str],
    /// Meta schemas by `io.k8s.…` name; must include [`REQUIRED_META`].
    pub meta: &'a Map<String, Value>,
}

/// Why a document could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenApiError {
    /// Two kinds define different schemas under one name.
    #[error("two different schemas are named {0:?}")]
    Conflict(String),
    /// A schema a resource or operation references is not defined.
    #[error("schema {0:?} is referenced but not defined")]
    Undefined(String),
}

/// Content types every operation answers with.
const RESPONSE_TYPES: &[&str] = &["application/json", "application/yaml"];
/// Content type of a watch stream.
const WATCH_TYPE: &str = "application/json;stream=watch";

/// The OpenAPI 3.0 document of one group-version: the schemas of its kinds and every operation.
pub fn v3_document(
    group: &str,
    version: &str,
    resources: &[Resource<'_>],
    opts: &Options<'_>,
) -> Result<Value, OpenApiError> {
    let resources: Vec<Resource<'_>> = resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .copied()
        .collect();
    let schemas = collect_schemas(&resources, opts)?;
    let mut paths = Map::new();
    for r in &resources {
        for p in resource_paths(r) {
            let mut item = Map::new();
            item.insert("parameters".into(), Value::Array(p.parameters(Dialect::V3)));
            for op in &p.ops {
                item.insert(op.method.into(), op.to_v3(r, opts));
            }
            paths.insert(p.path.clone(), Value::Object(item));
        }
    }
    let doc = json!({
        "openapi": "3.0.0",
        "info": {"title": opts.title, "version": opts.version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                },
            },
        },
        "security": [{"BearerToken": []}],
    });
    check_refs(&doc, V3_REF_PREFIX, &doc["components"]["schemas"])?;
    Ok(doc)
}

/// The Swagger 2.0 document of all resources (`/openapi/v2`).
pub fn v2_document(resources: &[Resource<'_>], opts: &Options<'_>) -> Result<Value, OpenApiError> {
    let schemas = collect_schemas(resources, opts)?;
    let definitions: Map<String, Value> = schemas
        .into_iter()
        .map(|(name, mut s)| {
            to_v2_schema(&mut s);
            (name, s)
        })
        .collect();
    let mut paths = Map::new();
    for r in resources {
        for p in resource_paths(r) {
            let mut item = Map::new();
            item.insert("parameters".into(), Value::Array(p.parameters(Dialect::V2)));
            for op in &p.ops {
                item.insert(op.method.into(), op.to_v2(r, opts));
            }
            paths.insert(p.path.clone(), Value::Object(item));
        }
    }
    let doc = json!({
        "swagger": "2.0",
        "info": {"title": opts.title, "version": opts.version},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": {
                "type": "apiKey",
                "description": "Bearer Token authentication",
                "name": "authorization",
                "in": "header",
            },
        },
        "security": [{"BearerToken": []}],
    });
    check_refs(&doc, V2_REF_PREFIX, &doc["definitions"])?;
    Ok(doc)
}

/// The `/openapi/v3` discovery document: per `(group, version, hash)`, where its document is.
pub fn v3_root(group_versions: &[(String, String, String)]) -> Value {
    let paths: Map<String, Value> = group_versions
        .iter()
        .map(|(g, v, hash)| {
            (
                format!("apis/{g}/{v}"),
                json!({"serverRelativeURL": format!("/openapi/v3/apis/{g}/{v}?hash={hash}")}),
            )
        })
        .collect();
    json!({ "paths": paths })
}

/// A stable content hash for ETags and `?hash=`: 128-bit FNV-1a, 32 upper-case hex digits.
pub fn content_hash(bytes: &[u8]) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let h = bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u128::from(*b)).wrapping_mul(PRIME));
    format!("{h:032X}")
}

/// The schema-name prefix of a group-version: the reversed group, then the version
/// (`networking.ironcore.dev`, `v1alpha1` → `dev.ironcore.networking.v1alpha1`).
pub fn schema_prefix(group: &str, version: &str) -> String {
    let mut parts: Vec<&str> = group.split('.').filter(|p| !p.is_empty()).collect();
    parts.reverse();
    parts.push(version);
    parts.join(".")
}

/// The qualified schema name of `name` in a group-version; `io.k8s.…` and other dotted names
/// are already qualified.
fn qualify(group: &str, version: &str, name: &str) -> String {
    if name.contains('.') {
        name.to_owned()
    } else {
        format!("{}.{name}", schema_prefix(group, version))
    }
}

/// The qualified names of a resource's kind and list schemas.
fn root_names(r: &Resource<'_>) -> (String, String) {
    (
        qualify(r.group, r.version, &r.schemas.kind),
        qualify(r.group, r.version, &r.schemas.list),
    )
}

/// All schemas of `resources` plus the meta schemas, qualified, decorated and merged.
fn collect_schemas(
    resources: &[Resource<'_>],
    opts: &Options<'_>,
) -> Result<BTreeMap<String, Value>, OpenApiError> {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    fn insert(
        out: &mut BTreeMap<String, Value>,
        name: String,
        schema: Value,
    ) -> Result<(), OpenApiError> {
        match out.get(&name) {
            Some(existing) if *existing != schema => Err(OpenApiError::Conflict(name)),
            Some(_) => Ok(()),
            None => {
                out.insert(name, schema);
                Ok(())
            }
        }
    }
    for (name, schema) in opts.meta {
        let mut schema = schema.clone();
        add_meta_extensions(name, &mut schema);
        insert(&mut out, name.clone(), schema)?;
    }
    for r in resources {
        let (kind_name, list_name) = root_names(r);
        for (name, schema) in &r.schemas.definitions {
            let mut schema = schema.clone();
            qualify_refs(&mut schema, r.group, r.version);
            simplify_nullable(&mut schema);
            let qualified = qualify(r.group, r.version, name);
            if qualified.starts_with("io.k8s.") {
                add_meta_extensions(&qualified, &mut schema);
            } else {
                default_list_types(&mut schema);
            }
            if qualified == kind_name || qualified == list_name {
                let kind = if qualified == kind_name {
                    r.kind.to_owned()
                } else {
                    format!("{}List", r.kind)
                };
                decorate_root(&mut schema, r.group, r.version, &kind);
            }
            insert(&mut out, qualified, schema)?;
        }
        for root in [&kind_name, &list_name] {
            if !out.contains_key(root.as_str()) {
                return Err(OpenApiError::Undefined(root.clone()));
            }
        }
    }
    for name in REQUIRED_META {
        if !out.contains_key(*name) {
            return Err(OpenApiError::Undefined((*name).to_owned()));
        }
    }
    Ok(out)
}

/// Qualifies the targets of `$ref`s (see [`qualify`]).
fn qualify_refs(v: &mut Value, group: &str, version: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "$ref" {
                    if let Some(target) = x.as_str().and_then(|s| s.strip_prefix(V3_REF_PREFIX)) {
                        *x = Value::String(format!(
                            "{V3_REF_PREFIX}{}",
                            qualify(group, version, target)
                        ));
                    }
                } else if !is_value_keyword(k) {
                    qualify_refs(x, group, version);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| qualify_refs(x, group, version)),
        _ => {}
    }
}

/// Whether `v` is a schema admitting only `null`.
fn is_null_schema(v: &Value) -> bool {
    let Some(m) = v.as_object() else {
        return false;
    };
    let only_null = m.iter().all(|(k, x)| match k.as_str() {
        "type" => x == "null",
        "enum" => x == &json!([null]),
        "const" => x.is_null(),
        "nullable" => x == &json!(true),
        _ => false,
    });
    only_null && !m.is_empty() && m.keys().any(|k| k != "nullable")
}

/// Rewrites `anyOf: [S, null]` (an optional reference) as upstream writes optional fields:
/// `allOf: [S]` (or `S`'s keywords inline) with `nullable: true`, which kubectl explain and
/// Swagger 2.0 understand; and drops defaults that are mere zero values (`null`, or a value
/// outside the schema's `enum`).
fn simplify_nullable(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let other = match m.get("anyOf") {
                Some(Value::Array(a)) if a.len() == 2 => {
                    match (is_null_schema(&a[0]), is_null_schema(&a[1])) {
                        (true, false) => Some(a[1].clone()),
                        (false, true) => Some(a[0].clone()),
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(other) = other {
                m.remove("anyOf");
                match other {
                    Value::Object(o) if o.len() == 1 && o.contains_key("$ref") => {
                        m.insert("allOf".into(), json!([o]));
                    }
                    Value::Object(o) => {
                        for (k, x) in o {
                            m.entry(k).or_insert(x);
                        }
                    }
                    _ => {}
                }
                m.insert("nullable".into(), json!(true));
            }
            // A null default, or one outside the enum, is a type's zero value, not a default.
            let bad_default = match (m.get("default"), m.get("enum")) {
                (Some(Value::Null), _) => true,
                (Some(d), Some(Value::Array(e))) => !e.contains(d),
                _ => false,
            };
            if bad_default {
                m.remove("default");
            }
            for (k, x) in m.iter_mut() {
                if !is_value_keyword(k) {
                    simplify_nullable(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(simplify_nullable),
        _ => {}
    }
}

/// Keywords whose value is data, not a schema.
fn is_value_keyword(k: &str) -> bool {
    matches!(k, "default" | "enum" | "example" | "examples" | "const")
}

/// The GVK list, and no `apiVersion`/`kind` in `required` (clients may omit them).
fn decorate_root(schema: &mut Value, group: &str, version: &str, kind: &str) {
    let Some(m) = schema.as_object_mut() else {
        return;
    };
    m.insert(
        "x-kubernetes-group-version-kind".into(),
        json!([{"group": group, "kind": kind, "version": version}]),
    );
    if let Some(Value::Array(req)) = m.get_mut("required") {
        req.retain(|f| f != "apiVersion" && f != "kind");
        if req.is_empty() {
            m.remove("required");
        }
    }
}

/// `x-kubernetes-list-type: atomic` on every array schema that declares no list type.
fn default_list_types(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("type").and_then(Value::as_str) == Some("array")
                && !m.contains_key("x-kubernetes-list-type")
            {
                m.insert("x-kubernetes-list-type".into(), json!("atomic"));
            }
            for (k, x) in m.iter_mut() {
                if !is_value_keyword(k) {
                    default_list_types(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(default_list_types),
        _ => {}
    }
}

/// The list and map semantics upstream's meta schemas declare (k8s-openapi's schemas omit them).
fn add_meta_extensions(name: &str, schema: &mut Value) {
    let set = |schema: &mut Value, prop: Option<&str>, ext: Value| {
        let target = match prop {
            Some(p) => schema.get_mut("properties").and_then(|ps| ps.get_mut(p)),
            None => Some(schema),
        };
        if let (Some(Value::Object(t)), Value::Object(ext)) = (target, ext) {
            t.extend(ext);
        }
    };
    match name {
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" => {
            set(
                schema,
                Some("finalizers"),
                json!({"x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"}),
            );
            set(
                schema,
                Some("ownerReferences"),
                json!({
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["uid"],
                    "x-kubernetes-patch-merge-key": "uid",
                    "x-kubernetes-patch-strategy": "merge",
                }),
            );
            set(
                schema,
                Some("managedFields"),
                json!({"x-kubernetes-list-type": "atomic"}),
            );
        }
        "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference" => {
            set(schema, None, json!({"x-kubernetes-map-type": "atomic"}));
        }
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector" => {
            set(schema, None, json!({"x-kubernetes-map-type": "atomic"}));
            set(
                schema,
                Some("matchExpressions"),
                json!({"x-kubernetes-list-type": "atomic"}),
            );
        }
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement" => {
            set(
                schema,
                Some("values"),
                json!({"x-kubernetes-list-type": "atomic"}),
            );
        }
        _ => {}
    }
}

/// Rewrites an OpenAPI 3 schema for Swagger 2.0: `#/definitions/` references, `$ref` with
/// siblings instead of a one-element `allOf`, no `nullable`.
fn to_v2_schema(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let single_ref = match m.get("allOf") {
                Some(Value::Array(a)) if a.len() == 1 => a[0]
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .and_then(|o| o.get("$ref"))
                    .cloned(),
                _ => None,
            };
            if let Some(r) = single_ref {
                m.remove("allOf");
                m.insert("$ref".into(), r);
            }
            m.remove("nullable");
            for (k, x) in m.iter_mut() {
                if k == "$ref" {
                    if let Some(target) = x.as_str().and_then(|s| s.strip_prefix(V3_REF_PREFIX)) {
                        *x = Value::String(format!("{V2_REF_PREFIX}{target}"));
                    }
                } else if !is_value_keyword(k) {
                    to_v2_schema(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(to_v2_schema),
        _ => {}
    }
}

/// Every `$ref` in `doc` names a schema in `defined`.
fn check_refs(doc: &Value, prefix: &str, defined: &Value) -> Result<(), OpenApiError> {
    match doc {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    let target = x.as_str().unwrap_or_default();
                    let name = target.strip_prefix(prefix).unwrap_or(target);
                    if defined.get(name).is_none() {
                        return Err(OpenApiError::Undefined(name.to_owned()));
                    }
                } else if !is_value_keyword(k) {
                    check_refs(x, prefix, defined)?;
                }
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(|x| check_refs(x, prefix, defined)),
        _ => Ok(()),
    }
}

/// Which OpenAPI version an operation or parameter is rendered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    V2,
    V3,
}

/// A query or path parameter.
#[derive(Clone, Copy, Debug)]
struct Param {
    name: &'static str,
    location: &'static str,
    type_: &'static str,
    description: &'static str,
}

impl Param {
    fn render(&self, d: Dialect) -> Value {
        let mut p = json!({
            "name": self.name,
            "in": self.location,
            "description": self.description,
        });
        if self.location == "path" {
            p["required"] = json!(true);
        }
        match d {
            Dialect::V3 => p["schema"] = json!({"type": self.type_, "uniqueItems": true}),
            Dialect::V2 => {
                p["type"] = json!(self.type_);
                p["uniqueItems"] = json!(true);
            }
        }
        p
    }
}

const fn query(name: &'static str, type_: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: "query",
        type_,
        description,
    }
}

const P_NAME: Param = Param {
    name: "name",
    location: "path",
    type_: "string",
    description: "name of the object",
};
const P_NAMESPACE: Param = Param {
    name: "namespace",
    location: "path",
    type_: "string",
    description: "object name and auth scope, such as for teams and projects",
};
const P_PRETTY: Param = query(
    "pretty",
    "string",
    "If 'true', then the output is pretty printed.",
);
const P_DRY_RUN: Param = query(
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. The only valid value is All.",
);
const P_FIELD_MANAGER: Param = query(
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes.",
);
const P_FIELD_VALIDATION: Param = query(
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: drops them silently. - Warn: drops them and sends a warning header for each (the default). - Strict: fails the request with BadRequest naming all of them.",
);
const P_FORCE: Param = query(
    "force",
    "boolean",
    "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
);
const P_LABEL_SELECTOR: Param = query(
    "labelSelector",
    "string",
    "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
);
const P_FIELD_SELECTOR: Param = query(
    "fieldSelector",
    "string",
    "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
);
const P_LIMIT: Param = query(
    "limit",
    "integer",
    "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata.",
);
const P_CONTINUE: Param = query(
    "continue",
    "string",
    "The continue option should be set when retrieving more results from the server, with the value of the previous list's `continue` field.",
);
const P_RESOURCE_VERSION: Param = query(
    "resourceVersion",
    "string",
    "resourceVersion sets a constraint on what resource versions a request may be served from. Defaults to unset.",
);
const P_RESOURCE_VERSION_MATCH: Param = query(
    "resourceVersionMatch",
    "string",
    "resourceVersionMatch determines how resourceVersion is applied to list calls (Exact or NotOlderThan).",
);
const P_WATCH: Param = query(
    "watch",
    "boolean",
    "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
);
const P_TIMEOUT_SECONDS: Param = query(
    "timeoutSeconds",
    "integer",
    "Timeout for the list/watch call, regardless of any activity or inactivity.",
);
const P_ALLOW_WATCH_BOOKMARKS: Param = query(
    "allowWatchBookmarks",
    "boolean",
    "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
);
const P_SEND_INITIAL_EVENTS: Param = query(
    "sendInitialEvents",
    "boolean",
    "`sendInitialEvents=true` may be set together with `watch=true`: the stream begins with synthetic events for all existing objects, then a bookmark.",
);
const P_GRACE_PERIOD: Param = query(
    "gracePeriodSeconds",
    "integer",
    "The duration in seconds before the object should be deleted.",
);
const P_PROPAGATION_POLICY: Param = query(
    "propagationPolicy",
    "string",
    "Whether and how garbage collection will be performed: Orphan, Background or Foreground.",
);
const P_ORPHAN_DEPENDENTS: Param = query(
    "orphanDependents",
    "boolean",
    "Deprecated: please use the PropagationPolicy.",
);

const LIST_PARAMS: &[Param] = &[
    P_ALLOW_WATCH_BOOKMARKS,
    P_CONTINUE,
    P_FIELD_SELECTOR,
    P_LABEL_SELECTOR,
    P_LIMIT,
    P_RESOURCE_VERSION,
    P_RESOURCE_VERSION_MATCH,
    P_SEND_INITIAL_EVENTS,
    P_TIMEOUT_SECONDS,
    P_WATCH,
];
const WRITE_PARAMS: &[Param] = &[P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION];
const PATCH_PARAMS: &[Param] = &[P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION, P_FORCE];
const DELETE_PARAMS: &[Param] = &[
    P_DRY_RUN,
    P_GRACE_PERIOD,
    P_ORPHAN_DEPENDENTS,
    P_PROPAGATION_POLICY,
];
const DELETE_COLLECTION_PARAMS: &[Param] = &[
    P_CONTINUE,
    P_DRY_RUN,
    P_FIELD_SELECTOR,
    P_GRACE_PERIOD,
    P_LABEL_SELECTOR,
    P_LIMIT,
    P_ORPHAN_DEPENDENTS,
    P_PROPAGATION_POLICY,
    P_RESOURCE_VERSION,
    P_RESOURCE_VERSION_MATCH,
    P_SEND_INITIAL_EVENTS,
    P_TIMEOUT_SECONDS,
];

/// What an operation takes and returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// No request body.
    None,
    /// The kind's object.
    Object,
    /// `DeleteOptions`.
    DeleteOptions,
    /// A patch in one of the accepted patch types.
    Patch,
}

/// What an operation answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// The object.
    Object,
    /// The list (or, with `watch`, a stream of events).
    List,
    /// A `Status`.
    Status,
}

/// One operation of a path.
#[derive(Clone, Debug)]
struct Op {
    method: &'static str,
    action: &'static str,
    operation_id: String,
    description: String,
    params: &'static [Param],
    body: Body,
    answer: Answer,
    codes: &'static [(&'static str, &'static str)],
}

/// One path with its parameters and operations.
struct PathItem {
    path: String,
    namespaced: bool,
    named: bool,
    ops: Vec<Op>,
}

impl PathItem {
    fn parameters(&self, d: Dialect) -> Vec<Value> {
        let mut ps = Vec::new();
        if self.named {
            ps.push(P_NAME.render(d));
        }
        if self.namespaced {
            ps.push(P_NAMESPACE.render(d));
        }
        ps.push(P_PRETTY.render(d));
        ps
    }
}

const OK: &[(&str, &str)] = &[("200", "OK")];
const CREATED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created"), ("202", "Accepted")];
const UPDATED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created")];
const DELETED: &[(&str, &str)] = &[("200", "OK"), ("202", "Accepted")];

/// `networking.ironcore.dev` → `NetworkingIroncoreDev`.
fn camel(s: &str) -> String {
    s.split(['.', '-'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// The tag of a group-version's operations, e.g. `networkingIroncoreDev_v1alpha1`.
fn tag(group: &str, version: &str) -> String {
    let c = camel(group);
    let mut chars = c.chars();
    let lower: String = match chars.next() {
        Some(f) => f.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("{lower}_{version}")
}

/// The paths and operations of one resource, as kube-apiserver installs them.
fn resource_paths(r: &Resource<'_>) -> Vec<PathItem> {
    let gv = format!("{}{}", camel(r.group), camel(r.version));
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let k = r.kind;
    let base = if r.namespaced {
        format!(
            "/apis/{}/{}/namespaces/{{namespace}}/{}",
            r.group, r.version, r.plural
        )
    } else {
        format!("/apis/{}/{}/{}", r.group, r.version, r.plural)
    };
    let op = |method, action, id: String, description: String, params, body, answer, codes| Op {
        method,
        action,
        operation_id: id,
        description,
        params,
        body,
        answer,
        codes,
    };
    let mut out = vec![
        PathItem {
            path: base.clone(),
            namespaced: r.namespaced,
            named: false,
            ops: vec![
                op(
                    "get",
                    "list",
                    format!("list{gv}{scope}{k}"),
                    format!("list or watch objects of kind {k}"),
                    LIST_PARAMS,
                    Body::None,
                    Answer::List,
                    OK,
                ),
                op(
                    "post",
                    "post",
                    format!("create{gv}{scope}{k}"),
                    format!("create a {k}"),
                    WRITE_PARAMS,
                    Body::Object,
                    Answer::Object,
                    CREATED,
                ),
                op(
                    "delete",
                    "deletecollection",
                    format!("delete{gv}Collection{scope}{k}"),
                    format!("delete collection of {k}"),
                    DELETE_COLLECTION_PARAMS,
                    Body::DeleteOptions,
                    Answer::Status,
                    OK,
                ),
            ],
        },
        PathItem {
            path: format!("{base}/{{name}}"),
            namespaced: r.namespaced,
            named: true,
            ops: vec![
                op(
                    "get",
                    "get",
                    format!("read{gv}{scope}{k}"),
                    format!("read the specified {k}"),
                    &[],
                    Body::None,
                    Answer::Object,
                    OK,
                ),
                op(
                    "put",
                    "put",
                    format!("replace{gv}{scope}{k}"),
                    format!("replace the specified {k}"),
                    WRITE_PARAMS,
                    Body::Object,
                    Answer::Object,
                    UPDATED,
                ),
                op(
                    "patch",
                    "patch",
                    format!("patch{gv}{scope}{k}"),
                    format!("partially update the specified {k}"),
                    PATCH_PARAMS,
                    Body::Patch,
                    Answer::Object,
                    UPDATED,
                ),
                op(
                    "delete",
                    "delete",
                    format!("delete{gv}{scope}{k}"),
                    format!("delete a {k}"),
                    DELETE_PARAMS,
                    Body::DeleteOptions,
                    Answer::Status,
                    DELETED,
                ),
            ],
        },
    ];
    if r.has_status {
        out.push(PathItem {
            path: format!("{base}/{{name}}/status"),
            namespaced: r.namespaced,
            named: true,
            ops: vec![
                op(
                    "get",
                    "get",
                    format!("read{gv}{scope}{k}Status"),
                    format!("read status of the specified {k}"),
                    &[],
                    Body::None,
                    Answer::Object,
                    OK,
                ),
                op(
                    "put",
                    "put",
                    format!("replace{gv}{scope}{k}Status"),
                    format!("replace status of the specified {k}"),
                    WRITE_PARAMS,
                    Body::Object,
                    Answer::Object,
                    UPDATED,
                ),
                op(
                    "patch",
                    "patch",
                    format!("patch{gv}{scope}{k}Status"),
                    format!("partially update status of the specified {k}"),
                    PATCH_PARAMS,
                    Body::Patch,
                    Answer::Object,
                    UPDATED,
                ),
            ],
        });
    }
    if r.namespaced {
        out.push(PathItem {
            path: format!("/apis/{}/{}/{}", r.group, r.version, r.plural),
            namespaced: false,
            named: false,
            ops: vec![op(
                "get",
                "list",
                format!("list{gv}{k}ForAllNamespaces"),
                format!("list or watch objects of kind {k}"),
                LIST_PARAMS,
                Body::None,
                Answer::List,
                OK,
            )],
        });
    }
    out
}

impl Op {
    /// The schema names of the request body and the answer.
    fn schema_names(&self, r: &Resource<'_>) -> (Option<String>, String) {
        let (kind, list) = root_names(r);
        let body = match self.body {
            Body::None => None,
            Body::Object => Some(kind.clone()),
            Body::DeleteOptions => Some(DELETE_OPTIONS.to_owned()),
            Body::Patch => Some(PATCH.to_owned()),
        };
        let answer = match self.answer {
            Answer::Object => kind,
            Answer::List => list,
            Answer::Status => STATUS.to_owned(),
        };
        (body, answer)
    }

    /// The content types of the request body.
    fn consumes(&self, opts: &Options<'_>) -> Vec<String> {
        match self.body {
            Body::Patch => opts.patch_types.iter().map(|s| (*s).to_owned()).collect(),
            _ => vec!["*/*".to_owned()],
        }
    }

    /// The content types of the answer.
    fn produces(&self) -> Vec<&'static str> {
        let mut p = RESPONSE_TYPES.to_vec();
        if self.answer == Answer::List {
            p.push(WATCH_TYPE);
        }
        p
    }

    fn common(&self, r: &Resource<'_>) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("tags".into(), json!([tag(r.group, r.version)]));
        m.insert("description".into(), json!(self.description));
        m.insert("operationId".into(), json!(self.operation_id));
        m.insert("x-kubernetes-action".into(), json!(self.action));
        m.insert(
            "x-kubernetes-group-version-kind".into(),
            json!({"group": r.group, "version": r.version, "kind": r.kind}),
        );
        m
    }

    fn to_v3(&self, r: &Resource<'_>, opts: &Options<'_>) -> Value {
        let (body, answer) = self.schema_names(r);
        let mut m = self.common(r);
        let params: Vec<Value> = self.params.iter().map(|p| p.render(Dialect::V3)).collect();
        if !params.is_empty() {
            m.insert("parameters".into(), Value::Array(params));
        }
        if let Some(body) = body {
            let schema = json!({"$ref": format!("{V3_REF_PREFIX}{body}")});
            let content: Map<String, Value> = self
                .consumes(opts)
                .into_iter()
                .map(|ct| (ct, json!({"schema": schema})))
                .collect();
            let required = self.body != Body::DeleteOptions;
            m.insert(
                "requestBody".into(),
                json!({"content": content, "required": required}),
            );
        }
        let schema = json!({"$ref": format!("{V3_REF_PREFIX}{answer}")});
        let content: Map<String, Value> = self
            .produces()
            .into_iter()
            .map(|ct| {
                let s = if ct == WATCH_TYPE {
                    json!({"$ref": format!("{V3_REF_PREFIX}{WATCH_EVENT}")})
                } else {
                    schema.clone()
                };
                (ct.to_owned(), json!({ "schema": s }))
            })
            .collect();
        let mut responses = Map::new();
        for (code, text) in self.codes {
            responses.insert(
                (*code).to_owned(),
                json!({"description": text, "content": content}),
            );
        }
        responses.insert("401".into(), json!({"description": "Unauthorized"}));
        m.insert("responses".into(), Value::Object(responses));
        Value::Object(m)
    }

    fn to_v2(&self, r: &Resource<'_>, opts: &Options<'_>) -> Value {
        let (body, answer) = self.schema_names(r);
        let mut m = self.common(r);
        m.insert("consumes".into(), json!(self.consumes(opts)));
        m.insert("produces".into(), json!(self.produces()));
        m.insert("schemes".into(), json!(["https"]));
        let mut params: Vec<Value> = Vec::new();
        if let Some(body) = body {
            params.push(json!({
                "name": "body",
                "in": "body",
                "required": self.body != Body::DeleteOptions,
                "schema": {"$ref": format!("{V2_REF_PREFIX}{body}")},
            }));
        }
        params.extend(self.params.iter().map(|p| p.render(Dialect::V2)));
        if !params.is_empty() {
            m.insert("parameters".into(), Value::Array(params));
        }
        let mut responses = Map::new();
        for (code, text) in self.codes {
            responses.insert(
                (*code).to_owned(),
                json!({"description": text, "schema": {"$ref": format!("{V2_REF_PREFIX}{answer}")}}),
            );
        }
        responses.insert("401".into(), json!({"description": "Unauthorized"}));
        m.insert("responses".into(), Value::Object(responses));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH_TYPES: &[&str] = &[
        "application/json-patch+json",
        "application/merge-patch+json",
    ];

    fn meta() -> Map<String, Value> {
        let mut m = Map::new();
        for name in REQUIRED_META {
            m.insert((*name).to_owned(), json!({"type": "object"}));
        }
        m.insert(
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into(),
            json!({"type": "object", "properties": {"finalizers": {"type": "array", "items": {"type": "string"}}}}),
        );
        m
    }

    /// Schemas as schemars emits them for a kind with a keyed list and a plain list.
    fn widget() -> KindSchemas {
        let mut d = Map::new();
        d.insert(
            "Widget".into(),
            json!({
                "type": "object",
                "description": "A widget.",
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]},
                    "spec": {"allOf": [{"$ref": "#/components/schemas/WidgetSpec"}], "description": "The desired state."},
                },
                "required": ["apiVersion", "kind"],
            }),
        );
        d.insert(
            "WidgetSpec".into(),
            json!({
                "type": "object",
                "properties": {
                    "parts": {
                        "type": "array",
                        "description": "The parts, keyed by name.",
                        "items": {"$ref": "#/components/schemas/Part"},
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "x-kubernetes-patch-merge-key": "name",
                        "x-kubernetes-patch-strategy": "merge,retainKeys",
                    },
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "size": {"type": "string", "format": "ip-prefix", "nullable": true},
                    "family": {"type": "string", "enum": ["IPv4", "IPv6"], "default": ""},
                    "first": {
                        "anyOf": [{"$ref": "#/components/schemas/Part"}, {"enum": [null], "nullable": true}],
                        "description": "The first part.",
                    },
                },
            }),
        );
        d.insert(
            "Part".into(),
            json!({"type": "object", "properties": {"name": {"type": "string"}}}),
        );
        d.insert(
            "WidgetList".into(),
            json!({
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Widget"}},
                },
                "required": ["apiVersion", "kind", "items"],
            }),
        );
        KindSchemas {
            kind: "Widget".into(),
            list: "WidgetList".into(),
            definitions: d,
        }
    }

    fn resource(schemas: &KindSchemas) -> Resource<'_> {
        Resource {
            group: "example.ironcore.dev",
            version: "v1alpha1",
            kind: "Widget",
            plural: "widgets",
            namespaced: true,
            has_status: true,
            schemas,
        }
    }

    fn v3() -> Value {
        let s = widget();
        let meta = meta();
        let opts = Options {
            title: "test",
            version: "v0",
            patch_types: PATCH_TYPES,
            meta: &meta,
        };
        v3_document("example.ironcore.dev", "v1alpha1", &[resource(&s)], &opts).unwrap()
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method != "parameters" {
                    out.push((path.clone(), method.clone(), op.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn schema_names_are_reversed_domain_and_refs_follow() {
        let doc = v3();
        let schemas = &doc["components"]["schemas"];
        let spec = &schemas["dev.ironcore.example.v1alpha1.WidgetSpec"];
        assert_eq!(
            spec["properties"]["parts"]["items"]["$ref"],
            "#/components/schemas/dev.ironcore.example.v1alpha1.Part"
        );
        assert!(schemas.get("Widget").is_none());
        assert!(
            schemas
                .get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
                .is_some()
        );
    }

    #[test]
    fn list_map_field_keeps_its_extensions_and_plain_lists_become_atomic() {
        let doc = v3();
        let spec = &doc["components"]["schemas"]["dev.ironcore.example.v1alpha1.WidgetSpec"];
        let parts = &spec["properties"]["parts"];
        assert_eq!(parts["x-kubernetes-list-type"], "map");
        assert_eq!(parts["x-kubernetes-list-map-keys"], json!(["name"]));
        assert_eq!(parts["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(parts["x-kubernetes-patch-strategy"], "merge,retainKeys");
        assert_eq!(
            spec["properties"]["tags"]["x-kubernetes-list-type"],
            "atomic"
        );
        assert!(spec["properties"]["family"].get("default").is_none());
        assert_eq!(
            spec["properties"]["first"],
            json!({
                "allOf": [{"$ref": "#/components/schemas/dev.ironcore.example.v1alpha1.Part"}],
                "description": "The first part.",
                "nullable": true,
            })
        );
        let meta = &doc["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"];
        assert_eq!(
            meta["properties"]["finalizers"]["x-kubernetes-list-type"],
            "set"
        );
    }

    #[test]
    fn kind_and_list_schemas_carry_gvk_lists_and_do_not_require_type_meta() {
        let doc = v3();
        let schemas = &doc["components"]["schemas"];
        let kind = &schemas["dev.ironcore.example.v1alpha1.Widget"];
        assert_eq!(
            kind["x-kubernetes-group-version-kind"],
            json!([{"group": "example.ironcore.dev", "kind": "Widget", "version": "v1alpha1"}])
        );
        assert!(kind.get("required").is_none());
        let list = &schemas["dev.ironcore.example.v1alpha1.WidgetList"];
        assert_eq!(
            list["x-kubernetes-group-version-kind"][0]["kind"],
            "WidgetList"
        );
        assert_eq!(list["required"], json!(["items"]));
    }

    #[test]
    fn every_operation_has_gvk_and_action() {
        let doc = v3();
        let ops = operations(&doc);
        // list, create, deletecollection, get, put, patch, delete, status get/put/patch,
        // list for all namespaces.
        assert_eq!(ops.len(), 11);
        let mut ids = std::collections::BTreeSet::new();
        for (path, method, op) in &ops {
            assert_eq!(
                op["x-kubernetes-group-version-kind"],
                json!({"group": "example.ironcore.dev", "version": "v1alpha1", "kind": "Widget"}),
                "{method} {path}"
            );
            let action = op["x-kubernetes-action"].as_str().unwrap();
            assert!(
                [
                    "get",
                    "list",
                    "post",
                    "put",
                    "patch",
                    "delete",
                    "deletecollection"
                ]
                .contains(&action),
                "{action}"
            );
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()));
        }
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/apis/example.ironcore.dev/v1alpha1/namespaces/{namespace}/widgets",
            "/apis/example.ironcore.dev/v1alpha1/namespaces/{namespace}/widgets/{name}",
            "/apis/example.ironcore.dev/v1alpha1/namespaces/{namespace}/widgets/{name}/status",
            "/apis/example.ironcore.dev/v1alpha1/widgets",
        ] {
            assert!(paths.contains_key(p), "{p}");
        }
    }

    #[test]
    fn patch_lists_field_validation_and_exactly_the_accepted_content_types() {
        let doc = v3();
        let op = &doc["paths"]["/apis/example.ironcore.dev/v1alpha1/namespaces/{namespace}/widgets/{name}"]
            ["patch"];
        let names: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for n in ["dryRun", "fieldManager", "fieldValidation", "force"] {
            assert!(names.contains(&n), "{n}");
        }
        let content: Vec<&String> = op["requestBody"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(content, PATCH_TYPES);
        assert_eq!(
            op["requestBody"]["content"]["application/merge-patch+json"]["schema"]["$ref"],
            format!("{V3_REF_PREFIX}{PATCH}")
        );
        let list = &doc["paths"]["/apis/example.ironcore.dev/v1alpha1/namespaces/{namespace}/widgets"]
            ["get"];
        let names: Vec<&str> = list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for n in [
            "labelSelector",
            "fieldSelector",
            "limit",
            "continue",
            "resourceVersion",
            "resourceVersionMatch",
            "watch",
            "timeoutSeconds",
            "allowWatchBookmarks",
            "sendInitialEvents",
        ] {
            assert!(names.contains(&n), "{n}");
        }
    }

    #[test]
    fn v2_uses_definitions_refs_without_all_of_or_nullable() {
        let s = widget();
        let meta = meta();
        let opts = Options {
            title: "test",
            version: "v0",
            patch_types: PATCH_TYPES,
            meta: &meta,
        };
        let doc = v2_document(&[resource(&s)], &opts).unwrap();
        assert_eq!(doc["swagger"], "2.0");
        let defs = &doc["definitions"];
        let kind = &defs["dev.ironcore.example.v1alpha1.Widget"];
        assert_eq!(kind["x-kubernetes-group-version-kind"][0]["kind"], "Widget");
        assert_eq!(
            kind["properties"]["spec"],
            json!({"$ref": "#/definitions/dev.ironcore.example.v1alpha1.WidgetSpec", "description": "The desired state."})
        );
        let spec = &defs["dev.ironcore.example.v1alpha1.WidgetSpec"];
        assert!(spec["properties"]["size"].get("nullable").is_none());
        let text = doc.to_string();
        assert!(!text.contains("#/components/schemas/"));
        let op = &doc["paths"]["/apis/example.ironcore.dev/v1alpha1/namespaces/{namespace}/widgets/{name}"]
            ["patch"];
        assert_eq!(op["consumes"], json!(PATCH_TYPES));
        assert_eq!(op["x-kubernetes-action"], "patch");
    }

    #[test]
    fn conflicting_and_missing_schemas_are_errors() {
        let a = widget();
        let mut b = widget();
        b.definitions
            .insert("Part".into(), json!({"type": "string"}));
        let meta = meta();
        let opts = Options {
            title: "t",
            version: "v",
            patch_types: PATCH_TYPES,
            meta: &meta,
        };
        let err = v3_document(
            "example.ironcore.dev",
            "v1alpha1",
            &[resource(&a), resource(&b)],
            &opts,
        )
        .unwrap_err();
        assert_eq!(
            err,
            OpenApiError::Conflict("dev.ironcore.example.v1alpha1.Part".into())
        );
        let mut c = widget();
        c.definitions.remove("Part");
        let err =
            v3_document("example.ironcore.dev", "v1alpha1", &[resource(&c)], &opts).unwrap_err();
        assert_eq!(
            err,
            OpenApiError::Undefined("dev.ironcore.example.v1alpha1.Part".into())
        );
    }

    #[test]
    fn root_points_at_hashed_documents() {
        let root = v3_root(&[("g.io".into(), "v1".into(), "ABC".into())]);
        assert_eq!(
            root,
            json!({"paths": {"apis/g.io/v1": {"serverRelativeURL": "/openapi/v3/apis/g.io/v1?hash=ABC"}}})
        );
    }

    #[test]
    fn hash_is_stable_upper_hex_and_content_sensitive() {
        let a = content_hash(b"{}");
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert_eq!(a, content_hash(b"{}"));
        assert_ne!(a, content_hash(b"{ }"));
        assert_eq!(
            schema_prefix("core.apinet.ironcore.dev", "v1alpha1"),
            "dev.ironcore.apinet.core.v1alpha1"
        );
    }
}
