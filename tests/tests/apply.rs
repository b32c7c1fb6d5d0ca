//! Server-side apply, strategic merge patch and client-side apply as kubectl and kube-rs use
//! them, on both backends.

use ironcore_api::networking::Network;
use ironcore_e2e::{ServerProcess, fails, ok, on_each_backend, on_each_backend_async};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

fn network(peerings: &[(&str, &str)]) -> String {
    let peerings: Vec<Value> = peerings
        .iter()
        .map(|(n, r)| json!({"name": n, "networkRef": {"name": r}}))
        .collect();
    json!({
        "apiVersion": "networking.ironcore.dev/v1alpha1",
        "kind": "Network",
        "metadata": {"name": "n1"},
        "spec": {"peerings": peerings},
    })
    .to_string()
}

fn get(s: &ServerProcess) -> Value {
    let out = ok(s.kubectl(&[
        "get",
        "networks",
        "n1",
        "-o",
        "json",
        "--show-managed-fields",
    ]));
    serde_json::from_str(&out).expect("json")
}

fn managers(obj: &Value) -> Vec<String> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["manager"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn server_side_apply_creates_and_records_the_manager() {
    on_each_backend(|s| {
        let out = ok(s.kubectl_with_input(
            &["apply", "--server-side", "-f", "-"],
            Some(&network(&[("p1", "a")])),
        ));
        assert!(out.contains("serverside-applied"), "{out}");
        let obj = get(&s);
        assert_eq!(managers(&obj), vec!["kubectl"]);
        let fields = &obj["metadata"]["managedFields"][0];
        assert_eq!(fields["operation"], "Apply");
        assert!(
            fields["fieldsV1"]["f:spec"]["f:peerings"]["k:{\"name\":\"p1\"}"].is_object(),
            "{fields}"
        );
    });
}

#[test]
fn server_side_reapply_of_the_same_intent_writes_nothing() {
    on_each_backend(|s| {
        let m = network(&[("p1", "a")]);
        ok(s.kubectl_with_input(&["apply", "--server-side", "-f", "-"], Some(&m)));
        let rv = get(&s)["metadata"]["resourceVersion"].clone();
        ok(s.kubectl_with_input(&["apply", "--server-side", "-f", "-"], Some(&m)));
        assert_eq!(get(&s)["metadata"]["resourceVersion"], rv);
    });
}

#[test]
fn server_side_apply_removes_fields_the_manager_stopped_applying() {
    on_each_backend(|s| {
        ok(s.kubectl_with_input(
            &["apply", "--server-side", "-f", "-"],
            Some(&network(&[("p1", "a"), ("p2", "b")])),
        ));
        ok(s.kubectl_with_input(
            &["apply", "--server-side", "-f", "-"],
            Some(&network(&[("p1", "a")])),
        ));
        let names: Vec<Value> = get(&s)["spec"]["peerings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("p1")]);
    });
}

#[test]
fn server_side_apply_conflicting_with_another_manager_fails_until_forced() {
    on_each_backend(|s| {
        ok(s.kubectl_with_input(
            &["apply", "--server-side", "-f", "-"],
            Some(&network(&[("p1", "a")])),
        ));
        ok(s.kubectl(&[
            "patch",
            "networks",
            "n1",
            "--type",
            "merge",
            "-p",
            &json!({"spec": {"peerings": [{"name": "p1", "networkRef": {"name": "b"}}]}})
                .to_string(),
        ]));
        let err = fails(s.kubectl_with_input(
            &["apply", "--server-side", "-f", "-"],
            Some(&network(&[("p1", "a")])),
        ));
        assert!(err.contains("conflict with \"kubectl-patch\""), "{err}");
        assert_eq!(get(&s)["spec"]["peerings"][0]["networkRef"]["name"], "b");
        ok(s.kubectl_with_input(
            &["apply", "--server-side", "--force-conflicts", "-f", "-"],
            Some(&network(&[("p1", "a")])),
        ));
        assert_eq!(get(&s)["spec"]["peerings"][0]["networkRef"]["name"], "a");
    });
}

#[test]
fn strategic_merge_patch_merges_peerings_by_name() {
    on_each_backend(|s| {
        ok(s.kubectl_with_input(&["apply", "-f", "-"], Some(&network(&[("p1", "a")]))));
        ok(s.kubectl(&[
            "patch",
            "networks",
            "n1",
            "-p",
            &json!({"spec": {"peerings": [{"name": "p2", "networkRef": {"name": "b"}}]}})
                .to_string(),
        ]));
        let names: Vec<Value> = get(&s)["spec"]["peerings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("p1"), json!("p2")]);
        ok(s.kubectl(&[
            "patch",
            "networks",
            "n1",
            "-p",
            &json!({"spec": {"peerings": [{"name": "p1", "$patch": "delete"}]}}).to_string(),
        ]));
        let names: Vec<Value> = get(&s)["spec"]["peerings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("p2")]);
    });
}

#[test]
fn client_side_apply_repeatedly_keeps_the_last_applied_annotation() {
    on_each_backend(|s| {
        ok(s.kubectl_with_input(&["apply", "-f", "-"], Some(&network(&[("p1", "a")]))));
        let out = ok(s.kubectl_with_input(&["apply", "-f", "-"], Some(&network(&[("p1", "a")]))));
        assert!(out.contains("unchanged"), "{out}");
        ok(s.kubectl_with_input(&["apply", "-f", "-"], Some(&network(&[("p2", "b")]))));
        let obj = get(&s);
        let names: Vec<Value> = obj["spec"]["peerings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].clone())
            .collect();
        assert_eq!(
            names,
            vec![json!("p2")],
            "client-side apply removes what it applied before"
        );
        let last =
            obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .as_str()
                .unwrap();
        assert!(last.contains("\"p2\""), "{last}");
    });
}

#[test]
fn kubectl_diff_shows_the_change_and_writes_nothing() {
    on_each_backend(|s| {
        ok(s.kubectl_with_input(&["apply", "-f", "-"], Some(&network(&[("p1", "a")]))));
        let rv = get(&s)["metadata"]["resourceVersion"].clone();
        let out = s.kubectl_with_input(&["diff", "-f", "-"], Some(&network(&[("p1", "zzz")])));
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stdout).contains("zzz"));
        assert_eq!(get(&s)["metadata"]["resourceVersion"], rv);
    });
}

#[test]
fn kube_rs_apply_patch_creates_updates_and_conflicts() {
    on_each_backend_async(|s| async move {
        let api: Api<Network> = Api::namespaced(s.client().await, "default");
        let intent: Value = serde_json::from_str(&network(&[("p1", "a")])).unwrap();
        let pp = PatchParams::apply("controller-a");
        let n = api
            .patch("n1", &pp, &Patch::Apply(&intent))
            .await
            .expect("apply creates");
        assert_eq!(n.spec.peerings.len(), 1);
        let other: Value = serde_json::from_str(&network(&[("p1", "b")])).unwrap();
        let err = api
            .patch(
                "n1",
                &PatchParams::apply("controller-b"),
                &Patch::Apply(&other),
            )
            .await
            .expect_err("conflict");
        match err {
            kube::Error::Api(s) => assert_eq!(s.code, 409, "{s:?}"),
            e => panic!("unexpected {e}"),
        }
        let n = api
            .patch(
                "n1",
                &PatchParams::apply("controller-b").force(),
                &Patch::Apply(&other),
            )
            .await
            .expect("forced apply");
        assert_eq!(n.spec.peerings[0].network_ref.name, "b");
    });
}

#[test]
fn kube_rs_strategic_patch_merges_by_key() {
    on_each_backend_async(|s| async move {
        let api: Api<Network> = Api::namespaced(s.client().await, "default");
        let intent: Value = serde_json::from_str(&network(&[("p1", "a")])).unwrap();
        api.patch("n1", &PatchParams::apply("t"), &Patch::Apply(&intent))
            .await
            .expect("create");
        let p = json!({"spec": {"peerings": [{"name": "p2", "networkRef": {"name": "b"}}]}});
        let n = api
            .patch("n1", &PatchParams::default(), &Patch::Strategic(&p))
            .await
            .expect("strategic patch");
        let names: Vec<&str> = n.spec.peerings.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["p1", "p2"]);
    });
}

#[test]
fn apply_without_field_manager_is_rejected() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let req = http::Request::patch(
            "/apis/networking.ironcore.dev/v1alpha1/namespaces/default/networks/n1",
        )
        .header("Content-Type", "application/apply-patch+yaml")
        .body(network(&[("p1", "a")]).into_bytes())
        .unwrap();
        let err = c.request_text(req).await.expect_err("422");
        match err {
            kube::Error::Api(s) => assert_eq!(s.code, 422, "{s:?}"),
            e => panic!("unexpected {e}"),
        }
    });
}
