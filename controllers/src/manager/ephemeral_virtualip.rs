//! `networkinterfaceephemeralvirtualip`: the VirtualIP of a NetworkInterface with
//! `spec.virtualIP.ephemeral` (networking-upstream.md §8.5).
//!
//! The desired VirtualIP is named like the NIC, carries the template's labels and annotations
//! plus [`EPHEMERAL_MANAGED_BY`], has the template's spec with `targetRef` = the NIC, and a
//! controller ownerReference to the NIC unless the template's `reclaimPolicy` is `Retain`.
//! A VirtualIP is managed by a NIC when the NIC is its controller, or when it carries the
//! annotation and targets the NIC. Managed and desired: created when missing; the controller
//! reference is added when the policy switched to `Delete`. Managed and not desired: deleted.
//! Unmanaged VirtualIPs are never adopted.
//!
//! Nothing here garbage-collects: a VirtualIP whose controlling NIC is gone is deleted by
//! `virtualiprelease` ([`super::release`]), since this system runs no ownerReference
//! garbage collector.

use std::collections::BTreeMap;
use std::sync::Arc;

use ironcore_api::common::LocalUIDReference;
use ironcore_api::networking::{NetworkInterface, VirtualIP};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::State;
use crate::error::{Error, Result, is_not_found};

/// The field manager of this controller's writes.
pub const FIELD_MANAGER: &str = "networkinterfaceephemeralvirtualip.networking.ironcore.dev";
/// Annotation marking objects made by the ephemeral controllers.
pub const EPHEMERAL_MANAGED_BY: &str = "common.ironcore.dev/ephemeral-managed-by";
/// The value of [`EPHEMERAL_MANAGED_BY`].
pub const EPHEMERAL_MANAGER: &str = "ephemeral-manager";
/// The reclaim policy that keeps an ephemeral VirtualIP when its NIC goes.
pub const RECLAIM_RETAIN: &str = "Retain";

/// The controller: NetworkInterfaces, and VirtualIPs mapped to the NIC named like them (when
/// there is one) and to their controlling NIC.
pub fn controller(client: &kube::Client) -> Controller<NetworkInterface> {
    let wc = watcher::Config::default();
    let ctl = Controller::new(Api::<NetworkInterface>::all(client.clone()), wc.clone());
    let store = ctl.store();
    ctl.watches(Api::<VirtualIP>::all(client.clone()), wc, move |vip| {
        let ns = vip.namespace().unwrap_or_default();
        let mut refs = vec![ObjectRef::new(&vip.name_any()).within(&ns)];
        if let Some(owner) = controller_nic(&vip) {
            refs.push(ObjectRef::new(&owner.name).within(&ns));
        }
        refs.retain(|r| store.get(r).is_some());
        refs
    })
}

/// The controller ownerReference of `vip` when it is a networking.ironcore.dev
/// NetworkInterface.
pub fn controller_nic(vip: &VirtualIP) -> Option<&OwnerReference> {
    vip.owner_references().iter().find(|o| {
        o.controller == Some(true)
            && o.kind == "NetworkInterface"
            && o.api_version.starts_with("networking.ironcore.dev/")
    })
}

/// The ephemeral VirtualIP `nic` wants, if any.
pub fn desired(nic: &NetworkInterface) -> Option<VirtualIP> {
    let tpl = nic
        .spec
        .virtual_ip
        .as_ref()?
        .ephemeral
        .as_ref()?
        .virtual_ip_template
        .as_ref()?;
    let mut annotations: BTreeMap<String, String> =
        tpl.metadata.annotations.clone().unwrap_or_default();
    annotations.insert(EPHEMERAL_MANAGED_BY.into(), EPHEMERAL_MANAGER.into());
    let mut vip = VirtualIP::default();
    vip.metadata.name = Some(nic.name_any());
    vip.metadata.namespace = nic.namespace();
    vip.metadata.labels = tpl.metadata.labels.clone().filter(|l| !l.is_empty());
    vip.metadata.annotations = Some(annotations);
    if tpl.spec.reclaim_policy != RECLAIM_RETAIN {
        vip.metadata.owner_references = Some(vec![crate::objects::controller_ref(nic)]);
    }
    vip.spec = tpl.spec.virtual_ip_spec();
    vip.spec.target_ref = Some(LocalUIDReference {
        name: nic.name_any(),
        uid: nic.uid().unwrap_or_default(),
    });
    Some(vip)
}

/// Whether `vip` is managed by the NIC with `nic_uid`.
pub fn managed_by(vip: &VirtualIP, nic_uid: &str) -> bool {
    controller_nic(vip).is_some_and(|o| o.uid == nic_uid)
        || (vip
            .annotations()
            .get(EPHEMERAL_MANAGED_BY)
            .map(String::as_str)
            == Some(EPHEMERAL_MANAGER)
            && vip
                .spec
                .target_ref
                .as_ref()
                .is_some_and(|t| t.uid == nic_uid))
}

fn pp() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..Default::default()
    }
}

/// Makes the NIC's ephemeral VirtualIP exist as desired and deletes managed ones not desired.
pub async fn reconcile(nic: Arc<NetworkInterface>, state: Arc<State>) -> Result<Action> {
    if nic.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = nic
        .namespace()
        .ok_or_else(|| Error::NotReady("network interface without namespace".into()))?;
    let uid = nic
        .uid()
        .ok_or_else(|| Error::NotReady("network interface without uid".into()))?;
    let name = nic.name_any();
    let api: Api<VirtualIP> = Api::namespaced(state.client.clone(), &ns);
    let want = desired(&nic);
    let mut present = false;
    for vip in api.list(&ListParams::default()).await?.items {
        if !managed_by(&vip, &uid) {
            continue;
        }
        let vname = vip.name_any();
        match &want {
            Some(w) if w.metadata.name.as_deref() == Some(vname.as_str()) => {
                present = true;
                if w.metadata.owner_references.is_some() && controller_nic(&vip).is_none() {
                    let mut owners = vip.owner_references().to_vec();
                    owners.push(crate::objects::controller_ref(nic.as_ref()));
                    let patch = json!({
                        "metadata": {
                            "resourceVersion": vip.resource_version(),
                            "ownerReferences": owners,
                        }
                    });
                    api.patch(&vname, &pp(), &Patch::Merge(&patch)).await?;
                    tracing::info!(network_interface = %name, namespace = %ns, virtual_ip = %vname, "controller reference added to ephemeral virtual IP");
                }
            }
            _ => {
                if vip.meta().deletion_timestamp.is_some() {
                    continue;
                }
                let dp = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: vip.uid(),
                        resource_version: None,
                    }),
                    ..DeleteParams::background()
                };
                match api.delete(&vname, &dp).await {
                    Ok(_) => {
                        tracing::info!(network_interface = %name, namespace = %ns, virtual_ip = %vname, "undesired ephemeral virtual IP deleted")
                    }
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    if let Some(w) = want.filter(|_| !present) {
        let vname = w.name_any();
        match api.get_opt(&vname).await? {
            Some(_) => {
                tracing::info!(network_interface = %name, namespace = %ns, virtual_ip = %vname, "a virtual IP not managed by the network interface has the ephemeral name; not adopted");
            }
            None => {
                let pp = PostParams {
                    field_manager: Some(FIELD_MANAGER.to_owned()),
                    ..Default::default()
                };
                api.create(&pp, &w).await?;
                tracing::info!(network_interface = %name, namespace = %ns, virtual_ip = %vname, "ephemeral virtual IP created");
            }
        }
    }
    Ok(Action::requeue(state.resync))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nic(policy: &str) -> NetworkInterface {
        serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "NetworkInterface",
            "metadata": {"name": "nic", "namespace": "default", "uid": "nic-uid"},
            "spec": {"virtualIP": {"ephemeral": {"virtualIPTemplate": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"note": "x"}},
                "spec": {"type": "Public", "ipFamily": "IPv4", "reclaimPolicy": policy},
            }}}},
        }))
        .unwrap()
    }

    #[test]
    fn desired_virtual_ip_follows_the_template() {
        let vip = desired(&nic("Delete")).unwrap();
        assert_eq!(vip.name_any(), "nic");
        assert_eq!(vip.namespace().as_deref(), Some("default"));
        assert_eq!(vip.labels()["app"], "web");
        assert_eq!(vip.annotations()["note"], "x");
        assert_eq!(vip.annotations()[EPHEMERAL_MANAGED_BY], EPHEMERAL_MANAGER);
        assert_eq!(vip.spec.type_, "Public");
        assert_eq!(
            vip.spec.target_ref,
            Some(LocalUIDReference {
                name: "nic".into(),
                uid: "nic-uid".into()
            })
        );
        let owner = controller_nic(&vip).unwrap();
        assert_eq!(
            (owner.name.as_str(), owner.uid.as_str()),
            ("nic", "nic-uid")
        );
        assert!(managed_by(&vip, "nic-uid"));
        assert!(!managed_by(&vip, "other"));
    }

    #[test]
    fn retain_has_no_owner_but_is_managed_through_annotation_and_target() {
        let vip = desired(&nic("Retain")).unwrap();
        assert!(vip.metadata.owner_references.is_none());
        assert!(managed_by(&vip, "nic-uid"));
        let mut foreign = vip.clone();
        foreign.metadata.annotations = None;
        assert!(
            !managed_by(&foreign, "nic-uid"),
            "unmanaged is never adopted"
        );
    }

    #[test]
    fn no_ephemeral_source_wants_nothing() {
        let n: NetworkInterface = serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "NetworkInterface",
            "metadata": {"name": "nic", "namespace": "default", "uid": "u"},
            "spec": {"virtualIP": {"virtualIPRef": {"name": "v"}}},
        }))
        .unwrap();
        assert!(desired(&n).is_none());
    }
}
