//! Playback control (administrator only) and its events.
//!
//! Every change locks the room row first, so admin actions and the
//! server-side advance at the end of a track are applied one at a time, on
//! any number of API replicas. Events carry the sync fields clients need:
//! `server_time`, `position_ms` (and `position` in seconds), `started_at`,
//! the `track` with its duration, and the `next_track` hint with its URL so
//! players can fetch its first bytes before the switch.

use crate::auth::authenticate;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Pending};
use crate::models::{iso, Track, TRACK_COLUMNS};
use crate::reply::Reply;
use crate::request::{state, uuid_param};
use crate::rooms::{self, require_admin, require_participant};
use crate::state::AppState;
use crate::storage;
use crate::sync::{now_ms, Playback};
use chrono::{DateTime, Utc};
use salvo::prelude::*;
use serde_json::{json, Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

/// What just happened to a room's playback.
pub enum Transition {
    Started,
    Paused,
    Resumed,
    Stopped,
}

impl Transition {
    fn event(&self) -> &'static str {
        match self {
            Self::Started => "playback.started",
            Self::Paused => "playback.paused",
            Self::Resumed => "playback.resumed",
            Self::Stopped => "playback.stopped",
        }
    }
}

/// The room's playback as stored, read under the row lock.
struct Locked {
    playback: Playback,
    current: Option<Uuid>,
}

/// `current_track_id, playback_started_at, playback_paused_at, is_playing`.
type PlaybackRow = (Option<Uuid>, Option<DateTime<Utc>>, Option<DateTime<Utc>>, bool);

async fn lock(tx: &mut PgConnection, room: Uuid) -> ApiResult<Locked> {
    let row: Option<PlaybackRow> = sqlx::query_as(
        "SELECT current_track_id, playback_started_at, playback_paused_at, is_playing FROM rooms WHERE id = $1 FOR UPDATE",
    )
    .bind(room)
    .fetch_optional(&mut *tx)
    .await?;
    let (current, started_at, paused_at, is_playing) =
        row.ok_or_else(|| ApiError::NotFound("Room not found".into()))?;
    Ok(Locked {
        playback: Playback {
            started_at,
            paused_at,
            is_playing,
        },
        current,
    })
}

async fn store(
    tx: &mut PgConnection,
    room: Uuid,
    current: Option<Uuid>,
    playback: Playback,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE rooms SET current_track_id = $2, playback_started_at = $3, playback_paused_at = $4, is_playing = $5, updated_at = now() WHERE id = $1",
    )
    .bind(room)
    .bind(current)
    .bind(playback.started_at)
    .bind(playback.paused_at)
    .bind(playback.is_playing)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn next_in_queue(tx: &mut PgConnection, room: Uuid, current: Option<Uuid>) -> Result<Option<Track>, sqlx::Error> {
    sqlx::query_as::<_, Track>(&format!(
        "SELECT {TRACK_COLUMNS} FROM tracks t JOIN users u ON u.id = t.uploader_id \
         WHERE t.room_id = $1 AND t.played_at IS NULL AND t.id IS DISTINCT FROM $2 \
         ORDER BY t.vote_score DESC, t.created_at ASC, t.id ASC LIMIT 1"
    ))
    .bind(room)
    .bind(current)
    .fetch_optional(&mut *tx)
    .await
}

/// The sync fields of a room's playback now, as every playback response and event carries them.
async fn sync_fields(state: &AppState, tx: &mut PgConnection, room: Uuid) -> ApiResult<Map<String, Value>> {
    let locked = lock(tx, room).await?;
    let current = match locked.current {
        Some(id) => rooms::track(&mut *tx, id).await?,
        None => None,
    };
    let next = next_in_queue(tx, room, locked.current).await?;
    let now = now_ms();
    let p = locked.playback;
    let position_ms = p.position_ms(now, current.as_ref().map(|t| t.duration_ms));
    let track_json = |t: &Track| t.json(storage::file_url(&state.config, &t.file_path), false);
    let fields = json!({
        "server_time": now.timestamp_millis(),
        "is_playing": p.is_playing,
        "position_ms": position_ms,
        "position": position_ms as f64 / 1000.0,
        "started_at": p.started_at.map(iso),
        "started_at_ms": p.started_at.map(|t| t.timestamp_millis()),
        "paused_at": p.paused_at.map(iso),
        "playback_started_at": p.started_at.map(iso),
        "playback_paused_at": p.paused_at.map(iso),
        "current_position": p.legacy_position_seconds(),
        "track": current.as_ref().map(track_json),
        "current_track": current.as_ref().map(track_json),
        "track_id": current.as_ref().map(|t| t.id),
        "next_track": next.as_ref().map(track_json),
    });
    match fields {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::internal("sync fields are an object")),
    }
}

/// Stamps the event of `transition` with the room's current sync fields.
pub async fn announce(
    state: &AppState,
    tx: &mut PgConnection,
    room: Uuid,
    transition: Transition,
) -> ApiResult<Pending> {
    let mut fields = sync_fields(state, tx, room).await?;
    if let Transition::Resumed = transition {
        // The instant the sync fields describe: position_ms is exact at it.
        let at = fields
            .get("server_time")
            .and_then(Value::as_i64)
            .and_then(DateTime::from_timestamp_millis);
        fields.insert("resumed_at".into(), json!(at.map(iso)));
    }
    Ok(events::stamp(tx, room, transition.event(), Value::Object(fields)).await?)
}

/// Marks the current track played and starts the next one in the queue, or
/// leaves the room idle. Used by skip and by the end-of-track advance.
pub async fn advance(state: &AppState, tx: &mut PgConnection, room: Uuid) -> ApiResult<Vec<Pending>> {
    let locked = lock(tx, room).await?;
    let previous = match locked.current {
        Some(id) => rooms::track(&mut *tx, id).await?,
        None => None,
    };
    if let Some(previous) = &previous {
        sqlx::query("UPDATE tracks SET played_at = now(), updated_at = now() WHERE id = $1")
            .bind(previous.id)
            .execute(&mut *tx)
            .await?;
    }
    let next = next_in_queue(tx, room, locked.current).await?;
    let now = now_ms();
    match &next {
        Some(next) => store(tx, room, Some(next.id), Playback::start(now)).await?,
        None => store(tx, room, None, Playback::IDLE).await?,
    }
    let track_json = |t: &Track| t.json(storage::file_url(&state.config, &t.file_path), false);
    let mut skipped = sync_fields(state, tx, room).await?;
    skipped.insert(
        "previous_track".into(),
        previous.as_ref().map_or(Value::Null, track_json),
    );
    skipped.insert("next_track".into(), next.as_ref().map_or(Value::Null, track_json));
    let mut pending = vec![events::stamp(tx, room, "track.skipped", Value::Object(skipped)).await?];
    let then = if next.is_some() {
        Transition::Started
    } else {
        Transition::Stopped
    };
    pending.push(announce(state, tx, room, then).await?);
    Ok(pending)
}

/// Runs `change` on the locked room as the administrator, then answers with the sync fields.
async fn admin_action<F>(req: &mut Request, depot: &mut Depot, message: &str, change: F) -> ApiResult<Reply>
where
    F: AsyncFnOnce(&AppState, &mut PgConnection, Uuid, Locked) -> ApiResult<Vec<Pending>>,
{
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let room_id = uuid_param(req, "room")?;
    require_admin(state, room_id, caller.id()).await?;
    let mut tx = state.db.begin().await?;
    let locked = lock(&mut tx, room_id).await?;
    let pending = change(state, &mut tx, room_id, locked).await?;
    let data = sync_fields(state, &mut tx, room_id).await?;
    tx.commit().await?;
    state.publish(pending).await;
    Ok(Reply::data(message, Value::Object(data)))
}

#[handler]
pub async fn play_track(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let track_id = uuid_param(req, "track")?;
    admin_action(req, depot, "Playback started", async move |state, tx, room, locked| {
        let track = rooms::track(&mut *tx, track_id)
            .await?
            .filter(|t| t.room_id == room)
            .ok_or_else(|| ApiError::NotFound("Track not found".into()))?;
        if let Some(previous) = locked.current.filter(|id| *id != track.id) {
            sqlx::query("UPDATE tracks SET played_at = now() WHERE id = $1")
                .bind(previous)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE tracks SET played_at = NULL WHERE id = $1")
            .bind(track.id)
            .execute(&mut *tx)
            .await?;
        store(tx, room, Some(track.id), Playback::start(now_ms())).await?;
        Ok(vec![announce(state, tx, room, Transition::Started).await?])
    })
    .await
}

#[handler]
pub async fn pause_playback(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    admin_action(req, depot, "Playback paused", async |state, tx, room, locked| {
        if !locked.playback.is_playing {
            return Err(ApiError::Conflict(
                "Playback is not running, so it cannot be paused".into(),
            ));
        }
        store(tx, room, locked.current, locked.playback.pause(now_ms())).await?;
        Ok(vec![announce(state, tx, room, Transition::Paused).await?])
    })
    .await
}

#[handler]
pub async fn resume_playback(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    admin_action(req, depot, "Playback resumed", async |state, tx, room, locked| {
        if locked.playback.is_playing {
            return Err(ApiError::Conflict("Playback is already running".into()));
        }
        if locked.current.is_none() || !locked.playback.is_paused() {
            return Err(ApiError::Conflict("Nothing is paused in this room".into()));
        }
        store(tx, room, locked.current, locked.playback.resume(now_ms())).await?;
        Ok(vec![announce(state, tx, room, Transition::Resumed).await?])
    })
    .await
}

#[handler]
pub async fn skip_track(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    admin_action(req, depot, "Track skipped", async |state, tx, room, locked| {
        if locked.current.is_none() {
            return Err(ApiError::Conflict(
                "Nothing is playing, so there is nothing to skip".into(),
            ));
        }
        advance(state, tx, room).await
    })
    .await
}

#[handler]
pub async fn stop_playback(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    admin_action(req, depot, "Playback stopped", async |state, tx, room, locked| {
        if locked.current.is_none() {
            return Err(ApiError::Conflict("Playback is already stopped".into()));
        }
        store(tx, room, None, Playback::IDLE).await?;
        Ok(vec![announce(state, tx, room, Transition::Stopped).await?])
    })
    .await
}

#[handler]
pub async fn playback_status(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let room_id = uuid_param(req, "room")?;
    require_participant(state, room_id, caller.id()).await?;
    let mut conn = state.db.acquire().await?;
    // A read: no lock is needed, but the same shape as every playback answer.
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let data = sync_fields(state, &mut tx, room_id).await?;
    tx.rollback().await?;
    Ok(Reply::data("Playback status", Value::Object(data)))
}
