//! The storage conformance suite: every case runs against etcd (a real etcd started per test on
//! free loopback ports with a fresh data directory) and against the embedded store.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ironcore_storage::{
    Condition, EventType, KeyValue, ListOptions, Revision, Store, StoreError, TxnOp,
};

use common::{assert_quiet, next_event};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn val(kv: &KeyValue) -> &str {
    std::str::from_utf8(&kv.value).expect("utf-8 value")
}

macro_rules! suite {
    ($backend:ident) => {
        mod $backend {
            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        let backend = crate::common::$backend().await;
                        crate::cases::$name(backend.store.clone()).await;
                    }
                };
            }
            case!(create_on_existing_key_returns_current);
            case!(conditional_writes_conflict_with_current_value);
            case!(get_at_past_and_future_revisions);
            case!(list_paging_is_consistent_at_its_revision_under_writes);
            case!(watch_replays_missed_events_in_order_then_live_ones);
            case!(watch_from_compacted_revision_errors);
            case!(reads_at_compacted_revision_error);
            case!(transactions_are_atomic);
            case!(delete_events_carry_previous_value);
            case!(concurrent_counter_increments_lose_no_update);
        }
    };
}

suite!(etcd);
suite!(embedded);

mod cases {
    use super::*;

    pub async fn create_on_existing_key_returns_current(s: Arc<dyn Store>) {
        let r1 = s.create("/c/a", b("one")).await.expect("create");
        match s.create("/c/a", b("two")).await {
            Err(StoreError::AlreadyExists { key, current }) => {
                assert_eq!(key, "/c/a");
                assert_eq!(val(&current), "one");
                assert_eq!(current.create_revision, r1.revision);
                assert_eq!(current.mod_revision, r1.revision);
            }
            other => panic!("expected AlreadyExists, got {other:?}"),
        }
        // Nothing was written by the failed create.
        assert_eq!(s.current_revision().await.expect("rev"), r1.revision);
        let got = s.get("/c/a", None).await.expect("get");
        assert_eq!(got.kv.as_ref().map(val), Some("one"));
        assert_eq!(got.revision, r1.revision);
        // After a delete the key can be created again, with a new create revision.
        let d = s.delete("/c/a", None).await.expect("delete");
        let r2 = s.create("/c/a", b("three")).await.expect("re-create");
        assert!(r2.revision > d.revision);
        let kv = s.get("/c/a", None).await.expect("get").kv.expect("present");
        assert_eq!(kv.create_revision, r2.revision);
    }

    pub async fn conditional_writes_conflict_with_current_value(s: Arc<dyn Store>) {
        let r1 = s.create("/cw/a", b("v1")).await.expect("create").revision;
        let r2 = s
            .update("/cw/a", b("v2"), r1)
            .await
            .expect("update")
            .revision;
        assert!(r2 > r1);
        // A stale update fails and carries the current value.
        match s.update("/cw/a", b("v3"), r1).await {
            Err(StoreError::Conflict {
                key,
                current: Some(current),
            }) => {
                assert_eq!(key, "/cw/a");
                assert_eq!(val(&current), "v2");
                assert_eq!(current.mod_revision, r2);
                assert_eq!(current.create_revision, r1);
            }
            other => panic!("expected Conflict with current, got {other:?}"),
        }
        // So does a stale delete.
        match s.delete("/cw/a", Some(r1)).await {
            Err(StoreError::Conflict {
                current: Some(current),
                ..
            }) => assert_eq!(current.mod_revision, r2),
            other => panic!("expected Conflict, got {other:?}"),
        }
        // Updates and deletes of an absent key conflict with no current value.
        match s.update("/cw/missing", b("x"), r2).await {
            Err(StoreError::Conflict { current: None, .. }) => {}
            other => panic!("expected Conflict without current, got {other:?}"),
        }
        match s.delete("/cw/missing", None).await {
            Err(StoreError::Conflict { current: None, .. }) => {}
            other => panic!("expected Conflict without current, got {other:?}"),
        }
        match s.delete("/cw/missing", Some(r2)).await {
            Err(StoreError::Conflict { current: None, .. }) => {}
            other => panic!("expected Conflict without current, got {other:?}"),
        }
        assert_eq!(s.current_revision().await.expect("rev"), r2);
        // The right revision succeeds.
        let d = s.delete("/cw/a", Some(r2)).await.expect("delete");
        assert_eq!(val(&d.prev), "v2");
        assert_eq!(d.prev.mod_revision, r2);
        assert!(d.revision > r2);
        assert!(s.get("/cw/a", None).await.expect("get").kv.is_none());
    }

    pub async fn get_at_past_and_future_revisions(s: Arc<dyn Store>) {
        let r1 = s.create("/g/a", b("v1")).await.expect("create").revision;
        let r2 = s
            .update("/g/a", b("v2"), r1)
            .await
            .expect("update")
            .revision;
        let r3 = s.delete("/g/a", None).await.expect("delete").revision;
        let at = |r| {
            let s = s.clone();
            async move { s.get("/g/a", Some(r)).await.expect("get at revision") }
        };
        assert!(at(r1 - 1).await.kv.is_none());
        let g1 = at(r1).await;
        assert_eq!(g1.revision, r1);
        assert_eq!(g1.kv.as_ref().map(val), Some("v1"));
        assert_eq!(at(r2).await.kv.as_ref().map(|kv| kv.mod_revision), Some(r2));
        assert!(at(r3).await.kv.is_none());
        match s.get("/g/a", Some(r3 + 100)).await {
            Err(StoreError::FutureRevision { requested, current }) => {
                assert_eq!(requested, r3 + 100);
                assert_eq!(current, r3);
            }
            other => panic!("expected FutureRevision, got {other:?}"),
        }
    }

    pub async fn list_paging_is_consistent_at_its_revision_under_writes(s: Arc<dyn Store>) {
        let prefix = "/l/items/";
        let mut expected = BTreeMap::new();
        for i in 0..50 {
            let key = format!("{prefix}k{i:02}");
            let r = s.create(&key, b("v0")).await.expect("create").revision;
            expected.insert(key, r);
        }
        // Neighbours that share a string prefix but lie outside the listed prefix.
        s.create("/l/items", b("x")).await.expect("create");
        s.create("/l/items0", b("x")).await.expect("create");
        s.create("/l/itemz/k", b("x")).await.expect("create");

        let first = s
            .list(
                prefix,
                ListOptions {
                    limit: Some(10),
                    ..Default::default()
                },
            )
            .await
            .expect("first page");
        let rev = first.revision;
        assert_eq!(first.items.len(), 10);
        assert!(first.more);
        assert_eq!(first.remaining, 40);

        // Writes go on while the pages are read: update, delete and create under the prefix.
        let writer = {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    let key = format!("{prefix}k{i:02}");
                    let cur = s.get(&key, None).await.expect("get").kv.expect("present");
                    if i % 3 == 0 {
                        s.delete(&key, Some(cur.mod_revision))
                            .await
                            .expect("delete");
                    } else {
                        s.update(&key, b("v1"), cur.mod_revision)
                            .await
                            .expect("update");
                    }
                    s.create(&format!("{prefix}k{i:02}x"), b("new"))
                        .await
                        .expect("create");
                }
            })
        };

        let mut seen: Vec<KeyValue> = first.items.clone();
        let mut remaining = first.remaining;
        let mut more = first.more;
        while more {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let page = s
                .list(
                    prefix,
                    ListOptions {
                        start_after: seen.last().map(|kv| kv.key.clone()),
                        limit: Some(10),
                        revision: Some(rev),
                    },
                )
                .await
                .expect("next page");
            assert_eq!(
                page.revision, rev,
                "pages are served at the first page's revision"
            );
            assert_eq!(page.remaining, remaining - page.items.len() as i64);
            remaining = page.remaining;
            more = page.more;
            seen.extend(page.items);
        }
        assert_eq!(remaining, 0);
        let got: BTreeMap<String, Revision> = seen
            .iter()
            .map(|kv| {
                assert_eq!(val(kv), "v0", "{} seen with a later value", kv.key);
                (kv.key.clone(), kv.mod_revision)
            })
            .collect();
        assert_eq!(got.len(), seen.len(), "no key twice");
        assert!(
            seen.windows(2).all(|w| w[0].key < w[1].key),
            "keys in order"
        );
        assert_eq!(got, expected);

        writer.await.expect("writer");
        // The whole listing at the old revision is still the old state...
        let old = s
            .list(
                prefix,
                ListOptions {
                    revision: Some(rev),
                    ..Default::default()
                },
            )
            .await
            .expect("list at old revision");
        assert_eq!(old.items.len(), 50);
        assert!(!old.more);
        // ...and the current listing shows the writes.
        let now = s
            .list(prefix, ListOptions::default())
            .await
            .expect("list now");
        assert!(now.revision > rev);
        assert_eq!(now.items.len(), 50 - 17 + 50);
        assert!(now.items.iter().all(|kv| kv.key.starts_with(prefix)));
    }

    pub async fn watch_replays_missed_events_in_order_then_live_ones(s: Arc<dyn Store>) {
        let p = "/w/";
        let ra = s.create("/w/a", b("a1")).await.expect("create").revision;
        let rb = s
            .update("/w/a", b("a2"), ra)
            .await
            .expect("update")
            .revision;
        let rc = s.create("/w/b", b("b1")).await.expect("create").revision;
        let _outside = s.create("/x/outside", b("x")).await.expect("create");
        let rd = s.delete("/w/a", Some(rb)).await.expect("delete").revision;
        let re = s
            .txn(vec![
                TxnOp::Put {
                    key: "/w/c".into(),
                    value: b("c1"),
                    condition: Condition::Absent,
                },
                TxnOp::Put {
                    key: "/w/d".into(),
                    value: b("d1"),
                    condition: Condition::Absent,
                },
            ])
            .await
            .expect("txn")
            .revision;

        // From `ra`: everything after it, nothing at or before it.
        let mut w = s.watch(p, ra).await.expect("watch");
        let e = next_event(&mut w).await.expect("event");
        assert_eq!(
            (e.event_type, e.kv.key.as_str(), e.revision()),
            (EventType::Put, "/w/a", rb)
        );
        assert_eq!(val(&e.kv), "a2");
        assert_eq!(e.kv.create_revision, ra);
        assert_eq!(e.prev.as_ref().map(val), Some("a1"));
        let e = next_event(&mut w).await.expect("event");
        assert_eq!(
            (e.event_type, e.kv.key.as_str(), e.revision()),
            (EventType::Put, "/w/b", rc)
        );
        assert_eq!(e.kv.create_revision, rc);
        assert!(e.prev.is_none(), "a create has no previous value");
        let e = next_event(&mut w).await.expect("event");
        assert_eq!(
            (e.event_type, e.kv.key.as_str(), e.revision()),
            (EventType::Delete, "/w/a", rd)
        );
        assert_eq!(e.prev.as_ref().map(val), Some("a2"));
        let e1 = next_event(&mut w).await.expect("event");
        let e2 = next_event(&mut w).await.expect("event");
        assert_eq!((e1.kv.key.as_str(), e1.revision()), ("/w/c", re));
        assert_eq!((e2.kv.key.as_str(), e2.revision()), ("/w/d", re));

        // Then live events, exactly once.
        let rf = s
            .update("/w/b", b("b2"), rc)
            .await
            .expect("update")
            .revision;
        s.create("/x/outside2", b("x")).await.expect("create");
        let e = next_event(&mut w).await.expect("event");
        assert_eq!((e.kv.key.as_str(), e.revision()), ("/w/b", rf));
        assert_eq!(e.prev.as_ref().map(val), Some("b1"));
        assert_quiet(&mut w, Duration::from_millis(300)).await;

        // A watch from before the first write sees the first create too; one from the current
        // revision sees only what comes next.
        let mut all = s.watch(p, ra - 1).await.expect("watch");
        let e = next_event(&mut all).await.expect("event");
        assert_eq!((e.kv.key.as_str(), e.revision()), ("/w/a", ra));
        let now = s.current_revision().await.expect("rev");
        let mut fresh = s.watch(p, now).await.expect("watch");
        let rg = s.create("/w/g", b("g")).await.expect("create").revision;
        let e = next_event(&mut fresh).await.expect("event");
        assert_eq!((e.kv.key.as_str(), e.revision()), ("/w/g", rg));

        // A longer history is replayed completely and in order.
        let base = s.current_revision().await.expect("rev");
        let mut revs = Vec::new();
        for i in 0..1500 {
            revs.push(
                s.create(&format!("/w/many/{i:05}"), b("m"))
                    .await
                    .expect("create")
                    .revision,
            );
        }
        let mut many = s.watch("/w/many/", base).await.expect("watch");
        for r in revs {
            assert_eq!(next_event(&mut many).await.expect("event").revision(), r);
        }
        assert_quiet(&mut many, Duration::from_millis(200)).await;
    }

    pub async fn watch_from_compacted_revision_errors(s: Arc<dyn Store>) {
        let mut rev = s.create("/wc/k", b("0")).await.expect("create").revision;
        let first = rev;
        for i in 1..6 {
            rev = s
                .update("/wc/k", b(&i.to_string()), rev)
                .await
                .expect("update")
                .revision;
        }
        let compact_at = rev - 1;
        s.compact(compact_at).await.expect("compact");
        match s.watch("/wc/", first).await {
            Err(StoreError::Compacted { .. }) => {}
            Err(e) => panic!("expected Compacted, got {e:?}"),
            Ok(_) => panic!("expected Compacted, got a stream"),
        }
        match s.watch("/wc/", compact_at - 2).await {
            Err(StoreError::Compacted { .. }) => {}
            Err(e) => panic!("expected Compacted, got {e:?}"),
            Ok(_) => panic!("expected Compacted, got a stream"),
        }
        // The compacted revision itself is still watchable.
        let mut w = s.watch("/wc/", compact_at - 1).await.expect("watch");
        let e = next_event(&mut w).await.expect("event");
        assert_eq!(e.revision(), compact_at);
        let e = next_event(&mut w).await.expect("event");
        assert_eq!(e.revision(), rev);
        assert_eq!(e.prev.as_ref().map(|p| p.mod_revision), Some(compact_at));
    }

    pub async fn reads_at_compacted_revision_error(s: Arc<dyn Store>) {
        let r1 = s.create("/rc/a", b("1")).await.expect("create").revision;
        let r2 = s
            .update("/rc/a", b("2"), r1)
            .await
            .expect("update")
            .revision;
        let r3 = s
            .update("/rc/a", b("3"), r2)
            .await
            .expect("update")
            .revision;
        s.create("/rc/b", b("b")).await.expect("create");
        s.compact(r3).await.expect("compact");
        match s.get("/rc/a", Some(r2)).await {
            Err(StoreError::Compacted { requested, .. }) => assert_eq!(requested, r2),
            other => panic!("expected Compacted, got {other:?}"),
        }
        let list = s
            .list(
                "/rc/",
                ListOptions {
                    revision: Some(r1),
                    limit: Some(1),
                    ..Default::default()
                },
            )
            .await;
        assert!(
            matches!(list, Err(StoreError::Compacted { .. })),
            "list at a compacted revision: {list:?}"
        );
        // The compaction revision itself can still be read.
        let at = s
            .get("/rc/a", Some(r3))
            .await
            .expect("get at compaction revision");
        assert_eq!(at.kv.as_ref().map(val), Some("3"));
        let listed = s
            .list(
                "/rc/",
                ListOptions {
                    revision: Some(r3),
                    ..Default::default()
                },
            )
            .await
            .expect("list at compaction revision");
        assert_eq!(listed.items.len(), 1);
        // Compacting again at or below is a no-op; beyond the current revision is an error.
        s.compact(r2).await.expect("compact below");
        s.compact(r3).await.expect("compact again");
        let now = s.current_revision().await.expect("rev");
        assert!(matches!(
            s.compact(now + 10).await,
            Err(StoreError::FutureRevision { .. })
        ));
        // Current reads still work, and writes continue.
        s.update("/rc/a", b("4"), r3).await.expect("update");
    }

    pub async fn transactions_are_atomic(s: Arc<dyn Store>) {
        let ra = s.create("/t/a", b("a1")).await.expect("create").revision;
        let before = s.current_revision().await.expect("rev");
        // A failing Absent condition: AlreadyExists with the current value, nothing written.
        match s
            .txn(vec![
                TxnOp::Put {
                    key: "/t/b".into(),
                    value: b("b1"),
                    condition: Condition::Absent,
                },
                TxnOp::Put {
                    key: "/t/c".into(),
                    value: b("c1"),
                    condition: Condition::None,
                },
                TxnOp::Put {
                    key: "/t/a".into(),
                    value: b("a2"),
                    condition: Condition::Absent,
                },
            ])
            .await
        {
            Err(StoreError::AlreadyExists { key, current }) => {
                assert_eq!(key, "/t/a");
                assert_eq!(val(&current), "a1");
            }
            other => panic!("expected AlreadyExists, got {other:?}"),
        }
        // A failing mod-revision condition: Conflict, nothing written.
        match s
            .txn(vec![
                TxnOp::Put {
                    key: "/t/b".into(),
                    value: b("b1"),
                    condition: Condition::Absent,
                },
                TxnOp::Delete {
                    key: "/t/a".into(),
                    condition: Condition::ModRevision(ra + 1000),
                },
            ])
            .await
        {
            Err(StoreError::Conflict {
                key,
                current: Some(current),
            }) => {
                assert_eq!(key, "/t/a");
                assert_eq!(current.mod_revision, ra);
            }
            other => panic!("expected Conflict, got {other:?}"),
        }
        assert_eq!(s.current_revision().await.expect("rev"), before);
        for k in ["/t/b", "/t/c"] {
            assert!(
                s.get(k, None).await.expect("get").kv.is_none(),
                "{k} written"
            );
        }
        assert_eq!(
            s.get("/t/a", None)
                .await
                .expect("get")
                .kv
                .map(|kv| kv.mod_revision),
            Some(ra)
        );

        // A succeeding transaction writes everything at one revision.
        let mut w = s.watch("/t/", before).await.expect("watch");
        let r = s
            .txn(vec![
                TxnOp::Put {
                    key: "/t/b".into(),
                    value: b("b1"),
                    condition: Condition::Absent,
                },
                TxnOp::Put {
                    key: "/t/a".into(),
                    value: b("a2"),
                    condition: Condition::ModRevision(ra),
                },
                TxnOp::Delete {
                    key: "/t/absent".into(),
                    condition: Condition::None,
                },
            ])
            .await
            .expect("txn")
            .revision;
        assert_eq!(r, before + 1);
        let a = s.get("/t/a", None).await.expect("get").kv.expect("a");
        let bkv = s.get("/t/b", None).await.expect("get").kv.expect("b");
        assert_eq!((a.mod_revision, a.create_revision, val(&a)), (r, ra, "a2"));
        assert_eq!((bkv.mod_revision, bkv.create_revision), (r, r));
        let mut keys = [
            next_event(&mut w).await.expect("event"),
            next_event(&mut w).await.expect("event"),
        ];
        keys.sort_by(|x, y| x.kv.key.cmp(&y.kv.key));
        assert_eq!(keys[0].kv.key, "/t/a");
        assert_eq!(keys[0].prev.as_ref().map(val), Some("a1"));
        assert_eq!(keys[1].kv.key, "/t/b");
        assert!(keys.iter().all(|e| e.revision() == r));
        assert_quiet(&mut w, Duration::from_millis(200)).await;

        // Deletes with conditions, and a mixed transaction.
        let r2 = s
            .txn(vec![
                TxnOp::Delete {
                    key: "/t/a".into(),
                    condition: Condition::ModRevision(r),
                },
                TxnOp::Put {
                    key: "/t/b".into(),
                    value: b("b2"),
                    condition: Condition::ModRevision(r),
                },
            ])
            .await
            .expect("txn")
            .revision;
        assert!(s.get("/t/a", None).await.expect("get").kv.is_none());
        assert_eq!(
            s.get("/t/b", None)
                .await
                .expect("get")
                .kv
                .map(|kv| kv.mod_revision),
            Some(r2)
        );
        // One key twice in one transaction is refused.
        assert!(
            s.txn(vec![
                TxnOp::Put {
                    key: "/t/z".into(),
                    value: b("1"),
                    condition: Condition::None,
                },
                TxnOp::Delete {
                    key: "/t/z".into(),
                    condition: Condition::None,
                },
            ])
            .await
            .is_err()
        );
    }

    pub async fn delete_events_carry_previous_value(s: Arc<dyn Store>) {
        let r1 = s.create("/d/a", b("v1")).await.expect("create").revision;
        let r2 = s
            .update("/d/a", b("v2"), r1)
            .await
            .expect("update")
            .revision;
        s.create("/d/b", b("b1")).await.expect("create");
        let mut w = s.watch("/d/", r2).await.expect("watch");
        let d = s.delete("/d/a", None).await.expect("delete");
        assert_eq!(val(&d.prev), "v2");
        assert_eq!(d.prev.mod_revision, r2);
        let rt = s
            .txn(vec![TxnOp::Delete {
                key: "/d/b".into(),
                condition: Condition::None,
            }])
            .await
            .expect("txn delete")
            .revision;
        // Skip the create of /d/b (it happened after r2).
        let e = next_event(&mut w).await.expect("event");
        assert_eq!(e.kv.key, "/d/b");
        for (key, rev, prev) in [("/d/a", d.revision, "v2"), ("/d/b", rt, "b1")] {
            let e = next_event(&mut w).await.expect("event");
            assert_eq!(e.event_type, EventType::Delete);
            assert_eq!(e.kv.key, key);
            assert_eq!(e.revision(), rev);
            assert!(e.kv.value.is_empty());
            assert_eq!(e.kv.create_revision, 0);
            let p = e.prev.expect("delete events carry the previous value");
            assert_eq!(val(&p), prev);
        }
        // Replayed from history, the delete events carry it too.
        let mut replay = s.watch("/d/a", r2).await.expect("watch");
        let e = next_event(&mut replay).await.expect("event");
        assert_eq!(e.event_type, EventType::Delete);
        assert_eq!(e.prev.as_ref().map(val), Some("v2"));
    }

    pub async fn concurrent_counter_increments_lose_no_update(s: Arc<dyn Store>) {
        const WRITERS: usize = 32;
        const INCREMENTS: usize = 10;
        let start = s
            .create("/n/counter", b("0"))
            .await
            .expect("create")
            .revision;
        let mut tasks = Vec::new();
        for _ in 0..WRITERS {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut conflicts = 0usize;
                let mut cur = s
                    .get("/n/counter", None)
                    .await
                    .expect("get")
                    .kv
                    .expect("counter");
                for _ in 0..INCREMENTS {
                    loop {
                        let n: u64 = val(&cur).parse().expect("number");
                        let next = (n + 1).to_string();
                        match s.update("/n/counter", b(&next), cur.mod_revision).await {
                            Ok(w) => {
                                cur = KeyValue {
                                    value: b(&next),
                                    mod_revision: w.revision,
                                    ..cur
                                };
                                break;
                            }
                            Err(StoreError::Conflict {
                                current: Some(current),
                                ..
                            }) => {
                                conflicts += 1;
                                cur = current;
                            }
                            Err(e) => panic!("unexpected error: {e}"),
                        }
                    }
                }
                conflicts
            }));
        }
        let mut conflicts = 0;
        for t in tasks {
            conflicts += t.await.expect("writer task");
        }
        let kv = s
            .get("/n/counter", None)
            .await
            .expect("get")
            .kv
            .expect("counter");
        assert_eq!(val(&kv), (WRITERS * INCREMENTS).to_string());
        assert_eq!(kv.mod_revision, start + (WRITERS * INCREMENTS) as i64);
        assert_eq!(
            s.current_revision().await.expect("rev"),
            start + (WRITERS * INCREMENTS) as i64,
            "failed conditional writes must not consume revisions"
        );
        tracing::info!(conflicts, "counter done");
    }
}
