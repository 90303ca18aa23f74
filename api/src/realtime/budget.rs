//! How often one connection may make the server do database work for it.
//!
//! A subscription to a room channel (or a native `join_room`) checks the
//! caller's session and membership and schedules a catch-up: three to five
//! statements. Eight sockets re-subscribing in a loop slowed everyone
//! else's reads to 2.4 s. A channel already held is a no-op, and beyond
//! that each connection has a small bucket of such work that refills over
//! time.

use std::time::{Duration, Instant};

/// Room subscriptions one connection may make at once…
pub const BURST: u32 = 10;
/// …and how fast it earns another.
pub const REFILL_EVERY: Duration = Duration::from_secs(3);

#[derive(Debug)]
pub struct Budget {
    tokens: u32,
    refilled: Instant,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            tokens: BURST,
            refilled: Instant::now(),
        }
    }
}

impl Budget {
    /// Spends one unit of work if there is one left at `now`.
    pub fn spend(&mut self, now: Instant) -> bool {
        let earned = now.saturating_duration_since(self.refilled).as_millis() / REFILL_EVERY.as_millis();
        if earned > 0 {
            self.tokens = BURST.min(self.tokens.saturating_add(earned.min(u128::from(BURST)) as u32));
            self.refilled += REFILL_EVERY * earned.min(u128::from(u32::MAX)) as u32;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_refill() {
        let start = Instant::now();
        let mut budget = Budget {
            tokens: BURST,
            refilled: start,
        };
        assert!((0..BURST).all(|_| budget.spend(start)));
        assert!(!budget.spend(start), "the burst is spent");
        assert!(budget.spend(start + REFILL_EVERY), "one earned");
        assert!(!budget.spend(start + REFILL_EVERY));
        assert!(
            (0..BURST).all(|_| budget.spend(start + REFILL_EVERY * 100)),
            "refilled to the burst, no more"
        );
        assert!(!budget.spend(start + REFILL_EVERY * 100));
    }
}
