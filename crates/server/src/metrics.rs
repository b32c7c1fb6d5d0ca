//! Prometheus metrics: requests by verb, resource and code with latency histograms, open watches.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

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
    open_watches: AtomicI64,
}

impl Metrics {
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
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.total
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_count{{{labels}}} {}",
                h.total
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
