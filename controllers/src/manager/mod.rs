//! `ironcore-controller-manager`: controllers that work on IronCore objects only
//! (networking-upstream.md §8).
//!
//! In this slice: [`protection`] (the network protection finalizer) and [`peering`]
//! (`spec.incomingPeerings` claims and their release).

pub mod ephemeral_virtualip;
pub mod loadbalancer;
pub mod peering;
pub mod protection;
pub mod release;

use std::time::Duration;

use ironcore_api::networking::Network;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

/// What the manager's controllers share.
#[derive(Clone)]
pub struct State {
    /// Client of the IronCore API.
    pub client: kube::Client,
    /// Resync period: each object is reconciled again after this long.
    pub resync: Duration,
}

/// The namespace of a peering target or claim: `namespace` or, when empty, `own`.
pub(crate) fn ns_or<'a>(namespace: &'a str, own: &'a str) -> &'a str {
    if namespace.is_empty() { own } else { namespace }
}

/// The Networks `net` names: its peering targets and its incoming claims.
pub(crate) fn related_networks(net: &Network) -> Vec<ObjectRef<Network>> {
    let own = net.namespace().unwrap_or_default();
    let targets = net.spec.peerings.iter().map(|p| {
        (
            ns_or(&p.network_ref.namespace, &own),
            p.network_ref.name.as_str(),
        )
    });
    let claims = net
        .spec
        .incoming_peerings
        .iter()
        .map(|c| (ns_or(&c.namespace, &own), c.name.as_str()));
    targets
        .chain(claims)
        .filter(|(_, name)| !name.is_empty())
        .map(|(ns, name)| ObjectRef::new(name).within(ns))
        .collect()
}
