//! Rows as they come out of PostgreSQL: users, tracks, rooms, participants.
//! How clients are shown them is `views`.

use crate::domain::clock::Playback;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use uuid::Uuid;

#[derive(Clone, Debug, FromRow)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, FromRow, Serialize, Deserialize)]
pub struct Track {
    pub id: Uuid,
    pub room_id: Uuid,
    pub uploader_id: Uuid,
    pub uploader_username: String,
    pub filename: String,
    pub original_name: String,
    pub file_path: String,
    pub duration_ms: i64,
    pub file_size_bytes: i64,
    pub mime_type: String,
    pub vote_score: i32,
    pub genre_id: Option<i64>,
    pub genre_name: Option<String>,
    pub genre_color: Option<String>,
    pub cover_path: Option<String>,
    pub played_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Played because the queue ran dry (a copy, deleted once played).
    #[serde(default)]
    pub autofill: bool,
}

/// The columns of [`Track`]; select them `FROM {TRACK_FROM}`.
pub const TRACK_COLUMNS: &str = "t.id, t.room_id, t.uploader_id, u.username AS uploader_username, t.filename, \
     t.original_name, t.file_path, t.duration_ms, t.file_size_bytes, t.mime_type, t.vote_score, \
     t.genre_id, g.name AS genre_name, g.color AS genre_color, t.cover_path, t.played_at, t.created_at, t.autofill";
pub const TRACK_FROM: &str = "tracks t JOIN users u ON u.id = t.uploader_id LEFT JOIN genres g ON g.id = t.genre_id";

/// Milliseconds to the nearest whole second, at least one for any audio.
pub fn whole_seconds(ms: i64) -> i64 {
    ((ms + 500) / 1000).max(i64::from(ms > 0))
}

#[derive(Clone, Debug, FromRow)]
pub struct Room {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub cover_path: Option<String>,
    pub administrator_id: Uuid,
    pub administrator_username: String,
    pub current_track_id: Option<Uuid>,
    pub playback_started_at: Option<DateTime<Utc>>,
    pub playback_paused_at: Option<DateTime<Utc>>,
    pub is_playing: bool,
    pub event_seq: i64,
    pub vote_skip: bool,
    pub queue_limit_per_user: Option<i32>,
    pub queue_mode: String,
    pub autofill: String,
    pub autofill_playlist_id: Option<i64>,
    pub participant_count: i64,
    pub track_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns of [`Room`]; select them `FROM {ROOM_FROM}`.
pub const ROOM_COLUMNS: &str = "r.id, r.name, r.description, r.cover_path, r.administrator_id, \
     a.username AS administrator_username, r.current_track_id, r.playback_started_at, r.playback_paused_at, \
     r.is_playing, r.event_seq, r.vote_skip, r.queue_limit_per_user, r.queue_mode, \
     r.autofill, r.autofill_playlist_id, \
     (SELECT count(*) FROM room_participants p WHERE p.room_id = r.id) AS participant_count, \
     (SELECT count(*) FROM tracks c WHERE c.room_id = r.id) AS track_count, r.created_at, r.updated_at";
pub const ROOM_FROM: &str = "rooms r JOIN users a ON a.id = r.administrator_id";

impl Room {
    pub fn playback(&self) -> Playback {
        Playback {
            started_at: self.playback_started_at,
            paused_at: self.playback_paused_at,
            is_playing: self.is_playing,
        }
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct Participant {
    pub user_id: Uuid,
    pub username: String,
    pub joined_at: DateTime<Utc>,
    pub is_moderator: bool,
    pub muted_until: Option<DateTime<Utc>>,
}
