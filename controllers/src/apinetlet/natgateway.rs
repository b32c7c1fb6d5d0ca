//! NATGateway → apinet NATGateway + NATGatewayAutoscaler (apinet-upstream.md §5.8).
//!
//! Both apinet objects are named by the IronCore NATGateway's UID. The apinet NATGateway carries
//! the family, the network (the IronCore Network's UID) and `portsPerNetworkInterface` (the
//! spec value or 2048), never `ips`: those belong to the autoscaler, which the
//! apinet-controller-manager runs (min 1, max 10 public IPs). The allocated IPs are written back
//! as `status.ips: [{name, ip}]` (the seed's shape).
//!
//! No garbage collector runs, so deletion deletes the autoscaler and the apinet NATGateway and
//! keeps the finalizer until both are gone. A gateway whose Network does not exist makes nothing;
//! the watch on IronCore Networks retries it once the Network appears.

use std::sync::Arc;

use ironcore_api::apinet;
use ironcore_api::networking::natgateway::DEFAULT_PORTS_PER_NETWORK_INTERFACE;
use ironcore_api::networking::{NATGateway, NATGatewayIPStatus, Network};
use kube::api::Patch;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};

use super::{
    APINET_API_VERSION, NAT_GATEWAY_ORIGIN, State, apply, ensure_gone, field_manager, lifecycle,
    network_uid,
};
use crate::error::{Error, Result};

/// The finalizer on IronCore NATGateways.
pub const FINALIZER: &str = "apinet.ironcore.dev/natgateway";
/// The fewest public IPs the autoscaler keeps.
pub const MIN_PUBLIC_IPS: i32 = 1;
/// The most public IPs the autoscaler grows to.
pub const MAX_PUBLIC_IPS: i32 = 10;
/// The controller: IronCore NATGateways; IronCore Networks (→ the gateways referencing them);
/// apinet NATGateways and NATGatewayAutoscalers mapped back by origin.
pub fn controller(st: &State) -> Controller<NATGateway> {
    let wc = watcher::Config::default();
    let ctl = Controller::new(Api::<NATGateway>::all(st.ironcore.clone()), wc.clone());
    let gateways = ctl.store();
    ctl.watches(
        Api::<Network>::all(st.ironcore.clone()),
        wc.clone(),
        move |net| {
            let ns = net.namespace().unwrap_or_default();
            let name = net.name_any();
            gateways
                .state()
                .into_iter()
                .filter(|g| {
                    g.namespace().as_deref() == Some(ns.as_str()) && g.spec.network_ref.name == name
                })
                .map(|g| ObjectRef::from_obj(g.as_ref()))
                .collect::<Vec<_>>()
        },
    )
    .watches(
        Api::<apinet::NATGateway>::namespaced(st.apinet.clone(), &st.namespace),
        wc.clone().labels(&NAT_GATEWAY_ORIGIN.uid_label()),
        |g| NAT_GATEWAY_ORIGIN.source::<NATGateway, _>(&g),
    )
    .watches(
        Api::<apinet::NATGatewayAutoscaler>::namespaced(st.apinet.clone(), &st.namespace),
        wc.labels(&NAT_GATEWAY_ORIGIN.uid_label()),
        |a| NAT_GATEWAY_ORIGIN.source::<NATGateway, _>(&a),
    )
}

/// Realizes one NATGateway, or cleans up after a deleting one.
pub async fn reconcile(ngw: Arc<NATGateway>, st: Arc<State>) -> Result<Action> {
    let ns = ngw
        .namespace()
        .ok_or_else(|| Error::NotReady("NAT gateway without namespace".into()))?;
    let name = ngw.name_any();
    let uid = ngw
        .uid()
        .ok_or_else(|| Error::NotReady("NAT gateway without uid".into()))?;
    let api: Api<NATGateway> = Api::namespaced(st.ironcore.clone(), &ns);
    let gateways: Api<apinet::NATGateway> = Api::namespaced(st.apinet.clone(), &st.namespace);
    let scalers: Api<apinet::NATGatewayAutoscaler> =
        Api::namespaced(st.apinet.clone(), &st.namespace);

    // No garbage collector: the autoscaler goes explicitly, with the gateway.
    let made =
        || async { Ok(ensure_gone(&scalers, &uid).await? & ensure_gone(&gateways, &uid).await?) };
    if let Some(done) = lifecycle(&api, ngw.as_ref(), FINALIZER, made).await? {
        return Ok(done);
    }

    let Some(net_uid) = network_uid(&st, &ns, &ngw.spec.network_ref.name).await? else {
        tracing::info!(nat_gateway = %name, namespace = %ns, network = %ngw.spec.network_ref.name, "network not found, waiting for it");
        return Ok(Action::await_change());
    };

    let want = desired_gateway(&ngw, &st.namespace, &net_uid);
    let gateway = match gateways.get_opt(&uid).await? {
        Some(have) if gateway_up_to_date(&have, &ngw, &net_uid) => have,
        _ => {
            let g = apply(&gateways, &uid, &want).await?;
            tracing::info!(nat_gateway = %name, namespace = %ns, apinet = %uid, "apinet NAT gateway applied");
            g
        }
    };
    let gateway_uid = gateway
        .uid()
        .ok_or_else(|| Error::NotReady(format!("apinet NAT gateway {uid} without uid")))?;

    let up_to_date = scalers
        .get_opt(&uid)
        .await?
        .is_some_and(|have| autoscaler_up_to_date(&have, &ngw, &gateway_uid));
    if !up_to_date {
        let want = desired_autoscaler(&ngw, &st.namespace, &gateway_uid);
        apply(&scalers, &uid, &want).await?;
        tracing::info!(nat_gateway = %name, namespace = %ns, apinet = %uid, "apinet NAT gateway autoscaler applied");
    }

    let ips = status_ips(&gateway);
    if ngw.status.ips != ips {
        let value = if ips.is_empty() {
            Value::Null
        } else {
            serde_json::to_value(&ips).map_err(|e| Error::NotReady(e.to_string()))?
        };
        let patch = json!({"status": {"ips": value}});
        api.patch_status(&name, &field_manager(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(nat_gateway = %name, namespace = %ns, ips = ?ips, "NAT gateway IPs updated");
    }
    Ok(Action::requeue(st.resync))
}

/// `spec.portsPerNetworkInterface` of the apinet NATGateway: the IronCore value or 2048.
pub fn ports_per_network_interface(ngw: &NATGateway) -> i32 {
    ngw.spec
        .ports_per_network_interface
        .unwrap_or(DEFAULT_PORTS_PER_NETWORK_INTERFACE)
}

/// The apinet NATGateway made for `ngw` (no `ips`: the autoscaler owns them).
pub fn desired_gateway(ngw: &NATGateway, apinet_namespace: &str, network_uid: &str) -> Value {
    json!({
        "apiVersion": APINET_API_VERSION,
        "kind": "NATGateway",
        "metadata": {
            "name": ngw.uid().unwrap_or_default(),
            "namespace": apinet_namespace,
            "labels": NAT_GATEWAY_ORIGIN.labels(ngw),
            "annotations": NAT_GATEWAY_ORIGIN.annotations(ngw),
        },
        "spec": {
            "ipFamily": ngw.spec.ip_family,
            "networkRef": {"name": network_uid},
            "portsPerNetworkInterface": ports_per_network_interface(ngw),
        },
    })
}

/// The apinet NATGatewayAutoscaler made for `ngw`, controlled by the apinet NATGateway.
pub fn desired_autoscaler(ngw: &NATGateway, apinet_namespace: &str, gateway_uid: &str) -> Value {
    let name = ngw.uid().unwrap_or_default();
    json!({
        "apiVersion": APINET_API_VERSION,
        "kind": "NATGatewayAutoscaler",
        "metadata": {
            "name": name,
            "namespace": apinet_namespace,
            "labels": NAT_GATEWAY_ORIGIN.labels(ngw),
            "annotations": NAT_GATEWAY_ORIGIN.annotations(ngw),
            "ownerReferences": [{
                "apiVersion": APINET_API_VERSION,
                "kind": "NATGateway",
                "name": name,
                "uid": gateway_uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "natGatewayRef": {"name": name},
            "minPublicIPs": MIN_PUBLIC_IPS,
            "maxPublicIPs": MAX_PUBLIC_IPS,
        },
    })
}

/// Whether the stored apinet NATGateway already is what [`desired_gateway`] describes.
pub fn gateway_up_to_date(have: &apinet::NATGateway, ngw: &NATGateway, network_uid: &str) -> bool {
    NAT_GATEWAY_ORIGIN.marks(have, ngw)
        && have.meta().deletion_timestamp.is_none()
        && have.spec.ip_family == ngw.spec.ip_family
        && have.spec.network_ref.name == network_uid
        && have.spec.ports_per_network_interface == ports_per_network_interface(ngw)
}

/// Whether the stored autoscaler already is what [`desired_autoscaler`] describes.
pub fn autoscaler_up_to_date(
    have: &apinet::NATGatewayAutoscaler,
    ngw: &NATGateway,
    gateway_uid: &str,
) -> bool {
    let controlled = have
        .owner_references()
        .iter()
        .any(|o| o.uid == gateway_uid && o.kind == "NATGateway" && o.controller == Some(true));
    NAT_GATEWAY_ORIGIN.marks(have, ngw)
        && have.meta().deletion_timestamp.is_none()
        && controlled
        && have.spec.nat_gateway_ref.name == ngw.uid().unwrap_or_default()
        && have.spec.min_public_ips == Some(MIN_PUBLIC_IPS)
        && have.spec.max_public_ips == Some(MAX_PUBLIC_IPS)
}

/// The IronCore `status.ips`: the allocated entries of the apinet NATGateway's `spec.ips`.
pub fn status_ips(gateway: &apinet::NATGateway) -> Vec<NATGatewayIPStatus> {
    gateway
        .spec
        .ips
        .iter()
        .filter(|i| i.ip.is_some())
        .map(|i| NATGatewayIPStatus {
            name: i.name.clone(),
            ip: i.ip.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ngw(ppni: Option<i32>) -> NATGateway {
        let mut spec = json!({"type": "Public", "ipFamily": "IPv4", "networkRef": {"name": "net"}});
        if let Some(p) = ppni {
            spec["portsPerNetworkInterface"] = json!(p);
        }
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "NATGateway",
            "metadata": {"name": "gw", "namespace": "default", "uid": "gw-uid"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn gateway_carries_family_network_ports_and_origin_but_no_ips() {
        let want = desired_gateway(&ngw(Some(64)), "apinet", "net-uid");
        assert_eq!(want["metadata"]["name"], "gw-uid");
        assert_eq!(want["metadata"]["namespace"], "apinet");
        assert_eq!(
            want["metadata"]["labels"]["apinetlet.ironcore.dev/natgateway-uid"],
            "gw-uid"
        );
        assert_eq!(
            want["metadata"]["labels"]["apinetlet.ironcore.dev/natgateway-namespace"],
            "default"
        );
        assert_eq!(
            want["metadata"]["annotations"]["apinetlet.ironcore.dev/natgateway-name"],
            "gw"
        );
        assert_eq!(
            want["spec"],
            json!({"ipFamily": "IPv4", "networkRef": {"name": "net-uid"}, "portsPerNetworkInterface": 64})
        );
    }

    #[test]
    fn ports_default_to_2048() {
        assert_eq!(ports_per_network_interface(&ngw(None)), 2048);
        let want = desired_gateway(&ngw(None), "apinet", "net-uid");
        assert_eq!(want["spec"]["portsPerNetworkInterface"], 2048);
    }

    #[test]
    fn autoscaler_is_bounded_and_controlled_by_the_gateway() {
        let want = desired_autoscaler(&ngw(None), "apinet", "apinet-gw-uid");
        assert_eq!(
            want["spec"],
            json!({"natGatewayRef": {"name": "gw-uid"}, "minPublicIPs": 1, "maxPublicIPs": 10})
        );
        let owner = &want["metadata"]["ownerReferences"][0];
        assert_eq!(owner["uid"], "apinet-gw-uid");
        assert_eq!(owner["kind"], "NATGateway");
        assert_eq!(owner["controller"], true);
        assert_eq!(owner["blockOwnerDeletion"], true);
        // What is applied is recognized as up to date afterwards.
        let stored: apinet::NATGatewayAutoscaler = serde_json::from_value(want).unwrap();
        assert!(autoscaler_up_to_date(&stored, &ngw(None), "apinet-gw-uid"));
        assert!(!autoscaler_up_to_date(&stored, &ngw(None), "other"));
    }

    #[test]
    fn gateway_up_to_date_notices_every_difference() {
        let stored: apinet::NATGateway =
            serde_json::from_value(desired_gateway(&ngw(Some(64)), "apinet", "net-uid")).unwrap();
        assert!(gateway_up_to_date(&stored, &ngw(Some(64)), "net-uid"));
        assert!(!gateway_up_to_date(&stored, &ngw(Some(128)), "net-uid"));
        assert!(!gateway_up_to_date(&stored, &ngw(Some(64)), "other-net"));
        let mut unlabelled = stored.clone();
        unlabelled.metadata.labels = None;
        assert!(!gateway_up_to_date(&unlabelled, &ngw(Some(64)), "net-uid"));
    }

    #[test]
    fn status_lists_allocated_ips_with_their_names() {
        let gateway: apinet::NATGateway = serde_json::from_value(json!({
            "apiVersion": "core.apinet.ironcore.dev/v1alpha1", "kind": "NATGateway",
            "metadata": {"name": "gw-uid", "namespace": "apinet"},
            "spec": {"ipFamily": "IPv4", "networkRef": {"name": "n"}, "portsPerNetworkInterface": 64,
                     "ips": [{"name": "ip1", "ip": "10.0.0.1"}, {"name": "pending"}]},
        }))
        .unwrap();
        let ips = status_ips(&gateway);
        assert_eq!(
            serde_json::to_value(&ips).unwrap(),
            json!([{"name": "ip1", "ip": "10.0.0.1"}])
        );
    }
}
