//! Flags and start-up shared by the API server binaries.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ironcore_server::serve::{
    bind, install_crypto_provider, load_tls_requesting_client_certs, self_signed, serve,
};
use ironcore_server::watch::WatchSettings;
use ironcore_server::{ApiServer, Registry, ServerSettings};
use ironcore_storage::Store;
use ironcore_storage::embedded::EmbeddedStore;
use ironcore_storage::etcd::{EtcdConfig, EtcdStore};

/// Serving and storage flags, named as kube-apiserver names them.
#[derive(Args, Debug, Clone)]
pub struct ServerFlags {
    /// Address to serve HTTPS on (use 0.0.0.0 in a cluster).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_address: IpAddr,
    /// Port to serve HTTPS on.
    #[arg(long, default_value_t = 8443)]
    pub secure_port: u16,
    /// PEM serving certificate; without it a self-signed one is generated into --cert-dir.
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of --tls-cert-file.
    #[arg(long)]
    pub tls_private_key_file: Option<PathBuf>,
    /// Directory for the generated self-signed certificate (apiserver.crt, apiserver.key).
    #[arg(long, default_value = "apiserver.local.config/certificates")]
    pub cert_dir: PathBuf,
    /// Also serve plain HTTP on 127.0.0.1 at this port (0 = off); for local tools only.
    #[arg(long, default_value_t = 0)]
    pub insecure_port: u16,
    /// Comma-separated etcd client URLs; without it the embedded store in --data-dir is used.
    #[arg(long)]
    pub etcd_servers: Option<String>,
    /// Key prefix of every object in storage.
    #[arg(long)]
    pub etcd_prefix: Option<String>,
    /// PEM CA bundle verifying etcd's serving certificate.
    #[arg(long)]
    pub etcd_cafile: Option<PathBuf>,
    /// PEM client certificate for etcd.
    #[arg(long)]
    pub etcd_certfile: Option<PathBuf>,
    /// PEM private key of --etcd-certfile.
    #[arg(long)]
    pub etcd_keyfile: Option<PathBuf>,
    /// How often storage history is compacted (e.g. 5m, 30s; 0 disables).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub etcd_compaction_interval: Duration,
    /// Directory of the embedded store (used when --etcd-servers is not given).
    #[arg(long, default_value = ".local/data")]
    pub data_dir: PathBuf,
    /// How often idle watches with bookmarks get a BOOKMARK event.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub watch_bookmark_interval: Duration,
    /// Authentication and authorization.
    #[command(flatten)]
    pub auth: crate::auth::AuthFlags,
}

/// Parses `90s`, `5m`, `1h` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(s.trim().len()),
    );
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "ms" => return Ok(Duration::from_millis(n)),
        _ => return Err(format!("invalid duration unit in {s:?}")),
    };
    Ok(Duration::from_secs(secs))
}

/// Opens the store the flags select.
pub async fn open_store(flags: &ServerFlags) -> anyhow::Result<Arc<dyn Store>> {
    match &flags.etcd_servers {
        Some(servers) => {
            let cfg = EtcdConfig::from_servers_flag(servers)
                .with_tls_files(
                    flags.etcd_cafile.clone(),
                    flags.etcd_certfile.clone(),
                    flags.etcd_keyfile.clone(),
                )
                .with_compaction_interval(flags.etcd_compaction_interval);
            let store = EtcdStore::connect(cfg)
                .await
                .context("connecting to etcd")?;
            Ok(Arc::new(store))
        }
        None => {
            let store = EmbeddedStore::open_path(&flags.data_dir).with_context(|| {
                format!("opening the embedded store in {}", flags.data_dir.display())
            })?;
            Ok(Arc::new(store))
        }
    }
}

/// Runs an API server with `registry` until SIGINT/SIGTERM.
pub async fn run(
    flags: ServerFlags,
    registry: Registry,
    default_prefix: &str,
) -> anyhow::Result<()> {
    install_crypto_provider();
    let store = open_store(&flags).await?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let settings = ServerSettings {
        storage_prefix: flags
            .etcd_prefix
            .clone()
            .unwrap_or_else(|| default_prefix.to_owned()),
        watch: WatchSettings {
            bookmark_interval: flags.watch_bookmark_interval,
            ..WatchSettings::default()
        },
    };
    let guards = ironcore_auth::guards(&flags.auth.options())
        .await
        .context("setting up authentication and authorization")?;
    let server = ApiServer::with_guards(registry, store, settings, guards, shutdown_rx.clone())
        .await
        .context("starting the API server")?;
    let (cert, key) = match (&flags.tls_cert_file, &flags.tls_private_key_file) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        (None, None) => {
            let mut hosts = vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ];
            if !flags.bind_address.is_unspecified() {
                hosts.push(flags.bind_address.to_string());
            }
            self_signed(&flags.cert_dir, &hosts)?
        }
        _ => anyhow::bail!("--tls-cert-file and --tls-private-key-file go together"),
    };
    let tls = load_tls_requesting_client_certs(&cert, &key)?;
    let addr = SocketAddr::new(flags.bind_address, flags.secure_port);
    let listener = bind(addr, true).await?;
    tracing::info!(%addr, "serving HTTPS");
    let mut tasks = vec![tokio::spawn(serve(
        Arc::clone(&server),
        listener,
        Some(tls),
        shutdown_rx.clone(),
    ))];
    if flags.insecure_port != 0 {
        let addr = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), flags.insecure_port);
        let listener = bind(addr, false).await?;
        tracing::info!(%addr, "serving plain HTTP on loopback");
        tasks.push(tokio::spawn(serve(
            Arc::clone(&server),
            listener,
            None,
            shutdown_rx.clone(),
        )));
    }
    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Initializes logging from `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
