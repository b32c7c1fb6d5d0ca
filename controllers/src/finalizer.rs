//! Adding and removing finalizers with an optimistic lock (JSON merge patch carrying the
//! `resourceVersion` the decision was made on).

use std::fmt::Debug;

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::Result;

/// Whether `obj` carries `finalizer`.
pub fn has<K: Resource>(obj: &K, finalizer: &str) -> bool {
    obj.finalizers().iter().any(|f| f == finalizer)
}

/// Whether `obj` is being deleted.
pub fn is_deleting<K: Resource>(obj: &K) -> bool {
    obj.meta().deletion_timestamp.is_some()
}

/// Adds `finalizer` to `obj` (no-op when present); whether it was added (then `obj` is stale:
/// its `resourceVersion` no longer holds for optimistic writes).
pub async fn add<K>(api: &Api<K>, obj: &K, finalizer: &str, manager: &str) -> Result<bool>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    if has(obj, finalizer) {
        return Ok(false);
    }
    let mut list = obj.finalizers().to_vec();
    list.push(finalizer.to_owned());
    write(api, obj, list, manager).await?;
    Ok(true)
}

/// Removes `finalizer` from `obj` (no-op when absent).
pub async fn remove<K>(api: &Api<K>, obj: &K, finalizer: &str, manager: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    if !has(obj, finalizer) {
        return Ok(());
    }
    let list: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != finalizer)
        .cloned()
        .collect();
    write(api, obj, list, manager).await
}

async fn write<K>(api: &Api<K>, obj: &K, list: Vec<String>, manager: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let patch = json!({
        "metadata": {
            "finalizers": list,
            "resourceVersion": obj.resource_version(),
        }
    });
    let pp = PatchParams {
        field_manager: Some(manager.to_owned()),
        ..Default::default()
    };
    api.patch(&obj.name_any(), &pp, &Patch::Merge(&patch))
        .await?;
    Ok(())
}
