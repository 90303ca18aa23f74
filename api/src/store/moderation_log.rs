//! A room's moderation log: who did what to whom, newest first, the newest
//! [`LOG_KEPT`] of a room kept (docs/capacity.md prices them).

use crate::views::moderation::Entry;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Entries kept per room.
pub const LOG_KEPT: i64 = 500;

/// What a moderator (or the administrator) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    ModeratorAdded,
    ModeratorRemoved,
    Muted,
    Unmuted,
    Banned,
    Unbanned,
    TrackRemoved,
    MessageDeleted,
}

impl Action {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ModeratorAdded => "moderator_added",
            Self::ModeratorRemoved => "moderator_removed",
            Self::Muted => "muted",
            Self::Unmuted => "unmuted",
            Self::Banned => "banned",
            Self::Unbanned => "unbanned",
            Self::TrackRemoved => "track_removed",
            Self::MessageDeleted => "message_deleted",
        }
    }
}

/// Writes an entry and trims the room's log.
pub async fn write(
    tx: &mut PgConnection,
    room: Uuid,
    actor: (Uuid, &str),
    action: Action,
    target: &str,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO moderation_log (room_id, actor_id, actor_name, action, target_name, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(room)
    .bind(actor.0)
    .bind(actor.1)
    .bind(action.as_str())
    .bind(target)
    .bind(detail)
    .execute(&mut *tx)
    .await?;
    super::newest::keep(&mut *tx, "moderation_log", room, LOG_KEPT).await
}

/// The room's log, newest first: `limit` entries older than `before`.
pub async fn page(
    db: impl PgExecutor<'_>,
    room: Uuid,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    sqlx::query_as::<_, Entry>(
        "SELECT id, actor_id, actor_name, action, target_name, detail, created_at FROM moderation_log \
         WHERE room_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(room)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db)
    .await
}
