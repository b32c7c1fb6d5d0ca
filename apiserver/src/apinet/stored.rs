//! Reads the allocators need (one object, key existence, the names under a resource) and
//! the construction of the objects they write, over the server's [`Objects`] key layout.

use std::collections::HashSet;

use ironcore_api::ApiKind;
use ironcore_api::apinet::{GROUP, IP, IPAddress, Network, NetworkID, VERSION};
use ironcore_apimachinery::{FieldError, Path};
use ironcore_server::allocator::AllocContext;
use ironcore_server::errors::ApiError;
use ironcore_server::objects::Objects;
use ironcore_server::registry::{KindStrategy, ResourceInfo, TypedStrategy};
use ironcore_storage::ListOptions;
use serde_json::{Value, json};

/// Page size of the (rare) full listings of allocation records.
const LIST_PAGE: usize = 1000;

/// An object read from storage with the revision a conditional write needs.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The object (with `resourceVersion`).
    pub value: Value,
    /// Its mod revision.
    pub revision: i64,
}

/// The resource facts of kind `K` (for its storage keys).
pub fn info<K: ApiKind>() -> ResourceInfo {
    TypedStrategy::<K>::new().info().clone()
}

/// Resource facts of the kinds the allocators touch.
#[derive(Clone, Debug)]
pub struct Kinds {
    /// Network.
    pub network: ResourceInfo,
    /// NetworkID (cluster-scoped).
    pub network_id: ResourceInfo,
    /// IP.
    pub ip: ResourceInfo,
    /// IPAddress (cluster-scoped).
    pub ip_address: ResourceInfo,
}

impl Kinds {
    /// The facts of the apinet kinds.
    pub fn new() -> Self {
        Kinds {
            network: info::<Network>(),
            network_id: info::<NetworkID>(),
            ip: info::<IP>(),
            ip_address: info::<IPAddress>(),
        }
    }
}

impl Default for Kinds {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads one object, `None` when absent.
pub async fn get(cx: &AllocContext<'_>, key: &str) -> Result<Option<Stored>, ApiError> {
    let got = cx.store().get(key, None).await?;
    match got.kv {
        None => Ok(None),
        Some(kv) => Ok(Some(Stored {
            value: Objects::decode(&kv)?,
            revision: kv.mod_revision,
        })),
    }
}

/// Whether `key` exists.
pub async fn exists(cx: &AllocContext<'_>, key: &str) -> Result<bool, ApiError> {
    Ok(cx.store().get(key, None).await?.kv.is_some())
}

/// The names of every object of a cluster-scoped resource, read page by page at one revision.
pub async fn list_names(
    cx: &AllocContext<'_>,
    info: &ResourceInfo,
) -> Result<HashSet<String>, ApiError> {
    let prefix = cx.objects.resource_prefix(info);
    let mut names = HashSet::new();
    let mut opts = ListOptions {
        limit: Some(LIST_PAGE),
        ..ListOptions::default()
    };
    loop {
        let page = cx.store().list(&prefix, opts.clone()).await?;
        for kv in &page.items {
            if let Some(name) = kv.key.strip_prefix(&prefix) {
                names.insert(name.to_owned());
            }
        }
        match (page.more, page.items.last()) {
            (true, Some(last)) => {
                opts.start_after = Some(last.key.clone());
                opts.revision = Some(page.revision);
            }
            _ => return Ok(names),
        }
    }
}

/// `metadata.<field>` as a string ("" when absent).
pub fn meta<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or("")
}

/// Who claims an allocation: the identity written into `spec.claimRef`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimer {
    /// Plural of the claimer's resource, e.g. `networks`.
    pub resource: String,
    /// Kind of the claimer, e.g. `Network`.
    pub kind: String,
    /// Namespace ("" for cluster-scoped claimers).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
}

impl Claimer {
    /// The claimer identity of `obj`, an object of `info`.
    pub fn of(info: &ResourceInfo, obj: &Value) -> Self {
        Claimer {
            resource: info.plural.clone(),
            kind: info.kind.clone(),
            namespace: meta(obj, "namespace").to_owned(),
            name: meta(obj, "name").to_owned(),
            uid: meta(obj, "uid").to_owned(),
        }
    }

    /// The claimRef of a cluster-scoped record (NetworkID, IPAddress): with namespace.
    pub fn cluster_claim_ref(&self) -> Value {
        json!({
            "group": GROUP,
            "resource": self.resource,
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
        })
    }

    /// The claimRef of an IP (the claimer lives in the IP's namespace).
    pub fn ip_claim_ref(&self) -> Value {
        json!({
            "group": GROUP,
            "resource": self.resource,
            "name": self.name,
            "uid": self.uid,
        })
    }

    /// The controller ownerReference to this claimer.
    pub fn controller_ref(&self) -> Value {
        json!({
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": true,
            "blockOwnerDeletion": true,
        })
    }
}

/// A cluster-scoped allocation record (`NetworkID`, `IPAddress`) as the server writes it; the
/// key order keeps `apiVersion`, `kind`, `metadata` first, as stored objects have them.
pub fn record(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": kind,
        "metadata": {"name": name, "generation": 1},
        "spec": spec,
    })
}

/// The claimRef uid of a stored record or IP (`spec.claimRef.uid`), "" when unclaimed.
pub fn claim_uid(obj: &Value) -> &str {
    obj["spec"]["claimRef"]["uid"].as_str().unwrap_or("")
}

/// A 422 for the object `name` of `info` with one field error.
pub fn invalid(info: &ResourceInfo, name: &str, error: FieldError) -> ApiError {
    ApiError::invalid(&info.group, &info.kind, name, &vec![error])
}

/// A 409 Conflict on the object `name` of `info` explaining `why`.
pub fn conflict(info: &ResourceInfo, name: &str, why: &str) -> ApiError {
    ApiError::conflict_msg(&info.group, &info.plural, name, why)
}

/// `spec.<child>` as a field path.
pub fn spec_path(child: &str) -> Path {
    Path::new("spec").child(child)
}
