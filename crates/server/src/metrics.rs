//! Prometheus metrics: requests by verb, resource and code with latency histograms, open watches.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use ironcore_storage::{
    DeleteResult, GetResult, ListOptions, ListResult, Revision, Store, StoreError, TxnOp,
    WatchStream, WriteResult,
};

const BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    total: u64,
}

/// The server's metrics registry.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    storage: Mutex<BTreeMap<String, Histogram>>,
    open_watches: AtomicI64,
}

fn record(h: &mut Histogram, elapsed: Duration) {
    if h.counts.is_empty() {
        h.counts = vec![0; BUCKETS.len()];
    }
    let secs = elapsed.as_secs_f64();
    for (i, b) in BUCKETS.iter().enumerate() {
        if secs <= *b {
            h.counts[i] += 1;
        }
    }
    h.sum += secs;
    h.total += 1;
}

fn render_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    for (i, b) in BUCKETS.iter().enumerate() {
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels},le=\"{b}\"}} {}",
            h.counts.get(i).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.total);
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.total);
}

impl Metrics {
    /// Records one storage operation.
    pub fn observe_storage(&self, operation: &str, elapsed: Duration) {
        let mut map = self.storage.lock().unwrap_or_else(|p| p.into_inner());
        record(map.entry(operation.to_owned()).or_default(), elapsed);
    }

    /// Records one finished request.
    pub fn observe(&self, verb: &str, resource: &str, code: u16, elapsed: Duration) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let h = map
            .entry((verb.to_owned(), resource.to_owned(), code))
            .or_insert_with(|| Histogram {
                counts: vec![0; BUCKETS.len()],
                ..Default::default()
            });
        let secs = elapsed.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.total += 1;
    }

    /// Counts a watch opening (+1) or closing (-1).
    pub fn watch_delta(&self, delta: i64) {
        self.open_watches.fetch_add(delta, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "# HELP apiserver_request_total Requests by verb, resource and HTTP code."
        );
        let _ = writeln!(out, "# TYPE apiserver_request_total counter");
        for ((verb, res, code), h) in map.iter() {
            let _ = writeln!(
                out,
                "apiserver_request_total{{verb=\"{verb}\",resource=\"{res}\",code=\"{code}\"}} {}",
                h.total
            );
        }
        let _ = writeln!(
            out,
            "# HELP apiserver_request_duration_seconds Request latency by verb and resource."
        );
        let _ = writeln!(out, "# TYPE apiserver_request_duration_seconds histogram");
        for ((verb, res, code), h) in map.iter() {
            let labels = format!("verb=\"{verb}\",resource=\"{res}\",code=\"{code}\"");
            render_histogram(&mut out, "apiserver_request_duration_seconds", &labels, h);
        }
        drop(map);
        let storage = self.storage.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "# HELP apiserver_storage_request_duration_seconds Storage operation latency."
        );
        let _ = writeln!(
            out,
            "# TYPE apiserver_storage_request_duration_seconds histogram"
        );
        for (op, h) in storage.iter() {
            let labels = format!("operation=\"{op}\"");
            render_histogram(
                &mut out,
                "apiserver_storage_request_duration_seconds",
                &labels,
                h,
            );
        }
        let _ = writeln!(
            out,
            "# HELP apiserver_longrunning_requests Open watch requests."
        );
        let _ = writeln!(out, "# TYPE apiserver_longrunning_requests gauge");
        let _ = writeln!(
            out,
            "apiserver_longrunning_requests{{verb=\"watch\"}} {}",
            self.open_watches.load(Ordering::Relaxed)
        );
        out
    }
}

/// Counts one open watch for as long as it lives.
pub struct WatchGauge(Arc<Metrics>);

impl WatchGauge {
    /// Counts a watch as open until the gauge is dropped.
    pub fn open(metrics: Arc<Metrics>) -> Self {
        metrics.watch_delta(1);
        WatchGauge(metrics)
    }
}

impl Drop for WatchGauge {
    fn drop(&mut self) {
        self.0.watch_delta(-1);
    }
}

/// A [`Store`] that records the latency of every operation in [`Metrics`].
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        MeteredStore { inner, metrics }
    }

    async fn timed<T>(&self, op: &str, f: impl std::future::Future<Output = T>) -> T {
        let start = std::time::Instant::now();
        let out = f.await;
        self.metrics.observe_storage(op, start.elapsed());
        out
    }
}

#[async_trait::async_trait]
impl Store for MeteredStore {
    async fn get(&self, key: &str, revision: Option<Revision>) -> Result<GetResult, StoreError> {
        self.timed("get", self.inner.get(key, revision)).await
    }
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult, StoreError> {
        self.timed("list", self.inner.list(prefix, opts)).await
    }
    async fn create(&self, key: &str, value: Bytes) -> Result<WriteResult, StoreError> {
        self.timed("create", self.inner.create(key, value)).await
    }
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<WriteResult, StoreError> {
        self.timed("update", self.inner.update(key, value, expected))
            .await
    }
    async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<DeleteResult, StoreError> {
        self.timed("delete", self.inner.delete(key, expected)).await
    }
    async fn txn(&self, ops: Vec<TxnOp>) -> Result<WriteResult, StoreError> {
        self.timed("txn", self.inner.txn(ops)).await
    }
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        self.inner.watch(prefix, after).await
    }
    async fn current_revision(&self) -> Result<Revision, StoreError> {
        self.timed("current_revision", self.inner.current_revision())
            .await
    }
    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.timed("compact", self.inner.compact(revision)).await
    }
}
