//! `apinet-controller-manager`: the controllers that work on apinet objects only
//! (apinet-upstream.md §4).
//!
//! - [`natgateway`]: NAT port slots: a NATTable per NATGateway and NAT claims on
//!   NetworkInterfaces (`spec.natGateways`);
//! - [`natgatewayautoscaler`]: grows and shrinks a NATGateway's public IPs with demand;
//! - [`natrelease`]: drops NAT claims of gateways that are gone;
//! - [`loadbalancer`]: a DaemonSet `lb-<name>` per LoadBalancer;
//! - [`daemonset`]: one Instance per eligible Node per DaemonSet;
//! - [`scheduler`]: places unscheduled Instances on Nodes;
//! - [`gc`]: deletes what lost its owner (the servers run no ownerReference garbage collector)
//!   and sweeps orphaned IPAddresses/NetworkIDs.

pub mod daemonset;
pub mod gc;
pub mod loadbalancer;
pub mod natgateway;
pub mod natgatewayautoscaler;
pub mod natrelease;
pub mod scheduler;

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::PatchParams;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The field manager of every write of the apinet controller-manager.
pub const FIELD_MANAGER: &str = "apinet.ironcore.dev/controller-manager";

/// What the manager's controllers share.
pub struct State {
    /// Client of the apinet API.
    pub client: kube::Client,
    /// Resync period: each object is reconciled again after this long.
    pub resync: Duration,
    /// Serializes scheduling decisions, so that two Instances never race for one Node.
    pub schedule: tokio::sync::Mutex<()>,
}

impl State {
    /// A state for `client` with resync period `resync`.
    pub fn new(client: kube::Client, resync: Duration) -> Self {
        State {
            client,
            resync,
            schedule: tokio::sync::Mutex::new(()),
        }
    }
}

/// Server-side applies `body` as `name` with the manager's field manager, forcing ownership;
/// returns the stored object.
pub async fn apply<A>(api: &Api<A>, name: &str, body: &(impl Serialize + Debug)) -> Result<A>
where
    A: Resource + Clone + DeserializeOwned + Debug,
{
    crate::objects::apply_as(api, name, body, FIELD_MANAGER).await
}

/// Patch parameters naming the manager as field manager (merge patches, status writes).
pub fn field_manager() -> PatchParams {
    crate::objects::params(FIELD_MANAGER)
}

/// A controller owner reference to `owner`; an owner without UID (not stored yet) is an error.
pub fn controller_ref<O>(owner: &O) -> Result<OwnerReference>
where
    O: Resource<DynamicType = ()>,
{
    if owner.uid().is_none() {
        return Err(Error::NotReady(format!("{} without uid", owner.name_any())));
    }
    Ok(crate::objects::controller_ref(owner))
}

/// The controller owner reference of `obj` if it points at a `O`.
pub fn controller_of<O, C>(obj: &C) -> Option<&OwnerReference>
where
    O: Resource<DynamicType = ()>,
    C: Resource,
{
    obj.owner_references().iter().find(|r| {
        r.controller == Some(true) && r.kind == O::kind(&()) && r.api_version == O::api_version(&())
    })
}

pub use crate::objects::controlled_by;

pub use crate::finalizer::is_deleting;

/// The namespace of `obj`, or a retryable error when it has none.
pub fn namespace_of<K: Resource>(obj: &K) -> Result<String> {
    obj.namespace()
        .ok_or_else(|| Error::NotReady(format!("{} without namespace", obj.name_any())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironcore_api::apinet::{DaemonSet, Instance};

    #[test]
    fn controller_refs_point_at_their_owner() {
        let mut ds = DaemonSet::default();
        ds.metadata.name = Some("lb-x".into());
        ds.metadata.uid = Some("u1".into());
        let r = controller_ref(&ds).unwrap();
        assert_eq!(r.kind, "DaemonSet");
        assert_eq!(r.api_version, "core.apinet.ironcore.dev/v1alpha1");
        let mut inst = Instance::default();
        inst.metadata.owner_references = Some(vec![r]);
        assert!(controlled_by(&inst, "u1"));
        assert!(!controlled_by(&inst, "u2"));
        assert!(controller_of::<DaemonSet, _>(&inst).is_some());
        assert!(controller_of::<Instance, _>(&inst).is_none());
        ds.metadata.uid = None;
        assert!(controller_ref(&ds).is_err());
    }
}
