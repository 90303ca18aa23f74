//! Vote to skip (`/rooms/{room}/skip-votes`): thin routes over
//! [`crate::services::skips`], which counts and skips.

use crate::http::error::ApiResult;
use crate::http::path::RoomId;
use crate::http::reply::Fields;
use crate::http::request::json_body;
use crate::services::access::require_member;
use crate::services::caller::Caller;
use crate::services::skips::{self, MyTally};
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::Deserialize;
use uuid::Uuid;

/// The track a vote is for: what the voter saw playing. A vote for another
/// (it changed meanwhile) is refused, never moved to the next track.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SkipVote {
    track_id: Uuid,
}

/// Where the vote to skip what plays stands, for the caller. Members only.
#[endpoint(tags("skip votes"))]
pub async fn skip_tally(caller: Caller, room: RoomId) -> ApiResult<Fields<MyTally>> {
    let state = &caller.state;
    let room = room.0;
    require_member(state, room, caller.id()).await?;
    Ok(Fields::new("Skip votes", skips::tally(state, room, caller.id()).await?))
}

/// Votes to skip the track playing (idempotent); it is skipped at once if
/// that makes enough. Listeners present in the room only (connected to its
/// channels), in a room that allows it.
#[endpoint(tags("skip votes"), request_body = SkipVote)]
pub async fn vote_to_skip(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Fields<MyTally>> {
    let state = &caller.state;
    let room = room.0;
    require_member(state, room, caller.id()).await?;
    let vote: SkipVote = json_body(req).await?;
    let tally = skips::vote(state, room, caller.id(), vote.track_id).await?;
    let message = if tally.skipped {
        "Skipped by vote"
    } else {
        "Vote to skip counted"
    };
    Ok(Fields::new(message, tally))
}

/// Takes the caller's vote to skip back (idempotent).
#[endpoint(tags("skip votes"))]
pub async fn withdraw_skip_vote(caller: Caller, room: RoomId) -> ApiResult<Fields<MyTally>> {
    let state = &caller.state;
    let room = room.0;
    require_member(state, room, caller.id()).await?;
    Ok(Fields::new(
        "Vote to skip withdrawn",
        skips::withdraw(state, room, caller.id()).await?,
    ))
}

/// Under `/api/rooms/{room}`.
pub fn in_room() -> Router {
    Router::with_path("skip-votes")
        .get(skip_tally)
        .post(vote_to_skip)
        .delete(withdraw_skip_vote)
}
