//! Tests of the etcd backend beyond the conformance suite: watches and reads across etcd
//! restarts, and TLS with client certificates.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use ironcore_storage::{EtcdConfig, EtcdStore, EventType, Revision, Store, StoreError};
use ironcore_testing::{EtcdProcess, EtcdServerTls};

use common::{assert_quiet, next_event};

/// Creates `key`, retrying while etcd is unreachable; a retry that finds the key present means
/// an earlier attempt landed. Returns the revision of the create.
async fn create_retrying(s: &dyn Store, key: &str) -> Revision {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match s.create(key, Bytes::from_static(b"v")).await {
            Ok(w) => return w.revision,
            Err(StoreError::AlreadyExists { current, .. }) => return current.mod_revision,
            Err(StoreError::Unavailable(e)) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "etcd unavailable, retrying create");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("create {key}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_survives_etcd_restarts_without_loss_or_duplicates() {
    let mut backend = common::etcd().await;
    let mut etcd = backend.etcd.take().expect("etcd backend");
    let s = backend.store.clone();
    let start = s.current_revision().await.expect("rev");
    let mut w = s.watch("/r/", start).await.expect("watch");

    // (revision, key, is_delete) of every write, in order.
    let mut written: Vec<(Revision, String, bool)> = Vec::new();
    for round in 0..3 {
        // A burst of writes, then etcd goes down before the watch could deliver them all.
        for i in 0..100 {
            let key = format!("/r/{round}/a{i:03}");
            let r = s
                .create(&key, Bytes::from_static(b"v"))
                .await
                .expect("create");
            written.push((r.revision, key, false));
        }
        for i in (0..100).step_by(10) {
            let key = format!("/r/{round}/a{i:03}");
            let d = s.delete(&key, None).await.expect("delete");
            written.push((d.revision, key, true));
        }
        etcd = tokio::task::spawn_blocking(move || {
            // Round 1 stops etcd gracefully; the others kill it like a crash.
            if round == 1 {
                etcd.stop().expect("stop etcd");
            } else {
                etcd.kill().expect("kill etcd");
            }
            std::thread::sleep(Duration::from_millis(300));
            etcd.start_again().expect("restart etcd");
            etcd
        })
        .await
        .expect("restart task");
        // Writes right after the restart, while the watch is still reconnecting.
        for i in 0..50 {
            let key = format!("/r/{round}/b{i:03}");
            let r = create_retrying(&*s, &key).await;
            written.push((r, key, false));
        }
    }

    for (rev, key, is_delete) in &written {
        let e = next_event(&mut w).await.expect("watch event");
        assert_eq!(
            (e.revision(), e.kv.key.as_str()),
            (*rev, key.as_str()),
            "events arrive once each, in order"
        );
        if *is_delete {
            assert_eq!(e.event_type, EventType::Delete);
            assert!(e.prev.is_some(), "delete events keep their previous value");
        }
    }
    assert_quiet(&mut w, Duration::from_secs(1)).await;
    // The watch is still live after the restarts.
    let r = s
        .create("/r/final", Bytes::from_static(b"v"))
        .await
        .expect("create");
    let e = next_event(&mut w).await.expect("event");
    assert_eq!(e.revision(), r.revision);
    drop(etcd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_recover_after_etcd_restart() {
    let mut backend = common::etcd().await;
    let mut etcd = backend.etcd.take().expect("etcd backend");
    let s = backend.store.clone();
    let r = s
        .create("/rr/a", Bytes::from_static(b"v"))
        .await
        .expect("create");
    etcd = tokio::task::spawn_blocking(move || {
        etcd.kill().expect("kill etcd");
        etcd
    })
    .await
    .expect("kill task");
    // A read while etcd is down waits (and retries) until it is back.
    let reader = {
        let s = s.clone();
        tokio::spawn(async move { s.get("/rr/a", None).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let etcd = tokio::task::spawn_blocking(move || {
        etcd.start_again().expect("restart etcd");
        etcd
    })
    .await
    .expect("restart task");
    let got = reader.await.expect("reader").expect("read after restart");
    assert_eq!(got.kv.map(|kv| kv.mod_revision), Some(r.revision));
    drop(etcd);
}

/// A CA, a serving certificate for 127.0.0.1 and a client certificate, as PEM files in `dir`.
fn write_test_pki(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf, PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ironcore test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca cert");

    let leaf = |name: &str, sans: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let mut params = CertificateParams::new(sans).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &ca).expect("leaf cert");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(
        "etcd",
        vec!["127.0.0.1".into(), "localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(
        "ironcore-apiserver",
        vec![],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let write = |name: &str, pem: &str| {
        let path = dir.join(name);
        std::fs::write(&path, pem).expect("write pem");
        path
    };
    (
        write("ca.pem", &ca.pem()),
        write("server.pem", &server_cert),
        write("server-key.pem", &server_key),
        write("client.pem", &client_cert),
        write("client-key.pem", &client_key),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connects_over_tls_with_client_certificate() {
    common::init_tracing();
    let pki = tempfile::tempdir().expect("temp dir");
    let (ca, server_cert, server_key, client_cert, client_key) = write_test_pki(pki.path());
    let tls = EtcdServerTls {
        cert_file: server_cert,
        key_file: server_key,
        client_ca_file: Some(ca.clone()),
    };
    let etcd = tokio::task::spawn_blocking(move || EtcdProcess::start_tls(tls))
        .await
        .expect("start task")
        .expect("etcd with TLS starts");
    assert!(etcd.endpoint().starts_with("https://"));
    // --etcd-servers, --etcd-cafile, --etcd-certfile, --etcd-keyfile
    let config = EtcdConfig::from_servers_flag(&etcd.endpoint())
        .with_tls_files(Some(ca.clone()), Some(client_cert), Some(client_key))
        .with_compaction_interval(Duration::ZERO);
    let store = EtcdStore::connect(config).await.expect("connect over TLS");
    let r = store
        .create("/tls/a", Bytes::from_static(b"v"))
        .await
        .expect("create over TLS");
    let mut w = store.watch("/tls/", r.revision - 1).await.expect("watch");
    assert_eq!(
        next_event(&mut w).await.expect("event").revision(),
        r.revision
    );
    // Without a client certificate etcd refuses the connection.
    let no_cert = EtcdConfig::from_servers_flag(&etcd.endpoint())
        .with_tls_files(Some(ca), None, None)
        .with_compaction_interval(Duration::ZERO)
        .with_request_timeout(Duration::from_secs(3));
    assert!(EtcdStore::connect(no_cert).await.is_err());
}
