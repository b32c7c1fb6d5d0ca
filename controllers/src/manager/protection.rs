//! `networkprotection`: keeps a Network while something still uses it
//! (networking-upstream.md §8.1).
//!
//! Every Network carries the finalizer [`FINALIZER`]. A deleting Network keeps it while, in its
//! namespace, a non-deleting NetworkInterface, LoadBalancer or NATGateway references it by
//! `spec.networkRef.name`, or while a non-deleting Network (in any namespace) lists it in
//! `spec.incomingPeerings`. Claims held by deleting Networks do not count, so two peered
//! Networks deleted together do not wait for each other.

use std::sync::Arc;
use std::time::Duration;

use ironcore_api::networking::{LoadBalancer, NATGateway, Network, NetworkInterface};
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::{State, ns_or, related_networks};
use crate::error::{Error, Result};
use crate::finalizer;

/// The finalizer this controller keeps on every Network.
pub const FINALIZER: &str = "networking.ironcore.dev/network";
/// The field manager of its writes.
pub const FIELD_MANAGER: &str = "networkprotection.networking.ironcore.dev";
/// How often a Network that is still in use is checked again.
const IN_USE_RECHECK: Duration = Duration::from_secs(5);

/// The controller: Networks, plus the objects that use them.
pub fn controller(client: &kube::Client) -> Controller<Network> {
    let wc = watcher::Config::default();
    Controller::new(Api::<Network>::all(client.clone()), wc.clone())
        .watches(
            Api::<NetworkInterface>::all(client.clone()),
            wc.clone(),
            |o| user_of(&o, &o.spec.network_ref.name),
        )
        .watches(Api::<LoadBalancer>::all(client.clone()), wc.clone(), |o| {
            user_of(&o, &o.spec.network_ref.name)
        })
        .watches(Api::<NATGateway>::all(client.clone()), wc.clone(), |o| {
            user_of(&o, &o.spec.network_ref.name)
        })
        .watches(Api::<Network>::all(client.clone()), wc, |n| {
            related_networks(&n)
        })
}

fn user_of<K: Resource>(obj: &K, network: &str) -> Option<ObjectRef<Network>> {
    let ns = obj.meta().namespace.as_deref()?;
    (!network.is_empty()).then(|| ObjectRef::new(network).within(ns))
}

/// Ensures the finalizer, or removes it from a deleting Network nothing uses any more.
pub async fn reconcile(net: Arc<Network>, state: Arc<State>) -> Result<Action> {
    let ns = net
        .namespace()
        .ok_or_else(|| Error::NotReady("network without namespace".into()))?;
    let api: Api<Network> = Api::namespaced(state.client.clone(), &ns);
    if !finalizer::is_deleting(net.as_ref()) {
        finalizer::add(&api, &net, FINALIZER, FIELD_MANAGER).await?;
        return Ok(Action::requeue(state.resync));
    }
    if !finalizer::has(net.as_ref(), FINALIZER) {
        return Ok(Action::await_change());
    }
    if let Some(user) = in_use(&state.client, &ns, &net.name_any()).await? {
        tracing::info!(network = %net.name_any(), namespace = %ns, %user, "network still in use");
        return Ok(Action::requeue(IN_USE_RECHECK));
    }
    finalizer::remove(&api, &net, FINALIZER, FIELD_MANAGER).await?;
    tracing::info!(network = %net.name_any(), namespace = %ns, "network released");
    Ok(Action::await_change())
}

/// Who still uses Network `ns/name`, if anyone.
async fn in_use(client: &kube::Client, ns: &str, name: &str) -> Result<Option<String>> {
    let lp = ListParams::default().fields(&format!("spec.networkRef.name={name}"));
    if let Some(u) = first_live::<NetworkInterface>(client, ns, &lp).await? {
        return Ok(Some(format!("NetworkInterface {u}")));
    }
    if let Some(u) = first_live::<LoadBalancer>(client, ns, &lp).await? {
        return Ok(Some(format!("LoadBalancer {u}")));
    }
    if let Some(u) = first_live::<NATGateway>(client, ns, &lp).await? {
        return Ok(Some(format!("NATGateway {u}")));
    }
    let networks = Api::<Network>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    for n in networks.items {
        if finalizer::is_deleting(&n) {
            continue;
        }
        let own = n.namespace().unwrap_or_default();
        if n.spec
            .incoming_peerings
            .iter()
            .any(|c| c.name == name && ns_or(&c.namespace, &own) == ns)
        {
            return Ok(Some(format!(
                "Network {own}/{} (peering claim)",
                n.name_any()
            )));
        }
    }
    Ok(None)
}

async fn first_live<K>(client: &kube::Client, ns: &str, lp: &ListParams) -> Result<Option<String>>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let list = Api::<K>::namespaced(client.clone(), ns).list(lp).await?;
    Ok(list
        .items
        .iter()
        .find(|o| !finalizer::is_deleting(*o))
        .map(|o| o.name_any()))
}
