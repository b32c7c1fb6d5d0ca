//! Shared helpers of the `apinet_*` end-to-end tests: starting `apinet-apiserver` on each
//! backend, typed objects, and client calls that survive a server restart.

#![allow(dead_code)]

use std::time::Duration;

use ironcore_e2e::{Backend, EtcdProcess, ServerProcess};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The apinet API group/version.
pub const API_VERSION: &str = "core.apinet.ironcore.dev/v1alpha1";

/// Starts `apinet-apiserver` with `args` on `backend`.
pub fn start(backend: Backend, args: &[&str]) -> ServerProcess {
    ServerProcess::start("apinet-apiserver", backend, args)
}

/// Runs the async `body` against `apinet-apiserver` (with `args`) on the embedded store, then
/// on a fresh etcd, each on its own multi-threaded runtime.
pub fn on_each_backend<F, Fut>(args: &[&str], body: F)
where
    F: Fn(ServerProcess) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let etcd = EtcdProcess::start().expect("start etcd");
    for backend in [Backend::Embedded, Backend::Etcd(etcd.endpoint())] {
        eprintln!("=== backend {backend:?}");
        let server = start(backend, args);
        runtime().block_on(body(server));
    }
}

/// A multi-threaded runtime with two workers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A typed object from JSON.
pub fn typed<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("decode {v}: {e}"))
}

/// An object as JSON.
pub fn json_of<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("serialize")
}

/// The HTTP status of an API error (panics on transport errors).
pub fn api_code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("not an API error: {other:?}"),
    }
}

/// The `Status` message of an API error.
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => panic!("not an API error: {other:?}"),
    }
}

/// Whether an error is worth retrying while a server restarts: transport failures, 5xx, 429.
pub fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code >= 500 || s.code == 429,
        _ => true,
    }
}

const RETRY_FOR: Duration = Duration::from_secs(60);
const BACKOFF: Duration = Duration::from_millis(50);

/// Creates `obj`, retrying transient failures; an AlreadyExists after a failed attempt means
/// that attempt committed, and the stored object is returned.
pub async fn create_retrying<K>(api: &Api<K>, obj: &K) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let deadline = tokio::time::Instant::now() + RETRY_FOR;
    let mut failed_before = false;
    loop {
        match api.create(&PostParams::default(), obj).await {
            Ok(o) => return o,
            Err(kube::Error::Api(s))
                if s.code == 409 && s.reason == "AlreadyExists" && failed_before =>
            {
                return get_retrying(api, &name).await.expect("created object");
            }
            Err(e) if transient(&e) && tokio::time::Instant::now() < deadline => {
                failed_before = true;
                tokio::time::sleep(BACKOFF).await;
            }
            Err(e) => panic!("create {name}: {e:?}"),
        }
    }
}

/// Reads `name`, retrying transient failures; `None` when it does not exist.
pub async fn get_retrying<K>(api: &Api<K>, name: &str) -> Option<K>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + RETRY_FOR;
    loop {
        match api.get_opt(name).await {
            Ok(o) => return o,
            Err(e) if transient(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(BACKOFF).await;
            }
            Err(e) => panic!("get {name}: {e:?}"),
        }
    }
}

/// Deletes `name`, retrying transient failures; NotFound counts as deleted.
pub async fn delete_retrying<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + RETRY_FOR;
    loop {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.code == 404 => return,
            Err(e) if transient(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(BACKOFF).await;
            }
            Err(e) => panic!("delete {name}: {e:?}"),
        }
    }
}

/// Lists every object, retrying transient failures.
pub async fn list_retrying<K>(api: &Api<K>) -> Vec<K>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + RETRY_FOR;
    loop {
        match api.list(&ListParams::default()).await {
            Ok(l) => return l.items,
            Err(e) if transient(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(BACKOFF).await;
            }
            Err(e) => panic!("list: {e:?}"),
        }
    }
}
