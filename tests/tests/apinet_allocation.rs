//! Allocation under load: 200 Networks and 200 public IPs created and deleted by 32 concurrent
//! kube-rs clients, on the embedded store and on etcd, with and without the server being killed
//! in the middle. Every VNI and every address must be unique, every allocation record must
//! belong to a live object, and nothing may stay allocated once everything is deleted.

mod apinet_support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use apinet_support::{
    API_VERSION, create_retrying, delete_retrying, list_retrying, on_each_backend, typed,
};
use ironcore_api::apinet::{IP, IPAddress, Network, NetworkID};
use ironcore_api::common::{IPFamily, IPPrefix};
use ironcore_e2e::ServerProcess;
use kube::Api;
use serde_json::json;

/// Objects of each kind.
const N: usize = 200;
/// Concurrent clients.
const CLIENTS: usize = 32;
const MIN_VNI: u32 = 1000;
const MAX_VNI: u32 = 1255;
const V4_PREFIX: &str = "198.51.100.0/25";
const V6_PREFIX: &str = "2001:db8::/120";

/// A crowded VNI range (200 of 256) and pools (100 of 128 IPv4, 100 of 256 IPv6 addresses), so
/// that random probes collide, the listing fallback runs and concurrent claims race.
fn args() -> Vec<String> {
    vec![
        format!("--min-vni={MIN_VNI}"),
        format!("--max-vni={MAX_VNI}"),
        format!("--public-prefix={V4_PREFIX}"),
        format!("--public-prefix={V6_PREFIX}"),
    ]
}

fn network(i: usize) -> Network {
    typed(json!({
        "apiVersion": API_VERSION, "kind": "Network",
        "metadata": {"name": format!("net-{i:03}")},
    }))
}

fn family(i: usize) -> &'static str {
    if i.is_multiple_of(2) { "IPv4" } else { "IPv6" }
}

fn public_ip(i: usize) -> IP {
    typed(json!({
        "apiVersion": API_VERSION, "kind": "IP",
        "metadata": {"name": format!("ip-{i:03}")},
        "spec": {"type": "Public", "ipFamily": family(i)},
    }))
}

async fn clients(server: &ServerProcess) -> Vec<kube::Client> {
    let mut out = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        out.push(server.client().await);
    }
    out
}

/// Creates (or deletes) object `i` of both kinds in client `c`'s share, counting progress.
async fn run_phase(clients: &[kube::Client], create: bool, progress: Arc<AtomicUsize>) {
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        let client = client.clone();
        let progress = Arc::clone(&progress);
        tasks.push(tokio::spawn(async move {
            let nets: Api<Network> = Api::namespaced(client.clone(), "default");
            let ips: Api<IP> = Api::namespaced(client, "default");
            for i in (c..N).step_by(CLIENTS) {
                if create {
                    create_retrying(&nets, &network(i)).await;
                    progress.fetch_add(1, Ordering::SeqCst);
                    create_retrying(&ips, &public_ip(i)).await;
                } else {
                    delete_retrying(&nets, &format!("net-{i:03}")).await;
                    progress.fetch_add(1, Ordering::SeqCst);
                    delete_retrying(&ips, &format!("ip-{i:03}")).await;
                }
                progress.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
}

/// Runs one phase; with `kill`, the server is killed (SIGKILL) and restarted once half of the
/// phase's requests are done, while the clients keep going (they retry connection errors).
async fn phase(server: &mut ServerProcess, clients: &[kube::Client], create: bool, kill: bool) {
    let progress = Arc::new(AtomicUsize::new(0));
    if !kill {
        run_phase(clients, create, progress).await;
        return;
    }
    let work = tokio::spawn({
        let clients = clients.to_vec();
        let progress = Arc::clone(&progress);
        async move { run_phase(&clients, create, progress).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while progress.load(Ordering::SeqCst) < N {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load made no progress"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::task::block_in_place(|| server.restart());
    eprintln!(
        "server killed and restarted mid-{} after {} of {} requests",
        if create { "create" } else { "delete" },
        progress.load(Ordering::SeqCst),
        2 * N
    );
    work.await.expect("load");
}

/// Every Network has a unique in-range VNI recorded by exactly one NetworkID claimed by it;
/// every IP has a unique in-pool address of its family recorded by one IPAddress claimed by it.
async fn assert_allocated(client: &kube::Client) {
    let nets = list_retrying(&Api::<Network>::namespaced(client.clone(), "default")).await;
    let ids = list_retrying(&Api::<NetworkID>::all(client.clone())).await;
    assert_eq!(nets.len(), N, "networks");
    assert_eq!(ids.len(), N, "a NetworkID per Network and no other");
    let ids: HashMap<String, String> = ids
        .into_iter()
        .map(|id| (id.metadata.name.unwrap_or_default(), id.spec.claim_ref.uid))
        .collect();
    let mut vnis = HashSet::new();
    for n in &nets {
        let vni: u32 = n.spec.id.parse().expect("numeric VNI");
        assert!((MIN_VNI..=MAX_VNI).contains(&vni), "VNI {vni} out of range");
        assert!(vnis.insert(vni), "VNI {vni} allocated twice");
        assert_eq!(
            ids.get(&n.spec.id),
            n.metadata.uid.as_ref(),
            "NetworkID {vni} claim"
        );
    }

    let ips = list_retrying(&Api::<IP>::namespaced(client.clone(), "default")).await;
    let records = list_retrying(&Api::<IPAddress>::all(client.clone())).await;
    assert_eq!(ips.len(), N, "IPs");
    assert_eq!(records.len(), N, "an IPAddress per IP and no other");
    let records: HashMap<String, String> = records
        .into_iter()
        .map(|r| (r.metadata.name.unwrap_or_default(), r.spec.claim_ref.uid))
        .collect();
    let (v4, v6): (IPPrefix, IPPrefix) = (V4_PREFIX.parse().unwrap(), V6_PREFIX.parse().unwrap());
    let mut addrs = HashSet::new();
    for ip in &ips {
        let addr = ip.spec.ip.clone().expect("allocated address");
        let pool = if ip.spec.ip_family == IPFamily::IPv4 {
            v4
        } else {
            v6
        };
        assert!(pool.contains(addr.addr()), "{addr} not in {pool}");
        assert!(addrs.insert(addr.clone()), "address {addr} allocated twice");
        assert_eq!(
            records.get(&addr.to_string()),
            ip.metadata.uid.as_ref(),
            "IPAddress {addr} claim"
        );
        let labels = ip.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels
                .get("apinet.ironcore.dev/ip-family")
                .map(String::as_str),
            Some(ip.spec.ip_family.as_str())
        );
        assert_eq!(
            labels.get("apinet.ironcore.dev/ip"),
            Some(&addr.to_string().replace(':', "-"))
        );
    }
}

/// Nothing of the load is left, allocation records included.
async fn assert_released(client: &kube::Client) {
    assert!(
        list_retrying(&Api::<Network>::namespaced(client.clone(), "default"))
            .await
            .is_empty()
    );
    assert!(
        list_retrying(&Api::<IP>::namespaced(client.clone(), "default"))
            .await
            .is_empty()
    );
    assert!(
        list_retrying(&Api::<NetworkID>::all(client.clone()))
            .await
            .is_empty(),
        "VNIs left allocated"
    );
    assert!(
        list_retrying(&Api::<IPAddress>::all(client.clone()))
            .await
            .is_empty(),
        "addresses left allocated"
    );
}

async fn load(mut server: ServerProcess, kill: bool) {
    let clients = clients(&server).await;
    let started = std::time::Instant::now();
    phase(&mut server, &clients, true, kill).await;
    eprintln!(
        "created {N} networks and {N} IPs in {:?}",
        started.elapsed()
    );
    assert_allocated(&clients[0]).await;
    let started = std::time::Instant::now();
    phase(&mut server, &clients, false, kill).await;
    eprintln!("deleted them in {:?}", started.elapsed());
    assert_released(&clients[0]).await;
}

#[test]
fn two_hundred_networks_and_ips_from_32_clients_get_unique_vnis_and_addresses_and_release_all() {
    let args = args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    on_each_backend(&args, |server| load(server, false));
}

#[test]
fn server_killed_in_the_middle_of_the_load_allocates_nothing_twice_and_leaks_nothing() {
    let args = args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    on_each_backend(&args, |server| load(server, true));
}
