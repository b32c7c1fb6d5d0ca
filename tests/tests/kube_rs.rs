//! kube-rs against the server, on the embedded store and on etcd: `Api<T>` with the typed
//! structs of `ironcore_api::networking`, the runtime's watcher (across a server restart) and
//! finalizer helper, the status subresource and the metadata APIs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use ironcore_api::networking::Network;
use ironcore_e2e::{ServerProcess, on_each_backend_async};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);
const FINALIZER: &str = "example.com/cleanup";

/// A typed Network from JSON: `extra` is merged into the object.
fn network(name: &str, extra: Value) -> Network {
    let mut v = json!({
        "apiVersion": "networking.ironcore.dev/v1alpha1",
        "kind": "Network",
        "metadata": {"name": name},
        "spec": {"peerings": [{"name": "p1", "networkRef": {"name": "peer"}}]}
    });
    merge(&mut v, extra);
    serde_json::from_value(v).expect("network")
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

async fn networks(s: &ServerProcess) -> Api<Network> {
    Api::namespaced(s.client().await, "default")
}

fn to_json(n: &Network) -> Value {
    serde_json::to_value(n).expect("serialize")
}

fn api_code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("not an API error: {other:?}"),
    }
}

#[test]
fn api_create_returns_the_stored_object_with_server_set_metadata() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        let given = network(
            "n1",
            json!({"metadata": {"labels": {"env": "prod"}, "uid": "client-set"}, "status": {"state": "Available"}}),
        );
        let created = api
            .create(&PostParams::default(), &given)
            .await
            .expect("create");
        let m = &created.metadata;
        assert_eq!(m.name.as_deref(), Some("n1"));
        assert_eq!(m.namespace.as_deref(), Some("default"));
        assert_eq!(m.generation, Some(1));
        assert!(
            m.uid
                .as_deref()
                .is_some_and(|u| u.len() == 36 && u != "client-set"),
            "{m:?}"
        );
        assert!(
            m.resource_version
                .as_deref()
                .is_some_and(|rv| !rv.is_empty())
        );
        assert!(m.creation_timestamp.is_some());
        assert_eq!(
            m.labels
                .as_ref()
                .and_then(|l| l.get("env"))
                .map(String::as_str),
            Some("prod")
        );
        // Status is the controllers' business: a create clears it.
        assert_eq!(created.status.state, "");
        assert_eq!(to_json(&created)["spec"], to_json(&given)["spec"]);
    });
}

#[test]
fn api_get_returns_what_create_stored() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        let created = api
            .create(&PostParams::default(), &network("n1", json!({})))
            .await
            .expect("create");
        let got = api.get("n1").await.expect("get");
        assert_eq!(to_json(&got), to_json(&created));
        let err = api.get("missing").await.expect_err("missing object");
        let kube::Error::Api(status) = &err else {
            panic!("{err:?}")
        };
        assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
        assert_eq!(
            status.message,
            "networks.networking.ironcore.dev \"missing\" not found"
        );
    });
}

#[test]
fn api_list_filters_by_label_and_field_selector() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        for (name, env) in [("a", "prod"), ("b", "dev"), ("c", "prod")] {
            api.create(
                &PostParams::default(),
                &network(name, json!({"metadata": {"labels": {"env": env}}})),
            )
            .await
            .expect("create");
        }
        let names = |l: kube::core::ObjectList<Network>| -> Vec<String> {
            l.items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .collect()
        };
        let all = api.list(&ListParams::default()).await.expect("list");
        assert!(
            all.metadata
                .resource_version
                .as_deref()
                .is_some_and(|rv| !rv.is_empty())
        );
        assert_eq!(names(all), ["a", "b", "c"]);
        let prod = api
            .list(&ListParams::default().labels("env=prod"))
            .await
            .expect("list");
        assert_eq!(names(prod), ["a", "c"]);
        let not_a = api
            .list(
                &ListParams::default()
                    .labels("env in (prod)")
                    .fields("metadata.name!=a"),
            )
            .await
            .expect("list");
        assert_eq!(names(not_a), ["c"]);
        let other_ns: Api<Network> = Api::namespaced(s.client().await, "other");
        assert!(
            other_ns
                .list(&ListParams::default())
                .await
                .expect("list")
                .items
                .is_empty()
        );
        let everywhere: Api<Network> = Api::all(s.client().await);
        assert_eq!(
            everywhere
                .list(&ListParams::default())
                .await
                .expect("list")
                .items
                .len(),
            3
        );
    });
}

#[test]
fn api_patch_merge_changes_the_spec_and_bumps_the_generation() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        let created = api
            .create(&PostParams::default(), &network("n1", json!({})))
            .await
            .expect("create");
        let patch = json!({"metadata": {"labels": {"env": "prod"}}, "spec": {"providerID": "ironcore-net://ns/n1/7/uid"}});
        let patched = api
            .patch("n1", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("merge patch");
        assert_eq!(patched.spec.provider_id, "ironcore-net://ns/n1/7/uid");
        assert_eq!(
            patched.spec.peerings.len(),
            1,
            "merge patch keeps the other fields"
        );
        assert_eq!(patched.metadata.generation, Some(2));
        assert_ne!(
            patched.metadata.resource_version,
            created.metadata.resource_version
        );
        assert_eq!(
            to_json(&api.get("n1").await.expect("get")),
            to_json(&patched)
        );
    });
}

#[test]
fn api_patch_json_changes_the_spec() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        api.create(&PostParams::default(), &network("n1", json!({})))
            .await
            .expect("create");
        let ops: json_patch::Patch = serde_json::from_value(json!([
            {"op": "test", "path": "/spec/peerings/0/name", "value": "p1"},
            {"op": "replace", "path": "/spec/peerings/0/networkRef/name", "value": "peer2"},
            {"op": "add", "path": "/metadata/labels", "value": {"env": "dev"}}
        ]))
        .expect("json patch");
        let patched = api
            .patch("n1", &PatchParams::default(), &Patch::Json::<()>(ops))
            .await
            .expect("json patch");
        assert_eq!(patched.spec.peerings[0].network_ref.name, "peer2");
        assert_eq!(
            patched
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("env"))
                .map(String::as_str),
            Some("dev")
        );
        assert_eq!(patched.metadata.generation, Some(2));
    });
}

#[test]
fn api_delete_removes_the_object() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        let created = api
            .create(&PostParams::default(), &network("n1", json!({})))
            .await
            .expect("create");
        let deleted = api
            .delete("n1", &DeleteParams::default())
            .await
            .expect("delete");
        if let Some(status) = deleted.clone().right() {
            assert_eq!(
                status.status,
                Some(kube::core::response::StatusSummary::Success)
            );
        }
        if let Some(obj) = deleted.left() {
            assert_eq!(obj.metadata.uid, created.metadata.uid);
        }
        let err = api.get("n1").await.expect_err("deleted");
        assert_eq!(api_code(&err), 404);
        let err = api
            .delete("n1", &DeleteParams::default())
            .await
            .expect_err("gone");
        assert_eq!(api_code(&err), 404);
    });
}

#[test]
fn watcher_keeps_receiving_events_across_a_server_restart() {
    on_each_backend_async(|mut s| async move {
        let api = networks(&s).await;
        api.create(&PostParams::default(), &network("before", json!({})))
            .await
            .expect("create");
        let mut events = watcher(api.clone(), watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut seen = Vec::new();
        let mut next_named = async |want: &str, seen: &mut Vec<String>| {
            let found = tokio::time::timeout(TIMEOUT, async {
                while let Some(ev) = events.next().await {
                    let name = match &ev {
                        Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) => {
                            n.metadata.name.clone().unwrap_or_default()
                        }
                        Ok(watcher::Event::Delete(n)) => {
                            format!("deleted:{}", n.metadata.name.clone().unwrap_or_default())
                        }
                        Ok(watcher::Event::Init) => "<init>".to_owned(),
                        Ok(watcher::Event::InitDone) => "<init-done>".to_owned(),
                        Err(e) => format!("<error: {e}>"),
                    };
                    seen.push(name.clone());
                    if name == want {
                        return true;
                    }
                }
                false
            })
            .await;
            assert!(
                matches!(found, Ok(true)),
                "watcher never delivered {want}; saw {seen:?}"
            );
        };
        next_named("before", &mut seen).await;
        next_named("<init-done>", &mut seen).await;
        api.create(&PostParams::default(), &network("during", json!({})))
            .await
            .expect("create");
        next_named("during", &mut seen).await;

        s.restart();

        let api = networks(&s).await;
        api.create(&PostParams::default(), &network("after", json!({})))
            .await
            .expect("create after restart");
        next_named("after", &mut seen).await;
        api.patch(
            "before",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"changed": "yes"}}})),
        )
        .await
        .expect("patch after restart");
        next_named("before", &mut seen).await;
        assert!(
            !seen.iter().any(|n| n.starts_with("deleted:")),
            "no object was deleted, yet the watcher said so: {seen:?}"
        );
    });
}

#[test]
fn finalizer_helper_adds_its_finalizer_and_removes_it_after_cleanup_on_delete() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        api.create(&PostParams::default(), &network("n1", json!({})))
            .await
            .expect("create");
        let applied = Arc::new(AtomicUsize::new(0));
        let cleaned = Arc::new(AtomicUsize::new(0));
        let reconcile = async |api: &Api<Network>| {
            let obj = Arc::new(api.get("n1").await.expect("get"));
            let (a, c) = (applied.clone(), cleaned.clone());
            finalizer(api, FINALIZER, obj, |ev| async move {
                match ev {
                    FinalizerEvent::Apply(_) => a.fetch_add(1, Ordering::SeqCst),
                    FinalizerEvent::Cleanup(_) => c.fetch_add(1, Ordering::SeqCst),
                };
                Ok::<_, std::io::Error>(Action::await_change())
            })
            .await
            .expect("finalizer");
        };
        // First pass: the helper only adds its finalizer (JSON patch `test` null, `add`).
        reconcile(&api).await;
        let got = api.get("n1").await.expect("get");
        assert_eq!(got.metadata.finalizers, Some(vec![FINALIZER.to_owned()]));
        reconcile(&api).await;
        assert_eq!(applied.load(Ordering::SeqCst), 1);

        api.delete("n1", &DeleteParams::default())
            .await
            .expect("delete");
        let deleting = api.get("n1").await.expect("still there while finalized");
        assert!(deleting.metadata.deletion_timestamp.is_some());
        assert_eq!(
            deleting.metadata.finalizers,
            Some(vec![FINALIZER.to_owned()])
        );

        reconcile(&api).await;
        assert_eq!(cleaned.load(Ordering::SeqCst), 1);
        assert!(
            api.get_opt("n1").await.expect("get").is_none(),
            "object gone after cleanup"
        );
    });
}

#[test]
fn finalizer_helper_appends_to_and_removes_from_existing_finalizers() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        api.create(
            &PostParams::default(),
            &network(
                "n1",
                json!({"metadata": {"finalizers": ["example.com/other"]}}),
            ),
        )
        .await
        .expect("create");
        let reconcile = async |api: &Api<Network>| {
            let obj = Arc::new(api.get("n1").await.expect("get"));
            finalizer(api, FINALIZER, obj, |_| async {
                Ok::<_, std::io::Error>(Action::await_change())
            })
            .await
            .expect("finalizer");
        };
        reconcile(&api).await;
        let got = api.get("n1").await.expect("get");
        assert_eq!(
            got.metadata.finalizers,
            Some(vec!["example.com/other".to_owned(), FINALIZER.to_owned()])
        );
        api.delete("n1", &DeleteParams::default())
            .await
            .expect("delete");
        reconcile(&api).await;
        let left = api.get("n1").await.expect("held by the other finalizer");
        assert_eq!(
            left.metadata.finalizers,
            Some(vec!["example.com/other".to_owned()])
        );
        assert!(left.metadata.deletion_timestamp.is_some());
        api.patch(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("remove the last finalizer");
        assert!(api.get_opt("n1").await.expect("get").is_none());
    });
}

#[test]
fn patch_status_sets_the_status_and_keeps_the_spec() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        let created = api
            .create(&PostParams::default(), &network("n1", json!({})))
            .await
            .expect("create");
        let patch = json!({
            "spec": {"peerings": null, "providerID": "ironcore-net://x/y/1/u"},
            "status": {"state": "Available", "peerings": [{"name": "p1", "state": "Ready"}]}
        });
        let patched = api
            .patch_status("n1", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patch status");
        assert_eq!(patched.status.state, "Available");
        assert_eq!(patched.status.peerings[0].state, "Ready");
        assert_eq!(to_json(&patched)["spec"], to_json(&created)["spec"]);
        assert_eq!(patched.metadata.generation, Some(1));
        let got = api.get_status("n1").await.expect("get status");
        assert_eq!(to_json(&got), to_json(&patched));
    });
}

#[test]
fn replace_status_sets_the_status_and_keeps_the_spec() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        let created = api
            .create(&PostParams::default(), &network("n1", json!({})))
            .await
            .expect("create");
        let mut changed = created.clone();
        changed.status.state = "Available".to_owned();
        changed.spec.provider_id = "ironcore-net://x/y/1/u".to_owned();
        let replaced = api
            .replace_status("n1", &PostParams::default(), &changed)
            .await
            .expect("replace status");
        assert_eq!(replaced.status.state, "Available");
        assert_eq!(replaced.spec.provider_id, "");
        assert_eq!(to_json(&replaced)["spec"], to_json(&created)["spec"]);
        assert_eq!(replaced.metadata.generation, Some(1));
        // A stale resourceVersion on /status is a conflict like on the main resource.
        let err = api
            .replace_status("n1", &PostParams::default(), &changed)
            .await
            .expect_err("stale status update");
        assert_eq!(api_code(&err), 409);
    });
}

#[test]
fn main_resource_writes_keep_the_status() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        api.create(&PostParams::default(), &network("n1", json!({})))
            .await
            .expect("create");
        api.patch_status(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"state": "Available"}})),
        )
        .await
        .expect("patch status");
        let patched = api
            .patch(
                "n1",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"labels": {"a": "b"}}, "status": {"state": "Error"}}),
                ),
            )
            .await
            .expect("patch");
        assert_eq!(patched.status.state, "Available");
        let mut replaced = patched.clone();
        replaced.status.state = "Error".to_owned();
        let replaced = api
            .replace("n1", &PostParams::default(), &replaced)
            .await
            .expect("replace");
        assert_eq!(replaced.status.state, "Available");
        assert_eq!(
            replaced.metadata.generation,
            Some(1),
            "no spec change, no new generation"
        );
    });
}

#[test]
fn metadata_apis_return_partial_object_metadata() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        for (name, env) in [("a", "prod"), ("b", "dev")] {
            api.create(
                &PostParams::default(),
                &network(name, json!({"metadata": {"labels": {"env": env}}})),
            )
            .await
            .expect("create");
        }
        let list = api
            .list_metadata(&ListParams::default().labels("env=prod"))
            .await
            .expect("list metadata");
        assert!(
            list.metadata
                .resource_version
                .as_deref()
                .is_some_and(|rv| !rv.is_empty())
        );
        assert_eq!(list.items.len(), 1);
        let a = &list.items[0];
        assert_eq!(a.metadata.name.as_deref(), Some("a"));
        assert!(a.metadata.uid.is_some() && a.metadata.resource_version.is_some());
        let all = api
            .list_metadata(&ListParams::default())
            .await
            .expect("list metadata");
        assert_eq!(all.items.len(), 2);
        let b = api.get_metadata("b").await.expect("get metadata");
        assert_eq!(
            b.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("env"))
                .map(String::as_str),
            Some("dev")
        );
        let full = api.get("b").await.expect("get");
        assert_eq!(b.metadata.resource_version, full.metadata.resource_version);
    });
}

#[test]
fn api_create_with_generate_name_picks_a_fresh_name() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        let mut template = network("", json!({}));
        template.metadata.name = None;
        template.metadata.generate_name = Some("net-".to_owned());
        let a = api
            .create(&PostParams::default(), &template)
            .await
            .expect("create");
        let b = api
            .create(&PostParams::default(), &template)
            .await
            .expect("create");
        let (a, b) = (
            a.metadata.name.expect("name"),
            b.metadata.name.expect("name"),
        );
        assert!(a.starts_with("net-") && a.len() == "net-".len() + 5, "{a}");
        assert!(b.starts_with("net-") && a != b, "{a} {b}");
        assert_eq!(
            api.list(&ListParams::default())
                .await
                .expect("list")
                .items
                .len(),
            2
        );
    });
}

#[test]
fn api_dry_run_create_and_patch_write_nothing() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        let pp = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let would = api
            .create(&pp, &network("n1", json!({})))
            .await
            .expect("dry-run create");
        assert_eq!(would.metadata.name.as_deref(), Some("n1"));
        assert!(
            api.get_opt("n1").await.expect("get").is_none(),
            "dry run stored the object"
        );
        let created = api
            .create(&PostParams::default(), &network("n1", json!({})))
            .await
            .expect("create");
        let patched = api
            .patch(
                "n1",
                &PatchParams::default().dry_run(),
                &Patch::Merge(json!({"spec": {"providerID": "ironcore-net://a/b/1/u"}})),
            )
            .await
            .expect("dry-run patch");
        assert_eq!(patched.spec.provider_id, "ironcore-net://a/b/1/u");
        let now = api.get("n1").await.expect("get");
        assert_eq!(now.spec.provider_id, "");
        assert_eq!(
            now.metadata.resource_version,
            created.metadata.resource_version
        );
    });
}

#[test]
fn api_delete_collection_deletes_the_selected_objects() {
    on_each_backend_async(|s| async move {
        let api = networks(&s).await;
        for (name, env) in [("a", "prod"), ("b", "dev"), ("c", "prod")] {
            api.create(
                &PostParams::default(),
                &network(name, json!({"metadata": {"labels": {"env": env}}})),
            )
            .await
            .expect("create");
        }
        let deleted = api
            .delete_collection(
                &DeleteParams::default(),
                &ListParams::default().labels("env=prod"),
            )
            .await
            .expect("delete collection");
        if let Some(list) = deleted.left() {
            let mut names: Vec<String> = list
                .items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .collect();
            names.sort();
            assert_eq!(names, ["a", "c"]);
        }
        let left: Vec<String> = api
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        assert_eq!(left, ["b"]);
    });
}
