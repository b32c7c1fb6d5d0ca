//! The apinet controller-manager on the apinet layer alone (apinet-upstream.md §4): NAT
//! gateways hand every requesting NetworkInterface a distinct, non-overlapping port slot, record
//! it in their NATTable and grow their public IPs with demand (ceil of requesting NICs / slots
//! per IP); freed slots are reused; a deleted gateway leaves no table, claim or autoscaler
//! behind. A LoadBalancer runs one scheduled Instance per Node through its DaemonSet, template
//! IP changes reach the Instances, and deleting it removes DaemonSet and Instances. Deleting
//! everything leaves no allocation record, NAT table or Instance.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ironcore_api::apinet::{
    DaemonSet, IP, IPAddress, Instance, LoadBalancer, NATGateway, NATGatewayAutoscaler, NATTable,
    Network, NetworkID, NetworkInterface, Node,
};
use ironcore_e2e::{Backend, ControllerProcess, ServerProcess};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

const API_VERSION: &str = "core.apinet.ironcore.dev/v1alpha1";
const NS: &str = "default";
const TIMEOUT: Duration = Duration::from_secs(40);

/// The apinet server and the controller-manager.
struct Env {
    // Field order: the manager stops before the server.
    manager: ControllerProcess,
    _server: ServerProcess,
    client: Client,
}

async fn start() -> Env {
    let server = ServerProcess::start(
        "apinet-apiserver",
        Backend::Embedded,
        &["--public-prefix=10.0.0.0/24"],
    );
    let manager = ControllerProcess::start(
        "apinet-controller-manager",
        &[
            format!("--kubeconfig={}", server.kubeconfig().display()),
            "--backoff-base-ms=50".into(),
            "--backoff-max-seconds=2".into(),
            "--orphan-sweep-seconds=1".into(),
        ],
    );
    let client = server.client().await;
    Env {
        manager,
        _server: server,
        client,
    }
}

/// Asserts that the manager logs no further `message` within two seconds (it writes only when
/// something differs).
async fn assert_quiet(manager: &ControllerProcess, message: &str) {
    let count = || manager.log().matches(message).count();
    let before = count();
    assert!(before > 0, "{message:?} never logged");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(), before, "{message:?} logged again without a change");
}

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("typed object")
}

/// Polls `check` every 100 ms until it returns `Some`, panicking with `what` after `timeout`.
async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create<K>(api: &Api<K>, obj: Value) -> K
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.create(&PostParams::default(), &typed::<K>(obj))
        .await
        .expect("create")
}

async fn network(c: &Client, name: &str) -> Network {
    create(
        &Api::namespaced(c.clone(), NS),
        json!({"apiVersion": API_VERSION, "kind": "Network", "metadata": {"name": name}}),
    )
    .await
}

async fn node(c: &Client, name: &str) -> Node {
    create(
        &Api::all(c.clone()),
        json!({"apiVersion": API_VERSION, "kind": "Node", "metadata": {"name": name,
            "labels": {"topology.core.apinet.ironcore.dev/partition": name}}}),
    )
    .await
}

/// NIC `nic-<i>` with internal IP `10.1.<i/250>.<i%250+1>` in `net`.
async fn nic(c: &Client, net: &str, i: usize) -> NetworkInterface {
    create(
        &Api::namespaced(c.clone(), NS),
        json!({"apiVersion": API_VERSION, "kind": "NetworkInterface",
            "metadata": {"name": format!("nic-{i}")},
            "spec": {"nodeRef": {"name": "node-a"}, "networkRef": {"name": net},
                     "ips": [format!("10.1.{}.{}", i / 250, i % 250 + 1)]}}),
    )
    .await
}

/// NAT gateway `name` (IPv4, no IPs) with an autoscaler (1..=10) controlled by it.
async fn nat_gateway(c: &Client, name: &str, net: &str, ppni: i32) -> NATGateway {
    let gw: NATGateway = create(
        &Api::namespaced(c.clone(), NS),
        json!({"apiVersion": API_VERSION, "kind": "NATGateway", "metadata": {"name": name},
            "spec": {"ipFamily": "IPv4", "networkRef": {"name": net},
                     "portsPerNetworkInterface": ppni}}),
    )
    .await;
    let _: NATGatewayAutoscaler = create(
        &Api::namespaced(c.clone(), NS),
        json!({"apiVersion": API_VERSION, "kind": "NATGatewayAutoscaler",
            "metadata": {"name": name, "ownerReferences": [{"apiVersion": API_VERSION,
                "kind": "NATGateway", "name": name, "uid": gw.uid().unwrap(),
                "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"natGatewayRef": {"name": name}, "minPublicIPs": 1, "maxPublicIPs": 10}}),
    )
    .await;
    gw
}

/// Checks that every NIC in `nics` (by name) holds a distinct, non-overlapping slot of `gw`
/// recorded in its NATTable, that nothing else is in the table, and that the gateway has
/// `want_ips` allocated public IPs; returns the (public IP, port) of each NIC.
async fn nat_consistent(
    c: &Client,
    gw_name: &str,
    nics: &BTreeSet<String>,
    ppni: i32,
    want_ips: usize,
) -> Option<HashMap<String, (String, i32)>> {
    let gw = Api::<NATGateway>::namespaced(c.clone(), NS)
        .get(gw_name)
        .await
        .ok()?;
    let gw_uid = gw.uid()?;
    let gw_ips: BTreeSet<String> = gw
        .spec
        .ips
        .iter()
        .filter_map(|i| i.ip.as_ref().map(|ip| ip.to_string()))
        .collect();
    if gw.spec.ips.len() != want_ips || gw_ips.len() != want_ips {
        return None;
    }
    let table = Api::<NATTable>::namespaced(c.clone(), NS)
        .get_opt(gw_name)
        .await
        .ok()??;
    let all = Api::<NetworkInterface>::namespaced(c.clone(), NS)
        .list(&ListParams::default())
        .await
        .ok()?
        .items;
    let by_uid: HashMap<String, &NetworkInterface> = all
        .iter()
        .map(|n| (n.uid().unwrap_or_default(), n))
        .collect();
    let mut slots: HashMap<String, (String, i32)> = HashMap::new();
    let mut taken: BTreeMap<String, Vec<(i32, i32)>> = BTreeMap::new();
    for nat_ip in &table.ips {
        let ip = nat_ip.ip.as_ref()?.to_string();
        assert!(gw_ips.contains(&ip), "table IP {ip} not a gateway IP");
        for s in &nat_ip.sections {
            let target = s.target_ref.as_ref()?;
            let n = by_uid.get(&target.uid)?;
            if n.name_any() != target.name || s.ip.as_ref() != n.spec.ips.first() {
                return None;
            }
            assert_eq!(s.end_port - s.port + 1, ppni, "section width");
            assert!(s.port >= 1024 && s.end_port <= 65535);
            assert_eq!((s.port - 1024) % ppni, 0, "aligned slot");
            taken
                .entry(ip.clone())
                .or_default()
                .push((s.port, s.end_port));
            slots.insert(target.name.clone(), (ip.clone(), s.port));
        }
    }
    for ranges in taken.values_mut() {
        ranges.sort();
        for w in ranges.windows(2) {
            assert!(w[0].1 < w[1].0, "overlapping sections {w:?}");
        }
    }
    let claimed: BTreeSet<String> = all
        .iter()
        .filter(|n| n.is_nat_claimed_by(&gw_uid))
        .map(|n| n.name_any())
        .collect();
    let in_table: BTreeSet<String> = slots.keys().cloned().collect();
    let used = usize::try_from(gw.status.used_nat_ips).ok()?;
    let requested = usize::try_from(gw.status.requested_nat_ips).ok()?;
    (claimed == *nics && in_table == *nics && used == nics.len() && requested == nics.len())
        .then_some(slots)
}

#[tokio::test]
async fn nat_gateway_gives_every_nic_a_distinct_slot_reuses_freed_ones_and_cleans_up() {
    let env = start().await;
    let c = &env.client;
    network(c, "net").await;
    let mut names = BTreeSet::new();
    for i in 0..100 {
        names.insert(nic(c, "net", i).await.name_any());
    }
    // A NIC in another network and one with a public IP of the family are not claimed.
    create::<NetworkInterface>(
        &Api::namespaced(c.clone(), NS),
        json!({"apiVersion": API_VERSION, "kind": "NetworkInterface",
            "metadata": {"name": "elsewhere"},
            "spec": {"nodeRef": {"name": "node-a"}, "networkRef": {"name": "other"},
                     "ips": ["10.9.0.1"]}}),
    )
    .await;
    create::<NetworkInterface>(
        &Api::namespaced(c.clone(), NS),
        json!({"apiVersion": API_VERSION, "kind": "NetworkInterface",
            "metadata": {"name": "public"},
            "spec": {"nodeRef": {"name": "node-a"}, "networkRef": {"name": "net"},
                     "ips": ["10.9.0.2"], "publicIPs": [{"name": "ip", "ipFamily": "IPv4"}]}}),
    )
    .await;
    let gw = nat_gateway(c, "gw", "net", 64).await;

    // 100 NICs, 1008 slots per IP: one IP.
    let before = eventually(TIMEOUT, "100 NICs with distinct slots on 1 IP", || {
        nat_consistent(c, "gw", &names, 64, 1)
    })
    .await;

    // Delete half; their slots are freed, the others keep theirs; new NICs fill in.
    let nics: Api<NetworkInterface> = Api::namespaced(c.clone(), NS);
    for i in (0..100).step_by(2) {
        let name = format!("nic-{i}");
        nics.delete(&name, &DeleteParams::default())
            .await
            .expect("delete NIC");
        names.remove(&name);
    }
    let half = eventually(TIMEOUT, "50 NICs keep their slots", || {
        nat_consistent(c, "gw", &names, 64, 1)
    })
    .await;
    for (name, slot) in &half {
        assert_eq!(Some(slot), before.get(name), "{name} kept its slot");
    }
    for i in 100..130 {
        names.insert(nic(c, "net", i).await.name_any());
    }
    let after = eventually(TIMEOUT, "80 NICs with distinct slots", || {
        nat_consistent(c, "gw", &names, 64, 1)
    })
    .await;
    let max_port = after.values().map(|(_, p)| *p).max().unwrap_or(0);
    assert!(
        max_port < 1024 + 100 * 64,
        "new NICs reuse freed slots (highest port {max_port})"
    );

    // Deleting the gateway removes its table, its claims and its autoscaler.
    Api::<NATGateway>::namespaced(c.clone(), NS)
        .delete("gw", &DeleteParams::default())
        .await
        .expect("delete gateway");
    let gw_uid = gw.uid().unwrap();
    eventually(TIMEOUT, "table, claims and autoscaler gone", || async {
        let table = Api::<NATTable>::namespaced(c.clone(), NS)
            .get_opt("gw")
            .await
            .ok()?;
        let autoscaler = Api::<NATGatewayAutoscaler>::namespaced(c.clone(), NS)
            .get_opt("gw")
            .await
            .ok()?;
        let claimed = nics
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .iter()
            .any(|n| n.is_nat_claimed_by(&gw_uid));
        (table.is_none() && autoscaler.is_none() && !claimed).then_some(())
    })
    .await;
}

#[tokio::test]
async fn nat_gateway_grows_to_the_ceiling_of_nics_per_ip() {
    let env = start().await;
    let c = &env.client;
    let mut names = BTreeSet::new();
    for i in 0..100 {
        names.insert(nic(c, "net", i).await.name_any());
    }
    nat_gateway(c, "gw", "net", 2048).await;
    // 31 slots per IP: ceil(100 / 31) = 4 IPs, and every NIC fits.
    eventually(TIMEOUT, "100 NICs on 4 IPs", || {
        nat_consistent(c, "gw", &names, 2048, 4)
    })
    .await;
    assert_quiet(&env.manager, "NAT table written").await;
    assert_quiet(&env.manager, "NAT gateway public IPs resized").await;
}

/// A Public LoadBalancer `lb` (one IPv4 address) selecting and labelling `app=lb`.
fn load_balancer() -> Value {
    json!({"apiVersion": API_VERSION, "kind": "LoadBalancer", "metadata": {"name": "lb"},
        "spec": {"type": "Public", "networkRef": {"name": "net"},
                 "ips": [{"name": "ip-1", "ipFamily": "IPv4"}],
                 "ports": [{"protocol": "TCP", "port": 80}],
                 "selector": {"matchLabels": {"app": "lb"}},
                 "template": {"metadata": {"labels": {"app": "lb"},
                                           "annotations": {"note": "kept"}},
                              "spec": {}}}})
}

/// The Instances of `ds_uid`, when there is exactly one per node in `nodes`, each scheduled
/// (nodeRef set) and carrying `ips`.
async fn instances_per_node(
    c: &Client,
    ds_uid: &str,
    nodes: &[&str],
    ips: &[String],
) -> Option<Vec<Instance>> {
    let items = Api::<Instance>::namespaced(c.clone(), NS)
        .list(&ListParams::default())
        .await
        .ok()?
        .items;
    let mine: Vec<Instance> = items
        .into_iter()
        .filter(|i| i.owner_references().iter().any(|r| r.uid == ds_uid))
        .collect();
    let mut on: Vec<String> = mine
        .iter()
        .filter_map(|i| i.spec.node_ref.as_ref().map(|r| r.name.clone()))
        .collect();
    on.sort();
    let got_ips = mine.iter().all(|i| {
        i.spec
            .ips
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            == ips
    });
    (mine.len() == nodes.len() && on == nodes && got_ips).then_some(mine)
}

#[tokio::test]
async fn load_balancer_runs_one_scheduled_instance_per_node_and_is_cleaned_up() {
    let env = start().await;
    let c = &env.client;
    network(c, "net").await;
    node(c, "node-a").await;
    node(c, "node-b").await;
    let lbs: Api<LoadBalancer> = Api::namespaced(c.clone(), NS);
    let lb = create::<LoadBalancer>(&lbs, load_balancer()).await;
    let ip = lb.spec.ips[0].ip.as_ref().expect("allocated").to_string();

    let dss: Api<DaemonSet> = Api::namespaced(c.clone(), NS);
    let ds = eventually(TIMEOUT, "DaemonSet lb-lb", || async {
        dss.get_opt("lb-lb").await.ok()?
    })
    .await;
    assert!(
        ds.owner_references()
            .iter()
            .any(|r| r.uid == lb.uid().unwrap() && r.controller == Some(true))
    );
    let t = &ds.spec.template;
    assert_eq!(t.spec.type_, "LoadBalancer");
    assert_eq!(t.spec.load_balancer_type, "Public");
    assert_eq!(t.spec.network_ref.name, "net");
    assert_eq!(t.spec.load_balancer_ports, lb.spec.ports);
    assert_eq!(
        t.metadata.annotations,
        lb.spec.template.metadata.annotations
    );
    assert_eq!(ds.spec.selector, lb.spec.selector);
    let ds_uid = ds.uid().unwrap();

    let first = eventually(TIMEOUT, "one scheduled Instance per node", || {
        instances_per_node(c, &ds_uid, &["node-a", "node-b"], std::slice::from_ref(&ip))
    })
    .await;
    assert_quiet(&env.manager, "load balancer daemon set written").await;
    assert_quiet(&env.manager, "instance scheduled").await;
    for i in &first {
        assert!(
            i.labels()
                .contains_key("apinet.ironcore.dev/controller-revision-hash")
        );
        assert_eq!(i.labels()["app"], "lb");
    }

    // A second address reaches the DaemonSet and the same Instances.
    let patched = lbs
        .patch(
            "lb",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"ips": [{"name": "ip-1", "ipFamily": "IPv4", "ip": ip},
                                                  {"name": "ip-2", "ipFamily": "IPv4"}]}}),
            ),
        )
        .await
        .expect("add an IP");
    let ips: Vec<String> = patched
        .spec
        .ips
        .iter()
        .map(|i| i.ip.as_ref().expect("allocated").to_string())
        .collect();
    let second = eventually(TIMEOUT, "template IPs propagated", || {
        instances_per_node(c, &ds_uid, &["node-a", "node-b"], &ips)
    })
    .await;
    let uids = |v: &[Instance]| v.iter().map(|i| i.uid()).collect::<BTreeSet<_>>();
    assert_eq!(uids(&first), uids(&second), "updated in place");

    lbs.delete("lb", &DeleteParams::default())
        .await
        .expect("delete LB");
    eventually(TIMEOUT, "DaemonSet and Instances gone", || async {
        let ds = dss.get_opt("lb-lb").await.ok()?;
        let left = Api::<Instance>::namespaced(c.clone(), NS)
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .len();
        (ds.is_none() && left == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn nothing_is_left_after_deleting_everything() {
    let env = start().await;
    let c = &env.client;
    network(c, "net").await;
    node(c, "node-a").await;
    let mut names = BTreeSet::new();
    for i in 0..10 {
        names.insert(nic(c, "net", i).await.name_any());
    }
    nat_gateway(c, "gw", "net", 2048).await;
    create::<LoadBalancer>(&Api::namespaced(c.clone(), NS), load_balancer()).await;
    eventually(TIMEOUT, "NAT converged", || {
        nat_consistent(c, "gw", &names, 2048, 1)
    })
    .await;
    eventually(TIMEOUT, "instance scheduled", || async {
        let items = Api::<Instance>::namespaced(c.clone(), NS)
            .list(&ListParams::default())
            .await
            .ok()?
            .items;
        (items.len() == 1 && items[0].spec.node_ref.is_some()).then_some(())
    })
    .await;

    let dp = DeleteParams::default();
    let lp = ListParams::default();
    Api::<LoadBalancer>::namespaced(c.clone(), NS)
        .delete_collection(&dp, &lp)
        .await
        .expect("delete LBs");
    Api::<NATGateway>::namespaced(c.clone(), NS)
        .delete_collection(&dp, &lp)
        .await
        .expect("delete gateways");
    Api::<NetworkInterface>::namespaced(c.clone(), NS)
        .delete_collection(&dp, &lp)
        .await
        .expect("delete NICs");
    Api::<Network>::namespaced(c.clone(), NS)
        .delete_collection(&dp, &lp)
        .await
        .expect("delete networks");
    Api::<Node>::all(c.clone())
        .delete_collection(&dp, &lp)
        .await
        .expect("delete nodes");

    eventually(TIMEOUT, "nothing left", || async {
        let n = |v: usize| (v == 0).then_some(());
        n(Api::<IP>::namespaced(c.clone(), NS)
            .list(&lp)
            .await
            .ok()?
            .items
            .len())?;
        n(Api::<IPAddress>::all(c.clone())
            .list(&lp)
            .await
            .ok()?
            .items
            .len())?;
        n(Api::<NetworkID>::all(c.clone())
            .list(&lp)
            .await
            .ok()?
            .items
            .len())?;
        n(Api::<NATTable>::namespaced(c.clone(), NS)
            .list(&lp)
            .await
            .ok()?
            .items
            .len())?;
        n(Api::<NATGatewayAutoscaler>::namespaced(c.clone(), NS)
            .list(&lp)
            .await
            .ok()?
            .items
            .len())?;
        n(Api::<DaemonSet>::namespaced(c.clone(), NS)
            .list(&lp)
            .await
            .ok()?
            .items
            .len())?;
        n(Api::<Instance>::namespaced(c.clone(), NS)
            .list(&lp)
            .await
            .ok()?
            .items
            .len())
    })
    .await;
}

#[tokio::test]
async fn peering_reports_of_nodes_that_are_gone_are_dropped() {
    let env = start().await;
    let c = &env.client;
    node(c, "node-live").await;
    network(c, "reported").await;
    let nets: Api<Network> = Api::namespaced(c.clone(), NS);
    let report = json!({"status": {"peerings": {
        "node-live": [{"id": 300, "state": "Ready"}],
        "node-gone": [{"id": 300, "state": "Pending"}],
    }}});
    nets.patch_status("reported", &PatchParams::default(), &Patch::Merge(&report))
        .await
        .expect("report peerings");
    let net = eventually(TIMEOUT, "the gone node's report dropped", || {
        let nets = nets.clone();
        async move {
            let n = nets.get("reported").await.ok()?;
            (!n.status.peerings.contains_key("node-gone")).then_some(n)
        }
    })
    .await;
    assert_eq!(
        net.status.peerings.keys().collect::<Vec<_>>(),
        ["node-live"],
        "the live node's report stays"
    );
}
