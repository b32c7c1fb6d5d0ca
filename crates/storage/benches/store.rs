//! Storage benchmark: the `Store` backends against raw etcd-client transactions.
//!
//! Run with `cargo bench -p ironcore-storage --bench store` (release build). Every scenario
//! starts a fresh etcd (fresh data directory, loopback only) and measures, on that same etcd and
//! in the same run, raw etcd-client requests shaped like kube-apiserver's, the same work
//! through `EtcdStore`, and through the embedded store (fresh directory per scenario), rotating
//! between the three in rounds so that drift of the machine hits all alike. Prints a Markdown
//! table: throughputs over all rounds, and ratios as the median of the per-round ratios.
//!
//! `BENCH_SCALE` (default 1.0) scales the operation counts; `BENCH_ONLY` (comma-separated
//! `create`, `update`, `get`, `list`) picks scenarios; `BENCH_VERBOSE` prints every round.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::Bytes;
use etcd_client::{Compare, CompareOp, GetOptions, KvClient, Txn, TxnOp};
use ironcore_storage::{EmbeddedConfig, EmbeddedStore, EtcdConfig, EtcdStore, ListOptions, Store};
use ironcore_testing::EtcdProcess;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ROUNDS: usize = 16;
const LIST_KEYS: usize = 10_000;
/// Pause before each measured run.
const SETTLE: Duration = Duration::from_millis(500);

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

type OpFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;
/// One benchmarked operation: `(round, task, i)` → a request.
type Op = Arc<dyn Fn(usize, usize, usize) -> OpFuture + Send + Sync>;

fn op<F, Fut>(f: F) -> Op
where
    F: Fn(usize, usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    Arc::new(move |r, t, i| Box::pin(f(r, t, i)))
}

/// Runs `op(round, task, i)` for i in 0..per_task on each of `tasks` concurrent tasks;
/// returns ops/s.
async fn run(tasks: usize, per_task: usize, round: usize, op: Op) -> Result<f64, BoxError> {
    let start = Instant::now();
    let mut handles = Vec::with_capacity(tasks);
    for t in 0..tasks {
        let op = op.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                op(round, t, i).await?;
            }
            Ok::<(), BoxError>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok((tasks * per_task) as f64 / start.elapsed().as_secs_f64())
}

/// Measures every side in `ROUNDS` rounds, rotating which goes first, so that drift of the
/// machine (other load, etcd's growing database) hits all sides alike.
async fn measure(
    name: &'static str,
    tasks: usize,
    per_task: usize,
    sides: &[Op],
) -> Result<Measured, BoxError> {
    let mut rounds = vec![vec![0.0; sides.len()]; ROUNDS];
    for (round, results) in rounds.iter_mut().enumerate() {
        for k in 0..sides.len() {
            let idx = (k + round) % sides.len();
            // Let the previous side's background I/O (etcd flushes its backend every 100 ms)
            // settle, so that it does not slow down the next side's syncs.
            tokio::time::sleep(SETTLE).await;
            results[idx] = run(tasks, per_task, round, sides[idx].clone()).await?;
        }
    }
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        for (round, r) in rounds.iter().enumerate() {
            let r: Vec<String> = r.iter().map(|x| format!("{x:.0}")).collect();
            eprintln!("  {name} x{tasks} round {round}: {}", r.join(" / "));
        }
    }
    // Throughput: all operations of a side over all its time.
    let total = |side: usize| ROUNDS as f64 / rounds.iter().map(|r| 1.0 / r[side]).sum::<f64>();
    // Ratio: the median of the per-round ratios, each between runs adjacent in time, which
    // bursts of load on the shared machine distort far less than a ratio of totals.
    let ratio = |side: usize| {
        let mut r: Vec<f64> = rounds.iter().map(|r| r[side] / r[0]).collect();
        r.sort_by(f64::total_cmp);
        (r[(r.len() - 1) / 2] + r[r.len() / 2]) / 2.0
    };
    Ok(Measured {
        name,
        tasks,
        raw: total(0),
        store: total(1),
        embedded: total(2),
        store_ratio: ratio(1),
        embedded_ratio: ratio(2),
    })
}

struct Measured {
    name: &'static str,
    tasks: usize,
    raw: f64,
    store: f64,
    embedded: f64,
    store_ratio: f64,
    embedded_ratio: f64,
}

/// A fresh etcd with a raw client and an `EtcdStore` on it, and a fresh embedded store.
struct Env {
    _etcd: EtcdProcess,
    raw: KvClient,
    store: Arc<EtcdStore>,
    _dir: tempfile::TempDir,
    embedded: Arc<EmbeddedStore>,
}

async fn fresh_env() -> Result<Env, BoxError> {
    let etcd = tokio::task::spawn_blocking(EtcdProcess::start).await??;
    let client = etcd_client::Client::connect([etcd.endpoint()], None).await?;
    let raw = client
        .kv_client()
        .max_decoding_message_size(usize::MAX >> 1);
    let store = EtcdStore::connect(
        EtcdConfig::new([etcd.endpoint()]).with_compaction_interval(Duration::ZERO),
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let embedded = EmbeddedStore::open(
        EmbeddedConfig::new(dir.path().join("bench.redb")).with_compaction_interval(Duration::ZERO),
    )?;
    Ok(Env {
        _etcd: etcd,
        raw,
        store: Arc::new(store),
        _dir: dir,
        embedded: Arc::new(embedded),
    })
}

/// Create through `s` (any backend) of a fresh key.
fn store_create(s: Arc<dyn Store>, side: &'static str, v: Bytes) -> Op {
    op(move |round, t, i| {
        let s = s.clone();
        let v = v.clone();
        async move {
            s.create(&format!("/bench/{side}/{round}/{t}/{i}"), v)
                .await?;
            Ok(())
        }
    })
}

async fn bench_creates(tasks: usize, per_task: usize) -> Result<Measured, BoxError> {
    let env = fresh_env().await?;
    let v = value("create");
    let (kv, vr) = (env.raw.clone(), v.clone());
    let raw = op(move |round, t, i| {
        let mut kv = kv.clone();
        let v = vr.clone();
        async move {
            let key = format!("/bench/raw/{round}/{t}/{i}");
            let txn = Txn::new()
                .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key.as_str(), v.to_vec(), None)])
                .or_else([TxnOp::get(key.as_str(), None)]);
            if !kv.txn(txn).await?.succeeded() {
                return Err("raw create failed".into());
            }
            Ok(())
        }
    });
    let sides = [
        raw,
        store_create(env.store.clone(), "store", v.clone()),
        store_create(env.embedded.clone(), "embedded", v),
    ];
    measure("create", tasks, per_task, &sides).await
}

/// One key per (round, task) under `prefix`, with its mod revision.
async fn seed_keys(
    s: &dyn Store,
    prefix: &str,
    tasks: usize,
) -> Result<Arc<Vec<Vec<AtomicI64>>>, BoxError> {
    let mut out = Vec::new();
    for round in 0..ROUNDS {
        let mut revs = Vec::new();
        for t in 0..tasks {
            let w = s
                .create(&format!("{prefix}/{round}/{t}"), value("seed"))
                .await?;
            revs.push(AtomicI64::new(w.revision));
        }
        out.push(revs);
    }
    Ok(Arc::new(out))
}

/// Conditional update through `s` of the task's own key (never conflicts).
fn store_update(
    s: Arc<dyn Store>,
    prefix: &'static str,
    revs: Arc<Vec<Vec<AtomicI64>>>,
    v: Bytes,
) -> Op {
    op(move |round, t, _i| {
        let s = s.clone();
        let v = v.clone();
        let revs = revs.clone();
        async move {
            let key = format!("{prefix}/{round}/{t}");
            let w = s.update(&key, v, revs[round][t].load(Relaxed)).await?;
            revs[round][t].store(w.revision, Relaxed);
            Ok(())
        }
    })
}

async fn bench_updates(tasks: usize, per_task: usize) -> Result<Measured, BoxError> {
    let env = fresh_env().await?;
    let v = value("update");
    let raw_revs = seed_keys(&*env.store, "/bench/raw", tasks).await?;
    let store_revs = seed_keys(&*env.store, "/bench/store", tasks).await?;
    let emb_revs = seed_keys(&*env.embedded, "/bench/embedded", tasks).await?;
    let (kv, vr) = (env.raw.clone(), v.clone());
    let raw = op(move |round, t, _i| {
        let mut kv = kv.clone();
        let v = vr.clone();
        let revs = raw_revs.clone();
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
    });
    let sides = [
        raw,
        store_update(env.store.clone(), "/bench/store", store_revs, v.clone()),
        store_update(env.embedded.clone(), "/bench/embedded", emb_revs, v),
    ];
    measure("conditional update", tasks, per_task, &sides).await
}

const GET_KEYS: usize = 1000;

fn get_key(t: usize, i: usize) -> String {
    format!("/bench/get/{}", (t * 7919 + i) % GET_KEYS)
}

fn store_get(s: Arc<dyn Store>) -> Op {
    op(move |_round, t, i| {
        let s = s.clone();
        async move {
            if s.get(&get_key(t, i), None).await?.kv.is_none() {
                return Err("get missed".into());
            }
            Ok(())
        }
    })
}

async fn bench_gets(tasks: usize, per_task: usize) -> Result<Measured, BoxError> {
    let env = fresh_env().await?;
    for i in 0..GET_KEYS {
        let key = format!("/bench/get/{i}");
        env.store.create(&key, value("get")).await?;
        env.embedded.create(&key, value("get")).await?;
    }
    let kv = env.raw.clone();
    let raw = op(move |_round, t, i| {
        let mut kv = kv.clone();
        async move {
            if kv.get(get_key(t, i), None).await?.take_kvs().is_empty() {
                return Err("raw get missed".into());
            }
            Ok(())
        }
    });
    let sides = [
        raw,
        store_get(env.store.clone()),
        store_get(env.embedded.clone()),
    ];
    measure("get", tasks, per_task, &sides).await
}

const LIST_PREFIX: &str = "/bench/list/";

fn store_list(s: Arc<dyn Store>) -> Op {
    op(move |_round, _t, _i| {
        let s = s.clone();
        async move {
            if s.list(LIST_PREFIX, ListOptions::default())
                .await?
                .items
                .len()
                != LIST_KEYS
            {
                return Err("list incomplete".into());
            }
            Ok(())
        }
    })
}

async fn bench_lists(tasks: usize, per_task: usize) -> Result<Measured, BoxError> {
    let env = fresh_env().await?;
    // Fill both stores from 16 tasks.
    let (st, e) = (env.store.clone(), env.embedded.clone());
    let fill = op(move |_round, t, i| {
        let st = st.clone();
        let e = e.clone();
        async move {
            let key = format!("{LIST_PREFIX}{t:02}-{i:05}");
            st.create(&key, value("list")).await?;
            e.create(&key, value("list")).await?;
            Ok(())
        }
    });
    run(16, LIST_KEYS / 16, 0, fill).await?;
    let kv = env.raw.clone();
    let raw = op(move |_round, _t, _i| {
        let mut kv = kv.clone();
        async move {
            let mut resp = kv
                .get(LIST_PREFIX, Some(GetOptions::new().with_prefix()))
                .await?;
            if resp.take_kvs().len() != LIST_KEYS {
                return Err("raw list incomplete".into());
            }
            Ok(())
        }
    });
    let sides = [
        raw,
        store_list(env.store.clone()),
        store_list(env.embedded.clone()),
    ];
    measure("list 10k keys", tasks, per_task, &sides).await
}

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; ignore arguments.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut results = Vec::new();
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        let wanted = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);
        for tasks in [1usize, 16] {
            let per = |c1: usize, c16: usize| count(if tasks == 1 { c1 } else { c16 / tasks });
            if wanted("create") {
                eprintln!("creates, {tasks} task(s)...");
                results.push(bench_creates(tasks, per(200, 1120)).await?);
            }
            if wanted("update") {
                eprintln!("conditional updates, {tasks} task(s)...");
                results.push(bench_updates(tasks, per(200, 1120)).await?);
            }
            if wanted("get") {
                eprintln!("gets, {tasks} task(s)...");
                results.push(bench_gets(tasks, per(600, 3200)).await?);
            }
            if wanted("list") {
                eprintln!("lists, {tasks} task(s)...");
                results.push(bench_lists(tasks, per(3, 16)).await?);
            }
        }
        println!(
            "| operation | tasks | raw etcd-client (ops/s) | EtcdStore (ops/s) | EtcdStore / raw | EmbeddedStore (ops/s) | Embedded / raw etcd |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for m in &results {
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.2}× | {:.0} | {:.2}× |",
                m.name,
                m.tasks,
                m.raw,
                m.store,
                m.store_ratio,
                m.embedded,
                m.embedded_ratio
            );
        }
        Ok(())
    })
}
