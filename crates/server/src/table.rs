//! `meta.k8s.io/v1` Table and PartialObjectMetadata representations.

use serde_json::{Value, json};

use crate::object::meta_str;
use crate::registry::KindStrategy;
use crate::request::Query;

/// The `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The column definitions: `Name` then the kind's columns.
pub fn column_definitions(strategy: &dyn KindStrategy) -> Vec<Value> {
    let mut cols = vec![json!({
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.",
        "priority": 0,
    })];
    for c in &strategy.info().columns {
        cols.push(json!({
            "name": c.name,
            "type": c.type_,
            "format": c.format,
            "description": c.description,
            "priority": c.priority,
        }));
    }
    cols
}

/// One table row for an object, with the object embedded per `includeObject`.
pub fn row(strategy: &dyn KindStrategy, obj: &Value, query: &Query) -> Value {
    let mut cells = vec![Value::from(meta_str(obj, "name").unwrap_or(""))];
    cells.extend(strategy.table_cells(obj));
    let mut row = json!({"cells": cells});
    match query.non_empty("includeObject") {
        Some("None") => {}
        Some("Object") => row["object"] = obj.clone(),
        _ => row["object"] = partial_metadata(obj),
    }
    row
}

/// A Table of `items`; `list_meta` is the list's metadata (absent for a single object).
pub fn object_table(
    strategy: &dyn KindStrategy,
    items: &[Value],
    list_meta: Option<Value>,
    query: &Query,
) -> Value {
    let meta = match list_meta {
        Some(m) => m,
        None => json!({
            "resourceVersion": items.first().and_then(|o| meta_str(o, "resourceVersion")).unwrap_or(""),
        }),
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": column_definitions(strategy),
        "rows": items.iter().map(|o| row(strategy, o, query)).collect::<Vec<_>>(),
    })
}
