//! Helpers of the authentication end-to-end tests: a throwaway PKI (rcgen), raw HTTPS clients
//! with a chosen identity, and a stand-in for the *external* kube-apiserver a delegating
//! server talks to (TokenReview, SubjectAccessReview, the authentication ConfigMap,
//! namespaces), served over HTTPS on loopback inside the test.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use ironcore_e2e::ServerProcess;

/// A certificate authority whose certificate is written to `<dir>/<name>.crt`.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
    /// The CA certificate file.
    pub cert_file: PathBuf,
}

/// A client certificate and key on disk.
#[derive(Clone, Debug)]
pub struct ClientCert {
    /// PEM certificate.
    pub cert: PathBuf,
    /// PEM key.
    pub key: PathBuf,
}

impl Ca {
    /// A new CA named `name`, written into `dir`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
        let cert_file = dir.join(format!("{name}.crt"));
        std::fs::write(&cert_file, issuer.pem()).unwrap();
        Ca {
            issuer,
            dir: dir.to_owned(),
            cert_file,
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A client certificate with common name `cn` and organizations `orgs`, written as
    /// `<dir>/<file>.{crt,key}`.
    pub fn client(&self, file: &str, cn: &str, orgs: &[&str]) -> ClientCert {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        for (i, o) in orgs.iter().enumerate() {
            // rcgen holds one value per attribute type; a second O goes in under O's OID.
            let t = if i == 0 {
                DnType::OrganizationName
            } else {
                DnType::CustomDnType(vec![2, 5, 4, 10])
            };
            p.distinguished_name.push(t, *o);
        }
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        let c = ClientCert {
            cert: self.dir.join(format!("{file}.crt")),
            key: self.dir.join(format!("{file}.key")),
        };
        std::fs::write(&c.cert, cert.pem()).unwrap();
        std::fs::write(&c.key, key.serialize_pem()).unwrap();
        c
    }

    /// A serving certificate for 127.0.0.1.
    fn serving(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut p =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (
            vec![cert.der().clone()],
            PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
    }
}

/// Who a test client is.
#[derive(Clone, Debug)]
pub enum Identity {
    /// No credentials.
    Nobody,
    /// A client certificate.
    Cert(ClientCert),
    /// A bearer token.
    Token(String),
}

/// Writes a kubeconfig for `server` as `identity` into the server's scratch directory.
pub fn kubeconfig(server: &ServerProcess, name: &str, identity: &Identity) -> PathBuf {
    let ca = server.scratch_dir().join("certs").join("ca.crt");
    let user = match identity {
        Identity::Nobody => "{}".to_owned(),
        Identity::Cert(c) => format!(
            "\n    client-certificate: {}\n    client-key: {}",
            c.cert.display(),
            c.key.display()
        ),
        Identity::Token(t) => format!("\n    token: {t}"),
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: u\n  user: {user}\ncontexts:\n- name: c\n  context:\n    cluster: s\n    user: u\n    namespace: default\ncurrent-context: c\n",
        server.url(),
        ca.display()
    );
    let path = server.scratch_dir().join(format!("{name}.kubeconfig"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A kube-rs client for `server` as `identity`.
pub async fn client(server: &ServerProcess, name: &str, identity: &Identity) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(kubeconfig(server, name, identity)).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(cfg).unwrap()
}

/// Sends one request and returns the status code and the body (JSON, or a string).
pub async fn send(
    client: &kube::Client,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let bytes = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let resp = client
        .send(req.body(kube::client::Body::from(bytes)).unwrap())
        .await
        .expect("request sent");
    let code = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    (code, value)
}

/// `GET path` as the status code only.
pub async fn get_code(client: &kube::Client, path: &str, headers: &[(&str, &str)]) -> u16 {
    send(client, Method::GET, path, headers, None).await.0
}

type Body = BoxBody<Bytes, Infallible>;

/// The stand-in cluster's state, changed by tests.
#[derive(Default)]
pub struct StubState {
    /// TokenReview: token → (user, groups).
    pub tokens: Mutex<HashMap<String, (String, Vec<String>)>>,
    /// SubjectAccessReview: users allowed everything; others are denied.
    pub allowed_users: Mutex<HashSet<String>>,
    /// TokenReviews answered.
    pub token_reviews: AtomicUsize,
    /// SubjectAccessReviews answered.
    pub access_reviews: AtomicUsize,
    /// Every SubjectAccessReview spec received.
    pub access_review_log: Mutex<Vec<Value>>,
    /// The `extension-apiserver-authentication` data, if the ConfigMap exists.
    configmap: Mutex<Option<BTreeMap<String, String>>>,
    resource_version: AtomicU64,
    configmap_events: Mutex<Vec<tokio::sync::mpsc::UnboundedSender<String>>>,
    /// Namespaces: name → phase.
    pub namespaces: Mutex<BTreeMap<String, String>>,
}

/// The bearer token the server must present to the stand-in.
pub const STUB_TOKEN: &str = "server-sa-token";

/// A stand-in for kube-apiserver's review and read endpoints, over HTTPS.
pub struct StubCluster {
    /// A kubeconfig reaching it (token [`STUB_TOKEN`]).
    pub kubeconfig: PathBuf,
    /// Its state.
    pub state: Arc<StubState>,
}

impl StubCluster {
    /// Starts the stand-in on the current tokio runtime; files go to `dir`.
    pub async fn start(dir: &Path) -> StubCluster {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = Ca::new(dir, "stub-cluster-ca");
        let (certs, key) = ca.serving();
        let mut tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(StubState::default());
        state.resource_version.store(1, Ordering::SeqCst);
        let st = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let st = Arc::clone(&st);
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |req| {
                        let st = Arc::clone(&st);
                        async move { Ok::<_, Infallible>(handle(&st, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        let kubeconfig = dir.join("stub-cluster.kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: stub\n  cluster:\n    server: https://{addr}\n    certificate-authority: {}\nusers:\n- name: sa\n  user:\n    token: {STUB_TOKEN}\ncontexts:\n- name: stub\n  context:\n    cluster: stub\n    user: sa\ncurrent-context: stub\n",
                ca.cert_file.display()
            ),
        )
        .unwrap();
        StubCluster { kubeconfig, state }
    }

    /// Sets (or replaces) the authentication ConfigMap and tells its watchers.
    pub fn set_configmap(&self, data: BTreeMap<String, String>) {
        let st = &self.state;
        let existed = st.configmap.lock().unwrap().replace(data).is_some();
        let rv = st.resource_version.fetch_add(1, Ordering::SeqCst) + 1;
        let obj = configmap_object(st, rv);
        let kind = if existed { "MODIFIED" } else { "ADDED" };
        let line = format!("{}\n", json!({"type": kind, "object": obj}));
        st.configmap_events
            .lock()
            .unwrap()
            .retain(|tx| tx.send(line.clone()).is_ok());
    }

    /// Lets TokenReview authenticate `token` as `user` in `groups`.
    pub fn add_token(&self, token: &str, user: &str, groups: &[&str]) {
        self.state.tokens.lock().unwrap().insert(
            token.to_owned(),
            (
                user.to_owned(),
                groups.iter().map(|g| (*g).to_owned()).collect(),
            ),
        );
    }

    /// Lets SubjectAccessReview allow everything for `user`.
    pub fn allow_user(&self, user: &str) {
        self.state
            .allowed_users
            .lock()
            .unwrap()
            .insert(user.to_owned());
    }

    /// Adds a namespace in `phase` (`Active`, `Terminating`).
    pub fn add_namespace(&self, name: &str, phase: &str) {
        self.state
            .namespaces
            .lock()
            .unwrap()
            .insert(name.to_owned(), phase.to_owned());
    }

    /// TokenReviews answered so far.
    pub fn token_reviews(&self) -> usize {
        self.state.token_reviews.load(Ordering::SeqCst)
    }

    /// SubjectAccessReviews answered so far.
    pub fn access_reviews(&self) -> usize {
        self.state.access_reviews.load(Ordering::SeqCst)
    }

    /// The SubjectAccessReview specs received so far.
    pub fn access_review_log(&self) -> Vec<Value> {
        self.state.access_review_log.lock().unwrap().clone()
    }
}

fn configmap_object(st: &StubState, rv: u64) -> Option<Value> {
    st.configmap.lock().unwrap().as_ref().map(|data| {
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system",
                         "resourceVersion": rv.to_string(), "uid": "cm-uid"},
            "data": data,
        })
    })
}

fn namespace_object(name: &str, phase: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": name, "uid": format!("ns-{name}"), "resourceVersion": "1"},
           "status": {"phase": phase}})
}

fn reply(code: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed())
        .unwrap()
}

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    reply(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}),
    )
}

/// A watch response that streams the lines sent to it.
fn streaming(rx: tokio::sync::mpsc::UnboundedReceiver<String>) -> Response<Body> {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let line = rx.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(Bytes::from(line))), rx))
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(StreamBody::new(stream).boxed())
        .unwrap()
}

async fn handle(st: &StubState, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {STUB_TOKEN}"));
    if !authorized {
        return status(401, "Unauthorized", "Unauthorized");
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let watch = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let body: Value = req
        .into_body()
        .collect()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b.to_bytes()).ok())
        .unwrap_or(Value::Null);
    let rv = st.resource_version.load(Ordering::SeqCst);
    match (method, path.as_str()) {
        (Method::POST, "/apis/authentication.k8s.io/v1/tokenreviews") => {
            st.token_reviews.fetch_add(1, Ordering::SeqCst);
            let token = body["spec"]["token"].as_str().unwrap_or_default();
            let status = match st.tokens.lock().unwrap().get(token) {
                Some((user, groups)) => json!({"authenticated": true,
                    "user": {"username": user, "uid": format!("uid-{user}"), "groups": groups}}),
                None => json!({"authenticated": false, "error": "token unknown"}),
            };
            reply(
                201,
                &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                        "metadata": {}, "spec": body["spec"], "status": status}),
            )
        }
        (Method::POST, "/apis/authorization.k8s.io/v1/subjectaccessreviews") => {
            st.access_reviews.fetch_add(1, Ordering::SeqCst);
            st.access_review_log
                .lock()
                .unwrap()
                .push(body["spec"].clone());
            let user = body["spec"]["user"].as_str().unwrap_or_default();
            let allowed = st.allowed_users.lock().unwrap().contains(user);
            let status = if allowed {
                json!({"allowed": true, "reason": "stub allows"})
            } else {
                json!({"allowed": false, "reason": format!("stub denies {user}")})
            };
            reply(
                201,
                &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                        "metadata": {}, "spec": body["spec"], "status": status}),
            )
        }
        (
            Method::GET,
            "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication",
        ) => match configmap_object(st, rv) {
            Some(cm) => reply(200, &cm),
            None => status(
                404,
                "NotFound",
                "configmaps \"extension-apiserver-authentication\" not found",
            ),
        },
        (Method::GET, "/api/v1/namespaces/kube-system/configmaps") if watch => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            st.configmap_events.lock().unwrap().push(tx);
            streaming(rx)
        }
        (Method::GET, "/api/v1/namespaces/kube-system/configmaps") => {
            let items: Vec<Value> = configmap_object(st, rv).into_iter().collect();
            reply(
                200,
                &json!({"apiVersion": "v1", "kind": "ConfigMapList",
                        "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
            )
        }
        (Method::GET, "/api/v1/namespaces") if watch => {
            // Namespaces do not change during a test: a watch that stays open, silent.
            let stream = futures::stream::pending::<Result<Frame<Bytes>, Infallible>>();
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(StreamBody::new(stream).boxed())
                .unwrap()
        }
        (Method::GET, "/api/v1/namespaces") => {
            let items: Vec<Value> = st
                .namespaces
                .lock()
                .unwrap()
                .iter()
                .map(|(n, p)| namespace_object(n, p))
                .collect();
            reply(
                200,
                &json!({"apiVersion": "v1", "kind": "NamespaceList",
                        "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
            )
        }
        (Method::GET, p) if p.starts_with("/api/v1/namespaces/") => {
            let name = &p["/api/v1/namespaces/".len()..];
            match st.namespaces.lock().unwrap().get(name) {
                Some(phase) => reply(200, &namespace_object(name, phase)),
                None => status(404, "NotFound", &format!("namespaces \"{name}\" not found")),
            }
        }
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}
