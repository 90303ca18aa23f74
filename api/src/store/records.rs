//! The SQL that reads rooms, tracks and participants, in one place: every
//! handler that shows one of them goes through here, so a column is added
//! once and every list is read in a constant number of queries.

use crate::domain::fair;
use crate::domain::models::{Participant, Room, Track, ROOM_COLUMNS, ROOM_FROM, TRACK_COLUMNS, TRACK_FROM};
use crate::views::participants::Voter;
use sqlx::{PgConnection, PgExecutor};
use std::collections::HashMap;
use uuid::Uuid;

/// The queue order: score, then age, then id — total and stable.
const QUEUE_ORDER: &str = "t.vote_score DESC, t.created_at ASC, t.id ASC";

pub async fn track(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Track>, sqlx::Error> {
    sqlx::query_as::<_, Track>(&format!("SELECT {TRACK_COLUMNS} FROM {TRACK_FROM} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn tracks(db: impl PgExecutor<'_>, ids: &[Uuid]) -> Result<Vec<Track>, sqlx::Error> {
    sqlx::query_as::<_, Track>(&format!(
        "SELECT {TRACK_COLUMNS} FROM {TRACK_FROM} WHERE t.id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(db)
    .await
}

/// Every track of a room, played ones included, in queue order: what the
/// front end lists (it never removes a row), the same for every listener.
pub async fn room_tracks(db: &mut PgConnection, room: Uuid) -> Result<Vec<Track>, sqlx::Error> {
    let mut tracks = sqlx::query_as::<_, Track>(&format!(
        "SELECT {TRACK_COLUMNS} FROM {TRACK_FROM} WHERE t.room_id = $1 ORDER BY {QUEUE_ORDER}"
    ))
    .bind(room)
    .fetch_all(&mut *db)
    .await?;
    // A fair room lists its waiting tracks in the order they will play.
    let current: Option<(String, Option<Uuid>)> =
        sqlx::query_as("SELECT queue_mode, current_track_id FROM rooms WHERE id = $1")
            .bind(room)
            .fetch_optional(&mut *db)
            .await?;
    if let Some((_, current)) = current.filter(|(mode, _)| mode == "fair") {
        let (waiting, rest): (Vec<Track>, Vec<Track>) = tracks
            .into_iter()
            .partition(|t| t.played_at.is_none() && Some(t.id) != current);
        let plays = plays_this_session(db, room).await?;
        let mut slots: Vec<Option<Track>> = waiting.iter().cloned().map(Some).collect();
        tracks = fair_order(&waiting, &plays)
            .into_iter()
            .filter_map(|i| slots[i].take())
            .chain(rest)
            .collect();
    }
    Ok(tracks)
}

/// What plays after `current`: the first waiting track in the room's order
/// (by votes, or fair: docs/room-life.md).
pub async fn next_in_queue(
    db: &mut PgConnection,
    room: Uuid,
    current: Option<Uuid>,
) -> Result<Option<Track>, sqlx::Error> {
    let fair: bool = sqlx::query_scalar("SELECT queue_mode = 'fair' FROM rooms WHERE id = $1")
        .bind(room)
        .fetch_optional(&mut *db)
        .await?
        .unwrap_or(false);
    let waiting = sqlx::query_as::<_, Track>(&format!(
        "SELECT {TRACK_COLUMNS} FROM {TRACK_FROM} \
         WHERE t.room_id = $1 AND t.played_at IS NULL AND t.id IS DISTINCT FROM $2 \
         ORDER BY {QUEUE_ORDER} {}",
        if fair { "" } else { "LIMIT 1" }
    ))
    .bind(room)
    .bind(current)
    .fetch_all(&mut *db)
    .await?;
    if !fair || waiting.is_empty() {
        return Ok(waiting.into_iter().next());
    }
    let plays = plays_this_session(db, room).await?;
    Ok(fair_order(&waiting, &plays).first().map(|&i| waiting[i].clone()))
}

fn fair_order(waiting: &[Track], plays: &HashMap<Uuid, u32>) -> Vec<usize> {
    let waiting: Vec<fair::Waiting> = waiting
        .iter()
        .map(|t| fair::Waiting {
            uploader: t.uploader_id,
        })
        .collect();
    fair::order(&waiting, plays)
}

/// Turns each uploader has had this session: tracks that played to their
/// end since the room's session began, and the one playing now (not yet
/// marked played).
async fn plays_this_session(db: &mut PgConnection, room: Uuid) -> Result<HashMap<Uuid, u32>, sqlx::Error> {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT who, count(*) FROM ( \
             SELECT h.added_by AS who FROM play_history h JOIN rooms r ON r.id = h.room_id \
             WHERE h.room_id = $1 AND h.ending = 'finished' AND h.added_by IS NOT NULL \
               AND h.ended_at >= COALESCE(r.session_started_at, '-infinity') \
             UNION ALL \
             SELECT t.uploader_id FROM rooms r JOIN tracks t ON t.id = r.current_track_id \
             WHERE r.id = $1 AND t.played_at IS NULL \
         ) turns GROUP BY who",
    )
    .bind(room)
    .fetch_all(&mut *db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(who, n)| (who, u32::try_from(n).unwrap_or(u32::MAX)))
        .collect())
}

/// Tracks of the rooms `viewer` takes part in whose name contains `text`
/// (three characters or more; shorter, whose name starts with it), in
/// `genre` if given, most voted then newest first.
///
/// The trigram index answers a rare text; for a text that many tracks
/// contain, walking `idx_tracks_popular` finds the first page at once —
/// PostgreSQL picks by the trigram statistics. Ranking by where the text
/// occurs would have to read every match (60–90 ms at 10 000 matches).
pub async fn search_tracks(
    db: impl PgExecutor<'_>,
    viewer: Uuid,
    text: &str,
    genre: Option<i64>,
    limit: i64,
) -> Result<Vec<Track>, sqlx::Error> {
    let (condition, pattern) = if text.chars().count() >= 3 {
        ("t.original_name ILIKE $2", format!("%{}%", escape_like(text)))
    } else {
        (
            "lower(t.original_name) LIKE $2",
            format!("{}%", escape_like(&text.to_lowercase())),
        )
    };
    sqlx::query_as::<_, Track>(&format!(
        "SELECT {TRACK_COLUMNS} FROM {TRACK_FROM} \
         WHERE t.room_id IN (SELECT room_id FROM room_participants WHERE user_id = $1) \
           AND {condition} AND ($3::bigint IS NULL OR t.genre_id = $3) \
         ORDER BY t.vote_score DESC, t.created_at DESC, t.id LIMIT $4"
    ))
    .bind(viewer)
    .bind(&pattern)
    .bind(genre)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// `text` matched literally by `LIKE` (its `%`, `_` and `\` escaped).
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub async fn room(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Room>, sqlx::Error> {
    sqlx::query_as::<_, Room>(&format!("SELECT {ROOM_COLUMNS} FROM {ROOM_FROM} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The room and whether `user` takes part in it: one round trip for both.
pub async fn room_with_membership(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user: Uuid,
) -> Result<Option<(Room, bool)>, sqlx::Error> {
    use sqlx::{FromRow, Row};
    let row = sqlx::query(&format!(
        "SELECT {ROOM_COLUMNS}, EXISTS (SELECT 1 FROM room_participants p WHERE p.room_id = r.id AND p.user_id = $2) AS viewer_takes_part \
         FROM {ROOM_FROM} WHERE r.id = $1"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(db)
    .await?;
    match row {
        Some(row) => Ok(Some((Room::from_row(&row)?, row.try_get("viewer_takes_part")?))),
        None => Ok(None),
    }
}

/// What a queue read needs besides the cached queue, in one round trip:
/// the room's event number, whether `user` takes part, and the tracks of
/// the room `user` has voted for.
pub async fn queue_viewer(
    db: impl PgExecutor<'_>,
    room: Uuid,
    user: Uuid,
) -> Result<Option<(i64, bool, Vec<Uuid>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.event_seq, \
                EXISTS (SELECT 1 FROM room_participants p WHERE p.room_id = r.id AND p.user_id = $2), \
                COALESCE((SELECT array_agg(v.track_id) FROM track_votes v JOIN tracks t ON t.id = v.track_id \
                          WHERE t.room_id = r.id AND v.user_id = $2), '{}') \
         FROM rooms r WHERE r.id = $1",
    )
    .bind(room)
    .bind(user)
    .fetch_optional(db)
    .await
}

/// One page of rooms, newest first.
pub async fn rooms_page(db: impl PgExecutor<'_>, limit: i64, offset: i64) -> Result<Vec<Room>, sqlx::Error> {
    sqlx::query_as::<_, Room>(&format!(
        "SELECT {ROOM_COLUMNS} FROM {ROOM_FROM} ORDER BY r.created_at DESC, r.id LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

pub async fn participants(db: impl PgExecutor<'_>, room: Uuid) -> Result<Vec<Participant>, sqlx::Error> {
    sqlx::query_as::<_, Participant>(
        "SELECT u.id AS user_id, u.username, p.joined_at, p.is_moderator, p.muted_until \
         FROM room_participants p JOIN users u ON u.id = p.user_id \
         WHERE p.room_id = $1 ORDER BY p.joined_at, u.id",
    )
    .bind(room)
    .fetch_all(db)
    .await
}

/// The most voters one answer lists: a track's score says how many there
/// are; a page of names is what a person reads.
pub const VOTERS_LISTED: i64 = 100;

/// The first [`VOTERS_LISTED`] voters for `track` in `room`, earliest first
/// (none when the track is not in the room).
pub async fn voters(db: impl PgExecutor<'_>, room: Uuid, track: Uuid) -> Result<Vec<Voter>, sqlx::Error> {
    sqlx::query_as::<_, Voter>(
        "SELECT u.id, u.username, v.created_at AS voted_at FROM track_votes v \
         JOIN tracks t ON t.id = v.track_id JOIN users u ON u.id = v.user_id \
         WHERE v.track_id = $2 AND t.room_id = $1 ORDER BY v.created_at, u.id LIMIT $3",
    )
    .bind(room)
    .bind(track)
    .bind(VOTERS_LISTED)
    .fetch_all(db)
    .await
}

pub fn room_not_found() -> crate::domain::failure::Failure {
    crate::domain::failure::Failure::NotFound("Room not found".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_their_text_literally() {
        assert_eq!(escape_like("100%_done\\"), "100\\%\\_done\\\\");
        assert_eq!(escape_like("plain"), "plain");
    }
}
