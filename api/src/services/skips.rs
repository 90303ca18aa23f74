//! Vote to skip: the listeners present in a room (connected to its
//! channels on any replica) may skip what plays without its administrator.
//!
//! A vote is for the track playing when it was cast and counts only while
//! its voter is present; the track is skipped when the present voters reach
//! [`needed`] of the present listeners. Each vote, and each departure of a
//! listener (which may lower the threshold as well as take a vote back), is
//! counted under the room's row lock, the lock every playback change takes:
//! two last votes on two replicas at once skip once, and a vote that arrives
//! after the skip is refused as for a track no longer playing.

use crate::http::error::{ApiError, ApiResult};
use crate::hub::frames;
use crate::services::playback;
use crate::state::AppState;
use crate::store::events::{self, EventName, Pending};
use crate::store::history::Ending;
use crate::views::to_value;
use salvo::oapi::ToSchema;
use serde::Serialize;
use sqlx::PgConnection;
use std::collections::HashSet;
use uuid::Uuid;

/// Votes needed to skip with `present` listeners: all of them up to two
/// (alone, your vote is enough; of two, one cannot skip the other's pick),
/// half (rounded up) up to nine, then 1.5·√n.
///
/// Why the curve: a fixed share works while everyone in the room is paying
/// attention, and fails as rooms grow, because most listeners of a big
/// room never touch a button (JQBX found 50 % unreachable in a room of
/// 161 and moved to a log scale). √n grows with the room but far slower:
/// 5 of 10, 11 of 50, 20 of 161, 48 of 1 000. Past nine listeners it is below
/// half, so the needed count is always a minority of a big room, but a
/// growing one, so that a few friends cannot skip for a crowd.
pub fn needed(present: usize) -> usize {
    if present <= 2 {
        return present;
    }
    let half = present.div_ceil(2);
    let root = (1.5 * (present as f64).sqrt()).ceil() as usize;
    half.min(root)
}

/// Voters a tally names: an event for a room of thousands stays small.
pub const VOTERS_LISTED: usize = 100;

/// Where a room's vote to skip stands.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Tally {
    /// The track the votes are for: the one playing (null when none is).
    pub track_id: Option<Uuid>,
    /// Present listeners who voted to skip it.
    pub votes: usize,
    /// Votes that skip it, out of the listeners present now.
    pub needed: usize,
    /// Listeners present (connected to the room's channels).
    pub present: usize,
    /// Whether the administrator lets the room vote to skip.
    pub enabled: bool,
    /// Who the votes are from, earliest first (the first [`VOTERS_LISTED`]).
    pub voters: Vec<Uuid>,
}

/// A tally for one listener: whether they are among its voters, and whether
/// their vote just skipped the track.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyTally {
    #[serde(flatten)]
    pub tally: Tally,
    pub voted: bool,
    pub skipped: bool,
}

/// Listeners present in `room`, on any replica.
fn present(state: &AppState, room: Uuid) -> HashSet<Uuid> {
    let channel = &frames::room_channels(room)[1];
    state
        .hub
        .presence
        .users(channel)
        .iter()
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect()
}

/// The room's tally under its row lock (`current`: what plays), and
/// whether `viewer` is among its voters.
async fn count(
    state: &AppState,
    tx: &mut PgConnection,
    room: Uuid,
    current: Option<Uuid>,
    viewer: Uuid,
) -> ApiResult<(Tally, bool)> {
    let enabled: bool = sqlx::query_scalar("SELECT vote_skip FROM rooms WHERE id = $1")
        .bind(room)
        .fetch_one(&mut *tx)
        .await?;
    let here = present(state, room);
    let mut voters: Vec<Uuid> = match current {
        Some(track) => {
            sqlx::query_scalar(
                "SELECT user_id FROM skip_votes WHERE room_id = $1 AND track_id = $2 ORDER BY created_at, user_id",
            )
            .bind(room)
            .bind(track)
            .fetch_all(&mut *tx)
            .await?
        }
        None => Vec::new(),
    };
    voters.retain(|voter| here.contains(voter));
    let votes = voters.len();
    let voted = voters.contains(&viewer);
    voters.truncate(VOTERS_LISTED);
    let tally = Tally {
        track_id: current,
        votes,
        needed: needed(here.len()),
        present: here.len(),
        enabled,
        voters,
    };
    Ok((tally, voted))
}

/// The `skip.voted` event: the tally, for everyone in the room.
async fn announce(tx: &mut PgConnection, room: Uuid, tally: &Tally) -> ApiResult<Pending> {
    Ok(events::stamp(tx, room, EventName::SkipVoted, to_value(tally)).await?)
}

/// Skips what plays if the tally says so; the events either way.
async fn settle(
    state: &AppState,
    tx: &mut PgConnection,
    room: Uuid,
    locked: playback::Locked,
    tally: &Tally,
) -> ApiResult<(bool, Vec<Pending>)> {
    let mut pending = vec![announce(tx, room, tally).await?];
    let reached = tally.enabled && tally.present > 0 && tally.votes >= tally.needed && tally.track_id.is_some();
    if reached {
        pending.extend(playback::advance_locked(state, tx, room, locked, Ending::Vote).await?);
    }
    Ok((reached, pending))
}

/// The tally now, for `viewer`.
pub async fn tally(state: &AppState, room: Uuid, viewer: Uuid) -> ApiResult<MyTally> {
    let mut conn = state.db.acquire().await?;
    let current: Option<Uuid> = sqlx::query_scalar("SELECT current_track_id FROM rooms WHERE id = $1")
        .bind(room)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(crate::store::records::room_not_found)?;
    let (tally, voted) = count(state, &mut conn, room, current, viewer).await?;
    Ok(MyTally {
        tally,
        voted,
        skipped: false,
    })
}

/// `voter` votes to skip `track`, which must be what plays; the track is
/// skipped if that makes enough. Idempotent.
pub async fn vote(state: &AppState, room: Uuid, voter: Uuid, track: Uuid) -> ApiResult<MyTally> {
    let mut transaction = state.db.begin().await?;
    let tx: &mut PgConnection = &mut transaction;
    let locked = playback::lock(tx, room).await?;
    if locked.current != Some(track) {
        return Err(ApiError::Conflict(
            "That track is no longer playing: the vote is for what plays now".into(),
        ));
    }
    let enabled: bool = sqlx::query_scalar("SELECT vote_skip FROM rooms WHERE id = $1")
        .bind(room)
        .fetch_one(&mut *tx)
        .await?;
    if !enabled {
        return Err(ApiError::Conflict(
            "Vote to skip is off in this room: its administrator skips".into(),
        ));
    }
    if !present(state, room).contains(&voter) {
        return Err(ApiError::Forbidden(
            "Only listeners present in the room can vote to skip: open the room first".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO skip_votes (room_id, user_id, track_id) VALUES ($1, $2, $3) \
         ON CONFLICT (room_id, user_id) DO UPDATE SET track_id = $3, created_at = now() \
         WHERE skip_votes.track_id <> $3",
    )
    .bind(room)
    .bind(voter)
    .bind(track)
    .execute(&mut *tx)
    .await?;
    recount(state, transaction, room, locked, voter).await
}

/// `voter` takes their vote to skip back, if they have one. Idempotent.
pub async fn withdraw(state: &AppState, room: Uuid, voter: Uuid) -> ApiResult<MyTally> {
    let mut transaction = state.db.begin().await?;
    let tx: &mut PgConnection = &mut transaction;
    let locked = playback::lock(tx, room).await?;
    sqlx::query("DELETE FROM skip_votes WHERE room_id = $1 AND user_id = $2")
        .bind(room)
        .bind(voter)
        .execute(&mut *tx)
        .await?;
    recount(state, transaction, room, locked, voter).await
}

/// Counts the votes after a change, skips if they are enough, commits and
/// tells the room; the tally as `voter` sees it.
async fn recount(
    state: &AppState,
    mut transaction: sqlx::Transaction<'_, sqlx::Postgres>,
    room: Uuid,
    locked: playback::Locked,
    voter: Uuid,
) -> ApiResult<MyTally> {
    let tx: &mut PgConnection = &mut transaction;
    let (tally, voted) = count(state, tx, room, locked.current, voter).await?;
    let (skipped, pending) = settle(state, tx, room, locked, &tally).await?;
    transaction.commit().await?;
    state.publish(pending).await;
    Ok(MyTally { tally, voted, skipped })
}

/// `user` is no longer present in `room` on any replica: their vote goes
/// with them, and the rest are counted again against the listeners left.
/// Nothing is done (no lock taken) in a room without votes.
pub async fn departed(state: &AppState, room: Uuid, user: Uuid) -> ApiResult<()> {
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM skip_votes WHERE room_id = $1)")
        .bind(room)
        .fetch_one(&state.db)
        .await?;
    if !any {
        return Ok(());
    }
    let mut transaction = state.db.begin().await?;
    let tx: &mut PgConnection = &mut transaction;
    let locked = playback::lock(tx, room).await?;
    // Back already (a reload, another tab on another replica): nothing to do.
    if present(state, room).contains(&user) {
        return Ok(());
    }
    sqlx::query("DELETE FROM skip_votes WHERE room_id = $1 AND user_id = $2")
        .bind(room)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    recount(state, transaction, room, locked, user).await.map(drop)
}

/// Counts the votes of each room a listener leaves for good, until `stop`.
pub async fn follow_departures(state: crate::state::State, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut departures = state.hub.follow_departures();
    loop {
        let departure = tokio::select! {
            _ = stop.changed() => return,
            departure = departures.recv() => departure,
        };
        match departure {
            Ok(departure) => {
                let Ok(user) = Uuid::parse_str(&departure.user_id) else {
                    continue;
                };
                if let Err(error) = departed(&state, departure.room, user).await {
                    tracing::warn!(room = %departure.room, %error, "the votes to skip could not be counted after a departure");
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_everyone_of_two_half_of_a_few_and_a_root_of_many() {
        let table: Vec<(usize, usize)> = [0, 1, 2, 3, 4, 5, 9, 10, 50, 161, 1000]
            .into_iter()
            .map(|n| (n, needed(n)))
            .collect();
        assert_eq!(
            table,
            [
                (0, 0),
                (1, 1),
                (2, 2),
                (3, 2),
                (4, 2),
                (5, 3),
                (9, 5),
                (10, 5),
                (50, 11),
                (161, 20),
                (1000, 48)
            ]
        );
    }

    #[test]
    fn the_threshold_never_falls_as_the_room_grows_nor_exceeds_it() {
        for n in 1..100_000 {
            assert!(needed(n) >= needed(n - 1), "{n}");
            assert!(needed(n) <= n && needed(n) >= 1, "{n}");
        }
    }
}
