//! Allocation hooks: storage writes a kind needs committed atomically with its own object
//! (e.g. claiming a VNI or an IP address), in one storage transaction.
//!
//! A kind's strategy may return an [`Allocator`]; the REST layer then commits the object and
//! the allocator's operations with [`ironcore_storage::Store::txn`], and re-runs the allocator
//! when one of its keys raced with another writer.

use ironcore_storage::{Condition, Store, StoreError, TxnOp};
use serde_json::Value;

use crate::errors::ApiError;
use crate::object::set_meta;
use crate::objects::Objects;

/// What an allocator may use: the store and key layout, and whether the write is a dry run.
pub struct AllocContext<'a> {
    /// Object storage (keys of any kind, reads).
    pub objects: &'a Objects,
    /// A dry run: fill in fields as a real write would, but the returned operations are dropped.
    pub dry_run: bool,
}

impl AllocContext<'_> {
    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.objects.store().as_ref()
    }
}

/// Storage side effects of a kind's writes.
#[async_trait::async_trait]
pub trait Allocator: Send + Sync + 'static {
    /// Before a create commits: may set fields of `object` and returns operations to commit with it.
    async fn on_create(
        &self,
        cx: &AllocContext<'_>,
        object: &mut Value,
    ) -> Result<Vec<TxnOp>, ApiError>;

    /// Before an update commits.
    async fn on_update(
        &self,
        cx: &AllocContext<'_>,
        new: &mut Value,
        old: &Value,
    ) -> Result<Vec<TxnOp>, ApiError> {
        let _ = (cx, new, old);
        Ok(Vec::new())
    }

    /// Before the object is finally removed from storage.
    async fn on_delete(&self, cx: &AllocContext<'_>, old: &Value) -> Result<Vec<TxnOp>, ApiError> {
        let _ = (cx, old);
        Ok(Vec::new())
    }
}

/// A put of a new object (create-if-absent) with system metadata filled in, for allocators.
pub fn create_op(key: String, mut object: Value) -> TxnOp {
    set_meta(
        &mut object,
        "uid",
        Some(Value::from(uuid::Uuid::new_v4().to_string())),
    );
    set_meta(
        &mut object,
        "creationTimestamp",
        Some(Value::from(crate::rest::now_rfc3339())),
    );
    TxnOp::Put {
        key,
        value: Objects::encode(&object),
        condition: Condition::Absent,
    }
}

/// A put replacing an object read at `revision`.
pub fn update_op(key: String, object: &Value, revision: i64) -> TxnOp {
    TxnOp::Put {
        key,
        value: Objects::encode(object),
        condition: Condition::ModRevision(revision),
    }
}

/// A delete of an object read at `revision`.
pub fn delete_op(key: String, revision: i64) -> TxnOp {
    TxnOp::Delete {
        key,
        condition: Condition::ModRevision(revision),
    }
}

/// How a commit of the main object failed.
pub enum CommitError {
    /// The main key exists (create).
    AlreadyExists(Option<Value>),
    /// The main key changed or vanished since it was read.
    Raced,
    /// Anything else.
    Api(ApiError),
}

impl From<ApiError> for CommitError {
    fn from(e: ApiError) -> Self {
        CommitError::Api(e)
    }
}

/// Attempts before an allocation that keeps racing gives up.
pub const MAX_ALLOCATION_ATTEMPTS: usize = 32;

/// The outcome of one commit attempt.
pub enum Attempt {
    /// Committed at this revision.
    Committed(i64),
    /// One of the allocator's own keys raced with another writer: allocate again.
    Retry,
    /// Failed for good.
    Failed(CommitError),
}

/// Commits `ops` (the main object's first) atomically.
pub async fn try_commit(objects: &Objects, main_key: &str, ops: Vec<TxnOp>) -> Attempt {
    match objects.store().txn(ops).await {
        Ok(w) => Attempt::Committed(w.revision),
        Err(StoreError::AlreadyExists { key, current }) if key == main_key => {
            Attempt::Failed(CommitError::AlreadyExists(Objects::decode(&current).ok()))
        }
        Err(StoreError::Conflict { key, .. }) if key == main_key => {
            Attempt::Failed(CommitError::Raced)
        }
        Err(StoreError::AlreadyExists { .. } | StoreError::Conflict { .. }) => Attempt::Retry,
        Err(e) => Attempt::Failed(CommitError::Api(e.into())),
    }
}

/// Commits what `attempt` builds (the main object's operation first, plus the object it
/// wrote), re-running it while one of the allocator's own keys races with another writer.
pub async fn commit_allocating<F, Fut>(
    objects: &Objects,
    main_key: &str,
    mut attempt: F,
) -> Result<(i64, Value), CommitError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<TxnOp>, Value), ApiError>>,
{
    for _ in 0..MAX_ALLOCATION_ATTEMPTS {
        let (ops, object) = attempt().await?;
        match try_commit(objects, main_key, ops).await {
            Attempt::Committed(rev) => return Ok((rev, object)),
            Attempt::Retry => continue,
            Attempt::Failed(e) => return Err(e),
        }
    }
    Err(exhausted(main_key))
}

/// The error when allocation kept racing for [`MAX_ALLOCATION_ATTEMPTS`] attempts.
pub fn exhausted(main_key: &str) -> CommitError {
    CommitError::Api(ApiError::conflict_msg(
        "",
        "allocations",
        main_key,
        "allocation kept racing with other writers; please retry",
    ))
}
