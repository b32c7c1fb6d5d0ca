//! VNI allocation: a Network claims its VNI by a cluster-scoped NetworkID named by the VNI,
//! written in the same storage transaction as the Network and removed with it.

use ironcore_apimachinery::FieldError;
use ironcore_server::allocator::{AllocContext, Allocator, create_op, delete_op};
use ironcore_server::errors::ApiError;
use ironcore_storage::TxnOp;
use serde_json::{Value, json};

use super::range::{VniRange, random_u128};
use super::stored::{
    Claimer, Kinds, claim_uid, conflict, exists, get, invalid, list_names, meta, record, spec_path,
};

/// Probes by single reads before the allocator lists every NetworkID once.
const PROBES: usize = 32;

/// Message when every VNI of the range is taken (upstream's).
pub const MSG_ALL_ALLOCATED: &str = "all IDs are allocated";
/// Message when a requested VNI is taken (upstream's).
pub const MSG_ID_TAKEN: &str = "provided ID is already allocated";
/// Message when a requested VNI lies outside `--min-vni`..`--max-vni` (upstream's).
pub const MSG_ID_NOT_IN_RANGE: &str = "the provided ID is not in range";

/// Allocates `spec.id` of Networks (create) and frees it on final deletion.
pub struct VniAllocator {
    range: VniRange,
    kinds: Kinds,
}

impl VniAllocator {
    /// An allocator handing out VNIs of `range`.
    pub fn new(range: VniRange) -> Self {
        VniAllocator {
            range,
            kinds: Kinds::new(),
        }
    }

    fn id_key(&self, cx: &AllocContext<'_>, vni: u32) -> String {
        cx.objects
            .key(&self.kinds.network_id, None, &vni.to_string())
    }

    /// A free VNI: random probes by key, then (when the range is crowded) one listing.
    async fn free_vni(&self, cx: &AllocContext<'_>) -> Result<Option<u32>, ApiError> {
        let mut walk = self.range.walk(random_u128());
        for vni in walk.by_ref().take(PROBES) {
            if !exists(cx, &self.id_key(cx, vni)).await? {
                return Ok(Some(vni));
            }
        }
        let taken = list_names(cx, &self.kinds.network_id).await?;
        Ok(walk.find(|vni| !taken.contains(&vni.to_string())))
    }
}

#[async_trait::async_trait]
impl Allocator for VniAllocator {
    async fn on_create(
        &self,
        cx: &AllocContext<'_>,
        object: &mut Value,
    ) -> Result<Vec<TxnOp>, ApiError> {
        let net = &self.kinds.network;
        let claimer = Claimer::of(net, object);
        let requested = object["spec"]["id"].as_str().unwrap_or("").to_owned();
        let vni = if requested.is_empty() {
            match self.free_vni(cx).await? {
                Some(v) => v,
                None => return Err(conflict(net, &claimer.name, MSG_ALL_ALLOCATED)),
            }
        } else {
            // Validation has checked the canonical decimal form.
            let vni = requested
                .parse::<u32>()
                .ok()
                .filter(|v| self.range.contains(*v));
            let Some(vni) = vni else {
                return Err(invalid(
                    net,
                    &claimer.name,
                    FieldError::invalid(&spec_path("id"), requested.as_str(), MSG_ID_NOT_IN_RANGE),
                ));
            };
            if exists(cx, &self.id_key(cx, vni)).await? {
                return Err(conflict(net, &claimer.name, MSG_ID_TAKEN));
            }
            vni
        };
        if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("id".into(), Value::from(vni.to_string()));
        } else if let Some(obj) = object.as_object_mut() {
            obj.insert("spec".into(), json!({"id": vni.to_string()}));
        }
        let id = record(
            "NetworkID",
            &vni.to_string(),
            json!({"claimRef": claimer.cluster_claim_ref()}),
        );
        Ok(vec![create_op(self.id_key(cx, vni), id)])
    }

    async fn on_delete(&self, cx: &AllocContext<'_>, old: &Value) -> Result<Vec<TxnOp>, ApiError> {
        let Some(vni) = old["spec"]["id"]
            .as_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            return Ok(Vec::new());
        };
        let key = self.id_key(cx, vni);
        match get(cx, &key).await? {
            Some(id) if claim_uid(&id.value) == meta(old, "uid") => {
                Ok(vec![delete_op(key, id.revision)])
            }
            _ => Ok(Vec::new()),
        }
    }
}

/// Refuses the deletion of a NetworkID whose Network still exists (the VNI is freed with the
/// Network, in the Network's own transaction).
pub struct NetworkIdProtection {
    kinds: Kinds,
}

impl NetworkIdProtection {
    /// The protection rule.
    pub fn new() -> Self {
        NetworkIdProtection {
            kinds: Kinds::new(),
        }
    }
}

impl Default for NetworkIdProtection {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl Allocator for NetworkIdProtection {
    async fn on_create(&self, _: &AllocContext<'_>, _: &mut Value) -> Result<Vec<TxnOp>, ApiError> {
        Ok(Vec::new())
    }

    async fn on_delete(&self, cx: &AllocContext<'_>, old: &Value) -> Result<Vec<TxnOp>, ApiError> {
        let claim = &old["spec"]["claimRef"];
        if claim["resource"] != "networks" || claim["group"] != ironcore_api::apinet::GROUP {
            return Ok(Vec::new());
        }
        let (ns, name) = (
            claim["namespace"].as_str().unwrap_or(""),
            claim["name"].as_str().unwrap_or(""),
        );
        let key = cx.objects.key(&self.kinds.network, Some(ns), name);
        if let Some(net) = get(cx, &key).await?
            && meta(&net.value, "uid") == claim_uid(old)
        {
            return Err(conflict(
                &self.kinds.network_id,
                meta(old, "name"),
                &format!(
                    "the VNI is in use by Network {ns}/{name}; it is released when that Network is deleted"
                ),
            ));
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ironcore_server::objects::Objects;
    use ironcore_storage::{EmbeddedStore, Store};

    use super::*;

    #[tokio::test]
    async fn crowded_range_finds_the_last_free_vni_then_reports_exhaustion() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(EmbeddedStore::open_path(dir.path().join("db")).unwrap());
        let objects = Objects::new(store, "/registry/test");
        let cx = AllocContext {
            objects: &objects,
            dry_run: false,
        };
        let a = VniAllocator::new(VniRange::new(1000, 1099).unwrap());
        for vni in 1000..1100 {
            if vni != 1077 {
                let key = a.id_key(&cx, vni);
                cx.store()
                    .create(&key, Objects::encode(&json!({})))
                    .await
                    .unwrap();
            }
        }
        for _ in 0..8 {
            assert_eq!(a.free_vni(&cx).await.unwrap(), Some(1077));
        }
        let key = a.id_key(&cx, 1077);
        cx.store()
            .create(&key, Objects::encode(&json!({})))
            .await
            .unwrap();
        assert_eq!(a.free_vni(&cx).await.unwrap(), None);
    }
}
