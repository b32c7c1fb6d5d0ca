//! How server-side apply sees a schema: struct fields, maps, and list semantics.
//!
//! A [`Node`] is a position in a kind's schema. Lists are atomic unless the schema says
//! `x-kubernetes-list-type: set` or `map` (with `x-kubernetes-list-map-keys`); objects are
//! granular unless `x-kubernetes-map-type: atomic`. An object schema with `properties` is a
//! struct (its declared fields are named fields); one without is a map (its keys are items).
//! Where the schema says nothing (no schema, unknown fields, free-form values) the deduced
//! semantics of structured-merge-diff apply: objects are granular maps, lists are atomic.
//!
//! `metadata` at the root always follows upstream's `ObjectMeta` semantics (labels and
//! annotations granular, `finalizers` a set, `ownerReferences` a list keyed by `uid` whose
//! items are atomic), whatever the kind's schema generator emitted.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::strategic::{JsonSchemaCursor, PatchSchema};

/// How a list merges and is owned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind<'a> {
    /// Replaced and owned as a whole.
    Atomic,
    /// Items are scalars, owned one by one (`v:`).
    Set,
    /// Items are objects identified by these key fields (`k:`).
    Map(&'a [Value]),
}

/// A position in a schema; `cursor: None` means "no schema here" (deduced semantics).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Node<'a> {
    cursor: Option<JsonSchemaCursor<'a>>,
    list_type: Option<&'a str>,
    list_keys: Option<&'a [Value]>,
    map_type: Option<&'a str>,
}

impl<'a> Node<'a> {
    /// The root of a kind's schema.
    pub(crate) fn root(cursor: Option<JsonSchemaCursor<'a>>) -> Node<'a> {
        cursor.map_or_else(Node::default, Node::from_cursor)
    }

    fn from_cursor(c: JsonSchemaCursor<'a>) -> Node<'a> {
        Node {
            cursor: Some(c),
            list_type: c.list_type(),
            list_keys: c
                .extension("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(Vec::as_slice),
            map_type: c.map_type(),
        }
    }

    /// The node of field or map key `name`, and whether it is a declared struct field.
    pub(crate) fn field(&self, name: &str, at_root: bool) -> (Node<'a>, bool) {
        if at_root && name == "metadata" {
            return (meta_node(), true);
        }
        let Some(c) = self.cursor else {
            return (Node::default(), false);
        };
        if let Some(prop) = c.schema().get("properties").and_then(|p| p.get(name)) {
            let Some(fc) = c.field(name) else {
                return (Node::default(), true);
            };
            // Extensions on the property itself, else on the schema it resolves to.
            let ext = |k: &str| prop.get(k).or_else(|| fc.extension(k));
            let node = Node {
                cursor: Some(fc),
                list_type: ext("x-kubernetes-list-type").and_then(Value::as_str),
                list_keys: ext("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice),
                map_type: ext("x-kubernetes-map-type").and_then(Value::as_str),
            };
            return (node, true);
        }
        match c.additional_properties() {
            Some(ap) => (Node::from_cursor(ap), false),
            None => (Node::default(), false),
        }
    }

    /// The node of the items of this list.
    pub(crate) fn items(&self) -> Node<'a> {
        self.cursor
            .and_then(|c| c.items())
            .map_or_else(Node::default, Node::from_cursor)
    }

    /// How this list merges.
    pub(crate) fn list_kind(&self) -> ListKind<'a> {
        match self.list_type {
            Some("set") => ListKind::Set,
            Some("map") => match self.list_keys {
                Some(keys) if !keys.is_empty() && keys.iter().all(Value::is_string) => {
                    ListKind::Map(keys)
                }
                _ => ListKind::Set,
            },
            _ => ListKind::Atomic,
        }
    }

    /// Whether this object is replaced and owned as a whole.
    pub(crate) fn atomic_map(&self) -> bool {
        self.map_type == Some("atomic")
    }

    /// The schema default of field `name` of this node's objects (used for missing list keys).
    pub(crate) fn field_default(&self, name: &str) -> Option<&'a Value> {
        let c = self.cursor?;
        let prop = c.schema().get("properties")?.get(name)?;
        prop.get("default")
            .or_else(|| c.field(name).and_then(|f| f.schema().get("default")))
    }
}

/// Upstream `ObjectMeta` semantics, as a schema.
fn meta_definitions() -> &'static Map<String, Value> {
    static META: OnceLock<Map<String, Value>> = OnceLock::new();
    META.get_or_init(|| {
        let defs = json!({
            "ObjectMeta": {
                "type": "object",
                "properties": {
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                    "creationTimestamp": {"type": "string"},
                    "deletionGracePeriodSeconds": {"type": "integer"},
                    "deletionTimestamp": {"type": "string"},
                    "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "generateName": {"type": "string"},
                    "generation": {"type": "integer"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "managedFields": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "atomic"},
                    "name": {"type": "string"},
                    "namespace": {"type": "string"},
                    "ownerReferences": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/OwnerReference"},
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["uid"]
                    },
                    "resourceVersion": {"type": "string"},
                    "selfLink": {"type": "string"},
                    "uid": {"type": "string"}
                }
            },
            "OwnerReference": {
                "type": "object",
                "x-kubernetes-map-type": "atomic",
                "properties": {
                    "apiVersion": {"type": "string"},
                    "blockOwnerDeletion": {"type": "boolean"},
                    "controller": {"type": "boolean"},
                    "kind": {"type": "string"},
                    "name": {"type": "string"},
                    "uid": {"type": "string"}
                }
            }
        });
        match defs {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    })
}

fn meta_node() -> Node<'static> {
    Node::root(JsonSchemaCursor::at_definition(
        meta_definitions(),
        "ObjectMeta",
    ))
}
