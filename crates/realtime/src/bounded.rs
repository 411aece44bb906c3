//! A table of per-key state that cannot grow without bound: keys are
//! spread over shards, each an LRU of fixed capacity, so an insert evicts
//! in O(1) and a request locks one small shard, never the whole table.
//! Entries that have outlived their use are dropped from the cold end as
//! new ones come in, so the table is bounded by age as well as size.
//!
//! Keys are kept as 64-bit hashes under a per-process random key, so an
//! entry costs the same whatever the client sent and nobody can aim
//! collisions at another client's entry.

use std::hash::{BuildHasher, Hash};
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

/// Shards a table is split into; a power of two.
const SHARDS: usize = 32;

/// Expired entries dropped from the cold end per insert: enough to keep
/// up with the inserts, few enough that an insert stays O(1).
const REAP_PER_INSERT: usize = 2;

/// What the table needs to know about a value: when it stops mattering.
pub trait Expiring {
    /// Whether the entry carries nothing any longer at `now_ms`, so
    /// dropping it loses nothing.
    fn expired(&self, now_ms: u64) -> bool;
}

pub struct BoundedTable<V> {
    shards: Box<[Mutex<LruCache<u64, V>>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl<V: Expiring> BoundedTable<V> {
    /// A table holding at most about `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        let per_shard = NonZeroUsize::new(capacity.div_ceil(SHARDS).max(1)).expect("nonzero");
        BoundedTable {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Runs `f` on the entry of `key` (made with `fresh` if absent or
    /// expired), marking it recently used.
    pub fn with<K: Hash + ?Sized, R>(
        &self,
        key: &K,
        now_ms: u64,
        fresh: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> R {
        let hash = self.hasher.hash_one(key);
        let shard = &self.shards[(hash as usize) & (SHARDS - 1)];
        let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = shard.get_mut(&hash) {
            if entry.expired(now_ms) {
                *entry = fresh();
            }
            return f(entry);
        }
        for _ in 0..REAP_PER_INSERT {
            match shard.peek_lru() {
                Some((_, oldest)) if oldest.expired(now_ms) => {
                    shard.pop_lru();
                }
                _ => break,
            }
        }
        let mut entry = fresh();
        let result = f(&mut entry);
        shard.push(hash, entry);
        result
    }

    /// Reads the entry of `key` without creating one or touching its recency.
    pub fn peek<K: Hash + ?Sized, R>(&self, key: &K, f: impl FnOnce(Option<&V>) -> R) -> R {
        let hash = self.hasher.hash_one(key);
        let shard = self.shards[(hash as usize) & (SHARDS - 1)]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        f(shard.peek(&hash))
    }

    /// Drops the entry of `key`.
    pub fn remove<K: Hash + ?Sized>(&self, key: &K) {
        let hash = self.hasher.hash_one(key);
        self.shards[(hash as usize) & (SHARDS - 1)]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop(&hash);
    }

    /// Entries held, for tests and metrics.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries the table holds.
    pub fn capacity(&self) -> usize {
        self.shards.len()
            * self.shards[0]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .cap()
                .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Until(u64);

    impl Expiring for Until {
        fn expired(&self, now_ms: u64) -> bool {
            now_ms >= self.0
        }
    }

    #[test]
    fn size_stays_within_capacity() {
        let table = BoundedTable::<Until>::new(1_000);
        for i in 0..50_000u64 {
            table.with(&i, 0, || Until(u64::MAX), |_| ());
        }
        assert!(table.len() <= table.capacity());
        assert!(table.capacity() < 1_100);
    }

    #[test]
    fn expired_entries_are_reaped_as_others_arrive() {
        let table = BoundedTable::<Until>::new(10_000);
        for i in 0..1_000u64 {
            table.with(&i, 0, || Until(10), |_| ());
        }
        for i in 1_000..3_000u64 {
            table.with(&i, 20, || Until(u64::MAX), |_| ());
        }
        assert_eq!(table.len(), 2_000, "the expired ones were dropped");
    }

    #[test]
    fn an_expired_entry_starts_afresh() {
        let table = BoundedTable::<Until>::new(10);
        table.with("k", 0, || Until(10), |_| ());
        let renewed = table.with("k", 20, || Until(30), |e| e.0);
        assert_eq!(renewed, 30);
    }
}
