//! Kind-agnostic helpers over objects held as JSON.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Top-level keys that are not the object's desired state.
const NON_SPEC_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "status"];

/// `metadata` of an object (empty when absent).
pub fn metadata(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.as_object()
}

/// Mutable `metadata`, created when absent.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let map = obj.as_object_mut().expect("object ensured above");
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut().expect("object ensured above")
}

/// A string field of `metadata`, if set and non-empty.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    metadata(obj)?
        .get(field)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// Sets or removes (`None`) a field of `metadata`.
pub fn set_meta(obj: &mut Value, field: &str, value: Option<Value>) {
    let meta = metadata_mut(obj);
    match value {
        Some(v) => {
            meta.insert(field.to_owned(), v);
        }
        None => {
            meta.remove(field);
        }
    }
}

/// The object's labels.
pub fn labels(obj: &Value) -> BTreeMap<String, String> {
    metadata(obj)
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The object's finalizers.
pub fn finalizers(obj: &Value) -> Vec<String> {
    metadata(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The object's `metadata.generation` (0 when unset).
pub fn generation(obj: &Value) -> i64 {
    metadata(obj)
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Everything but `apiVersion`, `kind`, `metadata` and `status`: what `generation` tracks.
pub fn spec_content(obj: &Value) -> Map<String, Value> {
    obj.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !NON_SPEC_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Replaces `target`'s `status` by `source`'s (removing it when `source` has none).
pub fn copy_status(target: &mut Value, source: &Value) {
    if let Some(t) = target.as_object_mut() {
        match source.get("status") {
            Some(s) => {
                t.insert("status".to_owned(), s.clone());
            }
            None => {
                t.remove("status");
            }
        }
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty_value),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Paths of fields present in `input` but dropped by the typed round trip to `output`.
///
/// Empty values (null, `""`, `[]`, `{}`) are not reported: the typed encoding omits those for
/// known optional fields, so they cannot be told apart from unknown ones and carry no data.
pub fn unknown_fields(input: &Value, output: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_unknown(input, output, String::new(), &mut out);
    out
}

fn walk_unknown(input: &Value, output: &Value, path: String, out: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match o.get(k) {
                    Some(ov) => walk_unknown(v, ov, p, out),
                    None if is_empty_value(v) => {}
                    None => out.push(p),
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (idx, (iv, ov)) in i.iter().zip(o.iter()).enumerate() {
                walk_unknown(iv, ov, format!("{path}[{idx}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_reports_dropped_nonempty_fields_with_paths() {
        let input =
            json!({"spec": {"a": 1, "foo": 2, "list": [{"x": 1, "bar": true}], "empty": []}});
        let output = json!({"spec": {"a": 1, "list": [{"x": 1}]}});
        assert_eq!(
            unknown_fields(&input, &output),
            vec!["spec.foo", "spec.list[0].bar"]
        );
    }

    #[test]
    fn spec_content_excludes_metadata_and_status() {
        let obj = json!({"apiVersion": "v", "kind": "K", "metadata": {}, "spec": 1, "networkRef": 2, "status": 3});
        let spec = spec_content(&obj);
        assert_eq!(spec.len(), 2);
        assert!(spec.contains_key("networkRef"));
    }
}
