//! OpenAPI as kubectl and raw HTTP clients read it: `kubectl explain` shows the field
//! documentation generated from the Rust doc comments, `kubectl create`/`apply` work with
//! kubectl's default client validation (it finds the `fieldValidation` parameter in the v3
//! document and lets the server validate strictly), unknown fields are rejected, and every
//! kubectl 1.29–1.33 beside the one on the PATH does the same; kubectl 1.27/1.28, which validate
//! against the protobuf `/openapi/v2`, create and apply without `--validate=false` and still
//! reject unknown fields. The documents carry ETags and kube-apiserver's cache headers.

use std::path::{Path, PathBuf};

use ironcore_e2e::{Backend, ServerProcess, fails, kubectl_binary, ok, raw};
use serde_json::{Value, json};

/// A Network manifest with one peering.
fn network(name: &str, peer: &str) -> String {
    json!({
        "apiVersion": "networking.ironcore.dev/v1alpha1",
        "kind": "Network",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"peerings": [{"name": "to-peer", "networkRef": {"name": peer}}]}
    })
    .to_string()
}

/// The versioned kubectl binaries (`kubectl.1.29` … `kubectl.1.33`) beside the PATH's kubectl.
fn versioned_kubectls() -> Vec<PathBuf> {
    kubectls_of(29..=33)
}

/// The versioned kubectl binaries `kubectl.1.<minor>` beside the PATH's kubectl, for `minors`.
fn kubectls_of(minors: std::ops::RangeInclusive<u32>) -> Vec<PathBuf> {
    let Some(dir) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.exists())
            .and_then(|p| std::fs::canonicalize(p).ok())
            .and_then(|p| p.parent().map(Path::to_path_buf))
    }) else {
        return Vec::new();
    };
    minors
        .map(|minor| dir.join(format!("kubectl.1.{minor}")))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn kubectl_explain_shows_field_documentation() {
    let s = ServerProcess::ironcore(Backend::Embedded);
    let out = ok(s.kubectl(&["explain", "networks.spec.peerings"]));
    assert!(out.contains("KIND:") && out.contains("Network"), "{out}");
    assert!(out.contains("Peerings with other networks"), "{out}");
    for field in ["name", "networkRef", "prefixes"] {
        assert!(out.contains(field), "{field} missing:\n{out}");
    }
    let out = ok(s.kubectl(&["explain", "networkinterfaces.spec", "--recursive"]));
    assert!(out.contains("networkRef"), "{out}");
    let out = ok(s.kubectl(&["explain", "nic"]));
    assert!(out.contains("NetworkInterface"), "{out}");
}

#[test]
fn kubectl_create_and_apply_validate_on_the_server() {
    let s = ServerProcess::ironcore(Backend::Embedded);
    // No --validate=false: kubectl reads the fieldValidation parameter from OpenAPI v3.
    ok(s.kubectl_with_input(&["create", "-f", "-"], Some(&network("created", "peer"))));
    ok(s.kubectl_with_input(&["apply", "-f", "-"], Some(&network("applied", "peer"))));
    // The second apply patches (and fetches /openapi/v2, which must not break it).
    let out = ok(s.kubectl_with_input(&["apply", "-f", "-"], Some(&network("applied", "other"))));
    assert!(out.contains("configured"), "{out}");
    let got = ok(s.kubectl(&[
        "get",
        "network",
        "applied",
        "-o",
        "jsonpath={.spec.peerings[0].networkRef.name}",
    ]));
    assert_eq!(got, "other");

    let mut bad: Value = serde_json::from_str(&network("bad", "peer")).unwrap();
    bad["spec"]["bogus"] = json!(1);
    let err = fails(s.kubectl_with_input(
        &["apply", "--validate=strict", "-f", "-"],
        Some(&bad.to_string()),
    ));
    assert!(
        err.contains("unknown field") && err.contains("bogus"),
        "{err}"
    );
    let err = fails(s.kubectl_with_input(&["create", "-f", "-"], Some(&bad.to_string())));
    assert!(err.contains("unknown field"), "{err}");
}

#[test]
fn every_versioned_kubectl_explains_applies_gets_and_diffs() {
    let bins = versioned_kubectls();
    if bins.is_empty() {
        eprintln!("no versioned kubectl binaries beside the PATH's kubectl; skipped");
        return;
    }
    let s = ServerProcess::ironcore(Backend::Embedded);
    for bin in &bins {
        let v = bin
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("kubectl")
            .replace('.', "-");
        let run =
            |args: &[&str], input: Option<&str>| kubectl_binary(bin, &s.kubeconfig(), args, input);
        let out = ok(run(&["explain", "networks.spec.peerings"], None));
        assert!(out.contains("Peerings with other networks"), "{v}: {out}");
        ok(run(&["apply", "-f", "-"], Some(&network(&v, "peer"))));
        let out = ok(run(&["apply", "-f", "-"], Some(&network(&v, "other"))));
        assert!(out.contains("configured"), "{v}: {out}");
        let out = ok(run(&["get", "networks", &v, "-o", "name"], None));
        assert_eq!(
            out.trim(),
            format!("network.networking.ironcore.dev/{v}"),
            "{v}"
        );
        // diff exits 1 when there are differences, 0 when there are none.
        let same = run(&["diff", "-f", "-"], Some(&network(&v, "other")));
        assert_eq!(
            same.status.code(),
            Some(0),
            "{v}: {}",
            String::from_utf8_lossy(&same.stderr)
        );
        let changed = run(&["diff", "-f", "-"], Some(&network(&v, "third")));
        assert_eq!(
            changed.status.code(),
            Some(1),
            "{v}: {}",
            String::from_utf8_lossy(&changed.stderr)
        );
        assert!(
            String::from_utf8_lossy(&changed.stdout).contains("third"),
            "{v}"
        );
        ok(run(
            &["create", "-f", "-"],
            Some(&network(&format!("{v}-c"), "p")),
        ));
        let mut bad: Value = serde_json::from_str(&network(&format!("{v}-bad"), "p")).unwrap();
        bad["spec"]["bogus"] = json!(1);
        let err = fails(run(
            &["apply", "--validate=strict", "-f", "-"],
            Some(&bad.to_string()),
        ));
        assert!(err.contains("unknown field"), "{v}: {err}");
    }
}

#[test]
fn kubectl_1_27_and_1_28_validate_against_protobuf_openapi_v2() {
    let bins = kubectls_of(27..=28);
    if bins.is_empty() {
        eprintln!("no kubectl.1.27/kubectl.1.28 beside the PATH's kubectl; skipped");
        return;
    }
    let s = ServerProcess::ironcore(Backend::Embedded);
    for bin in &bins {
        let v = bin
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("kubectl")
            .replace('.', "-");
        let run =
            |args: &[&str], input: Option<&str>| kubectl_binary(bin, &s.kubeconfig(), args, input);
        // `plaintext-openapiv2` explains from the protobuf /openapi/v2: kube-openapi parses it and
        // finds the Network definition by its x-kubernetes-group-version-kind.
        let out = ok(run(
            &["explain", "networks.spec", "--output=plaintext-openapiv2"],
            None,
        ));
        assert!(
            out.contains("KIND:     Network") && out.contains("peerings"),
            "{v}: {out}"
        );
        // No --validate=false: these versions download the protobuf /openapi/v2.
        ok(run(
            &["create", "-f", "-"],
            Some(&network(&format!("{v}-c"), "peer")),
        ));
        ok(run(&["apply", "-f", "-"], Some(&network(&v, "peer"))));
        let out = ok(run(&["apply", "-f", "-"], Some(&network(&v, "other"))));
        assert!(out.contains("configured"), "{v}: {out}");
        let got = ok(run(
            &[
                "get",
                "network",
                &v,
                "-o",
                "jsonpath={.spec.peerings[0].networkRef.name}",
            ],
            None,
        ));
        assert_eq!(got, "other", "{v}");

        let mut bad: Value = serde_json::from_str(&network(&format!("{v}-bad"), "p")).unwrap();
        bad["spec"]["bogus"] = json!(1);
        let err = fails(run(
            &["apply", "--validate=strict", "-f", "-"],
            Some(&bad.to_string()),
        ));
        assert!(
            err.contains("unknown field") && err.contains("bogus"),
            "{v}: {err}"
        );
        let err = fails(run(&["create", "-f", "-"], Some(&bad.to_string())));
        assert!(err.contains("unknown field"), "{v}: {err}");
        let missing = run(&["get", "network", &format!("{v}-bad")], None);
        assert!(!missing.status.success(), "{v}: the bad Network was stored");
    }
}

/// `GET uri` with extra request headers; the status and response headers.
async fn get_with(
    client: &kube::Client,
    uri: &str,
    headers: &[(&str, &str)],
) -> (http::StatusCode, http::HeaderMap) {
    let mut req = http::Request::builder().method("GET").uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(kube::client::Body::from(Vec::new()))
        .expect("request");
    let res = client.send(req).await.expect("send request");
    (res.status(), res.headers().clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn documents_carry_etags_and_cache_headers() {
    let s = ServerProcess::ironcore(Backend::Embedded);
    let client = s.client().await;

    let root = raw(&client, "GET", "/openapi/v3", None, Vec::new()).await;
    assert_eq!(root.status, 200, "{}", root.body);
    let url = root.json()["paths"]["apis/networking.ironcore.dev/v1alpha1"]["serverRelativeURL"]
        .as_str()
        .expect("serverRelativeURL")
        .to_owned();
    let (_, hash) = url.split_once("?hash=").expect("hash in URL");

    let doc = raw(&client, "GET", &url, None, Vec::new()).await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.headers["etag"], format!("\"{hash}\"").as_str());
    assert_eq!(
        doc.headers["cache-control"],
        "public, immutable, max-age=31536000"
    );
    let v3 = doc.json();
    assert_eq!(v3["openapi"], "3.0.0");
    let patch = &v3["paths"]["/apis/networking.ironcore.dev/v1alpha1/namespaces/{namespace}/networks/{name}"]
        ["patch"];
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Network");
    assert!(
        patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation")
    );
    let content = patch["requestBody"]["content"].as_object().unwrap();
    assert!(content.contains_key("application/merge-patch+json"));

    let etag = doc.headers["etag"].to_str().unwrap().to_owned();
    let (status, headers) = get_with(&client, &url, &[("if-none-match", etag.as_str())]).await;
    assert_eq!(status, 304);
    assert_eq!(headers["etag"], etag.as_str());
    let stale = "/openapi/v3/apis/networking.ironcore.dev/v1alpha1?hash=0";
    let (status, headers) = get_with(&client, stale, &[]).await;
    assert_eq!(status, 301);
    assert_eq!(headers["location"], url.as_str());

    let unhashed = raw(
        &client,
        "GET",
        "/openapi/v3/apis/networking.ironcore.dev/v1alpha1",
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(unhashed.status, 200);
    assert_eq!(unhashed.headers["cache-control"], "no-cache, private");

    // kubectl ≤ 1.28 asks for protobuf only: it gets gnostic's openapi.v2.Document, with its own
    // ETag; other non-JSON types are 406.
    let pb = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
    let (status, headers) = get_with(&client, "/openapi/v2", &[("accept", pb)]).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    );
    let pb_etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _) = get_with(
        &client,
        "/openapi/v2",
        &[("accept", pb), ("if-none-match", pb_etag.as_str())],
    )
    .await;
    assert_eq!(status, 304);
    let (status, _) = get_with(&client, "/openapi/v2", &[("accept", "application/yaml")]).await;
    assert_eq!(status, 406);
    let v2 = raw(&client, "GET", "/openapi/v2", None, Vec::new()).await;
    assert_eq!(v2.status, 200);
    let v2 = v2.json();
    assert_eq!(v2["swagger"], "2.0");
    assert_eq!(
        v2["definitions"]["dev.ironcore.networking.v1alpha1.Network"]["x-kubernetes-group-version-kind"]
            [0]["kind"],
        "Network"
    );
}
