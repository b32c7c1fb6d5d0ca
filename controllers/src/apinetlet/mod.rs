//! `apinetlet`: realizes IronCore networking objects as apinet objects and writes the results
//! back (apinet-upstream.md §5).
//!
//! Every apinet object made for an IronCore object lives in one apinet namespace
//! (`--apinet-namespace`), is named by the IronCore object's UID and carries origin metadata
//! (labels `<origin>-uid`, `<origin>-namespace`, annotation `<origin>-name`). The IronCore object
//! carries a finalizer until what was made for it is gone.
//!
//! In this slice: [`network`] and [`virtualip`], plus [`gc`], the sweep of apinet objects whose
//! IronCore origin vanished without its finalizer running.

pub mod gc;
pub mod network;
pub mod virtualip;

use std::collections::BTreeMap;
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

/// The field manager of every apinetlet write.
pub const FIELD_MANAGER: &str = "ironcore.dev/apinetlet";
/// Annotation marking an IronCore object as managed by someone else; the apinetlet skips it.
pub const MANAGED_BY: &str = "common.ironcore.dev/managed-by";
/// Prefix of every provider ID the apinetlet writes.
pub const PROVIDER_ID_PREFIX: &str = "ironcore-net://";

/// What the apinetlet's controllers share.
#[derive(Clone)]
pub struct State {
    /// Client of the IronCore API.
    pub ironcore: kube::Client,
    /// Client of the apinet API.
    pub apinet: kube::Client,
    /// The apinet namespace every apinet object is made in.
    pub namespace: String,
    /// Resync period: each object is reconciled again after this long.
    pub resync: Duration,
}

/// An origin: which IronCore kind an apinet object was made for
/// (e.g. `apinetlet.ironcore.dev/network`).
#[derive(Clone, Copy, Debug)]
pub struct Origin(pub &'static str);

/// The origin of apinet Networks.
pub const NETWORK_ORIGIN: Origin = Origin("apinetlet.ironcore.dev/network");
/// The origin of apinet IPs made for VirtualIPs.
pub const VIRTUAL_IP_ORIGIN: Origin = Origin("apinetlet.ironcore.dev/virtualip");

impl Origin {
    /// The label holding the source UID.
    pub fn uid_label(&self) -> String {
        format!("{}-uid", self.0)
    }

    /// The label holding the source namespace.
    pub fn namespace_label(&self) -> String {
        format!("{}-namespace", self.0)
    }

    /// The annotation holding the source name.
    pub fn name_annotation(&self) -> String {
        format!("{}-name", self.0)
    }

    /// The origin labels of an apinet object made for `src`.
    pub fn labels<K: Resource>(&self, src: &K) -> BTreeMap<String, String> {
        BTreeMap::from([
            (self.uid_label(), src.uid().unwrap_or_default()),
            (self.namespace_label(), src.namespace().unwrap_or_default()),
        ])
    }

    /// The origin annotations of an apinet object made for `src`.
    pub fn annotations<K: Resource>(&self, src: &K) -> BTreeMap<String, String> {
        BTreeMap::from([(self.name_annotation(), src.name_any())])
    }

    /// The IronCore object an apinet object was made for, from its origin metadata.
    pub fn source<K, A>(&self, obj: &A) -> Option<ObjectRef<K>>
    where
        K: Resource<DynamicType = ()>,
        A: Resource,
    {
        let ns = obj.labels().get(&self.namespace_label())?;
        let name = obj.annotations().get(&self.name_annotation())?;
        Some(ObjectRef::new(name).within(ns))
    }
}

/// Whether an IronCore object is managed by someone else.
pub fn externally_managed<K: Resource>(obj: &K) -> bool {
    obj.annotations().contains_key(MANAGED_BY)
}
