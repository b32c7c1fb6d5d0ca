//! The orphan sweep: deletes apinet objects whose IronCore origin no longer exists (the IronCore
//! object vanished without its finalizer running, e.g. it was force-removed while the apinetlet
//! was down). An apinet NetworkInterface the apinetlet adopted instead of making (not named by
//! its origin's UID) is released, not deleted: someone else made it. Runs at start-up and then
//! periodically.

use std::fmt::Debug;
use std::time::Duration;

use ironcore_api::{apinet, networking};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{DeleteParams, ListParams, Patch};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::{
    LOAD_BALANCER_ORIGIN, NAT_GATEWAY_ORIGIN, NETWORK_INTERFACE_ORIGIN, NETWORK_ORIGIN,
    NETWORK_POLICY_ORIGIN, Origin, State, VIRTUAL_IP_ORIGIN, field_manager,
};
use crate::error::{Result, is_not_found};

/// Sweeps every kind once; returns how many apinet objects were deleted or released.
pub async fn sweep(st: &State) -> Result<usize> {
    let mut n =
        sweep_kind::<apinet::Network, networking::Network>(st, NETWORK_ORIGIN, false).await?;
    n += sweep_kind::<apinet::IP, networking::VirtualIP>(st, VIRTUAL_IP_ORIGIN, false).await?;
    n += sweep_kind::<apinet::LoadBalancerRouting, networking::LoadBalancer>(
        st,
        LOAD_BALANCER_ORIGIN,
        false,
    )
    .await?;
    n += sweep_kind::<apinet::LoadBalancer, networking::LoadBalancer>(
        st,
        LOAD_BALANCER_ORIGIN,
        false,
    )
    .await?;
    n += sweep_kind::<apinet::NATGatewayAutoscaler, networking::NATGateway>(
        st,
        NAT_GATEWAY_ORIGIN,
        false,
    )
    .await?;
    n += sweep_kind::<apinet::NATGateway, networking::NATGateway>(st, NAT_GATEWAY_ORIGIN, false)
        .await?;
    n += sweep_kind::<apinet::NetworkPolicyRule, networking::NetworkPolicy>(
        st,
        NETWORK_POLICY_ORIGIN,
        false,
    )
    .await?;
    n += sweep_kind::<apinet::NetworkPolicy, networking::NetworkPolicy>(
        st,
        NETWORK_POLICY_ORIGIN,
        false,
    )
    .await?;
    n += sweep_kind::<apinet::NetworkInterface, networking::NetworkInterface>(
        st,
        NETWORK_INTERFACE_ORIGIN,
        true,
    )
    .await?;
    Ok(n)
}

/// Runs [`sweep`] now and then every `period`, logging failures.
pub async fn run(st: State, period: Duration) {
    crate::runtime::every(period, "orphaned apinet objects", || sweep(&st)).await;
}

/// `adoptable`: the kind's apinet objects may have been adopted instead of made (only
/// NetworkInterfaces); an adopted one (not named by its origin's UID) is released, not deleted.
async fn sweep_kind<A, K>(st: &State, origin: Origin, adoptable: bool) -> Result<usize>
where
    A: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let apinet_api: Api<A> = Api::namespaced(st.apinet.clone(), &st.namespace);
    let uid_label = origin.uid_label();
    let list = apinet_api
        .list(&ListParams::default().labels(&uid_label))
        .await?;
    let mut deleted = 0;
    for obj in list.items {
        if obj.meta().deletion_timestamp.is_some() {
            continue;
        }
        let Some(src) = origin.source::<K, A>(&obj) else {
            continue;
        };
        let Some(ns) = src.namespace.as_deref() else {
            continue;
        };
        let want_uid = obj.labels().get(&uid_label).cloned().unwrap_or_default();
        let source = Api::<K>::namespaced(st.ironcore.clone(), ns)
            .get_opt(&src.name)
            .await?;
        if source.is_some_and(|s| s.uid().unwrap_or_default() == want_uid) {
            continue;
        }
        if adoptable && obj.name_any() != want_uid {
            // Adopted, not made by us: hand it back without our origin.
            let patch = serde_json::json!({"metadata": {
                "labels": {origin.uid_label(): null, origin.namespace_label(): null},
                "annotations": {origin.name_annotation(): null},
            }});
            match apinet_api
                .patch(&obj.name_any(), &field_manager(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => deleted += 1,
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
            tracing::info!(apinet = %obj.name_any(), origin = %src, "released adopted apinet object");
            continue;
        }
        match apinet_api
            .delete(&obj.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => deleted += 1,
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(apinet = %obj.name_any(), origin = %src, "deleted orphaned apinet object");
    }
    Ok(deleted)
}
