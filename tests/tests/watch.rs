//! Watch, list paging and the status subresource over raw HTTP (kube-rs's client carrying the
//! requests), on the embedded store and on etcd.

use std::collections::BTreeSet;
use std::time::Duration;

use ironcore_e2e::{
    Backend, RawResponse, Watch, collection, get_json, on_each_backend_async,
    on_each_backend_with_args, raw, rv_of,
};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(20);
const API_VERSION: &str = "networking.ironcore.dev/v1alpha1";

fn networks() -> String {
    collection("default", "networks")
}

fn network_json(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "Network",
        "metadata": {"name": name, "labels": labels},
        "spec": {}
    })
}

async fn create(c: &kube::Client, name: &str, labels: Value) -> Value {
    let res = raw(
        c,
        "POST",
        &networks(),
        Some("application/json"),
        network_json(name, labels).to_string().into_bytes(),
    )
    .await;
    assert_eq!(res.status, 201, "create {name}: {}", res.body);
    res.json()
}

async fn merge_patch(c: &kube::Client, name: &str, patch: Value) -> Value {
    let res = raw(
        c,
        "PATCH",
        &format!("{}/{name}", networks()),
        Some("application/merge-patch+json"),
        patch.to_string().into_bytes(),
    )
    .await;
    assert_eq!(res.status, 200, "patch {name}: {}", res.body);
    res.json()
}

async fn delete(c: &kube::Client, name: &str) -> RawResponse {
    let res = raw(
        c,
        "DELETE",
        &format!("{}/{name}", networks()),
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(res.status, 200, "delete {name}: {}", res.body);
    res
}

async fn open(c: &kube::Client, query: &str) -> Watch {
    let w = Watch::open(c, &format!("{}?watch=true&{query}", networks())).await;
    assert_eq!(w.status, 200, "watch ?{query}");
    let ct = w
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "watch Content-Type {ct:?}"
    );
    w
}

async fn next(w: &mut Watch) -> Value {
    w.next_change(TIMEOUT)
        .await
        .expect("watch ended before the expected event")
}

fn kind_name(ev: &Value) -> (String, String) {
    (
        ev["type"].as_str().unwrap_or_default().to_owned(),
        ev["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn kn(t: &str, n: &str) -> (String, String) {
    (t.to_owned(), n.to_owned())
}

#[test]
fn watch_without_resource_version_starts_with_added_for_existing_objects() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        create(&c, "n1", json!({})).await;
        create(&c, "n2", json!({})).await;
        let mut existing = BTreeSet::from(["n1".to_owned(), "n2".to_owned()]);
        for (i, query) in ["", "resourceVersion=0", "resourceVersion="]
            .iter()
            .enumerate()
        {
            let mut w = open(&c, query).await;
            let mut initial = BTreeSet::new();
            for _ in 0..existing.len() {
                let ev = next(&mut w).await;
                assert_eq!(ev["type"], "ADDED", "?{query}: {ev}");
                assert_eq!(ev["object"]["kind"], "Network", "{ev}");
                assert_eq!(ev["object"]["apiVersion"], API_VERSION, "{ev}");
                assert!(rv_of(&ev["object"]) > 0);
                initial.insert(kind_name(&ev).1);
            }
            assert_eq!(initial, existing, "?{query}");
            let name = format!("later{i}");
            let created = create(&c, &name, json!({})).await;
            let ev = next(&mut w).await;
            assert_eq!(kind_name(&ev), kn("ADDED", &name), "?{query}: {ev}");
            assert_eq!(
                ev["object"]["metadata"]["resourceVersion"],
                created["metadata"]["resourceVersion"]
            );
            existing.insert(name);
        }
    });
}

#[test]
fn watch_from_an_exact_resource_version_resumes_strictly_after_it() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let n1 = create(&c, "n1", json!({})).await;
        let from = rv_of(&n1);
        let modified = merge_patch(&c, "n1", json!({"metadata": {"labels": {"a": "b"}}})).await;
        let n2 = create(&c, "n2", json!({})).await;
        delete(&c, "n1").await;
        let mut w = open(&c, &format!("resourceVersion={from}")).await;
        let ev = next(&mut w).await;
        assert_eq!(kind_name(&ev), kn("MODIFIED", "n1"), "{ev}");
        assert_eq!(
            ev["object"]["metadata"]["resourceVersion"],
            modified["metadata"]["resourceVersion"]
        );
        assert_eq!(ev["object"]["metadata"]["labels"]["a"], "b");
        let ev = next(&mut w).await;
        assert_eq!(kind_name(&ev), kn("ADDED", "n2"), "{ev}");
        assert_eq!(
            ev["object"]["metadata"]["resourceVersion"],
            n2["metadata"]["resourceVersion"]
        );
        let ev = next(&mut w).await;
        assert_eq!(kind_name(&ev), kn("DELETED", "n1"), "{ev}");
        assert!(
            rv_of(&ev["object"]) > rv_of(&n2),
            "DELETED carries the deletion's revision: {ev}"
        );
        let more = w.changes_within(Duration::from_millis(1500)).await;
        assert!(more.is_empty(), "nothing else happened, yet: {more:?}");
        // Resuming from the last event's revision gives nothing old.
        let last = rv_of(&ev["object"]);
        let mut w = open(&c, &format!("resourceVersion={last}")).await;
        create(&c, "n3", json!({})).await;
        let ev = next(&mut w).await;
        assert_eq!(kind_name(&ev), kn("ADDED", "n3"), "{ev}");
    });
}

/// Asserts that `ev` is the ERROR event kube-apiserver sends for a watch from revision `old`.
fn assert_too_old(ev: &Value, old: i64) {
    assert_eq!(ev["type"], "ERROR", "{ev}");
    let st = &ev["object"];
    assert_eq!(st["kind"], "Status", "{ev}");
    assert_eq!(st["apiVersion"], "v1", "{ev}");
    assert_eq!(st["status"], "Failure", "{ev}");
    assert_eq!(st["code"], 410, "{ev}");
    assert_eq!(st["reason"], "Expired", "{ev}");
    assert!(
        st["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("too old resource version: {old} ("))),
        "{ev}"
    );
}

/// Whether a list at exactly revision `rv` is gone (410).
async fn list_at_is_gone(c: &kube::Client, rv: i64) -> bool {
    let uri = format!(
        "{}?resourceVersion={rv}&resourceVersionMatch=Exact",
        networks()
    );
    let res = raw(c, "GET", &uri, None, Vec::new()).await;
    match res.status.as_u16() {
        410 => {
            assert_eq!(res.json()["reason"], "Expired", "{}", res.body);
            true
        }
        200 => false,
        other => panic!("list at {rv}: {other} {}", res.body),
    }
}

#[test]
fn watch_from_a_compacted_resource_version_is_an_error_event_410_in_a_200_stream() {
    // On etcd the server's own compactor does the work, as in production.
    on_each_backend_with_args(&["--etcd-compaction-interval=1s"], |mut s| {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let c = s.client().await;
            let n1 = create(&c, "n1", json!({})).await;
            let old = rv_of(&n1);
            merge_patch(&c, "n1", json!({"metadata": {"labels": {"i": "1"}}})).await;
            match s.backend() {
                Backend::Embedded => s.compact_storage().await,
                Backend::Etcd(_) => {
                    let deadline = tokio::time::Instant::now() + TIMEOUT;
                    while !list_at_is_gone(&c, old).await {
                        assert!(
                            tokio::time::Instant::now() < deadline,
                            "etcd never compacted"
                        );
                        // Writes move the revision the compactor records for its next round.
                        merge_patch(&c, "n1", json!({"metadata": {"labels": {"i": "2"}}})).await;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    s.restart();
                }
            }
            let c = s.client().await;
            let mut w = open(
                &c,
                &format!("resourceVersion={old}&allowWatchBookmarks=true"),
            )
            .await;
            let ev = w
                .next_event(TIMEOUT)
                .await
                .expect("an ERROR event, not the end of the stream");
            assert_too_old(&ev, old);
            assert!(list_at_is_gone(&c, old).await);
        });
    });
}

#[test]
fn watch_cache_keeps_serving_after_an_external_compaction_and_a_restart() {
    on_each_backend_async(|mut s| async move {
        let c = s.client().await;
        let n1 = create(&c, "n1", json!({})).await;
        let old = rv_of(&n1);
        merge_patch(&c, "n1", json!({"metadata": {"labels": {"i": "1"}}})).await;
        s.compact_storage().await;
        let c = s.client().await;
        let mut w = open(&c, "").await;
        let ev = next(&mut w).await;
        assert_eq!(kind_name(&ev), kn("ADDED", "n1"), "{ev}");
        create(&c, "n2", json!({})).await;
        let ev = w.try_next_change(TIMEOUT).await.unwrap_or_else(|| {
            panic!("a write after the compaction and restart never reached the watcher")
        });
        assert_eq!(
            kind_name(&ev),
            kn("ADDED", "n2"),
            "new writes reach watchers: {ev}"
        );
        let mut w = open(&c, &format!("resourceVersion={old}")).await;
        let ev = w.next_event(TIMEOUT).await.expect("an ERROR event");
        assert_too_old(&ev, old);
    });
}

#[test]
fn watch_with_a_label_selector_sends_deleted_when_an_object_stops_matching() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        create(&c, "n1", json!({"env": "prod"})).await;
        create(&c, "n2", json!({"env": "dev"})).await;
        let mut w = open(&c, "labelSelector=env%3Dprod").await;
        let ev = next(&mut w).await;
        assert_eq!(kind_name(&ev), kn("ADDED", "n1"), "{ev}");
        let moved = merge_patch(&c, "n1", json!({"metadata": {"labels": {"env": "dev"}}})).await;
        let ev = next(&mut w).await;
        assert_eq!(kind_name(&ev), kn("DELETED", "n1"), "{ev}");
        assert_eq!(
            ev["object"]["metadata"]["resourceVersion"], moved["metadata"]["resourceVersion"],
            "the DELETED event carries the revision of the change: {ev}"
        );
        assert_eq!(
            ev["object"]["metadata"]["labels"]["env"], "prod",
            "the DELETED event carries the last state that matched: {ev}"
        );
        let ev_rv = merge_patch(&c, "n2", json!({"metadata": {"labels": {"env": "prod"}}})).await;
        let ev = next(&mut w).await;
        assert_eq!(
            kind_name(&ev),
            kn("ADDED", "n2"),
            "an object that starts matching is ADDED: {ev}"
        );
        assert_eq!(
            ev["object"]["metadata"]["resourceVersion"],
            ev_rv["metadata"]["resourceVersion"]
        );
        merge_patch(
            &c,
            "n1",
            json!({"spec": {"providerID": "ironcore-net://a/n1/1/u"}}),
        )
        .await;
        merge_patch(
            &c,
            "n2",
            json!({"spec": {"providerID": "ironcore-net://a/n2/1/u"}}),
        )
        .await;
        let ev = next(&mut w).await;
        assert_eq!(
            kind_name(&ev),
            kn("MODIFIED", "n2"),
            "changes to non-matching n1 are not sent: {ev}"
        );
    });
}

#[test]
fn watch_with_send_initial_events_ends_them_with_the_initial_events_end_bookmark() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        create(&c, "n1", json!({})).await;
        let n2 = create(&c, "n2", json!({})).await;
        let mut w = open(
            &c,
            "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
        )
        .await;
        let mut initial = BTreeSet::new();
        let bookmark = loop {
            let ev = w.next_event(TIMEOUT).await.expect("stream open");
            match ev["type"].as_str() {
                Some("ADDED") => {
                    initial.insert(kind_name(&ev).1);
                }
                Some("BOOKMARK") => break ev,
                _ => panic!("unexpected event before the initial-events-end bookmark: {ev}"),
            }
        };
        assert_eq!(initial, BTreeSet::from(["n1".to_owned(), "n2".to_owned()]));
        let obj = &bookmark["object"];
        assert_eq!(
            obj["metadata"]["annotations"]["k8s.io/initial-events-end"], "true",
            "the first bookmark ends the initial events: {bookmark}"
        );
        assert_eq!(obj["kind"], "Network", "{bookmark}");
        assert_eq!(obj["apiVersion"], API_VERSION, "{bookmark}");
        assert!(rv_of(obj) >= rv_of(&n2), "{bookmark}");
        create(&c, "n3", json!({})).await;
        let ev = next(&mut w).await;
        assert_eq!(kind_name(&ev), kn("ADDED", "n3"), "{ev}");
        // The same from an explicit resourceVersion.
        let from = rv_of(&n2);
        let mut w = open(
            &c,
            &format!("sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion={from}"),
        )
        .await;
        let mut initial = BTreeSet::new();
        loop {
            let ev = w.next_event(TIMEOUT).await.expect("stream open");
            if ev["type"] == "BOOKMARK" {
                assert_eq!(
                    ev["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true",
                    "{ev}"
                );
                break;
            }
            assert_eq!(ev["type"], "ADDED", "{ev}");
            initial.insert(kind_name(&ev).1);
        }
        assert_eq!(initial.len(), 3, "{initial:?}");
    });
}

#[test]
fn watch_bookmarks_carry_kind_and_api_version() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let n1 = create(&c, "n1", json!({})).await;
        // The harness starts servers with --watch-bookmark-interval=1s.
        let mut w = open(
            &c,
            &format!("allowWatchBookmarks=true&resourceVersion={}", rv_of(&n1)),
        )
        .await;
        let ev = w.next_event(TIMEOUT).await.expect("a bookmark");
        assert_eq!(ev["type"], "BOOKMARK", "{ev}");
        let obj = &ev["object"];
        assert_eq!(obj["kind"], "Network", "{ev}");
        assert_eq!(obj["apiVersion"], API_VERSION, "{ev}");
        assert!(rv_of(obj) >= rv_of(&n1), "{ev}");
        // kube-rs parses it as a bookmark.
        let parsed: kube::core::WatchEvent<ironcore_api::networking::Network> =
            serde_json::from_value(ev.clone()).expect("kube-rs WatchEvent");
        assert!(
            matches!(parsed, kube::core::WatchEvent::Bookmark(_)),
            "{ev}"
        );
        // Without allowWatchBookmarks, none are sent.
        let mut w = open(&c, &format!("resourceVersion={}", rv_of(&n1))).await;
        let none = tokio::time::timeout(Duration::from_millis(2500), w.next_event(TIMEOUT)).await;
        assert!(
            none.is_err(),
            "unexpected event without allowWatchBookmarks: {none:?}"
        );
    });
}

#[test]
fn watch_with_timeout_seconds_ends_the_stream_cleanly() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        create(&c, "n1", json!({})).await;
        let started = std::time::Instant::now();
        let mut w = open(&c, "timeoutSeconds=1").await;
        let ev = next(&mut w).await;
        assert_eq!(kind_name(&ev), kn("ADDED", "n1"));
        let rest = w.changes_within(TIMEOUT).await;
        assert!(rest.is_empty(), "{rest:?}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the stream outlived timeoutSeconds"
        );
        assert!(
            w.next_event(Duration::from_secs(1)).await.is_none(),
            "the stream ended"
        );
    });
}

#[test]
fn graceful_shutdown_ends_open_watches_cleanly_and_exits_zero() {
    on_each_backend_async(|mut s| async move {
        let c = s.client().await;
        create(&c, "n1", json!({})).await;
        let mut w = open(&c, "").await;
        assert_eq!(kind_name(&next(&mut w).await), kn("ADDED", "n1"));
        let status = tokio::task::spawn_blocking(move || s.terminate())
            .await
            .expect("join")
            .expect("server was running");
        assert!(status.success(), "exit status {status:?}");
        let rest = w.changes_within(Duration::from_secs(5)).await;
        assert!(rest.is_empty(), "{rest:?}");
        assert!(
            w.next_event(Duration::from_secs(1)).await.is_none(),
            "the stream ended"
        );
    });
}

#[test]
fn list_pages_with_limit_and_continue_at_one_snapshot() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        for i in 0..5 {
            create(&c, &format!("n{i}"), json!({})).await;
        }
        let first = get_json(&c, &format!("{}?limit=2", networks())).await;
        assert_eq!(first["kind"], "NetworkList");
        assert_eq!(first["apiVersion"], API_VERSION);
        let snapshot = first["metadata"]["resourceVersion"].clone();
        assert_eq!(first["metadata"]["remainingItemCount"], 3, "{first}");
        let mut names: Vec<String> = Vec::new();
        let mut page = first;
        let mut pages = 0;
        // Written between pages: the pages keep showing the first page's snapshot.
        create(&c, "n9", json!({})).await;
        loop {
            pages += 1;
            let items = page["items"].as_array().expect("items").clone();
            assert!(items.len() <= 2, "{page}");
            names.extend(items.iter().map(|i| {
                i["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }));
            assert_eq!(page["metadata"]["resourceVersion"], snapshot, "{page}");
            let Some(token) = page["metadata"]["continue"]
                .as_str()
                .filter(|t| !t.is_empty())
            else {
                break;
            };
            let token: String = token
                .chars()
                .map(|ch| match ch {
                    '+' => "%2B".to_owned(),
                    '/' => "%2F".to_owned(),
                    '=' => "%3D".to_owned(),
                    ch => ch.to_string(),
                })
                .collect();
            page = get_json(&c, &format!("{}?limit=2&continue={token}", networks())).await;
        }
        assert_eq!(pages, 3);
        assert_eq!(names, ["n0", "n1", "n2", "n3", "n4"]);
        // A fresh list sees the new object; a bad token is a bad request.
        let all = get_json(&c, &networks()).await;
        assert_eq!(all["items"].as_array().map(Vec::len), Some(6));
        assert!(
            all["metadata"]
                .get("continue")
                .is_none_or(|t| t.as_str() == Some("")),
            "{all}"
        );
        let res = raw(
            &c,
            "GET",
            &format!("{}?limit=2&continue=not-a-token", networks()),
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(res.status, 400, "{}", res.body);
    });
}

#[test]
fn status_subresource_writes_only_status_and_the_main_resource_only_the_rest() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        let created = create(&c, "n1", json!({})).await;
        let status_uri = format!("{}/n1/status", networks());
        let got = get_json(&c, &status_uri).await;
        assert_eq!(got["metadata"]["uid"], created["metadata"]["uid"]);

        // PUT /status: the status is taken, the spec and labels are not.
        let mut body = got.clone();
        body["status"] = json!({"state": "Available"});
        body["spec"] = json!({"providerID": "ironcore-net://a/n1/1/u"});
        let res = raw(
            &c,
            "PUT",
            &status_uri,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let put = res.json();
        assert_eq!(put["status"]["state"], "Available", "{put}");
        assert!(put["spec"].get("providerID").is_none(), "{put}");
        assert_eq!(put["metadata"]["generation"], 1, "{put}");
        assert!(rv_of(&put) > rv_of(&created));

        // PATCH /status likewise.
        let res = raw(
            &c,
            "PATCH",
            &status_uri,
            Some("application/merge-patch+json"),
            br#"{"spec":{"providerID":"x"},"status":{"state":"Error"}}"#.to_vec(),
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let patched = res.json();
        assert_eq!(patched["status"]["state"], "Error");
        assert!(patched["spec"].get("providerID").is_none(), "{patched}");

        // The main resource ignores status and bumps generation for the spec.
        let res = raw(
            &c,
            "PATCH",
            &format!("{}/n1", networks()),
            Some("application/merge-patch+json"),
            br#"{"spec":{"providerID":"ironcore-net://a/n1/1/u"},"status":{"state":"Available"}}"#
                .to_vec(),
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let main = res.json();
        assert_eq!(main["status"]["state"], "Error", "{main}");
        assert_eq!(main["spec"]["providerID"], "ironcore-net://a/n1/1/u");
        assert_eq!(main["metadata"]["generation"], 2);

        // A stale resourceVersion on /status is a conflict.
        let res = raw(
            &c,
            "PUT",
            &status_uri,
            Some("application/json"),
            got.to_string().into_bytes(),
        )
        .await;
        assert_eq!(res.status, 409, "{}", res.body);

        // A kind without status has no /status.
        let lbr = collection("default", "loadbalancerroutings");
        let res = raw(
            &c,
            "POST",
            &lbr,
            Some("application/json"),
            json!({"apiVersion": API_VERSION, "kind": "LoadBalancerRouting", "metadata": {"name": "r"},
                   "networkRef": {"name": "net"}, "destinations": []})
            .to_string()
            .into_bytes(),
        )
        .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let res = raw(&c, "GET", &format!("{lbr}/r/status"), None, Vec::new()).await;
        assert_eq!(res.status, 404, "{}", res.body);
    });
}

/// The open-watch gauge of `/metrics`.
async fn open_watches(c: &kube::Client) -> i64 {
    let res = raw(c, "GET", "/metrics", None, Vec::new()).await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body
        .lines()
        .find_map(|l| l.strip_prefix("apiserver_longrunning_requests{verb=\"watch\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no open-watch gauge in /metrics:\n{}", res.body))
}

#[test]
fn metrics_count_open_watches() {
    on_each_backend_async(|s| async move {
        let c = s.client().await;
        assert_eq!(open_watches(&c).await, 0);
        let w1 = open(&c, "").await;
        let w2 = open(&c, "allowWatchBookmarks=true").await;
        assert_eq!(open_watches(&c).await, 2);
        drop(w1);
        drop(w2);
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while open_watches(&c).await != 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "closed watches still counted"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}
