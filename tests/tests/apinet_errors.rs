//! Allocation failures on the embedded store and on etcd: exhausted VNI ranges and pools,
//! taken or out-of-range VNIs and addresses give clear errors (409 or 422, where upstream
//! answers most of them with a plain 500, apinet-upstream.md §3.4) and write nothing.

mod apinet_support;

use apinet_support::{API_VERSION, api_code, api_message, on_each_backend, typed};
use ironcore_api::apinet::{IP, IPAddress, Network, NetworkID, NetworkInterface};
use ironcore_e2e::{KUBECTL_WRITE_FLAGS, ServerProcess};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};

fn network(name: &str, id: Option<&str>) -> Network {
    let mut v = json!({"apiVersion": API_VERSION, "kind": "Network", "metadata": {"name": name}});
    if let Some(id) = id {
        v["spec"] = json!({"id": id});
    }
    typed(v)
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

fn nic(name: &str, family: &str) -> NetworkInterface {
    typed(json!({
        "apiVersion": API_VERSION, "kind": "NetworkInterface", "metadata": {"name": name},
        "spec": {"nodeRef": {"name": "node-1"}, "networkRef": {"name": "net"},
                 "publicIPs": [{"name": "ip", "ipFamily": family}]},
    }))
}

/// The field of the first cause of a 422.
fn cause_field(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            let v = serde_json::to_value(s).unwrap_or(Value::Null);
            v["details"]["causes"][0]["field"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        }
        other => panic!("not an API error: {other:?}"),
    }
}

fn kubectl_create_fails(server: &ServerProcess, manifest: &Value) -> String {
    let mut args = vec!["create", "-f", "-"];
    args.extend_from_slice(KUBECTL_WRITE_FLAGS);
    let out = server.kubectl_with_input(&args, Some(&manifest.to_string()));
    assert!(
        !out.status.success(),
        "kubectl create unexpectedly succeeded"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn count<K>(api: &Api<K>) -> usize
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.list(&ListParams::default())
        .await
        .expect("list")
        .items
        .len()
}

#[test]
fn exhausted_and_taken_vnis_are_409_out_of_range_is_422_and_nothing_is_written() {
    on_each_backend(&["--min-vni=300", "--max-vni=302"], |server| async move {
        let client = server.client().await;
        let nets: Api<Network> = Api::namespaced(client.clone(), "default");
        let ids: Api<NetworkID> = Api::all(client.clone());
        let pp = PostParams::default();
        let mut vnis = Vec::new();
        for i in 0..3 {
            let n = nets
                .create(&pp, &network(&format!("net-{i}"), None))
                .await
                .expect("create");
            vnis.push(n.spec.id.clone());
        }
        vnis.sort();
        assert_eq!(vnis, ["300", "301", "302"]);

        let err = nets.create(&pp, &network("net-3", None)).await.unwrap_err();
        assert_eq!(api_code(&err), 409, "{err}");
        assert!(api_message(&err).contains("all IDs are allocated"), "{err}");
        let err = nets
            .create(&pp, &network("net-3", Some("301")))
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 409, "{err}");
        assert!(
            api_message(&err).contains("provided ID is already allocated"),
            "{err}"
        );
        let err = nets
            .create(&pp, &network("net-3", Some("5")))
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 422, "{err}");
        assert_eq!(cause_field(&err), "spec.id");
        assert!(
            api_message(&err).contains("the provided ID is not in range"),
            "{err}"
        );
        let stderr = kubectl_create_fails(
            &server,
            &json!({"apiVersion": API_VERSION, "kind": "Network", "metadata": {"name": "net-k"}}),
        );
        assert!(stderr.contains("all IDs are allocated"), "{stderr}");
        assert!(nets.get_opt("net-3").await.unwrap().is_none());
        assert!(nets.get_opt("net-k").await.unwrap().is_none());
        assert_eq!(count(&ids).await, 3, "no VNI taken by a failed create");

        let err = ids
            .delete("301", &DeleteParams::default())
            .await
            .unwrap_err();
        assert_eq!(
            api_code(&err),
            409,
            "a VNI in use cannot be freed by hand: {err}"
        );
        let holder = nets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|n| n.spec.id == "301")
            .unwrap();
        nets.delete(
            holder.metadata.name.as_deref().unwrap(),
            &DeleteParams::default(),
        )
        .await
        .unwrap();
        assert!(
            ids.get_opt("301").await.unwrap().is_none(),
            "freed with its Network"
        );
        let again = nets
            .create(&pp, &network("net-3", Some("301")))
            .await
            .expect("reuse the VNI");
        assert_eq!(again.spec.id, "301");
    });
}

#[test]
fn exhausted_pools_and_taken_addresses_are_409_out_of_range_is_422_and_nothing_is_written() {
    on_each_backend(&["--public-prefix=192.0.2.0/30"], |server| async move {
        let client = server.client().await;
        let ips: Api<IP> = Api::namespaced(client.clone(), "default");
        let nics: Api<NetworkInterface> = Api::namespaced(client.clone(), "default");
        let records: Api<IPAddress> = Api::all(client.clone());
        let pp = PostParams::default();
        let mut addrs = Vec::new();
        for i in 0..4 {
            let ip = ips
                .create(&pp, &public_ip(&format!("ip-{i}"), "IPv4", None))
                .await
                .expect("create");
            addrs.push(ip.spec.ip.unwrap().to_string());
        }
        addrs.sort();
        assert_eq!(
            addrs,
            ["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3"],
            "a /30 yields 4 addresses"
        );

        let err = ips
            .create(&pp, &public_ip("ip-4", "IPv4", None))
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 409, "{err}");
        assert!(
            api_message(&err).contains("all IP addresses are already allocated"),
            "{err}"
        );
        let err = ips
            .create(&pp, &public_ip("ip-4", "IPv4", Some("192.0.2.2")))
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 409, "{err}");
        assert!(
            api_message(&err).contains("provided IP is already allocated"),
            "{err}"
        );
        let err = ips
            .create(&pp, &public_ip("ip-4", "IPv4", Some("198.51.100.1")))
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 422, "{err}");
        assert_eq!(cause_field(&err), "spec.ip");
        assert!(
            api_message(&err).contains("the provided IP is not in range"),
            "{err}"
        );
        let err = ips
            .create(&pp, &public_ip("ip-4", "IPv6", None))
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), 422, "{err}");
        assert_eq!(cause_field(&err), "spec.ipFamily");
        assert!(
            api_message(&err).contains("cannot allocate IPs of family IPv6"),
            "{err}"
        );

        let err = nics.create(&pp, &nic("nic", "IPv4")).await.unwrap_err();
        assert_eq!(api_code(&err), 409, "{err}");
        assert!(
            api_message(&err).contains("all IP addresses are already allocated"),
            "{err}"
        );
        let err = nics.create(&pp, &nic("nic", "IPv6")).await.unwrap_err();
        assert_eq!(api_code(&err), 422, "{err}");
        assert_eq!(cause_field(&err), "spec.publicIPs[0].ipFamily");

        let stderr = kubectl_create_fails(
            &server,
            &json!({"apiVersion": API_VERSION, "kind": "IP", "metadata": {"name": "ip-k"},
                    "spec": {"type": "Public", "ipFamily": "IPv4"}}),
        );
        assert!(
            stderr.contains("all IP addresses are already allocated"),
            "{stderr}"
        );

        assert_eq!(count(&ips).await, 4, "no IP written by a failed create");
        assert_eq!(
            count(&records).await,
            4,
            "no address taken by a failed create"
        );
        assert!(nics.get_opt("nic").await.unwrap().is_none());

        let freed = ips.get("ip-2").await.unwrap().spec.ip.unwrap().to_string();
        ips.delete("ip-2", &DeleteParams::default()).await.unwrap();
        let ip = ips
            .create(&pp, &public_ip("ip-4", "IPv4", None))
            .await
            .expect("freed address");
        assert_eq!(ip.spec.ip.unwrap().to_string(), freed);
    });
}
