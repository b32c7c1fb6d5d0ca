//! NATGateways through the apinetlet and apinet-controller-manager: the seed NATGateway gets an
//! apinet NATGateway (no IPs of its own) and a NATGatewayAutoscaler (1..10 public IPs,
//! controlled by the NATGateway), both named by its UID with origin metadata; once the
//! autoscaler has added an IP, the seed's `status.ips: [{name, ip}]` shows it. Deleting the
//! NATGateway deletes both apinet objects and frees the IP.

mod controllers_support;

use std::time::Duration;

use controllers_support::{APINET_NAMESPACE, Options, Stack, eventually};
use ironcore_api::{apinet, networking};
use ironcore_e2e::{ok, seed};
use kube::{Api, ResourceExt};

const TIMEOUT: Duration = Duration::from_secs(30);
const NAME: &str = "natgateway-sample";

/// Applies the seed Network and NATGateway; waits until the gateway reports one IP.
async fn seed_gateway_with_an_ip(stack: &Stack) -> networking::NATGateway {
    stack.ironcore.apply(&seed("network"));
    stack.ironcore.apply(&seed("natgateway"));
    let gws: Api<networking::NATGateway> =
        Api::namespaced(stack.ironcore.client().await, "default");
    eventually(TIMEOUT, "status.ips of the NAT gateway", || {
        let gws = gws.clone();
        async move {
            let g = gws.get(NAME).await.ok()?;
            (!g.status.ips.is_empty()).then_some(g)
        }
    })
    .await
}

#[tokio::test]
async fn nat_gateway_gets_an_autoscaled_public_ip_through_its_apinet_objects() {
    let stack = Stack::start_with(Options::full());
    let gw = seed_gateway_with_an_ip(&stack).await;
    let uid = gw.uid().expect("uid");
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;

    assert_eq!(
        gw.status.ips.len(),
        1,
        "min 1 public IP: {:?}",
        gw.status.ips
    );
    let status_ip = gw.status.ips[0].ip.clone().expect("ip").to_string();
    assert!(
        status_ip.starts_with("10.0.0."),
        "{status_ip} is from the pool"
    );
    assert!(!gw.status.ips[0].name.is_empty());
    assert!(
        gw.finalizers()
            .iter()
            .any(|f| f == "apinet.ironcore.dev/natgateway")
    );

    let network = Api::<networking::Network>::namespaced(ic, "default")
        .get("network-sample")
        .await
        .expect("network");
    let apinet_gw = Api::<apinet::NATGateway>::namespaced(an.clone(), APINET_NAMESPACE)
        .get(&uid)
        .await
        .expect("apinet NAT gateway named by the uid");
    assert_eq!(apinet_gw.spec.ip_family.as_str(), "IPv4");
    assert_eq!(apinet_gw.spec.ports_per_network_interface, 64);
    assert_eq!(
        Some(apinet_gw.spec.network_ref.name.clone()),
        network.uid(),
        "networkRef is the IronCore Network's UID"
    );
    let apinet_ips: Vec<_> = apinet_gw
        .spec
        .ips
        .iter()
        .map(|i| (i.name.clone(), i.ip.as_ref().map(ToString::to_string)))
        .collect();
    assert_eq!(
        apinet_ips,
        [(gw.status.ips[0].name.clone(), Some(status_ip.clone()))],
        "status.ips mirrors the apinet NAT gateway's IPs"
    );
    assert_eq!(
        apinet_gw.labels()["apinetlet.ironcore.dev/natgateway-uid"],
        uid
    );
    assert_eq!(
        apinet_gw.labels()["apinetlet.ironcore.dev/natgateway-namespace"],
        "default"
    );
    assert_eq!(
        apinet_gw.annotations()["apinetlet.ironcore.dev/natgateway-name"],
        NAME
    );

    let scaler = Api::<apinet::NATGatewayAutoscaler>::namespaced(an, APINET_NAMESPACE)
        .get(&uid)
        .await
        .expect("autoscaler named by the uid");
    assert_eq!(scaler.spec.nat_gateway_ref.name, uid);
    assert_eq!(scaler.spec.min_public_ips, Some(1));
    assert_eq!(scaler.spec.max_public_ips, Some(10));
    assert_eq!(
        scaler.labels()["apinetlet.ironcore.dev/natgateway-uid"],
        uid
    );
    let owner = scaler
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .expect("controller reference");
    assert_eq!(owner.kind, "NATGateway");
    assert_eq!(Some(owner.uid.clone()), apinet_gw.uid());

    let get = ok(stack.ironcore.kubectl(&["get", "natgateway", NAME]));
    assert!(get.contains(&status_ip), "{get}");
}

#[tokio::test]
async fn deleting_a_nat_gateway_removes_its_apinet_objects_and_frees_the_ip() {
    let stack = Stack::start_with(Options::full());
    let gw = seed_gateway_with_an_ip(&stack).await;
    let uid = gw.uid().expect("uid");
    let ip = gw.status.ips[0].ip.clone().expect("ip").to_string();
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    let gws: Api<networking::NATGateway> = Api::namespaced(ic, "default");
    let apinet_gws: Api<apinet::NATGateway> = Api::namespaced(an.clone(), APINET_NAMESPACE);
    let scalers: Api<apinet::NATGatewayAutoscaler> = Api::namespaced(an.clone(), APINET_NAMESPACE);
    let addresses: Api<apinet::IPAddress> = Api::all(an);
    assert!(
        addresses.get_opt(&ip).await.expect("get").is_some(),
        "the IP is claimed while the gateway exists"
    );

    ok(stack
        .ironcore
        .kubectl(&["delete", "natgateway", NAME, "--wait=false"]));
    eventually(TIMEOUT, "NAT gateway, apinet objects and IP gone", || {
        let (gws, apinet_gws, scalers, addresses) = (
            gws.clone(),
            apinet_gws.clone(),
            scalers.clone(),
            addresses.clone(),
        );
        let (uid, ip) = (uid.clone(), ip.clone());
        async move {
            let gone = gws.get_opt(NAME).await.ok()?.is_none()
                && apinet_gws.get_opt(&uid).await.ok()?.is_none()
                && scalers.get_opt(&uid).await.ok()?.is_none()
                && addresses.get_opt(&ip).await.ok()?.is_none();
            gone.then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn nat_gateway_without_its_network_makes_nothing_until_the_network_appears() {
    let stack = Stack::start_with(Options::full());
    stack.ironcore.apply(&seed("natgateway"));
    let gws: Api<networking::NATGateway> =
        Api::namespaced(stack.ironcore.client().await, "default");
    let apinet_gws: Api<apinet::NATGateway> =
        Api::namespaced(stack.apinet.client().await, APINET_NAMESPACE);
    let gw = eventually(TIMEOUT, "finalizer on the NAT gateway", || {
        let gws = gws.clone();
        async move {
            let g = gws.get(NAME).await.ok()?;
            g.finalizers()
                .iter()
                .any(|f| f == "apinet.ironcore.dev/natgateway")
                .then_some(g)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let uid = gw.uid().expect("uid");
    assert!(
        apinet_gws.get_opt(&uid).await.expect("get").is_none(),
        "no apinet NAT gateway without a network"
    );

    let gw = seed_gateway_with_an_ip(&stack).await;
    assert_eq!(gw.status.ips.len(), 1);
    assert!(apinet_gws.get_opt(&uid).await.expect("get").is_some());
}
