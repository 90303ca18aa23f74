//! How many rooms and playlists one account may hold (`ROOMS_PER_USER`,
//! `PLAYLISTS_PER_USER`).
//!
//! Without a bound one account made 658 rooms a second, every one in
//! everyone's lobby, and 865 playlists. The count is taken inside the
//! creating transaction under a lock of that user's own (a transaction
//! advisory lock), so parallel creates from one account are counted one
//! after another and cannot overshoot, while other accounts never wait.

use crate::domain::failure::Failure;
use sqlx::PgConnection;
use uuid::Uuid;

/// What an account holds a bounded number of.
#[derive(Clone, Copy, Debug)]
pub enum Held {
    /// Rooms it administers.
    Rooms,
    /// Playlists it owns.
    Playlists,
}

impl Held {
    fn count_sql(self) -> &'static str {
        match self {
            Self::Rooms => "SELECT count(*) FROM rooms WHERE administrator_id = $1",
            Self::Playlists => "SELECT count(*) FROM playlists WHERE user_id = $1",
        }
    }

    fn refusal(self, limit: u64) -> String {
        match self {
            Self::Rooms => format!("You administer {limit} rooms, the most one account may; delete one first"),
            Self::Playlists => format!("You have {limit} playlists, the most one account may; delete one first"),
        }
    }
}

/// Ok if `user` holds fewer than `limit` of `what`; `403` otherwise. Call
/// inside the transaction that creates one: the lock is held until it ends.
pub async fn room_for_one_more(tx: &mut PgConnection, what: Held, user: Uuid, limit: u64) -> Result<(), Failure> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("quota:{what:?}:{user}"))
        .execute(&mut *tx)
        .await?;
    let held: i64 = sqlx::query_scalar(what.count_sql())
        .bind(user)
        .fetch_one(&mut *tx)
        .await?;
    if u64::try_from(held).unwrap_or(0) >= limit {
        return Err(Failure::Forbidden(what.refusal(limit)));
    }
    Ok(())
}

/// Ok if `user` has fewer than `limit` tracks waiting in `room`'s queue
/// (the one playing does not wait); 403 otherwise, and always Ok without a
/// limit. It takes a lock per room and user first, so that inside the
/// transaction adding a track two uploads finishing together count each
/// other.
pub async fn queue_room_for(tx: &mut PgConnection, room: Uuid, user: Uuid, limit: Option<i32>) -> Result<(), Failure> {
    let Some(limit) = limit else {
        return Ok(());
    };
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("queue:{room}:{user}"))
        .execute(&mut *tx)
        .await?;
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tracks t JOIN rooms r ON r.id = t.room_id \
         WHERE t.room_id = $1 AND t.uploader_id = $2 AND t.played_at IS NULL AND t.id IS DISTINCT FROM r.current_track_id",
    )
    .bind(room)
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    if waiting >= i64::from(limit) {
        return Err(Failure::Forbidden(format!(
            "You have {waiting} tracks waiting in this room's queue, its limit for each listener: add more once one has played"
        )));
    }
    Ok(())
}
