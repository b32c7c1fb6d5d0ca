//! The embedded backend: a persistent, pure-Rust [`Store`] on a `redb` file and a
//! write-ahead log beside it.
//!
//! It mirrors etcd's MVCC model in four tables:
//!
//! - `latest`: key → (create revision, mod revision, value) of every live key; serves reads at
//!   the current revision.
//! - `versions`: (key, mod revision) → (create revision, live or tombstone, value); serves reads
//!   at past revisions and the previous values of watch events.
//! - `log`: revision → the keys written at that revision; the history watches replay.
//! - `meta`: the current revision, the compacted revision, how far compaction has cleaned up,
//!   and the write-ahead log's generation.
//!
//! One writer thread owns all writes. It drains the queue of pending writes into one redb
//! transaction (group commit): each write still gets its own revision and its own condition
//! check, in queue order. The batch is made durable before any of its writes is acknowledged
//! or becomes visible: normally by appending its records to a write-ahead log (`<path>.wal`,
//! one sequential write and one `fdatasync`) and then committing the redb transaction without
//! a sync; every few seconds (or when the log is half full) by a durable redb commit instead,
//! a checkpoint that makes the log's records redundant. Opening the store replays the records
//! written since the last checkpoint, so an acknowledged write survives a crash or a kill.
//! Readers use redb's MVCC snapshots and never wait for the writer.
//!
//! Live watch events are fanned out through a Tokio broadcast channel after each commit. A
//! watcher that falls behind the channel is not dropped and does not slow writers: it re-reads
//! the missed revisions from the on-disk log, and only gets [`StoreError::Compacted`] if
//! compaction removed them meanwhile.
//!
//! Compaction (`compact`, or periodically by the writer thread when configured) moves the
//! compacted revision at once; the superseded versions and log entries below it are deleted a
//! chunk at a time alongside later writes, or while the store is idle.

use std::collections::VecDeque;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    Table, TableDefinition, WriteTransaction,
};
use tokio::sync::{broadcast, oneshot};

use crate::etcd::check_distinct_keys;

mod wal;

use crate::{
    Condition, DeleteResult, EventType, GetResult, KeyValue, ListOptions, ListResult, Revision,
    Store, StoreError, TxnOp, WatchEvent, WatchStream, WriteResult,
};
use wal::{RecordBuf, Wal};

const LATEST: TableDefinition<&str, &[u8]> = TableDefinition::new("latest");
const VERSIONS: TableDefinition<(&str, i64), &[u8]> = TableDefinition::new("versions");
const LOG: TableDefinition<i64, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");

const META_REVISION: &str = "revision";
const META_COMPACTED: &str = "compacted";
const META_CLEANED: &str = "cleaned";
const META_WAL_GENERATION: &str = "wal_generation";

/// An empty store is at revision 1, as etcd is; the first write gets revision 2.
const INITIAL_REVISION: Revision = 1;

/// History entries a watcher reads from disk per step.
const REPLAY_CHUNK: usize = 1024;
/// Longest compaction or checkpoint interval honoured (about ten years).
const MAX_INTERVAL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long the writer polls for the next request before it sleeps.
const POLL_BEFORE_SLEEP: Duration = Duration::from_micros(200);
/// Log entries cleaned up alongside each batch of writes.
const CLEANUP_PER_BATCH: usize = 64;
/// Log entries cleaned up per idle step.
const CLEANUP_IDLE: usize = 4096;

const FLAG_LIVE: u8 = 0;
const FLAG_TOMBSTONE: u8 = 1;

/// Settings of the embedded store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddedConfig {
    /// The database file (created if missing; its directory must exist).
    pub path: PathBuf,
    /// Most writes committed together in one transaction.
    pub max_batch: usize,
    /// Batches of live events buffered per watcher before it falls back to reading history.
    pub watch_buffer: usize,
    /// How often to compact history; each run compacts up to the revision seen by the previous
    /// run, so at least one interval of history is kept. Zero disables periodic compaction.
    pub compaction_interval: Duration,
    /// redb's page cache size in bytes (`None` = redb's default).
    pub cache_size: Option<usize>,
    /// Largest size of the write-ahead log file `<path>.wal` (it grows in 4 MiB steps); a
    /// checkpoint is forced when it is half full.
    pub wal_capacity: u64,
    /// Longest time between checkpoints (durable redb commits that make the log redundant);
    /// bounds how much log a restart replays.
    pub checkpoint_interval: Duration,
}

impl EmbeddedConfig {
    /// Defaults for a database at `path`: batches of up to 1024 writes, a write-ahead log of
    /// up to 64 MiB checkpointed at least every 5 seconds, compaction every 5 minutes (as
    /// kube-apiserver does for etcd).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        EmbeddedConfig {
            path: path.into(),
            max_batch: 1024,
            watch_buffer: 1024,
            compaction_interval: crate::etcd::DEFAULT_COMPACTION_INTERVAL,
            cache_size: None,
            wal_capacity: 64 << 20,
            checkpoint_interval: Duration::from_secs(5),
        }
    }

    /// Sets the compaction interval (zero disables periodic compaction).
    pub fn with_compaction_interval(mut self, interval: Duration) -> Self {
        self.compaction_interval = interval;
        self
    }
}

/// What an embedded store holds, from [`EmbeddedStore::stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmbeddedStats {
    /// The current revision.
    pub revision: Revision,
    /// The compacted revision.
    pub compacted: Revision,
    /// Live keys.
    pub keys: u64,
    /// Stored versions (live values and tombstones) still retained.
    pub versions: u64,
    /// Revisions still retained in the history log.
    pub log_entries: u64,
}

/// The embedded [`Store`]. Cheap to clone; the database closes when the last clone and every
/// watch stream are dropped.
#[derive(Clone)]
pub struct EmbeddedStore {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.shared.path)
            .field("revision", &self.shared.revision.load(Ordering::Acquire))
            .finish_non_exhaustive()
    }
}

struct Shared {
    path: PathBuf,
    db: Arc<Database>,
    requests: std_mpsc::Sender<Request>,
    events: broadcast::Sender<Arc<Batch>>,
    /// The revision of the last commit whose events were published.
    revision: Arc<AtomicI64>,
    /// The compacted revision: reads below it fail.
    compacted: Arc<AtomicI64>,
    writer: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = self.requests.send(Request::Shutdown);
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("embedded store writer thread panicked");
        }
    }
}

/// The events of one group commit, in revision order.
struct Batch {
    events: Vec<WatchEvent>,
    /// The store revision after the commit.
    revision: Revision,
}

enum Request {
    Write {
        op: WriteOp,
        reply: oneshot::Sender<Result<Outcome, StoreError>>,
    },
    Compact {
        revision: Revision,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Shutdown,
}

/// A per-key condition, with the `Exists` needed by an unconditional delete.
#[derive(Clone, Copy, Debug)]
enum Cond {
    None,
    Absent,
    Exists,
    ModRevision(Revision),
}

impl From<Condition> for Cond {
    fn from(c: Condition) -> Self {
        match c {
            Condition::None => Cond::None,
            Condition::Absent => Cond::Absent,
            Condition::ModRevision(r) => Cond::ModRevision(r),
        }
    }
}

enum Op {
    Put {
        key: String,
        value: Bytes,
        cond: Cond,
    },
    Delete {
        key: String,
        cond: Cond,
    },
}

impl Op {
    fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key, .. } => key,
        }
    }
}

struct WriteOp {
    ops: Vec<Op>,
}

enum Outcome {
    /// The revision of the write (or the current one if nothing changed).
    Written(Revision),
    /// A single-key delete: what was deleted.
    Deleted(DeleteResult),
}

/// A failure inside the writer: either a failed condition (nothing written) or a storage error
/// (the whole batch is abandoned).
enum ApplyError {
    Logical(StoreError),
    Storage(redb::Error),
}

impl<E: Into<redb::Error>> From<E> for ApplyError {
    fn from(e: E) -> Self {
        ApplyError::Storage(e.into())
    }
}

fn internal<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Internal(format!("embedded store: {e}"))
}

fn closed() -> StoreError {
    StoreError::Unavailable("embedded store is closed".into())
}

// ---- encoding ------------------------------------------------------------------------------

fn encode_latest(create: Revision, modr: Revision, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + value.len());
    v.extend_from_slice(&create.to_le_bytes());
    v.extend_from_slice(&modr.to_le_bytes());
    v.extend_from_slice(value);
    v
}

fn read_i64(b: &[u8], at: usize) -> Result<i64, StoreError> {
    b.get(at..at + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(i64::from_le_bytes)
        .ok_or_else(|| internal("corrupt record: too short"))
}

fn decode_latest(key: &str, b: &[u8]) -> Result<KeyValue, StoreError> {
    Ok(KeyValue {
        key: key.to_owned(),
        create_revision: read_i64(b, 0)?,
        mod_revision: read_i64(b, 8)?,
        value: Bytes::copy_from_slice(&b[16..]),
    })
}

fn encode_version(create: Revision, flag: u8, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(9 + value.len());
    v.extend_from_slice(&create.to_le_bytes());
    v.push(flag);
    v.extend_from_slice(value);
    v
}

/// A version record as the key's value at `rev`; `None` for a tombstone.
fn decode_version(key: &str, rev: Revision, b: &[u8]) -> Result<Option<KeyValue>, StoreError> {
    let create = read_i64(b, 0)?;
    match b.get(8) {
        Some(&FLAG_LIVE) => Ok(Some(KeyValue {
            key: key.to_owned(),
            value: Bytes::copy_from_slice(&b[9..]),
            create_revision: create,
            mod_revision: rev,
        })),
        Some(&FLAG_TOMBSTONE) => Ok(None),
        _ => Err(internal("corrupt version record")),
    }
}

fn is_tombstone(b: &[u8]) -> bool {
    b.get(8) == Some(&FLAG_TOMBSTONE)
}

fn encode_log(keys: &[&str]) -> Vec<u8> {
    let mut v = Vec::with_capacity(keys.iter().map(|k| k.len() + 4).sum());
    for k in keys {
        let len = u32::try_from(k.len()).unwrap_or(u32::MAX);
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(k.as_bytes());
    }
    v
}

fn decode_log(b: &[u8]) -> Result<Vec<&str>, StoreError> {
    let mut keys = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let len = b
            .get(at..at + 4)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| internal("corrupt log record"))? as usize;
        at += 4;
        let key = b
            .get(at..at + len)
            .and_then(|s| std::str::from_utf8(s).ok())
            .ok_or_else(|| internal("corrupt log record"))?;
        keys.push(key);
        at += len;
    }
    Ok(keys)
}

// ---- opening ---------------------------------------------------------------------------------

/// The write-ahead log beside the database file: `<file>.wal`.
fn wal_path(path: &std::path::Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_owned()).unwrap_or_default();
    name.push(".wal");
    path.with_file_name(name)
}

impl EmbeddedStore {
    /// Opens (or creates) the store at `config.path` (and its write-ahead log `<path>.wal`),
    /// replays what the log holds beyond the last checkpoint, and starts the writer thread.
    /// Blocking.
    pub fn open(config: EmbeddedConfig) -> Result<Self, StoreError> {
        let mut builder = Database::builder();
        if let Some(size) = config.cache_size {
            builder.set_cache_size(size);
        }
        let db = builder.create(&config.path).map_err(|e| {
            StoreError::Internal(format!(
                "opening embedded store {}: {e}",
                config.path.display()
            ))
        })?;
        let (revision, compacted, cleaned, generation) = init_tables(&db).map_err(internal)?;
        let wal =
            Wal::open(&wal_path(&config.path), config.wal_capacity, generation).map_err(|e| {
                internal(format!(
                    "opening write-ahead log {}: {e}",
                    wal_path(&config.path).display()
                ))
            })?;
        let db = Arc::new(db);
        let (events, _) = broadcast::channel(config.watch_buffer.max(16));
        let (requests, rx) = std_mpsc::channel();
        let revision_shared = Arc::new(AtomicI64::new(revision));
        let compacted_shared = Arc::new(AtomicI64::new(compacted));
        let mut writer = Writer {
            db: db.clone(),
            rx,
            events: events.clone(),
            revision,
            compacted,
            cleaned,
            published: revision_shared.clone(),
            compacted_shared: compacted_shared.clone(),
            max_batch: config.max_batch.max(1),
            // Clamped so that deadline arithmetic cannot overflow.
            compaction_interval: config.compaction_interval.min(MAX_INTERVAL),
            wal,
            wal_buf: RecordBuf::new(),
            checkpoint_interval: config.checkpoint_interval.min(MAX_INTERVAL),
            last_checkpoint: Instant::now(),
            force_checkpoint: false,
        };
        writer.recover()?;
        let (revision, compacted) = (writer.revision, writer.compacted);
        revision_shared.store(revision, Ordering::SeqCst);
        compacted_shared.store(compacted, Ordering::SeqCst);
        let handle = std::thread::Builder::new()
            .name("embedded-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| internal(format!("spawning writer thread: {e}")))?;
        tracing::info!(path = %config.path.display(), revision, compacted, "opened embedded store");
        Ok(EmbeddedStore {
            shared: Arc::new(Shared {
                path: config.path,
                db,
                requests,
                events,
                revision: revision_shared,
                compacted: compacted_shared,
                writer: std::sync::Mutex::new(Some(handle)),
            }),
        })
    }

    /// Opens (or creates) the store at `path` with default settings. Blocking.
    pub fn open_path(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        Self::open(EmbeddedConfig::new(path))
    }

    /// The database file.
    pub fn path(&self) -> &std::path::Path {
        &self.shared.path
    }

    /// The compacted revision (reads and watches below it fail).
    pub fn compacted_revision(&self) -> Revision {
        self.shared.compacted.load(Ordering::Acquire)
    }

    /// Counts of what the database holds (for metrics and tests).
    pub async fn stats(&self) -> Result<EmbeddedStats, StoreError> {
        self.read(|txn| {
            let len = |n: Result<u64, redb::StorageError>| n.map_err(internal);
            Ok(EmbeddedStats {
                revision: meta_value(txn, META_REVISION, INITIAL_REVISION)?,
                compacted: meta_value(txn, META_COMPACTED, 0)?,
                keys: len(txn.open_table(LATEST).map_err(internal)?.len())?,
                versions: len(txn.open_table(VERSIONS).map_err(internal)?.len())?,
                log_entries: len(txn.open_table(LOG).map_err(internal)?.len())?,
            })
        })
        .await
    }

    async fn write(&self, op: WriteOp) -> Result<Outcome, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.shared
            .requests
            .send(Request::Write { op, reply })
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.shared.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(internal)?;
            f(&txn)
        })
        .await
        .map_err(|e| internal(format!("read task failed: {e}")))?
    }
}

/// Creates the tables if needed; returns (revision, compacted, cleaned, log generation).
fn init_tables(db: &Database) -> Result<(Revision, Revision, Revision, u64), redb::Error> {
    let txn = db.begin_write()?;
    let values = {
        txn.open_table(LATEST)?;
        txn.open_table(VERSIONS)?;
        txn.open_table(LOG)?;
        let mut meta = txn.open_table(META)?;
        let get = |meta: &Table<&str, i64>, k: &str| -> Result<Option<i64>, redb::Error> {
            Ok(meta.get(k)?.map(|v| v.value()))
        };
        let revision = match get(&meta, META_REVISION)? {
            Some(r) => r,
            None => {
                meta.insert(META_REVISION, INITIAL_REVISION)?;
                INITIAL_REVISION
            }
        };
        let compacted = get(&meta, META_COMPACTED)?.unwrap_or(0);
        let cleaned = get(&meta, META_CLEANED)?.unwrap_or(0);
        let generation = get(&meta, META_WAL_GENERATION)?.unwrap_or(0);
        (
            revision,
            compacted,
            cleaned,
            u64::try_from(generation).unwrap_or(0),
        )
    };
    txn.commit()?;
    Ok(values)
}

// ---- the writer thread -------------------------------------------------------------------------

struct Writer {
    db: Arc<Database>,
    rx: std_mpsc::Receiver<Request>,
    events: broadcast::Sender<Arc<Batch>>,
    revision: Revision,
    compacted: Revision,
    /// Log entries below this revision have been cleaned up.
    cleaned: Revision,
    published: Arc<AtomicI64>,
    compacted_shared: Arc<AtomicI64>,
    max_batch: usize,
    compaction_interval: Duration,
    wal: Wal,
    wal_buf: RecordBuf,
    checkpoint_interval: Duration,
    last_checkpoint: Instant,
    /// Makes the next batch a checkpoint (on close).
    force_checkpoint: bool,
}

struct Tables<'t> {
    latest: Table<'t, &'static str, &'static [u8]>,
    versions: Table<'t, (&'static str, i64), &'static [u8]>,
    log: Table<'t, i64, &'static [u8]>,
    meta: Table<'t, &'static str, i64>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, redb::Error> {
        Ok(Tables {
            latest: txn.open_table(LATEST)?,
            versions: txn.open_table(VERSIONS)?,
            log: txn.open_table(LOG)?,
            meta: txn.open_table(META)?,
        })
    }
}

enum Reply {
    Write(
        oneshot::Sender<Result<Outcome, StoreError>>,
        Result<Outcome, StoreError>,
    ),
    Compact(
        oneshot::Sender<Result<(), StoreError>>,
        Result<(), StoreError>,
    ),
}

/// Why a batch failed as a whole.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    #[error("{0}")]
    Db(#[from] redb::Error),
    #[error("write-ahead log: {0}")]
    Wal(#[from] std::io::Error),
}

impl From<redb::TransactionError> for BatchError {
    fn from(e: redb::TransactionError) -> Self {
        BatchError::Db(e.into())
    }
}

impl From<redb::CommitError> for BatchError {
    fn from(e: redb::CommitError) -> Self {
        BatchError::Db(e.into())
    }
}

impl From<redb::SetDurabilityError> for BatchError {
    fn from(e: redb::SetDurabilityError) -> Self {
        BatchError::Db(e.into())
    }
}

impl From<redb::StorageError> for BatchError {
    fn from(e: redb::StorageError) -> Self {
        BatchError::Db(e.into())
    }
}

impl Writer {
    fn run(mut self) {
        let mut next_compaction = Instant::now() + self.compaction_interval;
        // The revision seen at the previous periodic run: the next run compacts up to it.
        let mut window_start: Option<Revision> = None;
        loop {
            // Wake up for the next compaction, checkpoint or cleanup step, whichever is first.
            let mut wake: Option<Instant> = None;
            let mut at = |t: Instant| wake = Some(wake.map_or(t, |w| w.min(t)));
            if !self.compaction_interval.is_zero() {
                at(next_compaction);
            }
            if self.wal.is_dirty() {
                at(self.last_checkpoint + self.checkpoint_interval);
            }
            if self.cleaned < self.compacted {
                at(Instant::now() + Duration::from_millis(20));
            }
            // A writer that just finished a batch usually gets the next request within tens of
            // microseconds; polling for it briefly keeps this thread (and its CPU) awake instead
            // of paying a sleep and a wake-up per request, which on a virtual machine can cost
            // milliseconds.
            let polled = self.poll_briefly();
            let first = match (polled, wake) {
                (Some(r), _) => Some(r),
                (None, Some(t)) => match self
                    .rx
                    .recv_timeout(t.saturating_duration_since(Instant::now()))
                {
                    Ok(r) => Some(r),
                    Err(std_mpsc::RecvTimeoutError::Timeout) => None,
                    Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
                },
                (None, None) => match self.rx.recv() {
                    Ok(r) => Some(r),
                    Err(_) => break,
                },
            };
            let mut batch = Vec::new();
            let mut shutdown = false;
            if let Some(first) = first {
                match first {
                    Request::Shutdown => shutdown = true,
                    r => batch.push(r),
                }
                while !shutdown && batch.len() < self.max_batch {
                    match self.rx.try_recv() {
                        Ok(Request::Shutdown) => shutdown = true,
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
            }
            if !self.compaction_interval.is_zero() && Instant::now() >= next_compaction {
                next_compaction = Instant::now() + self.compaction_interval;
                if let Some(target) = window_start
                    && target > self.compacted
                {
                    tracing::info!(revision = target, "periodic compaction of embedded store");
                    let (reply, _) = oneshot::channel();
                    batch.push(Request::Compact {
                        revision: target,
                        reply,
                    });
                }
                window_start = Some(self.revision);
            }
            if !batch.is_empty() {
                self.process(batch);
            } else if (self.wal.is_dirty()
                && self.last_checkpoint.elapsed() >= self.checkpoint_interval)
                || self.cleaned < self.compacted
            {
                // Idle: checkpoint (and clean up history) in an empty batch.
                self.process(Vec::new());
            }
            if shutdown {
                break;
            }
        }
        // A clean close leaves nothing to replay.
        if self.wal.is_dirty() {
            self.force_checkpoint = true;
            self.process(Vec::new());
        }
        tracing::debug!("embedded store writer stopped");
    }

    /// Waits up to `POLL_BEFORE_SLEEP` for a request without sleeping.
    fn poll_briefly(&self) -> Option<Request> {
        let start = Instant::now();
        loop {
            match self.rx.try_recv() {
                Ok(r) => return Some(r),
                Err(std_mpsc::TryRecvError::Disconnected) => return None,
                Err(std_mpsc::TryRecvError::Empty) => {}
            }
            if start.elapsed() >= POLL_BEFORE_SLEEP {
                return None;
            }
            std::hint::spin_loop();
        }
    }

    /// Applies a batch in one transaction, makes it durable (write-ahead log append, or a
    /// durable commit at a checkpoint), commits it, publishes its events, replies.
    fn process(&mut self, batch: Vec<Request>) {
        let start = (self.revision, self.compacted, self.cleaned);
        let mut replies = Vec::with_capacity(batch.len());
        let mut events = Vec::new();
        match self.apply_batch(batch, &mut replies, &mut events) {
            Ok(()) => {
                self.published.store(self.revision, Ordering::SeqCst);
                self.compacted_shared
                    .store(self.compacted, Ordering::SeqCst);
                if !events.is_empty() {
                    // No receivers is fine.
                    let _ = self.events.send(Arc::new(Batch {
                        events,
                        revision: self.revision,
                    }));
                }
                for reply in replies {
                    match reply {
                        Reply::Write(tx, r) => {
                            let _ = tx.send(r);
                        }
                        Reply::Compact(tx, r) => {
                            let _ = tx.send(r);
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "embedded store commit failed");
                (self.revision, self.compacted, self.cleaned) = start;
                let err = StoreError::Unavailable(format!("embedded store commit failed: {e}"));
                for reply in replies {
                    match reply {
                        Reply::Write(tx, _) => {
                            let _ = tx.send(Err(err.clone()));
                        }
                        Reply::Compact(tx, _) => {
                            let _ = tx.send(Err(err.clone()));
                        }
                    }
                }
            }
        }
    }

    fn apply_batch(
        &mut self,
        batch: Vec<Request>,
        replies: &mut Vec<Reply>,
        events: &mut Vec<WatchEvent>,
    ) -> Result<(), BatchError> {
        let idle = batch.is_empty();
        let mut txn = self.db.begin_write()?;
        self.wal_buf.clear();
        let generation = self.wal.generation;
        let checkpoint;
        {
            let mut t = Tables::open(&txn)?;
            // After a storage failure the batch is abandoned; its remaining requests are
            // still answered (with the failure).
            let mut failure: Option<BatchError> = None;
            for req in batch {
                match req {
                    Request::Write { reply, .. } if failure.is_some() => {
                        replies.push(Reply::Write(reply, Err(closed())));
                    }
                    Request::Compact { reply, .. } if failure.is_some() => {
                        replies.push(Reply::Compact(reply, Err(closed())));
                    }
                    Request::Write { op, reply } => {
                        let before = self.revision;
                        match self.apply(&mut t, &op, events) {
                            Ok(outcome) => {
                                if self.revision > before {
                                    self.wal_buf.write(
                                        generation,
                                        self.revision,
                                        op.ops.iter().map(|o| match o {
                                            Op::Put { key, value, .. } => {
                                                (key.as_str(), Some(value.as_ref()))
                                            }
                                            Op::Delete { key, .. } => (key.as_str(), None),
                                        }),
                                    );
                                }
                                replies.push(Reply::Write(reply, Ok(outcome)));
                            }
                            Err(ApplyError::Logical(e)) => {
                                replies.push(Reply::Write(reply, Err(e)));
                            }
                            Err(ApplyError::Storage(e)) => {
                                replies.push(Reply::Write(reply, Err(closed())));
                                failure = Some(e.into());
                            }
                        }
                    }
                    Request::Compact { revision, reply } => {
                        let r = if revision > self.revision {
                            Err(StoreError::FutureRevision {
                                requested: revision,
                                current: self.revision,
                            })
                        } else {
                            if revision > self.compacted {
                                self.compacted = revision;
                                if let Err(e) = t.meta.insert(META_COMPACTED, revision) {
                                    failure = Some(e.into());
                                }
                                self.wal_buf.compact(generation, revision);
                            }
                            Ok(())
                        };
                        replies.push(Reply::Compact(reply, r));
                    }
                    Request::Shutdown => {}
                }
            }
            if let Some(e) = failure {
                return Err(e);
            }
            t.meta.insert(META_REVISION, self.revision)?;
            let budget = if idle {
                CLEANUP_IDLE
            } else {
                CLEANUP_PER_BATCH
            };
            self.cleanup(&mut t, budget)?;
            checkpoint = self.force_checkpoint
                || self.last_checkpoint.elapsed() >= self.checkpoint_interval
                || self.wal.fill() > 0.5
                || !self.wal.fits(self.wal_buf.len());
            if checkpoint {
                t.meta.insert(
                    META_WAL_GENERATION,
                    i64::try_from(generation + 1).unwrap_or(i64::MAX),
                )?;
            }
        }
        if checkpoint {
            // A durable commit makes the log's records redundant: start a new generation.
            txn.set_durability(Durability::Immediate)?;
            txn.commit()?;
            self.wal.reset(generation + 1);
            self.last_checkpoint = Instant::now();
            self.force_checkpoint = false;
            return Ok(());
        }
        if self.wal_buf.is_empty() {
            // Nothing to make durable (only failed conditions, or cleanup).
            txn.set_durability(Durability::None)?;
            txn.commit()?;
            return Ok(());
        }
        let offset = self.wal.offset();
        let logged = self.wal.append(&self.wal_buf).map_err(BatchError::from);
        let committed = logged.and_then(|()| {
            txn.set_durability(Durability::None)?;
            txn.commit()?;
            Ok(())
        });
        if committed.is_err() {
            // The batch is reported failed: its records must not be replayed later.
            if let Err(e) = self.wal.retract(offset) {
                tracing::error!(error = %e, "could not retract write-ahead log records");
            }
        }
        committed
    }

    /// Replays the write-ahead log's records beyond the last checkpoint, then checkpoints.
    fn recover(&mut self) -> Result<(), StoreError> {
        let records = self.wal.read_records().map_err(|e| {
            internal(format!(
                "reading write-ahead log {}: {e}",
                self.wal.path().display()
            ))
        })?;
        if records.is_empty() {
            return Ok(());
        }
        let count = records.len();
        let mut events = Vec::new();
        let result = (|| -> Result<(), BatchError> {
            let mut txn = self.db.begin_write()?;
            {
                let mut t = Tables::open(&txn)?;
                for record in records {
                    match record {
                        wal::Record::Write { revision, ops } => {
                            if revision != self.revision + 1 {
                                tracing::warn!(
                                    revision,
                                    expected = self.revision + 1,
                                    "write-ahead log out of order; stopping replay"
                                );
                                break;
                            }
                            let op = WriteOp {
                                ops: ops
                                    .into_iter()
                                    .map(|o| match o {
                                        wal::LoggedOp::Put(key, value) => Op::Put {
                                            key,
                                            value,
                                            cond: Cond::None,
                                        },
                                        wal::LoggedOp::Delete(key) => Op::Delete {
                                            key,
                                            cond: Cond::None,
                                        },
                                    })
                                    .collect(),
                            };
                            events.clear();
                            match self.apply(&mut t, &op, &mut events) {
                                Ok(_) if self.revision == revision => {}
                                Ok(_) => {
                                    return Err(BatchError::Db(redb::Error::Corrupted(format!(
                                        "replaying revision {revision} changed nothing"
                                    ))));
                                }
                                Err(ApplyError::Storage(e)) => return Err(e.into()),
                                Err(ApplyError::Logical(e)) => {
                                    return Err(BatchError::Db(redb::Error::Corrupted(format!(
                                        "replaying revision {revision}: {e}"
                                    ))));
                                }
                            }
                        }
                        wal::Record::Compact { revision } => {
                            if revision > self.compacted && revision <= self.revision {
                                self.compacted = revision;
                                t.meta.insert(META_COMPACTED, revision)?;
                            }
                        }
                    }
                }
                t.meta.insert(META_REVISION, self.revision)?;
                t.meta.insert(
                    META_WAL_GENERATION,
                    i64::try_from(self.wal.generation + 1).unwrap_or(i64::MAX),
                )?;
            }
            txn.set_durability(Durability::Immediate)?;
            txn.commit()?;
            Ok(())
        })();
        result.map_err(|e| internal(format!("replaying write-ahead log: {e}")))?;
        self.wal.reset(self.wal.generation + 1);
        tracing::info!(
            records = count,
            revision = self.revision,
            "replayed write-ahead log"
        );
        Ok(())
    }

    /// One write request: check every condition, then write everything at one new revision.
    fn apply(
        &mut self,
        t: &mut Tables<'_>,
        op: &WriteOp,
        events: &mut Vec<WatchEvent>,
    ) -> Result<Outcome, ApplyError> {
        let mut currents = Vec::with_capacity(op.ops.len());
        for o in &op.ops {
            let key = o.key();
            let current = match t.latest.get(key)? {
                Some(v) => Some(decode_latest(key, v.value()).map_err(ApplyError::Logical)?),
                None => None,
            };
            let cond = match o {
                Op::Put { cond, .. } | Op::Delete { cond, .. } => *cond,
            };
            let holds = match cond {
                Cond::None => true,
                Cond::Absent => current.is_none(),
                Cond::Exists => current.is_some(),
                Cond::ModRevision(r) => current.as_ref().is_some_and(|c| c.mod_revision == r),
            };
            if !holds {
                return Err(ApplyError::Logical(match (cond, current) {
                    (Cond::Absent, Some(current)) => StoreError::AlreadyExists {
                        key: key.to_owned(),
                        current,
                    },
                    (_, current) => StoreError::Conflict {
                        key: key.to_owned(),
                        current,
                    },
                }));
            }
            currents.push(current);
        }
        let rev = self.revision + 1;
        let mut written: Vec<&str> = Vec::with_capacity(op.ops.len());
        let mut deleted: Option<KeyValue> = None;
        for (o, current) in op.ops.iter().zip(currents) {
            match o {
                Op::Put { key, value, .. } => {
                    let create = current.as_ref().map_or(rev, |c| c.create_revision);
                    t.latest
                        .insert(key.as_str(), encode_latest(create, rev, value).as_slice())?;
                    t.versions.insert(
                        (key.as_str(), rev),
                        encode_version(create, FLAG_LIVE, value).as_slice(),
                    )?;
                    written.push(key);
                    events.push(WatchEvent {
                        event_type: EventType::Put,
                        kv: KeyValue {
                            key: key.clone(),
                            value: value.clone(),
                            create_revision: create,
                            mod_revision: rev,
                        },
                        prev: current,
                    });
                }
                Op::Delete { key, .. } => {
                    let Some(current) = current else { continue };
                    t.latest.remove(key.as_str())?;
                    t.versions.insert(
                        (key.as_str(), rev),
                        encode_version(0, FLAG_TOMBSTONE, &[]).as_slice(),
                    )?;
                    written.push(key);
                    events.push(WatchEvent {
                        event_type: EventType::Delete,
                        kv: KeyValue {
                            key: key.clone(),
                            value: Bytes::new(),
                            create_revision: 0,
                            mod_revision: rev,
                        },
                        prev: Some(current.clone()),
                    });
                    deleted = Some(current);
                }
            }
        }
        if written.is_empty() {
            // Nothing changed (deletes of absent keys): no new revision.
            return Ok(Outcome::Written(self.revision));
        }
        t.log.insert(rev, encode_log(&written).as_slice())?;
        self.revision = rev;
        let single_delete = op.ops.len() == 1 && matches!(op.ops[0], Op::Delete { .. });
        match (single_delete, deleted) {
            (true, Some(prev)) => Ok(Outcome::Deleted(DeleteResult {
                prev,
                revision: rev,
            })),
            _ => Ok(Outcome::Written(rev)),
        }
    }

    /// Removes up to `budget` log entries below the compacted revision, with the versions they
    /// supersede: per key, only the newest version below the compacted revision stays (it is
    /// the value at the compacted revision and the previous value of the next event), and not
    /// even that if it is a tombstone.
    fn cleanup(&mut self, t: &mut Tables<'_>, budget: usize) -> Result<(), redb::Error> {
        if self.cleaned >= self.compacted {
            return Ok(());
        }
        let mut entries: Vec<(i64, Vec<String>)> = Vec::new();
        for item in t.log.range(self.cleaned..self.compacted)?.take(budget) {
            let (rev, keys) = item?;
            let keys = decode_log(keys.value())
                .map_err(|e| redb::Error::Corrupted(e.to_string()))?
                .into_iter()
                .map(str::to_owned)
                .collect();
            entries.push((rev.value(), keys));
        }
        let done = entries.len() < budget;
        for (rev, keys) in &entries {
            for key in keys {
                let older: Vec<i64> = t
                    .versions
                    .range((key.as_str(), i64::MIN)..(key.as_str(), *rev))?
                    .map(|item| item.map(|(k, _)| k.value().1))
                    .collect::<Result<_, _>>()?;
                for r in older {
                    t.versions.remove((key.as_str(), r))?;
                }
                let tomb = match t.versions.get((key.as_str(), *rev))? {
                    Some(v) => is_tombstone(v.value()),
                    None => false,
                };
                if tomb {
                    t.versions.remove((key.as_str(), *rev))?;
                }
            }
            t.log.remove(*rev)?;
        }
        self.cleaned = match (done, entries.last()) {
            (true, _) | (false, None) => self.compacted,
            (false, Some((rev, _))) => rev + 1,
        };
        t.meta.insert(META_CLEANED, self.cleaned)?;
        Ok(())
    }
}

// ---- reads -------------------------------------------------------------------------------------

fn meta_value(txn: &ReadTransaction, key: &str, default: i64) -> Result<i64, StoreError> {
    let meta = txn.open_table(META).map_err(internal)?;
    Ok(meta
        .get(key)
        .map_err(internal)?
        .map_or(default, |v| v.value()))
}

/// Checks that `rev` can be read in this snapshot.
fn check_revision(txn: &ReadTransaction, rev: Revision) -> Result<Revision, StoreError> {
    let current = meta_value(txn, META_REVISION, INITIAL_REVISION)?;
    let compacted = meta_value(txn, META_COMPACTED, 0)?;
    if rev > current {
        return Err(StoreError::FutureRevision {
            requested: rev,
            current,
        });
    }
    if rev < compacted {
        return Err(StoreError::Compacted {
            requested: rev,
            compacted,
        });
    }
    Ok(current)
}

fn get_at(txn: &ReadTransaction, key: &str, rev: Revision) -> Result<Option<KeyValue>, StoreError> {
    let versions = txn.open_table(VERSIONS).map_err(internal)?;
    let last = versions
        .range((key, i64::MIN)..=(key, rev))
        .map_err(internal)?
        .next_back();
    match last {
        Some(item) => {
            let (k, v) = item.map_err(internal)?;
            decode_version(key, k.value().1, v.value())
        }
        None => Ok(None),
    }
}

/// The newest version of `key` strictly before `rev`, if live.
fn prev_of(
    versions: &redb::ReadOnlyTable<(&'static str, i64), &'static [u8]>,
    key: &str,
    rev: Revision,
) -> Result<Option<KeyValue>, StoreError> {
    let last = versions
        .range((key, i64::MIN)..(key, rev))
        .map_err(internal)?
        .next_back();
    match last {
        Some(item) => {
            let (k, v) = item.map_err(internal)?;
            decode_version(key, k.value().1, v.value())
        }
        None => Ok(None),
    }
}

fn list_latest(
    txn: &ReadTransaction,
    prefix: &str,
    start_after: Option<&str>,
    limit: Option<usize>,
) -> Result<(Vec<KeyValue>, i64), StoreError> {
    let latest = txn.open_table(LATEST).map_err(internal)?;
    let lower = match start_after {
        Some(a) if a >= prefix => Bound::Excluded(a),
        _ => Bound::Included(prefix),
    };
    let mut items = Vec::new();
    let mut remaining = 0i64;
    for item in latest
        .range::<&str>((lower, Bound::Unbounded))
        .map_err(internal)?
    {
        let (k, v) = item.map_err(internal)?;
        let key = k.value();
        if !key.starts_with(prefix) {
            break;
        }
        if limit.is_some_and(|l| items.len() >= l) {
            remaining += 1;
            continue;
        }
        items.push(decode_latest(key, v.value())?);
    }
    Ok((items, remaining))
}

fn list_at(
    txn: &ReadTransaction,
    prefix: &str,
    start_after: Option<&str>,
    limit: Option<usize>,
    rev: Revision,
) -> Result<(Vec<KeyValue>, i64), StoreError> {
    let versions = txn.open_table(VERSIONS).map_err(internal)?;
    let lower = match start_after {
        Some(a) if a >= prefix => Bound::Excluded((a, i64::MAX)),
        _ => Bound::Included((prefix, i64::MIN)),
    };
    let mut items = Vec::new();
    let mut remaining = 0i64;
    // Versions come in (key, revision) order: remember the newest one at or below `rev` of the
    // key at hand, and emit it when the key changes.
    let mut candidate: Option<(String, Option<KeyValue>)> = None;
    let emit =
        |c: Option<(String, Option<KeyValue>)>, items: &mut Vec<KeyValue>, remaining: &mut i64| {
            if let Some((_, Some(kv))) = c {
                if limit.is_some_and(|l| items.len() >= l) {
                    *remaining += 1;
                } else {
                    items.push(kv);
                }
            }
        };
    for item in versions
        .range::<(&str, i64)>((lower, Bound::Unbounded))
        .map_err(internal)?
    {
        let (k, v) = item.map_err(internal)?;
        let (key, r) = k.value();
        if !key.starts_with(prefix) {
            break;
        }
        if candidate.as_ref().is_none_or(|(ck, _)| ck != key) {
            emit(candidate.take(), &mut items, &mut remaining);
            candidate = Some((key.to_owned(), None));
        }
        if r <= rev
            && let Some((_, slot)) = candidate.as_mut()
        {
            *slot = decode_version(key, r, v.value())?;
        }
    }
    emit(candidate.take(), &mut items, &mut remaining);
    Ok((items, remaining))
}

/// Reads the events under `prefix` with revisions in `(after, upto]` from the log, at most
/// `REPLAY_CHUNK` revisions; returns them and the revision up to which they are complete.
fn read_history(
    db: &Database,
    prefix: &str,
    after: Revision,
    upto: Revision,
) -> Result<(Vec<WatchEvent>, Revision), StoreError> {
    let txn = db.begin_read().map_err(internal)?;
    let compacted = meta_value(&txn, META_COMPACTED, 0)?;
    if after + 1 < compacted {
        return Err(StoreError::Compacted {
            requested: after + 1,
            compacted,
        });
    }
    let log = txn.open_table(LOG).map_err(internal)?;
    let versions = txn.open_table(VERSIONS).map_err(internal)?;
    let mut events = Vec::new();
    let mut read = 0;
    let mut last = after;
    for item in log
        .range((Bound::Excluded(after), Bound::Included(upto)))
        .map_err(internal)?
        .take(REPLAY_CHUNK)
    {
        let (rev, keys) = item.map_err(internal)?;
        let rev = rev.value();
        for key in decode_log(keys.value())? {
            if !key.starts_with(prefix) {
                continue;
            }
            let Some(record) = versions.get((key, rev)).map_err(internal)? else {
                return Err(internal(format!("history of {key} at {rev} is missing")));
            };
            let now = decode_version(key, rev, record.value())?;
            let prev = prev_of(&versions, key, rev)?;
            events.push(match now {
                Some(kv) => WatchEvent {
                    event_type: EventType::Put,
                    kv,
                    prev,
                },
                None => WatchEvent {
                    event_type: EventType::Delete,
                    kv: KeyValue {
                        key: key.to_owned(),
                        value: Bytes::new(),
                        create_revision: 0,
                        mod_revision: rev,
                    },
                    prev,
                },
            });
        }
        read += 1;
        last = rev;
    }
    if read < REPLAY_CHUNK {
        last = upto;
    }
    Ok((events, last))
}

// ---- watch -------------------------------------------------------------------------------------

struct WatchState {
    db: Arc<Database>,
    prefix: String,
    /// Every event up to here was delivered or is in `pending`.
    last: Revision,
    /// Events up to here are read from disk before listening to `rx` again.
    catch_up_to: Revision,
    rx: broadcast::Receiver<Arc<Batch>>,
    published: Arc<AtomicI64>,
    pending: VecDeque<WatchEvent>,
    done: bool,
}

impl WatchState {
    async fn next(&mut self) -> Option<Result<WatchEvent, StoreError>> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(Ok(ev));
            }
            if self.done {
                return None;
            }
            if self.last < self.catch_up_to {
                let db = self.db.clone();
                let prefix = self.prefix.clone();
                let (after, upto) = (self.last, self.catch_up_to);
                let read =
                    tokio::task::spawn_blocking(move || read_history(&db, &prefix, after, upto))
                        .await
                        .map_err(|e| internal(format!("history read failed: {e}")))
                        .and_then(|r| r);
                match read {
                    Ok((events, last)) => {
                        self.pending.extend(events);
                        self.last = last;
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(batch) => {
                    if batch.revision <= self.last {
                        continue;
                    }
                    for ev in &batch.events {
                        if ev.kv.mod_revision > self.last && ev.kv.key.starts_with(&self.prefix) {
                            self.pending.push_back(ev.clone());
                        }
                    }
                    self.last = batch.revision;
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(
                        prefix = %self.prefix,
                        skipped = n,
                        "watcher lagged behind live events, reading history"
                    );
                    // Listen from now on, and take everything published so far from disk.
                    self.rx = self.rx.resubscribe();
                    self.catch_up_to = self.published.load(Ordering::SeqCst);
                }
                Err(broadcast::error::RecvError::Closed) => {
                    self.done = true;
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &str, revision: Option<Revision>) -> Result<GetResult, StoreError> {
        let key = key.to_owned();
        self.read(move |txn| match revision.filter(|r| *r > 0) {
            None => {
                let current = meta_value(txn, META_REVISION, INITIAL_REVISION)?;
                let latest = txn.open_table(LATEST).map_err(internal)?;
                let kv = match latest.get(key.as_str()).map_err(internal)? {
                    Some(v) => Some(decode_latest(&key, v.value())?),
                    None => None,
                };
                Ok(GetResult {
                    kv,
                    revision: current,
                })
            }
            Some(rev) => {
                let current = check_revision(txn, rev)?;
                let kv = if rev == current {
                    let latest = txn.open_table(LATEST).map_err(internal)?;
                    match latest.get(key.as_str()).map_err(internal)? {
                        Some(v) => Some(decode_latest(&key, v.value())?),
                        None => None,
                    }
                } else {
                    get_at(txn, &key, rev)?
                };
                Ok(GetResult { kv, revision: rev })
            }
        })
        .await
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult, StoreError> {
        let prefix = prefix.to_owned();
        self.read(move |txn| {
            let limit = opts.limit.filter(|l| *l > 0);
            let (current, rev) = match opts.revision.filter(|r| *r > 0) {
                None => {
                    let current = meta_value(txn, META_REVISION, INITIAL_REVISION)?;
                    (current, current)
                }
                Some(rev) => (check_revision(txn, rev)?, rev),
            };
            let (items, remaining) = if rev == current {
                list_latest(txn, &prefix, opts.start_after.as_deref(), limit)?
            } else {
                list_at(txn, &prefix, opts.start_after.as_deref(), limit, rev)?
            };
            Ok(ListResult {
                items,
                revision: rev,
                more: remaining > 0,
                remaining,
            })
        })
        .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<WriteResult, StoreError> {
        let op = WriteOp {
            ops: vec![Op::Put {
                key: key.to_owned(),
                value,
                cond: Cond::Absent,
            }],
        };
        match self.write(op).await? {
            Outcome::Written(revision) => Ok(WriteResult { revision }),
            Outcome::Deleted(d) => Ok(WriteResult {
                revision: d.revision,
            }),
        }
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<WriteResult, StoreError> {
        let op = WriteOp {
            ops: vec![Op::Put {
                key: key.to_owned(),
                value,
                cond: Cond::ModRevision(expected),
            }],
        };
        match self.write(op).await? {
            Outcome::Written(revision) => Ok(WriteResult { revision }),
            Outcome::Deleted(d) => Ok(WriteResult {
                revision: d.revision,
            }),
        }
    }

    async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<DeleteResult, StoreError> {
        let op = WriteOp {
            ops: vec![Op::Delete {
                key: key.to_owned(),
                cond: expected.map_or(Cond::Exists, Cond::ModRevision),
            }],
        };
        match self.write(op).await? {
            Outcome::Deleted(d) => Ok(d),
            Outcome::Written(_) => Err(StoreError::Conflict {
                key: key.to_owned(),
                current: None,
            }),
        }
    }

    async fn txn(&self, ops: Vec<TxnOp>) -> Result<WriteResult, StoreError> {
        if ops.is_empty() {
            return Ok(WriteResult {
                revision: self.current_revision().await?,
            });
        }
        check_distinct_keys(&ops)?;
        let ops = ops
            .into_iter()
            .map(|op| match op {
                TxnOp::Put {
                    key,
                    value,
                    condition,
                } => Op::Put {
                    key,
                    value,
                    cond: condition.into(),
                },
                TxnOp::Delete { key, condition } => Op::Delete {
                    key,
                    cond: condition.into(),
                },
            })
            .collect();
        match self.write(WriteOp { ops }).await? {
            Outcome::Written(revision) => Ok(WriteResult { revision }),
            Outcome::Deleted(d) => Ok(WriteResult {
                revision: d.revision,
            }),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        let after = after.max(0);
        // Subscribe first, then read how far events were published: every later event arrives
        // through `rx`, every earlier one is on disk.
        let rx = self.shared.events.subscribe();
        let published = self.shared.revision.load(Ordering::SeqCst);
        let compacted = self.shared.compacted.load(Ordering::Acquire);
        if after + 1 < compacted {
            return Err(StoreError::Compacted {
                requested: after + 1,
                compacted,
            });
        }
        let state = WatchState {
            db: self.shared.db.clone(),
            prefix: prefix.to_owned(),
            last: after,
            catch_up_to: published,
            rx,
            published: self.shared.revision.clone(),
            pending: VecDeque::new(),
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(
            state,
            |mut st| async move {
                let item = st.next().await?;
                Some((item, st))
            },
        )))
    }

    async fn current_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.shared.revision.load(Ordering::Acquire))
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.shared
            .requests
            .send(Request::Compact { revision, reply })
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_roundtrip() -> Result<(), StoreError> {
        let enc = encode_log(&["/a", "", "/b/ü"]);
        assert_eq!(decode_log(&enc)?, vec!["/a", "", "/b/ü"]);
        Ok(())
    }

    #[test]
    fn version_roundtrip() -> Result<(), StoreError> {
        let live = encode_version(3, FLAG_LIVE, b"v");
        let kv = decode_version("k", 7, &live)?;
        assert_eq!(
            kv,
            Some(KeyValue {
                key: "k".into(),
                value: Bytes::from_static(b"v"),
                create_revision: 3,
                mod_revision: 7
            })
        );
        assert!(is_tombstone(&encode_version(0, FLAG_TOMBSTONE, &[])));
        assert_eq!(
            decode_version("k", 8, &encode_version(0, FLAG_TOMBSTONE, &[]))?,
            None
        );
        Ok(())
    }
}
