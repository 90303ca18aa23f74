//! Playback control, administrator only, and its status: thin routes over
//! [`crate::domain::playback`], which holds the transitions and their events.

use crate::auth::caller::Caller;
use crate::domain::playback::{self, Command, PlaybackView};
use crate::http::error::ApiResult;
use crate::http::reply::{Reply, Shaped};
use crate::http::request::uuid_param;
use crate::routes::rooms::{require_admin, require_member};
use salvo::prelude::*;

/// A change's answer: the payload of the event it raised.
type Changed = Reply<Shaped<PlaybackView>>;

/// `command` on the caller's room, if the caller administers it.
async fn administer(caller: Caller, req: &mut Request, message: &'static str, command: Command) -> ApiResult<Changed> {
    let state = &caller.state;
    let room = uuid_param(req, "room")?;
    require_admin(state, room, caller.id()).await?;
    Ok(Reply::data(
        message,
        Shaped::new(playback::command(state, room, command).await?),
    ))
}

#[endpoint(tags("playback"))]
pub async fn play_track(caller: Caller, req: &mut Request) -> ApiResult<Changed> {
    let track = uuid_param(req, "track")?;
    administer(caller, req, "Playback started", Command::Play(track)).await
}

#[endpoint(tags("playback"))]
pub async fn pause_playback(caller: Caller, req: &mut Request) -> ApiResult<Changed> {
    administer(caller, req, "Playback paused", Command::Pause).await
}

#[endpoint(tags("playback"))]
pub async fn resume_playback(caller: Caller, req: &mut Request) -> ApiResult<Changed> {
    administer(caller, req, "Playback resumed", Command::Resume).await
}

#[endpoint(tags("playback"))]
pub async fn skip_track(caller: Caller, req: &mut Request) -> ApiResult<Changed> {
    administer(caller, req, "Track skipped", Command::Skip).await
}

#[endpoint(tags("playback"))]
pub async fn stop_playback(caller: Caller, req: &mut Request) -> ApiResult<Changed> {
    administer(caller, req, "Playback stopped", Command::Stop).await
}

#[endpoint(tags("playback"))]
pub async fn playback_status(caller: Caller, req: &mut Request) -> ApiResult<Reply<PlaybackView>> {
    let state = &caller.state;
    let room = uuid_param(req, "room")?;
    require_member(state, room, caller.id()).await?;
    Ok(Reply::data("Playback status", playback::status(state, room).await?))
}
