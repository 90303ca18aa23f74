//! Rows as they come out of PostgreSQL, and their JSON shapes.
//!
//! The shapes are the compatibility contract of the Vue front end (see the
//! API spec): field names are fixed, extra fields are fine. E-mail addresses
//! appear only in a user's own auth responses.

use crate::sync::Playback;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sqlx::FromRow;
use uuid::Uuid;

pub fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn iso_opt(time: Option<DateTime<Utc>>) -> Value {
    time.map_or(Value::Null, |t| Value::String(iso(t)))
}

#[derive(Clone, Debug, FromRow)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The user as they see themselves.
    pub fn private_json(&self) -> Value {
        json!({ "id": self.id, "username": self.username, "email": self.email, "created_at": iso(self.created_at) })
    }

    pub fn public_json(&self) -> Value {
        json!({ "id": self.id, "username": self.username })
    }
}

#[derive(Clone, Debug, FromRow, serde::Serialize, serde::Deserialize)]
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
    pub created_at: DateTime<Utc>,
}

/// The columns of [`Track`], for `SELECT {TRACK_COLUMNS} FROM tracks t JOIN users u ON u.id = t.uploader_id`.
pub const TRACK_COLUMNS: &str = "t.id, t.room_id, t.uploader_id, u.username AS uploader_username, t.filename, \
     t.original_name, t.file_path, t.duration_ms, t.file_size_bytes, t.mime_type, t.vote_score, t.created_at";

impl Track {
    pub fn json(&self, file_url: String, user_has_voted: bool) -> Value {
        json!({
            "id": self.id,
            "room_id": self.room_id,
            "filename": self.filename,
            "original_name": self.original_name,
            "duration_seconds": self.duration_ms as f64 / 1000.0,
            "duration_ms": self.duration_ms,
            "formatted_duration": formatted_duration(self.duration_ms),
            "file_size_bytes": self.file_size_bytes,
            "formatted_file_size": formatted_size(self.file_size_bytes),
            "mime_type": self.mime_type,
            "vote_score": self.vote_score,
            "votes_count": self.vote_score,
            "user_has_voted": user_has_voted,
            "uploader": { "id": self.uploader_id, "username": self.uploader_username },
            "created_at": iso(self.created_at),
            "file_url": file_url,
        })
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct Room {
    pub id: Uuid,
    pub name: String,
    pub administrator_id: Uuid,
    pub administrator_username: String,
    pub current_track_id: Option<Uuid>,
    pub playback_started_at: Option<DateTime<Utc>>,
    pub playback_paused_at: Option<DateTime<Utc>>,
    pub is_playing: bool,
    pub event_seq: i64,
    pub participant_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const ROOM_COLUMNS: &str = "r.id, r.name, r.administrator_id, a.username AS administrator_username, \
     r.current_track_id, r.playback_started_at, r.playback_paused_at, r.is_playing, r.event_seq, \
     (SELECT count(*) FROM room_participants p WHERE p.room_id = r.id) AS participant_count, r.created_at, r.updated_at";

impl Room {
    pub fn playback(&self) -> Playback {
        Playback {
            started_at: self.playback_started_at,
            paused_at: self.playback_paused_at,
            is_playing: self.is_playing,
        }
    }

    /// The room fields every room JSON has; callers add participants, tracks and flags.
    pub fn base_json(&self, now: DateTime<Utc>, duration_ms: Option<i64>) -> serde_json::Map<String, Value> {
        let playback = self.playback();
        let value = json!({
            "id": self.id,
            "name": self.name,
            "is_playing": self.is_playing,
            "playback_started_at": iso_opt(self.playback_started_at),
            "playback_paused_at": iso_opt(self.playback_paused_at),
            "current_playback_position": playback.legacy_position_seconds(),
            "position_ms": playback.position_ms(now, duration_ms),
            "server_time": now.timestamp_millis(),
            "event_seq": self.event_seq,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "administrator": { "id": self.administrator_id, "username": self.administrator_username },
            "participant_count": self.participant_count,
        });
        match value {
            Value::Object(map) => map,
            _ => unreachable!("json! of an object literal is an object"),
        }
    }
}

fn formatted_duration(ms: i64) -> String {
    let secs = ms / 1000;
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
        assert_eq!(formatted_duration(61_999), "1:01");
        assert_eq!(formatted_duration(3_600_000), "60:00");
        assert_eq!(formatted_size(512), "512 B");
        assert_eq!(formatted_size(25_121), "24.53 KB");
        assert_eq!(formatted_size(5 * 1024 * 1024), "5.00 MB");
    }
}
