//! Playback control, administrator only, and its status: thin routes over
//! [`crate::domain::playback`], which holds the transitions and their events.

use crate::auth::authenticate;
use crate::domain::playback::{self, Command};
use crate::http::error::ApiResult;
use crate::http::reply::Reply;
use crate::http::request::uuid_param;
use crate::routes::rooms::{require_admin, require_member};
use crate::state::from_depot;
use salvo::prelude::*;

/// `command` on the caller's room, if the caller administers it.
async fn administer(req: &mut Request, depot: &mut Depot, message: &str, command: Command) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = from_depot(depot)?;
    let room = uuid_param(req, "room")?;
    require_admin(state, room, caller.id()).await?;
    Ok(Reply::data(message, playback::command(state, room, command).await?))
}

#[handler]
pub async fn play_track(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let track = uuid_param(req, "track")?;
    administer(req, depot, "Playback started", Command::Play(track)).await
}

#[handler]
pub async fn pause_playback(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    administer(req, depot, "Playback paused", Command::Pause).await
}

#[handler]
pub async fn resume_playback(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    administer(req, depot, "Playback resumed", Command::Resume).await
}

#[handler]
pub async fn skip_track(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    administer(req, depot, "Track skipped", Command::Skip).await
}

#[handler]
pub async fn stop_playback(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    administer(req, depot, "Playback stopped", Command::Stop).await
}

#[handler]
pub async fn playback_status(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = from_depot(depot)?;
    let room = uuid_param(req, "room")?;
    require_member(state, room, caller.id()).await?;
    Ok(Reply::data("Playback status", playback::status(state, room).await?))
}
