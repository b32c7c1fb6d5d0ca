//! Objects in storage: keys, JSON encoding and `resourceVersion` stamping over a [`Store`].

use std::sync::Arc;

use bytes::Bytes;
use ironcore_storage::{KeyValue, Store};
use serde_json::Value;

use crate::errors::ApiError;
use crate::object::set_meta;
use crate::registry::ResourceInfo;

/// Maps objects onto keys `<prefix>/<group>/<plural>/<namespace>/<name>` of a [`Store`].
#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn Store>,
    prefix: String,
}

impl Objects {
    /// Objects stored under `prefix` (e.g. `/registry/ironcore.dev`).
    pub fn new(store: Arc<dyn Store>, prefix: &str) -> Self {
        Objects {
            store,
            prefix: prefix.trim_end_matches('/').to_owned(),
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The prefix of every object of a resource (ends with `/`).
    pub fn resource_prefix(&self, info: &ResourceInfo) -> String {
        format!("{}/{}/{}/", self.prefix, info.group, info.plural)
    }

    /// The prefix of a collection: one namespace, or the whole resource.
    pub fn collection_prefix(&self, info: &ResourceInfo, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if info.namespaced => format!("{}{ns}/", self.resource_prefix(info)),
            _ => self.resource_prefix(info),
        }
    }

    /// The key of one object.
    pub fn key(&self, info: &ResourceInfo, namespace: Option<&str>, name: &str) -> String {
        format!("{}{name}", self.collection_prefix(info, namespace))
    }

    /// Decodes a stored value, stamping `metadata.resourceVersion` with its mod revision.
    pub fn decode(kv: &KeyValue) -> Result<Value, ApiError> {
        decode_at(&kv.value, kv.mod_revision)
    }

    /// Stored bytes with `"resourceVersion"` spliced into `metadata`, without decoding; `None`
    /// when the bytes do not have the layout [`Objects::encode`] writes (then decode instead).
    pub fn splice_resource_version(bytes: &[u8], revision: i64) -> Option<Vec<u8>> {
        // encode() writes apiVersion, kind, then metadata, and the server checked the first two
        // against the resource, so the first `,"metadata":{` is the top-level one.
        const MARKER: &[u8] = b",\"metadata\":{";
        if !bytes.starts_with(b"{\"apiVersion\":\"") {
            return None;
        }
        let at = bytes.windows(MARKER.len()).position(|w| w == MARKER)? + MARKER.len();
        let rv = format!("\"resourceVersion\":\"{revision}\"");
        let mut out = Vec::with_capacity(bytes.len() + rv.len() + 1);
        out.extend_from_slice(&bytes[..at]);
        out.extend_from_slice(rv.as_bytes());
        if bytes.get(at) != Some(&b'}') {
            out.push(b',');
        }
        out.extend_from_slice(&bytes[at..]);
        Some(out)
    }

    /// Encodes an object for storage (without `resourceVersion`, which is the key's revision).
    pub fn encode(obj: &Value) -> Bytes {
        let mut obj = obj.clone();
        set_meta(&mut obj, "resourceVersion", None);
        Bytes::from(serde_json::to_vec(&obj).unwrap_or_default())
    }
}

/// Decodes stored bytes and stamps `metadata.resourceVersion` with `revision`.
pub fn decode_at(bytes: &[u8], revision: i64) -> Result<Value, ApiError> {
    let mut obj: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::internal(format!("stored object does not decode: {e}")))?;
    set_meta(
        &mut obj,
        "resourceVersion",
        Some(Value::from(revision.to_string())),
    );
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_puts_the_resource_version_into_metadata() {
        let obj = serde_json::json!({"apiVersion": "g/v", "kind": "K", "metadata": {"name": "a"}, "spec": {"metadata": {}}});
        let out = Objects::splice_resource_version(&Objects::encode(&obj), 7).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["metadata"]["resourceVersion"], "7");
        assert_eq!(v["metadata"]["name"], "a");
        assert_eq!(v["spec"]["metadata"], serde_json::json!({}));
    }

    #[test]
    fn splice_handles_empty_metadata() {
        let out = Objects::splice_resource_version(
            br#"{"apiVersion":"g/v","kind":"K","metadata":{}}"#,
            3,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["metadata"]["resourceVersion"], "3");
    }

    #[test]
    fn splice_refuses_other_layouts() {
        assert!(Objects::splice_resource_version(br#"{"kind":"K","metadata":{}}"#, 3).is_none());
    }
}
