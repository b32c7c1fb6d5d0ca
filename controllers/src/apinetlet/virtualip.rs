//! VirtualIP → apinet IP (apinet-upstream.md §5.5): the apinet server allocates the address
//! from its public pool; it is written back as `status.ip`.

use std::sync::Arc;

use ironcore_api::apinet;
use ironcore_api::networking::VirtualIP;
use kube::api::Patch;
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{State, VIRTUAL_IP_ORIGIN, apply, ensure_gone, field_manager, lifecycle};
use crate::error::{Error, Result};

/// The finalizer on IronCore VirtualIPs.
pub const FINALIZER: &str = "apinet.ironcore.dev/virtualip";
/// The controller: IronCore VirtualIPs, and apinet IPs mapped back by origin.
pub fn controller(st: &State) -> Controller<VirtualIP> {
    let wc = watcher::Config::default();
    Controller::new(Api::<VirtualIP>::all(st.ironcore.clone()), wc.clone()).watches(
        Api::<apinet::IP>::namespaced(st.apinet.clone(), &st.namespace),
        wc.labels(&VIRTUAL_IP_ORIGIN.uid_label()),
        |ip| VIRTUAL_IP_ORIGIN.source::<VirtualIP, _>(&ip),
    )
}

/// Realizes one VirtualIP, or cleans up after a deleting one.
pub async fn reconcile(vip: Arc<VirtualIP>, st: Arc<State>) -> Result<Action> {
    let ns = vip
        .namespace()
        .ok_or_else(|| Error::NotReady("virtual IP without namespace".into()))?;
    let name = vip.name_any();
    let uid = vip
        .uid()
        .ok_or_else(|| Error::NotReady("virtual IP without uid".into()))?;
    let api: Api<VirtualIP> = Api::namespaced(st.ironcore.clone(), &ns);
    let ips: Api<apinet::IP> = Api::namespaced(st.apinet.clone(), &st.namespace);

    let made = || ensure_gone(&ips, &uid);
    if let Some(done) = lifecycle(&api, vip.as_ref(), FINALIZER, made).await? {
        return Ok(done);
    }

    let body = json!({
        "apiVersion": "core.apinet.ironcore.dev/v1alpha1",
        "kind": "IP",
        "metadata": {
            "name": uid,
            "namespace": st.namespace,
            "labels": VIRTUAL_IP_ORIGIN.labels(vip.as_ref()),
            "annotations": VIRTUAL_IP_ORIGIN.annotations(vip.as_ref()),
        },
        "spec": {
            "type": apinet::ip::IP_TYPE_PUBLIC,
            "ipFamily": vip.spec.ip_family,
        },
    });
    let ip = apply(&ips, &uid, &body).await?;
    let Some(addr) = ip.spec.ip else {
        return Err(Error::NotReady(format!(
            "apinet IP {uid} has no address yet"
        )));
    };
    if vip.status.ip.as_ref() != Some(&addr) {
        let patch = json!({"status": {"ip": addr}});
        api.patch_status(&name, &field_manager(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(virtual_ip = %name, namespace = %ns, ip = ?addr, "virtual IP allocated");
    }
    Ok(Action::requeue(st.resync))
}
