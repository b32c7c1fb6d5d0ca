//! `apinetlet`: realizes IronCore networking objects as apinet objects and writes the results
//! back (apinet-upstream.md §5).
//!
//! Every apinet object made for an IronCore object lives in one apinet namespace
//! (`--apinet-namespace`), is named by the IronCore object's UID and carries origin metadata
//! (labels `<origin>-uid`, `<origin>-namespace`, annotation `<origin>-name`). The IronCore object
//! carries a finalizer until what was made for it is gone.
//!
//! One module per IronCore kind, plus [`gc`], the sweep of apinet objects whose IronCore origin
//! vanished without its finalizer running. The helpers here are what every kind shares: origin
//! metadata, forced server-side apply, and deleting what was made before lifting a finalizer.

pub mod gc;
pub mod loadbalancer;
pub mod natgateway;
pub mod network;
pub mod networkinterface;
pub mod networkpolicy;
pub mod virtualip;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use ironcore_api::networking;
use kube::api::{DeleteParams, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, is_not_found};
use crate::finalizer;

/// `apiVersion` of every apinet object.
pub const APINET_API_VERSION: &str = "core.apinet.ironcore.dev/v1alpha1";
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
/// The origin of apinet NetworkInterfaces made for (or adopted by) IronCore NetworkInterfaces.
pub const NETWORK_INTERFACE_ORIGIN: Origin = Origin("apinetlet.ironcore.dev/networkinterface");
/// The origin of apinet LoadBalancers and LoadBalancerRoutings.
pub const LOAD_BALANCER_ORIGIN: Origin = Origin("apinetlet.ironcore.dev/loadbalancer");
/// The origin of apinet NATGateways and NATGatewayAutoscalers.
pub const NAT_GATEWAY_ORIGIN: Origin = Origin("apinetlet.ironcore.dev/natgateway");
/// The origin of apinet NetworkPolicies and NetworkPolicyRules.
pub const NETWORK_POLICY_ORIGIN: Origin = Origin("apinetlet.ironcore.dev/networkpolicy");

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

    /// Whether `obj` carries the origin labels and annotations of `src`.
    pub fn marks<A: Resource, K: Resource>(&self, obj: &A, src: &K) -> bool {
        let contains = |have: &BTreeMap<String, String>, want: BTreeMap<String, String>| {
            want.iter().all(|(k, v)| have.get(k) == Some(v))
        };
        contains(obj.labels(), self.labels(src))
            && contains(obj.annotations(), self.annotations(src))
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

/// Server-side applies `body` as `name` with the apinetlet's field manager, forcing
/// ownership; returns the stored object.
pub async fn apply<A>(api: &Api<A>, name: &str, body: &(impl Serialize + Debug)) -> Result<A>
where
    A: Resource + Clone + DeserializeOwned + Debug,
{
    crate::objects::apply_as(api, name, body, FIELD_MANAGER).await
}

/// Patch parameters naming the apinetlet as field manager (merge patches, status writes).
pub fn field_manager() -> PatchParams {
    crate::objects::params(FIELD_MANAGER)
}

/// Deletes `name` unless it is gone or already deleting; returns whether it is gone.
pub async fn ensure_gone<A>(api: &Api<A>, name: &str) -> Result<bool>
where
    A: Resource + Clone + DeserializeOwned + Debug,
{
    match api.get_opt(name).await? {
        None => Ok(true),
        Some(obj) if obj.meta().deletion_timestamp.is_some() => Ok(false),
        Some(_) => match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(api.get_opt(name).await?.is_none()),
            Err(e) if is_not_found(&e) => Ok(true),
            Err(e) => Err(e.into()),
        },
    }
}

/// The UID of the IronCore Network `name` in `namespace` (the name of its apinet Network), or
/// `None` when it does not exist or is being deleted.
pub async fn network_uid(st: &State, namespace: &str, name: &str) -> Result<Option<String>> {
    if name.is_empty() {
        return Ok(None);
    }
    let api: Api<networking::Network> = Api::namespaced(st.ironcore.clone(), namespace);
    Ok(api
        .get_opt(name)
        .await?
        .filter(|n| n.meta().deletion_timestamp.is_none())
        .and_then(|n| n.uid()))
}

/// How soon to look again whether what was made for a deleting object is gone.
const GONE_WAIT: Duration = Duration::from_secs(2);

/// The start every apinetlet reconcile shares. A deleting object gets what was made for it
/// deleted (`delete_made` deletes and says whether everything is gone) and then loses
/// `finalizer`; an externally managed object is left alone; any other gets `finalizer`.
/// `Some(action)` ends the reconcile; `None` goes on to realize the object.
pub async fn lifecycle<K, F, Fut>(
    api: &Api<K>,
    obj: &K,
    finalizer: &str,
    delete_made: F,
) -> Result<Option<Action>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    if finalizer::is_deleting(obj) {
        if !finalizer::has(obj, finalizer) {
            return Ok(Some(Action::await_change()));
        }
        let what = ObjectRef::from_obj(obj);
        if !delete_made().await? {
            tracing::info!(object = %what, "waiting for its apinet objects to go");
            return Ok(Some(Action::requeue(GONE_WAIT)));
        }
        finalizer::remove(api, obj, finalizer, FIELD_MANAGER).await?;
        tracing::info!(object = %what, "apinet objects gone, finalizer removed");
        return Ok(Some(Action::await_change()));
    }
    if externally_managed(obj) {
        return Ok(Some(Action::await_change()));
    }
    finalizer::add(api, obj, finalizer, FIELD_MANAGER).await?;
    Ok(None)
}
