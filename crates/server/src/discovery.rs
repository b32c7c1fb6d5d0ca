//! Discovery documents: `/apis`, `/apis/<group>`, `/apis/<group>/<version>`, aggregated v2.

use serde_json::{Value, json};

use crate::registry::Registry;

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

fn group_entry(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}

fn groups(registry: &Registry) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (g, v) in registry.group_versions() {
        match out.iter_mut().find(|(og, _)| *og == g) {
            Some((_, vs)) => vs.push(v),
            None => out.push((g, vec![v])),
        }
    }
    out
}

/// `APIGroupList` for `/apis`.
pub fn api_group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = groups(registry)
        .iter()
        .map(|(g, vs)| group_entry(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `APIGroup` for `/apis/<group>`, if served.
pub fn api_group(registry: &Registry, group: &str) -> Option<Value> {
    let (g, vs) = groups(registry).into_iter().find(|(g, _)| g == group)?;
    let mut v = group_entry(&g, &vs);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

/// `APIResourceList` for `/apis/<group>/<version>`, if served.
pub fn api_resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for k in registry.kinds() {
        let i = k.info();
        if i.group != group || i.version != version {
            continue;
        }
        resources.push(json!({
            "name": i.plural,
            "singularName": i.singular,
            "namespaced": i.namespaced,
            "kind": i.kind,
            "verbs": VERBS,
            "shortNames": i.short_names,
        }));
        if i.has_status {
            resources.push(json!({
                "name": format!("{}/status", i.plural),
                "singularName": "",
                "namespaced": i.namespaced,
                "kind": i.kind,
                "verbs": STATUS_VERBS,
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{group}/{version}"),
        "resources": resources,
    }))
}

/// Aggregated discovery `APIGroupDiscoveryList` at `version` (`v2` or `v2beta1`).
pub fn aggregated(registry: &Registry, version: &str) -> Value {
    let items: Vec<Value> = groups(registry)
        .iter()
        .map(|(g, vs)| {
            let versions: Vec<Value> = vs
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = registry
                        .kinds()
                        .iter()
                        .map(|k| k.info())
                        .filter(|i| i.group == *g && i.version == *v)
                        .map(|i| {
                            let kind = json!({"group": i.group, "version": i.version, "kind": i.kind});
                            let mut r = json!({
                                "resource": i.plural,
                                "responseKind": kind,
                                "scope": if i.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": i.singular,
                                "verbs": VERBS,
                                "shortNames": i.short_names,
                            });
                            if i.has_status {
                                r["subresources"] = json!([{"subresource": "status", "responseKind": kind, "verbs": STATUS_VERBS}]);
                            }
                            r
                        })
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": g}, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}
