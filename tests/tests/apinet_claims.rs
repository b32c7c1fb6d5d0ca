//! Public IP claims of NetworkInterfaces, LoadBalancers and NATGateways through kube-rs, and
//! the fixes of upstream's claim/release quirks (apinet-upstream.md §3.3, §8): every test named
//! `quirk_*` pins one of them.

mod apinet_support;

use apinet_support::{API_VERSION, api_code, api_message, json_of, runtime, start, typed};
use ironcore_api::apinet::{IP, IPAddress, LoadBalancer, NATGateway, NetworkInterface};
use ironcore_e2e::{Backend, ServerProcess};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const V4: &str = "192.0.2.0/29";
const V6: &str = "2001:db8::/126";

fn server() -> ServerProcess {
    start(
        Backend::Embedded,
        &[
            &format!("--public-prefix={V4}"),
            &format!("--public-prefix={V6}"),
        ],
    )
}

fn nic(name: &str, public_ips: Value) -> NetworkInterface {
    typed(json!({
        "apiVersion": API_VERSION, "kind": "NetworkInterface",
        "metadata": {"name": name},
        "spec": {"nodeRef": {"name": "node-1"}, "networkRef": {"name": "net"}, "publicIPs": public_ips},
    }))
}

fn lb(name: &str, type_: &str, ips: Value) -> LoadBalancer {
    typed(json!({
        "apiVersion": API_VERSION, "kind": "LoadBalancer",
        "metadata": {"name": name},
        "spec": {"type": type_, "networkRef": {"name": "net"}, "ips": ips,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {}}},
    }))
}

fn natgw(name: &str, ips: Value) -> NATGateway {
    typed(json!({
        "apiVersion": API_VERSION, "kind": "NATGateway",
        "metadata": {"name": name},
        "spec": {"ipFamily": "IPv4", "networkRef": {"name": "net"}, "ips": ips,
                 "portsPerNetworkInterface": 2048},
    }))
}

fn public_ip(name: &str, family: &str, ip: Option<&str>) -> IP {
    let mut spec = json!({"type": "Public", "ipFamily": family});
    if let Some(ip) = ip {
        spec["ip"] = json!(ip);
    }
    typed(
        json!({"apiVersion": API_VERSION, "kind": "IP", "metadata": {"name": name}, "spec": spec}),
    )
}

struct Apis {
    client: kube::Client,
    nics: Api<NetworkInterface>,
    lbs: Api<LoadBalancer>,
    nats: Api<NATGateway>,
    ips: Api<IP>,
    records: Api<IPAddress>,
}

impl Apis {
    async fn new(server: &ServerProcess) -> Self {
        let client = server.client().await;
        Apis {
            nics: Api::namespaced(client.clone(), "default"),
            lbs: Api::namespaced(client.clone(), "default"),
            nats: Api::namespaced(client.clone(), "default"),
            ips: Api::namespaced(client.clone(), "default"),
            records: Api::all(client.clone()),
            client,
        }
    }

    /// Every IP of the namespace as JSON, by name.
    async fn ip_list(&self) -> Vec<Value> {
        let l = self
            .ips
            .list(&ListParams::default())
            .await
            .expect("list ips");
        l.items.iter().map(json_of).collect()
    }

    async fn ip(&self, name: &str) -> Value {
        json_of(&self.ips.get(name).await.expect("get ip"))
    }

    /// The names of every IPAddress.
    async fn addresses(&self) -> Vec<String> {
        let l = self
            .records
            .list(&ListParams::default())
            .await
            .expect("list ipaddresses");
        let mut out: Vec<String> = l
            .items
            .into_iter()
            .filter_map(|r| r.metadata.name)
            .collect();
        out.sort();
        out
    }
}

fn pp() -> PostParams {
    PostParams::default()
}

fn public_ips_of(nic: &NetworkInterface) -> Vec<String> {
    nic.spec
        .public_ips
        .iter()
        .map(|p| p.ip.as_ref().map(ToString::to_string).unwrap_or_default())
        .collect()
}

/// Runs `body` with a fresh server on the embedded store.
fn with_server<F, Fut>(body: F)
where
    F: FnOnce(Apis) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let server = server();
    runtime().block_on(async {
        let apis = Apis::new(&server).await;
        body(apis).await;
    });
}

#[test]
fn empty_entries_allocate_owned_ephemeral_ips_deleted_with_the_claimer() {
    with_server(|a| async move {
        let created = a
            .nics
            .create(
                &pp(),
                &nic(
                    "nic-a",
                    json!([{"name": "v4", "ipFamily": "IPv4"}, {"name": "v6", "ipFamily": "IPv6"}]),
                ),
            )
            .await
            .expect("create nic");
        let addrs = public_ips_of(&created);
        assert!(
            addrs.iter().all(|a| !a.is_empty()),
            "addresses written back: {addrs:?}"
        );
        let uid = created.metadata.uid.clone().unwrap();
        let ips = a.ip_list().await;
        assert_eq!(ips.len(), 2);
        for ip in &ips {
            let name = ip["metadata"]["name"].as_str().unwrap();
            assert!(name.starts_with("nic-a-"), "generated name {name}");
            assert_eq!(ip["metadata"]["generateName"], "nic-a-");
            assert_eq!(ip["metadata"]["ownerReferences"][0]["uid"], uid.as_str());
            assert_eq!(ip["metadata"]["ownerReferences"][0]["controller"], true);
            assert_eq!(
                ip["metadata"]["ownerReferences"][0]["kind"],
                "NetworkInterface"
            );
            assert_eq!(
                ip["spec"]["claimRef"],
                json!({"group": "core.apinet.ironcore.dev", "resource": "networkinterfaces", "name": "nic-a", "uid": uid})
            );
            assert!(addrs.contains(&ip["spec"]["ip"].as_str().unwrap().to_owned()));
            assert_eq!(
                ip["metadata"]["labels"]["apinet.ironcore.dev/ip-family"],
                ip["spec"]["ipFamily"]
            );
        }
        let mut want = addrs.clone();
        want.sort();
        assert_eq!(a.addresses().await, want, "one IPAddress per address");

        a.nics
            .delete("nic-a", &DeleteParams::default())
            .await
            .expect("delete nic");
        assert!(
            a.ip_list().await.is_empty(),
            "ephemeral IPs go with their claimer, no GC needed"
        );
        assert!(a.addresses().await.is_empty());
    });
}

#[test]
fn literal_address_claims_the_existing_ip_and_deleting_the_claimer_unclaims_it() {
    with_server(|a| async move {
        let vip = a
            .ips
            .create(&pp(), &public_ip("vip", "IPv4", None))
            .await
            .expect("create ip");
        let addr = vip.spec.ip.clone().unwrap().to_string();
        let created = a
            .nics
            .create(&pp(), &nic("nic-a", json!([{"name": "v4", "ip": addr}])))
            .await
            .expect("claim");
        let ip = a.ip("vip").await;
        assert_eq!(
            ip["spec"]["claimRef"]["uid"],
            created.metadata.uid.clone().unwrap().as_str()
        );
        assert_eq!(ip["spec"]["claimRef"]["resource"], "networkinterfaces");
        assert_eq!(
            a.ip_list().await.len(),
            1,
            "no ephemeral IP for a literal address"
        );

        let err = a
            .nics
            .create(&pp(), &nic("nic-b", json!([{"name": "v4", "ip": addr}])))
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 409);
        assert!(
            api_message(&err).contains("provided IP is already allocated"),
            "{err}"
        );
        assert!(
            a.nics.get_opt("nic-b").await.unwrap().is_none(),
            "nothing written"
        );

        a.nics
            .delete("nic-a", &DeleteParams::default())
            .await
            .expect("delete");
        let ip = a.ip("vip").await;
        assert!(ip["spec"].get("claimRef").is_none(), "unclaimed: {ip}");
        assert_eq!(
            a.addresses().await,
            vec![addr.clone()],
            "the IP keeps its address"
        );

        a.nics
            .create(&pp(), &nic("nic-b", json!([{"name": "v4", "ip": addr}])))
            .await
            .expect("the released IP can be claimed again");
    });
}

#[test]
fn literal_address_of_another_namespace_or_outside_the_pools_is_not_found() {
    with_server(|a| async move {
        let other: Api<IP> = Api::namespaced(a.client.clone(), "other");
        let ip = other
            .create(&pp(), &public_ip("vip", "IPv4", None))
            .await
            .unwrap();
        let addr = ip.spec.ip.unwrap().to_string();
        let err = a
            .nics
            .create(&pp(), &nic("nic-a", json!([{"name": "v4", "ip": addr}])))
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 422, "{err}");
        assert!(api_message(&err).contains("spec.publicIPs[0].ip"), "{err}");
        assert!(
            api_message(&err).contains("provided IP was not found"),
            "{err}"
        );
        let err = a
            .nics
            .create(
                &pp(),
                &nic("nic-a", json!([{"name": "v4", "ip": "192.0.2.200"}])),
            )
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 422, "{err}");
        assert!(a.ip_list().await.is_empty());
    });
}

#[test]
fn public_load_balancers_and_nat_gateways_claim_internal_ones_do_not() {
    with_server(|a| async move {
        let vip = a
            .ips
            .create(&pp(), &public_ip("vip6", "IPv6", None))
            .await
            .unwrap();
        let v6 = vip.spec.ip.unwrap().to_string();
        let l = a
            .lbs
            .create(
                &pp(),
                &lb(
                    "lb",
                    "Public",
                    json!([{"name": "ipv4", "ipFamily": "IPv4"}, {"name": "ipv6", "ip": v6}]),
                ),
            )
            .await
            .expect("public lb");
        assert!(l.spec.ips[0].ip.is_some());
        assert_eq!(a.ip_list().await.len(), 2);
        assert_eq!(
            a.ip("vip6").await["spec"]["claimRef"]["resource"],
            "loadbalancers"
        );

        let internal = a
            .lbs
            .create(
                &pp(),
                &lb(
                    "internal",
                    "Internal",
                    json!([{"name": "ip-0", "ipFamily": "IPv4", "ip": "10.0.0.1"}]),
                ),
            )
            .await
            .expect("internal lb");
        assert_eq!(
            internal.spec.ips[0].ip.as_ref().unwrap().to_string(),
            "10.0.0.1"
        );
        assert_eq!(
            a.ip_list().await.len(),
            2,
            "an Internal load balancer claims nothing"
        );

        let n = a
            .nats
            .create(
                &pp(),
                &natgw("nat", json!([{"name": "a"}, {"name": "b"}, {"name": "c"}])),
            )
            .await
            .expect("nat gateway");
        let addrs: std::collections::HashSet<String> = n
            .spec
            .ips
            .iter()
            .map(|i| i.ip.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(addrs.len(), 3, "distinct addresses in one write");
        assert_eq!(a.ip_list().await.len(), 5);

        a.lbs.delete("lb", &DeleteParams::default()).await.unwrap();
        a.nats
            .delete("nat", &DeleteParams::default())
            .await
            .unwrap();
        let left = a.ip_list().await;
        assert_eq!(left.len(), 1, "only the pre-created IP is left: {left:?}");
        assert!(left[0]["spec"].get("claimRef").is_none());
        assert_eq!(a.addresses().await, vec![v6]);
    });
}

#[test]
fn replacing_an_entry_by_a_differently_named_one_allocates_anew_and_leaves_one_ip() {
    with_server(|a| async move {
        let created = a
            .nics
            .create(
                &pp(),
                &nic("nic-a", json!([{"name": "one", "ipFamily": "IPv4"}])),
            )
            .await
            .unwrap();
        let first = public_ips_of(&created)[0].clone();
        let patch = json!({"spec": {"publicIPs": [{"name": "two", "ipFamily": "IPv4"}]}});
        let updated = a
            .nics
            .patch("nic-a", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("replace entry");
        let second = public_ips_of(&updated)[0].clone();
        assert!(!second.is_empty());
        let ips = a.ip_list().await;
        assert_eq!(ips.len(), 1, "exactly one IP object: {ips:?}");
        assert_eq!(ips[0]["spec"]["ip"], second.as_str());
        assert_eq!(a.addresses().await, vec![second.clone()]);
        assert_ne!(first, "");
    });
}

#[test]
fn status_writes_and_unchanged_updates_do_not_touch_claims() {
    with_server(|a| async move {
        let created = a
            .nics
            .create(
                &pp(),
                &nic("nic-a", json!([{"name": "v4", "ipFamily": "IPv4"}])),
            )
            .await
            .unwrap();
        let before = a.ip_list().await;
        let status = json!({"status": {"state": "Ready", "publicIPs": public_ips_of(&created)}});
        a.nics
            .patch_status("nic-a", &PatchParams::default(), &Patch::Merge(&status))
            .await
            .expect("status");
        let mut same = a.nics.get("nic-a").await.unwrap();
        same.metadata.labels = Some([("x".to_owned(), "y".to_owned())].into());
        a.nics
            .replace("nic-a", &pp(), &same)
            .await
            .expect("label update");
        assert_eq!(a.ip_list().await, before);
    });
}

#[test]
fn dry_run_allocates_in_the_response_only() {
    with_server(|a| async move {
        let dry = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let n = a
            .nics
            .create(
                &dry,
                &nic("nic-a", json!([{"name": "v4", "ipFamily": "IPv4"}])),
            )
            .await
            .expect("dry run");
        assert!(
            n.spec.public_ips[0].ip.is_some(),
            "the response shows an address"
        );
        assert!(a.nics.get_opt("nic-a").await.unwrap().is_none());
        assert!(a.ip_list().await.is_empty());
        assert!(a.addresses().await.is_empty());
    });
}

#[test]
fn claims_are_released_only_when_the_last_finalizer_goes() {
    with_server(|a| async move {
        let mut n = nic("nic-a", json!([{"name": "v4", "ipFamily": "IPv4"}]));
        n.metadata.finalizers = Some(vec!["example.com/hold".into()]);
        a.nics.create(&pp(), &n).await.unwrap();
        a.nics
            .delete("nic-a", &DeleteParams::default())
            .await
            .unwrap();
        assert_eq!(
            a.ip_list().await.len(),
            1,
            "still held while finalizers remain"
        );
        let patch = json!({"metadata": {"finalizers": null}});
        a.nics
            .patch("nic-a", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("remove finalizer");
        assert!(a.nics.get_opt("nic-a").await.unwrap().is_none());
        assert!(a.ip_list().await.is_empty());
        assert!(a.addresses().await.is_empty());
    });
}

/// Takes every IPv6 address of the (4-address) pool.
async fn exhaust_v6(a: &Apis) {
    for i in 0..4 {
        a.ips
            .create(&pp(), &public_ip(&format!("fill-{i}"), "IPv6", None))
            .await
            .expect("fill the IPv6 pool");
    }
}

/// §3.3: upstream's create path leaves requests 0..k-1 allocated when request k fails
/// (ephemeral IPs wait for the garbage collector, claimed IPs keep a dangling claimRef).
#[test]
fn quirk_failed_create_releases_the_requests_allocated_before_the_failure() {
    with_server(|a| async move {
        exhaust_v6(&a).await;
        let free = a
            .ips
            .create(&pp(), &public_ip("free", "IPv4", None))
            .await
            .unwrap();
        let free_addr = free.spec.ip.unwrap().to_string();
        let before_ips = a.ip_list().await;
        let before_addrs = a.addresses().await;
        // Entry 0 claims "free", entry 1 allocates an IPv4 address, entry 2 finds the IPv6
        // pool exhausted.
        let err = a
            .lbs
            .create(
                &pp(),
                &lb(
                    "lb",
                    "Public",
                    json!([
                        {"name": "a", "ip": free_addr},
                        {"name": "b", "ipFamily": "IPv4"},
                        {"name": "c", "ipFamily": "IPv6"},
                    ]),
                ),
            )
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 409, "{err}");
        assert!(
            api_message(&err).contains("all IP addresses are already allocated"),
            "{err}"
        );
        assert!(a.lbs.get_opt("lb").await.unwrap().is_none());
        assert_eq!(
            a.ip_list().await,
            before_ips,
            "no ephemeral IP, no dangling claimRef"
        );
        assert_eq!(a.addresses().await, before_addrs);
    });
}

/// §8.3: upstream's failed update releases the *old* addresses instead of the newly allocated
/// ones, so the object keeps addresses it no longer holds and leaks the new ones.
#[test]
fn quirk_3_failed_update_releases_the_new_allocations_not_the_old() {
    with_server(|a| async move {
        exhaust_v6(&a).await;
        let free = a
            .ips
            .create(&pp(), &public_ip("free", "IPv4", None))
            .await
            .unwrap();
        let free_addr = free.spec.ip.unwrap().to_string();
        let created = a
            .lbs
            .create(
                &pp(),
                &lb("lb", "Public", json!([{"name": "old", "ipFamily": "IPv4"}])),
            )
            .await
            .unwrap();
        let old_addr = created.spec.ips[0].ip.as_ref().unwrap().to_string();
        let before_ips = a.ip_list().await;
        let before_addrs = a.addresses().await;
        // Drops "old", claims "free", allocates a new IPv4 address, then fails on IPv6.
        let patch = json!({"spec": {"ips": [
            {"name": "claim", "ip": free_addr},
            {"name": "new", "ipFamily": "IPv4"},
            {"name": "v6", "ipFamily": "IPv6"},
        ]}});
        let err = a
            .lbs
            .patch("lb", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 409, "{err}");
        let now = a.lbs.get("lb").await.unwrap();
        assert_eq!(now.spec.ips.len(), 1);
        assert_eq!(
            now.spec.ips[0].ip.as_ref().unwrap().to_string(),
            old_addr,
            "old address kept"
        );
        assert_eq!(
            a.ip_list().await,
            before_ips,
            "old IP still held, nothing new claimed or left over"
        );
        assert_eq!(a.addresses().await, before_addrs);
    });
}

/// Releases happen exactly once, in the write that drops the address: a later delete of the
/// former claimer must not unclaim an IP that another object claimed in between (upstream
/// releases by address at delete time, racing with new claims).
#[test]
fn quirk_release_happens_exactly_once_and_never_touches_a_later_claim() {
    with_server(|a| async move {
        let vip = a
            .ips
            .create(&pp(), &public_ip("vip", "IPv4", None))
            .await
            .unwrap();
        let addr = vip.spec.ip.unwrap().to_string();
        a.nics
            .create(&pp(), &nic("nic-a", json!([{"name": "v4", "ip": addr}])))
            .await
            .unwrap();
        let patch = json!({"spec": {"publicIPs": []}});
        a.nics
            .patch("nic-a", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("drop the entry");
        assert!(
            a.ip("vip").await["spec"].get("claimRef").is_none(),
            "released on update"
        );
        let b = a
            .nics
            .create(&pp(), &nic("nic-b", json!([{"name": "v4", "ip": addr}])))
            .await
            .expect("claimed by another");
        a.nics
            .delete("nic-a", &DeleteParams::default())
            .await
            .unwrap();
        assert_eq!(
            a.ip("vip").await["spec"]["claimRef"]["uid"],
            b.metadata.uid.unwrap().as_str(),
            "the new claim survives the old claimer's deletion"
        );
    });
}

/// §3.3 server-side-apply note: an apply that leaves out the server-allocated `ip` of an entry
/// must keep the address instead of allocating a new one on every apply.
#[test]
fn quirk_omitted_ip_on_reapply_keeps_the_allocated_address() {
    with_server(|a| async move {
        let created = a
            .nics
            .create(
                &pp(),
                &nic("nic-a", json!([{"name": "v4", "ipFamily": "IPv4"}])),
            )
            .await
            .unwrap();
        let addr = public_ips_of(&created)[0].clone();
        let before = a.ip_list().await;
        let mut again = a.nics.get("nic-a").await.unwrap();
        again.spec.public_ips[0].ip = None;
        let replaced = a
            .nics
            .replace("nic-a", &pp(), &again)
            .await
            .expect("replace");
        assert_eq!(public_ips_of(&replaced), vec![addr.clone()]);
        assert_eq!(a.ip_list().await, before, "no re-allocation");
        let patch = json!({"spec": {"publicIPs": [{"name": "v4", "ipFamily": "IPv4"}, {"name": "v6", "ipFamily": "IPv6"}]}});
        let patched = a
            .nics
            .patch("nic-a", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("merge patch replacing the list");
        assert_eq!(public_ips_of(&patched)[0], addr);
        assert_eq!(a.ip_list().await.len(), 2);
    });
}

/// Upstream protects an IPAddress with a finalizer that a controller removes once the IP is
/// gone; here the IPAddress goes in the IP's own delete, and deleting it directly while its IP
/// lives is refused.
#[test]
fn quirk_ip_address_of_a_live_ip_cannot_be_deleted_and_goes_with_its_ip() {
    with_server(|a| async move {
        let vip = a
            .ips
            .create(&pp(), &public_ip("vip", "IPv4", None))
            .await
            .unwrap();
        let addr = vip.spec.ip.unwrap().to_string();
        let rec = a.records.get(&addr).await.unwrap();
        assert!(
            rec.metadata.finalizers.is_none(),
            "no finalizer to remove later"
        );
        let err = a
            .records
            .delete(&addr, &DeleteParams::default())
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 409, "{err}");
        assert!(
            api_message(&err).contains("in use by IP default/vip"),
            "{err}"
        );
        a.ips.delete("vip", &DeleteParams::default()).await.unwrap();
        assert!(a.addresses().await.is_empty());
        // A record whose claimer is gone can be deleted by hand.
        let stray: IPAddress = typed(json!({
            "apiVersion": API_VERSION, "kind": "IPAddress", "metadata": {"name": "192.0.2.1"},
            "spec": {"ip": "192.0.2.1", "claimRef": {"group": "core.apinet.ironcore.dev", "resource": "ips",
                     "namespace": "default", "name": "gone", "uid": "0"}}}));
        a.records.create(&pp(), &stray).await.unwrap();
        a.records
            .delete("192.0.2.1", &DeleteParams::default())
            .await
            .expect("stray record");
    });
}
