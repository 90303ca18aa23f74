//! A room's chat and reactions (`/rooms/{room}/messages`, `/reactions`):
//! participants write, everyone in the room sees it at once (`chat.message`,
//! `chat.deleted`, `reaction.sent`), a newcomer reads the last messages.

use crate::domain::chat::{self, REACTIONS};
use crate::http::error::{ApiError, ApiResult};
use crate::http::page::keyset;
use crate::http::path::{MessageId, RoomId};
use crate::http::reply::{Created, Fields, Nothing, Reply};
use crate::http::request::{json_body, keyset_page};
use crate::routes::moderation::refuse_if_muted;
use crate::services::access::{is_moderator, require_member, require_participant};
use crate::services::caller::Caller;
use crate::store::chat as store;
use crate::store::events::{self, EventName};
use crate::store::moderation_log::{self, Action};
use crate::views::chat::Message;
use crate::views::to_value;
use crate::views::users::UserRef;
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A message to send.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewMessage {
    /// One line, 1 to 500 characters (trimmed).
    body: String,
}

/// A reaction to what plays: one of 👍 ❤️ 🔥 😂 👏 🎉.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewReaction {
    emoji: String,
}

/// A page of the chat, newest first, and where the next (older) one begins.
#[derive(Serialize, ToSchema)]
pub struct Chat {
    data: Vec<Message>,
    /// Pass as `before` for the next page; null when this one is the last.
    next_before: Option<i64>,
}

/// The `chat.deleted` event.
#[derive(Serialize)]
struct Deleted {
    message_id: i64,
    deleted_by: UserRef,
}

/// The `reaction.sent` event: who, which, to what.
#[derive(Serialize)]
struct Reacted<'a> {
    user: UserRef,
    emoji: &'a str,
    track_id: Option<Uuid>,
}

fn flooded(wait: u64, what: &str) -> ApiError {
    ApiError::TooManyRequests {
        message: format!("You are sending {what} too fast: wait {wait} s."),
        retry_after_secs: wait,
    }
}

/// The room's chat, newest first (the newest
/// [`store::MESSAGES_KEPT`] are kept). Members only.
#[endpoint(
    tags("chat"),
    parameters(
        ("limit" = Option<i64>, Query, description = "Messages per page, 1 to 100 (50 by default)"),
        ("before" = Option<i64>, Query, description = "The `next_before` of the previous page")
    )
)]
pub async fn list_messages(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Fields<Chat>> {
    let state = &caller.state;
    let room = room.0;
    require_member(state, room, caller.id()).await?;
    let (limit, before) = keyset_page(req)?;
    let rows = store::page(&state.db, room, before, limit + 1).await?;
    let (data, next_before) = keyset(rows, limit, |m| m.id);
    Ok(Fields::new("Chat", Chat { data, next_before }))
}

/// Sends a message to the room (participants; at most 5 per 10 s each).
#[endpoint(tags("chat"), request_body = NewMessage)]
pub async fn send_message(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Created<Message>> {
    let state = &caller.state;
    let room = room.0;
    require_member(state, room, caller.id()).await?;
    let sent: NewMessage = json_body(req).await?;
    let body = chat::message(&sent.body).map_err(|refusal| ApiError::field("body", refusal.sentence()))?;
    state
        .flood
        .message(caller.id())
        .map_err(|wait| flooded(wait, "messages"))?;
    refuse_if_muted(state, room, caller.id()).await?;
    let mut tx = state.db.begin().await?;
    let message = store::add(&mut tx, room, &caller.user, &body).await?;
    let event = events::stamp(&mut tx, room, EventName::ChatMessage, to_value(&message)).await?;
    tx.commit().await?;
    state.publish([event]).await;
    Ok(Reply::created("Message sent", message))
}

/// Deletes a message: its author, the room's moderators or its administrator.
#[endpoint(tags("chat"))]
pub async fn delete_message(caller: Caller, room: RoomId, message: MessageId) -> ApiResult<Reply<Nothing>> {
    let state = &caller.state;
    let room_id = room.0;
    let id = message.0;
    let room = require_participant(state, room_id, caller.id()).await?;
    let (author, written) = store::author(&state.db, room_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Message not found".into()))?;
    let moderating = author != Some(caller.id());
    if moderating && room.administrator_id != caller.id() && !is_moderator(&state.db, room_id, caller.id()).await? {
        return Err(ApiError::Forbidden(
            "Only its author or the room's moderators can delete a message".into(),
        ));
    }
    let mut tx = state.db.begin().await?;
    if !store::delete(&mut tx, room_id, id).await? {
        return Err(ApiError::NotFound("Message not found".into()));
    }
    if moderating {
        let actor = (caller.id(), caller.user.username.as_str());
        let about = format!("a message of {}", written.username);
        moderation_log::write(
            &mut tx,
            room_id,
            actor,
            Action::MessageDeleted,
            &about,
            Some(&written.text),
        )
        .await?;
    }
    let deleted = Deleted {
        message_id: id,
        deleted_by: caller.user.public_view(),
    };
    let event = events::stamp(&mut tx, room_id, EventName::ChatDeleted, to_value(&deleted)).await?;
    tx.commit().await?;
    state.publish([event]).await;
    Ok(Reply::data("Message deleted", Nothing))
}

/// Reacts to what plays (participants; one of 👍 ❤️ 🔥 😂 👏 🎉, at most
/// 10 per 10 s each). Not kept: everyone in the room sees it go by.
#[endpoint(tags("chat"), request_body = NewReaction)]
pub async fn react(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Reply<Nothing>> {
    let state = &caller.state;
    let room_id = room.0;
    // The room and the membership in one read: what plays is in it.
    let room = require_participant(state, room_id, caller.id()).await?;
    let reaction: NewReaction = json_body(req).await?;
    let Some(emoji) = REACTIONS.iter().find(|r| **r == reaction.emoji) else {
        return Err(ApiError::field(
            "emoji",
            format!("A reaction is one of {}.", REACTIONS.join(" ")),
        ));
    };
    state
        .flood
        .reaction(caller.id())
        .map_err(|wait| flooded(wait, "reactions"))?;
    refuse_if_muted(state, room_id, caller.id()).await?;
    let reacted = Reacted {
        user: caller.user.public_view(),
        emoji,
        track_id: room.current_track_id,
    };
    let mut tx = state.db.begin().await?;
    let event = events::stamp(&mut tx, room_id, EventName::ReactionSent, to_value(&reacted)).await?;
    tx.commit().await?;
    state.publish([event]).await;
    Ok(Reply::data("Reaction sent", Nothing))
}

/// Under `/api/rooms/{room}`: messages and reactions.
pub fn in_room() -> Router {
    Router::new()
        .push(
            Router::with_path("messages")
                .get(list_messages)
                .post(send_message)
                .push(Router::with_path("{message}").delete(delete_message)),
        )
        .push(Router::with_path("reactions").post(react))
}
