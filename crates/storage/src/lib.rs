//! Revisioned key-value storage: the one place that knows how objects are persisted.
//!
//! [`Store`] is the contract: keys, raw bytes and revisions, with the conditional writes,
//! consistent paged lists and resumable watches a Kubernetes-style server needs. Two backends
//! implement it: etcd (production) and an embedded on-disk store (single node, fast tests).
//! Nothing here knows about objects, kinds or JSON.

use std::pin::Pin;

pub mod embedded;
pub mod etcd;

pub use embedded::{EmbeddedConfig, EmbeddedStats, EmbeddedStore};
pub use etcd::{EtcdConfig, EtcdStore, EtcdTlsConfig};

use bytes::Bytes;
use futures::Stream;

/// A store-wide revision: increases by one with every successful write (etcd semantics; an
/// empty store is at revision 1, a failed conditional write consumes no revision).
pub type Revision = i64;

/// A key with its value and revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key.
    pub key: String,
    /// The stored bytes (empty for the tombstone of a delete event).
    pub value: Bytes,
    /// Revision at which the key was created (0 = absent).
    pub create_revision: Revision,
    /// Revision of the last write to the key.
    pub mod_revision: Revision,
}

/// The result of a single-key read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetResult {
    /// The key, if present at the read revision.
    pub kv: Option<KeyValue>,
    /// The store revision the read was served at.
    pub revision: Revision,
}

/// How to list a prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Only keys strictly greater than this one (the continuation key of a previous page).
    pub start_after: Option<String>,
    /// At most this many keys; `None` (or `Some(0)`) = all.
    pub limit: Option<usize>,
    /// Serve at this revision (must not be compacted, nor newer than the current one);
    /// `None` (or a value ≤ 0) = the current revision.
    pub revision: Option<Revision>,
}

/// One page of a prefix listing, consistent at `revision`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListResult {
    /// Keys in ascending key order.
    pub items: Vec<KeyValue>,
    /// The revision the page was served at; later pages must pass it back.
    pub revision: Revision,
    /// Whether keys remain after the last item.
    pub more: bool,
    /// How many keys remain after the last item (when `more`).
    pub remaining: i64,
}

/// A per-key precondition of a transaction operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// No condition.
    None,
    /// The key must not exist.
    Absent,
    /// The key must exist with exactly this mod revision.
    ModRevision(Revision),
}

/// One operation of an all-or-nothing transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    /// Write `value` at `key` if `condition` holds.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: Bytes,
        /// Its precondition.
        condition: Condition,
    },
    /// Delete `key` if `condition` holds (deleting an absent key with no condition is a no-op).
    Delete {
        /// The key.
        key: String,
        /// Its precondition.
        condition: Condition,
    },
}

/// The result of a successful write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteResult {
    /// The revision of the write (the new mod revision of every key it put).
    pub revision: Revision,
}

/// The result of a successful delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteResult {
    /// The value the key held before it was deleted.
    pub prev: KeyValue,
    /// The revision of the delete.
    pub revision: Revision,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Created or updated.
    Put,
    /// Deleted.
    Delete,
}

/// One change to a key under a watched prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// Put or delete.
    pub event_type: EventType,
    /// The key after the change; for a delete, the key with an empty value, `mod_revision` =
    /// the delete's revision and `create_revision` = 0.
    pub kv: KeyValue,
    /// The value before the change: `None` for a create, present for updates and deletes
    /// (etcd cannot supply it for an event exactly at its compacted revision).
    pub prev: Option<KeyValue>,
}

impl WatchEvent {
    /// The revision of the change.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A stream of watch events in revision order; ends only on error or when the store closes.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchEvent, StoreError>> + Send>>;

/// Storage failures.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// `create` found the key present; carries the current value.
    #[error("key {key} already exists")]
    AlreadyExists {
        /// The key.
        key: String,
        /// Its current value.
        current: KeyValue,
    },
    /// A conditional write found another revision; `current` is `None` if the key is absent.
    #[error("conflict on key {key}")]
    Conflict {
        /// The key whose condition failed.
        key: String,
        /// Its current value, if any.
        current: Option<KeyValue>,
    },
    /// A read or watch asked for a revision that has been compacted away.
    #[error("revision {requested} has been compacted (compacted up to {compacted})")]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The store's compacted revision.
        compacted: Revision,
    },
    /// A read asked for a revision newer than the store's current one.
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The current revision.
        current: Revision,
    },
    /// The backend is unreachable or failed; the operation may be retried.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Any other backend failure.
    #[error("storage error: {0}")]
    Internal(String),
}

/// A revisioned, transactional key-value store.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads one key, at the current revision or at `revision` (`Compacted` below the
    /// compacted revision, `FutureRevision` beyond the current one; ≤ 0 = current).
    async fn get(&self, key: &str, revision: Option<Revision>) -> Result<GetResult, StoreError>;

    /// Lists keys with `prefix` in key order, one page, consistent at one revision; later
    /// pages pass the first page's `revision` and the last key as `start_after`.
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult, StoreError>;

    /// Writes `key` only if it is absent; `AlreadyExists` otherwise.
    async fn create(&self, key: &str, value: Bytes) -> Result<WriteResult, StoreError>;

    /// Overwrites `key` only if it exists with mod revision `expected`; `Conflict` (with the
    /// current value, `None` if absent) otherwise.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<WriteResult, StoreError>;

    /// Deletes `key`, only if its mod revision is `expected` when given; `Conflict` if the
    /// condition fails or the key is absent.
    async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<DeleteResult, StoreError>;

    /// Applies all operations atomically at one revision, or none; the first failed condition
    /// is reported as `Conflict` (or `AlreadyExists` for a failed `Absent`), with the key's
    /// current value. A key may appear only once (else `Internal`, as etcd refuses it). If
    /// nothing changes (no operations, or only unconditional deletes of absent keys) no
    /// revision is consumed and the current one is returned.
    async fn txn(&self, ops: Vec<TxnOp>) -> Result<WriteResult, StoreError>;

    /// Streams every change under `prefix` with a revision greater than `after`, in order:
    /// first the retained history, then live changes (events of one transaction share a
    /// revision). `Compacted` if `after + 1` is compacted: returned by `watch` itself, or as the
    /// stream's last item if compaction overtakes a watch that fell behind (or, on etcd, one
    /// resuming after a lost connection).
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError>;

    /// The store's current revision.
    async fn current_revision(&self) -> Result<Revision, StoreError>;

    /// Discards history before `revision`; later reads and watches below it get `Compacted`
    /// (reads at `revision` itself still work). A revision at or below the compacted one is a
    /// no-op; one beyond the current revision is `FutureRevision`.
    async fn compact(&self, revision: Revision) -> Result<(), StoreError>;
}
