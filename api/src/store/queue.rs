//! The room's track list: every track of the room, played ones included, by
//! score, then age, then id — a total, stable order, the same for a listener
//! who joins late as for one who was there. Cached in Redis per room, shared by
//! every user, with each user's votes overlaid from PostgreSQL, so no
//! per-user copy ever has to be found and dropped.
//!
//! The cache key carries the room's event sequence number, which every change
//! to the queue advances in its own transaction. Invalidation is therefore
//! implicit and cannot be lost: a write that happens while Redis is down
//! cannot leave a stale queue behind to be served when it comes back.

use crate::cache::Cache;
use crate::domain::models::Track;
use crate::store::records;
use sqlx::PgPool;
use std::collections::HashSet;
use std::time::Duration;
use uuid::Uuid;

fn key(room: Uuid, seq: i64) -> String {
    format!("queue:{room}:{seq}")
}

/// The queue of `room` as of its event number `seq`, from the cache or
/// else from `db` (then cached for `ttl`).
pub async fn load(db: &PgPool, cache: &Cache, ttl: Duration, room: Uuid, seq: i64) -> Result<Vec<Track>, sqlx::Error> {
    if let Some(cached) = cache.get(&key(room, seq)).await {
        if let Ok(tracks) = serde_json::from_str::<Vec<Track>>(&cached) {
            return Ok(tracks);
        }
    }
    let tracks = records::room_tracks(&mut *db.acquire().await?, room).await?;
    if let Ok(json) = serde_json::to_string(&tracks) {
        cache.set(&key(room, seq), &json, ttl).await;
    }
    Ok(tracks)
}

/// Which of `tracks` `user` has voted for: one query whatever the length.
pub async fn voted_by(db: &PgPool, user: Uuid, tracks: &[Uuid]) -> Result<HashSet<Uuid>, sqlx::Error> {
    if tracks.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<(Uuid,)> =
        sqlx::query_as("SELECT track_id FROM track_votes WHERE user_id = $1 AND track_id = ANY($2)")
            .bind(user)
            .bind(tracks)
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
