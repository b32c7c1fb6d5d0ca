//! A stand-in for the *external* kube-apiserver that holds the controllers' leader election
//! Leases (`coordination.k8s.io/v1`): get, create and conditional replace, with
//! `resourceVersion` conflicts, over plain HTTP on loopback. Our API servers do not serve
//! Leases; in a cluster, kube-apiserver does.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// The running stand-in; its kubeconfig points at it.
pub struct LeaseServer {
    /// A kubeconfig for it.
    pub kubeconfig: PathBuf,
    leases: Arc<Mutex<HashMap<String, Value>>>,
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
        "code": code.as_u16(), "reason": reason, "message": message});
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = code;
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

fn object(code: StatusCode, v: &Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = code;
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    leases: Arc<Mutex<HashMap<String, Value>>>,
    next_rv: Arc<Mutex<u64>>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Some(rest) = path.strip_prefix("/apis/coordination.k8s.io/v1/namespaces/") else {
        return status(StatusCode::NOT_FOUND, "NotFound", "not served");
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let mut rv = next_rv.lock().unwrap();
    let mut map = leases.lock().unwrap();
    match (method, parts.as_slice()) {
        (Method::GET, [ns, "leases", name]) => match map.get(&format!("{ns}/{name}")) {
            Some(v) => object(StatusCode::OK, v),
            None => status(StatusCode::NOT_FOUND, "NotFound", "lease not found"),
        },
        (Method::POST, [ns, "leases"]) => {
            let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let name = v["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let key = format!("{ns}/{name}");
            if map.contains_key(&key) {
                return status(StatusCode::CONFLICT, "AlreadyExists", "lease exists");
            }
            *rv += 1;
            v["metadata"]["namespace"] = json!(ns);
            v["metadata"]["resourceVersion"] = json!(rv.to_string());
            map.insert(key, v.clone());
            object(StatusCode::CREATED, &v)
        }
        (Method::PUT, [ns, "leases", name]) => {
            let key = format!("{ns}/{name}");
            let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let Some(current) = map.get(&key) else {
                return status(StatusCode::NOT_FOUND, "NotFound", "lease not found");
            };
            if current["metadata"]["resourceVersion"] != v["metadata"]["resourceVersion"] {
                return status(
                    StatusCode::CONFLICT,
                    "Conflict",
                    "the object has been modified",
                );
            }
            *rv += 1;
            v["metadata"]["resourceVersion"] = json!(rv.to_string());
            map.insert(key, v.clone());
            object(StatusCode::OK, &v)
        }
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "not served",
        ),
    }
}

impl LeaseServer {
    /// Starts the stand-in on a free loopback port; writes its kubeconfig into `dir`.
    pub async fn start(dir: &Path) -> LeaseServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let leases: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
        let next_rv: Arc<Mutex<u64>> = Arc::default();
        let (l, r) = (leases.clone(), next_rv.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (l, r) = (l.clone(), r.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let (l, r) = (l.clone(), r.clone());
                        async move { Ok::<_, Infallible>(handle(req, l, r).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        let kubeconfig = dir.join("leases.kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: leases\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: leases\n  context:\n    cluster: leases\n    user: nobody\nusers:\n- name: nobody\n  user: {{}}\ncurrent-context: leases\n"
            ),
        )
        .unwrap();
        LeaseServer { kubeconfig, leases }
    }

    /// The holder of Lease `namespace/name`, if any.
    pub fn holder(&self, namespace: &str, name: &str) -> Option<String> {
        self.leases
            .lock()
            .unwrap()
            .get(&format!("{namespace}/{name}"))
            .and_then(|v| v["spec"]["holderIdentity"].as_str().map(str::to_owned))
            .filter(|h| !h.is_empty())
    }
}
