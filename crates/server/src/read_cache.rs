//! Short-lived in-memory copies of records that change rarely: who holds an API key, and an
//! issuer's signing key (parsed and validated) with its push setting. The hot path then does
//! not ask the database, or parse a JWK, on every request. A change made on this instance
//! forgets the entry at once; another instance sees it within [`TTL`].
//!
//! Only records that were found are kept, so a key or issuer registered a moment ago (on this
//! instance or another) is found on its first use. Entries live at most [`TTL`], and the map is
//! emptied when it reaches [`CAPACITY`], so memory stays bounded whatever the callers send.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an entry is trusted.
pub(crate) const TTL: Duration = Duration::from_secs(60);
/// Entries kept at most.
pub(crate) const CAPACITY: usize = 10_000;

/// A bounded map of entries that expire.
pub(crate) struct ReadCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K, V> Default for ReadCache<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    /// The entry for `key`, if it is younger than [`TTL`].
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, v)| v.clone())
    }

    /// Drops the entry for `key` (its record changed).
    pub(crate) fn forget(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }

    /// Keeps `value` for `key`.
    pub(crate) fn put(&self, key: K, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_and_memory_stays_bounded() {
        let c: ReadCache<u32, u32> = ReadCache::default();
        assert_eq!(c.get(&1), None);
        c.put(1, 10);
        assert_eq!(c.get(&1), Some(10));
        c.forget(&1);
        assert_eq!(c.get(&1), None);
        for i in 0..(CAPACITY as u32 + 5) {
            c.put(i + 100, i);
        }
        assert!(c.entries.lock().unwrap().len() <= CAPACITY);
    }
}
