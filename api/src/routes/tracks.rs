//! The queue of a room: list, upload, remove, and the audio stream redirect.

use crate::domain::models::Track;
use crate::http::error::{ApiError, ApiResult};
use crate::http::path::{RoomId, TrackId};
use crate::http::reply::{Fields, Nothing, Raw, Reply};
use crate::services::access::{require, require_member, require_participant};
use crate::services::caller::Caller;
use crate::services::playback::{self, Transition};
use crate::services::sessions::authenticate;
use crate::state::from_depot;
use crate::state::AppState;
use crate::store::events;
use crate::store::events::EventName;
use crate::store::records;
use crate::views::to_value;
use crate::views::tracks::TrackView;
use crate::{files::storage, files::upload, routes::covers, store::queue};
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::Serialize;
use uuid::Uuid;

/// A room's queue (`TrackQueue.vue`, `stores/track.js`), both at the top level.
#[derive(Serialize, ToSchema)]
pub struct Queue {
    total_count: usize,
    tracks: Vec<TrackView>,
}

/// The queue, by votes then upload time, with the caller's own votes.
#[endpoint(tags("tracks"))]
pub async fn list_queue(caller: Caller, room: RoomId) -> ApiResult<Fields<Queue>> {
    let state = &caller.state;
    let room_id = room.0;
    // One round trip to PostgreSQL (the room's event number, membership and
    // the caller's votes) and one to Redis for the queue itself.
    let asked = std::time::Instant::now();
    let viewer = records::queue_viewer(&state.db, room_id, caller.id()).await?;
    crate::services::access::admit(state, room_id, caller.id(), viewer.as_ref().map(|v| v.1), asked)?;
    let (seq, _, voted) = viewer.ok_or_else(crate::store::records::room_not_found)?;
    let voted: std::collections::HashSet<_> = voted.into_iter().collect();
    let tracks = queue::load(&state.db, &state.cache, state.config.cache_ttl_tracks, room_id, seq).await?;
    let list: Vec<_> = tracks
        .iter()
        .map(|t| storage::playable_view(&state.config, t, voted.contains(&t.id)))
        .collect();
    Ok(Fields::new(
        "Queue",
        Queue {
            total_count: list.len(),
            tracks: list,
        },
    ))
}

/// The `genre_id` of an upload: one of the genres, or none.
async fn genre_of(state: &AppState, raw: Option<&str>) -> ApiResult<Option<i64>> {
    let Some(raw) = raw else { return Ok(None) };
    let invalid = || ApiError::field("genre_id", "The selected genre is invalid.");
    let id: i64 = raw.trim().parse().map_err(|_| invalid())?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM genres WHERE id = $1)")
        .bind(id)
        .fetch_one(&state.db)
        .await?;
    exists.then_some(Some(id)).ok_or_else(invalid)
}

/// What a stored upload is made of, besides the audio itself.
struct NewTrack<'a> {
    room_id: uuid::Uuid,
    uploader: uuid::Uuid,
    relative: &'a str,
    original_name: &'a str,
    sha256: &'a str,
    size: u64,
    audio: &'a spotik_probe::Audio,
    genre_id: Option<i64>,
    cover_path: Option<&'a str>,
}

/// The form an upload is (`FileUpload.vue`).
#[derive(ToSchema)]
#[allow(dead_code)] // read by the multipart reader, named here for the document
struct UploadForm {
    /// MP3, WAV, M4A or OGG, checked by reading it (at most `UPLOAD_MAX_BYTES`).
    #[salvo(schema(value_type = String, format = Binary))]
    audio_file: Vec<u8>,
    genre_id: Option<i64>,
    /// JPEG, PNG or WebP (at most `COVER_MAX_BYTES`).
    #[salvo(schema(value_type = Option<String>, format = Binary))]
    cover_image: Option<Vec<u8>>,
}

/// What an upload answers: the track, under both names the front end reads.
#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    track: TrackView,
    data: TrackView,
}

/// Adds a track to a room's queue (participants only); an idle room starts playing it.
#[endpoint(tags("tracks"), request_body(content = UploadForm, content_type = "multipart/form-data"))]
pub async fn upload_track(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Fields<Uploaded, 201>> {
    let state = std::sync::Arc::clone(&caller.state);
    let room_id = room.0;
    let room = require_participant(&state, room_id, caller.id()).await?;
    crate::routes::moderation::refuse_if_muted(&state, room_id, caller.id()).await?;
    // Refused before a byte of the file is read; counted again as it is added.
    let mut conn = state.db.acquire().await?;
    crate::store::quota::queue_room_for(&mut conn, room_id, caller.id(), room.queue_limit_per_user).await?;
    drop(conn);
    let _slot = state.uploads.take(caller.id())?;
    let limits = upload::FormLimits::new(
        &state.config,
        state.config.upload_max_bytes,
        state.config.cover_max_bytes,
    );
    let form = upload::receive_form(req, &storage::temp_dir(&state.config), limits).await?;
    let genre_id = genre_of(&state, form.field("genre_id")).await?;
    let received = form
        .audio
        .ok_or_else(|| ApiError::field("audio_file", "The audio file field is required."))?;
    let path = received.path.clone();
    let audio = state
        .prober
        .probe(&path)
        .await
        .map_err(|rejected| ApiError::field("audio_file", rejected.0))?;
    let cover = match form.cover.filter(|c| c.size > 0) {
        Some(cover) => Some(covers::stage(cover, "cover_image").await?),
        None => None,
    };
    let relative = storage::content_path(&received.sha256, audio.extension);
    let new_track = NewTrack {
        room_id,
        uploader: caller.id(),
        relative: &relative,
        original_name: &received.original_name,
        sha256: &received.sha256,
        size: received.size,
        audio: &audio,
        genre_id,
        cover_path: cover.as_ref().map(|c| c.relative.as_str()),
    };
    let staged = Staged {
        audio: &received.path,
        cover: cover.as_ref().map(|c| c.temp.as_path()),
    };
    let (track, pending) = match store_track(&state, new_track, staged).await {
        Ok(stored) => stored,
        Err(error) => {
            // Nothing is left behind: a file published for a row that was
            // not committed goes (unless another row uses it).
            storage::remove_if_unreferenced(&state.db, &state.config, &relative).await;
            if let Some(cover) = &cover {
                storage::remove_if_unreferenced(&state.db, &state.config, &cover.relative).await;
            }
            return Err(error);
        }
    };
    // Published (renamed into place): nothing of the upload to remove.
    received.keep();
    state.publish(pending).await;
    let view = storage::playable_view(&state.config, &track, false);
    Ok(Fields::new(
        "Track uploaded",
        Uploaded {
            data: view.clone(),
            track: view,
        },
    ))
}

/// Inserts the row and, if the room is idle, starts it — atomically, so two
/// uploads into an idle room cannot both start playback.
/// The temporary files of an upload, published by [`store_track`].
struct Staged<'a> {
    audio: &'a std::path::Path,
    cover: Option<&'a std::path::Path>,
}

async fn store_track(
    state: &AppState,
    new: NewTrack<'_>,
    staged: Staged<'_>,
) -> ApiResult<(Track, Vec<events::Pending>)> {
    let mut tx = state.db.begin().await?;
    let limit: Option<i32> = sqlx::query_scalar("SELECT queue_limit_per_user FROM rooms WHERE id = $1")
        .bind(new.room_id)
        .fetch_one(&mut *tx)
        .await?;
    crate::store::quota::queue_room_for(&mut tx, new.room_id, new.uploader, limit).await?;
    // Published under their paths' locks, held until the row is committed.
    storage::publish_locked(&mut tx, &state.config, staged.audio, new.relative).await?;
    if let (Some(temp), Some(relative)) = (staged.cover, new.cover_path) {
        storage::publish_locked(&mut tx, &state.config, temp, relative).await?;
    }
    let id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO tracks (room_id, uploader_id, filename, original_name, file_path, duration_ms, file_size_bytes, \
         mime_type, content_sha256, genre_id, cover_path) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(new.room_id)
    .bind(new.uploader)
    .bind(new.relative.rsplit('/').next().unwrap_or(new.relative))
    .bind(new.original_name)
    .bind(new.relative)
    .bind(new.audio.duration_ms)
    .bind(new.size as i64)
    .bind(new.audio.mime_type)
    .bind(new.sha256)
    .bind(new.genre_id)
    .bind(new.cover_path)
    .fetch_one(&mut *tx)
    .await?;
    let track = records::track(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::internal("inserted track vanished"))?;
    let mut pending = vec![
        events::stamp(
            &mut tx,
            new.room_id,
            EventName::TrackAdded,
            to_value(&Added {
                track: storage::playable_view(&state.config, &track, false),
            }),
        )
        .await?,
    ];
    let started = sqlx::query(
        "UPDATE rooms SET current_track_id = $2, is_playing = true, playback_started_at = now(), playback_paused_at = NULL, \
         session_started_at = now(), updated_at = now() \
         WHERE id = $1 AND current_track_id IS NULL",
    )
    .bind(new.room_id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if started.rows_affected() == 1 {
        pending.push(playback::announce(state, &mut tx, new.room_id, Transition::Started).await?);
    } else if crate::store::autofill::current_is_autofill(&mut tx, new.room_id).await? {
        // What plays only because the queue ran dry gives way at once.
        let ending = crate::store::history::Ending::Replaced;
        pending.extend(playback::advance(state, &mut tx, new.room_id, ending).await?);
    }
    tx.commit().await?;
    Ok((track, pending))
}

/// The `track.uploaded` event.
#[derive(Serialize)]
struct Added {
    track: TrackView,
}

/// The `track.removed` event (`TrackRemoved` by class name for laravel-echo).
#[derive(Serialize)]
struct Removed {
    track_id: Uuid,
    track: RemovedTrack,
}

#[derive(Serialize)]
struct RemovedTrack {
    id: Uuid,
}

/// Removes a track (its uploader or the room's administrator); removing the
/// current one moves the room on.
#[endpoint(tags("tracks"))]
pub async fn remove_track(caller: Caller, room: RoomId, track: TrackId) -> ApiResult<Reply<Nothing>> {
    let state = &caller.state;
    let room_id = room.0;
    let track_id = track.0;
    let room = require(&state.db, room_id).await?;
    let found = records::track(&state.db, track_id)
        .await?
        .filter(|t| t.room_id == room_id)
        .ok_or_else(|| ApiError::NotFound("Track not found".into()))?;
    let moderating = found.uploader_id != caller.id();
    if moderating
        && room.administrator_id != caller.id()
        && !crate::services::access::is_moderator(&state.db, room_id, caller.id()).await?
    {
        return Err(ApiError::Forbidden(
            "Only the uploader or the room's moderators can remove this track".into(),
        ));
    }
    let mut tx = state.db.begin().await?;
    if moderating {
        let actor = (caller.id(), caller.user.username.as_str());
        let action = crate::store::moderation_log::Action::TrackRemoved;
        crate::store::moderation_log::write(&mut tx, room_id, actor, action, &found.original_name, None).await?;
    }
    // Removing what is playing moves the room on first, as a skip would;
    // otherwise the room would stay "playing" with no track.
    let current: Option<uuid::Uuid> = sqlx::query_scalar("SELECT current_track_id FROM rooms WHERE id = $1 FOR UPDATE")
        .bind(room_id)
        .fetch_one(&mut *tx)
        .await?;
    let mut pending = Vec::new();
    if current == Some(track_id) {
        pending.extend(playback::advance(state, &mut tx, room_id, crate::store::history::Ending::Removed).await?);
    }
    sqlx::query("DELETE FROM tracks WHERE id = $1")
        .bind(track_id)
        .execute(&mut *tx)
        .await?;
    pending.push(
        events::stamp(
            &mut tx,
            room_id,
            EventName::TrackRemoved,
            to_value(&Removed {
                track_id,
                track: RemovedTrack { id: track_id },
            }),
        )
        .await?,
    );
    tx.commit().await?;
    state.publish(pending).await;
    storage::remove_if_unreferenced(&state.db, &state.config, &found.file_path).await;
    if let Some(cover) = &found.cover_path {
        storage::remove_if_unreferenced(&state.db, &state.config, cover).await;
    }
    Ok(Reply::data("Track removed", Nothing))
}

/// `GET /tracks?search=…[&genre_id=…][&limit=…]` (`TrackSearch.vue`): tracks
/// of the caller's rooms whose name contains the text, best first.
#[endpoint(
    tags("tracks"),
    parameters(
        ("search" = Option<String>, Query, description = "Text in the track's name (at most 100 characters)"),
        ("q" = Option<String>, Query, description = "The same as `search`"),
        ("genre_id" = Option<i64>, Query),
        ("limit" = Option<i64>, Query, description = "1 to 50, 20 by default"),
    )
)]
pub async fn search_tracks(caller: Caller, req: &mut Request) -> ApiResult<Reply<Vec<TrackView>>> {
    let state = &caller.state;
    let text = req
        .query::<String>("search")
        .or_else(|| req.query::<String>("q"))
        .unwrap_or_default();
    let text = text.trim();
    if text.chars().count() > 100 {
        return Err(ApiError::field(
            "search",
            "The search may not be longer than 100 characters.",
        ));
    }
    let genre = match req.query::<String>("genre_id").filter(|g| !g.is_empty()) {
        Some(raw) => Some(
            raw.parse::<i64>()
                .map_err(|_| ApiError::field("genre_id", "The selected genre is invalid."))?,
        ),
        None => None,
    };
    let limit = match req.query::<String>("limit") {
        Some(raw) => raw
            .parse::<i64>()
            .map_err(|_| ApiError::field("limit", "The limit must be a whole number."))?,
        None => 20,
    }
    .clamp(1, 50);
    if text.is_empty() && genre.is_none() {
        return Ok(Reply::data("Tracks", Vec::new()));
    }
    let found = records::search_tracks(&state.db, caller.id(), text, genre, limit).await?;
    let ids: Vec<_> = found.iter().map(|t| t.id).collect();
    let voted = queue::voted_by(&state.db, caller.id(), &ids).await?;
    let list: Vec<_> = found
        .iter()
        .map(|t| storage::playable_view(&state.config, t, voted.contains(&t.id)))
        .collect();
    Ok(Reply::data("Tracks", list))
}

/// `GET /tracks/{id}/stream`: 302 to the signed edge URL. `<audio src>`
/// cannot send headers, so the token may come as `?token=`.
#[endpoint(
    tags("tracks"),
    security(("bearer" = [])),
    parameters(("token" = Option<String>, Query, description = "The bearer token, for `<audio src>`"))
)]
pub async fn stream_track(req: &mut Request, depot: &mut Depot, track: TrackId) -> ApiResult<Raw> {
    let caller = authenticate(req, depot, true).await?;
    let state = from_depot(depot)?;
    let track_id = track.0;
    let found = records::track(&state.db, track_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Track not found".into()))?;
    require_member(state, found.room_id, caller.id()).await?;
    if state.config.stream_x_accel {
        return Ok(Raw::x_accel(storage::internal_path(&state.config, &found.file_path)));
    }
    Ok(Raw::redirect(storage::file_url(&state.config, &found.file_path)))
}

/// `/api/tracks`: search, and a track's audio.
pub fn router() -> Router {
    Router::with_path("tracks")
        .get(search_tracks)
        .push(Router::with_path("{track}/stream").get(stream_track))
}

/// Under `/api/rooms/{room}/tracks`: the queue and an upload.
pub fn in_room() -> Router {
    Router::new().get(list_queue).post(upload_track)
}

/// Under `/api/rooms/{room}/tracks/{track}`.
pub fn in_track() -> Router {
    Router::new().delete(remove_track)
}
