//! Who may do what in a room: the room's administrator, its moderators, its
//! participants. Every route and socket that acts on a room asks here, so
//! the answers (404 for no room, 403 for no right) are the same everywhere.

use crate::domain::models::Room;
use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::records;
use uuid::Uuid;

/// The room, whoever asks.
pub async fn require(db: impl sqlx::PgExecutor<'_>, room: Uuid) -> ApiResult<Room> {
    records::room(db, room)
        .await?
        .ok_or_else(|| records::room_not_found().into())
}

/// The room, if `user` takes part in it: one round trip for both answers.
pub async fn require_participant(state: &AppState, room: Uuid, user: Uuid) -> ApiResult<Room> {
    let asked = std::time::Instant::now();
    let (found, takes_part) = records::room_with_membership(&state.db, room, user).await?.unzip();
    admit(state, room, user, takes_part, asked)?;
    found.ok_or_else(|| records::room_not_found().into())
}

/// What a membership read from PostgreSQL at `asked` means for a request:
/// no such room (`None`) is a 404, not taking part a 403; taking part is
/// remembered for the next second.
pub fn admit(
    state: &AppState,
    room: Uuid,
    user: Uuid,
    takes_part: Option<bool>,
    asked: std::time::Instant,
) -> ApiResult<()> {
    match takes_part {
        None => Err(records::room_not_found().into()),
        Some(false) => Err(ApiError::Forbidden("You are not a participant of this room".into())),
        Some(true) => {
            state.members.put((room, user), (), asked);
            Ok(())
        }
    }
}

/// That `user` takes part in `room`, for requests that need nothing else of
/// the room: answered from the membership seen within the last second when
/// there is one, with no round trip.
pub async fn require_member(state: &AppState, room: Uuid, user: Uuid) -> ApiResult<()> {
    if state.members.get(&(room, user)).is_some() {
        return Ok(());
    }
    require_participant(state, room, user).await.map(drop)
}

pub async fn require_admin(state: &AppState, room: Uuid, user: Uuid) -> ApiResult<Room> {
    let found = require(&state.db, room).await?;
    if found.administrator_id != user {
        return Err(ApiError::Forbidden("Only the room administrator can do this".into()));
    }
    Ok(found)
}

/// The room, if `user` administers or moderates it.
pub async fn require_moderator(state: &AppState, room: Uuid, user: Uuid) -> ApiResult<Room> {
    let found = require_participant(state, room, user).await?;
    if found.administrator_id == user || is_moderator(&state.db, room, user).await? {
        return Ok(found);
    }
    Err(ApiError::Forbidden("Only the room's moderators can do this".into()))
}

/// Whether `user` is a moderator of `room` (the administrator is not, by this).
pub async fn is_moderator(db: impl sqlx::PgExecutor<'_>, room: Uuid, user: Uuid) -> ApiResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM room_participants WHERE room_id = $1 AND user_id = $2 AND is_moderator)",
    )
    .bind(room)
    .bind(user)
    .fetch_one(db)
    .await?)
}
