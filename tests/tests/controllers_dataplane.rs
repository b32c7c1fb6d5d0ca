//! The whole system, from IronCore objects to what each node's dataplane records: every process
//! running (both API servers, ironcore-controller-manager, apinetlet, apinet-controller-manager,
//! netlets). NAT port slots of a NATGateway reach the interfaces they were given, load balancer
//! instances on two nodes route to exactly the selected interfaces, network policies become
//! firewall rules, and deleting everything leaves nothing behind on the apinet side or in any
//! dataplane.

mod controllers_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use controllers_support::{APINET_NAMESPACE, Options, Stack, eventually};
use futures::future::join_all;
use ironcore_api::{apinet, networking};
use ironcore_e2e::seed;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(120);

fn nic(name: &str, ip: &str, app: &str) -> networking::NetworkInterface {
    serde_json::from_value(json!({
        "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "NetworkInterface",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
        "spec": {"networkRef": {"name": "network-sample"}, "ipFamilies": ["IPv4"],
                 "ips": [{"value": ip}]},
    }))
    .expect("NetworkInterface")
}

async fn create_nics(client: &Client, names: impl Iterator<Item = usize>) {
    let api: Api<networking::NetworkInterface> = Api::namespaced(client.clone(), "default");
    let all: Vec<usize> = names.collect();
    for chunk in all.chunks(16) {
        join_all(chunk.iter().map(|i| {
            let api = api.clone();
            let obj = nic(
                &format!("nic-{i}"),
                &format!("10.1.{}.{}", i / 200, i % 200 + 1),
                "worker",
            );
            async move {
                api.create(&PostParams::default(), &obj)
                    .await
                    .expect("create NIC");
            }
        }))
        .await;
    }
}

async fn delete_nics(client: &Client, names: impl Iterator<Item = usize>) {
    let api: Api<networking::NetworkInterface> = Api::namespaced(client.clone(), "default");
    for i in names {
        api.delete(&format!("nic-{i}"), &DeleteParams::default())
            .await
            .expect("delete NIC");
    }
}

/// The NAT slot of each interface in every netlet's dataplane: name → (public IP, port, endPort).
fn nat_slots(stack: &Stack) -> BTreeMap<String, (String, i64, i64)> {
    let mut out = BTreeMap::new();
    for i in 0..stack.netlets.len() {
        let dp = stack.dataplane(i);
        for (k, nic) in dp["interfaces"].as_object().into_iter().flatten() {
            if let Some(nat) = nic["nat"].as_object() {
                out.insert(
                    k.clone(),
                    (
                        nat["ip"].as_str().unwrap_or_default().to_owned(),
                        nat["port"].as_i64().unwrap_or_default(),
                        nat["endPort"].as_i64().unwrap_or_default(),
                    ),
                );
            }
        }
    }
    out
}

fn assert_distinct(slots: &BTreeMap<String, (String, i64, i64)>) {
    let mut ranges: Vec<&(String, i64, i64)> = slots.values().collect();
    ranges.sort();
    for w in ranges.windows(2) {
        assert!(
            w[0].0 != w[1].0 || w[0].2 < w[1].1,
            "overlapping slots {:?} and {:?}",
            w[0],
            w[1]
        );
    }
    for (ip, port, end) in ranges {
        assert!(
            !ip.is_empty() && *port >= 1024 && *end == port + 63,
            "{ip} {port}-{end}"
        );
    }
}

#[tokio::test]
async fn nat_slots_of_100_interfaces_are_distinct_in_the_dataplane_and_freed_slots_are_reused() {
    let stack = Stack::start_with(Options {
        nodes: vec!["node-a".into(), "node-b".into()],
        apinet_manager: true,
        ..Default::default()
    });
    stack.ironcore.apply(&seed("network"));
    stack.ironcore.apply(&seed("natgateway"));
    let ic = stack.ironcore.client().await;
    create_nics(&ic, 0..100).await;

    let slots = eventually(TIMEOUT, "100 NAT slots programmed", || async {
        let s = nat_slots(&stack);
        (s.len() == 100).then_some(s)
    })
    .await;
    assert_distinct(&slots);
    let ips: BTreeSet<&String> = slots.values().map(|s| &s.0).collect();
    assert_eq!(
        ips.len(),
        1,
        "1008 slots per IP: one public IP serves 100 NICs"
    );
    assert!(
        stack.dataplane(0)["interfaces"].as_object().unwrap().len() > 10
            && stack.dataplane(1)["interfaces"].as_object().unwrap().len() > 10,
        "interfaces are spread over both nodes"
    );
    let gws: Api<networking::NATGateway> = Api::namespaced(ic.clone(), "default");
    let gw = eventually(TIMEOUT, "gateway status.ips", || {
        let gws = gws.clone();
        async move {
            let g = gws.get("natgateway-sample").await.ok()?;
            (g.status.ips.len() == 1).then_some(g)
        }
    })
    .await;
    assert_eq!(
        gw.status.ips[0]
            .ip
            .as_ref()
            .map(ToString::to_string)
            .as_ref(),
        ips.into_iter().next()
    );
    let nics: Api<networking::NetworkInterface> = Api::namespaced(ic.clone(), "default");
    let available = nics
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|n| n.status.state == "Available")
        .count();
    assert_eq!(available, 100);

    // Half of them go; their slots are free again and new interfaces take them.
    delete_nics(&ic, 0..50).await;
    let kept = eventually(TIMEOUT, "50 NAT slots left", || async {
        let s = nat_slots(&stack);
        (s.len() == 50).then_some(s)
    })
    .await;
    for (k, slot) in &kept {
        assert_eq!(slots.get(k), Some(slot), "{k} keeps its slot");
    }
    create_nics(&ic, 100..150).await;
    let after = eventually(TIMEOUT, "100 NAT slots again", || async {
        let s = nat_slots(&stack);
        (s.len() == 100).then_some(s)
    })
    .await;
    assert_distinct(&after);
    let before: BTreeSet<&(String, i64, i64)> = slots.values().collect();
    let now: BTreeSet<&(String, i64, i64)> = after.values().collect();
    assert_eq!(
        before, now,
        "the freed slots were reused, no new ones taken"
    );
}

#[tokio::test]
async fn load_balancer_instances_on_two_nodes_route_to_exactly_the_selected_interfaces() {
    let stack = Stack::start_with(Options {
        nodes: vec!["node-a".into(), "node-b".into()],
        node_labels: vec![
            vec!["topology.core.apinet.ironcore.dev/zone=zone-a".into()],
            vec!["topology.core.apinet.ironcore.dev/zone=zone-b".into()],
        ],
        apinet_manager: true,
        ..Default::default()
    });
    stack.ironcore.apply(&seed("network"));
    let ic = stack.ironcore.client().await;
    let api: Api<networking::NetworkInterface> = Api::namespaced(ic.clone(), "default");
    for (name, ip, app) in [
        ("web-1", "10.1.0.1", "web"),
        ("web-2", "10.1.0.2", "web"),
        ("db-1", "10.1.0.3", "db"),
    ] {
        api.create(&PostParams::default(), &nic(name, ip, app))
            .await
            .unwrap();
    }
    stack.ironcore.apply(&seed("loadbalancer"));

    let want: BTreeSet<String> = ["10.1.0.1", "10.1.0.2"].map(String::from).into();
    let instances: Api<apinet::Instance> =
        Api::namespaced(stack.apinet.client().await, APINET_NAMESPACE);
    for i in 0..2 {
        let lb = eventually(
            TIMEOUT,
            &format!("node {i} routes to the web NICs"),
            || async {
                let dp = stack.dataplane(i);
                let lbs = dp["loadBalancers"].as_object()?.clone();
                let (_, lb) = lbs.into_iter().next()?;
                let dests: BTreeSet<String> = lb["destinations"]
                    .as_array()?
                    .iter()
                    .filter_map(|d| d["ip"].as_str().map(String::from))
                    .collect();
                (dests == want).then_some(lb)
            },
        )
        .await;
        assert_eq!(lb["loadBalancerType"], "Public");
        assert_eq!(lb["ports"], json!([{"protocol": "TCP", "port": 80}]));
    }
    let ready = eventually(TIMEOUT, "two ready instances", || {
        let instances = instances.clone();
        async move {
            let items = instances.list(&ListParams::default()).await.ok()?.items;
            let ready: Vec<_> = items
                .into_iter()
                .filter(|i| !i.status.ips.is_empty() && i.spec.node_ref.is_some())
                .collect();
            (ready.len() == 2).then_some(ready)
        }
    })
    .await;
    let nodes: BTreeSet<String> = ready
        .iter()
        .filter_map(|i| i.spec.node_ref.as_ref().map(|n| n.name.clone()))
        .collect();
    assert_eq!(nodes, ["node-a", "node-b"].map(String::from).into());
    let lbs: Api<networking::LoadBalancer> = Api::namespaced(ic.clone(), "default");
    let lb = lbs.get("loadbalancer-sample").await.unwrap();
    assert_eq!(
        ready[0]
            .spec
            .ips
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        lb.status
            .ips
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        "the instances serve the load balancer's public IP"
    );
    // The web interfaces know the load balancer that routes to them; the db one does not.
    let mut targets = BTreeMap::new();
    for i in 0..2 {
        for (_, n) in stack.dataplane(i)["interfaces"].as_object().unwrap() {
            targets.insert(
                n["ips"][0].as_str().unwrap().to_owned(),
                n["loadBalancerTargets"].clone(),
            );
        }
    }
    let lb_ip = json!([lb.status.ips[0].to_string()]);
    assert_eq!(targets["10.1.0.1"], lb_ip);
    assert_eq!(targets["10.1.0.2"], lb_ip);
    assert_eq!(targets["10.1.0.3"], json!([]));
}

#[tokio::test]
async fn network_policy_becomes_firewall_rules_of_the_selected_interfaces() {
    let stack = Stack::start_with(Options::full());
    stack.ironcore.apply(
        "apiVersion: networking.ironcore.dev/v1alpha1\nkind: Network\nmetadata:\n  name: my-network\n",
    );
    let ic = stack.ironcore.client().await;
    let api: Api<networking::NetworkInterface> = Api::namespaced(ic.clone(), "default");
    for (name, ip, app) in [("db", "10.2.0.1", "db"), ("web", "10.2.0.2", "web")] {
        let mut n = nic(name, ip, app);
        n.spec.network_ref.name = "my-network".into();
        api.create(&PostParams::default(), &n).await.unwrap();
    }
    stack.ironcore.apply(&seed("networkpolicy"));
    let rules = eventually(TIMEOUT, "firewall rules on the db interface", || async {
        let dp = stack.dataplane(0);
        let ifs = dp["interfaces"].as_object()?.clone();
        let db = ifs.values().find(|n| n["ips"][0] == "10.2.0.1")?.clone();
        let rules = db["firewallRules"].as_array()?.clone();
        rules
            .iter()
            .any(|r| r["prefix"] == "10.2.0.2/32")
            .then_some(rules)
    })
    .await;
    let has = |dir: &str, prefix: &str, port: i64| {
        rules.iter().any(|r: &Value| {
            r["direction"] == dir
                && r["action"] == "Accept"
                && r["prefix"] == prefix
                && r["port"] == port
                && r["protocol"] == "TCP"
        })
    };
    assert!(has("Ingress", "172.17.0.0/16", 5432), "{rules:?}");
    assert!(has("Ingress", "10.2.0.2/32", 5432), "{rules:?}");
    assert!(has("Egress", "10.0.0.0/24", 8080), "{rules:?}");
    let dp = stack.dataplane(0);
    let web = dp["interfaces"]
        .as_object()
        .unwrap()
        .values()
        .find(|n| n["ips"][0] == "10.2.0.2")
        .unwrap()
        .clone();
    assert_eq!(
        web["firewallRules"],
        json!([]),
        "the policy selects db only"
    );
}

/// Names of every object of kind `K` (all namespaces), or `None` when the list failed.
async fn names<K>(client: &Client) -> Option<Vec<String>>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api: Api<K> = Api::all(client.clone());
    let list = api.list(&ListParams::default()).await.ok()?;
    Some(list.items.iter().map(|o| o.name_any()).collect())
}

#[tokio::test]
async fn deleting_everything_leaves_nothing_on_the_apinet_side_or_in_the_dataplane() {
    let stack = Stack::start_with(Options::full());
    for stem in [
        "network",
        "virtualip",
        "networkinterface",
        "natgateway",
        "loadbalancer",
    ] {
        stack.ironcore.apply(&seed(stem));
    }
    let ic = stack.ironcore.client().await;
    create_nics(&ic, 0..3).await;
    let nics: Api<networking::NetworkInterface> = Api::namespaced(ic.clone(), "default");
    eventually(TIMEOUT, "every NIC Available", || {
        let nics = nics.clone();
        async move {
            let items = nics.list(&ListParams::default()).await.ok()?.items;
            (items.len() == 4 && items.iter().all(|n| n.status.state == "Available")).then_some(())
        }
    })
    .await;
    eventually(TIMEOUT, "NAT and load balancer programmed", || async {
        let dp = stack.dataplane(0);
        let lbs = dp["loadBalancers"].as_object()?.len();
        let nats = dp["interfaces"]
            .as_object()?
            .values()
            .filter(|n| n["nat"].is_object())
            .count();
        (lbs == 1 && nats == 3).then_some(())
    })
    .await;

    for kind in [
        "loadbalancers",
        "natgateways",
        "networkinterfaces",
        "virtualips",
        "networks",
    ] {
        ironcore_e2e::ok(
            stack
                .ironcore
                .kubectl(&["delete", kind, "--all", "--wait=false"]),
        );
    }
    let an = stack.apinet.client().await;
    eventually(TIMEOUT, "nothing left on the apinet side", || {
        let an = an.clone();
        async move {
            let left = [
                names::<apinet::Network>(&an).await?,
                names::<apinet::NetworkID>(&an).await?,
                names::<apinet::IP>(&an).await?,
                names::<apinet::IPAddress>(&an).await?,
                names::<apinet::NetworkInterface>(&an).await?,
                names::<apinet::NATGateway>(&an).await?,
                names::<apinet::NATGatewayAutoscaler>(&an).await?,
                names::<apinet::NATTable>(&an).await?,
                names::<apinet::LoadBalancer>(&an).await?,
                names::<apinet::LoadBalancerRouting>(&an).await?,
                names::<apinet::DaemonSet>(&an).await?,
                names::<apinet::Instance>(&an).await?,
            ];
            left.iter().all(Vec::is_empty).then_some(())
        }
    })
    .await;
    eventually(TIMEOUT, "an empty dataplane", || async {
        let dp = stack.dataplane(0);
        let empty = ["networks", "interfaces", "loadBalancers"]
            .iter()
            .all(|k| dp[*k].as_object().is_some_and(|m| m.is_empty()));
        empty.then_some(())
    })
    .await;
    let left = nics.list(&ListParams::default()).await.unwrap().items;
    assert!(left.is_empty(), "IronCore objects gone: {left:?}");
}

/// The dataplane entry of the interface with internal IP `ip` on netlet 0.
fn interface_with_ip(stack: &Stack, ip: &str) -> Option<Value> {
    let dp = stack.dataplane(0);
    dp["interfaces"]
        .as_object()?
        .values()
        .find(|n| n["ips"][0] == ip)
        .cloned()
}

#[tokio::test]
async fn a_virtual_ip_replaces_the_nat_slot_and_its_removal_brings_nat_back() {
    let stack = Stack::start_with(Options::full());
    stack.ironcore.apply(&seed("network"));
    stack.ironcore.apply(&seed("natgateway"));
    stack.ironcore.apply(&seed("virtualip"));
    let ic = stack.ironcore.client().await;
    create_nics(&ic, 0..1).await;
    eventually(TIMEOUT, "a NAT slot", || async {
        interface_with_ip(&stack, "10.1.0.1").filter(|n| n["nat"].is_object())
    })
    .await;

    let nics: Api<networking::NetworkInterface> = Api::namespaced(ic.clone(), "default");
    let vips: Api<networking::VirtualIP> = Api::namespaced(ic.clone(), "default");
    let set_vip = |vip: Value| {
        let nics = nics.clone();
        async move {
            let patch = json!({"spec": {"virtualIP": vip}});
            nics.patch(
                "nic-0",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .expect("patch NIC");
        }
    };
    set_vip(json!({"virtualIPRef": {"name": "virtualip-sample"}})).await;
    let vip = eventually(TIMEOUT, "the virtual IP's address", || {
        let vips = vips.clone();
        async move { vips.get("virtualip-sample").await.ok()?.status.ip }
    })
    .await;
    let programmed = eventually(TIMEOUT, "the public IP instead of NAT", || async {
        interface_with_ip(&stack, "10.1.0.1")
            .filter(|n| n["publicIps"] == json!([vip.to_string()]) && n["nat"].is_null())
    })
    .await;
    assert_eq!(programmed["publicIps"][0], vip.to_string());

    set_vip(Value::Null).await;
    eventually(TIMEOUT, "NAT again, without the public IP", || async {
        interface_with_ip(&stack, "10.1.0.1")
            .filter(|n| n["publicIps"] == json!([]) && n["nat"].is_object())
    })
    .await;
    let released = vips.get("virtualip-sample").await.unwrap();
    assert_eq!(released.spec.target_ref, None, "the VirtualIP is released");
}
