//! Rooms: list, create, show, rename, delete, join, leave, participants.

use crate::domain::models::{Participant, Room, Track, User};
use crate::http::error::{ApiError, ApiResult};
use crate::http::page::{Listed, Page};
use crate::http::path::RoomId;
use crate::http::reply::{Created, Fields, Nothing, Reply};
use crate::http::request::json_body;
use crate::hub::message::Ending;
use crate::services::access::{require, require_admin, require_participant};
use crate::services::caller::Caller;
use crate::services::sessions::AuthUser;
use crate::state::AppState;
use crate::store::events::EventName;
use crate::store::events::{self, Pending};
use crate::store::quota;
use crate::views::participants::ParticipantView;
use crate::views::rooms::{RoomSummary, RoomView};
use crate::views::to_value;
use crate::views::tracks::TrackView;
use crate::views::users::UserRef;
use crate::{files::storage, store::queue, store::records};
use chrono::{DateTime, Utc};
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use std::collections::HashSet;
use uuid::Uuid;

fn track_view(state: &AppState, track: &Track, voted: &HashSet<Uuid>) -> TrackView {
    storage::playable_view(&state.config, track, voted.contains(&track.id))
}

/// The full room for `viewer`, in a constant number of queries.
pub async fn room_view(state: &AppState, room: &Room, viewer_user: &User) -> ApiResult<RoomView> {
    let viewer = viewer_user.id;
    let now = Utc::now();
    let current = match room.current_track_id {
        Some(id) => records::track(&state.db, id).await?,
        None => None,
    };
    let participants = records::participants(&state.db, room.id).await?;
    let is_participant = participants.iter().any(|p| p.user_id == viewer);
    if !is_participant {
        // What the room list and the join flow read (`fetchRoomDetails`
        // joins when `is_participant` is false), and nothing to play: no
        // participants, no queue, no link to the current track's audio.
        let view = RoomView {
            summary: room.summary(&state.config.api_public_url),
            clock: room.clock(now, current.as_ref().map(|t| t.duration_ms)),
            current_track: current
                .as_ref()
                .map(|t| t.view(&state.config.api_public_url, None, false)),
            participants: None,
            track_queue: None,
            is_administrator: room.administrator_id == viewer,
            is_participant,
            user: Some(viewer_user.public_view()),
        };
        return Ok(view);
    }
    let queue = queue::load(
        &state.db,
        &state.cache,
        state.config.cache_ttl_tracks,
        room.id,
        room.event_seq,
    )
    .await?;
    let mut ids: Vec<Uuid> = queue.iter().map(|t| t.id).collect();
    ids.extend(current.as_ref().map(|t| t.id));
    let voted = queue::voted_by(&state.db, viewer, &ids).await?;
    let track_view = |t| track_view(state, t, &voted);
    let view = RoomView {
        summary: room.summary(&state.config.api_public_url),
        clock: room.clock(now, current.as_ref().map(|t| t.duration_ms)),
        current_track: current.as_ref().map(track_view),
        participants: Some(participants.iter().map(|p| p.view(room.administrator_id)).collect()),
        track_queue: Some(queue.iter().map(track_view).collect()),
        is_administrator: room.administrator_id == viewer,
        is_participant,
        user: Some(viewer_user.public_view()),
    };
    Ok(view)
}

/// Every room, a page at a time (`?page=&per_page=`, 20 by default).
#[endpoint(tags("rooms"), parameters(("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)))]
pub async fn list_rooms(caller: Caller, req: &mut Request) -> ApiResult<Fields<Listed<RoomView>>> {
    let state = &caller.state;
    let page = Page::from_query(req, 20)?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM rooms")
        .fetch_one(&state.db)
        .await?;
    let rooms = records::rooms_page(&state.db, page.per_page, page.offset()).await?;
    let ids: Vec<Uuid> = rooms.iter().map(|r| r.id).collect();
    let joined: Vec<(Uuid,)> =
        sqlx::query_as("SELECT room_id FROM room_participants WHERE user_id = $1 AND room_id = ANY($2)")
            .bind(caller.id())
            .bind(&ids)
            .fetch_all(&state.db)
            .await?;
    let current_ids: Vec<Uuid> = rooms.iter().filter_map(|r| r.current_track_id).collect();
    let currents = records::tracks(&state.db, &current_ids).await?;
    let now = Utc::now();
    let data: Vec<RoomView> = rooms
        .iter()
        .map(|room| {
            let current = currents.iter().find(|t| Some(t.id) == room.current_track_id);
            RoomView {
                summary: room.summary(&state.config.api_public_url),
                clock: room.clock(now, current.map(|t| t.duration_ms)),
                current_track: current.map(|t| {
                    // Only a participant is given something to play.
                    let takes_part = joined.iter().any(|(id,)| *id == room.id);
                    t.view(
                        &state.config.api_public_url,
                        takes_part.then(|| storage::file_url(&state.config, &t.file_path)),
                        false,
                    )
                }),
                participants: None,
                track_queue: None,
                is_participant: joined.iter().any(|(id,)| *id == room.id),
                is_administrator: room.administrator_id == caller.id(),
                user: Some(caller.user.public_view()),
            }
        })
        .collect();
    Ok(Fields::new(
        "Rooms",
        Listed {
            data,
            pagination: page.describe(total),
        },
    ))
}

/// The fields a room is created or edited with (`CreateRoomModal.vue`
/// sends `name` and `description`).
#[derive(Deserialize, ToSchema)]
struct RoomFields {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    /// Whether listeners present may skip by voting (on for a new room).
    vote_skip: Option<bool>,
    /// Tracks one participant may have waiting at once, 1 to 100; null
    /// for no limit (the default).
    #[serde(default, deserialize_with = "present")]
    queue_limit_per_user: Option<Option<i32>>,
    /// `votes` (the default) or `fair`.
    queue_mode: Option<String>,
    /// `off` (the default), `history` or `playlist`.
    autofill: Option<String>,
    /// The playlist autofill plays from: yours or a public one.
    #[serde(default, deserialize_with = "present")]
    autofill_playlist_id: Option<Option<i64>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// A queue mode as a room stores it.
fn valid_queue_mode(mode: Option<&str>) -> ApiResult<Option<&str>> {
    match mode {
        None | Some("votes" | "fair") => Ok(mode),
        Some(_) => Err(ApiError::field(
            "queue_mode",
            "The queue is ordered by `votes` or `fair`.",
        )),
    }
}

/// An autofill setting as a room stores it; a playlist must be the
/// caller's or public.
async fn valid_autofill(
    state: &AppState,
    caller: Uuid,
    mode: Option<&str>,
    playlist: Option<Option<i64>>,
) -> ApiResult<()> {
    if !matches!(mode, None | Some("off" | "history" | "playlist")) {
        return Err(ApiError::field(
            "autofill",
            "Autofill is `off`, `history` or `playlist`.",
        ));
    }
    if let Some(Some(id)) = playlist {
        let visible: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM playlists WHERE id = $1 AND (user_id = $2 OR is_public))")
                .bind(id)
                .bind(caller)
                .fetch_one(&state.db)
                .await?;
        if !visible {
            return Err(ApiError::field(
                "autofill_playlist_id",
                "No playlist of yours or public one has that id.",
            ));
        }
    }
    Ok(())
}

/// A queue limit as a room stores it: 1 to 100, or none.
fn valid_queue_limit(limit: Option<i32>) -> ApiResult<Option<i32>> {
    match limit {
        Some(n) if !(1..=100).contains(&n) => Err(ApiError::field(
            "queue_limit_per_user",
            "The limit is a whole number from 1 to 100, or null for none.",
        )),
        other => Ok(other),
    }
}

fn valid_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field(
            "name",
            "The name must be between 1 and 100 characters.",
        ));
    }
    crate::domain::text::name("name", name)?;
    Ok(name.to_owned())
}

/// A description of at most 500 characters; blank means none.
fn valid_description(description: Option<&str>) -> ApiResult<Option<String>> {
    let text = description.map(str::trim).filter(|d| !d.is_empty());
    if let Some(text) = text {
        crate::domain::text::description("description", text)?;
    }
    if text.is_some_and(|d| d.chars().count() > 500) {
        return Err(ApiError::field(
            "description",
            "The description may not be longer than 500 characters.",
        ));
    }
    Ok(text.map(str::to_owned))
}

/// Creates a room administered, and joined, by its caller.
#[endpoint(tags("rooms"), request_body = RoomFields)]
pub async fn create_room(caller: Caller, req: &mut Request) -> ApiResult<Created<RoomView>> {
    let state = &caller.state;
    let fields: RoomFields = json_body(req).await?;
    let name = valid_name(fields.name.as_deref().unwrap_or(""))?;
    let description = valid_description(fields.description.flatten().as_deref())?;
    let mut tx = state.db.begin().await?;
    quota::room_for_one_more(
        &mut tx,
        quota::Held::Rooms,
        caller.id(),
        state.config.quotas.rooms_per_user,
    )
    .await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO rooms (name, description, administrator_id, vote_skip, queue_limit_per_user, queue_mode) \
         VALUES ($1, $2, $3, $4, $5, COALESCE($6, 'votes')) RETURNING id",
    )
    .bind(&name)
    .bind(&description)
    .bind(caller.id())
    .bind(fields.vote_skip.unwrap_or(true))
    .bind(valid_queue_limit(fields.queue_limit_per_user.flatten())?)
    .bind(valid_queue_mode(fields.queue_mode.as_deref())?)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO room_participants (room_id, user_id) VALUES ($1, $2)")
        .bind(id)
        .bind(caller.id())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let room = require(&state.db, id).await?;
    Ok(Reply::created(
        "Room created",
        room_view(state, &room, &caller.user).await?,
    ))
}

/// A room in full for a participant (queue, participants, the signed audio
/// of its current track); its summary and current track for anyone else.
#[endpoint(tags("rooms"))]
pub async fn show_room(caller: Caller, room: RoomId) -> ApiResult<Reply<RoomView>> {
    let state = &caller.state;
    let room = require(&state.db, room.0).await?;
    Ok(Reply::data("Room", room_view(state, &room, &caller.user).await?))
}

/// The `room.updated` event.
#[derive(Serialize)]
struct Updated {
    room: RoomSummary,
}

/// Stamps `room.updated` with the room as it now is, inside `tx`: what
/// listeners merge into the room they show (`RoomUpdated`, `room_state_updated`).
pub async fn announce_update(tx: &mut PgConnection, room_id: Uuid, api_url: &str) -> ApiResult<Pending> {
    let room = require(&mut *tx, room_id).await?;
    let payload = to_value(&Updated {
        room: room.summary(api_url),
    });
    Ok(events::stamp(tx, room_id, EventName::RoomUpdated, payload).await?)
}

/// Renames or redescribes a room (administrator only); `description: null` clears it.
#[endpoint(tags("rooms"), request_body = RoomFields)]
pub async fn update_room(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Reply<RoomView>> {
    let state = &caller.state;
    let room_id = room.0;
    require_admin(state, room_id, caller.id()).await?;
    let fields: RoomFields = json_body(req).await?;
    let name = fields.name.as_deref().map(valid_name).transpose()?;
    let description = fields
        .description
        .map(|d| valid_description(d.as_deref()))
        .transpose()?;
    valid_autofill(
        state,
        caller.id(),
        fields.autofill.as_deref(),
        fields.autofill_playlist_id,
    )
    .await?;
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE rooms SET name = COALESCE($2, name), description = CASE WHEN $3 THEN $4 ELSE description END, \
         vote_skip = COALESCE($5, vote_skip), \
         queue_limit_per_user = CASE WHEN $6 THEN $7 ELSE queue_limit_per_user END, \
         queue_mode = COALESCE($8, queue_mode), autofill = COALESCE($9, autofill), \
         autofill_playlist_id = CASE WHEN $10 THEN $11 ELSE autofill_playlist_id END, updated_at = now() WHERE id = $1",
    )
    .bind(room_id)
    .bind(&name)
    .bind(description.is_some())
    .bind(description.flatten())
    .bind(fields.vote_skip)
    .bind(fields.queue_limit_per_user.is_some())
    .bind(valid_queue_limit(fields.queue_limit_per_user.flatten())?)
    .bind(valid_queue_mode(fields.queue_mode.as_deref())?)
    .bind(fields.autofill.as_deref())
    .bind(fields.autofill_playlist_id.is_some())
    .bind(fields.autofill_playlist_id.flatten())
    .execute(&mut *tx)
    .await?;
    let event = announce_update(&mut tx, room_id, &state.config.api_public_url).await?;
    tx.commit().await?;
    state.publish([event]).await;
    let room = require(&state.db, room_id).await?;
    Ok(Reply::data(
        "Room updated",
        room_view(state, &room, &caller.user).await?,
    ))
}

/// Deletes a room, its queue and their files (administrator only).
#[endpoint(tags("rooms"))]
pub async fn delete_room(caller: Caller, room: RoomId) -> ApiResult<Reply<Nothing>> {
    let state = &caller.state;
    let room_id = room.0;
    require_admin(state, room_id, caller.id()).await?;
    let mut tx = state.db.begin().await?;
    let nothing = serde_json::Value::Object(serde_json::Map::new());
    let event = events::stamp(&mut tx, room_id, EventName::RoomDeleted, nothing).await?;
    let paths: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT file_path, cover_path FROM tracks WHERE room_id = $1 \
         UNION SELECT NULL, cover_path FROM rooms WHERE id = $1 AND cover_path IS NOT NULL",
    )
    .bind(room_id)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM rooms WHERE id = $1")
        .bind(room_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    state.members.forget_where(|(room, _)| *room == room_id);
    state.publish_ending(event, room_id, Ending::Room).await;
    for (audio, cover) in paths {
        if let Some(audio) = audio {
            storage::remove_if_unreferenced(&state.db, &state.config, &audio).await;
        }
        if let Some(cover) = cover {
            storage::remove_if_unreferenced(&state.db, &state.config, &cover).await;
        }
    }
    Ok(Reply::data("Room deleted", Nothing))
}

/// The `user.joined` event.
#[derive(Serialize)]
struct Joined {
    user: ParticipantView,
}

/// Adds `user` to the room; `Some(event)` when they were not in it yet.
pub async fn add_participant(
    tx: &mut PgConnection,
    room: Uuid,
    user: &AuthUser,
) -> Result<Option<Pending>, sqlx::Error> {
    // Never for a user banned from the room (join_room refuses them first;
    // this closes the race with a ban committed meanwhile).
    let joined_at: Option<DateTime<Utc>> = sqlx::query_scalar(
        "INSERT INTO room_participants (room_id, user_id) SELECT $1, $2 \
         WHERE NOT EXISTS (SELECT 1 FROM room_bans WHERE room_id = $1 AND user_id = $2) \
         ON CONFLICT DO NOTHING RETURNING joined_at",
    )
    .bind(room)
    .bind(user.id())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(joined_at) = joined_at else {
        return Ok(None);
    };
    // The front end appends `user` to its participant list as it is.
    let participant = Participant {
        user_id: user.id(),
        username: user.user.username.clone(),
        joined_at,
        is_moderator: false,
        muted_until: None,
    };
    let administrator: Uuid = sqlx::query_scalar("SELECT administrator_id FROM rooms WHERE id = $1")
        .bind(room)
        .fetch_one(&mut *tx)
        .await?;
    let payload = to_value(&Joined {
        user: participant.view(administrator),
    });
    Ok(Some(events::stamp(tx, room, EventName::UserJoined, payload).await?))
}

/// What joining answers: the room as a participant sees it, and the caller
/// as a participant.
#[derive(Serialize, ToSchema)]
pub struct Membership {
    room: RoomView,
    participant: ParticipantView,
}

/// Joins a room (idempotent: "Already a participant").
#[endpoint(tags("rooms"))]
pub async fn join_room(caller: Caller, room: RoomId) -> ApiResult<Reply<Membership>> {
    let state = &caller.state;
    let room_id = room.0;
    require(&state.db, room_id).await?;
    let banned: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM room_bans WHERE room_id = $1 AND user_id = $2)")
            .bind(room_id)
            .bind(caller.id())
            .fetch_one(&state.db)
            .await?;
    if banned {
        return Err(ApiError::Forbidden("You are banned from this room".into()));
    }
    let mut tx = state.db.begin().await?;
    let event = add_participant(&mut tx, room_id, &caller).await?;
    tx.commit().await?;
    let joined_now = event.is_some();
    state.publish(event).await;
    let room = require(&state.db, room_id).await?;
    let (joined_at, is_moderator, muted_until): (DateTime<Utc>, bool, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT joined_at, is_moderator, muted_until FROM room_participants WHERE room_id = $1 AND user_id = $2",
    )
    .bind(room_id)
    .bind(caller.id())
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::Forbidden("You are banned from this room".into()))?;
    let participant = Participant {
        user_id: caller.id(),
        username: caller.user.username.clone(),
        joined_at,
        is_moderator,
        muted_until,
    };
    let data = Membership {
        room: room_view(state, &room, &caller.user).await?,
        participant: participant.view(room.administrator_id),
    };
    let message = if joined_now {
        "Joined the room"
    } else {
        "Already a participant"
    };
    Ok(Reply::data(message, data))
}

/// Leaves a room; an administrator who leaves hands it to the
/// longest-standing participant.
#[endpoint(tags("rooms"))]
pub async fn leave_room(caller: Caller, room: RoomId) -> ApiResult<Reply<Nothing>> {
    let state = &caller.state;
    let room_id = room.0;
    let room = require_participant(state, room_id, caller.id()).await?;
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM room_participants WHERE room_id = $1 AND user_id = $2")
        .bind(room_id)
        .bind(caller.id())
        .execute(&mut *tx)
        .await?;
    if room.administrator_id == caller.id() {
        // The longest-standing participant inherits the room; with nobody
        // left, the administrator keeps it and can come back.
        sqlx::query(
            "UPDATE rooms SET administrator_id = p.user_id, updated_at = now() FROM \
             (SELECT user_id FROM room_participants WHERE room_id = $1 ORDER BY joined_at, user_id LIMIT 1) p \
             WHERE rooms.id = $1",
        )
        .bind(room_id)
        .execute(&mut *tx)
        .await?;
    }
    let event = events::stamp(
        &mut tx,
        room_id,
        EventName::UserLeft,
        to_value(&Left {
            user: caller.user.public_view(),
        }),
    )
    .await?;
    tx.commit().await?;
    // Refused at once here; on the other replicas when the hub's message
    // arrives, or within a second without it.
    state.members.forget((room_id, caller.id()));
    let leaver = Ending::Participant { user: caller.id() };
    state.publish_ending(event, room_id, leaver).await;
    Ok(Reply::data("Left the room", Nothing))
}

/// The `user.left` event.
#[derive(Serialize)]
struct Left {
    user: UserRef,
}

#[endpoint(tags("rooms"))]
pub async fn list_participants(caller: Caller, room: RoomId) -> ApiResult<Reply<Vec<ParticipantView>>> {
    let state = &caller.state;
    let room_id = room.0;
    let room = require_participant(state, room_id, caller.id()).await?;
    let participants = records::participants(&state.db, room_id).await?;
    let list: Vec<_> = participants.iter().map(|p| p.view(room.administrator_id)).collect();
    Ok(Reply::data("Participants", list))
}

/// `/api/rooms`: the list and a new room.
pub fn router() -> Router {
    Router::with_path("rooms").get(list_rooms).post(create_room)
}

/// Under `/api/rooms/{room}`: the room itself, joining, leaving, its participants.
pub fn in_room() -> Router {
    Router::new()
        .get(show_room)
        .put(update_room)
        .delete(delete_room)
        .push(Router::with_path("join").post(join_room))
        .push(Router::with_path("leave").post(leave_room))
        .push(Router::with_path("participants").get(list_participants))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Room names and descriptions from any JSON string: accepted
        /// exactly when their trimmed length fits and nothing in them is
        /// hidden (controls, direction overrides), and then trimmed.
        #[test]
        fn names_and_descriptions_are_bounded_and_trimmed(text in ".{0,600}") {
            let trimmed = text.trim();
            let hidden = |multiline: bool| trimmed.chars().any(|c| {
                crate::domain::text::is_bidi_control(c) || (c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
            });
            match valid_name(&text) {
                Ok(name) => prop_assert!(name == trimmed && (1..=100).contains(&name.chars().count()) && !hidden(false)),
                Err(_) => prop_assert!(trimmed.is_empty() || trimmed.chars().count() > 100 || hidden(false)),
            }
            match valid_description(Some(&text)) {
                Ok(Some(description)) => prop_assert!(description == trimmed && description.chars().count() <= 500 && !hidden(true)),
                Ok(None) => prop_assert!(trimmed.is_empty()),
                Err(_) => prop_assert!(trimmed.chars().count() > 500 || hidden(true)),
            }
        }
    }
}
