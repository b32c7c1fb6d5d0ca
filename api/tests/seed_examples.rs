//! The examples of the user's description (`seeds/networking-resources.txt`), as YAML under
//! `docs/examples/` (and the reconciled shapes in `tests/seed/`): each parses, keeps every field it gives, and is valid once defaulted.

use ironcore_api::ApiKind;
use ironcore_api::networking::{
    LoadBalancer, LoadBalancerRouting, NATGateway, Network, NetworkInterface, NetworkPolicy,
    VirtualIP,
};
use serde_json::Value;

/// Parses a seed example, checks that serializing it loses no field, puts it into namespace
/// `default` when it names none, applies defaults and asserts that it is valid.
fn load<K: ApiKind>(yaml: &str) -> K {
    let mut obj: K = serde_saphyr::from_str(yaml).expect("seed example parses");
    let given: Value = serde_saphyr::from_str(yaml).expect("seed example parses as a tree");
    let emitted = serde_json::to_value(&obj).expect("serializes");
    assert_contains(&emitted, &given, "");
    if obj.meta().namespace.is_none() {
        obj.meta_mut().namespace = Some("default".to_owned());
    }
    obj.set_defaults();
    let errs = obj.validate_create_all();
    assert!(errs.is_empty(), "seed example is invalid: {errs:#?}");
    obj
}

/// Asserts that every field of `given` is in `emitted` with the same value.
fn assert_contains(emitted: &Value, given: &Value, path: &str) {
    match (emitted, given) {
        (Value::Object(e), Value::Object(g)) => {
            for (k, gv) in g {
                let ev = e
                    .get(k)
                    .unwrap_or_else(|| panic!("field {path}.{k} was dropped"));
                assert_contains(ev, gv, &format!("{path}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(g)) => {
            assert_eq!(e.len(), g.len(), "list {path} changed length");
            for (i, (ev, gv)) in e.iter().zip(g).enumerate() {
                assert_contains(ev, gv, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(emitted, given, "field {path} changed"),
    }
}

fn cells<K: ApiKind>(obj: &K) -> Vec<Value> {
    obj.table_cells()
}

#[test]
fn network_example_is_valid() {
    let net: Network = load(include_str!("../../docs/examples/network.yaml"));
    assert_eq!(net.spec.peerings[0].name, "peering1");
    assert_eq!(net.spec.peerings[0].network_ref.name, "network-sample2");
}

#[test]
fn reconciled_network_example_is_valid_and_a_valid_update() {
    let old: Network = load(include_str!("../../docs/examples/network.yaml"));
    let net: Network = load(include_str!("seed/network-reconciled.yaml"));
    assert_eq!(net.status.state, "Available");
    assert_eq!(net.status.peerings[0].name, "peering1");
    assert_eq!(net.status.peerings[0].state, "Ready");
    assert_eq!(net.spec.incoming_peerings[0].name, "network-sample2");
    assert!(
        net.spec
            .provider_id
            .starts_with("ironcore-net://ironcore-net-system/")
    );
    let errs = net.validate_update_all(&old);
    assert!(errs.is_empty(), "{errs:#?}");
    assert_eq!(
        cells(&net)[..2],
        [
            Value::from("Available"),
            Value::from(net.spec.provider_id.as_str())
        ]
    );
}

#[test]
fn network_interface_example_is_valid_and_pending() {
    let nic: NetworkInterface = load(include_str!("../../docs/examples/networkinterface.yaml"));
    let ips = nic.spec.ips.as_deref().unwrap_or_default();
    assert_eq!(
        ips[0].value.as_ref().map(ToString::to_string).as_deref(),
        Some("10.0.0.1")
    );
    assert_eq!(nic.status.state, "Pending");
    assert_eq!(
        nic.field_label("spec.networkRef.name").as_deref(),
        Some("network-sample")
    );
}

#[test]
fn reconciled_network_interface_example_is_valid_and_a_valid_update() {
    let old: NetworkInterface = load(include_str!("../../docs/examples/networkinterface.yaml"));
    let nic: NetworkInterface = load(include_str!("seed/networkinterface-reconciled.yaml"));
    assert_eq!(nic.status.state, "Available");
    assert_eq!(nic.status.ips[0].to_string(), "10.0.0.1");
    assert_eq!(
        nic.status
            .virtual_ip
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("172.89.244.23")
    );
    assert!(nic.status.last_state_transition_time.is_some());
    let errs = nic.validate_update_all(&old);
    assert!(errs.is_empty(), "{errs:#?}");
    assert_eq!(
        cells(&nic)[..6],
        [
            Value::from("network-sample"),
            Value::from("<none>"),
            Value::from("10.0.0.1"),
            Value::from("<none>"),
            Value::from("172.89.244.23"),
            Value::from("Available"),
        ]
    );
}

#[test]
fn virtual_ip_example_is_valid() {
    let vip: VirtualIP = load(include_str!("../../docs/examples/virtualip.yaml"));
    assert_eq!(vip.spec.type_, "Public");
}

#[test]
fn reconciled_virtual_ip_example_shows_its_ip() {
    let vip: VirtualIP = load(include_str!("seed/virtualip-reconciled.yaml"));
    assert_eq!(
        vip.status.ip.as_ref().map(ToString::to_string).as_deref(),
        Some("10.0.0.1")
    );
    assert_eq!(cells(&vip)[0], Value::from("10.0.0.1"));
}

#[test]
fn nat_gateway_example_is_valid() {
    let ngw: NATGateway = load(include_str!("../../docs/examples/natgateway.yaml"));
    assert_eq!(ngw.spec.ports_per_network_interface, Some(64));
    assert_eq!(
        ngw.field_label("spec.networkRef.name").as_deref(),
        Some("network-sample")
    );
}

#[test]
fn reconciled_nat_gateway_example_has_named_ips() {
    let ngw: NATGateway = load(include_str!("seed/natgateway-reconciled.yaml"));
    assert_eq!(ngw.status.ips[0].name, "ip1");
    assert_eq!(
        ngw.status.ips[0]
            .ip
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("10.0.0.1")
    );
    assert_eq!(cells(&ngw)[0], Value::from("10.0.0.1"));
}

#[test]
fn load_balancer_example_is_valid_with_tcp_default() {
    let lb: LoadBalancer = load(include_str!("../../docs/examples/loadbalancer.yaml"));
    assert_eq!(lb.spec.ports[0].port, 80);
    assert_eq!(lb.spec.ports[0].protocol.as_deref(), Some("TCP"));
    assert_eq!(
        lb.field_label("spec.networkRef.name").as_deref(),
        Some("network-sample")
    );
}

#[test]
fn load_balancer_routing_example_is_valid() {
    let lbr: LoadBalancerRouting =
        load(include_str!("../../docs/examples/loadbalancerrouting.yaml"));
    assert_eq!(lbr.network_ref.name, "network-sample");
    let dests = lbr.destinations.as_deref().unwrap_or_default();
    assert_eq!(dests.len(), 2);
    assert_eq!(dests[1].uid, "2020dcf9-e030-427e-b0fc-4fec2016e73d");
    assert_eq!(
        lbr.field_label("networkRef.name").as_deref(),
        Some("network-sample")
    );
    assert_eq!(
        cells(&lbr)[0],
        Value::from("my-machine-interface-1,my-machine-interface-2")
    );
}

#[test]
fn network_policy_example_is_valid() {
    let np: NetworkPolicy = load(include_str!("../../docs/examples/networkpolicy.yaml"));
    assert_eq!(np.spec.policy_types, ["Ingress", "Egress"]);
    assert_eq!(np.spec.ingress[0].from.len(), 3);
    assert_eq!(np.spec.egress[0].ports[0].port, 8080);
    assert_eq!(
        cells(&np)[..2],
        [Value::from("my-network"), Value::from("app=db")]
    );
}
