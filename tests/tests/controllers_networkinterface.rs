//! NetworkInterfaces through the controllers: the apinetlet places an IronCore NIC on a node a
//! netlet registered (an apinet NIC named by the NIC's UID, `spec.providerID` naming the node),
//! claims its VirtualIP (`spec.targetRef`) and hands the address to the apinet NIC as a public
//! IP; the NIC becomes `Available` only once the netlet reports the apinet NIC `Ready`, with
//! `status.ips`, `status.virtualIP` and `lastStateTransitionTime`. An ephemeral VirtualIP is
//! made by the controller-manager and follows its reclaim policy when the NIC goes. Deleting a
//! NIC deletes its apinet NIC and releases its VirtualIP; a NIC whose Network is missing stays
//! `Pending` until the Network exists. The NIC's labels are carried over to the apinet NIC.

mod controllers_support;

use std::time::Duration;

use controllers_support::{APINET_NAMESPACE, Options, Stack, eventually};
use ironcore_api::{apinet, networking};
use ironcore_e2e::{ok, seed};
use kube::{Api, ResourceExt};

const TIMEOUT: Duration = Duration::from_secs(30);
const NIC: &str = "networkinterface-sample";
const VIP: &str = "virtualip-sample";

/// Both servers, the controllers, apinet-controller-manager and one netlet on `node-a`.
fn full_stack() -> Stack {
    Stack::start_with(Options::full())
}

/// A NIC on the seed network with an ephemeral VirtualIP of `policy`.
fn ephemeral_nic(name: &str, ip: &str, policy: &str) -> String {
    format!(
        "apiVersion: networking.ironcore.dev/v1alpha1
kind: NetworkInterface
metadata:
  name: {name}
spec:
  networkRef:
    name: network-sample
  ipFamilies: [IPv4]
  ips:
    - value: {ip}
  virtualIP:
    ephemeral:
      virtualIPTemplate:
        metadata:
          labels:
            app: web
        spec:
          type: Public
          ipFamily: IPv4
          reclaimPolicy: {policy}
"
    )
}

/// The NIC once `Available` and satisfying `pred`.
async fn available(
    nics: &Api<networking::NetworkInterface>,
    name: &str,
    pred: impl Fn(&networking::NetworkInterface) -> bool,
) -> networking::NetworkInterface {
    eventually(TIMEOUT, &format!("{name} Available"), || {
        let nics = nics.clone();
        let pred = &pred;
        async move {
            let n = nics.get(name).await.ok()?;
            (n.status.state == "Available" && pred(&n)).then_some(n)
        }
    })
    .await
}

#[tokio::test]
async fn seed_network_interface_becomes_available_on_node_a_with_its_virtual_ip_and_labels() {
    let stack = full_stack();
    stack.ironcore.apply(&seed("network"));
    stack.ironcore.apply(&seed("virtualip"));
    stack.ironcore.apply(&seed("networkinterface"));
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    let nics: Api<networking::NetworkInterface> = Api::namespaced(ic.clone(), "default");
    let vips: Api<networking::VirtualIP> = Api::namespaced(ic.clone(), "default");
    let nets: Api<networking::Network> = Api::namespaced(ic, "default");
    let anics: Api<apinet::NetworkInterface> = Api::namespaced(an.clone(), APINET_NAMESPACE);
    let ips: Api<apinet::IP> = Api::namespaced(an, APINET_NAMESPACE);

    let nic = available(&nics, NIC, |n| n.status.virtual_ip.is_some()).await;
    let vip = vips.get(VIP).await.expect("virtual IP");
    assert!(vip.status.ip.is_some());
    assert_eq!(nic.status.virtual_ip, vip.status.ip, "status.virtualIP");
    assert_eq!(
        serde_json::to_value(&nic.status.ips).unwrap(),
        serde_json::json!(["10.0.0.1"])
    );
    assert!(nic.status.last_state_transition_time.is_some());
    assert!(
        nic.finalizers()
            .iter()
            .any(|f| f == "apinet.ironcore.dev/networkinterface")
    );

    let uid = nic.uid().expect("uid");
    let anic = anics.get(&uid).await.expect("apinet NIC named by the uid");
    let expected_pid = format!(
        "ironcore-net://{APINET_NAMESPACE}/{uid}/node-a/{}",
        anic.uid().expect("apinet uid")
    );
    assert_eq!(nic.spec.provider_id, expected_pid);
    assert_eq!(anic.spec.node_ref.name, "node-a");
    let net = nets.get("network-sample").await.expect("network");
    assert_eq!(anic.spec.network_ref.name, net.uid().expect("network uid"));
    assert_eq!(
        anic.labels()["apinetlet.ironcore.dev/networkinterface-uid"],
        uid
    );
    assert_eq!(
        anic.annotations()["apinetlet.ironcore.dev/networkinterface-name"],
        NIC
    );
    assert_eq!(anic.spec.public_ips.len(), 1, "{:?}", anic.spec.public_ips);
    assert_eq!(anic.spec.public_ips[0].ip, vip.status.ip);
    assert_eq!(anic.status.state, "Ready");
    assert_eq!(
        vip.spec.target_ref.as_ref().map(|t| t.uid.as_str()),
        Some(uid.as_str())
    );
    let ip = ips
        .get(&vip.uid().expect("vip uid"))
        .await
        .expect("apinet IP");
    assert_eq!(
        ip.spec.claim_ref.as_ref().map(|c| c.uid.clone()),
        anic.uid(),
        "the VirtualIP's apinet IP is claimed by the apinet NIC"
    );
    let get = ok(stack.ironcore.kubectl(&["get", "networkinterface", NIC]));
    assert!(get.contains("Available"), "{get}");

    // The NIC's labels are the apinet NIC's (NetworkPolicy selectors match those), both ways.
    ok(stack
        .ironcore
        .kubectl(&["label", "networkinterface", NIC, "app=web"]));
    eventually(TIMEOUT, "label propagated", || {
        let (anics, uid) = (anics.clone(), uid.clone());
        async move {
            let a = anics.get(&uid).await.ok()?;
            (a.labels().get("app").map(String::as_str) == Some("web")).then_some(())
        }
    })
    .await;
    ok(stack
        .ironcore
        .kubectl(&["label", "networkinterface", NIC, "app-"]));
    eventually(TIMEOUT, "label removal propagated", || {
        let (anics, uid) = (anics.clone(), uid.clone());
        async move {
            let a = anics.get(&uid).await.ok()?;
            let origin = a
                .labels()
                .contains_key("apinetlet.ironcore.dev/networkinterface-uid");
            (origin && !a.labels().contains_key("app")).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn ephemeral_virtual_ip_follows_its_reclaim_policy() {
    let stack = full_stack();
    stack.ironcore.apply(&seed("network"));
    stack
        .ironcore
        .apply(&ephemeral_nic("nic-delete", "10.0.0.2", "Delete"));
    stack
        .ironcore
        .apply(&ephemeral_nic("nic-retain", "10.0.0.3", "Retain"));
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    let nics: Api<networking::NetworkInterface> = Api::namespaced(ic.clone(), "default");
    let vips: Api<networking::VirtualIP> = Api::namespaced(ic, "default");
    let ips: Api<apinet::IP> = Api::namespaced(an, APINET_NAMESPACE);

    let mut vip_uids = Vec::new();
    for name in ["nic-delete", "nic-retain"] {
        let nic = available(&nics, name, |n| n.status.virtual_ip.is_some()).await;
        let vip = vips
            .get(name)
            .await
            .expect("ephemeral VirtualIP named like the NIC");
        assert_eq!(nic.status.virtual_ip, vip.status.ip, "{name} uses it");
        assert_eq!(
            vip.annotations()["common.ironcore.dev/ephemeral-managed-by"],
            "ephemeral-manager"
        );
        assert_eq!(vip.labels()["app"], "web");
        assert_eq!(
            vip.spec.target_ref.as_ref().map(|t| t.uid.clone()),
            nic.uid()
        );
        let owners: Vec<_> = vip
            .owner_references()
            .iter()
            .filter(|o| o.controller == Some(true))
            .map(|o| o.uid.clone())
            .collect();
        if name == "nic-delete" {
            assert_eq!(owners, vec![nic.uid().unwrap()], "controlled by its NIC");
        } else {
            assert!(owners.is_empty(), "Retain: no owner");
        }
        vip_uids.push(vip.uid().expect("vip uid"));
    }

    ok(stack.ironcore.kubectl(&[
        "delete",
        "networkinterface",
        "nic-delete",
        "nic-retain",
        "--wait=false",
    ]));
    eventually(TIMEOUT, "Delete: VirtualIP and its apinet IP gone", || {
        let (vips, ips, uid) = (vips.clone(), ips.clone(), vip_uids[0].clone());
        async move {
            let gone = vips.get_opt("nic-delete").await.ok()?.is_none()
                && ips.get_opt(&uid).await.ok()?.is_none();
            gone.then_some(())
        }
    })
    .await;
    let kept = eventually(TIMEOUT, "Retain: VirtualIP kept and released", || {
        let (vips, nics) = (vips.clone(), nics.clone());
        async move {
            let nic_gone = nics.get_opt("nic-retain").await.ok()?.is_none();
            let v = vips.get_opt("nic-retain").await.ok()??;
            (nic_gone && v.spec.target_ref.is_none()).then_some(v)
        }
    })
    .await;
    assert_eq!(kept.uid().as_deref(), Some(vip_uids[1].as_str()));
    let ip = ips.get(&vip_uids[1]).await.expect("retained apinet IP");
    assert!(ip.spec.claim_ref.is_none(), "{:?}", ip.spec.claim_ref);
    // Still gone and still kept a while later (nothing re-creates or deletes them).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(vips.get_opt("nic-delete").await.unwrap().is_none());
    assert!(vips.get_opt("nic-retain").await.unwrap().is_some());
}

#[tokio::test]
async fn deleting_a_network_interface_removes_its_apinet_nic_and_releases_its_virtual_ip() {
    let stack = full_stack();
    stack.ironcore.apply(&seed("network"));
    stack.ironcore.apply(&seed("virtualip"));
    stack.ironcore.apply(&seed("networkinterface"));
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    let nics: Api<networking::NetworkInterface> = Api::namespaced(ic.clone(), "default");
    let vips: Api<networking::VirtualIP> = Api::namespaced(ic, "default");
    let anics: Api<apinet::NetworkInterface> = Api::namespaced(an.clone(), APINET_NAMESPACE);
    let ips: Api<apinet::IP> = Api::namespaced(an, APINET_NAMESPACE);

    let (uid, vip_uid) = eventually(TIMEOUT, "public IP claimed by the apinet NIC", || {
        let (nics, vips, ips) = (nics.clone(), vips.clone(), ips.clone());
        async move {
            let uid = nics.get(NIC).await.ok()?.uid()?;
            let vip = vips.get(VIP).await.ok()?;
            let vip_uid = vip.uid()?;
            let ip = ips.get(&vip_uid).await.ok()?;
            let claimed = ip.spec.claim_ref.is_some()
                && vip.spec.target_ref.as_ref().is_some_and(|t| t.uid == uid);
            claimed.then_some((uid, vip_uid))
        }
    })
    .await;
    assert!(anics.get_opt(&uid).await.unwrap().is_some());

    ok(stack
        .ironcore
        .kubectl(&["delete", "networkinterface", NIC, "--wait=false"]));
    eventually(
        TIMEOUT,
        "NIC and apinet NIC gone, VirtualIP released",
        || {
            let (nics, vips, anics, ips) = (nics.clone(), vips.clone(), anics.clone(), ips.clone());
            let (uid, vip_uid) = (uid.clone(), vip_uid.clone());
            async move {
                let nic_gone = nics.get_opt(NIC).await.ok()?.is_none();
                let anic_gone = anics.get_opt(&uid).await.ok()?.is_none();
                let vip = vips.get(VIP).await.ok()?;
                let ip = ips.get(&vip_uid).await.ok()?;
                (nic_gone
                    && anic_gone
                    && vip.spec.target_ref.is_none()
                    && ip.spec.claim_ref.is_none())
                .then_some(())
            }
        },
    )
    .await;
    let vip = vips.get(VIP).await.expect("the VirtualIP itself stays");
    assert!(vip.status.ip.is_some());
}

#[tokio::test]
async fn network_interface_waits_pending_for_its_network() {
    let stack = full_stack();
    stack.ironcore.apply(&seed("networkinterface"));
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    let nics: Api<networking::NetworkInterface> = Api::namespaced(ic, "default");
    let anics: Api<apinet::NetworkInterface> = Api::namespaced(an, APINET_NAMESPACE);

    // Taken up (finalizer) but not placed while the network is missing.
    let nic = eventually(TIMEOUT, "finalizer on the NIC", || {
        let nics = nics.clone();
        async move {
            let n = nics.get(NIC).await.ok()?;
            n.finalizers()
                .iter()
                .any(|f| f == "apinet.ironcore.dev/networkinterface")
                .then_some(n)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let nic = nics.get(NIC).await.unwrap_or(nic);
    assert_eq!(nic.status.state, "Pending");
    assert!(nic.spec.provider_id.is_empty(), "{}", nic.spec.provider_id);
    assert!(
        anics
            .get_opt(&nic.uid().expect("uid"))
            .await
            .unwrap()
            .is_none()
    );

    stack.ironcore.apply(&seed("network"));
    let nic = available(&nics, NIC, |n| !n.status.ips.is_empty()).await;
    assert!(
        nic.spec.provider_id.contains("/node-a/"),
        "{}",
        nic.spec.provider_id
    );
    assert!(
        nic.status.virtual_ip.is_none(),
        "the VirtualIP does not exist"
    );
}
