//! What was true a moment ago, kept in process: who a token stands for,
//! who takes part in a room. Every request used to ask PostgreSQL again.
//!
//! An entry is trusted for [`Recent::new`]'s `fresh_for` only (one second
//! for the caches built on this), so anything that changes it — a logout, a
//! leave — is seen by every replica within that time whatever happened to
//! the bus between them; the replica that made the change, and the others as
//! soon as the hub's message reaches them, forget the entry at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries beyond this are pruned of the stale ones when another is added.
const PRUNE_ABOVE: usize = 50_000;

pub struct Recent<K, V> {
    fresh_for: Duration,
    entries: Mutex<HashMap<K, Entry<V>>>,
}

enum Entry<V> {
    Known(V, Instant),
    /// Forgotten at that instant: a value read before it is not taken.
    Forgotten(Instant),
}

impl<V> Entry<V> {
    fn at(&self) -> Instant {
        match self {
            Self::Known(_, at) | Self::Forgotten(at) => *at,
        }
    }
}

impl<K: Eq + Hash, V: Clone> Recent<K, V> {
    pub fn new(fresh_for: Duration) -> Self {
        Self {
            fresh_for,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value, if it was learnt less than `fresh_for` ago.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key)? {
            Entry::Known(value, learnt) if learnt.elapsed() < self.fresh_for => Some(value.clone()),
            _ => None,
        }
    }

    /// Remembers `value`, learnt just now (from the source of truth, read
    /// after `since`: an entry forgotten meanwhile is not brought back).
    pub fn put(&self, key: K, value: V, since: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= PRUNE_ABOVE {
            let fresh_for = self.fresh_for;
            entries.retain(|_, entry| entry.at().elapsed() < fresh_for);
        }
        if let Some(Entry::Forgotten(at)) = entries.get(&key) {
            if since <= *at {
                return;
            }
        }
        entries.insert(key, Entry::Known(value, since));
    }

    /// Forgets `key`, and refuses values of it read before now.
    pub fn forget(&self, key: K) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Entry::Forgotten(Instant::now()));
    }

    pub fn forget_where(&self, doomed: impl Fn(&K) -> bool) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|key, _| !doomed(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_trusted_for_a_moment_only() {
        let recent = Recent::new(Duration::from_millis(50));
        recent.put("a", 1, Instant::now());
        assert_eq!(recent.get(&"a"), Some(1));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(recent.get(&"a"), None, "stale");
    }

    #[test]
    fn forgotten_entries_are_asked_again() {
        let recent = Recent::new(Duration::from_secs(60));
        recent.put(("room", 1), (), Instant::now());
        recent.put(("room", 2), (), Instant::now());
        recent.put(("other", 1), (), Instant::now());
        recent.forget(("room", 1));
        assert_eq!(recent.get(&("room", 1)), None);
        recent.forget_where(|(room, _)| *room == "room");
        assert_eq!(recent.get(&("room", 2)), None);
        assert_eq!(recent.get(&("other", 1)), Some(()));
    }

    #[test]
    fn a_value_read_before_it_was_forgotten_is_not_taken() {
        let recent = Recent::new(Duration::from_secs(60));
        let read_at = Instant::now();
        recent.forget("token");
        recent.put("token", 1, read_at);
        assert_eq!(recent.get(&"token"), None, "read before the logout");
        recent.put("token", 2, Instant::now());
        assert_eq!(recent.get(&"token"), Some(2), "read after it");
    }

    #[test]
    fn a_value_read_before_it_was_learnt_is_as_old_as_the_read() {
        let recent = Recent::new(Duration::from_millis(50));
        let read_at = Instant::now();
        std::thread::sleep(Duration::from_millis(60));
        recent.put("a", 1, read_at);
        assert_eq!(recent.get(&"a"), None);
    }
}
