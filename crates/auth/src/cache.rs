//! A small time-to-live cache for review answers (TokenReview, SubjectAccessReview).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept before expired ones are swept out on insert.
const SWEEP_AT: usize = 4096;
/// Entries kept at most; past this the cache starts over.
const MAX_ENTRIES: usize = 65_536;

/// A map whose entries expire, each after its own time-to-live.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value for `key` if it has not expired at `now`.
    pub fn get_at(&self, key: &K, now: Instant) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(expires, _)| *expires > now)
            .map(|(_, v)| v.clone())
    }

    /// The value for `key` if it has not expired.
    pub fn get(&self, key: &K) -> Option<V> {
        self.get_at(key, Instant::now())
    }

    /// Keeps `value` for `ttl` from `now`; a zero TTL keeps nothing.
    pub fn insert_at(&self, key: K, value: V, ttl: Duration, now: Instant) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, (expires, _)| *expires > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (now + ttl, value));
    }

    /// Keeps `value` for `ttl` from now.
    pub fn insert(&self, key: K, value: V, ttl: Duration) {
        self.insert_at(key, value, ttl, Instant::now());
    }

    /// Number of entries held (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_their_ttl() {
        let c = TtlCache::new();
        let t0 = Instant::now();
        c.insert_at("allow", true, Duration::from_secs(10), t0);
        c.insert_at("deny", false, Duration::from_secs(2), t0);
        assert_eq!(c.get_at(&"allow", t0 + Duration::from_secs(9)), Some(true));
        assert_eq!(c.get_at(&"deny", t0 + Duration::from_secs(1)), Some(false));
        assert_eq!(c.get_at(&"deny", t0 + Duration::from_secs(2)), None);
        assert_eq!(c.get_at(&"allow", t0 + Duration::from_secs(10)), None);
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let c = TtlCache::new();
        c.insert("k", 1, Duration::ZERO);
        assert!(c.is_empty());
    }

    #[test]
    fn expired_entries_are_swept() {
        let c = TtlCache::new();
        let t0 = Instant::now();
        for i in 0..SWEEP_AT {
            c.insert_at(i, i, Duration::from_secs(1), t0);
        }
        c.insert_at(
            usize::MAX,
            0,
            Duration::from_secs(1),
            t0 + Duration::from_secs(5),
        );
        assert_eq!(c.len(), 1);
    }
}
