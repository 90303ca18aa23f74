//! A track as clients see it: the queue, events, the player, search.

use crate::domain::models::{whole_seconds, Track};
use crate::views::users::UserRef;
use crate::views::{cover_url, iso_format};
use chrono::{DateTime, Utc};
use salvo::oapi::ToSchema;
use serde::Serialize;
use uuid::Uuid;

/// `{id, name, color}` of a track's genre (`TrackQueue.vue` colours its badge).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GenreRef {
    pub id: i64,
    pub name: String,
    pub color: String,
}

impl GenreRef {
    /// The genre of a row that joined `genres` (all three columns null for
    /// a track without one).
    pub fn of(id: Option<i64>, name: &Option<String>, color: &Option<String>) -> Option<Self> {
        match (id, name, color) {
            (Some(id), Some(name), Some(color)) => Some(Self {
                id,
                name: name.clone(),
                color: color.clone(),
            }),
            _ => None,
        }
    }
}

/// A track as the front end reads it: the queue (`TrackQueue.vue`,
/// `stores/track.js`), events, the player (`useAudioPlayer.js`), search.
#[derive(Clone, Serialize, ToSchema)]
pub struct TrackView {
    pub id: Uuid,
    pub room_id: Uuid,
    pub filename: String,
    pub original_name: String,
    /// Whole seconds: `TrackQueue.vue` prints `seconds % 60` as it is.
    pub duration_seconds: i64,
    pub duration_ms: i64,
    pub formatted_duration: String,
    pub file_size_bytes: i64,
    pub formatted_file_size: String,
    pub mime_type: String,
    pub vote_score: i32,
    pub votes_count: i32,
    pub user_has_voted: bool,
    pub uploader: UserRef,
    pub genre_id: Option<i64>,
    pub genre: Option<GenreRef>,
    pub cover_url: Option<String>,
    #[serde(with = "iso_format::option")]
    pub played_at: Option<DateTime<Utc>>,
    #[serde(with = "iso_format")]
    pub created_at: DateTime<Utc>,
    /// The signed edge link; `null` for a viewer who does not take part in
    /// the room (nothing playable leaves the room).
    pub file_url: Option<String>,
    /// Played because the queue ran dry; gives way to anything a person queues.
    pub autofill: bool,
}

impl Track {
    /// The track as clients see it; `api_url` is the API's public origin.
    pub fn view(&self, api_url: &str, file_url: Option<String>, user_has_voted: bool) -> TrackView {
        let genre = GenreRef::of(self.genre_id, &self.genre_name, &self.genre_color);
        TrackView {
            id: self.id,
            room_id: self.room_id,
            filename: self.filename.clone(),
            original_name: self.original_name.clone(),
            duration_seconds: whole_seconds(self.duration_ms),
            duration_ms: self.duration_ms,
            formatted_duration: formatted_duration(self.duration_ms),
            file_size_bytes: self.file_size_bytes,
            formatted_file_size: formatted_size(self.file_size_bytes),
            mime_type: self.mime_type.clone(),
            vote_score: self.vote_score,
            votes_count: self.vote_score,
            user_has_voted,
            uploader: UserRef {
                id: self.uploader_id,
                username: self.uploader_username.clone(),
            },
            genre_id: self.genre_id,
            genre,
            cover_url: cover_url(api_url, self.cover_path.as_deref()),
            played_at: self.played_at,
            created_at: self.created_at,
            file_url,
            autofill: self.autofill,
        }
    }
}

fn formatted_duration(ms: i64) -> String {
    let secs = whole_seconds(ms);
    format!("{}:{:02}", secs / 60, secs % 60)
}

fn formatted_size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_read_like_the_old_backend() {
        assert_eq!(formatted_duration(0), "0:00");
        assert_eq!(formatted_duration(61_499), "1:01");
        assert_eq!(formatted_duration(3_600_000), "60:00");
        assert_eq!(formatted_size(512), "512 B");
        assert_eq!(formatted_size(25_121), "24.53 KB");
        assert_eq!(formatted_size(5 * 1024 * 1024), "5.00 MB");
    }

    #[test]
    fn whole_seconds_round_and_never_hide_a_short_track() {
        assert_eq!(whole_seconds(213_456), 213);
        assert_eq!(whole_seconds(1_500), 2);
        assert_eq!(whole_seconds(300), 1);
        assert_eq!(whole_seconds(0), 0);
    }
}
