//! LoadBalancers through the controllers: the seed's public LoadBalancer gets `status.ips` from
//! the apinet public pool through an apinet LoadBalancer (and apinet routing) named by its UID;
//! its LoadBalancerRouting lists exactly the `Available` NetworkInterfaces its selector picks,
//! on both sides (the apinet side with targets on the node they were placed on), and follows
//! relabelling; deleting it removes the apinet LoadBalancer, both routings and the public IP;
//! turning it Internal makes the apinet LoadBalancer again with its literal IPs.

mod controllers_support;

use std::collections::BTreeSet;
use std::time::Duration;

use controllers_support::{APINET_NAMESPACE, Options, Stack, eventually};
use ironcore_api::{apinet, networking};
use ironcore_e2e::{ok, seed};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(30);
const LB: &str = "loadbalancer-sample";

/// A NetworkInterface in the seed network with one literal IPv4 and an `app` label.
fn nic(name: &str, ip: &str, app: &str) -> String {
    format!(
        "apiVersion: networking.ironcore.dev/v1alpha1
kind: NetworkInterface
metadata:
  namespace: default
  name: {name}
  labels:
    app: {app}
spec:
  networkRef:
    name: network-sample
  ipFamilies: [IPv4]
  ips:
    - value: {ip}
"
    )
}

/// Starts the full stack with the seed Network and LoadBalancer; returns it once the
/// LoadBalancer has `status.ips`.
async fn with_seed_load_balancer() -> (Stack, networking::LoadBalancer) {
    let stack = Stack::start_with(Options::full());
    stack.ironcore.apply(&seed("network"));
    stack.ironcore.apply(&seed("loadbalancer"));
    let lbs: Api<networking::LoadBalancer> =
        Api::namespaced(stack.ironcore.client().await, "default");
    let lb = eventually(TIMEOUT, "load balancer status.ips", || {
        let lbs = lbs.clone();
        async move {
            let lb = lbs.get(LB).await.ok()?;
            (!lb.status.ips.is_empty()).then_some(lb)
        }
    })
    .await;
    (stack, lb)
}

/// Whether an apinet IP and an IPAddress hold `addr`; `None` when a list failed.
async fn address_held(
    ips: &Api<apinet::IP>,
    addresses: &Api<apinet::IPAddress>,
    addr: &str,
) -> Option<(bool, bool)> {
    let ip = ips
        .list(&ListParams::default())
        .await
        .ok()?
        .items
        .iter()
        .any(|i| to_str(&i.spec.ip) == addr);
    let address = addresses
        .list(&ListParams::default())
        .await
        .ok()?
        .items
        .iter()
        .any(|a| to_str(&a.spec.ip) == addr);
    Some((ip, address))
}

fn to_str<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test]
async fn public_load_balancer_gets_a_pool_ip_and_apinet_load_balancer_and_routing() {
    let (stack, lb) = with_seed_load_balancer().await;
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    assert_eq!(lb.status.ips.len(), 1, "one IPv4: {:?}", lb.status.ips);
    let addr = lb.status.ips[0].to_string();
    assert!(
        addr.starts_with("10.0.0."),
        "{addr} is from {}",
        controllers_support::PUBLIC_PREFIX
    );
    assert!(
        lb.finalizers()
            .iter()
            .any(|f| f == "apinet.ironcore.dev/loadbalancer")
    );
    let uid = lb.uid().expect("uid");
    let net = Api::<networking::Network>::namespaced(ic.clone(), "default")
        .get("network-sample")
        .await
        .expect("network");
    let net_uid = net.uid().expect("network uid");

    let a = Api::<apinet::LoadBalancer>::namespaced(an.clone(), APINET_NAMESPACE)
        .get(&uid)
        .await
        .expect("apinet load balancer named by the uid");
    assert_eq!(a.spec.type_, "Public");
    assert_eq!(a.spec.network_ref.name, net_uid);
    assert_eq!(a.spec.ips.len(), 1);
    assert_eq!(a.spec.ips[0].name, "ipv4");
    assert_eq!(
        a.spec.ips[0].ip.as_ref().map(ToString::to_string),
        Some(addr.clone())
    );
    assert_eq!(
        a.spec.ports.iter().map(|p| p.port).collect::<Vec<_>>(),
        [80]
    );
    assert_eq!(a.labels()["apinetlet.ironcore.dev/loadbalancer-uid"], uid);
    assert_eq!(
        a.annotations()["apinetlet.ironcore.dev/loadbalancer-name"],
        LB
    );
    let selector = a.spec.selector.clone().and_then(|s| s.match_labels);
    assert_eq!(selector.as_ref(), a.spec.template.metadata.labels.as_ref());
    assert_eq!(
        selector
            .as_ref()
            .map(|l| l["apinetlet.ironcore.dev/loadbalancer-uid"].clone()),
        Some(uid.clone())
    );

    let routing = Api::<apinet::LoadBalancerRouting>::namespaced(an, APINET_NAMESPACE)
        .get(&uid)
        .await
        .expect("apinet routing named by the uid");
    let owner = &routing.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("LoadBalancer", a.uid().unwrap().as_str(), Some(true))
    );
    assert!(
        routing.destinations.is_empty(),
        "{:?}",
        routing.destinations
    );

    let ic_routing = Api::<networking::LoadBalancerRouting>::namespaced(ic, "default")
        .get(LB)
        .await
        .expect("IronCore routing named like the load balancer");
    assert_eq!(ic_routing.network_ref.name, "network-sample");
    assert_eq!(ic_routing.network_ref.uid, net_uid);
    assert_eq!(ic_routing.destinations, Some(vec![]));
    assert_eq!(ic_routing.owner_references()[0].uid, uid);

    let get = ok(stack.ironcore.kubectl(&["get", "loadbalancer", LB]));
    assert!(get.contains(&addr), "{get}");
}

#[tokio::test]
async fn routing_lists_the_selected_available_network_interfaces_and_follows_relabelling() {
    let (stack, lb) = with_seed_load_balancer().await;
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    for (name, ip, app) in [
        ("web-1", "10.1.0.1", "web"),
        ("web-2", "10.1.0.2", "web"),
        ("db-1", "10.1.0.3", "db"),
    ] {
        stack.ironcore.apply(&nic(name, ip, app));
    }
    let nics: Api<networking::NetworkInterface> = Api::namespaced(ic.clone(), "default");
    let routings: Api<networking::LoadBalancerRouting> = Api::namespaced(ic, "default");
    let apinet_routings: Api<apinet::LoadBalancerRouting> = Api::namespaced(an, APINET_NAMESPACE);
    let uid = lb.uid().expect("uid");

    // Both sides list exactly the NetworkInterfaces labelled app=web that are Available.
    let expect = |want: &'static [(&'static str, &'static str)]| {
        let (nics, routings, apinet_routings, uid) = (
            nics.clone(),
            routings.clone(),
            apinet_routings.clone(),
            uid.clone(),
        );
        async move {
            let want: BTreeSet<(String, String)> = want
                .iter()
                .map(|(n, ip)| ((*n).to_owned(), (*ip).to_owned()))
                .collect();
            eventually(TIMEOUT, &format!("both routings list {want:?}"), || {
                let (nics, routings, apinet_routings, uid, want) = (
                    nics.clone(),
                    routings.clone(),
                    apinet_routings.clone(),
                    uid.clone(),
                    want.clone(),
                );
                async move {
                    let r = routings.get(LB).await.ok()?;
                    let have: BTreeSet<(String, String)> = r
                        .destinations
                        .iter()
                        .flatten()
                        .map(|d| (d.name.clone(), to_str(&d.ip)))
                        .collect();
                    if have != want || r.destinations.as_ref()?.len() != want.len() {
                        return None;
                    }
                    for d in r.destinations.iter().flatten() {
                        let n = nics.get(&d.name).await.ok()?;
                        assert_eq!(Some(d.uid.clone()), n.uid(), "destination uid");
                        assert_eq!(d.provider_id, n.spec.provider_id, "destination providerID");
                    }
                    let a = apinet_routings.get(&uid).await.ok()?;
                    let targets: BTreeSet<(String, String)> = a
                        .destinations
                        .iter()
                        .filter_map(|d| {
                            let t = d.target_ref.as_ref()?;
                            Some((to_str(&d.ip), t.node_ref.name.clone()))
                        })
                        .collect();
                    let want_targets: BTreeSet<(String, String)> = want
                        .iter()
                        .map(|(_, ip)| (ip.clone(), "node-a".to_owned()))
                        .collect();
                    (a.destinations.len() == want.len() && targets == want_targets).then_some(())
                }
            })
            .await;
        }
    };
    expect(&[("web-1", "10.1.0.1"), ("web-2", "10.1.0.2")]).await;

    // Relabel web-2 away and db-1 into the selection.
    let pp = PatchParams::default();
    for (name, app) in [("web-2", "db"), ("db-1", "web")] {
        nics.patch(
            name,
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"app": app}}})),
        )
        .await
        .expect("relabel");
    }
    expect(&[("web-1", "10.1.0.1"), ("db-1", "10.1.0.3")]).await;
}

#[tokio::test]
async fn deleting_the_load_balancer_removes_apinet_objects_routings_and_the_public_ip() {
    let (stack, lb) = with_seed_load_balancer().await;
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    let uid = lb.uid().expect("uid");
    let addr = lb.status.ips[0].to_string();
    let lbs: Api<networking::LoadBalancer> = Api::namespaced(ic.clone(), "default");
    let routings: Api<networking::LoadBalancerRouting> = Api::namespaced(ic, "default");
    let apinet_lbs: Api<apinet::LoadBalancer> = Api::namespaced(an.clone(), APINET_NAMESPACE);
    let apinet_routings: Api<apinet::LoadBalancerRouting> =
        Api::namespaced(an.clone(), APINET_NAMESPACE);
    let ips: Api<apinet::IP> = Api::namespaced(an.clone(), APINET_NAMESPACE);
    let addresses: Api<apinet::IPAddress> = Api::all(an);

    // Everything exists first, including the IP and IPAddress holding the public address.
    eventually(
        TIMEOUT,
        "routings, apinet objects and the public IP",
        || {
            let (routings, apinet_lbs, apinet_routings, ips, addresses) = (
                routings.clone(),
                apinet_lbs.clone(),
                apinet_routings.clone(),
                ips.clone(),
                addresses.clone(),
            );
            let (uid, addr) = (uid.clone(), addr.clone());
            async move {
                routings.get_opt(LB).await.ok()??;
                apinet_lbs.get_opt(&uid).await.ok()??;
                apinet_routings.get_opt(&uid).await.ok()??;
                let (ip_held, address_held) = address_held(&ips, &addresses, &addr).await?;
                (ip_held && address_held).then_some(())
            }
        },
    )
    .await;

    ok(stack
        .ironcore
        .kubectl(&["delete", "loadbalancer", LB, "--wait=false"]));
    eventually(
        TIMEOUT,
        "load balancer, routings, apinet objects and IP gone",
        || {
            let (lbs, routings, apinet_lbs, apinet_routings, ips, addresses) = (
                lbs.clone(),
                routings.clone(),
                apinet_lbs.clone(),
                apinet_routings.clone(),
                ips.clone(),
                addresses.clone(),
            );
            let (uid, addr) = (uid.clone(), addr.clone());
            async move {
                let gone = lbs.get_opt(LB).await.ok()?.is_none()
                    && routings.get_opt(LB).await.ok()?.is_none()
                    && apinet_lbs.get_opt(&uid).await.ok()?.is_none()
                    && apinet_routings.get_opt(&uid).await.ok()?.is_none();
                let (ip_left, address_left) = address_held(&ips, &addresses, &addr).await?;
                (gone && !ip_left && !address_left).then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn changing_the_type_to_internal_recreates_the_apinet_load_balancer_with_literal_ips() {
    let (stack, lb) = with_seed_load_balancer().await;
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    let uid = lb.uid().expect("uid");
    let public_addr = lb.status.ips[0].to_string();
    let lbs: Api<networking::LoadBalancer> = Api::namespaced(ic, "default");
    let apinet_lbs: Api<apinet::LoadBalancer> = Api::namespaced(an.clone(), APINET_NAMESPACE);
    let ips: Api<apinet::IP> = Api::namespaced(an, APINET_NAMESPACE);

    lbs.patch(
        LB,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"type": "Internal", "ips": [{"value": "10.1.0.9"}]}})),
    )
    .await
    .expect("type change");
    eventually(
        TIMEOUT,
        "internal apinet load balancer and status.ips",
        || {
            let (lbs, apinet_lbs, ips, uid, public_addr) = (
                lbs.clone(),
                apinet_lbs.clone(),
                ips.clone(),
                uid.clone(),
                public_addr.clone(),
            );
            async move {
                let a = apinet_lbs.get_opt(&uid).await.ok()??;
                let l = lbs.get(LB).await.ok()?;
                let public_left = ips
                    .list(&ListParams::default())
                    .await
                    .ok()?
                    .items
                    .iter()
                    .any(|i| to_str(&i.spec.ip) == public_addr);
                let internal = a.spec.type_ == "Internal"
                    && a.spec.ips.len() == 1
                    && a.spec.ips[0].name == "ip-0"
                    && to_str(&a.spec.ips[0].ip) == "10.1.0.9";
                let status: Vec<String> = l.status.ips.iter().map(ToString::to_string).collect();
                (internal && status == ["10.1.0.9"] && !public_left).then_some(())
            }
        },
    )
    .await;
}
