//! A line of a room's moderation log, as its moderators read it.

use crate::views::iso_format;
use chrono::{DateTime, Utc};
use salvo::oapi::ToSchema;
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

/// One line of the log.
#[derive(Debug, FromRow, Serialize, ToSchema)]
pub struct Entry {
    pub id: i64,
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    /// `moderator_added`, `moderator_removed`, `muted`, `unmuted`,
    /// `banned`, `unbanned`, `track_removed`, `message_deleted`.
    pub action: String,
    /// Whom or what it was done to: a user's name, a track's, a message's text.
    pub target_name: String,
    /// For a mute, until when; for a deleted message, its text.
    pub detail: Option<String>,
    #[serde(with = "iso_format")]
    pub created_at: DateTime<Utc>,
}
