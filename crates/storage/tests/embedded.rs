//! Tests of the embedded store beyond the conformance suite: crash durability (a child process
//! killed with SIGKILL mid-writes), slow watchers, history cleanup after compaction, reopening,
//! and periodic compaction.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ironcore_storage::{
    EmbeddedConfig, EmbeddedStore, EventType, ListOptions, Revision, Store, StoreError,
};

use common::{assert_quiet, next_event};

const CHILD_DB_ENV: &str = "IRONCORE_DURABILITY_CHILD_DB";
const CHILD_ROUND_ENV: &str = "IRONCORE_DURABILITY_CHILD_ROUND";

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn val(v: &Bytes) -> String {
    String::from_utf8(v.to_vec()).expect("utf-8 value")
}

/// The child half of `acknowledged_writes_survive_sigkill`: a no-op unless started by it.
/// Writes as fast as it can from 8 tasks and prints one `ACK` line per acknowledged write,
/// until it is killed (or 60 s pass).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn durability_child_writer() {
    let Some(path) = std::env::var_os(CHILD_DB_ENV) else {
        return;
    };
    let round = std::env::var(CHILD_ROUND_ENV).unwrap_or_default();
    let mut config = EmbeddedConfig::new(path);
    // Checkpoint often, so that the parent's kills land before and after checkpoints.
    config.checkpoint_interval = Duration::from_millis(500);
    let store = Arc::new(EmbeddedStore::open(config).expect("open"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let ack = |line: String| {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").expect("stdout");
        out.flush().expect("stdout");
    };
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        let round = round.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("/dur/{round}/{t}");
            let mut rev = store.create(&key, b("0")).await.expect("create").revision;
            ack(format!("ACK {key} 0 {rev}"));
            let mut i = 1u64;
            while Instant::now() < deadline {
                rev = store
                    .update(&key, b(&i.to_string()), rev)
                    .await
                    .expect("update")
                    .revision;
                ack(format!("ACK {key} {i} {rev}"));
                let fresh = format!("/dur/{round}/{t}/{i}");
                let r = store
                    .create(&fresh, b("new"))
                    .await
                    .expect("create")
                    .revision;
                ack(format!("ACK {fresh} new {r}"));
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    common::init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("store.redb");
    let exe = std::env::current_exe().expect("test binary");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut last_revision = 0;
    for round in 0..3 {
        let mut child = Command::new(&exe)
            .args([
                "durability_child_writer",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_DB_ENV, &db)
            .env(CHILD_ROUND_ENV, round.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut acks: Vec<(String, String, Revision)> = Vec::new();
        // Round 0 dies before the first checkpoint (everything is replayed from the
        // write-ahead log), rounds 1 and 2 after one or more checkpoints.
        let min_acks = 300;
        let run_for = [
            Duration::ZERO,
            Duration::from_millis(1300),
            Duration::from_millis(2600),
        ][round];
        let started = Instant::now();
        // Read until enough writes were acknowledged, then kill the child mid-writes...
        for line in lines.by_ref() {
            let line = line.expect("read child output");
            if let Some(ack) = parse_ack(&line) {
                acks.push(ack);
            }
            if (acks.len() >= min_acks && started.elapsed() >= run_for)
                || started.elapsed() > Duration::from_secs(30)
            {
                break;
            }
        }
        child.kill().expect("SIGKILL the child");
        // ...and take every acknowledgement it printed before it died.
        for line in lines {
            let Ok(line) = line else { break };
            if let Some(ack) = parse_ack(&line) {
                acks.push(ack);
            }
        }
        child.wait().expect("reap child");
        assert!(
            acks.len() >= min_acks,
            "round {round}: child acknowledged only {} writes",
            acks.len()
        );

        rt.block_on(async {
            let store = EmbeddedStore::open_path(&db).expect("reopen after kill");
            let current = store.current_revision().await.expect("rev");
            let max_acked = acks.iter().map(|a| a.2).max().unwrap_or(0);
            assert!(
                current >= max_acked,
                "revision {current} < acked {max_acked}"
            );
            assert!(current > last_revision);
            last_revision = current;
            // Every acknowledged write is there: at its revision, and as the latest value (or
            // the one in-flight write after it).
            let mut newest: HashMap<&str, (&str, Revision)> = HashMap::new();
            for (key, value, rev) in &acks {
                let at = store.get(key, Some(*rev)).await.expect("get at revision");
                let kv = at.kv.unwrap_or_else(|| panic!("acked {key}@{rev} missing"));
                assert_eq!(val(&kv.value), *value, "{key}@{rev}");
                assert_eq!(kv.mod_revision, *rev);
                let e = newest.entry(key).or_insert((value, *rev));
                if *rev > e.1 {
                    *e = (value, *rev);
                }
            }
            for (key, (value, rev)) in newest {
                let kv = store
                    .get(key, None)
                    .await
                    .expect("get")
                    .kv
                    .unwrap_or_else(|| panic!("{key} missing"));
                if kv.mod_revision != rev {
                    // Only the counter keys have a next write, acknowledged or not.
                    let n: u64 = value.parse().expect("counter value");
                    assert_eq!(val(&kv.value), (n + 1).to_string(), "{key}");
                }
            }
            tracing::info!(
                round,
                acks = acks.len(),
                current,
                "all acknowledged writes present"
            );
        });
    }
}

fn parse_ack(line: &str) -> Option<(String, String, Revision)> {
    let mut parts = line.strip_prefix("ACK ")?.split(' ');
    let key = parts.next()?.to_owned();
    let value = parts.next()?.to_owned();
    let rev = parts.next()?.parse().ok()?;
    Some((key, value, rev))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_watcher_neither_blocks_writers_nor_loses_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = EmbeddedConfig::new(dir.path().join("s.redb"));
    config.watch_buffer = 16;
    let store = Arc::new(EmbeddedStore::open(config).expect("open"));
    let start = store.current_revision().await.expect("rev");
    let mut w = store.watch("/slow/", start).await.expect("watch");
    // 16 writers, 2400 writes, while the watcher reads nothing.
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..150 {
                revs.push(
                    store
                        .create(&format!("/slow/{t:02}/{i:03}"), b("x"))
                        .await
                        .expect("create")
                        .revision,
                );
            }
            revs
        }));
    }
    let mut written = Vec::new();
    for t in tasks {
        written.extend(
            tokio::time::timeout(Duration::from_secs(60), t)
                .await
                .expect("writers not blocked")
                .expect("task"),
        );
    }
    written.sort_unstable();
    let mut seen = Vec::new();
    for _ in 0..written.len() {
        let e = next_event(&mut w).await.expect("event");
        assert_eq!(e.event_type, EventType::Put);
        seen.push(e.revision());
    }
    assert_eq!(seen, written, "every event once, in revision order");
    assert_quiet(&mut w, Duration::from_millis(200)).await;
    // And live events follow.
    let r = store
        .create("/slow/last", b("x"))
        .await
        .expect("create")
        .revision;
    assert_eq!(next_event(&mut w).await.expect("event").revision(), r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_cleans_history_and_reads_stay_correct() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("c.redb");
    let store =
        EmbeddedStore::open(EmbeddedConfig::new(&path).with_compaction_interval(Duration::ZERO))
            .expect("open");
    // Keys with several versions, deletes and re-creates.
    for i in 0..40 {
        let key = format!("/h/k{i:02}");
        let mut rev = store.create(&key, b("0")).await.expect("create").revision;
        for v in 1..5 {
            rev = store
                .update(&key, b(&v.to_string()), rev)
                .await
                .expect("update")
                .revision;
        }
        if i % 4 == 0 {
            store.delete(&key, None).await.expect("delete");
        }
        if i % 8 == 0 {
            store.create(&key, b("again")).await.expect("re-create");
        }
    }
    let at = store.current_revision().await.expect("rev");
    let snapshot = |rev| {
        let store = store.clone();
        async move {
            store
                .list(
                    "/h/",
                    ListOptions {
                        revision: Some(rev),
                        ..Default::default()
                    },
                )
                .await
                .expect("list")
                .items
        }
    };
    let expected_at = snapshot(at).await;
    // More history after the compaction point.
    for i in 0..40 {
        let key = format!("/h/k{i:02}");
        if let Some(kv) = store.get(&key, None).await.expect("get").kv {
            store
                .update(&key, b("after"), kv.mod_revision)
                .await
                .expect("update");
        }
    }
    let before = store.stats().await.expect("stats");
    store.compact(at).await.expect("compact");
    // Cleanup runs in the background; wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let s = store.stats().await.expect("stats");
        if s.log_entries <= (s.revision - at + 1) as u64 || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(after.compacted, at);
    assert!(after.versions < before.versions, "{before:?} -> {after:?}");
    assert_eq!(after.log_entries, (after.revision - at + 1) as u64);
    // Per key: its value at the compaction revision (and, for the key written exactly there,
    // the value before it), plus the versions after it.
    assert!(after.versions <= (expected_at.len() + after.keys as usize + 1) as u64);

    assert_eq!(snapshot(at).await, expected_at);
    assert!(matches!(
        store.get("/h/k01", Some(at - 1)).await,
        Err(StoreError::Compacted { .. })
    ));
    // Events after the compaction revision still carry their previous values.
    let mut w = store.watch("/h/", at).await.expect("watch");
    let e = next_event(&mut w).await.expect("event");
    let prev = e.prev.expect("previous value survives compaction");
    assert_eq!(
        prev.mod_revision,
        expected_at
            .iter()
            .find(|kv| kv.key == e.kv.key)
            .expect("key at compaction")
            .mod_revision
    );

    // Reopening keeps the revision, the compaction and the data.
    let current = store.current_revision().await.expect("rev");
    let latest = snapshot(current).await;
    drop(w);
    drop(store);
    let store = EmbeddedStore::open_path(&path).expect("reopen");
    assert_eq!(store.current_revision().await.expect("rev"), current);
    assert_eq!(store.compacted_revision(), at);
    let now = store
        .list("/h/", ListOptions::default())
        .await
        .expect("list")
        .items;
    assert_eq!(now, latest);
    let r = store
        .create("/h/new", b("n"))
        .await
        .expect("create")
        .revision;
    assert_eq!(r, current + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn periodic_compaction_keeps_one_interval_of_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(
        EmbeddedConfig::new(dir.path().join("p.redb"))
            .with_compaction_interval(Duration::from_millis(300)),
    )
    .expect("open");
    let mut revs: BTreeMap<Instant, Revision> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut i = 0;
    while Instant::now() < deadline {
        let r = store
            .create(&format!("/p/{i}"), b("x"))
            .await
            .expect("create")
            .revision;
        revs.insert(Instant::now(), r);
        i += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let compacted = store.compacted_revision();
    assert!(compacted > 1, "periodic compaction ran");
    // It never compacts what was written within the last interval.
    let recent = revs
        .range(Instant::now() - Duration::from_millis(300)..)
        .map(|(_, r)| *r)
        .min()
        .expect("recent writes");
    assert!(
        compacted <= recent,
        "compacted {compacted} > recent {recent}"
    );
}
