//! Garbage collection: the apinet servers run no ownerReference garbage collector, so what an
//! owner controls is deleted here when the owner is gone (or replaced by an object with another
//! UID), and orphaned IPAddresses/NetworkIDs are swept periodically.
//!
//! Owner checks run as controllers over the child kind ([`owned_controller`] +
//! [`reconcile_owned`]): a change or deletion of an owner re-checks the children pointing at
//! it, and every child is re-checked each resync. The IPAddress/NetworkID sweep ([`run`]) is a
//! safety net: the apinet-apiserver creates and deletes these records in the transaction of
//! their claimer and refuses deleting a record whose claimer lives.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use ironcore_api::apinet::{self, ClaimRef, IPAddress, NetworkID};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::{State, controller_of, is_deleting, namespace_of};
use crate::error::{Result, is_conflict, is_not_found};

/// A controller over children `C` that re-checks the children controlled by an owner `O`
/// whenever that owner changes or is deleted.
pub fn owned_controller<C, O>(client: &kube::Client) -> Controller<C>
where
    C: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
    O: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    let wc = watcher::Config::default();
    let ctrl = Controller::new(Api::<C>::all(client.clone()), wc.clone());
    let store = ctrl.store();
    ctrl.watches(Api::<O>::all(client.clone()), wc, move |owner: O| {
        let ns = owner.namespace();
        let uid = owner.uid().unwrap_or_default();
        store
            .state()
            .into_iter()
            .filter(|c| {
                c.namespace() == ns
                    && controller_of::<O, C>(c.as_ref()).is_some_and(|r| r.uid == uid)
            })
            .map(|c| ObjectRef::from_obj(c.as_ref()))
            .collect::<Vec<_>>()
    })
}

/// Deletes child `C` when its controller owner `O` no longer exists with the referenced UID.
/// Children without an owner reference to an `O` are left alone.
pub async fn reconcile_owned<C, O>(child: Arc<C>, st: Arc<State>) -> Result<Action>
where
    C: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
    O: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
{
    if is_deleting(child.as_ref()) {
        return Ok(Action::await_change());
    }
    let Some(owner) = controller_of::<O, C>(child.as_ref()) else {
        return Ok(Action::await_change());
    };
    let ns = namespace_of(child.as_ref())?;
    let current = Api::<O>::namespaced(st.client.clone(), &ns)
        .get_opt(&owner.name)
        .await?;
    if current.is_some_and(|o| o.uid().as_deref() == Some(owner.uid.as_str())) {
        return Ok(Action::requeue(st.resync));
    }
    let name = child.name_any();
    delete_ignoring_gone(&Api::<C>::namespaced(st.client.clone(), &ns), &name).await?;
    tracing::info!(
        kind = %C::kind(&()),
        namespace = %ns,
        name = %name,
        owner_kind = %O::kind(&()),
        owner = %owner.name,
        "deleted object whose owner is gone"
    );
    Ok(Action::await_change())
}

/// Deletes `name`; a missing object counts as deleted.
pub async fn delete_ignoring_gone<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Runs [`sweep`] now and then every `period`, logging failures.
pub async fn run(st: Arc<State>, period: Duration) {
    crate::runtime::every(period, "orphaned allocation records", || sweep(&st)).await;
}

/// Deletes every IPAddress and NetworkID whose claimer no longer exists with the claimed UID,
/// and drops the peering reports of Nodes that are gone from every Network (a stale `Pending`
/// or `Error` of a removed node would hold the peering forever); returns how many objects were
/// changed.
pub async fn sweep(st: &State) -> Result<usize> {
    let mut deleted = drop_reports_of_gone_nodes(st).await?;
    let addrs: Api<IPAddress> = Api::all(st.client.clone());
    for a in addrs.list(&ListParams::default()).await?.items {
        if !is_deleting(&a) && !claimer_exists(st, &a.spec.claim_ref).await? {
            deleted += delete_record(&addrs, &a.name_any(), &a.spec.claim_ref).await?;
        }
    }
    let ids: Api<NetworkID> = Api::all(st.client.clone());
    for id in ids.list(&ListParams::default()).await?.items {
        if !is_deleting(&id) && !claimer_exists(st, &id.spec.claim_ref).await? {
            deleted += delete_record(&ids, &id.name_any(), &id.spec.claim_ref).await?;
        }
    }
    Ok(deleted)
}

async fn delete_record<K>(api: &Api<K>, name: &str, claim: &ClaimRef) -> Result<usize>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {
            tracing::info!(record = %name, claimer = %claim.name, claimer_resource = %claim.resource, "deleted orphaned allocation record");
            Ok(1)
        }
        // Gone meanwhile, or the server saw a live claimer: nothing to do.
        Err(e) if is_not_found(&e) || is_conflict(&e) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Whether the object a claim reference names exists with the claimed UID. A reference without
/// resource or name cannot be checked and counts as existing.
async fn claimer_exists(st: &State, claim: &ClaimRef) -> Result<bool> {
    if claim.resource.is_empty() || claim.name.is_empty() {
        return Ok(true);
    }
    let group = if claim.group.is_empty() {
        apinet::GROUP
    } else {
        claim.group.as_str()
    };
    let version = if group == apinet::GROUP {
        apinet::VERSION
    } else {
        "v1"
    };
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, ""),
        &claim.resource,
    );
    let api: Api<DynamicObject> = if claim.namespace.is_empty() {
        Api::all_with(st.client.clone(), &ar)
    } else {
        Api::namespaced_with(st.client.clone(), &claim.namespace, &ar)
    };
    let found = api.get_opt(&claim.name).await?;
    Ok(found
        .is_some_and(|o| claim.uid.is_empty() || o.uid().as_deref() == Some(claim.uid.as_str())))
}

/// Removes `status.peerings[<node>]` entries whose Node no longer exists.
async fn drop_reports_of_gone_nodes(st: &State) -> Result<usize> {
    let nodes: std::collections::BTreeSet<String> = Api::<apinet::Node>::all(st.client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    let mut changed = 0;
    let nets: Api<apinet::Network> = Api::all(st.client.clone());
    for net in nets.list(&ListParams::default()).await?.items {
        let gone: serde_json::Map<String, serde_json::Value> = net
            .status
            .peerings
            .keys()
            .filter(|k| !nodes.contains(*k))
            .map(|k| (k.clone(), serde_json::Value::Null))
            .collect();
        if gone.is_empty() {
            continue;
        }
        let api: Api<apinet::Network> =
            Api::namespaced(st.client.clone(), &net.namespace().unwrap_or_default());
        let patch = serde_json::json!({"status": {"peerings": gone}});
        match api
            .patch_status(
                &net.name_any(),
                &super::field_manager(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => changed += 1,
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(network = %net.name_any(), nodes = ?gone.keys().collect::<Vec<_>>(), "dropped peering reports of nodes that are gone");
    }
    Ok(changed)
}
