//! The registry: which kinds a server serves and the per-kind strategy behind each.
//!
//! The HTTP layer only sees [`Resource`] entries and the object-safe [`KindStrategy`]; the
//! per-kind knowledge (defaults, validation, columns, field labels) comes from
//! [`ironcore_api::ApiKind`] through [`TypedStrategy`].

use std::marker::PhantomData;
use std::sync::Arc;

use ironcore_api::{ApiKind, TableColumn};
use ironcore_apimachinery::FieldErrors;
use ironcore_apimachinery::openapi::KindSchemas;
use serde_json::Value;

use crate::allocator::Allocator;
use crate::object::unknown_fields;

/// Facts about one served resource (a kind under its plural).
#[derive(Clone, Debug)]
pub struct ResourceInfo {
    /// API group, e.g. `networking.ironcore.dev`.
    pub group: String,
    /// API version, e.g. `v1alpha1`.
    pub version: String,
    /// Kind, e.g. `Network`.
    pub kind: String,
    /// Plural resource name, e.g. `networks`.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// kubectl short names.
    pub short_names: Vec<String>,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether the `/status` subresource exists.
    pub has_status: bool,
    /// Field selector labels beyond `metadata.name` and `metadata.namespace`.
    pub field_labels: Vec<String>,
    /// Table columns after `Name`.
    pub columns: Vec<TableColumn>,
}

impl ResourceInfo {
    /// `group/version`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }
}

/// A decoded, defaulted request object, or why it could not be decoded.
#[derive(Debug)]
pub enum Admission {
    /// The object after defaulting, and the unknown fields that were dropped.
    Admitted {
        /// The defaulted object as JSON.
        object: Value,
        /// Paths of fields the kind does not have.
        unknown: Vec<String>,
    },
    /// The body does not decode into the kind (wrong types, bad IPs): a 400.
    Malformed(String),
    /// Validation failed: a 422.
    Invalid(FieldErrors),
}

/// The object-safe per-kind behaviour the generic server calls.
pub trait KindStrategy: Send + Sync + 'static {
    /// The resource's facts.
    fn info(&self) -> &ResourceInfo;

    /// Decodes, defaults and validates a new object.
    fn admit_create(&self, object: Value) -> Admission;

    /// Decodes, defaults and validates a changed object against the stored one.
    fn admit_update(&self, object: Value, old: &Value) -> Admission;

    /// Value of a kind-specific field label for field selectors.
    fn field_label(&self, object: &Value, label: &str) -> Option<String>;

    /// Table cells after `Name`.
    fn table_cells(&self, object: &Value) -> Vec<Value>;

    /// The JSON schemas of the kind and its list for OpenAPI; `None` leaves the resource out
    /// of the OpenAPI documents. Strategies wrapping a typed one should forward this.
    fn openapi(&self) -> Option<KindSchemas> {
        None
    }

    /// Storage side effects committed with this kind's writes, if any.
    fn allocator(&self) -> Option<&dyn Allocator> {
        None
    }
}

/// [`KindStrategy`] for a typed kind.
pub struct TypedStrategy<K> {
    info: ResourceInfo,
    _kind: PhantomData<fn() -> K>,
}

impl<K: ApiKind> TypedStrategy<K> {
    /// The strategy of kind `K`.
    pub fn new() -> Self {
        let f = K::FACTS;
        TypedStrategy {
            info: ResourceInfo {
                group: K::group(&()).into_owned(),
                version: K::version(&()).into_owned(),
                kind: K::kind(&()).into_owned(),
                plural: K::plural(&()).into_owned(),
                singular: f.singular.to_owned(),
                short_names: f.short_names.iter().map(|s| (*s).to_owned()).collect(),
                namespaced: f.namespaced,
                has_status: f.has_status,
                field_labels: f.field_labels.iter().map(|s| (*s).to_owned()).collect(),
                columns: K::table_columns().to_vec(),
            },
            _kind: PhantomData,
        }
    }

    fn decode(object: &Value) -> Result<K, String> {
        let mut object = object.clone();
        strip_nulls(&mut object);
        serde_json::from_value::<K>(object).map_err(|e| e.to_string())
    }

    fn admit(&self, object: Value, check: impl FnOnce(&K) -> FieldErrors) -> Admission {
        let mut typed = match Self::decode(&object) {
            Ok(t) => t,
            Err(e) => return Admission::Malformed(e),
        };
        typed.set_defaults();
        let errs = check(&typed);
        if !errs.is_empty() {
            return Admission::Invalid(errs);
        }
        match serde_json::to_value(&typed) {
            Ok(out) => Admission::Admitted {
                unknown: unknown_fields(&object, &out),
                object: out,
            },
            Err(e) => Admission::Malformed(e.to_string()),
        }
    }
}

impl<K: ApiKind> Default for TypedStrategy<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: ApiKind> KindStrategy for TypedStrategy<K> {
    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    fn admit_create(&self, object: Value) -> Admission {
        self.admit(object, |k| k.validate_create_all())
    }

    fn admit_update(&self, object: Value, old: &Value) -> Admission {
        let old = match Self::decode(old) {
            Ok(o) => o,
            Err(e) => return Admission::Malformed(format!("stored object does not decode: {e}")),
        };
        self.admit(object, |k| k.validate_update_all(&old))
    }

    fn field_label(&self, object: &Value, label: &str) -> Option<String> {
        Self::decode(object).ok()?.field_label(label)
    }

    fn table_cells(&self, object: &Value) -> Vec<Value> {
        match Self::decode(object) {
            Ok(k) => k.table_cells(),
            Err(_) => self.info.columns.iter().map(|_| Value::Null).collect(),
        }
    }

    fn openapi(&self) -> Option<KindSchemas> {
        Some(crate::openapi::kind_schemas::<K>())
    }
}

/// Removes `null` members of objects (recursively): Kubernetes reads an explicit null as unset.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// A strategy with an [`Allocator`]: everything else is delegated to the inner strategy.
pub struct WithAllocator<S, A> {
    inner: S,
    allocator: A,
}

impl<S: KindStrategy, A: Allocator> WithAllocator<S, A> {
    /// `inner` whose writes also commit `allocator`'s operations.
    pub fn new(inner: S, allocator: A) -> Self {
        WithAllocator { inner, allocator }
    }
}

impl<S: KindStrategy, A: Allocator> KindStrategy for WithAllocator<S, A> {
    fn info(&self) -> &ResourceInfo {
        self.inner.info()
    }
    fn admit_create(&self, object: Value) -> Admission {
        self.inner.admit_create(object)
    }
    fn admit_update(&self, object: Value, old: &Value) -> Admission {
        self.inner.admit_update(object, old)
    }
    fn field_label(&self, object: &Value, label: &str) -> Option<String> {
        self.inner.field_label(object, label)
    }
    fn table_cells(&self, object: &Value) -> Vec<Value> {
        self.inner.table_cells(object)
    }
    fn allocator(&self) -> Option<&dyn Allocator> {
        Some(&self.allocator)
    }
    fn openapi(&self) -> Option<KindSchemas> {
        self.inner.openapi()
    }
}

/// The kinds one server serves, in registration order.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: Vec<Arc<dyn KindStrategy>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers kind `K`.
    pub fn register<K: ApiKind>(mut self) -> Self {
        self.kinds.push(Arc::new(TypedStrategy::<K>::new()));
        self
    }

    /// Registers a custom strategy (e.g. one that wraps a typed one with allocation).
    pub fn register_strategy(mut self, strategy: Arc<dyn KindStrategy>) -> Self {
        self.kinds.push(strategy);
        self
    }

    /// All registered strategies.
    pub fn kinds(&self) -> &[Arc<dyn KindStrategy>] {
        &self.kinds
    }

    /// The strategy serving `group/version` and `plural`.
    pub fn lookup(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&Arc<dyn KindStrategy>> {
        self.kinds.iter().find(|k| {
            let i = k.info();
            i.group == group && i.version == version && i.plural == plural
        })
    }

    /// The distinct group versions, in registration order.
    pub fn group_versions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for k in &self.kinds {
            let gv = (k.info().group.clone(), k.info().version.clone());
            if !out.contains(&gv) {
                out.push(gv);
            }
        }
        out
    }
}
