//! The releases of claims whose claimer is gone (networking-upstream.md §8.6, §8.7).
//!
//! - `virtualiprelease`: a VirtualIP whose `spec.targetRef` names a NetworkInterface that does
//!   not exist (or exists with another UID) gets `targetRef: null`. Because this system runs no
//!   ownerReference garbage collector, the same controller also deletes a VirtualIP whose
//!   controller ownerReference names a NetworkInterface that no longer exists by UID (an
//!   ephemeral VirtualIP with reclaim policy `Delete` whose NIC was deleted).
//! - `networkinterfacerelease`: a NetworkInterface whose `spec.machineRef` names a Machine
//!   (`compute.ironcore.dev/v1alpha1`, by name in the same namespace) that does not exist or has
//!   another UID gets `machineRef: null`. That group is served by no server of this system:
//!   [`network_interface_controller`] checks discovery at start and, when the group is not
//!   served, logs once that the controller is idle and does not start it.
//!
//! Both read the claimer live (never from a cache) before releasing, and write with an
//! optimistic lock (merge patch carrying `resourceVersion`).

use std::sync::Arc;

use ironcore_api::networking::{NetworkInterface, VirtualIP};
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, Preconditions,
};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::State;
use super::ephemeral_virtualip::controller_nic;
use crate::error::{Error, Result, is_not_found};

/// The field manager of `virtualiprelease`.
pub const VIRTUAL_IP_FIELD_MANAGER: &str = "virtualiprelease.networking.ironcore.dev";
/// The field manager of `networkinterfacerelease`.
pub const NETWORK_INTERFACE_FIELD_MANAGER: &str = "networkinterfacerelease.networking.ironcore.dev";
/// The group-version of Machines.
pub const COMPUTE_GROUP_VERSION: &str = "compute.ironcore.dev/v1alpha1";

fn pp(manager: &str) -> PatchParams {
    PatchParams {
        field_manager: Some(manager.to_owned()),
        ..Default::default()
    }
}

/// The `virtualiprelease` controller: VirtualIPs, and NetworkInterfaces mapped to the
/// VirtualIPs that target them or that they control (deletions included).
pub fn virtual_ip_controller(client: &kube::Client) -> Controller<VirtualIP> {
    let wc = watcher::Config::default();
    let ctl = Controller::new(Api::<VirtualIP>::all(client.clone()), wc.clone());
    let store = ctl.store();
    ctl.watches(
        Api::<NetworkInterface>::all(client.clone()),
        wc,
        move |nic| {
            let ns = nic.namespace();
            let uid = nic.uid().unwrap_or_default();
            let name = nic.name_any();
            store
                .state()
                .iter()
                .filter(|v| v.namespace() == ns)
                .filter(|v| {
                    v.spec
                        .target_ref
                        .as_ref()
                        .is_some_and(|t| t.uid == uid || t.name == name)
                        || controller_nic(v).is_some_and(|o| o.uid == uid)
                })
                .map(|v| ObjectRef::from_obj(v.as_ref()))
                .collect::<Vec<_>>()
        },
    )
}

/// Whether the NetworkInterface `name` with `uid` exists in `api`'s namespace (live read).
async fn nic_exists(api: &Api<NetworkInterface>, name: &str, uid: &str) -> Result<bool> {
    Ok(api
        .get_opt(name)
        .await?
        .is_some_and(|n| n.uid().as_deref() == Some(uid)))
}

/// Deletes a VirtualIP whose controlling NIC is gone, or releases its gone target.
pub async fn reconcile_virtual_ip(vip: Arc<VirtualIP>, state: Arc<State>) -> Result<Action> {
    if vip.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = vip
        .namespace()
        .ok_or_else(|| Error::NotReady("virtual IP without namespace".into()))?;
    let name = vip.name_any();
    let nics: Api<NetworkInterface> = Api::namespaced(state.client.clone(), &ns);
    let vips: Api<VirtualIP> = Api::namespaced(state.client.clone(), &ns);

    if let Some(owner) = controller_nic(&vip)
        && !nic_exists(&nics, &owner.name, &owner.uid).await?
    {
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: vip.uid(),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        match vips.delete(&name, &dp).await {
            Ok(_) => {
                tracing::info!(virtual_ip = %name, namespace = %ns, owner = %owner.name, "virtual IP of a deleted network interface deleted")
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(Action::await_change());
    }

    if let Some(target) = &vip.spec.target_ref
        && !nic_exists(&nics, &target.name, &target.uid).await?
    {
        let patch = json!({
            "metadata": {"resourceVersion": vip.resource_version()},
            "spec": {"targetRef": null},
        });
        vips.patch(&name, &pp(VIRTUAL_IP_FIELD_MANAGER), &Patch::Merge(&patch))
            .await?;
        tracing::info!(virtual_ip = %name, namespace = %ns, target = %target.name, "virtual IP released from a gone network interface");
    }
    Ok(Action::requeue(state.resync))
}

/// The Machine resource of `compute.ironcore.dev/v1alpha1`.
pub fn machine_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("compute.ironcore.dev", "v1alpha1", "Machine"),
        "machines",
    )
}

/// Whether the API serves `compute.ironcore.dev/v1alpha1` machines (discovery).
pub async fn machines_served(client: &kube::Client) -> Result<bool> {
    match client.list_api_group_resources(COMPUTE_GROUP_VERSION).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == "machines")),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The `networkinterfacerelease` controller (NetworkInterfaces, and Machines mapped to the NICs
/// that reference them), or `None` — logged once — when Machines are not served.
pub async fn network_interface_controller(
    client: &kube::Client,
) -> Result<Option<Controller<NetworkInterface>>> {
    if !machines_served(client).await? {
        tracing::info!(
            controller = "networkinterfacerelease",
            group_version = COMPUTE_GROUP_VERSION,
            "machines are not served; controller idle"
        );
        return Ok(None);
    }
    let wc = watcher::Config::default();
    let ctl = Controller::new(Api::<NetworkInterface>::all(client.clone()), wc.clone());
    let store = ctl.store();
    let ar = machine_resource();
    Ok(Some(ctl.watches_with(
        Api::<DynamicObject>::all_with(client.clone(), &ar),
        ar,
        wc,
        move |machine| {
            let ns = machine.namespace();
            let uid = machine.uid().unwrap_or_default();
            store
                .state()
                .iter()
                .filter(|n| n.namespace() == ns)
                .filter(|n| n.spec.machine_ref.as_ref().is_some_and(|m| m.uid == uid))
                .map(|n| ObjectRef::from_obj(n.as_ref()))
                .collect::<Vec<_>>()
        },
    )))
}

/// Clears `spec.machineRef` when the Machine it names is gone.
pub async fn reconcile_network_interface(
    nic: Arc<NetworkInterface>,
    state: Arc<State>,
) -> Result<Action> {
    let Some(machine) = &nic.spec.machine_ref else {
        return Ok(Action::await_change());
    };
    if nic.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = nic
        .namespace()
        .ok_or_else(|| Error::NotReady("network interface without namespace".into()))?;
    let machines: Api<DynamicObject> =
        Api::namespaced_with(state.client.clone(), &ns, &machine_resource());
    let exists = machines
        .get_opt(&machine.name)
        .await?
        .is_some_and(|m| m.uid().as_deref() == Some(machine.uid.as_str()));
    if !exists {
        let name = nic.name_any();
        let patch = json!({
            "metadata": {"resourceVersion": nic.resource_version()},
            "spec": {"machineRef": null},
        });
        Api::<NetworkInterface>::namespaced(state.client.clone(), &ns)
            .patch(
                &name,
                &pp(NETWORK_INTERFACE_FIELD_MANAGER),
                &Patch::Merge(&patch),
            )
            .await?;
        tracing::info!(network_interface = %name, namespace = %ns, machine = %machine.name, "network interface released from a gone machine");
    }
    Ok(Action::requeue(state.resync))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_resource_names_compute_machines() {
        let ar = machine_resource();
        assert_eq!(ar.api_version, COMPUTE_GROUP_VERSION);
        assert_eq!(ar.plural, "machines");
        assert_eq!(ar.kind, "Machine");
    }
}
