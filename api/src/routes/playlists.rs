//! Playlists: a user's own lists of tracks, private or public
//! (`PlaylistManager.vue`, `PlaylistDetail.vue`, `AddToPlaylistModal.vue`,
//! `stores/playlist.js`).
//!
//! Only the owner changes a playlist. A track can be added only from a room
//! the owner takes part in — the old backend accepted any track id, so a
//! public playlist could expose the tracks of rooms its readers could not
//! enter. Playlist entries carry no audio URL: hearing a track still takes
//! being in its room.

use crate::domain::failure::{Failure, FieldErrors};
use crate::http::error::{ApiError, ApiResult};
use crate::http::page::{Listed, Page};
use crate::http::path::{PlaylistId, TrackId};
use crate::http::reply::{Created, Fields, Nothing, Reply};
use crate::http::request::json_body;
use crate::services::caller::Caller;
use crate::state::AppState;
use crate::store::quota;
use crate::views::iso;
use crate::views::tracks::GenreRef;
use crate::views::users::UserRef;
use chrono::{DateTime, Utc};
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, FromRow)]
struct Playlist {
    id: i64,
    user_id: Uuid,
    owner_username: String,
    name: String,
    description: Option<String>,
    is_public: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const PLAYLIST_SELECT: &str = "SELECT p.id, p.user_id, u.username AS owner_username, p.name, p.description, \
     p.is_public, p.created_at, p.updated_at FROM playlists p JOIN users u ON u.id = p.user_id";

#[derive(Debug, FromRow)]
struct Entry {
    playlist_id: i64,
    position: i32,
    added_at: DateTime<Utc>,
    id: Uuid,
    room_id: Uuid,
    original_name: String,
    duration_ms: i64,
    uploader_id: Uuid,
    uploader_username: String,
    genre_id: Option<i64>,
    genre_name: Option<String>,
    genre_color: Option<String>,
    cover_path: Option<String>,
}

/// A track in a playlist: what the pages show of it, no audio URL.
#[derive(Serialize, ToSchema)]
pub struct EntryView {
    id: Uuid,
    room_id: Uuid,
    original_name: String,
    duration_seconds: i64,
    duration_ms: i64,
    uploader: UserRef,
    genre: Option<GenreRef>,
    cover_url: Option<String>,
    position: i32,
    added_at: String,
}

impl Entry {
    fn view(&self, api_url: &str) -> EntryView {
        let genre = GenreRef::of(self.genre_id, &self.genre_name, &self.genre_color);
        EntryView {
            id: self.id,
            room_id: self.room_id,
            original_name: self.original_name.clone(),
            duration_seconds: crate::domain::models::whole_seconds(self.duration_ms),
            duration_ms: self.duration_ms,
            uploader: UserRef {
                id: self.uploader_id,
                username: self.uploader_username.clone(),
            },
            genre,
            cover_url: crate::views::cover_url(api_url, self.cover_path.as_deref()),
            position: self.position,
            added_at: iso(self.added_at),
        }
    }
}

/// A playlist as the front end reads it: `creator`/`user` for "Created by",
/// `tracks`, `tracks_count`, `total_duration` (seconds), `is_owner`.
#[derive(Serialize, ToSchema)]
pub struct PlaylistView {
    id: i64,
    name: String,
    description: Option<String>,
    is_public: bool,
    is_owner: bool,
    user: UserRef,
    creator: UserRef,
    tracks: Vec<EntryView>,
    tracks_count: usize,
    total_duration: i64,
    created_at: String,
    updated_at: String,
}

impl Playlist {
    fn view(&self, api_url: &str, entries: &[Entry], viewer: Uuid) -> PlaylistView {
        let owner = UserRef {
            id: self.user_id,
            username: self.owner_username.clone(),
        };
        PlaylistView {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            is_public: self.is_public,
            is_owner: self.user_id == viewer,
            user: owner.clone(),
            creator: owner,
            tracks: entries.iter().map(|e| e.view(api_url)).collect(),
            tracks_count: entries.len(),
            total_duration: entries.iter().map(|e| e.duration_ms).sum::<i64>() / 1000,
            created_at: iso(self.created_at),
            updated_at: iso(self.updated_at),
        }
    }
}

/// The entries of `playlists`, in one query, grouped by playlist in order.
async fn entries(db: &PgPool, playlists: &[i64]) -> Result<HashMap<i64, Vec<Entry>>, sqlx::Error> {
    let rows = sqlx::query_as::<_, Entry>(
        "SELECT pt.playlist_id, pt.position, pt.created_at AS added_at, t.id, t.room_id, t.original_name, \
         t.duration_ms, t.uploader_id, u.username AS uploader_username, t.genre_id, g.name AS genre_name, \
         g.color AS genre_color, t.cover_path \
         FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id JOIN users u ON u.id = t.uploader_id \
         LEFT JOIN genres g ON g.id = t.genre_id \
         WHERE pt.playlist_id = ANY($1) ORDER BY pt.playlist_id, pt.position, pt.created_at",
    )
    .bind(playlists)
    .fetch_all(db)
    .await?;
    let mut grouped: HashMap<i64, Vec<Entry>> = HashMap::new();
    for row in rows {
        grouped.entry(row.playlist_id).or_default().push(row);
    }
    Ok(grouped)
}

async fn find(db: &PgPool, id: i64) -> ApiResult<Playlist> {
    sqlx::query_as::<_, Playlist>(&format!("{PLAYLIST_SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| ApiError::NotFound("Playlist not found".into()))
}

/// The playlist, if `user` may read it (owner, or public).
async fn readable(db: &PgPool, id: i64, user: Uuid) -> ApiResult<Playlist> {
    let playlist = find(db, id).await?;
    if playlist.user_id != user && !playlist.is_public {
        return Err(ApiError::Forbidden("This playlist is private".into()));
    }
    Ok(playlist)
}

/// The playlist, if `user` owns it.
async fn owned(db: &PgPool, id: i64, user: Uuid) -> ApiResult<Playlist> {
    let playlist = find(db, id).await?;
    if playlist.user_id != user {
        return Err(ApiError::Forbidden("Only the owner can change this playlist".into()));
    }
    Ok(playlist)
}

async fn full_view(state: &AppState, playlist: &Playlist, viewer: Uuid) -> ApiResult<PlaylistView> {
    let mut grouped = entries(&state.db, &[playlist.id]).await?;
    let found = grouped.remove(&playlist.id).unwrap_or_default();
    Ok(playlist.view(&state.config.api_public_url, &found, viewer))
}

/// `GET /playlists`: the caller's own and everyone's public ones, newest first.
#[endpoint(
    tags("playlists"),
    operation_id = "list_playlists",
    parameters(("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query))
)]
pub async fn list(caller: Caller, req: &mut Request) -> ApiResult<Fields<Listed<PlaylistView>>> {
    let state = &caller.state;
    let page = Page::from_query(req, 50)?;
    let playlists = sqlx::query_as::<_, Playlist>(&format!(
        "{PLAYLIST_SELECT} WHERE p.user_id = $1 OR p.is_public ORDER BY p.created_at DESC, p.id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(caller.id())
    .bind(page.per_page)
    .bind(page.offset())
    .fetch_all(&state.db)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM playlists WHERE user_id = $1 OR is_public")
        .bind(caller.id())
        .fetch_one(&state.db)
        .await?;
    let ids: Vec<i64> = playlists.iter().map(|p| p.id).collect();
    let grouped = entries(&state.db, &ids).await?;
    let data: Vec<_> = playlists
        .iter()
        .map(|p| {
            p.view(
                &state.config.api_public_url,
                grouped.get(&p.id).map_or(&[][..], Vec::as_slice),
                caller.id(),
            )
        })
        .collect();
    Ok(Fields::new(
        "Playlists",
        Listed {
            data,
            pagination: page.describe(total),
        },
    ))
}

#[derive(Deserialize, ToSchema)]
struct PlaylistFields {
    name: Option<String>,
    description: Option<String>,
    is_public: Option<bool>,
}

fn validate(fields: &PlaylistFields, creating: bool) -> ApiResult<()> {
    let mut errors = FieldErrors::default();
    match fields.name.as_deref().map(str::trim) {
        None if creating => {
            errors.add("name", "The name field is required.");
        }
        Some(name) if name.is_empty() || name.chars().count() > 100 => {
            errors.add("name", "The name must be between 1 and 100 characters.");
        }
        _ => {}
    }
    for (field, text, check) in [
        (
            "name",
            fields.name.as_deref(),
            crate::domain::text::name as fn(&str, &str) -> Result<(), Failure>,
        ),
        (
            "description",
            fields.description.as_deref(),
            crate::domain::text::description,
        ),
    ] {
        if let Some(Err(Failure::Invalid(refused))) = text.map(|t| check(field, t)) {
            errors.extend(refused);
        }
    }
    if fields.description.as_deref().is_some_and(|d| d.chars().count() > 1000) {
        errors.add("description", "The description may not be longer than 1000 characters.");
    }
    Ok(errors.into_result()?)
}

#[endpoint(tags("playlists"), operation_id = "create_playlist", request_body = PlaylistFields)]
pub async fn create(caller: Caller, req: &mut Request) -> ApiResult<Created<PlaylistView>> {
    let state = &caller.state;
    let fields: PlaylistFields = json_body(req).await?;
    validate(&fields, true)?;
    let mut tx = state.db.begin().await?;
    let limit = state.config.quotas.playlists_per_user;
    quota::room_for_one_more(&mut tx, quota::Held::Playlists, caller.id(), limit).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO playlists (user_id, name, description, is_public) VALUES ($1, $2, NULLIF($3, ''), $4) RETURNING id",
    )
    .bind(caller.id())
    .bind(fields.name.as_deref().map(str::trim))
    .bind(fields.description.as_deref().map(str::trim))
    .bind(fields.is_public.unwrap_or(false))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let playlist = find(&state.db, id).await?;
    Ok(Reply::created(
        "Playlist created",
        full_view(state, &playlist, caller.id()).await?,
    ))
}

/// A playlist its caller owns, or a public one.
#[endpoint(tags("playlists"), operation_id = "show_playlist")]
pub async fn show(caller: Caller, playlist: PlaylistId) -> ApiResult<Reply<PlaylistView>> {
    let state = &caller.state;
    let playlist = readable(&state.db, playlist.0, caller.id()).await?;
    Ok(Reply::data("Playlist", full_view(state, &playlist, caller.id()).await?))
}

#[endpoint(tags("playlists"), operation_id = "update_playlist", request_body = PlaylistFields)]
pub async fn update(caller: Caller, req: &mut Request, playlist: PlaylistId) -> ApiResult<Reply<PlaylistView>> {
    let state = &caller.state;
    let id = playlist.0;
    owned(&state.db, id, caller.id()).await?;
    let fields: PlaylistFields = json_body(req).await?;
    validate(&fields, false)?;
    sqlx::query(
        "UPDATE playlists SET name = COALESCE($2, name), \
         description = CASE WHEN $3::text IS NULL THEN description ELSE NULLIF($3, '') END, \
         is_public = COALESCE($4, is_public), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(fields.name.as_deref().map(str::trim))
    .bind(fields.description.as_deref().map(str::trim))
    .bind(fields.is_public)
    .execute(&state.db)
    .await?;
    let playlist = find(&state.db, id).await?;
    Ok(Reply::data(
        "Playlist updated",
        full_view(state, &playlist, caller.id()).await?,
    ))
}

#[endpoint(tags("playlists"), operation_id = "delete_playlist")]
pub async fn delete(caller: Caller, playlist: PlaylistId) -> ApiResult<Reply<Nothing>> {
    let state = &caller.state;
    let id = playlist.0;
    owned(&state.db, id, caller.id()).await?;
    sqlx::query("DELETE FROM playlists WHERE id = $1")
        .bind(id)
        .execute(&state.db)
        .await?;
    Ok(Reply::data("Playlist deleted", Nothing))
}

#[derive(Deserialize, ToSchema)]
struct NewEntry {
    track_id: Option<String>,
    position: Option<i64>,
}

/// The track and the position asked for, each checked.
fn validate_entry(entry: NewEntry) -> ApiResult<(Uuid, Option<i64>)> {
    let track_id = entry
        .track_id
        .as_deref()
        .and_then(|raw| Uuid::parse_str(raw.trim()).ok())
        .ok_or_else(|| ApiError::field("track_id", "The selected track id is invalid."))?;
    if entry.position.is_some_and(|p| !(0..=MAX_POSITION).contains(&p)) {
        return Err(ApiError::field("position", "The position must be 0 or more."));
    }
    Ok((track_id, entry.position))
}

/// A playlist longer than this is not one a person listens through.
const MAX_POSITION: i64 = 100_000;

/// `POST /playlists/{id}/tracks` `{track_id, position?}`: at `position`
/// (later entries move down one), or at the end.
#[endpoint(tags("playlists"), operation_id = "add_playlist_track", request_body = NewEntry)]
pub async fn add_track(caller: Caller, req: &mut Request, playlist: PlaylistId) -> ApiResult<Reply<PlaylistView>> {
    let state = &caller.state;
    let id = playlist.0;
    owned(&state.db, id, caller.id()).await?;
    let (track_id, position) = validate_entry(json_body(req).await?)?;
    let mut tx = state.db.begin().await?;
    // Serialises changes to one playlist, so positions stay a sequence.
    sqlx::query("SELECT 1 FROM playlists WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let reachable: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM tracks t JOIN room_participants p ON p.room_id = t.room_id \
         WHERE t.id = $1 AND p.user_id = $2)",
    )
    .bind(track_id)
    .bind(caller.id())
    .fetch_one(&mut *tx)
    .await?;
    if !reachable {
        return Err(ApiError::field("track_id", "The selected track id is invalid."));
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM playlist_tracks WHERE playlist_id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let position = position.map_or(count, |p| p.min(count));
    let inserted = sqlx::query(
        "WITH shifted AS (UPDATE playlist_tracks SET position = position + 1 \
                          WHERE playlist_id = $1 AND position >= $3 \
                            AND NOT EXISTS (SELECT 1 FROM playlist_tracks WHERE playlist_id = $1 AND track_id = $2)) \
         INSERT INTO playlist_tracks (playlist_id, track_id, position) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(track_id)
    .bind(position as i32)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::Conflict("The track is already in this playlist".into()));
    }
    sqlx::query("UPDATE playlists SET updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let playlist = find(&state.db, id).await?;
    Ok(Reply::data(
        "Track added to the playlist",
        full_view(state, &playlist, caller.id()).await?,
    ))
}

/// `DELETE /playlists/{id}/tracks/{track}`; the entries after it move up.
#[endpoint(tags("playlists"), operation_id = "remove_playlist_track")]
pub async fn remove_track(caller: Caller, playlist: PlaylistId, track: TrackId) -> ApiResult<Reply<PlaylistView>> {
    let state = &caller.state;
    let id = playlist.0;
    owned(&state.db, id, caller.id()).await?;
    let track_id = track.0;
    let mut tx = state.db.begin().await?;
    let removed: Option<i32> =
        sqlx::query_scalar("DELETE FROM playlist_tracks WHERE playlist_id = $1 AND track_id = $2 RETURNING position")
            .bind(id)
            .bind(track_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(position) = removed else {
        return Err(ApiError::NotFound("The track is not in this playlist".into()));
    };
    sqlx::query("UPDATE playlist_tracks SET position = position - 1 WHERE playlist_id = $1 AND position > $2")
        .bind(id)
        .bind(position)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE playlists SET updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let playlist = find(&state.db, id).await?;
    Ok(Reply::data(
        "Track removed from the playlist",
        full_view(state, &playlist, caller.id()).await?,
    ))
}

/// `/api/playlists`.
pub fn router() -> Router {
    Router::with_path("playlists").get(list).post(create).push(
        Router::with_path("{playlist}")
            .get(show)
            .put(update)
            .delete(delete)
            .push(
                Router::with_path("tracks")
                    .post(add_track)
                    .push(Router::with_path("{track}").delete(remove_track)),
            ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any playlist body: accepted only within the limits the columns check.
        #[test]
        fn any_playlist_body_is_judged(
            name in proptest::option::of(".{0,120}"),
            description in proptest::option::of(".{0,1100}"),
            creating in any::<bool>(),
        ) {
            let fields = PlaylistFields { name, description, is_public: None };
            if validate(&fields, creating).is_ok() {
                prop_assert!(!creating || fields.name.is_some());
                prop_assert!(fields.name.as_deref().is_none_or(|n| (1..=100).contains(&n.trim().chars().count())));
                prop_assert!(fields.description.as_deref().is_none_or(|d| d.chars().count() <= 1000));
            }
        }

        /// Any body for adding a track: a real id and a position in range,
        /// or a 422 naming the field.
        #[test]
        fn any_entry_body_is_judged(
            track_id in proptest::option::of(prop_oneof![".{0,40}", any::<u128>().prop_map(|n| format!(" {} ", Uuid::from_u128(n)))]),
            position in proptest::option::of(any::<i64>()),
        ) {
            let body = serde_json::json!({ "track_id": track_id, "position": position });
            let entry: NewEntry = serde_json::from_value(body).unwrap();
            match validate_entry(entry) {
                Ok((id, at)) => {
                    prop_assert_eq!(Some(id), track_id.as_deref().and_then(|t| Uuid::parse_str(t.trim()).ok()));
                    prop_assert!(at.is_none_or(|p| (0..=MAX_POSITION).contains(&p)));
                    prop_assert_eq!(at, position);
                }
                Err(ApiError::Validation(errors)) => prop_assert_eq!(errors.len(), 1),
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
