//! OpenAPI schema extensions the kinds declare on their fields (list and map semantics).
//!
//! Lists without a declaration are atomic, as in Kubernetes; the OpenAPI builder makes that
//! explicit. These helpers carry the semantics upstream declares with Go struct tags.

use schemars::Schema;
use serde_json::json;

/// A list of objects keyed by `name`: `x-kubernetes-list-type: map` with key `name`, and the
/// strategic-merge-patch metadata upstream declares with
/// `patchStrategy:"merge,retainKeys" patchMergeKey:"name"`.
pub fn list_map_by_name(schema: &mut Schema) {
    schema.insert("x-kubernetes-list-type".into(), json!("map"));
    schema.insert("x-kubernetes-list-map-keys".into(), json!(["name"]));
    schema.insert("x-kubernetes-patch-merge-key".into(), json!("name"));
    schema.insert(
        "x-kubernetes-patch-strategy".into(),
        json!("merge,retainKeys"),
    );
}

/// An object replaced as a whole by merges and server-side apply (`x-kubernetes-map-type: atomic`).
pub fn atomic_map(schema: &mut Schema) {
    schema.insert("x-kubernetes-map-type".into(), json!("atomic"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_map_by_name_sets_all_four_extensions() {
        let mut s = schemars::json_schema!({"type": "array"});
        list_map_by_name(&mut s);
        let v = s.as_value();
        assert_eq!(v["x-kubernetes-list-type"], "map");
        assert_eq!(v["x-kubernetes-list-map-keys"], json!(["name"]));
        assert_eq!(v["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(v["x-kubernetes-patch-strategy"], "merge,retainKeys");
    }
}
