//! Moderation (docs/room-life.md): the administrator makes participants
//! moderators; moderators and the administrator mute a participant (no
//! queueing, chat or reactions for a time), ban one (out at once, every
//! subscription ended on every replica, no way back in until unbanned),
//! remove any track and delete any message. Every action goes to the
//! room's moderation log, which moderators read.
//!
//! A moderator acts on listeners only: the administrator and the other
//! moderators are the administrator's to deal with.

use crate::domain::models::{Participant, Room};
use crate::http::error::{ApiError, ApiResult};
use crate::http::page::keyset;
use crate::http::path::{RoomId, UserId};
use crate::http::reply::{Fields, Nothing, Reply};
use crate::http::request::{json_body, keyset_page};
use crate::hub::message::Ending;
use crate::services::access::{require_admin, require_moderator};
use crate::services::caller::Caller;
use crate::state::AppState;
use crate::store::events::{self, EventName};
use crate::store::moderation_log::{self, Action};
use crate::views::moderation::Entry;
use crate::views::participants::ParticipantView;
use crate::views::to_value;
use crate::views::users::UserRef;
use chrono::{DateTime, Duration, Utc};
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

/// The longest mute: a day (a longer one is a ban).
pub const MAX_MUTE_MINUTES: i64 = 24 * 60;

/// How long a mute lasts.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Mute {
    /// 1 to 1440.
    minutes: i64,
}

/// The `participant.updated` event: a participant's role or mute changed.
#[derive(Serialize)]
struct Updated {
    user: ParticipantView,
}

/// The `user.left` event of a ban.
#[derive(Serialize)]
struct Banned {
    user: UserRef,
    banned: bool,
}

/// A user banned from the room.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct Ban {
    user_id: Uuid,
    username: String,
    #[serde(with = "crate::views::iso_format")]
    banned_at: DateTime<Utc>,
}

/// A page of the moderation log, and where the next (older) one begins.
#[derive(Serialize, ToSchema)]
pub struct Log {
    data: Vec<Entry>,
    next_before: Option<i64>,
}

/// Refuses `user` what a muted participant may not do (queue, chat, react).
pub async fn refuse_if_muted(state: &AppState, room: Uuid, user: Uuid) -> ApiResult<()> {
    let until: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT muted_until FROM room_participants WHERE room_id = $1 AND user_id = $2 AND muted_until > now()",
    )
    .bind(room)
    .bind(user)
    .fetch_optional(&state.db)
    .await?
    .flatten();
    match until {
        Some(until) => Err(ApiError::Forbidden(format!(
            "A moderator muted you in this room until {} UTC",
            until.format("%H:%M")
        ))),
        None => Ok(()),
    }
}

/// The participant `target` of `room`, locked for the change.
async fn participant(tx: &mut PgConnection, room: Uuid, target: Uuid) -> ApiResult<Participant> {
    sqlx::query_as::<_, Participant>(
        "SELECT u.id AS user_id, u.username, p.joined_at, p.is_moderator, p.muted_until \
         FROM room_participants p JOIN users u ON u.id = p.user_id WHERE p.room_id = $1 AND p.user_id = $2 FOR UPDATE OF p",
    )
    .bind(room)
    .bind(target)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::NotFound("No such participant in this room".into()))
}

/// That `actor` may act on `target` in `room`: not on the administrator,
/// not on oneself, and a moderator not on another moderator.
fn may_act_on(room: &Room, actor: Uuid, target: &Participant) -> ApiResult<()> {
    if target.user_id == room.administrator_id {
        return Err(ApiError::Forbidden("Nobody moderates the room's administrator".into()));
    }
    if target.user_id == actor {
        return Err(ApiError::Forbidden("You cannot moderate yourself".into()));
    }
    if target.is_moderator && actor != room.administrator_id {
        return Err(ApiError::Forbidden(
            "Only the administrator can moderate a moderator".into(),
        ));
    }
    Ok(())
}

/// A change of a participant's role or mute.
struct Change {
    /// Binds `$1` the room, `$2` the user and, for a mute, `$3` its minutes.
    statement: &'static str,
    minutes: Option<i32>,
    action: Action,
    /// What the log says besides (a mute's end).
    detail: Option<String>,
    /// Only the administrator may make it (moderators otherwise).
    admin_only: bool,
    message: &'static str,
}

/// Makes `change` to `target`, logs it and tells the room.
async fn update(caller: &Caller, room: Uuid, target: Uuid, change: Change) -> ApiResult<Reply<ParticipantView>> {
    let state = &caller.state;
    let found = if change.admin_only {
        require_admin(state, room, caller.id()).await?
    } else {
        require_moderator(state, room, caller.id()).await?
    };
    let mut tx = state.db.begin().await?;
    let before = participant(&mut tx, room, target).await?;
    may_act_on(&found, caller.id(), &before)?;
    let mut statement = sqlx::query(change.statement).bind(room).bind(target);
    if let Some(minutes) = change.minutes {
        statement = statement.bind(minutes);
    }
    statement.execute(&mut *tx).await?;
    let after = participant(&mut tx, room, target).await?;
    let actor = (caller.id(), caller.user.username.as_str());
    moderation_log::write(
        &mut tx,
        room,
        actor,
        change.action,
        &after.username,
        change.detail.as_deref(),
    )
    .await?;
    let view = after.view(found.administrator_id);
    let event = events::stamp(
        &mut tx,
        room,
        EventName::ParticipantUpdated,
        to_value(&Updated { user: view.clone() }),
    )
    .await?;
    tx.commit().await?;
    state.publish([event]).await;
    Ok(Reply::data(change.message, view))
}

/// Makes a participant a moderator (the administrator only).
#[endpoint(tags("moderation"))]
pub async fn add_moderator(caller: Caller, room: RoomId, user: UserId) -> ApiResult<Reply<ParticipantView>> {
    let (room, target) = (room.0, user.0);
    let change = Change {
        statement: "UPDATE room_participants SET is_moderator = true WHERE room_id = $1 AND user_id = $2",
        minutes: None,
        action: Action::ModeratorAdded,
        detail: None,
        admin_only: true,
        message: "Participant updated",
    };
    update(&caller, room, target, change).await
}

/// Makes a moderator a listener again (the administrator only).
#[endpoint(tags("moderation"))]
pub async fn remove_moderator(caller: Caller, room: RoomId, user: UserId) -> ApiResult<Reply<ParticipantView>> {
    let (room, target) = (room.0, user.0);
    let change = Change {
        statement: "UPDATE room_participants SET is_moderator = false WHERE room_id = $1 AND user_id = $2",
        minutes: None,
        action: Action::ModeratorRemoved,
        detail: None,
        admin_only: true,
        message: "Participant updated",
    };
    update(&caller, room, target, change).await
}

/// Mutes a participant for `minutes` (1 to 1440): no queueing, chat or
/// reactions until then. Moderators and the administrator.
#[endpoint(tags("moderation"), request_body = Mute)]
pub async fn mute(caller: Caller, req: &mut Request, room: RoomId, user: UserId) -> ApiResult<Reply<ParticipantView>> {
    let (room, target) = (room.0, user.0);
    let Mute { minutes } = json_body(req).await?;
    if !(1..=MAX_MUTE_MINUTES).contains(&minutes) {
        return Err(ApiError::field(
            "minutes",
            format!("A mute lasts 1 to {MAX_MUTE_MINUTES} minutes."),
        ));
    }
    let until = Utc::now() + Duration::minutes(minutes);
    let change = Change {
        statement: "UPDATE room_participants SET muted_until = now() + make_interval(mins => $3) \
                    WHERE room_id = $1 AND user_id = $2",
        minutes: Some(minutes as i32),
        action: Action::Muted,
        detail: Some(format!("until {}", crate::views::iso(until))),
        admin_only: false,
        message: "Participant muted",
    };
    update(&caller, room, target, change).await
}

/// Lifts a mute. Moderators and the administrator.
#[endpoint(tags("moderation"))]
pub async fn unmute(caller: Caller, room: RoomId, user: UserId) -> ApiResult<Reply<ParticipantView>> {
    let (room, target) = (room.0, user.0);
    let change = Change {
        statement: "UPDATE room_participants SET muted_until = NULL WHERE room_id = $1 AND user_id = $2",
        minutes: None,
        action: Action::Unmuted,
        detail: None,
        admin_only: false,
        message: "Participant updated",
    };
    update(&caller, room, target, change).await
}

/// Bans a participant: out of the room at once, their subscriptions ended
/// on every replica, and no way back in until unbanned. Moderators and the
/// administrator.
#[endpoint(tags("moderation"))]
pub async fn ban(caller: Caller, room: RoomId, user: UserId) -> ApiResult<Reply<Nothing>> {
    let state = &caller.state;
    let (room, target) = (room.0, user.0);
    let found = require_moderator(state, room, caller.id()).await?;
    let mut tx = state.db.begin().await?;
    let banned = participant(&mut tx, room, target).await?;
    may_act_on(&found, caller.id(), &banned)?;
    for statement in [
        "DELETE FROM room_participants WHERE room_id = $1 AND user_id = $2",
        "DELETE FROM skip_votes WHERE room_id = $1 AND user_id = $2",
        "INSERT INTO room_bans (room_id, user_id, banned_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    ] {
        sqlx::query(statement)
            .bind(room)
            .bind(target)
            .bind(caller.id())
            .execute(&mut *tx)
            .await?;
    }
    let actor = (caller.id(), caller.user.username.as_str());
    moderation_log::write(&mut tx, room, actor, Action::Banned, &banned.username, None).await?;
    let left = Banned {
        user: UserRef {
            id: banned.user_id,
            username: banned.username.clone(),
        },
        banned: true,
    };
    let event = events::stamp(&mut tx, room, EventName::UserLeft, to_value(&left)).await?;
    tx.commit().await?;
    // As a leave: refused at once here, on the other replicas when the
    // hub's message arrives (or within a second without it).
    state.members.forget((room, target));
    state
        .publish_ending(event, room, Ending::Participant { user: target })
        .await;
    Ok(Reply::data("Participant banned", Nothing))
}

/// Lifts a ban: the user may join again. Moderators and the administrator.
#[endpoint(tags("moderation"))]
pub async fn unban(caller: Caller, room: RoomId, user: UserId) -> ApiResult<Reply<Nothing>> {
    let state = &caller.state;
    let (room, target) = (room.0, user.0);
    require_moderator(state, room, caller.id()).await?;
    let mut tx = state.db.begin().await?;
    let name: Option<String> = sqlx::query_scalar(
        "DELETE FROM room_bans b USING users u WHERE b.room_id = $1 AND b.user_id = $2 AND u.id = b.user_id RETURNING u.username",
    )
    .bind(room)
    .bind(target)
    .fetch_optional(&mut *tx)
    .await?;
    let name = name.ok_or_else(|| ApiError::NotFound("That user is not banned here".into()))?;
    let actor = (caller.id(), caller.user.username.as_str());
    moderation_log::write(&mut tx, room, actor, Action::Unbanned, &name, None).await?;
    tx.commit().await?;
    Ok(Reply::data("Ban lifted", Nothing))
}

/// Who is banned from the room, newest first. Moderators and the administrator.
#[endpoint(tags("moderation"))]
pub async fn list_bans(caller: Caller, room: RoomId) -> ApiResult<Reply<Vec<Ban>>> {
    let state = &caller.state;
    let room = room.0;
    require_moderator(state, room, caller.id()).await?;
    let bans = sqlx::query_as::<_, Ban>(
        "SELECT b.user_id, u.username, b.created_at AS banned_at FROM room_bans b JOIN users u ON u.id = b.user_id \
         WHERE b.room_id = $1 ORDER BY b.created_at DESC, b.user_id LIMIT 500",
    )
    .bind(room)
    .fetch_all(&state.db)
    .await?;
    Ok(Reply::data("Bans", bans))
}

/// The room's moderation log, newest first (the newest
/// [`moderation_log::LOG_KEPT`] are kept). Moderators and the administrator.
#[endpoint(
    tags("moderation"),
    parameters(
        ("limit" = Option<i64>, Query, description = "Entries per page, 1 to 100 (50 by default)"),
        ("before" = Option<i64>, Query, description = "The `next_before` of the previous page")
    )
)]
pub async fn read_moderation_log(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Fields<Log>> {
    let state = &caller.state;
    let room = room.0;
    require_moderator(state, room, caller.id()).await?;
    let (limit, before) = keyset_page(req)?;
    let rows = moderation_log::page(&state.db, room, before, limit + 1).await?;
    let (data, next_before) = keyset(rows, limit, |e| e.id);
    Ok(Fields::new("Moderation log", Log { data, next_before }))
}

/// Under `/api/rooms/{room}`: moderators, mutes, bans and the log.
pub fn in_room() -> Router {
    Router::new()
        .push(
            Router::with_path("moderators/{user}")
                .put(add_moderator)
                .delete(remove_moderator),
        )
        .push(Router::with_path("mutes/{user}").put(mute).delete(unmute))
        .push(
            Router::with_path("bans")
                .get(list_bans)
                .push(Router::with_path("{user}").put(ban).delete(unban)),
        )
        .push(Router::with_path("moderation-log").get(read_moderation_log))
}
