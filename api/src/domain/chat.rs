//! The rules of a room's chat and reactions: what a message may hold, which
//! reactions there are, and how fast one listener may send either.
//!
//! Each listener may send [`MESSAGES_PER_WINDOW`] messages and
//! [`REACTIONS_PER_WINDOW`] reactions per [`WINDOW`], counted before any
//! work is done for them (a refused one costs a map lookup), over a bounded
//! number of users ([`crate::auth::windows`]). Each replica counts its own,
//! so N replicas let one listener send N times as much: still a trickle
//! (issue 35 shares the limits through Redis).

use crate::auth::windows::Windows;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;
/// The window the rates below are counted in.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Messages one listener may send per window.
pub const MESSAGES_PER_WINDOW: u32 = 5;
/// Reactions one listener may send per window.
pub const REACTIONS_PER_WINDOW: u32 = 10;

/// The reactions to what plays: a fixed set, so that a reaction is a
/// word of the room's language, not a message in disguise.
pub const REACTIONS: [&str; 6] = ["👍", "❤️", "🔥", "😂", "👏", "🎉"];

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

/// Why a message is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    TooLong,
    Hidden,
}

impl Refusal {
    pub fn sentence(&self) -> String {
        match self {
            Self::Empty => "Write something first.".into(),
            Self::TooLong => format!("A message holds at most {MAX_MESSAGE_CHARS} characters."),
            Self::Hidden => "A message may not contain control characters or direction overrides.".into(),
        }
    }
}

/// The message as it is kept: trimmed, one line, within the length.
pub fn message(text: &str) -> Result<String, Refusal> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Refusal::Empty);
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Refusal::TooLong);
    }
    if text
        .chars()
        .any(|c| c.is_control() || crate::http::text::is_bidi_control(c))
    {
        return Err(Refusal::Hidden);
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_trimmed_bounded_and_shows_what_it_says() {
        assert_eq!(message("  hello  "), Ok("hello".into()));
        assert_eq!(message(" \t "), Err(Refusal::Empty));
        assert_eq!(message(&"é".repeat(500)).map(|m| m.chars().count()), Ok(500));
        assert_eq!(message(&"é".repeat(501)), Err(Refusal::TooLong));
        assert_eq!(message("two\nlines"), Err(Refusal::Hidden));
        assert_eq!(message("evil\u{202E}txt"), Err(Refusal::Hidden));
        assert_eq!(
            message("שלום \u{200F}"),
            Ok("שלום \u{200F}".into()),
            "a plain direction mark stays"
        );
    }

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
