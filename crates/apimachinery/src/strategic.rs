//! Strategic merge patch (`application/strategic-merge-patch+json`), driven by schemas.
//!
//! Lists merge as the schema declares with `x-kubernetes-patch-strategy` (containing `merge`)
//! and `x-kubernetes-patch-merge-key`; all other lists are replaced. Supported directives:
//! `$patch` (`replace`, `delete`, `merge`) on maps and list items, `$retainKeys`,
//! `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`.

use serde_json::{Map, Value};

/// Why a strategic merge patch cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch is not a JSON object.
    #[error("strategic merge patch must be a JSON object")]
    NotAnObject,
    /// A directive has an unknown value or shape.
    #[error("invalid patch directive: {0}")]
    InvalidDirective(String),
    /// A list item lacks the list's merge key.
    #[error("map in list of field {field} does not contain the merge key {key}")]
    MissingMergeKey {
        /// The list field.
        field: String,
        /// The merge key.
        key: String,
    },
}

/// How a list field merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListMerge {
    /// The patch's list replaces the original (the default).
    Replace,
    /// Items are maps merged by the value of this key.
    ByKey(String),
    /// Items are primitives, united with the original's.
    Primitives,
}

/// Where the patch is in the schema: answers the merge questions for fields below.
pub trait PatchSchema: Sized {
    /// The schema of field `name` of the current object.
    fn field(&self, name: &str) -> Option<Self>;
    /// The schema of the items of the current list.
    fn items(&self) -> Option<Self>;
    /// How the list field `name` of the current object merges.
    fn list_merge(&self, name: &str) -> ListMerge;
}

/// A schema-less cursor: every list is replaced (JSON merge semantics plus directives).
#[derive(Clone, Copy, Debug)]
pub struct NoSchema;

impl PatchSchema for NoSchema {
    fn field(&self, _: &str) -> Option<Self> {
        Some(NoSchema)
    }
    fn items(&self) -> Option<Self> {
        Some(NoSchema)
    }
    fn list_merge(&self, _: &str) -> ListMerge {
        ListMerge::Replace
    }
}

/// A cursor over OpenAPI v3 JSON schemas with `#/components/schemas/<name>` references.
#[derive(Clone, Copy, Debug)]
pub struct JsonSchemaCursor<'a> {
    definitions: &'a Map<String, Value>,
    schema: &'a Value,
}

impl<'a> JsonSchemaCursor<'a> {
    /// A cursor at `schema`, resolving references in `definitions`.
    pub fn new(definitions: &'a Map<String, Value>, schema: &'a Value) -> Self {
        JsonSchemaCursor {
            definitions,
            schema: resolve(definitions, schema),
        }
    }

    /// A cursor at the definition named `name`.
    pub fn at_definition(definitions: &'a Map<String, Value>, name: &str) -> Option<Self> {
        definitions.get(name).map(|s| Self::new(definitions, s))
    }

    /// The schema the cursor is at, references resolved.
    pub fn schema(&self) -> &'a Value {
        self.schema
    }

    /// Whether the current schema declares a property named `name`.
    pub fn declares(&self, name: &str) -> bool {
        self.schema
            .get("properties")
            .and_then(|p| p.get(name))
            .is_some()
    }

    /// The schema of the values of the current map (`additionalProperties` given as a schema).
    pub fn additional_properties(&self) -> Option<Self> {
        let ap = self.schema.get("additionalProperties")?;
        ap.is_object().then(|| Self::new(self.definitions, ap))
    }

    /// The value of extension `key` on the current schema.
    pub fn extension(&self, key: &str) -> Option<&'a Value> {
        self.schema.get(key)
    }

    /// The `x-kubernetes-list-type` of the current list schema (`atomic`, `set` or `map`).
    pub fn list_type(&self) -> Option<&'a str> {
        self.extension("x-kubernetes-list-type")
            .and_then(Value::as_str)
    }

    /// The `x-kubernetes-map-type` of the current object schema (`atomic` or `granular`).
    pub fn map_type(&self) -> Option<&'a str> {
        self.extension("x-kubernetes-map-type")
            .and_then(Value::as_str)
    }
}

/// Follows `$ref` and single-element `allOf`/`anyOf` wrappers (as generators emit for
/// documented references and `Option`s) to the schema that has the properties.
fn resolve<'a>(defs: &'a Map<String, Value>, mut s: &'a Value) -> &'a Value {
    for _ in 0..16 {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or(r);
            match defs.get(name) {
                Some(d) => s = d,
                None => return s,
            }
            continue;
        }
        let wrapped = ["allOf", "anyOf", "oneOf"].iter().find_map(|k| {
            let arr = s.get(*k)?.as_array()?;
            let non_null: Vec<&Value> = arr
                .iter()
                .filter(|x| x.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            (non_null.len() == 1).then(|| non_null[0])
        });
        match wrapped {
            Some(inner) if s.get("properties").is_none() && s.get("items").is_none() => s = inner,
            _ => return s,
        }
    }
    s
}

impl PatchSchema for JsonSchemaCursor<'_> {
    fn field(&self, name: &str) -> Option<Self> {
        let prop = self.schema.get("properties")?.get(name)?;
        Some(Self::new(self.definitions, prop))
    }

    fn items(&self) -> Option<Self> {
        let items = self.schema.get("items")?;
        Some(Self::new(self.definitions, items))
    }

    fn list_merge(&self, name: &str) -> ListMerge {
        let Some(prop) = self.schema.get("properties").and_then(|p| p.get(name)) else {
            return ListMerge::Replace;
        };
        // Extensions may sit on the property or on the schema it references.
        let candidates = [prop, resolve(self.definitions, prop)];
        let ext = |k: &str| {
            candidates
                .iter()
                .find_map(|c| c.get(k).and_then(Value::as_str))
        };
        let merges = ext("x-kubernetes-patch-strategy")
            .is_some_and(|s| s.split(',').any(|p| p.trim() == "merge"));
        if !merges {
            return ListMerge::Replace;
        }
        match ext("x-kubernetes-patch-merge-key") {
            Some(key) => ListMerge::ByKey(key.to_owned()),
            None => ListMerge::Primitives,
        }
    }
}

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// Applies a strategic merge `patch` to `original`.
pub fn apply<S: PatchSchema>(
    original: &Value,
    patch: &Value,
    schema: &S,
) -> Result<Value, PatchError> {
    let (Value::Object(o), Value::Object(p)) = (original, patch) else {
        return match patch {
            Value::Object(p) => merge_map(&Map::new(), p, Some(schema)).map(Value::Object),
            _ => Err(PatchError::NotAnObject),
        };
    };
    merge_map(o, p, Some(schema)).map(Value::Object)
}

fn merge_map<S: PatchSchema>(
    original: &Map<String, Value>,
    patch: &Map<String, Value>,
    schema: Option<&S>,
) -> Result<Map<String, Value>, PatchError> {
    match patch.get(PATCH) {
        None => {}
        Some(Value::String(d)) if d == "merge" => {}
        Some(Value::String(d)) if d == "replace" => return strip_directives(patch),
        Some(Value::String(d)) if d == "delete" => return Ok(Map::new()),
        Some(other) => return Err(PatchError::InvalidDirective(format!("$patch: {other}"))),
    }
    let mut out = original.clone();
    // Deletions from primitive lists apply to the original before merging.
    for (k, v) in patch {
        if let Some(field) = k.strip_prefix(DELETE_PRIMITIVE) {
            let remove = v
                .as_array()
                .ok_or_else(|| PatchError::InvalidDirective(format!("{k} must be a list")))?;
            if let Some(Value::Array(list)) = out.get_mut(field) {
                list.retain(|x| !remove.contains(x));
            }
        }
    }
    for (k, v) in patch {
        if k.starts_with('$') {
            continue;
        }
        let field_schema = schema.and_then(|s| s.field(k));
        match v {
            Value::Null => {
                out.remove(k);
            }
            Value::Object(pm) => {
                let base = match out.get(k) {
                    Some(Value::Object(om)) => om.clone(),
                    _ => Map::new(),
                };
                let merged = merge_map(&base, pm, field_schema.as_ref())?;
                let deleted = pm.get(PATCH).and_then(Value::as_str) == Some("delete");
                if deleted {
                    out.remove(k);
                } else {
                    out.insert(k.clone(), Value::Object(merged));
                }
            }
            Value::Array(pl) => {
                let strategy = schema.map_or(ListMerge::Replace, |s| s.list_merge(k));
                let base = match out.get(k) {
                    Some(Value::Array(ol)) => ol.clone(),
                    _ => Vec::new(),
                };
                let items_schema = field_schema.as_ref().and_then(PatchSchema::items);
                let merged = merge_list(k, &base, pl, &strategy, items_schema.as_ref())?;
                out.insert(k.clone(), Value::Array(merged));
            }
            other => {
                out.insert(k.clone(), other.clone());
            }
        }
    }
    for (k, v) in patch {
        if let Some(field) = k.strip_prefix(SET_ORDER) {
            let order = v
                .as_array()
                .ok_or_else(|| PatchError::InvalidDirective(format!("{k} must be a list")))?;
            let key = match schema.map(|s| s.list_merge(field)) {
                Some(ListMerge::ByKey(key)) => Some(key),
                _ => None,
            };
            if let Some(Value::Array(list)) = out.get_mut(field) {
                reorder(list, order, key.as_deref());
            }
        }
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let keys = retain
            .as_array()
            .ok_or_else(|| PatchError::InvalidDirective("$retainKeys must be a list".into()))?;
        out.retain(|k, _| keys.iter().any(|x| x.as_str() == Some(k)));
    }
    Ok(out)
}

fn strip_directives(m: &Map<String, Value>) -> Result<Map<String, Value>, PatchError> {
    let mut out = Map::new();
    for (k, v) in m {
        if k.starts_with('$') {
            continue;
        }
        out.insert(k.clone(), strip_value(v));
    }
    Ok(out)
}

fn strip_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_value(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|x| x.get(PATCH).is_none())
                .map(strip_value)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn merge_list<S: PatchSchema>(
    field: &str,
    original: &[Value],
    patch: &[Value],
    strategy: &ListMerge,
    items: Option<&S>,
) -> Result<Vec<Value>, PatchError> {
    // A `{"$patch": "replace"}` element replaces the whole list with the other elements.
    let replace = patch
        .iter()
        .any(|x| x.get(PATCH).and_then(Value::as_str) == Some("replace"));
    if replace {
        return Ok(patch
            .iter()
            .filter(|x| x.get(PATCH).is_none())
            .map(strip_value)
            .collect());
    }
    match strategy {
        ListMerge::Replace => Ok(patch.iter().map(strip_value).collect()),
        ListMerge::Primitives => {
            let mut out = original.to_vec();
            for x in patch {
                if !out.contains(x) {
                    out.push(x.clone());
                }
            }
            Ok(out)
        }
        ListMerge::ByKey(key) => {
            let mut out = original.to_vec();
            for item in patch {
                let Value::Object(pm) = item else {
                    // Primitive items in a keyed list: keep them if new.
                    if !out.contains(item) {
                        out.push(item.clone());
                    }
                    continue;
                };
                let Some(kv) = pm.get(key) else {
                    return Err(PatchError::MissingMergeKey {
                        field: field.to_owned(),
                        key: key.clone(),
                    });
                };
                let pos = out.iter().position(|o| o.get(key) == Some(kv));
                match pm.get(PATCH).and_then(Value::as_str) {
                    Some("delete") => {
                        if let Some(i) = pos {
                            out.remove(i);
                        }
                    }
                    Some("replace") => {
                        let replaced = Value::Object(strip_directives(pm)?);
                        match pos {
                            Some(i) => out[i] = replaced,
                            None => out.push(replaced),
                        }
                    }
                    _ => match pos {
                        Some(i) => {
                            let base = out[i].as_object().cloned().unwrap_or_default();
                            out[i] = Value::Object(merge_map(&base, pm, items)?);
                        }
                        None => out.push(Value::Object(merge_map(&Map::new(), pm, items)?)),
                    },
                }
            }
            Ok(out)
        }
    }
}

/// Orders `list` by `order` (merge-key values, or the items themselves for primitives); items
/// not named keep their relative order after the named ones.
fn reorder(list: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let ident = |v: &Value| -> Value {
        match key {
            Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let wanted: Vec<Value> = order.iter().map(&ident).collect();
    let mut named: Vec<(usize, Value)> = Vec::new();
    let mut rest = Vec::new();
    for item in list.drain(..) {
        match wanted.iter().position(|w| *w == ident(&item)) {
            Some(i) => named.push((i, item)),
            None => rest.push(item),
        }
    }
    named.sort_by_key(|(i, _)| *i);
    list.extend(named.into_iter().map(|(_, v)| v));
    list.extend(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A schema like Network's: spec.peerings merged by name, everything else atomic.
    fn defs() -> Map<String, Value> {
        json!({
            "Network": {"properties": {"spec": {"$ref": "#/components/schemas/NetworkSpec"}, "metadata": {"type": "object"}}},
            "NetworkSpec": {"properties": {
                "peerings": {"type": "array", "items": {"$ref": "#/components/schemas/Peering"},
                              "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge,retainKeys"},
                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-patch-strategy": "merge"},
                "atomic": {"type": "array", "items": {"type": "string"}}
            }},
            "Peering": {"properties": {"name": {"type": "string"}, "networkRef": {"type": "object"},
                        "prefixes": {"type": "array", "items": {"type": "object"}}}}
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn patch(original: Value, p: Value) -> Value {
        let d = defs();
        let c = JsonSchemaCursor::at_definition(&d, "Network").unwrap();
        apply(&original, &p, &c).unwrap()
    }

    #[test]
    fn keyed_list_items_merge_by_key() {
        let out = patch(
            json!({"spec": {"peerings": [{"name": "a", "networkRef": {"name": "x"}}, {"name": "b", "networkRef": {"name": "y"}}]}}),
            json!({"spec": {"peerings": [{"name": "b", "networkRef": {"name": "z"}}, {"name": "c", "networkRef": {"name": "w"}}]}}),
        );
        assert_eq!(
            out["spec"]["peerings"],
            json!([{"name": "a", "networkRef": {"name": "x"}}, {"name": "b", "networkRef": {"name": "z"}}, {"name": "c", "networkRef": {"name": "w"}}])
        );
    }

    #[test]
    fn patch_delete_removes_a_keyed_item() {
        let out = patch(
            json!({"spec": {"peerings": [{"name": "a"}, {"name": "b"}]}}),
            json!({"spec": {"peerings": [{"name": "a", "$patch": "delete"}]}}),
        );
        assert_eq!(out["spec"]["peerings"], json!([{"name": "b"}]));
    }

    #[test]
    fn patch_replace_element_replaces_the_list() {
        let out = patch(
            json!({"spec": {"peerings": [{"name": "a"}, {"name": "b"}]}}),
            json!({"spec": {"peerings": [{"name": "c"}, {"$patch": "replace"}]}}),
        );
        assert_eq!(out["spec"]["peerings"], json!([{"name": "c"}]));
    }

    #[test]
    fn patch_replace_on_a_map_replaces_it() {
        let out = patch(
            json!({"spec": {"peerings": [{"name": "a"}]}, "metadata": {"labels": {"x": "1"}}}),
            json!({"metadata": {"$patch": "replace", "name": "n"}}),
        );
        assert_eq!(out["metadata"], json!({"name": "n"}));
    }

    #[test]
    fn patch_delete_on_a_map_removes_it() {
        let out = patch(
            json!({"metadata": {"a": 1}, "spec": {}}),
            json!({"metadata": {"$patch": "delete"}}),
        );
        assert!(out.get("metadata").is_none());
    }

    #[test]
    fn lists_without_strategy_are_replaced() {
        let out = patch(
            json!({"spec": {"atomic": ["a", "b"]}}),
            json!({"spec": {"atomic": ["c"]}}),
        );
        assert_eq!(out["spec"]["atomic"], json!(["c"]));
    }

    #[test]
    fn primitive_merge_lists_are_united() {
        let out = patch(
            json!({"spec": {"tags": ["a", "b"]}}),
            json!({"spec": {"tags": ["b", "c"]}}),
        );
        assert_eq!(out["spec"]["tags"], json!(["a", "b", "c"]));
    }

    #[test]
    fn delete_from_primitive_list_removes_values() {
        let out = patch(
            json!({"spec": {"tags": ["a", "b", "c"]}}),
            json!({"spec": {"$deleteFromPrimitiveList/tags": ["b"]}}),
        );
        assert_eq!(out["spec"]["tags"], json!(["a", "c"]));
    }

    #[test]
    fn set_element_order_reorders_keyed_items() {
        let out = patch(
            json!({"spec": {"peerings": [{"name": "a"}, {"name": "b"}]}}),
            json!({"spec": {"$setElementOrder/peerings": [{"name": "b"}, {"name": "a"}], "peerings": [{"name": "a", "networkRef": {"name": "n"}}]}}),
        );
        assert_eq!(
            out["spec"]["peerings"],
            json!([{"name": "b"}, {"name": "a", "networkRef": {"name": "n"}}])
        );
    }

    #[test]
    fn null_deletes_a_field() {
        let out = patch(
            json!({"spec": {"atomic": ["a"]}}),
            json!({"spec": {"atomic": null}}),
        );
        assert_eq!(out["spec"], json!({}));
    }

    #[test]
    fn retain_keys_drops_unlisted_fields() {
        let out = patch(
            json!({"spec": {"peerings": [], "atomic": ["a"]}}),
            json!({"spec": {"$retainKeys": ["peerings"], "peerings": []}}),
        );
        assert_eq!(out["spec"], json!({"peerings": []}));
    }

    #[test]
    fn keyed_item_without_key_is_an_error() {
        let d = defs();
        let c = JsonSchemaCursor::at_definition(&d, "Network").unwrap();
        let err = apply(
            &json!({}),
            &json!({"spec": {"peerings": [{"networkRef": {}}]}}),
            &c,
        )
        .unwrap_err();
        assert!(matches!(err, PatchError::MissingMergeKey { .. }));
    }

    #[test]
    fn unknown_patch_directive_is_an_error() {
        let err = apply(&json!({}), &json!({"$patch": "explode"}), &NoSchema).unwrap_err();
        assert!(matches!(err, PatchError::InvalidDirective(_)));
    }
}
