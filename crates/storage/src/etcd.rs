//! The etcd backend: [`Store`] over etcd's v3 API (etcd 3.4 and newer) with `etcd-client`.
//!
//! Writes are single etcd transactions shaped like kube-apiserver's: create =
//! `If(create_revision == 0) Then(Put) Else(Get)`, update and delete =
//! `If(mod_revision == expected) Then(..) Else(Get)`, so a failed condition returns the current
//! value in the same round trip. Lists are one range read at one revision. Watches resume from
//! the last revision they delivered when the connection to etcd breaks (an etcd restart, say),
//! so no event is lost or repeated; if that revision was compacted meanwhile the stream reports
//! [`StoreError::Compacted`]. A background task compacts etcd periodically, as kube-apiserver
//! does (`--etcd-compaction-interval`, default 5 minutes), coordinating with other API servers on
//! the same etcd through the `compact_rev_key` key.
//!
//! The TLS stack is rustls with the `ring` provider only (etcd-client's `tls` feature); no
//! process-wide provider needs installing.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, Identity,
    KvClient, TlsOptions, Txn, TxnOpResponse, WatchClient, WatchOptions, WatchResponse,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::{
    Condition, DeleteResult, EventType, GetResult, KeyValue, ListOptions, ListResult, Revision,
    Store, StoreError, TxnOp, WatchEvent, WatchStream, WriteResult,
};

/// kube-apiserver's default `--etcd-compaction-interval`.
pub const DEFAULT_COMPACTION_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The key kube-apiserver uses to coordinate compaction between API servers sharing one etcd.
pub const COMPACT_REV_KEY: &str = "compact_rev_key";

/// Largest response accepted from etcd (kube-apiserver also lifts gRPC's 4 MiB default).
const MAX_DECODING_MESSAGE_SIZE: usize = 2 * 1024 * 1024 * 1024 - 1;

/// Buffered events per watch between the etcd stream and its consumer.
const WATCH_CHANNEL_CAPACITY: usize = 1024;

// gRPC status codes (tonic::Code as i32), compared without naming tonic.
const GRPC_CANCELLED: i32 = 1;
const GRPC_UNKNOWN: i32 = 2;
const GRPC_DEADLINE_EXCEEDED: i32 = 4;
const GRPC_RESOURCE_EXHAUSTED: i32 = 8;
const GRPC_UNAVAILABLE: i32 = 14;

const ERR_COMPACTED: &str = "required revision has been compacted";
const ERR_FUTURE_REV: &str = "required revision is a future revision";

/// TLS to etcd: the files named by `--etcd-cafile`, `--etcd-certfile` and `--etcd-keyfile`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EtcdTlsConfig {
    /// PEM CA bundle that verifies etcd's serving certificate (`--etcd-cafile`).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (`--etcd-certfile`); needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate (`--etcd-keyfile`); needs `cert_file`.
    pub key_file: Option<PathBuf>,
}

/// How to reach and maintain etcd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdConfig {
    /// Client URLs, e.g. `https://10.0.0.1:2379` (`--etcd-servers`). A URL without a scheme
    /// uses `https` when `tls` is set, `http` otherwise.
    pub endpoints: Vec<String>,
    /// TLS client settings; `None` = plain HTTP/2 (only for `http://` endpoints).
    pub tls: Option<EtcdTlsConfig>,
    /// How often to compact etcd's history (`--etcd-compaction-interval`); each run compacts up
    /// to the revision seen by the previous run, so at least one interval of history is kept.
    /// Zero disables compaction by this server.
    pub compaction_interval: Duration,
    /// Deadline of one request to etcd; reads are retried while etcd is unreachable until it
    /// passes, writes are attempted once.
    pub request_timeout: Duration,
    /// Deadline to establish a connection to an endpoint.
    pub dial_timeout: Duration,
}

impl EtcdConfig {
    /// A configuration with the given endpoints and kube-apiserver's defaults otherwise.
    pub fn new<I, S>(endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            tls: None,
            compaction_interval: DEFAULT_COMPACTION_INTERVAL,
            request_timeout: Duration::from_secs(30),
            dial_timeout: Duration::from_secs(5),
        }
    }

    /// A configuration from the comma-separated value of `--etcd-servers`.
    pub fn from_servers_flag(servers: &str) -> Self {
        Self::new(
            servers
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        )
    }

    /// Sets the TLS files (`--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`); all `None`
    /// leaves TLS off.
    pub fn with_tls_files(
        mut self,
        ca_file: Option<PathBuf>,
        cert_file: Option<PathBuf>,
        key_file: Option<PathBuf>,
    ) -> Self {
        self.tls = if ca_file.is_none() && cert_file.is_none() && key_file.is_none() {
            None
        } else {
            Some(EtcdTlsConfig {
                ca_file,
                cert_file,
                key_file,
            })
        };
        self
    }

    /// Sets the compaction interval (zero disables compaction).
    pub fn with_compaction_interval(mut self, interval: Duration) -> Self {
        self.compaction_interval = interval;
        self
    }

    /// Sets the per-request deadline.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}

/// The etcd-backed [`Store`]. Cheap to clone; background tasks stop when the last clone drops.
#[derive(Clone)]
pub struct EtcdStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.inner.config.endpoints)
            .finish_non_exhaustive()
    }
}

struct Inner {
    client: Client,
    kv: KvClient,
    watch: WatchClient,
    config: EtcdConfig,
    /// Highest revision this process knows to be compacted (for `Compacted` errors).
    compacted: Arc<AtomicI64>,
    /// Flips to `true` when the store is dropped; watch and compaction tasks end on it.
    shutdown: watch::Sender<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl EtcdStore {
    /// Connects to etcd and starts periodic compaction (if configured). Must be called inside a
    /// Tokio runtime. The connection itself is lazy and re-established whenever it breaks; this
    /// call fails only on a bad configuration or when etcd cannot be reached within
    /// `request_timeout`.
    pub async fn connect(config: EtcdConfig) -> Result<Self, StoreError> {
        if config.endpoints.is_empty() {
            return Err(StoreError::Internal("no etcd endpoints configured".into()));
        }
        let mut options = ConnectOptions::new()
            .with_connect_timeout(config.dial_timeout)
            .with_keep_alive(Duration::from_secs(30), Duration::from_secs(10))
            .with_keep_alive_while_idle(false)
            // Fail (and let watches reconnect) rather than hang on a member without a leader.
            .with_require_leader(true);
        let mut endpoints = Vec::with_capacity(config.endpoints.len());
        for e in &config.endpoints {
            let has_scheme = e.starts_with("http://") || e.starts_with("https://");
            if config.tls.is_some() && e.starts_with("http://") {
                return Err(StoreError::Internal(format!(
                    "etcd endpoint {e} is http:// but TLS files are configured; use https://"
                )));
            }
            endpoints.push(match (has_scheme, config.tls.is_some()) {
                (true, _) => e.clone(),
                (false, true) => format!("https://{e}"),
                (false, false) => format!("http://{e}"),
            });
        }
        let wants_tls = endpoints.iter().any(|e| e.starts_with("https://"));
        if wants_tls {
            options = options.with_tls(tls_options(
                config.tls.as_ref().unwrap_or(&EtcdTlsConfig::default()),
            )?);
        }
        let client = Client::connect(&endpoints, Some(options))
            .await
            .map_err(|e| StoreError::Unavailable(format!("connecting to etcd: {e}")))?;
        let kv = client
            .kv_client()
            .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE);
        let watch_client = client
            .watch_client()
            .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE);
        let (shutdown, _) = watch::channel(false);
        let store = EtcdStore {
            inner: Arc::new(Inner {
                client,
                kv,
                watch: watch_client,
                config: config.clone(),
                compacted: Arc::new(AtomicI64::new(0)),
                shutdown,
            }),
        };
        // Fail early on an unreachable etcd, as kube-apiserver does.
        let rev = store.current_revision().await?;
        tracing::info!(endpoints = ?endpoints, revision = rev, "connected to etcd");
        if !config.compaction_interval.is_zero() {
            tokio::spawn(compactor(
                store.inner.kv.clone(),
                config.compaction_interval,
                config.request_timeout,
                store.inner.compacted.clone(),
                store.inner.shutdown.subscribe(),
            ));
        }
        Ok(store)
    }

    /// The underlying etcd client, for what the [`Store`] trait does not cover (health checks,
    /// status, benchmarks).
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The configuration the store was connected with.
    pub fn config(&self) -> &EtcdConfig {
        &self.inner.config
    }

    fn kv(&self) -> KvClient {
        self.inner.kv.clone()
    }

    /// Runs `f` under the request deadline; `retry` repeats it while etcd is unreachable
    /// (only for idempotent requests).
    async fn call<T, F, Fut>(&self, retry: bool, mut f: F) -> Result<T, StoreError>
    where
        F: FnMut(KvClient) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let now = tokio::time::Instant::now();
        let deadline = now
            .checked_add(self.inner.config.request_timeout)
            .unwrap_or(now + Duration::from_secs(365 * 24 * 3600));
        let mut backoff = Duration::from_millis(50);
        loop {
            let err = match tokio::time::timeout_at(deadline, f(self.kv())).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => map_err(e),
                Err(_) => {
                    return Err(StoreError::Unavailable(format!(
                        "etcd request timed out after {:?}",
                        self.inner.config.request_timeout
                    )));
                }
            };
            match err {
                StoreError::Unavailable(msg)
                    if retry && tokio::time::Instant::now() + backoff < deadline =>
                {
                    tracing::debug!(error = %msg, "etcd unavailable, retrying read");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                other => return Err(other),
            }
        }
    }

    /// Runs a non-idempotent request once under the request deadline.
    async fn call_once<T, Fut>(&self, fut: Fut) -> Result<T, StoreError>
    where
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        match tokio::time::timeout(self.inner.config.request_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(map_err(e)),
            Err(_) => Err(StoreError::Unavailable(format!(
                "etcd request timed out after {:?}",
                self.inner.config.request_timeout
            ))),
        }
    }

    /// Turns a read error at `revision` into `Compacted`/`FutureRevision` where it is one.
    async fn revision_error(&self, err: StoreError, revision: Revision) -> StoreError {
        match &err {
            StoreError::Internal(msg) if msg.contains(ERR_COMPACTED) => StoreError::Compacted {
                requested: revision,
                compacted: self.known_compacted().await,
            },
            StoreError::Internal(msg) if msg.contains(ERR_FUTURE_REV) => {
                StoreError::FutureRevision {
                    requested: revision,
                    current: self.current_revision().await.unwrap_or(0),
                }
            }
            _ => err,
        }
    }

    /// The highest compacted revision known: ours, or the one recorded in `compact_rev_key`.
    async fn known_compacted(&self) -> Revision {
        let local = self.inner.compacted.load(Ordering::Relaxed);
        let mut kv = self.kv();
        let recorded = self
            .call_once(kv.get(COMPACT_REV_KEY, None))
            .await
            .ok()
            .and_then(|resp| {
                resp.kvs()
                    .first()
                    .and_then(|kv| std::str::from_utf8(kv.value()).ok()?.parse::<i64>().ok())
            })
            .unwrap_or(0);
        local.max(recorded)
    }
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, StoreError> {
    std::fs::read(path)
        .map_err(|e| StoreError::Internal(format!("reading {what} {}: {e}", path.display())))
}

fn tls_options(tls: &EtcdTlsConfig) -> Result<TlsOptions, StoreError> {
    let mut options = TlsOptions::new();
    if let Some(ca) = &tls.ca_file {
        options = options.ca_certificate(Certificate::from_pem(read_file(ca, "etcd CA file")?));
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            options = options.identity(Identity::from_pem(
                read_file(cert, "etcd client certificate")?,
                read_file(key, "etcd client key")?,
            ));
        }
        (None, None) => {}
        _ => {
            return Err(StoreError::Internal(
                "--etcd-certfile and --etcd-keyfile must be given together".into(),
            ));
        }
    }
    Ok(options)
}

fn map_err(e: etcd_client::Error) -> StoreError {
    use etcd_client::Error as E;
    match e {
        E::GRpcStatus(status) => {
            let code = i32::from(status.code());
            let msg = status.message().to_owned();
            match code {
                GRPC_UNAVAILABLE
                | GRPC_DEADLINE_EXCEEDED
                | GRPC_CANCELLED
                | GRPC_RESOURCE_EXHAUSTED => StoreError::Unavailable(msg),
                // tonic reports broken connections as Unknown with a transport message.
                GRPC_UNKNOWN if !msg.contains("etcdserver") => StoreError::Unavailable(msg),
                _ => StoreError::Internal(msg),
            }
        }
        E::TransportError(e) => StoreError::Unavailable(e.to_string()),
        E::IoError(e) => StoreError::Unavailable(e.to_string()),
        other => StoreError::Internal(other.to_string()),
    }
}

/// The first key after every key that starts with `prefix` (etcd's range end for a prefix).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Empty prefix, or only 0xff bytes: to the end of the key space.
    vec![0]
}

fn convert_kv(kv: etcd_client::KeyValue) -> Result<KeyValue, StoreError> {
    let create_revision = kv.create_revision();
    let mod_revision = kv.mod_revision();
    let (key, value) = kv.into_key_value();
    let key = String::from_utf8(key)
        .map_err(|e| StoreError::Internal(format!("non-UTF-8 key in etcd: {e}")))?;
    Ok(KeyValue {
        key,
        value: Bytes::from(value),
        create_revision,
        mod_revision,
    })
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision, StoreError> {
    header
        .map(|h| h.revision())
        .ok_or_else(|| StoreError::Internal("etcd response without header".into()))
}

/// The single key a txn's else-branch `Get` returned, if any.
fn else_get(resp: Option<TxnOpResponse>) -> Result<Option<KeyValue>, StoreError> {
    match resp {
        Some(TxnOpResponse::Get(mut get)) => get
            .take_kvs()
            .into_iter()
            .next()
            .map(convert_kv)
            .transpose(),
        _ => Err(StoreError::Internal(
            "etcd txn returned no get response in its else branch".into(),
        )),
    }
}

fn condition_holds(condition: Condition, current: Option<&KeyValue>) -> bool {
    match condition {
        Condition::None => true,
        Condition::Absent => current.is_none(),
        Condition::ModRevision(rev) => current.is_some_and(|kv| kv.mod_revision == rev),
    }
}

fn compare_for(key: &str, condition: Condition) -> Option<Compare> {
    match condition {
        Condition::None => None,
        Condition::Absent => Some(Compare::create_revision(key, CompareOp::Equal, 0)),
        Condition::ModRevision(rev) => Some(Compare::mod_revision(key, CompareOp::Equal, rev)),
    }
}

#[async_trait::async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str, revision: Option<Revision>) -> Result<GetResult, StoreError> {
        let revision = revision.filter(|r| *r > 0);
        let result = self
            .call(true, |mut kv| async move {
                let mut opts = GetOptions::new();
                if let Some(rev) = revision {
                    opts = opts.with_revision(rev);
                }
                kv.get(key, Some(opts)).await
            })
            .await;
        let mut resp = match result {
            Ok(resp) => resp,
            Err(e) => return Err(self.revision_error(e, revision.unwrap_or(0)).await),
        };
        let header_rev = header_revision(resp.header())?;
        let kv = resp
            .take_kvs()
            .into_iter()
            .next()
            .map(convert_kv)
            .transpose()?;
        Ok(GetResult {
            kv,
            revision: revision.unwrap_or(header_rev),
        })
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult, StoreError> {
        let revision = opts.revision.filter(|r| *r > 0);
        let end = prefix_end(prefix.as_bytes());
        let start: Vec<u8> = match &opts.start_after {
            Some(after) if after.as_str() >= prefix => {
                let mut k = after.as_bytes().to_vec();
                k.push(0);
                k
            }
            _ => prefix.as_bytes().to_vec(),
        };
        let limit = opts.limit.filter(|l| *l > 0);
        let result = self
            .call(true, |mut kv| {
                let start = start.clone();
                let end = end.clone();
                async move {
                    let mut get = GetOptions::new().with_range(end);
                    if let Some(limit) = limit {
                        get = get.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
                    }
                    if let Some(rev) = revision {
                        get = get.with_revision(rev);
                    }
                    kv.get(start, Some(get)).await
                }
            })
            .await;
        let mut resp = match result {
            Ok(resp) => resp,
            Err(e) => return Err(self.revision_error(e, revision.unwrap_or(0)).await),
        };
        let header_rev = header_revision(resp.header())?;
        let more = resp.more();
        let count = resp.count();
        let items = resp
            .take_kvs()
            .into_iter()
            .map(convert_kv)
            .collect::<Result<Vec<_>, _>>()?;
        let returned = i64::try_from(items.len()).unwrap_or(i64::MAX);
        Ok(ListResult {
            items,
            revision: revision.unwrap_or(header_rev),
            more,
            remaining: if more { (count - returned).max(0) } else { 0 },
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<WriteResult, StoreError> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([etcd_client::TxnOp::put(key, value.to_vec(), None)])
            .or_else([etcd_client::TxnOp::get(key, None)]);
        let mut kv = self.kv();
        let resp = self.call_once(kv.txn(txn)).await?;
        let revision = header_revision(resp.header())?;
        if resp.succeeded() {
            return Ok(WriteResult { revision });
        }
        match else_get(resp.op_responses().into_iter().next())? {
            Some(current) => Err(StoreError::AlreadyExists {
                key: key.to_owned(),
                current,
            }),
            None => Err(StoreError::Internal(format!(
                "create of {key} failed but the key is absent"
            ))),
        }
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<WriteResult, StoreError> {
        if expected <= 0 {
            let current = self.get(key, None).await?.kv;
            return Err(StoreError::Conflict {
                key: key.to_owned(),
                current,
            });
        }
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected)])
            .and_then([etcd_client::TxnOp::put(key, value.to_vec(), None)])
            .or_else([etcd_client::TxnOp::get(key, None)]);
        let mut kv = self.kv();
        let resp = self.call_once(kv.txn(txn)).await?;
        let revision = header_revision(resp.header())?;
        if resp.succeeded() {
            return Ok(WriteResult { revision });
        }
        Err(StoreError::Conflict {
            key: key.to_owned(),
            current: else_get(resp.op_responses().into_iter().next())?,
        })
    }

    async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<DeleteResult, StoreError> {
        let Some(expected) = expected else {
            let mut kv = self.kv();
            let mut resp = self
                .call_once(kv.delete(key, Some(DeleteOptions::new().with_prev_key())))
                .await?;
            let revision = header_revision(resp.header())?;
            return match resp.take_prev_kvs().into_iter().next() {
                Some(prev) => Ok(DeleteResult {
                    prev: convert_kv(prev)?,
                    revision,
                }),
                None => Err(StoreError::Conflict {
                    key: key.to_owned(),
                    current: None,
                }),
            };
        };
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected)])
            .and_then([etcd_client::TxnOp::delete(
                key,
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([etcd_client::TxnOp::get(key, None)]);
        let mut kv = self.kv();
        let resp = self.call_once(kv.txn(txn)).await?;
        let revision = header_revision(resp.header())?;
        let first = resp.op_responses().into_iter().next();
        if resp.succeeded() {
            if let Some(TxnOpResponse::Delete(mut del)) = first
                && let Some(prev) = del.take_prev_kvs().into_iter().next()
            {
                return Ok(DeleteResult {
                    prev: convert_kv(prev)?,
                    revision,
                });
            }
            // Only reachable with expected == 0 on an absent key.
            return Err(StoreError::Conflict {
                key: key.to_owned(),
                current: None,
            });
        }
        Err(StoreError::Conflict {
            key: key.to_owned(),
            current: else_get(first)?,
        })
    }

    async fn txn(&self, ops: Vec<TxnOp>) -> Result<WriteResult, StoreError> {
        if ops.is_empty() {
            return Ok(WriteResult {
                revision: self.current_revision().await?,
            });
        }
        check_distinct_keys(&ops)?;
        let mut compares = Vec::new();
        let mut then_ops = Vec::with_capacity(ops.len());
        let mut checked: Vec<(&str, Condition, bool)> = Vec::new();
        for op in &ops {
            match op {
                TxnOp::Put {
                    key,
                    value,
                    condition,
                } => {
                    then_ops.push(etcd_client::TxnOp::put(key.as_str(), value.to_vec(), None));
                    if let Some(c) = compare_for(key, *condition) {
                        compares.push(c);
                        checked.push((key.as_str(), *condition, true));
                    }
                }
                TxnOp::Delete { key, condition } => {
                    then_ops.push(etcd_client::TxnOp::delete(key.as_str(), None));
                    if let Some(c) = compare_for(key, *condition) {
                        compares.push(c);
                        checked.push((key.as_str(), *condition, false));
                    }
                }
            }
        }
        let else_ops: Vec<_> = checked
            .iter()
            .map(|(key, _, _)| etcd_client::TxnOp::get(*key, None))
            .collect();
        let txn = Txn::new()
            .when(compares)
            .and_then(then_ops)
            .or_else(else_ops);
        let mut kv = self.kv();
        let resp = self.call_once(kv.txn(txn)).await?;
        let revision = header_revision(resp.header())?;
        if resp.succeeded() {
            return Ok(WriteResult { revision });
        }
        for ((key, condition, _is_put), op_resp) in checked.iter().zip(resp.op_responses()) {
            let current = else_get(Some(op_resp))?;
            if !condition_holds(*condition, current.as_ref()) {
                return Err(match (condition, current) {
                    (Condition::Absent, Some(current)) => StoreError::AlreadyExists {
                        key: (*key).to_owned(),
                        current,
                    },
                    (_, current) => StoreError::Conflict {
                        key: (*key).to_owned(),
                        current,
                    },
                });
            }
        }
        Err(StoreError::Internal(
            "etcd txn failed but every condition holds".into(),
        ))
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        let after = after.max(0);
        // etcd reports a compacted start revision only asynchronously, after creating the
        // watch; a range read at that revision tells it up front.
        let start = after + 1;
        let end = prefix_end(prefix.as_bytes());
        let probe = self
            .call(true, |mut kv| {
                let end = end.clone();
                async move {
                    let opts = GetOptions::new()
                        .with_range(end)
                        .with_revision(start)
                        .with_count_only();
                    kv.get(prefix, Some(opts)).await
                }
            })
            .await;
        if let Err(e) = probe {
            match self.revision_error(e, start).await {
                // Watching from the future is fine: events arrive once the store gets there.
                StoreError::FutureRevision { .. } => {}
                e => return Err(e),
            }
        }
        let (tx, rx) = mpsc::channel(WATCH_CHANNEL_CAPACITY);
        let task = WatchTask {
            watch: self.inner.watch.clone(),
            prefix: prefix.to_owned(),
            last: after,
            tx,
            shutdown: self.inner.shutdown.subscribe(),
            compacted: self.inner.compacted.clone(),
        };
        tokio::spawn(task.run());
        Ok(Box::pin(ReceiverStream::new(rx)))
    }

    async fn current_revision(&self) -> Result<Revision, StoreError> {
        // A single-key range of an unlikely key: the header carries the store revision.
        let resp = self
            .call(true, |mut kv| async move {
                kv.get(COMPACT_REV_KEY, Some(GetOptions::new().with_count_only()))
                    .await
            })
            .await?;
        header_revision(resp.header())
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        let mut kv = self.kv();
        match self.call_once(kv.compact(revision, None)).await {
            Ok(_) => {
                self.inner.compacted.fetch_max(revision, Ordering::Relaxed);
                tracing::debug!(revision, "compacted etcd");
                Ok(())
            }
            Err(e) => match self.revision_error(e, revision).await {
                // Already compacted at or past `revision`: nothing to do.
                StoreError::Compacted { .. } => Ok(()),
                e => Err(e),
            },
        }
    }
}

/// etcd rejects a txn that writes one key twice; so does the embedded store.
pub(crate) fn check_distinct_keys(ops: &[TxnOp]) -> Result<(), StoreError> {
    let mut keys: Vec<&str> = ops
        .iter()
        .map(|op| match op {
            TxnOp::Put { key, .. } | TxnOp::Delete { key, .. } => key.as_str(),
        })
        .collect();
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
        return Err(StoreError::Internal(format!(
            "transaction touches key {} more than once",
            w[0]
        )));
    }
    Ok(())
}

/// One watch: an etcd watch stream, reopened from the last delivered revision when it breaks.
struct WatchTask {
    watch: WatchClient,
    prefix: String,
    /// The last revision whose events were all delivered.
    last: Revision,
    tx: mpsc::Sender<Result<WatchEvent, StoreError>>,
    shutdown: watch::Receiver<bool>,
    compacted: Arc<AtomicI64>,
}

/// Why one etcd watch stream ended.
enum StreamEnd {
    /// The consumer went away or the store closed: stop.
    Stop,
    /// The connection broke: reopen from `last + 1`.
    Broken(String),
}

impl WatchTask {
    async fn run(mut self) {
        let mut backoff = Duration::from_millis(50);
        loop {
            if self.tx.is_closed() || *self.shutdown.borrow() {
                return;
            }
            match self.stream_once(&mut backoff).await {
                StreamEnd::Stop => return,
                StreamEnd::Broken(reason) => {
                    tracing::warn!(
                        prefix = %self.prefix,
                        resume_from = self.last + 1,
                        %reason,
                        "etcd watch broke, resuming"
                    );
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.shutdown.changed() => return,
                _ = self.tx.closed() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    async fn stream_once(&mut self, backoff: &mut Duration) -> StreamEnd {
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(self.last + 1)
            .with_prev_key()
            .with_progress_notify();
        let mut watch = self.watch.clone();
        let opened = tokio::select! {
            r = watch.watch(self.prefix.as_str(), Some(options)) => r,
            _ = self.shutdown.changed() => return StreamEnd::Stop,
            _ = self.tx.closed() => return StreamEnd::Stop,
        };
        let stream = match opened {
            Ok(stream) => stream,
            Err(e) => return StreamEnd::Broken(e.to_string()),
        };
        // Dropping the request sender ends the gRPC stream, which cancels the watch.
        let (_requests, mut responses) = stream.split();
        loop {
            let msg = tokio::select! {
                m = responses.message() => m,
                _ = self.shutdown.changed() => return StreamEnd::Stop,
                _ = self.tx.closed() => return StreamEnd::Stop,
            };
            let resp = match msg {
                Ok(Some(resp)) => resp,
                Ok(None) => return StreamEnd::Broken("etcd closed the watch stream".into()),
                Err(e) => return StreamEnd::Broken(e.to_string()),
            };
            if resp.created() {
                *backoff = Duration::from_millis(50);
            }
            if resp.compact_revision() > 0 {
                let compacted = resp.compact_revision();
                self.compacted.fetch_max(compacted, Ordering::Relaxed);
                let _ = self
                    .tx
                    .send(Err(StoreError::Compacted {
                        requested: self.last + 1,
                        compacted,
                    }))
                    .await;
                return StreamEnd::Stop;
            }
            if resp.canceled() {
                return StreamEnd::Broken(format!(
                    "etcd canceled the watch: {}",
                    resp.cancel_reason()
                ));
            }
            match self.deliver(resp).await {
                Ok(()) => {}
                Err(end) => return end,
            }
        }
    }

    /// Sends the events of one response, skipping any at or below `last` (never expected, but
    /// a resumed stream must not repeat one).
    async fn deliver(&mut self, resp: WatchResponse) -> Result<(), StreamEnd> {
        let events = resp.events();
        if events.is_empty() {
            // A progress notification: every event up to the header revision was sent.
            if !resp.created()
                && let Some(h) = resp.header()
            {
                self.last = self.last.max(h.revision());
            }
            return Ok(());
        }
        let floor = self.last;
        let mut newest = self.last;
        for ev in events {
            let Some(kv) = ev.kv() else { continue };
            let rev = kv.mod_revision();
            if rev <= floor {
                continue;
            }
            let event = convert_event(ev);
            let failed = event.is_err();
            if self.tx.send(event).await.is_err() || failed {
                return Err(StreamEnd::Stop);
            }
            newest = newest.max(rev);
        }
        // etcd never splits one revision's events over two responses.
        self.last = newest;
        Ok(())
    }
}

fn convert_event(ev: &etcd_client::Event) -> Result<WatchEvent, StoreError> {
    let kv = ev
        .kv()
        .cloned()
        .ok_or_else(|| StoreError::Internal("etcd watch event without kv".into()))?;
    let prev = ev.prev_kv().cloned().map(convert_kv).transpose()?;
    let mut kv = convert_kv(kv)?;
    let event_type = match ev.event_type() {
        etcd_client::EventType::Put => EventType::Put,
        etcd_client::EventType::Delete => {
            kv.value = Bytes::new();
            kv.create_revision = 0;
            EventType::Delete
        }
    };
    Ok(WatchEvent {
        event_type,
        kv,
        prev,
    })
}

/// Periodic compaction, as kube-apiserver's compactor: every `interval`, compact up to the
/// revision seen one interval earlier, if no other API server on this etcd did so meanwhile
/// (a CAS on the version of `compact_rev_key`).
async fn compactor(
    kv: KvClient,
    interval: Duration,
    request_timeout: Duration,
    compacted: Arc<AtomicI64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut compact_time: i64 = 0;
    let mut rev: Revision = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        let mut kv = kv.clone();
        let step = tokio::time::timeout(
            request_timeout,
            compact_step(&mut kv, compact_time, rev, &compacted),
        )
        .await;
        match step {
            Ok(Ok((t, r))) => {
                compact_time = t;
                rev = r;
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "etcd compaction failed"),
            Err(_) => tracing::warn!("etcd compaction timed out"),
        }
    }
}

async fn compact_step(
    kv: &mut KvClient,
    compact_time: i64,
    rev: Revision,
    compacted: &AtomicI64,
) -> Result<(i64, Revision), etcd_client::Error> {
    let txn = Txn::new()
        .when([Compare::version(
            COMPACT_REV_KEY,
            CompareOp::Equal,
            compact_time,
        )])
        .and_then([etcd_client::TxnOp::put(
            COMPACT_REV_KEY,
            rev.to_string(),
            None,
        )])
        .or_else([etcd_client::TxnOp::get(COMPACT_REV_KEY, None)]);
    let resp = kv.txn(txn).await?;
    let current_rev = resp.header().map(|h| h.revision()).unwrap_or(rev);
    if !resp.succeeded() {
        // Another API server compacted in between; adopt its clock.
        let version = match resp.op_responses().into_iter().next() {
            Some(TxnOpResponse::Get(get)) => get.kvs().first().map(|kv| kv.version()),
            _ => None,
        };
        return Ok((version.unwrap_or(compact_time), current_rev));
    }
    let next_time = compact_time + 1;
    if rev == 0 {
        // No compaction on the first run: there is no earlier revision to keep a window from.
        return Ok((next_time, current_rev));
    }
    match kv.compact(rev, None).await {
        Ok(_) => {
            compacted.fetch_max(rev, Ordering::Relaxed);
            tracing::info!(revision = rev, "compacted etcd");
        }
        Err(e) if e.to_string().contains(ERR_COMPACTED) => {}
        Err(e) => return Err(e),
    }
    Ok((next_time, current_rev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end(b"/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b""), vec![0]);
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }

    #[test]
    fn servers_flag_splits_on_commas() {
        let c = EtcdConfig::from_servers_flag("http://a:2379, http://b:2379,");
        assert_eq!(c.endpoints, vec!["http://a:2379", "http://b:2379"]);
        assert_eq!(c.compaction_interval, DEFAULT_COMPACTION_INTERVAL);
    }

    #[test]
    fn duplicate_txn_keys_are_rejected() {
        let ops = vec![
            TxnOp::Delete {
                key: "a".into(),
                condition: Condition::None,
            },
            TxnOp::Put {
                key: "a".into(),
                value: Bytes::new(),
                condition: Condition::None,
            },
        ];
        assert!(check_distinct_keys(&ops).is_err());
    }
}
