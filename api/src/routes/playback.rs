//! Playback control, administrator only, and its status: thin routes over
//! [`crate::services::playback`], which holds the transitions and their events.

use crate::http::error::ApiResult;
use crate::http::path::{RoomId, TrackId};
use crate::http::reply::{Reply, Shaped};
use crate::http::request::query_whole;
use crate::services::access::{require_admin, require_member};
use crate::services::caller::Caller;
use crate::services::playback::{self, Command, PlaybackView, MOST_LEAD_MS};
use chrono::Duration;
use salvo::prelude::*;

/// A change's answer: the payload of the event it raised.
type Changed = Reply<Shaped<PlaybackView>>;

/// `command` on the caller's room, if the caller administers it.
async fn administer(caller: Caller, room: RoomId, message: &'static str, command: Command) -> ApiResult<Changed> {
    let state = &caller.state;
    let room = room.0;
    require_admin(state, room, caller.id()).await?;
    Ok(Reply::data(
        message,
        Shaped::new(playback::command(state, room, command).await?),
    ))
}

#[endpoint(tags("playback"))]
pub async fn play_track(caller: Caller, room: RoomId, track: TrackId) -> ApiResult<Changed> {
    administer(caller, room, "Playback started", Command::Play(track.0)).await
}

/// The lead a pause or a stop is asked for with: none when absent.
fn lead(req: &Request) -> ApiResult<Duration> {
    Ok(Duration::milliseconds(query_whole(req, "lead_ms", 0, MOST_LEAD_MS)?))
}

/// Pauses the room. With `lead_ms`, the pause's instant is that far ahead,
/// so that every listener's page hears it in time and stops its sound at
/// the same instant instead of one network trip after the click (the
/// room is paused from the answer on; `paused_at_ms` is the instant).
#[endpoint(
    tags("playback"),
    parameters(("lead_ms" = Option<i64>, Query, description = "Pause this many ms ahead, 1 to 1000 (none by default)"))
)]
pub async fn pause_playback(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Changed> {
    let lead = lead(req)?;
    administer(caller, room, "Playback paused", Command::Pause { lead }).await
}

#[endpoint(tags("playback"))]
pub async fn resume_playback(caller: Caller, room: RoomId) -> ApiResult<Changed> {
    administer(caller, room, "Playback resumed", Command::Resume).await
}

#[endpoint(tags("playback"))]
pub async fn skip_track(caller: Caller, room: RoomId) -> ApiResult<Changed> {
    administer(caller, room, "Track skipped", Command::Skip).await
}

/// Stops the room. With `lead_ms`, as a pause: its event's `stops_at_ms`
/// is when the sound stops, though the room is idle from the answer on.
#[endpoint(
    tags("playback"),
    parameters(("lead_ms" = Option<i64>, Query, description = "Stop this many ms ahead, 1 to 1000 (none by default)"))
)]
pub async fn stop_playback(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Changed> {
    let lead = lead(req)?;
    administer(caller, room, "Playback stopped", Command::Stop { lead }).await
}

#[endpoint(tags("playback"))]
pub async fn playback_status(caller: Caller, room: RoomId) -> ApiResult<Reply<PlaybackView>> {
    let state = &caller.state;
    let room = room.0;
    require_member(state, room, caller.id()).await?;
    Ok(Reply::data("Playback status", playback::status(state, room).await?))
}

/// Under `/api/rooms/{room}`: the administrator's controls and the status.
pub fn in_room() -> Router {
    Router::with_path("playback")
        .push(Router::with_path("pause").post(pause_playback))
        .push(Router::with_path("resume").post(resume_playback))
        .push(Router::with_path("skip").post(skip_track))
        .push(Router::with_path("stop").post(stop_playback))
        .push(Router::with_path("status").get(playback_status))
}

/// Under `/api/rooms/{room}/tracks/{track}`.
pub fn in_track() -> Router {
    Router::with_path("play").post(play_track)
}
