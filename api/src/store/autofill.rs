//! What a room plays when its queue runs dry (docs/room-life.md): from its
//! own history or from a playlist its administrator linked, the longest
//! unheard first, so the same few tracks do not loop — a room rotates
//! through everything it can play before any repeats. The chosen track is
//! copied into the room marked `autofill` (a copy: a playlist's track may
//! belong to another room, and the original keeps its own history); the
//! copy is deleted once it has played.

use crate::domain::models::Track;
use crate::store::records;
use sqlx::PgConnection;
use uuid::Uuid;

/// The candidate played longest ago (never, first), as a copy in `room`;
/// `None` when the room does not autofill or has nothing to play.
pub async fn pick(tx: &mut PgConnection, room: Uuid) -> Result<Option<Track>, sqlx::Error> {
    let setting: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT autofill, autofill_playlist_id FROM rooms WHERE id = $1")
            .bind(room)
            .fetch_optional(&mut *tx)
            .await?;
    // The candidates, one per piece of audio (by content), each with when
    // this room last played it.
    let candidates = match setting {
        Some((mode, _)) if mode == "history" => {
            "SELECT DISTINCT ON (t.content_sha256) t.id, t.content_sha256, t.played_at AS heard FROM tracks t \
             WHERE t.room_id = $1 AND NOT t.autofill AND t.played_at IS NOT NULL \
             ORDER BY t.content_sha256, t.played_at DESC"
        }
        Some((mode, Some(_))) if mode == "playlist" => {
            "SELECT DISTINCT ON (t.content_sha256) t.id, t.content_sha256, NULL::timestamptz AS heard \
             FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id JOIN rooms r ON r.id = $1 \
             WHERE pt.playlist_id = r.autofill_playlist_id ORDER BY t.content_sha256, pt.position"
        }
        _ => return Ok(None),
    };
    let source: Option<Uuid> = sqlx::query_scalar(&format!(
        "SELECT c.id FROM ({candidates}) c LEFT JOIN autofill_plays a ON a.room_id = $1 AND a.content_sha256 = c.content_sha256 \
         ORDER BY GREATEST(c.heard, a.played_at) ASC NULLS FIRST, c.content_sha256 LIMIT 1"
    ))
    .bind(room)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(source) = source else {
        return Ok(None);
    };
    let copy: Uuid = sqlx::query_scalar(
        "INSERT INTO tracks (room_id, uploader_id, filename, original_name, file_path, duration_ms, file_size_bytes, \
         mime_type, content_sha256, genre_id, cover_path, autofill) \
         SELECT $1, uploader_id, filename, original_name, file_path, duration_ms, file_size_bytes, \
         mime_type, content_sha256, genre_id, cover_path, true FROM tracks WHERE id = $2 RETURNING id",
    )
    .bind(room)
    .bind(source)
    .fetch_one(&mut *tx)
    .await?;
    records::track(&mut *tx, copy).await
}

/// `track` stopped being current: remember when the room heard its audio,
/// and delete it if it was an autofill copy.
pub async fn heard(tx: &mut PgConnection, track: &Track) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO autofill_plays (room_id, content_sha256, played_at) \
         SELECT room_id, content_sha256, now() FROM tracks WHERE id = $1 \
         ON CONFLICT (room_id, content_sha256) DO UPDATE SET played_at = excluded.played_at",
    )
    .bind(track.id)
    .execute(&mut *tx)
    .await?;
    if track.autofill {
        sqlx::query("DELETE FROM tracks WHERE id = $1 AND autofill")
            .bind(track.id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The current track of `room` if it is autofill (a person's upload then
/// takes its place).
pub async fn current_is_autofill(tx: &mut PgConnection, room: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM rooms r JOIN tracks t ON t.id = r.current_track_id WHERE r.id = $1 AND t.autofill)",
    )
    .bind(room)
    .fetch_one(&mut *tx)
    .await
}
