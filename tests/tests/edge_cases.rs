//! Edge cases of writes and watches that clients hit under concurrency or with odd requests.

use std::time::Duration;

use ironcore_e2e::{NETWORKING, Watch, collection, on_each_backend_async, raw};
use serde_json::{Value, json};

async fn create_network(c: &kube::Client, name: &str) {
    let body = json!({"apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "Network", "metadata": {"name": name}, "spec": {}});
    let res = raw(
        c,
        "POST",
        &collection("default", "networks"),
        Some("application/json"),
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
}

fn item(name: &str) -> String {
    format!("{}/{name}", collection("default", "networks"))
}

#[test]
fn concurrent_merge_patches_without_resource_version_all_succeed() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        create_network(&c, "n1").await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                let p = json!({"metadata": {"labels": {format!("l{i}"): "x"}}});
                raw(
                    &c,
                    "PATCH",
                    &item("n1"),
                    Some("application/merge-patch+json"),
                    p.to_string().into_bytes(),
                )
                .await
            }));
        }
        for t in tasks {
            let res = t.await.expect("join");
            assert_eq!(res.status, 200, "{}", res.body);
        }
        let res = raw(&c, "GET", &item("n1"), None, Vec::new()).await;
        let obj: Value = serde_json::from_str(&res.body).unwrap();
        assert_eq!(
            obj["metadata"]["labels"].as_object().map(|m| m.len()),
            Some(8),
            "{obj}"
        );
    });
}

#[test]
fn json_patch_copies_are_bounded_and_write_nothing() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        create_network(&c, "n1").await;
        let before = raw(&c, "GET", &item("n1"), None, Vec::new()).await.body;
        let mut ops = vec![
            json!({"op": "add", "path": "/metadata/annotations", "value": {"a": "x".repeat(100_000)}}),
        ];
        for i in 0..40 {
            ops.push(json!({"op": "copy", "from": "/metadata/annotations", "path": format!("/metadata/labels{i}")}));
        }
        let res = raw(
            &c,
            "PATCH",
            &item("n1"),
            Some("application/json-patch+json"),
            Value::Array(ops).to_string().into_bytes(),
        )
        .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert_eq!(
            raw(&c, "GET", &item("n1"), None, Vec::new()).await.body,
            before
        );
    });
}

#[test]
fn namespaced_kinds_outside_a_namespace_only_list_and_watch() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        create_network(&c, "n1").await;
        let all = format!("{NETWORKING}/networks");
        assert_eq!(raw(&c, "GET", &all, None, Vec::new()).await.status, 200);
        assert_eq!(raw(&c, "DELETE", &all, None, Vec::new()).await.status, 405);
        assert_eq!(
            raw(&c, "GET", &format!("{all}/n1"), None, Vec::new())
                .await
                .status,
            404
        );
        let res = raw(&c, "GET", &format!("{all}/default%2Fn1"), None, Vec::new()).await;
        assert_eq!(res.status, 400, "{}", res.body);
        assert_eq!(
            raw(&c, "GET", &item("n1"), None, Vec::new()).await.status,
            200
        );
    });
}

#[test]
fn dry_run_create_of_an_existing_name_is_409() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        create_network(&c, "n1").await;
        let body = json!({"apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "Network", "metadata": {"name": "n1"}, "spec": {}});
        let res = raw(
            &c,
            "POST",
            &format!("{}?dryRun=All", collection("default", "networks")),
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(res.status, 409, "{}", res.body);
    });
}

#[test]
fn watch_without_initial_events_starts_at_the_most_recent_revision() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        create_network(&c, "old").await;
        let uri = format!(
            "{}?watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan",
            collection("default", "networks")
        );
        let mut w = Watch::open(&c, &uri).await;
        assert_eq!(w.status, 200);
        create_network(&c, "new").await;
        let ev = w
            .next_change(Duration::from_secs(20))
            .await
            .expect("an event");
        assert_eq!(ev["type"], "ADDED");
        assert_eq!(
            ev["object"]["metadata"]["name"], "new",
            "no initial event for the old object"
        );
    });
}

#[test]
fn propagation_policies_swap_the_gc_finalizers() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        create_network(&c, "n1").await;
        let keep = json!({"metadata": {"finalizers": ["example.com/keep"]}});
        let res = raw(
            &c,
            "PATCH",
            &item("n1"),
            Some("application/merge-patch+json"),
            keep.to_string().into_bytes(),
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let finalizers = |body: &str| -> Value {
            serde_json::from_str::<Value>(body).unwrap()["metadata"]["finalizers"].clone()
        };
        let orphan = json!({"propagationPolicy": "Orphan"})
            .to_string()
            .into_bytes();
        let res = raw(&c, "DELETE", &item("n1"), Some("application/json"), orphan).await;
        assert_eq!(finalizers(&res.body), json!(["example.com/keep", "orphan"]));
        let fg = json!({"propagationPolicy": "Foreground"})
            .to_string()
            .into_bytes();
        let res = raw(&c, "DELETE", &item("n1"), Some("application/json"), fg).await;
        assert_eq!(
            finalizers(&res.body),
            json!(["example.com/keep", "foregroundDeletion"])
        );
        let bg = json!({"propagationPolicy": "Background"})
            .to_string()
            .into_bytes();
        let res = raw(&c, "DELETE", &item("n1"), Some("application/json"), bg).await;
        assert_eq!(finalizers(&res.body), json!(["example.com/keep"]));
    });
}
