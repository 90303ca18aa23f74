//! A room in a list or in full, as its viewer sees it.

use crate::domain::models::Room;
use crate::views::participants::ParticipantView;
use crate::views::tracks::TrackView;
use crate::views::users::UserRef;
use crate::views::{cover_url, iso_format};
use chrono::{DateTime, Utc};
use salvo::oapi::ToSchema;
use serde::Serialize;
use uuid::Uuid;

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
