//! Cover images of rooms and tracks: checked to be real images, stored by
//! content like audio (`<media>/covers/<aa>/<bb>/<sha256>.<ext>`), served
//! from `/api/covers/<sha256>.<ext>` with a strong ETag and a year of
//! caching — the name is the content, so it never changes — and removed once
//! no room or track refers to them.
//!
//! Served with the type of the format found in the file and `nosniff`, so a
//! cover can never be taken for a page: the old backend stored any bytes
//! and let the browser guess, a stored-XSS hole.

use crate::auth::caller::Caller;
use crate::domain::models::RoomView;
use crate::files::image::{self, Format, Limits};
use crate::files::storage;
use crate::files::upload::{self, FormLimits};
use crate::http::error::{ApiError, ApiResult};
use crate::http::reply::Fields;
use crate::http::request::uuid_param;
use crate::routes::rooms::{announce_update, require_admin, room_view};
use crate::state::from_depot;
use crate::state::AppState;
use base64::Engine;
use salvo::http::{header, HeaderValue, StatusCode};
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Checks `bytes` and stores them under their content address; returns the
/// media-relative path. Identical covers share one file.
pub async fn stage(state: &AppState, bytes: Vec<u8>, field: &str) -> ApiResult<Staged> {
    let found = image::inspect(&bytes, Limits::default()).map_err(|rejected| ApiError::field(field, rejected.0))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let relative = format!("covers/{}", storage::content_path(&sha256, found.format.extension()));
    let temp = storage::temp_dir(&state.config).join(format!("{}.part", uuid::Uuid::new_v4()));
    let written = temp.clone();
    let held = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        if let Some(dir) = written.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::File::create(&written)?;
        // Locked, so the sweep of orphaned partial uploads leaves it alone.
        storage::hold(&file)?;
        std::io::Write::write_all(&mut file, &bytes)?;
        Ok(file)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(Staged {
        temp,
        relative,
        _held: held,
    })
}

/// A cover written to a temporary file, published by the transaction that
/// stores its row ([`storage::publish_locked`]); removed if never published.
pub struct Staged {
    pub temp: std::path::PathBuf,
    pub relative: String,
    _held: std::fs::File,
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Gone already once published (renamed, or dropped as a duplicate).
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// `cover_data`: the front end's fallback, the image as a `data:` URL in JSON.
#[derive(Deserialize, ToSchema)]
struct CoverData {
    /// `data:image/png;base64,…`
    #[serde(default)]
    cover_data: String,
}

fn decode_data_url(url: &str) -> ApiResult<Vec<u8>> {
    let invalid = || ApiError::field("cover_data", "cover_data must be a data:image/…;base64,… URL.");
    let rest = url.trim().strip_prefix("data:image/").ok_or_else(invalid)?;
    let (_, encoded) = rest.split_once(";base64,").ok_or_else(invalid)?;
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| invalid())
}

/// The cover's bytes from a multipart `cover_image` or a JSON `cover_data`.
async fn received_cover(req: &mut Request, state: &AppState) -> ApiResult<Vec<u8>> {
    let max = state.config.cover_max_bytes;
    if crate::http::request::is_multipart(req) {
        let limits = FormLimits::new(&state.config, 0, max);
        let form = upload::receive_form(req, &storage::temp_dir(&state.config), limits).await?;
        return form
            .cover
            .ok_or_else(|| ApiError::field("cover_image", "The cover image field is required."));
    }
    // Base64 is a third larger than the image it carries.
    let body = req
        .payload_with_max_size((max as usize) * 4 / 3 + 4096)
        .await
        .map_err(|_| upload::cover_too_large(max))?;
    let data: CoverData = serde_json::from_slice(body).map_err(|_| ApiError::BadRequest("Malformed JSON".into()))?;
    let bytes = decode_data_url(&data.cover_data)?;
    if bytes.len() as u64 > max {
        return Err(upload::cover_too_large(max));
    }
    Ok(bytes)
}

/// What setting a cover answers: its URL, at the top level and beside the room.
#[derive(Serialize, ToSchema)]
pub struct CoverSet {
    cover_url: Option<String>,
    data: CoverOfRoom,
}

#[derive(Serialize, ToSchema)]
pub struct CoverOfRoom {
    cover_url: Option<String>,
    room: RoomView,
}

/// What removing a cover answers.
#[derive(Serialize, ToSchema)]
pub struct CoverRemoved {
    /// Always null.
    cover_url: Option<String>,
}

/// `POST /rooms/{id}/cover` (administrator): the image as a multipart
/// `cover_image` (JPEG, PNG or WebP) or, as here, a JSON `cover_data` URL.
#[endpoint(tags("rooms"), request_body = CoverData)]
pub async fn set_room_cover(caller: Caller, req: &mut Request) -> ApiResult<Fields<CoverSet>> {
    let state = std::sync::Arc::clone(&caller.state);
    let room_id = uuid_param(req, "room")?;
    let before = require_admin(&state, room_id, caller.id()).await?;
    let bytes = received_cover(req, &state).await?;
    let field = if crate::http::request::is_multipart(req) {
        "cover_image"
    } else {
        "cover_data"
    };
    let staged = stage(&state, bytes, field).await?;
    let relative = staged.relative.clone();
    let mut tx = state.db.begin().await?;
    storage::publish_locked(&mut tx, &state.config, &staged.temp, &relative).await?;
    sqlx::query("UPDATE rooms SET cover_path = $2, updated_at = now() WHERE id = $1")
        .bind(room_id)
        .bind(&relative)
        .execute(&mut *tx)
        .await?;
    let event = announce_update(&mut tx, room_id, &state.config.api_public_url).await?;
    tx.commit().await?;
    state.publish([event]).await;
    if let Some(old) = before.cover_path.filter(|old| *old != relative) {
        storage::remove_if_unreferenced(&state.db, &state.config, &old).await;
    }
    let room = crate::routes::rooms::require(&state.db, room_id).await?;
    let cover_url = crate::domain::models::cover_url(&state.config.api_public_url, Some(&relative));
    Ok(Fields::new(
        "Room cover updated",
        CoverSet {
            cover_url: cover_url.clone(),
            data: CoverOfRoom {
                cover_url,
                room: room_view(&state, &room, &caller.user).await?,
            },
        },
    ))
}

/// `DELETE /rooms/{id}/cover` (administrator): back to the generated gradient.
#[endpoint(tags("rooms"))]
pub async fn remove_room_cover(caller: Caller, req: &mut Request) -> ApiResult<Fields<CoverRemoved>> {
    let state = &caller.state;
    let room_id = uuid_param(req, "room")?;
    let before = require_admin(state, room_id, caller.id()).await?;
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE rooms SET cover_path = NULL, updated_at = now() WHERE id = $1")
        .bind(room_id)
        .execute(&mut *tx)
        .await?;
    let event = announce_update(&mut tx, room_id, &state.config.api_public_url).await?;
    tx.commit().await?;
    state.publish([event]).await;
    if let Some(old) = before.cover_path {
        storage::remove_if_unreferenced(&state.db, &state.config, &old).await;
    }
    Ok(Fields::new("Room cover removed", CoverRemoved { cover_url: None }))
}

/// `<sha256>.<ext>` of a stored cover, and its format; nothing else is a cover.
fn parse_name(name: &str) -> Option<(&str, Format)> {
    let (hash, extension) = name.split_once('.')?;
    let is_hash = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    Some((hash, Format::from_extension(extension)?)).filter(|_| is_hash)
}

/// `GET /api/covers/{name}`: public (an `<img>` sends no token), immutable.
#[handler]
pub async fn serve(req: &mut Request, depot: &mut Depot, res: &mut Response) -> ApiResult<()> {
    let state = from_depot(depot)?;
    let name = req.param::<String>("name").unwrap_or_default();
    let (hash, format) = parse_name(&name).ok_or_else(|| ApiError::NotFound("No such cover".into()))?;
    let etag = format!("\"{hash}\"");
    let headers = res.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim().trim_start_matches("W/") == etag || tag.trim() == "*")
        });
    let relative = format!("covers/{}", storage::content_path(hash, format.extension()));
    let bytes = match tokio::fs::read(storage::absolute(&state.config, &relative)).await {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            res.headers_mut().remove(header::CACHE_CONTROL);
            return Err(ApiError::NotFound("No such cover".into()));
        }
        Err(error) => return Err(ApiError::internal(error)),
    };
    if matches {
        res.status_code(StatusCode::NOT_MODIFIED);
        return Ok(());
    }
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(format.mime_type()));
    res.status_code(StatusCode::OK);
    res.write_body(bytes).map_err(ApiError::internal)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_content_addresses_name_covers() {
        let hash = "a".repeat(64);
        assert_eq!(parse_name(&format!("{hash}.png")), Some((hash.as_str(), Format::Png)));
        assert_eq!(parse_name(&format!("{hash}.svg")), None);
        assert_eq!(parse_name(&format!("{}.png", "A".repeat(64))), None);
        assert_eq!(parse_name("../../etc/passwd"), None);
        assert_eq!(parse_name(&format!("{hash}.png.exe")), None);
    }

    #[test]
    fn data_urls_carry_base64_images_only() {
        assert_eq!(decode_data_url("data:image/png;base64,aGVsbG8=").unwrap(), b"hello");
        assert!(decode_data_url("data:text/html;base64,aGVsbG8=").is_err());
        assert!(decode_data_url("data:image/png;base64,***").is_err());
    }
}
