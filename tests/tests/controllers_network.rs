//! Networks through the controllers: two mutually peered seed Networks become Available with
//! provider IDs, claim each other in `spec.incomingPeerings`, report peering state `Ready` only
//! once a node agent (`netlet`) has programmed both networks and reported it on the apinet side, and deleting them removes
//! their apinet Networks (and VNIs); a Network in use by a NetworkInterface is kept until the
//! NetworkInterface is gone.

mod controllers_support;

use std::time::Duration;

use controllers_support::{APINET_NAMESPACE, Stack, eventually};
use ironcore_api::{apinet, networking};
use ironcore_e2e::{ok, seed};
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(20);

/// The second network of the seed's peering: it peers back with `network-sample`.
const NETWORK_SAMPLE2: &str = "apiVersion: networking.ironcore.dev/v1alpha1
kind: Network
metadata:
  name: network-sample2
spec:
  peerings:
    - name: peering1
      networkRef:
        name: network-sample
";

#[tokio::test]
async fn mutually_peered_networks_become_available_ready_and_are_cleaned_up() {
    let mut stack = Stack::start();
    stack.ironcore.apply(&seed("network"));
    stack.ironcore.apply(NETWORK_SAMPLE2);
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    let nets: Api<networking::Network> = Api::namespaced(ic.clone(), "default");
    let apinets: Api<apinet::Network> = Api::namespaced(an.clone(), APINET_NAMESPACE);

    // Available, provider ID, each other in incomingPeerings; peerings Pending until reported.
    let pairs = [
        ("network-sample", "network-sample2"),
        ("network-sample2", "network-sample"),
    ];
    let mut vni = std::collections::BTreeMap::new();
    for (me, peer) in pairs {
        let n = eventually(TIMEOUT, &format!("{me} available and peered"), || {
            let nets = nets.clone();
            async move {
                let n = nets.get(me).await.ok()?;
                let claimed = n.spec.incoming_peerings.iter().any(|c| c.name == peer);
                (n.status.state == "Available" && claimed && !n.spec.provider_id.is_empty())
                    .then_some(n)
            }
        })
        .await;
        let uid = n.uid().expect("uid");
        let a = apinets
            .get(&uid)
            .await
            .expect("apinet network named by the uid");
        let parts: Vec<&str> = n
            .spec
            .provider_id
            .strip_prefix("ironcore-net://")
            .expect("provider ID prefix")
            .split('/')
            .collect();
        assert_eq!(
            parts,
            [
                APINET_NAMESPACE,
                uid.as_str(),
                a.spec.id.as_str(),
                a.uid().unwrap().as_str()
            ],
            "{me}: providerID"
        );
        assert_eq!(a.labels()["apinetlet.ironcore.dev/network-uid"], uid);
        assert_eq!(
            a.labels()["apinetlet.ironcore.dev/network-namespace"],
            "default"
        );
        assert_eq!(a.annotations()["apinetlet.ironcore.dev/network-name"], me);
        for f in [
            "networking.ironcore.dev/network",
            "apinet.ironcore.dev/network",
        ] {
            assert!(n.finalizers().iter().any(|x| x == f), "{me}: finalizer {f}");
        }
        assert_eq!(
            n.status.peerings.len(),
            1,
            "{me}: one status entry per spec peering"
        );
        assert_eq!(n.status.peerings[0].name, "peering1");
        assert_eq!(
            n.status.peerings[0].state, "Pending",
            "{me}: not Ready before the node agent reports"
        );
        vni.insert(me, a.spec.id.clone());
    }

    // The apinet Networks peer by VNI; a node agent programs both and reports the peerings.
    stack.add_netlet("node-a", &[]);
    for (me, peer) in pairs {
        let uid = nets.get(me).await.unwrap().uid().unwrap();
        let a = eventually(TIMEOUT, &format!("apinet peering of {me}"), || {
            let apinets = apinets.clone();
            let uid = uid.clone();
            async move {
                let a = apinets.get(&uid).await.ok()?;
                (!a.spec.peerings.is_empty()).then_some(a)
            }
        })
        .await;
        assert_eq!(a.spec.peerings.len(), 1);
        assert_eq!(a.spec.peerings[0].name, "peering1");
        assert_eq!(
            a.spec.peerings[0].id, vni[peer],
            "{me} peers with {peer}'s VNI"
        );
    }
    for (me, _) in pairs {
        eventually(TIMEOUT, &format!("{me} peering Ready"), || {
            let nets = nets.clone();
            async move {
                let n = nets.get(me).await.ok()?;
                (n.status.peerings.len() == 1 && n.status.peerings[0].state == "Ready")
                    .then_some(())
            }
        })
        .await;
    }
    let dp = stack.dataplane(0);
    for (me, peer) in pairs {
        let uid = nets.get(me).await.unwrap().uid().unwrap();
        let programmed = &dp["networks"][format!("{APINET_NAMESPACE}/{uid}")];
        assert_eq!(programmed["vni"].to_string(), vni[me], "{me}: {dp}");
        assert_eq!(
            programmed["peeredIds"],
            json!([vni[peer].parse::<i64>().unwrap()]),
            "{me}: {dp}"
        );
    }
    let a = apinets
        .get(&nets.get("network-sample").await.unwrap().uid().unwrap())
        .await
        .unwrap();
    assert_eq!(
        a.status.peerings.keys().collect::<Vec<_>>(),
        ["node-a"],
        "the netlet reports under its node"
    );
    let get = ok(stack.ironcore.kubectl(&["get", "networks"]));
    assert!(
        get.contains("network-sample2") && get.contains("Available"),
        "{get}"
    );

    // A NetworkInterface keeps network-sample; network-sample2 goes, with its apinet side.
    stack.ironcore.apply(&seed("networkinterface"));
    let uids: Vec<String> = futures::future::join_all(pairs.iter().map(|(me, _)| {
        let nets = nets.clone();
        async move { nets.get(me).await.unwrap().uid().unwrap() }
    }))
    .await;
    ok(stack.ironcore.kubectl(&[
        "delete",
        "network",
        "network-sample",
        "network-sample2",
        "--wait=false",
    ]));
    eventually(
        TIMEOUT,
        "network-sample2 and its apinet network gone",
        || {
            let (nets, apinets, uid) = (nets.clone(), apinets.clone(), uids[1].clone());
            async move {
                let gone = nets.get_opt("network-sample2").await.ok()?.is_none()
                    && apinets.get_opt(&uid).await.ok()?.is_none();
                gone.then_some(())
            }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let kept = nets
        .get("network-sample")
        .await
        .expect("network-sample kept while in use");
    assert!(kept.metadata.deletion_timestamp.is_some());
    assert!(
        kept.finalizers()
            .iter()
            .any(|f| f == "networking.ironcore.dev/network")
    );

    ok(stack
        .ironcore
        .kubectl(&["delete", "networkinterface", "networkinterface-sample"]));
    eventually(
        TIMEOUT,
        "network-sample and every apinet network gone",
        || {
            let (nets, apinets) = (nets.clone(), apinets.clone());
            async move {
                let gone = nets.get_opt("network-sample").await.ok()?.is_none()
                    && apinets
                        .list(&ListParams::default())
                        .await
                        .ok()?
                        .items
                        .is_empty();
                gone.then_some(())
            }
        },
    )
    .await;
    let ids: Api<apinet::NetworkID> = Api::all(an.clone());
    eventually(TIMEOUT, "VNIs released", || {
        let ids = ids.clone();
        async move {
            ids.list(&ListParams::default())
                .await
                .ok()?
                .items
                .is_empty()
                .then_some(())
        }
    })
    .await;

    let metrics = stack.apinetlet.metrics();
    assert!(
        metrics.contains("controller_reconcile_total{controller=\"network\",result=\"success\"}"),
        "{metrics}"
    );
    assert_eq!(stack.manager.probe("/healthz").0, 200);
}

#[tokio::test]
async fn apinet_network_of_a_vanished_network_is_swept() {
    let stack = Stack::start();
    let an = stack.apinet.client().await;
    let apinets: Api<apinet::Network> = Api::namespaced(an, APINET_NAMESPACE);
    let dangling: apinet::Network = serde_json::from_value(json!({
        "apiVersion": "core.apinet.ironcore.dev/v1alpha1", "kind": "Network",
        "metadata": {
            "name": "dangling",
            "labels": {
                "apinetlet.ironcore.dev/network-uid": "0d6f7c1e-0000-0000-0000-000000000000",
                "apinetlet.ironcore.dev/network-namespace": "default",
            },
            "annotations": {"apinetlet.ironcore.dev/network-name": "gone"},
        },
    }))
    .unwrap();
    apinets
        .create(&Default::default(), &dangling)
        .await
        .expect("create dangling apinet network");
    eventually(TIMEOUT, "dangling apinet network deleted", || {
        let apinets = apinets.clone();
        async move {
            apinets
                .get_opt("dangling")
                .await
                .ok()?
                .is_none()
                .then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn orphaned_apinet_network_interfaces_are_deleted_when_made_and_released_when_adopted() {
    let stack = Stack::start();
    let an = stack.apinet.client().await;
    let nics: Api<apinet::NetworkInterface> = Api::namespaced(an, APINET_NAMESPACE);
    let gone_uid = "0d6f7c1e-0000-0000-0000-000000000001";
    let orphan = |name: &str| -> apinet::NetworkInterface {
        serde_json::from_value(json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1", "kind": "NetworkInterface",
            "metadata": {
                "name": name,
                "labels": {
                    "apinetlet.ironcore.dev/networkinterface-uid": gone_uid,
                    "apinetlet.ironcore.dev/networkinterface-namespace": "default",
                },
                "annotations": {"apinetlet.ironcore.dev/networkinterface-name": "gone"},
            },
            "spec": {"nodeRef": {"name": "node-a"}, "networkRef": {"name": "net"},
                     "ips": ["10.1.0.1"]},
        }))
        .unwrap()
    };
    for name in [gone_uid, "adopted"] {
        nics.create(&Default::default(), &orphan(name))
            .await
            .expect("create orphaned apinet NIC");
    }
    eventually(TIMEOUT, "made NIC deleted, adopted NIC released", || {
        let nics = nics.clone();
        async move {
            let made_gone = nics.get_opt(gone_uid).await.ok()?.is_none();
            let adopted = nics.get_opt("adopted").await.ok()??;
            let released = !adopted
                .labels()
                .contains_key("apinetlet.ironcore.dev/networkinterface-uid");
            (made_gone && released).then_some(())
        }
    })
    .await;
}
