//! Rows as they come out of PostgreSQL, and the JSON shapes they are shown in.
//!
//! The shapes are the compatibility contract of the Vue front end (see the
//! API spec and, for each field, the front-end file that reads it): field
//! names are fixed, extra fields are fine. Each resource is described once,
//! as a `Serialize` struct, so a field is added in one place. E-mail
//! addresses appear only in a user's own auth responses.

use crate::domain::clock::Playback;
use chrono::{DateTime, SecondsFormat, Utc};
use salvo::oapi::ToSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::FromRow;
use uuid::Uuid;

pub fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// ISO-8601 with milliseconds, as every timestamp of the API is written.
pub mod iso_format {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::iso(*time))
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(time: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match time {
                Some(time) => s.serialize_str(&super::super::iso(*time)),
                None => s.serialize_none(),
            }
        }
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

/// Another user as everyone may see them: no e-mail address.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UserRef {
    pub id: Uuid,
    pub username: String,
}

/// The user as they see themselves.
#[derive(Serialize, ToSchema)]
pub struct PrivateUser {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    #[serde(with = "iso_format")]
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn private_view(&self) -> PrivateUser {
        PrivateUser {
            id: self.id,
            username: self.username.clone(),
            email: self.email.clone(),
            created_at: self.created_at,
        }
    }

    pub fn public_view(&self) -> UserRef {
        UserRef {
            id: self.id,
            username: self.username.clone(),
        }
    }
}

/// A shape as a JSON value, for event payloads built around it.
pub fn to_value(shape: &impl Serialize) -> Value {
    serde_json::to_value(shape).unwrap_or(Value::Null)
}

/// Where a cover image is served: content-addressed, so the name is its URL.
/// Absolute, from the API's public origin (`API_PUBLIC_URL`): a front end
/// served from its own origin, with no `/api` proxy of its own, would load
/// a relative one from itself.
pub fn cover_url(api_url: &str, cover_path: Option<&str>) -> Option<String> {
    let file = cover_path?.rsplit('/').next()?;
    Some(format!("{api_url}/api/covers/{file}"))
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

/// `{id, name, color}` of a track's genre (`TrackQueue.vue` colours its badge).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GenreRef {
    pub id: i64,
    pub name: String,
    pub color: String,
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

/// The columns of [`Track`]; select them `FROM {TRACK_FROM}`.
pub const TRACK_COLUMNS: &str = "t.id, t.room_id, t.uploader_id, u.username AS uploader_username, t.filename, \
     t.original_name, t.file_path, t.duration_ms, t.file_size_bytes, t.mime_type, t.vote_score, \
     t.genre_id, g.name AS genre_name, g.color AS genre_color, t.cover_path, t.played_at, t.created_at, t.autofill";
pub const TRACK_FROM: &str = "tracks t JOIN users u ON u.id = t.uploader_id LEFT JOIN genres g ON g.id = t.genre_id";

/// Milliseconds to the nearest whole second, at least one for any audio.
pub fn whole_seconds(ms: i64) -> i64 {
    ((ms + 500) / 1000).max(i64::from(ms > 0))
}

impl Track {
    /// The track as clients see it; `api_url` is the API's public origin.
    pub fn view(&self, api_url: &str, file_url: Option<String>, user_has_voted: bool) -> TrackView {
        let genre = match (self.genre_id, &self.genre_name, &self.genre_color) {
            (Some(id), Some(name), Some(color)) => Some(GenreRef {
                id,
                name: name.clone(),
                color: color.clone(),
            }),
            _ => None,
        };
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

/// The fields every room shape has (`RoomList.vue`, `Room.vue`,
/// `stores/room.js`); the list, the full room and `room.updated` add to it.
#[derive(Serialize, ToSchema)]
pub struct RoomSummary {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub cover_url: Option<String>,
    pub is_playing: bool,
    #[serde(with = "iso_format::option")]
    pub playback_started_at: Option<DateTime<Utc>>,
    #[serde(with = "iso_format::option")]
    pub playback_paused_at: Option<DateTime<Utc>>,
    /// Seconds, in the front end's convention (0 while playing).
    pub current_playback_position: f64,
    pub event_seq: i64,
    #[serde(with = "iso_format")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "iso_format")]
    pub updated_at: DateTime<Utc>,
    pub administrator: UserRef,
    /// `ParticipantList.vue` compares it with each participant's `user_id`.
    pub administrator_id: Uuid,
    pub current_track_id: Option<Uuid>,
    pub participant_count: i64,
    pub track_count: i64,
    /// Whether listeners present may skip what plays by voting (its
    /// administrator's setting; docs/room-life.md).
    pub vote_skip: bool,
    /// Tracks one participant may have waiting in the queue at once; null
    /// for no limit (its administrator's setting).
    pub queue_limit_per_user: Option<i32>,
    /// `votes` (the most voted plays next) or `fair` (turns by fewest
    /// plays this session; docs/room-life.md).
    pub queue_mode: String,
    /// When the queue runs dry: `off`, `history` (the room's own) or
    /// `playlist` (`autofill_playlist_id`); docs/room-life.md.
    pub autofill: String,
    pub autofill_playlist_id: Option<i64>,
}

/// The true position now, next to the server clock it was read at.
#[derive(Serialize, ToSchema)]
pub struct Clock {
    pub position_ms: i64,
    pub server_time: i64,
}

/// A room in a list or in full, as its viewer sees it.
#[derive(Serialize, ToSchema)]
pub struct RoomView {
    #[serde(flatten)]
    pub summary: RoomSummary,
    #[serde(flatten)]
    pub clock: Clock,
    pub current_track: Option<TrackView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<ParticipantView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_queue: Option<Vec<TrackView>>,
    pub is_administrator: bool,
    pub is_participant: bool,
    /// The viewer: `stores/websocket.js` compares `currentRoom.user.id` with
    /// a vote's `voter` and an upload's `uploader`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserRef>,
}

impl Room {
    pub fn playback(&self) -> Playback {
        Playback {
            started_at: self.playback_started_at,
            paused_at: self.playback_paused_at,
            is_playing: self.is_playing,
        }
    }

    /// The room as lists show it; `api_url` is the API's public origin.
    pub fn summary(&self, api_url: &str) -> RoomSummary {
        RoomSummary {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            cover_url: cover_url(api_url, self.cover_path.as_deref()),
            is_playing: self.is_playing,
            playback_started_at: self.playback_started_at,
            playback_paused_at: self.playback_paused_at,
            current_playback_position: self.playback().legacy_position_seconds(),
            event_seq: self.event_seq,
            created_at: self.created_at,
            updated_at: self.updated_at,
            administrator: UserRef {
                id: self.administrator_id,
                username: self.administrator_username.clone(),
            },
            administrator_id: self.administrator_id,
            current_track_id: self.current_track_id,
            participant_count: self.participant_count,
            track_count: self.track_count,
            vote_skip: self.vote_skip,
            queue_limit_per_user: self.queue_limit_per_user,
            queue_mode: self.queue_mode.clone(),
            autofill: self.autofill.clone(),
            autofill_playlist_id: self.autofill_playlist_id,
        }
    }

    pub fn clock(&self, now: DateTime<Utc>, duration_ms: Option<i64>) -> Clock {
        Clock {
            position_ms: self.playback().position_ms(now, duration_ms),
            server_time: now.timestamp_millis(),
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

/// Who voted for a track, and when: Spotik's web app lists them under the
/// score (the Vue front end shows only the score).
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct Voter {
    pub id: Uuid,
    pub username: String,
    #[serde(with = "iso_format")]
    pub voted_at: DateTime<Utc>,
}

/// A participant (`ParticipantList.vue` reads `user.username`/`username`,
/// `user_id`/`user.id` and `joined_at`; the store removes them by `id`,
/// which is therefore the user's id, as in `user.left`).
#[derive(Clone, Serialize, ToSchema)]
pub struct ParticipantView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub user: UserRef,
    #[serde(with = "iso_format")]
    pub joined_at: DateTime<Utc>,
    pub is_administrator: bool,
    /// Made a moderator by the administrator (docs/room-life.md).
    pub is_moderator: bool,
    /// Muted until then (may not queue, chat or react); null when not.
    #[serde(with = "iso_format::option")]
    pub muted_until: Option<DateTime<Utc>>,
}

impl Participant {
    pub fn view(&self, administrator: Uuid) -> ParticipantView {
        ParticipantView {
            id: self.user_id,
            user_id: self.user_id,
            username: self.username.clone(),
            user: UserRef {
                id: self.user_id,
                username: self.username.clone(),
            },
            joined_at: self.joined_at,
            is_administrator: self.user_id == administrator,
            is_moderator: self.is_moderator,
            muted_until: self.muted_until.filter(|until| *until > Utc::now()),
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

    #[test]
    fn cover_urls_name_the_content_addressed_file() {
        assert_eq!(
            cover_url("https://spotik.example", Some("covers/ab/cd/abcd.png")).as_deref(),
            Some("https://spotik.example/api/covers/abcd.png")
        );
        assert_eq!(cover_url("https://spotik.example", None), None);
    }
}
