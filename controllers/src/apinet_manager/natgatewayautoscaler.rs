//! `natgatewayautoscaler`: sizes a NATGateway's public IPs to its demand (apinet-upstream.md
//! §4.2, quirk 4 fixed).
//!
//! desired = `ceil(status.requestedNATIPs / slotsPerIP)`, clamped to
//! `[minPublicIPs, maxPublicIPs]`. Growing appends entries with fresh random names and no
//! address (the apinet-apiserver allocates one); shrinking drops entries from the end. The
//! gateway's `spec.ips` is written with a merge patch carrying its `resourceVersion`. An
//! autoscaler whose gateway is gone (its controller owner, or without one the gateway its
//! `natGatewayRef` names) is deleted.

use std::sync::Arc;

use ironcore_api::apinet::{NATGateway, NATGatewayAutoscaler, NATGatewayIP};
use kube::api::Patch;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::gc::delete_ignoring_gone;
use super::{State, controller_of, field_manager, is_deleting, namespace_of};
use crate::error::{Error, Result};

/// The alphabet of generated names (Kubernetes' `utilrand`).
pub const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// Length of generated IP entry names.
pub const NAME_LENGTH: usize = 10;

/// The controller: autoscalers; NATGateways (→ the autoscalers in the namespace referencing
/// them, also when a gateway is deleted).
pub fn controller(client: &kube::Client) -> Controller<NATGatewayAutoscaler> {
    let wc = watcher::Config::default();
    let ctrl = Controller::new(Api::<NATGatewayAutoscaler>::all(client.clone()), wc.clone());
    let store = ctrl.store();
    ctrl.watches(Api::<NATGateway>::all(client.clone()), wc, move |gw| {
        let ns = gw.namespace();
        let name = gw.name_any();
        store
            .state()
            .into_iter()
            .filter(|a| a.namespace() == ns && a.spec.nat_gateway_ref.name == name)
            .map(|a| ObjectRef::from_obj(a.as_ref()))
            .collect::<Vec<_>>()
    })
}

/// How many public IPs a gateway with `slots_per_ip` slots per IP needs for `requested` NICs,
/// within `[min, max]` (each bound only when set).
pub fn desired_ips(requested: i64, slots_per_ip: i32, min: Option<i32>, max: Option<i32>) -> i64 {
    let spi = i64::from(slots_per_ip.max(1));
    let mut desired = (requested.max(0) + spi - 1) / spi;
    if let Some(min) = min {
        desired = desired.max(i64::from(min));
    }
    if let Some(max) = max {
        desired = desired.min(i64::from(max));
    }
    desired
}

/// A random entry name not in `taken`.
pub fn random_name(taken: &[NATGatewayIP]) -> String {
    loop {
        let name: String = (0..NAME_LENGTH)
            .map(|_| char::from(NAME_ALPHABET[fastrand::usize(..NAME_ALPHABET.len())]))
            .collect();
        if !taken.iter().any(|i| i.name == name) {
            return name;
        }
    }
}

/// `ips` resized to `desired` entries: new random-named entries appended, or entries dropped
/// from the end.
pub fn resize(ips: &[NATGatewayIP], desired: usize) -> Vec<NATGatewayIP> {
    let mut out: Vec<NATGatewayIP> = ips.iter().take(desired).cloned().collect();
    while out.len() < desired {
        let name = random_name(&out);
        out.push(NATGatewayIP { name, ip: None });
    }
    out
}

/// Resizes the public IPs of the autoscaler's gateway; deletes the autoscaler when its gateway
/// is gone.
pub async fn reconcile(a: Arc<NATGatewayAutoscaler>, st: Arc<State>) -> Result<Action> {
    if is_deleting(a.as_ref()) {
        return Ok(Action::await_change());
    }
    let ns = namespace_of(a.as_ref())?;
    let name = a.name_any();
    let gws: Api<NATGateway> = Api::namespaced(st.client.clone(), &ns);
    let gw_name = a.spec.nat_gateway_ref.name.clone();
    let gw = if gw_name.is_empty() {
        None
    } else {
        gws.get_opt(&gw_name).await?
    };
    let owner_uid = controller_of::<NATGateway, _>(a.as_ref()).map(|r| r.uid.clone());
    let gone = match (&gw, &owner_uid) {
        (None, _) => true,
        (Some(g), Some(uid)) => g.uid().as_deref() != Some(uid.as_str()),
        (Some(_), None) => false,
    };
    if gone {
        delete_ignoring_gone(
            &Api::<NATGatewayAutoscaler>::namespaced(st.client.clone(), &ns),
            &name,
        )
        .await?;
        tracing::info!(autoscaler = %name, namespace = %ns, natgateway = %gw_name, "deleted autoscaler of a gone NAT gateway");
        return Ok(Action::await_change());
    }
    let Some(gw) = gw else {
        return Ok(Action::await_change());
    };
    if is_deleting(&gw) {
        return Ok(Action::await_change());
    }
    let spi = gw.slots_per_ip();
    if spi <= 0 {
        tracing::warn!(autoscaler = %name, natgateway = %gw_name, ports_per_network_interface = gw.spec.ports_per_network_interface, "invalid portsPerNetworkInterface: not scaling");
        return Ok(Action::requeue(st.resync));
    }
    let desired = desired_ips(
        gw.status.requested_nat_ips,
        spi,
        a.spec.min_public_ips,
        a.spec.max_public_ips,
    );
    let desired = usize::try_from(desired).unwrap_or(0);
    if desired == gw.spec.ips.len() {
        return Ok(Action::requeue(st.resync));
    }
    let ips = resize(&gw.spec.ips, desired);
    let patch = json!({
        "metadata": { "resourceVersion": gw.resource_version() },
        "spec": {
            "ips": serde_json::to_value(&ips).map_err(|e| Error::NotReady(e.to_string()))?,
        },
    });
    gws.patch(&gw_name, &field_manager(), &Patch::Merge(&patch))
        .await?;
    tracing::info!(autoscaler = %name, namespace = %ns, natgateway = %gw_name, from = gw.spec.ips.len(), to = desired, requested = gw.status.requested_nat_ips, "NAT gateway public IPs resized");
    Ok(Action::requeue(st.resync))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_is_the_ceiling_within_bounds() {
        assert_eq!(desired_ips(100, 1008, Some(1), Some(10)), 1);
        assert_eq!(desired_ips(100, 31, Some(1), Some(10)), 4);
        assert_eq!(desired_ips(93, 31, None, None), 3);
        assert_eq!(desired_ips(94, 31, None, None), 4);
        assert_eq!(desired_ips(0, 31, Some(1), Some(10)), 1);
        assert_eq!(desired_ips(0, 31, None, None), 0);
        assert_eq!(desired_ips(1000, 31, Some(1), Some(10)), 10);
    }

    #[test]
    fn resize_appends_random_names_and_drops_from_the_end() {
        let ips = vec![
            NATGatewayIP {
                name: "a".into(),
                ip: Some("1.1.1.1".parse().unwrap()),
            },
            NATGatewayIP {
                name: "b".into(),
                ip: None,
            },
        ];
        let grown = resize(&ips, 4);
        assert_eq!(grown.len(), 4);
        assert_eq!(&grown[..2], &ips[..]);
        for n in &grown[2..] {
            assert_eq!(n.name.len(), NAME_LENGTH);
            assert!(n.name.bytes().all(|b| NAME_ALPHABET.contains(&b)));
            assert!(n.ip.is_none());
        }
        assert_ne!(grown[2].name, grown[3].name);
        assert_eq!(resize(&ips, 1), ips[..1].to_vec());
        assert!(resize(&ips, 0).is_empty());
    }
}
