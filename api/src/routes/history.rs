//! The play history (`/rooms/{room}/history`): what played, newest first.

use crate::http::error::ApiResult;
use crate::http::page::keyset;
use crate::http::path::RoomId;
use crate::http::reply::Fields;
use crate::http::request::keyset_page;
use crate::services::access::require_member;
use crate::services::caller::Caller;
use crate::store::history::{self};
use crate::views::history::Played;
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::Serialize;

/// A page of the history, and where the next (older) one begins.
#[derive(Serialize, ToSchema)]
pub struct History {
    data: Vec<Played>,
    /// Pass as `before` for the next page; null when this one is the last.
    next_before: Option<i64>,
}

/// What played in the room, newest first: each track's name, who added it,
/// how far it played, when it ended and why (`finished`, or `admin`,
/// `vote`, `removed`, `replaced`, `stopped`). Members only; the newest
/// [`history::HISTORY_KEPT`] are kept.
#[endpoint(
    tags("rooms"),
    parameters(
        ("limit" = Option<i64>, Query, description = "Rows per page, 1 to 100 (50 by default)"),
        ("before" = Option<i64>, Query, description = "The `next_before` of the previous page")
    )
)]
pub async fn play_history(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Fields<History>> {
    let state = &caller.state;
    let room = room.0;
    require_member(state, room, caller.id()).await?;
    let (limit, before) = keyset_page(req)?;
    let rows = history::page(&state.db, room, before, limit + 1).await?;
    let (data, next_before) = keyset(rows, limit, |row| row.id);
    Ok(Fields::new("Play history", History { data, next_before }))
}

/// Under `/api/rooms/{room}`.
pub fn in_room() -> Router {
    Router::with_path("history").get(play_history)
}
