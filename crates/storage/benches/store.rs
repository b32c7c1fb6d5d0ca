//! Storage benchmark: the `Store` backends against raw etcd-client transactions.
//!
//! Run with `cargo bench -p ironcore-storage --bench store` (release build). Every scenario
//! starts a fresh etcd (fresh data directory, loopback only) and measures, on that same etcd and
//! in the same run, raw etcd-client requests shaped like kube-apiserver's and the same work
//! through `EtcdStore`, alternating between the two in rounds so drift hits both alike. The
//! embedded store (fresh directory per scenario) is measured beside them. Prints a Markdown
//! table of throughputs and ratios.
//!
//! `BENCH_SCALE` (default 1.0) scales the operation counts.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use etcd_client::{Compare, CompareOp, GetOptions, KvClient, Txn, TxnOp};
use ironcore_storage::{
    EmbeddedConfig, EmbeddedStore, EtcdConfig, EtcdStore, ListOptions, Revision, Store,
};
use ironcore_testing::EtcdProcess;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ROUNDS: usize = 3;
const LIST_KEYS: usize = 10_000;

/// A value of about 1 KiB, like a small JSON object.
fn value(tag: &str) -> Bytes {
    let mut v = format!(
        "{{\"apiVersion\":\"networking.ironcore.dev/v1alpha1\",\"kind\":\"NetworkInterface\",\"metadata\":{{\"name\":\"{tag}\"}},\"spec\":{{\"pad\":\""
    );
    while v.len() < 1000 {
        v.push('x');
    }
    v.push_str("\"}}");
    Bytes::from(v)
}

fn scale() -> f64 {
    std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

fn count(base: usize) -> usize {
    ((base as f64 * scale()).round() as usize).max(1)
}

/// Runs `op(task, i)` for i in 0..per_task on each of `tasks` concurrent tasks; returns ops/s.
async fn run<F, Fut>(tasks: usize, per_task: usize, op: F) -> Result<f64, BoxError>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(tasks);
    for t in 0..tasks {
        let op = op.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                op(t, i).await?;
            }
            Ok::<(), BoxError>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok((tasks * per_task) as f64 / start.elapsed().as_secs_f64())
}

struct Measured {
    name: &'static str,
    tasks: usize,
    raw: f64,
    store: f64,
    embedded: Option<f64>,
}

struct Env {
    _etcd: EtcdProcess,
    raw: KvClient,
    store: Arc<EtcdStore>,
}

async fn fresh_etcd() -> Result<Env, BoxError> {
    let etcd = tokio::task::spawn_blocking(EtcdProcess::start).await??;
    let client = etcd_client::Client::connect([etcd.endpoint()], None).await?;
    let raw = client
        .kv_client()
        .max_decoding_message_size(usize::MAX >> 1);
    let store = EtcdStore::connect(
        EtcdConfig::new([etcd.endpoint()]).with_compaction_interval(Duration::ZERO),
    )
    .await?;
    Ok(Env {
        _etcd: etcd,
        raw,
        store: Arc::new(store),
    })
}

fn fresh_embedded() -> Result<(tempfile::TempDir, Arc<EmbeddedStore>), BoxError> {
    let dir = tempfile::tempdir()?;
    let store = EmbeddedStore::open(
        EmbeddedConfig::new(dir.path().join("bench.redb")).with_compaction_interval(Duration::ZERO),
    )?;
    Ok((dir, Arc::new(store)))
}

/// Alternates raw and store rounds, returning (raw ops/s, store ops/s) over all rounds.
async fn alternate<R, RF, S, SF>(
    tasks: usize,
    per_task: usize,
    raw: R,
    store: S,
) -> Result<(f64, f64), BoxError>
where
    R: Fn(usize, usize, usize) -> RF + Send + Sync + Clone + 'static,
    RF: Future<Output = Result<(), BoxError>> + Send + 'static,
    S: Fn(usize, usize, usize) -> SF + Send + Sync + Clone + 'static,
    SF: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let (mut raw_time, mut store_time) = (0.0, 0.0);
    for round in 0..ROUNDS {
        let r = raw.clone();
        let s = store.clone();
        // Alternate which side goes first.
        let (a, b) = if round % 2 == 0 {
            let a = run(tasks, per_task, move |t, i| r(round, t, i)).await?;
            let b = run(tasks, per_task, move |t, i| s(round, t, i)).await?;
            (a, b)
        } else {
            let b = run(tasks, per_task, move |t, i| s(round, t, i)).await?;
            let a = run(tasks, per_task, move |t, i| r(round, t, i)).await?;
            (a, b)
        };
        raw_time += 1.0 / a;
        store_time += 1.0 / b;
    }
    Ok((ROUNDS as f64 / raw_time, ROUNDS as f64 / store_time))
}

async fn bench_creates(tasks: usize, per_task: usize) -> Result<Measured, BoxError> {
    let env = fresh_etcd().await?;
    let v = value("create");
    let (kv, vr) = (env.raw.clone(), v.clone());
    let raw = move |round: usize, t: usize, i: usize| {
        let mut kv = kv.clone();
        let v = vr.clone();
        async move {
            let key = format!("/bench/raw/{round}/{t}/{i}");
            let txn = Txn::new()
                .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key.as_str(), v.to_vec(), None)])
                .or_else([TxnOp::get(key.as_str(), None)]);
            let resp = kv.txn(txn).await?;
            if !resp.succeeded() {
                return Err("raw create failed".into());
            }
            Ok(())
        }
    };
    let (st, vs) = (env.store.clone(), v.clone());
    let store = move |round: usize, t: usize, i: usize| {
        let st = st.clone();
        let v = vs.clone();
        async move {
            st.create(&format!("/bench/store/{round}/{t}/{i}"), v)
                .await?;
            Ok(())
        }
    };
    let (raw, store) = alternate(tasks, per_task, raw, store).await?;
    drop(env);
    let (_dir, emb) = fresh_embedded()?;
    let mut emb_time = 0.0;
    for round in 0..ROUNDS {
        let (e, v) = (emb.clone(), v.clone());
        let r = run(tasks, per_task, move |t, i| {
            let e = e.clone();
            let v = v.clone();
            async move {
                e.create(&format!("/bench/emb/{round}/{t}/{i}"), v).await?;
                Ok(())
            }
        })
        .await?;
        emb_time += 1.0 / r;
    }
    Ok(Measured {
        name: "create",
        tasks,
        raw,
        store,
        embedded: Some(ROUNDS as f64 / emb_time),
    })
}

/// Creates one key per task (per round) and returns their mod revisions, indexed [round][task].
async fn seed_keys(
    s: &dyn Store,
    prefix: &str,
    tasks: usize,
) -> Result<Vec<Vec<Revision>>, BoxError> {
    let mut out = Vec::new();
    for round in 0..ROUNDS {
        let mut revs = Vec::new();
        for t in 0..tasks {
            revs.push(
                s.create(&format!("{prefix}/{round}/{t}"), value("seed"))
                    .await?
                    .revision,
            );
        }
        out.push(revs);
    }
    Ok(out)
}

async fn bench_updates(tasks: usize, per_task: usize) -> Result<Measured, BoxError> {
    let env = fresh_etcd().await?;
    let v = value("update");
    let raw_revs = Arc::new(
        seed_keys(&*env.store, "/bench/raw", tasks)
            .await?
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(std::sync::atomic::AtomicI64::new)
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>(),
    );
    let store_revs = Arc::new(
        seed_keys(&*env.store, "/bench/store", tasks)
            .await?
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(std::sync::atomic::AtomicI64::new)
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>(),
    );
    use std::sync::atomic::Ordering::Relaxed;
    let (kv, vr, revs) = (env.raw.clone(), v.clone(), raw_revs.clone());
    let raw = move |round: usize, t: usize, _i: usize| {
        let mut kv = kv.clone();
        let v = vr.clone();
        let revs = revs.clone();
        async move {
            let key = format!("/bench/raw/{round}/{t}");
            let expected = revs[round][t].load(Relaxed);
            let txn = Txn::new()
                .when([Compare::mod_revision(
                    key.as_str(),
                    CompareOp::Equal,
                    expected,
                )])
                .and_then([TxnOp::put(key.as_str(), v.to_vec(), None)])
                .or_else([TxnOp::get(key.as_str(), None)]);
            let resp = kv.txn(txn).await?;
            if !resp.succeeded() {
                return Err("raw update conflicted".into());
            }
            let rev = resp.header().map(|h| h.revision()).ok_or("no header")?;
            revs[round][t].store(rev, Relaxed);
            Ok(())
        }
    };
    let (st, vs, revs) = (env.store.clone(), v.clone(), store_revs.clone());
    let store = move |round: usize, t: usize, _i: usize| {
        let st = st.clone();
        let v = vs.clone();
        let revs = revs.clone();
        async move {
            let key = format!("/bench/store/{round}/{t}");
            let w = st.update(&key, v, revs[round][t].load(Relaxed)).await?;
            revs[round][t].store(w.revision, Relaxed);
            Ok(())
        }
    };
    let (raw, store) = alternate(tasks, per_task, raw, store).await?;
    drop(env);
    let (_dir, emb) = fresh_embedded()?;
    let emb_revs = Arc::new(
        seed_keys(&*emb, "/bench/emb", tasks)
            .await?
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(std::sync::atomic::AtomicI64::new)
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>(),
    );
    let mut emb_time = 0.0;
    for round in 0..ROUNDS {
        let (e, v, revs) = (emb.clone(), v.clone(), emb_revs.clone());
        let r = run(tasks, per_task, move |t, _i| {
            let e = e.clone();
            let v = v.clone();
            let revs = revs.clone();
            async move {
                let key = format!("/bench/emb/{round}/{t}");
                let w = e.update(&key, v, revs[round][t].load(Relaxed)).await?;
                revs[round][t].store(w.revision, Relaxed);
                Ok(())
            }
        })
        .await?;
        emb_time += 1.0 / r;
    }
    Ok(Measured {
        name: "conditional update",
        tasks,
        raw,
        store,
        embedded: Some(ROUNDS as f64 / emb_time),
    })
}

const GET_KEYS: usize = 1000;

async fn bench_gets(tasks: usize, per_task: usize) -> Result<Measured, BoxError> {
    let env = fresh_etcd().await?;
    let (_dir, emb) = fresh_embedded()?;
    for i in 0..GET_KEYS {
        env.store
            .create(&format!("/bench/get/{i}"), value("get"))
            .await?;
        emb.create(&format!("/bench/get/{i}"), value("get")).await?;
    }
    let kv = env.raw.clone();
    let raw = move |_round: usize, t: usize, i: usize| {
        let mut kv = kv.clone();
        async move {
            let key = format!("/bench/get/{}", (t * 7919 + i) % GET_KEYS);
            let mut resp = kv.get(key, None).await?;
            if resp.take_kvs().is_empty() {
                return Err("raw get missed".into());
            }
            Ok(())
        }
    };
    let st = env.store.clone();
    let store = move |_round: usize, t: usize, i: usize| {
        let st = st.clone();
        async move {
            let key = format!("/bench/get/{}", (t * 7919 + i) % GET_KEYS);
            if st.get(&key, None).await?.kv.is_none() {
                return Err("store get missed".into());
            }
            Ok(())
        }
    };
    let (raw, store) = alternate(tasks, per_task, raw, store).await?;
    let mut emb_time = 0.0;
    for _ in 0..ROUNDS {
        let e = emb.clone();
        let r = run(tasks, per_task, move |t, i| {
            let e = e.clone();
            async move {
                let key = format!("/bench/get/{}", (t * 7919 + i) % GET_KEYS);
                if e.get(&key, None).await?.kv.is_none() {
                    return Err("embedded get missed".into());
                }
                Ok(())
            }
        })
        .await?;
        emb_time += 1.0 / r;
    }
    Ok(Measured {
        name: "get",
        tasks,
        raw,
        store,
        embedded: Some(ROUNDS as f64 / emb_time),
    })
}

async fn bench_lists(tasks: usize, per_task: usize) -> Result<Measured, BoxError> {
    let env = fresh_etcd().await?;
    let (_dir, emb) = fresh_embedded()?;
    // Fill both stores concurrently.
    run(16, LIST_KEYS / 16, {
        let st = env.store.clone();
        let e = emb.clone();
        move |t, i| {
            let st = st.clone();
            let e = e.clone();
            async move {
                let key = format!("/bench/list/{t:02}-{i:05}");
                st.create(&key, value("list")).await?;
                e.create(&key, value("list")).await?;
                Ok(())
            }
        }
    })
    .await?;
    let prefix = "/bench/list/";
    let kv = env.raw.clone();
    let raw = move |_round: usize, _t: usize, _i: usize| {
        let mut kv = kv.clone();
        async move {
            let mut resp = kv
                .get(prefix, Some(GetOptions::new().with_prefix()))
                .await?;
            if resp.take_kvs().len() != LIST_KEYS {
                return Err("raw list incomplete".into());
            }
            Ok(())
        }
    };
    let st = env.store.clone();
    let store = move |_round: usize, _t: usize, _i: usize| {
        let st = st.clone();
        async move {
            if st.list(prefix, ListOptions::default()).await?.items.len() != LIST_KEYS {
                return Err("store list incomplete".into());
            }
            Ok(())
        }
    };
    let (raw, store) = alternate(tasks, per_task, raw, store).await?;
    let mut emb_time = 0.0;
    for _ in 0..ROUNDS {
        let e = emb.clone();
        let r = run(tasks, per_task, move |_t, _i| {
            let e = e.clone();
            async move {
                if e.list(prefix, ListOptions::default()).await?.items.len() != LIST_KEYS {
                    return Err("embedded list incomplete".into());
                }
                Ok(())
            }
        })
        .await?;
        emb_time += 1.0 / r;
    }
    Ok(Measured {
        name: "list 10k keys",
        tasks,
        raw,
        store,
        embedded: Some(ROUNDS as f64 / emb_time),
    })
}

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; ignore arguments.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut results = Vec::new();
        for tasks in [1usize, 16] {
            let per = |c1: usize, c16: usize| count(if tasks == 1 { c1 } else { c16 / tasks });
            eprintln!("creates, {tasks} task(s)...");
            results.push(bench_creates(tasks, per(600, 3200)).await?);
            eprintln!("conditional updates, {tasks} task(s)...");
            results.push(bench_updates(tasks, per(600, 3200)).await?);
            eprintln!("gets, {tasks} task(s)...");
            results.push(bench_gets(tasks, per(2000, 9600)).await?);
            eprintln!("lists, {tasks} task(s)...");
            results.push(bench_lists(tasks, per(10, 32)).await?);
        }
        println!(
            "| operation | tasks | raw etcd-client (ops/s) | EtcdStore (ops/s) | EtcdStore / raw | EmbeddedStore (ops/s) | Embedded / raw etcd |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for m in &results {
            let (emb, emb_ratio) = match m.embedded {
                Some(e) => (format!("{e:.0}"), format!("{:.2}×", e / m.raw)),
                None => ("–".into(), "–".into()),
            };
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.2}× | {} | {} |",
                m.name,
                m.tasks,
                m.raw,
                m.store,
                m.store / m.raw,
                emb,
                emb_ratio
            );
        }
        Ok(())
    })
}
