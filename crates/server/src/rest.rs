//! The REST verbs on a resource: get, list, create, update, patch, delete, deletecollection.
//!
//! Everything here is kind-agnostic: objects are JSON, and per-kind behaviour comes from the
//! [`KindStrategy`]. Status/spec separation and `generation` follow one convention for every
//! kind with a status (DESIGN.md §3).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::Response;
use ironcore_apimachinery::openapi::KindSchemas;
use ironcore_apimachinery::ssa::{self, ApplyError, ResetFields, WriteContext, set_managed_fields};
use ironcore_apimachinery::strategic::{self, JsonSchemaCursor, NoSchema};
use ironcore_apimachinery::{FieldError, FieldErrors, Path};
use ironcore_storage::{Condition, KeyValue, ListOptions, StoreError, TxnOp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value, json};

use crate::allocator::{AllocContext, CommitError, commit_allocating, delete_op, update_op};
use crate::errors::ApiError;
use crate::filter::Filter;
use crate::gate::{AdmissionHook, CreateRequest};
use crate::negotiate::Representation;
use crate::object::{
    copy_status, finalizers, generation, meta_str, metadata_mut, set_meta, spec_content,
};
use crate::objects::Objects;
use crate::registry::{Admission, KindStrategy, ResourceInfo};
use crate::request::{Query, ResourcePath};
use crate::response::{self, Body};
use crate::table;

/// Largest request body accepted (kube-apiserver's limit).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;
/// Attempts of a read-modify-write that races with other writers.
const MAX_RETRIES: usize = 16;

/// Everything a verb handler needs about one request.
pub struct Ctx<'a> {
    /// The resource's strategy.
    pub strategy: &'a Arc<dyn KindStrategy>,
    /// Object storage.
    pub objects: &'a Objects,
    /// The parsed path.
    pub path: &'a ResourcePath,
    /// Query parameters.
    pub query: &'a Query,
    /// The negotiated response representation.
    pub rep: Representation,
    /// The request's `Content-Type`.
    pub content_type: &'a str,
    /// The request body.
    pub body: &'a Bytes,
    /// The kind's schemas (strategic merge patch, server-side apply), when it has them.
    pub schemas: Option<&'a KindSchemas>,
    /// The request's `User-Agent` (the default field manager).
    pub user_agent: &'a str,
    /// Admission hooks every create passes (e.g. namespace lifecycle), POST or apply alike.
    pub admission: &'a [Arc<dyn AdmissionHook>],
}

impl Ctx<'_> {
    fn info(&self) -> &ResourceInfo {
        self.strategy.info()
    }

    fn namespace(&self) -> Option<&str> {
        if self.info().namespaced {
            self.path.namespace.as_deref()
        } else {
            None
        }
    }

    fn name(&self) -> &str {
        self.path.name.as_deref().unwrap_or("")
    }

    fn key(&self, name: &str) -> String {
        self.objects.key(self.info(), self.namespace(), name)
    }

    fn dry_run(&self) -> Result<bool, ApiError> {
        match self.query.non_empty("dryRun") {
            None => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::invalid(
                "",
                "",
                "",
                &vec![FieldError::not_supported(
                    &Path::new("dryRun"),
                    other,
                    &["All"],
                )],
            )),
        }
    }

    fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(&self.info().group, &self.info().plural, name)
    }

    fn conflict(&self, name: &str) -> ApiError {
        ApiError::conflict(&self.info().group, &self.info().plural, name)
    }

    fn invalid(&self, name: &str, errs: &FieldErrors) -> ApiError {
        ApiError::invalid(&self.info().group, &self.info().kind, name, errs)
    }

    fn respond(&self, code: u16, obj: &Value, warnings: &[String]) -> Response<Body> {
        let out = match self.rep {
            Representation::Table => table::object_table(
                self.strategy.as_ref(),
                std::slice::from_ref(obj),
                None,
                self.query,
            ),
            Representation::PartialMetadata => table::partial_metadata(obj),
            _ => obj.clone(),
        };
        response::object(code, &out, self.rep, warnings)
    }
}

/// Longest `fieldManager` kube-apiserver accepts.
const MAX_FIELD_MANAGER_LENGTH: usize = 128;

impl Ctx<'_> {
    /// The field manager: `fieldManager`, or the User-Agent's first token for non-apply writes.
    fn field_manager(&self) -> Result<String, ApiError> {
        let manager = match self.query.non_empty("fieldManager") {
            Some(m) => m.to_owned(),
            None => self.user_agent.split('/').next().unwrap_or("").to_owned(),
        };
        if manager.len() > MAX_FIELD_MANAGER_LENGTH || manager.chars().any(|c| c.is_control()) {
            return Err(ApiError::invalid(
                "",
                "",
                "",
                &vec![FieldError::invalid(
                    &Path::new("fieldManager"),
                    manager.as_str(),
                    "must be no more than 128 characters and consist of printable characters",
                )],
            ));
        }
        Ok(manager)
    }

    /// The managed-fields context of a write by `manager` through this request's endpoint.
    fn write_context<'m>(&'m self, manager: &'m str, api_version: &'m str) -> WriteContext<'m> {
        let status = self.path.subresource.as_deref() == Some("status");
        WriteContext {
            manager,
            api_version,
            subresource: if status { "status" } else { "" },
            schema: self
                .schemas
                .and_then(|s| JsonSchemaCursor::at_definition(&s.definitions, &s.kind)),
            reset: if status {
                ResetFields::status_subresource()
            } else {
                ResetFields::main_resource()
            },
            now: Time(
                jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
                    .unwrap_or_else(|_| jiff::Timestamp::now()),
            ),
        }
    }
}

/// Who owns the fields of an object about to be written.
enum Ownership {
    /// A non-apply write: record an `Update` entry for the request's manager.
    Update,
    /// A server-side apply: the object already carries the managed fields apply computed.
    Applied,
}

/// How unknown fields are treated (`fieldValidation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

fn field_validation(q: &Query) -> Result<FieldValidation, ApiError> {
    match q.non_empty("fieldValidation") {
        None | Some("Warn") => Ok(FieldValidation::Warn),
        Some("Ignore") => Ok(FieldValidation::Ignore),
        Some("Strict") => Ok(FieldValidation::Strict),
        Some(other) => Err(ApiError::bad_request(format!(
            "fieldValidation parameter unsupported: {other}"
        ))),
    }
}

/// Decodes a JSON or YAML request body into an object, with the paths of duplicate keys.
pub fn decode_body(content_type: &str, body: &[u8]) -> Result<(Value, Vec<String>), ApiError> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.ends_with("yaml") {
        let v: Value = serde_saphyr::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        Ok((v, Vec::new()))
    } else {
        crate::dupes::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding body: {e}")))
    }
}

/// Applies the field-validation policy to unknown and duplicate fields: 400 or warnings.
fn check_fields(
    policy: FieldValidation,
    unknown: &[String],
    duplicates: &[String],
) -> Result<Vec<String>, ApiError> {
    let mut problems: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    problems.extend(
        duplicates
            .iter()
            .map(|f| format!("duplicate field \"{f}\"")),
    );
    match policy {
        FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(problems),
        FieldValidation::Strict if problems.is_empty() => Ok(Vec::new()),
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            problems.join(", ")
        ))),
    }
}

/// Checks the body's apiVersion/kind against the resource and fills the namespace.
fn check_type_and_namespace(ctx: &Ctx<'_>, obj: &mut Value) -> Result<(), ApiError> {
    let info = ctx.info();
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    let expected = info.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v == expected => {}
        None | Some("") => {
            obj["apiVersion"] = Value::from(expected.clone());
        }
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected})"
            )));
        }
    }
    match obj.get("kind").and_then(Value::as_str) {
        Some(k) if k == info.kind => {}
        None | Some("") => {
            obj["kind"] = Value::from(info.kind.clone());
        }
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                info.kind
            )));
        }
    }
    if info.namespaced {
        let url_ns = ctx.path.namespace.as_deref().unwrap_or("");
        match meta_str(obj, "namespace") {
            None => set_meta(obj, "namespace", Some(Value::from(url_ns))),
            Some(ns) if ns == url_ns => {}
            Some(_) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
    } else {
        set_meta(obj, "namespace", None);
    }
    Ok(())
}

const NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generate_name(prefix: &str) -> String {
    let base: String = prefix.chars().take(58).collect();
    let random = uuid::Uuid::new_v4();
    let suffix: String = random.as_bytes()[..5]
        .iter()
        .map(|b| NAME_CHARS[*b as usize % NAME_CHARS.len()] as char)
        .collect();
    format!("{base}{suffix}")
}

/// The current time as kube-apiserver writes timestamps (RFC 3339, seconds, UTC).
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

/// The 400 for a name that cannot be a path segment (`.`, `..`, containing `/` or `%`).
pub fn name_errors(name: &str) -> Option<ApiError> {
    let msgs = ironcore_apimachinery::names::is_valid_path_segment_name(name);
    (!msgs.is_empty()).then(|| {
        ApiError::bad_request(format!(
            "Name parameter invalid: {:?}: {}",
            name,
            msgs.join(", ")
        ))
    })
}

/// POST on a collection.
pub async fn create(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let (obj, dupes) = decode_body(ctx.content_type, ctx.body)?;
    create_object(ctx, obj, &dupes, Ownership::Update).await
}

/// Creates `obj` (a decoded create body, or the result of an apply to a missing object).
async fn create_object(
    ctx: &Ctx<'_>,
    mut obj: Value,
    dupes: &[String],
    ownership: Ownership,
) -> Result<Response<Body>, ApiError> {
    let policy = field_validation(ctx.query)?;
    let dry_run = ctx.dry_run()?;
    let manager = ctx.field_manager()?;
    if !ctx.admission.is_empty() {
        let body = serde_json::to_vec(&obj).unwrap_or_default();
        let request = CreateRequest {
            info: ctx.info(),
            namespace: ctx.path.namespace.as_deref(),
            content_type: "application/json",
            body: &body,
        };
        for hook in ctx.admission {
            hook.admit_create(&request).await?;
        }
    }
    check_type_and_namespace(ctx, &mut obj)?;
    let info = ctx.info().clone();
    let applied_fields = match ownership {
        Ownership::Applied => obj
            .get("metadata")
            .and_then(|m| m.get("managedFields"))
            .cloned(),
        Ownership::Update => None,
    };
    {
        let meta = metadata_mut(&mut obj);
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "resourceVersion",
            "managedFields",
        ] {
            meta.remove(f);
        }
        meta.insert("uid".into(), Value::from(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), Value::from(now_rfc3339()));
        meta.insert("generation".into(), Value::from(1));
    }
    if info.has_status
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    let generate = meta_str(&obj, "name").is_none() && meta_str(&obj, "generateName").is_some();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut candidate = obj.clone();
        if generate {
            let prefix = meta_str(&candidate, "generateName")
                .unwrap_or("")
                .to_owned();
            set_meta(
                &mut candidate,
                "name",
                Some(Value::from(generate_name(&prefix))),
            );
        }
        let name = meta_str(&candidate, "name").unwrap_or("").to_owned();
        if let Some(e) = name_errors(&name) {
            return Err(e);
        }
        let (mut admitted, unknown) = match ctx.strategy.admit_create(candidate) {
            Admission::Admitted { object, unknown } => (object, unknown),
            Admission::Malformed(m) => return Err(ApiError::bad_request(m)),
            Admission::Invalid(errs) => return Err(ctx.invalid(&name, &errs)),
        };
        let warnings = check_fields(policy, &unknown, dupes)?;
        match &applied_fields {
            Some(fields) => set_meta(&mut admitted, "managedFields", Some(fields.clone())),
            None => {
                let api_version = info.api_version();
                let entries =
                    ssa::update(None, &admitted, &ctx.write_context(&manager, &api_version));
                set_managed_fields(&mut admitted, &entries);
            }
        }
        let key = ctx.key(&name);
        let (result, mut out) = match ctx.strategy.allocator() {
            None if dry_run => {
                if ctx.objects.store().get(&key, None).await?.kv.is_some() {
                    return Err(ApiError::already_exists(
                        &info.group,
                        &info.plural,
                        &name,
                        false,
                    ));
                }
                return Ok(ctx.respond(201, &admitted, &warnings));
            }
            None => {
                let r = match ctx
                    .objects
                    .store()
                    .create(&key, Objects::encode(&admitted))
                    .await
                {
                    Ok(w) => Ok(w.revision),
                    Err(StoreError::AlreadyExists { current, .. }) => {
                        Err(CommitError::AlreadyExists(Objects::decode(&current).ok()))
                    }
                    Err(e) => Err(CommitError::Api(e.into())),
                };
                (r, admitted)
            }
            Some(alloc) => {
                let cx = AllocContext {
                    objects: ctx.objects,
                    dry_run,
                };
                if dry_run {
                    if ctx.objects.store().get(&key, None).await?.kv.is_some() {
                        return Err(ApiError::already_exists(
                            &info.group,
                            &info.plural,
                            &name,
                            false,
                        ));
                    }
                    let mut out = admitted;
                    alloc.on_create(&cx, &mut out).await?;
                    return Ok(ctx.respond(201, &out, &warnings));
                }
                let mut out = admitted.clone();
                let r = commit_allocating(ctx.objects, &key, || {
                    let mut o = admitted.clone();
                    let (cx, key) = (&cx, &key);
                    async move {
                        let mut ops = alloc.on_create(cx, &mut o).await?;
                        let put = TxnOp::Put {
                            key: key.clone(),
                            value: Objects::encode(&o),
                            condition: Condition::Absent,
                        };
                        ops.insert(0, put);
                        Ok((ops, o))
                    }
                })
                .await
                .map(|(rev, o)| {
                    out = o;
                    rev
                });
                (r, out)
            }
        };
        match result {
            Ok(revision) => {
                set_meta(
                    &mut out,
                    "resourceVersion",
                    Some(Value::from(revision.to_string())),
                );
                return Ok(ctx.respond(201, &out, &warnings));
            }
            Err(CommitError::AlreadyExists(current)) => {
                if generate && attempts < 8 {
                    continue;
                }
                let deleting = current.is_some_and(|c| meta_str(&c, "deletionTimestamp").is_some());
                return Err(ApiError::already_exists(
                    &info.group,
                    &info.plural,
                    &name,
                    deleting,
                ));
            }
            Err(CommitError::Raced) => return Err(ctx.conflict(&name)),
            Err(CommitError::Api(e)) => return Err(e),
        }
    }
}

/// Parses a `resourceVersion` parameter.
fn parse_rv(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {s:?}")))
}

/// GET on one object (main resource or `/status`).
pub async fn get(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let name = ctx.name();
    let at_least = match ctx.query.non_empty("resourceVersion") {
        None | Some("0") => None,
        Some(rv) => Some(parse_rv(rv)?),
    };
    let got = ctx.objects.store().get(&ctx.key(name), None).await?;
    if let Some(min) = at_least
        && got.revision < min
    {
        return Err(ApiError::too_large_resource_version(min, got.revision));
    }
    let kv = got.kv.ok_or_else(|| ctx.not_found(name))?;
    if ctx.rep == Representation::Json
        && let Some(bytes) = Objects::splice_resource_version(&kv.value, kv.mod_revision)
    {
        return Ok(response::raw(200, "application/json", bytes));
    }
    let obj = Objects::decode(&kv)?;
    Ok(ctx.respond(200, &obj, &[]))
}

/// A continue token: the snapshot revision and the last key returned.
fn encode_continue(rv: i64, last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({"v": "meta.k8s.io/v1", "rv": rv, "start": last_key}).to_string())
}

fn decode_continue(token: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v.get("rv").and_then(Value::as_i64).ok_or_else(bad)?;
    let start = v
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(bad)?
        .to_owned();
    Ok((rv, start))
}

/// The objects of a list, at one revision.
pub struct Listed {
    /// Matching objects as stored.
    pub items: Vec<KeyValue>,
    /// The snapshot revision.
    pub revision: i64,
    /// Continue token, when more remain.
    pub continue_token: Option<String>,
    /// Remaining count (only when no selector filtered).
    pub remaining: Option<i64>,
}

impl Listed {
    /// The items decoded, with their `resourceVersion`.
    pub fn objects(&self) -> Result<Vec<Value>, ApiError> {
        self.items.iter().map(Objects::decode).collect()
    }
}

/// A JSON list response spliced from stored bytes, without decoding every object.
fn json_list(info: &ResourceInfo, meta: &Value, items: &[KeyValue]) -> Response<Body> {
    let mut out =
        Vec::with_capacity(items.iter().map(|kv| kv.value.len() + 32).sum::<usize>() + 256);
    out.extend_from_slice(b"{\"apiVersion\":");
    out.extend_from_slice(Value::from(info.api_version()).to_string().as_bytes());
    out.extend_from_slice(b",\"kind\":");
    out.extend_from_slice(
        Value::from(format!("{}List", info.kind))
            .to_string()
            .as_bytes(),
    );
    out.extend_from_slice(b",\"metadata\":");
    out.extend_from_slice(meta.to_string().as_bytes());
    out.extend_from_slice(b",\"items\":[");
    for (i, kv) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match Objects::splice_resource_version(&kv.value, kv.mod_revision) {
            Some(bytes) => out.extend_from_slice(&bytes),
            None => match Objects::decode(kv) {
                Ok(v) => out.extend_from_slice(v.to_string().as_bytes()),
                Err(_) => out.extend_from_slice(b"null"),
            },
        }
    }
    out.extend_from_slice(b"]}");
    response::raw(200, "application/json", out)
}

/// Reads a filtered page of a collection following the list `resourceVersion` rules.
pub async fn list_objects(ctx: &Ctx<'_>, filter: &Filter) -> Result<Listed, ApiError> {
    let q = ctx.query;
    let limit = match q.non_empty("limit") {
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?,
        None => 0,
    };
    let limit = (limit > 0).then_some(limit as usize);
    let rv = q.non_empty("resourceVersion");
    let rv_match = q.non_empty("resourceVersionMatch");
    let cont = q.non_empty("continue");
    let list_opts_invalid = |detail: &str, field: &str, value: &str| {
        ApiError::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            &vec![FieldError::forbidden(&Path::new(field), detail.to_owned())]
                .into_iter()
                .map(|mut e| {
                    if !value.is_empty() {
                        e.bad_value = Some(Value::from(value));
                    }
                    e
                })
                .collect(),
        )
    };
    if let Some(m) = rv_match {
        if !matches!(m, "NotOlderThan" | "Exact") {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                &vec![FieldError::not_supported(
                    &Path::new("resourceVersionMatch"),
                    m,
                    &["Exact", "NotOlderThan", ""],
                )],
            ));
        }
        if cont.is_some() {
            return Err(list_opts_invalid(
                "resourceVersionMatch is forbidden when continue is provided",
                "resourceVersionMatch",
                "",
            ));
        }
        if rv.is_none() {
            return Err(list_opts_invalid(
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
                "resourceVersionMatch",
                "",
            ));
        }
        if m == "Exact" && rv == Some("0") {
            return Err(list_opts_invalid(
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                "resourceVersionMatch",
                "",
            ));
        }
    }
    let prefix = ctx.objects.collection_prefix(ctx.info(), ctx.namespace());
    let store = ctx.objects.store();
    let (mut start_after, mut revision) = match cont {
        Some(token) => {
            if rv.is_some_and(|r| r != "0") {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let (rv, start) = decode_continue(token)?;
            (Some(format!("{prefix}{start}")), Some(rv))
        }
        None => {
            let exact = match (rv, rv_match) {
                (Some(r), Some("Exact")) => Some(parse_rv(r)?),
                (Some(r), None) if r != "0" && limit.is_some() => Some(parse_rv(r)?),
                (Some(r), _) if r != "0" => {
                    let min = parse_rv(r)?;
                    let current = store.current_revision().await?;
                    if current < min {
                        return Err(ApiError::too_large_resource_version(min, current));
                    }
                    None
                }
                _ => None,
            };
            (None, exact)
        }
    };
    let mut items = Vec::new();
    let mut remaining = None;
    let mut continue_token = None;
    loop {
        let want = limit.map(|l| l - items.len());
        let page = store
            .list(&prefix, ListOptions { start_after: start_after.clone(), limit: want, revision })
            .await
            .map_err(|e| match (e, cont.is_some()) {
                (StoreError::Compacted { .. }, true) => ApiError::expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."),
                (StoreError::Compacted { requested, compacted }, false) => ApiError::expired(format!("too old resource version: {requested} ({compacted})")),
                (e, _) => e.into(),
            })?;
        revision = Some(page.revision);
        let last = page.items.last().map(|kv| kv.key.clone());
        for kv in &page.items {
            // Only selectors need the decoded object; the JSON list is spliced from raw bytes.
            if !filter.has_selectors()
                || filter.matches(ctx.strategy.as_ref(), &Objects::decode(kv)?)
            {
                items.push(kv.clone());
            }
        }
        let full = limit.is_some_and(|l| items.len() >= l);
        if !page.more {
            break;
        }
        if full || limit.is_none() {
            if let Some(last) = &last {
                continue_token = Some(encode_continue(
                    page.revision,
                    last.strip_prefix(&prefix).unwrap_or(last),
                ));
                if !filter.has_selectors() {
                    remaining = Some(page.remaining);
                }
            }
            break;
        }
        start_after = last;
    }
    Ok(Listed {
        items,
        revision: revision.unwrap_or(0),
        continue_token,
        remaining,
    })
}

/// GET on a collection (not a watch).
pub async fn list(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    if ctx.query.get("sendInitialEvents").is_some() {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            &vec![FieldError::forbidden(
                &Path::new("sendInitialEvents"),
                "sendInitialEvents is forbidden for list",
            )],
        ));
    }
    let filter = Filter::new(
        ctx.strategy.as_ref(),
        ctx.namespace(),
        ctx.query.get("labelSelector"),
        ctx.query.get("fieldSelector"),
    )?;
    let listed = list_objects(ctx, &filter).await?;
    let info = ctx.info();
    let mut meta = Map::new();
    meta.insert(
        "resourceVersion".into(),
        Value::from(listed.revision.to_string()),
    );
    if let Some(c) = &listed.continue_token {
        meta.insert("continue".into(), Value::from(c.clone()));
    }
    if let Some(r) = listed.remaining {
        meta.insert("remainingItemCount".into(), Value::from(r));
    }
    if ctx.rep == Representation::Json {
        return Ok(json_list(info, &Value::Object(meta), &listed.items));
    }
    let items = listed.objects()?;
    let out = match ctx.rep {
        Representation::Table => table::object_table(
            ctx.strategy.as_ref(),
            &items,
            Some(Value::Object(meta)),
            ctx.query,
        ),
        Representation::PartialMetadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
            "items": items.iter().map(table::partial_metadata).collect::<Vec<_>>(),
        }),
        _ => json!({
            "apiVersion": info.api_version(),
            "kind": format!("{}List", info.kind),
            "metadata": meta,
            "items": items,
        }),
    };
    Ok(response::object(200, &out, ctx.rep, &[]))
}

/// Preconditions carried by a write: the resourceVersion a client based it on.
fn body_rv(obj: &Value) -> Option<i64> {
    meta_str(obj, "resourceVersion").and_then(|s| s.parse().ok())
}

/// Builds the object to store from an update request and the stored object, then writes it.
///
/// `expected_rv` is the client's precondition (409 on mismatch); without it, a race with
/// another writer is retried by the caller.
async fn write_update(
    ctx: &Ctx<'_>,
    mut new: Value,
    old: &Value,
    old_rev: i64,
    dupes: &[String],
    ownership: Ownership,
) -> Result<Response<Body>, WriteError> {
    let manager = ctx.field_manager()?;
    let info = ctx.info().clone();
    let name = ctx.name().to_owned();
    let policy = field_validation(ctx.query)?;
    let dry_run = ctx.dry_run()?;
    let status_write = ctx.path.subresource.as_deref() == Some("status");
    if status_write {
        // Only status is taken from a /status write; spec and metadata stay as stored
        // (managed fields too, unless an apply computed them).
        let mut merged = old.clone();
        copy_status(&mut merged, &new);
        if let Ownership::Applied = ownership {
            let fields = new
                .get("metadata")
                .and_then(|m| m.get("managedFields"))
                .cloned();
            set_meta(&mut merged, "managedFields", fields);
        }
        new = merged;
    } else {
        if info.has_status {
            copy_status(&mut new, old);
        }
        let old_meta = old.get("metadata").cloned().unwrap_or_default();
        let meta = metadata_mut(&mut new);
        for f in ["uid"] {
            if !meta.contains_key(f)
                && let Some(v) = old_meta.get(f)
            {
                meta.insert(f.into(), v.clone());
            }
        }
        for f in [
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_meta.get(f) {
                Some(v) => meta.insert(f.into(), v.clone()),
                None => meta.remove(f),
            };
        }
    }
    let (mut admitted, unknown) = match ctx.strategy.admit_update(new, old) {
        Admission::Admitted { object, unknown } => (object, unknown),
        Admission::Malformed(m) => return Err(ApiError::bad_request(m).into()),
        Admission::Invalid(errs) => return Err(ctx.invalid(&name, &errs).into()),
    };
    let warnings = check_fields(policy, &unknown, dupes)?;
    if let Ownership::Update = ownership {
        let api_version = info.api_version();
        let entries = ssa::update(
            Some(old),
            &admitted,
            &ctx.write_context(&manager, &api_version),
        );
        set_managed_fields(&mut admitted, &entries);
    }
    if meta_str(old, "deletionTimestamp").is_some() {
        let old_f = finalizers(old);
        let added: Vec<String> = finalizers(&admitted)
            .into_iter()
            .filter(|f| !old_f.contains(f))
            .collect();
        if !added.is_empty() {
            let errs = vec![FieldError::forbidden(
                &Path::new("metadata").child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                ),
            )];
            return Err(ctx.invalid(&name, &errs).into());
        }
    }
    if spec_content(&admitted) != spec_content(old) {
        set_meta(
            &mut admitted,
            "generation",
            Some(Value::from(generation(old) + 1)),
        );
    }
    set_meta(&mut admitted, "resourceVersion", None);
    let mut old_cmp = old.clone();
    set_meta(&mut old_cmp, "resourceVersion", None);
    if admitted == old_cmp {
        return Ok(ctx.respond(200, old, &warnings));
    }
    if dry_run {
        set_meta(
            &mut admitted,
            "resourceVersion",
            Some(Value::from(old_rev.to_string())),
        );
        return Ok(ctx.respond(200, &admitted, &warnings));
    }
    let key = ctx.key(&name);
    let store = ctx.objects.store();
    let deleting = meta_str(&admitted, "deletionTimestamp").is_some();
    if let Some(alloc) = ctx.strategy.allocator() {
        let cx = AllocContext {
            objects: ctx.objects,
            dry_run: false,
        };
        let removing = deleting && finalizers(&admitted).is_empty();
        let mut out = admitted.clone();
        let r = commit_allocating(ctx.objects, &key, || {
            let mut o = admitted.clone();
            let (cx, key) = (&cx, &key);
            async move {
                let ops = if removing {
                    let mut ops = alloc.on_delete(cx, old).await?;
                    ops.insert(0, delete_op(key.clone(), old_rev));
                    ops
                } else {
                    let mut ops = alloc.on_update(cx, &mut o, old).await?;
                    ops.insert(0, update_op(key.clone(), &o, old_rev));
                    ops
                };
                Ok((ops, o))
            }
        })
        .await
        .map(|(rev, o)| {
            out = o;
            rev
        });
        return match r {
            Ok(revision) => {
                set_meta(
                    &mut out,
                    "resourceVersion",
                    Some(Value::from(revision.to_string())),
                );
                Ok(ctx.respond(200, &out, &warnings))
            }
            Err(CommitError::Raced | CommitError::AlreadyExists(_)) => Err(WriteError::Raced),
            Err(CommitError::Api(e)) => Err(e.into()),
        };
    }
    if deleting && finalizers(&admitted).is_empty() {
        return match store.delete(&key, Some(old_rev)).await {
            Ok(d) => {
                set_meta(
                    &mut admitted,
                    "resourceVersion",
                    Some(Value::from(d.revision.to_string())),
                );
                Ok(ctx.respond(200, &admitted, &warnings))
            }
            Err(StoreError::Conflict { .. }) => Err(WriteError::Raced),
            Err(e) => Err(ApiError::from(e).into()),
        };
    }
    match store
        .update(&key, Objects::encode(&admitted), old_rev)
        .await
    {
        Ok(w) => {
            set_meta(
                &mut admitted,
                "resourceVersion",
                Some(Value::from(w.revision.to_string())),
            );
            Ok(ctx.respond(200, &admitted, &warnings))
        }
        Err(StoreError::Conflict { current: None, .. }) => Err(ctx.not_found(&name).into()),
        Err(StoreError::Conflict { .. }) => Err(WriteError::Raced),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// A failed write: an answer for the client, or a lost race to retry.
enum WriteError {
    Api(ApiError),
    Raced,
}

impl From<ApiError> for WriteError {
    fn from(e: ApiError) -> Self {
        WriteError::Api(e)
    }
}

async fn read_current(ctx: &Ctx<'_>) -> Result<(Value, i64), ApiError> {
    let name = ctx.name();
    let got = ctx.objects.store().get(&ctx.key(name), None).await?;
    let kv = got.kv.ok_or_else(|| ctx.not_found(name))?;
    Ok((Objects::decode(&kv)?, kv.mod_revision))
}

/// PUT on one object (main resource or `/status`).
pub async fn update(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let (mut obj, dupes) = decode_body(ctx.content_type, ctx.body)?;
    check_type_and_namespace(ctx, &mut obj)?;
    let name = ctx.name();
    match meta_str(&obj, "name") {
        Some(n) if n == name => {}
        None => set_meta(&mut obj, "name", Some(Value::from(name))),
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
    }
    let Some(expected) = body_rv(&obj) else {
        let (current, _) = read_current(ctx).await?;
        let _ = current;
        let errs = vec![FieldError::invalid(
            &Path::new("metadata").child("resourceVersion"),
            "",
            "must be specified for an update",
        )];
        return Err(ctx.invalid(name, &errs));
    };
    let (current, rev) = read_current(ctx).await?;
    if expected != rev {
        return Err(ctx.conflict(name));
    }
    match write_update(ctx, obj, &current, rev, &dupes, Ownership::Update).await {
        Ok(r) => Ok(r),
        Err(WriteError::Api(e)) => Err(e),
        Err(WriteError::Raced) => Err(ctx.conflict(name)),
    }
}

/// The strategic merge patch content type.
const STRATEGIC: &str = "application/strategic-merge-patch+json";

/// The server-side apply content type.
const APPLY: &str = "application/apply-patch+yaml";

/// PATCH content types this server applies.
pub const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    STRATEGIC,
    APPLY,
];

/// Server-side apply (`application/apply-patch+yaml`): merges the intent with field ownership,
/// creating the object when it does not exist.
async fn apply_patch(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let Some(manager) = ctx.query.non_empty("fieldManager") else {
        return Err(ApiError::invalid(
            "",
            "",
            "",
            &vec![FieldError::required(
                &Path::new("fieldManager"),
                "is required for apply patch",
            )],
        ));
    };
    let manager = manager.to_owned();
    ctx.field_manager()?;
    let applied: Value = serde_saphyr::from_slice(ctx.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    let force = ctx.query.flag("force");
    let info = ctx.info().clone();
    let api_version = info.api_version();
    let name = ctx.name().to_owned();
    if meta_str(&applied, "name").is_some_and(|n| n != name) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            meta_str(&applied, "name").unwrap_or("")
        )));
    }
    for _ in 0..MAX_RETRIES {
        let got = ctx.objects.store().get(&ctx.key(&name), None).await?;
        let current = got.kv.as_ref().map(Objects::decode).transpose()?;
        if current.is_none() && ctx.path.subresource.is_some() {
            return Err(ctx.not_found(&name));
        }
        if let (Some(want), Some(kv)) = (meta_str(&applied, "resourceVersion"), &got.kv)
            && want != kv.mod_revision.to_string()
        {
            return Err(ctx.conflict(&name));
        }
        let wctx = ctx.write_context(&manager, &api_version);
        let result = ssa::apply(current.as_ref(), &applied, force, &wctx).map_err(|e| match e {
            ApplyError::Conflicts(c) => {
                let status = serde_json::to_value(c.status()).unwrap_or_default();
                ApiError::from_status(409, "Conflict", status)
            }
            ApplyError::Invalid(m) => ApiError::invalid(
                &info.group,
                &info.kind,
                &name,
                &vec![FieldError::invalid(
                    &Path::new(""),
                    "",
                    format!("failed to create typed patch object: {m}"),
                )],
            ),
            other => ApiError::bad_request(other.to_string()),
        })?;
        let (Some(current), Some(kv)) = (current, got.kv) else {
            let mut obj = result.object;
            set_meta(&mut obj, "name", Some(Value::from(name.clone())));
            return create_object(ctx, obj, &[], Ownership::Applied).await;
        };
        if !result.changed {
            return Ok(ctx.respond(200, &current, &[]));
        }
        match write_update(
            ctx,
            result.object,
            &current,
            kv.mod_revision,
            &[],
            Ownership::Applied,
        )
        .await
        {
            Ok(r) => return Ok(r),
            Err(WriteError::Api(e)) => return Err(e),
            Err(WriteError::Raced) => continue,
        }
    }
    Err(ctx.conflict(&name))
}

/// Applies a strategic merge patch using the merge keys the kind's schema declares.
fn strategic_patch(ctx: &Ctx<'_>, current: &Value, patch: &Value) -> Result<Value, ApiError> {
    let cursor = ctx
        .schemas
        .and_then(|s| JsonSchemaCursor::at_definition(&s.definitions, &s.kind));
    let result = match cursor {
        Some(c) => strategic::apply(current, patch, &c),
        None => strategic::apply(current, patch, &NoSchema),
    };
    result.map_err(|e| ApiError::bad_request(e.to_string()))
}

/// Applies a JSON (RFC 6902) patch with kube-apiserver's leniency: a `test` for `null`
/// succeeds against a missing member.
fn apply_json_patch(doc: &mut Value, ops: &[Value]) -> Result<(), ApiError> {
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(ApiError::invalid(
            "",
            "",
            "",
            &vec![FieldError::too_many(
                &Path::new("patch"),
                ops.len(),
                MAX_JSON_PATCH_OPERATIONS,
            )],
        ));
    }
    let rejected = |e: String| {
        ApiError::invalid(
            "",
            "",
            "",
            &vec![FieldError::invalid(&Path::new(""), "", e.clone())],
        )
        .with_message(format!(
            "the server rejected our request due to an error in our request: {e}"
        ))
    };
    let mut copied = 0usize;
    // One operation at a time (the document is a copy, so a failure leaves nothing behind):
    // later `test`s see earlier changes, and copies are bounded as kube-apiserver bounds them.
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        if kind == "test"
            && op.get("value").is_some_and(Value::is_null)
            && doc.pointer(path).is_none()
        {
            continue;
        }
        if kind == "copy" {
            let from = op.get("from").and_then(Value::as_str).unwrap_or("");
            copied += doc.pointer(from).map_or(0, |v| v.to_string().len());
            if copied > MAX_JSON_PATCH_COPY_BYTES {
                return Err(rejected(format!(
                    "the total size of values copied by the patch exceeds {MAX_JSON_PATCH_COPY_BYTES} bytes"
                )));
            }
        }
        let op: json_patch::PatchOperation = serde_json::from_value(op.clone())
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
        json_patch::patch(doc, std::slice::from_ref(&op)).map_err(|e| rejected(e.to_string()))?;
    }
    Ok(())
}

/// Most operations one JSON patch may carry (kube-apiserver's limit).
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;
/// Most bytes a JSON patch may copy in total (kube-apiserver's `JSONPatchMaxCopyBytes`).
const MAX_JSON_PATCH_COPY_BYTES: usize = 3 * 1024 * 1024;

/// Whether a patch itself sets `metadata.resourceVersion` (then it is a precondition).
fn patch_sets_resource_version(merge: Option<&Value>, json_ops: &[Value]) -> bool {
    match merge {
        Some(p) => p
            .pointer("/metadata/resourceVersion")
            .is_some_and(|v| !v.is_null()),
        None => json_ops.iter().any(|op| {
            op.get("path").and_then(Value::as_str) == Some("/metadata/resourceVersion")
                && matches!(
                    op.get("op").and_then(Value::as_str),
                    Some("add" | "replace")
                )
        }),
    }
}

/// PATCH on one object (main resource or `/status`).
pub async fn patch(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let essence = ctx
        .content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    if !PATCH_TYPES.contains(&essence.as_str()) {
        return Err(ApiError::unsupported_media_type(&essence, PATCH_TYPES));
    }
    if essence == APPLY {
        return apply_patch(ctx).await;
    }
    if ctx.query.get("force").is_some() {
        return Err(ApiError::invalid(
            "",
            "",
            "",
            &vec![FieldError::forbidden(
                &Path::new("force"),
                "may not be specified for non-apply patch",
            )],
        ));
    }
    let name = ctx.name().to_owned();
    let merge_patch: Option<Value> = if essence != "application/json-patch+json" {
        Some(
            serde_json::from_slice(ctx.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?,
        )
    } else {
        None
    };
    let json_ops: Vec<Value> = if merge_patch.is_none() {
        serde_json::from_slice(ctx.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
    } else {
        Vec::new()
    };
    let dupes = if merge_patch.is_some() {
        crate::dupes::from_slice(ctx.body)
            .map(|(_, d)| d)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let has_precondition = patch_sets_resource_version(merge_patch.as_ref(), &json_ops);
    for _ in 0..MAX_RETRIES {
        let (current, rev) = read_current(ctx).await?;
        let mut doc = current.clone();
        match &merge_patch {
            Some(p) if essence == STRATEGIC => doc = strategic_patch(ctx, &current, p)?,
            Some(p) => json_patch::merge(&mut doc, p),
            None => apply_json_patch(&mut doc, &json_ops)?,
        }
        // The stored object carries its resourceVersion; only one the patch sets is a
        // precondition (an unparsable one can never match).
        if has_precondition && body_rv(&doc) != Some(rev) {
            return Err(ctx.conflict(&name));
        }
        if meta_str(&doc, "name") != Some(name.as_str()) {
            return Err(ApiError::bad_request(
                "metadata.name: the name of the object may not be changed by a patch",
            ));
        }
        match write_update(ctx, doc, &current, rev, &dupes, Ownership::Update).await {
            Ok(r) => return Ok(r),
            Err(WriteError::Api(e)) => return Err(e),
            Err(WriteError::Raced) if has_precondition => return Err(ctx.conflict(&name)),
            Err(WriteError::Raced) => continue,
        }
    }
    Err(ctx.conflict(&name))
}

/// Delete options from the body or the query.
struct DeleteOptions {
    uid: Option<String>,
    resource_version: Option<String>,
    propagation: Option<String>,
    dry_run: bool,
}

fn delete_options(ctx: &Ctx<'_>) -> Result<DeleteOptions, ApiError> {
    let body: Value = if ctx.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(ctx.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
    };
    let pre = body.get("preconditions");
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let propagation = s(body.get("propagationPolicy"))
        .or_else(|| ctx.query.non_empty("propagationPolicy").map(str::to_owned));
    if let Some(p) = &propagation
        && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
    {
        return Err(ApiError::invalid(
            "",
            "DeleteOptions",
            "",
            &vec![FieldError::not_supported(
                &Path::new("propagationPolicy"),
                p.as_str(),
                &["Foreground", "Background", "Orphan", "nil"],
            )],
        ));
    }
    let body_dry = body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        uid: s(pre.and_then(|p| p.get("uid"))),
        resource_version: s(pre.and_then(|p| p.get("resourceVersion"))),
        propagation,
        dry_run: body_dry || ctx.dry_run()?,
    })
}

/// Deletes one object by name; returns the response object (Status or the updated object).
async fn delete_one(
    ctx: &Ctx<'_>,
    name: &str,
    opts: &DeleteOptions,
) -> Result<(Value, bool), ApiError> {
    let info = ctx.info().clone();
    let key = ctx.key(name);
    let store = ctx.objects.store();
    for _ in 0..MAX_RETRIES {
        let got = store.get(&key, None).await?;
        let kv = got.kv.ok_or_else(|| ctx.not_found(name))?;
        let current = Objects::decode(&kv)?;
        let uid = meta_str(&current, "uid").unwrap_or("").to_owned();
        if let Some(want) = &opts.uid
            && *want != uid
        {
            return Err(ApiError::conflict_msg(
                &info.group,
                &info.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"
                ),
            ));
        }
        if let Some(want) = &opts.resource_version
            && *want != kv.mod_revision.to_string()
        {
            return Err(ApiError::conflict_msg(
                &info.group,
                &info.plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}",
                    kv.mod_revision
                ),
            ));
        }
        let mut fins = finalizers(&current);
        // The GC finalizers follow the requested policy, one replacing the other as in
        // kube-apiserver (both together are invalid); Background asks for neither.
        let (want, drop): (Option<&str>, &[&str]) = match opts.propagation.as_deref() {
            Some("Orphan") => (Some("orphan"), &["foregroundDeletion"]),
            Some("Foreground") => (Some("foregroundDeletion"), &["orphan"]),
            Some("Background") => (None, &["orphan", "foregroundDeletion"]),
            _ => (None, &[]),
        };
        fins.retain(|f| !drop.contains(&f.as_str()));
        if let Some(w) = want
            && !fins.iter().any(|f| f == w)
        {
            fins.push(w.into());
        }
        if !fins.is_empty() {
            let mut updated = current.clone();
            set_meta(&mut updated, "finalizers", Some(json!(fins)));
            if meta_str(&updated, "deletionTimestamp").is_none() {
                set_meta(
                    &mut updated,
                    "deletionTimestamp",
                    Some(Value::from(now_rfc3339())),
                );
                set_meta(
                    &mut updated,
                    "deletionGracePeriodSeconds",
                    Some(Value::from(0)),
                );
                let g = generation(&updated);
                if g > 0 {
                    set_meta(&mut updated, "generation", Some(Value::from(g + 1)));
                }
            }
            if updated == current || opts.dry_run {
                return Ok((updated, false));
            }
            match store
                .update(&key, Objects::encode(&updated), kv.mod_revision)
                .await
            {
                Ok(w) => {
                    set_meta(
                        &mut updated,
                        "resourceVersion",
                        Some(Value::from(w.revision.to_string())),
                    );
                    return Ok((updated, false));
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if opts.dry_run {
            return Ok((current, true));
        }
        if let Some(alloc) = ctx.strategy.allocator() {
            let cx = AllocContext {
                objects: ctx.objects,
                dry_run: false,
            };
            let r = commit_allocating(ctx.objects, &key, || {
                let (cx, key, current) = (&cx, &key, &current);
                async move {
                    let mut ops = alloc.on_delete(cx, current).await?;
                    ops.insert(0, delete_op(key.clone(), kv.mod_revision));
                    Ok((ops, Value::Null))
                }
            })
            .await;
            match r {
                Ok(_) => return Ok((current, true)),
                Err(CommitError::Raced | CommitError::AlreadyExists(_)) => continue,
                Err(CommitError::Api(e)) => return Err(e),
            }
        }
        match store.delete(&key, Some(kv.mod_revision)).await {
            Ok(_) => return Ok((current, true)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ctx.conflict(name))
}

/// DELETE on one object.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let opts = delete_options(ctx)?;
    let name = ctx.name().to_owned();
    let (obj, gone) = delete_one(ctx, &name, &opts).await?;
    if gone {
        let info = ctx.info();
        let status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": info.group, "kind": info.plural, "uid": meta_str(&obj, "uid").unwrap_or("")},
        });
        Ok(response::object(200, &status, Representation::Json, &[]))
    } else {
        Ok(ctx.respond(200, &obj, &[]))
    }
}

/// DELETE on a collection: deletes every selected object and returns them as a list.
pub async fn delete_collection(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let opts = delete_options(ctx)?;
    let filter = Filter::new(
        ctx.strategy.as_ref(),
        ctx.namespace(),
        ctx.query.get("labelSelector"),
        ctx.query.get("fieldSelector"),
    )?;
    let listed = list_objects(ctx, &filter).await?;
    let mut deleted = Vec::new();
    for obj in &listed.objects()? {
        let name = meta_str(obj, "name").unwrap_or("").to_owned();
        let ns = meta_str(obj, "namespace").map(str::to_owned);
        let path = ResourcePath {
            name: Some(name.clone()),
            namespace: ns,
            ..ctx.path.clone()
        };
        let item_ctx = Ctx {
            path: &path,
            ..*ctx
        };
        match delete_one(&item_ctx, &name, &opts).await {
            Ok((o, _)) => deleted.push(o),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let info = ctx.info();
    let out = json!({
        "apiVersion": info.api_version(),
        "kind": format!("{}List", info.kind),
        "metadata": {"resourceVersion": listed.revision.to_string()},
        "items": deleted,
    });
    Ok(response::object(200, &out, Representation::Json, &[]))
}
