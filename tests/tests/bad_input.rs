//! Bad input writes nothing and gets the answer kube-apiserver gives: invalid objects 422 with
//! the exact causes, stale writes 409, unknown resources 404, malformed bodies 400, oversized
//! bodies 413, unknown fields 400 (Strict) or a `Warning` (Warn). Each case is followed by a
//! check that storage did not change. On the embedded store and on etcd.

use ironcore_api::networking::{NATGateway, Network};
use ironcore_e2e::{NETWORKING, RawResponse, collection, get_json, on_each_backend_async, raw};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::{Value, json};

const GROUP: &str = "networking.ironcore.dev";

/// The storage revision as the server reports it on a list of every network: it moves on any
/// write, so an unchanged value means nothing at all was written.
async fn revision(c: &kube::Client) -> String {
    let list = get_json(c, &format!("{NETWORKING}/networks")).await;
    list["metadata"]["resourceVersion"]
        .as_str()
        .expect("list resourceVersion")
        .to_owned()
}

/// Asserts the response is a `Status` with this code and reason; returns it.
fn status(res: &RawResponse, code: u16, reason: &str) -> Value {
    assert_eq!(res.status.as_u16(), code, "{}", res.body);
    let s = res.json();
    assert_eq!(s["kind"], "Status", "{s}");
    assert_eq!(s["apiVersion"], "v1", "{s}");
    assert_eq!(s["status"], "Failure", "{s}");
    assert_eq!(s["code"], code, "{s}");
    assert_eq!(s["reason"], reason, "{s}");
    s
}

/// `(reason, field)` pairs of a Status' causes.
type Causes = Vec<(String, String)>;

/// The `(reason, field)` pairs of a Status' causes.
fn causes(s: &Value) -> Causes {
    s["details"]["causes"]
        .as_array()
        .unwrap_or_else(|| panic!("no causes in {s}"))
        .iter()
        .map(|c| {
            (
                c["reason"].as_str().unwrap_or_default().to_owned(),
                c["field"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Causes {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

async fn post(c: &kube::Client, plural: &str, body: &Value) -> RawResponse {
    raw(
        c,
        "POST",
        &collection("default", plural),
        Some("application/json"),
        body.to_string().into_bytes(),
    )
    .await
}

fn network_json(name: &str) -> Value {
    json!({
        "apiVersion": "networking.ironcore.dev/v1alpha1",
        "kind": "Network",
        "metadata": {"name": name},
        "spec": {}
    })
}

fn api_status(e: kube::Error) -> Box<kube::core::Status> {
    match e {
        kube::Error::Api(s) => s,
        other => panic!("not an API error: {other:?}"),
    }
}

#[test]
fn invalid_objects_are_422_with_the_exact_causes_and_write_nothing() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let before = revision(&c).await;
        // (resource, kind, body, expected (reason, field) causes)
        let cases: Vec<(&str, &str, Value, Causes)> = vec![
            (
                "natgateways",
                "NATGateway",
                json!({"apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "NATGateway",
                       "metadata": {"name": "ngw"},
                       "spec": {"type": "Public", "ipFamily": "IPv4", "portsPerNetworkInterface": 100,
                                "networkRef": {"name": "net"}}}),
                pairs(&[("FieldValueInvalid", "spec.portsPerNetworkInterface")]),
            ),
            (
                "networkinterfaces",
                "NetworkInterface",
                json!({"apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "NetworkInterface",
                       "metadata": {"name": "nic"},
                       "spec": {"ipFamilies": ["IPv4"], "ips": [{"value": "10.0.0.1"}]}}),
                pairs(&[("FieldValueRequired", "spec.networkRef")]),
            ),
            (
                "loadbalancers",
                "LoadBalancer",
                json!({"apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "LoadBalancer",
                       "metadata": {"name": "lb"},
                       "spec": {"type": "Public", "ipFamilies": ["IPv4"], "ips": [{"value": "10.0.0.1"}],
                                "networkRef": {"name": "net"}, "ports": [{"port": 80}]}}),
                pairs(&[("FieldValueForbidden", "spec.ips")]),
            ),
            (
                "virtualips",
                "VirtualIP",
                json!({"apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "VirtualIP",
                       "metadata": {"name": "vip"},
                       "spec": {"type": "Private", "ipFamily": "IPv4"}}),
                pairs(&[("FieldValueNotSupported", "spec.type")]),
            ),
            (
                "networks",
                "Network",
                json!({"apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "Network",
                       "metadata": {"name": "Not_A_Name"}, "spec": {}}),
                pairs(&[("FieldValueInvalid", "metadata.name")]),
            ),
            (
                "networks",
                "Network",
                json!({"apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "Network",
                       "metadata": {}, "spec": {}}),
                pairs(&[("FieldValueRequired", "metadata.name")]),
            ),
        ];
        for (plural, kind, body, expected) in cases {
            let res = post(&c, plural, &body).await;
            let st = status(&res, 422, "Invalid");
            let name = body["metadata"]["name"].as_str().unwrap_or("");
            assert_eq!(causes(&st), expected, "{kind}: {st}");
            assert_eq!(st["details"]["kind"], kind, "{st}");
            assert_eq!(st["details"]["group"], GROUP, "{st}");
            assert_eq!(st["details"]["name"], name, "{st}");
            let msg = st["message"].as_str().unwrap_or_default();
            assert!(
                msg.starts_with(&format!(
                    "{kind}.{GROUP} \"{name}\" is invalid: {}: ",
                    expected[0].1
                )),
                "{msg}"
            );
        }
        // The exact cause text kube-apiserver writes for an invalid value.
        let res = post(
            &c,
            "natgateways",
            &json!({"apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "NATGateway", "metadata": {"name": "ngw"},
            "spec": {"type": "Public", "ipFamily": "IPv4", "portsPerNetworkInterface": 100,
                     "networkRef": {"name": "net"}}}),
        )
        .await;
        let st = status(&res, 422, "Invalid");
        assert_eq!(
            st["details"]["causes"][0]["message"],
            "Invalid value: 100: 100 is not a power of 2"
        );
        assert_eq!(
            st["message"],
            "NATGateway.networking.ironcore.dev \"ngw\" is invalid: spec.portsPerNetworkInterface: Invalid value: 100: 100 is not a power of 2"
        );
        assert_eq!(
            revision(&c).await,
            before,
            "a rejected create wrote something"
        );
    });
}

#[test]
fn invalid_object_from_kube_rs_is_an_api_error_with_its_causes() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let before = revision(&c).await;
        let api: Api<NATGateway> = Api::namespaced(c.clone(), "default");
        let ngw: NATGateway = serde_json::from_value(json!({
            "apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "NATGateway",
            "metadata": {"name": "ngw"},
            "spec": {"type": "Public", "ipFamily": "IPv4", "portsPerNetworkInterface": 65536,
                     "networkRef": {"name": "net"}}
        }))
        .expect("typed NATGateway");
        let st = api_status(
            api.create(&PostParams::default(), &ngw)
                .await
                .expect_err("invalid"),
        );
        assert_eq!((st.code, st.reason.as_str()), (422, "Invalid"));
        let details = st.details.expect("details");
        assert_eq!(
            (
                details.kind.as_str(),
                details.group.as_str(),
                details.name.as_str()
            ),
            ("NATGateway", GROUP, "ngw")
        );
        let got: Vec<(&str, &str)> = details
            .causes
            .iter()
            .map(|c| (c.reason.as_str(), c.field.as_str()))
            .collect();
        assert_eq!(
            got,
            [("FieldValueInvalid", "spec.portsPerNetworkInterface")]
        );
        assert!(api.get_opt("ngw").await.expect("get").is_none());
        assert_eq!(revision(&c).await, before);
    });
}

#[test]
fn invalid_update_is_422_and_keeps_the_stored_object() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let api: Api<NATGateway> = Api::namespaced(c.clone(), "default");
        let res = post(
            &c,
            "natgateways",
            &json!({"apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "NATGateway", "metadata": {"name": "ngw"},
            "spec": {"type": "Public", "ipFamily": "IPv4", "networkRef": {"name": "net"}}}),
        )
        .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let stored = api.get("ngw").await.expect("get");
        let before = revision(&c).await;
        let st = api_status(
            api.patch(
                "ngw",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"networkRef": {"name": "other"}}})),
            )
            .await
            .expect_err("networkRef is immutable"),
        );
        assert_eq!((st.code, st.reason.as_str()), (422, "Invalid"));
        let causes = st.details.expect("details").causes;
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert_eq!(
            (causes[0].reason.as_str(), causes[0].field.as_str()),
            ("FieldValueForbidden", "spec.networkRef")
        );
        let after = api.get("ngw").await.expect("get");
        assert_eq!(
            serde_json::to_value(&after).ok(),
            serde_json::to_value(&stored).ok()
        );
        assert_eq!(revision(&c).await, before);
    });
}

#[test]
fn stale_updates_are_409_conflict_and_keep_the_newer_object() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let api: Api<Network> = Api::namespaced(c.clone(), "default");
        let old: Network = serde_json::from_value(network_json("n1")).expect("network");
        let old = api
            .create(&PostParams::default(), &old)
            .await
            .expect("create");
        let newer = api
            .patch(
                "n1",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"v": "2"}}})),
            )
            .await
            .expect("patch");
        let before = revision(&c).await;

        // PUT with the old resourceVersion.
        let mut stale = old.clone();
        stale.spec.provider_id = "ironcore-net://a/b/1/u".to_owned();
        let st = api_status(
            api.replace("n1", &PostParams::default(), &stale)
                .await
                .expect_err("stale replace"),
        );
        assert_eq!((st.code, st.reason.as_str()), (409, "Conflict"));
        assert_eq!(
            st.message,
            "Operation cannot be fulfilled on networks.networking.ironcore.dev \"n1\": the object has been modified; please apply your changes to the latest version and try again"
        );
        let details = st.details.expect("details");
        assert_eq!(
            (
                details.name.as_str(),
                details.group.as_str(),
                details.kind.as_str()
            ),
            ("n1", GROUP, "networks")
        );

        // A merge patch carrying the old resourceVersion as a precondition.
        let rv = old.metadata.resource_version.clone().expect("rv");
        let st = api_status(
            api.patch(
                "n1",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"resourceVersion": rv}, "spec": {"providerID": "x"}}),
                ),
            )
            .await
            .expect_err("stale patch"),
        );
        assert_eq!((st.code, st.reason.as_str()), (409, "Conflict"));

        // A delete with stale preconditions.
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: old.metadata.resource_version.clone(),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        let st = api_status(api.delete("n1", &dp).await.expect_err("stale delete"));
        assert_eq!((st.code, st.reason.as_str()), (409, "Conflict"));
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: None,
                uid: Some("not-the-uid".to_owned()),
            }),
            ..DeleteParams::default()
        };
        let st = api_status(api.delete("n1", &dp).await.expect_err("wrong uid"));
        assert_eq!((st.code, st.reason.as_str()), (409, "Conflict"));

        let now = api.get("n1").await.expect("still there");
        assert_eq!(
            now.metadata.resource_version,
            newer.metadata.resource_version
        );
        assert_eq!(now.spec.provider_id, "");
        assert_eq!(revision(&c).await, before);
    });
}

#[test]
fn create_of_an_existing_name_is_409_already_exists_and_keeps_the_first() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let res = post(&c, "networks", &network_json("n1")).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let first = res.json();
        let before = revision(&c).await;
        let mut second = network_json("n1");
        second["spec"]["providerID"] = json!("ironcore-net://a/b/1/u");
        let st = status(&post(&c, "networks", &second).await, 409, "AlreadyExists");
        assert_eq!(
            st["message"],
            "networks.networking.ironcore.dev \"n1\" already exists"
        );
        assert_eq!(st["details"]["name"], "n1");
        assert_eq!(st["details"]["group"], GROUP);
        assert_eq!(st["details"]["kind"], "networks");
        let now = get_json(&c, &format!("{}/n1", collection("default", "networks"))).await;
        assert_eq!(now["metadata"]["uid"], first["metadata"]["uid"]);
        assert!(now["spec"].get("providerID").is_none());
        assert_eq!(revision(&c).await, before);
    });
}

#[test]
fn unknown_resources_are_404_and_write_nothing() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let before = revision(&c).await;
        let body = network_json("n1").to_string().into_bytes();
        for (method, uri) in [
            ("GET", collection("default", "widgets")),
            ("POST", collection("default", "widgets")),
            ("GET", format!("{}/n1", collection("default", "widgets"))),
            (
                "GET",
                "/apis/networking.ironcore.dev/v1beta1/namespaces/default/networks".to_owned(),
            ),
            (
                "POST",
                "/apis/networking.ironcore.dev/v1beta1/namespaces/default/networks".to_owned(),
            ),
            (
                "GET",
                "/apis/nothing.example.com/v1/namespaces/default/networks".to_owned(),
            ),
            ("GET", "/apis/networking.ironcore.dev/v1beta1".to_owned()),
        ] {
            let res = raw(&c, method, &uri, Some("application/json"), body.clone()).await;
            assert_eq!(res.status, 404, "{method} {uri}: {}", res.body);
            let st = res.json();
            assert_eq!(
                (st["kind"].as_str(), st["code"].as_u64()),
                (Some("Status"), Some(404)),
                "{method} {uri}: {st}"
            );
            assert_eq!(st["reason"], "NotFound", "{method} {uri}: {st}");
        }
        // A missing object of a known resource: NotFound with the resource in the details.
        let res = raw(
            &c,
            "GET",
            &format!("{}/missing", collection("default", "networks")),
            None,
            Vec::new(),
        )
        .await;
        let st = status(&res, 404, "NotFound");
        assert_eq!(
            st["message"],
            "networks.networking.ironcore.dev \"missing\" not found"
        );
        assert_eq!(
            st["details"],
            json!({"name": "missing", "group": GROUP, "kind": "networks"})
        );
        // Writes to a missing object of a known resource.
        let res = raw(
            &c,
            "PATCH",
            &format!("{}/missing", collection("default", "networks")),
            Some("application/merge-patch+json"),
            b"{\"metadata\":{\"labels\":{\"a\":\"b\"}}}".to_vec(),
        )
        .await;
        status(&res, 404, "NotFound");
        assert_eq!(revision(&c).await, before);
    });
}

#[test]
fn malformed_bodies_are_400_and_write_nothing() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let res = post(&c, "networks", &network_json("n1")).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let before = revision(&c).await;
        let networks = collection("default", "networks");
        let bodies: Vec<(&str, Vec<u8>)> = vec![
            (
                "truncated JSON",
                b"{\"apiVersion\": \"networking.ironcore.dev/v1alpha1\", \"kind\": ".to_vec(),
            ),
            ("not JSON", b"this is not json".to_vec()),
            ("a JSON array", b"[1, 2, 3]".to_vec()),
            (
                "spec of the wrong type",
                json!({"apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "Network",
                       "metadata": {"name": "n2"}, "spec": "peer with everyone"})
                .to_string()
                .into_bytes(),
            ),
            (
                "apiVersion of another group",
                json!({"apiVersion": "core.apinet.ironcore.dev/v1alpha1", "kind": "Network",
                       "metadata": {"name": "n2"}, "spec": {}})
                .to_string()
                .into_bytes(),
            ),
            (
                "namespace other than the URL's",
                json!({"apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "Network",
                       "metadata": {"name": "n2", "namespace": "other"}, "spec": {}})
                .to_string()
                .into_bytes(),
            ),
        ];
        for (what, body) in bodies {
            let res = raw(&c, "POST", &networks, Some("application/json"), body).await;
            assert_eq!(res.status, 400, "POST with {what}: {}", res.body);
            assert_eq!(
                res.json()["reason"],
                "BadRequest",
                "POST with {what}: {}",
                res.body
            );
        }
        let n1 = format!("{networks}/n1");
        for (ct, body) in [
            ("application/merge-patch+json", b"{\"spec\": ".to_vec()),
            ("application/json-patch+json", b"{\"op\": \"add\"}".to_vec()),
            (
                "application/json-patch+json",
                b"[{\"op\": \"add\", \"path\": ".to_vec(),
            ),
        ] {
            let res = raw(&c, "PATCH", &n1, Some(ct), body).await;
            assert_eq!(res.status, 400, "PATCH {ct}: {}", res.body);
            assert_eq!(
                res.json()["reason"],
                "BadRequest",
                "PATCH {ct}: {}",
                res.body
            );
        }
        let res = raw(
            &c,
            "PUT",
            &n1,
            Some("application/json"),
            b"{\"metadata\": [".to_vec(),
        )
        .await;
        assert_eq!(res.status, 400, "PUT: {}", res.body);
        assert_eq!(revision(&c).await, before);
        let list = get_json(&c, &networks).await;
        assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    });
}

#[test]
fn oversized_bodies_are_413_and_write_nothing() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let res = post(&c, "networks", &network_json("n1")).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let before = revision(&c).await;
        let big = "x".repeat(3 * 1024 * 1024 + 512 * 1024);
        let mut body = network_json("n2");
        body["metadata"]["annotations"] = json!({"example.com/big": big});
        let res = post(&c, "networks", &body).await;
        let st = status(&res, 413, "RequestEntityTooLarge");
        assert!(
            st["message"]
                .as_str()
                .is_some_and(|m| m.contains("Request entity too large")),
            "{st}"
        );
        let patch = json!({"metadata": {"annotations": {"example.com/big": big}}});
        let res = raw(
            &c,
            "PATCH",
            &format!("{}/n1", collection("default", "networks")),
            Some("application/merge-patch+json"),
            patch.to_string().into_bytes(),
        )
        .await;
        status(&res, 413, "RequestEntityTooLarge");
        assert_eq!(revision(&c).await, before);
        let list = get_json(&c, &collection("default", "networks")).await;
        assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    });
}

#[test]
fn unknown_fields_with_strict_field_validation_are_400_and_write_nothing() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let networks = collection("default", "networks");
        let res = post(&c, "networks", &network_json("n1")).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let before = revision(&c).await;
        let mut body = network_json("n2");
        body["spec"]["foo"] = json!("bar");
        body["metadata"]["bar"] = json!(1);
        let res = raw(
            &c,
            "POST",
            &format!("{networks}?fieldValidation=Strict"),
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await;
        let st = status(&res, 400, "BadRequest");
        let msg = st["message"].as_str().unwrap_or_default();
        assert!(msg.starts_with("strict decoding error: "), "{msg}");
        assert!(msg.contains("unknown field \"spec.foo\""), "{msg}");
        assert!(msg.contains("unknown field \"metadata.bar\""), "{msg}");
        // Duplicate fields are strict errors too.
        let dup = br#"{"apiVersion":"networking.ironcore.dev/v1alpha1","kind":"Network","metadata":{"name":"n3"},"spec":{"providerID":"a","providerID":"b"}}"#;
        let res = raw(
            &c,
            "POST",
            &format!("{networks}?fieldValidation=Strict"),
            Some("application/json"),
            dup.to_vec(),
        )
        .await;
        let st = status(&res, 400, "BadRequest");
        assert!(
            st["message"]
                .as_str()
                .is_some_and(|m| m.contains("duplicate field \"spec.providerID\"")),
            "{st}"
        );
        let res = raw(
            &c,
            "PATCH",
            &format!("{networks}/n1?fieldValidation=Strict"),
            Some("application/merge-patch+json"),
            br#"{"spec":{"foo":"bar"}}"#.to_vec(),
        )
        .await;
        let st = status(&res, 400, "BadRequest");
        assert!(
            st["message"]
                .as_str()
                .is_some_and(|m| m.contains("unknown field \"spec.foo\"")),
            "{st}"
        );
        assert_eq!(revision(&c).await, before);
    });
}

#[test]
fn unknown_fields_with_warn_field_validation_are_dropped_with_a_warning_header() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let networks = collection("default", "networks");
        for (query, name) in [("?fieldValidation=Warn", "n1"), ("", "n2")] {
            let mut body = network_json(name);
            body["spec"]["foo"] = json!("bar");
            let res = raw(
                &c,
                "POST",
                &format!("{networks}{query}"),
                Some("application/json"),
                body.to_string().into_bytes(),
            )
            .await;
            assert_eq!(res.status, 201, "{query}: {}", res.body);
            assert_eq!(
                res.warnings(),
                [r#"299 - "unknown field \"spec.foo\"""#],
                "{query}"
            );
            assert!(res.json()["spec"].get("foo").is_none(), "{}", res.body);
            let stored = get_json(&c, &format!("{networks}/{name}")).await;
            assert!(stored["spec"].get("foo").is_none(), "{stored}");
        }
        let mut body = network_json("n3");
        body["spec"]["foo"] = json!("bar");
        let res = raw(
            &c,
            "POST",
            &format!("{networks}?fieldValidation=Ignore"),
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(res.status, 201, "{}", res.body);
        assert!(res.warnings().is_empty(), "{:?}", res.warnings());
    });
}
