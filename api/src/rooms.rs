//! Rooms: list, create, show, rename, delete, join, leave, participants.

use crate::auth::{authenticate, AuthUser};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Pending};
use crate::models::{iso, Room, Track, ROOM_COLUMNS, TRACK_COLUMNS};
use crate::reply::Reply;
use crate::request::{json_body, state, uuid_param};
use crate::state::AppState;
use crate::{queue, storage};
use chrono::{DateTime, Utc};
use salvo::http::StatusCode;
use salvo::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

pub async fn fetch(db: impl sqlx::PgExecutor<'_>, room: Uuid) -> Result<Option<Room>, sqlx::Error> {
    sqlx::query_as::<_, Room>(&format!(
        "SELECT {ROOM_COLUMNS} FROM rooms r JOIN users a ON a.id = r.administrator_id WHERE r.id = $1"
    ))
    .bind(room)
    .fetch_optional(db)
    .await
}

pub async fn require(db: impl sqlx::PgExecutor<'_>, room: Uuid) -> ApiResult<Room> {
    fetch(db, room)
        .await?
        .ok_or_else(|| ApiError::NotFound("Room not found".into()))
}

/// The room, if `user` takes part in it: one round trip for both answers.
pub async fn require_participant(state: &AppState, room: Uuid, user: Uuid) -> ApiResult<Room> {
    use sqlx::{FromRow, Row};
    let row = sqlx::query(&format!(
        "SELECT {ROOM_COLUMNS}, EXISTS (SELECT 1 FROM room_participants p WHERE p.room_id = r.id AND p.user_id = $2) AS viewer_takes_part \
         FROM rooms r JOIN users a ON a.id = r.administrator_id WHERE r.id = $1"
    ))
    .bind(room)
    .bind(user)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::NotFound("Room not found".into()))?;
    if !row.try_get::<bool, _>("viewer_takes_part")? {
        return Err(ApiError::Forbidden("You are not a participant of this room".into()));
    }
    Ok(Room::from_row(&row)?)
}

pub async fn require_admin(state: &AppState, room: Uuid, user: Uuid) -> ApiResult<Room> {
    let found = require(&state.db, room).await?;
    if found.administrator_id != user {
        return Err(ApiError::Forbidden("Only the room administrator can do this".into()));
    }
    Ok(found)
}

pub async fn track(db: impl sqlx::PgExecutor<'_>, track: Uuid) -> Result<Option<Track>, sqlx::Error> {
    sqlx::query_as::<_, Track>(&format!(
        "SELECT {TRACK_COLUMNS} FROM tracks t JOIN users u ON u.id = t.uploader_id WHERE t.id = $1"
    ))
    .bind(track)
    .fetch_optional(db)
    .await
}

/// The full room JSON for `viewer`, in a constant number of queries.
pub async fn room_json(state: &AppState, room: &Room, viewer: Uuid) -> ApiResult<Value> {
    let now = Utc::now();
    let current = match room.current_track_id {
        Some(id) => track(&state.db, id).await?,
        None => None,
    };
    let queue = queue::load(state, room.id, room.event_seq).await?;
    let participants: Vec<(Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT u.id, u.username, p.joined_at FROM room_participants p JOIN users u ON u.id = p.user_id \
         WHERE p.room_id = $1 ORDER BY p.joined_at, u.id",
    )
    .bind(room.id)
    .fetch_all(&state.db)
    .await?;
    let mut ids: Vec<Uuid> = queue.iter().map(|t| t.id).collect();
    ids.extend(current.as_ref().map(|t| t.id));
    let voted = queue::voted_by(state, viewer, &ids).await?;
    let track_json = |t: &Track| t.json(storage::file_url(&state.config, &t.file_path), voted.contains(&t.id));
    let mut map = room.base_json(now, current.as_ref().map(|t| t.duration_ms));
    let is_participant = participants.iter().any(|(id, ..)| *id == viewer);
    map.insert("current_track".into(), current.as_ref().map_or(Value::Null, track_json));
    map.insert(
        "participants".into(),
        participants
            .iter()
            .map(|(id, username, joined)| json!({ "id": id, "username": username, "joined_at": iso(*joined) }))
            .collect(),
    );
    map.insert("track_queue".into(), queue.iter().map(track_json).collect());
    map.insert("is_administrator".into(), Value::Bool(room.administrator_id == viewer));
    map.insert("is_participant".into(), Value::Bool(is_participant));
    Ok(Value::Object(map))
}

#[handler]
pub async fn list_rooms(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let per_page = req.query::<i64>("per_page").unwrap_or(20).clamp(1, 100);
    let page = req.query::<i64>("page").unwrap_or(1).max(1);
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM rooms")
        .fetch_one(&state.db)
        .await?;
    let rooms = sqlx::query_as::<_, Room>(&format!(
        "SELECT {ROOM_COLUMNS} FROM rooms r JOIN users a ON a.id = r.administrator_id \
         ORDER BY r.created_at DESC, r.id LIMIT $1 OFFSET $2"
    ))
    .bind(per_page)
    .bind((page - 1) * per_page)
    .fetch_all(&state.db)
    .await?;
    let ids: Vec<Uuid> = rooms.iter().map(|r| r.id).collect();
    let joined: Vec<(Uuid,)> =
        sqlx::query_as("SELECT room_id FROM room_participants WHERE user_id = $1 AND room_id = ANY($2)")
            .bind(caller.id())
            .bind(&ids)
            .fetch_all(&state.db)
            .await?;
    let current_ids: Vec<Uuid> = rooms.iter().filter_map(|r| r.current_track_id).collect();
    let currents = sqlx::query_as::<_, Track>(&format!(
        "SELECT {TRACK_COLUMNS} FROM tracks t JOIN users u ON u.id = t.uploader_id WHERE t.id = ANY($1)"
    ))
    .bind(&current_ids)
    .fetch_all(&state.db)
    .await?;
    let now = Utc::now();
    let data: Vec<Value> = rooms
        .iter()
        .map(|room| {
            let current = currents.iter().find(|t| Some(t.id) == room.current_track_id);
            let mut map = room.base_json(now, current.map(|t| t.duration_ms));
            map.insert(
                "current_track".into(),
                current.map_or(Value::Null, |t| {
                    t.json(storage::file_url(&state.config, &t.file_path), false)
                }),
            );
            map.insert(
                "is_participant".into(),
                Value::Bool(joined.iter().any(|(id,)| *id == room.id)),
            );
            map.insert(
                "is_administrator".into(),
                Value::Bool(room.administrator_id == caller.id()),
            );
            Value::Object(map)
        })
        .collect();
    Ok(Reply::top_level(
        StatusCode::OK,
        "Rooms",
        json!({
            "data": data,
            "pagination": { "page": page, "per_page": per_page, "total": total, "last_page": (total + per_page - 1) / per_page },
        }),
    ))
}

#[derive(Deserialize)]
struct RoomName {
    #[serde(default)]
    name: String,
}

fn valid_name(input: &RoomName) -> ApiResult<String> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field(
            "name",
            "The name must be between 1 and 100 characters.",
        ));
    }
    Ok(name.to_owned())
}

#[handler]
pub async fn create_room(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let name = valid_name(&json_body(req).await?)?;
    let mut tx = state.db.begin().await?;
    let id: Uuid = sqlx::query_scalar("INSERT INTO rooms (name, administrator_id) VALUES ($1, $2) RETURNING id")
        .bind(&name)
        .bind(caller.id())
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
        room_json(state, &room, caller.id()).await?,
    ))
}

#[handler]
pub async fn show_room(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let room = require(&state.db, uuid_param(req, "room")?).await?;
    Ok(Reply::data("Room", room_json(state, &room, caller.id()).await?))
}

#[handler]
pub async fn update_room(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let room_id = uuid_param(req, "room")?;
    require_admin(state, room_id, caller.id()).await?;
    let name = valid_name(&json_body(req).await?)?;
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE rooms SET name = $2, updated_at = now() WHERE id = $1")
        .bind(room_id)
        .bind(&name)
        .execute(&mut *tx)
        .await?;
    let room = require(&mut *tx, room_id).await?;
    let mut room_value = room.base_json(Utc::now(), None);
    room_value.remove("position_ms");
    let event = events::stamp(&mut tx, room_id, "room.updated", json!({ "room": room_value })).await?;
    tx.commit().await?;
    state.publish([event]).await;
    let room = require(&state.db, room_id).await?;
    Ok(Reply::data("Room updated", room_json(state, &room, caller.id()).await?))
}

#[handler]
pub async fn delete_room(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let room_id = uuid_param(req, "room")?;
    require_admin(state, room_id, caller.id()).await?;
    let mut tx = state.db.begin().await?;
    let event = events::stamp(&mut tx, room_id, "room.deleted", json!({})).await?;
    let paths: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT file_path FROM tracks WHERE room_id = $1")
        .bind(room_id)
        .fetch_all(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM rooms WHERE id = $1")
        .bind(room_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    state.publish([event]).await;
    for (path,) in paths {
        crate::tracks::remove_if_unreferenced(state, &path).await;
    }
    Ok(Reply::data("Room deleted", Value::Null))
}

/// Adds `user` to the room; `Some(event)` when they were not in it yet.
pub async fn add_participant(
    tx: &mut PgConnection,
    room: Uuid,
    user: &AuthUser,
) -> Result<Option<Pending>, sqlx::Error> {
    let inserted =
        sqlx::query("INSERT INTO room_participants (room_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(room)
            .bind(user.id())
            .execute(&mut *tx)
            .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    Ok(Some(
        events::stamp(tx, room, "user.joined", json!({ "user": user.user.public_json() })).await?,
    ))
}

#[handler]
pub async fn join_room(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let room_id = uuid_param(req, "room")?;
    require(&state.db, room_id).await?;
    let mut tx = state.db.begin().await?;
    let event = add_participant(&mut tx, room_id, &caller).await?;
    tx.commit().await?;
    let joined_now = event.is_some();
    state.publish(event).await;
    let room = require(&state.db, room_id).await?;
    let joined_at: DateTime<Utc> =
        sqlx::query_scalar("SELECT joined_at FROM room_participants WHERE room_id = $1 AND user_id = $2")
            .bind(room_id)
            .bind(caller.id())
            .fetch_one(&state.db)
            .await?;
    let data = json!({
        "room": room_json(state, &room, caller.id()).await?,
        "participant": { "id": caller.id(), "username": caller.user.username, "joined_at": iso(joined_at) },
    });
    let message = if joined_now {
        "Joined the room"
    } else {
        "Already a participant"
    };
    Ok(Reply::data(message, data))
}

#[handler]
pub async fn leave_room(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let room_id = uuid_param(req, "room")?;
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
        "user.left",
        json!({ "user": caller.user.public_json() }),
    )
    .await?;
    tx.commit().await?;
    state.publish([event]).await;
    Ok(Reply::data("Left the room", Value::Null))
}

#[handler]
pub async fn list_participants(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let room_id = uuid_param(req, "room")?;
    let room = require_participant(state, room_id, caller.id()).await?;
    let rows: Vec<(Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT u.id, u.username, p.joined_at FROM room_participants p JOIN users u ON u.id = p.user_id \
         WHERE p.room_id = $1 ORDER BY p.joined_at, u.id",
    )
    .bind(room_id)
    .fetch_all(&state.db)
    .await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|(id, username, joined)| {
            json!({ "id": id, "username": username, "joined_at": iso(*joined), "is_administrator": *id == room.administrator_id })
        })
        .collect();
    Ok(Reply::data("Participants", json!(list)))
}
