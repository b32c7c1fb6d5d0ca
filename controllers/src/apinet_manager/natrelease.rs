//! `natrelease`: drops NAT claims of gateways that are gone (apinet-upstream.md §4.3).
//!
//! A NetworkInterface's `spec.natGateways` entry whose NATGateway (same namespace,
//! `claimRef.name`) does not exist or has another UID is removed (merge patch carrying the
//! NIC's `resourceVersion`). A change or deletion of a gateway re-checks the NICs it claims.

use std::collections::HashMap;
use std::sync::Arc;

use ironcore_api::apinet::{NATGateway, NetworkInterface, NetworkInterfaceNAT};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};

use super::natgateway::write_nats;
use super::{State, is_deleting, namespace_of};
use crate::error::Result;

/// The controller: NetworkInterfaces; NATGateways (→ the NICs they claim, also when deleted).
pub fn controller(client: &kube::Client) -> Controller<NetworkInterface> {
    let wc = watcher::Config::default();
    let ctrl = Controller::new(Api::<NetworkInterface>::all(client.clone()), wc.clone());
    let store = ctrl.store();
    ctrl.watches(Api::<NATGateway>::all(client.clone()), wc, move |gw| {
        let ns = gw.namespace();
        let uid = gw.uid().unwrap_or_default();
        store
            .state()
            .into_iter()
            .filter(|n| n.namespace() == ns && n.is_nat_claimed_by(&uid))
            .map(|n| ObjectRef::from_obj(n.as_ref()))
            .collect::<Vec<_>>()
    })
}

/// The entries of `nats` whose gateway is alive: `alive` maps a gateway name to its UID, or to
/// `None` when it does not exist.
pub fn kept_nats(
    nats: &[NetworkInterfaceNAT],
    alive: &HashMap<String, Option<String>>,
) -> Vec<NetworkInterfaceNAT> {
    nats.iter()
        .filter(|n| {
            alive
                .get(&n.claim_ref.name)
                .is_some_and(|uid| uid.as_deref() == Some(n.claim_ref.uid.as_str()))
        })
        .cloned()
        .collect()
}

/// Drops the NAT claims of gone gateways from one NIC.
pub async fn reconcile(nic: Arc<NetworkInterface>, st: Arc<State>) -> Result<Action> {
    if is_deleting(nic.as_ref()) || nic.spec.nats.is_empty() {
        return Ok(Action::await_change());
    }
    let ns = namespace_of(nic.as_ref())?;
    let gws: Api<NATGateway> = Api::namespaced(st.client.clone(), &ns);
    let mut alive: HashMap<String, Option<String>> = HashMap::new();
    for n in &nic.spec.nats {
        if !alive.contains_key(&n.claim_ref.name) {
            let uid = gws.get_opt(&n.claim_ref.name).await?.and_then(|g| g.uid());
            alive.insert(n.claim_ref.name.clone(), uid);
        }
    }
    let kept = kept_nats(&nic.spec.nats, &alive);
    if kept.len() != nic.spec.nats.len() {
        let nics: Api<NetworkInterface> = Api::namespaced(st.client.clone(), &ns);
        write_nats(&nics, &nic, &kept).await?;
        tracing::info!(networkinterface = %nic.name_any(), namespace = %ns, dropped = nic.spec.nats.len() - kept.len(), "NAT claims of gone gateways released");
    }
    Ok(Action::requeue(st.resync))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironcore_api::common::{IPFamily, LocalUIDReference};

    fn nat(family: IPFamily, name: &str, uid: &str) -> NetworkInterfaceNAT {
        NetworkInterfaceNAT {
            ip_family: family,
            claim_ref: LocalUIDReference {
                name: name.into(),
                uid: uid.into(),
            },
        }
    }

    #[test]
    fn only_claims_of_live_gateways_with_the_same_uid_are_kept() {
        let nats = vec![
            nat(IPFamily::IPv4, "gw", "u1"),
            nat(IPFamily::IPv6, "gw6", "u6"),
        ];
        let alive = HashMap::from([
            ("gw".to_owned(), Some("u1".to_owned())),
            ("gw6".to_owned(), None),
        ]);
        assert_eq!(kept_nats(&nats, &alive), nats[..1].to_vec());
        let replaced = HashMap::from([
            ("gw".to_owned(), Some("other".to_owned())),
            ("gw6".to_owned(), Some("u6".to_owned())),
        ]);
        assert_eq!(kept_nats(&nats, &replaced), nats[1..].to_vec());
    }
}
