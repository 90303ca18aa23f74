//! How fast one listener may send chat messages and reactions.
//!
//! Each listener may send [`MESSAGES_PER_WINDOW`] messages and
//! [`REACTIONS_PER_WINDOW`] reactions per [`WINDOW`], counted before any
//! work is done for them (a refused one costs a map lookup), over a bounded
//! number of users ([`crate::limits::windows`]). Each replica counts its own,
//! so N replicas let one listener send N times as much: still a trickle.

use crate::limits::windows::Windows;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The window the rates below are counted in.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Messages one listener may send per window.
pub const MESSAGES_PER_WINDOW: u32 = 5;
/// Reactions one listener may send per window.
pub const REACTIONS_PER_WINDOW: u32 = 10;

/// What one listener has sent lately, per kind.
pub struct Flood {
    messages: Mutex<Windows<Uuid>>,
    reactions: Mutex<Windows<Uuid>>,
}

impl Default for Flood {
    fn default() -> Self {
        Self {
            messages: Mutex::new(Windows::new(WINDOW)),
            reactions: Mutex::new(Windows::new(WINDOW)),
        }
    }
}

/// Counts one for `user` in `counts` unless they have sent `max`; else the
/// seconds until they may again.
fn count(counts: &Mutex<Windows<Uuid>>, user: Uuid, max: u32) -> Result<(), u64> {
    let now = Instant::now();
    let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(wait) = counts.full(&user, max, now) {
        return Err(wait);
    }
    counts.room_for(std::slice::from_ref(&user), now)?;
    counts.add(user, now);
    Ok(())
}

impl Flood {
    /// Counts a message from `user`; `Err(seconds)` when they must wait.
    pub fn message(&self, user: Uuid) -> Result<(), u64> {
        count(&self.messages, user, MESSAGES_PER_WINDOW)
    }

    /// Counts a reaction from `user`; `Err(seconds)` when they must wait.
    pub fn reaction(&self, user: Uuid) -> Result<(), u64> {
        count(&self.reactions, user, REACTIONS_PER_WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_sends_their_share_per_window_and_others_theirs() {
        let flood = Flood::default();
        let (one, other) = (Uuid::new_v4(), Uuid::new_v4());
        for _ in 0..MESSAGES_PER_WINDOW {
            assert!(flood.message(one).is_ok());
        }
        let wait = flood.message(one).unwrap_err();
        assert!((1..=10).contains(&wait), "{wait}");
        assert!(flood.message(other).is_ok());
        assert!(flood.reaction(one).is_ok(), "reactions count apart");
    }
}
