//! The queue of a room: list, upload, remove, and the audio stream redirect.

use crate::auth::authenticate;
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::models::Track;
use crate::playback::{self, Transition};
use crate::reply::Reply;
use crate::request::{state, uuid_param};
use crate::rooms::{require, require_participant, track};
use crate::state::AppState;
use crate::{probe, queue, storage, upload};
use salvo::http::StatusCode;
use salvo::prelude::*;
use serde_json::{json, Value};

#[handler]
pub async fn list_queue(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let room_id = uuid_param(req, "room")?;
    let room = require_participant(state, room_id, caller.id()).await?;
    let tracks = queue::load(state, room_id, room.event_seq).await?;
    let ids: Vec<_> = tracks.iter().map(|t| t.id).collect();
    let voted = queue::voted_by(state, caller.id(), &ids).await?;
    let list: Vec<Value> = tracks
        .iter()
        .map(|t| t.json(storage::file_url(&state.config, &t.file_path), voted.contains(&t.id)))
        .collect();
    Ok(Reply::top_level(
        StatusCode::OK,
        "Queue",
        json!({ "total_count": list.len(), "tracks": list }),
    ))
}

#[handler]
pub async fn upload_track(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?.clone();
    let room_id = uuid_param(req, "room")?;
    require_participant(&state, room_id, caller.id()).await?;
    let received = upload::receive(req, &storage::temp_dir(&state.config), state.config.upload_max_bytes).await?;
    let path = received.path.clone();
    let audio = tokio::task::spawn_blocking(move || probe::probe(&path))
        .await
        .map_err(ApiError::internal)?
        .map_err(|rejected| ApiError::field("audio_file", rejected.0))?;
    let relative = storage::content_path(&received.sha256, audio.extension);
    let destination = storage::absolute(&state.config, &relative);
    let created = storage::publish(&received.path, &destination).map_err(ApiError::internal)?;
    let (size, original_name, sha256) = (received.size, received.original_name.clone(), received.sha256.clone());
    received.keep();
    let stored = store_track(
        &state,
        room_id,
        caller.id(),
        &relative,
        &original_name,
        &sha256,
        size,
        &audio,
    )
    .await;
    let (track, pending) = match stored {
        Ok(stored) => stored,
        Err(error) => {
            // Nothing is left behind: a file this upload created goes with its row.
            if created {
                remove_if_unreferenced(&state, &relative).await;
            }
            return Err(error);
        }
    };
    state.publish(pending).await;
    let body = track.json(storage::file_url(&state.config, &track.file_path), false);
    Ok(Reply::top_level(
        StatusCode::CREATED,
        "Track uploaded",
        json!({ "track": body, "data": body }),
    ))
}

/// Inserts the row and, if the room is idle, starts it — atomically, so two
/// uploads into an idle room cannot both start playback.
#[allow(clippy::too_many_arguments)]
async fn store_track(
    state: &AppState,
    room_id: uuid::Uuid,
    uploader: uuid::Uuid,
    relative: &str,
    original_name: &str,
    sha256: &str,
    size: u64,
    audio: &probe::Audio,
) -> ApiResult<(Track, Vec<events::Pending>)> {
    let mut tx = state.db.begin().await?;
    let id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO tracks (room_id, uploader_id, filename, original_name, file_path, duration_ms, file_size_bytes, mime_type, content_sha256) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(room_id)
    .bind(uploader)
    .bind(relative.rsplit('/').next().unwrap_or(relative))
    .bind(original_name)
    .bind(relative)
    .bind(audio.duration_ms)
    .bind(size as i64)
    .bind(audio.mime_type)
    .bind(sha256)
    .fetch_one(&mut *tx)
    .await?;
    let track = track(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::internal("inserted track vanished"))?;
    let mut pending = vec![
        events::stamp(
            &mut tx,
            room_id,
            "track.added",
            json!({ "track": track.json(storage::file_url(&state.config, &track.file_path), false) }),
        )
        .await?,
    ];
    let started = sqlx::query(
        "UPDATE rooms SET current_track_id = $2, is_playing = true, playback_started_at = now(), playback_paused_at = NULL, updated_at = now() \
         WHERE id = $1 AND current_track_id IS NULL",
    )
    .bind(room_id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if started.rows_affected() == 1 {
        pending.push(playback::announce(state, &mut tx, room_id, Transition::Started).await?);
    }
    tx.commit().await?;
    Ok((track, pending))
}

/// Deletes a media file that no track refers to any more.
pub async fn remove_if_unreferenced(state: &AppState, relative: &str) {
    let used: Result<bool, _> = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tracks WHERE file_path = $1)")
        .bind(relative)
        .fetch_one(&state.db)
        .await;
    if let Ok(false) = used {
        let _ = tokio::fs::remove_file(storage::absolute(&state.config, relative)).await;
    }
}

#[handler]
pub async fn remove_track(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let room_id = uuid_param(req, "room")?;
    let track_id = uuid_param(req, "track")?;
    let room = require(&state.db, room_id).await?;
    let found = track(&state.db, track_id)
        .await?
        .filter(|t| t.room_id == room_id)
        .ok_or_else(|| ApiError::NotFound("Track not found".into()))?;
    if found.uploader_id != caller.id() && room.administrator_id != caller.id() {
        return Err(ApiError::Forbidden(
            "Only the uploader or the room administrator can remove this track".into(),
        ));
    }
    let mut tx = state.db.begin().await?;
    // Removing what is playing moves the room on first, as a skip would;
    // otherwise the room would stay "playing" with no track.
    let current: Option<uuid::Uuid> = sqlx::query_scalar("SELECT current_track_id FROM rooms WHERE id = $1 FOR UPDATE")
        .bind(room_id)
        .fetch_one(&mut *tx)
        .await?;
    let mut pending = Vec::new();
    if current == Some(track_id) {
        pending.extend(playback::advance(state, &mut tx, room_id).await?);
    }
    sqlx::query("DELETE FROM tracks WHERE id = $1")
        .bind(track_id)
        .execute(&mut *tx)
        .await?;
    pending.push(
        events::stamp(
            &mut tx,
            room_id,
            "track.removed",
            json!({ "track_id": track_id, "track": { "id": track_id } }),
        )
        .await?,
    );
    tx.commit().await?;
    state.publish(pending).await;
    remove_if_unreferenced(state, &found.file_path).await;
    Ok(Reply::data("Track removed", Value::Null))
}

/// `GET /tracks/{id}/stream`: 302 to the signed edge URL. `<audio src>`
/// cannot send headers, so the token may come as `?token=`.
#[handler]
pub async fn stream_track(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, true).await?;
    let state = state(depot)?;
    let track_id = uuid_param(req, "track")?;
    let found = track(&state.db, track_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Track not found".into()))?;
    require_participant(state, found.room_id, caller.id()).await?;
    if state.config.stream_x_accel {
        return Ok(Reply::x_accel(storage::internal_path(&state.config, &found.file_path)));
    }
    Ok(Reply::redirect(storage::file_url(&state.config, &found.file_path)))
}
