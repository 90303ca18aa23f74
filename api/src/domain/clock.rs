//! Playback position maths, in milliseconds of the server clock.
//!
//! `position = is_playing ? now − started_at : paused_at − started_at`.
//! Resuming moves `started_at` forward by the length of the pause, so the
//! position continues exactly where it froze (the old backend moved it the
//! wrong way and listeners jumped ahead by twice the pause).

use chrono::{DateTime, Duration, DurationRound, Utc};

/// The server clock in whole milliseconds: what PostgreSQL stores
/// (`timestamptz(3)`) and what clients see, so positions computed from stored
/// and fresh instants agree to the millisecond.
pub fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(Duration::milliseconds(1)).unwrap_or(now)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Playback {
    pub started_at: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
    pub is_playing: bool,
}

impl Playback {
    pub const IDLE: Self = Self {
        started_at: None,
        paused_at: None,
        is_playing: false,
    };

    pub fn start(now: DateTime<Utc>) -> Self {
        Self {
            started_at: Some(now),
            paused_at: None,
            is_playing: true,
        }
    }

    /// Milliseconds into the current track, clamped to `[0, duration]`.
    pub fn position_ms(&self, now: DateTime<Utc>, duration_ms: Option<i64>) -> i64 {
        let Some(started) = self.started_at else {
            return 0;
        };
        let until = if self.is_playing {
            now
        } else {
            self.paused_at.unwrap_or(now)
        };
        let position = (until - started).num_milliseconds().max(0);
        duration_ms.map_or(position, |d| position.min(d))
    }

    /// What the old front end reads as `current_playback_position` (seconds):
    /// 0 while playing (it adds `now − started_at` itself), the frozen
    /// position while paused.
    pub fn legacy_position_seconds(&self) -> f64 {
        match (self.is_playing, self.started_at, self.paused_at) {
            (false, Some(started), Some(paused)) => (paused - started).num_milliseconds().max(0) as f64 / 1000.0,
            _ => 0.0,
        }
    }

    pub fn is_paused(&self) -> bool {
        !self.is_playing && self.started_at.is_some() && self.paused_at.is_some()
    }

    pub fn pause(self, now: DateTime<Utc>) -> Self {
        Self {
            paused_at: Some(now),
            is_playing: false,
            ..self
        }
    }

    /// Continues from the frozen position: `started_at` moves forward by the pause.
    pub fn resume(self, now: DateTime<Utc>) -> Self {
        let (Some(started), Some(paused)) = (self.started_at, self.paused_at) else {
            return Self::start(now);
        };
        let pause = (now - paused).max(Duration::zero());
        Self {
            started_at: Some(started + pause),
            paused_at: None,
            is_playing: true,
        }
    }

    /// When a playing track of `duration_ms` ends.
    pub fn ends_at(&self, duration_ms: i64) -> Option<DateTime<Utc>> {
        self.is_playing.then_some(())?;
        Some(self.started_at? + Duration::milliseconds(duration_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    #[test]
    fn pause_then_resume_continues_exactly_where_it_froze() {
        let playing = Playback::start(at(0));
        assert_eq!(playing.position_ms(at(1_234), None), 1_234);
        let paused = playing.pause(at(1_234));
        assert_eq!(paused.position_ms(at(60_000), None), 1_234, "frozen while paused");
        assert_eq!(paused.legacy_position_seconds(), 1.234);
        let resumed = paused.resume(at(10_000));
        assert_eq!(
            resumed.started_at,
            Some(at(8_766)),
            "moved forward by the 8 766 ms pause"
        );
        assert_eq!(resumed.position_ms(at(10_000), None), 1_234);
        assert_eq!(resumed.position_ms(at(10_001), None), 1_235);
        assert_eq!(resumed.legacy_position_seconds(), 0.0);
    }

    #[test]
    fn positions_are_clamped_to_the_track() {
        let playing = Playback::start(at(0));
        assert_eq!(playing.position_ms(at(-5), Some(1_000)), 0);
        assert_eq!(playing.position_ms(at(5_000), Some(1_000)), 1_000);
        assert_eq!(Playback::IDLE.position_ms(at(5_000), Some(1_000)), 0);
        assert_eq!(playing.ends_at(1_500), Some(at(1_500)));
        assert_eq!(playing.pause(at(1)).ends_at(1_500), None);
    }
}
