//! temporary probe
use ironcore_storage::{EmbeddedConfig, EmbeddedStore, Store};
use std::time::{Duration, Instant};
#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg =
        EmbeddedConfig::new(dir.path().join("x.redb")).with_compaction_interval(Duration::ZERO);
    cfg.checkpoint_interval = Duration::from_millis(
        std::env::var("CI_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5000),
    );
    let store = EmbeddedStore::open(cfg).unwrap();
    let v = bytes::Bytes::from(vec![b'x'; 1000]);
    for round in 0..10 {
        let mut lat = vec![];
        let t0 = Instant::now();
        for i in 0..1000 {
            let t = Instant::now();
            store
                .create(&format!("/k/{round}/{i}"), v.clone())
                .await
                .unwrap();
            lat.push(t.elapsed());
        }
        let total = t0.elapsed();
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
        println!(
            "{:.0}/s p50 {:?} p90 {:?} p99 {:?} max {:?}",
            1000.0 / total.as_secs_f64(),
            p(0.5),
            p(0.9),
            p(0.99),
            lat[lat.len() - 1]
        );
    }
}
