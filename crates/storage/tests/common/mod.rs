//! Backends for the storage tests: a fresh etcd or a fresh embedded store per test.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use ironcore_storage::{
    EmbeddedConfig, EmbeddedStore, EtcdConfig, EtcdStore, Store, StoreError, WatchEvent,
    WatchStream,
};
use ironcore_testing::EtcdProcess;

/// A store under test with whatever keeps it alive (the etcd process, the temp dir).
pub struct Backend {
    /// The store (dropped before the guard).
    pub store: Arc<dyn Store>,
    /// The etcd process, when the backend is etcd.
    pub etcd: Option<EtcdProcess>,
    /// The temporary directory of the embedded store.
    pub dir: Option<tempfile::TempDir>,
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// Starts a fresh etcd (fresh data dir, free loopback ports) and connects an `EtcdStore` to it.
pub async fn etcd() -> Backend {
    init_tracing();
    let etcd = tokio::task::spawn_blocking(EtcdProcess::start)
        .await
        .expect("etcd start task")
        .expect("etcd starts");
    let store = EtcdStore::connect(
        EtcdConfig::new([etcd.endpoint()])
            .with_compaction_interval(Duration::ZERO)
            .with_request_timeout(Duration::from_secs(10)),
    )
    .await
    .expect("connect to etcd");
    Backend {
        store: Arc::new(store),
        etcd: Some(etcd),
        dir: None,
    }
}

/// Opens a fresh embedded store in a temporary directory.
pub async fn embedded() -> Backend {
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(
        EmbeddedConfig::new(dir.path().join("store.redb")).with_compaction_interval(Duration::ZERO),
    )
    .expect("open embedded store");
    Backend {
        store: Arc::new(store),
        etcd: None,
        dir: Some(dir),
    }
}

/// The next watch event, failing the test after 10 s.
pub async fn next_event(w: &mut WatchStream) -> Result<WatchEvent, StoreError> {
    match tokio::time::timeout(Duration::from_secs(10), w.next()).await {
        Ok(Some(ev)) => ev,
        Ok(None) => panic!("watch stream ended"),
        Err(_) => panic!("no watch event within 10 s"),
    }
}

/// Asserts that no event arrives within `wait`.
pub async fn assert_quiet(w: &mut WatchStream, wait: Duration) {
    if let Ok(ev) = tokio::time::timeout(wait, w.next()).await {
        panic!("unexpected watch item: {ev:?}");
    }
}
