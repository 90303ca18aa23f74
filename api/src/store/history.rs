//! What played in a room: a row for every track that stopped being the
//! room's current one, saying how far it got and why it stopped. Written in
//! the transaction that moves the room on; the newest [`HISTORY_KEPT`] of a
//! room are kept (docs/capacity.md prices them).

use crate::domain::models::Track;
use crate::views::history::Played;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Rows kept per room: a few evenings of listening.
pub const HISTORY_KEPT: i64 = 200;

/// Why a track stopped being current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It played to its end.
    Finished,
    /// The administrator skipped it.
    Admin,
    /// Enough listeners present voted to skip it.
    Vote,
    /// It was taken out of the room while it played.
    Removed,
    /// The administrator played another track instead.
    Replaced,
    /// The administrator stopped playback.
    Stopped,
}

impl Ending {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Finished => "finished",
            Self::Admin => "admin",
            Self::Vote => "vote",
            Self::Removed => "removed",
            Self::Replaced => "replaced",
            Self::Stopped => "stopped",
        }
    }
}

/// Records that `track` stopped being current after `played_ms`, and trims
/// the room's history to its newest [`HISTORY_KEPT`] rows.
pub async fn record(tx: &mut PgConnection, track: &Track, played_ms: i64, ending: Ending) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO play_history (room_id, track_id, track_name, duration_ms, added_by, added_by_name, played_ms, ending) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(track.room_id)
    .bind(track.id)
    .bind(&track.original_name)
    .bind(track.duration_ms)
    .bind(track.uploader_id)
    .bind(&track.uploader_username)
    .bind(played_ms.clamp(0, track.duration_ms))
    .bind(ending.as_str())
    .execute(&mut *tx)
    .await?;
    super::newest::keep(&mut *tx, "play_history", track.room_id, HISTORY_KEPT).await
}

/// The room's history, newest first: `limit` rows older than row `before`
/// (from the newest when `None`).
pub async fn page(
    db: impl PgExecutor<'_>,
    room: Uuid,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Played>, sqlx::Error> {
    sqlx::query_as::<_, Played>(
        "SELECT id, track_id, track_name, duration_ms, added_by, added_by_name, played_ms, ended_at, ending \
         FROM play_history WHERE room_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(room)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db)
    .await
}
