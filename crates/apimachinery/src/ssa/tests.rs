//! Server-side apply behaviours, one per test.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value, json};

use super::*;

const AV: &str = "networking.ironcore.dev/v1alpha1";

/// A Network-like schema: keyed, set and atomic lists, an atomic and a granular map.
fn defs() -> Map<String, Value> {
    let v = json!({
        "Network": {"type": "object", "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
            "spec": {"$ref": "#/components/schemas/NetworkSpec"},
            "status": {"$ref": "#/components/schemas/NetworkStatus"}
        }},
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {"type": "object", "properties": {
            "name": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}
        }},
        "NetworkSpec": {"type": "object", "properties": {
            "providerID": {"type": "string"},
            "peerings": {"type": "array", "items": {"$ref": "#/components/schemas/Peering"},
                         "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "ips": {"type": "array", "items": {"type": "string"}},
            "selector": {"$ref": "#/components/schemas/Selector"},
            "config": {"type": "object", "additionalProperties": {"type": "string"}}
        }},
        "Peering": {"type": "object", "properties": {
            "name": {"type": "string"},
            "networkRef": {"$ref": "#/components/schemas/Ref"},
            "prefixes": {"type": "array", "items": {"type": "string"}}
        }},
        "Ref": {"type": "object", "properties": {"name": {"type": "string"}}},
        "Selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                     "properties": {"a": {"type": "string"}, "b": {"type": "string"}}},
        "NetworkStatus": {"type": "object", "properties": {"state": {"type": "string"}}}
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn time(s: i64) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(s).unwrap())
}

fn ctx<'a>(defs: &'a Map<String, Value>, manager: &'a str, at: i64) -> WriteContext<'a> {
    WriteContext {
        manager,
        api_version: AV,
        subresource: "",
        schema: JsonSchemaCursor::at_definition(defs, "Network"),
        reset: ResetFields::main_resource(),
        now: time(at),
    }
}

fn status_ctx<'a>(defs: &'a Map<String, Value>, manager: &'a str, at: i64) -> WriteContext<'a> {
    WriteContext {
        subresource: "status",
        reset: ResetFields::status_subresource(),
        ..ctx(defs, manager, at)
    }
}

fn network(spec: Value) -> Value {
    json!({"apiVersion": AV, "kind": "Network", "metadata": {"name": "n"}, "spec": spec})
}

/// The FieldsV1 of `manager`'s entry with `operation` in `object`.
fn owned(object: &Value, manager: &str, operation: Operation) -> Option<Value> {
    managed_fields_of(object)
        .unwrap()
        .into_iter()
        .find(|e| e.manager == manager && e.operation == operation)
        .map(|e| e.fields.to_fields_v1())
}

fn apply_ok(live: Option<&Value>, applied: &Value, c: &WriteContext<'_>) -> Value {
    apply(live, applied, false, c).unwrap().object
}

/// Stores an update by `manager` from `old` to `new`, as the server would.
fn update_ok(old: &Value, mut new: Value, c: &WriteContext<'_>) -> Value {
    let entries = update(Some(old), &new, c);
    set_managed_fields(&mut new, &entries);
    new
}

#[test]
fn fields_v1_round_trips() {
    let text = r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:peerings":{"k:{\"name\":\"a\"}":{".":{},"f:name":{}}},"f:tags":{"v:\"x\"":{}},"f:ips":{}},"f:status":{".":{},"f:state":{}}}"#;
    let v: Value = serde_json::from_str(text).unwrap();
    let set = FieldSet::from_fields_v1(&v).unwrap();
    let peering = PathElement::key(vec![("name".into(), json!("a"))]);
    let f = |n: &str| PathElement::Field(n.into());
    assert!(set.contains(&[f("metadata"), f("labels"), f("app")]));
    assert!(set.contains(&[f("spec"), f("peerings"), peering.clone()]));
    assert!(set.contains(&[f("spec"), f("peerings"), peering, f("name")]));
    assert!(set.contains(&[f("status")]));
    assert!(!set.contains(&[f("spec")]));
    // Written back in Kubernetes' order: "." first, then elements sorted.
    let back = serde_json::to_string(&set.to_fields_v1()).unwrap();
    assert_eq!(
        back,
        r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:ips":{},"f:peerings":{"k:{\"name\":\"a\"}":{".":{},"f:name":{}}},"f:tags":{"v:\"x\"":{}}},"f:status":{".":{},"f:state":{}}}"#
    );
    assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()).unwrap(), set);
}

#[test]
fn malformed_fields_v1_is_an_error() {
    for bad in [
        json!([]),
        json!({"x": {}}),
        json!({"f:a": 1}),
        json!({"k:[1]": {}}),
        json!({"i:-1": {}}),
        json!({"v:nope": {}}),
    ] {
        assert!(FieldSet::from_fields_v1(&bad).is_err(), "{bad}");
    }
}

#[test]
fn set_operations_follow_structured_merge_diff() {
    let p = |s: &[&str]| FieldPath::fields(s);
    let a = FieldSet::from_paths(&[p(&["spec", "x"]), p(&["spec", "y"]), p(&["spec"])]);
    let b = FieldSet::from_paths(&[p(&["spec", "y"]), p(&["status"])]);
    assert_eq!(a.union(&b).len(), 4);
    assert_eq!(
        a.intersection(&b),
        FieldSet::from_paths(&[p(&["spec", "y"])])
    );
    // Exact difference: removing a parent keeps its children.
    let parent = FieldSet::from_paths(&[p(&["spec"])]);
    assert_eq!(a.difference(&parent).len(), 2);
    // Recursive difference removes them too.
    assert!(a.recursive_difference(&parent).is_empty());
}

#[test]
fn list_map_items_are_owned_by_key() {
    let d = defs();
    let obj = network(json!({"peerings": [{"name": "a", "networkRef": {"name": "x"}}]}));
    let set = field_set_of(&obj, JsonSchemaCursor::at_definition(&d, "Network"));
    assert_eq!(
        set.to_fields_v1(),
        json!({
            "f:apiVersion": {}, "f:kind": {},
            "f:metadata": {"f:name": {}},
            "f:spec": {"f:peerings": {"k:{\"name\":\"a\"}": {".": {}, "f:name": {}, "f:networkRef": {"f:name": {}}}}}
        })
    );
}

#[test]
fn list_map_items_merge_by_key() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(json!({"peerings": [{"name": "a", "prefixes": ["p"]}]})),
        &ctx(&d, "one", 1),
    );
    let out = apply_ok(
        Some(&live),
        &network(json!({"peerings": [{"name": "b"}, {"name": "a", "networkRef": {"name": "x"}}]})),
        &ctx(&d, "two", 2),
    );
    assert_eq!(
        out["spec"]["peerings"],
        json!([{"name": "b"}, {"name": "a", "prefixes": ["p"], "networkRef": {"name": "x"}}])
    );
    // Both own item a (same key value), each its own fields.
    assert_eq!(
        owned(&out, "one", Operation::Apply).unwrap()["f:spec"]["f:peerings"],
        json!({"k:{\"name\":\"a\"}": {".": {}, "f:name": {}, "f:prefixes": {}}})
    );
}

#[test]
fn set_lists_own_items_by_value_and_unite() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(json!({"tags": ["a", "b"]})),
        &ctx(&d, "one", 1),
    );
    assert_eq!(
        owned(&live, "one", Operation::Apply).unwrap()["f:spec"],
        json!({"f:tags": {"v:\"a\"": {}, "v:\"b\"": {}}})
    );
    let out = apply_ok(
        Some(&live),
        &network(json!({"tags": ["c"]})),
        &ctx(&d, "two", 2),
    );
    assert_eq!(out["spec"]["tags"], json!(["a", "b", "c"]));
}

#[test]
fn atomic_lists_are_replaced_and_owned_whole() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(json!({"ips": ["1", "2"], "selector": {"a": "x"}})),
        &ctx(&d, "one", 1),
    );
    assert_eq!(
        owned(&live, "one", Operation::Apply).unwrap()["f:spec"],
        json!({"f:ips": {}, "f:selector": {}})
    );
    let out = apply(
        Some(&live),
        &network(json!({"ips": ["3"], "selector": {"b": "y"}})),
        true,
        &ctx(&d, "two", 2),
    )
    .unwrap()
    .object;
    assert_eq!(out["spec"]["ips"], json!(["3"]));
    assert_eq!(out["spec"]["selector"], json!({"b": "y"}));
    assert_eq!(owned(&out, "one", Operation::Apply), None);
}

#[test]
fn first_apply_creates_the_object_and_owns_its_fields() {
    let d = defs();
    let applied = json!({
        "apiVersion": AV, "kind": "Network",
        "metadata": {"name": "n", "labels": {"app": "x"}},
        "spec": {"providerID": "p", "peerings": [{"name": "a"}]}
    });
    let res = apply(None, &applied, false, &ctx(&d, "kubectl", 7)).unwrap();
    assert!(res.changed);
    assert_eq!(res.object["spec"], applied["spec"]);
    assert_eq!(
        res.object["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": AV,
            "time": "1970-01-01T00:00:07Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:peerings": {"k:{\"name\":\"a\"}": {".": {}, "f:name": {}}}, "f:providerID": {}}
            }
        }])
    );
}

#[test]
fn reapplying_the_same_intent_is_a_no_op() {
    let d = defs();
    let applied = network(json!({"providerID": "p", "tags": ["a"], "peerings": [{"name": "a"}]}));
    let live = apply_ok(None, &applied, &ctx(&d, "kubectl", 1));
    let again = apply(Some(&live), &applied, false, &ctx(&d, "kubectl", 99)).unwrap();
    assert!(!again.changed);
    assert_eq!(
        serde_json::to_string(&again.object).unwrap(),
        serde_json::to_string(&live).unwrap()
    );
}

#[test]
fn dropped_field_is_removed() {
    let d = defs();
    let live = apply_ok(
        None,
        &json!({"apiVersion": AV, "kind": "Network",
                "metadata": {"name": "n", "labels": {"a": "1", "b": "2"}},
                "spec": {"providerID": "p", "peerings": [{"name": "a"}, {"name": "b"}]}}),
        &ctx(&d, "kubectl", 1),
    );
    let out = apply_ok(
        Some(&live),
        &json!({"apiVersion": AV, "kind": "Network",
                "metadata": {"name": "n", "labels": {"a": "1"}},
                "spec": {"peerings": [{"name": "a"}]}}),
        &ctx(&d, "kubectl", 2),
    );
    assert_eq!(out["metadata"]["labels"], json!({"a": "1"}));
    assert_eq!(out["metadata"]["name"], "n");
    assert_eq!(out["spec"], json!({"peerings": [{"name": "a"}]}));
}

#[test]
fn dropped_field_is_kept_when_co_owned() {
    let d = defs();
    let applied = network(json!({"providerID": "p"}));
    let live = apply_ok(None, &applied, &ctx(&d, "one", 1));
    let live = apply_ok(Some(&live), &applied, &ctx(&d, "two", 2));
    let bare = json!({"apiVersion": AV, "kind": "Network", "metadata": {"name": "n"}});
    let out = apply_ok(Some(&live), &bare, &ctx(&d, "one", 3));
    assert_eq!(out["spec"]["providerID"], "p");
    assert_eq!(owned(&out, "one", Operation::Apply), None);
    assert_eq!(
        owned(&out, "two", Operation::Apply).unwrap()["f:spec"],
        json!({"f:providerID": {}})
    );
}

#[test]
fn dropped_list_item_is_removed_even_if_an_updater_changed_it() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(json!({"peerings": [{"name": "a"}]})),
        &ctx(&d, "applier", 1),
    );
    let mut changed = live.clone();
    changed["spec"]["peerings"][0]["prefixes"] = json!(["p"]);
    let live = update_ok(&live, changed, &ctx(&d, "ctrl", 2));
    let out = apply_ok(
        Some(&live),
        &network(json!({"peerings": [{"name": "b"}]})),
        &ctx(&d, "applier", 3),
    );
    assert_eq!(out["spec"]["peerings"], json!([{"name": "b"}]));
    assert_eq!(owned(&out, "ctrl", Operation::Update), None);
}

#[test]
fn equal_values_are_shared_without_conflict() {
    let d = defs();
    let applied = network(json!({"providerID": "p"}));
    let live = apply_ok(None, &applied, &ctx(&d, "one", 1));
    let out = apply(Some(&live), &applied, false, &ctx(&d, "two", 2)).unwrap();
    assert!(owned(&out.object, "one", Operation::Apply).is_some());
    assert!(owned(&out.object, "two", Operation::Apply).is_some());
}

#[test]
fn conflict_with_an_update_manager() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(json!({"providerID": "p"})),
        &ctx(&d, "kubectl", 1),
    );
    let mut changed = live.clone();
    changed["spec"]["providerID"] = json!("q");
    let live = update_ok(&live, changed, &ctx(&d, "ctrl", 2));
    let err = apply(
        Some(&live),
        &network(json!({"providerID": "r"})),
        false,
        &ctx(&d, "kubectl", 3),
    )
    .unwrap_err();
    let ApplyError::Conflicts(c) = err else {
        panic!("expected conflicts, got {err:?}");
    };
    assert_eq!(
        c.message(),
        format!(
            "Apply failed with 1 conflict: conflict with \"ctrl\" using {AV}: .spec.providerID"
        )
    );
    let status = serde_json::to_value(c.status()).unwrap();
    assert_eq!(status["code"], 409);
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": format!("conflict with \"ctrl\" using {AV}"), "field": ".spec.providerID"}])
    );
}

#[test]
fn conflicts_with_several_fields_list_them_per_manager() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(
            json!({"providerID": "p", "peerings": [{"name": "a", "networkRef": {"name": "x"}}]}),
        ),
        &ctx(&d, "one", 1),
    );
    let err = apply(
        Some(&live),
        &network(
            json!({"providerID": "q", "peerings": [{"name": "a", "networkRef": {"name": "y"}}]}),
        ),
        false,
        &ctx(&d, "two", 2),
    )
    .unwrap_err();
    let ApplyError::Conflicts(c) = err else {
        panic!("expected conflicts, got {err:?}");
    };
    assert_eq!(
        c.message(),
        "Apply failed with 2 conflicts: conflicts with \"one\":\n- .spec.providerID\n- .spec.peerings[name=\"a\"].networkRef.name"
    );
}

#[test]
fn force_takes_ownership() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(json!({"providerID": "p", "tags": ["t"]})),
        &ctx(&d, "one", 1),
    );
    let out = apply(
        Some(&live),
        &network(json!({"providerID": "q"})),
        true,
        &ctx(&d, "two", 2),
    )
    .unwrap()
    .object;
    assert_eq!(out["spec"]["providerID"], "q");
    assert_eq!(
        owned(&out, "one", Operation::Apply).unwrap()["f:spec"],
        json!({"f:tags": {"v:\"t\"": {}}})
    );
    assert_eq!(
        owned(&out, "two", Operation::Apply).unwrap()["f:spec"],
        json!({"f:providerID": {}})
    );
}

#[test]
fn apply_to_status_does_not_own_spec_and_vice_versa() {
    let d = defs();
    let mut created = network(json!({"providerID": "p"}));
    created["status"] = json!({"state": "ignored"});
    let live = apply_ok(None, &created, &ctx(&d, "user", 1));
    assert!(live.get("status").is_none());
    assert!(
        owned(&live, "user", Operation::Apply)
            .unwrap()
            .get("f:status")
            .is_none()
    );

    let mut status = network(json!({"providerID": "ignored"}));
    status["status"] = json!({"state": "Ready"});
    let out = apply_ok(Some(&live), &status, &status_ctx(&d, "ctrl", 2));
    assert_eq!(out["spec"]["providerID"], "p");
    assert_eq!(out["status"]["state"], "Ready");
    let entry = managed_fields_of(&out)
        .unwrap()
        .into_iter()
        .find(|e| e.manager == "ctrl")
        .unwrap();
    assert_eq!(entry.subresource, "status");
    assert_eq!(
        entry.fields.to_fields_v1(),
        json!({"f:status": {"f:state": {}}})
    );
}

#[test]
fn update_transfers_ownership() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(json!({"providerID": "p", "tags": ["t"]})),
        &ctx(&d, "applier", 1),
    );
    let mut changed = live.clone();
    changed["spec"]["providerID"] = json!("q");
    changed["metadata"]["labels"] = json!({"l": "v"});
    let out = update_ok(&live, changed, &ctx(&d, "ctrl", 2));
    assert_eq!(
        owned(&out, "applier", Operation::Apply).unwrap()["f:spec"],
        json!({"f:tags": {"v:\"t\"": {}}})
    );
    assert_eq!(
        owned(&out, "ctrl", Operation::Update).unwrap(),
        json!({"f:metadata": {"f:labels": {".": {}, "f:l": {}}}, "f:spec": {"f:providerID": {}}})
    );
}

#[test]
fn status_update_records_the_subresource() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(json!({"providerID": "p"})),
        &ctx(&d, "user", 1),
    );
    let mut changed = live.clone();
    changed["status"] = json!({"state": "Ready"});
    let out = update_ok(&live, changed, &status_ctx(&d, "ctrl", 2));
    let entry = managed_fields_of(&out)
        .unwrap()
        .into_iter()
        .find(|e| e.manager == "ctrl")
        .unwrap();
    assert_eq!(entry.operation, Operation::Update);
    assert_eq!(entry.subresource, "status");
    assert_eq!(
        entry.fields.to_fields_v1(),
        json!({"f:status": {".": {}, "f:state": {}}})
    );
    assert_eq!(
        out["metadata"]["managedFields"][1]["subresource"],
        json!("status")
    );
}

#[test]
fn update_on_create_owns_new_containers() {
    let d = defs();
    let new = network(json!({"peerings": [{"name": "a"}]}));
    let entries = update(None, &new, &ctx(&d, "kubectl-create", 1));
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].fields.to_fields_v1(),
        json!({"f:spec": {".": {}, "f:peerings": {".": {}, "k:{\"name\":\"a\"}": {".": {}, "f:name": {}}}}})
    );
}

#[test]
fn update_without_changes_keeps_entries_and_times() {
    let d = defs();
    let live = update_ok(
        &json!({}),
        network(json!({"providerID": "p"})),
        &ctx(&d, "a", 1),
    );
    let again = update(Some(&live), &live, &ctx(&d, "b", 2));
    assert_eq!(again, managed_fields_of(&live).unwrap());
}

#[test]
fn managed_fields_single_empty_entry_clears() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(json!({"providerID": "p"})),
        &ctx(&d, "kubectl", 1),
    );
    let mut sent = live.clone();
    sent["metadata"]["managedFields"] = json!([{}]);
    assert!(update(Some(&live), &sent, &ctx(&d, "editor", 2)).is_empty());
}

#[test]
fn managed_fields_empty_list_keeps_them() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(json!({"providerID": "p"})),
        &ctx(&d, "kubectl", 1),
    );
    let mut sent = live.clone();
    sent["metadata"]["managedFields"] = json!([]);
    assert_eq!(
        update(Some(&live), &sent, &ctx(&d, "editor", 2)),
        managed_fields_of(&live).unwrap()
    );
}

#[test]
fn managed_fields_sent_by_a_client_replace_the_stored_ones() {
    let d = defs();
    let live = apply_ok(
        None,
        &network(json!({"providerID": "p"})),
        &ctx(&d, "kubectl", 1),
    );
    let mut sent = live.clone();
    sent["metadata"]["managedFields"][0]["manager"] = json!("renamed");
    let entries = update(Some(&live), &sent, &ctx(&d, "editor", 2));
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].manager, "renamed");
}

#[test]
fn update_managers_are_capped_at_ten() {
    let d = defs();
    let mut live = network(json!({}));
    for i in 0..12 {
        let mut changed = live.clone();
        changed["spec"]["config"] = json!({});
        changed["spec"]["config"][format!("k{i}")] = json!("v");
        if let Some(m) = live["spec"]["config"].as_object() {
            for (k, v) in m {
                changed["spec"]["config"][k] = v.clone();
            }
        }
        let name = format!("m{i}");
        live = update_ok(&live, changed, &ctx(&d, &name, i64::from(i) + 1));
    }
    let entries = managed_fields_of(&live).unwrap();
    assert_eq!(entries.len(), MAX_UPDATE_MANAGERS);
    let ancient = entries
        .iter()
        .find(|e| e.manager == ANCIENT_CHANGES)
        .unwrap();
    // The three oldest (m0, m1, m2) were merged into one bucket (`config` itself came with m0).
    assert_eq!(ancient.fields.len(), 3 + 1);
    assert_eq!(ancient.time, Some(time(3)));
    assert!(
        !entries
            .iter()
            .any(|e| ["m0", "m1", "m2"].contains(&e.manager.as_str()))
    );
}

#[test]
fn applied_managed_fields_are_rejected() {
    let d = defs();
    let mut applied = network(json!({}));
    applied["metadata"]["managedFields"] = json!([]);
    assert_eq!(
        apply(None, &applied, false, &ctx(&d, "m", 1)).unwrap_err(),
        ApplyError::ManagedFieldsSet
    );
}

#[test]
fn wrong_api_version_is_rejected() {
    let d = defs();
    let mut applied = network(json!({}));
    applied["apiVersion"] = json!("v1");
    assert!(matches!(
        apply(None, &applied, false, &ctx(&d, "m", 1)),
        Err(ApplyError::VersionMismatch { .. })
    ));
}

#[test]
fn duplicate_list_keys_are_invalid() {
    let d = defs();
    let applied = network(json!({"peerings": [{"name": "a"}, {"name": "a"}]}));
    let err = apply(None, &applied, false, &ctx(&d, "m", 1)).unwrap_err();
    assert_eq!(
        err,
        ApplyError::Invalid(".spec.peerings: duplicate entries for key [name=\"a\"]".into())
    );
}

#[test]
fn missing_list_key_is_invalid() {
    let d = defs();
    let applied = network(json!({"peerings": [{"networkRef": {"name": "x"}}]}));
    assert!(matches!(
        apply(None, &applied, false, &ctx(&d, "m", 1)),
        Err(ApplyError::Invalid(_))
    ));
}

#[test]
fn null_removes_the_field_and_owns_it() {
    let d = defs();
    let live = apply_ok(None, &network(json!({"providerID": "p"})), &ctx(&d, "m", 1));
    let out = apply_ok(
        Some(&live),
        &network(json!({"providerID": null})),
        &ctx(&d, "m", 2),
    );
    assert!(out["spec"].get("providerID").is_none());
    assert_eq!(
        owned(&out, "m", Operation::Apply).unwrap()["f:spec"],
        json!({"f:providerID": {}})
    );
}

#[test]
fn kubectl_takes_over_fields_from_client_side_apply() {
    let d = defs();
    let config = network(json!({"providerID": "p"}));
    let mut annotated = config.clone();
    annotated["metadata"]["annotations"] =
        json!({LAST_APPLIED_ANNOTATION: serde_json::to_string(&config).unwrap()});
    let live = update_ok(
        &json!({}),
        annotated,
        &ctx(&d, "kubectl-client-side-apply", 1),
    );
    let changed = network(json!({"providerID": "q"}));
    let out = apply_ok(Some(&live), &changed, &ctx(&d, "kubectl", 2));
    assert_eq!(out["spec"]["providerID"], "q");
    assert_eq!(
        out["metadata"]["annotations"][LAST_APPLIED_ANNOTATION],
        format!(
            "{{\"apiVersion\":\"{AV}\",\"kind\":\"Network\",\"metadata\":{{\"name\":\"n\"}},\"spec\":{{\"providerID\":\"q\"}}}}\n"
        )
    );
    // Another manager gets the conflict.
    let live2 = update_ok(
        &json!({}),
        {
            let mut a = config.clone();
            a["metadata"]["annotations"] =
                json!({LAST_APPLIED_ANNOTATION: serde_json::to_string(&config).unwrap()});
            a
        },
        &ctx(&d, "kubectl-client-side-apply", 1),
    );
    assert!(matches!(
        apply(Some(&live2), &changed, false, &ctx(&d, "other", 2)),
        Err(ApplyError::Conflicts(_))
    ));
}

#[test]
fn without_schema_lists_are_atomic_and_objects_granular() {
    let obj = json!({"spec": {"list": [{"a": 1}], "map": {"k": "v"}}});
    assert_eq!(
        field_set_of(&obj, None).to_fields_v1(),
        json!({"f:spec": {".": {}, "f:list": {}, "f:map": {".": {}, "f:k": {}}}})
    );
}

#[test]
fn garbage_input_never_panics() {
    let d = defs();
    let lives = [
        json!(null),
        json!([1, 2]),
        json!({"metadata": 5, "spec": "x"}),
        json!({"metadata": {"managedFields": "nope"}, "spec": {"peerings": "x", "tags": [{}, {}]}}),
        json!({"metadata": {"managedFields": [{"operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:peerings": {"k:{\"name\":\"a\"}": {}}}}}]},
               "spec": {"peerings": [{"name": "a"}, {"name": "a"}, 3, {"x": 1}]}}),
    ];
    let applied = [
        network(json!({"peerings": [{"name": "a", "networkRef": [1]}], "tags": ["x", "x"]})),
        network(json!({"peerings": {"name": "a"}, "tags": "t", "selector": [1], "config": 3})),
        network(json!([1, {"x": null}])),
        json!({"apiVersion": AV, "metadata": "x"}),
        json!({"apiVersion": AV, "metadata": {"labels": null}, "spec": null, "status": {"state": [null]}}),
        json!("scalar"),
    ];
    for live in &lives {
        for a in &applied {
            for force in [false, true] {
                let _ = apply(Some(live), a, force, &ctx(&d, "m", 1));
                let _ = apply(Some(live), a, force, &status_ctx(&d, "m", 1));
            }
            let _ = update(Some(live), a, &ctx(&d, "m", 1));
            let _ = update(Some(a), live, &status_ctx(&d, "m", 1));
            let _ = field_set_of(a, JsonSchemaCursor::at_definition(&d, "Network"));
        }
    }
}
