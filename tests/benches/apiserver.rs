//! API server benchmark: creates, gets and a 10k-object list over HTTPS with 16 concurrent
//! clients, each beside raw etcd-client requests on the same etcd in the same run.
//!
//! Run: `cargo build --release --bins && cargo bench -p ironcore-e2e --bench apiserver`.
//! Every run starts a fresh etcd (fresh data directory, loopback only). `BENCH_SCALE`
//! (default 1.0) scales the operation counts. Prints a Markdown table.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp};
use ironcore_api::common::IPFamily;
use ironcore_api::networking::{VirtualIP, VirtualIPSpec};
use ironcore_e2e::{Backend, EtcdProcess, ServerProcess};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const TASKS: usize = 16;
const LIST_OBJECTS: usize = 10_000;

fn scaled(base: usize) -> usize {
    let s: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    ((base as f64 * s).round() as usize).max(TASKS)
}

/// Runs `op(i)` for i in 0..n spread over `TASKS` tasks; returns operations per second.
async fn run<F, Fut>(n: usize, op: F) -> Result<f64, BoxError>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let op = Arc::clone(&op);
        handles.push(tokio::spawn(async move {
            let mut i = t;
            while i < n {
                op(i).await?;
                i += TASKS;
            }
            Ok::<_, BoxError>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn vip(name: String) -> VirtualIP {
    VirtualIP {
        metadata: ObjectMeta {
            name: Some(name),
            ..Default::default()
        },
        spec: VirtualIPSpec {
            type_: "Public".into(),
            ip_family: IPFamily::IPv4,
            target_ref: None,
        },
        ..Default::default()
    }
}

/// The JSON the server stores for a VirtualIP, as the raw baseline's value.
fn raw_value(name: &str) -> String {
    format!(
        "{{\"apiVersion\":\"networking.ironcore.dev/v1alpha1\",\"kind\":\"VirtualIP\",\"metadata\":{{\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"generation\":1,\"name\":\"{name}\",\"namespace\":\"default\",\"uid\":\"00000000-0000-0000-0000-000000000000\"}},\"spec\":{{\"type\":\"Public\",\"ipFamily\":\"IPv4\"}},\"status\":{{}}}}"
    )
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let etcd = EtcdProcess::start()?;
    let server = ServerProcess::ironcore(Backend::Etcd(etcd.endpoint()));
    let client = server.client().await;
    let raw_client = client.clone();
    let api: Api<VirtualIP> = Api::namespaced(client, "default");
    let raw = etcd_client::Client::connect([etcd.endpoint()], None).await?;

    let creates = scaled(3000);
    let gets = scaled(6000);
    let mut rows = Vec::new();

    // Creates.
    let kv = raw.kv_client();
    let raw_create = run(creates, move |i| {
        let mut kv = kv.clone();
        async move {
            let key = format!("/bench/raw/virtualips/default/c{i}");
            let txn = Txn::new()
                .when([Compare::mod_revision(key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key.clone(), raw_value(&format!("c{i}")), None)])
                .or_else([TxnOp::get(key, None)]);
            kv.txn(txn).await?;
            Ok(())
        }
    })
    .await?;
    let a = api.clone();
    let http_create = run(creates, move |i| {
        let a = a.clone();
        async move {
            a.create(&PostParams::default(), &vip(format!("c{i}")))
                .await?;
            Ok(())
        }
    })
    .await?;
    rows.push(("create", http_create, raw_create));

    // Gets.
    let kv = raw.kv_client();
    let raw_get = run(gets, move |i| {
        let mut kv = kv.clone();
        async move {
            kv.get(
                format!("/bench/raw/virtualips/default/c{}", i % creates),
                None,
            )
            .await?;
            Ok(())
        }
    })
    .await?;
    let a = api.clone();
    let http_get = run(gets, move |i| {
        let a = a.clone();
        async move {
            a.get(&format!("c{}", i % creates)).await?;
            Ok(())
        }
    })
    .await?;
    rows.push(("get", http_get, raw_get));

    // A 10k-object list: fill both up to LIST_OBJECTS, then list everything.
    let kv = raw.kv_client();
    run(LIST_OBJECTS, move |i| {
        let mut kv = kv.clone();
        async move {
            let key = format!("/bench/raw/virtualips/default/c{i}");
            kv.put(key, raw_value(&format!("c{i}")), None).await?;
            Ok(())
        }
    })
    .await?;
    let a = api.clone();
    run(LIST_OBJECTS - creates.min(LIST_OBJECTS), move |i| {
        let a = a.clone();
        async move {
            a.create(&PostParams::default(), &vip(format!("l{i}")))
                .await?;
            Ok(())
        }
    })
    .await?;
    let lists = 5;
    let mut kv = raw.kv_client();
    let start = Instant::now();
    for _ in 0..lists {
        let r = kv
            .get(
                "/bench/raw/virtualips/default/",
                Some(GetOptions::new().with_prefix()),
            )
            .await?;
        assert!(r.kvs().len() >= LIST_OBJECTS);
    }
    let raw_list = lists as f64 / start.elapsed().as_secs_f64();
    // The list is fetched as bytes, like the raw range, so client-side decoding is not measured.
    let start = Instant::now();
    for _ in 0..lists {
        let req = http::Request::get(
            "/apis/networking.ironcore.dev/v1alpha1/namespaces/default/virtualips",
        )
        .body(Vec::new())?;
        let body = raw_client.request_text(req).await?;
        assert!(body.len() > LIST_OBJECTS * 100);
    }
    let http_list = lists as f64 / start.elapsed().as_secs_f64();
    let typed = api.list(&ListParams::default()).await?;
    assert!(typed.items.len() >= LIST_OBJECTS);
    rows.push(("list 10k objects", http_list, raw_list));

    println!(
        "| operation ({TASKS} clients) | API server over HTTPS (ops/s) | raw etcd-client (ops/s) | ratio |"
    );
    println!("|---|---|---|---|");
    for (name, http, raw) in rows {
        println!("| {name} | {http:.1} | {raw:.1} | {:.2} |", http / raw);
    }
    Ok(())
}
