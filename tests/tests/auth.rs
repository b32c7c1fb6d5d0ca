//! Authentication and authorization end to end: a generated front-proxy CA and client
//! certificates, a token file, and a stand-in for kube-apiserver's TokenReview,
//! SubjectAccessReview, authentication ConfigMap and namespaces (the external system a
//! delegating server talks to) proving delegation, caching, denial and namespace lifecycle.

mod auth_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use auth_support::{Ca, ClientCert, Identity, StubCluster, client, get_code, kubeconfig, send};
use http::Method;
use ironcore_e2e::{Backend, KUBECTL_WRITE_FLAGS, ServerProcess, kubectl_binary};
use serde_json::json;

const GV: &str = "/apis/networking.ironcore.dev/v1alpha1";
const NETWORKS: &str = "/apis/networking.ironcore.dev/v1alpha1/namespaces/default/networks";

/// Front-proxy identity headers as kube-apiserver's aggregator sends them.
const PROXIED: &[(&str, &str)] = &[
    ("X-Remote-User", "proxied"),
    ("X-Remote-Group", "g1"),
    ("X-Remote-Group", "g2"),
    ("X-Remote-Extra-Scopes", "s1"),
];

/// The aggregator's availability probe identity.
const AGGREGATOR: &[(&str, &str)] = &[
    ("X-Remote-User", "system:kube-aggregator"),
    ("X-Remote-Group", "system:masters"),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A throwaway PKI: a front-proxy CA, a client CA, and certificates from both and from
/// strangers.
struct Pki {
    _dir: tempfile::TempDir,
    proxy_ca: Ca,
    client_ca: Ca,
    /// The front proxy (CN front-proxy-client, signed by the front-proxy CA).
    proxy: ClientCert,
    /// Signed by the front-proxy CA, but a CN not in the allowed names.
    wrong_cn: ClientCert,
    /// CN front-proxy-client, signed by a CA nobody trusts.
    forged_proxy: ClientCert,
    /// alice in groups devs and ops, signed by the client CA.
    alice: ClientCert,
    /// Signed by a CA nobody trusts.
    stranger: ClientCert,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let proxy_ca = Ca::new(dir.path(), "front-proxy-ca");
        let client_ca = Ca::new(dir.path(), "client-ca");
        let rogue = Ca::new(dir.path(), "rogue-ca");
        Pki {
            proxy: proxy_ca.client("proxy", "front-proxy-client", &[]),
            wrong_cn: proxy_ca.client("wrong-cn", "not-the-proxy", &[]),
            forged_proxy: rogue.client("forged", "front-proxy-client", &[]),
            alice: client_ca.client("alice", "alice", &["devs", "ops"]),
            stranger: rogue.client("stranger", "stranger", &["system:masters"]),
            proxy_ca,
            client_ca,
            _dir: dir,
        }
    }

    fn path(p: &Path) -> String {
        p.display().to_string()
    }
}

fn start(args: &[String]) -> ServerProcess {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ServerProcess::start("ironcore-apiserver", Backend::Embedded, &args)
}

#[test]
fn front_proxy_headers_are_trusted_only_from_an_allowed_front_proxy_certificate() {
    let pki = Pki::new();
    let server = start(&[
        format!(
            "--requestheader-client-ca-file={}",
            Pki::path(&pki.proxy_ca.cert_file)
        ),
        "--requestheader-allowed-names=front-proxy-client".into(),
        format!("--client-ca-file={}", Pki::path(&pki.client_ca.cert_file)),
    ]);
    runtime().block_on(async {
        let nobody = client(&server, "nobody", &Identity::Nobody).await;
        let forged = client(&server, "forged", &Identity::Cert(pki.forged_proxy.clone())).await;
        let wrong_cn = client(&server, "wrong-cn", &Identity::Cert(pki.wrong_cn.clone())).await;
        let proxy = client(&server, "proxy", &Identity::Cert(pki.proxy.clone())).await;

        // Headers without a front-proxy certificate, with a forged one, or from a certificate
        // whose CN is not allowed: ignored, and nothing else authenticates the request.
        assert_eq!(get_code(&nobody, NETWORKS, PROXIED).await, 401);
        assert_eq!(get_code(&forged, NETWORKS, PROXIED).await, 401);
        assert_eq!(get_code(&wrong_cn, NETWORKS, PROXIED).await, 401);
        // The allowed proxy's headers are trusted.
        assert_eq!(get_code(&proxy, NETWORKS, PROXIED).await, 200);
        // The proxy's certificate alone names nobody (it is not a client-CA certificate).
        assert_eq!(get_code(&proxy, NETWORKS, &[]).await, 401);

        let (code, status) = send(&nobody, Method::GET, NETWORKS, PROXIED, None).await;
        assert_eq!(code, 401);
        assert_eq!(status["reason"], "Unauthorized");
        assert_eq!(status["message"], "Unauthorized");
        assert_eq!(status["kind"], "Status");

        // kube-apiserver's availability probe: 5 parallel GETs of the group-version as
        // system:kube-aggregator in system:masters.
        let probes = (0..5).map(|_| get_code(&proxy, GV, AGGREGATOR));
        let codes = futures::future::join_all(probes).await;
        assert_eq!(codes, [200; 5]);
    });
}

#[test]
fn client_certificates_and_token_file_tokens_authenticate() {
    let pki = Pki::new();
    let tokens = pki._dir.path().join("tokens.csv");
    std::fs::write(&tokens, "good-token,tina,uid-7,\"devs,ops\"\n").unwrap();
    let server = start(&[
        format!("--client-ca-file={}", Pki::path(&pki.client_ca.cert_file)),
        format!("--token-auth-file={}", Pki::path(&tokens)),
    ]);
    runtime().block_on(async {
        let nobody = client(&server, "nobody", &Identity::Nobody).await;
        let alice = client(&server, "alice", &Identity::Cert(pki.alice.clone())).await;
        let stranger = client(&server, "stranger", &Identity::Cert(pki.stranger.clone())).await;
        let token = client(&server, "token", &Identity::Token("good-token".into())).await;
        let bad_token = client(&server, "bad", &Identity::Token("bad-token".into())).await;

        assert_eq!(get_code(&alice, NETWORKS, &[]).await, 200);
        assert_eq!(get_code(&token, NETWORKS, &[]).await, 200);
        assert_eq!(get_code(&stranger, NETWORKS, &[]).await, 401);
        assert_eq!(get_code(&bad_token, NETWORKS, &[]).await, 401);
        assert_eq!(get_code(&nobody, NETWORKS, &[]).await, 401);
        // Without front-proxy settings, identity headers mean nothing.
        assert_eq!(get_code(&nobody, NETWORKS, PROXIED).await, 401);
        // Health is served without credentials; the rest is not.
        for p in ["/healthz", "/readyz", "/livez"] {
            assert_eq!(get_code(&nobody, p, &[]).await, 200, "{p}");
        }
        for p in ["/version", "/apis", GV, "/openapi/v2", "/metrics"] {
            assert_eq!(get_code(&nobody, p, &[]).await, 401, "{p}");
        }
        let net = json!({"apiVersion": "networking.ironcore.dev/v1alpha1", "kind": "Network",
                         "metadata": {"name": "by-alice"}, "spec": {}});
        let (code, _) = send(&alice, Method::POST, NETWORKS, &[], Some(&net)).await;
        assert_eq!(code, 201);
    });

    // kubectl with a client-certificate kubeconfig.
    let kc = kubeconfig(&server, "kubectl-alice", &Identity::Cert(pki.alice.clone()));
    let kubectl = |kc: &Path, args: &[&str], input: Option<&str>| {
        kubectl_binary(Path::new("kubectl"), kc, args, input)
    };
    let manifest = "apiVersion: networking.ironcore.dev/v1alpha1\nkind: Network\nmetadata:\n  name: via-kubectl\nspec: {}\n";
    let mut create = vec!["create", "-f", "-"];
    create.extend_from_slice(KUBECTL_WRITE_FLAGS);
    let out = kubectl(&kc, &create, Some(manifest));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kubectl(&kc, &["get", "networks", "-o", "name"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = String::from_utf8_lossy(&out.stdout);
    assert!(
        names.contains("network.networking.ironcore.dev/via-kubectl"),
        "{names}"
    );
    assert!(names.contains("by-alice"), "{names}");
    // (Without any credentials kubectl would prompt for a password: use a wrong token.)
    let wrong = kubeconfig(&server, "kubectl-wrong", &Identity::Token("wrong".into()));
    let out = kubectl(&wrong, &["get", "networks"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Unauthorized"), "{err}");
}

#[test]
fn anonymous_requests_are_served_only_when_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "good-token,tina,1\n").unwrap();
    let enabled = start(&[
        format!("--token-auth-file={}", tokens.display()),
        "--anonymous-auth=true".into(),
    ]);
    // Without any authentication configured (local use) requests run anonymously.
    let unconfigured = start(&[]);
    runtime().block_on(async {
        let nobody = client(&enabled, "nobody", &Identity::Nobody).await;
        assert_eq!(get_code(&nobody, NETWORKS, &[]).await, 200);
        // Credentials that fail are 401 even then.
        let bad = client(&enabled, "bad", &Identity::Token("bad-token".into())).await;
        assert_eq!(get_code(&bad, NETWORKS, &[]).await, 401);
        let local = client(&unconfigured, "nobody", &Identity::Nobody).await;
        assert_eq!(get_code(&local, NETWORKS, &[]).await, 200);
    });
}

/// Waits until `f` returns true, up to `limit`.
async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[test]
fn delegated_authentication_authorization_and_namespace_lifecycle() {
    let pki = Pki::new();
    let rt = runtime();
    let stub = rt.block_on(StubCluster::start(pki._dir.path()));
    let cm = |proxy_ca: &Ca| -> BTreeMap<String, String> {
        [
            ("client-ca-file", pki.client_ca.pem()),
            ("requestheader-client-ca-file", proxy_ca.pem()),
            (
                "requestheader-allowed-names",
                r#"["front-proxy-client"]"#.to_owned(),
            ),
            (
                "requestheader-username-headers",
                r#"["X-Remote-User"]"#.to_owned(),
            ),
            (
                "requestheader-group-headers",
                r#"["X-Remote-Group"]"#.to_owned(),
            ),
            (
                "requestheader-extra-headers-prefix",
                r#"["X-Remote-Extra-"]"#.to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    };
    stub.set_configmap(cm(&pki.proxy_ca));
    stub.add_token("reviewed-token", "reviewed", &["devs"]);
    stub.add_token("mallory-token", "mallory", &[]);
    stub.allow_user("reviewed");
    stub.allow_user("proxied");
    stub.allow_user("alice");
    stub.add_namespace("default", "Active");
    stub.add_namespace("dying", "Terminating");
    let kc = stub.kubeconfig.display().to_string();
    let server = start(&[
        format!("--authentication-kubeconfig={kc}"),
        format!("--authorization-kubeconfig={kc}"),
        "--authorization-mode=Delegated".into(),
        "--authentication-token-webhook-cache-ttl=2s".into(),
    ]);
    rt.block_on(async {
        let nobody = client(&server, "nobody", &Identity::Nobody).await;
        let reviewed = client(&server, "reviewed", &Identity::Token("reviewed-token".into())).await;
        let mallory = client(&server, "mallory", &Identity::Token("mallory-token".into())).await;
        let unknown = client(&server, "unknown", &Identity::Token("unknown-token".into())).await;
        let alice = client(&server, "alice", &Identity::Cert(pki.alice.clone())).await;
        let proxy = client(&server, "proxy", &Identity::Cert(pki.proxy.clone())).await;
        let wrong_cn = client(&server, "wrong-cn", &Identity::Cert(pki.wrong_cn.clone())).await;

        // TokenReview delegation, cached: the second request within the TTL does not reach
        // the cluster, one after the TTL does.
        let (tr0, sar0) = (stub.token_reviews(), stub.access_reviews());
        assert_eq!(get_code(&reviewed, NETWORKS, &[]).await, 200);
        assert_eq!((stub.token_reviews(), stub.access_reviews()), (tr0 + 1, sar0 + 1));
        assert_eq!(get_code(&reviewed, NETWORKS, &[]).await, 200);
        assert_eq!((stub.token_reviews(), stub.access_reviews()), (tr0 + 1, sar0 + 1));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(get_code(&reviewed, NETWORKS, &[]).await, 200);
        assert_eq!(stub.token_reviews(), tr0 + 2, "the token answer expired after 2s");
        assert_eq!(stub.access_reviews(), sar0 + 1, "the access answer is cached for 10s");
        let review = stub.access_review_log()[sar0].clone();
        assert_eq!(
            review,
            json!({"user": "reviewed", "uid": "uid-reviewed", "groups": ["devs", "system:authenticated"],
                   "resourceAttributes": {"namespace": "default", "verb": "list",
                       "group": "networking.ironcore.dev", "version": "v1alpha1", "resource": "networks"}})
        );
        // A token the cluster does not know, and no credentials: 401.
        assert_eq!(get_code(&unknown, NETWORKS, &[]).await, 401);
        assert_eq!(get_code(&nobody, NETWORKS, &[]).await, 401);

        // Denial: 403 with kube-apiserver's message and the reviewer's reason; cached too.
        let (code, status) = send(&mallory, Method::GET, NETWORKS, &[], None).await;
        assert_eq!(code, 403);
        assert_eq!(status["reason"], "Forbidden");
        assert_eq!(
            status["message"],
            r#"networks.networking.ironcore.dev is forbidden: User "mallory" cannot list resource "networks" in API group "networking.ironcore.dev" in the namespace "default": stub denies mallory"#
        );
        assert_eq!(status["details"], json!({"group": "networking.ironcore.dev", "kind": "networks"}));
        let sars = stub.access_reviews();
        assert_eq!(get_code(&mallory, NETWORKS, &[]).await, 403);
        assert_eq!(stub.access_reviews(), sars, "the denial is cached");

        // The client CA and front-proxy settings come from the cluster's ConfigMap.
        assert_eq!(get_code(&alice, NETWORKS, &[]).await, 200);
        assert_eq!(get_code(&proxy, NETWORKS, PROXIED).await, 200);
        assert_eq!(get_code(&wrong_cn, NETWORKS, PROXIED).await, 401);
        let proxied = stub
            .access_review_log()
            .into_iter()
            .find(|r| r["user"] == "proxied")
            .expect("a review for the proxied user");
        assert_eq!(proxied["groups"], json!(["g1", "g2", "system:authenticated"]));
        assert_eq!(proxied["extra"], json!({"scopes": ["s1"]}));
        let alice_review = stub
            .access_review_log()
            .into_iter()
            .find(|r| r["user"] == "alice")
            .expect("a review for alice");
        assert_eq!(alice_review["groups"], json!(["devs", "ops", "system:authenticated"]));

        // The aggregator's availability probe needs no review (system:masters), and the
        // discovery fallback without groups is allowed to any authenticated user.
        let sars = stub.access_reviews();
        let probes = (0..5).map(|_| get_code(&proxy, GV, AGGREGATOR));
        assert_eq!(futures::future::join_all(probes).await, [200; 5]);
        assert_eq!(
            get_code(&proxy, GV, &[("X-Remote-User", "system:kube-aggregator")]).await,
            200
        );
        assert_eq!(stub.access_reviews(), sars);
        // Other non-resource paths are reviewed as such.
        assert_eq!(get_code(&mallory, "/metrics", &[]).await, 403);
        let last = stub.access_review_log().last().cloned().unwrap();
        assert_eq!(last["nonResourceAttributes"], json!({"path": "/metrics", "verb": "get"}));

        // Namespace lifecycle from the cluster's namespaces.
        let net = |name: &str| json!({"apiVersion": "networking.ironcore.dev/v1alpha1",
            "kind": "Network", "metadata": {"name": name}, "spec": {}});
        let ns_path = |ns: &str| format!("{GV}/namespaces/{ns}/networks");
        let (code, _) = send(&reviewed, Method::POST, &ns_path("default"), &[], Some(&net("n1"))).await;
        assert_eq!(code, 201);
        let (code, status) = send(&reviewed, Method::POST, &ns_path("missing"), &[], Some(&net("n2"))).await;
        assert_eq!(code, 404, "{status}");
        assert_eq!(status["message"], r#"namespaces "missing" not found"#);
        let (code, status) = send(&reviewed, Method::POST, &ns_path("dying"), &[], Some(&net("n3"))).await;
        assert_eq!(code, 403, "{status}");
        assert_eq!(
            status["message"],
            r#"networks.networking.ironcore.dev "n3" is forbidden: unable to create new content in namespace dying because it is being terminated"#
        );
        assert_eq!(status["details"]["causes"][0]["reason"], "NamespaceTerminating");
        assert_eq!(status["details"]["causes"][0]["field"], "metadata.namespace");
        // Only creates are checked.
        assert_eq!(get_code(&reviewed, &ns_path("missing"), &[]).await, 200);

        // A new front-proxy CA in the ConfigMap is followed: the new proxy is trusted, the old
        // one no longer.
        let new_ca = Ca::new(pki._dir.path(), "front-proxy-ca-2");
        let new_proxy = client(
            &server,
            "proxy-2",
            &Identity::Cert(new_ca.client("proxy-2", "front-proxy-client", &[])),
        )
        .await;
        assert_eq!(get_code(&new_proxy, NETWORKS, PROXIED).await, 401);
        stub.set_configmap(cm(&new_ca));
        let followed = eventually(Duration::from_secs(10), || async {
            get_code(&new_proxy, NETWORKS, PROXIED).await == 200
        })
        .await;
        assert!(followed, "the new front-proxy CA was not picked up");
        assert_eq!(get_code(&proxy, NETWORKS, PROXIED).await, 401);
    });
}
