//! The watch cache: one storage watch per resource, fanned out in memory to every client watch.
//!
//! A pump task follows the store from a revision and keeps a bounded history of decoded
//! events. A client subscribes "after revision N" and gets, atomically, the retained events
//! after N plus a live receiver for everything later — no gap, no duplicate. A client that
//! falls behind the live channel is dropped (its stream ends; it re-watches from its last
//! revision out of the history) so it can never stall the others.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use ironcore_storage::{EventType, Store, StoreError};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::objects::decode_at;

/// Events kept per resource for clients resuming from a past revision.
const HISTORY_CAPACITY: usize = 20_000;
/// Bytes of stored objects the history of one resource may hold, whatever the event count.
const HISTORY_BYTES: usize = 256 * 1024 * 1024;
/// Revisions of store history replayed into the cache at start-up, so that clients that
/// watched a previous server process can resume without a relist.
const STARTUP_REPLAY: i64 = 10_000;
/// Live events buffered per client before it counts as too slow.
const CLIENT_BUFFER: usize = 4_096;

/// A decoded change to one object.
#[derive(Debug)]
pub struct CacheEvent {
    /// The revision of the change.
    pub revision: i64,
    /// Put or delete.
    pub event_type: EventType,
    /// The object after the change; for deletes, the last state stamped with the delete revision.
    pub object: Value,
    /// The object before the change, if it existed.
    pub prev: Option<Value>,
    /// The stored size of `object` and `prev`, for the history's byte budget.
    pub bytes: usize,
}

/// What the cache sends to subscribers.
#[derive(Clone, Debug)]
pub enum CacheMessage {
    /// A change.
    Event(Arc<CacheEvent>),
    /// The cache lost continuity (storage history compacted under it): watchers must relist.
    Reset,
}

/// Why a subscription failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooOld {
    /// The revision asked for.
    pub requested: i64,
    /// The oldest revision the cache can resume after.
    pub oldest: i64,
}

struct Inner {
    history: VecDeque<Arc<CacheEvent>>,
    /// History holds every event with a revision greater than this.
    oldest: i64,
    /// The last revision the pump has processed.
    head: i64,
    /// Sum of the history's [`CacheEvent::bytes`].
    bytes: usize,
}

/// One resource's watch cache.
pub struct WatchCache {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<CacheMessage>,
}

impl WatchCache {
    /// Starts following `prefix` of `store`; the pump runs until the store's stream ends for good.
    pub async fn start(store: Arc<dyn Store>, prefix: String) -> Result<Arc<Self>, StoreError> {
        let current = store.current_revision().await?;
        let from = (current - STARTUP_REPLAY).max(0);
        let (tx, _) = broadcast::channel(CLIENT_BUFFER);
        let cache = Arc::new(WatchCache {
            inner: Mutex::new(Inner {
                history: VecDeque::new(),
                oldest: from,
                head: from,
                bytes: 0,
            }),
            tx,
        });
        let pump = Arc::clone(&cache);
        tokio::spawn(async move { pump.pump(store, prefix).await });
        Ok(cache)
    }

    /// The last revision the cache has seen.
    pub fn head(&self) -> i64 {
        self.lock().head
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The retained events after `after` and a receiver for every later one.
    pub fn subscribe(
        &self,
        after: i64,
    ) -> Result<(Vec<Arc<CacheEvent>>, broadcast::Receiver<CacheMessage>), TooOld> {
        let inner = self.lock();
        if after < inner.oldest {
            return Err(TooOld {
                requested: after,
                oldest: inner.oldest,
            });
        }
        let backlog = inner
            .history
            .iter()
            .filter(|e| e.revision > after)
            .cloned()
            .collect();
        Ok((backlog, self.tx.subscribe()))
    }

    fn publish(&self, event: CacheEvent) {
        let event = Arc::new(event);
        let mut inner = self.lock();
        inner.head = event.revision;
        inner.history.push_back(Arc::clone(&event));
        inner.bytes += event.bytes;
        while inner.history.len() > HISTORY_CAPACITY || inner.bytes > HISTORY_BYTES {
            if let Some(old) = inner.history.pop_front() {
                inner.oldest = old.revision;
                inner.bytes -= old.bytes;
            } else {
                break;
            }
        }
        // Sent under the lock so that subscribe() sees either the history entry or the message.
        let _ = self.tx.send(CacheMessage::Event(event));
    }

    fn reset(&self, at: i64) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.bytes = 0;
        inner.oldest = at;
        inner.head = at;
        let _ = self.tx.send(CacheMessage::Reset);
    }

    async fn pump(self: Arc<Self>, store: Arc<dyn Store>, prefix: String) {
        let mut after = self.head();
        loop {
            let mut stream = match store.watch(&prefix, after).await {
                Ok(s) => s,
                Err(StoreError::Compacted { compacted, .. }) => {
                    // A store compacted by someone else may not know how far: then resume
                    // from its current revision (clients behind it relist on a 410).
                    let resume = if compacted > after {
                        compacted
                    } else {
                        match store.current_revision().await {
                            Ok(r) => r,
                            Err(_) => {
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                continue;
                            }
                        }
                    };
                    tracing::warn!(%prefix, after, resume, "watch cache start revision compacted");
                    // Events between `after` and `resume` are gone: watchers relist.
                    self.reset(resume);
                    after = resume;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(%prefix, error = %e, "watch cache cannot watch storage; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            while let Some(item) = stream.next().await {
                match item {
                    Ok(ev) => {
                        let revision = ev.revision();
                        after = revision;
                        let prev = ev
                            .prev
                            .as_ref()
                            .and_then(|p| decode_at(&p.value, p.mod_revision).ok());
                        let object = match ev.event_type {
                            EventType::Put => decode_at(&ev.kv.value, revision).ok(),
                            EventType::Delete => ev
                                .prev
                                .as_ref()
                                .and_then(|p| decode_at(&p.value, revision).ok()),
                        };
                        match object {
                            Some(object) => self.publish(CacheEvent {
                                revision,
                                event_type: ev.event_type,
                                object,
                                prev,
                                bytes: ev.kv.value.len()
                                    + ev.prev.as_ref().map_or(0, |p| p.value.len()),
                            }),
                            None => {
                                // A delete whose last state the store no longer has, or an
                                // undecodable value: watchers cannot be told exactly, so
                                // they relist.
                                tracing::warn!(key = %ev.kv.key, revision, "watch event without a decodable object; resetting watchers");
                                self.reset(revision);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(%prefix, error = %e, "storage watch ended");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
