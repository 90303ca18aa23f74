//! Genres: the upload form's dropdown (`FileUpload.vue`), the badge on each
//! queued track (`TrackQueue.vue`), and the search filter.
//!
//! Anyone may add a genre; only whoever added it may rename or delete it,
//! and the ten built-in ones (no creator) are fixed — the old backend let
//! any user rename or delete any genre. A genre tracks still use cannot be
//! deleted (`409`).

use crate::domain::failure::{Failure, FieldErrors};
use crate::http::error::{ApiError, ApiResult};
use crate::http::path::GenreId;
use crate::http::reply::{Created, Nothing, Reply};
use crate::http::request::json_body;
use crate::services::caller::Caller;
use chrono::{DateTime, Utc};
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use uuid::Uuid;

#[derive(Debug, FromRow)]
struct Genre {
    id: i64,
    name: String,
    description: Option<String>,
    color: String,
    created_by: Option<Uuid>,
    tracks_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A genre as the front end reads it (`id`, `name`, `color`, `tracks_count`).
#[derive(Serialize, ToSchema)]
pub struct GenreView {
    id: i64,
    name: String,
    description: Option<String>,
    color: String,
    tracks_count: i64,
    /// Whether the viewer may rename or delete it.
    is_owner: bool,
    is_builtin: bool,
    created_at: String,
    updated_at: String,
}

impl Genre {
    fn view(&self, viewer: Uuid) -> GenreView {
        GenreView {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            color: self.color.clone(),
            tracks_count: self.tracks_count,
            is_owner: self.created_by == Some(viewer),
            is_builtin: self.created_by.is_none(),
            created_at: crate::views::iso(self.created_at),
            updated_at: crate::views::iso(self.updated_at),
        }
    }
}

const GENRE_SELECT: &str = "SELECT g.id, g.name, g.description, g.color, g.created_by, \
     (SELECT count(*) FROM tracks t WHERE t.genre_id = g.id) AS tracks_count, g.created_at, g.updated_at FROM genres g";

async fn find(db: &sqlx::PgPool, id: i64) -> ApiResult<Genre> {
    sqlx::query_as::<_, Genre>(&format!("{GENRE_SELECT} WHERE g.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| ApiError::NotFound("Genre not found".into()))
}

/// Every genre, by name.
#[endpoint(tags("genres"), operation_id = "list_genres")]
pub async fn list(caller: Caller) -> ApiResult<Reply<Vec<GenreView>>> {
    let state = &caller.state;
    let genres = sqlx::query_as::<_, Genre>(&format!("{GENRE_SELECT} ORDER BY lower(g.name)"))
        .fetch_all(&state.db)
        .await?;
    let views: Vec<_> = genres.iter().map(|g| g.view(caller.id())).collect();
    Ok(Reply::data("Genres", views))
}

/// `GET /genres/popular?limit=10`: the most used first.
#[endpoint(
    tags("genres"),
    operation_id = "popular_genres",
    parameters(("limit" = Option<i64>, Query, description = "How many, 1 to 100 (10 by default)"))
)]
pub async fn popular(caller: Caller, req: &mut Request) -> ApiResult<Reply<Vec<GenreView>>> {
    let state = &caller.state;
    let limit = match req.query::<String>("limit").filter(|l| !l.is_empty()) {
        None => 10,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::field("limit", "The limit must be a whole number from 1 to 100."))?,
    };
    let genres = sqlx::query_as::<_, Genre>(&format!(
        "{GENRE_SELECT} ORDER BY tracks_count DESC, lower(g.name) LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&state.db)
    .await?;
    let views: Vec<_> = genres.iter().map(|g| g.view(caller.id())).collect();
    Ok(Reply::data("Popular genres", views))
}

#[endpoint(tags("genres"), operation_id = "show_genre")]
pub async fn show(caller: Caller, genre: GenreId) -> ApiResult<Reply<GenreView>> {
    let state = &caller.state;
    let genre = find(&state.db, genre.0).await?;
    Ok(Reply::data("Genre", genre.view(caller.id())))
}

#[derive(Deserialize, ToSchema)]
struct GenreFields {
    name: Option<String>,
    description: Option<String>,
    color: Option<String>,
}

/// The fields, checked; `None` where the request leaves one unchanged.
struct Valid {
    name: Option<String>,
    description: Option<String>,
    color: Option<String>,
}

fn validate(fields: GenreFields) -> ApiResult<Valid> {
    let mut errors = FieldErrors::default();
    let name = fields.name.map(|n| n.trim().to_owned());
    if name.as_ref().is_some_and(|n| n.is_empty() || n.chars().count() > 100) {
        errors.add("name", "The name must be between 1 and 100 characters.");
    }
    let description = fields.description.map(|d| d.trim().to_owned());
    if description.as_ref().is_some_and(|d| d.chars().count() > 500) {
        errors.add("description", "The description may not be longer than 500 characters.");
    }
    for (field, text, check) in [
        (
            "name",
            name.as_deref(),
            crate::domain::text::name as fn(&str, &str) -> Result<(), Failure>,
        ),
        ("description", description.as_deref(), crate::domain::text::description),
    ] {
        if let Some(Err(Failure::Invalid(refused))) = text.map(|t| check(field, t)) {
            errors.extend(refused);
        }
    }
    let color = fields.color.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    let is_hex = |c: &str| c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if color.as_deref().is_some_and(|c| !is_hex(c)) {
        errors.add("color", "The color must look like #a1b2c3.");
    }
    errors.into_result()?;
    Ok(Valid {
        name,
        description,
        color,
    })
}

/// A unique-name violation as the field error it is.
fn taken(error: sqlx::Error) -> ApiError {
    match &error {
        sqlx::Error::Database(db) if db.constraint() == Some("idx_genres_name") => {
            ApiError::field("name", "The name has already been taken.")
        }
        _ => error.into(),
    }
}

/// Adds a genre; its creator alone may change it.
#[endpoint(tags("genres"), operation_id = "create_genre", request_body = GenreFields)]
pub async fn create(caller: Caller, req: &mut Request) -> ApiResult<Created<GenreView>> {
    let state = &caller.state;
    let valid = validate(json_body(req).await?)?;
    let Some(name) = valid.name else {
        return Err(ApiError::field("name", "The name field is required."));
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO genres (name, description, color, created_by) VALUES ($1, $2, COALESCE($3, '#6366f1'), $4) RETURNING id",
    )
    .bind(&name)
    .bind(valid.description.filter(|d| !d.is_empty()))
    .bind(valid.color)
    .bind(caller.id())
    .fetch_one(&state.db)
    .await
    .map_err(taken)?;
    let genre = find(&state.db, id).await?;
    Ok(Reply::created("Genre created", genre.view(caller.id())))
}

/// The genre, if `user` may change it.
async fn owned(db: &sqlx::PgPool, id: i64, user: Uuid) -> ApiResult<Genre> {
    let genre = find(db, id).await?;
    match genre.created_by {
        None => Err(ApiError::Forbidden("Built-in genres cannot be changed".into())),
        Some(owner) if owner != user => Err(ApiError::Forbidden(
            "Only the user who added this genre can change it".into(),
        )),
        Some(_) => Ok(genre),
    }
}

/// Renames or recolours a genre its caller added.
#[endpoint(tags("genres"), operation_id = "update_genre", request_body = GenreFields)]
pub async fn update(caller: Caller, req: &mut Request, genre: GenreId) -> ApiResult<Reply<GenreView>> {
    let state = &caller.state;
    let id = genre.0;
    owned(&state.db, id, caller.id()).await?;
    let valid = validate(json_body(req).await?)?;
    sqlx::query(
        "UPDATE genres SET name = COALESCE($2, name), \
         description = CASE WHEN $3::text IS NULL THEN description ELSE NULLIF($3, '') END, \
         color = COALESCE($4, color), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(valid.name)
    .bind(valid.description)
    .bind(valid.color)
    .execute(&state.db)
    .await
    .map_err(taken)?;
    let genre = find(&state.db, id).await?;
    Ok(Reply::data("Genre updated", genre.view(caller.id())))
}

/// Deletes a genre its caller added and no track uses (409 otherwise).
#[endpoint(tags("genres"), operation_id = "delete_genre")]
pub async fn delete(caller: Caller, genre: GenreId) -> ApiResult<Reply<Nothing>> {
    let state = &caller.state;
    let id = genre.0;
    owned(&state.db, id, caller.id()).await?;
    // One statement, so a track tagged meanwhile cannot slip through.
    let deleted =
        sqlx::query("DELETE FROM genres WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM tracks WHERE genre_id = $1)")
            .bind(id)
            .execute(&state.db)
            .await?;
    if deleted.rows_affected() == 0 {
        return Err(ApiError::Conflict(
            "Tracks still use this genre, so it cannot be deleted".into(),
        ));
    }
    Ok(Reply::data("Genre deleted", Nothing))
}

/// `/api/genres`.
pub fn router() -> Router {
    Router::with_path("genres")
        .get(list)
        .post(create)
        .push(Router::with_path("popular").get(popular))
        .push(Router::with_path("{genre}").get(show).put(update).delete(delete))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any genre body: accepted only within the limits the columns check.
        #[test]
        fn any_genre_body_is_judged(
            name in proptest::option::of(".{0,120}"),
            description in proptest::option::of(".{0,520}"),
            color in proptest::option::of("#?[0-9a-fA-Fxyz]{0,8}"),
        ) {
            if let Ok(valid) = validate(GenreFields { name, description, color }) {
                prop_assert!(valid.name.is_none_or(|n| (1..=100).contains(&n.chars().count())));
                prop_assert!(valid.description.is_none_or(|d| d.chars().count() <= 500));
                prop_assert!(valid.color.is_none_or(|c| c.len() == 7 && c.starts_with('#')));
            }
        }
    }
}
