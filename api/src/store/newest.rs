//! The tables a room keeps only its newest rows of (the play history, the
//! chat, the moderation log): each keyed by an identity `id` and indexed on
//! `(room_id, id DESC)`, trimmed as rows are added.

use sqlx::PgConnection;
use uuid::Uuid;

/// Deletes `room`'s rows of `table` past its newest `keep`: the row past
/// them, if any, and all before it — an index range, at most one row most
/// of the time. `table` is one of this crate's, never a caller's text.
pub async fn keep(tx: &mut PgConnection, table: &'static str, room: Uuid, keep: i64) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "DELETE FROM {table} WHERE room_id = $1 AND id <= \
         (SELECT id FROM {table} WHERE room_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)"
    ))
    .bind(room)
    .bind(keep)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
