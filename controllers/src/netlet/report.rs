//! What the netlet reports back: the status each apinet object should show after a sync.
//! Pure functions; the sync loop writes a status only when it differs from the stored one.

use std::collections::BTreeMap;

use ironcore_api::apinet;
use ironcore_api::apinet::networkinterface::{
    NETWORK_INTERFACE_STATE_ERROR, NETWORK_INTERFACE_STATE_PENDING, NETWORK_INTERFACE_STATE_READY,
    NetworkInterfaceStatus, TAPDevice,
};
use serde_json::{Value, json};

use super::config::InterfaceConfig;
use super::dataplane::{InterfaceReport, PeeringState};

/// How programming an interface went.
#[derive(Clone, Debug)]
pub enum InterfaceOutcome<'a> {
    /// Programmed as configured.
    Programmed(&'a InterfaceConfig, &'a InterfaceReport),
    /// The dataplane refused it.
    Failed,
    /// It cannot be programmed yet (its network has no VNI).
    Blocked,
}

/// The status an apinet NetworkInterface should show.
pub fn interface_status(outcome: &InterfaceOutcome<'_>) -> NetworkInterfaceStatus {
    match outcome {
        InterfaceOutcome::Programmed(cfg, report) => NetworkInterfaceStatus {
            state: NETWORK_INTERFACE_STATE_READY.to_owned(),
            pci_address: None,
            tap_device: Some(TAPDevice {
                name: report.tap_device.clone(),
            }),
            prefixes: cfg.prefixes.clone(),
            public_ips: cfg.public_ips.clone(),
            nat_ips: cfg.nat.iter().map(|n| n.ip.clone()).collect(),
        },
        InterfaceOutcome::Failed => NetworkInterfaceStatus {
            state: NETWORK_INTERFACE_STATE_ERROR.to_owned(),
            ..Default::default()
        },
        InterfaceOutcome::Blocked => NetworkInterfaceStatus {
            state: NETWORK_INTERFACE_STATE_PENDING.to_owned(),
            ..Default::default()
        },
    }
}

/// A JSON merge patch setting every field of `status` (empty lists and absent objects are
/// written explicitly, so stale values are cleared).
pub fn interface_status_patch(status: &NetworkInterfaceStatus) -> Value {
    json!({"status": {
        "state": status.state,
        "pciAddress": status.pci_address,
        "tapDevice": status.tap_device,
        "prefixes": status.prefixes,
        "publicIPs": status.public_ips,
        "natIPs": status.nat_ips,
    }})
}

/// This node's entry of an apinet Network's `status.peerings`: one `{id, state}` per
/// `spec.peerings` item, or `None` when the network has no peerings (the entry is removed).
/// `failed` marks every peering `Error` (the network could not be programmed).
pub fn peering_report(
    net: &apinet::Network,
    states: &BTreeMap<i32, PeeringState>,
    failed: bool,
) -> Option<Vec<apinet::network::NetworkPeeringStatus>> {
    if net.spec.peerings.is_empty() {
        return None;
    }
    Some(
        net.spec
            .peerings
            .iter()
            .filter_map(|p| p.id.parse::<i32>().ok())
            .map(|id| {
                let state = if failed {
                    apinet::network::NETWORK_PEERING_STATE_ERROR
                } else {
                    match states.get(&id) {
                        Some(PeeringState::Ready) => apinet::network::NETWORK_PEERING_STATE_READY,
                        _ => apinet::network::NETWORK_PEERING_STATE_PENDING,
                    }
                };
                apinet::network::NetworkPeeringStatus {
                    id,
                    state: state.to_owned(),
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlet::config::NatConfig;

    fn cfg() -> InterfaceConfig {
        InterfaceConfig {
            uid: "u".into(),
            network: "ns/net".into(),
            vni: 200,
            ips: vec!["10.1.0.1".parse().unwrap()],
            prefixes: vec!["10.2.0.0/24".parse().unwrap()],
            public_ips: vec!["10.0.0.7".parse().unwrap()],
            nat: Some(NatConfig {
                ip: "10.0.0.9".parse().unwrap(),
                port: 1024,
                end_port: 1087,
                gateway: "ns/gw".into(),
            }),
            load_balancer_targets: vec![],
            firewall_rules: vec![],
        }
    }

    #[test]
    fn a_programmed_interface_is_ready_with_its_public_nat_ips_and_tap() {
        let c = cfg();
        let r = InterfaceReport {
            tap_device: "tap0".into(),
        };
        let s = interface_status(&InterfaceOutcome::Programmed(&c, &r));
        assert_eq!(s.state, "Ready");
        assert_eq!(s.public_ips[0].to_string(), "10.0.0.7");
        assert_eq!(s.nat_ips[0].to_string(), "10.0.0.9");
        assert_eq!(s.prefixes[0].to_string(), "10.2.0.0/24");
        assert_eq!(s.tap_device.unwrap().name, "tap0");
    }

    #[test]
    fn failed_and_blocked_interfaces_are_error_and_pending_with_nothing_else() {
        let s = interface_status(&InterfaceOutcome::Failed);
        assert_eq!((s.state.as_str(), s.public_ips.len()), ("Error", 0));
        let s = interface_status(&InterfaceOutcome::Blocked);
        assert_eq!((s.state.as_str(), s.tap_device), ("Pending", None));
    }

    #[test]
    fn the_status_patch_clears_empty_fields_explicitly() {
        let p = interface_status_patch(&interface_status(&InterfaceOutcome::Blocked));
        assert_eq!(p["status"]["natIPs"], json!([]));
        assert_eq!(p["status"]["tapDevice"], Value::Null);
        assert!(p["status"].as_object().unwrap().contains_key("tapDevice"));
    }

    fn network(peerings: Value) -> apinet::Network {
        serde_json::from_value(json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1", "kind": "Network",
            "metadata": {"name": "n", "namespace": "ns"},
            "spec": {"id": "200", "peerings": peerings},
        }))
        .unwrap()
    }

    #[test]
    fn peering_report_lists_every_spec_peering_with_the_dataplane_state() {
        let net = network(json!([{"name": "a", "id": "201"}, {"name": "b", "id": "202"}]));
        let states = BTreeMap::from([(201, PeeringState::Ready), (202, PeeringState::Pending)]);
        let r = peering_report(&net, &states, false).unwrap();
        let got: Vec<(i32, &str)> = r.iter().map(|p| (p.id, p.state.as_str())).collect();
        assert_eq!(got, [(201, "Ready"), (202, "Pending")]);
        let r = peering_report(&net, &states, true).unwrap();
        assert!(r.iter().all(|p| p.state == "Error"));
    }

    #[test]
    fn a_network_without_peerings_reports_nothing() {
        assert_eq!(
            peering_report(&network(json!([])), &BTreeMap::new(), false),
            None
        );
    }
}
