//! Small object helpers every controller shares: forced server-side apply under a field
//! manager, owner references, and checks on metadata.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

/// Server-side applies `body` as `name` with field manager `manager`, forcing ownership;
/// returns the stored object.
pub async fn apply_as<A>(
    api: &Api<A>,
    name: &str,
    body: &(impl Serialize + Debug),
    manager: &str,
) -> Result<A>
where
    A: Resource + Clone + DeserializeOwned + Debug,
{
    Ok(api
        .patch(
            name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(body),
        )
        .await?)
}

/// Patch parameters naming `manager` as field manager (merge patches, status writes).
pub fn params(manager: &str) -> PatchParams {
    PatchParams {
        field_manager: Some(manager.to_owned()),
        ..Default::default()
    }
}

/// A controller owner reference (`controller`, `blockOwnerDeletion`) to `owner`.
pub fn controller_ref<O: Resource<DynamicType = ()>>(owner: &O) -> OwnerReference {
    OwnerReference {
        api_version: O::api_version(&()).into_owned(),
        kind: O::kind(&()).into_owned(),
        name: owner.name_any(),
        uid: owner.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether `obj`'s controller is the object with `uid`.
pub fn controlled_by<K: Resource>(obj: &K, uid: &str) -> bool {
    obj.owner_references()
        .iter()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironcore_api::apinet::{DaemonSet, Instance};

    #[test]
    fn controller_refs_name_their_owner_and_are_recognized() {
        let mut ds = DaemonSet::default();
        ds.metadata.name = Some("lb-x".into());
        ds.metadata.uid = Some("u1".into());
        let r = controller_ref(&ds);
        assert_eq!(
            (r.kind.as_str(), r.api_version.as_str(), r.name.as_str()),
            ("DaemonSet", "core.apinet.ironcore.dev/v1alpha1", "lb-x")
        );
        assert_eq!(
            (r.controller, r.block_owner_deletion),
            (Some(true), Some(true))
        );
        let mut inst = Instance::default();
        inst.metadata.owner_references = Some(vec![r]);
        assert!(controlled_by(&inst, "u1"));
        assert!(!controlled_by(&inst, "u2"));
    }
}
