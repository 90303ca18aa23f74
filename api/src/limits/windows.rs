//! Counts per key in fixed windows, holding a bounded number of keys: what
//! the login limits and the registration limit both keep.
//!
//! A key's window starts with its first count and its count starts again
//! once the window has passed. At most [`MAX_KEYS`] keys are held; when
//! full, expired ones are dropped, and if none has expired new keys are
//! refused, so a flood of addresses or e-mails costs bounded memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Keys held at most.
pub const MAX_KEYS: usize = 100_000;

pub struct Windows<K> {
    window: Duration,
    counts: HashMap<K, (u32, Instant)>,
}

impl<K: Hash + Eq + Clone> Windows<K> {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            counts: HashMap::new(),
        }
    }

    /// Seconds until `key`'s window ends, if `key` has counted `max` in it.
    pub fn full(&self, key: &K, max: u32, now: Instant) -> Option<u64> {
        let &(count, since) = self.counts.get(key)?;
        let left = self.window.checked_sub(now.duration_since(since))?;
        (count >= max).then(|| left.as_secs().max(1))
    }

    /// Ok if every one of `keys` can be held; else the seconds to wait (a
    /// whole window: no key is known to expire sooner).
    pub fn room_for(&mut self, keys: &[K], now: Instant) -> Result<(), u64> {
        if self.counts.len() + keys.len() > MAX_KEYS {
            let window = self.window;
            self.counts.retain(|_, (_, since)| now.duration_since(*since) < window);
            if self.counts.len() + keys.len() > MAX_KEYS && keys.iter().any(|k| !self.counts.contains_key(k)) {
                return Err(window.as_secs().max(1));
            }
        }
        Ok(())
    }

    /// Counts one for `key`, in a new window if its last one has passed.
    pub fn add(&mut self, key: K, now: Instant) {
        let entry = self.counts.entry(key).or_insert((0, now));
        if now.duration_since(entry.1) >= self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// Gives one back to `key`.
    pub fn take_back(&mut self, key: &K) {
        if let Some(entry) = self.counts.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    /// Forgets `key`'s count.
    pub fn forget(&mut self, key: &K) {
        self.counts.remove(key);
    }
}
