//! VirtualIPs through the apinetlet: the seed's VirtualIP gets `status.ip` from the apinet
//! public pool through an apinet IP named by its UID; deleting it deletes that IP.

mod controllers_support;

use std::time::Duration;

use controllers_support::{APINET_NAMESPACE, Stack, eventually};
use ironcore_api::{apinet, networking};
use ironcore_e2e::{ok, seed};
use kube::{Api, ResourceExt};

const TIMEOUT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn virtual_ip_gets_an_address_from_the_pool_and_is_cleaned_up() {
    let stack = Stack::start();
    stack.ironcore.apply(&seed("virtualip"));
    let ic = stack.ironcore.client().await;
    let an = stack.apinet.client().await;
    let vips: Api<networking::VirtualIP> = Api::namespaced(ic, "default");
    let ips: Api<apinet::IP> = Api::namespaced(an, APINET_NAMESPACE);

    let vip = eventually(TIMEOUT, "status.ip", || {
        let vips = vips.clone();
        async move {
            let v = vips.get("virtualip-sample").await.ok()?;
            v.status.ip.is_some().then_some(v)
        }
    })
    .await;
    let addr = serde_json::to_value(&vip.status.ip).unwrap();
    let addr = addr.as_str().expect("IP string").to_owned();
    assert!(
        addr.starts_with("10.0.0."),
        "{addr} is from {}",
        controllers_support::PUBLIC_PREFIX
    );
    assert!(
        vip.finalizers()
            .iter()
            .any(|f| f == "apinet.ironcore.dev/virtualip")
    );

    let uid = vip.uid().expect("uid");
    let ip = ips.get(&uid).await.expect("apinet IP named by the uid");
    assert_eq!(ip.spec.ip, vip.status.ip);
    assert_eq!(ip.spec.type_, "Public");
    assert_eq!(ip.labels()["apinetlet.ironcore.dev/virtualip-uid"], uid);
    assert_eq!(
        ip.labels()["apinetlet.ironcore.dev/virtualip-namespace"],
        "default"
    );
    assert_eq!(
        ip.annotations()["apinetlet.ironcore.dev/virtualip-name"],
        "virtualip-sample"
    );
    let get = ok(stack
        .ironcore
        .kubectl(&["get", "virtualip", "virtualip-sample"]));
    assert!(get.contains(&addr), "{get}");

    ok(stack
        .ironcore
        .kubectl(&["delete", "virtualip", "virtualip-sample", "--wait=false"]));
    eventually(TIMEOUT, "virtual IP and apinet IP gone", || {
        let (vips, ips, uid) = (vips.clone(), ips.clone(), uid.clone());
        async move {
            let gone = vips.get_opt("virtualip-sample").await.ok()?.is_none()
                && ips.get_opt(&uid).await.ok()?.is_none();
            gone.then_some(())
        }
    })
    .await;
}
