//! Cover images of rooms and tracks: checked to be real images, stored by
//! content like audio (`<media>/covers/<aa>/<bb>/<sha256>.<ext>`), served
//! from `/api/covers/<sha256>.<ext>` with a strong ETag and a year of
//! caching — the name is the content, so it never changes — and removed once
//! no room or track refers to them.
//!
//! Served a piece at a time (never read whole per request), with the type
//! of the format found in the file and `nosniff`, so a cover can never be
//! taken for a page: the old backend stored any bytes
//! and let the browser guess, a stored-XSS hole.

use crate::files::image::{self, Format, Limits};
use crate::files::storage;
use crate::files::upload::{self, FormLimits};
use crate::http::error::{ApiError, ApiResult};
use crate::http::path::{PathText, RoomId};
use crate::http::reply::Fields;
use crate::routes::rooms::{announce_update, room_view};
use crate::services::access::require_admin;
use crate::services::caller::Caller;
use crate::state::from_depot;
use crate::state::AppState;
use crate::views::rooms::RoomView;
use base64::Engine;
use salvo::http::{header, HeaderValue, StatusCode};
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::{Deserialize, Serialize};

/// Checks the received image and names it by its content; returns it
/// staged for [`storage::publish_locked`]. Identical covers share one file.
pub async fn stage(received: upload::Received, field: &str) -> ApiResult<Staged> {
    // Read back whole only once it has all arrived, and only to be judged:
    // nothing a client is still sending is held in memory.
    let bytes = tokio::fs::read(&received.path).await.map_err(ApiError::internal)?;
    let found = image::inspect(&bytes, Limits::default()).map_err(|rejected| ApiError::field(field, rejected.0))?;
    drop(bytes);
    let relative = format!(
        "covers/{}",
        storage::content_path(&received.sha256, found.format.extension())
    );
    Ok(Staged {
        temp: received.path.clone(),
        relative,
        _received: received,
    })
}

/// A cover in a temporary file, published by the transaction that stores
/// its row ([`storage::publish_locked`]); removed if never published (once
/// published it is gone from `temp` already, renamed or dropped as a
/// duplicate).
pub struct Staged {
    pub temp: std::path::PathBuf,
    pub relative: String,
    _received: upload::Received,
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

/// The cover from a multipart `cover_image` or a JSON `cover_data`, on disk.
async fn received_cover(req: &mut Request, state: &AppState) -> ApiResult<upload::Received> {
    let max = state.config.cover_max_bytes;
    let dir = storage::temp_dir(&state.config);
    if crate::http::request::is_multipart(req) {
        let limits = FormLimits::new(&state.config, 0, max);
        let form = upload::receive_form(req, &dir, limits).await?;
        return form
            .cover
            .ok_or_else(|| ApiError::field("cover_image", "The cover image field is required."));
    }
    // Base64 is a third larger than the image it carries.
    let limits = FormLimits::new(&state.config, 0, 0);
    let body = upload::receive_body(req, &dir, max * 4 / 3 + 4096, upload::cover_too_large, limits).await?;
    // All of it has arrived: decoded in memory briefly, within this
    // replica's bound on uploads in progress.
    let json = tokio::fs::read(&body.path).await.map_err(ApiError::internal)?;
    drop(body);
    let data: CoverData = serde_json::from_slice(&json).map_err(|_| ApiError::BadRequest("Malformed JSON".into()))?;
    drop(json);
    let bytes = decode_data_url(&data.cover_data)?;
    if bytes.len() as u64 > max {
        return Err(upload::cover_too_large(max));
    }
    upload::received_from(&dir, "cover", bytes).await
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
pub async fn set_room_cover(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Fields<CoverSet>> {
    let state = std::sync::Arc::clone(&caller.state);
    let room_id = room.0;
    let before = require_admin(&state, room_id, caller.id()).await?;
    let _slot = state.uploads.take(caller.id())?;
    let received = received_cover(req, &state).await?;
    let field = if crate::http::request::is_multipart(req) {
        "cover_image"
    } else {
        "cover_data"
    };
    let staged = stage(received, field).await?;
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
    let room = crate::services::access::require(&state.db, room_id).await?;
    let cover_url = crate::views::cover_url(&state.config.api_public_url, Some(&relative));
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
pub async fn remove_room_cover(caller: Caller, room: RoomId) -> ApiResult<Fields<CoverRemoved>> {
    let state = &caller.state;
    let room_id = room.0;
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

/// A cover image, by its content-addressed name: public (an `<img>` sends
/// no token) and immutable.
#[endpoint(
    tags("covers"),
    responses((status_code = 200, description = "The image (JPEG, PNG or WebP)"), (status_code = 304, description = "Not modified"))
)]
pub async fn serve(req: &mut Request, depot: &mut Depot, res: &mut Response, name: PathText) -> ApiResult<()> {
    let state = from_depot(depot)?;
    let name = name.0;
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
    let matches = crate::http::request::holds(req, &etag);
    let relative = format!("covers/{}", storage::content_path(hash, format.extension()));
    let file = match tokio::fs::File::open(storage::absolute(&state.config, &relative)).await {
        Ok(file) => file,
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
    let length = file.metadata().await.map_err(ApiError::internal)?.len();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.mime_type()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    res.status_code(StatusCode::OK);
    res.stream(read_in_pieces(file, length));
    Ok(())
}

/// How much of a cover is read ahead of its reader.
const PIECE: usize = 64 * 1024;

/// `file`'s first `length` bytes, a piece at a time as the response is
/// written: a reader that stops reading holds one piece here (and the
/// connection, until the acceptor's send timeout closes it), never the
/// whole cover — 300 readers that never read took 1.4 GB when each
/// response was the file read whole.
fn read_in_pieces(
    file: tokio::fs::File,
    length: u64,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    futures_util::stream::try_unfold((file, length), |(mut file, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let mut piece = bytes::BytesMut::zeroed(PIECE.min(left as usize));
        let read = tokio::io::AsyncReadExt::read(&mut file, &mut piece).await?;
        if read == 0 {
            // Shorter than it was: end here, and the connection with it.
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        piece.truncate(read);
        Ok(Some((piece.freeze(), (file, left - read as u64))))
    })
}

/// `/api/covers/{name}`: the stored images.
pub fn router() -> Router {
    Router::with_path("covers/{name}").get(serve)
}

/// Under `/api/rooms/{room}`: the room's cover.
pub fn in_room() -> Router {
    Router::with_path("cover")
        .post(set_room_cover)
        .delete(remove_room_cover)
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
