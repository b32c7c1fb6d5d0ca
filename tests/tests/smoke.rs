//! The server starts on each backend and kubectl reaches it.

use ironcore_e2e::{Backend, EtcdProcess, ServerProcess, ok};

#[test]
fn kubectl_lists_the_networking_resources_on_the_embedded_store() {
    let s = ServerProcess::ironcore(Backend::Embedded);
    let out = ok(s.kubectl(&[
        "api-resources",
        "--api-group=networking.ironcore.dev",
        "-o",
        "name",
    ]));
    for r in [
        "networks",
        "networkinterfaces",
        "virtualips",
        "natgateways",
        "loadbalancers",
        "loadbalancerroutings",
        "networkpolicies",
    ] {
        assert!(
            out.contains(&format!("{r}.networking.ironcore.dev")),
            "{r} missing in {out}"
        );
    }
}

#[test]
fn kubectl_creates_and_gets_a_network_on_etcd() {
    let etcd = EtcdProcess::start().expect("etcd");
    let s = ServerProcess::ironcore(Backend::Etcd(etcd.endpoint()));
    let manifest = "apiVersion: networking.ironcore.dev/v1alpha1\nkind: Network\nmetadata:\n  name: n1\nspec: {}\n";
    ok(s.kubectl_with_input(&["create", "--validate=false", "-f", "-"], Some(manifest)));
    let out = ok(s.kubectl(&["get", "networks", "n1", "-o", "jsonpath={.metadata.name}"]));
    assert_eq!(out, "n1");
}
