//! Playback control, administrator only, and its status: thin routes over
//! [`crate::domain::playback`], which holds the transitions and their events.

use crate::auth::caller::Caller;
use crate::domain::playback::{self, Command};
use crate::http::error::ApiResult;
use crate::http::reply::Reply;
use crate::http::request::uuid_param;
use crate::routes::rooms::{require_admin, require_member};
use salvo::prelude::*;

/// `command` on the caller's room, if the caller administers it.
async fn administer(caller: Caller, req: &mut Request, message: &str, command: Command) -> ApiResult<Reply> {
    let state = &caller.state;
    let room = uuid_param(req, "room")?;
    require_admin(state, room, caller.id()).await?;
    Ok(Reply::data(message, playback::command(state, room, command).await?))
}

#[handler]
pub async fn play_track(caller: Caller, req: &mut Request) -> ApiResult<Reply> {
    let track = uuid_param(req, "track")?;
    administer(caller, req, "Playback started", Command::Play(track)).await
}

#[handler]
pub async fn pause_playback(caller: Caller, req: &mut Request) -> ApiResult<Reply> {
    administer(caller, req, "Playback paused", Command::Pause).await
}

#[handler]
pub async fn resume_playback(caller: Caller, req: &mut Request) -> ApiResult<Reply> {
    administer(caller, req, "Playback resumed", Command::Resume).await
}

#[handler]
pub async fn skip_track(caller: Caller, req: &mut Request) -> ApiResult<Reply> {
    administer(caller, req, "Track skipped", Command::Skip).await
}

#[handler]
pub async fn stop_playback(caller: Caller, req: &mut Request) -> ApiResult<Reply> {
    administer(caller, req, "Playback stopped", Command::Stop).await
}

#[handler]
pub async fn playback_status(caller: Caller, req: &mut Request) -> ApiResult<Reply> {
    let state = &caller.state;
    let room = uuid_param(req, "room")?;
    require_member(state, room, caller.id()).await?;
    Ok(Reply::data("Playback status", playback::status(state, room).await?))
}
