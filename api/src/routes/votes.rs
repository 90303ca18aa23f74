//! Votes: one per user per track, counted in the same statement that records them.

use crate::http::error::{ApiError, ApiResult};
use crate::http::path::{RoomId, TrackId};
use crate::http::reply::{Fields, Reply};
use crate::services::access::{admit, require_member};
use crate::services::caller::Caller;
use crate::store::ballots::Ballot;
use crate::store::events;
use crate::store::events::EventName;
use crate::store::records;
use crate::views::participants::Voter;
use crate::views::to_value;
use crate::views::users::UserRef;
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::Serialize;
use uuid::Uuid;

/// The statement of one vote (`up`) or unvote on its own, binding `$1` track, `$2`
/// user, `$3` room; it returns the score (null if the track is not in the
/// room), how many votes changed (0 or 1), the event number taken (null if
/// nothing changed) and the time.
///
/// One statement, so one round trip and no transaction around it: the room's
/// row is locked first (as every change of the room locks it, so the order
/// of locks is the same everywhere), then the vote is recorded, the score
/// moved by what changed, and — only if something did — the room's next
/// event number taken. The API batches votes instead; this is what one vote
/// alone costs, the ceiling `loadtest/compare-api` measures against.
pub fn statement(up: bool) -> &'static str {
    static STATEMENTS: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    &STATEMENTS.get_or_init(|| [written(true), written(false)])[usize::from(!up)]
}

fn written(up: bool) -> String {
    // Both branches change a vote row only where `scored` below moves the
    // score: the track in the URL's room. (An unvote through another room's
    // URL once deleted the row and left the score, so the next vote counted
    // again: a score raised without bound by one user.)
    let change = if up {
        "changed AS (INSERT INTO track_votes (track_id, user_id) \
                     SELECT $1, $2 FROM room WHERE EXISTS (SELECT 1 FROM tracks WHERE id = $1 AND room_id = $3) \
                     ON CONFLICT DO NOTHING RETURNING 1)"
    } else {
        "changed AS (DELETE FROM track_votes WHERE track_id = $1 AND user_id = $2 \
                     AND EXISTS (SELECT 1 FROM room) \
                     AND EXISTS (SELECT 1 FROM tracks WHERE id = $1 AND room_id = $3) RETURNING 1)"
    };
    let sign = if up { "+" } else { "-" };
    format!(
        "WITH room AS (SELECT id FROM rooms WHERE id = $3 FOR UPDATE), {change}, \
              scored AS (UPDATE tracks SET vote_score = vote_score {sign} (SELECT count(*) FROM changed), updated_at = now() \
                         WHERE id = $1 AND room_id = $3 RETURNING vote_score), \
              numbered AS (UPDATE rooms SET event_seq = event_seq + 1 \
                           WHERE id = $3 AND EXISTS (SELECT 1 FROM changed) RETURNING event_seq) \
         SELECT (SELECT vote_score FROM scored), (SELECT count(*) FROM changed), (SELECT event_seq FROM numbered), now()"
    )
}

/// What a vote answers (`TrackQueue.vue` reads both at the top level).
#[derive(Serialize, ToSchema)]
pub struct Score {
    vote_score: i32,
    user_has_voted: bool,
}

/// The `track.voted` event: the track's new score, who voted, which way.
#[derive(Serialize)]
struct Voted {
    track: VotedTrack,
    user: UserRef,
    vote_added: bool,
}

#[derive(Serialize)]
struct VotedTrack {
    id: Uuid,
    vote_score: i32,
}

/// Adds (`up`) or removes the caller's vote. Both are idempotent; concurrent
/// votes neither lose nor double count, because the vote row, the score and
/// the event number change together under the room's row lock — in one
/// commit with the other votes of the room that arrived meanwhile
/// ([`crate::store::ballots`]), answered once it is durable.
async fn vote(caller: Caller, room: RoomId, track: TrackId, up: bool) -> ApiResult<Fields<Score>> {
    let state = &caller.state;
    let (room_id, track_id) = (room.0, track.0);
    let ballot = Ballot {
        track: track_id,
        user: caller.id(),
        up,
    };
    // The voter's membership is judged in the vote's own transaction (no
    // round trip of its own), and answered as everywhere else.
    let asked = std::time::Instant::now();
    let counted = state.ballots.cast(room_id, ballot).await?;
    admit(state, room_id, caller.id(), counted.takes_part, asked)?;
    let (changed, seq, now) = (counted.changed, counted.seq, counted.at);
    let score = counted
        .score
        .ok_or_else(|| ApiError::NotFound("Track not found".into()))?;
    let event = seq.map(|seq| {
        events::numbered(
            room_id,
            EventName::TrackVoted,
            to_value(&Voted {
                track: VotedTrack {
                    id: track_id,
                    vote_score: score,
                },
                user: caller.user.public_view(),
                vote_added: up,
            }),
            seq,
            now,
        )
    });
    state.publish(event).await;
    let message = match (up, changed) {
        (true, true) => "Vote added",
        (true, false) => "Already voted",
        (false, true) => "Vote removed",
        (false, false) => "No vote to remove",
    };
    Ok(Fields::new(
        message,
        Score {
            vote_score: score,
            user_has_voted: up,
        },
    ))
}

/// Votes for a queued track (idempotent: "Already voted" the second time).
#[endpoint(tags("votes"))]
pub async fn add_vote(caller: Caller, room: RoomId, track: TrackId) -> ApiResult<Fields<Score>> {
    vote(caller, room, track, true).await
}

/// Takes the caller's vote back (idempotent).
#[endpoint(tags("votes"))]
pub async fn remove_vote(caller: Caller, room: RoomId, track: TrackId) -> ApiResult<Fields<Score>> {
    vote(caller, room, track, false).await
}

/// Who voted for a queued track, earliest first (at most
/// [`records::VOTERS_LISTED`]; the score counts them all). Members only.
#[endpoint(tags("votes"))]
pub async fn list_voters(caller: Caller, room: RoomId, track: TrackId) -> ApiResult<Reply<Vec<Voter>>> {
    let state = &caller.state;
    let room_id = room.0;
    let track_id = track.0;
    require_member(state, room_id, caller.id()).await?;
    Ok(Reply::data(
        "Voters",
        records::voters(&state.db, room_id, track_id).await?,
    ))
}

/// Under `/api/rooms/{room}/tracks/{track}`.
pub fn in_track() -> Router {
    Router::new()
        .push(Router::with_path("vote").post(add_vote).delete(remove_vote))
        .push(Router::with_path("votes").get(list_voters))
}
